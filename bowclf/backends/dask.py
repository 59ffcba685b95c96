"""The Dask backend: partitioned documents trained as merged replicas on shard actors.

The scheme (local SGD on shards, merged every few batches) is described in :mod:`bowclf.dask`,
the public face of this module; here are the map/reduce steps over the partitions, the shard
actor (:class:`_ShardTrainer`), the merge rules and the training source (:class:`DaskData`).
"""

from __future__ import annotations

import copy
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from .. import _math
from .._json import plain
from ..losses import Loss
from ..overfit_probe import held_out
from ..targets import check_target_type, warn_if_labels_are_distinct
from ..training import (
    CorpusStats,
    Epoch,
    Setup,
    canonical_int_dtype,
    fill_initial,
    initial_parameters,
    prepare_counts,
    sgd_pass,
)
from .replica_merge import merge_B, merge_optimizer_states, merge_rows

if TYPE_CHECKING:  # pragma: no cover
    from ..inference import FeatureMap
    from ..vectorizer import BowVectorizer

_DTYPE = np.float32
_EXTRA = "pip install 'bowclf[dask]'"
_SPLIT_EVERY = 8  # fan-in of the tree reductions
MERGES = ("sum", "average")
_SYNC_DOCS = 64  # default: documents of the largest shard per synchronisation round


# ---------------------------------------------------------------------- dask imports
def require_dask() -> Any:
    """Import and return the ``dask`` package, or raise an ImportError naming the extra."""
    try:
        import dask
        import dask.bag  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised without dask installed
        raise ImportError(f"bowclf.dask needs Dask, which is not installed: {_EXTRA}") from exc
    return dask


def require_distributed() -> Any:
    """Import and return ``dask.distributed``, or raise an ImportError naming the extra."""
    require_dask()
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised without distributed installed
        raise ImportError(
            f"bowclf.dask training needs dask.distributed, which is not installed: {_EXTRA}"
        ) from exc
    return distributed


# ---------------------------------------------------------------------- input partitions
def is_dataframe_like(obj: Any) -> bool:
    """Whether ``obj`` is a partitioned two-dimensional collection (a dask DataFrame)."""
    return hasattr(obj, "npartitions") and getattr(obj, "ndim", None) == 2


def partitions_of(obj: Any, what: str) -> list[Any]:
    """One item per partition: a ``Delayed`` for Dask collections, else the partition itself.

    Accepts a ``dask.bag.Bag``, a dask dataframe Series/Index, or a list/tuple of partitions
    (each a sequence).
    """
    dask = require_dask()
    if dask.is_dask_collection(obj):
        if is_dataframe_like(obj):
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


def as_list(part: Any) -> list:
    """A partition as a list (``None``: empty; arrays and Series through ``tolist``)."""
    if part is None:
        return []
    if hasattr(part, "tolist") and not isinstance(part, list):
        return part.tolist()
    return list(part)


def _load_partition(index: int, texts: Any, labels: Any) -> tuple[list[str], list]:
    """``(texts, labels)`` of one partition as lists, checked (runs on a worker); with
    ``labels=None``, ``texts`` holds ``(text, label)`` pairs."""
    texts = as_list(texts)
    if labels is None:
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
        labels = as_list(labels)
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
    return plain(v)


# ---------------------------------------------------------------------- vocabulary
def counting_vectorizer(vectorizer: BowVectorizer) -> BowVectorizer:
    """An unfitted clone of ``vectorizer`` that keeps every word (``min_count=1``, no cap)."""
    from sklearn.base import clone

    return clone(vectorizer).set_params(min_count=1, max_features=None)


