"""Aggregation of benchmark records into medians, ratios, markdown tables and the
"Where bowclf is behind" summary.

A *record* is one child run: ``{"dataset", "pair", "system", "repeat", "status", "error",
"train_tokens", <metrics>}`` with ``status`` one of ``ok``, ``failed``, ``not installed``.
Per pair the repeats are reduced to medians; a dataset with several pairs (cross-validation
folds) reports the mean of the per-pair medians (geometric mean for ratios).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Record = dict[str, Any]
Row = dict[str, Any]

METRICS = [
    "accuracy",
    "macro_f1",
    "micro_f1",
    "p_at_1",
    "subset_accuracy",
    "fit_s",
    "predict_s",
    "tokens_per_s",
    "peak_rss_mb",
    "fit_rss_mb",
    "epochs",
    "ft_test_p_at_1",
    "model_mb",
    "base_rss_mb",
]
REF_SYSTEM = "fasttext"
OURS = ("bowclf", "bowclf-uni", "bowclf-ft", "bowclf-cli", "bowclf-ova", "bowclf-ml")


# ---------------------------------------------------------------------- aggregation
def with_rates(rec: Record) -> Record:
    """``rec`` plus ``tokens_per_s = train_tokens × epochs / fit_s`` when computable."""
    out = dict(rec)
    if rec.get("status") == "ok" and rec.get("fit_s") and rec.get("epochs") is not None:
        out["tokens_per_s"] = rec["train_tokens"] * rec["epochs"] / rec["fit_s"]
    return out


def _median_metrics(recs: Sequence[Record]) -> dict[str, float]:
    out = {}
    for key in METRICS:
        vals = [r[key] for r in recs if isinstance(r.get(key), (int, float))]
        if vals:
            out[key] = float(statistics.median(vals))
    return out


def pair_medians(
    records: Iterable[Record], dataset: str, system: str
) -> tuple[dict[str, dict[str, float]], list[Record]]:
    """Per pair, the medians of the successful repeats; and the failed/skipped records."""
    ok: dict[str, list[Record]] = {}
    bad: list[Record] = []
    for r in records:
        if r["dataset"] != dataset or r["system"] != system:
            continue
        if r["status"] == "ok":
            ok.setdefault(r["pair"], []).append(with_rates(r))
        else:
            bad.append(r)
    return {pair: _median_metrics(recs) for pair, recs in ok.items()}, bad


def summarise(records: Sequence[Record], dataset: str, system: str) -> Row | None:
    """One table row: mean over pairs of the per-pair medians, or a status."""
    per_pair, bad = pair_medians(records, dataset, system)
    n_runs = sum(1 for r in records if r["dataset"] == dataset and r["system"] == system)
    if n_runs == 0:
        return None
    if not per_pair:
        first = bad[0]
        status = first["status"]
        if status in ("failed", "skipped"):
            status = f"{status}: {first.get('error', '?')}"
        return {"status": status, "runs": "—" if first["status"] == "skipped" else f"0/{n_runs}"}
    row: Row = {"status": "ok", "runs": f"{n_runs - len(bad)}/{n_runs}", "pairs": len(per_pair)}
    for key in METRICS:
        vals = [m[key] for m in per_pair.values() if key in m]
        if vals:
            row[key] = statistics.fmean(vals)
    if bad:
        row["note"] = f"{len(bad)} run(s) failed: {bad[0].get('error', bad[0]['status'])}"
    return row


def _geomean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def ratios(
    records: Sequence[Record], dataset: str, system: str, ref: str = REF_SYSTEM
) -> Row | None:
    """``system`` against ``ref`` pair by pair (same run): accuracy / macro-F1 differences in
    points, tokens/s, fit-time and peak-RSS ratios (mean / geometric mean over pairs)."""
    ours, _ = pair_medians(records, dataset, system)
    theirs, _ = pair_medians(records, dataset, ref)
    common = [p for p in ours if p in theirs]
    if not common:
        return None
    out: Row = {"pairs": len(common)}
    for key in ("accuracy", "macro_f1", "micro_f1", "p_at_1"):
        diffs = [
            100 * (ours[p][key] - theirs[p][key])
            for p in common
            if key in ours[p] and key in theirs[p]
        ]
        if diffs:
            out[f"d_{key}"] = statistics.fmean(diffs)
    for key, name in (("tokens_per_s", "speed"), ("fit_s", "fit_time"), ("peak_rss_mb", "memory")):
        vals = [
            ours[p][key] / theirs[p][key] for p in common if ours[p].get(key) and theirs[p].get(key)
        ]
        if vals:
            out[name] = _geomean(vals)
    return out


# ---------------------------------------------------------------------- formatting
def fmt_pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None:
        return ""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def fmt_epochs(x: float | None) -> str:
    """Whole epochs without decimals (``10``), fractional ones (means over folds) with one."""
    if x is None:
        return ""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def fmt_rate(x: float | None) -> str:
    """Tokens per second as ``1.23M`` / ``845k``."""
    if x is None:
        return ""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.0f}k"
    return f"{x:.0f}"


def fmt_ratio(x: float | None) -> str:
    return "" if x is None else (f"{x:.2f}×" if x < 10 else f"{x:.0f}×")


def fmt_diff(x: float | None) -> str:
    return "" if x is None else f"{x:+.2f}"


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A markdown table; ``align`` holds ``l``/``r`` per column (default: first 2 left)."""
    align = align or "ll" + "r" * (len(header) - 2)
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _status_cells(row: Row, width: int) -> list[str]:
    return [row["status"]] + [""] * (width - 1)


