"""Parts of a CSV/TSV file read on their own, so that several processes can parse one file.

:func:`csv_layout` reads the start of a file as :func:`~bowclf.corpus.iter_records` does and
returns what its first row decided (format, delimiter, row width, text and label columns),
or ``None`` when the file is not one this module can split: not a regular uncompressed file,
not UTF-8, not CSV/TSV.  :func:`split_points` cuts the file into parts at line starts, and
:func:`iter_part_chunks` yields the documents of one part in chunks.

A line start is not always a record boundary: a quoted field may hold line breaks.  Every
part is parsed strictly and ends at its last byte, so a part whose end falls inside a quoted
field fails ("unterminated quoted field") instead of guessing.  If no part fails, every cut
is a record boundary: the first part starts where the file starts, and a part that ends
without an open quote ends where the whole file's parse ends a record, so the next part
starts at one too (by induction over the parts).  The parts' records, in part order, are
then exactly the file's.  **Any** error of a part therefore means "read the file in one
piece" to the caller (the out-of-core passes, :mod:`bowclf.backends.passes`): that reading
reports the file's first problem with its line, as it always has.
"""

from __future__ import annotations

import codecs
import io
import itertools
import os
import stat
from collections.abc import Iterator
from typing import Any

from .corpus import _iter_records, _prepared_keywords
from .textio import CorpusError, _compression_from_name, _display_name, _magic_kind

__all__ = ["csv_layout", "iter_part_chunks", "split_points"]

#: Lines of the file's start the first part holds at least (the sample the delimiter is
#: sniffed from, :data:`bowclf.corpus._SAMPLE_LINES`, is read as from the whole file).
MIN_FIRST_LINES = 21
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def csv_layout(path: Any, **kw: Any) -> dict[str, Any] | None:
    """The layout fixed by the first row of the CSV/TSV file ``path`` (``format``,
    ``delimiter``, ``width``, ``text`` and ``label`` columns; ``lines``: the first part
    must hold that many lines, the first row, the first record and the sample) read with
    the keyword arguments ``kw`` of :func:`~bowclf.corpus.iter_records`; ``None`` when the
    file cannot be read in parts (see the module doc), has fewer than two records, or its
    start cannot be read (the reading in one piece reports why)."""
    try:
        fmt, encoding, opts = _prepared_keywords(kw)
        if not _splittable(path, encoding):
            return None
        layout: dict[str, Any] = {}
        records = _iter_records(os.fspath(path), fmt, encoding, opts, layout)
        try:
            next(records)
            layout["lines"] = max(next(records).line, MIN_FIRST_LINES)
        finally:
            records.close()
    except (CorpusError, StopIteration, OSError, TypeError):
        return None
    return layout if "width" in layout else None


def _splittable(path: Any, encoding: str) -> bool:
    """A regular, uncompressed file read as UTF-8 (no UTF-16/32 byte-order mark)."""
    if not isinstance(path, (str, os.PathLike)) or path == "-":
        return False
    if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        return False
    name = _display_name(path)
    if _compression_from_name(name)[0] is not None:
        return False
    if not stat.S_ISREG(os.stat(path).st_mode):
        return False
    with open(path, "rb") as f:
        head = f.read(16)
    return _magic_kind(head) is None and not head.startswith(_BOMS[1:])


def split_points(path: Any, parts: int, first_lines: int = MIN_FIRST_LINES) -> list[int]:
    """Byte offsets ``[0, s₁, …, size]`` cutting the file into at most ``parts`` parts of
    about equal size, each ``sₖ`` just after a ``\\n`` and before bytes that could not start
    the file's text otherwise (no byte-order mark, no compression magic); the first part
    holds at least ``first_lines`` lines.  Fewer parts for a small file."""
    size = os.stat(path).st_size
    points = [0]
    with open(path, "rb") as f:
        least = _after_lines(f, first_lines)
        for k in range(1, parts):
            target = max(size * k // parts, points[-1] + 1, least)
            cut = _line_start(f, target, size)
            if cut is None or cut >= size:
                break
            points.append(cut)
    points.append(size)
    return points


def _after_lines(f: io.BufferedReader, lines: int) -> int:
    """The byte offset just after the first ``lines`` ``\\n`` of the file (its size if
    it has fewer)."""
    f.seek(0)
    pos = 0
    while block := f.read(1 << 16):
        n = block.count(b"\n")
        if n >= lines:
            i = -1
            for _ in range(lines):
                i = block.index(b"\n", i + 1)
            return pos + i + 1
        lines -= n
        pos += len(block)
    return pos


def _line_start(f: io.BufferedReader, at: int, size: int) -> int | None:
    """The first line start at or after byte ``at`` whose first bytes are plain text."""
    f.seek(at)
    pos = at
    while pos < size:
        block = f.read(1 << 16)
        if not block:
            return None
        i = block.find(b"\n")
        if i < 0:
            pos += len(block)
            continue
        cut = pos + i + 1
        f.seek(cut)
        head = f.read(16)
        if _magic_kind(head) is None and not head.startswith(_BOMS):
            return cut
        pos = cut
        f.seek(cut)
    return None


class _Part(io.RawIOBase):
    """Bytes ``start … stop − 1`` of a file, then end of file."""

    def __init__(self, path: Any, start: int, stop: int) -> None:
        super().__init__()
        self.name = _display_name(path)
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        if n <= 0:
            return 0
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def iter_part_chunks(
    path: Any, start: int, stop: int, layout: dict[str, Any], chunk_size: int, **kw: Any
) -> Iterator[tuple[list[str], list[tuple[str, ...]]]]:
    """The documents of bytes ``start … stop − 1`` of ``path`` (a part of
    :func:`split_points`; ``layout`` from :func:`csv_layout`, ``kw`` as given to it) in
    chunks ``(texts, labels)`` of at most ``chunk_size``.  The first part is read as the
    file's start (header, ``sep=`` line, byte-order mark); the others with ``layout``.
    Raises :class:`~bowclf.corpus.CorpusError` for any problem (see the module doc)."""
    fmt, encoding, opts = _prepared_keywords(
        kw | {"format": layout["format"]} if start == 0 else kw
    )
    with io.BufferedReader(_Part(path, start, stop), 1 << 16) as raw:
        records = _iter_records(raw, fmt, encoding, opts, None if start == 0 else layout)
        while batch := list(itertools.islice(records, chunk_size)):
            yield [r.text for r in batch], [r.labels for r in batch]
