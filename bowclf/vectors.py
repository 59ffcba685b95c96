"""Reading pretrained word vectors (fastText ``.vec`` / word2vec text format) to initialise A.

Format: an optional header line ``<count> <dim>``, then one line per word:
``word v1 v2 ... vd`` separated by spaces.  ``.gz``, ``.bz2`` and ``.xz`` files are read
transparently (via :func:`bowclf.corpus.open_text`).  Only the vectors of the words asked
for are kept, so a multi-gigabyte file is streamed with memory ∝ the vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .corpus import CorpusError, open_text

__all__ = ["VectorsError", "read_word_vectors"]


class VectorsError(ValueError):
    """A pretrained-vectors file is malformed or does not fit the model."""


def read_word_vectors(
    path: str | os.PathLike,
    vocabulary: Mapping[str, int],
    dim: int,
    *,
    encoding: str = "utf-8",
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the ``vocabulary`` words found in ``path``.

    Returns ``(columns, vectors)``: the vocabulary columns found (int64, sorted by first
    appearance in the file) and their vectors (float32, ``len(columns)×dim``).  The first
    occurrence of a word wins.

    Raises
    ------
    VectorsError
        On a missing/unreadable file, a malformed line (with its number), or vectors whose
        dimension is not ``dim``.
    """
    name = os.fspath(path)
    columns: list[int] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    try:
        with open_text(name, encoding=encoding) as f:
            for lineno, line in enumerate(f, start=1):
                parts = line.rstrip("\r\n").rstrip(" ").split(" ")
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    declared = int(parts[1])
                    if declared != dim:
                        raise VectorsError(
                            f"{name}: vectors have dimension {declared} but the model has "
                            f"dim={dim} (use --dim {declared})"
                        )
                    continue
                if not parts or parts == [""]:
                    continue
                word = parts[0]
                if len(parts) - 1 != dim:
                    raise VectorsError(
                        f"{name}: line {lineno}: expected a word and {dim} numbers, found "
                        f"{len(parts) - 1} numbers (is the dimension right? use --dim)"
                    )
                column = vocabulary.get(word)
                if column is None or word in seen:
                    continue
                try:
                    vec = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise VectorsError(
                        f"{name}: line {lineno}: not a number in the vector"
                    ) from None
                if not np.all(np.isfinite(vec)):
                    raise VectorsError(f"{name}: line {lineno}: vector has NaN or infinity")
                seen.add(word)
                columns.append(column)
                vectors.append(vec)
    except CorpusError as exc:
        raise VectorsError(str(exc)) from None
    matrix = np.vstack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    return np.asarray(columns, dtype=np.int64), matrix
