"""The README states what the code does (issue 20 item 16): each claim checked here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bowclf import TextClassifier
from bowclf.cli import fit
from bowclf.losses import get_loss

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_multilabel_threshold_formula():
    assert "`1/(1+max(m, 1))`" in README
    assert "`1/(1+m)`" not in README
    for m, expected in ((0.6, 0.5), (1.0, 0.5), (3.0, 0.25)):
        value, _ = get_loss("softmax").decision_rule(
            None, True, mean_labels=m, every_row_labelled=True
        )
        assert value == expected


def test_python_only_hyper_parameters_are_the_ones_listed():
    """'Every hyper-parameter is an option' was not true: the README lists the exceptions."""
    renamed = {
        "random_state": "seed",
        "n_iter_no_change": "patience",
        "validation_fraction": "valid_fraction",
        "n_jobs": "threads",
    }
    options = {p.name for p in fit.params}
    missing = {
        name for name in TextClassifier().get_params() if renamed.get(name, name) not in options
    }
    match = re.search(r"Python only\s+are (.*?) and a per-class", README, re.S)
    assert match, "the README lists the Python-only parameters"
    listed = set(re.findall(r"`(\w+)`", match.group(1)))
    assert listed == missing
    for name, option in renamed.items():
        assert f"`{name}` is `--{option.replace('_', '-')}`" in README


def test_reuters_recipe_matches_the_benchmark():
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    row = next(
        line
        for line in results.splitlines()
        if line.startswith("| reuters21578 | bowclf (API, ova recipe")
    )
    micro_f1 = float(row.split("|")[3])
    epochs = int(re.search(r"(\d+) epochs", row).group(1))
    claim = re.search(r"reaches a micro-F1 of ([\d.]+) there", README)
    assert claim and float(claim.group(1)) == round(micro_f1, 1)
    assert f"epochs={epochs})" in README and f"--epochs {epochs}`" in README


def test_sample_weights_set_relative_importance():
    """Weights are scaled to mean 1: weights c·1 train exactly like no weights."""
    assert "weights are scaled to a mean of 1 over the training set" in README
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(80)]
    labels = [t.split()[0][-1] in "0123" for t in texts]
    kw = dict(dim=4, epochs=3, buckets=100, random_state=0, lr=0.1)
    weighted = TextClassifier(**kw).fit(texts, labels, sample_weight=np.full(80, 2.0))
    plain = TextClassifier(**kw).fit(texts, labels)
    np.testing.assert_allclose(weighted.classifier_.A_, plain.classifier_.A_, rtol=1e-4, atol=1e-6)
