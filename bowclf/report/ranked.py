"""Reports over many classes, from every document's k best classes: never an n×c matrix.

A dense report needs the n×c probability matrix (and, multi-label, n×c indicators).  Above
:data:`DENSE_REPORT_BYTES` of float64 probabilities (:func:`needs_ranked`),
:func:`bowclf.report.evaluate` asks the model for its ``k`` best classes per document instead
(``predict_topk``, a :class:`~bowclf.report.schema.Ranked`) and :func:`ranked_report` computes:

* accuracy, macro/micro/weighted (and multi-label samples) precision, recall and F1 over all
  classes, from class indices (single-label) or sparse indicators (multi-label), as the dense
  report does;
* top-k accuracy, ``P@k`` and ``R@k`` for every ``k`` up to the ranked width;
* ``per_class`` rows for the :data:`SUMMARY_CLASSES` classes with the most true documents
  (ties: most predicted, then class order), the other classes aggregated in
  ``per_class_omitted``;
* the confusion matrix (single-label) over those listed classes only, and the most frequent
  confusions over all classes;
* calibration of the top-1 probability (``kind='top1'``, multi-label too: whether the best
  label is gold).

Not available without the full probabilities: ``log_loss`` (``None``), the per-label
calibration of multi-label reports, and an example's probability of a class outside its k
best (``None``).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from ..losses import multilabel_rule
from .schema import DENSE_CONFUSION_MAX, OmittedClasses, Ranked, Report, TopK, _as_list, _json_label

#: n×c float64 probabilities above this many bytes make :func:`bowclf.report.evaluate` (and
#: ``bowclf evaluate``) report from the k best classes per document (64 MiB).
DENSE_REPORT_BYTES = 64 << 20
#: Classes listed one per row in ``per_class`` of a report over many classes.
SUMMARY_CLASSES = 50


def needs_ranked(n_documents: int, n_classes: int) -> bool:
    """Whether an n×c float64 probability matrix would exceed :data:`DENSE_REPORT_BYTES`."""
    return n_documents * n_classes * 8 > DENSE_REPORT_BYTES


def rank_documents(model: Any, texts: Any, k: int) -> Ranked:
    """The ``k`` best classes of every document by ``model.predict_topk`` (a
    :class:`~bowclf.BowClassifier` returns ``(labels, proba)`` arrays, a
    :class:`~bowclf.TextClassifier` lists of ``(label, p)`` pairs)."""
    classes = _as_list(model.classes_)
    column = {lab: j for j, lab in enumerate(classes)}
    out = model.predict_topk(texts, k=k)
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], np.ndarray):
        labels, proba = out
        rows = [
            [(lab, p) for lab, p in zip(r, q, strict=True) if lab is not None and p == p]
            for r, q in zip(labels.tolist(), proba.tolist(), strict=True)
        ]
    else:
        rows = out
    idx = np.full((len(rows), k), -1, dtype=np.int64)
    p = np.full((len(rows), k), np.nan)
    for i, row in enumerate(rows):
        for j, (lab, prob) in enumerate(row[:k]):
            idx[i, j], p[i, j] = column[_as_list([lab])[0]], prob
    return Ranked(idx, p)


def decision_of(ranked: Ranked, threshold: float, top_label: bool) -> sp.csr_array:
    """A multi-label decision from the ranked classes: the rule of
    :func:`bowclf.losses.multilabel_rule` (probability ≥ ``threshold``, plus the best one when
    ``top_label``) over each document's ranked classes, as an n×k mask of them (the caller
    makes the sparse indicator).  Only the ranked classes can be kept."""
    ranked_here = ranked.indices >= 0
    P = np.where(ranked_here, ranked.proba, -np.inf)
    return multilabel_rule(P, threshold, top_label) & ranked_here


def ranked_width(ks: list[int], multilabel: bool, threshold: float | None) -> int:
    """Classes to rank per document for a report with ``ks``: the largest k, and for a
    multi-label model with probabilities summing to at most 1 every class that can reach
    ``threshold`` (at most ⌈1/threshold⌉, capped at 100)."""
    width = max(ks)
    if multilabel and threshold and threshold > 0:
        width = max(width, min(100, math.ceil(1.0 / threshold)))
    return width


# ---------------------------------------------------------------------- the report
def ranked_report(y_true: Any, ranked: Ranked, y_pred: Any, how: Any, multilabel: bool) -> Report:
    """The report of :mod:`bowclf.report.ranked` (``how``: compute_report's settings)."""
    if max(how.ks) > ranked.k:
        raise ValueError(f"k={max(how.ks)} needs at least {max(how.ks)} ranked classes per "
                         f"document, got {ranked.k}")  # fmt: skip
    if ranked.indices.shape[0] == 0:
        raise ValueError("no documents to evaluate")
    c = len(how.classes)
    if ranked.indices.max(initial=-1) >= c:
        raise ValueError("ranked indices must be column numbers of the classes")
    if multilabel:
        return _multilabel(y_true, ranked, y_pred, how)
    return _single_label(y_true, ranked, y_pred, how)


def _single_label(y_true: Any, R: Ranked, y_pred: Any, how: Any) -> Report:
    from .metrics import _averages, _calibration, _confusion, _per_class

    n, c, classes = R.indices.shape[0], len(how.classes), how.classes
    y_idx, unseen = _true_indices(y_true, classes, n)
    p_idx = R.indices[:, 0] if y_pred is None else _pred_indices(y_pred, classes, n)
    p, r, f, s = skm.precision_recall_fscore_support(
        y_idx, p_idx, labels=list(range(c)), average=None, zero_division=0
    )
    labels = average_labels(c, y_idx, p_idx)
    predicted = np.bincount(p_idx[p_idx >= 0], minlength=c)
    shown, omitted = _summarise(p, r, f, s, predicted)
    known = y_idx >= 0
    cm_all = _confusion(y_idx[known & (p_idx >= 0)], p_idx[known & (p_idx >= 0)], c)
    cm, matrix = _listed_confusion(cm_all, shown)
    top1 = R.indices[:, 0]
    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=False,
        accuracy=float(np.mean(y_idx == p_idx)),
        macro=_averages(y_idx, p_idx, labels, "macro"),
        micro=_averages(y_idx, p_idx, labels, "micro"),
        weighted=_averages(y_idx, p_idx, labels, "weighted"),
        samples=None,
        log_loss=None,
        hamming_loss=None,
        top_k={kk: _single_top_k(y_idx, R, kk, c) for kk in how.ks},
        per_class=_per_class(
            [classes[j] for j in shown], *(a[shown] for a in (p, r, f, s)), predicted[shown]
        ),  # fmt: skip
        confusion_matrix=([_json_label(classes[j]) for j in shown], matrix),
        confusion_cells=_cells(cm),
        calibration=_calibration(np.nan_to_num(R.proba[:, 0]), top1 == y_idx, how.n_bins, "top1"),
        confusions=_confusions(cm_all, y_idx, p_idx, R, how),
        unseen_documents=int((~known).sum()),
        unseen_counts=dict(unseen),
        per_class_omitted=omitted,
    )


