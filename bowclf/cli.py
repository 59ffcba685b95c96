"""The ``bowclf`` command line: fit, predict, evaluate, info.

Exit codes (the contract, also in every ``--help`` and in docs/failure-modes.md):

- 0 success;
- 1 bad data, bad model file or failed training: one line ``bowclf: error: ...`` on stderr;
- 2 usage error (unknown option, invalid value): one line ``bowclf: error: ...`` on stderr;
- 130 interrupted (Ctrl-C / SIGINT: ``bowclf: interrupted``), 143 terminated (SIGTERM:
  ``bowclf: terminated``); files being written are removed and an existing model file is
  left unchanged;
- 141 output pipe closed early (e.g. ``bowclf predict ... | head``): silent, like ``yes | head``.

``--debug`` (or ``BOWCLF_DEBUG=1``) shows the traceback of an error instead of the one line.
Informational lines (progress, summaries, where a file was written) go to stderr, results to
stdout (or ``-o FILE``), so stdout can be piped.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import signal
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from . import __version__, _limits, defaults

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
EXIT_TERMINATED = 143

_EPILOG = (
    "Exit codes: 0 success; 1 bad data, bad model file or failed training (one line "
    "'bowclf: error: ...' on stderr; --debug or BOWCLF_DEBUG=1 shows the traceback); 2 usage "
    "error; 130 interrupted by Ctrl-C (143 by SIGTERM): files being written are removed and an "
    "existing model file is left unchanged; 141 output pipe closed early (e.g. '| head'), "
    "silently."
)


class _FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (which compare false with any bound)."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


class _EpochsType(click.ParamType):
    """A positive number of epochs, or 'auto'."""

    name = "INTEGER|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or (isinstance(value, int) and value >= 1):
            return value
        try:
            number = int(str(value))
        except ValueError:
            self.fail(f"{value!r} is neither a positive integer nor 'auto'", param, ctx)
        if number < 1:
            self.fail(f"{number} is not in the range x>=1", param, ctx)
        return number


_EPOCHS = _EpochsType()


_CORPUS_OPTIONS = [
    click.option(
        "--input-format",
        "fmt",
        type=click.Choice(["auto", "csv", "tsv", "jsonl", "fasttext"]),
        default="auto",
        show_default=True,
        help="Input format; 'auto' uses the file extension and the content.",
    ),
    click.option(
        "--text-column", default=None, help="Text column: a header name or a 0-based index."
    ),
    click.option(
        "--label-column", default=None, help="Label column: a header name or a 0-based index."
    ),
    click.option(
        "--label-sep",
        default=None,
        help="Split label cells on this separator (multi-label data), e.g. ' ' or ','.",
    ),
    click.option(
        "--encoding",
        default="utf-8",
        show_default=True,
        help="Text encoding of the input: any Python codec, e.g. latin-1 or cp1252 (UTF-8 "
        "accepts a BOM; a UTF-16/32 BOM switches to that encoding).",
    ),
]


def _corpus_options(func):
    for option in reversed(_CORPUS_OPTIONS):
        func = option(func)
    return func


def _corpus_kwargs(fmt, text_column, label_column, label_sep, encoding) -> dict[str, Any]:
    # Column options pass through as given: the corpus reader resolves a header name first
    # and treats a string of digits as a 0-based index only when no column has that name.
    return {
        "format": None if fmt == "auto" else fmt,
        "text_column": text_column,
        "label_column": label_column,
        "label_sep": label_sep,
        "encoding": encoding,
    }


# ---------------------------------------------------------------------- errors and exit codes
class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so cleanup code runs (``except Exception`` does not catch it)."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised in a subprocess
    raise _Terminated()


# click >= 8.2 raises this for a bare 'bowclf'; older versions print the help themselves.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """Map every error a user can cause to one line on stderr and a documented exit code."""

    def main(self, args=None, prog_name=None, **extra):  # type: ignore[override]
        extra.pop("standalone_mode", None)
        previous = _install_sigterm()
        try:
            try:
                rv = super().main(
                    args=args, prog_name=prog_name or "bowclf", standalone_mode=False, **extra
                )
            except _NO_ARGS_IS_HELP as exc:
                exc.show()
                sys.exit(EXIT_USAGE)
            except click.ClickException as exc:  # usage errors while parsing the group's args
                _stderr(_click_error_line(exc))
                sys.exit(exc.exit_code)
            except click.exceptions.Abort:
                _stderr("bowclf: interrupted")
                sys.exit(EXIT_INTERRUPTED)
            except KeyboardInterrupt as exc:
                sys.exit(_interrupted(exc))
            sys.exit(rv if isinstance(rv, int) else EXIT_OK)
        finally:
            _restore_sigterm(previous)

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("BOWCLF_DEBUG", "") not in (
            "",
            "0",
        )
        try:
            with warnings.catch_warnings():
                if not debug:  # numpy/scikit-learn warnings are not for the command line
                    warnings.simplefilter("ignore")
                rv = super().invoke(ctx)
            _flush_stdout()
            return rv
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:
            _stderr(_click_error_line(exc))
            raise click.exceptions.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            raise click.exceptions.Exit(_interrupted(exc)) from None
        except Exception as exc:
            if _is_broken_pipe(exc):
                _silence_stdout()
                raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
            if debug:
                raise
            _stderr(f"bowclf: error: {_one_line(exc)}")
            raise click.exceptions.Exit(EXIT_DATA) from None


def _interrupted(exc: KeyboardInterrupt) -> int:
    if isinstance(exc, _Terminated):
        _stderr("bowclf: terminated")
        return EXIT_TERMINATED
    _stderr("bowclf: interrupted")
    return EXIT_INTERRUPTED


def _install_sigterm():
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM
        return None


def _restore_sigterm(previous) -> None:
    if previous is None:
        return
    try:
        signal.signal(signal.SIGTERM, previous)
    except (ValueError, OSError, TypeError):
        pass


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def _click_error_line(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError):
        ctx = exc.ctx
        path = ctx.command_path if ctx is not None else "bowclf"
        return f"bowclf: error: {message} (see '{path} --help')"
    return f"bowclf: error: {message}"


def _one_line(exc: BaseException) -> str:
    """One line for an error: the message of our own errors, the OS reason for OSErrors."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller --buckets or --dim, or a smaller corpus)"
    if isinstance(exc, OSError) and exc.strerror:
        if exc.filename:
            return f"{exc.filename}: {exc.strerror}"
        if exc.errno in _WRITE_ERRNOS:  # files are named where they are written: stdout
            return f"<stdout>: {exc.strerror}"
        return exc.strerror
    if isinstance(exc, OSError) and _SHORT_WRITE.search(text):
        return "a temporary file could not be written (is the disk or --cache-dir full?)"
    if isinstance(exc, ValueError | FloatingPointError | TypeError):
        return text  # CorpusError, ModelFileError, VectorsError, TrainingDivergedError, ...
    return f"{type(exc).__name__}: {text}"


