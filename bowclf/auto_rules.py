"""The ``'auto'`` training rules: what ``epochs``, ``lr``, the softmax margin, the generalized
cross-entropy exponent and ``ngram_weight`` stand for on a given task.

Each rule is a pure function of what every route (in memory, out of core, Dask, ``partial_fit``,
a loaded model) knows before the first training step — the class count, multi-label or not,
the loss, the resolved optimiser and row scaling, the corpus size — so every route resolves
the same values.  The measurements behind each default are in bench/RESULTS-devsuite.md.
"""

from __future__ import annotations

from . import defaults
from .optim import resolve_optimizer

__all__ = [
    "epochs_before_inputs",
    "probes_overfitting",
    "resolve_epochs",
    "resolve_gce",
    "resolve_lr",
    "resolve_margin",
    "resolve_ngram_weight",
]


def epochs_before_inputs(
    epochs: int | str,
    n_samples: int,
    n_classes: int | None,
    *,
    multilabel: bool = False,
    loss: str = defaults.LOSS,
    optimizer: str = "auto",
    normalize: str | None = "auto",
) -> int | None:
    """The passes :func:`resolve_epochs` gives before a text model's inputs are resolved
    (``normalize='auto'`` becomes ``'l1'`` or ``'l2'`` by document length), or ``None``
    when they depend on that choice."""
    scalings = ("l1", "l2") if normalize == "auto" else (normalize,)
    counts = {
        resolve_epochs(epochs, n_samples, n_classes, multilabel=multilabel, loss=loss,
                       optimizer=resolve_optimizer(optimizer, loss), normalize=scaling)
        for scaling in scalings
    }  # fmt: skip
    return counts.pop() if len(counts) == 1 else None


def _adaptive_softmax(multilabel: bool, loss: str, optimizer: str) -> bool:
    """A single-label softmax task trained by the adaptive optimiser: the tasks the ``'auto'``
    rules below shape by class count and row scaling."""
    return not multilabel and loss == "softmax" and optimizer == "adaptive"


def _adaptive_multiclass(
    n_classes: int | None, multilabel: bool, loss: str, optimizer: str
) -> bool:
    """A single-label softmax task of three or more classes trained by the adaptive
    optimiser: the tasks whose ``'auto'`` rate and epochs depend on the row scaling."""
    multiclass = n_classes is not None and n_classes >= 3
    return multiclass and _adaptive_softmax(multilabel, loss, optimizer)


