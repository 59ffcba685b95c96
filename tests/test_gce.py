"""The generalized cross-entropy of two-class training (``training.resolve_gce``): the weights
and the gradient against slow references and finite differences, the rule, and training runs
that use it (through ``partial_fit``; determinism, out of core and the losses that refuse
it: ``tests/test_margin.py``) while multi-class, long-document and
plain-SGD tasks train exactly as without it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import one_hot_targets, score_finite_differences, three_class_counts

from bowclf import BowClassifier, _math, defaults
from bowclf.losses import get_loss
from bowclf.optim import Adaptive, get_optimizer
from bowclf.training import resolve_gce

Q = defaults.BINARY_GCE


def test_gce_sample_weights_against_a_loop():
    rng = np.random.default_rng(0)
    n, c = 9, 3
    P = rng.dirichlet(np.ones(c), size=n)
    Y, w = one_hot_targets(rng, n, c), rng.uniform(0.5, 2.0, size=n)
    Y[:, 2] = 0.0  # class 2 absent from the batch
    Y[:, 0] = 1.0 - Y[:, 1]
    for q in (0.5, 1.0, 1.7):
        ref = np.empty(n)
        for i in range(n):
            k = int(np.argmax(Y[i]))
            total = sum(w[j] for j in range(n) if Y[j, k])
            mass = sum(w[j] * P[j, k] ** q for j in range(n) if Y[j, k])
            ref[i] = w[i] * P[i, k] ** q * total / mass
        got = _math.gce_sample_weights(P, Y, w, q)
        assert np.allclose(got, ref)
        assert np.allclose(Y.T @ got, Y.T @ w)  # every class keeps its weight in the batch
    assert np.allclose(_math.gce_sample_weights(P, Y, w, 0.0), w)  # q = 0: the cross-entropy
    p = (P * Y).sum(axis=1)
    unweighted = _math.gce_sample_weights(P, Y, None, 1.0)
    assert unweighted.dtype == np.float64
    for k in (0, 1):
        rows = Y[:, k] > 0
        assert np.allclose(unweighted[rows], p[rows] * rows.sum() / p[rows].sum())
    f32 = _math.gce_sample_weights(*(a.astype(np.float32) for a in (P, Y, w)), 1.0)
    assert f32.dtype == np.float32 and np.allclose(f32, _math.gce_sample_weights(P, Y, w, 1.0))
    zero = np.zeros(n)  # nothing to redistribute: the weights come back as they are
    assert np.array_equal(_math.gce_sample_weights(P, Y, zero, 1.0), zero)


@pytest.mark.parametrize("q", [0.5, 1.0])
def test_gce_gradient_matches_a_slow_reference_and_finite_differences(q):
    rng = np.random.default_rng(1)
    n, c, d = 6, 2, 3
    H, B = rng.normal(size=(n, d)), rng.normal(size=(c, d))
    Y, w = one_hot_targets(rng, n, c), rng.uniform(0.5, 2.0, size=n)
    got = get_loss("softmax").batch_gradients(H, B, Y, w, gce=q)
    S = H @ B.T

    def p_true(S):
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        return P, (P * Y).sum(axis=1)

    def gce_loss(S):  # Σ wᵢ (1 − p_yᵢ^q)/q
        return float(w @ ((1.0 - p_true(S)[1] ** q) / q))

    P, p = p_true(S)
    # the batch's rescaling per class k: Σ_k w / Σ_k w·p^q
    step = (Y @ (Y.T @ w)) / (Y @ (Y.T @ (w * p**q)))
    fd = score_finite_differences(gce_loss, S)
    G = np.zeros_like(S)
    for i in range(n):  # reference: the cross-entropy gradient of row i times wᵢ·p_i^q
        G[i] = w[i] * p[i] ** q * (P[i] - Y[i])
    assert np.allclose(G, fd, atol=1e-6)
    G *= step[:, None]
    assert np.allclose(got.hidden, G @ B) and np.allclose(got.B, G.T @ H)
    plain = get_loss("softmax").batch_gradients(H, B, Y, w)
    assert got.loss == pytest.approx(plain.loss)  # the reported loss stays the cross-entropy
    assert not np.allclose(got.hidden, plain.hidden)


def test_resolve_gce_rule():
    assert Q > 0
    assert resolve_gce(2, optimizer="adaptive") == Q
    assert resolve_gce(3, optimizer="adaptive") == resolve_gce(50, optimizer="adaptive") == 0.0
    assert resolve_gce(2, multilabel=True, optimizer="adaptive") == 0.0
    for loss in ("ova", "hs"):
        assert resolve_gce(2, loss=loss, optimizer="adaptive") == 0.0
    assert resolve_gce(2, optimizer="sgd") == resolve_gce(2, optimizer="adagrad") == 0.0
    for rows in ("l2", None):  # long documents' rows, raw counts
        assert resolve_gce(2, optimizer="adaptive", normalize=rows) == 0.0
    assert resolve_gce(2, optimizer="adaptive", normalize="l1") == Q


def test_adaptive_optimizer_carries_the_exponent():
    opt = get_optimizer("adaptive", gce=1.0)
    assert isinstance(opt, Adaptive) and opt.gce == 1.0
    assert get_optimizer("adaptive").gce == 0.0  # none unless given
    assert not hasattr(get_optimizer("sgd"), "gce")


def _binary():
    X, y = three_class_counts()
    return X, (y > 0).astype(int)


def _fit(X, y, **kw):
    return BowClassifier(random_state=0, epochs=4, **kw).fit(X, y)


def test_multiclass_sgd_and_l2_training_are_untouched_by_the_exponent(monkeypatch):
    X, y = three_class_counts()
    multiclass, sgd = _fit(X, y), _fit(X, y > 0, optimizer="sgd")
    long_rows = _fit(X, y > 0, normalize="l2")
    monkeypatch.setattr(defaults, "BINARY_GCE", 0.5)
    assert _fit(X, y).B_.tobytes() == multiclass.B_.tobytes()
    assert _fit(X, y > 0, optimizer="sgd").B_.tobytes() == sgd.B_.tobytes()
    assert _fit(X, y > 0, normalize="l2").B_.tobytes() == long_rows.B_.tobytes()


def test_partial_fit_takes_the_exponent(monkeypatch):
    X, y = _binary()

    def halves():
        model = BowClassifier(random_state=0)
        model.partial_fit(X[:150], y[:150], classes=[0, 1])
        return model.partial_fit(X[150:], y[150:]).A_

    robust, again = halves(), halves()
    assert robust.tobytes() == again.tobytes()
    monkeypatch.setattr(defaults, "BINARY_GCE", 0.0)
    assert halves().tobytes() != robust.tobytes()


def _noisy_polarity_counts(n: int = 3000, vocab: int = 3000, polar: int = 200, seed: int = 0):
    """Documents of 3–7 neutral words (``polar … vocab``, each seen a few times) and one or
    two polar words of their class (the first / second half of ``0 … polar``)."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    y = rng.integers(2, size=n)
    for i in range(n):
        neutral = rng.integers(polar, vocab, size=rng.integers(3, 8))
        signs = rng.integers(0, polar // 2, size=1 + (rng.random() > 0.15)) + polar // 2 * y[i]
        words = np.concatenate([neutral, signs])
        rows += [i] * words.size
        cols += words.tolist()
    X = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, vocab))
    X.sum_duplicates()
    return X, y


def test_label_noise_costs_less_with_the_exponent(monkeypatch):
    """The reason for the rule: with a tenth of the training labels flipped, the model can
    memorise the flips through the rare neutral words; trained with the exponent it
    classifies clean held-out documents better than the plain cross-entropy's (at each of
    three seeds; the dev suite measures the effect on corpora)."""
    X, y = _noisy_polarity_counts()
    noisy = y[:2000].copy()
    flip = np.random.default_rng(1).random(noisy.size) < 0.1
    noisy[flip] = 1 - noisy[flip]

    def accuracy(gce, seed):
        monkeypatch.setattr(defaults, "BINARY_GCE", gce)
        return BowClassifier(random_state=seed).fit(X[:2000], noisy).score(X[2000:], y[2000:])

    for seed in range(3):
        assert accuracy(Q, seed) > accuracy(0.0, seed) + 0.01
