"""Reading and validating ``.bowclf`` model files: the format's schema and every check.

This is the reading half of :mod:`bowclf.persist` (which writes files and builds models from
what is read here); the format itself is described there.

Loading trusts nothing in the file.  In this order it checks: the file is a regular file and a
zip archive (a pickle, a text file or a truncated archive is named as such); the header is
small, valid JSON with the right format tag and a format version this bowclf can read (a newer
one asks to upgrade); the manifest names exactly the members the archive holds, every one of
them on an allow-list of names (so ``../evil`` or absolute paths are refused; nothing is ever
extracted to disk anyway) with an allowed dtype (never ``object``) and number of dimensions;
every declared size is plausible *before* anything is allocated (below a hard cap, and
consistent with the member's stored and compressed size, so a tiny file cannot make the loader
allocate gigabytes); each ``.npy`` header agrees with the manifest; the data is read with
``allow_pickle=False`` into a buffer of exactly the declared size and its CRC is verified (or,
for a large stored float matrix, memory-mapped after its bounds are checked).  Every problem is
a :class:`ModelFileError` whose one-line message names the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, _limits
from .quantized import decoded_bytes, decoded_shapes

FORMAT = "bowclf-model"
FORMAT_VERSION = 1
HEADER = "header.json"
_MAX_HEADER_BYTES = 16 * 2**20  # the header holds no large data; refuse anything bigger
_MAX_ARRAY_BYTES = 32 * 2**30  # hard cap on one array's declared size, checked before reading
_MAX_NPY_HEADER = 65536  # room for the .npy header inside a member, beyond the data
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand more than ~1032:1: more means a zip bomb
# The vectorizer's width (vocabulary + hash buckets): TextClassifier builds a dense int64
# lookup of this many entries when it loads pruned features, so a header may not ask for more
# than 2 GiB of it (the default 2M buckets need 16 MiB).
MAX_FEATURES = 2**28
_READ_CHUNK = 1 << 20
_MEMBER_NAME = re.compile(r"^(classifier|vectorizer|text|fasttext)/[A-Za-z][A-Za-z0-9_]{0,63}\Z")

# members of a product-quantised matrix (bowclf.io.quantized), by suffix
_QUANTIZED_SCHEMA = {
    "codes": ("u", 2),
    "centroids": ("f", 3),
    "norm_codes": ("u", 1),
    "norm_centroids": ("f", 1),
}
# member name -> (allowed dtype kinds, number of dimensions); nothing else may be in a file.
SCHEMA: dict[str, tuple[str, int]] = {
    "classifier/A": ("f", 2),
    "classifier/B": ("f", 2),
    "classifier/classes": ("Uiubf", 1),
    "classifier/A_accumulator": ("f", 1),
    "classifier/B_accumulator": ("f", 1),
    "classifier/hs_parent": ("i", 1),  # loss='hs': the label tree (bowclf.hsoftmax)
    "classifier/hs_code": ("u", 1),
    "text/classes": ("Uiubf", 1),
    "text/feature_columns": ("iu", 1),
    "text/idf": ("f", 1),
    "vectorizer/version": ("iu", 1),
    "vectorizer/words": ("U", 1),
    "vectorizer/word_counts": ("iu", 1),
    "vectorizer/n_tokens": ("iu", 1),
    # a product-quantised A and B (bowclf.quantize): replace classifier/A, B; decoded at load
    **{f"classifier/A_{k}": v for k, v in _QUANTIZED_SCHEMA.items()},
    **{f"classifier/B_{k}": v for k, v in _QUANTIZED_SCHEMA.items()},
    # a converted fastText model (kind FastTextModel, bowclf.io.fasttext)
    "fasttext/words": ("S", 1),
    "fasttext/counts": ("i", 1),
    "fasttext/prune": ("i", 2),
    "fasttext/A": ("f", 2),
    "fasttext/B": ("f", 2),
    **{f"fasttext/A_{k}": v for k, v in _QUANTIZED_SCHEMA.items()},
}
_NORM = ("codes", "centroids")  # suffixes of quantised norms: <matrix>_norm_codes, ...
CLASSIFIER_MEMBERS = ("classifier/A", "classifier/B", "classifier/classes")
# The optimiser's accumulators (optimizer_state_), written since optimizer= exists; optional.
OPTIMIZER_MEMBERS = ("classifier/A_accumulator", "classifier/B_accumulator")
_VECTORIZER_MEMBERS = (
    "vectorizer/version",
    "vectorizer/words",
    "vectorizer/word_counts",
    "vectorizer/n_tokens",
)

CLASSIFIER_SCALARS = (
    "n_features_in_",
    "multilabel_",
    "threshold_",
    "n_iter_",
    "t_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
)
# Fitted values added after format version 1 was released: absent from older files.
OPTIONAL_SCALARS = ("top_label_", "class_prior_", "best_epoch_", "lr_")


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, of the wrong kind or from a newer bowclf.

    The message is one line that starts with the file's path.
    """


