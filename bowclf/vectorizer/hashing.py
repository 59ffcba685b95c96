"""fastText's token and n-gram hashes (the formulas are in :mod:`bowclf.vectorizer`).

``token_hash`` is the pure-Python statement of the rule; ``token_hashes``
computes it for many tokens at once with numpy, and the tests check one against
the other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FNV_OFFSET_BASIS", "FNV_PRIME", "NGRAM_MULTIPLIER", "token_hash", "token_hashes"]

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619
NGRAM_MULTIPLIER = 116049371


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
    n = len(tokens)
    if n == 0:
        return np.empty(0, np.uint32)
    enc = [t.encode("utf-8", "surrogatepass") for t in tokens]
    lens = np.fromiter(map(len, enc), np.int64, n)
    # int8 -> uint32 is a C cast: negative bytes wrap, i.e. sign-extend.
    data = np.frombuffer(b"".join(enc), np.int8).astype(np.uint32)
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


def _sign_extend(h: np.ndarray) -> np.ndarray:
    """``uint32`` hashes -> ``uint64`` via ``int32`` (fastText's widening)."""
    return h.view(np.int32).astype(np.int64).view(np.uint64)


def _char_ngrams(token: str, minn: int, maxn: int) -> list[str]:
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
