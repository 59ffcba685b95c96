"""Tokenisation of batches of documents, one route per tokenizer mode.

* ``tokenizer='default'``: the documents of a batch are joined with ``"\\n"``
  and their tokens found with numpy on the character codes (bytes for ASCII
  documents, UTF-32 code points otherwise, a quarter of the batch at a time)
  through the class table of :mod:`.charclass`, as spans (:class:`_Spans`): no
  string is created per token.
* ``'whitespace'``: one ``str.split`` (or regex) call per batch over the
  documents joined with a separator token; a batch in which a document holds
  the separator as a token is tokenised one document at a time.
* a ``token_pattern`` or a callable: one call per document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice, repeat
from typing import NamedTuple

import numpy as np

from .charclass import (
    _ASCII_CLASS,
    _ASTRAL,
    _BLANK,
    _JOINER,
    _PUNCT,
    _WORD,
    _code_point_classes,
)

# The documents of a 'whitespace' batch are joined with a separator token and
# tokenised in one call; the separators are then located among the token ids.
_SEP = "\uffff"  # a Unicode non-character
_SEP_JOIN = " \uffff "
_MAX_BATCH_CHARS = 1 << 18  # bounds the live token strings and the temporaries
_FASTTEXT_WHITESPACE_RE = re.compile("[^ \t\n\v\f\r\x00]+")
# Characters that str.split() treats as whitespace but fastText does not, plus
# NUL, which fastText treats as whitespace but str.split() does not.
_SPLIT_UNSAFE_RE = re.compile(
    "[\x00\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


class _Segment(NamedTuple):
    """Tokens of some documents of a batch, in document order.

    ``docs`` holds the batch positions of those documents (``None``: all of
    them, in order).  Documents are delimited either by ``lens`` (tokens per
    document) or, when ``lens`` is ``None``, by :data:`_SEP` tokens.
    """

    tokens: list[str]
    docs: np.ndarray | None
    lens: np.ndarray | None
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

    def __init__(
        self,
        lowercase: bool,
        tokenizer: str | Callable[[str], list[str]],
        token_pattern: str | None,
    ) -> None:
        self.lowercase = bool(lowercase)
        self.func: Callable[[str], list[str]] | None = None
        self.pattern: re.Pattern[str] | None = None  # 'whitespace' or token_pattern
        self.default = False
        self.whitespace = False
        if callable(tokenizer):
            self.func = tokenizer
        elif tokenizer == "whitespace":
            self.whitespace = True
            self.pattern = _FASTTEXT_WHITESPACE_RE
        elif token_pattern is not None:
            self.pattern = _compile_token_pattern(token_pattern)
        else:
            self.default = True

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
        if self.default:
            spans, _ = (self._ascii_spans if doc.isascii() else self._unicode_spans)([doc])
            return spans.tokens()
        doc = self._prepare(doc)
        if self.func is not None:
            tokens = self.func(doc)
            tokens = tokens if isinstance(tokens, list) else list(tokens)
            if not all(isinstance(t, str) for t in tokens):  # bytes, ints… fail later
                bad = next(t for t in tokens if not isinstance(t, str))
                raise TypeError(f"tokenizer must return str tokens, got {type(bad).__name__}")
            return _without_trailing_nul(tokens) if "\x00" in "".join(tokens) else tokens
        assert self.pattern is not None
        tokens = self._split(doc, self.pattern)
        return _without_trailing_nul(tokens) if "\x00" in doc else tokens

    def _ascii_spans(self, docs: list[str]) -> tuple[_Spans, np.ndarray]:
        """Default-rule tokens of ASCII documents, found with numpy on bytes.

        Returns the spans and the number of tokens of each document: the
        tokens of the rule's regex (``tests/_reference_tokenizer.py``, checked
        by the tests), without creating one string per token.
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

    def _joined_tokens(self, docs: list[str]) -> list[str] | None:
        """Tokens of ``docs`` joined with :data:`_SEP` ('whitespace' rule); ``None``
        if a document holds the separator as a token."""
        assert self.whitespace and self.pattern is not None
        tokens = self._split(self._prepare(_SEP_JOIN.join(docs)), self.pattern)
        return tokens if tokens.count(_SEP) == len(docs) - 1 else None

    def _one_by_one(self, docs: list[str]) -> _Segment:
        lists = [self.tokenize(d) for d in docs]
        lens = np.fromiter(map(len, lists), np.intp, len(lists))
        return _Segment(list(chain.from_iterable(lists)), None, lens)

    def iter_segments(self, docs: list[str]) -> Iterator[_Segment]:
        """Tokens of all ``docs`` as segments (see :class:`_Segment`), one at a
        time, so that a consumer can free a segment before the next one is
        tokenised."""
        if self.default:
            yield from self._default_segments(docs)
        elif self.whitespace and (tokens := self._joined_tokens(docs)) is not None:
            yield _Segment(tokens, None, None)
        else:
            yield self._one_by_one(docs)

    def _default_segments(self, docs: list[str]) -> Iterator[_Segment]:
        """Segments of the default rule: the ASCII documents, then the others
        in runs of about a quarter of the batch's characters (UTF-32 takes 4
        bytes a character)."""
        is_ascii = np.fromiter(map(str.isascii, docs), bool, len(docs))
        for flag in (True, False):
            where = np.flatnonzero(is_ascii == flag)
            if where.size == 0:
                continue
            part = docs if where.size == len(docs) else list(map(docs.__getitem__, where.tolist()))
            pos = None if where.size == len(docs) else where.astype(np.int32)
            if flag:
                spans, lens = self._ascii_spans(part)
                part = None
                yield _Segment([], pos, lens, spans)
                del spans
                continue
            quarter = sum(map(len, docs)) // 4
            for sub, sub_pos in _split_chars(part, pos, quarter):
                spans, lens = self._unicode_spans(sub)
                yield _Segment([], sub_pos, lens, spans)
                del spans


