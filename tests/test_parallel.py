"""bowclf.parallel: pieces, the shared-row rule, the merge order, the one-thread fallback.

Threads train plain SGD only (the adaptive optimisers keep one thread), so these tests fit
with optimizer="sgd"."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf.parallel import (
    SharedRowRounds,
    resolve_n_jobs,
    spare_rows,
    threads_for,
    with_spare_rows,
)


def _block(rows: list[list[int]], p: int) -> sp.csr_array:
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int32)
    indices = np.asarray([c for r in rows for c in r], dtype=np.int32)
    data = np.ones(indices.size, dtype=np.float32)
    return sp.csr_array((data, indices, indptr), shape=(len(rows), p))


def _counting_rows(log: list | None = None):
    """A stand-in for the SGD steps: every row used by a document gets +1 per use, B gets +1
    per document; the loss sum counts documents, the weight sum non-zeros."""

    def train_rows(a, b, indptr, indices, lo, W, B):
        if log is not None:
            log.append((a, b, indices.copy()))
        np.add.at(W, indices, 1.0)
        B += b - a
        return float(b - a), float(indptr[-1])

    return train_rows


def test_pieces_respect_both_limits_and_cover_every_row():
    X = _block([[0]] * 5 + [[0, 1, 2, 3, 4, 5, 6, 7]] + [[1, 2]] * 4, 10)
    rounds = SharedRowRounds(10, 2, round_docs=3, round_nnz=4)
    pieces = rounds.pieces(X.indptr)
    assert pieces[0][0] == 0 and pieces[-1][1] == X.shape[0]
    assert all(b == a2 for (_, b), (a2, _) in zip(pieces, pieces[1:], strict=False))
    for a, b in pieces:
        assert 1 <= b - a <= 3
        assert b - a == 1 or X.indptr[b] - X.indptr[a] <= 4
    assert (5, 6) in pieces  # the long document alone


def test_shared_rows_are_summed_and_exclusive_rows_updated_in_place():
    # round 1: piece 0 = docs 0-1 (rows 0,1,2), piece 1 = docs 2-3 (rows 2,3): row 2 shared
    X = _block([[0, 1], [2], [2, 3], [3]], 6)
    p, K = 6, 2
    rounds = SharedRowRounds(p, K, round_docs=2, round_nnz=100)
    W = np.zeros((p + spare_rows(p, K, 100), 3), np.float32)
    B = np.zeros((2, 3), np.float32)
    log: list = []
    ls, ws = rounds.run(W, B, X, _counting_rows(log))
    # every use counted once, whether the row was private (shared) or not
    np.testing.assert_array_equal(W[:p, 0], [1, 1, 2, 2, 0, 0])
    np.testing.assert_array_equal(B, np.full((2, 3), 4.0))
    assert (ls, ws) == (4.0, 6.0)
    # the shared row 2 was redirected to a spare row in both threads, no other row was
    by_piece = {a: idx for a, _, idx in log}
    assert by_piece[0][:2].tolist() == [0, 1] and by_piece[0][2] >= p
    assert by_piece[2][0] >= p and by_piece[2][1] == 3
    assert by_piece[0][2] != by_piece[2][0]


def test_each_thread_starts_the_round_from_the_merged_parameters():
    seen: list = []

    def train_rows(a, b, indptr, indices, lo, W, B):
        seen.append((a, W[indices, 0].copy(), float(B[0, 0])))
        W[indices] += 1.0
        B += 1.0
        return 0.0, 0.0

    X = _block([[0], [0], [0], [0]], 2)  # row 0 shared by both pieces of both rounds
    rounds = SharedRowRounds(2, 2, round_docs=1, round_nnz=100)
    W = np.zeros((2 + spare_rows(2, 2, 100), 1), np.float32)
    B = np.zeros((1, 1), np.float32)
    rounds.run(W, B, X, train_rows)
    first = {a: (w0.tolist(), b0) for a, w0, b0 in seen}
    assert first[0] == ([0.0], 0.0) and first[1] == ([0.0], 0.0)  # round 1: both from 0
    assert first[2] == ([2.0], 2.0) and first[3] == ([2.0], 2.0)  # round 2: both merged
    assert W[0, 0] == 4.0 and B[0, 0] == 4.0


def test_a_piece_longer_than_the_spare_rows_trains_its_round_in_order_on_one_thread():
    X = _block([[0, 1, 2, 3, 4, 5], [0, 1], [6]], 8)
    log: list = []
    rounds = SharedRowRounds(8, 2, round_docs=1, round_nnz=4)
    W = np.zeros((8 + spare_rows(8, 2, 4), 1), np.float32)
    B = np.zeros((1, 1), np.float32)
    rounds.run(W, B, X, _counting_rows(log))
    assert [a for a, _, _ in log] == [0, 1, 2]
    assert all(int(idx.max()) < 8 for _, _, idx in log[:2])  # no redirection in that round
    np.testing.assert_array_equal(W[:8, 0], [2, 2, 1, 1, 1, 1, 1, 0])


def test_same_input_same_result_bit_for_bit():
    rng = np.random.default_rng(0)
    X = sp.random_array((300, 50), density=0.2, format="csr", rng=rng, dtype=np.float32)
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)

    def train_rows(a, b, indptr, indices, lo, W, B):  # order-sensitive float updates
        for i in range(b - a):
            cols = indices[indptr[i] : indptr[i + 1]]
            W[cols] = W[cols] * np.float32(0.9) + np.float32(0.37) * (a + i)
            B *= np.float32(1.01)
        return 0.0, 0.0

    results = []
    for _ in range(3):
        rounds = SharedRowRounds(50, 3, round_docs=7, round_nnz=40)
        W = np.ones((50 + spare_rows(50, 3, 40), 4), np.float32)
        B = np.ones((2, 4), np.float32)
        rounds.run(W, B, X, train_rows)
        results.append((W[:50].tobytes(), B.tobytes()))
    assert results[0] == results[1] == results[2]


def test_resolve_n_jobs():
    cores = os.cpu_count() or 1
    assert resolve_n_jobs(None) == cores
    assert resolve_n_jobs(-1) == cores
    assert resolve_n_jobs(1) == 1 and resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-cores - 5) == 1


def test_with_spare_rows_reuses_the_head_of_a_larger_array_and_copies_otherwise():
    big = np.zeros((10, 4), np.float32)  # owns its memory, as initial_parameters' array
    head = big[:6]
    assert with_spare_rows(head, 4).base is big
    assert np.shares_memory(with_spare_rows(head, 4), head)
    plain = np.arange(24, dtype=np.float32).reshape(6, 4)
    grown = with_spare_rows(plain, 3)
    assert grown.shape == (9, 4) and not np.shares_memory(grown, plain)
    np.testing.assert_array_equal(grown[:6], plain)
    assert with_spare_rows(plain, 0) is plain


def test_rounds_need_two_threads_and_their_spare_rows():
    with pytest.raises(ValueError, match="2 threads"):
        SharedRowRounds(5, 1)
    rounds = SharedRowRounds(5, 2)
    with pytest.raises(ValueError, match="spare rows"):
        rounds.run(
            np.zeros((5, 1), np.float32), np.zeros((1, 1)), _block([[0]], 5), _counting_rows()
        )


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


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_same_seed_and_n_jobs_give_identical_model_files(topical, tmp_path, n_jobs):
    from bowclf import TextClassifier
    from bowclf.persist import save

    Xtr, ytr, _, _ = topical
    files = []
    for run in range(2):
        model = TextClassifier(optimizer="sgd", random_state=5, n_jobs=n_jobs).fit(Xtr, ytr)
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


def test_two_threads_train_a_different_model_within_noise_of_one(topical):
    from bowclf import TextClassifier

    Xtr, ytr, Xte, yte = topical
    one = TextClassifier(optimizer="sgd", random_state=0, n_jobs=1).fit(Xtr, ytr)
    two = TextClassifier(optimizer="sgd", random_state=0, n_jobs=2).fit(Xtr, ytr)
    assert not np.array_equal(one.classifier_.A_, two.classifier_.A_)  # the threads ran
    assert two.classifier_.n_jobs == 2
    assert abs(one.score(Xte, yte) - two.score(Xte, yte)) <= 0.02


def test_out_of_core_training_uses_the_threads_deterministically(topical, tmp_path):
    from conftest import write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    Xtr, ytr, Xte, yte = topical
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    runs = [
        fit_stream(TextClassifier(optimizer="sgd", random_state=3, n_jobs=j), path, block_docs=700)
        for j in (2, 2, 1)
    ]
    assert runs[0].predict_proba(Xte).tobytes() == runs[1].predict_proba(Xte).tobytes()
    assert runs[0].predict_proba(Xte).tobytes() != runs[2].predict_proba(Xte).tobytes()
    assert abs(runs[0].score(Xte, yte) - runs[2].score(Xte, yte)) <= 0.02


def test_a_loaded_model_continues_on_two_threads(topical, tmp_path):
    from bowclf import BowClassifier, BowVectorizer
    from bowclf.persist import load, save

    Xtr, ytr, Xte, yte = topical
    vec = BowVectorizer(ngrams=2).fit(Xtr)
    X, Xt = vec.transform(Xtr), vec.transform(Xte)
    model = BowClassifier(optimizer="sgd", random_state=0, n_jobs=1).partial_fit(
        X, ytr, classes=sorted(set(ytr))
    )
    assert threads_for(2, (*X.shape, X.nnz)) == 2  # rows long and sparse enough for threads
    loaded = load(save(model.set_params(n_jobs=1), tmp_path / "m.bowclf"))
    twin = load(tmp_path / "m.bowclf")
    loaded.set_params(n_jobs=2).partial_fit(X, ytr)  # W gets its spare rows (a copy)
    twin.partial_fit(X, ytr)
    assert loaded.A_.shape == twin.A_.shape and np.isfinite(loaded.A_).all()
    assert not np.array_equal(loaded.A_, twin.A_)
    assert abs(loaded.score(Xt, yte) - twin.score(Xt, yte)) <= 0.03


def test_short_or_dense_rows_train_on_one_thread():
    from conftest import make_texts

    from bowclf import TextClassifier

    texts, labels = make_texts(600)  # ~20 non-zeros a row
    one = TextClassifier(optimizer="sgd", random_state=0, n_jobs=1).fit(texts, labels)
    two = TextClassifier(optimizer="sgd", random_state=0, n_jobs=2).fit(texts, labels)
    np.testing.assert_array_equal(one.classifier_.A_, two.classifier_.A_)
    assert threads_for(2, (1000, 100_000, 400_000)) == 2  # 400 a row, 0.4 %
    assert threads_for(2, (1000, 100_000, 20_000)) == 1  # short rows
    assert threads_for(2, (1000, 5_000, 400_000)) == 1  # 8 % of the features
    assert threads_for(2) == 2 and threads_for(1, (1000, 100_000, 400_000)) == 1


def test_n_jobs_zero_is_refused():
    from bowclf import BowClassifier

    with pytest.raises(ValueError, match="n_jobs=0"):
        BowClassifier(n_jobs=0).fit(sp.csr_array(np.eye(4)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="n_jobs=0"):
        threads_for(0)


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
