"""Exact explanations of the model's class scores, feature by feature.

The model scores a document ``x`` (weighted counts, see :class:`~bowclf.TextClassifier`) by
``s = B·A·x̃`` with ``x̃ = σ·x`` (``σ`` = the row scale of ``normalize``: ``1/‖x‖₁``,
``1/‖x‖₂`` or 1) and no bias term.  ``s`` is linear in ``x̃``, so it splits exactly over the
document's features::

    s_k = Σ_j x̃_j · (B·A[:, j])_k        contrib_jk = x̃_j · (B·A[:, j])_k

for every class ``k`` — no sampling and no approximation (unlike LIME or SHAP): the
contributions (computed in float64) sum to the score the model computes in float32, up to that
rounding: ``|Σ_j contrib_jk − s_k| ≤ 1e-5·max(|s_k|, Σ_j |contrib_jk|)``, checked by the tests
and on every benchmark corpus by ``bench/bench_explain.py`` (relative to ``|s_k|`` alone only a
score that nearly cancels, ``|s_k| ≪ Σ_j |contrib_jk|``, can miss 1e-5).  The probabilities
are the model's own (``softmax(s)`` for ``loss='softmax'``, ``σ(s_k)`` for ``loss='ova'``,
normalised for single-label ova models), which are monotone in each class's score.

Each feature is named by what it counts in the document: a vocabulary word, or for a hashed
column (word n-grams, character n-grams) the n-gram texts of *this document* that fall into the
bucket (``"not good"``, ``"<goo"``), joined by ``" | "`` on a hash collision.  The names are
found by re-applying the vectorizer's documented hash formulas to the document's tokens
(:func:`document_occurrences`); a column the re-hash cannot name keeps the vectorizer's name
``ngram#b``.  Token attributions (for highlighting) split each feature's contribution evenly
over its occurrences and each occurrence evenly over the tokens it spans, so they sum to the
score as well.

Hierarchical softmax (``loss='hs'``, another branch): a label's score there is its path
log-probability ``Σ_nodes log σ(±B_node·A·x̃)``, which is not linear in ``x̃``; what is exact is
each path node's logit ``B_node·A·x̃``, which :func:`contributions` splits with the node rows
in place of ``B``.  :func:`linear_heads` is the single place that decides which rows a loss
exposes; it refuses losses it does not know, so an hs model gets a clear error until the hs
branch states what it explains.

Model-level views: :func:`top_features` (the features whose one-feature document is most
probably each class, for every loss: it needs only probabilities) and :func:`neighbors`
(nearest words by the cosine of their embeddings).
:func:`explanation_html` and :func:`explanations_page` render explanations as HTML.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from . import _math
from ._json import plain
from .inference import featureless_order
from .vectorizer import token_hashes, word_ngram_hashes
from .vectorizer.hashing import char_ngrams

if TYPE_CHECKING:  # pragma: no cover
    from .classifier import BowClassifier
    from .text import TextClassifier
    from .vectorizer import BowVectorizer

__all__ = [
    "ClassExplanation",
    "Explanation",
    "confusion_explainer",
    "contributions",
    "document_occurrences",
    "explain_documents",
    "explanation_html",
    "explanations_page",
    "linear_heads",
    "neighbors",
    "scaled_inputs",
    "top_features",
]

#: Losses whose class scores are the linear ``B·A·x̃`` (see the module docstring for hs).
LINEAR_LOSSES = ("softmax", "ova")


# ---------------------------------------------------------------------- the formulas
def scaled_inputs(X: sp.csr_array, normalize: _math.Normalize) -> sp.csr_array:
    """``X̃ = diag(σ)·X`` as the model computes it (float32 values, ``σ`` from
    :func:`bowclf._math.row_scale`): the ``x̃`` whose contributions are explained.

    Parameters
    ----------
    X : sparse matrix of shape (n, p)
        Classifier inputs (weighted counts).
    normalize : {'l1', 'l2'} or None
        The classifier's row scaling (:meth:`BowClassifier.row_scaling`).

    Returns
    -------
    scipy.sparse.csr_array of shape (n, p)
        The scaled rows, float32.
    """
    X = _math.as_csr(X)
    return _math.scale_rows(X, _math.row_scale(X, normalize), dtype=np.float32)


def contributions(
    values: np.ndarray, columns: np.ndarray, A: np.ndarray, B_rows: np.ndarray
) -> np.ndarray:
    """Per-feature contributions ``C_kj = x̃_j · (B·A[:, j])_k`` (r×m, float64).

    Parameters
    ----------
    values : ndarray of shape (m,)
        The non-zero ``x̃_j`` of one document.
    columns : ndarray of shape (m,)
        Their features ``j``.
    A : ndarray of shape (d, p)
        The embedding matrix.
    B_rows : ndarray of shape (r, d)
        The rows of ``B`` of the classes explained.

    Returns
    -------
    ndarray of shape (r, m)
        ``C``; ``C.sum(axis=1)`` is ``B_rows·A·x̃``, the scores, exactly (in float64
        arithmetic).
    """
    weights = np.asarray(B_rows, np.float64) @ np.asarray(A[:, columns], np.float64)
    return weights * np.asarray(values, np.float64)[None, :]


def linear_heads(classifier: BowClassifier) -> np.ndarray:
    """The c×d rows whose products with ``h = A·x̃`` are the class scores (``B_``).

    Parameters
    ----------
    classifier : BowClassifier
        A fitted classifier (``TextClassifier.classifier_``).

    Returns
    -------
    ndarray of shape (c, d)
        ``classifier.B_``.

    Raises
    ------
    ValueError
        For a loss whose scores are not linear in ``x̃`` (see the module docstring:
        hierarchical softmax explains node logits, left to its own branch).
    """
    loss = getattr(classifier, "loss", "softmax")
    if loss not in LINEAR_LOSSES:
        raise ValueError(
            f"explanations are exact for linear scores (loss in {LINEAR_LOSSES}); "
            f"loss={loss!r} has no linear class score to split"
        )
    return classifier.B_


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, looked up once (a lookup costs milliseconds)."""
    return ThreadpoolController()


