"""Run a child process with a timeout and measure *its own* wall time and peak RSS.

The peak RSS comes from ``os.wait4``, which returns the ``rusage`` of exactly the child that was
waited for (``ru_maxrss`` in KiB on Linux), so several children in a row are measured
separately — unlike ``RUSAGE_CHILDREN``, which is the maximum over every child ever reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Kill a child whose process tree's resident size exceeds this many MB (None: no limit).
#: Protects the other users of a shared machine from the OOM killer. Set by the parent.
MEMORY_LIMIT_MB: float | None = None


def default_memory_limit_mb() -> float | None:
    """75 % of the memory available now (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return 0.75 * int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


@dataclass
class ChildResult:
    """Outcome of one child process."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    maxrss_mb: float
    timed_out: bool
    rss_killed_mb: float | None = None

    def error_line(self) -> str:
        """One line describing why the child failed (last non-empty stderr line)."""
        if self.rss_killed_mb is not None:
            return (
                f"killed: its processes used {self.rss_killed_mb / 1024:.1f} GB, above the "
                f"memory limit"
            )
        if self.timed_out:
            return f"timed out after {self.wall_s:.0f} s"
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        tail = lines[-1] if lines else "no output"
        return f"exit {self.returncode}: {tail[:300]}"


def run_child(
    argv: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    new_session: bool = True,
) -> ChildResult:
    """Run ``argv``; kill it (its process group, with ``new_session``) after ``timeout`` s.

    stdout/stderr go to temporary files (no pipe dead-locks, no polling threads), and the
    child is reaped with ``os.wait4`` to get its own resource usage. A child started with
    ``new_session=False`` stays in the caller's process group, so killing the caller's group
    kills it too (used for grandchildren).
    """
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=new_session
        )
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            try:
                if new_session:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill)
        timer.start()
        over: list[float] = []
        done = threading.Event()
        if MEMORY_LIMIT_MB is not None and new_session:
            threading.Thread(
                target=_watch_memory,
                args=(proc.pid, MEMORY_LIMIT_MB, done, over, _kill),
                daemon=True,
            ).start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # e.g. Ctrl-C in the parent: do not leave the child running
            _kill()
            os.waitpid(proc.pid, 0)
            raise
        finally:
            timer.cancel()
            done.set()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
            wall_s=wall,
            maxrss_mb=usage.ru_maxrss / 1024.0,
            timed_out=killed.is_set() and not over,
            rss_killed_mb=over[0] if over else None,
        )


def _watch_memory(
    pid: int, limit_mb: float, done: threading.Event, over: list[float], kill: Callable[[], None]
) -> None:
    """Poll the resident size of ``pid`` and its descendants; kill them above ``limit_mb``."""
    try:
        import psutil  # noqa: F401 - optional (bench extra)
    except ImportError:
        return
    while not done.wait(0.5):
        rss = _tree_rss_mb(pid)
        if rss > limit_mb:
            over.append(rss)
            kill()
            return
