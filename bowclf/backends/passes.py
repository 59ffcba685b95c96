"""The two reading passes of out-of-core training, in this process or on worker processes.

Pass 1 (:class:`VocabularyJob`) counts the tokens and collects the labels of every chunk of
the corpus; pass 2 (:class:`CacheJob`) writes each chunk's counts and label codes to the token
cache and counts document frequencies, tokens and labels.  The caller reads the corpus once
(so a reading error is the same one-line :class:`~bowclf.corpus.CorpusError` however the
passes run) and keeps its chunks for pass 2 (:class:`ChunkSpool`: no second reading and
parsing); a :class:`PassRunner` runs the jobs: in this process, or, for corpora of at least
:data:`bowclf.defaults.PARALLEL_PASS_BYTES`, on ``n_jobs`` worker processes
(:mod:`.workers`: tokenising holds the GIL, so threads would not help).  Every result is
merged in chunk (or worker) order from exact integer counts, so the vocabulary, the cache
and the statistics — hence the model — do not depend on the number of workers.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _math, defaults
from ..corpus_ranges import iter_part_chunks
from ..training import DTYPE
from . import text_size_estimate
from .workers import Job, WorkerPool

__all__ = [
    "CacheJob", "CacheWriter", "ChunkSpool", "PartVocabularyJob", "PassRunner",
    "VocabularyJob", "merge_counts", "pass_workers",
]  # fmt: skip

#: The cache's flat files, one value (or run of values) per document appended in order.
CACHE_FILES = ("row_nnz", "indices", "data", "label_count", "labels")


def pass_workers(path: str | os.PathLike, n_jobs: int, vectorizer: Any) -> int:
    """Worker processes for the reading passes of ``path``: ``n_jobs`` for a corpus of at
    least :data:`~bowclf.defaults.PARALLEL_PASS_BYTES` of text, else 1 (this process: a
    small corpus is read faster than processes start); 1 too for a callable tokenizer (it
    may not survive being sent to another process)."""
    if n_jobs <= 1 or callable(getattr(vectorizer, "tokenizer", None)):
        return 1
    return n_jobs if text_size_estimate(path) >= defaults.PARALLEL_PASS_BYTES else 1


def merge_counts(parts: Iterable[tuple[list[str], np.ndarray]]) -> tuple[list[str], np.ndarray]:
    """Token counts of several parts of a corpus (:meth:`TokenCounter.result` of each)
    summed into those of the whole: each token once, in first-seen order over the parts."""
    total: dict[str, int] = {}
    get = total.get
    for tokens, counts in parts:
        for token, n in zip(tokens, counts.tolist(), strict=True):
            total[token] = get(token, 0) + n
    return list(total), np.fromiter(total.values(), np.int64, len(total))


#: A chunk's place in the spool files: ``(file, offset, size)``, ``file`` an index into the
#: list of spool paths the jobs get.
Ref = tuple[int, int, int]


class ChunkSpool:
    """The chunks of pass 1, pickled, kept in a file (``path``, in the private cache
    directory; number ``index`` of the spool files) for pass 2, which then reads neither
    the corpus again nor parses it.  The jobs get a chunk's place (:data:`Ref`;
    :meth:`keep` yields them) and read it from there (:func:`spool_reader`), so a chunk is
    pickled once and no process sends it through a pipe.  The file is written and read by
    this process and its workers only."""

    def __init__(self, path: Path, index: int = 0) -> None:
        self.path = path
        self.index = index
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.refs: list[Ref] = []

    def keep(self, chunks: Iterable[Any]) -> Iterator[Ref]:
        """Pickle and keep every chunk; yield its place once written."""
        f = self._file
        for chunk in chunks:
            blob = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
            ref = (self.index, f.tell(), len(blob))
            f.write(blob)
            f.flush()  # readable by the workers from now on
            self.refs.append(ref)
            yield ref

    def close(self) -> None:
        self._file.close()

    def remove(self) -> None:
        """Close and delete the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)


