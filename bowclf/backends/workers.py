"""Worker processes for the reading passes of out-of-core training.

Tokenising is pure Python under the GIL (strings, dictionaries, regular expressions), so
threads cannot share it between cores; processes can.  :class:`WorkerPool` runs a *job* on
``n`` worker processes of the standard library's :mod:`multiprocessing` (an explicit context:
the platform's default start method, ``fork``, ``spawn`` or ``forkserver``, all work): the
job object is sent to every worker (``job.start()`` there), item ``i`` of the input goes to
worker ``i % n`` (``job.step(item)``), the results come back **in item order**, and
``job.finish()`` of each worker is returned in worker order.  The fixed assignment lets a
worker keep state across its items (token counts, document frequencies) and the caller
merge them deterministically.

Replies to steps must stay small (a few numbers): a worker sends its reply while the
caller may be blocked sending it the next item, and a reply that fits the pipe's buffer is
what keeps both from waiting on each other (bulky results go through files).

Failures: an exception in a worker is raised again by the caller (its type and message; a
type that cannot be sent becomes a :class:`WorkerError` with the same message); a worker that
dies raises :class:`WorkerError`.  The workers ignore SIGINT (Ctrl-C interrupts the caller,
whose cleanup terminates them), exit when the caller's process is gone, and are stopped and
joined when the pool is closed, so none outlives it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

__all__ = ["Job", "WorkerError", "WorkerPool"]

_POLL_SECONDS = 0.5  # how often an idle worker checks that its caller is alive
_JOIN_SECONDS = 5.0


class WorkerError(RuntimeError):
    """A worker process died, or raised an exception that could not be sent back."""


class Job(Protocol):
    """What a :class:`WorkerPool` runs (a picklable object; its methods run in the workers)."""

    def start(self) -> None: ...

    def step(self, item: Any) -> Any: ...

    def finish(self) -> Any: ...


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`WorkerError` with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WorkerError(f"{type(exc).__name__}: {exc}")
    exc.__traceback__ = None
    return exc


def _serve(conn: Connection, parent: int) -> None:  # pragma: no cover - runs in a worker
    """A worker's loop: one reply ``(ok, value)`` per message, in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C interrupts the caller only
    # the caller's SIGTERM handler (the CLI's raises an exception) is not the worker's: it
    # is stopped with SIGTERM when the caller aborts, and must exit without a traceback
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # started with SIGINT blocked (_sigint_deferred)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    job: Any = None
    while True:
        while not conn.poll(_POLL_SECONDS):
            if os.getppid() != parent:
                return  # the caller is gone: nothing will read our replies
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "stop":
            return
        try:
            if kind == "job":
                job = payload
                job.start()
                reply = None
            elif kind == "step":
                reply = job.step(payload)
            else:  # "finish"
                reply, job = job.finish(), None
            conn.send((True, reply))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            job = None
            conn.send((False, _portable(exc)))


