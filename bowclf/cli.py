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
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from . import __version__

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
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, ValueError | FloatingPointError | TypeError):
        return text  # CorpusError, ModelFileError, VectorsError, TrainingDivergedError, ...
    return f"{type(exc).__name__}: {text}"


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
    default=3,
    show_default=True,
    help="Epochs without improvement before early stopping.",
)
@click.option(
    "--dim", type=click.IntRange(min=1), default=100, show_default=True, help="Embedding dimension."
)
@click.option(
    "--epochs",
    type=_EPOCHS,
    default="auto",
    show_default=True,
    help="Passes over the training data, or 'auto': 10 for small corpora down to 5 from "
    "40,000 documents.",
)
@click.option(
    "--lr",
    type=_FiniteFloat(min=0, min_open=True),
    default=0.25,
    show_default=True,
    help="Initial learning rate (decays linearly to 0).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Documents per SGD step.",
)
@click.option(
    "--loss",
    type=click.Choice(["softmax", "ova"]),
    default="softmax",
    show_default=True,
    help="softmax: one distribution; ova: independent sigmoids.",
)
@click.option(
    "--normalize",
    type=click.Choice(["l1", "l2", "none"]),
    default="l1",
    show_default=True,
    help="Row scaling of counts (l1 = average, as fastText).",
)
@click.option(
    "--idf/--no-idf",
    "use_idf",
    default=True,
    show_default=True,
    help="Weight counts by inverse document frequency (--no-idf: raw counts, as fastText).",
)
@click.option(
    "--sublinear-tf",
    is_flag=True,
    default=False,
    help="Use 1 + ln(count) instead of the count.",
)
@click.option(
    "--ngrams",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Longest word n-gram (1 = unigrams only).",
)
@click.option(
    "--buckets",
    type=click.IntRange(min=0),
    default=2_000_000,
    show_default=True,
    help="Hash buckets for n-grams and subwords.",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Minimum corpus frequency of a vocabulary word.",
)
@click.option(
    "--max-features",
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most this many vocabulary words (most frequent).",
)
@click.option(
    "--minn",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Shortest character n-gram of words (0 = none).",
)
@click.option(
    "--maxn",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Longest character n-gram of words (0 = none).",
)
@click.option(
    "--tokenizer",
    type=click.Choice(["default", "whitespace"]),
    default="default",
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
    help="Random seed: the same seed gives the same model, bit for bit.",
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
def fit(
    corpus,
    output,
    fmt,
    text_column,
    label_column,
    label_sep,
    encoding,
    valid_path,
    valid_fraction,
    early_stopping,
    patience,
    dim,
    epochs,
    lr,
    batch_size,
    loss,
    normalize,
    use_idf,
    sublinear_tf,
    ngrams,
    buckets,
    min_count,
    max_features,
    minn,
    maxn,
    tokenizer,
    lowercase,
    class_weight,
    threshold,
    pretrained_vectors,
    seed,
    stream,
    cache_dir,
    dask_scheduler,
    quiet,
) -> None:
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
    if valid_path is not None and valid_fraction is not None:
        raise click.UsageError("use either --valid or --valid-fraction, not both")
    if early_stopping and valid_path is None and valid_fraction is None:
        raise click.UsageError("--early-stopping needs --valid FILE or --valid-fraction F")
    if minn > maxn:
        raise click.UsageError(f"--minn {minn} is larger than --maxn {maxn}")
    if output is None:
        if corpus == "-":
            raise click.UsageError("reading the corpus from stdin needs -o/--output MODEL")
        output = str(_default_model_path(corpus))
    _check_output_path(output, corpus, valid_path, pretrained_vectors, regular_only=True)
    if stream is None:
        stream = corpus != "-" and _text_size_estimate(corpus) > _STREAM_BYTES
        why = "CORPUS is over 256 MiB, so it is trained out of core (--stream)"
    else:
        why = "--stream"
    if stream:
        if corpus == "-":
            raise click.UsageError("--stream reads CORPUS twice, so it cannot be stdin")
        if valid_fraction is not None:
            raise click.UsageError(
                f"{why}: --valid-fraction is not supported; use --valid FILE (or --in-memory)"
            )
        if class_weight != "none":
            raise click.UsageError(f"{why}: --class-weight is not supported (or --in-memory)")
    kw = _corpus_kwargs(fmt, text_column, label_column, label_sep, encoding)
    started = time.perf_counter()
    from .text import TextClassifier

    model = TextClassifier(
        dim=dim,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        loss=loss,
        normalize=None if normalize == "none" else normalize,
        use_idf=use_idf,
        sublinear_tf=sublinear_tf,
        ngrams=ngrams,
        buckets=buckets,
        min_count=min_count,
        max_features=max_features,
        minn=minn,
        maxn=maxn,
        tokenizer=tokenizer,
        lowercase=lowercase,
        class_weight=None if class_weight == "none" else class_weight,
        threshold=threshold,
        early_stopping=early_stopping,
        n_iter_no_change=patience,
        pretrained_vectors=pretrained_vectors,
        random_state=seed,
    )
    progress = _Progress(enabled=not quiet)
    if dask_scheduler is not None:
        val_texts, val_y = _fit_dask(model, corpus, kw, valid_path, dask_scheduler, progress)
    elif stream:
        val_texts, val_y = _fit_stream(
            model, corpus, kw, label_sep, valid_path, cache_dir, progress, quiet, epochs, dim
        )
    else:
        val_texts, val_y = _fit_in_memory(
            model,
            corpus,
            kw,
            label_sep,
            valid_path,
            valid_fraction,
            seed,
            progress,
            quiet,
            epochs,
            dim,
        )
    from .persist import save

    try:
        save(model, output)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"{output}: cannot write the model ({reason}); an existing file is unchanged"
        ) from None
    if not quiet:
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
        if val_texts is not None:
            from .report import evaluate

            _stderr(_summary_line(evaluate(model, val_texts, val_y)))
        _stderr(f"Model written to {output}")


