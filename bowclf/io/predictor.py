"""A text model's prediction path built straight from a model file's arrays (no scikit-learn).

:func:`build_predictor` checks what :meth:`TextClassifier._restore
<bowclf.TextClassifier._restore>` and :meth:`BowClassifier._restore
<bowclf.BowClassifier._restore>` check of the state prediction uses — the parameters that
shape the features and the decision, the vocabulary, the kept columns and idf weights, the
classes, the loss's arrays, the fitted decision rule — and builds a
:class:`bowclf.inference.TextPredictor`.  Every parameter (those prediction never reads too:
learning rate, epochs, ...) has been checked by the header's reader
(:func:`bowclf._limits.param_problem`, the check :func:`bowclf.load` makes as well).
Problems raise ``ValueError`` with a one-line message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import defaults
from ..inference import (
    ClassifierCore,
    FeatureMap,
    LazyRows,
    TextPredictor,
    check_features,
    column_lookup,
)
from ..losses import get_loss
from ..saved_state import (
    check_best_epoch,
    check_class_prior,
    check_label_set,
    check_parameters,
    restored_inputs,
)
from ..vectorizer.transform import FittedVectorizer, check_fitted_state
from .modelfile import CLASSIFIER_MEMBERS, MAX_FEATURES, OPTIMIZER_MEMBERS

__all__ = ["build_predictor"]

# Text-model parameters prediction reads, with the estimator's default for files without them.
_TEXT_DEFAULTS: dict[str, Any] = {
    "lowercase": True,
    "tokenizer": defaults.TOKENIZER,
    "token_pattern": None,
    "ngrams": defaults.NGRAMS,
    "buckets": defaults.BUCKETS,
    "minn": defaults.MINN,
    "maxn": defaults.MAXN,
    "use_idf": False,  # files written before idf weighting existed: raw counts
}


def _text_params(params: dict) -> dict[str, Any]:
    """The prediction parameters of a file's (checked, :func:`bowclf._limits.param_problem`)
    ``params``, defaults for those it lacks."""
    return {k: params.get(k, v) for k, v in _TEXT_DEFAULTS.items()}


def _classifier(section: dict, arrays: dict[str, np.ndarray], lazy) -> ClassifierCore:
    """The classifier core of a file's ``classifier`` section and arrays."""
    params, fitted = section["params"], section["fitted"]  # checked by the header's reader
    loss_name = params.get("loss", defaults.LOSS)
    normalize = params.get("normalize", defaults.NORMALIZE)
    W, B = arrays["classifier/A"], np.ascontiguousarray(arrays["classifier/B"], np.float32)
    if lazy is None:
        W = np.ascontiguousarray(W, dtype=np.float32)
    classes = arrays["classifier/classes"]
    loss_state = {
        n.split("/", 1)[1]: a
        for n, a in arrays.items()
        if n.startswith("classifier/") and n not in CLASSIFIER_MEMBERS + OPTIMIZER_MEMBERS
    }
    loss = get_loss(loss_name).restored(loss_state, classes.size)
    multilabel = bool(fitted["multilabel_"])
    check_parameters(
        W, B, classes, loss, fitted["n_features_in_"], multilabel, check_W_values=lazy is None
    )
    check_best_epoch(fitted.get("best_epoch_"), fitted["n_iter_"])
    return ClassifierCore(
        W.T, B, np.arange(classes.size) if multilabel else np.asarray(classes), loss,
        normalize=normalize, multilabel=multilabel, threshold=float(fitted["threshold_"]),
        top_label=bool(fitted.get("top_label_", loss.legacy_top_label(multilabel))),
        class_prior=check_class_prior(fitted.get("class_prior_"), classes.size),
        lazy_rows=lazy,
    )  # fmt: skip


