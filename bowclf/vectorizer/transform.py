"""The fitted vectorizer's transform without scikit-learn: documents to count matrices.

:class:`FittedVectorizer` holds what a transform needs — the tokenisation parameters and the
vocabulary — and nothing of the estimator machinery, so that prediction (``bowclf predict``,
:func:`bowclf.persist.load_predictor`) does not import scikit-learn.
:meth:`BowVectorizer.transform <bowclf.vectorizer.BowVectorizer.transform>` runs this same
code, so both give the same matrix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sized
from typing import Any

import numpy as np

from .csr import _counts_csr, _CsrBuilder
from .keyindex import _KeyIndex
from .table import _hashed_entries, _TokenTable
from .tokenizer import _batches, _compile_token_pattern, _Tokenizer

__all__ = ["STATE_VERSION", "ChunkTransform", "FittedVectorizer", "check_fitted_state"]

#: Version of the fitted-state layout *and* of the tokenisation/hash rules.
STATE_VERSION = 1


def check_fitted_state(state: dict[str, np.ndarray]) -> tuple[dict[str, int], np.ndarray, int]:
    """``(vocabulary, word_counts, n_tokens)`` of a saved fitted state (see
    :meth:`BowVectorizer.get_fitted_state`); ``ValueError`` when it is malformed or of
    another version."""
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
    return vocabulary, counts.astype(np.int64), int(n_tokens[0])


def check_transform_params(
    *, tokenizer: Any, token_pattern: str | None, ngrams: int, buckets: int, minn: int, maxn: int,
    dtype: Any,
) -> None:  # fmt: skip
    """The checks spanning several parameters (``ValueError``); each parameter's own range is
    checked by the estimator's constraints or, for a model file, by :mod:`bowclf._limits`."""
    if token_pattern is not None and tokenizer != "default":
        raise ValueError("token_pattern can only be used with tokenizer='default'")
    if token_pattern is not None:
        _compile_token_pattern(token_pattern)
    if maxn > 0 and not 1 <= minn <= maxn:
        raise ValueError(f"need 1 <= minn <= maxn, got minn={minn}, maxn={maxn}")
    if maxn == 0 and minn > 0:
        raise ValueError(f"minn={minn} needs maxn >= minn (maxn=0 disables subwords)")
    if (ngrams > 1 or maxn > 0) and buckets == 0:
        raise ValueError("buckets must be > 0 when ngrams > 1 or maxn > 0")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype={dtype!r} is not a numpy dtype") from exc
    if dt.kind not in "iuf" or dt.itemsize < 4:  # narrower counts would wrap around
        raise ValueError(
            "dtype must be a 32- or 64-bit integer or float dtype (narrower counts would "
            f"overflow), got {dt}"
        )


