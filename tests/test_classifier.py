"""BowClassifier: scikit-learn conformance, determinism, incremental training, failures."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import WEIGHTS_ARE_STEPS
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from bowclf import BowClassifier, TextClassifier
from bowclf.classifier import TrainingDivergedError

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_STEPS,
    "check_sample_weight_equivalence_on_sparse_data": WEIGHTS_ARE_STEPS,
}


@parametrize_with_checks(
    [
        BowClassifier(random_state=0),
        BowClassifier(loss="ova", random_state=0),
        BowClassifier(optimizer="sgd", random_state=0),  # the defaults' optimisers are above
        BowClassifier(optimizer="adagrad", random_state=0),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    """Every scikit-learn check passes for both losses and every optimiser, negative and dense
    features included, except the two sample-weight equivalence checks (issue 20, item 6;
    tests/test_hs_model.py: the third loss)."""
    check(estimator)


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_negative_features_are_accepted_and_used(loss):
    """The model B·A·x̃ is defined for any real x: the sign of a feature carries the class."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    model = BowClassifier(loss=loss, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.9
    X = sp.csr_array(X)
    assert model._batch_size(X.nnz, *X.shape) == 1  # dense rows: per-example steps


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_dense_data_with_the_defaults_does_not_diverge(loss):
    """Dense rows share every feature, so batches of 16 summed steps diverged at lr=0.25 with
    loss='ova' (issue 20, item 6); batch_size='auto' takes per-example steps on dense rows."""
    from sklearn.datasets import make_blobs
    from sklearn.preprocessing import StandardScaler

    X, y = make_blobs(n_samples=300, random_state=0)  # scikit-learn's check_classifiers_train
    X = StandardScaler().fit_transform(X)
    model = BowClassifier(loss=loss, random_state=0).fit(X, y)
    assert np.isfinite(model.loss_curve_).all() and model.score(X, y) > 0.8
    with pytest.raises(TrainingDivergedError):  # the old fixed batch of 16 diverged (plain SGD)
        BowClassifier(loss="ova", batch_size=16, optimizer="sgd", random_state=0).fit(X, y)


def test_learns_the_text_fixture(count_data):
    Xtr, ytr, Xte, yte = count_data
    model = BowClassifier(epochs=10, random_state=0).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.9
    assert model.A_.shape == (100, Xtr.shape[1])
    assert model.B_.shape == (3, 100)
    assert model.A_.dtype == np.float32 and model.B_.dtype == np.float32
    assert model.n_iter_ == 10 and len(model.loss_curve_) == 10
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.t_ == 10 * Xtr.shape[0]


def test_probabilities_are_exact(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    P = model.predict_proba(Xte)
    assert P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(Xte)), P, rtol=1e-10)
    np.testing.assert_array_equal(model.classes_[P.argmax(axis=1)], model.predict(Xte))
    H = model.transform(Xte)
    assert H.shape == (Xte.shape[0], 100)
    S = H.astype(np.float64) @ model.B_.T.astype(np.float64)
    np.testing.assert_allclose(model.decision_function(Xte), S, rtol=1e-4, atol=1e-5)


def test_same_random_state_is_bit_for_bit_reproducible(count_data):
    Xtr, ytr, Xte, _ = count_data
    a = BowClassifier(epochs=3, random_state=42).fit(Xtr, ytr)
    b = BowClassifier(epochs=3, random_state=42).fit(Xtr, ytr)
    assert a.A_.tobytes() == b.A_.tobytes()
    assert a.B_.tobytes() == b.B_.tobytes()
    assert a.predict_proba(Xte).tobytes() == b.predict_proba(Xte).tobytes()
    c = BowClassifier(epochs=3, random_state=43).fit(Xtr, ytr)
    assert a.A_.tobytes() != c.A_.tobytes()


