"""The benchmarks' "fastText's hyper-parameters" (bench/systems.py ``BOWCLF_FT_PARAMS``) build
fastText's model on long documents too: raw counts, every feature kept, ``l1`` rows — not what
bowclf's ``'auto'`` input rules choose there (sublinear tf, ``min_df=2``)."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bowclf import TextClassifier
from bowclf.cli import cli
from bowclf.persist import load

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def systems(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # ``bench`` is not an installed package
    return importlib.import_module("bench.systems")


def _long_corpus(n=40, words=300, seed=0):
    """Documents of ``words`` tokens (about 150 distinct each: a corpus of *long documents*
    for the 'auto' rules), two classes with different word frequencies, repeated words."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(600)]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        p = np.linspace(1, 2, len(vocab)) if label else np.linspace(2, 1, len(vocab))
        toks = rng.choice(vocab, size=words, p=p / p.sum())
        texts.append(" ".join(toks))
        labels.append(f"c{label}")
    return texts, labels


def test_ft_params_resolve_to_fasttext_inputs_on_long_documents(systems):
    texts, labels = _long_corpus()
    default = TextClassifier(epochs=1, random_state=0).fit(texts, labels)
    # the corpus is long enough for the 'auto' rules to leave fastText's inputs ...
    assert default.inputs_["sublinear_tf"] is True and default.inputs_["min_df"] == 2
    # ... and BOWCLF_FT_PARAMS pins them back
    params = {**systems.BOWCLF_FT_PARAMS, "epochs": 1, "random_state": 0}
    ft = TextClassifier(**params).fit(texts, labels)
    resolved = {k: ft.inputs_[k] for k in systems.FT_INPUTS}
    assert resolved == systems.FT_INPUTS
    assert ft.idf_ is None  # raw counts: no idf, supervised or n-gram weights
    used = systems._used(ft.get_params(), ft.training_summary_)
    assert used["resolved"]["sublinear_tf"] is False and used["resolved"]["min_df"] == 1
    assert used["resolved"]["normalize"] == "l1" and used["resolved"]["ngram_weight"] == 1.0
    assert used["resolved"]["words_per_document"] >= 64 and used["resolved"]["epochs"] == 1


def test_ft_cli_flags_resolve_to_fasttext_inputs(systems, tmp_path):
    texts, labels = _long_corpus()
    train = tmp_path / "train.csv"
    with open(train, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(zip(labels, texts, strict=True))
    model = tmp_path / "m.bowclf"
    flags = systems.cli_flags({**systems.BOWCLF_FT_PARAMS, "epochs": 1, "seed": 0})
    assert "--no-sublinear-tf" in flags and "--no-idf" in flags
    res = CliRunner().invoke(cli, ["fit", str(train), "-o", str(model), "--quiet", *flags])
    assert res.exit_code == 0, res.output
    inputs = load(model).inputs_
    assert {k: inputs[k] for k in systems.FT_INPUTS} == systems.FT_INPUTS


def test_bench_threads_ft_same_is_the_systems_params(systems):
    threads = importlib.import_module("bench.bench_threads")
    assert threads.FT_SAME == systems.cli_flags(systems.BOWCLF_FT_PARAMS)
