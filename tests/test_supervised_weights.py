"""Supervised term weights: the formula against a slow reference, and the same weights (and
model) on every training route."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import write_label_text_csv

from bowclf import TextClassifier, _math, load, save
from bowclf._limits import param_problem
from bowclf.stream import fit_stream


def _reference_weights(D: np.ndarray, strength: float, a: float) -> np.ndarray:
    """NBSVM's ``r = ln((p/‖p‖₁)/(q/‖q‖₁))`` per class against the rest, with the
    pseudo-counts ``p = D_k + a·s_k``, ``q = D_rest + a·(1 − s_k)``, loop by loop; ``1 + β·g``
    with ``g`` the maximum of ``|r|`` over the classes, plus (three or more classes) the
    mean of ``|r|`` weighted by the classes' shares."""
    p, c = D.shape
    total = sum(D[j][k] for j in range(p) for k in range(c))
    shares = [sum(D[i][k] for i in range(p)) / total for k in range(c)]
    live = [k for k in range(c) if shares[k] not in (0.0, 1.0)]
    out = []
    for j in range(p):
        best, mean = 0.0, 0.0
        for k in live:
            s = shares[k]
            pk = [D[i][k] + a * s for i in range(p)]
            qk = [sum(D[i]) - D[i][k] + a * (1 - s) for i in range(p)]
            r = math.log((pk[j] / sum(pk)) / (qk[j] / sum(qk)))
            best = max(best, abs(r))
            mean += s * abs(r)
        out.append(1.0 + strength * (best + (mean if len(live) >= 3 else 0.0)))
    return np.array(out)


@pytest.mark.parametrize("c", [2, 3, 5])
def test_weights_match_the_log_count_ratio_reference(c):
    rng = np.random.default_rng(c)
    D = rng.integers(0, 6, size=(40, c))
    D[3] = 0  # a column in no document
    D[:, -1] = np.where(rng.random(40) < 0.5, 0, D[:, -1])
    for strength, a in ((0.5, 2.0), (1.0, 1.0), (2.0, 0.5)):
        got = _math.supervised_term_weights(sp.csr_array(D), strength, smoothing=a)
        np.testing.assert_allclose(got, _reference_weights(D, strength, a), rtol=1e-12)
        assert got[3] == 1.0 and (got >= 1.0).all()
    assert (_math.supervised_term_weights(sp.csr_array(D), 0.0) == 1.0).all()


def test_two_classes_take_the_maximum_once_more_classes_add_the_mean():
    """With two classes ``|r_j0| = |r_j1|``: the weight is ``1 + β·|r_j0|`` (a third class
    without documents changes nothing); with three, the share-weighted mean is added."""
    D = np.array([[3, 1], [1, 3], [2, 2], [4, 0], [6, 1]])
    two = _math.supervised_term_weights(sp.csr_array(D), 0.5)
    share = D.sum(axis=0) / D.sum()
    r = np.log(D[:, 0] / share[0] + 2.0) - np.log(D[:, 1] / share[1] + 2.0)
    np.testing.assert_allclose(two, 1.0 + 0.5 * np.abs(r), rtol=1e-12)
    padded = np.hstack([D, np.zeros((5, 1), int)])  # a class with no documents
    np.testing.assert_array_equal(_math.supervised_term_weights(sp.csr_array(padded), 0.5), two)
    three = np.hstack([D, np.array([[1], [1], [1], [0], [5]])])
    got = _math.supervised_term_weights(sp.csr_array(three), 0.5)
    np.testing.assert_allclose(got, _reference_weights(three, 0.5, 2.0), rtol=1e-12)
    share3 = three.sum(axis=0) / three.sum()
    rest = three.sum(axis=1, keepdims=True) - three
    r3 = np.abs(np.log(three / share3 + 2.0) - np.log(rest / (1 - share3) + 2.0))
    assert np.allclose(got, 1.0 + 0.5 * (r3.max(axis=1) + r3 @ share3), rtol=1e-12)
    assert (got > 1.0 + 0.5 * r3.max(axis=1)).all()


