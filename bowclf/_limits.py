"""Bounds on model parameters, in one place: ``fit`` refuses what the model-file loader
would refuse, and the loader refuses what ``fit`` can never produce.

The estimators' ``_parameter_constraints`` and the CLI's options use these constants;
:mod:`bowclf.persist` checks a file's header against them before anything is allocated.
They are far above any useful setting (fastText's defaults: ``wordNgrams`` 1-5, ``maxn``
6, ``dim`` 100, 2M buckets) and low enough that a hostile header cannot make prediction
run for minutes or allocate gigabytes.
"""

from __future__ import annotations

import functools
import math
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
    a repeat nested in an unbounded repeat (``(a+)+``, ``(a*)*``), an alternation inside a
    repeat (``(a|aa)+``, ``(?:a|a)*b``), or a repeat of "almost anything" (``.``, a
    negated class) beside other items inside a repeat (``(.*a){20}``): their backtracking
    is exponential (or of a high degree) in the length of a document, "catastrophic".
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
            "nests a repeat or an alternation inside a repeat (such as (a+)+, (a|aa)+ or "
            "(.*a){20}), which can take exponential time on long documents; use a character "
            "class for alternatives of one character ([\\w-]+)"
        )
    if _adjacent_overlapping_repeats(tree, _sample_characters(pattern)):
        return (
            "has two unbounded repeats in a row that can match the same characters (such as "
            "\\w*\\w* or \\d+\\w+), which can take polynomial time of a high degree on long "
            "documents; merge them into one repeat"
        )
    return None


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
#: Repeats of more than this many times count as unbounded for nesting: ``(?:a?){25}a{25}``
#: backtracks through 2²⁵ splits, ``(?:\\d{1,3}\\.){3}`` stays acceptable.
_LONG_REPEAT = 8
_FIXED = ("LITERAL", "NOT_LITERAL", "IN", "ANY", "RANGE", "CATEGORY")


def _body(sub: Any) -> list:
    """The top-level items of a repeated sub-pattern, groups unwrapped."""
    items = list(sub)
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


def _has_branch(items: Any) -> bool:
    """An alternation among ``items`` or in their groups (not in nested repeats, which are
    checked on their own)."""
    for op, arg in items:
        name = str(op)
        if name == "BRANCH":
            return True
        if name == "SUBPATTERN" and _has_branch(arg[-1]):
            return True
    return False


def _broad(op: Any, arg: Any) -> bool:
    """An item matching almost any character: ``.``, a negated literal or class."""
    name = str(op)
    if name in ("ANY", "NOT_LITERAL"):
        return True
    return name == "IN" and any(str(o) == "NEGATE" for o, _ in arg)


def _broad_repeat_beside_others(body: list) -> bool:
    """A variable repeat of a broad item next to other items (``.*a``): repeated, the
    split between them is ambiguous at every position."""
    if len(body) < 2:
        return False
    for op, arg in body:
        if str(op) in _REPEATS and arg[0] != arg[1]:
            inner = _body(arg[2])
            if len(inner) == 1 and _broad(*inner[0]):
                return True
    return False


def _nested_repeat(
    tree: Any, parser: Any, *, inside_unbounded: bool, inside_repeat: bool = False
) -> bool:
    """A variable repeat directly inside an unbounded one whose body has no fixed part, an
    alternation inside a repeat, or a broad repeat beside other items inside a repeat:
    ``(a+)+``, ``(\\s*\\w+)*``, ``(a|aa)+`` and ``(.*a){20}`` are flagged, as is a
    variable repeat inside any repeat of its group whose body has no fixed part
    (``(?:\\w+){1,8}!``, ``(?:\\w{1,8}){1,8}!``: the group's copies split a run between
    them).  A fixed part counts only if it shares no character with the body's repeats
    (:func:`_separated`: ``(?:\\w\\w*)*!`` is flagged); ``[a-z]+(?:-[a-z]+)*`` and
    ``\\w+(?:-\\w+)*`` are not."""
    for op, arg in tree:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            unbounded = high == parser.MAXREPEAT or high > _LONG_REPEAT
            if (inside_unbounded or inside_repeat) and high != low:
                return True
            body = _body(sub)
            if high > 1 and (_has_branch(body) or _broad_repeat_beside_others(body)):
                return True
            fixed = _separated(body)
            if _nested_repeat(body, parser, inside_unbounded=unbounded and not fixed,
                              inside_repeat=high > 1 and not fixed):  # fmt: skip
                return True
        elif name in ("SUBPATTERN", "BRANCH", "ASSERT", "ASSERT_NOT"):
            subs = [arg[-1]] if name == "SUBPATTERN" else [arg[1]]
            subs = list(arg[1]) if name == "BRANCH" else subs  # a branch: (None, alternatives)
            if any(_nested_repeat(sub, parser, inside_unbounded=inside_unbounded,
                                  inside_repeat=inside_repeat) for sub in subs):  # fmt: skip
                return True
    return False


