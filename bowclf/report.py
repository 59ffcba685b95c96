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
``P@k``/``R@k``.

Labels the model never saw
--------------------------
A true label that is not in ``classes`` cannot be predicted. Such labels are
counted and listed under ``unseen_labels``. The rule for the metrics:

- they **count as errors** wherever no class index is needed: accuracy (and
  multi-label subset accuracy), ``P@k``/``R@k`` and top-k accuracy (a miss),
  calibration (an incorrect top-1 prediction), and the false positives of the
  class that was predicted for them (so they lower that class's precision and
  the micro/macro/weighted precision; supports and recalls of known classes
  are unaffected);
- they are **left out** wherever the index of the true class is needed: the
  confusion matrix, the top-confusions list and log-loss.

fastText instead drops unknown labels when it reads the test file, which
silently inflates its scores; here they are visible. In multi-label data an
unseen label can only come from label collections (an indicator matrix has no
column for it); it counts as a gold label that was missed for ``R@k`` and makes
its document wrong for subset accuracy; the indicator-based metrics (F1,
Hamming loss, per-label table) ignore it.

JSON keys (``Report.to_dict()``, schema version 1)
--------------------------------------------------
Every key below is always present; a value that does not apply is ``null``.
Floats are plain numbers (never NaN), labels are JSON strings or numbers.

``schema_version``
    ``1``; bumped on any incompatible change of this layout.
``n_documents``, ``n_classes``, ``multilabel``
    Number of evaluated documents, number of model classes, and whether the
    task is multi-label.
``accuracy``
    Single-label: fraction of documents whose predicted label is the true one.
    Multi-label: subset accuracy (predicted label set equals the gold set).
``macro``, ``micro``, ``weighted``
    ``{"precision", "recall", "f1"}`` averaged over classes
    (``sklearn.metrics.precision_recall_fscore_support``, ``zero_division=0``).
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
    one entry per requested ``k`` (string keys). ``k_effective`` is
    ``min(k, n_classes)``, the number of labels taken per document.
    ``accuracy`` is the top-k accuracy (true label among the ``k`` best;
    ``sklearn.metrics.top_k_accuracy_score``), ``null`` for multi-label;
    ``precision``/``recall`` are fastText's ``P@k``/``R@k`` (``null`` when no
    document has a gold label, where fastText would print NaN).
``per_class``
    One row per class, in the order of ``classes``:
    ``{"label", "precision", "recall", "f1", "support", "predicted"}`` where
    ``support`` is the number of documents with that true label and
    ``predicted`` the number of documents it was predicted for.
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
    [0, 1], ``[lower, upper)`` with 1.0 in the last bin; ``mean_confidence`` and
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

import csv
import io
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import scipy.sparse as sp
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from bowclf._render import render_html, render_text

__all__ = [
    "Averages",
    "Calibration",
    "CalibrationBin",
    "ClassMetrics",
    "Confusion",
    "Example",
    "Report",
    "TopK",
    "compute_report",
    "evaluate",
    "render_html",
    "render_text",
    "write_misclassified",
]

SCHEMA_VERSION = 1
EXAMPLE_CHARS = 200

Label = Any  # str, int, float or bool after conversion to Python scalars


