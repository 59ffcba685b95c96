"""``epochs='auto'`` for long documents of three or more classes: the ceiling
``defaults.LONG_MULTICLASS_EPOCHS`` instead of 10 — the same on every route (in memory, out of
core, Dask, a loaded model, the command line), and every other task untouched."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import three_class_counts, write_label_text_csv

from bowclf import BowClassifier, TextClassifier, defaults, load, save
from bowclf.optim import resolve_optimizer
from bowclf.stream import fit_stream
from bowclf.training import epochs_before_inputs, resolve_epochs

LONG = defaults.LONG_MULTICLASS_EPOCHS


def test_resolve_epochs_long_multiclass_rule():
    assert LONG > 10
    assert resolve_epochs("auto", 900, 3, normalize="l2") == LONG
    assert resolve_epochs("auto", 900, 3, normalize="l1") == 10  # short documents
    assert resolve_epochs("auto", 900, 3) == 10  # l1 is the count matrices' default
    # the size rule still bounds it: ⌈200000/n⌉ passes between 5 and the ceiling
    assert resolve_epochs("auto", 16_000, 20, normalize="l2") == 13
    assert resolve_epochs("auto", 100_000, 20, normalize="l2") == 5
    # binary, multi-label and the other losses and optimisers keep their rules
    assert resolve_epochs("auto", 900, 2, normalize="l2") == defaults.BINARY_EPOCHS
    assert resolve_epochs("auto", 900, 5, multilabel=True, normalize="l2") == 10
    for kw in ({"loss": "ova"}, {"loss": "hs"}, {"optimizer": "sgd"}, {"optimizer": "adagrad"}):
        assert resolve_epochs("auto", 900, 5, normalize="l2", **kw) == 10
    assert resolve_epochs(7, 900, 5, normalize="l2") == 7  # a number is kept


def test_resolve_optimizer_and_epochs_before_inputs():
    assert resolve_optimizer("auto") == resolve_optimizer("auto", "hs") == "adaptive"
    assert resolve_optimizer("auto", "ova") == "sgd" and resolve_optimizer("adagrad") == "adagrad"
    # 'auto' row scaling: the count depends on the document length, unknown before the inputs
    assert epochs_before_inputs("auto", 900, 3) is None
    assert epochs_before_inputs("auto", 900, 3, normalize="l1") == 10
    assert epochs_before_inputs("auto", 900, 3, normalize="l2") == LONG
    assert epochs_before_inputs("auto", 900, 2) == defaults.BINARY_EPOCHS
    assert epochs_before_inputs("auto", 900, 3, optimizer="sgd") == 10
    assert epochs_before_inputs("auto", 900, 3, loss="ova") == 10  # 'auto' is sgd there
    assert epochs_before_inputs(4, 900, 3) == 4


def test_count_matrix_estimator_l2_rows_train_the_long_count():
    X, y = three_class_counts(240)
    auto = BowClassifier(random_state=0, normalize="l2").fit(X, y)
    assert auto.n_iter_ == LONG and len(auto.loss_curve_) == LONG
    explicit = BowClassifier(random_state=0, normalize="l2", epochs=LONG).fit(X, y)
    assert auto.A_.tobytes() == explicit.A_.tobytes() and auto.B_.tobytes() == explicit.B_.tobytes()
    assert BowClassifier(random_state=0).fit(X, y).n_iter_ == 10  # l1 rows
    assert BowClassifier(random_state=0, normalize="l2").fit(X, y > 0).n_iter_ == 5  # binary
    sgd = BowClassifier(random_state=0, normalize="l2", optimizer="sgd", lr=0.05).fit(X, y)
    assert sgd.n_iter_ == 10


def _long_documents(n_per_class: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(400)]
    docs = [
        " ".join(rng.choice(words, 120)) + f" c{k}" for k in range(3) for _ in range(n_per_class)
    ]
    return docs, [k for k in range(3) for _ in range(n_per_class)]


@pytest.fixture(scope="module")
def long_model():
    docs, labels = _long_documents()
    return TextClassifier(random_state=0).fit(docs, labels)


def test_text_classifier_long_documents_in_memory_out_of_core_and_loaded(long_model, tmp_path):
    docs, labels = _long_documents()
    assert long_model.inputs_["normalize"] == "l2"
    assert long_model.classifier_.n_iter_ == long_model.training_summary_["epochs"] == LONG
    explicit = TextClassifier(random_state=0, epochs=LONG).fit(docs, labels)
    assert long_model.predict_proba(docs).tobytes() == explicit.predict_proba(docs).tobytes()
    path = write_label_text_csv(tmp_path / "long.csv", docs, labels)
    ooc = fit_stream(TextClassifier(random_state=0), path, block_docs=32, cache_dir=tmp_path)
    assert ooc.classifier_.n_iter_ == LONG
    save(long_model, tmp_path / "m.bowclf")
    loaded = load(tmp_path / "m.bowclf")
    assert loaded.epochs == "auto" and loaded.classifier_.n_iter_ == LONG
    assert loaded.fit(docs, labels).classifier_.n_iter_ == LONG  # refitting resolves it again
    # short documents of three classes keep 10 passes
    short = TextClassifier(random_state=0).fit([f"c{k} w{k}" for k in labels], labels)
    assert short.inputs_["normalize"] == "l1" and short.classifier_.n_iter_ == 10


def test_dask_resolves_the_same_count(long_model):
    distributed = pytest.importorskip("dask.distributed")
    from bowclf.dask import fit_dask

    docs, labels = _long_documents()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster, distributed.Client(cluster) as client:
        model = fit_dask(TextClassifier(random_state=0, n_jobs=1), [docs], [labels], client=client,
                         n_shards=1)  # fmt: skip
    assert model.classifier_.n_iter_ == LONG
    local = TextClassifier(random_state=0, n_jobs=1).fit(docs, labels)
    assert model.predict_proba(docs).tobytes() == local.predict_proba(docs).tobytes()


def test_cli_says_auto_before_and_the_count_after(tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli

    docs, labels = _long_documents()
    path = write_label_text_csv(tmp_path / "long.csv", docs, labels)
    out = tmp_path / "m.bowclf"
    result = CliRunner().invoke(cli, ["fit", str(path), "-o", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "(3 classes): 'auto' epochs, dim 100" in result.stderr
    assert f"Trained {LONG} epochs on 120 documents" in result.stderr
    assert load(out).classifier_.n_iter_ == LONG
    info = CliRunner().invoke(cli, ["info", str(out)])
    assert info.exit_code == 0, info.output
    assert f"epochs=auto ({LONG})" in info.output and f"{LONG} epochs" in info.output
    fixed = CliRunner().invoke(cli, ["fit", str(path), "-o", str(out), "--epochs", "3"])
    assert fixed.exit_code == 0 and "(3 classes): 3 epochs, dim 100" in fixed.stderr
