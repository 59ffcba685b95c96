"""The AdaGrad update rules of :mod:`bowclf._math` against slow loop-by-loop references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import _math


def _batch(rng, n=7, p=40, density=0.2, dtype=np.float32):
    X = sp.random_array((n, p), density=density, format="csr", rng=rng, dtype=np.float64)
    X.data[:] = rng.integers(1, 4, X.nnz)
    X = _math.scale_rows(X, _math.row_scale(X, "l1"), dtype=dtype)
    X.sort_indices()
    return sp.csr_array(
        (X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape
    )


def _reference_rows(X, GB, W, acc, lr, eps):
    """Row-wise AdaGrad written out feature by feature and document by document."""
    W, acc = W.astype(np.float64).copy(), acc.copy()
    Xd = X.toarray().astype(np.float64)
    GB = GB.astype(np.float64)
    d = W.shape[1]
    for j in range(W.shape[0]):
        docs = np.flatnonzero(Xd[:, j])
        if docs.size == 0:
            continue
        grad = np.zeros(d)
        for i in docs:
            acc[j] += Xd[i, j] ** 2 * float(GB[i] @ GB[i]) / d
            grad += Xd[i, j] * GB[i]
        W[j] -= lr / (np.sqrt(acc[j]) + eps) * grad
    return W, acc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adagrad_rows_matches_reference(dtype):
    rng = np.random.default_rng(0)
    X = _batch(rng, dtype=dtype)
    d = 5
    W = rng.normal(size=(X.shape[1], d)).astype(dtype)
    GB = rng.normal(size=(X.shape[0], d)).astype(dtype)
    acc = rng.random(X.shape[1]) * 0.1
    acc[::3] = 0.0  # features never seen before
    want_W, want_acc = _reference_rows(X, GB, W, acc, lr=0.3, eps=1e-8)
    got_acc = acc.copy()
    got_W = _math.adagrad_update_rows(
        X.indptr, X.indices, X.data, GB, W.copy(), got_acc, 0.3, eps=1e-8
    )
    np.testing.assert_allclose(got_acc, want_acc, rtol=1e-6, atol=1e-12)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got_W, want_W, rtol=tol, atol=tol)
    untouched = np.setdiff1d(np.arange(X.shape[1]), X.indices)
    assert untouched.size  # the batch leaves some rows alone, and they stay exactly as they were
    np.testing.assert_array_equal(got_W[untouched], W[untouched])
    np.testing.assert_array_equal(got_acc[untouched], acc[untouched])


def test_adagrad_rows_one_document_is_textbook_adagrad():
    """With one document per batch the rule is AdaGrad on each row's own gradient g_j."""
    rng = np.random.default_rng(1)
    X = _batch(rng, n=1, p=30, density=0.5, dtype=np.float64)
    W = rng.normal(size=(30, 4))
    acc = np.zeros(30)
    want = W.copy()
    want_acc = acc.copy()
    for _ in range(3):
        GB = rng.normal(size=(1, 4))
        grad = np.asarray(X.T @ GB)  # ∂/∂W = X̃ᵀ·(G·B)
        want_acc += (grad**2).mean(axis=1)
        want -= 0.1 * grad / (np.sqrt(want_acc)[:, None] + 1e-8)
        _math.adagrad_update_rows(X.indptr, X.indices, X.data, GB, W, acc, 0.1)
    np.testing.assert_allclose(W, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(acc, want_acc, rtol=1e-10)


def test_adagrad_rows_step_does_not_depend_on_document_length():
    """A document's words move as far whatever its length (the point of the optimiser)."""
    W0 = np.zeros((8, 3))
    GB = np.array([[1.0, -2.0, 0.5]])
    moves = []
    for scale in (1.0, 1e-3):  # a 1-token document vs one where each word weighs 1/1000
        X = sp.csr_array(np.array([[0, scale, 0, scale, 0, 0, 0, 0]]))
        W, acc = W0.copy(), np.zeros(8)
        _math.adagrad_update_rows(X.indptr, X.indices, X.data, GB, W, acc, 0.5, eps=0.0)
        moves.append(W)
    np.testing.assert_allclose(moves[0], moves[1], rtol=1e-12)
    assert np.abs(moves[0][1]).max() > 0.1


@pytest.mark.parametrize("sparse_rows", [False, True])
def test_adagrad_B_matches_reference(sparse_rows):
    rng = np.random.default_rng(2)
    c, d = 6, 5
    B = rng.normal(size=(c, d)).astype(np.float32)
    acc = rng.random(c)
    rows = np.array([4, 1, 4]) if sparse_rows else None  # a row may repeat (summed)
    grad = rng.normal(size=(3 if sparse_rows else c, d)).astype(np.float32)
    want_B, want_acc = B.astype(np.float64), acc.copy()
    targets = rows if sparse_rows else np.arange(c)
    summed = {}
    for r, g in zip(targets, grad.astype(np.float64), strict=True):
        summed.setdefault(int(r), []).append(g)
    for k, gs in summed.items():
        for g in gs:
            want_acc[k] += float(g @ g) / d
        for g in gs:
            want_B[k] -= 0.2 / (np.sqrt(want_acc[k]) + 1e-8) * g
    got_acc = acc.copy()
    got_B = _math.adagrad_update_B(grad, B.copy(), got_acc, 0.2, rows=rows)
    np.testing.assert_allclose(got_acc, want_acc, rtol=1e-6)
    np.testing.assert_allclose(got_B, want_B, rtol=1e-5, atol=1e-6)
    assert got_B.dtype == np.float32


def _reference_normalized(X, GB, W, lr, floor=None):
    W = W.astype(np.float64).copy()
    Xd = X.toarray().astype(np.float64)
    for i in range(Xd.shape[0]):
        norm = float(Xd[i] @ Xd[i])
        if norm == 0:
            continue
        s = 1 / norm if floor is None else max(1.0, floor / norm)
        for j in np.flatnonzero(Xd[i]):
            W[j] -= lr * s * Xd[i, j] * GB[i]
    return W


@pytest.mark.parametrize("floor", [None, 0.2])
def test_normalized_update_matches_reference(floor):
    rng = np.random.default_rng(4)
    X = _batch(rng, n=8, p=30, density=0.25)
    X = sp.csr_array(sp.vstack([X, sp.csr_array((1, 30), dtype=np.float32)]))  # + an empty doc
    X = sp.csr_array((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape)
    GB = rng.normal(size=(X.shape[0], 4)).astype(np.float32)
    W = rng.normal(size=(30, 4)).astype(np.float32)
    want = _reference_normalized(X, GB.astype(np.float64), W, 0.3, floor)
    got = _math.normalized_update_A(X.indptr, X.indices, X.data, GB, W.copy(), 0.3, floor)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_normalized_update_moves_the_hidden_vector_by_the_step():
    """A document alone in its batch: ``h`` moves by exactly ``−η·∂ℓ/∂h``, at any length."""
    rng = np.random.default_rng(5)
    for length in (3, 300):
        x = np.zeros((1, 1000))
        x[0, rng.choice(1000, length, replace=False)] = rng.integers(1, 4, length)
        X = _math.scale_rows(sp.csr_array(x), _math.row_scale(sp.csr_array(x), "l1"))
        X = sp.csr_array(
            (X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape
        )
        W = rng.normal(size=(1000, 4))
        GB = rng.normal(size=(1, 4))
        h0 = X @ W
        _math.normalized_update_A(X.indptr, X.indices, X.data, GB, W, 0.5)
        np.testing.assert_allclose(X @ W - h0, -0.5 * GB, rtol=1e-9, atol=1e-12)


def test_adagrad_zero_gradient_changes_nothing():
    """B starts at zero, so G·B = 0 on the first batch: no step, no accumulation, no NaN."""
    rng = np.random.default_rng(3)
    X = _batch(rng)
    W = rng.normal(size=(X.shape[1], 3)).astype(np.float32)
    acc = np.zeros(X.shape[1])
    GB = np.zeros((X.shape[0], 3), dtype=np.float32)
    out = _math.adagrad_update_rows(X.indptr, X.indices, X.data, GB, W.copy(), acc, 0.5)
    np.testing.assert_array_equal(out, W)
    assert not acc.any()


def test_floored_update_is_plain_sgd_for_short_documents():
    """Documents with ``‖x̃‖² ≥ floor`` take exactly the plain SGD step."""
    rng = np.random.default_rng(6)
    X = _batch(rng, n=6, p=12, density=0.3)  # ≤ ~4 features a row: ‖x̃‖² ≥ 1/4 with l1
    GB = rng.normal(size=(6, 3)).astype(np.float32)
    W = rng.normal(size=(12, 3)).astype(np.float32)
    sgd = _math.add_scaled_gradient_A(X.indptr, X.indices, X.data, -0.25 * GB, W.copy())
    got = _math.normalized_update_A(X.indptr, X.indices, X.data, GB, W.copy(), 0.25, 1 / 64)
    np.testing.assert_allclose(got, sgd, rtol=1e-6, atol=1e-7)