def _separated(body: list) -> bool:
    """Whether a repeated body has a fixed item (one character) that none of its repeats can
    match, so that its copies cannot split a run of characters between them (``-`` in
    ``(?:-\\w+)*``); an item that is not a plain character class counts, as before."""
    sample = _sample_characters("")
    repeats = [_char_matcher(_body(arg[2])[0]) for op, arg in body
               if str(op) in _REPEATS and len(_body(arg[2])) == 1]  # fmt: skip
    for op, arg in body:
        if str(op) not in _FIXED:
            continue
        fixed = _char_matcher((op, arg))
        if fixed is None or any(r is None for r in repeats):
            return True
        if not any(fixed(ch) and r(ch) for r in repeats for ch in sample):
            return True
    return False


def _sample_characters(pattern: str) -> list[str]:
    """Characters that tell character sets apart: ASCII, a few of other scripts, digits and
    spaces, and every character the pattern names (so two ranges overlap exactly when one
    holds an end of the other)."""
    extra = "\u00a0\u00e9\u00df\u0416\u4e2d\u0663\u2028\u3000\U0001f600"
    return [chr(i) for i in range(128)] + list(extra) + list(set(pattern))


def _char_matcher(item: Any) -> Any:
    """A predicate of the characters one item (a literal, ``.``, a class) matches, or None for
    anything else."""
    op, arg = str(item[0]), item[1]
    if op == "LITERAL":
        return lambda ch: ord(ch) == arg
    if op == "NOT_LITERAL":
        return lambda ch: ord(ch) != arg
    if op == "ANY":
        return lambda ch: ch != "\n"
    if op != "IN":
        return None
    negate = any(str(o) == "NEGATE" for o, _ in arg)
    tests = []
    for o, a in arg:
        name = str(o)
        if name == "LITERAL":
            tests.append(lambda ch, a=a: ord(ch) == a)
        elif name == "RANGE":
            tests.append(lambda ch, a=a: a[0] <= ord(ch) <= a[1])
        elif name == "CATEGORY":
            tests.append(lambda ch, a=str(a): _in_category(ch, a))
        elif name != "NEGATE":
            return None  # anything unusual: not compared
    return lambda ch: any(t(ch) for t in tests) != negate


def _in_category(ch: str, category: str) -> bool:
    base = {
        "DIGIT": ch.isdecimal(),
        "SPACE": ch.isspace(),
        "WORD": ch.isalnum() or ch == "_",
        "LINEBREAK": ch in "\n\r\u2028\u2029",
    }
    for name, value in base.items():
        if category.endswith("NOT_" + name):
            return not value
        if category.endswith(name):
            return value
    return True  # unknown: as if it matched


def _unbounded_class(item: Any) -> Any:
    """The predicate of an unbounded repeat of one character item (``\\w*``, ``[a-z]+``,
    ``.*``), or None."""
    if str(item[0]) not in _REPEATS:
        return None
    low, high, sub = item[1]
    body = _body(sub)
    if high <= _LONG_REPEAT or len(body) != 1:
        return None
    return _char_matcher(body[0])


