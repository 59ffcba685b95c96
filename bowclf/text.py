"""``TextClassifier``: raw text in, labels out — :class:`BowVectorizer` + :class:`BowClassifier`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
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
from sklearn.utils.validation import check_is_fitted

from . import _limits, _math, defaults
from .auto_rules import resolve_ngram_weight
from .classifier import BowClassifier
from .fit_state import keeps_state_on_error
from .inference import (
    ClassifierCore,
    FeatureMap,
    FeaturizedPredictor,
    TextPredictor,
    check_features,
    column_lookup,
)
from .inference import check_texts as _check_texts
from .losses import get_loss
from .optim import resolve_optimizer
from .saved_state import check_label_set, restored_class_weight, restored_inputs
from .targets import as_indicator_or_labels, label_set_binarizer
from .training import (
    ProgressCallback,
    check_classes,
    check_label_values,
    check_validation_pair,
    seed_from,
    split_validation,
    unknown_labels,
)
from .vectorizer import BowVectorizer

__all__ = ["FeatureMap", "TextClassifier", "resolve_inputs"]

#: What a document's label collection may be (multi-label ``y``).
_LABEL_SETS = (list, tuple, set, frozenset)

_CLASSIFIER_PARAMS = (
    "dim",
    "epochs",
    "lr",
    "optimizer",
    "batch_size",
    "normalize",
    "loss",
    "class_weight",
    "threshold",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "tol",
    "random_state",
    "verbose",
    "n_jobs",
)
_VECTORIZER_PARAMS = (
    "lowercase",
    "tokenizer",
    "token_pattern",
    "min_count",
    "max_features",
    "ngrams",
    "buckets",
    "minn",
    "maxn",
)


class TextClassifier(
    ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin, BaseEstimator
):
    """fastText-style text classifier on raw documents: hashed bag of n-grams + ``B·A·x``.

    One estimator with the parameters of both parts (so ``GridSearchCV`` can tune
    ``ngrams`` and ``dim`` together): the documents are turned into counts by
    :class:`~bowclf.BowVectorizer` and classified by :class:`~bowclf.BowClassifier`.
    This is the object the command line trains, saves and loads.

    Counts are weighted by their inverse document frequency before they reach the model
    (``use_idf=True``): ``x_j · (ln((1 + n)/(1 + df_j)) + 1)``, so the embedding average
    ``A·x/‖x‖₁`` leans on the informative words rather than on "the" and punctuation
    (bench/RESULTS.md compares both).  The weighting spreads the learning over more, rarer
    features, so it needs the default training budget: with fastText's short schedule
    (``lr=0.1, epochs=5``) raw counts (``use_idf=False``) learn faster.

    Features that never occur in the training data (hash buckets no training n-gram fell
    into) are dropped when ``prune_features=True``: their embeddings would never be trained,
    so keeping them would only add random noise to predictions and memory to the model file.

    Parameters
    ----------
    dim, epochs, lr, optimizer, batch_size, loss, class_weight, threshold, \
