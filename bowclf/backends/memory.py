"""In-memory training data: a count matrix, its targets and weights, shuffled every epoch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _math
from ..losses import Loss
from ..training import DTYPE, CorpusStats, Epoch, canonical_int_dtype, prepare_counts

__all__ = ["InMemoryData", "describe_targets", "take_rows"]

try:  # scipy's compiled row gather (what ``X[order]`` calls), writing into arrays we reuse
    from scipy.sparse._sparsetools import csr_row_index as _csr_row_index
except (ImportError, AttributeError):  # pragma: no cover - depends on scipy internals
    _csr_row_index = None


def take_rows(
    X: sp.csr_array, order: np.ndarray, out: tuple[np.ndarray, ...] | None = None
) -> sp.csr_array:
    """``X[order]`` for a permutation ``order`` of the rows of ``X`` (CSR whose ``indptr`` and
    ``indices`` share one dtype, :func:`~bowclf.training.canonical_int_dtype`), written
    into ``out = (indptr, indices, data)`` when given (arrays of ``X``'s sizes and dtypes,
    e.g. those of the previous result): the same values as scipy's ``X[order]``, without
    allocating (and page-faulting in) a matrix of ``X``'s size every epoch."""
    if _csr_row_index is None or out is None:
        return canonical_int_dtype(X[order])
    indptr, indices, data = out
    idx = order.astype(X.indptr.dtype, copy=False)
    indptr[0] = 0
    np.cumsum((X.indptr[1:] - X.indptr[:-1])[idx], out=indptr[1:])
    _csr_row_index(idx.size, idx, X.indptr, X.indices, X.data, indices, data)
    return sp.csr_array((data, indices, indptr), shape=X.shape, copy=False)


def describe_targets(Y: sp.csr_array, multilabel: bool) -> CorpusStats:
    """The corpus description of a CSR target matrix (n×c): documents, labels per document,
    whether every document has one, and documents per class."""
    positive = Y.data > 0
    per_row = np.bincount(_math.row_ids(Y.indptr)[positive], minlength=Y.shape[0])
    counts = np.bincount(Y.indices[positive], minlength=Y.shape[1])
    return CorpusStats(
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

    Every epoch is one block in a fresh random row order, its rows gathered into the
    arrays of the previous epoch's block (:func:`take_rows`).
    """

    def __init__(
        self, X: sp.csr_array, Y: sp.csr_array, w, *, normalize, loss: Loss, multilabel: bool
    ) -> None:
        self.X = prepare_counts(X, normalize)
        self.Y = loss.prepare_targets(Y, multilabel)
        self.w = np.asarray(w, dtype=DTYPE)
        self.n = self.X.shape[0]
        self._rows: tuple[np.ndarray, ...] | None = None  # the last block's arrays, reused

    def blocks(self, rng: np.random.Generator):
        order = rng.permutation(self.n)
        X = take_rows(self.X, order, self._rows)
        self._rows = (X.indptr, X.indices, X.data)
        yield X, self.Y[order], self.w[order]

    def epoch(self, ctx: Epoch) -> None:
        for X, Y, w in self.blocks(ctx.rng):
            ctx.train_block(X, Y, w)
