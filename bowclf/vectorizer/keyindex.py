"""Integer keys of short tokens and the exact key -> id index.

Most tokens of the default rule are looked up by a key computed with numpy
from the bytes of the batch, so that no string is created per token:

* an ASCII token of at most 8 bytes: its bytes packed little-endian into one
  ``uint64`` (exact: tokens hold no NUL byte, so the zero padding marks the end;
  these keys are below ``2**63``, the bytes being below ``0x80``);
* an ASCII token of 9 to 16 bytes: two words, its first 8 bytes + ``2**63``
  (at least ``2**63 + 2**56``) and its other bytes packed (never 0);
* a token of one non-ASCII character: its code point + ``2**63``.

Other tokens (longer, or non-ASCII words) have no key (:data:`_UNKEYED` as
tokens, :data:`_NO_KEY` as words).
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
_NO_KEY = np.uint64(2**64 - 1)  # key of words without one and of empty slots (0xFF: not ASCII)
_UNKEYED = np.uint64(2**64 - 2)  # key of tokens without one: matches no slot, not even empty ones
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

    Returns ``keys`` (first key word of each token, :data:`_UNKEYED` for tokens
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
    keys[~keyed] = _UNKEYED
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

    The slot table holds ids minus ``base`` ("local ids", -1: empty), is kept at
    most a quarter full (short probe chains) and doubles when needed; the keys
    are stored per local id (``key1``, and ``key2``, 0 for one-word keys) with
    one spare element last, the sentinel read for an empty slot (key
    :data:`_NO_KEY`, which no query has).  A query probes from the key's home
    slot until it finds the key or an empty slot (absent), all queries of a
    batch at once with numpy.  Ids are in
    first-seen order (by column for the vocabulary: by frequency), so the keys
    of the frequent tokens sit together and most key reads hit the CPU cache.
    Keys are given as ``key1`` (one per key), ``two`` (positions of the two-word
    keys) and ``key2`` (their second words).
    """

    def __init__(self, bits: int = 0, base: int = 0) -> None:
        """An empty index of ``2**bits`` slots (at least ``2**_MIN_BITS``) for
        ids from ``base`` on."""
        self.size = 0
        self._base = base
        self._key1 = np.full(1, _NO_KEY)
        self._key2 = np.zeros(1, np.uint64)
        self._alloc(max(bits, _MIN_BITS))

    def _alloc(self, bits: int) -> None:
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self.slots = np.full(1 << bits, -1, np.int32)

    @classmethod
    def of_words(cls, words: list[str]) -> _KeyIndex:
        """Index of the words that have a key, each to its position in ``words``."""
        key1, two, key2 = _word_keys(words)
        at = np.flatnonzero(key1 != _NO_KEY)
        index = cls((4 * len(at)).bit_length())
        index.add(key1[at], *_take_two(two, key2, at), at)
        return index

    def _home(self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray) -> np.ndarray:
        slots = _slot_hash(key1, None, self._shift)
        if two.size:
            slots[two] = _slot_hash(key1[two], key2, self._shift)
        return slots

    def find(
        self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Id of each key (int32, -1 if absent) and the positions of the absent ones."""
        slots = self._home(key1, two, key2)
        ids = self.slots[slots]
        miss = self._key1[ids] != key1
        if two.size:
            miss[two] |= self._key2[ids[two]] != key2
        pending = np.flatnonzero(miss)  # all keys but those found at their home slot
        del miss
        if self._base:
            ids += self._base
        if not pending.size:
            return ids, pending
        probe = pending[(ids[pending] >= self._base) & (key1[pending] != _UNKEYED)]
        ids[pending] = -1
        if probe.size:  # home slot taken by another key: probe on
            sub_two, sub_key2 = _take_two(two, key2, probe)
            second = np.zeros(len(probe), np.uint64)
            second[sub_two] = sub_key2
            ids[probe] = self._probe(key1[probe], second, slots[probe])
        return ids, pending[ids[pending] < 0]

    def _probe(self, key1: np.ndarray, key2: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Ids of keys not at their (occupied) home ``slots``, -1 if absent; the
        last few (long probe chains) one at a time."""
        out = np.full(len(key1), -1, np.int32)
        pos = np.arange(len(key1))
        while len(pos) > 8:
            slots = (slots + 1) & self._mask
            local = self.slots[slots]
            same = (self._key1[local] == key1) & (self._key2[local] == key2)
            out[pos[same]] = local[same] + self._base
            more = ~same & (local >= 0)  # settled: found, or an empty slot (absent)
            pos, slots, key1, key2 = pos[more], slots[more], key1[more], key2[more]
        table, stored1, stored2 = self.slots, self._key1, self._key2
        for p, slot, k1, k2 in zip(pos.tolist(), slots.tolist(), key1, key2, strict=True):
            while True:
                slot = (slot + 1) & self._mask
                local = int(table[slot])
                if local < 0:
                    break
                if stored1[local] == k1 and stored2[local] == k2:
                    out[p] = local + self._base
                    break
        return out

    def add(self, key1: np.ndarray, two: np.ndarray, key2: np.ndarray, ids: np.ndarray) -> None:
        """Insert distinct keys that are not in the index yet, with their ``ids``."""
        if not len(ids):
            return
        local = (ids - self._base).astype(np.int32)
        end = int(local.max()) + 1
        if end + 1 > len(self._key1):  # grow the key arrays, the sentinel stays last
            cap = max(end + 1, 2 * len(self._key1))
            n = len(self._key1) - 1
            self._key1 = np.concatenate([self._key1[:n], np.full(cap - n, _NO_KEY)])
            self._key2 = np.concatenate([self._key2[:n], np.zeros(cap - n, np.uint64)])
        self._key1[local] = key1
        self._key2[local[two]] = key2
        self.size += len(local)
        if 4 * self.size >= len(self.slots):  # double (or more), then place every key again
            self._alloc((4 * self.size).bit_length())
            local = np.flatnonzero(self._key1[:-1] != _NO_KEY).astype(np.int32)
        self._place(local)

    def _place(self, local: np.ndarray) -> None:
        """Put each local id in the first free slot from its key's home on: per
        round, one of the ids that want a free slot takes it, the others try the
        next slot; the last few go one at a time."""
        key2 = self._key2[local]
        two = np.flatnonzero(key2)
        slots = self._home(self._key1[local], two, key2[two])
        table = self.slots
        while len(local) > 32:
            free = np.flatnonzero(table[slots] < 0)
            # the last write to a slot stays: in reverse, the first id (most
            # frequent token) gets the slot and is found at its first probe
            table[slots[free[::-1]]] = local[free[::-1]]
            won = free[table[slots[free]] == local[free]]
            rest = np.ones(len(local), bool)
            rest[won] = False
            local = local[rest]
            slots = (slots[rest] + 1) & self._mask
        for i, slot in zip(local.tolist(), slots.tolist(), strict=True):
            while table[slot] >= 0:
                slot = (slot + 1) & self._mask
            table[slot] = i
