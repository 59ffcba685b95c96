"""Canonical CSR blocks from COO entries, and their row-wise concatenation."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


def _counts_csr(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    dtype: Any,
    data: np.ndarray | None = None,
    compact: bool = True,
) -> sp.csr_array:
    """Canonical CSR (sorted columns, duplicates summed) from COO entries.

    ``compact=False`` may return views of longer arrays (for a block that is
    copied at once, e.g. by :class:`_CsrBuilder`, so no copy is needed here).
    """
    if _sortable(shape, dtype):
        out = _counts_csr_sorted(rows, cols, shape, np.dtype(dtype), data)
        if out is not None:
            return out
    if data is None:
        data = np.ones(len(rows), dtype)
    if max(shape[1], len(rows)) <= np.iinfo(np.int32).max:  # 8 instead of 12 bytes per entry
        rows = rows.astype(np.int32, copy=False)
        cols = cols.astype(np.int32, copy=False)
    out = sp.csr_array((data, (rows, cols)), shape=shape, dtype=dtype)
    if compact and out.data.base is not None:  # summing duplicates left views of longer arrays
        out.data = out.data.copy()
        out.indices = out.indices.copy()
    out.has_canonical_format = True  # coo -> csr sorts and sums duplicates
    return out


_INT32_MAX = np.iinfo(np.int32).max


def _sortable(shape: tuple[int, int], dtype: Any) -> bool:
    """Whether :func:`_counts_csr_sorted` may build the matrix: the (row, column) keys fit an
    int64 and the dtype has ≥ 32 bits (its counts are exact)."""
    return shape[0] * max(shape[1], 1) < 1 << 62 and np.dtype(dtype).itemsize >= 4


def _counts_csr_sorted(rows, cols, shape, dtype: np.dtype, data) -> sp.csr_array | None:
    """:func:`_counts_csr` by one numpy sort of the keys ``row·width + column`` (numpy's
    vectorised sort; scipy sorts each row separately, slower: bench/RESULTS-threads.md), or ``None``
    when it could differ from scipy's result: duplicate entries with given values that are
    not integers (scipy sums them in an order of its own)."""
    n, width = shape
    width = max(width, 1)
    key = rows.astype(np.int64) * width + cols
    if data is None:  # counts of ones: exact in any order
        key, counts = np.unique(key, return_counts=True)
        values = counts.astype(dtype)
    else:
        order = np.argsort(key, kind="stable")
        key = key[order]
        new = np.ones(key.size, dtype=bool)
        np.not_equal(key[1:], key[:-1], out=new[1:])
        values = data[order].astype(dtype, copy=False)
        if not new.all():
            if not (dtype.kind in "iu" and data.dtype.kind in "iub"):
                return None
            first = np.flatnonzero(new)
            values, key = np.add.reduceat(values, first).astype(dtype, copy=False), key[first]
    row = key // width
    index = np.int32 if max(width, key.size) <= _INT32_MAX else np.int64
    indptr = np.searchsorted(row, np.arange(n + 1)).astype(index)
    out = sp.csr_array((values, (key - row * width).astype(index), indptr), shape=shape)
    out.has_canonical_format = True
    return out


class _CsrBuilder:
    """Row-wise concatenation of canonical CSR blocks into one ``csr_array``.

    ``data`` and ``indices`` grow in place with ``ndarray.resize``
    (``realloc``, i.e. ``mremap`` for large arrays, so no copy of the data
    filled so far), and each block can be freed as soon as it is appended.
    When the number of rows to come is known, the first growth reserves the
    whole output at the density seen so far (plus 5 %), so that the arrays are
    allocated about once; otherwise they grow by 25 % steps.  The peak is about
    1.25 x the output plus one block, instead of 2 x for
    collect-then-concatenate.  Indices are int32 when the width allows (int64
    otherwise, or if the total nnz needs it).
    """

    def __init__(self, n_cols: int, dtype: Any, n_rows: int | None = None) -> None:
        self.n_cols = n_cols
        self.n_rows = n_rows  # rows expected in all (None: unknown)
        idx = np.int32 if n_cols <= np.iinfo(np.int32).max else np.int64
        self.data = np.empty(0, dtype)
        self.indices = np.empty(0, idx)
        self.nnz = 0
        self.rows = 0
        self.indptr: list[np.ndarray] = [np.zeros(1, np.int64)]

    def append(self, block: sp.csr_array) -> None:
        k, m = self.nnz, block.nnz
        self.rows += block.shape[0]
        if k + m > len(self.data):
            size = max(k + m, len(self.data) * 5 // 4 + 4096)
            if self.n_rows is not None and self.rows < self.n_rows:
                size = max(size, (k + m) * self.n_rows * 21 // (20 * self.rows) + 4096)
            self.data.resize(size, refcheck=False)
            self.indices.resize(size, refcheck=False)
        self.data[k : k + m] = block.data
        self.indices[k : k + m] = block.indices
        self.indptr.append(block.indptr[1:].astype(np.int64) + k)
        self.nnz = k + m

    def finish(self) -> sp.csr_array:
        self.data.resize(self.nnz, refcheck=False)
        self.indices.resize(self.nnz, refcheck=False)
        indptr = np.concatenate(self.indptr)
        idx = self.indices.dtype if self.nnz <= np.iinfo(self.indices.dtype).max else np.int64
        out = sp.csr_array(
            (self.data, self.indices.astype(idx, copy=False), indptr.astype(idx)),
            shape=(len(indptr) - 1, self.n_cols),
            copy=False,
        )
        out.has_canonical_format = True
        return out
