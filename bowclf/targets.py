"""Targets and example weights of :class:`bowclf.BowClassifier`, as pure functions.

The estimator calls these and stores what they return (it alone sets its fitted attributes):
labels become a CSR target matrix ``Y`` (n×c, one-hot rows for single labels, the 0/1
indicator rows for multi-label), ``class_weight`` and ``sample_weight`` become one weight per
example.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

# LabelEncoder's own sorting of distinct labels, without sklearn.preprocessing: that package
# loads scipy.interpolate and scipy.optimize, which a single-label fit never needs; with
# scipy.stats deferred too (bowclf.cli.deferred_imports) the CLI's process starts tens of MiB
# smaller.
from sklearn.utils._encode import _unique
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, column_or_1d

from .training import check_classes

__all__ = [
    "check_target_type",
    "class_weights",
    "codes",
    "example_weights",
    "fit_classes",
    "label_set_binarizer",
    "mean_one",
    "mean_one_class_weights",
    "read_targets",
    "target_matrix",
]

_DTYPE = np.float32


def read_targets(y) -> tuple[np.ndarray | sp.csr_array, bool]:
    """``y`` as an array checked to be classification targets, and whether it is a
    multi-label indicator matrix (a single column becomes 1-d, with a warning).

    A sparse indicator stays sparse (CSR): with many labels the dense n×c matrix would not
    fit, and :func:`target_matrix` only needs its non-zeros."""
    if sp.issparse(y):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.toarray()
        else:
            y = sp.csr_array(y)
            check_target_type(y)
            if _target_type(y) != "multilabel-indicator":
                raise ValueError("a sparse y must be a 0/1 multi-label indicator matrix")
            return y, True
    y_arr = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = column_or_1d(y_arr, warn=True)
    check_target_type(y_arr)
    return y_arr, _target_type(y_arr) == "multilabel-indicator"


def as_indicator_or_labels(y):
    """``y`` of :class:`~bowclf.TextClassifier` with scikit-learn's reading of two shapes
    that are otherwise ambiguous: a single column (array or sparse) becomes one label per
    document (``column_or_1d``, warning), and a sequence of equal-length rows holding only
    0/1 numbers (``type_of_target``: ``'multilabel-indicator'``) becomes that indicator
    array instead of label collections.  Anything else is returned as it is."""
    if sp.issparse(y):
        return column_or_1d(y.toarray(), warn=True) if y.shape[1:] == (1,) else y
    if isinstance(y, np.ndarray):
        return column_or_1d(y, warn=True) if y.ndim == 2 and y.shape[1] == 1 else y
    if not isinstance(y, (list, tuple)) or not y:
        return y
    rows = [r for r in y if isinstance(r, (list, tuple))]
    if len(rows) < len(y) or len({len(r) for r in rows}) != 1:
        return y
    binary = all(
        isinstance(v, (bool, int, np.bool_, np.integer)) and v in (0, 1) for r in rows for v in r
    )
    if binary and _target_type(np.asarray(rows)) == "multilabel-indicator":
        return np.asarray(rows)
    return y


def fit_classes(y_arr: np.ndarray, classes=None) -> np.ndarray:
    """The classes of single labels: ``classes`` when given (``y_arr`` must use only them),
    else the distinct labels of ``y_arr``, sorted as :class:`~sklearn.preprocessing.LabelEncoder`
    sorts them (its ``_unique``); at least two classes."""
    if classes is not None:
        found = _unique(np.asarray(classes))
        unknown = np.setdiff1d(np.unique(y_arr), found)
        if unknown.size:
            raise ValueError(f"y has labels not in `classes`: {unknown[:5].tolist()}")
    else:
        found = _unique(y_arr)
    check_classes(found, y_arr.shape[0])
    warn_if_labels_are_distinct(found.size, y_arr.shape[0])
    return found


def label_set_binarizer(classes=None):
    """A :class:`~sklearn.preprocessing.MultiLabelBinarizer` with sparse output for label
    sets, fitted on ``classes`` when given (else unfitted).

    Imported here, not at module level, so that single-label fits and predictions never load
    ``sklearn.preprocessing`` (it pulls in scipy.interpolate and scipy.optimize)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    if classes is None:
        return MultiLabelBinarizer(sparse_output=True)
    return MultiLabelBinarizer(classes=list(classes), sparse_output=True).fit([])


