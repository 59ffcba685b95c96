"""Learning-rate schedules and optimisers for SGD training.

An optimiser turns a batch's gradients (:class:`bowclf.losses.BatchGradients`) into parameter
updates; the training loop (:mod:`bowclf.training`) calls :meth:`SGD.step` once per batch.  An
optimiser implements ``start`` (allocate its state for the parameters ``W = Aᵀ`` and ``B``),
``step``, ``state`` / ``resume`` (the arrays a continued run needs, kept by the estimator as
``optimizer_state_`` and in model files) and ``restart`` (clear its state for parameters drawn
anew: the early-overfitting probe's restart, :mod:`bowclf.overfit_probe`).

- :class:`SGD` — fastText's plain SGD (``optimizer='sgd'``);
- :class:`Adaptive` — SGD on ``A`` raised for long documents, row-wise AdaGrad on ``B``
  (``optimizer='adaptive'``, the default);
- :class:`AdaGrad` — row-wise AdaGrad on both (``optimizer='adagrad'``).
"""

from __future__ import annotations

import numpy as np

from . import _math, defaults

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adaptive",
    "LinearDecay",
    "checked_state",
    "get_optimizer",
    "resolve_optimizer",
]


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

    def restart(self, W: np.ndarray, B: np.ndarray) -> None:
        """Start over on re-initialised ``W`` and ``B`` (nothing to clear)."""

    def state(self) -> dict[str, np.ndarray]:
        """Nothing to keep between runs."""
        return {}

    def resume(self, state: dict[str, np.ndarray]) -> None:
        """Continue an earlier run (nothing to restore)."""

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


#: AdaGrad steps are in parameter units (a row moves by about its rate on its first step),
#: SGD steps multiply a gradient: the AdaGrad rate is ``lr·ADAGRAD_RATE``, so the default
#: ``lr=0.25`` gives 0.05, the best rate for ``B`` on the dev suite (bench/devsuite.py).
ADAGRAD_RATE = 0.2
#: ``optimizer='adaptive'``: documents with ``‖x̃_i‖² < LONG_DOCUMENT_FLOOR`` (more than ~32
#: equally weighted features) get their step on ``A`` raised to that hidden-space step.
LONG_DOCUMENT_FLOOR = 1.0 / 32


class AdaGrad:
    """Row-wise AdaGrad for both matrices::

        a_j ← a_j + Σ_{i∈b} x̃_ij²·‖(G·B)_i‖²/d    W_j ← W_j − ρ/(√a_j + ε)·Σ_{i∈b} x̃_ij·(G·B)_i
        b_k ← b_k + ‖g_k‖²/d                         B_k ← B_k − ρ/(√b_k + ε)·g_k,   g = ∂/∂B

    with ``ρ = lr·ADAGRAD_RATE`` (:func:`bowclf._math.adagrad_update_rows`,
    :func:`bowclf._math.adagrad_update_B`).  One float64 accumulator per feature
    (``A_accumulator``, length p) and per row of ``B`` (``B_accumulator``).  Each row's step
    is invariant to the scale of its gradients, so document length, term weights and
    normalisation do not set the step size.  Pass the accumulators of an earlier run to
    continue it (``partial_fit``, ``warm_start``); :meth:`start` allocates zeros where they
    are missing or do not fit.
    """

    name = "adagrad"

    def __init__(self, A_accumulator=None, B_accumulator=None) -> None:
        self.A_accumulator = A_accumulator
        self.B_accumulator = B_accumulator

    def start(self, W: np.ndarray, B: np.ndarray) -> None:
        """Allocate (or keep) the accumulators for ``W = Aᵀ`` (p×d) and ``B``."""
        self.A_accumulator = _accumulator(self.A_accumulator, W.shape[0])
        self.B_accumulator = _accumulator(self.B_accumulator, B.shape[0])

    def restart(self, W: np.ndarray, B: np.ndarray) -> None:
        """Start over on re-initialised ``W`` and ``B``: every accumulator back to 0."""
        self.start(W, B)
        for accumulator in (self.A_accumulator, self.B_accumulator):
            if accumulator is not None:
                accumulator[...] = 0

    def step(self, W: np.ndarray, B: np.ndarray, batch, grads, lr: float) -> None:
        """Apply one batch's gradients with base rate ``lr``."""
        rate = lr * ADAGRAD_RATE
        _math.adagrad_update_B(grads.B, B, self.B_accumulator, rate, rows=grads.B_rows)
        _math.adagrad_update_rows(
            batch.indptr, batch.indices, batch.data, grads.hidden, W, self.A_accumulator, rate
        )

    def resume(self, state: dict[str, np.ndarray]) -> None:
        """Continue from the accumulators of an earlier run (see :meth:`state`)."""
        self.A_accumulator = state.get("A_accumulator")
        self.B_accumulator = state.get("B_accumulator")

    def state(self) -> dict[str, np.ndarray]:
        """The arrays a continued run needs (``None`` entries are not kept)."""
        state = {"A_accumulator": self.A_accumulator, "B_accumulator": self.B_accumulator}
        return {k: v for k, v in state.items() if v is not None}


