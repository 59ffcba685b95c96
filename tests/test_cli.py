"""The command line: fit, predict, evaluate, info — in-process (CliRunner) and as real processes.

In-process tests cover the option matrix quickly; the subprocess tests (marked by their names:
``test_process_*``) check what only a real process shows: the README quick start, real
stdin/stdout pipes, the console script, a model loaded by another interpreter, and signals.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_texts

from bowclf import __version__
from bowclf.cli import _default_model_path, cli
from bowclf.persist import load

DATA = Path(__file__).resolve().parents[1] / "data"
TRAIN = DATA / "tickets_train.csv"
TEST = DATA / "tickets_test.csv"
SMALL = ["--dim", "16", "--buckets", "20000", "--epochs", "10", "-q"]
CLASSES = {"account", "billing", "returns", "shipping", "technical"}


def run(*args, input=None, env=None):
    """Run the CLI in-process; ``args`` may be paths."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def bowclf_argv(*args) -> list[str]:
    return [sys.executable, "-m", "bowclf.cli", *[str(a) for a in args]]


def run_process(*args, input=None, timeout=180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        bowclf_argv(*args), input=input, capture_output=True, timeout=timeout, **kw
    )


def ok(result):
    assert result.exit_code == 0, (result.exit_code, result.output, result.stderr)
    return result


@pytest.fixture(scope="module")
def tickets_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "tickets.bowclf"
    ok(run("fit", TRAIN, "-o", path, *SMALL))
    return path


def _topic_docs(n=240, seed=0):
    texts, y = make_texts(n, seed=seed, noise=0.0)
    return [t.replace(",", " ") for t in texts], y


def _multilabel(y):
    """Every third document also has the label 'extra', every fifth also 'more'."""
    return [
        [lab] + (["extra"] if i % 3 == 0 else []) + (["more"] if i % 5 == 0 else [])
        for i, lab in enumerate(y)
    ]


def write_corpus(path: Path, fmt: str, texts, labels, compression=None) -> Path:
    """Write ``labels`` (str or list of str) and ``texts`` in ``fmt`` (compressed if asked)."""
    buf = io.StringIO()
    if fmt in ("csv", "tsv"):
        w = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(["label", "text"])
        for lab, text in zip(labels, texts, strict=True):
            w.writerow([" ".join(lab) if isinstance(lab, list) else lab, text])
    elif fmt == "jsonl":
        for lab, text in zip(labels, texts, strict=True):
            buf.write(json.dumps({"text": text, "label": lab}) + "\n")
    elif fmt == "fasttext":
        for lab, text in zip(labels, texts, strict=True):
            labs = lab if isinstance(lab, list) else [lab]
            buf.write(" ".join(f"__label__{x}" for x in labs) + " " + text + "\n")
    elif fmt == "text":
        buf.write("".join(t + "\n" for t in texts))
    data = buf.getvalue().encode()
    opener = {None: bytes, "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
    path.write_bytes(opener[compression](data))
    return path


EXT = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "fasttext": ".txt", "text": ".txt"}


# ---------------------------------------------------------------------- fit, evaluate, info
def test_fit_default_path_then_evaluate(tmp_path):
    corpus = tmp_path / "tickets_train.csv"
    shutil.copy(TRAIN, corpus)
    result = ok(run("fit", corpus, "--dim", "16", "--buckets", "20000", "--epochs", "15"))
    model = tmp_path / "tickets_train.bowclf"
    assert model.is_file()
    assert f"Model written to {model}" in result.stderr
    assert "Training on 2,400 documents" in result.stderr
    assert result.stdout == ""
    report = ok(run("evaluate", model, TEST, "--json"))
    data = json.loads(report.stdout)
    assert data["n_documents"] == 800
    assert data["accuracy"] > 0.6


