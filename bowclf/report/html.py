"""Render a :class:`~bowclf.report.Report` as one self-contained HTML page.

matplotlib is imported lazily, only by :func:`render_html`, and only through its
object-oriented API (``Figure`` + ``FigureCanvasAgg``): no pyplot, no backend switch, no
global state touched.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._layout import _display_order, _f1_order, _kind, _num, _plural, _safe, _summary_rows, _trunc
from .schema import DENSE_CONFUSION_MAX

if TYPE_CHECKING:
    from .schema import Report

__all__ = ["figures_available", "render_html"]

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


def figures_available() -> bool:
    """Whether :func:`render_html` can draw figures (matplotlib, the ``bowclf[report]``
    extra, is installed)."""
    return _load_matplotlib() is not None


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
    cm, ordered = _ordered_confusion(report)
    cm = cm.astype(float)
    c = cm.shape[0]
    # a '$' would start matplotlib's math text ('$\\badcmd$' failed the whole report)
    labels = [_trunc(_safe(lab), 22).replace("$", r"\$") for lab in ordered]
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
        rule = (
            "They count as missed gold labels for R@k, subset accuracy and the averaged "
            "precision, recall and F1 (as labels never predicted), and are left out of the "
            "per-label table."
        )
    else:
        rule = (
            "They count as errors in accuracy, precision, P@k/R@k and calibration, as "
            "classes never predicted in the averaged precision, recall and F1, and are left "
            "out of log-loss, the confusion matrix and the top confusions."
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
    o = report.per_class_omitted  # a report over many classes lists the most frequent only
    if o is not None:
        avg_rows.insert(
            0,
            f'<tr><td class="l"><i>{o.n_classes:,} other '
            f"{'labels' if report.multilabel else 'classes'} (mean)</i></td>"
            f"<td>{o.precision:.3f}</td><td>{o.recall:.3f}</td><td><b>{o.f1:.3f}</b></td>"
            f"<td>{o.support:,}</td><td>{o.predicted:,}</td><td></td></tr>",
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


def _ordered_confusion(report: Report) -> tuple[np.ndarray, list[Any]]:
    """The dense confusion matrix and its labels in display order (small ``c`` only)."""
    cm = report.confusion_sparse()
    assert cm is not None and cm.shape[0] <= DENSE_CONFUSION_MAX
    order = _display_order([r.label for r in report.per_class])
    return cm[order][:, order].toarray(), [report.per_class[i].label for i in order]


def _html_cm_table(report: Report) -> str:
    cm, labels = _ordered_confusion(report)
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


def _html_confusions(report: Report, explain: Callable[[Any, Any], str] | None = None) -> str:
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
    note = report.confusions_note()
    if note is not None:
        text = html.escape(note[0][:1].upper() + note[0][1:])
        return f"<section><h2>{title}</h2><p>{text}.</p></section>"
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
                why = explain(e, c) if explain is not None else ""
                lis.append(
                    f'<li><span class="p">#{e.index} · p {p}{tp}</span> {_e(e.text)}{why}</li>'
                )
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


def _html_confusion_matrix(report: Report, mpl: Any) -> str:
    """The confusion-matrix section: a heatmap (with matplotlib) and a table up to 40 classes."""
    if report.confusion_matrix is None:
        return ""
    fig = ""
    if mpl is not None and report.n_classes <= DENSE_CONFUSION_MAX:
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
            "(<code>confusion_matrix</code>: the non-zero <code>cells</code>); the top "
            "confusions are listed below.</p>"
        )
    return (
        f"<section><h2>Confusion matrix</h2><p class='sub'>Rows: true class; "
        f"columns: predicted.</p>{fig}{table}</section>"
    )


def render_html(
    report: Report,
    *,
    title: str = "bowclf evaluation report",
    explain: Callable[[Any, Any], str] | None = None,
) -> str:
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
    explain : callable, optional
        ``explain(example, confusion) -> HTML`` shown under each top confusion example
        (see :func:`bowclf.explain.confusion_explainer`).

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
        f'<p class="sub">{_plural(report.n_documents, "document")} · {report.n_classes:,} {noun} · '
        f"{_kind(report)}</p>",
    ]
    if mpl is None:
        parts.append(fig_note.replace('class="note"', 'class="note" style="margin-bottom:18px"'))
    parts.append(_html_unseen(report))
    parts.append(f"<section><h2>Summary</h2>{_html_cards(report)}{_html_topk(report)}</section>")
    parts.append(_html_per_class(report))
    parts.append(_html_confusion_matrix(report, mpl))
    parts.append(_html_cardinality(report))
    rel = _fig_reliability(report, mpl) if mpl is not None else None
    parts.append(_html_calibration(report, rel))
    parts.append(_html_confusions(report, explain))
    parts.append(f"<footer>generated by bowclf {_e(__version__)}</footer>")
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"
