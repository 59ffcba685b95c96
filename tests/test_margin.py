"""The softmax margin of multi-class training (``training.resolve_margin``): the formulas
against slow references and finite differences, the rule, and a training run that uses it on
every route (deterministic, the same out of core and through ``partial_fit``) while binary
tasks train exactly as without it.  The out-of-core and refusal tests cover the two-class
generalized cross-entropy (``tests/test_gce.py``) too."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import one_hot_targets, score_finite_differences, three_class_counts

from bowclf import BowClassifier, _math, defaults
from bowclf.losses import get_loss
from bowclf.optim import Adaptive, get_optimizer
from bowclf.training import resolve_margin

M = defaults.MULTICLASS_MARGIN


def test_margin_scores_against_a_loop():
    rng = np.random.default_rng(0)
    S, Y = rng.normal(size=(6, 4)), one_hot_targets(rng, 6, 4)
    ref = S.copy()
    for i in range(6):
        for k in range(4):
            if Y[i, k]:
                ref[i, k] -= 0.7
    got = _math.margin_scores(S, Y, 0.7)
    assert np.allclose(got, ref) and got is not S
    assert np.array_equal(_math.margin_scores(S, Y, 0.0), S)


def test_ramped_margin():
    assert _math.ramped_margin(2.0, 0.35, 0.35) == 0.0  # first step: plain cross-entropy
    assert _math.ramped_margin(2.0, 0.0, 0.35) == 2.0  # the end of the schedule
    assert _math.ramped_margin(2.0, 0.35 / 4, 0.35) == pytest.approx(1.5)
    assert _math.ramped_margin(0.0, 0.1, 0.35) == 0.0
    assert _math.ramped_margin(2.0, 0.5, 0.35) == 0.0  # never negative
    assert _math.ramped_margin(2.0, -1.0, 0.35) == 2.0  # never above m
    rates = np.linspace(0.35, 0.0, 9)
    values = [_math.ramped_margin(2.0, r, 0.35) for r in rates]
    assert np.all(np.diff(values) > 0)


def test_margin_gradient_matches_a_slow_reference_and_finite_differences():
    rng = np.random.default_rng(1)
    n, c, d = 5, 4, 3
    H = rng.normal(size=(n, d))
    B = rng.normal(size=(c, d))
    Y, w = one_hot_targets(rng, n, c), rng.uniform(0.5, 2.0, size=n)
    m = 1.3
    got = get_loss("softmax").batch_gradients(H, B, Y, w, margin=m)

    def margin_loss(S):  # Σ wᵢ ℓᵢ(S − m·Y), one row at a time
        total = 0.0
        for i in range(n):
            z = S[i] - m * Y[i]
            total += w[i] * -(z[Y[i] > 0][0] - np.log(np.sum(np.exp(z))))
        return total

    S = H @ B.T
    G = np.zeros_like(S)
    for i in range(n):  # reference: softmax of the shifted row minus the target, weighted
        z = S[i] - m * Y[i]
        G[i] = w[i] * (np.exp(z) / np.exp(z).sum() - Y[i])
    fd = score_finite_differences(margin_loss, S)
    assert np.allclose(G, fd, atol=1e-6)
    assert np.allclose(got.hidden, G @ B) and np.allclose(got.B, G.T @ H)
    plain = get_loss("softmax").batch_gradients(H, B, Y, w)
    assert got.loss == pytest.approx(plain.loss)  # the reported loss is that of S
    assert not np.allclose(got.hidden, plain.hidden)


def test_resolve_margin_rule():
    assert M > 0
    assert resolve_margin(3, optimizer="adaptive") == resolve_margin(100, optimizer="adaptive") == M
    assert resolve_margin(2, optimizer="adaptive") == 0.0
    assert resolve_margin(20, multilabel=True, optimizer="adaptive") == 0.0
    for loss in ("ova", "hs"):
        assert resolve_margin(20, loss=loss, optimizer="adaptive") == 0.0
    assert resolve_margin(20, optimizer="sgd") == resolve_margin(20, optimizer="adagrad") == 0.0


def test_adaptive_optimizer_margin_follows_the_rate():
    opt = get_optimizer("adaptive", margin=2.0, lr=0.4)
    assert isinstance(opt, Adaptive)
    assert opt.margin_at(0.4) == 0.0 and opt.margin_at(0.1) == pytest.approx(1.5)
    assert get_optimizer("adaptive").margin_at(0.0) == 0.0  # no margin unless given
    assert not hasattr(get_optimizer("sgd"), "margin_at")


def _fit(X, y, margin=None, monkeypatch=None, **kw):
    if margin is not None:
        monkeypatch.setattr(defaults, "MULTICLASS_MARGIN", margin)
    return BowClassifier(random_state=0, epochs=4, **kw).fit(X, y)


@pytest.mark.parametrize("attribute, binary", [("MULTICLASS_MARGIN", False), ("BINARY_GCE", True)])
def test_training_uses_the_rule_deterministically(attribute, binary, monkeypatch):
    """The margin changes the multi-class model, the generalized cross-entropy the
    two-class one; both train the same model twice."""
    X, y = three_class_counts()
    y = (y > 0).astype(int) if binary else y
    a, b = _fit(X, y), _fit(X, y)
    assert a.A_.tobytes() == b.A_.tobytes() and a.B_.tobytes() == b.B_.tobytes()
    monkeypatch.setattr(defaults, attribute, 0.0)
    assert a.A_.tobytes() != _fit(X, y).A_.tobytes()


def test_binary_and_sgd_training_are_untouched_by_the_margin(monkeypatch):
    X, y = three_class_counts()
    binary, sgd = _fit(X, y > 0), _fit(X, y, optimizer="sgd")
    monkeypatch.setattr(defaults, "MULTICLASS_MARGIN", 5.0)
    assert _fit(X, y > 0).B_.tobytes() == binary.B_.tobytes()
    assert _fit(X, y, optimizer="sgd").B_.tobytes() == sgd.B_.tobytes()


def _halves(**kw):
    X, y = three_class_counts()
    model = BowClassifier(random_state=0, **kw)
    return model.partial_fit(X[:150], y[:150], classes=[0, 1, 2]).partial_fit(X[150:], y[150:])


def test_partial_fit_ramps_the_margin_with_total_examples(monkeypatch):
    total = 2 * len(three_class_counts()[1])
    ramped, again = _halves(total_examples=total), _halves(total_examples=total)
    assert ramped.A_.tobytes() == again.A_.tobytes()
    constant = _halves()  # no total_examples: a constant rate, so no margin
    monkeypatch.setattr(defaults, "MULTICLASS_MARGIN", 0.0)
    assert _halves(total_examples=total).A_.tobytes() != ramped.A_.tobytes()
    assert _halves().A_.tobytes() == constant.A_.tobytes()


@pytest.mark.parametrize("attribute, binary", [("MULTICLASS_MARGIN", False), ("BINARY_GCE", True)])
def test_out_of_core_training_takes_the_rule(tmp_path, text_data, monkeypatch, attribute, binary):
    """The margin (three classes) and the generalized cross-entropy (two classes,
    ``tests/test_gce.py``) reach out-of-core training: deterministic, and a model without
    them differs."""
    from conftest import write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.stream import fit_stream

    Xtr, ytr, _, _ = text_data  # 3 classes
    labels = [y == sorted(set(ytr))[0] for y in ytr] if binary else ytr
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, labels)

    def stream():
        model = TextClassifier(random_state=0, epochs=2)
        return fit_stream(model, path, block_docs=64, cache_dir=tmp_path).classifier_.B_

    shaped, again = stream(), stream()
    assert shaped.tobytes() == again.tobytes()
    monkeypatch.setattr(defaults, attribute, 0.0)
    assert stream().tobytes() != shaped.tobytes()


@pytest.mark.parametrize("name", ["ova", "hs"])
@pytest.mark.parametrize(
    "resolver, binary, message",
    [("resolve_margin", False, "takes no margin"), ("resolve_gce", True, "takes no gce exponent")],
)
def test_losses_without_a_margin_refuse_one(name, resolver, binary, message, monkeypatch):
    """``sgd_step`` hands every loss the optimiser's margin and generalized cross-entropy
    exponent; only softmax honours them, the others refuse a non-zero value instead of
    training without it."""
    import bowclf.classifier

    X, y = three_class_counts()
    y = (y > 0).astype(int) if binary else y
    monkeypatch.setattr(bowclf.classifier, resolver, lambda *a, **kw: 1.0)
    with pytest.raises(ValueError, match=message):
        _fit(X, y, loss=name, optimizer="adaptive")
    assert _fit(X, y, loss="softmax", optimizer="adaptive").n_iter_ == 4  # softmax takes it
