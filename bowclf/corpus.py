"""Reading labelled and unlabelled text corpora.

This module is the single entry point through which the CLI (``fit``, ``predict``,
``evaluate``) and the Python API read documents. It is stdlib only, streams its
input (memory use is bounded by the longest line or record, never by the file) and
reports every problem the user can cause as a one-line :class:`CorpusError`.

Formats
-------
``csv`` / ``tsv``
    Delimited text with ``"`` quoting (quotes inside a quoted field are doubled).
    The ``csv`` delimiter is sniffed among ``,`` ``\\t`` ``;`` ``|`` (an Excel
    ``sep=X`` first line is honoured); ``tsv`` always uses a tab. Quoted fields
    may span lines, but with a tab delimiter not into a line holding a tab: that is a
    stray ``"`` that swallowed rows, an error (files written by the csv module or pandas
    quote a field with a tab or a line break; one with both is very rare in text).
    A header row is recognised when one of its cells is a known
    column name (:data:`TEXT_COLUMN_NAMES` such as ``text``, ``review``,
    ``tweet``, or :data:`LABEL_COLUMN_NAMES` such as ``label``, ``class``,
    ``sentiment``, other than ``y``) or a column name passed by the caller, unless
    another of its cells recurs in its column in the next lines, as a label of
    headerless data does (``pos,review`` then ``pos,great`` is data). A later row
    equal to the header is an error (two files joined). Without a header and without
    explicit columns a 2-column file is ``label,text`` and a 1-column file is
    text only. Empty lines are skipped.
``jsonl``
    One JSON object per line (``.jsonl``, ``.ndjson`` and ``.json``). The text and
    label keys are found by the same names (case-insensitive) or given explicitly.
    A label may be a string, a number, a boolean or a list of those (multi-label).
    Blank lines are skipped; a JSON array file is rejected with a hint.
``fasttext``
    ``__label__A __label__B some text``: the leading ``__label__`` tokens are the
    labels, the rest of the line is the text. Blank lines are skipped when labels are
    required (training, evaluation); read for prediction (``require_labels=False``) a
    blank line is an empty document, so outputs line up with the input lines.
``text``
    One document per line and no labels (for prediction). Every line, including
    a blank one, is a document, so outputs line up with the input lines.

Decoding
--------
The default encoding is UTF-8; a UTF-8 byte-order mark is removed and a UTF-16 or
UTF-32 byte-order mark switches to that encoding. Any Python codec name is
accepted, unless the input cannot be in it: a byte-order mark of another Unicode
encoding, or UTF-16/UTF-32 text without one, is an error naming the encoding to pass.
NUL characters in the decoded input are read as spaces, the whitespace they are to
fastText and to bowclf's tokenisers, so a document splits into the same words whether it
is read from a file or given as a Python string (a JSON ``"\\u0000"`` escape inside a
string is data and is kept).

Lines end at ``\\n`` or ``\\r\\n`` in every format. A lone ``\\r`` is a character of its
line (whitespace to fastText and to the tokenisers, so a line is one document, as for
``wc -l`` and the Python API), unless the input's first 64 KiB hold a ``\\r`` but no
``\\n``: an old Mac file, whose lines end at ``\\r``.

Compression
-----------
gzip, bzip2 and xz input is recognised by its magic bytes, for paths, standard
input and binary file objects alike, so the extension is not required. A path
ending in ``.gz``/``.bz2``/``.xz`` whose content is not compressed that way is an
error, as are ZIP and Zstandard archives (decompress them first).

Documents
---------
Text is returned verbatim (only the line terminator of line-based formats is
removed), except that a blank or whitespace-only document becomes ``''``; such
documents are kept, the model handles empty documents. Labels are stripped of
surrounding whitespace and de-duplicated (order kept); ``label_sep`` splits a
label cell into several labels.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from .corpus_formats import (
    LABEL_COLUMN_NAMES,
    TEXT_COLUMN_NAMES,
    Column,
    Record,
    _csv_lines,
    _csv_records,
    _fasttext_records,
    _jsonl_records,
    _looks_like_header,
    _new_record,
    _Options,
    _sample_rows,
    _sniff_delimiter,
)
from .textio import (
    _COMPRESSION_EXTS,
    CorpusError,
    Source,
    _display_name,
    _lookup_encoding,
    _short,
    _TextReader,
    open_text,
)

__all__ = [
    "FORMATS",
    "LABEL_COLUMN_NAMES",
    "FormatGuessNote",
    "TEXT_COLUMN_NAMES",
    "Corpus",
    "CorpusError",
    "Record",
    "detect_format",
    "format_named_by",
    "iter_chunks",
    "iter_records",
    "iter_texts",
    "makes_multilabel",
    "open_text",
    "read_corpus",
]


class FormatGuessNote(UserWarning):
    """``format='auto-text'`` read its input as something other than plain text: a line of
    it may have been taken for a header, and a document's commas for a column break, so the
    caller may want to say so (``bowclf predict`` prints it as a note)."""


#: The formats :func:`iter_records` understands.
FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "fasttext", "text")

_FORMAT_ALIASES = {"json": "jsonl", "ndjson": "jsonl", "txt": "text"}
_EXT_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_LABEL_PREFIX = "__label__"
_SAMPLE_LINES = 20
_SAMPLE_CHARS = 1 << 16


def makes_multilabel(label_sep: str | None, several: bool) -> bool:
    """Whether a corpus makes a multi-label model: its label cells are split (``label_sep``
    given) or some document has several labels (``several``: a fastText line with several
    ``__label__`` tokens) — the one rule of every training route."""
    return label_sep is not None or several


@dataclass
class Corpus:
    """An in-memory corpus, as returned by :func:`read_corpus`.

    Attributes
    ----------
    texts : list of str
        The documents.
    labels : list of tuple of str
        The labels of each document (several for multi-label data).
    name : str
        Display name of the input, used in error messages.
    """

    texts: list[str]
    labels: list[tuple[str, ...]]
    name: str = field(default="<corpus>")

    def __len__(self) -> int:
        return len(self.texts)

    def makes_multilabel(self, label_sep: str | None) -> bool:
        """Whether the corpus, read with ``label_sep``, makes a multi-label model
        (:func:`makes_multilabel`)."""
        return makes_multilabel(label_sep, self.is_multilabel)

    @property
    def is_multilabel(self) -> bool:
        """bool: True if some document has more than one label."""
        return any(len(labels) > 1 for labels in self.labels)

    @property
    def classes(self) -> list[str]:
        """list of str: The distinct labels, sorted."""
        return sorted({label for labels in self.labels for label in labels})

    @property
    def y(self) -> list[str]:
        """list of str: One label per document.

        Raises
        ------
        CorpusError
            If a document has no label or several labels (use :attr:`labels`).
        """
        out: list[str] = []
        for i, labels in enumerate(self.labels):
            if len(labels) != 1:
                what = "no label" if not labels else f"{len(labels)} labels"
                raise CorpusError(
                    f"document {i + 1} has {what}, so the corpus has no single label per "
                    "document (multi-label data: read its label sets, Corpus.labels)",
                    source=self.name,
                )
            out.append(labels[0])
        return out


# ---------------------------------------------------------------------------
# Format detection
# ---------------------------------------------------------------------------


def _format_extension(path_or_name: object) -> str:
    if path_or_name is None:
        return ""
    try:
        name = _display_name(path_or_name)
    except TypeError:
        return ""
    base = os.path.basename(name).lower()
    stem, ext = os.path.splitext(base)
    if ext in _COMPRESSION_EXTS:
        ext = os.path.splitext(stem)[1]
    return ext


def format_named_by(path_or_name: object) -> str | None:
    """The format a file's name says (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``/
    ``.json``, a compression extension ignored), or None: a name that decides the format
    before any remembered or guessed one (:func:`detect_format`)."""
    return _EXT_FORMATS.get(_format_extension(path_or_name))


def detect_format(
    path_or_name: object,
    first_lines: Sequence[str],
    *,
    guess_tabs: bool = True,
    columns: Sequence[object] = (),
) -> str:
    """Guess a corpus format from its name and first lines.

    Parameters
    ----------
    path_or_name : str, path-like, file object or None
        The input or its name; a compression extension (``.gz``, ``.bz2``, ``.xz``)
        is ignored. ``'-'`` or ``None`` means no name.
    first_lines : sequence of str
        The first lines of the (decoded) input, with or without line terminators.

    Returns
    -------
    str
        ``'csv'`` for ``.csv``; ``'tsv'`` for ``.tsv``/``.tab``; ``'jsonl'`` for
        ``.jsonl``/``.ndjson``/``.json``. Otherwise the content decides:
        ``'fasttext'`` if a line starts with ``__label__``; for ``.txt`` then
        ``'text'``; else ``'jsonl'`` if the first line is a JSON object (or
        array), ``'csv'``/``'tsv'`` if the first row is a header with a known column
        name (or one of the column names in ``columns``), ``'tsv'`` if at least two
        lines all have the same number of tabs (not with ``guess_tabs=False``: plain
        text to predict may hold tabs), and ``'text'`` otherwise.
    """
    ext = _format_extension(path_or_name)
    if ext in _EXT_FORMATS:
        return _EXT_FORMATS[ext]
    lines = [line for line in first_lines if line and not line.isspace()]
    if any(line.lstrip().startswith(_LABEL_PREFIX) for line in lines):
        return "fasttext"
    if ext == ".txt" or not lines:
        return "text"
    first = lines[0].strip()
    if first[:1] in ("{", "["):
        if first == "[":
            return "jsonl"
        try:
            value = json.loads(first)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, (dict, list)):
            return "jsonl"
    split = list(_csv_lines(lines))
    delim = _sniff_delimiter(split, truncated=True)
    if delim is not None:
        rows = _sample_rows(split, delim) or [[]]
        if _looks_like_header(rows[0], columns, rows[1:]):
            return "tsv" if delim == "\t" else "csv"
    tabs = {line.count("\t") for line in lines}
    if guess_tabs and len(lines) >= 2 and len(tabs) == 1 and min(tabs) >= 1:
        return "tsv"
    return "text"


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


def _check_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    key = fmt.strip().lower() if isinstance(fmt, str) else fmt
    key = _FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise CorpusError(f"unknown format {_short(fmt)} (choose one of {', '.join(FORMATS)})")
    return key


def _check_column(value: Column, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CorpusError(f"{what} must be a column name or a 0-based index, not {_short(value)}")
    if isinstance(value, int) and value < 0:
        raise CorpusError(f"{what} index must be >= 0, not {value}")
    if isinstance(value, str) and not value.strip():
        raise CorpusError(f"{what} must not be empty")


def _check_json_columns(text_column: Column, label_column: Column, name: str | None) -> None:
    for col, what in ((text_column, "text_column"), (label_column, "label_column")):
        if isinstance(col, int):
            raise CorpusError(
                f"{what} must be a key name for JSON Lines input, not {col}", source=name
            )


def iter_records(
    source: Source,
    *,
    format: str | None = None,
    text_column: Column = None,
    label_column: Column = None,
    label_sep: str | None = None,
    has_header: bool | None = None,
    encoding: str = "utf-8",
    require_labels: bool = True,
    delimiter: str | None = None,
) -> Iterator[Record]:
    """Stream the documents of a corpus.

    Parameters
    ----------
    source : str, path-like or file object
        See :func:`open_text` (``'-'`` is standard input).
    format : {'csv', 'tsv', 'jsonl', 'fasttext', 'text', 'auto-text'}, optional
        Input format (aliases: 'json', 'ndjson', 'txt'); detected with
        :func:`detect_format` when omitted. ``'auto-text'`` detects too but reads
        plain text unless the content says otherwise (a CSV/TSV header naming a
        known column, JSON objects, ``__label__`` lines): for documents to predict
        arriving on standard input.
    text_column, label_column : str or int, optional
        CSV/TSV: a header name or a 0-based index (a string of digits is an index
        unless the header has a column of that name). JSONL: a key name. By
        default columns are found by :data:`TEXT_COLUMN_NAMES` and
        :data:`LABEL_COLUMN_NAMES`; a 2-column file without a header is
        ``label,text``, and in a 2-column file naming one column is enough.
    label_sep : str, optional
        Split label cells into several labels at this separator (whitespace
        separators split at any run of whitespace); empty parts are dropped. Not
        used for fastText, whose labels are separate ``__label__`` tokens.
    has_header : bool, optional
        Whether a CSV/TSV file has a header row; detected when omitted.
    encoding : str, default 'utf-8'
        See :func:`open_text`.
    require_labels : bool, default True
        If True every document must have a non-empty label. If False, a missing
        label column or empty label gives ``labels=()`` (for prediction).
    delimiter : str, optional
        CSV delimiter (one character); sniffed among ``, \\t ; |`` when omitted.

    Yields
    ------
    Record
        ``(text, labels, line)`` with the 1-based line the record starts on.

    Raises
    ------
    CorpusError
        For any problem with the arguments or the input. Argument errors are raised
        by the call; input errors (including a missing file) when iterating. An
        empty input yields nothing.

    Notes
    -----
    When ``format`` is None, 'csv' or 'tsv', up to 20 lines (64 KiB) are read ahead
    for detection; with 'text', 'jsonl' or 'fasttext' records are produced as soon
    as their line arrives (for streaming from a pipe). CSV rows must all have the
    same number of fields as the first row (ragged rows are an error, not skipped),
    and parsing is strict: an unterminated quote or text after a closing quote is an
    error. Calling this raises the process-wide ``csv.field_size_limit`` to the
    maximum so that fields of any size can be read.
    """
    return _iter_records(
        source,
        *_prepared(format=format, text_column=text_column, label_column=label_column,
                   label_sep=label_sep, has_header=has_header, encoding=encoding,
                   require_labels=require_labels, delimiter=delimiter),
    )  # fmt: skip


def _prepared(
    *, format, text_column, label_column, label_sep, has_header, encoding, require_labels,
    delimiter,
) -> tuple[str | None, str, _Options]:  # fmt: skip
    """``(format, encoding, options)`` of :func:`iter_records`'s keyword arguments, checked."""
    fmt = "auto-text" if format == "auto-text" else _check_format(format)
    opts = _Options(
        text_column=text_column,
        label_column=label_column,
        label_sep=label_sep,
        has_header=has_header,
        require_labels=bool(require_labels),
        delimiter=delimiter,
    )
    _check_options(opts, fmt)
    _lookup_encoding(encoding)
    return fmt, encoding, opts