early_stopping, validation_fraction, n_iter_no_change, tol, random_state, verbose, n_jobs
        Passed to :class:`~bowclf.BowClassifier` (see there); ``lr='auto'`` is resolved
        with the resolved ``normalize`` (below), so it is 0.25 for long documents and 0.35
        for three or more classes of short ones (softmax, adaptive optimiser).  Out of core
        (:func:`~bowclf.stream.fit_stream`) ``n_jobs`` is also the number of worker processes
        that read a large corpus (:mod:`bowclf.backends.passes`), with the same model.  With
        ``early_stopping`` and no ``X_val`` the held-out documents are split off before the
        vocabulary and term weights are fitted: nothing about them reaches the features.
    normalize : {'auto', 'l1', 'l2'} or None, default='auto'
        Row scaling of the weighted counts (see :class:`~bowclf.BowClassifier`).  ``'auto'``
        (resolved once per fit from the training corpus, see :func:`resolve_inputs`):
        ``'l2'`` for a corpus of *long documents* — on average at least
        ``defaults.LONG_DOCUMENT_WORDS`` (64) distinct vocabulary words per document — when
        the optimiser is adaptive (``optimizer`` ``'auto'`` with a softmax or ``hs`` loss,
        ``'adaptive'``, ``'adagrad'``), else ``'l1'``.  With ``l1`` a document's input is the
        average of hundreds of word vectors, dominated by its many rare words; ``l2`` keeps
        the document's total weight at 1 whatever its length.  Plain SGD (``'sgd'``, and
        ``'auto'`` with ``loss='ova'``) keeps ``'l1'``: its summed batch steps with ``l2``
        rows can diverge at the default rate.
    lowercase, tokenizer, token_pattern, min_count, max_features, ngrams, buckets, minn, maxn
        Passed to :class:`~bowclf.BowVectorizer` (see there).  ``ngrams=2`` (unigrams and
        bigrams) is the default: word pairs carry negation and phrases that single words do
        not (bench/RESULTS.md has both settings side by side).
    use_idf : bool, default=True
        Weight each feature by its smoothed inverse document frequency in the training
        documents (see above); ``False`` feeds raw counts, as fastText does.
    supervised_weight : float, default=0.5
        Strength ``β`` of the supervised term weights of a single-label task with
        ``use_idf``: each feature's idf weight is multiplied by ``1 + β·g_j``, where ``g_j``
        is ``max_k |r_jk|`` for two classes and ``max_k |r_jk| + Σ_k s_k·|r_jk|`` (plus the
        mean weighted by the classes' shares ``s_k``) for three or more, and ``r_jk`` is the
        smoothed log-count ratio (NBSVM's, Wang & Manning 2012) of the feature in the
        training documents of class ``k`` against the others
        (:func:`bowclf._math.supervised_term_weights`), so features that tell the classes
        apart weigh more in the document's average than those spread over every class.
        Computed from the training corpus's per-class document counts on every route (in
        memory, out of core, Dask) and stored with the idf weights in ``idf_``.  ``0``:
        plain idf.  Multi-label tasks and ``use_idf=False`` are not affected.
    ngram_weight : float or 'auto', default='auto'
        Factor on the weights of the hashed columns — word n-grams, and character n-grams
        with ``minn > 0`` — relative to the words: with ``l1`` rows it moves a document's
        weight from its n-grams to its words (``< 1``) or back (``> 1``).  ``'auto'``
        (resolved once per fit, :func:`bowclf.auto_rules.resolve_ngram_weight`):
        ``defaults.BINARY_NGRAM_WEIGHT`` (0.7) for a single-label task of two classes of
        short documents (``normalize`` resolved to ``'l1'``) with the softmax loss, the
        adaptive optimiser and ``use_idf``, else 1.  In a short noisy two-class corpus most
        bigrams are seen once or twice, and at full weight the later passes fit their noise;
        three or more classes keep their phrases at full weight, as do raw counts
        (``use_idf=False`` is fastText's input unless ``ngram_weight`` is given).  The
        resolved factor is ``inputs_['ngram_weight']``; the weights are in ``idf_``.
    sublinear_tf : bool or 'auto', default='auto'
        Replace each count ``c`` by ``1 + ln c`` (before the idf weight).  ``'auto'``:
        ``True`` for a corpus of long documents (see ``normalize``), where repeated words
        would otherwise outweigh the rest of the document, else ``False``.
    min_df : int or 'auto', default='auto'
        With ``prune_features``, also drop the features found in fewer than ``min_df``
        training documents.  ``'auto'``: ``defaults.LONG_MIN_DF`` (2) for a corpus of long
        documents — there nearly every n-gram seen in one document only is noise and, with
        the highest idf weight, would dominate its document — unless that keeps under 1 %
        of the features seen (a few documents sharing almost nothing); else 1 (keep every
        feature seen in training).  Without ``prune_features`` every column is kept.
    prune_features : bool, default=True
        Keep only the feature columns seen in training (see above).
    pretrained_vectors : path or None, default=None
        A fastText ``.vec`` / word2vec text file (optionally compressed): the embeddings of
        vocabulary words found there initialise their columns of ``A`` (``dim`` must match).

    Attributes
    ----------
    inputs_ : dict
        The resolved input settings of the last fit: ``normalize``, ``sublinear_tf``,
        ``min_df``, ``ngram_weight`` (never ``'auto'``) and the corpus statistic the
        ``'auto'`` rules used, ``words_per_document`` (mean distinct vocabulary words per
        training document).  Kept in model files and shown in ``training_summary_`` and by
        ``bowclf info``.
    vectorizer_ : BowVectorizer
    classifier_ : BowClassifier
    classes_ : ndarray
        Class labels (for multi-label models, every label seen in training).
    multilabel_ : bool
        Whether the model was trained on label sets (``y`` items are collections).
    idf_ : ndarray of float32 or None
        Weight of each classifier feature (``use_idf=True``, or an ``ngram_weight`` other
        than 1), else ``None``.
    feature_columns_ : ndarray of int or None
        Vectorizer columns kept by ``prune_features`` (classifier feature j is vectorizer
        column ``feature_columns_[j]``); ``None`` when every column is kept.
    training_summary_ : dict
        Documents, features, classes, epochs, the initial learning rate ``lr`` (resolved:
        ``classifier_.lr_``), seconds, final loss and validation score of the last fit.

    Examples
    --------
    >>> from bowclf import TextClassifier
    >>> texts = ["great film", "loved it", "boring film", "hated it"] * 20
    >>> labels = ["pos", "pos", "neg", "neg"] * 20
    >>> clf = TextClassifier(epochs=20, random_state=0).fit(texts, labels)
    >>> clf.predict(["loved this film"]).tolist()
    ['pos']
    """

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BowClassifier._parameter_constraints.items()
            if k not in ("warm_start", "total_examples")  # not TextClassifier parameters
        },
        **{k: BowVectorizer._parameter_constraints[k] for k in _VECTORIZER_PARAMS},
        "use_idf": ["boolean"],
        "supervised_weight": [Interval(Real, 0, None, closed="left")],
        "ngram_weight": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "normalize": [StrOptions({"auto", "l1", "l2"}), None],
        "sublinear_tf": ["boolean", StrOptions({"auto"})],
        "min_df": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "prune_features": ["boolean"],
        "pretrained_vectors": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        dim: int = defaults.DIM,
        epochs: int | str = defaults.EPOCHS,
        lr: float | str = defaults.LR,
        optimizer: str = defaults.OPTIMIZER,
        batch_size: int | str = defaults.BATCH_SIZE,
        normalize: str | None = defaults.TEXT_NORMALIZE,
        loss: str = defaults.LOSS,
        class_weight: dict | str | None = None,
        threshold: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = defaults.VALIDATION_FRACTION,
        n_iter_no_change: int = defaults.N_ITER_NO_CHANGE,
        tol: float = defaults.TOL,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        n_jobs: int | None = None,
        lowercase: bool = True,
        tokenizer: Any = defaults.TOKENIZER,
        token_pattern: str | None = None,
        min_count: int = defaults.MIN_COUNT,
        max_features: int | None = None,
        ngrams: int = defaults.NGRAMS,
        buckets: int = defaults.BUCKETS,
        minn: int = defaults.MINN,
        maxn: int = defaults.MAXN,
        use_idf: bool = defaults.USE_IDF,
        supervised_weight: float = defaults.SUPERVISED_WEIGHT,
        ngram_weight: float | str = defaults.NGRAM_WEIGHT,
        sublinear_tf: bool | str = defaults.SUBLINEAR_TF,
        min_df: int | str = defaults.MIN_DF,
        prune_features: bool = defaults.PRUNE_FEATURES,
        pretrained_vectors: str | os.PathLike | None = None,
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
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.token_pattern = token_pattern
        self.min_count = min_count
        self.max_features = max_features
        self.ngrams = ngrams
        self.buckets = buckets
        self.minn = minn
        self.maxn = maxn
        self.use_idf = use_idf
        self.supervised_weight = supervised_weight
        self.ngram_weight = ngram_weight
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.prune_features = prune_features
        self.pretrained_vectors = pretrained_vectors

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.classifier_tags.multi_label = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "classifier_")

    # ------------------------------------------------------------------ construction
    def _make_vectorizer(self) -> BowVectorizer:
        return BowVectorizer(**{k: getattr(self, k) for k in _VECTORIZER_PARAMS})

    def _make_classifier(self) -> BowClassifier:
        """The classifier part, with ``normalize`` as resolved by the last fit."""
        params = {k: getattr(self, k) for k in _CLASSIFIER_PARAMS}
        params["normalize"] = self.inputs_["normalize"]
        return BowClassifier(**params)

    def _resolve_inputs(
        self, document_frequency: np.ndarray, n_documents: int, n_classes: int, multilabel: bool
    ) -> None:
        """``inputs_`` for a corpus (the ``'auto'`` rules, see :func:`resolve_inputs`)."""
        names = ("normalize", "sublinear_tf", "min_df", "ngram_weight")
        self.inputs_ = resolve_inputs(
            {k: getattr(self, k) for k in names},
            document_frequency=document_frequency,
            n_documents=n_documents,
            n_words=len(self.vectorizer_.vocabulary_),
            optimizer=resolve_optimizer(self.optimizer, self.loss),
            n_classes=n_classes,
            multilabel=multilabel,
            loss=self.loss,
            use_idf=self.use_idf,
        )

    # ------------------------------------------------------------------ targets
    def _encode_y(self, y, *, fit: bool):
        """Single labels pass through; label collections become an indicator matrix.

        As in scikit-learn (and :class:`BowClassifier`), a single column is one label per
        document (with a ``DataConversionWarning``) and rows of equal length holding only
        0/1 numbers are an indicator matrix, not label collections."""
        y = as_indicator_or_labels(y)
        if sp.issparse(y) or (isinstance(y, np.ndarray) and y.ndim == 2):
            if fit:
                self._binarizer = None
                self.multilabel_ = True
            return y
        items = list(y) if not isinstance(y, np.ndarray) else y
        check_label_values(items)
        is_sets = len(items) > 0 and all(isinstance(v, _LABEL_SETS) for v in items)
        if fit:
            self.multilabel_ = is_sets
            self._binarizer = label_set_binarizer() if is_sets else None
            if is_sets:
                return self._binarizer.fit_transform(items)
            return np.asarray(items)
        if self.multilabel_ != is_sets:
            raise ValueError(
                "y must be label collections for a multi-label model"
                if self.multilabel_
                else "y must hold one label per document for this single-label model"
            )
        if is_sets:
            return self._binarizer.transform(items)
        return np.asarray(items)

    def _encode_validation_y(self, y_val):
        """Validation labels encoded like training labels; labels unseen in training raise."""
        if self._binarizer is not None and not sp.issparse(y_val):
            # a single label: a one-label collection
            y_val = [v if isinstance(v, _LABEL_SETS) else (v,) for v in y_val]
            unknown_labels(y_val, self._binarizer.classes_, multilabel=True)
        return self._encode_y(y_val, fit=False)

    # ------------------------------------------------------------------ features
    def _features(self, texts) -> sp.csr_array:
        return self._feature_map()(self.vectorizer_.transform(_check_texts(texts)))

    def _feature_map(self) -> FeatureMap:
        sublinear = self.inputs_["sublinear_tf"]
        return FeatureMap(self.feature_columns_, self._column_lookup, self.idf_, sublinear)

    def _set_columns(self, columns: np.ndarray | None, width: int) -> None:
        """``feature_columns_`` and its lookup (vectorizer column → classifier column or −1)."""
        self.feature_columns_ = columns
        self._column_lookup = column_lookup(columns, width)

    def _select_columns(self, X: sp.csr_array) -> sp.csr_array:
        """Vectorizer counts restricted to the classifier's columns (no term weighting)."""
        return FeatureMap(self.feature_columns_, self._column_lookup, None, False)(X)

    def _supervised(self) -> bool:
        """Whether a single-label fit weighs its features by class (and needs the per-class
        document frequencies)."""
        return self.use_idf and self.supervised_weight > 0

    def _set_features(
        self,
        document_frequency: np.ndarray,
        n_documents: int,
        class_df: sp.csr_array | None,
        *,
        n_classes: int,
        multilabel: bool,
    ) -> int:
        """``feature_columns_`` (with ``prune_features``: the columns of at least
        ``inputs_['min_df']`` training documents) and ``idf_`` from the document frequency of
        every vectorizer column, times the supervised term weights from ``class_df`` (the
        per-class document frequencies, :func:`_math.class_document_frequency`; ``None``
        for multi-label corpora) and ``inputs_['ngram_weight']`` on the hashed columns (the
        task: ``n_classes``, ``multilabel``); returns the number of classifier features."""
        self._resolve_inputs(document_frequency, n_documents, n_classes, multilabel)
        width = document_frequency.size
        columns = None
        if self.prune_features:
            used = np.flatnonzero(document_frequency >= max(1, self.inputs_["min_df"]))
            if used.size < width:
                columns = used
        self._set_columns(columns, width)
        df = document_frequency if columns is None else document_frequency[columns]
        self.idf_ = _math.idf_weights(df, n_documents) if self.use_idf else None
        if class_df is not None and self._supervised():  # idf_ is set: use_idf
            class_df = class_df if columns is None else class_df[columns]
            weights = _math.supervised_term_weights(class_df, self.supervised_weight)
            self.idf_ = (self.idf_ * weights).astype(np.float32)
        factor = self.inputs_["ngram_weight"]
        if factor != 1.0:
            n_words = len(self.vectorizer_.vocabulary_)  # the hashed columns come after them
            kept = np.arange(width) if columns is None else columns
            base = np.ones(kept.size, np.float32) if self.idf_ is None else self.idf_
            self.idf_ = _math.ngram_scaled_weights(base, kept >= n_words, factor)
        return width if columns is None else int(columns.size)

    def _validate_params(self) -> None:
        _limits.check_token_pattern(self)  # the reason, not only what is accepted
        super()._validate_params()

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    @keeps_state_on_error
    def fit(
        self,
        X: Iterable[str],
        y,
        sample_weight=None,
        *,
        X_val: Iterable[str] | None = None,
        y_val=None,
        callback: ProgressCallback | None = None,
    ) -> TextClassifier:
        """Learn the vocabulary and train the model on documents ``X`` with labels ``y``.

        Parameters
        ----------
        X : iterable of str
            Raw documents.
        y : sequence
            One label per document, or a collection of labels per document (multi-label), or
            a 0/1 indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
        X_val, y_val : optional
            Validation documents and labels, scored after every epoch (and used for early
            stopping when ``early_stopping=True``); for a multi-label model a single label
            of ``y_val`` is a one-label collection.
        callback : callable, optional
            Progress reports, see :meth:`BowClassifier.fit`; before training also
            ``event='vectorize'`` with ``documents`` when the vectorizer starts (``seconds``
            ``None``) and when it is done (``seconds`` taken).

        Returns
        -------
        self : TextClassifier
            A fit that raises (or is interrupted) leaves the model as it was: a fitted model
            keeps its vectorizer, classifier and classes.
        """
        start = time.perf_counter()
        texts, Y, sample_weight, X_val, y_val = self._checked_inputs(X, y, sample_weight,
                                                                     X_val, y_val)  # fmt: skip
        codes = None  # single-label: each document's class index (sorted classes)
        if self._binarizer is not None:
            check_classes(self._binarizer.classes_, len(texts))
        elif np.ndim(Y) == 1:
            classes, codes = np.unique(Y, return_inverse=True)
            check_classes(classes, len(texts))
        if callback is not None:
            callback({"event": "vectorize", "documents": len(texts), "seconds": None})
        self.vectorizer_ = self._make_vectorizer()
        Xc = self.vectorizer_.fit_transform(texts)
        if callback is not None:
            seconds = time.perf_counter() - start
            callback({"event": "vectorize", "documents": len(texts), "seconds": seconds})
        class_df = None
        if codes is not None and self._supervised():
            class_df = _math.class_document_frequency(Xc, codes.ravel(), int(codes.max()) + 1)
        n_classes = classes.size if codes is not None else Y.shape[1]  # else: indicators
        self._set_features(np.bincount(Xc.indices, minlength=Xc.shape[1]), Xc.shape[0], class_df,
                           n_classes=n_classes, multilabel=self.multilabel_)  # fmt: skip
        del class_df
        tokens, features = Xc.sum(), Xc.nnz  # as the other backends count: before the map
        Xc = self._feature_map()(Xc)
        self.classifier_ = self._train_classifier(Xc, Y, sample_weight, X_val, y_val, callback)
        if self._binarizer is not None:  # plain str/int array, not an object array of np.str_
            self.classes_ = np.asarray(self._binarizer.classes_.tolist())
        else:
            self.classes_ = self.classifier_.classes_
        self._quantized = self._corpus = None  # a loaded model's codes and corpus: not this fit's
        self._fitted_params = self.get_params()
        self.training_summary_ = self._summary(
            documents=len(texts),
            features=features,
            tokens=tokens,
            columns=Xc.shape[1],
            started=start,
        )
        return self

    def _checked_inputs(self, X, y, sample_weight, X_val, y_val) -> tuple:
        """``(texts, Y, sample_weight, X_val, y_val)`` of :meth:`fit`: checked, labels
        encoded, and with ``early_stopping`` and no ``X_val`` the held-out documents split off
        before the vectorizer and the term weights see them (BowClassifier's own split would
        come after both)."""
        X_val = None if X_val is None else _check_texts(X_val)
        check_validation_pair(X_val, y_val)
        texts = _check_texts(X)
        Y = self._encode_y(y, fit=True)
        if len(texts) != Y.shape[0]:
            raise ValueError(
                f"{len(texts)} documents but {Y.shape[0]} labels: the lengths must match"
            )
        if self.early_stopping and X_val is None:
            return self._held_out(texts, Y, sample_weight)
        return texts, Y, sample_weight, X_val, y_val

    def _held_out(self, texts: list, Y, sample_weight) -> tuple:
        """``(texts, Y, sample_weight, X_val, y_val)``: the ``validation_fraction`` of the
        documents early stopping scores, split off (:func:`~bowclf.training.split_validation`:
        stratified; a held-out document with a label no training document has stays in
        training) so that the vocabulary, idf and supervised weights never see them."""
        if sample_weight is not None and len(sample_weight) != len(texts):
            raise ValueError(
                f"sample_weight has {len(sample_weight)} values for {len(texts)} documents"
            )
        seed = seed_from(self.random_state)
        seed = int(np.random.default_rng().integers(2**31 - 1)) if seed is None else seed
        if sp.issparse(Y) or np.ndim(Y) == 2:  # label sets, as indicator rows
            rows = sp.csr_array(Y)
            sets = [
                rows.indices[rows.indptr[i] : rows.indptr[i + 1]].tolist()
                for i in range(len(texts))
            ]
            tr, va = split_validation(sets, self.validation_fraction, seed, multilabel=True)
        else:
            tr, va = split_validation(Y, self.validation_fraction, seed)
        weights = None if sample_weight is None else np.asarray(sample_weight)[tr]
        return [texts[i] for i in tr], Y[tr], weights, [texts[i] for i in va], Y[va]

    def _train_classifier(self, Xc, Y, sample_weight, X_val, y_val, callback) -> BowClassifier:
        """A new classifier trained on this fit's own counts ``Xc``, which it may overwrite:
        their values become the scaled rows instead of a second copy."""
        fit_kw: dict[str, Any] = {"callback": callback}
        if X_val is not None:
            fit_kw["X_val"] = self._features(X_val)
            fit_kw["y_val"] = self._encode_validation_y(y_val)
        if self.pretrained_vectors is not None:
            fit_kw["A_init"] = self._pretrained_columns()
        return self._make_classifier()._fit(Xc, Y, sample_weight, scale_in_place=True, **fit_kw)

    @keeps_state_on_error
    def fit_backend(self, backend, *, X_val=None, y_val=None, callback=None) -> TextClassifier:
        """Fit on a corpus held by a backend (the protocol of :mod:`bowclf.backends`).

        The entry point of out-of-core and Dask training (:func:`bowclf.stream.fit_stream`,
        :func:`bowclf.dask.fit_dask`): the parameters are validated first, then
        ``backend.scan(vectorizer, callback)`` fits the vectorizer and returns the corpus's
        :class:`~bowclf.training.CorpusStats`, ``backend.source(...)`` the training source
        for :func:`bowclf.training.train`, and ``backend.finish()`` the backend's entries of
        ``training_summary_``.  This model alone sets its fitted state, from those values.
        ``X_val``/``y_val`` (in memory) are scored after every epoch, and ``early_stopping``
        needs them (no documents are held out of a backend's corpus: ``ValueError``);
        ``callback`` gets the progress events of :meth:`fit`.  Returns ``self``; a fit that
        raises (or is interrupted) leaves the model as it was.
        """
        self._validate_params()
        X_val = None if X_val is None else _check_texts(X_val)
        check_validation_pair(X_val, y_val)
        if self.early_stopping and X_val is None:  # fit() would hold out a share of the rows
            raise ValueError(
                "early_stopping without X_val and y_val is not supported when training from "
                "a corpus file or a cluster (fit_stream, fit_dask): give validation data"
            )
        started = time.perf_counter()
        vectorizer = self._make_vectorizer()
        stats = backend.scan(vectorizer, callback, class_frequencies=self._supervised())
        self.vectorizer_ = vectorizer
        p = self._set_features(
            stats.document_frequency, stats.documents, stats.class_document_frequency,
            n_classes=stats.classes.size, multilabel=stats.multilabel,
        )  # fmt: skip
        stats.class_document_frequency = None  # used: not kept in memory while training
        self.multilabel_ = stats.multilabel
        self._binarizer = None
        if stats.multilabel:
            self._binarizer = label_set_binarizer(stats.classes.tolist())
        clf = self._make_classifier()
        kept = stats.document_frequency
        if self.feature_columns_ is not None:
            kept = kept[self.feature_columns_]
            stats.feature_nnz = int(kept.sum())  # a column's documents: its non-zeros
        normalize = self.inputs_["normalize"]
        source = backend.source(self._feature_map(), stats, n_features=p, document_frequency=kept,
                                normalize=normalize, loss=get_loss(self.loss))  # fmt: skip
        stats.document_frequency = kept = None  # used: not kept in memory while training
        clf._fit_source(
            source, stats, n_features=p, callback=callback,
            X_val=None if X_val is None else self._features(X_val),
            y_val=None if X_val is None else self._encode_validation_y(y_val),
            A_init=self._pretrained_columns() if self.pretrained_vectors is not None else None,
        )  # fmt: skip
        self.classifier_ = clf
        self.classes_ = (
            np.asarray(self._binarizer.classes_.tolist()) if stats.multilabel else clf.classes_
        )
        self._quantized = self._corpus = None  # a loaded model's codes and corpus: not this fit's
        self._fitted_params = self.get_params()
        self.training_summary_ = self._summary(
            documents=stats.documents, features=stats.nnz, tokens=stats.tokens, columns=p,
            started=started, **backend.finish(),
        )  # fmt: skip
        return self

    def _summary(self, *, documents, features, tokens, columns, started, **extra) -> dict:
        """``training_summary_`` of a finished fit (shared by in-memory, out-of-core and Dask
        training; ``extra`` adds their own keys)."""
        clf = self.classifier_
        return {
            "documents": int(documents),
            "features": int(features),
            "tokens": int(tokens),
            "classes": int(len(self.classes_)),
            "vocabulary": int(len(self.vectorizer_.vocabulary_)),
            "columns": int(columns),
            "epochs": int(clf.n_iter_),
            "lr": float(clf.lr_),
            "seconds": round(time.perf_counter() - started, 3),
            "loss": float(clf.loss_curve_[-1]),
            "validation_score": clf.best_validation_score_,
            **self.inputs_,
            **extra,
        }

    def _pretrained_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Pretrained vectors of vocabulary words, keyed by classifier feature column."""
        from .vectors import read_word_vectors

        vocabulary = self.vectorizer_.vocabulary_
        if self._column_lookup is not None:
            lookup = self._column_lookup
            vocabulary = {w: int(lookup[j]) for w, j in vocabulary.items() if lookup[j] >= 0}
        columns, vectors = read_word_vectors(self.pretrained_vectors, vocabulary, self.dim)
        self.n_pretrained_ = int(columns.size)
        return columns, vectors

    @classmethod
    def _restore(
        cls,
        params: dict,
        classifier: BowClassifier,
        vectorizer_state: dict,
        *,
        multilabel: bool,
        label_set: np.ndarray | None,
        feature_columns: np.ndarray | None,
        idf: np.ndarray | None,
        training_summary: dict,
        max_columns: int,
        quantized: dict | None = None,
        inputs: dict | None = None,
        corpus: dict | None = None,
    ) -> TextClassifier:
        """A fitted model from saved state (the model-file loader's one entry point), checked
        to fit together (``ValueError`` otherwise); ``label_set``: the labels of a model
        trained on label collections; ``quantized``: the codes of a product-quantised model
        (:mod:`bowclf.quantization`; saving it again writes them, not the dense matrices);
        ``inputs``: the saved ``inputs_`` (files written before the ``'auto'`` inputs existed
        have none: their parameters are the resolved values); ``corpus``: how the training
        corpus was read (saved again with the model, see :func:`bowclf.save`)."""
        known = cls().get_params()
        model = cls(**{k: v for k, v in params.items() if k in known})
        if "use_idf" not in params:  # files written before idf weighting existed: raw counts
            model.use_idf = False
        if "optimizer" not in params:  # files written before optimizer= existed: plain SGD
            model.optimizer = "sgd"
        if "supervised_weight" not in params:  # files written before it existed: plain idf
            model.supervised_weight = 0.0
        if "ngram_weight" not in params:  # likewise: n-grams at their term weights
            model.ngram_weight = 1.0
        model._validate_params()
        model.inputs_ = restored_inputs(params, inputs, classifier.normalize)
        model.classifier_ = classifier
        model.vectorizer_ = model._make_vectorizer().set_fitted_state(vectorizer_state)
        model.multilabel_ = bool(multilabel)
        model._binarizer = None
        check_label_set(label_set, model.multilabel_, classifier.multilabel_,
                        classifier.classes_.size)  # fmt: skip
        if label_set is not None:
            model._binarizer = label_set_binarizer(label_set.tolist())
            model.classes_ = model._binarizer.classes_
        else:
            model.classes_ = classifier.classes_
        model.class_weight = restored_class_weight(model.class_weight, model.classes_)
        width = int(model.vectorizer_.n_features_out_)
        if width > max_columns:
            raise ValueError(f"the vectorizer declares an implausible {width} features")
        model._restore_features(feature_columns, idf, width, classifier.n_features_in_)
        model.training_summary_ = training_summary
        model._quantized, model._corpus = quantized, corpus
        model._fitted_params = model.get_params()
        return model

    def _with_features(self, classifier, vectorizer_state, columns, idf, quantized):
        """A new model like this one with another ``classifier``, vocabulary and feature
        ``columns`` (bowclf.quantize's pruned models), built and checked by :meth:`_restore`."""
        check_is_fitted(self)
        return type(self)._restore(
            self.trained_params(), classifier, vectorizer_state, multilabel=self.multilabel_,
            label_set=None if self._binarizer is None else np.asarray(self.classes_),
            feature_columns=columns, idf=idf, quantized=quantized, inputs=dict(self.inputs_),
            training_summary=dict(getattr(self, "training_summary_", {})),
            max_columns=int(self.vectorizer_.n_features_out_),  # pruning only narrows
            corpus=getattr(self, "_corpus", None),
        )  # fmt: skip

    def _restore_features(self, columns, idf, width: int, n_in: int) -> None:
        columns, idf = check_features(columns, idf, width=width, n_in=n_in, use_idf=self.use_idf,
                                      weighted=self.inputs_["ngram_weight"] != 1.0)  # fmt: skip
        self._set_columns(columns, width)
        self.idf_ = idf

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X: Iterable[str]) -> np.ndarray:
        """Class scores ``B·A·x̃`` per document (see :meth:`BowClassifier.decision_function`)."""
        check_is_fitted(self)
        return self.classifier_.decision_function(self._features(X))

    def _predictor(self) -> TextPredictor:
        """This fitted model's prediction path (:mod:`bowclf.inference`, which
        :func:`bowclf.persist.load_predictor` also builds from a model file)."""
        return TextPredictor(
            self.vectorizer_, self._feature_map(), ClassifierCore.of(self.classifier_),
            self.classes_, multilabel=self.multilabel_, label_sets=self._binarizer is not None,
        )  # fmt: skip

    def trained_params(self) -> dict[str, Any]:
        """``get_params()`` as the model was fitted (``set_params`` since changes the next fit,
        not this model; ``n_jobs`` and ``verbose``, which change no model, as set now): a model
        file's parameters."""
        check_is_fitted(self)
        now = self.get_params()
        fitted = self.__dict__.get("_fitted_params") or now
        return fitted | {key: now[key] for key in ("n_jobs", "verbose")}

    def for_documents(self, texts: list[str]) -> FeaturizedPredictor:
        """This model's predictions (``predict``, ``predict_proba``, ``predict_topk``,
        ``predict_with_proba``) with the list ``texts`` vectorised once for all of them —
        the same answers, for a caller asking several of the same documents (an evaluation
        report)."""
        check_is_fitted(self)
        return FeaturizedPredictor(self._predictor(), texts)

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Class probabilities (n×c), columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self._predictor().predict_proba(X)

    def predict_log_proba(self, X: Iterable[str]) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably."""
        check_is_fitted(self)
        return self.classifier_.predict_log_proba(self._features(X))

    def predict(self, X: Iterable[str]):
        """Predicted label per document (ndarray); for multi-label models a list of label
        tuples (or an indicator matrix when the model was trained on one)."""
        check_is_fitted(self)
        return self._predictor().predict(X)

    def predict_topk(
        self, X: Iterable[str], k: int = 1, threshold: float = 0.0
    ) -> list[list[tuple[Any, float]]]:
        """The up-to-``k`` most probable labels of each document with probability ≥ threshold.

        Returns one list per document of ``(label, probability)`` pairs, most probable first.
        ``k`` must be an integer >= 1 and ``threshold`` a number in [0, 1] (``ValueError``
        otherwise: :func:`bowclf.inference.check_topk`).
        """
        check_is_fitted(self)
        return self._predictor().predict_topk(X, k=k, threshold=threshold)

    def explain(self, X: Iterable[str], k: int = 1, labels: Sequence[Any] | None = None) -> list:
        """Exact per-feature contributions to the class scores of each document.

        Returns one :class:`bowclf.explain.Explanation` per document, explaining its ``k``
        most probable classes (or the given ``labels``): every feature's contribution
        ``x̃_j·(B·A[:, j])_k`` (they sum to the score), the score and the probability.
        See :mod:`bowclf.explain`.
        """
        from .explain import explain_documents

        check_is_fitted(self)
        texts = _check_texts(X)
        return explain_documents(self, texts, self._features(texts), k=k, labels=labels)

    @property
    def _n_features_out(self) -> int:
        """``transform``'s columns (``get_feature_names_out``: ``textclassifier0``, …)."""
        return self.classifier_.A_.shape[0]

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Document embeddings ``h = A·x̃`` (n×dim)."""
        check_is_fitted(self)
        return self.classifier_.transform(self._features(X))

    def score(self, X: Iterable[str], y, sample_weight=None) -> float:
        """Accuracy (single-label) or subset accuracy (multi-label) on ``(X, y)``.

        A gold label the model never saw makes its document wrong (the label cannot be
        predicted), as in :func:`bowclf.report.evaluate`."""
        from sklearn.metrics import accuracy_score  # not imported by a fit: its memory

        check_is_fitted(self)
        features = self._features(X)
        if self.multilabel_:  # sparse indicators: no documents × classes array
            y = as_indicator_or_labels(y)
            unseen = np.zeros(features.shape[0], dtype=bool)
            if self._binarizer is not None and not hasattr(y, "shape"):
                known, sets = set(self._binarizer.classes_.tolist()), _LABEL_SETS
                y = list(y)
                unseen = np.array([isinstance(r, sets) and not known.issuperset(r) for r in y])
                y = [tuple(v for v in r if v in known) if isinstance(r, sets) else r for r in y]
            pred = self._predictor().classifier.predicted_indicator(features)
            truth = sp.csr_array(self._encode_y(y, fit=False), dtype=np.int64)
            right = (np.asarray((truth != pred).sum(axis=1)).ravel() == 0) & ~unseen
            return float(np.average(right, weights=sample_weight))
        pred = self.classifier_.predict(features)
        return float(accuracy_score(np.asarray(y), pred, sample_weight=sample_weight))


def resolve_inputs(
    params: dict,
    *,
    document_frequency: np.ndarray,
    n_documents: int,
    n_words: int,
    optimizer: str,
    n_classes: int | None = None,
    multilabel: bool = False,
    loss: str = defaults.LOSS,
    use_idf: bool = True,
) -> dict:
    """The input settings for a training corpus: ``params`` (``normalize``, ``sublinear_tf``,
    ``min_df``, optionally ``ngram_weight``) with every ``'auto'`` replaced by its value for
    this corpus and task.

    The corpus statistic is ``words_per_document``: the mean number of distinct vocabulary
    words per document, ``Σ_j df_j / n`` over the ``n_words`` vocabulary columns (they come
    first) of the per-column ``document_frequency``; it is the same whichever backend
    counted the corpus.  The corpus is of *long documents* when it is at least
    ``defaults.LONG_DOCUMENT_WORDS``; then ``'auto'`` means ``normalize='l2'`` (``'l1'``
    when ``optimizer`` — the resolved optimiser name — is ``'sgd'``), ``sublinear_tf=True``
    and ``min_df=defaults.LONG_MIN_DF`` (1 when it would keep under
    ``defaults.LONG_MIN_DF_KEEP`` of the features seen, or none); otherwise ``'l1'``,
    ``False`` and 1.  ``ngram_weight`` (1 when absent) depends on the task — ``n_classes``,
    ``multilabel``, ``loss``, ``optimizer``, ``use_idf`` — and the resolved ``normalize``
    (:func:`bowclf.auto_rules.resolve_ngram_weight`).  Deterministic: integers in, the same
    settings out.
    """
    n_words = min(int(n_words), document_frequency.size)
    words = float(np.sum(document_frequency[:n_words], dtype=np.int64)) / max(1, n_documents)
    long = words >= defaults.LONG_DOCUMENT_WORDS
    normalize, sublinear, min_df = params["normalize"], params["sublinear_tf"], params["min_df"]
    if normalize == "auto":
        normalize = "l2" if long and optimizer != "sgd" else "l1"
    if sublinear == "auto":
        sublinear = long
    if min_df == "auto":
        kept = int(np.count_nonzero(document_frequency >= defaults.LONG_MIN_DF))
        seen = int(np.count_nonzero(document_frequency))
        enough = kept > 0 and kept >= defaults.LONG_MIN_DF_KEEP * seen
        min_df = defaults.LONG_MIN_DF if long and enough else 1
    ngram_weight = resolve_ngram_weight(
        params.get("ngram_weight", 1.0), n_classes, multilabel=multilabel, loss=loss,
        optimizer=optimizer, normalize=normalize, use_idf=use_idf,
    )  # fmt: skip
    return {
        "normalize": normalize,
        "sublinear_tf": bool(sublinear),
        "min_df": int(min_df),
        "ngram_weight": ngram_weight,
        "words_per_document": round(words, 2),
    }
