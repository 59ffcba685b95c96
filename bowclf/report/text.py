"""Render a :class:`~bowclf.report.Report` for the terminal: aligned tables, no wider than
the terminal, coloured only when asked or on a terminal."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._layout import (
    _display_order,
    _dw,
    _f1_order,
    _int,
    _kind,
    _label,
    _num,
    _pad,
    _plural,
    _safe,
    _summary_rows,
    _trunc,
)

if TYPE_CHECKING:
    from .schema import Report

__all__ = ["render_text"]

#: Largest number of classes drawn as a full confusion grid in the terminal.
GRID_MAX_CLASSES = 12
#: Number of most-confused classes shown when there are more than that.
GRID_FOCUS_CLASSES = 10
#: Widest terminal layout produced when the width is not given.
MAX_WIDTH = 100
MIN_WIDTH = 60

_BLOCKS = " ▏▎▍▌▋▊▉█"


def _bar(frac: float, width: int) -> str:
    """A horizontal bar of ``frac`` (0..1) of ``width`` cells, in eighths."""
    frac = min(max(frac, 0.0), 1.0)
    eighths = int(round(frac * width * 8))
    full, part = divmod(eighths, 8)
    s = "█" * full + (_BLOCKS[part] if part else "")
    return s.ljust(width)


class _Style:
    """ANSI styling, or nothing when colour is off."""

    CODES = {
        "bold": "1",
        "dim": "2",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "blue": "34",
        "cyan": "36",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, s: str, *styles: str) -> str:
        if not self.enabled or not styles or not s:
            return s
        codes = ";".join(self.CODES[x] for x in styles)
        return f"\x1b[{codes}m{s}\x1b[0m"

    def score(self, s: str, value: float | None) -> str:
        """Colour a score: green when good, yellow when middling, red when poor."""
        if value is None:
            return self(s, "dim")
        if value >= 0.8:
            return self(s, "green")
        if value >= 0.5:
            return self(s, "yellow")
        return self(s, "red")


def _auto_color(stream: Any = None) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set or TERM is dumb."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed stream
        return False


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Greedy word wrap by display width."""
    lines: list[str] = []
    line = indent
    for word in text.split(" "):
        candidate = word if line == indent else " " + word
        if _dw(line) + _dw(candidate) > width and line != indent:
            lines.append(line)
            line = indent + word
        else:
            line += candidate
    lines.append(line)
    return [_trunc(x, width) for x in lines]


def _section(title: str, width: int, st: _Style) -> list[str]:
    head = _trunc(f"── {title} ", width)
    rule = "─" * max(0, width - _dw(head))
    return ["", st(head, "bold") + st(rule, "dim")]


def _abbreviations(labels: Sequence[str], width: int) -> list[str]:
    """Unique abbreviations of at most ``width`` cells (falling back to numbers)."""
    if all(_dw(x) <= width for x in labels) and len(set(labels)) == len(labels):
        return list(labels)
    if width >= 3:
        for tail in range(0, width - 1):
            head = width - 1 - tail
            out = []
            for x in labels:
                if _dw(x) <= width:
                    out.append(x)
                elif tail == 0:
                    out.append(_trunc(x, width))
                else:
                    out.append(_trunc(x, head + 1)[:-1] + "…" + x[-tail:])
            if len(set(out)) == len(out) and all(_dw(x) <= width for x in out):
                return out
    return [str(i + 1) for i in range(len(labels))]


# ---------------------------------------------------------------------------
# render_text
# ---------------------------------------------------------------------------


