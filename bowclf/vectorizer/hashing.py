"""fastText's token and n-gram hashes (the formulas are in :mod:`bowclf.vectorizer`).

``token_hash`` is the pure-Python statement of the rule; ``token_hashes``
computes it for many tokens at once with numpy, and ``subword_hashes`` for every
character n-gram of many words without building them (``char_ngrams`` is its
pure-Python statement); the tests check each against its reference.  fastText's model
reader (:mod:`bowclf.io.fasttext`) hashes with the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "NGRAM_MULTIPLIER",
    "bytes_hashes",
    "char_ngrams",
    "subword_hashes",
    "token_hash",
    "token_hashes",
    "word_ngram_hashes",
]

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619
NGRAM_MULTIPLIER = 116049371


def word_ngram_hashes(hashes: np.ndarray, max_n: int) -> Iterator[np.ndarray]:
    """fastText's hashes of the word n-grams of a token sequence, for n = 2 … ``max_n``.

    ``hashes``: the tokens' hashes as uint64 (a token's 32-bit hash sign-extended, as
    fastText's ``int32`` to ``uint64``).  Yields ``g_n`` (length ``len(hashes) − n + 1``,
    uint64, wrapping) with ``g_1 = h`` and ``g_n[i] = g_{n−1}[i]·116049371 + h[i + n − 1]``,
    while a sequence is long enough; the n-gram's bucket is ``g_n mod buckets``.
    """
    g = hashes
    for n in range(2, max_n + 1):
        m = hashes.size - n + 1
        if m <= 0:
            return
        g = g[:m] * np.uint64(NGRAM_MULTIPLIER) + hashes[n - 1 :]
        yield g


def token_hash(token: str) -> int:
    """fastText's 32-bit FNV-1a hash of one token (pure-Python reference).

    Parameters
    ----------
    token : str
        Encoded as UTF-8 (lone surrogates with ``surrogatepass``).

    Returns
    -------
    int
        ``h`` in ``[0, 2**32)`` with ``h_0 = 2166136261`` and
        ``h_k = ((h_{k-1} XOR sext8(b_k)) * 16777619) mod 2**32`` over the
        bytes ``b_k``; ``sext8`` sign-extends a byte to 32 bits, so byte
        ``0xC3`` contributes ``0xFFFFFFC3`` (fastText's ``int8_t`` cast).
    """
    h = FNV_OFFSET_BASIS
    for b in token.encode("utf-8", "surrogatepass"):
        if b >= 0x80:
            b |= 0xFFFFFF00
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def token_hashes(tokens: list[str]) -> np.ndarray:
    """Vectorised :func:`token_hash` of many tokens.

    Parameters
    ----------
    tokens : list of str

    Returns
    -------
    ndarray of uint32, shape (len(tokens),)
    """
    return bytes_hashes([t.encode("utf-8", "surrogatepass") for t in tokens])


def bytes_hashes(strings: Sequence[bytes]) -> np.ndarray:
    """:func:`token_hash` of byte strings (already encoded), as ``uint32``."""
    n = len(strings)
    if n == 0:
        return np.empty(0, np.uint32)
    lens = np.fromiter(map(len, strings), np.int64, n)
    # int8 -> uint32 is a C cast: negative bytes wrap, i.e. sign-extend.
    data = np.frombuffer(b"".join(strings), np.int8).astype(np.uint32)
    starts = np.zeros(n, np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    order = np.argsort(-lens, kind="stable")  # longest first: active set is a prefix
    lens_sorted = lens[order]
    pos = starts[order]
    h = np.full(n, FNV_OFFSET_BASIS, np.uint32)
    prime = np.uint32(FNV_PRIME)
    n_active = n
    for j in range(int(lens_sorted[0])):
        while lens_sorted[n_active - 1] <= j:
            n_active -= 1
        head = h[:n_active]
        head ^= data[pos[:n_active] + j]
        head *= prime
    out = np.empty(n, np.uint32)
    out[order] = h
    return out


def subword_hashes(words: Sequence[bytes], minn: int, maxn: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`token_hash` of every fastText subword of each ``"<" + word + ">"`` (``words``
    UTF-8 encoded), without building the subwords: the vectorised :func:`char_ngrams`.

    Subwords are the runs of ``minn..maxn`` characters (a byte ``10xxxxxx`` continues a
    character), the lone markers ``<`` and ``>`` excepted.  Each start's hash is extended
    one byte at a time, so the work is O(characters × ``maxn``) numpy operations over
    arrays the size of the text, and memory stays a few dozen bytes per input byte plus the
    output (a 1 MB word with ``minn=3, maxn=6``: ~4 M hashes, each of which would be a
    Python string if the subwords were built).

    Returns
    -------
    owner : ndarray of int64
        The index in ``words`` of each subword.
    hashes : ndarray of uint32
        Their hashes, in :func:`char_ngrams`'s order: by word, then by start, then by
        length.
    """
    if not words or maxn < 1:
        return np.empty(0, np.int64), np.empty(0, np.uint32)
    minn = max(minn, 1)  # a subword has a character at least (fastText reads minn=0 as 1)
    marked = [b"<" + w + b">" for w in words]
    lengths = np.fromiter(map(len, marked), np.int64, len(marked))
    flat = np.frombuffer(b"".join(marked), dtype=np.uint8)
    word_end = np.cumsum(lengths)
    word_start = word_end - lengths
    is_start = (flat & 0xC0) != 0x80
    # a character ends where the next byte starts one (a word's last byte is its '>', and
    # the next word starts with '<')
    ends_char = np.ones(flat.size, bool)
    ends_char[:-1] = is_start[1:]
    begin = np.flatnonzero(is_start)  # every subword starts at a character
    owner = np.searchsorted(word_end, begin, side="right")
    edge = (begin == word_start[owner]) | (begin + 1 == word_end[owner])  # '<' or '>' alone
    # subwords of each start: minn..maxn characters, as many as remain in its word
    remaining = np.searchsorted(begin, word_end)[owner] - np.arange(begin.size)
    count = np.maximum(np.minimum(remaining, maxn) - minn + 1, 0) - (edge & (minn == 1))
    del remaining
    slot = np.cumsum(count) - count  # where each start's next subword goes in the output
    hashes = np.empty(int(count.sum()), np.uint32)
    sext = flat.view(np.int8).astype(np.uint32)  # fastText's int8 -> uint32 cast
    h = np.full(begin.size, FNV_OFFSET_BASIS, np.uint32)
    chars = np.zeros(begin.size, np.int32)
    prime = np.uint32(FNV_PRIME)
    live = np.arange(begin.size)
    k = 0
    while live.size:  # byte k of every subword still growing; at most 4·maxn rounds
        pos = begin[live] + k
        h[live] = (h[live] ^ sext[pos]) * prime
        done = ends_char[pos]
        chars[live] += done
        n = chars[live]
        at = live[done & (n >= minn) & ~((n == 1) & edge[live])]  # n <= maxn: see below
        hashes[slot[at]] = h[at]
        slot[at] += 1
        k += 1
        live = live[(pos + 1 < word_end[owner[live]]) & ~(done & (n >= maxn))]
    return np.repeat(owner, count), hashes


def _sign_extend(h: np.ndarray) -> np.ndarray:
    """``uint32`` hashes -> ``uint64`` via ``int32`` (fastText's widening)."""
    return h.view(np.int32).astype(np.int64).view(np.uint64)


def char_ngrams(token: str, minn: int, maxn: int) -> list[str]:
    """fastText subwords of ``"<" + token + ">"`` with ``minn..maxn`` characters."""
    s = f"<{token}>"
    size = len(s)
    out = []
    for i in range(size):
        for n in range(minn, min(maxn, size - i) + 1):
            if n == 1 and (i == 0 or i == size - 1):
                continue
            out.append(s[i : i + n])
    return out
