"""Throughput and peak memory of BowVectorizer vs scikit-learn's vectorizers.

Usage::

    python bench/bench_vectorizer.py [--quick] [--datasets imdb tweeteval_emoji]
                                     [--repeats 3] [--ngrams 1 2]
                                     [--trees before=/path/to/old/checkout after=.]

For every dataset and n-gram order ``n`` the systems

* ``BowVectorizer(ngrams=n)`` (default tokenizer; 2M hash buckets when n >= 2),
* ``CountVectorizer(ngram_range=(1, n))`` (scikit-learn defaults),
* ``HashingVectorizer(ngram_range=(1, n), norm=None, alternate_sign=False)``
  (stateless: it has no fit, so only its transform is timed)

are fitted on ``train.csv.gz`` and transform ``test.csv.gz``; bowclf also
times ``fit_transform`` of the training set (what ``TextClassifier.fit`` calls).  Every run is a
fresh child process, so imports, caches and the heap start cold and the peak
resident set size is that of one system: the child reports its peak RSS
(``VmHWM``) during fit, resets it (``/proc/self/clear_refs``) and reports the
peak during transform; ``ru_maxrss`` is the fallback off Linux.  Medians of
``--repeats`` children are reported.

Throughput is in tokens per second where *tokens* is the same count for
every system: the number of tokens of BowVectorizer's default tokenizer
(``BowVectorizer().count_tokens``), so ratios of tokens/s are ratios of
speed.  The datasets directory is ``$BOWCLF_DATASETS`` or
``../shared/datasets`` beside the repository (gzipped CSV ``label,text``).
The machine may be shared: wall-clock times are noisy, see the load average
printed with the table.

``--trees name=path ...`` compares versions of bowclf instead (e.g. before and
after a change): the bowclf children of each tree run with ``PYTHONPATH=path``,
interleaved (tree A, tree B, tree A...) so that a change in the machine's load
affects every tree alike, and a second table gives each tree's medians as
ratios to the first tree's.
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SYSTEMS = ("bowclf", "sklearn-count", "sklearn-hashing")
QUICK_DOCS = 3000


def datasets_dir() -> Path:
    """``$BOWCLF_DATASETS`` or ``<repo>/../shared/datasets``."""
    env = os.environ.get("BOWCLF_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def load_texts(name: str, split: str, limit: int | None = None) -> list[str]:
    """Text column of ``<datasets>/<name>/<split>.csv.gz``."""
    csv.field_size_limit(sys.maxsize)
    path = datasets_dir() / name / f"{split}.csv.gz"
    texts = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = header.index("text")
        for row in reader:
            texts.append(row[col])
            if limit is not None and len(texts) >= limit:
                break
    return texts


# ---------------------------------------------------------------- child side


def _peak_rss_mb() -> float:
    """Peak RSS of this process since the last reset, in MB."""
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"VmHWM:\s+(\d+)\s+kB", f.read())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _make(system: str, n: int) -> Any:
    if system == "bowclf":
        from bowclf.vectorizer import BowVectorizer

        return BowVectorizer(ngrams=n)
    if system == "sklearn-count":
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(ngram_range=(1, n))
    if system == "sklearn-hashing":
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(ngram_range=(1, n), norm=None, alternate_sign=False)
    raise ValueError(f"unknown system {system!r}")


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One measured run: fit on train, transform test, in this process."""
    train = load_texts(spec["dataset"], "train", spec["limit"])
    test = load_texts(spec["dataset"], "test", spec["limit"])
    vec = _make(spec["system"], spec["n"])
    gc.collect()
    base = _peak_rss_mb()
    out: dict[str, Any] = {"base_rss_mb": base}
    if spec["system"] != "sklearn-hashing":
        t, c = time.perf_counter(), time.process_time()
        vec.fit(train)
        out["fit_s"] = time.perf_counter() - t
        out["fit_cpu_s"] = time.process_time() - c
        out["fit_peak_mb"] = _peak_rss_mb()
        out["n_features"] = len(vec.vocabulary_)
    gc.collect()
    resettable = _reset_peak_rss()
    t, c = time.perf_counter(), time.process_time()
    x = vec.transform(test)
    out["transform_s"] = time.perf_counter() - t
    out["transform_cpu_s"] = time.process_time() - c
    out["transform_peak_mb"] = _peak_rss_mb() if resettable else float("nan")
    out["nnz"] = int(x.nnz)
    out["shape"] = list(x.shape)
    if spec["system"] == "bowclf":  # last: the figures above are those of a fresh process
        del x, vec
        vec = _make(spec["system"], spec["n"])
        gc.collect()
        resettable = _reset_peak_rss()
        t, c = time.perf_counter(), time.process_time()
        vec.fit_transform(train)
        out["fit_transform_s"] = time.perf_counter() - t
        out["fit_transform_cpu_s"] = time.process_time() - c
        out["fit_transform_peak_mb"] = _peak_rss_mb() if resettable else float("nan")
    return out


