r"""Record parsers of :mod:`bowclf.corpus`: CSV/TSV (header and column resolution, strict
quoting), JSON Lines and fastText lines, each turning decoded lines into :class:`Record`\ s;
and the label rules they share (split, de-duplicated, printable)."""

from __future__ import annotations

import csv
import functools
import itertools
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias, cast

from .textio import CorpusError, _short

#: Header cells / JSON keys recognised as the text column, in order of preference.
TEXT_COLUMN_NAMES: tuple[str, ...] = (
    "text",
    "document",
    "content",
    "sentence",
    "message",
    "body",
    "review",
    "review_text",
    "reviewtext",
    "tweet",
    "utterance",
    "abstract",
    "headline",
)


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
    "polarity",
    "emotion",
    "rating",
    "stars",
)

#: Known names that do not make a first row a header on their own: a label value too
#: (``y,some text`` is the document 'some text' of class ``y``).
_AMBIGUOUS_NAMES = frozenset({"y"})


Column: TypeAlias = "str | int | None"


_DELIMITERS = (",", "\t", ";", "|")


_SEP_LINE = re.compile(r'sep=([^\r\n"])\r?\n?\Z')


_LINE_BREAK = re.compile(r"[\r\n]")
_NEWLINE = re.compile(r"\n")


_FT_LABEL = re.compile(r"[ \t\v\f\r]*__label__(\S*)")


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