SINGLE_HEADER = [
    "dataset",
    "system",
    "accuracy %",
    "macro-F1 %",
    "fit s",
    "predict s",
    "train tokens/s",
    "peak RSS MB",
    "epochs",
    "runs",
]
MULTI_HEADER = [
    "dataset",
    "system",
    "micro-F1 %",
    "macro-F1 %",
    "P@1 %",
    "subset acc %",
    "fit s",
    "predict s",
    "train tokens/s",
    "peak RSS MB",
    "runs",
]


def _rows(
    records: Sequence[Record],
    dataset: str,
    systems: Sequence[Any],
    width: int,
    cells: Callable[[Row], list[str]],
) -> list[list[str]]:
    """One row per system that ran on ``dataset``: dataset, label, ``cells(row)`` (or the
    status across ``width`` cells), runs."""
    rows = []
    for s in systems:
        row = summarise(records, dataset, s.name)
        if row is not None:
            body = cells(row) if row["status"] == "ok" else _status_cells(row, width)
            rows.append([dataset, s.label, *body, row["runs"]])
    return rows


def single_rows(records: Sequence[Record], dataset: str, systems: Sequence[Any]) -> list[list[str]]:
    """Rows of the single-label table for one dataset (``systems``: System objects)."""
    return _rows(
        records,
        dataset,
        systems,
        len(SINGLE_HEADER) - 3,
        lambda row: [
            fmt_pct(row.get("accuracy")),
            fmt_pct(row.get("macro_f1")),
            fmt_num(row.get("fit_s")),
            fmt_num(row.get("predict_s")),
            fmt_rate(row.get("tokens_per_s")),
            fmt_num(row.get("peak_rss_mb"), 0),
            fmt_epochs(row.get("epochs")),
        ],
    )


def multi_rows(records: Sequence[Record], dataset: str, systems: Sequence[Any]) -> list[list[str]]:
    """Rows of the multi-label table for one dataset."""
    return _rows(
        records,
        dataset,
        systems,
        len(MULTI_HEADER) - 3,
        lambda row: [
            fmt_pct(row.get("micro_f1")),
            fmt_pct(row.get("macro_f1")),
            fmt_pct(row.get("p_at_1")),
            fmt_pct(row.get("subset_accuracy")),
            fmt_num(row.get("fit_s")),
            fmt_num(row.get("predict_s")),
            fmt_rate(row.get("tokens_per_s")),
            fmt_num(row.get("peak_rss_mb"), 0),
        ],
    )


RATIO_HEADER = [
    "dataset",
    "bowclf system",
    "Δ accuracy (points)",
    "Δ macro-F1 (points)",
    "speed (tokens/s ÷ fastText's)",
    "fit time ÷ fastText's",
    "peak RSS ÷ fastText's",
]


def ratio_rows(
    records: Sequence[Record], dataset: str, systems: Sequence[Any], ref: str = REF_SYSTEM
) -> list[list[str]]:
    """bowclf systems against fastText (same hyper-parameters) for one dataset."""
    rows = []
    for s in systems:
        if s.family != "bowclf":
            continue
        r = ratios(records, dataset, s.name, ref)
        if r is None:
            continue
        acc = r.get("d_accuracy", r.get("d_micro_f1"))
        rows.append(
            [
                dataset,
                s.label,
                fmt_diff(acc),
                fmt_diff(r.get("d_macro_f1")),
                fmt_ratio(r.get("speed")),
                fmt_ratio(r.get("fit_time")),
                fmt_ratio(r.get("memory")),
            ]
        )
    return rows


