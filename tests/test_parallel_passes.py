"""The reading passes of out-of-core training on worker processes (bowclf.backends.passes):
the same vocabulary, cache, statistics and model file for every number of workers and start
method; errors and interruptions that leave no process and no cache behind."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import default_sigint, make_texts

from bowclf import defaults
from bowclf.backends import passes, workers
from bowclf.backends.disk import DiskCorpus
from bowclf.corpus import CorpusError

METHODS = ["fork", "spawn"] if "fork" in multiprocessing.get_all_start_methods() else ["spawn"]


@pytest.fixture
def pools(monkeypatch):
    """Every corpus takes the parallel path, with as many workers as asked on any machine
    (``n_jobs`` is capped at the cores); returns the worker counts of the pools made."""
    monkeypatch.setattr(defaults, "PARALLEL_PASS_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    made: list[int] = []

    class Recorded(workers.WorkerPool):
        def __init__(self, n_workers, **kw):
            made.append(n_workers)
            super().__init__(n_workers, **kw)

    monkeypatch.setattr(passes, "WorkerPool", Recorded)
    return made


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    texts, labels = make_texts(1500, seed=3)
    texts[7] = "Ünïcode wörds, emoji 🙂 and CJK 中文 " + texts[7]
    return _write(tmp_path / "train.csv", list(zip(labels, texts, strict=True)))


def _fit(path, n_jobs, tmp_path, *, start_method=None, corpus_kw=None, keep=True,
         chunk_size=97, **params):  # fmt: skip
    """A model trained out of core with ``n_jobs`` pass workers, its file's members and a
    digest of its token cache."""
    from bowclf import TextClassifier
    from bowclf.persist import save

    model = TextClassifier(random_state=0, epochs=2, n_jobs=1, ngrams=2, **params)
    with DiskCorpus(
        path, n_jobs=n_jobs, start_method=start_method, chunk_size=chunk_size, keep_cache=keep,
        cache_dir=tmp_path, corpus_kw=corpus_kw,
    ) as backend:  # fmt: skip
        model.fit_backend(backend)
        digest = hashlib.sha256()
        for name in passes.CACHE_FILES:  # each array: its segments one after the other
            digest.update(b"".join((backend.directory / f"{prefix}{name}.bin").read_bytes()
                                   for prefix in backend.segments))  # fmt: skip
        names = {p.name for p in backend.directory.iterdir()}
        assert not {n for n in names if n.startswith("chunks")}
    model.training_summary_.pop("cache")
    file = save(model, tmp_path / f"model-{n_jobs}-{start_method}.bowclf")
    with zipfile.ZipFile(file) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    return model, members, digest.hexdigest(), file.read_bytes()


@pytest.mark.parametrize("start_method", METHODS)
def test_two_workers_make_the_one_process_cache_and_model_file(
    corpus, tmp_path, pools, start_method
):
    one = _fit(corpus, 1, tmp_path)
    two = _fit(corpus, 2, tmp_path, start_method=start_method)
    assert pools == [2]  # the first run read in this process, the second on two workers
    assert two[1] == one[1]  # every member of the model files
    assert two[2] == one[2]  # the token caches
    assert two[3] == one[3]  # the files, byte for byte
    assert one[0].vectorizer_.vocabulary_ == two[0].vectorizer_.vocabulary_


def test_fewer_chunks_than_workers_give_the_one_process_model(corpus, tmp_path, pools):
    """A worker given no chunk returns empty counts (its table holds only the document
    separator): merged with the others' they give the serial vocabulary and model."""
    one = _fit(corpus, 1, tmp_path, chunk_size=10_000)
    three = _fit(corpus, 3, tmp_path, chunk_size=1_000)  # two chunks for three workers
    assert pools == [3]
    assert three[1] == one[1] and three[3] == one[3]


