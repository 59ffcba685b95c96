"""bowclf.quantize: pruning by embedding norm, product quantisation, retraining, model files."""

from __future__ import annotations

import tracemalloc
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts, write_label_text_csv, write_named_columns_csv

import bowclf
from bowclf import TextClassifier, load, save
from bowclf.cli import cli
from bowclf.persist import ModelFileError, info, load_predictor


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
    with pytest.raises(ValueError, match="cutoff must be a positive integer"):
        bowclf.quantize(model, cutoff=True)  # was read as cutoff 1
    small = bowclf.quantize(model, cutoff=np.int64(500), dsub=np.int64(4))  # were refused
    assert small.classifier_.A_.shape[1] == 500
    with pytest.raises(ValueError, match="quantised already"):
        bowclf.quantize(small)


def test_options_that_make_no_sense_are_refused_before_any_work(model, data, tmp_path):
    """quantize --retrain on hs (it crashed: an IndexError), --input without --retrain
    (ignored), a quantised model (k-means again on its decoded codes), a multi-label model
    with --retrain (refused only after reading the corpus, with a wrong reason); a cutoff of
    every feature prunes nothing and the file says no cutoff."""
    texts, y, _, _ = data
    train = write_label_text_csv(tmp_path / "t.csv", texts, y)
    hs = save(TextClassifier(loss="hs", dim=8, epochs=2, random_state=0).fit(texts, y),
              tmp_path / "hs.bowclf")  # fmt: skip
    plain = save(model, tmp_path / "m.bowclf")
    quantized = save(bowclf.quantize(model), tmp_path / "q.bowclf")
    runner = CliRunner()
    for args, code, message in [
        ([hs, "--retrain", "--input", train], 1, "retrain is for softmax and ova models"),
        ([plain, "--input", train], 2, "--input is the training corpus of --retrain"),
        ([quantized], 1, "quantised already"),
    ]:
        res = runner.invoke(cli, ["quantize", str(args[0]), "-o", str(tmp_path / "o.bowclf"),
                                  *map(str, args[1:])])  # fmt: skip
        assert res.exit_code == code and message in res.output, res.output
        assert "Traceback" not in res.output
    wide = bowclf.quantize(model, cutoff=10**6)
    assert info(save(wide, tmp_path / "w.bowclf"))["quantization"]["cutoff"] is None


def test_cli_quantize_retrains_on_a_corpus_read_as_fit_read_it(tmp_path):
    """--retrain --input reads the corpus with fit's remembered columns, as evaluate does
    (it ignored them: "no label column found" for a corpus fit read with --text-column)."""
    corpus = write_named_columns_csv(tmp_path / "t.csv", repeat=40)
    model = tmp_path / "m.bowclf"
    runner = CliRunner()
    res = runner.invoke(cli, ["fit", str(corpus), "--text-column", "msg", "--label-column",
                              "cat", "--dim", "8", "-q", "-o", str(model)])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["quantize", str(model), "-o", str(tmp_path / "s.bowclf"),
                              "--cutoff", "8", "--retrain", "--input", str(corpus)])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["evaluate", str(tmp_path / "s.bowclf"), str(corpus), "--json"])
    assert res.exit_code == 0, res.output


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


def test_quantize_keeps_how_fit_read_the_corpus(tmp_path):
    """predict/evaluate read a test file as fit read its corpus; the small copy must too."""
    corpus = write_named_columns_csv(tmp_path / "m.csv")
    runner = CliRunner()
    big, small = tmp_path / "m.bowclf", tmp_path / "q.bowclf"
    args = ["fit", "-q", str(corpus), "--text-column", "msg", "--label-column", "cat"]
    assert runner.invoke(cli, [*args, "-o", str(big)]).exit_code == 0
    res = runner.invoke(cli, ["quantize", str(big), "-o", str(small)])
    assert res.exit_code == 0, res.output
    assert "larger" in res.stderr  # a tiny model grows: the codebooks outweigh it
    assert info(small)["text"]["corpus"] == info(big)["text"]["corpus"]
    for command in (["predict", str(small), str(corpus)], ["evaluate", str(small), str(corpus)]):
        res = runner.invoke(cli, command)
        assert res.exit_code == 0, res.output


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


