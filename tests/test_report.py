"""Tests for bowclf.report: metrics against sklearn, fastText's P@k/R@k, renderers.

Terminal layout snapshots live in tests/snapshots/; regenerate them with
``BOWCLF_UPDATE_SNAPSHOTS=1 pytest tests/test_report.py``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import re
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from bowclf.report import (
    Ranked,
    Report,
    compute_report,
    default_ks,
    evaluate,
    render_html,
    render_text,
    write_misclassified,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# ---------------------------------------------------------------------------
# Deterministic synthetic data (no numpy RNG: its streams may change across
# versions, and the snapshots must not)
# ---------------------------------------------------------------------------

WORDS = (
    "the market rallied after strong earnings while the team won the final match and "
    "scientists found new evidence of water on a distant planet as voters lined up early"
).split()
TOPICS = [
    "sports", "politics", "science", "business", "health", "travel", "music", "movies",
    "technology", "education", "weather", "fashion", "food", "gaming", "law", "religion",
    "history", "art", "automotive", "real_estate",
]  # fmt: skip


def _lcg(seed: int):
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        yield (state >> 11) / 2**53


def make_case(c: int, n: int, seed: int = 1, temperature: float = 1.7):
    """Skewed classes, class-dependent difficulty, a favourite confusion per class."""
    rnd = _lcg(seed)
    if c <= len(TOPICS):
        classes = TOPICS[:c]
    else:
        classes = [f"{TOPICS[i % 20]}/{'sub' if i // 20 % 2 else 'cat'}_{i:02d}" for i in range(c)]
        classes[7] = "an_unusually_long_label_name_for_a_category"
    y, texts = [], []
    logits = np.empty((n, c))
    for i in range(n):
        t = min(c - 1, int(c * next(rnd) ** 1.6))
        y.append(classes[t])
        strength = 1.0 + 4.0 * ((t * 37) % c + 1) / c
        row = [2.2 * next(rnd) for _ in range(c)]
        row[t] += strength * next(rnd) + 0.5
        row[(t + 1) % c] += 1.6 * next(rnd)
        logits[i] = row
        m = 6 + int(30 * next(rnd))
        texts.append(" ".join(WORDS[int(next(rnd) * len(WORDS))] for _ in range(m)))
    z = logits * temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return classes, y, p, texts


def make_multilabel(c: int, n: int, seed: int = 3):
    rnd = _lcg(seed)
    classes = TOPICS[:c]
    Y = np.zeros((n, c), dtype=int)
    P = np.zeros((n, c))
    texts = []
    for i in range(n):
        for _ in range(1 + int(3 * next(rnd) ** 2)):
            Y[i, min(c - 1, int(c * next(rnd) ** 1.5))] = 1
        for j in range(c):
            u = next(rnd)
            P[i, j] = 0.3 + 0.65 * u if Y[i, j] else 0.7 * u**2
        texts.append(" ".join(WORDS[int(next(rnd) * len(WORDS))] for _ in range(8)))
    return classes, Y, P, texts


@pytest.fixture(scope="module")
def case6():
    return make_case(6, 300, seed=6)


# ---------------------------------------------------------------------------
# Single-label metrics agree with sklearn
# ---------------------------------------------------------------------------


def test_single_label_metrics_match_sklearn(case6):
    classes, y, p, texts = case6
    rep = compute_report(y, p, classes, texts=texts, k=(1, 2, 3))
    pred = np.asarray(classes)[p.argmax(axis=1)]
    assert rep.n_documents == 300 and rep.n_classes == 6 and not rep.multilabel
    assert rep.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    for avg in ("macro", "micro", "weighted"):
        pr, rc, f1, _ = skm.precision_recall_fscore_support(
            y, pred, labels=classes, average=avg, zero_division=0
        )
        got = getattr(rep, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx((pr, rc, f1))
    pr, rc, f1, sup = skm.precision_recall_fscore_support(
        y, pred, labels=classes, average=None, zero_division=0
    )
    assert [r.label for r in rep.per_class] == classes
    assert [r.precision for r in rep.per_class] == pytest.approx(pr)
    assert [r.recall for r in rep.per_class] == pytest.approx(rc)
    assert [r.f1 for r in rep.per_class] == pytest.approx(f1)
    assert [r.support for r in rep.per_class] == sup.tolist()
    assert [r.predicted for r in rep.per_class] == [int((pred == c).sum()) for c in classes]
    assert rep.confusion_matrix is not None
    labels, matrix = rep.confusion_matrix
    assert labels == classes
    assert matrix == skm.confusion_matrix(y, pred, labels=classes).tolist()
    # sklearn's log_loss / top_k_accuracy_score want sorted labels: use class indices
    yi = np.array([classes.index(v) for v in y])
    assert rep.log_loss == pytest.approx(skm.log_loss(yi, p, labels=range(6)))
    for k in (1, 2, 3):
        expected = skm.top_k_accuracy_score(yi, p, k=k, labels=range(6))
        assert rep.top_k[k].accuracy == pytest.approx(expected)
        # single-label: R@k is the top-k accuracy and P@k = R@k / k
        assert rep.top_k[k].recall == pytest.approx(expected)
        assert rep.top_k[k].precision == pytest.approx(expected / k)
    assert rep.top_k[1].precision == pytest.approx(rep.accuracy)


def test_explicit_y_pred_is_used(case6):
    classes, y, p, _ = case6
    pred = [classes[0]] * len(y)
    rep = compute_report(y, p, classes, y_pred=pred)
    assert rep.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert rep.macro.f1 == pytest.approx(
        skm.f1_score(y, pred, labels=classes, average="macro", zero_division=0)
    )
    with pytest.raises(ValueError, match="not classes"):
        compute_report(y, p, classes, y_pred=["nope"] * len(y))


def test_binary_and_integer_labels():
    classes, y, p, _ = make_case(2, 120, seed=2)
    yi = np.array([classes.index(v) for v in y]) * 10 + 3  # integer labels 3 and 13
    rep = compute_report(yi, p, np.array([3, 13]), k=(1, 2, 5))
    pred = np.array([3, 13])[p.argmax(axis=1)]
    assert rep.accuracy == pytest.approx(skm.accuracy_score(yi, pred))
    assert rep.top_k[1].accuracy == pytest.approx(
        skm.top_k_accuracy_score(yi, p[:, 1], k=1, labels=[3, 13])
    )
    assert rep.top_k[2].accuracy == 1.0
    assert rep.top_k[5].k_effective == 2  # only two labels to take
    assert rep.top_k[5].precision == pytest.approx(0.5)
    assert rep.per_class[0].label == 3
    d = json.loads(rep.to_json())
    assert d["per_class"][1]["label"] == 13


# ---------------------------------------------------------------------------
# fastText P@k / R@k on hand-checked cases
# ---------------------------------------------------------------------------


def test_precision_recall_at_k_single_label_hand_checked():
    classes = ["a", "b", "c", "d"]
    proba = np.array(
        [
            [0.5, 0.3, 0.1, 0.1],  # ranking a, b, c, d
            [0.1, 0.2, 0.6, 0.1],  # ranking c, b, ...
            [0.1, 0.2, 0.3, 0.4],  # ranking d, c, b, a
        ]
    )
    y = ["a", "b", "a"]
    rep = compute_report(y, proba, classes, k=(1, 2, 9))
    # k=1: predictions a, c, d -> 1 correct of 3 predicted, 3 gold
    assert rep.top_k[1].precision == pytest.approx(1 / 3)
    assert rep.top_k[1].recall == pytest.approx(1 / 3)
    # k=2: {a,b} {c,b} {d,c} -> doc0 a, doc1 b: 2 correct of 6 predicted, 3 gold
    assert rep.top_k[2].precision == pytest.approx(2 / 6)
    assert rep.top_k[2].recall == pytest.approx(2 / 3)
    # k=9 > 4 classes: fastText returns every label (threshold 0): 3 correct of 12
    assert rep.top_k[9].k_effective == 4
    assert rep.top_k[9].precision == pytest.approx(3 / 12)
    assert rep.top_k[9].recall == pytest.approx(1.0)


def test_precision_recall_at_k_multilabel_hand_checked():
    classes = ["a", "b", "c", "d"]
    proba = np.array(
        [
            [0.9, 0.8, 0.1, 0.2],  # top2 a, b
            [0.2, 0.1, 0.7, 0.6],  # top2 c, d
            [0.3, 0.9, 0.8, 0.1],  # top2 b, c
            [0.9, 0.1, 0.1, 0.1],  # no gold labels: skipped, as fastText does
        ]
    )
    y = [{"a", "c"}, {"d"}, {"a", "b", "c"}, set()]
    rep = compute_report(y, proba, classes, multilabel=True, k=(1, 2))
    # k=1: a (gold), c (not gold), b (gold): 2 correct / 3 predicted, 6 gold labels
    assert rep.top_k[1].precision == pytest.approx(2 / 3)
    assert rep.top_k[1].recall == pytest.approx(2 / 6)
    # k=2: {a,b}->a; {c,d}->d; {b,c}->b,c: 4 correct / 6 predicted, 6 gold
    assert rep.top_k[2].precision == pytest.approx(4 / 6)
    assert rep.top_k[2].recall == pytest.approx(4 / 6)
    assert rep.top_k[2].accuracy is None


# ---------------------------------------------------------------------------
# Multi-label metrics agree with sklearn
# ---------------------------------------------------------------------------


def test_multilabel_metrics_match_sklearn():
    classes, Y, P, texts = make_multilabel(6, 200)
    pred = (P >= 0.5).astype(int)
    rep = compute_report(Y, P, classes, multilabel=True, texts=texts)
    assert rep.multilabel and rep.confusion_matrix is None
    assert rep.accuracy == pytest.approx(skm.accuracy_score(Y, pred))
    assert rep.hamming_loss == pytest.approx(skm.hamming_loss(Y, pred))
    for avg in ("macro", "micro", "weighted", "samples"):
        pr, rc, f1, _ = skm.precision_recall_fscore_support(Y, pred, average=avg, zero_division=0)
        got = getattr(rep, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx((pr, rc, f1))
    pr, rc, f1, sup = skm.precision_recall_fscore_support(Y, pred, average=None, zero_division=0)
    assert [r.f1 for r in rep.per_class] == pytest.approx(f1)
    assert [r.support for r in rep.per_class] == sup.tolist()
    assert [r.predicted for r in rep.per_class] == pred.sum(axis=0).tolist()
    assert rep.log_loss == pytest.approx(skm.log_loss(Y.ravel(), P.ravel(), labels=[0, 1]))
    card = rep.label_cardinality
    assert card is not None
    assert card["true"]["mean"] == pytest.approx(Y.sum(axis=1).mean())
    assert card["pred"]["max"] == pred.sum(axis=1).max()
    assert sum(card["true"]["histogram"].values()) == 200
    assert rep.calibration.kind == "per_label"
    assert sum(b.count for b in rep.calibration.bins) == Y.size

    # label collections and an explicit y_pred give the same numbers
    sets = [[classes[j] for j in np.flatnonzero(row)] for row in Y]
    pred_sets = [tuple(classes[j] for j in np.flatnonzero(row)) for row in pred]
    rep2 = compute_report(sets, P, classes, multilabel=True, y_pred=pred_sets, texts=texts)
    assert rep2.to_dict() == rep.to_dict()


def test_multilabel_confusions_pair_missed_and_spurious_labels():
    classes = ["a", "b", "c"]
    Y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    P = np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.1], [0.1, 0.9, 0.7], [0.0, 0.0, 0.1]])
    rep = compute_report(Y, P, classes, multilabel=True, texts=["x1", "x2", "x3", "x4"])
    pairs = {(c.true, c.pred): c.count for c in rep.confusions}
    assert pairs == {("a", "b"): 2, (None, "c"): 1, ("c", None): 1}
    first = rep.confusions[0]
    assert (first.true, first.pred) == ("a", "b")
    assert [e.index for e in first.examples] == [0, 1]  # most confident first
    assert first.examples[0].proba == pytest.approx(0.9)
    assert first.examples[0].true_proba == pytest.approx(0.1)


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------


def test_ece_hand_checked():
    classes = ["x", "y"]
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.35, 0.65]])
    y = ["x", "y", "y", "y"]
    # bin [0.9, 1.0): confidence 0.95, accuracy 1/2 -> gap 0.45
    # bin [0.6, 0.7): confidence 0.65, accuracy 2/2 -> gap 0.35
    rep = compute_report(y, proba, classes, n_bins=10)
    cal = rep.calibration
    assert cal.kind == "top1" and cal.n_bins == 10 and len(cal.bins) == 10
    assert cal.ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.35)
    assert cal.mce == pytest.approx(0.45)
    b9, b6 = cal.bins[9], cal.bins[6]
    assert (b9.lower, b9.upper, b9.count) == pytest.approx((0.9, 1.0, 2))
    assert (b9.mean_confidence, b9.accuracy) == pytest.approx((0.95, 0.5))
    assert (b6.count, b6.mean_confidence, b6.accuracy) == pytest.approx((2, 0.65, 1.0))
    assert cal.bins[0].count == 0 and cal.bins[0].accuracy is None
    # 5 bins: both groups land in [0.8, 1.0) and [0.6, 0.8)
    rep5 = compute_report(y, proba, classes, n_bins=5)
    assert [b.count for b in rep5.calibration.bins] == [0, 0, 0, 2, 2]


def test_perfect_calibration_is_zero():
    proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    rep = compute_report(["a", "b"], proba, ["a", "b"])
    assert rep.calibration.ece == 0.0
    assert rep.confusions == []
    assert "no errors" in render_text(rep, color=False)


# ---------------------------------------------------------------------------
# Unseen labels
# ---------------------------------------------------------------------------


def test_unseen_labels_single_label(case6):
    classes, y, p, texts = case6
    y = list(y)
    y[0], y[1], y[2] = "ghost", "ghost", "phantom"
    rep = compute_report(y, p, classes, texts=texts, unseen_labels={"phantom": 4, "zz": 1})
    pred = np.asarray(classes)[p.argmax(axis=1)]
    known = np.array([v in classes for v in y])
    assert rep.unseen_documents == 3
    assert rep.unseen_counts == {"ghost": 2, "phantom": 5, "zz": 1}
    # errors in accuracy (sklearn on the raw labels counts them as wrong)
    assert rep.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert rep.top_k[1].precision == pytest.approx(rep.accuracy)
    # false positives of the predicted class; supports unaffected
    pr, rc, f1, sup = skm.precision_recall_fscore_support(
        y, pred, labels=classes, average=None, zero_division=0
    )
    assert [r.precision for r in rep.per_class] == pytest.approx(pr)
    assert [r.support for r in rep.per_class] == sup.tolist()
    # the averages run over the model's classes and the unseen labels, as scikit-learn's do
    # on the raw labels: weighted and micro recall are the accuracy
    for avg in ("macro", "micro", "weighted"):
        want = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)[:3]
        got = getattr(rep, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx(want), avg
    assert rep.weighted.recall == pytest.approx(rep.accuracy)
    assert rep.micro.recall == pytest.approx(rep.accuracy)
    # left out of log-loss and the confusion matrix
    yk = [classes.index(v) for v in np.asarray(y)[known]]
    assert rep.log_loss == pytest.approx(skm.log_loss(yk, p[known], labels=range(6)))
    assert rep.confusion_matrix is not None
    assert np.sum(rep.confusion_matrix[1]) == known.sum()
    assert all(c.true in classes for c in rep.confusions)
    d = json.loads(rep.to_json())
    assert d["unseen_labels"] == {
        "n_documents": 3,
        "n_occurrences": 8,
        "labels": [
            {"label": "phantom", "count": 5},
            {"label": "ghost", "count": 2},
            {"label": "zz", "count": 1},
        ],
    }
    text = render_text(rep, color=False)
    assert "ghost ×2" in text and "never saw" in text
    assert "ghost" in render_html(rep)


def test_unseen_labels_multilabel():
    classes = ["a", "b"]
    y = [["a", "ghost"], ["b"], ["ghost"]]
    proba = np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.3]])
    rep = compute_report(y, proba, classes, multilabel=True, k=1)
    assert rep.unseen_documents == 2 and rep.unseen_counts == {"ghost": 2}
    # doc0 is not exactly right (ghost missed), doc1 is, doc2 is not
    assert rep.accuracy == pytest.approx(1 / 3)
    # P@1: a (gold), b (gold), a (not): 2/3. R@1: 2 correct / 4 gold (ghosts count)
    assert rep.top_k[1].precision == pytest.approx(2 / 3)
    assert rep.top_k[1].recall == pytest.approx(2 / 4)
    # averages and Hamming loss over the union of labels, as scikit-learn on the raw sets
    union = MultiLabelBinarizer(classes=["a", "b", "ghost"])
    Yu = union.fit_transform(y)
    Pu = union.transform([["a"], ["b"], ["a"]])  # probabilities ≥ 0.5
    for avg in ("macro", "micro", "weighted", "samples"):
        want = skm.precision_recall_fscore_support(Yu, Pu, average=avg, zero_division=0)[:3]
        got = getattr(rep, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx(want), avg
    assert rep.hamming_loss == pytest.approx(skm.hamming_loss(Yu, Pu))
    assert [r.support for r in rep.per_class] == [1, 1]
    with pytest.raises(ValueError, match="not in classes"):
        compute_report(y, proba, classes, multilabel=True, y_pred=[["zzz"], [], []])


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------

TOP_KEYS = {
    "schema_version", "n_documents", "n_classes", "multilabel", "accuracy", "macro", "micro",
    "weighted", "samples", "log_loss", "hamming_loss", "top_k", "per_class",
    "confusion_matrix", "calibration", "confusions", "unseen_labels", "label_cardinality",
    "throughput",
}  # fmt: skip


def test_json_round_trip_single_label(case6):
    classes, y, p, texts = case6
    rep = compute_report(y, p, classes, texts=texts, predict_seconds=0.25)
    d = json.loads(rep.to_json())
    assert set(d) == TOP_KEYS
    assert d["schema_version"] == 2
    assert set(d["macro"]) == {"precision", "recall", "f1"}
    assert set(d["top_k"]) == {"1", "5"}
    assert set(d["top_k"]["5"]) == {"k", "k_effective", "accuracy", "precision", "recall"}
    assert set(d["per_class"][0]) == {"label", "precision", "recall", "f1", "support", "predicted"}
    assert set(d["confusion_matrix"]) == {"labels", "matrix", "cells"}
    cells = d["confusion_matrix"]["cells"]
    dense = np.zeros((len(classes), len(classes)), dtype=int)
    for i, j, count in cells:
        dense[i, j] = count
    assert dense.tolist() == d["confusion_matrix"]["matrix"] and all(n > 0 for *_, n in cells)
    assert set(d["calibration"]) == {"kind", "n_bins", "ece", "mce", "bins"}
    assert set(d["calibration"]["bins"][0]) == {
        "lower", "upper", "count", "mean_confidence", "accuracy",
    }  # fmt: skip
    conf = d["confusions"][0]
    assert set(conf) == {"true", "pred", "count", "examples"}
    assert set(conf["examples"][0]) == {"index", "text", "proba", "true_proba"}
    assert set(d["unseen_labels"]) == {"n_documents", "n_occurrences", "labels"}
    assert d["throughput"] == {"docs_per_second": pytest.approx(1200.0), "seconds": 0.25}
    assert d["samples"] is None and d["label_cardinality"] is None
    # the rebuilt report is identical
    again = Report.from_dict(d)
    assert again == rep
    assert again.to_json() == rep.to_json()
    assert render_text(again, color=False) == render_text(rep, color=False)
    # compact form, strict JSON
    assert "\n" not in rep.to_json(indent=None)
    assert "NaN" not in rep.to_json()


def test_json_multilabel_keys():
    classes, Y, P, _ = make_multilabel(5, 60)
    rep = compute_report(Y, P, classes, multilabel=True)
    d = json.loads(rep.to_json())
    assert set(d) == TOP_KEYS
    assert d["confusion_matrix"] is None and d["throughput"] is None
    assert set(d["samples"]) == {"precision", "recall", "f1"}
    assert set(d["label_cardinality"]) == {"true", "pred"}
    assert set(d["label_cardinality"]["true"]) == {"mean", "min", "max", "histogram"}
    assert Report.from_dict(d) == rep


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "wbr", "source"}


class _Checker(HTMLParser):
    """Collects structural errors: unbalanced or mis-nested tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.imgs: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs).get("src", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.doctype
    assert checker.errors == []
    assert checker.stack == []
    return checker


def test_html_self_contained_and_escaped(case6):
    pytest.importorskip("matplotlib")
    classes, y, p, texts = case6
    texts = list(texts)
    texts[0] = '<script>alert("x")</script> & <b>bold</b>'
    y = list(y)
    y[0] = classes[1] if p[0].argmax() != 1 else classes[2]  # make doc 0 an error
    p = p.copy()
    p[0] = [0.01, 0.01, 0.01, 0.01, 0.01, 0.95]
    y[0] = classes[0]
    rep = compute_report(y, p, classes, texts=texts, predict_seconds=0.1)
    page = render_html(rep)
    assert "http" not in page.lower()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    assert '<img src="data:image/png;base64,' in page
    checker = _parse(page)
    assert len(checker.imgs) == 2  # confusion heatmap + reliability diagram
    assert "install bowclf[report]" not in page
    text = " ".join(checker.text)
    for label in classes:
        assert label in text
    assert "Top confusions" in text and "Calibration" in text


def test_html_without_matplotlib(monkeypatch, case6):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    classes, y, p, texts = case6
    rep = compute_report(y, p, classes, texts=texts)
    page = render_html(rep)
    assert "install bowclf[report] for figures" in page
    assert "<img" not in page
    checker = _parse(page)
    text = " ".join(checker.text)
    assert "Per-class metrics" in text and "Confusion matrix" in text
    assert "Calibration" in text and "Top confusions" in text
    assert "<table class='cm'>" in page  # the matrix is still there as a table


def test_html_multilabel_and_many_classes():
    classes, Y, P, texts = make_multilabel(6, 80)
    page = render_html(compute_report(Y, P, classes, multilabel=True, texts=texts))
    _parse(page)
    assert "Labels per document" in page and "http" not in page.lower()
    classes, y, p, _ = make_case(45, 450, seed=9)
    page = render_html(compute_report(y, p, classes))
    _parse(page)
    assert "The full matrix is in the JSON report" in page


def test_png_data_uri_never_spells_http():
    import base64

    from bowclf.report import html as _render

    payload = base64.b64decode("AAAAhttpHTTPAAAA")  # bytes whose base64 spells "http"

    class FakeFigure:
        def savefig(self, buf, **kwargs):
            buf.write(payload)

    uri = _render._png_data_uri(FakeFigure(), lambda fig: None)
    assert uri.startswith("data:image/png;base64,")
    assert "http" not in uri.lower()
    # newlines inside a URL are dropped by URL parsers and by base64 decoders
    assert base64.b64decode(uri.split(",", 1)[1].replace("\n", "")) == payload


# ---------------------------------------------------------------------------
# Terminal rendering
# ---------------------------------------------------------------------------


def _display_width(line: str) -> int:
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in line
    )


