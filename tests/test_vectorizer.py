"""Tests of bowclf.vectorizer (offline, fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import _reference_tokenizer as ref
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bowclf.vectorizer import BowVectorizer, token_hash, token_hashes
from bowclf.vectorizer import charclass as cc
from bowclf.vectorizer import keyindex as ki
from bowclf.vectorizer import table as tb
from bowclf.vectorizer import tokenizer as tz

CORPUS = [
    "The cat sat on the mat!",
    "The dog ate my homework... didn't it?",
    "",
    "State-of-the-art results, don't you think? I'm not sure.",
    "Naïve café über straße — l’homme ÉTÉ",
    "我爱北京天安门 日本語のテキストです",
    "Great movie ❤️👍🏽 #blessed @user 10/10",
    "   ",
    "the the the cat",
]

HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = st.sampled_from(
    list("abcXYZ019_ '-!?.,#@\t\n\x00\x01\x1c\xa0\u3000")
    + ["é", "e\u0301", "ß", "İ", "Σ", "日", "の", "👍", "🏽", "\ufe0f", "\u200d", "’"]
    + ["\uffff", "𝐀"]
    + [" the ", " don't ", "state-of-the-art", "--"]
)
TEXTS = st.lists(st.lists(PIECES, max_size=25).map("".join), max_size=12)


def _equal(a: sp.csr_array, b: sp.csr_array) -> bool:
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def _is_canonical(x: sp.csr_array) -> bool:
    for i in range(x.shape[0]):
        row = x.indices[x.indptr[i] : x.indptr[i + 1]]
        if np.any(np.diff(row) <= 0):
            return False
    return True


def _signed64(h: int) -> int:
    """fastText widens the uint32 hash through int32 into uint64."""
    return (h - (1 << 32) if h >= 1 << 31 else h) % (1 << 64)


def _ref_word_ngram_cols(tokens: list[str], n_max: int, buckets: int, n_vocab: int) -> list[int]:
    t = [_signed64(token_hash(w)) for w in tokens]
    out = []
    for i in range(len(t)):
        h = t[i]
        for j in range(i + 1, min(len(t), i + n_max)):
            h = (h * 116049371 + t[j]) % (1 << 64)
            out.append(n_vocab + h % buckets)
    return out


def _ref_char_cols(token: str, minn: int, maxn: int, buckets: int, n_vocab: int) -> list[int]:
    s = f"<{token}>"
    out = []
    for i in range(len(s)):
        for n in range(minn, maxn + 1):
            if i + n > len(s) or (n == 1 and (i == 0 or i == len(s) - 1)):
                continue
            out.append(n_vocab + token_hash(s[i : i + n]) % buckets)
    return out


def _row_counts(x: sp.csr_array, i: int) -> dict[int, float]:
    lo, hi = x.indptr[i], x.indptr[i + 1]
    return dict(zip(x.indices[lo:hi].tolist(), x.data[lo:hi].tolist(), strict=True))


def _counter(cols: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for c in cols:
        out[c] = out.get(c, 0.0) + 1.0
    return out


# ---------------------------------------------------------------- hashing


def test_token_hash_pinned_values() -> None:
    # Standard FNV-1a-32 test vectors (ASCII: the sign quirk does not apply).
    assert token_hash("") == 0x811C9DC5
    assert token_hash("a") == 0xE40C292C
    assert token_hash("foobar") == 0xBF9CF968
    # Non-ASCII: bytes are sign-extended as in fastText (regression pins).
    assert token_hash("é") == 1023043777
    assert token_hash("naïve") == 3440832043
    assert token_hash("日本") == 4164387409
    assert token_hash("👍") == 789718138
    assert token_hash("</s>") == 3617362777
    # the plain (unsigned-byte) FNV-1a of "é" differs: the quirk is real
    assert token_hash("é") != 513665217


@HYP
@given(st.lists(st.text(max_size=30), max_size=30))
def test_token_hashes_match_reference(tokens: list[str]) -> None:
    got = token_hashes(tokens)
    assert got.dtype == np.uint32
    assert got.tolist() == [token_hash(t) for t in tokens]


def test_word_ngram_and_char_ngram_columns_match_reference() -> None:
    docs = ["a b c d", "b c zzz a"]
    v = BowVectorizer(ngrams=3, buckets=1009, minn=2, maxn=3, min_count=1).fit(docs[:1])
    x = v.transform(docs)
    n_vocab = len(v.words_)
    assert x.shape == (2, n_vocab + 1009)
    for i, doc in enumerate(docs):
        tokens = doc.split()
        cols = [v.vocabulary_[w] for w in tokens if w in v.vocabulary_]
        cols += _ref_word_ngram_cols(tokens, 3, 1009, n_vocab)
        for w in tokens:
            cols += _ref_char_cols(w, 2, 3, 1009, n_vocab)
        assert _row_counts(x, i) == _counter(cols)


def test_oov_words_take_part_in_ngrams_only() -> None:
    v = BowVectorizer(ngrams=2, buckets=97).fit(["a b"])
    x = v.transform(["a unknown b"])
    n_vocab = len(v.words_)
    expected = [v.vocabulary_["a"], v.vocabulary_["b"]]
    expected += _ref_word_ngram_cols(["a", "unknown", "b"], 2, 97, n_vocab)
    assert _row_counts(x, 0) == _counter(expected)


def test_pinned_ngram_columns() -> None:
    v = BowVectorizer(ngrams=2, buckets=2_000_000).fit(["hello world"])
    x = v.transform(["hello world"])
    # vocabulary: hello, world (count 1 each, code-point order) + one bigram
    assert v.words_.tolist() == ["hello", "world"]
    assert x.indices.tolist() == [0, 1, 2 + 1_485_020]


def test_char_ngrams_skip_lone_boundary_markers() -> None:
    v = BowVectorizer(minn=1, maxn=1, buckets=10_007).fit(["ab"])
    x = v.transform(["ab"])
    cols = [0] + [1 + token_hash(c) % 10_007 for c in "ab"]  # not "<" nor ">"
    assert _row_counts(x, 0) == _counter(cols)


def test_matches_real_fasttext_ids() -> None:
    fasttext = pytest.importorskip("fasttext")
    lines = ["the cat sat on the mat", "naïve café über", "日本 語 👍 é", "the dog ate the cat"]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bowclf_ft_{os.getpid()}.txt")
    with open(path, "w", encoding="utf-8") as f:
        # repeated, so that each of fastText's training threads has lines to read
        f.write("".join(f"__label__{i % 2} {line}\n" for i, line in enumerate(lines)) * 25)
    try:
        configs = ({"wordNgrams": 3, "minn": 0, "maxn": 0}, {"wordNgrams": 1, "minn": 2, "maxn": 4})
        for kw in configs:
            # thread=12: fastText fills its input matrix with random values in tenths, one
            # per training thread, and leaves the other tenths as the allocator returned
            # them; with fewer than 10 threads those rows are leftover heap bytes, sometimes
            # NaN once the process has churned its heap (as in a full test run), and training
            # then fails with "Encountered NaN".
            m = fasttext.train_supervised(
                path,
                bucket=1000,
                dim=4,
                epoch=1,
                lr=0.0,
                minCount=1,
                verbose=0,
                thread=12,
                **kw,
            )
            # a known input matrix rather than the random initial one
            shape = m.get_input_matrix().shape
            rng = np.random.default_rng(0)
            m.set_matrices(rng.standard_normal(shape).astype(np.float32), m.get_output_matrix())
            nwords = len(m.get_words())
            inp = m.get_input_matrix()
            # fastText appends "</s>" to every line: add it as a literal token
            docs = [f"{line} </s>" for line in lines] + ["the unknownword cat </s>"]
            v = BowVectorizer(
                tokenizer="whitespace",
                lowercase=False,
                ngrams=kw["wordNgrams"],
                buckets=1000,
                minn=kw["minn"],
                maxn=kw["maxn"],
            ).fit(docs[:-1])
            x = v.transform(docs).toarray()
            if kw["maxn"]:  # fastText gives "</s>" no subwords
                eos = v.transform(["</s>"]).toarray()[0]
                eos[v.vocabulary_["</s>"]] = 0
                x = x - eos
            rows = np.concatenate([[m.get_word_id(w) for w in v.words_], nwords + np.arange(1000)])
            for doc, counts in zip(docs, x, strict=True):
                ours = counts @ inp[rows] / counts.sum()
                theirs = m.get_sentence_vector(doc[: -len(" </s>")])
                np.testing.assert_allclose(
                    ours, theirs, rtol=1e-5, atol=1e-5, err_msg=f"{kw} {doc!r}"
                )
    finally:
        os.remove(path)


def test_ngram_ids_identical_across_hash_seeds() -> None:
    code = textwrap.dedent(
        """
        import hashlib, sys
        from bowclf.vectorizer import BowVectorizer
        docs = [f"w{i % 13} w{i % 7} é{i % 5} 日本 {'x' * (i % 4)} !" for i in range(300)]
        v = BowVectorizer(ngrams=3, buckets=10007, minn=2, maxn=4, min_count=2, max_features=9)
        x = v.fit_transform(docs)
        h = hashlib.sha256()
        for a in (x.indptr, x.indices, x.data):
            h.update(a.tobytes())
        h.update("|".join(v.words_.tolist()).encode())
        print(h.hexdigest())
        """
    )
    digests = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1]
    assert len(digests[0]) == 64


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 10_000])
def test_chunking_and_generators_do_not_change_output(chunk_size: int) -> None:
    params = {"ngrams": 3, "buckets": 5003, "minn": 2, "maxn": 3}
    ref = BowVectorizer(**params).fit(CORPUS)
    want = ref.transform(CORPUS)
    v = BowVectorizer(chunk_size=chunk_size, **params)
    assert _equal(v.fit_transform(iter(CORPUS)), want)
    assert _equal(v.fit(d for d in CORPUS).transform(d for d in CORPUS), want)
    assert v.vocabulary_ == ref.vocabulary_
    assert np.array_equal(v.word_counts_, ref.word_counts_)


def test_character_batches_do_not_change_output(monkeypatch: pytest.MonkeyPatch) -> None:
    v = BowVectorizer(ngrams=2, buckets=101)
    want = v.fit_transform(CORPUS * 3)
    monkeypatch.setattr(tz, "_MAX_BATCH_CHARS", 10)
    assert _equal(v.fit_transform(CORPUS * 3), want)
    assert _equal(v.transform(CORPUS * 3), want)


@HYP
@given(TEXTS, st.integers(1, 5), st.sampled_from(["default", "whitespace"]))
def test_chunking_invariance_random_texts(docs: list[str], chunk_size: int, tok: str) -> None:
    params = {"tokenizer": tok, "ngrams": 2, "buckets": 31, "minn": 1, "maxn": 2}
    whole = BowVectorizer(**params)
    try:
        want = whole.fit_transform(docs)
    except ValueError:  # corpus without any token
        assert whole.count_tokens(docs) == 0
        return
    chunked = BowVectorizer(chunk_size=chunk_size, **params)
    assert _equal(chunked.fit_transform(iter(docs)), want)
    assert _equal(chunked.transform(iter(docs)), want)
    assert _equal(whole.transform(docs), want)
    # one document at a time gives the same rows
    rows = sp.vstack([whole.transform([d]) for d in docs], format="csr")
    assert np.array_equal(rows.toarray(), want.toarray())
    assert whole.count_tokens(docs) == sum(len(whole.tokenize(d)) for d in docs)


# ---------------------------------------------------------------- tokenisation


def test_default_tokenisation_examples() -> None:
    tok = BowVectorizer().tokenize
    assert tok("Don’t stop: State-of-the-art!! -- it's 'quoted' a--b") == [
        "don't",
        "stop",
        ":",
        "state-of-the-art",
        "!",
        "!",
        "-",
        "-",
        "it's",
        "'",
        "quoted",
        "'",
        "a",
        "-",
        "-",
        "b",
    ]
    assert tok("Naïve CAFÉ über straße, l'homme") == [
        "naïve",
        "café",
        "über",
        "straße",
        ",",
        "l'homme",
    ]
    assert tok("cafe\u0301 हिन्दी") == ["cafe\u0301", "हिन्दी"]  # combining marks stay in words
    assert tok("我爱北京 日本語のテキスト") == list("我爱北京日本語のテキスト")
    # symbols, variation selectors and ZWJ are tokens too (they carry signal in tweets)
    assert tok("love ❤️👍🏽 it ‍") == ["love", "❤", "\ufe0f", "👍", "🏽", "it", "\u200d"]
    assert tok("#blessed @user 10/10 ¿qué? ！") == [
        "#",
        "blessed",
        "@",
        "user",
        "10",
        "/",
        "10",
        "¿",
        "qué",
        "?",
        "！",
    ]
    assert tok("tab\tbell\x07nul\x00end") == ["tab", "bell", "nul", "end"]  # controls separate
    assert tok("한국어 텍스트") == ["한국어", "텍스트"]
    assert BowVectorizer(lowercase=False).tokenize("The CAT") == ["The", "CAT"]


def _batch_tokens(tk: tz._Tokenizer, docs: list[str]) -> list[list[str]]:
    """Tokens of each document from one ``iter_segments`` call."""
    got: list[list[str]] = [[] for _ in docs]
    for seg in tk.iter_segments(docs):
        where = range(len(docs)) if seg.docs is None else seg.docs.tolist()
        tokens = seg.tokens if seg.spans is None else seg.spans.tokens()
        if seg.lens is None:
            split: list[list[str]] = [[]]
            for t in tokens:
                if t == tz._SEP:
                    split.append([])
                else:
                    split[-1].append(t)
        else:
            bounds = np.cumsum(np.concatenate([[0], seg.lens]))
            split = [tokens[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        for i, toks in zip(where, split, strict=True):
            got[i] = toks
    return got


def _string_path_tokenizer(lowercase: bool) -> tz._Tokenizer:
    """The previous (reference) tokenizer: str.translate/split and one regex call."""
    return ref.ReferenceTokenizer(lowercase, "default", None)


def _use_string_paths(mp: pytest.MonkeyPatch) -> None:
    """Make BowVectorizer tokenise with :func:`_string_path_tokenizer`'s routes."""

    def make(self: BowVectorizer) -> tz._Tokenizer:
        return ref.ReferenceTokenizer(self.lowercase, self.tokenizer, self.token_pattern)

    mp.setattr(BowVectorizer, "_make_tokenizer", make)


