"""Multi-label prediction of loss='hs' models by the pruned top-k search.

The predicted set (labels with probability ≥ t, plus the most probable one when
``top_label_``) must be exactly the dense rule's — ``multilabel_decision`` over every label's
probability — for any threshold, boundary and tie, while ``predict`` never computes the
documents × classes probabilities.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from test_hs_model import _tags

from bowclf import BowClassifier, TextClassifier, losses
from bowclf import hsoftmax as hs
from bowclf.cli import cli
from bowclf.cli.predict_command import _format_p
from bowclf.inference import ClassifierCore
from bowclf.losses import HierarchicalSoftmax, Loss
from bowclf.persist import load, load_predictor, save


@pytest.fixture(autouse=True)
def search_any_model(monkeypatch):
    """These models have few labels: search them too (the default searches above 1024)."""
    monkeypatch.setattr(losses, "HS_SEARCH_MIN_CLASSES", 0)


@pytest.fixture(scope="module")
def fitted():
    """Two or three labels per document over 40 labels; the probe adds featureless rows and
    documents of noise features only (flat distributions)."""
    X, y = _tags(40, 1200, seed=3)
    Y = np.zeros((1200, 40), dtype=int)
    Y[np.arange(1200), y] = 1
    Y[np.arange(1200), (y + 1) % 40] = 1
    Y[np.arange(0, 1200, 3), (y[::3] + 7) % 40] = 1
    model = BowClassifier(loss="hs", dim=12, epochs=4, lr=0.3, random_state=0).fit(X, Y)
    noise = sp.csr_array(
        (np.ones(6, np.float32), ([0, 1, 2, 3, 4, 5], [80, 85, 90, 95, 100, 129])),
        shape=(6, X.shape[1]),
    )
    probe = sp.vstack([X[:300], sp.csr_array((5, X.shape[1]), dtype=np.float32), noise]).tocsr()
    return model, sp.csr_array(probe, dtype=np.float32)


def _dense(core: ClassifierCore, X) -> np.ndarray:
    """The dense rule: every label's probability, thresholded."""
    from bowclf import _math

    return core.multilabel_decision(core.proba(X), _math.empty_rows(X))


def _boundary_thresholds(P: np.ndarray) -> list[float]:
    """Probabilities the model gives (a label exactly at t), their neighbours, and ties."""
    picks = np.sort(P, axis=1)[:, ::-1][[0, 3, 100, 300, 305], :4].ravel()
    near = [np.nextafter(p, np.inf) for p in picks] + [np.nextafter(p, 0.0) for p in picks]
    return [float(p) for p in [*picks, *near] if p > 0]


THRESHOLDS = [1.0, 0.999, 0.9, 0.5, 0.34, 1 / 3, 0.25, 0.2, 0.1, 0.03, 1e-3, 1e-6, 1e-12]
THRESHOLDS += [1e-300, 5e-324, 0.0, 2.0]  # k capped at c; nothing reaches t > 1


@pytest.mark.parametrize("top_label", [True, False])
def test_search_equals_the_dense_rule_for_every_threshold(fitted, top_label):
    model, X = fitted
    core = ClassifierCore.of(model)
    assert core.loss.searched_decision(40) and model.multilabel_
    core.top_label = top_label
    P = core.proba(X)
    for t in THRESHOLDS + _boundary_thresholds(P) + [0.5 ** (1 + i) for i in range(8)]:
        core.threshold = t
        expected = _dense(core, X)
        assert np.array_equal(core.predict(X), expected), t
        rows = core.predicted_indices(X)
        assert [r.tolist() for r in rows] == [np.flatnonzero(e).tolist() for e in expected], t


def test_boundary_labels_exactly_at_t_are_kept_as_the_dense_rule_keeps_them(fitted):
    """A threshold equal to a probability the dense rule computes keeps that label; one ulp
    above drops it — both in a whole batch and in one-document calls."""
    model, X = fitted
    core = ClassifierCore.of(model)
    core.top_label = False
    P = core.proba(X)
    for i in [0, 7, 150, 299]:
        for j in np.argsort(-P[i])[:3]:
            for t, kept in [(P[i, j], True), (np.nextafter(P[i, j], 1.0), False)]:
                core.threshold = float(t)
                assert (j in core.predicted_indices(X)[i]) is kept
                assert (j in core.predicted_indices(X[[i]])[0]) is kept
                assert np.array_equal(core.predict(X), _dense(core, X))