def count_words(vectorizer: BowVectorizer, texts: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """``(words, counts, n_tokens)`` of one partition (every word, no filtering)."""
    texts = as_list(texts)
    vec = counting_vectorizer(vectorizer)
    try:
        vec.fit(texts)
    except ValueError:
        if vec.count_tokens(texts) == 0:  # an empty partition (or one without tokens)
            return np.empty(0, "<U1"), np.empty(0, np.int64), 0
        raise
    return vec.words_, vec.word_counts_, int(vec.n_tokens_)


def _sum_by_key(parts: Any) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys of several ``(keys, counts)`` pairs, sorted, with summed counts."""
    keys = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts]).astype(np.int64)
    if keys.size == 0:
        return keys, counts
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.zeros(unique.size, np.int64)
    np.add.at(summed, inverse.ravel(), counts)
    return unique, summed


def merge_words(*parts: tuple[np.ndarray, np.ndarray, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Sum the word counts of several partitions (a reduction step)."""
    return (*_sum_by_key(parts), sum(p[2] for p in parts))


def install_vocabulary(
    vectorizer: BowVectorizer, words: np.ndarray, counts: np.ndarray, n_tokens: int
) -> BowVectorizer:
    """Apply ``min_count``/``max_features`` exactly as :meth:`BowVectorizer.fit` does."""
    from ..vectorizer import STATE_VERSION, select_vocabulary

    if n_tokens == 0:
        raise ValueError("empty vocabulary: the documents contain no tokens")
    kept, kept_counts = select_vocabulary(
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


def used_columns(vectorizer: BowVectorizer, texts: Any) -> np.ndarray:
    """Sorted feature columns of the fitted ``vectorizer`` occurring in one partition."""
    X = vectorizer.transform(as_list(texts))
    return np.unique(X.indices).astype(np.int64)


def union(*arrays: np.ndarray) -> np.ndarray:
    """Sorted distinct values of several column arrays (a reduction step of ``used_columns``)."""
    return np.unique(np.concatenate(arrays)) if arrays else np.empty(0, np.int64)


def _merge_df(*pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse ``(columns, document frequencies)`` of several partitions."""
    return _sum_by_key(pairs)


def _merge_class_df(*matrices: sp.csr_array) -> sp.csr_array:
    """Sum the per-class document frequencies of several partitions (exact integers)."""
    return _math.sum_counts(list(matrices), matrices[0].shape)


def tree_reduce(items: list, combine: Callable, submit: Callable) -> Any:
    """Reduce ``items`` with ``combine`` in a tree of fan-in :data:`_SPLIT_EVERY`."""
    if not items:
        raise ValueError("no partitions")
    while len(items) > 1:
        items = [
            submit(combine, *items[i : i + _SPLIT_EVERY])
            for i in range(0, len(items), _SPLIT_EVERY)
        ]
    return items[0]


def check_vectorizer(vectorizer: BowVectorizer) -> None:
    """Raise the error ``vectorizer.fit`` would raise for its parameters (``count_tokens``
    validates them exactly as ``fit`` does, and counting no documents costs nothing)."""
    vectorizer.count_tokens(())


def compute(dask: Any, client: Any, obj: Any) -> Any:
    """The value of the lazy ``obj``: on ``client`` if given, else Dask's current scheduler."""
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
    words, counts, n_tokens = count_words(vectorizer, texts)
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
        "words": merge_words(*(s["words"] for s in stats)),
    }


# ---------------------------------------------------------------------- transform
def _partition_features(
    part: tuple[list[str], list],
    vectorizer: BowVectorizer,
    classes: np.ndarray,
    multilabel: bool,
    class_frequencies: bool = True,
) -> dict:
    """Counts (all vectorizer columns) and CSR targets of one partition (runs on a worker);
    with ``class_frequencies`` and single labels, its per-class document frequencies too."""
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
        "class_df": _math.class_document_frequency(X, codes, c)
        if class_frequencies and not multilabel
        else None,
        "nnz": int(X.nnz),
        "tokens": int(X.data.astype(np.int64).sum()),
    }


def _get(d: dict, key: str) -> Any:
    return d[key]


def _copied(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: np.array(value, copy=True) for key, value in state.items()}


# ---------------------------------------------------------------------- shard actor
class _ShardTrainer:
    """One data shard and a replica of the parameters, living on a worker (a Dask actor)."""

    def __init__(self, shard: int, parts: list[dict], features: Any, config: dict) -> None:
        self.shard = shard
        # its own optimiser: in-process workers would otherwise share one object (and its
        # accumulators) between every shard and the driver, racing on it
        self.config = {**config, "optimizer": copy.deepcopy(config["optimizer"])}
        Xs = [features(p["X"]) for p in parts]
        X = sp.csr_array(sp.vstack(Xs, format="csr")) if len(Xs) > 1 else Xs[0]
        Ys = [p["Y"] for p in parts]
        Y = sp.csr_array(sp.vstack(Ys, format="csr")) if len(Ys) > 1 else Ys[0]
        self.X = canonical_int_dtype(prepare_counts(X, config["normalize"]))
        self.Y = config["loss"].prepare_targets(Y, config["multilabel"])
        cw = config["class_weights"]
        if cw is None:
            self.w = np.ones(self.X.shape[0], _DTYPE)
        else:
            codes = np.concatenate([p["codes"] for p in parts])
            self.w = np.asarray(cw, dtype=np.float64)[codes].astype(_DTYPE)
        self.n = self.X.shape[0]
        probe = config.get("probe")
        self.held = None if probe is None else held_out(self.X, probe["salt"], probe["fraction"])
        rng = np.random.default_rng(config["seed"])
        self.W, self.B = initial_parameters(
            config["n_features"], config["dim"], config["output_shape"], rng, config["A_init"]
        )
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

    def held_rows(self) -> tuple[sp.csr_array, sp.csr_array]:
        """The prepared rows and targets this shard holds out of the probe passes (none
        without a probe)."""
        rows = np.flatnonzero(self.held) if self.held is not None else np.empty(0, np.intp)
        return self.X[rows], self.Y[rows]

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """This replica's optimiser state (its accumulators: the run's start plus its own
        steps)."""
        return self.config["optimizer"].state()

    def restart(self, seed: int, schedule: Callable[[float], float]) -> None:
        """Start over as the driver does (:func:`bowclf.training.train`): the initial
        parameters of ``seed``, the optimiser's state cleared, the new ``schedule``."""
        cfg = self.config
        fill_initial(self.W, self.B, seed, cfg["A_init"])
        cfg["optimizer"].restart(self.W, self.B)
        cfg["schedule"] = schedule
        self.pending[:] = False
        self.examples_since = 0
        self._epoch = (-1, None, None, None)

    def step(self, update: dict | None, epoch: int, piece: int, hold: bool = False) -> dict:
        """Apply the merged rows of the last round, train on one piece, report the changes
        (``hold``: the probe's held-out rows with weight 0).

        Returns the examples trained (``m``), loss sums, the touched hot rows and ``B``, and
        after the last piece of the epoch also every cold row touched during the epoch.
        """
        if update is not None:
            for rows, values in update["rows"]:
                self.W[rows] = values
            self.B[...] = update["B"]
        if self._epoch[0] != epoch:
            order = self.rng.permutation(self.n)
            w = self.w if not hold or self.held is None else np.where(self.held, 0, self.w)
            self._epoch = (epoch, canonical_int_dtype(self.X[order]), self.Y[order], w[order])
        _, Xe, Ye, we = self._epoch
        a, b = self.bounds[piece], self.bounds[piece + 1]
        out: dict[str, Any] = {"m": b - a, "loss": 0.0, "weight": 0.0, "nnz": 0, "lr": None}
        hot_rows = np.empty(0, np.intp)
        if b > a:
            out.update(self._train(Xe[a:b], Ye[a:b], we[a:b], epoch, a))
            touched = np.zeros(self.W.shape[0], bool)
            touched[out.pop("indices")] = True
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

    def _train(self, X, Y, w, epoch: int, a: int) -> dict:
        """The ordinary SGD pass over one piece, on the single-machine schedule with this
        shard's examples interleaved with the others' (``t = e·n + (a + i)·n/n_k``)."""
        cfg = self.config
        n_total = cfg["n"]
        stride = n_total / self.n
        start = epoch * n_total

        def lr_at(i: int) -> float:
            return cfg["schedule"](start + (a + i) * stride)

        X = canonical_int_dtype(X)
        loss, weight = sgd_pass(
            self.W, self.B, X, Y, w, loss=cfg["loss"], batch_size=cfg["batch_size"],
            lr_at=lr_at, optimizer=cfg["optimizer"],
        )  # fmt: skip
        return {"loss": loss, "weight": weight, "nnz": int(X.nnz), "lr": lr_at(X.shape[0]),
                "indices": X.indices}  # fmt: skip


def _piece_bounds(n: int, pieces: int, batch_size: int) -> list[int]:
    """Row boundaries of ``pieces`` consecutive pieces, cut at multiples of ``batch_size``."""
    cuts = [min(n, round(n * r / pieces / batch_size) * batch_size) for r in range(pieces)]
    return [*cuts, n]


# ---------------------------------------------------------------------- training
#: Seconds to wait for a scheduler given by address (distributed's default is 30 s and retries).
CONNECT_TIMEOUT = 5


def get_client(client: Any, scheduler_address: str | None) -> tuple[Any, bool]:
    """``(client, owned)``: the given client, a new one connected to ``scheduler_address``
    (``owned=True``: the caller closes it) or the current one; ``ValueError`` if none."""
    distributed = require_distributed()
    if client is not None and scheduler_address is not None:
        raise ValueError("pass either client or scheduler_address, not both")
    if client is not None:
        return client, False
    if scheduler_address is not None:
        return _connect(distributed, scheduler_address), True
    try:
        return distributed.get_client(), False
    except ValueError:
        raise ValueError(
            "no Dask client: pass client=Client(...) or scheduler_address='tcp://host:8786', "
            "or create a dask.distributed.Client first"
        ) from None


def _connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at ``address``, or ``OSError`` after ``2·CONNECT_TIMEOUT``
    seconds at most.  ``Client(timeout=…)`` bounds the connection only: a port that accepts
    and never answers would hold the handshake for ever, so the client is made on a daemon
    thread (it cannot keep the process alive) and given up on at the deadline."""
    import threading

    done: dict[str, Any] = {}

    def make() -> None:
        try:
            done["client"] = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            done["error"] = exc

    thread = threading.Thread(target=make, name="bowclf-dask-connect", daemon=True)
    thread.start()
    thread.join(2 * CONNECT_TIMEOUT)
    if thread.is_alive():
        raise OSError(f"no answer within {2 * CONNECT_TIMEOUT} s")
    exc = done.get("error")
    if isinstance(exc, OSError):  # refused, unreachable, or no answer within the timeout
        raise OSError(f"no answer within {CONNECT_TIMEOUT} s ({type(exc).__name__})") from None
    if exc is not None:  # a malformed address: distributed's own ValueError, TypeError…
        raise ValueError(f"{address!r} is not a usable Dask scheduler address ({exc})") from None
    return done["client"]


def list_workers(client: Any) -> list[str]:
    """The sorted addresses of the cluster's workers (waits for one when there are none)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # older distributed
        info = client.scheduler_info()
    workers = sorted(info["workers"])
    if not workers:
        client.wait_for_workers(1)
        return list_workers(client)
    return workers


def _load_futures(client: Any, texts: Any, labels: Any) -> list:
    """Futures of ``(texts, labels)`` per partition, held in cluster memory."""
    dask = require_dask()
    from distributed import Future

    if isinstance(texts, list) and texts and all(isinstance(f, Future) for f in texts):
        return texts  # already loaded (fit_dask_file)
    tparts = partitions_of(texts, "texts")
    lparts = [None] * len(tparts) if labels is None else partitions_of(labels, "labels")
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


def model_key(dask: Any, model: Any) -> Any:
    """``model`` as one graph input: scattered to every worker once when a distributed client
    is active, else a single graph key (never copied into every task)."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return dask.delayed(model, name=f"bowclf-model-{uuid.uuid4().hex}", traverse=False)
    return client.scatter(model, broadcast=True, hash=False)


# ---------------------------------------------------------------------- the backend
class DaskCorpus:
    """Partitioned documents on a Dask cluster, trained as merged replicas (see
    :mod:`bowclf.dask` for the scheme).  Use as a context manager (releases the actors)."""

    def __init__(
        self, texts: Any, labels: Any, *, client: Any = None, scheduler_address: str | None = None,
        n_shards: int | None = None, sync_per_epoch: int | None = None, merge: str = "sum",
        hot_features: int = 20_000,
    ) -> None:  # fmt: skip
        self._client_args = (client, scheduler_address)  # connected in scan (after validation)
        self.client, self._own_client = None, False
        self.texts, self.labels = texts, labels
        self.n_shards = n_shards
        self.sync_per_epoch = sync_per_epoch
        self.merge = merge
        self.hot_features = hot_features
        self.data: DaskData | None = None
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> DaskCorpus:
        return self

    def __exit__(self, *exc) -> None:
        self.feats = None
        if self.data is not None:
            self.data.actors = self.data.actor_futures = None
        if self._own_client:
            self.client.close()

    def scan(
        self, vectorizer: BowVectorizer, callback: Callable | None = None, *,
        class_frequencies: bool = True,
    ) -> CorpusStats:  # fmt: skip
        """Load the partitions; count words and labels (pass 1, fits ``vectorizer``); transform
        every partition once and count document frequencies (pass 2), per class too for
        single labels when ``class_frequencies``."""
        started = time.perf_counter()
        check_vectorizer(vectorizer)
        client, self._own_client = get_client(*self._client_args)
        self.client = client
        self.workers = list_workers(client)
        parts = _load_futures(client, self.texts, self.labels)
        if not parts:
            raise ValueError("no partitions")
        total = self._pass1(parts, vectorizer)
        stats = _corpus_stats(total)
        install_vocabulary(vectorizer, *total["words"])
        pass1 = time.perf_counter() - started
        if callback is not None:
            callback({"event": "pass", "pass": 1, "documents": stats.documents, "seconds": pass1})
        t2 = time.perf_counter()
        self._pass2(parts, vectorizer, stats, class_frequencies)
        pass2 = time.perf_counter() - t2
        if callback is not None:
            callback({"event": "pass", "pass": 2, "documents": stats.documents, "seconds": pass2,
                      "features": stats.nnz, "what": "features on the workers"})  # fmt: skip
        self.summary["pass_seconds"] = [round(pass1, 3), round(pass2, 3)]
        return stats

    def _pass1(self, parts: list, vectorizer) -> dict:
        client = self.client
        counting = client.scatter(counting_vectorizer(vectorizer), broadcast=True, hash=False)
        stats = [
            client.submit(_partition_stats, i, p, counting, pure=False) for i, p in enumerate(parts)
        ]
        self.sizes = client.gather([client.submit(_get, s, "n", pure=False) for s in stats])
        return tree_reduce(
            stats, _merge_stats, lambda f, *a: client.submit(f, *a, pure=False)
        ).result()

    def _pass2(self, parts: list, vectorizer, stats: CorpusStats, class_frequencies: bool) -> None:
        client = self.client
        fitted = client.scatter(vectorizer, broadcast=True, hash=False)
        self.feats = [
            client.submit(
                _partition_features,
                p,
                fitted,
                stats.classes,
                stats.multilabel,
                class_frequencies,
                pure=False,
            )  # fmt: skip
            for p in parts
        ]
        used, df = tree_reduce(
            [client.submit(_get, f, "df", pure=False) for f in self.feats],
            _merge_df,
            lambda f, *a: client.submit(f, *a, pure=False),
        ).result()

        def total(key: str) -> int:
            return sum(client.gather([client.submit(_get, f, key, pure=False) for f in self.feats]))

        stats.nnz, stats.tokens = total("nnz"), total("tokens")
        stats.document_frequency = np.zeros(int(vectorizer.n_features_out_), np.int64)
        stats.document_frequency[used] = df
        if class_frequencies and not stats.multilabel:
            stats.class_document_frequency = tree_reduce(
                [client.submit(_get, f, "class_df", pure=False) for f in self.feats],
                _merge_class_df,
                lambda f, *a: client.submit(f, *a, pure=False),
            ).result()

    def source(
        self, features: FeatureMap, stats: CorpusStats, *, n_features: int,
        document_frequency: np.ndarray, normalize: _math.Normalize, loss: Loss,
    ) -> DaskData:  # fmt: skip
        """The training source: shards of the transformed partitions (actors made at start)."""
        nonempty = [i for i, s in enumerate(self.sizes) if s > 0]
        K = min(self.n_shards or len(self.workers), len(nonempty))
        sync = self.sync_per_epoch
        if sync is None:
            largest = max(sum(self.sizes[i] for i in nonempty[k::K]) for k in range(K))
            sync = max(1, math.ceil(largest / _SYNC_DOCS))
        hot = np.sort(np.argsort(-document_frequency, kind="stable")[: self.hot_features])
        self.data = DaskData(
            self.client, [[self.feats[i] for i in nonempty[k::K]] for k in range(K)],
            self.workers, features, n=stats.documents, n_features=n_features,
            sync_per_epoch=sync, merge=self.merge, hot=hot,
            config={"normalize": normalize, "loss": loss, "multilabel": stats.multilabel},
        )  # fmt: skip
        self.feats = None
        self.summary.update(shards=K, sync_per_epoch=sync, hot_features=int(hot.size))
        self._epochs_started = time.perf_counter()
        return self.data

    def finish(self) -> dict[str, Any]:
        """The ``distributed`` entry of the training summary."""
        s = self.summary
        return {
            "distributed": {
                "workers": len(self.workers), "partitions": len(self.sizes),
                "shards": s["shards"], "sync_per_epoch": s["sync_per_epoch"],
                "merge": self.merge, "hot_features": s["hot_features"],
                "pass_seconds": s["pass_seconds"],
                "epoch_seconds": round(time.perf_counter() - self._epochs_started, 3),
            }
        }  # fmt: skip


def _corpus_stats(total: dict) -> CorpusStats:
    """Corpus statistics from the reduced partition statistics of pass 1."""
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
    else:
        classes = np.unique(np.asarray(list(total["labels"])))
        check_target_type(classes)  # distinct by construction: scikit-learn's ratio warns
        warn_if_labels_are_distinct(classes.size, n)
    stats = CorpusStats(
        documents=n, classes=classes, multilabel=multilabel,
        mean_labels=total["label_items"] / n, every_row_labelled=total["unlabelled"] == 0,
        class_counts=np.array([total["labels"][c] for c in classes.tolist()], np.float64),
    )  # fmt: skip
    stats.check_classes()
    return stats


class DaskData:
    """The training source over shard actors: every epoch is ``sync_per_epoch`` rounds of
    (every shard trains one piece, the driver merges, merged rows go back)."""

    def __init__(
        self, client: Any, shard_parts: list[list[Any]], workers: list[str],
        features: FeatureMap, *, n: int, n_features: int, sync_per_epoch: int, merge: str,
        hot: np.ndarray, config: dict[str, Any],
    ) -> None:  # fmt: skip
        self.client = client
        self.shard_parts = shard_parts
        self.workers = workers
        self.features = features
        self.n = n
        self.n_features = n_features
        self.R = sync_per_epoch
        self.merge = merge
        self.config = {**config, "n": n, "hot": hot, "sync_per_epoch": sync_per_epoch}
        self.actors: list | None = None
        self.actor_futures: list | None = None
        self.updates: list[dict] | None = None

    def start(self, setup: Setup) -> None:
        """Create one actor per shard; each rebuilds the initial parameters from the seed."""
        self.W, self.B = setup.W, setup.B
        self.optimizer = setup.optimizer  # the driver's: never steps, gets the merged state
        self.optimizer_start = _copied(setup.optimizer.state())
        config = {
            **self.config, "seed": setup.seed, "A_init": setup.A_init, "dim": setup.W.shape[1],
            "n_features": setup.W.shape[0], "output_shape": setup.B.shape,
            "class_weights": setup.class_weights, "schedule": setup.schedule,
            "optimizer": setup.optimizer, "batch_size": setup.batch_size,
            "loss": setup.loss,  # the fitted loss (hierarchical softmax: with its tree)
            "probe": setup.probe,
        }  # fmt: skip
        client = self.client
        features = client.scatter(self.features, broadcast=True, hash=False)
        self.actor_futures = [
            client.submit(
                _ShardTrainer,
                k,
                parts,
                features,
                config,
                workers=[self.workers[k % len(self.workers)]],
                allow_other_workers=True,
                actor=True,
            )  # fmt: skip
            for k, parts in enumerate(self.shard_parts)
        ]
        self.actors = [f.result() for f in self.actor_futures]
        self.shard_parts = None
        presence = np.zeros(self.n_features, np.int64)
        for cols in [c.result() for c in [a.columns() for a in self.actors]]:
            presence[cols] += 1
        shared = presence >= 2 if self.merge == "sum" else np.ones(self.n_features, bool)
        for call in [a.set_shared(shared) for a in self.actors]:
            call.result()

    def epoch(self, ctx: Epoch) -> None:
        """One epoch: ``sync_per_epoch`` rounds of training on every shard and merging."""
        hold = ctx.probe is not None
        if hold and ctx.index == 0:
            for X, Y in [c.result() for c in [a.held_rows() for a in self.actors]]:
                ctx.add_held_rows(X, Y)
        for r in range(self.R):
            calls = [
                actor.step(None if self.updates is None else self.updates[k], ctx.index, r, hold)
                for k, actor in enumerate(self.actors)
            ]
            results = [c.result() for c in calls]
            self.updates = self._merge(results, last=r == self.R - 1)
            done = [x for x in results if x["m"] > 0]
            if done:
                ctx.record(
                    examples=sum(x["m"] for x in done),
                    features=sum(x["nnz"] for x in done),
                    loss_sum=sum(x["loss"] for x in done),
                    weight_sum=sum(x["weight"] for x in done),
                    lr=min(x["lr"] for x in done),
                    progress=(ctx.index * self.R + r + 1) / (ctx.epochs * self.R),
                )

    def _merge(self, results: list[dict], *, last: bool) -> list[dict]:
        """Merge ``B`` and the hot rows (and at the end of an epoch the cold rows) into the
        driver's parameters; return each shard's update."""
        W, B = self.W, self.B
        merge_B(B, results, self.merge)
        merges = [merge_rows(W, [x["hot"] for x in results], [x["m"] for x in results],
                              self.merge)]  # fmt: skip
        if last:
            merges.append(merge_rows(W, [x["cold"] for x in results],
                                      [x["m_cold"] for x in results], self.merge))  # fmt: skip
        return [
            {
                "rows": [(rows[send[k]], values[send[k]]) for rows, values, send in merges],
                "B": B.copy(),
            }  # fmt: skip
            for k in range(len(self.actors))
        ]

    def restart(self, seed: int, schedule: Callable[[float], float]) -> None:
        """Start every replica over (the driver's parameters were by the loop); no merged
        rows of the passes before are sent."""
        for call in [a.restart(seed, schedule) for a in self.actors]:
            call.result()
        self.updates = None
        self.optimizer_start = _copied(self.optimizer.state())  # cleared by the loop

    def sync(self) -> None:
        """Copy the rows only one shard trains (never merged) into the driver's parameters, and
        the shards' optimiser states, merged, into the driver's optimiser."""
        for rows, values in [c.result() for c in [a.private_rows() for a in self.actors]]:
            self.W[rows] = values
        states = [c.result() for c in [a.optimizer_state() for a in self.actors]]
        if any(states):  # what partial_fit / warm_start continue from, as in memory
            self.optimizer.resume(merge_optimizer_states(self.optimizer_start, states))
