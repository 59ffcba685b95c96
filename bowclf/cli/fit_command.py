"""``bowclf fit``: parse the options, call the library's fit, print a summary."""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from .. import _limits, defaults
from .app import (
    _EPILOG,
    _EPOCHS,
    _check_output_path,
    _corpus_kwargs,
    _corpus_options,
    _FiniteFloat,
    _given,
    _isatty,
    _labels_of,
    _one_line,
    _PositiveOrAuto,
    _stderr,
    _summary_line,
    cli,
    interrupted_exit,
)

#: The corpus size from which ``fit`` trains out of core, as the help text says it.
_STREAM_MIB = defaults.STREAM_BYTES >> 20


_FIT_HELP = f"""Train a model on CORPUS (CSV, TSV, JSON Lines or fastText format; '-' for stdin).

Labels and texts are found by header name (label/text, case-insensitive), or given with
--label-column/--text-column; a headerless two-column file is label,text. A document
with several labels (fastText lines with several __label__s, or cells split with
--label-sep) makes a multi-label model. gzip, bzip2 and xz input is decompressed.

Corpora over {_STREAM_MIB} MiB of text (compressed files count {defaults.COMPRESSION_FACTOR}
times their size) are trained out of core (--stream): memory then stays bounded whatever the
corpus size. Progress goes to stderr (a bar on a terminal, one line per epoch otherwise),
then the path of the model file written.
"""


