"""The command group and what every command shares: exit codes, one-line errors, signals,
output files, option types, corpus options."""

from __future__ import annotations

import codecs
import errno
import io
import math
import os
import re
import signal
import stat
import sys
import tempfile
import warnings
from typing import IO, Any

import click

from .. import __version__

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
    "existing model file is left unchanged (but 'fit --autotune' first writes the best model "
    "trained so far); 141 output pipe closed early (e.g. '| head'), silently."
)


def _non_empty(value: str | None, option: str) -> str | None:
    """An option's string value, refused (usage error) when given empty."""
    if value is not None and value == "":
        raise click.BadParameter("must not be empty", param_hint=f"'{option}'")
    return value


class _FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (which compare false with any bound)."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


class _PositiveOrAuto(_FiniteFloat):
    """A positive finite number, or 'auto' (``--lr``: ``bowclf.auto_rules.resolve_lr``;
    ``--ngram-weight``: ``resolve_ngram_weight``)."""

    name = "FLOAT|auto"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value, param, ctx):
        if value == "auto":
            return value
        return super().convert(value, param, ctx)


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
        callback=lambda _ctx, _param, value: _non_empty(value, "--label-sep"),
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


# corpus option of fit remembered in the model file -> the click parameter that overrides it
# (not the encoding: that is a property of each file, and a wrong guess garbles text silently)
_REMEMBERED = {
    "format": "fmt",
    "text_column": "text_column",
    "label_column": "label_column",
    "label_sep": "label_sep",
}


def _as_fit_read(kw: dict[str, Any], conventions: dict, path: str) -> dict[str, Any]:
    """``kw`` (:func:`_corpus_kwargs`) with the options the user left out taken from how
    ``fit`` read its corpus (``conventions``), for another labelled file ``path`` (evaluate's
    test file, quantize's retraining corpus) — except the format when ``path``'s own name
    says its format."""
    from ..corpus import format_named_by

    for key, option in _REMEMBERED.items():
        if not _given(option) and conventions.get(key) is not None:
            kw[key] = conventions[key]
    if not _given("fmt") and format_named_by(path) is not None:
        kw["format"] = None  # the file's name decides (fit's corpus was named otherwise)
    return kw


# ---------------------------------------------------------------------- errors and exit codes
class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so cleanup code runs (``except Exception`` does not catch it)."""


_SIGNALS: dict[str, Any] = {"terminated": False, "pid": None}  # this invocation's SIGTERM


def _on_sigterm(signum, frame):  # pragma: no cover - exercised in a subprocess
    if _SIGNALS["pid"] not in (None, os.getpid()):
        # a worker process forked before it installed its own handler: end as SIGTERM ends
        # a process (its stack is not the command's to unwind, nor its traceback to print)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _SIGNALS["terminated"] = True
    raise _Terminated()


def interrupted_exit(what: str) -> click.exceptions.Exit:
    """The exit of a command that caught an interruption and finished its work anyway
    (``fit --autotune`` writes the best model so far): one line, and 130 (143 for SIGTERM)
    so that scripts do not take the result for a completed run."""
    _stderr(f"bowclf: {'terminated' if _SIGNALS['terminated'] else 'interrupted'}: {what}")
    return click.exceptions.Exit(EXIT_TERMINATED if _SIGNALS["terminated"] else EXIT_INTERRUPTED)


# click >= 8.2 raises this for a bare 'bowclf'; older versions print the help themselves.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """Map every error a user can cause to one line on stderr and a documented exit code."""

    def main(self, args=None, prog_name=None, **extra):  # type: ignore[override]
        extra.pop("standalone_mode", None)
        _SIGNALS["terminated"] = False
        previous = _install_sigterm()
        streams = _escape_unencodable_output()
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
            _restore_errors(streams)
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
                _show_format_notes()
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


def _show_format_notes() -> None:
    """Inside a ``catch_warnings`` block: the corpus reader's guess of a piped input's
    format (:class:`bowclf.corpus.FormatGuessNote`) is printed as one line on stderr."""
    from ..corpus import FormatGuessNote

    warnings.simplefilter("always", FormatGuessNote)
    default = warnings.showwarning

    def show(message, category, *args, **kwargs):
        if issubclass(category, FormatGuessNote):
            _stderr(f"bowclf: note: {message}; pass --input-format text if it is not")
        else:
            default(message, category, *args, **kwargs)

    warnings.showwarning = show


def _interrupted(exc: KeyboardInterrupt) -> int:
    if isinstance(exc, _Terminated):
        _stderr("bowclf: terminated")
        return EXIT_TERMINATED
    _stderr("bowclf: interrupted")
    return EXIT_INTERRUPTED


def _install_sigterm():
    _SIGNALS["pid"] = os.getpid()
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


# ---------------------------------------------------------------------- unencodable text
#: The codec error handler of every output of the command line (stdout, stderr and the files
#: it writes: text, JSON, CSV, HTML): a character the output's encoding cannot hold -- a lone
#: surrogate, which a document may carry (``"\\ud800"`` in JSON Lines), or any character
#: when the terminal's encoding is narrower than UTF-8 -- is written as the escape ``\\uXXXX``
#: (two of them, a surrogate pair, above U+FFFF).  That is JSON's own escape, so JSON output
#: stays valid and parses back to the same text; in text, CSV and HTML it is plain ASCII.
OUTPUT_ERRORS = "bowclf.escape"


def _escape_unencodable(exc: UnicodeError) -> tuple[str, int]:
    """The :data:`OUTPUT_ERRORS` handler: ``\\uXXXX`` escapes of the unencodable characters."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        point = ord(ch)
        if point > 0xFFFF:
            point -= 0x10000
            out.append(f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}")
        else:
            out.append(f"\\u{point:04x}")
    return "".join(out), exc.end


