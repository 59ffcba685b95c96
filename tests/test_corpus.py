"""Tests for bowclf.corpus: formats, compression, decoding, errors and fuzzing."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bowclf.corpus import (
    Corpus,
    CorpusError,
    Record,
    detect_format,
    iter_chunks,
    iter_records,
    iter_texts,
    open_text,
    read_corpus,
)

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    if isinstance(data, str):
        data = data.encode(encoding)
    path.write_bytes(data)
    return path


def records(source, **kw) -> list[Record]:
    return list(iter_records(source, **kw))


def pairs(source, **kw) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.text, r.labels) for r in iter_records(source, **kw)]


def error(source, **kw) -> str:
    with pytest.raises(CorpusError) as info:
        records(source, **kw)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return message


# ---------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------


def test_csv_with_header_and_quotes(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\npos,"good, really"\nneg,bad\n')
    assert records(p) == [
        Record("good, really", ("pos",), 2),
        Record("bad", ("neg",), 3),
    ]


def test_csv_header_names_case_insensitive_any_order(tmp_path):
    p = write(tmp_path / "d.csv", "id, Document ,Category\n1,hello,a\n2,world,b\n")
    assert pairs(p) == [("hello", ("a",)), ("world", ("b",))]


def test_csv_no_header_two_columns_is_label_text(tmp_path):
    p = write(tmp_path / "d.csv", "pos,great movie\nneg,awful\n")
    assert pairs(p) == [("great movie", ("pos",)), ("awful", ("neg",))]


@pytest.mark.parametrize(
    "header, expected",
    [
        ("id,review", [("my parcel never arrived", ()), ("charged twice", ())]),
        ("y,review", [("my parcel never arrived", ("1",)), ("charged twice", ("2",))]),
        ("target,comment", [("my parcel never arrived", ("1",)), ("charged twice", ("2",))]),
        ("Sentiment,Tweet", [("my parcel never arrived", ("1",)), ("charged twice", ("2",))]),
        ("polarity,title", [("my parcel never arrived", ("1",)), ("charged twice", ("2",))]),
        ("rating,question", [("my parcel never arrived", ("1",)), ("charged twice", ("2",))]),
    ],
)
def test_common_column_names_make_a_header(tmp_path, header, expected):
    """A header of names the reader did not know was read as data: `predict` printed a
    prediction for 'review' first (every later line shifted) and `fit` trained the class
    'y'."""
    p = write(tmp_path / "d.csv", f"{header}\n1,my parcel never arrived\n2,charged twice\n")
    assert pairs(p, require_labels=not header.startswith("id,")) == expected
    assert detect_format(None, [header, "1,my parcel never arrived"]) == "csv"


@pytest.mark.parametrize(
    "data",
    [
        "pos,review\nneg,awful stuff\npos,love it\n",  # 'pos' is a label of the data
        "y,great stuff\nn,awful stuff\ny,love it\n",  # 'y' alone names nothing
        "neg,comment\npos,nice\nneg,title\n",
        "spam,title\nham,message\nspam,text\nham,hello\n",
        # labels that are words, not column names (intent data)
        "question,how do I reset it\ncomplaint,refund never arrived\nquestion,can I pay\n",
        "comment,nice post\ntitle,my day\n",
    ],
)
def test_headerless_data_keeps_its_first_row(tmp_path, data):
    """A first data row whose text is a column name is data when its label recurs below."""
    p = write(tmp_path / "d.csv", data)
    rows = [line.split(",", 1) for line in data.splitlines()]
    assert pairs(p) == [(text, (label,)) for label, text in rows]


def test_a_repeated_header_row_is_refused(tmp_path):
    """Two CSV files joined: the second header was a document of class 'label'."""
    p = write(tmp_path / "d.csv", "label,text\npos,great\nneg,bad\nlabel,text\npos,good\n")
    assert "line 4: this row repeats the header row (two files joined?" in error(p)
    p = write(tmp_path / "e.csv", "pos,great\nneg,bad\npos,great\n")  # no header: data
    assert len(records(p)) == 3


def test_a_stray_quote_swallowing_tsv_rows_is_refused(tmp_path):
    """A stray " at the start of a TSV field made one document of two rows (fit said 4
    documents for 5 rows); quoting as the csv module and pandas write it still reads."""
    data = 'label\ttext\npos\t"Best purchase ever\nneg\tI will never buy again"\npos\tok\n'
    assert 'line 2: a field opened by a " on this line runs over a line break' in error(
        write(tmp_path / "q.tsv", data)
    )
    assert "line 1:" in error(write(tmp_path / "m.tsv", data.replace("\n", "\r")[11:]))
    buf = io.StringIO(newline="")
    rows = [("a", 'two\nlines "quoted"'), ("b", "a\ttab"), ("c", '"quoted" start'), ("d", "x")]
    csv.writer(buf, delimiter="\t").writerows([("label", "text"), *rows])
    assert pairs(write(tmp_path / "w.tsv", buf.getvalue())) == [(t, (lab,)) for lab, t in rows]
    data = 'label,text\npos,"Best purchase ever\nneg,I will never buy again"\npos,ok\n'
    assert len(records(write(tmp_path / "q.csv", data))) == 2  # CSV: a legal quoted field


def test_csv_explicit_columns_by_name_and_index(tmp_path):
    p = write(tmp_path / "d.csv", "id,title,abstract,topic\n1,t1,a1,x\n2,t2,a2,y\n")
    expected = [("a1", ("x",)), ("a2", ("y",))]
    assert pairs(p, text_column="abstract", label_column="topic") == expected
    assert pairs(p, text_column=2, label_column=3, has_header=True) == expected
    assert pairs(p, text_column="2", label_column="3", has_header=True) == expected


def test_csv_digit_string_prefers_header_name(tmp_path):
    p = write(tmp_path / "d.csv", "0,1,2\nx,doc,a\n")
    # header cell "1" exists, so "1" is a name (column 1), not an index
    assert pairs(p, has_header=True, text_column="1", label_column="2") == [("doc", ("a",))]


def test_csv_explicit_indexes_without_header(tmp_path):
    p = write(tmp_path / "d.csv", "1,a,doc one\n2,b,doc two\n")
    assert pairs(p, text_column=2, label_column=1) == [("doc one", ("a",)), ("doc two", ("b",))]


def test_csv_two_columns_naming_one_is_enough(tmp_path):
    p = write(tmp_path / "d.csv", "text,sentiment\nnice,pos\n")
    assert pairs(p) == [("nice", ("pos",))]
    p = write(tmp_path / "e.csv", "review,label\nnice,pos\n")
    assert pairs(p) == [("nice", ("pos",))]


def test_csv_many_columns_without_names_errors(tmp_path):
    p = write(tmp_path / "d.csv", "1,a,b\n2,c,d\n")
    assert "--text-column" in error(p)


def test_csv_unknown_column_name(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\na,b\n")
    msg = error(p, text_column="nope")
    assert "'nope' not found" in msg and "line 1" in msg


def test_csv_column_index_out_of_range(tmp_path):
    p = write(tmp_path / "d.csv", "a,b\n")
    assert "out of range" in error(p, text_column=5, label_column=0)


def test_csv_missing_label_column(tmp_path):
    p = write(tmp_path / "d.csv", "id,text,extra\n1,hello,z\n")
    assert "--label-column" in error(p)
    assert pairs(p, require_labels=False) == [("hello", ())]


def test_tsv(tmp_path):
    p = write(tmp_path / "d.tsv", "label\ttext\npos\tgood, yes; ok\nneg\tbad\n")
    assert pairs(p) == [("good, yes; ok", ("pos",)), ("bad", ("neg",))]


def test_semicolon_and_pipe_sniffing(tmp_path):
    p = write(tmp_path / "d.csv", "label;text\npos;good, really\nneg;bad, awful, no\n")
    assert pairs(p) == [("good, really", ("pos",)), ("bad, awful, no", ("neg",))]
    p = write(tmp_path / "e.csv", "pos|one, two\nneg|three\n")
    assert pairs(p) == [("one, two", ("pos",)), ("three", ("neg",))]


def test_tab_sniffed_in_csv_named_file(tmp_path):
    p = write(tmp_path / "d.csv", "label\ttext\npos\tgood, yes\nneg\tbad\n")
    assert pairs(p) == [("good, yes", ("pos",)), ("bad", ("neg",))]


def test_excel_sep_line(tmp_path):
    p = write(tmp_path / "d.csv", "sep=;\nlabel;text\npos;a,b\n")
    assert records(p) == [Record("a,b", ("pos",), 3)]


def test_explicit_delimiter(tmp_path):
    p = write(tmp_path / "d.csv", "pos:hello\nneg:bye\n")
    assert pairs(p, delimiter=":") == [("hello", ("pos",)), ("bye", ("neg",))]


def test_quoted_multiline_field_reports_start_line(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\npos,"line one\nline two\r\nline three"\nneg,x\n')
    assert records(p) == [
        Record("line one\nline two\r\nline three", ("pos",), 2),
        Record("x", ("neg",), 5),
    ]


def test_jsonl(tmp_path):
    lines = [
        {"text": "a", "label": "x"},
        {"text": "b", "label": 3},
        {"text": "c", "label": ["x", "y"]},
        {"text": "d", "label": True},
    ]
    p = write(tmp_path / "d.jsonl", "\n".join(json.dumps(o) for o in lines) + "\n\n")
    assert pairs(p) == [("a", ("x",)), ("b", ("3",)), ("c", ("x", "y")), ("d", ("true",))]


def test_jsonl_explicit_keys_and_case(tmp_path):
    p = write(tmp_path / "d.ndjson", '{"Body": "hi", "Class": "a"}\n{"Body": "yo", "Class": "b"}\n')
    assert pairs(p) == [("hi", ("a",)), ("yo", ("b",))]
    p = write(tmp_path / "e.json", '{"q": "hi", "intent_id": "a"}\n')
    assert pairs(p, text_column="q", label_column="intent_id") == [("hi", ("a",))]


def test_jsonl_without_labels(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"text": "a"}\n{"text": "b"}\n')
    assert "--label-column" in error(p)
    assert list(iter_texts(p)) == ["a", "b"]


def test_jsonl_errors(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", label}\n')
    msg = error(p)
    assert "line 2" in msg and "invalid JSON" in msg
    p = write(tmp_path / "e.jsonl", '{"text": "a", "label": "x"}\n[1, 2]\n')
    assert "line 2: expected a JSON object" in error(p)
    p = write(tmp_path / "f.json", '[\n{"text": "a", "label": "x"}\n]\n')
    assert "JSON Lines" in error(p)
    p = write(tmp_path / "g.jsonl", '{"text": "a", "label": "x"}\n{"label": "x"}\n')
    assert "line 2" in error(p)
    p = write(tmp_path / "h.jsonl", '{"text": null, "label": "x"}\n')
    assert "must be a string" in error(p)
    p = write(tmp_path / "i.jsonl", '{"text": "a", "label": {"k": 1}}\n')
    assert "line 1" in error(p)
    p = write(tmp_path / "j.jsonl", '{"text": "a", "label": "x"}\n' + "[" * 100000 + "\n")
    assert "line 2" in error(p)
    p = write(tmp_path / "k.jsonl", "{}\n")
    assert "--text-column" in error(p)
    with pytest.raises(CorpusError, match="key name"):
        iter_records(p, format="jsonl", text_column=0)


def test_fasttext(tmp_path):
    p = write(
        tmp_path / "d.txt",
        "__label__pos great film\n\n__label__a __label__b  two labels here \r\n__label__neg\n",
    )
    assert records(p) == [
        Record("great film", ("pos",), 1),
        Record("two labels here", ("a", "b"), 3),
        Record("", ("neg",), 4),
    ]


def test_fasttext_blank_lines_are_documents_for_prediction(tmp_path):
    """Read for prediction, every fastText line is a document, so `predict` prints one line
    per input line (a blank line was skipped: the outputs no longer lined up); training
    still skips blank lines."""
    p = write(
        tmp_path / "d.txt", "__label__pos great product\n\nmy parcel\n \t\n__label__x refund\n"
    )
    assert records(p, require_labels=False) == [
        Record("great product", ("pos",), 1),
        Record("", (), 2),
        Record("my parcel", (), 3),
        Record("", (), 4),
        Record("refund", ("x",), 5),
    ]
    assert list(iter_texts(p)) == ["great product", "", "my parcel", "", "refund"]
    p = write(tmp_path / "e.txt", "__label__a x\n\n__label__b y\n")
    assert records(p) == [Record("x", ("a",), 1), Record("y", ("b",), 3)]


def test_fasttext_missing_and_empty_label(tmp_path):
    p = write(tmp_path / "d.txt", "__label__pos fine\nno label here\n")
    assert "line 2: no __label__" in error(p)
    assert pairs(p, require_labels=False) == [("fine", ("pos",)), ("no label here", ())]
    p = write(tmp_path / "e.txt", "__label__ text\n")
    assert "line 1: empty label" in error(p)


def test_text_format(tmp_path):
    p = write(tmp_path / "d.txt", "first doc\n\n   \nlast\r\n")
    assert list(iter_texts(p)) == ["first doc", "", "", "last"]
    assert "no labels" in error(p)


def test_format_override(tmp_path):
    p = write(tmp_path / "d.txt", "pos,hello\n")
    assert pairs(p, format="csv") == [("hello", ("pos",))]
    with pytest.raises(CorpusError, match="unknown format"):
        iter_records(p, format="xml")


def test_detect_format():
    assert detect_format("a.csv.gz", []) == "csv"
    assert detect_format(Path("a.TSV"), []) == "tsv"
    assert detect_format("a.ndjson.xz", []) == "jsonl"
    assert detect_format("a.json", []) == "jsonl"
    assert detect_format("a.txt", ["__label__x hi\n"]) == "fasttext"
    assert detect_format("a.txt", ["hello, world\n"]) == "text"
    assert detect_format("-", ['{"text": "x"}\n']) == "jsonl"
    assert detect_format(None, ["__label__x hi"]) == "fasttext"
    assert detect_format("data", ["label,text\n", "a,b\n"]) == "csv"
    assert detect_format("data", ["label;text\n", "a;b, c\n"]) == "csv"
    assert detect_format("data", ["label\ttext\n", "a\tb\n"]) == "tsv"
    assert detect_format("data", ["a\tb\n", "c\td\n"]) == "tsv"
    assert detect_format("data", ["I think, therefore\n", "I am, yes\n"]) == "text"
    assert detect_format("data", ["[citation needed]\n"]) == "text"
    assert detect_format("data", []) == "text"


# ---------------------------------------------------------------------------
# labels and documents
# ---------------------------------------------------------------------------


def test_label_sep_multilabel(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\n"a, b ,,a",doc1\nc,doc2\n')
    assert pairs(p, label_sep=",") == [("doc1", ("a", "b")), ("doc2", ("c",))]
    p = write(tmp_path / "e.csv", 'label,text\n" x   y ",doc\n')
    assert pairs(p, label_sep=" ") == [("doc", ("x", "y"))]
    assert pairs(p) == [("doc", ("x   y",))]


def test_empty_label(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\na,x\n  ,y\n")
    assert "line 3: empty label" in error(p)
    assert pairs(p, require_labels=False) == [("x", ("a",)), ("y", ())]
    p = write(tmp_path / "e.csv", "label,text\n ; ,y\n")
    assert "empty label" in error(p, label_sep=";")


def test_blank_documents_are_kept(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\na,\nb,"   "\nc,"  x "\n\n')
    assert pairs(p) == [("", ("a",)), ("", ("b",)), ("  x ", ("c",))]


def test_corpus_properties(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\nb,x\na,y\n")
    c = read_corpus(p)
    assert isinstance(c, Corpus) and len(c) == 2
    assert c.texts == ["x", "y"] and c.y == ["b", "a"] and not c.is_multilabel
    assert c.classes == ["a", "b"]
    p = write(tmp_path / "m.txt", "__label__a __label__b x\n__label__a y\n")
    m = read_corpus(p)
    assert m.is_multilabel
    with pytest.raises(CorpusError, match="multi-label"):
        _ = m.y


def test_iter_chunks(tmp_path):
    p = write(tmp_path / "d.csv", "".join(f"l{i % 3},doc {i}\n" for i in range(25)))
    chunks = list(iter_chunks(p, chunk_size=10))
    assert [len(t) for t, _ in chunks] == [10, 10, 5]
    assert chunks[2][0][-1] == "doc 24" and chunks[2][1][-1] == ("l0",)
    with pytest.raises(CorpusError):
        iter_chunks(p, chunk_size=0)


# ---------------------------------------------------------------------------
# sources, compression, decoding
# ---------------------------------------------------------------------------

CSV_BYTES = b"label,text\npos,caf\xc3\xa9\nneg,na\xc3\xafve\n"
CSV_PAIRS = [("caf\u00e9", ("pos",)), ("na\u00efve", ("neg",))]


@pytest.mark.parametrize(
    "ext,compress",
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compression_by_extension(tmp_path, ext, compress):
    p = write(tmp_path / f"d.csv{ext}", compress(CSV_BYTES))
    assert pairs(p) == CSV_PAIRS
    # magic bytes work without the extension too
    q = write(tmp_path / "noext", compress(CSV_BYTES))
    assert pairs(q, format="csv") == CSV_PAIRS


def test_compressed_binary_file_object():
    assert pairs(io.BytesIO(gzip.compress(CSV_BYTES)), format="csv") == CSV_PAIRS


def test_corrupt_gzip(tmp_path):
    data = bytearray(gzip.compress(CSV_BYTES * 50))
    data[20:40] = b"\x00" * 20
    p = write(tmp_path / "d.csv.gz", bytes(data))
    assert "corrupt or truncated gzip" in error(p)
    p = write(tmp_path / "t.csv.gz", gzip.compress(CSV_BYTES * 50)[:-30])
    assert "corrupt or truncated gzip" in error(p)
    p = write(tmp_path / "n.csv.gz", CSV_BYTES)
    assert "not a valid gzip file" in error(p)
    p = write(tmp_path / "x.csv.xz", lzma.compress(CSV_BYTES)[:-10])
    assert "xz" in error(p)


def test_archives_rejected(tmp_path):
    p = write(tmp_path / "d.zip", b"PK\x03\x04rest")
    assert "ZIP" in error(p)


def test_stdin(monkeypatch):
    fake = io.TextIOWrapper(io.BytesIO(CSV_BYTES), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake)
    assert pairs("-", format="csv") == CSV_PAIRS
    assert not fake.closed
    gz = io.TextIOWrapper(io.BytesIO(gzip.compress(b"__label__a hi\n")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", gz)
    assert pairs("-") == [("hi", ("a",))]
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\ntwo\n"))
    assert list(iter_texts("-")) == ["one", "two"]
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(CorpusError, match="stdin"):
        records("-")


def test_text_file_object():
    assert pairs(io.StringIO("label,text\na,b\n"), format="csv") == [("b", ("a",))]


def test_bom_and_crlf(tmp_path):
    p = write(tmp_path / "d.csv", b"\xef\xbb\xbflabel,text\r\npos,a\r\nneg,b\r\n")
    assert records(p) == [Record("a", ("pos",), 2), Record("b", ("neg",), 3)]
    p = write(tmp_path / "e.txt", b"\xef\xbb\xbfhello\r\nworld\r\n")
    assert list(iter_texts(p)) == ["hello", "world"]
    p = write(tmp_path / "f.csv", b"label,text\rpos,a\rneg,b\r")
    assert pairs(p) == [("a", ("pos",)), ("b", ("neg",))]


def test_utf16_bom_is_honoured(tmp_path):
    p = write(tmp_path / "d.tsv", "label\ttext\npos\tcaf\u00e9\n".encode("utf-16"))
    assert pairs(p) == [("caf\u00e9", ("pos",))]


def test_utf16_without_bom_gets_a_hint(tmp_path):
    p = write(tmp_path / "d.tsv", "label\ttext\npos\tcafe\n".encode("utf-16-le"))
    assert "--encoding utf-16-le" in error(p)


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        ("label,text\npos,cafe\n".encode("utf-16"), "latin-1", "UTF-16 byte-order mark"),
        ("label,text\npos,cafe\n".encode("utf-32"), "cp1252", "UTF-32 byte-order mark"),
        ("label,text\npos,cafe\n".encode("utf-8-sig"), "latin-1", "--encoding utf-8 "),
        (codecs.BOM_UTF16_LE + "label,text\n".encode("utf-16-le"), "utf-16-be", "utf-16 "),
    ],
    ids=["utf-16-as-latin-1", "utf-32-as-cp1252", "utf-8-sig-as-latin-1", "le-as-be"],
)
def test_a_byte_order_mark_the_encoding_contradicts_is_refused(tmp_path, data, encoding, expected):
    """A file starting with a UTF-16 byte-order mark read as latin-1 trained on text with a
    NUL between every two characters (and the mark as the word 'ÿþ'): refused, naming the
    encoding to pass."""
    p = write(tmp_path / "d.csv", data)
    assert expected in error(p, encoding=encoding)


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("utf-16-le", "latin-1"), ("utf-16-be", "cp1252"), ("utf-32-le", "utf-8"),
     ("utf-32-be", "latin-1")],
)  # fmt: skip
def test_utf16_or_32_without_bom_is_refused_whatever_the_encoding(tmp_path, encoding, named):
    """UTF-16/32 text without a byte-order mark decoded with a single-byte codec (or UTF-32
    as UTF-8) is text with NULs between its characters: refused with the encoding to pass,
    and read with it."""
    data = "label,text\npos,caf\u00e9 au lait\nneg,tea\n"
    p = write(tmp_path / "d.csv", data.encode(encoding))
    assert f"--encoding {encoding}" in error(p, encoding=named)
    assert pairs(p, encoding=encoding) == [("caf\u00e9 au lait", ("pos",)), ("tea", ("neg",))]


def test_byte_order_marks_that_fit_the_encoding(tmp_path):
    text = "label,text\npos,caf\u00e9\n"
    for data, encoding in [
        (codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf-16-le"),
        (text.encode("utf-16"), "utf-16"),
        (text.encode("utf-32"), "utf-32"),
        (text.encode("utf-8-sig"), "utf-8"),
        (text.encode("utf-8-sig"), "utf-8-sig"),
    ]:
        p = write(tmp_path / "d.csv", data)
        assert pairs(p, encoding=encoding) == [("caf\u00e9", ("pos",))]


def test_latin1(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\npos,ok\nneg,caf\u00e9\n", encoding="latin-1")
    msg = error(p)
    assert "line 3" in msg and "--encoding latin-1" in msg
    assert pairs(p, encoding="latin-1") == [("ok", ("pos",)), ("caf\u00e9", ("neg",))]
    assert pairs(p, encoding="cp1252") == [("ok", ("pos",)), ("caf\u00e9", ("neg",))]


def test_decode_error_line_far_into_file(tmp_path):
    body = "".join(f"l,doc {i}\n" for i in range(20000)).encode() + b"l,\xff\n"
    p = write(tmp_path / "d.csv", body)
    assert "line 20001" in error(p)


def test_unknown_encoding(tmp_path):
    p = write(tmp_path / "d.csv", "a,b\n")
    with pytest.raises(CorpusError, match="unknown encoding"):
        iter_records(p, encoding="klingon")
    with pytest.raises(CorpusError, match="not a text encoding"):
        iter_records(p, encoding="base64")


def test_open_text(tmp_path):
    p = write(tmp_path / "d.txt.gz", gzip.compress(b"\xef\xbb\xbfa\r\nb\rc\n"))
    with open_text(p) as f:
        assert f.read() == "a\nb\nc\n"
    with open_text(p, newline="") as f:
        assert list(f) == ["a\r\n", "b\r", "c\n"]
    with open_text(p, newline="\n") as f:
        assert f.readline() == "a\r\n"
        assert f.read(2) == "b\r"
    q = write(tmp_path / "bad.txt", b"ok\n\xff\n")
    assert open_text(q, errors="replace").read() == "ok\n\ufffd\n"
    with pytest.raises(CorpusError, match="line 2"), open_text(q) as f:
        f.read()
    with pytest.raises(TypeError):
        open_text(42)  # type: ignore[arg-type]


def test_directory_missing_and_empty(tmp_path):
    assert "is a directory" in error(tmp_path)
    assert "no such file" in error(tmp_path / "missing.csv")
    empty = write(tmp_path / "empty.csv", b"")
    assert records(empty) == []
    with pytest.raises(CorpusError, match="contains no documents"):
        read_corpus(empty)
    with pytest.raises(CorpusError, match="contains no documents"):
        read_corpus(write(tmp_path / "empty.txt.gz", gzip.compress(b"")), require_labels=False)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores modes")
def test_permission_denied(tmp_path):
    p = write(tmp_path / "d.csv", "a,b\n")
    p.chmod(0)
    try:
        assert "permission denied" in error(p)
    finally:
        p.chmod(0o600)


def test_permission_denied_simulated(tmp_path, monkeypatch):
    import bowclf.textio as textio  # where corpus files are opened

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(textio, "open", deny, raising=False)
    p = write(tmp_path / "d.csv", "a,b\n")
    assert error(p) == f"{p}: permission denied (check the file's permissions)"


def test_text_stream_decode_error():
    stream = io.TextIOWrapper(io.BytesIO(b"label,text\na,\xff\n"), encoding="utf-8")
    assert "cannot decode" in error(stream, format="csv")


def test_error_messages_name_file_and_line(tmp_path):
    p = write(tmp_path / "data.csv", 'label,text\na,b\nc,"d\n')
    assert error(p) == (
        f'{p}: line 3: unterminated quoted field (a " opened in this record is never closed; '
        "check the CSV quoting)"
    )
    q = write(tmp_path / "l1.csv", "label,text\nok,\xe9\n", encoding="latin-1")
    assert error(q).startswith(f"{q}: line 2: cannot decode byte(s) e9 as utf-8 ")


def test_header_only(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\n")
    assert records(p) == []
    with pytest.raises(CorpusError, match="no documents"):
        read_corpus(p)


def test_ragged_rows(tmp_path):
    p = write(tmp_path / "d.csv", "label,text\na,b\nc,d,e\n")
    msg = error(p)
    assert "line 3" in msg and "expected 2 fields but found 3" in msg
    p = write(tmp_path / "e.csv", "label,text\na,b\nc\n")
    assert "line 3" in error(p)


def test_unterminated_quote(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\na,b\nc,"never closed\nmore\nmore\n')
    msg = error(p)
    assert "line 3" in msg and "unterminated quoted field" in msg


def test_garbage_after_closing_quote(tmp_path):
    p = write(tmp_path / "d.csv", 'label,text\na,"b"c\n')
    assert "line 2" in error(p)


def test_nul_bytes_are_whitespace(tmp_path):
    """NUL is whitespace to the tokenisers and fastText: deleting it glued 'refund\\0charged'
    into the word 'refundcharged', another document than the same string given to Python."""
    p = write(tmp_path / "d.csv", b"label,text\npos\x00,a\x00b\nneg,\x00\n")
    assert pairs(p) == [("a b", ("pos",)), ("", ("neg",))]
    p = write(tmp_path / "d.txt", b"refund\x00charged twice\n\x00\n")
    assert list(iter_texts(p)) == ["refund charged twice", ""]
    p = write(tmp_path / "f.txt", b"__label__a\x00__label__b x\x00y\n")
    assert pairs(p) == [("x y", ("a", "b"))]
    p = write(tmp_path / "j.jsonl", b'{"text": "a\x00b", "label": "c"}\n')
    assert pairs(p) == [("a b", ("c",))]


def test_very_long_field_and_line(tmp_path):
    big = "word " * 1_000_000  # 5 MB
    p = write(tmp_path / "d.csv", f'label,text\npos,"{big}"\nneg,x\n')
    got = records(p)
    assert got[0].text == big and got[1] == Record("x", ("neg",), 3)
    q = write(tmp_path / "d.txt", f"__label__a {big.strip()}\n")
    assert records(q)[0].text == big.strip()
    r = write(tmp_path / "d.jsonl", json.dumps({"text": big, "label": "z"}) + "\n")
    assert records(r)[0].text == big


def test_argument_validation(tmp_path):
    p = write(tmp_path / "d.csv", "a,b\n")
    for kw in (
        {"label_sep": ""},
        {"delimiter": '"'},
        {"delimiter": ",,"},
        {"text_column": -1},
        {"text_column": True},
        {"text_column": "  "},
        {"has_header": "yes"},
    ):
        with pytest.raises(CorpusError):
            iter_records(p, **kw)
    q = write(tmp_path / "e.csv", "label,text\na,b\n")
    assert "same column" in error(q, text_column=0, label_column="label")


def test_corpus_error_is_one_line_value_error():
    err = CorpusError("bad\nthing", source="a\nb.csv", line=3)
    assert isinstance(err, ValueError)
    assert str(err) == "a b.csv: line 3: bad thing"
    assert err.line == 3


# ---------------------------------------------------------------------------
# fuzzing
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    """One directory per module: hypothesis examples overwrite their file in it."""
    return tmp_path_factory.mktemp("fuzz")


EXTS = ["", ".csv", ".tsv", ".jsonl", ".txt", ".csv.gz"]


def _check_all(path: Path, **kw) -> None:
    for require in (True, False):
        try:
            out = list(iter_records(path, require_labels=require, **kw))
        except CorpusError as exc:
            assert "\n" not in str(exc)
            continue
        for rec in out:
            assert isinstance(rec, Record)
            assert isinstance(rec.text, str) and isinstance(rec.line, int) and rec.line >= 1
            assert isinstance(rec.labels, tuple)
            assert all(isinstance(label, str) and label for label in rec.labels)
            if require:
                assert rec.labels


def _mutated_gzip(data: bytes, pos: int, byte: int) -> bytes:
    blob = bytearray(gzip.compress(data))
    blob[pos % len(blob)] = byte
    return bytes(blob)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.builds(
            _mutated_gzip,
            st.binary(max_size=300),
            st.integers(0, 10_000),
            st.integers(0, 255),
        ),
    ),
    ext=st.sampled_from(EXTS),
)
def test_fuzz_random_bytes(fuzz_dir, data, ext):
    path = fuzz_dir / f"f{ext}"
    path.write_bytes(data)
    _check_all(path)
    _check_all(path, encoding="latin-1")


SOUP = st.lists(
    st.sampled_from(list("ab é,;\t|\"'\n\r\x00{}[]:_") + ["__label__", "label", "text"]),
    max_size=12,
).map("".join)


@FUZZ
@given(
    rows=st.lists(st.lists(SOUP, max_size=4), max_size=8),
    delim=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    ext=st.sampled_from([".csv", ".tsv", ""]),
    label_sep=st.sampled_from([None, " ", ","]),
)
def test_fuzz_dialect_soup(fuzz_dir, rows, delim, newline, ext, label_sep):
    text = newline.join(delim.join(row) for row in rows)
    path = fuzz_dir / f"soup{ext}"
    path.write_bytes(text.encode("utf-8"))
    _check_all(path, label_sep=label_sep)
    _check_all(path, format="csv")


def _expected_text(text: str) -> str:
    text = text.replace("\x00", " ")
    return "" if text.isspace() else text


# Labels are printable (issue 20 item 12: control characters in labels are refused).
LABELS = st.text(min_size=1, max_size=12).filter(
    lambda s: "\x00" not in s and s.strip() == s and s != "" and s.isprintable()
)


def _reads_as_a_row(text: str) -> bool:
    """A line after a line break of ``text`` that reads as a row of a two-column TSV: a
    non-blank cell, a tab, then no other tab (what the reader takes for a stray quote)."""
    return any(
        line.count("\t") == 1 and line.partition("\t")[0].strip() and line[:1].strip()
        for line in text.split("\n")[1:]
    )


@FUZZ
@given(
    rows=st.lists(st.tuples(LABELS, st.text(max_size=40)), min_size=1, max_size=30),
    dialect=st.sampled_from([(",", ".csv"), (";", ".csv"), ("|", ".csv"), ("\t", ".tsv")]),
)
def test_fuzz_csv_round_trip(fuzz_dir, rows, dialect):
    delim, ext = dialect
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delim)
    writer.writerow(["label", "text"])
    writer.writerows(rows)
    path = fuzz_dir / f"rt{ext}"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    if delim == "\t" and any(_reads_as_a_row(text) for _, text in rows):
        assert "stray quote" in error(path)  # a TSV field with a line break, then a row
        return
    got = pairs(path)
    assert got == [(_expected_text(text), (label,)) for label, text in rows]


JSON_VALUES = st.text(max_size=30)


@FUZZ
@given(rows=st.lists(st.tuples(LABELS, JSON_VALUES), min_size=1, max_size=20))
def test_fuzz_jsonl_round_trip(fuzz_dir, rows):
    body = "".join(
        json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
        for label, text in rows
    )
    path = fuzz_dir / "rt.jsonl.gz"
    path.write_bytes(gzip.compress(body.encode("utf-8")))
    got = pairs(path)
    # a JSON "\u0000" escape is a character, not a NUL byte in the file: it is kept
    assert got == [("" if text.isspace() else text, (label,)) for label, text in rows]


@pytest.mark.parametrize(
    ("cell", "pattern"),
    [
        ('"a\nb"', "line break or another control character"),
        ('"esc\x1b[31mred"', "line break or another control character"),
    ],
)
def test_unprintable_labels_are_refused(tmp_path, cell, pattern):
    """Issue 20 item 12: a label may not break the one-line-per-document output."""
    path = tmp_path / "c.csv"
    path.write_text(f"label,text\n{cell},some text\nok,more text\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=pattern):
        read_corpus(path)


def test_lone_surrogate_label_in_jsonl_is_refused(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"label": "\\ud800", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="unpaired surrogate"):
        read_corpus(path)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
@pytest.mark.parametrize(
    "fmt, lines, expected",
    [
        ("text", ["apple banana", "car truck", "bus road"],
         [("apple banana", ()), ("car truck", ()), ("bus road", ())]),
        ("fasttext", ["__label__a apple banana", "__label__b car truck", "__label__a pie"],
         [("apple banana", ("a",)), ("car truck", ("b",)), ("pie", ("a",))]),
        ("jsonl", ['{"text": "x y", "label": "a"}', '{"text": "z", "label": "b"}'],
         [("x y", ("a",)), ("z", ("b",))]),
        ("csv", ["label,text", "a,x y", "b,z"], [("x y", ("a",)), ("z", ("b",))]),
    ],
)  # fmt: skip
def test_every_line_end_ends_a_record_in_every_format(tmp_path, fmt, lines, expected, end):
    """Lone CR line ends (old Mac files) are line ends in every format, as
    docs/failure-modes.md says: a text file of three CR-ended lines was read as one document
    (fastText input as one document with two labels, JSON Lines as invalid JSON)."""
    for last in (end, ""):  # with and without a final line end
        path = write(tmp_path / f"c.{'txt' if fmt in ('text', 'fasttext') else fmt}",
                     end.join(lines) + last)  # fmt: skip
        assert pairs(path, format=fmt, require_labels=fmt != "text") == expected


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize(
    "fmt, lines, expected",
    [
        ("text", ["refund\rcharged twice", "my parcel"],
         [("refund\rcharged twice", ()), ("my parcel", ())]),
        ("fasttext", ["__label__a\r__label__b x\ry", "__label__c z"],
         [("x\ry", ("a", "b")), ("z", ("c",))]),
        ("jsonl", ['{"text": "x y",\r"label": "a"}', '{"text": "z", "label": "b"}'],
         [("x y", ("a",)), ("z", ("b",))]),
        ("csv", ["label,text", "a\r,x\ry", 'b,"z\rw"', "c,v"],
         [("x\ry", ("a",)), ("z\rw", ("b",)), ("v", ("c",))]),
        ("tsv", ["label\ttext", "a\tx\ry", "b\tz"], [("x\ry", ("a",)), ("z", ("b",))]),
    ],
)  # fmt: skip
def test_a_lone_cr_inside_a_line_is_part_of_it(tmp_path, fmt, lines, expected, end):
    """Only \\n and \\r\\n end a line of a file that has \\n line ends: a lone \\r in a line
    split it in two, so `predict` printed 3 predictions for 2 lines (and a CSV row broke
    into two). It stays in its document, whitespace to the tokenisers, as in the API."""
    name = f"c.{'txt' if fmt in ('text', 'fasttext') else fmt}"
    path = write(tmp_path / name, end.join(lines) + end)
    assert pairs(path, format=fmt, require_labels=fmt != "text") == expected
    if fmt in ("csv", "tsv"):  # detected, and its delimiter sniffed, with the \r in it
        assert pairs(write(tmp_path / "d", end.join(lines) + end)) == expected


def test_a_lone_cr_ends_the_lines_of_a_file_without_line_feeds(tmp_path):
    """An old Mac file (\\r line ends, no \\n in its first 64 KiB) keeps its lines; the
    decision is the whole file's, also for the parts of one read on their own."""
    path = write(tmp_path / "m.txt", "a\rb\r" + "x" * 70_000 + "\nc\rd\n")
    assert list(iter_texts(path)) == ["a", "b", "x" * 70_000, "c", "d"]
    path = write(tmp_path / "n.txt", "x" * 70_000 + "\ra\rb\n")  # \n only past 64 KiB
    assert list(iter_texts(path)) == ["x" * 70_000 + "\ra\rb"]


