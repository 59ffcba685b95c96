"""Integer keys of short tokens and the exact key -> id index.

Most tokens of the default rule are looked up by a key computed with numpy
from the bytes of the batch, so that no string is created per token:

* an ASCII token of at most 8 bytes: its bytes packed little-endian into one
  ``uint64`` (exact: tokens hold no NUL byte, so the zero padding marks the end;
  these keys are below ``2**63``, the bytes being below ``0x80``);
* an ASCII token of 9 to 16 bytes: two words, its first 8 bytes + ``2**63``
  (at least ``2**63 + 2**56``) and its other bytes packed (never 0);
* a token of one non-ASCII character: its code point + ``2**63``.

Other tokens (longer, or non-ASCII words) have no key (:data:`_NO_KEY`).
:class:`_KeyIndex` maps keys to ids exactly; the same class serves the
vocabulary (words -> columns, built once per vocabulary) and the token table
of one fit/transform call (grown as tokens are first seen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .tokenizer import _Spans

_KEY_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)
_NO_KEY = np.uint64(2**64 - 1)  # key of tokens without one; marks empty slots (0xFF is not ASCII)
_CHAR_KEY = np.uint64(1 << 63)  # + code point: tokens of one non-ASCII character
_LONG_KEY = _CHAR_KEY  # + first 8 bytes: first key word of 9- to 16-byte tokens
_MIN_BITS = 4  # smallest index: 16 slots
_SLOT_MULT = np.uint64(0x9E3779B97F4A7C15)
_SLOT_MULT2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _slot_hash(key1: np.ndarray, key2: np.ndarray | None, shift: np.uint64) -> np.ndarray:
    """Slot of keys in a table of ``2**(64 - shift)``: ``((key1 ^ key2·M2)·M) >> shift``
    (multiplicative hashing; ``key2`` is 0, i.e. ``None``, for one-word keys)."""
    if key2 is None:
        mixed = key1 * _SLOT_MULT
    else:
        mixed = key2 * _SLOT_MULT2
        mixed ^= key1
        mixed *= _SLOT_MULT
    mixed >>= shift
    return mixed.view(np.int64)  # < 2**63: a free cast to an index type


def _span_keys(spans: _Spans) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keys of the tokens of a segment (see the module docstring).

    Returns ``keys`` (first key word of each token, :data:`_NO_KEY` for tokens
    without a key), ``keyed`` (the tokens with a key), ``two`` (positions of the
    9- to 16-byte tokens) and ``keys2`` (their second key words).
    """
    starts, ends = spans.starts, spans.ends
    lens = ends - starts
    keyed = lens <= 16
    if spans.strings is not None:
        keyed &= ~spans.strings
    # the 8-byte little-endian word starting at each character
    windows = np.ndarray((len(spans.buf) - 7,), "<u8", spans.buf, 0, (1,))
    keys = windows[starts]
    keys &= _KEY_MASKS[np.minimum(lens, 8)]
    two = np.flatnonzero(keyed & (lens > 8))  # tokens of two words
    keys2 = windows[starts[two] + 8]
    keys2 &= _KEY_MASKS[lens[two] - 8]
    keys[two] |= _LONG_KEY
    keys[~keyed] = _NO_KEY
    if spans.strings is not None:
        # one non-ASCII character (CJK, emoji...): key = code point + _CHAR_KEY
        char = np.flatnonzero(spans.strings & (lens == 1))
        keys[char] = spans.codes[char].astype(np.uint64) + _CHAR_KEY
        keyed[char] = True
    return keys, keyed, two, keys2


