"""``bowclf predict``: labels (and probabilities) of documents, by the model's own decision rule."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from .. import defaults
from .app import (
    _EPILOG,
    _check_output_path,
    _given,
    _is_broken_pipe,
    _isatty,
    _load_model,
    _os_reason,
    _OutputFile,
    _printable,
    _require_stdout,
    cli,
)

# ---------------------------------------------------------------------- predict
_PREDICT_EPILOG = (
    "Output: one line (row) per input document, in input order; every line of plain-text "
    "or fastText input is a document, so a blank line gets a prediction too. Without -k and "
    "--threshold the labels are the model's own prediction (model.predict in Python: the "
    "most probable class, or a multi-label model's label set, in class order; with --proba, their "
    "predict_proba probabilities, for hierarchical softmax of predict_topk or, multi-label "
    f"over more than {defaults.HS_SEARCH_MIN_CLASSES} labels, of the labels' paths); with either, "
    "the most probable labels first (model.predict_topk).\n\n"
    "\b\n"
    "  text   labels separated by spaces; with --proba 'label p label p ...'\n"
    "  csv    a header row, then label[,probability] for k=1, or\n"
    "         label_1[,probability_1],...,label_k[,probability_k] for k>1 (k at most the\n"
    "         number of classes), cells left empty when fewer labels are predicted;\n"
    "         multi-label models without -k use k = the number of classes;\n"
    "         --no-header leaves the header row out\n"
    "  tsv    as csv, tab-separated\n"
    '  jsonl  {"labels": [...], "probabilities": [...]}, always with probabilities\n'
    "\n" + _EPILOG
)


def _topk_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``-k`` and ``--threshold``, checked by the library's rule
    (:func:`bowclf.inference.check_topk`, as ``predict_topk`` and the server check them)."""
    if value is None:
        return None
    from ..inference import check_topk

    try:
        check_topk(**{str(param.name): value})
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


@cli.command(epilog=_PREDICT_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("inputs", metavar="[INPUT]...", nargs=-1, type=str)
@click.option(
    "-k",
    "k",
    type=int,
    default=None,
    callback=_topk_option,
    help="Print the k most probable labels [default: the model's own prediction: its most "
    "probable label, or a multi-label model's label set (its threshold, else its top label)].",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    callback=_topk_option,
    help="Only print labels with at least this probability (among the k most probable; "
    "without -k, k is 1 for a single-label model, as in fastText, and every label for a "
    "multi-label one).",
)
@click.option("--proba", is_flag=True, help="Print probabilities next to the labels.")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "csv", "tsv", "jsonl"]),
    default=None,
    help="Output format (see below) [default: from the extension of -o (.csv, .tsv, "
    ".jsonl), else text].",
)
@click.option(
    "--header/--no-header",
    default=True,
    show_default=True,
    help="Header row of csv/tsv output.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write predictions to this file (atomically) instead of stdout.",
)
@click.option(
    "--input-format",
    "fmt",
    type=click.Choice(["auto", "text", "csv", "tsv", "jsonl", "fasttext"]),
    default="auto",
    show_default=True,
    help="text: one document per line; csv/tsv/jsonl: the text column; fasttext: the text "
    "after the labels. 'auto': the extension and content of a file; stdin is text unless it "
    "starts with a CSV/TSV header, JSON Lines or fastText lines.",
)
@click.option(
    "--text-column",
    default=None,
    help="Text column (name or 0-based index) [default: the one given to fit, else found by name].",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Input text encoding (any Python codec, e.g. latin-1).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Documents predicted at a time: memory is bounded by this, not by the input "
    "(fewer for models with many classes, so that a chunk's probabilities stay under "
    "128 MiB; 1 when stdin is a terminal, so each line is answered at once).",
)
def predict(
    model_path,
    inputs,
    k,
    threshold,
    proba,
    out_format,
    header,
    output,
    fmt,
    text_column,
    encoding,
    chunk_size,
) -> None:
    """Predict labels for the documents in INPUT files (or stdin: '-' or no INPUT).

    Plain-text input has one document per line; CSV/TSV/JSONL input needs a text column
    (found by name, or --text-column); gzip, bzip2 and xz input is decompressed. Input is
    streamed: any number of documents can be predicted in bounded memory.
    """
    from ..corpus import iter_chunks

    sources = list(inputs) or ["-"]
    output = None if output == "-" else output  # '-o -': standard output, as without -o
    if output is not None:
        _check_output_path(output, model_path, *sources)
    else:
        _require_stdout()
    out_format = out_format or _format_from_extension(output)
    model, conventions = _load_model(model_path, predictor=True)
    if not _given("text_column"):
        text_column = conventions.get("text_column")
    tty = "-" in sources and _isatty(sys.stdin)
    chunk_size = 1 if tty else _chunk_limit(model, chunk_size)
    with_proba = proba or out_format == "jsonl"

    def predict_rows(texts):
        return _predict_rows(model, texts, k, threshold, with_proba)

    try:
        with _output(output) as out:
            writer = _PredictionWriter(out, out_format, proba, _columns_k(model, k), header)
            for source in sources:
                kw = {
                    "format": _predict_format(source, fmt, tty),
                    "text_column": text_column,
                    "encoding": encoding,
                    "require_labels": False,
                }
                chunks = iter_chunks(source, chunk_size=chunk_size, **kw)
                for rows in _in_order(chunks, predict_rows, ahead=0 if tty else 1):
                    writer.write(rows)
                    out.flush()
            writer.close()
    except OSError as exc:  # input errors arrive as CorpusError: this is the output failing
        if _is_broken_pipe(exc):
            raise
        raise click.ClickException(f"{output or '<stdout>'}: {_os_reason(exc)}") from None


