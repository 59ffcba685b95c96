"""loss='hs' (hierarchical softmax) through the estimators, model files, out-of-core
training and the CLI; fitting and predicting 20k labels without any n×c array."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from conftest import WEIGHTS_ARE_STEPS
from sklearn.utils.estimator_checks import parametrize_with_checks

from bowclf import BowClassifier, TextClassifier
from bowclf import hsoftmax as hs
from bowclf.losses import HierarchicalSoftmax, topk_from_proba

EXPECTED_FAILED_CHECKS = {
    # as for the other losses (tests/test_classifier.py, WEIGHTS_ARE_STEPS says why)
    "check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_STEPS,
    "check_sample_weight_equivalence_on_sparse_data": WEIGHTS_ARE_STEPS,
}


@parametrize_with_checks(
    [BowClassifier(loss="hs", random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _tags(n_labels: int, n_docs: int, seed: int = 0):
    """Label k is marked by features 2k and 2k+1, plus two of 50 noise features; every label
    occurs, with Zipfian frequencies."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(n_labels), rng.zipf(1.3, n_docs - n_labels) % n_labels])
    rows = np.repeat(np.arange(n_docs), 4)
    noise = 2 * n_labels + rng.integers(0, 50, (n_docs, 2))
    cols = np.column_stack([2 * y, 2 * y + 1, noise]).ravel()
    X = sp.csr_array(
        (np.ones(rows.size, np.float32), (rows, cols)), shape=(n_docs, 2 * n_labels + 50)
    )
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _tags(300, 3000)
    return BowClassifier(loss="hs", epochs=10, lr=0.5, random_state=0).fit(X, y), X, y


def test_fit_builds_the_tree_from_label_counts(fitted):
    model, X, y = fitted
    assert model.B_.shape == (299, 100)
    assert model.score(X, y) > 0.95
    tree = model._loss().tree
    depth = np.diff(tree.path_indptr)
    counts = np.bincount(y)
    assert depth[np.argmax(counts)] == depth.min()
    assert depth[counts == counts.min()].mean() > depth.mean() + 1
    again = BowClassifier(loss="hs", epochs=10, lr=0.5, random_state=0).fit(X, y)
    assert np.array_equal(again.B_, model.B_) and np.array_equal(again.A_, model.A_)


def test_predictions_agree_with_the_exact_probabilities(fitted):
    model, X, _ = fitted
    P = model.predict_proba(X[:200])
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X[:200])), P, rtol=1e-10)
    assert np.array_equal(model.predict(X[:200]), model.classes_[P.argmax(axis=1)])
    assert np.array_equal(model.decision_function(X[:200]).argmax(axis=1), P.argmax(axis=1))
    labels, proba = model.predict_topk(X[:200], k=5)
    want_labels, want_proba = topk_from_proba(P, model.classes_, 5)
    np.testing.assert_allclose(proba, want_proba, rtol=1e-5)
    assert np.array_equal(labels, want_labels)
    labels, proba = model.predict_topk(X[:200], k=5, threshold=0.1)
    assert np.all((proba >= 0.1 - 1e-9) | np.isnan(proba))
    assert np.array_equal(np.isnan(proba), want_proba < 0.1)


def test_model_file_round_trip_and_tree_validation(fitted, tmp_path):
    from bowclf.persist import ModelFileError, load, save

    model, X, _ = fitted
    save(model, tmp_path / "m.bowclf")
    again = load(tmp_path / "m.bowclf")
    assert np.array_equal(again._loss().tree.parent, model._loss().tree.parent)
    assert np.array_equal(again.predict_topk(X[:50], k=3)[0], model.predict_topk(X[:50], k=3)[0])
    state = model._loss().state()
    args = ({"loss": "hs"}, {}, model.A_.T, model.B_, model.classes_)
    with pytest.raises(ValueError, match="one left and one right"):
        HierarchicalSoftmax().restored({**state, "hs_code": np.ones_like(state["hs_code"])}, 300)
    with pytest.raises(ValueError, match="leaves"):
        HierarchicalSoftmax().restored(state, 301)
    with pytest.raises(ValueError, match="label tree"):
        BowClassifier._restore(*args, loss_state={})
    # a file whose tree does not match its classes is refused before any array is read
    small = BowClassifier(loss="hs", epochs=1, random_state=0).fit(*_tags(3, 30))
    save(small, tmp_path / "small.bowclf")
    import zipfile

    with zipfile.ZipFile(tmp_path / "small.bowclf") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members = {n: v for n, v in members.items() if "hs_code" not in n}
    with zipfile.ZipFile(tmp_path / "broken.bowclf", "w") as zf:
        for n, v in members.items():
            zf.writestr(n, v)
    with pytest.raises(ModelFileError):
        load(tmp_path / "broken.bowclf")


def test_multilabel_targets_train_every_gold_path():
    X, y = _tags(20, 600, seed=1)
    Y = np.zeros((600, 20), dtype=int)
    Y[np.arange(600), y] = 1
    Y[np.arange(600), (y + 1) % 20] = 1  # every document also has the next label
    model = BowClassifier(loss="hs", epochs=20, lr=0.5, random_state=0).fit(X, Y)
    P = model.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    top2 = np.sort(np.argsort(-P, axis=1)[:, :2], axis=1)
    assert (top2 == np.sort(np.column_stack([y, (y + 1) % 20]), axis=1)).all(axis=1).mean() > 0.9
    assert (model.predict(X) == Y).all(axis=1).mean() > 0.8


