"""Prototype defaults on altered copies of a corpus: a skewed class, flipped labels, fewer
documents.

The dev suite's generated kinds carry their own label noise and class balance; this asks how
a configuration of :mod:`bench.proto_defaults` (its ``_``-keys included) and the peers do
when a *real* corpus is made skewed or noisy, the same way for every configuration:

* ``--minority-share s``: the smallest class of a two-class corpus is subsampled to a share
  ``s`` of the documents, in the training and the test set alike;
* ``--flip f``: a share ``f`` of the training labels is flipped to the other class (the test
  labels stay as they are);
* ``--train-docs n``: a random ``n`` of the training documents;
* ``--classes A,B``: only the documents of these classes (train and test), before the rest:
  e.g. two classes of a multi-class corpus;
* ``--scale s`` (a generated kind): the corpus drawn at ``s`` times its sizes, in memory.

Each configuration is trained once per seed; the table gives mean accuracy / macro-F1 %.
``--peers`` adds fastText's defaults (a run that stops on "Encountered NaN" is retried with
another seed) and ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` +
``SGDClassifier()``.

Usage::

    python -m bench.proto_skew --corpus sst2 --minority-share 0.2 --config base='{}' \\
        --config cw='{"class_weight": "balanced"}' --peers
    python -m bench.proto_skew --corpus sst2 --flip 0.1 --config noprobe='{"_noprobe2": true}' \\
        --config r='{"_probe_force": "restart"}' --config c='{"_probe_force": "continue"}'
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import proto_defaults as proto
from bench.common import read_csv_gz
from bench.devsuite import GENERATORS, _score, _shared_pairs, draw_corpus, generate_corpus
from bench.prep import _build_pair, _write_csv_gz
from bench.systems import run_fasttext, run_sk_tfidf_sgd

__all__ = ["alter", "main"]


def alter(
    train: tuple[list[str], list[str]],
    test: tuple[list[str], list[str]],
    *,
    minority_share: float | None = None,
    flip: float = 0.0,
    train_docs: int | None = None,
    seed: int = 5,
) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """The altered ``(texts, labels)`` training and test sets (see the module doc).  The
    same ``seed`` gives the same documents: the training set is skewed with the generator of
    ``seed``, the test set with ``seed + 1``, and the subset and the flips come from
    ``seed + 6``."""
    (X, y), (Xt, yt) = train, test
    if minority_share is not None:
        labels, counts = np.unique(y, return_counts=True)
        if labels.size != 2:
            raise SystemExit("--minority-share needs a two-class corpus")
        minority = labels[np.argmin(counts)]
        X, y = _skew(X, y, minority, minority_share, np.random.default_rng(seed))
        Xt, yt = _skew(Xt, yt, minority, minority_share, np.random.default_rng(seed + 1))
    if train_docs is not None or flip:
        rng = np.random.default_rng(seed + 6)
        keep = np.sort(rng.permutation(len(X))[: train_docs or len(X)])
        X, y = [X[i] for i in keep], [y[i] for i in keep]
        labels = np.unique(y)
        if flip and labels.size != 2:
            raise SystemExit("--flip needs a two-class corpus")
        flipped = rng.random(len(y)) < flip
        other = dict(zip(labels.tolist(), labels.tolist()[::-1], strict=True))
        y = [other[lab] if f else lab for lab, f in zip(y, flipped, strict=True)]
    return (list(X), list(y)), (list(Xt), list(yt))


def _corpus(name: str, seed: int, scale: float | None):
    """``(train, test)`` of a shared corpus or a generated kind's draw ``seed`` (at ``scale``
    times its sizes: drawn in memory, the dev suite's cache keeps its own)."""
    if name in GENERATORS and scale is not None:
        tr_x, tr_y, te_x, te_y = draw_corpus(name, scale, seed)
        return (tr_x, tr_y), (te_x, te_y)
    if scale is not None:
        raise SystemExit("--scale needs a generated kind")
    if name in GENERATORS:
        pair = generate_corpus(name, seed=seed)
    else:
        pair = _shared_pairs([name])[0]
    return read_csv_gz(pair["train_csv"]), read_csv_gz(pair["test_csv"])


def _only(keep: set[str], texts: list[str], labels: list[str]) -> tuple[list[str], list[str]]:
    picked = [i for i, lab in enumerate(labels) if lab in keep]
    if not picked:
        raise SystemExit(f"--classes: none of {sorted(keep)} in the corpus")
    return [texts[i] for i in picked], [labels[i] for i in picked]


