"""The sklearn-free prediction path (issue 17 item 3): ``persist.load_predictor`` and
:mod:`bowclf.inference` predict exactly as the loaded estimator does, for every loss,
multi-label models, quantised and memory-mapped models; ``bowclf predict`` does not import
scikit-learn; a memory-mapped ``A`` is read (and checked) only where a prediction uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts
from test_persist import build_zip, members, npy, read_npy, variant

from bowclf import TextClassifier, quantize
from bowclf.cli import cli
from bowclf.inference import TextPredictor
from bowclf.persist import ModelFileError, load, load_predictor, save

REPO = Path(__file__).resolve().parents[1]
LOSSES = ["softmax", "ova", "hs"]
KINDS = ["single", "multi"]


def _docs():
    texts, y = make_texts(200, seed=5, noise=0.2)
    sets = [(lab,) + (("extra",) if i % 3 == 0 else ()) for i, lab in enumerate(y)]
    return texts, y, sets


PROBE = _docs()[0][:50] + ["", "zzz qqq unknown words", "   "]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    texts, y, sets = _docs()
    out = {}
    for loss in LOSSES:
        for kind in KINDS:
            model = TextClassifier(dim=8, epochs=2, lr=0.1, loss=loss, random_state=0)
            model.fit(texts, y if kind == "single" else sets)
            out[loss, kind] = save(model, tmp_path_factory.mktemp("m") / f"{loss}-{kind}.bowclf")
    return out


def _assert_same_predictions(model, predictor) -> None:
    """Labels, probabilities and top-k of ``predictor`` equal ``model``'s, exactly."""
    np.testing.assert_array_equal(predictor.classes_, model.classes_)
    assert predictor.multilabel_ == model.multilabel_
    expected, got = model.predict(PROBE), predictor.predict(PROBE)
    if isinstance(expected, list):
        assert got == expected
    else:
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(predictor.predict_proba(PROBE), model.predict_proba(PROBE))
    for k, threshold in [(1, 0.0), (3, 0.0), (2, 0.4)]:
        assert predictor.predict_topk(PROBE, k=k, threshold=threshold) == model.predict_topk(
            PROBE, k=k, threshold=threshold
        )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("kind", KINDS)
def test_load_predictor_predicts_as_the_loaded_estimator(models, loss, kind):
    path = models[loss, kind]
    predictor, header = load_predictor(path)
    assert isinstance(predictor, TextPredictor)
    assert header["kind"] == "TextClassifier"
    _assert_same_predictions(load(path), predictor)


_BAD_TOPK = [(1, 1.5), (1, float("nan")), (1, -0.1), (1, "0.5"), (0, 0.0), (-1, 0.0)]


@pytest.mark.parametrize(("k", "threshold"), [*_BAD_TOPK, (2.5, 0.0), (True, 0)])
def test_every_predict_topk_checks_k_and_threshold_by_one_rule(models, k, threshold):
    """``threshold=1.5`` or NaN gave every document an empty list (no probability reaches
    it) while ``bowclf predict --threshold 1.5`` was refused: now one rule,
    :func:`bowclf.inference.check_topk`, for every model's ``predict_topk``, ``topk_request``
    (the CLI's and the server's) and the CLI's options, with one message."""
    import scipy.sparse as sp

    from bowclf import BowClassifier
    from bowclf.inference import check_topk, topk_request
    from bowclf.io.fasttext import FastTextModel

    with pytest.raises(ValueError) as expected:
        check_topk(k, threshold)
    message = str(expected.value)
    assert message.startswith("'k' must" if threshold == 0 else "'threshold' must")
    bow = BowClassifier(dim=2, epochs=1).fit(sp.csr_array(np.eye(4)), [0, 1, 0, 1])
    calls = [
        lambda: topk_request(k, threshold, n_classes=3, multilabel=False),
        lambda: bow.predict_topk(sp.csr_array(np.eye(4)), k=k, threshold=threshold),
        lambda: FastTextModel.__new__(FastTextModel).predict_topk(["a"], k, threshold),
    ]
    for loss in LOSSES:
        path = models[loss, "single"]
        calls += [
            lambda path=path: load(path).predict_topk(PROBE, k=k, threshold=threshold),
            lambda path=path: load_predictor(path)[0].predict_topk(PROBE, k, threshold),
        ]
    for call in calls:
        with pytest.raises(ValueError) as got:
            call()
        assert str(got.value) == message
    if isinstance(k, int) and not isinstance(k, bool) and not isinstance(threshold, str):
        path = str(models["softmax", "single"])
        result = CliRunner().invoke(
            cli, ["predict", path, "-k", str(k), "--threshold", str(threshold)], input="a\n"
        )
        assert result.exit_code == 2 and message in result.stderr, result.stderr


