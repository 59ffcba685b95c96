"""The numbers of a report: :func:`compute_report` from labels and probabilities,
:func:`evaluate` from a model, :func:`write_misclassified` for the errors."""

from __future__ import annotations

import csv
import io
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import scipy.sparse as sp
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from .._json import plain
from .._math import top_k
from .ranked import _pred_indices, _true_indices, average_labels, with_unseen_columns
from .schema import (
    DENSE_CONFUSION_MAX,
    EXAMPLE_CHARS,
    Averages,
    Calibration,
    CalibrationBin,
    ClassMetrics,
    Confusion,
    Example,
    Label,
    Ranked,
    Report,
    TopK,
    _as_list,
    _json_label,
)


def _f(x: Any) -> float:
    return float(x)


def _clean_text(text: Any, limit: int = EXAMPLE_CHARS) -> str:
    """Collapse whitespace and cut ``text`` to about ``limit`` characters."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


DEFAULT_KS = (1, 5)


def default_ks(n_classes: int) -> list[int]:
    """The ``k`` of a report that names none: 1 and 5, but 5 only when there are more than five
    classes (ranking every class scores every document's gold labels as found: top-k accuracy
    and ``R@k`` 1, ``P@k`` labels per document ÷ classes, which says nothing)."""
    return [k for k in DEFAULT_KS if k == 1 or k < n_classes]


def _check_k(k: int | Iterable[int] | None, n_classes: int) -> list[int]:
    if k is None:
        return default_ks(n_classes)
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
    return top_k(proba, k)


def _averages(y_true: Any, y_pred: Any, labels: Any, average: str) -> Averages:
    p, r, f, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=average, zero_division=0
    )
    return Averages(_f(p), _f(r), _f(f))


def _calibration(conf: np.ndarray, correct: np.ndarray, n_bins: int, kind: str) -> Calibration:
    """Equal-width reliability table and ECE/MCE (bins as in sklearn's calibration_curve)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf)  # a value on an edge: the lower bin, as sklearn
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
    known = {(plain(lab)): i for i, lab in enumerate(classes)}
    unseen = [[plain(lab) for lab in r if plain(lab) not in known] for r in rows]
    if not allow_unseen and any(unseen):
        bad = sorted({str(lab) for r in unseen for lab in r})
        raise ValueError(f"{what} contains labels not in classes: {bad[:5]}")
    kept = [[plain(lab) for lab in r if plain(lab) in known] for r in rows]
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


def _merge_unseen(
    counter: Counter, extra: Mapping[Any, int] | Iterable[Any] | None
) -> dict[Any, int]:
    if isinstance(extra, Mapping):
        for lab, cnt in extra.items():
            counter[_json_label(lab)] += int(cnt)
    elif extra is not None:
        for lab in extra:
            counter[_json_label(lab)] += 1
    return dict(counter)


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
    k: int | Iterable[int] | None = None,
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
        unseen labels, see :mod:`bowclf.report` for how they count).
        Multi-label: an ``(n, c)`` 0/1 indicator (array, sparse matrix or list of
        length-``c`` lists of 0/1) or a sequence of label collections (unseen labels
        are counted); sets are always label collections (use them, or a numpy
        indicator, when integer classes make it ambiguous).
    proba : array-like of shape (n, c), or Ranked
        Predicted probabilities, columns aligned with ``classes``. Single-label
        rows must sum to 1; multi-label entries are per-label probabilities.
        Or, for many classes, each document's k best classes
        (:class:`~bowclf.report.schema.Ranked`, k at least the largest ``k``):
        the report is then computed without any n×c array, see
        :mod:`bowclf.report.ranked` for what it holds.
    classes : sequence
        The model's classes (e.g. ``model.classes_``).
    y_pred : array-like, optional
        Predicted labels (default argmax of ``proba``) or, multi-label, an indicator
        or label collections (default ``proba >= 0.5``).
    texts : sequence of str, optional
        The documents, used for the examples of the top confusions.
    k : int or iterable of int, optional
        The ``k`` of top-k accuracy, ``P@k`` and ``R@k`` (default: :func:`default_ks`).
    multilabel : bool, default False
        Treat the task as multi-label.
    n_bins, top_confusions, examples_per_confusion : int, default 10, 10, 3
        Equal-width calibration bins; most frequent confusions listed; example
        documents per confusion (only when ``texts`` is given).
    predict_seconds : float, optional
        Time spent predicting, for the throughput.
    unseen_labels : mapping or iterable, optional
        Extra unseen-label occurrences known to the caller (``label -> count`` or one
        item per occurrence), added to the ``unseen_labels`` counts only.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        On inconsistent shapes, invalid probabilities or parameters, or predicted
        labels that are not classes.
    """
    classes_list, proba_arr = _check_proba(classes, proba)
    n = proba_arr.shape[0] if proba_arr is not None else proba.indices.shape[0]
    texts = _check_options(n_bins, top_confusions, examples_per_confusion, texts, n,
                           predict_seconds)  # fmt: skip
    how = _Settings(classes_list, texts, _check_k(k, len(classes_list)), int(n_bins),
                    int(top_confusions), int(examples_per_confusion))  # fmt: skip
    if isinstance(proba, Ranked):
        from .ranked import ranked_report

        report = ranked_report(y_true, proba, y_pred, how, multilabel)
    else:
        build = _multilabel_report if multilabel else _single_label_report
        report = build(y_true, proba_arr, y_pred, how)
    report.unseen_counts = _merge_unseen(Counter(report.unseen_counts), unseen_labels)
    report.predict_seconds = None if predict_seconds is None else float(predict_seconds)
    return report


@dataclass(frozen=True)
class _Settings:
    """What both report builders need besides the labels and probabilities."""

    classes: list[Label]
    texts: list[Any] | None
    ks: list[int]
    n_bins: int
    top_confusions: int
    examples_per_confusion: int


def _check_classes(classes_list: list[Label]) -> None:
    if not classes_list:
        raise ValueError("classes is empty")
    if len(set(classes_list)) != len(classes_list):
        raise ValueError("classes contains duplicates")


def _check_proba(classes: Any, proba: Any) -> tuple[list[Label], np.ndarray | None]:
    """The classes as a list and the checked probabilities (``None`` for ranked ones)."""
    classes_list = _as_list(classes)
    c = len(classes_list)
    _check_classes(classes_list)
    if isinstance(proba, Ranked):
        return classes_list, None
    proba_arr = np.asarray(proba, dtype=np.float64)
    if proba_arr.ndim != 2 or proba_arr.shape[1] != c:
        raise ValueError(f"proba must have shape (n_documents, {c}), got {proba_arr.shape}")
    if proba_arr.shape[0] == 0:
        raise ValueError("no documents to evaluate")
    if not np.isfinite(proba_arr).all():
        raise ValueError("proba contains NaN or infinite values")
    if proba_arr.min() < -1e-6 or proba_arr.max() > 1 + 1e-6:
        raise ValueError("proba values must lie in [0, 1]")
    return classes_list, np.clip(proba_arr, 0.0, 1.0)


def _check_options(
    n_bins: Any, top_confusions: int, examples: int, texts: Any, n: int, predict_seconds
) -> list[Any] | None:
    if predict_seconds is not None and predict_seconds < 0:
        raise ValueError("predict_seconds must be >= 0")
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if top_confusions < 0 or examples < 0:
        raise ValueError("top_confusions and examples_per_confusion must be >= 0")
    if texts is None:
        return None
    texts = list(texts)
    if len(texts) != n:
        raise ValueError(f"texts has {len(texts)} items, expected {n}")
    return texts


def _class_indices(y_true: Any, y_pred: Any, proba: np.ndarray, classes: list[Label]):
    """``(y_idx, p_idx, unseen)``: true and predicted class indices (-1: a label the model
    never saw) and the unseen labels' counts."""
    n = proba.shape[0]
    y_idx, unseen = _true_indices(y_true, classes, n)
    if np.abs(proba.sum(axis=1) - 1.0).max() > 1e-3:
        raise ValueError(
            "rows of proba must sum to 1 for single-label data "
            "(pass multilabel=True for per-label probabilities)"
        )
    if y_pred is None:
        return y_idx, np.argmax(proba, axis=1), unseen
    return y_idx, _pred_indices(y_pred, classes, n), unseen


