"""The one training loop: schedule, minibatches, validation, early stopping, progress, divergence.

Every backend (in memory, on-disk token cache, Dask) feeds :func:`train` through a *source*: an
object with ``n`` (examples per epoch) and ``epoch(ctx)``, which runs one pass over its data
through the :class:`Epoch` context ``ctx``: either locally, block by block
(``ctx.train_block(X̃, Y, w)`` runs minibatch SGD on the loop's parameters), or remotely (the
Dask backend trains replicas and reports each round with ``ctx.record``).  Optional source hooks:
``start(setup)`` before the first epoch, ``sync()`` before the parameters are read
(validation, the early-overfitting probe, the end of training) and ``restart(seed, schedule)``
when the probe starts the run over (:mod:`bowclf.overfit_probe`).

The loop never writes estimator attributes: it updates the parameter arrays it is given in
place and returns a :class:`History`, which the estimator stores.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from . import _math

# the 'auto' rules have their own module; they stay importable from here
from .auto_rules import (
    epochs_before_inputs,
    resolve_epochs,
    resolve_gce,
    resolve_lr,
    resolve_margin,
    resolve_ngram_weight,
)
from .losses import Loss, get_loss
from .optim import SGD, LinearDecay
from .overfit_probe import OverfitProbe
from .parallel import kernel_threads

__all__ = [
    "check_warm_start",
    "epochs_before_inputs",
    "as_count_matrix",
    "seed_from",
    "CorpusStats",
    "Epoch",
    "OneClassError",
    "check_classes",
    "History",
    "ProgressCallback",
    "Setup",
    "TrainingDivergedError",
    "check_validation_pair",
    "canonical_int_dtype",
    "check_A_init",
    "fill_initial",
    "initial_parameters",
    "prepare_counts",
    "resolve_epochs",
    "resolve_gce",
    "resolve_lr",
    "resolve_margin",
    "resolve_ngram_weight",
    "sgd_pass",
    "split_indices",
    "split_validation",
    "train",
    "unknown_labels",
]

#: Progress callbacks receive one dict per report; see :meth:`BowClassifier.fit`.
ProgressCallback = Callable[[dict[str, Any]], None]

DTYPE = np.float32
_INIT_CHUNK = 1 << 18  # parameters initialised per chunk (1 MiB of float32)
_INIT_PIECE = 1 << 15  # rows of W per generator of initial_parameters (fixed: values by seed)


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss (the learning rate is too high for this data)."""


