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
    may span lines. A header row is recognised when one of its cells is a known
    column name (:data:`TEXT_COLUMN_NAMES`, or :data:`LABEL_COLUMN_NAMES` other than
    ``y``) or a column name passed by the caller. Without a header and without
    explicit columns a 2-column file is ``label,text`` and a 1-column file is
    text only. Empty lines are skipped.
``jsonl``
    One JSON object per line (``.jsonl``, ``.ndjson`` and ``.json``). The text and
    label keys are found by the same names (case-insensitive) or given explicitly.
    A label may be a string, a number, a boolean or a list of those (multi-label).
    Blank lines are skipped; a JSON array file is rejected with a hint.
``fasttext``
    ``__label__A __label__B some text``: the leading ``__label__`` tokens are the
    labels, the rest of the line is the text. Blank lines are skipped.
``text``
    One document per line and no labels (for prediction). Every line, including
    a blank one, is a document, so outputs line up with the input lines.

Decoding
--------
The default encoding is UTF-8; a UTF-8 byte-order mark is removed and a UTF-16 or
UTF-32 byte-order mark switches to that encoding. Any Python codec name is
accepted. NUL characters in the decoded input are removed (they are never
meaningful in text and usually come from padding; a JSON ``"\\u0000"`` escape inside
a string is data and is kept). ``\\r\\n`` line ends are handled everywhere.

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

import csv
import functools
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias, cast

from .textio import (
    _COMPRESSION_EXTS,
    CorpusError,
    Source,
    _display_name,
    _lookup_encoding,
    _short,
    _TextReader,
    _universal,
    open_text,
)

__all__ = [
    "FORMATS",
    "LABEL_COLUMN_NAMES",
    "TEXT_COLUMN_NAMES",
    "Corpus",
    "CorpusError",
    "Record",
    "detect_format",
    "iter_chunks",
    "iter_records",
    "iter_texts",
    "open_text",
    "read_corpus",
]

#: The formats :func:`iter_records` understands.
FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "fasttext", "text")

#: Header cells / JSON keys recognised as the text column, in order of preference.
TEXT_COLUMN_NAMES: tuple[str, ...] = ("text", "document", "content", "sentence", "message", "body")

#: Header cells / JSON keys recognised as the label column, in order of preference.
LABEL_COLUMN_NAMES: tuple[str, ...] = (
    "label",
    "labels",
    "class",
    "category",
    "target",
    "y",
    "tags",
    "tag",
    "topic",
    "sentiment",
    "intent",
)

Column: TypeAlias = "str | int | None"

_FORMAT_ALIASES = {"json": "jsonl", "ndjson": "jsonl", "txt": "text"}
_EXT_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_DELIMITERS = (",", "\t", ";", "|")
_LABEL_PREFIX = "__label__"
_SAMPLE_LINES = 20
_SAMPLE_CHARS = 1 << 16

_SEP_LINE = re.compile(r'sep=([^\r\n"])\r?\n?\Z')
_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)")
_FT_LABEL = re.compile(r"[ \t\v\f]*__label__(\S*)")


class Record(NamedTuple):
    """One document read from a corpus.

    Attributes
    ----------
    text : str
        The document ('' for a blank document).
    labels : tuple of str
        Its labels; empty when the input has none and labels are not required.
    line : int
        1-based line on which the record starts.
    """

    text: str
    labels: tuple[str, ...]
    line: int


_new_record = functools.partial(tuple.__new__, Record)


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
                    "document (use .labels for multi-label data)",
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