codecs.register_error(OUTPUT_ERRORS, _escape_unencodable)


def _escape_unencodable_output() -> list[tuple[Any, str]]:
    """Switch stdout and stderr to :data:`OUTPUT_ERRORS` for this invocation; returns what
    :func:`_restore_errors` needs to switch them back."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        try:
            errors = stream.errors
            stream.reconfigure(errors=OUTPUT_ERRORS)
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            continue  # closed, or not a TextIOWrapper (a StringIO takes any text)
        changed.append((stream, errors))
    return changed


def _restore_errors(changed: list[tuple[Any, str]]) -> None:
    for stream, errors in changed:
        try:
            stream.reconfigure(errors=errors)
        except (ValueError, OSError, io.UnsupportedOperation):
            pass


# ---------------------------------------------------------------------- output files
def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_output_path(output: str, *inputs: str | None, regular_only: bool = False) -> None:
    """Fail before the work, not after it, when a file cannot be written where asked."""
    if output == "-":  # not a file named '-'
        raise click.UsageError("'-' is not an output file name here; give a file name")
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
    """A UTF-8 text file written atomically (:func:`bowclf.atomic.atomic_write`: to
    ``.NAME.XXXX.tmp`` beside it, renamed at the end), unencodable text escaped
    (:data:`OUTPUT_ERRORS`).

    If the work fails or is interrupted, the temporary file is removed and an existing file
    is left unchanged.  Special files (``/dev/null``, FIFOs, terminals) are written directly.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: IO[str]
        self._atomic: Any = None

    def __enter__(self) -> IO[str]:
        if _is_special(self.path):
            self.file = open(  # noqa: SIM115
                self.path, "w", encoding="utf-8", errors=OUTPUT_ERRORS, newline=""
            )
            return self.file
        from ..atomic import atomic_write

        self._atomic = atomic_write(
            self.path, "w", encoding="utf-8", errors=OUTPUT_ERRORS, newline=""
        )
        self.file = self._atomic.__enter__()
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._atomic is not None:
            self._atomic.__exit__(exc_type, exc, tb)
            return
        try:
            self.file.close()
        except BaseException:
            if exc_type is None:
                raise


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


# ---------------------------------------------------------------------- shared by commands
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


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _labels_of(corpus, label_sep, multilabel: bool | None = None):
    """``(texts, y, multilabel)``: single labels as str, label sets as tuples."""
    if multilabel is None:
        multilabel = corpus.makes_multilabel(label_sep)
    if multilabel:
        return corpus.texts, [tuple(labels) for labels in corpus.labels], True
    several = next((i for i, labels in enumerate(corpus.labels) if len(labels) > 1), None)
    if several is not None:  # a single-label model (or corpus) given label sets
        raise click.ClickException(
            f"{corpus.name}: document {several + 1} has {len(corpus.labels[several])} labels, "
            "but the model predicts one label per document"
        )
    return corpus.texts, corpus.y, False


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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (exits with the documented exit code)."""
    from .deferred_imports import defer

    defer()  # this process is the CLI's own: see deferred_imports
    cli.main(args=argv)


# ---------------------------------------------------------------------- shared by the commands
def _given(name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or in the environment)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _load_model(model_path: str, *, predictor: bool = False):
    """``(model, corpus conventions)`` of a model file: how its training corpus was read.

    ``predictor``: the file's prediction path (:func:`bowclf.persist.load_predictor`: the
    estimator's own rules without importing scikit-learn) instead of the estimator."""
    from ..persist import load_predictor, load_with_header

    model, header = (load_predictor if predictor else load_with_header)(model_path)
    conventions = (header.get("text") or {}).get("corpus") or {}
    return model, conventions


def _os_reason(exc: OSError) -> str:
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


def _printable(text: Any) -> str:
    """Text as shown on a terminal or as one token of a line: control characters (escape
    codes, line breaks) escaped, never sent raw (a label could otherwise split one document's
    line in two)."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
