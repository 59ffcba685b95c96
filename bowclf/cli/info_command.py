"""``bowclf info``: a model file's validated header, readable."""

from __future__ import annotations

import json
import os

import click

from .app import _EPILOG, _human_size, _printable, _require_stdout, cli
from .explain_commands import _top_features_lines


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
    from ..persist import info as read_info
    from ..persist import read_classes

    _require_stdout()
    header = read_info(model_path)
    top = _top_features_lines(model_path, top_features) if top_features else None
    if as_json:
        if top is not None:
            header = {**header, "top_features": top[0]}
        click.echo(json.dumps(header, indent=2, sort_keys=True, allow_nan=False))
        return
    converted = header.get("kind") == "FastTextModel" and header.get("format") != "fasttext"
    if converted:  # `bowclf convert`'s file: its fastText model describes itself
        from ..persist import load

        model = load(model_path)
        kept = ("format", "format_version", "bowclf_version", "created")
        header = {**model.header(), **{k: header.get(k) for k in kept}}
        classes = model.classes_.tolist()
    else:
        classes = read_classes(model_path).tolist()
    arrays = header["arrays"]
    A_shape = arrays["classifier/A"]["shape"]
    text = header.get("text") or {}
    lines = [
        ("File", f"{model_path} ({_human_size(os.path.getsize(model_path))})"),
        (
            "Format",
            f"fastText v{header['format_version']} (read as it is; 'bowclf convert' makes a "
            "bowclf model file of it)"
            if header["format"] == "fasttext"
            else f"{header['format']} v{header['format_version']} "
            f"(written by bowclf {header.get('bowclf_version')})",
        ),
        ("Kind", header["kind"] + (" (converted from a fastText file)" if converted else "")),
        ("Classes", _class_list(classes)),
        ("Features", f"{A_shape[0]:,} columns of A, dim {A_shape[1]}"),
    ]
    if header.get("created") is not None:  # files written before saving became reproducible
        lines.insert(2, ("Created", header["created"]))
    if any("decoded_from" in arrays.get(f"classifier/{m}", {}) for m in "AB"):
        lines.append(("Quantised", _quantized_line(header)))
    words = arrays.get("vectorizer/words")
    if words is not None:
        lines.append(("Vocabulary", f"{words['shape'][0]:,} words"))
    inputs = text.get("inputs") if isinstance(text.get("inputs"), dict) else {}
    if text:
        lines.append(("Multi-label", _multilabel_line(text, header)))
        if inputs:
            from ..saved_state import LEGACY_INPUTS  # numpy: not for `bowclf --help`

            shown = {**LEGACY_INPUTS, **inputs}
            lines.append(("Inputs", ", ".join(f"{k} {shown.get(k)}" for k in _INPUTS)))
        if text.get("training_summary"):
            quantized = "quantization" in header
            lines.append(("Training", _training_line(text["training_summary"], quantized)))
        if text.get("corpus"):
            lines.append(("Corpus read as", _corpus_line(text["corpus"])))
        if isinstance(tuned := (text.get("training_summary") or {}).get("autotune"), dict):
            lines.append(("Autotune", _autotune_line(tuned)))
    lines.append(("Parameters", _parameters_line(header, text, inputs)))
    click.echo("\n".join(f"{name + ':':<17}{_printable(str(value))}" for name, value in lines))
    if any(name == "Autotune" for name, _ in lines):
        _echo_best_trials(text["training_summary"]["autotune"])
    if top is not None:
        click.echo("\n".join(top[1]))


def _parameters_line(header: dict, text: dict, inputs: dict) -> str:
    """The estimator's parameters, each ``'auto'`` with what it stood for in this fit."""
    params = header.get("params", {})
    resolved = dict(inputs)  # what each 'auto' parameter stood for in this model's fit
    if "lr_" in (fitted := header.get("classifier", {}).get("fitted", {})):
        resolved["lr"] = fitted["lr_"]  # the resolved rate (checked on reading)
    if isinstance(params.get("loss"), str):
        from ..optim import resolve_optimizer  # scipy: not for `bowclf --help`

        resolved["optimizer"] = resolve_optimizer("auto", params["loss"])
    summary = text.get("training_summary")
    if isinstance(summary, dict) and "epochs" in summary and not params.get("early_stopping"):
        resolved["epochs"] = summary["epochs"]  # the passes 'auto' made (no early stop)
    return ", ".join(
        f"{k}={v} ({resolved[k]})" if v == "auto" and k in resolved else f"{k}={v}"
        for k, v in sorted(params.items())
    )


