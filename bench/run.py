"""``python -m bench``: bowclf against fastText, scikit-learn and Vowpal Wabbit.

    python -m bench [--quick] [--datasets D ...] [--systems S ...] [--repeats N]
                    [--big-repeats N] [--max-tokens 100M] [--extended-max-tokens 10M]
                    [--scans tokens classes dim vocab] [--no-scaling] [--out bench/RESULTS.md]
    python -m bench scaling [--max-tokens 100M] [--repeats N] [--scans tokens classes ...]
                            [--systems bowclf-cli bowclf-stream fasttext fasttext-1t]
    python -m bench render [--out bench/RESULTS.md]

The first form runs every system on every train/test pair of the benchmark corpora (each run
in its own child process, ``--repeats`` times — ``--big-repeats`` times for pairs of at least
500k training tokens), the bigrams-vs-unigrams ablation, then the four synthetic scaling scans
(corpus size up to ``--max-tokens`` training tokens; fastText thread=1 and ``bowclf fit
--stream`` only up to ``--extended-max-tokens``), prints the tables as they complete and writes
the whole markdown report — in under 30 minutes on the 2-core benchmark machine. The second
form runs scaling scans only, by default with every system at every size, and merges them into
the same report. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import envinfo, results, scaling, subproc, tables
from bench.common import REPO
from bench.metrics import Scorer
from bench.prep import MULTILABEL_DATASETS, QUICK_DATASETS, available_datasets
from bench.subproc import run_child
from bench.systems import (
    BOWCLF_FT_PARAMS,
    BUDGET_SKIP,
    BY_NAME,
    SHOWN_PARAMS,
    SYSTEMS,
    System,
    available,
    bowclf_cli_argv,
    child_env,
)
from bench.worker import MARKER

DEFAULT_OUT = REPO / "bench" / "RESULTS.md"
QUICK_OUT = REPO / "bench" / "out" / "RESULTS-quick.md"
DEFAULT_TIMEOUT = 1800.0
BIG_TOKENS = 500_000  #: pairs with at least this many training tokens run --big-repeats times
RunJob = Callable[[dict[str, Any], float], dict[str, Any]]


# ---------------------------------------------------------------------- arguments
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark bowclf against fastText, scikit-learn and Vowpal Wabbit.",
        epilog="Subcommands: 'python -m bench scaling --help' (synthetic scaling scans), "
        "'python -m bench render' (rewrite the report from the stored raw records).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"small datasets ({', '.join(QUICK_DATASETS)}), 1 repeat, corpus-size "
        f"scan at 1M tokens only; report to {QUICK_OUT.relative_to(REPO)}",
    )
    p.add_argument(
        "--datasets",
        nargs="+",
        metavar="D",
        help="datasets (default: every corpus in the datasets folder)",
    )
    p.add_argument(
        "--systems",
        nargs="+",
        metavar="S",
        choices=[s.name for s in SYSTEMS],
        help="systems (default: all but bowclf-ws); one of: %(choices)s",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per system and pair; medians are reported (default 3, quick 1)",
    )
    p.add_argument(
        "--big-repeats",
        type=int,
        default=1,
        help=f"runs per system for pairs of at least {BIG_TOKENS:,} training tokens "
        "and per scaling point (default %(default)s)",
    )
    p.add_argument(
        "--max-tokens",
        default=None,
        help="largest corpus of the corpus-size scan (default 100M; quick 1M)",
    )
    _extended_option(p, "10M")
    p.add_argument(
        "--scans",
        nargs="+",
        choices=scaling.SCANS,
        default=None,
        help="scaling scans (default: all four; quick: tokens)",
    )
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling scans")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds before a child process is killed (default %(default)s)",
    )
    _memory_option(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown report (default {DEFAULT_OUT.relative_to(REPO)})",
    )
    return p


def _scaling_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench scaling",
        description="Synthetic scaling scans: bowclf CLI vs fastText (see bench/scaling.py).",
    )
    p.add_argument("--max-tokens", default="100M", help="largest corpus (default 100M)")
    _extended_option(p, None)
    p.add_argument("--scans", nargs="+", choices=scaling.SCANS, default=scaling.SCANS)
    p.add_argument(
        "--systems",
        nargs="+",
        choices=list(scaling.SCALING_SYSTEMS),
        default=None,
        help="only these systems (default: all); one of: %(choices)s",
    )
    p.add_argument(
        "--repeats", type=int, default=1, help="runs per point below 100M tokens (default 1)"
    )
    p.add_argument(
        "--big-repeats",
        type=int,
        default=1,
        help="runs per point at 100M tokens and more (default 1)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds before a child is killed (default: scaled to the corpus)",
    )
    _memory_option(p)
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"markdown report (default {DEFAULT_OUT.relative_to(REPO)})",
    )
    return p


def _extended_option(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--extended-max-tokens",
        default=default,
        metavar="N",
        help="largest corpus at which fastText thread=1 and bowclf fit --stream also "
        "run (default: " + (default or "--max-tokens") + ")",
    )


def _memory_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-memory",
        type=float,
        default=None,
        metavar="GB",
        help="kill a child whose processes use more resident memory than this "
        "(default: 75%% of the memory available at start; needs psutil)",
    )


def _set_memory_limit(gb: float | None) -> None:
    subproc.MEMORY_LIMIT_MB = gb * 1024 if gb else subproc.default_memory_limit_mb()


def render_command(argv: list[str]) -> int:
    """``python -m bench render [--out FILE]``: rewrite the report from the raw records."""
    p = argparse.ArgumentParser(
        prog="python -m bench render", description="Rewrite the report from its stored raw records."
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    raw = results.load_raw(args.out)
    if not raw:
        p.error(f"no raw records for {args.out} ({results.raw_path(args.out)})")
    _write(args.out, raw)
    _progress(f"report: {args.out}")
    return 0


# ---------------------------------------------------------------------- children
def run_worker(
    job: dict[str, Any], timeout: float, scorer: Scorer, fixed_timeout: float | None = None
) -> dict[str, Any]:
    """Run one worker child and score its predictions; its metrics, or ``status: failed``
    with a one-line error."""
    res = run_child(
        [sys.executable, "-m", "bench.worker", json.dumps(job)],
        fixed_timeout or timeout,
        env=child_env(),
        cwd=str(REPO),
    )
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(MARKER)]
    rec: dict[str, Any] = {"child_wall_s": res.wall_s, "child_rss_mb": res.maxrss_mb}
    if res.timed_out or not lines:
        return {**rec, "status": "failed", "error": res.error_line()}
    data = json.loads(lines[-1][len(MARKER) :])
    if not data.pop("ok"):
        return {**rec, "status": "failed", "error": data.get("error", "?")}
    try:
        data = scorer.score(data, job["pair"])
    except Exception as exc:  # noqa: BLE001 - e.g. predictions of the wrong length
        return {**rec, "status": "failed", "error": f"scoring: {type(exc).__name__}: {exc}"}
    return {**rec, **data, "status": "ok"}


def json_child(argv: list[str], timeout: float) -> Any:
    """Run ``python ARGV...`` in a child and parse the last line of its stdout as JSON.

    Data preparation and corpus generation run in children so that this process stays
    small: on Linux a child's ``ru_maxrss`` starts at its parent's peak resident size.
    """
    res = run_child([sys.executable, *argv], timeout, env=child_env(), cwd=str(REPO))
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(argv[:2])}: {res.error_line()}")
    return json.loads(lines[-1])


def _make_pair(point: scaling.Point) -> dict[str, Any]:
    return json_child(["-m", "bench.scaling", json.dumps(asdict(point))], 7200)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _describe(rec: dict[str, Any]) -> str:
    if rec["status"] != "ok":
        return rec.get("error") or rec["status"]
    q = rec.get("accuracy", rec.get("micro_f1"))
    rate = tables.with_rates(rec).get("tokens_per_s")
    return (
        f"quality {100 * q:.2f}  fit {rec['fit_s']:.2f}s  "
        f"{tables.fmt_rate(rate)} tok/s  RSS {rec.get('peak_rss_mb', 0):.0f} MB"
    )


# ---------------------------------------------------------------------- dataset suite
def select_systems(names: list[str] | None) -> tuple[list[System], list[str]]:
    """The systems to run, and notes about bowclf's defaults and the ones left out."""
    api, cli = _bowclf_defaults()
    notes = []
    if api:
        shown = {k: api[k] for k in _SHOWN_PARAMS if k in api}
        notes.append(
            "bowclf `TextClassifier` defaults at run time: "
            + ", ".join(f"{k}={v!r}" for k, v in shown.items())
            + "."
        )
        differ = {
            k: (cli[k], api[k]) for k in _SHOWN_PARAMS if k in cli and k in api and cli[k] != api[k]
        }
        if differ:
            notes.append(
                "The `bowclf fit` CLI defaults differ from the API's: "
                + ", ".join(f"{k} {c!r} (CLI) vs {a!r} (API)" for k, (c, a) in differ.items())
                + "; the CLI rows use the CLI defaults."
            )
    chosen = [BY_NAME[n] for n in names] if names else [s for s in SYSTEMS if s.default]
    if not names and api and all(api.get(k) == v for k, v in BOWCLF_FT_PARAMS.items()):
        chosen = [s for s in chosen if s.name != "bowclf-ft"]
        notes.append(
            "bowclf's defaults equal fastText's hyper-parameters (dim 100, 5 epochs, "
            "lr 0.1, word bigrams, raw counts), so the *bowclf (API, defaults)* rows "
            "are also the same-hyper-parameter comparison; the separate `bowclf-ft` "
            "variant was not run."
        )
    return chosen, notes


