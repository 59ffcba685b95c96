"""Deterministic synthetic text-classification corpora for throughput and memory benchmarks.

The model behind every document:

* a vocabulary of ``vocab_size`` made-up, pronounceable words (``ba``, ``ko``, ``tripu`` …),
  word ``i`` spelled from the syllables of ``i`` in bijective base 120, so frequent (low-id)
  words are short, as in real text;
* a shared *background* distribution over the vocabulary: Zipf–Mandelbrot,
  ``p(k) ∝ (k + 2.7) ** -zipf_s``;
* for every class a *topic*: ``topic_size`` words drawn (favouring mid-frequency words, skipping
  the 100 most frequent "stop words") with Zipfian weights inside the topic. Topics of different
  classes overlap where they happen to draw the same words;
* a document of class ``c`` has a log-normal length (mean ``mean_doc_len``, shape
  ``length_sigma``) and a topic weight ``w ~ Beta`` with mean ``topic_strength``; each token is
  drawn from topic ``c`` with probability ``w``, from the background otherwise. Documents with a
  small ``w`` are hard to classify, so the task is learnable but not trivial;
* class priors ``∝ (c + 1) ** -class_skew`` (``class_skew=0`` gives balanced classes).

Output is streamed to disk in chunks (memory is O(chunk), never the whole corpus), as CSV with a
``label,text`` header (the format of the benchmark corpora: labels are ``0 … n_classes-1``, texts
never need quoting) or as fastText lines ``__label__3 word word …``; a path ending in ``.gz`` is
gzipped (deterministically: no time stamp, no file name in the header). Lines end with ``\\n``.

Determinism: documents are generated in fixed blocks of :data:`BLOCK_DOCS` documents, each from
its own PCG64 stream (``SeedSequence(seed, spawn_key=(stream + 1, block))``), and the class-topic
model from ``SeedSequence(seed, spawn_key=(0,))``. The same arguments therefore give
byte-identical output whatever ``chunk_docs`` is (``chunk_docs`` only sets how many blocks are
written at a time), and a shorter corpus is a prefix of a longer one (up to the last document,
which is truncated to hit ``n_tokens`` exactly). A test set made with another ``stream`` shares
the class-topic model of the training set: see :func:`train_test_paths`. Streams are stable for a
given numpy version (numpy does not promise bit-identical distributions across versions).

Usage::

    python -m bench.synth OUT.csv.gz --tokens 10M --classes 20 --vocab 100k --seed 0
    python -m bench.synth OUT.txt --docs 50k --format fasttext
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import sys
import time
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BLOCK_DOCS", "generate", "make_vocab", "parse_count", "train_test_paths"]

BLOCK_DOCS = 1000  # documents per independent random stream (fixed: it defines the output)
STOP_WORDS = 100  # the most frequent words are never topical
_MANDELBROT_Q = 2.7
_BETA_A = 1.5  # concentration of the per-document topic weight

_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "ch",
    "sh",
    "th",
    "tr",
    "br",
    "st",
]
_VOWELS = ["a", "e", "i", "o", "u"]
SYLLABLES = [c + v for c in _ONSETS for v in _VOWELS]  # 120 syllables


def make_vocab(vocab_size: int) -> list[str]:
    """The ``vocab_size`` words: ids in bijective base 120 over :data:`SYLLABLES`.

    Ids ``0-119`` are one syllable, the next 14,400 two syllables, and so on; all distinct.
    """
    words: list[str] = []
    length = 1
    while len(words) < vocab_size:
        for combo in product(SYLLABLES, repeat=length):
            words.append("".join(combo))
            if len(words) == vocab_size:
                break
        length += 1
    return words


def parse_count(text: str | int) -> int:
    """``"10M"`` → 10_000_000; accepts K/M/G suffixes (powers of 1000), ``_`` and ``,``."""
    if isinstance(text, int):
        return text
    s = str(text).strip().replace("_", "").replace(",", "").upper()
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}.get(s[-1:], 1)
    if mult != 1:
        s = s[:-1]
    value = float(s) * mult
    if value != int(value) or value < 0:
        raise ValueError(f"not a non-negative whole count: {text!r}")
    return int(value)


class _Model:
    """The class-topic model: fixed by (seed, n_classes, vocab_size, shape parameters)."""

    def __init__(
        self,
        *,
        n_classes: int,
        vocab_size: int,
        topic_size: int,
        zipf_s: float,
        class_skew: float,
        seed: int,
    ) -> None:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))
        ranks = np.arange(vocab_size, dtype=np.float64)
        bg = (ranks + _MANDELBROT_Q) ** -zipf_s
        self.bg_cdf = _cdf(bg)
        prior = (np.arange(n_classes, dtype=np.float64) + 1.0) ** -class_skew
        self.class_prior = prior / prior.sum()
        self.class_cdf = _cdf(prior)
        # Topical words: drawn from ranks >= STOP_WORDS (or all, for tiny vocabularies) with
        # weight ∝ rank^-0.5, i.e. mostly mid-frequency content words.
        lo = STOP_WORDS if vocab_size > 4 * STOP_WORDS else 0
        cand_cdf = _cdf((ranks[lo:] + 1.0) ** -0.5)
        draws = rng.random((n_classes, topic_size))
        self.topic_words = (lo + _search(cand_cdf, draws)).astype(np.int32)
        self.topic_cdf = _cdf((np.arange(topic_size, dtype=np.float64) + 1.0) ** -1.0)


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def _search(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(cdf, u, side="right")
    return np.minimum(idx, len(cdf) - 1)


def _block(
    model: _Model,
    *,
    seed: int,
    stream: int,
    block: int,
    mean_doc_len: float,
    length_sigma: float,
    max_doc_len: int,
    topic_strength: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block of BLOCK_DOCS documents: (labels, lengths, token ids concatenated)."""
    ss = np.random.SeedSequence(seed, spawn_key=(stream + 1, block))
    rng = np.random.Generator(np.random.PCG64(ss))
    n = BLOCK_DOCS
    labels = _search(model.class_cdf, rng.random(n))
    mu = math.log(mean_doc_len) - length_sigma**2 / 2.0
    lengths = np.rint(rng.lognormal(mu, length_sigma, n)).astype(np.int64)
    np.clip(lengths, 1, max_doc_len, out=lengths)
    if topic_strength <= 0.0:
        weights = np.zeros(n)
    elif topic_strength >= 1.0:
        weights = np.ones(n)
    else:
        weights = rng.beta(_BETA_A, _BETA_A * (1.0 - topic_strength) / topic_strength, n)
    total = int(lengths.sum())
    doc_of_token = np.repeat(np.arange(n), lengths)
    topical = rng.random(total) < weights[doc_of_token]
    u = rng.random(total)
    ids = np.empty(total, dtype=np.int32)
    background = ~topical
    ids[background] = _search(model.bg_cdf, u[background])
    j = _search(model.topic_cdf, u[topical])
    ids[topical] = model.topic_words[labels[doc_of_token[topical]], j]
    return labels, lengths, ids


