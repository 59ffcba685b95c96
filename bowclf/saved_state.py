"""Checks of a saved :class:`bowclf.BowClassifier`'s state before the estimator restores it.

The model-file loader hands the estimator's ``_restore`` arrays and scalars read from a file;
these functions refuse (``ValueError``) what does not fit together, so a restored model can
predict.  They only check and convert: the estimator sets its attributes itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._limits import all_finite
from .losses import Loss

__all__ = [
    "LEGACY_INPUTS",
    "check_best_epoch",
    "check_class_prior",
    "check_label_set",
    "check_parameters",
    "restored_inputs",
]


def check_parameters(
    W: np.ndarray,
    B: np.ndarray,
    classes: np.ndarray,
    loss: Loss,
    n_features: int,
    multilabel: bool,
    *,
    check_W_values: bool = True,
) -> None:
    """``W = Aᵀ`` (p×d, p = ``n_features``), ``B`` (the loss's shape for the classes) finite;
    ``classes`` sorted, unique and finite (``0..c−1`` for a multi-label model).
    ``check_W_values=False`` leaves the values of ``W`` to the caller (a memory-mapped ``W``
    whose rows are checked as prediction uses them, :mod:`bowclf.inference`)."""
    if W.shape[1] != B.shape[1]:
        raise ValueError(f"A has dim {W.shape[1]} but B has dim {B.shape[1]}")
    if B.shape != loss.output_shape(classes.size, W.shape[1]):
        raise ValueError(f"B has {B.shape[0]} rows but there are {classes.size} classes")
    if classes.size < 1 or W.shape[1] < 1:
        raise ValueError("the model has no classes or dim 0")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("class labels contain NaN or infinity")
    if classes.size > 1 and not (classes[1:] > classes[:-1]).all():
        raise ValueError("class labels are not sorted and unique")
    if not ((not check_W_values or all_finite(W)) and all_finite(B)):
        raise ValueError("model parameters contain NaN or infinity")
    if n_features != W.shape[0]:
        raise ValueError(f"n_features_in_ is {n_features} but A has {W.shape[0]} rows")
    if multilabel and (
        classes.dtype.kind not in "iu" or not np.array_equal(classes, np.arange(classes.size))
    ):
        raise ValueError("a multi-label classifier's classes must be 0..c-1")


def restored_class_weight(class_weight: Any, classes: np.ndarray) -> Any:
    """A saved ``class_weight`` dict with the class labels as its keys again: parameters are
    stored as JSON, whose keys are strings, so labels such as ``1`` or ``True`` come back as
    ``"1"``, ``"True"``.  A key that is no class's text stays as it is."""
    if not isinstance(class_weight, dict):
        return class_weight
    by_text: dict[str, Any] = {}
    for label in np.asarray(classes).tolist():
        by_text.setdefault(str(label), label)
    return {by_text.get(k, k) if isinstance(k, str) else k: w for k, w in class_weight.items()}


def check_class_prior(prior, n_classes: int) -> np.ndarray | None:
    """The saved label frequencies as float64, one in [0, 1] per class (``None`` stays)."""
    if prior is None:
        return None
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (n_classes,) or not ((prior >= 0) & (prior <= 1)).all():
        raise ValueError("class_prior_ must hold one frequency in [0, 1] per class")
    return prior


def check_best_epoch(best, n_iter: int) -> int | None:
    """The saved best epoch: ``None`` or an int among the ``n_iter`` epochs run."""
    if best is not None and not (isinstance(best, int) and 1 <= best <= n_iter):
        raise ValueError(f"best_epoch_ {best!r} is not one of the epochs run")
    return best


#: What files written before an input setting existed trained with: every n-gram column at
#: its term weight.
LEGACY_INPUTS = {"ngram_weight": 1.0}


def restored_inputs(params: dict, inputs: dict | None, normalize) -> dict:
    """``inputs_`` of a loaded model, checked against its classifier's ``normalize``."""
    if inputs is None:  # written before the 'auto' inputs: the parameters are the values
        inputs = {
            "normalize": params.get("normalize", normalize),
            "sublinear_tf": params.get("sublinear_tf", False),
            "min_df": params.get("min_df", 1),
        }
    if not isinstance(inputs, dict):
        raise ValueError("the saved input settings are not a mapping")
    inputs = dict(inputs)
    if inputs.get("normalize") != normalize:
        raise ValueError("the saved input normalisation does not match the classifier's")
    if not isinstance(inputs.get("sublinear_tf"), bool):
        raise ValueError(
            f"sublinear_tf must be saved as a boolean, not {inputs.get('sublinear_tf')!r}"
        )
    min_df = inputs.get("min_df")
    if not isinstance(min_df, int) or isinstance(min_df, bool) or min_df < 1:
        raise ValueError(f"min_df must be saved as a positive integer, not {min_df!r}")
    for key, value in LEGACY_INPUTS.items():
        inputs.setdefault(key, value)
    factor = inputs["ngram_weight"]
    real = isinstance(factor, (int, float)) and not isinstance(factor, bool)
    if not (real and math.isfinite(factor) and factor > 0):
        raise ValueError(f"ngram_weight must be saved as a positive number, not {factor!r}")
    inputs["ngram_weight"] = float(factor)
    return inputs


def check_label_set(
    label_set: np.ndarray | None, multilabel: bool, classifier_multilabel: bool, n_outputs: int
) -> None:
    """Raise ``ValueError`` unless a text model's saved label set (``None``: labels are the
    classifier's classes) fits its multi-label flag and its classifier's ``n_outputs``."""
    if label_set is None:
        if multilabel != classifier_multilabel:
            raise ValueError("multi-label flags of the text model and its classifier disagree")
        return
    if not (multilabel and classifier_multilabel):
        raise ValueError("label sets stored for a single-label model")
    if label_set.size > 1 and not (label_set[1:] > label_set[:-1]).all():
        raise ValueError("label set is not sorted and unique")
    if label_set.size != n_outputs:
        raise ValueError("label set does not match the classifier's outputs")
