"""Run fastText supervised models (``.bin`` and quantised ``.ftz``) without fastText.

:func:`load_fasttext` parses the binary file written by fastText's ``save_model`` /
``quantize`` and returns a :class:`FastTextModel`: an object with the prediction API of
:class:`~bowclf.TextClassifier` (``predict``, ``predict_proba``, ``predict_topk``,
``classes_``) that reproduces fastText's featurisation and output layers exactly.

The binary file is read by :mod:`bowclf.io.fasttext_reader` (its docstring gives the file
layout and the bounds checked).

Featurisation of one line (fastText's ``Dictionary::getStringNoNewline`` and ``getLine``):
tokens are the maximal runs of bytes other than space, ``\\t \\n \\v \\f \\r \\0`` in the
UTF-8 text up to its first newline (or up to a literal ``</s>`` token, where ``getLine``
stops too), followed by the end-of-line token ``</s>``.  A token
that is a dictionary label, or an unknown token starting with the label prefix, is skipped.
Every other token contributes its dictionary row (if known), the rows of its character
n-grams (``minn..maxn`` characters of ``"<" + token + ">"``, not the lone ``<``/``>``, none
for ``</s>``) at ``nwords + fnv1a(ngram) mod bucket``, and its 32-bit hash to the word
n-grams: for ``k = 2..wordNgrams`` consecutive tokens ``g = h_i;  g = g * 116049371 + h_j``
(64-bit, hashes sign-extended from int32) gives row ``nwords + g mod bucket``.  In a pruned
(``.ftz`` with ``-cutoff``) model a hashed row ``b`` is replaced by ``nwords + prune[b]``
and dropped when ``b`` is not kept.  FNV-1a uses sign-extended bytes (fastText's quirk).

Output layers: the hidden vector is the mean of the rows (a quantised row is its centroids
times its quantised norm); ``softmax`` gives ``softmax(B·h)``; ``ova`` (and ``ns``) give
``σ(B·h)`` per label through fastText's 512-entry sigmoid table (what fastText predicts; a
score within float32 rounding of one of the table's steps may take the neighbouring entry,
as fastText sums in float32 in its own order);
``hs`` builds fastText's Huffman tree from the label counts and gives each label the
product of ``σ(B_node·h)`` or ``1 − σ(B_node·h)`` along its path.  A line with no rows at
all gets ``h = 0`` (fastText prints no label for it).

fastText's ``predict`` reports ``exp(log(p + 1e-5))`` (``+1e-5`` inside its log) and for
``hs`` the product of ``(σ + 1e-5)`` factors along the path: :meth:`FastTextModel.
fasttext_scores` returns those numbers, :meth:`FastTextModel.predict_proba` the exact
probabilities.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import _math
from .._limits import is_int
from ..hsoftmax import HuffmanTree
from ..inference import DECISION_CELLS, check_texts, check_topk
from ..vectorizer.hashing import bytes_hashes, subword_hashes, word_ngram_hashes
from .fasttext_reader import (
    _ARG_NAMES,
    _LOSSES,
    MAGIC,
    _error,
    _open_map,
    _parse,
    _Quantized,
    is_fasttext_file,
)
from .quantized import checked_members, quantized_members

__all__ = ["FastTextModel", "is_fasttext_file", "load_fasttext", "fasttext_info"]

EOS = b"</s>"
_BATCH_ROWS = 1 << 18  # rows gathered at once when averaging (bounds the temporaries)
_DOC_BATCH = 4096


def load_fasttext(path: str | os.PathLike, *, label_prefix: str = "__label__") -> FastTextModel:
    """Load a fastText supervised model (``.bin`` or quantised ``.ftz``).

    Parameters
    ----------
    path : path-like
        The file written by fastText's ``save_model`` (after ``train_supervised``, optionally
        ``quantize``).
    label_prefix : str, default='__label__'
        fastText's ``-label`` prefix (the file does not store it): stripped from the label
        names in ``classes_``, and unknown tokens starting with it are skipped as labels.

    Raises
    ------
    bowclf.persist.ModelFileError
        If the file is missing, not a fastText supervised model, truncated or inconsistent
        (one line naming the file and the problem).
    """
    buf = _open_map(path)
    try:
        parts = _parse(buf, path)
    except BaseException:
        try:
            buf.close()
        except BufferError:  # views into the map are still referenced: the GC closes it
            pass
        raise
    try:
        return FastTextModel(parts, label_prefix=label_prefix, source=os.fspath(path), buffer=buf)
    except ValueError as exc:  # what the parts cannot make (e.g. hs's label tree)
        raise _error(path, f"invalid fastText model file ({exc})") from None


def fasttext_info(path: str | os.PathLike) -> dict[str, Any]:
    """A header dict describing a fastText model, shaped like :func:`bowclf.persist.info`."""
    model = load_fasttext(path)
    return model.header()


# ---------------------------------------------------------------------- hashing
# ---------------------------------------------------------------------- the model
class FastTextModel:
    """A fastText supervised model, read from its ``.bin``/``.ftz`` file (see the module).

    Attributes
    ----------
    classes_ : ndarray of str
        Label names without the label prefix, in fastText's label order (most frequent first).
    loss : str
        ``'softmax'``, ``'ova'``, ``'ns'`` or ``'hs'``.
    args : dict
        fastText's stored arguments (``dim``, ``wordNgrams``, ``bucket``, ``minn``, ...).
    multilabel_ : bool
        Always False: the model predicts one label per line (use ``predict_topk`` for more).
    """

    multilabel_ = False

    def __init__(self, parts: dict[str, Any], *, label_prefix: str, source: str, buffer=None):
        self._buffer = buffer  # keeps the memory map (and the views into it) alive
        self.source = source
        self.version = parts["version"]
        self.args = parts["args"]
        self.loss = _LOSSES[self.args["loss"]]
        self.label_prefix = label_prefix
        self._prefix = label_prefix.encode("utf-8")
        nwords = parts["nwords"]
        self.nwords = nwords
        words = parts["words"]
        self.words = words[:nwords]
        self.counts = parts["counts"]
        self.ntokens = parts["ntokens"]
        self.labels = words[nwords:]
        self.label_counts = parts["counts"][nwords:]
        self._word_id = {w: i for i, w in enumerate(words)}  # later duplicates win
        self.classes_ = np.array(
            [
                w.decode("utf-8", "replace")[len(label_prefix) :]
                if w.startswith(self._prefix)
                else w.decode("utf-8", "replace")
                for w in self.labels
            ]
        )
        self.prune = parts["prune"]
        self.A = parts["A"]
        self.B = parts["B"]
        self.quantized = parts["quantized"]
        self.qout = parts["qout"]
        if self.prune is not None:
            order = np.argsort(self.prune[0])
            self._prune_keys = self.prune[0][order]
            self._prune_rows = self.prune[1][order]
        if self.loss == "hs":
            self._paths, self._codes = _label_paths(self.label_counts)

    # ------------------------------------------------------------------ featurisation
    def _row_of_hash(self, buckets: np.ndarray) -> np.ndarray:
        """Input rows of hash buckets (int64; -1 where a pruned model dropped the bucket)."""
        if self.prune is None:
            return buckets + self.nwords
        keys = self._prune_keys
        if keys.size == 0:
            return np.full(buckets.shape, -1, np.int64)
        pos = np.minimum(np.searchsorted(keys, buckets), keys.size - 1)
        found = keys[pos] == buckets
        return np.where(found, self._prune_rows[pos] + self.nwords, -1)

    def _token_table(self, tokens: list[bytes]):
        """Per distinct token: whether it is a feature token, its int64 (sign-extended) hash,
        and its rows (dictionary row and character n-gram rows) as a CSR-like pair."""
        n = len(tokens)
        word_id = self._word_id
        nwords = self.nwords
        prefix = self._prefix
        ids = np.array([word_id.get(t, -1) for t in tokens], dtype=np.int64)
        is_label = np.array(
            [
                (i >= nwords) if i >= 0 else t.startswith(prefix)
                for t, i in zip(tokens, ids, strict=True)
            ],
            dtype=bool,
        )
        hashes = bytes_hashes(tokens).view(np.int32).astype(np.int64)
        # rows per token: its dictionary row, then its character n-grams
        own_tok = np.flatnonzero((ids >= 0) & ~is_label)
        row_tok = [own_tok]
        row_val = [ids[own_tok]]
        maxn, minn = self.args["maxn"], self.args["minn"]
        if maxn > 0:
            subject = np.flatnonzero(~is_label & np.array([t != EOS for t in tokens], bool))
            if subject.size:
                t_ng, r_ng = self._char_ngrams([tokens[i] for i in subject], minn, maxn)
                row_tok.append(subject[t_ng])
                row_val.append(r_ng)
        tok = np.concatenate(row_tok)
        val = np.concatenate(row_val)
        order = np.argsort(tok, kind="stable")
        tok, val = tok[order], val[order]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(tok, minlength=n), out=indptr[1:])
        return ~is_label, hashes, indptr, val

    def _char_ngrams(self, tokens: list[bytes], minn: int, maxn: int):
        """Rows of the character n-grams of ``"<" + token + ">"`` for each token.

        Returns ``(token_index, row)`` pairs (:func:`~bowclf.vectorizer.hashing.subword_hashes`:
        n-grams run over UTF-8 characters; the lone markers ``<`` and ``>`` are skipped).
        """
        toks, hashes = subword_hashes(tokens, minn, maxn)
        buckets = (hashes % np.uint32(self.args["bucket"])).astype(np.int64)
        rows = self._row_of_hash(buckets)
        keep = rows >= 0
        return toks[keep], rows[keep]

    def featurize(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Input rows of each line, exactly as fastText computes them.

        Returns ``(indptr, rows)``: line ``i`` averages the input rows
        ``rows[indptr[i]:indptr[i+1]]`` (with repetitions).
        """
        texts = check_texts(texts)
        lines = []
        for text in texts:
            data = text.encode("utf-8", "surrogatepass")
            cut = data.find(b"\n")
            if cut >= 0:
                data = data[:cut]
            toks = data.replace(b"\0", b" ").split()
            if EOS in toks:  # fastText's getLine ends the line at a literal </s> token too
                toks = toks[: toks.index(EOS)]
            lines.append(toks + [EOS])
        index: dict[bytes, int] = {}
        distinct: list[bytes] = []
        tok_ids = []
        for toks in lines:
            ids = []
            for t in toks:
                j = index.get(t)
                if j is None:
                    j = index[t] = len(distinct)
                    distinct.append(t)
                ids.append(j)
            tok_ids.append(ids)
        n_docs = len(lines)
        if not distinct:
            return np.zeros(n_docs + 1, np.int64), np.empty(0, np.int64)
        is_feature, hashes, t_ptr, t_rows = self._token_table(distinct)
        doc_len = np.fromiter(map(len, tok_ids), np.int64, n_docs)
        seq = np.fromiter((j for ids in tok_ids for j in ids), np.int64, int(doc_len.sum()))
        seq_doc = np.repeat(np.arange(n_docs), doc_len)
        keep = is_feature[seq]
        seq, seq_doc = seq[keep], seq_doc[keep]
        # rows of the tokens themselves (dictionary row + character n-grams)
        per_tok = (t_ptr[1:] - t_ptr[:-1])[seq]
        first = t_ptr[seq]
        total = int(per_tok.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(per_tok) - per_tok, per_tok)
        rows_tok = t_rows[np.repeat(first, per_tok) + offsets]
        docs_tok = np.repeat(seq_doc, per_tok)
        parts_rows, parts_docs = [rows_tok], [docs_tok]
        # word n-grams over consecutive feature tokens of one line
        nmax = self.args["wordNgrams"]
        if nmax > 1 and seq.size:
            bucket = np.uint64(self.args["bucket"])
            for k, g in enumerate(word_ngram_hashes(hashes[seq].view(np.uint64), nmax), start=1):
                same = seq_doc[: seq.size - k] == seq_doc[k:]
                rows = self._row_of_hash((g[same] % bucket).astype(np.int64))
                ok = rows >= 0
                parts_rows.append(rows[ok])
                parts_docs.append(seq_doc[: seq.size - k][same][ok])
        rows = np.concatenate(parts_rows)
        docs = np.concatenate(parts_docs)
        order = np.argsort(docs, kind="stable")
        indptr = np.zeros(n_docs + 1, np.int64)
        np.cumsum(np.bincount(docs, minlength=n_docs), out=indptr[1:])
        return indptr, rows[order]

    # ------------------------------------------------------------------ forward
    def _gather(self, ids: np.ndarray) -> np.ndarray:
        if isinstance(self.A, _Quantized):
            return self.A.rows(ids)
        return np.asarray(self.A[ids], dtype=np.float32)

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Hidden vectors: the mean input row of each line (float32, n×dim; 0 if no rows)."""
        indptr, rows = self.featurize(texts)
        n = indptr.size - 1
        H = np.zeros((n, self.args["dim"]), np.float32)
        lengths = np.diff(indptr)
        start = 0
        while start < n:
            stop = start + 1
            while stop < n and indptr[stop + 1] - indptr[start] <= _BATCH_ROWS:
                stop += 1
            block = rows[indptr[start] : indptr[stop]]
            if block.size:
                vecs = self._gather(block)
                seg = np.repeat(np.arange(stop - start), lengths[start:stop])
                _segment_sum(H[start:stop], seg, vecs)
            start = stop
        nz = lengths > 0
        H[nz] /= lengths[nz, None].astype(np.float32)
        return H

    def _scores(self, H: np.ndarray) -> np.ndarray:
        """``H·Bᵀ`` in float64, each row alone (:func:`bowclf._math.row_scores`): a document
        gets the same numbers in any batch."""
        return _math.row_scores(H.astype(np.float64), self.B.astype(np.float64))

    def _output(self, H: np.ndarray) -> np.ndarray:
        """Per-label probabilities (float64) from hidden vectors."""
        S = self._scores(H)
        if self.loss == "softmax":
            return _math.softmax(S)
        if self.loss in ("ova", "ns"):
            return _table_sigmoid(S.astype(np.float32)).astype(np.float64)
        return self._path_products(S)

    def _path_products(self, S: np.ndarray, plus: float = 0.0) -> np.ndarray:
        """hs: each label's product of ``q + plus`` over the branch probabilities ``q`` on its
        path, from the scores ``S`` of the inner nodes (inner node i is output row i)."""
        F = 1.0 / (1.0 + np.exp(-S))
        P = np.ones((S.shape[0], self.classes_.size))
        for label, (path, code) in enumerate(zip(self._paths, self._codes, strict=True)):
            for node, right in zip(path, code, strict=True):
                P[:, label] *= (F[:, node] if right else 1.0 - F[:, node]) + plus
        return P

    def _in_batches(self, X: Iterable[str], output: Callable[[np.ndarray], np.ndarray]):
        """``output`` of the hidden vectors of ``X``'s lines, a bounded batch of them at a
        time (n×c float64; at most :data:`~bowclf.inference.DECISION_CELLS` hidden or output
        values a batch, and :data:`_DOC_BATCH` lines)."""
        texts = check_texts(X)
        width = max(self.args["dim"], self.classes_.size)
        step = max(1, min(_DOC_BATCH, DECISION_CELLS // width))
        out = [output(self.transform(texts[i : i + step])) for i in range(0, len(texts), step)]
        return np.vstack(out) if out else np.zeros((0, self.classes_.size))

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Label probabilities: softmax rows sum to 1; ``ova`` gives independent sigmoids
        (fastText's table); ``hs`` the product along each label's Huffman path (rows sum to 1).

        Parameters
        ----------
        X : iterable of str
            The documents (lines), tokenised as fastText does.

        Returns
        -------
        ndarray of shape (n, c), float64
            Columns in ``classes_`` order.
        """
        return self._in_batches(X, self._output)

    def fasttext_scores(self, X: Iterable[str]) -> np.ndarray:
        """The numbers fastText's ``predict`` reports for every label: ``p + 1e-5`` for
        softmax/ova (its ``exp(log(p + 1e-5))``) and, for ``hs``, the product of ``(q + 1e-5)``
        over the branch probabilities ``q`` on the label's path.

        Parameters
        ----------
        X : iterable of str
            The documents (lines), tokenised as fastText does.

        Returns
        -------
        ndarray of shape (n, c), float64
            Columns in ``classes_`` order.
        """
        if self.loss != "hs":
            return self.predict_proba(X) + 1e-5
        return self._in_batches(X, lambda H: self._path_products(self._scores(H), 1e-5))

    def for_documents(self, texts: list[str]) -> _Documents:
        """This model's predictions (``predict``, ``predict_proba``, ``predict_topk``) with
        the list ``texts``' probabilities computed once for all of them — the same answers,
        for a caller asking several of the same documents (an evaluation report)."""
        return _Documents(self, texts)

    def predict(self, X: Iterable[str]) -> np.ndarray:
        """The most probable label of each line.

        Parameters
        ----------
        X : iterable of str
            The documents (lines), tokenised as fastText does.

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_`` (the first of equally probable ones).
        """
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)] if P.size else self.classes_[:0]

    def predict_topk(
        self, X: Iterable[str], k: int = 1, threshold: float = 0.0
    ) -> list[list[tuple[str, float]]]:
        """Up to ``k`` ``(label, probability)`` pairs per line, most probable first.

        Parameters
        ----------
        X : iterable of str
            The documents (lines), tokenised as fastText does.
        k : int, default=1
            Labels per line at most (an integer >= 1).
        threshold : float, default=0.0
            Leave out labels whose probability is below it (a number in [0, 1]).

        Returns
        -------
        list of list of (str, float)
            One list per line.

        Raises
        ------
        ValueError
            If ``k`` or ``threshold`` is out of range (:func:`bowclf.inference.check_topk`).
        """
        k, threshold = check_topk(k, threshold)
        P = self.predict_proba(X)
        order = np.argsort(-P, axis=1, kind="stable")[:, :k]
        out = []
        for row, idx in zip(P, order, strict=True):
            out.append([(str(self.classes_[j]), float(row[j])) for j in idx if row[j] >= threshold])
        return out

    def header(self) -> dict[str, Any]:
        """A description shaped like a bowclf model header (for ``bowclf info``)."""
        a = self.args
        rows, dim = self.A.shape
        return {
            "format": "fasttext",
            "format_version": self.version,
            "bowclf_version": "n/a (a fastText file)",
            "created": None,
            "kind": "FastTextModel",
            "params": {
                **{k: v for k, v in a.items() if k != "loss" and k != "model"},
                "loss": self.loss,
                "quantized": self.quantized,
                "qout": self.qout,
                "pruned": self.prune is not None,
                "label_prefix": self.label_prefix,
            },
            "arrays": {
                "classifier/A": {"dtype": "<f4", "shape": [rows, dim]},
                "classifier/B": {"dtype": "<f4", "shape": list(self.B.shape)},
                "classifier/classes": {"dtype": "<U", "shape": [int(self.classes_.size)]},
                "vectorizer/words": {"dtype": "|S", "shape": [self.nwords]},
            },
        }


