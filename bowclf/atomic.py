"""Atomic file replacement: the permissions a finished file gets.

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

__all__ = ["final_mode"]


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
