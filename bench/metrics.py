"""Scoring of predictions with scikit-learn's metrics, in one long-lived scorer process.

The workers return predictions; :class:`Scorer` scores them in a separate process started
with ``spawn`` (so scikit-learn is imported once for the whole suite, and neither the
workers nor the parent grow by its ~100 MB: a child's ``ru_maxrss`` starts at its parent's
peak resident size on Linux).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bench.prep import read_csv_gz

__all__ = ["Scorer", "score", "single_metrics", "multi_metrics", "test_labels"]

Metrics = dict[str, Any]
_LABELS: dict[str, list[str]] = {}


def test_labels(pair: dict[str, Any]) -> list[str]:
    """The label cells of the pair's test split (cached)."""
    path = pair["test_csv"]
    if path not in _LABELS:
        _LABELS.clear()
        _LABELS[path] = read_csv_gz(path)[1]
    return _LABELS[path]


def single_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> Metrics:
    """Accuracy and macro-F1 (scikit-learn)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def multi_metrics(
    true_sets: Sequence[Sequence[str]], pred_sets: Sequence[Sequence[str]], top1: Sequence[str]
) -> Metrics:
    """Micro/macro-F1 and subset accuracy of label sets, and P@1 of the top label."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer()
    mlb.fit(list(true_sets) + list(pred_sets))
    Y, P = mlb.transform(true_sets), mlb.transform(pred_sets)
    p1 = sum(t in set(ys) for t, ys in zip(top1, true_sets, strict=True)) / max(len(top1), 1)
    return {
        "micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(Y, P, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(Y, P)),
        "p_at_1": float(p1),
    }


def score(rec: dict[str, Any], pair: dict[str, Any]) -> dict[str, Any]:
    """``rec`` with its predictions (``pred`` / ``pred_sets`` + ``top1``) replaced by metrics."""
    out = dict(rec)
    pred, sets, top1 = out.pop("pred", None), out.pop("pred_sets", None), out.pop("top1", None)
    if pred is not None:
        out.update(single_metrics(test_labels(pair), pred))
    elif sets is not None and top1 is not None:
        truth = [cell.split() for cell in test_labels(pair)]
        out.update(multi_metrics(truth, sets, top1))
    return out


class Scorer:
    """A one-process pool that runs :func:`score`; use as a context manager."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )

    def score(self, rec: dict[str, Any], pair: dict[str, Any]) -> dict[str, Any]:
        """:func:`score` in the scorer process (records without predictions pass through)."""
        if not any(k in rec for k in ("pred", "pred_sets")):
            return rec
        return self._pool.submit(score, rec, pair).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