_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}
# numpy's message when a write to a full disk comes up short (an OSError without errno)
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def _require_stdout() -> None:
    """Fail with one line when stdout is closed (``>&-``) rather than print nothing."""
    if sys.stdout is None:
        raise click.ClickException("<stdout> is closed: nothing could be printed (or use -o FILE)")


def _stderr(message: str) -> None:
    try:
        click.echo(message, err=True)
    except (OSError, ValueError):
        pass


def _flush_stdout() -> None:
    stdout = sys.stdout
    if stdout is not None:
        stdout.flush()


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


# ---------------------------------------------------------------------- output files
def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_output_path(output: str, *inputs: str | None, regular_only: bool = False) -> None:
    """Fail before the work, not after it, when a file cannot be written where asked."""
    for source in inputs:
        if source not in (None, "-") and _same_file(output, source):
            raise click.UsageError(f"the output {output} is also an input; choose another name")
    if os.path.isdir(output):
        raise click.ClickException(f"{output}: is a directory; give a file name")
    if _is_special(output):
        if regular_only:
            raise click.ClickException(
                f"{output}: not a regular file; a model file must be a regular file"
            )
        return
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        raise click.ClickException(f"{os.path.dirname(output)}: output directory does not exist")
    try:  # a real probe: os.access() is wrong for root and for read-only file systems
        fd, probe = tempfile.mkstemp(
            prefix=f".{os.path.basename(output)}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"{directory}: cannot write there ({reason})") from None
    os.close(fd)
    os.unlink(probe)


def _is_special(path: str) -> bool:
    """True for an existing non-regular file such as /dev/null, a FIFO or a terminal."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class _OutputFile:
    """A text file written atomically: to ``.NAME.XXXX.tmp`` beside it, renamed at the end.

    If the work fails or is interrupted, the temporary file is removed and an existing file
    is left unchanged.  Special files (``/dev/null``, FIFOs, terminals) are written directly.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp: str | None = None
        self.file: IO[str]

    def __enter__(self) -> IO[str]:
        if _is_special(self.path):
            self.file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            return self.file
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, self.tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=directory
        )
        self.file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.file.close()
        except BaseException:
            if exc_type is None:
                self._discard()
                raise
        if self.tmp is None:
            return
        if exc_type is not None:
            self._discard()
            return
        try:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(self.tmp, 0o666 & ~mask)
            os.replace(self.tmp, self.path)
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


# ---------------------------------------------------------------------- the group
@click.group(
    name="bowclf",
    cls=_Group,
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="bowclf")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors (for bug reports).")
def cli(debug: bool) -> None:
    """bowclf — fast, exact fastText-style text classification.

    \b
    Train:     bowclf fit data/tickets_train.csv
    Evaluate:  bowclf evaluate data/tickets_train.bowclf data/tickets_test.csv
    Predict:   echo "my parcel never arrived" | bowclf predict data/tickets_train.bowclf
    Inspect:   bowclf info data/tickets_train.bowclf
    """