def _single_label_report(y_true: Any, proba: np.ndarray, y_pred: Any, how: _Settings) -> Report:
    n, c = proba.shape
    classes = how.classes
    y_idx, p_idx, unseen = _class_indices(y_true, y_pred, proba, classes)
    known = y_idx >= 0
    n_known = int(known.sum())
    # Unseen rows carry a negative code: never equal to a prediction (an error), a false
    # positive for the predicted class, outside every class's support; the averages count
    # each unseen label as a class that is never predicted.
    p, r, f, s = skm.precision_recall_fscore_support(
        y_idx, p_idx, labels=list(range(c)), average=None, zero_division=0
    )
    labels = average_labels(c, y_idx, p_idx)
    predicted = np.bincount(p_idx, minlength=c)
    per_class = _per_class(classes, p, r, f, s, predicted)
    yk, pk = y_idx[known], proba[known]
    log_loss = None
    if n_known and c >= 2:
        log_loss = _log_loss(yk, pk)
    cm = _confusion(yk, p_idx[known], c)
    top1 = p_idx  # the prediction scored: calibration and top-k rank it first
    ranked = _prediction_first_ranking(proba, p_idx, max(how.ks))  # one for every k
    examples = (how.texts, how.examples_per_confusion)
    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=False,
        accuracy=_f(skm.accuracy_score(y_idx, p_idx)),
        macro=_averages(y_idx, p_idx, labels, "macro"),
        micro=_averages(y_idx, p_idx, labels, "micro"),
        weighted=_averages(y_idx, p_idx, labels, "weighted"),
        samples=None,
        log_loss=log_loss,
        hamming_loss=None,
        top_k={kk: _single_label_top_k(y_idx, ranked, kk, c) for kk in how.ks},
        per_class=per_class,
        confusion_matrix=(
            [_json_label(x) for x in classes],
            cm.toarray().tolist() if c <= DENSE_CONFUSION_MAX else None,
        ),
        confusion_cells=_cells(cm),
        calibration=_calibration(proba[np.arange(n), top1], top1 == y_idx, how.n_bins, "top1"),
        confusions=_top_confusions(cm, y_idx, p_idx, proba, classes, how.top_confusions, examples),
        unseen_documents=n - n_known,
        unseen_counts=dict(unseen),
    )