def _raise_field_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit = int(limit // 2)


def _sniff_delimiter(lines: Sequence[str], truncated: bool) -> str | None:
    """Pick the delimiter whose parse gives the most consistent field count (>= 2)."""
    _raise_field_limit()
    best: str | None = None
    best_score = -1.0
    for delim in _DELIMITERS:
        if not any(delim in line for line in lines):
            continue
        try:
            rows = [row for row in csv.reader(lines, delimiter=delim, strict=False) if row]
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        if not rows:
            continue
        widths = [len(row) for row in rows]
        mode = max(sorted(set(widths)), key=widths.count)
        if mode < 2:
            continue
        score = widths.count(mode) / len(widths)
        if score > best_score:
            best, best_score = delim, score
    return best


def _looks_like_header(cells: Sequence[str]) -> bool:
    norm = {c.strip().lower() for c in cells if len(c) < 100}
    return any(n in norm for n in TEXT_COLUMN_NAMES) or any(
        n in norm for n in LABEL_COLUMN_NAMES if n != "y"
    )


def detect_format(
    path_or_name: object, first_lines: Sequence[str], *, guess_tabs: bool = True
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
        name, ``'tsv'`` if at least two lines all have the same number of tabs
        (not with ``guess_tabs=False``: plain text to predict may hold tabs), and
        ``'text'`` otherwise.
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
    split = list(_universal(lines))
    delim = _sniff_delimiter(split, truncated=True)
    if delim is not None:
        try:
            header = next(csv.reader(split, delimiter=delim, strict=False), [])
        except csv.Error:
            header = []
        if _looks_like_header(header):
            return "tsv" if delim == "\t" else "csv"
    tabs = {line.count("\t") for line in lines}
    if guess_tabs and len(lines) >= 2 and len(tabs) == 1 and min(tabs) >= 1:
        return "tsv"
    return "text"


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    text_column: Column
    label_column: Column
    label_sep: str | None
    has_header: bool | None
    require_labels: bool
    delimiter: str | None


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


def _as_index(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _split_labels(cell: str, label_sep: str | None) -> list[str]:
    if label_sep is None:
        label = cell.strip()
        return [label] if label else []
    parts = cell.split() if label_sep.isspace() else cell.split(label_sep)
    return [p for p in (part.strip() for part in parts) if p]


def _finish_labels(labels: list[str], require: bool, name: str, line: int) -> tuple[str, ...]:
    if not labels:
        if require:
            raise CorpusError(
                "empty label (every training document needs a label; fix the row or drop it)",
                source=name,
                line=line,
            )
        return ()
    for label in labels:
        if not label.isprintable():
            raise CorpusError(_label_problem(label), source=name, line=line)
    if len(labels) == 1:
        return (labels[0],)
    return tuple(dict.fromkeys(labels))


def _label_problem(label: str) -> str:
    """Why a label with an unprintable character is refused: predictions are printed one
    line per document, so a label may not hold a line break, an escape code or an unpaired
    surrogate (which cannot even be written as UTF-8)."""
    shown = _short(label)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in label):
        return f"label {shown} is not valid Unicode text (an unpaired surrogate); fix the label"
    return (
        f"label {shown} contains a line break or another control character (predictions are "
        "printed one line per document); fix the label"
    )


def _clean_text(text: str) -> str:
    return "" if text.isspace() else text


def _chomp(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


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
    fmt = "auto-text" if format == "auto-text" else _check_format(format)
    _check_column(text_column, "text_column")
    _check_column(label_column, "label_column")
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
    _lookup_encoding(encoding)
    if fmt == "jsonl":
        _check_json_columns(text_column, label_column, None)
    opts = _Options(
        text_column=text_column,
        label_column=label_column,
        label_sep=label_sep,
        has_header=has_header,
        require_labels=bool(require_labels),
        delimiter=delimiter,
    )
    return _iter_records(source, fmt, encoding, opts)


def _iter_records(
    source: Source, fmt: str | None, encoding: str, opts: _Options
) -> Iterator[Record]:
    stream = cast(_TextReader, open_text(source, encoding, newline="\n"))
    try:
        name = stream.name
        sample: list[str] = []
        truncated = False
        if fmt in (None, "auto-text", "csv", "tsv"):
            total = 0
            while line := stream.readline():
                sample.append(line)
                total += len(line)
                if len(sample) >= _SAMPLE_LINES or total >= _SAMPLE_CHARS:
                    truncated = True
                    break
        if fmt in (None, "auto-text"):
            fmt = detect_format(name, sample, guess_tabs=fmt is None)
            if fmt == "jsonl":
                _check_json_columns(opts.text_column, opts.label_column, name)
        if fmt in ("csv", "tsv"):
            stream._set_universal()
            yield from _csv_records(sample, truncated, stream.iter_lines(), fmt, name, opts)
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
                    "tsv, jsonl or fastText input (pass --format if detection was wrong)",
                    source=name,
                )
            new = _new_record
            for lineno, line in enumerate(all_lines, 1):
                if line.endswith("\n"):
                    line = line[:-2] if line.endswith("\r\n") else line[:-1]
                yield new(("" if line.isspace() else line, (), lineno))
    finally:
        stream.close()


# -- CSV / TSV ------------------------------------------------------------------


def _delim_desc(delim: str) -> str:
    return "a tab" if delim == "\t" else repr(delim)


class _Columns:
    """One CSV row that may be a header: finds columns by name or 0-based index."""

    def __init__(self, row: list[str], name: str, line: int, delim: str) -> None:
        self.row = row
        self.width = len(row)
        self.norm = [c.strip().lower() if len(c) < 100 else "" for c in row]
        self.listing = ", ".join(_short(c, 30) for c in row[:12]) + (
            ", ..." if self.width > 12 else ""
        )
        self.name, self.line, self.delim = name, line, delim

    def error(self, message: str) -> CorpusError:
        return CorpusError(message, source=self.name, line=self.line)

    def name_index(self, col: str) -> int | None:
        if col in self.row:
            return self.row.index(col)
        key = col.strip().lower()
        return self.norm.index(key) if key in self.norm else None

    def known(self, names: Sequence[str], exclude: int | None) -> int | None:
        for n in names:
            if n in self.norm and self.norm.index(n) != exclude:
                return self.norm.index(n)
        return None

    def resolve(self, col: str | int, what: str, header: bool) -> int:
        if isinstance(col, int):
            idx = col
        elif header and self.name_index(col) is not None:
            idx = cast(int, self.name_index(col))
        elif _as_index(col) is not None:
            idx = cast(int, _as_index(col))
        elif header:
            raise self.error(
                f"{what} column {_short(col)} not found in the header ({self.listing}); pass a "
                "column name or a 0-based index"
            )
        else:
            raise self.error(
                f"{what} column {_short(col)} not found: the file has no header row (first "
                f"row: {self.listing}); pass a 0-based column index"
            )
        if idx >= self.width:
            raise self.error(
                f"{what} column index {idx} is out of range: the file has {self.width} "
                f"column(s) separated by {_delim_desc(self.delim)} (indexes start at 0)"
            )
        return idx


def _resolve_csv_columns(
    row: list[str], opts: _Options, name: str, line: int, delim: str
) -> tuple[bool, int, int | None]:
    """Decide whether ``row`` is a header and which columns hold text and labels."""
    cols = _Columns(row, name, line, delim)
    header = opts.has_header
    if header is None:
        header = _looks_like_header(row) or any(
            isinstance(c, str) and _as_index(c) is None and cols.name_index(c) is not None
            for c in (opts.text_column, opts.label_column)
        )
    header = bool(header)
    ti = cols.resolve(opts.text_column, "text", header) if opts.text_column is not None else None
    li = cols.resolve(opts.label_column, "label", header) if opts.label_column is not None else None
    if header:
        if ti is None:
            ti = cols.known(TEXT_COLUMN_NAMES, li)
        if li is None:
            li = cols.known(LABEL_COLUMN_NAMES, ti)
    width = cols.width
    if ti is None and li is None:
        if width == 2:
            li, ti = 0, 1
        elif width == 1:
            ti = 0
    elif ti is None and width == 2:
        ti = 1 - cast(int, li)
    elif li is None and width == 2 and (opts.require_labels or not header):
        li = 1 - ti if ti is not None else None
    return header, _check_columns(cols, ti, li, header, opts), li


def _check_columns(
    cols: _Columns, ti: int | None, li: int | None, header: bool, opts: _Options
) -> int:
    """The text column, once it is known that the columns found make a corpus."""
    delim = _delim_desc(cols.delim)
    if ti is None:
        if header:
            raise cols.error(
                f"cannot tell which column holds the text: the header ({cols.listing}) has "
                f"none of {', '.join(TEXT_COLUMN_NAMES)}; pass --text-column"
            )
        raise cols.error(
            f"{cols.width} columns separated by {delim} and no header naming them; pass "
            "--text-column and --label-column (names or 0-based indexes)"
        )
    if ti == li:
        raise cols.error(f"the text and label columns are the same column ({ti})")
    if li is None and opts.require_labels:
        if cols.width == 1:
            raise cols.error(
                f"only one column found (delimiter {delim}), so there are no labels; "
                "expected label,text columns (check the delimiter, or pass --format)"
            )
        raise cols.error(
            f"no label column found (header: {cols.listing}; looked for "
            f"{', '.join(LABEL_COLUMN_NAMES)}); pass --label-column"
        )
    return ti


def _csv_error(exc: csv.Error, name: str, start: int, current: int) -> CorpusError:
    msg = str(exc)
    if "unexpected end of data" in msg:
        return CorpusError(
            'unterminated quoted field (a " opened in this record is never closed; check the '
            "CSV quoting)",
            source=name,
            line=start,
        )
    if "expected after" in msg:
        return CorpusError(
            'unexpected character after a closing quote (a " inside a quoted field must be '
            'doubled as ""; check the CSV quoting)',
            source=name,
            line=current,
        )
    return CorpusError(f"malformed CSV ({msg}; check the CSV quoting)", source=name, line=current)


def _csv_records(
    sample: list[str],
    truncated: bool,
    rest: Iterator[str],
    fmt: str,
    name: str,
    opts: _Options,
) -> Iterator[Record]:
    _raise_field_limit()
    offset = 0
    delim = opts.delimiter
    if sample:
        m = _SEP_LINE.match(sample[0])
        if m is not None:
            delim = delim or m.group(1)
            sample = sample[1:]
            offset = 1
    if delim is None:
        if fmt == "tsv":
            delim = "\t"
        else:
            delim = _sniff_delimiter(list(_universal(sample)), truncated) or ","
    reader = csv.reader(
        itertools.chain(_universal(sample), rest),
        delimiter=delim,
        quotechar='"',
        doublequote=True,
        strict=True,
    )
    width: int | None = None
    text_idx = 0
    label_idx: int | None = None
    prev = offset
    require = opts.require_labels
    label_sep = opts.label_sep
    new = _new_record
    try:
        for row in reader:
            start = prev + 1
            prev = offset + reader.line_num
            if not row or (width != 1 and len(row) == 1 and (not row[0] or row[0].isspace())):
                continue
            if len(row) != width:
                if width is not None:
                    raise CorpusError(
                        f"expected {width} field{'s' if width != 1 else ''} but found "
                        f"{len(row)} (a field that contains "
                        f'{_delim_desc(delim)}, a quote or a line break must be quoted with ")',
                        source=name,
                        line=start,
                    )
                width = len(row)
                is_header, text_idx, label_idx = _resolve_csv_columns(row, opts, name, start, delim)
                if is_header:
                    continue
            if label_idx is None:
                labels: tuple[str, ...] = ()
            elif label_sep is None:
                label = row[label_idx].strip()
                if label and label.isprintable():
                    labels = (label,)
                elif label:
                    raise CorpusError(_label_problem(label), source=name, line=start)
                else:
                    labels = _finish_labels([], require, name, start)
            else:
                labels = _finish_labels(
                    _split_labels(row[label_idx], label_sep), require, name, start
                )
            text = row[text_idx]
            yield new(("" if text.isspace() else text, labels, start))
    except csv.Error as exc:
        raise _csv_error(exc, name, prev + 1, offset + reader.line_num) from exc


# -- JSON Lines -------------------------------------------------------------------


def _json_key(obj: dict[str, Any], col: Column, names: Sequence[str]) -> str | None:
    if isinstance(col, str):
        if col in obj:
            return col
        key = col.strip().lower()
    else:
        key = None
    lowered: dict[str, str] = {}
    for k in obj:
        lowered.setdefault(k.strip().lower(), k)
    if key is not None:
        return lowered.get(key)
    for n in names:
        if n in lowered:
            return lowered[n]
    return None


def _json_scalar_label(value: Any, key: str, name: str, line: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise CorpusError(
        f"the {_short(key)} value must be a string, a number or a list of them, not "
        f"{type(value).__name__}",
        source=name,
        line=line,
    )


def _jsonl_records(lines: Iterable[str], name: str, opts: _Options) -> Iterator[Record]:
    text_key: str | None = None
    label_key: str | None = None
    resolved = False
    require = opts.require_labels
    for lineno, line in enumerate(lines, 1):
        if not line or line.isspace():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if not resolved and line.lstrip().startswith("["):
                raise CorpusError(
                    "a JSON array is not supported; convert it to JSON Lines (one object per "
                    "line), e.g. jq -c '.[]' data.json > data.jsonl",
                    source=name,
                    line=lineno,
                ) from None
            raise CorpusError(
                f"invalid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON "
                "object",
                source=name,
                line=lineno,
            ) from None
        except (ValueError, RecursionError) as exc:
            raise CorpusError(f"invalid JSON ({exc})", source=name, line=lineno) from None
        if not isinstance(obj, dict):
            if not resolved and isinstance(obj, list):
                raise CorpusError(
                    "a JSON array is not supported; convert it to JSON Lines (one object per "
                    "line), e.g. jq -c '.[]' data.json > data.jsonl",
                    source=name,
                    line=lineno,
                )
            raise CorpusError(
                f"expected a JSON object, got {type(obj).__name__} (each line must be one object "
                'like {"text": ..., "label": ...})',
                source=name,
                line=lineno,
            )
        if not resolved:
            resolved = True
            keys = ", ".join(_short(k, 30) for k in list(obj)[:12]) or "none"
            text_key = _json_key(obj, opts.text_column, TEXT_COLUMN_NAMES)
            label_key = None
            if opts.label_column is not None or text_key is not None or len(obj) == 2:
                label_key = _json_key(obj, opts.label_column, LABEL_COLUMN_NAMES)
            if text_key is None and opts.text_column is None and label_key and len(obj) == 2:
                text_key = next(k for k in obj if k != label_key)
            if label_key is None and opts.label_column is None and text_key and len(obj) == 2:
                if require:
                    label_key = next(k for k in obj if k != text_key)
            if text_key is None:
                what = (
                    f"no key {_short(opts.text_column)}"
                    if opts.text_column is not None
                    else f"no text key (looked for {', '.join(TEXT_COLUMN_NAMES)})"
                )
                raise CorpusError(
                    f"{what} in the record (keys: {keys}); pass --text-column",
                    source=name,
                    line=lineno,
                )
            if label_key is None and (require or opts.label_column is not None):
                what = (
                    f"no key {_short(opts.label_column)}"
                    if opts.label_column is not None
                    else f"no label key (looked for {', '.join(LABEL_COLUMN_NAMES)})"
                )
                raise CorpusError(
                    f"{what} in the record (keys: {keys}); pass --label-column",
                    source=name,
                    line=lineno,
                )
            if label_key == text_key:
                raise CorpusError(
                    f"the text and label keys are the same ({_short(text_key)})",
                    source=name,
                    line=lineno,
                )
        assert text_key is not None
        if text_key not in obj:
            raise CorpusError(
                f"no {_short(text_key)} key in this record (every line needs one)",
                source=name,
                line=lineno,
            )
        value = obj[text_key]
        if isinstance(value, str):
            text = _clean_text(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            text = str(value)
        else:
            raise CorpusError(
                f"the {_short(text_key)} value must be a string, not "
                f"{'null' if value is None else type(value).__name__}",
                source=name,
                line=lineno,
            )
        labels: list[str] = []
        if label_key is not None:
            raw = obj.get(label_key)
            items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
            for item in items:
                labels.extend(
                    _split_labels(_json_scalar_label(item, label_key, name, lineno), opts.label_sep)
                )
        yield Record(text, _finish_labels(labels, require, name, lineno), lineno)


# -- fastText -----------------------------------------------------------------------


def _fasttext_records(lines: Iterable[str], name: str, opts: _Options) -> Iterator[Record]:
    require = opts.require_labels
    match = _FT_LABEL.match
    for lineno, raw in enumerate(lines, 1):
        line = _chomp(raw)
        if not line or line.isspace():
            continue
        labels: list[str] = []
        pos = 0
        found = False
        while (m := match(line, pos)) is not None:
            found = True
            if m.group(1):
                labels.append(m.group(1))
            pos = m.end()
        if require and not found:
            raise CorpusError(
                "no __label__ found (fastText lines look like '__label__pos some text'; pass "
                "--format if this is not fastText input)",
                source=name,
                line=lineno,
            )
        text = line[pos:].strip() if pos else line.strip()
        yield Record(text, _finish_labels(labels, require, name, lineno), lineno)


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