def _in_order(chunks, predict_rows, ahead: int):
    """``predict_rows(texts)`` of every chunk, in input order, with the next ``ahead`` chunks
    read and predicted on a second thread meanwhile.

    A chunk's prediction is tokenising (Python, holding the GIL) then scipy's sparse products
    (compiled, releasing it): two chunks in flight keep both cores busy.  Every chunk is
    predicted alone, so the rows are those of one chunk at a time; ``ahead=0`` (a terminal)
    answers each line before reading the next.
    """
    if ahead <= 0:
        for texts, _labels in chunks:
            yield predict_rows(texts)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=ahead + 1, thread_name_prefix="bowclf-predict") as pool:
        pending: deque = deque()
        try:
            for texts, _labels in chunks:
                pending.append(pool.submit(predict_rows, texts))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _predict_format(source: str, fmt: str, tty: bool) -> str | None:
    """The corpus reader's format for one INPUT: files are detected; stdin is plain text
    unless its first lines are a CSV/TSV header, JSON Lines or fastText (not on a terminal,
    where each line is answered as it is typed)."""
    if fmt != "auto":
        return fmt
    if source != "-":
        return None
    return "text" if tty else "auto-text"


_OUTPUT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _format_from_extension(output: str | None) -> str:
    """--format when not given: from the -o file's extension, else text."""
    if output is None:
        return "text"
    return _OUTPUT_EXTENSIONS.get(os.path.splitext(output)[1].lower(), "text")


class _output:  # noqa: N801 - used like open()
    """stdout, or an atomically written file."""

    def __init__(self, path: str | None) -> None:
        self.inner = _OutputFile(path) if path is not None else None

    def __enter__(self) -> IO[str]:
        if self.inner is None:
            return sys.stdout
        return self.inner.__enter__()

    def __exit__(self, *exc) -> None:
        if self.inner is not None:
            self.inner.__exit__(*exc)


def _columns_k(model, k: int | None) -> int:
    """How many label columns csv/tsv output has: never more than the model has classes."""
    c = len(model.classes_)
    if k is not None:
        return min(k, c)
    return c if getattr(model, "multilabel_", False) else 1


