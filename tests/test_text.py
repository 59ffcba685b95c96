"""TextClassifier: raw text end to end, tuning both parts, top-k, multi-label, persistence."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, cross_val_score

from bowclf import BowClassifier, TextClassifier, load, save


def test_fit_predict_score(text_data):
    Xtr, ytr, Xte, yte = text_data
    clf = TextClassifier(random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.9
    assert list(clf.classes_) == ["food", "sports", "tech"]
    P = clf.predict_proba(Xte)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(Xte))
    summary = clf.training_summary_
    assert summary["documents"] == len(Xtr) and summary["classes"] == 3
    assert summary["epochs"] == 10  # epochs="auto" on 900 documents
    assert clf.transform(Xte[:4]).shape == (4, 100)


def test_generators_and_unknown_words(text_data):
    Xtr, ytr, Xte, _ = text_data
    clf = TextClassifier(random_state=0).fit((t for t in Xtr), ytr)
    np.testing.assert_array_equal(clf.predict(iter(Xte[:20])), clf.predict(Xte[:20]))
    P = clf.predict_proba(["", "zzz qqq never seen words"])
    np.testing.assert_allclose(P, 1 / 3)  # nothing known: uniform


def test_bigrams_add_features_and_pruning_keeps_only_seen_columns(text_data):
    Xtr, ytr, _, _ = text_data
    uni = TextClassifier(ngrams=1, random_state=0).fit(Xtr, ytr)
    bi = TextClassifier(ngrams=2, buckets=100_000, random_state=0).fit(Xtr, ytr)
    assert uni.feature_columns_ is None
    assert bi.classifier_.n_features_in_ > uni.classifier_.n_features_in_
    assert bi.classifier_.n_features_in_ < len(bi.vectorizer_.vocabulary_) + 100_000
    full = TextClassifier(ngrams=2, buckets=1000, prune_features=False, random_state=0)
    full.fit(Xtr, ytr)
    assert full.classifier_.n_features_in_ == len(full.vectorizer_.vocabulary_) + 1000


def test_predict_topk(text_data):
    Xtr, ytr, Xte, _ = text_data
    clf = TextClassifier(random_state=0).fit(Xtr, ytr)
    top = clf.predict_topk(Xte[:10], k=2)
    assert all(len(row) == 2 for row in top)
    assert [row[0][0] for row in top] == list(clf.predict(Xte[:10]))
    assert all(row[0][1] >= row[1][1] for row in top)
    strict = clf.predict_topk(Xte[:10], k=3, threshold=0.5)
    assert all(len(row) <= 1 and all(p >= 0.5 for _, p in row) for row in strict)


def test_gridsearch_over_both_parts_and_cross_val(text_data):
    Xtr, ytr, _, _ = text_data
    grid = GridSearchCV(
        TextClassifier(random_state=0), {"ngrams": [1, 2], "dim": [8, 32]}, cv=3
    ).fit(Xtr, ytr)
    assert set(grid.cv_results_["param_ngrams"]) == {1, 2}
    assert grid.best_score_ > 0.8  # 10% label noise in the training fixture
    assert cross_val_score(TextClassifier(random_state=0), Xtr, ytr, cv=3).min() > 0.75


def test_reproducible_and_picklable(text_data):
    Xtr, ytr, Xte, _ = text_data
    a = TextClassifier(random_state=7).fit(Xtr, ytr)
    b = TextClassifier(random_state=7).fit(Xtr, ytr)
    assert a.predict_proba(Xte).tobytes() == b.predict_proba(Xte).tobytes()
    c = pickle.loads(pickle.dumps(a))
    assert a.predict_proba(Xte).tobytes() == c.predict_proba(Xte).tobytes()


def test_save_load_round_trip(text_data, tmp_path):
    Xtr, ytr, Xte, _ = text_data
    clf = TextClassifier(ngrams=2, buckets=50_000, random_state=0).fit(Xtr, ytr)
    path = save(clf, tmp_path / "m.bowclf")
    again = load(path)
    assert again.predict_proba(Xte).tobytes() == clf.predict_proba(Xte).tobytes()
    assert again.get_params() == clf.get_params()
    # every record but the wall-clock seconds, which files leave out so that the same seed
    # gives byte-identical files
    assert again.training_summary_ == {
        k: v for k, v in clf.training_summary_.items() if k != "seconds"
    }


def test_multilabel_label_sets(tmp_path):
    rng = np.random.default_rng(0)
    topics = {"a": "alpha apple acorn", "b": "beta banana bread", "c": "gamma cherry cake"}
    texts, labels = [], []
    for _ in range(600):
        chosen = sorted(rng.choice(list(topics), size=rng.integers(1, 3), replace=False))
        words = [w for t in chosen for w in topics[t].split()] + ["the", "and", "of"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(tuple(chosen))
    for loss in ("softmax", "ova"):
        clf = TextClassifier(loss=loss, epochs=20, random_state=0).fit(texts, labels)
        assert clf.multilabel_ and list(clf.classes_) == ["a", "b", "c"]
        pred = clf.predict(texts[:100])
        assert all(isinstance(p, tuple) for p in pred)
        exact = np.mean([p == t for p, t in zip(pred, labels[:100], strict=True)])
        assert exact > 0.9, (loss, exact)
        assert clf.score(texts[:100], labels[:100]) == pytest.approx(exact)
        P = clf.predict_proba(texts[:100])
        assert np.all((P >= 0) & (P <= 1))
        if loss == "softmax":
            np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
        again = load(save(clf, tmp_path / f"{loss}.bowclf"))
        assert again.predict(texts[:100]) == pred


@pytest.mark.parametrize(
    "texts, message",
    [("just one string", "single string"), ([1, 2, 3], "not str")],
)
def test_bad_documents(texts, message):
    with pytest.raises(ValueError, match=message):
        TextClassifier().fit(texts, ["a", "b", "a"])


def test_bytes_documents_are_utf8_text():
    """As scikit-learn's text vectorizers read them (``encoding='utf-8'``)."""
    texts, y = [b"good film", b"bad film", b"caf\xc3\xa9 good"], ["p", "n", "p"]
    model = TextClassifier(epochs=2, random_state=0).fit(texts, y)
    assert "café" in model.vectorizer_.words_.tolist()
    np.testing.assert_array_equal(
        model.predict_proba([b"good film"]), model.predict_proba(["good film"])
    )
    with pytest.raises(ValueError, match="document 0 is bytes that are not UTF-8"):
        model.predict([b"\xff"])