def _crowd_key_index(mp: pytest.MonkeyPatch, level: int) -> None:
    """Stress the key index: level 1-2 start it at 2 or 4 slots (it grows on
    almost every batch), level 1 and 3 also put every key at one of two home
    slots (long probe chains); level 4 leaves it as it is."""
    if level <= 2:
        mp.setattr(ki, "_MIN_BITS", level)
    if level in (1, 3):

        def crowded(key1: np.ndarray, key2: np.ndarray | None, shift: np.uint64) -> np.ndarray:
            mixed = key1 if key2 is None else key1 ^ key2
            return (mixed & np.uint64(1)).view(np.int64)

        mp.setattr(ki, "_slot_hash", crowded)


# ASCII pieces around the fast path's edge cases: joiners, punctuation, blanks,
# the old separators, tokens of exactly 8 / more than 8 bytes, upper case
ASCII_PIECES = st.sampled_from(
    list("aZ09_ '-!?.,#@~\t\n\x00\x01\x1c\x1f\x7f")
    + ["--", "-'", "''", "_-_", "don't", "x-y-z", "\x01 ", " \x01 ", "abcdefgh", "ABCDEFGH"]
    + ["abcdefghi", "12345678", "123456789", "Hello-World's", "state-of-the-art", "a" * 17]
    + ["ab", "abc", "ba", "abcd", "abcdefg", "th", "the", "them"]  # shared prefixes
)
ASCII_TEXTS = st.lists(st.lists(ASCII_PIECES, max_size=20).map("".join), max_size=12)