def test_text_classifier_and_out_of_core(tmp_path):
    from bowclf.stream import fit_stream

    rng = np.random.default_rng(2)
    labels = [f"tag{k}" for k in rng.zipf(1.4, 1500) % 60]
    texts = [f"w{lab}x w{lab}y n{rng.integers(20)} n{rng.integers(20)}" for lab in labels]
    model = TextClassifier(loss="hs", epochs=10, lr=0.5, random_state=0).fit(texts, labels)
    assert model.score(texts, labels) > 0.9
    top = model.predict_topk(texts[:20], k=3)
    P = model.predict_proba(texts[:20])
    for row, p in zip(top, P, strict=True):
        assert [lab for lab, _ in row] == list(np.asarray(model.classes_)[np.argsort(-p)[:3]])
    path = tmp_path / "tags.csv"
    path.write_text(
        "label,text\n" + "".join(f"{a},{b}\n" for a, b in zip(labels, texts, strict=True))
    )
    streamed = fit_stream(TextClassifier(loss="hs", epochs=10, lr=0.5, random_state=0), path)
    assert streamed.classifier_.B_.shape == (59, 100)
    assert streamed.score(texts, labels) > 0.9


def test_cli_fit_and_predict_print_what_the_api_returns(tmp_path):
    from bowclf.cli import cli as main
    from bowclf.persist import load

    rng = np.random.default_rng(3)
    lines = []
    for k in rng.zipf(1.4, 800) % 40:
        lines.append(f"__label__t{k} a{k} b{k} n{rng.integers(10)}")
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    out = runner.invoke(
        main,
        ["fit", str(tmp_path / "train.txt"), "--loss", "hs", "--epochs", "10", "--lr", "0.5",
         "-o", str(tmp_path / "m.bowclf")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    model = load(tmp_path / "m.bowclf")
    assert model.classifier_.loss == "hs"
    docs = ["a3 b3", "a7 n2", "b11"]
    (tmp_path / "in.txt").write_text("\n".join(docs) + "\n")
    out = runner.invoke(
        main, ["predict", str(tmp_path / "m.bowclf"), str(tmp_path / "in.txt"), "-k", "2"]
    )
    assert out.exit_code == 0, out.output
    want = [" ".join(str(lab) for lab, _ in row) for row in model.predict_topk(docs, k=2)]
    assert out.output.splitlines() == want


def test_20k_labels_fit_and_predict_without_a_documents_by_labels_array():
    """An n×c float64 array here would be 20,000² × 8 B = 3.2 GB; the whole fit and
    predict stay under 64 MB of Python-allocated memory."""
    c = 20_000
    X, y = _tags(c, c + 2000)
    model = BowClassifier(loss="hs", dim=8, epochs=5, lr=0.5, random_state=0)
    tracemalloc.start()
    model.fit(X, y)
    pred = model.predict(X[:3000])
    labels, proba = model.predict_topk(X[:3000], k=5)
    pruned = model.predict_topk(X[:3000], k=5, threshold=0.01)[1]
    score = model.score(X[:3000], y[:3000])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert pred.shape == (3000,) and labels.shape == (3000, 5)
    assert np.array_equal(labels[:, 0], pred)
    assert np.array_equal(np.isnan(pruned), proba < 0.01)
    assert 0.0 <= score <= 1.0 and model.B_.shape == (c - 1, 8)
    assert isinstance(model._loss(), HierarchicalSoftmax) and model._loss().tree.n_classes == c
    assert hs.MAX_DEPTH >= model._loss().tree.depth


def test_dask_training_uses_the_fitted_tree():
    distributed = pytest.importorskip("dask.distributed")
    import warnings

    from bowclf.dask import fit_dask

    rng = np.random.default_rng(4)
    labels = [f"tag{k}" for k in rng.zipf(1.4, 1200) % 50]
    texts = [f"w{lab}x w{lab}y n{rng.integers(20)}" for lab in labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
    with cluster, distributed.Client(cluster) as client:
        model = fit_dask(
            TextClassifier(loss="hs", epochs=10, lr=0.5, random_state=0),
            [texts[:500], texts[500:]], [labels[:500], labels[500:]], client=client,
        )  # fmt: skip
    assert isinstance(model.classifier_._loss(), HierarchicalSoftmax)
    assert model.classifier_.B_.shape == (len(set(labels)) - 1, 100)
    assert model.score(texts, labels) > 0.9


def test_warm_start_and_partial_fit_keep_the_tree_their_output_layer_was_trained_on():
    X, y = _tags(30, 600, seed=5)
    model = BowClassifier(loss="hs", epochs=5, lr=0.5, warm_start=True, random_state=0)
    model.fit(X, y)
    parent = model._loss().tree.parent.copy()
    shifted = (y + 7) % 30  # other label frequencies would give another Huffman tree
    assert not np.array_equal(hs.huffman_tree(np.bincount(shifted))[0], parent)
    model.fit(X, shifted)
    assert np.array_equal(model._loss().tree.parent, parent)
    with pytest.raises(ValueError, match="loss"):
        model.set_params(loss="softmax").fit(X, y)
    inc = BowClassifier(loss="hs", random_state=0)
    inc.partial_fit(X[:300], y[:300], classes=np.arange(30))
    first = inc._loss().tree.parent.copy()
    for _ in range(5):
        inc.partial_fit(X[300:], y[300:])
    assert np.array_equal(inc._loss().tree.parent, first)
    assert inc.B_.shape == (29, 100) and inc.score(X, y) > 0.5