# ---------------------------------------------------------------------- fit
@cli.command(epilog=_EPILOG, help=_FIT_HELP)
@click.argument("corpus", type=str)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Model file to write [default: CORPUS's name with .bowclf, beside it]. Written "
    "atomically: an existing file is replaced only when the new model is complete.",
)
@_corpus_options
@click.option(
    "--valid",
    "valid_path",
    type=str,
    default=None,
    help="Validation file (same format options): scored after every epoch (with "
    "--epochs auto, no early-overfitting probe then); with --autotune it scores the "
    "candidates and is never trained on.",
)
@click.option(
    "--valid-fraction",
    type=_FiniteFloat(0, 1, min_open=True, max_open=True),
    default=None,
    help="Hold out this share of CORPUS (stratified) for validation.",
)
@click.option(
    "--early-stopping/--no-early-stopping",
    default=False,
    show_default=True,
    help="Stop when the validation score stops improving and keep the best epoch "
    "(needs --valid or --valid-fraction).",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=defaults.N_ITER_NO_CHANGE,
    show_default=True,
    help="Epochs without improvement before early stopping.",
)
@click.option(
    "--dim",
    type=click.IntRange(1, _limits.MAX_DIM),
    default=defaults.DIM,
    show_default=True,
    help="Embedding dimension.",
)
@click.option(
    "--epochs",
    type=_EPOCHS,
    default=defaults.EPOCHS,
    show_default=True,
    help=f"Passes over the training data, or 'auto': {defaults.AUTO_MAX_EPOCHS} for small "
    f"corpora down to {defaults.AUTO_MIN_EPOCHS} from "
    f"{defaults.AUTO_EPOCH_UPDATES // defaults.AUTO_MIN_EPOCHS:,} documents (up to "
    f"{defaults.LONG_MULTICLASS_EPOCHS} for long documents of 3+ classes); "
    f"{defaults.BINARY_EPOCHS} with two classes.",
)
@click.option(
    "--lr",
    type=_PositiveOrAuto(),
    default=defaults.LR,
    show_default=True,
    help="Initial learning rate (decays linearly to 0), or 'auto': "
    f"{defaults.MULTICLASS_LR} for 3 or more classes of short documents (softmax), else "
    f"{defaults.BASE_LR}.",
)
@click.option(
    "--optimizer",
    type=click.Choice(["auto", "adaptive", "adagrad", "sgd"]),
    default=defaults.OPTIMIZER,
    show_default=True,
    help="adaptive: SGD raised for long documents + AdaGrad on the output layer; adagrad: "
    "AdaGrad on both; sgd: fastText's plain SGD; auto: adaptive, or sgd with --loss ova.",
)
@click.option(
    "--autotune",
    is_flag=True,
    help="Search the hyper-parameters (successive halving over epochs, scored on --valid or "
    f"--valid-fraction, default {defaults.VALIDATION_FRACTION}) within --autotune-time, then "
    "refit the best on all data.",
)
@click.option(
    "--autotune-time",
    default=defaults.AUTOTUNE_TIME,
    show_default=True,
    metavar="DURATION",
    help="Time budget of --autotune, refit included (e.g. 90s, 5m, 1h).",
)
@click.option(
    "--autotune-metric",
    default=defaults.AUTOTUNE_METRIC,
    show_default=True,
    metavar="METRIC",
    help="What --autotune maximises: accuracy, macro-f1, micro-f1 or p@K (e.g. p@1).",
)
@click.option(
    "--batch-size",
    type=_EPOCHS,  # a positive integer or 'auto'
    default=defaults.BATCH_SIZE,
    show_default=True,
    help=f"Documents per SGD step, or 'auto': {defaults.SPARSE_BATCH} (1 for dense rows).",
)
@click.option(
    "--loss",
    type=click.Choice(["softmax", "ova", "hs"]),
    default=defaults.LOSS,
    show_default=True,
    help="softmax: one distribution; ova: independent sigmoids; hs: hierarchical softmax "
    "(a Huffman tree over the labels, for thousands of labels).",
)
@click.option(
    "--normalize",
    type=click.Choice(["auto", "l1", "l2", "none"]),
    default=defaults.TEXT_NORMALIZE,
    show_default=True,
    help="Row scaling of counts (l1 = average, as fastText; auto: l2 for long documents "
    "with the adaptive optimiser, else l1).",
)
@click.option(
    "--idf/--no-idf",
    "use_idf",
    default=defaults.USE_IDF,
    show_default=True,
    help="Weight counts by inverse document frequency (--no-idf: raw counts, as fastText).",
)
@click.option(
    "--supervised-weight",
    type=click.FloatRange(min=0),
    default=defaults.SUPERVISED_WEIGHT,
    show_default=True,
    help="Strength of the supervised term weights: idf times 1 + w·(the feature's largest "
    "log-count ratio between a class and the rest, plus their mean weighted by the classes' "
    "shares with 3+ classes); 0: plain idf. Single-label only.",
)
@click.option(
    "--ngram-weight",
    type=_PositiveOrAuto(),
    default=defaults.NGRAM_WEIGHT,
    show_default=True,
    help="Factor on the weights of the hashed n-gram columns relative to the words; auto: "
    f"{defaults.BINARY_NGRAM_WEIGHT:g} for two classes of short documents (with idf), else 1.",
)
@click.option(
    "--sublinear-tf/--no-sublinear-tf",
    default=None,
    help="Use 1 + ln(count) instead of the count (default: auto, on for long documents).",
)
@click.option(
    "--min-df",
    type=click.IntRange(min=1),
    default=None,
    help="Drop features of fewer training documents (default: auto, "
    f"{defaults.LONG_MIN_DF} for long documents when that keeps at least "
    f"{defaults.LONG_MIN_DF_KEEP:.0%} of the features, else 1).",
)
@click.option(
    "--ngrams",
    type=click.IntRange(1, _limits.MAX_NGRAMS),
    default=defaults.NGRAMS,
    show_default=True,
    help="Longest word n-gram (1 = unigrams only).",
)
@click.option(
    "--buckets",
    type=click.IntRange(0, _limits.MAX_BUCKETS),
    default=defaults.BUCKETS,
    show_default=True,
    help="Hash buckets for n-grams and subwords.",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    default=defaults.MIN_COUNT,
    show_default=True,
    help="Minimum corpus frequency of a vocabulary word.",
)
@click.option(
    "--max-features",
    type=click.IntRange(1, _limits.MAX_VOCABULARY),
    default=None,
    help="Keep at most this many vocabulary words (most frequent).",
)
@click.option(
    "--minn",
    type=click.IntRange(0, _limits.MAX_CHAR_NGRAM),
    default=defaults.MINN,
    show_default=True,
    help="Shortest character n-gram of words (0 = none).",
)
@click.option(
    "--maxn",
    type=click.IntRange(0, _limits.MAX_CHAR_NGRAM),
    default=defaults.MAXN,
    show_default=True,
    help="Longest character n-gram of words (0 = none).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["default", "whitespace"]),
    default=defaults.TOKENIZER,
    show_default=True,
    help="default: Unicode words; whitespace: fastText's split.",
)
@click.option("--lowercase/--no-lowercase", default=True, show_default=True)
@click.option(
    "--class-weight",
    type=click.Choice(["none", "balanced"]),
    default="none",
    show_default=True,
    help="balanced: weight classes inversely to their frequency.",
)
@click.option(
    "--threshold",
    type=_FiniteFloat(0, 1),
    default=None,
    help="Multi-label decision threshold stored in the model.",
)
@click.option(
    "--pretrained-vectors",
    type=str,
    default=None,
    help="Word vectors (fastText .vec text format, may be compressed) to initialise A; their "
    "dimension must equal --dim.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Random seed: the same seed gives the same model, bit for bit on the same CPU and "
    "library builds, whatever --threads.",
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Training threads, as n_jobs in Python [default: every core; -1 too, -k all but "
    "k-1; at most the number of cores]; any number trains the same model.",
)
@click.option(
    "--stream/--in-memory",
    "stream",
    default=None,
    help="Train out of core: read CORPUS once (vocabulary, then a token cache on disk) so "
    f"memory does not grow with the corpus [default: --stream for corpora over {_STREAM_MIB} "
    f"MiB of text; compressed files count {defaults.COMPRESSION_FACTOR}x their size]. Works "
    "with stdin and pipes; not with "
    "--valid-fraction or --class-weight.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for the --stream token cache and the parsed chunks (deleted afterwards) "
    "[default: the temp dir].",
)
@click.option(
    "--dask-scheduler",
    default=None,
    metavar="ADDRESS",
    help="Train data-parallel on a Dask cluster, e.g. tcp://host:8786 (needs bowclf[dask]; "
    "see docs/dask.md).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary on stderr.")
def fit(**opts: Any) -> None:
    """Train a model on CORPUS (the command's help: :data:`_FIT_HELP`)."""
    o = _FitOptions(**opts)
    started = time.perf_counter()
    _check_fit_usage(o)
    if not o.quiet:
        _note_threads(o.threads)
    if o.output is None:
        o.output = str(_default_model_path(o.corpus))
    _check_output_path(o.output, o.corpus, o.valid_path, o.pretrained_vectors, regular_only=True)
    stream = _use_stream(o)
    kw = _corpus_kwargs(o.fmt, o.text_column, o.label_column, o.label_sep, o.encoding)
    from ..text import TextClassifier

    model = TextClassifier(**_model_params(o))
    progress = _Progress(enabled=not o.quiet)
    tuned = None
    try:
        if o.autotune:
            tuned = _fit_autotune(o, kw, started)
            model, val = tuned.model, None
        elif o.dask_scheduler is not None:
            val = _fit_dask(model, o, kw, progress)
        elif stream:
            val = _fit_stream(model, o, kw, progress)
        else:
            val = _fit_in_memory(model, o, kw, progress)
    finally:
        progress.close()
    _save_model(model, o.output, kw)
    if not o.quiet:
        _print_fit_summary(model, o.output, val, started, tuned)
    if tuned is not None and tuned.interrupted:
        raise interrupted_exit(f"the best model trained so far was written to {o.output}")


class _FitOptions:
    """The parsed options of ``fit`` (attribute access instead of 35 parameters)."""

    def __init__(self, **opts: Any) -> None:
        self.__dict__.update(opts)


#: What --dask-scheduler accepts: tcp://host:port (or host:port), host a name, IPv4 or [IPv6].
_SCHEDULER_ADDRESS = re.compile(r"(tcp://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}")


def _check_fit_usage(o: _FitOptions) -> None:
    """Usage errors that need several options together (checked before any work)."""
    if o.valid_path is not None and o.valid_fraction is not None:
        raise click.UsageError("use either --valid or --valid-fraction, not both")
    if o.early_stopping and o.valid_path is None and o.valid_fraction is None:
        raise click.UsageError("--early-stopping needs --valid FILE or --valid-fraction F")
    from .._limits import param_problem  # the library's rule, before the corpus is read

    problem = param_problem(_model_params(o), text=True)
    if problem is not None:  # e.g. --minn 0 --maxn 3, --buckets 0 with word n-grams
        raise click.UsageError(problem)
    if o.output is None and o.corpus == "-":
        raise click.UsageError("reading the corpus from stdin needs -o/--output MODEL")
    if o.corpus == "-" and o.valid_path == "-":
        raise click.UsageError("the corpus and --valid cannot both be stdin ('-')")
    if o.dask_scheduler is not None:
        if not _SCHEDULER_ADDRESS.fullmatch(o.dask_scheduler):
            raise click.UsageError(
                f"--dask-scheduler: {o.dask_scheduler!r} is not an address like "
                "tcp://host:8786 (tcp:// or no scheme; TLS and other transports need settings "
                "bowclf does not take: pass a Client to bowclf.dask.fit_dask instead)"
            )
        if o.valid_fraction is not None:
            raise click.UsageError(
                "--dask-scheduler: --valid-fraction is not supported; use --valid FILE"
            )
        if o.stream:
            raise click.UsageError("--stream and --dask-scheduler: choose one")
    if o.cache_dir is not None and not os.path.isdir(o.cache_dir):
        raise click.ClickException(f"{o.cache_dir}: no such directory (given to --cache-dir)")
    for option, path in (("--pretrained-vectors", o.pretrained_vectors), ("--valid", o.valid_path)):
        if path is not None and path != "-" and (os.path.isdir(path) or not os.path.exists(path)):
            why = "is a directory" if os.path.isdir(path) else "no such file"
            raise click.ClickException(f"{path}: {why} (given to {option})")
    if not o.autotune:
        for option in ("autotune_time", "autotune_metric"):
            if _given(option):
                flag = "--" + option.replace("_", "-")
                raise click.UsageError(f"{flag} is for --autotune (no search was asked for)")
    if o.autotune:
        from ..autotune import check_options

        try:
            check_options(o.autotune_time, o.autotune_metric)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if o.stream or o.dask_scheduler is not None or o.early_stopping:
            raise click.UsageError(
                "--autotune trains in memory: not with --stream, --dask-scheduler or "
                "--early-stopping"
            )


def _note_threads(threads: int | None) -> None:
    """One line when --threads asks for more threads than the library runs
    (:func:`bowclf.parallel.resolve_n_jobs`: at most one per core)."""
    if threads is None:
        return
    from ..parallel import resolve_n_jobs

    used = resolve_n_jobs(threads)
    if used < threads:
        _stderr(f"bowclf: note: --threads {threads}: this machine has {used} cores; using {used}")


def _use_stream(o: _FitOptions) -> bool:
    """``--stream``/``--in-memory``, or the library's choice by the corpus's size."""
    from ..backends import prefers_out_of_core

    if o.stream is None:
        stream = prefers_out_of_core(o.corpus)
        why = f"CORPUS is over {_STREAM_MIB} MiB, so it is trained out of core (--stream)"
    else:
        stream, why = o.stream, "--stream"
    if stream:
        if o.valid_fraction is not None:
            raise click.UsageError(
                f"{why}: --valid-fraction is not supported; use --valid FILE (or --in-memory)"
            )
        from ..stream import out_of_core_problem

        problem = out_of_core_problem(_model_params(o))
        if problem is not None:  # e.g. --class-weight
            raise click.UsageError(f"{why}: {problem} (train --in-memory)")
    return stream


def _model_params(o: _FitOptions) -> dict[str, Any]:
    """TextClassifier parameters from the options (names and 'none' spellings differ)."""
    same = ("dim", "epochs", "lr", "optimizer", "batch_size", "loss", "use_idf",
            "supervised_weight", "ngram_weight", "sublinear_tf",
            "ngrams", "buckets", "min_count", "max_features", "minn", "maxn", "tokenizer",
            "lowercase", "threshold", "early_stopping", "pretrained_vectors")  # fmt: skip
    return {
        **{name: getattr(o, name) for name in same},
        "normalize": None if o.normalize == "none" else o.normalize,
        "sublinear_tf": "auto" if o.sublinear_tf is None else o.sublinear_tf,
        "min_df": "auto" if o.min_df is None else o.min_df,
        "class_weight": None if o.class_weight == "none" else o.class_weight,
        "n_iter_no_change": o.patience,
        "random_state": o.seed,
        "n_jobs": o.threads,
    }


def _save_model(model, output: str, corpus: dict[str, Any]) -> None:
    from ..persist import save

    try:
        save(model, output, corpus=corpus)  # remembered for evaluate and predict
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"{output}: cannot write the model ({reason}); an existing file is unchanged"
        ) from None