class _Documents:
    """:meth:`FastTextModel.for_documents`'s view: the probabilities of its ``texts`` once."""

    def __init__(self, model: FastTextModel, texts: list[str]) -> None:
        self.model, self.texts, self.classes_ = model, texts, model.classes_
        self._proba: np.ndarray | None = None

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        if X is not self.texts:
            return self.model.predict_proba(X)
        if self._proba is None:
            self._proba = self.model.predict_proba(X)
            self._proba.flags.writeable = False  # shared by every answer: never changed
        return self._proba

    predict = FastTextModel.predict  # both read predict_proba and classes_
    predict_topk = FastTextModel.predict_topk


def _segment_sum(out: np.ndarray, seg: np.ndarray, vecs: np.ndarray) -> None:
    """``out[s] += Σ vecs[i]`` over the rows ``i`` with ``seg[i] == s`` (``seg`` sorted)."""
    if not seg.size:
        return
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    out[seg[starts]] += np.add.reduceat(vecs, starts, axis=0)


def _table_sigmoid(x: np.ndarray) -> np.ndarray:
    """fastText's sigmoid: 0 below -8, 1 above 8, else a 513-entry table indexed by
    ``int((x + 8) * 512 / 8 / 2)`` (float32 arithmetic)."""
    table = (1.0 / (1.0 + np.exp(-((np.arange(513) * 16).astype(np.float32) / 512 - 8)))).astype(
        np.float32
    )
    x = x.astype(np.float32)
    idx = ((x + np.float32(8)) * np.float32(512) / np.float32(8) / np.float32(2)).astype(np.float32)
    inside = (x >= -8) & (x <= 8)
    out = np.where(x > 8, np.float32(1), np.float32(0)).astype(np.float32)
    out[inside] = table[np.clip(idx[inside].astype(np.int64), 0, 512)]
    return out