def _prepared_keywords(kw: dict[str, Any]) -> tuple[str | None, str, _Options]:
    """:func:`_prepared` of some of :func:`iter_records`'s keyword arguments, the others at
    its defaults (read from its signature, so they are stated once); an unknown keyword is
    a ``TypeError``."""
    bound = inspect.signature(iter_records).bind(None, **kw)
    bound.apply_defaults()
    bound.arguments.pop("source")
    return _prepared(**bound.arguments)


def _check_options(opts: _Options, fmt: str | None) -> None:
    """Refuse bad arguments of :func:`iter_records` when it is called, not when iterated."""
    _check_column(opts.text_column, "text_column")
    _check_column(opts.label_column, "label_column")
    label_sep, delimiter, has_header = opts.label_sep, opts.delimiter, opts.has_header
    if label_sep is not None and (not isinstance(label_sep, str) or not label_sep):
        raise CorpusError("label_sep must be a non-empty string")
    if delimiter is not None and (
        not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'
    ):
        raise CorpusError(
            f"delimiter must be a single character other than a quote or newline, "
            f"not {_short(delimiter)}"
        )
    if has_header not in (None, True, False):
        raise CorpusError(f"has_header must be True, False or None, not {_short(has_header)}")
    if fmt == "jsonl":
        _check_json_columns(opts.text_column, opts.label_column, None)