def _print_fit_summary(model, output: str, val, started: float, tuned=None) -> None:
    """The summary lines; after ``--autotune`` (``tuned``: the
    :class:`~bowclf.autotune.AutotuneResult`) the model's own training time: its refit's,
    or that of the search's trial it comes from."""
    seconds = time.perf_counter() - started
    clf = model.classifier_
    documents = model.training_summary_.get("documents", "?")
    trained = f"in {seconds:.1f}s"
    if tuned is not None and tuned.refitted:
        trained = f"in {tuned.refit_seconds:.1f}s (the refit)"
    elif tuned is not None:
        trained = f"in {model.training_summary_['seconds']:.1f}s (a trial of the search)"
    line = (
        f"Trained {clf.n_iter_} epochs on {documents:,} documents "
        f"({len(model.vectorizer_.vocabulary_):,} words, {clf.n_features_in_:,} features) "
        f"{trained}; lr {clf.lr_:g}, final loss {clf.loss_curve_[-1]:.4f}"
    )
    if clf.best_validation_score_ is not None:
        line += f", best validation score {clf.best_validation_score_:.4f}"
    _stderr(line)
    inputs = getattr(model, "inputs_", None)
    if inputs:
        _stderr(
            f"Inputs: normalize {inputs['normalize']}, sublinear_tf {inputs['sublinear_tf']}, "
            f"min_df {inputs['min_df']}, ngram_weight {inputs['ngram_weight']:g} "
            f"({inputs.get('words_per_document', '?')} distinct words per document)"
        )
    if val is not None:
        from ..report import evaluate

        _stderr(_summary_line(evaluate(model, *val)))
    _stderr(f"Model written to {output}")


