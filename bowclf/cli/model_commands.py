"""``bowclf convert`` and ``bowclf quantize``: model files from fastText's, and small ones."""

from __future__ import annotations

import os

import click

from .app import (
    _EPILOG,
    _as_fit_read,
    _check_output_path,
    _corpus_kwargs,
    _corpus_options,
    _human_size,
    _labels_of,
    _load_model,
    _stderr,
    cli,
)


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
    from ..io.fasttext import load_fasttext
    from ..persist import save

    _check_output_path(output, model_path)
    model = load_fasttext(model_path, label_prefix=label_prefix)
    if not any(raw.startswith(label_prefix.encode("utf-8")) for raw in model.labels):
        shown = ", ".join(raw.decode("utf-8", "replace") for raw in model.labels[:3])
        raise click.UsageError(  # a prefix that strips nothing is a typo, not a request
            f"no label of {model_path} starts with --label-prefix {label_prefix!r} "
            f"(its labels: {shown}{', …' if len(model.labels) > 3 else ''})"
        )
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
    "--qout",
    is_flag=True,
    help="Also product-quantise the output matrix B (dsub 2, as fastText's -qout; exact for "
    "up to 256 classes; for loss 'hs' the tree's inner nodes).",
)
@click.option(
    "--retrain",
    is_flag=True,
    help="Re-fit the output layer on the pruned, quantised features of --input.",
)
@click.option("--input", "train_path", default=None, help="Training corpus (for --retrain).")
@_corpus_options
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of k-means.",
)
def quantize_command(
    model_path,
    output,
    cutoff,
    dsub,
    qnorm,
    qout,
    retrain,
    train_path,
    fmt,
    text_column,
    label_column,
    label_sep,
    encoding,
    seed,
) -> None:
    """Write a small copy of MODEL: prune features, product-quantise the embeddings (and
    with --qout the output matrix).

    The output is an ordinary bowclf model file (predict, evaluate and info read it).
    """
    from ..persist import save
    from ..quantization import check_options, quantize

    if retrain and train_path is None:
        raise click.UsageError("--retrain needs the training corpus: --input TRAIN")
    if train_path is not None and not retrain:
        raise click.UsageError("--input is the training corpus of --retrain; add --retrain")
    _check_output_path(output, model_path, train_path)
    model, conventions = _load_model(model_path)  # how `fit` read its corpus: kept
    try:  # the model and options, before reading a --retrain corpus
        check_options(model, cutoff=cutoff, dsub=dsub, retrain=retrain)
    except (TypeError, ValueError) as exc:
        raise click.ClickException(f"{model_path}: {exc}") from None
    texts = y = None
    if retrain:
        from ..corpus import read_corpus

        kw = _corpus_kwargs(fmt, text_column, label_column, label_sep, encoding)
        corpus = read_corpus(train_path, **_as_fit_read(kw, conventions, train_path))
        texts, y, _ = _labels_of(corpus, kw["label_sep"], multilabel=False)
    small = quantize(
        model,
        cutoff=cutoff,
        dsub=dsub,
        qnorm=qnorm,
        qout=qout,
        retrain=retrain,
        X=texts,
        y=y,
        random_state=seed,
    )
    save(small, output, corpus=conventions or None)
    before, after = os.path.getsize(model_path), os.path.getsize(output)
    ratio = before / max(after, 1)
    change = f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"
    _stderr(f"{model_path} ({_human_size(before)}) -> {output} ({_human_size(after)}, {change})")