def test_pipeline_gridsearch_cross_val_and_pickle(text_data):
    Xtr, ytr, Xte, _ = text_data
    pipe = make_pipeline(CountVectorizer(), BowClassifier(epochs=5, random_state=0))
    scores = cross_val_score(pipe, Xtr, ytr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    grid = GridSearchCV(
        pipe, {"bowclassifier__dim": [10, 30], "bowclassifier__lr": [0.1, 0.3]}, cv=3
    ).fit(Xtr, ytr)
    assert grid.best_score_ > 0.8
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(
        restored.predict_proba(Xte), grid.best_estimator_.predict_proba(Xte)
    )


def test_partial_fit_in_chunks_matches_fit(count_data):
    Xtr, ytr, Xte, yte = count_data
    full = BowClassifier(epochs=5, random_state=0).fit(Xtr, ytr)
    inc = BowClassifier(total_examples=5 * Xtr.shape[0], random_state=0)
    chunks = np.array_split(np.arange(Xtr.shape[0]), 10)
    for _ in range(5):
        for rows in chunks:
            inc.partial_fit(Xtr[rows], ytr[rows], classes=np.unique(ytr))
    assert abs(inc.score(Xte, yte) - full.score(Xte, yte)) <= 0.01 + 1e-9
    assert inc.t_ == 5 * Xtr.shape[0]
    assert len(inc.loss_curve_) == 50
    # Without total_examples the rate stays constant at lr.
    const = BowClassifier(random_state=0).partial_fit(Xtr, ytr, classes=np.unique(ytr))
    assert const.t_ == Xtr.shape[0]


def test_partial_fit_errors(count_data):
    Xtr, ytr, _, _ = count_data
    with pytest.raises(ValueError, match="classes must be passed"):
        BowClassifier().partial_fit(Xtr, ytr)
    model = BowClassifier().partial_fit(Xtr[:50], ytr[:50], classes=["food", "sports", "tech"])
    with pytest.raises(ValueError, match="unknown to the model"):
        model.partial_fit(Xtr[:2], ["food", "cars"])
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(Xtr[:2], ytr[:2], classes=["a", "b"])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(Xtr[:2, :5], ytr[:2])


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 0.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 0.0]]), "infinity"),
    ],
)
def test_invalid_counts_are_rejected(X, message):
    with pytest.raises(ValueError, match=message):
        BowClassifier().fit(X, [0, 1, 0])


def test_other_failures_are_clear_value_errors():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BowClassifier().fit(X, [0, 1])
    with pytest.raises(ValueError, match="only one class"):
        BowClassifier().fit(X, [1, 1, 1])
    with pytest.raises(ValueError, match="dim"):
        BowClassifier(dim=0).fit(X, [0, 1, 0])


def test_divergence_raises_and_leaves_no_nan_model(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(lr=1e9, random_state=0)
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        model.fit(Xtr, ytr)
    assert not hasattr(model, "A_")
    with pytest.raises(Exception, match="not fitted"):
        model.predict(Xte)


def test_empty_documents_get_uniform_probabilities(count_data):
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    P = model.predict_proba(sp.csr_array((2, Xtr.shape[1])))
    np.testing.assert_allclose(P, 1 / 3)
    # Training on documents without known tokens does not break anything either.
    X = sp.vstack([Xtr[:100], sp.csr_array((20, Xtr.shape[1]))]).tocsr()
    y = np.concatenate([ytr[:100], ytr[:20]])
    assert np.isfinite(BowClassifier(random_state=0).fit(X, y).loss_curve_).all()


def test_sample_and_class_weights(count_data):
    Xtr, ytr, Xte, _ = count_data
    # Zero weight for a class: the model never predicts it on the test set.
    w = np.where(ytr == "food", 0.0, 1.0)
    model = BowClassifier(random_state=0).fit(Xtr, ytr, sample_weight=w)
    assert "food" not in set(model.predict(Xte))
    heavy = BowClassifier(class_weight={"food": 5.0}, random_state=0).fit(Xtr, ytr)
    base = BowClassifier(random_state=0).fit(Xtr, ytr)
    assert (heavy.predict(Xte) == "food").sum() > (base.predict(Xte) == "food").sum()
    balanced = BowClassifier(class_weight="balanced", random_state=0).fit(Xtr, ytr)
    assert balanced.score(Xte, count_data[3]) > 0.8


def test_early_stopping_and_validation_scores(count_data):
    Xtr, ytr, Xte, yte = count_data
    model = BowClassifier(epochs=50, early_stopping=True, n_iter_no_change=2, random_state=0).fit(
        Xtr, ytr
    )
    assert model.n_iter_ < 50
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    ext = BowClassifier(epochs=3, random_state=0).fit(Xtr, ytr, X_val=Xte, y_val=yte)
    assert len(ext.validation_scores_) == 3
    assert ext.validation_scores_[-1] == pytest.approx(ext.score(Xte, yte))


def test_warm_start_continues_training(count_data):
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(epochs=2, warm_start=True, random_state=0).fit(Xtr, ytr)
    A_first = model.A_.copy()
    model.fit(Xtr, ytr)
    assert model.t_ == 4 * Xtr.shape[0]
    assert not np.array_equal(A_first, model.A_)


def test_callback_reports_progress(count_data):
    Xtr, ytr, _, _ = count_data
    events = []
    BowClassifier(epochs=2, random_state=0).fit(Xtr, ytr, callback=events.append)
    ends = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in ends] == [1, 2]
    assert ends[-1]["progress"] == 1.0
    assert ends[-1]["examples"] == 2 * Xtr.shape[0]
    assert ends[-1]["features"] == 2 * Xtr.nnz


