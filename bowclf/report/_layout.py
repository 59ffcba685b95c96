"""Layout helpers shared by the text and HTML renderers: safe labels, display widths,
number formats, the order classes are listed in, and the summary items."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schema import ClassMetrics, Report

_CONTROL = {"Cc", "Cf", "Zl", "Zp"}


def _safe(text: Any) -> str:
    """One line of printable text: whitespace collapsed, control characters replaced.

    Documents and labels may hold ANSI escapes or bidi controls; they must not
    reach the terminal.
    """
    s = " ".join(str(text).split())
    if s.isprintable():
        return s
    return "".join(
        "\N{REPLACEMENT CHARACTER}" if unicodedata.category(ch) in _CONTROL else ch for ch in s
    )


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _dw(s: str) -> int:
    """Display width of ``s`` in terminal cells."""
    if s.isascii():
        return len(s)
    return sum(_char_width(ch) for ch in s)


def _trunc(s: str, width: int) -> str:
    """Cut ``s`` to at most ``width`` cells, marking the cut with an ellipsis."""
    if _dw(s) <= width:
        return s
    if width <= 0:
        return ""
    out, used = [], 0
    for ch in s:
        w = _char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _pad(s: str, width: int, align: str = "<") -> str:
    s = _trunc(s, width)
    gap = " " * (width - _dw(s))
    return s + gap if align == "<" else gap + s


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _int(n: int | float) -> str:
    return f"{int(round(n)):,}"


def _plural(n: int, noun: str) -> str:
    return f"{_int(n)} {noun}{'' if n == 1 else 's'}"


def _label(x: Any) -> str:
    return _safe("(none)" if x is None else x)


def _display_order(labels: Sequence[Any]) -> list[int]:
    """Class indices in the order to list them: numerically when every label is a number
    (or a string holding one, so '2' comes before '10'), else in model order."""
    keys = []
    for x in labels:
        if isinstance(x, bool):
            return list(range(len(labels)))
        try:
            value = float(x)
        except (TypeError, ValueError, OverflowError):
            return list(range(len(labels)))
        if value != value:  # NaN
            return list(range(len(labels)))
        keys.append(value)
    return sorted(range(len(labels)), key=lambda i: (keys[i], i))


def _f1_order(rows: Sequence[ClassMetrics]) -> list[int]:
    """Class indices sorted worst F1 first (then larger support, then display order)."""
    rank = {i: r for r, i in enumerate(_display_order([row.label for row in rows]))}
    return sorted(range(len(rows)), key=lambda i: (rows[i].f1, -rows[i].support, rank[i]))


def _kind(report: Report) -> str:
    return "multi-label" if report.multilabel else "single-label"


Item = tuple[str, str, float | None, bool]


def _summary_rows(report: Report) -> list[list[Item]]:
    """Summary items in rows of up to three: (name, value, score to colour by, colour?)."""

    def item(name: str, value: float | None, digits: int = 3, score: bool = False) -> Item:
        return (name, _num(value, digits), value, score)

    rows: list[list[Item]] = []
    ml = report.multilabel
    if ml:
        rows.append(
            [
                item("subset accuracy", report.accuracy, score=True),
                item("micro F1", report.micro.f1, score=True),
                item("macro F1", report.macro.f1, score=True),
            ]
        )
        rows.append(
            [
                item("micro precision", report.micro.precision),
                item("micro recall", report.micro.recall),
                item("samples F1", report.samples.f1 if report.samples else None),
            ]
        )
        rows.append(
            [
                item("Hamming loss", report.hamming_loss, 4),
                item("log-loss (BCE)", report.log_loss, 4),
                item("ECE", report.calibration.ece),
            ]
        )
    else:
        rows.append(
            [
                item("accuracy", report.accuracy, score=True),
                item("macro F1", report.macro.f1, score=True),
                item("weighted F1", report.weighted.f1, score=True),
            ]
        )
        rows.append(
            [
                item("macro precision", report.macro.precision),
                item("macro recall", report.macro.recall),
                item("log-loss", report.log_loss, 4),
            ]
        )
    for k, t in sorted(report.top_k.items()):
        clip = f" (k={t.k_effective})" if t.k_effective != k else ""  # as the HTML report
        row = [item(f"P@{k}{clip}", t.precision), item(f"R@{k}{clip}", t.recall)]
        if not ml and k == 1:
            row.append(item("ECE", report.calibration.ece))
        elif t.accuracy is not None and k > 1:
            row.append(item(f"top-{k} accuracy", t.accuracy))
        rows.append(row)
    last: list[Item] = []
    if ml and report.label_cardinality:
        last.append(item("labels/doc gold", report.label_cardinality["true"]["mean"], 2))
        last.append(item("labels/doc pred", report.label_cardinality["pred"]["mean"], 2))
    if not ml and 1 not in report.top_k:  # otherwise ECE sits next to P@1 and R@1
        last.append(item("ECE", report.calibration.ece))
    dps = report.docs_per_second
    if dps is not None:
        last.append(("docs/s", _int(dps), None, False))
    if last:
        rows.append(last)
    return rows
