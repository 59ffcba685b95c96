"""Hierarchical softmax: the Huffman tree, the path loss and its gradients, exact
probabilities and the pruned top-k search (bowclf.hsoftmax)."""

from __future__ import annotations

import heapq
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import _math
from bowclf import hsoftmax as hs


def _random_tree(c: int, seed: int = 0) -> hs.HuffmanTree:
    counts = np.random.default_rng(seed).integers(1, 50, c)
    return hs.HuffmanTree.from_counts(counts)


def _targets(rows_labels, c, weights=None):
    indptr = np.zeros(len(rows_labels) + 1, dtype=np.int32)
    indptr[1:] = np.cumsum([len(r) for r in rows_labels])
    indices = np.concatenate([np.asarray(r, dtype=np.int32) for r in rows_labels])
    data = np.ones(indices.size, dtype=np.float32) if weights is None else weights
    return sp.csr_array((data, indices, indptr), shape=(len(rows_labels), c))


def _naive_log_proba(H, B, tree):
    """log P(k | h) by walking each label's path (independent of the top-down pass)."""
    c = tree.n_classes
    out = np.zeros((H.shape[0], c))
    for k in range(c):
        j = k
        while tree.parent[j] >= 0:
            v = tree.parent[j] - c
            sign = 1.0 if tree.code[j] else -1.0
            out[:, k] += _math.log_sigmoid(sign * (H @ B[v]).astype(np.float64))
            j = tree.parent[j]
    return out


# ---------------------------------------------------------------------- the tree
def _optimal_cost(counts):
    """Σ count·depth of an optimal prefix code (textbook Huffman with a heap)."""
    heap = [float(x) for x in counts]
    heapq.heapify(heap)
    cost = 0.0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


@pytest.mark.parametrize("seed", range(5))
def test_huffman_tree_is_optimal(seed):
    counts = np.random.default_rng(seed).integers(1, 1000, 57)
    tree = hs.HuffmanTree.from_counts(counts)
    depth = np.diff(tree.path_indptr)
    assert counts @ depth == pytest.approx(_optimal_cost(counts))


def test_huffman_tree_small_example_and_tie_breaking():
    # counts 4,3,2,1: merge 1+2 → n0(3); then leaf 3 is not < n0 3, so n0 then leaf 3 → n1(6);
    # then leaf 4 < 6 → n2 = (4, n1).  Node numbers: leaves 0..3, inner 4, 5, 6.
    parent, code = hs.huffman_tree([4, 3, 2, 1])
    assert parent.tolist() == [6, 5, 4, 4, 5, 6, -1]
    assert code.tolist() == [0, 1, 1, 0, 0, 1, 0]
    # equal counts: label order decides, identically on every call
    a = hs.huffman_tree([5, 5, 5, 5, 5])
    b = hs.huffman_tree(np.array([5, 5, 5, 5, 5], dtype=np.float32))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # unseen labels count as 1: a balanced tree, not a chain
    tree = hs.HuffmanTree.from_counts(np.zeros(1024))
    assert tree.depth == 10


def test_huffman_tree_frequent_labels_get_short_paths():
    counts = 1e6 / np.arange(1, 2001)
    tree = hs.HuffmanTree.from_counts(counts)
    depth = np.diff(tree.path_indptr)
    assert depth[0] <= 3 and depth[-1] > 10
    assert np.all(np.diff(depth) >= 0)  # counts decrease, depths never do


def test_huffman_tree_rejects_bad_counts():
    with pytest.raises(ValueError, match="at least 2"):
        hs.huffman_tree([3])
    with pytest.raises(ValueError, match="finite"):
        hs.huffman_tree([1, np.nan])