@functools.cache
def _snapshot_report(c: int) -> Report:
    n = {2: 120, 20: 800, 90: 2700}[c]
    classes, y, p, texts = make_case(c, n, seed=c, temperature=2.5)
    if c == 20:
        y[3] = "label_never_seen"
        texts[4] = "tabs\tand\nnewlines and an \x1b[31mescape\x1b[0m " + "long " * 60
    return compute_report(y, p, classes, texts=texts, predict_seconds=n / 25_000)


@pytest.mark.parametrize("n_classes", [2, 20, 90])
def test_text_layout_snapshot(n_classes):
    rep = _snapshot_report(n_classes)
    text = render_text(rep, width=100, color=False)
    for line in text.splitlines():
        assert _display_width(line) <= 100, line
    assert "\x1b" not in text
    path = SNAPSHOTS / f"report_text_{n_classes}.txt"
    if os.environ.get("BOWCLF_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not path.exists() and os.environ.get("BOWCLF_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"missing snapshot {path}; run with BOWCLF_UPDATE_SNAPSHOTS=1")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("n_classes", [2, 20, 90])
@pytest.mark.parametrize("width", [60, 80, 100])
def test_text_fits_width(n_classes, width):
    rep = _snapshot_report(n_classes)
    text = render_text(rep, width=width, color=False)
    assert max(_display_width(line) for line in text.splitlines()) <= width
    coloured = render_text(rep, width=width, color=True)
    assert ANSI.sub("", coloured) == text


