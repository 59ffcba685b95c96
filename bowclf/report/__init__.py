"""Evaluation reports: metrics from arrays, rendered for a terminal, as JSON or as HTML.

This module knows nothing about the model internals or the command line: it
works from the true labels, the predicted probabilities and the list of
classes. :func:`compute_report` builds a :class:`Report`; :func:`evaluate`
runs a model (anything with ``predict_proba`` and ``classes_``) and times it
first. A report renders as aligned terminal tables (:func:`render_text`), as a
single self-contained HTML page (:func:`render_html`, figures need the optional
``bowclf[report]`` extra, i.e. matplotlib) and as JSON (:meth:`Report.to_json`).
:func:`write_misclassified` dumps the errors to CSV.

Metrics come from :mod:`sklearn.metrics` wherever it has them (accuracy,
precision/recall/F1 with ``zero_division=0``, confusion matrix, log-loss,
top-k accuracy, Hamming loss). ``P@k`` and ``R@k`` follow fastText's ``test``
command (``src/meter.cc``): every document contributes its ``min(k, c)``
highest-scoring labels (fastText's default threshold is 0, so that is always
exactly ``min(k, c)``), and

- ``P@k = correct predicted labels / predicted labels`` (summed over documents),
- ``R@k = correct predicted labels / gold labels`` (summed over documents).

For single-label data ``P@1 == R@1 == accuracy`` (with ``y_pred`` = argmax).
As in fastText, multi-label documents without any gold label are skipped by
``P@k``/``R@k``.  Labels of equal probability are ranked by class order (the
model's prediction first); fastText's heap orders ties otherwise, so on a model
whose probabilities tie (a one-vs-all model's sigmoids of exactly 0) ``P@k``
may differ from its ``test`` in the last digits.

Labels the model never saw
--------------------------
A true label that is not in ``classes`` cannot be predicted. Such labels are
counted and listed under ``unseen_labels``. The rule for the metrics:

- they **count as errors** wherever no class index is needed: accuracy (and
  multi-label subset accuracy), ``P@k``/``R@k`` and top-k accuracy (a miss),
  calibration (an incorrect top-1 prediction), and the false positives of the
  class that was predicted for them (so they lower that class's precision;
  supports and recalls of known classes are unaffected);
- the macro/micro/weighted (and samples) averages run over the classes among
  the gold labels or the predictions (a class of the model absent from both
  says nothing of the test set) **and** the unseen labels, each a class that is
  never predicted (precision, recall and F1 0 with ``zero_division=0``): the
  averages equal scikit-learn's on the raw labels (``labels=None``: the union
  of true and predicted), so weighted and micro recall equal the accuracy; the
  multi-label Hamming loss runs over the same labels;
- they are **left out** of the per-class table and wherever the index of the
  true class is needed: the confusion matrix, the top-confusions list and
  log-loss.

fastText instead drops unknown labels when it reads the test file, which
silently inflates its scores; here they are visible. In multi-label data an
unseen label can only come from label collections (an indicator matrix has no
column for it); it counts as a gold label that was missed for ``R@k``, makes
its document wrong for subset accuracy, and is a label column that is never
predicted in the averages and the Hamming loss (as scikit-learn scores
``MultiLabelBinarizer`` sets over the union of labels); the per-label table
leaves it out.

Many classes
------------
When the n×c probability matrix would exceed 64 MiB
(:data:`bowclf.report.ranked.DENSE_REPORT_BYTES`), :func:`evaluate` and
``bowclf evaluate`` report from each document's best classes
(``model.predict_topk``; :func:`predict_for_report`) and no n×c array is built
(multi-label indicators are sparse). Such a report differs from the dense one
in: ``per_class`` lists the 50 classes with the most true documents and a
``per_class_omitted`` key aggregates the others (``{"n_classes",
"n_with_support", "support", "predicted", "precision", "recall", "f1"}``, the
scores unweighted means over those classes); the confusion matrix and its
cells cover the listed classes only (the top confusions still cover all);
``log_loss`` is ``null``; calibration is of the top-1 probability (also for
multi-label); an example's ``true_proba`` is ``null`` when the true class is
not among the document's best; top-k accuracy counts the true class among
the k best (ties as ranked by the model). See :mod:`bowclf.report.ranked`.

JSON keys (``Report.to_dict()``, schema version 2)
--------------------------------------------------
Every key below is always present; a value that does not apply is ``null``.
Floats are plain numbers (never NaN), labels are JSON strings or numbers.

``schema_version``
    ``2`` (version 2 added the confusion matrix's ``cells``; reports of version
    1 are still read); bumped on any incompatible change of this layout.
``n_documents``, ``n_classes``, ``multilabel``
    Number of evaluated documents, number of model classes, and whether the
    task is multi-label.
``accuracy``
    Single-label: fraction of documents whose predicted label is the true one.
    Multi-label: subset accuracy (predicted label set equals the gold set).
``macro``, ``micro``, ``weighted``
    ``{"precision", "recall", "f1"}`` averaged over classes and unseen gold
    labels (``sklearn.metrics.precision_recall_fscore_support``,
    ``zero_division=0``; see "Labels the model never saw").
``samples``
    Multi-label only: the same averaged over documents; ``null`` otherwise.
``log_loss``
    Single-label: cross-entropy of the true class (documents with unseen labels
    excluded; ``null`` if none is left or there is one class). Multi-label:
    mean binary cross-entropy over all document-label pairs.
``hamming_loss``
    Multi-label only: fraction of wrong document-label decisions.
``top_k``
    ``{"1": {"k", "k_effective", "accuracy", "precision", "recall"}, ...}``,
    one entry per requested ``k`` (string keys; by default 1, and 5 when there
    are more than five classes, see ``default_ks``). ``k_effective`` is
    ``min(k, n_classes)``, the number of labels taken per document.
    ``accuracy`` is the top-k accuracy (true label among the ``k`` best;
    ``sklearn.metrics.top_k_accuracy_score``), ``null`` for multi-label;
    ``precision``/``recall`` are fastText's ``P@k``/``R@k`` (``null`` when no
    document has a gold label, where fastText would print NaN).
``per_class``
    One row per class, in the order of ``classes``:
    ``{"label", "precision", "recall", "f1", "support", "predicted"}`` where
    ``support`` is the number of documents with that true label and
    ``predicted`` the number of documents it was predicted for. In a report
    over many classes (below) only the most frequent classes, most true
    documents first.
``confusion_matrix``
    Single-label: ``{"labels": [...], "matrix": [[...]]}``, rows are true
    classes and columns predicted ones, in ``labels`` order. ``null`` for
    multi-label.
``calibration``
    ``{"kind", "n_bins", "ece", "mce", "bins": [{"lower", "upper", "count",
    "mean_confidence", "accuracy"}]}``. ``kind`` is ``"top1"`` (single-label:
    confidence is the highest probability, accuracy whether that label is the
    true one) or ``"per_label"`` (multi-label: every document-label
    probability against whether the label is gold). Bins are equal-width over
    [0, 1], ``(lower, upper]`` with 0.0 in the first bin (as scikit-learn's
    ``calibration_curve``); ``mean_confidence`` and
    ``accuracy`` are ``null`` for empty bins. ``ece`` is the expected
    calibration error ``sum(count/N * |accuracy - mean_confidence|)``, ``mce``
    the largest gap over non-empty bins.
``confusions``
    The most frequent errors, most frequent first:
    ``[{"true", "pred", "count", "examples": [{"index", "text", "proba",
    "true_proba"}]}]``. Single-label: off-diagonal cells of the confusion
    matrix. Multi-label: within one document, a gold label that was missed
    (``true``) paired with a label predicted wrongly (``pred``); either side is
    ``null`` when a document only misses or only adds labels. Examples (only
    when texts are given) are the most confident mistakes of that kind:
    ``index`` is the row in the input, ``text`` is whitespace-collapsed and cut
    to about 200 characters, ``proba`` is the probability of ``pred`` and
    ``true_proba`` the probability of ``true`` (``null`` when absent).
``unseen_labels``
    ``{"n_documents", "n_occurrences", "labels": [{"label", "count"}]}``: the
    documents of ``y_true`` carrying labels not in ``classes``, the number of
    such labels (plus those passed as ``unseen_labels=``) and each label with
    its count, most frequent first.
``label_cardinality``
    Multi-label only: ``{"true": {...}, "pred": {...}}`` each
    ``{"mean", "min", "max", "histogram": {"0": n_docs, "1": ..., ...}}`` over
    the number of labels per document; ``null`` otherwise.
``throughput``
    ``{"docs_per_second", "seconds"}`` when the prediction time is known,
    else ``null``.
"""

from __future__ import annotations

from .html import render_html
from .metrics import (
    compute_report,
    default_ks,
    evaluate,
    labels_as_classes,
    predict_for_report,
    write_misclassified,
)
from .schema import (
    SCHEMA_VERSION,
    Averages,
    Calibration,
    CalibrationBin,
    ClassMetrics,
    Confusion,
    Example,
    OmittedClasses,
    Ranked,
    Report,
    TopK,
)
from .text import render_text

__all__ = [
    "SCHEMA_VERSION",
    "Averages",
    "Calibration",
    "CalibrationBin",
    "ClassMetrics",
    "Confusion",
    "Example",
    "OmittedClasses",
    "Ranked",
    "Report",
    "TopK",
    "compute_report",
    "default_ks",
    "evaluate",
    "labels_as_classes",
    "predict_for_report",
    "render_html",
    "render_text",
    "write_misclassified",
]
