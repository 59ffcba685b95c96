"""``bowclf evaluate``: a model's report on a labelled test file (terminal, JSON, HTML)."""

from __future__ import annotations

import os
import time

import click

from .app import (
    _EPILOG,
    _as_fit_read,
    _check_output_path,
    _corpus_kwargs,
    _corpus_options,
    _labels_of,
    _load_model,
    _OutputFile,
    _require_stdout,
    _stderr,
    _writing,
    cli,
)


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
    help="k for top-k accuracy / P@k / R@k (repeatable) [default: 1, and 5 when the model "
    "has more than five classes].",
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
    from ..corpus import read_corpus
    from ..report import evaluate as evaluate_model
    from ..report import labels_as_classes, predict_for_report
    from ..report.metrics import vectorized_once

    _require_stdout()
    for path in (html_path, misclassified):
        if path is not None:
            _check_output_path(path, model_path, test_path)
    if html_path is not None and misclassified is not None:
        if os.path.abspath(html_path) == os.path.abspath(misclassified):
            raise click.UsageError("--html and --misclassified name the same file")
    model, conventions = _load_model(model_path)
    multilabel = bool(getattr(model, "multilabel_", False))
    if misclassified and multilabel:
        raise click.UsageError("--misclassified is for single-label models")
    kw = _as_fit_read(
        _corpus_kwargs(fmt, text_column, label_column, label_sep, encoding), conventions, test_path
    )
    test = read_corpus(test_path, **kw)
    texts, y, _ = _labels_of(test, kw["label_sep"], multilabel=multilabel)
    y = labels_as_classes(y, model.classes_, multilabel)  # '3' is the class 3 of a model
    if multilabel and kw["label_sep"] is None:
        _check_label_cells(test.name, y, model.classes_)
    started = time.perf_counter()
    model = vectorized_once(model, texts)  # the documents vectorised once for all of these
    # once, for the report and the misclassified file: n×c probabilities, or for many
    # classes each document's best classes (the report then lists the most frequent ones)
    P = predict_for_report(model, texts, tuple(ks) or None)
    seconds = time.perf_counter() - started
    # the model's own decision rule, for the report and the misclassified file
    pred = {} if multilabel else {"y_pred": model.predict(texts)}
    report = evaluate_model(
        model, texts, y, k=tuple(ks) or None, proba=P, predict_seconds=seconds, **pred
    )
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(report.render_text(color=color), color=color)
    if html_path:
        _write_html(report, html_path, model)
    if misclassified:
        from ..report import write_misclassified

        with _writing(misclassified), _OutputFile(misclassified) as f:
            n = write_misclassified(f, texts, y, pred["y_pred"], P, model.classes_)
        _stderr(f"{n:,} misclassified documents written to {misclassified}")


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
    from ..explain import LINEAR_LOSSES, confusion_explainer
    from ..report import render_html
    from ..report.html import figures_available

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