def test_text_sections_and_grid_choice():
    small = render_text(_snapshot_report(2), width=100, color=False)
    assert "Confusion matrix (rows: true, columns: predicted)" in small
    big = render_text(_snapshot_report(90), width=100, color=False)
    assert "most confused of 90 classes" in big and "other" in big
    assert "more classes with F1" in big
    for heading in ("Summary", "Per-class metrics", "Calibration", "Top confusions"):
        assert heading in small and heading in big
    assert "docs/s" in small


def test_text_sanitises_documents_and_labels():
    classes = ["ok", "bad\x1b[31mlabel"]
    proba = np.array([[0.2, 0.8], [0.9, 0.1]])
    rep = compute_report(["ok", "ok"], proba, classes, texts=["\x1b[2Jclear\u202escreen", "x"])
    text = render_text(rep, color=True)
    assert "\x1b[2J" not in text and "\x1b[31mlabel" not in text and "\u202e" not in text
    assert "\N{REPLACEMENT CHARACTER}" in text


def test_wide_characters_keep_alignment():
    classes = ["日本語のニュース", "スポーツ", "b"]
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    rep = compute_report(["スポーツ", "スポーツ", "b", "日本語のニュース"], proba, classes)
    text = render_text(rep, width=70, color=False)
    assert max(_display_width(line) for line in text.splitlines()) <= 70