def seed_from(random_state) -> int | None:
    """An integer seed for ``numpy.random.default_rng`` from a scikit-learn ``random_state``."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(random_state)


def check_warm_start(
    old: tuple, classes: np.ndarray, multilabel: bool, n_features: int, dim: int, loss: str
) -> None:
    """``warm_start``: the previous fit's ``(classes, multilabel, A, B, t, loss)`` must match
    the new targets' ``classes`` and ``multilabel`` (already encoded), ``n_features``, ``dim``
    and ``loss`` (a name); raises ``ValueError`` otherwise."""
    old_classes, old_multilabel, A, _, _, old_loss = old
    same = (
        old_multilabel == multilabel
        and np.array_equal(old_classes, classes)
        and A.shape == (dim, n_features)
        and old_loss.name == loss
    )
    if not same:
        raise ValueError(
            "warm_start needs the same classes, features, dim and loss as the previous fit"
        )


class OneClassError(ValueError):
    """The training labels hold a single class."""


def check_classes(classes, n_documents: int | None = None) -> None:
    """The one place that says a classifier needs at least two classes."""
    classes = np.asarray(classes).tolist()
    if not classes and n_documents == 0:
        raise OneClassError("no documents to train on: X and y are empty")
    if len(classes) < 2:
        where = "" if n_documents is None else f" in {n_documents:,} documents"
        shown = ", ".join(map(repr, classes)) or "none"
        raise OneClassError(
            f"only one class ({shown}){where}: a classifier needs at least 2 classes"
        )


def check_label_values(y) -> None:
    """Labels are of one kind: no missing label (``None``, NaN) and no mix of strings and
    numbers (numpy would silently turn ``1`` into ``'1'``), also across label collections;
    numeric and string arrays need no scan beyond NaN."""
    if isinstance(y, np.ndarray) and y.dtype.kind != "O":
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("y has missing labels (NaN): give every document a label")
        return
    if isinstance(y, list | tuple):
        values = list(y)
    else:  # an object array, a pandas Series or any other array-like
        y = np.asarray(y)
        if y.dtype.kind != "O":
            return check_label_values(y)
        values = y.ravel().tolist()
    if any(isinstance(v, list | tuple | set | frozenset | np.ndarray) for v in values):
        sets = [v for v in values if isinstance(v, list | tuple | set | frozenset)]
        if len(sets) == len(values):  # label collections: the labels inside, all together
            return check_label_values([lab for labels in sets for lab in labels])
        return
    if any(v is None or (isinstance(v, float) and v != v) for v in values):
        raise ValueError("y has missing labels (None or NaN): give every document a label")
    if any(isinstance(v, str) for v in values) and not all(isinstance(v, str) for v in values):
        raise ValueError("y mixes strings and other types (e.g. 1 and '1'): use one label type")
    for label in {v for v in values if isinstance(v, str)}:
        _check_label_text(label)


def _check_label_text(label: str) -> None:
    """A string label survives numpy's string arrays and a model file: numpy drops trailing
    NULs (``'a\\0'`` would become the class ``'a'``) and UTF-8 has no lone surrogates."""
    if label.endswith("\0"):
        merged = label.rstrip("\0")
        raise ValueError(f"label {label!r} ends in a NUL character, which numpy's string arrays "
                         f"drop (it would merge with {merged!r}): remove it")  # fmt: skip
    try:
        label.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"label {label!r} is not valid Unicode text (a lone surrogate): "
                         "a model file could not store it") from None  # fmt: skip


@dataclass
class CorpusStats:
    """What a backend learned about a training corpus before training.

    ``classes``: sorted labels (for multi-label data, the label names); ``mean_labels``: labels
    per document; ``class_counts``: documents per class (single-label); ``class_prior``: each
    class's share of the sample weights (``None``: unweighted, ``class_counts / documents``);
    ``document_frequency``: documents containing each feature column (``None`` when unknown);
    ``class_document_frequency``: single-label corpora's documents of each class containing
    each column (a columns×classes ``csr_array``, :func:`bowclf._math.class_document_frequency`;
    ``None`` for multi-label corpora or when unknown); ``tokens`` and ``nnz``:
    total counts and non-zeros of the count matrix; ``feature_nnz``: non-zeros of the
    classifier's feature matrix when columns were dropped after counting (``None``: ``nnz``).
    """

    documents: int
    classes: np.ndarray
    multilabel: bool
    mean_labels: float = 1.0
    every_row_labelled: bool = True
    class_counts: np.ndarray | None = None
    class_prior: np.ndarray | None = None
    document_frequency: np.ndarray | None = None
    class_document_frequency: Any = None
    tokens: int = 0
    nnz: int = 0
    feature_nnz: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def label_shares(self) -> np.ndarray | None:
        """Each class's share of the documents (of their weight when ``class_prior`` is
        known); ``None`` without ``class_counts``."""
        if self.class_prior is not None:
            return np.asarray(self.class_prior, np.float64)
        if self.class_counts is None:
            return None
        return np.asarray(self.class_counts, np.float64) / max(self.documents, 1)

    def check_classes(self) -> None:
        """A classifier needs two classes (see :func:`check_classes`)."""
        check_classes(self.classes, self.documents)


@dataclass
class Setup:
    """Everything a source needs to train replicas of the parameters (the Dask backend)."""

    W: np.ndarray
    B: np.ndarray
    seed: int | None
    A_init: tuple[np.ndarray, np.ndarray] | None
    loss: Loss
    optimizer: Any
    batch_size: int
    epochs: int
    schedule: Callable[[float], float]
    class_weights: np.ndarray | None = None
    #: the early-overfitting probe's slice (``OverfitProbe.spec``), or None
    probe: dict | None = None


@dataclass
class History:
    """What a training run did: per-epoch loss and validation scores, examples seen."""

    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    n_iter: int = 0
    examples: int = 0
    best_epoch: int | None = None
    restart_epoch: int | None = None


def initial_parameters(
    n_features: int,
    dim: int,
    output_shape: tuple[int, int],
    rng: np.random.Generator,
    A_init: tuple[np.ndarray, np.ndarray] | None = None,
    n_jobs: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """``W = Aᵀ`` (p×d, C-ordered) with ``A ~ U(−1/d, 1/d)`` and ``B = 0``; ``A_init``
    ``(columns, vectors)`` then overwrites columns of ``A`` with pretrained vectors.  Takes
    one draw of ``rng``, the seed of :func:`fill_initial`.
    """
    W = np.empty((n_features, dim), dtype=DTYPE)
    B = np.empty(output_shape, dtype=DTYPE)
    fill_initial(W, B, int(rng.integers(2**63)), A_init, n_jobs)
    return W, B


def fill_initial(
    W: np.ndarray,
    B: np.ndarray,
    seed: int,
    A_init: tuple[np.ndarray, np.ndarray] | None = None,
    n_jobs: int = 1,
) -> None:
    """Write the initial parameters of seed ``seed`` into ``W = Aᵀ`` (p×d) and ``B``, in
    place: ``A ~ U(−1/d, 1/d)``, then ``A_init``; ``B = 0``.

    ``W`` is cut into pieces of :data:`_INIT_PIECE` rows, each drawn from its own generator
    (child ``i`` of ``SeedSequence(seed)``), so the pieces can be filled on ``n_jobs``
    threads (numpy's generators release the GIL) with values that do not depend on
    ``n_jobs``.  Each piece is drawn, scaled and shifted a few thousand rows at a time, while
    they are in cache.
    """
    n_features, dim = W.shape
    starts = range(0, n_features, _INIT_PIECE)
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    step = max(1, _INIT_CHUNK // max(dim, 1))

    def fill(start: int, seed: np.random.SeedSequence) -> None:
        gen = np.random.Generator(np.random.PCG64(seed))
        for a in range(start, min(start + _INIT_PIECE, n_features), step):
            chunk = W[a : min(a + step, start + _INIT_PIECE)]
            gen.random(out=chunk, dtype=DTYPE)
            chunk *= 2.0 / dim
            chunk -= 1.0 / dim

    if n_jobs > 1 and len(starts) > 1:
        with ThreadPoolExecutor(min(n_jobs, len(starts))) as pool:
            list(pool.map(fill, starts, seeds))
    else:
        for start, seed in zip(starts, seeds, strict=True):
            fill(start, seed)
    if A_init is not None:
        W[A_init[0]] = A_init[1]
    B[...] = 0


# ---------------------------------------------------------------------- validation data
def split_indices(
    n: int, fraction: float, stratify: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, validation)`` row indices holding out ``⌈fraction·n⌉`` rows, stratified
    by ``stratify`` (class codes) when every class has two rows, else at random."""
    from sklearn.model_selection import train_test_split  # only a fit that splits imports it

    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves an empty training or validation set for "
            f"{n} samples"
        )
    if stratify is not None and np.bincount(stratify).min() < 2:
        stratify = None
    try:
        tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=stratify,
                                  random_state=seed)  # fmt: skip
    except ValueError:  # too few samples per class for a stratified split
        tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=seed)
    tr.sort()
    va.sort()
    return tr, va


