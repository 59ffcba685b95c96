"""Product-quantised matrices in bowclf model files (``bowclf.quantize``, converted ``.ftz``).

A matrix of ``rows × width`` float32 is stored as ``m = ⌈width/dsub⌉`` one-byte codes per row
and ``m`` codebooks of ``k ≤ 256`` centroids of ``dsub`` numbers; row ``i`` is
``norm_i · concat_q centroids[q, codes[i, q]]`` cut to ``width`` (``norm_i = 1`` unless the
norms are quantised too).  Every code must be below ``k``.  Decoding is bounded by the stored
codes (``4·dsub`` bytes of output per code byte, counted by :func:`decoded_bytes` before a
file is read) and done in blocks.

In a bowclf model file ``classifier/A`` (``bowclf.quantize``) and ``classifier/B``
(``bowclf.quantize(qout=True)``) may each be replaced by such members
(``classifier/A_codes``, ...); :func:`decode_model_arrays` puts the dense matrices back.  Their
width is the other matrix's when that one is dense, else the header's ``dim``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "decode_model_arrays",
    "checked_members",
    "decode_quantized",
    "decoded_bytes",
    "decoded_manifest",
    "quantized_members",
]

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
    # fastText's last sub-quantiser may be narrower than dsub and, when dsub > dim, the only
    # one: pad to the widest stored, so that dsub never exceeds the matrix width
    dsub = max([q.dsub if len(q.centroids) > 1 else 0] + [c.shape[1] for c in q.centroids])
    ksub = max(c.shape[0] for c in q.centroids)  # 256 from fastText; fewer may be stored
    cents = np.zeros((len(q.centroids), ksub, dsub), np.float32)
    for j, c in enumerate(q.centroids):
        cents[j, : c.shape[0], : c.shape[1]] = c
    out = {f"{prefix}_codes": np.ascontiguousarray(q.codes), f"{prefix}_centroids": cents}
    if q.norm_codes is not None:
        out[f"{prefix}_norm_codes"] = np.ascontiguousarray(q.norm_codes)
        out[f"{prefix}_norm_centroids"] = np.ascontiguousarray(q.norm_centroids, np.float32)
    return out


def _check_layout(prefix: str, nsubq: int, dsub: int, width: int) -> None:
    """``nsubq`` sub-quantisers of ``dsub`` numbers make rows of ``width``: ``⌈width/dsub⌉ =
    nsubq`` and ``dsub ≤ width``, so decoding never builds more than ``2·width`` numbers a
    row (a file may not declare huge codebooks for a narrow matrix)."""
    if not (dsub <= width and (nsubq - 1) * dsub < width <= nsubq * dsub):
        raise ValueError(f"{prefix}: {nsubq} sub-quantisers of {dsub} cannot make width {width}")


def checked_members(
    arrays: dict[str, np.ndarray], prefix: str, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The members of a matrix stored by :func:`quantized_members`, checked to fit together
    for rows of ``width``: ``(codes, centroids, norm_codes, norm_centroids)`` (the norms
    None when they are not quantised).

    Raises ``ValueError`` when they do not (shapes, a code outside its codebook, non-finite
    centroids).
    """
    codes = arrays[f"{prefix}_codes"]
    cents = arrays[f"{prefix}_centroids"]
    if codes.ndim != 2 or cents.ndim != 3 or not 1 <= cents.shape[1] <= _KSUB:
        raise ValueError(f"{prefix}: quantised members of shapes {codes.shape}, {cents.shape}")
    nsubq, ksub, dsub = cents.shape
    _check_layout(prefix, nsubq, dsub, width)
    if codes.shape[1] != nsubq:
        raise ValueError(f"{prefix}: {nsubq} sub-quantisers of {dsub} cannot make width {width}")
    with np.errstate(over="ignore"):  # float64 members: decoded rows are float32 (1e300: inf)
        cents = np.asarray(cents, dtype=np.float32)
    if codes.dtype != np.uint8 or not np.isfinite(cents).all():
        raise ValueError(f"{prefix}: codes must be uint8 and centroids finite")
    if ksub < _KSUB and codes.size and int(codes.max()) >= ksub:
        raise ValueError(f"{prefix}: a code points outside its codebook of {ksub} centroids")
    rows = codes.shape[0]
    norm_codes = arrays.get(f"{prefix}_norm_codes")
    norms = arrays.get(f"{prefix}_norm_centroids")
    if (norm_codes is None) != (norms is None):
        raise ValueError(f"{prefix}: norm codes without norm centroids (or the reverse)")
    if norms is not None:
        with np.errstate(over="ignore"):
            norms = np.asarray(norms, dtype=np.float32)
        if (
            norm_codes.shape != (rows,)
            or norm_codes.dtype != np.uint8
            or norms.ndim != 1
            or not 1 <= norms.size <= _KSUB
            or not np.isfinite(norms).all()
        ):
            raise ValueError(f"{prefix}: quantised norms of the wrong shape or not finite")
        if norms.size < _KSUB and rows and int(norm_codes.max()) >= norms.size:
            raise ValueError(f"{prefix}: a norm code points outside its codebook")
        with np.errstate(over="ignore"):  # a decoded number: a centroid's times a norm
            largest = np.float32(np.abs(cents).max(initial=0)) * np.abs(norms).max(initial=0)
        if not np.isfinite(largest):
            raise ValueError(f"{prefix}: centroids times norms overflow float32")
    return codes, cents, norm_codes, norms