class FittedVectorizer:
    """Transform documents under a fitted vocabulary (``vocabulary``: word → column).

    Columns are the vocabulary words, then ``buckets`` hash buckets shared by word n-grams
    (``ngrams > 1``) and character n-grams (``maxn > 0``).  The parameters mean what they
    mean for :class:`~bowclf.vectorizer.BowVectorizer`; they are assumed checked.
    """

    def __init__(
        self,
        vocabulary: dict[str, int],
        *,
        lowercase: bool = True,
        tokenizer: str | Callable[[str], list[str]] = "default",
        token_pattern: str | None = None,
        ngrams: int = 1,
        buckets: int = 2_000_000,
        minn: int = 0,
        maxn: int = 0,
        dtype: Any = np.float32,
        chunk_size: int = 10_000,
    ) -> None:
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.ngrams = ngrams
        self.buckets = buckets
        self.minn = minn
        self.maxn = maxn
        self.dtype = np.dtype(dtype)
        self.chunk_size = chunk_size
        self._index: _KeyIndex | None = None
        self._kept: ChunkTransform | None = None  # transform's table, kept between calls
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the kept token table (rebuilt on demand) and its lock."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_kept", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._kept, self._lock = None, threading.Lock()

    @property
    def width(self) -> int:
        """Number of output columns: the vocabulary and the hash buckets (when used)."""
        return len(self.vocabulary) + self.hash_width

    @property
    def hash_width(self) -> int:
        uses_buckets = self.ngrams > 1 or self.maxn > 0
        return self.buckets if uses_buckets else 0

    def key_index(self) -> _KeyIndex:
        """The :class:`_KeyIndex` of the vocabulary (word keys → columns), built by the first
        transform and kept (about 32 bytes a word)."""
        if self._index is None:
            self._index = _KeyIndex.of_words(list(self.vocabulary))
        return self._index

    def table(self, tokenizer: _Tokenizer, index: _KeyIndex | None) -> _TokenTable:
        """The token table of a transform: unknown tokens get ids only if n-grams need them."""
        use = self.hash_width > 0
        return _TokenTable(
            tokenizer,
            vocabulary=self.vocabulary,
            vocabulary_index=index if tokenizer.default else None,
            new_ids=use,
            hashes=use and self.ngrams > 1,
            char_ngrams=(self.minn, self.maxn) if self.maxn > 0 else None,
            buckets=self.buckets if use else 0,
        )

    #: Ids of unknown tokens (their n-gram data) the table kept between calls may hold.
    KEPT_UNKNOWN_IDS = 1 << 16

    def transform(self, raw_documents: Iterable[str], index: _KeyIndex | None = None):
        """Count matrix (``csr_array`` of shape (n_documents, :attr:`width`)), consumed
        ``chunk_size`` documents at a time; unknown words add no unigram feature but still
        take part in hashed n-grams.  ``index``: a prebuilt :meth:`key_index`.

        The token table (the vocabulary words' hashes and subwords, filled as documents use
        them) is kept for the next call, as :meth:`chunk_transform` keeps it: building it
        anew was most of the time of a call on a few documents.  A call while another
        thread holds it builds its own; one that fails drops it (it may be half filled), and
        so does one that leaves it holding more than :attr:`KEPT_UNKNOWN_IDS` unknown
        tokens beyond the vocabulary's words.  The result never depends on the table's
        history."""
        if not self._lock.acquire(blocking=False):
            return ChunkTransform(self, index)(raw_documents)
        try:
            if self._kept is None or (index is not None and self._kept.index is not index):
                self._kept = ChunkTransform(self, index)
            out = self._kept(raw_documents)
            if len(self._kept.table) > 2 * len(self.vocabulary) + self.KEPT_UNKNOWN_IDS:
                self._kept = None  # many unknown tokens' data: not worth holding on to
            return out
        except BaseException:
            self._kept = None
            raise
        finally:
            self._lock.release()

    def chunk_transform(self, index: _KeyIndex | None = None) -> ChunkTransform:
        """A transform for many chunks of documents in turn (a corpus read chunk by chunk):
        each call returns what :meth:`transform` returns for its chunk, but the token table
        is kept between calls, so the per-word data of the vocabulary (token hashes,
        character n-grams) is computed once, not once per chunk."""
        return ChunkTransform(self, index)


class ChunkTransform:
    """:meth:`FittedVectorizer.transform` of chunk after chunk with one token table (see
    :meth:`FittedVectorizer.chunk_transform`).  The table is renewed when the ids it gave
    to tokens outside the vocabulary (kept for their n-gram data) outnumber
    :data:`RENEW_UNKNOWN_IDS` and the vocabulary, so its memory stays bounded; the output
    does not depend on when that happens (an unknown token's n-gram data depends on its
    string only)."""

    #: Ids of unknown tokens kept at most (beside as many as the vocabulary's words).
    RENEW_UNKNOWN_IDS = 1 << 20

    def __init__(self, fitted: FittedVectorizer, index: _KeyIndex | None = None) -> None:
        self.fitted = fitted
        self.tokenizer = _Tokenizer(fitted.lowercase, fitted.tokenizer, fitted.token_pattern)
        if index is None and self.tokenizer.default:
            index = fitted.key_index()
        self.index = index
        self.table = fitted.table(self.tokenizer, index)

    def __call__(self, raw_documents: Iterable[str]):
        """The count matrix of ``raw_documents`` (see :meth:`FittedVectorizer.transform`)."""
        f = self.fitted
        n_vocab = len(f.vocabulary)
        if len(self.table) > 2 * n_vocab + self.RENEW_UNKNOWN_IDS:
            self.table = f.table(self.tokenizer, self.index)
        width = f.hash_width
        p = n_vocab + width
        n_rows = len(raw_documents) if isinstance(raw_documents, Sized) else None
        out = _CsrBuilder(p, f.dtype, n_rows)
        table = self.table
        # default-rule unigrams: no per-token data to amortise, a quarter of the temporaries
        share = 4 if self.tokenizer.default and not width else 1
        for batch in _batches(raw_documents, f.chunk_size, share=share):
            ids, doc = table.encode(batch)
            table.forget_unknown()
            keep = ids < n_vocab  # vocabulary ids are the columns
            if not width:
                keep &= ids >= 0  # unknown tokens: -1
            rows, hcols = _hashed_entries(table, ids, doc, f.ngrams, width)
            out.append(
                _counts_csr(
                    _cat([doc[keep], *rows]),
                    _cat([ids[keep], *(c + n_vocab for c in hcols)]),
                    (len(batch), p),
                    f.dtype,
                    compact=False,  # the builder copies the block
                )
            )
        return out.finish()


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, np.intp)
