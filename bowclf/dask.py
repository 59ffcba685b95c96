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
   every shard runs the ordinary SGD pass (:func:`bowclf.classifier.sgd_pass`) over its piece
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

With one shard every merge is a copy and training reproduces :meth:`TextClassifier.fit` bit
for bit; with ``K`` shards the result is deterministic for a fixed ``random_state``, ``K``,
``sync_per_epoch``, ``hot_features`` and partitioning (which worker runs which shard, and
timing, do not matter).

Prediction (:func:`predict_dask`, :func:`predict_proba_dask`)
-------------------------------------------------------------
The model is put into the graph once (one key, shipped once per worker) and applied with a
task per partition.  With ``exact=True`` (default) the partition lengths are computed first
and every partition is scored in the row blocks :meth:`TextClassifier.predict_proba` would
use on the whole concatenated input (BLAS results can depend on a matrix's row count), so the
probabilities equal a local call byte for byte.
"""

from __future__ import annotations

import io
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

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

_DTYPE = np.float32
_EXTRA = "pip install 'bowclf[dask]'"
_SPLIT_EVERY = 8  # fan-in of the tree reductions
_MERGE_ROWS = 1 << 16  # parameter rows merged at a time on the driver (bounds float64 temporaries)
_MERGES = ("sum", "average")
_SYNC_DOCS = 64  # default: documents of the largest shard per synchronisation round


# ---------------------------------------------------------------------- dask imports
def _require_dask() -> Any:
    """Import and return the ``dask`` package, or raise an ImportError naming the extra."""
    try:
        import dask
        import dask.bag  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised without dask installed
        raise ImportError(f"bowclf.dask needs Dask, which is not installed: {_EXTRA}") from exc
    return dask


def _require_distributed() -> Any:
    """Import and return ``dask.distributed``, or raise an ImportError naming the extra."""
    _require_dask()
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised without distributed installed
        raise ImportError(
            f"bowclf.dask training needs dask.distributed, which is not installed: {_EXTRA}"
        ) from exc
    return distributed


# ---------------------------------------------------------------------- input partitions
def _is_dataframe_like(obj: Any) -> bool:
    return hasattr(obj, "npartitions") and getattr(obj, "ndim", None) == 2


def _partitions_of(obj: Any, what: str) -> list[Any]:
    """One item per partition: a ``Delayed`` for Dask collections, else the partition itself.

    Accepts a ``dask.bag.Bag``, a dask dataframe Series/Index, or a list/tuple of partitions
    (each a sequence).
    """
    dask = _require_dask()
    if dask.is_dask_collection(obj):
        if _is_dataframe_like(obj):
            raise TypeError(
                f"{what} is a dask DataFrame: pass one column, e.g. df['text'] and df['label']"
            )
        if not hasattr(obj, "to_delayed") or not hasattr(obj, "npartitions"):
            raise TypeError(f"{what}: expected a dask Bag or dataframe Series, got {type(obj)}")
        parts = obj.to_delayed()
        if not isinstance(parts, list):
            parts = list(np.asarray(parts, dtype=object).ravel())
        if len(parts) != obj.npartitions:
            raise TypeError(f"{what}: nested partitions ({type(obj).__name__}) are not supported")
        return parts
    if isinstance(obj, (list, tuple)):
        if isinstance(obj, list) and obj and all(isinstance(p, str) for p in obj):
            raise TypeError(
                f"{what} is a flat list of str: pass a list of partitions (lists of str), "
                "or a dask Bag"
            )
        return list(obj)
    raise TypeError(
        f"{what}: expected a dask Bag, a dask dataframe Series or a list of partitions, "
        f"got {type(obj).__name__}"
    )


def _as_list(part: Any) -> list:
    if part is None:
        return []
    if hasattr(part, "tolist") and not isinstance(part, list):
        return part.tolist()
    return list(part)


def _load_partition(index: int, texts: Any, labels: Any) -> tuple[list[str], list]:
    """``(texts, labels)`` of one partition as lists, checked (runs on a worker)."""
    texts = _as_list(texts)
    if labels is _PAIRS:
        pairs = texts
        texts, labels = [], []
        for j, item in enumerate(pairs):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(
                    f"partition {index}, item {j}: expected a (text, label) pair when "
                    f"labels=None, got {type(item).__name__}"
                )
            texts.append(item[0])
            labels.append(item[1])
    else:
        labels = _as_list(labels)
    if len(texts) != len(labels):
        raise ValueError(
            f"partition {index} has {len(texts)} documents but {len(labels)} labels: "
            "texts and labels must be partitioned alike"
        )
    for j, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"partition {index}, document {j} is {type(t).__name__}, not str")
    return texts, [_plain_label(v) for v in labels]


def _plain_label(v: Any) -> Any:
    """numpy scalars to Python scalars (labels read from pandas), collections to tuples."""
    if isinstance(v, (list, tuple, set, frozenset)):
        return tuple(_plain_label(x) for x in (sorted(v) if isinstance(v, (set, frozenset)) else v))
    return v.item() if isinstance(v, np.generic) else v


class _PairsMarker:
    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return "<(text, label) pairs>"

    def __reduce__(self):
        return (_pairs_marker, ())


def _pairs_marker() -> _PairsMarker:
    return _PAIRS


_PAIRS = _PairsMarker()


# ---------------------------------------------------------------------- vocabulary
def _counting_vectorizer(vectorizer: BowVectorizer) -> BowVectorizer:
    from sklearn.base import clone

    return clone(vectorizer).set_params(min_count=1, max_features=None)


def _count_words(vectorizer: BowVectorizer, texts: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """``(words, counts, n_tokens)`` of one partition (every word, no filtering)."""
    texts = _as_list(texts)
    vec = _counting_vectorizer(vectorizer)
    try:
        vec.fit(texts)
    except ValueError:
        if vec.count_tokens(texts) == 0:  # an empty partition (or one without tokens)
            return np.empty(0, "<U1"), np.empty(0, np.int64), 0
        raise
    return vec.words_, vec.word_counts_, int(vec.n_tokens_)


def _merge_words(*parts: tuple[np.ndarray, np.ndarray, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Sum the word counts of several partitions (a reduction step)."""
    n_tokens = sum(p[2] for p in parts)
    words = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts]).astype(np.int64)
    if words.size == 0:
        return words, counts, n_tokens
    unique, inverse = np.unique(words, return_inverse=True)
    summed = np.zeros(unique.size, np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    return unique, summed, n_tokens


def _install_vocabulary(
    vectorizer: BowVectorizer, words: np.ndarray, counts: np.ndarray, n_tokens: int
) -> BowVectorizer:
    """Apply ``min_count``/``max_features`` exactly as :meth:`BowVectorizer.fit` does."""
    from .vectorizer import STATE_VERSION, _select_vocabulary

    if n_tokens == 0:
        raise ValueError("empty vocabulary: the documents contain no tokens")
    kept, kept_counts = _select_vocabulary(
        words.tolist(), counts, vectorizer.min_count, vectorizer.max_features
    )
    if len(kept) == 0:
        raise ValueError(
            f"empty vocabulary: no token occurs at least min_count={vectorizer.min_count} times"
        )
    return vectorizer.set_fitted_state(
        {
            "version": np.array([STATE_VERSION], np.int64),
            "words": np.array(list(kept), dtype=str),
            "word_counts": kept_counts,
            "n_tokens": np.array([n_tokens], np.int64),
        }
    )


def _used_columns(vectorizer: BowVectorizer, texts: Any) -> np.ndarray:
    X = vectorizer.transform(_as_list(texts))
    return np.unique(X.indices).astype(np.int64)


def _union(*arrays: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate(arrays)) if arrays else np.empty(0, np.int64)


def _merge_df(*pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse ``(columns, document frequencies)`` of several partitions."""
    columns = np.concatenate([p[0] for p in pairs])
    counts = np.concatenate([p[1] for p in pairs]).astype(np.int64)
    unique, inverse = np.unique(columns, return_inverse=True)
    summed = np.zeros(unique.size, np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    return unique, summed


def _tree_reduce(items: list, combine: Callable, submit: Callable) -> Any:
    """Reduce ``items`` with ``combine`` in a tree of fan-in :data:`_SPLIT_EVERY`."""
    if not items:
        raise ValueError("no partitions")
    while len(items) > 1:
        items = [
            submit(combine, *items[i : i + _SPLIT_EVERY])
            for i in range(0, len(items), _SPLIT_EVERY)
        ]
    return items[0]


def _check_vectorizer(vectorizer: BowVectorizer) -> None:
    vectorizer._validate_params()
    vectorizer._check_params()


def fit_vectorizer_dask(vectorizer: BowVectorizer, texts: Any, *, client: Any = None):
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
    dask = _require_dask()
    _check_vectorizer(vectorizer)
    parts = _partitions_of(texts, "texts")
    vec = _model_key(dask, _counting_vectorizer(vectorizer))
    counted = [dask.delayed(_count_words)(vec, p) for p in parts]
    total = _tree_reduce(counted, _merge_words, lambda f, *a: dask.delayed(f)(*a))
    words, counts, n_tokens = _compute(dask, client, total)
    return _install_vocabulary(vectorizer, words, counts, n_tokens)


def used_columns_dask(vectorizer: BowVectorizer, texts: Any, *, client: Any = None) -> np.ndarray:
    """Sorted feature columns of a fitted ``vectorizer`` that occur in ``texts``.

    The union over partitions of the columns used by ``vectorizer.transform(partition)``
    (what ``TextClassifier(prune_features=True)`` keeps).
    """
    dask = _require_dask()
    parts = _partitions_of(texts, "texts")
    vec = _model_key(dask, vectorizer)
    used = [dask.delayed(_used_columns)(vec, p) for p in parts]
    total = _tree_reduce(used, _union, lambda f, *a: dask.delayed(f)(*a))
    return _compute(dask, client, total)


def _compute(dask: Any, client: Any, obj: Any) -> Any:
    if client is not None:
        return client.compute(obj).result()
    return dask.compute(obj)[0]


# ---------------------------------------------------------------------- label statistics
def _label_kind(labels: list, index: int) -> bool | None:
    """True for label collections, False for single labels, None for an empty partition."""
    if not labels:
        return None
    flags = [isinstance(v, tuple) for v in labels]
    if all(flags):
        return True
    if not any(flags):
        return False
    raise ValueError(
        f"partition {index} mixes label collections and single labels: give every document "
        "a single label, or every document a tuple/list of labels"
    )


def _partition_stats(index: int, part: tuple[list[str], list], vectorizer: BowVectorizer) -> dict:
    """Word counts, label counts and sizes of one partition (runs on a worker)."""
    texts, labels = part
    kind = _label_kind(labels, index)
    label_counts: Counter = Counter()
    n_label_items = 0
    unlabelled = 0
    if kind:
        for labs in labels:
            distinct = set(labs)
            label_counts.update(distinct)
            n_label_items += len(distinct)
            unlabelled += not distinct
    else:
        label_counts.update(labels)
        n_label_items = len(labels)
    words, counts, n_tokens = _count_words(vectorizer, texts)
    return {
        "n": len(texts),
        "kinds": set() if kind is None else {kind},
        "labels": label_counts,
        "label_items": n_label_items,
        "unlabelled": unlabelled,
        "words": (words, counts, n_tokens),
    }


def _merge_stats(*stats: dict) -> dict:
    labels: Counter = Counter()
    for s in stats:
        labels.update(s["labels"])
    return {
        "n": sum(s["n"] for s in stats),
        "kinds": set().union(*(s["kinds"] for s in stats)),
        "labels": labels,
        "label_items": sum(s["label_items"] for s in stats),
        "unlabelled": sum(s["unlabelled"] for s in stats),
        "words": _merge_words(*(s["words"] for s in stats)),
    }


# ---------------------------------------------------------------------- transform
def _partition_features(
    part: tuple[list[str], list], vectorizer: BowVectorizer, classes: np.ndarray, multilabel: bool
) -> dict:
    """Counts (all vectorizer columns) and CSR targets of one partition (runs on a worker)."""
    texts, labels = part
    X = vectorizer.transform(texts)
    n, c = len(texts), classes.size
    if multilabel:
        rows = [
            np.unique(np.searchsorted(classes, np.asarray(list(labs))))
            if labs
            else np.empty(0, np.intp)
            for labs in labels
        ]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum([r.size for r in rows], out=indptr[1:])
        indices = np.concatenate(rows) if rows else np.empty(0, np.int64)
        codes = None
    else:
        codes = np.searchsorted(classes, np.asarray(labels)) if n else np.empty(0, np.int64)
        indices, indptr = codes, np.arange(n + 1)
    Y = sp.csr_array((np.ones(indices.size, _DTYPE), indices, indptr), shape=(n, c))
    return {
        "X": X,
        "Y": Y,
        "codes": codes,
        "df": np.unique(X.indices.astype(np.int64), return_counts=True),
        "nnz": int(X.nnz),
        "tokens": int(X.data.astype(np.int64).sum()),
    }


def _get(d: dict, key: str) -> Any:
    return d[key]


# ---------------------------------------------------------------------- shard actor
class _ShardTrainer:
    """One data shard and a replica of the parameters, living on a worker (a Dask actor)."""

    def __init__(self, shard: int, parts: list[dict], featurizer: Any, config: dict) -> None:
        from .classifier import _canonical_int_dtype, prepare_counts, prepare_targets

        self.shard = shard
        self.config = config
        Xs = [featurizer.classifier_input(p["X"]) for p in parts]
        X = sp.csr_array(sp.vstack(Xs, format="csr")) if len(Xs) > 1 else Xs[0]
        Ys = [p["Y"] for p in parts]
        Y = sp.csr_array(sp.vstack(Ys, format="csr")) if len(Ys) > 1 else Ys[0]
        self.X = _canonical_int_dtype(prepare_counts(X, config["normalize"]))
        self.Y = prepare_targets(Y, loss=config["loss"], multilabel=config["multilabel"])
        cw = config["class_weight"]
        if cw is None:
            self.w = np.ones(self.X.shape[0], _DTYPE)
        else:
            codes = np.concatenate([p["codes"] for p in parts])
            self.w = np.asarray(cw, dtype=np.float64)[codes].astype(_DTYPE)
        self.n = self.X.shape[0]
        self.W, self.B, rng = _initial_parameters(config)
        self.rng = np.random.Generator(rng.bit_generator.jumped(shard))
        self.bounds = _piece_bounds(self.n, config["sync_per_epoch"], config["batch_size"])
        self.hot = np.zeros(self.W.shape[0], bool)
        self.hot[config["hot"]] = True
        self.pending = np.zeros(self.W.shape[0], bool)  # cold rows touched since the last merge
        self.shared = np.ones(self.W.shape[0], bool)
        self.private = np.empty(0, np.intp)
        self.examples_since = 0
        self._epoch: tuple = (-1, None, None, None)

    def columns(self) -> np.ndarray:
        """The feature columns of this shard's documents (the rows it touches every epoch)."""
        return np.unique(self.X.indices)

    def set_shared(self, shared: np.ndarray) -> None:
        """Rows outside ``shared`` (and not hot) occur in this shard only: never merged."""
        self.shared = np.asarray(shared, bool)
        own = self.columns()
        self.private = own[~self.shared[own] & ~self.hot[own]]

    def private_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows only this shard trains, with their current values."""
        return self.private, self.W[self.private]

    def step(self, update: dict | None, epoch: int, piece: int) -> dict:
        """Apply the merged rows of the last round, train on one piece, report the changes.

        Returns the examples trained (``m``), loss sums, the touched hot rows and ``B``, and
        after the last piece of the epoch also every cold row touched during the epoch.
        """
        from .classifier import _canonical_int_dtype, sgd_pass
        from .optim import LinearDecay

        if update is not None:
            for rows, values in update["rows"]:
                self.W[rows] = values
            self.B[...] = update["B"]
        if self._epoch[0] != epoch:
            order = self.rng.permutation(self.n)
            self._epoch = (epoch, _canonical_int_dtype(self.X[order]), self.Y[order], self.w[order])
        _, Xe, Ye, we = self._epoch
        a, b = self.bounds[piece], self.bounds[piece + 1]
        cfg = self.config
        out: dict[str, Any] = {"m": b - a, "loss": 0.0, "weight": 0.0, "nnz": 0, "lr": None}
        hot_rows = np.empty(0, np.intp)
        if b > a:
            n_total = cfg["n"]
            schedule = LinearDecay(cfg["lr"], cfg["epochs"] * n_total)
            stride = n_total / self.n  # this shard's examples interleaved with the others'
            start = epoch * n_total

            def lr_at(i: int) -> float:
                return schedule(start + (a + i) * stride)

            X = _canonical_int_dtype(Xe[a:b])
            out["loss"], out["weight"] = sgd_pass(
                self.W,
                self.B,
                X,
                Ye[a:b],
                we[a:b],
                loss=cfg["loss"],
                batch_size=cfg["batch_size"],
                lr_at=lr_at,
            )
            out["nnz"], out["lr"] = int(X.nnz), lr_at(b - a)
            touched = np.zeros(self.W.shape[0], bool)
            touched[X.indices] = True
            hot_rows = np.flatnonzero(touched & self.hot)
            self.pending |= touched & ~self.hot
            self.examples_since += b - a
        out["hot"] = (hot_rows, self.W[hot_rows])
        out["B"] = self.B.copy()
        if piece + 1 == len(self.bounds) - 1:  # end of the epoch: the shared cold rows
            cold_rows = np.flatnonzero(self.pending & self.shared)
            out["cold"] = (cold_rows, self.W[cold_rows])
            out["m_cold"] = self.examples_since
            self.pending[:] = False
            self.examples_since = 0
            self._epoch = (epoch, None, None, None)  # free the shuffled copy
        return out


def _initial_parameters(config: dict) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """``W = Aᵀ``, ``B`` and the random stream after initialisation, as in ``fit``."""
    from .classifier import BowClassifier

    clf = BowClassifier(dim=config["dim"])
    clf.classes_ = np.arange(config["n_classes"])
    rng = np.random.default_rng(config["seed"])
    clf._initialize(config["n_features"], rng)
    W = clf.A_.T
    if config["A_init"] is not None:
        columns, vectors = config["A_init"]
        W[columns] = vectors
    return W, clf.B_, rng


def _piece_bounds(n: int, pieces: int, batch_size: int) -> list[int]:
    """Row boundaries of ``pieces`` consecutive pieces, cut at multiples of ``batch_size``."""
    cuts = [min(n, round(n * r / pieces / batch_size) * batch_size) for r in range(pieces)]
    return [*cuts, n]


def _merge_rows(
    W: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], m: list[int], merge: str
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Merge the shards' values of the rows they touched into ``W`` (in place).

    ``pairs[k] = (rows, values)`` holds shard k's sorted touched rows and their values and
    ``m[k]`` its examples since these rows were last merged.  For a row touched by the set
    ``S`` of shards, with ``a_k = m_k / Σm`` and ``W`` the row's last merged value::

        sum:      W + Σ_{k∈S} (W_k − W)  =  (1 − |S|)·W + Σ_{k∈S} W_k
        average:  (1 − Σ_{k∈S} a_k)·W + Σ_{k∈S} a_k·W_k

    computed in float64 and rounded to float32 (a row touched by one shard becomes that
    shard's value exactly under 'sum', and under 'average' when one shard trained).

    Returns the merged rows, their new values and, per shard, the positions (into the merged
    rows) it must be sent: under 'sum' the rows some other shard touched (a shard already
    holds the merged value of the rows only it touched), under 'average' all of them.
    """
    total = sum(m)
    weights = [mk / total if total else 0.0 for mk in m]
    mask = np.zeros(W.shape[0], bool)
    for rows, _ in pairs:
        mask[rows] = True
    union = np.flatnonzero(mask)
    positions = [np.searchsorted(union, rows) for rows, _ in pairs]
    count = np.zeros(union.size, np.int64)
    present = np.zeros(union.size)
    for pos, a in zip(positions, weights, strict=True):
        count[pos] += 1
        present[pos] += a
    merged = np.empty((union.size, W.shape[1]), W.dtype)
    if merge == "sum":  # a row touched by one shard takes its value; arithmetic for the rest
        for pos, (_, values) in zip(positions, pairs, strict=True):
            single = count[pos] == 1
            merged[pos[single]] = values[single]
        mixed = np.flatnonzero(count >= 2)
    else:
        mixed = np.arange(union.size)
    index = np.full(union.size, -1, np.int64)  # position among the mixed rows
    index[mixed] = np.arange(mixed.size)
    contributions = []
    for pos, (_, values), a in zip(positions, pairs, weights, strict=True):
        q = index[pos]
        keep = q >= 0
        contributions.append((q[keep], values[keep] if not keep.all() else values, a))
    for s in range(0, mixed.size, _MERGE_ROWS):
        e = min(s + _MERGE_ROWS, mixed.size)
        rows = mixed[s:e]
        old = W[union[rows]].astype(np.float64)
        if merge == "sum":
            acc = (1.0 - count[rows])[:, None] * old
        else:
            acc = np.maximum(1.0 - present[rows], 0.0)[:, None] * old
        for q, values, a in contributions:
            lo, hi = np.searchsorted(q, [s, e])
            part = values[lo:hi].astype(np.float64)
            acc[q[lo:hi] - s] += part if merge == "sum" else a * part
        merged[rows] = acc
    W[union] = merged
    sends = []
    for pos in positions:
        if merge == "sum":
            own = np.zeros(union.size, np.int64)
            own[pos] = 1
            sends.append(np.flatnonzero(count - own > 0))
        else:
            sends.append(np.arange(union.size))
    return union, merged, sends


def _merge_B(B: np.ndarray, results: list[dict], merge: str) -> None:
    """Merge ``B`` in place over the shards that trained in the round (same rules)."""
    active = [r for r in results if r["m"] > 0]
    if not active:
        return
    if merge == "sum":
        acc = (1.0 - len(active)) * B.astype(np.float64)
        for r in active:
            acc += r["B"]
    else:
        total = sum(r["m"] for r in active)
        acc = np.zeros(B.shape)
        for r in active:
            acc += (r["m"] / total) * r["B"].astype(np.float64)
    B[...] = acc


# ---------------------------------------------------------------------- training
def _get_client(client: Any, scheduler_address: str | None) -> tuple[Any, bool]:
    distributed = _require_distributed()
    if client is not None and scheduler_address is not None:
        raise ValueError("pass either client or scheduler_address, not both")
    if client is not None:
        return client, False
    if scheduler_address is not None:
        return distributed.Client(scheduler_address), True
    try:
        return distributed.get_client(), False
    except ValueError:
        raise ValueError(
            "no Dask client: pass client=Client(...) or scheduler_address='tcp://host:8786', "
            "or create a dask.distributed.Client first"
        ) from None


def _workers(client: Any) -> list[str]:
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # older distributed
        info = client.scheduler_info()
    workers = sorted(info["workers"])
    if not workers:
        client.wait_for_workers(1)
        return _workers(client)
    return workers


def _load_futures(client: Any, texts: Any, labels: Any) -> list:
    """Futures of ``(texts, labels)`` per partition, held in cluster memory."""
    dask = _require_dask()
    from distributed import Future

    if isinstance(texts, list) and texts and all(isinstance(f, Future) for f in texts):
        return texts  # already loaded (fit_dask_file)
    tparts = _partitions_of(texts, "texts")
    lparts = [_PAIRS] * len(tparts) if labels is None else _partitions_of(labels, "labels")
    if len(lparts) != len(tparts):
        raise ValueError(
            f"texts have {len(tparts)} partitions but labels {len(lparts)}: "
            "partition them alike (e.g. two columns of one dask DataFrame)"
        )
    if tparts and not any(dask.is_dask_collection(p) for p in (*tparts, *lparts)):
        local = [
            _load_partition(i, t, lab)
            for i, (t, lab) in enumerate(zip(tparts, lparts, strict=True))
        ]
        return client.scatter(local, hash=False)
    load = dask.delayed(_load_partition, pure=True)
    return client.compute(
        [load(i, t, lab) for i, (t, lab) in enumerate(zip(tparts, lparts, strict=True))]
    )


def _class_weights(model: TextClassifier, classes: np.ndarray, counts: Counter, n: int):
    if model.class_weight is None:
        return None
    if model.class_weight == "balanced":
        freq = np.array([counts[c] for c in classes.tolist()], dtype=np.float64)
        return n / (classes.size * freq)
    return np.array([model.class_weight.get(c, 1.0) for c in classes.tolist()], np.float64)


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

    _require_distributed()
    if not isinstance(model, TextClassifier):
        raise TypeError("fit_dask trains a TextClassifier")
    model._validate_params()
    if merge not in _MERGES:
        raise ValueError(f"merge must be one of {_MERGES}, got {merge!r}")
    if sync_per_epoch is not None and (not isinstance(sync_per_epoch, int) or sync_per_epoch < 1):
        raise ValueError(f"sync_per_epoch must be a positive integer, got {sync_per_epoch!r}")
    if not isinstance(hot_features, int) or hot_features < 0:
        raise ValueError(f"hot_features must be a non-negative integer, got {hot_features!r}")
    if n_shards is not None and (not isinstance(n_shards, int) or n_shards < 1):
        raise ValueError(f"n_shards must be a positive integer, got {n_shards!r}")
    if model.early_stopping and X_val is None:
        raise ValueError("early_stopping with fit_dask needs X_val and y_val")
    client, own = _get_client(client, scheduler_address)
    try:
        return _fit(
            model,
            client,
            texts,
            labels,
            n_shards=n_shards,
            sync_per_epoch=sync_per_epoch,
            merge=merge,
            hot_features=hot_features,
            X_val=X_val,
            y_val=y_val,
            callback=callback,
        )
    finally:
        if own:
            client.close()


def _fit(
    model,
    client,
    texts,
    labels,
    *,
    n_shards,
    sync_per_epoch,
    merge,
    hot_features,
    X_val,
    y_val,
    callback,
):
    from sklearn.preprocessing import LabelEncoder, MultiLabelBinarizer
    from sklearn.utils.multiclass import check_classification_targets

    from .classifier import (
        TrainingDivergedError,
        _seed_from,
        multilabel_decision_rule,
        resolve_epochs,
    )

    started = time.perf_counter()
    workers = _workers(client)
    vectorizer = model._make_vectorizer()
    _check_vectorizer(vectorizer)

    # Pass 1: load the partitions, count words and labels.
    parts = _load_futures(client, texts, labels)
    if not parts:
        raise ValueError("no partitions")
    counting = client.scatter(_counting_vectorizer(vectorizer), broadcast=True, hash=False)
    stats = [
        client.submit(_partition_stats, i, p, counting, pure=False) for i, p in enumerate(parts)
    ]
    sizes = client.gather([client.submit(_get, s, "n", pure=False) for s in stats])
    total = _tree_reduce(stats, _merge_stats, lambda f, *a: client.submit(f, *a, pure=False))
    total = total.result()
    del stats, counting
    n = total["n"]
    if n == 0:
        raise ValueError("the partitions contain no documents")
    if len(total["kinds"]) > 1:
        raise ValueError(
            "some partitions have label collections and others single labels: give every "
            "document a single label, or every document a tuple/list of labels"
        )
    multilabel = total["kinds"] == {True}
    if multilabel:
        classes = np.asarray(sorted(total["labels"]))
        if model.class_weight is not None:
            raise ValueError("class_weight is not supported for multi-label targets")
    else:
        classes = np.unique(np.asarray(list(total["labels"])))
        check_classification_targets(classes)
    if classes.size < 2:
        raise ValueError(
            f"The target y contains only one class ({classes.tolist()}): "
            "a classifier needs at least 2 classes."
        )
    _install_vocabulary(vectorizer, *total["words"])
    pass1 = time.perf_counter() - started
    if callback is not None:
        callback({"event": "pass", "pass": 1, "documents": n, "seconds": pass1})

    # Pass 2: transform every partition once; union of the used columns.
    t2 = time.perf_counter()
    fitted = client.scatter(vectorizer, broadcast=True, hash=False)
    feats = [
        client.submit(_partition_features, p, fitted, classes, multilabel, pure=False)
        for p in parts
    ]
    del parts
    used, df = _tree_reduce(
        [client.submit(_get, f, "df", pure=False) for f in feats],
        _merge_df,
        lambda f, *a: client.submit(f, *a, pure=False),
    ).result()
    nnz = sum(client.gather([client.submit(_get, f, "nnz", pure=False) for f in feats]))
    tokens = sum(client.gather([client.submit(_get, f, "tokens", pure=False) for f in feats]))
    width = int(vectorizer.n_features_out_)
    columns = used if model.prune_features and used.size < width else None
    model.vectorizer_ = vectorizer
    model._set_feature_columns(columns, width)
    p = width if columns is None else int(columns.size)
    if columns is None:  # document frequency of every classifier column
        df = np.bincount(used, weights=df, minlength=width)
    model._set_idf(df, n)
    hot = np.sort(np.argsort(-df, kind="stable")[:hot_features])
    pass2 = time.perf_counter() - t2
    if callback is not None:
        callback({"event": "pass", "pass": 2, "documents": n, "seconds": pass2, "features": nnz})

    # The classifier on the driver holds the master parameters.
    clf = model._make_classifier()
    seed = _seed_from(clf.random_state)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    clf.multilabel_ = multilabel
    clf.classes_ = np.arange(classes.size) if multilabel else classes
    clf.n_features_in_ = p
    if not multilabel:
        clf._label_encoder = LabelEncoder()
        clf._label_encoder.classes_ = classes
    A_init = None
    if model.pretrained_vectors is not None:
        A_init = model._pretrained_columns()

    # Shards: non-empty partitions dealt round-robin, one actor per shard.
    nonempty = [i for i, s in enumerate(sizes) if s > 0]
    K = min(n_shards or len(workers), len(nonempty))
    if sync_per_epoch is None:
        largest = max(sum(sizes[i] for i in nonempty[k::K]) for k in range(K))
        sync_per_epoch = max(1, math.ceil(largest / _SYNC_DOCS))
    config = {
        "dim": clf.dim,
        "n_classes": int(classes.size),
        "n_features": p,
        "seed": seed,
        "A_init": A_init,
        "normalize": clf.normalize,
        "loss": clf.loss,
        "multilabel": multilabel,
        "class_weight": _class_weights(model, classes, total["labels"], n),
        "lr": float(clf.lr),
        "epochs": resolve_epochs(clf.epochs, n),
        "batch_size": int(clf.batch_size),
        "sync_per_epoch": sync_per_epoch,
        "n": n,
        "hot": hot,
    }
    W, B, _ = _initial_parameters(config)
    clf.A_, clf.B_, clf.t_ = W.T, B, 0
    clf.threshold_, clf.top_label_ = multilabel_decision_rule(
        clf.threshold,
        clf.loss,
        multilabel,
        mean_labels=total["label_items"] / n,
        every_row_labelled=total["unlabelled"] == 0,
    )
    clf.loss_curve_, clf.validation_scores_, clf.best_validation_score_ = [], [], None
    clf.n_iter_ = 0
    val = _validation(model, classes, multilabel, X_val, y_val) if X_val is not None else None

    featurizer = client.scatter(_Featurizer(model), broadcast=True, hash=False)
    actor_futures = [
        client.submit(
            _ShardTrainer,
            k,
            [feats[i] for i in nonempty[k::K]],
            featurizer,
            config,
            workers=[workers[k % len(workers)]],
            allow_other_workers=True,
            actor=True,
        )
        for k in range(K)
    ]
    try:
        actors = [f.result() for f in actor_futures]
        del feats, featurizer
        presence = np.zeros(p, np.int64)
        for cols in [c.result() for c in [a.columns() for a in actors]]:
            presence[cols] += 1
        shared = presence >= 2 if merge == "sum" else np.ones(p, bool)
        for call in [a.set_shared(shared) for a in actors]:
            call.result()
        t3 = time.perf_counter()
        _train_rounds(clf, actors, config, merge, val, callback, TrainingDivergedError)
        epochs_seconds = time.perf_counter() - t3
    finally:
        del actor_futures
    model.classifier_ = clf
    model.multilabel_ = multilabel
    if multilabel:
        model._binarizer = MultiLabelBinarizer(classes=classes.tolist()).fit([])
        model.classes_ = classes
    else:
        model._binarizer = None
        model.classes_ = clf.classes_
    model.training_summary_ = model._summary(
        documents=n,
        features=nnz,
        tokens=tokens,
        columns=p,
        started=started,
        distributed={
            "workers": len(workers),
            "partitions": len(sizes),
            "shards": K,
            "sync_per_epoch": sync_per_epoch,
            "merge": merge,
            "hot_features": int(hot.size),
            "pass_seconds": [round(pass1, 3), round(pass2, 3)],
            "epoch_seconds": round(epochs_seconds, 3),
        },
    )
    return model


class _Featurizer:
    """The column selection and term weighting of a model with fitted features (pickled to
    the workers): vectorizer counts in, classifier input out."""

    def __init__(self, model: TextClassifier) -> None:
        self.feature_columns_ = model.feature_columns_
        self._column_lookup = model._column_lookup
        self.idf_ = model.idf_
        self.sublinear_tf = model.sublinear_tf

    def classifier_input(self, X: sp.csr_array) -> sp.csr_array:
        from .text import TextClassifier

        X = TextClassifier._select_columns(self, X)  # type: ignore[arg-type]
        return TextClassifier._weigh(self, X)  # type: ignore[arg-type]


def _validation(model, classes, multilabel, X_val, y_val):
    Xv = model._features(X_val)
    if multilabel:
        mlb_classes = classes.tolist()
        from sklearn.preprocessing import MultiLabelBinarizer

        Yv = MultiLabelBinarizer(classes=mlb_classes).fit([]).transform(list(y_val))
        return Xv, sp.csr_array(np.asarray(Yv, dtype=_DTYPE))
    yv = np.asarray(y_val)
    unknown = set(np.unique(yv).tolist()) - set(classes.tolist())
    if unknown:
        raise ValueError(f"validation labels not in the training data: {sorted(unknown)[:5]}")
    codes = np.searchsorted(classes, yv)
    Yv = sp.csr_array(
        (np.ones(codes.size, _DTYPE), codes, np.arange(codes.size + 1)),
        shape=(codes.size, classes.size),
    )
    return Xv, Yv


def _train_rounds(clf, actors, config, merge, val, callback, diverged_error) -> None:
    """The driver's loop: rounds of (train on every shard, merge, send back)."""
    W, B = clf.A_.T, clf.B_
    epochs, R = config["epochs"], config["sync_per_epoch"]
    pulled = False
    t0 = time.perf_counter()
    best = (-np.inf, None)
    no_improve = 0
    features = 0
    updates: list[dict] | None = None
    for epoch in range(epochs):
        loss_sum = weight_sum = 0.0
        for r in range(R):
            calls = [
                actor.step(None if updates is None else updates[k], epoch, r)
                for k, actor in enumerate(actors)
            ]
            try:
                results = [c.result() for c in calls]
            except diverged_error:
                clf._forget_fit()
                raise diverged_error(
                    f"training diverged (loss exploded at epoch {epoch + 1}) with "
                    f"lr={clf.lr:g}: lower the learning rate (e.g. lr={clf.lr / 10:g})"
                ) from None
            _merge_B(B, results, merge)
            merges = [_merge_rows(W, [x["hot"] for x in results], [x["m"] for x in results], merge)]
            if r == R - 1:  # end of the epoch: the cold rows too
                merges.append(
                    _merge_rows(
                        W, [x["cold"] for x in results], [x["m_cold"] for x in results], merge
                    )
                )
            updates = [
                {
                    "rows": [(rows[send[k]], values[send[k]]) for rows, values, send in merges],
                    "B": B.copy(),
                }
                for k in range(len(actors))
            ]
            done = [x for x in results if x["m"] > 0]
            loss_sum += sum(x["loss"] for x in done)
            weight_sum += sum(x["weight"] for x in done)
            features += sum(x["nnz"] for x in done)
            clf.t_ += sum(x["m"] for x in done)
            if callback is not None and done:
                callback(
                    _progress(
                        "batch",
                        epoch,
                        epochs,
                        (epoch * R + r + 1) / (epochs * R),
                        loss_sum / max(weight_sum, 1e-12),
                        min(x["lr"] for x in done),
                        clf.t_,
                        features,
                        t0,
                    )
                )
        epoch_loss = loss_sum / max(weight_sum, 1e-12)
        clf.loss_curve_.append(epoch_loss)
        clf.n_iter_ = epoch + 1
        val_score = None
        pulled = False
        if val is not None:
            _pull_private(W, actors)
            pulled = True
            val_score = clf._score_targets(*val)
            clf.validation_scores_.append(val_score)
            if val_score > best[0] + clf.tol:
                best = (val_score, (W.copy(), B.copy()) if clf.early_stopping else None)
                no_improve = 0
            else:
                no_improve += 1
            clf.best_validation_score_ = max(clf.validation_scores_)
        if callback is not None:
            info = _progress(
                "epoch",
                epoch,
                epochs,
                (epoch + 1) / epochs,
                epoch_loss,
                None,
                clf.t_,
                features,
                t0,
            )
            info["val_score"] = val_score
            callback(info)
        if clf.verbose:
            extra = "" if val_score is None else f", validation score {val_score:.4f}"
            print(f"-- Epoch {epoch + 1}/{epochs}: loss {epoch_loss:.4f}{extra}", flush=True)
        if clf.early_stopping and val is not None and no_improve >= clf.n_iter_no_change:
            break
    if not pulled:
        _pull_private(W, actors)
    if clf.early_stopping and best[1] is not None:
        W[...] = best[1][0]
        B[...] = best[1][1]


def _pull_private(W: np.ndarray, actors: list) -> None:
    """Copy the rows only one shard trains (never merged) into the driver's parameters."""
    for rows, values in [c.result() for c in [a.private_rows() for a in actors]]:
        W[rows] = values


def _progress(event, epoch, epochs, progress, loss, lr, examples, features, t0) -> dict:
    seconds = time.perf_counter() - t0
    return {
        "event": event,
        "epoch": epoch + 1,
        "epochs": epochs,
        "progress": min(progress, 1.0),
        "loss": loss,
        "lr": lr,
        "examples": examples,
        "features": int(features),
        "seconds": seconds,
        "features_per_second": features / seconds if seconds > 0 else 0.0,
    }


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

    The file is read on the driver with :func:`bowclf.corpus.iter_chunks` (twice: once to
    count documents and labels, once to send ``partitions`` equal partitions to the workers),
    so it must be readable where the driver runs.  For data that does not fit on the driver,
    read it on the workers instead: ``fit_dask(model, read_labelled_text('data/*.csv'))``.

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
    from .corpus import CorpusError, iter_chunks

    corpus_kw = dict(corpus_kw or {})
    client, own = _get_client(client, scheduler_address)
    try:
        n_docs, multi = 0, False
        for _, labels in iter_chunks(path, chunk_size=10_000, **corpus_kw):
            n_docs += len(labels)
            multi = multi or any(len(labs) != 1 for labs in labels)
        if n_docs == 0:
            raise CorpusError(f"{path}: contains no documents")
        multilabel = multi or corpus_kw.get("label_sep") is not None
        n_parts = partitions or len(_workers(client))
        size = max(1, math.ceil(n_docs / n_parts))
        futures = []
        read = 0
        for texts, labels in iter_chunks(path, chunk_size=size, **corpus_kw):
            labs = list(labels) if multilabel else [lab[0] for lab in labels]
            futures.append(client.scatter([(texts, labs)], hash=False)[0])
            read += len(texts)
        if read != n_docs:
            raise CorpusError(f"{path}: the file changed while it was being read")
        return fit_dask(model, futures, client=client, **fit_kw)
    finally:
        if own:
            client.close()


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
    _require_dask()
    import dask.bag as db

    if format not in ("csv", "tsv", "fasttext"):
        raise ValueError(f"format must be 'csv', 'tsv' or 'fasttext', got {format!r}")
    paths = [urlpath] if isinstance(urlpath, str) else list(urlpath)
    if any(str(pth).endswith((".gz", ".bz2", ".xz")) for pth in paths):
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

            for f in open_files(paths, mode="rt", compression="infer", encoding=encoding):
                with f as stream:
                    skip.add(stream.readline().rstrip("\r\n"))
    options["skip"] = skip
    options["multilabel"] = label_sep is not None if multilabel is None else bool(multilabel)
    lines = db.read_text(paths, blocksize=blocksize, encoding=encoding)
    return lines.map_partitions(lambda part: _records_of(list(part), dict(options)))


# ---------------------------------------------------------------------- prediction
def _model_key(dask: Any, model: Any) -> Any:
    """``model`` as one graph input: scattered to every worker once when a distributed client
    is active, else a single graph key (never copied into every task)."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return dask.delayed(model, name=f"bowclf-model-{uuid.uuid4().hex}", traverse=False)
    return client.scatter(model, broadcast=True, hash=False)


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
    texts = _as_list(part)
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

    from .classifier import _PREDICT_CHUNK

    dask = _require_dask()
    check_is_fitted(model)
    if not dask.is_dask_collection(texts) or _is_dataframe_like(texts):
        raise TypeError("texts must be a dask Bag of str or a dask dataframe Series")
    parts = _partitions_of(texts, "texts")
    lengths = None
    geometries: list[Any] = [None] * len(parts)
    if exact:
        lengths = list(dask.compute(*[dask.delayed(len)(p) for p in parts]))
        total = int(sum(lengths))
        offset = 0
        for i, length in enumerate(lengths):
            geometries[i] = _pieces(offset, length, _PREDICT_CHUNK, total)
            offset += length
    m = _model_key(dask, model)
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
        Score in the row blocks a local ``model.predict`` on the whole input would use (one
        extra pass computes the partition lengths), so results equal it exactly.

    Returns
    -------
    dask.bag.Bag or dask dataframe Series
        Lazy, partitioned like ``texts``: a Bag of labels (label tuples for multi-label
        models), or a Series with the index of ``texts``.
    """
    dask = _require_dask()
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
    follow ``model.classes_``.  With ``exact=True`` (default) the result equals
    ``model.predict_proba(all documents)`` byte for byte (see :func:`predict_dask`).
    """
    _require_dask()
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