def test_tree_paths_children_and_levels_agree():
    tree = _random_tree(31)
    c = tree.n_classes
    for k in range(c):
        nodes = tree.path_nodes[tree.path_indptr[k] : tree.path_indptr[k + 1]]
        codes = tree.path_codes[tree.path_indptr[k] : tree.path_indptr[k + 1]]
        j = k
        for v, b in zip(nodes, codes, strict=True):
            assert tree.children[v, int(b)] == j
            j = c + v
        assert j == 2 * c - 2
    assert tree.levels[0].tolist() == [c - 2]
    assert sorted(np.concatenate(tree.levels).tolist()) == list(range(c - 1))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p, b: (p[:-1], b[:-1]), "odd length"),
        (lambda p, b: (p.astype(float), b), "integers"),
        (lambda p, b: (p, b * 2), "0 or 1"),
        (lambda p, b: (np.where(np.arange(p.size) == 0, 0, p), b), "numbered above"),
        (lambda p, b: (np.where(np.arange(p.size) == p.size - 1, 3, p), b), "numbered above"),
        (lambda p, b: (p, np.ones_like(b)), "one left and one right"),
    ],
)
def test_tree_validation_rejects_malformed_arrays(mutate, message):
    parent, code = hs.huffman_tree([5, 4, 3, 2, 1])
    with pytest.raises(ValueError, match=message):
        hs.HuffmanTree(*mutate(parent.copy(), code.copy()))


def _chain(c):
    """A valid tree shaped as a chain: every inner node has a leaf and an inner child."""
    parent = np.full(2 * c - 1, -1, dtype=np.int64)
    code = np.zeros(2 * c - 1, dtype=np.uint8)
    parent[0], parent[1], code[1] = c, c, 1
    for i in range(1, c - 1):
        parent[i + 1], parent[c + i - 1], code[c + i - 1] = c + i, c + i, 1
    return parent, code


def test_tree_validation_bounds_the_depth():
    with pytest.raises(ValueError, match="deeper"):
        hs.HuffmanTree(*_chain(hs.MAX_DEPTH + 3))
    assert hs.HuffmanTree(*_chain(20)).depth == 19  # a shorter chain is accepted


# ---------------------------------------------------------------------- loss and gradients
def _batch(seed=0, n=6, d=5, c=13, dtype=np.float64):
    rng = np.random.default_rng(seed)
    tree = _random_tree(c, seed)
    H = rng.normal(size=(n, d)).astype(dtype)
    B = rng.normal(size=(c - 1, d)).astype(dtype)
    rows = [rng.choice(c, size=rng.integers(1, 4), replace=False) for _ in range(n)]
    rows[2] = np.array([], dtype=np.int64)  # a document without labels contributes nothing
    Y = _targets(rows, c, rng.random(sum(len(r) for r in rows)).astype(np.float32))
    w = rng.random(n).astype(np.float32) + 0.5
    return tree, H, B, Y, w


def _total_loss(H, B, tree, Y, w):
    indptr, nodes, codes, weights = hs.path_pairs(tree, Y.indptr, Y.indices, Y.data, w)
    return hs.path_loss(hs.path_scores(H, B, indptr, nodes), codes, weights)


def test_path_pairs_match_the_labels_paths():
    tree, H, B, Y, w = _batch()
    indptr, nodes, codes, weights = hs.path_pairs(tree, Y.indptr, Y.indices, Y.data, w)
    for i in range(Y.shape[0]):
        want = []
        for k, y in zip(
            Y.indices[Y.indptr[i] : Y.indptr[i + 1]],
            Y.data[Y.indptr[i] : Y.indptr[i + 1]],
            strict=True,
        ):
            a, b = tree.path_indptr[k], tree.path_indptr[k + 1]
            want += [
                (v, cd, w[i] * y)
                for v, cd in zip(tree.path_nodes[a:b], tree.path_codes[a:b], strict=True)
            ]
        got = list(
            zip(
                nodes[indptr[i] : indptr[i + 1]],
                codes[indptr[i] : indptr[i + 1]],
                weights[indptr[i] : indptr[i + 1]],
                strict=True,
            )
        )
        assert [(int(v), float(c)) for v, c, _ in got] == [(int(v), float(c)) for v, c, _ in want]
        np.testing.assert_allclose([x[2] for x in got], [x[2] for x in want], rtol=1e-6)


