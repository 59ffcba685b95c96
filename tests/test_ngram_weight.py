"""TextClassifier's ``ngram_weight``: the 'auto' rule, the weights it makes, every route and
the model file."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest
from conftest import make_texts, write_label_text_csv

from bowclf import TextClassifier, _math, defaults, load, save
from bowclf.auto_rules import resolve_ngram_weight
from bowclf.persist import load_predictor
from bowclf.saved_state import restored_inputs
from bowclf.stream import fit_stream

SHORT_BINARY = {"multilabel": False, "loss": "softmax", "optimizer": "adaptive", "normalize": "l1"}


def _binary(n: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    """Two of the fixture's three topics."""
    texts, labels = make_texts(2 * n, seed=seed)
    kept = [(t, y) for t, y in zip(texts, labels, strict=True) if y != labels[0]]
    return [t for t, _ in kept], [y for _, y in kept]


def test_the_rule_weighs_down_the_short_binary_tasks_only():
    assert resolve_ngram_weight("auto", 2, **SHORT_BINARY) == defaults.BINARY_NGRAM_WEIGHT == 0.7
    for change in [
        {"normalize": "l2"},  # long documents
        {"multilabel": True},  # two independent labels
        {"loss": "ova"},
        {"loss": "hs"},
        {"optimizer": "sgd"},
        {"optimizer": "adagrad"},
    ]:
        assert resolve_ngram_weight("auto", 2, **{**SHORT_BINARY, **change}) == 1.0, change
    assert resolve_ngram_weight("auto", 2, **SHORT_BINARY, use_idf=False) == 1.0  # raw counts
    assert resolve_ngram_weight(0.5, 2, **SHORT_BINARY, use_idf=False) == 0.5
    assert resolve_ngram_weight("auto", 3, **SHORT_BINARY) == 1.0
    assert resolve_ngram_weight("auto", None, **SHORT_BINARY) == 1.0
    assert resolve_ngram_weight(0.25, 5, **SHORT_BINARY) == 0.25  # a number is kept
    assert resolve_ngram_weight(2, 2, **SHORT_BINARY) == 2.0


def test_scaled_weights_formula():
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    hashed = np.array([False, True, False, True])
    got = _math.ngram_scaled_weights(w, hashed, 0.5)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, 1.0, 3.0, 2.0])


def _hashed(model: TextClassifier) -> np.ndarray:
    return model.feature_columns_ >= len(model.vectorizer_.vocabulary_)


def test_binary_fit_scales_the_ngram_weights_and_nothing_else():
    texts, labels = _binary()
    auto = TextClassifier(dim=8, epochs=2, random_state=0).fit(texts, labels)
    plain = TextClassifier(dim=8, epochs=2, random_state=0, ngram_weight=1.0).fit(texts, labels)
    assert auto.inputs_["ngram_weight"] == 0.7 and plain.inputs_["ngram_weight"] == 1.0
    assert auto.training_summary_["ngram_weight"] == 0.7
    hashed = _hashed(auto)
    assert hashed.any() and (~hashed).any()
    np.testing.assert_array_equal(auto.idf_[~hashed], plain.idf_[~hashed])
    expected = (plain.idf_[hashed] * np.float32(0.7)).astype(np.float32)
    np.testing.assert_array_equal(auto.idf_[hashed], expected)


def test_three_classes_multilabel_and_raw_counts_keep_full_weight():
    texts, labels = make_texts(200)
    assert TextClassifier(dim=8, epochs=1).fit(texts, labels).inputs_["ngram_weight"] == 1.0
    sets = [[y] if i % 3 else [y, "extra"] for i, y in enumerate(labels)]
    assert TextClassifier(dim=8, epochs=1).fit(texts, sets).inputs_["ngram_weight"] == 1.0
    two, y2 = _binary(100)
    raw = TextClassifier(dim=8, epochs=1, use_idf=False).fit(two, y2)
    assert raw.inputs_["ngram_weight"] == 1.0 and raw.idf_ is None  # fastText's input


