"""Scaling benchmark on synthetic corpora (:mod:`bench.synth`): bowclf's CLI against fastText.

Scans (every point is one synthetic train/test pair; the base point is 1M training tokens,
20 classes, a 100k-word vocabulary and dim 100):

* ``tokens``: 1M, 10M, 100M training tokens (up to ``--max-tokens``), also fastText with one
  thread (per-core comparison, as bowclf trains on one core) and, when the installed CLI has
  it, ``bowclf fit --stream`` (out-of-core training) — these two *extended* rows only up to
  ``extended_max`` tokens (``python -m bench``: 10M, to keep its 30-minute budget);
* ``classes``: 2, 20, 200, 1000 classes at 1M tokens;
* ``dim``: 10, 50, 100, 300 at 1M tokens;
* ``vocab``: 10k, 100k, 1M-word vocabularies at 1M tokens.

bowclf runs as ``bowclf fit TRAIN.csv -o MODEL --quiet --seed 0 --epochs 5 --lr 0.1
--optimizer sgd --ngrams 2 --no-idf …raw-count flags… --dim D`` (:data:`CLI_SAME_PARAMS`:
``bench.systems.BOWCLF_FT_PARAMS`` but ``dim``; the way big corpora are trained; fastText's
hyper-parameters, so that both do the same work) and ``bowclf evaluate``; fastText as
``train_supervised`` with the same hyper-parameters (bigrams, dim, 5 epochs, lr 0.1,
thread=2). Each in its own process; fit
seconds, training tokens/s (tokens × 5 epochs ÷ fit s), peak RSS of the fit process (bowclf)
or of the whole child (fastText) and test accuracy are recorded. Corpora are generated once
into ``bench/out/synth`` (uncompressed, ``label,text`` CSV for bowclf and ``__label__`` lines
for fastText, the same documents).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.prep import CACHE_DIR
from bench.systems import BOWCLF_FT_PARAMS, FT_PARAMS

#: ``bowclf fit`` options giving fastText's hyper-parameters (5 epochs, lr 0.1, bigrams, raw
#: counts with every 'auto' input pinned; see ``bench.systems.BOWCLF_FT_PARAMS``).
CLI_SAME_PARAMS = {k: v for k, v in BOWCLF_FT_PARAMS.items() if k != "dim"}

BASE_TOKENS = 1_000_000
SIZES = [1_000_000, 10_000_000, 100_000_000]
CLASSES = [2, 20, 200, 1000]
DIMS = [10, 50, 100, 300]
VOCABS = [10_000, 100_000, 1_000_000]
BASE = {"classes": 20, "dim": 100, "vocab": 100_000}
SCANS = ["tokens", "classes", "dim", "vocab"]
SCAN_TITLES = {
    "tokens": "Cost vs corpus size (20 classes, 100k-word vocabulary, dim 100)",
    "classes": "Cost vs number of classes (1M tokens, dim 100)",
    "dim": "Cost vs embedding dimension (1M tokens, 20 classes)",
    "vocab": "Cost vs vocabulary size (1M tokens, 20 classes, dim 100)",
}
SCALING_SYSTEMS = {
    "bowclf-cli": "bowclf CLI",
    "bowclf-stream": "bowclf CLI --stream",
    "fasttext": "fastText, thread=2",
    "fasttext-1t": "fastText, thread=1",
}
#: rows of the corpus-size scan that run only up to ``extended_max`` tokens
EXTENDED = ("bowclf-stream", "fasttext-1t")
#: synthetic tokens generated per second and format (bench/synth.py, one core of this machine:
#: 10M tokens in 2.7 s, 100M in 24 s) and bytes per token of the files — for the estimate
#: printed before a corpus is generated
GEN_TOKENS_PER_S = 3.5e6
GEN_BYTES_PER_TOKEN = 5.2


@dataclass(frozen=True, order=True)
class Point:
    """One synthetic configuration."""

    tokens: int
    classes: int
    dim: int
    vocab: int

    def key(self) -> str:
        return f"t{self.tokens}_c{self.classes}_d{self.dim}_v{self.vocab}"


def scan_points(scan: str, max_tokens: int) -> list[Point]:
    """The configurations of one scan."""
    base = Point(BASE_TOKENS, BASE["classes"], BASE["dim"], BASE["vocab"])
    if scan == "tokens":
        return [Point(n, base.classes, base.dim, base.vocab) for n in SIZES if n <= max_tokens]
    if scan == "classes":
        return [Point(base.tokens, k, base.dim, base.vocab) for k in CLASSES]
    if scan == "dim":
        return [Point(base.tokens, base.classes, d, base.vocab) for d in DIMS]
    if scan == "vocab":
        return [Point(base.tokens, base.classes, base.dim, v) for v in VOCABS]
    raise ValueError(f"unknown scan {scan!r}")


def scan_x(scan: str, p: Point) -> int:
    return {"tokens": p.tokens, "classes": p.classes, "dim": p.dim, "vocab": p.vocab}[scan]


def systems_for(scan: str, stream: bool = False) -> list[str]:
    """Systems of a scan; ``bowclf-stream`` (``bowclf fit --stream``, out-of-core) only in
    the corpus-size scan and only when the installed CLI has that option."""
    if scan != "tokens":
        return ["bowclf-cli", "fasttext"]
    return [s for s in SCALING_SYSTEMS if stream or s != "bowclf-stream"]


def test_tokens(train_tokens: int) -> int:
    return min(max(train_tokens // 10, 100_000), 1_000_000)


def _stem(p: Point) -> str:
    return f"synth_c{p.classes}_v{p.vocab}_n{p.tokens}"


def corpus_cached(p: Point, cache: Path = CACHE_DIR) -> bool:
    """Whether both versions of point ``p``'s corpus have been generated (checked without
    importing numpy: the parent process stays small)."""
    return all((cache / "synth" / f"{_stem(p)}_{fmt}.json").exists() for fmt in ("csv", "ft"))


def generation_estimate(p: Point) -> tuple[float, float]:
    """Seconds and GB to generate point ``p``'s corpus: train and test sets, CSV and
    fastText."""
    tokens = 2 * (p.tokens + test_tokens(p.tokens))
    return tokens / GEN_TOKENS_PER_S, tokens * GEN_BYTES_PER_TOKEN / 1e9


def corpus_pair(p: Point, cache: Path = CACHE_DIR) -> dict[str, Any]:
    """Generate (once) the CSV and fastText versions of point ``p``; a worker pair dict with
    ``generate_s``, the seconds the generation took (when it was done, maybe earlier) and
    ``corpus_bytes``, the size of the four files."""
    from bench.synth import train_test_paths

    out = cache / "synth"
    common = {
        "train_tokens": p.tokens,
        "test_tokens": test_tokens(p.tokens),
        "n_classes": p.classes,
        "vocab_size": p.vocab,
        "seed": 0,
        "compress": False,
    }
    csv = train_test_paths(out, name=_stem(p) + "_csv", fmt="csv", **common)
    ft = train_test_paths(out, name=_stem(p) + "_ft", fmt="fasttext", **common)
    stats = csv["train_stats"]
    parts = [v[f"{split}_stats"] for v in (csv, ft) for split in ("train", "test")]
    return {
        "pair": p.key(),
        "dataset": "synth",
        "multilabel": False,
        "labels": [str(c) for c in range(p.classes)],
        "train_csv": str(csv["train"]),
        "test_csv": str(csv["test"]),
        "train_ft": str(ft["train"]),
        "test_ft": str(ft["test"]),
        "train_tokens": int(stats["n_tokens"]),
        "train_docs": int(stats["n_docs"]),
        "vocab_used": int(stats["vocab_used"]),
        "generate_s": sum(float(s.get("seconds") or 0) for s in parts),
        "corpus_bytes": sum(int(s.get("bytes") or 0) for s in parts),
    }


def job_for(system: str, p: Point, pair: dict[str, Any]) -> dict[str, Any]:
    """The worker job of ``system`` at point ``p``."""
    if system in ("bowclf-cli", "bowclf-stream"):
        params: dict[str, Any] = {
            "seed": 0,
            **CLI_SAME_PARAMS,
            "dim": p.dim,
            "stream": system == "bowclf-stream",
        }
        return {"runner": "bowclf_cli", "params": params, "pair": pair}
    params = {**FT_PARAMS, "dim": p.dim}
    if system == "fasttext-1t":
        params["thread"] = 1
    return {"runner": "fasttext", "params": params, "pair": pair}


def timeout_for(p: Point) -> float:
    """Child time limit: generous, proportional to the work."""
    return 600.0 + 60.0 * p.tokens / 1e6 * max(1.0, p.classes * p.dim / 2000.0)


def plan(
    max_tokens: int,
    scans: Iterable[str] = SCANS,
    stream: bool = False,
    extended_max: int | None = None,
    systems: Iterable[str] | None = None,
) -> list[tuple[Point, str]]:
    """Unique (point, system) runs over the requested scans, smallest first; the
    :data:`EXTENDED` systems only up to ``extended_max`` tokens (None: every size); only
    ``systems`` if given."""
    runs = set()
    wanted = set(systems or SCALING_SYSTEMS)
    for scan in scans:
        for p in scan_points(scan, max_tokens):
            for system in systems_for(scan, stream):
                if system in EXTENDED and extended_max is not None and p.tokens > extended_max:
                    continue
                if system in wanted:
                    runs.add((p, system))
    return sorted(runs, key=lambda r: (r[0].tokens, r[0].classes * r[0].dim, r[0], r[1]))


def repeats_at(p: Point, repeats: int, big_repeats: int) -> int:
    """Runs per system at point ``p``: ``big_repeats`` at ≥ 100M tokens, else ``repeats``."""
    return big_repeats if p.tokens >= 100_000_000 else repeats


def run_scaling(
    max_tokens: int,
    repeats: int,
    run_job: Callable[..., dict[str, Any]],
    make_pair: Callable[[Point], dict[str, Any]],
    scans: Iterable[str] = SCANS,
    big_repeats: int = 1,
    on_point: Callable[[dict[str, Any]], None] | None = None,
    stream: bool = False,
    extended_max: int | None = None,
    systems: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every (point, system) ``repeats`` times (``big_repeats`` at ≥ 100M tokens).

    ``run_job(job, timeout)`` runs one worker child and returns its record fields;
    ``make_pair(point)`` returns the point's pair (generating its corpus if needed).
    """
    records = []
    pairs: dict[Point, dict[str, Any]] = {}
    for p, system in plan(max_tokens, scans, stream, extended_max, systems):
        if p not in pairs:
            seconds, gb = generation_estimate(p)
            if seconds > 10 and not corpus_cached(p):
                print(
                    f"  generating synthetic corpus {p.key()} (CSV + fastText, ~{gb:.1f} GB "
                    f"in bench/out/synth): about {seconds:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
            t0 = time.perf_counter()
            pairs[p] = make_pair(p)
            took = time.perf_counter() - t0
            if took > 1:
                print(
                    f"  generated synthetic corpus {p.key()} in {took:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        for r in range(repeats_at(p, repeats, big_repeats)):
            rec = run_job(job_for(system, p, pairs[p]), timeout_for(p))
            rec.update(
                {
                    "system": system,
                    "repeat": r,
                    "point": asdict(p),
                    "train_tokens": pairs[p]["train_tokens"],
                    "vocab_used": pairs[p]["vocab_used"],
                    "generate_s": pairs[p].get("generate_s"),
                    "corpus_bytes": pairs[p].get("corpus_bytes"),
                }
            )
            records.append(rec)
            if on_point is not None:
                on_point(rec)
    return records


def parse_tokens(text: str) -> int:
    """``"100M"`` → 100_000_000 (see :func:`bench.synth.parse_count`)."""
    from bench.synth import parse_count

    return parse_count(text)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.scaling POINT_JSON``: generate one point's corpus, print its pair."""
    import json

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].lstrip().startswith("{"):
        print(
            "usage: python -m bench.scaling POINT_JSON (a child entry point of the benchmark); "
            "run the scaling scans with 'python -m bench scaling' (--help for its options)",
            file=sys.stderr,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    print(json.dumps(corpus_pair(Point(**json.loads(argv[0])))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