def check_validation_pair(X_val, y_val) -> None:
    """``X_val`` and ``y_val`` come together (both or neither) and hold as many rows."""
    if (X_val is None) != (y_val is None):
        given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
        raise ValueError(f"{given} was given without {missing}: pass both, or neither")
    if X_val is not None:
        from sklearn.utils.validation import _num_samples

        n, m = _num_samples(X_val), _num_samples(y_val)
        if n != m:
            raise ValueError(f"X_val has {n} documents but y_val has {m} labels")
        if n == 0:
            raise ValueError("X_val and y_val are empty: pass validation documents, or neither")


def unknown_labels(y, classes, *, multilabel: bool = False) -> None:
    """Raise ``ValueError`` naming the validation labels (or label-collection members) of
    ``y`` that are not among the training ``classes``."""
    seen = {label for labels in y for label in labels} if multilabel else set(np.unique(y).tolist())
    unknown = sorted(seen - set(np.asarray(classes).tolist()), key=str)
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(
            f"validation labels not in the training data: {', '.join(map(repr, unknown[:5]))}{more}"
        )


def split_validation(
    y, fraction: float, seed: int, *, multilabel: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, validation)`` indices of labelled documents ``y`` (labels, or label
    collections when ``multilabel``) holding out ``⌈fraction·n⌉`` of them, stratified when
    every class has two documents (:func:`split_indices`).

    A held-out document with a label that no training document has stays in training (a
    model cannot be validated on classes it cannot predict); ``ValueError`` when no
    validation document is left.
    """
    n = len(y)
    stratify = None
    if not multilabel and n:
        _, stratify = np.unique(np.asarray(y), return_inverse=True)
    tr, va = split_indices(n, fraction, stratify, seed)
    sets = [set(labels) for labels in y] if multilabel else [{label} for label in y]
    known = set().union(*(sets[i] for i in tr))
    unseen = [i for i in va if not sets[i] <= known]
    if unseen:
        tr = np.sort(np.concatenate([tr, unseen]))
        va = np.setdiff1d(va, unseen)
    if va.size == 0:
        raise ValueError(
            f"validation_fraction={fraction:g}: no validation documents left (every held-out "
            "document has a label seen only there); use more data or a validation file"
        )
    return tr, va


def check_A_init(A_init, dim: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Pretrained embeddings ``(columns, vectors)`` checked against ``dim`` and the features."""
    columns = np.asarray(A_init[0], dtype=np.int64)
    vectors = np.asarray(A_init[1], dtype=DTYPE)
    if vectors.shape != (columns.size, dim):
        raise ValueError(
            f"A_init vectors have shape {vectors.shape}, expected ({columns.size}, {dim})"
        )
    if columns.size and (columns.min() < 0 or columns.max() >= n_features):
        raise ValueError("A_init columns outside the feature range")
    return columns, vectors


