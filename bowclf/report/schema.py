"""The report's data: frozen dataclasses, and the JSON layout documented in
:mod:`bowclf.report` (``to_dict`` / ``from_dict``)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._json import json_safe, plain

SCHEMA_VERSION = 2
#: Largest number of classes whose confusion matrix is also kept (and written) dense.
DENSE_CONFUSION_MAX = 200
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
class OmittedClasses:
    """The classes a report over many classes leaves out of ``per_class``, aggregated.

    ``precision``, ``recall`` and ``f1`` are their unweighted means (as ``macro``, over
    these classes only); ``support`` and ``predicted`` count documents."""

    n_classes: int
    n_with_support: int
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Ranked:
    """The ``k`` most probable classes of every document, the input of a report over many
    classes (see :func:`bowclf.report.compute_report`).

    ``indices`` (n, k) are column numbers into the classes, best first (−1: no label), and
    ``proba`` (n, k) their probabilities (``nan`` where there is no label)."""

    indices: np.ndarray
    proba: np.ndarray

    def __post_init__(self) -> None:
        idx, p = np.asarray(self.indices), np.asarray(self.proba, dtype=np.float64)
        if idx.ndim != 2 or p.shape != idx.shape or idx.shape[1] < 1:
            raise ValueError("ranked indices and proba must be two (n, k) arrays, k >= 1")
        if not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("ranked indices must be integers")
        object.__setattr__(self, "indices", idx.astype(np.int64, copy=False))
        object.__setattr__(self, "proba", p)

    @property
    def k(self) -> int:
        """Labels per document."""
        return self.indices.shape[1]


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability table, covering ``(lower, upper]`` (the first bin holds
    0.0 too), as scikit-learn's ``calibration_curve``."""

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
    """An evaluation report; see :mod:`bowclf.report` for every field.

    Build it with :func:`~bowclf.report.compute_report` or :func:`~bowclf.report.evaluate`;
    render it with :func:`~bowclf.report.render_text` / :func:`~bowclf.report.render_html`
    or serialise it with :meth:`to_dict` / :meth:`to_json` (and back with :meth:`from_dict`).

    The confusion data of a single-label report are ``confusion_cells``: one
    ``(true index, predicted index, count)`` triple per non-zero cell, so their size is
    bounded by the number of documents, never by ``n_classes²``.  ``confusion_matrix`` is
    ``(labels, matrix)`` with ``matrix`` the dense list of rows only up to
    :data:`DENSE_CONFUSION_MAX` classes (``None`` above it).

    A report over many classes (built from :class:`Ranked` predictions) lists only the most
    frequent classes in ``per_class``, aggregates the others in ``per_class_omitted``, and
    limits ``confusion_matrix`` and ``confusion_cells`` to the listed classes (indices into
    ``per_class``).
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
    confusion_matrix: tuple[list[Label], list[list[int]] | None] | None
    calibration: Calibration
    confusions: list[Confusion]
    unseen_documents: int = 0
    unseen_counts: dict[Label, int] = field(default_factory=dict)
    label_cardinality: dict[str, dict[str, Any]] | None = None
    predict_seconds: float | None = None
    confusion_cells: list[tuple[int, int, int]] | None = None
    per_class_omitted: OmittedClasses | None = None

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

    def confusion_sparse(self) -> sp.csr_array | None:
        """The confusion matrix as a sparse ``n_classes × n_classes`` array (rows: true
        class), or ``None`` for multi-label reports."""
        if self.confusion_cells is None:
            if self.confusion_matrix is None or self.confusion_matrix[1] is None:
                return None
            return sp.csr_array(np.asarray(self.confusion_matrix[1], dtype=np.int64))
        c = self.n_classes if self.confusion_matrix is None else len(self.confusion_matrix[0])
        cells = np.asarray(self.confusion_cells, dtype=np.int64).reshape(-1, 3)
        return sp.csr_array((cells[:, 2], (cells[:, 0], cells[:, 1])), shape=(c, c))

    # -- serialisation ------------------------------------------------------

    def wrong_documents(self) -> int | None:
        """Documents whose predicted labels are not exactly their gold ones (from the
        accuracy, unseen gold labels included), or None without an accuracy."""
        if self.accuracy is None:
            return None
        return round((1.0 - self.accuracy) * self.n_documents)

    def confusions_note(self) -> tuple[str, bool] | None:
        """When no confusion is listed: what to say instead, and whether it is good news
        (there are no errors at all), for every rendering alike; None when some are listed."""
        if self.confusions:
            return None
        errors = self.wrong_documents()
        if not errors:
            return "no errors", True
        if self.unseen_documents and not self.multilabel and errors == self.unseen_documents:
            unseen = f"{self.unseen_documents:,}"
            return (f"no confusions between the model's classes: the errors are documents "
                    f"whose gold labels it never saw ({unseen})"), False  # fmt: skip
        return "no confusions listed", False

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe nested dicts and lists.

        Returns
        -------
        dict
            The layout documented in :mod:`bowclf.report`.
        """
        unseen = sorted(self.unseen_counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        throughput = None
        if self.predict_seconds is not None:
            throughput = {"docs_per_second": self.docs_per_second, "seconds": self.predict_seconds}
        out = {
            "schema_version": SCHEMA_VERSION,
            "n_documents": self.n_documents,
            "n_classes": self.n_classes,
            "multilabel": self.multilabel,
            "accuracy": self.accuracy,
            **{name: _as_dict(getattr(self, name)) for name in _AVERAGES},
            "log_loss": self.log_loss,
            "hamming_loss": self.hamming_loss,
            "top_k": {str(k): _as_dict(t) for k, t in sorted(self.top_k.items())},
            "per_class": [_as_dict(r) for r in self.per_class],
            "confusion_matrix": self._confusion_dict(),
            "calibration": _as_dict(self.calibration),
            "confusions": [_as_dict(c) for c in self.confusions],
            "unseen_labels": {
                "n_documents": self.unseen_documents,
                "n_occurrences": int(sum(self.unseen_counts.values())),
                "labels": [{"label": lab, "count": n} for lab, n in unseen],
            },
            "label_cardinality": self.label_cardinality,
            "throughput": throughput,
        }
        if self.per_class_omitted is not None:  # reports over many classes only
            out["per_class_omitted"] = _as_dict(self.per_class_omitted)
        return json_safe(out)

    def _confusion_dict(self) -> dict[str, Any] | None:
        if self.confusion_matrix is None:
            return None
        labels, matrix = self.confusion_matrix
        cells = self.confusion_cells
        if cells is None:
            cm = self.confusion_sparse().tocoo()
            cells = list(zip(cm.row.tolist(), cm.col.tolist(), cm.data.tolist(), strict=True))
        return {
            "labels": list(labels),
            "matrix": None if matrix is None else [list(r) for r in matrix],
            "cells": [list(cell) for cell in cells],
        }

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
            A dict with the documented keys (schema version 1 or 2).

        Returns
        -------
        Report

        Raises
        ------
        ValueError
            If the schema version is not supported.
        """
        version = data.get("schema_version")
        if version not in (1, SCHEMA_VERSION):
            raise ValueError(f"unsupported report schema_version {version!r}")
        cm = data["confusion_matrix"]
        tp = data["throughput"]
        return cls(
            n_documents=data["n_documents"],
            n_classes=data["n_classes"],
            multilabel=data["multilabel"],
            accuracy=data["accuracy"],
            **{name: _averages(data[name]) for name in _AVERAGES},
            log_loss=data["log_loss"],
            hamming_loss=data["hamming_loss"],
            top_k={int(t["k"]): TopK(**t) for t in data["top_k"].values()},
            per_class=[ClassMetrics(**r) for r in data["per_class"]],
            confusion_matrix=None if cm is None else (list(cm["labels"]), cm["matrix"]),
            confusion_cells=None
            if cm is None or "cells" not in cm
            else [tuple(cell) for cell in cm["cells"]],
            calibration=_calibration(data["calibration"]),
            confusions=[
                Confusion(c["true"], c["pred"], c["count"], [Example(**e) for e in c["examples"]])
                for c in data["confusions"]
            ],
            unseen_documents=data["unseen_labels"]["n_documents"],
            unseen_counts={u["label"]: u["count"] for u in data["unseen_labels"]["labels"]},
            label_cardinality=data["label_cardinality"],
            predict_seconds=None if tp is None else tp["seconds"],
            per_class_omitted=None
            if data.get("per_class_omitted") is None
            else OmittedClasses(**data["per_class_omitted"]),
        )

    # -- rendering shortcuts -------------------------------------------------

    def render_text(self, **kwargs: Any) -> str:
        """Shortcut for :func:`~bowclf.report.render_text` ``(self, **kwargs)``.

        Parameters
        ----------
        **kwargs
            Keyword arguments of :func:`~bowclf.report.render_text` (``width``, ``color``,
            ``max_rows``).

        Returns
        -------
        str
            The report as terminal text.
        """
        from .text import render_text

        return render_text(self, **kwargs)

    def render_html(self, **kwargs: Any) -> str:
        """Shortcut for :func:`~bowclf.report.render_html` ``(self, **kwargs)``.

        Parameters
        ----------
        **kwargs
            Keyword arguments of :func:`~bowclf.report.render_html` (``title``,
            ``explain``).

        Returns
        -------
        str
            A self-contained HTML page.
        """
        from .html import render_html

        return render_html(self, **kwargs)

    def __str__(self) -> str:
        return self.render_text(color=False)


_AVERAGES = ("macro", "micro", "weighted", "samples")


def _as_dict(obj: Any) -> Any:
    """A dataclass as nested dicts (their field names are the JSON keys)."""
    return None if obj is None else dataclasses.asdict(obj)


def _averages(d: Mapping[str, float] | None) -> Averages | None:
    return None if d is None else Averages(d["precision"], d["recall"], d["f1"])


def _calibration(cal: Mapping[str, Any]) -> Calibration:
    bins = [CalibrationBin(**b) for b in cal["bins"]]
    return Calibration(cal["kind"], cal["n_bins"], cal["ece"], cal["mce"], bins)


def _as_list(values: Any) -> list[Any]:
    """A list of Python scalars from a list, tuple, array or pandas object."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    return [plain(v) for v in values]


def _json_label(value: Any) -> Any:
    value = plain(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