_CORPUS_KEYS = ("format", "text_column", "label_column", "label_sep", "encoding")


def corpus_problem(corpus: Any) -> str | None:
    if not isinstance(corpus, dict):
        return "not a mapping"
    for key, value in corpus.items():
        if key not in _CORPUS_KEYS:
            return f"unknown key {short(key, 40)}"
        if value is not None and not (
            (isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable())
            or (_limits.is_int(value) and 0 <= value < 2**31)
        ):
            return f"bad value for {key}"
    return None


def open_archive(path) -> zipfile.ZipFile:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({_reason(exc)})") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise ModelFileError(f"{path}: invalid path ({exc})") from None
    if p.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
    if not p.is_file():
        raise ModelFileError(f"{path}: not a regular file, so not a model file")
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({_reason(exc)})") from None
    try:
        return zipfile.ZipFile(p, "r")
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({_reason(exc)})") from None
    except MemoryError:
        raise
    except Exception:  # BadZipFile, and struct/overflow/value errors from damaged records
        raise ModelFileError(f"{path}: {_not_a_zip(head, st.st_size)}") from None


def _not_a_zip(head: bytes, size: int) -> str:
    if size == 0:
        return "empty file, not a bowclf model file"
    if head.startswith(b"PK\x03\x04"):
        return "truncated or corrupt model file (a zip archive without a valid directory)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            "is a Python pickle, not a bowclf model file (bowclf never loads pickles; model "
            "files are zip archives of .npy arrays)"
        )
    return "not a bowclf model file (not a zip archive)"


def _check(condition: bool, path, message: str) -> None:
    if not condition:
        raise ModelFileError(f"{path}: {message}")


