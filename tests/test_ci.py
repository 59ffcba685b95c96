"""CI checks lint and formatting as well as the tests (issue 20 item 17)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_ruff_and_the_tests():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in script.splitlines() if line.startswith("python")]
    assert "python -m pip install -e '.[test]'" in commands
    assert commands[-3:] == [
        "python -m ruff check .",
        "python -m ruff format --check .",
        "python -m pytest",
    ]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    test_extra = re.search(r"\ntest = \[(.*?)\n\]", pyproject, re.S)
    assert test_extra and '"ruff==' in test_extra.group(1)


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_tree_is_ruff_clean(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