@HYP
@given(st.lists(st.text(st.characters(max_codepoint=127), max_size=60), max_size=6), st.booleans())
def test_ascii_fast_path_equals_regex(docs: list[str], lowercase: bool) -> None:
    tk = tz._Tokenizer(lowercase, "default", None)
    public = ref.default_pattern()
    want = [public.findall(d.lower() if lowercase else d) for d in docs]
    assert _batch_tokens(tk, docs) == want
    assert _batch_tokens(_string_path_tokenizer(lowercase), docs) == want


@HYP
@given(st.one_of(ASCII_TEXTS, TEXTS), st.booleans())
def test_vectorised_tokens_equal_string_paths_and_regex(docs: list[str], lowercase: bool) -> None:
    tk = tz._Tokenizer(lowercase, "default", None)
    want = [tk.tokenize(d) for d in docs]  # one regex call per document
    assert _batch_tokens(tk, docs) == want
    assert _batch_tokens(_string_path_tokenizer(lowercase), docs) == want
    if docs:
        assert [len(t) for t in want] == _batch_lens(tk, docs)


def _batch_lens(tk: tz._Tokenizer, docs: list[str]) -> list[int]:
    out = [0] * len(docs)
    for seg in tk.iter_segments(docs):
        if seg.lens is not None:
            where = range(len(docs)) if seg.docs is None else seg.docs.tolist()
            for i, n in zip(where, seg.lens.tolist(), strict=True):
                out[i] = n
    return out


def _fitted_outputs(docs: list[str], other: list[str], params: dict) -> list[object]:
    v = BowVectorizer(**params)
    try:
        x = v.fit_transform(docs)
    except ValueError:
        return ["no tokens", v.count_tokens(docs)]
    out: list[object] = [x, v.transform(docs), v.transform(other)]
    out += [list(v.vocabulary_.items()), v.word_counts_.tolist(), v.n_tokens_]
    w = BowVectorizer(**params).fit(docs)
    out += [list(w.vocabulary_.items()), w.transform(other), v.count_tokens(docs + other)]
    return out


def _same_outputs(a: list[object], b: list[object]) -> bool:
    return len(a) == len(b) and all(
        _equal(x, y) if sp.issparse(x) else x == y for x, y in zip(a, b, strict=True)
    )