def test_length_mismatch_and_one_class():
    with pytest.raises(ValueError, match="lengths must match"):
        TextClassifier().fit(["a b", "c d"], ["x"])
    with pytest.raises(ValueError, match="only one class"):
        TextClassifier().fit(["a b", "c d"], ["x", "x"])


def test_pretrained_vectors_initialise_known_words(text_data, tmp_path):
    import gzip

    Xtr, ytr, _, _ = text_data
    vec = tmp_path / "words.vec.gz"
    with gzip.open(vec, "wt", encoding="utf-8") as f:
        f.write("3 4\n")
        f.write("recipe 1 2 3 4\n")
        f.write("unknownword 9 9 9 9\n")
        f.write("match 0.5 0.5 0.5 0.5\n")
    clf = TextClassifier(dim=4, epochs=1, lr=1e-9, pretrained_vectors=str(vec), random_state=0)
    clf.fit(Xtr, ytr)
    assert clf.n_pretrained_ == 2
    A = clf.classifier_.A_
    col = clf.vectorizer_.vocabulary_["recipe"]
    np.testing.assert_allclose(A[:, col], [1, 2, 3, 4], rtol=1e-6)  # barely moved at lr≈0


@pytest.mark.parametrize(
    "content, message",
    [
        ("2 5\nrecipe 1 2 3 4 5\n", "dimension 5"),
        ("recipe 1 2 3\n", "line 1: expected a word and 4 numbers"),
        ("recipe 1 2 x 4\n", "line 1: not a number"),
    ],
)
def test_pretrained_vectors_errors(text_data, tmp_path, content, message):
    from bowclf.vectors import VectorsError

    Xtr, ytr, _, _ = text_data
    vec = tmp_path / "bad.vec"
    vec.write_text(content, encoding="utf-8")
    with pytest.raises(VectorsError, match=message):
        TextClassifier(dim=4, pretrained_vectors=str(vec)).fit(Xtr, ytr)


def test_huge_pretrained_vectors_fail_the_fit_instead_of_saving_a_broken_model(text_data, tmp_path):
    """Finite but huge vectors keep the loss finite (softmax saturates) while the
    optimiser's accumulators overflow: the fit must fail, not return a model whose file
    would not load."""
    from bowclf.training import TrainingDivergedError

    Xtr, ytr, _, _ = text_data
    vec = tmp_path / "big.vec"
    vec.write_text("2 3\nrecipe 1e25 1e25 1e25\nmatch 1e25 0.2 0.4\n", encoding="utf-8")
    model = TextClassifier(dim=3, pretrained_vectors=str(vec), random_state=0)
    with pytest.raises(TrainingDivergedError, match="overflowed"):
        model.fit(Xtr, ytr)
    assert not hasattr(model, "classifier_")