class spool_reader:  # noqa: N801 - called like the function it was
    """The chunk at a place :data:`Ref` of the spool files ``paths`` (``reader(ref)``); the
    files are opened when first read and closed by :meth:`close` (the job's ``finish``)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths, self.files = paths, {}

    def __call__(self, ref: Ref) -> Any:
        k, offset, size = ref
        f = self.files.get(k)
        if f is None:
            f = self.files[k] = open(self.paths[k], "rb")  # noqa: SIM115
        f.seek(offset)
        return pickle.loads(f.read(size))

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()


class PassRunner:
    """Runs :class:`~.workers.Job` objects over chunks on ``n_workers`` processes
    (:class:`~.workers.WorkerPool`) or, with one worker, here.  A context manager: the
    workers are gone when it exits."""

    def __init__(self, n_workers: int, start_method: str | None = None) -> None:
        self.n_workers = n_workers
        self.pool = WorkerPool(n_workers, start_method=start_method) if n_workers > 1 else None
        self._job: Job | None = None

    @property
    def parallel(self) -> bool:
        return self.pool is not None

    def __enter__(self) -> PassRunner:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abort=exc_type is not None)

    def close(self, *, abort: bool = False) -> None:
        """Stop the workers (at once when ``abort``), or close the job run here."""
        if self.pool is not None:
            self.pool.close(abort=abort)
        job, self._job = self._job, None
        if job is not None and hasattr(job, "close"):
            job.close()

    def run(self, job: Job, items: Iterable[Any]) -> Iterator[Any]:
        """``job.step(item)`` of every item, in order; then :meth:`finish`."""
        if self.pool is not None:
            return self.pool.run(job, items)
        job.start()
        self._job = job
        return map(job.step, items)

    def finish(self) -> list[Any]:
        """The job's ``finish()`` of every worker, in worker order (one here)."""
        if self.pool is not None:
            return self.pool.finish()
        job, self._job = self._job, None
        return [job.finish()]


@dataclass
class Vocabulary:
    """Pass 1's counts of a part of the corpus: tokens (each once) and their counts, the
    labels seen, whether a document had other than one label, the number of documents."""

    tokens: list[str]
    counts: np.ndarray
    labels: set[str]
    several: bool
    documents: int


class VocabularyJob:
    """Pass 1 of a chunk ``(texts, labels)`` (its place in the :class:`ChunkSpool` files
    ``spools``): its tokens
    counted under ``vectorizer``'s rule (:meth:`~bowclf.vectorizer.BowVectorizer.token_counter`)
    and its labels collected."""

    def __init__(self, vectorizer: Any, spools: Sequence[Path]) -> None:
        self.vectorizer = vectorizer
        self.spools = list(spools)

    def start(self) -> None:
        self.read = spool_reader(self.spools)
        self.counter = self.vectorizer.token_counter()
        self.labels: set[str] = set()
        self.several = False
        self.documents = 0

    def count(self, chunk: tuple[list[str], list[tuple[str, ...]]]) -> None:
        texts, labels = chunk
        self.counter.add(texts)
        self.labels.update(chain.from_iterable(labels))
        self.several = self.several or any(len(labs) != 1 for labs in labels)
        self.documents += len(texts)

    def step(self, ref: Ref) -> None:
        self.count(self.read(ref))

    def finish(self) -> Vocabulary:
        tokens, counts = self.counter.result()
        self.read.close()
        del self.counter, self.read
        return Vocabulary(tokens, counts, self.labels, self.several, self.documents)


class PartVocabularyJob(VocabularyJob):
    """Pass 1 of part ``k`` of a CSV/TSV file (``(k, start, stop)``, bytes of
    :func:`~bowclf.corpus_ranges.split_points`), read and parsed here
    (:func:`~bowclf.corpus_ranges.iter_part_chunks` with ``layout`` and ``corpus_kw``):
    its chunks counted as by :class:`VocabularyJob` and kept in spool file ``spools[k]``.
    Each step returns the places (:data:`Ref`) of its part's chunks, in order.  Any error
    of a part means the file must be read in one piece (:mod:`bowclf.corpus_ranges`)."""

    def __init__(
        self, vectorizer: Any, spools: Sequence[Path], path: Any, layout: dict[str, Any],
        corpus_kw: dict[str, Any], chunk_size: int,
    ) -> None:  # fmt: skip
        super().__init__(vectorizer, spools)
        self.path, self.layout, self.corpus_kw = path, layout, corpus_kw
        self.chunk_size = chunk_size

    def step(self, part: tuple[int, int, int]) -> list[Ref]:  # type: ignore[override]
        k, start, stop = part
        chunks = iter_part_chunks(self.path, start, stop, self.layout, self.chunk_size,
                                  **self.corpus_kw)  # fmt: skip
        spool = ChunkSpool(self.spools[k], k)
        try:
            for _ in spool.keep(map(self._counted, chunks)):
                pass
        finally:
            spool.close()
        return spool.refs

    def _counted(self, chunk):
        self.count(chunk)
        return chunk


