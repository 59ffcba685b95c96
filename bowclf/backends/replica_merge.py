"""How the Dask backend merges its shards' replicas of the parameters into the driver's.

Every round each shard trains a piece of its documents on its own replica; the driver then
merges the rows of ``W = Aᵀ`` the shards touched (:func:`merge_rows`) and ``B``
(:func:`merge_B`) under one of two rules ('sum' or 'average', see :func:`merge_rows`) and sends
the merged rows back (:class:`bowclf.backends.dask.DaskData`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MERGE_ROWS", "merge_B", "merge_optimizer_states", "merge_rows"]

MERGE_ROWS = 1 << 16  # parameter rows merged at a time on the driver (bounds float64 temporaries)


def merge_rows(
    W: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], m: list[int], merge: str
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Merge the shards' values of the rows they touched into ``W`` (in place).

    ``pairs[k] = (rows, values)`` holds shard k's sorted touched rows and their values and
    ``m[k]`` its examples since these rows were last merged.  For a row touched by the set
    ``S`` of shards, with ``a_k = m_k / Σm`` and ``W`` the row's last merged value::

        sum:      W + Σ_{k∈S} (W_k − W)  =  (1 − |S|)·W + Σ_{k∈S} W_k
        average:  (1 − Σ_{k∈S} a_k)·W + Σ_{k∈S} a_k·W_k

    computed in float64 and rounded to float32 (a row touched by one shard becomes that
    shard's value exactly under 'sum', and under 'average' when one shard trained).

    Returns the merged rows, their new values and, per shard, the positions (into the merged
    rows) it must be sent: under 'sum' the rows some other shard touched (a shard already
    holds the merged value of the rows only it touched), under 'average' all of them.
    """
    total = sum(m)
    weights = [mk / total if total else 0.0 for mk in m]
    mask = np.zeros(W.shape[0], bool)
    for rows, _ in pairs:
        mask[rows] = True
    union = np.flatnonzero(mask)
    positions = [np.searchsorted(union, rows) for rows, _ in pairs]
    count = np.zeros(union.size, np.int64)
    present = np.zeros(union.size)
    for pos, a in zip(positions, weights, strict=True):
        count[pos] += 1
        present[pos] += a
    merged = np.empty((union.size, W.shape[1]), W.dtype)
    if merge == "sum":  # a row touched by one shard takes its value; arithmetic for the rest
        for pos, (_, values) in zip(positions, pairs, strict=True):
            single = count[pos] == 1
            merged[pos[single]] = values[single]
        mixed = np.flatnonzero(count >= 2)
    else:
        mixed = np.arange(union.size)
    index = np.full(union.size, -1, np.int64)  # position among the mixed rows
    index[mixed] = np.arange(mixed.size)
    contributions = []
    for pos, (_, values), a in zip(positions, pairs, weights, strict=True):
        q = index[pos]
        keep = q >= 0
        contributions.append((q[keep], values[keep] if not keep.all() else values, a))
    for s in range(0, mixed.size, MERGE_ROWS):
        e = min(s + MERGE_ROWS, mixed.size)
        rows = mixed[s:e]
        old = W[union[rows]].astype(np.float64)
        if merge == "sum":
            acc = (1.0 - count[rows])[:, None] * old
        else:
            acc = np.maximum(1.0 - present[rows], 0.0)[:, None] * old
        for q, values, a in contributions:
            lo, hi = np.searchsorted(q, [s, e])
            part = values[lo:hi].astype(np.float64)
            acc[q[lo:hi] - s] += part if merge == "sum" else a * part
        merged[rows] = acc
    W[union] = merged
    sends = []
    for pos in positions:
        if merge == "sum":
            own = np.zeros(union.size, np.int64)
            own[pos] = 1
            sends.append(np.flatnonzero(count - own > 0))
        else:
            sends.append(np.arange(union.size))
    return union, merged, sends


def merge_B(B: np.ndarray, results: list[dict], merge: str) -> None:
    """Merge ``B`` in place over the shards that trained in the round (same rules)."""
    active = [r for r in results if r["m"] > 0]
    if not active:
        return
    if merge == "sum":
        acc = (1.0 - len(active)) * B.astype(np.float64)
        for r in active:
            acc += r["B"]
    else:
        total = sum(r["m"] for r in active)
        acc = np.zeros(B.shape)
        for r in active:
            acc += (r["m"] / total) * r["B"].astype(np.float64)
    B[...] = acc


def merge_optimizer_states(
    base: dict[str, np.ndarray], states: list[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The optimiser state of the whole run from its shards' own: each accumulator the run
    started from (``base``; zeros where missing) plus every shard's increment over it,
    ``a = a₀ + Σ_k (a_k − a₀)``.  AdaGrad's accumulators are sums of squared gradients, so
    this is the sum the shards' steps made together; one shard gives its own state."""
    merged = {}
    for key in states[0] if states else ():
        start = base.get(key)
        start = np.zeros_like(states[0][key]) if start is None else np.asarray(start)
        total = np.array(start, dtype=np.float64, copy=True)
        for state in states:
            total += state[key] - start
        merged[key] = total
    return merged