@HYP
@given(
    st.one_of(ASCII_TEXTS, TEXTS),
    st.one_of(ASCII_TEXTS, TEXTS),
    st.sampled_from([1, 7, 50, 1 << 20]),
    st.integers(1, 4),
    st.booleans(),
)
def test_vectorised_path_equals_string_path(
    docs: list[str], other: list[str], batch_chars: int, crowding: int, lowercase: bool
) -> None:
    """Same matrices, vocabulary and counts as the previous string path, with many
    batches and a crowded key index (growth and long probe chains); for unigrams
    (no ids for unknown tokens) and with n-grams (ids for every token)."""
    for params in (
        {"lowercase": lowercase},
        {"lowercase": lowercase, "ngrams": 2, "buckets": 31, "minn": 1, "maxn": 3},
    ):
        with pytest.MonkeyPatch.context() as mp:
            _use_string_paths(mp)
            want = _fitted_outputs(docs, other, params)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tz, "_MAX_BATCH_CHARS", batch_chars)
            _crowd_key_index(mp, crowding)
            got = _fitted_outputs(docs, other, params)
        assert _same_outputs(got, want)


@pytest.mark.parametrize("crowding", [1, 2, 3, 4])
def test_vectorised_path_many_batches(crowding: int, monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["a", "bb", "the", "don't", "Eight888", "nine99999", "café", "日本", "x-y", "Σας"]
    words += ["ab", "abc", "abcd", "b", "ba", "th", "them", "them-all", "eight888", "eight8888"]
    words += ["é", "👍🏽", "\ud83d", "ü-b", "日", "本"]  # one-character keys, a lone surrogate
    # two-word keys (9 to 16 bytes) sharing their first 8 bytes, and longer tokens
    words += ["abcdefgh", "abcdefghi", "abcdefghij", "abcdefghijklmnop", "abcdefghijklmnopq"]
    words += ["abcdefgh-ijklmnop", "Abcdefghijklmno", "nine99999-nine99999", "eight888eight888"]
    rng = np.random.default_rng(0)
    docs = [
        " ".join(rng.choice(words, size=rng.integers(0, 30)).tolist()) + rng.choice([".", "!", ""])
        for _ in range(300)
    ]
    for params in ({}, {"ngrams": 3, "buckets": 1009, "minn": 2, "maxn": 4}):
        with pytest.MonkeyPatch.context() as mp:
            _use_string_paths(mp)
            want = _fitted_outputs(docs, docs[::-1], params)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tz, "_MAX_BATCH_CHARS", 200)
            _crowd_key_index(mp, crowding)
            assert _same_outputs(_fitted_outputs(docs, docs[::-1], params), want)


def test_batches_cut_by_characters() -> None:
    docs = ["", "", "abc", "", "defgh", "i", ""]
    for max_chars in (0, 1, 3, 4, 100):
        batches = list(tz._batches(docs, 10, max_chars))
        assert sum(batches, []) == docs and all(batches)
        # a batch ends at the first document that brings it to max_chars characters
        for b in batches[:-1]:
            assert sum(map(len, b)) >= max_chars and sum(map(len, b[:-1])) < max(max_chars, 1)
    assert [len(b) for b in tz._batches(docs, 2, 100)] == [2, 2, 2, 1]