@pytest.mark.parametrize(
    ("corpus", "model"),
    [
        ("a/train.csv", "a/train.bowclf"),
        ("train.csv.gz", "train.bowclf"),
        ("train.csv.gzip", "train.bowclf"),
        ("train.tsv.XZ", "train.bowclf"),
        ("data/train", "data/train.bowclf"),
        ("v1.2/train.jsonl.bz2", "v1.2/train.bowclf"),
        (".hidden", ".hidden.bowclf"),
    ],
)
def test_default_model_path(corpus, model):
    assert _default_model_path(corpus) == Path(model)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "fasttext"])
@pytest.mark.parametrize("compression", [None, "gz", "bz2", "xz"])
def test_fit_and_predict_each_format_and_compression(tmp_path, fmt, compression):
    texts, y = _topic_docs()
    name = "train" + EXT[fmt] + (f".{compression}" if compression else "")
    corpus = write_corpus(tmp_path / name, fmt, texts, y, compression)
    ok(run("fit", corpus, "-o", tmp_path / "m.bowclf", "--dim", "8", "--epochs", "20", "-q"))
    result = ok(run("predict", tmp_path / "m.bowclf", corpus))
    predicted = result.stdout.splitlines()
    assert len(predicted) == len(texts)
    assert np.mean([p == t for p, t in zip(predicted, y, strict=True)]) > 0.8


def test_fit_from_stdin_needs_output(tmp_path):
    texts, y = _topic_docs(60)
    data = write_corpus(tmp_path / "c.csv", "csv", texts, y).read_text()
    result = run("fit", "-", "--dim", "4", "-q", input=data)
    assert result.exit_code == 2
    assert "needs -o" in result.stderr
    ok(run("fit", "-", "-o", tmp_path / "m.bowclf", "--dim", "4", "-q", input=data))
    assert load(tmp_path / "m.bowclf").classes_.tolist() == sorted(set(y))


def test_info_text_and_json(tickets_model):
    text = ok(run("info", tickets_model)).stdout
    assert "Kind:            TextClassifier" in text
    assert "Classes:         5" in text
    assert "dim 16" in text
    header = json.loads(ok(run("info", tickets_model, "--json")).stdout)
    assert header["format"] == "bowclf-model"
    assert header["kind"] == "TextClassifier"
    assert header["params"]["dim"] == 16
    assert header["arrays"]["classifier/B"]["shape"] == [5, 16]
    assert header["text"]["training_summary"]["documents"] == 2400


def test_valid_file_and_early_stopping(tmp_path):
    model = tmp_path / "m.bowclf"
    result = ok(
        run("fit", TRAIN, "-o", model, "--valid", TEST, "--early-stopping", "--patience", "2",
            "--dim", "16", "--buckets", "20000", "--epochs", "40")
    )  # fmt: skip
    assert "Validation: 800 documents, accuracy" in result.stderr
    summary = json.loads(ok(run("info", model, "--json")).stdout)["text"]["training_summary"]
    assert summary["validation_score"] > 0.6
    assert summary["epochs"] <= 40


def test_valid_fraction(tmp_path):
    model = tmp_path / "m.bowclf"
    result = ok(run("fit", TRAIN, "-o", model, "--valid-fraction", "0.25", "--dim", "8",
                    "--buckets", "20000", "--epochs", "5"))  # fmt: skip
    assert "Training on 1,800 documents, 600 for validation" in result.stderr
    assert "Validation: 600 documents" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--early-stopping"], "needs --valid"),
        (["--valid", TEST, "--valid-fraction", "0.1"], "either --valid or --valid-fraction"),
        (["--valid-fraction", "1"], "--valid-fraction"),
    ],
)
def test_validation_option_errors(tmp_path, args, message):
    result = run("fit", TRAIN, "-o", tmp_path / "m.bowclf", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "m.bowclf").exists()


def test_valid_file_with_labels_not_in_training(tmp_path):
    valid = tmp_path / "valid.csv"
    valid.write_text("label,text\nbilling,charged twice\nunicorn,sparkly horn\n")
    result = run("fit", TRAIN, "-o", tmp_path / "m.bowclf", "--valid", valid, "-q")
    assert result.exit_code == 1
    assert "labels not in the training data: 'unicorn'" in result.stderr


