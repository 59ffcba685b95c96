"""Where the training data lives and how an epoch reads it.

Each backend produces a :class:`bowclf.training.CorpusStats` describing the corpus and a
*source* whose ``epoch(ctx)`` runs one pass through :func:`bowclf.training.train`:

- :mod:`.memory` — count matrices held in memory (``fit``, ``partial_fit``);
- :mod:`.disk` — a corpus file tokenised once into an on-disk cache (``fit --stream``);
- :mod:`.dask` — partitions on a Dask cluster, trained as merged replicas.

No backend sets an estimator attribute: the estimators read the stats and own their state.
:func:`prefers_out_of_core` is the rule that picks the disk backend for large files.
"""

from __future__ import annotations

import os

from .. import defaults
from ..textio import compression_of_name

__all__ = ["prefers_out_of_core", "text_size_estimate"]


def text_size_estimate(path: str | os.PathLike) -> int:
    """Bytes of text in a corpus file: its size, times ``defaults.COMPRESSION_FACTOR`` when
    it is compressed (0 when it cannot be seen: stdin, a missing file)."""
    try:
        size = os.stat(path).st_size
    except (OSError, ValueError):
        return 0  # the corpus reader reports a missing file
    compressed = compression_of_name(path) is not None
    return size * defaults.COMPRESSION_FACTOR if compressed else size


def prefers_out_of_core(path: str | os.PathLike) -> bool:
    """Whether a corpus file is large enough to train out of core (the disk backend): over
    :data:`bowclf.defaults.STREAM_BYTES` of text."""
    return os.fspath(path) != "-" and text_size_estimate(path) > defaults.STREAM_BYTES
