"""Hierarchical softmax over a Huffman tree of the labels (fastText's ``-loss hs``).

The c labels are the leaves of a binary tree with c − 1 inner nodes; inner node ``v`` has a
row ``B_v`` of the output matrix (B is (c−1)×d) and sends a document with hidden vector ``h``
to its right child with probability ``σ(z_v)``, ``z_v = B_v·h``, and to its left child with
probability ``σ(−z_v)``.  The probability of a label is the product along its path from the
root::

    P(k | h) = Π_{v ∈ path(k)} σ(s_kv · z_v),      s_kv = 2·b_kv − 1 ∈ {−1, +1}

where ``b_kv`` ∈ {0, 1} is the code of the branch the path takes at ``v`` (1 = right).  Since
``σ(z) + σ(−z) = 1`` at every node, the c probabilities sum to 1.  Training a document costs
O(d·depth) instead of O(d·c); the tree is Huffman's over the label frequencies, so frequent
labels have short paths.

Node numbering (shared by every function here): leaves are the class indices ``0 … c−1``, inner
node ``v`` (row ``v`` of B) is node ``c + v``; inner nodes are created bottom-up, so every
node's parent has a larger number and the root is ``2c − 2``.

Notation for a minibatch (as in :mod:`bowclf._math`): ``H`` n×d hidden vectors, ``Y`` n×c
targets as CSR, ``w`` sample weights.  A *path pair* ``m = (i, v, b, ω)`` says "document i
meets inner node v and should take branch b, with weight ω"; a batch expands every target
``(i, k, y_ik)`` into the pairs of k's path with ``ω = wᵢ·y_ik`` (:func:`path_pairs`).  Pairs
are kept grouped by document, as a CSR matrix ``G`` (n × (c−1)) whose row i lists the pairs of
document i.

Multi-label targets: fastText trains each example on *one* gold label drawn at random; here a
document trains on the paths of all its gold labels at once, each weighted by its target value
(``y`` row-normalised to sum to 1 by the softmax-style target preparation), which is the
expectation of fastText's draw and needs no random numbers.

Nothing here does I/O or keeps state besides :class:`HuffmanTree`, an immutable bundle of the
tree's arrays.
"""

from __future__ import annotations

import numpy as np

from . import _math

__all__ = [
    "MAX_DEPTH",
    "HuffmanTree",
    "huffman_tree",
    "log_proba",
    "path_gradient_B",
    "path_gradient_H",
    "path_loss",
    "path_loss_and_gradient",
    "path_pairs",
    "path_score_gradient",
    "path_scores",
    "top_k",
]

#: Deepest path accepted from a stored tree.  A Huffman tree over counts below 2⁶³ is at most
#: ~91 deep (its depth grows like the Fibonacci index of the total count), so deeper trees
#: only come from corrupt files, whose O(c·depth) path arrays could be huge.
MAX_DEPTH = 128
CHUNK = 1024  # most documents searched together (top_k)
LOG_PROBA_CELLS = 1 << 22  # float64 working cells of log_proba (32 MiB)
OPEN_NODES = 1 << 17  # open (document, node) pairs aimed at per chunk (top_k)
PAIRS = 1 << 15  # (document, node) pairs scored at a time (top_k): 2·PAIRS·d floats
#: Inner nodes nearest the root scored densely for a chunk (top_k): CHUNK·TOP_NODES floats.
#: Each document's row is its own vector–matrix product (see _Scorer), which costs more per
#: node than one matrix product did, so fewer nodes pay off than did with one product
#: (bench/RESULTS-hs.md, "Top nodes scored row by row").
TOP_NODES = 256
_KEY_SPAN = 4096.0  # −log-probabilities are clipped to this in _mth_best's sort key


