"""Tests of the synthetic benchmark corpora (bench/synth.py) and the bundled ticket corpus."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import math
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    """Import a module from its file (``bench`` and ``data`` are not installed packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


synth = _load("bowclf_test_bench_synth", ROOT / "bench" / "synth.py")
make_corpus = _load("bowclf_test_make_corpus", ROOT / "data" / "make_corpus.py")
generate = synth.generate

FASTTEXT_LINE = re.compile(r"__label__(\d+)( [a-z]+)+")


def _read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# ----------------------------------------------------------------------------- bench/synth.py


def test_deterministic_and_independent_of_chunk_size(tmp_path):
    paths = [tmp_path / f"a{i}.csv" for i in range(3)]
    generate(paths[0], n_tokens=30_000, n_classes=5, seed=3)
    generate(paths[1], n_tokens=30_000, n_classes=5, seed=3)
    generate(paths[2], n_tokens=30_000, n_classes=5, seed=3, chunk_docs=1)
    first = paths[0].read_bytes()
    assert first == paths[1].read_bytes() == paths[2].read_bytes()
    generate(tmp_path / "b.csv", n_tokens=30_000, n_classes=5, seed=4)
    assert (tmp_path / "b.csv").read_bytes() != first


def test_token_count_is_exact(tmp_path):
    path = tmp_path / "t.csv"
    stats = generate(path, n_tokens=25_001, n_classes=3, mean_doc_len=30)
    rows = _read_csv(path.read_bytes())
    assert rows[0] == ["label", "text"]
    n_tokens = sum(len(text.split()) for _, text in rows[1:])
    assert n_tokens == stats["n_tokens"] == 25_001
    assert len(rows) - 1 == stats["n_docs"]
    assert 15 < stats["mean_doc_len"] < 45
    assert stats["bytes"] == len(path.read_bytes())
    assert stats["tokens_per_s"] > 0


def test_n_docs_classes_and_prefix(tmp_path):
    stats = generate(tmp_path / "d.csv", n_docs=2_500, n_classes=7, vocab_size=5_000)
    rows = _read_csv((tmp_path / "d.csv").read_bytes())[1:]
    assert len(rows) == stats["n_docs"] == 2_500
    counts = Counter(int(label) for label, _ in rows)
    assert sorted(counts) == list(range(7))
    assert [counts[c] for c in range(7)] == stats["class_counts"]
    assert all(text for _, text in rows)
    # a shorter corpus is a prefix of a longer one
    generate(tmp_path / "e.csv", n_docs=1_234, n_classes=7, vocab_size=5_000)
    assert (tmp_path / "d.csv").read_bytes().startswith((tmp_path / "e.csv").read_bytes())


def test_fasttext_format_and_gzip(tmp_path):
    path = tmp_path / "f.txt.gz"
    stats = generate(path, n_docs=600, n_classes=12, fmt="fasttext", seed=1)
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and stats["compressed"]
    lines = gzip.decompress(raw).decode("ascii").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    assert len(lines) == 600
    labels = set()
    for line in lines:
        match = FASTTEXT_LINE.fullmatch(line)
        assert match, line
        labels.add(int(match.group(1)))
    assert labels <= set(range(12)) and len(labels) >= 8
    # gzip output is reproducible too (no time stamp in the header)
    generate(tmp_path / "g.txt.gz", n_docs=600, n_classes=12, fmt="fasttext", seed=1)
    assert (tmp_path / "g.txt.gz").read_bytes() == raw


def test_csv_gzip_same_content_as_plain(tmp_path):
    generate(tmp_path / "p.csv", n_tokens=5_000, n_classes=2)
    generate(tmp_path / "p.csv.gz", n_tokens=5_000, n_classes=2)
    plain = (tmp_path / "p.csv").read_bytes()
    assert gzip.decompress((tmp_path / "p.csv.gz").read_bytes()) == plain
    rows = _read_csv(plain)
    assert {label for label, _ in rows[1:]} == {"0", "1"}


def test_classes_are_learnable(tmp_path):
    """Words of a class's topic are much more frequent in that class than elsewhere."""
    generate(
        tmp_path / "l.csv",
        n_docs=2_000,
        n_classes=2,
        vocab_size=2_000,
        topic_strength=0.3,
        class_skew=0.0,
    )
    counts = {"0": Counter(), "1": Counter()}
    for label, text in _read_csv((tmp_path / "l.csv").read_bytes())[1:]:
        counts[label].update(text.split())
    # a trivial classifier: sum of log-ratios of word counts, scored on the training data
    total = {k: sum(c.values()) for k, c in counts.items()}

    def score(text):
        return sum(
            math.log((counts["0"][w] + 1) / total["0"])
            - math.log((counts["1"][w] + 1) / total["1"])
            for w in text.split()
        )

    rows = _read_csv((tmp_path / "l.csv").read_bytes())[1:]
    accuracy = sum((score(t) > 0) == (lab == "0") for lab, t in rows) / len(rows)
    assert 0.7 < accuracy < 1.0


def test_train_test_paths_share_the_model(tmp_path):
    pair = synth.train_test_paths(
        tmp_path, train_docs=3_000, test_docs="1k", n_classes=4, vocab_size=3_000, seed=5
    )
    assert pair["train"].exists() and pair["test"].exists()
    assert pair["train"].name.endswith(".train.csv.gz")
    train, test = pair["train_stats"], pair["test_stats"]
    assert (train["n_docs"], test["n_docs"]) == (3_000, 1_000)
    tr = [c / train["n_docs"] for c in train["class_counts"]]
    te = [c / test["n_docs"] for c in test["class_counts"]]
    assert all(abs(a - b) < 0.06 for a, b in zip(tr, te, strict=True))
    train_rows = _read_csv(gzip.decompress(pair["train"].read_bytes()))
    test_rows = _read_csv(gzip.decompress(pair["test"].read_bytes()))
    assert train_rows[1:50] != test_rows[1:50]
    # reused, not regenerated, when asked again with the same arguments
    mtime = pair["train"].stat().st_mtime_ns
    again = synth.train_test_paths(
        tmp_path, train_docs=3_000, test_docs=1_000, n_classes=4, vocab_size=3_000, seed=5
    )
    assert again["train"] == pair["train"] and pair["train"].stat().st_mtime_ns == mtime


def test_vocab_and_counts():
    words = synth.make_vocab(20_000)
    assert len(set(words)) == 20_000
    assert all(w.isalpha() and w.islower() for w in words)
    assert len(words[0]) <= 3 and len(words[-1]) > len(words[0])
    assert synth.parse_count("10M") == 10_000_000
    assert synth.parse_count("100k") == 100_000
    assert synth.parse_count("1.5G") == 1_500_000_000
    assert synth.parse_count("12_345") == 12_345
    with pytest.raises(ValueError):
        synth.parse_count("1.5")


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli.txt"
    assert (
        synth.main(
            [str(out), "--tokens", "2K", "--classes", "20", "--vocab", "1k", "--format", "fasttext"]
        )
        == 0
    )
    assert '"n_tokens": 2000' in capsys.readouterr().out
    assert all(FASTTEXT_LINE.fullmatch(line) for line in out.read_text().splitlines())


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path / "x.csv")
    with pytest.raises(ValueError):
        generate(tmp_path / "x.csv", n_docs=10, fmt="json")
    with pytest.raises(ValueError):
        generate(tmp_path / "x.csv", n_docs=10, n_classes=1)


# ----------------------------------------------------------------------------- data/tickets


def test_ticket_corpus_is_reproduced_by_its_script(tmp_path):
    assert make_corpus.main(["--out", str(tmp_path)]) == 0
    total_docs, labels = 0, set()
    for name in ("tickets_train.csv", "tickets_test.csv"):
        bundled = (ROOT / "data" / name).read_bytes()
        assert (tmp_path / name).read_bytes() == bundled, f"data/{name} is stale"
        assert len(bundled) < 1_000_000
        rows = _read_csv(bundled)
        assert rows[0] == ["label", "text"]
        assert all(len(row) == 2 and row[0] and row[1] for row in rows[1:])
        labels |= {row[0] for row in rows[1:]}
        total_docs += len(rows) - 1
    assert len(labels) >= 3
    assert total_docs >= 2_000
