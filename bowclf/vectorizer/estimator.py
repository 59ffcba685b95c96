"""The :class:`BowVectorizer` estimator: fit, transform and the fitted state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _limits
from ..parallel import prefetch
from .csr import _counts_csr, _CsrBuilder
from .keyindex import _KeyIndex
from .packed import PackedVocabulary
from .table import _hashed_entries, _TokenTable
from .tokenizer import _batches, _Tokenizer
from .transform import STATE_VERSION, FittedVectorizer, check_fitted_state, check_transform_params


def select_vocabulary(
    tokens: list[str], counts: np.ndarray, min_count: int, max_features: int | None
) -> tuple[list[str], np.ndarray]:
    """Vocabulary words and counts, by descending count then code-point order.

    ``tokens[i]`` has corpus count ``counts[i]``.  Words with a count below
    ``min_count`` are dropped; of the rest the ``max_features`` most frequent
    are kept (ties at the cut broken by code-point order).

    Returns
    -------
    words : list of str
    counts : ndarray of int64

    Raises
    ------
    TypeError
        If a token is not a str.
    ValueError
        If a kept token ends with ``'\\x00'`` (a ``<U`` array cannot hold it).
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
          tweets; bench/RESULTS.md).

        White space and control characters only separate tokens.  Words
        mixing BMP and astral-plane letters are split at the plane change;
        scripts without spaces other than CJK (Thai, Lao, Khmer...) give one
        token per space-separated run.
        ``'whitespace'``: fastText-compatible, tokens are the maximal runs
        of characters other than space, ``\t \n \v \f \r`` and ``\0``
        (nothing else is special).  A callable maps a (lower-cased) document
        to a list of str tokens; it cannot be saved by :mod:`bowclf.persist`.
        Its tokens, and a ``token_pattern``'s, lose any trailing NUL
        characters (``'\0'``; a token of NULs only is dropped): the
        vocabulary is a numpy string array, which cannot end a word with one.
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
        Dtype of the output values: a 32- or 64-bit integer or float (narrower integers
        would wrap around on large counts).
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
    used for tokens/s figures).  A parallel transform did not pay reliably
    on shared cores and costs memory (bench/RESULTS-vectorizer-split.md), so
    there is no ``n_jobs`` parameter; out-of-core
    training counts and transforms a large corpus on worker processes through
    :meth:`token_counter`, :meth:`fit_counts` and :meth:`transformer`
    (:mod:`bowclf.backends.passes`).

    Examples
    --------
    >>> vec = BowVectorizer(ngrams=2, buckets=10)
    >>> x = vec.fit_transform(["Good movie!", "bad movie", "good, good"])
    >>> vec.words_.tolist()
    ['good', 'movie', '!', ',', 'bad']
    >>> x.shape, x[[2]].toarray()[0, :5].tolist()
    ((3, 15), [2.0, 0.0, 0.0, 1.0, 0.0])
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
        check_transform_params(
            tokenizer=self.tokenizer, token_pattern=self.token_pattern, ngrams=self.ngrams,
            buckets=self.buckets, minn=self.minn, maxn=self.maxn, dtype=self.dtype,
        )  # fmt: skip

    def _make_tokenizer(self) -> _Tokenizer:
        return _Tokenizer(self.lowercase, self.tokenizer, self.token_pattern)

    def _make_table(self, tokenizer: _Tokenizer, *, transform: bool = False) -> _TokenTable:
        """The token table of a fit (``transform=False``) or of a transform under
        ``vocabulary_`` (then unknown tokens get ids only if n-grams need them)."""
        use = self._uses_buckets()
        vocabulary = self.vocabulary_ if transform else None
        return _TokenTable(
            tokenizer,
            vocabulary=vocabulary,
            vocabulary_index=self._key_index() if transform and tokenizer.default else None,
            new_ids=use or not transform,
            hashes=use and self.ngrams > 1,
            char_ngrams=(self.minn, self.maxn) if self.maxn > 0 else None,
            buckets=self.buckets if use else 0,
        )

    def _hash_width(self) -> int:
        return self.buckets if self._uses_buckets() else 0

    # -- public API ---------------------------------------------------------

    def _validate_params(self) -> None:
        _limits.check_token_pattern(self)  # the reason, not only what is accepted
        super()._validate_params()

    def tokenize(self, doc: str) -> list[str]:
        """Tokens of one document under the current parameters (unigrams only).

        Parameters
        ----------
        doc : str
            The document.

        Returns
        -------
        list of str
            Its tokens, in order.
        """
        return self._kept("_tokenizer_cache", (), self._make_tokenizer).tokenize(doc)

    def count_tokens(self, raw_documents: Iterable[str]) -> int:
        """Number of tokens in a corpus under the current tokenisation rule.

        Needs no fitting; used for tokens/s throughput figures.

        Parameters
        ----------
        raw_documents : iterable of str
            Consumed once, ``chunk_size`` documents at a time.

        Returns
        -------
        int
            The total number of (unigram) tokens.

        Raises
        ------
        ValueError
            If the parameters are invalid (as :meth:`fit` would raise).
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
        counter = TokenCounter(self._make_tokenizer(), self.chunk_size)
        counter.add(raw_documents)
        tokens, counts = counter.result()
        del counter  # so that the vocabulary is allocated after the table is freed
        self._set_vocabulary(tokens, counts)
        return self

    def token_counter(self) -> TokenCounter:
        """A :class:`TokenCounter` under this vectorizer's tokenisation rule (parameters
        checked; nothing fitted): the counts :meth:`fit` makes a vocabulary of, for corpora
        counted piece by piece (e.g. in several processes) and then :meth:`fit_counts`.

        Returns
        -------
        TokenCounter
            A new, empty counter.
        """
        self._validate_params()
        self._check_params()
        return TokenCounter(self._make_tokenizer(), self.chunk_size)

    def fit_counts(self, tokens: list[str], counts: np.ndarray) -> BowVectorizer:
        """Learn the vocabulary from token counts (``tokens[i]`` occurs ``counts[i]`` times,
        each token once, in any order: e.g. the sums of :meth:`TokenCounter.result` of the
        parts of a corpus).  Equal to :meth:`fit` on
        the documents that were counted, which depends on the counts only.

        Parameters
        ----------
        tokens : list of str
            The distinct tokens.
        counts : array-like of int, shape (len(tokens),)
            Their corpus counts.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the parameters are invalid or no token is left (no tokens, or none occurs
            ``min_count`` times).
        """
        self._validate_params()
        self._check_params()
        self._set_vocabulary(tokens, np.asarray(counts, np.int64))
        return self

    def transformer(self) -> FittedVectorizer:
        """The sklearn-free transform of this fitted vectorizer (a picklable
        :class:`~bowclf.vectorizer.transform.FittedVectorizer`, sharing ``vocabulary_``);
        its :meth:`~bowclf.vectorizer.transform.FittedVectorizer.chunk_transform` serves a
        corpus read chunk by chunk.  Gives what :meth:`transform` gives.

        Returns
        -------
        FittedVectorizer
        """
        check_is_fitted(self, "vocabulary_")
        self._validate_params()
        self._check_params()
        return self._fitted()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, raw_documents: Iterable[str], y: Any = None) -> sp.csr_array:
        """Learn the vocabulary and return the count matrix, in one pass.

        Equal to ``fit(raw_documents).transform(raw_documents)`` but reads
        (and tokenises) the input only once.

        Parameters
        ----------
        raw_documents : iterable of str
            Consumed once, ``chunk_size`` documents at a time.
        y : ignored

        Returns
        -------
        csr_array of shape (n_documents, n_features_out_)
        """
        self._check_params()
        dtype = np.dtype(self.dtype)
        table = self._make_table(self._make_tokenizer())
        width = self._hash_width()
        counts = np.zeros(0, np.int64)
        with ThreadPoolExecutor(1, thread_name_prefix="bowclf-csr") as pool:
            # a batch's COO -> CSR sorts (numpy, without the GIL) run on the pool while the
            # next batch is tokenised here; the results are taken in batch order
            pending = []
            for batch in _batches(raw_documents, self.chunk_size):
                ids, doc = table.encode(batch)
                counts = _add_counts(counts, ids, len(table))
                rows, cols = _hashed_entries(table, ids, doc, self.ngrams, width)
                shapes = ((len(batch), len(table)), (len(batch), max(width, 1)))
                pending.append(pool.submit(_batch_csr, doc, ids, rows, cols, shapes, dtype))
            parts = [future.result() for future in pending]
        del pending
        self._set_vocabulary(list(table.lookup), counts)
        remap = np.full(len(table), -1, np.int64)
        n_vocab = len(self.vocabulary_)
        remap[[table.lookup[w] for w in self.vocabulary_]] = np.arange(n_vocab)
        del table, counts
        out = _CsrBuilder(n_vocab + width, dtype, sum(uni.shape[0] for uni, _ in parts))
        parts.reverse()
        blocks = (_joined(*parts.pop(), remap, n_vocab, width, dtype) for _ in range(len(parts)))
        for block in prefetch(blocks):  # each block joined one ahead, on a thread
            out.append(block)
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
        return self._transformer().transform(raw_documents, self._key_index())

    def _transformer(self) -> FittedVectorizer:
        """:meth:`_fitted`, validated, kept while the parameters and ``vocabulary_`` stay
        the same (a :meth:`set_params` after fit is validated and used at the next call):
        validating scikit-learn's constraints and building a new transform (and token
        table) on every call was most of the time of a transform of a few documents."""
        return self._kept("_transformer_cache", (self.vocabulary_,), self._fitted)

    def _kept(self, name: str, extra: tuple, build: Callable[[], Any]) -> Any:
        """``build()``, run after validating the parameters and kept in ``name`` until a
        parameter changes or an object of ``extra`` is replaced (compared by identity: a
        vocabulary is replaced, e.g. packed, never compared word by word)."""
        params = tuple(getattr(self, k) for k in self._parameter_constraints)
        kept = self.__dict__.get(name)
        if (
            kept is None
            or len(kept[0]) != len(extra)
            or any(a is not b for a, b in zip(kept[0], extra, strict=True))
            or any(a is not b and a != b for a, b in zip(kept[1], params, strict=True))
        ):
            self._validate_params()
            self._check_params()
            kept = (extra, params, build())
            self.__dict__[name] = kept
        return kept[2]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the kept transform and tokenizer (:meth:`_kept`; rebuilt)."""
        state = super().__getstate__()
        state.pop("_transformer_cache", None)
        state.pop("_tokenizer_cache", None)
        return state

    def _fitted(self) -> FittedVectorizer:
        """The sklearn-free transform of this fitted vectorizer (shares ``vocabulary_``)."""
        return FittedVectorizer(
            self.vocabulary_, lowercase=self.lowercase, tokenizer=self.tokenizer,
            token_pattern=self.token_pattern, ngrams=self.ngrams, buckets=self.buckets,
            minn=self.minn, maxn=self.maxn, dtype=self.dtype, chunk_size=self.chunk_size,
        )  # fmt: skip

    def _key_index(self) -> _KeyIndex:
        """The :class:`_KeyIndex` of ``vocabulary_`` (word keys -> columns), built
        by the first transform of each vocabulary and kept (about 32 bytes a word).

        Built here rather than by fit: a transform needs it, and the peak
        memory measured in ``bench/`` is lower this way.  It is derived from
        ``vocabulary_`` only, so two threads building it at once build the
        same index.
        """
        vocabulary, index = getattr(self, "_key_index_cache", (None, None))
        if index is None or vocabulary is not self.vocabulary_:
            index = _KeyIndex.of_words(list(self.vocabulary_))
            self._key_index_cache = (self.vocabulary_, index)
        return index

    @property
    def words_(self) -> np.ndarray:
        """Vocabulary words in column order, as a ``<U...`` array.

        Built from ``vocabulary_`` on each access (a ``<U`` array takes
        4 x longest-word bytes per word, often more than the dictionary).
        """
        check_is_fitted(self, "vocabulary_")
        if isinstance(self.vocabulary_, PackedVocabulary):
            return self.vocabulary_.words_array()
        if not self.vocabulary_:
            return np.empty(0, "<U1")
        return np.array(list(self.vocabulary_), dtype=str)

    def pack_vocabulary(self) -> BowVectorizer:
        """Keep ``vocabulary_`` as a :class:`~bowclf.vectorizer.packed.PackedVocabulary`
        (one string of the words and one offset a word, instead of a string object, an
        integer and a hash-table entry a word) until a lookup needs the dictionary, which it
        then builds again: for a vocabulary that is kept but not looked up for a while,
        e.g. during out-of-core training once the token cache is written.  Columns,
        transforms and saved states are unchanged.

        Returns
        -------
        self
        """
        check_is_fitted(self, "vocabulary_")
        if not isinstance(self.vocabulary_, PackedVocabulary):
            self.vocabulary_ = PackedVocabulary.of(self.vocabulary_)
            self.__dict__.pop("_key_index_cache", None)  # it refers to the dictionary
        return self

    @property
    def n_features_out_(self) -> int:
        """Output width: vocabulary size plus hash buckets (when used)."""
        check_is_fitted(self, "vocabulary_")
        return len(self.vocabulary_) + self._hash_width()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names: the words, then ``'ngram#0'`` .. ``'ngram#{buckets-1}'``.

        The ``ngram#b`` columns are hash buckets shared by word n-grams and
        character n-grams (a whitespace-mode word could look the same).

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn compatibility.

        Returns
        -------
        ndarray of str, shape (n_features_out_,)
        """
        check_is_fitted(self, "vocabulary_")
        width = self._hash_width()
        if not width:
            return self.words_.copy()
        names = np.char.add("ngram#", np.arange(width).astype(str))
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

        Parameters
        ----------
        state : dict of str to ndarray
            ``version``, ``words``, ``word_counts`` and ``n_tokens``, as
            :meth:`get_fitted_state` returns them.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the state is malformed or of another version.
        """
        vocabulary, counts, n_tokens = check_fitted_state(state)
        self.vocabulary_ = vocabulary
        self.word_counts_ = counts
        self.n_tokens_ = n_tokens
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
        words, word_counts = select_vocabulary(tokens, counts, self.min_count, self.max_features)
        if not words:
            raise ValueError(
                f"empty vocabulary: no token occurs at least min_count={self.min_count} times"
            )
        words = _fresh_copies(words)
        self.vocabulary_ = dict(zip(words, range(len(words)), strict=True))
        self.word_counts_ = word_counts
        self.n_tokens_ = n_tokens


