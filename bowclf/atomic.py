"""Atomic file replacement (:func:`atomic_write`) and the permissions a finished file gets.

Model files (:func:`bowclf.persist.save`) and the command line's output files are written
to a temporary file beside the target and renamed over it at the end, so an interrupted
write never leaves half a file.  ``mkstemp`` creates that file readable by its owner only;
before the rename it gets the mode the target would have had if written in place: an
existing file's own mode (a ``chmod 600`` model stays private), else the usual
``0o666`` less the umask.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["atomic_write", "final_mode"]


@contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    durable: bool = False,
) -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file beside it (``.NAME.XXXX.tmp``), renamed over
    it when the ``with`` block ends without an exception.

    Otherwise (an error, Ctrl-C) the temporary file is removed and an existing file is left
    unchanged.  The finished file gets :func:`final_mode`.  ``durable``: the data and the
    rename are flushed to disk (``fsync`` of the file, then of its directory, best effort)
    before returning.  ``mode``, ``encoding``, ``errors`` and ``newline`` are ``open``'s.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, encoding=encoding, errors=errors, newline=newline) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, final_mode(path))  # an existing file's mode, else the umask's
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def final_mode(path: str | os.PathLike) -> int:
    """The permission bits a file written to ``path`` keeps: those of the regular file
    already there, else ``0o666`` without the process's umask."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
