"""bowclf.parallel: pieces, the shared-row rule, the merge order, the one-thread fallback."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import parallel
from bowclf.parallel import SharedRowRounds, resolve_n_jobs, spare_rows, with_spare_rows


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
    with SharedRowRounds(p, K, round_docs=2, round_nnz=100) as rounds:
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
    with SharedRowRounds(2, 2, round_docs=1, round_nnz=100) as rounds:
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
    with SharedRowRounds(8, 2, round_docs=1, round_nnz=4) as rounds:
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
        with SharedRowRounds(50, 3, round_docs=7, round_nnz=40) as rounds:
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


def test_rounds_need_two_threads_and_the_context_manager():
    with pytest.raises(ValueError, match="2 threads"):
        SharedRowRounds(5, 1)
    rounds = SharedRowRounds(5, 2)
    with pytest.raises(RuntimeError, match="context manager"):
        rounds.run(
            np.zeros((5 + spare_rows(5, 2), 1), np.float32),
            np.zeros((1, 1)),
            _block([[0]], 5),
            _counting_rows(),
        )
    assert parallel.ROUND_DOCS >= 1