def _class_list(classes: list, shown: int = 20) -> str:
    names = ", ".join(str(c) for c in classes[:shown])
    more = f", … ({len(classes) - shown:,} more)" if len(classes) > shown else ""
    return f"{len(classes):,}: {names}{more}"


def _quantized_line(header: dict) -> str:
    """Which matrices are product-quantised (bowclf.quantize) and how."""
    arrays, parts = header["arrays"], []
    for matrix in ("A", "B"):
        name = f"classifier/{matrix}"
        if "decoded_from" in arrays[name]:
            nsubq, ksub, dsub = arrays[f"{name}_centroids"]["shape"]
            norms = ", norms coded" if f"{name}_norm_codes" in arrays else ""
            parts.append(
                f"{matrix} ({arrays[name]['shape'][0]:,} rows: {nsubq} codes of {dsub} numbers, "
                f"{ksub} centroids each{norms})"
            )
        else:
            parts.append(f"{matrix} dense")
    settings = header.get("quantization")
    if isinstance(settings, dict) and isinstance(settings.get("cutoff"), int):
        parts.append(f"cutoff {settings['cutoff']:,}")
    if isinstance(settings, dict) and settings.get("retrained") is True:
        parts.append("B retrained")
    return "; ".join(parts)


def _multilabel_line(text: dict, header: dict) -> str:
    if not text.get("multilabel"):
        return "no"
    fitted = header["classifier"]["fitted"]
    fallback = ", else the most probable label" if fitted.get("top_label_") else ""
    return f"yes (labels with probability >= {fitted['threshold_']:.4g}{fallback})"


#: TextClassifier's input settings ('auto' parameters resolved from the training corpus).
_INPUTS = ("normalize", "sublinear_tf", "min_df", "ngram_weight")
#: Training-summary keys that describe the fitted model's size (quantize prunes it).
_MODEL_SIZE = ("vocabulary", "columns")


def _training_line(summary: dict, quantized: bool = False) -> str:
    """The training summary; the input settings have their own line, and a quantised model's
    vocabulary and columns at training time are said to be from before quantisation."""

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
    known = {"documents", "epochs", "loss", "validation_score", "seconds", "autotune", *_INPUTS}
    if quantized:
        known |= set(_MODEL_SIZE)
    parts += [f"{k} {_grouped(v)}" for k, v in sorted(summary.items())
              if k not in known and v is not None]  # fmt: skip
    before = [f"{k} {summary[k]}" for k in _MODEL_SIZE if quantized and k in summary]
    if before:
        parts.append(f"before quantisation {' and '.join(before)}")
    return ", ".join(p for p in parts if p)


def _autotune_line(tuned: dict) -> str:
    """What ``--autotune`` chose and how (the search's summary, :meth:`AutotuneResult.summary`)."""
    from ..autotune_trials import describe_choice

    metric = _metric(tuned)
    chosen = tuned.get("best_params") if isinstance(tuned.get("best_params"), dict) else {}
    parts = [
        f"chose {describe_choice(chosen)}",
        f"validation {metric} {tuned['best_score']:.4f}" if _is_number(tuned.get("best_score"))
        else None,
        f"{tuned['trials']:,} trials" if _is_number(tuned.get("trials")) else None,
        f"search and refit {tuned['seconds']:.1f} s of {tuned['budget_seconds']:.1f} s"
        if _is_number(tuned.get("seconds")) and _is_number(tuned.get("budget_seconds"))
        else None,
        "interrupted (Ctrl-C)" if tuned.get("interrupted") is True else None,
        None if tuned.get("refitted") is not False else "not refitted on all the data",
    ]  # fmt: skip
    return ", ".join(p for p in parts if p)


def _echo_best_trials(tuned: dict) -> None:
    """The best trials the model file keeps, as ``bowclf fit --autotune`` printed them."""
    rows = tuned.get("best_trials")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return
    from ..autotune_trials import format_trials

    metric = _metric(tuned)
    total = tuned["trials"] if _is_number(tuned.get("trials")) else None
    click.echo(f"Best trials (of {total:,}):" if total else "Best trials:")
    table = format_trials(rows, metric, limit=None, total=total)
    click.echo("\n".join("  " + _printable(line) for line in table.splitlines()))


def _metric(tuned: dict) -> str:
    """The name of the score the search maximised (``'score'`` when the file lacks it)."""
    return tuned["metric"] if isinstance(tuned.get("metric"), str) else "score"


def _grouped(value):
    """Integers with thousands separators, anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