# ---------------------------------------------------------------- parent side


def run_child(spec: dict[str, Any], timeout: float, tree: str | None = None) -> dict[str, Any]:
    env = None
    if tree is not None:  # this checkout of bowclf first on the path
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                [str(Path(tree).resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        )
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def _fmt_rate(tokens: int, seconds: float | None) -> str:
    return "—" if seconds is None else f"{tokens / seconds / 1e6:.2f}M"


def _fmt_mb(mb: float | None) -> str:
    return "—" if mb is None or mb != mb else f"{mb:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_DOCS} docs, 1 repeat")
    parser.add_argument("--datasets", nargs="+", default=["imdb", "tweeteval_emoji"])
    parser.add_argument("--ngrams", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--repeats", type=int, default=None, help="children per cell (default 3)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--trees", nargs="+", metavar="NAME=PATH", help="compare bowclf checkouts (see above)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.trees:
        return compare_trees(args)

    repeats = args.repeats or (1 if args.quick else 3)
    limit = QUICK_DOCS if args.quick else None
    import numpy
    import scipy
    import sklearn

    from bowclf.vectorizer import BowVectorizer

    print(
        f"python {platform.python_version()}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}; "
        f"median of {repeats} fresh child process(es){' (quick)' if args.quick else ''}",
        file=sys.stderr,
    )
    rows = []
    for name in args.datasets:
        counter = BowVectorizer()
        n_train = counter.count_tokens(load_texts(name, "train", limit))
        n_test = counter.count_tokens(load_texts(name, "test", limit))
        for n in args.ngrams:
            cell: dict[str, list[dict[str, Any]]] = {}
            for system in args.systems:
                spec = {"dataset": name, "system": system, "n": n, "limit": limit}
                cell[system] = []
                for _ in range(repeats):
                    cell[system].append(run_child(spec, args.timeout))
                    r = cell[system][-1]
                    print(f"  {name} n={n} {system}: {r}", file=sys.stderr, flush=True)
            for system, runs in cell.items():
                rows.append(
                    {
                        "dataset": name,
                        "n": n,
                        "system": system,
                        "train_tokens": n_train,
                        "test_tokens": n_test,
                        "fit_s": _median(runs, "fit_s"),
                        "transform_s": _median(runs, "transform_s"),
                        "fit_cpu_s": _median(runs, "fit_cpu_s"),
                        "transform_cpu_s": _median(runs, "transform_cpu_s"),
                        "fit_peak_mb": _median(runs, "fit_peak_mb"),
                        "transform_peak_mb": _median(runs, "transform_peak_mb"),
                        "base_mb": _median(runs, "base_rss_mb"),
                        "n_features": _median(runs, "n_features"),
                    }
                )
    print(render(rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


def compare_trees(args: argparse.Namespace) -> int:
    """``--trees``: bowclf children of each checkout, interleaved; medians and ratios."""
    trees = dict(t.split("=", 1) for t in args.trees)
    repeats = args.repeats or (1 if args.quick else 3)
    limit = QUICK_DOCS if args.quick else None
    keys = ("fit_transform", "fit", "transform")
    print(f"load average before: {os.getloadavg()[0]:.2f}; trees {trees}", file=sys.stderr)
    lines = [
        "| dataset | n-grams | tree | fit_transform s (wall / CPU) | fit s (wall / CPU) | "
        "transform s (wall / CPU) | fit_transform peak RSS MB | fit peak RSS MB | "
        "transform peak RSS MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = [
        "| dataset | n-grams | tree | fit_transform time | fit time | transform time | "
        "fit_transform peak RSS | fit peak RSS | transform peak RSS |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in args.datasets:
        for n in args.ngrams:
            spec = {"dataset": name, "system": "bowclf", "n": n, "limit": limit}
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in trees}
            for _ in range(repeats):
                for tree, path in trees.items():
                    runs[tree].append(run_child(spec, args.timeout, path))
                    print(f"  {name} n={n} {tree}: {runs[tree][-1]}", file=sys.stderr, flush=True)
            med = {t: {k: _median(r, k) for k in r[0]} for t, r in runs.items()}
            first = med[next(iter(trees))]
            for tree, m in med.items():
                times = " | ".join(f"{m[k + '_s']:.2f} / {m[k + '_cpu_s']:.2f}" for k in keys)
                lines.append(
                    f"| {name} | 1..{n} | {tree} | {times} | "
                    f"{_fmt_mb(m['fit_transform_peak_mb'])} | {_fmt_mb(m['fit_peak_mb'])} | "
                    f"{_fmt_mb(m['transform_peak_mb'])} |"
                )
                rel = " | ".join(
                    f"{m[k + '_s'] / first[k + '_s']:.2f}× / "
                    f"{m[k + '_cpu_s'] / first[k + '_cpu_s']:.2f}×"
                    for k in keys
                )
                mem = " | ".join(
                    f"{m[k] / first[k]:.2f}×"
                    for k in ("fit_transform_peak_mb", "fit_peak_mb", "transform_peak_mb")
                )
                ratios.append(f"| {name} | 1..{n} | {tree} | {rel} | {mem} |")
    print(
        "\n".join(
            lines
            + [
                "",
                *ratios,
                "",
                (
                    f"Medians of {repeats} fresh child process(es) per tree, interleaved; "
                    "times wall / CPU; ratios to the first tree (< 1: faster or smaller)."
                ),
            ]
        )
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


def render(rows: list[dict[str, Any]]) -> str:
    """Markdown tables: throughput and peak RSS, then bowclf/sklearn ratios."""
    lines = [
        "| dataset | n-grams | system | fit tokens/s (wall / CPU) | "
        "transform tokens/s (wall / CPU) | fit peak RSS MB | transform peak RSS MB | "
        "vocabulary |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        vocab = "—" if r["n_features"] is None else f"{int(r['n_features']):,}"
        fit = (
            "—"
            if r["fit_s"] is None
            else f"{_fmt_rate(r['train_tokens'], r['fit_s'])} / "
            f"{_fmt_rate(r['train_tokens'], r['fit_cpu_s'])}"
        )
        tr = (
            f"{_fmt_rate(r['test_tokens'], r['transform_s'])} / "
            f"{_fmt_rate(r['test_tokens'], r['transform_cpu_s'])}"
        )
        lines.append(
            f"| {r['dataset']} | 1..{r['n']} | {r['system']} | {fit} | {tr} | "
            f"{_fmt_mb(r['fit_peak_mb'])} | {_fmt_mb(r['transform_peak_mb'])} | {vocab} |"
        )
    lines += [
        "",
        "| dataset | n-grams | fit speed-up vs Count (wall / CPU) | "
        "transform speed-up vs Count (wall / CPU) | transform speed-up vs Hashing (wall / CPU) | "
        "fit peak RSS vs Count | transform peak RSS vs Count |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    index = {(r["dataset"], r["n"], r["system"]): r for r in rows}

    def ratio(a: float | None, b: float | None) -> str:
        return "—" if a is None or b is None or not b or a != a or b != b else f"{a / b:.2f}×"

    def both(other: dict[str, Any], bow: dict[str, Any], key: str) -> str:
        return (
            f"{ratio(other.get(key + '_s'), bow[key + '_s'])} / "
            f"{ratio(other.get(key + '_cpu_s'), bow[key + '_cpu_s'])}"
        )

    for (dataset, n, system), bow in index.items():
        if system != "bowclf":
            continue
        cv = index.get((dataset, n, "sklearn-count"), {})
        hv = index.get((dataset, n, "sklearn-hashing"), {})
        lines.append(
            f"| {dataset} | 1..{n} | {both(cv, bow, 'fit')} | {both(cv, bow, 'transform')} | "
            f"{both(hv, bow, 'transform')} | "
            f"{ratio(bow['fit_peak_mb'], cv.get('fit_peak_mb'))} | "
            f"{ratio(bow['transform_peak_mb'], cv.get('transform_peak_mb'))} |"
        )
    lines.append("")
    lines.append(
        "Tokens = BowVectorizer default-tokenizer tokens (same count for every system); "
        "fit on train, transform test; wall = elapsed time, CPU = process time of the child "
        "(less sensitive to other load on a shared machine); medians over fresh child "
        "processes.  Peak RSS is the whole child process (interpreter, libraries and the "
        "loaded corpora included); RSS ratios < 1 mean bowclf uses less."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