#: scikit-learn's warning when distinct labels outnumber half the examples (see below).
_MANY_CLASSES_WARNING = "The number of unique classes is greater than 50%"


def _target_type(y) -> str:
    """scikit-learn's ``type_of_target`` without its "could represent a regression problem"
    warning (scikit-learn 1.7 raises it there too; see :func:`check_target_type`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MANY_CLASSES_WARNING, category=UserWarning)
        return type_of_target(y)


def check_target_type(y) -> None:
    """Refuse targets that are not classes — continuous values, ... (scikit-learn's
    ``check_classification_targets``) — without its warning that more distinct labels than
    half the examples "could represent a regression problem": a text classifier's labels
    are categories, and many labels with a few documents each is extreme classification
    (fastText's use), not a sign of regression.  Non-integral numbers are still refused, and
    labels that are all distinct get :func:`warn_if_labels_are_distinct`'s warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_MANY_CLASSES_WARNING, category=UserWarning)
        check_classification_targets(y)


def check_partial_fit_classes(classes, y, fitted: np.ndarray | None) -> None:
    """``partial_fit``'s ``classes``: required on the first call (``fitted`` None) unless
    ``y`` is an indicator matrix, and on later calls, when given, the first call's."""
    if fitted is None and classes is None and _target_type(y) != "multilabel-indicator":
        raise ValueError("classes must be passed on the first call to partial_fit")
    if fitted is not None and classes is not None:
        if not np.array_equal(np.unique(np.asarray(classes)), fitted):
            raise ValueError(
                f"classes={list(classes)!r} differs from the classes of the first call "
                f"{fitted.tolist()!r}"
            )


def warn_if_labels_are_distinct(n_classes: int, n_documents: int) -> None:
    """Warn when each of more than 20 documents has a label of its own: one document per
    class teaches nothing (an identifier or a quantity read as the label?)."""
    if n_documents > 20 and n_classes >= n_documents:
        warnings.warn(
            f"each of the {n_documents:,} documents has a label of its own: a classifier "
            "learns nothing from one document per class (is the label an identifier or a "
            "quantity?)",
            UserWarning,
            stacklevel=3,
        )


def target_matrix(
    y_arr: np.ndarray, classes: np.ndarray, multilabel: bool, *, check_unknown: bool
) -> sp.csr_array:
    """The CSR target matrix ``Y`` (n×c, float32) of ``y_arr`` over ``classes`` (sorted).

    Single labels give one-hot rows (with ``check_unknown``, a label outside ``classes``
    raises); a multi-label indicator matrix must have one column per class."""
    n, c = y_arr.shape[0], classes.size
    if multilabel:
        if y_arr.shape[1] != c:
            raise ValueError(f"y has {y_arr.shape[1]} label columns, the model has {c}")
        if sp.issparse(y_arr):
            Y = sp.csr_array(y_arr, dtype=_DTYPE)
            Y.eliminate_zeros()
            Y.sum_duplicates()
            return Y
        return sp.csr_array(np.asarray(y_arr, dtype=_DTYPE))
    if check_unknown:
        unknown = np.setdiff1d(np.unique(y_arr), classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels unknown to the model: {unknown[:5].tolist()}; "
                "pass every label in `classes` on the first call to partial_fit"
            )
    codes = np.searchsorted(classes, y_arr)
    return sp.csr_array((np.ones(n, dtype=_DTYPE), codes, np.arange(n + 1)), shape=(n, c))


def codes(Y: sp.csr_array, multilabel: bool) -> np.ndarray | None:
    """Class index of each row of a one-hot CSR target matrix (``None`` for multi-label)."""
    return None if multilabel else Y.indices.astype(np.intp)


def class_weights(
    class_weight, classes: np.ndarray, multilabel: bool, class_counts: np.ndarray | None
) -> np.ndarray | None:
    """Weight of each class (``class_weight``: ``None``, ``'balanced'`` — ``n/(c·nₖ)`` from
    the training documents per class ``class_counts`` — or a dict, missing classes 1)."""
    if class_weight is None:
        return None
    if multilabel:
        raise ValueError("class_weight is not supported for multi-label targets")
    if class_weight == "balanced":
        counts = np.asarray(class_counts, dtype=np.float64)
        return counts.sum() / (classes.size * counts)
    unknown = [k for k in class_weight if not np.isin(k, classes).item()]
    if unknown:
        raise ValueError(
            f"class_weight has keys that are not classes: {unknown[:5]!r} "
            f"(the classes are {classes[:10].tolist()!r})"
        )
    bad = {k: w for k, w in class_weight.items() if not _is_weight(w)}
    if bad:
        raise ValueError(f"class_weight values must be finite numbers >= 0, got {bad!r}"[:300])
    return np.array([class_weight.get(c, 1.0) for c in classes], dtype=np.float64)


def _is_weight(w) -> bool:
    return (
        isinstance(w, (int, float, np.integer, np.floating))
        and not isinstance(w, (bool, np.bool_))
        and bool(np.isfinite(w))
        and w >= 0
    )


def example_weights(
    sample_weight,
    X,
    y_codes: np.ndarray | None,
    class_weight,
    classes,
    multilabel: bool,
    *,
    relative: bool = True,
) -> np.ndarray:
    """One float32 weight per row of ``X``: ``sample_weight`` (non-negative; default 1)
    times the weight of the example's class.  ``relative``: only their ratios matter (``fit``
    scales them to mean 1, :func:`mean_one`), so weights beyond float32's range are divided
    by the largest first instead of becoming inf or 0; else (``partial_fit``'s steps as
    given) a weight beyond float32's range is refused."""  # fmt: skip
    w = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    counts = None if y_codes is None else np.bincount(y_codes)
    cw = class_weights(class_weight, classes, multilabel, counts)
    if cw is not None:
        w = w * cw[y_codes]
    top = float(w.max()) if w.size else 0.0
    if relative and not _FLOAT32_SAFE[0] <= top <= _FLOAT32_SAFE[1] and top > 0:
        w = w / top  # ratios kept; weights in the usual range are never touched (bit for bit)
    elif top > float(np.finfo(_DTYPE).max):
        raise ValueError(
            f"sample_weight values up to {top:.3g} exceed float32's range; partial_fit "
            "multiplies each example's step by its weight as given: scale them down"
        )
    return w.astype(_DTYPE)


#: The largest example weight :func:`example_weights` takes as it is when only ratios matter:
#: wider, a float32 weight (or their float64 sum) would be 0 or inf.
_FLOAT32_SAFE = (1e-30, 1e30)


def mean_one_class_weights(cw: np.ndarray | None, class_counts: np.ndarray) -> np.ndarray | None:
    """Per-class weights ``cw`` (of classes with ``class_counts`` training documents) scaled
    so that ``result[codes]`` is, bit for bit, :func:`mean_one` of the examples' weights
    ``cw[codes]``: for backends that weight their shards' examples without seeing them all
    (a class's examples share one weight; the float64 sums are exact)."""
    if cw is None:
        return None
    w = np.asarray(cw, dtype=np.float64).astype(_DTYPE).astype(np.float64)
    counts = np.asarray(class_counts, dtype=np.float64)
    total = _positive_total(float(np.dot(counts, w)))
    return (w * (counts.sum() / total)).astype(_DTYPE)


def mean_one(w: np.ndarray) -> np.ndarray:
    """Weights scaled to mean 1 (``w·n/Σw``), so they set the relative importance of the
    examples and ``lr`` the step size (all-equal weights become exactly 1)."""
    total = _positive_total(float(np.sum(w, dtype=np.float64)))
    return (w.astype(np.float64) * (w.size / total)).astype(_DTYPE)


def _positive_total(total: float) -> float:
    """``total``, the examples' summed weight, refused when there is nothing to train on."""
    if not total > 0:
        raise ValueError(
            "the example weights (sample_weight times class_weight) sum to zero: there is "
            "nothing to train on"
        )
    return total