def render_text(
    report: Report,
    *,
    width: int | None = None,
    color: bool | None = None,
    max_rows: int = 30,
) -> str:
    """Render a report for the terminal: summary, tables and top confusions.

    Parameters
    ----------
    report : Report
        The report to render.
    width : int, optional
        Line width in terminal cells. Default: the terminal width, clamped to
        [60, 100]. No line of the output is wider (except below 60 columns).
    color : bool, optional
        ``True`` for ANSI colours, ``False`` for plain text; ``None`` (default)
        colours only when stdout is a terminal and ``NO_COLOR`` is unset.
    max_rows : int, default 30
        Per-class rows shown; beyond it the worst classes and the five best are
        shown with a line saying how many were left out (the JSON and HTML
        reports have them all).

    Returns
    -------
    str
        The rendered report, lines separated by ``\\n``, ending with a newline.
    """
    if width is None:
        width = min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns)
        width = max(MIN_WIDTH, width)
    width = max(40, int(width))
    st = _Style(_auto_color() if color is None else bool(color))
    lines: list[str] = []
    lines += _text_header(report, width, st)
    lines += _text_summary(report, width, st)
    lines += _text_unseen(report, width, st)
    lines += _text_per_class(report, width, st, max_rows)
    if report.confusion_matrix is not None:
        lines += _text_confusion_matrix(report, width, st)
    if report.label_cardinality is not None:
        lines += _text_cardinality(report, width, st)
    lines += _text_calibration(report, width, st)
    lines += _text_confusions(report, width, st)
    return "\n".join(_TRAILING.sub(r"\1", line) for line in lines) + "\n"


_TRAILING = re.compile(r"\s+((?:\x1b\[[0-9;]*m)*)$")


def _text_header(report: Report, width: int, st: _Style) -> list[str]:
    noun = "labels" if report.multilabel else "classes"
    title = "bowclf evaluation report"
    docs = _plural(report.n_documents, "document")
    info = f"{docs} · {report.n_classes} {noun} · {_kind(report)}"
    line = f"{title}  {info}"
    if _dw(line) > width:
        return [st(_trunc(title, width), "bold"), _trunc(info, width)]
    return [st(title, "bold") + "  " + st(info, "dim")]