def resolve_epochs(
    epochs: int | str,
    n_samples: int,
    n_classes: int | None = None,
    *,
    multilabel: bool = False,
    loss: str = defaults.LOSS,
    optimizer: str = "adaptive",
    normalize: str | None = "l1",
) -> int:
    """The number of passes for ``epochs`` (a number is kept as it is).

    ``'auto'``: ``min(m, max(5, ⌈200000/n⌉))`` passes over ``n`` documents, with the
    ceiling ``m = defaults.LONG_MULTICLASS_EPOCHS`` (15) for a single-label softmax task of
    ``n_classes ≥ 3`` trained by the adaptive optimiser on ``normalize='l2'`` rows (long
    documents: :class:`~bowclf.TextClassifier`'s ``'auto'`` inputs), else 10; and
    ``defaults.BINARY_EPOCHS`` for a single-label task of 2 classes — not a ``multilabel``
    one: two labels there are two independent decisions, not one direction.  Why the long
    documents' ceiling: their many features per class, each a small share of a document's
    unit-norm row, are still learning after 10 passes when the corpus is small (both
    long-document multi-class corpora of the dev suite, one of them real, gain at 15; the
    short ones are measured at 10).  Every input is known before the first step on every
    route (in memory, out of core, Dask), so each resolves the same count.
    """
    if epochs != "auto":
        return int(epochs)
    if n_classes == 2 and not multilabel:
        return defaults.BINARY_EPOCHS
    ceiling = defaults.AUTO_MAX_EPOCHS
    if _adaptive_multiclass(n_classes, multilabel, loss, optimizer) and normalize == "l2":
        ceiling = defaults.LONG_MULTICLASS_EPOCHS
    by_updates = -(-defaults.AUTO_EPOCH_UPDATES // max(n_samples, 1))
    return int(min(ceiling, max(defaults.AUTO_MIN_EPOCHS, by_updates)))


def resolve_lr(
    lr: float | str,
    n_classes: int,
    *,
    multilabel: bool = False,
    loss: str = defaults.LOSS,
    optimizer: str = "adaptive",
    normalize: str | None = "l1",
) -> float:
    """The initial learning rate for ``lr`` (a number is kept as it is).

    ``'auto'``: ``defaults.MULTICLASS_LR`` (0.35) for a single-label task of ``n_classes ≥ 3``
    with ``loss='softmax'``, the resolved ``optimizer`` ``'adaptive'`` and ``normalize='l1'``
    rows; ``defaults.BASE_LR`` (0.25) otherwise.  Every input is known before the first
    step on every route (in memory, out of core, Dask, ``partial_fit``, a loaded model), so
    each resolves the same value.  Why these conditions: with ``l1`` rows (short documents:
    :class:`~bowclf.TextClassifier`'s ``'auto'`` inputs) a document moves its hidden vector
    by ``lr·‖x̃‖₂²·∂ℓ/∂h`` with ``‖x̃‖₂² ≈ 1/length``, and ``B``'s AdaGrad steps (rate
    ``0.2·lr``) shrink before many classes' rows separate, so such models are underfit at
    0.25; ``l2`` rows (long documents) already move ``h`` by the full ``lr·∂ℓ/∂h``; a binary
    task has a single decision direction; plain SGD, ``'adagrad'``, one-vs-all and
    hierarchical softmax keep the rate they were measured with.
    """
    if lr != "auto":
        return float(lr)
    if _adaptive_multiclass(n_classes, multilabel, loss, optimizer) and normalize == "l1":
        return defaults.MULTICLASS_LR
    return defaults.BASE_LR


def resolve_margin(
    n_classes: int, *, multilabel: bool = False, loss: str = defaults.LOSS,
    optimizer: str = "adaptive", **other_inputs: object,
) -> float:  # fmt: skip
    """The softmax margin the training steps ramp up to (:func:`bowclf._math.ramped_margin`).

    ``defaults.MULTICLASS_MARGIN`` (2) for a single-label softmax task of ``n_classes ≥ 3``
    trained by the adaptive optimiser, else 0 (plain cross-entropy: two classes, multi-label,
    one-vs-all, ``hs``, plain SGD, ``'adagrad'``).  A step at rate ``η`` of a run started at
    ``η₀`` takes its gradient from the scores ``S − m·(1 − η/η₀)·Y``: plain cross-entropy at
    the start, a margin of ``m`` nats for the true class as the rate anneals, so the
    examples the model already classifies keep training their features (the multi-class
    corpora of the dev suite are underfit; a margin from the first step costs the noisy
    5-grade corpora, a late one does not).  ``other_inputs`` (``normalize``: the other
    ``'auto'`` rules' inputs, passed alike) do not change the margin.  Known before the
    first step on every route.
    """
    if _adaptive_multiclass(n_classes, multilabel, loss, optimizer):
        return defaults.MULTICLASS_MARGIN
    return 0.0


def resolve_gce(
    n_classes: int, *, multilabel: bool = False, loss: str = defaults.LOSS,
    optimizer: str = "adaptive", normalize: str | None = defaults.NORMALIZE,
    **other_inputs: object,
) -> float:  # fmt: skip
    """The generalized cross-entropy exponent of the training steps
    (:func:`bowclf._math.gce_sample_weights`).

    ``defaults.BINARY_GCE`` (1) for a single-label softmax task of two classes trained by the
    adaptive optimiser on ``l1`` rows (short documents), else 0 (plain cross-entropy).  A
    binary softmax has one decision direction, learnt in the first passes; what the later
    passes add is mostly the fit of the examples the model disagrees with — under label
    noise, the mislabelled ones, which a short document's few rare features memorise.  With
    q = 1 an example pulls in proportion to the probability the model gives its label (each
    class keeps its weight in the batch), so the later passes fit the examples the model
    agrees with instead of memorising the others.  A long document (``l2`` rows) is not
    memorised through a few rare features, and there the exponent only costs signal; tasks
    of three or more classes are underfit rather than noisy and take the margin instead
    (:func:`resolve_margin`); bench/RESULTS-devsuite.md has the measurements.
    ``other_inputs`` do not change the exponent.  Known before the first step on every
    route.
    """
    if _short_binary(n_classes, multilabel, loss, optimizer, normalize):
        return defaults.BINARY_GCE
    return 0.0


def _short_binary(
    n_classes: int | None, multilabel: bool, loss: str, optimizer: str, normalize: str | None
) -> bool:
    """A single-label softmax task of two classes trained by the adaptive optimiser on
    ``l1`` rows (short documents): the tasks of :func:`resolve_gce` and
    :func:`resolve_ngram_weight`."""
    return n_classes == 2 and normalize == "l1" and _adaptive_softmax(multilabel, loss, optimizer)


def resolve_ngram_weight(
    ngram_weight: float | str, n_classes: int | None, *, multilabel: bool = False,
    loss: str = defaults.LOSS, optimizer: str = "adaptive",
    normalize: str | None = defaults.NORMALIZE, use_idf: bool = True,
) -> float:  # fmt: skip
    """The factor on the term weights of the hashed n-gram columns (a number is kept as it is).

    ``'auto'``: ``defaults.BINARY_NGRAM_WEIGHT`` (0.7) for the tasks that take the
    generalized cross-entropy (:func:`resolve_gce`: single-label softmax, two classes,
    adaptive optimiser, ``l1`` rows) when the features are idf-weighted (``use_idf``), else
    1: raw counts (``use_idf=False``) are fastText's input and stay raw unless asked.  A
    short document's bigrams are nearly all rarer than its words, so with idf weights they
    hold about half of its ``l1`` average; in a noisy two-class corpus most of them are
    seen once or twice and, at full weight, the passes after the first fit their noise.
    Weighted down, the words carry the decision and the phrases that recur (negations) still
    count.  Three or more classes keep 1: there the phrases tell apart classes that share
    their words (measurements in bench/RESULTS-devsuite.md).  Known before the first step on
    every route: the class count, ``use_idf`` and the resolved ``normalize``.
    """
    if ngram_weight != "auto":
        return float(ngram_weight)
    if use_idf and _short_binary(n_classes, multilabel, loss, optimizer, normalize):
        return defaults.BINARY_NGRAM_WEIGHT
    return 1.0


def probes_overfitting(
    epochs: int | str, n_samples: int, n_classes: int | None, *, multilabel: bool = False,
    loss: str = defaults.LOSS, optimizer: str = "adaptive", normalize: str | None = "l1",
) -> bool:  # fmt: skip
    """Whether a run holds a slice out of its first passes to tell early overfitting
    (:mod:`bowclf.overfit_probe`): ``epochs='auto'``, at least
    ``defaults.OVERFIT_PROBE_MIN_DOCUMENTS`` (2,000) documents (a slice of fewer than ~200
    compares losses too noisily) and either

    * a single-label softmax task of three or more classes trained by the adaptive optimiser
      whose passes resolve to at least ``defaults.OVERFIT_PROBE_MIN_EPOCHS`` (10): such a
      task's 'auto' passes overfit noisy graded sentences (5-grade sentiment) after two or
      three, and a restart with two fresh passes gains there while every other multi-class
      corpus of the dev suite stays within noise; or
    * the two-class tasks of the generalized cross-entropy (single-label softmax, adaptive
      optimiser, ``l1`` rows: :func:`resolve_gce`) of at most
      ``defaults.BINARY_PROBE_MAX_DOCUMENTS`` (15,000) documents: with noisy labels their
      five passes fit the mislabelled documents and a three-pass restart gains, while a run
      still learning starts over with its five passes (the model it would have trained,
      from another draw); larger corpora gained nothing from the restart.

    The measurements are in bench/RESULTS-devsuite.md.  A number of epochs is the user's;
    the estimators also leave out runs with validation data or early stopping (those choose
    their passes already) and warm starts.  Known before the first step on every route.
    """
    if epochs != "auto" or n_samples < defaults.OVERFIT_PROBE_MIN_DOCUMENTS:
        return False
    if _short_binary(n_classes, multilabel, loss, optimizer, normalize):
        return n_samples <= defaults.BINARY_PROBE_MAX_DOCUMENTS
    if not _adaptive_multiclass(n_classes, multilabel, loss, optimizer):
        return False
    passes = resolve_epochs(epochs, n_samples, n_classes, multilabel=multilabel, loss=loss,
                            optimizer=optimizer, normalize=normalize)  # fmt: skip
    return passes >= defaults.OVERFIT_PROBE_MIN_EPOCHS