def _death_message(exitcode: int | None, method: str) -> str:
    """Why a worker may have died: killed (a negative exit code: out of memory, most often),
    or, when it was started afresh (``spawn``/``forkserver``: the worker first re-imports the
    calling script), a script that trains at import time, without a ``__main__`` guard."""
    message = f"a worker process ended unexpectedly (exit code {exitcode})"
    if exitcode is not None and exitcode < 0:
        return f"{message}: it was killed (out of memory?)"
    if method != "fork":
        return (
            f"{message}: with the {method!r} start method every worker first imports the "
            "script that started it, so a script that trains at import time must do it "
            "under `if __name__ == '__main__':`"
        )
    return message


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """SIGINT blocked in this thread while workers start: a fork or an exec keeps the blocked
    mask, so no worker acts on a Ctrl-C before its own code ignores it (:func:`_serve`), and
    a Ctrl-C meanwhile stays pending here and interrupts the caller as the block ends.
    (Ignoring SIGINT instead, as before, lost a Ctrl-C that came while the workers started.)"""
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError, OSError):  # no POSIX signal masks here
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class WorkerPool:
    """``n_workers`` processes running :class:`Job` objects (see the module doc).  Use as a
    context manager; ``start_method`` is a :mod:`multiprocessing` start method (default: the
    platform's); ``depth`` items at most wait or run on each worker."""

    def __init__(self, n_workers: int, *, start_method: str | None = None, depth: int = 2):
        if n_workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {n_workers}")
        context = multiprocessing.get_context(start_method)
        self.method = context.get_start_method()
        self.depth = depth
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._pending: list[deque[bool]] = []  # per worker: True for a step's reply
        try:
            with _sigint_deferred():
                for k in range(n_workers):
                    here, there = context.Pipe()
                    proc = context.Process(
                        target=_serve, args=(there, os.getpid()), name=f"bowclf-pass-{k}",
                        daemon=True,
                    )  # fmt: skip
                    # Kept before it starts: a Ctrl-C that another thread of this process
                    # receives (the mask above is this thread's) interrupts this one at once,
                    # and close() must still find every worker that started.
                    self._conns.append(here)
                    self._procs.append(proc)
                    self._pending.append(deque())
                    try:
                        proc.start()
                    finally:
                        there.close()
        except BaseException:
            self.close(abort=True)
            raise

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [p.pid for p in self._procs]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abort=exc_type is not None)

    def run(self, job: Job, items: Iterable[Any]) -> Iterator[Any]:
        """``job.step(item)`` of every item, in item order (item ``i`` on worker ``i % n``).
        Then call :meth:`finish` for the workers' ``job.finish()``."""
        n = len(self._conns)
        for k in range(n):
            self._send(k, ("job", job), step=False)
        sent = received = 0
        for item in items:
            k = sent % n
            while sum(self._pending[k]) >= self.depth:
                yield self._receive(received % n)
                received += 1
            self._send(k, ("step", item), step=True)
            sent += 1
        while received < sent:
            yield self._receive(received % n)
            received += 1

    def finish(self) -> list[Any]:
        """Each worker's ``job.finish()``, in worker order."""
        for k in range(len(self._conns)):
            self._send(k, ("finish", None), step=True)
        return [self._receive(k) for k in range(len(self._conns))]

    def _send(self, k: int, message: tuple[str, Any], *, step: bool) -> None:
        try:
            self._conns[k].send(message)
        except (BrokenPipeError, ConnectionError, EOFError):
            self._receive(k)  # raises the worker's error, or that it died
            raise WorkerError(f"worker process {self._procs[k].pid} stopped answering") from None
        self._pending[k].append(step)

    def _receive(self, k: int) -> Any:
        """The next step reply of worker ``k`` (earlier replies to ``job`` messages are read
        and checked on the way)."""
        while self._pending[k]:
            step = self._pending[k].popleft()
            ok, value = self._reply(k)
            if not ok:
                raise value
            if step:
                return value
        raise WorkerError("no reply is awaited from this worker")  # a bug, not a user error

    def _reply(self, k: int) -> tuple[bool, Any]:
        conn, proc = self._conns[k], self._procs[k]
        while True:
            ready = wait([conn, proc.sentinel])
            if conn in ready:
                try:
                    return conn.recv()
                except (EOFError, OSError):
                    pass  # died while sending: reported below
            proc.join(_JOIN_SECONDS)
            raise WorkerError(_death_message(proc.exitcode, self.method))

    def close(self, *, abort: bool = False) -> None:
        """Stop the workers (``abort``: at once, e.g. on an error or Ctrl-C) and wait for
        them; idempotent.  A Ctrl-C while they finish their last items turns the stop into an
        abort and is raised once every worker is gone; the abort itself runs with SIGINT
        deferred (:func:`_sigint_deferred`), so a second Ctrl-C cannot leave a worker
        running or a pipe open."""
        started = [(c, p) for c, p in zip(self._conns, self._procs, strict=True) if p.pid]
        interrupted: KeyboardInterrupt | None = None
        if not abort:
            try:
                for conn, _ in started:
                    with contextlib.suppress(OSError, ValueError):
                        conn.send(("stop", None))
                for _, proc in started:
                    proc.join(_JOIN_SECONDS)
            except KeyboardInterrupt as exc:
                interrupted = exc
        with _sigint_deferred():
            for _, proc in started:  # not the one a Ctrl-C stopped before it started
                if proc.exitcode is None:
                    proc.terminate()
            for _, proc in started:
                proc.join(_JOIN_SECONDS)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            for conn in self._conns:
                conn.close()
            self._conns, self._procs, self._pending = [], [], []
        if interrupted is not None:
            raise interrupted
