"""Opening corpus input as text: paths, standard input and file objects; gzip, bzip2 and xz
decompression recognised by content; decoding with any Python codec (BOMs honoured, NUL
characters read as spaces); every problem a one-line :class:`CorpusError` naming the input.

:mod:`bowclf.corpus` reads records from these streams; :mod:`bowclf.vectors` reads word
vectors.  Memory is bounded by the longest line, never by the file.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import itertools
import lzma
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, TextIO, TypeAlias, cast

__all__ = ["CorpusError", "Source", "compression_of_name", "open_text"]

Source: TypeAlias = "str | os.PathLike[str] | IO[bytes] | IO[str]"

_COMPRESSION_EXTS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz"}
_COMPRESSION_TOOLS = {"gzip": "gzip", "bz2": "bzip2", "xz": "xz"}
_CHUNK = 1 << 16
_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)")
_UNIVERSAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_LF_LINE = re.compile(r"[^\n]*\n")
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
        info = None
    if info is None or info.name == "undefined":  # 'undefined' exists to refuse every use
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


def compression_of_name(path: str | os.PathLike[str]) -> str | None:
    """The compression a file's name announces (``.gz``/``.gzip``: ``'gzip'``, ``.bz2``,
    ``.xz``; any case), else ``None``: the one list every reader and size estimate uses."""
    return _compression_from_name(os.fspath(path))[0]


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


def _utf16_or_32_without_bom(data: bytes) -> str | None:
    """``'utf-16-le'``, ``'utf-16-be'``, ``'utf-32-le'`` or ``'utf-32-be'`` when the first
    bytes have the zero bytes of that encoding's mostly-ASCII text (no other encoding puts a
    NUL in every second or in three of every four bytes), else ``None``."""
    sample = data[:4096]
    quarter = len(sample) // 4
    if quarter < 2:
        return None
    zeros = [sample[k::4].count(0) for k in range(4)]
    many, few = 0.9 * quarter, 0.1 * quarter
    if zeros[0] <= few and min(zeros[1:]) >= many:
        return "utf-32-le"
    if zeros[3] <= few and min(zeros[:3]) >= many:
        return "utf-32-be"
    even, odd = zeros[0] + zeros[2], zeros[1] + zeros[3]
    if odd >= 2 * many and even <= 2 * few:
        return "utf-16-le"
    if even >= 2 * many and odd <= 2 * few:
        return "utf-16-be"
    return None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16-LE's, which it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF8, "utf-8"),
)


def _bom_encoding(data: bytes) -> str | None:
    """The Unicode encoding with its byte order (``'utf-8'``, ``'utf-16-le'``, ...,
    ``'utf-32-be'``) whose byte-order mark ``data`` starts with, else ``None``."""
    return next((enc for bom, enc in _BOMS if data.startswith(bom)), None)


def _check_encoding_fits(data: bytes, codec: str, shown: str, errors: str, name: str) -> None:
    """Refuse the encoding ``shown`` (the codec ``codec``) when it cannot be the file's: the
    file starts with the byte-order mark of another Unicode encoding (or byte order), or
    (``errors='strict'``) has the zero bytes of UTF-16/32 text, which another codec would
    decode into text with a NUL (read as a space) between every two characters."""
    bom = _bom_encoding(data)
    if bom == "utf-32-le" and codec in ("utf-16", "utf-16-le"):
        bom = "utf-16-le"  # FF FE 00 00: a UTF-16-LE byte-order mark, then U+0000
    fits = bom is None or codec in (bom, bom[:6], "utf-8-sig" if bom == "utf-8" else bom)
    if not fits:
        what = bom[:6] if bom != "utf-8" else bom
        raise CorpusError(
            f"starts with a {what.upper()} byte-order mark but is being read as {shown}; pass "
            f"--encoding {what} (or no --encoding: a byte-order mark selects its encoding)",
            source=name,
        )
    guess = _utf16_or_32_without_bom(data) if errors == "strict" and bom is None else None
    if guess is not None and not codec.startswith(("utf-16", "utf-32")):
        raise CorpusError(
            f"looks like {guess.upper()} text without a byte-order mark, not {shown}; pass "
            f"its encoding, e.g. --encoding {guess}",
            source=name,
        )


class _TextReader(io.TextIOBase):
    """Line-oriented decoding reader with line-numbered, one-line errors.

    Reads a binary stream (decoded with ``encoding``) or a text stream in chunks,
    strips a leading BOM, replaces NUL characters with spaces, and splits lines according to
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
        bom = _bom_encoding(data)
        if codec == "utf-8" and bom not in (None, "utf-8"):  # a byte-order mark selects
            codec = self._encoding = bom[:6]  # 'utf-16' or 'utf-32', which read the mark
        else:
            _check_encoding_fits(data, codec, self._encoding, self._errors_handler, self._name)
            codec = "utf-8-sig" if codec == "utf-8" else codec
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
        except UnicodeError as exc:  # e.g. UTF-16 or UTF-32 without a byte-order mark
            raise CorpusError(
                f"cannot decode the input as {self._encoding} ({exc}); pass the encoding with "
                "its byte order, e.g. --encoding utf-16-le (or utf-16-be)",
                source=self._name,
            ) from exc
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
        if "\x00" in text:  # whitespace, as for the tokenisers: 'a\0b' is two words
            text = text.replace("\x00", " ")
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

    def _settle_line_ends(self, cr_lines: bool | None = None) -> bool:
        """Decide, before any line is read, whether a lone ``\\r`` ends a line, and return it.

        Only in an old Mac file: one whose first 64 KiB hold a ``\\r`` but no ``\\n``
        (``cr_lines=None``; else as ``cr_lines`` says, e.g. for a part of a file already
        decided). Otherwise only ``\\n`` and ``\\r\\n`` end a line and a lone ``\\r`` is a
        character of its line, whitespace to the tokenisers and to fastText, so the lines
        are those ``wc -l`` counts and a document is what the Python API would get.
        """
        if cr_lines is None:
            while not (self._eof or self._newlines_seen) and sum(map(len, self._partial)) < _CHUNK:
                self._fill()
            pending = itertools.chain(self._partial, self._lines)
            cr_lines = not self._newlines_seen and any("\r" in part for part in pending)
        if cr_lines:
            self._set_universal()
        return cr_lines

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
        and a UTF-16/UTF-32 BOM selects that encoding. Another encoding that cannot be
        the input's is an error when reading: a BOM of another Unicode encoding or byte
        order, or the zero bytes of UTF-16/UTF-32 text without a BOM. Text file objects
        are read as they are.
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
        NUL characters are replaced with spaces (fastText and bowclf's tokenisers
        take NUL for whitespace, so a document read from a file splits into the words
        it would as a Python string). Reading raises :class:`CorpusError` for
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
    codec = _check_open_arguments(encoding, errors, newline)
    name = _display_name(source)
    binary, text, owned = _binary_or_text(source, name)
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


def _check_open_arguments(encoding: str, errors: str, newline: str | None) -> str:
    """The codec's canonical name, after checking the arguments of :func:`open_text`."""
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
    return codec


def _binary_or_text(source: Source, name: str) -> tuple[Any, Any, list[Any]]:
    """``(binary stream or None, text stream or None, streams to close)`` for a source."""
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
    return binary, text, owned


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