def test_color_only_when_asked(monkeypatch, case6):
    classes, y, p, _ = case6
    rep = compute_report(y, p, classes)
    assert "\x1b[" in render_text(rep, color=True)
    assert "\x1b[" not in render_text(rep, color=False)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # not a terminal
    assert "\x1b[" not in render_text(rep)
    monkeypatch.setattr(sys, "stdout", Tty())
    assert "\x1b[" in render_text(rep)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in render_text(rep)


def test_multilabel_text_render():
    classes, Y, P, texts = make_multilabel(8, 150)
    rep = compute_report(Y, P, classes, multilabel=True, texts=texts, predict_seconds=0.01)
    text = render_text(rep, width=100, color=False)
    assert "Per-label metrics" in text and "Labels per document" in text
    assert "subset accuracy" in text and "Hamming loss" in text
    assert "Confusion matrix" not in text
    assert max(_display_width(line) for line in text.splitlines()) <= 100
    assert str(rep) == render_text(rep, color=False)


# ---------------------------------------------------------------------------
# write_misclassified / evaluate / validation
# ---------------------------------------------------------------------------


def test_write_misclassified(tmp_path):
    classes = ["a", "b", "c"]
    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25]])
    texts = ["one", 'two, "quoted"\nline', "three", "four"]
    y_true = ["a", "b", "c", "zz"]
    y_pred = [classes[i] for i in proba.argmax(axis=1)]
    path = tmp_path / "errors.csv"
    assert write_misclassified(path, texts, y_true, y_pred, proba, classes) == 2
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["index"] for r in rows] == ["1", "3"]
    assert rows[0]["text"] == 'two, "quoted"\nline'
    assert (rows[0]["true_label"], rows[0]["predicted_label"]) == ("b", "a")
    assert float(rows[0]["predicted_proba"]) == pytest.approx(0.6)
    assert float(rows[0]["true_proba"]) == pytest.approx(0.3)
    assert rows[1]["true_proba"] == ""  # unseen true label
    buf = io.StringIO()
    write_misclassified(buf, texts, np.array(y_true), np.array(y_pred), proba, classes)
    assert buf.getvalue().splitlines()[0] == (
        "index,text,true_label,predicted_label,predicted_proba,true_proba"
    )


