"""Finite-difference checks of the model's analytic gradients (float64)."""

import zlib

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import _math

N, P, D, C = 7, 11, 4, 3


def _problem(rng, target, normalize, weighted):
    X = sp.random_array((N, P), density=0.35, format="csr", rng=rng, dtype=np.float64)
    X.data = np.ceil(X.data * 4)  # counts 1..4
    dense = X.toarray()
    dense[0] = 0  # an empty document
    X = sp.csr_array(dense)
    A = rng.normal(scale=0.5, size=(D, P))
    B = rng.normal(scale=0.5, size=(C, D))
    if target == "onehot":
        Y = np.eye(C)[rng.integers(0, C, N)]
    elif target == "soft":
        Y = rng.dirichlet(np.ones(C), size=N)
    else:  # multi-hot, un-normalised (Σy up to C)
        Y = (rng.random((N, C)) < 0.5).astype(float)
        Y[Y.sum(axis=1) == 0, 0] = 1
    w = rng.uniform(0.2, 3.0, N) if weighted else None
    scale = _math.row_scale(X, normalize)
    return _math.scale_rows(X, scale), A, B, Y, w


def _loss(loss, Xs, A, B, Y, w):
    S = _math.scores(_math.hidden(Xs, A), B)
    return _math.softmax_loss(S, Y, w) if loss == "softmax" else _math.ova_loss(S, Y, w)


def _analytic(loss, Xs, A, B, Y, w):
    H = _math.hidden(Xs, A)
    S = _math.scores(H, B)
    if loss == "softmax":
        G = _math.softmax_score_gradient(_math.softmax(S), Y, w)
    else:
        G = _math.ova_score_gradient(S, Y, w)
    total = N if w is None else w.sum()
    return _math.gradient_A(G, B, Xs) / total, _math.gradient_B(G, H) / total, G


def _numeric(f, M, eps=1e-6):
    grad = np.zeros_like(M)
    for idx in np.ndindex(M.shape):
        old = M[idx]
        M[idx] = old + eps
        up = f()
        M[idx] = old - eps
        down = f()
        M[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def _rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("loss", ["softmax", "ova"])
@pytest.mark.parametrize("target", ["onehot", "soft", "multihot"])
@pytest.mark.parametrize("normalize", ["l1", "l2", None])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_finite_differences(loss, target, normalize, weighted):
    rng = np.random.default_rng(zlib.crc32(repr((loss, target, normalize, weighted)).encode()))
    Xs, A, B, Y, w = _problem(rng, target, normalize, weighted)
    dA, dB, _ = _analytic(loss, Xs, A, B, Y, w)
    num_dA = _numeric(lambda: _loss(loss, Xs, A, B, Y, w), A)
    num_dB = _numeric(lambda: _loss(loss, Xs, A, B, Y, w), B)
    assert _rel_err(dA, num_dA) < 1e-6
    assert _rel_err(dB, num_dB) < 1e-6
    # Features absent from every document have an exactly zero gradient column.
    unused = np.setdiff1d(np.arange(P), Xs.indices)
    assert np.all(dA[:, unused] == 0)


def test_touched_columns_gradient_is_the_nonzero_part_of_the_dense_one():
    rng = np.random.default_rng(1)
    Xs, A, B, Y, w = _problem(rng, "onehot", "l1", True)
    _, _, G = _analytic("softmax", Xs, A, B, Y, w)
    dense = _math.gradient_A(G, B, Xs)
    cols, D_cols = _math.touched_columns_gradient_A(G, B, Xs)
    np.testing.assert_allclose(dense[:, cols], D_cols.T, rtol=1e-12)
    mask = np.ones(P, bool)
    mask[cols] = False
    assert np.all(dense[:, mask] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_sparse_kernels_match_dense_algebra(dtype):
    rng = np.random.default_rng(2)
    Xs, A, B, Y, _ = _problem(rng, "onehot", "l1", False)
    Xs = sp.csr_array(Xs.astype(dtype))
    W = np.ascontiguousarray(A.T.astype(dtype))
    H = np.zeros((N, D), dtype=dtype)
    _math.sparse_hidden_into(Xs.indptr, Xs.indices, Xs.data, W, H)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(H, Xs @ W, rtol=tol, atol=tol)
    GB = rng.normal(size=(N, D)).astype(dtype)
    expected = W + Xs.T @ GB
    _math.add_scaled_gradient_A(Xs.indptr, Xs.indices, Xs.data, GB, W)
    np.testing.assert_allclose(W, expected, rtol=tol, atol=tol)


def test_softmax_and_losses_are_stable_for_huge_scores():
    S = np.array([[1e4, 0.0, -1e4], [-1e30, 1e30, 0.0], [0.0, 0.0, 0.0]])
    P = _math.softmax(S)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(_math.log_softmax(S)), P, atol=1e-300)
    Y = np.eye(3)
    assert np.isfinite(_math.softmax_loss(S, Y))
    assert np.isfinite(_math.ova_loss(S, Y))
    s = _math.sigmoid(np.array([-1e4, 0.0, 1e4]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(_math.log_sigmoid(np.array([-1e4, 1e4]))))


def test_softmax_gradient_reduces_to_p_minus_y_for_one_hot():
    rng = np.random.default_rng(3)
    S = rng.normal(size=(5, 4))
    Y = np.eye(4)[[0, 1, 2, 3, 0]]
    P = _math.softmax(S)
    np.testing.assert_allclose(_math.softmax_score_gradient(P, Y), P - Y)


@pytest.mark.parametrize("normalize", ["l1", "l2", None])
def test_row_scale_definitions(normalize):
    X = sp.csr_array(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [4.0, 0.0, 3.0]]))
    s = _math.row_scale(X, normalize)
    expected = {"l1": [1 / 4, 0, 1 / 7], "l2": [1 / np.sqrt(10), 0, 1 / 5], None: [1, 1, 1]}
    np.testing.assert_allclose(s, expected[normalize])


