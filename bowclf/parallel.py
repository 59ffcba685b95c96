"""Multi-core SGD passes: Python threads over scipy's compiled sparse kernels, which release
the GIL, with a result that depends only on the data, the seed and the number of threads.

The scheme (:class:`SharedRowRounds`), for ``K`` threads over a block of shuffled rows:

1. The block is cut into consecutive *pieces* of at most ``round_docs`` rows and ``round_nnz``
   non-zeros (at least one row); ``K`` consecutive pieces form a *round*, piece ``k`` of a
   round is trained by thread ``k`` with the ordinary minibatch steps, at the learning rate of
   its rows' places in the block (the same schedule as one thread).
2. A parameter row of ``W = Aᵀ`` (a feature) used by one piece of the round only is updated in
   place: no other thread reads or writes it during the round.  A row used by two or more
   pieces is *shared*: every thread that uses it trains a private copy of it instead (one of
   the spare rows after ``W``'s ``p`` rows — the kernels index one array), and every thread
   trains its own copy of ``B``.  Nothing one thread writes is read or written by another.
3. After the round the copies are merged with the rule of the Dask backend's ``merge='sum'``:
   ``W ← W + Σ_k (W_k − W)`` for each shared row and ``B ← B + Σ_k (B_k − B)``, the
   differences taken before any is applied and applied for ``k = 0 … K−1`` in that order.

So every floating-point operation and its order is fixed by the data, the seed, ``K`` and the
round sizes: the same ``n_jobs`` gives bit-for-bit the same model, on any machine with the same
numpy/scipy/BLAS builds, however the threads are scheduled.  ``n_jobs=1`` runs the plain
sequential pass (no rounds).  A different ``n_jobs`` gives a different (equally valid) model:
shared rows and ``B`` see the other threads' updates of a round only at its end.

A round whose piece has more non-zeros than a thread has spare rows (a single document longer
than ``round_nnz``) is trained piece after piece on one thread, in order — still deterministic.

Bookkeeping per round, on the calling thread: two passes of integer writes over the round's
non-zeros (first and last piece using each feature, to find the shared rows) and the merge of
the shared rows.  Memory: ``K·min(p, round_nnz)`` spare rows of ``W`` (allocated with the
parameters, see :func:`spare_rows`) and ``8 + 4K`` bytes per feature of index tables.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

__all__ = [
    "MAX_DENSITY",
    "MIN_ROW_NNZ",
    "ROUND_DOCS",
    "ROUND_NNZ",
    "SharedRowRounds",
    "prefetch",
    "resolve_n_jobs",
    "spare_rows",
    "threads_for",
    "with_spare_rows",
]

#: Rows per piece (per thread and round): how long shared rows and ``B`` go without seeing the
#: other threads' updates.  Shorter rounds stay closer to one thread's accuracy, longer ones
#: spend less on the per-round bookkeeping and hand-offs; bench/RESULTS-threads.md has the
#: measurements behind 128.
ROUND_DOCS = 128
#: Non-zeros per piece: bounds the shared rows a thread may need (its spare rows: 64 Ki rows of
#: ``W``, 25 MiB per thread at d = 100) and keeps rounds of long documents short.
ROUND_NNZ = 1 << 16


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads for ``n_jobs``: ``None`` → every core (``os.cpu_count()``); ``-1`` too; a
    negative ``-k`` → all cores but ``k − 1``; at least 1."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, int(n_jobs))


#: Rows with fewer non-zeros than this on average train on one thread: their steps are mostly
#: numpy call overhead, which holds the GIL, so threads only add the rounds' bookkeeping
#: (bench/RESULTS-threads.md: trec and sst2, ~20 non-zeros a row, trained slower on two threads).
MIN_ROW_NNZ = 50
#: Rows using more than this share of the features on average train on one thread: with a small
#: vocabulary every round's rows are shared, and summing the threads' updates of them acts like
#: a batch n_jobs times larger (small dense problems diverged on two threads, not on one).
MAX_DENSITY = 0.01


def threads_for(n_jobs: int | None, rows: tuple[int, int, int] | None = None) -> int:
    """Training threads for ``n_jobs`` (:func:`resolve_n_jobs`) and training rows
    ``(n_rows, n_features, nnz)``: 1 for short rows (< :data:`MIN_ROW_NNZ` non-zeros a row on
    average) or dense ones (> :data:`MAX_DENSITY` of the features); ``rows=None``: the most
    it can be."""
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not a number of threads: use None (every core) or >= 1")
    if rows is not None:
        n, p, nnz = rows
        if nnz < MIN_ROW_NNZ * n or nnz > MAX_DENSITY * n * p:
            return 1
    return resolve_n_jobs(n_jobs)


def spare_rows(n_features: int, n_jobs: int, round_nnz: int = ROUND_NNZ) -> int:
    """Rows :class:`SharedRowRounds` needs after the ``p`` rows of ``W`` (0 for one thread)."""
    return 0 if n_jobs <= 1 else n_jobs * min(n_features, round_nnz)


def with_spare_rows(W: np.ndarray, rows: int) -> np.ndarray:
    """A C-ordered ``(p + rows)×d`` array whose first ``p`` rows are ``W`` itself when ``W`` is
    the head of such an array already (as :func:`bowclf.training.initial_parameters` makes
    it), else a new array holding a copy of ``W``."""
    p, d = W.shape
    base = W.base
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 2
        and base.shape[0] >= p + rows
        and base.shape[1] == d
        and base.dtype == W.dtype
        and base.flags.c_contiguous
        and W.strides == base.strides
        and W.__array_interface__["data"][0] == base.__array_interface__["data"][0]
    ):
        return base[: p + rows]
    if rows == 0 and W.flags.c_contiguous:
        return W
    big = np.empty((p + rows, d), W.dtype)
    big[:p] = W
    return big


T = TypeVar("T")


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in their order while a background thread already produces the next
    ``depth`` of them (e.g. reads and prepares the next block of an out-of-core corpus while
    the current one trains).  An exception of the producer is raised here; if the consumer
    stops early the producer is stopped before its next item and joined."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, done))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    worker = threading.Thread(target=produce, name="bowclf-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # free a producer blocked on a full queue
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


#: ``train_rows(a, b, indptr, indices, lo, W, B) -> (loss_sum, weight_sum)``: minibatch steps
#: over rows ``a … b−1`` of the block with the rebased ``indptr`` (``b − a + 1`` entries), the
#: column ``indices`` of those rows (possibly redirected to spare rows) and their data starting
#: at position ``lo`` of the block's ``data``, updating ``W`` (the array with spare rows) and
#: ``B`` in place.
TrainRows = Callable[..., tuple[float, float]]


class _Span:
    """Rows ``start … start+n−1`` of a block, reported to progress callbacks as one batch."""

    __slots__ = ("start", "n", "data")

    def __init__(self, start: int, n: int, data: np.ndarray) -> None:
        self.start, self.n, self.data = start, n, data


class SharedRowRounds:
    """The state of multi-threaded passes over ``W`` with ``n_features`` rows: the index
    tables (see the module docstring).  :meth:`run` makes one pass over a block on the calling
    thread and a pool of ``n_jobs − 1`` threads that lives as long as the pass."""

    def __init__(
        self,
        n_features: int,
        n_jobs: int,
        *,
        round_docs: int = ROUND_DOCS,
        round_nnz: int = ROUND_NNZ,
    ) -> None:
        if n_jobs < 2:
            raise ValueError("SharedRowRounds needs at least 2 threads")
        self.p = int(n_features)
        self.n_jobs = int(n_jobs)
        self.round_docs = int(round_docs)
        self.round_nnz = int(round_nnz)
        self.cap = min(self.p, self.round_nnz)  # spare rows per thread
        self._first = np.full(self.p, -1, dtype=np.int32)  # code of the first piece using a row
        self._last = np.full(self.p, -1, dtype=np.int32)  # … and of the last one
        self._slot = [
            np.zeros(
                self.p, dtype=np.int64 if self.p + self.n_jobs * self.cap > 2**31 - 1 else np.int32
            )
            for _ in range(self.n_jobs)
        ]
        self._round = 0

    def pieces(self, indptr: np.ndarray) -> list[tuple[int, int]]:
        """Consecutive ``(start, stop)`` row ranges of at most ``round_docs`` rows and
        ``round_nnz`` non-zeros, at least one row each."""
        n = indptr.size - 1
        out, a = [], 0
        limits = np.searchsorted(indptr, indptr[:-1] + self.round_nnz, side="right") - 1
        while a < n:
            b = min(max(int(limits[a]), a + 1), a + self.round_docs, n)
            out.append((a, b))
            a = b
        return out

    def run(
        self,
        W: np.ndarray,
        B: np.ndarray,
        X: sp.csr_array,
        train_rows: TrainRows,
        on_round: Callable | None = None,
    ) -> tuple[float, float]:
        """One pass over the rows of the prepared block ``X̃`` (its targets and weights are
        ``train_rows``' business), updating ``W`` (``p + spare_rows`` rows, see
        :func:`spare_rows`) and ``B`` in place; returns ``(Σ wᵢ ℓᵢ, Σ wᵢ)``.

        ``on_round(span, loss_sum, weight_sum)`` is called after each round with the rows it
        covered (``span.start``, ``span.n``, ``span.data``) and the pass's running sums.
        """
        K, p, cap = self.n_jobs, self.p, self.cap
        if W.shape[0] < p + K * cap:
            raise ValueError(f"W needs {K * cap} spare rows after its {p} rows")
        xp, xi = X.indptr, X.indices
        if xi.dtype == np.int32 and W.shape[0] > np.iinfo(np.int32).max:  # spare row ids
            xp, xi = xp.astype(np.int64), xi.astype(np.int64)
        pieces = self.pieces(xp)
        with ThreadPoolExecutor(K - 1, thread_name_prefix="bowclf-sgd") as pool:
            return self._rounds(pool, pieces, W, B, X, xp, xi, train_rows, on_round)

    def _rounds(self, pool, pieces, W, B, X, xp, xi, train_rows, on_round):
        K, p, cap = self.n_jobs, self.p, self.cap
        loss_sum = weight_sum = 0.0
        for q in range(0, len(pieces), K):
            bounds = pieces[q : q + K]
            if cap < p and any(xp[b] - xp[a] > cap for a, b in bounds):
                results = [self._alone(a, b, xp, xi, W, B, train_rows) for a, b in bounds]
            else:
                self._mark(bounds, xp, xi)
                jobs = [  # pieces 1 … K−1 on the pool, piece 0 on this thread meanwhile
                    pool.submit(self._train_piece, k, bounds[k], xp, xi, W, B, train_rows)
                    for k in range(1, len(bounds))
                ]
                first = self._train_piece(0, bounds[0], xp, xi, W, B, train_rows)
                results = [first, *(job.result() for job in jobs)]
                Wp = W[:p]
                for U, D, DB, _, _ in results:  # the merge, in the fixed thread order
                    Wp[U] += D
                    B += DB
            for *_, ls, ws in results:
                loss_sum += ls
                weight_sum += ws
            if on_round is not None:
                r0, r1 = bounds[0][0], bounds[-1][1]
                on_round(_Span(r0, r1 - r0, X.data[xp[r0] : xp[r1]]), loss_sum, weight_sum)
        return loss_sum, weight_sum

    def _mark(self, bounds, xp, xi) -> None:
        """Record, for every row used in the round, the first and the last piece using it."""
        self._round += 1
        if (self._round + 1) * self.n_jobs > np.iinfo(np.int32).max:  # codes wrap: start again
            self._first.fill(-1)
            self._last.fill(-1)
            self._round = 1
        base = self._round * self.n_jobs
        for k, (a, b) in enumerate(bounds):
            self._last[xi[xp[a] : xp[b]]] = base + k
        for k in range(len(bounds) - 1, -1, -1):
            a, b = bounds[k]
            self._first[xi[xp[a] : xp[b]]] = base + k

    def _train_piece(self, k, bounds, xp, xi, W, B, train_rows):
        a, b = bounds
        p = self.p
        lo, hi = xp[a], xp[b]
        idx = xi[lo:hi]
        shared = self._first[idx] != self._last[idx]
        idx_sh = idx[shared]
        slot = self._slot[k]
        # distinct shared rows in a fixed order: the occurrence whose position numpy's
        # sequential scatter leaves in ``slot`` (deterministic) represents each row
        pos = np.arange(idx_sh.size, dtype=slot.dtype)
        slot[idx_sh] = pos
        U = idx_sh[slot[idx_sh] == pos]
        slot[U] = np.arange(U.size, dtype=slot.dtype)
        start = p + k * self.cap
        private = W[start : start + U.size]
        np.take(W, U, axis=0, out=private)
        local = idx.copy()
        local[shared] = slot[idx_sh] + start
        Bk = B.copy()
        ls, ws = train_rows(a, b, xp[a : b + 1] - lo, local, lo, W, Bk)
        private -= W[U]  # W's shared rows are untouched during the round: D = W_k − W
        Bk -= B
        return U, private, Bk, ls, ws

    @staticmethod
    def _alone(a, b, xp, xi, W, B, train_rows):
        lo, hi = xp[a], xp[b]
        ls, ws = train_rows(a, b, xp[a : b + 1] - lo, xi[lo:hi], lo, W, B)
        return None, None, None, ls, ws