_SHOWN_PARAMS = SHOWN_PARAMS


_DEFAULTS_SCRIPT = """
import json
from bowclf import TextClassifier
api = TextClassifier().get_params()
try:
    from bowclf.cli import fit
    cli = {p.name: p.default for p in fit.params}
except Exception:
    cli = {}
print(json.dumps([api, cli], default=repr))
"""


def _bowclf_defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    """``TextClassifier()``'s parameters and the ``bowclf fit`` option defaults, read in a
    child process (the parent stays small: children inherit its resident size in
    ``ru_maxrss``); ``({}, {})`` if bowclf does not import — it is then still run, and its
    rows say why it failed."""
    res = run_child([sys.executable, "-c", _DEFAULTS_SCRIPT], 120, cwd=str(REPO))
    try:
        api, cli = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}, {}
    return api, cli


def repeats_for(pair: dict[str, Any], repeats: int, big_repeats: int) -> int:
    """Cross-validation folds run once each (the folds are the repeats); pairs of at least
    :data:`BIG_TOKENS` training tokens run ``big_repeats`` times (their fits take seconds to
    minutes, and the suite has a 30-minute budget); the others ``repeats`` times."""
    if "/fold" in pair["pair"]:
        return 1
    return min(repeats, big_repeats) if pair["train_tokens"] >= BIG_TOKENS else repeats


