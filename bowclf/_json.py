"""Python values from numpy ones, for JSON and for printing: the one conversion of model
files (:mod:`bowclf.persist`), reports (:mod:`bowclf.report`), explanations, the server
and the command line's output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["json_safe", "plain"]


def plain(value: Any) -> Any:
    """A numpy scalar as the equal Python scalar (``np.str_('a')`` → ``'a'``, ``np.int64``
    → ``int``); anything else as it is (labels then compare, print and serialise alike)."""
    return value.item() if isinstance(value, np.generic) else value


def json_safe(value: Any, unknown: Callable[[Any], Any] = str) -> Any:
    """``value`` as strict JSON can hold it: dicts (keys as ``str``), lists, tuples and
    arrays recursively as lists, numpy scalars as Python scalars, non-finite floats as
    ``None`` (strict JSON has no NaN or infinity); any other value is ``unknown(value)``
    (default ``str``; a caller that must not store a lossy value raises there)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v, unknown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, unknown) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), unknown)
    value = plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return unknown(value)