def _true_indices(y_true: Any, classes: list, n: int) -> tuple[np.ndarray, Counter]:
    one_per_doc = "y_true must be one label per document (pass multilabel=True otherwise)"
    if sp.issparse(y_true) or (isinstance(y_true, np.ndarray) and y_true.ndim != 1):
        raise ValueError(one_per_doc)
    y_list = _as_list(y_true)
    if any(isinstance(v, (list, tuple, set, frozenset, dict, np.ndarray)) for v in y_list):
        raise ValueError(one_per_doc)
    if len(y_list) != n:
        raise ValueError(f"y_true has {len(y_list)} labels, expected {n}")
    index = {lab: i for i, lab in enumerate(classes)}
    codes: dict[Any, int] = {}  # unseen label -> -2, -3, … in order of first appearance
    # (-1 is a ranked prediction's "no label": never equal to a gold label)
    y_idx = np.array(
        [index[v] if v in index else -2 - codes.setdefault(v, len(codes)) for v in y_list],
        dtype=np.int64,
    )
    unseen = Counter(_json_label(v) for v, i in zip(y_list, y_idx.tolist(), strict=True) if i < 0)
    return y_idx, unseen


def average_labels(c: int, y_idx: np.ndarray, p_idx: np.ndarray) -> list[int]:
    """The labels the averaged scores run over, as scikit-learn averages over the union of
    the true and predicted labels: the classes among the gold labels or the predictions (a
    class of the model absent from both says nothing of this test set), then every gold
    label the model never saw (its negative code from :func:`_true_indices`: a class that is
    never predicted)."""
    present = np.union1d(y_idx[(y_idx >= 0) & (y_idx < c)], p_idx[(p_idx >= 0) & (p_idx < c)])
    return present.tolist() + sorted(set(y_idx[y_idx < 0].tolist()), reverse=True)


