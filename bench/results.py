"""Raw result storage and the markdown report (``bench/RESULTS.md``).

Raw records are kept in ``bench/out/<report name>.raw.json`` (gitignored): the dataset suite's
records are replaced by every run of it; scaling records are merged point by point, so that a
separate ``python -m bench scaling --max-tokens 100M`` run adds its 100M-token rows to the
report of the main command (and vice versa) — every section names the command that made it.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bench import envinfo, scaling, tables
from bench.prep import CACHE_DIR
from bench.systems import BY_NAME, SYSTEMS

Raw = dict[str, Any]


# ---------------------------------------------------------------------- storage
def raw_path(out: Path) -> Path:
    return CACHE_DIR / f"{Path(out).stem}.raw.json"


def load_raw(out: Path) -> Raw:
    path = raw_path(out)
    if path.exists():
        return json.loads(path.read_text())
    return {}


def save_raw(out: Path, raw: Raw) -> None:
    path = raw_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=1))
    tmp.replace(path)


def merge_scaling(raw: Raw, run: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Add a scaling run: its records replace older ones of the same (point, system)."""
    sc = raw.setdefault("scaling", {"runs": [], "records": []})
    run_id = max((r["id"] for r in sc["runs"]), default=0) + 1
    run = {**run, "id": run_id}
    keys = {(json.dumps(r["point"], sort_keys=True), r["system"]) for r in records}
    sc["records"] = [
        r
        for r in sc["records"]
        if (json.dumps(r["point"], sort_keys=True), r["system"]) not in keys
    ]
    sc["records"] += [{**r, "run": run_id} for r in records]
    used = {r["run"] for r in sc["records"]}
    sc["runs"] = [r for r in sc["runs"] if r["id"] in used] + [run]


def estimate_seconds(
    raw: Raw,
    dataset_runs: list[tuple[str, str]],
    scaling_runs: list[tuple[scaling.Point, str, int]],
) -> tuple[float, int]:
    """Seconds the planned child runs took when this report was last made: a (dataset,
    system) counts the sum of its runs in the last dataset suite, a (point, system) the median
    of its runs × the planned repeats; and how many of them have no earlier timing."""
    ds_time: dict[tuple[str, str], float] = {}
    for r in (raw.get("datasets") or {}).get("records", []):
        key = (r["dataset"], r["system"])
        ds_time[key] = ds_time.get(key, 0.0) + (r.get("child_wall_s") or 0.0)
    sc_time: dict[tuple[str, str], list[float]] = {}
    for r in (raw.get("scaling") or {}).get("records", []):
        if r.get("child_wall_s"):
            key = (scaling.Point(**r["point"]).key(), r["system"])
            sc_time.setdefault(key, []).append(r["child_wall_s"])
    total, unknown = 0.0, 0
    for key in dataset_runs:
        total += ds_time.get(key, 0.0)
        unknown += key not in ds_time
    for p, system, repeats in scaling_runs:
        times = sc_time.get((p.key(), system))
        total += statistics.median(times) * repeats if times else 0.0
        unknown += not times
    return total, unknown


# ---------------------------------------------------------------------- rendering
def _label(name: str) -> str:
    s = BY_NAME.get(name)
    return s.label if s else name


def _systems(names: list[str]) -> list[Any]:
    order = [s.name for s in SYSTEMS]
    return [BY_NAME[n] for n in sorted(set(names), key=order.index) if n in BY_NAME]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _setup(raw: Raw) -> list[str]:
    out = ["## Setup", ""]
    ds = raw.get("datasets")
    runs = [("datasets", ds)] if ds else []
    runs += [
        ("scaling", r)
        for r in raw.get("scaling", {}).get("runs", [])
        if not ds or (r["command"], r["info"]["date"]) != (ds["command"], ds["info"]["date"])
    ]
    seen_info = None
    for _, run in runs:
        info = run["info"]
        key = (info["cpu"], info["nproc"], json.dumps(info["versions"], sort_keys=True))
        if key != seen_info:
            out.append(envinfo.markdown(info))
            seen_info = key
    out.append("Commands (wall time of the whole command, including data preparation):")
    out.append("")
    for _, run in runs:
        out.append(f"- `{run['command']}` — {_duration(run['seconds'])} ({run['info']['date']})")
    out.append("")
    return out