# ---------------------------------------------------------------------- data preparation
def as_count_matrix(X) -> sp.csr_array:
    """``X`` as canonical CSR.  Any real values are accepted: the model ``B·A·x̃`` is defined
    for them (``'l1'`` scaling divides by ``Σ|x_j|``); counts are the usual input."""
    X = sp.csr_array(X) if sp.issparse(X) else sp.csr_array(np.asarray(X))
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def canonical_int_dtype(X: sp.csr_array) -> sp.csr_array:
    """Give ``indptr`` and ``indices`` one shared integer dtype (the compiled kernels need it)."""
    idx_dtype = np.int32 if max(X.nnz, X.shape[1]) < np.iinfo(np.int32).max else np.int64
    if X.indptr.dtype == idx_dtype and X.indices.dtype == idx_dtype:
        return X
    return sp.csr_array(
        (X.data, X.indices.astype(idx_dtype), X.indptr.astype(idx_dtype)), shape=X.shape
    )


def prepare_counts(X: sp.csr_array, normalize, out: np.ndarray | None = None) -> sp.csr_array:
    """``X̃ = diag(s)·X`` as float32 CSR with one index dtype, ready for :func:`sgd_pass`
    (its values written into ``out``, ``X.nnz`` float32 values, when given)."""
    X = _math.scale_rows(X, _math.row_scale(X, normalize), dtype=DTYPE, out=out)
    return canonical_int_dtype(X)


# ---------------------------------------------------------------------- minibatch SGD
class Batch:
    """A contiguous run of rows of the (already shuffled) training data, as raw CSR arrays."""

    __slots__ = ("start", "n", "indptr", "indices", "data", "y_indptr", "y_indices", "y_data", "w")

    def __init__(self, start, n, indptr, indices, data, y_indptr, y_indices, y_data, w):
        self.start, self.n = start, n
        self.indptr, self.indices, self.data = indptr, indices, data
        self.y_indptr, self.y_indices, self.y_data = y_indptr, y_indices, y_data
        self.w = w

    def targets(self, n_classes: int) -> np.ndarray:
        Y = np.zeros((self.n, n_classes), dtype=DTYPE)
        rows = np.repeat(np.arange(self.n), np.diff(self.y_indptr))
        Y[rows, self.y_indices] = self.y_data
        return Y


