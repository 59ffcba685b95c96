"""In-memory training data: a count matrix, its targets and weights, shuffled every epoch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..losses import Loss
from ..training import DTYPE, Epoch, canonical_int_dtype, prepare_counts

__all__ = ["InMemoryData"]


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
