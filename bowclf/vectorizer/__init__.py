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
million characters (bounded temporaries); default-rule tokens are found with
numpy on the character codes, without a string per token (:mod:`.tokenizer`);
short tokens find their ids by integer key in an exact hash index probed with
numpy (:mod:`.keyindex`), the others through a ``dict`` (:mod:`.table`);
hashes and the sparse matrix are computed with numpy over whole batches, and
the output grows in place (:mod:`.csr`), so the peak memory is about
1.05-1.25x the output.  Transform finds words by key in the vocabulary's
index (built by the first transform, kept with the estimator), or by string;
unigrams need no id for unknown tokens.

Modules: :mod:`.hashing` (fastText's hashes), :mod:`.charclass` and
:mod:`.tokenizer` (tokenisation), :mod:`.keyindex` and :mod:`.table` (token ids),
:mod:`.csr` (output blocks), :mod:`.estimator` (:class:`BowVectorizer`).
"""

from __future__ import annotations

import importlib
from typing import Any

from .hashing import (
    FNV_OFFSET_BASIS,
    FNV_PRIME,
    NGRAM_MULTIPLIER,
    token_hash,
    token_hashes,
    word_ngram_hashes,
)
from .transform import STATE_VERSION

# The estimator imports scikit-learn: loaded on first use, so that the sklearn-free transform
# (:mod:`.transform`, used to predict) does not pay for it.
_LAZY = {"BowVectorizer": ".estimator", "select_vocabulary": ".estimator"}

__all__ = [
    "BowVectorizer",
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "NGRAM_MULTIPLIER",
    "word_ngram_hashes",
    "STATE_VERSION",
    "token_hash",
    "select_vocabulary",
    "token_hashes",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
