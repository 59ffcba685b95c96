"""The mathematics of the model ``ŷ = softmax(B·A·x)``, as small pure functions.

Notation (shared by every docstring in this module):

- ``X``: n×p non-negative count matrix (scipy ``csr_array``), one document per row.
- ``A``: d×p input embedding matrix; ``B``: c×d output matrix.
- ``s``: length-n row scales (``1/‖x‖₁``, ``1/‖x‖₂`` or ``1``), so that ``X̃ = diag(s)·X``.
- ``H = X̃·Aᵀ``: n×d hidden document vectors (fastText averages the word vectors).
- ``S = H·Bᵀ``: n×c class scores; ``P``: n×c probabilities.
- ``Y``: n×c targets (one-hot, soft or multi-hot); ``w``: length-n sample weights.
- ``G = ∂(Σᵢ wᵢ ℓᵢ)/∂S``: n×c gradient of the *summed* weighted loss w.r.t. the scores.

The loss reported and differentiated is the weighted mean ``L = Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ``; its
gradients are ``∂L/∂B = Gᵀ·H / Σw`` and ``∂L/∂A = (G·B)ᵀ·X̃ / Σw``.  Training steps use the
*summed* gradients (``Gᵀ·H`` and ``(G·B)ᵀ·X̃``): with batches of one example a step is one
fastText update (up to the learning-rate schedule: fastText decays it by tokens, bowclf by
examples); a larger batch sums its examples' updates, all taken from the parameters before it.

Nothing here does I/O or keeps state; every function works for float32 and float64.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

import numpy as np
import scipy.sparse as sp

Normalize = Literal["l1", "l2"] | None

try:  # scipy's compiled sparse×dense kernels, called without per-call validation overhead
    from scipy.sparse import _sparsetools as _st

    _csr_matvecs = _st.csr_matvecs
    _csc_matvecs = _st.csc_matvecs
except (ImportError, AttributeError):  # pragma: no cover - depends on scipy internals
    _csr_matvecs = _csc_matvecs = None

#: Threads that :func:`sparse_hidden_into` and :func:`add_scaled_gradient_A` split their work
#: over in the current context (``None``: the calling thread; set by
#: :func:`bowclf.parallel.kernel_threads` during multi-threaded training).  Splitting changes
#: no value: each output row is computed by one thread with the same operations in the same
#: order as on one thread.
KERNEL_THREADS: ContextVar = ContextVar("bowclf_kernel_threads", default=None)


def idf_weights(document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
    """Smoothed inverse document frequency of every feature (scikit-learn's ``smooth_idf``).

    ``idf_j = ln((1 + n) / (1 + df_j)) + 1`` for ``n`` training documents of which ``df_j``
    contain feature ``j``.  Always ≥ 1 for ``df_j ≤ n``, so the weighted counts stay
    non-negative; a feature in every document keeps weight 1, a feature in one document of
    ``n`` gets ``ln((1 + n)/2) + 1``.  Returned as float32 (the dtype of the parameters).
    """
    df = np.asarray(document_frequency, dtype=np.float64)
    if df.size and (df.min() < 0 or df.max() > n_documents):
        raise ValueError("document frequencies must lie in [0, n_documents]")
    return (np.log((1.0 + n_documents) / (1.0 + df)) + 1.0).astype(np.float32)


def class_document_frequency(X: sp.csr_array, codes: np.ndarray, n_classes: int) -> sp.csr_array:
    """``D_jk``: the number of documents of class ``k`` that contain column ``j``.

    ``X`` is an n×p count matrix with canonical rows (no repeated column in a row), ``codes``
    the class index of each row.  Returns a p×c ``csr_array`` of int64 (``D = (X > 0)ᵀ·Y``
    with ``Y`` the one-hot class matrix); summing the matrices of row blocks gives that of
    their concatenation exactly, in any order.
    """
    X = as_csr(X)
    n = X.shape[0]
    present = sp.csr_array((np.ones(X.nnz, np.int64), X.indices, X.indptr), shape=X.shape)
    onehot = sp.csr_array(
        (np.ones(n, np.int64), np.asarray(codes, np.int64), np.arange(n + 1)),
        shape=(n, n_classes),
    )
    return sp.csr_array(present.T @ onehot)


def sum_counts(matrices: list[sp.csr_array], shape: tuple[int, int]) -> sp.csr_array:
    """The sum of integer sparse matrices of one ``shape`` as a canonical ``csr_array``,
    added in pairs, smallest first (each sum is a merge of two sorted matrices: memory about
    twice the result's; integers: exact, and the same in any order)."""
    parts = sorted((sp.csr_array(m) for m in matrices if m.nnz), key=lambda m: m.nnz)
    if not parts:
        return sp.csr_array(shape, dtype=np.int64)
    while len(parts) > 1:
        parts = sorted(
            [a + b for a, b in zip(parts[::2], parts[1::2], strict=False)]
            + parts[len(parts) // 2 * 2 :],
            key=lambda m: m.nnz,
        )
    out = parts[0]
    out.sum_duplicates()
    return out


def ngram_scaled_weights(weights: np.ndarray, hashed: np.ndarray, factor: float) -> np.ndarray:
    """Term weights with the hashed n-gram columns scaled: ``w'_j = f·w_j`` where
    ``hashed[j]`` (word n-grams, and character n-grams with ``minn > 0``), else ``w'_j = w_j``.

    With ``l1`` rows the scaling moves a document's weight from its n-grams to its words:
    ``x̃_j = x_j·w'_j / Σ_i x_i·w'_i``.  Returns float32 (the dtype of feature weights).
    """
    scale = np.where(hashed, np.float32(factor), np.float32(1.0))
    return np.asarray(weights, np.float32) * scale


def supervised_term_weights(
    class_df: sp.csr_array | np.ndarray, strength: float, smoothing: float = 2.0
) -> np.ndarray:
    """Supervised term weights ``w_j = 1 + β·g_j`` from per-class document counts.

    ``g_j = max_k |r_jk|`` for two classes and ``g_j = max_k |r_jk| + Σ_k s_k·|r_jk|`` (the
    maximum plus the share-weighted mean) for three or more, where ``r_jk`` is the
    log-count ratio of NBSVM (Wang & Manning 2012) of column ``j`` for class ``k`` against
    the other classes, with pseudo-counts in proportion to the classes' shares:

    ``r_jk = ln(D_jk / s_k + a) − ln(D̄_jk / (1 − s_k) + a)``

    where ``D_jk`` counts the documents of class ``k`` containing ``j`` (p×c,
    :func:`class_document_frequency`), ``D̄_jk = Σ_{i≠k} D_ji``, ``s_k = Σ_j D_jk / Σ_ji D_ji``
    (class ``k``'s share of the document–column pairs), ``a = smoothing`` and ``β =
    strength``.  This is ``ln((p_j/‖p‖₁)/(q_j/‖q‖₁))`` with ``p = D_·k + a·s_k`` and ``q =
    D̄_·k + a·(1 − s_k)`` over any set of columns (the norms cancel), so a column seen in no
    document, or in every class in proportion to its share, gets ``r = 0`` and ``w = 1``, and
    dropping unused columns changes no weight.  A class with ``s_k`` 0 or 1 contributes
    ``r = 0`` and is not counted among the classes.  Two classes: ``r_j1 = −r_j0``, so the
    maximum and the share-weighted mean are both ``|r_j0|`` (the sum would double ``β``).
    With more classes the maximum marks a feature specific to one class, however small; the
    mean adds the weight of a feature that separates the frequent classes or several at
    once.  Returns float64 weights ``≥ 1`` (``β ≥ 0``).

    Cost ``O(nnz(D) + p + max_j df_j + u·c)`` (``u`` distinct values of ``df_j = Σ_k
    D_jk``), not ``O(p·c)``: for the classes with ``D_jk = 0``, ``|r_jk| = ln(df_j/(1 − s_k)
    + a) − ln a`` depends on ``j`` through ``df_j`` only, and grows with ``s_k``, so their
    maximum is that of the class of largest share absent from column ``j`` (the values are
    those of the dense formula, operation for operation) and their share-weighted sum is
    that of every class, tabulated by ``df_j``, less the present classes' terms.
    """
    D = sp.csr_array(class_df)
    p, c = D.shape
    mass = np.asarray(D.sum(axis=0), dtype=np.float64).ravel()
    total = mass.sum()
    out = np.ones(p, np.float64)
    if total == 0 or strength == 0:
        return out
    share = mass / total
    live = (share > 0) & (share < 1)
    if not live.any():
        return out
    rank = np.full(c, -1, np.int64)  # live classes by decreasing share (ties: by index)
    order = np.flatnonzero(live)[np.argsort(-share[live], kind="stable")]
    rank[order] = np.arange(order.size)
    step = max(1, (1 << 20) * p // max(1, D.nnz))  # ~1M stored counts per block of columns
    for a in range(0, p, step):
        df, k, j, s, r = _present_log_ratios(D[a : a + step], share, live, smoothing)
        g = _largest_log_ratio(df, k, j, r, share, order, rank, smoothing)
        if order.size >= 3:
            g += _mean_log_ratio(df, j, s, r, share, live, smoothing)
        out[a : a + step] += strength * g
    return out


def _present_log_ratios(D, share, live, smoothing: float):
    """For the columns (rows) of ``D``: ``df_j = Σ_k D_jk``, and for each stored count of a
    live class (in CSR order, so ``j`` is sorted) its column ``j``, class ``k``, share
    ``s_k`` and ``|r_jk|`` of :func:`supervised_term_weights`."""
    D = sp.csr_array(D, dtype=np.int64)
    D.sum_duplicates()
    D.eliminate_zeros()
    rows = row_ids(D.indptr)
    df = np.bincount(rows, weights=D.data.astype(np.float64), minlength=D.shape[0])
    kept = live[D.indices]
    k, j, d = D.indices[kept], rows[kept], D.data[kept].astype(np.float64)
    s = share[k]
    r = np.abs(np.log(d / s + smoothing) - np.log((df[j] - d) / (1.0 - s) + smoothing))
    return df, k, j, s, r


def _mean_log_ratio(df, j, s, r, share, live, smoothing: float) -> np.ndarray:
    """``Σ_k s_k·|r_jk|`` of :func:`supervised_term_weights` over the live classes, from
    :func:`_present_log_ratios`' values for a block of columns."""
    p = df.size
    if_absent = np.log(df[j] / (1.0 - s) + smoothing)  # ln(D̄_jk/(1 − s_k) + a) with D_jk = 0
    s_live = share[live]
    counts = df.astype(np.int64)  # Σ_k s_k·ln(df/(1 − s_k) + a) for each value of df
    seen = np.bincount(counts) > 0
    values = np.flatnonzero(seen).astype(np.float64)
    table = np.log(values[:, None] / (1.0 - s_live) + smoothing) @ s_live
    every = table[(np.cumsum(seen) - 1)[counts]]
    absent = (
        every
        - np.bincount(j, s * if_absent, p)
        - np.log(smoothing) * (s_live.sum() - np.bincount(j, s, p))
    )
    out = np.bincount(j, s * r, p) + np.maximum(absent, 0.0)  # absent ≥ 0 up to rounding
    out[df == 0] = 0.0
    return out


def _largest_log_ratio(df, k, j, r, share, order, rank, smoothing: float) -> np.ndarray:
    """``max_k |r_jk|`` of :func:`supervised_term_weights`, from
    :func:`_present_log_ratios`' values for a block of columns."""
    p = df.size
    best = np.zeros(p, np.float64)
    if j.size:  # j is sorted (CSR order): the maximum of each column's run
        first = np.flatnonzero(np.r_[True, j[1:] != j[:-1]])
        best[j[first]] = np.maximum.reduceat(r, first)
    # the absent classes: the first rank missing from column j's (sorted, distinct) ranks
    key = j * order.size + rank[k]
    key.sort()
    j_sorted, ranks = np.divmod(key, order.size)
    start = np.searchsorted(j_sorted, j_sorted, side="left")
    leading = np.bincount(j_sorted[ranks == np.arange(ranks.size) - start], minlength=p)
    absent = leading < order.size
    cls = order[leading[absent]]
    gap = np.abs(
        np.log(0.0 / share[cls] + smoothing) - np.log(df[absent] / (1.0 - share[cls]) + smoothing)
    )
    best[absent] = np.maximum(best[absent], gap)
    return best


def weight_terms(
    X: sp.csr_array, column_weights: np.ndarray | None, sublinear: bool = False
) -> sp.csr_array:
    """Term weighting of a count matrix: ``X'_ij = f(X_ij) · w_j``.

    ``f(c) = 1 + ln c`` when ``sublinear`` (for counts ``c ≥ 1``; zeros stay zero), else
    ``f(c) = c``; ``w`` is one weight per column (e.g. :func:`idf_weights`) or ``None`` for
    ``w = 1``.  Returns a new ``csr_array`` of float32 (the input is not modified).
    """
    X = as_csr(X)
    data = X.data.astype(np.float32, copy=True)
    if sublinear:
        positive = data > 0
        data[positive] = 1.0 + np.log(data[positive])
    if column_weights is not None:  # a block at a time: no nnz-long gathered copy of w
        for a in range(0, data.size, _SUM_BLOCK):
            data[a : a + _SUM_BLOCK] *= column_weights[X.indices[a : a + _SUM_BLOCK]]
    return sp.csr_array((data, X.indices, X.indptr), shape=X.shape)


def row_scale(X: sp.csr_array, normalize: Normalize, dtype=np.float64) -> np.ndarray:
    """Per-document scale ``s`` with ``X̃ = diag(s)·X``.

    ``s_i = 1/‖x_i‖₁`` for ``'l1'`` (fastText's average of word vectors), ``1/‖x_i‖₂`` for
    ``'l2'`` and ``1`` for ``None``.  Empty documents (``‖x_i‖ = 0``) get ``s_i = 0``, so their
    hidden vector is zero and the model predicts ``softmax(0) = uniform`` for them.
    """
    X = as_csr(X)
    n = X.shape[0]
    if normalize is None:
        return np.ones(n, dtype=dtype)
    if normalize not in ("l1", "l2"):
        raise ValueError(f"normalize must be 'l1', 'l2' or None, got {normalize!r}")
    if normalize == "l1" and (X.data.size == 0 or X.data.min() >= 0):  # counts: Σ|x| = Σx,
        sums = row_sums(X.indptr, X.data, dtype=np.float64)
    elif normalize == "l1":
        sums = row_sums(X.indptr, X.data, dtype=np.float64, of=np.abs)
    else:
        sums = np.sqrt(row_sums(X.indptr, X.data, dtype=np.float64, of=np.square))
    with np.errstate(divide="ignore"):
        scale = np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)
    return scale.astype(dtype, copy=False)


_SCALE_BLOCK = 1 << 16  # values scaled at a time by scale_rows (~1 MB of float64 temporaries)
_SUM_BLOCK = 1 << 20  # entries at a time for row_sums (cast or transformed) and weight_terms


def row_sums(indptr: np.ndarray, values: np.ndarray, dtype=None, of=None) -> np.ndarray:
    """``Σ_{j ∈ row i} f(values_j)`` for every row of a CSR layout ``indptr`` (0 for empty
    rows), with ``f`` the elementwise ufunc ``of`` (e.g. ``np.abs``, ``np.square``; none: the
    values themselves), computed and accumulated in ``dtype`` (``values``' by default).

    ``np.add.reduceat`` over the starts of the non-empty rows: no per-entry row-id array (a
    ``bincount`` over ``repeat(arange(n), diff(indptr))`` is slower, bench/RESULTS-threads.md).
    When the values have to be cast or transformed first, that is done for blocks of whole
    rows of about :data:`_SUM_BLOCK` values at a time, not for the whole array at once (no
    float64 copy of a corpus's values, bench/RESULTS-threads.md); each row's sum is the same
    sequence of additions either way.
    """
    dtype = values.dtype if dtype is None else np.dtype(dtype)
    sums = np.zeros(indptr.size - 1, dtype=dtype)
    rows = np.flatnonzero(indptr[1:] > indptr[:-1])
    if not rows.size:
        return sums
    starts, end = indptr[:-1][rows], int(indptr[-1])

    def terms(a: int, b: int) -> np.ndarray:
        if of is not None:
            return of(values[a:b], dtype=dtype)
        return values[a:b].astype(dtype, copy=False)

    if end <= _SUM_BLOCK or (of is None and values.dtype == dtype):
        sums[rows] = np.add.reduceat(terms(0, end), starts)
        return sums
    cuts = np.unique(np.searchsorted(starts, np.arange(0, end, _SUM_BLOCK)))
    cuts = cuts[cuts < rows.size]  # positions in rows where a block starts (the first: 0)
    for p, q in zip(cuts, [*cuts[1:], rows.size], strict=True):
        a, b = int(starts[p]), (int(starts[q]) if q < rows.size else end)
        sums[rows[p:q]] = np.add.reduceat(terms(a, b), starts[p:q] - a)
    return sums


def scale_rows(X: sp.csr_array, scale: np.ndarray, dtype=None, out=None) -> sp.csr_array:
    """Return ``X̃ = diag(s)·X`` as a new ``csr_array`` with new values of ``dtype`` (``X``'s
    by default; written into ``out``, ``X.nnz`` values of that dtype, when given) and ``X``'s
    index arrays (shared, not copied: neither is modified).

    Each value is ``x_ij·s_i`` computed in the wider of the two dtypes and then cast, a block
    of rows at a time (about :data:`_SCALE_BLOCK` values), so the temporaries stay small.
    """
    X = as_csr(X)
    dtype = X.dtype if dtype is None else dtype
    indptr, counts = X.indptr, np.diff(X.indptr)
    data = np.empty(X.nnz, dtype=dtype) if out is None else out
    cuts = np.searchsorted(indptr, np.arange(0, X.nnz, _SCALE_BLOCK), side="right") - 1
    bounds = np.unique(np.concatenate([cuts, [X.shape[0]]])) if X.nnz else np.array([0])
    for r0, r1 in zip(bounds[:-1], bounds[1:], strict=False):
        a, b = indptr[r0], indptr[r1]
        data[a:b] = X.data[a:b] * np.repeat(scale[r0:r1], counts[r0:r1])
    return sp.csr_array((data, X.indices, X.indptr), shape=X.shape, copy=False)


def hidden(X_scaled: sp.csr_array, A: np.ndarray) -> np.ndarray:
    """Hidden document vectors ``H = X̃·Aᵀ`` (n×d), with ``X̃ = diag(s)·X`` already scaled."""
    return np.asarray(X_scaled @ A.T)


def scores(H: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Class scores ``S = H·Bᵀ`` (n×c) as one matrix product (training batches: their rows
    are always scored together; predictions use :func:`row_scores`)."""
    return H @ B.T


def row_scores(H: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Class scores ``S = H·Bᵀ`` (n×c) with each row's values a function of that row alone.

    ``Sᵢ = hᵢ·Bᵀ`` is one vector–matrix product per row (a stacked ``matmul`` of n 1×d
    rows): the same ``B`` times a vector of the same length every time, so the kernel sums a
    row's scores in the same order alone, in any batch or in any chunk.  One matrix product
    ``H·Bᵀ`` is faster for many classes, but BLAS orders a row's sums by its place in the
    block and by the threads' split of the work: on AVX-512 OpenBLAS a document's
    probabilities changed in their last bits with the documents scored beside it.
    """
    H = np.ascontiguousarray(H)
    return np.matmul(H[:, None, :], B.T)[:, 0, :]


def log_softmax(S: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(S)_ik = S_ik − m_i − log Σ_j exp(S_ij − m_i)``, ``m_i = max_j S_ij``.

    Subtracting the row maximum (log-sum-exp) keeps it finite for any finite scores.
    """
    shifted = S - S.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(S: np.ndarray) -> np.ndarray:
    """Row-wise ``softmax(S)_ik = exp(S_ik − m_i) / Σ_j exp(S_ij − m_i)``; rows sum to 1."""
    E = np.exp(S - S.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def log_sigmoid(S: np.ndarray) -> np.ndarray:
    """Element-wise ``log σ(S) = −log(1 + exp(−S)) = min(S, 0) − log1p(exp(−|S|))`` (stable)."""
    return np.minimum(S, 0) - np.log1p(np.exp(-np.abs(S)))


def sigmoid(S: np.ndarray) -> np.ndarray:
    """Element-wise ``σ(S) = 1 / (1 + exp(−S))``, evaluated as ``exp(log σ(S))`` (stable)."""
    return np.exp(log_sigmoid(S))


def _weights(n: int, sample_weight: np.ndarray | None, dtype) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=dtype)
    return np.asarray(sample_weight, dtype=dtype)


def softmax_loss(S: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Weighted mean cross-entropy ``L = Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ``,
    ``ℓᵢ = −Σ_k Y_ik log softmax(S)_ik``."""
    w = _weights(S.shape[0], sample_weight, np.float64)
    per_doc = -(Y * log_softmax(S)).sum(axis=1)
    return float(w @ per_doc / w.sum())


def ova_loss(S: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Weighted mean one-vs-all binary cross-entropy ``L = Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ`` with
    ``ℓᵢ = −Σ_k [Y_ik log σ(S_ik) + (1 − Y_ik) log σ(−S_ik)]``."""
    w = _weights(S.shape[0], sample_weight, np.float64)
    per_doc = -(Y * log_sigmoid(S) + (1 - Y) * log_sigmoid(-S)).sum(axis=1)
    return float(w @ per_doc / w.sum())


def softmax_score_gradient(
    P: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """``G = ∂(Σᵢ wᵢ ℓᵢ)/∂S`` for the softmax loss: ``G_i = wᵢ (P_i · Σ_k Y_ik − Y_i)``.

    ``P = softmax(S)``.  For one-hot (or any row-normalised) targets this is ``wᵢ (P_i − Y_i)``.
    """
    G = P * Y.sum(axis=1, keepdims=True) - Y
    if sample_weight is not None:
        G *= np.asarray(sample_weight, dtype=G.dtype)[:, None]
    return G


def ova_score_gradient(
    S: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """``G = ∂(Σᵢ wᵢ ℓᵢ)/∂S`` for the one-vs-all loss: ``G_i = wᵢ (σ(S_i) − Y_i)``."""
    G = sigmoid(S) - Y
    if sample_weight is not None:
        G *= np.asarray(sample_weight, dtype=G.dtype)[:, None]
    return G


def gradient_B(G: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Summed-loss gradient for the output matrix: ``∂/∂B = Gᵀ·H`` (c×d)."""
    return G.T @ H


def gradient_A(G: np.ndarray, B: np.ndarray, X_scaled: sp.csr_array) -> np.ndarray:
    """Summed-loss gradient for the input matrix as a dense d×p array: ``∂/∂A = (G·B)ᵀ·X̃``.

    Only for checks and small problems: training never materialises it (see
    :func:`add_scaled_gradient_A`).
    """
    return np.asarray((X_scaled.T @ (G @ B)).T)


def touched_columns_gradient_A(
    G: np.ndarray, B: np.ndarray, X_scaled: sp.csr_array
) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero part of ``∂/∂A = (G·B)ᵀ·X̃``: ``(cols, D)`` with ``∂/∂A[:, cols] = Dᵀ``.

    ``cols`` are the sorted distinct features present in the batch (the only columns of A with a
    non-zero gradient) and ``D = X̃[:, cols]ᵀ·(G·B)`` (|cols|×d).  A reference for checks, as
    :func:`gradient_A`: training applies it in place (:func:`add_scaled_gradient_A`).
    """
    X_scaled = sp.csr_array(X_scaled)
    cols, local = np.unique(X_scaled.indices, return_inverse=True)
    compact = sp.csr_array(
        (X_scaled.data, local.reshape(-1), X_scaled.indptr), shape=(X_scaled.shape[0], cols.size)
    )
    return cols, np.asarray(compact.T @ (G @ B))


def sparse_hidden_into(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    W: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """``out += X̃_b·W`` for a batch ``X̃_b`` given by raw CSR arrays and ``W = Aᵀ`` (p×d).

    With ``out`` zeroed this is the batch's hidden matrix ``H_b = X̃_b·Aᵀ``.  ``W`` and ``out``
    must be C-contiguous and share ``data``'s dtype; ``indptr`` must start at 0.
    """
    threads = KERNEL_THREADS.get()
    if threads is not None:
        return threads.hidden_into(indptr, indices, data, W, out)
    return hidden_kernel(indptr, indices, data, W, out)


def hidden_kernel(indptr, indices, data, W, out) -> np.ndarray:
    """:func:`sparse_hidden_into` on the calling thread only."""
    n, d = out.shape
    if _csr_matvecs is not None:
        _csr_matvecs(n, W.shape[0], d, indptr, indices, data, W.reshape(-1), out.reshape(-1))
    else:  # pragma: no cover - fallback without scipy's private kernels
        rows = np.repeat(np.arange(n), np.diff(indptr))
        np.add.at(out, rows, data[:, None] * W[indices])
    return out


def add_scaled_gradient_A(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    GB: np.ndarray,
    W: np.ndarray,
) -> np.ndarray:
    """In-place sparse update ``W += X̃_bᵀ·GB`` with ``W = Aᵀ`` (p×d), i.e. ``A += (GB)ᵀ·X̃_b``.

    Passing ``GB = −η·G·B`` performs the SGD step ``A ← A − η·∂/∂A`` while touching only the
    rows of ``W`` (columns of ``A``) of features present in the batch: O(nnz·d) work, no p×d
    temporary.  ``W`` and ``GB`` must be C-contiguous and share ``data``'s dtype.
    """
    threads = KERNEL_THREADS.get()
    if threads is not None:
        return threads.update_into(indptr, indices, data, GB, W)
    return update_kernel(indptr, indices, data, GB, W)


def update_kernel(indptr, indices, data, GB, W) -> np.ndarray:
    """:func:`add_scaled_gradient_A` on the calling thread only."""
    n, d = GB.shape
    if _csc_matvecs is not None:
        # The CSR arrays of X̃_b (n×p) are the CSC arrays of X̃_bᵀ (p×n).
        _csc_matvecs(W.shape[0], n, d, indptr, indices, data, GB.reshape(-1), W.reshape(-1))
    else:  # pragma: no cover - fallback without scipy's private kernels
        rows = np.repeat(np.arange(n), np.diff(indptr))
        np.add.at(W, indices, data[:, None] * GB[rows])
    return W


def as_csr(X) -> sp.csr_array:
    """``X`` as a ``csr_array``: itself when it is one (constructing another validates its
    arrays again, a cost a one-document prediction paid several times over)."""
    return X if type(X) is sp.csr_array else sp.csr_array(X)


def row_ids(indptr: np.ndarray) -> np.ndarray:
    """The row of every stored entry of a CSR matrix with row pointers ``indptr``."""
    return np.repeat(np.arange(indptr.size - 1), np.diff(indptr))


def empty_rows(X: sp.csr_array) -> np.ndarray:
    """Rows of ``X`` without a non-zero value (documents with no known feature):
    ``Σⱼ |x_ij| = 0`` (:func:`row_sums`: no entry-long temporaries)."""
    X = as_csr(X)
    return row_sums(X.indptr, X.data, dtype=np.float64, of=np.abs) == 0


def top_k(P: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest values of each row of ``P``, largest first.

    Ties are ordered by lower index first, exactly as ``argsort(-P, kind='stable')[:, :k]``,
    but in ``O(n·c)`` time and ``O(n·k)`` extra memory (``argpartition``) rather than a full
    sort; rows with a tie straddling the k-th place fall back to the stable sort.
    """
    n, c = P.shape
    k = min(int(k), c)
    if k == c or c <= 32:
        return np.argsort(-P, axis=1, kind="stable")[:, :k]
    if k == 1:
        return P.argmax(axis=1)[:, None]
    part = np.argpartition(-P, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(P, part, axis=1)
    order = np.lexsort((part, -values), axis=-1)
    part = np.take_along_axis(part, order, axis=1)
    kth = np.take_along_axis(P, part[:, -1:], axis=1)
    tied = np.flatnonzero(np.count_nonzero(P >= kth, axis=1) > k)
    if tied.size:
        part[tied] = np.argsort(-P[tied], axis=1, kind="stable")[:, :k]
    return part


# ---------------------------------------------------------------------- adaptive steps (AdaGrad)
def adagrad_update_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    GB: np.ndarray,
    W: np.ndarray,
    accumulator: np.ndarray,
    lr: float,
    eps: float = 1e-8,
) -> np.ndarray:
    """Row-wise AdaGrad step on the rows of ``W = Aᵀ`` (p×d) a batch touches, in place.

    ``GB = G·B`` (n_b×d, ``B`` before its update) is the gradient of the batch's summed loss
    with respect to its hidden vectors; document ``i`` contributes ``x̃_ij·(G·B)_i`` to the
    gradient of row ``j``.  Every feature keeps one accumulator ``a_j`` (``accumulator``,
    length p, float64, updated in place): the sum over the examples seen so far of their
    squared gradient of row ``j`` (mean over the d components), and moves by the batch's
    summed gradient divided by its root::

        a_j ← a_j + Σ_{i∈b} x̃_ij² · ‖(G·B)_i‖² / d
        W_j ← W_j − η / (√a_j + ε) · Σ_{i∈b} x̃_ij · (G·B)_i

    The accumulator sums *per-example* squares, so it does not depend on the batch size, and
    with one document per batch this is exactly row-wise AdaGrad.  Scaling a feature's
    gradients by a constant leaves its steps unchanged (up to ``ε``): a word moves as far in a
    1,000-token document (``x̃_j ≈ 1/1000`` with ``l1``) as in a 10-token one, and features
    seen in every batch take ever smaller steps.  Cost O(nnz·d) with no p×d or nnz×d
    temporary: the step is :func:`add_scaled_gradient_A` with the batch's entries reweighted
    by ``−η/(√a_j + ε)``.  ``W`` and ``GB`` must be C-contiguous and share ``data``'s dtype.
    """
    n, d = GB.shape
    row_sq = np.einsum("ij,ij->i", GB, GB, dtype=np.float64) / d  # ‖(G·B)_i‖² / d
    sq = np.square(data, dtype=np.float64)
    if _csc_matvecs is not None:  # a += (X̃_b²)ᵀ·row_sq, the CSR arrays read as X̃_bᵀ's CSC
        _csc_matvecs(accumulator.size, n, 1, indptr, indices, sq, row_sq, accumulator)
    else:  # pragma: no cover - fallback without scipy's private kernels
        np.add.at(accumulator, indices, sq * np.repeat(row_sq, np.diff(indptr)))
    step = data * (-lr / (np.sqrt(accumulator[indices]) + eps)).astype(data.dtype)
    return add_scaled_gradient_A(indptr, indices, step, GB, W)


def adagrad_update_B(
    grad: np.ndarray,
    B: np.ndarray,
    accumulator: np.ndarray,
    lr: float,
    rows: np.ndarray | None = None,
    eps: float = 1e-8,
) -> np.ndarray:
    """Row-wise AdaGrad step on the output matrix ``B`` (c×d), in place.

    ``grad`` is the batch's summed gradient ``g = ∂/∂B = Gᵀ·H`` for the rows ``rows`` of
    ``B`` (``None``: every row).  One accumulator per row ``k`` (``accumulator``, length c,
    float64, updated in place)::

        b_k ← b_k + ‖g_k‖² / d
        B_k ← B_k − η / (√b_k + ε) · g_k

    Rows of rare classes keep large steps (their accumulators grow slowly), and the scale
    of the hidden vectors (hence of the documents' lengths and normalisation) cancels out.
    """
    g_sq = np.einsum("ij,ij->i", grad, grad)
    g_sq /= B.shape[1]
    if rows is None:
        accumulator += g_sq
        scale = np.sqrt(accumulator)
        scale += eps
        B -= grad * (lr / scale).astype(B.dtype)[:, None]
    else:
        np.add.at(accumulator, rows, g_sq)
        scale = (-lr / (np.sqrt(accumulator[rows]) + eps)).astype(B.dtype)
        np.add.at(B, rows, scale[:, None] * grad)
    return B


def normalized_update_A(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    GB: np.ndarray,
    W: np.ndarray,
    lr: float,
    floor: float | None = None,
) -> np.ndarray:
    """Per-document normalised step on the rows of ``W = Aᵀ`` a batch touches, in place.

    With ``GB = G·B`` (n_b×d, ``B`` before its update; row ``i`` is ``∂ℓᵢ/∂hᵢ``) plain SGD
    (:func:`add_scaled_gradient_A` with ``−η·G·B``) moves a document's own hidden vector
    ``h_i = Σ_j x̃_ij W_j`` by ``−η·‖x̃_i‖²·(G·B)_i`` — and ``‖x̃_i‖² ≈ 1/length`` with ``l1``
    rows, so long documents barely move.  Here document ``i``'s share of the step is scaled
    by ``s_i``::

        W_j ← W_j − η · Σ_{i∈b} s_i · x̃_ij · (G·B)_i

        s_i = 1 / ‖x̃_i‖²                    (floor=None: normalised LMS)
        s_i = max(1, floor / ‖x̃_i‖²)        (floor=φ: plain SGD, but h_i moves ≥ η·φ·‖∂ℓ/∂h‖)

    With ``floor=None`` a document alone in its batch moves its hidden vector by exactly
    ``−η·(G·B)_i``, whatever its length, term weights and normalisation; with a floor φ,
    documents with ``‖x̃_i‖² ≥ φ`` (short ones) take plain SGD steps and longer ones are
    raised to that hidden-space step.  Empty documents do not move ``W``.  Cost O(nnz·d)
    plus O(nnz); stateless.
    """
    norms = row_sums(indptr, data, of=np.square)  # ‖x̃_i‖² per document
    if floor is not None and norms.min(initial=np.inf) >= floor:  # all short: plain SGD
        return add_scaled_gradient_A(indptr, indices, data, GB * np.asarray(-lr, GB.dtype), W)
    top = 1.0 if floor is None else float(floor)
    scale = np.divide(top, norms, out=np.zeros(norms.size), where=norms > 0)
    if floor is not None:
        np.maximum(scale, 1.0, out=scale, where=norms > 0)
    factor = (-lr * scale).astype(GB.dtype)
    return add_scaled_gradient_A(indptr, indices, data, GB * factor[:, None], W)


def margin_scores(S: np.ndarray, Y: np.ndarray, margin: float) -> np.ndarray:
    """Scores with an additive margin on the true classes: ``S̃ = S − m·Y`` (a new array).

    Training a softmax on ``S̃`` (``G = softmax(S̃) − Y`` for one-hot ``Y``) asks the true
    class to lead every other class by ``m`` before its gradient fades: with ``P̃_y`` the
    shifted probability, ``1 − P̃_y ≈ eᵐ·(1 − P_y)`` for a confident example, so correctly
    classified examples keep pulling their features (a smooth multi-class hinge).
    """
    return S - np.asarray(margin, dtype=S.dtype) * Y


def ramped_margin(margin: float, lr: float, lr0: float) -> float:
    """The margin of a step at rate ``η`` of a run that started at ``η₀``:
    ``m(η) = m·clip(1 − η/η₀, 0, 1)``.

    Under the linear decay ``η = η₀·(1 − t/T)`` this is ``m·t/T``: 0 at the first step (plain
    cross-entropy while the signal is learnt) growing to ``m`` as the rate anneals.  With a
    constant rate (``η = η₀``) it stays 0.
    """
    if margin <= 0.0 or lr0 <= 0.0:
        return 0.0
    return float(margin) * min(1.0, max(0.0, 1.0 - float(lr) / float(lr0)))


def gce_sample_weights(P: np.ndarray, Y: np.ndarray, w: np.ndarray | None, q: float) -> np.ndarray:
    """Example weights that turn the softmax cross-entropy gradient into that of the
    generalized cross-entropy ``ℓ_q = (1 − p_y^q)/q`` (Zhang & Sabuncu 2018), at the step
    size each class has in the batch::

        ∂ℓ_q/∂S_i = p_i^q · (P_i − Y_i)                  (p_i = P_i·Y_i: one-hot Y)
        w'_i = w_i · p_i^q · r_k,   r_k = Σ_{j∈k} w_j / Σ_{j∈k} w_j · p_j^q   (i in class k)

    ``q → 0`` is the cross-entropy; ``q = 1`` is ``1 − p_y``, the absolute error of the
    probabilities, which is robust to label noise (Ghosh et al. 2017) but on its own trains
    slowly: an example the model gives a low probability to its label pulls with weight
    ``p_y`` instead of 1.  The per-class factor ``r_k`` (positive) keeps each class's total
    weight in the batch, so the learning rate means what it means for the cross-entropy and
    a rare class — whose examples the model starts out doubting — pulls as hard as before:
    within each class the step moves toward the examples the model already agrees with, away
    from those it would have to memorise (under label noise, mostly the mislabelled ones).
    ``P``, ``Y``: (n, c); ``w``: (n,) or ``None`` (ones).  Computed in the dtype of ``P``
    (a batch's float32): a few small array operations per step.
    """
    p = np.einsum("ij,ij->i", P, Y)  # the probability of each example's label
    f = p if q == 1.0 else p ** np.asarray(q, dtype=p.dtype)
    if w is None:
        mass = Y.sum(axis=0)
    else:
        w = np.asarray(w, dtype=p.dtype)
        f, mass = f * w, w @ Y
    kept = f @ Y  # per class: Σw·p^q (mass: Σw)
    r = mass / np.where(kept > 0, kept, 1)  # a class absent from the batch: r unused
    return f * (Y @ r)