def decode_quantized(arrays: dict[str, np.ndarray], prefix: str, width: int) -> np.ndarray:
    """The dense float32 matrix (rows × width) stored by :func:`quantized_members`.

    Raises ``ValueError`` when the members do not fit together (:func:`checked_members`).
    """
    codes, cents, norm_codes, norms = checked_members(arrays, prefix, width)
    nsubq, ksub, dsub = cents.shape
    rows = codes.shape[0]
    out = np.empty((rows, width), np.float32)
    step = max(1, (1 << 22) // max(width, 1))
    q_index = np.arange(nsubq)
    flat = cents.reshape(nsubq * ksub, dsub)  # centroid j of sub-quantiser q: row q·ksub + j
    offsets = (q_index * ksub).astype(np.intp)
    for start in range(0, rows, step):
        # one take along the first axis (a 2-D fancy index is slower)
        block = flat.take(codes[start : start + step] + offsets, axis=0)  # (b, nsubq, dsub)
        dense = block.reshape(block.shape[0], nsubq * dsub)[:, :width]
        if norms is not None:
            dense = dense * norms[norm_codes[start : start + step]][:, None]
        out[start : start + step] = dense
    return out


# ---------------------------------------------------------------------- bowclf model files
_MATRICES = ("classifier/A", "classifier/B")


def _width(header: dict, shapes: dict[str, list[int]]) -> int:
    """Width of a model file's quantised matrices: the dense one's, else the header's dim."""
    for name in _MATRICES:
        if name in shapes:
            return int(shapes[name][1])
    dim = header.get("classifier", {}).get("params", {}).get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"both A and B are quantised but the header's dim is {dim!r}")
    return dim


def decoded_shapes(header: dict, shapes: dict[str, list[int]]) -> dict[str, list[int]]:
    """``shapes`` (member → declared shape) with the shape of every quantised matrix added
    (one row per code row), so the loader checks them like dense ones before reading."""
    out = dict(shapes)
    quantized = [name for name in _MATRICES if f"{name}_codes" in shapes]
    if quantized:
        width = _width(header, shapes)
        for name in quantized:
            cents = shapes.get(f"{name}_centroids")
            if cents is not None and len(cents) == 3:  # checked before any member is read
                _check_layout(name, cents[0], cents[2], width)
            out[name] = [shapes[f"{name}_codes"][0], width]
    return out


def decoded_bytes(manifest: dict[str, dict]) -> int:
    """An upper bound on the bytes decoding a file's quantised matrices allocates (rows ×
    sub-quantisers × dsub float32 each), from the manifest alone."""
    total = 0
    for name in _MATRICES:  # a converted .ftz's input matrix stays coded, as in the .ftz
        codes, cents = manifest.get(f"{name}_codes"), manifest.get(f"{name}_centroids")
        if codes and cents and len(codes["shape"]) == 2 and len(cents["shape"]) == 3:
            total += 4 * codes["shape"][0] * cents["shape"][0] * cents["shape"][2]
    return total


def decoded_manifest(header: dict) -> None:
    """Describe every quantised matrix in ``header["arrays"]`` as the dense float32 member
    loading decodes (``decoded_from`` names its codes), in place."""
    arrays = header["arrays"]
    shapes = decoded_shapes(header, {name: spec["shape"] for name, spec in arrays.items()})
    for name in _MATRICES:
        if f"{name}_codes" in arrays:
            arrays[name] = {"dtype": "<f4", "shape": shapes[name], "decoded_from": f"{name}_codes"}


def decode_model_arrays(header: dict, arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """Put the dense ``classifier/A`` and ``classifier/B`` of a bowclf model file back into
    ``arrays`` from their codes; return the quantisation record the model keeps (``settings``:
    the header's ``quantization`` entry; ``A``/``B``: the members by suffix), or None when
    nothing is quantised.  Raises ``ValueError`` when the members do not fit together."""
    quantized = [name for name in _MATRICES if f"{name}_codes" in arrays]
    if not quantized:
        return None
    width = _width(header, {n: list(arrays[n].shape) for n in _MATRICES if n in arrays})
    settings = header.get("quantization", {})
    if not isinstance(settings, dict):
        raise ValueError("the header's quantization entry is not a mapping")
    record: dict[str, Any] = {"settings": dict(settings)}
    for name in quantized:
        arrays[name] = decode_quantized(arrays, name, width)
        record[name[-1]] = {
            suffix: arrays[f"{name}_{suffix}"]
            for suffix in ("codes", "centroids", "norm_codes", "norm_centroids")
            if f"{name}_{suffix}" in arrays
        }
    return record


def decode_output(header: dict, arrays: dict[str, np.ndarray]) -> None:
    """Put a product-quantised ``classifier/B`` back into ``arrays`` as its dense float32
    matrix (prediction's loader decodes ``A`` lazily, row by row, but needs all of ``B``)."""
    if "classifier/B_codes" in arrays:
        shapes = {n: list(arrays[n].shape) for n in _MATRICES if n in arrays}
        arrays["classifier/B"] = decode_quantized(arrays, "classifier/B", _width(header, shapes))
