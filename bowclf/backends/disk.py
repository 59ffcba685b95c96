"""Out-of-core training data: a corpus file tokenised once into an on-disk CSR cache.

:class:`DiskCorpus` reads a labelled corpus file once and makes two passes over its chunks
(:mod:`.passes`; on worker processes for large corpora, :mod:`.workers`):

1. **Vocabulary pass** — the vectorizer is fitted on the streamed texts (memory ∝ the number of
   distinct words; bound it with ``min_count``/``max_features``) and the label set collected;
   the chunks are kept, pickled, in files of the cache directory (as large as the text).  On
   worker processes, each worker reads and parses its own part of a CSV/TSV file
   (:mod:`bowclf.corpus_ranges`); other inputs (stdin, pipes, compressed files) are read here.
2. **Tokenisation pass** — each kept chunk is turned into counts and appended to a CSR cache on disk
   (``indptr``/``indices``/``data`` plus label arrays; on workers, one segment of consecutive
   chunks per worker, read one after the other); document frequencies are counted.

Then every epoch (:class:`DiskData`) reads the cache in blocks of ``block_docs`` documents (fewer
when they would hold over ``block_nnz`` non-zeros), in a random block order with the rows of
each block shuffled (a bounded shuffle).  The first epoch prepares each block (features
mapped, rows scaled) and keeps it so in the cache; later epochs read it back and only shuffle
its rows.  Blocks are read with plain file reads (not memory maps) into arrays reused from
block to block, so the resident memory of the process is the model, the vocabulary and three
blocks' arrays (the one training, the next, and the one read), whatever the corpus size.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..allocator import release_free_memory
from ..corpus import CorpusError, iter_chunks, makes_multilabel
from ..corpus_ranges import csv_layout, split_points
from ..losses import Loss
from ..parallel import prefetch, process_may_exist, resolve_n_jobs
from ..training import DTYPE, CorpusStats, Epoch, prepare_counts
from .memory import take_rows
from .passes import (
    CacheJob,
    ChunkSpool,
    PartVocabularyJob,
    PassRunner,
    VocabularyJob,
    merge_counts,
    pass_workers,
)  # fmt: skip

__all__ = [
    "BLOCK_NNZ",
    "CACHE_PREFIX",
    "DiskCorpus",
    "DiskData",
    "remove_stale_caches",
]

#: Name prefix of the cache directories (stale ones are removed by :func:`remove_stale_caches`).
CACHE_PREFIX = "bowclf-cache-"
_OWNER = "owner.pid"  # the process that made a cache directory
#: Non-zeros per training block at most (the default of ``block_nnz``): one block trains while
#: the next is read and prepared, each ~12 bytes a non-zero plus its temporaries while being
#: prepared, so this bounds the memory of out-of-core training above the model.
BLOCK_NNZ = 1 << 20


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
        if host.strip() == socket.gethostname() and not process_may_exist(pid):
            shutil.rmtree(cache, ignore_errors=True)
            removed.append(cache)
    return removed


class _Segmented:
    """The values (``dtype``) of the files ``paths`` read as one array, one file after the
    other: the cache's segments (:class:`~.passes.CacheJob`) without copying them into
    one file."""

    def __init__(self, paths: list[Path], dtype) -> None:
        self.paths = paths
        self.dtype = np.dtype(dtype)
        sizes = [p.stat().st_size // self.dtype.itemsize for p in paths]
        self.bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Values ``start … stop − 1``, read straight into ``out`` (of their number) or into a
        new array."""
        out = np.empty(stop - start, self.dtype) if out is None else out
        k = int(np.searchsorted(self.bounds, start, side="right")) - 1
        at = 0
        while at < out.size:
            first = int(self.bounds[k])
            end = min(stop, int(self.bounds[k + 1]))
            piece = out[at : at + end - start]
            _read_into(self.paths[k], (start - first) * self.dtype.itemsize, piece)
            at, start, k = at + piece.size, end, k + 1
        return out

    def blocks(self, count: int):
        """All values, at most ``count`` at a time."""
        for path in self.paths:
            with open(path, "rb") as src:
                while (values := np.fromfile(src, dtype=self.dtype, count=count)).size:
                    yield values