def sgd_step(batch: Batch, W: np.ndarray, B: np.ndarray, lr: float, loss: Loss, optimizer) -> float:
    """One step on a batch: ``H = X̃_b·Aᵀ``, the loss's gradients, the optimiser's update;
    returns the batch's summed weighted loss."""
    H = np.zeros((batch.n, W.shape[1]), dtype=W.dtype)
    _math.sparse_hidden_into(batch.indptr, batch.indices, batch.data, W, H)
    margin_at = getattr(optimizer, "margin_at", None)  # optional (optim: Adaptive only)
    margin = 0.0 if margin_at is None else margin_at(lr)
    gce = getattr(optimizer, "gce", 0.0)  # likewise
    Y = loss.batch_targets(batch, B)
    grads = loss.batch_gradients(H, B, Y, batch.w, margin=margin, gce=gce)
    optimizer.step(W, B, batch, grads, lr)
    return grads.loss


def _batch_of(
    a: int,
    s: int,
    e: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    x_data: np.ndarray,
    Y: sp.csr_array,
    w: np.ndarray,
) -> Batch:
    """Rows ``a+s … a+e−1`` as a :class:`Batch`: ``indptr``, ``indices`` and ``x_data``
    describe the rows of ``X̃`` from row ``a`` on (views, no copies of the data), ``Y`` and
    ``w`` the whole pass."""
    xa, xb = indptr[s], indptr[e]
    yp = Y.indptr
    ya, yb = yp[a + s], yp[a + e]
    return Batch(
        a + s,
        e - s,
        indptr[s : e + 1] - xa,
        indices[xa:xb],
        x_data[xa:xb],
        yp[a + s : a + e + 1] - ya,
        Y.indices[ya:yb],
        Y.data[ya:yb],
        w[a + s : a + e],
    )


