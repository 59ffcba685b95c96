"""Out-of-core training data: a corpus file tokenised once into an on-disk CSR cache.

:class:`DiskCorpus` reads a labelled corpus file twice:

1. **Vocabulary pass** — the vectorizer is fitted on the streamed texts (memory ∝ the number of
   distinct words; bound it with ``min_count``/``max_features``) and the label set collected.
2. **Tokenisation pass** — each chunk is turned into counts and appended to a CSR cache on disk
   (``indptr``/``indices``/``data`` plus label arrays); document frequencies are counted.

Then every epoch (:class:`DiskData`) reads the cache in blocks of ``block_docs`` documents (fewer
when they would hold over ``block_nnz`` non-zeros), in a random block order with the rows of
each block shuffled (a bounded shuffle).  Blocks are read
with plain file reads (not memory maps), so the resident memory of the process is the model,
the vocabulary and one block, whatever the corpus size.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..corpus import CorpusError, iter_chunks
from ..losses import Loss
from ..parallel import prefetch
from ..training import DTYPE, CorpusStats, Epoch, canonical_int_dtype, prepare_counts

__all__ = [
    "BLOCK_NNZ",
    "CACHE_PREFIX",
    "DiskCorpus",
    "DiskData",
    "check_rereadable",
    "remove_stale_caches",
]

#: Name prefix of the cache directories (stale ones are removed by :func:`remove_stale_caches`).
CACHE_PREFIX = "bowclf-cache-"
_OWNER = "owner.pid"  # the process that made a cache directory
#: Non-zeros per training block at most (the default of ``block_nnz``): one block trains while
#: the next is read and prepared, each ~12 bytes a non-zero plus its temporaries while being
#: prepared, so this bounds the memory of out-of-core training above the model.
BLOCK_NNZ = 1 << 20


def check_rereadable(path: str | os.PathLike) -> None:
    """Refuse a corpus that cannot be read twice (a pipe: a FIFO, ``<(…)``, stdin), before
    anything opens it: the second pass would hang or find the pipe empty."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # missing files are reported by the corpus reader
    if not stat.S_ISREG(mode):
        raise CorpusError(
            f"{path}: not a regular file (a pipe or device) so it can be read only once, but "
            "out-of-core training reads the corpus twice: train in memory, or save it to a "
            "file first"
        )


def remove_stale_caches(directory: str | os.PathLike | None = None) -> list[Path]:
    """Delete the token caches in ``directory`` (default: the temporary directory) left by
    processes that no longer run (killed by SIGKILL, SIGHUP or SIGQUIT before their cleanup).

    Only directories named ``bowclf-cache-*`` holding an ``owner.pid`` file written on this
    host (process ids of other hosts or containers sharing the directory mean nothing here)
    whose process is gone are removed; returns them.
    """
    parent = Path(directory if directory is not None else tempfile.gettempdir())
    removed = []
    for cache in parent.glob(CACHE_PREFIX + "*"):
        try:
            pid_text, host = (cache / _OWNER).read_text().split(maxsplit=1)
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if host.strip() == socket.gethostname() and pid != os.getpid() and not _running(pid):
            shutil.rmtree(cache, ignore_errors=True)
            removed.append(cache)
    return removed


def release_free_memory() -> bool:
    """Hand the C heap's free memory back to the system (glibc's ``malloc_trim``; returns
    whether it ran).  The reading passes free millions of small strings and chunk arrays;
    without this the freed heap stays in the process's resident memory under the model,
    whose allocation comes next.  No-op where the C library has no ``malloc_trim``."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # not glibc (Windows: no CDLL(None))
        return False
    trim(0)
    return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # alive but another user's, or unknown: leave it
    return True


class _CacheWriter:
    """Appends CSR rows and their label sets to flat binary files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.files = {
            name: open(directory / f"{name}.bin", "wb")  # noqa: SIM115 - closed in close()
            for name in ("row_nnz", "indices", "data", "label_count", "labels")
        }
        self.n_docs = 0
        self.nnz = 0

    def append(self, X: sp.csr_array, label_count: np.ndarray, labels: np.ndarray) -> None:
        """Append the rows of ``X``, the number of labels of each and their codes (flat)."""
        np.diff(X.indptr).astype(np.int32).tofile(self.files["row_nnz"])
        X.indices.astype(np.int32, copy=False).tofile(self.files["indices"])
        X.data.astype(DTYPE, copy=False).tofile(self.files["data"])
        label_count.astype(np.int32).tofile(self.files["label_count"])
        labels.astype(np.int32).tofile(self.files["labels"])
        self.n_docs += X.shape[0]
        self.nnz += X.nnz

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _offsets(directory: Path, name: str) -> Path:
    """Write the running sums of a per-document count file (int64, n+1 values)."""
    path = directory / f"{name}.offsets"
    with open(directory / f"{name}.bin", "rb") as src, open(path, "wb") as dst:
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