def test_predict_topk(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    labels, proba = model.predict_topk(Xte, k=5, threshold=0.0)
    assert labels.shape == (Xte.shape[0], 5)
    np.testing.assert_array_equal(labels[:, 0], model.predict(Xte))
    assert np.all(np.isnan(proba[:, 3:])) and np.all(labels[:, 3:] == None)  # noqa: E711
    assert np.all(np.diff(proba[:, :3], axis=1) <= 0)
    labels, proba = model.predict_topk(Xte, k=1, threshold=0.99)
    assert np.all((proba[:, 0] >= 0.99) | np.isnan(proba[:, 0]))


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_multilabel_indicator_targets(loss):
    rng = np.random.default_rng(0)
    n, p, c = 400, 30, 4
    # Label k is present iff feature block k is used; documents have 1-2 labels.
    Y = np.zeros((n, c), dtype=int)
    Y[np.arange(n), rng.integers(0, c, n)] = 1
    Y[np.arange(n), rng.integers(0, c, n)] |= rng.random(n) < 0.3
    X = np.zeros((n, p))
    for k in range(c):
        X[Y[:, k] == 1, k * 7 : k * 7 + 7] = rng.integers(0, 3, ((Y[:, k] == 1).sum(), 7))
    X[:, 28:] = rng.integers(0, 3, (n, 2))
    # lr 0.5 on dense rows (batch 1) diverges for ~1 seed in 5 (ova): a seed that trains
    model = BowClassifier(loss=loss, epochs=30, lr=0.5, random_state=1).fit(X, Y)
    assert model.multilabel_
    P = model.predict_proba(X)
    assert P.shape == (n, c) and np.all((P >= 0) & (P <= 1))
    if loss == "softmax":
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    pred = model.predict(X)
    assert pred.shape == (n, c) and set(np.unique(pred)) <= {0, 1}
    assert (pred == Y).all(axis=1).mean() > 0.7


def test_training_holds_blas_to_one_thread(monkeypatch):
    """The per-batch products are tiny: a threaded BLAS would spend its time handing work
    between threads (1000 classes trained 5-10x slower) and make results depend on the core
    count.  Training runs with one BLAS thread; the caller's setting is restored after."""
    from threadpoolctl import threadpool_info

    import bowclf.training as training

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    seen = []
    step = training.sgd_step

    def spy(*args, **kwargs):
        if len(seen) < 3:
            seen.append(blas_threads())
        return step(*args, **kwargs)

    monkeypatch.setattr(training, "sgd_step", spy)
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.3, size=(64, 30)).astype(float))
    BowClassifier(epochs=1, batch_size=16, random_state=0).fit(X, rng.integers(0, 5, 64))
    assert len(seen) == 3 and all(s <= {1} for s in seen), seen
    assert blas_threads() == before