# fit trains out of core (--stream) on corpora with more text than this.  In memory, a fit
# peaks at ~17-30x the CSV's size (100M tokens: 518 MB of CSV, 9.1 GB peak RSS; out of core
# 1.4 GB at 4% less speed, bench/RESULTS.md), so 256 MiB keeps in-memory fits under ~5-8 GB.
_STREAM_BYTES = 256 * 2**20
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
_COMPRESSION_FACTOR = 4  # text is typically 3-5x its gzip/bzip2/xz size


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0  # the corpus reader reports a missing file


def _text_size_estimate(path: str) -> int:
    """Bytes of text in a corpus file: its size, times 4 when it is compressed."""
    size = _file_size(path)
    return size * _COMPRESSION_FACTOR if path.lower().endswith(_COMPRESSED_SUFFIXES) else size


def _fit_dask(model, corpus, kw, valid_path, scheduler, progress):
    """Train on a Dask cluster through :func:`bowclf.dask.fit_dask_file`."""
    from .corpus import read_corpus
    from .dask import fit_dask_file

    if corpus == "-":
        raise click.UsageError("--dask-scheduler reads CORPUS twice, so it cannot be stdin")
    val_texts = val_y = None
    if valid_path is not None:
        valid = read_corpus(valid_path, **kw)
        val_texts, val_y, _ = _labels_of(valid, kw.get("label_sep"))
    try:
        fit_dask_file(
            model,
            corpus,
            scheduler,
            corpus_kw=kw,
            X_val=val_texts,
            y_val=val_y,
            callback=progress,
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot use the Dask scheduler at {scheduler} ({_one_line(exc)})"
        ) from None
    finally:
        progress.close()
    return val_texts, val_y


def _fit_in_memory(
    model, corpus, kw, label_sep, valid_path, valid_fraction, seed, progress, quiet, epochs, dim
):
    from .corpus import read_corpus

    train = read_corpus(corpus, **kw)
    texts, y, multilabel = _labels_of(train, label_sep)
    known = _known_labels(y, multilabel)
    if len(known) < 2:
        raise click.ClickException(
            f"{train.name}: only one class ({next(iter(known))!r}) in {len(texts):,} "
            f"document{'s' if len(texts) != 1 else ''}; a classifier needs at least two "
            "(check --label-column)"
        )
    val_texts = val_y = None
    if valid_path is not None:
        valid = read_corpus(valid_path, **kw)
        val_texts, val_y, _ = _labels_of(valid, label_sep, multilabel=multilabel)
        unseen = sorted({lab for labs in valid.labels for lab in labs} - known)
        if unseen:
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            raise click.ClickException(
                f"{valid.name}: labels not in the training data: "
                f"{', '.join(map(repr, unseen[:5]))}{more}"
            )
    elif valid_fraction is not None:
        texts, y, val_texts, val_y = _split(texts, y, valid_fraction, seed, multilabel)
    if not quiet:
        what = "multi-label, " if multilabel else ""
        valid_note = f", {len(val_texts):,} for validation" if val_texts is not None else ""
        _stderr(
            f"Training on {len(texts):,} documents{valid_note} ({what}{len(known)} classes): "
            f"{resolve_epochs(epochs, len(texts))} epochs, dim {dim}"
        )
    try:
        model.fit(texts, y, X_val=val_texts, y_val=val_y, callback=progress)
    except ValueError as exc:  # e.g. an empty vocabulary: say which corpus
        raise click.ClickException(f"{train.name}: cannot train: {_one_line(exc)}") from None
    finally:
        progress.close()
    return val_texts, val_y