class TokenCounter:
    """The corpus count of every token, documents added in any number of calls (the counts
    :meth:`BowVectorizer.fit` selects its vocabulary from)."""

    def __init__(self, tokenizer: _Tokenizer, chunk_size: int) -> None:
        self.table = _TokenTable(tokenizer)  # counts only: no per-id data
        self.counts = np.zeros(0, np.int64)
        self.chunk_size = chunk_size

    def add(self, raw_documents: Iterable[str]) -> None:
        """Count the tokens of ``raw_documents``."""
        for batch in _batches(raw_documents, self.chunk_size):
            ids, _ = self.table.encode(batch)
            self.counts = _add_counts(self.counts, ids, len(self.table))

    def result(self) -> tuple[list[str], np.ndarray]:
        """The tokens seen (each once, in first-seen order) and their counts: as many
        counts as tokens, also for ids never counted (the table's document separator, the
        only entry of a counter that was given no documents).

        Returns
        -------
        tokens : list of str
        counts : ndarray of int64, shape (len(tokens),)
        """
        tokens = list(self.table.lookup)
        counts = _add_counts(self.counts, np.zeros(0, np.intp), len(self.table))
        return tokens, counts[: len(tokens)]


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


def _batch_csr(doc, ids, rows, cols, shapes, dtype) -> tuple[sp.csr_array, sp.csr_array]:
    """A batch's unigram counts (by token id) and hashed n-gram counts, canonical CSR."""
    uni = _counts_csr(doc, ids, shapes[0], dtype)
    return uni, _counts_csr(_cat(rows), _cat(cols), shapes[1], dtype)


def _joined(uni, hashed, remap, n_vocab: int, width: int, dtype) -> sp.csr_array:
    """The batch's rows of the output: unigram columns mapped to the vocabulary (``remap``;
    dropped words: −1), hashed columns after them."""
    n = uni.shape[0]
    cols = remap[uni.indices]
    keep = cols >= 0
    urows = np.repeat(np.arange(n), np.diff(uni.indptr))[keep]
    hrows = np.repeat(np.arange(n), np.diff(hashed.indptr))
    return _counts_csr(
        np.concatenate([urows, hrows]),
        np.concatenate([cols[keep], hashed.indices + n_vocab]),
        (n, n_vocab + width),
        dtype,
        data=np.concatenate([uni.data[keep], hashed.data]),
    )


def _add_counts(counts: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """``counts`` grown to ``size`` plus the occurrences of ``ids``."""
    if len(counts) < size:
        counts = np.concatenate([counts, np.zeros(max(size - len(counts), len(counts)), np.int64)])
    counts[:size] += np.bincount(ids, minlength=size)
    return counts


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, np.intp)