def read_header(zf: zipfile.ZipFile, path) -> dict[str, Any]:
    infos = zf.infolist()
    names = [i.filename for i in infos]
    _check(len(names) == len(set(names)), path, "duplicate members in model file")
    _check(HEADER in names, path, f"not a bowclf model file (no {HEADER})")
    hinfo = zf.getinfo(HEADER)
    _check(
        hinfo.file_size <= _MAX_HEADER_BYTES,
        path,
        f"header is implausibly large ({hinfo.file_size} bytes)",
    )
    _check_member_sizes(hinfo, path)
    try:
        header = json.loads(
            _read_member(zf, hinfo, path).decode("utf-8"), parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: header is not valid JSON ({short(exc)})") from None
    _check(
        isinstance(header, dict) and header.get("format") == FORMAT,
        path,
        "not a bowclf model file (wrong format tag)",
    )
    version = header.get("format_version")
    _check(_limits.is_int(version), path, "header has no valid format_version")
    if version > FORMAT_VERSION:
        written_by = header.get("bowclf_version")
        written_by = " ".join(written_by.split())[:40] if isinstance(written_by, str) else "?"
        raise ModelFileError(
            f"{path}: written by a newer bowclf ({written_by}, model format "
            f"{version}); this bowclf {__version__} reads format {FORMAT_VERSION}: upgrade with "
            "pip install -U bowclf"
        )
    _check(version >= 1, path, f"unknown model format version {version}")
    kind = header.get("kind")
    if kind == "FastTextModel":
        return _read_fasttext_header(zf, header, path)
    _check(
        kind in ("TextClassifier", "BowClassifier"),
        path,
        f"unknown model kind {short(kind, 40)}",
    )
    _check(isinstance(header.get("params"), dict), path, "header has no params")
    _check_params(header["params"], path, text=kind == "TextClassifier")
    section = header.get("classifier")
    _check(
        isinstance(section, dict)
        and isinstance(section.get("params"), dict)
        and isinstance(section.get("fitted"), dict),
        path,
        "header has no classifier section",
    )
    _check_fitted(section["fitted"], path)
    _check_params(section["params"], path, text=False)
    _check_members(zf, header, names, path)
    _check(
        _quantization_ok(header.get("quantization")), path,
        "header's quantization entry is not valid (cutoff, dsub, qnorm, retrained)",
    )  # fmt: skip
    A = header["arrays"].get("classifier/A")
    shape = list(A.get("shape", [])) if isinstance(A, dict) else None
    dim = header["params"].get("dim")
    _check(
        shape is None or dim is None or shape[1:] == [dim], path,
        f"header's params say dim {short(dim, 20)}, its A is {short(shape, 40)}",
    )  # fmt: skip
    return header


def _quantization_ok(entry: Any) -> bool:
    """A header's ``quantization`` record (:func:`bowclf.quantize`'s settings), when present:
    both readers (``bowclf.load`` and ``load_predictor``/``info``) check it here alike."""
    if entry is None:
        return True
    if not isinstance(entry, dict) or not set(entry) <= {"cutoff", "dsub", "qnorm", "retrained"}:
        return False
    cutoff, dsub = entry.get("cutoff"), entry.get("dsub", 1)
    return (
        (cutoff is None or (_limits.is_int(cutoff) and cutoff >= 1))
        and _limits.is_int(dsub)
        and dsub >= 1
        and all(isinstance(entry.get(k, False), bool) for k in ("qnorm", "retrained"))
    )


def _check_members(zf: zipfile.ZipFile, header: dict, names: list[str], path) -> None:
    """The text section, the manifest and the archive's members agree; sizes plausible."""
    kind = header["kind"]
    required = set(CLASSIFIER_MEMBERS)
    allowed = set(CLASSIFIER_MEMBERS) | set(OPTIMIZER_MEMBERS)
    if header["classifier"]["params"].get("loss") == "hs":  # the tree of hierarchical softmax
        required |= {"classifier/hs_parent", "classifier/hs_code"}
        allowed |= {"classifier/hs_parent", "classifier/hs_code"}
    for matrix in ("classifier/A", "classifier/B"):  # product-quantised (bowclf.quantize)
        if isinstance(header.get("arrays"), dict) and f"{matrix}_codes" in header["arrays"]:
            codes = {f"{matrix}_codes", f"{matrix}_centroids"}
            required = required - {matrix} | codes
            allowed = allowed - {matrix} | codes | {f"{matrix}_norm_{k}" for k in _NORM}
    if kind == "TextClassifier":
        text = header.get("text")
        _check(
            isinstance(text, dict)
            and isinstance(text.get("multilabel"), bool)
            and isinstance(text.get("binarized"), bool)
            and isinstance(text.get("training_summary", {}), dict)
            and corpus_problem(text.get("corpus", {})) is None,
            path,
            "header has no valid text section",
        )
        required |= set(_VECTORIZER_MEMBERS)
        allowed |= set(_VECTORIZER_MEMBERS) | {"text/feature_columns", "text/idf"}
        if text["binarized"]:
            required.add("text/classes")
            allowed.add("text/classes")
    manifest = header.get("arrays")
    _check(isinstance(manifest, dict), path, "header has no array manifest")
    for name in names:
        if name != HEADER and not _MEMBER_NAME.match(name):
            raise ModelFileError(f"{path}: illegal member name {short(name, 80)} in model file")
    unexpected = sorted(((set(names) - {HEADER}) | set(manifest)) - allowed)
    if unexpected:
        raise ModelFileError(f"{path}: unexpected member {short(unexpected[0], 80)} in model file")
    unlisted = sorted(set(names) - set(manifest) - {HEADER})
    if unlisted:
        raise ModelFileError(f"{path}: member {unlisted[0]!r} is not in the header's manifest")
    missing = sorted((required | set(manifest)) - set(names))
    if missing:
        raise ModelFileError(
            f"{path}: missing member {missing[0]!r} (truncated or incomplete file?)"
        )
    _check_declared_sizes(zf, manifest, path)
    shapes = {name: spec["shape"] for name, spec in manifest.items()}
    try:  # quantised: A (B) has one row per code row
        shapes = decoded_shapes(header, shapes)
    except ValueError as exc:
        raise ModelFileError(f"{path}: inconsistent model file: {exc}") from None
    _check_shapes(header, shapes, path)
    return header


def _check_declared_sizes(zf: zipfile.ZipFile, manifest: dict, path) -> None:
    """Every manifest entry is allowed and plausible, and its member holds that many bytes."""
    for name, spec in manifest.items():
        dtype, shape = _check_spec(name, spec, path)
        nbytes = dtype.itemsize * math.prod(shape)
        _check(
            nbytes <= _MAX_ARRAY_BYTES,
            path,
            f"{name!r} declares an absurd size ({shape}, {nbytes:,} bytes)",
        )
        member = zf.getinfo(name)
        _check_member_sizes(member, path)
        _check(
            nbytes <= member.file_size <= nbytes + _MAX_NPY_HEADER,
            path,
            f"{name!r} holds {member.file_size:,} bytes, which does not match its declared "
            f"shape {shape} (truncated or altered file?)",
        )


def _read_fasttext_header(zf: zipfile.ZipFile, header: dict, path) -> dict[str, Any]:
    """Checks of a converted fastText model's manifest (its values are checked at load)."""
    manifest = header.get("arrays")
    _check(isinstance(manifest, dict), path, "header has no array manifest")
    names = {i.filename for i in zf.infolist()} - {HEADER}
    allowed = {n for n in SCHEMA if n.startswith("fasttext/")}
    unexpected = sorted((names | set(manifest)) - allowed)
    if unexpected:
        raise ModelFileError(f"{path}: unexpected member {short(unexpected[0], 80)} in model file")
    _check(names == set(manifest), path, "the manifest does not list exactly the members")
    dense = "fasttext/A" in names
    quantized = {"fasttext/A_codes", "fasttext/A_centroids"} <= names
    _check(
        {"fasttext/words", "fasttext/counts", "fasttext/B"} <= names and dense != quantized,
        path,
        "missing fasttext members (truncated or incomplete file?)",
    )
    _check_declared_sizes(zf, manifest, path)
    return header


def _check_shapes(header: dict, shapes: dict[str, list[int]], path) -> None:
    """The declared shapes must fit together (before any array is read)."""
    A, B = shapes["classifier/A"], shapes["classifier/B"]
    n_classes = shapes["classifier/classes"][0]

    def fail(message: str) -> None:
        raise ModelFileError(f"{path}: inconsistent model file: {message}")

    if A[1] != B[1]:
        fail(f"A has dim {A[1]} but B has dim {B[1]}")
    hs = header["classifier"]["params"].get("loss") == "hs"
    if B[0] != n_classes - hs:
        fail(f"B has {B[0]} rows but there are {n_classes} classes")
    for name in ("classifier/hs_parent", "classifier/hs_code"):
        if (name in shapes) != hs or (hs and shapes[name] != [2 * n_classes - 1]):
            fail(f"{name} must hold 2c - 1 = {2 * n_classes - 1} tree nodes for loss='hs' only")
    if n_classes < 1 or A[1] < 1:
        fail("the model has no classes or dim 0")
    n_in = header["classifier"]["fitted"]["n_features_in_"]
    if n_in != A[0]:
        fail(f"n_features_in_ is {n_in} but A has {A[0]} rows")
    for name, rows in (("classifier/A_accumulator", A[0]), ("classifier/B_accumulator", B[0])):
        if name in shapes and shapes[name] != [rows]:
            fail(f"{name} has shape {shapes[name]} but its matrix has {rows} rows")
    columns = shapes.get("text/feature_columns")
    if columns is not None and columns[0] != A[0]:
        fail(f"{columns[0]} feature columns but A has {A[0]} rows")
    idf = shapes.get("text/idf")
    if idf is not None and idf[0] != A[0]:
        fail(f"{idf[0]} idf weights but A has {A[0]} rows")
    labels = shapes.get("text/classes")
    if labels is not None and labels[0] != n_classes:
        fail(f"{labels[0]} label names but {n_classes} classifier outputs")
    if "vectorizer/words" in shapes:
        if shapes["vectorizer/word_counts"] != shapes["vectorizer/words"]:
            fail("the vectorizer has a different number of words and word counts")
        if shapes["vectorizer/version"] != [1] or shapes["vectorizer/n_tokens"] != [1]:
            fail("the vectorizer's version and n_tokens must have shape [1]")


# ---------------------------------------------------------------------- bounds
def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in strict JSON")


def _check_params(params: dict, path, *, text: bool) -> None:
    """Every parameter in the header lies where ``fit`` accepts it (so a hostile header cannot
    make prediction run for minutes or allocate gigabytes, and whatever loads a file —
    :func:`bowclf.load` or the predictor — refuses the same files with the same message)."""
    problem = _limits.param_problem(params, text=text)
    _check(problem is None, path, f"inconsistent model file: {problem}")


_available_memory = _limits.available_memory


def _memory_needed(header: dict) -> int:
    """Bytes a load will allocate: the arrays (read, then converted at most once) and the
    column lookup of a pruned vectorizer (8 bytes per vocabulary word and hash bucket)."""
    arrays = header["arrays"]
    total = 0
    for spec in arrays.values():
        total += 2 * np.dtype(spec["dtype"]).itemsize * math.prod(spec["shape"])
    total += decoded_bytes(arrays)  # quantised matrices are decoded at load
    if "text/feature_columns" in arrays:
        words = arrays["vectorizer/words"]["shape"][0]
        total += 8 * (words + int(header["params"].get("buckets") or 0))
    return total


def check_memory(header: dict, path) -> None:
    needed = _memory_needed(header)
    available = _available_memory()
    if available is not None and needed > available:
        raise ModelFileError(
            f"{path}: loading this model needs about {needed / 2**30:.1f} GiB of memory but "
            f"only {available / 2**30:.1f} GiB is available"
        )


def check_weight_scale(arrays: dict[str, np.ndarray], path) -> None:
    problem = _limits.weight_problem(arrays["classifier/A"], arrays["classifier/B"])
    _check(problem is None, path, f"inconsistent model file: {problem}")


def _check_fitted(fitted: dict, path) -> None:
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    def count(v: Any) -> bool:
        return _limits.is_int(v) and 0 <= v < 2**63

    def numbers(v: Any) -> bool:  # a non-finite score is saved as null
        return isinstance(v, list) and all(x is None or number(x) for x in v)

    ok = (
        all(k in fitted for k in CLASSIFIER_SCALARS)
        and all(count(fitted[k]) for k in ("n_features_in_", "n_iter_", "t_"))
        and isinstance(fitted["multilabel_"], bool)
        and number(fitted["threshold_"])
        and 0.0 <= fitted["threshold_"] <= 1.0
        and numbers(fitted["loss_curve_"])
        and numbers(fitted["validation_scores_"])
        and (fitted["best_validation_score_"] is None or number(fitted["best_validation_score_"]))
        and isinstance(fitted.get("top_label_", False), bool)
        and ("lr_" not in fitted or (number(fitted["lr_"]) and fitted["lr_"] > 0))
    )
    _check(ok, path, "header has invalid fitted values")


def _check_member_sizes(member: zipfile.ZipInfo, path) -> None:
    name = member.filename
    _check(
        member.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED),
        path,
        f"{name!r} uses an unsupported compression method ({member.compress_type})",
    )
    _check(not member.flag_bits & 0x1, path, f"{name!r} is encrypted")
    if member.compress_type == zipfile.ZIP_STORED:
        _check(
            member.compress_size == member.file_size,
            path,
            f"{name!r} has inconsistent sizes (corrupt file)",
        )
    else:
        _check(
            member.file_size <= max(member.compress_size, 1) * _MAX_DEFLATE_RATIO,
            path,
            f"{name!r} declares an implausible uncompressed size (corrupt file or zip bomb)",
        )


