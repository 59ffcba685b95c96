"""The speed paths of issue 19: they must give exactly what the paths they replace gave."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest

import bowclf.parallel
from bowclf import _math
from bowclf.vectorizer import csr


def _scipy_counts(rows, cols, shape, dtype, data=None):
    """The reference: :func:`csr._counts_csr` through scipy's COO → CSR (as before)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(csr, "_sortable", lambda *a: False)
        return csr._counts_csr(rows, cols, shape, dtype, data=data)


def _assert_same_csr(a, b):
    assert a.shape == b.shape and a.has_canonical_format
    for name in ("indptr", "indices", "data"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("n, per, width", [(50, 30, 1000), (7, 200, 13), (40, 3, 5_000_000)])
def test_counts_by_one_sort_are_scipys_counts(dtype, n, per, width):
    rng = np.random.default_rng(n + per)
    rows = rng.integers(0, n, n * per)  # unsorted rows, empty rows, many duplicates
    rows[rows == n // 2] = 0
    cols = rng.zipf(1.5, n * per) % width
    expected = _scipy_counts(rows, cols, (n, width), dtype)
    got = csr._counts_csr(rows, cols, (n, width), dtype)
    _assert_same_csr(got, expected)
    assert csr._sortable((n, width), dtype)


def test_counts_with_values_sort_or_fall_back_to_scipy(monkeypatch):
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 20, 400), rng.integers(0, 30, 400)
    ints = rng.integers(1, 5, 400)
    # integer values: summed exactly in any order
    got = csr._counts_csr(rows, cols, (20, 30), np.int64, data=ints)
    _assert_same_csr(got, _scipy_counts(rows, cols, (20, 30), np.int64, data=ints))
    # distinct entries with float values: sorted, no sum needed
    key = np.unique(rows * 30 + cols)
    r, c = key // 30, key % 30
    perm = rng.permutation(r.size)
    vals = rng.random(r.size).astype(np.float32)
    got = csr._counts_csr(r[perm], c[perm], (20, 30), np.float32, data=vals[perm])
    _assert_same_csr(got, _scipy_counts(r[perm], c[perm], (20, 30), np.float32, data=vals[perm]))
    # duplicate entries with float values: scipy's own summing order, so scipy builds them
    assert csr._counts_csr_sorted(rows, cols, (20, 30), np.dtype(np.float32),
                                  rng.random(400).astype(np.float32)) is None  # fmt: skip
    floats = rng.random(400).astype(np.float32)
    got = csr._counts_csr(rows, cols, (20, 30), np.float32, data=floats)
    _assert_same_csr(got, _scipy_counts(rows, cols, (20, 30), np.float32, data=floats))


def test_narrow_dtypes_and_huge_shapes_keep_scipys_path():
    assert not csr._sortable((10, 10), np.int16)
    assert not csr._sortable((1 << 32, 1 << 31), np.float32)
    assert csr._sortable((1 << 20, 1 << 31), np.float32)
    rows, cols = np.array([0, 0, 1]), np.array([2, 2, 0])
    got = csr._counts_csr(rows, cols, (2, 3), np.int16)
    _assert_same_csr(got, _scipy_counts(rows, cols, (2, 3), np.int16))


def test_vectorizer_output_does_not_depend_on_the_sort(monkeypatch):
    from bowclf import BowVectorizer

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 40))) for _ in range(900)]
    texts += ["", "a a a b", "Ünïcode wörds wörds"]
    for params in ({"ngrams": 2}, {"ngrams": 2, "min_count": 2, "max_features": 100},
                   {"ngrams": 1, "minn": 2, "maxn": 4}):  # fmt: skip
        fast = BowVectorizer(**params, chunk_size=100)
        X_fast, T_fast = fast.fit_transform(texts), fast.transform(texts[:50])
        with monkeypatch.context() as m:
            m.setattr(csr, "_sortable", lambda *a: False)
            slow = BowVectorizer(**params, chunk_size=100)
            X_slow, T_slow = slow.fit_transform(texts), slow.transform(texts[:50])
        _assert_same_csr(X_fast, X_slow)
        _assert_same_csr(T_fast, T_slow)


def test_out_of_core_label_statistics_match_in_memory(tmp_path):
    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    rng = np.random.default_rng(1)
    path = tmp_path / "ml.csv"
    docs, labels = [], []
    for i in range(300):
        chosen = sorted(rng.choice(["a", "b", "c", "d"], size=rng.integers(1, 4), replace=False))
        if i % 7 == 0:
            chosen = ["d"]
        docs.append(" ".join(rng.choice(["x", "y", "z", *chosen], size=8)))
        labels.append(chosen)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["labels", "text"])
        w.writerows((" ".join(lab), doc) for lab, doc in zip(labels, docs, strict=True))
    streamed = fit_stream(TextClassifier(loss="ova", epochs=1, random_state=0), path,
                          corpus_kw={"label_sep": " "}, chunk_size=64)  # fmt: skip
    counts = {c: sum(c in lab for lab in labels) for c in "abcd"}
    prior = streamed.classifier_.class_prior_
    np.testing.assert_allclose(prior, [counts[c] / 300 for c in "abcd"])
    assert streamed.training_summary_["documents"] == 300


