"""Distributed training and prediction on a Dask cluster (``pip install 'bowclf[dask]'``).

Importing this module needs only numpy/scipy; Dask is imported when a function is called
(an :class:`ImportError` naming the ``bowclf[dask]`` extra is raised if it is missing).

Inputs
------
Documents come as a ``dask.bag.Bag`` of str, a ``dask.dataframe`` text column (Series), or a
list of partitions (each a list of str).  Labels come the same way with the same
partitioning, or ``labels=None`` and a bag of ``(text, label)`` pairs (see
:func:`read_labelled_text`, which parses ``label,text`` CSV/TSV and fastText files on the
workers).  A label is a single value per document, or a tuple/list/set of labels
(multi-label, trained with ``loss='softmax'`` on normalised targets or ``loss='ova'``).

Vocabulary (:func:`fit_vectorizer_dask`)
----------------------------------------
Every partition is counted by ``BowVectorizer(min_count=1, max_features=None, <same
tokenizer>).fit(partition)`` (its ``words_``/``word_counts_``/``n_tokens_``), the counts are
summed in a tree reduction, and ``min_count``/``max_features`` are applied on the driver with
the very function :meth:`BowVectorizer.fit` uses (descending count, then code-point order).
The result is installed with :meth:`BowVectorizer.set_fitted_state`; it equals a local
``fit`` on the concatenated corpus.  The feature columns kept by ``prune_features`` are the
union of the columns used in every partition (:func:`used_columns_dask`).

Training (:func:`fit_dask`): local SGD on shards, merged every few batches
-------------------------------------------------------------------------
The machinery lives in :mod:`bowclf.backends.dask`; the epochs run in the one training loop
(:func:`bowclf.training.train`) like every other backend's.

1. The partitions are loaded into cluster memory once; vocabulary, label set, used columns
   and document frequencies are map/reduced over them; each partition is transformed *once*.
2. The non-empty partitions are dealt round-robin to ``K`` shards (default: one per worker;
   partition ``i`` goes to shard ``i mod K``).  Each shard is a Dask actor pinned to a worker
   holding its prepared rows (``X̃``, targets, weights) and a replica of the parameters
   ``W = Aᵀ`` (p×d, float32) and ``B`` (c×d), so later epochs never re-tokenise.  The driver
   and every replica start from the same ``A`` (drawn from ``random_state`` exactly as
   :meth:`TextClassifier.fit` draws it) and ``B = 0``; nothing big is broadcast.
3. Every epoch, shard ``k`` shuffles its ``n_k`` rows (its own random stream: the model's
   stream after initialisation, jumped ``k`` times) and cuts them into ``R = sync_per_epoch``
   consecutive pieces (default: one per 64 documents of the largest shard).  In round ``r``
   every shard runs the ordinary SGD pass (:func:`bowclf.training.sgd_pass`) over its piece
   from its current parameters, then the driver merges and sends the merged rows back.
4. The learning rate follows the single-machine schedule ``η(t) = lr·(1 − t/(epochs·n))``
   as if the K streams were interleaved: the i-th example of shard k's epoch e sits at
   ``t = e·n + i·n/n_k`` (``= e·n + i·K`` for equal shards), so all shards decay together and
   reach 0 at the end of the last epoch.
5. What is merged when: ``B`` and the ``hot_features`` rows of highest document frequency
   after every round; every other row that occurs in two or more shards' data at the end of
   every epoch; rows that occur in one shard's data only are never merged (no other shard
   changes them) and are copied to the driver at the end.  Only the rows a shard touched go to
   the driver; a shard gets back only the rows another shard changed.
6. Merge rule, for a row touched by the set ``S`` of shards since its last merge, ``W`` its
   merged value then and ``a_k`` the share of those examples trained by shard k:
   ``merge='sum'`` (default) gives ``W + Σ_{k∈S} (W_k − W)`` — every shard's update applied,
   as sequential SGD over the interleaved streams would; ``merge='average'`` gives
   ``(1 − Σ_{k∈S} a_k)·W + Σ_{k∈S} a_k·W_k`` — classic parameter averaging weighted by
   examples, which divides the pace by ``K`` (``K²`` for the product ``B·A``) and loses
   accuracy (docs/dask.md).  Both are computed in float64 in a fixed shard order.

With one shard every merge is a copy and training reproduces :meth:`TextClassifier.fit`
(``n_jobs=1``) bit for bit; with ``K`` shards the result is deterministic for a fixed
``random_state``, ``K``, ``sync_per_epoch``, ``hot_features`` and partitioning (which worker
runs which shard, and timing, do not matter).

Prediction (:func:`predict_dask`, :func:`predict_proba_dask`)
-------------------------------------------------------------
The model is put into the graph once (one key, shipped once per worker) and applied with a
task per partition.  Every row is scored alone (:func:`bowclf._math.row_scores`), so the
probabilities equal a local call byte for byte; with ``exact=True`` (default) the partition
lengths are also computed first and every partition is scored in the row blocks
:meth:`TextClassifier.predict_proba` would use on the whole concatenated input, which
``exact=False`` skips (one pass fewer, the same numbers).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends.dask import (
    MERGES,
    DaskCorpus,
    as_list,
    check_vectorizer,
    compute,
    count_words,
    counting_vectorizer,
    get_client,
    install_vocabulary,
    is_dataframe_like,
    list_workers,
    merge_words,
    model_key,
    partitions_of,
    require_dask,
    require_distributed,
    tree_reduce,
    union,
    used_columns,
)
from .classifier import PREDICT_CHUNK
from .textio import compression_of_name

#: Documents per chunk that :func:`fit_dask_file` reads and sends to the cluster at a time.
READ_CHUNK = 10_000

if TYPE_CHECKING:  # pragma: no cover
    from .text import TextClassifier
    from .vectorizer import BowVectorizer

__all__ = [
    "fit_dask",
    "fit_dask_file",
    "fit_vectorizer_dask",
    "predict_dask",
    "predict_proba_dask",
    "read_labelled_text",
    "used_columns_dask",
]


def fit_vectorizer_dask(
    vectorizer: BowVectorizer, texts: Any, *, client: Any = None
) -> BowVectorizer:
    """Learn ``vectorizer``'s vocabulary from partitioned documents (map/reduce).

    Parameters
    ----------
    vectorizer : BowVectorizer
        Its parameters are used; it is fitted in place (via ``set_fitted_state``).
    texts : dask.bag.Bag of str, dask dataframe Series, or list of partitions
        The documents.
    client : dask.distributed.Client, optional
        Run on this client; by default Dask's current scheduler is used (a distributed
        client if one is active, else the local threaded scheduler).

    Returns
    -------
    BowVectorizer
        ``vectorizer``, fitted: equal to ``vectorizer.fit(concatenated documents)``.
    """
    check_vectorizer(vectorizer)
    counting = counting_vectorizer(vectorizer)
    words, counts, n_tokens = _map_reduce(count_words, counting, merge_words, texts, client)
    return install_vocabulary(vectorizer, words, counts, n_tokens)


def used_columns_dask(vectorizer: BowVectorizer, texts: Any, *, client: Any = None) -> np.ndarray:
    """Sorted feature columns of a fitted ``vectorizer`` that occur in ``texts``.

    The union over partitions of the columns used by ``vectorizer.transform(partition)``
    (what ``TextClassifier(prune_features=True)`` keeps).

    Parameters
    ----------
    vectorizer : BowVectorizer
        A fitted vectorizer.
    texts : dask.bag.Bag of str, dask dataframe Series, or list of partitions
        The documents.
    client : dask.distributed.Client, optional
        Run on this client (default: Dask's current scheduler).

    Returns
    -------
    ndarray of int
        The sorted column indices.
    """
    return _map_reduce(used_columns, vectorizer, union, texts, client)


def _map_reduce(task: Callable, vectorizer: Any, combine: Callable, texts: Any, client: Any):
    """``task(vectorizer, partition)`` on every partition of ``texts``, reduced by ``combine``
    in a tree (the vectorizer is one graph input, shipped once)."""
    dask = require_dask()
    parts = partitions_of(texts, "texts")
    vec = model_key(dask, vectorizer)
    mapped = [dask.delayed(task)(vec, p) for p in parts]
    return compute(dask, client, tree_reduce(mapped, combine, lambda f, *a: dask.delayed(f)(*a)))


def fit_dask(
    model: TextClassifier,
    texts: Any,
    labels: Any = None,
    *,
    client: Any = None,
    scheduler_address: str | None = None,
    n_shards: int | None = None,
    sync_per_epoch: int | None = None,
    merge: str = "sum",
    hot_features: int = 20_000,
    X_val: Iterable[str] | None = None,
    y_val: Any = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> TextClassifier:
    """Train ``model`` data-parallel on a Dask cluster (local SGD with merges, see module doc).

    Parameters
    ----------
    model : TextClassifier
        Its parameters are used; it is returned fitted, with the same attributes as after
        :meth:`TextClassifier.fit` (saveable with :func:`bowclf.save`).  ``sample_weight`` is
        not supported; ``early_stopping`` needs ``X_val``/``y_val``.
    texts : dask.bag.Bag of str, dask dataframe Series, or list of partitions
        The documents; or, with ``labels=None``, a bag of ``(text, label)`` pairs.
    labels : same kind as ``texts``, optional
        One label per document (or a tuple/list of labels: multi-label), partitioned like
        ``texts``.
    client : dask.distributed.Client, optional
        The cluster to use; default: ``scheduler_address``, else the current client.
    scheduler_address : str, optional
        Connect to this scheduler (``'tcp://host:8786'``) for the duration of the call.
    n_shards : int, optional
        Number of data-parallel replicas; default: one per worker (capped by the number
        of non-empty partitions).  Results are reproducible for a fixed value.
    sync_per_epoch : int, optional
        Synchronisation rounds per epoch: ``B`` and the ``hot_features`` rows are merged
        after every round, every other row at the end of each epoch.  Default: one round per
        64 documents of the largest shard.
    merge : {'sum', 'average'}, default='sum'
        How the replicas' changes are combined (see the module doc): 'sum' applies every
        shard's update (as sequential SGD would); 'average' is classic parameter averaging
        weighted by examples (loses accuracy: bench/bench_dask.py).
    hot_features : int, default=20000
        Number of most frequent features (by document frequency) merged every round.
    X_val, y_val : optional
        In-memory validation documents and labels, scored on the driver after every epoch
        (and used for early stopping when the model has ``early_stopping=True``).
    callback : callable, optional
        Progress reports as for :meth:`BowClassifier.fit` (``event`` 'batch' after every
        round, 'epoch' after every epoch) plus ``event='pass'`` after the data passes.

    Returns
    -------
    TextClassifier
        ``model``, fitted.
    """
    from .text import TextClassifier

    require_distributed()
    if not isinstance(model, TextClassifier):
        raise TypeError("fit_dask trains a TextClassifier")
    _check_options(n_shards, sync_per_epoch, merge, hot_features)
    if model.early_stopping and X_val is None:
        raise ValueError("early_stopping with fit_dask needs X_val and y_val")
    with DaskCorpus(
        texts, labels, client=client, scheduler_address=scheduler_address, n_shards=n_shards,
        sync_per_epoch=sync_per_epoch, merge=merge, hot_features=hot_features,
    ) as backend:  # fmt: skip
        # fit_backend validates the model before the backend connects to the cluster
        return model.fit_backend(backend, X_val=X_val, y_val=y_val, callback=callback)


def _check_options(n_shards, sync_per_epoch, merge, hot_features) -> None:
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
    if sync_per_epoch is not None and (not isinstance(sync_per_epoch, int) or sync_per_epoch < 1):
        raise ValueError(f"sync_per_epoch must be a positive integer, got {sync_per_epoch!r}")
    if not isinstance(hot_features, int) or hot_features < 0:
        raise ValueError(f"hot_features must be a non-negative integer, got {hot_features!r}")
    if n_shards is not None and (not isinstance(n_shards, int) or n_shards < 1):
        raise ValueError(f"n_shards must be a positive integer, got {n_shards!r}")


# ---------------------------------------------------------------------- corpus files
def fit_dask_file(
    model: TextClassifier,
    path: Any,
    scheduler_address: str | None = None,
    *,
    client: Any = None,
    corpus_kw: dict[str, Any] | None = None,
    partitions: int | None = None,
    **fit_kw: Any,
) -> TextClassifier:
    """Train ``model`` on a corpus file on a Dask cluster (the ``bowclf fit --dask-scheduler``
    entry point).

    The file is read once, on the driver, with :func:`bowclf.corpus.iter_chunks` (so it must
    be readable where the driver runs; a pipe or ``'-'``, standard input, will do): every
    chunk of :data:`READ_CHUNK` documents goes to the cluster as it is read, and once the
    documents are counted the workers join the chunks into ``partitions`` partitions of
    ``ceil(n / partitions)`` consecutive documents (for a moment the cluster holds both).
    For data that does not fit on the driver, read it on the workers instead:
    ``fit_dask(model, read_labelled_text('data/*.csv'))``.

    Parameters
    ----------
    model : TextClassifier
    path : path or file name
        A labelled corpus in any format :func:`bowclf.corpus.iter_records` reads.
    scheduler_address : str, optional
        ``'tcp://host:8786'``; or pass ``client``.
    client : dask.distributed.Client, optional
    corpus_kw : dict, optional
        Options of the corpus reader (``format``, ``text_column``, ``label_column``,
        ``label_sep``, ``encoding``, ...), as for :func:`bowclf.stream.fit_stream`.
    partitions : int, optional
        Number of partitions; default: one per worker.
    **fit_kw
        Passed to :func:`fit_dask` (``n_shards``, ``sync_per_epoch``, ``X_val``, ...).

    Returns
    -------
    TextClassifier
    """
    from .corpus import CorpusError, iter_chunks, makes_multilabel

    corpus_kw = dict(corpus_kw or {})
    client, own = get_client(client, scheduler_address)
    try:
        chunks, sizes, multi = [], [], False
        for texts, labels in iter_chunks(path, chunk_size=READ_CHUNK, **corpus_kw):
            multi = multi or any(len(labs) > 1 for labs in labels)
            chunks.append(client.scatter([(texts, list(labels))], hash=False)[0])
            sizes.append(len(texts))
        n_docs = sum(sizes)
        if n_docs == 0:
            raise CorpusError(f"{path}: contains no documents")
        multilabel = makes_multilabel(corpus_kw.get("label_sep"), multi)
        n_parts = partitions or len(list_workers(client))
        size = max(1, math.ceil(n_docs / n_parts))
        ends = np.cumsum(sizes)
        futures = []
        for start in range(0, n_docs, size):
            stop = min(start + size, n_docs)
            first = int(np.searchsorted(ends, start, side="right"))
            last = int(np.searchsorted(ends, stop, side="left"))
            offset = int(ends[first] - sizes[first])
            futures.append(client.submit(
                _join_chunks, chunks[first : last + 1], start - offset, stop - offset,
                multilabel, pure=False,
            ))  # fmt: skip
        del chunks  # each is freed once the partitions that need it are made
        return fit_dask(model, futures, client=client, **fit_kw)
    finally:
        if own:
            client.close()


def _join_chunks(
    chunks: list[tuple[list[str], list]], start: int, stop: int, multilabel: bool
) -> tuple[list[str], list]:
    """Documents ``start:stop`` of the concatenated ``(texts, label tuples)`` chunks, as one
    partition of :func:`fit_dask_file` (runs on a worker); single labels unwrapped unless
    ``multilabel``."""
    texts = list(islice(chain.from_iterable(t for t, _ in chunks), start, stop))
    labels = list(islice(chain.from_iterable(lab for _, lab in chunks), start, stop))
    return texts, (labels if multilabel else [lab[0] for lab in labels])


def _records_of(lines: list[str], options: dict) -> list[tuple[str, Any]]:
    """Parse one partition of lines into ``(text, label)`` pairs with the corpus reader."""
    from .corpus import CorpusError, iter_records

    skip = options.pop("skip", ())
    multilabel = options.pop("multilabel")
    kept = [line for line in lines if line.rstrip("\r\n") not in skip]
    out = []
    for rec in iter_records(io.StringIO("".join(kept)), **options):
        if multilabel:
            out.append((rec.text, rec.labels))
        elif len(rec.labels) != 1:
            raise CorpusError(
                f"a document has {len(rec.labels)} labels {rec.labels!r}; "
                "pass multilabel=True for multi-label data"
            )
        else:
            out.append((rec.text, rec.labels[0]))
    return out


def read_labelled_text(
    urlpath: str | Sequence[str],
    *,
    format: str = "csv",
    header: bool = True,
    label_column: int = 0,
    text_column: int = 1,
    label_sep: str | None = None,
    multilabel: bool | None = None,
    blocksize: str | int | None = "64MiB",
    encoding: str = "utf-8",
) -> Any:
    """A ``dask.bag.Bag`` of ``(text, label)`` pairs read and parsed on the workers.

    For ``fit_dask(model, bag)`` on data that does not fit on the driver.  Built on
    ``dask.bag.read_text`` (local paths, globs, or any fsspec URL such as ``s3://``); every
    block of lines is parsed by :func:`bowclf.corpus.iter_records`, so labels and texts are
    cleaned as by the command line.

    Parameters
    ----------
    urlpath : str or list of str
        File(s); compressed files (``.gz``, ``.bz2``, ``.xz``) are one partition each.
    format : {'csv', 'tsv', 'fasttext'}, default='csv'
        CSV/TSV records must be one per line (no newlines inside quoted fields).
    header : bool, default=True
        CSV/TSV: the first line of every file is a header (skipped).
    label_column, text_column : int, default=0, 1
        CSV/TSV columns (0-based) of the labels and the text.
    label_sep : str, optional
        Split label cells into several labels (multi-label).
    multilabel : bool, optional
        Labels are tuples (default: when ``label_sep`` is given); otherwise every document
        must have exactly one label.
    blocksize : str, int or None, default='64MiB'
        Bytes per partition of uncompressed files (``None``: one partition per file).
    encoding : str, default='utf-8'

    Returns
    -------
    dask.bag.Bag
    """
    require_dask()
    import dask.bag as db

    if format not in ("csv", "tsv", "fasttext"):
        raise ValueError(f"format must be 'csv', 'tsv' or 'fasttext', got {format!r}")
    paths = [urlpath] if isinstance(urlpath, str) else list(urlpath)
    kinds = {compression_of_name(pth) for pth in paths}  # fsspec's own guess misses .gzip
    compression = next(iter(kinds)) if len(kinds) == 1 else "infer"
    if kinds != {None}:
        blocksize = None  # compressed streams cannot be split
    options: dict[str, Any] = {"format": format, "encoding": "utf-8"}
    skip: set[str] = set()
    if format != "fasttext":
        options.update(
            delimiter="," if format == "csv" else "\t",
            has_header=False,
            text_column=text_column,
            label_column=label_column,
            label_sep=label_sep,
        )
        if header:
            from fsspec import open_files

            for f in open_files(paths, mode="rt", compression=compression, encoding=encoding):
                with f as stream:
                    skip.add(stream.readline().rstrip("\r\n"))
    options["skip"] = skip
    options["multilabel"] = label_sep is not None if multilabel is None else bool(multilabel)
    lines = db.read_text(paths, blocksize=blocksize, encoding=encoding, compression=compression)
    return lines.map_partitions(lambda part: _records_of(list(part), dict(options)))


# ---------------------------------------------------------------------- prediction
def _pieces(offset: int, length: int, chunk: int, total: int) -> list[tuple[int, int, int, int]]:
    """Split rows ``[offset, offset+length)`` at the global ``chunk`` boundaries.

    Returns ``(start, stop, position, block)``: partition rows ``start:stop`` are rows
    ``position:position+(stop-start)`` of a global block of ``block`` rows.
    """
    out = []
    g = offset
    end = offset + length
    while g < end:
        first = (g // chunk) * chunk
        block = min(chunk, total - first)
        stop = min(end, first + block)
        out.append((g - offset, stop - offset, g - first, block))
        g = stop
    return out


def _predict_partition(part: Any, model: Any, kind: str, geometry: Any) -> Any:
    """Predictions of one partition (runs on a worker)."""
    texts = as_list(part)
    method = model.predict_proba if kind == "proba" else model.predict
    if geometry is None or not texts:
        out = method(texts) if texts else _empty(model, kind)
    else:
        results = []
        for start, stop, position, block in geometry:
            padded = [""] * position + texts[start:stop]
            padded += [""] * (block - len(padded))
            pred = method(padded)
            results.append(pred[position : position + stop - start])
        out = (
            np.concatenate(results)
            if isinstance(results[0], np.ndarray)
            else [x for r in results for x in r]
        )
    if kind == "proba":
        return out
    if hasattr(part, "index") and hasattr(part, "iloc"):  # pandas Series in, Series out
        import pandas as pd

        return pd.Series(list(out) if model.multilabel_ else out, index=part.index, name=part.name)
    return out.tolist() if isinstance(out, np.ndarray) else list(out)


def _empty(model: Any, kind: str) -> Any:
    if kind == "proba":
        return np.zeros((0, len(model.classes_)))
    return np.empty(0, dtype=np.asarray(model.classes_).dtype)


def _prediction_graph(model: Any, texts: Any, kind: str, exact: bool):
    from sklearn.utils.validation import check_is_fitted

    dask = require_dask()
    check_is_fitted(model)
    if not dask.is_dask_collection(texts) or is_dataframe_like(texts):
        raise TypeError("texts must be a dask Bag of str or a dask dataframe Series")
    parts = partitions_of(texts, "texts")
    lengths = None
    geometries: list[Any] = [None] * len(parts)
    if exact:
        lengths = list(dask.compute(*[dask.delayed(len)(p) for p in parts]))
        total = int(sum(lengths))
        offset = 0
        for i, length in enumerate(lengths):
            geometries[i] = _pieces(offset, length, PREDICT_CHUNK, total)
            offset += length
    m = model_key(dask, model)
    task = dask.delayed(_predict_partition, pure=True)
    return [task(p, m, kind, g) for p, g in zip(parts, geometries, strict=True)], lengths


def predict_dask(model: TextClassifier, texts: Any, *, exact: bool = True) -> Any:
    """Predicted labels of distributed documents.

    Parameters
    ----------
    model : TextClassifier
        A fitted model; put into the task graph once.
    texts : dask.bag.Bag of str or dask dataframe Series of str
    exact : bool, default=True
        Also score in the row blocks a local ``model.predict`` on the whole input would use
        (one extra pass computes the partition lengths); every row is scored alone, so the
        results equal a local call either way.

    Returns
    -------
    dask.bag.Bag or dask dataframe Series
        Lazy, partitioned like ``texts``: a Bag of labels (label tuples for multi-label
        models), or a Series with the index of ``texts``.
    """
    dask = require_dask()
    delayed, _ = _prediction_graph(model, texts, "labels", exact)
    if _is_series_like(texts):
        import dask.dataframe as dd
        import pandas as pd

        dtype = object if model.multilabel_ else np.asarray(model.classes_).dtype
        meta = pd.Series(np.empty(0, dtype=dtype), name=texts.name)
        return dd.from_delayed(delayed, meta=meta, divisions=texts.divisions, verify_meta=False)
    import dask.bag as db

    del dask
    return db.from_delayed(delayed)


def predict_proba_dask(model: TextClassifier, texts: Any, *, exact: bool = True) -> Any:
    """Class probabilities of distributed documents as a ``dask.array`` (n×c, float64).

    Chunks follow the partitions of ``texts`` (a Bag of str or a dataframe Series); columns
    follow ``model.classes_``.  The result equals ``model.predict_proba(all documents)``
    byte for byte (every row is scored alone; see :func:`predict_dask`).

    Parameters
    ----------
    model : TextClassifier
        A fitted model; put into the task graph once.
    texts : dask.bag.Bag of str or dask dataframe Series of str
    exact : bool, default=True
        As for :func:`predict_dask`.

    Returns
    -------
    dask.array.Array of shape (n, c)
        Lazy; the row counts of the chunks are unknown (NaN) when ``exact=False``.
    """
    require_dask()
    import dask.array as da

    delayed, lengths = _prediction_graph(model, texts, "proba", exact)
    c = len(model.classes_)
    if lengths is None:
        lengths = [math.nan] * len(delayed)
    blocks = [
        da.from_delayed(d, shape=(length, c), dtype=np.float64)
        for d, length in zip(delayed, lengths, strict=True)
    ]
    return da.concatenate(blocks, axis=0) if blocks else da.zeros((0, c))


def _is_series_like(obj: Any) -> bool:
    return hasattr(obj, "divisions") and getattr(obj, "ndim", None) == 1
