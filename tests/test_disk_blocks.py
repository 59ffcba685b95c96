"""The training blocks of out-of-core epochs (bowclf.backends.disk.DiskData): prepared once,
kept in the cache, then read back and shuffled into reused arrays — the same blocks, bit for
bit, as reading, shuffling and preparing every block every epoch."""

from __future__ import annotations

import csv
import itertools
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_texts

from bowclf import BowVectorizer
from bowclf.backends.disk import DiskCorpus, _Buffers, _read_into
from bowclf.inference import FeatureMap, column_lookup
from bowclf.losses import get_loss
from bowclf.training import canonical_int_dtype, prepare_counts


@pytest.fixture
def corpus(tmp_path):
    texts, labels = make_texts(700, seed=5)
    path = tmp_path / "train.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        writer.writerows(zip(labels, texts, strict=True))
    return path


def _source(corpus, tmp_path, normalize="l1", prune=True):
    backend = DiskCorpus(corpus, n_jobs=1, cache_dir=tmp_path, block_docs=37, block_nnz=900)
    vectorizer = BowVectorizer(ngrams=2)
    stats = backend.scan(vectorizer)
    width = backend.width
    columns = np.flatnonzero(np.arange(width) % 3 != 1) if prune else None  # drops columns
    features = FeatureMap(columns, column_lookup(columns, width), None, False)
    n_features = width if columns is None else columns.size
    data = backend.source(features, stats, n_features=n_features, normalize=normalize,
                          loss=get_loss("softmax"))  # fmt: skip
    return backend, data


def _reference_blocks(data, rng):
    """What every epoch did before blocks were kept prepared: read the raw cache, shuffle
    the rows, then map the features and scale the rows."""
    for b in rng.permutation(data.starts.size - 1):
        first, last = int(data.starts[b]), int(data.starts[b + 1])
        X, Y = data.features(data._raw(first, last)), data._targets(first, last)
        order = rng.permutation(last - first)
        X = canonical_int_dtype(prepare_counts(X[order], data.normalize))
        yield X, data.loss.prepare_targets(Y[order], data.multilabel)


def _same(got: sp.csr_array, want: sp.csr_array) -> None:
    assert got.shape == want.shape
    for mine, theirs in ((got.indptr, want.indptr), (got.indices, want.indices)):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    assert got.data.dtype == want.data.dtype
    assert got.data.tobytes() == want.data.tobytes()  # bit for bit


@pytest.mark.parametrize(("normalize", "prune"), [("l1", True), ("l2", False), (None, True)])
def test_epochs_give_the_blocks_of_shuffle_then_prepare(corpus, tmp_path, normalize, prune):
    backend, data = _source(corpus, tmp_path, normalize, prune)
    with backend:
        assert data.starts.size > 10  # many blocks
        rng, ref_rng = np.random.default_rng(4), np.random.default_rng(4)
        for _ in range(3):  # the first epoch prepares, the later ones read back
            blocks = list(_reference_blocks(data, ref_rng))
            for (X, Y, w), (X_ref, Y_ref) in zip(data.blocks(rng), blocks, strict=True):
                _same(X, X_ref)
                _same(Y, Y_ref)
                assert w.tolist() == [1.0] * X.shape[0]


def test_later_epochs_reuse_two_sets_of_arrays(corpus, tmp_path):
    backend, data = _source(corpus, tmp_path)
    with backend:
        rng = np.random.default_rng(0)
        list(data.blocks(rng))  # the first epoch prepares every block
        assert all(b in data.prepared for b in range(data.starts.size - 1))
        arrays = [dict(out.arrays) for out in data._shuffled]
        read = dict(data._read.arrays)
        for _ in range(2):
            turns = []
            for X, _, _ in data.blocks(rng):
                owner = [np.shares_memory(X.data, a["data"]) for a in arrays]
                assert owner.count(True) == 1  # one of the two sets, as made in epoch 1
                turns.append(owner.index(True))
                assert np.shares_memory(X.indices, arrays[turns[-1]]["indices"])
                assert np.shares_memory(X.indptr, arrays[turns[-1]]["indptr"])
            assert all(a != b for a, b in itertools.pairwise(turns))  # in turns
        assert all(data._read.arrays[name] is a for name, a in read.items())
        assert [dict(out.arrays) for out in data._shuffled] == arrays


