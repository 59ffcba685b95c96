"""bowclf.parallel: the split kernels equal the one-thread kernels bit for bit, the context
that installs them, and the estimators' promise: any ``n_jobs`` trains the model of one thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import _math
from bowclf.parallel import KernelThreads, kernel_threads, resolve_n_jobs


def _random_csr(n, p, density, seed, index_dtype=np.int32) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    X = sp.random_array((n, p), density=density, format="csr", rng=rng, dtype=np.float32)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_split_kernels_give_the_one_thread_results_bit_for_bit(K, index_dtype):
    X = _random_csr(40, 300, 0.2, seed=K, index_dtype=index_dtype)
    X.data[::7] *= 1e-6  # values of mixed magnitude: any change of order would show
    rng = np.random.default_rng(1)
    W = rng.standard_normal((300, 6)).astype(np.float32)
    GB = rng.standard_normal((40, 6)).astype(np.float32)
    H1 = _math.hidden_kernel(X.indptr, X.indices, X.data, W, np.zeros((40, 6), np.float32))
    W1 = _math.update_kernel(X.indptr, X.indices, X.data, GB, W.copy())
    with KernelThreads(K, min_work=0) as threads:
        H2 = threads.hidden_into(X.indptr, X.indices, X.data, W, np.zeros((40, 6), np.float32))
        W2 = threads.update_into(X.indptr, X.indices, X.data, GB, W.copy())
    assert H1.tobytes() == H2.tobytes()
    assert W1.tobytes() == W2.tobytes()


def test_split_kernels_accept_a_batch_that_starts_inside_the_arrays():
    X = _random_csr(30, 50, 0.3, seed=3)
    lo = int(X.indptr[10])
    ptr = X.indptr[10:21]  # rows 10-19, pointers into the whole arrays
    W = np.arange(50 * 4, dtype=np.float32).reshape(50, 4) / 7
    GB = np.linspace(-1, 1, 40, dtype=np.float32).reshape(10, 4)
    sub = (ptr - lo, X.indices[lo : ptr[-1]], X.data[lo : ptr[-1]])
    H1 = _math.hidden_kernel(*sub, W, np.zeros((10, 4), np.float32))
    W1 = _math.update_kernel(*sub, GB, W.copy())
    with KernelThreads(2, min_work=0) as threads:
        H2 = threads.hidden_into(ptr, X.indices, X.data, W, np.zeros((10, 4), np.float32))
        W2 = threads.update_into(ptr, X.indices, X.data, GB, W.copy())
    np.testing.assert_array_equal(H1, H2)
    np.testing.assert_array_equal(W1, W2)


def test_kernels_split_only_large_work_and_only_inside_the_context(monkeypatch):
    seen: list[str] = []
    real = _math.hidden_kernel

    def spy(*args):
        seen.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(_math, "hidden_kernel", spy)
    X = _random_csr(64, 2000, 0.05, seed=0)  # 6,400 non-zeros
    W = np.ones((2000, 64), np.float32)

    def hidden():
        seen.clear()
        _math.sparse_hidden_into(X.indptr, X.indices, X.data, W, np.zeros((64, 64), np.float32))
        return sorted(seen)

    assert hidden() == ["MainThread"]  # no threads installed
    with kernel_threads(2) as threads:
        assert _math.KERNEL_THREADS.get() is threads
        assert len(hidden()) == 2 and "MainThread" in seen  # 6,400 × 64 ≥ MIN_SPLIT_WORK
        threads.min_work = 10**9
        assert hidden() == ["MainThread"]  # too little work: one thread
        other: list = []
        worker = threading.Thread(target=lambda: other.append(_math.KERNEL_THREADS.get()))
        worker.start()
        worker.join()
        assert other == [None]  # another thread trains on its own
    assert _math.KERNEL_THREADS.get() is None
    with kernel_threads(1) as none:
        assert none is None and _math.KERNEL_THREADS.get() is None


def test_an_error_on_a_worker_is_raised_to_the_caller_and_the_workers_go_on():
    calls: list[int] = []

    def part(k: int) -> None:
        calls.append(k)
        if k == 2:
            raise FloatingPointError("worker failed")

    with KernelThreads(3) as threads:
        with pytest.raises(FloatingPointError, match="worker failed"):
            threads._run(part, [(0,), (1,), (2,)])
        assert sorted(calls) == [0, 1, 2]  # every part ran, the caller waited for all
        calls.clear()
        threads._run(calls.append, [(0,), (1,), (2,)])
        assert sorted(calls) == [0, 1, 2]


def test_the_kernels_take_the_faster_way_and_retry_the_other_now_and_then():
    from bowclf.parallel import RETRY, _Choice

    choice = _Choice()
    first = [choice.split() for _ in range(2)]
    assert first == [True, True]  # no measurement yet: split first
    choice.record(True, 3.0, 1000)
    assert choice.split() is False  # then measure one thread
    choice.record(False, 1.0, 1000)  # one thread measured faster
    picks = [choice.split() for _ in range(4 * RETRY)]
    assert picks.count(True) == 4  # the slower way, once every RETRY calls
    for _ in range(60):
        choice.record(True, 0.1, 1000)  # splitting became faster
    picks = [choice.split() for _ in range(2 * RETRY)]
    assert picks.count(False) == 2


def test_kernel_threads_need_two_threads():
    with pytest.raises(ValueError, match="2 threads"):
        KernelThreads(1)


def test_initial_parameters_do_not_depend_on_the_threads():
    from bowclf.training import _INIT_PIECE, initial_parameters

    p, d = 2 * _INIT_PIECE + 100, 3  # three pieces, the last one short
    runs = [
        initial_parameters(p, d, (2, d), np.random.default_rng(7), n_jobs=n)[0] for n in (1, 2, 3)
    ]
    assert runs[0].tobytes() == runs[1].tobytes() == runs[2].tobytes()
    W = runs[0]
    assert W.shape == (p, d) and W.flags.c_contiguous
    assert W.min() >= -1 / d and W.max() < 1 / d and abs(float(W.mean())) < 0.01
    assert not np.array_equal(W[:100], W[_INIT_PIECE : _INIT_PIECE + 100])  # own streams
    other = initial_parameters(p, d, (2, d), np.random.default_rng(8))[0]
    assert not np.array_equal(W, other)


def test_resolve_n_jobs():
    import os

    cores = os.cpu_count() or 1
    assert resolve_n_jobs(None) == cores
    assert resolve_n_jobs(-1) == cores
    assert resolve_n_jobs(1) == 1 and resolve_n_jobs(3) == min(3, cores)
    assert resolve_n_jobs(-cores - 5) == 1
    with pytest.raises(ValueError, match="n_jobs=0"):
        resolve_n_jobs(0)


def test_n_jobs_beyond_the_cores_is_capped_and_the_cli_takes_the_librarys_rule(
    monkeypatch, tmp_path
):
    """``n_jobs=100000`` (``--threads 100000``) ran out of threads ('can't start new thread'):
    more than the cores runs one thread per core; ``--threads`` takes what ``n_jobs`` takes
    (``-1`` was refused by the command line), and refuses ``0`` before reading the corpus."""
    from click.testing import CliRunner

    from bowclf.cli import cli

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert resolve_n_jobs(100_000) == 2 and resolve_n_jobs(2) == 2 and resolve_n_jobs(-1) == 2
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\n" + "a,x y\nb,z w\n" * 20, encoding="utf-8")
    fit = ["fit", str(corpus), "-o", str(tmp_path / "m.bowclf"), "--epochs", "1", "--dim", "4"]
    for threads, note in (("-1", False), ("-3", False), ("100000", True)):
        result = CliRunner().invoke(cli, [*fit, "--threads", threads])
        assert result.exit_code == 0, result.stderr
        shown = "bowclf: note: --threads 100000: this machine has 2 cores; using 2"
        assert (shown in result.stderr) == note
    result = CliRunner().invoke(cli, [*fit, "--threads", "0"])
    assert result.exit_code == 2 and "implausible n_jobs (threads) 0" in result.stderr


# ---------------------------------------------------------------------- through the estimators
def _long_texts(n: int, seed: int, noise: float) -> tuple[list[str], list[str]]:
    """3 classes of 40-80-word documents over a 3,000-word vocabulary (rows long and sparse
    enough for the estimators to train on threads)."""
    rng = np.random.default_rng(seed)
    topics = {c: rng.choice(3000, 150, replace=False) for c in "abc"}
    texts, labels = [], []
    for _ in range(n):
        label = "abc"[rng.integers(3)]
        length = int(rng.integers(40, 80))
        topical = rng.random(length) < 0.3
        words = np.where(topical, rng.choice(topics[label], length), rng.integers(0, 3000, length))
        texts.append(" ".join(f"w{w}" for w in words))
        labels.append("abc"[rng.integers(3)] if rng.random() < noise else label)
    return texts, labels


@pytest.fixture(scope="module")
def topical():
    tr = _long_texts(3000, seed=10, noise=0.1)
    te = _long_texts(1500, seed=11, noise=0.0)
    return tr[0], tr[1], te[0], te[1]


@pytest.fixture
def split_everything(monkeypatch):
    """Every kernel call of the estimators splits (none is too small), with as many threads
    as asked on any machine (``n_jobs`` is capped at the cores), and the number of calls
    that ran on another thread is counted."""
    import bowclf.parallel

    monkeypatch.setattr(bowclf.parallel, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    calls = {"elsewhere": 0}
    real = _math.update_kernel

    def spy(*args):
        if threading.current_thread() is not threading.main_thread():
            calls["elsewhere"] += 1
        return real(*args)

    monkeypatch.setattr(_math, "update_kernel", spy)
    return calls


@pytest.mark.parametrize("optimizer", ["sgd", "auto"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_same_seed_and_n_jobs_give_identical_model_files(topical, tmp_path, n_jobs, optimizer):
    from bowclf import TextClassifier
    from bowclf.persist import save

    Xtr, ytr, _, _ = topical
    files = []
    for run in range(2):
        model = TextClassifier(optimizer=optimizer, random_state=5, n_jobs=n_jobs).fit(Xtr, ytr)
        files.append(_members(save(model, tmp_path / f"m{run}.bowclf")))
    assert files[0] == files[1]
    assert "classifier/A" in files[0]


def _members(path) -> dict[str, bytes]:
    """Every member of a model file, byte for byte (the whole file is compared too)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["<file>"] = Path(path).read_bytes()
    return members


@pytest.mark.parametrize(
    "params",
    [
        {"optimizer": "sgd"},
        {"optimizer": "adaptive"},
        {"optimizer": "adagrad"},
        {"optimizer": "sgd", "loss": "hs", "early_stopping": True},
        {"optimizer": "sgd", "loss": "ova", "batch_size": 7},
    ],
)
def test_two_and_three_threads_train_the_one_thread_model_bit_for_bit(
    topical, tmp_path, split_everything, params
):
    from bowclf import TextClassifier
    from bowclf.persist import save

    Xtr, ytr, _, _ = topical
    Xtr, ytr = Xtr[:1200], ytr[:1200]
    files = []
    for n_jobs in (1, 2, 3):
        before = split_everything["elsewhere"]
        model = TextClassifier(**params, epochs=2, random_state=0, n_jobs=n_jobs).fit(Xtr, ytr)
        assert (split_everything["elsewhere"] > before) == (n_jobs > 1)  # the threads ran
        model.set_params(n_jobs=1).classifier_.set_params(n_jobs=1)  # the files' only difference
        files.append(_members(save(model, tmp_path / f"{n_jobs}.bowclf")))
    assert files[0] == files[1] == files[2]


def test_out_of_core_training_on_threads_is_the_one_thread_model(
    topical, tmp_path, split_everything
):
    from conftest import write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    Xtr, ytr, Xte, _ = topical
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    runs = [
        fit_stream(TextClassifier(random_state=3, n_jobs=j), path, block_docs=700) for j in (2, 1)
    ]
    assert split_everything["elsewhere"] > 0
    assert runs[0].predict_proba(Xte).tobytes() == runs[1].predict_proba(Xte).tobytes()


def test_a_loaded_model_continues_on_two_threads(topical, tmp_path, split_everything):
    from bowclf import BowClassifier, BowVectorizer
    from bowclf.persist import load, save

    Xtr, ytr, Xte, yte = topical
    vec = BowVectorizer(ngrams=2).fit(Xtr)
    X = vec.transform(Xtr)
    model = BowClassifier(random_state=0, n_jobs=1).partial_fit(X, ytr, classes=sorted(set(ytr)))
    loaded = load(save(model, tmp_path / "m.bowclf"))  # members memory-mapped: read-only
    twin = load(tmp_path / "m.bowclf")
    loaded.set_params(n_jobs=2).partial_fit(X, ytr)
    twin.partial_fit(X, ytr)
    assert split_everything["elsewhere"] > 0
    assert np.isfinite(loaded.A_).all()
    np.testing.assert_array_equal(loaded.A_, twin.A_)
    np.testing.assert_array_equal(loaded.B_, twin.B_)


def test_n_jobs_zero_is_refused():
    from bowclf import BowClassifier

    with pytest.raises(ValueError, match="'n_jobs' parameter .* Got 0"):
        BowClassifier(n_jobs=0).fit(sp.csr_array(np.eye(4)), [0, 1, 0, 1])


def test_cli_threads_option_reaches_the_model_and_is_reproducible(topical, tmp_path):
    from click.testing import CliRunner
    from conftest import write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.cli import cli
    from bowclf.persist import load

    Xtr, ytr, Xte, _ = topical
    corpus = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    models = []
    for run in range(2):
        out = tmp_path / f"cli{run}.bowclf"
        res = CliRunner().invoke(
            cli,
            [
                "fit",
                str(corpus),
                "-o",
                str(out),
                "--threads",
                "2",
                "--optimizer",
                "sgd",
                "--seed",
                "4",
                "-q",
            ],
        )
        assert res.exit_code == 0, res.output
        models.append(out)
    assert _members(models[0]) == _members(models[1])
    model = load(models[0])
    assert model.n_jobs == 2 and model.classifier_.n_jobs == 2
    api = TextClassifier(optimizer="sgd", random_state=4, n_jobs=2).fit(Xtr, ytr)
    np.testing.assert_array_equal(model.predict_proba(Xte), api.predict_proba(Xte))


def test_prefetch_keeps_the_order_raises_the_producers_error_and_stops_early():
    from bowclf.parallel import prefetch

    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]

    produced = []

    def counting():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in prefetch(counting(), depth=1):
        if item == 3:
            break
    assert len(produced) <= 6  # stopped, not run to the end


@pytest.mark.parametrize("depth", [1, 2])
def test_prefetch_makes_at_most_depth_items_ahead_of_the_consumer(depth):
    import time

    from bowclf.parallel import prefetch

    started: list[int] = []

    def items():
        for i in range(8):
            started.append(i)
            yield i

    ahead = []
    for taken, item in enumerate(prefetch(items(), depth=depth), start=1):
        time.sleep(0.05)  # training: the producer has all the time it needs
        ahead.append(len(started) - taken)
        assert item == taken - 1
    assert max(ahead) == depth  # made ahead while the consumer works, but no more
