"""Safe model files: one zip archive of ``.npy`` arrays plus a JSON header, never pickle.

Layout of a ``.bowclf`` file (format version 1)::

    header.json              JSON: format, format_version, bowclf_version, kind,
                             params, fitted scalars, training summary, and a manifest of every
                             array member with its dtype and shape
    classifier/A             Aᵀ, float32, shape (p, dim) (one row per feature)
    classifier/B             B, float32, shape (c, dim)
    classifier/classes       class labels (unicode, integer, float or bool dtype)
    classifier/A_accumulator optional: the optimiser's accumulator per feature, float64 (p,)
    classifier/B_accumulator optional: the optimiser's accumulator per row of B, float64 (c,)
    vectorizer/<name>        the fitted vectorizer state (TextClassifier only):
                             version, words, word_counts, n_tokens
    text/classes             label names of multi-label models trained on label sets
    text/feature_columns     vectorizer columns kept by prune_features (if any)
    text/idf                 float32 weight of every classifier feature (use_idf models)

Every member except the header is one array in ``.npy`` format.

Writing is atomic: the archive is written to a temporary file ``.NAME.XXXX.tmp`` beside the
target, flushed to disk and renamed over it, so an interrupted or failed save never leaves a
truncated model and never destroys an existing one.  Non-finite parameters are refused.

Loading trusts nothing in the file: :mod:`bowclf.io.modelfile` checks the archive, the header,
the manifest, every declared size (before anything is allocated) and every ``.npy`` header, and
reads the data without pickle; this module then requires the arrays to fit together (A and B
share ``dim``, B has one row per class, finite values, sorted unique classes, the vectorizer's
width matches A) and to give finite probabilities on a smoke test.  Anything else is refused
with a :class:`ModelFileError` whose one-line message names the file and the problem.  No code
from the file is ever executed.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from ._json import json_safe
from ._limits import all_finite
from .io.modelfile import (
    CLASSIFIER_MEMBERS,
    CLASSIFIER_SCALARS,
    FORMAT,
    FORMAT_VERSION,
    HEADER,
    MAPPED,
    MAX_FEATURES,
    OPTIMIZER_MEMBERS,
    OPTIONAL_SCALARS,
    SCHEMA,
    ModelFileError,
    check_memory,
    check_weight_scale,
    corpus_problem,
    map_array,
    open_archive,
    peek_arrays,
    read_array,
    read_header,
    short,
)

if TYPE_CHECKING:  # pragma: no cover
    from .classifier import BowClassifier
    from .inference import TextPredictor
    from .io.fasttext import FastTextModel
    from .text import TextClassifier

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "info",
    "load",
    "load_predictor",
    "load_with_header",
    "read_classes",
    "save",
]


# ---------------------------------------------------------------------- saving
_WRITE_CHUNK = 1 << 20  # bytes of an array handed to a zip member at a time


def _write_npy(member, arr: np.ndarray) -> None:
    """``arr`` in ``.npy`` format (``np.lib.format.write_array``'s bytes), the values of a
    C-contiguous numeric array written from its own memory a megabyte at a time:
    ``write_array`` copies 16 MB chunks to ``bytes`` first, which made the save the peak
    memory of an out-of-core fit (bench/RESULTS-threads.md)."""
    if not arr.flags.c_contiguous or arr.dtype.hasobject or arr.dtype.kind == "U":
        np.lib.format.write_array(member, arr, allow_pickle=False)
        return
    np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(arr))
    values = memoryview(arr.reshape(-1)).cast("B") if arr.size else memoryview(b"")
    for start in range(0, values.nbytes, _WRITE_CHUNK):
        member.write(values[start : start + _WRITE_CHUNK])


def save(
    model: TextClassifier | BowClassifier | FastTextModel, path: str | os.PathLike, *,
    corpus: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Write a fitted :class:`~bowclf.TextClassifier` or :class:`~bowclf.BowClassifier` to
    ``path`` atomically (temporary file + rename) and return the path.

    Parameters
    ----------
    model : TextClassifier, BowClassifier or FastTextModel
        The fitted model (not modified); a loaded fastText model is written as a bowclf file.
    path : str or path-like
        The file to write; an existing regular file is replaced.
    corpus : dict, optional
        How the training corpus was read (keys ``format``, ``text_column``, ``label_column``,
        ``label_sep``, ``encoding``; str, int or None values), stored in the header's ``text``
        section (text models only) so that ``bowclf evaluate`` and ``predict`` read test data
        alike.  ``None``: those a loaded model came with (a new fit drops them); ``{}``: none.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If the model is not fitted, has non-finite parameters or holds something a model file
        cannot represent safely (a callable tokenizer, labels of mixed types).
    OSError
        If the file cannot be written; an existing file at ``path`` is then left unchanged and
        no temporary file remains.
    """
    header, arrays = _to_members(model)
    if corpus is None:  # a loaded model's own, saved again
        corpus = getattr(model, "_corpus", None)
    if corpus:
        if "text" not in header:
            raise ValueError("corpus conventions are stored for TextClassifier models only")
        header["text"]["corpus"] = _corpus_section(corpus)
    for name in ("classifier/A", "classifier/B", "fasttext/A", "fasttext/B"):
        if name in arrays and not all_finite(arrays[name]):
            raise ValueError("the model's parameters contain NaN or infinity; it was not saved")
    header["arrays"] = {
        name: {"dtype": arr.dtype.str, "shape": list(arr.shape)} for name, arr in arrays.items()
    }
    header_bytes = json.dumps(header, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    path = Path(path)
    if path.exists() and not path.is_file():
        # os.replace would put the model in place of a directory, a device or a FIFO
        raise ValueError(f"{path}: exists and is not a regular file; not replaced")
    from .atomic import atomic_write

    with atomic_write(path, "wb", durable=True) as raw, zipfile.ZipFile(raw, "w") as zf:
        header_info = zipfile.ZipInfo(HEADER, date_time=(1980, 1, 1, 0, 0, 0))
        header_info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(header_info, header_bytes)
        for name, arr in sorted(arrays.items()):  # one order however it was built
            member_info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            # Numbers barely compress; vocabularies (unicode arrays) do.
            member_info.compress_type = (
                zipfile.ZIP_DEFLATED if arr.dtype.kind == "U" else zipfile.ZIP_STORED
            )
            with zf.open(member_info, "w", force_zip64=True) as member:
                _write_npy(member, arr)
    return path


def _to_members(model) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if type(model).__name__ == "FastTextModel":
        from .io.fasttext import FastTextModel, to_members

        if isinstance(model, FastTextModel):
            header, arrays = to_members(model)
            return {**_base_header(), **header}, arrays
    if getattr(model, "_quantized", None) is not None:  # bowclf.quantize output
        from .quantization import quantized_members

        return quantized_members(model, _to_members_dense(model))
    return _to_members_dense(model)


def _without_wall_clock(model) -> dict[str, Any]:
    """The training summary without its wall-clock seconds and the path of a kept token
    cache (a fresh temporary directory): the same seed (and ``n_jobs``) gives byte-identical
    model files, so nothing measured in time or drawn at random is stored."""
    summary = dict(getattr(model, "training_summary_", {}) or {})
    for key in ("seconds", "pass_seconds", "epoch_seconds", "cache"):  # those: out of core
        summary.pop(key, None)
    if isinstance(summary.get("distributed"), dict):  # Dask's own timings
        summary["distributed"] = {
            k: v for k, v in summary["distributed"].items() if not k.endswith("_seconds")
        }
    return summary


def _base_header() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bowclf_version": __version__,
    }


def _to_members_dense(model) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from .classifier import BowClassifier
    from .text import TextClassifier

    if isinstance(model, TextClassifier):
        if not hasattr(model, "classifier_"):
            raise ValueError("the model is not fitted: call fit() before saving it")
        if callable(model.tokenizer):
            raise ValueError(
                "a model with a custom tokenizer function cannot be saved safely (the file "
                "format stores no code); use tokenizer='default' or 'whitespace' or a "
                "token_pattern"
            )
        header, arrays = _classifier_members(model.classifier_)
        header["kind"] = "TextClassifier"
        header["params"] = _json_params(model.trained_params())
        header["text"] = {
            "multilabel": bool(model.multilabel_),
            "binarized": model._binarizer is not None,
            "training_summary": _jsonable(_without_wall_clock(model)),
            "inputs": _jsonable(model.inputs_),
        }
        if model._binarizer is not None:  # label sets: classes live in the binarizer
            arrays["text/classes"] = _label_array(model.classes_)
        for key, value in model.vectorizer_.get_fitted_state().items():
            name = f"vectorizer/{key}"
            if name not in SCHEMA:
                raise ValueError(
                    f"unknown vectorizer state {key!r}: the model file format "
                    "cannot store it (update bowclf.io.modelfile.SCHEMA)"
                )
            arrays[name] = np.asarray(value)
        if model.feature_columns_ is not None:
            arrays["text/feature_columns"] = np.asarray(model.feature_columns_, dtype=np.int64)
        if model.idf_ is not None:
            arrays["text/idf"] = np.asarray(model.idf_, dtype=np.float32)
        return header, arrays
    if isinstance(model, BowClassifier):
        header, arrays = _classifier_members(model)
        header["kind"] = "BowClassifier"
        header["params"] = _json_params(model.trained_params())
        return header, arrays
    raise TypeError(f"cannot save a {type(model).__name__}: expected a bowclf model")


def _classifier_members(clf) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not hasattr(clf, "A_"):
        raise ValueError("the model is not fitted: call fit() before saving it")
    header = {
        **_base_header(),
        "classifier": {
            "params": _json_params(clf.trained_params()),
            "fitted": {
                k: _jsonable(getattr(clf, k)) for k in CLASSIFIER_SCALARS + OPTIONAL_SCALARS
            },
        },
    }
    arrays = {
        "classifier/A": np.ascontiguousarray(clf.A_.T, dtype=np.float32),
        "classifier/B": np.ascontiguousarray(clf.B_, dtype=np.float32),
        "classifier/classes": _label_array(clf.classes_),
    }
    for key, value in getattr(clf, "optimizer_state_", {}).items():  # optimiser accumulators
        arrays[f"classifier/{key}"] = np.ascontiguousarray(value, dtype=np.float64)
    for name, value in clf.loss_object().state().items():  # e.g. hierarchical softmax's tree
        arrays[f"classifier/{name}"] = value
    return header, arrays


def _corpus_section(corpus: dict[str, Any]) -> dict[str, Any]:
    problem = corpus_problem(corpus)
    if problem:
        raise ValueError(f"corpus conventions: {problem}")
    return dict(corpus)


def _label_array(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind in "UO":
        for value in arr.ravel().tolist():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(
                        f"class label {value!r} is not valid Unicode text (it holds an unpaired "
                        "surrogate), so it could never be printed; fix the labels"
                    ) from None
    if arr.dtype.kind == "O":
        kinds = {type(v) for v in arr.tolist()}
        if kinds <= {str}:
            arr = arr.astype(str)
        else:
            raise ValueError(
                f"class labels of types {sorted(k.__name__ for k in kinds)} cannot be stored; "
                "use str or int labels"
            )
    return arr


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState | np.random.Generator):
            value = None  # the fitted arrays are saved; the generator's state is not needed
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        out[key] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    """A header value as strict JSON (:func:`bowclf._json.json_safe`); a dtype is stored by
    name, and any other value no model file can hold is refused (``ValueError``)."""
    return json_safe(value, _stored_name)


def _stored_name(value: Any) -> str:
    if isinstance(value, type):  # e.g. a dtype class such as numpy.float32
        return np.dtype(value).name
    if isinstance(value, np.dtype):
        return value.name
    raise ValueError(f"cannot store parameter value {value!r} in a model file")


# ---------------------------------------------------------------------- loading
def info(path: str | os.PathLike) -> dict[str, Any]:
    """The validated JSON header of a model file (the arrays' data is not read, only their
    ``.npy`` headers are checked against the manifest).

    Parameters
    ----------
    path : str or path-like
        A bowclf model file, or a fastText ``.bin``/``.ftz`` file.

    Returns
    -------
    dict
        The header (for a fastText file, a dict of the same shape describing it).

    Raises
    ------
    ModelFileError
        As :func:`load`, for every problem that can be seen without reading the arrays.
    """
    if _is_fasttext(path):
        from .io.fasttext import fasttext_info

        return fasttext_info(path)
    with open_archive(path) as zf:
        header = read_header(zf, path)
        peek_arrays(zf, header, path)
    from .io.quantized import decoded_manifest

    decoded_manifest(header)  # quantised: describe the A (and B) that loading decodes
    return header


def read_classes(path: str | os.PathLike) -> np.ndarray:
    """The class labels of a model file (validated as by :func:`info`; only that member's
    data is read; a fastText ``.bin``/``.ftz`` file's labels come from its dictionary)."""
    if _is_fasttext(path):
        from .io.fasttext import load_fasttext

        return np.asarray(load_fasttext(path).classes_)
    with open_archive(path) as zf:
        header = read_header(zf, path)
        name = "text/classes" if "text/classes" in header["arrays"] else "classifier/classes"
        return read_array(zf, name, header["arrays"][name], path)


def load(path: str | os.PathLike) -> TextClassifier | BowClassifier | FastTextModel:
    """Load a model saved by :func:`save`, validating every member; no code is executed.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`, or a fastText ``.bin``/``.ftz`` file (read by
        :mod:`bowclf.io.fasttext`).

    Returns
    -------
    TextClassifier, BowClassifier or FastTextModel
        The fitted model, of the kind recorded in the file.

    Raises
    ------
    ModelFileError
        If the file is missing, not a bowclf model, corrupt, truncated, from a newer format
        version, holds members, dtypes, shapes or values that do not fit together or that
        ``fit`` could never have produced, or needs more memory than is available.
    """
    return load_with_header(path)[0]


def load_with_header(
    path: str | os.PathLike,
) -> tuple[TextClassifier | BowClassifier | FastTextModel, dict[str, Any]]:
    """:func:`load` the model and also return its validated header (see :func:`info`); a
    fastText ``.bin``/``.ftz`` file (read by :mod:`bowclf.io.fasttext`) has none: ``{}``."""
    return _load(path, predictor=False)


def _load(path, *, predictor: bool) -> tuple[Any, dict[str, Any]]:
    """:func:`load_with_header`, or with ``predictor`` :func:`load_predictor`."""
    if _is_fasttext(path):
        from .io.fasttext import load_fasttext

        return load_fasttext(path), {}
    with open_archive(path) as zf:
        header = read_header(zf, path)
        check_memory(header, path)
        text = predictor and header["kind"] == "TextClassifier"
        # large uncompressed members memory-mapped, the rest read (each checked); the
        # predictor needs no optimiser accumulators
        arrays = {
            name: _read_member(zf, name, spec, path)
            for name, spec in header["arrays"].items()
            if not (text and name in OPTIMIZER_MEMBERS)
        }
    if not text:
        return _build(header, arrays, path), header
    with _one_line_errors(path):
        from .io.predictor import build_predictor

        model = build_predictor(header, arrays, path)
        _smoke_test(model, "TextClassifier")
        return model, header


def _read_member(zf, name: str, spec: dict, path) -> np.ndarray:
    mapped = map_array(zf, name, spec, path) if name in MAPPED else None
    return mapped if mapped is not None else read_array(zf, name, spec, path)


def load_predictor(
    path: str | os.PathLike,
) -> tuple[TextPredictor | BowClassifier | FastTextModel, dict[str, Any]]:
    """The prediction path of a model file and its validated header, without importing
    scikit-learn: a :class:`bowclf.inference.TextPredictor` for a text model (what
    ``bowclf predict`` uses), else what :func:`load_with_header` returns.

    The predictor predicts exactly as the :func:`load`-ed estimator does (they share
    :mod:`bowclf.inference`).  The file is validated as by :func:`load` — every header value
    bounded, every member checked, no code executed — except that the values of a
    memory-mapped ``A`` are checked row by row when a document first uses them (a prediction
    reads only the rows it needs), and the optimiser's accumulators are not read.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`, or a fastText ``.bin``/``.ftz`` file.

    Returns
    -------
    model : TextPredictor, BowClassifier or FastTextModel
        A :class:`~bowclf.inference.TextPredictor` for a text model, else the loaded model.
    header : dict
        The validated header (``{}`` for a fastText file).

    Raises
    ------
    ModelFileError
        As :func:`load` (for a bad row of ``A``: when a prediction uses it).
    """
    return _load(path, predictor=True)


class _one_line_errors:  # noqa: N801 - a context manager used like a function
    """Turn what a hostile file can provoke while building a model into ModelFileError: the
    checks' own ``ValueError`` messages, or the name of anything else that went wrong."""

    def __init__(self, path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, MemoryError | ModelFileError):
            return False
        if isinstance(exc, ValueError):  # the checks' own messages
            raise ModelFileError(f"{self.path}: inconsistent model file: {short(exc)}") from None
        if isinstance(exc, Exception):
            raise ModelFileError(f"{self.path}: inconsistent model file ({short(exc)})") from None
        return False


def _build(header: dict, arrays: dict[str, np.ndarray], path):
    """The model of a file's validated header and arrays (one-line errors otherwise)."""
    with _one_line_errors(path):
        if header["kind"] == "FastTextModel":
            from .io.fasttext import from_members

            return from_members(header, arrays, path)
        from .io.quantized import decode_model_arrays

        quantized = decode_model_arrays(header, arrays)  # bowclf.quantize's codes: dense A, B
        check_weight_scale(arrays, path)
        if header["kind"] == "BowClassifier":
            model = _build_classifier(header, arrays)
        else:
            model = _build_text_classifier(header, arrays, quantized)
        _smoke_test(model, header["kind"])
        return model


def _is_fasttext(path) -> bool:
    """Whether ``path`` starts with fastText's magic number (its models are not zip files)."""
    from .io.fasttext_reader import is_fasttext_file  # not the whole reader: start-up

    return is_fasttext_file(path)


def _build_classifier(header: dict, arrays: dict[str, np.ndarray]):
    """The classifier of a file, restored by :meth:`BowClassifier._restore`."""
    from .classifier import BowClassifier

    section = header["classifier"]
    return BowClassifier._restore(
        section["params"], section["fitted"], arrays["classifier/A"],
        arrays["classifier/B"], arrays["classifier/classes"],
        {k: arrays[f"classifier/{k}"] for k in ("A_accumulator", "B_accumulator")
         if f"classifier/{k}" in arrays},
        loss_state={
            n.split("/", 1)[1]: a
            for n, a in arrays.items()
            if n.startswith("classifier/") and n not in CLASSIFIER_MEMBERS + OPTIMIZER_MEMBERS
        },
        values_checked=True,  # check_weight_scale (_build) scanned A for NaN/inf already
    )  # fmt: skip


def _build_text_classifier(header: dict, arrays: dict[str, np.ndarray], quantized=None):
    """A text model, restored by :meth:`TextClassifier._restore` (``quantized``: its codes,
    kept so that saving it again writes them)."""
    from .text import TextClassifier

    classifier = _build_classifier(header, arrays)  # the header's buckets: _limits' bound
    section = header["text"]
    return TextClassifier._restore(
        header["params"], classifier,
        {n.split("/", 1)[1]: a for n, a in arrays.items() if n.startswith("vectorizer/")},
        multilabel=section["multilabel"],
        label_set=arrays["text/classes"] if section["binarized"] else None,
        feature_columns=arrays.get("text/feature_columns"), idf=arrays.get("text/idf"),
        training_summary=section.get("training_summary", {}), max_columns=MAX_FEATURES,
        quantized=quantized, inputs=section.get("inputs"), corpus=section.get("corpus"),
    )  # fmt: skip


def _smoke_test(model, kind: str) -> None:
    """Predict two tiny documents: a loaded model must give finite probabilities."""
    if kind == "TextClassifier":
        P = model.predict_proba(["", "a b"])
    else:
        import scipy.sparse as sp

        P = model.predict_proba(sp.csr_array((1, model.n_features_in_), dtype=np.float64))
    if not np.isfinite(P).all():
        raise ValueError("it predicts non-finite probabilities")
