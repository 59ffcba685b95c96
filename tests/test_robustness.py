"""One test per row of docs/failure-modes.md: bad input, interruptions, hostile model files.

Every failing row asserts the documented exit code, that stderr has no traceback and that it
is a single clear line ``bowclf: error: ...`` (the Ctrl-C rows: the one line after the progress
lines).  Rows that succeed assert exit code 0 and an empty stderr (``-q``).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import default_sigint, make_texts

from bowclf.cli import cli
from bowclf.persist import load

FIT = ["--dim", "8", "--buckets", "5000", "--epochs", "5", "-q"]


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def bowclf_argv(*args) -> list[str]:
    return [sys.executable, "-m", "bowclf.cli", *[str(a) for a in args]]


def assert_error(code: int, exit_code: int, stderr: str, pattern: str) -> str:
    """The row's exit code, no traceback, and stderr is exactly one 'bowclf: error:' line."""
    assert exit_code == code, (exit_code, stderr)
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("bowclf: error: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def fails(result, code: int, pattern: str) -> str:
    return assert_error(code, result.exit_code, result.stderr, pattern)


def succeeds(result):
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr == ""
    return result


def no_temp_files(directory: Path) -> bool:
    return not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def topic_csv(n: int = 120, seed: int = 0) -> str:
    texts, y = make_texts(n, seed=seed, noise=0.0)
    return "label,text\n" + "".join(f"{lab},{text}\n" for lab, text in zip(y, texts, strict=True))


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("robust")
    path = tmp / "m.bowclf"
    succeeds(run("fit", write(tmp / "c.csv", topic_csv(300)), "-o", path, *FIT))
    return path


# ---------------------------------------------------------------------- input files
@pytest.mark.parametrize("command", ["fit", "predict", "evaluate"])
def test_missing_file(model, tmp_path, command):
    args = {"fit": ["fit"], "predict": ["predict", model], "evaluate": ["evaluate", model]}
    result = run(*args[command], tmp_path / "nope.csv")
    fails(result, 1, r"nope\.csv: no such file")


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_directory_instead_of_file(model, tmp_path, command):
    args = ["fit", tmp_path, "-o", tmp_path / "m.bowclf"] if command == "fit" else []
    result = run(*args) if args else run("predict", model, tmp_path)
    fails(result, 1, "is a directory")


def test_empty_file(tmp_path):
    fails(run("fit", write(tmp_path / "e.csv", ""), *FIT), 1, r"e\.csv: contains no documents")


def test_empty_input_to_predict(model, tmp_path):
    result = succeeds(run("predict", model, write(tmp_path / "e.txt", "")))
    assert result.stdout == ""


def test_header_only(tmp_path):
    result = run("fit", write(tmp_path / "h.csv", "label,text\n"), *FIT)
    fails(result, 1, "contains no documents .*only a header row")


@pytest.mark.parametrize(
    ("name", "content", "extra", "pattern"),
    [
        ("no-text.csv", "id,label,note\n1,a,x\n2,b,y\n", [], "which column holds the text"),
        ("no-label.csv", "id,text,note\n1,x,n\n2,y,n\n", [], "no label column found"),
        ("no-key.jsonl", '{"note": "x", "label": "a", "id": 1}\n', [], "no text key"),
        ("named.csv", "label,text\na,x\nb,y\n", ["--text-column", "body"], "'body' not found"),
    ],
)
def test_missing_text_or_label_column(tmp_path, name, content, extra, pattern):
    fails(run("fit", write(tmp_path / name, content), *extra, *FIT), 1, pattern)


def test_ragged_rows(tmp_path):
    data = "label,text\na,one\nb,two,three\n"
    fails(run("fit", write(tmp_path / "r.csv", data), *FIT), 1, "line 3: expected 2 fields")


def test_unterminated_quote(tmp_path):
    data = 'label,text\na,fine\nb,"never closed\nc,more\n'
    result = run("fit", write(tmp_path / "q.csv", data), *FIT)
    fails(result, 1, "line 3: unterminated quoted field")


def test_nul_bytes_are_whitespace(model, tmp_path):
    """NUL separates words, as in the Python API's tokeniser and fastText: the readers used
    to delete it, so 'ma\\0tch' trained the word 'match' and the command line predicted
    another document than ``model.predict`` given the same string."""
    data = topic_csv().replace("match", "ma\x00tch", 5)
    out = tmp_path / "m.bowclf"
    succeeds(run("fit", write(tmp_path / "nul.csv", data), "-o", out, *FIT))
    words = load(out).vectorizer_.words_.tolist()
    assert "ma\x00tch" not in words and "ma" in words and "tch" in words
    texts = ["a\x00b", "\x00", "tech\x00food match"]
    result = succeeds(run("predict", model, "--proba", input="".join(t + "\n" for t in texts)))
    got = [line.split() for line in result.stdout.splitlines()]
    want = load(model).predict_topk(texts, k=1)
    assert [(row[0], round(float(row[1]), 4)) for row in got] == [
        (label, round(p, 4)) for ((label, p),) in want
    ]


@pytest.mark.parametrize("encoding", [None, "latin-1"])
def test_non_utf8_bytes(tmp_path, encoding):
    data = topic_csv().encode() + "food,caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1")
    path = write(tmp_path / "latin.csv", data)
    out = tmp_path / "m.bowclf"
    if encoding is None:
        line = fails(run("fit", path, "-o", out, *FIT), 1, "cannot decode byte")
        assert "line 122" in line and "--encoding latin-1" in line
        assert not out.exists()
    else:
        succeeds(run("fit", path, "-o", out, "--encoding", encoding, *FIT))
        assert "café" in load(out).vectorizer_.words_.tolist()