def test_codebooks_wider_than_the_matrix_are_refused_before_decoding(model, tmp_path):
    """One sub-quantiser of 250,000 numbers "makes" any width: a 20-kB file would decode to
    gigabytes (rows × dsub) before the cut to the real width.  Refused from the manifest."""
    small = bowclf.quantize(model, cutoff=300)
    save(small, tmp_path / "s.bowclf")
    rows, dsub = 300, 250_000

    def one_huge_codebook(h):
        h["arrays"]["classifier/A_codes"]["shape"] = [rows, 1]
        h["arrays"]["classifier/A_centroids"]["shape"] = [1, 1, dsub]

    bad = _rewrite(
        tmp_path / "s.bowclf",
        tmp_path / "wide.bowclf",
        header=one_huge_codebook,
        members={
            "classifier/A_codes": _npy(np.zeros((rows, 1), np.uint8)),
            "classifier/A_centroids": _npy(np.zeros((1, 1, dsub), np.float32)),
        },
    )
    tracemalloc.start()
    try:
        for read in (info, load, load_predictor):
            with pytest.raises(ModelFileError, match="sub-quantisers of 250000 cannot make"):
                read(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20


def test_commands_exist_when_run_as_a_module():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "bowclf.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "quantize" in out and "convert" in out


# ---------------------------------------------------------------------- qout: quantised B
def _rewrite(src, dst, *, header=None, members=None, drop=()):
    """A copy of model file ``src`` with its header edited by ``header(h)`` and members
    replaced (name -> bytes) or dropped."""
    import json

    with zipfile.ZipFile(src) as zf:
        items = {i.filename: zf.read(i) for i in zf.infolist()}
    if header is not None:
        h = json.loads(items["header.json"])
        header(h)
        items["header.json"] = json.dumps(h).encode()
    items.update(members or {})
    with zipfile.ZipFile(dst, "w") as zf:
        for name, blob in items.items():
            if name not in drop:
                zf.writestr(name, blob)
    return dst


def _npy(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def test_qout_round_trip_is_exact_for_few_classes(model, data, tmp_path):
    _, _, test, _ = data
    plain = bowclf.quantize(model, cutoff=300)
    small = bowclf.quantize(model, cutoff=300, qout=True)
    # up to 256 rows: every sub-vector of B is its own centroid, so B comes back exactly
    np.testing.assert_array_equal(small.classifier_.B_, model.classifier_.B_)
    np.testing.assert_array_equal(small.classifier_.A_, plain.classifier_.A_)  # same A codes
    save(small, tmp_path / "q.bowclf")
    with zipfile.ZipFile(tmp_path / "q.bowclf") as zf:
        names = set(zf.namelist())
        cents = np.load(zf.open("classifier/B_centroids"))
    assert {"classifier/B_codes", "classifier/B_centroids"} <= names
    assert "classifier/B" not in names and "classifier/A" not in names
    c = model.classifier_.B_.shape[0]
    assert cents.shape == (8, c, 2)  # dim 16 in sub-vectors of 2, one centroid per class
    loaded = load(tmp_path / "q.bowclf")
    np.testing.assert_array_equal(loaded.classifier_.B_, model.classifier_.B_)
    np.testing.assert_allclose(loaded.predict_proba(test), plain.predict_proba(test), atol=1e-6)
    save(loaded, tmp_path / "again.bowclf")  # a loaded model stays quantised
    with zipfile.ZipFile(tmp_path / "again.bowclf") as zf:
        assert "classifier/B_codes" in zf.namelist()


@pytest.fixture(scope="module")
def many_classes():
    """A model with 300 classes: B has more rows than a codebook has centroids."""
    rng = np.random.RandomState(0)
    labels = [f"c{i}" for i in range(300)]
    y = [labels[i % 300] for i in range(3000)]
    texts = [f"w{lab} w{lab}b " + " ".join(f"n{k}" for k in rng.randint(0, 50, 3)) for lab in y]
    clf = TextClassifier(dim=8, buckets=2000, epochs=10, random_state=0).fit(texts, y)
    return clf, texts, y


def test_qout_quantises_a_large_output_matrix_closely(many_classes, tmp_path):
    clf, texts, y = many_classes
    plain = bowclf.quantize(clf)
    small = bowclf.quantize(clf, qout=True, qnorm=True)
    B, Bq = clf.classifier_.B_, small.classifier_.B_
    assert Bq.shape == B.shape == (300, 8) and not np.array_equal(Bq, B)
    assert np.linalg.norm(Bq - B) < 0.2 * np.linalg.norm(B)
    probe = texts[:600]
    agree = np.mean(small.predict(probe) == plain.predict(probe))
    assert agree >= 0.9
    assert small.score(probe, y[:600]) >= plain.score(probe, y[:600]) - 0.05
    save(small, tmp_path / "q.bowclf")
    with zipfile.ZipFile(tmp_path / "q.bowclf") as zf:
        assert np.load(zf.open("classifier/B_centroids")).shape == (4, 256, 2)
        assert np.load(zf.open("classifier/B_norm_centroids")).shape == (256,)
    loaded = load(tmp_path / "q.bowclf")
    np.testing.assert_array_equal(loaded.classifier_.B_, Bq)
    np.testing.assert_allclose(loaded.predict_proba(probe), small.predict_proba(probe), atol=1e-6)


def test_qout_hierarchical_softmax_quantises_the_inner_nodes(data, tmp_path):
    texts, y, test, _ = data
    hs = TextClassifier(dim=16, buckets=20000, loss="hs", random_state=0).fit(texts, y)
    c = len(hs.classes_)
    small = bowclf.quantize(hs, cutoff=300, qout=True)
    assert small.classifier_.B_.shape == (c - 1, 16)
    np.testing.assert_array_equal(small.classifier_.B_, hs.classifier_.B_)
    save(small, tmp_path / "hs.bowclf")
    with zipfile.ZipFile(tmp_path / "hs.bowclf") as zf:
        assert np.load(zf.open("classifier/B_codes")).shape == (c - 1, 8)
    loaded = load(tmp_path / "hs.bowclf")
    np.testing.assert_allclose(loaded.predict_proba(test), small.predict_proba(test), atol=1e-6)
    assert list(loaded.predict(test)) == list(small.predict(test))


@pytest.fixture(scope="module")
def qout_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("qout") / "q.bowclf"
    save(bowclf.quantize(model, cutoff=300, qout=True, qnorm=True), path)
    return path


def _one_line_error(path, match: str) -> None:
    with pytest.raises(ModelFileError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert match in message, message


def test_truncated_b_codes_are_refused(qout_file, tmp_path):
    with zipfile.ZipFile(qout_file) as zf:
        blob = zf.read("classifier/B_codes")
    bad = _rewrite(qout_file, tmp_path / "t.bowclf", members={"classifier/B_codes": blob[:-5]})
    _one_line_error(bad, "'classifier/B_codes' is truncated")
    bad = _rewrite(qout_file, tmp_path / "m.bowclf", drop={"classifier/B_centroids"})
    _one_line_error(bad, "missing member 'classifier/B_centroids'")


def test_hostile_b_codes_are_refused(qout_file, tmp_path):
    with zipfile.ZipFile(qout_file) as zf:
        codes = np.load(zf.open("classifier/B_codes"))
        norm_codes = np.load(zf.open("classifier/B_norm_codes"))
        B_header = zf.read("classifier/B_codes")
    ksub = codes.max() + 1  # few classes: the codebooks hold one centroid per class
    outside = codes.copy()
    outside[0, 0] = 255
    bad = _rewrite(qout_file, tmp_path / "o.bowclf", members={"classifier/B_codes": _npy(outside)})
    _one_line_error(bad, "outside its codebook")
    norm_outside = norm_codes.copy()
    norm_outside[-1] = ksub
    bad = _rewrite(
        qout_file, tmp_path / "n.bowclf", members={"classifier/B_norm_codes": _npy(norm_outside)}
    )
    _one_line_error(bad, "outside its codebook")

    def fewer_rows(h):
        h["arrays"]["classifier/B_codes"]["shape"][0] -= 1

    short = _npy(codes[:-1])
    bad = _rewrite(
        qout_file, tmp_path / "r.bowclf", header=fewer_rows, members={"classifier/B_codes": short}
    )
    _one_line_error(bad, "B has")
    # a dense B beside its codes, and codes of the wrong dtype
    bad = _rewrite(qout_file, tmp_path / "d.bowclf", members={"classifier/B": B_header})
    _one_line_error(bad, "unexpected member 'classifier/B'")

    with zipfile.ZipFile(qout_file) as zf:
        cents = np.load(zf.open("classifier/B_centroids"))
    nan = cents.copy()
    nan[0, 0, 0] = np.nan
    bad = _rewrite(
        qout_file, tmp_path / "nan.bowclf", members={"classifier/B_centroids": _npy(nan)}
    )
    _one_line_error(bad, "centroids finite")


def test_both_matrices_quantised_take_their_width_from_the_header(qout_file, tmp_path):
    def no_dim(h):
        h["classifier"]["params"]["dim"] = None

    _one_line_error(_rewrite(qout_file, tmp_path / "x.bowclf", header=no_dim), "dim")

    def too_wide(h):
        h["classifier"]["params"]["dim"] = 17  # 8 sub-vectors of 2 make at most 16 numbers

    _one_line_error(_rewrite(qout_file, tmp_path / "y.bowclf", header=too_wide), "width 17")


def test_decoded_size_counts_against_available_memory(qout_file, monkeypatch):
    from bowclf.io import modelfile
    from bowclf.io.quantized import decoded_bytes

    header = info(qout_file)
    manifest = {k: v for k, v in header["arrays"].items() if "decoded_from" not in v}
    decoded = decoded_bytes(manifest)
    assert decoded == 4 * 16 * (300 + header["arrays"]["classifier/B"]["shape"][0])
    stored = modelfile._memory_needed({**header, "arrays": manifest}) - decoded
    monkeypatch.setattr(modelfile, "_available_memory", lambda: stored + decoded // 2)
    _one_line_error(qout_file, "memory")


def test_cli_qout_and_info(model, data, tmp_path):
    _, _, test, _ = data
    save(model, tmp_path / "m.bowclf")
    runner = CliRunner()
    out = tmp_path / "s.bowclf"
    res = runner.invoke(cli, ["quantize", str(tmp_path / "m.bowclf"), "-o", str(out), "--qout"])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as zf:
        assert "classifier/B_codes" in zf.namelist()
    small = load(out)
    res = runner.invoke(cli, ["predict", str(out)], input="\n".join(test[:5]) + "\n")
    assert res.exit_code == 0 and res.stdout.split() == [str(v) for v in small.predict(test[:5])]
    res = runner.invoke(cli, ["info", str(out)])
    assert res.exit_code == 0, res.output
    line = next(s for s in res.stdout.splitlines() if s.startswith("Quantised:"))
    assert "B (" in line and "B dense" not in line and "A (" in line
    plain = tmp_path / "p.bowclf"
    res = runner.invoke(cli, ["quantize", str(tmp_path / "m.bowclf"), "-o", str(plain)])
    res = runner.invoke(cli, ["info", str(plain)])
    assert "B dense" in res.stdout
    res = runner.invoke(cli, ["info", str(tmp_path / "m.bowclf")])
    assert "Quantised" not in res.stdout


# ---------------------------------------------------------------------- estimators own the state
def _reference_small(model, keep, members, settings):
    """How quantize built its model before the estimators owned it (attributes set from
    outside, kept here only as the reference the new construction must match byte for byte)."""
    import copy

    from bowclf.io.quantized import decode_quantized

    small = copy.copy(model)
    clf = copy.copy(model.classifier_)
    small.classifier_ = clf
    clf.n_features_in_ = int(keep.size)
    clf.B_ = np.array(model.classifier_.B_, copy=True)
    columns = keep if model.feature_columns_ is None else model.feature_columns_[keep]
    state = model.vectorizer_.get_fitted_state()
    n_words = state["words"].size
    is_word = columns < n_words
    word_cols = columns[is_word]
    new_vec = model._make_vectorizer()
    new_vec.set_fitted_state(
        {
            **state,
            "words": state["words"][word_cols],
            "word_counts": state["word_counts"][word_cols],
        }
    )
    small.vectorizer_ = new_vec
    new_columns = np.concatenate(
        [np.arange(int(is_word.sum())), word_cols.size + (columns[~is_word] - n_words)]
    )
    small._set_columns(new_columns.astype(np.int64), int(new_vec.n_features_out_))
    if model.idf_ is not None:
        small.idf_ = np.asarray(model.idf_)[keep]
    dim = model.classifier_.A_.shape[0]
    A = decode_quantized({f"A_{k}": v for k, v in members.items()}, "A", dim)
    clf.A_ = np.ascontiguousarray(A.T)
    small._quantized = {"settings": settings, "A": members}
    return small


@pytest.mark.parametrize("kwargs", [{"cutoff": 300}, {"cutoff": 250, "qnorm": True, "dsub": 3}])
def test_same_file_as_the_attribute_setting_construction(model, tmp_path, kwargs):
    small = bowclf.quantize(model, random_state=5, **kwargs)
    W = model.classifier_.A_
    keep = np.argpartition(-np.linalg.norm(W, axis=0), kwargs["cutoff"] - 1)
    keep = np.sort(keep[: kwargs["cutoff"]])
    settings = {"cutoff": kwargs["cutoff"], "dsub": kwargs.get("dsub", 2)}
    settings |= {"qnorm": kwargs.get("qnorm", False), "retrained": False}
    reference = _reference_small(model, keep, small._quantized["A"], settings)
    save(small, tmp_path / "new.bowclf")
    save(reference, tmp_path / "old.bowclf")
    assert (tmp_path / "new.bowclf").read_bytes() == (tmp_path / "old.bowclf").read_bytes()
    again = bowclf.quantize(model, random_state=5, **kwargs)
    save(again, tmp_path / "again.bowclf")
    assert (tmp_path / "again.bowclf").read_bytes() == (tmp_path / "new.bowclf").read_bytes()


def test_quantize_sets_no_fitted_attribute_from_outside():
    import ast
    import inspect

    import bowclf.quantization as q

    for node in ast.walk(ast.parse(inspect.getsource(q))):
        targets = node.targets if isinstance(node, ast.Assign) else []
        targets += [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
        for target in targets:
            assert not isinstance(target, ast.Attribute), ast.unparse(target)
        if isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "setattr",
            "object.__setattr__",
        ):
            raise AssertionError(ast.unparse(node))


def test_small_model_shares_no_state_with_the_original(model, data):
    texts, y, test, _ = data
    before = model.predict_proba(test[:50])
    curve = list(model.classifier_.loss_curve_)
    small = bowclf.quantize(model, cutoff=300)
    small.classifier_.partial_fit(small._features(texts[:100]), y[:100])
    assert model.classifier_.loss_curve_ == curve
    np.testing.assert_array_equal(model.predict_proba(test[:50]), before)


def test_adaptive_optimizer_accumulators_follow_the_kept_features(data, tmp_path):
    texts, y, test, _ = data
    m = TextClassifier(dim=8, buckets=5000, optimizer="adagrad", random_state=0).fit(texts, y)
    small = bowclf.quantize(m, cutoff=100)
    acc = small.classifier_.optimizer_state_["A_accumulator"]
    assert acc.shape == (100,)
    save(small, tmp_path / "a.bowclf")  # loads: the accumulator has one entry per kept feature
    np.testing.assert_allclose(
        load(tmp_path / "a.bowclf").predict_proba(test), small.predict_proba(test), atol=1e-6
    )


def test_a_quantised_model_trained_further_is_saved_dense(model, data, tmp_path):
    texts, y, test, _ = data
    small = bowclf.quantize(model, cutoff=300, qout=True)
    small.classifier_.partial_fit(small._features(texts[:200]), y[:200])
    save(small, tmp_path / "d.bowclf")
    with zipfile.ZipFile(tmp_path / "d.bowclf") as zf:
        names = set(zf.namelist())
    assert "classifier/A" in names and "classifier/A_codes" not in names
    assert "classifier/B" in names and "classifier/B_codes" not in names
    loaded = load(tmp_path / "d.bowclf")
    np.testing.assert_allclose(loaded.predict_proba(test), small.predict_proba(test), atol=1e-6)


def test_info_of_a_quantized_model_shows_what_the_file_holds(model, tmp_path):
    """``bowclf info``: the vocabulary and columns the quantised file holds, the training
    corpus's sizes only as before quantisation, and the resolved 'auto' input settings."""
    small = bowclf.quantize(model, cutoff=50, dsub=16)
    save(small, tmp_path / "small.bowclf")
    out = CliRunner().invoke(cli, ["info", str(tmp_path / "small.bowclf")]).stdout
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines()}
    words = len(small.vectorizer_.vocabulary_)
    trained = model.training_summary_
    assert words < trained["vocabulary"]
    assert lines["Vocabulary"] == f"{words:,} words"
    assert lines["Features"].startswith("50 columns of A")
    assert f"vocabulary {trained['vocabulary']}," not in lines["Training"]
    assert lines["Training"].endswith(
        f"before quantisation vocabulary {trained['vocabulary']} and columns {trained['columns']}"
    )
    inputs = small.inputs_
    assert lines["Inputs"] == (
        f"normalize {inputs['normalize']}, sublinear_tf {inputs['sublinear_tf']}, "
        f"min_df {inputs['min_df']}, ngram_weight {inputs['ngram_weight']}"
    )
    params = lines["Parameters"].split(", ")
    assert small.normalize == "auto" and f"normalize=auto ({inputs['normalize']})" in params
    assert f"min_df=auto ({inputs['min_df']})" in params and "normalize=auto" not in params
    assert "normalize" not in lines["Training"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.update(quantization=[1]), "quantization entry is not valid"),
        (lambda h: h["quantization"].update(cutoff=0), "quantization entry is not valid"),
        (lambda h: h["quantization"].update(extra=1), "quantization entry is not valid"),
        (lambda h: h["params"].update(dim=8), "params say dim 8"),
    ],
)
def test_every_reader_checks_the_header_alike(model, tmp_path, edit, message):
    """info and load_predictor (predict) accepted a quantisation record that bowclf.load
    refused, and a params dim its matrices contradict; now the header check refuses both for
    every reader."""
    quantized = "quantization" in message
    good = save(bowclf.quantize(model, cutoff=300) if quantized else model, tmp_path / "g.bowclf")
    bad = _rewrite(good, tmp_path / "bad.bowclf", header=edit)
    for read in (info, load_predictor, load):
        with pytest.raises(ModelFileError, match=message):
            read(bad)
    res = CliRunner().invoke(cli, ["predict", str(bad), "-"], input="a document\n")
    assert res.exit_code == 1 and message.split(" (")[0] in res.stderr