# ---------------------------------------------------------------------- n-gram ablation
def _ngrams_used(records: Sequence[Record], system: str) -> Any:
    return next(
        (
            r["params_used"]["ngrams"]
            for r in records
            if r["system"] == system and "ngrams" in (r.get("params_used") or {})
        ),
        None,
    )


def ablation_header(
    records: Sequence[Record], base: str = "bowclf", variant: str = "bowclf-uni"
) -> list[str]:
    """Header of :func:`ablation_rows`, naming the n-gram orders the two systems ran with."""
    a, b = _ngrams_used(records, base), _ngrams_used(records, variant)
    a_txt, b_txt = (
        f"ngrams={a}" if a is not None else "defaults",
        f"ngrams={b}" if b is not None else variant,
    )
    return [
        "dataset",
        "evaluation",
        f"{a_txt} accuracy %",
        f"{b_txt} accuracy %",
        "Δ accuracy (points)",
        "Δ per fold (min … max)",
        "more accurate on",
        f"{a_txt} fit s",
        f"{b_txt} fit s",
    ]


def _mean_of(per_pair: dict[str, dict[str, float]], pairs: Sequence[str], key: str) -> float | None:
    vals = [per_pair[p][key] for p in pairs if key in per_pair[p]]
    return statistics.fmean(vals) if vals else None


def _mean_range(per_pair: dict[str, dict[str, float]], pairs: Sequence[str], key: str) -> str:
    """``mean (min–max)`` of a percentage over several pairs, the value of a single one."""
    vals = [per_pair[p][key] for p in pairs]
    mean = fmt_pct(statistics.fmean(vals))
    return f"{mean} ({fmt_pct(min(vals))}–{fmt_pct(max(vals))})" if len(vals) > 1 else mean


def ablation_rows(
    records: Sequence[Record],
    datasets: Sequence[str],
    base: str = "bowclf",
    variant: str = "bowclf-uni",
) -> tuple[list[list[str]], str]:
    """``base`` (bowclf's defaults: bigrams) against ``variant`` (unigrams) pair by pair:
    accuracy (mean over cross-validation folds, min–max in brackets), the difference in
    points, on how many pairs ``base`` is ahead, fit seconds; and a one-line verdict."""
    rows, verdict = [], []
    for name in datasets:
        ours, _ = pair_medians(records, name, base)
        theirs, _ = pair_medians(records, name, variant)
        common = [p for p in ours if "accuracy" in ours[p] and "accuracy" in theirs.get(p, {})]
        if not common:
            continue
        diffs = [100 * (ours[p]["accuracy"] - theirs[p]["accuracy"]) for p in common]
        ahead = sum(d > 0 for d in diffs)
        cv = len(common) > 1
        mean_diff = statistics.fmean(diffs)
        rows.append(
            [
                name,
                f"{len(common)}-fold CV (mean)" if cv else "train → test",
                _mean_range(ours, common, "accuracy"),
                _mean_range(theirs, common, "accuracy"),
                fmt_diff(mean_diff),
                f"{min(diffs):+.2f} … {max(diffs):+.2f}" if cv else "",
                f"{ahead}/{len(common)} folds" if cv else ("yes" if ahead else "no"),
                fmt_num(_mean_of(ours, common, "fit_s")),
                fmt_num(_mean_of(theirs, common, "fit_s")),
            ]
        )
        verdict.append((name, mean_diff, f"{ahead} of {len(common)} folds" if cv else ""))
    if not verdict:
        return rows, ""
    wins = [v for v in verdict if v[1] > 0]
    detail = ", ".join(f"{n} {d:+.2f}" for n, d, _ in verdict)
    folds = "".join(f"; {n}: ahead on {f}" for n, _, f in verdict if f)
    text = (
        f"bowclf's defaults are more accurate than the unigram model on {len(wins)} of "
        f"{len(verdict)} datasets: {detail} points{folds}."
    )
    return rows, text


# ---------------------------------------------------------------------- where behind
def _quality_key(multilabel: bool) -> str:
    return "micro_f1" if multilabel else "accuracy"


