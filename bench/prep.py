"""Benchmark data preparation: train/test pairs and the input files every system needs.

A *pair* is one train/test split of one dataset (``ag_news`` has five: a stratified 5-fold
cross-validation of its 7,600-document test split). For every pair this module writes, once, into
a cache directory (``bench/out/data`` by default, gitignored):

* ``train.csv.gz`` / ``test.csv.gz`` — only for cross-validation folds (other pairs use the
  corpus files directly); the input of the bowclf CLI, bowclf's Python API and scikit-learn;
* ``train.ft.txt`` / ``test.ft.txt`` — fastText lines ``__label__L text``, the text lower-cased
  and whitespace-normalised (fastText splits on whitespace only);
* ``train.vw`` / ``test.vw`` — Vowpal Wabbit lines ``K |t text`` with classes numbered 1..K in
  sorted label order, the same normalised text, and VW's special characters replaced
  (``|`` → ``¦``, ``:`` → ``：``, full-width colon);
* ``meta.json`` — document and token counts, labels and a stamp of the source files (the cache is
  rebuilt when a source file changes).

Tokens are counted once, the same way for every system: whitespace tokens of the raw training
texts (``len(text.split())``).

``python -m bench.prep NAME`` prepares one dataset and prints its pairs as JSON: the benchmark
parent runs it in a child process so that the parent itself stays small (on Linux a child's
``ru_maxrss`` starts at its parent's peak resident size).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.common import REPO, dataset_path, datasets_dir, read_csv_gz

__all__ = [
    "CACHE_DIR",
    "CV_DATASETS",
    "MULTILABEL_DATASETS",
    "QUICK_DATASETS",
    "available_datasets",
    "ft_line",
    "normalise",
    "prepare_pairs",
    "read_csv_gz",
    "vw_text",
]

CACHE_DIR = REPO / "bench" / "out"
#: datasets without a usable train split: 5-fold stratified CV on the named split.
CV_DATASETS = {"ag_news": "test"}
CV_FOLDS = 5
#: datasets whose label cells hold space-separated label sets.
MULTILABEL_DATASETS = {"reuters21578"}
QUICK_DATASETS = ["trec", "sms_spam"]
_PREFERRED_ORDER = [
    "sst2",
    "trec",
    "sms_spam",
    "ag_news",
    "imdb",
    "tweeteval_emoji",
    "reuters21578",
]
_VW_ESCAPES = str.maketrans({"|": "\u00a6", ":": "\uff1a"})


def available_datasets() -> list[str]:
    """Every corpus folder with a train/test pair (or a CV split), smallest first."""
    root = datasets_dir()
    names = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.name in CV_DATASETS and dataset_path(d.name, CV_DATASETS[d.name]).exists():
                names.append(d.name)
            elif dataset_path(d.name, "train").exists() and dataset_path(d.name, "test").exists():
                names.append(d.name)
    order = {n: i for i, n in enumerate(_PREFERRED_ORDER)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def normalise(text: str) -> str:
    """fastText/VW input text: lower-cased, whitespace runs collapsed to one space."""
    return " ".join(text.lower().split())


def ft_line(label_cell: str, text: str, multilabel: bool) -> str:
    """One fastText training line (one ``__label__`` per label for multi-label cells)."""
    labels = label_cell.split() if multilabel else [label_cell]
    return " ".join(f"__label__{lab}" for lab in labels) + " " + normalise(text)


def vw_text(text: str) -> str:
    """Normalised text with VW's special characters (``|``, ``:``) replaced."""
    return normalise(text).translate(_VW_ESCAPES)


def _write_csv_gz(path: Path, rows: Iterable[tuple[str, str]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1) as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        writer.writerows(rows)


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def _stamp(paths: Iterable[Path]) -> list[list[Any]]:
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def _source_splits(name: str) -> list[tuple[str, Path, Path | None]]:
    """``(pair_id, train_source, test_source)``; for CV the test source is None (folds)."""
    if name in CV_DATASETS:
        src = dataset_path(name, CV_DATASETS[name])
        return [(f"{name}/fold{i + 1}", src, None) for i in range(CV_FOLDS)]
    return [(name, dataset_path(name, "train"), dataset_path(name, "test"))]


def _cv_fold(texts: list[str], labels: list[str], fold: int) -> tuple[list[int], list[int]]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=0)
    train_idx, test_idx = list(skf.split(texts, labels))[fold]
    return train_idx.tolist(), test_idx.tolist()


def _build_pair(
    pair_id: str, train_src: Path, test_src: Path | None, out: Path, multilabel: bool
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    if test_src is None:  # a cross-validation fold
        texts, labels = read_csv_gz(train_src)
        fold = int(pair_id.rsplit("fold", 1)[1]) - 1
        tr, te = _cv_fold(texts, labels, fold)
        train = ([texts[i] for i in tr], [labels[i] for i in tr])
        test = ([texts[i] for i in te], [labels[i] for i in te])
        train_csv, test_csv = out / "train.csv.gz", out / "test.csv.gz"
        _write_csv_gz(train_csv, zip(train[1], train[0], strict=True))
        _write_csv_gz(test_csv, zip(test[1], test[0], strict=True))
    else:
        train, test = read_csv_gz(train_src), read_csv_gz(test_src)
        train_csv, test_csv = train_src, test_src
    label_set = sorted(
        {lab for cell in train[1] + test[1] for lab in (cell.split() if multilabel else [cell])}
    )
    index = {lab: i + 1 for i, lab in enumerate(label_set)}
    files: dict[str, Any] = {"train_csv": str(train_csv), "test_csv": str(test_csv)}
    for split, (texts, labels) in (("train", train), ("test", test)):
        ft = out / f"{split}.ft.txt"
        _write_lines(
            ft, (ft_line(lab, t, multilabel) for t, lab in zip(texts, labels, strict=True))
        )
        files[f"{split}_ft"] = str(ft)
        if not multilabel:
            vw = out / f"{split}.vw"
            _write_lines(
                vw, (f"{index[lab]} |t {vw_text(t)}" for t, lab in zip(texts, labels, strict=True))
            )
            files[f"{split}_vw"] = str(vw)
    return {
        "pair": pair_id,
        "dataset": pair_id.split("/")[0],
        "multilabel": multilabel,
        "labels": label_set,
        "train_docs": len(train[0]),
        "test_docs": len(test[0]),
        "train_tokens": sum(len(t.split()) for t in train[0]),
        **files,
    }


def prepare_pairs(name: str, cache: Path = CACHE_DIR) -> list[dict[str, Any]]:
    """The train/test pairs of dataset ``name`` with all their files (built when missing)."""
    multilabel = name in MULTILABEL_DATASETS
    pairs = []
    for pair_id, train_src, test_src in _source_splits(name):
        out = cache / "data" / pair_id
        meta_path = out / "meta.json"
        stamp = _stamp([p for p in (train_src, test_src) if p is not None])
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
        if (
            meta is None
            or meta.get("stamp") != stamp
            or not all(
                Path(v).exists() for k, v in meta.items() if k.endswith(("_csv", "_ft", "_vw"))
            )
        ):
            meta = _build_pair(pair_id, train_src, test_src, out, multilabel)
            meta["stamp"] = stamp
            meta_path.write_text(json.dumps(meta, indent=1))
        pairs.append(meta)
    return pairs


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.prep NAME``: prepare one dataset, print its pairs as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    print(json.dumps(prepare_pairs(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