def _dataset_sections(ds: Raw) -> tuple[list[str], list[str]]:
    records, systems = ds["records"], _systems(ds["systems"])
    datasets = [(d, bool(m)) for d, m in ds["datasets"]]
    out = []
    single = [d for d, m in datasets if not m]
    multi = [d for d, m in datasets if m]
    if single:
        rows = [r for d in single for r in tables.single_rows(records, d, systems)]
        out += [
            "## Single-label datasets",
            "",
            "Medians of the repeats; ag_news is the mean over its 5 cross-validation folds. "
            "Columns: see bench/README.md.",
            "",
            tables.md_table(tables.SINGLE_HEADER, rows),
            "",
        ]
        rrows = [r for d in single for r in tables.ratio_rows(records, d, systems)]
        if rrows:
            out += [
                "### bowclf against fastText with the same hyper-parameters",
                "",
                "Pair by pair in the same run (fastText: bigrams, dim 100, 5 epochs, "
                "lr 0.1, thread=2). Δ > 0: bowclf more accurate; speed > 1: bowclf "
                "faster; RSS ratio < 1: bowclf smaller.",
                "",
                tables.md_table(tables.RATIO_HEADER, rrows),
                "",
            ]
    out += ablation_section(records, single)
    if multi:
        rows = [r for d in multi for r in tables.multi_rows(records, d, systems)]
        out += [
            "## Multi-label: Reuters-21578 (ModApte, 90 topics)",
            "",
            "Label sets: bowclf's own decision rule (ova: p ≥ 0.5; softmax: p ≥ 1/(1+m) "
            "plus the top label, m = mean labels per training document), the same rule "
            "applied to fastText's probabilities; scikit-learn: OneVsRest decisions. "
            "P@1: the top label is one of the document's labels.",
            "",
            tables.md_table(tables.MULTI_HEADER, rows),
            "",
        ]
        rrows = [r for d in multi for r in tables.ratio_rows(records, d, systems)]
        if rrows:
            header = list(tables.RATIO_HEADER)
            header[2] = "Δ micro-F1 (points)"
            out += [
                "Against fastText (softmax, bigrams, same hyper-parameters):",
                "",
                tables.md_table(header, rrows),
                "",
            ]
    behind = tables.behind_summary(records, datasets, systems, "bowclf", _label)
    cli_vs_ft = tables.behind_summary(
        records, datasets, [s for s in systems if s.name == "fasttext"], "bowclf-cli", _label
    )
    behind_lines = []
    best = tables.best_peer_rows(records, datasets, systems)
    if best:
        behind_lines += [
            "### Quality against the best peer",
            "",
            tables.md_table(tables.BEST_HEADER, best, "llrllrr"),
            "",
        ]
    if behind or cli_vs_ft:
        behind_lines += [
            "### Real datasets, peer by peer",
            "",
            "Computed from the tables above: quality differences in points "
            "(accuracy; micro-F1 on Reuters), fit-time, tokens/s and peak-RSS "
            "ratios are bowclf ÷ peer per dataset (fit time > 1 and tokens/s < 1 "
            "mean bowclf is slower).",
            "",
            *behind,
            *cli_vs_ft,
            "",
        ]
    return out, behind_lines


def ablation_section(records: list[dict[str, Any]], datasets: list[str]) -> list[str]:
    """ "Bigrams vs unigrams": bowclf's defaults against ``bowclf-uni`` (empty without
    ``bowclf-uni`` records)."""
    rows, verdict = tables.ablation_rows(records, datasets)
    if not rows:
        return []
    return [
        "## Bigrams vs unigrams",
        "",
        "bowclf's defaults (`TextClassifier(random_state=0)`: word bigrams; the *bowclf "
        "(API, defaults)* rows above) against the same model with `ngrams=1` (*bowclf-uni*), "
        "pair by pair in the same run: train → test splits, and ag_news's 5 "
        "cross-validation folds (the folds of the table above; mean over folds, min–max in "
        "brackets). Δ > 0: bigrams more accurate. Fit seconds: the `fit` call (medians of "
        "the repeats; mean over folds).",
        "",
        tables.md_table(tables.ablation_header(records), rows, "llrrrrlrr"),
        "",
        verdict,
        "",
    ]