def _text_summary(report: Report, width: int, st: _Style) -> list[str]:
    lines = _section("Summary", width, st)
    rows = _summary_rows(report)
    cell = min(32, (width - 2) // 3)
    if cell < 26:  # too narrow for the three-column layout: flow the items in two
        cell = min(32, (width - 2) // 2)
        flat = [x for row in rows for x in row]
        rows = [flat[i : i + 2] for i in range(0, len(flat), 2)]
    val_w = 10 if cell >= 28 else 9
    key_w = cell - val_w - (cell - 26) // 2 - 1
    for row in rows:
        parts = []
        for name, value, score, colour in row:
            v = _pad(value, val_w, ">")
            v = st.score(v, score) if colour else st(v, "bold")
            parts.append(st(_pad(name, key_w), "dim") + v + " " * (cell - key_w - val_w))
        lines.append("  " + "".join(parts))
    return lines


def _text_unseen(report: Report, width: int, st: _Style) -> list[str]:
    if not report.unseen_counts:
        return []
    labels = sorted(report.unseen_counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = ", ".join(f"{_label(lab)} ×{n}" for lab, n in labels[:8])
    if len(labels) > 8:
        shown += f", … {len(labels) - 8} more"
    if report.multilabel:
        where = (
            "missed gold labels by R@k, subset accuracy and the averaged P/R/F1 (labels never "
            "predicted), left out of the per-label table"
        )
    else:
        where = (
            "errors in accuracy, P/R and calibration and, in the averages, classes never "
            "predicted; left out of log-loss and confusions"
        )
    docs = report.unseen_documents
    text = (
        f"! Gold labels the model never saw, in {_plural(docs, 'document')}: {shown}. "
        f"Counted as {where}."
    )
    return [""] + [st(x, "yellow") for x in _wrap(text, width, "")]


def _text_per_class(report: Report, width: int, st: _Style, max_rows: int) -> list[str]:
    rows = report.per_class
    noun = "label" if report.multilabel else "class"
    order = _f1_order(rows)
    lines = _section(f"Per-{noun} metrics, worst F1 first", width, st)
    labels = [_label(r.label) for r in rows]
    fixed = 10 + 8 + 7 + 9 + 11  # precision, recall, F1, support, predicted
    label_w = max(8, min(max(_dw(x) for x in labels + [noun]), 30))
    bar_w = min(20, width - 2 - label_w - fixed - 2)
    if bar_w < 6:
        bar_w = 0
        label_w = max(8, min(label_w, width - 2 - fixed))
    head = (
        _pad(noun, label_w)
        + _pad("precision", 10, ">")
        + _pad("recall", 8, ">")
        + _pad("F1", 7, ">")
        + _pad("support", 9, ">")
        + _pad("predicted", 11, ">")
    )
    lines.append("  " + st(head, "dim"))

    def row_line(i: int) -> str:
        r = rows[i]
        s = (
            _pad(labels[i], label_w)
            + _pad(_num(r.precision), 10, ">")
            + _pad(_num(r.recall), 8, ">")
            + st.score(_pad(_num(r.f1), 7, ">"), r.f1)
            + _pad(_int(r.support), 9, ">")
            + _pad(_int(r.predicted), 11, ">")
        )
        if bar_w:
            s += "  " + st.score(_bar(r.f1, bar_w), r.f1)
        return "  " + s

    max_rows = max(int(max_rows), 6)
    if len(order) <= max_rows:
        lines += [row_line(i) for i in order]
    else:
        n_best = 5
        worst, best = order[: max_rows - n_best], order[-n_best:]
        hidden = order[max_rows - n_best : -n_best]
        lo, hi = rows[hidden[0]].f1, rows[hidden[-1]].f1
        lines += [row_line(i) for i in worst]
        plural = "labels" if report.multilabel else "classes"
        note = (
            f"⋮ {len(hidden)} more {plural} with F1 {lo:.3f}–{hi:.3f} (all in the JSON/HTML report)"
        )
        lines.append("  " + st(_trunc(note, width - 2), "dim"))
        lines += [row_line(i) for i in best]
    return lines + _text_omitted(report, width, st)


def _text_omitted(report: Report, width: int, st: _Style) -> list[str]:
    """The aggregate row of the classes a report over many classes does not list."""
    o = report.per_class_omitted
    if o is None:
        return []
    plural = "labels" if report.multilabel else "classes"
    note = (
        f"+ {o.n_classes:,} other {plural} ({o.n_with_support:,} with support), not listed: "
        f"support {o.support:,}, predicted {o.predicted:,}, mean precision {o.precision:.3f}, "
        f"recall {o.recall:.3f}, F1 {o.f1:.3f}"
    )
    return ["  " + st(x, "dim") for x in _wrap(note, width - 2, "")]


def _text_confusion_matrix(report: Report, width: int, st: _Style) -> list[str]:
    cm = report.confusion_sparse()
    assert cm is not None
    c = cm.shape[0]
    labels = [_label(r.label) for r in report.per_class]
    order = _display_order([r.label for r in report.per_class])
    diagonal = cm.diagonal()
    involvement = cm.sum(axis=0) + cm.sum(axis=1) - 2 * diagonal  # errors in and out
    min_cell = max(len(_int(int(cm.max()) if cm.nnz else 0)) + 1, 6)
    fit = (width - 2 - 12) // min_cell  # columns that fit next to 12-cell row labels
    if c <= GRID_MAX_CLASSES and c <= fit:
        sel = order
        title = "Confusion matrix (rows: true, columns: predicted)"
        note = None
    else:
        m = max(2, min(GRID_FOCUS_CLASSES, fit - 1))
        ranked = np.lexsort((np.arange(c), -involvement))[:m].tolist()
        chosen = {i for i in ranked if involvement[i] > 0} or set(ranked)
        sel = [i for i in order if i in chosen]
        title = f"Confusion matrix: the {len(sel)} most confused of {c} classes"
        why = "a grid" if c > GRID_MAX_CLASSES else f"a grid {width} columns wide"
        note = (
            f"{c} classes are too many for {why}: rows are the {len(sel)} classes involved in "
            "the most errors (true), columns what they were predicted as; 'other' sums the "
            "remaining classes. The full matrix is in the JSON/HTML report."
        )
    rows = cm[sel]
    sub = rows[:, sel].toarray()
    row_totals = np.asarray(rows.sum(axis=1)).ravel()
    lines = _section(title, width, st)
    if note:
        lines += ["  " + st(x, "dim") for x in _wrap(note, width - 2)]
    other = None
    if len(sel) < c:
        other = row_totals - sub.sum(axis=1)
    ncols = len(sel) + (other is not None)
    biggest = int(max(sub.max(initial=0), 0 if other is None else other.max(initial=0)))
    cell_min = max(len(_int(biggest)) + 1, 6 if other is not None else 4)
    longest = max(_dw(labels[i]) for i in sel)
    cell = max(cell_min, min(longest + 1, 11))
    row_w = min(longest + 2, 24)
    avail = width - 2
    # Shrink the columns to 7 cells, then the row labels to 12, then the columns again.
    while row_w + ncols * cell > avail and cell > max(cell_min, 7):
        cell -= 1
    while row_w + ncols * cell > avail and row_w > 12:
        row_w -= 1
    while row_w + ncols * cell > avail and cell > cell_min:
        cell -= 1
    abbr = _abbreviations([labels[i] for i in sel], cell - 1)
    head = " " * row_w + "".join(_pad(a, cell, ">") for a in abbr)
    if other is not None:
        head += _pad("other", cell, ">")
    lines.append("  " + st(head, "dim"))
    for a, i in enumerate(sel):
        row_total = max(int(row_totals[a]), 1)
        out = _pad(labels[i], row_w - 1) + " "
        for b in range(len(sel)):
            v = int(sub[a, b])
            txt = _pad("·" if v == 0 else _int(v), cell, ">")
            if a == b:
                txt = st(txt, "green", "bold") if v else st(txt, "dim")
            elif v == 0:
                txt = st(txt, "dim")
            else:
                txt = st(txt, "red" if v / row_total >= 0.1 else "yellow")
            out += txt
        if other is not None:
            v = int(other[a])
            txt = _pad("·" if v == 0 else _int(v), cell, ">")
            out += st(txt, "dim") if v == 0 else st(txt, "yellow")
        lines.append("  " + out)
    return lines


def _text_cardinality(report: Report, width: int, st: _Style) -> list[str]:
    card = report.label_cardinality
    assert card is not None
    lines = _section("Labels per document", width, st)
    keys = sorted({int(x) for side in ("true", "pred") for x in card[side]["histogram"]})
    shown = keys if len(keys) <= 10 else keys[:9]
    head = _pad("", 10) + _pad("mean", 7, ">") + _pad("min", 5, ">") + _pad("max", 5, ">") + "   "
    head += "".join(_pad(f"{x}", 7, ">") for x in shown)
    if len(keys) > len(shown):
        head += _pad(f"{keys[9]}+", 7, ">")
    lines.append("  " + st(_trunc(head, width - 2), "dim"))
    for side, name in (("true", "gold"), ("pred", "predicted")):
        d = card[side]
        s = (
            _pad(name, 10)
            + _pad(_num(d["mean"], 2), 7, ">")
            + _pad(str(d["min"]), 5, ">")
            + _pad(str(d["max"]), 5, ">")
            + "   "
        )
        hist = {int(x): v for x, v in d["histogram"].items()}
        s += "".join(_pad(_int(hist.get(x, 0)), 7, ">") for x in shown)
        if len(keys) > len(shown):
            s += _pad(_int(sum(v for x, v in hist.items() if x >= keys[9])), 7, ">")
        lines.append("  " + _trunc(s, width - 2))
    lines.append("  " + st("columns 0, 1, 2, …: number of documents with that many labels", "dim"))
    return lines


def _text_calibration(report: Report, width: int, st: _Style) -> list[str]:
    cal = report.calibration
    what = "top-1 probability" if cal.kind == "top1" else "per-label probabilities"
    lines = _section(f"Calibration ({what}): ECE {cal.ece:.3f}, MCE {cal.mce:.3f}", width, st)
    acc_name = "accuracy" if cal.kind == "top1" else "positive"
    bar_w = max(0, min(30, width - 2 - 13 - 9 - 11 - 10 - 9 - 2))
    if bar_w < 10:  # too narrow to read
        bar_w = 0
    head = (
        _pad("confidence", 13)
        + _pad("docs" if cal.kind == "top1" else "pairs", 9, ">")
        + _pad("mean conf", 11, ">")
        + _pad(acc_name, 10, ">")
        + _pad("gap", 9, ">")
    )
    if bar_w:
        head += "  " + _pad("█ " + acc_name + "  ┃ confidence", bar_w)
    lines.append("  " + st(head, "dim"))
    empty = 0
    for b in cal.bins:
        if not b.count:
            empty += 1
            continue
        assert b.mean_confidence is not None and b.accuracy is not None
        gap = b.accuracy - b.mean_confidence
        gap_txt = _pad(f"{gap:+.3f}", 9, ">")
        gap_txt = st(
            gap_txt, "red" if abs(gap) >= 0.1 else ("yellow" if abs(gap) >= 0.05 else "green")
        )
        s = (
            _pad(f"{b.lower:.2f}–{b.upper:.2f}", 13)
            + _pad(_int(b.count), 9, ">")
            + _pad(_num(b.mean_confidence), 11, ">")
            + _pad(_num(b.accuracy), 10, ">")
            + gap_txt
        )
        if bar_w:
            bar = list(_bar(b.accuracy, bar_w))
            pos = min(bar_w - 1, int(b.mean_confidence * bar_w))
            bar_txt = "".join(bar[:pos]) + "\0" + "".join(bar[pos + 1 :])
            s += "  " + bar_txt.replace("\0", st("┃", "cyan", "bold"))
        lines.append("  " + s)
    if empty:
        lines.append("  " + st(f"({empty} empty bin{'s' if empty > 1 else ''} not shown)", "dim"))
    return lines


def _text_confusions(report: Report, width: int, st: _Style) -> list[str]:
    if report.multilabel:
        title = "Top errors (missed gold label → wrongly predicted label, per document)"
    else:
        title = "Top confusions (true → predicted)"
    lines = _section(title, width, st)
    note = report.confusions_note()
    if note is not None:
        lines.append("  " + st(note[0], "green" if note[1] else "yellow"))
        return lines
    if any(c.examples for c in report.confusions):
        legend = "examples: p(predicted) (p(true)) “document”, most confident mistakes first"
        lines.append("  " + st(_trunc(legend, width - 2), "dim"))
    total = None  # the errors the shares are of: every wrong document (single-label)
    if not report.multilabel and report.accuracy is not None:
        total = report.wrong_documents()
    elif (cm := report.confusion_sparse()) is not None:
        total = int(cm.sum() - cm.diagonal().sum())
    count_w = max(len(_int(c.count)) for c in report.confusions)
    for c in report.confusions:
        t = _label(c.true) if c.true is not None else "(none missed)"
        p = _label(c.pred) if c.pred is not None else "(nothing extra)"
        share = f"  {c.count / total:.1%} of errors" if total else ""
        head = f"{_int(c.count).rjust(count_w)}  "
        room = width - 2 - len(head) - len(share)
        pair_w = max(10, room)
        t_w = max(4, (pair_w - 3) // 2)
        t_s = _trunc(t, t_w)
        p_s = _trunc(p, pair_w - 3 - _dw(t_s))
        lines.append(
            "  " + st(head, "bold") + st(t_s, "bold") + " → " + st(p_s, "bold") + st(share, "dim")
        )
        indent = " " * (2 + count_w + 2)
        for e in c.examples:
            probs = f"{_num(e.proba, 2) if e.proba is not None else '—'}"
            if e.true_proba is not None:
                probs += f" (true {_num(e.true_proba, 2)})"
            prefix = f"{probs}  "
            text_w = width - len(indent) - _dw(prefix) - 2
            lines.append(
                indent + st(prefix, "dim") + "“" + _trunc(_safe(e.text), max(text_w, 10)) + "”"
            )
    return lines
