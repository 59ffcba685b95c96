"""Token -> integer id tables of one fit or transform call, with per-id data.

A :class:`_TokenTable` gives every token of the batches it encodes an integer
id and keeps, per id, the data that hashed features need (the token's hash,
its character n-gram buckets), computed once per distinct token.  Tokens with a
key (:mod:`.keyindex`) are found through a :class:`~.keyindex._KeyIndex`; only
the distinct keys not seen before and the other tokens become strings, looked
up in a ``dict``.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import count, islice, repeat
from typing import Any

import numpy as np

from .hashing import _sign_extend, subword_hashes, token_hashes, word_ngram_hashes
from .keyindex import _CHAR_KEY, _LONG_KEY, _KeyIndex, _span_keys, _take_two
from .tokenizer import _SEP, _Spans, _Tokenizer


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
    it is found in ``vocabulary_index`` (words with a key) or in the vocabulary
    itself, so the table holds no copy of the vocabulary.  Other tokens get ids
    ``len(vocabulary)``, ``len(vocabulary) + 1``... in first-occurrence order
    (with ``new_ids=False`` they get -1 instead: a unigram transform needs no
    id for them), assigned by a ``defaultdict`` whose factory is a counter, so
    mapping a token list is a C-level ``map``.  Without a vocabulary (fit) every
    token is such a token.  Per-id data (token hash, character n-gram buckets)
    is computed once per distinct token, in batches, when it is first seen.
    """

    def __init__(
        self,
        tokenizer: _Tokenizer,
        *,
        vocabulary: dict[str, int] | None = None,
        vocabulary_index: _KeyIndex | None = None,
        new_ids: bool = True,
        hashes: bool = False,
        char_ngrams: tuple[int, int] | None = None,
        buckets: int = 0,
    ) -> None:
        self.tokenizer = tokenizer
        self._vocabulary = vocabulary
        if vocabulary is not None and vocabulary_index is None and tokenizer.default:
            vocabulary_index = _KeyIndex.of_words(list(vocabulary))
        self._vocabulary_index = vocabulary_index
        self.n_known = len(vocabulary) if vocabulary is not None else 0
        self._new_ids = new_ids
        # ids n_known, n_known + 1... in insertion order (a counter, not
        # self.__len__, so that no reference cycle delays freeing the table)
        self._ids = count(self.n_known)
        self.lookup: defaultdict[str, int] = defaultdict(self._ids.__next__)
        self._get = self.lookup.__getitem__
        self.index = _KeyIndex(base=self.n_known)  # keys of the tokens given ids here
        self.hashes = _Growable(np.uint64) if hashes else None
        self.char_ngrams = char_ngrams
        self._buckets = buckets
        if char_ngrams is not None:
            self.cg_start = _Growable(np.int64)
            self.cg_len = _Growable(np.int64)
            self.cg_data = _Growable(np.int64)
        # vocabulary ids whose per-id data is computed (needed for n-grams only)
        # (one more entry, True, that stands for every id outside the vocabulary)
        self._known: np.ndarray | None = None
        if self.n_known and (hashes or char_ngrams is not None):
            self._known = np.zeros(self.n_known + 1, bool)
            self._known[-1] = True
        self._unlisted = 0  # ids whose token is not (or no longer) in ``lookup``
        if vocabulary is not None and _SEP in vocabulary:
            self.sep_id = vocabulary[_SEP]
        else:  # an id of its own, even with new_ids=False
            self.sep_id = self._get(_SEP)
            self._register([_SEP], np.array([self.sep_id]))
        self._kept = {_SEP: self.sep_id} if _SEP in self.lookup else {}

    def __len__(self) -> int:
        """Number of ids assigned (some tokens may have left ``lookup``)."""
        return self.n_known + len(self.lookup) + self._unlisted

    def ids_of(self, tokens: list[str]) -> np.ndarray:
        """Ids of ``tokens``, assigning new ids to the new ones (not registered)."""
        if self._vocabulary is None:
            return np.fromiter(map(self._get, tokens), np.intp, len(tokens))
        ids = np.fromiter(map(self._vocabulary.get, tokens, repeat(-1)), np.intp, len(tokens))
        unknown = np.flatnonzero(ids < 0)
        if unknown.size:
            others = map(tokens.__getitem__, unknown.tolist())
            if self._new_ids:
                ids[unknown] = np.fromiter(map(self._get, others), np.intp, unknown.size)
            else:  # the separator has an id (in ``lookup``), unknown tokens -1
                looked = map(self.lookup.get, others, repeat(-1))
                ids[unknown] = np.fromiter(looked, np.intp, unknown.size)
        return ids

    def _fresh_ids(self, tokens: list[str]) -> np.ndarray:
        """Ids of distinct keyed tokens not in :attr:`index`: new ones (not
        registered); with a vocabulary, fresh ids outside ``lookup`` (found by
        key from now on, the strings need not be kept)."""
        if self._vocabulary is None:
            return np.fromiter(map(self._get, tokens), np.intp, len(tokens))
        self._unlisted += len(tokens)
        return np.fromiter(islice(self._ids, len(tokens)), np.intp, len(tokens))

    def forget_unknown(self) -> None:
        """Remove from ``lookup`` the tokens outside the vocabulary.

        Transform keeps only the strings it may need again cheaply: unknown
        tokens (mostly rare words) would otherwise pile up batch after batch.
        Their ids stay valid (per-id data keeps them; keyed tokens stay in the
        key index); a forgotten token without a key seen again gets a new id
        with the same data.  ``lookup`` then no longer maps every id.
        """
        assert self._vocabulary is not None
        n = len(self.lookup) - len(self._kept)
        if n:
            self.lookup.clear()
            self.lookup.update(self._kept)
            self._unlisted += n

    def _register(self, new_tokens: list[str], new_ids: np.ndarray) -> None:
        """Per-id data of ``new_ids`` (the ids of ``new_tokens``)."""
        if self.hashes is not None:
            self.hashes.put(new_ids, _sign_extend(token_hashes(new_tokens)))
        if self.char_ngrams is not None:
            words = [t.encode("utf-8", "surrogatepass") for t in new_tokens]
            owner, hashes = subword_hashes(words, *self.char_ngrams)
            lens = np.bincount(owner, minlength=len(words)).astype(np.int64)
            starts = np.zeros(len(words), np.int64)
            np.cumsum(lens[:-1], out=starts[1:])
            self.cg_start.put(new_ids, starts + len(self.cg_data.array))
            self.cg_len.put(new_ids, lens)
            self.cg_data.extend(hashes.astype(np.int64) % self._buckets)

    def _register_new(self, strings_of: Any, ids: np.ndarray, old: int) -> None:
        """Register the ids ``>= old`` (new) among ``ids``; ``strings_of(pos)`` is
        the list of the token strings at positions ``pos``."""
        pos = np.flatnonzero(ids >= old)
        if pos.size:
            self._register_at(strings_of, ids, pos)

    def _register_vocabulary(self, strings_of: Any, ids: np.ndarray) -> None:
        """Register the vocabulary ids among ``ids`` not registered yet (their
        data is needed with n-grams only)."""
        if self._known is not None:
            pos = np.flatnonzero(~self._known[np.minimum(ids, self.n_known)])
            if pos.size:
                self._known[self._register_at(strings_of, ids, pos)] = True

    def _register_at(self, strings_of: Any, ids: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Register the distinct ids at positions ``pos``; returns them."""
        new_ids, first = np.unique(ids[pos], return_index=True)
        self._register(strings_of(pos[first]), new_ids)
        return new_ids

    def _find(
        self, keys: np.ndarray, two: np.ndarray, keys2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids of keyed tokens from the vocabulary's index then the table's own
        (-1: not found, and for tokens without a key), and the positions of -1."""
        if self._vocabulary_index is None:
            return self.index.find(keys, two, keys2)
        ids, miss = self._vocabulary_index.find(keys, two, keys2)
        if self.index.size and miss.size:
            found, still = self.index.find(keys[miss], *_take_two(two, keys2, miss))
            ids[miss] = found
            miss = miss[still]
        return ids, miss

    def _encode_spans(self, spans: _Spans) -> np.ndarray:
        """Ids of the tokens of a default-rule segment (int32).

        Keyed tokens are found in the key indexes; only the distinct keys not
        found and the tokens without a key become strings looked up as such.
        """
        keys, keyed, two, keys2 = _span_keys(spans)
        ids, miss = self._find(keys, two, keys2)
        if miss.size == 0 and self._known is None:
            return ids
        kmiss = miss[keyed[miss]]
        lpos = miss[~keyed[miss]]
        del miss, keyed
        old = len(self)
        if kmiss.size and self._new_ids:
            # with a vocabulary index, keyed tokens not found are outside the vocabulary
            words, *new_keys, uids = self._new_keyed(keys, two, keys2, kmiss, ids)
            self.index.add(*new_keys, uids)
        else:
            words, uids = [], np.empty(0, np.intp)
        del keys, two, keys2, kmiss
        longs = spans.tokens(lpos)
        lids = self.ids_of(longs)
        ids[lpos] = lids
        self._register_new(_picker(words + longs), np.concatenate([uids, lids]), old)
        self._register_vocabulary(spans.tokens, ids)
        return ids

    def _new_keyed(
        self, keys: np.ndarray, two: np.ndarray, keys2: np.ndarray, at: np.ndarray, ids: np.ndarray
    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Give ids (in ``ids``) to the keyed tokens at positions ``at``, not in the
        indexes: returns their distinct strings, keys (``key1``, ``two``, ``key2``)
        and ids."""
        is_two = np.zeros(len(keys), bool)
        is_two[two] = True
        tpos = at[is_two[at]]
        spos = at[~is_two[at]]
        del is_two
        # one-word keys: the packed bytes, or a code point
        ukeys, inv = np.unique(keys[spos], return_inverse=True)
        n_ascii = int(np.searchsorted(ukeys, _CHAR_KEY))  # character keys sort last
        words = ukeys[:n_ascii].view("S8").astype("U8").tolist()  # trailing NULs dropped
        words += map(chr, (ukeys[n_ascii:] - _CHAR_KEY).tolist())
        uids = self._fresh_ids(words)
        ids[spos] = uids[inv]
        # two-word keys: the token's 16 bytes (zero-padded) as one b"..." value
        pairs = np.empty((len(tpos), 2), np.uint64)
        pairs[:, 0] = keys[tpos] ^ _LONG_KEY
        pairs[:, 1] = keys2[np.searchsorted(two, tpos)]  # tpos: some of the ``two``
        upairs, tinv = np.unique(pairs.view("S16").ravel(), return_inverse=True)
        twos = upairs.astype("U16").tolist()
        tids = self._fresh_ids(twos)
        ids[tpos] = tids[tinv]
        upairs = upairs.view(np.uint64).reshape(-1, 2)
        first = np.concatenate([ukeys, upairs[:, 0] | _LONG_KEY])
        two_new = np.arange(len(ukeys), len(first))
        return words + twos, first, two_new, upairs[:, 1].copy(), np.concatenate([uids, tids])

    def encode(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of a batch and the batch position of each token's document.

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
                self._register_new(_picker(tokens), ids, old)
                self._register_vocabulary(_picker(tokens), ids)
                del tokens
            if seg.lens is None:
                is_sep = ids == self.sep_id
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


def _picker(tokens: list[str]) -> Any:
    """``strings_of`` for a token list: the tokens at positions ``pos``."""
    return lambda pos: list(map(tokens.__getitem__, pos.tolist()))


def _hashed_entries(
    table: _TokenTable, ids: np.ndarray, doc: np.ndarray, ngrams: int, buckets: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rows and bucket columns (in ``[0, buckets)``) of word and char n-grams."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    if table.hashes is not None and ngrams > 1 and len(ids) > 1:
        for n, g in enumerate(word_ngram_hashes(table.hashes.array[ids], ngrams), start=2):
            m = g.size
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