def _word_keys_full(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``key1`` and the second key word of every word (0 for one-word keys)."""
    key1, two, key2 = ki._word_keys(words)
    second = np.zeros(len(words), np.uint64)
    second[two] = key2
    return key1, second


def _find(index: ki._KeyIndex, key1: np.ndarray, key2: np.ndarray) -> np.ndarray:
    two = np.flatnonzero(key2)
    ids, missing = index.find(key1, two, key2[two])
    assert np.array_equal(missing, np.flatnonzero(ids < 0))
    return ids


def test_word_keys_are_the_token_keys() -> None:
    """The key index is built from the words with the keys their tokens get."""
    words = [
        "a",
        "ab",
        "abcdefgh",
        "abcdefghi",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
        "don't",
        "x-y",
        "!",
        "é",
        "日",
        "👍",
        "café",
        "naïve-ish",
        "0123456789",
    ]
    tk = tz._Tokenizer(True, "default", None)
    for doc in (" ".join(words), " ".join(words) + " 日本"):  # ASCII-only and Unicode segments
        seg = next(s for s in tk.iter_segments([doc]) if s.spans is not None)
        assert seg.spans.tokens()[: len(words)] == words
        keys, keyed, two, keys2 = ki._span_keys(seg.spans)
        second = np.zeros(len(keys), np.uint64)
        second[two] = keys2
        key1, key2 = _word_keys_full(words)
        n = len(words)
        assert np.array_equal(np.where(keyed[:n], keys[:n], ki._NO_KEY), key1)
        assert np.array_equal(second[:n], key2)
    assert (key1 != ki._NO_KEY).sum() == 12  # all but café, naïve-ish and the 17-byte word


@pytest.mark.parametrize("grow", [False, True])
def test_key_index_finds_every_word_and_nothing_else(grow: bool) -> None:
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    words = sorted({"".join(rng.choice(letters, rng.integers(1, 20))) for _ in range(3000)})
    words += ["é", "日", "👍"]
    key1, key2 = _word_keys_full(words)
    keyed = np.flatnonzero(key1 != ki._NO_KEY)
    if grow:  # added in steps of growing size, from the smallest index
        index = ki._KeyIndex()
        for part in np.array_split(keyed, [1, 3, 10, 100, 1000]):
            k2 = key2[part]
            two = np.flatnonzero(k2)
            index.add(key1[part], two, k2[two], part.astype(np.int32))
    else:
        index = ki._KeyIndex.of_words(words)
    assert index.size == len(keyed)
    assert np.array_equal(_find(index, key1[keyed], key2[keyed]), keyed)  # every keyed word
    unkeyed = np.where(key1 == ki._NO_KEY, ki._UNKEYED, key1)  # words without a key
    assert (_find(index, unkeyed, key2)[key1 == ki._NO_KEY] == -1).all()
    others = [w + "z" for w in words[:500]] + ["zz" + w for w in words[:500]] + ["ü"]
    others = [w for w in others if w not in set(words)]
    o1, o2 = _word_keys_full(others)
    at = o1 != ki._NO_KEY
    assert (_find(index, o1[at], o2[at]) == -1).all()
    assert len(index.slots) >= 4 * len(keyed)  # at most a quarter full


def test_transform_uses_the_index_of_the_current_vocabulary() -> None:
    v = BowVectorizer().fit(["a b c"])
    assert v.transform(["c a"]).toarray().tolist() == [[1, 0, 1]]
    v.fit(["c c b"])  # a new vocabulary: c, b
    assert v.transform(["c a b"]).toarray().tolist() == [[1, 1]]
    w = BowVectorizer().set_fitted_state(BowVectorizer().fit(["x y y"]).get_fitted_state())
    assert w.transform(["y x z"]).toarray().tolist() == [[1, 1]]


@pytest.mark.parametrize("crowding", [1, 4])
@pytest.mark.parametrize("vectorised", [True, False])
def test_transform_forgets_unknown_tokens_between_batches(
    crowding: int, vectorised: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transform drops unknown tokens from its table after each batch; unknown
    tokens seen again in later batches (through the key cache or the dict) give
    the same rows as one document per call (a fresh table each time)."""
    known = ["a", "the", "don't", "café", "日", "eight888", "nine99999"]
    unknown = ["b", "zz", "won't", "naïve", "本", "eight8888", "ten1234567", "👍🏽", "x-y"]
    rng = np.random.default_rng(1)
    docs = [
        " ".join(rng.choice(known + unknown, size=rng.integers(0, 12)).tolist()) for _ in range(200)
    ]
    if not vectorised:
        _use_string_paths(monkeypatch)
    _crowd_key_index(monkeypatch, crowding)
    for params in ({}, {"ngrams": 3, "buckets": 1009, "minn": 2, "maxn": 4}):
        v = BowVectorizer(**params).fit([" ".join(known)])
        want = sp.vstack([v.transform([d]) for d in docs], format="csr")
        monkeypatch.setattr(tz, "_MAX_BATCH_CHARS", 60)  # many batches
        assert _equal(v.transform(docs), want)
        monkeypatch.setattr(tz, "_MAX_BATCH_CHARS", 1 << 19)
    # the table keeps the ids (and their data) but not the unknown strings
    tk = tz._Tokenizer(True, "default", None)
    table = tb._TokenTable(tk, vocabulary=v.vocabulary_, hashes=True)
    ids, _ = table.encode(docs[:50])
    n_ids = len(table)
    table.forget_unknown()
    assert len(table) == n_ids
    assert set(table.lookup) <= {tz._SEP, ref._ASCII_SEP}  # vocabulary words are not copied
    again, _ = table.encode(docs[:50])

    def columns(i: np.ndarray) -> np.ndarray:  # vocabulary column, -1 outside it
        return np.where(i < table.n_known, i, -1)

    assert np.array_equal(columns(again), columns(ids))
    assert np.array_equal(table.hashes.array[again], table.hashes.array[ids])


def test_packed_keys_and_long_tokens() -> None:
    tk = tz._Tokenizer(True, "default", None)
    docs = ["ABCDEFGH abcdefghi a", "", "\x01", "abcdefgh ABCDEFGHI don't-stop", "café abcdefgh"]
    assert _batch_tokens(tk, docs) == [
        ["abcdefgh", "abcdefghi", "a"],
        [],
        [],
        ["abcdefgh", "abcdefghi", "don't-stop"],
        ["café", "abcdefgh"],
    ]
    v = BowVectorizer().fit(docs)
    assert v.vocabulary_ == {"abcdefgh": 0, "abcdefghi": 1, "a": 2, "café": 3, "don't-stop": 4}
    assert v.transform(docs).toarray().tolist() == [
        [1, 1, 1, 0, 0],
        [0] * 5,
        [0] * 5,
        [1, 1, 0, 0, 1],
        [1, 0, 0, 1, 0],
    ]


def _ref_whitespace(doc: str) -> list[str]:
    out, cur = [], []
    for c in doc:
        if c in " \t\n\v\f\r\0":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        out.append("".join(cur))
    return out


@HYP
@given(TEXTS)
def test_whitespace_mode_matches_fasttext_rule(docs: list[str]) -> None:
    v = BowVectorizer(tokenizer="whitespace", lowercase=False)
    assert [v.tokenize(d) for d in docs] == [_ref_whitespace(d) for d in docs]
    low = BowVectorizer(tokenizer="whitespace")
    assert [low.tokenize(d) for d in docs] == [_ref_whitespace(d.lower()) for d in docs]


def test_whitespace_mode_keeps_punctuation_and_unicode_spaces() -> None:
    v = BowVectorizer(tokenizer="whitespace", lowercase=False)
    assert v.tokenize("Hi,\u00a0there!\x00x\u3000y\x1cz") == ["Hi,\u00a0there!", "x\u3000y\x1cz"]
    x = v.fit_transform(["a b", "b\tc"])
    assert v.words_.tolist() == ["b", "a", "c"]
    assert x.toarray().tolist() == [[1, 1, 0], [1, 0, 1]]


def test_custom_token_pattern_and_callable() -> None:
    v = BowVectorizer(token_pattern=r"(?u)\b\w\w+\b").fit(["a bb ccc bb"])
    assert v.words_.tolist() == ["bb", "ccc"]
    v = BowVectorizer(token_pattern=r"<(\w+)>").fit(["<x> y <z>"])
    assert sorted(v.vocabulary_) == ["x", "z"]
    v = BowVectorizer(tokenizer=lambda s: s.split("|"), lowercase=False).fit(["A|b", "b|"])
    assert v.words_.tolist() == ["b", "", "A"]


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_order_min_count_max_features() -> None:
    docs = ["b a c a", "c d b a", "e"]
    v = BowVectorizer().fit(docs)
    assert v.words_.tolist() == ["a", "b", "c", "d", "e"]
    assert v.word_counts_.tolist() == [3, 2, 2, 1, 1]
    assert v.word_counts_.dtype == np.int64 and v.words_.dtype.kind == "U"
    assert v.vocabulary_ == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}
    assert v.n_tokens_ == 9 and v.n_features_out_ == 5
    assert BowVectorizer(min_count=2).fit(docs).words_.tolist() == ["a", "b", "c"]
    # ties at the cut are broken by code-point order
    assert BowVectorizer(max_features=2).fit(docs).words_.tolist() == ["a", "b"]
    assert BowVectorizer(max_features=4).fit(docs).words_.tolist() == ["a", "b", "c", "d"]
    assert BowVectorizer(max_features=50).fit(docs).words_.tolist() == ["a", "b", "c", "d", "e"]
    assert BowVectorizer(min_count=2, max_features=1).fit(docs).words_.tolist() == ["a"]
    # document order does not matter
    assert BowVectorizer().fit(docs[::-1]).words_.tolist() == v.words_.tolist()