def _check_spec(name: str, spec: Any, path) -> tuple[np.dtype, list[int]]:
    kinds, ndim = SCHEMA[name]
    _check(
        isinstance(spec, dict)
        and isinstance(spec.get("dtype"), str)
        and len(spec["dtype"]) <= 32
        and isinstance(spec.get("shape"), list)
        and all(_limits.is_int(s) and s >= 0 for s in spec["shape"]),
        path,
        f"bad manifest entry for {name!r}",
    )
    try:
        dtype = np.dtype(spec["dtype"])
    except Exception:
        raise ModelFileError(f"{path}: bad dtype {short(spec['dtype'], 40)} for {name!r}") from None
    _check(
        dtype.kind in kinds and not dtype.hasobject and dtype.fields is None and dtype.itemsize,
        path,
        f"dtype {short(spec['dtype'], 40)} is not allowed for {name!r}",
    )
    _check(dtype.kind != "f" or dtype.itemsize in (4, 8), path, f"dtype {dtype} for {name!r}")
    _check(
        len(spec["shape"]) == ndim,
        path,
        f"{name!r} must have {ndim} dimension(s), not {len(spec['shape'])}",
    )
    return dtype, spec["shape"]


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, path) -> bytes:
    try:
        return zf.read(member)
    except MemoryError:
        raise
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, OSError, ...
        raise ModelFileError(f"{path}: corrupt member {member.filename!r} ({short(exc)})") from None