def _segment_files(directory: Path, segments: list[str], name: str, dtype) -> _Segmented:
    return _Segmented([directory / f"{prefix}{name}.bin" for prefix in segments], dtype)


def _offsets(directory: Path, segments: list[str], name: str) -> Path:
    """Write the running sums of a per-document count file (int64, n+1 values)."""
    path = directory / f"{name}.offsets"
    with open(path, "wb") as dst:
        total = 0
        np.zeros(1, np.int64).tofile(dst)
        for counts in _segment_files(directory, segments, name, np.int32).blocks(1 << 20):
            sums = np.cumsum(counts, dtype=np.int64) + total
            sums.tofile(dst)
            total = int(sums[-1])
    return path


def _block_starts(
    row_start: Path, n_docs: int, block_docs: int, block_nnz: int
) -> tuple[np.ndarray, int]:
    """First documents of the training blocks and ``n_docs`` after the last: consecutive runs
    of at most ``block_docs`` documents and ``block_nnz`` non-zeros (at least one document),
    so that a block of long documents takes no more memory than one of short ones; and the
    most non-zeros of a block."""
    ptr = np.fromfile(row_start, dtype=np.int64, count=n_docs + 1)
    starts, first = [0], 0
    while first < n_docs:
        by_nnz = int(np.searchsorted(ptr, ptr[first] + block_nnz, side="right")) - 1
        first = min(max(by_nnz, first + 1), first + block_docs, n_docs)
        starts.append(first)
    starts_array = np.asarray(starts, dtype=np.int64)
    return starts_array, int(np.diff(ptr[starts_array]).max(initial=0))


def _read(path: Path, dtype, start: int, stop: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    with open(path, "rb") as f:
        f.seek(start * itemsize)
        return np.fromfile(f, dtype=dtype, count=stop - start)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are views of the very same values (same memory, dtype and
    layout): then they hold the same values, without comparing them."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides)  # fmt: skip


class _Buffers:
    """Arrays reused from block to block, by name: a request returns the first ``size``
    values of the named array, made with room for ``capacity[name]`` values (the largest
    block's: memory the process touches only as far as blocks fill it) and replaced by a
    larger one only when a block needs more, so blocks allocate nothing once it exists."""

    def __init__(self, capacity: dict[str, int] | None = None) -> None:
        self.capacity = dict(capacity or {})
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype) -> np.ndarray:
        array = self.arrays.get(name)
        if array is None or array.size < size or array.dtype != np.dtype(dtype):
            room = self.capacity.get(name, 0) if array is None else array.size + array.size // 4
            array = self.arrays[name] = np.empty(max(size, room), dtype=dtype)
        return array[:size]


def _read_into(path: Path, offset: int, out: np.ndarray) -> np.ndarray:
    """``out`` filled with the bytes of ``path`` from ``offset``: read straight into the
    array's memory (an unbuffered ``readinto``: no new array, no memory map)."""
    view = memoryview(out).cast("B")
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        done = 0
        while done < view.nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise OSError(f"{path}: the token cache ended early")
            done += got
    return out