def _label_paths(counts: np.ndarray) -> tuple[list[list[int]], list[list[bool]]]:
    """fastText's hierarchical-softmax tree over its labels, as stored: each label's path of
    output rows from the leaf up, and its branch codes (True: right child).

    The tree is :func:`bowclf.hsoftmax.huffman_tree`'s, which builds it as fastText's
    ``buildTree`` does over labels in decreasing count, as fastText always stores them.
    Counts fastText never writes are refused (``ValueError``): below 1, increasing, or so
    large that their sums are not exact; one label has the empty path (probability 1).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 1:
        return [[]], [[]]
    if counts.min() < 1 or np.any(np.diff(counts) > 0) or counts.max() >= 2**52 // counts.size:
        raise ValueError("hierarchical softmax label counts must decrease from a plausible size")
    tree = HuffmanTree.from_counts(counts)
    bounds = tree.path_indptr.tolist()
    nodes, codes = tree.path_nodes.tolist(), tree.path_codes.astype(bool).tolist()
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    return [nodes[a:b] for a, b in spans], [codes[a:b] for a, b in spans]


# ---------------------------------------------------------------------- bowclf model files
def to_members(model: FastTextModel) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Header and arrays of a bowclf model file holding ``model`` (kind ``FastTextModel``)."""
    header = {
        "kind": "FastTextModel",
        "params": {},
        "fasttext": {
            "version": model.version,
            "args": dict(model.args),
            "label_prefix": model.label_prefix,
            "nwords": model.nwords,
            "ntokens": int(model.ntokens),
            "qout": model.qout,
        },
    }
    words = model.words + model.labels
    arrays = {
        "fasttext/words": np.array(words if words else [b""], dtype=np.bytes_)[: len(words)],
        "fasttext/counts": np.asarray(model.counts, np.int64),
        "fasttext/B": np.ascontiguousarray(model.B, np.float32),
    }
    if model.prune is not None:
        arrays["fasttext/prune"] = np.stack(model.prune, axis=1).astype(np.int64).reshape(-1, 2)
    if isinstance(model.A, _Quantized):
        arrays.update(quantized_members("fasttext/A", model.A))
    else:
        arrays["fasttext/A"] = np.ascontiguousarray(model.A, np.float32)
    return header, arrays