BEST_HEADER = [
    "dataset",
    "metric",
    "bowclf (defaults)",
    "best bowclf variant",
    "best peer",
    "best peer's score",
    "gap (points)",
]


def best_peer_rows(
    records: Sequence[Record],
    datasets: Sequence[tuple[str, bool]],
    systems: Sequence[Any],
    ours: str = "bowclf",
) -> list[list[str]]:
    """Per dataset: bowclf's quality, its best variant, and the best peer's (gap > 0 means
    the best peer is ahead of bowclf's defaults)."""
    rows = []
    for name, multilabel in datasets:
        key = _quality_key(multilabel)
        scored = []
        for s in systems:
            row = summarise(records, name, s.name)
            if row and row["status"] == "ok" and key in row:
                scored.append((s, row[key]))
        mine = [(s, v) for s, v in scored if s.family == "bowclf"]
        peers = [(s, v) for s, v in scored if s.family != "bowclf"]
        base = next((v for s, v in mine if s.name == ours), None)
        if base is None or not peers:
            continue
        best_mine = max(mine, key=lambda sv: sv[1])
        best_peer = max(peers, key=lambda sv: sv[1])
        rows.append(
            [
                name,
                key.replace("_", "-"),
                fmt_pct(base),
                f"{best_mine[0].label}: {fmt_pct(best_mine[1])}",
                best_peer[0].label,
                fmt_pct(best_peer[1]),
                fmt_diff(100 * (best_peer[1] - base)),
            ]
        )
    return rows


def behind_summary(
    records: Sequence[Record],
    datasets: Sequence[tuple[str, bool]],
    systems: Sequence[Any],
    ours: str = "bowclf",
    label_of: Callable[[str], str] | None = None,
) -> list[str]:
    """Bullet points: for every peer, where ``ours`` is less accurate, slower or bigger.

    ``datasets`` is ``[(name, multilabel)]``. Quality is accuracy (micro-F1 for multi-label
    data); speed is the ratio of fit times (bowclf ÷ peer, > 1 = bowclf slower) and of
    training tokens/s; memory the ratio of peak RSS.
    """
    label_of = label_of or (lambda n: n)
    bullets = []
    for peer in systems:
        if peer.family == "bowclf":
            continue
        gaps, fit_r, tps_r, mem_r = [], [], [], []
        for name, multilabel in datasets:
            a, b = summarise(records, name, ours), summarise(records, name, peer.name)
            if not a or not b or a["status"] != "ok" or b["status"] != "ok":
                continue
            key = _quality_key(multilabel)
            if key in a and key in b:
                gaps.append((name, 100 * (b[key] - a[key]), key))
            r = ratios(records, name, ours, peer.name) or {}
            if "fit_time" in r:
                fit_r.append((name, r["fit_time"]))
            if "speed" in r:
                tps_r.append((name, r["speed"]))
            if "memory" in r:
                mem_r.append((name, r["memory"]))
        if not gaps:
            continue
        bullets.append(_peer_bullet(peer.label, label_of(ours), gaps, fit_r, tps_r, mem_r))
    return bullets


def _peer_bullet(
    peer: str,
    ours: str,
    gaps: list[tuple[str, float, str]],
    fit_r: list[tuple[str, float]],
    tps_r: list[tuple[str, float]],
    mem_r: list[tuple[str, float]],
) -> str:
    behind = sorted((g for g in gaps if g[1] > 0), key=lambda g: -g[1])
    ahead = [g for g in gaps if g[1] < 0]
    ties = len(gaps) - len(behind) - len(ahead)
    parts = [f"**{peer}**"]
    if behind:
        detail = ", ".join(
            f"{n} −{d:.2f}" + (" (micro-F1)" if k == "micro_f1" else "") for n, d, k in behind
        )
        parts.append(
            f"accuracy: bowclf is behind on {len(behind)} of {len(gaps)} datasets "
            f"by {detail} points"
        )
    else:
        parts.append(f"accuracy: bowclf is not behind on any of {len(gaps)} datasets")
    if ahead:
        best = min(ahead, key=lambda g: g[1])
        parts.append(f"ahead on {len(ahead)} (most on {best[0]}: +{-best[1]:.2f})")
    if ties:
        parts.append(f"equal on {ties}")
    if fit_r:
        slower = [f"{n} {r:.2f}×" for n, r in sorted(fit_r, key=lambda x: -x[1]) if r > 1]
        gm = _geomean([r for _, r in fit_r])
        text = f"fit time: bowclf takes {gm:.2f}× the peer's (geometric mean"
        text += (
            f"; slower on {len(slower)} of {len(fit_r)}: {', '.join(slower)})"
            if slower
            else f"; faster on all {len(fit_r)})"
        )
        parts.append(text)
    if tps_r:
        gm = _geomean([r for _, r in tps_r])
        parts.append(
            f"training tokens/s ratio {gm:.2f}× (range "
            f"{min(r for _, r in tps_r):.2f}–{max(r for _, r in tps_r):.2f}×)"
        )
    if mem_r:
        more = [f"{n} {r:.2f}×" for n, r in sorted(mem_r, key=lambda x: -x[1]) if r > 1]
        gm = _geomean([r for _, r in mem_r])
        text = f"peak RSS: {gm:.2f}× the peer's (geometric mean"
        text += (
            f"; more on {len(more)} of {len(mem_r)}: {', '.join(more)})"
            if more
            else f"; less on all {len(mem_r)})"
        )
        parts.append(text)
    return f"- {parts[0]} vs {ours}: " + "; ".join(parts[1:]) + "."