# ---------------------------------------------------------------------- fit
@cli.command(epilog=_EPILOG)
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
    help="Validation file (same format options): scored after every epoch.",
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
    help="Passes over the training data, or 'auto': 10 for small corpora down to 5 from "
    "40,000 documents.",
)
@click.option(
    "--lr",
    type=_FiniteFloat(min=0, min_open=True),
    default=defaults.LR,
    show_default=True,
    help="Initial learning rate (decays linearly to 0).",
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
    type=click.Choice(["softmax", "ova"]),
    default=defaults.LOSS,
    show_default=True,
    help="softmax: one distribution; ova: independent sigmoids.",
)
@click.option(
    "--normalize",
    type=click.Choice(["l1", "l2", "none"]),
    default=defaults.NORMALIZE,
    show_default=True,
    help="Row scaling of counts (l1 = average, as fastText).",
)
@click.option(
    "--idf/--no-idf",
    "use_idf",
    default=defaults.USE_IDF,
    show_default=True,
    help="Weight counts by inverse document frequency (--no-idf: raw counts, as fastText).",
)
@click.option(
    "--sublinear-tf",
    is_flag=True,
    default=defaults.SUBLINEAR_TF,
    help="Use 1 + ln(count) instead of the count.",
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
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same seed and --threads give the same model, bit for bit on the "
    "same CPU and library builds.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Training threads [default: every core]; the model depends on the number.",
)
@click.option(
    "--stream/--in-memory",
    "stream",
    default=None,
    help="Train out of core: read CORPUS twice (vocabulary, then a token cache on disk) so "
    "memory does not grow with the corpus [default: --stream for corpora over 256 MiB of "
    "text; compressed files count 4x their size]. Not "
    "with stdin, --valid-fraction or --class-weight.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory for the --stream token cache (deleted afterwards) [default: the temp dir].",
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
    """Train a model on CORPUS (CSV, TSV, JSON Lines or fastText format; '-' for stdin).

    Labels and texts are found by header name (label/text, case-insensitive), or given with
    --label-column/--text-column; a headerless two-column file is label,text. A document
    with several labels (fastText lines with several __label__s, or cells split with
    --label-sep) makes a multi-label model. gzip, bzip2 and xz input is decompressed.

    Corpora over 256 MiB of text (compressed files count four times their size) are trained
    out of core (--stream): memory then stays bounded whatever the corpus size. Progress goes
    to stderr (a bar on a terminal, one line per epoch otherwise), then the path of the model
    file written.
    """
    o = _FitOptions(**opts)
    started = time.perf_counter()
    _check_fit_usage(o)
    if o.output is None:
        o.output = str(_default_model_path(o.corpus))
    _check_output_path(o.output, o.corpus, o.valid_path, o.pretrained_vectors, regular_only=True)
    stream = _use_stream(o)
    kw = _corpus_kwargs(o.fmt, o.text_column, o.label_column, o.label_sep, o.encoding)
    from .text import TextClassifier

    model = TextClassifier(**_model_params(o))
    progress = _Progress(enabled=not o.quiet)
    try:
        if o.dask_scheduler is not None:
            val = _fit_dask(model, o, kw, progress)
        elif stream:
            val = _fit_stream(model, o, kw, progress)
        else:
            val = _fit_in_memory(model, o, kw, progress)
    finally:
        progress.close()
    _save_model(model, o.output, kw)
    if not o.quiet:
        _print_fit_summary(model, o.output, val, started)


class _FitOptions:
    """The parsed options of ``fit`` (attribute access instead of 35 parameters)."""

    def __init__(self, **opts: Any) -> None:
        self.__dict__.update(opts)


def _check_fit_usage(o: _FitOptions) -> None:
    """Usage errors that need several options together (checked before any work)."""
    if o.valid_path is not None and o.valid_fraction is not None:
        raise click.UsageError("use either --valid or --valid-fraction, not both")
    if o.early_stopping and o.valid_path is None and o.valid_fraction is None:
        raise click.UsageError("--early-stopping needs --valid FILE or --valid-fraction F")
    if o.minn > o.maxn:
        raise click.UsageError(f"--minn {o.minn} is larger than --maxn {o.maxn}")
    if o.output is None and o.corpus == "-":
        raise click.UsageError("reading the corpus from stdin needs -o/--output MODEL")


def _use_stream(o: _FitOptions) -> bool:
    """``--stream``/``--in-memory``, or the library's choice by the corpus's size."""
    from .backends import prefers_out_of_core

    if o.stream is None:
        stream = prefers_out_of_core(o.corpus)
        why = "CORPUS is over 256 MiB, so it is trained out of core (--stream)"
    else:
        stream, why = o.stream, "--stream"
    if stream:
        if o.corpus == "-":
            raise click.UsageError("--stream reads CORPUS twice, so it cannot be stdin")
        if o.valid_fraction is not None:
            raise click.UsageError(
                f"{why}: --valid-fraction is not supported; use --valid FILE (or --in-memory)"
            )
        if o.class_weight != "none":
            raise click.UsageError(f"{why}: --class-weight is not supported (or --in-memory)")
    return stream


def _model_params(o: _FitOptions) -> dict[str, Any]:
    """TextClassifier parameters from the options (names and 'none' spellings differ)."""
    same = ("dim", "epochs", "lr", "batch_size", "loss", "use_idf", "sublinear_tf", "ngrams",
            "buckets", "min_count", "max_features", "minn", "maxn", "tokenizer", "lowercase",
            "threshold", "early_stopping", "pretrained_vectors")  # fmt: skip
    return {
        **{name: getattr(o, name) for name in same},
        "normalize": None if o.normalize == "none" else o.normalize,
        "class_weight": None if o.class_weight == "none" else o.class_weight,
        "n_iter_no_change": o.patience,
        "random_state": o.seed,
        "n_jobs": o.threads,
    }


def _save_model(model, output: str, corpus: dict[str, Any]) -> None:
    from .persist import save

    try:
        save(model, output, corpus=corpus)  # remembered for evaluate and predict
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"{output}: cannot write the model ({reason}); an existing file is unchanged"
        ) from None


def _print_fit_summary(model, output: str, val, started: float) -> None:
    seconds = time.perf_counter() - started
    clf = model.classifier_
    documents = model.training_summary_.get("documents", "?")
    line = (
        f"Trained {clf.n_iter_} epochs on {documents:,} documents "
        f"({len(model.vectorizer_.vocabulary_):,} words, {clf.n_features_in_:,} features) "
        f"in {seconds:.1f}s; final loss {clf.loss_curve_[-1]:.4f}"
    )
    if clf.best_validation_score_ is not None:
        line += f", best validation score {clf.best_validation_score_:.4f}"
    _stderr(line)
    if val is not None:
        from .report import evaluate

        _stderr(_summary_line(evaluate(model, *val)))
    _stderr(f"Model written to {output}")


def _validation_file(o: _FitOptions, kw: dict, multilabel: bool | None = None):
    """``(texts, labels)`` of ``--valid FILE``, or ``None``."""
    if o.valid_path is None:
        return None
    from .corpus import read_corpus

    texts, y, _ = _labels_of(read_corpus(o.valid_path, **kw), o.label_sep, multilabel)
    return texts, y


def _cannot_train(corpus: str, exc: ValueError) -> click.ClickException:
    """The one error line of a failed fit; a corpus error keeps its own (it names the file)."""
    from .corpus import CorpusError
    from .training import OneClassError

    if isinstance(exc, CorpusError):
        return exc  # type: ignore[return-value]
    hint = " (check --label-column)" if isinstance(exc, OneClassError) else ""
    return click.ClickException(f"{corpus}: cannot train: {_one_line(exc)}{hint}")


def _fit_dask(model, o: _FitOptions, kw: dict, progress):
    """Train on a Dask cluster through :func:`bowclf.dask.fit_dask_file`."""
    from .dask import fit_dask_file

    if o.corpus == "-":
        raise click.UsageError("--dask-scheduler reads CORPUS twice, so it cannot be stdin")
    val = _validation_file(o, kw)
    try:
        fit_dask_file(model, o.corpus, o.dask_scheduler, corpus_kw=kw, callback=progress,
                      X_val=val and val[0], y_val=val and val[1])  # fmt: skip
    except OSError as exc:
        raise click.ClickException(
            f"cannot use the Dask scheduler at {o.dask_scheduler} ({_one_line(exc)})"
        ) from None
    return val