def test_a_block_in_training_is_not_overwritten_by_the_next(corpus, tmp_path):
    """The next block is gathered on the prefetch thread while this one trains: with two
    sets of arrays it never writes into the block being trained on."""
    backend, data = _source(corpus, tmp_path)
    with backend:
        seen = []

        class Ctx:
            rng = np.random.default_rng(1)

            def train_block(self, X, Y, w):
                before = (X.indptr.copy(), X.indices.copy(), X.data.copy())
                time.sleep(0.01)  # the producer gathers the next block meanwhile
                for now, then in zip((X.indptr, X.indices, X.data), before, strict=True):
                    np.testing.assert_array_equal(now, then)
                seen.append(threading.get_ident())

        for _ in range(3):
            data.epoch(Ctx())
        assert len(seen) == 3 * (data.starts.size - 1)


def test_read_into_fills_the_given_array_and_refuses_a_short_file(tmp_path):
    path = tmp_path / "values.bin"
    np.arange(10, dtype=np.int32).tofile(path)
    out = np.zeros(4, np.int32)
    assert _read_into(path, 8, out) is out
    assert out.tolist() == [2, 3, 4, 5]
    with pytest.raises(OSError, match="ended early"):
        _read_into(path, 32, np.zeros(4, np.int32))


def test_buffers_grow_only_when_a_block_needs_more():
    buffers = _Buffers()
    assert _Buffers({"x": 50}).get("x", 3, np.int32).base.size == 50  # room for the largest
    first = buffers.get("x", 10, np.int32)
    assert first.size == 10 and np.shares_memory(first, buffers.get("x", 4, np.int32))
    bigger = buffers.get("x", 11, np.int32)
    assert bigger.size == 11 and not np.shares_memory(first, bigger)
    assert buffers.arrays["x"].size >= 12  # grown with room, not one value at a time


def test_segments_are_read_into_a_given_array(tmp_path):
    from bowclf.backends.disk import _Segmented

    values = np.arange(20, dtype=np.int32)
    paths = []
    for k, (a, b) in enumerate([(0, 7), (7, 7), (7, 8), (8, 20)]):
        paths.append(tmp_path / f"seg{k}.bin")
        values[a:b].tofile(paths[-1])
    seg = _Segmented(paths, np.int32)
    room = np.full(25, -1, np.int32)
    for start in range(21):
        for stop in range(start, 21):
            got = seg.read(start, stop, room[: stop - start])
            assert np.shares_memory(got, room) or got.size == 0
            assert got.tolist() == values[start:stop].tolist()


def test_the_first_epoch_reads_the_cache_into_the_reused_arrays(corpus, tmp_path):
    backend, data = _source(corpus, tmp_path, prune=False)
    with backend:
        rng = np.random.default_rng(2)
        first = next(data.blocks(rng))  # a block prepared from the raw cache
        assert first[0].nnz > 0
        arrays = dict(data._read.arrays)
        first, last = int(data.starts[1]), int(data.starts[2])
        X = data.features(data._raw(first, last))
        assert data._read.arrays == arrays  # no new array: read into the same ones
        np.testing.assert_array_equal(arrays["data"][: X.nnz], X.data)
        np.testing.assert_array_equal(arrays["indices"][: X.nnz], X.indices)
        assert X.indptr.dtype == X.indices.dtype  # no index copy for a common dtype


