"""Model files: round trips, atomic writes, and a loader that refuses every hostile file.

Every refusal must be a :class:`ModelFileError` (one line, naming the file), raised before any
large allocation and without executing anything from the file.  The byte-level fuzz tests
run 300 mutations each, the structured ones (valid zip, hostile values) 100;
``BOWCLF_FUZZ_EXAMPLES=100000 python -m pytest tests/test_persist.py -k fuzz`` runs longer
campaigns locally (the structured ones get a third of that).
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_texts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bowclf import BowClassifier, TextClassifier
from bowclf.persist import FORMAT_VERSION, ModelFileError, info, load, save

FUZZ_EXAMPLES = int(os.environ.get("BOWCLF_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STRUCTURED = settings(FUZZ, max_examples=max(FUZZ_EXAMPLES // 3, 1))
PROBE = ["the match was a win for the team", "", "bake the sauce in the oven", "zzz qqq"]


# ---------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def text_model():
    texts, y = make_texts(300, seed=3)
    return TextClassifier(dim=8, epochs=3, buckets=500, random_state=0).fit(texts, y)


@pytest.fixture(scope="module")
def model_bytes(text_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.bowclf"
    save(text_model, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def tiny_model_bytes(tmp_path_factory):
    """A few-KB model, so that random mutations often hit the zip structure."""
    texts, y = make_texts(40, seed=4)
    model = TextClassifier(dim=2, epochs=1, buckets=16, ngrams=1, random_state=0).fit(texts, y)
    path = tmp_path_factory.mktemp("tiny") / "t.bowclf"
    save(model, path)
    return path.read_bytes()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def build_zip(path: Path, items: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    return path


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def read_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def variant(model_bytes: bytes, path: Path, header=None, replace=None, extra=None, drop=()):
    """A copy of the model file with its header edited and members replaced, added or dropped."""
    items = members(model_bytes)
    head = json.loads(items["header.json"])
    if header is not None:
        header(head)
    items["header.json"] = json.dumps(head).encode()
    items.update(replace or {})
    items.update(extra or {})
    for name in drop:
        items.pop(name)
    return build_zip(path, items)


def assert_usable(model) -> None:
    P = model.predict_proba(PROBE)
    assert P.shape == (len(PROBE), len(model.classes_))
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)


class MarkerPayload:
    """Unpickling this object creates ``path``: proof that code from a file was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ---------------------------------------------------------------------- round trips
def test_round_trip_text_classifier(text_model, tmp_path):
    path = save(text_model, tmp_path / "m.bowclf")
    loaded = load(path)
    assert loaded.predict_proba(PROBE).tobytes() == text_model.predict_proba(PROBE).tobytes()
    assert loaded.predict(PROBE).tolist() == text_model.predict(PROBE).tolist()
    assert loaded.classes_.tolist() == text_model.classes_.tolist()
    assert loaded.get_params() == text_model.get_params()
    assert info(path)["kind"] == "TextClassifier"
    assert info(path)["format_version"] == FORMAT_VERSION


def test_round_trip_multilabel_ova(tmp_path):
    texts, y = make_texts(200, seed=5)
    sets = [(lab,) if i % 3 else (lab, "extra") for i, lab in enumerate(y)]
    model = TextClassifier(dim=8, epochs=3, buckets=500, loss="ova", random_state=0)
    model.fit(texts, sets)
    loaded = load(save(model, tmp_path / "ml.bowclf"))
    assert loaded.multilabel_
    assert loaded.classes_.tolist() == model.classes_.tolist()
    assert loaded.predict_proba(PROBE).tobytes() == model.predict_proba(PROBE).tobytes()
    assert loaded.predict(PROBE) == model.predict(PROBE)


def test_round_trip_bow_classifier_int_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.poisson(0.5, size=(60, 12))
    y = rng.integers(0, 3, size=60)
    clf = BowClassifier(dim=4, epochs=2, random_state=0).fit(X, y)
    loaded = load(save(clf, tmp_path / "bow.bowclf"))
    assert loaded.classes_.dtype.kind == "i"
    assert loaded.predict_proba(X).tobytes() == clf.predict_proba(X).tobytes()
    assert loaded.predict(X).tolist() == clf.predict(X).tolist()


def test_another_process_predicts_identically(text_model, tmp_path):
    """Saved here, loaded by a fresh interpreter: predict_proba is the same bytes."""
    path = save(text_model, tmp_path / "m.bowclf")
    out = tmp_path / "proba.bin"
    code = (
        "import sys, json; from bowclf import load; "
        "m = load(sys.argv[1]); "
        "open(sys.argv[2], 'wb').write(m.predict_proba(json.loads(sys.argv[3])).tobytes())"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(out), json.dumps(PROBE)],
        check=True,
        timeout=120,
    )
    assert out.read_bytes() == text_model.predict_proba(PROBE).tobytes()


