"""Σ contributions = score on every shared corpus's test set (issue 18's acceptance check).

For each corpus: train a small model (``dim=50``, 3 epochs, softmax; reuters21578 is
multi-label and is also run with ``loss='ova'``), explain every class of every test
document with :meth:`TextClassifier.explain` and compare the sum of the feature
contributions with the model's own score (``decision_function``).  Reports, over all
(document, class) pairs, the largest error relative to the score's magnitude
``max(|s|, Σ|c_j|)`` (float32 rounding of a sum with cancellation is bounded by the latter),
the share of pairs within 1e-5 of ``|s|`` itself, the share of features named by their
n-gram text, and the explanation time per document.  Exits 1 if any pair exceeds 1e-5.

Usage::

    BOWCLF_DATASETS=/work/shared/datasets python bench/bench_explain.py [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import load_dataset  # noqa: E402
from bowclf import TextClassifier  # noqa: E402

CORPORA = [
    ("sst2", "softmax"),
    ("trec", "softmax"),
    ("ag_news", "softmax"),
    ("sms_spam", "softmax"),
    ("imdb", "softmax"),
    ("tweeteval_emoji", "softmax"),
    ("reuters21578", "softmax"),
    ("reuters21578", "ova"),
]


def run(name: str, loss: str, limit: int | None) -> dict:
    train_split = "train_first2000" if name == "ag_news" else "train"
    texts, labels = load_dataset(name, train_split)
    test, _ = load_dataset(name, "test")
    if name == "ag_news":  # the 2,000-document train split is tiny; add test documents
        texts, labels = texts + test[:4000], labels + load_dataset(name, "test")[1][:4000]
        test = test[4000:]
    if limit:
        test = test[:limit]
    y = [tuple(lab.split()) for lab in labels] if name == "reuters21578" else labels
    model = TextClassifier(dim=50, epochs=3, loss=loss, random_state=0).fit(texts, y)
    S = model.decision_function(test)
    if S.ndim == 1:  # binary: per-class scores from the embeddings
        S = model.transform(test).astype(np.float32) @ model.classifier_.B_.T
    classes = list(model.classes_)
    c = len(classes)
    t = time.perf_counter()
    worst = 0.0
    strict = pairs = named = features = 0
    for start in range(0, len(test), 1000):
        chunk = test[start : start + 1000]
        for i, ex in enumerate(model.explain(chunk, k=c), start=start):
            features += len(ex.features)
            named += sum(not f.startswith("ngram#") for f in ex.features)
            for ce in ex.classes:
                s = float(S[i, classes.index(ce.label)])
                err = abs(ce.contributions.sum() - s)
                worst = max(worst, err / max(abs(s), np.abs(ce.contributions).sum(), 1e-30))
                strict += err <= 1e-5 * abs(s)
                pairs += 1
    seconds = time.perf_counter() - t
    return {
        "corpus": name,
        "loss": loss,
        "documents": len(test),
        "classes": c,
        "pairs": pairs,
        "worst": worst,
        "strict": strict / pairs,
        "named": named / max(features, 1),
        "ms_per_doc": 1e3 * seconds / len(test),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="test documents per corpus")
    args = ap.parse_args()
    print(
        "| corpus | loss | test docs | classes | (doc, class) pairs | max error / max(|s|, Σ|c|) "
        "| within 1e-5·|s| | features named | ms/doc (all classes) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    bad = False
    for name, loss in CORPORA:
        r = run(name, loss, args.limit)
        bad |= r["worst"] > 1e-5
        print(
            f"| {r['corpus']} | {r['loss']} | {r['documents']:,} | {r['classes']} | "
            f"{r['pairs']:,} | {r['worst']:.1e} | {r['strict']:.4%} | {r['named']:.2%} | "
            f"{r['ms_per_doc']:.2f} |",
            flush=True,
        )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
