"""The trials of an autotune search as rows and as a table: printed by ``bowclf fit
--autotune`` from the search's :class:`~bowclf.autotune.AutotuneResult`, and by ``bowclf info``
from the best ones stored with the model (this module imports nothing heavy, so ``info``
stays quick).

A trial row is ``{"round", "batch", "epochs", "score", "params"}``: ``round`` is the halving
round within its ``batch`` (a long search runs several halving searches one after another,
each starting again at round 0), or ``'defaults'`` / ``'recipe'`` / ``'confirm'`` for the
trials outside the halving searches (``batch`` ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["STORED_TRIALS", "best_first", "describe_choice", "format_trials", "stored_trials"]

#: How many of the best trials a model file keeps (the search may have run thousands).
STORED_TRIALS = 10


def _order(trial: Mapping[str, Any]) -> tuple[float, int]:
    score = trial.get("score")
    ok = isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score)
    epochs = trial.get("epochs")
    return (-score if ok else math.inf, -epochs if isinstance(epochs, int) else 0)


def best_first(trials: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``trials`` sorted by score, best first (more epochs first among equals; a trial
    without a finite score, one stopped by the deadline, last)."""
    return sorted(trials, key=_order)


def stored_trials(trials: Iterable[Mapping[str, Any]], limit: int = STORED_TRIALS) -> list:
    """The ``limit`` best trials as plain JSON-safe rows (no wall-clock seconds), for the
    model file."""
    rows = []
    for t in best_first(trials)[:limit]:
        score = t.get("score")
        rows.append({
            "round": t.get("round"),
            "batch": t.get("batch"),
            "epochs": t.get("epochs"),
            "score": float(score) if isinstance(score, (int, float)) and math.isfinite(score)
            else None,
            "params": {str(k): _plain(v) for k, v in dict(t.get("params") or {}).items()},
        })  # fmt: skip
    return rows


def describe_choice(best_params: Mapping[str, Any]) -> str:
    """A search's winner in words: ``"dim=50, ngrams=3 at 9 epochs"``, or ``"the defaults at 4
    epochs"`` when only the epochs differ from the base configuration."""
    others = ", ".join(f"{k}={v}" for k, v in sorted(best_params.items()) if k != "epochs")
    epochs = best_params.get("epochs")
    at = f" at {epochs} epoch{'s' * (epochs != 1)}" if epochs is not None else ""
    return (others or "the defaults") + at


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        return value.item()  # numpy scalars
    except AttributeError:
        return str(value)


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def _score(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.4f}"
    return "-"


def format_trials(
    trials: Iterable[Mapping[str, Any]],
    metric: str,
    limit: int | None = 20,
    total: int | None = None,
) -> str:
    """The trials as a plain-text table, best first: ``limit`` rows (``None``: all), then
    how many more there were of ``total`` (default: the rows given).  The round column
    is preceded by a ``batch`` column when the trials come from more than one halving
    search."""
    rows = best_first(trials)
    shown = rows if limit is None else rows[:limit]
    batches = len({t.get("batch") for t in rows if isinstance(t.get("batch"), int)}) > 1
    keys = sorted({str(k) for t in shown for k in (t.get("params") or {})})
    head = ["batch"] * batches + ["round", "epochs", metric, *keys]
    body = [
        [_label(t.get("batch"))] * batches
        + [_label(t.get("round")), _label(t.get("epochs")), _score(t.get("score"))]
        + [_label((t.get("params") or {}).get(k, "")) for k in keys]
        for t in shown
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *body]]
    more = (len(rows) if total is None else total) - len(shown)
    if more > 0:
        lines.append(f"... {more} more trials")
    return "\n".join(lines)