# ---------------------------------------------------------------------- feature names
@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a vectorizer column in a document: its n-gram text and the
    positions of the tokens it spans."""

    column: int
    text: str
    tokens: tuple[int, ...]


def document_occurrences(vectorizer: BowVectorizer, tokens: Sequence[str]) -> list[Occurrence]:
    """Every vectorizer column occurrence of a tokenised document, with its text.

    Re-applies the formulas of :mod:`bowclf.vectorizer` (its module docstring): a vocabulary
    word counts in its column; a word n-gram ``t_i..t_{i+n-1}`` (n = 2..``ngrams``) in column
    ``V + (g mod buckets)`` with ``g = t_i``, ``g = g·116049371 + t_{i+k}`` (mod 2⁶⁴) over the
    sign-extended 32-bit FNV-1a token hashes; a character n-gram ``s`` of ``"<" + token + ">"``
    (``minn..maxn`` characters, not a lone ``<`` or ``>``) in ``V + (hash(s) mod buckets)``.
    Written here rather than inside the vectorizer's vectorised batch code, which never keeps
    n-gram texts; the tests check the columns against ``vectorizer.transform``.

    Parameters
    ----------
    vectorizer : BowVectorizer
        A fitted vectorizer.
    tokens : sequence of str
        The document's tokens (``vectorizer.tokenize(text)``).

    Returns
    -------
    list of Occurrence
        Vocabulary words first, then word n-grams by length, then character n-grams.
    """
    vocabulary = vectorizer.vocabulary_
    V = len(vocabulary)
    buckets = vectorizer.n_features_out_ - V
    out: list[Occurrence] = []
    for i, tok in enumerate(tokens):
        col = vocabulary.get(tok)
        if col is not None:
            out.append(Occurrence(col, tok, (i,)))
    if not buckets or not tokens:
        return out
    if vectorizer.ngrams > 1 and len(tokens) > 1:
        t = token_hashes(list(tokens)).view(np.int32).astype(np.int64).view(np.uint64)
        for n, g in enumerate(word_ngram_hashes(t, vectorizer.ngrams), start=2):
            cols = (V + (g % np.uint64(buckets)).astype(np.int64)).tolist()
            for i, col in enumerate(cols):
                span = tuple(range(i, i + n))
                out.append(Occurrence(col, " ".join(tokens[i : i + n]), span))
    if vectorizer.maxn > 0:
        grams = [char_ngrams(tok, vectorizer.minn, vectorizer.maxn) for tok in tokens]
        flat = [g for gs in grams for g in gs]
        cols = (V + token_hashes(flat).astype(np.int64) % buckets).tolist()  # one batch
        owners = [i for i, gs in enumerate(grams) for _ in gs]
        out.extend(Occurrence(c, g, (i,)) for c, g, i in zip(cols, flat, owners, strict=True))
    return out


def _bucket_name(vectorizer, column: int, words: Any = None) -> str:
    """A column's name: its vocabulary word, else ``ngram#b`` (``words``: the
    vectorizer's ``words_``, which is rebuilt on every access, for callers naming many)."""
    V = len(vectorizer.vocabulary_)
    if column >= V:
        return f"ngram#{column - V}"
    return str((vectorizer.words_ if words is None else words)[column])


