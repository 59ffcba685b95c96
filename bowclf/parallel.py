"""Multi-core training: Python threads over scipy's compiled sparse kernels (which release
the GIL), with results that do not depend on the number of threads.

Each minibatch step spends most of its time in two sparse kernels (:mod:`bowclf._math`):

- the hidden vectors ``H = X̃_b·W`` (:func:`~bowclf._math.sparse_hidden_into`): the batch's
  rows are cut into ``K`` runs of consecutive rows with about equal non-zeros, and thread
  ``k`` computes the rows of ``H`` of run ``k``;
- the update ``W += X̃_bᵀ·GB`` (:func:`~bowclf._math.add_scaled_gradient_A`): thread ``k``
  applies the batch's entries of the features ``j`` with ``j mod K = k``, in the batch's
  order, so it alone writes those rows of ``W``.

Every output row is thus computed by one thread with exactly the operations, in exactly the
order, of the one-thread kernel: **any number of threads gives bit-for-bit the model of one
thread** (same seed ⇒ same model file, for every ``n_jobs``), however the threads are
scheduled; only the speed changes.  Everything else in a step (the loss, the gradients, the
update of ``B``, the optimiser's state) stays on the calling thread.  A kernel call with
little work (:data:`MIN_SPLIT_WORK`) runs on the calling thread: handing it to another thread
would cost more than it saves; so does any call while splitting measures slower than not
splitting (the other cores busy with other work, :class:`_Choice`).

The kernels are bound by memory latency: ``W`` (p×d, hundreds of MB) is read at the batch's
random feature rows.  :meth:`KernelThreads.step_reading_ahead` therefore offers a second
way to use a worker: while the calling thread runs a whole step unsplit, a worker copies
the *next* batch's rows of ``W`` into a scratch buffer that nobody reads, so the next step
finds them in the shared cache.  Those reads change no value (the step's arithmetic is the
one-thread step's), so this too gives the one-thread model.  It is on unless
:data:`READ_AHEAD` says otherwise (``None``: kept while it measures faster; ``False``: never).

:func:`kernel_threads` installs the threads for the current context (``contextvars``: other
threads and concurrent fits are unaffected); :func:`prefetch` overlaps reading the next block
of an out-of-core corpus with training on the current one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np

from . import _math

__all__ = [
    "MIN_SPLIT_WORK",
    "KernelThreads",
    "kernel_threads",
    "prefetch",
    "process_may_exist",
    "resolve_n_jobs",
]

#: Kernel calls with fewer multiply-adds (non-zeros × d) than this run on the calling thread.
#: Below it the hand-off to another thread costs about what it saves (bench/RESULTS-threads.md):
#: short-text batches (trec, sst2: ~20 non-zeros a row) stay on one thread.
MIN_SPLIT_WORK = 1 << 18
#: Calls between two tries of the slower way (split or not) of a kernel (:class:`_Choice`).
RETRY = 50
#: Largest read-ahead (bytes of rows of ``W``) a worker makes for the next step: more than
#: the caches hold would evict the rows the calling thread is working on.
_AHEAD_BYTES = 4 << 20

#: Whether a worker reads the next step's rows ahead (:meth:`KernelThreads.step_reading_ahead`):
#: ``True`` — always (the default: a whole-process ``bowclf fit`` took less time than with the
#: kernel splits when the second core was free, more when it was busy,
#: bench/RESULTS-threads.md); ``None`` — when it measures faster than the step without it (the
#: timings proved too noisy to choose well);
#: ``False`` — never.  Every setting trains the same model.
READ_AHEAD: bool | None = True

T = TypeVar("T")


def _read_rows(W: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """Copy the rows ``rows`` of ``W`` into ``out`` (numpy releases the GIL meanwhile): this
    brings them into the caches the calling thread's next kernels read them from.
    ``mode='clip'`` (the rows are valid feature indices, so it changes nothing) copies
    straight into ``out``; the default mode first copies into a temporary of its size, which
    raised the peak memory of a fit (bench/RESULTS-threads.md)."""
    np.take(W, rows, axis=0, out=out, mode="clip")


def process_may_exist(pid: int) -> bool:
    """Whether process ``pid`` of this host may still run: False only when the system says
    it does not, so that what it left behind (a token cache, a server's copy of its model)
    may be removed.  True for this process, for another user's, for a number that is no
    process id, and on Windows (where ``os.kill`` would signal the process, not ask)."""
    if pid <= 0 or pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads (or worker processes) for ``n_jobs``, scikit-learn's convention.

    ``None`` → every core (``os.cpu_count()``); ``-1`` too; a negative ``-k`` → all cores
    but ``k − 1``, at least 1; a positive number → that many, but never more than the cores:
    threads beyond them cannot run at once, only compete (and ``n_jobs=100000`` ran out of
    threads the system would start).  Any number trains the same model, so the cap changes
    only the speed.  ``0`` is refused (the estimators' ``_parameter_constraints`` refuse it
    first)."""
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not a number of threads: use None (every core) or >= 1")
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return min(int(n_jobs), cores)


class _Worker:
    """A thread that runs one task at a time when handed one: two locks as the hand-off (the
    leanest wake-up CPython has; an executor's futures cost several times more per task)."""

    def __init__(self, name: str) -> None:
        self._go = threading.Lock()
        self._done = threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task: Callable[[], None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            task = self._task
            if task is None:
                return
            try:
                task()
            except BaseException as exc:  # handed to the caller of wait()
                self._error = exc
            self._done.release()

    def start(self, task: Callable[[], None]) -> None:
        self._task = task
        self._go.release()

    def wait(self) -> None:
        self._done.acquire()
        self._task = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def stop(self) -> None:
        self._task = None
        self._go.release()
        self._thread.join()


class _Choice:
    """Whether splitting a kernel pays right now: running means of the seconds per unit of
    work with and without the split, the faster way taken, the other tried again every
    :data:`RETRY` calls (the other cores may have become busy or free).  Either way gives
    the same values, so this choice changes the speed only."""

    def __init__(self) -> None:
        self.rate: list[float | None] = [None, None]  # [one thread, split]
        self.calls = 0

    def split(self) -> bool:
        self.calls += 1
        one, split = self.rate
        if split is None or one is None:
            return split is None  # measure both ways first
        faster = split <= one
        return faster != (self.calls % RETRY == 0)

    def record(self, split: bool, seconds: float, work: int) -> None:
        rate, old = seconds / max(work, 1), self.rate[split]
        self.rate[split] = rate if old is None else old + 0.1 * (rate - old)


class KernelThreads:
    """The two sparse kernels of a minibatch step split over ``n_jobs`` threads (the calling
    one and ``n_jobs − 1`` workers); see the module docstring.  Close it (or use it as a
    context manager) to stop the workers."""

    def __init__(self, n_jobs: int, min_work: int | None = None) -> None:
        if n_jobs < 2:
            raise ValueError("KernelThreads needs at least 2 threads")
        self.n_jobs = int(n_jobs)
        self.min_work = MIN_SPLIT_WORK if min_work is None else int(min_work)
        self._workers = [_Worker(f"bowclf-kernel-{k}") for k in range(1, self.n_jobs)]
        self._hidden, self._update, self._ahead = _Choice(), _Choice(), _Choice()
        self._scratch: np.ndarray | None = None
        self._reading = False  # a worker is reading ahead: the kernels run unsplit

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> KernelThreads:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _split(self, nnz: int, d: int, rows: int) -> int:
        """Threads for a kernel call: 1 when the work is too small to pay a hand-off (or
        while a worker reads ahead)."""
        if self._reading or nnz * d < self.min_work:
            return 1
        return min(self.n_jobs, rows)

    def step_reading_ahead(self, W: np.ndarray, rows: np.ndarray, step: Callable[[], T]) -> T:
        """``step()`` (a minibatch step, on the calling thread) while a worker reads the rows
        ``rows`` of ``W`` (the next batch's features) into a scratch buffer, so that the next
        step finds them in cache instead of waiting on memory.

        The reads change nothing (the scratch buffer is never used), so the step's values
        are those of one thread whatever the timing; its kernels run unsplit meanwhile.
        :data:`READ_AHEAD` says whether to read ahead (with ``None`` it is measured like
        the kernel splits, :class:`_Choice`, against this step without reading ahead, its
        kernels split as they choose); a step with less than :attr:`min_work`
        multiply-adds just runs.
        """
        d = W.shape[1]
        ahead = READ_AHEAD
        if rows.size * d < self.min_work or not (self._ahead.split() if ahead is None else ahead):
            started = time.perf_counter()
            result = step()
            if rows.size * d >= self.min_work:
                self._ahead.record(False, time.perf_counter() - started, rows.size)
            return result
        started = time.perf_counter()
        cap = max(1, _AHEAD_BYTES // (d * W.itemsize))
        rows = rows[:cap]
        scratch = self._scratch
        if scratch is None or scratch.shape[1] != d or scratch.dtype != W.dtype:
            scratch = self._scratch = np.empty((cap, d), dtype=W.dtype)
        worker = self._workers[0]
        worker.start(functools.partial(_read_rows, W, rows, scratch[: rows.size]))
        self._reading = True
        try:
            result = step()
        finally:
            self._reading = False
            worker.wait()
        self._ahead.record(True, time.perf_counter() - started, rows.size)
        return result

    def _run(self, kernel: Callable[..., object], parts: list[tuple]) -> None:
        """``kernel(*parts[k])`` for ``k ≥ 1`` on the workers and ``k = 0`` here, then wait.
        The parts are cut beforehand, on this thread: the workers then hold the GIL only to
        enter the compiled kernel, which releases it."""
        workers = self._workers[: len(parts) - 1]
        for worker, args in zip(workers, parts[1:], strict=False):
            worker.start(functools.partial(kernel, *args))
        try:
            kernel(*parts[0])
        finally:
            errors = []
            for worker in workers:
                try:
                    worker.wait()
                except BaseException as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]

    def hidden_into(self, indptr, indices, data, W, out) -> np.ndarray:
        """``out += X̃_b·W`` (:func:`bowclf._math.sparse_hidden_into`), thread ``k``
        computing the ``k``-th run of rows (runs of about equal non-zeros)."""
        n = out.shape[0]
        nnz = int(indptr[-1] - indptr[0])
        K = self._split(nnz, out.shape[1], n)
        if K < 2:
            return _math.hidden_kernel(indptr, indices, data, W, out)

        def parts():
            goals = indptr[0] + nnz * np.arange(1, K) // K
            cuts = [0, *np.minimum(np.searchsorted(indptr, goals), n).tolist(), n]
            for r0, r1 in zip(cuts[:-1], cuts[1:], strict=True):
                if r1 > r0:
                    a, b = indptr[r0], indptr[r1]
                    yield indptr[r0 : r1 + 1] - a, indices[a:b], data[a:b], W, out[r0:r1]

        self._split_or_not(self._hidden, _math.hidden_kernel, (indptr, indices, data, W, out),
                           parts, nnz)  # fmt: skip
        return out

    def update_into(self, indptr, indices, data, GB, W) -> np.ndarray:
        """``W += X̃_bᵀ·GB`` (:func:`bowclf._math.add_scaled_gradient_A`), thread ``k``
        applying the entries of the features ``j ≡ k (mod K)`` in the batch's order."""
        nnz = int(indptr[-1] - indptr[0])
        K = self._split(nnz, GB.shape[1], W.shape[0])
        if K < 2:
            return _math.update_kernel(indptr, indices, data, GB, W)

        def parts():
            lo = indptr[0]
            ptr, idx, val = indptr - lo, indices[lo : lo + nnz], data[lo : lo + nnz]
            owner = idx % K
            before = np.zeros(nnz + 1, dtype=ptr.dtype)  # thread k's entries before each
            for k in range(K):
                mine = owner == k
                np.cumsum(mine, dtype=ptr.dtype, out=before[1:])
                yield before[ptr], idx[mine], val[mine], GB, W

        self._split_or_not(self._update, _math.update_kernel, (indptr, indices, data, GB, W),
                           parts, nnz)  # fmt: skip
        return W

    def _split_or_not(self, choice, kernel, args, parts, nnz: int) -> None:
        """``kernel(*args)`` on the calling thread, or on the threads as ``parts()`` (each
        thread's arguments), as ``choice`` says; its time is recorded for the next choice."""
        split, started = choice.split(), time.perf_counter()
        if split:
            self._run(kernel, list(parts()))
        else:
            kernel(*args)
        choice.record(split, time.perf_counter() - started, nnz)


@contextlib.contextmanager
def kernel_threads(n_jobs: int) -> Iterator[KernelThreads | None]:
    """Split the sparse kernels of :mod:`bowclf._math` over ``n_jobs`` threads in this
    context (nothing for ``n_jobs ≤ 1``); the pool is stopped on exit."""
    if n_jobs <= 1:
        yield None
        return
    with KernelThreads(n_jobs) as threads:
        token = _math.KERNEL_THREADS.set(threads)
        try:
            yield threads
        finally:
            _math.KERNEL_THREADS.reset(token)


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in their order while a background thread already produces the next
    ``depth`` of them (e.g. reads and prepares the next block of an out-of-core corpus while
    the current one trains).  The producer starts an item only when fewer than ``depth``
    produced items wait to be taken, so at most ``depth + 1`` items are alive at once (the
    consumer's and ``depth`` ahead, one of them possibly in the making).  An exception of the
    producer is raised here; if the consumer stops early the producer is stopped before its
    next item and joined."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    slots = threading.Semaphore(depth)  # items the producer may make before one is taken
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            iterator = iter(items)
            while True:
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                item = next(iterator, done)
                if item is done:
                    break
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
            slots.release()  # the producer may start the next item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # free a producer blocked on a full queue
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