def test_loss_rule_equals_the_dense_rule_on_hidden_vectors_with_ties():
    """On raw hidden vectors (no featureless-row rule): all-zero rows, whose labels tie
    exactly, a near-uniform output layer, and a trained-looking one."""
    rng = np.random.default_rng(0)
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 50, 30))
    loss = HierarchicalSoftmax(tree)
    H = rng.standard_normal((64, 6)).astype(np.float32)
    H[::9] = 0.0
    for scale in [0.0, 1e-6, 1.0, 8.0]:
        B = (scale * rng.standard_normal((29, 6))).astype(np.float32)
        P = loss.proba_from_hidden(H, B, True)
        for t in [0.5, 0.25, 0.125, 1 / 30, 1e-9, *np.unique(P[:3])[-4:]]:
            for top_label in (True, False):
                got = loss.multilabel_indices(H, B, float(t), top_label)
                want = Loss.multilabel_indices(loss, H, B, float(t), top_label)
                assert [g.tolist() for g in got] == [w.tolist() for w in want], (scale, t)


def test_the_kept_labels_are_among_the_top_floor_one_over_t(fitted):
    """At most ⌊1/t⌋ labels reach t > 0: the probabilities of a document sum to 1."""
    model, X = fitted
    core = ClassifierCore.of(model)
    core.top_label = False
    for t in [0.5, 0.3, 0.1, 0.02]:
        core.threshold = t
        assert max(len(r) for r in core.predicted_indices(X)) <= int(1 / t)


def test_predict_never_computes_every_labels_probability(fitted, tmp_path, monkeypatch):
    """BowClassifier, TextClassifier and the file predictor: the search, not proba."""
    model, X = fitted
    expected = model.predict(X)
    texts, y = _text_corpus()
    text_model = TextClassifier(loss="hs", dim=8, epochs=3, random_state=0).fit(texts, y)
    text_expected = text_model.predict(texts[:80])
    path = save(text_model, tmp_path / "hs-multi.bowclf")
    (predictor, _), loaded = load_predictor(path), load(path)  # loading checks a zero row
    dense_rows = []

    def no_dense(self, H, B, multilabel):
        dense_rows.append(H.shape[0])
        raise AssertionError("documents × classes probabilities computed")

    monkeypatch.setattr(HierarchicalSoftmax, "proba_from_hidden", no_dense)
    assert np.array_equal(model.predict(X[:300]), expected[:300])
    assert text_model.predict(texts[:80]) == text_expected
    assert predictor.predict(texts[:80]) == text_expected
    assert loaded.predict(texts[:80]) == text_expected
    assert dense_rows == []


def _text_corpus():
    from conftest import make_texts

    texts, y = make_texts(240, seed=2, noise=0.2)
    texts = [t.replace(",", " ") for t in texts]
    sets = [(lab,) + (("extra",) if i % 3 == 0 else ()) for i, lab in enumerate(y)]
    return texts, sets


@pytest.mark.parametrize("threshold", [None, 0.2, 0.6])
def test_cli_prints_what_predict_returns(tmp_path, threshold):
    """``bowclf predict`` of a multi-label hs model prints ``model.predict``'s label sets
    (text and JSON Lines), featureless lines included."""
    texts, sets = _text_corpus()
    kwargs = {} if threshold is None else {"threshold": threshold}
    model = TextClassifier(loss="hs", dim=8, epochs=3, random_state=0, **kwargs)
    path = save(model.fit(texts, sets), tmp_path / "hs-cli.bowclf")
    probe = texts[:60] + ["", "zzz qqq unknown words"]
    expected = [list(labels) for labels in load(path).predict(probe)]
    assert expected == [list(labels) for labels in model.predict(probe)]
    data = "\n".join(probe) + "\n"
    runner = CliRunner()
    text = runner.invoke(cli, ["predict", str(path)], input=data)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [" ".join(row) for row in expected]
    lines = runner.invoke(cli, ["predict", str(path), "--format", "jsonl"], input=data)
    assert [json.loads(line)["labels"] for line in lines.stdout.splitlines()] == expected


