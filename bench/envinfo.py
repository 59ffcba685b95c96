"""The machine and software a benchmark ran on, for the report header."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from bench.common import REPO

PACKAGES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "scikit-learn": "scikit-learn",
    "bowclf": "bowclf",
    "fasttext": "fasttext-numpy2",
    "vowpalwabbit": "vowpalwabbit",
    "psutil": "psutil",
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "fasttext-numpy2":
            try:
                return metadata.version("fasttext")
            except metadata.PackageNotFoundError:
                pass
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average() -> tuple[float, float, float] | None:
    """The 1/5/15-minute load averages (other work on the machine makes timings noisy)."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def collect() -> dict[str, Any]:
    """Machine, versions and time stamp."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": cores,
        "cpu": _cpu_model(),
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: _version(dist) for name, dist in PACKAGES.items()},
        "git": _git_commit(),
        "load_average": load_average(),
    }


def markdown(info: dict[str, Any]) -> str:
    """A short markdown description of ``info``."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    ram = f"{info['ram_gb']:.1f} GiB RAM" if info.get("ram_gb") else "RAM unknown"
    load = info.get("load_average")
    load_s = f"; load average at start {load[0]:.2f}" if load else ""
    return (
        f"- Date: {info['date']}; bowclf commit {info['git']}\n"
        f"- Machine: {info['nproc']} cores ({info['cpu']}), {ram}, {info['os']}{load_s}\n"
        f"- Python {info['python']}; {versions}\n"
    )
