"""The benchmarked systems: a registry (used by the parent) and their runners (run in a child).

Every runner takes a prepared pair (see :mod:`bench.prep`), the system's parameters and a
scratch directory, trains on the pair's training split, predicts its test split and returns a
dict of metrics:

* ``fit_s`` — wall seconds of training only (data already in memory for the in-process
  systems; fastText and VW read their training file inside ``fit_s``, as they stream it);
* ``predict_s`` — wall seconds of predicting the test split;
* ``epochs`` — passes over the training data (for tokens/s);
* ``pred`` — the predicted label of every test document; for multi-label data ``pred_sets``
  (predicted label sets) and ``top1`` (most probable label). The parent scores them
  (:mod:`bench.metrics`), so the child never imports scikit-learn just to compute metrics —
  that would inflate the peak RSS of fastText and VW. The bowclf CLI runner returns the
  metrics of ``bowclf evaluate --json`` instead.

Heavy libraries are imported inside the runners, so importing this module is cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.prep import normalise, read_csv_gz

__all__ = [
    "ABLATION_DATASETS",
    "SYSTEMS",
    "FT_INPUTS",
    "FT_PARAMS",
    "System",
    "available",
    "bowclf_cli_argv",
    "cli_flags",
    "get_runner",
]

#: fastText's hyper-parameters for the "same hyper-parameters" comparison.
FT_PARAMS: dict[str, Any] = {
    "dim": 100,
    "epoch": 5,
    "lr": 0.1,
    "wordNgrams": 2,
    "thread": 2,
    "seed": 0,
}
#: fastText's hyper-parameters, spelled as bowclf parameters: the same model doing the same
#: work.  fastText feeds raw counts averaged over the document, so every input setting whose
#: default (or ``'auto'`` rule) departs from that is pinned: no idf or supervised weights, no
#: sublinear tf, every feature kept (``min_df=1``; ``'auto'`` drops features of one document
#: on long documents), ``l1`` rows and n-grams at the words' weight.  ``optimizer='sgd'`` also
#: turns off the adaptive optimiser's softmax margin, generalized cross-entropy and overfit
#: probe (``bowclf.auto_rules``).  One difference is left: bowclf steps on minibatches of 32
#: documents (``batch_size``, pinned so that 'auto' cannot move it), fastText on one.
BOWCLF_FT_PARAMS: dict[str, Any] = {
    "dim": 100,
    "epochs": 5,
    "lr": 0.1,
    "optimizer": "sgd",
    "batch_size": 32,
    "ngrams": 2,
    "use_idf": False,
    "supervised_weight": 0.0,
    "sublinear_tf": False,
    "min_df": 1,
    "normalize": "l1",
    "ngram_weight": 1.0,
}
#: The input settings a fastText-equivalent model must resolve to (``inputs_``).
FT_INPUTS: dict[str, Any] = {
    "normalize": "l1",
    "sublinear_tf": False,
    "min_df": 1,
    "ngram_weight": 1.0,
}
VW_PASSES = 5
#: bowclf parameters recorded with every bowclf run (bowclf's defaults may change over time).
SHOWN_PARAMS = [
    "dim",
    "epochs",
    "lr",
    "optimizer",
    "ngrams",
    "batch_size",
    "normalize",
    "buckets",
    "min_count",
    "tokenizer",
    "loss",
    "use_idf",
    "supervised_weight",
    "ngram_weight",
    "sublinear_tf",
    "min_df",
]
#: Keys of a fitted model's ``training_summary_`` recorded with its parameters (what the
#: ``'auto'`` settings resolved to) as ``params_used["resolved"]``.
RESOLVED_KEYS = [
    "epochs",
    "lr",
    "normalize",
    "sublinear_tf",
    "min_df",
    "ngram_weight",
    "words_per_document",
]
#: Datasets of the bigrams-vs-unigrams ablation (``bowclf`` against ``bowclf-uni``).
ABLATION_DATASETS = ("sst2", "trec", "ag_news")
#: Why a system is left out of a dataset of the default suite (``System.budget_skip``).
BUDGET_SKIP = "time budget"

Metrics = dict[str, Any]
Runner = Callable[[dict[str, Any], dict[str, Any], Path], Metrics]


@dataclass(frozen=True)
class System:
    """One benchmarked configuration."""

    name: str  #: command-line id
    label: str  #: table label
    runner: str  #: key into the runner table
    family: str  #: bowclf | fasttext | sklearn | vw
    module: str  #: import that must succeed for the system to run
    single: bool = True  #: runs on single-label datasets
    multi: bool = False  #: runs on multi-label datasets
    params: dict[str, Any] = field(default_factory=dict)
    multi_params: dict[str, Any] | None = None  #: parameter overrides for multi-label data
    default: bool = True  #: part of the default suite (others only with --systems)
    #: run only on these datasets (None: all) unless named with --systems
    datasets: tuple[str, ...] | None = None
    #: datasets where the default suite records it as skipped (its fit is far slower than every
    #: other system's there and would break the 30-minute budget); --systems runs it anyway
    budget_skip: tuple[str, ...] = ()

    def selected(self, dataset: str, multilabel: bool, explicit: bool = False) -> bool:
        """Whether it has a row for ``dataset`` (``explicit``: named with --systems)."""
        if not (self.multi if multilabel else self.single):
            return False
        return explicit or self.datasets is None or dataset in self.datasets

    def skipped(self, dataset: str, explicit: bool = False) -> bool:
        """Whether the default suite skips it on ``dataset`` (see :attr:`budget_skip`)."""
        return not explicit and dataset in self.budget_skip


SYSTEMS: list[System] = [
    System(
        "bowclf",
        "bowclf (API, defaults)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        multi=True,
        params={"random_state": 0},
    ),
    System(
        "bowclf-uni",
        "bowclf (API, defaults but unigrams: ngrams=1)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        params={"ngrams": 1, "random_state": 0},
        datasets=ABLATION_DATASETS,
    ),
    System(
        "bowclf-ft",
        "bowclf (API, fastText's hyper-parameters)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        params={**BOWCLF_FT_PARAMS, "random_state": 0},
    ),
    System(
        "bowclf-ws",
        "bowclf (API, defaults, whitespace tokenizer)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        multi=True,
        params={"tokenizer": "whitespace", "random_state": 0},
        default=False,
    ),
    System(
        "bowclf-ova",
        "bowclf (API, loss=ova)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        single=False,
        multi=True,
        params={"loss": "ova", "random_state": 0},
    ),
    System(
        "bowclf-ml",
        "bowclf (API, ova recipe: l2, lr 0.2, batch 4, 50 epochs)",
        "bowclf_api",
        "bowclf",
        "bowclf.text",
        single=False,
        multi=True,
        params={
            "loss": "ova",
            "normalize": "l2",
            "lr": 0.2,
            "batch_size": 4,
            "epochs": 50,
            "random_state": 0,
        },
    ),
    System(
        "bowclf-cli",
        "bowclf (CLI fit + evaluate)",
        "bowclf_cli",
        "bowclf",
        "bowclf.cli",
        multi=True,
        params={"seed": 0},
    ),
    System(
        "fasttext",
        "fastText (bigrams, thread=2)",
        "fasttext",
        "fasttext",
        "fasttext",
        multi=True,
        params=dict(FT_PARAMS),
    ),
    System(
        "fasttext-ova",
        "fastText (bigrams, -loss ova)",
        "fasttext",
        "fasttext",
        "fasttext",
        single=False,
        multi=True,
        params={**FT_PARAMS, "loss": "ova"},
    ),
    System(
        "fasttext-uni",
        "fastText (defaults: unigrams, thread=2)",
        "fasttext",
        "fasttext",
        "fasttext",
        params={"thread": 2, "seed": 0},
    ),
    System("sk-tfidf-sgd", "sklearn tf-idf(1,2) + SGD", "sk_tfidf_sgd", "sklearn", "sklearn"),
    System("sk-hash-sgd", "sklearn hashing(1,2) + SGD", "sk_hash_sgd", "sklearn", "sklearn"),
    System(
        "sk-tfidf-lr",
        "sklearn tf-idf(1,2) + LogisticRegression",
        "sk_tfidf_lr",
        "sklearn",
        "sklearn",
        budget_skip=("tweeteval_emoji",),
    ),
    System(
        "sk-ovr-sgd",
        "sklearn tf-idf(1,2) + OneVsRest(SGD)",
        "sk_ovr_sgd",
        "sklearn",
        "sklearn",
        single=False,
        multi=True,
    ),
    System(
        "vw", f"Vowpal Wabbit (--oaa --ngram 2, {VW_PASSES} passes)", "vw", "vw", "vowpalwabbit"
    ),
]
BY_NAME = {s.name: s for s in SYSTEMS}


def available(system: System) -> bool:
    """Whether the system's library can be imported (checked without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(system.module) is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------------- metrics
