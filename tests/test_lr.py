"""``lr='auto'``: the initial learning rate from the task (class count, loss, optimiser, row
scaling) — the same on every route (in memory, out of core, ``partial_fit``, a loaded model,
the command line), and a number or ``optimizer='sgd'`` untouched."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import three_class_counts, write_label_text_csv

from bowclf import BowClassifier, TextClassifier, defaults, load, save
from bowclf._limits import param_problem
from bowclf.stream import fit_stream
from bowclf.training import resolve_lr

BASE, MULTI = defaults.BASE_LR, defaults.MULTICLASS_LR


def test_resolve_lr_rule():
    assert BASE != MULTI
    assert resolve_lr("auto", 3) == resolve_lr("auto", 100) == MULTI
    assert resolve_lr("auto", 2) == BASE  # one decision direction
    assert resolve_lr("auto", 20, multilabel=True) == BASE
    assert resolve_lr("auto", 20, loss="ova") == resolve_lr("auto", 20, loss="hs") == BASE
    assert resolve_lr("auto", 20, optimizer="sgd") == BASE
    assert resolve_lr("auto", 20, optimizer="adagrad") == BASE
    assert resolve_lr("auto", 20, normalize="l2") == resolve_lr("auto", 20, normalize=None) == BASE
    assert resolve_lr(0.1, 20) == 0.1 and resolve_lr(1, 2, optimizer="sgd") == 1.0


def test_count_matrix_estimator_resolves_and_matches_the_explicit_rate():
    X, y = three_class_counts()
    auto = BowClassifier(random_state=0, epochs=3).fit(X, y)
    assert auto.lr == "auto" and auto.lr_ == MULTI
    explicit = BowClassifier(random_state=0, epochs=3, lr=MULTI).fit(X, y)
    assert explicit.lr_ == MULTI
    assert auto.A_.tobytes() == explicit.A_.tobytes() and auto.B_.tobytes() == explicit.B_.tobytes()
    binary = BowClassifier(random_state=0, epochs=3).fit(X, y > 0)
    assert binary.lr_ == BASE
    sgd = BowClassifier(random_state=0, epochs=3, optimizer="sgd").fit(X, y)
    sgd_explicit = BowClassifier(random_state=0, epochs=3, optimizer="sgd", lr=BASE).fit(X, y)
    assert sgd.lr_ == BASE and sgd.B_.tobytes() == sgd_explicit.B_.tobytes()
    assert BowClassifier(random_state=0, epochs=3, lr=0.1).fit(X, y).lr_ == 0.1


def test_partial_fit_resolves_the_rate_of_fit_and_continues_it():
    X, y = three_class_counts()
    kw = {"random_state": 0, "total_examples": 3 * len(y)}
    auto, explicit = BowClassifier(**kw), BowClassifier(lr=MULTI, **kw)
    for model in (auto, explicit):
        model.partial_fit(X[:150], y[:150], classes=[0, 1, 2]).partial_fit(X[150:], y[150:])
    assert auto.lr_ == MULTI
    assert auto.A_.tobytes() == explicit.A_.tobytes() and auto.B_.tobytes() == explicit.B_.tobytes()


def test_text_classifier_short_and_long_documents(text_data):
    Xtr, ytr, Xte, _ = text_data  # 3 classes of short documents
    clf = TextClassifier(random_state=0, epochs=3).fit(Xtr, ytr)
    assert clf.inputs_["normalize"] == "l1"
    assert clf.classifier_.lr_ == clf.training_summary_["lr"] == MULTI
    explicit = TextClassifier(random_state=0, epochs=3, lr=MULTI).fit(Xtr, ytr)
    assert clf.predict_proba(Xte).tobytes() == explicit.predict_proba(Xte).tobytes()
    # long documents (l2 rows): the base rate
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    long_docs = [" ".join(rng.choice(words, 120)) + f" c{k}" for k in range(3) for _ in range(40)]
    labels = [k for k in range(3) for _ in range(40)]
    long = TextClassifier(random_state=0, epochs=2).fit(long_docs, labels)
    assert long.inputs_["normalize"] == "l2"
    assert long.classifier_.lr_ == long.training_summary_["lr"] == BASE


def test_out_of_core_and_a_loaded_model_use_the_same_rate(text_data, tmp_path):
    Xtr, ytr, Xte, yte = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    mem = TextClassifier(random_state=0, epochs=2).fit(Xtr, ytr)
    ooc = fit_stream(TextClassifier(random_state=0, epochs=2), path, block_docs=64,
                     cache_dir=tmp_path)  # fmt: skip
    assert ooc.classifier_.lr_ == mem.classifier_.lr_ == ooc.training_summary_["lr"] == MULTI
    save(mem, tmp_path / "m.bowclf")
    loaded = load(tmp_path / "m.bowclf")
    assert loaded.lr == "auto" and loaded.classifier_.lr_ == MULTI
    clf, again = mem.classifier_, loaded.classifier_
    features = mem._features(Xte)
    for model in (clf, again):  # partial_fit continues at the resolved rate after loading
        model.partial_fit(features, np.asarray(yte))
    assert clf.B_.tobytes() == again.B_.tobytes()


def test_model_file_parameter_check_accepts_auto_only():
    assert param_problem({"lr": "auto"}, text=True) is None
    assert param_problem({"lr": "auto"}, text=False) is None
    assert param_problem({"lr": "fast"}, text=True) is not None
    assert param_problem({"lr": 0.0}, text=False) is not None


def test_invalid_lr_string_is_refused():
    with pytest.raises(ValueError, match="lr"):
        BowClassifier(lr="fast").fit(*three_class_counts())


def test_cli_prints_and_info_shows_the_resolved_rate(text_data, tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli

    Xtr, ytr, _, _ = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    out = tmp_path / "m.bowclf"
    args = ["fit", str(path), "-o", str(out), "--seed", "0", "--epochs", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rate = load(out).classifier_.lr_
    assert rate == MULTI and f"lr {rate:g}, final loss" in result.stderr
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert info.exit_code == 0, info.output
    assert f"lr=auto ({rate:g})" in info.output and f"lr {rate:g}" in info.output
    assert "optimizer=auto (adaptive)" in info.output  # what 'auto' stood for, like lr
    fixed = CliRunner().invoke(cli, [*args[:-2], "--lr", "0.1", "--epochs", "2"])
    assert fixed.exit_code == 0 and "lr 0.1, final loss" in fixed.stderr
    bad = CliRunner().invoke(cli, [*args, "--lr", "fast"])
    assert bad.exit_code == 2 and "fast" in bad.output


def test_info_shows_the_resolved_rate_of_a_count_matrix_model(tmp_path):
    """A BowClassifier's file has no text summary: the resolved rate is kept in its fitted
    values, and ``bowclf info`` shows it beside 'auto'."""
    from click.testing import CliRunner

    from bowclf.cli import cli

    X, y = three_class_counts()
    path = tmp_path / "bow.bowclf"
    save(BowClassifier(random_state=0, epochs=2).fit(X, y), path)
    info = CliRunner().invoke(cli, ["info", str(path)])
    assert info.exit_code == 0, info.output
    assert f"lr=auto ({MULTI:g})" in info.output
    assert load(path).lr_ == MULTI
    save(BowClassifier(random_state=0, epochs=2, loss="ova").fit(X, y), path)
    info = CliRunner().invoke(cli, ["info", str(path)])
    assert "optimizer=auto (sgd)" in info.output
