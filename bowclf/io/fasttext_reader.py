"""Read the binary file of a fastText supervised model (``.bin`` / quantised ``.ftz``).

:func:`_parse` turns the bytes of a file into the parts of a
:class:`~bowclf.io.fasttext.FastTextModel` (arguments, dictionary, prune index, matrices);
:func:`_open_map` memory-maps a model file; :func:`is_fasttext_file` recognises one.

File layout (little-endian; fastText's ``src/fasttext.cc``, ``args.cc``, ``dictionary.cc``,
``densematrix.cc``, ``quantmatrix.cc``, ``productquantizer.cc``)::

    int32 magic = 793712314, int32 version (11 or 12)
    args:       int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn,
                maxn, lrUpdateRate; float64 t          (loss: 1 hs, 2 ns, 3 softmax, 4 ova;
                                                        model: 1 cbow, 2 sg, 3 supervised)
    dictionary: int32 size, nwords, nlabels; int64 ntokens, prune_size;
                size x (NUL-terminated bytes, int64 count, int8 type 0 word / 1 label);
                prune_size x (int32 bucket, int32 row)       (prune_size -1: not pruned)
    bool quantised input, then the input matrix, bool quantised output, the output matrix
    dense matrix:     int64 rows m, int64 cols n, float32[m*n] row-major
    quantised matrix: bool qnorm, int64 m, int64 n, int32 codesize (= m * nsubq),
                      uint8 codes[codesize], product quantiser, and with qnorm:
                      uint8 norm_codes[m], a product quantiser of dim 1
    product quantiser: int32 dim, nsubq, dsub, lastdsub, float32 centroids[dim * 256]
                       (sub-quantiser q < nsubq-1 at (q*256 + code)*dsub, the last one at
                       q*256*dsub + code*lastdsub, lastdsub wide)

Every header value is bounded before anything is allocated: sizes must fit in the bytes the
file holds, so a small hostile file cannot make the reader allocate much; arrays are
memory-mapped views of the file (nothing is copied, and a prediction reads only the rows it
needs).  The output matrix, the codebooks and input matrices under 4 MiB are checked for
NaN/infinity; a larger input matrix is not read at load (a bad value in it could only make
the probabilities of the lines using that row NaN).  Any problem raises
:class:`bowclf.persist.ModelFileError` with a one-line message that starts with the path.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from typing import Any

import numpy as np

from .._limits import MAX_DIM

MAGIC = 793712314
VERSIONS = (11, 12)
_KSUB = 256
_LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
_MODELS = {1: "cbow", 2: "sg", 3: "supervised"}
_ARG_NAMES = (
    "dim",
    "ws",
    "epoch",
    "minCount",
    "neg",
    "wordNgrams",
    "loss",
    "model",
    "bucket",
    "minn",
    "maxn",
    "lrUpdateRate",
)
_MAX_DIM = MAX_DIM  # bowclf's own bound (fastText vectors are a few hundred wide)
_MAX_NGRAMS = 64  # wordNgrams
_MAX_CHARS = 64  # maxn
_SCAN_MAX_BYTES = 1 << 22  # input matrices up to this size are checked for NaN/inf at load


def _error(path, message: str):
    from ..persist import ModelFileError

    return ModelFileError(f"{path}: {message}")


def is_fasttext_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file that starts with fastText's magic number (nothing
    else is read; a FIFO or device is never opened)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            head = f.read(4)
    except (OSError, ValueError):
        return False
    return len(head) == 4 and struct.unpack("<i", head)[0] == MAGIC


# ---------------------------------------------------------------------- parsing
class _Reader:
    """Bounds-checked little-endian reads from a memory-mapped file."""

    def __init__(self, buf, path) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.path = path

    def need(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or self.pos + nbytes > self.size:
            raise _error(self.path, f"truncated fastText model file (ends inside {what})")

    def unpack(self, fmt: str, what: str) -> tuple:
        n = struct.calcsize(fmt)
        self.need(n, what)
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return out

    def array(self, dtype, count: int, what: str) -> np.ndarray:
        dtype = np.dtype(dtype)
        self.need(count * dtype.itemsize, what)
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += count * dtype.itemsize
        return out

    def flag(self, what: str) -> bool:
        (value,) = self.unpack("<B", what)
        if value > 1:
            raise _error(self.path, f"invalid fastText model file ({what} flag is {value})")
        return bool(value)

    def remaining(self) -> int:
        return self.size - self.pos


class _Quantized:
    """A product-quantised matrix: row ``i`` is ``norm_i · concat_q centroid_q[code_iq]``."""

    def __init__(self, codes, centroids, dsub, lastdsub, norm_codes, norm_centroids) -> None:
        self.codes = codes  # (m, nsubq) uint8
        self.centroids = centroids  # list of (256, width_q) float32
        self.dsub = dsub
        self.lastdsub = lastdsub
        self.norm_codes = norm_codes  # (m,) uint8 or None
        self.norm_centroids = norm_centroids  # (256,) float32 or None
        self.shape = (codes.shape[0], sum(c.shape[1] for c in centroids))

    @classmethod
    def from_members(cls, codes, centroids, norm_codes, norm_centroids, width: int) -> _Quantized:
        """The matrix of a bowclf model file's checked members
        (:func:`bowclf.io.quantized.checked_members`: ``centroids`` of shape
        ``(nsubq, k, dsub)``, the last sub-quantiser zero-padded to ``dsub``)."""
        nsubq, _, dsub = centroids.shape
        last = width - (nsubq - 1) * dsub
        parts = [
            np.ascontiguousarray(centroids[q, :, : dsub if q < nsubq - 1 else last])
            for q in range(nsubq)
        ]
        return cls(codes, parts, dsub, last, norm_codes, norm_centroids)

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Decode the rows ``ids`` (float32, shape (len(ids), dim))."""
        codes = self.codes[ids]
        out = np.concatenate([c[codes[:, q]] for q, c in enumerate(self.centroids)], axis=1)
        if self.norm_codes is not None:
            out *= self.norm_centroids[self.norm_codes[ids]][:, None]
        return out

    def dense(self) -> np.ndarray:
        return self.rows(np.arange(self.shape[0]))