def _log_loss(y_idx: np.ndarray, proba: np.ndarray) -> float:
    """Cross-entropy of the true classes, ``−mean log p(yᵢ)`` with rows renormalised and
    ``p`` clipped to ``[ε, 1−ε]`` as ``sklearn.metrics.log_loss`` does, in ``O(n)`` memory
    (scikit-learn builds an n×c one-hot matrix and several n×c copies)."""
    rows = np.arange(y_idx.size)
    p_true = proba[rows, y_idx] / proba.sum(axis=1)
    eps = np.finfo(np.float64).eps
    return float(-np.mean(np.log(np.clip(p_true, eps, 1 - eps))))


def _per_class(classes, precision, recall, f1, support, predicted) -> list[ClassMetrics]:
    rows = zip(classes, precision, recall, f1, support, predicted, strict=True)
    return [ClassMetrics(lab, _f(p), _f(r), _f(f), int(n), int(m)) for lab, p, r, f, n, m in rows]


def _confusion(y_idx: np.ndarray, p_idx: np.ndarray, c: int) -> sp.csr_array:
    """Sparse confusion counts (rows: true class), ``O(documents)`` memory whatever ``c``."""
    ones = np.ones(y_idx.size, dtype=np.int64)
    cm = sp.csr_array((ones, (y_idx, p_idx)), shape=(c, c))
    cm.sum_duplicates()
    return cm


