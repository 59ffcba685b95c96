"""Whole-process ``bowclf predict`` start-up and throughput, side by side with fastText.

    python bench/bench_startup.py [--repeats 5] [--workdir /tmp/bowclf-bench-startup]
                                  [--out bench/out/startup.md]

Models (built once in ``--workdir``, reused afterwards):

* ``imdb.bowclf``: ``bowclf fit`` on imdb's training set with bowclf's defaults (seed 0);
* ``imdb-small.bowclf``: ``bowclf quantize --cutoff 100000`` of it;
* ``ft.bin``: fastText ``train_supervised`` on the same data (dim 100, 5 epochs, lr 0.1,
  bigrams, 2 threads, seed 0); ``ft.ftz``: its ``quantize(cutoff=100000, retrain=False)``.

Rows:

* one line from stdin: ``python -m bowclf.cli predict MODEL`` for each model (fastText's
  ``.bin``/``.ftz`` read by bowclf directly), against fastText's own process (``import
  fasttext``, ``load_model``, ``predict`` one line, print) for ``.bin`` and ``.ftz``; plus
  ``python -c pass`` and ``import numpy, scipy.sparse`` as the floor every Python process pays;
* 25,000 imdb test reviews: ``bowclf predict imdb.bowclf test.csv.gz -o FILE`` against a
  fastText child that loads ``ft.bin`` and predicts every test line (as
  ``bench/bench_threads.py``).

Each row is run ``--repeats`` times, the rows interleaved (so a change in the machine's load
hits every row alike); the table gives the median wall and CPU (user + sys) seconds of the
child and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_threads import _FT_PREDICT as _FT_MANY  # noqa: E402
from bench.common import REPO  # noqa: E402

LINE = "a sharp, funny film with a terrible ending but great acting\n"
FT_PARAMS = {"dim": 100, "epoch": 5, "lr": 0.1, "wordNgrams": 2, "thread": 2, "seed": 0}
CUTOFF = 100_000

_FT_ONE = """
import sys
import fasttext
model = fasttext.load_model(sys.argv[1])
labels, probs = model.predict(sys.stdin.readline().rstrip("\\n"), k=1)
print(labels[0], probs[0])
"""

_FT_FIT = """
import json, sys
import fasttext
model = fasttext.train_supervised(input=sys.argv[1], verbose=0, **json.loads(sys.argv[3]))
model.save_model(sys.argv[2])
model.quantize(input=sys.argv[1], cutoff=int(sys.argv[5]), retrain=False)
model.save_model(sys.argv[4])
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


if not os.environ.get("BOWCLF_DATASETS") and Path("/work/shared/datasets").is_dir():
    os.environ["BOWCLF_DATASETS"] = "/work/shared/datasets"  # a worktree beside /work/main


def run(argv: list[str], stdin: str = "") -> tuple[float, float, int, str]:
    """``(wall s, cpu s, exit code, stderr tail)`` of one child process."""
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as err:
        inp.write(stdin.encode())
        inp.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=inp, stdout=subprocess.DEVNULL, stderr=err, env=_env(), cwd=str(REPO)
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), "".join(tail)


def _bowclf(*args: str) -> list[str]:
    return [sys.executable, "-m", "bowclf.cli", *args]


