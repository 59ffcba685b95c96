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

from . import _math, defaults, hsoftmax
from .hsoftmax import HuffmanTree

__all__ = [
    "LOSSES",
    "BatchGradients",
    "HierarchicalSoftmax",
    "Loss",
    "OneVsAll",
    "Softmax",
    "featureless_labels",
    "get_loss",
    "multilabel_rule",
    "topk_from_proba",
]

_DTYPE = np.float32
#: Log-probabilities of the hs search this close to ``log t`` (or to each other, for the top
#: label) are decided from the dense probabilities (:meth:`HierarchicalSoftmax.multilabel_indices`).
_DECISION_MARGIN = 1e-9
HS_SEARCH_MIN_CLASSES = defaults.HS_SEARCH_MIN_CLASSES  # see there


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
    :meth:`state` / :meth:`restored`.
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
        return self.proba(_math.row_scores(H, B).astype(np.float64), multilabel)

    def log_proba_from_hidden(self, H: np.ndarray, B: np.ndarray, multilabel: bool) -> np.ndarray:
        """Log-probabilities of hidden vectors ``H``: ``log_proba(H·Bᵀ)``."""
        return self.log_proba(_math.row_scores(H, B).astype(np.float64), multilabel)

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
        self, S: np.ndarray, Y: np.ndarray, w: np.ndarray, margin: float = 0.0,
        gce: float = 0.0,
    ) -> tuple[float, np.ndarray]:  # fmt: skip
        """``(Σᵢ wᵢ ℓᵢ, G)`` of a training batch (dense targets ``Y``); ``margin``, ``gce``:
        see :meth:`batch_gradients`."""
        raise NotImplementedError

    def batch_gradients(
        self, H: np.ndarray, B: np.ndarray, Y: np.ndarray, w: np.ndarray, margin: float = 0.0,
        gce: float = 0.0,
    ) -> BatchGradients:  # fmt: skip
        """Summed loss and gradients of a batch with hidden vectors ``H``:
        ``∂/∂H = G·B`` and ``∂/∂B = Gᵀ·H`` (both from ``B`` before its update, as fastText).
        A non-zero ``margin`` (softmax only: the other losses refuse one) takes ``G`` from
        the scores ``S − m·Y``; a non-zero ``gce`` exponent q (softmax only) makes ``G`` the
        generalized cross-entropy's (:func:`bowclf._math.gce_sample_weights`)."""
        S = _math.scores(H, B)
        batch_loss, G = self.batch_loss_and_score_gradient(S, Y, w, margin=margin, gce=gce)
        return BatchGradients(batch_loss, G @ B, _math.gradient_B(G, H))

    def divergence_bound(self, n_classes: int) -> float:
        """A mean loss per example above this only comes from parameters blowing up: far
        above the loss of the initial (all-zero) output layer (100 nats over it, or more for
        losses that sum a term per class; see each loss)."""
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

    def searched_decision(self, n_classes: int) -> bool:
        """Whether :meth:`multilabel_indices` finds a model's predicted labels without every
        class's probability (else the estimator thresholds :meth:`proba_from_hidden` a block
        of rows at a time)."""
        return False

    def multilabel_indices(
        self, H: np.ndarray, B: np.ndarray, threshold: float, top_label: bool
    ) -> list[np.ndarray]:
        """A multi-label model's predicted class indices per hidden vector (ascending): those
        with probability ≥ ``threshold``, plus the most probable one when ``top_label``."""
        pred = multilabel_rule(self.proba_from_hidden(H, B, True), threshold, top_label)
        return [np.flatnonzero(row) for row in pred]

    def label_proba(self, H: np.ndarray, B: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
        """The probabilities of given classes only: ``rows[i]`` (class indices) of hidden
        vector ``i``, one array per row (here picked from :meth:`proba_from_hidden`)."""
        P = self.proba_from_hidden(H, B, True)
        return [P[i, row] for i, row in enumerate(rows)]

    def argmax_from_hidden(self, H: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Index of the most probable class of each hidden vector: ``argmax_k S_ik``."""
        return np.argmax(_math.row_scores(H, B), axis=1)

    def top1_from_hidden(self, H: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A single-label model's most probable class of each row (:meth:`argmax_from_hidden`)
        and its probability (:meth:`proba_from_hidden`'s)."""
        best = self.argmax_from_hidden(H, B)
        return best, self.proba_from_hidden(H, B, False)[np.arange(best.size), best]

    def decision_from_hidden(self, H: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Scores ``S = H·Bᵀ`` in float64 (``decision_function``), row by row."""
        return _math.row_scores(H.astype(np.float64), B.astype(np.float64))

    def restored(self, state: dict[str, np.ndarray], n_classes: int) -> Loss:
        """The loss of a model file from the arrays :meth:`state` stored (validated);
        stateless losses return themselves."""
        return self

    def batch_targets(self, batch, B: np.ndarray):
        """A training batch's targets as :meth:`batch_gradients` takes them (dense n×c)."""
        return batch.targets(self.n_targets(B))


def _softmax_only(loss: Loss, margin: float, gce: float = 0.0) -> None:
    """A softmax margin or generalized cross-entropy exponent (``auto_rules.resolve_margin``
    and ``resolve_gce`` give them to softmax only) is refused by the other losses."""
    if margin:
        raise ValueError(f"the {loss.name!r} loss takes no margin, got {margin}")
    if gce:
        raise ValueError(f"the {loss.name!r} loss takes no gce exponent, got {gce}")


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

    def batch_loss_and_score_gradient(self, S, Y, w, margin: float = 0.0, gce: float = 0.0):
        """``Σᵢ wᵢ ℓᵢ`` from ``log P``; ``G`` from ``P = exp(max(log P, −80))`` (probabilities
        below e⁻⁸⁰ < 2e-35 flushed to 0: float32 denormals are slow).  With a ``margin`` m,
        ``G`` is the gradient at the shifted scores ``S − m·Y``
        (:func:`bowclf._math.margin_scores`); with a ``gce`` exponent q (one-hot targets),
        that of the generalized cross-entropy at each class's step size in the batch (the
        examples reweighted by :func:`bowclf._math.gce_sample_weights`).  The loss stays the
        cross-entropy of ``S``."""
        log_P = _math.log_softmax(S)
        batch_loss = -float(w @ (Y * log_P).sum(axis=1))
        if margin:
            log_P = _math.log_softmax(_math.margin_scores(S, Y, margin))
        P = np.exp(np.maximum(log_P, -80.0))
        if gce:
            w = _math.gce_sample_weights(P, Y, w, gce)
        return batch_loss, _math.softmax_score_gradient(P, Y, w)

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
        """``log σ(S)``; single-label: ``log σ(S_ik) − log Σ_j σ(S_ij)``, the log-softmax of the
        ``log σ(S_ij)`` (their row maximum subtracted first, so rows of very negative scores
        still sum to 1)."""
        log_P = _math.log_sigmoid(S)
        return log_P if multilabel else _math.log_softmax(log_P)

    def loss(self, S, Y, sample_weight=None) -> float:
        """``Σᵢ wᵢ ℓᵢ / Σᵢ wᵢ`` with the binary cross-entropy ``ℓᵢ`` above."""
        return _math.ova_loss(S, Y, sample_weight)

    def score_gradient(self, S, Y, sample_weight=None) -> np.ndarray:
        """``G_i = wᵢ (σ(S_i) − Y_i)``."""
        return _math.ova_score_gradient(S, Y, sample_weight)

    def batch_loss_and_score_gradient(self, S, Y, w, margin: float = 0.0, gce: float = 0.0):
        """``Σᵢ wᵢ ℓᵢ`` from ``log σ(±S)`` and ``G = w·(σ(S) − Y)``."""
        _softmax_only(self, margin, gce)
        log_p, log_q = _math.log_sigmoid(S), _math.log_sigmoid(-S)
        batch_loss = -float(w @ (Y * log_p + (1 - Y) * log_q).sum(axis=1))
        return batch_loss, _math.ova_score_gradient(S, Y, w)

    def divergence_bound(self, n_classes: int) -> float:
        """``100 + c·log c``: the initial loss ``c·log 2`` plus a margin growing with the c
        per-class terms the loss sums (a wide many-label model is not stopped by one bad
        batch)."""
        return 100.0 + np.log(n_classes) * n_classes

    def decision_rule(self, threshold, multilabel, *, mean_labels, every_row_labelled):
        """Threshold 0.5 (each sigmoid is a yes/no probability) unless given; the most
        probable label is predicted too when every training document had a label (then an
        empty prediction is never right)."""
        value = 0.5 if threshold is None else float(threshold)
        return value, bool(multilabel and every_row_labelled)


class HierarchicalSoftmax(Loss):
    """Hierarchical softmax over a Huffman tree of the labels (fastText's ``-loss hs``).

    ``P(k | h) = Π_{v ∈ path(k)} σ(s_kv · B_v·h)``: one row of ``B`` per inner node of the
    tree (``B`` is (c−1)×d), ``s_kv = ±1`` the branch label k's path takes at node v; the c
    probabilities sum to 1.  Loss ``ℓᵢ = −Σ_k Y_ik log P(k | hᵢ)``: a training example costs
    O(d·depth) instead of O(d·c) and only the rows of ``B`` on its labels' paths move.
    Multi-label targets are normalised to sum to 1, so a document trains on the paths of all
    its labels with weight 1/|labels| each — the expectation of fastText's one random label
    per example.  Prediction never scores every label: the arg-max and the top k come from a
    pruned best-first search of the tree.  Formulas: :mod:`bowclf.hsoftmax`.

    The tree is Huffman's over the training label counts (:meth:`for_corpus`); model files store
    it (:meth:`state`) and loading validates it (:meth:`restored`).
    """

    name = "hs"

    def __init__(self, tree: HuffmanTree | None = None) -> None:
        self.tree = tree

    def _tree(self) -> HuffmanTree:
        if self.tree is None:
            raise ValueError("loss='hs' needs its label tree: fit the model first")
        return self.tree

    # ---------------------------------------------------------------- shape and state
    def for_corpus(self, stats) -> HierarchicalSoftmax:
        """The loss over the Huffman tree of the corpus's label counts
        (:class:`bowclf.training.CorpusStats`; unknown counts give a balanced tree)."""
        n_classes = len(stats.classes)
        counts = stats.class_counts
        return HierarchicalSoftmax(
            HuffmanTree.from_counts(np.ones(n_classes) if counts is None else counts)
        )

    def restored(self, state: dict[str, np.ndarray], n_classes: int) -> HierarchicalSoftmax:
        """The loss of a model file: its stored tree, validated (``ValueError`` if malformed,
        deeper than :data:`bowclf.hsoftmax.MAX_DEPTH` or not over ``n_classes`` labels)."""
        if "hs_parent" not in state or "hs_code" not in state:
            raise ValueError("a loss='hs' model needs its label tree (hs_parent, hs_code)")
        tree = HuffmanTree(state["hs_parent"], state["hs_code"])
        if tree.n_classes != n_classes:
            raise ValueError(f"the label tree has {tree.n_classes} leaves for {n_classes} classes")
        return HierarchicalSoftmax(tree)

    def state(self) -> dict[str, np.ndarray]:
        """The tree: ``hs_parent`` (int32) and ``hs_code`` (uint8), 2c − 1 entries each."""
        tree = self._tree()
        return {"hs_parent": tree.parent.astype(np.int32), "hs_code": tree.code}

    def output_shape(self, n_classes: int, dim: int) -> tuple[int, int]:
        """One row of ``B`` per inner node of the tree: (c − 1)×d."""
        return (n_classes - 1, dim)

    def n_targets(self, B: np.ndarray) -> int:
        """c = rows of ``B`` + 1."""
        return B.shape[0] + 1

    # ---------------------------------------------------------------- probabilities
    def log_proba_from_hidden(self, H, B, multilabel) -> np.ndarray:
        """Exact ``log P(k | h)`` of every label, in one top-down pass (n×c)."""
        return hsoftmax.log_proba(H, B, self._tree())

    def proba_from_hidden(self, H, B, multilabel) -> np.ndarray:
        """``P(k | h)`` of every label (n×c); rows sum to 1."""
        return np.exp(self.log_proba_from_hidden(H, B, multilabel))

    def argmax_from_hidden(self, H, B) -> np.ndarray:
        """The most probable label of each row, by the pruned search (no n×c scores)."""
        return hsoftmax.top_k(H, B, self._tree(), 1)[0][:, 0]

    def top1_from_hidden(self, H, B) -> tuple[np.ndarray, np.ndarray]:
        """The most probable label and its probability by the pruned search (k = 1, as
        :meth:`topk_from_hidden`): no n×c probabilities.  The search sums the same path terms
        as :meth:`log_proba_from_hidden` in another order: the last bits may differ."""
        idx, log_p = hsoftmax.top_k(H, B, self._tree(), 1)
        return idx[:, 0], np.exp(log_p[:, 0])

    def decision_from_hidden(self, H, B) -> np.ndarray:
        """``log P(k | h)``: the tree has no per-class scores, and log-probabilities rank
        the classes as the probabilities do."""
        return self.log_proba_from_hidden(H, B, False)

    def topk_from_hidden(self, H, B, classes, k, threshold, multilabel):
        """Top-``k`` labels and probabilities by :func:`bowclf.hsoftmax.top_k` (pruned by the
        k-th best and by ``threshold``, never n×c), masked like :func:`topk_from_proba`."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        idx, log_p = hsoftmax.top_k(H, B, self._tree(), k, threshold)
        found = idx >= 0
        labels = np.full(idx.shape, None, dtype=object)
        labels[found] = np.asarray(classes)[idx[found]].astype(object)
        proba = np.where(found, np.exp(log_p), np.nan)
        return labels, proba

    def searched_decision(self, n_classes: int) -> bool:
        """Above :data:`HS_SEARCH_MIN_CLASSES` labels: with fewer the search's overhead costs
        more than scoring every label (measured in bench/RESULTS-hs.md)."""
        return n_classes > HS_SEARCH_MIN_CLASSES

    def multilabel_indices(self, H, B, threshold, top_label) -> list[np.ndarray]:
        """The labels with ``P(k | h) ≥ t`` (plus the most probable when ``top_label``) from
        the pruned search, not from every label's probability.

        The c probabilities of a document sum to 1, so at most ``⌊1/t⌋`` of them reach
        ``t > 0``: the labels kept are among the ``k = min(c, ⌊1/t⌋ + 1)`` most probable
        (:func:`bowclf.hsoftmax.top_k`, one more than needed, searched in float64 and pruned
        just below ``t``), and the most probable label is its first.  The search sums the path
        terms in another order than :meth:`proba_from_hidden`, so a label whose log-probability
        lies within ``1e-9`` of ``log t`` (or a near tie for the top label, or k labels near
        ``t``) is not decided from it: such rows (rare; exact ties, as in an all-zero row,
        among them) get :meth:`proba_from_hidden`'s probabilities (bit-identical for a row in
        any block, see :func:`bowclf.hsoftmax.log_proba`) and the dense rule.  The result is
        therefore that of the dense rule; work is that of a top-k search."""
        t, n, c = float(threshold), H.shape[0], self._tree().n_classes
        if not t > 0.0:  # every probability is ≥ t
            return [np.arange(c) for _ in range(n)]
        k = c if 1.0 / t >= c - 1 else int(1.0 / t) + 1
        H64, B64 = H.astype(np.float64), B.astype(np.float64)
        labels, lp = hsoftmax.top_k(H64, B64, self._tree(), k, t * (1.0 - 1e-6))
        log_t = np.log(t)
        keep = lp >= log_t + _DECISION_MARGIN
        unsure = ((lp > log_t - _DECISION_MARGIN) & ~keep).any(axis=1)
        if k < c:  # k labels near t: more may follow (only rounding could do this)
            unsure |= lp[:, -1] > log_t - _DECISION_MARGIN
        top = np.full(n, c)  # c: no extra label
        if top_label:
            top, tied = self._top_label(H64, B64, labels, lp, np.log(t * (1.0 - 1e-6)))
            unsure |= tied
        rows = [_row_labels(labels[i][keep[i]], top[i], c) for i in range(n)]
        dense = np.flatnonzero(unsure)
        if dense.size:
            redo = Loss.multilabel_indices(self, H[dense], B, t, top_label)
            for i, row in zip(dense.tolist(), redo, strict=True):
                rows[i] = row
        return rows

    def label_proba(self, H, B, rows) -> list[np.ndarray]:
        """``P(k | hᵢ)`` of the labels ``rows[i]`` only, from their paths
        (:func:`bowclf.hsoftmax.label_log_proba`): no n×c probabilities; equal to
        :meth:`proba_from_hidden`'s up to rounding."""
        lengths = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        labels = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
        p = np.exp(hsoftmax.label_log_proba(H, B, self._tree(), indptr, labels))
        return np.split(p, indptr[1:-1])

    def _top_label(self, H64, B64, labels, lp, log_bound):
        """The most probable label per row from the search's first slot (``log_bound``:
        below it nothing was searched), searching the top 2 again for rows where it is not
        clear; and whether it is a near tie (within ``1e-9``)."""
        c = self._tree().n_classes
        second = lp[:, 1] if lp.shape[1] > 1 else np.full(lp.shape[0], -np.inf)
        clear = lp[:, 0] - np.maximum(second, log_bound) > _DECISION_MARGIN
        top, tied = labels[:, 0].copy(), np.zeros(lp.shape[0], dtype=bool)
        again = np.flatnonzero(~clear)
        if again.size and c > 1:
            best, best_lp = hsoftmax.top_k(H64[again], B64, self._tree(), 2)
            top[again] = best[:, 0]
            tied[again] = best_lp[:, 0] - best_lp[:, 1] <= _DECISION_MARGIN
        elif again.size:
            top[again] = 0
        return top, tied

    # ---------------------------------------------------------------- training
    def prepare_targets(self, Y: sp.csr_array, multilabel: bool) -> sp.csr_array:
        """As softmax: multi-label rows scaled to sum to 1."""
        return Softmax.prepare_targets(self, Y, multilabel)

    def batch_targets(self, batch, B):
        """The batch itself: :meth:`batch_gradients` reads its CSR targets (no n×c array)."""
        return batch

    def batch_gradients(self, H, B, Y, w, margin: float = 0.0, gce: float = 0.0) -> BatchGradients:
        """Path pairs of the batch's targets ``Y`` (a training batch, see
        :meth:`batch_targets`); ``∂/∂H = G·B``, ``∂/∂B`` on the rows of the paths only."""
        _softmax_only(self, margin, gce)
        tree = self._tree()
        indptr, nodes, codes, weights = hsoftmax.path_pairs(
            tree, Y.y_indptr, Y.y_indices, Y.y_data, w
        )
        z = hsoftmax.path_scores(H, B, indptr, nodes)
        loss, g = hsoftmax.path_loss_and_gradient(z, codes, weights)
        rows, dB = hsoftmax.path_gradient_B(g, H, indptr, nodes)
        return BatchGradients(loss, hsoftmax.path_gradient_H(g, B, indptr, nodes), dB, rows)

    def divergence_bound(self, n_classes: int) -> float:
        """``100 + depth·log 2`` (the all-zero output layer costs at most depth·log 2)."""
        return 100.0 + self._tree().depth * np.log(2.0)

    # ---------------------------------------------------------------- decisions
    def decision_rule(self, threshold, multilabel, *, mean_labels, every_row_labelled):
        """As softmax: the probabilities are one distribution over the labels."""
        return Softmax.decision_rule(
            self,
            threshold,
            multilabel,
            mean_labels=mean_labels,
            every_row_labelled=every_row_labelled,
        )

    def legacy_top_label(self, multilabel: bool) -> bool:
        return bool(multilabel)


#: Loss name → class.  Adding a loss: a class here and its name in ``_parameter_constraints``.
LOSSES: dict[str, type[Loss]] = {
    Softmax.name: Softmax,
    OneVsAll.name: OneVsAll,
    HierarchicalSoftmax.name: HierarchicalSoftmax,
}


def get_loss(name: str | Loss) -> Loss:
    """The loss object for ``name`` (a :class:`Loss` is returned unchanged)."""
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None


def _row_labels(kept: np.ndarray, top: int, c: int) -> np.ndarray:
    """Sorted unique class indices of ``kept`` plus ``top`` (``c``: none)."""
    if top < c and not (kept == top).any():
        kept = np.append(kept, top)
    return np.sort(kept)


def multilabel_rule(
    P: np.ndarray,
    threshold: float,
    top_label: bool,
    *,
    empty: np.ndarray | None = None,
    frequent: int = 0,
) -> np.ndarray:
    """The multi-label decision rule (n×c bool): the one place it is written.

    Row i predicts ``{k : P_ik ≥ t}``, plus ``argmax_k P_ik`` (the first of tied maxima) when
    ``top_label``.  A row of ``empty`` (a document with no known feature: no evidence for
    any label) predicts :func:`featureless_labels` instead; ``empty=None`` (a model without
    a class prior) applies the threshold rule to every row.  Every route to a multi-label
    prediction — the dense one, the one a few rows at a time, and the hierarchical-softmax
    search's rows it cannot decide — ends here.

    Parameters
    ----------
    P : ndarray of shape (n, c)
        Probabilities.
    threshold : float
        ``t``: a label is predicted when its probability is at least ``t``.
    top_label : bool
        Whether the most probable label is always predicted too.
    empty : ndarray of shape (n,) of bool, optional
        Rows without evidence.
    frequent : int, default=0
        The most frequent training label (what an ``empty`` row predicts with ``top_label``).
    """
    pred = P >= threshold
    if top_label and P.shape[0]:
        pred[np.arange(P.shape[0]), np.argmax(P, axis=1)] = True
    if empty is not None and empty.any():
        pred[empty] = False
        pred[np.ix_(np.flatnonzero(empty), featureless_labels(top_label, frequent))] = True
    return pred


def featureless_labels(top_label: bool, frequent: int) -> np.ndarray:
    """The labels of a document with no known feature under :func:`multilabel_rule`: the
    most frequent training label ``frequent`` when ``top_label``, else none."""
    return np.array([frequent] if top_label else [], dtype=np.intp)


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