# ---------------------------------------------------------------------- parameters used
def params_notes(records: Sequence[Record], systems: Sequence[Any]) -> list[str]:
    """What each bowclf system actually ran with (``params_used`` of its records); a warning
    when that changed during the run (bowclf's defaults changed under the benchmark)."""
    notes = []
    for s in systems:
        if s.family != "bowclf":
            continue
        seen: dict[str, list[str]] = {}
        resolved: dict[str, str] = {}  # dataset -> what 'auto' resolved to there
        for r in records:
            if r["system"] == s.name and r.get("params_used"):
                given = {k: v for k, v in r["params_used"].items() if k != "resolved"}
                key = ", ".join(f"{k}={v!r}" for k, v in given.items())
                datasets = seen.setdefault(key, [])
                if r["dataset"] not in datasets:
                    datasets.append(r["dataset"])
                if r["params_used"].get("resolved"):
                    resolved.setdefault(
                        r["dataset"],
                        ", ".join(f"{k}={v!r}" for k, v in r["params_used"]["resolved"].items()),
                    )
        if len(seen) == 1:
            notes.append(f"*{s.label}* ran with {next(iter(seen))}.")
        elif seen:
            variants = "; ".join(f"{k} ({', '.join(v)})" for k, v in seen.items())
            notes.append(
                f"**Warning:** bowclf changed during the run — *{s.label}* ran with {variants}."
            )
        if resolved:
            notes.append(
                f"*{s.label}* resolved to: "
                + "; ".join(f"{d}: {v}" for d, v in resolved.items())
                + "."
            )
    notes += _code_notes(records)
    return notes


def _code_notes(records: Sequence[Record]) -> list[str]:
    """A warning naming the bowclf source files whose hash differed between runs."""
    versions: dict[str, dict[str, list[str]]] = {}  # file -> hash -> datasets
    for r in records:
        for name, digest in (r.get("bowclf_files") or {}).items():
            where = versions.setdefault(name, {}).setdefault(digest, [])
            if r["dataset"] not in where:
                where.append(r["dataset"])
    changed = {n: v for n, v in versions.items() if len(v) > 1}
    combined: dict[str, list[str]] = {}  # records of older runs: one hash of all files
    for r in records:
        if r.get("bowclf_code") and not r.get("bowclf_files"):
            where = combined.setdefault(r["bowclf_code"], [])
            if r["dataset"] not in where:
                where.append(r["dataset"])
    if len(combined) > 1:
        variants = "; ".join(f"{k} ({', '.join(v)})" for k, v in combined.items())
        return [
            "**Warning:** bowclf's source changed during the run (sha1 of all "
            f"bowclf/*.py): {variants}; the files are not known."
        ]
    if not changed:
        return []
    parts = []
    for name, hashes in sorted(changed.items()):
        versions_seen = [
            f"version {i + 1} on {', '.join(ds)}" for i, ds in enumerate(hashes.values())
        ]
        parts.append(f"{name} ({'; '.join(versions_seen)})")
    return [
        "**Warning:** bowclf's source changed during the run: "
        + "; ".join(parts)
        + ". Such rows may come from different versions of these files (harmless if they "
        "are not on the benchmarked code path)."
    ]
