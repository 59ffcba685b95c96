"""Learning-rate schedules for SGD training.

Parameter updates themselves are the sparse in-place kernels of :mod:`bowclf._math`
(:func:`~bowclf._math.add_scaled_gradient_A`); this module only decides the step size.
"""

from __future__ import annotations

__all__ = ["LinearDecay"]


class LinearDecay:
    """fastText's schedule: ``η(t) = η₀ · (1 − t/T)`` after ``t`` of ``T`` training examples.

    With ``total=None`` the rate stays constant at ``η₀`` (incremental training, where the
    run's length ``T`` is unknown).  The rate never goes below 0.
    """

    def __init__(self, lr: float, total: int | None) -> None:
        self.lr = float(lr)
        self.total = total

    def __call__(self, t: int) -> float:
        if not self.total:
            return self.lr
        return self.lr * max(0.0, 1.0 - t / self.total)
