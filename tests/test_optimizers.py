"""optimizer='adaptive' | 'adagrad' | 'sgd' in the estimators: reproducibility, continuity of
partial_fit / warm_start through saved accumulators, model files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf import BowClassifier, TextClassifier, persist
from bowclf.optim import AdaGrad, Adaptive

STATEFUL = ["adaptive", "adagrad"]


@pytest.mark.parametrize("optimizer", ["adaptive", "adagrad", "sgd"])
def test_fixed_seed_gives_identical_models(count_data, optimizer):
    Xtr, ytr, _, _ = count_data
    a = BowClassifier(optimizer=optimizer, epochs=3, random_state=0).fit(Xtr, ytr)
    b = BowClassifier(optimizer=optimizer, epochs=3, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.A_, b.A_)
    np.testing.assert_array_equal(a.B_, b.B_)
    assert a.optimizer_state_.keys() == b.optimizer_state_.keys()
    for key in a.optimizer_state_:
        np.testing.assert_array_equal(a.optimizer_state_[key], b.optimizer_state_[key])


def test_optimizers_hold_the_state_they_document(count_data):
    Xtr, ytr, _, _ = count_data
    p, c = Xtr.shape[1], np.unique(ytr).size
    sgd = BowClassifier(optimizer="sgd", epochs=1, random_state=0).fit(Xtr, ytr)
    ada = BowClassifier(optimizer="adaptive", epochs=1, random_state=0).fit(Xtr, ytr)
    full = BowClassifier(optimizer="adagrad", epochs=1, random_state=0).fit(Xtr, ytr)
    assert sgd.optimizer_state_ == {}
    assert set(ada.optimizer_state_) == {"B_accumulator"}
    assert ada.optimizer_state_["B_accumulator"].shape == (c,)
    assert (ada.optimizer_state_["B_accumulator"] > 0).all()
    assert full.optimizer_state_["A_accumulator"].shape == (p,)
    assert (full.optimizer_state_["A_accumulator"] > 0).any()
    assert not np.array_equal(sgd.B_, ada.B_)


@pytest.mark.parametrize("optimizer", STATEFUL)
def test_partial_fit_continues_through_a_saved_model(count_data, tmp_path, optimizer):
    """partial_fit on two chunks equals partial_fit on the first, save, load, then the second:
    the accumulators travel in the model file."""
    Xtr, ytr, _, _ = count_data
    half = Xtr.shape[0] // 2
    classes = np.unique(ytr)
    straight = BowClassifier(optimizer=optimizer, random_state=0)
    straight.partial_fit(Xtr[:half], ytr[:half], classes=classes)
    straight.partial_fit(Xtr[half:], ytr[half:])

    first = BowClassifier(optimizer=optimizer, random_state=0)
    first.partial_fit(Xtr[:half], ytr[:half], classes=classes)
    persist.save(first, tmp_path / "m.bowclf")
    resumed = persist.load(tmp_path / "m.bowclf")
    for key, value in first.optimizer_state_.items():
        np.testing.assert_array_equal(resumed.optimizer_state_[key], value)
    resumed.partial_fit(Xtr[half:], ytr[half:])
    np.testing.assert_array_equal(resumed.A_, straight.A_)
    np.testing.assert_array_equal(resumed.B_, straight.B_)


@pytest.mark.parametrize("optimizer", STATEFUL)
def test_accumulators_make_continued_steps_differ_from_fresh_ones(count_data, optimizer):
    """Without the accumulators a continued run would restart with full-size steps."""
    Xtr, ytr, _, _ = count_data
    classes = np.unique(ytr)
    model = BowClassifier(optimizer=optimizer, random_state=0)
    model.partial_fit(Xtr, ytr, classes=classes)
    forgetful = BowClassifier(optimizer=optimizer, random_state=0)
    forgetful.partial_fit(Xtr, ytr, classes=classes)
    before = model.optimizer_state_["B_accumulator"].copy()
    forgetful.optimizer_state_ = {}  # what a model file without accumulators would give
    model.partial_fit(Xtr, ytr)
    forgetful.partial_fit(Xtr, ytr)
    assert (model.optimizer_state_["B_accumulator"] > before).all()
    assert not np.array_equal(model.B_, forgetful.B_)


def test_warm_start_keeps_and_fresh_fit_resets_the_accumulators(count_data):
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(epochs=1, warm_start=True, random_state=0).fit(Xtr, ytr)
    after_one = model.optimizer_state_["B_accumulator"].copy()
    model.fit(Xtr, ytr)
    assert (model.optimizer_state_["B_accumulator"] > after_one).all()
    fresh = BowClassifier(epochs=1, random_state=0).fit(Xtr, ytr)
    fresh.fit(Xtr, ytr)  # not warm: starts over
    np.testing.assert_array_equal(fresh.optimizer_state_["B_accumulator"], after_one)


def test_files_without_an_optimizer_continue_with_plain_sgd(count_data):
    """A model file written before optimizer= existed was trained with SGD and resumes so."""
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(optimizer="sgd", epochs=1, random_state=0).fit(Xtr, ytr)
    params = {k: v for k, v in model.get_params().items() if k != "optimizer"}
    fitted = {
        k: getattr(model, k)
        for k in ("n_features_in_", "multilabel_", "threshold_", "n_iter_", "t_",
                  "loss_curve_", "validation_scores_", "best_validation_score_")
    }  # fmt: skip
    old = BowClassifier._restore(params, fitted, model.A_.T, model.B_, model.classes_)
    assert old.optimizer == "sgd" and old.optimizer_state_ == {}
    with pytest.raises(ValueError, match="does not fit"):
        BowClassifier._restore(
            {**params, "optimizer": "adaptive"}, fitted, model.A_.T, model.B_, model.classes_,
            {"B_accumulator": np.ones(model.B_.shape[0] + 1)},
        )  # fmt: skip
    with pytest.raises(ValueError, match="non-negative"):
        BowClassifier._restore(
            {**params, "optimizer": "adaptive"}, fitted, model.A_.T, model.B_, model.classes_,
            {"B_accumulator": -np.ones(model.B_.shape[0])},
        )  # fmt: skip


def test_text_classifier_passes_the_optimizer_and_saves_its_state(tmp_path):
    texts = ["good film", "great movie", "bad film", "awful movie"] * 20
    labels = ["pos", "pos", "neg", "neg"] * 20
    model = TextClassifier(optimizer="adagrad", epochs=3, random_state=0).fit(texts, labels)
    assert model.classifier_.optimizer == "adagrad"
    persist.save(model, tmp_path / "t.bowclf")
    header = persist.info(tmp_path / "t.bowclf")
    assert {"classifier/A_accumulator", "classifier/B_accumulator"} <= set(header["arrays"])
    loaded = persist.load(tmp_path / "t.bowclf")
    assert loaded.optimizer == "adagrad"
    np.testing.assert_array_equal(
        loaded.classifier_.optimizer_state_["A_accumulator"],
        model.classifier_.optimizer_state_["A_accumulator"],
    )


def test_long_documents_train_with_the_adaptive_optimizer():
    """The point of the default: documents of hundreds of tokens where one word in twenty is
    topical.  Plain SGD hardly moves A (each word's step ∝ 1/length) — 'adaptive' learns."""
    rng = np.random.default_rng(0)
    n, p, length, classes = 800, 3000, 500, 10
    topics = rng.choice(p, (classes, 30))
    y = rng.integers(0, classes, n)
    rows = []
    for c in y:
        words = rng.integers(0, p, length)
        topical = rng.random(length) < 0.05  # one word in twenty
        words[topical] = rng.choice(topics[c], topical.sum())
        rows.append(np.bincount(words, minlength=p))
    X = sp.csr_array(np.array(rows, dtype=np.float64))
    train, test = slice(0, 600), slice(600, n)
    scores = {
        opt: BowClassifier(optimizer=opt, epochs=5, random_state=0)
        .fit(X[train], y[train])
        .score(X[test], y[test])
        for opt in ("sgd", "adaptive")
    }
    assert scores["adaptive"] > 0.9
    assert scores["adaptive"] > scores["sgd"] + 0.2


def test_optimizer_objects_resume_their_state():
    W, B = np.zeros((5, 2), np.float32), np.zeros((3, 2), np.float32)
    opt = AdaGrad()
    opt.start(W, B)
    opt.A_accumulator += 1.0
    again = AdaGrad()
    again.resume(opt.state())
    again.start(W, B)
    np.testing.assert_array_equal(again.A_accumulator, np.ones(5))
    wrong = Adaptive()
    wrong.resume({"B_accumulator": np.ones(7)})  # a state that does not fit: zeros
    wrong.start(W, B)
    np.testing.assert_array_equal(wrong.B_accumulator, np.zeros(3))
    assert wrong.A_accumulator is None


def test_auto_is_adaptive_for_softmax_and_sgd_for_ova(count_data):
    Xtr, ytr, _, _ = count_data
    soft = BowClassifier(epochs=1, random_state=0).fit(Xtr, ytr)
    ova = BowClassifier(loss="ova", epochs=1, random_state=0).fit(Xtr, ytr)
    assert soft.optimizer == "auto" and set(soft.optimizer_state_) == {"B_accumulator"}
    explicit = BowClassifier(optimizer="adaptive", epochs=1, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(soft.B_, explicit.B_)
    assert ova.optimizer_state_ == {}
    sgd = BowClassifier(loss="ova", optimizer="sgd", epochs=1, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(ova.B_, sgd.B_)


def test_early_stopping_keeps_the_best_epochs_accumulators_with_its_parameters():
    """The kept epoch's weights go with its own optimiser state (they went with the last
    epoch's accumulators, 2-3x larger: a continued run took too small steps): a run that
    stops after 3 epochs, keeping the first, ends as a run of that one epoch does."""
    from bowclf.backends.memory import InMemoryData
    from bowclf.losses import get_loss
    from bowclf.training import LinearDecay, initial_parameters, train

    rng = np.random.default_rng(0)
    n, p, c = 300, 50, 3
    X = sp.csr_array(rng.poisson(0.2, size=(n, p)).astype(np.float32))
    y = rng.integers(0, c, n)
    Y = sp.csr_array((np.ones(n, np.float32), y, np.arange(n + 1)), shape=(n, c))
    loss = get_loss("softmax")

    def run(epochs, validate=None):
        W, B = initial_parameters(p, 8, (c, 8), np.random.default_rng(1))
        optimizer = AdaGrad()
        source = InMemoryData(X, Y, np.ones(n, np.float32), normalize="l1", loss=loss,
                              multilabel=False)  # fmt: skip
        history = train(source, W, B, epochs=epochs, rng=np.random.default_rng(2),
                        schedule=LinearDecay(0.5, 3 * n), loss=loss, batch_size=16, lr=0.5,
                        optimizer=optimizer, validate=validate, early_stopping=True,
                        n_iter_no_change=2, tol=0.0)  # fmt: skip
        return history, W, B, optimizer.state()

    scores = iter([1.0, 0.5, 0.5])  # the first epoch is the best
    stopped, W, B, state = run(3, lambda: next(scores))
    assert stopped.best_epoch == 1 and stopped.n_iter == 3
    _, W1, B1, state1 = run(1)
    np.testing.assert_array_equal(W, W1)
    np.testing.assert_array_equal(B, B1)
    assert state.keys() == state1.keys() == {"A_accumulator", "B_accumulator"}
    for name in state:
        np.testing.assert_array_equal(state[name], state1[name])