# ---------------------------------------------------------------------- atomic saving
def _no_temp_files(directory: Path) -> bool:
    return not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]
)
def test_failed_save_keeps_existing_file(text_model, tmp_path, monkeypatch, failure):
    path = save(text_model, tmp_path / "m.bowclf")
    before = path.read_bytes()
    calls = []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # midway: after the first array member
            raise failure
        return real_write(*args, **kwargs)

    real_write = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(type(failure)):
        save(text_model, path)
    assert path.read_bytes() == before
    assert _no_temp_files(tmp_path)


def test_save_refuses_non_finite_parameters(text_model, tmp_path):
    from sklearn.base import clone

    broken = clone(text_model).fit(*make_texts(100, seed=1))
    broken.classifier_.B_[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        save(broken, tmp_path / "nan.bowclf")
    assert not (tmp_path / "nan.bowclf").exists()
    assert _no_temp_files(tmp_path)


def test_save_refuses_unfitted_and_special_targets(text_model, tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        save(TextClassifier(), tmp_path / "x.bowclf")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        save(text_model, fifo)
    assert fifo.is_fifo()


def test_saved_file_permissions_follow_umask(text_model, tmp_path):
    old = os.umask(0o027)
    try:
        path = save(text_model, tmp_path / "m.bowclf")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_replacing_a_file_keeps_its_permissions(text_model, tmp_path):
    """A private model (chmod 600) stays private when refitted or re-saved over; the CLI's
    output files alike."""
    from click.testing import CliRunner

    from bowclf.cli import cli

    path = save(text_model, tmp_path / "m.bowclf")
    path.chmod(0o600)
    save(text_model, path)
    assert path.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "p.txt"
    out.write_text("old\n")
    out.chmod(0o640)
    res = CliRunner().invoke(cli, ["predict", str(path), "-o", str(out)], input="goal match\n")
    assert res.exit_code == 0, res.output
    assert out.stat().st_mode & 0o777 == 0o640 and out.read_text() != "old\n"


# ---------------------------------------------------------------------- hostile files
def _hostile_cases(model_bytes: bytes, tmp: Path, marker: str) -> dict[str, tuple[Path, str]]:
    """name -> (file, regex the error message must match)."""
    items = members(model_bytes)
    B = read_npy(items["classifier/B"])
    A = read_npy(items["classifier/A"])
    evil_npy = npy(np.array([MarkerPayload(marker)], dtype=object), allow_pickle=True)
    cases: dict[str, tuple[Path, str]] = {}

    def add(name, path, pattern):
        cases[name] = (path, pattern)

    raw = tmp / "raw-pickle.bowclf"
    raw.write_bytes(pickle.dumps(MarkerPayload(marker)))
    add("raw pickle renamed .bowclf", raw, "is a Python pickle")

    add(
        "object .npy member (pickle payload)",
        variant(model_bytes, tmp / "objnpy.bowclf", replace={"classifier/classes": evil_npy}),
        "disallowed dtype object|does not match",
    )

    def object_manifest(h):
        h["arrays"]["classifier/classes"] = {"dtype": "|O", "shape": [1]}

    add(
        "object dtype declared in the manifest",
        variant(
            model_bytes,
            tmp / "objman.bowclf",
            header=object_manifest,
            replace={"classifier/classes": evil_npy},
        ),
        "not allowed",
    )
    truncated = tmp / "truncated.bowclf"
    truncated.write_bytes(model_bytes[: len(model_bytes) * 2 // 3])
    add("truncated file", truncated, "truncated or corrupt")
    text = tmp / "notes.bowclf"
    text.write_text("label,text\nspam,buy now\n")
    add("renamed text file", text, "not a zip archive")
    empty = tmp / "empty.bowclf"
    empty.write_bytes(b"")
    add("empty file", empty, "empty file")

    def b_dim(h):
        h["arrays"]["classifier/B"]["shape"] = [B.shape[0], B.shape[1] // 2]

    add(
        "A and B dims disagree",
        variant(
            model_bytes,
            tmp / "dims.bowclf",
            header=b_dim,
            replace={"classifier/B": npy(np.ascontiguousarray(B[:, : B.shape[1] // 2]))},
        ),
        "A has dim .* but B has dim",
    )
    add(
        "manifest shape differs from the .npy shape",
        variant(
            model_bytes,
            tmp / "shape.bowclf",
            replace={"classifier/A": npy(A.reshape(A.shape[1], A.shape[0]))},
        ),
        "but the header says",
    )
    add(
        "manifest dtype differs from the .npy dtype",
        variant(
            model_bytes,
            tmp / "dtype.bowclf",
            replace={"classifier/A": npy(A.astype(">f4"))},
        ),
        "is >f4 .* but the header says <f4",
    )
    add(
        "integer parameters",
        variant(
            model_bytes,
            tmp / "int.bowclf",
            replace={"classifier/A": npy(A.view(np.int32))},
        ),
        "disallowed dtype int32",
    )

    def complex_a(h):
        h["arrays"]["classifier/A"]["dtype"] = "<c8"

    add(
        "disallowed dtype in the manifest",
        variant(model_bytes, tmp / "complex.bowclf", header=complex_a),
        "not allowed",
    )

    def zero_width(h):  # 0 bytes declared whatever the shape: no size bound would hold
        h["arrays"]["classifier/classes"]["dtype"] = "<U0"
        h["arrays"]["classifier/classes"]["shape"] = [10**12]

    add(
        "zero-width dtype in the manifest",
        variant(model_bytes, tmp / "zerowidth.bowclf", header=zero_width),
        "not allowed",
    )

    def absurd(h):
        h["arrays"]["classifier/A"]["shape"] = [10**12, 100]

    add(
        "absurd declared size",
        variant(model_bytes, tmp / "absurd.bowclf", header=absurd),
        "absurd size",
    )

    def newer(h):
        h["format_version"] = FORMAT_VERSION + 1
        h["bowclf_version"] = "9.9.9"

    add(
        "newer format version",
        variant(model_bytes, tmp / "newer.bowclf", header=newer),
        r"newer bowclf \(9\.9\.9.*pip install -U bowclf",
    )

    def older(h):
        h["format_version"] = 0

    add("format version 0", variant(model_bytes, tmp / "v0.bowclf", header=older), "version 0")

    def wrong_tag(h):
        h["format"] = "something-else"

    add("wrong format tag", variant(model_bytes, tmp / "tag.bowclf", header=wrong_tag), "tag")
    bad_b = B.copy()
    bad_b[0, 0] = np.nan
    add(
        "NaN parameter",
        variant(model_bytes, tmp / "nan.bowclf", replace={"classifier/B": npy(bad_b)}),
        "NaN or infinity",
    )
    bad_a = A.copy()
    bad_a[-1, -1] = np.inf
    add(
        "infinite parameter",
        variant(model_bytes, tmp / "inf.bowclf", replace={"classifier/A": npy(bad_a)}),
        "NaN or infinity",
    )
    for label, name in [
        ("path traversal member ../evil", "../evil"),
        ("absolute member path", "/tmp/evil"),
        ("member classifier/../x", "classifier/../x"),
    ]:
        add(
            label,
            variant(model_bytes, tmp / f"trav{len(cases)}.bowclf", extra={name: b"x"}),
            "illegal member name",
        )
    add(
        "unexpected member",
        variant(model_bytes, tmp / "unexp.bowclf", extra={"classifier/extra": npy(B)}),
        "unexpected member",
    )
    add(
        "missing member",
        variant(model_bytes, tmp / "missing.bowclf", drop=["classifier/B"]),
        "missing member",
    )

    def unlisted(h):
        del h["arrays"]["text/feature_columns"]

    add(
        "member not in the manifest",
        variant(model_bytes, tmp / "unlisted.bowclf", header=unlisted),
        "not in the header's manifest",
    )
    dup = tmp / "dup.bowclf"
    with zipfile.ZipFile(dup, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning):
            zf.writestr("header.json", b"{}")
    add("duplicate member", dup, "duplicate members")
    items_bad = dict(items)
    items_bad["header.json"] = b"{not json"
    add("header is not JSON", build_zip(tmp / "json.bowclf", items_bad), "not valid JSON")
    deep = dict(items)
    deep["header.json"] = b"[" * 100_000 + b"]" * 100_000
    add("deeply nested header", build_zip(tmp / "deep.bowclf", deep), "not valid JSON")
    add(
        "bzip2-compressed members",
        build_zip(tmp / "bz2.bowclf", items, compression=zipfile.ZIP_BZIP2),
        "unsupported compression",
    )

    classes = read_npy(items["classifier/classes"])
    add(
        "classes not sorted and unique",
        variant(
            model_bytes,
            tmp / "classes.bowclf",
            replace={"classifier/classes": npy(classes[::-1].copy())},
        ),
        "sorted and unique",
    )

    def features(h):
        h["classifier"]["fitted"]["n_features_in_"] += 1

    add(
        "n_features_in_ disagrees with A",
        variant(model_bytes, tmp / "nfeat.bowclf", header=features),
        "n_features_in_",
    )

    def fitted_value(key, value):
        def edit(h):
            h["classifier"]["fitted"][key] = value

        return edit

    for name, key, value in (
        ("threshold out of range", "threshold_", 7),
        ("negative resolved learning rate", "lr_", -0.5),
    ):
        edited = variant(model_bytes, tmp / f"{key}.bowclf", header=fitted_value(key, value))
        add(name, edited, "invalid fitted values")

    def bad_param(h):
        h["classifier"]["params"]["dim"] = -3

    add(
        "invalid parameter value",
        variant(model_bytes, tmp / "param.bowclf", header=bad_param),
        "inconsistent model file",
    )

    def huge_buckets(h):
        h["params"]["buckets"] = 10**10  # would make a 80 GB dense feature lookup

    add(
        "huge number of hash buckets",
        variant(model_bytes, tmp / "buckets.bowclf", header=huge_buckets),
        "implausible number of buckets",
    )

    def no_text(h):
        del h["text"]

    add("missing text section", variant(model_bytes, tmp / "notext.bowclf", header=no_text), "text")
    cols = read_npy(items["text/feature_columns"]).copy()
    cols[-1] = 10**9
    add(
        "feature column out of range",
        variant(model_bytes, tmp / "cols.bowclf", replace={"text/feature_columns": npy(cols)}),
        "outside the vectorizer",
    )
    idf = read_npy(items["text/idf"])
    add(
        "negative idf weight",
        variant(model_bytes, tmp / "idfneg.bowclf", replace={"text/idf": npy(-idf)}),
        "idf weights must be finite and positive",
    )

    def forget_idf(h):
        del h["arrays"]["text/idf"]

    add(
        "idf model without its weights",
        variant(model_bytes, tmp / "noidf.bowclf", header=forget_idf, drop=("text/idf",)),
        "without its idf weights",
    )

    def idf_off(h):
        h["params"]["use_idf"] = False

    add(
        "idf weights of a use_idf=False model",
        variant(model_bytes, tmp / "idfoff.bowclf", header=idf_off),
        "use_idf=False",
    )
    directory = tmp / "dir.bowclf"
    directory.mkdir()
    add("a directory", directory, "is a directory")
    fifo = tmp / "fifo.bowclf"
    os.mkfifo(fifo)
    add("a FIFO", fifo, "not a regular file")
    add("no such file", tmp / "nope.bowclf", "no such model file")
    return cases


HOSTILE = [
    "raw pickle renamed .bowclf",
    "object .npy member (pickle payload)",
    "object dtype declared in the manifest",
    "truncated file",
    "renamed text file",
    "empty file",
    "A and B dims disagree",
    "manifest shape differs from the .npy shape",
    "manifest dtype differs from the .npy dtype",
    "integer parameters",
    "disallowed dtype in the manifest",
    "zero-width dtype in the manifest",
    "absurd declared size",
    "newer format version",
    "format version 0",
    "wrong format tag",
    "NaN parameter",
    "infinite parameter",
    "path traversal member ../evil",
    "absolute member path",
    "member classifier/../x",
    "unexpected member",
    "missing member",
    "member not in the manifest",
    "duplicate member",
    "header is not JSON",
    "deeply nested header",
    "bzip2-compressed members",
    "classes not sorted and unique",
    "n_features_in_ disagrees with A",
    "threshold out of range",
    "negative resolved learning rate",
    "invalid parameter value",
    "huge number of hash buckets",
    "missing text section",
    "feature column out of range",
    "negative idf weight",
    "idf model without its weights",
    "idf weights of a use_idf=False model",
    "a directory",
    "a FIFO",
    "no such file",
]


def hostile_files(model_bytes: bytes, tmp: Path) -> tuple[dict[str, tuple[Path, str]], Path]:
    """The hostile variants of a model file, written into ``tmp``, and the marker file that
    would appear if loading one of them executed code."""
    marker = tmp / "MARKER-code-was-executed"
    return _hostile_cases(model_bytes, tmp, str(marker)), marker


@pytest.fixture(scope="module")
def hostile(model_bytes, tmp_path_factory):
    cases, marker = hostile_files(model_bytes, tmp_path_factory.mktemp("hostile"))
    assert sorted(cases) == sorted(HOSTILE)
    return cases, marker


def test_pickle_payload_is_live(hostile, tmp_path):
    """Sanity check of the test itself: unpickling the payload does create a marker."""
    marker = tmp_path / "live"
    pickle.loads(pickle.dumps(MarkerPayload(str(marker))))
    assert marker.exists()


@pytest.mark.parametrize("case", HOSTILE)
def test_load_refuses(hostile, case):
    cases, marker = hostile
    path, pattern = cases[case]
    with pytest.raises(ModelFileError, match=pattern) as excinfo:
        load(path)
    message = str(excinfo.value)
    assert message.startswith(str(path))
    assert "\n" not in message
    assert not marker.exists(), "code from the model file was executed"


def test_info_refuses_what_it_can_see_without_arrays(hostile):
    cases, marker = hostile
    seen = ["raw pickle renamed .bowclf", "absurd declared size", "newer format version"]
    for case in [*seen, "zero-width dtype in the manifest"]:
        with pytest.raises(ModelFileError):
            info(cases[case][0])
    assert not marker.exists()


def test_absurd_size_fails_fast_without_allocating(hostile):
    path = hostile[0]["absurd declared size"][0]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match="absurd size"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2.0
    assert peak < 16 * 2**20


def test_declared_size_must_match_the_stored_member(model_bytes, tmp_path):
    """A manifest may not declare more data than the archive holds (no big allocation)."""

    def bigger(h):
        h["arrays"]["classifier/A"]["shape"][0] *= 1000

    path = variant(model_bytes, tmp_path / "big.bowclf", header=bigger)
    with pytest.raises(ModelFileError, match="does not match its declared shape"):
        load(path)


def test_zip_bomb_ratio_is_refused(model_bytes, tmp_path):
    """A deflated member claiming to expand far beyond deflate's limit is refused unread."""
    path = build_zip(tmp_path / "bomb.bowclf", members(model_bytes), zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    name = b"classifier/A"
    pos = data.find(b"PK\x01\x02")  # central directory entries: the name is at +46
    while data[pos + 46 : pos + 46 + len(name)] != name:
        pos = data.find(b"PK\x01\x02", pos + 4)
    data[pos + 24 : pos + 28] = (2**32 - 1).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="zip bomb"):
        load(path)


# ---------------------------------------------------------------------- fuzzing
def _check_outcome(path: Path) -> None:
    try:
        model = load(path)
    except ModelFileError as exc:
        assert "\n" not in str(exc)
        return
    assert_usable(model)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_fuzz_byte_flips(tiny_model_bytes, tmp_path, flips):
    data = bytearray(tiny_model_bytes)
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / "fuzz.bowclf"
    path.write_bytes(bytes(data))
    _check_outcome(path)


@FUZZ
@given(st.integers(0, 2**31), st.integers(0, 2**31), st.binary(min_size=0, max_size=64))
def test_fuzz_truncations_and_insertions(tiny_model_bytes, tmp_path, cut, at, insert):
    data = tiny_model_bytes
    if cut % 3 == 0:
        data = data[: cut % len(data)]
    else:
        pos = at % (len(data) + 1)
        data = data[:pos] + insert + data[pos:]
    path = tmp_path / "fuzz.bowclf"
    path.write_bytes(data)
    _check_outcome(path)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


@STRUCTURED
@given(st.data())
def test_fuzz_header_values(tiny_model_bytes, tmp_path, data):
    """Valid zip and CRCs, hostile header values: the validation logic itself is fuzzed."""
    items = members(tiny_model_bytes)
    header = json.loads(items["header.json"])
    paths = [p for p in _paths(header) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths))
        target = header
        try:
            for key in where[:-1]:
                target = target[key]
            target[where[-1]] = data.draw(_json_values)
        except (KeyError, IndexError, TypeError):
            continue
    items["header.json"] = json.dumps(header).encode()
    path = build_zip(tmp_path / "fuzz.bowclf", items)
    _check_outcome(path)


@STRUCTURED
@given(st.data())
def test_fuzz_array_members(tiny_model_bytes, tmp_path, data):
    """Valid zip and CRCs, mutated .npy members: the array reader is fuzzed."""
    items = members(tiny_model_bytes)
    name = data.draw(st.sampled_from(sorted(n for n in items if n != "header.json")))
    blob = bytearray(items[name])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if blob:
            blob[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    items[name] = bytes(blob)
    path = build_zip(tmp_path / "fuzz.bowclf", items)
    _check_outcome(path)


def test_files_from_before_idf_weighting_load_as_raw_count_models(model_bytes, tmp_path):
    """A version-1 file written before ``use_idf`` existed has neither the parameter nor the
    weights: it must load as the raw-count model it is, predicting as before."""

    def old_header(h):
        del h["params"]["use_idf"], h["params"]["sublinear_tf"], h["arrays"]["text/idf"]
        del h["classifier"]["fitted"]["top_label_"]

    old = load(variant(model_bytes, tmp_path / "old.bowclf", header=old_header, drop=("text/idf",)))
    assert old.use_idf is False and old.idf_ is None and old.classifier_.top_label_ is False
    assert_usable(old)


# ---------------------------------------------------------------------- issue 20: bounds
@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda h: h["params"].update(ngrams=10**6), "implausible ngrams"),
        (lambda h: h["params"].update(maxn=10**6), "implausible maxn"),
        (lambda h: h["params"].update(minn=-1), "implausible minn"),
        (lambda h: h["params"].update(buckets=2**28 + 1), "implausible number of buckets"),
        (lambda h: h["params"].update(token_pattern="(a+)+$"), "token_pattern .* nests"),
        (lambda h: h["params"].update(token_pattern="x" * 5000), "token_pattern .* longer"),
        (lambda h: h["classifier"]["params"].update(dim=10**7), "implausible dimension"),
    ],
    ids=["ngrams", "maxn", "minn", "buckets", "catastrophic pattern", "long pattern", "dim"],
)
def test_header_values_are_bounded_by_what_fit_accepts(model_bytes, tmp_path, edit, pattern):
    """Issue 20 item 8: every header value is bounded before anything is built."""
    path = variant(model_bytes, tmp_path / "bounds.bowclf", header=edit)
    with pytest.raises(ModelFileError, match=pattern):
        load(path)
    with pytest.raises(ModelFileError, match=pattern):
        info(path)


@pytest.mark.parametrize(
    "params",
    [
        {"ngrams": 17},
        {"maxn": 33},
        {"buckets": 2**28 + 1},
        {"dim": 2**14 + 1},
        {"token_pattern": "(a+)+$"},
    ],
)
def test_fit_refuses_what_load_would(params):
    """Issue 20 item 9: the bounds are the estimators' parameter constraints too."""
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        TextClassifier(**params).fit(["a b", "c d"], ["x", "y"])


@pytest.mark.parametrize(
    "pattern",
    [r"(?:a|a)*b|\w+", r"(a|aa)+", r"(a|ab)*c", r"(.*a){20}", r"([^x]*a)*", r"(?:x(?:a|a))*",
     r"(?:a?){25}a{25}", r"\w*" * 12 + "!", r"\d+-?\w+x", r"(\w*\w*)+", r"(?:\w+){1,8}!",
     r"(?:\w+\s?){1,8}!", r"\w+(?:\w+){0,7}!", r"\b\w*\w*\w*!", r"\B\d+\d*x", r"\b\S+\S*x",
     r"\b\w+\d+\d*y", r"(?:\w\w*)*!", r"(?:\w{1,8}){1,8}!"],
)  # fmt: skip
def test_backtracking_patterns_are_refused_at_fit_and_load(pattern, model_bytes, tmp_path):
    """Alternations and broad repeats inside repeats backtrack exponentially too (a model
    file with (?:a|a)*b took 12 s to predict one 29-character line); so do optional items
    repeated many times, and unbounded repeats in a row over shared characters before
    something that can fail (twelve \\w* before '!' took 56 s on 24 letters and ignored
    SIGTERM)."""
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        TextClassifier(token_pattern=pattern).fit(["a b", "c d"], ["x", "y"])
    path = variant(
        model_bytes,
        tmp_path / "p.bowclf",
        header=lambda h: h["params"].update(token_pattern=pattern),
    )
    with pytest.raises(ModelFileError, match="token_pattern .* (nests|two unbounded repeats)"):
        load(path)


@pytest.mark.parametrize(
    "pattern",
    [r"(?u)\b\w\w+\b", r"[\w']+|[^\w\s]", r"\w+(?:[-']\w+)*", r"https?://\S+|\w+",
     r"\d{1,3}(?:,\d{3})*", r".+", r"[A-Za-z]+'?[a-z]*", r"(?:\d{1,3}\.){3}\d{1,3}",
     r"[a-z]+[0-9]*x", r"#\w+", r"[\w.+-]+@[\w-]+\.[\w.]+", r"\d+(?:\.\d+)?"],
)  # fmt: skip
def test_usual_patterns_are_accepted(pattern):
    docs = ["ab cd 1,000 http://x.org it's 10.0.0.1 ab12x #tag", "ef gh 25 well-known a@b.org kx"]
    assert TextClassifier(token_pattern=pattern, epochs=1).fit(docs, ["x", "y"])


def test_load_checks_memory_before_allocating(model_bytes, tmp_path, monkeypatch):
    """Issue 20 item 8: a small file declaring a huge feature lookup is refused up front."""
    import bowclf.io.modelfile as modelfile

    def many_buckets(h):
        h["params"]["buckets"] = 2**28  # a 2 GiB dense lookup for a ~100 KB file

    path = variant(model_bytes, tmp_path / "lookup.bowclf", header=many_buckets)
    monkeypatch.setattr(modelfile, "_available_memory", lambda: 256 * 2**20)
    allocated = []
    real_full = np.full
    monkeypatch.setattr(np, "full", lambda *a, **k: allocated.append(a) or real_full(*a, **k))
    with pytest.raises(ModelFileError, match=r"needs about 2\.\d GiB of memory"):
        load(path)
    assert not allocated
    monkeypatch.setattr(modelfile, "_available_memory", lambda: 256 * 2**20)
    assert_usable(load(variant(model_bytes, tmp_path / "ok.bowclf")))  # the real one fits


def test_huge_finite_weights_are_refused(model_bytes, tmp_path):
    """Issue 20 item 11: weights whose scores overflow to inf (NaN probabilities)."""
    A = read_npy(members(model_bytes)["classifier/A"]) * np.float32(1e37)
    assert np.isfinite(A).all()
    path = variant(model_bytes, tmp_path / "huge.bowclf", replace={"classifier/A": npy(A)})
    with pytest.raises(ModelFileError, match="scores overflow"):
        load(path)


def test_the_weight_check_needs_no_copy_of_A_and_finds_a_late_nan():
    """Loading checks max |A| a block at a time: a temporary of A's size doubled the peak
    memory of loading a large model (1.66 GB for an 840 MB file)."""
    from bowclf import _limits

    A = np.random.default_rng(0).uniform(-0.01, 0.01, (200_000, 50)).astype(np.float32)
    B = np.ones((3, 50), np.float32)
    tracemalloc.start()
    try:
        assert _limits.weight_problem(A, B) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < A.nbytes / 4
    A[-1, -1] = np.nan
    assert _limits.weight_problem(A, B) == "model parameters contain NaN or infinity"
    A[-1, -1], A[0, 0] = 0.0, np.float32(1e30)
    assert "scores overflow" in _limits.weight_problem(A, B)


def test_nan_in_header_is_refused(model_bytes, tmp_path):
    """Issue 20 item 11: `info --json` must never re-emit NaN/Infinity from a header."""
    items = members(model_bytes)
    head = json.loads(items["header.json"])
    head["text"]["training_summary"]["loss"] = float("nan")
    items["header.json"] = json.dumps(head).encode()  # Python writes NaN (not strict JSON)
    path = build_zip(tmp_path / "nan.bowclf", items)
    with pytest.raises(ModelFileError, match="not valid JSON .*NaN"):
        info(path)


def test_lone_surrogate_labels_are_not_saved(tmp_path):
    """Issue 20 item 12: a label that can never be printed is refused when saving (fit
    refuses it first; partial_fit's declared classes reach the save)."""
    with pytest.raises(ValueError, match="lone surrogate"):
        TextClassifier(dim=2, epochs=1).fit(["a b", "c d"] * 3, ["\ud800", "x"] * 3)
    model = BowClassifier(dim=2).partial_fit(np.eye(2), ["x", "x"], classes=["\ud800", "x"])
    with pytest.raises(ValueError, match="unpaired surrogate"):
        save(model, tmp_path / "s.bowclf")
    assert not (tmp_path / "s.bowclf").exists()


def test_corpus_conventions_round_trip_and_old_files_load(text_model, tmp_path):
    """Issue 20 item 7: the header remembers how the corpus was read; optional."""
    from bowclf.persist import load_with_header

    corpus = {"format": "csv", "label_sep": " ", "text_column": "body", "encoding": "utf-8"}
    path = save(text_model, tmp_path / "c.bowclf", corpus=corpus)
    _, header = load_with_header(path)
    assert header["text"]["corpus"] == corpus
    _, old = load_with_header(save(text_model, tmp_path / "old.bowclf"))
    assert "corpus" not in old["text"]
    with pytest.raises(ValueError, match="unknown key"):
        save(text_model, tmp_path / "bad.bowclf", corpus={"command": "rm -rf"})


def test_a_loaded_model_saves_again_as_it_was_read_and_a_refit_forgets_its_file(tmp_path):
    """save(load(m)) is m byte for byte: its corpus conventions and (quantised) codes are
    written again (they were dropped: evaluate then misread a label-set corpus).  A new fit
    drops both: the refit of a loaded quantised model was saved with the old codes."""
    from bowclf import quantize
    from bowclf.persist import load_with_header

    texts, y = make_texts(300, seed=2)
    corpus = {"format": "csv", "label_sep": "|", "text_column": "text", "encoding": "utf-8"}
    model = TextClassifier(dim=8, random_state=0).fit(texts, y)
    for original in (model, quantize(model, cutoff=50, qnorm=True)):
        first = save(original, tmp_path / "a.bowclf", corpus=corpus).read_bytes()
        again = save(load(tmp_path / "a.bowclf"), tmp_path / "b.bowclf")
        assert again.read_bytes() == first
    refit = load(tmp_path / "a.bowclf").set_params(dim=4).fit(texts, y)
    _, header = load_with_header(save(refit, tmp_path / "c.bowclf"))
    assert "corpus" not in header["text"] and "quantization" not in header
    assert load(tmp_path / "c.bowclf").predict_proba(texts).tobytes() == (
        refit.predict_proba(texts).tobytes()
    )


def test_a_memory_mapped_model_keeps_training(tmp_path):
    """Large members are memory-mapped read-only on load; partial_fit and warm starts train
    a copy (they used to fail with 'WRITEBACKIFCOPY base is read-only')."""
    from bowclf.io.modelfile import _MAP_MIN_BYTES

    rng = np.random.default_rng(0)
    p = _MAP_MIN_BYTES // (4 * 8) + 10  # A (dim 8) above the memory-mapping threshold
    X = sp.random(60, p, density=0.001, format="csr", random_state=0) * 10
    X.data = np.ceil(X.data)
    y = rng.integers(0, 2, 60)
    model = BowClassifier(dim=8, epochs=1, optimizer="sgd", random_state=0).fit(X, y)
    loaded = load(save(model, tmp_path / "m.bowclf"))
    assert not loaded.A_.flags.writeable
    before = np.array(loaded.A_)
    loaded.partial_fit(X, y)
    assert loaded.A_.flags.writeable and not np.array_equal(before, loaded.A_)
    np.testing.assert_array_equal(load(tmp_path / "m.bowclf").A_, before)  # file untouched


def test_the_finiteness_check_reads_every_block():
    from bowclf._limits import all_finite

    A = np.zeros((5, 3), np.float32)
    assert all_finite(A, cells=6) and all_finite(A[:0])
    for bad in (np.inf, -np.inf, np.nan):
        A[4, 2] = bad  # in the last, short block
        assert not all_finite(A, cells=6)


def test_loading_scans_A_for_nan_once(model_bytes, tmp_path, monkeypatch):
    """Issue 19: the loader's weight-scale check already finds NaN/inf in A; restoring the
    classifier does not make a second pass over A's values."""
    from bowclf import saved_state

    A = read_npy(members(model_bytes)["classifier/A"])
    scanned = []
    real = saved_state.all_finite
    monkeypatch.setattr(saved_state, "all_finite", lambda X: scanned.append(X.size) or real(X))
    assert_usable(load(variant(model_bytes, tmp_path / "m.bowclf")))
    assert A.size not in scanned
    bad = A.copy()
    bad[-1, -1] = np.nan
    with pytest.raises(ModelFileError, match="NaN or infinity"):
        load(variant(model_bytes, tmp_path / "nan.bowclf", replace={"classifier/A": npy(bad)}))


def test_float64_weights_that_overflow_float32_are_refused(model_bytes, tmp_path):
    """A float64 A within the score bound (B tiny) whose values are inf once cast to the
    float32 the model computes in: the check after the cast still refuses it."""
    items = members(model_bytes)
    A = read_npy(items["classifier/A"]).astype(np.float64)
    B = read_npy(items["classifier/B"]).astype(np.float64)
    A[0, 0], B[...] = 1e300, 1e-300

    def as_float64(head):
        for name in ("classifier/A", "classifier/B"):
            head["arrays"][name]["dtype"] = "<f8"

    path = variant(model_bytes, tmp_path / "f8.bowclf", header=as_float64,
                   replace={"classifier/A": npy(A), "classifier/B": npy(B)})  # fmt: skip
    with pytest.raises(ModelFileError, match="NaN or infinity"):
        load(path)


def test_a_pruned_model_declaring_a_huge_vectorizer_stays_small(tmp_path, monkeypatch):
    """A 36 KB pruned model whose header declares 2²⁸ hashed buckets made the loader build a
    1 GiB column lookup; a wide vectorizer keeping few columns is searched instead (the same
    predictions as the dense lookup)."""
    import bowclf.inference as inference
    from bowclf import quantize
    from bowclf.persist import load_predictor

    texts, y = make_texts(300, seed=3)
    small = quantize(TextClassifier(dim=8, random_state=0).fit(texts, y), cutoff=200)
    dense = small.predict_proba(texts)
    path = save(small, tmp_path / "q.bowclf")
    huge = variant(path.read_bytes(), tmp_path / "huge.bowclf",
                   header=lambda h: h["params"].update(buckets=2**28 - 10_000))  # fmt: skip
    tracemalloc.start()
    try:
        for loaded in (load(huge), load_predictor(huge)[0]):
            assert loaded.predict_proba(texts[:5]).shape == (5, len(small.classes_))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20
    monkeypatch.setattr(inference, "DENSE_LOOKUP_WIDTH", 0)
    monkeypatch.setattr(inference, "DENSE_LOOKUP_RATIO", 0)
    searched = load(path)
    assert isinstance(searched._column_lookup, inference.SortedLookup)
    assert searched.predict_proba(texts).tobytes() == dense.tobytes()


def test_a_model_saved_after_set_params_is_the_fitted_model():
    """set_params after fit changes the next fit, not the fitted model: its file keeps the
    parameters it was fitted with (a model saved after set_params(ngrams=3) was loaded with
    a vectorizer hashing trigrams for a classifier trained on bigrams: other predictions)."""
    import tempfile

    texts, y = make_texts(200, seed=6)
    model = TextClassifier(dim=8, random_state=0).fit(texts, y)
    fitted, P = model.get_params(), model.predict_proba(texts)
    model.set_params(ngrams=3, loss="ova", lowercase=False, normalize="l2")
    assert model.trained_params() == fitted
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load(save(model, Path(tmp) / "m.bowclf"))
    assert loaded.get_params() == fitted
    assert loaded.predict_proba(texts).tobytes() == P.tobytes()
