"""Out-of-core training: corpora larger than memory, tokenised once into an on-disk cache.

:func:`fit_stream` trains a :class:`~bowclf.TextClassifier` on a corpus file in three steps:

1. **Vocabulary pass** — the file is streamed once; the vectorizer counts words (memory ∝ the
   number of distinct words; bound it with ``min_count``/``max_features``) and the label set
   is collected.
2. **Tokenisation pass** — the file is streamed again; each chunk is turned into counts and
   appended to a CSR cache on disk (``indptr``/``indices``/``data`` plus label arrays), and
   the set of feature columns that occur is recorded (for ``prune_features``).
3. **Epochs** — every epoch reads the cache in blocks of ``block_docs`` documents, in a random
   block order with the rows of each block shuffled (a bounded shuffle), and runs the same
   SGD pass as in-memory training (:func:`bowclf.classifier.sgd_pass`).  Later epochs cost no
   tokenisation.

Blocks are read with plain file reads (not memory maps), so the resident memory of the
process is the model, the vocabulary and one block, whatever the corpus size.  The cache is
deleted afterwards unless ``keep_cache=True``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._math import weight_terms
from .classifier import (
    BowClassifier,
    _canonical_int_dtype,
    multilabel_decision_rule,
    prepare_counts,
    prepare_targets,
    resolve_epochs,
)
from .corpus import CorpusError, iter_chunks

__all__ = ["fit_stream"]

_DTYPE = np.float32


class _CacheWriter:
    """Appends CSR rows and their label sets to flat binary files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = {
            name: open(directory / f"{name}.bin", "wb")  # noqa: SIM115 - closed in close()
            for name in ("row_nnz", "indices", "data", "label_count", "labels")
        }
        self.n_docs = 0
        self.nnz = 0
        self.n_labels = 0

    def append(self, X: sp.csr_array, label_codes: list[list[int]]) -> None:
        np.diff(X.indptr).astype(np.int32).tofile(self.files["row_nnz"])
        X.indices.astype(np.int32).tofile(self.files["indices"])
        X.data.astype(_DTYPE).tofile(self.files["data"])
        np.fromiter((len(c) for c in label_codes), np.int32, len(label_codes)).tofile(
            self.files["label_count"]
        )
        flat = [code for codes in label_codes for code in codes]
        np.asarray(flat, dtype=np.int32).tofile(self.files["labels"])
        self.n_docs += X.shape[0]
        self.nnz += X.nnz
        self.n_labels += len(flat)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


class DiskData:
    """Training data in an on-disk CSR cache, served as shuffled blocks (see module doc).

    ``blocks(rng)`` yields prepared ``(X̃, Y, w)`` blocks like
    :class:`bowclf.classifier.InMemoryData`, for :meth:`BowClassifier._train_source`.
    """

    def __init__(
        self,
        directory: Path,
        n_docs: int,
        *,
        n_features: int,
        n_classes: int,
        column_lookup: np.ndarray | None,
        column_weights: np.ndarray | None = None,
        sublinear_tf: bool = False,
        normalize,
        loss: str,
        multilabel: bool,
        block_docs: int,
    ) -> None:
        self.directory = directory
        self.n = n_docs
        self.n_features = n_features
        self.n_classes = n_classes
        self.lookup = column_lookup
        self.column_weights = column_weights
        self.sublinear_tf = sublinear_tf
        self.normalize = normalize
        self.loss = loss
        self.multilabel = multilabel
        self.block_docs = block_docs
        # Per-document offsets, kept on disk too: read the block's slice when needed.
        self.row_start = self._offsets("row_nnz")
        self.label_start = self._offsets("label_count")

    def _offsets(self, name: str) -> Path:
        """Write the running sums of a per-document count file (int64, n+1 values)."""
        path = self.directory / f"{name}.offsets"
        with open(self.directory / f"{name}.bin", "rb") as src, open(path, "wb") as dst:
            total = 0
            np.zeros(1, np.int64).tofile(dst)
            while True:
                counts = np.fromfile(src, dtype=np.int32, count=1 << 20)
                if counts.size == 0:
                    break
                sums = np.cumsum(counts, dtype=np.int64) + total
                sums.tofile(dst)
                total = int(sums[-1])
        return path

    @staticmethod
    def _read(path: Path, dtype, start: int, stop: int) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        with open(path, "rb") as f:
            f.seek(start * itemsize)
            return np.fromfile(f, dtype=dtype, count=stop - start)

    def _block(self, first: int, last: int) -> tuple[sp.csr_array, sp.csr_array]:
        d = self.directory
        ptr = self._read(self.row_start, np.int64, first, last + 1)
        indices = self._read(d / "indices.bin", np.int32, int(ptr[0]), int(ptr[-1]))
        data = self._read(d / "data.bin", _DTYPE, int(ptr[0]), int(ptr[-1]))
        indptr = ptr - ptr[0]
        if self.lookup is not None:  # drop pruned columns, renumber the kept ones
            new = self.lookup[indices]
            keep = new >= 0
            kept_before = np.concatenate([[0], np.cumsum(keep)])
            indptr, indices, data = kept_before[indptr], new[keep], data[keep]
        X = sp.csr_array((data, indices, indptr), shape=(last - first, self.n_features))
        if self.column_weights is not None or self.sublinear_tf:
            X = weight_terms(X, self.column_weights, sublinear=self.sublinear_tf)
        lptr = self._read(self.label_start, np.int64, first, last + 1)
        codes = self._read(d / "labels.bin", np.int32, int(lptr[0]), int(lptr[-1]))
        Y = sp.csr_array(
            (np.ones(codes.size, _DTYPE), codes, lptr - lptr[0]),
            shape=(last - first, self.n_classes),
        )
        return X, Y

    def blocks(self, rng: np.random.Generator):
        starts = np.arange(0, self.n, self.block_docs)
        for first in rng.permutation(starts):
            last = min(int(first) + self.block_docs, self.n)
            X, Y = self._block(int(first), last)
            order = rng.permutation(last - int(first))
            X = prepare_counts(X[order], self.normalize)
            Y = prepare_targets(Y[order], loss=self.loss, multilabel=self.multilabel)
            yield _canonical_int_dtype(X), Y, np.ones(X.shape[0], _DTYPE)


