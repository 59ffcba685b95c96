"""How the SGD batch size trades speed for accuracy (chooses BowClassifier's default).

    python bench/bench_batch.py [--datasets sst2 trec sms_spam imdb] [--sizes 1 8 32 128]

Features: scikit-learn CountVectorizer unigrams (fixed, so only the classifier varies);
BowClassifier defaults otherwise (dim 100, 5 epochs, lr 0.1); median of --repeats seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_dataset  # noqa: E402
from bowclf import BowClassifier  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "trec", "sms_spam", "imdb"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 8, 16, 32, 64, 128, 512])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from sklearn.feature_extraction.text import CountVectorizer

    print("| dataset | batch | accuracy (median) | fit s (median) | features/s |")
    print("|---|---:|---:|---:|---:|")
    for name in args.datasets:
        tr_x, tr_y = load_dataset(name, "train")
        te_x, te_y = load_dataset(name, "test")
        cv = CountVectorizer()
        Xtr, Xte = cv.fit_transform(tr_x), cv.transform(te_x)
        for size in args.sizes:
            accs, secs = [], []
            for seed in range(args.repeats):
                t = time.perf_counter()
                try:
                    model = BowClassifier(batch_size=size, random_state=seed).fit(Xtr, tr_y)
                except FloatingPointError:  # TrainingDivergedError: too large a summed step
                    break
                secs.append(time.perf_counter() - t)
                accs.append(model.score(Xte, te_y))
            if not accs:
                print(f"| {name} | {size} | diverged | | |", flush=True)
                continue
            sec = statistics.median(secs)
            rate = Xtr.nnz * 5 / sec
            print(
                f"| {name} | {size} | {statistics.median(accs):.4f} | {sec:.2f} | {rate:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
