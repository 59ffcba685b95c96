"""In-memory training data: a count matrix, its targets and weights, shuffled every epoch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _math
from ..losses import Loss
from ..training import DTYPE, CorpusStats, Epoch, canonical_int_dtype, prepare_counts

__all__ = ["InMemoryData", "describe_targets"]


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

    Every epoch is one block in a fresh random row order.
    """

    def __init__(
        self, X: sp.csr_array, Y: sp.csr_array, w, *, normalize, loss: Loss, multilabel: bool
    ) -> None:
        self.X = prepare_counts(X, normalize)
        self.Y = loss.prepare_targets(Y, multilabel)
        self.w = np.asarray(w, dtype=DTYPE)
        self.n = self.X.shape[0]

    def blocks(self, rng: np.random.Generator):
        order = rng.permutation(self.n)
        yield canonical_int_dtype(self.X[order]), self.Y[order], self.w[order]

    def epoch(self, ctx: Epoch) -> None:
        for X, Y, w in self.blocks(ctx.rng):
            ctx.train_block(X, Y, w)