def _validation_file(o: _FitOptions, kw: dict, multilabel: bool | None = None):
    """``(texts, labels)`` of ``--valid FILE``, or ``None``."""
    if o.valid_path is None:
        return None
    from ..corpus import read_corpus

    texts, y, _ = _labels_of(read_corpus(o.valid_path, **kw), o.label_sep, multilabel)
    return texts, y


def _cannot_train(corpus: str, exc: ValueError) -> click.ClickException:
    """The one error line of a failed fit; a corpus error keeps its own (it names the file)."""
    from ..corpus import CorpusError
    from ..training import OneClassError

    if isinstance(exc, CorpusError):
        return exc  # type: ignore[return-value]
    hint = " (check --label-column)" if isinstance(exc, OneClassError) else ""
    return click.ClickException(f"{corpus}: cannot train: {_one_line(exc)}{hint}")


def restart_line(info: dict[str, Any]) -> str:
    """What ``bowclf fit`` says when the early-overfitting probe starts a run over (a progress
    event ``'restart'``, :mod:`bowclf.overfit_probe`): why, and the passes in all."""
    first, last = info["slice_losses"][0], info["slice_losses"][-1]
    epoch, losses = info["epochs_run"], f"({first:.4f} -> {last:.4f})"
    fall = f"{1 - last / first:.1%} by epoch {epoch} {losses}"
    total = f"{info['epochs']} epochs in all"
    if not info["overfitting"]:  # a two-class run still learning (overfit_probe.BINARY)
        return (
            f"the held-out slice's loss fell by {fall}, not overfitting: training again from the "
            f"start with every document, {total}"
        )
    again = f"training again from the start, {total}"
    if last >= first:
        return f"the held-out slice's loss rose by epoch {epoch} {losses}: {again}"
    return (
        f"the held-out slice's loss fell by only {fall}, less than {info['min_fall']:.0%}: {again}"
    )