def _raise_field_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit = int(limit // 2)


def _csv_lines(lines: Iterable[str], found: list[bool] | None = None) -> Iterator[str]:
    """``lines`` for the csv module, which ends a record at any ``\\r`` outside quotes: a
    ``\\r`` inside a line (where only ``\\n`` or ``\\r\\n`` ends one) is passed as NUL, which
    decoded input never holds (it is read as a space), so that it stays in its field;
    ``found[0]`` is set when one was (:func:`_csv_records` then turns NUL back into ``\\r``)."""
    for line in lines:
        if line.endswith("\n"):
            body = line.rstrip("\r\n")
            end = line[len(body) :]  # \n or \r\n as it is; \r\r\n (csv.writer on Windows,
            end = end if end.count("\r") < 2 else "\r\n"  # without newline='') as \r\n
        else:
            body, end = (line[:-1], "\r") if line.endswith("\r") else (line, "")
        if "\r" in body:
            body = body.replace("\r", "\x00")
            if found is not None:
                found[0] = True
        yield body + end


def _csv_batch_lines(batches: Iterable[Sequence[str]], found: list[bool]) -> Iterator[str]:
    """The lines of ``batches`` as :func:`_csv_lines` gives them, at the cost of one scan
    per batch of lines without a ``\\r`` that does not end a ``\\r\\n``."""
    for batch in batches:
        text = "".join(batch)
        if "\r" in text and text.count("\r") != text.count("\r\n"):
            yield from _csv_lines(batch, found)
        else:
            yield from batch


def _sample_rows(lines: Iterable[str], delim: str) -> list[list[str]]:
    """The non-blank rows of the sample ``lines`` (``[]`` if the csv module refuses them)."""
    try:
        rows = list(csv.reader(_csv_lines(lines), delimiter=delim, strict=False))
    except csv.Error:
        return []
    return [row for row in rows if len(row) > 1 or (row and row[0].strip())]


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


def _looks_like_header(
    cells: Sequence[str], named: Sequence[object] = (), rows: Iterable[Sequence[str]] = ()
) -> bool:
    """Whether a first row is a header: the one rule of every reader and of format detection.

    It is when a cell is a known column name (:data:`TEXT_COLUMN_NAMES`, or
    :data:`LABEL_COLUMN_NAMES` but ``y``) or one of the columns ``named`` by the caller,
    unless another of its (non-blank) cells recurs in the same column of the ``rows`` that
    follow it, as a label of headerless data does (``pos,review`` then ``pos,great`` is
    data).  The names are words that are column names rather than labels or a sentence's
    first word (not ``question``, ``comment`` or ``title``: intent labels, plain text).
    """
    norm = [c.strip().lower() if len(c) < 100 else "" for c in cells]
    given = {n.strip().lower() for n in named if isinstance(n, str) and not n.isdigit()}
    known = set(TEXT_COLUMN_NAMES) | set(LABEL_COLUMN_NAMES) | given
    if not any(n in known and n not in _AMBIGUOUS_NAMES or n in given for n in norm):
        return False
    others = [(i, c.strip()) for i, c in enumerate(cells) if norm[i] not in known and c.strip()]
    return not any(i < len(row) and row[i].strip() == c for row in rows for i, c in others)


@dataclass(frozen=True)
class _Options:
    text_column: Column
    label_column: Column
    label_sep: str | None
    has_header: bool | None
    require_labels: bool
    delimiter: str | None


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
                "empty label (every labelled document needs one; fix the row or drop it)",
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
    row: list[str], opts: _Options, name: str, line: int, delim: str, ahead: list[list[str]]
) -> tuple[bool, int, int | None]:
    """Decide whether ``row`` is a header (``ahead``: the rows of the sample after it) and
    which columns hold text and labels."""
    cols = _Columns(row, name, line, delim)
    header = opts.has_header
    if header is None:
        header = _looks_like_header(row, (), ahead) or any(
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
        need = "--text-column and --label-column" if opts.require_labels else "--text-column"
        raise cols.error(
            f"{cols.width} columns separated by {delim} and no header naming them; pass "
            f"{need} (names or 0-based indexes)"
        )
    if ti == li:
        raise cols.error(f"the text and label columns are the same column ({ti})")
    if li is None and opts.require_labels:
        if cols.width == 1:
            raise cols.error(
                f"only one column found (delimiter {delim}), so there are no labels; "
                "expected label,text columns (check the delimiter, or pass --input-format)"
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


def _ragged(width: int, found: int, delim: str, name: str, line: int) -> CorpusError:
    return CorpusError(
        f"expected {width} field{'s' if width != 1 else ''} but found {found} (a field that "
        f'contains {_delim_desc(delim)}, a quote or a line break must be quoted with ")',
        source=name,
        line=line,
    )


def _csv_delimiter(
    sample: list[str], truncated: bool, fmt: str, opts: _Options
) -> tuple[str, list[str], int]:
    """``(delimiter, sample, lines before it)``: the given delimiter, an Excel ``sep=X``
    first line's (then dropped from the sample), a tab for TSV, or the sniffed one."""
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
            delim = _sniff_delimiter(list(_csv_lines(sample)), truncated) or ","
    return delim, sample, offset


def _csv_reader(
    sample: list[str], truncated: bool, rest: Iterable[Sequence[str]], fmt: str, opts: _Options,
    layout: dict[str, Any] | None,
) -> tuple[Any, list[str], int, list[bool]]:  # fmt: skip
    """``(csv reader, sample, lines before it, lone_cr)`` of :func:`_csv_records`; lone_cr[0]
    is set once a ``\\r`` inside a line was passed to the reader as NUL (:func:`_csv_lines`)."""
    _raise_field_limit()
    if layout:
        delim, offset = layout["delimiter"], 0
    else:
        delim, sample, offset = _csv_delimiter(sample, truncated, fmt, opts)
    lone_cr = [False]
    reader = csv.reader(
        itertools.chain(_csv_lines(sample, lone_cr), _csv_batch_lines(rest, lone_cr)),
        delimiter=delim,
        quotechar='"',
        doublequote=True,
        strict=True,
    )
    return reader, sample, offset, lone_cr


def _first_row(
    row: list[str], sample: list[str], delim: str, opts: _Options, name: str, line: int
) -> dict[str, Any]:
    """The layout the first row sets (see :func:`_csv_records`), but ``format`` and
    ``cr_lines``."""
    ahead = _sample_rows(sample, delim)[1:]  # the rows after this one
    is_header, text, label = _resolve_csv_columns(row, opts, name, line, delim, ahead)
    return {"delimiter": delim, "width": len(row), "text": text, "label": label,
            "header": row if is_header else []}  # fmt: skip


def _swallows_a_row(row: list[str], cr_lines: bool, width: int | None) -> bool:
    """Whether a cell of a TSV record that spans lines holds, after a line break (a
    ``\\n``, or with ``cr_lines`` a ``\\r`` too), a line that reads as a row of the file: a
    non-blank first cell, then as many tabs as the rows have (``width − 1``; any, before the
    width is known).  The sign of a stray ``"`` opening a quoted field that swallowed whole
    rows; indented text (a line starting with a tab or a space) is no such sign."""
    breaks = _LINE_BREAK if cr_lines else _NEWLINE
    for cell in row:
        for line in breaks.split(cell)[1:]:
            tabs = line.count("\t")
            if tabs and line[:1].strip() and line[: line.index("\t")].strip():
                if width is None or tabs == width - 1:
                    return True
    return False


def _stray_quote(name: str, line: int) -> CorpusError:
    return CorpusError(
        'a field opened by a " on this line runs over a line break into a line with a tab: '
        'a stray quote? (a TSV field that starts with " must end with one, its inner quotes '
        "doubled; for text with tabs and line breaks use CSV or JSON Lines)",
        source=name,
        line=line,
    )


def _repeated_header(name: str, line: int) -> CorpusError:
    return CorpusError(
        "this row repeats the header row (two files joined? keep only the first file's header)",
        source=name,
        line=line,
    )


def _csv_records(
    sample: list[str],
    truncated: bool,
    rest: Iterable[Sequence[str]],
    fmt: str,
    name: str,
    opts: _Options,
    layout: dict[str, Any] | None = None,
    cr_lines: bool = False,
) -> Iterator[Record]:
    """The records of CSV/TSV lines: ``sample`` then the batches of lines ``rest``.
    ``layout``: an empty dict is filled with the delimiter, the row width, the text and
    label columns, the header row (``[]`` if none) and ``cr_lines`` (whether a lone ``\\r``
    ends a line) once the first row has set them; a filled one gives them for lines that
    start after the first row (a part of the file: no sniffing, no header, every row is data
    of that width). A later row equal to the header is an error (two files joined), as is a
    tab-separated record whose quoted field holds a line break followed by a tab (a stray
    quote that swallowed rows)."""
    reader, sample, offset, lone_cr = _csv_reader(sample, truncated, rest, fmt, opts, layout)
    delim = reader.dialect.delimiter
    width: int | None = None
    text_idx = 0
    label_idx: int | None = None
    header: list[str] = []
    if layout:
        width, text_idx, label_idx = layout["width"], layout["text"], layout["label"]
        header = layout["header"]
    prev = offset
    require = opts.require_labels
    label_sep = opts.label_sep
    new = _new_record
    tsv = delim == "\t"
    try:
        for row in reader:
            start = prev + 1
            prev = offset + reader.line_num
            if lone_cr[0]:
                row = [cell.replace("\x00", "\r") for cell in row]
            if prev != start and tsv and _swallows_a_row(row, cr_lines, width):
                raise _stray_quote(name, start)
            if not row or (width != 1 and len(row) == 1 and (not row[0] or row[0].isspace())):
                continue
            if len(row) != width:
                if width is not None:
                    raise _ragged(width, len(row), delim, name, start)
                first = _first_row(row, sample, delim, opts, name, start)
                width, text_idx, label_idx = first["width"], first["text"], first["label"]
                if layout is not None:
                    layout.update(first, format=fmt, cr_lines=cr_lines)
                if header := first["header"]:
                    continue
            elif row == header and len(row) > 1:  # one column: a document may be its name
                raise _repeated_header(name, start)
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
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity, 1e400
        raise CorpusError(
            f"the {_short(key)} value is {value!r}, not a label (the estimators refuse NaN "
            "and infinite labels too)",
            source=name,
            line=line,
        )
    if isinstance(value, (int, float, str)):
        return str(value)
    raise CorpusError(
        f"the {_short(key)} value must be a string, a number or a list of them, not "
        f"{type(value).__name__}",
        source=name,
        line=line,
    )


_JSON_ARRAY = (
    "a JSON array is not supported; convert it to JSON Lines (one object per line), e.g. "
    "jq -c '.[]' data.json > data.jsonl"
)


def _jsonl_records(lines: Iterable[str], name: str, opts: _Options) -> Iterator[Record]:
    keys: tuple[str, str | None] | None = None
    require = opts.require_labels
    for lineno, line in enumerate(lines, 1):
        if not line or line.isspace():
            continue
        obj = _json_object(line, name, lineno, first=keys is None)
        if keys is None:
            keys = _json_keys(obj, opts, name, lineno)
        text_key, label_key = keys
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


def _json_object(line: str, name: str, lineno: int, *, first: bool) -> dict[str, Any]:
    """One line of JSON Lines parsed; it must be an object (a first ``[`` gets a hint)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        if first and line.lstrip().startswith("["):
            raise CorpusError(_JSON_ARRAY, source=name, line=lineno) from None
        raise CorpusError(
            f"invalid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object",
            source=name,
            line=lineno,
        ) from None
    except (ValueError, RecursionError) as exc:
        raise CorpusError(f"invalid JSON ({exc})", source=name, line=lineno) from None
    if not isinstance(obj, dict):
        if first and isinstance(obj, list):
            raise CorpusError(_JSON_ARRAY, source=name, line=lineno)
        raise CorpusError(
            f"expected a JSON object, got {type(obj).__name__} (each line must be one object "
            'like {"text": ..., "label": ...})',
            source=name,
            line=lineno,
        )
    return obj


def _json_keys(
    obj: dict[str, Any], opts: _Options, name: str, lineno: int
) -> tuple[str, str | None]:
    """``(text key, label key)`` from the first record, by name or as the other of two keys."""
    keys = ", ".join(_short(k, 30) for k in list(obj)[:12]) or "none"
    text_key = _json_key(obj, opts.text_column, TEXT_COLUMN_NAMES)
    label_key = None
    if opts.label_column is not None or text_key is not None or len(obj) == 2:
        label_key = _json_key(obj, opts.label_column, LABEL_COLUMN_NAMES)
    if text_key is None and opts.text_column is None and label_key and len(obj) == 2:
        text_key = next(k for k in obj if k != label_key)
    if label_key is None and opts.label_column is None and text_key and len(obj) == 2:
        if opts.require_labels:
            label_key = next(k for k in obj if k != text_key)
    for kind, key, column, known in (
        ("text", text_key, opts.text_column, TEXT_COLUMN_NAMES),
        ("label", label_key, opts.label_column, LABEL_COLUMN_NAMES),
    ):
        if key is None and (kind == "text" or opts.require_labels or column is not None):
            what = (
                f"no key {_short(column)}"
                if column is not None
                else f"no {kind} key (looked for {', '.join(known)})"
            )
            raise CorpusError(
                f"{what} in the record (keys: {keys}); pass --{kind}-column",
                source=name,
                line=lineno,
            )
    if label_key == text_key:
        raise CorpusError(
            f"the text and label keys are the same ({_short(text_key)})", source=name, line=lineno
        )
    return text_key, label_key


def _fasttext_records(lines: Iterable[str], name: str, opts: _Options) -> Iterator[Record]:
    """The records of fastText lines; a blank line is skipped when labels are required, and
    is an empty document otherwise (prediction: one output per input line, as for text)."""
    require = opts.require_labels
    match = _FT_LABEL.match
    for lineno, raw in enumerate(lines, 1):
        line = _chomp(raw)
        if not line or line.isspace():
            if not require:
                yield Record("", (), lineno)
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
                "--input-format if this is not fastText input)",
                source=name,
                line=lineno,
            )
        text = line[pos:].strip() if pos else line.strip()
        yield Record(text, _finish_labels(labels, require, name, lineno), lineno)
