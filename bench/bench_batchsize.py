"""Batch size across many corpora: accuracy and fit time of ``TextClassifier`` defaults.

    python bench/bench_batchsize.py [--sizes 16 32 64 128] [--seeds 0 1] [--shared ...]
                                    [--generated ...] [--scale 0.5]

Rows: every shared corpus named (train → test; ag_news: an 80/20 split of a fixed shuffle of
its test file, the only split it has here) and the generated dev-suite corpora of
``bench/devsuite.py`` (tuning branch, or ``$BOWCLF_DEVSUITE``; skipped when absent).
Every cell is ``TextClassifier(random_state=seed, batch_size=b)`` with bowclf's other
defaults; accuracy is the mean over the seeds, fit seconds the
median (the whole ``fit`` call: vectorizing and training).  Runs in this process, one fit
after another.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_dataset  # noqa: E402


def _shared(name: str):
    if name == "ag_news":
        import numpy as np

        x, y = load_dataset(name, "test")  # sorted by class: split a fixed shuffle of it
        order = np.random.default_rng(0).permutation(len(x)).tolist()
        x, y = [x[i] for i in order], [y[i] for i in order]
        cut = int(0.8 * len(x))
        return x[:cut], y[:cut], x[cut:], y[cut:]
    return (*load_dataset(name, "train"), *load_dataset(name, "test"))


def _devsuite():
    """bench/devsuite.py, or the file named by ``$BOWCLF_DEVSUITE`` (e.g. another branch's)."""
    import importlib.util
    import os

    path = os.environ.get("BOWCLF_DEVSUITE")
    if not path:
        from bench import devsuite

        return devsuite
    spec = importlib.util.spec_from_file_location("bench_devsuite", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated(name: str, scale: float):
    import numpy as np

    devsuite = _devsuite()
    gen, n_train, n_test = devsuite.GENERATORS[name]
    rng = np.random.default_rng([0, sorted(devsuite.GENERATORS).index(name)])
    return gen(max(50, int(n_train * scale)), max(50, int(n_test * scale)), rng)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[16, 32, 64, 128])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument(
        "--shared", nargs="*", default=["trec", "sst2", "sms_spam", "ag_news", "tweeteval_emoji"]
    )
    parser.add_argument("--generated", nargs="*", default=None, help="default: all")
    parser.add_argument("--scale", type=float, default=0.5, help="generated corpus size")
    parser.add_argument("--params", default="{}", help="extra TextClassifier params (JSON)")
    args = parser.parse_args(argv)
    import json

    from bowclf import TextClassifier

    corpora = [(n, lambda n=n: _shared(n)) for n in args.shared]
    try:
        devsuite = _devsuite()
        names = list(devsuite.GENERATORS) if args.generated is None else args.generated
        corpora += [(f"dev/{n}", lambda n=n: _generated(n, args.scale)) for n in names]
    except ImportError:
        print("(bench/devsuite.py not found: shared corpora only)", file=sys.stderr)
    extra = json.loads(args.params)
    first = args.sizes[0]
    print(
        f"Baseline: batch {first}, the first of --sizes (on a corpus where it diverged, the "
        "corpus's first row that trained)\n"
    )
    print(
        f"| corpus | batch | accuracy % (mean) | Δ vs {first} (points) | fit s (median) "
        f"| speed vs {first} |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, load in corpora:
        tr_x, tr_y, te_x, te_y = load()
        base = None
        for size in args.sizes:
            accs, secs = [], []
            for seed in args.seeds:
                model = TextClassifier(random_state=seed, batch_size=size, **extra)
                t = time.perf_counter()
                try:
                    model.fit(tr_x, tr_y)
                except FloatingPointError:  # TrainingDivergedError
                    break
                secs.append(time.perf_counter() - t)
                accs.append(100 * model.score(te_x, te_y))
            if not accs:
                print(f"| {name} | {size} | diverged | | | |", flush=True)
                continue
            acc, sec = statistics.mean(accs), statistics.median(secs)
            if base is None:
                base = (acc, sec)
            print(
                f"| {name} | {size} | {acc:.2f} | {acc - base[0]:+.2f} | {sec:.2f} "
                f"| {base[1] / sec:.2f}× |",
                flush=True,
            )


if __name__ == "__main__":
    main()