def test_unknown_words_dropped_and_unigram_width() -> None:
    v = BowVectorizer(buckets=123).fit(["a b"])  # buckets unused without n-grams
    x = v.transform(["a z z b b"])
    assert x.shape == (1, 2)
    assert x.toarray().tolist() == [[1, 2]]
    assert v.get_feature_names_out().tolist() == ["a", "b"]


def test_feature_names_with_buckets() -> None:
    v = BowVectorizer(ngrams=2, buckets=3).fit(["x y"])
    assert v.get_feature_names_out().tolist() == ["x", "y", "ngram#0", "ngram#1", "ngram#2"]
    assert v.n_features_out_ == 5


# ---------------------------------------------------------------- empty input


def test_empty_documents_give_empty_rows() -> None:
    v = BowVectorizer(ngrams=2, buckets=11, minn=2, maxn=3)
    x = v.fit_transform(["", "a b", "  ", "!?...", ""])
    assert x.shape[0] == 5
    assert np.diff(x.indptr).tolist()[0] == 0 and x[[0, 2, 4]].nnz == 0
    assert v.transform([]).shape == (0, v.n_features_out_)
    assert v.transform(["", "zzz"])[[0]].nnz == 0


@pytest.mark.parametrize("docs", [[], [""], ["", "   ", "\t\x07"]])
def test_fit_without_tokens_raises(docs: list[str]) -> None:
    with pytest.raises(ValueError, match="empty vocabulary"):
        BowVectorizer().fit(docs)
    with pytest.raises(ValueError, match="empty vocabulary"):
        BowVectorizer().fit_transform(docs)


def test_min_count_too_high_raises() -> None:
    with pytest.raises(ValueError, match="min_count"):
        BowVectorizer(min_count=5).fit(["a b"])


# ---------------------------------------------------------------- output format


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, "uint32"])
def test_output_format(dtype: object) -> None:
    v = BowVectorizer(ngrams=2, buckets=1000, dtype=dtype)
    for x in (v.fit_transform(CORPUS), v.transform(CORPUS)):
        assert isinstance(x, sp.csr_array) and not isinstance(x, sp.spmatrix)
        assert x.dtype == np.dtype(dtype)
        assert x.indices.dtype == np.int32 and x.indptr.dtype == np.int32
        assert x.has_canonical_format and _is_canonical(x)
        assert x.shape == (len(CORPUS), v.n_features_out_)


def test_counts_and_duplicates_summed() -> None:
    v = BowVectorizer().fit(["a a a b"])
    assert v.transform(["a b a", "b"]).toarray().tolist() == [[2, 1], [0, 1]]


def test_sklearn_pipeline() -> None:
    docs = ["good great fun", "bad awful boring", "great fun", "boring bad"] * 5
    y = [1, 0, 1, 0] * 5
    pipe = make_pipeline(BowVectorizer(ngrams=2, buckets=64), LogisticRegression())
    assert pipe.fit(docs, y).score(docs, y) == 1.0


# ---------------------------------------------------------------- errors


def test_input_errors() -> None:
    v = BowVectorizer()
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        v.fit("just one string")
    v.fit(["a"])
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        v.transform("a")
    with pytest.raises(TypeError, match="document 1 is int, not str"):
        v.transform(["a", 3])
    with pytest.raises(ValueError, match="document 1 is int, not str"):  # both, as TextClassifier
        v.transform(["a", 3])
    # bytes are UTF-8 text, as for scikit-learn's vectorizers
    assert BowVectorizer().fit([b"a", "caf\xe9".encode()]).words_.tolist() == ["a", "caf\xe9"]
    with pytest.raises(ValueError, match=r"document 1 is bytes that are not UTF-8 \(unexpected"):
        BowVectorizer().fit(["a", b"caf\xe9"])
    with pytest.raises(TypeError, match="iterable of str"):
        BowVectorizer().fit(42)
    with pytest.raises(NotFittedError):
        BowVectorizer().transform(["a"])
    assert not hasattr(BowVectorizer(), "n_features_out_")


@pytest.mark.parametrize(
    "params",
    [
        {"ngrams": 0},
        {"buckets": -1},
        {"tokenizer": "spaces"},
        {"min_count": 0},
        {"max_features": 0},
        {"minn": -1},
        {"chunk_size": 0},
        {"lowercase": "yes"},
        {"token_pattern": 3},
        {"buckets": 0, "ngrams": 2},
        {"buckets": 0, "minn": 1, "maxn": 2},
        {"minn": 3, "maxn": 2},
        {"minn": 0, "maxn": 2},
        {"minn": 2, "maxn": 0},
        {"token_pattern": r"\w+", "tokenizer": "whitespace"},
        {"token_pattern": r"(a)(b)"},
        {"token_pattern": r"("},
        {"dtype": object},
        {"dtype": np.float16},  # not supported by scipy.sparse
        {"dtype": np.int8},  # counts above 127 would wrap around
        {"dtype": np.uint16},
        {"dtype": "not a dtype"},
    ],
)
def test_bad_params_raise(params: dict) -> None:
    with pytest.raises(ValueError):
        BowVectorizer(**params).fit(["a b"])


@pytest.mark.parametrize("ngrams", [1, 2])
@pytest.mark.parametrize("token", [1, b"ab"])
def test_a_tokenizer_returning_non_str_tokens_is_named(ngrams, token) -> None:
    v = BowVectorizer(tokenizer=lambda s: [token, "x"], ngrams=ngrams, buckets=10)
    with pytest.raises(TypeError, match="tokenizer must return str tokens"):
        v.fit_transform(["ab"])


def test_bad_params_raise_outside_fit() -> None:
    with pytest.raises(ValueError):
        BowVectorizer(ngrams=0).tokenize("a")
    with pytest.raises(ValueError):
        BowVectorizer(tokenizer="spaces").count_tokens(["a"])
    v = BowVectorizer().fit(["a"])
    v.set_params(min_count=0)
    with pytest.raises(ValueError):
        v.transform(["a"])