def test_row_scale_rejects_unknown_mode():
    with pytest.raises(ValueError, match="normalize"):
        _math.row_scale(sp.csr_array(np.ones((1, 2))), "max")


def test_idf_weights_formula():
    w = _math.idf_weights(np.array([0, 1, 4, 10]), 10)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, np.log(11 / np.array([1, 2, 5, 11])) + 1, rtol=1e-6)
    assert w[-1] == pytest.approx(1.0)  # a feature in every document keeps weight 1
    with pytest.raises(ValueError, match="document frequencies"):
        _math.idf_weights(np.array([11]), 10)


def test_weight_terms_scales_columns_and_applies_sublinear_tf():
    X = sp.csr_array(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [4.0, 0.0, 1.0]]))
    w = np.array([2.0, 0.5, 1.0], dtype=np.float32)
    np.testing.assert_allclose(_math.weight_terms(X, w).toarray(), X.toarray() * w)
    expected = np.where(X.toarray() > 0, 1 + np.log(np.maximum(X.toarray(), 1)), 0) * w
    np.testing.assert_allclose(
        _math.weight_terms(X, w, sublinear=True).toarray(), expected, rtol=1e-6
    )
    np.testing.assert_array_equal(_math.weight_terms(X, None).toarray(), X.toarray())
    assert X[0, 1] == 3.0  # the input is not modified


def test_row_sums_match_a_per_row_loop_with_empty_rows_anywhere():
    rng = np.random.default_rng(4)
    dense = rng.random((9, 6)) * (rng.random((9, 6)) < 0.4)
    dense[[0, 4, 8]] = 0.0  # empty first, middle and last rows
    X = sp.csr_array(dense)
    np.testing.assert_allclose(_math.row_sums(X.indptr, X.data), dense.sum(axis=1))
    empty = sp.csr_array((3, 4))
    np.testing.assert_array_equal(_math.row_sums(empty.indptr, empty.data), np.zeros(3))


def test_scale_rows_block_by_block_equals_the_one_shot_product(monkeypatch):
    rng = np.random.default_rng(5)
    X = sp.random_array((3000, 400), density=0.3, format="csr", rng=rng)
    X.data = np.round(X.data * 10)
    s = _math.row_scale(X, "l1")
    expected = (X.data * np.repeat(s, np.diff(X.indptr))).astype(np.float32)
    monkeypatch.setattr(_math, "_SCALE_BLOCK", 1000)  # many blocks of rows
    Xs = _math.scale_rows(X, s, dtype=np.float32)
    np.testing.assert_array_equal(Xs.data, expected)
    assert Xs.dtype == np.float32 and np.shares_memory(Xs.indices, X.indices)
    np.testing.assert_array_equal(_math.scale_rows(sp.csr_array((4, 3)), np.ones(4)).data, [])


