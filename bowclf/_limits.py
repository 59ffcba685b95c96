"""Bounds on model parameters, in one place: ``fit`` refuses what the model-file loader
would refuse, and the loader refuses what ``fit`` can never produce.

The estimators' ``_parameter_constraints`` and the CLI's options use these constants;
:mod:`bowclf.persist` checks a file's header against them before anything is allocated.
They are far above any useful setting (fastText's defaults: ``wordNgrams`` 1-5, ``maxn``
6, ``dim`` 100, 2M buckets) and low enough that a hostile header cannot make prediction
run for minutes or allocate gigabytes.
"""

from __future__ import annotations

import re
from typing import Any

#: Longest word n-gram (``ngrams``): features per document grow linearly with it.
MAX_NGRAMS = 16
#: Longest character n-gram of words (``maxn``, hence ``minn``): fastText uses 6.
MAX_CHAR_NGRAM = 32
#: Hash buckets (``buckets``); the loader also bounds vocabulary + buckets by memory.
MAX_BUCKETS = 2**28
#: Embedding dimension (``dim``).
MAX_DIM = 2**14
#: Vocabulary words kept (``max_features``) and minimum count.
MAX_VOCABULARY = 2**28
#: Length of a ``token_pattern`` regular expression, in characters.
MAX_PATTERN_CHARS = 1000


def _parser() -> Any:
    try:
        from re import _parser as parser  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse as parser
    return parser


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not an acceptable ``token_pattern``, or None when it is.

    Refused: patterns longer than :data:`MAX_PATTERN_CHARS`, invalid ones, and those with
    a repeat nested in an unbounded repeat (``(a+)+``, ``(a*)*``, ``(a|aa)+`` style
    backtracking is exponential in the length of a document: "catastrophic").
    """
    if not isinstance(pattern, str):
        return "is not a string"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"is longer than {MAX_PATTERN_CHARS} characters"
    parser = _parser()
    try:
        re.compile(pattern)
        tree = parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"is not a valid regular expression ({exc})"
    if _nested_repeat(tree, parser, inside_unbounded=False):
        return (
            "nests a repeat inside an unbounded repeat (such as (a+)+), which can take "
            "exponential time on long documents"
        )
    return None


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
_FIXED = ("LITERAL", "NOT_LITERAL", "IN", "ANY", "RANGE", "CATEGORY")


def _body(sub: Any) -> list:
    """The top-level items of a repeated sub-pattern, groups unwrapped."""
    items = list(sub)
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


def _nested_repeat(tree: Any, parser: Any, *, inside_unbounded: bool) -> bool:
    """A variable repeat directly inside an unbounded one whose body has no fixed part:
    ``(a+)+`` and ``(\\s*\\w+)*`` are flagged, ``[a-z]+(?:-[a-z]+)*`` is not."""
    for op, arg in tree:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            if inside_unbounded and high != low:
                return True
            unbounded = high == parser.MAXREPEAT or high > 1000
            body = _body(sub)
            fixed = any(str(item[0]) in _FIXED for item in body)
            if _nested_repeat(body, parser, inside_unbounded=unbounded and not fixed):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(arg[-1], parser, inside_unbounded=inside_unbounded):
                return True
        elif name == "BRANCH":
            for branch in arg[1]:
                if _nested_repeat(branch, parser, inside_unbounded=inside_unbounded):
                    return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(arg[1], parser, inside_unbounded=inside_unbounded):
                return True
    return False


def _options_class() -> type:
    from sklearn.utils._param_validation import Options

    return Options


def safe_pattern_constraint() -> Any:
    """A scikit-learn parameter constraint: a ``str`` ``token_pattern`` that
    :func:`pattern_problem` accepts (for ``_parameter_constraints``)."""
    Options = _options_class()

    class SafePattern(Options):
        def __init__(self) -> None:
            super().__init__(str, set())

        def is_satisfied_by(self, val: Any) -> bool:
            return isinstance(val, str) and pattern_problem(val) is None

        def __str__(self) -> str:
            return (
                f"a regular expression of at most {MAX_PATTERN_CHARS} characters without a "
                "repeat nested in an unbounded repeat"
            )

    return SafePattern()


# header params -> (minimum, maximum) of the integers fit accepts
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "ngrams": (1, MAX_NGRAMS),
    "minn": (0, MAX_CHAR_NGRAM),
    "maxn": (0, MAX_CHAR_NGRAM),
    "buckets": (0, MAX_BUCKETS),
    "dim": (1, MAX_DIM),
    "max_features": (1, MAX_VOCABULARY),
    "min_count": (1, 2**63 - 1),
}
_BOUND_NAMES = {"buckets": "number of buckets", "dim": "dimension dim"}


def param_problem(params: dict) -> str | None:
    """What in a model file's ``params`` ``fit`` would refuse, or None."""
    for key, (low, high) in _INT_BOUNDS.items():
        value = params.get(key)
        if key not in params or (value is None and key == "max_features"):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            shown = repr(value)[:40]
            return f"implausible {_BOUND_NAMES.get(key, key)} {shown} (fit accepts {low}..{high})"
    pattern = params.get("token_pattern")
    if pattern is not None:
        problem = pattern_problem(pattern)
        if problem is not None:
            return f"token_pattern {repr(pattern)[:60]} {problem}"
    return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux MemAvailable, else free
    physical pages), or None when it cannot be told."""
    import os

    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


#: Largest bound ``max|A|·max|B|·dim`` on the scores of a loaded model.  Rows are scaled to
#: unit l1 (or l2) norm, so this bounds every score of an l1 model; float32 overflows at
#: 3.4e38, so even unnormalised documents of 10⁸ tokens stay finite.  Training diverges (and
#: is refused) long before weights this large.
MAX_SCORE_BOUND = 1e30


def weight_problem(A: Any, B: Any) -> str | None:
    """Why the weights ``A`` (p×d) and ``B`` (c×d) cannot be used, or None."""
    import math

    import numpy as np

    if not (A.size and B.size):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        a = float(np.max(np.abs(A)))
        b = float(np.max(np.abs(B)))
    if not (math.isfinite(a) and math.isfinite(b)):
        return "model parameters contain NaN or infinity"
    if a * b * A.shape[1] > MAX_SCORE_BOUND:
        return (
            f"its weights are so large that scores overflow (max |A| {a:.3g}, max |B| "
            f"{b:.3g}); fit never writes such a model"
        )
    return None