def resolve_epochs(epochs, n_documents: int) -> int:
    from .classifier import resolve_epochs as resolve

    return resolve(epochs, n_documents)


def _fit_stream(model, corpus, kw, label_sep, valid_path, cache_dir, progress, quiet, epochs, dim):
    from .corpus import read_corpus
    from .stream import fit_stream

    val_texts = val_y = None
    multilabel = True if label_sep is not None else None
    if valid_path is not None:
        if label_sep is not None:
            raise click.UsageError("--stream with --valid is for single-label data")
        valid = read_corpus(valid_path, **kw)
        val_texts, val_y, _ = _labels_of(valid, None, multilabel=False)
        multilabel = False
    if not quiet:
        _stderr(
            f"Training out of core on {corpus} (read twice, tokens cached on disk): "
            f"{epochs} epochs, dim {dim}".replace("auto epochs", "'auto' epochs")
        )
    try:
        fit_stream(
            model,
            corpus,
            corpus_kw=kw,
            multilabel=multilabel,
            X_val=val_texts,
            y_val=val_y,
            cache_dir=cache_dir,
            callback=progress,
        )
    except ValueError as exc:  # CorpusError keeps its own message (it names the file)
        from .corpus import CorpusError

        if isinstance(exc, CorpusError):
            raise
        raise click.ClickException(f"{corpus}: cannot train: {_one_line(exc)}") from None
    finally:
        progress.close()
    return val_texts, val_y


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


def _known_labels(y, multilabel: bool) -> set:
    if multilabel:
        return {lab for labs in y for lab in labs}
    return set(y)


def _split(texts, y, fraction: float, seed: int, multilabel: bool):
    import numpy as np
    from sklearn.model_selection import train_test_split

    n = len(texts)
    n_val = math.ceil(fraction * n)
    if n_val < 1 or n - n_val < 1:
        raise click.ClickException(
            f"--valid-fraction {fraction:g} of {n} documents leaves no training or no "
            "validation data"
        )
    idx = np.arange(n)
    stratify = None
    if not multilabel:
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if counts.min() >= 2:
            stratify = np.asarray(y)
    try:
        tr, va = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    except ValueError:  # too few documents per class for a stratified split
        tr, va = train_test_split(idx, test_size=n_val, random_state=seed)
    # Documents whose labels would be missing from the training part (a label seen once)
    # stay in training: a model cannot be validated on classes it cannot predict.
    known = _known_labels([y[i] for i in tr], multilabel)
    unseen = [i for i in va if not _known_labels([y[i]], multilabel) <= known]
    if unseen:
        tr = np.concatenate([tr, unseen])
        va = np.setdiff1d(va, unseen)
    if va.size == 0:
        raise click.ClickException(
            f"--valid-fraction {fraction:g}: no validation documents left (every held-out "
            "document has a label seen only there); use more data or --valid FILE"
        )
    tr.sort()
    va.sort()

    def pick(seq, rows):
        return [seq[i] for i in rows]

    return pick(texts, tr), pick(y, tr), pick(texts, va), pick(y, va)


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
        if info.get("event") == "pass":  # out-of-core training read the corpus
            what = "vocabulary" if info.get("pass") == 1 else "token cache"
            _stderr(
                f"pass {info.get('pass')}/2 ({what}): {info.get('documents', 0):,} documents "
                f"in {info.get('seconds', 0.0):.1f}s"
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
    "input is a document, so a blank line gets a prediction too.\n\n"
    "\b\n"
    "  text   labels separated by spaces; with --proba 'label p label p ...'\n"
    "  csv    a header row, then label[,probability] for k=1, or\n"
    "         label_1[,probability_1],...,label_k[,probability_k] for k>1, cells left\n"
    "         empty when fewer labels pass --threshold; multi-label models without -k\n"
    "         use k = the number of classes; --no-header leaves the header row out\n"
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
    help="Print the k most probable labels [default: 1; multi-label models print "
    "every label whose probability reaches the model's threshold].",
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
    default="text",
    show_default=True,
    help="Output format (see below).",
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
    "after the labels. 'auto': the extension and content of a file; stdin is text.",
)
@click.option("--text-column", default=None, help="Text column (name or 0-based index).")
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
    "(1 when stdin is a terminal, so each line is answered at once).",
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
    from .persist import load

    sources = list(inputs) or ["-"]
    if output is not None:
        _check_output_path(output, model_path, *sources)
    model = load(model_path)
    if "-" in sources and _isatty(sys.stdin):
        chunk_size = 1
    try:
        with _output(output) as out:
            writer = _PredictionWriter(out, out_format, proba, _columns_k(model, k), header)
            for source in sources:
                kw = {
                    "format": ("text" if source == "-" else None) if fmt == "auto" else fmt,
                    "text_column": text_column,
                    "encoding": encoding,
                    "require_labels": False,
                }
                for texts, _labels in iter_chunks(source, chunk_size=chunk_size, **kw):
                    writer.write(_predict_rows(model, texts, k, threshold))
                    out.flush()
            writer.close()
    except OSError as exc:  # input errors arrive as CorpusError: this is the output failing
        if _is_broken_pipe(exc) or not exc.strerror:
            raise
        raise click.ClickException(f"{output or '<stdout>'}: {exc.strerror}") from None


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
    """How many label columns csv/tsv output has."""
    if k is not None:
        return k
    if getattr(model, "multilabel_", False):
        return len(model.classes_)
    return 1


