"""Small models: prune features by embedding norm and product-quantise ``A`` (fastText's
``quantize``, with scikit-learn's k-means).

:func:`quantize` turns a fitted :class:`~bowclf.TextClassifier` into a smaller one:

1. **cutoff** — keep the ``N`` features whose embeddings (columns of ``A``) have the largest
   L2 norm; the vocabulary keeps only the words among them (the hash buckets are unchanged, so
   every kept n-gram still lands on its column).
2. **product quantisation** — each kept embedding is cut into ``⌈dim/dsub⌉`` sub-vectors of
   ``dsub`` numbers (the last may be shorter); for each position a k-means codebook of up to
   256 centroids is learnt (:class:`sklearn.cluster.KMeans` started from random rows, on at
   most 32,768 sampled rows, 25 Lloyd iterations as fastText) and every sub-vector is
   replaced by the one-byte index of its nearest centroid.  With ``qnorm=True`` the
   embeddings are first divided by their norms, which get a one-dimensional codebook of their
   own (one more byte per feature).
3. **retrain** (optional) — with training documents ``X, y``: the output matrix ``B`` is
   re-fitted on the hidden vectors of the pruned, quantised model (a logistic regression from
   scikit-learn without intercept: multinomial for ``softmax``, one binary model per class for
   ``ova``), so that it adapts to the features that are left and to the quantisation error.
4. **qout** (optional, fastText's ``-qout``) — ``B`` (after retraining) is product-quantised
   too, with ``dsub = 2`` and the same ``qnorm`` as fastText; its codebooks hold
   ``k = min(256, rows)`` centroids, so a model of up to 256 classes gets ``B`` back exactly
   (fastText refuses ``-qout`` below 256 labels).  For ``loss='hs'`` ``B`` is the (c−1)×dim
   matrix of the label tree's inner nodes and is quantised the same way.

The result predicts with the decoded matrices (``centroid`` look-ups: the in-memory model
keeps the dense decoded ``A`` and ``B``); it is built by the estimators' own ``_restore`` (the
model-file loader's entry point), so it shares no state with ``model``.  Saved with
:func:`bowclf.save` it is an ordinary bowclf model file in which ``classifier/A`` is replaced
by (``p`` kept features, ``m = ⌈dim/dsub⌉``)::

    classifier/A_codes           uint8   (p, m)        centroid index of each sub-vector
    classifier/A_centroids       float32 (m, 256, dsub) codebooks (the last zero-padded)
    classifier/A_norm_codes      uint8   (p,)           qnorm only: index of each norm
    classifier/A_norm_centroids  float32 (256,)         qnorm only: the norm codebook

and, with ``qout``, ``classifier/B`` by ``classifier/B_codes`` (rows, ⌈dim/2⌉),
``classifier/B_centroids`` (⌈dim/2⌉, k, 2) and with ``qnorm`` ``classifier/B_norm_codes``
(rows,), ``classifier/B_norm_centroids`` (k,); plus a ``quantization`` entry in the header
(``cutoff``, ``dsub``, ``qnorm``, ``retrained``).  The loader checks every code against its
codebook and the shapes against the header, bounds the decoded size before reading, and
decodes ``A`` and ``B`` once (:mod:`bowclf.io.quantized`; a few milliseconds for a
100,000-feature model), so ``predict``/``evaluate``/``info``/``serve``/``explain`` read it
like any model.  A quantised model changed afterwards (``partial_fit``, ``fit``) no longer
matches its codes and is saved dense.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .text import TextClassifier

__all__ = ["check_options", "quantize"]

_KSUB = 256
_MAX_POINTS = 1 << 15  # rows a codebook is learnt from (fastText: 65,536)
_N_ITER = 25  # Lloyd iterations per codebook (fastText's niter_)


def quantize(
    model: TextClassifier,
    *,
    cutoff: int | None = None,
    dsub: int = 2,
    qnorm: bool = False,
    qout: bool = False,
    retrain: bool = False,
    X: Iterable[str] | None = None,
    y: Any = None,
    random_state: int = 0,
) -> TextClassifier:
    """A smaller copy of a fitted :class:`~bowclf.TextClassifier` (see the module docstring).

    Parameters
    ----------
    model : TextClassifier
        A fitted single- or multi-label text model (it is not modified).
    cutoff : int or None, default=None
        Keep this many features (largest embedding norms); ``None`` keeps all.
    dsub : int, default=2
        Numbers per sub-vector of ``A``: one byte then codes ``dsub`` float32 (``4·dsub``:1).
    qnorm : bool, default=False
        Quantise the embedding norms separately (better for embeddings of varied length).
    qout : bool, default=False
        Also product-quantise the output matrix ``B`` (``dsub = 2``, as fastText's ``-qout``;
        exact for up to 256 rows).
    retrain : bool, default=False
        Re-fit ``B`` on the pruned, quantised features of ``X`` (single-label models).
    X, y : documents and labels, optional
        The training data; required when ``retrain=True``.
    random_state : int, default=0
        Seed of the row sampling and of k-means (same seed, same model file).

    Returns
    -------
    TextClassifier
        The quantised model; :func:`bowclf.save` writes its codes, not the dense matrices.

    Examples
    --------
    >>> from bowclf import TextClassifier
    >>> from bowclf import quantize
    >>> texts = ["great film", "loved it", "boring film", "hated it"] * 20
    >>> labels = ["pos", "pos", "neg", "neg"] * 20
    >>> clf = TextClassifier(epochs=20, random_state=0).fit(texts, labels)
    >>> small = quantize(clf, dsub=2, qout=True)
    >>> small.predict(["loved this film"]).tolist()
    ['pos']
    """
    _check_quantize_args(model, cutoff, dsub, retrain, X, y)
    cutoff, dsub = None if cutoff is None else int(cutoff), int(dsub)  # numpy integers too
    clf = model.classifier_
    W = np.asarray(clf.A_, dtype=np.float32)  # (dim, p)
    dim, p = W.shape
    if dsub > dim:
        raise ValueError(f"dsub={dsub} is larger than the model's dim={dim}")
    norms = np.sqrt(np.einsum("ij,ij->j", W, W, dtype=np.float64))
    keep = np.arange(p)
    if cutoff is not None and cutoff < p:
        keep = np.sort(np.argpartition(-norms, cutoff - 1)[:cutoff])
    rows = np.ascontiguousarray(W[:, keep].T)  # (n_kept, dim)
    rng = np.random.RandomState(random_state)
    members = {"A": _product_quantize(rows, dsub, qnorm, rng)}
    A = _decode(members["A"], "A", dim)  # Aᵀ of the small model, (n_kept, dim)
    parts = _pruned_parts(model, keep)
    pruned = cutoff if keep.size < p else None  # a cutoff of every feature prunes nothing
    settings = {"cutoff": pruned, "dsub": dsub, "qnorm": bool(qnorm), "retrained": bool(retrain)}
    B = np.asarray(clf.B_, dtype=np.float32)
    if retrain:
        interim = _rebuild(model, keep, A, B, parts, None)
        B = _refit_output(interim, X, y, random_state)
    if qout:
        ksub = min(_KSUB, B.shape[0])
        members["B"] = _product_quantize(B, min(2, dim), qnorm, rng, ksub)
        B = _decode(members["B"], "B", dim)
    return _rebuild(model, keep, A, B, parts, {"settings": settings, **members})


def _rebuild(model, keep: np.ndarray, A: np.ndarray, B: np.ndarray, parts, quantized):
    """The small model, built by the estimators (``_restore``): classifier then text model."""
    classifier = model.classifier_._with_parameters(A, B, keep)
    vectorizer_state, columns, idf = parts
    return model._with_features(classifier, vectorizer_state, columns, idf, quantized)


def check_options(model: Any, *, cutoff: Any = None, dsub: Any = 2, retrain: bool = False) -> None:
    """Raise the error :func:`quantize` gives for this model and these options, before any
    work (``bowclf quantize`` calls it before reading a ``--retrain`` corpus).

    Raises
    ------
    TypeError
        For anything but a fitted :class:`~bowclf.TextClassifier`.
    ValueError
        For a model quantised already (its decoded codes would be quantised again, losing
        accuracy for nothing), a ``cutoff`` or ``dsub`` that is not a positive integer, or
        ``retrain`` on a multi-label or hierarchical-softmax model.
    """
    from .text import TextClassifier

    if not isinstance(model, TextClassifier) or not hasattr(model, "classifier_"):
        raise TypeError(
            "quantize expects a fitted bowclf TextClassifier (fastText models are quantised "
            "by fastText itself: its .ftz files are read as they are)"
        )
    if getattr(model, "_quantized", None):
        raise ValueError("the model is quantised already: quantise the model it was made from")
    for name, value in (("cutoff", cutoff), ("dsub", dsub)):
        if (value is not None or name == "dsub") and (
            isinstance(value, bool) or not isinstance(value, Integral) or value < 1
        ):
            what = "a positive integer" + (" or None" if name == "cutoff" else "")
            raise ValueError(f"{name} must be {what}, got {value!r}")
    if retrain and model.multilabel_:
        raise ValueError("retrain is for single-label models")
    if retrain and model.classifier_.loss == "hs":
        raise ValueError(
            "retrain is for softmax and ova models (a hierarchical softmax's output rows are "
            "its label tree's inner nodes, not one per class)"
        )


def _check_quantize_args(model, cutoff, dsub, retrain: bool, X, y) -> None:
    """:func:`check_options`, and the training data ``retrain`` needs."""
    check_options(model, cutoff=cutoff, dsub=dsub, retrain=retrain)
    if retrain and (X is None or y is None):
        raise ValueError("retrain=True needs the training documents X and labels y")


def _product_quantize(
    rows: np.ndarray, dsub: int, qnorm: bool, rng: np.random.RandomState, ksub: int = _KSUB
) -> dict[str, np.ndarray]:
    """Codes and codebooks (``ksub`` centroids each) of ``rows`` (n×dim float32), in the
    layout of the module doc."""
    n, dim = rows.shape
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    if qnorm:
        norm = np.linalg.norm(rows, axis=1).astype(np.float32)
        rows = rows / np.where(norm > 0, norm, 1.0)[:, None]
        codes, book = _codebook(norm[:, None], rng)
        out["norm_codes"] = codes
        out["norm_centroids"] = np.zeros(ksub, np.float32)
        out["norm_centroids"][: book.shape[0]] = book[:, 0]
    nsubq = -(-dim // dsub)
    codes = np.zeros((n, nsubq), np.uint8)
    centroids = np.zeros((nsubq, ksub, dsub), np.float32)
    for q in range(nsubq):
        part = rows[:, q * dsub : (q + 1) * dsub]
        codes[:, q], book = _codebook(part, rng)
        centroids[q, : book.shape[0], : part.shape[1]] = book
    out["codes"] = codes
    out["centroids"] = centroids
    return out


def _codebook(x: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """k-means (scikit-learn) of the rows of ``x`` with up to 256 centroids: codes, centroids."""
    from sklearn.cluster import KMeans

    n = x.shape[0]
    x = np.ascontiguousarray(x, dtype=np.float32)
    distinct = np.unique(x, axis=0)
    if distinct.shape[0] <= _KSUB:  # few distinct rows: each is its own centroid (exact)
        book = distinct
    else:
        sample = x[rng.choice(n, _MAX_POINTS, replace=False)] if n > _MAX_POINTS else x
        km = KMeans(
            n_clusters=_KSUB,
            init="random",  # random rows, as fastText (k-means++ costs more than the whole fit)
            n_init=1,
            max_iter=_N_ITER,
            random_state=rng.randint(2**31 - 1),
        ).fit(sample)
        book = km.cluster_centers_.astype(np.float32)
    return _nearest(x, book), book


def _nearest(x: np.ndarray, book: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (squared L2) of every row, in blocks of rows."""
    out = np.empty(x.shape[0], np.uint8)
    c2 = np.einsum("ij,ij->i", book, book)
    step = 1 << 15
    for start in range(0, x.shape[0], step):
        block = x[start : start + step]
        d = c2[None, :] - 2.0 * (block @ book.T)
        out[start : start + step] = np.argmin(d, axis=1)
    return out


