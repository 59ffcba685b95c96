"""Renderers for :class:`bowclf.report.Report`: terminal text and self-contained HTML.

Kept apart from :mod:`bowclf.report` (which computes the numbers) so that the
layout code does not drown the metric definitions. matplotlib is imported
lazily, only by :func:`render_html`, and only through its object-oriented API
(``Figure`` + ``FigureCanvasAgg``): no pyplot, no backend switch, no global
state touched.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bowclf.report import ClassMetrics, Report

__all__ = ["render_html", "render_text"]

#: Largest number of classes drawn as a full confusion grid in the terminal.
GRID_MAX_CLASSES = 12
#: Number of most-confused classes shown when there are more than that.
GRID_FOCUS_CLASSES = 10
#: Widest terminal layout produced when the width is not given.
MAX_WIDTH = 100
MIN_WIDTH = 60

# ---------------------------------------------------------------------------
# Plain-text helpers
# ---------------------------------------------------------------------------

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


def _f1_order(rows: Sequence[ClassMetrics]) -> list[int]:
    """Class indices sorted worst F1 first (then larger support, then model order)."""
    return sorted(range(len(rows)), key=lambda i: (rows[i].f1, -rows[i].support, i))


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


def _kind(report: Report) -> str:
    return "multi-label" if report.multilabel else "single-label"


def _text_header(report: Report, width: int, st: _Style) -> list[str]:
    noun = "labels" if report.multilabel else "classes"
    title = "bowclf evaluation report"
    info = f"{_int(report.n_documents)} documents · {report.n_classes} {noun} · {_kind(report)}"
    line = f"{title}  {info}"
    if _dw(line) > width:
        return [st(_trunc(title, width), "bold"), _trunc(info, width)]
    return [st(title, "bold") + "  " + st(info, "dim")]


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
        if k > report.n_classes:
            continue
        row = [item(f"P@{k}", t.precision), item(f"R@{k}", t.recall)]
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
        where = "missed gold labels by R@k and subset accuracy, ignored by F1"
    else:
        where = "errors in accuracy, P/R and calibration, left out of log-loss and confusions"
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
    return lines


def _text_confusion_matrix(report: Report, width: int, st: _Style) -> list[str]:
    assert report.confusion_matrix is not None
    _, matrix_list = report.confusion_matrix
    cm = np.asarray(matrix_list, dtype=np.int64)
    c = cm.shape[0]
    labels = [_label(r.label) for r in report.per_class]
    off = cm.copy()
    np.fill_diagonal(off, 0)
    min_cell = max(len(_int(int(cm.max(initial=0)))) + 1, 6)
    fit = (width - 2 - 12) // min_cell  # columns that fit next to 12-cell row labels
    if c <= GRID_MAX_CLASSES and c <= fit:
        sel = list(range(c))
        title = "Confusion matrix (rows: true, columns: predicted)"
        note = None
    else:
        involvement = off.sum(axis=0) + off.sum(axis=1)
        ranked = sorted(range(c), key=lambda i: (-involvement[i], i))
        m = max(2, min(GRID_FOCUS_CLASSES, fit - 1))
        sel = sorted(i for i in ranked[:m] if involvement[i] > 0) or sorted(ranked[:m])
        title = f"Confusion matrix: the {len(sel)} most confused of {c} classes"
        why = "a grid" if c > GRID_MAX_CLASSES else f"a grid {width} columns wide"
        note = (
            f"{c} classes are too many for {why}: rows are the {len(sel)} classes involved in "
            "the most errors (true), columns what they were predicted as; 'other' sums the "
            "remaining classes. The full matrix is in the JSON/HTML report."
        )
    lines = _section(title, width, st)
    if note:
        lines += ["  " + st(x, "dim") for x in _wrap(note, width - 2)]
    sub = cm[np.ix_(sel, sel)]
    other = None
    if len(sel) < c:
        other = cm[sel].sum(axis=1) - sub.sum(axis=1)
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
        row_total = max(int(cm[i].sum()), 1)
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
    if not report.confusions:
        lines.append("  " + st("no errors", "green"))
        return lines
    if any(c.examples for c in report.confusions):
        legend = "examples: p(predicted) (p(true)) “document”, most confident mistakes first"
        lines.append("  " + st(_trunc(legend, width - 2), "dim"))
    total = None
    if report.confusion_matrix is not None:
        cm = np.asarray(report.confusion_matrix[1], dtype=np.int64)
        total = int(cm.sum() - np.trace(cm))
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


# ---------------------------------------------------------------------------
# render_html
# ---------------------------------------------------------------------------

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa;
        --good:#1a7f37; --mid:#9a6700; --bad:#cf222e; --accent:#0969da; }
* { box-sizing: border-box; }
body { margin:0; background:var(--soft); color:var(--fg);
       font:14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px 28px 48px; }
h1 { font-size:22px; margin:0 0 2px; }
h3 { font-size:15px; margin:20px 0 6px; }
h2 { font-size:17px; margin:0 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
.sub { color:var(--muted); margin:0 0 18px; }
section { background:var(--bg); border:1px solid var(--line); border-radius:8px;
          padding:16px 20px; margin:0 0 18px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 12px; background:var(--bg); }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.card .v { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
.good { color:var(--good); } .mid { color:var(--mid); } .bad { color:var(--bad); }
table { border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { padding:3px 10px; border-bottom:1px solid var(--line); text-align:right;
         white-space:nowrap; }
th { font-weight:600; color:var(--muted); font-size:12px; position:sticky; top:0;
     background:var(--bg); }
td.l, th.l { text-align:left; }
td.lab { text-align:left; max-width:280px; overflow:hidden; text-overflow:ellipsis; }
.scroll { max-height:80vh; overflow:auto; border:1px solid var(--line); border-radius:6px; }
.scroll table { width:100%; }
.barcell { width:160px; }
.bar { height:10px; background:#e6e9ed; border-radius:5px; overflow:hidden; }
.bar > span { display:block; height:100%; }
.note { background:#fff8c5; border:1px solid #d4a72c66; border-radius:6px; padding:8px 12px; }
.warn { background:#fff1e5; border:1px solid #fb8f4466; border-radius:6px; padding:8px 12px;
        margin:0 0 18px; }
figure { margin:0 0 12px; text-align:center; }
figure img { max-width:100%; height:auto; }
figcaption { color:var(--muted); font-size:12px; }
.grid2 { display:grid; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); gap:20px;
         align-items:start; }
@media (max-width:900px) { .grid2 { grid-template-columns:1fr; } }
.cm td { padding:2px 6px; text-align:center; border:1px solid #fff; }
.cm th { font-size:11px; }
.cm th.rot { writing-mode:vertical-rl; transform:rotate(180deg); text-align:left;
             max-height:140px; overflow:hidden; vertical-align:bottom; }
details { margin-top:10px; } summary { cursor:pointer; color:var(--accent); }
.conf { border-top:1px solid var(--line); padding:10px 0; }
.conf:first-of-type { border-top:0; }
.pair { font-weight:600; } .count { color:var(--muted); margin-left:6px; }
.arrow { color:var(--muted); padding:0 4px; }
ul.ex { list-style:none; margin:6px 0 0; padding:0; }
ul.ex li { margin:4px 0; padding:6px 10px; background:var(--soft); border-radius:6px;
           overflow-wrap:anywhere; }
.p { display:inline-block; min-width:92px; color:var(--muted); font-size:12px;
     font-variant-numeric:tabular-nums; }
footer { color:var(--muted); font-size:12px; text-align:center; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _hlabel(x: Any) -> str:
    return _e("(none)" if x is None else x)


def _cls(value: float | None) -> str:
    if value is None:
        return ""
    return "good" if value >= 0.8 else ("mid" if value >= 0.5 else "bad")


def _load_matplotlib() -> tuple[Any, Any] | None:
    """``(Figure, FigureCanvasAgg)`` or ``None`` when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