def fit_stream(
    model,
    source: str | os.PathLike,
    *,
    corpus_kw: dict[str, Any] | None = None,
    multilabel: bool | None = None,
    X_val=None,
    y_val=None,
    cache_dir: str | os.PathLike | None = None,
    keep_cache: bool = False,
    chunk_size: int = 10_000,
    block_docs: int = 65_536,
    callback: Callable[[dict[str, Any]], None] | None = None,
):
    """Train ``model`` (a :class:`~bowclf.TextClassifier`) on the corpus file ``source``
    out of core, and return it fitted.

    Parameters
    ----------
    model : TextClassifier
        Its parameters are used; ``sample_weight`` and ``class_weight`` are not supported
        out of core.
    source : path
        A labelled corpus readable by :func:`bowclf.corpus.iter_chunks` (read twice).
    corpus_kw : dict, optional
        Options for the corpus reader (format, columns, ``label_sep``, encoding).
    multilabel : bool, optional
        Train on label sets; default: when ``label_sep`` is given or a document has
        several labels.
    X_val, y_val : optional
        In-memory validation documents and labels, scored after every epoch.
    cache_dir : path, optional
        Where to put the token cache (default: a temporary directory).
    keep_cache : bool, default=False
        Keep the cache directory (its path is in ``training_summary_['cache']``).
    chunk_size : int
        Documents read and tokenised at a time.
    block_docs : int
        Documents per training block (the shuffle buffer).
    callback : callable, optional
        Training progress, as for :meth:`BowClassifier.fit`; also called with
        ``event='pass'`` after each of the two reading passes.
    """
    from .text import TextClassifier

    if not isinstance(model, TextClassifier):
        raise TypeError("fit_stream trains a TextClassifier")
    if model.class_weight is not None:
        raise ValueError("class_weight is not supported by out-of-core training")
    model._validate_params()
    corpus_kw = dict(corpus_kw or {})
    started = time.perf_counter()

    # Pass 1: vocabulary and label set.
    labels_seen: set[str] = set()
    multi_seen = False
    n_docs = 0

    def texts_pass1():
        nonlocal multi_seen, n_docs
        for texts, labels in iter_chunks(source, chunk_size=chunk_size, **corpus_kw):
            for labs in labels:
                labels_seen.update(labs)
                multi_seen = multi_seen or len(labs) != 1
            n_docs += len(texts)
            yield from texts

    vectorizer = model._make_vectorizer()
    vectorizer.fit(texts_pass1())
    pass1 = time.perf_counter() - started
    if n_docs == 0:
        raise CorpusError(f"{source}: contains no documents")
    if multilabel is None:
        multilabel = corpus_kw.get("label_sep") is not None or multi_seen
    if not multilabel and multi_seen:
        raise CorpusError(f"{source}: some documents have several labels; use a label separator")
    classes = np.array(sorted(labels_seen))
    if classes.size < 2:
        raise ValueError(
            f"The target y contains only one class ({classes.tolist()}): "
            "a classifier needs at least 2 classes."
        )
    if callback is not None:
        callback({"event": "pass", "pass": 1, "documents": n_docs, "seconds": pass1})

    directory = Path(tempfile.mkdtemp(prefix="bowclf-cache-", dir=cache_dir))
    try:
        # Pass 2: tokenise once into the cache.
        code = {label: i for i, label in enumerate(classes.tolist())}
        writer = _CacheWriter(directory)
        width = int(vectorizer.n_features_out_)
        df = np.zeros(width, dtype=np.int64)  # document frequency of every column
        tokens = 0
        t2 = time.perf_counter()
        try:
            for texts, labels in iter_chunks(source, chunk_size=chunk_size, **corpus_kw):
                X = vectorizer.transform(texts)
                df += np.bincount(X.indices, minlength=width)
                tokens += int(X.data.sum())
                writer.append(X, [[code[lab] for lab in labs] for labs in labels])
        finally:
            writer.close()
        pass2 = time.perf_counter() - t2
        if writer.n_docs != n_docs:
            raise CorpusError(f"{source}: the file changed while it was being read")
        if callback is not None:
            callback(
                {
                    "event": "pass",
                    "pass": 2,
                    "documents": n_docs,
                    "seconds": pass2,
                    "features": writer.nnz,
                }
            )

        columns = np.flatnonzero(df) if model.prune_features else None
        if columns is not None and columns.size == width:
            columns = None
        model.vectorizer_ = vectorizer
        model._set_feature_columns(columns, width)
        model._set_idf(df if columns is None else df[columns], n_docs)
        del df
        n_features = width if columns is None else int(columns.size)
        data = DiskData(
            directory,
            n_docs,
            n_features=n_features,
            n_classes=classes.size,
            column_lookup=model._column_lookup,
            column_weights=model.idf_,
            sublinear_tf=model.sublinear_tf,
            normalize=model.normalize,
            loss=model.loss,
            multilabel=multilabel,
            block_docs=block_docs,
        )
        model.multilabel_ = multilabel  # needed to encode validation labels
        if multilabel:
            from sklearn.preprocessing import MultiLabelBinarizer

            model._binarizer = MultiLabelBinarizer(classes=classes.tolist()).fit([])
        else:
            model._binarizer = None
        clf = model._make_classifier()
        _fit_classifier_on(clf, data, classes, multilabel, model, X_val, y_val, callback)
        t3 = time.perf_counter()
    finally:
        if not keep_cache:
            shutil.rmtree(directory, ignore_errors=True)
    model.classifier_ = clf
    model.classes_ = classes if multilabel else clf.classes_
    epochs_seconds = t3 - (t2 + pass2)
    model.training_summary_ = model._summary(
        documents=n_docs,
        features=writer.nnz,
        tokens=tokens,
        columns=n_features,
        started=started,
        out_of_core=True,
        pass_seconds=[round(pass1, 3), round(pass2, 3)],
        epoch_seconds=round(epochs_seconds, 3),
        cache=str(directory) if keep_cache else None,
    )
    return model