def _decode(members: dict[str, np.ndarray], matrix: str, dim: int) -> np.ndarray:
    from .io.quantized import decode_quantized

    return decode_quantized({f"{matrix}_{k}": v for k, v in members.items()}, matrix, dim)


def _pruned_parts(model, keep: np.ndarray):
    """The vectorizer state, feature columns and idf weights of ``model`` restricted to its
    classifier features ``keep`` (sorted positions): the vocabulary keeps only the kept words
    (bucket columns move with the vocabulary size)."""
    columns = keep if model.feature_columns_ is None else model.feature_columns_[keep]
    state = model.vectorizer_.get_fitted_state()
    n_words = state["words"].size
    is_word = columns < n_words
    word_cols = columns[is_word]
    if word_cols.size == 0:  # the vectorizer needs a word: keep the most frequent one
        word_cols = np.array([0])
    state = {
        **state,
        "words": state["words"][word_cols],
        "word_counts": state["word_counts"][word_cols],
    }
    # kept words are the new words 0..k-1 (in order); buckets follow the new vocabulary
    new_columns = np.concatenate(
        [np.arange(int(is_word.sum())), word_cols.size + (columns[~is_word] - n_words)]
    ).astype(np.int64)
    idf = None if model.idf_ is None else np.asarray(model.idf_)[keep]
    return state, new_columns, idf