class _PreparedBlocks:
    """The training blocks as ``prepare_counts`` makes them (features mapped, rows scaled,
    one index dtype), each written once to files of the cache directory in the order they
    were first prepared, then read back into reused arrays.

    A block whose preparation kept the cache's ``indptr`` and ``indices`` arrays (a feature
    map keeping every column, e.g. fastText's settings) is written as its values alone
    (``values_only``): its indices are read back from the token cache instead.

    Row scaling and the feature map act on each row alone, so a block prepared once and then
    shuffled has the values of the block shuffled and then prepared, bit for bit."""

    _PARTS = ("indptr", "indices", "data")

    def __init__(self, directory: Path, n_blocks: int) -> None:
        self.paths = {part: directory / f"prepared.{part}.bin" for part in self._PARTS}
        for path in self.paths.values():
            path.write_bytes(b"")
        self.where: list[tuple | None] = [None] * n_blocks  # per block: dtypes and offsets

    def __contains__(self, b: int) -> bool:
        return self.where[b] is not None

    def values_only(self, b: int) -> bool:
        """Whether block ``b`` was written as its values alone."""
        return len(self.where[b][1]) == 1

    def write(self, b: int, X: sp.csr_array, values_only: bool = False) -> None:
        arrays = dict(zip(self._PARTS, (X.indptr, X.indices, X.data), strict=True))
        place = []
        for part, array in arrays.items():
            if values_only and part != "data":
                continue
            with open(self.paths[part], "ab", buffering=0) as f:
                offset = f.seek(0, os.SEEK_END)  # after any bytes of a write that failed
                view, done = memoryview(np.ascontiguousarray(array)).cast("B"), 0
                while done < view.nbytes:
                    done += f.write(view[done:])
            place.append((part, offset, array.dtype, array.size))
        self.where[b] = (X.shape, place)

    def read(self, b: int, buffers: _Buffers) -> list[np.ndarray]:
        """The parts written of block ``b`` (all three, or the values alone), read into
        ``buffers``."""
        return [_read_into(self.paths[part], offset, buffers.get(part, size, dtype))
                for part, offset, dtype, size in self.where[b][1]]  # fmt: skip

    def read_block(self, b: int, buffers: _Buffers) -> sp.csr_array:
        """Block ``b`` (written with its three parts) read into ``buffers``."""
        data, indices, indptr = self.read(b, buffers)[::-1]
        return sp.csr_array((data, indices, indptr), shape=self.where[b][0], copy=False)