def test_path_loss_is_the_weighted_negative_log_likelihood():
    tree, H, B, Y, w = _batch()
    L = _naive_log_proba(H, B, tree)
    want = -sum(
        w[i] * y * L[i, k]
        for i in range(Y.shape[0])
        for k, y in zip(
            Y.indices[Y.indptr[i] : Y.indptr[i + 1]],
            Y.data[Y.indptr[i] : Y.indptr[i + 1]],
            strict=True,
        )
    )
    assert _total_loss(H, B, tree, Y, w) == pytest.approx(want, rel=1e-9)


def test_score_gradient_by_finite_differences():
    tree, H, B, Y, w = _batch(1)
    indptr, nodes, codes, weights = hs.path_pairs(tree, Y.indptr, Y.indices, Y.data, w)
    z = hs.path_scores(H, B, indptr, nodes)
    g = hs.path_score_gradient(z, codes, weights)
    eps = 1e-6
    for m in range(z.size):
        dz = np.zeros_like(z)
        dz[m] = eps
        fd = (hs.path_loss(z + dz, codes, weights) - hs.path_loss(z - dz, codes, weights)) / (
            2 * eps
        )
        assert g[m] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_path_loss_and_gradient_agree_with_the_separate_functions():
    rng = np.random.default_rng(9)
    z = (rng.normal(size=200) * 10).astype(np.float32)
    codes = rng.integers(0, 2, 200).astype(np.float32)
    weights = rng.random(200).astype(np.float32)
    loss, g = hs.path_loss_and_gradient(z, codes, weights)
    assert loss == pytest.approx(hs.path_loss(z, codes, weights), rel=1e-5)
    np.testing.assert_allclose(g, hs.path_score_gradient(z, codes, weights), atol=1e-6)
    assert g.dtype == np.float32


def test_gradients_for_B_and_H_by_finite_differences():
    tree, H, B, Y, w = _batch(2)
    indptr, nodes, codes, weights = hs.path_pairs(tree, Y.indptr, Y.indices, Y.data, w)
    g = hs.path_score_gradient(hs.path_scores(H, B, indptr, nodes), codes, weights)
    rows, D = hs.path_gradient_B(g, H, indptr, nodes)
    dense_B = np.zeros_like(B)
    dense_B[rows] = D
    assert set(rows.tolist()) == set(nodes.tolist())  # only rows on the paths
    GH = hs.path_gradient_H(g, B, indptr, nodes)
    for P, grad, name in ((B, dense_B, "B"), (H, GH, "H")):
        fd = _finite_differences(P, lambda: _total_loss(H, B, tree, Y, w))
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7, err_msg=name)