def test_params_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        BowVectorizer(False)  # type: ignore[misc]


# ---------------------------------------------------------------- sklearn / state


def test_clone_and_get_params() -> None:
    v = BowVectorizer(ngrams=2, buckets=10, min_count=2, tokenizer="whitespace")
    params = v.get_params()
    assert params["ngrams"] == 2 and params["tokenizer"] == "whitespace"
    assert params["dtype"] is np.float32
    c = clone(v)
    assert c.get_params() == params and not hasattr(c, "vocabulary_")
    v.fit(["a a b"])
    assert not hasattr(clone(v), "vocabulary_")


def test_fitted_state_round_trip() -> None:
    params = {"ngrams": 2, "buckets": 101, "minn": 2, "maxn": 3}
    v = BowVectorizer(**params).fit(CORPUS)
    state = v.get_fitted_state()
    assert set(state) == {"version", "words", "word_counts", "n_tokens"}
    for arr in state.values():
        assert isinstance(arr, np.ndarray) and arr.dtype.kind in "iuU"
    # simulate a save/load without pickle
    state = {k: np.array(a.tolist(), dtype=a.dtype) for k, a in state.items()}
    w = BowVectorizer(**params).set_fitted_state(state)
    assert w.vocabulary_ == v.vocabulary_ and w.n_tokens_ == v.n_tokens_
    assert np.array_equal(w.words_, v.words_)
    assert np.array_equal(w.word_counts_, v.word_counts_)
    assert _equal(w.transform(CORPUS), v.transform(CORPUS))
    assert np.array_equal(w.get_feature_names_out(), v.get_feature_names_out())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("words"),
        lambda s: s.update(version=np.array([99])),
        lambda s: s.update(words=s["words"].astype(object)),
        lambda s: s.update(words=np.array(["a", "a"])),
        lambda s: s.update(word_counts=s["word_counts"][:1]),
        lambda s: s.update(n_tokens=np.array(3.0)),
    ],
)
def test_bad_fitted_state_raises(mutate) -> None:
    state = dict(BowVectorizer().fit(["a b b"]).get_fitted_state())
    mutate(state)
    with pytest.raises(ValueError):
        BowVectorizer().set_fitted_state(state)


def test_word_table_matches_unicode_database() -> None:
    import unicodedata

    if unicodedata.unidata_version != cc._WORD_RANGES_UNICODE:
        pytest.skip("the frozen word table is for another Unicode version")
    assert ref.scan_word_ranges() == cc._parse_ranges(cc._WORD_RANGES)


def test_code_point_classes_cover_every_code_point() -> None:
    """The BMP table plus the astral ranges give each code point the class of
    the rule written out over all 0x110000 code points."""
    ranges = cc._parse_ranges(cc._WORD_RANGES)
    assert not [(a, b) for a, b in ranges if a <= 0xFFFF < b]  # none crosses the BMP edge
    want = np.full(0x110000, cc._PUNCT, np.uint8)
    for a, b in ranges:
        want[a : b + 1] = cc._WORD if b <= 0xFFFF else cc._ASTRAL
    want[:128] = cc._ASCII_CLASS[:128]
    for c in range(0x3001):
        if chr(c).isspace():
            want[c] = cc._BLANK
    want[0x00:0x20] = want[0x7F:0xA0] = want[0xFFFF] = cc._BLANK
    cp = np.arange(0x110000, dtype=np.uint32)
    assert np.array_equal(cc._code_point_classes(cp), want)
    assert np.array_equal(cc._code_point_classes(cp[::-7]), want[::-7])


@pytest.mark.parametrize("tok", ["default", "whitespace"])
def test_documents_containing_batch_separators(tok: str) -> None:
    docs = ["a \uffff b", "c \x01 d", "plain text", "\uffff", "\x01", "e\x01f", "日 \x01"]
    v = BowVectorizer(tokenizer=tok, ngrams=2, buckets=53)
    x = v.fit_transform(docs)
    assert _equal(v.transform(docs), x)
    one_by_one = sp.vstack([v.transform([d]) for d in docs], format="csr")
    assert np.array_equal(one_by_one.toarray(), x.toarray())
    if tok == "default":
        assert [v.tokenize(d) for d in docs] == [
            ["a", "b"],
            ["c", "d"],
            ["plain", "text"],
            [],
            [],
            ["e", "f"],
            ["日"],
        ]
    else:
        assert [v.tokenize(d) for d in docs] == [_ref_whitespace(d) for d in docs]
    assert v.count_tokens(docs) == sum(len(v.tokenize(d)) for d in docs)


