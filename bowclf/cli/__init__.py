"""The ``bowclf`` command line: fit, predict, evaluate, info, explain, neighbors, serve,
convert, quantize.

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

The package only parses, calls the library and prints: ``app`` holds the group and what
every command shares; each ``*_command`` module registers one command on it.
"""

from .app import (
    EXIT_BROKEN_PIPE,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    _one_line,
    _OutputFile,
    cli,
    main,
)
from .evaluate_command import evaluate
from .explain_commands import explain, neighbors, serve
from .fit_command import _default_model_path, fit
from .info_command import info
from .model_commands import convert, quantize_command
from .predict_command import _format_p, predict

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_DATA",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "_OutputFile",
    "_default_model_path",
    "_format_p",
    "_one_line",
    "cli",
    "convert",
    "evaluate",
    "explain",
    "fit",
    "info",
    "main",
    "neighbors",
    "predict",
    "quantize_command",
    "serve",
]
