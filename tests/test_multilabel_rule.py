"""One multi-label decision rule (:func:`bowclf.losses.multilabel_rule`) on every route.

The routes to a multi-label prediction — ``ClassifierCore.predict`` (the whole indicator),
``predicted_indices`` (label sets), a loss's ``multilabel_indices`` and the
hierarchical-softmax search — must give the same label sets at thresholds exactly equal to a
probability and one ulp either side, with tied probabilities, featureless documents, and
``top_label`` on or off, for softmax, one-vs-all and hs models.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from test_hs_model import _tags

from bowclf import BowClassifier, _math, inference, losses
from bowclf.inference import ClassifierCore
from bowclf.losses import Loss, featureless_labels, multilabel_rule


@pytest.fixture(scope="module", params=["softmax", "ova", "hs"])
def fitted(request):
    """Two or three labels per document over 30 labels; the probe adds featureless rows and
    rows of noise features only."""
    X, y = _tags(30, 600, seed=5)
    Y = np.zeros((600, 30), dtype=int)
    Y[np.arange(600), y] = 1
    Y[np.arange(600), (y + 1) % 30] = 1
    Y[np.arange(0, 600, 3), (y[::3] + 7) % 30] = 1
    lr = 0.05 if request.param == "ova" else 0.3
    model = BowClassifier(loss=request.param, dim=10, epochs=3, lr=lr, random_state=0)
    model.fit(X, Y)
    noise = sp.csr_array((np.ones(3, np.float32), ([0, 1, 2], [61, 70, 99])), shape=(3, X.shape[1]))
    empty = sp.csr_array((3, X.shape[1]), dtype=np.float32)
    probe = sp.vstack([X[:120], empty, noise]).tocsr()
    return model, sp.csr_array(probe, dtype=np.float32)


def _thresholds(P: np.ndarray) -> list[float]:
    """Probabilities the model gives (a label exactly at t) and one ulp either side."""
    picks = np.sort(P, axis=1)[:, ::-1][[0, 5, 60, 119, 121, 124], :3].ravel()
    near = [np.nextafter(p, np.inf) for p in picks] + [np.nextafter(p, 0.0) for p in picks]
    return [float(p) for p in [*picks, *near]] + [0.5, 1 / 3, 0.0, 1.0]


@pytest.mark.parametrize("small_blocks", [False, True])
@pytest.mark.parametrize("searched", [False, True])
@pytest.mark.parametrize("top_label", [True, False])
def test_every_route_gives_the_rules_label_sets(
    fitted, top_label, searched, small_blocks, monkeypatch
):
    """``small_blocks``: 7 rows' probabilities decided at once, as a model of many labels
    decides them (else a whole chunk of rows, as ``predict_proba`` computes them)."""
    model, X = fitted
    monkeypatch.setattr(losses, "HS_SEARCH_MIN_CLASSES", 0 if searched else 10**6)
    if small_blocks:
        monkeypatch.setattr(inference, "DECISION_CELLS", 30 * 7)
    core = ClassifierCore.of(model)
    core.top_label = top_label
    P, empty = core.proba(X), _math.empty_rows(X)
    if not small_blocks:  # one block per chunk: proba's bits
        assert np.vstack(list(core._decision_blocks(X))).tobytes() == P.tobytes()
    P = np.vstack(list(core._decision_blocks(X)))  # the values every decision reads
    frequent = int(np.argmax(core.class_prior))
    for t in _thresholds(P):
        core.threshold = t
        want = multilabel_rule(P, t, top_label, empty=empty, frequent=frequent)
        assert np.array_equal(core.predict(X), want.astype(np.int64)), t
        rows = [r.tolist() for r in core.predicted_indices(X)]
        assert rows == [np.flatnonzero(w).tolist() for w in want], t
        if model.loss != "hs":  # BLAS: a softmax row's bits depend on its block of rows
            continue
        for i in [0, 5, 60, 119, 121, 124]:  # hs: the same bits alone, the same set
            assert core.predicted_indices(X[[i]])[0].tolist() == np.flatnonzero(want[i]).tolist()


@pytest.mark.parametrize("top_label", [True, False])
def test_loss_routes_give_the_rules_label_sets_on_hidden_vectors(fitted, top_label):
    """``Loss.multilabel_indices`` (and hs's search) on raw hidden vectors, all-zero rows
    (every label tied) among them: the rule over ``proba_from_hidden``."""
    model, X = fitted
    core = ClassifierCore.of(model)
    H = next(core.hidden_chunks(X))
    H[::7] = 0.0
    P = core.loss.proba_from_hidden(H, core.B, True)
    for t in _thresholds(P):
        want = [np.flatnonzero(r).tolist() for r in multilabel_rule(P, t, top_label)]
        got = core.loss.multilabel_indices(H, core.B, t, top_label)
        assert [g.tolist() for g in got] == want, t
        base = Loss.multilabel_indices(core.loss, H, core.B, t, top_label)
        assert [g.tolist() for g in base] == want, t


def test_the_rule_itself():
    P = np.array([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.1, 0.1, 0.1], [0.6, 0.3, 0.1]])
    empty = np.array([False, False, False, True])
    assert multilabel_rule(P, 0.5, False).tolist() == [
        [False, True, False], [False, False, False], [False, False, False], [True, False, False]
    ]  # fmt: skip
    # ties: the first of the tied maxima; exactly at t is kept
    got = multilabel_rule(P, 0.45, True, empty=empty, frequent=2)
    assert [np.flatnonzero(r).tolist() for r in got] == [[1], [0], [0], [2]]
    got = multilabel_rule(P, 0.3, False, empty=empty, frequent=2)
    assert [np.flatnonzero(r).tolist() for r in got] == [[1, 2], [0, 1], [], []]
    assert featureless_labels(True, 4).tolist() == [4]
    assert featureless_labels(False, 4).tolist() == []
    assert multilabel_rule(np.zeros((0, 3)), 0.5, True).shape == (0, 3)


def test_label_proba_picks_the_given_labels_probabilities(fitted):
    """``Loss.label_proba``: the probabilities of given labels only, one array per row (the
    per-class losses pick them from every label's; hs sums their paths)."""
    model, X = fitted
    core = ClassifierCore.of(model)
    H = next(core.hidden_chunks(X))
    P = core.loss.proba_from_hidden(H, core.B, True)
    rows = [np.flatnonzero(P[i] >= np.sort(P[i])[-2]) for i in range(H.shape[0])]
    rows[3] = np.zeros(0, dtype=np.intp)
    got = core.loss.label_proba(H, core.B, rows)
    assert [g.size for g in got] == [r.size for r in rows]
    for i, (g, r) in enumerate(zip(got, rows, strict=True)):
        np.testing.assert_allclose(g, P[i, r], rtol=1e-12)


@pytest.mark.parametrize("top_label", [True, False])
def test_the_ranked_report_decides_by_the_same_rule(top_label):
    """``report.ranked.decision_of`` (reports over many classes) applies
    :func:`multilabel_rule` to the ranked classes: with every class ranked, the same sets."""
    from bowclf.report.ranked import decision_of
    from bowclf.report.schema import Ranked

    rng = np.random.default_rng(2)
    P = rng.dirichlet(np.ones(6), size=40)
    P[3] = 1 / 6  # a six-way tie
    order = np.lexsort((np.tile(np.arange(6), (40, 1)), -P), axis=1)  # ties: smaller first
    ranked = Ranked(order, np.take_along_axis(P, order, axis=1))
    for t in [0.5, 1 / 6, float(P[0].max()), float(np.nextafter(P[0].max(), 1.0)), 0.0]:
        keep = decision_of(ranked, t, top_label)
        got = [sorted(order[i][keep[i]].tolist()) for i in range(40)]
        want = [np.flatnonzero(r).tolist() for r in multilabel_rule(P, t, top_label)]
        assert got == want, t
    partial = Ranked(np.where(np.arange(6) < 2, order, -1), np.where(np.arange(6) < 2,
                     np.take_along_axis(P, order, axis=1), np.nan))  # fmt: skip
    assert not decision_of(partial, 0.0, top_label)[:, 2:].any()