@pytest.mark.parametrize("loss", LOSSES)
def test_cli_predict_prints_what_the_loaded_estimator_returns(models, loss):
    """The CLI's route (load_predictor) against the API's (load): every loss, -k, --proba."""
    path = models[loss, "single"]
    model = load(path)
    data = "\n".join(PROBE) + "\n"
    result = CliRunner().invoke(cli, ["predict", str(path), "-k", "2", "--format", "jsonl"],
                                input=data)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = model.predict_topk(PROBE, k=2)
    assert [list(zip(r["labels"], r["probabilities"], strict=True)) for r in rows] == expected
    result = CliRunner().invoke(cli, ["predict", str(path)], input=data)
    assert result.stdout.splitlines() == [str(lab) for lab in model.predict(PROBE)]


def test_a_quantized_model_decodes_only_the_rows_it_uses(models, tmp_path):
    small = save(quantize(load(models["softmax", "single"])), tmp_path / "q.bowclf")
    predictor, _ = load_predictor(small)
    lazy = predictor.classifier.lazy_rows
    before = lazy.ready.sum()  # the loader's smoke test predicted two tiny documents
    predictor.predict(["zzz qqq", PROBE[0]])
    assert before < lazy.ready.sum() < lazy.ready.size
    _assert_same_predictions(load(small), predictor)


@pytest.mark.parametrize("key", [("softmax", "single"), ("hs", "single"), ("ova", "multi")])
def test_a_model_with_quantized_output_predicts_as_its_estimator(models, tmp_path, key):
    small = save(quantize(load(models[key]), qout=True), tmp_path / "qout.bowclf")
    predictor, _ = load_predictor(small)
    _assert_same_predictions(load(small), predictor)


@pytest.fixture()
def mapped(monkeypatch):
    """Every stored A is memory-mapped, whatever its size."""
    import bowclf.io.modelfile as modelfile

    monkeypatch.setattr(modelfile, "_MAP_MIN_BYTES", 1)


def test_a_memory_mapped_A_is_checked_where_it_is_used(models, mapped):
    path = models["ova", "single"]
    predictor, _ = load_predictor(path)
    lazy = predictor.classifier.lazy_rows
    assert isinstance(lazy.W, np.memmap)
    before = lazy.ready.sum()
    predictor.predict([PROBE[0]])
    assert before < lazy.ready.sum() < lazy.ready.size
    _assert_same_predictions(load(path), predictor)


def test_a_bad_row_of_a_mapped_A_is_refused_when_used(models, mapped, tmp_path):
    source = models["softmax", "single"].read_bytes()
    model = load(models["softmax", "single"])
    safe = model._features(["zzz qqq", "", "a b"]).indices  # + the loader's smoke test
    row = np.setdiff1d(model._features([PROBE[1]]).indices, safe)[0]
    A = read_npy(members(source)["classifier/A"]).copy()
    A[row] = np.nan
    path = variant(source, tmp_path / "nan.bowclf", replace={"classifier/A": npy(A)})
    with pytest.raises(ModelFileError, match="NaN or infinity"):
        load(path)
    predictor, _ = load_predictor(path)
    predictor.predict(["zzz qqq"])  # its rows are fine
    with pytest.raises(ModelFileError, match=r"nan\.bowclf: inconsistent model file: .*NaN"):
        predictor.predict([PROBE[1]])
    A[row] = np.float32(1e37)
    path = variant(source, tmp_path / "huge.bowclf", replace={"classifier/A": npy(A)})
    result = CliRunner().invoke(cli, ["predict", str(path)], input="zzz qqq\n" + PROBE[1] + "\n")
    assert result.exit_code == 1
    assert "scores overflow" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda h: h["params"].update(tokenizer="bogus"), "tokenizer"),
        (lambda h: h["params"].update(lowercase="yes"), "lowercase"),
        (lambda h: h["params"].update(use_idf=1), "use_idf"),
        (lambda h: h["params"].update(minn=3), "minn"),
        (lambda h: h["classifier"]["params"].update(loss="nope"), "loss"),
        (lambda h: h["classifier"]["params"].update(normalize="l3"), "normalize"),
        (lambda h: h["classifier"]["fitted"].update(class_prior_=[2.0, 0.5]), "class_prior_"),
        (lambda h: h["text"].update(multilabel=True), "multi-label"),
    ],
    ids=["tokenizer", "lowercase", "use_idf", "minn", "loss", "normalize", "prior", "flags"],
)
def test_load_predictor_refuses_what_load_refuses(models, tmp_path, edit, pattern):
    source = models["softmax", "single"].read_bytes()
    path = variant(source, tmp_path / "bad.bowclf", header=edit)
    with pytest.raises(ModelFileError):
        load(path)
    with pytest.raises(ModelFileError, match=pattern):
        load_predictor(path)