# ---------------------------------------------------------------------- explanations
@dataclass(frozen=True)
class ClassExplanation:
    """One class of one document: ``score = contributions.sum()`` (to float32 rounding).

    ``contributions[j]`` belongs to feature ``j`` of the document's :class:`Explanation`;
    ``token_contributions[i]`` to its token ``i`` (they also sum to the score, less the share
    of features no token could be found for, which is ``unattributed``).
    """

    label: Any
    score: float
    probability: float
    contributions: np.ndarray
    token_contributions: np.ndarray
    unattributed: float = 0.0

    def top(self, n: int, *, negative: bool = False) -> list[tuple[int, float]]:
        """The ``n`` (feature index, contribution) pairs pushing the score most up (or down
        with ``negative=True``), strongest first; only contributions of that sign.

        Parameters
        ----------
        n : int
            Pairs at most.
        negative : bool, default=False
            Return the negative contributions instead of the positive ones.

        Returns
        -------
        list of (int, float)
        """
        c = self.contributions
        order = np.argsort(c if negative else -c, kind="stable")[:n]
        return [(int(j), float(c[j])) for j in order if (c[j] < 0 if negative else c[j] > 0)]


@dataclass(frozen=True)
class Explanation:
    """The exact explanation of one document.

    ``features[j]`` names classifier feature ``columns[j]`` (whose model input is
    ``values[j] = x̃_j``); ``tokens`` are the document's tokens; ``classes`` the explained
    classes, most probable first unless labels were requested.
    """

    text: str
    tokens: list[str]
    features: list[str]
    columns: np.ndarray
    values: np.ndarray
    classes: list[ClassExplanation] = field(default_factory=list)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """JSON-ready dict of the explanation.

        Parameters
        ----------
        top : int or None, default=None
            Keep only the ``top`` strongest positive and negative features of each class
            (``None``: every feature, by decreasing |contribution|).

        Returns
        -------
        dict
            Keys ``text``, ``tokens`` and ``classes`` (one dict per explained class).
        """
        out_classes = []
        for ce in self.classes:
            if top is None:
                order = np.argsort(-np.abs(ce.contributions), kind="stable").tolist()
                feats = [self._feature(j, ce) for j in order]
                entry = {"features": feats}
            else:
                entry = {
                    "positive": [self._feature(j, ce) for j, _ in ce.top(top)],
                    "negative": [self._feature(j, ce) for j, _ in ce.top(top, negative=True)],
                }
            out_classes.append(
                {
                    "label": plain(ce.label),
                    "score": ce.score,
                    "probability": ce.probability,
                    "contribution_sum": float(ce.contributions.sum()),
                    **entry,
                    "token_contributions": [float(v) for v in ce.token_contributions],
                }
            )
        return {"text": self.text, "tokens": list(self.tokens), "classes": out_classes}

    def _feature(self, j: int, ce: ClassExplanation) -> dict[str, Any]:
        return {
            "feature": self.features[j],
            "column": int(self.columns[j]),
            "value": float(self.values[j]),
            "contribution": float(ce.contributions[j]),
        }