def _adjacent_overlapping_repeats(tree: Any, sample: list[str], *, top: bool = True) -> bool:
    """Unbounded repeats of one character item in a row (items that may match nothing
    between them) whose sets share a character, with something after them that can fail:
    ``\\w*\\w*!``, ``\\d+-?\\w+x``.  When it fails, every split of a run of shared
    characters between them is tried, so k of them take n^k steps at each start.  Fine: at
    the very end of the pattern when every item after the first may match nothing (the
    first, greedy, attempt matches: ``[A-Za-z]+'?[a-z]*``); ``\\w+(?:-\\w+)*`` and
    ``[a-z]+[0-9]*x``.  An anchor does not save them (``\\B`` is at almost every position,
    ``\\b`` before ``\\S``-like classes too).  Checked in every sequence of the pattern
    (inside a group, whatever follows the group counts: flagged)."""
    items = list(tree)
    for i, item in enumerate(items):
        first = _unbounded_class(item)
        if first is None:
            continue
        run, last = 1, i  # the repeats sharing characters with this one, and the last of them
        for j in range(i + 1, len(items)):
            second = _unbounded_class(items[j])
            if second is not None and any(first(ch) and second(ch) for ch in sample):
                run, last = run + 1, j
            later = items[j]
            if str(later[0]) not in _REPEATS or later[1][0] != 0:
                break  # an item that must match something ends the run
        # at the very end, with every item after the first optional: the first, greedy,
        # attempt matches (the first repeat takes the run, the others nothing)
        at_end = (
            top
            and last == len(items) - 1
            and all(str(x[0]) in _REPEATS and x[1][0] == 0 for x in items[i + 1 :])
        )
        if run >= 2 and not at_end:
            return True
    for op, arg in items:
        name = str(op)
        nested = []
        if name in _REPEATS:
            nested = [arg[2]]
        elif name == "SUBPATTERN":
            nested = [arg[-1]]
        elif name == "BRANCH":
            nested = list(arg[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            nested = [arg[1]]
        if any(_adjacent_overlapping_repeats(sub, sample, top=False) for sub in nested):
            return True
    return False


def check_token_pattern(estimator: Any) -> None:
    """Raise scikit-learn's ``InvalidParameterError`` saying why ``estimator.token_pattern``
    is refused (:func:`pattern_problem`), before its ``_parameter_constraints`` would say only
    what is accepted; call it first in ``_validate_params``."""
    pattern = getattr(estimator, "token_pattern", None)
    problem = pattern_problem(pattern) if isinstance(pattern, str) else None
    if problem is not None:
        from sklearn.utils._param_validation import InvalidParameterError

        raise InvalidParameterError(
            f"The 'token_pattern' parameter of {type(estimator).__name__}, "
            f"{repr(pattern)[:60]}, {problem}."
        )


def safe_pattern_constraint() -> Any:
    """A scikit-learn parameter constraint: a ``str`` ``token_pattern`` that
    :func:`pattern_problem` accepts (for ``_parameter_constraints``)."""
    from sklearn.utils._param_validation import Options

    class SafePattern(Options):
        def __init__(self) -> None:
            super().__init__(str, set())

        def is_satisfied_by(self, val: Any) -> bool:
            return isinstance(val, str) and pattern_problem(val) is None

        def __str__(self) -> str:
            return (
                f"a regular expression of at most {MAX_PATTERN_CHARS} characters without a "
                "repeat or an alternation nested in a repeat"
            )

    return SafePattern()


_INT64 = 2**63 - 1
_Rule = tuple[Any, str]  # (accepts(value) -> bool, what is accepted, in words)


def _ints(low: int, high: int | None = None, words: str | None = None) -> _Rule:
    """Integers (not booleans) in ``low..high``; an open top is bounded by int64."""
    top = _INT64 if high is None else high
    shown = words or (f"{low}..{high}" if high is not None else f"an integer >= {low}")
    return (lambda v: is_int(v) and low <= v <= top), shown


def _reals(low: float, high: float | None, closed: str) -> _Rule:
    """Finite numbers between ``low`` and ``high`` (``closed``: which ends are included)."""
    left, right = closed in ("left", "both"), closed in ("right", "both")

    def accepts(v: Any) -> bool:
        if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)):
            return False
        return (v >= low if left else v > low) and (
            high is None or (v <= high if right else v < high)
        )

    if high is None:
        return accepts, f"a number {'>=' if left else '>'} {low}"
    return accepts, f"a number in {'[' if left else '('}{low}, {high}{']' if right else ')'}"