_HTTP = re.compile(r"(htt)(p)", re.IGNORECASE)


def _png_data_uri(fig: Any, canvas_cls: Any) -> str:
    canvas_cls(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    # A data URI is pure base64, but by chance it may spell "http"; a newline
    # inside a URL is dropped by every URL parser, so break such runs with one
    # to keep the page free of anything that looks like a link.
    b64 = _HTTP.sub("\\1\n\\2", b64)
    return "data:image/png;base64," + b64


def _fig_confusion(report: Report, mpl: tuple[Any, Any]) -> str:
    from matplotlib.colors import PowerNorm

    Figure, Canvas = mpl
    assert report.confusion_matrix is not None
    cm = np.asarray(report.confusion_matrix[1], dtype=float)
    c = cm.shape[0]
    labels = [_trunc(_safe(r.label), 22) for r in report.per_class]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    side = float(np.clip(3.0 + 0.2 * c, 5.0, 12.0))
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    # A square-root colour scale keeps the rare confusions of many classes visible.
    im = ax.imshow(
        norm,
        cmap="Blues",
        norm=PowerNorm(0.5, vmin=0.0, vmax=1.0),
        interpolation="nearest",
        aspect="equal",
    )
    fs = 10 if c <= 10 else 8 if c <= 25 else 6 if c <= 50 else 4.5
    ax.set_xticks(range(c), labels, rotation=90, fontsize=fs)
    ax.set_yticks(range(c), labels, fontsize=fs)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(length=0 if c > 40 else 2)
    if c <= 25:
        afs = 10 if c <= 10 else 8 if c <= 16 else 7
        for i in range(c):
            for j in range(c):
                v = int(cm[i, j])
                if v:
                    ax.text(
                        j,
                        i,
                        f"{v}",
                        ha="center",
                        va="center",
                        fontsize=afs,
                        color="white" if norm[i, j] > 0.3 else "#1f2328",
                    )
    cb = fig.colorbar(im, ax=ax, shrink=0.7, pad=0.02)
    cb.set_label("fraction of the true class (square-root scale)")
    return _png_data_uri(fig, Canvas)


def _fig_reliability(report: Report, mpl: tuple[Any, Any]) -> str:
    Figure, Canvas = mpl
    cal = report.calibration
    fig = Figure(figsize=(6.0, 5.4), layout="constrained")
    ax, axh = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    width = 1.0 / cal.n_bins
    centers = [(b.lower + b.upper) / 2 for b in cal.bins]
    acc = [b.accuracy if b.accuracy is not None else 0.0 for b in cal.bins]
    conf = [b.mean_confidence if b.mean_confidence is not None else 0.0 for b in cal.bins]
    has = [b.count > 0 for b in cal.bins]
    ax.plot([0, 1], [0, 1], ls="--", color="#59636e", lw=1, label="perfect calibration")
    ax.bar(
        [x for x, h in zip(centers, has, strict=True) if h],
        [a for a, h in zip(acc, has, strict=True) if h],
        width=width * 0.92,
        color="#0969da",
        alpha=0.85,
        label="accuracy" if cal.kind == "top1" else "fraction positive",
    )
    gaps = [(x, a, c) for x, a, c, h in zip(centers, acc, conf, has, strict=True) if h]
    ax.bar(
        [g[0] for g in gaps],
        [g[2] - g[1] for g in gaps],
        bottom=[g[1] for g in gaps],
        width=width * 0.92,
        facecolor="none",
        edgecolor="#cf222e",
        linewidth=0.8,
        hatch="///",
        label="gap to mean confidence",
    )
    ax.scatter([g[0] for g in gaps], [g[2] for g in gaps], s=14, color="#cf222e", zorder=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy" if cal.kind == "top1" else "fraction positive")
    ax.set_title(f"ECE {cal.ece:.3f} · MCE {cal.mce:.3f}", fontsize=11)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    axh.bar(centers, [b.count for b in cal.bins], width=width * 0.92, color="#59636e")
    axh.set_ylabel("docs" if cal.kind == "top1" else "pairs")
    axh.set_xlabel(
        "confidence (top-1 probability)" if cal.kind == "top1" else "predicted probability"
    )
    axh.grid(alpha=0.3, axis="y")
    return _png_data_uri(fig, Canvas)


def _html_cards(report: Report) -> str:
    """Headline numbers; P@k/R@k are left to the top-k table below them."""
    cards = []
    topk = re.compile(r"^([PR]@\d+|top-\d+ accuracy)$")
    for name, value, score, colour in (x for row in _summary_rows(report) for x in row):
        if topk.match(name):
            continue
        cls = f" {_cls(score)}" if colour else ""
        cards.append(
            f'<div class="card"><div class="k">{_e(name)}</div>'
            f'<div class="v{cls}">{_e(value)}</div></div>'
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _html_unseen(report: Report) -> str:
    if not report.unseen_counts:
        return ""
    labels = sorted(report.unseen_counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    total = sum(report.unseen_counts.values())
    items = ", ".join(f"<b>{_hlabel(lab)}</b>&nbsp;×{n}" for lab, n in labels[:30])
    if len(labels) > 30:
        items += f", … {len(labels) - 30} more"
    if report.multilabel:
        rule = "They count as missed gold labels for R@k and subset accuracy and are ignored by F1."
    else:
        rule = (
            "They count as errors in accuracy, precision, P@k/R@k and calibration, and are "
            "left out of log-loss, the confusion matrix and the top confusions."
        )
    return (
        f'<div class="warn"><b>Gold labels the model never saw, in '
        f"{_plural(report.unseen_documents, 'document')} ({_plural(total, 'occurrence')}).</b> "
        f"{rule}<br>{items}</div>"
    )


def _html_per_class(report: Report) -> str:
    rows = report.per_class
    noun = "label" if report.multilabel else "class"
    body = []
    for i in _f1_order(rows):
        r = rows[i]
        cls = _cls(r.f1)
        colour = {"good": "#1a7f37", "mid": "#bf8700", "bad": "#cf222e"}[cls]
        body.append(
            f'<tr><td class="lab" title="{_hlabel(r.label)}">{_hlabel(r.label)}</td>'
            f"<td>{r.precision:.3f}</td><td>{r.recall:.3f}</td>"
            f'<td class="{cls}"><b>{r.f1:.3f}</b></td>'
            f"<td>{r.support:,}</td><td>{r.predicted:,}</td>"
            f'<td class="barcell"><div class="bar"><span style="width:{100 * r.f1:.1f}%;'
            f'background:{colour}"></span></div></td></tr>'
        )
    head = (
        f'<tr><th class="l">{noun}</th><th>precision</th><th>recall</th><th>F1</th>'
        '<th>support</th><th>predicted</th><th class="l">F1</th></tr>'
    )
    avg_rows = []
    for name, a in (
        ("macro avg", report.macro),
        ("micro avg", report.micro),
        ("weighted avg", report.weighted),
        ("samples avg", report.samples),
    ):
        if a is None:
            continue
        avg_rows.append(
            f'<tr><td class="l"><i>{name}</i></td><td>{a.precision:.3f}</td>'
            f"<td>{a.recall:.3f}</td><td><b>{a.f1:.3f}</b></td><td></td><td></td><td></td></tr>"
        )
    return (
        f"<section><h2>Per-{noun} metrics</h2>"
        f'<p class="sub">Sorted by F1, worst first. Support: documents with the {noun}; '
        f"predicted: documents it was predicted for.</p>"
        f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(body)}</tbody>'
        f"<tbody>{''.join(avg_rows)}</tbody></table></div></section>"
    )


def _html_topk(report: Report) -> str:
    rows = []
    with_acc = any(t.accuracy is not None for t in report.top_k.values())
    for k, t in sorted(report.top_k.items()):
        acc = "—" if t.accuracy is None else f"{t.accuracy:.3f}"
        keff = f" (k={t.k_effective})" if t.k_effective != t.k else ""
        rows.append(
            f"<tr><td class='l'>{k}{keff}</td><td>{_num(t.precision)}</td><td>{_num(t.recall)}</td>"
            + (f"<td>{acc}</td>" if with_acc else "")
            + "</tr>"
        )
    extra = []
    if report.predict_seconds is not None:
        dps = report.docs_per_second
        extra.append(
            f"prediction took {report.predict_seconds:.3f} s"
            + (f" ({dps:,.0f} docs/s)" if dps is not None else "")
        )
    return (
        "<h3>Top-k</h3>"
        "<p class='sub'>P@k and R@k as in fastText's <code>test</code>: the k highest-scoring "
        "labels of every document; P@k = correct / predicted labels, R@k = correct / gold "
        "labels."
        + (" Top-k accuracy: the true label is among the k best." if with_acc else "")
        + "</p><table><thead><tr><th class='l'>k</th><th>P@k</th><th>R@k</th>"
        + ("<th>top-k accuracy</th>" if with_acc else "")
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<p class='sub' style='margin-top:10px'>{_e(' · '.join(extra))}</p>" if extra else "")
    )


def _html_cm_table(report: Report) -> str:
    assert report.confusion_matrix is not None
    cm = np.asarray(report.confusion_matrix[1], dtype=np.int64)
    labels = [r.label for r in report.per_class]
    rows_tot = np.maximum(cm.sum(axis=1), 1)
    head = "<tr><th class='l'>true \\ predicted</th>" + "".join(
        f"<th class='rot' title='{_hlabel(x)}'>{_e(_trunc(str(x), 18))}</th>" for x in labels
    )
    body = []
    for i, lab in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            v = int(cm[i, j])
            frac = v / rows_tot[i]
            if v == 0:
                cells.append("<td></td>")
                continue
            if i == j:
                bg = f"rgba(26,127,55,{0.15 + 0.7 * frac:.2f})"
            else:
                bg = f"rgba(207,34,46,{0.12 + 0.8 * frac:.2f})"
            fg = "#fff" if frac > 0.55 else "inherit"
            cells.append(f"<td style='background:{bg};color:{fg}'>{v:,}</td>")
        body.append(
            f"<tr><th class='l' title='{_hlabel(lab)}'>{_e(_trunc(str(lab), 24))}</th>"
            + "".join(cells)
            + "</tr>"
        )
    return f"<table class='cm'><thead>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_confusions(report: Report) -> str:
    if report.multilabel:
        title = "Top errors"
        sub = (
            "Within one document: a gold label that was missed → a label predicted wrongly "
            "(p: probability of the wrong label, true: probability of the missed one)."
        )
    else:
        title = "Top confusions"
        sub = (
            "Most frequent true → predicted pairs, with their most confident mistakes "
            "(#: row in the input, p: probability of the predicted label, true: probability "
            "of the true label)."
        )
    if not report.confusions:
        return f"<section><h2>{title}</h2><p>No errors.</p></section>"
    items = []
    for c in report.confusions:
        t = "<i>(none missed)</i>" if c.true is None else _e(c.true)
        q = "<i>(nothing extra)</i>" if c.pred is None else _e(c.pred)
        ex = ""
        if c.examples:
            lis = []
            for e in c.examples:
                p = "—" if e.proba is None else f"{e.proba:.2f}"
                tp = "" if e.true_proba is None else f" · true {e.true_proba:.2f}"
                lis.append(f'<li><span class="p">#{e.index} · p {p}{tp}</span> {_e(e.text)}</li>')
            ex = '<ul class="ex">' + "".join(lis) + "</ul>"
        items.append(
            f'<div class="conf"><span class="pair">{t}</span>'
            f'<span class="arrow">→</span><span class="pair">{q}</span>'
            f'<span class="count">{c.count:,} document{"s" if c.count != 1 else ""}</span>'
            f"{ex}</div>"
        )
    return f"<section><h2>{title}</h2><p class='sub'>{_e(sub)}</p>{''.join(items)}</section>"


def _html_calibration(report: Report, figure: str | None) -> str:
    cal = report.calibration
    acc_name = "accuracy" if cal.kind == "top1" else "fraction positive"
    unit = "documents" if cal.kind == "top1" else "document-label pairs"
    rows = []
    for b in cal.bins:
        gap = None
        if b.accuracy is not None and b.mean_confidence is not None:
            gap = b.accuracy - b.mean_confidence
        gap_cls = (
            ""
            if gap is None
            else ("bad" if abs(gap) >= 0.1 else "mid" if abs(gap) >= 0.05 else "good")
        )
        rows.append(
            f"<tr><td class='l'>{b.lower:.2f}–{b.upper:.2f}</td><td>{b.count:,}</td>"
            f"<td>{_num(b.mean_confidence)}</td><td>{_num(b.accuracy)}</td>"
            f"<td class='{gap_cls}'>{'—' if gap is None else f'{gap:+.3f}'}</td></tr>"
        )
    table = (
        f"<table><thead><tr><th class='l'>confidence</th><th>{unit}</th><th>mean conf.</th>"
        f"<th>{acc_name}</th><th>gap</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    what = (
        "the top-1 probability against whether that label is right"
        if cal.kind == "top1"
        else "every per-label probability against whether the label is gold"
    )
    fig = (
        f'<figure><img src="{figure}" alt="reliability diagram"><figcaption>Reliability '
        "diagram</figcaption></figure>"
        if figure
        else ""
    )
    return (
        f"<section><h2>Calibration</h2><p class='sub'>{cal.n_bins} equal-width bins of {what}. "
        f"ECE {cal.ece:.4f} (expected calibration error: the count-weighted mean gap), "
        f"MCE {cal.mce:.4f} (largest gap).</p>"
        + (f"<div class='grid2'><div>{fig}</div><div>{table}</div></div>" if fig else table)
        + "</section>"
    )


def _html_cardinality(report: Report) -> str:
    card = report.label_cardinality
    if card is None:
        return ""
    keys = sorted({int(x) for side in ("true", "pred") for x in card[side]["histogram"]})
    head = "<tr><th class='l'></th><th>mean</th><th>min</th><th>max</th>" + "".join(
        f"<th>{x}</th>" for x in keys
    )
    rows = []
    for side, name in (("true", "gold"), ("pred", "predicted")):
        d = card[side]
        hist = {int(x): v for x, v in d["histogram"].items()}
        rows.append(
            f"<tr><td class='l'>{name}</td><td>{d['mean']:.2f}</td><td>{d['min']}</td>"
            f"<td>{d['max']}</td>" + "".join(f"<td>{hist.get(x, 0):,}</td>" for x in keys) + "</tr>"
        )
    return (
        "<section><h2>Labels per document</h2><p class='sub'>Columns 0, 1, 2, …: number of "
        "documents with that many labels.</p><div style='overflow-x:auto'>"
        f"<table><thead>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def render_html(report: Report, *, title: str = "bowclf evaluation report") -> str:
    """Render a report as one self-contained HTML5 page.

    Inline CSS, no scripts and no external references: figures (confusion
    matrix heatmap, reliability diagram) are embedded as base64 PNG ``data:``
    URIs. They need matplotlib (the ``bowclf[report]`` extra); without it the
    page keeps every table and says how to get the figures. All text is
    HTML-escaped.

    Parameters
    ----------
    report : Report
        The report to render.
    title : str, default "bowclf evaluation report"
        Page title and heading.

    Returns
    -------
    str
        The HTML document.
    """
    from bowclf import __version__

    mpl = _load_matplotlib()
    noun = "labels" if report.multilabel else "classes"
    fig_note = (
        '<p class="note">Figures are missing: install bowclf[report] for figures (matplotlib).</p>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{report.n_documents:,} documents · {report.n_classes:,} {noun} · '
        f"{_kind(report)}</p>",
    ]
    if mpl is None:
        parts.append(fig_note.replace('class="note"', 'class="note" style="margin-bottom:18px"'))
    parts.append(_html_unseen(report))
    parts.append(f"<section><h2>Summary</h2>{_html_cards(report)}{_html_topk(report)}</section>")
    parts.append(_html_per_class(report))
    if report.confusion_matrix is not None:
        fig = ""
        if mpl is not None:
            fig = (
                f'<figure><img src="{_fig_confusion(report, mpl)}" alt="confusion matrix '
                'heatmap"><figcaption>Confusion matrix, each row normalised by the number of '
                "documents of its true class; numbers are counts.</figcaption></figure>"
            )
        table = ""
        if report.n_classes <= 40:
            open_attr = " open" if mpl is None else ""
            table = (
                f"<details{open_attr}><summary>Confusion matrix as a table</summary>"
                f"<div style='overflow-x:auto'>{_html_cm_table(report)}</div></details>"
            )
        else:
            table = (
                "<p class='sub'>The full matrix is in the JSON report "
                "(<code>confusion_matrix</code>); the top confusions are listed below.</p>"
            )
        parts.append(
            f"<section><h2>Confusion matrix</h2><p class='sub'>Rows: true class; "
            f"columns: predicted.</p>{fig}{table}</section>"
        )
    parts.append(_html_cardinality(report))
    rel = _fig_reliability(report, mpl) if mpl is not None else None
    parts.append(_html_calibration(report, rel))
    parts.append(_html_confusions(report))
    parts.append(f"<footer>generated by bowclf {_e(__version__)}</footer>")
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"