def explain_documents(
    model: TextClassifier,
    texts: Sequence[str],
    X: sp.csr_array,
    *,
    k: int = 1,
    labels: Sequence[Any] | None = None,
) -> list[Explanation]:
    """Explain a fitted :class:`~bowclf.TextClassifier`'s scores of ``texts``.

    ``X`` is the classifier input of the texts (pruned, weighted counts: what
    ``TextClassifier`` feeds ``classifier_``); use :meth:`TextClassifier.explain`, which
    passes it.  Each document explains its ``k`` most probable classes (single-label: the
    predicted class first, as ``predict`` breaks ties), or the given ``labels`` (in that
    order).  Scores are the model's ``B·A·x̃`` and probabilities its
    ``predict_proba``.

    Parameters
    ----------
    model : TextClassifier
        A fitted model whose loss is linear (:func:`linear_heads`).
    texts : sequence of str
        The documents.
    X : scipy.sparse.csr_array of shape (len(texts), p)
        Their classifier inputs.
    k : int, default=1
        Classes explained per document, when ``labels`` is not given.
    labels : sequence, optional
        The classes to explain for every document.

    Returns
    -------
    list of Explanation
        One per document, in order.

    Raises
    ------
    ValueError
        For an unknown label, ``k < 1`` or a loss without linear scores.
    """
    clf = model.classifier_
    B = linear_heads(clf)
    classes = np.asarray(model.classes_)
    if labels is not None:
        wanted = list(labels)
        index = {plain(c): i for i, c in enumerate(classes.tolist())}
        missing = [lab for lab in wanted if plain(lab) not in index]
        if missing:
            raise ValueError(f"unknown label(s) {missing!r}; the model's classes are {index}")
        fixed = np.array([index[plain(lab)] for lab in wanted], dtype=np.intp)
    elif k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    Xs = scaled_inputs(X, clf.row_scaling())
    S = _math.row_scores(_math.hidden(Xs, clf.A_), B)  # the model's own forward pass
    P = clf.predict_proba(X)
    if labels is None:  # in predict_topk's order (so the first is the class predict gives)
        which = np.argsort(-P, axis=1, kind="stable")  # ties: the smaller class first
        prior = getattr(clf, "class_prior_", None)
        empty = _math.empty_rows(X)
        if prior is not None and empty.any():  # no known feature: the most frequent first
            which[empty] = featureless_order(prior)
        which = which[:, : min(k, classes.size)]
    else:
        which = np.broadcast_to(fixed, (len(texts), fixed.size))
    fc = getattr(model, "feature_columns_", None)
    vec = model.vectorizer_
    # one small product per document: BLAS threads only add synchronisation (much slower on
    # a loaded machine), so they are limited to one here
    with _blas().limit(limits=1, user_api="blas"):
        return [
            _explain_one(vec, text, Xs, i, fc, clf.A_, B, which[i], S[i], P[i], classes)
            for i, text in enumerate(texts)
        ]


def _explain_one(vec, text, Xs, i, fc, A, B, which, s, p, classes) -> Explanation:
    """The explanation of document ``i`` (row ``i`` of ``Xs``; ``s``, ``p`` its scores and
    probabilities; ``which`` the class indices explained)."""
    lo, hi = Xs.indptr[i], Xs.indptr[i + 1]
    cols = Xs.indices[lo:hi].astype(np.int64)
    vals = Xs.data[lo:hi]
    tokens = vec.tokenize(text)
    names, token_share = _name_features(vec, tokens, cols if fc is None else fc[cols])
    C = contributions(vals, cols, A, B[which])
    per_token = C @ token_share
    uncovered = token_share.sum(axis=1) == 0
    return Explanation(
        text=text,
        tokens=list(tokens),
        features=names,
        columns=cols,
        values=vals.astype(np.float64),
        classes=[
            ClassExplanation(
                label=plain(classes[c]),
                score=float(s[c]),
                probability=float(p[c]),
                contributions=C[r],
                token_contributions=per_token[r],
                unattributed=float(C[r, uncovered].sum()),
            )
            for r, c in enumerate(which.tolist())
        ],
    )


