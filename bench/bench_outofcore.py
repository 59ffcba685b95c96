"""Out-of-core training at growing corpus sizes: peak RSS must stay flat.

    python bench/bench_outofcore.py [--sizes 10M 100M 1G] [--epochs 2] [--ngrams 1]
                                    [--max-features 100000] [--workdir /tmp/bowclf-ooc]

For every size a synthetic corpus (bench/synth.py: 20 classes, 100k-word Zipfian vocabulary,
~50 tokens per document, plain CSV) is generated once into ``--workdir``; then a child process
runs ``bowclf.stream.fit_stream`` (the engine behind ``bowclf fit --stream``) with the
vocabulary bounded by ``--max-features`` and reports its own peak RSS (``ru_maxrss``), the
tokens/s of the vocabulary pass, of the tokenisation pass (epoch 1's extra cost) and of the
training epochs (what every later epoch costs), and the accuracy on a 20k-document test set.
With ``--compare-in-memory`` the in-memory ``TextClassifier.fit`` runs on the smallest size
too, for the accuracy comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import generate, parse_count  # noqa: E402

_CHILD = r"""
import json, resource, sys, time, csv
sys.path.insert(0, {repo!r})
from bowclf import TextClassifier
from bowclf.stream import fit_stream
texts, labels = [], []
with open({test!r}, encoding="utf-8") as f:
    r = csv.reader(f); next(r)
    for lab, text in r:
        labels.append(lab); texts.append(text)
model = TextClassifier(epochs={epochs}, ngrams={ngrams}, max_features={max_features},
                       dim={dim}, random_state=0)
t = time.perf_counter()
if {in_memory}:
    train_t, train_y = [], []
    with open({train!r}, encoding="utf-8") as f:
        r = csv.reader(f); next(r)
        for lab, text in r:
            train_y.append(lab); train_t.append(text)
    model.fit(train_t, train_y)
    passes = [None, None]; epoch_s = model.training_summary_["seconds"]
else:
    fit_stream(model, {train!r}, chunk_size=20000)
    passes = model.training_summary_["pass_seconds"]
    epoch_s = model.training_summary_["epoch_seconds"]
fit_s = time.perf_counter() - t
acc = model.score(texts, labels)
print(json.dumps({{"fit_s": fit_s, "passes": passes, "epoch_s": epoch_s, "acc": acc,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "summary": model.training_summary_}}))
"""


def run(train: Path, test: Path, n_tokens: int, args, in_memory: bool = False) -> dict:
    code = _CHILD.format(
        repo=str(Path(__file__).resolve().parents[1]),
        train=str(train),
        test=str(test),
        epochs=args.epochs,
        ngrams=args.ngrams,
        max_features=args.max_features,
        dim=args.dim,
        in_memory=in_memory,
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["tokens"] = n_tokens
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10M", "100M", "1G"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--ngrams", type=int, default=1)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--max-features", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bowclf-ooc"))
    parser.add_argument("--compare-in-memory", action="store_true")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    test = args.workdir / "test.csv"
    if not test.exists():
        generate(test, n_docs=20_000, n_classes=20, vocab_size=100_000, seed=0, stream=1)
    print(
        f"epochs={args.epochs} ngrams={args.ngrams} dim={args.dim} max_features={args.max_features}"
    )
    print(
        "| train tokens | mode | fit s | vocab pass tok/s | tokenise pass tok/s | "
        "epoch tok/s | accuracy | peak RSS MB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for i, size in enumerate(args.sizes):
        n_tokens = parse_count(size)
        train = args.workdir / f"train_{size}.csv"
        if not train.exists():
            t = time.perf_counter()
            generate(train, n_tokens=n_tokens, n_classes=20, vocab_size=100_000, seed=0)
            print(f"(generated {size} tokens in {time.perf_counter() - t:.0f}s)", flush=True)
        modes = [False] + ([True] if args.compare_in_memory and i == 0 else [])
        for in_memory in modes:
            try:
                r = run(train, test, n_tokens, args, in_memory=in_memory)
            except RuntimeError as exc:
                print(f"| {size} | {'in-memory' if in_memory else 'out-of-core'} | failed: {exc} |")
                continue
            p1, p2 = r["passes"]
            rate = lambda s, n=n_tokens: f"{n / s:,.0f}" if s else "–"  # noqa: E731
            epoch_rate = f"{n_tokens * r['summary']['epochs'] / r['epoch_s']:,.0f}"
            print(
                f"| {size} | {'in-memory' if in_memory else 'out-of-core'} | "
                f"{r['fit_s']:.0f} | {rate(p1)} | {rate(p2)} | {epoch_rate} | "
                f"{r['acc']:.4f} | {r['rss_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
