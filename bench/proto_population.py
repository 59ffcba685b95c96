"""One draw of a generated kind, measured on its population instead of its one test set.

A draw of the dev suite (``bench.devsuite --seed S``) has one training set and a test set
of its own size: reviews2's holds ~780 documents, so one document is 0.13 points, and the
paired difference between two systems moves by about a point with the test sample alone.
When bowclf trails a peer on one draw, is that draw's *distribution* one where the peer is
better, or is it the sample?

This draws the same distribution again — the generator with the draw's seed and stream, so
the same vocabulary, lexicon and class balance, since each generator draws those first —
at many times the draw's size, then cuts it into ``--train-sets`` disjoint training sets of
the draw's training size and one test set of ``--test-docs`` documents.  Every system is
trained on each training set (``--runs`` seeds each, every cell in its own process as in
the dev suite) and scored on the one large test set.  For the generators that write their
documents in order (all but reviews2), training set 0 is the draw's own training set; for
the others the draw's own training set is scored on the same test set too (``#own``).

Usage::

    python -m bench.proto_population --corpus reviews2 --seed 4 --train-sets 4 \\
        --test-docs 20000 --systems bowclf fasttext fasttext-t12 --runs 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.devsuite import (
    _STREAM,
    GENERATORS,
    OUT,
    SEED_PARAM,
    SYSTEM_ROWS,
    draw_corpus,
    run_matrix,
)
from bench.prep import _build_pair, _write_csv_gz

__all__ = ["main", "population_pairs"]


def population_pairs(
    name: str, seed: int, train_sets: int, test_docs: int, out: Path = OUT
) -> list[dict[str, Any]]:
    """``train_sets`` benchmark pairs of draw ``seed`` of kind ``name``: disjoint training
    sets of the draw's training size, one shared test set of ``test_docs`` documents
    (cached under ``out/population``)."""
    gen, n_train, n_test = GENERATORS[name]
    tr_x, tr_y, te_x, _ = draw_corpus(name, 1.0, seed)
    size = len(tr_x)
    # The pool keeps the draw's proportions of training and test documents (reviews2
    # splits by share), so it is scaled for whichever of the two needs more.
    scale = max(train_sets, test_docs / max(1, len(te_x))) * 1.05
    rng = np.random.default_rng([seed, _STREAM[name]])
    px, py, qx, qy = gen(int(n_train * scale), int(n_test * scale), rng)
    if len(px) < train_sets * size or len(qx) < test_docs:
        raise SystemExit(f"{name}@{seed}: the pool is too small ({len(px)}, {len(qx)})")
    d = out / "population" / f"{name}@{seed}"
    key = {"name": name, "seed": seed, "train_sets": train_sets, "test_docs": test_docs, "v": 2}
    meta_path = d / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("key") == key:
        return json.loads(meta_path.read_text())["pairs"]
    d.mkdir(parents=True, exist_ok=True)
    test_csv = d / "test.csv.gz"
    _write_csv_gz(test_csv, zip(qy[:test_docs], qx[:test_docs], strict=True))
    pairs = []
    if px[:size] != tr_x:  # the draw's own training set, scored on the same test set
        own_csv = d / "train_own" / "train.csv.gz"
        own_csv.parent.mkdir(exist_ok=True)
        _write_csv_gz(own_csv, zip(tr_y, tr_x, strict=True))
        pairs.append(
            _build_pair(f"pop/{name}@{seed}#own", own_csv, test_csv, own_csv.parent, False)
        )
    for r in range(train_sets):
        sl = slice(r * size, (r + 1) * size)
        sub = d / f"train{r}"
        sub.mkdir(exist_ok=True)
        train_csv = sub / "train.csv.gz"
        _write_csv_gz(train_csv, zip(py[sl], px[sl], strict=True))
        pairs.append(_build_pair(f"pop/{name}@{seed}#{r}", train_csv, test_csv, sub, False))
    meta_path.write_text(json.dumps({"key": key, "pairs": pairs}, indent=1))
    return pairs


def _table(records: list[dict[str, Any]], systems: list[str]) -> str:
    """Mean accuracy % per training set and system, the mean over the disjoint training
    sets (``#own`` is not counted: it overlaps the pool), and each system's difference
    from the first."""
    sets = list(dict.fromkeys(r["corpus"] for r in records))
    acc: dict[tuple[str, str], list[float]] = {}
    for r in records:
        if "accuracy" in r:
            acc.setdefault((r["corpus"], r["system"]), []).append(r["accuracy"])
    head = "| training set | " + " | ".join(systems) + " |"
    lines = [head, "| --- |" + " ---: |" * len(systems)]
    means: dict[str, list[float]] = {s: [] for s in systems}
    for c in sets:
        cells = []
        for s in systems:
            vals = acc.get((c, s), [])
            m = float(np.mean(vals)) if vals else float("nan")
            if not c.endswith("#own"):
                means[s].append(m)
            cells.append(f"{m:.2f} (n={len(vals)})")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    overall = {s: float(np.nanmean(v)) for s, v in means.items()}
    lines.append(
        "| **mean of the disjoint sets** | "
        + " | ".join(f"**{overall[s]:.2f}**" for s in systems)
        + " |"
    )
    first = systems[0]
    for s in systems[1:]:
        d = np.array(means[first]) - np.array(means[s])
        lines.append(
            f"\n{first} − {s}: mean {np.nanmean(d):+.2f} "
            f"(per training set: {', '.join(f'{x:+.2f}' for x in d)})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.proto_population", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--corpus", required=True, choices=list(GENERATORS))
    ap.add_argument("--seed", type=int, required=True, help="the draw (as devsuite --seed)")
    ap.add_argument("--train-sets", type=int, default=4)
    ap.add_argument("--test-docs", type=int, default=20_000)
    ap.add_argument("--systems", nargs="*", default=["bowclf", "fasttext", "fasttext-t12"])
    ap.add_argument("--runs", type=int, default=3, help="seeds per seeded system")
    ap.add_argument("--out", type=Path, default=None, help="write the records (JSON) here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    pairs = population_pairs(args.corpus, args.seed, args.train_sets, args.test_docs)
    systems = {s: SYSTEM_ROWS[s] for s in args.systems}
    if args.runs > 1:
        assert all(SEED_PARAM.get(r) for _, r, _ in systems.values()), "unseeded system"
    records = run_matrix(
        pairs, systems, log=lambda s: print(s, file=sys.stderr, flush=True), runs=args.runs
    )
    print(
        f"### {args.corpus}@{args.seed}: {len(pairs)} training sets of "
        f"{pairs[0]['train_docs']} documents, one test set of {pairs[0]['test_docs']}\n"
    )
    print(_table(records, args.systems))
    if args.out:
        args.out.write_text(json.dumps(records, indent=1))
    print(f"[population] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