def _name_features(vectorizer, tokens: list[str], vec_cols: np.ndarray):
    """Names of a document's features and the m×t matrix sharing each feature's
    contribution over the tokens (rows sum to 1, or 0 for a feature no token was found for)."""
    occ = document_occurrences(vectorizer, tokens)
    by_col: dict[int, list[Occurrence]] = {}
    for o in occ:
        by_col.setdefault(o.column, []).append(o)
    share = np.zeros((vec_cols.size, len(tokens)))
    names, rows, cols, vals = [], [], [], []
    for j, col in enumerate(vec_cols.tolist()):
        found = by_col.get(col)
        if not found:
            names.append(_bucket_name(vectorizer, col))
            continue
        names.append(" | ".join(dict.fromkeys(o.text for o in found)))
        for o in found:
            rows += [j] * len(o.tokens)
            cols += o.tokens
            vals += [1.0 / (len(found) * len(o.tokens))] * len(o.tokens)
    np.add.at(share, (rows, cols), vals)  # one update: a numpy call per occurrence was slow
    return names, share


# ---------------------------------------------------------------------- model-level views
_VIEW_CHUNK = 16384  # features or words per forward pass in the model-level views


def top_features(model: TextClassifier, n: int = 10) -> dict[Any, list[tuple[str, float, float]]]:
    """The ``n`` most indicative features of each class.

    A feature's indicativeness for class k is the model's log-probability of k for a
    document holding that feature once (``predict_log_proba`` of the one-feature input,
    weighted as training weighted it).  Hashed columns are named ``ngram#b`` (no document
    tells their n-gram text).

    Parameters
    ----------
    model : TextClassifier
        A fitted model, of any loss.
    n : int, default=10
        Features per class.

    Returns
    -------
    dict
        Per class label, ``(name, probability, score)`` triples, most indicative first (the
        score is the model's ``decision_function`` of the one-feature document: ``(B·A·x̃)_k``
        for a linear loss (:func:`linear_heads`), the log-probability for ``loss='hs'``,
        which has no linear class score).

    Raises
    ------
    ValueError
        If ``n < 1``.
    """
    clf = model.classifier_
    B = None if clf.loss == "hs" else linear_heads(clf)  # hs: its score is log P (below)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    p = clf.A_.shape[1]
    weights = getattr(model, "idf_", None)
    classes = np.asarray(model.classes_)
    c = classes.size
    best_lp = np.full((c, 0), -np.inf)
    best_j = np.zeros((c, 0), np.int64)
    for start in range(0, p, _VIEW_CHUNK):
        cols = np.arange(start, min(p, start + _VIEW_CHUNK))
        vals = np.ones(cols.size, np.float32) if weights is None else weights[cols]
        X1 = sp.csr_array((vals, cols, np.arange(cols.size + 1)), shape=(cols.size, p))
        LP = clf.predict_log_proba(X1).T  # c × chunk
        lp = np.concatenate([best_lp, LP], axis=1)
        jj = np.concatenate([best_j, np.broadcast_to(cols, (c, cols.size))], axis=1)
        keep = np.argsort(-lp, axis=1, kind="stable")[:, :n]
        best_lp = np.take_along_axis(lp, keep, axis=1)
        best_j = np.take_along_axis(jj, keep, axis=1)
    fc = getattr(model, "feature_columns_", None)
    vec = model.vectorizer_
    words = vec.words_  # once: the property builds the whole array
    out: dict[Any, list[tuple[str, float, float]]] = {}
    for k in range(c):
        js = best_j[k]
        vals = np.ones(js.size, np.float32) if weights is None else weights[js]
        X1 = sp.csr_array((vals, js, np.arange(js.size + 1)), shape=(js.size, p))
        if B is None:  # hs: decision_function is the log-probability
            S = best_lp[k]
        else:
            S = _math.row_scores(_math.hidden(scaled_inputs(X1, clf.row_scaling()), clf.A_), B)
            S = S[:, k]
        names = [_bucket_name(vec, int(col), words) for col in (js if fc is None else fc[js])]
        out[plain(classes[k])] = [
            (name, float(np.exp(lp)), float(s))
            for name, lp, s in zip(names, best_lp[k], S, strict=True)
        ]
    return out


