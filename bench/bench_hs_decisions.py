"""Multi-label decisions of a 20k-label hs model: time and traced peak memory per route.

Runs against whichever ``bowclf`` is importable, so that two checkouts can be compared::

    PYTHONPATH=<checkout> python bench/bench_hs_decisions.py

Routes: the validation score (micro-F1, ``ClassifierCore.score_targets``), ``predict``'s
indicator, ``predict --proba``'s rows (``predict_sets_with_proba`` where it exists, else
``predict`` + ``predict_proba`` as the command line did) and ``hsoftmax.top_k``.  A checksum
per route shows both checkouts computed the same thing.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp

from bowclf import BowClassifier, TextClassifier
from bowclf import hsoftmax as hs
from bowclf.inference import ClassifierCore

C, N_TRAIN, N = 20_000, 30_000, 5_000


def _measure(name: str, f) -> None:
    tracemalloc.start()
    t = time.perf_counter()
    out = f()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    digest = hashlib.sha1(repr(out).encode()).hexdigest()[:10]
    print(f"{name:<34} {seconds:7.2f} s  peak {peak / 2**20:7.0f} MiB  checksum {digest}")


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"No options: {C:,} labels, {N_TRAIN:,} training rows, {N:,} decided rows; "
        "one line per route (seconds, traced peak MiB, checksum).",
    ).parse_args(argv)
    rng = np.random.default_rng(0)
    first = np.concatenate([np.arange(C), rng.zipf(1.3, N_TRAIN - C) % C])
    rows = np.repeat(np.arange(N_TRAIN), 4)
    noise = 2 * C + rng.integers(0, 50, (N_TRAIN, 2))
    cols = np.column_stack([2 * first, 2 * first + 1, noise]).ravel()
    X = sp.csr_array((np.ones(rows.size, np.float32), (rows, cols)), shape=(N_TRAIN, 2 * C + 50))
    pairs = np.column_stack([first, (first + 1) % C]).ravel()
    Y = sp.csr_array((np.ones(pairs.size, np.int64), (np.repeat(np.arange(N_TRAIN), 2), pairs)),
                     shape=(N_TRAIN, C))  # fmt: skip
    model = BowClassifier(loss="hs", dim=16, epochs=2, lr=0.3, random_state=0).fit(X, Y)
    core = ClassifierCore.of(model)
    _measure("validation micro-F1", lambda: round(core.score_targets(X[:N], Y[:N]), 9))
    _measure("BowClassifier.predict (indicator)", lambda: int(model.predict(X[:N]).sum()))
    sets = [(f"l{k}", f"l{(k + 1) % C}") for k in first]
    texts = [f"w{k} v{(k + 1) % C} noise{rng.integers(50)}" for k in first]
    predictor = TextClassifier(loss="hs", dim=32, epochs=3, random_state=0).fit(texts, sets)
    predictor = predictor._predictor()
    probe = texts[:N]
    column = {c: j for j, c in enumerate(predictor.classes_.tolist())}

    def proba_rows():
        if hasattr(predictor, "predict_sets_with_proba"):
            out = predictor.predict_sets_with_proba(probe)
        else:  # the command line's former route: every label's probability
            P, labels = predictor.predict_proba(probe), predictor.predict(probe)
            out = [[(x, P[i, column[x]]) for x in r] for i, r in enumerate(labels)]
        return [[(x, f"{p:.6g}") for x, p in r] for r in out]

    _measure("predict --proba rows", proba_rows)
    tree = hs.HuffmanTree.from_counts(rng.zipf(1.5, C).astype(float))
    B = (0.3 * rng.standard_normal((C - 1, 100))).astype(np.float32)
    H = (0.5 * rng.standard_normal((3000, 100))).astype(np.float32)
    for k in (1, 5):
        name = f"hsoftmax.top_k k={k}, 3000 docs"
        _measure(name, lambda k=k: hs.top_k(H, B, tree, k)[1].tobytes())


if __name__ == "__main__":
    main()