def test_multilabel_statistics_do_not_depend_on_the_workers(tmp_path, pools):
    rng = np.random.default_rng(0)
    texts, labels = make_texts(900, seed=5)
    rows = []
    for text, label in zip(texts, labels, strict=True):
        extra = ["x", "y", ""][rng.integers(3)]
        rows.append(("|".join(filter(None, [label, extra])), text))
    path = _write(tmp_path / "multi.csv", rows)
    kw = {"label_sep": "|"}
    one = _fit(path, 1, tmp_path, corpus_kw=kw, loss="ova")
    three = _fit(path, 3, tmp_path, corpus_kw=kw, loss="ova")
    assert pools == [3]
    assert three[1] == one[1] and three[2] == one[2]
    assert one[0].multilabel_


def test_small_corpora_are_read_in_this_process(corpus, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(passes, "WorkerPool", lambda *a, **k: made.append(a))
    _fit(corpus, 2, tmp_path)  # far below defaults.PARALLEL_PASS_BYTES
    assert made == []
    assert passes.pass_workers(corpus, 2, None) == 1
    monkeypatch.setattr(defaults, "PARALLEL_PASS_BYTES", corpus.stat().st_size)
    assert passes.pass_workers(corpus, 2, None) == 2
    assert passes.pass_workers(corpus, 1, None) == 1


def _bad_corpus(tmp_path, kind: str) -> Path:
    """A corpus with an undecodable byte, or a row of three fields, late in the file."""
    texts, labels = make_texts(700, seed=1)
    good = _write(tmp_path / "good.csv", list(zip(labels, texts, strict=True))).read_bytes()
    lines = good.split(b"\r\n")
    bad = b"sports,caf\xe9 au lait" if kind == "undecodable" else b"sports,one,two"
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(b"\r\n".join(lines[:600] + [bad] + lines[600:]))
    return path


@pytest.mark.parametrize("kind", ["undecodable", "malformed"])
def test_bad_input_gives_the_one_process_error_and_leaves_nothing(tmp_path, pools, kind):
    path = _bad_corpus(tmp_path, kind)
    messages = []
    for n_jobs in (1, 2):
        cache = tmp_path / f"cache{n_jobs}"
        cache.mkdir()
        with pytest.raises(CorpusError) as info:
            _fit(path, n_jobs, cache, keep=False)
        messages.append(str(info.value))
        assert list(cache.iterdir()) == []  # no cache directory left
        assert multiprocessing.active_children() == []  # no worker left
    assert pools == [2, 2]  # the parts failed; the file was then read in one piece
    assert messages[0] == messages[1]
    assert "line" in messages[0]


def test_the_cli_aborting_its_workers_prints_one_error_line_not_their_tracebacks(tmp_path):
    """The workers inherit the CLI's SIGTERM handler (it raises to unwind the caller); the
    pool stops them with SIGTERM when a part fails, and each printed a traceback."""
    path = _bad_corpus(tmp_path, "malformed")
    script = tmp_path / "cli.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from bowclf import defaults
        from bowclf.cli import main
        defaults.PARALLEL_PASS_BYTES = 0
        main(sys.argv[1:])
    """)
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    args = [str(path), "--stream", "--threads", "2", "-q", "-o", str(tmp_path / "m.bowclf")]
    done = subprocess.run([sys.executable, str(script), "fit", *args], env=env,
                          capture_output=True, timeout=120, cwd=tmp_path)  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith("bowclf: error: ")


class _Failing:
    """A job whose step fails at item ``at`` (raising, or ending its process)."""

    def __init__(self, at: int, how: str) -> None:
        self.at, self.how = at, how

    def start(self) -> None:
        self.seen = 0

    def step(self, item: int) -> int:
        if item == self.at:
            if self.how == "exit":
                os._exit(7)
            raise ValueError(f"bad item {item}")
        self.seen += 1
        return item * item

    def finish(self) -> int:
        return self.seen


def test_the_pool_returns_results_in_item_order_and_each_workers_finish():
    with workers.WorkerPool(3) as pool:
        assert list(pool.run(_Failing(-1, "raise"), range(20))) == [i * i for i in range(20)]
        assert pool.finish() == [7, 7, 6]  # items i % 3 == k ran on worker k
        assert list(pool.run(_Failing(-1, "raise"), [])) == []
        assert pool.finish() == [0, 0, 0]
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_failing_worker_raises_here_and_the_pool_ends(how):
    with pytest.raises(workers.WorkerError if how == "exit" else ValueError) as info:
        with workers.WorkerPool(2) as pool:
            for _ in pool.run(_Failing(5, how), range(50)):
                pass
    assert str(info.value) == ("bad item 5" if how == "raise" else str(info.value))
    if how == "exit":
        assert "exit code 7" in str(info.value)
    assert multiprocessing.active_children() == []


def test_merged_counts_fit_the_vocabulary_of_the_whole_corpus():
    from bowclf import BowVectorizer

    texts, _ = make_texts(400, seed=2)
    vec = BowVectorizer(min_count=2, max_features=30)
    counters = []
    for part in (texts[:150], texts[150:151], texts[151:]):
        counter = vec.token_counter()
        counter.add(part)
        counters.append(counter.result())
    merged = BowVectorizer(min_count=2, max_features=30).fit_counts(*passes.merge_counts(counters))
    whole = BowVectorizer(min_count=2, max_features=30).fit(texts)
    assert list(merged.vocabulary_.items()) == list(whole.vocabulary_.items())
    np.testing.assert_array_equal(merged.word_counts_, whole.word_counts_)
    assert merged.n_tokens_ == whole.n_tokens_


@pytest.mark.parametrize("params", [{"ngrams": 2}, {"minn": 2, "maxn": 4}, {"ngrams": 1}])
def test_a_chunk_transform_gives_each_chunk_its_transform(monkeypatch, params):
    from bowclf import BowVectorizer
    from bowclf.vectorizer.transform import ChunkTransform

    texts, _ = make_texts(300, seed=4)
    vec = BowVectorizer(buckets=1000, min_count=3, **params).fit(texts[:100])
    new = [f"{t} unseenword another{i}" for i, t in enumerate(texts[100:])]
    monkeypatch.setattr(ChunkTransform, "RENEW_UNKNOWN_IDS", 0)  # a new table now and then
    chunks = vec.transformer().chunk_transform()
    for start in range(0, len(new), 37):
        got, want = chunks(new[start : start + 37]), vec.transform(new[start : start + 37])
        assert (got != want).nnz == 0 and got.dtype == want.dtype and got.shape == want.shape


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_ctrl_c_while_the_workers_start_interrupts_the_caller(monkeypatch):
    """A Ctrl-C that comes to the starting thread while the workers are being started is
    not lost: it interrupts the caller once they are (and the pool it was making is taken
    down).  The signal is sent to this thread, not the process: the kernel may hand a
    process-wide one to any other thread of the test run (the next test is that case), whose
    handler can then run after the pool was made, which this test is not about."""
    import threading

    from bowclf.backends.workers import WorkerPool

    context = multiprocessing.get_context("fork")
    start = context.Process.start

    def start_then_ctrl_c(self):
        start(self)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    monkeypatch.setattr(context.Process, "start", start_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if run with
    try:  # SIGINT ignored (in the background)
        with pytest.raises(KeyboardInterrupt):
            WorkerPool(2, start_method="fork")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_ctrl_c_to_another_thread_while_the_workers_start_leaves_no_worker(monkeypatch):
    """The start's SIGINT mask is this thread's: with another thread in the process, the
    kernel gives that thread the Ctrl-C and the starting thread is interrupted right after a
    worker started; that worker is still stopped (it was missed, and the test above flaky)."""
    import select
    import threading

    from bowclf.backends.workers import WorkerPool

    context = multiprocessing.get_context("fork")
    start = context.Process.start
    received, wakeup = os.pipe()  # the signal's C handler writes here, in whichever thread
    os.set_blocking(wakeup, False)

    def start_then_ctrl_c(self):
        start(self)
        os.kill(os.getpid(), signal.SIGINT)
        # another thread takes it (this one blocks SIGINT); once its handler has run, this
        # one is interrupted at its next step: here, not after a second worker has started
        assert select.select([received], [], [], 60)[0], "the SIGINT was never handled"

    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)
    other.start()
    monkeypatch.setattr(context.Process, "start", start_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_fd = signal.set_wakeup_fd(wakeup)
    try:
        with pytest.raises(KeyboardInterrupt):
            WorkerPool(2, start_method="fork")
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGINT, previous)
        done.set()
        other.join()
        os.close(received)
        os.close(wakeup)
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_ctrl_c_while_the_pool_closes_and_again_while_it_aborts_leaves_no_worker():
    """A Ctrl-C while the workers finish (a graceful close) turns the close into an abort;
    a second one during the abort is held until every worker is stopped and its pipe
    closed, then interrupts the caller."""
    import threading

    from bowclf.backends.workers import WorkerPool

    def ctrl_c_then_join(join):
        def joined(timeout=None):
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            return join(timeout)

        return joined

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        pool = WorkerPool(2, start_method="fork")
        conns = list(pool._conns)
        for proc in pool._procs:
            proc.join = ctrl_c_then_join(proc.join)
        with pytest.raises(KeyboardInterrupt):
            pool.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert multiprocessing.active_children() == []
    assert all(conn.closed for conn in conns)
    assert pool.pids == []


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the worker processes")
def test_ctrl_c_leaves_no_worker_process_and_no_cache(tmp_path):
    texts, labels = make_texts(30000, seed=6)
    path = _write(tmp_path / "big.csv", list(zip(labels, texts, strict=True)))
    cache = tmp_path / "cache"
    cache.mkdir()
    script = textwrap.dedent(f"""
        from bowclf import TextClassifier, defaults
        from bowclf.stream import fit_stream
        defaults.PARALLEL_PASS_BYTES = 0
        try:
            fit_stream(TextClassifier(n_jobs=2, epochs=50), {str(path)!r},
                       cache_dir={str(cache)!r}, chunk_size=50)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            preexec_fn=default_sigint)  # fmt: skip
    children = _wait_for_children(proc.pid, 2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert out.decode().strip() == "interrupted"
    assert len(children) == 2
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    assert list(cache.iterdir()) == []


def _wait_for_children(pid: int, n: int) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            found = []
        if len(found) >= n:
            time.sleep(0.3)  # the workers are at work
            return [int(p) for p in found]
        time.sleep(0.02)
    raise AssertionError("the worker processes did not start")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_a_dead_workers_message_says_why_it_may_have_died():
    assert "killed (out of memory?)" in workers._death_message(-9, "fork")
    assert workers._death_message(7, "fork").endswith("(exit code 7)")
    for method in ("spawn", "forkserver"):
        message = workers._death_message(1, method)
        assert f"{method!r} start method" in message and "__main__" in message


def test_a_script_without_a_main_guard_under_spawn_gets_the_reason(tmp_path):
    """Under spawn every worker first imports the calling script: one that trains at import
    time starts a pool inside the worker, which dies; the caller says why."""
    texts, labels = make_texts(300, seed=7)
    path = _write(tmp_path / "c.csv", list(zip(labels, texts, strict=True)))
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import multiprocessing
        from bowclf import TextClassifier, defaults
        from bowclf.stream import fit_stream
        multiprocessing.set_start_method("spawn", force=True)
        defaults.PARALLEL_PASS_BYTES = 0
        try:
            fit_stream(TextClassifier(n_jobs=2, epochs=1), {str(path)!r})
        except RuntimeError as exc:  # in the workers too, which then die
            print("caught:", type(exc).__name__, exc, flush=True)
            raise
    """)
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          timeout=120, cwd=tmp_path)  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode != 0
    line = "caught: WorkerError a worker process ended unexpectedly (exit code 1): with the "
    assert f"{line}'spawn' start method" in out, (out, done.stderr.decode())
    assert "under `if __name__ == '__main__':`" in out


def test_the_cache_writer_appends_rows_in_call_order(tmp_path):
    import scipy.sparse as sp

    X = sp.csr_array(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
    writer = passes.CacheWriter(tmp_path, "seg0.")
    writer.append(X, np.array([1, 1]), np.array([0, 1]))
    writer.append(X[[0]], np.array([2]), np.array([2, 3]))
    writer.close()
    assert np.fromfile(tmp_path / "seg0.indices.bin", np.int32).tolist() == [0, 2, 1, 0, 2]
    assert np.fromfile(tmp_path / "seg0.labels.bin", np.int32).tolist() == [0, 1, 2, 3]
    assert (writer.n_docs, writer.nnz) == (3, 5)


def test_the_cache_is_read_across_its_segments(tmp_path):
    """DiskData reads values across segment files (some empty) as from one file."""
    from bowclf.backends.disk import _Segmented

    values = np.arange(20, dtype=np.int32)
    paths = []
    for k, (a, b) in enumerate([(0, 7), (7, 7), (7, 8), (8, 20), (20, 20)]):
        paths.append(tmp_path / f"seg{k}.bin")
        values[a:b].tofile(paths[-1])
    seg = _Segmented(paths, np.int32)
    for start in range(21):
        for stop in range(start, 21):
            assert seg.read(start, stop).tolist() == values[start:stop].tolist()
    assert np.concatenate(list(seg.blocks(3))).tolist() == values.tolist()


def _variant(tmp_path, kind: str) -> Path:
    """A corpus whose rows are read in parts by the workers (or, where a cut falls inside a
    quoted field, in one piece): CRLF line ends, a byte-order mark, a ``sep=`` line,
    quoted fields with line breaks, one such field spanning the middle of the file."""
    texts, labels = make_texts(900, seed=7)
    if kind in ("multiline", "spanning"):
        texts = [t.replace(" ", "\n", 2) if i % 3 else t for i, t in enumerate(texts)]
    if kind == "spanning":  # a field of half the file's lines, across the middle
        texts[450] = "\r\n".join(texts[:450]) + ' with "quotes", commas\r\n\r\nand blank lines'
    path = _write(tmp_path / f"{kind}.csv", list(zip(labels, texts, strict=True)))
    if kind == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    if kind == "sep":
        path.write_bytes(b"sep=;\n" + path.read_bytes().replace(b",", b";"))
    return path


@pytest.mark.parametrize("kind", ["bom", "sep", "multiline", "spanning"])
def test_workers_parsing_their_parts_make_the_one_process_model(tmp_path, pools, kind):
    path = _variant(tmp_path, kind)
    one = _fit(path, 1, tmp_path)
    two = _fit(path, 2, tmp_path)
    assert two[2] == one[2] and two[3] == one[3]  # the caches and the model files
    assert one[0].training_summary_["documents"] == 900
    if kind == "spanning":  # the cut fell inside the field: the file was read in one piece
        assert pools == [2, 2]
    elif kind in ("bom", "sep"):  # no quoted line break: the parts were read by the workers
        assert pools == [2]


def test_parts_read_by_workers_are_the_whole_files_records(tmp_path, pools, monkeypatch):
    """The parts path is taken (no reading of the file in one piece) and its chunks hold
    the file's documents in order."""
    path = _variant(tmp_path, "bom")
    read_whole = []
    monkeypatch.setattr(DiskCorpus, "_chunks", lambda self: read_whole.append(1) or iter(()))
    model, *_ = _fit(path, 2, tmp_path)
    assert read_whole == [] and pools == [2]
    assert model.training_summary_["documents"] == 900


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_process_forked_before_its_own_handler_ends_quietly_on_sigterm():
    """The CLI's SIGTERM handler raises to unwind the command; in a worker forked before the
    worker installed its own (the pool may stop a worker that just started) it printed a
    traceback from multiprocessing's start-up: it ends the process as SIGTERM does instead."""
    import signal
    import time

    from bowclf.cli import app

    previous = app._install_sigterm()
    try:
        pid = os.fork()
        if pid == 0:  # the child: SIGTERM arrives while it waits
            try:
                time.sleep(10)
            finally:  # never back into the test run (an exception raised by the old handler)
                os._exit(0)
        time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
    finally:
        app._restore_sigterm(previous)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