def _read_npy_header(f, name: str, spec: dict, path) -> tuple[tuple, bool, np.dtype]:
    """Parse a member's ``.npy`` header (never its data) and check it against the manifest."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (zipfile.BadZipFile, OSError, EOFError):
        raise
    except Exception as exc:  # ValueError/TypeError/SyntaxError on bad .npy headers
        raise ModelFileError(f"{path}: {name!r} is not a valid .npy array ({short(exc)})") from None
    _check(
        not dtype.hasobject and dtype.kind in SCHEMA[name][0] and dtype.fields is None,
        path,
        f"{name!r} holds a disallowed dtype {dtype}"
        + (" (pickled objects are never loaded)" if dtype.hasobject else ""),
    )
    _check(
        dtype == np.dtype(spec["dtype"]) and list(shape) == spec["shape"],
        path,
        f"{name!r} is {dtype.str} {list(shape)} but the header says "
        f"{spec['dtype']} {spec['shape']}",
    )
    return shape, fortran, dtype


def peek_arrays(zf: zipfile.ZipFile, header: dict, path) -> None:
    """Check every member's ``.npy`` header against the manifest without reading data."""
    for name, spec in header["arrays"].items():
        try:
            with zf.open(name) as f:
                _read_npy_header(f, name, spec, path)
        except (ModelFileError, MemoryError):
            raise
        except Exception as exc:  # BadZipFile, zlib.error, EOFError, OSError, ...
            raise ModelFileError(f"{path}: corrupt member {name!r} ({short(exc)})") from None