def _cells(cm: sp.csr_array) -> list[tuple[int, int, int]]:
    coo = cm.tocoo()
    order = np.lexsort((coo.col, coo.row))
    rows, cols, counts = coo.row[order], coo.col[order], coo.data[order]
    return list(zip(rows.tolist(), cols.tolist(), counts.tolist(), strict=True))


def _prediction_first_ranking(proba: np.ndarray, first: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best classes of each document: the predicted class ``first`` (``y_pred``,
    the model's own decision), then the others by probability, ties by lower class index.
    Not scikit-learn's ``top_k_accuracy_score``: it breaks ties the other way, so with tied
    probabilities (a document without a known word) top-1 accuracy, ``R@1`` and the
    accuracy of the predictions would disagree."""
    scores = np.array(proba, dtype=np.float64, copy=True)
    scores[np.arange(scores.shape[0]), first] = np.inf
    return _rank(scores, k)


def _single_label_top_k(y_idx: np.ndarray, ranked: np.ndarray, kk: int, c: int) -> TopK:
    """fastText's P@k/R@k and top-k accuracy at ``kk`` from the documents' ``ranked``
    classes (:func:`_prediction_first_ranking`, at least ``kk`` of them, or all ``c``)."""
    n = y_idx.size
    keff = min(kk, c)
    correct = int((ranked[:, :keff] == y_idx[:, None]).any(axis=1).sum())  # top-k hits
    return TopK(
        k=kk,
        k_effective=keff,
        accuracy=correct / n,
        precision=correct / (n * keff),
        recall=correct / n,
    )


def _top_confusions(cm, y_idx, p_idx, proba, classes, top, examples) -> list[Confusion]:
    """The ``top`` most frequent off-diagonal cells, with example documents."""
    if not top:
        return []
    texts, per_confusion = examples
    coo = cm.tocoo()
    off = coo.row != coo.col
    ti, pi, counts = coo.row[off], coo.col[off], coo.data[off]
    out = []
    for j in np.lexsort((pi, ti, -counts))[:top]:
        t, q = int(ti[j]), int(pi[j])
        rows = np.flatnonzero((y_idx == t) & (p_idx == q))
        found = _examples(rows, texts, proba[rows, q], proba[rows, t], per_confusion)
        out.append(Confusion(classes[t], classes[q], int(counts[j]), found))
    return out


def _multilabel_report(y_true: Any, proba: np.ndarray, y_pred: Any, how: _Settings) -> Report:
    n, c = proba.shape
    classes = how.classes
    Y, unseen_rows = _to_indicator(y_true, classes, n, "y_true", allow_unseen=True)
    if y_pred is None:
        P = (proba >= 0.5).astype(np.int8)
    else:
        P, _ = _to_indicator(y_pred, classes, n, "y_pred", allow_unseen=False)
    n_unseen = np.array([len(u) for u in unseen_rows], dtype=np.int64)
    unseen = Counter(_json_label(lab) for u in unseen_rows for lab in u)
    p, r, f, s = skm.precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    predicted = P.sum(axis=0)
    per_class = _per_class(classes, p, r, f, s, predicted)
    Ya, Pa, labels = with_unseen_columns(Y, P, unseen_rows)
    clean = n_unseen == 0  # documents with an unseen gold label are never exactly right
    exact = skm.accuracy_score(Y[clean], P[clean], normalize=False) if clean.any() else 0.0
    gold = Y.sum(axis=1) + n_unseen
    examples = (how.texts, how.examples_per_confusion)
    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=True,
        accuracy=float(exact) / n,
        macro=_averages(Ya, Pa, labels, "macro"),
        micro=_averages(Ya, Pa, labels, "micro"),
        weighted=_averages(Ya, Pa, labels, "weighted"),
        samples=_averages(Ya, Pa, labels, "samples"),
        log_loss=_f(skm.log_loss(Y.ravel(), proba.ravel(), labels=[0, 1])),
        hamming_loss=_f(skm.hamming_loss(Ya[:, labels], Pa[:, labels])),  # the union's columns
        top_k={kk: _multilabel_top_k(Y, gold, proba, kk) for kk in how.ks},
        per_class=per_class,
        confusion_matrix=None,
        calibration=_calibration(proba.ravel(), Y.ravel().astype(bool), how.n_bins, "per_label"),
        confusions=_multilabel_confusions(Y, P, proba, classes, how.top_confusions, examples),
        unseen_documents=int((n_unseen > 0).sum()),
        unseen_counts=dict(unseen),
        label_cardinality={"true": _cardinality(gold), "pred": _cardinality(P.sum(axis=1))},
    )


def _multilabel_top_k(Y: np.ndarray, gold: np.ndarray, proba: np.ndarray, kk: int) -> TopK:
    keff = min(kk, proba.shape[1])
    counted = gold > 0  # fastText skips documents without labels
    hits = np.take_along_axis(Y, _rank(proba, keff), axis=1).sum(axis=1)
    n_pred = int(counted.sum()) * keff
    n_gold = int(gold[counted].sum())
    correct = int(hits[counted].sum())
    return TopK(
        k=kk,
        k_effective=keff,
        accuracy=None,
        precision=correct / n_pred if n_pred else None,  # undefined without gold labels
        recall=correct / n_gold if n_gold else None,
    )


def _multilabel_confusions(Y, P, proba, classes, top, examples) -> list[Confusion]:
    """Per document, each missed gold label paired with each wrongly predicted label (-1
    when a document only misses or only adds labels); the ``top`` most frequent pairs."""
    if not top:
        return []
    texts, per_confusion = examples
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
    out = []
    for (t, q), cnt in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        rows = np.asarray(rows_of[(t, q)], dtype=np.int64)
        pp = proba[rows, q] if q >= 0 else None
        pt = proba[rows, t] if t >= 0 else None
        found = _examples(rows, texts, pp, pt, per_confusion)
        out.append(
            Confusion(
                classes[t] if t >= 0 else None, classes[q] if q >= 0 else None, int(cnt), found
            )
        )
    return out


# ---------------------------------------------------------------------------
# evaluate / write_misclassified
# ---------------------------------------------------------------------------


def evaluate(
    model: Any,
    texts: Sequence[Any],
    y: Any,
    *,
    k: int | Iterable[int] | None = None,
    proba: np.ndarray | None = None,
    **kwargs: Any,
) -> Report:
    """Predict ``texts`` with ``model`` (timed) and report against ``y``.

    Parameters
    ----------
    model : object
        Anything with ``predict_proba(texts)`` and ``classes_``; a single-label model whose
        ``loss`` is ``'ova'`` or ``'ns'`` (fastText's one-vs-all) is scored on its
        probabilities divided by each row's sum. Its own
        ``predict(texts)``, when it has one, gives ``y_pred`` (unless given): the
        report scores the labels the model predicts, whose rules (e.g. the most
        frequent class for a document without a known word) the arg-max of the
        probabilities does not follow. If it has an attribute ``multilabel_``
        that is true, the task is multi-label (``predict`` gives label
        collections or an indicator).
    texts : sequence of str
        The documents.
    y : array-like
        True labels (see :func:`compute_report`).
    k : int or iterable of int, optional
        The ``k`` of top-k accuracy, ``P@k`` and ``R@k`` (default: :func:`default_ks`).
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
    texts = texts if isinstance(texts, list) else list(texts)
    model = vectorized_once(model, texts)
    classes = list(model.classes_)
    multilabel = bool(getattr(model, "multilabel_", False))
    start = time.perf_counter()
    if proba is None:
        proba = predict_for_report(model, texts, k)
    seconds = time.perf_counter() - start
    if not multilabel and getattr(model, "loss", None) in _INDEPENDENT:
        proba = _as_distribution(proba)
    kwargs.setdefault("predict_seconds", seconds)
    kwargs.setdefault("texts", texts)
    if multilabel and "y_pred" not in kwargs:
        kwargs["y_pred"] = _multilabel_prediction(model, texts, proba, classes)
    elif "y_pred" not in kwargs and hasattr(model, "predict"):
        kwargs["y_pred"] = model.predict(texts)
    return compute_report(y, proba, classes, k=k, multilabel=multilabel, **kwargs)


def predict_for_report(
    model: Any, texts: Sequence[Any], k: int | Iterable[int] | None = None
) -> np.ndarray | Ranked:
    """What :func:`evaluate` reports from: ``model.predict_proba(texts)`` (n×c), or when that
    matrix would exceed :data:`bowclf.report.ranked.DENSE_REPORT_BYTES`, each document's
    best classes by ``model.predict_topk``.

    Parameters
    ----------
    model : object
        Anything with ``classes_`` and ``predict_proba``, as for :func:`evaluate`;
        ``predict_topk`` is used only for the ranked form.
    texts : sequence
        The documents.
    k : int, iterable of int or None
        The report's top-k cut-offs; the largest bounds the classes kept per document.

    Returns
    -------
    ndarray of shape (n, c) or Ranked
        The probabilities, or a :class:`~bowclf.report.schema.Ranked` of the largest ``k``
        classes per document (for multi-label models also every class that can reach the
        model's ``threshold_``).
    """
    from .ranked import needs_ranked, rank_documents, ranked_width

    if not needs_ranked(len(texts), len(model.classes_)):
        return model.predict_proba(texts)
    multilabel = bool(getattr(model, "multilabel_", False))
    width = ranked_width(
        _check_k(k, len(model.classes_)), multilabel, _model_attr(model, "threshold_")
    )
    return rank_documents(model, texts, width)


#: Losses whose probabilities are one independent sigmoid per class (fastText's one-vs-all
#: and negative sampling): a single-label report of such a model reads each row divided by
#: its sum — the same ranking and predictions, and log-loss and calibration of a distribution.
_INDEPENDENT = ("ova", "ns")


def _as_distribution(proba: Any) -> Any:
    """Rows of independent per-class probabilities scaled to sum to 1; a row of zeros
    (fastText's table sigmoid is exactly 0 below a score of −8: a document of no known word)
    is uniform.  A ranked report's top classes are left as they are."""
    if not isinstance(proba, np.ndarray) or not proba.size:
        return proba
    sums = proba.sum(axis=1, keepdims=True)
    out = proba / np.where(sums > 0, sums, 1.0)
    out[sums[:, 0] <= 0] = 1.0 / proba.shape[1]
    return out


def vectorized_once(model: Any, texts: list[Any]) -> Any:
    """``model`` for the predictions of one report over the list ``texts``: a
    :class:`~bowclf.TextClassifier` then vectorises them once for its probabilities, its
    ranking and its own labels (:meth:`~bowclf.TextClassifier.for_documents`; the same
    answers), any other model is returned as it is."""
    if isinstance(model, _Vectorized):
        if model._predictor_view.texts is texts:
            return model
        model = model._model
    if not callable(getattr(model, "for_documents", None)):
        return model
    return _Vectorized(model, model.for_documents(texts))


class _Vectorized:
    """:func:`vectorized_once`'s view: predictions from the featurised predictor, every other
    attribute (``threshold_``, ``classifier_``, …) the model's."""

    _PREDICTIONS = ("predict", "predict_proba", "predict_topk", "predict_with_proba")

    def __init__(self, model: Any, predictor: Any) -> None:
        self._model, self._predictor_view = model, predictor

    def __getattr__(self, name: str) -> Any:
        source = self._predictor_view if name in self._PREDICTIONS else self._model
        return getattr(source, name)


def _model_attr(model: Any, name: str) -> Any:
    """``model.name``, or its inner ``classifier_``'s (a TextClassifier's decision rule)."""
    if hasattr(model, name):
        return getattr(model, name)
    return getattr(getattr(model, "classifier_", None), name, None)


def _multilabel_prediction(model: Any, texts: list[Any], proba: Any, classes: list[Any]):
    """The model's own multi-label decision, ``model.predict`` (its threshold, top-label and
    featureless-document rules): a dense indicator for dense reports; for ranked ones the
    label sets as they are (the report makes them a sparse indicator).  It is not derived
    from the ranked classes: one-vs-all probabilities do not sum to 1, so any number of
    labels can reach the threshold, and a featureless document gets the most frequent label,
    not its probabilities' verdict."""
    pred = model.predict(texts)
    if isinstance(proba, Ranked):
        return pred
    indicator, _ = _to_indicator(
        pred, [plain(x) for x in classes], len(texts), "model.predict", allow_unseen=False
    )
    return indicator


def _proba_lookup(proba: Any, c: int):
    """``((row, class) -> probability, rows)`` of an n×c matrix or of ranked classes (nan
    for a class outside a document's ranked ones)."""
    if isinstance(proba, Ranked):

        def ranked_of(i: int, j: int) -> float:
            at = np.flatnonzero(proba.indices[i] == j)
            return float(proba.proba[i, at[0]]) if at.size else float("nan")

        return ranked_of, proba.indices.shape[0]
    proba_arr = np.asarray(proba, dtype=np.float64)
    if proba_arr.ndim != 2 or proba_arr.shape[1] != c:
        raise ValueError(f"proba must have shape (n, {c})")

    def dense_of(i: int, j: int) -> float:
        return float(proba_arr[i, j])

    return dense_of, proba_arr.shape[0]


def labels_as_classes(y: Sequence[Any], classes: Sequence[Any], multilabel: bool = False) -> list:
    """``y`` with each label given as text (read from a file) replaced by the model's class
    whose text it is, when the classes are not strings (a model trained on integers: ``'3'``
    → ``3``); labels that are classes already, and every label of string classes, stay."""
    if all(isinstance(plain(c), str) for c in classes):
        return list(y)
    by_text = {str(plain(c)): plain(c) for c in classes}
    for c in map(plain, classes):  # a whole float class is also written without '.0'
        if isinstance(c, float) and c.is_integer():
            by_text.setdefault(str(int(c)), c)

    def match(v: Any) -> Any:
        return by_text.get(v, v) if isinstance(v, str) else v

    return [tuple(map(match, labels)) for labels in y] if multilabel else [match(v) for v in y]


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
    proba : array-like of shape (n, c), or Ranked
        Predicted probabilities, columns aligned with ``classes``; or each document's best
        classes (:class:`~bowclf.report.schema.Ranked`), where a probability of a class
        outside them is written empty.
    classes : sequence
        The model's classes.

    Returns
    -------
    int
        The number of rows written (excluding the header).
    """
    classes_list = _as_list(classes)
    index = {lab: i for i, lab in enumerate(classes_list)}
    proba_of, n_rows = _proba_lookup(proba, len(classes_list))
    texts = list(texts)
    yt = _as_list(y_true)
    yp = _as_list(y_pred)
    n = len(texts)
    if not (len(yt) == len(yp) == n_rows == n):
        raise ValueError("texts, y_true, y_pred and proba must have the same length")

    def fmt(x: float) -> str:
        return "" if x != x else f"{x:.6g}"

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
                "" if q is None else fmt(proba_of(i, q)),
                "" if t is None else fmt(proba_of(i, t)),
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