def _iter_records(
    source: Source,
    fmt: str | None,
    encoding: str,
    opts: _Options,
    layout: dict[str, Any] | None = None,
) -> Iterator[Record]:
    """The records of ``source``; ``layout``: see :func:`~.corpus_formats._csv_records`
    (given filled, ``source`` is a part of a CSV/TSV file after its first row)."""
    stream = cast(_TextReader, open_text(source, encoding, newline="\n"))
    try:
        name = stream.name
        sample: list[str] = []
        truncated = False
        if layout:  # a part of a CSV/TSV file: its format and layout are known
            stream._settle_line_ends(layout["cr_lines"])
            yield from _csv_records([], False, stream._batches(), "csv", name, opts, layout)
            return
        # only '\n' and '\r\n' end a line, a lone '\r' is whitespace in it (as for fastText and
        # the tokenisers), unless the input has no '\n' at all: an old Mac file, read as the
        # csv module reads it
        cr_lines = stream._settle_line_ends()
        if fmt in (None, "auto-text", "csv", "tsv"):
            total = 0
            while line := stream.readline():
                sample.append(line)
                total += len(line)
                if len(sample) >= _SAMPLE_LINES or total >= _SAMPLE_CHARS:
                    truncated = True
                    break
        if fmt in (None, "auto-text"):
            guessed = fmt == "auto-text"
            named = (opts.text_column, opts.label_column)
            fmt = detect_format(name, sample, guess_tabs=fmt is None, columns=named)
            if guessed and fmt != "text":
                first = sample[0].rstrip("\r\n")[:60] if sample else ""
                what = f"first line {first!r} taken for a header" if fmt in ("csv", "tsv") else ""
                warnings.warn(
                    FormatGuessNote(
                        f"{name}: read as {fmt}{' (' + what + ')' if what else ''}, not as one "
                        "document per line"
                    ),
                    stacklevel=2,
                )
            if fmt == "jsonl":
                _check_json_columns(opts.text_column, opts.label_column, name)
        if fmt in ("csv", "tsv"):  # the CSV reader takes its sample as it was read
            yield from _csv_records(
                sample, truncated, stream._batches(), fmt, name, opts, layout, cr_lines
            )
            return
        all_lines = itertools.chain(sample, stream.iter_lines())
        if fmt == "jsonl":
            yield from _jsonl_records(all_lines, name, opts)
        elif fmt == "fasttext":
            yield from _fasttext_records(all_lines, name, opts)
        else:
            if opts.require_labels:
                raise CorpusError(
                    "plain text (one document per line) has no labels; training needs csv, "
                    "tsv, jsonl or fastText input (pass --input-format if detection was wrong)",
                    source=name,
                )
            new = _new_record
            for lineno, line in enumerate(all_lines, 1):
                if line.endswith(("\n", "\r")):
                    line = line[:-2] if line.endswith("\r\n") else line[:-1]
                yield new(("" if line.isspace() else line, (), lineno))
    finally:
        stream.close()