class _Model:
    def __init__(self, classes, proba, pred=None, multilabel=False):
        self.classes_ = np.asarray(classes)
        self._proba = proba
        self._pred = pred
        if multilabel:
            self.multilabel_ = True

    def predict_proba(self, texts):
        assert len(texts) == len(self._proba)
        return self._proba

    def predict(self, texts):
        return self._pred


def test_evaluate_single_label(case6):
    classes, y, p, texts = case6
    rep = evaluate(_Model(classes, p), texts, y, k=(1, 3), top_confusions=2)
    assert rep.predict_seconds is not None and rep.predict_seconds >= 0
    assert rep.to_dict()["throughput"]["seconds"] == rep.predict_seconds
    assert set(rep.top_k) == {1, 3} and len(rep.confusions) == 2
    assert rep.confusions[0].examples  # texts were passed on
    assert rep.accuracy == compute_report(y, p, classes).accuracy


def test_evaluate_single_label_uses_predict():
    """A document without a known word has uniform probabilities; ``predict`` gives it the
    most frequent class, and the report scores ``predict``, not the arg-max."""
    from bowclf import TextClassifier

    texts = ["great film", "loved it", "boring film", "superb acting", "fine plot"] * 20
    labels = ["pos", "pos", "neg", "pos", "pos"] * 20
    model = TextClassifier(epochs=5, random_state=0).fit(texts, labels)
    X, y = ["", "zzz", "boring film"], ["pos", "pos", "neg"]
    rep = evaluate(model, X, y)
    assert rep.accuracy == skm.accuracy_score(y, model.predict(X)) == 1.0
    assert [r.predicted for r in rep.per_class] == [1, 2]