def _names(*names: str) -> _Rule:
    return (lambda v: isinstance(v, str) and v in names), " or ".join(map(repr, sorted(names)))


def is_int(v: Any) -> bool:
    """An integer and not a boolean (``True`` is an ``int`` to Python), as every header
    value and parameter is checked."""
    return isinstance(v, int) and not isinstance(v, bool)


_BOOL: _Rule = (lambda v: isinstance(v, bool), "true or false")
_NONE: _Rule = (lambda v: v is None, "null")
_WEIGHTS: _Rule = (
    lambda v: isinstance(v, dict) and all(_reals(0, None, "left")[0](w) for w in v.values()),
    "a mapping of labels to weights",
)


@functools.cache
def _rules(text: bool) -> dict[str, tuple[_Rule, ...]]:
    """Parameter -> the values ``fit`` accepts: the estimators' ``_parameter_constraints``
    without scikit-learn (a test checks that they agree), with every number finite and every
    integer within int64.  ``text``: :class:`~bowclf.TextClassifier`'s, else
    :class:`~bowclf.BowClassifier`'s (a text model's classifier section)."""
    from .losses import LOSSES  # the registries: each name is written once
    from .optim import OPTIMIZERS

    rules = {
        "dim": (_ints(1, MAX_DIM),),
        "epochs": (_ints(1), _names("auto")),
        "lr": (_reals(0, None, "neither"), _names("auto")),
        "optimizer": (_names(*OPTIMIZERS, "auto"),),
        "batch_size": (_ints(1), _names("auto")),
        "normalize": (_names("l1", "l2"), _NONE),
        "loss": (_names(*LOSSES),),
        "class_weight": (_names("balanced"), _WEIGHTS, _NONE),
        "threshold": (_reals(0, 1, "both"), _NONE),
        "early_stopping": (_BOOL,),
        "validation_fraction": (_reals(0, 1, "neither"),),
        "n_iter_no_change": (_ints(1),),
        "tol": (_reals(0, None, "left"),),
        "random_state": (_ints(0, 2**32 - 1), _NONE),
        "verbose": (_ints(0), _BOOL),
        "n_jobs": (_ints(-_INT64, -1, "an integer <= -1"), _ints(1), _NONE),
    }
    if not text:
        return rules | {"warm_start": (_BOOL,), "total_examples": (_ints(1), _NONE)}
    return rules | {
        "normalize": (_names("auto", "l1", "l2"), _NONE),
        "lowercase": (_BOOL,),
        "tokenizer": (_names("default", "whitespace"),),  # a function is never saved
        "token_pattern": (_NONE,),  # a string: pattern_problem
        "min_count": (_ints(1),),
        "max_features": (_ints(1, MAX_VOCABULARY), _NONE),
        "ngrams": (_ints(1, MAX_NGRAMS),),
        "buckets": (_ints(0, MAX_BUCKETS),),
        "minn": (_ints(0, MAX_CHAR_NGRAM),),
        "maxn": (_ints(0, MAX_CHAR_NGRAM),),
        "use_idf": (_BOOL,),
        "supervised_weight": (_reals(0, None, "left"),),
        "ngram_weight": (_reals(0, None, "neither"), _names("auto")),
        "sublinear_tf": (_BOOL, _names("auto")),
        "min_df": (_ints(1), _names("auto")),
        "prune_features": (_BOOL,),
        "pretrained_vectors": ((lambda v: isinstance(v, str), "a path"), _NONE),
    }


_SHOWN_NAMES = {
    "buckets": "number of buckets",
    "dim": "dimension dim",
    "n_jobs": "n_jobs (threads)",
}