def test_bowclf_predict_does_not_import_sklearn(models, tmp_path):
    """Start-up: the CLI predicts one line without importing scikit-learn (about a second)."""
    code = (
        "import sys\n"
        "from bowclf.cli import main\n"
        "sys.argv = ['bowclf', 'predict', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn')\n"
        "print('IMPORTED', bad, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for path in (models["hs", "multi"], models["softmax", "single"]):
        done = subprocess.run([sys.executable, "-c", code, str(path)], input=PROBE[0] + "\n",
                              capture_output=True, text=True, env=env, check=True)  # fmt: skip
        assert done.stdout.strip() in {str(c) for c in load(path).classes_} | {""}
        assert "IMPORTED []" in done.stderr, done.stderr


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_document_scores_the_same_bits_alone_as_in_any_batch(models, loss, kind):
    """What a document gets does not depend on the documents scored with it (the server
    batches concurrent requests): its probabilities, log-probabilities and scores alone, in
    blocks of 2, 3 and 7, and in the whole input are equal bit for bit."""
    model = load(models[loss, kind])
    texts = _docs()[0][:40] * 2
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        whole = getattr(model, method)(texts)
        for size in (1, 2, 3, 7):
            parts = [getattr(model, method)(texts[a : a + size]) for a in range(0, 80, size)]
            np.testing.assert_array_equal(np.vstack(parts), whole, err_msg=f"{method} {size}")
    top = model.predict_topk(texts, k=3)
    assert [model.predict_topk([t], k=3)[0] for t in texts] == top


def test_threaded_hidden_vectors_equal_one_thread(models, monkeypatch):
    """Large inputs are cut into one chunk per core and computed in threads: same result."""
    import bowclf.inference as inference

    predictor, _ = load_predictor(models["softmax", "single"])
    X = predictor.transform_features(_docs()[0] * 3)
    single = np.vstack(list(predictor.classifier.hidden_chunks(X)))
    monkeypatch.setattr(inference, "_PREDICT_THREADS", 3)
    monkeypatch.setattr(inference, "_THREADED_NNZ", 1)
    monkeypatch.setattr(inference, "PREDICT_CHUNK", 50)  # several waves of 3 chunks
    parts = list(predictor.classifier.hidden_chunks(X))
    assert len(parts) == -(-X.shape[0] // 50)
    np.testing.assert_array_equal(np.vstack(parts), single)


def test_long_documents_predict_with_the_inputs_resolved_at_fit(tmp_path):
    """A corpus of long documents resolves ``'auto'`` to l2, sublinear tf and min_df 2; the
    file predictor applies the saved settings, not the ``'auto'`` parameters."""
    texts, y = make_texts(120, seed=3, noise=0.2)
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(400)]
    long_texts = [t + " " + " ".join(rng.choice(vocab, 90)) for t in texts]
    model = TextClassifier(dim=8, epochs=2, random_state=0).fit(long_texts, y)
    assert model.inputs_["sublinear_tf"] is True and model.inputs_["normalize"] == "l2"
    path = save(model, tmp_path / "long.bowclf")
    predictor, _ = load_predictor(path)
    assert predictor.features.sublinear is True and predictor.classifier.normalize == "l2"
    _assert_same_predictions(load(path), predictor)
    probe = long_texts[:20] + ["w1 w1 w1 w1 w2"]
    np.testing.assert_array_equal(predictor.predict_proba(probe), model.predict_proba(probe))


def test_chunks_predicted_ahead_come_out_in_input_order(models, tmp_path):
    """``bowclf predict`` predicts the next chunk on a second thread while writing one: the
    output is the same, in order, as chunk by chunk (and as the API)."""
    path = models["softmax", "single"]
    texts = _docs()[0] * 3
    src = tmp_path / "in.txt"
    src.write_text("".join(t + "\n" for t in texts))
    result = CliRunner().invoke(cli, ["predict", str(path), str(src), "--chunk-size", "7"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(lab) for lab in load(path).predict(texts)]


def test_a_terminal_is_answered_before_the_next_line_is_read():
    from bowclf.cli.predict_command import _in_order

    events = []

    def chunks():
        for i in range(3):
            events.append(f"read {i}")
            yield [str(i)], None

    def rows(texts):
        return texts

    for out in _in_order(chunks(), rows, ahead=0):
        events.append(f"answer {out[0]}")
    assert events == ["read 0", "answer 0", "read 1", "answer 1", "read 2", "answer 2"]
    events.clear()
    assert [r[0] for r in _in_order(chunks(), rows, ahead=1)] == ["0", "1", "2"]


def test_an_error_in_a_chunk_predicted_ahead_reaches_the_caller():
    from bowclf.cli.predict_command import _in_order

    def rows(texts):
        if texts == ["1"]:
            raise ValueError("bad chunk")
        return texts

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for out in _in_order((([str(i)], None) for i in range(4)), rows, ahead=1):
            got.append(out[0])
    assert got == ["0"]


def _param(where: str, **values):
    def edit(h):
        (h["classifier"][where] if where in ("params", "fitted") else h[where]).update(values)

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h["params"].update(lr=-1),
        lambda h: h["params"].update(tokenizer="whitespace", token_pattern="a+"),
        _param("params", lr=0),
        _param("params", optimizer="newton"),
        _param("params", warm_start="no"),
        _param("params", total_examples=0),
        _param("params", class_weight={"a": "heavy"}),
        _param("params", random_state=-1),
        _param("fitted", t_="many"),
        _param("fitted", n_iter_=-1),
        _param("fitted", loss_curve_=["x"]),
        _param("fitted", best_validation_score_=[1]),
        *(
            (lambda h, k=k, v=v: h["params"].update({k: v}))
            for k, v in [
                ("epochs", "forever"),
                ("batch_size", 0),
                ("threshold", 2),
                ("early_stopping", 1),
                ("validation_fraction", 1.0),
                ("n_iter_no_change", 0),
                ("tol", -1),
                ("verbose", -1),
                ("n_jobs", 1.5),
                ("min_count", 0),
                ("max_features", 0),
                ("sublinear_tf", "yes"),
                ("min_df", 0),
                ("prune_features", None),
                ("pretrained_vectors", 3),
                ("normalize", "l3"),
                ("maxn", 2),
                ("token_pattern", "(a+)+$"),
                ("class_weight", "even"),
            ]
        ),  # fmt: skip
    ],
)
def test_both_loaders_refuse_every_header_value_alike(models, tmp_path, edit):
    """Every header value ``fit`` would refuse is refused by :func:`load` and by the predictor
    ``bowclf predict`` loads, with the same one-line message (one sklearn-free check)."""
    path = variant(models["softmax", "single"].read_bytes(), tmp_path / "bad.bowclf", edit)
    with pytest.raises(ModelFileError) as by_load:
        load(path)
    with pytest.raises(ModelFileError) as by_predictor:
        load_predictor(path)
    message = str(by_load.value)
    assert str(by_predictor.value) == message and "\n" not in message
    assert "inconsistent model file" in message or "invalid fitted values" in message
    result = CliRunner().invoke(cli, ["predict", str(path)], input="a b\n")
    assert result.exit_code == 1 and result.stderr.strip().endswith(message)


