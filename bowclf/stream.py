"""Out-of-core training: corpora larger than memory, tokenised once into an on-disk cache.

:func:`fit_stream` trains a :class:`~bowclf.TextClassifier` on a corpus file through the disk
backend (:mod:`bowclf.backends.disk`) in three steps:

1. **Vocabulary pass** — the file is streamed once; the vectorizer counts words (memory ∝ the
   number of distinct words; bound it with ``min_count``/``max_features``) and the label set
   is collected.
2. **Tokenisation pass** — the chunks of pass 1 (kept in the cache directory, so the file is
   read and parsed once) are turned into counts and appended to a CSR cache on disk
   (``indptr``/``indices``/``data`` plus label arrays), and the set of feature columns that
   occur is recorded (for ``prune_features``).
3. **Epochs** — every epoch reads the cache in blocks of ``block_docs`` documents (fewer when
   they hold over ``block_nnz`` non-zeros), in a random block order with the rows of each
   block shuffled (a bounded shuffle), and runs the same training loop as in-memory training
   (:func:`bowclf.training.train`).  Later epochs cost no tokenisation.

Both passes run on ``model.n_jobs`` worker processes for corpora of at least
:data:`bowclf.defaults.PARALLEL_PASS_BYTES` (:mod:`bowclf.backends.passes`; the same model
for any ``n_jobs``).  Blocks are read with plain file reads (not memory maps), so the
resident memory of the process is the model, the vocabulary and one block, whatever the
corpus size.  The cache is deleted afterwards unless ``keep_cache=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .backends.disk import BLOCK_NNZ, DiskCorpus

if TYPE_CHECKING:  # pragma: no cover
    from .text import TextClassifier

__all__ = ["fit_stream", "out_of_core_problem"]


def out_of_core_problem(params: dict[str, Any]) -> str | None:
    """Why a :class:`~bowclf.TextClassifier` with these parameters cannot be trained out of
    core, or None: the one rule for :func:`fit_stream` and ``bowclf fit --stream``."""
    if params.get("class_weight") is not None:
        return "class_weight is not supported by out-of-core training"
    return None


def fit_stream(
    model: TextClassifier,
    source: str | os.PathLike,
    *,
    corpus_kw: dict[str, Any] | None = None,
    multilabel: bool | None = None,
    X_val: Iterable[str] | None = None,
    y_val: Any = None,
    cache_dir: str | os.PathLike | None = None,
    keep_cache: bool = False,
    chunk_size: int = 10_000,
    block_docs: int = 65_536,
    block_nnz: int = BLOCK_NNZ,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> TextClassifier:
    """Train ``model`` (a :class:`~bowclf.TextClassifier`) on the corpus file ``source``
    out of core, and return it fitted.

    Parameters
    ----------
    model : TextClassifier
        Its parameters are used; ``sample_weight`` and ``class_weight`` are not supported
        out of core.
    source : path
        A labelled corpus readable by :func:`bowclf.corpus.iter_chunks`: a file, a pipe or
        ``"-"`` (stdin); it is read once.
    corpus_kw : dict, optional
        Options for the corpus reader (format, columns, ``label_sep``, encoding).
    multilabel : bool, optional
        Train on label sets; default: when ``label_sep`` is given or a document has
        several labels.
    X_val, y_val : optional
        In-memory validation documents and labels, scored after every epoch.
    cache_dir : path, optional
        Where to put the token cache (default: a temporary directory).
    keep_cache : bool, default=False
        Keep the cache directory (its path is in ``training_summary_['cache']``).
    chunk_size : int
        Documents read and tokenised at a time.
    block_docs : int
        Documents per training block (the shuffle buffer).
    block_nnz : int
        Non-zeros per training block at most (fewer documents when they are long): bounds
        the memory a block takes, one block training and one being read at a time.
    callback : callable, optional
        Training progress, as for :meth:`BowClassifier.fit`; also called with
        ``event='pass'`` after each of the two reading passes.

    Returns
    -------
    TextClassifier
        ``model``, fitted.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`~bowclf.TextClassifier`.
    ValueError
        If ``model.class_weight`` is set, or ``early_stopping`` without ``X_val``/``y_val``.

    Notes
    -----
    A corpus of at least :data:`bowclf.defaults.PARALLEL_PASS_BYTES` is read by
    ``model.n_jobs`` worker processes (:mod:`multiprocessing`); where they start by
    ``spawn`` or ``forkserver`` (Windows, macOS, Python ≥ 3.14), the script that calls this
    needs multiprocessing's ``if __name__ == "__main__":`` guard.
    """
    from .text import TextClassifier

    if not isinstance(model, TextClassifier):
        raise TypeError("fit_stream trains a TextClassifier")
    problem = out_of_core_problem(model.get_params())
    if problem is not None:
        raise ValueError(problem)
    with DiskCorpus(
        source, corpus_kw=corpus_kw, multilabel=multilabel, cache_dir=cache_dir,
        keep_cache=keep_cache, chunk_size=chunk_size, block_docs=block_docs,
        block_nnz=block_nnz, n_jobs=model.n_jobs,
    ) as backend:  # fmt: skip
        return model.fit_backend(backend, X_val=X_val, y_val=y_val, callback=callback)
