"""fastText ``.bin``/``.ftz`` models run by bowclf: exact agreement, CLI, hostile files.

Reference models are trained here with the ``fasttext`` package (test extra).  They are trained
with ``thread=12``: fastText initialises only ``thread/10`` of the input matrix when
``thread < 10`` (``DenseMatrix::uniform``), and the uninitialised rest of a small matrix makes
its training fail with "Encountered NaN" or save NaN rows.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts, write_label_text_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bowclf.cli import cli
from bowclf.io.fasttext import MAGIC, is_fasttext_file, load_fasttext
from bowclf.persist import ModelFileError, info, load

fasttext = pytest.importorskip("fasttext")

FUZZ = settings(
    max_examples=int(os.environ.get("BOWCLF_FUZZ_EXAMPLES", "300")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXTRA = [
    "",
    "zzz unknown qqq",
    "the\tgame\x0bwas\x0cwon\r by the team",
    "__label__sports the team",  # a label token inside the text is not a feature
    "__label__unseen the oven",  # an unknown label-like token is skipped too
    "a\x00b the match",
    "café résumé naïve 日本語 the match",
    "\x85 sauce\u00a0oven",  # not fastText whitespace: part of the tokens
    "the oven </s> the match won by the team",  # a literal </s> ends the line
]


def _corpus(tmp_path_factory, n_labels: int = 3):
    texts, y = make_texts(3000, seed=1, noise=0.2)
    rng = np.random.default_rng(0)
    accents = ["café", "résumé", "naïve", "日本語", "Ωmega"]
    texts = [t + " " + accents[rng.integers(5)] if rng.random() < 0.3 else t for t in texts]
    # rarer words: a dictionary of a few hundred words (product quantisation needs 256 rows)
    texts = [f"{t} w{rng.integers(400)}" for t in texts]
    if n_labels > 3:
        y = [f"{lab}{rng.integers(n_labels // 3)}" for lab in y]
    path = tmp_path_factory.mktemp("ft") / "train.txt"
    path.write_text("".join(f"__label__{lab} {t}\n" for t, lab in zip(texts, y, strict=True)))
    return path, texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory)


def _train(path, **kw):
    params = {"dim": 8, "epoch": 5, "thread": 12, "bucket": 20000, "verbose": 0, **kw}
    return fasttext.train_supervised(str(path), **params)


def _on_a_table_step(ours, texts) -> np.ndarray:
    """Where a one-vs-all score lies within float rounding of a step of fastText's sigmoid
    table (``x = −8 + j/32``): fastText sums a line's rows and the dot products in float32, in
    its own order, so there the table entry it picks may be the neighbour of ours."""
    S = ours.transform(texts).astype(np.float64) @ np.asarray(ours.B, np.float64).T
    t = (S + 8.0) * 32.0
    return np.abs(t - np.round(t)) < 32.0 * 2e-6 * (1.0 + np.abs(S))  # ~30 float32 ulps


def _agree(model_path, texts):
    """Top-1 and every reported probability of bowclf equal fastText's on ``texts`` (for
    one-vs-all, up to one table step where a score is within rounding of a step)."""
    ref = fasttext.load_model(str(model_path))
    ours = load_fasttext(model_path)
    scores = ours.fasttext_scores(texts)
    column = {f"__label__{c}": j for j, c in enumerate(ours.classes_)}
    labels, probs = ref.predict(texts, k=-1)
    on_step = _on_a_table_step(ours, texts) if ours.loss in ("ova", "ns") else None
    for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
        assert labs, texts[i]
        cols = [column[lab] for lab in labs]
        if on_step is not None and on_step[i, cols].any():
            ok = np.abs(scores[i, cols] - ps) <= np.where(on_step[i, cols], 0.008, 1e-4)
            assert ok.all(), (texts[i], scores[i, cols], ps)
            continue
        np.testing.assert_allclose(scores[i, cols], ps, atol=1e-4, rtol=0)
        # fastText's first label is a most probable one (ties are ordered arbitrarily)
        assert scores[i, cols[0]] >= scores[i].max() - 1e-6
    P = ours.predict_proba(texts)
    assert np.isfinite(P).all()
    if ours.loss in ("softmax", "hs"):
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    return ours


@pytest.mark.parametrize("loss", ["softmax", "ova", "hs"])
@pytest.mark.parametrize("ngrams", [1, 2, 3])
@pytest.mark.parametrize("chars", [(0, 0), (2, 4)])
def test_agreement_bin_and_ftz(corpus, tmp_path, loss, ngrams, chars):
    path, texts = corpus
    probe = texts[:300] + EXTRA
    model = _train(path, loss=loss, wordNgrams=ngrams, minn=chars[0], maxn=chars[1])
    model.save_model(str(tmp_path / "m.bin"))
    ours = _agree(tmp_path / "m.bin", probe)
    assert not ours.quantized and ours.prune is None
    # quantised input with a pruned dictionary and hash buckets, quantised norms
    model.quantize(input=str(path), cutoff=300, qnorm=True, retrain=False, dsub=2, qout=False)
    model.save_model(str(tmp_path / "m.ftz"))
    ours = _agree(tmp_path / "m.ftz", probe)
    assert ours.quantized and ours.prune is not None
    assert ours.A.shape[0] <= 300


def test_agreement_with_minn_0_and_subwords(corpus, tmp_path):
    """fastText takes minn=0 (with maxn > 0) as one character: so do we (the vectorised
    subword hashes left slots of a zero-character subword unwritten)."""
    path, texts = corpus
    _train(path, minn=0, maxn=3).save_model(str(tmp_path / "m0.bin"))
    _agree(tmp_path / "m0.bin", texts[:200] + EXTRA)


def test_evaluate_scores_a_one_vs_all_fasttext_model(corpus, tmp_path):
    """fastText's one-vs-all probabilities are independent sigmoids: evaluate reads each row
    divided by its sum (same ranking and predictions); it refused every such model with a
    Python-API hint ("pass multilabel=True")."""
    from click.testing import CliRunner

    from bowclf.cli import cli
    from bowclf.report import evaluate

    path, texts = corpus
    _train(path, loss="ova").save_model(str(tmp_path / "ova.bin"))
    model = load_fasttext(tmp_path / "ova.bin")
    labels = [line.split(" ", 1)[0][len("__label__"):] for line in
              path.read_text().splitlines()[:500]]  # fmt: skip
    report = evaluate(model, texts[:500], labels)
    P = model.predict_proba(texts[:500])
    assert report.accuracy == np.mean(model.classes_[P.argmax(axis=1)] == np.array(labels))
    assert report.log_loss is not None and np.isfinite(report.log_loss)
    out = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "ova.bin"), str(path), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n_documents"] == len(texts)
    # fastText's table sigmoid is exactly 0 below a score of -8: a row of zeros is uniform
    # (it was refused: "rows of proba must sum to 1")
    from bowclf.report.metrics import _as_distribution

    rows = _as_distribution(np.array([[0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.0, 0.0]]))
    np.testing.assert_array_equal(rows, [[0.25] * 4, [0.5, 0.5, 0.0, 0.0]])


def test_agreement_quantized_output_without_norms(tmp_path_factory, tmp_path):
    path, texts = _corpus(tmp_path_factory, n_labels=900)  # qout needs >= 256 labels
    model = _train(path, wordNgrams=2)
    assert len(model.get_labels()) >= 256
    model.quantize(input=str(path), qnorm=False, qout=True, dsub=3)
    model.save_model(str(tmp_path / "q.ftz"))
    ours = _agree(tmp_path / "q.ftz", texts[:100] + EXTRA)
    assert ours.qout and ours.prune is None


def test_sub_vectors_wider_than_dim_are_read_and_converted(corpus, tmp_path):
    """fastText accepts ``-dsub`` above ``dim`` (one sub-quantiser of ``dim`` numbers)."""
    path, texts = corpus
    model = _train(path, dim=3)
    model.quantize(input=str(path), qnorm=True, retrain=False, dsub=4)
    model.save_model(str(tmp_path / "w.ftz"))
    ours = _agree(tmp_path / "w.ftz", texts[:100] + EXTRA)
    assert ours.quantized
    out = str(tmp_path / "w.bowclf")
    res = CliRunner().invoke(cli, ["convert", str(tmp_path / "w.ftz"), "-o", out])
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(
        load(out).predict_proba(texts[:100]), ours.predict_proba(texts[:100])
    )


@pytest.mark.parametrize("loss", ["softmax", "ova", "hs"])
def test_a_document_gets_the_same_numbers_alone_as_in_a_batch(corpus, tmp_path, loss):
    """A fastText model's probabilities and scores of a document do not depend on the
    documents beside it, bit for bit."""
    path, texts = corpus
    _train(path, loss=loss, dim=16).save_model(str(tmp_path / "m.bin"))
    ours = load_fasttext(tmp_path / "m.bin")
    docs = texts[:60]
    for method in (ours.predict_proba, ours.fasttext_scores):
        whole = method(docs)
        for size in (1, 7):
            parts = [method(docs[a : a + size]) for a in range(0, len(docs), size)]
            np.testing.assert_array_equal(np.vstack(parts), whole)


def test_a_line_ends_at_its_first_newline(corpus, tmp_path):
    path, _ = corpus
    _train(path, wordNgrams=2).save_model(str(tmp_path / "m.bin"))
    ours = load_fasttext(tmp_path / "m.bin")
    P = ours.predict_proba(["the oven\nthe match team", "the oven"])
    np.testing.assert_array_equal(P[0], P[1])


def test_featurisation_matches_word_and_subword_ids(corpus, tmp_path):
    path, _ = corpus
    model = _train(path, minn=2, maxn=3)
    model.save_model(str(tmp_path / "m.bin"))
    ours = load_fasttext(tmp_path / "m.bin")
    for word in ["game", "café", "zzzz", "日本語"]:
        indptr, rows = ours.featurize([word])
        expect = sorted(model.get_subwords(word)[1].tolist() + [model.get_word_id("</s>")])
        assert sorted(rows.tolist()) == expect, word


def test_cli_predict_evaluate_info_convert(corpus, tmp_path):
    path, texts = corpus
    model = _train(path, wordNgrams=2)
    model.save_model(str(tmp_path / "m.bin"))
    runner = CliRunner()
    res = runner.invoke(cli, ["predict", str(tmp_path / "m.bin"), "--proba"], input=texts[0] + "\n")
    assert res.exit_code == 0, res.output
    labels, probs = model.predict(texts[0])
    label, p = res.stdout.split()
    assert label == labels[0].removeprefix("__label__")
    assert abs(float(p) - (probs[0] - 1e-5)) < 1e-4
    res = runner.invoke(cli, ["info", str(tmp_path / "m.bin")])
    assert res.exit_code == 0 and "FastTextModel" in res.stdout and "dim 8" in res.stdout
    assert info(tmp_path / "m.bin")["params"]["wordNgrams"] == 2
    y = [model.predict(t)[0][0].removeprefix("__label__") for t in texts[:50]]
    csv_path = write_label_text_csv(tmp_path / "test.csv", texts[:50], y)
    res = runner.invoke(cli, ["evaluate", str(tmp_path / "m.bin"), str(csv_path), "--json"])
    assert res.exit_code == 0, res.output
    assert '"accuracy": 1.0' in res.stdout
    res = runner.invoke(cli, ["convert", str(tmp_path / "m.bin"), "-o", str(tmp_path / "x.bowclf"),
                              "--label-prefix", "lbl_"])  # fmt: skip
    assert res.exit_code == 2 and "no label of" in res.stderr and "'lbl_'" in res.stderr
    assert not (tmp_path / "x.bowclf").exists()  # a typo strips nothing: nothing written
    res = runner.invoke(cli, ["convert", str(tmp_path / "m.bin"), "-o", str(tmp_path / "m.bowclf")])
    assert res.exit_code == 0, res.output
    converted = load(tmp_path / "m.bowclf")
    np.testing.assert_allclose(
        converted.predict_proba(texts[:100] + EXTRA),
        load(tmp_path / "m.bin").predict_proba(texts[:100] + EXTRA),
        atol=1e-6,
    )
    # `info` describes the converted file as it does the .bin (plus what the file is)
    res = runner.invoke(cli, ["info", str(tmp_path / "m.bowclf")])
    assert res.exit_code == 0, res.output
    assert "converted from a fastText file" in res.stdout and "dim 8" in res.stdout
    assert "Format:          bowclf-model v1" in res.stdout and "wordNgrams=2" in res.stdout
    # commands that need a model trained by bowclf say why they refuse a fastText model
    (tmp_path / "d.txt").write_text("the oven\n", encoding="utf-8")
    for target in ("m.bin", "m.bowclf"):
        for args in (["explain", str(tmp_path / target), str(tmp_path / "d.txt")],
                     ["info", "--top-features", "2", str(tmp_path / target)]):  # fmt: skip
            res = runner.invoke(cli, args)
            assert res.exit_code == 1 and "is read by predict, evaluate and info" in res.stderr
            assert "need a model trained by 'bowclf fit'" in res.stderr, args


# ---------------------------------------------------------------------- hostile files
@pytest.fixture(scope="module")
def tiny_bin(tmp_path_factory, corpus):
    path, _ = corpus
    model = _train(path, dim=2, bucket=0, epoch=1)
    out = tmp_path_factory.mktemp("tiny") / "t.bin"
    model.save_model(str(out))
    return out.read_bytes()


def _outcome(path):
    """A mutated file either loads and predicts finite probabilities or fails cleanly."""
    try:
        model = load(path)
    except ModelFileError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path))
        return
    assert np.isfinite(model.predict_proba(["the match", "", "x y z"])).all()


def test_every_truncation_is_refused(tiny_bin, tmp_path):
    path = tmp_path / "cut.bin"
    for size in list(range(0, 200)) + list(range(200, len(tiny_bin), 97)):
        path.write_bytes(tiny_bin[:size])
        if size < 4:
            with pytest.raises(ModelFileError):
                load_fasttext(path)
            continue
        with pytest.raises(ModelFileError, match="truncated|empty|invalid"):
            load(path)
    path.write_bytes(tiny_bin + b"\0")
    with pytest.raises(ModelFileError, match="trailing"):
        load(path)


def _header(**overrides) -> bytes:
    args = {
        "dim": 4,
        "ws": 5,
        "epoch": 5,
        "minCount": 1,
        "neg": 5,
        "wordNgrams": 1,
        "loss": 3,
        "model": 3,
        "bucket": 0,
        "minn": 0,
        "maxn": 0,
        "lrUpdateRate": 100,
    }
    args.update(overrides)
    return struct.pack("<ii12id", MAGIC, 12, *args.values(), 1e-4)


@pytest.mark.parametrize(
    ("blob", "pattern"),
    [
        (struct.pack("<ii", MAGIC, 13), "version 13"),
        (struct.pack("<ii", 1234, 12), "not a fastText"),
        (_header(model=2), "sg model"),
        (_header(loss=9), "unknown loss"),
        (_header(dim=0), "dim 0"),
        (_header(dim=2**30), "dim"),
        (_header(wordNgrams=2), "bucket 0"),
        (_header() + struct.pack("<iiiqq", 2**31 - 1, 2**31 - 2, 1, 0, -1), "truncated|invalid"),
        (_header() + struct.pack("<iiiqq", 0, 0, 0, 0, 2**60), "invalid"),
        (_header() + struct.pack("<iiiqq", 1, 0, 1, 0, 2**60) + b"x" * 10, "prune index"),
        (
            _header()
            + struct.pack("<iiiqq", 1, 0, 1, 0, -1)
            + b"__label__a\0"
            + struct.pack("<qb", 1, 0),
            "type",
        ),
    ],
)
def test_hostile_headers(tmp_path, blob, pattern):
    path = tmp_path / "bad.bin"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError, match=pattern) as exc:
        load_fasttext(path)
    assert "\n" not in str(exc.value)


def test_huge_declared_matrix_is_refused_before_allocation(tmp_path):
    blob = _header() + struct.pack("<iiiqq", 1, 0, 1, 0, -1) + b"__label__a\0"
    blob += struct.pack("<qb", 1, 1) + b"\0" + struct.pack("<qq", 2**40, 4)
    path = tmp_path / "huge.bin"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError, match="truncated"):
        load(path)


def test_magic_sniffing(tiny_bin, tmp_path):
    path = tmp_path / "t.bin"
    path.write_bytes(tiny_bin)
    assert is_fasttext_file(path) and not is_fasttext_file(tmp_path / "missing.bin")
    with pytest.raises(ModelFileError, match="no such"):
        load_fasttext(tmp_path / "missing.bin")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_byte_flips(tiny_bin, tmp_path, flips):
    data = bytearray(tiny_bin)
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / "fuzz.bin"
    path.write_bytes(bytes(data))
    _outcome(path)


@FUZZ
@given(st.integers(0, 2**31), st.integers(0, 2**31), st.binary(max_size=64))
def test_fuzz_truncations_and_insertions(tiny_bin, tmp_path, cut, at, insert):
    data = tiny_bin
    if cut % 3 == 0:
        data = data[: max(4, cut % len(data))]
    else:
        pos = 4 + at % (len(data) - 3)
        data = data[:pos] + insert + data[pos:]
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    _outcome(path)


@FUZZ
@given(st.integers(8, 2**31), st.sampled_from(["<i", "<q", "<b"]), st.integers(-(2**31), 2**31 - 1))
def test_fuzz_header_integers(tiny_bin, tmp_path, at, fmt, value):
    """Overwrite one integer near the start (args, dictionary header) with any value."""
    data = bytearray(tiny_bin)
    pos = at % min(len(data) - 8, 120)
    size = struct.calcsize(fmt)
    value = max(min(value, 2 ** (8 * size - 1) - 1), -(2 ** (8 * size - 1)))
    data[pos : pos + size] = struct.pack(fmt, value)
    path = tmp_path / "fuzz.bin"
    path.write_bytes(bytes(data))
    _outcome(path)


def test_special_files_are_never_opened(tmp_path):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    assert not is_fasttext_file(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        load_fasttext(fifo)
    with pytest.raises(ModelFileError, match="directory"):
        load_fasttext(tmp_path)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("one string", "got a single string"),
        (b"bytes", "got a single string"),
        (np.array([["a", "b"]]), r"1-d sequence of documents, got an array of shape \(1, 2\)"),
        (["fine", 3], "document 1 is int, not str"),
        (iter(["fine", None]), "document 1 is NoneType, not str"),
    ],
)
def test_bad_documents_get_the_estimators_messages(tiny_bin, tmp_path, bad, message):
    """A fastText model checks its documents with the estimators' own function: the same
    one-line errors."""
    from bowclf import TextClassifier

    path = tmp_path / "t.bin"
    path.write_bytes(tiny_bin)
    ft = load_fasttext(path)
    texts, y = make_texts(60, seed=0)
    ours = TextClassifier(epochs=1, random_state=0).fit(texts, y)
    for predict in (ft.predict, ft.predict_proba, ft.featurize, ours.predict, ours.predict_proba):
        if isinstance(bad, type(iter([]))):
            bad = iter(["fine", None])  # a fresh iterator per call
        with pytest.raises(ValueError, match=message):
            predict(bad)


def _model_blob(label_counts, *, loss: int = 3, dim: int = 4, matrices: bytes | None = None):
    """A whole fastText model file: one word, the labels with these counts, zero matrices
    (or ``matrices``, the bytes after the dictionary)."""
    blob = _header(dim=dim, loss=loss) + struct.pack("<iiiqq", 1 + len(label_counts), 1,
                                                      len(label_counts), 10, -1)  # fmt: skip
    blob += b"a\0" + struct.pack("<qb", 1, 0)
    for i, count in enumerate(label_counts):
        blob += b"__label__%d\0" % i + struct.pack("<qb", count, 1)
    if matrices is None:
        A, B = np.zeros((1, dim), "<f4"), np.zeros((len(label_counts), dim), "<f4")
        matrices = b"".join(b"\0" + struct.pack("<qq", *M.shape) + M.tobytes() for M in (A, B))
    return blob + matrices


@pytest.mark.parametrize(
    ("counts", "pattern"),
    [
        ([2 * 10**15, 1, 1], "label counts"),  # the tree builder's sentinel: it hung
        ([2**62, 2**62], "label counts"),  # an IndexError
        ([1, 5, 2], "label counts"),  # fastText stores them by decreasing count
        ([3, 0], "label counts"),
    ],
)
def test_implausible_hs_label_counts_are_refused_in_one_line(tmp_path, counts, pattern):
    path = tmp_path / "hs.bin"
    path.write_bytes(_model_blob(counts, loss=1))
    with pytest.raises(ModelFileError, match=pattern) as exc:
        load(path)
    assert "\n" not in str(exc.value) and str(exc.value).startswith(str(path))
    path.write_bytes(_model_blob([5, 3, 3, 1], loss=1))  # plausible: loads, rows sum to 1
    np.testing.assert_allclose(load(path).predict_proba(["a", "b"]).sum(axis=1), 1.0)


def test_a_quantised_output_is_checked_against_the_labels_before_it_is_decoded(tmp_path):
    """Each code byte decodes to a whole sub-vector: 4 million declared output rows of a 6 MB
    file asked for 15 GiB before the row count was compared with the labels'."""
    dim = 1024

    def quantized(rows: int) -> bytes:  # no norms; one sub-quantiser as wide as dim
        return (b"\0" + struct.pack("<qqi", rows, dim, rows) + bytes(rows)
                + struct.pack("<iiii", dim, 1, dim, dim) + bytes(4 * dim * 256))  # fmt: skip

    path = tmp_path / "q.bin"
    path.write_bytes(_model_blob([1, 1], dim=dim, matrices=b"\1" + quantized(2) + b"\1"
                                 + quantized(400_000)))  # fmt: skip
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="400000 output rows, 2 labels"):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda ft: ft["args"].update(dim=2**40), "argument dim is not a 32-bit integer"),
        (lambda ft: ft["args"].update(epoch=True), "argument epoch is not a 32-bit integer"),
        (lambda ft: ft.update(ntokens=None), "ntokens is not a plausible integer"),
        (lambda ft: ft.update(version="x"), "version is not a plausible integer"),
        (lambda ft: ft.update(qout="x"), "qout is not true or false"),
    ],
)
def test_a_converted_files_fasttext_section_is_checked_field_by_field(tiny_bin, tmp_path,
                                                                    edit, pattern):  # fmt: skip
    """Each value of a converted model's fasttext section is checked and named (they were
    accepted, or refused as 'argument out of range' / a NoneType message)."""
    import json
    import zipfile

    from bowclf.persist import save

    source = tmp_path / "t.bin"
    source.write_bytes(tiny_bin)
    converted = save(load_fasttext(source), tmp_path / "c.bowclf")
    with zipfile.ZipFile(converted) as zf:
        items = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(items["header.json"])
    edit(header["fasttext"])
    items["header.json"] = json.dumps(header).encode()
    edited = tmp_path / "e.bowclf"
    with zipfile.ZipFile(edited, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    with pytest.raises(ModelFileError, match=pattern) as exc:
        load(edited)
    assert "\n" not in str(exc.value)


def test_evaluate_featurises_a_fasttext_model_once(corpus, tmp_path, monkeypatch):
    """evaluate asks a model for probabilities and labels of the same documents: a fastText
    model computes them once (FastTextModel.for_documents), with the same answers."""
    import bowclf.io.fasttext as ft
    from bowclf.report import evaluate

    path, texts = corpus
    _train(path).save_model(str(tmp_path / "m.bin"))
    model = load_fasttext(tmp_path / "m.bin")
    labels = [line.split(" ", 1)[0][len("__label__"):] for line in
              path.read_text().splitlines()[:300]]  # fmt: skip
    P, pred = model.predict_proba(texts[:300]), model.predict(texts[:300])
    calls, transform = [], ft.FastTextModel.transform
    monkeypatch.setattr(ft.FastTextModel, "transform",
                        lambda self, t: calls.append(len(t)) or transform(self, t))  # fmt: skip
    report = evaluate(model, texts[:300], labels)
    assert calls == [300]
    assert report.accuracy == np.mean(pred == np.array(labels))
    view = model.for_documents(texts[:300])
    assert view.predict_proba(texts[:300]).tobytes() == P.tobytes()
    assert view.predict_topk(texts[:300], k=2) == model.predict_topk(texts[:300], k=2)


def _rewrite_members(source, target, **members):
    """Copy the bowclf model file ``source`` to ``target`` with ``members`` (name with ``/``
    as ``__``: array) replaced, the header's manifest following them."""
    with zipfile.ZipFile(source) as zf:
        items = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(items["header.json"])
    for key, value in members.items():
        name = key.replace("__", "/")
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        items[name] = buf.getvalue()
        header["arrays"][name].update(dtype=value.dtype.str, shape=list(value.shape))
    items["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)


def test_a_converted_model_keeps_its_matrices_as_the_fasttext_file_does(corpus, tmp_path):
    """Loading a converted model neither copies a large input matrix (it stays memory-mapped,
    as the ``.bin``'s) nor decodes a quantised one (rows are decoded when used, as the
    ``.ftz``'s); it predicts what the fastText file predicts, bit for bit."""
    from bowclf.io.fasttext_reader import _Quantized
    from bowclf.persist import save

    path, texts = corpus
    model = _train(path, wordNgrams=2, bucket=200_000)  # A: 6.4 MB, memory-mapped
    model.save_model(str(tmp_path / "m.bin"))
    source = load_fasttext(tmp_path / "m.bin")
    converted = load(save(source, tmp_path / "m.bowclf"))
    assert converted.A.nbytes > 4 << 20 and not converted.A.flags.writeable  # the file's map
    tracemalloc.start()
    load(tmp_path / "m.bowclf")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < converted.A.nbytes / 4, peak  # it held three copies of A before
    np.testing.assert_array_equal(converted.predict_proba(texts), source.predict_proba(texts))

    model.quantize(input=str(path), cutoff=300, qnorm=True, retrain=False, dsub=3)
    model.save_model(str(tmp_path / "m.ftz"))
    ftz = load_fasttext(tmp_path / "m.ftz")
    small = load(save(ftz, tmp_path / "s.bowclf"))
    assert isinstance(small.A, _Quantized) and small.quantized and small.prune is not None
    np.testing.assert_array_equal(small.predict_proba(texts), ftz.predict_proba(texts))
    again = load(save(small, tmp_path / "s2.bowclf"))  # saved again from its codes
    np.testing.assert_array_equal(again.A.codes, ftz.A.codes)
    np.testing.assert_array_equal(again.predict_proba(texts), ftz.predict_proba(texts))


@pytest.mark.parametrize(
    ("members", "pattern"),
    [
        ({"fasttext__A": np.zeros((10, 3), np.float32)}, r"input matrix \(10, 3\), dim 2"),
        ({"fasttext__B": np.zeros((3, 5), np.float32)}, r"output matrix \(3, 5\), dim 2"),
        ({"fasttext__B": np.zeros((1, 2), np.float32)}, "1 output rows, 3 labels"),
        ({"fasttext__B": np.full((3, 2), np.inf, np.float32)}, "non-finite values"),
        ({"fasttext__B": np.full((3, 2), 1e300)}, "non-finite values"),  # float64: inf in f4
    ],
)
def test_a_converted_files_matrices_are_checked_as_the_fasttext_files(
    tiny_bin, tmp_path, members, pattern
):
    from bowclf.persist import save

    source = tmp_path / "t.bin"
    source.write_bytes(tiny_bin)
    converted = save(load_fasttext(source), tmp_path / "c.bowclf")
    _rewrite_members(converted, tmp_path / "e.bowclf", **members)
    with pytest.raises(ModelFileError, match=pattern) as exc:
        load(tmp_path / "e.bowclf")
    assert "\n" not in str(exc.value)


def test_a_converted_ftzs_codebooks_are_checked(corpus, tmp_path):
    """Codes outside a codebook, centroids or norms not finite as float32 (float64 members
    were checked before the cast: 1e300 loaded and predicted NaN), centroids times norms
    overflowing: refused in one line; a codebook of fewer than 256 centroids whose codes fit
    loads and is saved again (it crashed in quantized_members)."""
    from bowclf.persist import save

    path, texts = corpus
    model = _train(path, wordNgrams=2)
    model.quantize(input=str(path), cutoff=300, qnorm=True, retrain=False, dsub=2)
    model.save_model(str(tmp_path / "m.ftz"))
    converted = save(load_fasttext(tmp_path / "m.ftz"), tmp_path / "c.bowclf")
    with zipfile.ZipFile(converted) as zf:
        cents = np.load(zf.open("fasttext/A_centroids"))
        codes = np.load(zf.open("fasttext/A_codes"))
        norms = np.load(zf.open("fasttext/A_norm_centroids"))
    hostile = [
        ({"fasttext__A_centroids": cents[:, :100]}, "outside its codebook"),
        ({"fasttext__A_centroids": np.full(cents.shape, 1e300)}, "centroids finite"),
        ({"fasttext__A_norm_centroids": np.full(norms.shape, 1e300)}, "not finite"),
        ({"fasttext__A_centroids": np.full(cents.shape, 1e30, np.float32),
          "fasttext__A_norm_centroids": np.full(norms.shape, 1e30, np.float32)}, "overflow"),
    ]  # fmt: skip
    for members, pattern in hostile:
        _rewrite_members(converted, tmp_path / "e.bowclf", **members)
        with pytest.raises(ModelFileError, match=pattern) as exc:
            load(tmp_path / "e.bowclf")
        assert "\n" not in str(exc.value)
    few = np.minimum(codes, 99).astype(np.uint8)  # codes that fit a codebook of 100
    _rewrite_members(converted, tmp_path / "f.bowclf", fasttext__A_codes=few,
                     fasttext__A_centroids=cents[:, :100])  # fmt: skip
    small = load(tmp_path / "f.bowclf")
    again = load(save(small, tmp_path / "g.bowclf"))
    np.testing.assert_array_equal(again.predict_proba(texts), small.predict_proba(texts))