def sgd_pass(
    W: np.ndarray,
    B: np.ndarray,
    X: sp.csr_array,
    Y: sp.csr_array,
    w: np.ndarray,
    *,
    loss: Loss | str,
    batch_size: int,
    lr_at: Callable[[int], float],
    on_batch: Callable | None = None,
    optimizer=None,
) -> tuple[float, float]:
    """One pass over the rows of ``(X̃, Y, w)`` in their stored order, updating ``W = Aᵀ``
    and ``B`` in place; returns ``(Σ wᵢ ℓᵢ, Σ wᵢ)`` over the pass.

    Each batch ``b`` takes a summed-gradient step (see :mod:`bowclf._math`) with
    ``η = lr_at(index of the batch's first row)``; with plain SGD::

        B ← B − η·Gᵀ·H          A ← A − η·(G·B_old)ᵀ·X̃_b   (only the columns used by b)

    ``X̃`` must come from :func:`prepare_counts` and ``Y`` from the loss's
    ``prepare_targets``.  Inside :func:`bowclf.parallel.kernel_threads` the sparse kernels of
    each step run on its threads (the same result).

    BLAS is held to one thread during the pass.  The batch products (``n_b×d`` by ``d×c``) are
    far too small to be worth splitting, but OpenBLAS splits them across threads from about
    ``n_b·c·d ≥ 5·10⁵`` (c ≥ 328 classes at d = 100, batch 16), and the hand-off then costs
    more than the product, many times more when the other cores are busy.  One thread also
    makes the result independent of the number of cores.

    Raises
    ------
    TrainingDivergedError
        As soon as a batch's loss is not finite, or its mean exceeds the loss's divergence
        bound (the parameters are blowing up).
    """
    loss = get_loss(loss)
    optimizer = SGD() if optimizer is None else optimizer
    explode = loss.divergence_bound(loss.n_targets(B))

    loss_sum = weight_sum = 0.0
    n = X.shape[0]
    threads = _math.KERNEL_THREADS.get()
    with (
        _blas_controller().limit(limits=1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
    ):
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            batch = _batch_of(0, s, e, X.indptr, X.indices, X.data, Y, w)
            lr = lr_at(batch.start)
            if threads is not None and e < n:  # a worker reads the next batch's rows meanwhile
                following = X.indices[X.indptr[e] : X.indptr[min(e + batch_size, n)]]
                step = functools.partial(sgd_step, batch, W, B, lr, loss, optimizer)
                batch_loss = threads.step_reading_ahead(W, following, step)
            else:
                batch_loss = sgd_step(batch, W, B, lr, loss, optimizer)
            batch_weight = float(batch.w.sum())
            if not np.isfinite(batch_loss) or batch_loss > explode * batch_weight:
                raise TrainingDivergedError("non-finite or exploding training loss")
            loss_sum += batch_loss
            weight_sum += batch_weight
            if on_batch is not None:
                on_batch(batch, lr, loss_sum, weight_sum)
    return loss_sum, weight_sum


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The BLAS/OpenMP libraries of the process, looked up once (a lookup costs milliseconds)."""
    return ThreadpoolController()


# ---------------------------------------------------------------------- progress
class Progress:
    """Throttled progress reports for a callback (at most ~10 per second, plus epoch ends)."""

    def __init__(self, callback: ProgressCallback | None, epochs: int) -> None:
        self.callback = callback
        self.epochs = epochs
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.examples = 0
        self.features = 0.0

    def _info(self, event, epoch, progress, loss, lr) -> dict[str, Any]:
        seconds = time.perf_counter() - self.t0
        return {
            "event": event,
            "epoch": epoch + 1,
            "epochs": self.epochs,
            "progress": min(progress, 1.0),
            "loss": loss,
            "lr": lr,
            "examples": self.examples,
            "features": int(self.features),
            "seconds": seconds,
            "features_per_second": self.features / seconds if seconds > 0 else 0.0,
        }

    def batch(self, epoch, progress, loss, lr, examples, features, *, every: bool = False):
        """Count ``examples`` and ``features``; report (``every``: without throttling)."""
        if self.callback is None:
            return
        self.examples += examples
        self.features += float(features)
        now = time.perf_counter()
        if every or now - self.last >= 0.1:
            self.last = now
            self.callback(self._info("batch", epoch, progress, loss, lr))

    def epoch(self, epoch, loss, val_score) -> None:
        if self.callback is None:
            return
        info = self._info("epoch", epoch, (epoch + 1) / self.epochs, loss, None)
        info["val_score"] = val_score
        self.callback(info)

    def event(self, event: str, **info: Any) -> None:
        if self.callback is not None:
            self.callback({"event": event, **info})


# ---------------------------------------------------------------------- the loop
class Epoch:
    """One pass in progress: the context a source's ``epoch(ctx)`` trains through."""

    def __init__(self, loop: _Loop, index: int) -> None:
        self.loop = loop
        self.index = index
        self.epochs = loop.epochs
        self.n = loop.n
        self.rng = loop.rng
        self.schedule = loop.schedule
        self.done = 0
        self.loss_sum = 0.0
        self.weight_sum = 0.0
        probe = loop.probe
        #: the run's overfitting probe while it holds its slice out, else None
        self.probe = probe if probe is not None and probe.holding else None

    def hold_out(self, X: sp.csr_array, Y: sp.csr_array, w: np.ndarray) -> np.ndarray:
        """``w`` with the probe's held-out rows of the prepared block at 0 (the rows are kept
        for scoring in the first pass); ``w`` itself when nothing is held out."""
        if self.probe is None:
            return w
        held = self.probe.hold(X, Y, keep=self.index == 0)
        if not held.any():
            return w
        return np.where(held, 0, w).astype(w.dtype, copy=False)

    def add_held_rows(self, X: sp.csr_array, Y: sp.csr_array) -> None:
        """Give the probe held-out rows trained elsewhere (e.g. on Dask workers)."""
        self.probe.add_rows(X, Y)

    def train_block(self, X: sp.csr_array, Y: sp.csr_array, w: np.ndarray) -> None:
        """Minibatch SGD on a prepared block, at its place in the epoch's schedule (the
        probe's held-out rows, while it holds them out, with weight 0)."""
        loop = self.loop
        w = self.hold_out(X, Y, w)
        offset = self.index * self.n + self.done
        prior = (self.loss_sum, self.weight_sum)
        total = loop.epochs * self.n

        def report(batch, lr, ls, ws):
            loop.history.examples += batch.n
            loop.progress.batch(
                self.index,
                (offset + batch.start + batch.n) / total,
                (prior[0] + ls) / max(prior[1] + ws, 1e-12),
                lr,
                batch.n,
                batch.data.size,
            )

        history = loop.history

        def count(batch, lr, ls, ws):
            history.examples += batch.n

        ls, ws = sgd_pass(
            loop.W,
            loop.B,
            X,
            Y,
            w,
            loss=loop.loss,
            batch_size=loop.batch_size,
            lr_at=lambda i: self.schedule(offset + i),
            on_batch=count if loop.progress.callback is None else report,
            optimizer=loop.optimizer,
        )
        self.loss_sum += ls
        self.weight_sum += ws
        self.done += X.shape[0]

    def record(self, *, examples, features, loss_sum, weight_sum, lr, progress) -> None:
        """Account for examples trained elsewhere (e.g. on Dask workers) and report them."""
        self.loss_sum += loss_sum
        self.weight_sum += weight_sum
        self.done += examples
        self.loop.history.examples += examples
        self.loop.progress.batch(
            self.index,
            progress,
            self.loss_sum / max(self.weight_sum, 1e-12),
            lr,
            examples,
            features,
            every=True,
        )


@dataclass
class _Loop:
    W: np.ndarray
    B: np.ndarray
    n: int
    epochs: int
    rng: np.random.Generator
    schedule: Callable[[float], float]
    loss: Loss
    optimizer: Any
    batch_size: int
    progress: Progress
    history: History
    probe: OverfitProbe | None = None


def train(
    source,
    W: np.ndarray,
    B: np.ndarray,
    *,
    epochs: int,
    rng: np.random.Generator,
    schedule: Callable[[float], float],
    loss: Loss,
    batch_size: int,
    lr: float,
    optimizer=None,
    validate: Callable[[], float] | None = None,
    early_stopping: bool = False,
    n_iter_no_change: int = 3,
    tol: float = 0.0,
    callback: ProgressCallback | None = None,
    verbose: int = 0,
    setup: Setup | None = None,
    n_jobs: int = 1,
    probe: OverfitProbe | None = None,
) -> History:
    """Run ``epochs`` passes of ``source`` over ``W = Aᵀ`` and ``B`` (updated in place).

    ``schedule(t)`` is the learning rate at example ``t`` of this run.  After every epoch
    ``validate()`` (if given) scores the current parameters; with ``early_stopping`` training
    stops after ``n_iter_no_change`` epochs without an improvement over ``tol`` and the best
    epoch's parameters and accumulators are restored (``History.best_epoch``, 1-based).

    With ``n_jobs > 1`` the sparse kernels of local steps run on that many threads
    (:mod:`bowclf.parallel`): the parameters are bit-for-bit those of one thread.

    With a ``probe`` (:mod:`bowclf.overfit_probe`) its slice is held out of the first passes
    and scored after each; when it says so the parameters are drawn anew, the optimiser
    starts over and a fresh schedule from ``schedule(0)`` trains the passes it names, which
    end the run (``History.restart_epoch``: the passes before the restart; the source's
    ``restart(seed, schedule)`` hook, if any, does the same to its replicas).

    Raises
    ------
    TrainingDivergedError
        With a message naming the epoch and a lower learning rate to try.
    """
    optimizer = SGD() if optimizer is None else optimizer
    optimizer.start(W, B)
    loop = _Loop(
        W, B, source.n, epochs, rng, schedule, loss, optimizer, batch_size,
        Progress(callback, epochs), History(), probe,
    )  # fmt: skip
    if setup is not None and hasattr(source, "start"):
        source.start(setup)
    tracker = _BestEpoch(W, B, optimizer, keep=early_stopping, tol=tol)
    synced = False
    index = -1
    with kernel_threads(n_jobs):  # the same parameters for any n_jobs
        while index + 1 < loop.epochs:
            index += 1
            ctx = Epoch(loop, index)
            epoch_loss = _pass(source, ctx, lr)
            val_score, synced = None, ctx.probe is not None and _sync(source)  # probe: synced
            fresh = ctx.probe.after_pass(W, B, loop.epochs) if synced else None  # start over
            if validate is not None:
                synced = _sync(source)
                val_score = validate()
                loop.history.validation_scores.append(val_score)
                tracker.update(val_score, index + 1)
            loop.progress.epoch(index, epoch_loss, val_score)
            if verbose:
                _print_epoch(loop, index, epoch_loss, val_score, fresh)
            if fresh:  # after the pass's reports, which count it in the run it ended
                _restart(loop, source, index + 1, schedule(0), fresh)
            if early_stopping and validate is not None and tracker.stale >= n_iter_no_change:
                break
    if not synced:
        _sync(source)
    if tracker.restore():
        loop.history.best_epoch = tracker.epoch
        loop.progress.event("early_stop", best_epoch=tracker.epoch,
                            epochs_run=loop.history.n_iter, val_score=tracker.score)  # fmt: skip
    return loop.history


def _pass(source, ctx: Epoch, lr: float) -> float:
    """Run pass ``ctx`` of ``source`` and record its mean training loss, which it returns."""
    try:
        source.epoch(ctx)
    except TrainingDivergedError:
        raise TrainingDivergedError(
            f"training diverged (loss exploded at epoch {ctx.index + 1}) with "
            f"lr={lr:g}: lower the learning rate (e.g. lr={lr / 10:g})"
        ) from None
    state = ctx.loop.optimizer.state()  # the loss can stay finite while they overflow
    if not (np.isfinite(ctx.loop.B).all() and all(np.isfinite(a).all() for a in state.values())):
        raise TrainingDivergedError(
            f"training diverged at epoch {ctx.index + 1} with lr={lr:g}: the output weights "
            "or the optimiser's accumulators overflowed (huge feature values or pretrained "
            "vectors?)"
        )
    epoch_loss = ctx.loss_sum / max(ctx.weight_sum, 1e-12)
    ctx.loop.history.loss_curve.append(epoch_loss)
    ctx.loop.history.n_iter = ctx.index + 1
    return epoch_loss


def _print_epoch(loop: _Loop, index: int, epoch_loss, val_score, fresh: int | None) -> None:
    """``verbose`` output at the end of pass ``index`` (``fresh``: the run starts over with
    that many passes)."""
    extra = "" if val_score is None else f", validation score {val_score:.4f}"
    print(f"-- Epoch {index + 1}/{loop.epochs}: loss {epoch_loss:.4f}{extra}", flush=True)
    if fresh:
        first, last = loop.probe.losses[0], loop.probe.losses[-1]
        print(f"-- Held-out slice's loss {first:.4f} -> {last:.4f}: starting over with "
              f"{fresh} passes", flush=True)  # fmt: skip


def _restart(loop: _Loop, source, passes: int, lr0: float, fresh: int) -> None:
    """Start the run over after ``passes`` passes (see :func:`train`): new initial
    parameters of the probe's seed, the optimiser's state cleared, ``fresh`` passes on a
    fresh schedule from ``lr0`` to 0."""
    probe, n = loop.probe, loop.n
    fill_initial(loop.W, loop.B, probe.seed, probe.A_init, probe.n_jobs)
    loop.optimizer.restart(loop.W, loop.B)
    loop.schedule = LinearDecay(lr0, fresh * n, start=-passes * n)
    loop.epochs = loop.progress.epochs = passes + fresh
    loop.history.restart_epoch = passes
    restart = getattr(source, "restart", None)
    if restart is not None:
        restart(probe.seed, loop.schedule)
    loop.progress.event("restart", epochs_run=passes, epochs=loop.epochs,
                        slice_losses=list(probe.losses), overfitting=probe.overfitting,
                        min_fall=probe.rule.min_fall)  # fmt: skip


class _BestEpoch:
    """The best validation score so far and (with ``keep``) a copy of its parameters and of
    the optimiser's accumulators (a continued run goes on from that epoch's state)."""

    def __init__(self, W: np.ndarray, B: np.ndarray, optimizer, *, keep: bool, tol: float):
        self.W, self.B, self.optimizer, self.keep, self.tol = W, B, optimizer, keep, tol
        self.score, self.epoch, self.stale = -np.inf, None, 0
        self.saved: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None

    def update(self, score: float, epoch: int) -> None:
        if score > self.score + self.tol:
            self.score, self.epoch, self.stale = score, epoch, 0
            state = {k: v.copy() for k, v in self.optimizer.state().items()}
            self.saved = (self.W.copy(), self.B.copy(), state) if self.keep else None
        else:
            self.stale += 1

    def restore(self) -> bool:
        """Put the best epoch's parameters and accumulators back (early stopping); whether
        it did."""
        if self.saved is None:
            return False
        self.W[...], self.B[...] = self.saved[:2]
        for name, array in self.optimizer.state().items():  # the optimiser's own arrays
            array[...] = self.saved[2][name]
        return True


def _sync(source) -> bool:
    sync = getattr(source, "sync", None)
    if sync is not None:
        sync()
    return True