def _fit_in_memory(model, o: _FitOptions, kw: dict, progress):
    from .corpus import read_corpus
    from .training import resolve_epochs, split_validation

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
    if not o.quiet:
        n_classes = len({lab for labs in y for lab in labs} if multilabel else set(y))
        what = "multi-label, " if multilabel else ""
        valid_note = f", {len(val[0]):,} for validation" if val is not None else ""
        _stderr(
            f"Training on {len(texts):,} documents{valid_note} ({what}{n_classes} classes): "
            f"{resolve_epochs(o.epochs, len(texts))} epochs, dim {o.dim}"
        )
    try:
        model.fit(texts, y, X_val=val and val[0], y_val=val and val[1], callback=progress)
    except ValueError as exc:  # e.g. an empty vocabulary: say which corpus
        raise _cannot_train(train.name, exc) from None
    return val


def _fit_stream(model, o: _FitOptions, kw: dict, progress):
    from .stream import fit_stream

    val = _validation_file(o, kw)
    if not o.quiet:
        _stderr(
            f"Training out of core on {o.corpus} (read twice, tokens cached on disk): "
            f"{o.epochs} epochs, dim {o.dim}".replace("auto epochs", "'auto' epochs")
        )
    try:
        fit_stream(model, o.corpus, corpus_kw=kw, X_val=val and val[0], y_val=val and val[1],
                   cache_dir=o.cache_dir, callback=progress)  # fmt: skip
    except ValueError as exc:
        raise _cannot_train(o.corpus, exc) from None
    return val


def _default_model_path(corpus: str) -> Path:
    path = Path(corpus)
    name = path.name
    for ext in (".gz", ".gzip", ".bz2", ".xz"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return path.with_name(stem + ".bowclf")


def _labels_of(corpus, label_sep, multilabel: bool | None = None):
    """``(texts, y, multilabel)``: single labels as str, label sets as tuples."""
    if multilabel is None:
        multilabel = label_sep is not None or corpus.is_multilabel
    if multilabel:
        return corpus.texts, [tuple(labels) for labels in corpus.labels], True
    return corpus.texts, corpus.y, False


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
            what = "vocabulary" if info.get("pass") == 1 else "token cache"
            _stderr(
                f"pass {info.get('pass')}/2 ({what}): {info.get('documents', 0):,} documents "
                f"in {info.get('seconds', 0.0):.1f}s"
            )
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


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# ---------------------------------------------------------------------- predict
_PREDICT_EPILOG = (
    "Output: one line (row) per input document, in input order; every line of plain-text "
    "input is a document, so a blank line gets a prediction too. Without -k and --threshold "
    "the labels are the model's own prediction (model.predict in Python: the most probable "
    "class, or a multi-label model's label set, in class order); with either, the most "
    "probable labels first (model.predict_topk).\n\n"
    "\b\n"
    "  text   labels separated by spaces; with --proba 'label p label p ...'\n"
    "  csv    a header row, then label[,probability] for k=1, or\n"
    "         label_1[,probability_1],...,label_k[,probability_k] for k>1 (k at most the\n"
    "         number of classes), cells left empty when fewer labels are predicted;\n"
    "         multi-label models without -k use k = the number of classes;\n"
    "         --no-header leaves the header row out\n"
    "  tsv    as csv, tab-separated\n"
    '  jsonl  {"labels": [...], "probabilities": [...]}, always with probabilities\n'
    "\n" + _EPILOG
)


@cli.command(epilog=_PREDICT_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("inputs", metavar="[INPUT]...", nargs=-1, type=str)
@click.option(
    "-k",
    "k",
    type=click.IntRange(min=1),
    default=None,
    help="Print the k most probable labels [default: the model's own prediction: its most "
    "probable label, or a multi-label model's label set (its threshold, else its top label)].",
)
@click.option(
    "--threshold",
    type=_FiniteFloat(0, 1),
    default=None,
    help="Only print labels with at least this probability.",
)
@click.option("--proba", is_flag=True, help="Print probabilities next to the labels.")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "csv", "tsv", "jsonl"]),
    default=None,
    help="Output format (see below) [default: from the extension of -o (.csv, .tsv, "
    ".jsonl), else text].",
)
@click.option(
    "--header/--no-header",
    default=True,
    show_default=True,
    help="Header row of csv/tsv output.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write predictions to this file (atomically) instead of stdout.",
)
@click.option(
    "--input-format",
    "fmt",
    type=click.Choice(["auto", "text", "csv", "tsv", "jsonl", "fasttext"]),
    default="auto",
    show_default=True,
    help="text: one document per line; csv/tsv/jsonl: the text column; fasttext: the text "
    "after the labels. 'auto': the extension and content of a file; stdin is text unless it "
    "starts with a CSV/TSV header, JSON Lines or fastText lines.",
)
@click.option(
    "--text-column",
    default=None,
    help="Text column (name or 0-based index) [default: the one given to fit, else found by name].",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Input text encoding (any Python codec, e.g. latin-1).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Documents predicted at a time: memory is bounded by this, not by the input "
    "(fewer for models with many classes, so that a chunk's probabilities stay under "
    "128 MiB; 1 when stdin is a terminal, so each line is answered at once).",
)
def predict(
    model_path,
    inputs,
    k,
    threshold,
    proba,
    out_format,
    header,
    output,
    fmt,
    text_column,
    encoding,
    chunk_size,
) -> None:
    """Predict labels for the documents in INPUT files (or stdin: '-' or no INPUT).

    Plain-text input has one document per line; CSV/TSV/JSONL input needs a text column
    (found by name, or --text-column); gzip, bzip2 and xz input is decompressed. Input is
    streamed: any number of documents can be predicted in bounded memory.
    """
    from .corpus import iter_chunks

    sources = list(inputs) or ["-"]
    if output is not None:
        _check_output_path(output, model_path, *sources)
    else:
        _require_stdout()
    out_format = out_format or _format_from_extension(output)
    model, conventions = _load_model(model_path)
    if not _given("text_column"):
        text_column = conventions.get("text_column")
    tty = "-" in sources and _isatty(sys.stdin)
    chunk_size = 1 if tty else _chunk_limit(model, chunk_size)
    with_proba = proba or out_format == "jsonl"
    try:
        with _output(output) as out:
            writer = _PredictionWriter(out, out_format, proba, _columns_k(model, k), header)
            for source in sources:
                kw = {
                    "format": _predict_format(source, fmt, tty),
                    "text_column": text_column,
                    "encoding": encoding,
                    "require_labels": False,
                }
                for texts, _labels in iter_chunks(source, chunk_size=chunk_size, **kw):
                    writer.write(_predict_rows(model, texts, k, threshold, with_proba))
                    out.flush()
            writer.close()
    except OSError as exc:  # input errors arrive as CorpusError: this is the output failing
        if _is_broken_pipe(exc):
            raise
        raise click.ClickException(f"{output or '<stdout>'}: {_os_reason(exc)}") from None