class _Writer:
    """Turns (labels, lengths, ids) into bytes with one table look-up and one join."""

    def __init__(self, words: list[str], n_classes: int, fmt: str) -> None:
        vocab_size = len(words)
        if fmt == "csv":
            label_strs = [f"{c}," for c in range(n_classes)]
            self.header = b"label,text\n"
        else:
            label_strs = [f"__label__{c} " for c in range(n_classes)]
            self.header = b""
        # table = [word + " "]*V + [word + "\n"]*V + [label prefix]*K
        table = [w + " " for w in words] + [w + "\n" for w in words] + label_strs
        self.table = np.array(table, dtype=object)
        self.nl_offset = vocab_size
        self.label_offset = 2 * vocab_size

    def encode(self, labels: np.ndarray, lengths: np.ndarray, ids: np.ndarray) -> bytes:
        n, total = len(labels), len(ids)
        ext = np.empty(total + n, dtype=np.int64)
        ends = np.cumsum(lengths + 1)  # one label slot before each document's tokens
        starts = ends - lengths - 1
        is_label = np.zeros(total + n, dtype=bool)
        is_label[starts] = True
        ext[is_label] = self.label_offset + labels
        ext[~is_label] = ids
        ext[ends - 1] += self.nl_offset  # last word of each document ends the line
        return "".join(self.table[ext].tolist()).encode("ascii")


