"""The packed vocabulary (bowclf.vectorizer.packed.PackedVocabulary) and
BowVectorizer.pack_vocabulary: the same mapping, words, transforms and model files as the
dictionary, without the dictionary until a lookup needs it; out-of-core training packs it."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from conftest import make_texts, write_label_text_csv

from bowclf import BowVectorizer, TextClassifier
from bowclf.persist import save
from bowclf.stream import fit_stream
from bowclf.vectorizer.packed import PackedVocabulary

WORDS = ["the", "café", "a", "naïve", "🙂", "x" * 40, "don't", "日本語", "b", ""] + [
    f"w{i}"
    for i in range(9000)  # more words than one chunk of words_array
]


def test_a_packed_vocabulary_is_the_same_mapping():
    vocabulary = dict(zip(WORDS, range(len(WORDS)), strict=True))
    packed = PackedVocabulary.of(vocabulary)
    assert len(packed) == len(vocabulary)
    assert list(packed) == WORDS
    assert packed._dict is None  # iterating builds no dictionary
    assert packed.words_array().dtype == np.array(WORDS, dtype=str).dtype
    assert packed.words_array().tobytes() == np.array(WORDS, dtype=str).tobytes()
    assert packed._dict is None
    assert packed["café"] == 1 and packed.get("🙂") == 4 and "zzz" not in packed
    assert packed.get("zzz") is None
    with pytest.raises(KeyError):
        packed["zzz"]
    assert packed == vocabulary and vocabulary == packed
    assert dict(pickle.loads(pickle.dumps(packed))) == vocabulary
    assert PackedVocabulary.of({}).words_array().shape == (0,)


def test_only_a_vocabulary_in_column_order_is_packed():
    with pytest.raises(ValueError, match="0 … V-1"):
        PackedVocabulary.of({"a": 1, "b": 0})


def test_pack_vocabulary_changes_no_transform_nor_state():
    texts, _ = make_texts(300, seed=2)
    vec = BowVectorizer(ngrams=2, minn=2, maxn=3).fit(texts)
    before = vec.transform(texts)
    state = vec.get_fitted_state()
    vocabulary = dict(vec.vocabulary_)
    assert vec.pack_vocabulary() is vec
    assert isinstance(vec.vocabulary_, PackedVocabulary)
    for name, array in vec.get_fitted_state().items():
        assert array.dtype == state[name].dtype and array.tobytes() == state[name].tobytes()
    assert vec.vocabulary_._dict is None  # the state needed no lookup
    assert vec.vocabulary_ == vocabulary
    after = vec.transform(texts)
    assert (after != before).nnz == 0 and after.shape == before.shape
    assert vec.pack_vocabulary().vocabulary_ == vocabulary  # packing twice changes nothing


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_out_of_core_training_packs_the_vocabulary_and_saves_the_same_file(tmp_path):
    texts, labels = make_texts(600, seed=4)
    path = write_label_text_csv(tmp_path / "train.csv", texts, labels)
    model = fit_stream(TextClassifier(dim=8, epochs=2, random_state=0), path, cache_dir=tmp_path)
    vocabulary = model.vectorizer_.vocabulary_
    assert isinstance(vocabulary, PackedVocabulary) and vocabulary._dict is None
    packed = _members(save(model, tmp_path / "packed.bowclf"))
    assert vocabulary._dict is None  # saving needed no lookup
    model.vectorizer_.vocabulary_ = dict(vocabulary)  # the dictionary, as before packing
    assert packed == _members(save(model, tmp_path / "dict.bowclf"))
    assert (
        model.predict(texts[:50]).tolist()
        == fit_stream(TextClassifier(dim=8, epochs=2, random_state=0), path, cache_dir=tmp_path)
        .predict(texts[:50])
        .tolist()
    )