@pytest.mark.parametrize("line", ["Title, refund not received", "Question, how do I pay"])
def test_plain_text_starting_with_a_common_word_is_text(line):
    """Words that begin sentences ('Title, …', 'Question, …') do not make a header of a
    document piped to predict."""
    assert detect_format(None, [line]) == "text"


def test_a_one_column_file_may_hold_a_document_named_as_its_header(tmp_path):
    """Only a row of two or more cells can be a repeated header (a one-column file's
    document 'text' under the header 'text' was refused)."""
    p = write(tmp_path / "d.csv", "text\nhello\ntext\n")
    assert [r.text for r in records(p, require_labels=False)] == ["hello", "text"]


def test_csv_rows_ending_in_cr_cr_lf_are_read(tmp_path):
    """csv.writer on a file opened without newline='' on Windows ends rows with \\r\\r\\n: a
    quoted last field was refused ('unexpected character after a closing quote')."""
    p = tmp_path / "w.csv"
    p.write_bytes(b'label,text\r\r\npos,"good, fun movie"\r\r\nneg,bad movie\r\r\n')
    assert pairs(p) == [("good, fun movie", ("pos",)), ("bad movie", ("neg",))]


def test_tsv_quoted_by_the_csv_module_with_indented_lines_reads(tmp_path):
    """A quoted TSV field holding indented code (a line break, then a tab) is no stray
    quote: csv.writer(dialect='excel-tab') files of code were refused."""
    import csv as _csv

    rows = [("code", "def f():\n\treturn 1\n\tpass"), ("prose", "a line\n  indented\ttab")]
    p = tmp_path / "c.tsv"
    with p.open("w", newline="") as f:
        w = _csv.writer(f, dialect="excel-tab")
        w.writerow(["label", "text"])
        w.writerows(rows)
    assert pairs(p) == [(text, (label,)) for label, text in rows]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_json_label_that_is_not_a_finite_number_is_refused(tmp_path, value):
    """Python's JSON reader takes NaN and Infinity: they became the classes 'nan' and
    'inf' (the estimators refuse such labels given from Python)."""
    p = write(
        tmp_path / "d.jsonl", f'{{"text": "a", "label": 1}}\n{{"text": "b", "label": {value}}}\n'
    )
    assert "line 2: the 'label' value is" in error(p) and "not a label" in error(p)
