"""How the SGD batch size trades speed for accuracy (chooses BowClassifier's default).

    python bench/bench_batch.py [--datasets sst2 trec sms_spam imdb] [--sizes 1 8 32 128]

Features: scikit-learn CountVectorizer unigrams (fixed, so only the classifier varies).  The
classifier is ``BowClassifier(batch_size=B)`` with today's defaults otherwise — the setting
whose default the batch size is chosen for: dim 100, ``epochs='auto'``, ``lr='auto'``, the
adaptive optimiser, ``l1`` rows — so the passes and the learning rate are what the defaults
resolve to on each dataset; the table prints them (``n_iter_``, ``lr_``).  features/s counts
the non-zeros of the training matrix times the passes actually made (``n_iter_``) per fit
second.  Medians over --repeats seeds.
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

    print("| dataset | batch | epochs | lr | accuracy (median) | fit s (median) | features/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        tr_x, tr_y = load_dataset(name, "train")
        te_x, te_y = load_dataset(name, "test")
        cv = CountVectorizer()
        Xtr, Xte = cv.fit_transform(tr_x), cv.transform(te_x)
        for size in args.sizes:
            accs, secs, rates, epochs, lrs = [], [], [], set(), set()
            for seed in range(args.repeats):
                t = time.perf_counter()
                try:
                    model = BowClassifier(batch_size=size, random_state=seed).fit(Xtr, tr_y)
                except FloatingPointError:  # TrainingDivergedError: too large a summed step
                    break
                sec = time.perf_counter() - t
                secs.append(sec)
                rates.append(Xtr.nnz * model.n_iter_ / sec)
                epochs.add(int(model.n_iter_))
                lrs.add(float(model.lr_))
                accs.append(model.score(Xte, te_y))
            if not accs:
                print(f"| {name} | {size} | | | diverged | | |", flush=True)
                continue
            ep = "/".join(str(e) for e in sorted(epochs))
            lr = "/".join(f"{x:g}" for x in sorted(lrs))
            print(
                f"| {name} | {size} | {ep} | {lr} | {statistics.median(accs):.4f} "
                f"| {statistics.median(secs):.2f} | {statistics.median(rates):,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
