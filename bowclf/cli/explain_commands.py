"""``bowclf explain``, ``neighbors`` and ``serve``: explanations, nearest words, the HTTP server."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import defaults
from .app import (
    _EPILOG,
    _check_output_path,
    _FiniteFloat,
    _given,
    _isatty,
    _load_model,
    _os_reason,
    _OutputFile,
    _stderr,
    _writing,
    cli,
)


# ---------------------------------------------------------------------- explain, neighbors, serve
def _text_model(model_path: str, conventions: dict | None = None):
    """Load a model that reads raw text (a TextClassifier), or fail with one line;
    ``conventions``: filled with how ``fit`` read its corpus (the file's ``text.corpus``)."""

    model, stored = _load_model(model_path)
    if conventions is not None:
        conventions.update(stored)
    if not hasattr(model, "vectorizer_"):
        kind = type(model).__name__
        why = (
            "a fastText model (a .bin/.ftz file or its conversion) is read by predict, "
            "evaluate and info, but explanations, top features and neighbours need a model "
            "trained by 'bowclf fit'"
            if kind == "FastTextModel"
            else f"a {kind} model has no vectorizer; this command needs a text model "
            "(trained by 'bowclf fit')"
        )
        raise click.ClickException(f"{model_path}: {why}")
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
    from ..corpus import iter_chunks
    from ..explain import explanations_page
    from .predict_command import _predict_format

    sources = list(inputs) or ["-"]
    if html_path is not None:
        _check_output_path(html_path, model_path, *sources)
    conventions: dict = {}
    model = _text_model(model_path, conventions)
    if not _given("text_column"):  # as predict: the column fit read the texts from
        text_column = conventions.get("text_column")
    wanted = _label_values(model, labels)
    tty = "-" in sources and _isatty(sys.stdin)
    pages = []
    n_doc = 0
    for source in sources:
        kw = {
            "format": _predict_format(source, fmt, tty),
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
        with _writing(html_path), _OutputFile(html_path) as f:
            f.write(
                explanations_page(
                    pages, title=f"Explanations: {os.path.basename(model_path)}", top=top or 5
                )
            )
        _stderr(f"bowclf: wrote {html_path} ({n_doc} document{'s' if n_doc != 1 else ''})")


@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL", type=str)
@click.argument("word", metavar="QUERY", type=str)
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
    """The vocabulary words nearest to QUERY by the cosine of the model's embeddings.

    QUERY is embedded as a document: a word's embedding is its column of A, averaged with its
    subwords' when the model has character n-grams; a query of several tokens ('refund!',
    'late parcel') averages its tokens' (and word n-grams') columns. The query's own tokens
    are never listed.
    """
    from ..explain import neighbors as nearest

    model = _text_model(model_path)
    pairs = nearest(model, word, n)
    if as_json:
        click.echo(json.dumps([[w, s] for w, s in pairs], ensure_ascii=False))
        return
    width = max((len(w) for w, _ in pairs), default=0)
    click.echo("\n".join(f"{w:<{width}}  {s:.4f}" for w, s in pairs))


def _top_features_lines(model_path: str, n: int) -> tuple[dict, list[str]]:
    """``info --top-features``: the JSON value and the terminal lines."""
    from ..explain import top_features

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
    default=defaults.SERVE_MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body (413 above).",
)
@click.option(
    "--max-texts",
    type=click.IntRange(min=1),
    default=defaults.SERVE_MAX_TEXTS,
    show_default=True,
    help="Most documents per request (413 above).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=defaults.SERVE_MAX_BATCH,
    show_default=True,
    help="Most documents per batched model call.",
)
@click.option(
    "--batch-window-ms",
    type=_FiniteFloat(0, 1000),
    default=defaults.SERVE_BATCH_WINDOW * 1000,
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
        from .. import serve as server
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    from ..persist import info as read_info

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
    except OSError as exc:  # the private copy of the model could not be written
        raise click.ClickException(
            f"{model_path}: cannot copy it to serve it ({_os_reason(exc)})"
        ) from None
    except SystemExit as exc:  # uvicorn's start-up failure (e.g. the port is taken), logged
        if exc.code not in (0, None):
            raise click.ClickException(
                f"the server could not start on {host}:{port} (see the log line above)"
            ) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
