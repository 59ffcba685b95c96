"""bowclf.quantize: pruning by embedding norm, product quantisation, retraining, model files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts, write_label_text_csv

import bowclf
from bowclf import TextClassifier, load, save
from bowclf.cli import cli
from bowclf.persist import ModelFileError, info


@pytest.fixture(scope="module")
def data():
    texts, y = make_texts(1500, seed=0)
    test, yt = make_texts(400, seed=1)
    return texts, y, test, yt


@pytest.fixture(scope="module")
def model(data):
    texts, y, _, _ = data
    return TextClassifier(dim=16, buckets=20000, random_state=0).fit(texts, y)


def test_quantize_keeps_accuracy_and_shrinks_the_file(model, data, tmp_path):
    texts, y, test, yt = data
    small = bowclf.quantize(model, cutoff=400, dsub=2)
    assert small.classifier_.A_.shape == (16, 400)
    assert small.score(test, yt) >= model.score(test, yt) - 0.02
    save(model, tmp_path / "full.bowclf")
    save(small, tmp_path / "small.bowclf")
    full_size = (tmp_path / "full.bowclf").stat().st_size
    assert (tmp_path / "small.bowclf").stat().st_size < full_size / 5
    with zipfile.ZipFile(tmp_path / "small.bowclf") as zf:
        names = set(zf.namelist())
    assert "classifier/A" not in names and "classifier/A_codes" in names
    loaded = load(tmp_path / "small.bowclf")
    np.testing.assert_allclose(loaded.predict_proba(test), small.predict_proba(test), atol=1e-6)
    assert info(tmp_path / "small.bowclf")["quantization"]["cutoff"] == 400
    # the model it came from is untouched
    assert model.classifier_.A_.shape[1] > 400 and model.feature_columns_.size > 400


def test_cutoff_keeps_the_largest_norms(model):
    W = model.classifier_.A_
    norms = np.linalg.norm(W, axis=0)
    small = bowclf.quantize(model, cutoff=50, dsub=16)  # one sub-vector of 16
    kept_norms = np.sort(np.linalg.norm(small.classifier_.A_, axis=0))
    # each kept embedding is a centroid close to one of the 50 largest
    assert kept_norms.size == 50
    assert np.isclose(kept_norms[-1], np.sort(norms)[-1], rtol=0.2)
    # exact when there are <= 256 distinct sub-vectors: decoding gives the embeddings back
    exact = np.sort(norms)[-50:]
    np.testing.assert_allclose(kept_norms, exact, rtol=1e-5)


def test_pruned_vocabulary_and_buckets_still_line_up(model, data):
    """Without quantisation error (<= 256 features, one sub-vector each), pruning only drops
    columns: the kept features' scores equal the original model's on the same features."""
    _, _, test, _ = data
    p = model.classifier_.A_.shape[1]
    small = bowclf.quantize(model, cutoff=200, dsub=16)
    keep = np.sort(np.argsort(-np.linalg.norm(model.classifier_.A_, axis=0))[:200])
    X = model._features(test)[:, keep]
    Xs = small._features(test)
    assert Xs.shape[1] == 200 and p > 200
    np.testing.assert_allclose(X.toarray(), Xs.toarray(), rtol=1e-6)


def test_qnorm_and_odd_dsub(model, data, tmp_path):
    _, _, test, yt = data
    small = bowclf.quantize(model, cutoff=300, dsub=3, qnorm=True)  # 16 = 5*3 + 1
    save(small, tmp_path / "q.bowclf")
    loaded = load(tmp_path / "q.bowclf")
    np.testing.assert_allclose(loaded.predict_proba(test), small.predict_proba(test), atol=1e-6)
    assert loaded.score(test, yt) > 0.6
    save(loaded, tmp_path / "again.bowclf")  # a loaded quantised model stays quantised
    with zipfile.ZipFile(tmp_path / "again.bowclf") as zf:
        assert "classifier/A_norm_codes" in zf.namelist()


def test_same_seed_same_file(model, tmp_path):
    for name in ("a", "b"):
        small = bowclf.quantize(model, cutoff=300, random_state=3)
        save(small, tmp_path / f"{name}.bowclf")
    with zipfile.ZipFile(tmp_path / "a.bowclf") as a, zipfile.ZipFile(tmp_path / "b.bowclf") as b:
        assert a.read("classifier/A_codes") == b.read("classifier/A_codes")
        assert a.read("classifier/A_centroids") == b.read("classifier/A_centroids")


def test_retrain_refits_the_output_layer(model, data):
    texts, y, test, yt = data
    plain = bowclf.quantize(model, cutoff=60)
    retrained = bowclf.quantize(model, cutoff=60, retrain=True, X=texts, y=y)
    assert not np.allclose(plain.classifier_.B_, retrained.classifier_.B_)
    assert retrained.score(texts, y) >= plain.score(texts, y) - 0.01
    with pytest.raises(ValueError, match="needs the training"):
        bowclf.quantize(model, retrain=True)


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="cutoff"):
        bowclf.quantize(model, cutoff=0)
    with pytest.raises(ValueError, match="dsub"):
        bowclf.quantize(model, dsub=17)
    with pytest.raises(TypeError):
        bowclf.quantize(TextClassifier())


def test_cli_quantize_predict_info(model, data, tmp_path):
    texts, y, test, yt = data
    save(model, tmp_path / "m.bowclf")
    train = write_label_text_csv(tmp_path / "train.csv", texts, y)
    runner = CliRunner()
    args = ["quantize", str(tmp_path / "m.bowclf"), "-o", str(tmp_path / "s.bowclf")]
    res = runner.invoke(
        cli, [*args, "--cutoff", "300", "--qnorm", "--retrain", "--input", str(train)]
    )
    assert res.exit_code == 0, res.output
    assert "smaller" in res.stderr
    small = load(tmp_path / "s.bowclf")
    res = runner.invoke(cli, ["predict", str(tmp_path / "s.bowclf")], input=test[0] + "\n")
    assert res.exit_code == 0 and res.stdout.strip() == str(small.predict([test[0]])[0])
    res = runner.invoke(cli, ["info", str(tmp_path / "s.bowclf")])
    assert res.exit_code == 0 and "300 columns of A" in res.stdout
    res = runner.invoke(cli, [*args, "--retrain"])
    assert res.exit_code != 0 and "--input" in res.output


def test_hostile_quantized_members(model, tmp_path):
    small = bowclf.quantize(model, cutoff=300)
    save(small, tmp_path / "s.bowclf")
    with zipfile.ZipFile(tmp_path / "s.bowclf") as zf:
        items = {i.filename: zf.read(i) for i in zf.infolist()}
    import json

    header = json.loads(items["header.json"])
    header["arrays"]["classifier/A_codes"]["shape"][1] = 3  # codes for 6 of 16 numbers
    items["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(tmp_path / "bad.bowclf", "w") as zf:
        for name, blob in items.items():
            zf.writestr(name, blob)
    with pytest.raises(ModelFileError):
        load(tmp_path / "bad.bowclf")


def test_commands_exist_when_run_as_a_module():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "bowclf.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "quantize" in out and "convert" in out