def _word_keys(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The keys :func:`_span_keys` gives these words as tokens: ``key1``
    (:data:`_NO_KEY` for a word without a key: longer, non-ASCII or empty),
    ``two`` (positions of the 9- to 16-byte words) and ``key2`` (their second
    key words)."""
    n = len(words)
    key1 = np.full(n, _NO_KEY)
    lens = np.fromiter(map(len, words), np.intp, n)
    is_ascii = np.fromiter(map(str.isascii, words), bool, n)
    one = np.flatnonzero(is_ascii & (lens >= 1) & (lens <= 8))
    if one.size:
        key1[one] = np.array(list(map(words.__getitem__, one.tolist())), "S8").view("<u8")
    two = np.flatnonzero(is_ascii & (lens > 8) & (lens <= 16))
    key2 = np.zeros(len(two), np.uint64)
    if two.size:
        packed = np.array(list(map(words.__getitem__, two.tolist())), "S16")
        pairs = packed.view("<u8").reshape(-1, 2)
        key1[two] = pairs[:, 0] | _LONG_KEY
        key2[:] = pairs[:, 1]
    char = np.flatnonzero(~is_ascii & (lens == 1))
    if char.size:
        codes = map(ord, map(words.__getitem__, char.tolist()))
        key1[char] = np.fromiter(codes, np.uint64, char.size) + _CHAR_KEY
    return key1, two, key2


def _take_two(two: np.ndarray, key2: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``two``/``key2`` of the keys at (sorted) positions ``at``: the positions
    within ``at`` of the two-word keys, and their second words."""
    if not two.size or not at.size:
        return np.empty(0, np.intp), np.empty(0, np.uint64)
    j = np.searchsorted(at, two)
    ok = j < len(at)
    ok[ok] = at[j[ok]] == two[ok]
    return j[ok], key2[ok]


class _KeyIndex:
    """Exact hash index from keys to integer ids (open addressing, linear probing).

    Keys are stored as *entries*, in insertion order: ``key1``, ``key2`` (0 for
    one-word keys) and the id of each.  The slot table holds entry numbers (-1:
    empty), is kept at most half full and doubles when needed.  A query probes
    from the key's home slot until it finds the key or an empty slot (absent),
    all queries of a batch at once with numpy; the keys it compares are read
    from the entry arrays, where the frequent tokens (seen first) sit together,
    so most reads hit the CPU cache.  Keys are given as ``key1`` (one per key),
    ``two`` (positions of the two-word keys) and ``key2`` (their second words).
    """

    def __init__(self, bits: int = 0) -> None:
        """An empty index of ``2**bits`` slots (at least ``2**_MIN_BITS``)."""
        self.size = 0
        # entry arrays with one spare element, the sentinel read for entry -1
        # (an empty slot): key _NO_KEY, id -1
        self._key1 = np.full(1, _NO_KEY)
        self._key2 = np.zeros(1, np.uint64)
        self._ids = np.full(1, -1, np.int32)
        self._alloc(max(bits, _MIN_BITS))

    def _alloc(self, bits: int) -> None:
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self.slot_entries = np.full(1 << bits, -1, np.int32)

    @classmethod
    def of_words(cls, words: list[str]) -> _KeyIndex:
        """Index of the words that have a key, each to its position in ``words``."""
        key1, two, key2 = _word_keys(words)
        at = np.flatnonzero(key1 != _NO_KEY)
        index = cls((2 * len(at)).bit_length())
        index.add(key1[at], *_take_two(two, key2, at), at.astype(np.int32))
        return index

    def _home(self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray) -> np.ndarray:
        slots = _slot_hash(key1, None, self._shift)
        if two.size:
            slots[two] = _slot_hash(key1[two], key2, self._shift)
        return slots

    def find(self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray) -> np.ndarray:
        """Id of each key (int32), -1 if absent (always for :data:`_NO_KEY`)."""
        slots = self._home(key1, two, key2)
        entries = self.slot_entries[slots]
        miss = self._key1[entries] != key1
        if two.size:
            miss[two] |= self._key2[entries[two]] != key2
        ids = self._ids[entries]
        pending = np.flatnonzero(miss)
        del miss
        if pending.size:
            occupied = entries[pending] >= 0  # by another key: probe on
            ids[pending] = -1
            pending = pending[occupied]
            pending = pending[key1[pending] != _NO_KEY]
        if pending.size:
            sub_two, sub_key2 = _take_two(two, key2, pending)
            second = np.zeros(len(pending), np.uint64)
            second[sub_two] = sub_key2
            ids[pending] = self._probe(key1[pending], second, slots[pending])
        return ids

    def _probe(self, key1: np.ndarray, key2: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """:meth:`find` of keys not at their (occupied) home ``slots``."""
        out = np.full(len(key1), -1, np.int32)
        pos = np.arange(len(key1))
        while pos.size:
            slots = (slots + 1) & self._mask
            entries = self.slot_entries[slots]
            same = (self._key1[entries] == key1) & (self._key2[entries] == key2)
            out[pos[same]] = self._ids[entries[same]]
            more = ~same & (entries >= 0)  # settled: found, or an empty slot (absent)
            pos, slots, key1, key2 = pos[more], slots[more], key1[more], key2[more]
        return out

    def add(self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray, ids: np.ndarray) -> None:
        """Insert distinct keys that are not in the index yet, with their ``ids``."""
        start, end = self.size, self.size + len(ids)
        if end + 1 > len(self._ids):  # grow the entry arrays, keeping the sentinel last
            cap = max(end + 1, 2 * len(self._ids))
            self._key1 = np.concatenate([self._key1[:start], np.full(cap - start, _NO_KEY)])
            self._key2 = np.concatenate([self._key2[:start], np.zeros(cap - start, np.uint64)])
            self._ids = np.concatenate([self._ids[:start], np.full(cap - start, -1, np.int32)])
        self._key1[start:end] = key1
        self._key2[start + two] = key2
        self._ids[start:end] = ids
        self.size = end
        if 2 * end >= len(self.slot_entries):
            self._alloc((2 * end).bit_length())
            start = 0  # place every entry again
        self._place(np.arange(start, end, dtype=np.int32))

    def _place(self, entries: np.ndarray) -> None:
        """Put each entry in the first free slot from its key's home on: per round,
        the first entry that wants a free slot takes it, the others try the next
        slot; the last few go one at a time."""
        key2 = self._key2[entries]
        two = np.flatnonzero(key2)
        slots = self._home(self._key1[entries], two, key2[two])
        table = self.slot_entries
        while len(entries) > 32:
            free = np.flatnonzero(table[slots] < 0)
            won_slots, first = np.unique(slots[free], return_index=True)
            won = free[first]
            table[won_slots] = entries[won]
            rest = np.ones(len(entries), bool)
            rest[won] = False
            entries = entries[rest]
            slots = (slots[rest] + 1) & self._mask
        for entry, slot in zip(entries.tolist(), slots.tolist(), strict=True):
            while table[slot] >= 0:
                slot = (slot + 1) & self._mask
            table[slot] = entry