def _fit_classifier_on(
    clf: BowClassifier, data: DiskData, classes, multilabel, model, X_val, y_val, callback
) -> None:
    """Initialise ``clf`` for ``data``'s shape and run the shared training routine."""
    rng = np.random.default_rng(_seed(clf.random_state))
    clf.multilabel_ = multilabel
    clf.classes_ = np.arange(classes.size) if multilabel else classes
    clf.n_features_in_ = data.n_features
    if not multilabel:
        from sklearn.preprocessing import LabelEncoder

        clf._label_encoder = LabelEncoder()
        clf._label_encoder.classes_ = classes
    clf._initialize(data.n_features, rng)
    mean_labels, every_row_labelled = _label_stats(data)
    clf.threshold_, clf.top_label_ = multilabel_decision_rule(
        clf.threshold,
        clf.loss,
        multilabel,
        mean_labels=mean_labels,
        every_row_labelled=every_row_labelled,
    )
    clf.loss_curve_ = []
    clf.validation_scores_ = []
    clf.best_validation_score_ = None
    val = None
    if X_val is not None:
        Xv = model._features(X_val)
        Yv = model._encode_y(y_val, fit=False) if multilabel else np.asarray(y_val)
        if multilabel:
            Yv = sp.csr_array(np.asarray(Yv, dtype=_DTYPE))
        else:
            unknown = set(np.unique(Yv).tolist()) - set(classes.tolist())
            if unknown:
                raise ValueError(
                    f"validation labels not in the training data: {sorted(unknown)[:5]}"
                )
            codes = np.searchsorted(classes, Yv)
            Yv = sp.csr_array(
                (np.ones(codes.size, _DTYPE), codes, np.arange(codes.size + 1)),
                shape=(codes.size, classes.size),
            )
        val = (Xv, Yv)
    epochs = resolve_epochs(clf.epochs, data.n)
    clf._train_source(data, rng, epochs=epochs, schedule=True, val=val, callback=callback)


def _label_stats(data: DiskData) -> tuple[float, bool]:
    """Mean labels per document, and whether every document has one, from the cache."""
    if data.n == 0:
        return 1.0, True
    # Labels per document, as the cache writer stored them (int32, one per document);
    # memory-mapped, so the scan does not hold the file in memory.
    counts = np.memmap(data.directory / "label_count.bin", dtype=np.int32, mode="r")
    every = bool(counts.min() > 0)
    del counts
    total = np.fromfile(data.label_start, dtype=np.int64, count=1, offset=data.n * 8)
    return float(total[0]) / data.n, every


def _seed(random_state):
    from .classifier import _seed_from

    return _seed_from(random_state)