def test_early_stopping_holds_its_documents_out_of_the_features():
    """The held-out documents are split off before the vocabulary, idf and supervised
    weights are fitted: a word only they contain is not a feature (was: 60 held-out words
    kept, weighted by their held-out labels, never trained)."""
    docs = [f"common{i % 5} uniq{i}" for i in range(200)]
    y = ["a" if i % 2 else "b" for i in range(200)]
    params = {"early_stopping": True, "validation_fraction": 0.3, "random_state": 0}
    model = TextClassifier(epochs=3, **params).fit(docs, y)
    vocabulary = model.vectorizer_.vocabulary_
    held = [i for i in range(200) if f"uniq{i}" not in vocabulary]
    assert len(held) == 60 and model.training_summary_["documents"] == 140
    assert len(model.classifier_.validation_scores_) >= 1
    again = TextClassifier(epochs=3, **params).fit(docs, y)
    assert again.predict_proba(docs).tobytes() == model.predict_proba(docs).tobytes()


def test_idf_weighting_is_what_the_classifier_sees(text_data, tmp_path):
    Xtr, ytr, Xte, _ = text_data
    clf = TextClassifier(random_state=0, supervised_weight=0.0).fit(Xtr, ytr)  # plain idf
    counts = clf._select_columns(clf.vectorizer_.transform(Xtr))
    n, df = counts.shape[0], np.bincount(counts.indices, minlength=counts.shape[1])
    np.testing.assert_allclose(clf.idf_, np.log((1 + n) / (1 + df)) + 1, rtol=1e-6)
    # The same classifier trained by hand on idf-weighted counts gives the same model.
    weighted = sp.csr_array(counts.astype(np.float32) @ sp.diags_array(clf.idf_))
    by_hand = BowClassifier(random_state=0).fit(weighted, ytr)
    np.testing.assert_allclose(clf.classifier_.B_, by_hand.B_, rtol=1e-5, atol=1e-6)
    again = load(save(clf, tmp_path / "idf.bowclf"))
    np.testing.assert_array_equal(again.idf_, clf.idf_)
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))


def test_raw_counts_and_sublinear_tf(text_data, tmp_path):
    Xtr, ytr, Xte, _ = text_data
    raw = TextClassifier(use_idf=False, random_state=0).fit(Xtr, ytr)
    assert raw.idf_ is None
    counts = raw._select_columns(raw.vectorizer_.transform(Xtr))
    by_hand = BowClassifier(random_state=0).fit(counts, ytr)
    np.testing.assert_array_equal(raw.classifier_.B_, by_hand.B_)
    with zipfile.ZipFile(save(raw, tmp_path / "raw.bowclf")) as zf:
        assert "text/idf" not in zf.namelist()
    assert load(tmp_path / "raw.bowclf").idf_ is None
    sub = TextClassifier(use_idf=False, sublinear_tf=True, random_state=0).fit(Xtr, ytr)
    X = sub._features(["win win win team"])
    assert X.data.max() == pytest.approx(1 + np.log(3))
    assert (
        load(save(sub, tmp_path / "sub.bowclf")).predict(Xte).tolist() == sub.predict(Xte).tolist()
    )


def test_ova_predicts_at_least_one_label_when_training_documents_all_have_one():
    rng = np.random.default_rng(1)
    topics = {"a": "alpha apple acorn", "b": "beta banana bread", "c": "gamma cherry cake"}
    texts, labels = [], []
    for _ in range(300):
        chosen = sorted(rng.choice(list(topics), size=rng.integers(1, 3), replace=False))
        texts.append(" ".join(w for t in chosen for w in topics[t].split()))
        labels.append(tuple(chosen))
    # One epoch at a tiny rate: every probability stays near 0.5 or below, so only the
    # top-label rule can fill the sets.
    clf = TextClassifier(loss="ova", epochs=1, lr=0.01, threshold=0.99, random_state=0)
    clf.fit(texts, labels)
    assert clf.classifier_.top_label_
    assert all(len(p) == 1 for p in clf.predict(["alpha apple", "zzz"]))
    clf.fit(texts + ["nothing here"], labels + [()])  # an unlabelled document: no forcing
    assert not clf.classifier_.top_label_
    assert clf.predict(["alpha apple", "zzz"]) == [(), ()]
