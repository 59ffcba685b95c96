"""Child process: run one system on one train/test pair and print its metrics as JSON.

    python -m bench.worker '{"runner": "fasttext", "params": {...}, "pair": {...}}'

The last line of stdout is ``RESULT {json}``: the runner's metrics and predictions (scored by
the parent's scorer process, :mod:`bench.metrics`: importing scikit-learn here would count
against fastText's and VW's memory and cost seconds per run) plus

* ``peak_rss_mb`` — this process's own ``ru_maxrss`` (``resource.getrusage(RUSAGE_SELF)``),
  taken when the runner returns; the bowclf CLI runner reports the peak of its own children
  instead;
* ``hwm_rss_mb`` — the same peak read from ``VmHWM`` in ``/proc/self/status`` (Linux), a
  cross-check: Linux carries the parent's resident size at ``fork`` over ``exec`` into
  ``ru_maxrss`` (which is why the parent process is kept small), ``VmHWM`` starts afresh;
* ``base_rss_mb`` — ``VmHWM`` after start-up, before the system's library is imported.

Errors are reported as ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

MARKER = "RESULT "


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def hwm_mb() -> float | None:
    """Peak resident set size of this process image (``VmHWM``), or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def bowclf_fingerprint() -> dict[str, str]:
    """Short hashes of the bowclf package's source files (read without importing bowclf), so
    the report can tell when, and in which files, bowclf changed while the benchmark ran."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("bowclf")
    if spec is None or not spec.submodule_search_locations:
        return {}
    return {
        path.name: hashlib.sha1(path.read_bytes()).hexdigest()[:8]
        for root in spec.submodule_search_locations
        for path in sorted(Path(root).glob("*.py"))
    }


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` (runner, params, pair) in a scratch directory; never raises."""
    base = hwm_mb()
    workdir = Path(tempfile.mkdtemp(prefix="bowclf-bench-"))
    code = bowclf_fingerprint() if job["runner"].startswith("bowclf") else {}
    try:
        from bench.systems import get_runner

        metrics = get_runner(job["runner"])(job["pair"], job.get("params", {}), workdir)
        if code:
            metrics["bowclf_files"] = code
        if "peak_rss_mb" not in metrics:
            metrics["peak_rss_mb"] = _rss_mb()
            metrics["hwm_rss_mb"] = hwm_mb()
        return {"ok": True, "base_rss_mb": base, **metrics}
    except Exception as exc:  # noqa: BLE001 - the parent wants one line, whatever failed
        traceback.print_exc(file=sys.stderr)
        line = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return {"ok": False, "error": line}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(argv[0])
    result = run_job(job)
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
