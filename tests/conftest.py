"""Shared fixtures: small deterministic corpora made in-process (tests never read ../shared)."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import numpy as np
import pytest

#: Why a weight of 2 does not fit as a repeated row, even in one full batch without shuffling
#: (measured: max |ΔP| 5e-2 with plain SGD; 3e-8 once the first cause is undone by hand):
#: - weights are relative, rescaled to mean 1 (``targets.mean_one``), so the weighted fit's
#:   steps are n/Σw of the repeated rows' and its schedule counts n examples, not n + 1;
#: - a weight is one step: one doubled step at one position of a shuffled epoch, not two
#:   steps at two (as for SGDClassifier), and AdaGrad's accumulators add (2g)² = 4g², not 2g².
WEIGHTS_ARE_STEPS = "weights are relative (mean 1) and each is one step (AdaGrad: 4g², not 2g²)"

_TOPICS = {
    "sports": "match team goal score coach league season player win referee stadium cup",
    "tech": "software laptop update bug server app install crash battery screen code cloud",
    "food": "recipe dinner bake flavour kitchen chef spicy sauce taste menu fresh oven",
}
_COMMON = "the a of and to in is it was for on with this that very really quite just".split()


def default_sigint() -> None:
    """``preexec_fn`` of a child that must act on SIGINT: a parent run in the background
    (``cmd &`` in a script) ignores SIGINT, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def write_label_text_csv(path: Path, texts, labels) -> Path:
    """A ``label,text`` CSV file with a header row."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(zip(labels, texts, strict=True))
    return path


#: Tickets of :func:`write_named_columns_csv`: ``label,text`` pairs.
TICKET_ROWS = [
    ("billing", "I was charged twice"),
    ("billing", "refund my payment"),
    ("shipping", "my parcel never arrived"),
    ("shipping", "where is my package"),
]


def write_named_columns_csv(path: Path, repeat: int = 10) -> Path:
    """An ``id,cat,msg`` CSV of :data:`TICKET_ROWS` (``repeat`` times): columns no reader
    finds by name, so ``fit`` needs ``--text-column msg --label-column cat``."""
    rows = TICKET_ROWS * repeat
    path.write_text(
        "id,cat,msg\n" + "".join(f"{i},{c},{t}\n" for i, (c, t) in enumerate(rows)),
        encoding="utf-8",
    )
    return path


def three_class_counts(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small count matrix (``n`` × 40 Poisson counts) with three classes read off it."""
    rng = np.random.default_rng(seed)
    X = rng.poisson(0.3, size=(n, 40))
    y = (X[:, 0] > X[:, 1]).astype(int) + (X[:, 2] > 0)
    return X, y


def one_hot_targets(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """``n`` random one-hot rows over ``c`` classes (float64)."""
    Y = np.zeros((n, c))
    Y[np.arange(n), rng.integers(c, size=n)] = 1.0
    return Y


def score_finite_differences(loss, S: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``∂loss/∂S_ik`` of a scalar function of the score matrix."""
    fd = np.zeros_like(S)
    for i in range(S.shape[0]):
        for k in range(S.shape[1]):
            up, down = S.copy(), S.copy()
            up[i, k] += eps
            down[i, k] -= eps
            fd[i, k] = (loss(up) - loss(down)) / (2 * eps)
    return fd


def make_texts(n: int = 600, seed: int = 0, noise: float = 0.1) -> tuple[list[str], list[str]]:
    """A 3-class topical corpus: topic words mixed with common words and some label noise."""
    rng = np.random.default_rng(seed)
    labels = list(_TOPICS)
    vocab = {k: v.split() for k, v in _TOPICS.items()}
    texts, y = [], []
    for _ in range(n):
        label = labels[rng.integers(len(labels))]
        length = int(rng.integers(4, 20))
        words = []
        for _ in range(length):
            r = rng.random()
            if r < 0.35:
                words.append(vocab[label][rng.integers(12)])
            elif r < 0.45:  # a word of another topic
                other = labels[rng.integers(len(labels))]
                words.append(vocab[other][rng.integers(12)])
            else:
                words.append(_COMMON[rng.integers(len(_COMMON))])
        if rng.random() < noise:
            label = labels[rng.integers(len(labels))]
        texts.append(" ".join(words))
        y.append(label)
    return texts, y


def make_class_word_texts(
    n: int, seed: int, *, classes: int, share: float, flip: float = 0.0
) -> tuple[list[str], list[str]]:
    """``classes`` classes of 300 words each, eight words a document: each a word of its
    class with probability ``share``, else one of 300 common words; a share ``flip`` of the
    labels moved to another class at random.  Two classes are named ``neg`` and ``pos``, more
    by their number."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    texts = [
        " ".join(
            f"w{c}_{j}" if rng.random() < share else f"c{rng.integers(300)}"
            for j in rng.integers(0, 300, 8)
        )  # fmt: skip
        for c in y
    ]
    if flip:
        flipped = rng.random(n) < flip
        y = np.where(flipped, (y + rng.integers(1, classes, n)) % classes, y)
    return texts, [("neg", "pos")[c] for c in y] if classes == 2 else [str(c) for c in y]


def make_two_class_texts(n: int, seed: int, flip: float) -> tuple[list[str], list[str]]:
    """:func:`make_class_word_texts` with two classes, 40 % class words."""
    return make_class_word_texts(n, seed, classes=2, share=0.4, flip=flip)


@pytest.fixture(scope="session")
def text_data():
    """(train_texts, train_labels, test_texts, test_labels)."""
    tr = make_texts(900, seed=0)
    te = make_texts(300, seed=1, noise=0.0)
    return tr[0], tr[1], te[0], te[1]


@pytest.fixture(scope="session")
def count_data(text_data):
    """The text fixture as CountVectorizer counts: (X_train, y_train, X_test, y_test)."""
    from sklearn.feature_extraction.text import CountVectorizer

    Xtr, ytr, Xte, yte = text_data
    cv = CountVectorizer().fit(Xtr)
    return cv.transform(Xtr), np.array(ytr), cv.transform(Xte), np.array(yte)
