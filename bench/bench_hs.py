"""Many labels: hierarchical softmax against softmax and fastText on Zipfian tag corpora.

    python bench/bench_hs.py [--labels 100 1k 10k 100k] [--tokens 10M] [--test-docs 20k]
                             [--epochs 5] [--lr 0.25] [--dim 100] [--softmax-max 1000]
                             [--timeout 3600] [--workdir /tmp/bowclf-hs] [--json RUNS.jsonl]
    python bench/bench_hs.py --table-from RUNS.jsonl   # only print the table of stored runs

For every label count c a synthetic corpus is generated once into ``--workdir`` with
bench/synth.py (fastText format, one label per document, label priors ∝ ``(k + 1)⁻¹`` — a
Zipfian tag distribution —, 20 topic words per label, 200k-word vocabulary, ~50 tokens per
document) plus a test set from another document stream of the same model.  Each system then
runs in its own child process, which reports its own peak RSS (``ru_maxrss``):

* bowclf ``TextClassifier(loss='hs')`` and (up to ``--softmax-max`` labels) ``loss='softmax'``,
  unigrams, no idf, ``optimizer='sgd'`` — the same model and optimiser as fastText's;
* fastText ``-loss hs`` and (up to ``--softmax-max``) ``-loss softmax``, ``thread=2``,
  ``wordNgrams=1``, ``minCount=1``, the same dim / epoch / lr.

Columns: training tokens/s = training tokens × epochs ÷ fit seconds (fastText reads its file
inside ``fit``; bowclf's texts are read before the clock starts, as in bench/RESULTS.md);
predict docs/s = test documents ÷ seconds of one top-5 prediction over the test texts
(``predict_topk(k=5)`` / ``predict(k=5)``; the fastest of ``--repeats``); P@1, P@5 and R@5
as fastText's ``test`` reports them (a document's top-k labels against its gold labels).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import parse_count, train_test_paths  # noqa: E402

_READ = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
def read(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            gold = [w[9:] for w in words if w.startswith("__label__")]
            labels.append(gold)
            texts.append(" ".join(w for w in words if not w.startswith("__label__")))
    return texts, labels
def scores(top, gold):
    p1 = hits = gold_n = 0
    for t, g in zip(top, gold):
        g = set(g)
        p1 += t[0] in g if t else 0
        hits += len(g.intersection(t[:5]))
        gold_n += len(g)
    n = len(gold)
    return {{"p1": p1 / n, "p5": hits / (5 * n), "r5": hits / gold_n}}
test_texts, test_labels = read({test!r})
"""

_BOWCLF = (
    _READ
    + r"""
from bowclf import TextClassifier
texts, labels = read({train!r})
single = all(len(g) == 1 for g in labels)
y = [g[0] for g in labels] if single else labels
del labels
model = TextClassifier(loss={loss!r}, dim={dim}, epochs={epochs}, lr={lr}, ngrams=1,
                       use_idf=False, optimizer="sgd", random_state=0)
t = time.perf_counter()
model.fit(texts, y)
fit_s = time.perf_counter() - t
predict_s = float("inf")
for _ in range({repeats}):  # the fastest of the repeats: the machine may be shared
    t = time.perf_counter()
    top = model.predict_topk(test_texts, k=5)
    predict_s = min(predict_s, time.perf_counter() - t)
top = [[str(label) for label, _ in row] for row in top]
print(json.dumps({{"fit_s": fit_s, "predict_s": predict_s, **scores(top, test_labels),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
)

_FASTTEXT = (
    _READ
    + r"""
import fasttext
t = time.perf_counter()
model = fasttext.train_supervised(input={train!r}, loss={loss!r}, dim={dim}, epoch={epochs},
                                  lr={lr}, wordNgrams=1, minCount=1, thread=2, seed=0,
                                  verbose=0)
fit_s = time.perf_counter() - t
predict_s = float("inf")
for _ in range({repeats}):
    t = time.perf_counter()
    top, _ = model.predict(test_texts, k=5)
    predict_s = min(predict_s, time.perf_counter() - t)
top = [[x[9:] for x in row] for row in top]
print(json.dumps({{"fit_s": fit_s, "predict_s": predict_s, **scores(top, test_labels),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
)

SYSTEMS = {
    "bowclf hs": (_BOWCLF, "hs"),
    "bowclf softmax": (_BOWCLF, "softmax"),
    "fastText -loss hs": (_FASTTEXT, "hs"),
    "fastText -loss softmax": (_FASTTEXT, "softmax"),
}


def corpus(c: int, args) -> dict:
    """The train/test pair for ``c`` labels (generated once, then reused)."""
    return train_test_paths(
        args.workdir,
        train_tokens=args.tokens,
        test_docs=args.test_docs,
        fmt="fasttext",
        compress=False,
        n_classes=c,
        vocab_size=200_000,
        topic_size=20,
        topic_strength=0.3,
        class_skew=1.0,
        seed=0,
    )


def run(system: str, pair: dict, args) -> dict:
    template, loss = SYSTEMS[system]
    code = template.format(
        repo=str(Path(__file__).resolve().parents[1]),
        train=str(pair["train"]),
        test=str(pair["test"]),
        loss=loss,
        dim=args.dim,
        epochs=args.epochs,
        lr=args.lr,
        repeats=args.repeats,
    )
    t = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"over the {args.timeout:.0f} s time limit"}
    if out.returncode != 0:
        return {"skipped": "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t
    tokens = pair["train_stats"]["n_tokens"]
    result["tokens_per_s"] = tokens * args.epochs / result["fit_s"]
    result["docs_per_s"] = pair["test_stats"]["n_docs"] / result["predict_s"]
    return result


def _rate(x: float) -> str:
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def table(rows: list[dict]) -> str:
    lines = [
        "| labels | system | train tokens/s | predict top-5 docs/s | P@1 % | P@5 % | R@5 % "
        "| fit s | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['labels']:,} | {r['system']} | {r['skipped']} ||||||")
            continue
        lines.append(
            f"| {r['labels']:,} | {r['system']} | {_rate(r['tokens_per_s'])} | "
            f"{_rate(r['docs_per_s'])} | {100 * r['p1']:.2f} | {100 * r['p5']:.2f} | "
            f"{100 * r['r5']:.2f} | {r['fit_s']:.1f} | {r['rss_mb']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", nargs="+", default=["100", "1k", "10k", "100k"])
    ap.add_argument("--tokens", default="10M", help="training tokens per corpus")
    ap.add_argument("--test-docs", default="20k")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.25)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument(
        "--softmax-max",
        type=parse_count,
        default=1000,
        help="run the softmax systems up to this many labels",
    )
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="top-5 predictions timed per run (the fastest counts)",
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bowclf-hs"))
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per run")
    ap.add_argument(
        "--table-from",
        type=Path,
        default=None,
        help="only print the table of the runs in this JSON-lines file",
    )
    args = ap.parse_args(argv)
    if args.table_from:
        print(table([json.loads(line) for line in args.table_from.read_text().splitlines()]))
        return 0
    rows = []
    for c in map(parse_count, args.labels):
        pair = corpus(c, args)
        for system in args.systems:
            if "softmax" in system and c > args.softmax_max:
                continue
            result = {"labels": c, "system": system, **run(system, pair, args)}
            result["train_tokens"] = pair["train_stats"]["n_tokens"]
            rows.append(result)
            print(json.dumps(result), flush=True)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write(json.dumps(result) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
