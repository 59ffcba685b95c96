"""`bowclf predict` prints exactly what the Python API returns (issue 15; issue 20 item 1).

For every loss × single/multi-label × threshold × k, the CLI's JSON Lines output must equal
``model.predict`` (with ``predict_proba`` probabilities) when neither ``-k`` nor
``--threshold`` is given, and ``model.predict_topk`` otherwise; text output must hold the
same labels.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import make_texts

from bowclf import TextClassifier
from bowclf.cli import cli
from bowclf.persist import load, save

LOSSES = ["softmax", "ova"]
KINDS = ["single", "multi"]
THRESHOLDS = [None, 0.0, 0.3]
KS = [None, 1, 3]


def _docs():
    texts, y = make_texts(200, seed=5, noise=0.2)
    texts = [t.replace(",", " ") for t in texts]
    sets = [(lab,) + (("extra",) if i % 3 == 0 else ()) for i, lab in enumerate(y)]
    return texts, y, sets


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Few epochs: many documents have no label reaching 0.5 (the ova case of item 1)."""
    texts, y, sets = _docs()
    out = {}
    for loss in LOSSES:
        for kind in KINDS:
            model = TextClassifier(dim=8, epochs=2, lr=0.1, loss=loss, random_state=0)
            model.fit(texts, y if kind == "single" else sets)
            path = tmp_path_factory.mktemp("agree") / f"{loss}-{kind}.bowclf"
            save(model, path)
            out[loss, kind] = path
    return out


PROBE = _docs()[0][:60] + ["", "zzz qqq unknown words", "   "]


def _run(*args, input=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert result.exit_code == 0, (result.exit_code, result.output, result.stderr)
    return result.stdout


def _api_rows(model, k, threshold):
    if k is None and threshold is None:
        P = model.predict_proba(PROBE)
        column = {c: j for j, c in enumerate(model.classes_.tolist())}
        predicted = model.predict(PROBE)
        if model.multilabel_:
            rows = [list(labels) for labels in predicted]
        else:
            rows = [[label] for label in predicted.tolist()]
        return [[(lab, float(P[i, column[lab]])) for lab in row] for i, row in enumerate(rows)]
    if k is None:
        k = len(model.classes_) if model.multilabel_ else 1
    return [
        [(lab.item() if hasattr(lab, "item") else lab, p) for lab, p in row]
        for row in model.predict_topk(PROBE, k=k, threshold=threshold or 0.0)
    ]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("k", KS)
def test_cli_prints_what_the_api_returns(models, loss, kind, threshold, k):
    path = models[loss, kind]
    model = load(path)
    options = (["-k", k] if k is not None else []) + (
        ["--threshold", threshold] if threshold is not None else []
    )
    data = "\n".join(PROBE) + "\n"
    lines = _run("predict", path, "--format", "jsonl", *options, input=data).splitlines()
    cli_rows = [
        list(zip(r["labels"], r["probabilities"], strict=True)) for r in map(json.loads, lines)
    ]
    expected = _api_rows(model, k, threshold)
    assert cli_rows == expected  # labels and probabilities, exactly
    text = _run("predict", path, *options, input=data).splitlines()
    assert text == [" ".join(str(lab) for lab, _ in row) for row in expected]
    if loss == "ova" and kind == "multi" and k is None and threshold is None:
        assert all(row for row in cli_rows)  # item 1: the fallback label, never an empty set


def test_cli_probabilities_keep_their_digits(models):
    """Issue 20 item 15: 0.9999998 is not printed as 1; JSON Lines keeps small values."""
    from bowclf.cli import _format_p

    assert _format_p(0.9999998) == "0.9999998"
    assert _format_p(1.0) == "1" and _format_p(0.25) == "0.25"
    assert _format_p(3e-12) == "3e-12"
    path = models["softmax", "single"]
    line = _run("predict", path, "--format", "jsonl", "-k", "5", input="zzz\n")
    probabilities = json.loads(line)["probabilities"]
    assert probabilities == [p for _, p in load(path).predict_topk(["zzz"], k=5)[0]]
