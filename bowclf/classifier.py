"""``BowClassifier``: the model ``ŷ = softmax(B·A·x)`` as a scikit-learn classifier.

The estimator works on any non-negative count matrix (sparse or dense): pair it with
:class:`bowclf.BowVectorizer` (or scikit-learn's ``CountVectorizer``) for text.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_non_negative,
    column_or_1d,
    validate_data,
)
from threadpoolctl import ThreadpoolController

from . import _limits, _math
from .optim import LinearDecay

__all__ = [
    "BowClassifier",
    "InMemoryData",
    "TrainingDivergedError",
    "resolve_epochs",
    "sgd_pass",
]

#: Progress callbacks receive one dict per report; see :meth:`BowClassifier.fit`.
ProgressCallback = Callable[[dict[str, Any]], None]

_PREDICT_CHUNK = 8192  # rows per forward pass when predicting (bounds the n×d temporaries)
_DTYPE = np.float32


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss (the learning rate is too high for this data)."""


class BowClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """fastText-style linear text classifier ``ŷ = softmax(B·A·x)`` over count vectors.

    Each document's count vector ``x`` (p features) is scaled (``normalize``), embedded by
    ``A`` (d×p) into ``h = A·x̃`` — with ``normalize='l1'`` the average of its word vectors,
    as in fastText — and mapped to c class scores ``s = B·h`` (``B``: c×d).  ``loss='softmax'``
    gives ``ŷ = softmax(s)`` trained with cross-entropy; ``loss='ova'`` gives one-vs-all
    sigmoids ``σ(s)`` trained with binary cross-entropy per class.

    Training is minibatch SGD over shuffled rows with fastText's schedule: the learning rate
    decays linearly from ``lr`` to 0 over all ``epochs``; the gradients of a batch are *summed*
    (not averaged), so every example moves the parameters as one fastText update would.  Only the
    columns of ``A`` used by a batch are touched.  ``A`` starts ``U(−1/d, 1/d)``, ``B`` at zero.

    Parameters
    ----------
    dim : int, default=100
        Embedding dimension d.
    epochs : int or 'auto', default='auto'
        Passes over the training data (``fit``).  ``'auto'`` makes about 200,000 example
        updates, within 5 to 10 passes: ``min(10, max(5, ⌈200000/n⌉))`` — 10 passes up to
        20,000 documents, 5 from 40,000.  Small corpora need the extra passes (bundled tickets
        0.864 → 0.903, trec 0.890 → 0.898 at ``lr=0.25``) while large noisy ones overfit with
        them (tweeteval 0.282 → 0.263), see bench/RESULTS.md.  ``partial_fit`` always makes
        one pass.
    lr : float, default=0.25
        Initial learning rate (per example, as in fastText).  fastText's default 0.1 leaves
        small corpora barely trained after 5 epochs (bundled tickets: 30% accuracy, imdb
        0.860); 0.5 is best on small corpora but overfits noisy ones (tweeteval 0.267 vs
        0.289 at 0.1); 0.25 is within 1–4 points of the best on every benchmark corpus
        (bench/RESULTS.md).
    batch_size : int, default=16
        Documents per SGD step.  Chosen by measurement (``bench/bench_batch.py``): up to 16
        the accuracy equals per-example SGD within noise on sst2, trec, sms_spam and imdb,
        while numpy's per-step overhead is amortised.  The batch's gradients are summed, so
        ``batch_size × lr`` bounds stability where documents share features: on dense data
        (every row using the same few columns) products above ~4 diverge.
    normalize : {'l1', 'l2'} or None, default='l1'
        Row scaling of ``x`` before embedding: ``x/‖x‖₁`` (average of word vectors, fastText),
        ``x/‖x‖₂``, or raw counts.
    loss : {'softmax', 'ova'}, default='softmax'
        ``'softmax'``: cross-entropy on ``softmax(B·A·x)``; multi-label targets are normalised
        to sum to 1.  ``'ova'``: independent sigmoids, one binary cross-entropy per class.
    class_weight : dict, 'balanced' or None, default=None
        Weights multiplying each example's loss by its class (single-label only).
    threshold : float or None, default=None
        Multi-label decision threshold on predicted probabilities.  ``None`` means 0.5 for
        ``loss='ova'`` and ``1/(1 + max(m, 1))`` for ``loss='softmax'``, where m is the mean
        number of labels per training document.  The most probable label is predicted too (so no
        document gets an empty label set) for softmax, and for ova when every training
        document had a label (see :func:`multilabel_decision_rule`).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), score it after each
        epoch, stop after ``n_iter_no_change`` epochs without an improvement of ``tol`` and
        restore the best parameters.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=3
        Epochs without improvement before early stopping.
    tol : float, default=1e-4
        Minimum validation-score improvement that counts.
    warm_start : bool, default=False
        Continue ``fit`` from the current parameters (same classes and features).
    total_examples : int or None, default=None
        For :meth:`partial_fit` only: the number of examples the whole incremental run will
        process (e.g. passes × corpus size).  The learning rate then decays linearly from
        ``lr`` to 0 over them, as in :meth:`fit`; ``None`` keeps it constant at ``lr``.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation of ``A``, the shuffling and the validation split.  A fixed
        value makes ``fit`` bit-for-bit reproducible.
    verbose : int, default=0
        Print one line per epoch to stdout when > 0.

    Attributes
    ----------
    A_ : ndarray of shape (dim, n_features_in_), float32
        Input embeddings (stored Fortran-ordered so each feature's column is contiguous).
    B_ : ndarray of shape (n_classes, dim), float32
        Output matrix.
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multi-label indicator targets: the column indices).
    n_features_in_ : int
        Number of features p.
    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix.
    threshold_ : float
        Decision threshold used by :meth:`predict` for multi-label models.
    top_label_ : bool
        Whether multi-label :meth:`predict` always includes the most probable label.
    n_iter_ : int
        Epochs run by the last ``fit`` (fewer than ``epochs`` after early stopping).
    t_ : int
        Training examples processed since initialisation.
    loss_curve_ : list of float
        Mean training loss of each epoch (or ``partial_fit`` call).
    validation_scores_ : list of float
        Validation scores per epoch (with early stopping or ``fit(..., X_val=, y_val=)``).
    best_validation_score_ : float or None
        Best of ``validation_scores_``.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import CountVectorizer
    >>> from sklearn.pipeline import make_pipeline
    >>> from bowclf import BowClassifier
    >>> texts = ["good movie", "great film", "bad movie", "awful film"] * 25
    >>> labels = ["pos", "pos", "neg", "neg"] * 25
    >>> model = make_pipeline(CountVectorizer(), BowClassifier(epochs=20, random_state=0))
    >>> model.fit(texts, labels).predict(["a good film"])
    array(['pos'], dtype='<U3')
    """

    _parameter_constraints: dict = {
        "dim": [Interval(Integral, 1, _limits.MAX_DIM, closed="both")],
        "epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "normalize": [StrOptions({"l1", "l2"}), None],
        "loss": [StrOptions({"softmax", "ova"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "threshold": [Interval(Real, 0, 1, closed="both"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "total_examples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        dim: int = 100,
        epochs: int | str = "auto",
        lr: float = 0.25,
        batch_size: int = 16,
        normalize: str | None = "l1",
        loss: str = "softmax",
        class_weight: dict | str | None = None,
        threshold: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 3,
        tol: float = 1e-4,
        warm_start: bool = False,
        total_examples: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.normalize = normalize
        self.loss = loss
        self.class_weight = class_weight
        self.threshold = threshold
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.total_examples = total_examples
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.classifier_tags.multi_label = True
        tags.target_tags.single_output = True
        # The model has no intercept and (by default) averages l1-normalised rows, as fastText
        # does: on the dense 2-feature blobs of scikit-learn's generic accuracy checks even an
        # exact logistic regression on l1-normalised rows scores 0.78 < 0.83.
        tags.classifier_tags.poor_score = True
        # transform() returns the float32 embeddings the model computes with.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "A_")

    def _forget_fit(self) -> None:
        """Drop every learned attribute (after a failed fit nothing half-trained survives)."""
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    # ------------------------------------------------------------------ input checks
    def _check_X(self, X, *, reset: bool) -> sp.csr_array:
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float32, np.float64],
            reset=reset,
        )
        return _as_count_matrix(X, type(self).__name__)

    def _check_X_y(self, X, y, *, reset: bool) -> tuple[sp.csr_array, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float32, np.float64],
            multi_output=True,
            reset=reset,
        )
        return _as_count_matrix(X, type(self).__name__), y

    def _encode_targets(self, y, *, first_call: bool, classes=None) -> tuple[sp.csr_array, int]:
        """Turn ``y`` into a CSR target matrix ``Y`` (n×c) and return ``(Y, n_rows)``."""
        if sp.issparse(y):
            y = y.toarray()
        y_arr = np.asarray(y) if not isinstance(y, np.ndarray) else y
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = column_or_1d(y_arr, warn=True)
        check_classification_targets(y_arr)
        kind = type_of_target(y_arr)
        multilabel = kind == "multilabel-indicator"
        if first_call:
            self.multilabel_ = multilabel
            if multilabel:
                self.classes_ = np.arange(y_arr.shape[1])
            else:
                self._label_encoder = LabelEncoder()
                if classes is not None:
                    self._label_encoder.fit(np.asarray(classes))
                    self.classes_ = self._label_encoder.classes_
                    unknown = np.setdiff1d(np.unique(y_arr), self.classes_)
                    if unknown.size:
                        raise ValueError(f"y has labels not in `classes`: {unknown[:5].tolist()}")
                else:
                    self.classes_ = np.unique(y_arr)
                    self._label_encoder.classes_ = self.classes_
                if self.classes_.size < 2:
                    raise ValueError(
                        "The target y contains only one class "
                        f"({self.classes_.tolist()}): a classifier needs at least 2 classes."
                    )
        elif multilabel != self.multilabel_:
            raise ValueError(
                "y is multi-label but the model was fitted on single labels"
                if multilabel
                else "y has single labels but the model was fitted on multi-label targets"
            )
        n = y_arr.shape[0]
        c = self.classes_.size
        if multilabel:
            if y_arr.shape[1] != c:
                raise ValueError(f"y has {y_arr.shape[1]} label columns, the model has {c}")
            Y = sp.csr_array(np.asarray(y_arr, dtype=_DTYPE))
        else:
            if not first_call or classes is not None:
                unknown = np.setdiff1d(np.unique(y_arr), self.classes_)
                if unknown.size:
                    raise ValueError(
                        f"y contains labels unknown to the model: {unknown[:5].tolist()}; "
                        "pass every label in `classes` on the first call to partial_fit"
                    )
            codes = np.searchsorted(self.classes_, y_arr)
            Y = sp.csr_array((np.ones(n, dtype=_DTYPE), codes, np.arange(n + 1)), shape=(n, c))
        return Y, n

    def _example_weights(self, y_codes: np.ndarray | None, sample_weight, n: int, X):
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if np.any(w < 0):
            raise ValueError("sample_weight must be non-negative")
        if self.class_weight is not None:
            if self.multilabel_:
                raise ValueError("class_weight is not supported for multi-label targets")
            cw = (
                compute_class_weight(
                    self.class_weight, classes=np.arange(self.classes_.size), y=y_codes
                )
                if self.class_weight == "balanced"
                else np.array(
                    [self.class_weight.get(c, 1.0) for c in self.classes_], dtype=np.float64
                )
            )
            w = w * cw[y_codes]
        return w.astype(_DTYPE)

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        callback: ProgressCallback | None = None,
        A_init: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> BowClassifier:
        """Train the model on counts ``X`` (n×p, non-negative) and labels ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Non-negative counts (any sparse format; CSR is used internally).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels of any hashable type, or a 0/1 multi-label indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-example weights, not normalised: each multiplies its example's
            loss and step, so weights summing to 1 train as if ``lr`` were divided by n.
        X_val, y_val : optional
            External validation data scored after each epoch (accuracy, or micro-F1 for
            multi-label); used for early stopping instead of a held-out split when given.
        callback : callable, optional
            Called with a dict about progress (keys ``event`` ('batch' or 'epoch'), ``epoch``,
            ``epochs``, ``progress`` in [0, 1], ``loss``, ``lr``, ``examples``, ``features``,
            ``seconds``, ``features_per_second``, and at epoch ends ``val_score``) at most
            ~10 times a second and at every epoch end.
        A_init : (columns, vectors), optional
            Pretrained embeddings: after the random initialisation, column ``columns[i]`` of
            ``A`` is set to ``vectors[i]`` (shape ``len(columns)×dim``).  Ignored with
            ``warm_start`` continuing a previous fit.

        Returns
        -------
        self : BowClassifier
        """
        X, y = self._check_X_y(X, y, reset=True)
        warm = self.warm_start and hasattr(self, "A_")
        old = (self.classes_, self.multilabel_, self.A_, self.B_, self.t_) if warm else None
        Y, n = self._encode_targets(y, first_call=True)
        w = self._example_weights(_codes(Y, self.multilabel_), sample_weight, n, X)
        if warm:
            same = (
                old[1] == self.multilabel_
                and np.array_equal(old[0], self.classes_)
                and old[2].shape[1] == X.shape[1]
                and old[2].shape[0] == self.dim
            )
            if not same:
                raise ValueError(
                    "warm_start needs the same classes, features and dim as the previous fit"
                )
            self.A_, self.B_, self.t_ = old[2], old[3], old[4]
        rng = np.random.default_rng(_seed_from(self.random_state))
        val = None
        if X_val is not None:
            X_val = self._check_X(X_val, reset=False)
            Y_val, _ = self._encode_targets(y_val, first_call=False)
            val = (X_val, Y_val)
        elif self.early_stopping:
            X, Y, w, val = self._split_validation(X, Y, w, rng)
        if not warm:
            self._initialize(X.shape[1], rng)
            if A_init is not None:
                columns, vectors = A_init
                columns = np.asarray(columns, dtype=np.int64)
                vectors = np.asarray(vectors, dtype=_DTYPE)
                if vectors.shape != (columns.size, self.dim):
                    raise ValueError(
                        f"A_init vectors have shape {vectors.shape}, expected "
                        f"({columns.size}, {self.dim})"
                    )
                if columns.size and (columns.min() < 0 or columns.max() >= X.shape[1]):
                    raise ValueError("A_init columns outside the feature range")
                self.A_.T[columns] = vectors
        self._set_threshold(Y)
        self.loss_curve_ = []
        self.validation_scores_ = []
        self.best_validation_score_ = None
        self._train(
            X,
            Y,
            w,
            rng,
            epochs=resolve_epochs(self.epochs, X.shape[0]),
            schedule=True,
            val=val,
            callback=callback,
        )
        return self

    def _split_validation(self, X, Y, w, rng):
        n = X.shape[0]
        codes = None if self.multilabel_ else _codes(Y, False)
        stratify = None
        if codes is not None and np.bincount(codes).min() >= 2:
            stratify = codes
        n_val = int(np.ceil(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves an empty training or "
                f"validation set for {n} samples"
            )
        seed = int(rng.integers(2**31 - 1))
        try:
            tr, va = train_test_split(
                np.arange(n), test_size=n_val, stratify=stratify, random_state=seed
            )
        except ValueError:  # too few samples per class for a stratified split
            tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=seed)
        tr.sort()
        va.sort()
        return X[tr], Y[tr], w[tr], (X[va], Y[va])

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X,
        y,
        classes=None,
        sample_weight=None,
        *,
        callback: ProgressCallback | None = None,
    ) -> BowClassifier:
        """Make one SGD pass over ``(X, y)``, continuing from the current parameters.

        The first call must name every class in ``classes`` (single-label targets); later calls
        must use labels among them and the same number of features.  The learning rate is
        ``lr·(1 − t_/total_examples)`` when ``total_examples`` is set (fastText's linear decay
        over the whole incremental run), else the constant ``lr``.

        Returns
        -------
        self : BowClassifier
        """
        first = not hasattr(self, "A_")
        X, y = self._check_X_y(X, y, reset=first)
        if first and classes is None and type_of_target(y) != "multilabel-indicator":
            raise ValueError("classes must be passed on the first call to partial_fit")
        if (
            not first
            and classes is not None
            and not np.array_equal(np.unique(np.asarray(classes)), self.classes_)
        ):
            raise ValueError(
                f"classes={list(classes)!r} differs from the classes of the first call "
                f"{self.classes_.tolist()!r}"
            )
        Y, n = self._encode_targets(y, first_call=first, classes=classes)
        w = self._example_weights(_codes(Y, self.multilabel_), sample_weight, n, X)
        rng = np.random.default_rng(
            None
            if self.random_state is None
            else (_seed_from(self.random_state), self.t_ if not first else 0)
        )
        if first:
            self._initialize(X.shape[1], rng)
            self._set_threshold(Y)
            self.loss_curve_ = []
            self.validation_scores_ = []
            self.best_validation_score_ = None
        elif self.multilabel_ and self.top_label_ and self.loss == "ova" and n:
            if _labels_per_row(Y).min() == 0:  # an unlabelled document: empty
                self.top_label_ = False  # predictions can be right, stop forcing the top label
        self._train(X, Y, w, rng, epochs=1, schedule=False, val=None, callback=callback)
        return self

    def _initialize(self, n_features: int, rng: np.random.Generator) -> None:
        """``A ~ U(−1/d, 1/d)`` over the whole matrix, ``B = 0``."""
        d = self.dim
        W = np.empty((n_features, d), dtype=_DTYPE)  # W = Aᵀ, C-ordered: one row per feature
        rng.random(out=W, dtype=_DTYPE)
        W *= 2.0 / d
        W -= 1.0 / d
        self.A_ = W.T
        self.B_ = np.zeros((self.classes_.size, d), dtype=_DTYPE)
        self.t_ = 0

    def _set_threshold(self, Y: sp.csr_array) -> None:
        labels_per_row = _labels_per_row(Y)
        self.threshold_, self.top_label_ = multilabel_decision_rule(
            self.threshold,
            self.loss,
            self.multilabel_,
            mean_labels=float(labels_per_row.mean()) if labels_per_row.size else 1.0,
            every_row_labelled=bool(labels_per_row.size == 0 or labels_per_row.min() > 0),
        )

    def _train(self, X, Y, w, rng, *, epochs, schedule, val, callback) -> None:
        """Run ``epochs`` shuffled passes of minibatch SGD over in-memory data."""
        source = InMemoryData(
            X, Y, w, normalize=self.normalize, loss=self.loss, multilabel=self.multilabel_
        )
        self._train_source(
            source, rng, epochs=epochs, schedule=schedule, val=val, callback=callback
        )

    def _train_source(self, source, rng, *, epochs, schedule, val, callback) -> None:
        """The shared training routine: ``epochs`` passes over ``source.blocks(rng)``.

        ``source`` is any object with ``n`` (examples per epoch) and ``blocks(rng)`` yielding
        prepared ``(X̃, Y, w)`` blocks in a shuffled order (see :class:`InMemoryData`).
        """
        W = self.A_.T
        if not W.flags.c_contiguous:  # e.g. after a user assigned a C-ordered A_
            W = np.ascontiguousarray(W)
            self.A_ = W.T
        B = self.B_
        n = source.n
        if schedule:
            schedule_fn = LinearDecay(self.lr, epochs * n)
        elif self.total_examples is not None:  # incremental run: continue the decay from t_
            t0 = self.t_
            decay = LinearDecay(self.lr, self.total_examples)
            schedule_fn = lambda t: decay(t0 + t)  # noqa: E731
        else:
            schedule_fn = LinearDecay(self.lr, None)
        clock = _Progress(callback, epochs)
        self.n_iter_ = 0
        best = (-np.inf, None)
        no_improve = 0
        for epoch in range(epochs):
            done = 0
            loss_sum = weight_sum = 0.0
            for Xb, Yb, wb in source.blocks(rng):
                offset = epoch * n + done

                def report(
                    batch, lr, ls, ws, offset=offset, epoch=epoch, prior=(loss_sum, weight_sum)
                ):
                    self.t_ += batch.n
                    clock.batch(
                        epoch,
                        (offset + batch.start + batch.n) / (epochs * n),
                        (prior[0] + ls) / max(prior[1] + ws, 1e-12),
                        lr,
                        batch,
                    )

                try:
                    ls, ws = sgd_pass(
                        W,
                        B,
                        Xb,
                        Yb,
                        wb,
                        loss=self.loss,
                        batch_size=self.batch_size,
                        lr_at=lambda i, offset=offset: schedule_fn(offset + i),
                        on_batch=report,
                    )
                except TrainingDivergedError:
                    self._forget_fit()
                    raise TrainingDivergedError(
                        f"training diverged (loss exploded at epoch {epoch + 1}) with "
                        f"lr={self.lr:g}: lower the learning rate (e.g. lr={self.lr / 10:g})"
                    ) from None
                loss_sum += ls
                weight_sum += ws
                done += Xb.shape[0]
            epoch_loss = loss_sum / max(weight_sum, 1e-12)
            self.loss_curve_.append(epoch_loss)
            self.n_iter_ = epoch + 1
            val_score = None
            if val is not None:
                val_score = self._score_targets(*val)
                self.validation_scores_.append(val_score)
                if val_score > best[0] + self.tol:
                    best = (val_score, (W.copy(), B.copy()) if self.early_stopping else None)
                    no_improve = 0
                else:
                    no_improve += 1
                self.best_validation_score_ = max(self.validation_scores_)
            clock.epoch(epoch, epoch_loss, val_score)
            if self.verbose:
                extra = "" if val_score is None else f", validation score {val_score:.4f}"
                print(
                    f"-- Epoch {epoch + 1}/{epochs}: loss {epoch_loss:.4f}{extra}",
                    file=sys.stdout,
                    flush=True,
                )
            if self.early_stopping and val is not None and no_improve >= self.n_iter_no_change:
                break
        if self.early_stopping and best[1] is not None:
            W[...] = best[1][0]
            B[...] = best[1][1]

    # ------------------------------------------------------------------ prediction
    def _forward(self, X: sp.csr_array) -> Iterator[np.ndarray]:
        """Yield scores ``S = B·A·x̃`` for consecutive row chunks of ``X``."""
        scale = _math.row_scale(X, self.normalize)
        for start in range(0, X.shape[0], _PREDICT_CHUNK):
            rows = slice(start, start + _PREDICT_CHUNK)
            Xs = _math.scale_rows(X[rows], scale[rows], dtype=_DTYPE)
            yield _math.scores(_math.hidden(Xs, self.A_), self.B_)

    def _scores(self, X: sp.csr_array) -> np.ndarray:
        parts = list(self._forward(X))
        if not parts:
            return np.zeros((0, self.classes_.size), dtype=_DTYPE)
        return np.vstack(parts)

    def _proba_from_scores(self, S: np.ndarray) -> np.ndarray:
        S = S.astype(np.float64)
        if self.loss == "softmax":
            return _math.softmax(S)
        P = _math.sigmoid(S)
        if not self.multilabel_:  # one label per document: normalise like OneVsRestClassifier
            P /= P.sum(axis=1, keepdims=True)
        return P

    def decision_function(self, X) -> np.ndarray:
        """Class scores ``S = B·A·x̃`` (n×c); for two classes ``s₁ − s₀`` (shape (n,))."""
        check_is_fitted(self)
        S = self._scores(self._check_X(X, reset=False)).astype(np.float64)
        if S.shape[1] == 2 and not self.multilabel_:
            return S[:, 1] - S[:, 0]
        return S

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n×c, float64): ``softmax(S)`` rows sum to 1; ``'ova'`` gives ``σ(S)``.

        For single-label ``'ova'`` models the sigmoids are normalised to sum to 1, as
        scikit-learn's ``OneVsRestClassifier`` does; multi-label ``'ova'`` models return the
        independent per-label probabilities in [0, 1].
        """
        check_is_fitted(self)
        return self._proba_from_scores(self._scores(self._check_X(X, reset=False)))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably (log-softmax / log-sigmoid)."""
        check_is_fitted(self)
        S = self._scores(self._check_X(X, reset=False)).astype(np.float64)
        if self.loss == "softmax":
            return _math.log_softmax(S)
        log_P = _math.log_sigmoid(S)
        if not self.multilabel_:
            log_P = log_P - np.logaddexp.reduce(log_P, axis=1, keepdims=True)
        return log_P

    def predict(self, X) -> np.ndarray:
        """Predicted labels: the most probable class, or for multi-label models an indicator
        matrix of labels with probability ≥ ``threshold_`` (plus the most probable label when
        ``top_label_``)."""
        check_is_fitted(self)
        S = self._scores(self._check_X(X, reset=False))
        if not self.multilabel_:
            return self.classes_[np.argmax(S, axis=1)]
        return self._multilabel_decision(self._proba_from_scores(S))

    def _multilabel_decision(self, P: np.ndarray) -> np.ndarray:
        pred = (P >= self.threshold_).astype(np.int64)
        if getattr(self, "top_label_", self.loss == "softmax") and P.shape[0]:
            pred[np.arange(P.shape[0]), np.argmax(P, axis=1)] = 1
        return pred

    def predict_topk(self, X, k: int = 1, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable classes per document and their probabilities.

        Returns ``(labels, proba)`` of shape (n, k) sorted by decreasing probability; entries
        whose probability is below ``threshold`` (or beyond the number of classes) are masked:
        label ``None`` in an object array and probability ``nan``.
        """
        return topk_from_proba(self.predict_proba(X), self.classes_, k, threshold)

    def transform(self, X) -> np.ndarray:
        """Document embeddings ``h = A·x̃`` (n×d, float32)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        scale = _math.row_scale(X, self.normalize)
        return _math.hidden(_math.scale_rows(X, scale, dtype=_DTYPE), self.A_)

    def _score_targets(self, X: sp.csr_array, Y: sp.csr_array) -> float:
        """Accuracy (single-label) or micro-F1 (multi-label) of the model on CSR targets."""
        S = self._scores(X)
        if not self.multilabel_:
            return float(np.mean(np.argmax(S, axis=1) == _codes(Y, False)))
        pred = self._multilabel_decision(self._proba_from_scores(S))
        truth = Y.toarray() > 0
        tp = float(np.sum((pred > 0) & truth))
        denom = float(pred.sum() + truth.sum())
        return 2 * tp / denom if denom else 1.0


def resolve_epochs(epochs: int | str, n_samples: int) -> int:
    """The number of passes for ``epochs`` (``'auto'``: ``min(10, max(5, ⌈200000/n⌉))``)."""
    if epochs == "auto":
        return int(min(10, max(5, -(-200_000 // max(n_samples, 1)))))
    return int(epochs)


def _labels_per_row(Y: sp.csr_array) -> np.ndarray:
    """Number of positive targets in each row of a CSR target matrix."""
    return np.bincount(_math._row_ids(Y.indptr)[Y.data > 0], minlength=Y.shape[0])


def multilabel_decision_rule(
    threshold: float | None,
    loss: str,
    multilabel: bool,
    *,
    mean_labels: float,
    every_row_labelled: bool,
) -> tuple[float, bool]:
    """``(threshold_, top_label_)``: how a multi-label model turns probabilities into sets.

    A label is predicted when its probability is ≥ ``threshold_``: the user's ``threshold``,
    else 0.5 for ``loss='ova'`` (each sigmoid is a yes/no probability) and
    ``1/(1 + max(m, 1))`` for ``loss='softmax'`` (``m`` = mean labels per training document: a
    label holding its share of the distribution).  ``top_label_``: the most probable label is
    predicted as well, so no document gets an empty set — always for softmax, and for ova when
    every training document had at least one label (then an empty prediction is never right).
    Single-label models predict the arg-max and ignore both.
    """
    if threshold is not None:
        value = float(threshold)
    elif loss == "ova" or not multilabel:
        value = 0.5
    else:
        value = 1.0 / (1.0 + max(mean_labels, 1.0))
    top = multilabel and (loss == "softmax" or every_row_labelled)
    return value, bool(top)


def topk_from_proba(
    P: np.ndarray, classes: np.ndarray, k: int, threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` labels and probabilities per row of ``P`` (masked below ``threshold``)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n, c = P.shape
    kk = min(k, c)
    idx = _math.top_k(P, kk)
    top = np.take_along_axis(P, idx, axis=1)
    labels = np.full((n, k), None, dtype=object)
    proba = np.full((n, k), np.nan)
    keep = top >= threshold
    labels[:, :kk] = np.where(keep, classes[idx].astype(object), None)
    proba[:, :kk] = np.where(keep, top, np.nan)
    return labels, proba


# ---------------------------------------------------------------------- training kernels
class InMemoryData:
    """Training data held in memory, prepared once: rows scaled (``X̃ = diag(s)·X``, float32,
    one shared index dtype) and softmax multi-label targets normalised to sum to 1.

    ``blocks(rng)`` yields the whole data set as one block in a fresh random row order.
    """

    def __init__(self, X, Y, w, *, normalize, loss: str, multilabel: bool) -> None:
        self.X = prepare_counts(X, normalize)
        self.Y = prepare_targets(Y, loss=loss, multilabel=multilabel)
        self.w = np.asarray(w, dtype=_DTYPE)
        self.n = self.X.shape[0]

    def blocks(self, rng: np.random.Generator):
        order = rng.permutation(self.n)
        yield _canonical_int_dtype(self.X[order]), self.Y[order], self.w[order]


def prepare_counts(X: sp.csr_array, normalize) -> sp.csr_array:
    """``X̃ = diag(s)·X`` as float32 CSR with one index dtype, ready for :func:`sgd_pass`."""
    X = _math.scale_rows(X, _math.row_scale(X, normalize), dtype=_DTYPE)
    return _canonical_int_dtype(X)


def prepare_targets(Y: sp.csr_array, *, loss: str, multilabel: bool) -> sp.csr_array:
    """Targets for training: softmax multi-label rows are normalised to sum to 1."""
    if loss == "softmax" and multilabel:
        return _row_normalize(Y)
    return sp.csr_array(Y, dtype=_DTYPE)


def sgd_pass(
    W: np.ndarray,
    B: np.ndarray,
    X: sp.csr_array,
    Y: sp.csr_array,
    w: np.ndarray,
    *,
    loss: str,
    batch_size: int,
    lr_at: Callable[[int], float],
    on_batch: Callable | None = None,
) -> tuple[float, float]:
    """One SGD pass over the rows of ``(X̃, Y, w)`` in their stored order, updating ``W = Aᵀ``
    and ``B`` in place; returns ``(Σ wᵢ ℓᵢ, Σ wᵢ)`` over the pass.

    Each batch ``b`` takes the summed-gradient step (see :mod:`bowclf._math`)::

        η = lr_at(index of the batch's first row)
        B ← B − η·Gᵀ·H          A ← A − η·(G·B_old)ᵀ·X̃_b   (only the columns used by b)

    ``X̃`` must come from :func:`prepare_counts` and ``Y`` from :func:`prepare_targets`.

    BLAS is held to one thread during the pass.  The batch products (``n_b×d`` by ``d×c``) are
    far too small to be worth splitting, but OpenBLAS splits them across threads from about
    ``n_b·c·d ≥ 5·10⁵`` (c ≥ 328 classes at d = 100, batch 16), and the hand-off then costs
    more than the product, many times more when the other cores are busy: 1000 classes on a
    shared 2-core machine trained in 67–93 s instead of 11–18 s.  One thread also makes the
    result independent of the number of cores.

    Raises
    ------
    TrainingDivergedError
        As soon as a batch's loss is not finite, or its mean exceeds the initial loss by 100
        nats (the parameters are blowing up).
    """
    loss_sum = weight_sum = 0.0
    # A mean loss 100 nats above the initial log(c) only comes from parameters blowing up.
    explode = 100.0 + np.log(B.shape[0]) * (B.shape[0] if loss == "ova" else 1)
    with (
        _blas_controller().limit(limits=1, user_api="blas"),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
    ):
        for batch in _batches(X, Y, w, batch_size):
            lr = lr_at(batch.start)
            batch_loss = _sgd_step(batch, W, B, lr, loss)
            if not np.isfinite(batch_loss) or batch_loss > explode * float(batch.w.sum()):
                raise TrainingDivergedError("non-finite or exploding training loss")
            loss_sum += batch_loss
            weight_sum += float(batch.w.sum())
            if on_batch is not None:
                on_batch(batch, lr, loss_sum, weight_sum)
    return loss_sum, weight_sum


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The BLAS/OpenMP libraries of the process, looked up once (a lookup costs milliseconds)."""
    return ThreadpoolController()


def _sgd_step(batch: _Batch, W: np.ndarray, B: np.ndarray, lr: float, loss: str) -> float:
    """One summed-gradient SGD step on a batch; returns the batch's summed weighted loss."""
    H = np.zeros((batch.n, W.shape[1]), dtype=W.dtype)
    _math.sparse_hidden_into(batch.indptr, batch.indices, batch.data, W, H)
    S = _math.scores(H, B)
    Yb = batch.targets(B.shape[0])
    if loss == "softmax":
        log_P = _math.log_softmax(S)
        batch_loss = -float(batch.w @ (Yb * log_P).sum(axis=1))
        # exp of log-probabilities below −80 is < 2e-35: flush to 0 (float32 denormals are slow)
        G = _math.softmax_score_gradient(np.exp(np.maximum(log_P, -80.0)), Yb, batch.w)
    else:
        log_p, log_q = _math.log_sigmoid(S), _math.log_sigmoid(-S)
        batch_loss = -float(batch.w @ (Yb * log_p + (1 - Yb) * log_q).sum(axis=1))
        G = _math.ova_score_gradient(S, Yb, batch.w)
    GB = G @ B  # uses B before its update, like fastText
    GB *= -lr
    B -= lr * _math.gradient_B(G, H)
    _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)
    return batch_loss


# ---------------------------------------------------------------------- helpers
class _Batch:
    """A contiguous run of rows of the (already shuffled) training data, as raw CSR arrays."""

    __slots__ = ("start", "n", "indptr", "indices", "data", "y_indptr", "y_indices", "y_data", "w")

    def __init__(self, start, n, indptr, indices, data, y_indptr, y_indices, y_data, w):
        self.start, self.n = start, n
        self.indptr, self.indices, self.data = indptr, indices, data
        self.y_indptr, self.y_indices, self.y_data = y_indptr, y_indices, y_data
        self.w = w

    def targets(self, n_classes: int) -> np.ndarray:
        Y = np.zeros((self.n, n_classes), dtype=_DTYPE)
        rows = np.repeat(np.arange(self.n), np.diff(self.y_indptr))
        Y[rows, self.y_indices] = self.y_data
        return Y


def _batches(X: sp.csr_array, Y: sp.csr_array, w: np.ndarray, size: int) -> Iterator[_Batch]:
    n = X.shape[0]
    xp, xi, xd = X.indptr, X.indices, X.data
    yp, yi, yd = Y.indptr, Y.indices, Y.data
    for start in range(0, n, size):
        stop = min(start + size, n)
        a, b = xp[start], xp[stop]
        ya, yb = yp[start], yp[stop]
        yield _Batch(
            start,
            stop - start,
            xp[start : stop + 1] - a,
            xi[a:b],
            xd[a:b],
            yp[start : stop + 1] - ya,
            yi[ya:yb],
            yd[ya:yb],
            w[start:stop],
        )


class _Progress:
    """Throttled progress reports for a callback (at most ~10 per second, plus epoch ends)."""

    def __init__(self, callback: ProgressCallback | None, epochs: int) -> None:
        self.callback = callback
        self.epochs = epochs
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.examples = 0
        self.features = 0.0

    def _info(self, event, epoch, progress, loss, lr):
        seconds = time.perf_counter() - self.t0
        return {
            "event": event,
            "epoch": epoch + 1,
            "epochs": self.epochs,
            "progress": min(progress, 1.0),
            "loss": loss,
            "lr": lr,
            "examples": self.examples,
            "features": int(self.features),
            "seconds": seconds,
            "features_per_second": self.features / seconds if seconds > 0 else 0.0,
        }

    def batch(self, epoch, progress, loss, lr, batch: _Batch) -> None:
        if self.callback is None:
            return
        self.examples += batch.n
        self.features += float(batch.data.size)
        now = time.perf_counter()
        if now - self.last >= 0.1:
            self.last = now
            self.callback(self._info("batch", epoch, progress, loss, lr))

    def epoch(self, epoch, loss, val_score) -> None:
        if self.callback is None:
            return
        info = self._info("epoch", epoch, (epoch + 1) / self.epochs, loss, None)
        info["val_score"] = val_score
        self.callback(info)


def _as_count_matrix(X, whom: str) -> sp.csr_array:
    X = sp.csr_array(X) if sp.issparse(X) else sp.csr_array(np.asarray(X))
    check_non_negative(X, whom)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _canonical_int_dtype(X: sp.csr_array) -> sp.csr_array:
    """Give ``indptr`` and ``indices`` one shared integer dtype (the compiled kernels need it)."""
    idx_dtype = np.int32 if max(X.nnz, X.shape[1]) < np.iinfo(np.int32).max else np.int64
    if X.indptr.dtype == idx_dtype and X.indices.dtype == idx_dtype:
        return X
    return sp.csr_array(
        (X.data, X.indices.astype(idx_dtype), X.indptr.astype(idx_dtype)), shape=X.shape
    )


def _row_normalize(Y: sp.csr_array) -> sp.csr_array:
    """Scale target rows to sum to 1 (soft targets for the softmax loss); empty rows stay 0."""
    sums = np.asarray(Y.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums, dtype=np.float64), where=sums > 0)
    return _math.scale_rows(Y, inv, dtype=_DTYPE)


def _codes(Y: sp.csr_array, multilabel: bool) -> np.ndarray | None:
    """Class index of each row of a one-hot CSR target matrix (``None`` for multi-label)."""
    if multilabel:
        return None
    return Y.indices.astype(np.intp)


def _seed_from(random_state) -> int | None:
    """An integer seed for ``numpy.random.default_rng`` from a scikit-learn ``random_state``."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(random_state)