def _fit_dask(model, o: _FitOptions, kw: dict, progress):
    """Train on a Dask cluster through :func:`bowclf.dask.fit_dask_file`."""
    from ..dask import fit_dask_file

    val = _validation_file(o, kw)
    try:
        fit_dask_file(model, o.corpus, o.dask_scheduler, corpus_kw=kw, callback=progress,
                      X_val=val and val[0], y_val=val and val[1])  # fmt: skip
    except ValueError as exc:  # the corpus cannot train a model (one class, ...)
        raise _cannot_train(o.corpus, exc) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot use the Dask scheduler at {o.dask_scheduler} ({_one_line(exc)})"
        ) from None
    return val


def _fit_in_memory(model, o: _FitOptions, kw: dict, progress):
    from ..auto_rules import epochs_before_inputs
    from ..corpus import read_corpus
    from ..training import split_validation

    train = read_corpus(o.corpus, **kw)
    texts, y, multilabel = _labels_of(train, o.label_sep)
    val = _validation_file(o, kw, multilabel)
    if o.valid_fraction is not None:
        try:
            tr, va = split_validation(y, o.valid_fraction, o.seed, multilabel=multilabel)
        except ValueError as exc:
            raise _cannot_train(train.name, exc) from None
        val = [texts[i] for i in va], [y[i] for i in va]
        texts, y = [texts[i] for i in tr], [y[i] for i in tr]
    n_classes = len({lab for labs in y for lab in labs} if multilabel else set(y))
    if not o.quiet and n_classes >= 2:  # fewer: the fit below refuses, and says why
        what = "multi-label, " if multilabel else ""
        valid_note = f", {len(val[0]):,} for validation" if val is not None else ""
        params = model.get_params()
        epochs = epochs_before_inputs(
            o.epochs, len(texts), n_classes, multilabel=multilabel, loss=params["loss"],
            optimizer=params["optimizer"], normalize=params["normalize"],
        )  # fmt: skip
        shown = "'auto'" if epochs is None else epochs  # set by the inputs (document length)
        _stderr(
            f"Training on {len(texts):,} documents{valid_note} ({what}{n_classes} classes): "
            f"{shown} epochs, dim {o.dim}"
        )
    try:
        model.fit(texts, y, X_val=val and val[0], y_val=val and val[1], callback=progress)
    except ValueError as exc:  # e.g. an empty vocabulary: say which corpus
        raise _cannot_train(train.name, exc) from None
    return val