class DiskData:
    """The cache served as shuffled, prepared ``(X̃, Y, w)`` blocks, one pass per epoch.

    ``features`` maps vectorizer counts to classifier input (column selection and term
    weighting, :class:`bowclf.text.FeatureMap`).  ``segments``: the name prefixes of the
    cache's segments, read one after the other (default: one set of unprefixed files).

    Each block is prepared (features mapped, rows scaled: :func:`prepare_counts`) the first
    time an epoch reads it and kept so in the cache (:class:`_PreparedBlocks`); later epochs
    read it back and only shuffle its rows.  Blocks are read into arrays reused from block to
    block and their shuffled rows gathered into one of two sets of reused arrays (the block
    training and the next, :func:`bowclf.parallel.prefetch` makes no more); the first epoch
    reads the cache into the same arrays and scales them in place, so no block allocates
    memory of its size (but for a feature map that drops columns or weights terms).
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
        segments: list[str] | None = None,
    ) -> None:
        self.directory = directory
        segments = [""] if segments is None else segments
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
        self.row_start = _offsets(directory, segments, "row_nnz")
        self.label_start = _offsets(directory, segments, "label_count")
        self.indices = _segment_files(directory, segments, "indices", np.int32)
        self.data = _segment_files(directory, segments, "data", DTYPE)
        self.labels = _segment_files(directory, segments, "labels", np.int32)
        self.starts, most = _block_starts(self.row_start, n_docs, block_docs, block_nnz)
        self.prepared = _PreparedBlocks(directory, self.starts.size - 1)
        # a prepared block has at most the non-zeros of the cache's (columns may be dropped)
        room = {"indptr": int(np.diff(self.starts).max(initial=0)) + 1, "indices": most,
                "data": most}  # fmt: skip
        self._read = _Buffers(room)  # the block read back from the prepared cache
        self._shuffled = (_Buffers(room), _Buffers(room))  # its rows shuffled, in turns
        self._turn = 0

    def _raw(self, first: int, last: int, data: np.ndarray | None = None) -> sp.csr_array:
        """Rows ``first … last − 1`` of the cache (counts, or ``data`` as their values when
        given), read into the arrays that later epochs read prepared blocks into."""
        ptr = _read(self.row_start, np.int64, first, last + 1)
        a, b = int(ptr[0]), int(ptr[-1])
        indices = self.indices.read(a, b, self._read.get("indices", b - a, np.int32))
        if data is None:
            data = self.data.read(a, b, self._read.get("data", b - a, DTYPE))
        ptr = ptr - ptr[0]
        if max(b - a, self.width) < np.iinfo(np.int32).max:  # the indices' dtype: no copies
            ptr = ptr.astype(np.int32)
        return sp.csr_array((data, indices, ptr), shape=(last - first, self.width), copy=False)

    def _targets(self, first: int, last: int) -> sp.csr_array:
        lptr = _read(self.label_start, np.int64, first, last + 1)
        codes = self.labels.read(int(lptr[0]), int(lptr[-1]))
        return sp.csr_array(
            (np.ones(codes.size, DTYPE), codes, lptr - lptr[0]),
            shape=(last - first, self.n_classes),
        )

    def _prepared_block(self, b: int) -> sp.csr_array:
        """Block ``b`` prepared (:func:`prepare_counts`), rows in the cache's order: read
        back into reused arrays, or prepared now and written to the prepared cache (its
        values alone when the preparation kept the cache's index arrays)."""
        first, last = int(self.starts[b]), int(self.starts[b + 1])
        if b in self.prepared:
            if self.prepared.values_only(b):
                return self._raw(first, last, data=self.prepared.read(b, self._read)[0])
            return self.prepared.read_block(b, self._read)
        counts = self._raw(first, last)
        X = self.features(counts)
        # scaled in place (each row's scale is computed first): its counts are not read again
        X = prepare_counts(X, self.normalize, out=X.data if X.data.dtype == DTYPE else None)
        kept = _same_memory(X.indices, counts.indices) and _same_memory(X.indptr, counts.indptr)
        self.prepared.write(b, X, values_only=kept and X.shape == counts.shape)
        return X

    def blocks(self, rng: np.random.Generator):
        for b in rng.permutation(self.starts.size - 1):
            first, last = int(self.starts[b]), int(self.starts[b + 1])
            order = rng.permutation(last - first)
            X = self._prepared_block(int(b))
            out = self._shuffled[self._turn]
            self._turn ^= 1
            X = take_rows(X, order, (out.get("indptr", X.indptr.size, X.indptr.dtype),
                                     out.get("indices", X.nnz, X.indices.dtype),
                                     out.get("data", X.nnz, X.data.dtype)))  # fmt: skip
            Y = self.loss.prepare_targets(self._targets(first, last)[order], self.multilabel)
            yield X, Y, np.ones(X.shape[0], DTYPE)

    def epoch(self, ctx: Epoch) -> None:
        # the next block is read and prepared on a background thread while this one trains
        for X, Y, w in prefetch(self.blocks(ctx.rng)):
            ctx.train_block(X, Y, w)


class DiskCorpus:
    """A labelled corpus file trained out of core (see the module doc).

    Use as a context manager: the cache directory is removed on exit unless ``keep_cache``.
    ``n_jobs`` (the estimator's: ``None`` is every core) worker processes run the reading
    passes of a corpus of at least :data:`bowclf.defaults.PARALLEL_PASS_BYTES`
    (:mod:`.passes`; the same cache and statistics for any ``n_jobs``); ``start_method`` is
    their :mod:`multiprocessing` start method (default: the platform's).
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
        n_jobs: int | None = None,
        start_method: str | None = None,
    ) -> None:
        self.path = path
        self.n_jobs = n_jobs
        self.start_method = start_method
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
        release_free_memory()  # the blocks' arrays, before the caller's next step (the save)

    def _chunks(self):
        return iter_chunks(self.path, chunk_size=self.chunk_size, **self.corpus_kw)

    def scan(
        self, vectorizer, callback: Callable | None = None, *, class_frequencies: bool = True
    ) -> CorpusStats:
        """Fit ``vectorizer`` (pass 1), write the token cache (pass 2), describe the corpus.

        The passes run on :func:`~.passes.pass_workers` processes (``n_jobs`` for a large
        corpus); the workers are gone when this returns, before the model is allocated, and
        the vectorizer's vocabulary is packed (:meth:`~bowclf.BowVectorizer.pack_vocabulary`:
        training does not look words up).  ``class_frequencies``: count, for a single-label
        corpus, the documents of each class containing each column
        (``stats.class_document_frequency``; only supervised term weights need them)."""
        workers = pass_workers(self.path, resolve_n_jobs(self.n_jobs), vectorizer)
        remove_stale_caches(self.cache_dir)
        self.directory = Path(tempfile.mkdtemp(prefix=CACHE_PREFIX, dir=self.cache_dir))
        (self.directory / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}")
        spools: list[Path] = []  # the chunks kept for pass 2 (ChunkSpool files)
        try:
            stats = self._scan_parts(workers, vectorizer, spools, callback, class_frequencies)
            if stats is None:
                with PassRunner(workers, self.start_method) as runner:
                    spool = ChunkSpool(self.directory / "chunks.pickle")
                    spools.append(spool.path)
                    try:
                        stats = self._vocabulary(runner, VocabularyJob(vectorizer, spools),
                                                 spool.keep(self._chunks()), callback)  # fmt: skip
                    finally:
                        spool.close()
                    self._tokenise(runner, vectorizer, stats, spools, spool.refs, class_frequencies)
        finally:
            for path in spools:
                path.unlink(missing_ok=True)
        self.summary["pass_seconds"] = [self.summary.pop("pass1"), self.summary.pop("pass2")]
        self.summary["cache"] = str(self.directory) if self.keep_cache else None
        if callback is not None:
            seconds = self.summary["pass_seconds"][1]
            callback({"event": "pass", "pass": 2, "documents": stats.documents,
                      "seconds": seconds, "features": stats.nnz})  # fmt: skip
        self._epochs_started = time.perf_counter()
        vectorizer.pack_vocabulary()  # not looked up again while the model trains
        release_free_memory()  # the passes' freed strings and chunks, before the model is made
        return stats

    def _scan_parts(self, workers: int, vectorizer, spools: list[Path], callback, by_class: bool):
        """Both passes on ``workers`` processes each reading and parsing its own part of the
        file (:mod:`bowclf.corpus_ranges`, :class:`~.passes.PartVocabularyJob`), the chunks
        kept in ``spools``; ``None`` (and ``spools`` empty) when the corpus cannot be read
        in parts, or a part failed: the caller then reads it in one piece, which gives the
        same statistics and cache, or reports the file's first problem."""
        layout = csv_layout(self.path, **self.corpus_kw) if workers > 1 else None
        points = split_points(self.path, workers, layout["lines"]) if layout is not None else []
        if len(points) < 3:
            return None
        spools.extend(self.directory / f"chunks{k}.pickle" for k in range(len(points) - 1))
        job = PartVocabularyJob(vectorizer, spools, self.path, layout, self.corpus_kw,
                                self.chunk_size)  # fmt: skip
        refs: list = []
        with PassRunner(workers, self.start_method) as runner:
            try:
                parts = [(k, a, b) for k, (a, b) in enumerate(itertools.pairwise(points))]
                stats = self._vocabulary(runner, job, parts, callback, refs.extend)
            except CorpusError:
                runner.close(abort=True)
                for path in spools:
                    path.unlink(missing_ok=True)
                spools.clear()
                return None
            self._tokenise(runner, vectorizer, stats, spools, refs, by_class)
        return stats

    def _vocabulary(self, runner: PassRunner, job, items, callback, keep=None) -> CorpusStats:
        """Pass 1: the vocabulary fitted, the labels collected (``job`` over ``items``:
        :class:`~.passes.VocabularyJob` over spooled chunks, or
        :class:`~.passes.PartVocabularyJob` over parts of the file, whose replies, the
        places of their chunks, go to ``keep``)."""
        started = time.perf_counter()
        for reply in runner.run(job, items):
            if keep is not None:
                keep(reply)
        parts = runner.finish()
        n_docs = sum(part.documents for part in parts)
        labels = set().union(*(part.labels for part in parts))
        several = any(part.several for part in parts)
        if n_docs == 0:
            raise CorpusError(f"{self.path}: contains no documents")
        tokens, counts = merge_counts((p.tokens, p.counts) for p in parts) if len(parts) > 1 else (
            parts[0].tokens, parts[0].counts)  # fmt: skip
        del parts  # the strings of the workers' tables, before the vocabulary is made
        job.vectorizer.fit_counts(tokens, counts)
        del tokens, counts
        multilabel = self.multilabel
        if multilabel is None:
            multilabel = makes_multilabel(self.corpus_kw.get("label_sep"), several)
        if not multilabel and several:
            raise CorpusError(
                f"{self.path}: some documents have several labels; use a label separator"
            )
        stats = CorpusStats(documents=n_docs, classes=np.array(sorted(labels)),
                            multilabel=bool(multilabel))  # fmt: skip
        stats.check_classes()
        self.summary["pass1"] = round(time.perf_counter() - started, 3)
        if callback is not None:
            callback({"event": "pass", "pass": 1, "documents": n_docs,
                      "seconds": time.perf_counter() - started})  # fmt: skip
        return stats

    def _tokenise(
        self, runner: PassRunner, vectorizer, stats: CorpusStats, spools, refs, by_class: bool
    ) -> None:
        """Pass 2: counts into the cache; document frequencies, tokens, label statistics
        (:class:`~.passes.CacheJob`: the chunks cut into one run of consecutive chunks per
        worker, each run written to a segment of the cache)."""
        started = time.perf_counter()
        transformer = vectorizer.transformer()
        job = CacheJob(transformer, stats.classes.tolist(), self.directory, spools,
                       by_class=by_class and not stats.multilabel)  # fmt: skip
        cuts = np.linspace(0, len(refs), runner.n_workers + 1).round().astype(int)
        runs = [list(refs[a:b]) for a, b in itertools.pairwise(cuts.tolist())]
        n_docs = nnz = 0
        for docs, entries in runner.run(job, enumerate(runs)):
            n_docs += docs
            nnz += entries
        parts = runner.finish()
        self.segments = [job.segment_prefix(g) for g in range(len(runs))]
        assert n_docs == stats.documents, "pass 2 replays the chunks of pass 1"
        total = parts[0]
        for part in parts[1:]:
            total.add(part)
        stats.document_frequency, stats.tokens, stats.nnz = (
            total.document_frequency,
            total.tokens,
            nnz,
        )
        stats.class_counts = total.class_counts
        stats.class_document_frequency = total.class_document_frequency()
        stats.mean_labels = total.labels / stats.documents
        stats.every_row_labelled = not total.unlabelled
        self.width = int(transformer.width)
        self.summary["pass2"] = round(time.perf_counter() - started, 3)

    def source(
        self, features, stats: CorpusStats, *, n_features: int, normalize, loss: Loss, **_: Any
    ):
        """The training source over the cache (after :meth:`scan`).  The C heap's free
        memory is handed back first (:func:`release_free_memory`): the model is allocated
        next, and arrays freed since the passes (the column statistics, the offsets read
        here) would otherwise stay resident under it."""
        data = DiskData(
            self.directory, stats.documents, n_features=n_features,
            n_classes=stats.classes.size, features=features, width=self.width,
            normalize=normalize, loss=loss, multilabel=stats.multilabel,
            block_docs=self.block_docs, block_nnz=self.block_nnz, segments=self.segments,
        )  # fmt: skip
        release_free_memory()
        return data

    def finish(self) -> dict[str, Any]:
        """Summary entries of the run (pass and epoch times, the kept cache)."""
        self.summary["epoch_seconds"] = round(time.perf_counter() - self._epochs_started, 3)
        return self.summary
