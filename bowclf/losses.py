"""Losses as small objects: how scores become probabilities, gradients and decisions.

A loss owns everything about the model's output layer: the shape of ``B``, the map from the
hidden vectors ``H`` (n×d) to probabilities, the gradients of a training batch, the
multi-label decision rule and the top-k path.  The estimators and the training loop only
talk to this interface, so a new loss (hierarchical softmax: ``B`` of shape (c−1)×d, a tree
as extra persisted state, no n×c score matrix) is one class here plus its name in
:data:`LOSSES` and in the estimators' ``loss`` parameter constraint.

Notation as in :mod:`bowclf._math`: ``S = H·Bᵀ`` scores, ``Y`` targets, ``w`` sample weights,
``G = ∂(Σᵢ wᵢ ℓᵢ)/∂S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _math

__all__ = [
    "LOSSES",
    "BatchGradients",
    "Loss",
    "OneVsAll",
    "Softmax",
    "get_loss",
    "topk_from_proba",
]

_DTYPE = np.float32


@dataclass(slots=True)
class BatchGradients:
    """Summed gradients of one training batch, computed before any parameter moves.

    ``loss``: ``Σᵢ wᵢ ℓᵢ`` over the batch; ``hidden``: ``∂/∂H = G·B`` (n×d), which the optimiser
    turns into the update of the columns of ``A`` the batch uses; ``B``: ``∂/∂B`` for the rows
    ``B_rows`` of ``B`` (``None``: every row, ``∂/∂B = Gᵀ·H``).
    """

    loss: float
    hidden: np.ndarray
    B: np.ndarray
    B_rows: np.ndarray | None = None


class Loss:
    """Interface of a loss over class scores ``S = H·Bᵀ`` (subclasses give the formulas).

    The defaults here serve every loss with one row of ``B`` per class; a loss with another
    output layer overrides :meth:`output_shape`, :meth:`proba_from_hidden`,
    :meth:`log_proba_from_hidden`, :meth:`batch_gradients` and (for persisted extra state)
    :meth:`state` / :meth:`from_state`.
    """

    name: str = ""

    # ---------------------------------------------------------------- shape and state
    def output_shape(self, n_classes: int, dim: int) -> tuple[int, int]:
        """Shape of ``B``: one row of d weights per class."""
        return (n_classes, dim)

    def n_targets(self, B: np.ndarray) -> int:
        """Number of target columns (classes) of a model whose output matrix is ``B``."""
        return B.shape[0]

    def for_corpus(self, stats) -> Loss:
        """The loss prepared for a training corpus (:class:`bowclf.training.CorpusStats`:
        class counts, labels per document); stateless losses return themselves."""
        return self

    def state(self) -> dict[str, np.ndarray]:
        """Extra arrays a model file must store for this loss (none by default)."""
        return {}

    # ---------------------------------------------------------------- probabilities
    def proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """Probabilities (n×c, float64) from scores ``S``."""
        raise NotImplementedError

    def log_proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """``log`` of :meth:`proba`, computed stably (n×c, float64)."""
        raise NotImplementedError

    def proba_from_hidden(self, H: np.ndarray, B: np.ndarray, multilabel: bool) -> np.ndarray:
        """Probabilities of hidden vectors ``H``: ``proba(H·Bᵀ)``."""
        return self.proba(_math.scores(H, B).astype(np.float64), multilabel)

    def log_proba_from_hidden(self, H: np.ndarray, B: np.ndarray, multilabel: bool) -> np.ndarray:
        """Log-probabilities of hidden vectors ``H``: ``log_proba(H·Bᵀ)``."""
        return self.log_proba(_math.scores(H, B).astype(np.float64), multilabel)

    # ---------------------------------------------------------------- training
    def loss(self, S: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """Weighted mean loss ``Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ``."""
        raise NotImplementedError

    def score_gradient(
        self, S: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """``G = ∂(Σᵢ wᵢ ℓᵢ)/∂S`` (n×c)."""
        raise NotImplementedError

    def prepare_targets(self, Y: sp.csr_array, multilabel: bool) -> sp.csr_array:
        """Targets as the loss trains on them (float32 CSR); by default unchanged."""
        return sp.csr_array(Y, dtype=_DTYPE)

    def batch_loss_and_score_gradient(
        self, S: np.ndarray, Y: np.ndarray, w: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """``(Σᵢ wᵢ ℓᵢ, G)`` of a training batch (dense targets ``Y``)."""
        raise NotImplementedError

    def batch_gradients(
        self, H: np.ndarray, B: np.ndarray, Y: np.ndarray, w: np.ndarray
    ) -> BatchGradients:
        """Summed loss and gradients of a batch with hidden vectors ``H``:
        ``∂/∂H = G·B`` and ``∂/∂B = Gᵀ·H`` (both from ``B`` before its update, as fastText)."""
        S = _math.scores(H, B)
        batch_loss, G = self.batch_loss_and_score_gradient(S, Y, w)
        return BatchGradients(batch_loss, G @ B, _math.gradient_B(G, H))

    def divergence_bound(self, n_classes: int) -> float:
        """A mean loss per example above this only comes from parameters blowing up:
        100 nats over the loss of the initial (all-zero) output layer."""
        raise NotImplementedError

    # ---------------------------------------------------------------- decisions
    def decision_rule(
        self,
        threshold: float | None,
        multilabel: bool,
        *,
        mean_labels: float,
        every_row_labelled: bool,
    ) -> tuple[float, bool]:
        """``(threshold_, top_label_)`` of a multi-label model (see subclasses)."""
        raise NotImplementedError

    def legacy_top_label(self, multilabel: bool) -> bool:
        """``top_label_`` of model files written before it was stored."""
        return False

    def topk_from_hidden(self, H, B, classes, k: int, threshold: float, multilabel: bool):
        """Top-``k`` labels and probabilities of hidden vectors ``H`` (see
        :func:`topk_from_proba`); a loss that never materialises n×c probabilities overrides
        it."""
        return topk_from_proba(self.proba_from_hidden(H, B, multilabel), classes, k, threshold)

    def argmax_from_hidden(self, H: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Index of the most probable class of each hidden vector: ``argmax_k S_ik``."""
        return np.argmax(_math.scores(H, B), axis=1)

    def decision_from_hidden(self, H: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Scores ``S = H·Bᵀ`` in float64 (``decision_function``)."""
        return H.astype(np.float64) @ B.astype(np.float64).T


class Softmax(Loss):
    """Cross-entropy on ``P = softmax(S)``: ``ℓᵢ = −Σ_k Y_ik log P_ik``.

    Multi-label targets are normalised to sum to 1 (soft targets).  Gradient
    ``G_i = wᵢ (P_i · Σ_k Y_ik − Y_i)``.
    """

    name = "softmax"

    def proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """``P_ik = exp(S_ik − m_i) / Σ_j exp(S_ij − m_i)``; rows sum to 1."""
        return _math.softmax(S)

    def log_proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """``log P = S − m − log Σ exp(S − m)`` (log-sum-exp)."""
        return _math.log_softmax(S)

    def loss(self, S, Y, sample_weight=None) -> float:
        """``Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ`` with ``ℓᵢ = −Σ_k Y_ik log softmax(S)_ik``."""
        return _math.softmax_loss(S, Y, sample_weight)

    def score_gradient(self, S, Y, sample_weight=None) -> np.ndarray:
        """``G_i = wᵢ (softmax(S)_i · Σ_k Y_ik − Y_i)``."""
        return _math.softmax_score_gradient(_math.softmax(S), Y, sample_weight)

    def prepare_targets(self, Y: sp.csr_array, multilabel: bool) -> sp.csr_array:
        """Multi-label rows scaled to sum to 1 (empty rows stay 0)."""
        if not multilabel:
            return sp.csr_array(Y, dtype=_DTYPE)
        sums = np.asarray(Y.sum(axis=1)).ravel()
        inv = np.divide(1.0, sums, out=np.zeros_like(sums, dtype=np.float64), where=sums > 0)
        return _math.scale_rows(Y, inv, dtype=_DTYPE)

    def batch_loss_and_score_gradient(self, S, Y, w):
        """``Σᵢ wᵢ ℓᵢ`` from ``log P``; ``G`` from ``P = exp(max(log P, −80))`` (probabilities
        below e⁻⁸⁰ < 2e-35 flushed to 0: float32 denormals are slow)."""
        log_P = _math.log_softmax(S)
        batch_loss = -float(w @ (Y * log_P).sum(axis=1))
        return batch_loss, _math.softmax_score_gradient(np.exp(np.maximum(log_P, -80.0)), Y, w)

    def divergence_bound(self, n_classes: int) -> float:
        """``100 + log c`` (the initial loss is ``log c``)."""
        return 100.0 + np.log(n_classes)

    def decision_rule(self, threshold, multilabel, *, mean_labels, every_row_labelled):
        """Threshold ``1/(1 + max(m, 1))`` (``m``: mean labels per training document: a label
        holding its share of the distribution) unless given; multi-label models always
        predict the most probable label too (no empty label sets)."""
        if threshold is not None:
            value = float(threshold)
        elif not multilabel:
            value = 0.5
        else:
            value = 1.0 / (1.0 + max(mean_labels, 1.0))
        return value, bool(multilabel)

    def legacy_top_label(self, multilabel: bool) -> bool:
        return bool(multilabel)


class OneVsAll(Loss):
    """Independent sigmoids ``P_ik = σ(S_ik)``, binary cross-entropy per class:
    ``ℓᵢ = −Σ_k [Y_ik log σ(S_ik) + (1 − Y_ik) log σ(−S_ik)]``; gradient
    ``G_i = wᵢ (σ(S_i) − Y_i)``.

    Single-label models normalise the sigmoids to sum to 1 (as scikit-learn's
    ``OneVsRestClassifier``).
    """

    name = "ova"

    def proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """``σ(S)``; single-label: ``σ(S_ik) / Σ_j σ(S_ij)``, evaluated as the exponential of
        :meth:`log_proba` (finite even when every ``σ(S_ij)`` underflows to 0)."""
        if not multilabel:
            return np.exp(self.log_proba(S, False))
        return _math.sigmoid(S)

    def log_proba(self, S: np.ndarray, multilabel: bool) -> np.ndarray:
        """``log σ(S)``; single-label: ``log σ(S_ik) − log Σ_j σ(S_ij)`` (log-sum-exp)."""
        log_P = _math.log_sigmoid(S)
        if not multilabel:
            log_P = log_P - np.logaddexp.reduce(log_P, axis=1, keepdims=True)
        return log_P

    def loss(self, S, Y, sample_weight=None) -> float:
        """``Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ`` with the binary cross-entropy ``ℓᵢ`` above."""
        return _math.ova_loss(S, Y, sample_weight)

    def score_gradient(self, S, Y, sample_weight=None) -> np.ndarray:
        """``G_i = wᵢ (σ(S_i) − Y_i)``."""
        return _math.ova_score_gradient(S, Y, sample_weight)

    def batch_loss_and_score_gradient(self, S, Y, w):
        """``Σᵢ wᵢ ℓᵢ`` from ``log σ(±S)`` and ``G = w·(σ(S) − Y)``."""
        log_p, log_q = _math.log_sigmoid(S), _math.log_sigmoid(-S)
        batch_loss = -float(w @ (Y * log_p + (1 - Y) * log_q).sum(axis=1))
        return batch_loss, _math.ova_score_gradient(S, Y, w)

    def divergence_bound(self, n_classes: int) -> float:
        """``100 + c·log c`` (the initial loss is ``c·log 2``)."""
        return 100.0 + np.log(n_classes) * n_classes

    def decision_rule(self, threshold, multilabel, *, mean_labels, every_row_labelled):
        """Threshold 0.5 (each sigmoid is a yes/no probability) unless given; the most
        probable label is predicted too when every training document had a label (then an
        empty prediction is never right)."""
        value = 0.5 if threshold is None else float(threshold)
        return value, bool(multilabel and every_row_labelled)


#: Loss name → class.  Adding a loss: a class here and its name in ``_parameter_constraints``.
LOSSES: dict[str, type[Loss]] = {Softmax.name: Softmax, OneVsAll.name: OneVsAll}


def get_loss(name: str | Loss) -> Loss:
    """The loss object for ``name`` (a :class:`Loss` is returned unchanged)."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None


def topk_from_proba(
    P: np.ndarray, classes: np.ndarray, k: int, threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` labels and probabilities per row of ``P`` (masked below ``threshold``)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n, c = P.shape
    kk = min(k, c)
    idx = _math.top_k(P, kk)
    top = np.take_along_axis(P, idx, axis=1)
    labels = np.full((n, k), None, dtype=object)
    proba = np.full((n, k), np.nan)
    keep = top >= threshold
    labels[:, :kk] = np.where(keep, classes[idx].astype(object), None)
    proba[:, :kk] = np.where(keep, top, np.nan)
    return labels, proba