def with_unseen_columns(Y: Any, P: Any, unseen_rows: list[list[Any]]) -> tuple[Any, Any, list]:
    """``(Y', P', labels)``: multi-label indicators with one more column per gold label the
    model never saw (gold where it occurs, never predicted) and the labels to average over,
    so that averages count those labels as scikit-learn does on the raw label sets."""
    n, c = Y.shape
    codes: dict[Any, int] = {}
    rows, cols = [], []
    for i, labs in enumerate(unseen_rows):
        for lab in dict.fromkeys(labs):
            rows.append(i)
            cols.append(codes.setdefault(lab, len(codes)))
    present = _present_columns(Y, P, c) or list(range(c))  # no label at all: every class
    if not codes:
        return Y, P, present
    U = sp.csr_array(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, len(codes)), dtype=np.int8
    )
    zeros = sp.csr_array((n, len(codes)), dtype=np.int8)
    if sp.issparse(Y):
        Y2, P2 = sp.hstack([Y, U], format="csr"), sp.hstack([P, zeros], format="csr")
    else:
        Y2 = np.hstack([Y, U.toarray()])
        P2 = np.hstack([P, zeros.toarray()])
    return Y2, P2, present + list(range(c, c + len(codes)))


def _present_columns(Y: Any, P: Any, c: int) -> list[int]:
    """The columns of the ``c`` classes that hold a gold label or a prediction (the labels
    scikit-learn averages over on the raw label sets)."""
    used = np.zeros(c, dtype=bool)
    for M in (Y, P):
        counts = M.sum(axis=0)
        used |= np.asarray(counts).ravel()[:c] > 0
    return np.flatnonzero(used).tolist()


def _pred_indices(y_pred: Any, classes: list, n: int) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(classes)}
    pred_list = _as_list(y_pred)
    if len(pred_list) != n:
        raise ValueError(f"y_pred has {len(pred_list)} labels, expected {n}")
    missing = sorted({str(v) for v in pred_list if v not in index})
    if missing:
        raise ValueError(f"y_pred contains labels that are not classes: {missing[:5]}")
    return np.array([index[v] for v in pred_list], dtype=np.int64)


def _summarise(p, r, f, support, predicted) -> tuple[np.ndarray, OmittedClasses | None]:
    """The listed classes (most true documents first; ties: most predicted, class order)
    and the aggregate of the others."""
    c = support.size
    order = np.lexsort((np.arange(c), -predicted, -support))
    shown, rest = order[:SUMMARY_CLASSES], order[SUMMARY_CLASSES:]
    if rest.size == 0:
        return shown, None
    omitted = OmittedClasses(
        n_classes=int(rest.size),
        n_with_support=int((support[rest] > 0).sum()),
        support=int(support[rest].sum()),
        predicted=int(predicted[rest].sum()),
        precision=float(p[rest].mean()),
        recall=float(r[rest].mean()),
        f1=float(f[rest].mean()),
    )
    return shown, omitted


def _listed_confusion(cm_all: sp.csr_array, shown: np.ndarray):
    """The confusion counts among the listed classes, in their order (sparse, and dense
    rows when at most :data:`DENSE_CONFUSION_MAX` classes)."""
    cm = sp.csr_array(cm_all[shown][:, shown])
    matrix = cm.toarray().tolist() if shown.size <= DENSE_CONFUSION_MAX else None
    return cm, matrix


def _cells(cm: sp.csr_array) -> list[tuple[int, int, int]]:
    from .metrics import _cells as cells

    return cells(cm)


def _single_top_k(y_idx: np.ndarray, R: Ranked, kk: int, c: int) -> TopK:
    n = y_idx.size
    keff = min(kk, c)
    hits = int(((R.indices[:, :keff] == y_idx[:, None]) & (y_idx[:, None] >= 0)).any(axis=1).sum())
    return TopK(k=kk, k_effective=keff, accuracy=hits / n, precision=hits / (n * keff),
                recall=hits / n)  # fmt: skip


def _proba_of(R: Ranked, rows: np.ndarray, label: int) -> np.ndarray:
    """Probability of ``label`` in each of ``rows`` when among its ranked classes, else nan."""
    at = R.indices[rows] == label
    return np.where(at.any(axis=1), np.nansum(np.where(at, R.proba[rows], 0.0), axis=1), np.nan)