def _without_trailing_nul(tokens: list[str]) -> list[str]:
    """``tokens`` without trailing NULs, empty ones dropped: numpy's ``<U`` arrays, which hold
    the vocabulary, drop a string's trailing NULs, so ``"ab\\0"`` would be stored as
    ``"ab"`` and never found again (the built-in rules treat NUL as a separator)."""
    return [s for t in tokens if (s := t.rstrip("\x00"))]


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


class DocumentTypeError(ValueError, TypeError):
    """A document that is neither ``str`` nor UTF-8 ``bytes``: both a ``ValueError`` (what
    :class:`~bowclf.TextClassifier` and the CLI's error handling catch) and a ``TypeError``
    (what :class:`~bowclf.BowVectorizer` raised), as scikit-learn's ``InvalidParameterError``
    is both."""


def decoded_documents(docs: list, start: int = 0) -> list[str]:
    """``docs`` with ``bytes`` documents decoded as UTF-8 (scikit-learn's text vectorizers'
    default ``encoding``); ``start``: the index of ``docs[0]`` in the input, for messages.

    Raises
    ------
    ValueError
        For bytes that are not UTF-8.
    DocumentTypeError
        For a document that is neither ``str`` nor ``bytes``.
    """
    out = []
    for i, doc in enumerate(docs, start):
        if isinstance(doc, bytes):
            try:
                doc = doc.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"document {i} is bytes that are not UTF-8 ({exc.reason} "
                                 f"at byte {exc.start}); decode it first") from None  # fmt: skip
        elif not isinstance(doc, str):
            raise DocumentTypeError(f"document {i} is {type(doc).__name__}, not str")
        out.append(doc)
    return out


def _batches(
    raw_documents: Iterable[str], chunk_size: int, max_chars: int | None = None, share: int = 1
) -> Iterator[list[str]]:
    """Lists of at most ``chunk_size`` documents and about ``max_chars`` characters
    (default ``_MAX_BATCH_CHARS // share``)."""
    if max_chars is None:
        max_chars = _MAX_BATCH_CHARS // share
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
            chunk = decoded_documents(chunk, start)
        start += len(chunk)
        for begin, end in _char_runs(map(len, chunk), max_chars):
            yield chunk if end - begin == len(chunk) else chunk[begin:end]