def _finite_differences(P: np.ndarray, loss) -> np.ndarray:
    """Central differences of ``loss()`` in every entry of ``P`` (changed in place, then
    restored)."""
    eps, fd = 1e-6, np.zeros_like(P)
    for idx in np.ndindex(*P.shape):
        old = P[idx]
        P[idx] = old + eps
        up = loss()
        P[idx] = old - eps
        fd[idx] = (up - loss()) / (2 * eps)
        P[idx] = old
    return fd


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_the_training_step_is_the_dense_chain_rule_and_its_loss_has_those_gradients(optimizer):
    """What training runs for ``loss='hs'`` — :func:`bowclf.training.sgd_step` with the loss's
    ``batch_targets``/``batch_gradients`` and the optimiser's update on the paths' rows of
    ``B`` only — against the dense chain rule; its gradients against finite differences of the
    path loss (multi-label rows with label weights, a zero example weight)."""
    from bowclf.losses import HierarchicalSoftmax
    from bowclf.optim import ADAGRAD_RATE, get_optimizer
    from bowclf.training import Batch, sgd_step

    rng = np.random.default_rng(4)
    n, p, d, c = 5, 9, 4, 11
    tree = _random_tree(c, seed=4)
    Y = _targets([[0], [3, 7], [10], [2], [5, 6, 1]], c)
    Y.data[1:3] = [0.25, 0.75]  # one document's two labels, weighted
    w = np.array([1.0, 2.0, 0.0, 0.5, 1.0])
    indptr = np.array([0, 2, 4, 5, 8, 9], dtype=np.int32)
    indices = np.array([0, 3, 1, 8, 4, 2, 6, 7, 2], dtype=np.int32)  # canonical, as training's
    data = rng.uniform(0.1, 1.0, indices.size)
    X = sp.csr_array((data, indices, indptr), shape=(n, p))
    W = rng.normal(size=(p, d))
    B = rng.normal(size=(c - 1, d))
    loss = HierarchicalSoftmax(tree)
    batch = Batch(0, n, indptr, indices, data, Y.indptr, Y.indices, Y.data, w)
    H = np.asarray(X @ W)
    grads = loss.batch_gradients(H, B, loss.batch_targets(batch, B), w)
    assert grads.loss == pytest.approx(_total_loss(H, B, tree, Y, w), rel=1e-12)
    for P, name in ((B, "B"), (H, "H")):
        fd = _finite_differences(P, lambda: _total_loss(H, B, tree, Y, w))
        got = grads.hidden if name == "H" else np.zeros_like(B)
        if name == "B":
            got[grads.B_rows] = grads.B  # the paths' rows only
            assert set(grads.B_rows.tolist()) == set(np.flatnonzero(fd.any(axis=1)).tolist())
        np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7, err_msg=name)
    dB = np.zeros_like(B)
    dB[grads.B_rows] = grads.B
    GB = grads.hidden.copy()  # the step consumes grads.hidden
    dW = np.asarray(X.T @ GB)  # ∂L/∂Aᵀ = X̃ᵀ·(G·B)
    lr, W1, B1 = 0.3, W.copy(), B.copy()
    if optimizer == "sgd":
        want_W, want_B = W - lr * dW, B - lr * dB
    else:  # AdaGrad's first step (bowclf.optim.AdaGrad), written out densely
        rate, paths = lr * ADAGRAD_RATE, grads.B_rows
        a = np.asarray((X.power(2)).T @ (GB**2).sum(axis=1)) / d  # a_j = Σᵢ x̃ᵢⱼ²‖(G·B)ᵢ‖²/d
        b = (dB**2).sum(axis=1) / d
        want_W = W - rate * dW / (np.sqrt(a) + 1e-8)[:, None]
        want_B = B.copy()
        want_B[paths] -= rate * dB[paths] / (np.sqrt(b[paths]) + 1e-8)[:, None]
    opt = get_optimizer(optimizer)
    opt.start(W1, B1)
    total = sgd_step(batch, W1, B1, lr, loss, opt)
    assert total == pytest.approx(grads.loss, rel=1e-12)
    np.testing.assert_allclose(B1, want_B, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(W1, want_W, rtol=1e-9, atol=1e-12)


def test_the_training_step_lowers_the_loss_in_float32():
    from bowclf.losses import HierarchicalSoftmax
    from bowclf.optim import get_optimizer
    from bowclf.training import Batch, sgd_step

    rng = np.random.default_rng(5)
    c, p, d = 40, 30, 8
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 20, c))
    X = _math.scale_rows(
        sp.random_array((20, p), density=0.3, rng=rng, format="csr"), np.ones(20), np.float32
    )
    X = sp.csr_array((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape)
    Y = _targets([[i % c] for i in range(20)], c)
    w = np.ones(20, dtype=np.float32)
    W = rng.normal(scale=0.1, size=(p, d)).astype(np.float32)
    B = np.zeros((c - 1, d), dtype=np.float32)
    batch = Batch(0, 20, X.indptr, X.indices, X.data, Y.indptr, Y.indices, Y.data, w)
    loss, sgd = HierarchicalSoftmax(tree), get_optimizer("sgd")
    losses = [sgd_step(batch, W, B, 0.05, loss, sgd) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert W.dtype == B.dtype == np.float32


# ---------------------------------------------------------------------- prediction
@pytest.mark.parametrize("c", [2, 3, 17, 64])
def test_log_proba_is_exact_and_rows_sum_to_one(c):
    rng = np.random.default_rng(c)
    tree = _random_tree(c, c)
    H, B = rng.normal(size=(7, 6)), rng.normal(size=(c - 1, 6))
    L = hs.log_proba(H, B, tree)
    np.testing.assert_allclose(L, _naive_log_proba(H, B, tree), atol=1e-10)
    np.testing.assert_allclose(np.exp(L).sum(axis=1), 1.0, rtol=1e-12)


def _reference_top_k(L, k, threshold=0.0):
    n, c = L.shape
    labels = np.full((n, k), -1)
    lp = np.full((n, k), -np.inf)
    for i in range(n):
        order = sorted(range(c), key=lambda j: (-L[i, j], j))[:k]
        order = [j for j in order if L[i, j] >= np.log(threshold)] if threshold > 0 else order
        labels[i, : len(order)] = order
        lp[i, : len(order)] = L[i, order]
    return labels, lp


@pytest.mark.parametrize("beam", [4, 1, 2, 64])
@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_top_k_is_exact_even_with_a_narrow_beam(k, beam):
    rng = np.random.default_rng(k)
    c, d = 37, 6
    tree = _random_tree(c, k)
    H = rng.normal(size=(50, d)).astype(np.float32)
    B = (rng.normal(size=(c - 1, d)) * 2).astype(np.float32)
    labels, lp = hs.top_k(H, B, tree, k, beam=beam)
    L = hs.log_proba(H, B, tree)
    want, want_lp = _reference_top_k(L, k)
    np.testing.assert_allclose(lp, want_lp, atol=1e-5)
    # labels agree wherever the probabilities are not numerically tied
    gap = np.abs(np.diff(np.sort(L, axis=1), axis=1)).min(axis=1) > 1e-4
    assert np.array_equal(labels[gap], want[gap])
    assert np.all(labels[:, c:] == -1) if k > c else True


@pytest.mark.parametrize("threshold", [0.01, 0.1, 0.3])
def test_top_k_threshold_prunes_like_fasttext(threshold):
    rng = np.random.default_rng(7)
    c = 25
    tree = _random_tree(c, 7)
    H = rng.normal(size=(40, 5)).astype(np.float32)
    B = (rng.normal(size=(c - 1, 5)) * 3).astype(np.float32)
    labels, lp = hs.top_k(H, B, tree, 5, threshold)
    want, want_lp = _reference_top_k(hs.log_proba(H, B, tree), 5, threshold)
    assert np.array_equal(labels == -1, want == -1)
    np.testing.assert_allclose(lp, want_lp, atol=1e-5)
    assert np.all(np.exp(lp[labels >= 0]) >= threshold - 1e-6)


def test_top_k_never_builds_a_documents_by_labels_array():
    rng = np.random.default_rng(8)
    c, n, d = 20_000, 2_000, 16
    tree = hs.HuffmanTree.from_counts(1e5 / np.arange(1, c + 1))
    H = rng.normal(size=(n, d)).astype(np.float32)
    B = rng.normal(scale=0.5, size=(c - 1, d)).astype(np.float32)
    tracemalloc.start()
    labels, lp = hs.top_k(H, B, tree, 5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < n * c  # an n×c float64 matrix would take 8·n·c bytes
    L = hs.log_proba(H[:20], B, tree)
    np.testing.assert_allclose(lp[:20], np.sort(L, axis=1)[:, ::-1][:, :5], atol=1e-4)


def test_log_proba_works_in_row_blocks_with_bounded_temporaries(monkeypatch):
    rng = np.random.default_rng(11)
    c, n = 3_000, 200
    tree = hs.HuffmanTree.from_counts(1e4 / np.arange(1, c + 1))
    H, B = rng.normal(size=(n, 8)), rng.normal(size=(c - 1, 8))
    whole = hs.log_proba(H, B, tree)
    monkeypatch.setattr(hs, "LOG_PROBA_CELLS", 3 * c * 7)  # blocks of 7 rows
    tracemalloc.start()
    blocks = hs.log_proba(H, B, tree)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(blocks, whole, rtol=1e-12, atol=1e-12)
    assert peak < n * c * 8 + 40 * 7 * c * 8  # the result plus a few blocks' temporaries


def test_top_k_gathers_the_top_rows_once_per_call_with_the_same_bits(monkeypatch):
    """``B[top]`` is gathered once per call (not per chunk of documents), and the labels and
    log-probabilities are bit for bit those of a scorer gathering them for every chunk."""
    rng = np.random.default_rng(4)
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 100, 3000))
    B = (0.3 * rng.standard_normal((2999, 16))).astype(np.float32)
    H = rng.standard_normal((700, 16)).astype(np.float32)
    monkeypatch.setattr(hs, "TOP_NODES", 64)
    real = hs._Scorer
    seen = []

    class Spy(real):
        def __init__(self, H, B, B_top, column):
            seen.append(B_top)
            super().__init__(H, B, B_top, column)

    class PerChunk(real):  # the former scorer: B[top] gathered for every chunk
        def __init__(self, H, B, B_top, column):
            top = np.flatnonzero(column >= 0)[np.argsort(column[column >= 0])]
            super().__init__(H, B, B[top].astype(np.float64), column)

    monkeypatch.setattr(hs, "_Scorer", Spy)
    got = hs.top_k(H, B, tree, 3)
    assert len(seen) > 1 and all(b is seen[0] for b in seen)  # several chunks, one gather
    top, _ = hs._top_nodes(tree)
    assert np.array_equal(seen[0], B[top])
    monkeypatch.setattr(hs, "_Scorer", PerChunk)
    want = hs.top_k(H, B, tree, 3)
    assert np.array_equal(got[0], want[0]) and got[1].tobytes() == want[1].tobytes()


def test_top_k_breaks_exact_ties_by_the_smaller_label_for_every_k():
    """Labels of equal probability come smaller first whatever k is (a cut by an inexact key
    kept label 3 for k = 1 but put label 1 first for k = 2)."""
    tree = hs.HuffmanTree.from_counts(np.array([176, 275, 137, 237, 375]))
    H = np.ones((2, 16), np.float32)
    B = np.zeros((4, 16), np.float32)  # every inner node halves: ties by depth
    L = hs.log_proba(H, B, tree)
    want = np.lexsort((np.arange(5), -L[0]))  # by probability, then by label
    for k in range(1, 6):
        labels, lp = hs.top_k(H, B, tree, k)
        assert labels[0].tolist() == want[:k].tolist() == labels[1].tolist(), k
        np.testing.assert_array_equal(lp[0], L[0, want[:k]])


def test_top_k_scores_as_log_proba_does_so_near_ties_agree():
    """The search scores nodes in float64 like log_proba: its labels are log_proba's order
    even a hair apart, and its log-probabilities are log_proba's to the last bits (they
    differed by ~4e-7 when the scores were float32; predict and predict_proba().argmax
    disagreed on documents near a tie)."""
    rng = np.random.default_rng(3)
    c, d = 300, 12
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 1000, c).astype(float))
    B = (rng.normal(size=(c - 1, d)) * 0.5).astype(np.float32)
    H = (rng.normal(size=(400, d)) * 0.5).astype(np.float32)
    # near the root's decision boundary: the root's score about 1e-7 of the others
    root = B[c - 2].astype(np.float64)
    H -= (np.outer(H.astype(np.float64) @ root, root) / (root @ root)).astype(np.float32)
    labels, lp = hs.top_k(H, B, tree, 3)
    L = hs.log_proba(H, B, tree)
    np.testing.assert_allclose(lp, np.take_along_axis(L, labels, 1), rtol=1e-12, atol=1e-12)
    assert np.array_equal(labels[:, 0], L.argmax(axis=1))
