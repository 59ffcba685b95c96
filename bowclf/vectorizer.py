"""Raw text to sparse bag-of-words counts with fastText-style hashed n-grams.

:class:`BowVectorizer` turns an iterable of documents into a
``scipy.sparse.csr_array`` of shape ``(n_documents, p)`` whose columns are

* ``0 .. V-1`` — the vocabulary words learnt by :meth:`BowVectorizer.fit`
  (ids ordered by descending corpus count, ties by code-point order), and
* ``V .. V+buckets-1`` — hash buckets shared by word n-grams (``ngrams >= 2``)
  and character n-grams of words (``maxn > 0``).  As in fastText, the buckets
  exist only when one of those features is enabled, so
  ``p = V + buckets`` or ``p = V``.

Hashing (stable across processes, platforms and Python versions; never
Python's ``hash()``) follows fastText's ``src/dictionary.cc`` exactly:

* token hash — 32-bit FNV-1a over the UTF-8 bytes ``b_1..b_m`` of a token,
  each byte *sign-extended* from 8 bits (fastText's ``int8_t`` quirk, kept so
  that bucket ids match fastText's; it only matters for non-ASCII bytes)::

      h_0 = 2166136261
      h_k = ((h_{k-1} XOR sext8(b_k)) * 16777619)  mod 2**32

* word n-gram column — with ``t_i = sext32(hash(token_i))`` reinterpreted as
  an unsigned 64-bit integer (fastText stores token hashes as ``int32_t`` and
  widens them into an ``uint64_t``)::

      g = t_i
      g = (g * 116049371 + t_{i+k})  mod 2**64      for k = 1 .. n-1
      column = V + (g mod buckets)

  over every run of ``n = 2 .. ngrams`` consecutive tokens of one document.
  Out-of-vocabulary tokens take part, as in fastText's ``getLine``.
* character n-gram column — for every token ``w`` (known or not), every
  substring ``s`` of ``"<" + w + ">"`` of ``minn .. maxn`` characters, except
  the lone boundary markers ``"<"`` and ``">"``::

      column = V + (hash(s) mod buckets)        # unsigned 32-bit hash here

The one deliberate difference from fastText: no end-of-sentence token
``</s>`` is appended to documents.  With ``tokenizer='whitespace'``,
``lowercase=False`` and a literal ``" </s>"`` appended to each document, the
columns are exactly fastText's input rows (checked against the ``fasttext``
package by the tests).

Tokenisation (``tokenizer='default'``) is described in
:class:`BowVectorizer`; its word characters come from a table frozen at
Unicode 14.0, so the tokens (and a saved model) do not change with the
Python version (``str.lower`` aside).

How it is fast: documents are processed in batches of about a quarter of a
million characters (which bounds the temporaries, about 10 bytes per
character; non-ASCII documents go in quarter batches, as UTF-32 takes 4 bytes
a character).  With the default rule a batch is joined with ``"\n"`` and its
tokens are found with numpy on the character codes (bytes for ASCII
documents, UTF-32 code points otherwise) through a class table: no string is
created per token.  An ASCII token of at most 16 characters is keyed by its
bytes packed into one or two ``uint64`` (a token of one non-ASCII character
by its code point) and finds its integer id in a direct-mapped cache (every
hit is checked against the key of the id, so the result is exact); only the
distinct missed keys and the other tokens (longer, or non-ASCII words) become
strings looked up in a ``dict``.  (Other tokenizers: one regex call per batch,
ids through one C-level ``map`` over the ``dict``.)  Token hashes, n-gram
hashes and the sparse matrix are computed with numpy over whole batches;
distinct tokens are hashed once per call.  Output blocks are appended in place
to arrays grown by ``realloc`` (reserved at once when the number of documents
is known), so the peak memory is about 1.05-1.25x the output.

Transform of unigrams needs no per-token table: the first one builds (and
keeps) an exact hash index (open addressing, probed with numpy) from the keys
of the vocabulary's words to their columns, so a keyed token finds its column,
or that it is unknown, without a string; only the other tokens are looked up
in ``vocabulary_``; batches are a quarter of the size.  With n-grams or
subwords every distinct token needs a hash, so transform uses a token table
as fit does; it looks words up in the vocabulary itself (a word's id is its
column) and forgets the strings of tokens outside the vocabulary after each
batch (their ids stay valid), so the table does not grow with the rare words
of the input.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sized
from itertools import chain, count, islice, repeat
from numbers import Integral
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _limits

__all__ = [
    "BowVectorizer",
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "NGRAM_MULTIPLIER",
    "STATE_VERSION",
    "token_hash",
    "token_hashes",
]

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619
NGRAM_MULTIPLIER = 116049371
#: Version of the fitted-state layout *and* of the tokenisation/hash rules.
STATE_VERSION = 1

# Documents of a batch are joined with a separator token and tokenised in one
# call; the separators are then located among the token ids.
_SEP = "\uffff"  # a Unicode non-character
_SEP_JOIN = " \uffff "
_ASCII_SEP = "\x01"  # separator of the ASCII fast path (never a default token)
_ASCII_JOIN = " \x01 "
_MAX_BATCH_CHARS = 1 << 18  # bounds the live token strings and the temporaries
_FASTTEXT_WHITESPACE_RE = re.compile("[^ \t\n\v\f\r\x00]+")
# Characters that str.split() treats as whitespace but fastText does not, plus
# NUL, which fastText treats as whitespace but str.split() does not.
_SPLIT_UNSAFE_RE = re.compile(
    "[\x00\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# ASCII fast path of the default rule: whitespace becomes a space and every other
# character that is neither a word character, a joiner (' -) nor the separator
# becomes a token of its own (surrounded by spaces) ...
_ASCII_TABLE = str.maketrans(
    {
        c: (" " if c.isspace() or not c.isprintable() else f" {c} ")
        for c in map(chr, range(128))
        if not (c.isalnum() or c in "_'-\x01")
    }
)
# The same rule in two fast steps: a 1:1 table (str.translate's fast path) blanks the
# separators, then each punctuation character present is spaced out with str.replace.  A
# table with multi-character values sends str.translate down a per-character slow path
# (three times slower on imdb).
_ASCII_BLANKS = str.maketrans({c: " " for c, v in _ASCII_TABLE.items() if v == " "})
_ASCII_PUNCT = tuple(chr(c) for c, v in _ASCII_TABLE.items() if v != " ")
# ... then joiners not between two word characters become tokens of their own too.
_ASCII_JOINER_RE = re.compile(r"['\-](?:['\-]+|(?<![^ ]['\-])|(?![^ ]))")

# Vectorised default rule: character classes (of ASCII bytes here, of all code
# points in _bmp_classes; lowercasing does not change an ASCII class).  A
# token is a maximal run of BMP word characters and *internal* joiners (a
# joiner between two of them), a maximal run of astral-plane word characters,
# or one character of class _JOINER or _PUNCT; blanks only separate tokens.
_BLANK, _WORD, _JOINER, _PUNCT, _ASTRAL = 0, 1, 2, 3, 4  # _ASTRAL: astral-plane word
_ASCII_CLASS = np.zeros(256, np.uint8)
for _c in map(chr, range(128)):
    if _c.isalnum() or _c == "_":
        _ASCII_CLASS[ord(_c)] = _WORD
    elif _c in "'-":
        _ASCII_CLASS[ord(_c)] = _JOINER
    elif not (_c.isspace() or not _c.isprintable()):
        _ASCII_CLASS[ord(_c)] = _PUNCT
# Tokens of at most 8 bytes are keyed by their bytes packed little-endian into
# an uint64 (exact: tokens hold no NUL byte, so the zero padding marks the end).
_KEY_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)
_NO_KEY = np.uint64(2**64 - 1)  # key of ids not known by key (0xFF is not ASCII)
# Tokens of one non-ASCII character are keyed by code point + 2**63 (packed ASCII
# keys are < 2**63: their bytes are < 0x80).
_CHAR_KEY = np.uint64(1 << 63)
# ASCII tokens of 9 to 16 bytes are keyed by two words: their first 8 bytes
# + 2**63 (>= 2**63 + 2**56: no NUL byte, so never a character key) and their
# other bytes packed (the second key of every other id is 0).
_LONG_KEY = _CHAR_KEY
_NO_SECOND = np.uint64(0)  # second key word of one-word keys
_SLOT_BITS = 18  # size of the key -> id cache (a hint, checked on use)
_SLOT_MULT = np.uint64(0x9E3779B97F4A7C15)
_SLOT_MULT2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _slot_hash(key1: np.ndarray, key2: np.ndarray | np.uint64, shift: np.uint64) -> np.ndarray:
    """Slot of keys in a table of ``2**(64 - shift)``: ``((key1 ^ key2·M2)·M) >> shift``
    (multiplicative hashing; ``key2`` is 0 for one-word keys)."""
    mixed = key2 * _SLOT_MULT2
    mixed ^= key1
    mixed *= _SLOT_MULT
    mixed >>= shift
    return mixed


# Ideographic scripts written without spaces: every character is a token.
_CJK_RANGES = (
    (0x3005, 0x3005),  # 々
    (0x3007, 0x3007),  # 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK Extensions B..G, compatibility supplement
)
# Emoji and pictographs: every code point is a token (skin-tone modifiers and
# regional indicators included); ZWJ and variation selectors are tokens of their own.
_EMOJI_RANGES = (
    (0x2300, 0x23FF),
    (0x2600, 0x27BF),
    (0x2B00, 0x2BFF),
    (0x1F000, 0x1FAFF),
)
_SINGLE_PUNCT = "!?\uff01\uff1f"  # ! ? and their full-width forms
_VARIATION_SELECTORS = (0xFE00, 0xFE0F)


# --------------------------------------------------------------------------
# hashing


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


# --------------------------------------------------------------------------
# tokenisation


def _scan_word_ranges() -> list[tuple[int, int]]:
    """Word-character ranges from the running interpreter's Unicode database.

    Python's ``\\w`` plus combining marks (categories ``Mn``, ``Mc``, ``Me``),
    minus CJK, emoji and variation selectors, over planes 0-1 (higher planes
    hold no word characters besides CJK ideographs).  Used to generate (and
    test) :data:`_WORD_RANGES`.
    """
    n = 0x20000
    chars = "".join(map(chr, range(n)))
    word = np.zeros(n, bool)
    for m in re.finditer(r"\w+", chars):
        word[m.start() : m.end()] = True
    cat = unicodedata.category
    word |= np.fromiter((cat(c)[0] == "M" for c in chars), bool, n)
    for a, b in (*_CJK_RANGES, *_EMOJI_RANGES, _VARIATION_SELECTORS):
        word[a : min(b, n - 1) + 1] = False
    edges = np.diff(np.concatenate(([0], word.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1).tolist()
    stops = (np.flatnonzero(edges == -1) - 1).tolist()
    return list(zip(starts, stops, strict=True))


def _parse_ranges(table: str) -> list[tuple[int, int]]:
    """``"30-39 5f"`` -> ``[(0x30, 0x39), (0x5F, 0x5F)]``."""
    out = []
    for item in table.split():
        a, _, b = item.partition("-")
        out.append((int(a, 16), int(b or a, 16)))
    return out


#: Unicode version of :data:`_WORD_RANGES` (Python 3.11's ``unicodedata``).
_WORD_RANGES_UNICODE = "14.0.0"
#: Word characters of the default tokenizer, as hex code-point ranges, generated
#: by :func:`_scan_word_ranges`.  Frozen so that tokenisation (hence a saved
#: model) does not change with the Python version.
_WORD_RANGES = """
30-39 41-5a 5f 61-7a aa b2-b3 b5 b9-ba bc-be c0-d6 d8-f6 f8-2c1 2c6-2d1 2e0-2e4 2ec 2ee 300-374
376-377 37a-37d 37f 386 388-38a 38c 38e-3a1 3a3-3f5 3f7-481 483-52f 531-556 559 560-588 591-5bd
5bf 5c1-5c2 5c4-5c5 5c7 5d0-5ea 5ef-5f2 610-61a 620-669 66e-6d3 6d5-6dc 6df-6e8 6ea-6fc 6ff
710-74a 74d-7b1 7c0-7f5 7fa 7fd 800-82d 840-85b 860-86a 870-887 889-88e 898-8e1 8e3-963 966-96f
971-983 985-98c 98f-990 993-9a8 9aa-9b0 9b2 9b6-9b9 9bc-9c4 9c7-9c8 9cb-9ce 9d7 9dc-9dd 9df-9e3
9e6-9f1 9f4-9f9 9fc 9fe a01-a03 a05-a0a a0f-a10 a13-a28 a2a-a30 a32-a33 a35-a36 a38-a39 a3c
a3e-a42 a47-a48 a4b-a4d a51 a59-a5c a5e a66-a75 a81-a83 a85-a8d a8f-a91 a93-aa8 aaa-ab0 ab2-ab3
ab5-ab9 abc-ac5 ac7-ac9 acb-acd ad0 ae0-ae3 ae6-aef af9-aff b01-b03 b05-b0c b0f-b10 b13-b28
b2a-b30 b32-b33 b35-b39 b3c-b44 b47-b48 b4b-b4d b55-b57 b5c-b5d b5f-b63 b66-b6f b71-b77 b82-b83
b85-b8a b8e-b90 b92-b95 b99-b9a b9c b9e-b9f ba3-ba4 ba8-baa bae-bb9 bbe-bc2 bc6-bc8 bca-bcd bd0
bd7 be6-bf2 c00-c0c c0e-c10 c12-c28 c2a-c39 c3c-c44 c46-c48 c4a-c4d c55-c56 c58-c5a c5d c60-c63
c66-c6f c78-c7e c80-c83 c85-c8c c8e-c90 c92-ca8 caa-cb3 cb5-cb9 cbc-cc4 cc6-cc8 cca-ccd cd5-cd6
cdd-cde ce0-ce3 ce6-cef cf1-cf2 d00-d0c d0e-d10 d12-d44 d46-d48 d4a-d4e d54-d63 d66-d78 d7a-d7f
d81-d83 d85-d96 d9a-db1 db3-dbb dbd dc0-dc6 dca dcf-dd4 dd6 dd8-ddf de6-def df2-df3 e01-e3a
e40-e4e e50-e59 e81-e82 e84 e86-e8a e8c-ea3 ea5 ea7-ebd ec0-ec4 ec6 ec8-ecd ed0-ed9 edc-edf f00
f18-f19 f20-f33 f35 f37 f39 f3e-f47 f49-f6c f71-f84 f86-f97 f99-fbc fc6 1000-1049 1050-109d
10a0-10c5 10c7 10cd 10d0-10fa 10fc-1248 124a-124d 1250-1256 1258 125a-125d 1260-1288 128a-128d
1290-12b0 12b2-12b5 12b8-12be 12c0 12c2-12c5 12c8-12d6 12d8-1310 1312-1315 1318-135a 135d-135f
1369-137c 1380-138f 13a0-13f5 13f8-13fd 1401-166c 166f-167f 1681-169a 16a0-16ea 16ee-16f8
1700-1715 171f-1734 1740-1753 1760-176c 176e-1770 1772-1773 1780-17d3 17d7 17dc-17dd 17e0-17e9
17f0-17f9 180b-180d 180f-1819 1820-1878 1880-18aa 18b0-18f5 1900-191e 1920-192b 1930-193b
1946-196d 1970-1974 1980-19ab 19b0-19c9 19d0-19da 1a00-1a1b 1a20-1a5e 1a60-1a7c 1a7f-1a89
1a90-1a99 1aa7 1ab0-1ace 1b00-1b4c 1b50-1b59 1b6b-1b73 1b80-1bf3 1c00-1c37 1c40-1c49 1c4d-1c7d
1c80-1c88 1c90-1cba 1cbd-1cbf 1cd0-1cd2 1cd4-1cfa 1d00-1f15 1f18-1f1d 1f20-1f45 1f48-1f4d
1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4 1fb6-1fbc 1fbe 1fc2-1fc4 1fc6-1fcc 1fd0-1fd3
1fd6-1fdb 1fe0-1fec 1ff2-1ff4 1ff6-1ffc 2070-2071 2074-2079 207f-2089 2090-209c 20d0-20f0 2102
2107 210a-2113 2115 2119-211d 2124 2126 2128 212a-212d 212f-2139 213c-213f 2145-2149 214e
2150-2189 2460-249b 24ea-24ff 2c00-2ce4 2ceb-2cf3 2cfd 2d00-2d25 2d27 2d2d 2d30-2d67 2d6f
2d7f-2d96 2da0-2da6 2da8-2dae 2db0-2db6 2db8-2dbe 2dc0-2dc6 2dc8-2dce 2dd0-2dd6 2dd8-2dde
2de0-2dff 2e2f 3006 3021-302f 3031-3035 3038-303c 3105-312f 3131-318e 3192-3195 31a0-31bf
3220-3229 3248-324f 3251-325f 3280-3289 32b1-32bf a000-a48c a4d0-a4fd a500-a60c a610-a62b
a640-a672 a674-a67d a67f-a6f1 a717-a71f a722-a788 a78b-a7ca a7d0-a7d1 a7d3 a7d5-a7d9 a7f2-a827
a82c a830-a835 a840-a873 a880-a8c5 a8d0-a8d9 a8e0-a8f7 a8fb a8fd-a92d a930-a953 a960-a97c
a980-a9c0 a9cf-a9d9 a9e0-a9fe aa00-aa36 aa40-aa4d aa50-aa59 aa60-aa76 aa7a-aac2 aadb-aadd
aae0-aaef aaf2-aaf6 ab01-ab06 ab09-ab0e ab11-ab16 ab20-ab26 ab28-ab2e ab30-ab5a ab5c-ab69
ab70-abea abec-abed abf0-abf9 ac00-d7a3 d7b0-d7c6 d7cb-d7fb fb00-fb06 fb13-fb17 fb1d-fb28
fb2a-fb36 fb38-fb3c fb3e fb40-fb41 fb43-fb44 fb46-fbb1 fbd3-fd3d fd50-fd8f fd92-fdc7 fdf0-fdfb
fe20-fe2f fe70-fe74 fe76-fefc ff10-ff19 ff21-ff3a ff41-ff5a ffa0-ffbe ffc2-ffc7 ffca-ffcf
ffd2-ffd7 ffda-ffdc 10000-1000b 1000d-10026 10028-1003a 1003c-1003d 1003f-1004d 10050-1005d
10080-100fa 10107-10133 10140-10178 1018a-1018b 101fd 10280-1029c 102a0-102d0 102e0-102fb
10300-10323 1032d-1034a 10350-1037a 10380-1039d 103a0-103c3 103c8-103cf 103d1-103d5 10400-1049d
104a0-104a9 104b0-104d3 104d8-104fb 10500-10527 10530-10563 10570-1057a 1057c-1058a 1058c-10592
10594-10595 10597-105a1 105a3-105b1 105b3-105b9 105bb-105bc 10600-10736 10740-10755 10760-10767
10780-10785 10787-107b0 107b2-107ba 10800-10805 10808 1080a-10835 10837-10838 1083c 1083f-10855
10858-10876 10879-1089e 108a7-108af 108e0-108f2 108f4-108f5 108fb-1091b 10920-10939 10980-109b7
109bc-109cf 109d2-10a03 10a05-10a06 10a0c-10a13 10a15-10a17 10a19-10a35 10a38-10a3a 10a3f-10a48
10a60-10a7e 10a80-10a9f 10ac0-10ac7 10ac9-10ae6 10aeb-10aef 10b00-10b35 10b40-10b55 10b58-10b72
10b78-10b91 10ba9-10baf 10c00-10c48 10c80-10cb2 10cc0-10cf2 10cfa-10d27 10d30-10d39 10e60-10e7e
10e80-10ea9 10eab-10eac 10eb0-10eb1 10f00-10f27 10f30-10f54 10f70-10f85 10fb0-10fcb 10fe0-10ff6
11000-11046 11052-11075 1107f-110ba 110c2 110d0-110e8 110f0-110f9 11100-11134 11136-1113f
11144-11147 11150-11173 11176 11180-111c4 111c9-111cc 111ce-111da 111dc 111e1-111f4 11200-11211
11213-11237 1123e 11280-11286 11288 1128a-1128d 1128f-1129d 1129f-112a8 112b0-112ea 112f0-112f9
11300-11303 11305-1130c 1130f-11310 11313-11328 1132a-11330 11332-11333 11335-11339 1133b-11344
11347-11348 1134b-1134d 11350 11357 1135d-11363 11366-1136c 11370-11374 11400-1144a 11450-11459
1145e-11461 11480-114c5 114c7 114d0-114d9 11580-115b5 115b8-115c0 115d8-115dd 11600-11640 11644
11650-11659 11680-116b8 116c0-116c9 11700-1171a 1171d-1172b 11730-1173b 11740-11746 11800-1183a
118a0-118f2 118ff-11906 11909 1190c-11913 11915-11916 11918-11935 11937-11938 1193b-11943
11950-11959 119a0-119a7 119aa-119d7 119da-119e1 119e3-119e4 11a00-11a3e 11a47 11a50-11a99 11a9d
11ab0-11af8 11c00-11c08 11c0a-11c36 11c38-11c40 11c50-11c6c 11c72-11c8f 11c92-11ca7 11ca9-11cb6
11d00-11d06 11d08-11d09 11d0b-11d36 11d3a 11d3c-11d3d 11d3f-11d47 11d50-11d59 11d60-11d65
11d67-11d68 11d6a-11d8e 11d90-11d91 11d93-11d98 11da0-11da9 11ee0-11ef6 11fb0 11fc0-11fd4
12000-12399 12400-1246e 12480-12543 12f90-12ff0 13000-1342e 14400-14646 16800-16a38 16a40-16a5e
16a60-16a69 16a70-16abe 16ac0-16ac9 16ad0-16aed 16af0-16af4 16b00-16b36 16b40-16b43 16b50-16b59
16b5b-16b61 16b63-16b77 16b7d-16b8f 16e40-16e96 16f00-16f4a 16f4f-16f87 16f8f-16f9f 16fe0-16fe1
16fe3-16fe4 16ff0-16ff1 17000-187f7 18800-18cd5 18d00-18d08 1aff0-1aff3 1aff5-1affb 1affd-1affe
1b000-1b122 1b150-1b152 1b164-1b167 1b170-1b2fb 1bc00-1bc6a 1bc70-1bc7c 1bc80-1bc88 1bc90-1bc99
1bc9d-1bc9e 1cf00-1cf2d 1cf30-1cf46 1d165-1d169 1d16d-1d172 1d17b-1d182 1d185-1d18b 1d1aa-1d1ad
1d242-1d244 1d2e0-1d2f3 1d360-1d378 1d400-1d454 1d456-1d49c 1d49e-1d49f 1d4a2 1d4a5-1d4a6
1d4a9-1d4ac 1d4ae-1d4b9 1d4bb 1d4bd-1d4c3 1d4c5-1d505 1d507-1d50a 1d50d-1d514 1d516-1d51c
1d51e-1d539 1d53b-1d53e 1d540-1d544 1d546 1d54a-1d550 1d552-1d6a5 1d6a8-1d6c0 1d6c2-1d6da
1d6dc-1d6fa 1d6fc-1d714 1d716-1d734 1d736-1d74e 1d750-1d76e 1d770-1d788 1d78a-1d7a8 1d7aa-1d7c2
1d7c4-1d7cb 1d7ce-1d7ff 1da00-1da36 1da3b-1da6c 1da75 1da84 1da9b-1da9f 1daa1-1daaf 1df00-1df1e
1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e100-1e12c 1e130-1e13d 1e140-1e149
1e14e 1e290-1e2ae 1e2c0-1e2f9 1e7e0-1e7e6 1e7e8-1e7eb 1e7ed-1e7ee 1e7f0-1e7fe 1e800-1e8c4
1e8c7-1e8d6 1e900-1e94b 1e950-1e959 1ec71-1ecab 1ecad-1ecaf 1ecb1-1ecb4 1ed01-1ed2d 1ed2f-1ed3d
1ee00-1ee03 1ee05-1ee1f 1ee21-1ee22 1ee24 1ee27 1ee29-1ee32 1ee34-1ee37 1ee39 1ee3b 1ee42 1ee47
1ee49 1ee4b 1ee4d-1ee4f 1ee51-1ee52 1ee54 1ee57 1ee59 1ee5b 1ee5d 1ee5f 1ee61-1ee62 1ee64
1ee67-1ee6a 1ee6c-1ee72 1ee74-1ee77 1ee79-1ee7c 1ee7e 1ee80-1ee89 1ee8b-1ee9b 1eea1-1eea3
1eea5-1eea9 1eeab-1eebb 1fbf0-1fbf9
"""


def _ranges_class(ranges: Iterable[tuple[int, int]]) -> str:
    """Regex character-class body for inclusive code-point ranges."""
    parts = []
    for a, b in ranges:
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


@functools.cache
def _default_pattern(batch: bool = False) -> re.Pattern[str]:
    """The default token regex; ``batch=True`` also matches the separator.

    ``word(['-]word)* | one CJK/emoji character | astral-plane word | any other
    character but white space and control characters`` where ``word`` is a run of
    :data:`_WORD_RANGES` characters.  sre stores
    BMP character sets as a bitmap but scans astral ranges linearly, so the hot
    class is BMP-only and the rare astral one sits behind a cheap lookahead.
    Compiled on first use (ASCII-only corpora never need it).
    """
    ranges = _parse_ranges(_WORD_RANGES)
    bmp = f"[{_ranges_class((a, min(b, 0xFFFF)) for a, b in ranges if a <= 0xFFFF)}]"
    astral_ranges = [(max(a, 0x10000), b) for a, b in ranges if b > 0xFFFF]
    astral = f"(?=[\\U00010000-\\U0001ffff])[{_ranges_class(astral_ranges)}]+"
    single = f"[{_ranges_class(_CJK_RANGES)}{_ranges_class(_EMOJI_RANGES)}{_SINGLE_PUNCT}]"
    public = f"{bmp}+(?:['\\-]{bmp}+)*|{single}|{astral}|[^\\s\\x00-\\x1f\\x7f-\\x9f\\uffff]"
    return re.compile(f"{public}|{re.escape(_SEP)}" if batch else public)


def _isolate_joiners(match: re.Match[str]) -> str:
    """``--`` → `` - - ``: joiners outside words are tokens, one per character."""
    return " " + " ".join(match.group()) + " "


class _Segment(NamedTuple):
    """Tokens of some documents of a batch, in document order.

    ``docs`` holds the batch positions of those documents (``None``: all of
    them, in order).  Documents are delimited either by ``lens`` (tokens per
    document) or, when ``lens`` is ``None``, by the separator tokens ``sep``.
    """

    tokens: list[str]
    docs: np.ndarray | None
    lens: np.ndarray | None
    sep: str
    spans: _Spans | None = None  # instead of ``tokens`` (then empty)

    def token_docs(self) -> np.ndarray:
        """Batch position of each token's document (segments with ``lens``)."""
        assert self.lens is not None
        doc = np.repeat(np.arange(len(self.lens), dtype=np.int32), self.lens)
        return doc if self.docs is None else self.docs[doc]


class _Spans(NamedTuple):
    """Tokens of the vectorised default rule as spans of the joined documents.

    ``text`` is the prepared (lower-cased) ``"\\n"``-joined text, token ``i``
    is ``text[starts[i]:ends[i]]``; ``buf`` holds one byte per character (its
    code if ASCII, else ``0xFF``) followed by 8 zero bytes.
    """

    text: str
    buf: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    strings: np.ndarray | None  # tokens to look up as strings (non-ASCII ones)
    codes: np.ndarray | None  # first code point of each token (if not all ASCII)

    def tokens(self, which: np.ndarray | None = None) -> list[str]:
        """Token strings (those at positions ``which`` if given)."""
        starts, ends = (
            (self.starts, self.ends) if which is None else (self.starts[which], self.ends[which])
        )
        return list(map(self.text.__getitem__, map(slice, starts.tolist(), ends.tolist())))


class _Tokenizer:
    """Immutable tokenisation rule derived from the vectorizer's parameters."""

    #: Default rule by :meth:`_ascii_spans` / :meth:`_unicode_spans` (numpy on
    #: character codes); ``False``: by the previous string paths
    #: :meth:`_ascii_tokens` / :meth:`_joined_tokens`, kept as the tests' reference.
    vectorised = True

    def __init__(
        self,
        lowercase: bool,
        tokenizer: str | Callable[[str], list[str]],
        token_pattern: str | None,
    ) -> None:
        self.lowercase = bool(lowercase)
        self.func: Callable[[str], list[str]] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._batch_pattern: re.Pattern[str] | None = None
        self.default = False
        self.whitespace = False
        if callable(tokenizer):
            self.func = tokenizer
        elif tokenizer == "whitespace":
            self.whitespace = True
            self._pattern = self._batch_pattern = _FASTTEXT_WHITESPACE_RE
        elif token_pattern is not None:
            self._pattern = _compile_token_pattern(token_pattern)
        else:
            self.default = True

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return _default_pattern() if self.default else self._pattern

    @property
    def batch_pattern(self) -> re.Pattern[str] | None:
        return _default_pattern(batch=True) if self.default else self._batch_pattern

    def _prepare(self, text: str) -> str:
        if self.lowercase:
            text = text.lower()
        if self.default and "\u2019" in text:
            text = text.replace("\u2019", "'")
        return text

    def _split(self, text: str, pattern: re.Pattern[str]) -> list[str]:
        if self.whitespace and _SPLIT_UNSAFE_RE.search(text) is None:
            return text.split()
        return pattern.findall(text)

    def tokenize(self, doc: str) -> list[str]:
        """Tokens of one document."""
        doc = self._prepare(doc)
        if self.func is not None:
            tokens = self.func(doc)
            return tokens if isinstance(tokens, list) else list(tokens)
        assert self.pattern is not None
        return self._split(doc, self.pattern)

    def _ascii_spans(self, docs: list[str]) -> tuple[_Spans, np.ndarray]:
        """Default-rule tokens of ASCII documents, found with numpy on bytes.

        Returns the spans and the number of tokens of each document.  Same
        tokens as the regex and as :meth:`_ascii_tokens` (checked by the tests),
        without creating one string per token.
        """
        text = "\n".join(docs)  # "\n" is a blank: no token spans two documents
        if self.lowercase:
            text = text.lower()
        n = len(text)
        buf = np.zeros(n + 8, np.uint8)
        raw = buf[:n]
        raw[:] = np.frombuffer(text.encode("ascii"), np.uint8)
        starts, ends = _token_bounds(_ASCII_CLASS[raw])
        return _Spans(text, buf, starts, ends, None, None), _doc_lens(docs, starts)

    def _unicode_spans(self, docs: list[str]) -> tuple[_Spans, np.ndarray]:
        """:meth:`_ascii_spans` for any documents, on UTF-32 code points.

        Tokens holding a non-ASCII character are looked up as strings.
        """
        text = self._prepare("\n".join(docs))
        cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
        n = len(cp)
        doc_ends = np.fromiter(map(len, docs), np.intp, len(docs))
        if n != int(doc_ends.sum()) + len(docs) - 1:  # str.lower changed lengths
            doc_ends = np.fromiter(map(len, map(self._prepare, docs)), np.intp, len(docs))
        cls = _code_point_classes(cp)
        starts, ends = _token_bounds(cls)
        buf = np.zeros(n + 8, np.uint8)
        non_ascii = cp >= 128
        np.copyto(buf[:n], cp, casting="unsafe")
        buf[:n][non_ascii] = 0xFF
        codes = cp[starts]  # only tokens' first code points are needed later
        del cp  # frees the UTF-32 copy of the batch
        # every non-blank character is in a token: the token of a non-blank
        # non-ASCII character is the last one starting at or before it
        non_ascii &= cls != _BLANK
        del cls
        strings = np.zeros(len(starts), bool)
        strings[np.searchsorted(starts, np.flatnonzero(non_ascii), side="right") - 1] = True
        del non_ascii
        spans = _Spans(text, buf, starts, ends, strings, codes)
        return spans, _lens_from_ends(doc_ends, starts)

    def _ascii_tokens(self, docs: list[str]) -> list[str] | None:
        """Default-rule tokens of ASCII documents with str.translate/split.

        The previous fast path, kept as a reference for :meth:`_ascii_spans`
        (the tests check that both give the regex's tokens).  Returns ``None``
        if a document contains the separator.
        """
        text = _ASCII_JOIN.join(docs)
        if text.count(_ASCII_SEP) != len(docs) - 1:
            return None
        if self.lowercase:
            text = text.lower()
        text = text.translate(_ASCII_BLANKS)
        for mark in _ASCII_PUNCT:
            if mark in text:
                text = text.replace(mark, f" {mark} ")
        if "'" in text or "-" in text:
            text = _ASCII_JOINER_RE.sub(_isolate_joiners, text)
        return text.split()

    def _joined_tokens(self, docs: list[str]) -> list[str] | None:
        assert self.batch_pattern is not None
        tokens = self._split(self._prepare(_SEP_JOIN.join(docs)), self.batch_pattern)
        # a document holding the separator as a token must go one by one
        return tokens if tokens.count(_SEP) == len(docs) - 1 else None

    def _one_by_one(self, docs: list[str], where: np.ndarray | None) -> _Segment:
        lists = [self.tokenize(d) for d in docs]
        lens = np.fromiter(map(len, lists), np.intp, len(lists))
        return _Segment(list(chain.from_iterable(lists)), where, lens, _SEP)

    def tokenize_batch(self, docs: list[str]) -> list[_Segment]:
        """Tokens of all ``docs`` as segments (see :class:`_Segment`)."""
        return list(self.iter_segments(docs))

    def iter_segments(self, docs: list[str]) -> Iterator[_Segment]:
        """:meth:`tokenize_batch` one segment at a time, so that a consumer can
        free a segment (ASCII documents) before the next one is tokenised."""
        if not self.default and self._batch_pattern is None:
            yield self._one_by_one(docs, None)
            return
        if not self.default:
            tokens = self._joined_tokens(docs)
            if tokens is None:
                yield self._one_by_one(docs, None)
            else:
                yield _Segment(tokens, None, None, _SEP)
            return
        is_ascii = np.fromiter(map(str.isascii, docs), bool, len(docs))
        spans = tokens = None
        for flag in (True, False):
            where = np.flatnonzero(is_ascii == flag)
            if where.size == 0:
                continue
            part = docs if where.size == len(docs) else list(map(docs.__getitem__, where.tolist()))
            pos = None if where.size == len(docs) else where.astype(np.int32)
            if flag and self.vectorised:
                spans, lens = self._ascii_spans(part)
                seg = _Segment([], pos, lens, _ASCII_SEP, spans)
            elif flag and (tokens := self._ascii_tokens(part)) is not None:
                seg = _Segment(tokens, pos, None, _ASCII_SEP)
            elif not flag and self.vectorised:
                # UTF-32 takes 4 bytes a character: a quarter of the batch at a time
                quarter = sum(map(len, docs)) // 4
                for sub, sub_pos in _split_chars(part, pos, quarter):
                    spans, lens = self._unicode_spans(sub)
                    yield _Segment([], sub_pos, lens, _SEP, spans)
                    spans = None
                continue
            elif not flag and (tokens := self._joined_tokens(part)) is not None:
                seg = _Segment(tokens, pos, None, _SEP)
            else:
                seg = self._one_by_one(part, pos)
            part = spans = tokens = None
            yield seg
            del seg


def _char_runs(lengths: Iterable[int], max_chars: int) -> Iterator[tuple[int, int]]:
    """``(begin, end)`` of consecutive runs of documents of these lengths: a run
    ends with the document that brings it to ``max_chars`` characters (or with
    the last document)."""
    ends = np.cumsum(np.fromiter(lengths, np.int64))
    begin = 0
    while begin < len(ends):
        done = int(ends[begin - 1]) if begin else 0
        end = max(begin, int(np.searchsorted(ends, done + max_chars, side="left"))) + 1
        end = min(end, len(ends))
        yield begin, end
        begin = end


def _split_chars(
    docs: list[str], pos: np.ndarray | None, max_chars: int
) -> Iterator[tuple[list[str], np.ndarray | None]]:
    """``docs`` (at batch positions ``pos``) in runs of about ``max_chars`` characters."""
    runs = list(_char_runs(map(len, docs), max_chars))
    if len(runs) <= 1:
        yield docs, pos
        return
    if pos is None:
        pos = np.arange(len(docs), dtype=np.int32)
    for begin, end in runs:
        yield docs[begin:end], pos[begin:end]


def _token_bounds(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token starts and ends from character classes (see :data:`_ASCII_CLASS`)."""
    n = len(cls)
    word = np.zeros(n + 2, bool)
    np.equal(cls, _WORD, out=word[1:-1])
    # internal joiners join words; other joiners and punctuation are single tokens
    # in-place steps: few temporaries of one byte per character
    single = cls == _JOINER
    inner = single & word[:-2]
    inner &= word[2:]
    single |= cls == _PUNCT
    single ^= inner
    inword = word
    inword[1:-1] |= inner
    del inner
    run = inword[1:-1]
    first = np.greater(run, inword[:-2])  # run & ~previous (booleans: True > False)
    first |= single
    last = np.greater(run, inword[2:])
    last |= single
    del single
    if len(cls) and cls.max() == _ASTRAL:
        astral = np.zeros(n + 2, bool)
        np.equal(cls, _ASTRAL, out=astral[1:-1])
        mid = astral[1:-1]
        first |= mid & ~astral[:-2]
        last |= mid & ~astral[2:]
    # int32 positions when they fit: half the memory of intp
    pos = np.int32 if n < np.iinfo(np.int32).max else np.intp
    starts = np.flatnonzero(first).astype(pos, copy=False)
    del first
    ends = np.flatnonzero(last).astype(pos, copy=False)
    ends += 1
    return starts, ends


def _doc_lens(docs: list[str], starts: np.ndarray) -> np.ndarray:
    """Tokens per document of ``"\\n".join(docs)`` given the token starts."""
    doc_ends = np.fromiter(map(len, docs), np.intp, len(docs))
    return _lens_from_ends(doc_ends, starts)


def _lens_from_ends(doc_ends: np.ndarray, starts: np.ndarray) -> np.ndarray:
    doc_ends += 1
    np.cumsum(doc_ends, out=doc_ends)
    return np.diff(np.searchsorted(starts, doc_ends), prepend=0)


@functools.cache
def _bmp_classes() -> np.ndarray:
    """Class of every BMP code point under the default rule (64 KiB)."""
    cls = np.full(0x10000, _PUNCT, np.uint8)
    for a, b in _parse_ranges(_WORD_RANGES):
        if a <= 0xFFFF:  # no range crosses the BMP boundary (checked by the tests)
            cls[a : b + 1] = _WORD
    cls[:128] = _ASCII_CLASS[:128]
    head = 0x3001  # no white space above U+3000
    space = np.fromiter(map(str.isspace, map(chr, range(head))), bool, head)
    cls[:head][space] = _BLANK
    cls[0x00:0x20] = _BLANK
    cls[0x7F:0xA0] = _BLANK
    cls[0xFFFF] = _BLANK
    return cls


@functools.cache
def _astral_word_ranges() -> tuple[np.ndarray, np.ndarray]:
    """First and last code points of the word ranges above the BMP, sorted."""
    ranges = [(a, b) for a, b in _parse_ranges(_WORD_RANGES) if a > 0xFFFF]
    first, last = np.array(ranges, np.uint32).T
    return first, last


def _code_point_classes(cp: np.ndarray) -> np.ndarray:
    """Class of each code point: the BMP table, then ``_ASTRAL`` (astral words)
    or ``_PUNCT`` above it (a 64 KiB table instead of one of 1.1 MB)."""
    cls = np.take(_bmp_classes(), cp, mode="clip")  # clipped: U+FFFF, fixed below
    above = np.flatnonzero(cp > 0xFFFF)
    if above.size:
        first, last = _astral_word_ranges()
        c = cp[above]
        i = np.searchsorted(first, c, side="right") - 1
        word = (i >= 0) & (c <= last[np.maximum(i, 0)])
        cls[above] = np.where(word, _ASTRAL, _PUNCT)
    return cls


def _compile_token_pattern(token_pattern: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(token_pattern)
    except re.error as exc:
        raise ValueError(f"token_pattern {token_pattern!r} is not a valid regex: {exc}") from exc
    if pattern.groups > 1:
        raise ValueError(
            f"token_pattern {token_pattern!r} has {pattern.groups} capturing groups; "
            "use at most one (its match is the token) or (?:...) groups"
        )
    return pattern


# --------------------------------------------------------------------------
# per-call token tables


class _Growable:
    """Append-only 1-D array with amortised O(1) appends."""

    def __init__(self, dtype: Any) -> None:
        self._buf = np.empty(256, dtype)
        self._size = 0

    def _reserve(self, end: int) -> None:
        if end > len(self._buf):
            buf = np.empty(max(end, 2 * len(self._buf)), self._buf.dtype)
            buf[: self._size] = self._buf[: self._size]
            self._buf = buf

    def extend(self, values: np.ndarray) -> None:
        end = self._size + len(values)
        self._reserve(end)
        self._buf[self._size : end] = values
        self._size = end

    def put(self, index: np.ndarray, values: Any) -> None:
        """``array[index] = values``, growing the array to ``index.max() + 1``
        (positions not written stay undefined)."""
        if index.size:
            end = max(self._size, int(index.max()) + 1)
            self._reserve(end)
            self._size = end
            self._buf[index] = values

    @property
    def array(self) -> np.ndarray:
        return self._buf[: self._size]


class _TokenTable:
    """Token string -> integer id for one fit/transform call.

    With a ``vocabulary`` (transform), a word's id is its vocabulary column:
    it is looked up in the vocabulary itself, so the table holds no copy of
    the vocabulary's strings.  Other tokens get ids ``len(vocabulary)``,
    ``len(vocabulary) + 1``... in first-occurrence order, assigned by a
    ``defaultdict`` whose factory is a counter, so mapping a token list is a
    C-level ``map``.  Without a vocabulary (fit) every token is such a token.
    Per-id data (key, token hash, character n-gram buckets) is computed once
    per distinct token, in batches, when the token is first seen.
    """

    def __init__(
        self,
        tokenizer: _Tokenizer,
        *,
        vocabulary: dict[str, int] | None = None,
        hashes: bool = False,
        char_ngrams: tuple[int, int] | None = None,
        buckets: int = 0,
    ) -> None:
        self.tokenizer = tokenizer
        self._vocabulary = vocabulary
        self.n_known = len(vocabulary) if vocabulary is not None else 0
        # ids n_known, n_known + 1... in insertion order (a counter, not
        # self.__len__, so that no reference cycle delays freeing the table)
        self._ids = count(self.n_known)
        self.lookup: defaultdict[str, int] = defaultdict(self._ids.__next__)
        self._get = self.lookup.__getitem__
        self.hashes = _Growable(np.uint64) if hashes else None
        self.char_ngrams = char_ngrams
        self._buckets = buckets
        if char_ngrams is not None:
            self.cg_start = _Growable(np.int64)
            self.cg_len = _Growable(np.int64)
            self.cg_data = _Growable(np.int64)
        # vocabulary ids whose per-id data is computed (needed for n-grams only)
        self._known: np.ndarray | None = None
        if self.n_known and (hashes or char_ngrams is not None):
            self._known = np.zeros(self.n_known, bool)
        # vectorised path: key of each id (``_NO_KEY`` if unknown) and a
        # direct-mapped cache key -> id whose hits are checked against it
        self._key_of_id = _Growable(np.uint64)
        self._key_of_id.extend(np.full(self.n_known, _NO_KEY))
        self._key2_of_id = _Growable(np.uint64)  # second word (9- to 16-byte tokens)
        self._key2_of_id.extend(np.zeros(self.n_known, np.uint64))
        self._slots: np.ndarray | None = None
        # a cache for about twice the vocabulary (transform), else the full size
        self._slot_bits = _SLOT_BITS
        if self.n_known:
            self._slot_bits = min(_SLOT_BITS, max(12, (2 * self.n_known).bit_length()))
        self._unlisted = 0  # ids whose token is not (or no longer) in ``lookup``
        seps = [_SEP, _ASCII_SEP]
        sep_ids = self.ids_of(seps)
        self._register_new(seps, sep_ids, self.n_known)
        self.sep_ids = dict(zip(seps, sep_ids.tolist(), strict=True))
        self._kept = {t: i for t, i in self.sep_ids.items() if t in self.lookup}

    def __len__(self) -> int:
        """Number of ids assigned (some tokens may have left ``lookup``)."""
        return self.n_known + len(self.lookup) + self._unlisted

    def ids_of(self, tokens: list[str], distinct_keyed: bool = False) -> np.ndarray:
        """Ids of ``tokens``, assigning new ids to the new ones (not registered).

        ``distinct_keyed``: the tokens are distinct and found by key from now
        on, so with a vocabulary the ones outside it take fresh ids without
        entering ``lookup`` (which forgets them after the batch anyway).
        """
        if self._vocabulary is None:
            return np.fromiter(map(self._get, tokens), np.intp, len(tokens))
        ids = np.fromiter(map(self._vocabulary.get, tokens, repeat(-1)), np.intp, len(tokens))
        unknown = np.flatnonzero(ids < 0)
        if unknown.size and distinct_keyed:
            ids[unknown] = np.fromiter(islice(self._ids, unknown.size), np.intp, unknown.size)
            self._unlisted += unknown.size
        elif unknown.size:
            others = map(tokens.__getitem__, unknown.tolist())
            ids[unknown] = np.fromiter(map(self._get, others), np.intp, unknown.size)
        return ids

    def forget_unknown(self) -> None:
        """Remove from ``lookup`` the tokens outside the vocabulary.

        Transform keeps only the strings it may need again cheaply: unknown
        tokens (mostly rare words) would otherwise pile up batch after batch.
        Their ids stay valid (per-id data and the key cache keep them, a key
        hit is still exact); a forgotten token seen again gets a new id with
        the same data.  ``lookup`` then no longer maps every id.
        """
        assert self._vocabulary is not None
        n = len(self.lookup) - len(self._kept)
        if n:
            self.lookup.clear()
            self.lookup.update(self._kept)
            self._unlisted += n

    def _register(self, new_tokens: list[str], new_ids: np.ndarray) -> None:
        unknown = new_ids[new_ids >= self.n_known]
        self._key_of_id.put(unknown, _NO_KEY)
        self._key2_of_id.put(unknown, 0)
        if self.hashes is not None:
            self.hashes.put(new_ids, _sign_extend(token_hashes(new_tokens)))
        if self.char_ngrams is not None:
            minn, maxn = self.char_ngrams
            grams = [_char_ngrams(t, minn, maxn) for t in new_tokens]
            lens = np.fromiter(map(len, grams), np.int64, len(grams))
            starts = np.zeros(len(grams), np.int64)
            np.cumsum(lens[:-1], out=starts[1:])
            self.cg_start.put(new_ids, starts + len(self.cg_data.array))
            self.cg_len.put(new_ids, lens)
            flat = list(chain.from_iterable(grams))
            self.cg_data.extend(token_hashes(flat).astype(np.int64) % self._buckets)

    def _register_new(self, tokens: list[str], ids: np.ndarray, old: int) -> None:
        """Register the ids first seen in ``tokens`` (with ``ids``): ids ``>= old``
        and, when n-grams need their data, vocabulary ids not registered yet."""
        pos = np.flatnonzero(ids >= old)
        if self._known is not None:
            known = np.flatnonzero(ids < self.n_known)
            known = known[~self._known[ids[known]]]
            pos = np.concatenate([pos, known])
        if pos.size:
            new_ids, first = np.unique(ids[pos], return_index=True)
            pick = itemgetter(*pos[first].tolist())
            self._register([pick(tokens)] if len(new_ids) == 1 else list(pick(tokens)), new_ids)
            if self._known is not None:
                self._known[new_ids[new_ids < self.n_known]] = True

    def _encode_spans(self, spans: _Spans) -> np.ndarray:
        """Ids of the tokens of a vectorised segment.

        ASCII tokens of at most 16 bytes (packed into one or two ``uint64``)
        and tokens of one non-ASCII character (code point) are looked up by key
        in a direct-mapped cache of ids, each hit checked against the key of
        the id found (exact); only the distinct missed keys and the other
        tokens (longer, or non-ASCII words) become strings looked up as such.
        """
        keys, keyed, two, keys2 = _span_keys(spans)
        if self._slots is None:
            self._slots = np.zeros(1 << self._slot_bits, np.int32)  # ids: int32 (half of intp)
        shift = np.uint64(64 - self._slot_bits)
        slot = _slot_hash(keys, _NO_SECOND, shift)
        slot[two] = _slot_hash(keys[two], keys2, shift)
        ids = self._slots[slot]
        del slot
        bad = self._key_of_id.array[ids] != keys
        bad[two] |= self._key2_of_id.array[ids[two]] != keys2
        miss = np.flatnonzero(bad)
        del bad
        if miss.size == 0:
            return ids
        old = len(self)
        is_two = np.zeros(len(keys), bool)
        is_two[two] = True
        kmiss = miss[keyed[miss]]
        lpos = miss[~keyed[miss]]
        tpos = kmiss[is_two[kmiss]]
        spos = kmiss[~is_two[kmiss]]
        del is_two, kmiss, miss
        # one-word keys
        ukeys, inv = np.unique(keys[spos], return_inverse=True)
        n_ascii = int(np.searchsorted(ukeys, _CHAR_KEY))  # character keys sort last
        words = ukeys[:n_ascii].view("S8").astype("U8").tolist()  # trailing NULs dropped
        words += map(chr, (ukeys[n_ascii:] - _CHAR_KEY).tolist())
        uids = self.ids_of(words, distinct_keyed=True)
        ids[spos] = uids[inv]
        # two-word keys: the token's 16 bytes (zero-padded) as one b"..." value
        pairs = np.empty((len(tpos), 2), np.uint64)
        pairs[:, 0] = keys[tpos] ^ _LONG_KEY
        pairs[:, 1] = keys2[np.searchsorted(two, tpos)]  # tpos: some of the ``two``
        del two, keys2
        upairs, tinv = np.unique(pairs.view("S16").ravel(), return_inverse=True)
        twos = upairs.astype("U16").tolist()
        tids = self.ids_of(twos, distinct_keyed=True)
        ids[tpos] = tids[tinv]
        # the others
        longs = spans.tokens(lpos)
        lids = self.ids_of(longs)
        ids[lpos] = lids
        self._register_new(words + twos + longs, np.concatenate([uids, tids, lids]), old)
        self._key_of_id.array[uids] = ukeys
        self._slots[_slot_hash(ukeys, _NO_SECOND, shift)] = uids
        if len(tids):
            upairs = upairs.view(np.uint64).reshape(-1, 2)
            first = upairs[:, 0] | _LONG_KEY
            self._key_of_id.array[tids] = first
            self._key2_of_id.array[tids] = upairs[:, 1]
            self._slots[_slot_hash(first, upairs[:, 1], shift)] = tids
        return ids

    def encode(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Local token ids of a batch and the batch position of each token's document.

        The tokens of each document are contiguous and in order (documents
        themselves may come in any order).
        """
        all_ids = []
        all_docs = []
        for seg in self.tokenizer.iter_segments(docs):
            if seg.spans is not None:
                ids = self._encode_spans(seg.spans)
            else:
                old = len(self)
                tokens = seg.tokens
                ids = self.ids_of(tokens)
                self._register_new(tokens, ids, old)
                del tokens
            if seg.lens is None:
                is_sep = ids == self.sep_ids[seg.sep]
                doc = np.cumsum(is_sep, dtype=np.intp)
                keep = ~is_sep
                ids, doc = ids[keep], doc[keep]
                if seg.docs is not None:
                    doc = seg.docs[doc]
            else:
                doc = seg.token_docs()
            all_ids.append(ids)
            all_docs.append(doc)
            del seg, ids, doc  # free this segment before the next one is tokenised
        if len(all_ids) == 1:
            return all_ids[0], all_docs[0]
        return np.concatenate(all_ids), np.concatenate(all_docs)


def _span_keys(spans: _Spans) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keys of the tokens of a vectorised segment (see :data:`_KEY_MASKS`).

    Returns ``keys`` (one per token: the packed bytes of an ASCII token of at
    most 8 bytes, the first 8 bytes + ``_LONG_KEY`` of one of 9 to 16 bytes,
    code point + ``_CHAR_KEY`` for one non-ASCII character, 0 otherwise),
    ``keyed`` (the tokens with a key), ``two`` (positions of the 9- to 16-byte
    tokens) and ``keys2`` (their other bytes, packed).
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
    keys[~keyed] = 0  # matches no id
    if spans.strings is not None:
        # one non-ASCII character (CJK, emoji...): key = code point + _CHAR_KEY
        char = np.flatnonzero(spans.strings & (lens == 1))
        keys[char] = spans.codes[char].astype(np.uint64) + _CHAR_KEY
        keyed[char] = True
    return keys, keyed, two, keys2


def _word_keys(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The keys :func:`_span_keys` gives these words as tokens.

    Returns ``key1`` (``_NO_KEY`` for a word without a key: longer, non-ASCII
    or empty) and ``key2`` (the second word of a 9- to 16-byte word, else 0).
    """
    n = len(words)
    key1 = np.full(n, _NO_KEY)
    key2 = np.zeros(n, np.uint64)
    lens = np.fromiter(map(len, words), np.intp, n)
    is_ascii = np.fromiter(map(str.isascii, words), bool, n)
    one = np.flatnonzero(is_ascii & (lens >= 1) & (lens <= 8))
    if one.size:
        key1[one] = np.array(list(map(words.__getitem__, one.tolist())), "S8").view("<u8")
    two = np.flatnonzero(is_ascii & (lens > 8) & (lens <= 16))
    if two.size:
        packed = np.array(list(map(words.__getitem__, two.tolist())), "S16")
        pairs = packed.view("<u8").reshape(-1, 2)
        key1[two] = pairs[:, 0] | _LONG_KEY
        key2[two] = pairs[:, 1]
    char = np.flatnonzero(~is_ascii & (lens == 1))
    if char.size:
        codes = map(ord, map(words.__getitem__, char.tolist()))
        key1[char] = np.fromiter(codes, np.uint64, char.size) + _CHAR_KEY
    return key1, key2


class _KeyIndex:
    """Exact hash index (open addressing, linear probing) from the keys of
    the vocabulary's words to their columns, queried with numpy.

    Built once per vocabulary with at most one word per two slots; a query
    probes from the key's home slot until it finds the key (checked against
    ``key1``/``key2`` of the column found) or an empty slot (unknown).
    """

    def __init__(self, key1: np.ndarray, key2: np.ndarray) -> None:
        self.key1 = key1
        self.key2 = key2
        cols = np.flatnonzero(key1 != _NO_KEY)
        bits = max(4, (2 * len(cols)).bit_length())
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self.table = np.full(1 << bits, -1, np.int32)
        slots = self._home(key1[cols], key2[cols])
        while cols.size:  # place, per free slot, the first key that wants it
            free = np.flatnonzero(self.table[slots] < 0)
            won_slots, first = np.unique(slots[free], return_index=True)
            won = free[first]
            self.table[won_slots] = cols[won]
            rest = np.ones(len(cols), bool)
            rest[won] = False
            cols = cols[rest]
            slots = (slots[rest] + 1) & self._mask

    def _home(self, key1: np.ndarray, key2: np.ndarray) -> np.ndarray:
        slot = _slot_hash(key1, key2, self._shift)
        return slot.astype(np.int32 if self._mask < 2**31 else np.intp)

    def columns(self, key1: np.ndarray, key2: np.ndarray) -> np.ndarray:
        """Column of each key (``key1[i]``, ``key2[i]``), -1 if not a vocabulary word's."""
        out = np.full(len(key1), -1, np.int32)
        pos = np.arange(len(key1), dtype=np.int32 if len(key1) < 2**31 else np.intp)
        slots = self._home(key1, key2)
        while pos.size:
            col = self.table[slots]
            found = col >= 0
            at = np.flatnonzero(found)
            c = col[at]
            p = pos[at]
            same = (self.key1[c] == key1[p]) & (self.key2[c] == key2[p])
            out[p[same]] = c[same]
            found[at[same]] = False  # settled: found, or an empty slot (unknown)
            pos = pos[found]
            slots = (slots[found] + 1) & self._mask
        return out


def _hashed_entries(
    table: _TokenTable, ids: np.ndarray, doc: np.ndarray, ngrams: int, buckets: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rows and bucket columns (in ``[0, buckets)``) of word and char n-grams."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    if table.hashes is not None and ngrams > 1 and len(ids) > 1:
        t = table.hashes.array[ids]
        g = t
        for n in range(2, ngrams + 1):
            m = len(ids) - n + 1
            if m <= 0:
                break
            g = g[:m] * np.uint64(NGRAM_MULTIPLIER) + t[n - 1 :]
            valid = doc[:m] == doc[n - 1 :]
            rows.append(doc[:m][valid])
            cols.append((g[valid] % np.uint64(buckets)).astype(np.int64))
    if table.char_ngrams is not None and len(ids):
        lens = table.cg_len.array[ids]
        total = int(lens.sum())
        if total:
            ends = np.cumsum(lens)
            shift = np.repeat(table.cg_start.array[ids] - (ends - lens), lens)
            rows.append(np.repeat(doc, lens))
            cols.append(table.cg_data.array[shift + np.arange(total)])
    return rows, cols


def _counts_csr(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    dtype: Any,
    data: np.ndarray | None = None,
    compact: bool = True,
) -> sp.csr_array:
    """Canonical CSR (sorted columns, duplicates summed) from COO entries.

    ``compact=False`` may return views of longer arrays (for a block that is
    copied at once, e.g. by :class:`_CsrBuilder`, so no copy is needed here).
    """
    if data is None:
        data = np.ones(len(rows), dtype)
    if max(shape[1], len(rows)) <= np.iinfo(np.int32).max:  # 8 instead of 12 bytes per entry
        rows = rows.astype(np.int32, copy=False)
        cols = cols.astype(np.int32, copy=False)
    out = sp.csr_array((data, (rows, cols)), shape=shape, dtype=dtype)
    if compact and out.data.base is not None:  # summing duplicates left views of longer arrays
        out.data = out.data.copy()
        out.indices = out.indices.copy()
    out.has_canonical_format = True  # coo -> csr sorts and sums duplicates
    return out


class _CsrBuilder:
    """Row-wise concatenation of canonical CSR blocks into one ``csr_array``.

    ``data`` and ``indices`` grow in place with ``ndarray.resize``
    (``realloc``, i.e. ``mremap`` for large arrays, so no copy of the data
    filled so far), and each block can be freed as soon as it is appended.
    When the number of rows to come is known, the first growth reserves the
    whole output at the density seen so far (plus 5 %), so that the arrays are
    allocated about once; otherwise they grow by 25 % steps.  The peak is about
    1.25 x the output plus one block, instead of 2 x for
    collect-then-concatenate.  Indices are int32 when the width allows (int64
    otherwise, or if the total nnz needs it).
    """

    def __init__(self, n_cols: int, dtype: Any, n_rows: int | None = None) -> None:
        self.n_cols = n_cols
        self.n_rows = n_rows  # rows expected in all (None: unknown)
        idx = np.int32 if n_cols <= np.iinfo(np.int32).max else np.int64
        self.data = np.empty(0, dtype)
        self.indices = np.empty(0, idx)
        self.nnz = 0
        self.rows = 0
        self.indptr: list[np.ndarray] = [np.zeros(1, np.int64)]

    def append(self, block: sp.csr_array) -> None:
        k, m = self.nnz, block.nnz
        self.rows += block.shape[0]
        if k + m > len(self.data):
            size = max(k + m, len(self.data) * 5 // 4 + 4096)
            if self.n_rows is not None and self.rows < self.n_rows:
                size = max(size, (k + m) * self.n_rows * 21 // (20 * self.rows) + 4096)
            self.data.resize(size, refcheck=False)
            self.indices.resize(size, refcheck=False)
        self.data[k : k + m] = block.data
        self.indices[k : k + m] = block.indices
        self.indptr.append(block.indptr[1:].astype(np.int64) + k)
        self.nnz = k + m

    def finish(self) -> sp.csr_array:
        self.data.resize(self.nnz, refcheck=False)
        self.indices.resize(self.nnz, refcheck=False)
        indptr = np.concatenate(self.indptr)
        idx = self.indices.dtype if self.nnz <= np.iinfo(self.indices.dtype).max else np.int64
        out = sp.csr_array(
            (self.data, self.indices.astype(idx, copy=False), indptr.astype(idx)),
            shape=(len(indptr) - 1, self.n_cols),
            copy=False,
        )
        out.has_canonical_format = True
        return out


def _batches(
    raw_documents: Iterable[str], chunk_size: int, max_chars: int | None = None
) -> Iterator[list[str]]:
    """Lists of at most ``chunk_size`` documents and about ``max_chars`` characters
    (default ``_MAX_BATCH_CHARS``)."""
    if max_chars is None:
        max_chars = _MAX_BATCH_CHARS
    if isinstance(raw_documents, str | bytes):
        raise ValueError(
            "Iterable over raw text documents expected, "
            f"{type(raw_documents).__name__} object received."
        )
    try:
        it = iter(raw_documents)
    except TypeError:
        raise TypeError(
            f"raw_documents must be an iterable of str, got {type(raw_documents).__name__}"
        ) from None
    start = 0
    while chunk := list(islice(it, chunk_size)):
        if not all(map(isinstance, chunk, repeat(str))):
            i = next(i for i, d in enumerate(chunk) if not isinstance(d, str))
            raise TypeError(
                f"raw_documents must contain str only; item {start + i} is "
                f"{type(chunk[i]).__name__}"
            )
        start += len(chunk)
        for begin, end in _char_runs(map(len, chunk), max_chars):
            yield chunk if end - begin == len(chunk) else chunk[begin:end]


def _select_vocabulary(
    tokens: list[str], counts: np.ndarray, min_count: int, max_features: int | None
) -> tuple[list[str], np.ndarray]:
    """Vocabulary words and counts, by descending count then code-point order.

    ``tokens[i]`` has corpus count ``counts[i]``.  Words with a count below
    ``min_count`` are dropped; of the rest the ``max_features`` most frequent
    are kept (ties at the cut broken by code-point order).
    """
    cand = np.flatnonzero(counts >= min_count)
    if max_features is not None and cand.size > max_features:
        c = counts[cand]
        kth = np.partition(c, c.size - max_features)[c.size - max_features]
        above = cand[c > kth]
        tied = sorted(cand[c == kth].tolist(), key=tokens.__getitem__)
        cand = np.concatenate([above, np.asarray(tied[: max_features - above.size], np.intp)])
    words = list(map(tokens.__getitem__, cand.tolist()))
    if not all(map(isinstance, words, repeat(str))):
        bad = next(w for w in words if not isinstance(w, str))
        raise TypeError(f"tokenizer must return str tokens, got {type(bad).__name__}")
    if "\x00" in "".join(words) and any(w.endswith("\x00") for w in words):
        # numpy '<U' arrays (words_, the fitted state) would drop the NUL
        raise ValueError("tokens ending with '\\x00' cannot be stored in a vocabulary")
    cnt = counts[cand].astype(np.int64)
    order = np.asarray(sorted(range(len(words)), key=words.__getitem__), np.intp)
    order = order[np.argsort(-cnt[order], kind="stable")]
    return list(map(words.__getitem__, order.tolist())), cnt[order]


# --------------------------------------------------------------------------
# the estimator


class BowVectorizer(TransformerMixin, BaseEstimator):
    r"""Raw text -> sparse counts of words, hashed word n-grams and subwords.

    The output of :meth:`transform` is a ``scipy.sparse.csr_array`` of shape
    ``(n_documents, n_features_out_)`` in canonical form (columns sorted in
    each row, no duplicates), of the requested ``dtype``, with int32 index
    arrays whenever they fit.  Column ``j < V`` counts vocabulary word
    ``words_[j]``; columns ``V + b`` for ``b < buckets`` count hashed word
    n-grams and character n-grams (see the module docstring for the exact
    fastText hash formulas).  The result does not depend on ``chunk_size``,
    on how the input is iterated or on ``PYTHONHASHSEED``.

    Parameters
    ----------
    lowercase : bool, default=True
        Lower-case documents (``str.lower``) before tokenising, in every
        tokenizer mode (a callable receives the lower-cased text).
    tokenizer : {'default', 'whitespace'} or callable, default='default'
        ``'default'``: Unicode-aware words; a token is one of

        * a word: a maximal run of letters, digits, ``_`` and combining
          marks (Python's ``\w`` plus Unicode categories M*), optionally
          joined by single internal apostrophes or hyphens
          (``don't``, ``l'homme``, ``state-of-the-art``); ``’`` is first
          normalised to ``'``;
        * one CJK ideograph or kana (Chinese/Japanese have no spaces;
          Hangul stays word-based);
        * one emoji/pictograph code point (skin-tone modifiers and
          regional indicators are separate tokens);
        * every other character — punctuation, symbols (``#``, ``@``, ``$``,
          ``%``), variation selectors, ZWJ — one token per character: they
          carry signal (``!`` for sentiment, ``#``/``@`` and emoji residue in
          tweets: tweeteval 28% → 41% accuracy, bench/RESULTS.md).

        White space and control characters only separate tokens.  Words
        mixing BMP and astral-plane letters are split at the plane change;
        scripts without spaces other than CJK (Thai, Lao, Khmer...) give one
        token per space-separated run.
        ``'whitespace'``: fastText-compatible, tokens are the maximal runs
        of characters other than space, ``\t \n \v \f \r`` and ``\0``
        (nothing else is special).  A callable maps a (lower-cased) document
        to a list of str tokens; it cannot be saved by :mod:`bowclf.persist`.
    token_pattern : str or None, default=None
        Regex whose ``re.findall`` matches are the tokens (at most one
        capturing group, whose match is then the token).  Replaces the
        ``'default'`` rule; not allowed with another tokenizer.
    min_count : int, default=1
        Keep words occurring at least this many times in the corpus.
    max_features : int or None, default=None
        Keep only the most frequent words (ties by code-point order).
    ngrams : int, default=1
        Word n-gram length: ``N >= 2`` adds hashed n-grams of 2..N tokens.
    buckets : int, default=2_000_000
        Number of hash columns after the vocabulary; only used (as in
        fastText) when ``ngrams >= 2`` or ``maxn > 0``, and then must be > 0.
    minn, maxn : int, default=0
        Character n-gram lengths (fastText subwords of ``<word>``);
        ``maxn=0`` disables them, otherwise ``1 <= minn <= maxn``.
    dtype : numpy dtype, default=np.float32
        Dtype of the output values.
    chunk_size : int, default=10_000
        Documents taken from the input at a time; each chunk is processed in
        batches of about a quarter of a million characters, so generators are
        never materialised and memory stays bounded.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Word -> column.
    words_ : ndarray of str (``<U...``), shape (V,)
        Words in column order (descending count, then code-point order);
        a property built on access from ``vocabulary_``, whose insertion
        order is the column order.
    word_counts_ : ndarray of int64, shape (V,)
        Training-corpus count of each word.
    n_tokens_ : int
        Number of tokens in the training corpus (before filtering).
    n_features_out_ : int
        Output width ``V + buckets`` (or ``V`` without hashed features).

    Notes
    -----
    :meth:`tokenize` shows the tokens of one document and
    :meth:`count_tokens` counts the tokens of a corpus (no fitting needed;
    used for tokens/s figures).  Multi-process transform was measured on 2
    shared cores: from 1.3x faster to 2x slower depending on the load, with
    twice the memory, so there is no ``n_jobs`` parameter.

    Examples
    --------
    >>> vec = BowVectorizer(ngrams=2, buckets=10)
    >>> x = vec.fit_transform(["Good movie!", "bad movie", "good, good"])
    >>> vec.words_.tolist()
    ['good', 'movie', '!', 'bad']
    >>> x.shape, x[[2]].toarray()[0, :4].tolist()
    ((3, 14), [2.0, 0.0, 0.0, 0.0])
    """

    _parameter_constraints: dict = {
        "lowercase": ["boolean"],
        "tokenizer": [StrOptions({"default", "whitespace"}), callable],
        "token_pattern": [_limits.safe_pattern_constraint(), None],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, _limits.MAX_VOCABULARY, closed="both"), None],
        "ngrams": [Interval(Integral, 1, _limits.MAX_NGRAMS, closed="both")],
        "buckets": [Interval(Integral, 0, _limits.MAX_BUCKETS, closed="both")],
        "minn": [Interval(Integral, 0, _limits.MAX_CHAR_NGRAM, closed="both")],
        "maxn": [Interval(Integral, 0, _limits.MAX_CHAR_NGRAM, closed="both")],
        "dtype": "no_validation",
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        lowercase: bool = True,
        tokenizer: str | Callable[[str], list[str]] = "default",
        token_pattern: str | None = None,
        min_count: int = 1,
        max_features: int | None = None,
        ngrams: int = 1,
        buckets: int = 2_000_000,
        minn: int = 0,
        maxn: int = 0,
        dtype: Any = np.float32,
        chunk_size: int = 10_000,
    ) -> None:
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.min_count = min_count
        self.max_features = max_features
        self.ngrams = ngrams
        self.buckets = buckets
        self.minn = minn
        self.maxn = maxn
        self.dtype = dtype
        self.chunk_size = chunk_size

    # -- configuration ------------------------------------------------------

    def _uses_buckets(self) -> bool:
        return self.ngrams > 1 or self.maxn > 0

    def _check_params(self) -> None:
        """Checks spanning several parameters (each one is checked by sklearn)."""
        if self.token_pattern is not None and self.tokenizer != "default":
            raise ValueError("token_pattern can only be used with tokenizer='default'")
        if self.token_pattern is not None:
            _compile_token_pattern(self.token_pattern)
        if self.maxn > 0 and not 1 <= self.minn <= self.maxn:
            raise ValueError(f"need 1 <= minn <= maxn, got minn={self.minn}, maxn={self.maxn}")
        if self.maxn == 0 and self.minn > 0:
            raise ValueError(f"minn={self.minn} needs maxn >= minn (maxn=0 disables subwords)")
        if self._uses_buckets() and self.buckets == 0:
            raise ValueError("buckets must be > 0 when ngrams > 1 or maxn > 0")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as exc:
            raise ValueError(f"dtype={self.dtype!r} is not a numpy dtype") from exc
        if dtype.kind not in "iuf" or dtype == np.float16:
            raise ValueError(
                f"dtype must be an integer or float32/float64 dtype (as scipy.sparse), got {dtype}"
            )

    def _make_tokenizer(self) -> _Tokenizer:
        return _Tokenizer(self.lowercase, self.tokenizer, self.token_pattern)

    def _make_table(self, vocabulary: dict[str, int] | None, tokenizer: _Tokenizer) -> _TokenTable:
        use = self._uses_buckets()
        return _TokenTable(
            tokenizer,
            vocabulary=vocabulary,
            hashes=use and self.ngrams > 1,
            char_ngrams=(self.minn, self.maxn) if self.maxn > 0 else None,
            buckets=self.buckets if use else 0,
        )

    def _hash_width(self) -> int:
        return self.buckets if self._uses_buckets() else 0

    # -- public API ---------------------------------------------------------

    def tokenize(self, doc: str) -> list[str]:
        """Tokens of one document under the current parameters (unigrams only)."""
        self._validate_params()
        self._check_params()
        return self._make_tokenizer().tokenize(doc)

    def count_tokens(self, raw_documents: Iterable[str]) -> int:
        """Number of tokens in a corpus under the current tokenisation rule.

        Needs no fitting; used for tokens/s throughput figures.
        """
        self._validate_params()
        self._check_params()
        tok = self._make_tokenizer()
        total = 0
        for batch in _batches(raw_documents, self.chunk_size):
            for seg in tok.iter_segments(batch):
                if seg.lens is None:  # minus the separators
                    total -= len(batch if seg.docs is None else seg.docs) - 1
                total += len(seg.tokens) if seg.spans is None else len(seg.spans.starts)
        return total

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents: Iterable[str], y: Any = None) -> BowVectorizer:
        """Learn the vocabulary of a corpus.

        Parameters
        ----------
        raw_documents : iterable of str
            Consumed once, ``chunk_size`` documents at a time.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        table = _TokenTable(self._make_tokenizer())
        counts = np.zeros(0, np.int64)
        for batch in _batches(raw_documents, self.chunk_size):
            ids, _ = table.encode(batch)
            counts = _add_counts(counts, ids, len(table))
        tokens = list(table.lookup)
        del table  # so that the vocabulary is allocated after the table is freed
        self._set_vocabulary(tokens, counts)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, raw_documents: Iterable[str], y: Any = None) -> sp.csr_array:
        """Learn the vocabulary and return the count matrix, in one pass.

        Equal to ``fit(raw_documents).transform(raw_documents)`` but reads
        (and tokenises) the input only once.
        """
        self._check_params()
        dtype = np.dtype(self.dtype)
        table = self._make_table(None, self._make_tokenizer())
        width = self._hash_width()
        counts = np.zeros(0, np.int64)
        parts = []
        for batch in _batches(raw_documents, self.chunk_size):
            ids, doc = table.encode(batch)
            counts = _add_counts(counts, ids, len(table))
            n = len(batch)
            uni = _counts_csr(doc, ids, (n, len(table)), dtype)
            rows, cols = _hashed_entries(table, ids, doc, self.ngrams, width)
            hashed = _counts_csr(_cat(rows), _cat(cols), (n, max(width, 1)), dtype)
            parts.append((uni, hashed))
        self._set_vocabulary(list(table.lookup), counts)
        remap = np.full(len(table), -1, np.int64)
        n_vocab = len(self.vocabulary_)
        remap[[table.lookup[w] for w in self.vocabulary_]] = np.arange(n_vocab)
        del table, counts
        out = _CsrBuilder(n_vocab + width, dtype, sum(uni.shape[0] for uni, _ in parts))
        parts.reverse()
        while parts:
            uni, hashed = parts.pop()
            n = uni.shape[0]
            cols = remap[uni.indices]
            keep = cols >= 0
            urows = np.repeat(np.arange(n), np.diff(uni.indptr))[keep]
            hrows = np.repeat(np.arange(n), np.diff(hashed.indptr))
            out.append(
                _counts_csr(
                    np.concatenate([urows, hrows]),
                    np.concatenate([cols[keep], hashed.indices + n_vocab]),
                    (n, n_vocab + width),
                    dtype,
                    data=np.concatenate([uni.data[keep], hashed.data]),
                )
            )
        return out.finish()

    def transform(self, raw_documents: Iterable[str]) -> sp.csr_array:
        """Count matrix of documents under the fitted vocabulary.

        Parameters
        ----------
        raw_documents : iterable of str
            Consumed once, ``chunk_size`` documents at a time.  Unknown words
            add no unigram feature but still take part in hashed n-grams.

        Returns
        -------
        csr_array of shape (n_documents, n_features_out_)
        """
        check_is_fitted(self, "vocabulary_")
        self._validate_params()
        self._check_params()
        dtype = np.dtype(self.dtype)
        tokenizer = self._make_tokenizer()
        n_vocab = len(self.vocabulary_)
        width = self._hash_width()
        p = n_vocab + width
        n_rows = len(raw_documents) if isinstance(raw_documents, Sized) else None
        out = _CsrBuilder(p, dtype, n_rows)
        if self._by_key_index(tokenizer):
            return self._transform_by_key(raw_documents, tokenizer, out)
        table = self._make_table(self.vocabulary_, tokenizer)
        for batch in _batches(raw_documents, self.chunk_size):
            ids, doc = table.encode(batch)
            table.forget_unknown()
            keep = ids < n_vocab  # vocabulary ids are the columns
            rows, hcols = _hashed_entries(table, ids, doc, self.ngrams, width)
            out.append(
                _counts_csr(
                    _cat([doc[keep], *rows]),
                    _cat([ids[keep], *(c + n_vocab for c in hcols)]),
                    (len(batch), p),
                    dtype,
                    compact=False,  # the builder copies the block
                )
            )
        return out.finish()

    def _by_key_index(self, tokenizer: _Tokenizer) -> bool:
        """Whether transform finds columns by key alone: vectorised default
        tokens and unigrams only (n-grams need a per-token table of hashes)."""
        return tokenizer.default and tokenizer.vectorised and not self._uses_buckets()

    def _key_index(self) -> _KeyIndex:
        """The :class:`_KeyIndex` of ``vocabulary_``, built by the first unigram
        transform of each vocabulary and kept (about 28 bytes a word).

        Built here rather than by fit: a transform needs it, and the peak
        memory measured in ``bench/`` is lower this way.  It is derived from
        ``vocabulary_`` only, so two threads building it at once build the
        same index.
        """
        vocabulary, index = getattr(self, "_key_index_cache", (None, None))
        if index is None or vocabulary is not self.vocabulary_:
            index = _KeyIndex(*_word_keys(list(self.vocabulary_)))
            self._key_index_cache = (self.vocabulary_, index)
        return index

    def _transform_by_key(
        self, raw_documents: Iterable[str], tokenizer: _Tokenizer, out: _CsrBuilder
    ) -> sp.csr_array:
        """Unigram transform without a token table: keyed tokens find their
        column in the vocabulary's key index, the others (longer or non-ASCII
        words) by string in ``vocabulary_``; no id is given to unknown tokens."""
        index = self._key_index()
        get = self.vocabulary_.get
        dtype = np.dtype(self.dtype)
        # quarter batches: no token table to amortise, a quarter of the temporaries
        for batch in _batches(raw_documents, self.chunk_size, _MAX_BATCH_CHARS // 4):
            # per segment: the tokens found by string; keys of the others,
            # looked up in the index once per batch
            docs, cols, keys, seconds, keyed = [], [], [], [], []
            for seg in tokenizer.iter_segments(batch):
                spans = seg.spans
                assert spans is not None and seg.lens is not None
                key, is_keyed, two, key2 = _span_keys(spans)
                col = np.full(len(key), -1, np.int32)
                other = np.flatnonzero(~is_keyed)
                if other.size:
                    words = spans.tokens(other)
                    col[other] = np.fromiter(map(get, words, repeat(-1)), np.int32, other.size)
                at = np.flatnonzero(is_keyed).astype(np.int32)
                second = np.zeros(len(at), np.uint64)
                second[np.searchsorted(at, two)] = key2  # two-word tokens are keyed
                keys.append(key[at])
                seconds.append(second)
                keyed.append(at + sum(map(len, cols)))
                docs.append(seg.token_docs())
                cols.append(col)
                del seg, spans, key, second, col
            col = _cat(cols)
            del cols
            at = _cat(keyed)
            if at.size:
                col[at] = index.columns(_cat(keys), _cat(seconds))
            del keys, seconds, at
            keep = col >= 0
            out.append(
                _counts_csr(
                    _cat(docs)[keep],
                    col[keep],
                    (len(batch), out.n_cols),
                    dtype,
                    compact=False,  # the builder copies the block
                )
            )
        return out.finish()

    @property
    def words_(self) -> np.ndarray:
        """Vocabulary words in column order, as a ``<U...`` array.

        Built from ``vocabulary_`` on each access (a ``<U`` array takes
        4 x longest-word bytes per word, often more than the dictionary).
        """
        check_is_fitted(self, "vocabulary_")
        if not self.vocabulary_:
            return np.empty(0, "<U1")
        return np.array(list(self.vocabulary_), dtype=str)

    @property
    def n_features_out_(self) -> int:
        """Output width: vocabulary size plus hash buckets (when used)."""
        check_is_fitted(self, "vocabulary_")
        return len(self.vocabulary_) + self._hash_width()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names: the words, then ``'ngram#0'`` .. ``'ngram#{buckets-1}'``.

        The ``ngram#b`` columns are hash buckets shared by word n-grams and
        character n-grams (a whitespace-mode word could look the same).
        """
        check_is_fitted(self, "vocabulary_")
        width = self._hash_width()
        if not width:
            return self.words_.copy()
        names = np.strings.add("ngram#", np.arange(width).astype(str))
        return np.concatenate([self.words_, names])

    def get_fitted_state(self) -> dict[str, np.ndarray]:
        """Fitted state as plain numpy arrays (no object dtype, no pickle).

        Returns
        -------
        dict
            ``version`` (int64, shape (1,), :data:`STATE_VERSION`),
            ``words`` (``<U...``, shape (V,)), ``word_counts`` (int64, shape
            (V,)) and ``n_tokens`` (int64, shape (1,)).  The parameters are
            not included: save them with ``get_params()``.
        """
        check_is_fitted(self, "vocabulary_")
        return {
            "version": np.array([STATE_VERSION], np.int64),
            "words": self.words_,
            "word_counts": self.word_counts_,
            "n_tokens": np.array([self.n_tokens_], np.int64),
        }

    def set_fitted_state(self, state: dict[str, np.ndarray]) -> BowVectorizer:
        """Restore a state from :meth:`get_fitted_state` (same parameters).

        Raises
        ------
        ValueError
            If the state is malformed or of another version.
        """
        missing = {"version", "words", "word_counts", "n_tokens"} - set(state)
        if missing:
            raise ValueError(f"fitted state lacks {sorted(missing)}")
        version = np.asarray(state["version"])
        if version.shape != (1,) or version.dtype.kind not in "iu" or version[0] != STATE_VERSION:
            raise ValueError(f"unsupported fitted-state version {version!r}")
        words = np.asarray(state["words"])
        counts = np.asarray(state["word_counts"])
        n_tokens = np.asarray(state["n_tokens"])
        if words.ndim != 1 or words.dtype.kind != "U" or words.size == 0:
            raise ValueError("state['words'] must be a non-empty 1-D unicode array")
        if counts.shape != words.shape or counts.dtype.kind not in "iu":
            raise ValueError("state['word_counts'] must be integers, one per word")
        if n_tokens.shape != (1,) or n_tokens.dtype.kind not in "iu":
            raise ValueError("state['n_tokens'] must be an integer array of shape (1,)")
        vocabulary = dict(zip(words.tolist(), range(words.size), strict=True))
        if len(vocabulary) != words.size:
            raise ValueError("state['words'] contains duplicates")
        self.vocabulary_ = vocabulary
        self.word_counts_ = counts.astype(np.int64)
        self.n_tokens_ = int(n_tokens[0])
        return self

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # -- helpers ------------------------------------------------------------

    def _set_vocabulary(self, tokens: list[str], counts: np.ndarray) -> None:
        """Vocabulary from the tokens of a table (in id order) and their counts."""
        counts = counts[: len(tokens)]
        n_tokens = int(counts.sum())
        if n_tokens == 0:
            raise ValueError("empty vocabulary: the documents contain no tokens")
        words, word_counts = _select_vocabulary(tokens, counts, self.min_count, self.max_features)
        if not words:
            raise ValueError(
                f"empty vocabulary: no token occurs at least min_count={self.min_count} times"
            )
        words = _fresh_copies(words)
        self.vocabulary_ = dict(zip(words, range(len(words)), strict=True))
        self.word_counts_ = word_counts
        self.n_tokens_ = n_tokens


def _fresh_copies(words: list[str]) -> list[str]:
    """Equal strings allocated together, so that the vocabulary does not pin
    the memory of the token batches it was picked from.

    Joined and split a few thousand words at a time: one joined string of the
    whole vocabulary (4 bytes a character with one emoji in it) would be a
    large short-lived block, after which the C allocator keeps more memory.
    """
    out: list[str] = []
    step = 4096
    for i in range(0, len(words), step):
        part = words[i : i + step]
        joined = "\n".join(part)
        if joined.count("\n") == len(part) - 1:
            out += joined.split("\n")
        else:
            out += [
                w.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass") for w in part
            ]
    return out


def _add_counts(counts: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """``counts`` grown to ``size`` plus the occurrences of ``ids``."""
    if len(counts) < size:
        counts = np.concatenate([counts, np.zeros(max(size - len(counts), len(counts)), np.int64)])
    counts[:size] += np.bincount(ids, minlength=size)
    return counts


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, np.intp)