def test_raw_counts_with_an_explicit_weight_round_trip(tmp_path):
    texts, labels = _binary(150)
    model = TextClassifier(dim=8, epochs=2, use_idf=False, ngram_weight=0.5, random_state=0)
    model.fit(texts, labels)
    hashed = _hashed(model)
    np.testing.assert_array_equal(model.idf_, np.where(hashed, 0.5, 1.0).astype(np.float32))
    path = tmp_path / "m.bowclf"
    save(model, path)
    proba = model.predict_proba(texts)
    assert load(path).predict_proba(texts).tobytes() == proba.tobytes()
    predictor = load_predictor(path)
    predictor = predictor[0] if isinstance(predictor, tuple) else predictor
    np.testing.assert_allclose(predictor.predict_proba(texts), proba, rtol=1e-6)
    assert load(path).inputs_["ngram_weight"] == 0.5


def test_out_of_core_weighs_the_features_as_in_memory(tmp_path):
    texts, labels = _binary(200, seed=3)
    params = {"dim": 8, "epochs": 2, "random_state": 0}
    mem = TextClassifier(**params).fit(texts, labels)
    path = write_label_text_csv(tmp_path / "two.csv", texts, labels)
    ooc = fit_stream(TextClassifier(**params), path, block_docs=32, cache_dir=tmp_path)
    assert ooc.inputs_ == mem.inputs_ and ooc.inputs_["ngram_weight"] == 0.7
    np.testing.assert_array_equal(ooc.feature_columns_, mem.feature_columns_)
    assert ooc.idf_.tobytes() == mem.idf_.tobytes()


def test_saved_inputs_without_the_weight_mean_full_weight():
    old = {"normalize": "l1", "sublinear_tf": False, "min_df": 1}
    assert restored_inputs({}, old, "l1")["ngram_weight"] == 1.0
    for bad in [0, -1.0, math.nan, math.inf, True, "0.7", None]:
        with pytest.raises(ValueError, match="ngram_weight"):
            restored_inputs({}, {**old, "ngram_weight": bad}, "l1")


def test_a_file_written_before_the_weight_loads_with_full_weight(tmp_path):
    texts, labels = _binary(150)
    model = TextClassifier(dim=8, epochs=1, ngram_weight=1.0, random_state=0).fit(texts, labels)
    path = tmp_path / "m.bowclf"
    save(model, path)
    old = tmp_path / "old.bowclf"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(".json"):
                header = json.loads(data)
                header["params"].pop("ngram_weight")
                header["text"]["inputs"].pop("ngram_weight")
                data = json.dumps(header).encode()
            dst.writestr(item, data)
    loaded = load(old)
    assert loaded.ngram_weight == 1.0 and loaded.inputs_["ngram_weight"] == 1.0
    assert loaded.predict_proba(texts).tobytes() == model.predict_proba(texts).tobytes()


def test_cli_prints_the_resolved_weight_and_passes_the_option(tmp_path):
    from test_cli import ok, run

    texts, labels = _binary(150)
    data = write_label_text_csv(tmp_path / "two.csv", texts, labels)
    model = tmp_path / "m.bowclf"
    result = ok(run("fit", data, "-o", model, "--dim", "8", "--epochs", "1"))
    assert "min_df 1, ngram_weight 0.7 (" in result.stderr
    info = ok(run("info", model)).stdout
    assert "ngram_weight 0.7" in info and "ngram_weight=auto (0.7)" in info
    result = ok(run("fit", data, "-o", model, "--dim", "8", "--epochs", "1",
                    "--ngram-weight", "0.4"))  # fmt: skip
    assert "ngram_weight 0.4 (" in result.stderr and load(model).ngram_weight == 0.4
    bad = run("fit", data, "-o", model, "--ngram-weight", "0")
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_a_weighted_raw_count_file_without_its_weights_is_refused(tmp_path):
    from bowclf.persist import ModelFileError

    texts, labels = _binary(100)
    model = TextClassifier(dim=8, epochs=1, use_idf=False, ngram_weight=0.5, random_state=0)
    path = tmp_path / "m.bowclf"
    save(model.fit(texts, labels), path)
    broken = tmp_path / "broken.bowclf"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            if item.filename.startswith("text/idf"):
                continue
            data = src.read(item)
            if item.filename == "header.json":
                header = json.loads(data)
                del header["arrays"]["text/idf"]
                data = json.dumps(header).encode()
            dst.writestr(item, data)
    for loader in (load, load_predictor):
        with pytest.raises(ModelFileError, match="ngram_weight other than 1 without its"):
            loader(broken)