def _lazy_weights(arrays: dict[str, np.ndarray], path) -> LazyRows | None:
    """Sets ``classifier/A`` to what the classifier reads: a memory map or a zero-filled
    buffer for a product-quantised ``A`` (their rows are checked, or decoded and checked, as
    prediction uses them: the returned :class:`LazyRows`), else the stored array, checked
    here (then ``None``)."""
    from .._limits import weight_problem

    B = arrays["classifier/B"]
    if "classifier/A_codes" in arrays:  # quantised: decoded row by row as they are used
        from .quantized import decode_quantized

        width = B.shape[1]
        stored = {n: a for n, a in arrays.items() if n.startswith("classifier/A_")}

        def decode(rows) -> np.ndarray:
            part = dict(stored)
            for name in ("classifier/A_codes", "classifier/A_norm_codes"):
                if name in part:
                    part[name] = part[name][rows]
            return decode_quantized(part, "classifier/A", width)

        decode(slice(0, 0))  # checks the members' shapes and values (decodes no row)
        W = np.zeros((stored["classifier/A_codes"].shape[0], width), np.float32)
        arrays["classifier/A"] = W
        return LazyRows(W, B, str(path), decode)
    A = arrays["classifier/A"]
    if isinstance(A, np.memmap) and A.dtype == np.float32 and A.dtype.isnative:
        return LazyRows(A, B, str(path))  # B's values: check_parameters
    problem = weight_problem(A, B)
    if problem is not None:
        raise ValueError(problem)
    return None


def build_predictor(header: dict, arrays: dict[str, np.ndarray], path) -> TextPredictor:
    """The :class:`TextPredictor` of a ``TextClassifier`` file's validated header and arrays
    (``ValueError`` when they do not fit together); a memory-mapped or product-quantised
    ``A``'s rows are checked (decoded) as prediction uses them, every other array here."""
    from .quantized import decode_output

    decode_output(header, arrays)
    lazy = _lazy_weights(arrays, path)
    params = _text_params(header["params"])
    core = _classifier(header["classifier"], arrays, lazy)
    state = {n.split("/", 1)[1]: a for n, a in arrays.items() if n.startswith("vectorizer/")}
    vocabulary, _, _ = check_fitted_state(state)
    vectorizer = FittedVectorizer(
        vocabulary, lowercase=params["lowercase"], tokenizer=params["tokenizer"],
        token_pattern=params["token_pattern"], ngrams=params["ngrams"], buckets=params["buckets"],
        minn=params["minn"], maxn=params["maxn"],
    )  # fmt: skip
    width = vectorizer.width
    if width > MAX_FEATURES:
        raise ValueError(f"the vectorizer declares an implausible {width} features")
    section = header["text"]
    multilabel, label_sets = bool(section["multilabel"]), bool(section["binarized"])
    label_set = arrays["text/classes"] if label_sets else None
    check_label_set(label_set, multilabel, core.multilabel, core.classes.size)
    classes = core.classes if label_set is None else _label_set_classes(label_set.tolist())
    inputs = restored_inputs(header["params"], section.get("inputs"), core.normalize)
    columns, idf = check_features(
        arrays.get("text/feature_columns"), arrays.get("text/idf"), width=width,
        n_in=header["classifier"]["fitted"]["n_features_in_"], use_idf=params["use_idf"],
        weighted=inputs["ngram_weight"] != 1.0,
    )  # fmt: skip
    features = FeatureMap(columns, column_lookup(columns, width), idf, inputs["sublinear_tf"])
    return TextPredictor(
        vectorizer, features, core, classes, multilabel=multilabel, label_sets=label_sets
    )


def _label_set_classes(labels: list) -> np.ndarray:
    """The ``classes_`` a loaded multi-label model has for a stored label set: integers stay
    an int array, other labels become an object array (as scikit-learn's
    ``MultiLabelBinarizer`` makes them)."""
    dtype = int if all(isinstance(c, int) for c in labels) else object
    out = np.empty(len(labels), dtype=dtype)
    out[:] = labels
    return out