# ---------------------------------------------------------------------- issue 20, items 2-5
def test_single_label_ova_probabilities_stay_finite_when_every_sigmoid_underflows(count_data):
    """σ(S) of every class underflows to 0 for very negative scores (long documents with
    normalize=None): normalising in log space keeps the probabilities finite (item 2)."""
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(loss="ova", normalize=None, lr=0.001, epochs=1, random_state=0)
    model.fit(Xtr, ytr)
    model.A_[...] = 1.0
    model.B_[...] = -1.0
    model.B_[1] = -1.5  # class 1 is the least likely, the others tie
    X = sp.csr_array(np.full((2, Xtr.shape[1]), 10.0))  # scores around −10⁵: σ = 0
    P = model.predict_proba(X)
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P, np.exp(model.predict_log_proba(X)))
    assert (P[:, 1] < 1e-100).all()


def test_empty_documents_get_the_most_frequent_class(count_data):
    """A document with no known feature has no evidence: single-label models predict the most
    frequent training class, not classes_[0] (item 3); probabilities stay the model's own."""
    Xtr, ytr, _, _ = count_data
    food, other = np.flatnonzero(ytr == "food"), np.flatnonzero(ytr != "food")
    keep = np.sort(np.concatenate([food[:5], other]))  # "food" (classes_[0]) is now the rarest
    X, y = Xtr[keep], ytr[keep]
    counts = {c: int((y == c).sum()) for c in np.unique(y)}
    most = max(counts, key=counts.get)
    assert most != np.unique(y)[0]
    model = BowClassifier(epochs=2, random_state=0).fit(X, y)
    empty = sp.csr_array((2, X.shape[1]))
    assert model.predict(empty).tolist() == [most, most]
    np.testing.assert_allclose(model.predict_proba(empty), 1 / len(counts))


@pytest.mark.parametrize("every_row_labelled", [True, False])
def test_multilabel_ova_does_not_predict_every_label_for_an_empty_document(every_row_labelled):
    """σ(0) = 0.5 ≥ 0.5 used to put every label on an empty document (item 3): it now gets the
    most frequent label when the model forces the top label, else no label."""
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.5, size=(120, 20)).astype(float))
    Y = (rng.random((120, 4)) < [0.6, 0.3, 0.2, 0.1]).astype(int)
    Y[:, 0] |= Y.sum(axis=1) == 0 if every_row_labelled else 0
    model = BowClassifier(loss="ova", epochs=2, random_state=0).fit(X, Y)
    assert model.top_label_ is every_row_labelled
    pred = model.predict(sp.csr_array((1, 20)))
    assert pred.tolist() == ([[1, 0, 0, 0]] if every_row_labelled else [[0, 0, 0, 0]])


def test_partial_fit_refuses_balanced_class_weights(count_data):
    """One chunk's class counts are not the data's: 'balanced' is refused, as scikit-learn's
    SGDClassifier does (item 4); a dict of weights works."""
    Xtr, ytr, _, _ = count_data
    classes = np.unique(ytr)
    with pytest.raises(ValueError, match="not supported by partial_fit"):
        BowClassifier(class_weight="balanced").partial_fit(Xtr[:10], ytr[:10], classes=classes)
    weights = {c: 1.0 + i for i, c in enumerate(classes)}
    BowClassifier(class_weight=weights).partial_fit(Xtr[:10], ytr[:10], classes=classes)


def test_class_weight_keys_must_be_classes(count_data):
    """A class_weight key that is not a class is a typo, not something to ignore (item 5)."""
    Xtr, ytr, _, _ = count_data
    with pytest.raises(ValueError, match="class_weight has keys that are not classes: \\['fod'\\]"):
        BowClassifier(class_weight={"fod": 2.0}).fit(Xtr, ytr)


def test_sample_weights_are_relative(count_data):
    """Weights are scaled to mean 1: they set the examples' relative importance and lr the step
    (weights summing to 1 used to leave the model untrained)."""
    Xtr, ytr, _, _ = count_data
    plain = BowClassifier(epochs=2, random_state=0).fit(Xtr, ytr)
    tiny = BowClassifier(epochs=2, random_state=0).fit(
        Xtr, ytr, sample_weight=np.full(Xtr.shape[0], 1 / Xtr.shape[0])
    )
    np.testing.assert_allclose(tiny.B_, plain.B_, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="at least one non-zero|sum to zero"):  # sklearn <1.7: ours
        BowClassifier().fit(Xtr, ytr, sample_weight=np.zeros(Xtr.shape[0]))