def _read_dense(r: _Reader, what: str, dim: int) -> np.ndarray:
    m, n = r.unpack("<qq", f"the {what} matrix header")
    if n != dim or m < 0:
        raise _error(r.path, f"invalid fastText model file ({what} matrix is {m}x{n}, dim {dim})")
    if m * n * 4 > r.remaining():
        raise _error(r.path, f"truncated fastText model file ({what} matrix of {m}x{n})")
    return r.array("<f4", m * n, f"the {what} matrix").reshape(m, n)


def _read_pq(r: _Reader, what: str, expect_dim: int) -> tuple[list[np.ndarray], int, int]:
    dim, nsubq, dsub, lastdsub = r.unpack("<iiii", f"the {what} quantiser")
    ok = (
        dim == expect_dim
        and 1 <= dsub
        and (dsub <= dim or nsubq == 1)  # fastText takes any dsub: one of ``dim`` if larger
        and nsubq == -(-dim // dsub)
        and lastdsub == dim - (nsubq - 1) * dsub
    )
    if not ok:
        raise _error(
            r.path,
            f"invalid fastText model file ({what} quantiser dim {dim}, {nsubq} sub-quantisers "
            f"of {dsub}, last {lastdsub})",
        )
    flat = r.array("<f4", dim * _KSUB, f"the {what} centroids")
    parts = []
    for q in range(nsubq):
        width = lastdsub if q == nsubq - 1 else dsub
        start = q * _KSUB * dsub
        parts.append(
            np.ascontiguousarray(flat[start : start + _KSUB * width].reshape(_KSUB, width))
        )
    return parts, dsub, lastdsub


def _read_quantized(r: _Reader, what: str, dim: int) -> _Quantized:
    qnorm = r.flag(f"the {what} qnorm")
    m, n, codesize = r.unpack("<qqi", f"the {what} matrix header")
    if n != dim or m < 0:
        raise _error(r.path, f"invalid fastText model file ({what} matrix is {m}x{n}, dim {dim})")
    if codesize < 0 or codesize > r.remaining():
        raise _error(r.path, f"truncated fastText model file ({what} codes)")
    codes = r.array(np.uint8, codesize, f"the {what} codes")
    centroids, dsub, lastdsub = _read_pq(r, what, dim)
    nsubq = len(centroids)
    if codesize != m * nsubq:
        raise _error(
            r.path, f"invalid fastText model file ({codesize} {what} codes for {m}x{nsubq})"
        )
    norm_codes = norm_centroids = None
    if qnorm:
        if m > r.remaining():
            raise _error(r.path, f"truncated fastText model file ({what} norm codes)")
        norm_codes = r.array(np.uint8, m, f"the {what} norm codes")
        norm_parts, _, _ = _read_pq(r, f"{what} norm", 1)
        norm_centroids = norm_parts[0][:, 0]
    for c in centroids + ([norm_centroids] if qnorm else []):
        if not np.isfinite(c).all():
            raise _error(r.path, f"invalid fastText model file (non-finite {what} centroids)")
    return _Quantized(
        codes.reshape(m, nsubq), centroids, dsub, lastdsub, norm_codes, norm_centroids
    )


def _check_finite(matrix: np.ndarray, path, what: str) -> None:
    step = max(1, (1 << 22) // max(matrix.shape[1], 1))
    for start in range(0, matrix.shape[0], step):
        if not np.isfinite(matrix[start : start + step]).all():
            raise _error(path, f"invalid fastText model file (non-finite values in {what})")


def _read_args(r: _Reader) -> tuple[int, dict[str, Any]]:
    """The magic number, version and arguments, each checked (version, arguments dict)."""
    path = r.path
    if r.size == 0:
        raise _error(path, "empty file, not a fastText model")
    magic, version = r.unpack("<ii", "the magic number")
    if magic != MAGIC:
        raise _error(path, "not a fastText model file (wrong magic number)")
    if version not in VERSIONS:
        raise _error(path, f"unsupported fastText model version {version} (reads 11 and 12)")
    values = r.unpack("<12i", "the arguments")
    args: dict[str, Any] = dict(zip(_ARG_NAMES, values, strict=True))
    (args["t"],) = r.unpack("<d", "the arguments")
    if args["model"] != 3:
        name = _MODELS.get(args["model"], f"unknown model type {args['model']}")
        raise _error(path, f"a fastText {name} model (word vectors), not a classifier")
    if args["loss"] not in _LOSSES:
        raise _error(path, f"invalid fastText model file (unknown loss {args['loss']})")
    if version == 11:  # fastText: supervised models of version 11 had no character n-grams
        args["maxn"] = 0
    dim, bucket = args["dim"], args["bucket"]
    checks = (
        (1 <= dim <= _MAX_DIM, f"dim {dim}"),
        (1 <= args["wordNgrams"] <= _MAX_NGRAMS, f"wordNgrams {args['wordNgrams']}"),
        (0 <= args["minn"] <= _MAX_CHARS and 0 <= args["maxn"] <= _MAX_CHARS, "minn/maxn"),
        (bucket >= 0, f"bucket {bucket}"),
        (bucket > 0 or (args["wordNgrams"] <= 1 and args["maxn"] <= 0), "bucket 0 with n-grams"),
    )
    for ok, what in checks:
        if not ok:
            raise _error(path, f"invalid fastText model file ({what})")
    return version, args


def _read_dictionary(r: _Reader, bucket: int) -> dict[str, Any]:
    """The dictionary (words then labels, their counts) and the prune index, each checked.

    Returns a dict with ``words``, ``counts``, ``nwords``, ``nlabels``, ``ntokens`` and
    ``prune`` (``None``, or the kept hash buckets and their rows, a later duplicate winning).
    """
    path, buf = r.path, r.buf
    size, nwords, nlabels, ntokens, prune_size = r.unpack("<iiiqq", "the dictionary header")
    if not (0 <= nwords and 1 <= nlabels and size == nwords + nlabels and ntokens >= 0):
        raise _error(
            path,
            f"invalid fastText model file (dictionary of {size} entries: {nwords} words, "
            f"{nlabels} labels)",
        )
    if size * 10 > r.remaining():  # each entry takes at least 10 bytes
        raise _error(path, f"truncated fastText model file ({size} dictionary entries)")
    if prune_size < -1 or prune_size * 8 > r.remaining():
        raise _error(path, f"invalid fastText model file (prune index of {prune_size})")
    words: list[bytes] = []
    counts = np.empty(size, np.int64)
    pos = r.pos
    unpack_tail = struct.Struct("<qb").unpack_from
    for i in range(size):
        end = buf.find(b"\0", pos)
        if end < 0 or end + 10 > r.size:
            raise _error(path, "truncated fastText model file (inside the dictionary)")
        count, kind = unpack_tail(buf, end + 1)
        if kind != (0 if i < nwords else 1) or count < 0:
            raise _error(
                path,
                f"invalid fastText model file (dictionary entry {i}: type {kind}, count {count})",
            )
        words.append(bytes(buf[pos:end]))
        counts[i] = count
        pos = end + 10
    r.pos = pos
    prune = _read_prune_index(r, prune_size, bucket) if prune_size >= 0 else None
    return {
        "words": words,
        "counts": counts,
        "nwords": nwords,
        "nlabels": nlabels,
        "ntokens": ntokens,
        "prune": prune,
    }


def _read_prune_index(r: _Reader, prune_size: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """The prune index of a pruned model: kept hash buckets and their rows (int64)."""
    pairs = r.array("<i4", 2 * prune_size, "the prune index").reshape(-1, 2)
    keys, rows = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    if keys.size and (keys.min() < 0 or keys.max() >= max(bucket, 1) or rows.min() < 0):
        raise _error(r.path, "invalid fastText model file (prune index out of range)")
    # a later duplicate key wins, as in fastText's hash map
    last = keys.size - 1 - np.unique(keys[::-1], return_index=True)[1]
    return keys[last], rows[last]


def _read_matrices(r: _Reader, dim: int, nlabels: int) -> tuple[Any, np.ndarray, bool, bool]:
    """The input matrix (dense or :class:`_Quantized`), the output matrix (dense), whether
    the input is quantised and whether the output was; nothing may follow them.  A quantised
    output matrix is decoded only once its rows are the labels' (each code byte decodes to a
    whole sub-vector: a small file could declare gigabytes)."""
    quant_input = r.flag("the quantised-input")
    A = _read_quantized(r, "input", dim) if quant_input else _read_dense(r, "input", dim)
    qout = r.flag("the quantised-output")
    if quant_input and qout:
        quantized = _read_quantized(r, "output", dim)
        rows = quantized.codes.shape[0]
        if rows != nlabels:
            what = f"{rows} output rows, {nlabels} labels"
            raise _error(r.path, f"invalid fastText model file ({what})")
        B = quantized.dense()
    else:
        B = _read_dense(r, "output", dim)
    if r.remaining():
        raise _error(
            r.path, f"invalid fastText model file ({r.remaining()} bytes of trailing data)"
        )
    return A, B, quant_input, qout


def _check_matrices(A, B: np.ndarray, args: dict[str, Any], vocab: dict[str, Any], path) -> None:
    """Check the matrix shapes against the dictionary and arguments, and their values."""
    nwords, nlabels, prune = vocab["nwords"], vocab["nlabels"], vocab["prune"]
    if B.shape[0] != nlabels:
        raise _error(
            path, f"invalid fastText model file ({B.shape[0]} output rows, {nlabels} labels)"
        )
    hashed = args["wordNgrams"] > 1 or args["maxn"] > 0
    needed = nwords
    if prune is not None:
        needed = nwords + (int(prune[1].max()) + 1 if prune[1].size else 0)
    elif hashed:
        needed = nwords + args["bucket"]
    if A.shape[0] < needed:
        raise _error(
            path,
            f"invalid fastText model file (input matrix has {A.shape[0]} rows, needs {needed})",
        )
    if not np.isfinite(B).all():
        raise _error(path, "invalid fastText model file (non-finite values in the output matrix)")
    if isinstance(A, np.ndarray) and A.nbytes < _SCAN_MAX_BYTES:
        # a large input matrix stays unread (memory-mapped): a non-finite value in it can only
        # make the probabilities of the lines that use its row NaN
        _check_finite(A, path, "the input matrix")


def _parse(buf, path, matrices: tuple | None = None) -> dict[str, Any]:
    """The parts of a fastText model file held in ``buf`` (any problem: ModelFileError).

    ``matrices``: the input and output matrices given apart, as a converted model file holds
    them — ``(A, B, quantised input, quantised output)``, ``A`` dense (``(m, dim)``) or
    :class:`_Quantized` — and ``buf`` ending after the dictionary.  They are checked as the
    file's own would be, and a large dense ``A`` (a memory map) is neither copied nor read."""
    r = _Reader(buf, path)
    version, args = _read_args(r)
    vocab = _read_dictionary(r, args["bucket"])
    if matrices is None:
        A, B, quant_input, qout = _read_matrices(r, args["dim"], vocab["nlabels"])
    else:
        if r.remaining():
            raise _error(path, "invalid fastText section (data after the dictionary)")
        A, B, quant_input, qout = matrices
        for what, M in (("input", A), ("output", B)):
            if M.shape[1:] != (args["dim"],):
                raise _error(
                    path, f"invalid fastText section ({what} matrix {M.shape}, dim {args['dim']})"
                )
        with np.errstate(over="ignore"):  # judged as the float32 they become (1e300: inf)
            B = np.asarray(B, dtype="<f4")
            if not isinstance(A, _Quantized):
                A = np.asarray(A, dtype="<f4")  # a float32 memory map stays one
    _check_matrices(A, B, args, vocab, path)
    return {
        "version": version,
        "args": args,
        "words": vocab["words"],
        "counts": vocab["counts"],
        "nwords": vocab["nwords"],
        "ntokens": vocab["ntokens"],
        "prune": vocab["prune"],
        "A": A,
        "B": np.asarray(B, dtype=np.float32),
        "quantized": quant_input,
        "qout": bool(quant_input and qout),
    }


def _open_map(path):
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise _error(path, "not a regular file, so not a model file")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise _error(path, "empty file, not a fastText model")
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise _error(path, "no such model file") from None
    except IsADirectoryError:
        raise _error(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise _error(path, f"cannot read model file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise _error(path, f"invalid path ({exc})") from None
