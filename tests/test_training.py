"""The fitting protocol: losses as objects, the one training loop, backends, old model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bowclf import load
from bowclf.losses import LOSSES, get_loss

DATA = Path(__file__).parent / "data"


def test_model_files_written_at_4640339_still_load_and_predict_the_same():
    """Files written by the code before the fitting refactor (tests/data, generated at commit
    4640339) load, and predict what that code predicted: the same most probable classes, and
    probabilities equal up to the float32 rounding of the scores (their sums' order is the
    BLAS kernel's, which differs between CPUs and between a row scored alone or in a block)."""
    expected = np.load(DATA / "legacy-4640339-expected.npz")
    docs = ["good film", "boring plot", ""]
    text = load(DATA / "legacy-4640339-text.bowclf")
    _same_probabilities(text.predict_proba(docs), expected["text_proba"])
    multi = load(DATA / "legacy-4640339-multilabel-ova.bowclf")
    _same_probabilities(multi.predict_proba(docs), expected["ml_proba"])
    assert multi.multilabel_ and multi.classifier_.loss == "ova"
    bow = load(DATA / "legacy-4640339-bow.bowclf")
    _same_probabilities(bow.predict_proba(expected["bow_X"]), expected["bow_proba"])


def _same_probabilities(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


# Losses with one score per class; hierarchical softmax scores inner nodes of its label tree
# (its path loss is checked against finite differences in tests/test_hsoftmax.py).
PER_CLASS_LOSSES = sorted(name for name in LOSSES if name != "hs")


@pytest.mark.parametrize("name", PER_CLASS_LOSSES)
def test_loss_gradient_matches_finite_differences(name):
    """Each loss object's score gradient is the derivative of its summed weighted loss."""
    loss = get_loss(name)
    rng = np.random.default_rng(0)
    S = rng.normal(size=(5, 4))
    Y = np.eye(4)[rng.integers(0, 4, 5)]
    w = rng.uniform(0.5, 2.0, 5)
    G = loss.score_gradient(S, Y, w)
    eps = 1e-6
    numeric = np.zeros_like(S)
    for idx in np.ndindex(*S.shape):
        up, down = S.copy(), S.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (loss.loss(up, Y, w) - loss.loss(down, Y, w)) * w.sum() / (2 * eps)
    np.testing.assert_allclose(G, numeric, rtol=1e-5, atol=1e-7)
    batch_loss, G_batch = loss.batch_loss_and_score_gradient(S, Y, w)
    assert batch_loss == pytest.approx(loss.loss(S, Y, w) * w.sum())
    np.testing.assert_allclose(G_batch, G, rtol=1e-12)


@pytest.mark.parametrize("name", PER_CLASS_LOSSES)
def test_loss_probabilities_and_log_probabilities_agree(name):
    loss = get_loss(name)
    S = np.random.default_rng(1).normal(size=(6, 3)) * 5
    for multilabel in (False, True):
        P = loss.proba(S.copy(), multilabel)
        np.testing.assert_allclose(np.log(P), loss.log_proba(S.copy(), multilabel), rtol=1e-10)
        if not multilabel:
            np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # Rows of equal, very negative scores: single-label ova's normalised sigmoids are still
    # uniform (their log-sum-exp once rounded away: rows [1, 1, 0], summing to 2).
    for value in (-1e3, -1e9, -1e20):
        S = np.full((2, 3), value)
        np.testing.assert_allclose(loss.proba(S.copy(), False), 1 / 3, rtol=1e-12)
        np.testing.assert_allclose(loss.log_proba(S.copy(), False), -np.log(3), rtol=1e-12)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")


def test_progress_reports_vectorising_and_the_kept_epoch(text_data, tmp_path):
    """Issue 20 item 15: a status line while vectorising, and early stopping names the epoch
    whose weights were kept — from the callback to the command line's stderr."""
    from click.testing import CliRunner
    from conftest import write_label_text_csv

    from bowclf import TextClassifier
    from bowclf.cli import cli

    Xtr, ytr, Xte, yte = text_data
    events = []
    TextClassifier(dim=4, epochs=1).fit(Xtr, ytr, callback=events.append)
    vectorize = [e for e in events if e["event"] == "vectorize"]
    assert [e["seconds"] is None for e in vectorize] == [True, False]
    assert events.index(vectorize[1]) < next(i for i, e in enumerate(events)
                                             if e["event"] == "epoch")  # fmt: skip
    train = write_label_text_csv(tmp_path / "t.csv", Xtr, ytr)
    valid = write_label_text_csv(tmp_path / "v.csv", Xte, yte)
    result = CliRunner().invoke(cli, [
        "fit", str(train), "--valid", str(valid), "--early-stopping", "--patience", "1",
        "--epochs", "30", "--dim", "8", "-o", str(tmp_path / "m.bowclf")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"Vectorising {len(Xtr):,} documents" in result.stderr
    model = load(tmp_path / "m.bowclf")
    line = f"kept the weights of epoch {model.classifier_.best_epoch_} "
    assert "early stopping after epoch" in result.stderr and line in result.stderr


def test_an_optimiser_plugs_into_the_loop(count_data):
    """The loop drives any object with start/step: a wrapper around SGD that counts its steps
    trains the very same model as the built-in optimiser."""
    from bowclf import BowClassifier
    from bowclf.optim import SGD

    class Counting(SGD):
        steps = 0

        def step(self, W, B, batch, grads, lr):
            Counting.steps += 1
            super().step(W, B, batch, grads, lr)

    Xtr, ytr, _, _ = count_data
    plain = BowClassifier(epochs=2, batch_size=16, optimizer="sgd", random_state=0).fit(Xtr, ytr)
    counted = BowClassifier(epochs=2, batch_size=16, optimizer="sgd", random_state=0)
    counted._optimizer = Counting
    counted.fit(Xtr, ytr)
    assert Counting.steps == 2 * -(-Xtr.shape[0] // 16)
    np.testing.assert_array_equal(counted.B_, plain.B_)
    np.testing.assert_array_equal(counted.A_, plain.A_)


def test_a_loss_prepared_for_the_corpus_is_the_one_the_model_uses(count_data, monkeypatch):
    """A loss may keep state built from the corpus description (hierarchical softmax: a tree
    from the class counts): the model trains and predicts with the object for_corpus made."""
    from bowclf import BowClassifier
    from bowclf.losses import Softmax

    seen = []

    def for_corpus(self, stats):
        prepared = Softmax()
        prepared.class_counts = stats.class_counts
        seen.append(prepared)
        return prepared

    monkeypatch.setattr(Softmax, "for_corpus", for_corpus)
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(epochs=1, random_state=0).fit(Xtr, ytr)
    assert len(seen) == 1 and model._loss() is seen[0]
    np.testing.assert_array_equal(seen[0].class_counts, np.unique(ytr, return_counts=True)[1])