@pytest.mark.parametrize("multilabel", [False, True])
def test_an_evaluation_vectorizes_its_documents_once(monkeypatch, tmp_path, multilabel):
    """evaluate (and ``bowclf evaluate``) ask a TextClassifier for probabilities and its own
    labels of the same documents: they are vectorised once, and the report is the one of
    the model's separate calls."""
    from click.testing import CliRunner

    from bowclf import TextClassifier, save
    from bowclf.cli import cli
    from bowclf.vectorizer.transform import FittedVectorizer

    texts = ["great film", "loved it", "boring film", "superb acting", "dull plot"] * 20
    y = [("pos",), ("pos", "fun"), ("neg",), ("pos",), ("neg", "dull")] * 20
    y = y if multilabel else [labels[0] for labels in y]
    model = TextClassifier(epochs=3, random_state=0).fit(texts, y)
    X, y_test = texts[:7] + ["zzz"], y[:7] + [y[2]]
    expected = compute_report(y_test, model.predict_proba(X), model.classes_,
                              y_pred=None if multilabel else model.predict(X),
                              multilabel=multilabel, texts=X)  # fmt: skip
    calls, transform = [], FittedVectorizer.transform

    def counted(self, docs, index=None):
        calls.append(len(docs))
        return transform(self, docs, index)

    monkeypatch.setattr(FittedVectorizer, "transform", counted)
    rep = evaluate(model, X, y_test)
    assert calls == [len(X)]
    if not multilabel:  # the model's labels for the featureless document too
        assert rep.to_json() == compute_report(
            y_test, model.predict_proba(X), model.classes_, y_pred=model.predict(X), texts=X,
            predict_seconds=rep.predict_seconds).to_json()  # fmt: skip
    assert rep.accuracy == expected.accuracy and rep.top_k == expected.top_k
    path = save(model, tmp_path / "m.bowclf")
    corpus = tmp_path / "t.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "label": list(lab) if multilabel else lab})
                              + "\n" for t, lab in zip(X, y_test, strict=True)))  # fmt: skip
    calls.clear()
    out = CliRunner().invoke(cli, ["evaluate", str(path), str(corpus), "--json"])
    assert out.exit_code == 0, out.output
    assert calls.count(len(X)) == 1  # (and bowclf.load's check of two documents)
    assert json.loads(out.stdout)["accuracy"] == rep.accuracy


def test_ties_are_ranked_one_way_with_the_prediction_first():
    """Tied probabilities (documents without a known word): top-k accuracy, P@k/R@k and
    calibration rank the predicted class first, then by probability (ties: lower index);
    single-label top-k accuracy is R@k, and P@1 the accuracy of the predictions."""
    classes = ["a", "b", "c"]
    proba = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = ["a", "b", "c", "c"]
    for y_pred in (None, ["b", "b", "c", "c"]):  # the arg-max, or a model's own rule
        rep = compute_report(y, proba, classes, k=(1, 2), y_pred=y_pred)
        for kk in (1, 2):
            assert rep.top_k[kk].accuracy == rep.top_k[kk].recall
        assert rep.top_k[1].precision == rep.accuracy
    assert rep.accuracy == 0.75 and rep.top_k[2].recall == 1.0
    assert rep.calibration.bins  # the predicted class's probability, right or wrong
    ranked = compute_report(y, Ranked(np.array([[1, 0, 2], [1, 0, 2], [2, 1, 0], [2, 0, 1]]),
                                      np.sort(proba, axis=1)[:, ::-1]),
                            classes, k=(1, 2), y_pred=["b", "b", "c", "c"])  # fmt: skip
    for kk in (1, 2):
        assert ranked.top_k[kk] == rep.top_k[kk]


