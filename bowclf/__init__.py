"""bowclf: a fastText-style bag-of-words text classifier in pure numpy/scipy.

The model is ``ŷ = softmax(B·A·x)``: a sparse bag-of-words count vector ``x``
(p features: vocabulary words plus hashed n-grams) is embedded by ``A`` (d×p),
averaged, mapped to class scores by ``B`` (c×d) and turned into probabilities.

Public API (imported lazily, so ``import bowclf`` stays cheap):

- :class:`BowClassifier` — the model over count matrices (scikit-learn estimator).
- :class:`BowVectorizer` — raw text to sparse counts with hashed word n-grams.
- :class:`TextClassifier` — vectorizer + classifier on raw text.
- :func:`save` / :func:`load` — safe, pickle-free model files.
- :func:`load_predictor` — a model file's prediction path without scikit-learn (fast start-up).
- :func:`evaluate` — evaluation reports.
- :func:`load_fasttext` — run a fastText supervised ``.bin``/``.ftz`` model.
- :func:`quantize` — a small copy of a model (pruned, product-quantised embeddings).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "BowClassifier": "bowclf.classifier",
    "BowVectorizer": "bowclf.vectorizer",
    "TextClassifier": "bowclf.text",
    "save": "bowclf.persist",
    "load": "bowclf.persist",
    "load_predictor": "bowclf.persist",
    "ModelFileError": "bowclf.persist",
    "read_corpus": "bowclf.corpus",
    "CorpusError": "bowclf.corpus",
    "evaluate": "bowclf.report",
    "Report": "bowclf.report",
    "load_fasttext": "bowclf.io.fasttext",
    "quantize": "bowclf.quantization",
    "FastTextModel": "bowclf.io.fasttext",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bowclf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