#: Seconds set aside from --autotune-time for writing the model file after the search.
_SAVE_SECONDS = 0.2


def _fit_autotune(o: _FitOptions, kw: dict, started: float):
    """``--autotune``: read the corpus (and --valid), call :func:`bowclf.autotune.autotune`
    with the other options as the base configuration and the budget left since the command
    ``started`` (reading the corpus counts); print the trials and the choice and return the
    :class:`~bowclf.autotune.AutotuneResult`."""
    from ..autotune import autotune, parse_duration, trials_table
    from ..autotune_trials import describe_choice
    from ..corpus import read_corpus

    train = read_corpus(o.corpus, **kw)
    texts, y, multilabel = _labels_of(train, o.label_sep)
    val = _validation_file(o, kw, multilabel)
    say = (lambda _msg: None) if o.quiet else _stderr
    budget = parse_duration(o.autotune_time)
    left = max(budget - (time.perf_counter() - started) - _SAVE_SECONDS, 0.05 * budget)
    try:
        result = autotune(
            texts, y, X_valid=val and val[0], y_valid=val and val[1],
            valid_fraction=o.valid_fraction or defaults.VALIDATION_FRACTION, time_budget=left,
            metric=o.autotune_metric, params=_model_params(o), random_state=o.seed,
            verbose=0 if o.quiet else 1, log=say,
        )  # fmt: skip
    except ValueError as exc:
        raise _cannot_train(train.name, exc) from None
    say(trials_table(result))
    note = " (interrupted: the best model so far, not refitted)" if result.interrupted else ""
    if not result.refitted and not result.interrupted:
        note = " (no time to refit on all the data: trained on the training part)"
    scored = "not scored: the budget fits the base configuration once"
    if result.best_score == -math.inf:
        scored = "not scored: no trial finished within the budget"
    elif result.best_score == result.best_score:  # not NaN
        scored = f"validation {result.metric} {result.best_score:.4f}"
    wall = time.perf_counter() - started
    say(f"Chosen{note}: {describe_choice(result.best_params)}; {scored}; "
        f"search {result.search_seconds:.1f}s ({len(result.trials)} trials), "
        f"refit {result.refit_seconds:.1f}s: "
        f"{wall:.1f}s of {budget:g}s since the command started")  # fmt: skip
    return result