def _predict_format(source: str, fmt: str, tty: bool) -> str | None:
    """The corpus reader's format for one INPUT: files are detected; stdin is plain text
    unless its first lines are a CSV/TSV header, JSON Lines or fastText (not on a terminal,
    where each line is answered as it is typed)."""
    if fmt != "auto":
        return fmt
    if source != "-":
        return None
    return "text" if tty else "auto-text"


_OUTPUT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _format_from_extension(output: str | None) -> str:
    """--format when not given: from the -o file's extension, else text."""
    if output is None:
        return "text"
    return _OUTPUT_EXTENSIONS.get(os.path.splitext(output)[1].lower(), "text")


def _given(name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or in the environment)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _load_model(model_path: str):
    """``(model, corpus conventions)`` of a model file: how its training corpus was read."""
    from .persist import load_with_header

    model, header = load_with_header(model_path)
    conventions = (header.get("text") or {}).get("corpus") or {}
    return model, conventions


def _os_reason(exc: OSError) -> str:
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


class _output:  # noqa: N801 - used like open()
    """stdout, or an atomically written file."""

    def __init__(self, path: str | None) -> None:
        self.inner = _OutputFile(path) if path is not None else None

    def __enter__(self) -> IO[str]:
        if self.inner is None:
            return sys.stdout
        return self.inner.__enter__()

    def __exit__(self, *exc) -> None:
        if self.inner is not None:
            self.inner.__exit__(*exc)


def _columns_k(model, k: int | None) -> int:
    """How many label columns csv/tsv output has: never more than the model has classes."""
    c = len(model.classes_)
    if k is not None:
        return min(k, c)
    return c if getattr(model, "multilabel_", False) else 1