def test_exact_log_probabilities_do_not_depend_on_the_block_of_rows():
    """A row's ``log_proba`` is bit-identical whether computed alone or among others (the
    multi-label decision recomputes single rows and compares them with the threshold)."""
    rng = np.random.default_rng(1)
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 100, 200))
    H = rng.standard_normal((37, 100)).astype(np.float32)
    B = rng.standard_normal((199, 100)).astype(np.float32)
    whole = hs.log_proba(H, B, tree)
    for size in [1, 2, 3, 5, 17]:
        parts = [hs.log_proba(H[a : a + size], B, tree) for a in range(0, 37, size)]
        assert np.array_equal(np.vstack(parts), whole), size


def test_few_labels_are_decided_densely_many_by_search(fitted, monkeypatch):
    """Up to ``HS_SEARCH_MIN_CLASSES`` labels the dense rule is cheaper than the search's
    overhead and is used; above it the search — with the same predictions."""
    model, X = fitted
    expected = model.predict(X)
    used = []
    real = HierarchicalSoftmax.multilabel_indices

    def spy(self, *args):
        used.append("search")
        return real(self, *args)

    monkeypatch.setattr(HierarchicalSoftmax, "multilabel_indices", spy)
    for cutoff, searched in [(40, False), (39, True)]:
        monkeypatch.setattr(losses, "HS_SEARCH_MIN_CLASSES", cutoff)
        used.clear()
        assert np.array_equal(model.predict(X), expected)
        assert bool(used) is searched
    monkeypatch.undo()  # the module's own cutoff
    assert losses.HS_SEARCH_MIN_CLASSES == 512
    assert HierarchicalSoftmax().searched_decision(513)
    assert not HierarchicalSoftmax().searched_decision(512)


def _many_label_model(n_labels: int = 2000, n_docs: int = 4000):
    """A multi-label hs model over more than ``HS_SEARCH_MIN_CLASSES`` labels (the default
    cut-off: the search decides) and its documents' targets."""
    X, y = _tags(n_labels, n_docs, seed=9)
    Y = sp.csr_array(
        (np.ones(2 * n_docs, np.int64),
         (np.repeat(np.arange(n_docs), 2), np.column_stack([y, (y + 1) % n_labels]).ravel())),
        shape=(n_docs, n_labels),
    )  # fmt: skip
    model = BowClassifier(loss="hs", dim=8, epochs=2, lr=0.3, random_state=0).fit(X, Y)
    return model, sp.csr_array(X, dtype=np.float32), Y


def _traced_peak(f):
    """``(f(), the peak of the memory traced while it ran)``."""
    import tracemalloc

    tracemalloc.start()
    try:
        return f(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


#: Bytes allowed for the search's own buffers (dense top-node scores, open pairs, gathered
#: rows of B): 32 MiB, two float64 arrays of CHUNK·2048, whatever TOP_NODES is. The scoring
#: below takes them and at most an n×c byte matrix more, where a dense decision took 8·n·c
#: bytes (64 MB here) for each of its probabilities, predicted indicator and truth.
_SEARCH_BYTES = 16 * hs.CHUNK * 2048


def test_scoring_a_many_label_model_builds_no_documents_by_labels_array(monkeypatch):
    """Validation scores (micro-F1) of a many-label hs model come from sparse indicators of
    the searched label sets: the values of the dense decision, with neither every label's
    probability nor an n×c indicator."""
    from sklearn.metrics import f1_score

    monkeypatch.undo()  # the module's own cut-off: 2000 labels are searched
    model, X, Y = _many_label_model()
    n, c = X.shape[0], model.classes_.size
    dense = model.predict(X)  # the documented return: a dense indicator
    core = ClassifierCore.of(model)
    assert np.array_equal(core.predicted_indicator(X).toarray(), dense)
    want = f1_score(Y.toarray(), dense, average="micro")
    real = HierarchicalSoftmax.proba_from_hidden

    def no_dense(self, H, B, multilabel):
        assert H.shape[0] <= 1, "documents × classes probabilities computed"
        return real(self, H, B, multilabel)

    monkeypatch.setattr(HierarchicalSoftmax, "proba_from_hidden", no_dense)
    got, peak = _traced_peak(lambda: core.score_targets(X, Y))
    assert got == pytest.approx(want, abs=1e-12)
    assert peak < _SEARCH_BYTES + n * c


def test_text_score_of_a_many_label_model_is_subset_accuracy_without_dense_arrays(monkeypatch):
    """``TextClassifier.score`` (subset accuracy) of a many-label hs model, from sparse
    indicators: no dense indicators of prediction and truth."""
    monkeypatch.undo()
    rng = np.random.default_rng(3)
    n_labels, n_docs = 2000, 4000
    first = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, n_docs - n_labels)])
    sets = [(f"l{k}", f"l{(k + 1) % n_labels}") for k in first]
    texts = [f"w{k} v{(k + 1) % n_labels} noise{rng.integers(30)}" for k in first]
    model = TextClassifier(loss="hs", dim=8, epochs=2, random_state=0).fit(texts, sets)
    pred = model.predict(texts)
    want = float(np.mean([set(p) == set(s) for p, s in zip(pred, sets, strict=True)]))
    got, peak = _traced_peak(lambda: model.score(texts, sets))
    assert got == pytest.approx(want, abs=1e-12)
    assert peak < _SEARCH_BYTES + n_docs * n_labels


