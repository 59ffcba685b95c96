"""In-memory training data: a count matrix, its targets and weights, shuffled every epoch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _math
from ..losses import Loss
from ..training import DTYPE, CorpusStats, Epoch, canonical_int_dtype, prepare_counts

__all__ = ["BLOCK_ROWS", "InMemoryData", "describe_targets", "take_rows"]

#: Rows per block of an in-memory epoch (rounded up to a whole number of batches).
BLOCK_ROWS = 1 << 15

try:  # scipy's compiled row gather (what ``X[order]`` calls), writing into arrays we reuse
    from scipy.sparse._sparsetools import csr_row_index as _csr_row_index
except (ImportError, AttributeError):  # pragma: no cover - depends on scipy internals
    _csr_row_index = None


def take_rows(
    X: sp.csr_array, order: np.ndarray, out: tuple[np.ndarray, ...] | None = None
) -> sp.csr_array:
    """``X[order]`` for rows ``order`` of ``X`` (distinct row indices, e.g. a permutation or
    a run of one; CSR whose ``indptr`` and ``indices`` share one dtype,
    :func:`~bowclf.training.canonical_int_dtype`), written into the leading parts of ``out =
    (indptr, indices, data)`` when given (arrays at least as long as the result's, of
    ``X``'s dtypes, e.g. those of an earlier result): the same values as scipy's
    ``X[order]``, without allocating (and page-faulting in) new arrays every epoch."""
    if _csr_row_index is None or out is None:
        return canonical_int_dtype(X[order])
    idx = order.astype(X.indptr.dtype, copy=False)
    indptr = out[0][: idx.size + 1]
    indptr[0] = 0
    np.cumsum((X.indptr[1:] - X.indptr[:-1])[idx], out=indptr[1:])
    nnz = int(indptr[-1])
    indices, data = out[1][:nnz], out[2][:nnz]
    _csr_row_index(idx.size, idx, X.indptr, X.indices, X.data, indices, data)
    return sp.csr_array((data, indices, indptr), shape=(idx.size, X.shape[1]), copy=False)


def describe_targets(
    Y: sp.csr_array, multilabel: bool, sample_weight: np.ndarray | None = None
) -> CorpusStats:
    """The corpus description of a CSR target matrix (n×c): documents, labels per document,
    whether every document has one, and documents per class; with ``sample_weight`` (one
    per row) also each class's share of the weight (``class_prior``, as scikit-learn's
    ``DummyClassifier`` weighs its most frequent class)."""
    positive = Y.data > 0
    rows = _math.row_ids(Y.indptr)[positive]
    per_row = np.bincount(rows, minlength=Y.shape[0])
    counts = np.bincount(Y.indices[positive], minlength=Y.shape[1])
    prior = None
    if sample_weight is not None and np.max(sample_weight, initial=0) > 0:
        w = np.asarray(sample_weight, np.float64) / np.max(sample_weight)  # no inf sum
        prior = np.bincount(Y.indices[positive], w[rows], Y.shape[1]) / float(w.sum())
    return CorpusStats(
        class_prior=prior,
        documents=Y.shape[0],
        classes=np.arange(Y.shape[1]),
        multilabel=multilabel,
        mean_labels=float(per_row.mean()) if per_row.size else 1.0,
        every_row_labelled=bool(per_row.size == 0 or per_row.min() > 0),
        class_counts=counts,
    )


class InMemoryData:
    """Training data held in memory, prepared once: rows scaled (``X̃ = diag(s)·X``, float32,
    one shared index dtype) and targets as the loss trains on them.

    Every epoch draws a fresh random row order and trains on it in blocks of about
    :data:`BLOCK_ROWS` rows (a whole number of batches, so the batches and the model are
    those of one block), each gathered (:func:`take_rows`) into arrays reused from block to
    block and epoch to epoch: a gathered copy of a block, not of the whole matrix, is what
    training adds to the memory the matrix itself takes.
    """

    def __init__(
        self, X: sp.csr_array, Y: sp.csr_array, w, *, normalize, loss: Loss, multilabel: bool,
        in_place: bool = False,
    ) -> None:  # fmt: skip
        # in_place: X is ours to overwrite, so X̃'s values take the place of X's (float32 X)
        out = X.data if in_place and X.data.dtype == DTYPE and X.data.flags.writeable else None
        self.X = prepare_counts(X, normalize, out=out)
        self.Y = loss.prepare_targets(Y, multilabel)
        self.w = np.asarray(w, dtype=DTYPE)
        self.n = self.X.shape[0]
        self._rows: tuple[np.ndarray, ...] | None = None  # the gathering arrays, reused

    def blocks(self, rng: np.random.Generator, batch_size: int | None = None):
        """The epoch's blocks ``(X̃, Y, w)`` in a random row order drawn from ``rng``: one
        block of every row without ``batch_size``, else blocks of a whole number of
        batches."""
        order = rng.permutation(self.n)
        step = self.n if batch_size is None else -(-BLOCK_ROWS // batch_size) * batch_size
        step = max(1, min(step, self.n))
        starts = np.arange(0, self.n, step)
        lengths = np.diff(self.X.indptr)[order]
        nnz = int(np.add.reduceat(lengths, starts).max()) if self.n else 0
        rows = self._rows
        if rows is None or rows[0].size < step + 1 or rows[1].size < nnz:
            self._rows = rows = None  # the old arrays go before the larger ones come
            self._rows = rows = (
                np.empty(step + 1, self.X.indptr.dtype),
                np.empty(nnz, self.X.indices.dtype),
                np.empty(nnz, self.X.data.dtype),
            )
        for a in starts:
            run = order[a : a + step]
            yield take_rows(self.X, run, rows), self.Y[run], self.w[run]

    def epoch(self, ctx: Epoch) -> None:
        for X, Y, w in self.blocks(ctx.rng, ctx.loop.batch_size):
            ctx.train_block(X, Y, w)