def _skew(X, y, minority, share: float, rng) -> tuple[list[str], list[str]]:
    y = np.asarray(y)
    major, minor = np.flatnonzero(y != minority), np.flatnonzero(y == minority)
    k = min(minor.size, int(round(share / (1.0 - share) * major.size)))
    keep = np.sort(np.concatenate([major, rng.choice(minor, k, replace=False)]))
    return [X[i] for i in keep], y[keep].tolist()


def _bowclf(spec: dict[str, Any], seed: int, train, test) -> tuple[tuple[float, float], str]:
    """One fit of a proto_defaults configuration; its score and what it printed (the
    probe's lines with ``_probe_force``)."""
    from bowclf import TextClassifier

    params = proto.configure(spec)
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        model = TextClassifier(random_state=seed, **params).fit(*train)
    return _score(list(model.predict(test[0])), test[1]), said.getvalue()


def _pair(train, test, workdir: str) -> dict[str, Any]:
    """The altered corpus written out as a benchmark pair (:func:`bench.prep._build_pair`:
    CSV, fastText and VW files), once per run, for :mod:`bench.systems`' runners."""
    out = Path(workdir) / "pair"
    if not (out / "meta.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        for split, (texts, labels) in (("train", train), ("test", test)):
            _write_csv_gz(out / f"{split}.csv.gz", zip(labels, texts, strict=True))
        meta = _build_pair("altered", out / "train.csv.gz", out / "test.csv.gz", out, False)
        (out / "meta.json").write_text(json.dumps(meta))
    return json.loads((out / "meta.json").read_text())


def _peers(seed: int, train, test, workdir: str) -> dict[str, tuple[float, float]]:
    """fastText's defaults (retried with another seed when it stops on "Encountered NaN")
    and tf-idf(1,2)+SGD, through :mod:`bench.systems`' runners."""
    pair, where = _pair(train, test, workdir), Path(workdir)
    for attempt in range(10):
        try:
            ft = run_fasttext(pair, {"seed": seed + 1000 * attempt}, where)
            break
        except RuntimeError as exc:
            error = exc
    else:
        raise SystemExit(f"fastText stopped on all 10 seeds tried: {error}")
    sk = run_sk_tfidf_sgd(pair, {"random_state": seed}, where)
    return {"fastText": _score(ft["pred"], test[1]), "tf-idf+SGD": _score(sk["pred"], test[1])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.proto_skew", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--corpus", required=True, help="a shared corpus (sst2, ...) or a generated kind"
    )
    ap.add_argument("--corpus-seed", type=int, default=0, help="a generated kind's draw")
    ap.add_argument("--minority-share", type=float, default=None)
    ap.add_argument("--flip", type=float, default=0.0)
    ap.add_argument("--train-docs", type=int, default=None)
    ap.add_argument("--classes", default=None, help="keep only these classes: A,B,...")
    ap.add_argument("--scale", type=float, default=None, help="a generated kind's size factor")
    ap.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a configuration of bench.proto_defaults (default: base='{}', the defaults)",
    )
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--peers", action="store_true", help="also fastText and tf-idf+SGD")
    args = ap.parse_args(argv)
    proto.install()
    train, test = _corpus(args.corpus, args.corpus_seed, args.scale)
    if args.classes is not None:
        keep = set(args.classes.split(","))
        train, test = (_only(keep, *train), _only(keep, *test))
    train, test = alter(
        train, test,
        minority_share=args.minority_share, flip=args.flip, train_docs=args.train_docs,
    )  # fmt: skip
    specs = args.config or ["base={}"]
    configs = [(name, json.loads(js)) for name, _, js in (c.partition("=") for c in specs)]
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory() as workdir:
        for seed in args.seeds:
            for name, spec in configs:
                score, said = _bowclf(spec, seed, train, test)
                scores[name].append(score)
                for line in re.findall(r"probe: .*", said):
                    print(f"{name} seed {seed}: {line}", file=sys.stderr)
            if args.peers:
                for name, score in _peers(seed, train, test, workdir).items():
                    scores.setdefault(name, []).append(score)
    print(f"{args.corpus}: {len(train[1]):,} training / {len(test[1]):,} test documents "
          f"(minority share {args.minority_share}, flip {args.flip}); accuracy / macro-F1 %, "
          f"mean of {len(args.seeds)} seeds")  # fmt: skip
    for name, got in scores.items():
        acc, f1 = np.mean(got, axis=0)
        print(f"  {name:<14} {acc:6.2f} / {f1:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