def _refit_output(model, X, y, random_state: int) -> np.ndarray:
    """``B`` re-fitted on the hidden vectors of ``model`` (logistic regression, no intercept)."""
    from sklearn.linear_model import LogisticRegression

    clf = model.classifier_
    H = model.transform(X).astype(np.float64)
    y = np.asarray(y)
    classes = np.asarray(clf.classes_)
    B = np.array(clf.B_, dtype=np.float32, copy=True)
    if clf.loss == "softmax":
        lr = LogisticRegression(fit_intercept=False, C=100.0, max_iter=500)
        lr.fit(H, y)
        coef = lr.coef_
        if coef.shape[0] == 1:  # two classes: scores s1 - s0 = w·h
            coef = np.vstack([-coef / 2, coef / 2])
        index = {c: i for i, c in enumerate(lr.classes_.tolist())}
        for j, c in enumerate(classes.tolist()):
            if c in index:
                B[j] = coef[index[c]]
        return B
    for j, c in enumerate(classes.tolist()):
        target = y == c
        if target.all() or not target.any():
            continue
        lr = LogisticRegression(fit_intercept=False, C=100.0, max_iter=500)
        B[j] = lr.fit(H, target).coef_[0]
    return B


def quantized_members(
    model: TextClassifier, members: tuple[dict[str, Any], dict[str, np.ndarray]]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Model-file members of a quantised model: ``classifier/A`` (and ``classifier/B``)
    replaced by their codes.  A model whose matrices no longer decode from its codes (trained
    further after quantising) keeps the dense members it was given."""
    header, arrays = members
    quantized = model._quantized
    clf = model.classifier_
    dense = {"A": np.asarray(clf.A_).T, "B": np.asarray(clf.B_)}
    dim = dense["B"].shape[1]
    for matrix in ("A", "B"):
        if matrix in quantized and not np.array_equal(
            _decode(quantized[matrix], matrix, dim), dense[matrix]
        ):
            return header, arrays
    for matrix in ("A", "B"):
        if matrix in quantized:
            del arrays[f"classifier/{matrix}"]
            for key, value in quantized[matrix].items():
                arrays[f"classifier/{matrix}_{key}"] = value
    header["quantization"] = dict(quantized["settings"])
    # small models: 32-bit integers where they fit (the loader widens them)
    for name in ("text/feature_columns", "vectorizer/word_counts"):
        arr = arrays.get(name)
        if arr is not None and (arr.size == 0 or (arr.min() >= 0 and arr.max() < 2**31)):
            arrays[name] = arr.astype(np.int32)
    return header, arrays