def test_evaluate_outputs(tickets_model, tmp_path):
    html = tmp_path / "r.html"
    mis = tmp_path / "mis.csv"
    result = ok(run("evaluate", tickets_model, TEST, "-k", "1", "-k", "3", "--html", html,
                    "--misclassified", mis, "--no-color"))  # fmt: skip
    assert "accuracy" in result.stdout
    assert html.read_text().lstrip().lower().startswith("<!doctype html")
    rows = list(csv.DictReader(mis.open()))
    assert rows and set(rows[0]) >= {"text", "true_label", "predicted_label"}
    assert all(r["true_label"] != r["predicted_label"] for r in rows)


def test_evaluate_reads_a_test_file_by_its_own_name_before_fits_format(tmp_path):
    """A model fit from a .txt file read with --input-format csv scores a .jsonl test file
    as JSON Lines (the remembered csv parsed it as CSV: accuracy 0, every label unseen,
    exit 0); a test file whose name says nothing is still read as fit read its corpus."""
    train = tmp_path / "train.txt"
    shutil.copy(TRAIN, train)
    model = tmp_path / "m.bowclf"
    ok(run("fit", train, "--input-format", "csv", "-o", model, *SMALL))
    with TEST.open(newline="") as f:
        rows = list(csv.DictReader(f))
    jsonl = tmp_path / "test.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    plain = tmp_path / "test.txt"
    shutil.copy(TEST, plain)
    by_name = json.loads(ok(run("evaluate", model, jsonl, "--json")).stdout)
    as_fit = json.loads(ok(run("evaluate", model, plain, "--json")).stdout)
    assert by_name["accuracy"] == as_fit["accuracy"] > 0.8
    assert not by_name["unseen_labels"]["labels"]


def test_evaluate_scores_the_models_own_predictions(tickets_model, tmp_path):
    """Documents without a known word get the most frequent class from ``predict``, not the
    first class of their uniform probabilities: the report and the misclassified file
    score what ``predict`` returns."""
    model = load(tickets_model)
    texts = ["", "qqqzzz", "I was charged twice for my order", "   "]
    pred = model.predict(texts)
    frequent = model.classes_[np.argmax(model.classifier_.class_prior_)]
    assert pred[0] == frequent != model.classes_[np.argmax(model.predict_proba(texts)[0])]
    y = [frequent, frequent, "billing", frequent]  # predict: 4 right; the arg-max: 1
    path = tmp_path / "t.csv"
    rows = "".join(f"{a},{t}\n" for a, t in zip(y, texts, strict=True))
    path.write_text("label,text\n" + rows, "utf-8")
    mis = tmp_path / "mis.csv"
    report = json.loads(
        ok(run("evaluate", tickets_model, path, "--json", "--misclassified", mis)).stdout
    )
    assert report["accuracy"] == float(np.mean(pred == np.asarray(y))) == 1.0
    assert not mis.exists() or not list(csv.DictReader(mis.open()))


# ---------------------------------------------------------------------- predict
TEXTS = ["I was charged twice for my order", "", "my parcel never arrived", "   "]


def test_predict_stdin_dash_and_no_argument(tickets_model):
    data = "\n".join(TEXTS) + "\n"
    a = ok(run("predict", tickets_model, input=data)).stdout.splitlines()
    b = ok(run("predict", tickets_model, "-", input=data)).stdout.splitlines()
    assert a == b
    assert len(a) == len(TEXTS)  # blank and whitespace-only lines get a prediction too
    assert set(a) <= CLASSES
    assert a[0] == "billing"


def test_predict_last_line_without_newline_and_crlf(tickets_model):
    out = ok(run("predict", tickets_model, input="a\r\nb\r\n\r\nlast")).stdout.splitlines()
    assert len(out) == 4