# ---------------------------------------------------------------------------
# Report data classes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Averages:
    """Precision, recall and F1 averaged in one way (macro, micro, ...)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class TopK:
    """Top-k accuracy and fastText's ``P@k`` / ``R@k`` for one ``k``."""

    k: int
    k_effective: int
    accuracy: float | None
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class ClassMetrics:
    """One row of the per-class table."""

    label: Label
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability table, covering ``[lower, upper)``."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    """Expected/maximum calibration error and the reliability table."""

    kind: str
    n_bins: int
    ece: float
    mce: float
    bins: list[CalibrationBin]


@dataclass(frozen=True)
class Example:
    """An example document for a confusion."""

    index: int
    text: str
    proba: float | None
    true_proba: float | None


@dataclass(frozen=True)
class Confusion:
    """A frequent error: true label ``true`` predicted as ``pred``."""

    true: Label | None
    pred: Label | None
    count: int
    examples: list[Example] = field(default_factory=list)


@dataclass
class Report:
    """An evaluation report; see the module docstring for every field.

    Build it with :func:`compute_report` or :func:`evaluate`; render it with
    :func:`render_text` / :func:`render_html` or serialise it with
    :meth:`to_dict` / :meth:`to_json` (and back with :meth:`from_dict`).
    """

    n_documents: int
    n_classes: int
    multilabel: bool
    accuracy: float
    macro: Averages
    micro: Averages
    weighted: Averages
    samples: Averages | None
    log_loss: float | None
    hamming_loss: float | None
    top_k: dict[int, TopK]
    per_class: list[ClassMetrics]
    confusion_matrix: tuple[list[Label], list[list[int]]] | None
    calibration: Calibration
    confusions: list[Confusion]
    unseen_documents: int = 0
    unseen_counts: dict[Label, int] = field(default_factory=dict)
    label_cardinality: dict[str, dict[str, Any]] | None = None
    predict_seconds: float | None = None

    # -- derived values -----------------------------------------------------

    @property
    def labels(self) -> list[Label]:
        """The class labels, in model order."""
        return [row.label for row in self.per_class]

    @property
    def docs_per_second(self) -> float | None:
        """Prediction throughput, when the prediction time is known."""
        if self.predict_seconds is None or self.predict_seconds <= 0:
            return None
        return self.n_documents / self.predict_seconds

    # -- serialisation ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe nested dicts and lists.

        Returns
        -------
        dict
            The layout documented in the module docstring.
        """

        def avg(a: Averages | None) -> dict[str, float] | None:
            if a is None:
                return None
            return {"precision": a.precision, "recall": a.recall, "f1": a.f1}

        unseen = sorted(self.unseen_counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        cm = None
        if self.confusion_matrix is not None:
            cm = {
                "labels": list(self.confusion_matrix[0]),
                "matrix": [list(r) for r in self.confusion_matrix[1]],
            }
        throughput = None
        if self.predict_seconds is not None:
            throughput = {
                "docs_per_second": self.docs_per_second,
                "seconds": self.predict_seconds,
            }
        out = {
            "schema_version": SCHEMA_VERSION,
            "n_documents": self.n_documents,
            "n_classes": self.n_classes,
            "multilabel": self.multilabel,
            "accuracy": self.accuracy,
            "macro": avg(self.macro),
            "micro": avg(self.micro),
            "weighted": avg(self.weighted),
            "samples": avg(self.samples),
            "log_loss": self.log_loss,
            "hamming_loss": self.hamming_loss,
            "top_k": {
                str(k): {
                    "k": t.k,
                    "k_effective": t.k_effective,
                    "accuracy": t.accuracy,
                    "precision": t.precision,
                    "recall": t.recall,
                }
                for k, t in sorted(self.top_k.items())
            },
            "per_class": [
                {
                    "label": r.label,
                    "precision": r.precision,
                    "recall": r.recall,
                    "f1": r.f1,
                    "support": r.support,
                    "predicted": r.predicted,
                }
                for r in self.per_class
            ],
            "confusion_matrix": cm,
            "calibration": {
                "kind": self.calibration.kind,
                "n_bins": self.calibration.n_bins,
                "ece": self.calibration.ece,
                "mce": self.calibration.mce,
                "bins": [
                    {
                        "lower": b.lower,
                        "upper": b.upper,
                        "count": b.count,
                        "mean_confidence": b.mean_confidence,
                        "accuracy": b.accuracy,
                    }
                    for b in self.calibration.bins
                ],
            },
            "confusions": [
                {
                    "true": c.true,
                    "pred": c.pred,
                    "count": c.count,
                    "examples": [
                        {
                            "index": e.index,
                            "text": e.text,
                            "proba": e.proba,
                            "true_proba": e.true_proba,
                        }
                        for e in c.examples
                    ],
                }
                for c in self.confusions
            ],
            "unseen_labels": {
                "n_documents": self.unseen_documents,
                "n_occurrences": int(sum(self.unseen_counts.values())),
                "labels": [{"label": lab, "count": n} for lab, n in unseen],
            },
            "label_cardinality": self.label_cardinality,
            "throughput": throughput,
        }
        return _json_safe(out)

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as a JSON string (see :meth:`to_dict`).

        Parameters
        ----------
        indent : int or None, default 2
            Passed to :func:`json.dumps`; ``None`` for one line.

        Returns
        -------
        str
            Strict JSON (no NaN or Infinity).
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (e.g. a saved JSON file).

        Parameters
        ----------
        data : mapping
            A dict with the documented keys.

        Returns
        -------
        Report

        Raises
        ------
        ValueError
            If the schema version is not supported.
        """
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {version!r}")

        def avg(d: Mapping[str, float] | None) -> Averages | None:
            return None if d is None else Averages(d["precision"], d["recall"], d["f1"])

        cal = data["calibration"]
        cm = data["confusion_matrix"]
        tp = data["throughput"]
        return cls(
            n_documents=data["n_documents"],
            n_classes=data["n_classes"],
            multilabel=data["multilabel"],
            accuracy=data["accuracy"],
            macro=avg(data["macro"]),
            micro=avg(data["micro"]),
            weighted=avg(data["weighted"]),
            samples=avg(data["samples"]),
            log_loss=data["log_loss"],
            hamming_loss=data["hamming_loss"],
            top_k={
                int(t["k"]): TopK(
                    t["k"], t["k_effective"], t["accuracy"], t["precision"], t["recall"]
                )
                for t in data["top_k"].values()
            },
            per_class=[
                ClassMetrics(
                    r["label"], r["precision"], r["recall"], r["f1"], r["support"], r["predicted"]
                )
                for r in data["per_class"]
            ],
            confusion_matrix=None if cm is None else (list(cm["labels"]), cm["matrix"]),
            calibration=Calibration(
                kind=cal["kind"],
                n_bins=cal["n_bins"],
                ece=cal["ece"],
                mce=cal["mce"],
                bins=[
                    CalibrationBin(
                        b["lower"], b["upper"], b["count"], b["mean_confidence"], b["accuracy"]
                    )
                    for b in cal["bins"]
                ],
            ),
            confusions=[
                Confusion(
                    c["true"],
                    c["pred"],
                    c["count"],
                    [
                        Example(e["index"], e["text"], e["proba"], e["true_proba"])
                        for e in c["examples"]
                    ],
                )
                for c in data["confusions"]
            ],
            unseen_documents=data["unseen_labels"]["n_documents"],
            unseen_counts={u["label"]: u["count"] for u in data["unseen_labels"]["labels"]},
            label_cardinality=data["label_cardinality"],
            predict_seconds=None if tp is None else tp["seconds"],
        )

    # -- rendering shortcuts -------------------------------------------------

    def render_text(self, **kwargs: Any) -> str:
        """Shortcut for :func:`render_text` ``(self, **kwargs)``."""
        return render_text(self, **kwargs)

    def render_html(self, **kwargs: Any) -> str:
        """Shortcut for :func:`render_html` ``(self, **kwargs)``."""
        return render_html(self, **kwargs)

    def __str__(self) -> str:
        return render_text(self, color=False)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _py(value: Any) -> Any:
    """Convert numpy scalars to the equivalent Python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_list(values: Any) -> list[Any]:
    """A list of Python scalars from a list, tuple, array or pandas object."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    return [_py(v) for v in values]


def _json_label(value: Any) -> Any:
    value = _py(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _json_safe(obj: Any) -> Any:
    """Recursively turn numpy values into JSON-safe Python values (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_safe(v) for v in obj.tolist()]
    obj = _py(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _f(x: Any) -> float:
    return float(x)


def _clean_text(text: Any, limit: int = EXAMPLE_CHARS) -> str:
    """Collapse whitespace and cut ``text`` to about ``limit`` characters."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def _check_k(k: int | Iterable[int]) -> list[int]:
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    out = []
    for v in ks:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"k must be positive integers, got {v!r}")
        out.append(int(v))
    if not out:
        raise ValueError("k must name at least one value")
    return sorted(set(out))


def _rank(proba: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores per row (ties: lower index first)."""
    return np.argsort(-proba, axis=1, kind="stable")[:, :k]


def _averages(y_true: Any, y_pred: Any, labels: Any, average: str) -> Averages:
    p, r, f, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=average, zero_division=0
    )
    return Averages(_f(p), _f(r), _f(f))


def _calibration(conf: np.ndarray, correct: np.ndarray, n_bins: int, kind: str) -> Calibration:
    """Equal-width reliability table and ECE/MCE (bins as in sklearn's calibration_curve)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="right")
    counts = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    sum_acc = np.bincount(idx, weights=correct.astype(float), minlength=n_bins)
    n = max(len(conf), 1)
    bins = []
    ece = 0.0
    mce = 0.0
    for b in range(n_bins):
        cnt = int(counts[b])
        if cnt:
            mc = float(sum_conf[b] / cnt)
            acc = float(sum_acc[b] / cnt)
            gap = abs(acc - mc)
            ece += cnt / n * gap
            mce = max(mce, gap)
        else:
            mc = acc = None
        bins.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), cnt, mc, acc))
    return Calibration(kind=kind, n_bins=n_bins, ece=float(ece), mce=float(mce), bins=bins)


def _examples(
    rows: np.ndarray,
    texts: Sequence[Any] | None,
    proba_pred: np.ndarray | None,
    proba_true: np.ndarray | None,
    limit: int,
) -> list[Example]:
    """The ``limit`` most confident (highest ``proba_pred``) rows, as examples."""
    if texts is None or limit <= 0 or len(rows) == 0:
        return []
    if proba_pred is not None:
        order = np.lexsort((rows, -proba_pred))
    elif proba_true is not None:
        order = np.lexsort((rows, proba_true))
    else:
        order = np.argsort(rows, kind="stable")
    out = []
    for j in order[:limit]:
        out.append(
            Example(
                index=int(rows[j]),
                text=_clean_text(texts[int(rows[j])]),
                proba=None if proba_pred is None else float(proba_pred[j]),
                true_proba=None if proba_true is None else float(proba_true[j]),
            )
        )
    return out


def _is_indicator(y: Any, n_classes: int) -> bool:
    if sp.issparse(y):
        return True
    if isinstance(y, np.ndarray):
        return y.ndim == 2 and y.dtype.kind in "biuf"
    try:
        rows = list(y)
    except TypeError:
        return False
    if not rows:
        return False
    for row in rows:
        if isinstance(row, (str, bytes, set, frozenset)) or not hasattr(row, "__len__"):
            return False
        if len(row) != n_classes:
            return False
        for v in row:
            if isinstance(v, (bool, np.bool_)):
                continue
            if not isinstance(v, (int, np.integer)) or v not in (0, 1):
                return False
    return True


def _to_indicator(
    y: Any, classes: list[Label], n: int, what: str, allow_unseen: bool
) -> tuple[np.ndarray, list[list[Label]]]:
    """Indicator matrix for ``y`` plus, per row, the labels not in ``classes``."""
    c = len(classes)
    if _is_indicator(y, c):
        arr = y.toarray() if sp.issparse(y) else np.asarray(y)
        if arr.ndim != 2 or arr.shape != (n, c):
            raise ValueError(f"{what} indicator must have shape ({n}, {c}), got {arr.shape}")
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{what} indicator must hold only 0 and 1")
        return arr.astype(np.int8), [[] for _ in range(n)]
    rows = [list(r) if not isinstance(r, str) else [r] for r in y]
    if len(rows) != n:
        raise ValueError(f"{what} has {len(rows)} rows, expected {n}")
    known = {(_py(lab)): i for i, lab in enumerate(classes)}
    unseen = [[_py(lab) for lab in r if _py(lab) not in known] for r in rows]
    if not allow_unseen and any(unseen):
        bad = sorted({str(lab) for r in unseen for lab in r})
        raise ValueError(f"{what} contains labels not in classes: {bad[:5]}")
    kept = [[_py(lab) for lab in r if _py(lab) in known] for r in rows]
    mlb = MultiLabelBinarizer(classes=classes)
    arr = mlb.fit_transform(kept)
    return np.asarray(arr, dtype=np.int8), unseen


def _cardinality(counts: np.ndarray) -> dict[str, Any]:
    hist = np.bincount(counts) if len(counts) else np.zeros(1, dtype=int)
    return {
        "mean": float(counts.mean()) if len(counts) else 0.0,
        "min": int(counts.min()) if len(counts) else 0,
        "max": int(counts.max()) if len(counts) else 0,
        "histogram": {str(i): int(v) for i, v in enumerate(hist) if v},
    }


def _merge_unseen(counter: Counter, extra: Mapping[Any, int] | Iterable[Any] | None) -> None:
    if extra is None:
        return
    if isinstance(extra, Mapping):
        for lab, cnt in extra.items():
            counter[_json_label(lab)] += int(cnt)
    else:
        for lab in extra:
            counter[_json_label(lab)] += 1


# ---------------------------------------------------------------------------
# compute_report
# ---------------------------------------------------------------------------


def compute_report(
    y_true: Any,
    proba: Any,
    classes: Sequence[Label] | np.ndarray,
    *,
    y_pred: Any = None,
    texts: Sequence[Any] | None = None,
    k: int | Iterable[int] = (1, 5),
    multilabel: bool = False,
    n_bins: int = 10,
    top_confusions: int = 10,
    examples_per_confusion: int = 3,
    predict_seconds: float | None = None,
    unseen_labels: Mapping[Label, int] | Iterable[Label] | None = None,
) -> Report:
    """Compute an evaluation report from true labels and predicted probabilities.

    Parameters
    ----------
    y_true : array-like
        Single-label: one label per document (labels outside ``classes`` are
        unseen labels, see the module docstring for how they count).
        Multi-label: an ``(n, c)`` 0/1 indicator (numeric array, sparse matrix
        or list of length-``c`` lists of 0/1) or a sequence of label
        collections (converted with ``MultiLabelBinarizer(classes=classes)``;
        unseen labels are counted). A list of length-``c`` lists or tuples of
        0/1 is read as an indicator; sets are always label collections (use
        them, or a numpy indicator, when integer classes make it ambiguous).
    proba : array-like of shape (n, c)
        Predicted probabilities, columns aligned with ``classes``. Single-label
        rows must sum to 1; multi-label entries are per-label probabilities.
    classes : sequence
        The model's classes (e.g. ``model.classes_``).
    y_pred : array-like, optional
        Predicted labels (single-label; default argmax of ``proba``) or an
        indicator / label collections (multi-label; default ``proba >= 0.5``).
    texts : sequence of str, optional
        The documents, used for the examples of the top confusions.
    k : int or iterable of int, default (1, 5)
        The ``k`` of top-k accuracy, ``P@k`` and ``R@k``.
    multilabel : bool, default False
        Treat the task as multi-label.
    n_bins : int, default 10
        Number of equal-width calibration bins.
    top_confusions : int, default 10
        Number of most frequent confusions to list.
    examples_per_confusion : int, default 3
        Example documents per confusion (only when ``texts`` is given).
    predict_seconds : float, optional
        Time spent predicting, for the throughput.
    unseen_labels : mapping or iterable, optional
        Extra unseen-label occurrences known to the caller, e.g. labels
        dropped before ``y_true`` was made into an indicator matrix: a mapping
        ``label -> count`` or an iterable with one item per occurrence. They are
        added to the ``unseen_labels`` counts only (their documents are not in
        ``y_true``, so no metric changes).

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        On inconsistent shapes, invalid probabilities, predicted labels that
        are not classes, or invalid parameters.
    """
    classes_list = _as_list(classes)
    c = len(classes_list)
    if c == 0:
        raise ValueError("classes is empty")
    if len(set(classes_list)) != c:
        raise ValueError("classes contains duplicates")
    proba_arr = np.asarray(proba, dtype=np.float64)
    if proba_arr.ndim != 2 or proba_arr.shape[1] != c:
        raise ValueError(f"proba must have shape (n_documents, {c}), got {proba_arr.shape}")
    n = proba_arr.shape[0]
    if n == 0:
        raise ValueError("no documents to evaluate")
    if not np.isfinite(proba_arr).all():
        raise ValueError("proba contains NaN or infinite values")
    if proba_arr.min() < -1e-6 or proba_arr.max() > 1 + 1e-6:
        raise ValueError("proba values must lie in [0, 1]")
    proba_arr = np.clip(proba_arr, 0.0, 1.0)
    ks = _check_k(k)
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if top_confusions < 0 or examples_per_confusion < 0:
        raise ValueError("top_confusions and examples_per_confusion must be >= 0")
    if texts is not None:
        texts = list(texts)
        if len(texts) != n:
            raise ValueError(f"texts has {len(texts)} items, expected {n}")
    if predict_seconds is not None and predict_seconds < 0:
        raise ValueError("predict_seconds must be >= 0")

    args = dict(
        classes=classes_list,
        texts=texts,
        ks=ks,
        n_bins=int(n_bins),
        top_confusions=int(top_confusions),
        examples_per_confusion=int(examples_per_confusion),
    )
    if multilabel:
        report = _multilabel_report(y_true, proba_arr, y_pred=y_pred, **args)
    else:
        report = _single_label_report(y_true, proba_arr, y_pred=y_pred, **args)
    counter = Counter(report.unseen_counts)
    _merge_unseen(counter, unseen_labels)
    report.unseen_counts = dict(counter)
    report.predict_seconds = None if predict_seconds is None else float(predict_seconds)
    return report


def _single_label_report(
    y_true: Any,
    proba: np.ndarray,
    *,
    y_pred: Any,
    classes: list[Label],
    texts: list[Any] | None,
    ks: list[int],
    n_bins: int,
    top_confusions: int,
    examples_per_confusion: int,
) -> Report:
    n, c = proba.shape
    one_per_doc = "y_true must be one label per document (pass multilabel=True otherwise)"
    if sp.issparse(y_true) or (isinstance(y_true, np.ndarray) and y_true.ndim != 1):
        raise ValueError(one_per_doc)
    y_list = _as_list(y_true)
    if any(isinstance(v, (list, tuple, set, frozenset, dict, np.ndarray)) for v in y_list):
        raise ValueError(one_per_doc)
    if len(y_list) != n:
        raise ValueError(f"y_true has {len(y_list)} labels, expected {n}")
    sums = proba.sum(axis=1)
    if np.abs(sums - 1.0).max() > 1e-3:
        raise ValueError(
            "rows of proba must sum to 1 for single-label data "
            "(pass multilabel=True for per-label probabilities)"
        )
    index = {lab: i for i, lab in enumerate(classes)}
    y_idx = np.array([index.get(v, -1) for v in y_list], dtype=np.int64)
    known = y_idx >= 0
    n_known = int(known.sum())
    unseen = Counter(_json_label(v) for v, ok in zip(y_list, known, strict=True) if not ok)

    top1 = np.argmax(proba, axis=1)
    if y_pred is None:
        p_idx = top1
    else:
        pred_list = _as_list(y_pred)
        if len(pred_list) != n:
            raise ValueError(f"y_pred has {len(pred_list)} labels, expected {n}")
        missing = sorted({str(v) for v in pred_list if v not in index})
        if missing:
            raise ValueError(f"y_pred contains labels that are not classes: {missing[:5]}")
        p_idx = np.array([index[v] for v in pred_list], dtype=np.int64)

    labels = list(range(c))
    # Unseen rows carry the index -1: never equal to a prediction (an error),
    # a false positive for the predicted class, outside every class's support.
    accuracy = _f(skm.accuracy_score(y_idx, p_idx))
    p, r, f, s = skm.precision_recall_fscore_support(
        y_idx, p_idx, labels=labels, average=None, zero_division=0
    )
    predicted = np.bincount(p_idx, minlength=c)
    per_class = [
        ClassMetrics(classes[i], _f(p[i]), _f(r[i]), _f(f[i]), int(s[i]), int(predicted[i]))
        for i in range(c)
    ]
    macro = _averages(y_idx, p_idx, labels, "macro")
    micro = _averages(y_idx, p_idx, labels, "micro")
    weighted = _averages(y_idx, p_idx, labels, "weighted")

    yk, pk = y_idx[known], proba[known]
    log_loss = None
    if n_known and c >= 2:
        log_loss = _f(skm.log_loss(yk, pk / pk.sum(axis=1, keepdims=True), labels=labels))

    top_k = {}
    for kk in ks:
        keff = min(kk, c)
        if n_known == 0:
            hits_sk = 0.0
        elif keff >= c:
            hits_sk = float(n_known)  # every class is in the top k
        elif c == 2:  # binary: sklearn wants the positive-class score
            hits_sk = skm.top_k_accuracy_score(yk, pk[:, 1], k=keff, labels=labels, normalize=False)
        else:
            hits_sk = skm.top_k_accuracy_score(yk, pk, k=keff, labels=labels, normalize=False)
        # fastText P@k/R@k: count correct labels among the k best of every
        # document (ties broken like argmax, by lower class index).
        ranked = _rank(proba, keff)
        correct = int((ranked == y_idx[:, None]).any(axis=1).sum())
        top_k[kk] = TopK(
            k=kk,
            k_effective=keff,
            accuracy=float(hits_sk) / n,
            precision=correct / (n * keff),
            recall=correct / n,
        )

    if n_known and c > 1:
        cm = skm.confusion_matrix(yk, p_idx[known], labels=labels)
    else:  # one class only, or every document has a label the model never saw
        cm = np.full((c, c), n_known if c == 1 else 0, dtype=np.int64)
    conf = proba[np.arange(n), top1]
    calibration = _calibration(conf, top1 == y_idx, n_bins, "top1")

    confusions = []
    if top_confusions:
        off = cm.copy()
        np.fill_diagonal(off, 0)
        ti, pi = np.nonzero(off)
        order = np.lexsort((pi, ti, -off[ti, pi]))[:top_confusions]
        for j in order:
            t, q = int(ti[j]), int(pi[j])
            rows = np.flatnonzero((y_idx == t) & (p_idx == q))
            examples = _examples(
                rows, texts, proba[rows, q], proba[rows, t], examples_per_confusion
            )
            confusions.append(Confusion(classes[t], classes[q], int(off[t, q]), examples))

    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=False,
        accuracy=accuracy,
        macro=macro,
        micro=micro,
        weighted=weighted,
        samples=None,
        log_loss=log_loss,
        hamming_loss=None,
        top_k=top_k,
        per_class=per_class,
        confusion_matrix=([_json_label(x) for x in classes], cm.astype(int).tolist()),
        calibration=calibration,
        confusions=confusions,
        unseen_documents=n - n_known,
        unseen_counts=dict(unseen),
    )


def _multilabel_report(
    y_true: Any,
    proba: np.ndarray,
    *,
    y_pred: Any,
    classes: list[Label],
    texts: list[Any] | None,
    ks: list[int],
    n_bins: int,
    top_confusions: int,
    examples_per_confusion: int,
) -> Report:
    n, c = proba.shape
    Y, unseen_rows = _to_indicator(y_true, classes, n, "y_true", allow_unseen=True)
    if y_pred is None:
        P = (proba >= 0.5).astype(np.int8)
    else:
        P, _ = _to_indicator(y_pred, classes, n, "y_pred", allow_unseen=False)
    n_unseen = np.array([len(u) for u in unseen_rows], dtype=np.int64)
    unseen = Counter(_json_label(lab) for u in unseen_rows for lab in u)

    p, r, f, s = skm.precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    predicted = P.sum(axis=0)
    per_class = [
        ClassMetrics(classes[i], _f(p[i]), _f(r[i]), _f(f[i]), int(s[i]), int(predicted[i]))
        for i in range(c)
    ]
    labels = list(range(c))
    macro = _averages(Y, P, labels, "macro")
    micro = _averages(Y, P, labels, "micro")
    weighted = _averages(Y, P, labels, "weighted")
    samples = _averages(Y, P, labels, "samples")
    clean = n_unseen == 0  # documents with an unseen gold label are never exactly right
    exact = skm.accuracy_score(Y[clean], P[clean], normalize=False) if clean.any() else 0.0
    accuracy = float(exact) / n
    hamming = _f(skm.hamming_loss(Y, P))
    log_loss = _f(skm.log_loss(Y.ravel(), proba.ravel(), labels=[0, 1]))

    gold = Y.sum(axis=1) + n_unseen
    counted = gold > 0  # fastText skips documents without labels
    top_k = {}
    for kk in ks:
        keff = min(kk, c)
        ranked = _rank(proba, keff)
        hits = np.take_along_axis(Y, ranked, axis=1).sum(axis=1)
        n_pred = int(counted.sum()) * keff
        n_gold = int(gold[counted].sum())
        correct = int(hits[counted].sum())
        top_k[kk] = TopK(
            k=kk,
            k_effective=keff,
            accuracy=None,
            precision=correct / n_pred if n_pred else None,  # undefined without gold labels
            recall=correct / n_gold if n_gold else None,
        )

    calibration = _calibration(proba.ravel(), Y.ravel().astype(bool), n_bins, "per_label")

    confusions: list[Confusion] = []
    if top_confusions:
        missed = (Y == 1) & (P == 0)
        extra = (Y == 0) & (P == 1)
        pairs: Counter[tuple[int, int]] = Counter()
        rows_of: dict[tuple[int, int], list[int]] = {}
        for i in np.flatnonzero(missed.any(axis=1) | extra.any(axis=1)):
            ms = np.flatnonzero(missed[i]).tolist() or [-1]
            es = np.flatnonzero(extra[i]).tolist() or [-1]
            for t in ms:
                for q in es:
                    pairs[(t, q)] += 1
                    rows_of.setdefault((t, q), []).append(int(i))
        ranked_pairs = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top_confusions]
        for (t, q), cnt in ranked_pairs:
            rows = np.asarray(rows_of[(t, q)], dtype=np.int64)
            pp = proba[rows, q] if q >= 0 else None
            pt = proba[rows, t] if t >= 0 else None
            examples = _examples(rows, texts, pp, pt, examples_per_confusion)
            confusions.append(
                Confusion(
                    classes[t] if t >= 0 else None,
                    classes[q] if q >= 0 else None,
                    int(cnt),
                    examples,
                )
            )

    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=True,
        accuracy=accuracy,
        macro=macro,
        micro=micro,
        weighted=weighted,
        samples=samples,
        log_loss=log_loss,
        hamming_loss=hamming,
        top_k=top_k,
        per_class=per_class,
        confusion_matrix=None,
        calibration=calibration,
        confusions=confusions,
        unseen_documents=int((n_unseen > 0).sum()),
        unseen_counts=dict(unseen),
        label_cardinality={
            "true": _cardinality(Y.sum(axis=1) + n_unseen),
            "pred": _cardinality(P.sum(axis=1)),
        },
    )


# ---------------------------------------------------------------------------
# evaluate / write_misclassified
# ---------------------------------------------------------------------------


def evaluate(
    model: Any,
    texts: Sequence[Any],
    y: Any,
    *,
    k: int | Iterable[int] = (1, 5),
    proba: np.ndarray | None = None,
    **kwargs: Any,
) -> Report:
    """Predict ``texts`` with ``model`` (timed) and report against ``y``.

    Parameters
    ----------
    model : object
        Anything with ``predict_proba(texts)`` and ``classes_``. If it has an
        attribute ``multilabel_`` that is true, the task is multi-label and
        ``model.predict(texts)`` (label collections or an indicator) gives
        ``y_pred``.
    texts : sequence of str
        The documents.
    y : array-like
        True labels (see :func:`compute_report`).
    k : int or iterable of int, default (1, 5)
        The ``k`` of top-k accuracy, ``P@k`` and ``R@k``.
    proba : ndarray of shape (n_documents, n_classes), optional
        ``model.predict_proba(texts)`` when the caller has it already (pass the time it took
        as ``predict_seconds``); computed here otherwise.
    **kwargs
        Passed on to :func:`compute_report` (e.g. ``n_bins``,
        ``top_confusions``).

    Returns
    -------
    Report
        With ``throughput`` from the time spent in ``predict_proba``.
    """
    texts = list(texts)
    classes = list(model.classes_)
    start = time.perf_counter()
    if proba is None:
        proba = model.predict_proba(texts)
    seconds = time.perf_counter() - start
    multilabel = bool(getattr(model, "multilabel_", False))
    kwargs.setdefault("predict_seconds", seconds)
    kwargs.setdefault("texts", texts)
    if multilabel and "y_pred" not in kwargs:
        pred = model.predict(texts)
        kwargs["y_pred"], _ = _to_indicator(
            pred, [_py(x) for x in classes], len(texts), "model.predict", allow_unseen=False
        )
    return compute_report(y, proba, classes, k=k, multilabel=multilabel, **kwargs)


def write_misclassified(
    path_or_file: str | os.PathLike[str] | IO[str],
    texts: Sequence[Any],
    y_true: Any,
    y_pred: Any,
    proba: Any,
    classes: Sequence[Label] | np.ndarray,
) -> int:
    """Write the misclassified documents of a single-label task as CSV.

    Columns: ``index`` (row in the input), ``text``, ``true_label``,
    ``predicted_label``, ``predicted_proba`` (probability of the predicted
    label) and ``true_proba`` (probability of the true label; empty when the
    true label is not a class). Rows keep the input order.

    Parameters
    ----------
    path_or_file : str, path-like or text file
        Where to write; a path is opened with UTF-8 encoding.
    texts : sequence of str
        The documents.
    y_true, y_pred : array-like
        True and predicted labels, one per document.
    proba : array-like of shape (n, c)
        Predicted probabilities, columns aligned with ``classes``.
    classes : sequence
        The model's classes.

    Returns
    -------
    int
        The number of rows written (excluding the header).
    """
    classes_list = _as_list(classes)
    index = {lab: i for i, lab in enumerate(classes_list)}
    proba_arr = np.asarray(proba, dtype=np.float64)
    texts = list(texts)
    yt = _as_list(y_true)
    yp = _as_list(y_pred)
    n = len(texts)
    if not (len(yt) == len(yp) == proba_arr.shape[0] == n):
        raise ValueError("texts, y_true, y_pred and proba must have the same length")
    if proba_arr.ndim != 2 or proba_arr.shape[1] != len(classes_list):
        raise ValueError(f"proba must have shape (n, {len(classes_list)})")

    def fmt(x: float) -> str:
        return f"{x:.6g}"

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["index", "text", "true_label", "predicted_label", "predicted_proba", "true_proba"]
    )
    written = 0
    for i in range(n):
        if yt[i] == yp[i]:
            continue
        q = index.get(yp[i])
        t = index.get(yt[i])
        writer.writerow(
            [
                i,
                texts[i],
                yt[i],
                yp[i],
                "" if q is None else fmt(proba_arr[i, q]),
                "" if t is None else fmt(proba_arr[i, t]),
            ]
        )
        written += 1
    data = buf.getvalue()
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
    else:
        path_or_file.write(data)
    return written
