"""Does ``bowclf predict`` stream?  Throughput and peak memory for growing inputs.

Generates plain-text inputs of N lines (default 100,000 and 1,000,000) in a temporary
directory, runs ``bowclf predict MODEL FILE -o /dev/null`` in a child process for each and
reports wall time, documents per second and the child's own peak RSS (``ru_maxrss`` from
``os.wait4``).  A run on a 1-line input measures the fixed cost (interpreter start, imports,
loading the model), so the table also shows the throughput without it.

Streaming means the peak RSS does not grow with the number of lines: the script exits with
status 1 if the largest input needs more than ``--max-growth`` MiB (default 64) above the
smallest one.

The lines mix words of the model's vocabulary with random tokens it has never seen (a fresh
token every few words), so a cache that grows with unseen tokens would show up too.

Usage::

    python bench/bench_predict_stream.py                      # 100k and 1M lines
    python bench/bench_predict_stream.py --lines 100000 --lines 2000000
    python bench/bench_predict_stream.py --model data/tickets_train.bowclf --chunk-size 1000
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate(path: Path, n_lines: int, vocabulary: list[str], seed: int = 0) -> None:
    """Write ``n_lines`` documents of 4-30 words: known words and never-seen random tokens."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    with open(path, "w", encoding="utf-8") as f:
        batch: list[str] = []
        for i in range(n_lines):
            words = []
            for _ in range(rng.randint(4, 30)):
                if rng.random() < 0.2:
                    words.append("".join(rng.choices(letters, k=rng.randint(3, 10))))
                else:
                    words.append(rng.choice(vocabulary))
            batch.append(" ".join(words))
            if len(batch) == 10_000 or i == n_lines - 1:
                f.write("\n".join(batch) + "\n")
                batch.clear()


def run_predict(model: Path, data: Path, chunk_size: int | None) -> tuple[float, float, str]:
    """``(wall seconds, peak RSS MiB, stderr)`` of one ``bowclf predict`` child."""
    argv = [sys.executable, "-m", "bowclf.cli", "predict", str(model), str(data), "-o", os.devnull]
    if chunk_size is not None:
        argv += ["--chunk-size", str(chunk_size)]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        message = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"bowclf predict failed with exit {proc.returncode}: {message.strip()}")
    return wall, usage.ru_maxrss / 1024, message  # ru_maxrss is in KiB on Linux


def train_model(directory: Path) -> Path:
    model = directory / "tickets.bowclf"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bowclf.cli",
            "fit",
            str(REPO / "data" / "tickets_train.csv"),
            "-o",
            str(model),
            "--epochs",
            "10",
            "-q",
        ],
        check=True,
        cwd=REPO,
    )
    return model


def vocabulary_of(model: Path) -> list[str]:
    from bowclf.persist import load

    words = load(model).vectorizer_.words_.tolist()
    return words[:5000]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines",
        type=int,
        action="append",
        help="input sizes in lines (repeatable) [default: 100000 and 1000000]",
    )
    parser.add_argument("--model", type=Path, help="model file [default: train one on data/]")
    parser.add_argument("--chunk-size", type=int, default=None, help="passed to bowclf predict")
    parser.add_argument(
        "--max-growth",
        type=float,
        default=64.0,
        help="allowed peak-RSS growth (MiB) from the smallest to the largest input",
    )
    args = parser.parse_args(argv)
    sizes = sorted(args.lines or [100_000, 1_000_000])
    with tempfile.TemporaryDirectory(prefix="bowclf-stream-") as tmp:
        tmp_path = Path(tmp)
        model = args.model or train_model(tmp_path)
        vocabulary = vocabulary_of(model)
        one = tmp_path / "1.txt"
        generate(one, 1, vocabulary)
        base_wall, base_rss, _ = run_predict(model, one, args.chunk_size)
        print(f"model {model} ({model.stat().st_size / 2**20:.1f} MiB)")
        print(f"fixed cost (1 line): {base_wall:.2f} s, peak RSS {base_rss:.0f} MiB")
        print(
            f"{'lines':>10} {'MiB in':>8} {'wall s':>8} {'docs/s':>10} {'docs/s*':>10} "
            f"{'peak RSS MiB':>13}"
        )
        rows = []
        for n in sizes:
            data = tmp_path / f"{n}.txt"
            generate(data, n, vocabulary, seed=n)
            size_mib = data.stat().st_size / 2**20
            wall, rss, _ = run_predict(model, data, args.chunk_size)
            net = max(wall - base_wall, 1e-9)
            rows.append((n, rss))
            print(
                f"{n:>10,} {size_mib:>8.1f} {wall:>8.2f} {n / wall:>10,.0f} {n / net:>10,.0f} "
                f"{rss:>13.0f}"
            )
            data.unlink()
        print("docs/s* = without the fixed cost of a 1-line run")
    growth = rows[-1][1] - rows[0][1]
    verdict = "OK: bounded" if growth <= args.max_growth else "GROWS"
    print(f"peak RSS growth {rows[0][0]:,} -> {rows[-1][0]:,} lines: {growth:+.0f} MiB ({verdict})")
    return 0 if growth <= args.max_growth else 1


if __name__ == "__main__":
    sys.exit(main())