# ---------------------------------------------------------------------- the tree
def huffman_tree(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Huffman tree over label counts: ``(parent, code)``, each of length 2c − 1.

    ``parent[j]`` is the parent node of node j (−1 for the root ``2c − 2``) and ``code[j]``
    whether j is its parent's right child (1) or left child (0).  Counts below 1 (labels never
    seen) count as 1.

    Construction, as fastText's ``buildTree``: the leaves are queued by decreasing count (ties:
    smaller class index first) and consumed from the rarest end; the inner nodes are created in
    order, so their counts never decrease and they form a second queue.  Each new inner node
    takes the two smallest heads of the two queues — a leaf only when strictly smaller than the
    next inner node — as its left then right child.  Deterministic for given counts; O(c) after
    the sort.
    """
    counts = np.asarray(counts, dtype=np.float64).ravel()
    c = counts.size
    if c < 2:
        raise ValueError(f"a Huffman tree needs at least 2 labels, got {c}")
    if not np.all(np.isfinite(counts)):
        raise ValueError("label counts must be finite")
    counts = np.maximum(counts, 1.0)
    order = np.argsort(-counts, kind="stable")  # order[q]: label at queue position q
    leaf_label = order.tolist()
    leaf_count = counts[order].tolist()
    inner_count = [0.0] * (c - 1)
    parent = [-1] * (2 * c - 1)
    code = [0] * (2 * c - 1)
    leaf, node = c - 1, 0  # next leaf (from the rare end), next unmerged inner node
    for i in range(c - 1):
        total = 0.0
        for side in (0, 1):
            if leaf >= 0 and (node >= i or leaf_count[leaf] < inner_count[node]):
                child, total = leaf_label[leaf], total + leaf_count[leaf]
                leaf -= 1
            else:
                child, total = c + node, total + inner_count[node]
                node += 1
            parent[child] = c + i
            code[child] = side
        inner_count[i] = total
    return np.asarray(parent, dtype=np.int64), np.asarray(code, dtype=np.uint8)


def _depths(parent: np.ndarray, c: int) -> np.ndarray:
    """Depth of every node (root 0), top-down in O(c): parents are numbered above children."""
    depth = np.zeros(2 * c - 1, dtype=np.int64)
    # Vectorised by blocks would need the levels; a reversed scan over ≤ 2·10⁶ ints is cheap
    # next to building the tree and keeps a malformed file from costing O(c·depth).
    par = parent.tolist()
    dep = [0] * (2 * c - 1)
    for j in range(2 * c - 3, -1, -1):
        dep[j] = dep[par[j]] + 1
    depth[:] = dep
    return depth


class HuffmanTree:
    """A validated label tree and the arrays the hierarchical-softmax functions need.

    Parameters
    ----------
    parent, code : array of shape (2c − 1,)
        As returned by :func:`huffman_tree` (or read from a model file).

    Attributes
    ----------
    n_classes : int
        c, the number of leaves.
    parent, code : ndarray
        The validated inputs (int64, uint8).
    children : ndarray of shape (c − 1, 2)
        Left and right child of every inner node (node numbers).
    path_indptr, path_nodes, path_codes : ndarray
        CSR paths: label k's path is ``path_nodes[path_indptr[k]:path_indptr[k+1]]`` (inner
        node indices 0…c−2, i.e. rows of B, from the leaf's parent up to the root) with the
        branch codes ``path_codes`` (float32 0/1) taken there.
    levels : list of ndarray
        Inner nodes (rows of B) by depth, root first: the order of a top-down pass.

    Raises
    ------
    ValueError
        If the arrays do not describe a binary tree with the numbering above (every inner node
        exactly one left and one right child, parents numbered above children, the root last)
        or the tree is deeper than :data:`MAX_DEPTH`.
    """

    def __init__(self, parent: np.ndarray, code: np.ndarray) -> None:
        parent = np.asarray(parent)
        code = np.asarray(code)
        if parent.ndim != 1 or code.shape != parent.shape or parent.size % 2 != 1:
            raise ValueError("tree arrays must be two vectors of the same odd length 2c − 1")
        if parent.size < 3:
            raise ValueError("a label tree needs at least 2 labels")
        if not (np.issubdtype(parent.dtype, np.integer) and np.issubdtype(code.dtype, np.integer)):
            raise ValueError("tree arrays must be integers")
        c = (parent.size + 1) // 2
        parent = parent.astype(np.int64)
        code = code.astype(np.uint8) if code.min() >= 0 and code.max() <= 1 else None
        if code is None:
            raise ValueError("tree branch codes must be 0 or 1")
        j = np.arange(2 * c - 2)
        if parent[-1] != -1 or np.any(parent[:-1] <= j) or np.any(parent[:-1] < c):
            raise ValueError("tree parents must be inner nodes numbered above their children")
        if np.any(parent[:-1] > 2 * c - 2):
            raise ValueError("tree parent out of range")
        rights = np.bincount(parent[:-1] - c, weights=code[:-1], minlength=c - 1)
        kids = np.bincount(parent[:-1] - c, minlength=c - 1)
        if np.any(kids != 2) or np.any(rights != 1):
            raise ValueError("every inner node of the tree needs one left and one right child")
        depth = _depths(parent, c)
        if depth.max() > MAX_DEPTH:
            raise ValueError(f"tree deeper than {MAX_DEPTH} levels")
        self.n_classes = c
        self.parent, self.code = parent, code
        self.children = np.empty((c - 1, 2), dtype=np.int64)
        self.children[parent[:-1] - c, code[:-1]] = j
        self._build_paths(depth[:c])
        inner_depth = depth[c:]
        by_depth = np.argsort(inner_depth, kind="stable")
        bounds = np.searchsorted(inner_depth[by_depth], np.arange(inner_depth.max() + 2))
        self.levels = [by_depth[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> HuffmanTree:
        """The Huffman tree of :func:`huffman_tree` over ``counts``."""
        return cls(*huffman_tree(counts))

    @property
    def depth(self) -> int:
        """Length of the longest path."""
        return len(self.levels)

    def _build_paths(self, leaf_depth: np.ndarray) -> None:
        c = self.n_classes
        idx = np.int32 if leaf_depth.sum() < np.iinfo(np.int32).max else np.int64
        indptr = np.zeros(c + 1, dtype=idx)
        np.cumsum(leaf_depth, out=indptr[1:])
        nodes = np.empty(int(indptr[-1]), dtype=idx)
        codes = np.empty(int(indptr[-1]), dtype=np.float32)
        cur = np.arange(c)
        for step in range(int(leaf_depth.max())):
            live = leaf_depth > step
            at = indptr[:-1][live] + step
            nodes[at] = self.parent[cur[live]] - c
            codes[at] = self.code[cur[live]]
            cur[live] = self.parent[cur[live]]
        self.path_indptr, self.path_nodes, self.path_codes = indptr, nodes, codes
        self.path_length = np.diff(indptr)


# ---------------------------------------------------------------------- training math
def path_pairs(
    tree: HuffmanTree,
    y_indptr: np.ndarray,
    y_indices: np.ndarray,
    y_data: np.ndarray,
    sample_weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expand a batch's CSR targets into path pairs: ``(indptr, nodes, codes, weights)``.

    Target ``(i, k, y_ik)`` contributes one pair per inner node v on k's path, with code
    ``b_kv`` and weight ``ω = wᵢ·y_ik``; the pairs of document i are
    ``indptr[i]:indptr[i+1]``, so ``(weights, nodes, indptr)`` is the CSR matrix ``G``
    (n × (c−1)) once the weights are replaced by gradients.
    """
    labels = np.asarray(y_indices)
    start = tree.path_indptr[labels]
    length = tree.path_length[labels]
    idx = tree.path_indptr.dtype
    ends = np.zeros(labels.size + 1, dtype=idx)
    np.cumsum(length, out=ends[1:])
    indptr = ends[np.asarray(y_indptr)]
    # pair j of target e sits at path_indptr[label_e] + (j − ends[e])
    at = np.repeat(start - ends[:-1], length)
    at += np.arange(at.size, dtype=at.dtype)
    target_w = np.asarray(y_data, dtype=np.float32) * np.repeat(
        np.asarray(sample_weight, dtype=np.float32), np.diff(y_indptr)
    )
    return indptr, tree.path_nodes[at], tree.path_codes[at], np.repeat(target_w, length)