def test_the_document_frequencies_are_freed_before_training(corpus, tmp_path):
    """The column statistics of the passes (8 bytes a vectorizer column) are not kept in
    memory under the model while it trains."""
    import weakref

    from bowclf import TextClassifier

    seen = {}

    class Backend(DiskCorpus):
        def scan(self, vectorizer, callback=None, **kw):
            stats = super().scan(vectorizer, callback, **kw)
            seen["df"] = weakref.ref(stats.document_frequency)
            return stats

        def source(self, *args, **kw):
            data = super().source(*args, **kw)
            epoch = data.epoch

            def checked(ctx):
                seen["alive while training"] = seen["df"]() is not None
                epoch(ctx)

            data.epoch = checked
            return data

    with Backend(corpus, n_jobs=1, cache_dir=tmp_path) as backend:
        TextClassifier(random_state=0, epochs=1, use_idf=True).fit_backend(backend)
    assert seen["alive while training"] is False


def test_the_fit_path_leaves_out_sklearn_metrics_and_model_selection():
    """``bowclf fit`` imports neither (several MB of resident memory under the model): the
    validation split and ``score`` import them when they run."""
    import subprocess
    import sys

    code = (
        "import sys, bowclf.cli.fit_command, bowclf.text, bowclf.stream, bowclf.backends.disk;"
        "print(sorted(m for m in sys.modules if m.startswith(('sklearn.metrics', "
        "'sklearn.model_selection'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_first_epoch_scales_each_block_in_the_arrays_it_was_read_into(tmp_path):
    """Epoch 1 reads every block into the reused arrays and scales its values there, in
    place: the prepared blocks written to the cache hold the memory of those arrays."""
    texts, labels = make_texts(3000, seed=8)
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("label", "text"), *zip(labels, texts, strict=True)])
    backend = DiskCorpus(path, n_jobs=1, cache_dir=tmp_path, block_docs=300, block_nnz=10**6)
    stats = backend.scan(BowVectorizer(ngrams=2))
    data = backend.source(FeatureMap(None, None, None, False), stats, n_features=backend.width,
                          normalize="l1", loss=get_loss("softmax"))  # fmt: skip
    with backend:
        written = []
        write = data.prepared.write
        data.prepared.write = lambda b, X, **kw: written.append(X) or write(b, X, **kw)
        for _ in data.blocks(np.random.default_rng(0)):
            assert np.shares_memory(written[-1].data, data._read.arrays["data"])
            assert np.shares_memory(written[-1].indices, data._read.arrays["indices"])
        assert len(written) == data.starts.size - 1 == 10


def _copying(features):
    """``features`` whose result owns new index arrays (what a map dropping columns gives)."""

    def apply(X):
        X = features(X)
        return sp.csr_array((X.data, X.indices.copy(), X.indptr.copy()), shape=X.shape)

    return apply


@pytest.mark.parametrize("normalize", ["l1", "l2", None])
def test_a_map_keeping_every_column_writes_only_the_values(corpus, tmp_path, normalize):
    """Every column kept (fastText's settings): the prepared blocks share the token cache's
    index arrays, so only their values are written; reading the indices back from the token
    cache gives the blocks, bit for bit, of writing all three parts."""
    backend, data = _source(corpus, tmp_path, normalize, prune=False)
    other, full = _source(corpus, tmp_path, normalize, prune=False)
    full.features = _copying(full.features)
    with backend, other:
        rng, full_rng = np.random.default_rng(7), np.random.default_rng(7)
        for _ in range(3):
            for (X, Y, _), (X_full, Y_full, _) in zip(data.blocks(rng), full.blocks(full_rng),
                                                      strict=True):  # fmt: skip
                _same(X, X_full)
                _same(Y, Y_full)
        blocks = range(data.starts.size - 1)
        assert all(data.prepared.values_only(b) for b in blocks)
        assert not any(full.prepared.values_only(b) for b in blocks)
        sizes = {part: path.stat().st_size for part, path in data.prepared.paths.items()}
        assert sizes["indptr"] == sizes["indices"] == 0
        assert sizes["data"] == full.prepared.paths["data"].stat().st_size > 0


def test_a_map_dropping_columns_writes_every_part(corpus, tmp_path):
    backend, data = _source(corpus, tmp_path, prune=True)
    with backend:
        list(data.blocks(np.random.default_rng(0)))
        assert not any(data.prepared.values_only(b) for b in range(data.starts.size - 1))
        assert all(path.stat().st_size > 0 for path in data.prepared.paths.values())