def _predict_rows(model, texts: Sequence[str], k, threshold) -> list[list[tuple[Any, float]]]:
    """``(label, probability)`` pairs per document, most probable first (vectorised: the
    per-document Python work is only building the pairs)."""
    import numpy as np

    P = model.predict_proba(texts)
    labels = np.asarray(model.classes_).tolist()
    n, c = P.shape
    multilabel = k is None and getattr(model, "multilabel_", False)
    kk = c if multilabel else min(k or 1, c)
    if kk == 1:
        order = P.argmax(axis=1)[:, None]  # the first maximum, as a stable sort would give
    else:
        order = np.argsort(-P, axis=1, kind="stable")[:, :kk]
    top = np.take_along_axis(P, order, axis=1)
    if multilabel:
        clf = model.classifier_
        keep = top >= (clf.threshold_ if threshold is None else threshold)
        if clf.loss == "softmax" and threshold is None:
            keep[:, 0] = True  # softmax models always predict their most probable label
    elif threshold:
        keep = top >= threshold
    else:
        keep = None
    order_rows, top_rows = order.tolist(), top.tolist()
    if keep is None:
        return [
            [(labels[j], p) for j, p in zip(o, t, strict=True)]
            for o, t in zip(order_rows, top_rows, strict=True)
        ]
    return [
        [(labels[j], p) for j, p, m in zip(o, t, m_row, strict=True) if m]
        for o, t, m_row in zip(order_rows, top_rows, keep.tolist(), strict=True)
    ]


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
                            "probabilities": [round(p, 6) for _, p in row],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                    for row in rows
                )
            )
        elif self.fmt == "text":
            if self.proba:
                lines = [" ".join(f"{lab} {p:.6g}" for lab, p in row) for row in rows]
            else:
                lines = [" ".join(str(lab) for lab, _ in row) for row in rows]
            self.out.write("".join(line + "\n" for line in lines))
        else:
            self._write_header()
            width = self.k * (2 if self.proba else 1)
            for row in rows:
                cells: list[Any] = []
                for lab, p in row[: self.k]:
                    cells.append(lab)
                    if self.proba:
                        cells.append(f"{p:.6g}")
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
    from .persist import load
    from .report import evaluate as evaluate_model

    for path in (html_path, misclassified):
        if path is not None:
            _check_output_path(path, model_path, test_path)
    model = load(model_path)
    multilabel = bool(getattr(model, "multilabel_", False))
    if misclassified and multilabel:
        raise click.UsageError("--misclassified is for single-label models")
    test = read_corpus(
        test_path, **_corpus_kwargs(fmt, text_column, label_column, label_sep, encoding)
    )
    texts, y, _ = _labels_of(test, label_sep, multilabel=multilabel)
    started = time.perf_counter()
    P = model.predict_proba(texts)  # once, for the report and the misclassified file
    report = evaluate_model(
        model, texts, y, k=tuple(ks) or (1, 5), proba=P,
        predict_seconds=time.perf_counter() - started,
    )
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(report.render_text(color=color))
    if html_path:
        from .report import render_html

        with _OutputFile(html_path) as f:
            f.write(render_html(report))
        _stderr(f"HTML report written to {html_path}")
    if misclassified:
        import numpy as np

        from .report import write_misclassified

        pred = np.asarray(model.classes_)[P.argmax(axis=1)]
        with _OutputFile(misclassified) as f:
            n = write_misclassified(f, texts, y, pred, P, model.classes_)
        _stderr(f"{n:,} misclassified documents written to {misclassified}")


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
def info(model_path, as_json) -> None:
    """Show a model file's format, parameters, classes and training summary.

    Only the header is read (validated as by every command); use 'bowclf predict' or
    'evaluate' to load the whole model.
    """
    from .persist import info as read_info

    header = read_info(model_path)
    if as_json:
        click.echo(json.dumps(header, indent=2, sort_keys=True))
        return
    arrays = header["arrays"]
    classes_shape = arrays.get("text/classes", arrays["classifier/classes"])["shape"]
    A_shape = arrays["classifier/A"]["shape"]
    lines = [
        f"File:            {model_path} ({_human_size(os.path.getsize(model_path))})",
        f"Format:          {header['format']} v{header['format_version']} "
        f"(written by bowclf {header.get('bowclf_version')})",
        f"Created:         {header.get('created')}",
        f"Kind:            {header['kind']}",
        f"Classes:         {classes_shape[0]}",
        f"Features:        {A_shape[0]:,} columns of A, dim {A_shape[1]}",
    ]
    words = arrays.get("vectorizer/words")
    if words is not None:
        lines.append(f"Vocabulary:      {words['shape'][0]:,} words")
    text = header.get("text") or {}
    if text:
        lines.append(f"Multi-label:     {'yes' if text.get('multilabel') else 'no'}")
        summary = text.get("training_summary") or {}
        if summary:
            lines.append("Training:        " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    params = header.get("params", {})
    lines.append("Parameters:      " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())))
    click.echo("\n".join(lines))