def _confusions(cm_all, y_idx, p_idx, R: Ranked, how) -> list:
    """The most frequent off-diagonal cells over all classes, with examples."""
    from .metrics import _examples
    from .schema import Confusion

    if not how.top_confusions:
        return []
    coo = cm_all.tocoo()
    off = coo.row != coo.col
    ti, pi, counts = coo.row[off], coo.col[off], coo.data[off]
    out = []
    for j in np.lexsort((pi, ti, -counts))[: how.top_confusions]:
        t, q = int(ti[j]), int(pi[j])
        rows = np.flatnonzero((y_idx == t) & (p_idx == q))
        pred_p, true_p = _proba_of(R, rows, q), _proba_of(R, rows, t)
        found = _examples(rows, how.texts, np.nan_to_num(pred_p, nan=0.0), None,
                          how.examples_per_confusion)  # fmt: skip
        found = [_with_true(e, true_p[rows.tolist().index(e.index)]) for e in found]
        out.append(Confusion(how.classes[t], how.classes[q], int(counts[j]), found))
    return out


def _with_true(example, true_p: float):
    from dataclasses import replace

    return replace(example, true_proba=None if np.isnan(true_p) else float(true_p))


# ---------------------------------------------------------------------- multi-label
def sparse_indicator(y: Any, classes: list, n: int, what: str, allow_unseen: bool):
    """``(Y, unseen_rows)``: a CSR 0/1 indicator of ``y`` (an indicator, sparse or dense, or
    label collections) over ``classes``, and per row the labels not in ``classes``."""
    from .._json import plain
    from .metrics import _is_indicator

    c = len(classes)
    if sp.issparse(y) or _is_indicator(y, c):
        Y = sp.csr_array(y if sp.issparse(y) else np.asarray(y))
        if Y.shape != (n, c):
            raise ValueError(f"{what} indicator must have shape ({n}, {c}), got {Y.shape}")
        Y.eliminate_zeros()
        if not np.all(Y.data == 1):
            raise ValueError(f"{what} indicator must hold only 0 and 1")
        return sp.csr_array(Y, dtype=np.int8), [[] for _ in range(n)]
    rows = [list(r) if not isinstance(r, str) else [r] for r in y]
    if len(rows) != n:
        raise ValueError(f"{what} has {len(rows)} rows, expected {n}")
    known = {plain(lab) for lab in classes}
    unseen = [[plain(lab) for lab in r if plain(lab) not in known] for r in rows]
    if not allow_unseen and any(unseen):
        bad = sorted({str(lab) for r in unseen for lab in r})
        raise ValueError(f"{what} contains labels not in classes: {bad[:5]}")
    kept = [[plain(lab) for lab in r if plain(lab) in known] for r in rows]
    Y = MultiLabelBinarizer(classes=classes, sparse_output=True).fit_transform(kept)
    return sp.csr_array(Y, dtype=np.int8), unseen


def _ranked_indicator(R: Ranked, keep: np.ndarray, c: int) -> sp.csr_array:
    rows = np.broadcast_to(np.arange(R.indices.shape[0])[:, None], keep.shape)[keep]
    Y = sp.csr_array((np.ones(rows.size, np.int8), (rows, R.indices[keep])),
                     shape=(R.indices.shape[0], c))  # fmt: skip
    Y.sum_duplicates()
    return Y