@pytest.mark.parametrize("scale", [1e308, 1e39, 1e-46, 5e-324])
def test_sample_weights_beyond_float32_are_still_relative(count_data, scale):
    """Finite positive weights outside float32's range train as their ratios say (they were
    cast to float32 first: inf made training 'diverge', 0 had 'nothing to train on')."""
    Xtr, ytr, _, _ = count_data
    n = Xtr.shape[0]
    plain = BowClassifier(epochs=2, random_state=0).fit(Xtr, ytr)
    equal = BowClassifier(epochs=2, random_state=0).fit(Xtr, ytr, sample_weight=np.full(n, scale))
    np.testing.assert_array_equal(equal.B_, plain.B_)
    np.testing.assert_allclose(equal.class_prior_, plain.class_prior_)  # not inf / inf
    mixed = np.ones(n)
    mixed[0] = 1e39  # one example a billion-billion times the rest: still trains
    assert np.isfinite(BowClassifier(epochs=1, random_state=0).fit(Xtr, ytr, mixed).B_).all()
    with pytest.raises(ValueError, match="exceed float32's range; partial_fit"):
        BowClassifier().partial_fit(Xtr, ytr, np.unique(ytr), np.full(n, 1e39))


def test_partial_fit_past_total_examples_warns(count_data):
    """Past total_examples the learning rate is 0: say so instead of training silently at 0."""
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(total_examples=40, random_state=0)
    model.partial_fit(Xtr[:40], ytr[:40], classes=np.unique(ytr))
    B = model.B_.copy()
    with pytest.warns(UserWarning, match="past total_examples=40"):
        model.partial_fit(Xtr[40:80], ytr[40:80])
    np.testing.assert_array_equal(model.B_, B)


def test_early_stopping_records_and_saves_the_kept_epoch(count_data, tmp_path):
    from bowclf import load, save

    Xtr, ytr, Xte, yte = count_data
    events = []
    model = BowClassifier(
        early_stopping=True, n_iter_no_change=1, tol=0.5, epochs=6, random_state=0
    ).fit(Xtr, ytr, X_val=Xte, y_val=yte, callback=events.append)
    stop = [e for e in events if e["event"] == "early_stop"]
    assert model.n_iter_ == 2 and model.best_epoch_ == 1
    assert stop == [{"event": "early_stop", "best_epoch": 1, "epochs_run": 2,
                     "val_score": model.validation_scores_[0]}]  # fmt: skip
    assert load(save(model, tmp_path / "m.bowclf")).best_epoch_ == 1


def test_partial_fit_keeps_label_frequencies_and_the_top_label_rule():
    """Later partial_fit calls update the running label frequencies, and an unlabelled
    document still stops a one-vs-all model from forcing the top label."""
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.5, size=(60, 10)).astype(float))
    Y = np.zeros((60, 3), int)
    Y[np.arange(60), rng.integers(0, 3, 60)] = 1
    model = BowClassifier(loss="ova", random_state=0).partial_fit(X[:30], Y[:30])
    assert model.top_label_
    Y[45] = 0  # an unlabelled document in the second chunk
    model.partial_fit(X[30:], Y[30:])
    assert not model.top_label_
    np.testing.assert_allclose(model.class_prior_, Y.sum(axis=0) / 60)


def test_topk_of_an_empty_document_starts_with_the_predicted_class():
    """predict gives a document with no known feature the most frequent class; predict_topk
    ranks its tied probabilities the same way, so the CLI's -k column 1 equals predict."""
    X = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]))
    y = np.array(["a", "b", "b", "c", "b"])
    clf = BowClassifier(dim=3, epochs=2, random_state=0).fit(X[:4], y[:4])
    empty = sp.csr_array((1, 3), dtype=np.int64)
    labels, proba = clf.predict_topk(empty, k=3)
    assert clf.predict(empty)[0] == "b" == labels[0, 0]
    assert sorted(labels[0]) == ["a", "b", "c"]
    np.testing.assert_allclose(proba[0], 1 / 3)