def _human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (exits with the documented exit code)."""
    cli.main(args=argv)



# ---------------------------------------------------------------------- convert / quantize
@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.option("-o", "--output", required=True, help="The bowclf model file to write.")
@click.option(
    "--label-prefix",
    default="__label__",
    show_default=True,
    help="fastText's -label prefix (stripped from the label names).",
)
def convert(model_path, output, label_prefix) -> None:
    """Convert a fastText supervised model (.bin or .ftz) to a bowclf model file.

    The converted file predicts exactly what the fastText model predicts (same tokens, word
    and character n-grams, hash buckets and output layer); bowclf can also use the .bin/.ftz
    directly.
    """
    from .io.fasttext import load_fasttext
    from .persist import save

    _check_output_path(output, model_path)
    model = load_fasttext(model_path, label_prefix=label_prefix)
    save(model, output)
    _stderr(f"{model_path} -> {output} ({_human_size(os.path.getsize(output))})")


@cli.command(name="quantize", epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.option("-o", "--output", required=True, help="The small model file to write.")
@click.option(
    "--cutoff",
    type=click.IntRange(min=1),
    default=None,
    help="Keep this many features (largest embedding norms) [default: all].",
)
@click.option(
    "--dsub",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Numbers per sub-vector: each is coded by one byte.",
)
@click.option("--qnorm", is_flag=True, help="Quantise the embedding norms separately.")
@click.option(
    "--retrain",
    is_flag=True,
    help="Re-fit the output layer on the pruned, quantised features of --input.",
)
@click.option("--input", "train_path", default=None, help="Training corpus (for --retrain).")
@_corpus_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of k-means.")
def quantize_command(
    model_path,
    output,
    cutoff,
    dsub,
    qnorm,
    retrain,
    train_path,
    fmt,
    text_column,
    label_column,
    label_sep,
    encoding,
    seed,
) -> None:
    """Write a small copy of MODEL: prune features, product-quantise the embeddings.

    The output is an ordinary bowclf model file (predict, evaluate and info read it).
    """
    from .persist import load, save
    from .quantization import quantize

    if retrain and train_path is None:
        raise click.UsageError("--retrain needs the training corpus: --input TRAIN")
    _check_output_path(output, model_path, train_path)
    model = load(model_path)
    texts = y = None
    if retrain:
        from .corpus import read_corpus

        corpus = read_corpus(
            train_path, **_corpus_kwargs(fmt, text_column, label_column, label_sep, encoding)
        )
        texts, y, _ = _labels_of(corpus, label_sep, multilabel=False)
    small = quantize(
        model, cutoff=cutoff, dsub=dsub, qnorm=qnorm, retrain=retrain, X=texts, y=y,
        random_state=seed,
    )
    save(small, output)
    before, after = os.path.getsize(model_path), os.path.getsize(output)
    _stderr(
        f"{model_path} ({_human_size(before)}) -> {output} ({_human_size(after)}, "
        f"{before / max(after, 1):.0f}x smaller)"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