def prepare(workdir: Path) -> dict[str, str]:
    """The models and data of the benchmark (built once, then reused)."""
    from bench.bench_threads import _corpus

    pair = _corpus("imdb")
    workdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "bow": workdir / "imdb.bowclf",
        "small": workdir / "imdb-small.bowclf",
        "bin": workdir / "ft.bin",
        "ftz": workdir / "ft.ftz",
    }
    # (outputs, command): a step runs when any of its outputs is missing (the fastText step
    # writes ft.bin and its quantized ft.ftz, so a lost ft.ftz retrains both)
    steps = [
        (("bow",), _bowclf("fit", pair["train_csv"], "-o", str(paths["bow"]), "--quiet",
                        "--seed", "0")),
        (("small",), _bowclf("quantize", str(paths["bow"]), "--cutoff", str(CUTOFF),
                          "-o", str(paths["small"]))),
        (("bin", "ftz"), [sys.executable, "-c", _FT_FIT, pair["train_ft"], str(paths["bin"]),
                 json.dumps(FT_PARAMS), str(paths["ftz"]), str(CUTOFF)]),
    ]  # fmt: skip
    for keys, argv in steps:
        if not all(paths[k].exists() for k in keys):
            built = " and ".join(str(paths[k]) for k in keys)
            wall, _, code, tail = run(argv)
            if code:
                raise SystemExit(f"preparing {built} failed: {tail}")
            print(f"built {built} in {wall:.1f} s", file=sys.stderr)
    return {**{k: str(v) for k, v in paths.items()}, **pair}


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def measure(rows: dict[str, tuple[list[str], str]], repeats: int) -> dict[str, list[tuple]]:
    """Every row ``repeats`` times, interleaved: ``{name: [(wall, cpu), ...]}``."""
    results: dict[str, list[tuple]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, (argv, stdin) in rows.items():
            wall, cpu, code, tail = run(argv, stdin)
            if code:
                raise SystemExit(f"{name}: exit {code}: {tail}")
            results[name].append((wall, cpu))
    return results


def _median(values: list[tuple], i: int) -> float:
    return statistics.median(v[i] for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bowclf-bench-startup"))
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "startup.md")
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args(argv)
    m = prepare(args.workdir)
    py = sys.executable
    one = {
        "python -c pass": ([py, "-c", "pass"], ""),
        "python -c 'import numpy, scipy.sparse'": ([py, "-c", "import numpy, scipy.sparse"], ""),
        "bowclf predict imdb.bowclf (419 MiB)": (_bowclf("predict", m["bow"]), LINE),
        "bowclf predict imdb-small.bowclf (quantized)": (_bowclf("predict", m["small"]), LINE),
        "bowclf predict ft.bin": (_bowclf("predict", m["bin"]), LINE),
        "bowclf predict ft.ftz": (_bowclf("predict", m["ftz"]), LINE),
        "fastText predict ft.bin (its own process)": ([py, "-c", _FT_ONE, m["bin"]], LINE),
        "fastText predict ft.ftz (its own process)": ([py, "-c", _FT_ONE, m["ftz"]], LINE),
    }
    load_before = _load()
    res = measure(one, args.repeats)
    lines = [
        f"One line from stdin, median of {args.repeats} (load average {load_before} before, "
        f"{_load()} after; {os.cpu_count()} cores):",
        "",
        "| process | wall s | CPU s |",
        "|---|---:|---:|",
        *(f"| {name} | {_median(r, 0):.2f} | {_median(r, 1):.2f} |" for name, r in res.items()),
    ]
    if not args.no_throughput:
        n = sum(1 for _ in open(m["test_ft"], encoding="utf-8"))
        out = args.workdir / "pred.txt"
        many = {
            "bowclf": (_bowclf("predict", m["bow"], m["test_csv"], "-o", str(out)), ""),
            "fastText": ([py, "-c", _FT_MANY, m["bin"], m["test_ft"], str(out) + ".ft"], ""),
        }
        load_before = _load()
        res = measure(many, max(1, args.repeats // 2))
        ft_wall = _median(res["fastText"], 0)
        lines += [
            "",
            f"{n:,} imdb test reviews, whole process, median of {max(1, args.repeats // 2)} "
            f"(load average {load_before} before, {_load()} after):",
            "",
            "| process | wall s | CPU s | docs/s | speed ÷ fastText |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {name} predict | {_median(r, 0):.2f} | {_median(r, 1):.2f} | "
                f"{n / _median(r, 0):,.0f} | {ft_wall / _median(r, 0):.2f}× |"
                for name, r in res.items()
            ),
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