def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(pair: dict[str, Any], split: str) -> tuple[list[str], list[Any]]:
    texts, labels = read_csv_gz(pair[f"{split}_csv"])
    if pair["multilabel"]:
        return texts, [tuple(cell.split()) for cell in labels]
    return texts, labels


def _fit_predict(model: Any, X: Any, y: Any, Xt: Any) -> tuple[Any, Metrics]:
    """``model.fit(X, y)`` then ``model.predict(Xt)``: the predictions and ``fit_s``,
    ``predict_s`` and ``fit_rss_mb`` (peak RSS after fitting)."""
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    fit_rss = _rss_mb()
    t0 = time.perf_counter()
    pred = model.predict(Xt)
    predict_s = time.perf_counter() - t0
    return pred, {"fit_s": fit_s, "predict_s": predict_s, "fit_rss_mb": fit_rss}


# ---------------------------------------------------------------------- bowclf
def run_bowclf_api(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``TextClassifier(**params).fit(texts, labels)`` then ``predict``."""
    from bowclf import TextClassifier

    X, y = _load(pair, "train")
    Xt, _ = _load(pair, "test")
    model = TextClassifier(**params)
    pred, out = _fit_predict(model, X, y, Xt)
    out.update(
        {
            "epochs": int(model.training_summary_["epochs"]),
            "params_used": _used(model.get_params(), model.training_summary_),
        }
    )
    if pair["multilabel"]:
        import numpy as np

        classes = np.asarray(model.classes_)
        out["top1"] = [str(c) for c in classes[model.predict_proba(Xt).argmax(axis=1)]]
        out["pred_sets"] = [[str(c) for c in p] for p in pred]
    else:
        out["pred"] = [str(p) for p in pred]
    return out


def _shown(params: dict[str, Any], keys: Sequence[str] = SHOWN_PARAMS) -> dict[str, Any]:
    """The ``keys`` (:data:`SHOWN_PARAMS`) of a parameter dict, JSON-safe."""
    return {
        k: (params[k] if isinstance(params[k], (int, float, str, type(None))) else repr(params[k]))
        for k in keys
        if k in params
    }


def _used(params: dict[str, Any], summary: dict[str, Any] | None) -> dict[str, Any]:
    """The :data:`SHOWN_PARAMS` as given, plus ``resolved``: the :data:`RESOLVED_KEYS` of the
    fitted model's training summary (what ``'auto'`` became), so drift is visible."""
    used = _shown(params)
    if summary:
        used["resolved"] = _shown(summary, RESOLVED_KEYS)
    return used


def bowclf_cli_argv() -> list[str]:
    """The ``bowclf`` console script of this interpreter (no pyenv shim), or ``-m``."""
    script = Path(sys.executable).with_name("bowclf")
    if script.exists():
        return [str(script)]
    found = shutil.which("bowclf")
    return [found] if found else [sys.executable, "-m", "bowclf.cli"]


#: Parameters that are ``--x/--no-x`` switches of ``bowclf fit`` (``False`` must be said, as
#: the default may be on or 'auto'), with the CLI's name of the switch.
_SWITCHES = {
    "use_idf": "idf",
    "sublinear_tf": "sublinear-tf",
    "lowercase": "lowercase",
    "early_stopping": "early-stopping",
}


def cli_flags(params: dict[str, Any]) -> list[str]:
    """``{"dim": 50, "stream": True, "sublinear_tf": False}`` →
    ``["--dim", "50", "--stream", "--no-sublinear-tf"]``."""
    flags = []
    for key, value in params.items():
        flag = f"--{key.replace('_', '-')}"
        if key in _SWITCHES:
            flags.append(f"--{'' if value else 'no-'}{_SWITCHES[key]}")
        elif value is True:
            flags.append(flag)
        elif value is not False and value is not None:
            flags += [flag, str(value)]
    return flags


def run_bowclf_cli(
    pair: dict[str, Any], params: dict[str, Any], workdir: Path, timeout: float = 3600.0
) -> Metrics:
    """``bowclf fit TRAIN -o MODEL --quiet`` then ``bowclf evaluate MODEL TEST --json``.

    Each command is its own process: wall time and peak RSS (``os.wait4``) are theirs.
    """
    from bench.subproc import run_child

    model = workdir / "model.bowclf"
    sep = ["--label-sep", " "] if pair["multilabel"] else []
    exe = bowclf_cli_argv()
    fit = run_child(
        [*exe, "fit", pair["train_csv"], "-o", str(model), "--quiet", *sep, *cli_flags(params)],
        timeout,
        new_session=False,
    )
    if fit.returncode != 0 or fit.timed_out:
        raise RuntimeError(f"bowclf fit: {fit.error_line()}")
    ev = run_child(
        [*exe, "evaluate", str(model), pair["test_csv"], "--json", *sep], timeout, new_session=False
    )
    if ev.returncode != 0 or ev.timed_out:
        raise RuntimeError(f"bowclf evaluate: {ev.error_line()}")
    report = json.loads(ev.stdout)
    epochs, used = _cli_model_info(exe, model, params)
    out: Metrics = {
        "fit_s": fit.wall_s,
        "predict_s": ev.wall_s,
        "fit_rss_mb": fit.maxrss_mb,
        "peak_rss_mb": max(fit.maxrss_mb, ev.maxrss_mb),
        "epochs": epochs,
        "params_used": used,
        "model_mb": model.stat().st_size / 2**20,
    }
    macro, micro = report.get("macro") or {}, report.get("micro") or {}
    if pair["multilabel"]:
        out.update(
            {
                "micro_f1": micro.get("f1"),
                "macro_f1": macro.get("f1"),
                "subset_accuracy": report.get("accuracy"),
                "p_at_1": _cli_p_at_1(report),
            }
        )
    else:
        out.update({"accuracy": report.get("accuracy"), "macro_f1": macro.get("f1")})
    return out


def _cli_model_info(
    exe: list[str], model: Path, params: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """Epochs actually run and the model's parameters, from ``bowclf info MODEL --json``
    (epochs may be ``'auto'``); falls back to the options given (5 epochs by default)."""
    from bench.subproc import run_child

    res = run_child([*exe, "info", str(model), "--json"], 300, new_session=False)
    try:
        info = json.loads(res.stdout)
        summary = (info.get("text") or {}).get("training_summary") or {}
        epochs = summary.get("epochs") or info["classifier"]["fitted"]["n_iter_"]
        return float(epochs), _used(info.get("params") or {}, summary)
    except (ValueError, KeyError, TypeError):
        given = params.get("epochs", 5)
        return float(given if isinstance(given, (int, float)) else 5), {}


def _cli_p_at_1(report: dict[str, Any]) -> float | None:
    """``P@1`` from a bowclf JSON report (``top_k["1"]["precision"]``), if present."""
    entry = (report.get("top_k") or {}).get("1")
    return entry.get("precision") if isinstance(entry, dict) else None


# ---------------------------------------------------------------------- fastText
def _ft_labels(raw: Sequence[str]) -> list[str]:
    return [lab.removeprefix("__label__") for lab in raw]


def run_fasttext(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``fasttext.train_supervised`` on the fastText-format file; predict every test text."""
    import fasttext

    t0 = time.perf_counter()
    model = fasttext.train_supervised(input=pair["train_ft"], verbose=0, **params)
    fit_s = time.perf_counter() - t0
    fit_rss = _rss_mb()
    texts = [normalise(t) for t in read_csv_gz(pair["test_csv"])[0]]
    t0 = time.perf_counter()
    labels, probs = model.predict(texts, k=1)
    predict_s = time.perf_counter() - t0
    top1 = [_ft_labels(row)[0] if len(row) else "" for row in labels]
    n, p1, _ = model.test(pair["test_ft"])
    out: Metrics = {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "fit_rss_mb": fit_rss,
        "epochs": int(params.get("epoch", 5)),
        "ft_test_p_at_1": float(p1),
        "ft_test_n": int(n),
    }
    if pair["multilabel"]:
        out["top1"] = top1
        out["pred_sets"] = _ft_multilabel_sets(model, texts, top1, pair, params)
    else:
        out["pred"] = top1
    return out


def _ft_multilabel_sets(
    model: Any, texts: list[str], top1: list[str], pair: dict[str, Any], params: dict[str, Any]
) -> list[list[str]]:
    """Label sets with bowclf's decision rule: ova → p ≥ 0.5; softmax → p ≥ 1/(1+m) plus the
    most probable label (m = mean labels per training document)."""
    if params.get("loss") == "ova":
        labels, _ = model.predict(texts, k=-1, threshold=0.5)
        return [_ft_labels(row) for row in labels]
    m = _mean_labels(pair["train_ft"])
    labels, _ = model.predict(texts, k=-1, threshold=1.0 / (1.0 + max(m, 1.0)))
    return [
        sorted(set(_ft_labels(row)) | ({t} if t else set()))
        for row, t in zip(labels, top1, strict=True)
    ]


def _mean_labels(ft_path: str) -> float:
    docs = labels = 0
    with open(ft_path, encoding="utf-8") as f:
        for line in f:
            docs += 1
            labels += sum(tok.startswith("__label__") for tok in line.split())
    return labels / max(docs, 1)


# ---------------------------------------------------------------------- scikit-learn
def _sk_run(
    pair: dict[str, Any], make: Callable[[], Any], epochs: Callable[[Any], float]
) -> Metrics:
    X, y = _load(pair, "train")
    Xt, _ = _load(pair, "test")
    model = make()
    pred, out = _fit_predict(model, X, y, Xt)
    return {**out, "epochs": float(epochs(model[-1])), "pred": [str(p) for p in pred]}


def _n_iter(clf: Any) -> float:
    import numpy as np

    return float(np.max(clf.n_iter_))


def run_sk_tfidf_sgd(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` + ``SGDClassifier()``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    return _sk_run(
        pair,
        lambda: make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            SGDClassifier(**{"random_state": 0, **params}),
        ),
        _n_iter,
    )


def run_sk_hash_sgd(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``HashingVectorizer(ngram_range=(1, 2), alternate_sign=False)`` + ``SGDClassifier()``."""
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    return _sk_run(
        pair,
        lambda: make_pipeline(
            HashingVectorizer(ngram_range=(1, 2), alternate_sign=False),
            SGDClassifier(random_state=0, **params),
        ),
        _n_iter,
    )


def run_sk_tfidf_lr(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` +
    ``LogisticRegression(max_iter=1000)`` (lbfgs; epochs = its iterations)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return _sk_run(
        pair,
        lambda: make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            LogisticRegression(max_iter=1000, **params),
        ),
        _n_iter,
    )


def run_sk_ovr_sgd(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """Multi-label: tf-idf(1,2) + ``OneVsRestClassifier(SGDClassifier())``; P@1 from the top
    decision score. Epochs = mean SGD epochs of the binary classifiers."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    X, y = _load(pair, "train")
    Xt, _ = _load(pair, "test")
    mlb = MultiLabelBinarizer()
    Y = mlb.fit_transform(y)
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        OneVsRestClassifier(SGDClassifier(random_state=0, **params)),
    )
    P, out = _fit_predict(model, X, Y, Xt)
    top1 = mlb.classes_[model.decision_function(Xt).argmax(axis=1)].tolist()
    pred_sets = [list(mlb.classes_[np.flatnonzero(row)]) for row in P]
    iters = [getattr(e, "n_iter_", 0) for e in model[-1].estimators_]
    return {
        **out,
        "epochs": float(np.mean(iters)),
        "top1": [str(t) for t in top1],
        "pred_sets": [[str(c) for c in p] for p in pred_sets],
    }


# ---------------------------------------------------------------------- Vowpal Wabbit
def run_vw(pair: dict[str, Any], params: dict[str, Any], workdir: Path) -> Metrics:
    """``--oaa K --ngram 2`` with ``--passes 5 -c --holdout_off`` from the VW-format file;
    prediction with ``-t`` over the test file (``-p`` predictions file)."""
    from vowpalwabbit import Workspace

    labels = pair["labels"]
    model, cache, preds = workdir / "vw.model", workdir / "vw.cache", workdir / "vw.preds"
    passes = int(params.get("passes", VW_PASSES))
    extra = params.get("extra", "")
    t0 = time.perf_counter()
    ws = Workspace(
        f"--oaa {len(labels)} --ngram 2 --quiet -d {pair['train_vw']} -f {model} "
        f"--passes {passes} -c --cache_file {cache} -k --holdout_off {extra}"
    )
    ws.run_parser()
    ws.finish()
    fit_s = time.perf_counter() - t0
    fit_rss = _rss_mb()
    t0 = time.perf_counter()
    ws = Workspace(f"-i {model} -t -d {pair['test_vw']} -p {preds} --quiet")
    ws.run_parser()
    ws.finish()
    predict_s = time.perf_counter() - t0
    with open(preds, encoding="utf-8") as f:
        pred = [labels[int(float(line.split()[0])) - 1] for line in f if line.strip()]
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "fit_rss_mb": fit_rss,
        "epochs": passes,
        "pred": pred,
    }


_RUNNERS: dict[str, Runner] = {
    "bowclf_api": run_bowclf_api,
    "bowclf_cli": run_bowclf_cli,
    "fasttext": run_fasttext,
    "sk_tfidf_sgd": run_sk_tfidf_sgd,
    "sk_hash_sgd": run_sk_hash_sgd,
    "sk_tfidf_lr": run_sk_tfidf_lr,
    "sk_ovr_sgd": run_sk_ovr_sgd,
    "vw": run_vw,
}


def get_runner(name: str) -> Runner:
    """The runner function called ``name``."""
    return _RUNNERS[name]


def child_env() -> dict[str, str]:
    """Environment of the children: inherited (BLAS threads are left at their defaults, as a
    user would have them), with unbuffered Python output."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