class Adaptive(AdaGrad):
    """bowclf's default: plain SGD on ``A`` raised for long documents, AdaGrad on ``B``::

        W_j ← W_j − η·Σ_{i∈b} s_i·x̃_ij·(G·B)_i,   s_i = max(1, φ/‖x̃_i‖²)
        b_k ← b_k + ‖g_k‖²/d,   B_k ← B_k − ρ/(√b_k + ε)·g_k,   ρ = η·ADAGRAD_RATE

    (:func:`bowclf._math.normalized_update_A` with ``floor = φ = LONG_DOCUMENT_FLOOR``,
    :func:`bowclf._math.adagrad_update_B`).  Plain SGD moves a document's hidden vector by
    ``η·‖x̃_i‖²·∂ℓ/∂h`` — ``‖x̃_i‖² ≈ 1/length`` with ``l1`` rows — so documents of hundreds
    of words barely train ``A``; here no document moves it by less than ``η·φ·∂ℓ/∂h``, while
    short documents (``‖x̃_i‖² ≥ φ``) take exactly fastText's step.  ``B``'s rows adapt to
    the scale of the hidden vectors and to how often their class is seen, which is what
    trains many-class and imbalanced corpora.  Keeps one accumulator per row of ``B``.

    With a ``margin`` m (``lr``: the run's initial rate η₀) each step's softmax gradient is
    taken at the scores ``S − m(η)·Y``, ``m(η) = m·(1 − η/η₀)`` (:meth:`margin_at`; the
    estimators pass ``auto_rules.resolve_margin``: single-label tasks of ≥ 3 classes).  With a
    ``gce`` exponent q each step's softmax gradient is the generalized cross-entropy's, each
    class keeping its step size in the batch (:func:`bowclf._math.gce_sample_weights`; the
    estimators pass ``auto_rules.resolve_gce``: single-label two-class tasks on ``l1`` rows).
    """

    name = "adaptive"

    def __init__(
        self, A_accumulator=None, B_accumulator=None, *, margin=0.0, lr=0.0, gce=0.0
    ) -> None:
        super().__init__(A_accumulator, B_accumulator)
        self.margin, self.lr, self.gce = float(margin), float(lr), float(gce)

    def margin_at(self, lr: float) -> float:
        """The softmax margin of a step at rate ``lr`` (:func:`bowclf._math.ramped_margin`
        from ``margin`` and the run's initial rate ``self.lr``; 0 when ``margin`` is 0)."""
        return _math.ramped_margin(self.margin, lr, self.lr)

    def start(self, W: np.ndarray, B: np.ndarray) -> None:
        self.A_accumulator = None
        self.B_accumulator = _accumulator(self.B_accumulator, B.shape[0])

    def step(self, W: np.ndarray, B: np.ndarray, batch, grads, lr: float) -> None:
        _math.adagrad_update_B(grads.B, B, self.B_accumulator, lr * ADAGRAD_RATE, rows=grads.B_rows)
        _math.normalized_update_A(
            batch.indptr, batch.indices, batch.data, grads.hidden, W, lr, LONG_DOCUMENT_FLOOR
        )


def _accumulator(current, size: int) -> np.ndarray:
    if current is not None and np.shape(current) == (size,):
        return np.asarray(current, dtype=np.float64)
    return np.zeros(size, dtype=np.float64)


#: Optimiser name → class (a new optimiser: a class here and its name in the estimators).
OPTIMIZERS: dict[str, type] = {"adaptive": Adaptive, "adagrad": AdaGrad, "sgd": SGD}


def resolve_optimizer(optimizer: str, loss: str = defaults.LOSS) -> str:
    """The optimiser ``optimizer`` stands for with ``loss``: ``'auto'`` is ``'sgd'`` for the
    one-vs-all loss (the adaptive steps trained it worse, bench/RESULTS-devsuite.md) and
    ``'adaptive'`` otherwise; any other name is itself."""
    if optimizer != "auto":
        return optimizer
    return "sgd" if loss == "ova" else "adaptive"


def get_optimizer(name: str = "sgd", *, margin: float = 0.0, lr: float = 0.0, gce: float = 0.0):
    """A fresh optimiser object for ``name``; ``'adaptive'`` takes the softmax ``margin`` its
    steps ramp up to over a run started at rate ``lr`` (:meth:`Adaptive.margin_at`) and the
    generalized cross-entropy exponent ``gce`` of its steps."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")
    if name == "adaptive":
        return Adaptive(margin=margin, lr=lr, gce=gce)
    return OPTIMIZERS[name]()


def checked_state(state: dict, W: np.ndarray, B: np.ndarray) -> dict[str, np.ndarray]:
    """Saved accumulators (``optimizer_state_`` of a model file) checked against the
    parameters: one finite, non-negative float per feature (row of ``W = Aᵀ``) / row of ``B``."""
    sizes = {"A_accumulator": W.shape[0], "B_accumulator": B.shape[0]}
    out = {}
    for key, value in state.items():
        value = np.asarray(value, dtype=np.float64)
        if key not in sizes or value.shape != (sizes[key],):
            raise ValueError(f"optimizer state {key!r} of shape {value.shape} does not fit")
        if not (np.isfinite(value).all() and (value >= 0).all()):
            raise ValueError(f"optimizer state {key!r} must be finite and non-negative")
        out[key] = value
    return out