def path_scores(H: np.ndarray, B: np.ndarray, indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Scores of the path pairs: ``z_m = H_{i(m)}·B_{v(m)}`` (length m, dtype of ``H``)."""
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    return np.einsum("md,md->m", H[rows], B[nodes])


def path_loss(z: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> float:
    """Summed weighted path loss ``L = Σ_m ω_m · ℓ(z_m, b_m)`` with
    ``ℓ(z, b) = −b·log σ(z) − (1 − b)·log σ(−z) = −log σ((2b − 1)·z)``.

    For one document and one label this is ``−log P(k | h)``; summed over the pairs of a batch
    it is ``Σᵢ wᵢ Σ_k y_ik (−log P(k | hᵢ))``.
    """
    signed = (2.0 * codes.astype(np.float64) - 1.0) * z
    return float(-(weights.astype(np.float64) @ _math.log_sigmoid(signed)))


def path_score_gradient(z: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``g_m = ∂L/∂z_m = ω_m (σ(z_m) − b_m)`` (the binary-logistic gradient at each pair)."""
    return (weights * (_math.sigmoid(z) - codes)).astype(z.dtype, copy=False)


def path_loss_and_gradient(
    z: np.ndarray, codes: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """:func:`path_loss` and :func:`path_score_gradient` from one ``log σ``.

    With ``s = 2b − 1`` and ``t = s·z``: ``ℓ = −log σ(t)`` and
    ``σ(z) − b = −s·σ(−t) = −s·(1 − exp(log σ(t)))``, so
    ``L = −Σ_m ω_m log σ(t_m)`` and ``g_m = −ω_m s_m (1 − exp(log σ(t_m)))``.
    """
    s = 2 * codes - 1
    log_p = _math.log_sigmoid(s * z)
    loss = -float(weights @ log_p)
    g = np.expm1(log_p)
    g *= weights
    g *= s
    return loss, g.astype(z.dtype, copy=False)


def path_gradient_H(
    g: np.ndarray, B: np.ndarray, indptr: np.ndarray, nodes: np.ndarray
) -> np.ndarray:
    """``∂L/∂H = G·B``: row i is ``Σ_{m ∈ i} g_m B_{v(m)}`` (n×d).

    The gradient for ``A`` follows by the chain rule, ``∂L/∂A = (G·B)ᵀ·X̃``.
    """
    out = np.zeros((indptr.size - 1, B.shape[1]), dtype=B.dtype)
    return _math.sparse_hidden_into(indptr, nodes, g.astype(B.dtype, copy=False), B, out)


def path_gradient_B(
    g: np.ndarray, H: np.ndarray, indptr: np.ndarray, nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero part of ``∂L/∂B = Gᵀ·H``: ``(rows, D)`` with ``∂L/∂B[rows] = D``.

    ``rows`` are the sorted distinct inner nodes met by the batch (every other row of B has a
    zero gradient) and ``D_r = Σ_{m: v(m) = r} g_m H_{i(m)}``.
    """
    # np.unique(nodes, return_inverse=True), spelled out: faster on a batch's few pairs
    order = np.argsort(nodes, kind="stable")
    sorted_nodes = nodes[order]
    new = np.empty(sorted_nodes.size, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_nodes[1:], sorted_nodes[:-1], out=new[1:])
    rows = sorted_nodes[new]
    local = np.empty(nodes.size, dtype=indptr.dtype)
    local[order] = np.cumsum(new) - 1
    D = np.zeros((rows.size, H.shape[1]), dtype=H.dtype)
    H = np.ascontiguousarray(H)
    return rows, _math.add_scaled_gradient_A(indptr, local, g.astype(H.dtype, copy=False), H, D)


# ---------------------------------------------------------------------- prediction
def log_proba(H: np.ndarray, B: np.ndarray, tree: HuffmanTree) -> np.ndarray:
    """Exact ``log P(k | hᵢ)`` of every label (n×c, float64): rows of ``exp`` sum to 1.

    One top-down pass: ``log p(root) = 0`` and, for inner node v with children l, r,
    ``log p(r) = log p(v) + log σ(z_v)``, ``log p(l) = log p(v) + log σ(−z_v)`` with
    ``Z = H·Bᵀ``.  Costs O(n·c·d); the result is n×c, the working arrays (scores and the
    log-probabilities of all 2c − 1 nodes) are kept to :data:`LOG_PROBA_CELLS` floats by
    doing the rows in blocks (plus one float64 copy of B).  A row's result does not depend
    on the other rows, the block or the call it is computed in, bit for bit (the multi-label
    decision recomputes single rows and must agree): see :func:`bowclf._math.row_scores`.
    """
    c = tree.n_classes
    out = np.empty((H.shape[0], c))
    rows = max(1, LOG_PROBA_CELLS // (3 * c))
    B64 = np.ascontiguousarray(B, dtype=np.float64)  # once, not per block
    for a in range(0, H.shape[0], rows):
        out[a : a + rows] = _log_proba_rows(H[a : a + rows], B64, tree)
    return out


def label_log_proba(
    H: np.ndarray, B: np.ndarray, tree: HuffmanTree, indptr: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """Exact ``log P(k | hᵢ)`` of given labels only: ``labels[indptr[i]:indptr[i+1]]`` of
    row i (CSR), one float64 value per label.

    ``log P(k | h) = Σ_{v ∈ path(k)} log σ(s_kv · B_v·h)`` (``s_kv = ±1``, the branch k's path
    takes at v), in float64: O(d·depth) per label instead of :func:`log_proba`'s O(d·c) per
    row.  The values are :func:`log_proba`'s up to the rounding of the dot products (summed in
    another order).  Pairs are scored :data:`PAIRS` at a time."""
    ones = np.ones(labels.size, dtype=np.float32)
    _, nodes, codes, _ = path_pairs(tree, indptr, labels, ones, np.ones(indptr.size - 1))
    length = tree.path_length[labels]
    owner = np.repeat(np.arange(labels.size), length)  # pair → its (row, label) entry
    doc = np.repeat(np.repeat(np.arange(indptr.size - 1), np.diff(indptr)), length)
    z = np.empty(nodes.size)
    for a in range(0, nodes.size, PAIRS):
        at = slice(a, a + PAIRS)
        z[at] = np.einsum(
            "md,md->m", H[doc[at]].astype(np.float64), B[nodes[at]].astype(np.float64)
        )
    terms = _math.log_sigmoid((2.0 * codes - 1.0) * z)
    return np.bincount(owner, weights=terms, minlength=labels.size)


def _log_proba_rows(H: np.ndarray, B64: np.ndarray, tree: HuffmanTree) -> np.ndarray:
    """:func:`log_proba` of one block of rows (``B64``: ``B`` in float64, C order)."""
    c = tree.n_classes
    Z = _math.row_scores(H.astype(np.float64), B64)  # a row's bits: that row's alone
    L = np.empty((H.shape[0], 2 * c - 1), dtype=np.float64)
    L[:, 2 * c - 2] = 0.0
    for level in tree.levels:
        z = Z[:, level]
        here = L[:, c + level]
        left, right = tree.children[level, 0], tree.children[level, 1]
        L[:, left] = here + _math.log_sigmoid(-z)
        L[:, right] = here + _math.log_sigmoid(z)
    return L[:, :c]


def top_k(
    H: np.ndarray,
    B: np.ndarray,
    tree: HuffmanTree,
    k: int,
    threshold: float = 0.0,
    *,
    beam: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` most probable labels per document, without scoring every label.

    Returns ``(labels, log_p)`` of shape (n, k), ordered by decreasing probability (ties:
    smaller label first); slots without a label (probability below ``threshold``, or fewer
    than k labels) hold label −1 and ``−inf``.

    Two passes, each over all the documents of a chunk at once (numpy over arrays of
    (document, node) pairs, no per-document Python loop):

    1. *Bound*: a beam search of width ``max(beam, k)`` (default k) descends the tree level
       by level, keeping each document's most probable nodes; the k-th best of the leaves it
       reaches is a probability ``ℓᵢ`` that document i's true k-th best label attains.
    2. *Exact*: a level-by-level expansion from the root of every node whose log-probability
       is at least ``ℓᵢ`` (and ``threshold``, as fastText's ``dfs`` prunes).  A node's
       probability bounds every label below it, so no label of the true top k is pruned; the
       top k of the leaves reached are the answer.

    Work is the nodes above the k-th best label (plus the beam's ``k·depth``), as in a
    best-first search.  Documents are searched in chunks of at most :data:`CHUNK`, sized
    from the previous chunk so that about :data:`OPEN_NODES` nodes are open at once (the open
    nodes of a document are those above its k-th best label: few for a trained model, up to
    c − 1 for a uniform one), and node pairs are scored :data:`PAIRS` at a time: memory is
    O(OPEN_NODES + CHUNK·TOP_NODES), never O(n·c).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    width = max(k, 1 if beam is None else int(beam))
    n = H.shape[0]
    labels = np.full((n, k), -1, dtype=np.int64)
    log_p = np.full((n, k), -np.inf)
    log_threshold = np.log(threshold) if threshold > 0 else -np.inf
    top, column = _top_nodes(tree)
    B_top = B[top].astype(np.float64)  # gathered once per call, not per chunk
    a, chunk = 0, 16
    while a < n:
        rows = slice(a, min(n, a + chunk))
        score = _Scorer(H[rows], B, B_top, column)
        kth = _beam_bound(score, H[rows].shape[0], tree, k, width, log_threshold)
        bound = np.maximum(kth, log_threshold)
        labels[rows], log_p[rows], peak = _expand_above(score, tree, k, bound)
        a = rows.stop
        # the next chunk: as many documents as keep the open nodes near OPEN_NODES, given
        # this chunk's peak per document (a flat model leaves many open), growing gradually
        per_doc = max(peak / (rows.stop - rows.start), 1.0)
        chunk = int(min(2 * chunk, CHUNK, max(4, OPEN_NODES // per_doc)))
    return labels, log_p


class _Scorer:
    """``z = H_doc·B_node`` for (document, node) pairs of one chunk of documents, in float64
    as :func:`log_proba` scores them (a document's top label is ``log_proba``'s argmax
    unless they are within a few ulps: a gathered pair's dot product may sum in another
    order than ``log_proba``'s matrix product).

    The :data:`TOP_NODES` inner nodes nearest the root are met by most documents: their
    scores come from a dense product ``H·B_topᵀ`` (:func:`bowclf._math.row_scores`: each
    document's row alone, so its result does not depend on its chunk) and a lookup; the other
    pairs are gathered dot products, :data:`PAIRS` at a time (gathering the rows of ``B``
    costs more than the dense product for these nodes).  ``B_top``: the rows ``B[top]`` of
    those nodes (:func:`_top_nodes`), gathered once by the caller for all its chunks;
    ``column``: each inner node's row in ``B_top`` (−1: not among them)."""

    def __init__(self, H: np.ndarray, B: np.ndarray, B_top: np.ndarray, column: np.ndarray):
        self.H = H.astype(np.float64)
        self.B, self.column, self.width = B, column, B_top.shape[0]
        self.Z = _math.row_scores(self.H, B_top).ravel() if B_top.shape[0] else None

    def __call__(self, docs: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        col = self.column[nodes]
        dense = col >= 0
        if self.Z is not None and dense.all():
            return self.Z[docs * self.width + col]
        z = np.empty(docs.size)
        if self.Z is not None:
            at = np.flatnonzero(dense)
            z[at] = self.Z[docs[at] * self.width + col[at]]
        rest = np.flatnonzero(~dense)
        for a in range(0, rest.size, PAIRS):
            m = rest[a : a + PAIRS]
            z[m] = np.einsum("md,md->m", self.H[docs[m]], self.B[nodes[m]].astype(np.float64))
        return z


def _top_nodes(tree: HuffmanTree) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`TOP_NODES` inner nodes nearest the root and each inner node's column
    among them (−1 for the others)."""
    top = np.concatenate(tree.levels)[: min(TOP_NODES, tree.n_classes - 1)]
    column = np.full(tree.n_classes - 1, -1, dtype=np.int64)
    column[top] = np.arange(top.size)
    return top, column


def _beam_bound(
    score: _Scorer, n: int, tree: HuffmanTree, k: int, width: int, log_threshold: float
):
    """The k-th best log-probability per row among the leaves a beam search of ``width``
    reaches (−inf when it reaches fewer): a lower bound of the true k-th best label's."""
    c = tree.n_classes
    node = np.full((n, width), -1, dtype=np.int64)  # node numbers (leaves < c); −1 empty
    node[:, 0] = 2 * c - 2
    lp = np.full((n, width), -np.inf)
    lp[:, 0] = 0.0
    rows = np.arange(n)
    kth = np.full(n, -np.inf)
    while rows.size:
        inner = node >= c
        r, s = np.nonzero(inner)
        z = score(rows[r], node[r, s] - c)
        kid = np.full((rows.size, width, 2), -1, dtype=np.int64)
        kid_lp = np.full((rows.size, width, 2), -np.inf)
        leaf = ~inner & (node >= 0)
        kid[leaf, 0], kid_lp[leaf, 0] = node[leaf], lp[leaf]  # a leaf stays in the beam
        kid[r, s] = tree.children[node[r, s] - c]
        base = lp[r, s]
        kid_lp[r, s, 0] = base + _math.log_sigmoid(-z)
        kid_lp[r, s, 1] = base + _math.log_sigmoid(z)
        kid_lp[kid_lp < log_threshold] = -np.inf
        kid, kid_lp = kid.reshape(rows.size, -1), kid_lp.reshape(rows.size, -1)
        pick = np.argpartition(-kid_lp, width - 1, axis=1)[:, :width]
        node = np.take_along_axis(kid, pick, 1)
        lp = np.take_along_axis(kid_lp, pick, 1)
        node[lp == -np.inf] = -1
        done = ~(node >= c).any(axis=1)
        if done.any():
            kth[rows[done]] = -np.partition(-lp[done], k - 1, axis=1)[:, k - 1]
            keep = ~done
            rows, node, lp = rows[keep], node[keep], lp[keep]
    return kth


def _expand_above(score: _Scorer, tree: HuffmanTree, k: int, bound: np.ndarray):
    """Top ``k`` labels per row among the leaves with log-probability ≥ ``bound`` (per row),
    and the most nodes that were open at once.

    Rounds of a level-by-level expansion: a round expands, down to the leaves, every open
    node at or above a per-row level ``τ`` and leaves the nodes below ``τ`` open.  A row is
    done once k of its leaves are at or above ``τ``: every node above ``τ`` has been
    expanded, so no better label is left.  Between rounds nodes below the k-th best leaf
    found are dropped, and ``τ`` drops to the log-probability of the row's m-th best open
    node (m = 4, 8, 16, … by round), so a round's work stays near the best-first minimum.
    """
    n, c = bound.size, tree.n_classes
    peak = 0  # most open nodes at once
    floor = bound - 1e-9 * (1.0 + np.abs(bound))  # rounding of the sums must not drop a leaf
    tau = np.zeros(n)
    docs = np.arange(n)
    nodes = np.full(n, c - 2, dtype=np.int64)  # open inner nodes (rows of B)
    lps = np.zeros(n)
    found = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))  # leaves reached
    m = 4
    while docs.size:
        now = lps >= tau[docs]
        later = [(docs[~now], nodes[~now], lps[~now])]
        docs, nodes, lps = docs[now], nodes[now], lps[now]
        reached = [found]
        while docs.size:  # one level of the nodes at or above τ
            z = score(docs, nodes)
            kid = tree.children[nodes].ravel()
            kid_lp = np.empty(kid.size)
            kid_lp[1::2] = lps + _math.log_sigmoid(z)
            kid_lp[0::2] = lps + _math.log_sigmoid(-z)  # as log_proba sums it (not σ(z) − z)
            kid_doc = np.repeat(docs, 2)
            keep = kid_lp >= floor[kid_doc]
            kid, kid_lp, kid_doc = kid[keep], kid_lp[keep], kid_doc[keep]
            leaf = kid < c
            reached.append((kid_doc[leaf], kid[leaf], kid_lp[leaf]))
            inner = ~leaf
            kid, kid_lp, kid_doc = kid[inner] - c, kid_lp[inner], kid_doc[inner]
            now = kid_lp >= tau[kid_doc]
            later.append((kid_doc[~now], kid[~now], kid_lp[~now]))
            docs, nodes, lps = kid_doc[now], kid[now], kid_lp[now]
            peak = max(peak, docs.size + sum(part[0].size for part in later))
        found = _top_per_doc(n, k, *(np.concatenate(p) for p in zip(*reached, strict=True)))
        f_doc, f_lp = found[0], found[2]
        count = np.bincount(f_doc, minlength=n)
        kth = np.full(n, -np.inf)
        full = count >= k
        last = _ranks(f_doc, n) == k - 1
        kth[f_doc[last]] = f_lp[last]
        floor = np.maximum(floor, kth - 1e-9 * (1.0 + np.abs(kth)))
        open_rows = ~(full & (kth >= tau))
        docs, nodes, lps = (np.concatenate(p) for p in zip(*later, strict=True))
        keep = open_rows[docs] & (lps >= floor[docs])
        docs, nodes, lps = docs[keep], nodes[keep], lps[keep]
        tau = _mth_best(n, m, docs, lps, floor)
        m *= 2
    return (*_best_leaves(n, k, *found), peak)


def _ranks(doc: np.ndarray, n: int) -> np.ndarray:
    """Position of every entry within its document's run (``doc`` sorted)."""
    return np.arange(doc.size) - np.searchsorted(doc, np.arange(n))[doc]


def _top_per_doc(n: int, k: int, doc, label, lp):
    """The entries among the k best of every document, sorted by document then rank: by
    decreasing ``lp``, ties by smaller label, in every round of :func:`_expand_above` (a cut
    by an approximate key could drop a label tied with the k-th that this order puts
    first)."""
    order = np.lexsort((label, -lp, doc))
    doc, label, lp = doc[order], label[order], lp[order]
    top = _ranks(doc, n) < k
    return doc[top], label[top], lp[top]


def _mth_best(n: int, m: int, doc, lp, floor):
    """Per document, about the m-th best of its ``lp`` (its worst when it has fewer;
    ``floor`` when it has none), never below ``floor``.  Sorted on one float key (document,
    then ``−lp`` to ~1e-8): the search only needs a level near the m-th best, not exactly it."""
    tau = floor.copy()
    if doc.size:
        order = np.argsort(doc * _KEY_SPAN + np.clip(-lp, 0.0, _KEY_SPAN - 1.0))
        doc, lp = doc[order], lp[order]
        rank = _ranks(doc, n)
        last = np.r_[doc[1:] != doc[:-1], True]
        pick = (rank == m - 1) | (last & (rank < m - 1))
        tau[doc[pick]] = np.maximum(lp[pick], floor[doc[pick]])
    return tau


def _best_leaves(n: int, k: int, doc, label, lp):
    """:func:`_top_per_doc`'s entries as (n, k) arrays, padded with −1 and −inf."""
    rank = _ranks(doc, n)
    labels = np.full((n, k), -1, dtype=np.int64)
    log_p = np.full((n, k), -np.inf)
    labels[doc, rank], log_p[doc, rank] = label, lp
    return labels, log_p
