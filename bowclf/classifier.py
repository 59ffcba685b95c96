"""``BowClassifier``: the model ``ŷ = softmax(B·A·x)`` as a scikit-learn classifier.

The estimator works on any count matrix (sparse or dense; real values are accepted): pair it with
:class:`bowclf.BowVectorizer` (or scikit-learn's ``CountVectorizer``) for text.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _limits, _math, defaults
from .allocator import release_free_memory
from .auto_rules import probes_overfitting, resolve_epochs, resolve_gce, resolve_lr, resolve_margin
from .backends.memory import InMemoryData, describe_targets
from .fit_state import unchanged_on_error
from .inference import PREDICT_CHUNK, ClassifierCore
from .losses import LOSSES, Loss, get_loss, topk_from_proba
from .optim import OPTIMIZERS, LinearDecay, checked_state, get_optimizer, resolve_optimizer
from .overfit_probe import OverfitProbe, rule_for
from .parallel import resolve_n_jobs
from .saved_state import (
    check_best_epoch,
    check_class_prior,
    check_parameters,
    restored_class_weight,
)
from .targets import (
    check_partial_fit_classes,
    class_weights,
    codes,
    example_weights,
    fit_classes,
    mean_one,
    mean_one_class_weights,
    read_targets,
    target_matrix,
)
from .training import (
    CorpusStats,
    ProgressCallback,
    Setup,
    TrainingDivergedError,
    as_count_matrix,
    check_A_init,
    check_label_values,
    check_validation_pair,
    check_warm_start,
    initial_parameters,
    seed_from,
    sgd_pass,
    split_indices,
    split_validation,
    train,
    unknown_labels,
)

__all__ = [  # InMemoryData and sgd_pass: re-exported from their new homes (backends, training)
    "PREDICT_CHUNK",
    "BowClassifier",
    "InMemoryData",
    "sgd_pass",
    "TrainingDivergedError",
    "resolve_epochs",
    "split_indices",
    "split_validation",
    "unknown_labels",
    "topk_from_proba",
]

_DTYPE = np.float32
_NEGATIVE_INT = Interval(Integral, None, -1, closed="right")  # n_jobs=-k: all cores but k - 1


class BowClassifier(
    ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseEstimator
):
    """fastText-style linear text classifier ``ŷ = softmax(B·A·x)`` over count vectors.

    Each document's count vector ``x`` (p features) is scaled (``normalize``), embedded by
    ``A`` (d×p) into ``h = A·x̃`` — with ``normalize='l1'`` the average of its word vectors,
    as in fastText — and mapped to c class scores ``s = B·h`` (``B``: c×d).  ``loss='softmax'``
    gives ``ŷ = softmax(s)`` trained with cross-entropy; ``loss='ova'`` gives one-vs-all
    sigmoids ``σ(s)`` trained with binary cross-entropy per class.

    Training is minibatch SGD over shuffled rows with fastText's schedule: the learning rate
    decays linearly from ``lr`` to 0 over all ``epochs`` (by examples; fastText decays it by
    tokens); the gradients of a batch are *summed* (not averaged), so with ``batch_size=1`` an
    example moves the parameters as one fastText update would, and a larger batch takes the
    batch's updates at once, from the parameters before it.  Only the columns of ``A`` used by a
    batch are touched.  ``A`` starts ``U(−1/d, 1/d)``, ``B`` at zero.

    Parameters
    ----------
    dim : int, default=100
        Embedding dimension d.
    epochs : int or 'auto', default='auto'
        Passes over the training data (``fit``).  ``'auto'``
        (:func:`bowclf.auto_rules.resolve_epochs`) makes about 200,000 example updates in 5 to 10
        passes, ``min(10, max(5, ⌈200000/n⌉))``: small corpora need the passes, large noisy ones
        overfit with them.  A single-label task of two classes makes ``defaults.BINARY_EPOCHS`` (5)
        passes at any size (one decision direction, learnt first).  Single-label softmax tasks of
        three or more classes trained by the adaptive optimiser have the ceiling
        ``defaults.LONG_MULTICLASS_EPOCHS`` (15) on ``l2`` rows.  Their runs of 10 or more passes
        over ``defaults.OVERFIT_PROBE_MIN_DOCUMENTS`` (2,000) or more documents, and short two-class
        runs of that many up to ``defaults.BINARY_PROBE_MAX_DOCUMENTS`` (15,000), are probed
        (:func:`bowclf.auto_rules.probes_overfitting`): a hashed slice (``overfit_probe.FRACTION``,
        10 %) is held out of the first two passes and, unless its log-loss fell by ``min_fall``
        (``overfit_probe.MULTICLASS``: 2 %; ``BINARY``: 4 %), the run starts over with two (three)
        fresh passes; a two-class run still learning starts over with its five.  ``n_iter_`` is the
        passes made; ``partial_fit`` always makes one.  Measurements: bench/RESULTS-devsuite.md.
    lr : float or 'auto', default='auto'
        Initial learning rate (per example, as in fastText).  ``'auto'``
        (:func:`bowclf.auto_rules.resolve_lr`): 0.35 (``defaults.MULTICLASS_LR``) for a
        single-label task of three or more classes with ``loss='softmax'``, the adaptive
        optimiser and ``normalize='l1'`` rows (short steps, see ``optimizer``: ``B``'s
        AdaGrad steps shrink before the rows of many classes separate), else 0.25
        (``defaults.BASE_LR``); the resolved value is ``lr_``.  fastText's default 0.1 leaves
        small corpora barely trained after 5 epochs; much larger rates overfit noisy ones.  With
        ``optimizer='adaptive'`` it is the rate of ``A``'s SGD step and ``B``'s AdaGrad rate
        is ``0.2·lr``; with ``'adagrad'`` both rates are ``0.2·lr``.
    optimizer : {'auto', 'adaptive', 'adagrad', 'sgd'}, default='auto'
        How a batch's gradients move the parameters (:mod:`bowclf.optim`).  ``'auto'``:
        ``'adaptive'`` for ``loss='softmax'``, ``'sgd'`` for ``loss='ova'`` (AdaGrad on ``B``
        trains independent sigmoids worse than plain SGD).  ``'sgd'``: fastText's plain SGD,
        which moves a document's hidden vector by ``lr·‖x̃‖²·∂ℓ/∂h`` — ``‖x̃‖² ≈ 1/length``
        with ``l1`` rows, so documents of hundreds of words barely train ``A``, and with many
        classes the rows of ``B`` (starting at 0) barely move either.  ``'adaptive'``: the
        same SGD step on ``A`` for short documents, raised for long ones to at least
        ``lr/32·∂ℓ/∂h`` in hidden space, and row-wise AdaGrad on ``B`` (one accumulator per
        class): about ``'sgd'``'s model on short texts, and trained where ``'sgd'`` is not
        (long documents, many classes, skewed classes).  ``'adagrad'``: row-wise AdaGrad on
        both (one accumulator per feature and per class).  The accumulators are kept in
        ``optimizer_state_`` (and in model files) so that ``partial_fit`` and ``warm_start``
        continue a run.  bench/RESULTS-devsuite.md has the measurements.
    batch_size : int or 'auto', default='auto'
        Documents per SGD step.  ``'auto'``: 32, or 1 when the rows are dense (on average more
        than half of the features non-zero).  The batch's gradients are summed, so
        ``batch_size × lr`` bounds stability where documents share features; on sparse text
        32 costs less per document than smaller batches at the same accuracy
        (bench/RESULTS-threads.md).
    normalize : {'l1', 'l2'} or None, default='l1'
        Row scaling of ``x`` before embedding: ``x/‖x‖₁`` (average of word vectors, fastText),
        ``x/‖x‖₂``, or raw counts.
    loss : {'softmax', 'ova', 'hs'}, default='softmax'
        ``'softmax'``: cross-entropy on ``softmax(B·A·x)``; multi-label targets are normalised
        to sum to 1.  ``'ova'``: independent sigmoids, one binary cross-entropy per class.
        ``'hs'``: hierarchical softmax over a Huffman tree of the training labels (fastText's
        ``-loss hs``; ``B`` is (c−1)×d, O(d·log c) per example, pruned top-k prediction), for
        thousands of labels — see :class:`bowclf.losses.HierarchicalSoftmax`.
    class_weight : dict, 'balanced' or None, default=None
        Weights multiplying each example's loss by its class (single-label only).
    threshold : float or None, default=None
        Multi-label decision threshold on predicted probabilities.  ``None`` means 0.5 for
        ``loss='ova'`` and ``1/(1 + max(m, 1))`` for ``loss='softmax'``, where m is the mean
        number of labels per training document.  The most probable label is predicted too (so no
        document gets an empty label set) for softmax, and for ova when every training
        document had a label (see the loss objects' ``decision_rule`` in :mod:`bowclf.losses`).
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
        Continue ``fit`` from the current parameters (same classes and features).  The
        learning-rate schedule restarts: the new fit decays from ``lr`` to 0 again.
    total_examples : int or None, default=None
        For :meth:`partial_fit` only: the number of examples the whole incremental run will
        process (e.g. passes × corpus size).  The learning rate then decays linearly from
        ``lr`` to 0 over them, as in :meth:`fit`; ``None`` keeps it constant at ``lr``.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation of ``A``, the shuffling and the validation split.  A fixed
        value makes ``fit`` reproducible bit for bit on the same CPU kernels and library
        builds (numpy, scipy, BLAS), for any ``n_jobs`` and however the threads are scheduled.
    verbose : int, default=0
        Print one line per epoch to stdout when > 0.
    n_jobs : int or None, default=None
        Training threads, scikit-learn's convention (:func:`~bowclf.parallel.resolve_n_jobs`;
        at most one per core); any number trains bit for bit the model of one thread.

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
    lr_ : float
        The initial learning rate of the training runs (``lr``, with ``'auto'`` resolved for
        this model's classes, loss, optimiser and ``normalize``).
    t_ : int
        Training examples processed since initialisation.
    loss_curve_ : list of float
        Mean training loss of each epoch (or ``partial_fit`` call).
    validation_scores_ : list of float
        Validation scores per epoch (with early stopping or ``fit(..., X_val=, y_val=)``).
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    best_epoch_ : int or None
        With early stopping: the epoch (1-based) whose parameters and accumulators were kept.
    class_prior_ : ndarray of shape (n_classes,) or None
        Share of the training documents with each class, weighted by ``sample_weight`` when
        given (``None`` for models saved before it existed); decides the prediction for
        documents with no known feature.
    optimizer_state_ : dict of str to ndarray
        What the optimiser needs to continue the run (``partial_fit``, ``warm_start``):
        ``B_accumulator`` (one per class) for ``'adaptive'`` and ``'adagrad'``, plus
        ``A_accumulator`` (one per feature) for ``'adagrad'``; empty for ``'sgd'`` and for
        models saved before it existed.  After Dask training: where the run started plus
        every shard's increment (docs/dask.md).

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
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer": [StrOptions(set(OPTIMIZERS) | {"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "normalize": [StrOptions({"l1", "l2"}), None],
        "loss": [StrOptions(set(LOSSES))],
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
        "n_jobs": [_NEGATIVE_INT, Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        dim: int = defaults.DIM,
        epochs: int | str = defaults.EPOCHS,
        lr: float | str = defaults.LR,
        optimizer: str = defaults.OPTIMIZER,
        batch_size: int | str = "auto",
        normalize: str | None = defaults.NORMALIZE,
        loss: str = defaults.LOSS,
        class_weight: dict | str | None = None,
        threshold: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = defaults.VALIDATION_FRACTION,
        n_iter_no_change: int = defaults.N_ITER_NO_CHANGE,
        tol: float = defaults.TOL,
        warm_start: bool = False,
        total_examples: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.optimizer = optimizer
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
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ scikit-learn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
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
        """``X`` checked against the fit (``reset``: for a fit); predicting 0 rows is allowed."""
        kw = {"accept_sparse": ["csr", "csc", "coo"], "dtype": [np.float32, np.float64]}
        return as_count_matrix(validate_data(self, X, reset=reset, ensure_min_samples=reset, **kw))

    def _check_X_y(self, X, y, *, reset: bool) -> tuple[sp.csr_array, np.ndarray]:
        if y is not None and not sp.issparse(y):
            check_label_values(y)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float32, np.float64],
            multi_output=True,
            reset=reset,
        )
        return as_count_matrix(X), y

    def _encode_targets(self, y, *, first_call: bool, classes=None) -> tuple[sp.csr_array, int]:
        """Turn ``y`` into a CSR target matrix ``Y`` (n×c) and return ``(Y, n_rows)``; the
        first call sets the classes (see :mod:`bowclf.targets`)."""
        y_arr, multilabel = read_targets(y)
        if first_call:
            self.multilabel_ = multilabel
            if multilabel:
                self.classes_ = np.arange(y_arr.shape[1])
            else:
                self.classes_ = fit_classes(y_arr, classes)
        elif multilabel != self.multilabel_:
            raise ValueError(
                "y is multi-label but the model was fitted on single labels"
                if multilabel
                else "y has single labels but the model was fitted on multi-label targets"
            )
        check = not first_call or classes is not None
        Y = target_matrix(y_arr, self.classes_, multilabel, check_unknown=check)
        return Y, y_arr.shape[0]

    def _encode_validation(self, y_val) -> sp.csr_array:
        """Validation targets as a CSR matrix over the fitted classes."""
        if not self.multilabel_:
            unknown_labels(y_val, self.classes_)
        return self._encode_targets(y_val, first_call=False)[0]

    def _class_weights(self, class_counts: np.ndarray | None) -> np.ndarray | None:
        """Weight of each class (``class_weight``), from the training documents per class."""
        return class_weights(self.class_weight, self.classes_, self.multilabel_, class_counts)

    def _example_weights(self, Y: sp.csr_array, sample_weight, X, relative=True) -> np.ndarray:
        """One weight per example: ``sample_weight`` times its class's weight."""
        y_codes = codes(Y, self.multilabel_)
        return example_weights(sample_weight, X, y_codes, self.class_weight, self.classes_,
                               self.multilabel_, relative=relative)  # fmt: skip

    # ------------------------------------------------------------------ fitting
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
        """Train the model on counts ``X`` (n×p; any real values) and labels ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Counts or other real-valued features (any sparse format; CSR is used inside).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels of any hashable type, or a 0/1 multi-label indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-example weights, scaled to mean 1 over the training set: they
            set the examples' relative importance (each example's loss and step are multiplied
            by its scaled weight) and ``lr`` sets the step size.  ``class_weight`` multiplies
            them before the scaling.
        X_val, y_val : optional
            External validation data scored after each epoch (accuracy, or micro-F1 for
            multi-label); used for early stopping instead of a held-out split when given.
        callback : callable, optional
            Called with a dict about progress (keys ``event`` ('batch' or 'epoch'), ``epoch``,
            ``epochs``, ``progress`` in [0, 1], ``loss``, ``lr``, ``examples``, ``features``,
            ``seconds``, ``features_per_second``, and at epoch ends ``val_score``) at most
            ~10 times a second and at every epoch end; after early stopping once more with
            ``event='early_stop'``, ``best_epoch`` (kept), ``epochs_run`` and ``val_score``;
            on a restart (:mod:`bowclf.overfit_probe`) with ``event='restart'``, ``epochs_run``,
            ``epochs`` (new total), ``slice_losses``, ``overfitting`` and the rule's ``min_fall``.
        A_init : (columns, vectors), optional
            Pretrained embeddings: after the random initialisation, column ``columns[i]`` of
            ``A`` is set to ``vectors[i]`` (shape ``len(columns)×dim``).  Ignored with
            ``warm_start`` continuing a previous fit.

        Returns
        -------
        self : BowClassifier
        """
        return self._fit(X, y, sample_weight, X_val=X_val, y_val=y_val, callback=callback,
                         A_init=A_init)  # fmt: skip

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, callback=None,
             A_init=None, scale_in_place: bool = False) -> BowClassifier:  # fmt: skip
        """:meth:`fit`; ``scale_in_place``: ``X`` is the caller's to give away, and its values
        become the scaled rows ``X̃`` instead of a second copy (TextClassifier's counts)."""
        with unchanged_on_error(self, interrupts=False):  # refused: the model stays as it was
            check_validation_pair(X_val, y_val)
            X, y = self._check_X_y(X, y, reset=True)
            warm = self.warm_start and hasattr(self, "A_")
            old = None if not warm else (  # what a warm start continues from
                self.classes_, self.multilabel_, self.A_, self.B_, self.t_, self._trained_loss()
            )  # fmt: skip
            Y, _ = self._encode_targets(y, first_call=True)
            w = mean_one(self._example_weights(Y, sample_weight, X))
            sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
            if warm:
                check_warm_start(old, self.classes_, self.multilabel_, X.shape[1], self.dim,
                                 self.loss)  # fmt: skip
                self.A_, self.B_, self.t_ = old[2], old[3], old[4]
            rng = np.random.default_rng(seed_from(self.random_state))
            X, Y, (w, sw), val = self._validation_data(X, Y, (w, sw), rng, X_val, y_val)
            # the prior: the training rows' share of the sample weights (the held-out rows
            # are not training documents, as without weights)
            prior = None if sw is None else describe_targets(Y, self.multilabel_, sw).class_prior
            self._describe(replace(describe_targets(Y, self.multilabel_), class_prior=prior))
            if warm:  # the trained B belongs to the previous fit's loss (hs: its label tree)
                self._fitted_loss = old[5]
            else:
                self._initialize(X.shape[1], rng, A_init)
            self._reset_history()
            source = InMemoryData(X, Y, w, normalize=self.normalize, loss=self._loss(),
                                  multilabel=self.multilabel_, in_place=scale_in_place)  # fmt: skip
            epochs = self._epochs(X.shape[0])
            schedule = LinearDecay(self._lr(), epochs * X.shape[0])
            probe = None if warm else self._overfit_probe(X.shape[0], rng, A_init, val)
        self._train(source, rng, epochs=epochs, schedule=schedule, val=val, callback=callback,
                    batch_size=self._batch_size(X.nnz, *X.shape), probe=probe)  # fmt: skip
        return self

    def _batch_size(self, nnz: int, rows: int, columns: int) -> int:
        """``batch_size``, with ``'auto'`` resolved for a training matrix of ``rows ×
        columns`` with ``nnz`` non-zeros (see the class doc), on every route alike."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        dense = rows and nnz > 0.5 * rows * columns
        return 1 if dense else defaults.SPARSE_BATCH

    def _validation_data(self, X, Y, weights, rng, X_val, y_val):
        """``(X, Y, weights, val)``: the training rows, their ``weights`` (a tuple of
        per-row arrays or ``None``s) and the validation data ``val = (X, Y)`` — ``X_val,
        y_val`` when given, else with ``early_stopping`` a held-out split of the rows (drawn
        from ``rng``), else ``None``."""
        if X_val is not None:
            val = (self._check_X(X_val, reset=False), self._encode_validation(y_val))
            return X, Y, weights, val
        if not self.early_stopping:
            return X, Y, weights, None
        y_codes = codes(Y, self.multilabel_)
        seed = int(rng.integers(2**31 - 1)) if X.shape[0] else 0
        tr, va = split_indices(X.shape[0], self.validation_fraction, y_codes, seed)
        kept = tuple(None if a is None else a[tr] for a in weights)
        return X[tr], Y[tr], kept, (X[va], Y[va])

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
        over the whole incremental run), else the constant ``lr``.  Past ``total_examples``
        the rate is 0: further calls do not change the parameters (a warning says so).
        ``sample_weight`` multiplies each example's step as given (one call does not see
        the whole data set's weights, so they are not rescaled); ``class_weight='balanced'``
        is refused for the same reason.

        Returns
        -------
        self : BowClassifier
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one call sees one "
                "chunk's class counts; pass the weights as a dict computed over all the data "
                "(sklearn.utils.compute_class_weight), or use fit"
            )
        first = not hasattr(self, "A_")
        with unchanged_on_error(self, interrupts=False):  # refused: the model stays as it was
            X, y = self._check_X_y(X, y, reset=first)
            check_partial_fit_classes(classes, y, None if first else self.classes_)
            Y, n = self._encode_targets(y, first_call=first, classes=classes)
            w = self._example_weights(Y, sample_weight, X, relative=False)
        rng = np.random.default_rng(
            None
            if self.random_state is None
            else (seed_from(self.random_state), self.t_ if not first else 0)
        )
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        stats = describe_targets(Y, self.multilabel_, sw)
        if first:
            self._describe(stats)
            self._initialize(X.shape[1], rng)
            self._reset_history()
        elif n:
            self._describe_more(stats)
        if self.total_examples is not None and self.t_ >= self.total_examples:
            warnings.warn(
                f"partial_fit past total_examples={self.total_examples} (t_={self.t_}): the "
                "learning rate is 0, so the model does not change; raise total_examples to "
                "train further",
                UserWarning,
                stacklevel=2,
            )
        source = InMemoryData(
            X, Y, w, normalize=self.normalize, loss=self._loss(), multilabel=self.multilabel_
        )
        self._train(source, rng, epochs=1, schedule=self._incremental_schedule(), val=None,
                    callback=callback, batch_size=self._batch_size(X.nnz, *X.shape))  # fmt: skip
        return self

    def _incremental_schedule(self) -> LinearDecay:
        """``partial_fit``'s rate: the decay over ``total_examples`` continued from ``t_``."""
        return LinearDecay(self._lr(), self.total_examples, start=self.t_)

    # ------------------------------------------------------------------ fitted state
    def _loss(self) -> Loss:
        """The loss object of this model: the one prepared for the training corpus (a loss
        may keep state, e.g. a tree over the classes), else a fresh one for ``loss``."""
        fitted = self.__dict__.get("_fitted_loss")
        if fitted is not None and fitted.name == self.loss:
            return fitted
        return get_loss(self.loss)

    def loss_object(self) -> Loss:
        """The loss ``B_`` was trained with (see :mod:`bowclf.losses`), whatever ``loss`` says
        since: its probabilities, decision rule and top-k search, and the state a model file
        stores (e.g. the hierarchical softmax's label tree)."""
        return self._trained_loss()

    def row_scaling(self) -> str | None:
        """The row scaling ``A_`` was trained with (``normalize`` at the last training call),
        which prediction, :meth:`transform` and explanations apply."""
        fitted = self.__dict__.get("_fitted_params")
        return self.normalize if fitted is None else fitted["normalize"]

    def trained_params(self) -> dict[str, Any]:
        """``get_params()`` as at the last training call (``set_params`` since changes the next
        one; ``n_jobs`` and ``verbose``, which change no model, as set now), with the loss of
        :meth:`loss_object`: a model file's parameters."""
        now = self.get_params()
        fitted = self.__dict__.get("_fitted_params") or now
        return fitted | {"loss": self._trained_loss().name, "n_jobs": now["n_jobs"],
                         "verbose": now["verbose"]}  # fmt: skip

    def _rule_inputs(self) -> dict:
        """What the ``'auto'`` training rules (:func:`bowclf.auto_rules.resolve_lr`,
        ``resolve_epochs``, ``resolve_margin``) read of this model besides its class count:
        needs ``multilabel_``."""
        return {
            "multilabel": self.multilabel_,
            "loss": self.loss,
            "normalize": self.normalize,
            "optimizer": resolve_optimizer(self.optimizer, self.loss),
        }

    def _lr(self) -> float:
        """The initial learning rate ``lr`` stands for with this model's classes (``'auto'``:
        :func:`bowclf.auto_rules.resolve_lr`); needs ``classes_`` and ``multilabel_``."""
        return resolve_lr(self.lr, self.classes_.size, **self._rule_inputs())

    def _epochs(self, n_samples: int) -> int:
        """The passes ``epochs`` stands for over ``n_samples`` documents with this model's
        classes, loss, optimiser and row scaling (:func:`bowclf.auto_rules.resolve_epochs`)."""
        return resolve_epochs(self.epochs, n_samples, self.classes_.size, **self._rule_inputs())

    def _overfit_probe(self, n_samples: int, rng, A_init, val) -> OverfitProbe | None:
        """A fresh run's early-overfitting probe (``auto_rules.probes_overfitting``) or None."""
        task = (self.epochs, n_samples, self.classes_.size)
        if (val or self.early_stopping) or not probes_overfitting(*task, **self._rule_inputs()):
            return None
        return OverfitProbe(n_samples, rng, rule=rule_for(task[2]), A_init=A_init,
                            n_jobs=resolve_n_jobs(self.n_jobs))  # fmt: skip

    def _trained_loss(self) -> Loss:
        """The loss ``B_`` was trained with, whatever ``loss`` says now (warm starts)."""
        fitted = self.__dict__.get("_fitted_loss")
        return fitted if fitted is not None else get_loss(self.loss)

    def _optimizer(self):
        """The optimiser of a training run (see :mod:`bowclf.optim`), continuing from
        ``optimizer_state_`` (empty after :meth:`_initialize`)."""
        task = self._rule_inputs()
        margin = resolve_margin(self.classes_.size, **task)
        gce = resolve_gce(self.classes_.size, **task)
        optimizer = get_optimizer(task["optimizer"], margin=margin, lr=self._lr(), gce=gce)
        state = getattr(self, "optimizer_state_", None)
        if state:
            optimizer.resume(state)
        return optimizer

    def _initialize(self, n_features: int, rng: np.random.Generator, A_init=None) -> None:
        """``A ~ U(−1/d, 1/d)`` over the whole matrix (then ``A_init``), ``B = 0``."""
        if A_init is not None:
            A_init = check_A_init(A_init, self.dim, n_features)
        release_free_memory()  # what vectorising freed, before the largest allocation (A)
        W, self.B_ = initial_parameters(
            n_features, self.dim, self._loss().output_shape(self.classes_.size, self.dim), rng,
            A_init, resolve_n_jobs(self.n_jobs),
        )  # fmt: skip
        self.A_ = W.T
        self.t_ = 0
        self.optimizer_state_ = {}

    def _describe(self, stats: CorpusStats) -> None:
        """What the model keeps from the corpus description: the decision rule and the label
        frequencies."""
        self._fitted_loss = get_loss(self.loss).for_corpus(stats)
        self.threshold_, self.top_label_ = self._loss().decision_rule(
            self.threshold,
            self.multilabel_,
            mean_labels=stats.mean_labels,
            every_row_labelled=stats.every_row_labelled,
        )
        self.class_prior_ = stats.label_shares()

    def _describe_more(self, stats: CorpusStats) -> None:
        """``partial_fit``: running label frequencies; an unlabelled document means empty
        predictions can be right, so a multi-label model stops forcing the top label."""
        if getattr(self, "class_prior_", None) is not None:
            seen, n = self.t_, stats.documents  # one pass per call: examples are documents
            self.class_prior_ = (self.class_prior_ * seen + stats.label_shares() * n) / (seen + n)
        if self.multilabel_ and self.top_label_ and not stats.every_row_labelled:
            self.top_label_ = self._loss().decision_rule(
                self.threshold, True, mean_labels=1.0, every_row_labelled=False
            )[1]

    def _reset_history(self) -> None:
        self.loss_curve_ = []
        self.validation_scores_ = []
        self.best_validation_score_ = None

    def _set_classes(self, classes: np.ndarray, multilabel: bool) -> None:
        self.multilabel_ = bool(multilabel)
        if multilabel:
            self.classes_ = np.arange(classes.size)
        else:
            self.classes_ = np.asarray(classes)

    def _fit_source(
        self,
        source,
        stats: CorpusStats,
        *,
        n_features: int,
        X_val=None,
        y_val=None,
        callback: ProgressCallback | None = None,
        A_init=None,
    ) -> BowClassifier:
        """Fit on a backend's ``source`` of prepared data described by ``stats`` (the
        out-of-core and Dask routes; ``X_val`` are classifier features)."""
        stats.check_classes()
        self._set_classes(np.asarray(stats.classes), stats.multilabel)
        self.n_features_in_ = int(n_features)
        seed = seed_from(self.random_state)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        rng = np.random.default_rng(seed)
        self._describe(stats)
        self._initialize(n_features, rng, A_init)
        self._reset_history()
        val = None
        if X_val is not None:
            val = (sp.csr_array(X_val), self._encode_validation(y_val))
        epochs = self._epochs(stats.documents)
        probe = self._overfit_probe(source.n, rng, A_init, val)
        setup = Setup(
            W=self.A_.T, B=self.B_, seed=seed, A_init=A_init, loss=self._loss(),
            optimizer=self._optimizer(), epochs=epochs,
            batch_size=self._batch_size(
                stats.nnz if stats.feature_nnz is None else stats.feature_nnz,
                stats.documents, n_features,
            ),
            schedule=LinearDecay(self._lr(), epochs * source.n),
            class_weights=mean_one_class_weights(
                self._class_weights(stats.class_counts), stats.class_counts
            ),
            probe=None if probe is None else probe.spec,
        )  # fmt: skip
        self._train(source, rng, epochs=epochs, schedule=setup.schedule, val=val, callback=callback,
                    batch_size=setup.batch_size, setup=setup, probe=probe)  # fmt: skip
        return self

    def _train(
        self, source, rng, *, epochs, schedule, val, callback, batch_size, setup=None, probe=None
    ) -> None:
        """Run ``epochs`` passes of ``source`` through the loop (with ``probe``, if any)."""
        n_jobs = resolve_n_jobs(self.n_jobs)
        W = np.ascontiguousarray(self.A_.T)  # the model's own array unless A_ was set by hand
        if not W.flags.writeable:  # A_ memory-mapped from a model file: train on a copy
            W = np.array(W, order="C")
        if not self.B_.flags.writeable:
            self.B_ = np.array(self.B_, order="C")
        self.A_, self._fitted_params = W.T, self.get_params()  # as trained: validation too
        optimizer = self._optimizer() if setup is None else setup.optimizer
        try:
            history = train(
                source, W, self.B_, epochs=epochs, rng=rng, schedule=schedule,
                loss=self._loss(), batch_size=batch_size, lr=self._lr(), optimizer=optimizer,
                validate=None if val is None else lambda: self._core().score_targets(*val),
                early_stopping=self.early_stopping, n_iter_no_change=self.n_iter_no_change,
                tol=self.tol, callback=callback, verbose=self.verbose, setup=setup,
                n_jobs=n_jobs, probe=probe,
            )  # fmt: skip
        except TrainingDivergedError:
            self._forget_fit()
            raise
        self.optimizer_state_ = optimizer.state()
        self.lr_ = self._lr()
        self.t_ += history.examples
        self.n_iter_ = history.n_iter
        self.loss_curve_.extend(history.loss_curve)
        self.validation_scores_.extend(history.validation_scores)
        if self.validation_scores_:
            self.best_validation_score_ = max(self.validation_scores_)
        self.best_epoch_ = history.best_epoch

    @classmethod
    def _restore(
        cls,
        params: dict,
        fitted: dict,
        W: np.ndarray,
        B: np.ndarray,
        classes: np.ndarray,
        optimizer_state: dict | None = None,
        loss_state: dict[str, np.ndarray] | None = None,
        *,
        values_checked: bool = False,
    ) -> BowClassifier:
        """A fitted model from saved state (the model-file loader's one entry point): the
        parameters, fitted scalars, ``W = Aᵀ``, ``B``, classes, optimiser's accumulators and
        loss's arrays (hierarchical softmax: its label tree), checked to fit together
        (``ValueError`` otherwise); ``values_checked``: ``W`` was found finite by the loader's
        weight-scale check (no second pass unless a cast to float32 could overflow).  Files
        from before ``optimizer`` existed were trained with plain SGD and continue with it."""
        known = cls().get_params()
        clf = cls(**{k: v for k, v in params.items() if k in known})
        if "optimizer" not in params:
            clf.optimizer = "sgd"
        clf.class_weight = restored_class_weight(clf.class_weight, classes)
        clf._validate_params()
        values_checked = values_checked and W.dtype == _DTYPE
        with np.errstate(over="ignore"):  # an overflow is refused just below, not warned
            W = np.ascontiguousarray(W, dtype=_DTYPE)
            B = np.ascontiguousarray(B, dtype=_DTYPE)
        loss = clf._fitted_loss = get_loss(clf.loss).restored(loss_state or {}, classes.size)
        multilabel = bool(fitted["multilabel_"])
        check_parameters(W, B, classes, loss, fitted["n_features_in_"], multilabel,
                         check_W_values=not values_checked)  # fmt: skip
        clf._set_classes(classes, multilabel)
        clf.A_, clf.B_ = W.T, B
        for key in ("n_features_in_", "n_iter_", "t_", "loss_curve_", "validation_scores_",
                    "best_validation_score_"):  # fmt: skip
            setattr(clf, key, fitted[key])
        clf.threshold_ = float(fitted["threshold_"])
        # Files from before top_label_ existed: the loss's rule of the time.
        clf.top_label_ = bool(fitted.get("top_label_", loss.legacy_top_label(multilabel)))
        clf.class_prior_ = check_class_prior(fitted.get("class_prior_"), classes.size)
        clf.best_epoch_ = check_best_epoch(fitted.get("best_epoch_"), clf.n_iter_)
        clf.optimizer_state_ = checked_state(optimizer_state or {}, W, B)
        clf.lr_ = clf._lr()
        return clf

    def _with_parameters(self, W: np.ndarray, B: np.ndarray, features: np.ndarray):
        """bowclf.quantize's models: a classifier like this one on its input ``features`` (sorted)
        with ``W = Aᵀ`` (a row per kept feature; the accumulators follow) and ``B``."""
        keys = ("n_features_in_ multilabel_ threshold_ n_iter_ t_ best_validation_score_ "
                "top_label_ class_prior_ best_epoch_").split()  # fmt: skip
        fitted = {k: getattr(self, k) for k in keys} | {"n_features_in_": len(features)}
        fitted |= {k: list(getattr(self, k)) for k in ("loss_curve_", "validation_scores_")}
        state = {k: v[features] if k == "A_accumulator" else np.array(v, copy=True)
                 for k, v in self.optimizer_state_.items()}  # fmt: skip
        return type(self)._restore(self.trained_params(), fitted, np.array(W, copy=True),
                                   np.array(B, copy=True), self.classes_, state,
                                   self._trained_loss().state())  # fmt: skip

    # ------------------------------------------------------------------ prediction
    def _core(self) -> ClassifierCore:
        """This model's prediction path (:class:`bowclf.inference.ClassifierCore`, which
        ``TextClassifier`` and :func:`bowclf.persist.load_predictor` use too)."""
        return ClassifierCore.of(self)

    def decision_function(self, X) -> np.ndarray:
        """Class scores ``S = B·A·x̃`` (n×c, float64 products of the float32 hidden vectors and
        ``B``); for two classes ``s₁ − s₀`` (shape (n,))."""
        check_is_fitted(self)
        S = self._core().decision(self._check_X(X, reset=False))
        if S.shape[1] == 2 and not self.multilabel_:
            return S[:, 1] - S[:, 0]
        return S

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n×c, float64): ``softmax(S)`` rows sum to 1; ``'ova'`` gives ``σ(S)``.

        For single-label ``'ova'`` models the sigmoids are normalised to sum to 1, as
        scikit-learn's ``OneVsRestClassifier`` does; multi-label ``'ova'`` models return the
        independent per-label probabilities in [0, 1].  See :mod:`bowclf.losses`.
        """
        check_is_fitted(self)
        return self._core().proba(self._check_X(X, reset=False))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably (log-softmax / log-sigmoid)."""
        check_is_fitted(self)
        return self._core().log_proba(self._check_X(X, reset=False))

    def predict(self, X) -> np.ndarray:
        """Predicted labels: the most probable class, or for multi-label models an indicator
        matrix of labels with probability ≥ ``threshold_`` (plus the most probable label when
        ``top_label_``).

        A document with no known feature (an all-zero row: its scores are 0, so softmax is
        uniform and every one-vs-all probability 0.5) is given the most frequent training
        class; multi-label models give it the most frequent label when ``top_label_``, else
        an empty set.  Models saved before ``class_prior_`` existed predict the arg-max.
        """
        check_is_fitted(self)
        return self._core().predict(self._check_X(X, reset=False))

    def predict_topk(self, X, k: int = 1, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable classes per document and their probabilities (``k`` >= 1 and
        ``threshold`` in [0, 1], else ``ValueError``: :func:`bowclf.inference.check_topk`).

        Returns ``(labels, proba)`` (n×k) by decreasing probability; entries below ``threshold``
        or beyond the class count are masked: label ``None`` (object array), probability ``nan``.
        """
        check_is_fitted(self)
        return self._core().topk(self._check_X(X, reset=False), self.classes_, k, threshold)

    @property
    def _n_features_out(self) -> int:
        """``transform``'s columns (``get_feature_names_out``: ``bowclassifier0``, …)."""
        return self.A_.shape[0]

    def transform(self, X) -> np.ndarray:
        """Document embeddings ``h = A·x̃`` (n×d, float32)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        scale = _math.row_scale(X, self.row_scaling())
        return _math.hidden(_math.scale_rows(X, scale, dtype=_DTYPE), self.A_)