def neighbors(model: TextClassifier, word: str, n: int = 10) -> list[tuple[str, float]]:
    """The ``n`` vocabulary words nearest to ``word`` by cosine similarity of embeddings.

    The query's embedding is the model's embedding of ``word`` as a document
    (``model.transform([word])``: ``A·x̃``).  For one word that is its column of ``A``,
    averaged with its character n-grams when the model has them, so unknown words with known
    subwords work too; a query that tokenises to several tokens (``'refund!'``, ``'late
    parcel'``) gets the weighted average of its tokens' (and word n-grams') columns, as any
    document does.  Each vocabulary word is embedded alone, the same way.

    Parameters
    ----------
    model : TextClassifier
        A fitted model.
    word : str
        The query: a word or a few (need not be in the vocabulary).
    n : int, default=10
        Neighbours at most.

    Returns
    -------
    list of (str, float)
        ``(word, cosine)`` pairs, most similar first.  The query's own tokens (as the model
        tokenises it: ``'Refund!'`` gives ``refund`` and ``!``) are never listed.

    Raises
    ------
    ValueError
        If ``n < 1`` or ``word`` has no feature known to the model.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    q = np.asarray(model.transform([word]), np.float64)[0]
    norm = np.linalg.norm(q)
    if norm == 0:
        raise ValueError(f"{word!r} has no feature known to the model (no embedding)")
    q /= norm
    words = list(model.vectorizer_.vocabulary_)
    best_sim = np.zeros(0)
    best_i = np.zeros(0, np.int64)
    own = {word, *model.vectorizer_.tokenize(word)}
    for start in range(0, len(words), _VIEW_CHUNK):
        chunk = words[start : start + _VIEW_CHUNK]
        H = np.asarray(model.transform(chunk), np.float64)
        norms = np.linalg.norm(H, axis=1)
        sims = np.where(norms > 0, H @ q / np.where(norms > 0, norms, 1.0), -np.inf)
        sims[[i for i, w in enumerate(chunk) if w in own]] = -np.inf
        sim = np.concatenate([best_sim, sims])
        idx = np.concatenate([best_i, np.arange(start, start + len(chunk))])
        keep = np.argsort(-sim, kind="stable")[:n]
        best_sim, best_i = sim[keep], idx[keep]
    return [(words[i], float(s)) for i, s in zip(best_i, best_sim, strict=True) if s > -np.inf]


# ---------------------------------------------------------------------- HTML
_PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
.bx-doc{border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}
.bx-head{font-size:.9rem;color:#555;margin-bottom:.4rem}
.bx-text{line-height:1.9;white-space:pre-wrap}
.bx-text span{border-radius:3px;padding:0 1px}
.bx-tab{border-collapse:collapse;font-size:.85rem;margin-top:.5rem}
.bx-tab td{padding:1px .6rem}.bx-tab td.n{text-align:right;font-variant-numeric:tabular-nums}
.bx-legend{font-size:.85rem;color:#555}
"""


def _colour(value: float, scale: float) -> str:
    """Background for a token: green pushes the class up, red down; opacity ∝ |value|."""
    if scale <= 0 or value == 0:
        return ""
    alpha = min(1.0, abs(value) / scale) * 0.75
    rgb = "34,160,70" if value > 0 else "215,48,39"
    return f"background:rgba({rgb},{alpha:.3f})"