def _fit_stream(model, o: _FitOptions, kw: dict, progress):
    from ..stream import fit_stream

    val = _validation_file(o, kw)
    if not o.quiet:
        _stderr(
            f"Training out of core on {'<stdin>' if o.corpus == '-' else o.corpus} "
            "(tokens cached on disk): "
            f"{o.epochs} epochs, dim {o.dim}".replace("auto epochs", "'auto' epochs")
        )
    try:
        fit_stream(model, o.corpus, corpus_kw=kw, X_val=val and val[0], y_val=val and val[1],
                   cache_dir=o.cache_dir, callback=progress)  # fmt: skip
    except ValueError as exc:
        raise _cannot_train(o.corpus, exc) from None
    except OSError as exc:  # the token cache could not be written (a full disk, ...)
        where = o.cache_dir if o.cache_dir is not None else tempfile.gettempdir()
        reason = exc.strerror or "a write came up short: is it full?"
        raise click.ClickException(
            f"{where}: cannot write the token cache ({reason}); use --cache-dir DIR "
            "on a disk with room, or --in-memory"
        ) from None
    return val


def _default_model_path(corpus: str) -> Path:
    from ..textio import compression_of_name

    path = Path(corpus)
    name = path.name
    if compression_of_name(name) is not None:
        name = name.rsplit(".", 1)[0]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return path.with_name(stem + ".bowclf")


class _Progress:
    """Training progress on stderr: a bar on a terminal, else one line per epoch (for logs)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and _isatty(sys.stderr)
        self.bar = None
        self.done = 0

    def __call__(self, info: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if info.get("event") == "vectorize":  # a status line: the vectorizer has no progress
            what = "Vectorising" if info["seconds"] is None else "Vectorised"
            done = "" if info["seconds"] is None else f" in {info['seconds']:.1f}s"
            _stderr(f"{what} {info['documents']:,} documents{done}")
            return
        if info.get("event") == "pass":  # out-of-core training read the corpus
            what = "vocabulary" if info.get("pass") == 1 else info.get("what", "token cache")
            _stderr(
                f"pass {info.get('pass')}/2 ({what}): {info.get('documents', 0):,} documents "
                f"in {info.get('seconds', 0.0):.1f}s"
            )
            return
        if info.get("event") == "restart":  # bowclf.overfit_probe
            self.close()
            self.done = 0  # the next bar counts the shorter run from its start
            _stderr(restart_line(info))
            return
        if info.get("event") == "early_stop":
            self.close()
            _stderr(
                f"early stopping after epoch {info['epochs_run']}: kept the weights of epoch "
                f"{info['best_epoch']} (best validation score {info['val_score']:.4f})"
            )
            return
        status = (
            f"epoch {info['epoch']}/{info['epochs']}  loss {info['loss']:.4f}  "
            f"{info['features_per_second'] / 1e6:.2f}M features/s"
        )
        if info.get("val_score") is not None:
            status += f"  validation {info['val_score']:.4f}"
        if not self.tty:
            if info.get("event") == "epoch":
                _stderr(f"{status}  {info['seconds']:.1f}s")
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=1000,
                label="Training",
                file=sys.stderr,
                show_eta=True,
                show_percent=True,
                item_show_func=lambda s: s,
                width=24,
            )
            self.bar.__enter__()
        target = int(info["progress"] * 1000)
        self.bar.update(max(target - self.done, 0), current_item=status)
        self.done = max(target, self.done)

    def close(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            try:
                bar.__exit__(None, None, None)
            except OSError:
                pass
