"""Reference implementations of the default tokenisation rule, for the tests.

The production code (``bowclf.vectorizer.tokenizer``) finds default-rule tokens
with numpy on character codes.  The tests compare it with the string-based
routes kept here, which the package used before:

* :func:`default_pattern` — the rule as one regex (the statement of the rule);
* :class:`ReferenceTokenizer` — the previous batch routes: ``str.translate`` /
  ``str.split`` for ASCII documents, one regex call over the documents joined
  with a separator token otherwise, one regex call per document when a
  document holds the separator;
* :func:`scan_word_ranges` — regenerates ``charclass._WORD_RANGES`` from the
  interpreter's Unicode database.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator

import numpy as np

from bowclf.vectorizer.charclass import _WORD_RANGES, _parse_ranges
from bowclf.vectorizer.tokenizer import _SEP, _SEP_JOIN, _Segment, _Tokenizer

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

_ASCII_SEP = "\x01"  # separator of the ASCII string route (never a default token)
_ASCII_JOIN = " \x01 "
# ASCII string route: whitespace becomes a space and every other character that
# is neither a word character, a joiner (' -) nor the separator becomes a token of
# its own (surrounded by spaces) ...
_ASCII_TABLE = str.maketrans(
    {
        c: (" " if c.isspace() or not c.isprintable() else f" {c} ")
        for c in map(chr, range(128))
        if not (c.isalnum() or c in "_'-\x01")
    }
)
# The same rule in two fast steps: a 1:1 table (str.translate's fast path) blanks the
# separators, then each punctuation character present is spaced out with str.replace.
_ASCII_BLANKS = str.maketrans({c: " " for c, v in _ASCII_TABLE.items() if v == " "})
_ASCII_PUNCT = tuple(chr(c) for c, v in _ASCII_TABLE.items() if v != " ")
# ... then joiners not between two word characters become tokens of their own too.
_ASCII_JOINER_RE = re.compile(r"['\-](?:['\-]+|(?<![^ ]['\-])|(?![^ ]))")


def scan_word_ranges() -> list[tuple[int, int]]:
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


def _ranges_class(ranges: Iterable[tuple[int, int]]) -> str:
    """Regex character-class body for inclusive code-point ranges."""
    parts = []
    for a, b in ranges:
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


@functools.cache
def default_pattern(batch: bool = False) -> re.Pattern[str]:
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


class ReferenceTokenizer(_Tokenizer):
    """:class:`_Tokenizer` whose default rule takes the previous string routes.

    Segments are delimited by token counts (``lens``), as the production
    default route's are.
    """

    def tokenize(self, doc: str) -> list[str]:
        if self.default:
            return default_pattern().findall(self._prepare(doc))
        return super().tokenize(doc)

    def iter_segments(self, docs: list[str]) -> Iterator[_Segment]:
        if not self.default:
            yield from super().iter_segments(docs)
            return
        is_ascii = np.fromiter(map(str.isascii, docs), bool, len(docs))
        for flag in (True, False):
            where = np.flatnonzero(is_ascii == flag)
            if where.size == 0:
                continue
            part = list(map(docs.__getitem__, where.tolist()))
            pos = where.astype(np.int32)
            tokens = self._ascii_tokens(part) if flag else self._joined_tokens_default(part)
            if tokens is None:  # a document holds the separator: one by one
                lists = [self.tokenize(d) for d in part]
                lens = np.fromiter(map(len, lists), np.intp, len(lists))
                yield _Segment([t for toks in lists for t in toks], pos, lens)
            else:
                yield _split_at(tokens, _ASCII_SEP if flag else _SEP, pos)

    def _ascii_tokens(self, docs: list[str]) -> list[str] | None:
        """Default-rule tokens of ASCII documents with str.translate/split,
        joined with :data:`_ASCII_SEP`; ``None`` if a document contains it."""
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

    def _joined_tokens_default(self, docs: list[str]) -> list[str] | None:
        """One regex call over the documents joined with :data:`_SEP`."""
        tokens = default_pattern(batch=True).findall(self._prepare(_SEP_JOIN.join(docs)))
        return tokens if tokens.count(_SEP) == len(docs) - 1 else None


def _split_at(tokens: list[str], sep: str, pos: np.ndarray) -> _Segment:
    """Separator-delimited tokens -> a segment delimited by token counts."""
    at = np.flatnonzero(np.fromiter(map(sep.__eq__, tokens), bool, len(tokens)))
    lens = np.diff(np.concatenate([[-1], at, [len(tokens)]])) - 1
    return _Segment([t for t in tokens if t != sep], pos, lens)