def test_a_non_finite_header_number_is_refused(models, tmp_path):
    """JSON's 1e999 parses as infinity: no parameter or fitted number may be infinite."""
    source = models["softmax", "single"].read_bytes()
    for key in ('"lr": 0.1', '"tol": 0.0001'):
        items = members(source)
        text = items["header.json"].decode()
        assert key in text
        items["header.json"] = text.replace(key, key.split(":")[0] + ": 1e999").encode()
        path = build_zip(tmp_path / "inf.bowclf", items)
        for loader in (load, load_predictor):
            with pytest.raises(ModelFileError, match=r"implausible (lr|tol) inf"):
                loader(path)


def _probes() -> list:
    return [None, True, False, -1, 0, 1, 2, 3, 16, 17, 33, 2**14, 2**14 + 1, 2**28 + 1,
            2**32, -(2**40), 0.0, 0.5, 1.0, 1.5, -0.5, 1e-9, "auto", "l1", "l2", "l3",
            "softmax", "ova", "hs", "hinge", "sgd", "adagrad", "adaptive", "balanced",
            "default", "whitespace", "x", "\\w+", {}, {"a": 2.0}, [], [1]]  # fmt: skip


@pytest.mark.parametrize("estimator", ["TextClassifier", "BowClassifier"])
def test_header_rules_are_the_estimators_constraints(estimator):
    """The model-file check of each parameter (:mod:`bowclf._limits`, no scikit-learn) accepts
    exactly the JSON values the estimator's ``_parameter_constraints`` accept — except a
    boolean where a number is meant (scikit-learn takes ``True`` as the integer 1; no file
    holds one)."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    import bowclf
    from bowclf._limits import _value_problem

    cls = getattr(bowclf, estimator)
    for key in cls().get_params():
        constraints = cls._parameter_constraints[key]
        booleans = any(c in ("boolean", "verbose") for c in constraints if isinstance(c, str))
        for value in _probes():
            try:
                validate_parameter_constraints({key: constraints}, {key: value}, estimator)
                fit_accepts = not isinstance(value, bool) or booleans
            except (ValueError, TypeError):
                fit_accepts = False
            problem = _value_problem(key, value, text=estimator == "TextClassifier")
            assert (problem is None) == fit_accepts, (key, value, problem)


@pytest.mark.parametrize("sublinear", [False, True])
def test_feature_map_keeps_the_training_columns_and_weights_them(monkeypatch, sublinear):
    """Dropping the columns training did not keep (boolean masks, weights a block at a
    time) gives exactly the entries of a dense reference: empty rows, rows that lose every
    entry and blocks that cut rows included."""
    import scipy.sparse as sp

    from bowclf import _math
    from bowclf.inference import FeatureMap, column_lookup

    rng = np.random.default_rng(7)
    width = 40
    dense = rng.integers(1, 5, (60, width)) * (rng.random((60, width)) < 0.3)
    dense[[0, 17, 59]] = 0
    columns = np.sort(rng.choice(width, 25, replace=False))
    dense[5, :] = 0
    dense[5, np.setdiff1d(np.arange(width), columns)[:3]] = 2  # only dropped columns
    X = sp.csr_array(dense.astype(np.float32))
    idf = rng.uniform(0.5, 3.0, columns.size).astype(np.float32)
    kept = dense[:, columns].astype(np.float32)
    if sublinear:
        kept = np.where(kept > 0, 1 + np.log(np.where(kept > 0, kept, 1)), 0).astype(np.float32)
    want = kept * idf
    for block in (1 << 20, 7):
        monkeypatch.setattr(_math, "_SUM_BLOCK", block)
        got = FeatureMap(columns, column_lookup(columns, width), idf, sublinear)(X)
        assert got.shape == (60, columns.size) and got.has_canonical_format
        np.testing.assert_allclose(got.toarray(), want, rtol=1e-6)
        counts = FeatureMap(columns, column_lookup(columns, width), None, False)(X)
        np.testing.assert_array_equal(counts.toarray(), dense[:, columns])
        assert counts.indptr[6] == counts.indptr[5]  # row 5 lost every entry


def test_topk_of_many_classes_holds_a_block_not_a_chunk_of_probabilities():
    """predict_topk over thousands of classes ranks DECISION_CELLS probabilities at a time
    (8,192 rows × 3,000 classes and top_k's temporaries of that size peaked at 550 MB), agrees
    with predict, and a k past the class count costs its padding, not a ranking of k."""
    import tracemalloc

    import scipy.sparse as sp

    from bowclf import BowClassifier
    from bowclf.text import TextClassifier

    rng = np.random.default_rng(0)
    c = 3000
    X = sp.random_array((2 * c, 50), density=0.1, rng=rng, format="csr")
    model = BowClassifier(dim=4, epochs=1, random_state=0).fit(X, np.repeat(np.arange(c), 2))
    Xt = sp.random_array((8000, 50), density=0.1, rng=rng, format="csr")
    tracemalloc.start()
    try:
        labels, proba = model.predict_topk(Xt, k=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 120 * 2**20, f"{peak / 2**20:.0f} MB"
    np.testing.assert_array_equal(labels[:, 0].astype(np.int64), model.predict(Xt))
    assert (np.diff(proba, axis=1) <= 0).all()
    wide, wide_p = model.predict_topk(Xt[:2], k=c + 5)
    assert wide.shape == (2, c + 5) and (wide[:, c:] == None).all()  # noqa: E711
    assert np.isnan(wide_p[:, c:]).all() and set(wide[0, :c]) == set(range(c))
    text = TextClassifier(epochs=1, random_state=0).fit(["a b", "c d", "a c"], ["x", "y", "x"])
    assert len(text.predict_topk(["a"], k=10**9)[0]) == 2  # up to k: no 10⁹-wide arrays


def test_a_threshold_too_large_for_a_float_is_refused_as_out_of_range():
    """``threshold=10**400`` raised OverflowError (the server answered 500)."""
    from bowclf.inference import check_topk

    with pytest.raises(ValueError, match=r"in \[0, 1\], got 1000.*\.\.\.$"):
        check_topk(1, 10**400)