def read_array(zf: zipfile.ZipFile, name: str, spec: dict, path) -> np.ndarray:
    """Read one ``.npy`` member into a buffer of exactly the declared size (no pickle)."""
    try:
        with zf.open(name) as f:
            shape, fortran, dtype = _read_npy_header(f, name, spec, path)
            nbytes = dtype.itemsize * math.prod(shape)
            buf = np.empty(nbytes, dtype=np.uint8)
            pos = 0
            while pos < nbytes:
                chunk = f.read(min(_READ_CHUNK, nbytes - pos))
                if not chunk:
                    raise ModelFileError(f"{path}: {name!r} is truncated")
                buf[pos : pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                pos += len(chunk)
            _check(not f.read(1), path, f"{name!r} has trailing data")
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:  # BadZipFile (bad CRC), zlib.error, EOFError, OSError, ...
        raise ModelFileError(f"{path}: corrupt member {name!r} ({short(exc)})") from None
    arr = buf.view(dtype)
    if fortran:
        return arr.reshape(tuple(shape)[::-1]).T
    return arr.reshape(shape)


# Large uncompressed float members are memory-mapped instead of read: a prediction then reads
# only the rows of A it needs (the pages the OS brings in), and nothing is copied.  The
# member's bounds are checked against the archive; its CRC is not (it would read it all).
MAPPED = ("classifier/A", "fasttext/A")
_MAP_MIN_BYTES = 1 << 22


def map_array(zf: zipfile.ZipFile, name: str, spec: dict, path) -> np.ndarray | None:
    """A read-only memory map of a stored (uncompressed) ``.npy`` member, or None when the
    member is small, compressed or not laid out as a plain ``.npy`` inside the file."""
    import struct

    member = zf.getinfo(name)
    if member.compress_type != zipfile.ZIP_STORED or member.file_size < _MAP_MIN_BYTES:
        return None
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(member.header_offset)
            local = f.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = member.header_offset + 30 + name_len + extra_len
            f.seek(start)
            shape, fortran, dtype = _read_npy_header(f, name, spec, path)
            offset = f.tell()
    except OSError:
        return None
    nbytes = dtype.itemsize * math.prod(shape)
    if fortran or offset + nbytes != start + member.file_size or start + member.file_size > size:
        return None
    if nbytes == 0:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def short(exc: Any, limit: int = 200) -> str:
    if isinstance(exc, BaseException):
        text = " ".join(str(exc).split()) or type(exc).__name__
    else:
        text = repr(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."