def generate(
    path: str | Path,
    n_tokens: int | str | None = None,
    n_docs: int | str | None = None,
    n_classes: int = 4,
    vocab_size: int = 100_000,
    mean_doc_len: float = 50,
    topic_strength: float = 0.15,
    seed: int = 0,
    fmt: str = "csv",
    chunk_docs: int = 10_000,
    *,
    stream: int = 0,
    length_sigma: float = 0.6,
    max_doc_len: int | None = None,
    topic_size: int | None = None,
    zipf_s: float = 1.0,
    class_skew: float = 0.5,
    compress: bool | None = None,
    compresslevel: int = 1,
) -> dict[str, Any]:
    """Write a synthetic corpus to ``path`` and return its statistics.

    Stops after ``n_tokens`` tokens (the last document truncated so the count is exact) or
    ``n_docs`` documents, whichever comes first; at least one of them is required.

    Args:
        path: output file; gzipped when it ends in ``.gz`` (or when ``compress`` says so).
        n_tokens, n_docs: size of the corpus; ints or strings with K/M/G suffixes.
        n_classes: number of classes, 2 to 1,000 (more works, but is untested).
        vocab_size: number of distinct words in the model (not all appear in a small corpus).
        mean_doc_len: mean document length in tokens (log-normal lengths).
        topic_strength: mean share of topical (class-dependent) tokens per document, in [0, 1].
            0 makes the classes indistinguishable, 1 makes them easy.
        seed: seeds both the class-topic model and the documents.
        fmt: ``"csv"`` (``label,text`` with a header) or ``"fasttext"`` (``__label__C text``).
        chunk_docs: documents per write (rounded to whole blocks of BLOCK_DOCS); bounds memory.
            Has no effect on the output.
        stream: document stream; use another stream (same seed) for a test set that shares the
            training set's class-topic model.
        length_sigma: shape of the log-normal document length.
        max_doc_len: longest document (default ``20 * mean_doc_len``).
        topic_size: words per class topic (default ``clip(vocab_size // 50, 20, 1000)``).
        zipf_s: exponent of the background Zipf law.
        class_skew: class prior ∝ ``(c + 1) ** -class_skew``; 0 for balanced classes.
        compress: force gzip on or off (default: from the file name).
        compresslevel: gzip level (1 is fastest).

    Returns:
        dict with ``path, format, compressed, n_docs, n_tokens, n_classes, vocab_size,
        vocab_used, class_counts, mean_doc_len, bytes`` (uncompressed), ``file_bytes``,
        ``seconds`` (wall clock), ``cpu_seconds`` (this process), ``tokens_per_s`` (wall clock)
        and the generation parameters (``params``).
    """
    path = Path(path)
    n_tokens = None if n_tokens is None else parse_count(n_tokens)
    n_docs = None if n_docs is None else parse_count(n_docs)
    if n_tokens is None and n_docs is None:
        raise ValueError("give n_tokens or n_docs")
    if fmt not in ("csv", "fasttext"):
        raise ValueError(f"fmt must be 'csv' or 'fasttext', not {fmt!r}")
    if not 2 <= n_classes:
        raise ValueError("n_classes must be >= 2")
    if vocab_size < 2:
        raise ValueError("vocab_size must be >= 2")
    if not 0.0 <= topic_strength <= 1.0:
        raise ValueError("topic_strength must be in [0, 1]")
    if mean_doc_len < 1:
        raise ValueError("mean_doc_len must be >= 1")
    if max_doc_len is None:
        max_doc_len = max(1, int(20 * mean_doc_len))
    if topic_size is None:
        topic_size = int(np.clip(vocab_size // 50, 20, 1000))
    topic_size = max(1, min(topic_size, vocab_size))
    if compress is None:
        compress = path.suffix == ".gz"
    blocks_per_chunk = max(1, round(chunk_docs / BLOCK_DOCS))

    t0, c0 = time.perf_counter(), time.process_time()
    model = _Model(
        n_classes=n_classes,
        vocab_size=vocab_size,
        topic_size=topic_size,
        zipf_s=zipf_s,
        class_skew=class_skew,
        seed=seed,
    )
    writer = _Writer(make_vocab(vocab_size), n_classes, fmt)
    block_args = dict(
        seed=seed,
        stream=stream,
        mean_doc_len=mean_doc_len,
        length_sigma=length_sigma,
        max_doc_len=max_doc_len,
        topic_strength=topic_strength,
    )

    docs_left = math.inf if n_docs is None else n_docs
    tokens_left = math.inf if n_tokens is None else n_tokens
    class_counts = np.zeros(n_classes, dtype=np.int64)
    word_counts = np.zeros(vocab_size, dtype=np.int64)
    done_docs = done_tokens = n_bytes = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        out: io.BufferedIOBase
        if compress:
            out = gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel
            )
        else:
            out = raw
        out.write(writer.header)
        n_bytes += len(writer.header)
        block = 0
        while docs_left > 0 and tokens_left > 0:
            parts_l, parts_n, parts_i = [], [], []
            for _ in range(blocks_per_chunk):
                if docs_left <= 0 or tokens_left <= 0:
                    break
                labels, lengths, ids = _block(model, block=block, **block_args)
                block += 1
                keep = int(min(docs_left, len(labels)))
                cum = np.cumsum(lengths[:keep])
                if cum[-1] >= tokens_left:  # the last document needed is cut to fit exactly
                    keep = int(np.searchsorted(cum, tokens_left)) + 1
                    lengths = lengths[:keep].copy()
                    lengths[-1] -= int(cum[keep - 1] - tokens_left)
                labels, lengths = labels[:keep], lengths[:keep]
                ids = ids[: int(lengths.sum())]
                docs_left -= keep
                tokens_left -= len(ids)
                parts_l.append(labels)
                parts_n.append(lengths)
                parts_i.append(ids)
            labels = np.concatenate(parts_l)
            lengths = np.concatenate(parts_n)
            ids = np.concatenate(parts_i)
            data = writer.encode(labels, lengths, ids)
            out.write(data)
            n_bytes += len(data)
            done_docs += len(labels)
            done_tokens += len(ids)
            class_counts += np.bincount(labels, minlength=n_classes)
            word_counts += np.bincount(ids, minlength=vocab_size)
        if compress:
            out.close()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    return {
        "path": str(path),
        "format": fmt,
        "compressed": bool(compress),
        "n_docs": done_docs,
        "n_tokens": done_tokens,
        "n_classes": n_classes,
        "vocab_size": vocab_size,
        "vocab_used": int(np.count_nonzero(word_counts)),
        "class_counts": class_counts.tolist(),
        "mean_doc_len": done_tokens / max(1, done_docs),
        "bytes": n_bytes,
        "file_bytes": path.stat().st_size,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "tokens_per_s": done_tokens / seconds if seconds > 0 else float("inf"),
        "params": {
            "seed": seed,
            "stream": stream,
            "topic_strength": topic_strength,
            "mean_doc_len": mean_doc_len,
            "length_sigma": length_sigma,
            "max_doc_len": max_doc_len,
            "topic_size": topic_size,
            "zipf_s": zipf_s,
            "class_skew": class_skew,
        },
    }


def train_test_paths(
    out_dir: str | Path,
    *,
    train_tokens: int | str | None = None,
    test_tokens: int | str | None = None,
    train_docs: int | str | None = None,
    test_docs: int | str | None = None,
    name: str | None = None,
    fmt: str = "csv",
    compress: bool = True,
    reuse: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Generate (or reuse) a train/test pair sharing one class-topic model.

    The training set is document stream 0 and the test set stream 1 of the same ``seed``, so both
    have the same class priors and topics but different documents. ``kwargs`` go to
    :func:`generate` (``n_classes``, ``vocab_size``, ``mean_doc_len``, ``topic_strength``,
    ``seed`` …). Files are ``OUT_DIR/NAME.train.csv.gz`` and ``OUT_DIR/NAME.test.csv.gz``
    (``.txt`` for fastText) with a ``NAME.json`` of their stats; with ``reuse`` an existing pair
    made with the same arguments is not regenerated.

    Returns:
        ``{"train": Path, "test": Path, "train_stats": dict, "test_stats": dict}``.
    """
    for key in ("stream", "n_tokens", "n_docs", "path", "fmt", "compress"):
        if key in kwargs:
            raise TypeError(f"train_test_paths() sets {key!r} itself")
    out_dir = Path(out_dir)
    spec = {
        "train_tokens": train_tokens,
        "test_tokens": test_tokens,
        "train_docs": train_docs,
        "test_docs": test_docs,
        "fmt": fmt,
        "compress": compress,
        **kwargs,
    }
    spec = {
        k: (parse_count(v) if k.endswith(("_tokens", "_docs")) and v is not None else v)
        for k, v in spec.items()
    }
    if name is None:
        size = spec["train_tokens"] or spec["train_docs"]
        name = (
            f"synth_c{kwargs.get('n_classes', 4)}_v{kwargs.get('vocab_size', 100_000)}"
            f"_n{size}_s{kwargs.get('seed', 0)}"
        )
    ext = (".csv" if fmt == "csv" else ".txt") + (".gz" if compress else "")
    paths = {"train": out_dir / f"{name}.train{ext}", "test": out_dir / f"{name}.test{ext}"}
    meta = out_dir / f"{name}.json"
    if reuse and meta.exists() and all(p.exists() for p in paths.values()):
        saved = json.loads(meta.read_text())
        if saved.get("spec") == json.loads(json.dumps(spec)):
            return {**paths, "train_stats": saved["train_stats"], "test_stats": saved["test_stats"]}
    stats = {}
    for stream, split in enumerate(("train", "test")):
        stats[split] = generate(
            paths[split],
            n_tokens=spec[f"{split}_tokens"],
            n_docs=spec[f"{split}_docs"],
            fmt=fmt,
            compress=compress,
            stream=stream,
            **kwargs,
        )
    meta.write_text(
        json.dumps(
            {"spec": spec, "train_stats": stats["train"], "test_stats": stats["test"]}, indent=1
        )
    )
    return {**paths, "train_stats": stats["train"], "test_stats": stats["test"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synth",
        description="Write a deterministic synthetic text-classification corpus.",
    )
    parser.add_argument("out", help="output file (.gz → gzipped)")
    parser.add_argument("--tokens", help="number of tokens, e.g. 10M")
    parser.add_argument("--docs", help="number of documents, e.g. 50k")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--vocab", default="100k", help="vocabulary size (default 100k)")
    parser.add_argument("--mean-len", type=float, default=50.0, help="mean document length")
    parser.add_argument("--topic-strength", type=float, default=0.15)
    parser.add_argument("--class-skew", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stream", type=int, default=0, help="document stream (1 for a test set)")
    parser.add_argument("--format", choices=["csv", "fasttext"], default="csv")
    parser.add_argument("--chunk-docs", default="10k")
    args = parser.parse_args(argv)
    if args.tokens is None and args.docs is None:
        parser.error("give --tokens or --docs")
    stats = generate(
        args.out,
        n_tokens=args.tokens,
        n_docs=args.docs,
        n_classes=args.classes,
        vocab_size=parse_count(args.vocab),
        mean_doc_len=args.mean_len,
        topic_strength=args.topic_strength,
        seed=args.seed,
        fmt=args.format,
        chunk_docs=parse_count(args.chunk_docs),
        stream=args.stream,
        class_skew=args.class_skew,
    )
    if stats["n_classes"] > 50:
        stats["class_counts"] = stats["class_counts"][:50] + ["…"]
    json.dump(stats, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
