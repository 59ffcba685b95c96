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

import bz2
import codecs
import csv
import functools
import gzip
import io
import itertools
import json
import lzma
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, TextIO, TypeAlias, cast

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

Source: TypeAlias = "str | os.PathLike[str] | IO[bytes] | IO[str]"
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
_COMPRESSION_EXTS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz"}
_COMPRESSION_TOOLS = {"gzip": "gzip", "bz2": "bzip2", "xz": "xz"}
_DELIMITERS = (",", "\t", ";", "|")
_LABEL_PREFIX = "__label__"
_CHUNK = 1 << 16
_SAMPLE_LINES = 20
_SAMPLE_CHARS = 1 << 16

_SEP_LINE = re.compile(r'sep=([^\r\n"])\r?\n?\Z')
_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)")
_UNIVERSAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_LF_LINE = re.compile(r"[^\n]*\n")
_FT_LABEL = re.compile(r"[ \t\v\f]*__label__(\S*)")

_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)


class CorpusError(ValueError):
    """A corpus cannot be read; the message is one human-readable line.

    The message names the input (``source``) and, where known, the 1-based line
    number (``line``) and says what to do, e.g.
    ``data.csv: line 12: unterminated quoted field (check the CSV quoting)``.

    Parameters
    ----------
    message : str
        What went wrong and how to fix it.
    source : str, optional
        Display name of the input (a path, ``<stdin>`` or ``<stream>``).
    line : int, optional
        1-based line number the problem was found on.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        text = " ".join(str(message).splitlines())
        if line is not None:
            text = f"line {line}: {text}"
        if source is not None:
            text = f"{' '.join(str(source).splitlines())}: {text}"
        super().__init__(text)
        self.source = source
        self.line = line


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
# Opening and decoding
# ---------------------------------------------------------------------------


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _display_name(source: object) -> str:
    if isinstance(source, str) and source == "-":
        return "<stdin>"
    if isinstance(source, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(source))
    name = getattr(source, "name", None)
    if isinstance(name, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(name))
    return "<stream>"


def _lookup_encoding(encoding: str) -> str:
    if not isinstance(encoding, str) or not encoding:
        raise CorpusError(f"invalid encoding {_short(encoding)} (give a codec name such as utf-8)")
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(
            f"unknown encoding {_short(encoding)} (use a Python codec name such as "
            "utf-8, latin-1, cp1252 or utf-16)"
        ) from None
    if info.name == "undefined":  # a codec that exists only to refuse every use
        raise CorpusError(
            f"unknown encoding {_short(encoding)} (use a Python codec name such as "
            "utf-8, latin-1, cp1252 or utf-16)"
        )
    if not getattr(info, "_is_text_encoding", True):
        raise CorpusError(f"{_short(encoding)} is not a text encoding (use e.g. utf-8 or latin-1)")
    return info.name


class _Prefixed:
    """A binary reader that first returns already-read ``head`` bytes."""

    def __init__(self, head: bytes, raw: Any):
        self._head = head
        self._raw = raw
        self.name = getattr(raw, "name", "")

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                rest = self._raw.read()
                out = self._head + (rest or b"")
                self._head = b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        data = self._raw.read(size)
        return data or b""

    def read1(self, size: int = -1) -> bytes:
        if self._head:
            return self.read(size)
        read1 = getattr(self._raw, "read1", None)
        data = read1(size) if read1 is not None else self._raw.read(size)
        return data or b""

    def close(self) -> None:  # never closes the wrapped object
        pass


def _magic_kind(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4] in b"123456789" and len(head) >= 10:
        if head[4:10] in (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90"):
            return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


def _compression_from_name(name: str) -> tuple[str | None, str]:
    ext = os.path.splitext(name.lower())[1]
    return _COMPRESSION_EXTS.get(ext), ext


def _decompress(raw: Any, name: str) -> tuple[Any, str | None]:
    """Wrap ``raw`` in a decompressor chosen by magic bytes (checked against the name)."""
    try:
        peek = getattr(raw, "peek", None)
        if peek is not None:
            head = bytes(peek(16)[:16])
        else:
            head = raw.read(16) or b""
            raw = _Prefixed(head, raw)
    except _READ_ERRORS as exc:
        raise CorpusError(f"read error ({_os_reason(exc)})", source=name) from exc
    kind = _magic_kind(head)
    ext_kind, ext = _compression_from_name(name)
    if kind == "zip" or ext == ".zip":
        raise CorpusError(
            "is a ZIP archive; extract it first (unzip) and pass the file", source=name
        )
    if kind == "zstd" or ext in (".zst", ".zstd"):
        raise CorpusError(
            "is Zstandard-compressed, which is not supported; decompress it first "
            "(zstd -d) or recompress with gzip",
            source=name,
        )
    if ext_kind == "bz2" and head.startswith(b"BZh"):
        kind = "bz2"
    if ext_kind is not None and head and kind != ext_kind:
        raise CorpusError(
            f"not a valid {ext_kind} file (the name ends in {ext} but the content is not "
            f"{ext_kind}-compressed); re-download it or rename it",
            source=name,
        )
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb"), kind
    if kind == "bz2":
        return bz2.BZ2File(raw, mode="rb"), kind
    if kind == "xz":
        return lzma.LZMAFile(raw, mode="rb"), kind
    return raw, None


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    half = len(sample) // 2
    if half < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.9 * half and even <= 0.1 * half:
        return "utf-16-le"
    if even >= 0.9 * half and odd <= 0.1 * half:
        return "utf-16-be"
    return None


class _TextReader(io.TextIOBase):
    """Line-oriented decoding reader with line-numbered, one-line errors.

    Reads a binary stream (decoded with ``encoding``) or a text stream in chunks,
    strips a leading BOM and NUL characters, and splits lines according to
    ``newline`` (``None``: universal and translated to ``\\n``; ``''``: universal,
    untranslated; ``'\\n'``: only at ``\\n``).
    """

    def __init__(
        self,
        *,
        name: str,
        binary: Any = None,
        text: Any = None,
        encoding: str = "utf-8",
        codec: str = "utf-8",
        errors: str = "strict",
        newline: str | None = None,
        compression: str | None = None,
        owned: Sequence[Any] = (),
    ):
        super().__init__()
        self._name = name
        self._binary = binary
        self._text = text
        self._encoding = encoding
        self._codec = codec
        self._errors_handler = errors
        self._newline = newline
        self._compression = compression
        self._owned = list(owned)
        self._decoder: io.IncrementalNewlineDecoder | None = None
        self._lines: deque[str] = deque()
        self._partial: list[str] = []
        self._eof = False
        self._first = True
        self._newlines_seen = 0
        self._read_chunk: Callable[[int], Any]
        if binary is not None:
            self._read_chunk = getattr(binary, "read1", None) or binary.read
        else:
            self._read_chunk = getattr(text, "readline", None) or text.read

    # -- io.TextIOBase interface ------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    @property
    def errors(self) -> str:  # type: ignore[override]
        return self._errors_handler

    def readable(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<bowclf.corpus text reader {self._name!r}>"

    def close(self) -> None:
        if not self.closed:
            owned, self._owned = self._owned, []
            try:
                for obj in owned:
                    try:
                        obj.close()
                    except _READ_ERRORS:
                        pass
            finally:
                super().close()

    def __iter__(self) -> _TextReader:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self

    def __next__(self) -> str:
        lines = self._lines
        while not lines:
            if not self._fill():
                raise StopIteration
            lines = self._lines
        return lines.popleft()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed file")
        while not self._lines:
            if not self._fill():
                return ""
        line = self._lines.popleft()
        if size is not None and 0 <= size < len(line):
            self._lines.appendleft(line[size:])
            line = line[:size]
        return line

    def read(self, size: int | None = -1) -> str:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if size is None or size < 0:
            while self._fill():
                pass
            out = "".join(self._lines)
            self._lines.clear()
            return out
        parts: list[str] = []
        n = 0
        while n < size:
            if not self._lines:
                if not self._fill():
                    break
                continue
            line = self._lines.popleft()
            take = size - n
            if len(line) > take:
                self._lines.appendleft(line[take:])
                line = line[:take]
            parts.append(line)
            n += len(line)
        return "".join(parts)

    # -- internals -----------------------------------------------------------
    def _make_decoder(self, data: Any) -> io.IncrementalNewlineDecoder:
        translate = self._newline is None
        if self._binary is None:
            return io.IncrementalNewlineDecoder(None, translate=translate)
        codec = self._codec
        if codec == "utf-8":
            if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
                codec = "utf-32"
            elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                codec = "utf-16"
            else:
                guess = _utf16_without_bom(data) if self._errors_handler == "strict" else None
                if guess is not None:
                    raise CorpusError(
                        f"looks like {guess.upper()} text without a byte-order mark; pass "
                        f"its encoding, e.g. --encoding {guess}",
                        source=self._name,
                    )
                codec = "utf-8-sig"
            if codec != "utf-8-sig":
                self._encoding = codec
        inner = codecs.getincrementaldecoder(codec)(self._errors_handler)
        return io.IncrementalNewlineDecoder(inner, translate=translate)

    def _fill(self) -> bool:
        """Decode one more chunk into the line buffer; False at the end of input."""
        if self._eof:
            return False
        try:
            data = self._read_chunk(_CHUNK)
        except UnicodeDecodeError as exc:  # only from text sources
            raise CorpusError(
                f"cannot decode the input ({exc.reason}); open it in binary mode or "
                "with the right encoding",
                source=self._name,
                line=self._newlines_seen + 1,
            ) from exc
        except _READ_ERRORS as exc:
            raise self._read_error(exc) from exc
        if data is None:
            data = b"" if self._binary is not None else ""
        if self._decoder is None:
            self._decoder = self._make_decoder(data)
        final = not data
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise self._decode_error(exc) from exc
        if final:
            self._eof = True
        if text:
            self._push(text)
        if final and self._partial:
            self._lines.append("".join(self._partial))
            self._partial.clear()
        return True

    def _read_error(self, exc: BaseException) -> CorpusError:
        if self._compression is not None:
            tool = _COMPRESSION_TOOLS[self._compression]
            return CorpusError(
                f"corrupt or truncated {self._compression} data ({_os_reason(exc)}); "
                f"re-download the file or test it with '{tool} -t'",
                source=self._name,
            )
        return CorpusError(f"read error ({_os_reason(exc)})", source=self._name)

    def _decode_error(self, exc: UnicodeDecodeError) -> CorpusError:
        obj = exc.object if isinstance(exc.object, (bytes, bytearray)) else b""
        line = self._newlines_seen + bytes(obj[: exc.start]).count(b"\n") + 1
        bad = bytes(obj[exc.start : min(exc.end, exc.start + 4)]).hex(" ") or "?"
        enc = self._encoding
        return CorpusError(
            f"cannot decode byte(s) {bad} as {enc} (the file is not {enc}); pass its real "
            "encoding, e.g. --encoding latin-1 (or cp1252)",
            source=self._name,
            line=line,
        )

    def _push(self, text: str) -> None:
        if self._first:
            self._first = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if "\x00" in text:
            text = text.replace("\x00", "")
        if text:
            self._split(text)

    def _split(self, text: str) -> None:
        """Append the complete lines of ``text`` (after any partial line) to the buffer."""
        if self._newline == "" and "\r" in text and text.count("\r") != text.count("\r\n"):
            end = max(text.rfind("\n"), text.rfind("\r")) + 1
            pattern = _UNIVERSAL_LINE
        else:
            end = text.rfind("\n") + 1
            pattern = _LF_LINE
        if not end:
            self._partial.append(text)
            return
        found = pattern.findall(text, 0, end)
        if self._partial:
            self._partial.append(found[0])
            found[0] = "".join(self._partial)
            self._partial.clear()
        self._lines.extend(found)
        self._newlines_seen += len(found)
        if end < len(text):
            self._partial.append(text[end:])

    def _set_universal(self) -> None:
        """Switch from ``\\n`` splitting to universal splitting (the csv module's view)."""
        if self._newline == "":
            return
        self._newline = ""
        pending = list(_universal(self._lines))
        self._lines.clear()
        self._lines.extend(pending)
        if self._partial:
            partial = "".join(self._partial)
            self._partial.clear()
            self._split(partial)

    def _batches(self) -> Iterator[deque[str]]:
        while True:
            if self._lines:
                batch, self._lines = self._lines, deque()
                yield batch
            elif not self._fill():
                return

    def iter_lines(self) -> Iterator[str]:
        """Fast iterator over the remaining lines (do not mix with readline)."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return itertools.chain.from_iterable(self._batches())


def _is_text_stream(obj: Any) -> bool:
    if isinstance(obj, io.TextIOBase):
        return True
    if isinstance(obj, (io.BufferedIOBase, io.RawIOBase)):
        return False
    mode = getattr(obj, "mode", None)
    if isinstance(mode, str):
        return "b" not in mode
    return isinstance(obj.read(0), str)


def open_text(
    source: Source,
    encoding: str = "utf-8",
    errors: str = "strict",
    *,
    newline: str | None = None,
) -> TextIO:
    """Open a corpus source as a decoded, decompressed text stream.

    Parameters
    ----------
    source : str, path-like or file object
        A path, ``'-'`` for standard input (``sys.stdin.buffer``; use ``'./-'`` for a
        file named ``-``), or an open binary or text file object (which is read but
        never closed). gzip, bzip2 and xz compression is detected from the magic
        bytes of binary input; a path ending in ``.gz``/``.bz2``/``.xz`` must be
        compressed accordingly.
    encoding : str, default 'utf-8'
        Any Python codec name, used for binary input. With UTF-8 a BOM is removed
        and a UTF-16/UTF-32 BOM selects that encoding. Text file objects are read
        as they are.
    errors : str, default 'strict'
        Codec error handler ('strict', 'replace', 'ignore', ...). With 'strict',
        undecodable bytes raise :class:`CorpusError` naming the line.
    newline : {None, '', '\\n'}, default None
        As for :func:`open`: ``None`` splits lines at ``\\n``, ``\\r\\n`` and ``\\r``
        and translates them to ``\\n``; ``''`` splits the same way but keeps them;
        ``'\\n'`` splits at ``\\n`` only.

    Returns
    -------
    TextIO
        A readable text stream; closing it closes files opened from a path.
        NUL characters are removed. Reading raises :class:`CorpusError` for
        undecodable bytes, corrupt compressed data and read errors.

    Raises
    ------
    CorpusError
        Missing file, directory, permission denied, unknown encoding, archive
        formats (ZIP, Zstandard), or a compression extension that does not match
        the content.
    TypeError
        If ``source`` is not a path or file object.
    """
    codec = _lookup_encoding(encoding)
    if not isinstance(errors, str):
        raise CorpusError(f"invalid error handler {_short(errors)}")
    try:
        codecs.lookup_error(errors)
    except LookupError:
        raise CorpusError(
            f"unknown error handler {_short(errors)} (use strict, replace or ignore)"
        ) from None
    if newline not in (None, "", "\n"):
        raise CorpusError(f"invalid newline {_short(newline)} (use None, '' or '\\n')")
    name = _display_name(source)
    owned: list[Any] = []
    binary: Any = None
    text: Any = None
    if isinstance(source, str) and source == "-":
        stdin = sys.stdin
        if stdin is None:
            raise CorpusError("standard input is not available", source=name)
        binary = getattr(stdin, "buffer", None)
        if binary is None:
            text = stdin
    elif isinstance(source, (str, bytes, os.PathLike)):
        binary = _open_path(os.fspath(source), name)
        owned.append(binary)
    elif hasattr(source, "read"):
        if _is_text_stream(source):
            text = source
        else:
            binary = source
    else:
        raise TypeError(f"source must be a path, '-' or a file object, not {type(source).__name__}")
    compression = None
    if binary is not None:
        try:
            binary, compression = _decompress(binary, name)
        except BaseException:
            for obj in owned:
                obj.close()
            raise
        if compression is not None:
            owned.insert(0, binary)
    reader = _TextReader(
        name=name,
        binary=binary,
        text=text,
        encoding=encoding,
        codec="utf-8" if codec in ("utf-8", "utf-8-sig") else codec,
        errors=errors,
        newline=newline,
        compression=compression,
        owned=owned,
    )
    return cast(TextIO, reader)


def _open_path(path: str | bytes, name: str) -> IO[bytes]:
    try:
        is_dir = os.path.isdir(path)
    except ValueError:  # e.g. embedded NUL in the path; open() below reports it
        is_dir = False
    if is_dir:  # outside the try: a CorpusError is a ValueError, not an "invalid path"
        raise CorpusError(
            "is a directory, not a file (give the path of a corpus file)", source=name
        )
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CorpusError("no such file (check the path)", source=name) from None
    except IsADirectoryError:
        raise CorpusError(
            "is a directory, not a file (give the path of a corpus file)", source=name
        ) from None
    except PermissionError:
        raise CorpusError("permission denied (check the file's permissions)", source=name) from None
    except OSError as exc:
        raise CorpusError(f"cannot open ({_os_reason(exc)})", source=name) from None
    except ValueError as exc:  # e.g. embedded NUL in the path
        raise CorpusError(f"invalid path ({exc})", source=name) from None


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


def _universal(lines: Iterable[str]) -> Iterator[str]:
    """Split ``\\n``-terminated lines further at lone ``\\r`` (as the csv module expects)."""
    for line in lines:
        i = line.find("\r")
        if i == -1 or (i == len(line) - 2 and line.endswith("\r\n")):
            yield line
        else:
            for piece in _CR_SPLIT.split(line):
                if piece:
                    yield piece


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


def _resolve_csv_columns(
    row: list[str], opts: _Options, name: str, line: int, delim: str
) -> tuple[bool, int, int | None]:
    """Decide whether ``row`` is a header and which columns hold text and labels."""
    width = len(row)
    norm = [c.strip().lower() if len(c) < 100 else "" for c in row]
    listing = ", ".join(_short(c, 30) for c in row[:12]) + (", ..." if width > 12 else "")

    def name_index(col: str) -> int | None:
        if col in row:
            return row.index(col)
        key = col.strip().lower()
        return norm.index(key) if key in norm else None

    def known(names: Sequence[str], exclude: int | None) -> int | None:
        for n in names:
            if n in norm and norm.index(n) != exclude:
                return norm.index(n)
        return None

    header = opts.has_header
    if header is None:
        header = _looks_like_header(row) or any(
            isinstance(c, str) and _as_index(c) is None and name_index(c) is not None
            for c in (opts.text_column, opts.label_column)
        )

    def resolve(col: str | int, what: str) -> int:
        if isinstance(col, int):
            idx = col
        elif header and name_index(col) is not None:
            idx = cast(int, name_index(col))
        elif _as_index(col) is not None:
            idx = cast(int, _as_index(col))
        elif header:
            raise CorpusError(
                f"{what} column {_short(col)} not found in the header ({listing}); pass a "
                "column name or a 0-based index",
                source=name,
                line=line,
            )
        else:
            raise CorpusError(
                f"{what} column {_short(col)} not found: the file has no header row (first "
                f"row: {listing}); pass a 0-based column index",
                source=name,
                line=line,
            )
        if idx >= width:
            raise CorpusError(
                f"{what} column index {idx} is out of range: the file has {width} column(s) "
                f"separated by {_delim_desc(delim)} (indexes start at 0)",
                source=name,
                line=line,
            )
        return idx

    ti = resolve(opts.text_column, "text") if opts.text_column is not None else None
    li = resolve(opts.label_column, "label") if opts.label_column is not None else None
    if header:
        if ti is None:
            ti = known(TEXT_COLUMN_NAMES, li)
        if li is None:
            li = known(LABEL_COLUMN_NAMES, ti)
    if ti is None and li is None:
        if width == 2:
            li, ti = 0, 1
        elif width == 1:
            ti = 0
    elif ti is None and width == 2:
        ti = 1 - cast(int, li)
    elif li is None and width == 2 and (opts.require_labels or not header):
        li = 1 - ti if ti is not None else None
    if ti is None:
        if header:
            raise CorpusError(
                f"cannot tell which column holds the text: the header ({listing}) has none of "
                f"{', '.join(TEXT_COLUMN_NAMES)}; pass --text-column",
                source=name,
                line=line,
            )
        raise CorpusError(
            f"{width} columns separated by {_delim_desc(delim)} and no header naming them; pass "
            "--text-column and --label-column (names or 0-based indexes)",
            source=name,
            line=line,
        )
    if ti == li:
        raise CorpusError(
            f"the text and label columns are the same column ({ti})", source=name, line=line
        )
    if li is None and opts.require_labels:
        if width == 1:
            raise CorpusError(
                f"only one column found (delimiter {_delim_desc(delim)}), so there are no labels; "
                "expected label,text columns (check the delimiter, or pass --format)",
                source=name,
                line=line,
            )
        raise CorpusError(
            f"no label column found (header: {listing}; looked for "
            f"{', '.join(LABEL_COLUMN_NAMES)}); pass --label-column",
            source=name,
            line=line,
        )
    return bool(header), ti, li


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
