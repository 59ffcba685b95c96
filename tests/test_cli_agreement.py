"""`bowclf predict` prints exactly what the Python API returns (issue 15; issue 20 item 1).

For every loss × single/multi-label × threshold × k, the CLI's JSON Lines output must equal
``model.predict`` (with ``predict_proba`` probabilities) when neither ``-k`` nor
``--threshold`` is given, and ``model.predict_topk`` otherwise; text output must hold the
same labels.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts

from bowclf import TextClassifier
from bowclf.cli import _format_p, cli
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


def test_many_classes_predict_in_bounded_chunks(models, monkeypatch):
    """Issue 20 item 10: one chunk's n×c probabilities stay bounded whatever c (and -k uses
    argpartition, not a full sort); chunking never changes the output."""
    import bowclf.cli.predict_command as cli_module

    class Model:
        classes_ = list(range(100_000))

    assert cli_module._chunk_limit(Model(), 10_000) == 2**24 // 100_000
    path = models["softmax", "multi"]
    data = "\n".join(PROBE) + "\n"
    whole = _run("predict", path, "--format", "jsonl", "-k", "2", input=data).splitlines()
    monkeypatch.setattr(cli_module, "_PROBA_CELLS", 7)  # 7 // c = 1 document per chunk
    chunked = _run("predict", path, "--format", "jsonl", "-k", "2", input=data).splitlines()
    assert len(chunked) == len(whole) == len(PROBE)
    for a, b in zip(map(json.loads, whole), map(json.loads, chunked), strict=True):
        # BLAS blocking differs with the batch size: the last bits of a probability may too
        np.testing.assert_allclose(a["probabilities"], b["probabilities"], rtol=1e-6)
        if abs(a["probabilities"][0] - a["probabilities"][1]) > 1e-6:
            assert a["labels"] == b["labels"]


def test_top_k_matches_a_stable_sort():
    from bowclf._math import top_k

    rng = np.random.default_rng(1)
    P = rng.random((50, 500))
    P[:, 40:60] = P[:, [7]]  # ties straddling the k-th place
    for k in (1, 3, 20, 499, 500, 600):
        expected = np.argsort(-P, axis=1, kind="stable")[:, :k]
        assert np.array_equal(top_k(P, k), expected)


def test_labels_with_control_characters_stay_on_one_line(tmp_path):
    """Issue 20 item 12: a model trained in Python on a label with a tab or line break prints
    it escaped in text output (csv/tsv/jsonl quote it), one line per document."""
    texts, y, _ = _docs()
    labels = [lab if lab != y[0] else "two\nlines" for lab in y]
    model = TextClassifier(dim=4, epochs=3, random_state=0).fit(texts, labels)
    path = save(model, tmp_path / "ctl.bowclf")
    out = _run("predict", path, input="\n".join(texts[:30]) + "\n").splitlines()
    assert len(out) == 30
    assert "two\nlines" in model.predict(texts[:30]).tolist()
    assert "two\\nlines" in out
    data = "\n".join(texts[:30]) + "\n"
    lines = _run("predict", path, "--format", "jsonl", input=data).splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["labels"][0] for r in rows] == model.predict(texts[:30]).tolist()


def test_full_cache_dir_message():
    """Issue 20 item 14: numpy's short-write OSError becomes an intelligible line."""
    from bowclf.cli import _one_line

    line = _one_line(OSError("187345 requested and 0 written"))
    assert "OSError" not in line and "--cache-dir full" in line


def test_full_cache_dir_names_the_directory(tmp_path, monkeypatch):
    """Issue 20 item 14: a token cache that cannot be written names --cache-dir."""
    import bowclf.stream

    def full(*args, **kwargs):
        raise OSError("187345 requested and 0 written")

    monkeypatch.setattr(bowclf.stream, "fit_stream", full)
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\na,x y\nb,y z\n", encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    result = CliRunner().invoke(
        cli, ["fit", str(corpus), "--stream", "--cache-dir", str(cache), "-q"]
    )
    assert result.exit_code == 1
    assert f"{cache}: cannot write the token cache" in result.output
    assert "Traceback" not in result.output and "OSError" not in result.output


@pytest.fixture(scope="module")
def hs_model(tmp_path_factory):
    texts, y, _ = _docs()
    model = TextClassifier(dim=8, epochs=2, lr=0.1, loss="hs", random_state=0).fit(texts, y)
    return save(model, tmp_path_factory.mktemp("hs") / "hs.bowclf")


def test_hs_proba_without_k_takes_the_top_label_from_the_search(hs_model, monkeypatch):
    """Hierarchical softmax, ``--proba`` without ``-k``: the predicted label and its
    probability come from the exact top-1 search — exactly ``predict_topk(k=1)``, whose labels
    are ``predict``'s — and no documents × classes probabilities are computed."""
    from bowclf.inference import TextPredictor

    model = load(hs_model)
    expected = [[(str(lab), p) for lab, p in row] for row in model.predict_topk(PROBE, k=1)]
    assert [row[0][0] for row in expected] == model.predict(PROBE).tolist()
    P = model.predict_proba(PROBE)
    column = {c: j for j, c in enumerate(model.classes_.tolist())}
    np.testing.assert_allclose(
        [p for (lab, p), in expected], [P[i, column[row[0][0]]] for i, row in enumerate(expected)],
        rtol=1e-9,
    )  # fmt: skip

    real, sizes = TextPredictor.predict_proba, []

    def every_class(self, X):
        sizes.append(len(X))
        return real(self, X)

    monkeypatch.setattr(TextPredictor, "predict_proba", every_class)
    data = "\n".join(PROBE) + "\n"
    lines = _run("predict", hs_model, "--format", "jsonl", input=data).splitlines()
    rows = [list(zip(r["labels"], r["probabilities"], strict=True)) for r in map(json.loads, lines)]
    assert rows == expected
    text = _run("predict", hs_model, "--proba", input=data).splitlines()
    assert text == [f"{lab} {_format_p(p)}" for ((lab, p),) in expected]


def test_hs_top_k_of_a_featureless_document_gives_each_label_its_probability(hs_model, tmp_path):
    """A document with no known feature gets its labels by training frequency (as predict
    picks its label); under hierarchical softmax their probabilities differ (by depth in the
    tree) and each label is shown with its own.  Here the frequencies (a file's class_prior_)
    rank the labels against the tree's depths."""
    from test_persist import variant

    def reverse_prior(h):
        h["classifier"]["fitted"]["class_prior_"] = [0.2, 0.3, 0.5]

    path = variant(hs_model.read_bytes(), tmp_path / "prior.bowclf", header=reverse_prior)
    model = load(path)
    P = model.predict_proba([""])[0]
    assert P[2] < P.max()  # the most frequent label is not the shallowest
    column = {c: j for j, c in enumerate(model.classes_.tolist())}
    for k in (1, 2, 3):
        row = model.predict_topk([""], k=k)[0]
        assert row[0][0] == model.predict([""])[0] == model.classes_[2]
        assert [p for _, p in row] == [P[column[lab]] for lab, _ in row]
    line = _run("predict", path, "--format", "jsonl", input="\n")
    assert json.loads(line) == {"labels": [model.classes_[2]], "probabilities": [P[2]]}
