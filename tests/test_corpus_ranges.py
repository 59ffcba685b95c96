"""Parts of a CSV/TSV file read on their own (bowclf.corpus_ranges): cuts at line starts,
the parts' records are the file's, a cut inside a quoted field fails instead of guessing."""

from __future__ import annotations

import csv
import gzip
import itertools

import numpy as np
import pytest

from bowclf.corpus import CorpusError, iter_chunks
from bowclf.corpus_ranges import csv_layout, iter_part_chunks, split_points


def _csv(path, rows, header=("label", "text")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def _rows(n, seed=0, breaks=0.3):
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", 'quo"te', "com,ma", "ünï", "\r\n", "\n"]
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(words[:6], rng.integers(1, 8)))
        if rng.random() < breaks:
            text += str(rng.choice(words[6:])) + "more"
        rows.append((f"c{i % 3}", text))
    return rows


def _parts(path, cuts, layout, chunk_size=7):
    texts, labels = [], []
    for a, b in itertools.pairwise(cuts):
        for t, lab in iter_part_chunks(path, a, b, layout, chunk_size):
            texts += t
            labels += lab
    return texts, labels


def _whole(path, **kw):
    texts, labels = [], []
    for t, lab in iter_chunks(path, **kw):
        texts += t
        labels += lab
    return texts, labels


def test_cuts_follow_line_breaks_and_leave_the_first_lines_whole(tmp_path):
    path = _csv(tmp_path / "a.csv", _rows(400, breaks=0))
    data = path.read_bytes()
    cuts = split_points(path, 4, first_lines=30)
    assert cuts[0] == 0 and cuts[-1] == len(data) and len(cuts) == 5
    assert cuts == sorted(set(cuts))
    assert all(data[c - 1 : c] == b"\n" for c in cuts[1:-1])
    assert data[: cuts[1]].count(b"\n") >= 30
    assert split_points(path, 4, first_lines=10**6) == [0, len(data)]  # too few lines: one part


def test_parts_without_a_quoted_line_break_at_a_cut_give_the_files_records(tmp_path):
    """Across many cut sets, every one that parses gives exactly the file's documents; the
    quoted line breaks make some cuts fall inside a field, and those parts fail."""
    path = _csv(tmp_path / "q.csv", _rows(600, seed=1))
    layout = csv_layout(path)
    assert layout is not None and layout["width"] == 2
    whole = _whole(path)
    parsed = failed = 0
    for parts in range(2, 40):
        cuts = split_points(path, parts, layout["lines"])
        try:
            got = _parts(path, cuts, layout)
        except CorpusError as exc:
            assert "quoted field" in str(exc)
            failed += 1
            continue
        assert got == whole
        parsed += 1
    assert parsed and failed


def test_a_cut_inside_a_quoted_field_fails(tmp_path):
    path = _csv(tmp_path / "s.csv", [("a", "x\n" * 50), ("b", "y")] * 3)
    layout = csv_layout(path)
    data = path.read_bytes()
    inside = data.index(b"x\n" * 10, 100) + 2  # after a line break inside the 2nd field
    with pytest.raises(CorpusError, match="unterminated quoted field"):
        _parts(path, [0, inside, len(data)], layout)


def test_files_that_cannot_be_read_in_parts(tmp_path):
    rows = _rows(50, breaks=0)
    plain = _csv(tmp_path / "p.csv", rows)
    packed = tmp_path / "p.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes(plain.read_text(encoding="utf-8").encode("utf-16"))
    jsonl = tmp_path / "j.jsonl"
    jsonl.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')
    single = _csv(tmp_path / "one.csv", rows[:1])
    assert csv_layout(plain) is not None
    for path in (packed, utf16, jsonl, single, "-", tmp_path / "missing.csv"):
        assert csv_layout(path) is None
    assert csv_layout(plain, encoding="latin-1") is None


def test_tsv_without_header_and_explicit_columns(tmp_path):
    path = tmp_path / "t.tsv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows((t, lab, "z") for lab, t in _rows(300, 2, 0))
    kw = {"text_column": 0, "label_column": 1}
    layout = csv_layout(path, **kw)
    assert layout["delimiter"] == "\t" and layout["width"] == 3
    cuts = split_points(path, 3, layout["lines"])
    texts, labels = [], []
    for a, b in itertools.pairwise(cuts):
        for t, lab in iter_part_chunks(path, a, b, layout, 11, **kw):
            texts += t
            labels += lab
    assert (texts, labels) == _whole(path, **kw)


@pytest.mark.parametrize("end", ["\n", "\r"])
def test_parts_read_a_lone_cr_as_the_whole_file_does(tmp_path, end):
    """A lone \\r inside a line is part of it in a file of \\n lines, and ends the lines of
    a file without \\n (an old Mac file): a part read on its own follows the whole file's
    decision (a last part without \\n would otherwise take its \\r for line ends)."""
    rows = [(f"c{i % 3}", f"alpha\rbeta {i}") for i in range(300)]
    if end == "\r":  # \r line ends, and a few \n that parts can be cut at past 64 KiB
        rows = [(lab, f"alpha beta {i}" + "x" * 300) for i, (lab, _) in enumerate(rows)]
    path = tmp_path / "r.csv"
    body = "".join(f"{lab},{text}{end}" for lab, text in rows)
    if end == "\r":
        for at in (70_000, 80_000, 90_000):  # some \r\n line ends
            i = body.index("\r", at)
            body = body[:i] + "\r\n" + body[i + 1 :]
    last = "c9,last\rline" if end == "\n" else "c9,last\r"  # no \n after the last cut
    path.write_text("label,text" + end + body + last, encoding="utf-8")
    layout = csv_layout(path)
    assert layout is not None and layout["cr_lines"] == (end == "\r")
    whole = _whole(path)
    assert len(whole[0]) == 301
    cuts = split_points(path, 3, layout["lines"])
    if end == "\r":  # split_points wants 21 \n in the first part: cut at the \r\n by hand
        data = path.read_bytes()
        cuts = [0, data.index(b"\r\n", 80_000) + 2, data.index(b"\r\n", 90_000) + 2, len(data)]
    else:  # a last part of one line, without \n
        cuts = [*cuts[:-1], path.read_bytes().rindex(b"\n") + 1, cuts[-1]]
    assert len(cuts) >= 3 and _parts(path, cuts, layout) == whole


def test_a_part_refuses_a_repeated_header_as_the_whole_file_does(tmp_path):
    rows = _rows(300, breaks=0)
    path = _csv(tmp_path / "j.csv", rows[:150] + [("label", "text")] + rows[150:])
    layout = csv_layout(path)
    assert layout["header"] == ["label", "text"]
    with pytest.raises(CorpusError, match="repeats the header row"):
        _whole(path)
    with pytest.raises(CorpusError, match="repeats the header row"):
        _parts(path, split_points(path, 3, layout["lines"]), layout)