def test_l1_row_scale_of_counts_sums_their_float64_values():
    """Non-negative values are summed in float64 without taking |x|: the same scale, to the
    bit, as summing their float64 absolute values (rows longer than numpy's buffer too);
    negative values still go through |x|."""
    rng = np.random.default_rng(3)
    lens = np.array([0, 3, 20_000, 1, 0, 9_000, 70])
    indptr = np.concatenate([[0], np.cumsum(lens)])
    data = rng.integers(1, 50, indptr[-1]).astype(np.float32) / 7
    columns = np.concatenate([np.arange(n) for n in lens])
    X = sp.csr_array((data, columns, indptr), shape=(lens.size, lens.max()))
    want = _math.row_sums(X.indptr, np.abs(X.data, dtype=np.float64))
    np.testing.assert_array_equal(_math.row_sums(X.indptr, X.data, dtype=np.float64), want)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(_math.row_scale(X, "l1"), np.where(want > 0, 1 / want, 0))
    X.data[::3] *= -1
    assert np.array_equal(_math.row_scale(X, "l1"), _math.row_scale(abs(X), "l1"))


@pytest.mark.parametrize("of", [None, np.abs, np.square])
def test_row_sums_in_blocks_of_rows_are_the_one_shot_sums_to_the_bit(monkeypatch, of):
    """Cast (or transformed) values are summed a block of whole rows at a time: the same
    bits as one ``reduceat`` over a float64 copy of every value, empty rows and rows longer
    than a block included."""
    rng = np.random.default_rng(6)
    lens = rng.choice([0, 1, 5, 40, 333], size=400)
    indptr = np.concatenate([[0], np.cumsum(lens)])
    values = (rng.standard_normal(indptr[-1]) * 9).astype(np.float32)
    terms = values.astype(np.float64) if of is None else of(values, dtype=np.float64)
    nonempty = lens > 0
    want = np.zeros(lens.size)
    want[nonempty] = np.add.reduceat(terms, indptr[:-1][nonempty])
    for block in (1 << 20, 100, 7, 1):
        monkeypatch.setattr(_math, "_SUM_BLOCK", block)
        got = _math.row_sums(indptr, values, dtype=np.float64, of=of)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.float64


def test_empty_rows_are_the_rows_without_a_non_zero_value(monkeypatch):
    indptr = np.array([0, 0, 2, 3, 3, 6, 7])
    data = np.array([1.0, -1.0, 0.0, 0.0, 1e-30, 0.0, -2.0], dtype=np.float32)
    X = sp.csr_array((data, [0, 1, 0, 0, 1, 2, 2], indptr), shape=(6, 3))
    for block in (1 << 20, 2):  # explicit zeros, cancelling signs, a tiny value
        monkeypatch.setattr(_math, "_SUM_BLOCK", block)
        np.testing.assert_array_equal(_math.empty_rows(X), [True, False, True, True, False, False])


def test_row_scale_does_not_copy_the_values_to_float64(monkeypatch):
    import tracemalloc

    monkeypatch.setattr(_math, "_SUM_BLOCK", 1 << 16)
    n = 2_000_000
    indptr = np.arange(0, n + 1, 50)
    X = sp.csr_array((np.ones(n, np.float32), np.zeros(n, np.int32), indptr), shape=(n // 50, 1))
    for normalize in ("l1", "l2"):
        tracemalloc.start()
        try:
            _math.row_scale(X, normalize)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < n * 8 / 4  # a float64 copy of the values would be n·8 bytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_scores_are_the_product_and_a_rows_bits_are_its_own(dtype):
    """``row_scores(H, B)`` is ``H·Bᵀ`` (up to rounding), and each row's values are the same
    bits whether the row is scored alone, in a block of any size, or from a copy at another
    address; a matrix product does not promise that (its kernels split the rows)."""
    rng = np.random.default_rng(3)
    for c, d in [(2, 1), (3, 7), (17, 33), (200, 100), (1000, 300)]:
        H = rng.standard_normal((45, d)).astype(dtype)
        B = rng.standard_normal((c, d)).astype(dtype)
        whole = _math.row_scores(H, B)
        assert whole.shape == (45, c) and whole.dtype == dtype
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(whole, H @ B.T, rtol=tol, atol=tol * d)
        for size in (1, 2, 3, 5, 17):
            parts = [_math.row_scores(H[a : a + size], B) for a in range(0, 45, size)]
            np.testing.assert_array_equal(np.vstack(parts), whole)
        np.testing.assert_array_equal(_math.row_scores(H[7:].copy(), B), whole[7:])
        np.testing.assert_array_equal(_math.row_scores(H[:, :][::2], B), whole[::2])
