"""Handing the C allocator's free memory back to the operating system before a fit's
largest allocation.

Vectorising a corpus makes millions of small and medium allocations (token strings, per-chunk
arrays, hash tables) that glibc's ``malloc`` serves from its heaps.  Once they are freed the
memory is free for the process but stays resident: glibc returns only the free space at the
top of a heap, and it raises its threshold for serving large blocks from the heap each time
such a block is freed.  The parameters ``A`` (p×d, hundreds of MB) are then allocated on top
of that resident but unused memory, and the process peaks at both.  ``malloc_trim(0)``
returns every free page of every heap (glibc ≥ 2.8), at a cost of milliseconds;
:func:`release_free_memory` calls it where a fit is about to allocate its parameters.

Only glibc has ``malloc_trim``: elsewhere (macOS, Windows, musl) this does nothing.  Written by
hand (``ctypes``) because no runtime dependency of the project exposes it.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim():
    """glibc's ``int malloc_trim(size_t pad)``, or ``None`` where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the pages of memory the C allocator holds free to the operating system
    (glibc's ``malloc_trim(0)``); nothing changes for any live object.

    Returns
    -------
    released : bool
        Whether the allocator gave memory back (``False`` also where it cannot: not glibc).
    """
    trim = _malloc_trim()
    return bool(trim is not None and trim(0))
