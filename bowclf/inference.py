"""Prediction without scikit-learn: the fitted arrays, the feature map and the loss's rules.

The estimators are scikit-learn objects, and importing scikit-learn costs about a second —
more than everything else ``bowclf predict`` does for one line.  This module holds what
prediction needs and nothing more, on numpy and scipy only:

- :class:`FeatureMap`: vectorizer counts → classifier input (kept columns, term weights);
- :class:`ClassifierCore`: ``W = Aᵀ``, ``B``, the loss and the decision rule of a fitted
  :class:`~bowclf.BowClassifier` — hidden vectors ``H = X̃·Aᵀ`` chunk by chunk, then the
  loss's probabilities, arg-max, multi-label decision and top-k;
- :class:`TextPredictor`: a fitted :class:`~bowclf.TextClassifier`'s vectorizer, feature map
  and classifier core, with ``predict``/``predict_proba``/``predict_topk`` on raw text.

:meth:`TextClassifier.predict <bowclf.TextClassifier.predict>` (and ``predict_proba``,
``predict_topk``) run through :class:`TextPredictor`, and
:func:`bowclf.persist.load_predictor` builds one straight from a model file, so the command
line and the Python API share one prediction path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _limits, _math
from .losses import Loss, featureless_labels, multilabel_rule, topk_from_proba

__all__ = [
    "DECISION_CELLS",
    "PREDICT_CHUNK",
    "ClassifierCore",
    "FeatureMap",
    "FeaturizedPredictor",
    "LazyRows",
    "SortedLookup",
    "TextPredictor",
    "check_texts",
    "check_topk",
    "featureless_order",
    "indicator_of",
    "topk_request",
]

#: Rows per forward pass when predicting (bounds the n×d temporaries).
PREDICT_CHUNK = 8192
#: Probabilities a multi-label decision holds at once (:meth:`ClassifierCore.predicted_indices`):
#: 16 MiB of float64; blocks of fewer rows make BLAS's products slow (bench/RESULTS-hs.md).
DECISION_CELLS = 1 << 21
#: Threads computing hidden vectors of large inputs, and the non-zeros from which they pay.
_PREDICT_THREADS = max(1, min(os.cpu_count() or 1, 4))
_THREADED_NNZ = 1 << 18
_DTYPE = np.float32


class FeatureMap:
    """Vectorizer counts to classifier input: keep the ``columns`` training used (``lookup``:
    vectorizer column → classifier column or −1), then ``f(c)·idf_j`` term weights (``f(c) =
    1 + ln c`` when ``sublinear``, else ``c``; :func:`bowclf._math.weight_terms`)."""

    def __init__(self, columns, lookup, idf, sublinear: bool) -> None:
        self.columns = columns
        self.lookup = lookup
        self.idf = idf
        self.sublinear = sublinear

    def __call__(self, X: sp.csr_array) -> sp.csr_array:
        if self.columns is not None:
            new_index = self.lookup[X.indices]
            keep = new_index >= 0
            if keep.all():  # e.g. the training documents: a relabelling of the columns
                X = sp.csr_array(
                    (X.data, new_index.astype(X.indices.dtype, copy=False), X.indptr),
                    shape=(X.shape[0], self.columns.size),
                )
            else:  # boolean masks, not index arrays: no nnz-long int64 temporaries
                indptr = np.zeros_like(X.indptr)
                np.cumsum(_math.row_sums(X.indptr, keep, dtype=np.int64), out=indptr[1:])
                indices = new_index[keep].astype(X.indices.dtype, copy=False)
                del new_index
                X = sp.csr_array(
                    (X.data[keep], indices, indptr), shape=(X.shape[0], self.columns.size)
                )
        if self.idf is None and not self.sublinear:
            return X
        return _math.weight_terms(X, self.idf, sublinear=self.sublinear)


#: A dense column lookup is built up to this width, or up to DENSE_LOOKUP_RATIO times the
#: kept columns; wider, with few columns kept (a pruned model over millions of hashed
#: buckets, or a file declaring a huge vocabulary), :class:`SortedLookup` finds them instead.
DENSE_LOOKUP_WIDTH = 1 << 24
DENSE_LOOKUP_RATIO = 16


def column_lookup(columns: np.ndarray | None, width: int):
    """Vectorizer column → classifier column (or −1) of kept ``columns`` (sorted, unique;
    ``None``: all): an array indexed by column (int32 when the columns allow: half the memory
    and time of int64), or for a wide vectorizer keeping few columns a :class:`SortedLookup`
    indexed alike, whose memory is the kept columns' rather than the width's."""
    if columns is None:
        return None
    if width > max(DENSE_LOOKUP_WIDTH, DENSE_LOOKUP_RATIO * columns.size):
        return SortedLookup(columns)
    dtype = np.int32 if columns.size < np.iinfo(np.int32).max else np.int64
    lookup = np.full(width, -1, dtype=dtype)
    lookup[columns] = np.arange(columns.size)
    return lookup


class SortedLookup:
    """``lookup[j]``: the position of column ``j`` in the sorted unique ``columns``, or −1
    (binary search, for scalars and integer arrays)."""

    def __init__(self, columns: np.ndarray) -> None:
        self.columns = np.asarray(columns, dtype=np.int64)

    def __getitem__(self, j):
        columns = self.columns
        pos = np.searchsorted(columns, j)
        if not columns.size:
            return np.full(np.shape(j), -1, np.int64) if np.ndim(j) else -1
        found = columns[np.minimum(pos, columns.size - 1)] == j
        return np.where(found, pos, -1) if np.ndim(j) else (int(pos) if found else -1)


def check_features(columns, idf, *, width: int, n_in: int, use_idf: bool, weighted: bool):
    """``(columns as int64, idf as float32)`` of a saved model, checked against the
    vectorizer's ``width`` and the classifier's ``n_in`` features (``ValueError``);
    ``weighted``: the model has feature weights without ``use_idf`` (an ``ngram_weight``)."""
    if columns is not None:
        columns = columns.astype(np.int64, copy=False)
        if columns.size != n_in:
            raise ValueError(f"{columns.size} feature columns but the classifier expects {n_in}")
        if columns.size and (columns[0] < 0 or columns[-1] >= width):
            raise ValueError("feature_columns points outside the vectorizer's features")
        if columns.size > 1 and not (columns[1:] > columns[:-1]).all():
            raise ValueError("feature_columns are not sorted and unique")
    elif width != n_in:
        raise ValueError(f"the vectorizer makes {width} features but the classifier expects {n_in}")
    if idf is not None:
        if not (use_idf or weighted):
            raise ValueError("idf weights stored for a model with use_idf=False")
        if not (np.isfinite(idf).all() and (idf > 0).all()):
            raise ValueError("idf weights must be finite and positive")
    elif use_idf:
        raise ValueError("a use_idf model without its idf weights")
    elif weighted:
        raise ValueError("a model with an ngram_weight other than 1 without its feature weights")
    return columns, None if idf is None else idf.astype(np.float32)


class LazyRows:
    """Rows of ``W = Aᵀ`` (p×d) made ready when a prediction first uses them, so that one
    prediction reads only the rows it needs of a large model.

    Ready means checked: finite and small enough that no score overflows
    (:func:`bowclf._limits.weight_problem` with ``B``; a bad row raises
    :class:`~bowclf.persist.ModelFileError` naming ``source``).  With ``decode`` (rows →
    their float32 values, e.g. of a product-quantised ``A``) ``W`` is a zero-filled buffer
    that the decoded rows are written into.  When a prediction needs many rows at once, all
    of ``W`` is made ready in contiguous blocks (cheaper than gathering them).
    """

    _BLOCK = 1 << 16  # rows per block when the whole matrix is made ready

    def __init__(self, W: np.ndarray, B: np.ndarray, source: str, decode=None) -> None:
        self.W = W
        self.B = B
        self.source = source
        self.decode = decode
        self.ready = np.zeros(W.shape[0], dtype=bool)
        self.all_ready = W.shape[0] == 0

    def prepare(self, indices: np.ndarray) -> None:
        """Make the rows ``indices`` (any order, repeats allowed) ready."""
        if self.all_ready or not indices.size:
            return
        if indices.size * 8 < self.W.shape[0]:  # a few documents: sort what they use
            rows = np.unique(indices)
            rows = rows[~self.ready[rows]]
        else:  # a mask over every row costs less than sorting many indices
            wanted = np.zeros(self.W.shape[0], dtype=bool)
            wanted[indices] = True
            wanted &= ~self.ready
            rows = np.flatnonzero(wanted)
        if rows.size * 8 > self.W.shape[0]:  # many rows: all of them, block by block
            for start in range(0, self.W.shape[0], self._BLOCK):
                self._make_ready(slice(start, start + self._BLOCK))
            self.all_ready = True
        elif rows.size:
            self._make_ready(rows)
        self.ready[rows] = True

    def _make_ready(self, rows) -> None:
        if self.decode is not None:
            values = self.decode(rows)
        else:
            values = np.asarray(self.W[rows])
        problem = _limits.weight_problem(values, self.B)
        if problem is not None:
            from .io.modelfile import ModelFileError

            raise ModelFileError(f"{self.source}: inconsistent model file: {problem}")
        if self.decode is not None:
            self.W[rows] = values


class ClassifierCore:
    """The prediction state of a fitted :class:`~bowclf.BowClassifier` and its rules.

    ``A`` is d×p (``Aᵀ`` may be a read-only memory map), ``B`` the loss's output matrix,
    ``classes`` the classifier's classes.  ``lazy_rows``: ``None`` when every row of ``Aᵀ``
    is ready (known finite and bounded); else a :class:`LazyRows` that makes the rows a
    document uses ready before they are read.
    """

    def __init__(
        self, A: np.ndarray, B: np.ndarray, classes: np.ndarray, loss: Loss, *,
        normalize: str | None, multilabel: bool, threshold: float, top_label: bool,
        class_prior: np.ndarray | None, lazy_rows: LazyRows | None = None,
    ) -> None:  # fmt: skip
        self.A = A
        self.B = B
        self.classes = classes
        self.loss = loss
        self.normalize = normalize
        self.multilabel = bool(multilabel)
        self.threshold = threshold
        self.top_label = bool(top_label)
        self.class_prior = class_prior
        self.lazy_rows = lazy_rows

    @classmethod
    def of(cls, clf) -> ClassifierCore:
        """The core of a fitted :class:`~bowclf.BowClassifier` (shares its arrays)."""
        return cls(
            clf.A_, clf.B_, clf.classes_, clf.loss_object(), normalize=clf.row_scaling(),
            multilabel=clf.multilabel_, threshold=getattr(clf, "threshold_", 0.5),
            top_label=getattr(clf, "top_label_", False),
            class_prior=getattr(clf, "class_prior_", None),
        )  # fmt: skip

    def hidden_chunks(self, X: sp.csr_array) -> Iterator[np.ndarray]:
        """Yield hidden vectors ``H = X̃·Aᵀ`` for consecutive row chunks of ``X``.

        Large inputs are cut into one chunk per core (at most :data:`PREDICT_CHUNK` rows) and
        the chunks computed side by side in threads (scipy's sparse product releases the GIL);
        every row's vector is computed alone, so the result does not depend on the chunks.
        """
        if self.lazy_rows is not None:
            self.lazy_rows.prepare(X.indices)
        scale = _math.row_scale(X, self.normalize)
        n = X.shape[0]
        threads = _PREDICT_THREADS if X.nnz >= _THREADED_NNZ else 1
        step = min(PREDICT_CHUNK, -(-n // threads)) if n else PREDICT_CHUNK

        def hidden(start: int) -> np.ndarray:
            rows = slice(start, start + step)
            part = X if start == 0 and step >= n else X[rows]  # one chunk: no sliced copy
            return _math.hidden(_math.scale_rows(part, scale[rows], dtype=_DTYPE), self.A)

        starts = range(0, n, step)
        if threads == 1 or len(starts) == 1:
            yield from map(hidden, starts)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for wave in range(0, len(starts), threads):  # at most `threads` chunks held at once
                yield from pool.map(hidden, starts[wave : wave + threads])

    def _blocks(self, X: sp.csr_array) -> Iterator[np.ndarray]:
        """Hidden vectors of ``X`` in the blocks of rows every ranking route scores
        (:meth:`argmax`, :meth:`predicted_proba`, :meth:`topk`): ``DECISION_CELLS``
        probabilities at a time for a loss that scores every class, whole chunks for one
        that searches.  BLAS's last bits depend on the block, so one blocking keeps, for a
        loss that scores every class, ``predict`` and the first of ``predict_topk`` the same
        class even at a tie (hierarchical softmax's search breaks exact ties its own way)."""
        c = max(self.classes.size, 1)
        step = PREDICT_CHUNK if self.loss.searched_decision(c) else max(1, DECISION_CELLS // c)
        for H in self.hidden_chunks(X):
            for i in range(0, H.shape[0], step):
                yield H[i : i + step]

    def _per_class(self, X: sp.csr_array, of_hidden) -> np.ndarray:
        """``of_hidden(H)`` (n×c float64 per chunk of hidden vectors) for all of ``X``."""
        parts = [of_hidden(H) for H in self.hidden_chunks(X)]
        return np.vstack(parts) if parts else np.zeros((0, self.classes.size))

    def proba(self, X: sp.csr_array) -> np.ndarray:
        """Probabilities (n×c, float64), see :meth:`BowClassifier.predict_proba`."""
        return self._per_class(X, lambda H: self.loss.proba_from_hidden(H, self.B, self.multilabel))

    def _decision_blocks(self, X: sp.csr_array) -> Iterator[np.ndarray]:
        """The probabilities a multi-label decision reads, block by block: each chunk of
        hidden vectors in blocks of ``max(1, DECISION_CELLS // c)`` rows.  BLAS's last bits
        of a row's scores depend on the block of rows they are computed in, so every dense
        route to a decision (:meth:`predict`, :meth:`predicted_indices`,
        :meth:`predicted_with_proba`) computes them in these blocks and decides alike even at
        a threshold equal to a probability (:meth:`proba` computes whole chunks: with more
        than ``DECISION_CELLS / PREDICT_CHUNK`` classes its last bits may differ)."""
        step = max(1, DECISION_CELLS // max(self.classes.size, 1))
        for H in self.hidden_chunks(X):
            for i in range(0, H.shape[0], step):
                yield self.loss.proba_from_hidden(H[i : i + step], self.B, True)

    def _decided_blocks(self, X: sp.csr_array) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(P, pred)`` for each block of :meth:`_decision_blocks`: its probabilities and
        their :meth:`multilabel_decision` (the rows' own featureless flags), for the dense
        routes to a multi-label decision."""
        empty, done = _math.empty_rows(X), 0
        for P in self._decision_blocks(X):
            yield P, self.multilabel_decision(P, empty[done : done + P.shape[0]])
            done += P.shape[0]

    def log_proba(self, X: sp.csr_array) -> np.ndarray:
        """Logarithm of :meth:`proba`, computed stably."""
        ml = self.multilabel
        return self._per_class(X, lambda H: self.loss.log_proba_from_hidden(H, self.B, ml))

    def decision(self, X: sp.csr_array) -> np.ndarray:
        """Scores (n×c, float64), see :meth:`BowClassifier.decision_function`."""
        return self._per_class(X, lambda H: self.loss.decision_from_hidden(H, self.B))

    def argmax(self, X: sp.csr_array) -> np.ndarray:
        """Index of the most probable class of each row (the most frequent training class for
        rows with no known feature)."""
        parts = [self.loss.argmax_from_hidden(H, self.B) for H in self._blocks(X)]
        best = np.concatenate(parts) if parts else np.zeros(0, np.intp)
        if self.class_prior is not None and best.size:
            best[_math.empty_rows(X)] = np.argmax(self.class_prior)
        return best

    def predicted_proba(self, X: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
        """A single-label model's predicted class index per row (:meth:`argmax`) and its
        probability (the loss's ``top1_from_hidden``: :meth:`proba`'s value, or for a loss
        that never scores every class, that of its top-1 search, as :meth:`topk` gives it)."""
        parts = [self.loss.top1_from_hidden(H, self.B) for H in self._blocks(X)]
        best = np.concatenate([b for b, _ in parts]) if parts else np.zeros(0, np.intp)
        proba = np.concatenate([p for _, p in parts]) if parts else np.zeros(0)
        if self.class_prior is not None and best.size:
            empty, frequent = _math.empty_rows(X), np.argmax(self.class_prior)
            best[empty], proba[empty] = frequent, self._featureless_proba()[frequent]
        return best, proba

    def _featureless_proba(self) -> np.ndarray:
        """The probabilities (c,) of a document with no known feature (``H = 0``), as
        :meth:`proba` computes them for such a row."""
        H = np.zeros((1, self.B.shape[1]), dtype=_DTYPE)
        return self.loss.proba_from_hidden(H, self.B, self.multilabel)[0]

    def predict(self, X: sp.csr_array) -> np.ndarray:
        """Class labels, or a multi-label model's indicator matrix (see
        :meth:`BowClassifier.predict`)."""
        if not self.multilabel:
            return self.classes[self.argmax(X)]
        if self.loss.searched_decision(self.classes.size):  # no documents × classes floats
            return self.predicted_indicator(X).toarray()  # the documented (dense) indicator
        pred = np.zeros((X.shape[0], self.classes.size), dtype=np.int64)
        done = 0
        for _, block in self._decided_blocks(X):  # the indicator, one block of probabilities
            pred[done : done + block.shape[0]] = block
            done += block.shape[0]
        return pred

    def score_targets(self, X: sp.csr_array, Y: sp.csr_array) -> float:
        """Accuracy (single-label) or micro-F1 (multi-label) on CSR targets ``Y`` (n×c): a
        validation score during training, with no documents × classes array."""
        from .targets import codes  # training only: it imports scikit-learn's label tools

        if not self.multilabel:
            return float(np.mean(self.argmax(X) == codes(Y, False)))
        pred = self.predicted_indicator(X)
        truth = sp.csr_array(Y > 0, dtype=np.int64)
        truth.eliminate_zeros()
        tp, denom = float(pred.multiply(truth).sum()), float(pred.nnz + truth.nnz)
        return 2 * tp / denom if denom else 1.0

    def predicted_indicator(self, X: sp.csr_array) -> sp.csr_array:
        """A multi-label model's decision as a sparse n×c indicator (int64 ones): the label
        sets of :meth:`predicted_indices`, no documents × classes array."""
        return indicator_of(self.predicted_indices(X), self.classes.size)

    def predicted_indices(self, X: sp.csr_array) -> list[np.ndarray]:
        """A multi-label model's predicted class indices per row — the rule of
        :meth:`multilabel_decision` — computed for a few rows at a time, so that no
        documents × classes array is built (at most :data:`DECISION_CELLS` probabilities).
        A loss whose ``searched_decision`` holds (hierarchical softmax, many labels) finds
        them by its ``multilabel_indices`` instead, without every class's probability."""
        if self.loss.searched_decision(self.classes.size):
            return self._searched_indices(X, _math.empty_rows(X))
        return [np.flatnonzero(row) for _, pred in self._decided_blocks(X) for row in pred]

    def _searched_indices(self, X: sp.csr_array, empty: np.ndarray) -> list[np.ndarray]:
        """:meth:`predicted_indices` by the loss's ``multilabel_indices``, chunk by chunk of
        hidden vectors; documents with no known feature get :meth:`multilabel_decision`'s
        choice for them (the most frequent label when ``top_label``, else none) unsearched."""
        return [row for _, rows in self._searched_chunks(X, empty) for row in rows]

    def _searched_chunks(self, X: sp.csr_array, empty: np.ndarray):
        """Yield ``(H, rows)``: each chunk of hidden vectors and its rows' labels as
        :meth:`_searched_indices` decides them."""
        if self.class_prior is None:
            empty = np.zeros_like(empty)
        featureless = featureless_labels(self.top_label, self._frequent())
        done = 0
        for H in self.hidden_chunks(X):
            here = empty[done : done + H.shape[0]]
            live = np.flatnonzero(~here)
            rows = [featureless.copy() for _ in range(H.shape[0])]
            found = self.loss.multilabel_indices(H[live], self.B, self.threshold, self.top_label)
            for i, row in zip(live.tolist(), found, strict=True):
                rows[i] = row
            done += H.shape[0]
            yield H, rows

    def predicted_with_proba(self, X: sp.csr_array) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """A multi-label model's :meth:`predicted_indices` and each predicted label's
        probability: the value the decision read (:meth:`proba`'s, up to its last bit with many
        classes), or where the loss
        decides by search (hierarchical softmax, many labels) its ``label_proba`` of those
        labels only — no documents × classes probabilities."""
        rows: list[np.ndarray] = []
        probas: list[np.ndarray] = []
        if self.loss.searched_decision(self.classes.size):
            for H, found in self._searched_chunks(X, _math.empty_rows(X)):
                rows.extend(found)
                probas.extend(self.loss.label_proba(H, self.B, found))
            return rows, probas
        for P, pred in self._decided_blocks(X):
            for p, row in zip(P, pred, strict=True):
                rows.append(np.flatnonzero(row))
                probas.append(p[rows[-1]])
        return rows, probas

    def multilabel_decision(self, P: np.ndarray, empty: np.ndarray) -> np.ndarray:
        """Labels with probability ≥ ``threshold`` (plus the most probable one when
        ``top_label``).  A document with no known feature (``empty``) has no evidence for
        any label: it gets the most frequent training label when ``top_label``, else none."""
        empty = None if self.class_prior is None else empty
        pred = multilabel_rule(P, self.threshold, self.top_label, empty=empty,
                               frequent=self._frequent())  # fmt: skip
        return pred.astype(np.int64)

    def _frequent(self) -> int:
        """The most frequent training label (0 for a model without a class prior)."""
        return 0 if self.class_prior is None else int(np.argmax(self.class_prior))

    def topk(self, X: sp.csr_array, classes: np.ndarray, k: int, threshold: float):
        """``(labels, proba)`` (n×k) of the ``k`` most probable ``classes``, see
        :meth:`BowClassifier.predict_topk`.  The ranking holds at most ``c`` columns and
        works block by block (:meth:`_blocks`: a chunk of rows × thousands of classes, and
        ``top_k``'s temporaries of that size, took gigabytes); the columns past ``c`` are
        masked padding."""
        k, threshold = check_topk(k, threshold)
        kk = min(k, classes.size)
        parts = [
            self.loss.topk_from_hidden(H, self.B, classes, kk, threshold, self.multilabel)
            for H in self._blocks(X)
        ]
        if not parts:
            return topk_from_proba(np.zeros((0, classes.size)), classes, k, threshold)
        labels = np.full((X.shape[0], k), None, dtype=object)
        proba = np.full((X.shape[0], k), np.nan)
        labels[:, :kk] = np.vstack([p[0] for p in parts])
        proba[:, :kk] = np.vstack([p[1] for p in parts])
        return self._rank_empty_rows_by_prior(X, classes, labels, proba, threshold)

    def _rank_empty_rows_by_prior(self, X, classes, labels, proba, threshold: float):
        """Rank the labels of featureless documents by frequency, as :meth:`predict` picks
        their label, each with its probability (equal for softmax and one-vs-all; by depth in
        the tree for hierarchical softmax)."""
        prior, empty = self.class_prior, np.flatnonzero(_math.empty_rows(X))
        if prior is not None and empty.size:
            order = featureless_order(prior)[: min(labels.shape[1], classes.size)]
            p = self._featureless_proba()[order]
            kept = p >= threshold
            labels[empty, : order.size] = np.where(kept, classes[order].astype(object), None)
            proba[empty, : order.size] = np.where(kept, p, np.nan)
        return labels, proba


class TextPredictor:
    """Raw text to predictions, as a fitted :class:`~bowclf.TextClassifier` gives them.

    ``vectorizer``: anything with ``transform(texts) → csr_array`` (a fitted
    ``BowVectorizer`` or a :class:`bowclf.vectorizer.transform.FittedVectorizer`);
    ``classes``: the model's ``classes_``; ``label_sets``: whether a multi-label model was
    trained on label collections (its predictions are then tuples of labels, else an
    indicator matrix).
    """

    def __init__(
        self, vectorizer: Any, features: FeatureMap, classifier: ClassifierCore,
        classes: np.ndarray, *, multilabel: bool, label_sets: bool,
    ) -> None:  # fmt: skip
        self.vectorizer = vectorizer
        self.features = features
        self.classifier = classifier
        self.classes_ = classes
        self.multilabel_ = bool(multilabel)
        self.label_sets = bool(label_sets)

    def transform_features(self, X: Iterable[str]) -> sp.csr_array:
        """Classifier input ``x̃`` of documents ``X``."""
        return self.features(self.vectorizer.transform(check_texts(X)))

    def predict(self, X: Iterable[str]):
        """See :meth:`TextClassifier.predict` (label sets are decided a few documents at a
        time: no documents × classes array)."""
        features = self.transform_features(X)
        if self.multilabel_ and self.label_sets:
            rows = self.classifier.predicted_indices(features)
            return [tuple(self.classes_[index].tolist()) for index in rows]
        return self.classifier.predict(features)

    def predict_with_proba(self, X: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """A single-label model's :meth:`predict` and each predicted label's probability: that
        of :meth:`predict_proba`, or for hierarchical softmax of ``predict_topk(X, k=1)`` (the
        exact search, no documents × classes probabilities)."""
        index, proba = self.classifier.predicted_proba(self.transform_features(X))
        return np.asarray(self.classes_)[index], proba

    def predict_sets_with_proba(self, X: Iterable[str]) -> list[list[tuple[Any, float]]]:
        """A multi-label model's predicted labels (those of :meth:`predict`, in class order)
        with their probabilities, ``(label, probability)`` pairs per document: those the
        decision read — :meth:`predict_proba`'s (up to the last bit with more than 256 classes,
        see :meth:`ClassifierCore._decision_blocks`), or for hierarchical softmax over many
        labels those of the labels' paths (equal up to rounding: no documents × classes
        probabilities)."""
        rows, probas = self.classifier.predicted_with_proba(self.transform_features(X))
        classes = np.asarray(self.classes_)
        return [
            list(zip(classes[row].tolist(), p.tolist(), strict=True))
            for row, p in zip(rows, probas, strict=True)
        ]

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """See :meth:`TextClassifier.predict_proba`."""
        return self.classifier.proba(self.transform_features(X))

    def predict_topk(
        self, X: Iterable[str], k: int = 1, threshold: float = 0.0
    ) -> list[list[tuple[Any, float]]]:
        """See :meth:`TextClassifier.predict_topk`."""
        k, threshold = check_topk(k, threshold)  # before the documents are vectorised
        features, classes = self.transform_features(X), np.asarray(self.classes_)
        k = min(k, classes.size)  # none past the class count (k = 10⁸ allocated n×10⁸)
        labels, proba = self.classifier.topk(features, classes, k, threshold)
        return [
            [(lab, float(p)) for lab, p in zip(row_l, row_p, strict=True) if lab is not None]
            for row_l, row_p in zip(labels, proba, strict=True)
        ]


class FeaturizedPredictor(TextPredictor):
    """A :class:`TextPredictor` that vectorises the documents ``texts`` once, for every
    prediction asked of that same list (probabilities, ranking, labels: an evaluation asks
    for two or three, and vectorising was most of each); other inputs as usual.  The
    features are those :meth:`TextPredictor.transform_features` gives, so every answer is."""

    def __init__(self, base: TextPredictor, texts: list[str]) -> None:
        super().__init__(base.vectorizer, base.features, base.classifier, base.classes_,
                         multilabel=base.multilabel_, label_sets=base.label_sets)  # fmt: skip
        self.texts = texts
        self._featurized: sp.csr_array | None = None  # on the first call that needs them

    def transform_features(self, X: Iterable[str]) -> sp.csr_array:
        if X is not self.texts:
            return super().transform_features(X)
        if self._featurized is None:
            self._featurized = super().transform_features(X)
        return self._featurized


def featureless_order(class_prior: np.ndarray) -> np.ndarray:
    """The classes of a document without a known feature, first to last: by decreasing
    training frequency (``class_prior``), ties by the smaller class — how ``predict`` picks
    its label, ``predict_topk`` ranks them and ``explain`` orders the classes it explains."""
    return np.argsort(-np.asarray(class_prior), kind="stable")


def check_topk(k: Any = 1, threshold: Any = 0.0) -> tuple[int, float]:
    """``(k, threshold)`` of a top-k prediction, checked: the one rule of every model's
    ``predict_topk``, ``bowclf predict -k/--threshold`` and the server's ``/predict``.

    Parameters
    ----------
    k : int, default=1
        Labels per document at most: an integer >= 1 (not a boolean); any number above the
        class count means every class.
    threshold : float, default=0.0
        Leave out labels whose probability is below it: a number in [0, 1].  Above 1 (or
        NaN) no label could ever be given, so it is refused rather than answered with
        empty lists.

    Returns
    -------
    tuple of (int, float)
        ``k`` and ``threshold`` as Python numbers.

    Raises
    ------
    ValueError
        If either is out of its range or not a number.
    """
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"'k' must be an integer >= 1, got {k!r}")
    # NaN fails the comparison; an int too large for a float (10**400) is compared exactly
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 <= threshold <= 1:
        shown = repr(threshold)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(f"'threshold' must be a number in [0, 1], got {shown}")
    return int(k), float(threshold)


def topk_request(
    k: int | None, threshold: float | None, *, n_classes: int, multilabel: bool
) -> tuple[int, float]:
    """``(k, threshold)`` of a top-k prediction asked for with ``k`` and/or ``threshold``
    (``bowclf predict -k/--threshold``, the server's ``/predict``: one rule for both).

    ``k`` is capped at the class count (a larger one answers as that count does); without
    it, 1 for a single-label model (as fastText's ``predict``) and every class for a
    multi-label one.  No ``threshold`` is 0.  Each given one is checked by
    :func:`check_topk` (``ValueError``).
    """
    check_topk(1 if k is None else k, 0.0 if threshold is None else threshold)
    if k is None:
        k = n_classes if multilabel else 1
    return min(int(k), n_classes), 0.0 if threshold is None else float(threshold)


def indicator_of(rows: Sequence[np.ndarray], n_classes: int) -> sp.csr_array:
    """The sparse n×c indicator (int64 ones) of label sets given as class indices per row
    (ascending)."""
    lengths = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    data = np.ones(indices.size, dtype=np.int64)
    return sp.csr_array((data, indices, indptr), shape=(len(rows), n_classes))


def check_texts(X) -> Sequence[str]:
    """Materialise ``X`` as a list of str with clear errors for the common mistakes."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "expected an iterable of documents (e.g. a list of str), got a single string"
        )
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise ValueError(f"expected a 1-d sequence of documents, got an array of shape {X.shape}")
    texts = X if isinstance(X, list) else list(X)
    if not all(isinstance(t, str) for t in texts):
        from .vectorizer.tokenizer import decoded_documents

        return decoded_documents(texts)  # UTF-8 bytes decoded, as by scikit-learn's vectorizers
    return texts