def test_weights_ignore_unused_columns_and_neutral_features():
    D = np.array([[3, 1], [1, 3], [2, 2], [4, 0], [0, 4]])
    padded = np.vstack([D, np.zeros((50, 2), int)])
    w = _math.supervised_term_weights(sp.csr_array(D), 0.5)
    np.testing.assert_array_equal(_math.supervised_term_weights(sp.csr_array(padded), 0.5)[:5], w)
    # a feature spread over the classes in their shares (here equal) weighs 1; the more
    # one-sided, the more weight, whichever side
    assert w[2] == 1.0 and w[0] == w[1] > 1.0 and w[3] == w[4] > w[0]
    # computed in blocks of columns (4,096 rows of 64 classes here): the one-block formula
    big = np.random.default_rng(0).integers(0, 3, size=(10_000, 64)).astype(np.float64)
    big[:, 5] = np.where(big[:, 5] > 1, 0, big[:, 5])  # columns absent from some classes
    share = big.sum(axis=0) / big.sum()
    rest = big.sum(axis=1, keepdims=True) - big
    r = np.abs(np.log(big / share + 2.0) - np.log(rest / (1 - share) + 2.0))
    expected = 1.0 + 0.5 * (r.max(axis=1) + r @ share)
    got = _math.supervised_term_weights(sp.csr_array(big), 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the share-weighted mean alone (its sum over the absent classes is tabulated by df)
    live = np.ones(64, bool)
    df, _, j, s, r_present = _math._present_log_ratios(sp.csr_array(big), share, live, 2.0)
    mean = _math._mean_log_ratio(df, j, s, r_present, share, live, 2.0)
    np.testing.assert_allclose(mean, r @ share, rtol=1e-12)


def test_class_document_frequency_and_its_chunked_sum():
    rng = np.random.default_rng(1)
    X = sp.random_array((60, 30), density=0.2, rng=rng, format="csr") * 5
    X = sp.csr_array(np.ceil(X.toarray()))
    codes = rng.integers(0, 3, 60)
    D = _math.class_document_frequency(X, codes, 3)
    dense = X.toarray() > 0
    ref = np.stack([dense[codes == k].sum(axis=0) for k in range(3)], axis=1)
    np.testing.assert_array_equal(D.toarray(), ref)
    assert D.dtype == np.int64
    chunks = [_math.class_document_frequency(X[a:b], codes[a:b], 3) for a, b in ((40, 60), (0, 40))]
    total = _math.sum_counts(chunks, (30, 3))
    np.testing.assert_array_equal(total.toarray(), ref)
    assert _math.sum_counts([], (30, 3)).nnz == 0


def test_fit_multiplies_idf_by_the_weights_and_is_deterministic(text_data):
    Xtr, ytr, Xte, _ = text_data
    plain = TextClassifier(random_state=0, epochs=2, supervised_weight=0.0).fit(Xtr, ytr)
    model = TextClassifier(random_state=0, epochs=2).fit(Xtr, ytr)
    again = TextClassifier(random_state=0, epochs=2).fit(Xtr, ytr)
    assert model.supervised_weight == 0.5
    Xc = model.vectorizer_.transform(Xtr)
    codes = np.unique(np.asarray(ytr), return_inverse=True)[1]
    D = _math.class_document_frequency(Xc, codes, codes.max() + 1)[model.feature_columns_]
    expected = (plain.idf_ * _math.supervised_term_weights(D, 0.5)).astype(np.float32)
    assert model.idf_.tobytes() == expected.tobytes()
    assert (model.idf_ >= plain.idf_).all() and (model.idf_ > plain.idf_).any()
    assert model.idf_.tobytes() == again.idf_.tobytes()
    assert model.predict_proba(Xte).tobytes() == again.predict_proba(Xte).tobytes()


def test_the_same_weights_in_memory_out_of_core_and_loaded(text_data, tmp_path):
    Xtr, ytr, Xte, yte = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    mem = TextClassifier(random_state=0, epochs=2).fit(Xtr, ytr)
    models = []
    for chunk_size in (10_000, 64):  # several chunks: the per-chunk matrices are summed
        ooc = fit_stream(TextClassifier(random_state=0, epochs=2), path, block_docs=64,
                         chunk_size=chunk_size, cache_dir=tmp_path)  # fmt: skip
        np.testing.assert_array_equal(ooc.feature_columns_, mem.feature_columns_)
        assert ooc.idf_.tobytes() == mem.idf_.tobytes()
        assert abs(ooc.score(Xte, yte) - mem.score(Xte, yte)) <= 0.01
        models.append(ooc)
    assert models[0].predict_proba(Xte).tobytes() == models[1].predict_proba(Xte).tobytes()
    save(mem, tmp_path / "m.bowclf")
    loaded = load(tmp_path / "m.bowclf")
    assert loaded.supervised_weight == 0.5 and loaded.idf_.tobytes() == mem.idf_.tobytes()
    assert loaded.predict_proba(Xte).tobytes() == mem.predict_proba(Xte).tobytes()


@pytest.mark.parametrize(
    "params, counted", [({}, True), ({"use_idf": False}, False), ({"supervised_weight": 0}, False)]
)
def test_out_of_core_counts_by_class_only_for_supervised_weights(
    text_data, tmp_path, params, counted
):
    """Pass 2 counts the per-class document frequencies only when the fit uses them (a
    fastText-like ``use_idf=False`` fit of a large corpus does not pay for them)."""
    from bowclf.backends.disk import DiskCorpus

    Xtr, ytr, _, _ = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    seen = {}

    class Backend(DiskCorpus):
        def scan(self, vectorizer, callback=None, **kw):
            stats = super().scan(vectorizer, callback, **kw)
            seen["counted"] = stats.class_document_frequency is not None
            return stats

    with Backend(path, cache_dir=tmp_path) as backend:
        TextClassifier(random_state=0, epochs=1, **params).fit_backend(backend)
    assert seen["counted"] is counted


def test_multilabel_and_raw_counts_are_not_affected():
    texts = ["red apple", "green apple", "red car", "blue car", "green tree", "blue sky"] * 10
    labels = [("fruit",), ("fruit", "green"), ("car",), ("car",), ("green",), ("sky",)] * 10
    a = TextClassifier(random_state=0, epochs=2).fit(texts, labels)
    b = TextClassifier(random_state=0, epochs=2, supervised_weight=0.0).fit(texts, labels)
    assert a.idf_.tobytes() == b.idf_.tobytes()
    raw = TextClassifier(random_state=0, epochs=2, use_idf=False).fit(texts, [x[0] for x in labels])
    assert raw.idf_ is None


def test_parameter_checks():
    assert param_problem({"supervised_weight": 0.5}, text=True) is None
    assert param_problem({"supervised_weight": -1.0}, text=True) is not None
    with pytest.raises(ValueError, match="supervised_weight"):
        TextClassifier(supervised_weight=-0.1).fit(["a b", "c d"], [0, 1])