def _is_gold(Y: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether ``Y[rows, cols]`` is set, for parallel index arrays (cols −1: False)."""
    c = Y.shape[1]
    Y = sp.csr_array(Y)
    Y.sort_indices()
    keys = np.repeat(np.arange(Y.shape[0], dtype=np.int64), np.diff(Y.indptr)) * c + Y.indices
    if keys.size == 0:
        return np.zeros(rows.size, dtype=bool)
    want = rows.astype(np.int64) * c + cols
    at = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    return (cols >= 0) & (keys[at] == want)


def _multilabel(y_true: Any, R: Ranked, y_pred: Any, how: Any) -> Report:
    from .metrics import _averages, _calibration, _cardinality, _per_class

    n, c, classes = R.indices.shape[0], len(how.classes), how.classes
    Y, unseen_rows = sparse_indicator(y_true, classes, n, "y_true", allow_unseen=True)
    if y_pred is None:
        P = _ranked_indicator(R, decision_of(R, 0.5, False), c)
    else:
        P, _ = sparse_indicator(y_pred, classes, n, "y_pred", allow_unseen=False)
    n_unseen = np.array([len(u) for u in unseen_rows], dtype=np.int64)
    p, r, f, s = skm.precision_recall_fscore_support(Y, P, average=None, zero_division=0)
    predicted = np.asarray(P.sum(axis=0)).ravel()
    shown, omitted = _summarise(p, r, f, s, predicted)
    Ya, Pa, labels = with_unseen_columns(Y, P, unseen_rows)
    diff = np.asarray((Y != P).sum(axis=1)).ravel()
    gold = np.asarray(Y.sum(axis=1)).ravel() + n_unseen
    rows = np.arange(n)
    return Report(
        n_documents=n,
        n_classes=c,
        multilabel=True,
        accuracy=float(((diff == 0) & (n_unseen == 0)).sum()) / n,
        macro=_averages(Ya, Pa, labels, "macro"),
        micro=_averages(Ya, Pa, labels, "micro"),
        weighted=_averages(Ya, Pa, labels, "weighted"),
        samples=_averages(Ya, Pa, labels, "samples"),
        log_loss=None,
        hamming_loss=float(diff.sum() + Ya.nnz - Y.nnz) / (n * len(labels)),  # + unseen
        top_k={kk: _multi_top_k(Y, gold, R, kk, c) for kk in how.ks},
        per_class=_per_class(
            [classes[j] for j in shown], *(a[shown] for a in (p, r, f, s)), predicted[shown]
        ),  # fmt: skip
        confusion_matrix=None,
        calibration=_calibration(
            np.nan_to_num(R.proba[:, 0]), _is_gold(Y, rows, R.indices[:, 0]), how.n_bins, "top1"
        ),  # fmt: skip
        confusions=_multilabel_confusions(Y, P, R, how),
        unseen_documents=int((n_unseen > 0).sum()),
        unseen_counts=dict(Counter(_json_label(lab) for u in unseen_rows for lab in u)),
        label_cardinality={
            "true": _cardinality(gold),
            "pred": _cardinality(np.asarray(P.sum(axis=1)).ravel().astype(np.int64)),
        },
        per_class_omitted=omitted,
    )


def _multi_top_k(Y, gold, R: Ranked, kk: int, c: int) -> TopK:
    keff = min(kk, c)
    n = R.indices.shape[0]
    top = R.indices[:, :keff]
    hit = _is_gold(Y, np.repeat(np.arange(n), keff), top.ravel()).reshape(n, keff)
    counted = gold > 0  # fastText skips documents without labels
    correct = int(hit.sum(axis=1)[counted].sum())
    n_pred, n_gold = int(counted.sum()) * keff, int(gold[counted].sum())
    return TopK(k=kk, k_effective=keff, accuracy=None,
                precision=correct / n_pred if n_pred else None,
                recall=correct / n_gold if n_gold else None)  # fmt: skip


def _multilabel_confusions(Y, P, R: Ranked, how) -> list:
    """As the dense report: per document, each missed gold label paired with each wrong
    prediction (−1 when a document only misses or only adds); the most frequent pairs."""
    from .metrics import _examples
    from .schema import Confusion

    if not how.top_confusions:
        return []
    missed = sp.csr_array(Y - Y.multiply(P))
    extra = sp.csr_array(P - P.multiply(Y))
    missed.eliminate_zeros()
    extra.eliminate_zeros()
    pairs: Counter[tuple[int, int]] = Counter()
    rows_of: dict[tuple[int, int], list[int]] = {}
    wrong = np.flatnonzero(np.diff(missed.indptr) + np.diff(extra.indptr))
    for i in wrong.tolist():
        ms = missed.indices[missed.indptr[i] : missed.indptr[i + 1]].tolist() or [-1]
        es = extra.indices[extra.indptr[i] : extra.indptr[i + 1]].tolist() or [-1]
        for t in ms:
            for q in es:
                pairs[(t, q)] += 1
                rows_of.setdefault((t, q), []).append(i)
    out = []
    for (t, q), cnt in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[: how.top_confusions]:
        rows = np.asarray(rows_of[(t, q)], dtype=np.int64)
        pp = None if q < 0 else np.nan_to_num(_proba_of(R, rows, q), nan=0.0)
        tp = None if t < 0 else _proba_of(R, rows, t)  # nan: outside the document's best
        order_tp = None if tp is None else np.nan_to_num(tp, nan=0.0)  # least probable first
        found = _examples(rows, how.texts, pp, order_tp, how.examples_per_confusion)
        if tp is not None:
            found = [_with_true(e, tp[rows.tolist().index(e.index)]) for e in found]
        out.append(Confusion(how.classes[t] if t >= 0 else None,
                             how.classes[q] if q >= 0 else None, int(cnt), found))  # fmt: skip
    return out