def param_problem(params: dict, *, text: bool) -> str | None:
    """What in a model file's ``params`` ``fit`` would refuse, or None: every parameter of
    :class:`~bowclf.TextClassifier` (``text``) or :class:`~bowclf.BowClassifier` in the range
    ``fit`` accepts (names neither has are ignored, as the loader ignores them), a text
    model's ``token_pattern`` safe and its tokenisation parameters consistent.  The one check
    of a file's parameters, for :func:`bowclf.load` and :func:`bowclf.persist.load_predictor`
    alike; it imports no scikit-learn."""
    for key, value in params.items():
        problem = _value_problem(key, value, text=text)
        if problem is not None:
            return problem
    return _tokenisation_problem(params) if text else None


def _value_problem(key: str, value: Any, *, text: bool) -> str | None:
    """Why ``fit`` would refuse ``value`` for the parameter ``key`` on its own, or None (also
    for a name the estimator does not have).  A number or an integer is never a boolean."""
    if key == "token_pattern" and text and value is not None:
        problem = pattern_problem(value)
        return None if problem is None else f"token_pattern {repr(value)[:60]} {problem}"
    rules = _rules(text).get(key, ())
    if not rules or any(accepts(value) for accepts, _ in rules):
        return None
    accepted = " or ".join(words for _, words in rules)
    return f"implausible {_SHOWN_NAMES.get(key, key)} {repr(value)[:40]} (fit accepts {accepted})"


def _tokenisation_problem(params: dict) -> str | None:
    """The checks spanning a text model's tokenisation parameters
    (:func:`bowclf.vectorizer.transform.check_transform_params`), defaults for those missing."""
    from . import defaults
    from .vectorizer.transform import check_transform_params

    try:
        check_transform_params(
            tokenizer=params.get("tokenizer", defaults.TOKENIZER),
            token_pattern=params.get("token_pattern"),
            ngrams=params.get("ngrams", defaults.NGRAMS),
            buckets=params.get("buckets", defaults.BUCKETS),
            minn=params.get("minn", defaults.MINN), maxn=params.get("maxn", defaults.MAXN),
            dtype="float32",
        )  # fmt: skip
    except ValueError as exc:
        return str(exc)
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


def _row_blocks(X: Any, cells: int) -> Any:
    """``X`` a block of rows of about ``cells`` values at a time (a 1-D ``X`` whole): what
    the checks below scan instead of making temporaries of ``X``'s size."""
    if X.ndim < 2:
        yield X
        return
    step = max(1, cells // max(1, math.prod(X.shape[1:])))
    for i in range(0, X.shape[0], step):
        yield X[i : i + step]


def _max_abs(X: Any, cells: int = 1 << 20) -> float:
    """``max |x|`` over ``X``, a block at a time (:func:`_row_blocks`: no temporary of
    ``X``'s size, 840 MB for a 2.1M×100 ``A``, which doubled the peak memory of loading a
    model).  NaN or infinity as soon as a block holds one."""
    import numpy as np

    best = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for block in _row_blocks(X, cells):
            m = float(np.max(np.abs(block)))
            if not math.isfinite(m):
                return m
            best = max(best, m)
    return best


def all_finite(X: Any, cells: int = 1 << 20) -> bool:
    """``np.isfinite(X).all()`` a block at a time (:func:`_row_blocks`): no boolean
    temporary of ``X``'s size (210 MB for a 2.1M×100 ``A``)."""
    import numpy as np

    return all(bool(np.isfinite(block).all()) for block in _row_blocks(X, cells))


def weight_problem(A: Any, B: Any) -> str | None:
    """Why the weights ``A`` (p×d) and ``B`` (c×d) cannot be used, or None."""
    if not (A.size and B.size):
        return None
    a, b = _max_abs(A), _max_abs(B)
    if not (math.isfinite(a) and math.isfinite(b)):
        return "model parameters contain NaN or infinity"
    if a * b * A.shape[1] > MAX_SCORE_BOUND:
        return (
            f"its weights are so large that scores overflow (max |A| {a:.3g}, max |B| "
            f"{b:.3g}); fit never writes such a model"
        )
    return None