@pytest.fixture
def read_ahead_always(monkeypatch):
    """Every step with a following batch reads ahead on a worker; the reads are counted."""
    monkeypatch.setattr(bowclf.parallel, "READ_AHEAD", True)
    monkeypatch.setattr(bowclf.parallel, "MIN_SPLIT_WORK", 0)
    reads = {"worker": 0, "here": 0}
    real = bowclf.parallel._read_rows

    def spy(W, rows, out):
        here = threading.current_thread() is threading.main_thread()
        reads["here" if here else "worker"] += 1
        real(W, rows, out)  # (W may change meanwhile: the copy is never used)

    monkeypatch.setattr(bowclf.parallel, "_read_rows", spy)
    return reads


def test_reading_ahead_runs_the_step_unsplit_and_reads_on_a_worker(read_ahead_always):
    W = np.arange(40.0, dtype=np.float32).reshape(10, 4)
    seen = []

    def step():
        seen.append(threads._reading)
        return "done"

    with bowclf.parallel.KernelThreads(2, min_work=0) as threads:
        assert threads.step_reading_ahead(W, np.array([3, 1, 3]), step) == "done"
        assert threads._split(1000, 100, 32) == 2  # split again once the step is over
    assert seen == [True]
    assert read_ahead_always == {"worker": 1, "here": 0}


def test_reading_ahead_can_be_turned_off_or_measured(monkeypatch):
    W = np.ones((100, 8), np.float32)
    monkeypatch.setattr(bowclf.parallel, "READ_AHEAD", False)
    with bowclf.parallel.KernelThreads(2, min_work=0) as threads:
        threads.step_reading_ahead(W, np.arange(50), lambda: None)
        assert threads._ahead.rate[True] is None  # never read ahead
    monkeypatch.setattr(bowclf.parallel, "READ_AHEAD", None)
    with bowclf.parallel.KernelThreads(2, min_work=0) as threads:
        for _ in range(4):
            threads.step_reading_ahead(W, np.arange(50), lambda: None)
        assert None not in threads._ahead.rate  # both ways timed
        threads.min_work = 10**9  # too little work: just runs, unrecorded
        calls = threads._ahead.calls
        threads.step_reading_ahead(W, np.arange(50), lambda: None)
        assert threads._ahead.calls == calls


@pytest.mark.parametrize("optimizer", ["sgd", "adaptive"])
def test_reading_ahead_trains_the_one_thread_model_bit_for_bit(read_ahead_always, optimizer):
    from conftest import make_texts

    from bowclf import TextClassifier

    texts, labels = make_texts(900, seed=4)
    texts = [f"{t} {t}" for t in texts]
    models = [
        TextClassifier(
            optimizer=optimizer, ngrams=2, epochs=2, batch_size=16, random_state=2, n_jobs=j
        ).fit(texts, labels)  # fmt: skip
        for j in (1, 2)
    ]
    assert read_ahead_always["worker"] > 0 and read_ahead_always["here"] == 0
    a, b = (m.classifier_ for m in models)
    assert a.A_.tobytes() == b.A_.tobytes() and a.B_.tobytes() == b.B_.tobytes()


def test_out_of_core_reading_ahead_is_the_one_thread_model(read_ahead_always, tmp_path):
    from conftest import make_texts, write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    texts, labels = make_texts(800, seed=5)
    path = write_label_text_csv(tmp_path / "train.csv", texts, labels)
    runs = [fit_stream(TextClassifier(random_state=3, n_jobs=j, epochs=2), path, block_docs=300)
            for j in (2, 1)]  # fmt: skip
    assert read_ahead_always["worker"] > 0
    assert runs[0].classifier_.A_.tobytes() == runs[1].classifier_.A_.tobytes()
    assert _math.KERNEL_THREADS.get() is None


def test_out_of_core_defaults_bound_blocks_and_release_the_passes_memory(tmp_path, monkeypatch):
    import inspect

    from conftest import make_texts, write_label_text_csv

    import bowclf.backends.disk as disk
    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    for function in (fit_stream, disk.DiskCorpus, disk.DiskData):
        assert inspect.signature(function).parameters["block_nnz"].default == disk.BLOCK_NNZ
    assert disk.release_free_memory() in (True, False)
    calls = []
    monkeypatch.setattr(
        disk, "release_free_memory", lambda: calls.append(inspect.stack()[1].function) or True
    )
    texts, labels = make_texts(200, seed=6)
    path = write_label_text_csv(tmp_path / "train.csv", texts, labels)
    fit_stream(TextClassifier(random_state=0, epochs=1), path)
    # after the reading passes, before A is made, and when the cache is gone (before a save)
    assert calls == ["scan", "source", "__exit__"]