def _scaling_agg(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        p = scaling.Point(**r["point"])
        groups.setdefault((p.key(), r["system"]), []).append(r)
    agg = {}
    for key, recs in groups.items():
        ok = [tables.with_rates(r) for r in recs if r["status"] == "ok"]
        if not ok:
            agg[key] = {"status": f"failed: {recs[0].get('error', recs[0]['status'])}"}
            continue
        row: dict[str, Any] = {
            "status": "ok",
            "runs": f"{len(ok)}/{len(recs)}",
            "vocab_used": recs[0].get("vocab_used"),
        }
        for m in (
            "fit_s",
            "tokens_per_s",
            "fit_rss_mb",
            "peak_rss_mb",
            "accuracy",
            "predict_s",
            "model_mb",
        ):
            vals = [r[m] for r in ok if isinstance(r.get(m), (int, float))]
            if vals:
                row[m] = statistics.median(vals)
        agg[key] = row
    return agg


SCALING_HEADER = [
    "scan value",
    "system",
    "fit s",
    "train tokens/s",
    "fit peak RSS MB",
    "test accuracy %",
    "bowclf speed ÷ fastText 2t",
    "bowclf speed ÷ fastText 1t",
    "bowclf RSS ÷ fastText 2t",
    "runs",
]


def _count(x: int) -> str:
    """``1000000`` → ``1M``, ``10000`` → ``10k``."""
    for div, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if x >= div and x % div == 0:
            return f"{x // div}{suffix}"
    return f"{x:,}"


def _scaling_value(scan: str, p: scaling.Point, vocab_used: int | None) -> str:
    x = scaling.scan_x(scan, p)
    text = _count(x) if scan in ("tokens", "vocab") else str(x)
    if scan == "vocab" and vocab_used:
        text += f" ({vocab_used:,} used)"
    return text


def _scaling_rows(scan: str, agg: dict[tuple[str, str], dict[str, Any]]) -> list[list[str]]:
    rows = []
    points = sorted({scaling.Point(*map(int, _parse_key(k))) for k, _ in agg})
    points = [p for p in points if p in _scan_set(scan)]
    for p in points:
        ft2 = agg.get((p.key(), "fasttext"), {})
        ft1 = agg.get((p.key(), "fasttext-1t"), {})
        for system in scaling.systems_for(scan, stream=True):
            row = agg.get((p.key(), system))
            if row is None:
                continue
            label = scaling.SCALING_SYSTEMS[system]
            value = _scaling_value(scan, p, row.get("vocab_used"))
            if row["status"] != "ok":
                rows.append([value, label, row["status"], *[""] * 6, ""])
                continue
            r2 = r1 = m2 = ""
            if system.startswith("bowclf"):
                r2 = _ratio(row, ft2, "tokens_per_s")
                r1 = _ratio(row, ft1, "tokens_per_s")
                m2 = _ratio(row, ft2, "fit_rss_mb")
            rows.append(
                [
                    value,
                    label,
                    tables.fmt_num(row.get("fit_s")),
                    tables.fmt_rate(row.get("tokens_per_s")),
                    tables.fmt_num(row.get("fit_rss_mb"), 0),
                    tables.fmt_pct(row.get("accuracy")),
                    r2,
                    r1,
                    m2,
                    row["runs"],
                ]
            )
    return rows


def _ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> str:
    if a.get(key) and b.get(key):
        return tables.fmt_ratio(a[key] / b[key])
    return ""


def _parse_key(key: str) -> list[str]:
    return [part[1:] for part in key.split("_")]


_SCAN_CACHE: dict[str, set[scaling.Point]] = {}


def _scan_set(scan: str) -> set[scaling.Point]:
    if scan not in _SCAN_CACHE:
        _SCAN_CACHE[scan] = set(scaling.scan_points(scan, 10**12))
    return _SCAN_CACHE[scan]


def scaling_sections(sc: Raw) -> tuple[list[str], list[str]]:
    agg = _scaling_agg(sc["records"])
    out = [
        "## Scaling on synthetic corpora",
        "",
        "bench/synth.py corpora (Zipfian background + class topics; test set = another "
        "document stream of the same model). Both systems get fastText's hyper-parameters "
        "(word bigrams, raw counts, plain SGD, 5 epochs, lr 0.1, dim 100 unless scanned) "
        "so that they do the same work. bowclf: `bowclf fit TRAIN.csv -o MODEL --quiet --seed 0 "
        "--epochs 5 --lr 0.1 --optimizer sgd --batch-size 32 --ngrams 2 --no-idf "
        "--supervised-weight 0.0 --no-sublinear-tf --min-df 1 --normalize l1 "
        "--ngram-weight 1.0 --dim D` (rows recorded before 2026-12-05 ran without "
        "`--batch-size 32` and the flags after `--no-idf`) — wall time of the whole "
        "process (start-up, reading the CSV, vectorizing, training, saving) and that "
        "process's peak RSS. fastText: "
        "`train_supervised` — wall time of the call (reading the file, building the "
        "dictionary, training) and the child's peak RSS after training. Medians of the "
        "repeats (see *runs*). At 1M tokens 5 epochs at lr 0.1 learn little (accuracy far "
        "below the 10M and 100M points; with 200 or 1000 classes both systems predict the "
        "majority class): the 1M scans measure cost, for both systems alike. *bowclf CLI* "
        "trains the way `bowclf fit` chooses itself (in memory, or out of core for files "
        "above its size threshold); *bowclf CLI --stream* forces out-of-core training.",
        "",
    ]
    out += _generation_note(sc["records"])
    out += _scaling_provenance(sc)
    for scan in scaling.SCANS:
        rows = _scaling_rows(scan, agg)
        if len({r[0] for r in rows}) > 1 or (scan == "tokens" and rows):
            out += [
                f"### {scaling.SCAN_TITLES[scan]}",
                "",
                tables.md_table(SCALING_HEADER, rows),
                "",
            ]
    return out, _scaling_behind(agg)


def _generation_note(records: list[dict[str, Any]]) -> list[str]:
    """How long generating the largest corpus took (recorded with the corpus, when made)."""
    recs = [r for r in records if r.get("generate_s")]
    if not recs:
        return []
    r = max(recs, key=lambda r: r["point"]["tokens"])
    size = r.get("corpus_bytes") or 0
    size_text = f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
    return [
        f"The corpora are generated once and cached in bench/out/synth (not part of the "
        f"timings): the {_count(r['point']['tokens'])}-token one (train and test, CSV and "
        f"fastText: {size_text}) took {_duration(r['generate_s'])} to generate.",
        "",
    ]


def _point_label(point: dict[str, int]) -> str:
    p = scaling.Point(**point)
    return f"{_count(p.tokens)} tokens/{p.classes} classes/dim {p.dim}/{_count(p.vocab)} words"


def _scaling_notes(sc: Raw) -> list[str]:
    """Parameters and source-change warnings of the scaling runs, per command (the scanned
    ``dim`` left out of the parameters)."""
    notes = []
    runs = {r["id"]: r for r in sc.get("runs", [])}
    for run_id, run in runs.items():
        recs = []
        for r in sc["records"]:
            if r.get("run") != run_id:
                continue
            used = {k: v for k, v in (r.get("params_used") or {}).items() if k != "dim"}
            recs.append(dict(r, dataset=_point_label(r["point"]), params_used=used))
        systems = [BY_NAME["bowclf-cli"]]
        notes += [f"Scaling (`{run['command']}`): {n}" for n in tables.params_notes(recs, systems)]
        limit = run.get("extended_max_tokens")
        if limit and any(r["point"]["tokens"] > limit for r in recs):
            extended = " and ".join(f"*{scaling.SCALING_SYSTEMS[s]}*" for s in scaling.EXTENDED)
            notes.append(
                f"`{run['command']}` ran {extended} only up to {_count(limit)} tokens "
                "(time budget: at 100M tokens they take ~6–7 min each); "
                "`python -m bench scaling --scans tokens --systems bowclf-stream "
                "fasttext-1t` runs them at every size, and its rows are kept in the "
                "report beside the main command's."
            )
    return notes


def _scaling_provenance(sc: Raw) -> list[str]:
    """Which command produced which rows, when several did."""
    runs = {r["id"]: r for r in sc.get("runs", [])}
    if len(runs) < 2:
        return []
    lines = ["Rows come from several commands:", ""]
    for run_id, run in runs.items():
        recs = [r for r in sc["records"] if r.get("run") == run_id]
        points = {json.dumps(r["point"], sort_keys=True) for r in recs}
        sizes = sorted({r["point"]["tokens"] for r in recs})
        names = [n for n in scaling.SCALING_SYSTEMS if any(r["system"] == n for r in recs)]
        lines.append(
            f"- `{run['command']}` ({run['info']['date']}): {len(points)} points "
            f"({', '.join(_count(n) for n in sizes)} tokens: "
            + ", ".join(scaling.SCALING_SYSTEMS[n].replace(", ", " ") for n in names)
            + ")"
        )
    return [*lines, ""]


def _scaling_behind(agg: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = []
    for scan in scaling.SCANS:
        for ours, peer in (
            ("bowclf-cli", "fasttext"),
            ("bowclf-stream", "fasttext"),
            ("bowclf-cli", "fasttext-1t"),
        ):
            items = _scaling_items(agg, scan, ours, peer)
            if len(items) > 1 or (scan == "tokens" and items):
                lines.append(
                    f"- **{scaling.SCAN_TITLES[scan]}** — "
                    f"{scaling.SCALING_SYSTEMS[ours]} ÷ {scaling.SCALING_SYSTEMS[peer]}: "
                    + "; ".join(items)
                    + "."
                )
    if lines:
        lines = [
            "### Synthetic scaling",
            "",
            "Speed = training tokens/s ratio (< 1: bowclf slower); RSS = peak-RSS ratio "
            "during fit (> 1: bowclf bigger); accuracy difference in points.",
            "",
            *lines,
            "",
        ]
    return lines


def _scaling_items(
    agg: dict[tuple[str, str], dict[str, Any]], scan: str, ours: str, peer: str
) -> list[str]:
    items = []
    for p in sorted(_scan_set(scan)):
        b, f = agg.get((p.key(), ours), {}), agg.get((p.key(), peer), {})
        if b.get("tokens_per_s") and f.get("tokens_per_s"):
            speed = b["tokens_per_s"] / f["tokens_per_s"]
            mem = (b.get("fit_rss_mb") or 0) / (f.get("fit_rss_mb") or 1)
            acc = 100 * ((b.get("accuracy") or 0) - (f.get("accuracy") or 0))
            items.append(
                f"{_scaling_value(scan, p, None)}: speed {speed:.2f}×, "
                f"RSS {mem:.2f}×, accuracy {acc:+.2f} pts"
            )
    return items


NOTES = """## Notes on method

- Every system runs in its own child process (`python -m bench.worker`), one at a time; the
  parent reads a JSON result from the child's stdout. Peak RSS is the child's own
  `ru_maxrss` (`resource.getrusage(RUSAGE_SELF)`), so it includes the Python interpreter,
  the imported libraries and the loaded data. For the bowclf CLI the worker starts
  `bowclf fit` and `bowclf evaluate` as separate processes and takes each one's wall time and
  `ru_maxrss` from `os.wait4`; *fit s* is then the whole `bowclf fit` process (start-up,
  reading the CSV, training, saving the model) and *predict s* the whole `bowclf evaluate`
  process, so the CLI rows carry ~2–4 s of interpreter and import start-up per command.
- *fit s* for the Python API and scikit-learn is the `fit` call on texts already in memory;
  for fastText and VW it is the training call on their input file (they stream it).
- Training tokens/s = whitespace tokens of the training texts × epochs ÷ fit s, with the
  same token count for every system. Epochs: those bowclf actually ran (its default
  `epochs='auto'` chooses them from the corpus size; see the *epochs* column), fastText 5,
  VW its 5 passes;
  scikit-learn's `n_iter_` (SGD epochs until its `tol` stopping rule; LogisticRegression's
  lbfgs iterations, each a pass over the data). Compare fit seconds where epochs differ.
- fastText input is lower-cased and whitespace-normalised (`__label__L text`); fastText
  tokenises on whitespace only, so punctuation stays attached to words; bowclf and
  scikit-learn use their own tokenizers on the raw text. VW gets the same text as fastText
  with `|` and `:` replaced
  (they are special in VW's format) and classes numbered 1..K; it uses its defaults
  otherwise (18-bit feature hash).
- fastText runs with `thread=2` (the machine's cores). fastText initialises only
  `thread/10` of the rows of its input matrix uniformly when thread < 10 (the rest stay 0;
  upstream issues facebookresearch/fastText#935 and #1061), so its accuracy depends on the
  thread count; with thread=2 most bigram buckets start at zero. Hogwild training also makes
  multi-threaded fastText non-deterministic: its accuracy varies a little between repeats.
- The bigram run allocates fastText's 2M-bucket input matrix (800 MB at dim 100, of which
  0.4–1 GB ends up resident), which costs about a second whatever the corpus size; small
  corpora are dominated by it.
- ag_news: the official 120k training split is not available, so the 7,600-document test
  split is cross-validated (stratified 5 folds, shuffled with seed 0; each fold is one run
  per system, the folds serving as repeats). Datasets with a dev split: dev is ignored.
- Timings come from a 2-core machine shared with other work (see the load average above):
  treat differences under ~20 % as noise; ratios are measured within the same run.
- Time budget: `python -m bench` is built to produce this whole report in under 30 minutes
  on this machine. To fit, pairs of ≥ 500k training tokens (imdb, tweeteval_emoji, reuters21578) and
  every scaling point run once, fastText thread=1 and `bowclf fit --stream` run up to 10M
  tokens only (the 100M point has bowclf CLI and fastText thread=2), and a system far slower
  than every other on one dataset may be skipped there (named below); bench/README.md lists
  the commands that run the rest.
"""


def _skip_notes(records: list[dict[str, Any]]) -> list[str]:
    """Which systems the suite skipped where, and the command that runs them."""
    skipped: dict[str, list[str]] = {}
    for r in records:
        if r["status"] == "skipped" and r["dataset"] not in skipped.get(r["system"], []):
            skipped.setdefault(r["system"], []).append(r["dataset"])
    return [
        f"*{_label(name)}* was skipped on {', '.join(ds)} to keep `python -m bench` within "
        f"its time budget: its fit there is far slower than every other system's (see "
        f"bench/README.md); `python -m bench --systems {name} --datasets {' '.join(ds)} "
        f"--no-scaling --out bench/out/extra.md` runs it (in a report of its own)."
        for name, ds in skipped.items()
    ]


#: Sections of the topic benchmarks' own reports that RESULTS.md carries too (copied at render
#: time, so `python -m bench render` keeps them): (file in bench/, its "## " heading's start).
INCLUDED = (
    ("RESULTS-threads.md", "## Run 5"),
    ("RESULTS-startup.md", "## Idle machine, final merge"),
    ("RESULTS-hs.md", "## Idle-machine run at the final merge"),
    ("RESULTS-fasttext.md", "## 2. Quantisation"),
)


BENCH_DIR = Path(__file__).resolve().parent


def included_sections(bench_dir: Path = BENCH_DIR) -> list[str]:
    """The :data:`INCLUDED` sections, each under a heading naming its file (a missing file or
    heading is skipped: the topic report is the source)."""
    out: list[str] = []
    for name, heading in INCLUDED:
        path = bench_dir / name
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
        if start is None:
            continue
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        title = lines[start][3:].strip()
        out += [f"## From bench/{name}: {title}", ""]
        body = lines[start + 1 : end]
        out += [("#" + line) if line.startswith("### ") else line for line in body]
        out += [""]
    return out


def render(raw: Raw) -> str:
    """The whole markdown report."""
    out = [
        "# bowclf benchmark results",
        "",
        "Generated by `python -m bench` (bench/run.py) — do not edit by hand; see "
        "bench/README.md for how to run it and what the columns mean.",
        "",
    ]
    out += _setup(raw)
    behind: list[str] = []
    if raw.get("datasets"):
        sec, b = _dataset_sections(raw["datasets"])
        out += sec
        behind += b
    if raw.get("scaling", {}).get("records"):
        sec, b = scaling_sections(raw["scaling"])
        out += sec
        behind += b
    if behind:
        out += ["## Where bowclf is behind", "", *behind]
    out += included_sections()
    notes = []
    if raw.get("datasets"):
        ds = raw["datasets"]
        notes += tables.params_notes(ds["records"], _systems(ds["systems"]))
        notes += _skip_notes(ds["records"])
        notes += [
            n
            for n in ds.get("notes") or []
            if "defaults at run time" not in n and "CLI defaults differ" not in n
        ]
    if raw.get("scaling", {}).get("records"):
        notes += _scaling_notes(raw["scaling"])
    out += [NOTES.rstrip(), *[f"- {n}" for n in notes], ""]
    return "\n".join(out).rstrip() + "\n"
