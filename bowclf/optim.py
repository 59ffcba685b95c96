"""Learning-rate schedules and optimisers for SGD training.

An optimiser turns a batch's gradients (:class:`bowclf.losses.BatchGradients`) into parameter
updates; the training loop (:mod:`bowclf.training`) calls :meth:`SGD.step` once per batch.  A new
optimiser (e.g. AdaGrad with per-row accumulators) implements the same two methods: ``start``
(allocate its state for the parameters ``W = Aᵀ`` and ``B``) and ``step``.
"""

from __future__ import annotations

import numpy as np

from . import _math

__all__ = ["OPTIMIZERS", "SGD", "LinearDecay", "get_optimizer"]


class LinearDecay:
    """fastText's schedule: ``η(t) = η₀ · (1 − t/T)`` after ``t`` of ``T`` training examples.

    ``start`` shifts the clock (``partial_fit`` continues a run from its ``t_`` examples).
    With ``total=None`` the rate stays constant at ``η₀`` (incremental training, where the
    run's length ``T`` is unknown).  The rate never goes below 0.
    """

    def __init__(self, lr: float, total: int | None, start: int = 0) -> None:
        self.lr = float(lr)
        self.total = total
        self.start = start

    def __call__(self, t: int) -> float:
        if not self.total:
            return self.lr
        return self.lr * max(0.0, 1.0 - (self.start + t) / self.total)


class SGD:
    """Plain stochastic gradient descent on the summed batch gradients::

        B ← B − η·∂/∂B          A ← A − η·(∂/∂H)ᵀ·X̃_b   (only the columns of A used by the batch)

    ``W = Aᵀ`` (p×d) is updated in place by the sparse kernel
    :func:`bowclf._math.add_scaled_gradient_A`.  Stateless.
    """

    def start(self, W: np.ndarray, B: np.ndarray) -> None:
        """Prepare for training ``W`` and ``B`` (plain SGD keeps no state)."""

    def step(self, W: np.ndarray, B: np.ndarray, batch, grads, lr: float) -> None:
        """Apply one batch's gradients ``grads`` with learning rate ``lr``.

        ``batch`` has the batch's raw CSR arrays (``indptr``, ``indices``, ``data``).
        ``grads.hidden`` is consumed (scaled in place).
        """
        GB = grads.hidden
        GB *= -lr
        if grads.B_rows is None:
            B -= lr * grads.B
        else:
            np.subtract.at(B, grads.B_rows, lr * grads.B)
        _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)


#: Optimiser name → class (a new optimiser: a class here and its name in the estimators).
OPTIMIZERS: dict[str, type] = {"sgd": SGD}


def get_optimizer(name: str = "sgd"):
    """A fresh optimiser object for ``name``."""
    try:
        return OPTIMIZERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}"
        ) from None