def test_unknown_encoding(tmp_path):
    path = write(tmp_path / "c.csv", topic_csv())
    fails(run("fit", path, "--encoding", "klingon", *FIT), 1, "unknown encoding 'klingon'")


def test_utf16_named_without_its_byte_order_mark(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(topic_csv().encode("utf-16-le"))
    fails(run("fit", path, "--encoding", "utf-16", *FIT), 1,
          r"c\.csv: cannot decode the input as utf-16 .*--encoding utf-16-le")  # fmt: skip
    succeeds(run("fit", path, "--encoding", "utf-16-le", "-o", tmp_path / "m.bowclf", *FIT))


def test_byte_order_mark_of_another_encoding(tmp_path):
    """``--encoding latin-1`` on a UTF-16 file with its byte-order mark trained silently on
    text with a NUL between every two characters."""
    path = write(tmp_path / "c.csv", topic_csv().encode("utf-16"))
    fails(run("fit", path, "--encoding", "latin-1", *FIT), 1,
          r"c\.csv: starts with a UTF-16 byte-order mark but is being read as latin-1; "
          r"pass --encoding utf-16")  # fmt: skip


@pytest.mark.parametrize("bom", ["utf-8-sig", "utf-16"])
def test_byte_order_mark(tmp_path, bom):
    path = write(tmp_path / "bom.csv", topic_csv().encode(bom))
    out = tmp_path / "m.bowclf"
    succeeds(run("fit", path, "-o", out, *FIT))  # the header is found despite the BOM
    assert load(out).classes_.tolist() == ["food", "sports", "tech"]


def test_crlf_line_ends(model, tmp_path):
    path = write(tmp_path / "crlf.csv", topic_csv().replace("\n", "\r\n"))
    out = tmp_path / "m.bowclf"
    succeeds(run("fit", path, "-o", out, *FIT))
    assert not any("\r" in w for w in load(out).vectorizer_.words_.tolist())
    result = succeeds(run("predict", model, input="a b\r\n\r\nc\r\n"))
    assert len(result.stdout.splitlines()) == 3


def test_lone_carriage_return_inside_a_line(model, tmp_path):
    """A lone \\r split a line of predict's input in two: 3 predictions for 2 lines. Only
    \\n and \\r\\n end a line (unless the input has no \\n: an old Mac file)."""
    texts = ["refund\rcharged twice", "my parcel\r never arrived"]
    result = succeeds(run("predict", model, "--proba", input="\n".join(texts) + "\r\n"))
    got = [line.split() for line in result.stdout.splitlines()]
    want = load(model).predict_topk(texts, k=1)
    assert [(row[0], round(float(row[1]), 4)) for row in got] == [
        (label, round(p, 4)) for ((label, p),) in want
    ]
    result = succeeds(run("predict", model, input="a b\rc d\re f\r"))  # an old Mac file
    assert len(result.stdout.splitlines()) == 3


def test_blank_lines_of_fasttext_input_to_predict(model, tmp_path):
    """`predict` on fastText input printed 3 predictions for 4 lines: a blank line was
    skipped, although the help says a blank line gets a prediction too."""
    path = write(tmp_path / "p.txt", "__label__pos great product\n\nmy parcel\n__label__x refund\n")
    result = succeeds(run("predict", model, path))
    assert len(result.stdout.splitlines()) == 4


def test_header_detection(model, tmp_path):
    """A header of names the reader did not know was data: predict printed 3 predictions
    for 2 rows, fit trained the class 'y'; two files joined trained the class 'label'."""
    path = write(tmp_path / "r.csv", "id,review\n1,my parcel never arrived\n2,charged twice\n")
    assert len(succeeds(run("predict", model, path)).stdout.splitlines()) == 2
    data = topic_csv().replace("label,text", "y,review", 1)
    out = tmp_path / "y.bowclf"
    succeeds(run("fit", write(tmp_path / "y.csv", data), "-o", out, *FIT))
    assert load(out).classes_.tolist() == ["food", "sports", "tech"]
    joined = write(tmp_path / "j.csv", topic_csv() + topic_csv(seed=1))
    fails(run("fit", joined, "-o", out, *FIT), 1,
          r"j\.csv: line 122: this row repeats the header row \(two files joined\?")  # fmt: skip


def test_stray_quote_in_tsv(tmp_path):
    """A stray " opening a TSV field swallowed the next row: fit said 4 documents for 5."""
    data = 'label\ttext\npos\t"Best purchase ever\nneg\tI will never buy again"\npos\tlove it\n'
    fails(run("fit", write(tmp_path / "q.tsv", data), *FIT), 1,
          r"q\.tsv: line 2: a field opened by a \" on this line runs over a line break into a "
          r"line with a tab: a stray quote\?")  # fmt: skip


def test_blank_and_whitespace_only_documents(tmp_path):
    data = topic_csv() + "food,\nsports,   \ntech,\t\n"
    succeeds(run("fit", write(tmp_path / "b.csv", data), "-o", tmp_path / "m.bowclf", *FIT))
    all_blank = "label,text\na,\nb,   \n"
    result = run("fit", write(tmp_path / "blank.csv", all_blank), "-o", tmp_path / "x", *FIT)
    fails(result, 1, r"blank\.csv: cannot train: empty vocabulary")


def test_column_and_label_messages_name_only_options_the_command_has(model, tmp_path):
    rows = write(tmp_path / "r.csv", "1,x,a b\n2,y,c d\n")  # no header: which column?
    line = fails(run("predict", model, rows), 1, "no header naming them; pass --text-column ")
    assert "--label-column" not in line  # predict has no such option
    fails(run("fit", rows, *FIT), 1, "pass --text-column and --label-column")
    test = write(tmp_path / "t.csv", "label,text\nfood,pasta\n ,two\n")
    line = fails(run("evaluate", model, test), 1, "line 3: empty label")
    assert "training" not in line


@pytest.mark.parametrize("option", ["--pretrained-vectors", "--valid"])
def test_missing_side_files_are_named_before_the_corpus_is_read(tmp_path, option):
    corpus = write(tmp_path / "c.csv", topic_csv())
    fails(run("fit", corpus, option, tmp_path / "nope.vec", *FIT), 1,
          f"nope.vec: no such file \\(given to {option}\\)")  # fmt: skip
    fails(run("fit", corpus, option, tmp_path, *FIT), 1, f"is a directory \\(given to {option}")
    fails(run("fit", corpus, "--stream", "--cache-dir", tmp_path / "none", *FIT), 1,
          "none: no such directory \\(given to --cache-dir\\)")  # fmt: skip


def test_dash_as_output(model, tmp_path):
    """'-o -' is standard output for predict, and no file named '-' for a model."""
    res = run("predict", model, "-o", "-", input="pasta sauce\n")
    assert res.exit_code == 0 and res.stdout.strip() and not (tmp_path / "-").exists()
    fails(run("fit", write(tmp_path / "c.csv", topic_csv()), "-o", "-", *FIT), 2,
          "'-' is not an output file name")  # fmt: skip


def test_empty_labels(tmp_path):
    data = "label,text\na,one\n ,two\n"
    fails(run("fit", write(tmp_path / "l.csv", data), *FIT), 1, "line 3: empty label")


@pytest.mark.parametrize("quiet", [True, False])
def test_one_class_only(tmp_path, quiet):
    data = "label,text\nspam,buy now\nspam,cheap pills\n"
    opts = FIT if quiet else [a for a in FIT if a != "-q"]
    # without -q too, the error is the only line: no "Training on … (1 classes)" header first
    fails(run("fit", write(tmp_path / "one.csv", data), *opts), 1, "only one class \\('spam'\\)")


@pytest.mark.parametrize("extra", [[], ["--valid-fraction", "0.2"]])
def test_label_seen_once(tmp_path, extra):
    data = topic_csv() + "unicorn,a sparkly horn\n"
    out = tmp_path / "m.bowclf"
    succeeds(run("fit", write(tmp_path / "once.csv", data), "-o", out, *extra, *FIT))
    assert "unicorn" in load(out).classes_.tolist()


LONG_LINE_MB = 10  # 100 MB was run by hand: see docs/failure-modes.md


def test_extremely_long_line(model, tmp_path):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)] + ["match", "team", "recipe"]
    size = LONG_LINE_MB * 10**6
    parts, n = [], 0
    while n < size:
        parts.append(rng.choice(words))
        n += len(parts[-1]) + 1
    path = write(tmp_path / "long.txt", "first line\n" + " ".join(parts) + "\nlast line\n")
    result = succeeds(run("predict", model, path, "--format", "jsonl"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-3 for r in rows if len(r["labels"]) > 1)


@pytest.mark.parametrize("kind", ["corrupt", "not-gzip"])
def test_corrupt_gzip(model, tmp_path, kind):
    if kind == "corrupt":
        data = bytearray(gzip.compress(topic_csv(400).encode()))
        data[len(data) // 2 :] = b"\x00" * (len(data) - len(data) // 2)
        pattern = "corrupt or truncated gzip data"
    else:
        data = topic_csv().encode()
        pattern = "not a valid gzip file"
    path = write(tmp_path / "c.csv.gz", bytes(data))
    fails(run("fit", path, "-o", tmp_path / "m.bowclf", *FIT), 1, pattern)
    fails(run("predict", model, path), 1, pattern)


# ---------------------------------------------------------------------- pipes
@pytest.mark.parametrize("case", ["closed", "early-eof", "empty"])
def test_stdin_closed(model, case):
    """stdin not open at all (fd 0 closed), a producer that stops without a final newline
    (both real processes), and an empty stdin."""
    if case == "empty":
        result = succeeds(run("predict", model, input=""))
        assert result.stdout == ""
        return
    if case == "closed":
        proc = subprocess.run(
            bowclf_argv("predict", model),
            preexec_fn=lambda: os.close(0),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert_error(1, proc.returncode, proc.stderr, "<stdin>: standard input is not available")
        return
    proc = subprocess.run(
        bowclf_argv("predict", model),
        input="first doc\n\nlast doc without newline",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 3


def test_broken_pipe_on_output(model, tmp_path):
    """``bowclf predict ... | head -1`` with real pipes: exit 141, nothing on stderr."""
    path = write(tmp_path / "docs.txt", "the match was a win\n" * 60_000)
    producer = subprocess.Popen(
        bowclf_argv("predict", model, path, "--proba", "-k", "3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.PIPE)
    producer.stdout.close()  # only head holds the read end now
    first, _ = head.communicate(timeout=120)
    err = producer.stderr.read().decode()
    producer.wait(timeout=120)
    assert len(first.decode().split()) == 6  # three labels with their probabilities
    assert producer.returncode == 141
    assert err == ""


# ---------------------------------------------------------------------- evaluate
def test_test_labels_the_model_never_saw(model, tmp_path):
    data = topic_csv(60, seed=2) + "unicorn,a sparkly horn\nunicorn,rainbow horn\n"
    result = run("evaluate", model, write(tmp_path / "t.csv", data), "--json")
    assert result.exit_code == 0 and result.stderr == ""
    report = json.loads(result.stdout)
    assert report["unseen_labels"]["n_documents"] == 2
    assert report["unseen_labels"]["labels"] == [{"label": "unicorn", "count": 2}]
    text = run("evaluate", model, tmp_path / "t.csv", "--no-color")
    assert text.exit_code == 0 and "unicorn" in text.stdout


# ---------------------------------------------------------------------- output files
@pytest.mark.parametrize("where", ["fit: model write (simulated)", "predict: -o /dev/full"])
def test_disk_full(model, tmp_path, monkeypatch, where):
    if where.startswith("fit"):
        out = tmp_path / "m.bowclf"
        shutil.copy(model, out)
        before = out.read_bytes()

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(np.lib.format, "write_array", full)
        result = run("fit", write(tmp_path / "c.csv", topic_csv()), "-o", out, *FIT)
        fails(result, 1, r"m\.bowclf: cannot write the model \(No space left on device\); an "
              "existing file is unchanged")  # fmt: skip
        assert out.read_bytes() == before
        assert no_temp_files(tmp_path)
    else:
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full")
        fails(run("predict", model, "-o", "/dev/full", input="a\n"), 1, "/dev/full: No space left")


@pytest.mark.parametrize("how", ["real", "simulated EROFS"])
def test_read_only_output_directory(model, tmp_path, monkeypatch, how):
    corpus = write(tmp_path / "c.csv", topic_csv())
    if how == "real":
        if os.geteuid() == 0:  # root ignores permissions: use a directory nobody can write
            out = Path("/sys/bowclf-test.bowclf")
            if os.access("/sys", os.W_OK) and Path("/sys").is_dir():
                try:
                    fd = os.open("/sys/.bowclf-probe", os.O_CREAT | os.O_WRONLY, 0o600)
                except OSError:
                    pass
                else:
                    os.close(fd)
                    os.unlink("/sys/.bowclf-probe")
                    pytest.skip("/sys is writable here")
            fails(run("fit", corpus, "-o", out, *FIT), 1, "/sys: cannot write there")
            assert not out.exists()
            return
        ro = tmp_path / "ro"
        ro.mkdir()
        out = ro / "m.bowclf"
        shutil.copy(model, out)
        before = out.read_bytes()
        ro.chmod(0o555)
        try:
            fails(run("fit", corpus, "-o", out, *FIT), 1, "cannot write there")
            fails(run("predict", model, "-o", ro / "p.txt", input="a\n"), 1, "cannot write")
        finally:
            ro.chmod(0o755)
        assert out.read_bytes() == before
        return
    out = tmp_path / "m.bowclf"
    shutil.copy(model, out)
    before = out.read_bytes()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    fails(run("fit", corpus, "-o", out, *FIT), 1, "cannot write there \\(Read-only file system")
    assert out.read_bytes() == before


@pytest.mark.parametrize("case", ["directory", "missing directory", "device"])
def test_bad_output_path(model, tmp_path, case):
    corpus = write(tmp_path / "c.csv", topic_csv())
    target = {
        "directory": (tmp_path, "is a directory", 2),
        "missing directory": (tmp_path / "no" / "m.bowclf", "output directory does not exist", 1),
        "device": ("/dev/null", "not a regular file", 1),
    }[case]
    fails(run("fit", corpus, "-o", target[0], *FIT), target[2], target[1])
    assert Path("/dev/null").is_char_device()


# ---------------------------------------------------------------------- training
def test_divergence(tmp_path):
    out = tmp_path / "m.bowclf"
    result = run("fit", write(tmp_path / "c.csv", topic_csv()), "-o", out, "--lr", "1e9", *FIT)
    fails(result, 1, "training diverged .*lower the learning rate")
    assert not out.exists()
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--dim", "0"], "'--dim': 0 is not in the range 1<=x<=16384"),
        (["--epochs", "-1"], "'--epochs': -1 is not in the range x>=1"),
        (["--lr", "0"], "'--lr': 0.0 is not in the range x>0"),
        (["--lr", "nan"], "'--lr': 'nan' is not a finite number"),
        (["--lr", "inf"], "'--lr': 'inf' is not a finite number"),
        (["--batch-size", "0"], "'--batch-size'"),
        (["--ngrams", "0"], "'--ngrams'"),
        (["--min-count", "0"], "'--min-count'"),
        (["--buckets", "-5"], "'--buckets'"),
        (["--valid-fraction", "1.5"], "'--valid-fraction'"),
        (["--threshold", "2"], "'--threshold'"),
        (["--loss", "hinge"], "'--loss'"),
        (["--minn", "5", "--maxn", "3"], "need 1 <= minn <= maxn, got minn=5, maxn=3"),
        # the library's own rules, before the corpus is read (exit 1 after reading it once)
        (["--minn", "0", "--maxn", "3"], "need 1 <= minn <= maxn, got minn=0, maxn=3"),
        (["--buckets", "0"], "buckets must be > 0 when ngrams > 1 or maxn > 0"),
        (["--dim", "ten"], "'ten' is not a valid integer"),
        (["--no-such-option"], "No such option '--no-such-option'"),
        (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"),
        (["--threads", "0"], "implausible n_jobs (threads) 0 (fit accepts an integer <= -1 or"),
        (["--seed", "99999999999"], "'--seed': 99999999999 is not in the range"),
        (["--label-sep", ""], "'--label-sep': must not be empty"),
        (
            ["--dask-scheduler", "tcp://127.0.0.1:9", "--valid-fraction", "0.2"],
            "--dask-scheduler: --valid-fraction is not supported; use --valid FILE",
        ),
        (["--stream", "--dask-scheduler", "tcp://127.0.0.1:9"], "--stream and --dask-scheduler"),
        (["--valid", "-"], "--valid cannot both be stdin"),
        (["--dask-scheduler", "inproc://x"], "'inproc://x' is not an address like tcp://host"),
        (["--dask-scheduler", "tls://h:1"], "'tls://h:1' is not an address like tcp://host"),
    ],
)
def test_invalid_hyper_parameters(tmp_path, args, pattern):
    out = tmp_path / "m.bowclf"
    corpus = "-" if args[:2] == ["--valid", "-"] else write(tmp_path / "c.csv", topic_csv())
    result = run("fit", corpus, "-o", out, *args, input=topic_csv())
    line = fails(result, 2, re.escape(pattern))
    assert line.endswith("(see 'bowclf fit --help')")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["-k", "0"], "'-k': 'k' must be an integer >= 1, got 0"),
        (["--threshold", "1.5"], "'--threshold': 'threshold' must be a number in [0, 1], got 1.5"),
        (["--format", "xml"], "'--format'"),
    ],
)
def test_invalid_predict_options(model, args, pattern):
    fails(run("predict", model, *args, input="a\n"), 2, re.escape(pattern))


SIGNALS = {
    "SIGINT": (signal.SIGINT, 130, "bowclf: interrupted"),
    "SIGTERM": (signal.SIGTERM, 143, "bowclf: terminated"),
    "SIGKILL": (signal.SIGKILL, -signal.SIGKILL, None),
}


@pytest.fixture(scope="module")
def interrupted_fits(model, tmp_path_factory):
    """One ``bowclf fit -o m.bowclf`` per signal over an existing m.bowclf, started together
    (they spend most of their time importing), each signalled once its progress started."""
    corpus = write(tmp_path_factory.mktemp("signals") / "big.csv", topic_csv(4000, seed=7))
    runs = {}
    for name in SIGNALS:
        directory = tmp_path_factory.mktemp(name)
        out = directory / "m.bowclf"
        shutil.copy(model, out)
        proc = subprocess.Popen(
            bowclf_argv("fit", corpus, "-o", out, "--epochs", "100000", "--dim", "32"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        runs[name] = (proc, directory, out, out.read_bytes())
    results = {}
    for name, (proc, directory, out, before) in runs.items():
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for the progress to start
            line = proc.stderr.readline()
            lines.append(line)
            if not line or line.startswith("epoch 1/"):
                break
        if lines[-1].startswith("epoch 1/"):
            proc.send_signal(SIGNALS[name][0])
        else:
            proc.kill()
        _, rest = proc.communicate(timeout=60)
        results[name] = (lines, proc.returncode, rest, directory, out, before)
    return results


@pytest.mark.parametrize("name", list(SIGNALS))
def test_interrupted_fit(interrupted_fits, name):
    """Ctrl-C (and SIGTERM, SIGKILL) while training: the existing model is byte-identical
    and no temporary file is left."""
    _, code, last_line = SIGNALS[name]
    lines, returncode, rest, directory, out, before = interrupted_fits[name]
    assert lines[-1].startswith("epoch 1/"), lines
    assert returncode == code, rest
    assert "Traceback" not in rest
    if last_line is not None:
        *progress, final = rest.splitlines()
        assert final == last_line
        assert all(p.startswith("epoch ") for p in progress)
    assert out.read_bytes() == before
    assert [p.name for p in directory.iterdir() if p.name != "m.bowclf"] == []


def test_interrupted_while_saving(model, tmp_path, monkeypatch):
    """Ctrl-C in the middle of writing the model file (simulated at the second array)."""
    out = tmp_path / "m.bowclf"
    shutil.copy(model, out)
    before = out.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    result = run("fit", write(tmp_path / "c.csv", topic_csv()), "-o", out, *FIT)
    assert result.exit_code == 130
    assert result.stderr == "bowclf: interrupted\n"
    assert out.read_bytes() == before
    assert no_temp_files(tmp_path)


# ---------------------------------------------------------------------- numbers
def test_documents_with_zero_known_tokens(tmp_path):
    """Training documents left with no feature (every word below --min-count) and prediction
    documents made only of unknown words give finite probabilities that sum to 1."""
    rng = random.Random(0)
    unique = ["".join(rng.choices("qxzjv", k=12)) for _ in range(40)]
    data = topic_csv() + "".join(f"tech,{w}\n" for w in unique)
    out = tmp_path / "m.bowclf"
    succeeds(run("fit", write(tmp_path / "z.csv", data), "-o", out, "--min-count", "2",
                 "--ngrams", "1", *FIT))  # fmt: skip
    P = load(out).predict_proba(unique[:3] + ["never seen words", ""])
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)


def test_empty_strings_in_predict_input(model):
    result = succeeds(run("predict", model, "--format", "jsonl", "-k", "3", input="\n \n\t\nx\n"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert len(row["labels"]) == 3
        assert all(np.isfinite(row["probabilities"]))
        assert abs(sum(row["probabilities"]) - 1) < 1e-4


# ---------------------------------------------------------------------- model files
MODEL_FILE_CASES = [
    "no such file",
    "a directory",
    "empty file",
    "renamed text file",
    "raw pickle renamed .bowclf",
    "object .npy member (pickle payload)",
    "truncated file",
    "A and B dims disagree",
    "manifest shape differs from the .npy shape",
    "absurd declared size",
    "path traversal member ../evil",
    "NaN parameter",
    "newer format version",
]


@pytest.fixture(scope="module")
def bad_models(model, tmp_path_factory):
    from test_persist import hostile_files

    return hostile_files(model.read_bytes(), tmp_path_factory.mktemp("bad-models"))


@pytest.mark.parametrize("case", MODEL_FILE_CASES)
@pytest.mark.parametrize("command", ["predict", "info"])
def test_bad_model_file(bad_models, case, command):
    cases, marker = bad_models
    path, pattern = cases[case]
    args = [command, path] + (["-"] if command == "predict" else [])
    result = run(*args, input="hello\n")
    if command == "info" and case == "NaN parameter":
        assert result.exit_code == 0  # info does not read the arrays' data; predict does
        return
    line = fails(result, 1, pattern)
    assert str(path) in line
    assert not marker.exists()


# ---------------------------------------------------------------------- issue 20 (cliio)
def _multilabel_csv(n: int = 150) -> str:
    texts, y = make_texts(n, seed=7, noise=0.0)
    rows = [
        f"{lab}{' extra' if i % 3 == 0 else ''},{text}"
        for i, (lab, text) in enumerate(zip(y, texts, strict=True))
    ]
    return "label,text\n" + "\n".join(rows) + "\n"


def test_evaluate_multilabel_uses_the_models_label_separator(tmp_path):
    """Row 34 (item 7): the separator given to fit is remembered by the model."""
    corpus = write(tmp_path / "ml.csv", _multilabel_csv())
    model = tmp_path / "ml.bowclf"
    succeeds(run("fit", corpus, "-o", model, "--label-sep", " ", *FIT))
    remembered = json.loads(succeeds(run("evaluate", model, corpus, "--json")).stdout)
    given = json.loads(
        succeeds(run("evaluate", model, corpus, "--json", "--label-sep", " ")).stdout
    )
    assert remembered["unseen_labels"]["n_documents"] == 0
    for d in (remembered, given):
        d.pop("throughput")
    assert remembered == given
    assert "label separator ' '" in succeeds(run("info", model)).stdout


def test_evaluate_multilabel_without_separator_is_refused(tmp_path):
    """Row 34 (item 7): a model file from before conventions were stored, label cells 'a b'."""
    from bowclf.persist import save

    corpus = write(tmp_path / "ml.csv", _multilabel_csv())
    model = tmp_path / "ml.bowclf"
    succeeds(run("fit", corpus, "-o", model, "--label-sep", " ", *FIT))
    old = save(load(model), tmp_path / "old.bowclf", corpus={})  # as files before conventions
    fails(run("evaluate", old, corpus), 2, r"ml\.csv: the label cell '\w+ extra' is not a class "
          r"of this multi-label model, but its parts are: pass --label-sep ' '")  # fmt: skip


def test_predict_csv_on_stdin(model, tmp_path):
    """Row 35 (item 7): CSV on stdin (header, label column) is read as CSV, as fit - does."""
    data = topic_csv(20, seed=3)
    path = write(tmp_path / "t.csv", data)
    from_file = succeeds(run("predict", model, path)).stdout
    piped = run("predict", model, input=data)
    assert piped.exit_code == 0 and "Traceback" not in piped.stderr
    # the guess is said, in one line: a plain-text first line may look like a header
    assert piped.stderr == (
        "bowclf: note: <stdin>: read as csv (first line 'label,text' taken for a header), not "
        "as one document per line; pass --input-format text if it is not\n"
    )
    from_stdin = piped.stdout
    assert from_stdin == from_file and len(from_stdin.splitlines()) == 20
    plain = "first, plain line\nsecond line\n"  # commas but no header: plain text
    assert len(succeeds(run("predict", model, input=plain)).stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("ngrams", 10**6, "implausible ngrams 1000000"),
        ("maxn", 10**4, "implausible maxn 10000"),
        ("token_pattern", "(\\w+\\s?)+$", "token_pattern .* nests a repeat"),
        ("buckets", 2**28 + 1, "implausible number of buckets"),
    ],
)
def test_hostile_header_values(model, tmp_path, key, value, pattern):
    """Row 36 (item 8): header values fit could never have written are refused up front."""
    import zipfile

    with zipfile.ZipFile(model) as zf:
        items = {i.filename: zf.read(i) for i in zf.infolist()}
    header = json.loads(items["header.json"])
    header["params"][key] = value
    items["header.json"] = json.dumps(header).encode()
    hostile = tmp_path / "hostile.bowclf"
    with zipfile.ZipFile(hostile, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    for command in ("predict", "info"):
        fails(run(command, hostile, input="a b\n"), 1, pattern)


def test_fit_refuses_what_the_loader_would(model, tmp_path):
    """Row 37 (item 9): --buckets 300000000 is a usage error; the old model is kept."""
    out = tmp_path / "m.bowclf"
    shutil.copy(model, out)
    before = out.read_bytes()
    corpus = write(tmp_path / "c.csv", topic_csv())
    result = run("fit", corpus, "-o", out, "--buckets", "300000000", "-q")
    fails(result, 2, r"'--buckets': 300000000 is not in the range 0<=x<=268435456")
    assert out.read_bytes() == before
    fails(run("fit", corpus, "-o", out, "--ngrams", "17", "-q"), 2, "'--ngrams': 17")


def test_warnings_do_not_leak(model):
    """Row 38 (item 11): numpy/scikit-learn warnings are not printed (--debug shows them)."""
    code = (
        "import sys, warnings\n"
        "from bowclf.inference import TextPredictor\n"  # what `bowclf predict` loads
        "real = TextPredictor.predict_proba\n"
        "def noisy(self, X):\n"
        "    warnings.warn('overflow encountered in exp', RuntimeWarning, stacklevel=1)\n"
        "    return real(self, X)\n"
        "TextPredictor.predict_proba = noisy\n"
        "from bowclf.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    for debug in ([], ["--debug"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *debug, "predict", str(model), "--proba"],
            input="a b\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0
        assert ("overflow" in proc.stderr) == bool(debug), proc.stderr


def test_huge_weights_and_nan_headers(model, tmp_path):
    """Row 38 (item 11): finite weights whose scores overflow; NaN in a header."""
    import io
    import zipfile

    with zipfile.ZipFile(model) as zf:
        items = {i.filename: zf.read(i) for i in zf.infolist()}
    A = np.load(io.BytesIO(items["classifier/A"])) * np.float32(1e37)
    buf = io.BytesIO()
    np.save(buf, A)
    huge = dict(items, **{"classifier/A": buf.getvalue()})
    header = json.loads(items["header.json"])
    header["text"]["training_summary"]["loss"] = float("inf")
    nan = dict(items, **{"header.json": json.dumps(header).encode()})
    for name, members in (("huge", huge), ("nan", nan)):
        with zipfile.ZipFile(tmp_path / f"{name}.bowclf", "w") as zf:
            for member, data in members.items():
                zf.writestr(member, data)
    fails(run("predict", tmp_path / "huge.bowclf", input="a\n"), 1, "scores overflow")
    fails(run("info", "--json", tmp_path / "nan.bowclf"), 1, "Infinity is not a number")


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ('label,text\n"spam\nham",a b\nok,c d\n', "line 2: label 'spam\\\\nham' contains a line"),
        ('{"label": "\\ud800", "text": "a"}\n{"label": "b", "text": "c"}\n', "unpaired surrogate"),
    ],
    ids=["newline in a label", "lone surrogate"],
)
def test_unprintable_labels(tmp_path, data, pattern):
    """Row 39 (item 12): labels that cannot be printed one per line are refused by fit."""
    name = "c.jsonl" if data.startswith("{") else "c.csv"
    fails(run("fit", write(tmp_path / name, data), "-o", tmp_path / "m.bowclf", *FIT), 1, pattern)


def test_info_escapes_control_characters(model, tmp_path):
    """Row 39 (item 12): header strings never reach the terminal raw."""
    import zipfile

    with zipfile.ZipFile(model) as zf:
        items = {i.filename: zf.read(i) for i in zf.infolist()}
    header = json.loads(items["header.json"])
    header["created"] = "\x1b[2J\x1b[31mgotcha\n"
    items["header.json"] = json.dumps(header).encode()
    path = tmp_path / "esc.bowclf"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)
    out = succeeds(run("info", path)).stdout
    assert "\x1b" not in out and "\\x1b[2J" in out and "gotcha\\n" in out


@pytest.mark.parametrize(
    ("command", "where"),
    [("evaluate", "--html"), ("evaluate", "--misclassified"), ("explain", "--html")],
)
def test_disk_full_while_evaluating(model, tmp_path, monkeypatch, command, where):
    """Row 40 (item 14): the error names the file being written (explain's named stdout)."""
    import bowclf.cli as cli_module

    def full(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cli_module._OutputFile, "__enter__", full)
    test = write(tmp_path / "t.csv", topic_csv(40, seed=1))
    target = tmp_path / "out.file"
    fails(
        run(command, model, test, where, target),
        1,
        r"out\.file: cannot write \(No space left on device\); an existing file is unchanged",
    )
    if os.path.exists("/dev/full"):  # a real full device: the write itself fails
        monkeypatch.undo()
        fails(run(command, model, test, where, "/dev/full"), 1, r"^bowclf: error: /dev/full: ")


def test_stdout_full_or_closed(model):
    """Row 40 (item 14): `info > /dev/full` and `info >&-` name stdout."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(bowclf_argv("info", model), stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)  # fmt: skip
    assert_error(1, proc.returncode, proc.stderr, "<stdout>: No space left on device")
    proc = subprocess.run(bowclf_argv("info", model), preexec_fn=lambda: os.close(1),
                          stderr=subprocess.PIPE, text=True, timeout=120)  # fmt: skip
    assert_error(1, proc.returncode, proc.stderr, "<stdout> is closed")


def test_undefined_encoding(model):
    """Row 40 (item 14): Python's 'undefined' codec is an unknown encoding, not a crash."""
    fails(run("predict", model, "--encoding", "undefined", input="a\n"), 1,
          "unknown encoding 'undefined'")  # fmt: skip


def test_interface_details(model, tmp_path):
    """Row 41 (item 15): -o FILE.jsonl infers the format; --color is kept when piped;
    HTML without figures says which extra adds them; a typo gets a hint."""
    out = tmp_path / "p.jsonl"
    succeeds(run("predict", model, "-o", out, input="a b\n"))
    assert json.loads(out.read_text())["labels"]
    test = write(tmp_path / "t.csv", topic_csv(40, seed=1))
    assert "\x1b[" in succeeds(run("evaluate", model, test, "--color")).stdout
    assert "\x1b[" not in succeeds(run("evaluate", model, test)).stdout
    import bowclf.report.html as html

    real = html._load_matplotlib
    try:
        html._load_matplotlib = lambda: None
        result = run("evaluate", model, test, "--html", tmp_path / "r.html")
    finally:
        html._load_matplotlib = real
    assert result.exit_code == 0
    assert "pip install 'bowclf[report]'" in result.stderr
    fails(run("fit", test, "--ngram", "2"), 2, "Did you mean .*'--ngrams'")
    info = succeeds(run("info", model)).stdout
    assert re.search(r"Classes: +\d+: \w+, \w+", info)
    assert re.search(r"Training: +300 documents, 5 epochs, final loss \d", info)


def test_unpaired_surrogates_in_documents_are_written_escaped(tmp_path):
    """Row 42: a document holding an unpaired surrogate (``\\ud800`` in JSON Lines) is read,
    trained on and predicted; every output that shows it -- explain (text, JSON, HTML),
    evaluate's confusion examples and --misclassified CSV, neighbors, info --top-features --
    writes it as the escape ``\\ud800`` (JSON's own: parsed back, it is the same text)."""
    texts, y = make_texts(120, seed=0, noise=0.0)
    texts = [t + (" odd\ud800 x\udc00" if i % 2 else "") for i, t in enumerate(texts)]
    rows = [json.dumps({"label": lab, "text": t}) for lab, t in zip(y, texts, strict=True)]
    corpus = write(tmp_path / "s.jsonl", "\n".join(rows) + "\n")
    path = tmp_path / "s.bowclf"
    succeeds(run("fit", corpus, "-o", path, *FIT))
    doc = "goal match \ud800 team"
    test = write(tmp_path / "t.jsonl", json.dumps({"label": "food", "text": doc}) + "\n")
    html = tmp_path / "e.html"
    shown = _done(run("explain", path, test, "--html", html)).stdout
    assert "“goal match \\ud800 team”" in shown
    assert "\\ud800" in html.read_text(encoding="utf-8")
    as_json = succeeds(run("explain", path, test, "--json")).stdout
    assert "\\ud800" in as_json and json.loads(as_json)["text"] == doc
    wrong = tmp_path / "wrong.csv"
    report = _done(run("evaluate", path, test, "--misclassified", wrong)).stdout
    assert "“goal match \\ud800 team”" in report
    assert "goal match \\ud800 team" in wrong.read_text(encoding="utf-8")
    near = json.loads(succeeds(run("neighbors", path, "odd", "--json")).stdout)
    assert any(word in ("\ud800", "\udc00") for word, _ in near)  # vocabulary words
    assert "\\u" in succeeds(run("neighbors", path, "odd")).stdout
    assert "\\u" in succeeds(run("info", path, "--top-features", "50")).stdout
    # a real process, and a terminal narrower than UTF-8: still one valid JSON line (an
    # ASCII one is taken for a misconfigured UTF-8 one by click, which then writes UTF-8)
    doc = "café 😀 \ud800"
    test = write(tmp_path / "u.jsonl", json.dumps({"text": doc}) + "\n")
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    proc = subprocess.run(bowclf_argv("explain", path, test, "--json"), capture_output=True,
                          env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert json.loads(proc.stdout.decode("latin-1"))["text"] == doc


def _done(result):
    """Exit 0, no error: stderr holds only where files were written."""
    assert result.exit_code == 0 and "error" not in result.stderr, result.stderr
    return result