def _is_int(value: Any, bound: int) -> bool:
    """An integer (:func:`bowclf._limits.is_int`) in ``[-bound, bound)``."""
    return is_int(value) and -bound <= value < bound


def from_members(header: dict[str, Any], arrays: dict[str, np.ndarray], path) -> FastTextModel:
    """Rebuild a :class:`FastTextModel` from a bowclf model file (checked like a ``.bin``)."""
    section = header.get("fasttext")
    if not isinstance(section, dict) or not isinstance(section.get("args"), dict):
        raise _error(path, "header has no valid fasttext section")
    args = section["args"]
    if set(args) != set(_ARG_NAMES) | {"t"}:
        raise _error(path, "the fasttext section has the wrong arguments")
    for key in _ARG_NAMES:  # int32 in fastText's layout
        if not _is_int(args[key], 2**31):
            raise _error(path, f"fasttext argument {key} is not a 32-bit integer")
    if not isinstance(args["t"], int | float) or isinstance(args["t"], bool):
        raise _error(path, "fasttext argument t is not a number")
    for key, bound in (("version", 2**31), ("ntokens", 2**63)):
        if not _is_int(section.get(key, 0), bound):
            raise _error(path, f"the fasttext section's {key} is not a plausible integer")
    if not isinstance(section.get("qout", False), bool):
        raise _error(path, "the fasttext section's qout is not true or false")
    words = [bytes(w) for w in arrays["fasttext/words"].tolist()]
    counts = np.asarray(arrays["fasttext/counts"], np.int64)
    nwords, prefix = section.get("nwords"), section.get("label_prefix")
    if not isinstance(nwords, int) or not isinstance(prefix, str) or len(prefix) > 256:
        raise _error(path, "the fasttext section has no valid nwords or label_prefix")
    # Re-serialise the header and dictionary to fastText's layout and let the one
    # bounds-checked parser judge them, with the matrices (checked by it, not copied).
    blob = bytearray(struct.pack("<ii", MAGIC, 12))
    blob += struct.pack("<12i", *(args[k] for k in _ARG_NAMES)) + struct.pack("<d", args["t"])
    prune = arrays.get("fasttext/prune")
    if counts.shape != (len(words),) or (prune is not None and prune.shape[1:] != (2,)):
        raise _error(path, "inconsistent fasttext members (words, counts, prune index)")
    blob += struct.pack(
        "<iiiqq",
        len(words),
        nwords,
        len(words) - nwords,
        int(section.get("ntokens", 0)),
        -1 if prune is None else prune.shape[0],
    )
    for i, (w, c) in enumerate(zip(words, counts.tolist(), strict=True)):
        if b"\0" in w:
            raise _error(path, "a fasttext word contains NUL")
        blob += w + b"\0" + struct.pack("<qb", c, 0 if i < nwords else 1)
    if prune is not None:
        if prune.size and (prune.min() < -(2**31) or prune.max() >= 2**31):
            raise _error(path, "fasttext prune index out of range")
        blob += prune.astype("<i4").tobytes()
    dim = args["dim"]
    quantized = "fasttext/A_codes" in arrays
    if quantized:  # kept coded, as a .ftz is: rows are decoded when a document needs them
        try:
            A = _Quantized.from_members(*checked_members(arrays, "fasttext/A", dim), dim)
        except ValueError as exc:
            raise _error(path, f"inconsistent model file: {exc}") from None
    else:
        A = arrays["fasttext/A"]  # a memory map of a large matrix: not copied, not read
    qout = quantized and bool(section.get("qout", False))
    parts = _parse(bytes(blob), path, matrices=(A, arrays["fasttext/B"], quantized, qout))
    return FastTextModel(parts, label_prefix=prefix, source=os.fspath(path))