def test_the_class_prior_weighs_documents_by_sample_weight():
    """The most frequent class an empty document gets is counted in sample weight, as
    scikit-learn's DummyClassifier counts it: 'b' is on 3 documents of 4, but 'a' weighs more
    (fit, a TextClassifier, and partial_fit's running shares, call by call)."""
    from sklearn.dummy import DummyClassifier

    X = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]]))
    y, sw = np.array(["a", "b", "b", "b"]), np.array([9.0, 1.0, 1.0, 1.0])
    empty = sp.csr_array((1, 3), dtype=np.int64)
    dummy = DummyClassifier(strategy="prior").fit(X, y, sample_weight=sw)
    clf = BowClassifier(dim=3, epochs=2, random_state=0).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(clf.class_prior_, dummy.class_prior_)
    assert clf.predict(empty)[0] == "a" == dummy.predict(empty)[0]
    assert BowClassifier(dim=3, epochs=2, random_state=0).fit(X, y).predict(empty)[0] == "b"
    text = TextClassifier(epochs=2, random_state=0).fit(["x", "y", "y", "z"], y, sample_weight=sw)
    assert text.predict(["unseen"])[0] == "a"
    part = BowClassifier(dim=3, random_state=0).partial_fit(X[:2], y[:2], ["a", "b"], sw[:2])
    np.testing.assert_allclose(part.class_prior_, [0.9, 0.1])
    part.partial_fit(X[2:], y[2:], sample_weight=sw[2:])  # two documents more: all 'b'
    np.testing.assert_allclose(part.class_prior_, [0.45, 0.55])


@pytest.mark.parametrize(
    "y, message",
    [
        (["a", "b", 1, "a"], "mixes strings"),
        (["a", None, "b", "a"], "missing labels"),
        (["a", float("nan"), "b", "a"], "missing labels"),
        (np.array([1.0, np.nan, 2.0, 1.0]), "missing labels"),
        # numpy's string arrays drop trailing NULs: 'b\0' would have become the class 'b'
        (["a", "b", "b\0", "a"], r"ends in a NUL character.*merge with 'b'"),
        ([("a",), ("b\0",), ("a", "b"), ("a",)], "ends in a NUL character"),
        (["a", "\ud800", "b", "a"], "lone surrogate"),  # no model file could store it
    ],
)
def test_labels_of_one_kind(y, message):
    """Issue 20 item 12: mixed str/number labels were coerced to strings and None/NaN labels
    gave raw numpy errors; both are one clear ValueError, for both estimators."""
    from bowclf import TextClassifier

    with pytest.raises(ValueError, match=message):
        BowClassifier(epochs=1).fit(np.eye(4), y)
    with pytest.raises(ValueError, match=message):
        TextClassifier(epochs=1).fit(["x y", "y z", "z w", "x w"], y)