def test_evaluate_multilabel_uses_predict():
    classes = ["a", "b", "c"]
    proba = np.array([[0.9, 0.6, 0.1], [0.2, 0.3, 0.4]])
    pred = [("a", "b"), ()]  # the model's own decisions, not proba >= 0.5
    model = _Model(classes, proba, pred=pred, multilabel=True)
    rep = evaluate(model, ["x", "y"], [["a"], ["c"]])
    assert rep.multilabel
    assert [r.predicted for r in rep.per_class] == [1, 1, 0]
    assert rep.accuracy == 0.0
    assert rep.micro.precision == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"proba": np.ones((2, 3)) / 3, "classes": ["a", "b"]}, "shape"),
        ({"proba": np.array([[0.5, 0.4], [0.5, 0.5]])}, "sum to 1"),
        ({"proba": np.array([[np.nan, 1.0], [0.5, 0.5]])}, "NaN"),
        ({"k": 0}, "positive"),
        ({"classes": ["a", "a"]}, "duplicates"),
        ({"texts": ["only one"]}, "texts"),
        ({"n_bins": 0}, "n_bins"),
    ],
)
def test_validation(kwargs, message):
    args = {
        "y_true": ["a", "b"],
        "proba": np.array([[0.6, 0.4], [0.3, 0.7]]),
        "classes": ["a", "b"],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        compute_report(args.pop("y_true"), args.pop("proba"), args.pop("classes"), **args)


def test_report_module_is_cli_and_model_independent():
    import subprocess

    code = (
        "import sys, bowclf.report; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('click', 'matplotlib') "
        "or m in ('bowclf.classifier', 'bowclf.cli', 'bowclf.text')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_texts_are_truncated_in_examples(case6):
    classes, y, p, texts = case6
    long_texts = [("word " * 100) + str(i) for i in range(len(texts))]
    rep = compute_report(y, p, classes, texts=long_texts)
    ex = rep.confusions[0].examples[0]
    assert len(ex.text) <= 200 and ex.text.endswith("…")
    assert math.isfinite(ex.proba) and 0 <= ex.true_proba <= 1


def test_edge_cases_render_without_warnings():
    import warnings

    p = np.array([[0.6, 0.4], [0.3, 0.7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # every label unseen: no confusion matrix rows, no log-loss, all errors
        rep = compute_report(["x", "y"], p, ["a", "b"])
        assert rep.accuracy == 0.0 and rep.log_loss is None
        assert np.sum(rep.confusion_matrix[1]) == 0 and rep.unseen_documents == 2
        # a single class
        one = compute_report(["a", "a"], np.ones((2, 1)), ["a"])
        assert one.accuracy == 1.0 and one.confusion_matrix == (["a"], [[2]])
        # multi-label without any gold label: P@k/R@k undefined (fastText: NaN)
        none = compute_report([set(), set()], p, ["a", "b"], multilabel=True)
        assert none.top_k[1].precision is None and none.top_k[1].recall is None
        for r in (rep, one, none):
            render_text(r, color=True)
            _parse(render_html(r))
            json.loads(r.to_json())
    with pytest.raises(ValueError, match="one label per document"):
        compute_report([["a"], ["a", "b"]], p, ["a", "b"])


def test_multilabel_label_collections_as_object_array():
    classes = ["a", "b", "c"]
    proba = np.array([[0.9, 0.6, 0.1], [0.2, 0.3, 0.4]])
    pred = np.empty(2, dtype=object)
    pred[0], pred[1] = ("a", "b"), ()
    model = _Model(classes, proba, pred=pred, multilabel=True)
    rep = evaluate(model, ["x", "y"], np.array([["a", "b"], ["c", "a"]]))
    assert [r.support for r in rep.per_class] == [2, 1, 1]
    assert [r.predicted for r in rep.per_class] == [1, 1, 0]


def test_many_classes_keep_confusion_data_sparse():
    """Issue 20 item 10: 30,000 classes would be a 7 GB dense confusion matrix."""
    c, n = 30_000, 40
    classes = [f"c{i}" for i in range(c)]
    proba = np.full((n, c), 0.5 / (c - 1))
    truth = [classes[(7 * i) % c] for i in range(n)]
    best = [(7 * i + (i % 3)) % c for i in range(n)]  # a third right, the rest confused
    proba[np.arange(n), best] = 0.5
    rep = compute_report(truth, proba, classes, texts=[f"doc {i}" for i in range(n)])
    labels, matrix = rep.confusion_matrix
    assert matrix is None and len(labels) == c
    assert len(rep.confusion_cells) <= n
    assert sum(count for *_, count in rep.confusion_cells) == n
    d = json.loads(rep.to_json())
    assert d["confusion_matrix"]["matrix"] is None
    assert Report.from_dict(d) == rep
    assert rep.accuracy == pytest.approx(np.mean([b == (7 * i) % c for i, b in enumerate(best)]))
    text = render_text(rep, color=False, width=100)
    assert "most confused of 30000 classes" in text
    assert "The full matrix is in the JSON report" in render_html(rep)


def test_numeric_classes_are_listed_numerically():
    """Issue 20 item 15: labels '2' and '10' are listed 2 before 10, not as strings."""
    classes = ["1", "10", "2", "3"]
    y = ["1", "10", "2", "3"] * 5
    proba = np.eye(4)[[0, 1, 2, 3] * 5]
    text = render_text(compute_report(y, proba, classes), color=False, width=100)
    grid = text.split("Confusion matrix")[1].splitlines()[1]
    assert grid.split() == ["1", "2", "3", "10"]
    per_class = text.split("Per-class metrics")[1].splitlines()[2:6]
    assert [row.split()[0] for row in per_class] == ["1", "2", "3", "10"]


@pytest.mark.parametrize("n_classes, expected", [(2, {1}), (5, {1}), (6, {1, 5}), (20, {1, 5})])
def test_default_k_skips_ranking_every_class(n_classes, expected):
    """Without ``k``, the report ranks 5 classes only when there are more than five: with
    every class ranked, top-k accuracy and R@k are 1 whatever the model (P@5 (k=2) 0.500 on
    every binary report)."""
    classes, y, p, _ = make_case(n_classes, 60, seed=n_classes)
    assert set(compute_report(y, p, classes).top_k) == expected
    assert set(compute_report(y, p, classes, k=5).top_k) == {5}  # asked for: kept
    assert default_ks(n_classes) == sorted(expected)


def test_averages_run_over_the_labels_of_the_test_set_as_sklearn_does():
    """A class of the model absent from the test set and never predicted says nothing of it:
    the averages run over the gold and predicted labels (and gold labels the model never
    saw), as scikit-learn's on the raw labels (a perfect model on 3 of its 30 classes had a
    macro F1 of 0.1).  Both report paths, single- and multi-label."""
    from bowclf.report import Ranked

    classes = ["a", "b", "c", "d"]
    y, pred = ["a", "a", "b", "z"], ["a", "b", "b", "a"]
    P = np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05],
                  [0.6, 0.2, 0.1, 0.1]])  # fmt: skip
    ranked = Ranked(np.argsort(-P, axis=1, kind="stable")[:, :2], -np.sort(-P, axis=1)[:, :2])
    for proba in (P, ranked):
        rep = compute_report(y, proba, classes, y_pred=pred)
        for avg in ("macro", "micro", "weighted"):
            want = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
            got = getattr(rep, avg)
            assert (got.precision, got.recall, got.f1) == pytest.approx(want[:3]), avg
    gold = [["a"], ["a", "b"], ["b"], ["a"]]
    guess = [("a",), ("a",), ("b",), ("b",)]
    mlb = MultiLabelBinarizer().fit(gold + [list(g) for g in guess])  # the raw label sets
    Yt, Yp = mlb.transform(gold), mlb.transform(guess)
    rep = compute_report(gold, np.full((4, 4), 0.2), classes, multilabel=True, y_pred=guess)
    for avg in ("macro", "micro", "weighted", "samples"):
        want = skm.precision_recall_fscore_support(Yt, Yp, average=avg, zero_division=0)
        got = getattr(rep, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx(want[:3]), avg


def test_cli_evaluate_matches_text_labels_to_a_models_integer_classes(tmp_path):
    """A model trained in Python on integer labels, evaluated on a CSV (labels read as text):
    '0' is its class 0 (every label was 'never seen': accuracy 0 and every row
    misclassified)."""
    from click.testing import CliRunner

    from bowclf import TextClassifier, save
    from bowclf.cli import cli

    texts = [f"{w} {w} thing" for w in ("red", "blue", "green")] * 20
    y = np.array([0, 1, 2] * 20)
    model = TextClassifier(dim=8, random_state=0).fit(texts, y)
    save(model, tmp_path / "m.bowclf")
    test = tmp_path / "t.csv"
    test.write_text("label,text\n" + "".join(f"{b},{a}\n" for a, b in zip(texts, y, strict=True)))
    out = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "m.bowclf"), str(test), "--json",
                                   "--misclassified", str(tmp_path / "bad.csv")])  # fmt: skip
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["accuracy"] == pytest.approx(model.score(texts, y))
    assert not report.get("unseen_counts")
    wrong = int((model.predict(texts) != y).sum())
    assert len((tmp_path / "bad.csv").read_text().splitlines()) == wrong + 1


