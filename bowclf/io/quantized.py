"""Product-quantised matrices in bowclf model files (``bowclf.quantize``, converted ``.ftz``).

A matrix of ``rows × width`` float32 is stored as ``m = ⌈width/dsub⌉`` one-byte codes per row
and ``m`` codebooks of 256 centroids of ``dsub`` numbers; row ``i`` is
``norm_i · concat_q centroids[q, codes[i, q]]`` cut to ``width`` (``norm_i = 1`` unless the
norms are quantised too).  Decoding is bounded by the stored codes (``4·dsub`` bytes of output
per code byte) and done in blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["decode_quantized", "quantized_members"]

_KSUB = 256


def quantized_members(prefix: str, q: Any) -> dict[str, np.ndarray]:
    """The members storing a product-quantised matrix in a bowclf model file.

    ``<prefix>_codes`` uint8 (rows, nsubq); ``<prefix>_centroids`` float32 (nsubq, 256, dsub),
    the last sub-quantiser zero-padded to ``dsub``; with quantised norms also
    ``<prefix>_norm_codes`` uint8 (rows,) and ``<prefix>_norm_centroids`` float32 (256,).
    Row ``i`` is ``norm · concat_q centroids[q, codes[i, q]]`` cut to the matrix width.
    ``q`` is either a dict of those arrays by suffix (``codes``, ``centroids``, ...) or a
    fastText quantised matrix (``codes``, per-sub-quantiser ``centroids`` list, ``dsub``,
    ``norm_codes``, ``norm_centroids``).
    """
    if isinstance(q, dict):
        return {f"{prefix}_{k}": v for k, v in q.items()}
    dsub = q.dsub
    cents = np.zeros((len(q.centroids), _KSUB, dsub), np.float32)
    for j, c in enumerate(q.centroids):
        cents[j, :, : c.shape[1]] = c
    out = {f"{prefix}_codes": np.ascontiguousarray(q.codes), f"{prefix}_centroids": cents}
    if q.norm_codes is not None:
        out[f"{prefix}_norm_codes"] = np.ascontiguousarray(q.norm_codes)
        out[f"{prefix}_norm_centroids"] = np.ascontiguousarray(q.norm_centroids, np.float32)
    return out


def decode_quantized(arrays: dict[str, np.ndarray], prefix: str, width: int) -> np.ndarray:
    """The dense float32 matrix (rows × width) stored by :func:`quantized_members`.

    Raises ``ValueError`` when the members do not fit together (shapes, non-finite values).
    """
    codes = arrays[f"{prefix}_codes"]
    cents = arrays[f"{prefix}_centroids"]
    if codes.ndim != 2 or cents.ndim != 3 or cents.shape[1] != _KSUB:
        raise ValueError(f"{prefix}: quantised members of shapes {codes.shape}, {cents.shape}")
    nsubq, _, dsub = cents.shape
    if codes.shape[1] != nsubq or not (nsubq - 1) * dsub < width <= nsubq * dsub:
        raise ValueError(f"{prefix}: {nsubq} sub-quantisers of {dsub} cannot make width {width}")
    if codes.dtype != np.uint8 or not np.isfinite(cents).all():
        raise ValueError(f"{prefix}: codes must be uint8 and centroids finite")
    rows = codes.shape[0]
    out = np.empty((rows, width), np.float32)
    step = max(1, (1 << 22) // max(width, 1))
    q_index = np.arange(nsubq)
    norm_codes = arrays.get(f"{prefix}_norm_codes")
    norms = arrays.get(f"{prefix}_norm_centroids")
    if (norm_codes is None) != (norms is None):
        raise ValueError(f"{prefix}: norm codes without norm centroids (or the reverse)")
    if norms is not None:
        if norm_codes.shape != (rows,) or norms.shape != (_KSUB,) or not np.isfinite(norms).all():
            raise ValueError(f"{prefix}: quantised norms of the wrong shape or not finite")
    for start in range(0, rows, step):
        block = cents[q_index, codes[start : start + step]]  # (b, nsubq, dsub)
        dense = block.reshape(block.shape[0], nsubq * dsub)[:, :width]
        if norms is not None:
            dense = dense * norms[norm_codes[start : start + step]][:, None]
        out[start : start + step] = dense
    return out