class CacheWriter:
    """Appends CSR rows and their label sets to the cache's flat files in ``directory``
    (``prefix`` starts their names: ``{prefix}{name}.bin``)."""

    def __init__(self, directory: Path, prefix: str = "") -> None:
        self.files = {
            name: open(directory / f"{prefix}{name}.bin", "wb")  # noqa: SIM115 - see close()
            for name in CACHE_FILES
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


#: Per-class document frequencies of this many chunks are summed into one matrix.
_CLASS_DF_RUN = 16


@dataclass
class CacheCounts:
    """Pass 2's counts of a part of the corpus; ``class_df``: when counted by class (a
    single-label corpus whose fit uses them) the columns×classes matrices of
    :func:`bowclf._math.class_document_frequency` of its chunks (summed every
    ``_CLASS_DF_RUN`` chunks), else ``None``."""

    document_frequency: np.ndarray
    class_counts: np.ndarray
    tokens: int = 0
    labels: int = 0
    unlabelled: bool = False
    class_df: list | None = None

    def add(self, other: CacheCounts) -> None:
        """Add the counts of another part (exact integers: any order gives the same)."""
        self.document_frequency += other.document_frequency
        self.class_counts += other.class_counts
        self.tokens += other.tokens
        self.labels += other.labels
        self.unlabelled = self.unlabelled or other.unlabelled
        if self.class_df is not None and other.class_df is not None:
            self.add_class_df(*other.class_df)

    def add_class_df(self, *matrices: sp.csr_array) -> None:
        """Keep per-class document frequency matrices, summing them when they pile up."""
        assert self.class_df is not None
        self.class_df.extend(matrices)
        if len(self.class_df) >= _CLASS_DF_RUN:
            self.class_df = [self.class_document_frequency()]

    def class_document_frequency(self) -> sp.csr_array | None:
        """The sum of the kept matrices (``None`` when not counted by class)."""
        if self.class_df is None:
            return None
        shape = (self.document_frequency.size, self.class_counts.size)
        return _math.sum_counts(self.class_df, shape)


class CacheJob:
    """Pass 2 of a run of consecutive chunks ``(g, [their places in spools])``: each
    chunk's counts under the fitted vectorizer ``transformer`` (a
    :class:`~bowclf.vectorizer.transform.FittedVectorizer`) and the codes of its labels
    (positions in ``classes``) appended, in order, to segment ``g`` of the cache in
    ``directory`` (its files ``{segment_prefix(g)}{name}.bin``).  The cache is its segments
    one after the other (:class:`~.disk.DiskData` reads them so: nothing is copied), so runs
    done on different workers at once make the cache of one process.  Each step returns
    the run's numbers of documents and of non-zeros."""

    def __init__(
        self,
        transformer: Any,
        classes: list[str],
        directory: Path,
        spools: Sequence[Path],
        by_class: bool = False,
    ) -> None:
        self.by_class = by_class  # count per-class document frequencies (single labels only)
        self.spools = list(spools)
        self.transformer = transformer
        self.classes = classes
        self.directory = directory
        self.writer: CacheWriter | None = None

    @staticmethod
    def segment_prefix(g: int) -> str:
        """Name prefix of segment ``g``'s files."""
        return f"seg{g}."

    def start(self) -> None:
        self.read = spool_reader(self.spools)
        self.transform = self.transformer.chunk_transform()
        self.code = {label: i for i, label in enumerate(self.classes)}
        self.counts = CacheCounts(
            np.zeros(self.transformer.width, np.int64),
            np.zeros(len(self.classes), np.int64),
            class_df=[] if self.by_class else None,
        )

    def step(self, item: tuple[int, list[Ref]]) -> tuple[int, int]:
        g, refs = item
        writer = self.writer = CacheWriter(self.directory, self.segment_prefix(g))
        try:
            for ref in refs:
                self._chunk(writer, *self.read(ref))
        finally:
            self.close()
        return writer.n_docs, writer.nnz

    def _chunk(self, writer: CacheWriter, texts: list[str], labels: list[tuple]) -> None:
        X = self.transform(texts)
        c = self.counts
        c.document_frequency += np.bincount(X.indices, minlength=c.document_frequency.size)
        c.tokens += int(X.data.sum())
        per_doc = np.fromiter(map(len, labels), np.int64, len(labels))
        flat = np.fromiter(
            map(self.code.__getitem__, chain.from_iterable(labels)), np.int64, per_doc.sum()
        )
        c.class_counts += np.bincount(flat, minlength=c.class_counts.size)
        c.labels += flat.size
        c.unlabelled = c.unlabelled or bool(per_doc.size and per_doc.min() == 0)
        if c.class_df is not None and flat.size:  # single-label: the labelled rows
            rows = X if flat.size == per_doc.size else X[per_doc == 1]
            c.add_class_df(_math.class_document_frequency(rows, flat, c.class_counts.size))
        writer.append(X, per_doc, flat)

    def finish(self) -> CacheCounts:
        self.close()
        self.read.close()
        del self.transform, self.read
        if self.counts.class_df is not None:  # one matrix to send back
            self.counts.class_df = [self.counts.class_document_frequency()]
        return self.counts

    def close(self) -> None:
        """Close the segment being written."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