WORDS = st.lists(
    st.text(st.characters(codec="utf-8") | st.sampled_from("aé日👍\ud800<>"), max_size=12),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(WORDS, st.integers(1, 7), st.integers(0, 4))
def test_subword_hashes_match_the_pure_python_subwords(words, minn, extra) -> None:
    """The vectorised subword hashes are those of ``char_ngrams``'s strings, word by word
    and in its order (start, then length), lone surrogates and 4-byte characters included."""
    from bowclf.vectorizer.hashing import char_ngrams, subword_hashes

    maxn = minn + extra
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    owner, hashes = subword_hashes(encoded, minn, maxn)
    grams = [char_ngrams(w, minn, maxn) for w in words]
    assert owner.tolist() == [i for i, g in enumerate(grams) for _ in g]
    assert hashes.tolist() == token_hashes([s for g in grams for s in g]).tolist()


def test_subword_hashes_read_minn_0_as_1() -> None:
    """fastText files may say minn=0 (its loop counts from one character): the same subwords
    as minn=1, every output slot written (unwritten ones held garbage)."""
    from bowclf.vectorizer.hashing import subword_hashes

    words = [b"ab", "caf\xe9".encode(), b""]
    for maxn in (1, 2, 5):
        zero, one = subword_hashes(words, 0, maxn), subword_hashes(words, 1, maxn)
        assert zero[0].tolist() == one[0].tolist() and zero[1].tolist() == one[1].tolist()


def test_a_huge_word_with_subwords_takes_memory_in_proportion() -> None:
    """A 200,000-character token with ``minn=3, maxn=6`` has 800,000 subwords: built as
    Python strings they took ~170 MB; hashed in place, a few bytes each beyond the row."""
    import tracemalloc

    rng = np.random.default_rng(0)
    word = "".join(rng.choice(list("abcdefgé"), 200_000))
    v = BowVectorizer(minn=3, maxn=6, buckets=100_003)
    tracemalloc.start()
    try:
        X = v.fit_transform([f"hello {word} world"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # hello and world: 1 + 14 subwords each; the word: 1 + (200,002 − n + 1) for n = 3..6
    assert X.sum() == 2 * 15 + 1 + (4 * 200_000 - 6)
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.0f} MB"


@pytest.mark.parametrize(
    "kw", [{"tokenizer": lambda s: s.split(" ")}, {"token_pattern": r"\S+"}], ids=["func", "regex"]
)
def test_custom_tokens_lose_trailing_nuls(kw) -> None:
    """A NUL-ending token (a corpus with stray NUL bytes, split on spaces) is fitted and found
    again as the word without its NULs; fit refused the whole corpus before."""
    v = BowVectorizer(**kw)
    X = v.fit_transform(["ab\x00 cd", "ab cd\x00\x00", "\x00 a\x00b"])
    assert v.words_.tolist() == ["ab", "cd", "a\x00b"]  # an inner NUL is kept
    assert X.toarray().tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert v.transform(["cd\x00"]).toarray().tolist() == [[0, 1, 0]]


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("(abc", r"is not a valid regular expression \(missing \)"),
        ("(a+)+b", "nests a repeat"),
        ("a" * 1001, "is longer than 1000 characters"),
    ],
)
def test_a_refused_token_pattern_says_why(pattern, reason) -> None:
    """Both estimators name the pattern's problem (the parameter constraint alone could only
    list what is accepted: "a regular expression of at most 1000 characters without…")."""
    from bowclf import TextClassifier

    for est in (BowVectorizer(token_pattern=pattern), TextClassifier(token_pattern=pattern)):
        with pytest.raises(ValueError, match=f"'token_pattern' parameter of .*, {reason}"):
            est.fit(["a b", "c d"], [0, 1])


def test_transform_keeps_its_table_between_calls_and_its_result_never_depends_on_it() -> None:
    """Repeated transforms reuse one validated transform and token table (building them was
    most of a small call's time): the counts are those of a fresh vectorizer whatever came
    before, from any thread; set_params is still validated and used; pickles leave it out."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    docs = [f"w{i % 7} w{i % 11} shared x{i}" for i in range(300)]
    v = BowVectorizer(ngrams=2, minn=2, maxn=3, buckets=1009).fit(docs[:100])
    kept = v._transformer()
    queries = [docs[i : i + 17] for i in range(0, 300, 17)]
    expected = [BowVectorizer(ngrams=2, minn=2, maxn=3, buckets=1009).fit(docs[:100])
                .transform(q).toarray() for q in queries]  # fmt: skip
    for q, e in zip(queries, expected, strict=True):
        np.testing.assert_array_equal(v.transform(q).toarray(), e)
    assert v._transformer() is kept and kept._kept is not None
    with ThreadPoolExecutor(4) as pool:  # threads finding the table busy build their own
        got = list(pool.map(lambda q: v.transform(q).toarray(), queries * 4))
    for g, e in zip(got, expected * 4, strict=True):
        np.testing.assert_array_equal(g, e)
    twin = pickle.loads(pickle.dumps(v))
    assert "_transformer_cache" not in twin.__dict__
    np.testing.assert_array_equal(twin.transform(queries[0]).toarray(), expected[0])
    fitted = pickle.loads(pickle.dumps(kept))
    np.testing.assert_array_equal(fitted.transform(queries[1]).toarray(), expected[1])
    v.set_params(ngrams=0)  # validated at the next call, not served from the kept one
    with pytest.raises(ValueError, match="ngrams"):
        v.transform(queries[0])
    v.set_params(ngrams=1)
    assert v.transform(queries[0]).shape[1] == len(v.vocabulary_) + 1009  # the new setting


def test_the_kept_table_lets_go_of_unknown_tokens_and_of_a_replaced_vocabulary() -> None:
    """A transform of many unknown tokens does not leave their n-gram data attached to the
    model (248 MB after 400,000 unknown words with subwords), and a packed vocabulary
    replaces the dict in the kept transform (comparing them word by word made every later
    call O(V) and kept both alive)."""
    import gc
    import tracemalloc

    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    docs = [" ".join("".join(rng.choice(letters, 10)) for _ in range(100)) for _ in range(1000)]
    v = BowVectorizer(minn=3, maxn=6, buckets=100_000, ngrams=2).fit(["hello world"] * 3)
    v.transform(["hello"])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        v.transform(docs)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 8 * 2**20, f"{held / 2**20:.0f} MB held"
    fresh = BowVectorizer(minn=3, maxn=6, buckets=100_000, ngrams=2).fit(["hello world"] * 3)
    np.testing.assert_array_equal(v.transform(docs[:3]).toarray(),
                                  fresh.transform(docs[:3]).toarray())  # fmt: skip
    words = BowVectorizer().fit(docs[:50])
    words.transform(docs[:2])
    words.pack_vocabulary()
    assert words._transformer().vocabulary is words.vocabulary_
    expected = BowVectorizer().fit(docs[:50]).transform(docs[:5]).toarray()
    np.testing.assert_array_equal(words.transform(docs[:5]).toarray(), expected)


def test_word_ngram_hashes_follow_fasttexts_recurrence():
    """One pure function for the word n-gram recurrence the vectorizer, explanations and the
    fastText reader share: against fastText's loop written out in Python integers."""
    from bowclf.vectorizer import NGRAM_MULTIPLIER, token_hashes, word_ngram_hashes

    words = ["the", "cat", "sat", "on", "the", "mat"]
    h = token_hashes(words).view(np.int32).astype(np.int64).view(np.uint64)
    got = list(word_ngram_hashes(h, 4))
    assert [g.size for g in got] == [5, 4, 3]
    for n, g in enumerate(got, start=2):
        for i in range(len(words) - n + 1):
            want = int(h[i])
            for j in range(i + 1, i + n):
                want = (want * NGRAM_MULTIPLIER + int(h[j])) % 2**64
            assert int(g[i]) == want
    assert list(word_ngram_hashes(h[:1], 3)) == []
