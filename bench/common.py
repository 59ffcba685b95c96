"""Helpers shared by the benchmark scripts: locating and reading the benchmark corpora."""

from __future__ import annotations

import csv
import gzip
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    """``$BOWCLF_DATASETS`` or ``../shared/datasets`` beside the repository."""
    env = os.environ.get("BOWCLF_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


def dataset_path(name: str, split: str) -> Path:
    return datasets_dir() / name / f"{split}.csv.gz"


def read_csv_gz(path: str | Path) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` of a gzipped (or plain) ``label,text`` CSV file with a header."""
    csv.field_size_limit(sys.maxsize)
    opener = gzip.open if str(path).endswith(".gz") else open
    texts, labels = [], []
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for label, text in reader:
            labels.append(label)
            texts.append(text)
    return texts, labels


def load_dataset(name: str, split: str) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` of one split of a ``label,text`` gzipped CSV corpus."""
    return read_csv_gz(dataset_path(name, split))
