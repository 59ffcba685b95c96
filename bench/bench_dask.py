"""Distributed training on a Dask ``LocalCluster`` vs the single-machine fit.

    python bench/bench_dask.py [--datasets imdb tweeteval_emoji] [--workers 2]
                               [--configs sum average] [--json bench/out/dask.json]

For every dataset (``bench.common.load_dataset``: train and test split):

1. single machine: ``TextClassifier(random_state=0).fit`` — test accuracy and fit seconds;
2. for every ``--configs`` entry, ``bowclf.dask.fit_dask`` on a ``LocalCluster`` of
   ``--workers`` processes × 1 thread, the training set cut into ``--partitions`` contiguous
   partitions (default: one per worker) sent from this process — test accuracy, its
   difference to the single-machine fit, fit seconds (including sending the data).  A config
   is a merge rule with optional ``fit_dask`` options: ``sum``, ``average``,
   ``sum:sync_per_epoch=1``, ``sum:hot_features=0``;
3. distributed prediction of the test set (a bag of ``--predict-partitions`` partitions) by
   the model of the first config: whether ``predict_proba_dask`` equals the local
   ``predict_proba`` byte for byte and ``predict_dask`` the local labels, and its seconds.

On a machine with 2 cores the driver, the scheduler and both workers share the cores, so
the distributed fit cannot be faster than the local one: the benchmark checks that data
parallelism does not cost accuracy and measures the overhead of synchronisation.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_dataset  # noqa: E402


def _parse_config(text: str) -> tuple[str, dict]:
    merge, _, rest = text.partition(":")
    options: dict = {"merge": merge}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return text, options


def _partitions(items: list, count: int) -> list[list]:
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_dataset(name: str, client, args) -> dict:
    import dask.bag as db

    from bowclf import TextClassifier
    from bowclf.dask import fit_dask, predict_dask, predict_proba_dask

    Xtr, ytr = load_dataset(name, "train")
    Xte, yte = load_dataset(name, "test")
    row: dict = {"dataset": name, "train": len(Xtr), "test": len(Xte), "runs": []}
    t = time.perf_counter()
    local = TextClassifier(random_state=0).fit(Xtr, ytr)
    row["local"] = {
        "fit_s": round(time.perf_counter() - t, 1),
        "accuracy": local.score(Xte, yte),
        "epochs": int(local.classifier_.n_iter_),
    }
    print(f"{name}: local {row['local']}", flush=True)
    tp, lp = _partitions(Xtr, args.partitions), _partitions(ytr, args.partitions)
    first = None
    for label, options in map(_parse_config, args.configs):
        t = time.perf_counter()
        model = fit_dask(TextClassifier(random_state=0), tp, lp, client=client, **options)
        fit_s = time.perf_counter() - t
        acc = model.score(Xte, yte)
        dist = model.training_summary_["distributed"]
        run = {
            "config": label,
            "fit_s": round(fit_s, 1),
            "epoch_s": dist["epoch_seconds"],
            "accuracy": acc,
            "delta": acc - row["local"]["accuracy"],
            "loss": model.training_summary_["loss"],
            "local_loss": float(local.classifier_.loss_curve_[-1]),
            "sync_per_epoch": dist["sync_per_epoch"],
            "shards": dist["shards"],
        }
        row["runs"].append(run)
        print(f"  {run}", flush=True)
        first = first or model
    bag = db.from_sequence(Xte, npartitions=args.predict_partitions)
    t = time.perf_counter()
    P = predict_proba_dask(first, bag).compute()
    dist_s = time.perf_counter() - t
    labels = predict_dask(first, bag).compute()
    t = time.perf_counter()
    P_local = first.predict_proba(Xte)
    local_s = time.perf_counter() - t
    row["predict"] = {
        "proba_equal": P.tobytes() == P_local.tobytes(),
        "labels_equal": labels == first.predict(Xte).tolist(),
        "dask_s": round(dist_s, 1),
        "local_s": round(local_s, 1),
    }
    print(f"  predict {row['predict']}", flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| dataset | fit | accuracy | Δ vs local | fit s | train loss | rounds/epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        loc = row["local"]
        loss = f"{row['runs'][0]['local_loss']:.3f}" if row["runs"] else ""
        lines.append(
            f"| {row['dataset']} | single machine | {loc['accuracy']:.4f} | — | {loc['fit_s']} "
            f"| {loss} | — |"
        )
        for run in row["runs"]:
            lines.append(
                f"| {row['dataset']} | dask {run['shards']} workers, {run['config']} "
                f"| {run['accuracy']:.4f} | {100 * run['delta']:+.2f} pt | {run['fit_s']} "
                f"| {run['loss']:.3f} | {run['sync_per_epoch']} |"
            )
    lines += [
        "",
        "| dataset | predict_proba_dask == predict_proba | labels equal | dask s | local s |",
    ]
    lines.append("|---|---|---|---|---|")
    for row in rows:
        p = row["predict"]
        lines.append(
            f"| {row['dataset']} | {'yes (bytes)' if p['proba_equal'] else 'NO'} "
            f"| {'yes' if p['labels_equal'] else 'NO'} | {p['dask_s']} | {p['local_s']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["imdb", "tweeteval_emoji"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--predict-partitions", type=int, default=4)
    parser.add_argument("--configs", nargs="+", default=["sum", "average"])
    parser.add_argument("--json", default=None, help="Write the results here as JSON.")
    args = parser.parse_args(argv)
    args.partitions = args.partitions or args.workers

    from distributed import Client, LocalCluster

    warnings.filterwarnings("ignore")  # "large graph" notices for the prediction bags
    rows = []
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        for name in args.datasets:
            rows.append(run_dataset(name, client, args))
    print()
    print(table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