def _token_spans(text: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Character spans of the tokens in ``text``, in order; ``None`` when a token cannot be
    found (e.g. a custom tokenizer rewrote it), then the tokens are shown on their own."""
    folded = text.lower().replace("\u2019", "'")
    haystack = folded if len(folded) == len(text) else text
    spans = []
    pos = 0
    for tok in tokens:
        at = haystack.find(tok, pos)
        if at < 0:
            at = haystack.find(tok.lower(), pos)
        if at < 0:
            return None
        spans.append((at, at + len(tok)))
        pos = at + len(tok)
    return spans


def explanation_html(explanation: Explanation, *, top: int = 5, which: int = 0) -> str:
    """An HTML fragment (inline styles, no script) showing one explained class of a document:
    its words highlighted by their contribution and its top positive and negative features.

    Parameters
    ----------
    explanation : Explanation
        The explained document.
    top : int, default=5
        Positive and negative features listed, each.
    which : int, default=0
        The class shown (index in ``explanation.classes``; 0 = most probable).

    Returns
    -------
    str
        The HTML fragment (just the escaped text when no class was explained).
    """
    e = html.escape
    if not explanation.classes:
        return f'<div class="bx-doc"><div class="bx-text">{e(explanation.text)}</div></div>'
    ce = explanation.classes[which]
    tc = ce.token_contributions
    scale = float(np.abs(tc).max()) if tc.size else 0.0
    spans = _token_spans(explanation.text, explanation.tokens)
    parts = []
    if spans is None:
        for tok, v in zip(explanation.tokens, tc, strict=True):
            parts.append(f'<span style="{_colour(v, scale)}" title="{v:+.4f}">{e(tok)}</span> ')
    else:
        pos = 0
        for (a, b), v in zip(spans, tc, strict=True):
            parts.append(e(explanation.text[pos:a]))
            style = _colour(v, scale)
            parts.append(
                f'<span style="{style}" title="{v:+.4f}">{e(explanation.text[a:b])}</span>'
            )
            pos = b
        parts.append(e(explanation.text[pos:]))
    rows = []
    for sign, pairs in (("+", ce.top(top)), ("−", ce.top(top, negative=True))):
        for j, v in pairs:
            rows.append(
                f"<tr><td>{sign}</td><td>{e(explanation.features[j])}</td>"
                f'<td class="n">{v:+.4f}</td></tr>'
            )
    table = f'<table class="bx-tab">{"".join(rows)}</table>' if rows else ""
    head = (
        f"<b>{e(str(ce.label))}</b> · p {ce.probability:.3f} · score {ce.score:+.4f} "
        f"= Σ {len(explanation.features)} feature contributions"
    )
    return (
        f'<div class="bx-doc"><div class="bx-head">{head}</div>'
        f'<div class="bx-text">{"".join(parts)}</div>{table}</div>'
    )


def explanations_page(
    explanations: Sequence[Explanation], *, title: str = "bowclf explanations", top: int = 5
) -> str:
    """A self-contained HTML page (inline CSS, no script, no external reference) with one
    :func:`explanation_html` block per document and explained class.

    Parameters
    ----------
    explanations : sequence of Explanation
        The explained documents.
    title : str, default="bowclf explanations"
        The page title and heading.
    top : int, default=5
        Positive and negative features listed per block, each.

    Returns
    -------
    str
        The HTML document.
    """
    blocks = [
        explanation_html(ex, top=top, which=w)
        for ex in explanations
        for w in range(max(1, len(ex.classes)))
    ]
    legend = (
        '<p class="bx-legend">Each word is coloured by its exact share of the class score: '
        '<span style="background:rgba(34,160,70,.6)">green</span> raises it, '
        '<span style="background:rgba(215,48,39,.6)">red</span> lowers it (hover for the '
        "value). The contributions of a document's features sum to its score.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{legend}{''.join(blocks)}</body></html>\n"
    )


def confusion_explainer(model: TextClassifier, *, top: int = 5) -> Callable[[Any, Any], str]:
    """The evaluation report's hook: ``explain(example, confusion) -> HTML fragment``.

    ``example`` has ``text``; ``confusion`` has ``pred`` and ``true`` (labels, or ``None``
    for the multi-label "nothing extra" / "none missed" sides).  The fragment explains the
    predicted label and then the true one (each a :func:`explanation_html` block), so a
    reader sees which words pulled the document to the wrong class and which held it back.

    Parameters
    ----------
    model : TextClassifier
        A fitted model whose loss is linear (:func:`linear_heads`).
    top : int, default=5
        Positive and negative features listed per block, each.

    Returns
    -------
    callable
        ``explain(example, confusion) -> str``; ``""`` when neither label is a class of
        the model.
    """
    known = {plain(c) for c in np.asarray(model.classes_).tolist()}

    def explain(example, confusion) -> str:
        labels = [
            lab
            for lab in dict.fromkeys((confusion.pred, confusion.true))
            if lab is not None and plain(lab) in known
        ]
        if not labels:
            return ""
        (ex,) = model.explain([example.text], labels=labels)
        return "".join(explanation_html(ex, top=top, which=w) for w in range(len(labels)))

    return explain
