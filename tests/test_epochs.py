"""``epochs='auto'``: the number of passes from the corpus size and, for binary tasks, the
class count — the same on every route (in memory, out of core, the command line)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_label_text_csv

from bowclf import BowClassifier, TextClassifier, defaults
from bowclf.stream import fit_stream
from bowclf.training import resolve_epochs


def test_resolve_epochs_binary_and_multiclass():
    for n in (10, 900, 20_000, 10**6):
        assert resolve_epochs("auto", n, 2) == defaults.BINARY_EPOCHS
    assert resolve_epochs("auto", 900, 3) == 10
    assert resolve_epochs("auto", 900) == 10  # class count unknown: by size only
    assert resolve_epochs("auto", 100_000, 20) == 5
    assert resolve_epochs(7, 900, 2) == 7  # an explicit number is kept


@pytest.fixture
def binary(text_data):
    Xtr, ytr, Xte, yte = text_data
    keep = [i for i, y in enumerate(ytr) if y != "tech"]
    test = [i for i, y in enumerate(yte) if y != "tech"]
    return (
        [Xtr[i] for i in keep],
        [ytr[i] for i in keep],
        [Xte[i] for i in test],
        [yte[i] for i in test],
    )


def test_binary_fit_makes_binary_epochs_passes(binary, text_data):
    Xtr, ytr, Xte, yte = binary
    clf = TextClassifier(random_state=0).fit(Xtr, ytr)
    assert clf.classifier_.n_iter_ == defaults.BINARY_EPOCHS
    assert len(clf.classifier_.loss_curve_) == defaults.BINARY_EPOCHS
    assert clf.training_summary_["epochs"] == defaults.BINARY_EPOCHS
    assert clf.score(Xte, yte) > 0.9
    # the same as asking for those passes explicitly, bit for bit
    explicit = TextClassifier(epochs=defaults.BINARY_EPOCHS, random_state=0).fit(Xtr, ytr)
    assert clf.predict_proba(Xte).tobytes() == explicit.predict_proba(Xte).tobytes()
    # three classes keep the size rule (10 passes on 900 documents)
    X3, y3, _, _ = text_data
    assert TextClassifier(random_state=0).fit(X3, y3).classifier_.n_iter_ == 10


def test_binary_count_matrix_estimator():
    rng = np.random.default_rng(0)
    X = rng.poisson(0.3, size=(200, 30))
    y = (X[:, 0] > X[:, 1]).astype(int)
    assert BowClassifier(random_state=0).fit(X, y).n_iter_ == defaults.BINARY_EPOCHS
    y3 = y + (X[:, 2] > 0)
    assert BowClassifier(random_state=0).fit(X, y3).n_iter_ == 10


def test_out_of_core_binary_uses_the_same_passes(binary, tmp_path):
    Xtr, ytr, Xte, _ = binary
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    mem = TextClassifier(random_state=0).fit(Xtr, ytr)
    ooc = fit_stream(TextClassifier(random_state=0), path, block_docs=64, cache_dir=tmp_path)
    assert ooc.training_summary_["epochs"] == mem.classifier_.n_iter_ == defaults.BINARY_EPOCHS
    assert ooc.classifier_.t_ == mem.classifier_.t_


def test_cli_prints_the_passes_the_library_makes(binary, tmp_path):
    from click.testing import CliRunner

    from bowclf import load
    from bowclf.cli import cli

    Xtr, ytr, _, _ = binary
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    out = tmp_path / "m.bowclf"
    result = CliRunner().invoke(cli, ["fit", str(path), "-o", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert f"{defaults.BINARY_EPOCHS} epochs, dim 100" in result.stderr
    assert load(out).classifier_.n_iter_ == defaults.BINARY_EPOCHS


def _two_label_sets(n: int = 400, seed: int = 0):
    """A multi-label corpus of two labels (its 4 label sets: none, a, b, both)."""
    rng = np.random.default_rng(seed)
    words = {"a": "alpha apple acorn", "b": "beta banana bread"}
    texts, sets = [], []
    for _ in range(n):
        chosen = tuple(lab for lab in "ab" if rng.random() < 0.5) or ("a",)
        texts.append(" ".join(w for lab in chosen for w in words[lab].split()) + " the of")
        sets.append(chosen)
    return texts, sets


def test_resolve_epochs_multilabel_two_labels_uses_the_size_rule():
    assert resolve_epochs("auto", 900, 2, multilabel=True) == 10
    assert resolve_epochs("auto", 100_000, 2, multilabel=True) == 5
    assert resolve_epochs("auto", 900, 2, multilabel=False) == defaults.BINARY_EPOCHS


def test_multilabel_two_labels_in_memory_keeps_the_size_rule():
    texts, sets = _two_label_sets()
    clf = TextClassifier(random_state=0).fit(texts, sets)
    assert clf.multilabel_ and clf.classifier_.n_iter_ == 10 != defaults.BINARY_EPOCHS
    Y = np.array([[lab in s for lab in "ab"] for s in sets], dtype=int)  # an indicator
    X = np.random.default_rng(0).poisson(0.3, size=(len(sets), 30))
    assert BowClassifier(random_state=0).fit(X, Y).n_iter_ == 10


def test_multilabel_two_labels_out_of_core_keeps_the_size_rule(tmp_path):
    texts, sets = _two_label_sets()
    path = write_label_text_csv(tmp_path / "ml.csv", texts, [" ".join(s) for s in sets])
    model = fit_stream(TextClassifier(random_state=0), path, corpus_kw={"label_sep": " "},
                       block_docs=64, cache_dir=tmp_path)  # fmt: skip
    assert model.multilabel_ and model.training_summary_["epochs"] == 10


def test_cli_prints_the_passes_of_a_two_label_multilabel_corpus(tmp_path):
    from click.testing import CliRunner

    from bowclf import load
    from bowclf.cli import cli

    texts, sets = _two_label_sets()
    path = write_label_text_csv(tmp_path / "ml.csv", texts, [" ".join(s) for s in sets])
    out = tmp_path / "m.bowclf"
    args = ["fit", str(path), "-o", str(out), "--seed", "0", "--label-sep", " "]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(multi-label, 2 classes): 10 epochs, dim 100" in result.stderr
    assert load(out).classifier_.n_iter_ == 10


def test_autotune_base_configuration_of_a_two_label_multilabel_corpus_keeps_the_size_rule():
    """autotune trains the base configuration at its own 'auto' epochs: 10 for these 360
    training documents of two labels, not the binary 5."""
    from bowclf.autotune import autotune

    texts, sets = _two_label_sets()
    result = autotune(texts, sets, time_budget=3, random_state=0)
    base = result.trials[0]
    assert base["round"] == "defaults" and base["epochs"] == 10
