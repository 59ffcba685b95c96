"""A vocabulary (word → column) kept as one string of its words and their end offsets.

A dictionary of ``V`` words holds ``V`` string objects, ``V`` integers and its hash table
(~130 bytes a word: ~13 MiB for 100k words); this form holds the words' characters and one
int64 offset a word.  Lookups build the dictionary once, when first needed (and keep it), so
the packed form saves memory only while nothing looks a word up: e.g. out-of-core training
after its token cache is written, until the model is saved (which needs only the words in
column order, :meth:`PackedVocabulary.words_array`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

__all__ = ["PackedVocabulary"]

_CHUNK = 4096  # words turned into string objects at a time (words_array)


class PackedVocabulary(Mapping):
    """The read-only mapping ``word → column`` of ``words`` (in column order: word ``j`` is
    column ``j``), stored as their concatenation and end offsets.  Iteration yields the
    words in column order without building the dictionary; ``[]``, ``in`` and ``get`` build
    it on first use."""

    def __init__(self, words: list[str]) -> None:
        self._text = "".join(words)
        self._ends = np.cumsum(np.fromiter(map(len, words), np.int64, len(words)))
        self._dict: dict[str, int] | None = None

    @classmethod
    def of(cls, vocabulary: Mapping[str, int]) -> PackedVocabulary:
        """The packed form of ``vocabulary``, whose columns must be ``0 … V − 1`` in
        iteration order (a fitted ``vocabulary_``); ``ValueError`` otherwise."""
        columns = np.fromiter(vocabulary.values(), np.int64, len(vocabulary))
        if not np.array_equal(columns, np.arange(columns.size)):
            raise ValueError("a vocabulary's columns must be 0 … V-1 in its order to be packed")
        return cls(list(vocabulary))

    def __len__(self) -> int:
        return int(self._ends.size)

    def _bounds(self, first: int, last: int) -> Iterator[tuple[int, int]]:
        ends = self._ends[first:last].tolist()
        start = int(self._ends[first - 1]) if first else 0
        for end in ends:
            yield start, end
            start = end

    def __iter__(self) -> Iterator[str]:
        text = self._text
        for first in range(0, len(self), _CHUNK):
            for start, end in self._bounds(first, first + _CHUNK):
                yield text[start:end]

    def _lookup(self) -> dict[str, int]:
        if self._dict is None:
            self._dict = dict(zip(self, range(len(self)), strict=True))
        return self._dict

    def __getitem__(self, word: str) -> int:
        return self._lookup()[word]

    def __contains__(self, word: object) -> bool:
        return word in self._lookup()

    def __repr__(self) -> str:
        return f"PackedVocabulary({len(self)} words)"

    def words_array(self) -> np.ndarray:
        """The words in column order as a ``<U…`` array (what ``np.array(list(self),
        dtype=str)`` gives), filled a few thousand words at a time: no list of every word."""
        if not len(self):
            return np.empty(0, "<U1")
        lengths = np.diff(self._ends, prepend=0)
        out = np.empty(len(self), f"<U{max(1, int(lengths.max()))}")
        text = self._text
        for first in range(0, len(self), _CHUNK):
            bounds = self._bounds(first, first + _CHUNK)
            out[first : first + _CHUNK] = [text[a:b] for a, b in bounds]
        return out