@pytest.mark.parametrize("fmt", ["text", "csv", "tsv", "jsonl", "fasttext"])
def test_predict_input_formats(tickets_model, tmp_path, fmt):
    labels = ["billing"] * len(TEXTS)
    path = write_corpus(tmp_path / ("in" + EXT[fmt]), fmt, TEXTS, labels)
    forced = [] if fmt != "text" else ["--input-format", "text"]
    out = ok(run("predict", tickets_model, path, *forced)).stdout.splitlines()
    assert len(out) == len(TEXTS)
    assert out[0] == "billing"


def test_predict_several_inputs_and_compressed(tickets_model, tmp_path):
    a = write_corpus(tmp_path / "a.txt.gz", "text", TEXTS[:2], None, "gz")
    b = write_corpus(tmp_path / "b.csv.bz2", "csv", TEXTS[2:], ["x", "y"], "bz2")
    out = ok(run("predict", tickets_model, a, "-", b, input="stdin doc\n")).stdout.splitlines()
    assert len(out) == 5


def test_predict_text_column_by_name_and_index(tickets_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,body\n1,my parcel never arrived\n2,charged twice\n")
    by_name = ok(run("predict", tickets_model, path, "--text-column", "body")).stdout
    by_index = ok(run("predict", tickets_model, path, "--text-column", "1")).stdout
    assert by_name == by_index
    assert len(by_name.splitlines()) == 2


def test_predict_k_proba_threshold_text(tickets_model):
    out = ok(run("predict", tickets_model, "-k", "3", "--proba", input=TEXTS[0] + "\n")).stdout
    parts = out.split()
    assert len(parts) == 6
    labels, probs = parts[0::2], [float(p) for p in parts[1::2]]
    assert set(labels) <= CLASSES and len(set(labels)) == 3
    assert probs == sorted(probs, reverse=True)
    out = ok(run("predict", tickets_model, "-k", "5", "--threshold", "0.3",
                 input=TEXTS[0] + "\n\n")).stdout  # fmt: skip
    first, blank = out.split("\n")[:2]
    assert first.split() and blank == ""  # the blank document has no label >= 0.3


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_predict_csv_tsv_headers(tickets_model, fmt):
    sep = "," if fmt == "csv" else "\t"
    data = "\n".join(TEXTS) + "\n"
    rows = ok(run("predict", tickets_model, "--format", fmt, input=data)).stdout.splitlines()
    assert rows[0] == "label" and len(rows) == 1 + len(TEXTS)
    rows = ok(run("predict", tickets_model, "--format", fmt, "--proba", input=data)).stdout
    rows = rows.splitlines()
    assert rows[0] == sep.join(["label", "probability"])
    assert all(len(r.split(sep)) == 2 for r in rows)
    rows = ok(run("predict", tickets_model, "--format", fmt, "-k", "7", "--proba",
                  "--threshold", "0.25", input=data)).stdout.splitlines()  # fmt: skip
    header = rows[0].split(sep)
    assert header[:4] == ["label_1", "probability_1", "label_2", "probability_2"]
    assert len(header) == 10  # -k 7 of 5 classes: 5 label columns, no always-empty ones
    assert all(len(r.split(sep)) == 10 for r in rows)  # padded: rectangular
    rows = ok(run("predict", tickets_model, "--format", fmt, "--no-header", input=data)).stdout
    assert len(rows.splitlines()) == len(TEXTS)


def test_predict_csv_header_on_empty_input(tickets_model):
    assert ok(run("predict", tickets_model, "--format", "csv", input="")).stdout == "label\n"
    assert ok(run("predict", tickets_model, input="")).stdout == ""


def test_predict_jsonl_always_has_probabilities(tickets_model):
    out = ok(run("predict", tickets_model, "--format", "jsonl", "-k", "2", input="a\n\n"))
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert len(row["labels"]) == 2 and len(row["probabilities"]) == 2
        assert row["probabilities"][0] >= row["probabilities"][1]


def test_predict_output_file(tickets_model, tmp_path):
    out = tmp_path / "pred.txt"
    result = ok(run("predict", tickets_model, "-o", out, input="\n".join(TEXTS)))
    assert result.stdout == ""
    assert len(out.read_text().splitlines()) == len(TEXTS)
    assert not list(tmp_path.glob(".*.tmp"))


def test_predict_output_file_unchanged_when_input_fails(tickets_model, tmp_path):
    out = tmp_path / "pred.txt"
    out.write_text("old predictions\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\n" + "a,fine\n" * 30_000 + 'b,"unterminated\n')
    result = run("predict", tickets_model, bad, "-o", out, "--chunk-size", "1000")
    assert result.exit_code == 1
    assert "unterminated quoted field" in result.stderr
    assert out.read_text() == "old predictions\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_predict_output_may_not_be_an_input(tickets_model, tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("hello\n")
    result = run("predict", tickets_model, path, "-o", path)
    assert result.exit_code == 2
    assert "also an input" in result.stderr
    assert path.read_text() == "hello\n"


# ---------------------------------------------------------------------- multi-label
@pytest.mark.parametrize("fmt", ["csv", "fasttext"])
def test_multilabel_fit_predict_evaluate(tmp_path, fmt):
    texts, y = _topic_docs(300)
    sets = _multilabel(y)
    corpus = write_corpus(tmp_path / ("ml" + EXT[fmt]), fmt, texts, sets)
    sep = ["--label-sep", " "] if fmt == "csv" else []
    model = tmp_path / "ml.bowclf"
    ok(run("fit", corpus, "-o", model, *sep, "--dim", "8", "--epochs", "30", "-q"))
    assert load(model).multilabel_
    out = ok(run("predict", model, corpus, "-k", "3", "--proba")).stdout.splitlines()
    assert len(out) == len(texts)
    assert all(len(line.split()) == 6 for line in out)
    default = ok(run("predict", model, corpus)).stdout.splitlines()
    assert all(1 <= len(line.split()) <= 5 for line in default)
    rows = ok(run("predict", model, corpus, "--format", "csv")).stdout.splitlines()
    assert rows[0] == ",".join(f"label_{i}" for i in range(1, 6))
    report = json.loads(ok(run("evaluate", model, corpus, *sep, "--json")).stdout)
    assert report["multilabel"] is True
    assert report["n_documents"] == len(texts)


# ---------------------------------------------------------------------- help and version
@pytest.mark.parametrize("command", [[], ["fit"], ["predict"], ["evaluate"], ["info"]])
def test_help_documents_exit_codes(command):
    text = ok(run(*command, "--help")).stdout
    normalized = " ".join(text.split())
    for needle in ["Exit codes: 0 success", "1 bad data", "2 usage error", "130 interrupted",
                   "141 output pipe closed"]:  # fmt: skip
        assert needle in normalized, (command, needle)


def test_version():
    assert ok(run("--version")).stdout.strip() == f"bowclf, version {__version__}"


def test_no_command_shows_usage():
    result = run()
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_debug_shows_traceback(tmp_path):
    result = run("--debug", "predict", tmp_path / "missing.bowclf", input="x\n")
    assert result.exit_code == 1
    assert result.exception is not None  # re-raised for the traceback


# ---------------------------------------------------------------------- real processes
def test_process_readme_quick_start(tmp_path):
    """The README's command, verbatim: fit, then evaluate the model written beside the data."""
    (tmp_path / "data").mkdir()
    shutil.copy(TRAIN, tmp_path / "data")
    shutil.copy(TEST, tmp_path / "data")
    script = shutil.which("bowclf")
    exe = script if script else f"{sys.executable} -m bowclf.cli"
    command = (
        f"{exe} fit data/tickets_train.csv && "
        f"{exe} evaluate data/tickets_train.bowclf data/tickets_test.csv"
    )
    result = subprocess.run(
        command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert "Model written to data/tickets_train.bowclf" in result.stderr
    assert "accuracy" in result.stdout
    assert "800 documents" in result.stdout


def test_process_version_console_script():
    script = shutil.which("bowclf")
    argv = [script, "--version"] if script else bowclf_argv("--version")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"bowclf, version {__version__}"


def test_process_python_dash_m_bowclf():
    """``python -m bowclf`` is the command line too; --help loads neither numpy nor scipy
    (the deferred ``scipy.stats`` is found without importing its parents)."""
    result = subprocess.run([sys.executable, "-m", "bowclf", "--version"], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == f"bowclf, version {__version__}"
    code = ("import sys; sys.argv = ['bowclf', '--help']; from bowclf.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))")  # fmt: skip
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert shown.stdout.strip().splitlines()[-1] == "[]", shown.stdout[-300:]


def test_process_predict_pipes_and_formats(tickets_model, tmp_path):
    """Real stdin as '-' among compressed files, jsonl output to -o (stdin without any INPUT
    is tested in test_robustness.py::test_stdin_closed)."""
    data = "\n".join(TEXTS) + "\n"
    expected = ok(run("predict", tickets_model, input=data)).stdout.splitlines()
    csv_bz2 = write_corpus(tmp_path / "b.csv.bz2", "csv", TEXTS, ["x"] * len(TEXTS), "bz2")
    out = tmp_path / "pred.jsonl"
    mixed = run_process("predict", tickets_model, "-", csv_bz2, "--format", "jsonl", "-k", "2",
                        "-o", out, input=data.encode())  # fmt: skip
    assert mixed.returncode == 0, mixed.stderr
    assert mixed.stdout == b"" and mixed.stderr == b""
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 * len(TEXTS)
    assert rows[: len(TEXTS)] == rows[len(TEXTS) :]
    assert [r["labels"][0] for r in rows[: len(TEXTS)]] == expected


def test_process_multilabel_fasttext_chain(tmp_path):
    """fit -> predict -k 3 -> evaluate on a gzipped multi-label fastText file; the fit runs
    in-process (fit as a process is covered by the quick start) to keep the suite fast."""
    texts, y = _topic_docs(300)
    corpus = write_corpus(tmp_path / "ml.txt.gz", "fasttext", texts, _multilabel(y), "gz")
    model = tmp_path / "ml.bowclf"
    ok(run("fit", corpus, "-o", model, "--dim", "8", "--epochs", "30", "-q"))
    pred = run_process("predict", model, corpus, "-k", "3", "--format", "tsv", "--proba")
    assert pred.returncode == 0, pred.stderr
    rows = pred.stdout.decode().splitlines()
    assert rows[0].split("\t")[:2] == ["label_1", "probability_1"]
    assert len(rows) == 1 + len(texts)
    ev = run_process("evaluate", model, corpus, "--json")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["multilabel"] is True


# ---------------------------------------------------------------------- out of core
def test_fit_stream(tmp_path):
    model = tmp_path / "s.bowclf"
    result = ok(run("fit", TRAIN, "-o", model, "--stream", "--valid", TEST, "--dim", "16",
                    "--buckets", "20000", "--epochs", "10", "--cache-dir", tmp_path))  # fmt: skip
    assert "Training out of core" in result.stderr
    assert "pass 2/2 (token cache): 2,400 documents" in result.stderr
    assert "Validation: 800 documents" in result.stderr
    assert load(model).training_summary_["out_of_core"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["s.bowclf"]  # the cache was removed
    assert ok(run("predict", model, input=TEXTS[0])).stdout.strip() == "billing"


def test_fit_streams_large_files_by_itself(tmp_path, monkeypatch):
    monkeypatch.setattr("bowclf.defaults.STREAM_BYTES", 1000)
    result = ok(run("fit", TRAIN, "-o", tmp_path / "m.bowclf", "--dim", "4", "--epochs", "1"))
    assert "Training out of core" in result.stderr
    result = run("fit", TRAIN, "-o", tmp_path / "m.bowclf", "--valid-fraction", "0.1")
    assert result.exit_code == 2
    assert "over 256 MiB" in result.stderr and "--in-memory" in result.stderr
    result = ok(run("fit", TRAIN, "-o", tmp_path / "m.bowclf", "--in-memory", "--dim", "4",
                    "--epochs", "1"))  # fmt: skip
    assert "Training on 2,400 documents" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([TRAIN, "--stream", "--valid-fraction", "0.1"], "--valid-fraction is not supported"),
        ([TRAIN, "--stream", "--class-weight", "balanced"], "class_weight is not supported by"),
    ],
)
def test_fit_stream_usage_errors(tmp_path, args, message):
    result = run("fit", *args, "-o", tmp_path / "m.bowclf", input="")
    assert result.exit_code == 2
    assert message in result.stderr


def test_fit_option_defaults_match_the_estimator():
    """The CLI's defaults are TextClassifier's, so the two never drift apart."""
    from bowclf.cli import fit
    from bowclf.text import TextClassifier

    defaults = TextClassifier().get_params()
    options = {p.name: p.default for p in fit.params}
    for name in (
        "dim",
        "epochs",
        "lr",
        "batch_size",
        "ngrams",
        "buckets",
        "min_count",
        "minn",
        "maxn",
        "loss",
        "use_idf",
        "normalize",
    ):
        assert options[name] == defaults[name], name
    # tri-state options: not given (None) stands for the estimator's 'auto'
    for name in ("sublinear_tf", "min_df"):
        assert options[name] is None and defaults[name] == "auto", name


@pytest.mark.parametrize("stream", [False, True])
def test_fit_term_weighting_options(tmp_path, stream):
    model = tmp_path / "m.bowclf"
    args = ["--dim", "8", "--buckets", "20000", "--epochs", "2", "-q"]
    ok(run("fit", TRAIN, "-o", model, *args, *(["--stream"] if stream else [])))
    assert load(model).idf_ is not None  # idf weighting is on by default
    ok(run("fit", TRAIN, "-o", model, "--no-idf", "--sublinear-tf", *args,
           *(["--stream"] if stream else [])))  # fmt: skip
    raw = load(model)
    assert raw.idf_ is None and raw.use_idf is False and raw.sublinear_tf is True


def test_compressed_corpora_count_four_times_their_size(tmp_path):
    from bowclf.backends import text_size_estimate as _text_size_estimate

    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.GZ"
    plain.write_bytes(b"x" * 100)
    packed.write_bytes(b"x" * 100)
    assert _text_size_estimate(str(plain)) == 100
    assert _text_size_estimate(str(packed)) == 400
    (tmp_path / "a.csv.gzip").write_bytes(b"x" * 100)  # every suffix the reader decompresses
    assert _text_size_estimate(str(tmp_path / "a.csv.gzip")) == 400
    assert _text_size_estimate(str(tmp_path / "missing.csv")) == 0


def test_help_texts_quote_the_library_values():
    """The numbers the help states are the library's constants (they were literals, which
    drift when a rule changes)."""
    from click.testing import CliRunner

    from bowclf import defaults
    from bowclf.cli import cli

    def help_of(command: str) -> str:
        return " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())

    fit = help_of("fit")
    assert f"over {defaults.STREAM_BYTES >> 20} MiB of text" in fit
    assert f"count {defaults.COMPRESSION_FACTOR} times their size" in fit
    assert f"'auto': {defaults.MULTICLASS_LR} for 3 or more classes" in fit
    assert f"{defaults.BINARY_EPOCHS} with two classes" in fit
    assert f"[default: {defaults.AUTOTUNE_TIME}]" in fit
    assert f"more than {defaults.HS_SEARCH_MIN_CLASSES} labels" in help_of("predict")
    assert f"[default: {defaults.SERVE_MAX_TEXTS};" in help_of("serve")
