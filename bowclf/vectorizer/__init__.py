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
tokens are found with numpy on the character codes through a class table
(:mod:`.tokenizer`, :mod:`.charclass`): no string is created per token.  A
token of at most 16 ASCII bytes, or of one non-ASCII character, is keyed by an
integer and finds its id in an exact hash index probed with numpy
(:mod:`.keyindex`); only the distinct keys not seen before and the other tokens
(longer, or non-ASCII words) become strings looked up in a ``dict``
(:mod:`.table`).  (Other tokenizers: one ``str.split``/regex call per batch or
one call per document, ids through one C-level ``map`` over the ``dict``.)
Token hashes, n-gram hashes and the sparse matrix are computed with numpy over
whole batches; distinct tokens are hashed once per call.  Output blocks are
appended in place to arrays grown by ``realloc`` (reserved at once when the
number of documents is known), so the peak memory is about 1.05-1.25x the
output (:mod:`.csr`).

Transform looks words up in the vocabulary itself (a word's id is its column):
keyed words in the vocabulary's key index, built by the first transform and
kept with the estimator, the others in ``vocabulary_``.  Unigrams need no id for
unknown tokens (and go in quarter batches); with n-grams or subwords every
distinct token needs a hash, so unknown tokens get ids too, and the strings of
those without a key are forgotten after each batch (their ids stay valid), so
the table does not grow with the rare words of the input.

Modules: :mod:`.hashing` (fastText's hashes), :mod:`.charclass` and
:mod:`.tokenizer` (tokenisation), :mod:`.keyindex` and :mod:`.table` (token ids),
:mod:`.csr` (output blocks), :mod:`.estimator` (:class:`BowVectorizer`).
"""

from .estimator import STATE_VERSION, BowVectorizer, _select_vocabulary
from .hashing import FNV_OFFSET_BASIS, FNV_PRIME, NGRAM_MULTIPLIER, token_hash, token_hashes

__all__ = [
    "BowVectorizer",
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "NGRAM_MULTIPLIER",
    "STATE_VERSION",
    "token_hash",
    "token_hashes",
]
# ``_select_vocabulary`` is re-exported for bowclf.dask (which merges the counts
# of partitions into a vocabulary with the rule of fit).
_ = _select_vocabulary
