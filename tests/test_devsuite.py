"""The dev suite's bookkeeping (bench/devsuite.py): seeded runs, means and the score card."""

from __future__ import annotations

import csv
import gzip
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def devsuite(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # ``bench`` is not an installed package
    for name in [m for m in sys.modules if m == "bench" or m.startswith("bench.")]:
        monkeypatch.delitem(sys.modules, name)
    import bench.devsuite

    return bench.devsuite


def _rec(corpus, system, acc, seed=None, error=None):
    r = {"corpus": corpus, "system": system, "label": system}
    if seed is not None:
        r["seed"] = seed
    if error:
        r["error"] = error
    else:
        r.update(accuracy=acc, macro_f1=acc - 1, fit_s=0.5)
    return r


def test_summarize_means_ranges_and_failures(devsuite):
    recs = [
        _rec("a", "bowclf", 70.0, 0),
        _rec("a", "bowclf", 72.0, 1),
        _rec("a", "fasttext", 69.0, 0),
        _rec("a", "fasttext", None, 1, error="RuntimeError: Encountered NaN"),
    ]
    s = devsuite.summarize(recs)
    assert s[("a", "bowclf")] == {
        "n": 2,
        "failed": 0,
        "label": "bowclf",
        "accuracy": 71.0,
        "low": 70.0,
        "high": 72.0,
        "macro_f1": 70.0,
        "fit_s": 0.5,
    }
    assert s[("a", "fasttext")]["n"] == 1 and s[("a", "fasttext")]["failed"] == 1
    table = devsuite.render(recs, "t")
    assert "**71.00** [70.00–72.00]" in table and "69.00 (1 failed)" in table


def test_score_card_counts_and_names_each_shortfall_once(devsuite):
    recs = [
        # a: ahead of everyone
        _rec("a", "bowclf", 80.0),
        _rec("a", "fasttext", 70.0),
        _rec("a", "sk-tfidf-sgd", 79.0),
        # b: behind fastText, which is also the best peer: named once
        _rec("b", "bowclf", 60.0),
        _rec("b", "fasttext", 59.0),
        _rec("b", "fasttext-t12", 61.5),
        _rec("b", "sk-tfidf-sgd", 58.0),
        # c: ahead of fastText, behind tf-idf; extra bowclf rows are not peers
        _rec("c", "bowclf", 50.0),
        _rec("c", "fasttext", 40.0),
        _rec("c", "sk-tfidf-sgd", 52.25),
        _rec("c", "bowclf-variant", 99.0),
    ]
    card = devsuite.score_card(devsuite.summarize(recs))
    assert card[0] == (
        "Score card (bowclf): ≥ fastText's defaults on 2 of 3 corpora, ≥ the best peer on 1 of 3."
    )
    assert card[1] == "Behind: b fastText −1.50; c sk-tfidf-sgd −2.25."


def _two_document_test(tmp_path):
    """A test split of two documents, as the dev suite writes them (gzipped CSV)."""
    test_csv = tmp_path / "test.csv.gz"
    with gzip.open(test_csv, "wt", newline="") as f:
        csv.writer(f).writerows([["label", "text"], ["x", "a"], ["y", "b"]])
    return test_csv


def test_run_matrix_trains_seeded_systems_once_per_seed(devsuite, tmp_path, monkeypatch):
    test_csv = _two_document_test(tmp_path)
    calls = []

    def fake_cell(runner, params, pair, inprocess, timeout):
        calls.append((runner, dict(params)))
        right = params.get("random_state", params.get("seed", 0)) % 2 == 0
        return {"pred": ["x", "y"] if right else ["y", "y"], "fit_s": 0.1}

    monkeypatch.setattr(devsuite, "_run_cell", fake_cell)
    monkeypatch.setattr(devsuite, "_missing", lambda runner: None)  # every peer installed
    systems = {
        "bowclf": ("bowclf", "bowclf_api", {"random_state": 0}),
        "fasttext": ("fastText", "fasttext", {"thread": 2, "seed": 0}),
        "vw": ("VW", "vw", {}),
    }
    pair = {"pair": "p", "test_csv": str(test_csv)}
    recs = devsuite.run_matrix([pair], systems, log=lambda s: None, runs=3)
    assert [(r, p.get("random_state", p.get("seed"))) for r, p in calls] == [
        ("bowclf_api", 0),
        ("bowclf_api", 1),
        ("bowclf_api", 2),
        ("fasttext", 0),
        ("fasttext", 1),
        ("fasttext", 2),
        ("vw", None),  # deterministic: one run
    ]
    assert all(p["thread"] == 2 for r, p in calls if r == "fasttext")
    assert [r["accuracy"] for r in recs if r["system"] == "bowclf"] == [100.0, 50.0, 100.0]
    assert [r.get("seed") for r in recs] == [0, 1, 2, 0, 1, 2, None]
    # one run keeps each system's own seed
    calls.clear()
    devsuite.run_matrix([pair], systems, log=lambda s: None)
    assert [p.get("random_state", p.get("seed")) for _, p in calls] == [0, 0, None]


def test_missing_peer_is_a_skipped_row_not_a_failure(devsuite, tmp_path, monkeypatch):
    test_csv = _two_document_test(tmp_path)
    calls = []

    def fake_cell(runner, params, pair, inprocess, timeout):
        calls.append(runner)
        return {"pred": ["x", "y"], "fit_s": 0.1}

    monkeypatch.setattr(devsuite, "_run_cell", fake_cell)
    monkeypatch.setattr(
        devsuite, "_missing", lambda r: "not installed (vowpalwabbit)" if r == "vw" else None
    )
    systems = {
        "bowclf": ("bowclf", "bowclf_api", {"random_state": 0}),
        "vw": ("VW", "vw", {}),
    }
    pair = {"pair": "p", "test_csv": str(test_csv)}
    recs = devsuite.run_matrix([pair], systems, log=lambda s: None, runs=2)
    assert calls == ["bowclf_api", "bowclf_api"]
    assert recs[-1] == {
        "corpus": "p",
        "system": "vw",
        "label": "VW",
        "skipped": "not installed (vowpalwabbit)",
    }
    summ = devsuite.summarize(recs)
    assert summ[("p", "vw")]["failed"] == 0 and summ[("p", "vw")]["skipped"]
    table = devsuite.render(recs, "t")
    assert "skipped: not installed (vowpalwabbit)" in table and "failed" not in table
    assert "Skipped (the score card counts without them): VW: not installed" in table


def test_missing_names_the_uninstalled_library(devsuite, monkeypatch):
    systems = importlib.import_module("bench.systems")  # what devsuite._missing imports
    monkeypatch.setattr(systems, "available", lambda s: s.module != "vowpalwabbit")
    assert devsuite._missing("vw") == "not installed (vowpalwabbit)"
    assert devsuite._missing("fasttext") is None and devsuite._missing("no-such") is None


@pytest.fixture
def population(devsuite):
    import bench.proto_population

    return bench.proto_population


def _read(path):
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [t for _, t in rows], [y for y, _ in rows]


@pytest.mark.parametrize("kind", ["reviews2", "grades5"])
def test_population_pairs_redraw_the_draw_with_a_large_shared_test_set(
    population, devsuite, kind, tmp_path
):
    tr_x, tr_y, _, _ = devsuite.draw_corpus(kind, 1.0, seed=3)
    pairs = population.population_pairs(kind, 3, train_sets=2, test_docs=600, out=tmp_path)
    names = [p["pair"] for p in pairs]
    own = [p for p in pairs if p["pair"].endswith("#own")]
    fresh = [p for p in pairs if not p["pair"].endswith("#own")]
    assert [p["pair"] for p in fresh] == [f"pop/{kind}@3#0", f"pop/{kind}@3#1"]
    assert len({p["test_csv"] for p in pairs}) == 1 and pairs[0]["test_docs"] == 600
    sets = [_read(p["train_csv"]) for p in fresh]
    assert all(len(x) == len(tr_x) for x, _ in sets)
    assert sets[0][0] != sets[1][0]  # disjoint slices of one pool
    # the same lexicon: most of the test set's words are the draw's own words (another
    # draw's test set shares about a third of them)
    vocab = {w for t in tr_x for w in t.split()}
    test_words = [w for t in _read(pairs[0]["test_csv"])[0] for w in t.split()]
    assert sum(w in vocab for w in test_words) / len(test_words) > 0.85
    if kind == "grades5":  # written in order: set 0 is the draw's training set
        assert sets[0] == (tr_x, tr_y) and not own
    else:  # split by share: the draw's own training set is scored too
        assert names[0] == f"pop/{kind}@3#own" and _read(own[0]["train_csv"]) == (tr_x, tr_y)
    # cached: the same pairs without drawing again
    assert population.population_pairs(kind, 3, 2, 600, out=tmp_path) == pairs


def test_population_table_leaves_the_own_set_out_of_the_means(population):
    recs = [
        {"corpus": "pop/k@1#own", "system": "a", "accuracy": 10.0},
        {"corpus": "pop/k@1#0", "system": "a", "accuracy": 60.0},
        {"corpus": "pop/k@1#0", "system": "a", "accuracy": 62.0},
        {"corpus": "pop/k@1#1", "system": "a", "accuracy": 64.0},
        {"corpus": "pop/k@1#own", "system": "b", "accuracy": 90.0},
        {"corpus": "pop/k@1#0", "system": "b", "accuracy": 59.0},
        {"corpus": "pop/k@1#1", "system": "b", "accuracy": 62.0},
        {"corpus": "pop/k@1#1", "system": "b", "error": "RuntimeError: Encountered NaN"},
    ]
    table = population._table(recs, ["a", "b"])
    assert "| pop/k@1#own | 10.00 (n=1) | 90.00 (n=1) |" in table
    assert "| **mean of the disjoint sets** | **62.50** | **60.50** |" in table
    assert "a − b: mean +2.00 (per training set: +2.00, +2.00)" in table
