"""TextClassifier's 'auto' inputs: normalize, sublinear_tf and min_df from the corpus."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from conftest import write_label_text_csv

from bowclf import TextClassifier, defaults, load, save
from bowclf.stream import fit_stream
from bowclf.text import resolve_inputs

AUTO = {"normalize": "auto", "sublinear_tf": "auto", "min_df": "auto"}


def _df(words_per_doc: int, n_docs: int, n_words: int = 500, extra: int = 0) -> np.ndarray:
    """Document frequencies of ``n_words`` word columns summing to ``words_per_doc·n_docs``
    (every word in at least 2 documents), then ``extra`` bucket columns of one document."""
    total = words_per_doc * n_docs
    df = np.full(n_words, total // n_words, dtype=np.int64)
    df[: total % n_words] += 1
    return np.concatenate([df, np.ones(extra, dtype=np.int64)])


def test_short_documents_keep_fasttexts_inputs():
    got = resolve_inputs(
        AUTO, document_frequency=_df(20, 100), n_documents=100, n_words=500, optimizer="adaptive"
    )
    assert got == {
        "normalize": "l1",
        "sublinear_tf": False,
        "min_df": 1,
        "ngram_weight": 1.0,
        "words_per_document": 20,
    }


@pytest.mark.parametrize(
    "optimizer, normalize", [("adaptive", "l2"), ("adagrad", "l2"), ("sgd", "l1")]
)
def test_long_documents_threshold_and_optimiser(optimizer, normalize):
    n = 100
    at = defaults.LONG_DOCUMENT_WORDS
    # bucket columns (after the words) do not count as words
    below = _df(at - 1, n, extra=10 * n)
    got = resolve_inputs(
        AUTO, document_frequency=below, n_documents=n, n_words=500, optimizer=optimizer
    )
    assert (got["normalize"], got["sublinear_tf"], got["min_df"]) == ("l1", False, 1)
    assert got["words_per_document"] == at - 1
    got = resolve_inputs(
        AUTO, document_frequency=_df(at, n), n_documents=n, n_words=500, optimizer=optimizer
    )
    assert got == {
        "normalize": normalize,
        "sublinear_tf": True,
        "min_df": defaults.LONG_MIN_DF,
        "ngram_weight": 1.0,
        "words_per_document": at,
    }


def test_explicit_values_are_kept_and_min_df_needs_a_feature_to_keep():
    explicit = {"normalize": None, "sublinear_tf": False, "min_df": 3}
    got = resolve_inputs(
        explicit, document_frequency=_df(200, 10), n_documents=10, n_words=500, optimizer="sgd"
    )
    assert (got["normalize"], got["sublinear_tf"], got["min_df"]) == (None, False, 3)
    # long documents whose every feature occurs once: min_df 2 would keep nothing
    single = np.ones(1000, dtype=np.int64)
    got = resolve_inputs(
        AUTO, document_frequency=single, n_documents=10, n_words=1000, optimizer="adaptive"
    )
    assert got["words_per_document"] == 100 and got["min_df"] == 1 and got["sublinear_tf"]


def test_min_df_2_needs_to_keep_a_share_of_the_features():
    """Two long documents sharing one feature: min_df 2 kept that one alone and the model
    predicted one class for both training documents; under 1 % kept means min_df 1."""
    n = 100_000
    one_shared = np.ones(n, dtype=np.int64)
    one_shared[0] = 2
    got = resolve_inputs(AUTO, document_frequency=one_shared, n_documents=2, n_words=n,
                         optimizer="adaptive")  # fmt: skip
    assert got["words_per_document"] > defaults.LONG_DOCUMENT_WORDS and got["min_df"] == 1
    share = np.ones(n, dtype=np.int64)
    share[: int(n * defaults.LONG_MIN_DF_KEEP)] = 2  # exactly the share: min_df 2
    got = resolve_inputs(AUTO, document_frequency=share, n_documents=1000, n_words=n,
                         optimizer="adaptive")  # fmt: skip
    assert got["min_df"] == defaults.LONG_MIN_DF
    rng = np.random.default_rng(0)
    long = " ".join(f"w{i}" for i in rng.permutation(3000)) + " shared"
    model = TextClassifier(random_state=0).fit([long, "small doc here shared"], ["a", "b"])
    assert model.inputs_["min_df"] == 1
    assert model.predict([long, "small doc here shared"]).tolist() == ["a", "b"]


def _long_corpus(n_docs: int = 60, seed: int = 0):
    """Two classes of ~120-word documents: a few class words among many shared ones."""
    rng = np.random.default_rng(seed)
    shared = [f"w{i}" for i in range(400)]
    texts, labels = [], []
    for i in range(n_docs):
        c = i % 2
        words = list(rng.choice(shared, 110)) + [f"c{c}x{j}" for j in rng.integers(0, 8, 12)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(f"k{c}")
    return texts, labels


def test_long_corpus_resolves_and_auto_equals_the_explicit_values(tmp_path):
    texts, labels = _long_corpus()
    auto = TextClassifier(dim=8, epochs=3, random_state=0).fit(texts, labels)
    inputs = auto.inputs_
    assert inputs["words_per_document"] >= defaults.LONG_DOCUMENT_WORDS
    assert (inputs["normalize"], inputs["sublinear_tf"], inputs["min_df"]) == ("l2", True, 2)
    assert auto.classifier_.normalize == "l2"
    assert auto.get_params()["normalize"] == "auto"  # parameters are never rewritten
    summary = auto.training_summary_
    assert (summary["normalize"], summary["sublinear_tf"], summary["min_df"]) == ("l2", True, 2)
    explicit = TextClassifier(
        dim=8, epochs=3, random_state=0, normalize="l2", sublinear_tf=True, min_df=2
    ).fit(texts, labels)
    np.testing.assert_array_equal(auto.feature_columns_, explicit.feature_columns_)
    assert auto.predict_proba(texts).tobytes() == explicit.predict_proba(texts).tobytes()
    # min_df=2 dropped the bigrams of one document that pruning alone keeps
    kept = TextClassifier(dim=8, epochs=1, random_state=0, min_df=1).fit(texts, labels)
    assert kept.feature_columns_.size > auto.feature_columns_.size
    # the model file keeps the resolved values; the loaded model predicts the same
    path = save(auto, tmp_path / "m.bowclf")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
    assert header["text"]["inputs"]["sublinear_tf"] is True
    assert header["params"]["sublinear_tf"] == "auto"
    again = load(path)
    assert again.inputs_ == auto.inputs_
    assert again.predict_proba(texts).tobytes() == auto.predict_proba(texts).tobytes()


def test_restored_inputs_of_old_and_damaged_files():
    from bowclf.saved_state import restored_inputs

    old = restored_inputs({"normalize": "l2", "sublinear_tf": True}, None, "l2")
    assert old == {"normalize": "l2", "sublinear_tf": True, "min_df": 1, "ngram_weight": 1.0}
    with pytest.raises(ValueError, match="does not match"):
        restored_inputs({}, {"normalize": "l1", "sublinear_tf": False, "min_df": 1}, "l2")
    with pytest.raises(ValueError, match="boolean"):
        restored_inputs({}, {"normalize": "l1", "sublinear_tf": "auto", "min_df": 1}, "l1")
    with pytest.raises(ValueError, match="positive integer"):
        restored_inputs({}, {"normalize": "l1", "sublinear_tf": False, "min_df": 0}, "l1")
    with pytest.raises(ValueError, match="mapping"):
        restored_inputs({}, ["l1"], "l1")


def test_out_of_core_resolves_the_same_inputs(tmp_path):
    texts, labels = _long_corpus(80, seed=1)
    mem = TextClassifier(dim=8, epochs=2, random_state=0).fit(texts, labels)
    path = write_label_text_csv(tmp_path / "long.csv", texts, labels)
    ooc = fit_stream(
        TextClassifier(dim=8, epochs=2, random_state=0), path, block_docs=16, cache_dir=tmp_path
    )
    assert ooc.inputs_ == mem.inputs_ and ooc.inputs_["min_df"] == 2
    np.testing.assert_array_equal(ooc.feature_columns_, mem.feature_columns_)
    np.testing.assert_array_equal(ooc.idf_, mem.idf_)
    assert ooc.classifier_.normalize == "l2"


def test_cli_fit_prints_and_info_shows_the_resolved_inputs(tmp_path):
    from test_cli import ok, run

    texts, labels = _long_corpus()
    data = write_label_text_csv(tmp_path / "long.csv", texts, labels)
    model = tmp_path / "m.bowclf"
    result = ok(run("fit", data, "-o", model, "--dim", "8", "--epochs", "2"))
    assert "Inputs: normalize l2, sublinear_tf True, min_df 2, ngram_weight 1 (" in result.stderr
    info = ok(run("info", model)).stdout
    assert "min_df 2" in info and "normalize l2" in info and "sublinear_tf True" in info
    result = ok(run("fit", data, "-o", model, "--dim", "8", "--epochs", "2",
                    "--no-sublinear-tf", "--min-df", "1", "--normalize", "l1"))  # fmt: skip
    assert "Inputs: normalize l1, sublinear_tf False, min_df 1, ngram_weight 0.7 (" in result.stderr