def test_label_log_proba_is_log_proba_of_the_given_labels_only():
    rng = np.random.default_rng(5)
    tree = hs.HuffmanTree.from_counts(rng.integers(1, 100, 300))
    H = rng.standard_normal((40, 12)).astype(np.float32)
    H[3] = 0.0
    B = (0.5 * rng.standard_normal((299, 12))).astype(np.float32)
    rows = [np.sort(rng.choice(300, rng.integers(0, 5), replace=False)) for _ in range(40)]
    indptr = np.r_[0, np.cumsum([r.size for r in rows])]
    got = hs.label_log_proba(H, B, tree, indptr, np.concatenate(rows).astype(np.int64))
    L = hs.log_proba(H, B, tree)
    want = np.concatenate([L[i, r] for i, r in enumerate(rows)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("loss", "searched"), [("hs", True), ("hs", False), ("ova", False),
                                                ("softmax", False)])  # fmt: skip
def test_cli_proba_prints_what_predict_sets_with_proba_returns(tmp_path, monkeypatch, loss,
                                                               searched):  # fmt: skip
    """``bowclf predict --proba`` (text and JSON Lines) of a multi-label model prints
    ``predict_sets_with_proba``: ``predict``'s labels with ``predict_proba``'s probabilities
    (bit for bit, or for the hs search from the labels' paths: equal up to rounding, and
    never every label's probability)."""
    monkeypatch.setattr(losses, "HS_SEARCH_MIN_CLASSES", 0 if searched else 10**6)
    texts, sets = _text_corpus()
    model = TextClassifier(loss=loss, dim=8, epochs=3, random_state=0).fit(texts, sets)
    path = save(model, tmp_path / "m.bowclf")
    probe = texts[:60] + ["", "zzz qqq unknown words"]
    predictor, _ = load_predictor(path)
    P = predictor.predict_proba(probe)
    column = {lab: j for j, lab in enumerate(predictor.classes_.tolist())}
    real = HierarchicalSoftmax.proba_from_hidden

    def guarded(self, H, B, multilabel):  # (loading a file predicts two documents)
        assert not searched or H.shape[0] <= 2, "documents × classes probabilities computed"
        return real(self, H, B, multilabel)

    monkeypatch.setattr(HierarchicalSoftmax, "proba_from_hidden", guarded)
    rows = predictor.predict_sets_with_proba(probe)
    assert [[lab for lab, _ in r] for r in rows] == [list(s) for s in predictor.predict(probe)]
    for i, row in enumerate(rows):
        got = np.array([p for _, p in row])
        want = np.array([P[i, column[lab]] for lab, _ in row])
        if searched:
            np.testing.assert_allclose(got, want, rtol=1e-12)
        else:
            assert got.tobytes() == want.tobytes()
    data = "\n".join(probe) + "\n"
    runner = CliRunner()
    lines = runner.invoke(cli, ["predict", str(path), "--format", "jsonl"], input=data)
    assert lines.exit_code == 0, lines.output
    printed = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [(d["labels"], d["probabilities"]) for d in printed] == [
        ([lab for lab, _ in r], [p for _, p in r]) for r in rows
    ]
    text = runner.invoke(cli, ["predict", str(path), "--proba"], input=data)
    assert text.stdout.splitlines() == [
        " ".join(f"{lab} {_format_p(p)}" for lab, p in r) for r in rows
    ]