def _chunk_limit(model, chunk_size: int) -> int:
    """Documents per chunk so that one chunk's n×c probabilities stay under ~128 MiB."""
    return max(1, min(chunk_size, _PROBA_CELLS // max(len(model.classes_), 1)))


_PROBA_CELLS = 2**24  # float64 cells of one chunk's probability matrix (128 MiB)


def _plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python scalar (for str() and JSON)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _predict_rows(
    model, texts: Sequence[str], k: int | None, threshold: float | None, with_proba: bool
) -> list[list[tuple[Any, float | None]]]:
    """``(label, probability)`` pairs per document, exactly as the Python API gives them.

    Without ``-k`` and ``--threshold`` the labels are ``model.predict`` (the model's own
    decision rule: the arg-max, or for multi-label models its threshold and fallback), with
    ``predict_proba`` probabilities when they are printed; otherwise ``model.predict_topk``.
    """
    if k is None and threshold is None:
        predicted = model.predict(texts)
        classes = [_plain(c) for c in model.classes_]
        if getattr(model, "multilabel_", False):
            if hasattr(predicted, "ndim") and predicted.ndim == 2:  # an indicator matrix
                rows = [[classes[j] for j in row.nonzero()[0]] for row in predicted]
            else:
                rows = [[_plain(lab) for lab in labels] for labels in predicted]
        else:
            rows = [[_plain(lab)] for lab in predicted]
        if not with_proba:
            return [[(lab, None) for lab in row] for row in rows]
        P = _finite(model.predict_proba(texts))
        column = {lab: j for j, lab in enumerate(classes)}
        return [[(lab, float(P[i, column[lab]])) for lab in row] for i, row in enumerate(rows)]
    if k is None:
        k = len(model.classes_) if getattr(model, "multilabel_", False) else 1
    rows = model.predict_topk(texts, k=k, threshold=0.0 if threshold is None else threshold)
    return [[(_plain(lab), float(p)) for lab, p in row] for row in rows]


def _finite(P):
    import numpy as np

    bad = ~np.isfinite(P).all(axis=1)
    if bad.any():
        raise click.ClickException(
            f"the model gives non-finite probabilities for document {int(bad.argmax()) + 1} of "
            "this chunk (its weights overflow); it cannot be used for prediction"
        )
    return P


def _format_p(p: float) -> str:
    """A probability with 6 significant digits, more when 6 would round it to 1 or 0."""
    text = f"{p:.6g}"
    digits = 6
    while digits < 17 and (text == "1" and p < 1.0 or text == "0" and p > 0.0):
        digits += 1
        text = f"{p:.{digits}g}"
    return text


def _text_cell(label: Any) -> str:
    """A label as one token of a line: line breaks and other control characters escaped
    (a label could otherwise split one document's line in two)."""
    text = str(label)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


class _PredictionWriter:
    def __init__(self, out, fmt: str, proba: bool, k: int, header: bool) -> None:
        self.out = out
        self.fmt = fmt
        self.proba = proba
        self.k = k
        self.header = header and fmt in ("csv", "tsv")
        if fmt in ("csv", "tsv"):
            self.buf = io.StringIO()
            self.csv = csv.writer(
                self.buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n"
            )

    def _write_header(self) -> None:
        if not self.header:
            return
        self.header = False
        if self.k == 1:
            cells = ["label"] + (["probability"] if self.proba else [])
        else:
            cells = []
            for i in range(1, self.k + 1):
                cells.append(f"label_{i}")
                if self.proba:
                    cells.append(f"probability_{i}")
        self.csv.writerow(cells)

    def write(self, rows: list[list[tuple[Any, float]]]) -> None:
        if self.fmt == "jsonl":
            dumps = json.dumps
            self.out.write(
                "".join(
                    dumps(
                        {
                            "labels": [lab for lab, _ in row],
                            "probabilities": [p for _, p in row],
                        },
                        ensure_ascii=False,
                        allow_nan=False,
                    )
                    + "\n"
                    for row in rows
                )
            )
        elif self.fmt == "text":
            if self.proba:
                lines = [
                    " ".join(f"{_text_cell(lab)} {_format_p(p)}" for lab, p in row) for row in rows
                ]
            else:
                lines = [" ".join(_text_cell(lab) for lab, _ in row) for row in rows]
            self.out.write("".join(line + "\n" for line in lines))
        else:
            self._write_header()
            width = self.k * (2 if self.proba else 1)
            for row in rows:
                cells: list[Any] = []
                for lab, p in row[: self.k]:
                    cells.append(lab)
                    if self.proba:
                        cells.append(_format_p(p))
                cells.extend([""] * (width - len(cells)))
                self.csv.writerow(cells)
            self._drain()

    def _drain(self) -> None:
        self.out.write(self.buf.getvalue())
        self.buf.seek(0)
        self.buf.truncate()

    def close(self) -> None:
        if self.fmt in ("csv", "tsv"):
            self._write_header()  # an empty input still gets its header row
            self._drain()


# ---------------------------------------------------------------------- evaluate
@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("test_path", metavar="TEST", type=str)
@_corpus_options
@click.option(
    "-k",
    "ks",
    type=click.IntRange(min=1),
    multiple=True,
    help="k for top-k accuracy / P@k / R@k (repeatable) [default: 1 and 5].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a self-contained HTML report to this file.",
)
@click.option(
    "--misclassified",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the wrongly predicted documents to this CSV file (single-label models).",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the terminal report [default: only on a terminal, and never with NO_COLOR set].",
)
def evaluate(
    model_path,
    test_path,
    fmt,
    text_column,
    label_column,
    label_sep,
    encoding,
    ks,
    as_json,
    html_path,
    misclassified,
    color,
) -> None:
    """Evaluate MODEL on the labelled TEST file and print a report.

    Labels of TEST that the model never saw are counted and listed in the report (they count
    as errors), not an error.
    """
    from .corpus import read_corpus
    from .report import evaluate as evaluate_model

    _require_stdout()
    for path in (html_path, misclassified):
        if path is not None:
            _check_output_path(path, model_path, test_path)
    model, conventions = _load_model(model_path)
    multilabel = bool(getattr(model, "multilabel_", False))
    if misclassified and multilabel:
        raise click.UsageError("--misclassified is for single-label models")
    kw = _corpus_kwargs(fmt, text_column, label_column, label_sep, encoding)
    for key, option in _REMEMBERED.items():  # what the user left out, as the model was fit
        if not _given(option) and conventions.get(key) is not None:
            kw[key] = conventions[key]
    test = read_corpus(test_path, **kw)
    texts, y, _ = _labels_of(test, kw["label_sep"], multilabel=multilabel)
    if multilabel and kw["label_sep"] is None:
        _check_label_cells(test.name, y, model.classes_)
    started = time.perf_counter()
    P = model.predict_proba(texts)  # once, for the report and the misclassified file
    report = evaluate_model(
        model,
        texts,
        y,
        k=tuple(ks) or (1, 5),
        proba=P,
        predict_seconds=time.perf_counter() - started,
    )
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(report.render_text(color=color), color=color)
    if html_path:
        _write_html(report, html_path, model)
    if misclassified:
        from .report import write_misclassified

        pred = model.predict(texts)  # the model's own decision rule
        with _writing(misclassified), _OutputFile(misclassified) as f:
            n = write_misclassified(f, texts, y, pred, P, model.classes_)
        _stderr(f"{n:,} misclassified documents written to {misclassified}")


# corpus option of fit remembered in the model file -> the click parameter that overrides it
# (not the encoding: that is a property of each file, and a wrong guess garbles text silently)
_REMEMBERED = {
    "format": "fmt",
    "text_column": "text_column",
    "label_column": "label_column",
    "label_sep": "label_sep",
}


def _check_label_cells(name: str, y, classes) -> None:
    """A multi-label model read without a separator: refuse label cells such as 'a b' that
    are not classes but split into classes (they would all be scored as unseen labels)."""
    known = {str(c) for c in classes}
    for labels in y:
        for label in labels:
            if label in known:
                continue
            for sep in (" ", ",", ";", "|"):
                parts = [p.strip() for p in str(label).split(sep) if p.strip()]
                if len(parts) > 1 and all(p in known for p in parts):
                    shown = " ".join(str(label).split())[:60]
                    raise click.UsageError(
                        f"{name}: the label cell {shown!r} is not a class of this multi-label "
                        f"model, but its parts are: pass --label-sep {sep!r}"
                    )


def _write_html(report, html_path: str, model) -> None:
    from .explain import LINEAR_LOSSES, confusion_explainer
    from .report import render_html
    from .report.html import figures_available

    if not figures_available():
        _stderr(
            "note: the HTML report has no figures: they need matplotlib "
            "(pip install 'bowclf[report]')"
        )
    with _writing(html_path), _OutputFile(html_path) as f:
        clf = getattr(model, "classifier_", None)
        explain = (
            confusion_explainer(model)
            if hasattr(model, "explain") and getattr(clf, "loss", None) in LINEAR_LOSSES
            else None
        )
        f.write(render_html(report, explain=explain))
    _stderr(f"HTML report written to {html_path}")


class _writing:  # noqa: N801 - a context manager used like a function
    """Turn an OSError while writing ``path`` (disk full, ...) into one line naming it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, OSError) and not _is_broken_pipe(exc):
            raise click.ClickException(
                f"{self.path}: cannot write ({_os_reason(exc)}); an existing file is unchanged"
            ) from None
        return False


def _summary_line(report) -> str:
    d = report.to_dict()
    parts = [f"Validation: {d['n_documents']:,} documents"]
    if d.get("accuracy") is not None:
        parts.append(f"accuracy {d['accuracy']:.4f}")
    macro = d.get("macro") or {}
    if macro.get("f1") is not None:
        parts.append(f"macro-F1 {macro['f1']:.4f}")
    micro = d.get("micro") or {}
    if d.get("multilabel") and micro.get("f1") is not None:
        parts.append(f"micro-F1 {micro['f1']:.4f}")
    log_loss = d.get("log_loss")
    if isinstance(log_loss, int | float) and math.isfinite(log_loss):
        parts.append(f"log-loss {log_loss:.4f}")
    return ", ".join(parts)


# ---------------------------------------------------------------------- info
@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the validated header as JSON.")
@click.option(
    "--top-features",
    type=click.IntRange(min=1),
    default=None,
    help="Also show the N most indicative features per class (loads the whole model).",
)
def info(model_path, as_json, top_features=None) -> None:
    """Show a model file's format, parameters, classes and training summary.

    Only the header is read (validated as by every command); use 'bowclf predict' or
    'evaluate' to load the whole model.
    """
    from .persist import info as read_info
    from .persist import read_classes

    _require_stdout()
    header = read_info(model_path)
    top = _top_features_lines(model_path, top_features) if top_features else None
    if as_json:
        if top is not None:
            header = {**header, "top_features": top[0]}
        click.echo(json.dumps(header, indent=2, sort_keys=True, allow_nan=False))
        return
    arrays = header["arrays"]
    A_shape = arrays["classifier/A"]["shape"]
    classes = read_classes(model_path).tolist()
    text = header.get("text") or {}
    lines = [
        ("File", f"{model_path} ({_human_size(os.path.getsize(model_path))})"),
        (
            "Format",
            f"{header['format']} v{header['format_version']} "
            f"(written by bowclf {header.get('bowclf_version')})",
        ),
        ("Created", header.get("created")),
        ("Kind", header["kind"]),
        ("Classes", _class_list(classes)),
        ("Features", f"{A_shape[0]:,} columns of A, dim {A_shape[1]}"),
    ]
    words = arrays.get("vectorizer/words")
    if words is not None:
        lines.append(("Vocabulary", f"{words['shape'][0]:,} words"))
    if text:
        lines.append(("Multi-label", _multilabel_line(text, header)))
        if text.get("training_summary"):
            lines.append(("Training", _training_line(text["training_summary"])))
        if text.get("corpus"):
            lines.append(("Corpus read as", _corpus_line(text["corpus"])))
    params = header.get("params", {})
    lines.append(("Parameters", ", ".join(f"{k}={v}" for k, v in sorted(params.items()))))
    click.echo("\n".join(f"{name + ':':<17}{_printable(str(value))}" for name, value in lines))
    if top is not None:
        click.echo("\n".join(top[1]))


def _printable(text: str) -> str:
    """Header strings as shown on a terminal: control characters (escape codes, line
    breaks) escaped, never sent raw."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _class_list(classes: list, shown: int = 20) -> str:
    names = ", ".join(str(c) for c in classes[:shown])
    more = f", … ({len(classes) - shown:,} more)" if len(classes) > shown else ""
    return f"{len(classes):,}: {names}{more}"


def _multilabel_line(text: dict, header: dict) -> str:
    if not text.get("multilabel"):
        return "no"
    fitted = header["classifier"]["fitted"]
    fallback = ", else the most probable label" if fitted.get("top_label_") else ""
    return f"yes (labels with probability >= {fitted['threshold_']:.4g}{fallback})"


def _training_line(summary: dict) -> str:
    def number(key: str, fmt: str = ",") -> str | None:
        value = summary.get(key)
        return format(value, fmt) if isinstance(value, int | float) else None

    parts = [
        f"{number('documents')} documents" if number("documents") else None,
        f"{number('epochs')} epochs" if number("epochs") else None,
        f"final loss {number('loss', '.4f')}" if number("loss", ".4f") else None,
        f"validation score {number('validation_score', '.4f')}"
        if number("validation_score", ".4f")
        else None,
        f"{number('seconds', '.1f')} s" if number("seconds", ".1f") else None,
    ]
    known = {"documents", "epochs", "loss", "validation_score", "seconds"}
    parts += [f"{k} {v}" for k, v in sorted(summary.items()) if k not in known and v is not None]
    return ", ".join(p for p in parts if p)


def _corpus_line(corpus: dict) -> str:
    names = {
        "format": "format",
        "label_sep": "label separator",
        "text_column": "text column",
        "label_column": "label column",
        "encoding": "encoding",
    }
    parts = [f"{names[k]} {v!r}" for k, v in corpus.items() if k in names and v is not None]
    return ", ".join(parts) or "defaults (format detected, one label per cell)"


def _human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (exits with the documented exit code)."""
    cli.main(args=argv)


# ---------------------------------------------------------------------- explain, neighbors, serve
def _text_model(model_path: str):
    """Load a model that reads raw text (a TextClassifier), or fail with one line."""
    from .persist import load

    model = load(model_path)
    if not hasattr(model, "vectorizer_"):
        raise click.ClickException(
            f"{model_path}: a BowClassifier model has no vectorizer; this command needs a text "
            "model (trained by 'bowclf fit')"
        )
    return model


def _label_values(model, labels: Sequence[str]) -> list | None:
    """Command-line label strings as the model's class values (int classes stay ints)."""
    if not labels:
        return None
    by_text = {str(c): c for c in model.classes_.tolist()}
    missing = [lab for lab in labels if lab not in by_text]
    if missing:
        raise click.ClickException(
            f"unknown label(s) {', '.join(missing)}; the model's classes are "
            + ", ".join(sorted(by_text))
        )
    return [by_text[lab] for lab in labels]


def _short_text(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("inputs", metavar="[INPUT]...", nargs=-1, type=str)
@click.option(
    "-k",
    "k",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Explain the k most probable classes of each document.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Explain this class instead (repeatable); overrides -k.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Features shown per sign and class (0: every feature, in --json).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document (JSON Lines).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write an HTML page highlighting each document's words (written atomically).",
)
@click.option(
    "--input-format",
    "fmt",
    type=click.Choice(["auto", "text", "csv", "tsv", "jsonl", "fasttext"]),
    default="auto",
    show_default=True,
    help="As for 'bowclf predict'.",
)
@click.option("--text-column", default=None, help="Text column (name or 0-based index).")
@click.option("--encoding", default="utf-8", show_default=True, help="Input text encoding.")
def explain(model_path, inputs, k, labels, top, as_json, html_path, fmt, text_column, encoding):
    """Explain the predictions for the documents in INPUT files (or stdin) exactly.

    Each class score is B·A·x̃, linear in the document's features, so every word, n-gram and
    subword gets its exact contribution; they sum to the score. Prints the top positive and
    negative contributions per document and class.
    """
    from .corpus import iter_chunks
    from .explain import explanations_page

    sources = list(inputs) or ["-"]
    if html_path is not None:
        _check_output_path(html_path, model_path, *sources)
    model = _text_model(model_path)
    wanted = _label_values(model, labels)
    pages = []
    n_doc = 0
    for source in sources:
        kw = {
            "format": ("text" if source == "-" else None) if fmt == "auto" else fmt,
            "text_column": text_column,
            "encoding": encoding,
            "require_labels": False,
        }
        for texts, _ in iter_chunks(source, chunk_size=1000, **kw):
            explanations = model.explain(texts, k=k, labels=wanted)
            if html_path is not None:
                pages.extend(explanations)
            out = []
            for ex in explanations:
                n_doc += 1
                if as_json:
                    out.append(json.dumps(ex.to_dict(top=top or None), ensure_ascii=False))
                    continue
                out.append(f"#{n_doc} “{_short_text(ex.text)}”")
                for ce in ex.classes:
                    out.append(
                        f"  {ce.label}  p {ce.probability:.4f}  score {ce.score:+.4f} "
                        f"= Σ {len(ex.features)} contributions"
                    )
                    for sign, pairs in (
                        ("+", ce.top(top or 5)),
                        ("-", ce.top(top or 5, negative=True)),
                    ):
                        if pairs:
                            terms = "  ".join(f"{ex.features[j]} {v:+.4f}" for j, v in pairs)
                            out.append(f"    {sign} {terms}")
            click.echo("\n".join(out))
    if html_path is not None:
        with _OutputFile(html_path) as f:
            f.write(
                explanations_page(
                    pages, title=f"Explanations: {os.path.basename(model_path)}", top=top or 5
                )
            )
        _stderr(f"bowclf: wrote {html_path} ({n_doc} document{'s' if n_doc != 1 else ''})")


@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("word", type=str)
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Number of neighbours.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of [word, cosine].")
def neighbors(model_path, word, n, as_json):
    """The vocabulary words nearest to WORD by the cosine of the model's embeddings.

    A word's embedding is the model's embedding of the one-word document (its column of A,
    averaged with its subwords' when the model has character n-grams).
    """
    from .explain import neighbors as nearest

    model = _text_model(model_path)
    pairs = nearest(model, word, n)
    if as_json:
        click.echo(json.dumps([[w, s] for w, s in pairs], ensure_ascii=False))
        return
    width = max((len(w) for w, _ in pairs), default=0)
    click.echo("\n".join(f"{w:<{width}}  {s:.4f}" for w, s in pairs))


def _top_features_lines(model_path: str, n: int) -> tuple[dict, list[str]]:
    """``info --top-features``: the JSON value and the terminal lines."""
    from .explain import top_features

    table = top_features(_text_model(model_path), n)
    data = {str(label): [[name, p, s] for name, p, s in rows] for label, rows in table.items()}
    lines = ["Top features:    (p of the class for a document of the feature alone)"]
    for label, rows in table.items():
        lines.append(f"  {label}: " + ", ".join(f"{name} {p:.3f}" for name, p, _ in rows))
    return data, lines


@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes, each loading the model once.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=4 << 20,
    show_default=True,
    help="Largest request body (413 above).",
)
@click.option(
    "--max-texts",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Most documents per request (413 above).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="Most documents per batched model call.",
)
@click.option(
    "--batch-window-ms",
    type=_FiniteFloat(0, 1000),
    default=2.0,
    show_default=True,
    help="Under concurrent load, wait this long for more requests before a batch (a lone "
    "client is not delayed; 0: take only what is queued).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    model_path,
    host,
    port,
    workers,
    max_body_bytes,
    max_texts,
    max_batch,
    batch_window_ms,
    log_level,
):
    """Serve MODEL over HTTP: POST /predict, POST /explain, GET /health, GET /info.

    Needs the 'serve' extra (pip install 'bowclf[serve]'). Concurrent requests are batched
    together; SIGTERM or Ctrl-C stops the server gracefully (requests in flight are
    answered) with exit code 0. The OpenAPI schema is at /openapi.json.
    """
    try:
        from . import serve as server
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    from .persist import info as read_info

    header = read_info(model_path)  # a clear one-line error before binding the port
    if header["kind"] != "TextClassifier":
        raise click.ClickException(f"{model_path}: only text models (TextClassifier) can be served")
    config = server.ServeConfig(
        model_path=os.path.abspath(model_path),
        max_body_bytes=max_body_bytes,
        max_texts=max_texts,
        max_batch=max(max_batch, 1),
        batch_window=batch_window_ms / 1000.0,
    )
    # uvicorn handles SIGTERM/SIGINT itself while it serves (graceful shutdown), then re-raises
    # the signal to the handler it found: ignored once the server ran, so a requested stop
    # exits 0; before that (model still loading) the usual handler ends the command.
    previous: dict[int, Any] = {}

    def on_signal(signum, frame):
        if server.SERVING.is_set():
            return
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        raise SystemExit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT):
        previous[s] = signal.signal(s, on_signal)
    try:
        server.run(config, host=host, port=port, workers=workers, log_level=log_level)
    except SystemExit as exc:  # uvicorn's start-up failure (e.g. the port is taken), logged
        if exc.code not in (0, None):
            raise click.ClickException(
                f"the server could not start on {host}:{port} (see the log line above)"
            ) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":  # pragma: no cover
    main()
