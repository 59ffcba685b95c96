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