def run_dataset(
    name: str,
    systems: list[System],
    repeats: tuple[int, int],
    run_job: RunJob,
    timeout: float,
    explicit: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """All runs of one dataset (repeats interleaved across systems). ``explicit``: the systems
    were named with --systems, so their dataset restrictions and budget skips do not apply."""
    t0 = time.perf_counter()
    pairs = json_child(["-m", "bench.prep", name], 3600)
    multilabel = bool(pairs[0]["multilabel"])
    took = time.perf_counter() - t0
    if took > 2:
        _progress(f"  prepared {name} in {took:.0f} s")
    todo = [s for s in systems if s.selected(name, multilabel, explicit)]
    records = []
    for pair in pairs:
        base = {"dataset": name, "pair": pair["pair"], "train_tokens": pair["train_tokens"]}
        for r in range(repeats_for(pair, *repeats)):
            for s in todo:
                if s.skipped(name, explicit):
                    if r:
                        continue
                    rec = {"status": "skipped", "error": BUDGET_SKIP}
                elif not available(s):
                    rec = {"status": "not installed"}
                else:
                    params = s.multi_params if multilabel and s.multi_params else s.params
                    rec = run_job({"runner": s.runner, "params": params, "pair": pair}, timeout)
                rec.update({**base, "system": s.name, "repeat": r})
                records.append(rec)
                _progress(f"  {pair['pair']:<18} {s.name:<13} #{r + 1}  {_describe(rec)}")
    return records, multilabel


def dataset_plan(
    datasets: list[str], systems: list[System], explicit: bool
) -> list[tuple[str, str]]:
    """The (dataset, system) combinations :func:`run_dataset` will run."""
    return [
        (d, s.name)
        for d in datasets
        for s in systems
        if s.selected(d, d in MULTILABEL_DATASETS, explicit) and not s.skipped(d, explicit)
    ]


def print_dataset_table(
    records: list[dict[str, Any]], name: str, multilabel: bool, systems: list[System]
) -> None:
    """The dataset's rows (and ratios to fastText) on stdout."""
    if multilabel:
        text = tables.md_table(tables.MULTI_HEADER, tables.multi_rows(records, name, systems))
    else:
        text = tables.md_table(tables.SINGLE_HEADER, tables.single_rows(records, name, systems))
    ratio = tables.ratio_rows(records, name, systems)
    if ratio:
        text += "\n\n" + tables.md_table(tables.RATIO_HEADER, ratio)
    print(text + "\n", flush=True)


# ---------------------------------------------------------------------- scaling
@dataclass
class ScalingPlan:
    """What a scaling run does (see :func:`bench.scaling.plan`)."""

    max_tokens: int
    scans: list[str]
    repeats: int
    big_repeats: int
    extended_max: int | None = None
    systems: list[str] | None = None
    stream: bool = False

    def runs(self) -> list[tuple[scaling.Point, str, int]]:
        """(point, system, repeats) of every planned run."""
        return [
            (p, s, scaling.repeats_at(p, self.repeats, self.big_repeats))
            for p, s in scaling.plan(
                self.max_tokens, self.scans, self.stream, self.extended_max, self.systems
            )
        ]


def scaling_plan(
    max_tokens: str,
    scans: list[str],
    repeats: int,
    big_repeats: int,
    extended_max: str | None = None,
    systems: list[str] | None = None,
) -> ScalingPlan:
    """A :class:`ScalingPlan`; whether the installed CLI has ``--stream`` is asked here."""
    stream = _cli_has_stream()
    if stream:
        _progress("  (bowclf fit has --stream: the corpus-size scan also runs it)")
    return ScalingPlan(
        scaling.parse_tokens(max_tokens),
        scans,
        repeats,
        big_repeats,
        scaling.parse_tokens(extended_max) if extended_max else None,
        systems,
        stream,
    )


def run_scaling_suite(plan: ScalingPlan, run_job: RunJob) -> list[dict[str, Any]]:
    """Scaling runs, with progress lines."""

    def on_point(rec: dict[str, Any]) -> None:
        p = scaling.Point(**rec["point"])
        _progress(
            f"  synth {p.key():<28} {rec['system']:<12} #{rec['repeat'] + 1}  {_describe(rec)}"
        )

    return scaling.run_scaling(
        plan.max_tokens,
        plan.repeats,
        run_job,
        _make_pair,
        plan.scans,
        plan.big_repeats,
        on_point,
        stream=plan.stream,
        extended_max=plan.extended_max,
        systems=plan.systems,
    )


def _print_estimate(
    raw: results.Raw, dataset_runs: list[tuple[str, str]], plan: ScalingPlan | None
) -> None:
    """The expected wall time, from the child times recorded for this report, and the time to
    generate the synthetic corpora that are not cached yet."""
    runs = plan.runs() if plan else []
    seconds, unknown = results.estimate_seconds(raw, dataset_runs, runs)
    points = sorted({p for p, _, _ in runs if not scaling.corpus_cached(p)})
    gen = [scaling.generation_estimate(p) for p in points]
    text = f"[plan] {len(dataset_runs) + len(runs)} (dataset or point, system) combinations"
    if seconds:
        text += f"; ≈ {_duration(seconds)} by the times recorded for this report" + (
            f" ({unknown} without an earlier time, not counted)" if unknown else ""
        )
    if gen:
        text += (
            f"; + about {_duration(sum(g[0] for g in gen))} to generate "
            f"{len(gen)} synthetic corpora ({sum(g[1] for g in gen):.1f} GB)"
        )
    _progress(text)


def _cli_has_stream() -> bool:
    """Whether the installed ``bowclf fit`` has the out-of-core ``--stream`` option."""
    res = run_child([*bowclf_cli_argv(), "fit", "--help"], 120)
    return res.returncode == 0 and "--stream" in res.stdout


def _print_scaling(raw: results.Raw) -> None:
    sec, _ = results.scaling_sections(raw["scaling"])
    print("\n".join(sec), flush=True)


def _print_ablation(ds_run: dict[str, Any]) -> None:
    names = [d for d, multilabel in ds_run["datasets"] if not multilabel]
    lines = results.ablation_section(ds_run["records"], names)
    if lines:
        print("\n".join(lines), flush=True)


# ---------------------------------------------------------------------- commands
def _write(out: Path, raw: results.Raw) -> None:
    results.save_raw(out, raw)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(results.render(raw), encoding="utf-8")


def _command(argv: list[str]) -> str:
    return " ".join(["python -m bench", *(shlex.quote(a) for a in argv)])


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def main_suite(argv: list[str]) -> int:
    """``python -m bench [...]``."""
    args = _parser().parse_args(argv)
    _set_memory_limit(args.max_memory)
    started = time.perf_counter()
    repeats = args.repeats or (1 if args.quick else 3)
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    known = available_datasets()
    datasets = args.datasets or (QUICK_DATASETS if args.quick else known)
    unknown = [d for d in datasets if d not in known]
    if unknown:
        _parser().error(f"unknown datasets {unknown}; available: {known}")
    systems, notes = select_systems(args.systems)
    explicit = bool(args.systems)
    plan = (
        None
        if args.no_scaling
        else scaling_plan(
            args.max_tokens or ("1M" if args.quick else "100M"),
            args.scans or (["tokens"] if args.quick else list(scaling.SCANS)),
            min(repeats, args.big_repeats),
            args.big_repeats,
            args.extended_max_tokens,
        )
    )
    info = envinfo.collect()
    raw = results.load_raw(out)
    _print_estimate(raw, dataset_plan(datasets, systems, explicit), plan)
    command = _command(argv)
    ds_run: dict[str, Any] = {
        "info": info,
        "command": command,
        "seconds": 0.0,
        "records": [],
        "systems": [s.name for s in systems],
        "datasets": [],
        "notes": notes,
    }
    raw["datasets"] = ds_run
    with Scorer() as scorer:
        run_job = partial(run_worker, scorer=scorer)
        for name in datasets:
            _progress(f"[{name}]")
            recs, multilabel = run_dataset(
                name, systems, (repeats, args.big_repeats), run_job, args.timeout, explicit
            )
            ds_run["records"] += recs
            ds_run["datasets"].append([name, multilabel])
            print_dataset_table(ds_run["records"], name, multilabel, systems)
            ds_run["seconds"] = time.perf_counter() - started
            _write(out, raw)
        _print_ablation(ds_run)
        if plan is not None:
            _progress(
                f"[scaling: {', '.join(plan.scans)}; corpus size up to {plan.max_tokens:,} tokens]"
            )
            recs = run_scaling_suite(plan, run_job)
            results.merge_scaling(
                raw,
                {
                    "info": info,
                    "command": command,
                    "seconds": 0.0,
                    "extended_max_tokens": plan.extended_max,
                },
                recs,
            )
            _print_scaling(raw)
    ds_run["seconds"] = time.perf_counter() - started
    for run in raw.get("scaling", {}).get("runs", []):
        if run["command"] == command and run["info"]["date"] == info["date"]:
            run["seconds"] = ds_run["seconds"]
    _write(out, raw)
    _progress(f"done in {_duration(ds_run['seconds'])}; report: {out}")
    return 0


def scaling_command(argv: list[str]) -> int:
    """``python -m bench scaling [...]``."""
    args = _scaling_parser().parse_args(argv)
    _set_memory_limit(args.max_memory)
    started = time.perf_counter()
    info = envinfo.collect()
    plan = scaling_plan(
        args.max_tokens,
        args.scans,
        args.repeats,
        args.big_repeats,
        args.extended_max_tokens,
        args.systems,
    )
    _print_estimate(results.load_raw(args.out), [], plan)
    with Scorer() as scorer:
        run_job = partial(run_worker, scorer=scorer, fixed_timeout=args.timeout)
        recs = run_scaling_suite(plan, run_job)
    raw = results.load_raw(args.out)
    seconds = time.perf_counter() - started
    results.merge_scaling(
        raw,
        {
            "info": info,
            "command": _command(["scaling", *argv]),
            "seconds": seconds,
            "extended_max_tokens": plan.extended_max,
        },
        recs,
    )
    _print_scaling(raw)
    _write(args.out, raw)
    _progress(f"done in {_duration(seconds)}; report: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "scaling":
        return scaling_command(argv[1:])
    if argv and argv[0] == "render":
        return render_command(argv[1:])
    return main_suite(argv)