def _chunk_limit(model, chunk_size: int) -> int:
    """Documents per chunk so that one chunk's n×c probabilities stay under ~128 MiB."""
    return max(1, min(chunk_size, _PROBA_CELLS // max(len(model.classes_), 1)))


_PROBA_CELLS = 2**24  # float64 cells of one chunk's probability matrix (128 MiB)


def _predict_rows(
    model, texts: Sequence[str], k: int | None, threshold: float | None, with_proba: bool
) -> list[list[tuple[Any, float | None]]]:
    """``(label, probability)`` pairs per document, exactly as the Python API gives them.

    Without ``-k`` and ``--threshold`` the labels are ``model.predict`` (the model's own
    decision rule: the arg-max, or for multi-label models its threshold and fallback), with
    ``predict_proba`` probabilities when they are printed (a single-label model's
    ``predict_with_proba``: for hierarchical softmax those of ``predict_topk(k=1)``; a
    multi-label model's ``predict_sets_with_proba``: only the printed labels' probabilities,
    for hierarchical softmax over many labels from their paths); otherwise
    ``model.predict_topk``.
    """
    from .._json import plain  # imports numpy: not at the command line's start

    multilabel = getattr(model, "multilabel_", False)
    if k is None and threshold is None and with_proba and multilabel:
        if hasattr(model, "predict_sets_with_proba"):  # one pass, only the printed labels
            rows = model.predict_sets_with_proba(texts)
            for i, row in enumerate(rows):
                if not all(math.isfinite(p) for _, p in row):
                    _non_finite(i)
            return [[(plain(lab), float(p)) for lab, p in row] for row in rows]
    if k is None and threshold is None and with_proba and not multilabel:
        if hasattr(model, "predict_with_proba"):  # one pass (hs: no n×c probabilities)
            labels, p = model.predict_with_proba(texts)
            p = _finite(p.reshape(-1, 1))[:, 0]
            return [[(plain(lab), float(q))] for lab, q in zip(labels, p, strict=True)]
    if k is None and threshold is None:
        predicted = model.predict(texts)
        classes = [plain(c) for c in model.classes_]
        if multilabel:
            if hasattr(predicted, "ndim") and predicted.ndim == 2:  # an indicator matrix
                rows = [[classes[j] for j in row.nonzero()[0]] for row in predicted]
            else:
                rows = [[plain(lab) for lab in labels] for labels in predicted]
        else:
            rows = [[plain(lab)] for lab in predicted]
        if not with_proba:
            return [[(lab, None) for lab in row] for row in rows]
        P = _finite(model.predict_proba(texts))
        column = {lab: j for j, lab in enumerate(classes)}
        return [[(lab, float(P[i, column[lab]])) for lab in row] for i, row in enumerate(rows)]
    from ..inference import topk_request

    k, threshold = topk_request(k, threshold, n_classes=len(model.classes_), multilabel=multilabel)
    rows = model.predict_topk(texts, k=k, threshold=threshold)
    return [[(plain(lab), float(p)) for lab, p in row] for row in rows]


def _finite(P):
    import numpy as np

    bad = ~np.isfinite(P).all(axis=1)
    if bad.any():
        _non_finite(int(bad.argmax()))
    return P


def _non_finite(i: int) -> None:
    raise click.ClickException(
        f"the model gives non-finite probabilities for document {i + 1} of this chunk (its "
        "weights overflow); it cannot be used for prediction"
    )


def _format_p(p: float) -> str:
    """A probability with 6 significant digits, more when 6 would round it to 1 or 0."""
    text = f"{p:.6g}"
    digits = 6
    while digits < 17 and (text == "1" and p < 1.0 or text == "0" and p > 0.0):
        digits += 1
        text = f"{p:.{digits}g}"
    return text


class _PredictionWriter:
    def __init__(self, out, fmt: str, proba: bool, k: int, header: bool) -> None:
        self.out = out
        self.fmt = fmt
        self.proba = proba
        self.k = k
        self.header = header and fmt in ("csv", "tsv")
        if fmt in ("csv", "tsv"):
            self.buf = io.StringIO()
            self.csv = csv.writer(
                self.buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n"
            )

    def _write_header(self) -> None:
        if not self.header:
            return
        self.header = False
        if self.k == 1:
            cells = ["label"] + (["probability"] if self.proba else [])
        else:
            cells = []
            for i in range(1, self.k + 1):
                cells.append(f"label_{i}")
                if self.proba:
                    cells.append(f"probability_{i}")
        self.csv.writerow(cells)

    def write(self, rows: list[list[tuple[Any, float]]]) -> None:
        if self.fmt == "jsonl":
            dumps = json.dumps
            self.out.write(
                "".join(
                    dumps(
                        {
                            "labels": [lab for lab, _ in row],
                            "probabilities": [p for _, p in row],
                        },
                        ensure_ascii=False,
                        allow_nan=False,
                    )
                    + "\n"
                    for row in rows
                )
            )
        elif self.fmt == "text":
            if self.proba:
                lines = [
                    " ".join(f"{_printable(lab)} {_format_p(p)}" for lab, p in row) for row in rows
                ]
            else:
                lines = [" ".join(_printable(lab) for lab, _ in row) for row in rows]
            self.out.write("".join(line + "\n" for line in lines))
        else:
            self._write_header()
            width = self.k * (2 if self.proba else 1)
            for row in rows:
                cells: list[Any] = []
                for lab, p in row[: self.k]:
                    cells.append(lab)
                    if self.proba:
                        cells.append(_format_p(p))
                cells.extend([""] * (width - len(cells)))
                self.csv.writerow(cells)
            self._drain()

    def _drain(self) -> None:
        self.out.write(self.buf.getvalue())
        self.buf.seek(0)
        self.buf.truncate()

    def close(self) -> None:
        if self.fmt in ("csv", "tsv"):
            self._write_header()  # an empty input still gets its header row
            self._drain()