# ---------------------------------------------------------------------------
# Convenience readers
# ---------------------------------------------------------------------------


def iter_chunks(
    source: Source, chunk_size: int = 10_000, **kw: Any
) -> Iterator[tuple[list[str], list[tuple[str, ...]]]]:
    """Stream a corpus in chunks.

    Parameters
    ----------
    source : str, path-like or file object
        See :func:`open_text`.
    chunk_size : int, default 10000
        Maximum number of documents per chunk.
    **kw
        Keyword arguments of :func:`iter_records`.

    Yields
    ------
    texts : list of str
    labels : list of tuple of str
        Parallel lists of at most ``chunk_size`` documents (the last may be shorter;
        an empty input yields nothing).
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise CorpusError(f"chunk_size must be a positive integer, not {_short(chunk_size)}")
    records = iter_records(source, **kw)

    def chunks() -> Iterator[tuple[list[str], list[tuple[str, ...]]]]:
        while True:
            batch = list(itertools.islice(records, chunk_size))
            if not batch:
                return
            yield [r.text for r in batch], [r.labels for r in batch]

    return chunks()


def read_corpus(source: Source, **kw: Any) -> Corpus:
    """Read a whole corpus into memory.

    Parameters
    ----------
    source : str, path-like or file object
        See :func:`open_text`.
    **kw
        Keyword arguments of :func:`iter_records`.

    Returns
    -------
    Corpus
        The documents and their labels.

    Raises
    ------
    CorpusError
        As :func:`iter_records`, and if the input contains no documents.
    """
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    for record in iter_records(source, **kw):
        texts.append(record.text)
        labels.append(record.labels)
    name = _display_name(source)
    if not texts:
        raise CorpusError(
            "contains no documents (the input is empty or has only a header row)", source=name
        )
    return Corpus(texts, labels, name)


def iter_texts(source: Source, **kw: Any) -> Iterator[str]:
    """Stream the documents of a corpus for prediction (labels are optional).

    Parameters
    ----------
    source : str, path-like or file object
        See :func:`open_text`.
    **kw
        Keyword arguments of :func:`iter_records`; ``require_labels`` defaults to
        False.

    Yields
    ------
    str
        The documents, in input order.
    """
    kw.setdefault("require_labels", False)
    records = iter_records(source, **kw)
    return (record.text for record in records)