def test_no_errors_is_said_only_when_there_are_none():
    """Accuracy 0 on labels the model never saw printed "no errors" in green (and the HTML
    "No errors."); the shares of the listed confusions are of every wrong document."""
    classes = ["a", "b"]
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    perfect = compute_report(["a", "b", "a", "a"], P, classes)
    unseen = compute_report(["x", "y", "x", "x"], P, classes)
    assert "no errors" in perfect.render_text(color=False)
    assert "No errors." in perfect.render_html()
    for rendered in (unseen.render_text(color=False), unseen.render_html()):
        assert "no errors" not in rendered.lower()
        assert "gold labels it never saw (4)" in " ".join(rendered.split())
    mixed = compute_report(["a", "a", "b", "x"], P, classes)  # 3 errors: b→a, a→b, x→a
    text = " ".join(mixed.render_text(color=False).split())
    shares = [float(m) for m in re.findall(r"(\d+\.\d)% of errors", text)]
    assert shares and sum(shares) <= 100.0 and 33.3 in shares


def test_html_figures_draw_labels_with_dollar_signs_as_text():
    """matplotlib reads '$…$' as math text: a class named '$\\badcmd$' failed the whole HTML
    report (after the terminal one was printed)."""
    pytest.importorskip("matplotlib")
    classes = [r"$\badcmd$", "from $5 to $10", "plain"]
    P = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1]])
    rep = compute_report([classes[0], classes[1], classes[2], classes[1]], P, classes)
    page = rep.render_html()
    assert "data:image/png" in page and "from $5 to $10" in page


def test_calibration_bins_are_sklearns():
    """A confidence exactly on a bin edge (0.5: an empty document under one-vs-all) falls in
    the bin below, as in scikit-learn's calibration_curve (it fell in the one above)."""
    from sklearn.calibration import calibration_curve

    P = np.array([[0.5, 0.5], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
    y = ["a", "a", "b", "a", "a", "b"]
    rep = compute_report(y, P, ["a", "b"], n_bins=10)
    top = P.max(axis=1)
    correct = (np.array(["a", "b"])[P.argmax(axis=1)] == np.array(y)).astype(int)
    accuracy, confidence = calibration_curve(correct, top, n_bins=10)
    filled = [b for b in rep.calibration.bins if b.count]
    assert [b.mean_confidence for b in filled] == pytest.approx(confidence.tolist())
    assert [b.accuracy for b in filled] == pytest.approx(accuracy.tolist())


def test_report_paths_agree_on_hamming_loss_and_edge_cases(monkeypatch):
    """The Hamming loss runs over the union's columns on both paths (the dense one counted
    every class: 0.0875 where the ranked one and scikit-learn said 0.175); a test set with
    no label at all is zeros, not NaN or ZeroDivisionError; a ranked 'no label' (-1) is not
    the first unseen gold label; the 'errors are unseen labels' note only when they are."""
    from bowclf.report import Ranked

    classes = ["a", "b", "c"]
    gold, guess = [["a", "zz"], ["a"], ["b"], ["a"]], [("a",), ("b",), ("b",), ()]
    mlb = MultiLabelBinarizer().fit(gold + [list(g) for g in guess])
    want = skm.hamming_loss(mlb.transform(gold), mlb.transform(guess))
    P = np.full((4, 3), 0.2)
    ranked = Ranked(np.tile([0, 1], (4, 1)), np.full((4, 2), 0.2))
    two = Ranked(np.tile([0, 1], (2, 1)), np.full((2, 2), 0.2))
    for proba, first_two in ((P, P[:2]), (ranked, two)):
        rep = compute_report(gold, proba, classes, multilabel=True, y_pred=guess, k=1)
        assert rep.hamming_loss == pytest.approx(want)
        empty = compute_report([set(), set()], first_two, classes, multilabel=True,
                               y_pred=[set(), set()], k=1)  # fmt: skip
        assert empty.macro.f1 == 0.0 and empty.hamming_loss == 0.0
    none = compute_report(["zz", "a"], Ranked(np.array([[-1], [0]]), np.array([[np.nan], [0.9]])),
                          ["a", "b"], k=1)  # fmt: skip
    assert none.accuracy == 0.5
    rep = compute_report(["b", "zz", "b"], np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]),
                         ["a", "b"], top_confusions=0, k=1)  # fmt: skip
    assert rep.confusions_note() == ("no confusions listed", False)