# ---------------------------------------------------------------------- many labels: warnings
def test_many_labels_give_no_regression_warning_but_continuous_targets_are_refused():
    """scikit-learn warns that more distinct labels than half the examples "could represent a
    regression problem": for a text classifier that is extreme classification, not a sign of
    regression (int or str labels alike).  Continuous targets are still refused, and labels
    that are all distinct get a warning of their own."""
    import warnings

    from bowclf import TextClassifier

    texts = [f"w{i} w{i % 7} common" for i in range(100)]
    for labels in ([i % 60 for i in range(100)], [f"c{i % 60}" for i in range(100)]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            TextClassifier(dim=4, epochs=1, random_state=0).fit(texts, labels)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        TextClassifier(dim=4, epochs=1).fit(texts, [i + 0.5 for i in range(100)])
    with pytest.warns(UserWarning, match="each of the 100 documents has a label of its own"):
        TextClassifier(dim=4, epochs=1, random_state=0).fit(texts, list(range(100)))


def test_dask_corpus_stats_do_not_warn_about_their_distinct_classes():
    """The Dask backend checked the type of its (distinct) classes with scikit-learn's check,
    whose ratio then always exceeded 50%: it warned for any corpus of more than 20 labels."""
    import warnings
    from collections import Counter

    from bowclf.backends.dask import _corpus_stats

    labels = Counter({i: 4 for i in range(30)})
    total = {"n": 120, "kinds": {False}, "labels": labels, "label_items": 120, "unlabelled": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = _corpus_stats(total)
    assert stats.classes.tolist() == list(range(30))
    with pytest.raises(ValueError, match="continuous"):
        _corpus_stats({**total, "labels": Counter({i + 0.5: 4 for i in range(30)})})


@pytest.mark.parametrize("change", [{"normalize": "l2"}, {"normalize": None}, {"loss": "ova"}])
def test_parameters_changed_after_fit_do_not_change_the_fitted_model(tmp_path, change):
    """``set_params`` after ``fit`` takes effect at the next fit: prediction, ``transform``
    and explanations keep the row scaling and loss the arrays were trained with, and so does
    the model file (it once predicted with the new ``normalize`` on the old ``A``)."""
    from bowclf import load, save

    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.3, (200, 50)).astype(float))
    y = rng.integers(0, 3, 200)
    clf = BowClassifier(random_state=0).fit(X, y)
    before = clf.predict_proba(X), clf.transform(X), clf.predict(X)
    clf.set_params(**change)
    after = clf.predict_proba(X), clf.transform(X), clf.predict(X)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    save(clf, tmp_path / "m.bowclf")
    loaded = load(tmp_path / "m.bowclf")
    assert loaded.get_params()["normalize"] == "l1" and loaded.get_params()["loss"] == "softmax"
    np.testing.assert_array_equal(loaded.predict_proba(X), before[0])
    refit = clf.fit(X, y)  # the next fit trains with the new parameters
    assert refit.row_scaling() == clf.normalize and refit.loss_object().name == clf.loss


def test_a_refit_after_set_params_scores_validation_with_the_new_row_scaling():
    """Validation during a refit uses the rows the refit trains on (it used the previous
    fit's scaling: a multi-label threshold of 0.3 scored 0.592 every epoch)."""
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.4, (400, 60)).astype(float))
    Y = (X[:, :4].toarray() > 0).astype(int)
    Xv, Yv = X[:100], Y[:100]
    kw = dict(epochs=3, random_state=0, dim=8, lr=0.005, loss="ova", threshold=0.3)
    fresh = BowClassifier(normalize=None, **kw).fit(X, Y, X_val=Xv, y_val=Yv)
    refit = BowClassifier(normalize="l1", **kw).fit(X, Y)
    refit.set_params(normalize=None).fit(X, Y, X_val=Xv, y_val=Yv)
    assert refit.validation_scores_ == fresh.validation_scores_


def test_a_bow_classifier_saved_after_set_params_is_the_fitted_model(tmp_path):
    """Any parameter changed after fit (here dim) leaves the file as fitted: it was saved
    with the new dim beside the old A, a file the loader refuses."""
    from bowclf import load, save

    rng = np.random.default_rng(1)
    X = sp.csr_array(rng.poisson(0.3, (120, 30)).astype(float))
    y = rng.integers(0, 3, 120)
    clf = BowClassifier(dim=6, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    clf.set_params(dim=50, n_jobs=2)
    loaded = load(save(clf, tmp_path / "m.bowclf"))
    assert loaded.get_params()["dim"] == 6 and loaded.get_params()["n_jobs"] == 2
    assert loaded.predict_proba(X).tobytes() == P.tobytes()


def test_the_class_prior_is_the_training_rows_share_with_or_without_weights():
    """With early stopping the prior covers the training rows only; with sample weights it
    also covered the held-out ones (all-ones weights gave another prior and another file)."""
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.3, size=(300, 20)).astype(float))
    y = rng.choice(["a", "b", "c"], size=300, p=[0.5, 0.3, 0.2])
    plain = BowClassifier(early_stopping=True, random_state=0, epochs=2).fit(X, y)
    weighted = BowClassifier(early_stopping=True, random_state=0, epochs=2).fit(
        X, y, sample_weight=np.ones(300)
    )
    np.testing.assert_array_equal(weighted.class_prior_, plain.class_prior_)
    np.testing.assert_array_equal(weighted.A_, plain.A_)