def _block_starts(row_start: Path, n_docs: int, block_docs: int, block_nnz: int) -> np.ndarray:
    """First documents of the training blocks and ``n_docs`` after the last: consecutive runs
    of at most ``block_docs`` documents and ``block_nnz`` non-zeros (at least one document),
    so that a block of long documents takes no more memory than one of short ones."""
    ptr = np.fromfile(row_start, dtype=np.int64, count=n_docs + 1)
    starts, first = [0], 0
    while first < n_docs:
        by_nnz = int(np.searchsorted(ptr, ptr[first] + block_nnz, side="right")) - 1
        first = min(max(by_nnz, first + 1), first + block_docs, n_docs)
        starts.append(first)
    return np.asarray(starts, dtype=np.int64)


def _read(path: Path, dtype, start: int, stop: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    with open(path, "rb") as f:
        f.seek(start * itemsize)
        return np.fromfile(f, dtype=dtype, count=stop - start)


class DiskData:
    """The cache served as shuffled, prepared ``(X̃, Y, w)`` blocks, one pass per epoch.

    ``features`` maps vectorizer counts to classifier input (column selection and term
    weighting, :class:`bowclf.text.FeatureMap`).
    """

    def __init__(
        self,
        directory: Path,
        n_docs: int,
        *,
        n_features: int,
        n_classes: int,
        features: Callable[[sp.csr_array], sp.csr_array],
        width: int,
        normalize,
        loss: Loss,
        multilabel: bool,
        block_docs: int,
        block_nnz: int = BLOCK_NNZ,
    ) -> None:
        self.directory = directory
        self.n = n_docs
        self.n_features = n_features
        self.n_classes = n_classes
        self.features = features
        self.width = width
        self.normalize = normalize
        self.loss = loss
        self.multilabel = multilabel
        self.block_docs = block_docs
        # Per-document offsets, kept on disk too: read the block's slice when needed.
        self.row_start = _offsets(directory, "row_nnz")
        self.label_start = _offsets(directory, "label_count")
        self.starts = _block_starts(self.row_start, n_docs, block_docs, block_nnz)

    def _block(self, first: int, last: int) -> tuple[sp.csr_array, sp.csr_array]:
        d = self.directory
        ptr = _read(self.row_start, np.int64, first, last + 1)
        indices = _read(d / "indices.bin", np.int32, int(ptr[0]), int(ptr[-1]))
        data = _read(d / "data.bin", DTYPE, int(ptr[0]), int(ptr[-1]))
        X = sp.csr_array((data, indices, ptr - ptr[0]), shape=(last - first, self.width))
        lptr = _read(self.label_start, np.int64, first, last + 1)
        codes = _read(d / "labels.bin", np.int32, int(lptr[0]), int(lptr[-1]))
        Y = sp.csr_array(
            (np.ones(codes.size, DTYPE), codes, lptr - lptr[0]),
            shape=(last - first, self.n_classes),
        )
        return self.features(X), Y

    def blocks(self, rng: np.random.Generator):
        for b in rng.permutation(self.starts.size - 1):
            first, last = int(self.starts[b]), int(self.starts[b + 1])
            X, Y = self._block(first, last)
            order = rng.permutation(last - first)
            X = prepare_counts(X[order], self.normalize)
            Y = self.loss.prepare_targets(Y[order], self.multilabel)
            yield canonical_int_dtype(X), Y, np.ones(X.shape[0], DTYPE)

    def epoch(self, ctx: Epoch) -> None:
        # the next block is read and prepared on a background thread while this one trains
        for X, Y, w in prefetch(self.blocks(ctx.rng)):
            ctx.train_block(X, Y, w)


class DiskCorpus:
    """A labelled corpus file trained out of core (see the module doc).

    Use as a context manager: the cache directory is removed on exit unless ``keep_cache``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        corpus_kw: dict[str, Any] | None = None,
        multilabel: bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        keep_cache: bool = False,
        chunk_size: int = 10_000,
        block_docs: int = 65_536,
        block_nnz: int = BLOCK_NNZ,
    ) -> None:
        self.path = path
        self.corpus_kw = dict(corpus_kw or {})
        self.multilabel = multilabel
        self.cache_dir = cache_dir
        self.keep_cache = keep_cache
        self.chunk_size = chunk_size
        self.block_docs = block_docs
        self.block_nnz = block_nnz
        self.directory: Path | None = None
        self.summary: dict[str, Any] = {"out_of_core": True}

    def __enter__(self) -> DiskCorpus:
        return self

    def __exit__(self, *exc) -> None:
        if self.directory is not None and not self.keep_cache:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _chunks(self):
        return iter_chunks(self.path, chunk_size=self.chunk_size, **self.corpus_kw)

    def scan(self, vectorizer, callback: Callable | None = None) -> CorpusStats:
        """Fit ``vectorizer`` (pass 1), write the token cache (pass 2), describe the corpus."""
        check_rereadable(self.path)
        started = time.perf_counter()
        labels_seen: set[str] = set()
        multi_seen = False
        n_docs = 0

        def texts():
            nonlocal multi_seen, n_docs
            for chunk, labels in self._chunks():
                for labs in labels:
                    labels_seen.update(labs)
                    multi_seen = multi_seen or len(labs) != 1
                n_docs += len(chunk)
                yield from chunk

        vectorizer.fit(texts())
        pass1 = time.perf_counter() - started
        if n_docs == 0:
            raise CorpusError(f"{self.path}: contains no documents")
        multilabel = self.multilabel
        if multilabel is None:
            multilabel = self.corpus_kw.get("label_sep") is not None or multi_seen
        if not multilabel and multi_seen:
            raise CorpusError(
                f"{self.path}: some documents have several labels; use a label separator"
            )
        stats = CorpusStats(documents=n_docs, classes=np.array(sorted(labels_seen)),
                            multilabel=bool(multilabel))  # fmt: skip
        stats.check_classes()
        if callback is not None:
            callback({"event": "pass", "pass": 1, "documents": n_docs, "seconds": pass1})
        remove_stale_caches(self.cache_dir)
        self.directory = Path(tempfile.mkdtemp(prefix=CACHE_PREFIX, dir=self.cache_dir))
        (self.directory / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}")
        self._tokenise(vectorizer, stats)
        self.summary["pass_seconds"] = [round(pass1, 3), self.summary.pop("pass2")]
        self.summary["cache"] = str(self.directory) if self.keep_cache else None
        if callback is not None:
            seconds = self.summary["pass_seconds"][1]
            callback({"event": "pass", "pass": 2, "documents": n_docs, "seconds": seconds,
                      "features": stats.nnz})  # fmt: skip
        self._epochs_started = time.perf_counter()
        release_free_memory()  # the passes' freed strings and chunks, before the model is made
        return stats

    def _tokenise(self, vectorizer, stats: CorpusStats) -> None:
        """Pass 2: counts into the cache; document frequencies, tokens, label statistics."""
        t2 = time.perf_counter()
        code = {label: i for i, label in enumerate(stats.classes.tolist())}
        writer = _CacheWriter(self.directory)
        width = int(vectorizer.n_features_out_)
        df = np.zeros(width, dtype=np.int64)
        class_counts = np.zeros(stats.classes.size, dtype=np.int64)
        tokens = labels = 0
        unlabelled = False
        try:
            for texts, labs in self._chunks():
                X = vectorizer.transform(texts)
                df += np.bincount(X.indices, minlength=width)
                tokens += int(X.data.sum())
                codes = [[code[lab] for lab in doc] for doc in labs]
                per_doc = np.fromiter(map(len, codes), np.int64, len(codes))
                flat = np.fromiter(itertools.chain.from_iterable(codes), np.int64, per_doc.sum())
                class_counts += np.bincount(flat, minlength=class_counts.size)
                labels += flat.size
                unlabelled = unlabelled or bool(per_doc.size and per_doc.min() == 0)
                writer.append(X, per_doc, flat)
        finally:
            writer.close()
        if writer.n_docs != stats.documents:
            raise CorpusError(f"{self.path}: the file changed while it was being read")
        stats.document_frequency, stats.tokens, stats.nnz = df, tokens, writer.nnz
        stats.class_counts = class_counts
        stats.mean_labels = labels / stats.documents
        stats.every_row_labelled = not unlabelled
        self.width = width
        self.summary["pass2"] = round(time.perf_counter() - t2, 3)

    def source(
        self, features, stats: CorpusStats, *, n_features: int, normalize, loss: Loss, **_: Any
    ):
        """The training source over the cache (after :meth:`scan`)."""
        return DiskData(
            self.directory, stats.documents, n_features=n_features,
            n_classes=stats.classes.size, features=features, width=self.width,
            normalize=normalize, loss=loss, multilabel=stats.multilabel,
            block_docs=self.block_docs, block_nnz=self.block_nnz,
        )  # fmt: skip

    def finish(self) -> dict[str, Any]:
        """Summary entries of the run (pass and epoch times, the kept cache)."""
        self.summary["epoch_seconds"] = round(time.perf_counter() - self._epochs_started, 3)
        return self.summary
