"""BowClassifier: scikit-learn conformance, determinism, incremental training, failures."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from bowclf import BowClassifier
from bowclf.classifier import TrainingDivergedError

EXPECTED_FAILED_CHECKS = {
    # SGD over shuffled rows: a weight of 2 is a doubled step at one position in the epoch,
    # a repeated row is two steps at two positions, so the fits differ (as for SGDClassifier).
    "check_sample_weight_equivalence_on_dense_data": "stochastic training: weights are steps",
    "check_sample_weight_equivalence_on_sparse_data": "stochastic training: weights are steps",
    # These two checks feed negative features regardless of the positive_only tag; the model
    # takes non-negative counts and rejects negative input with a ValueError by design.
    "check_class_weight_classifiers": "feeds negative features; counts must be >= 0",
    "check_decision_proba_consistency": "feeds negative features; counts must be >= 0",
}


@parametrize_with_checks(
    [BowClassifier(random_state=0)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_learns_the_text_fixture(count_data):
    Xtr, ytr, Xte, yte = count_data
    model = BowClassifier(epochs=10, random_state=0).fit(Xtr, ytr)
    assert model.score(Xte, yte) > 0.9
    assert model.A_.shape == (100, Xtr.shape[1])
    assert model.B_.shape == (3, 100)
    assert model.A_.dtype == np.float32 and model.B_.dtype == np.float32
    assert model.n_iter_ == 10 and len(model.loss_curve_) == 10
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.t_ == 10 * Xtr.shape[0]


def test_probabilities_are_exact(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    P = model.predict_proba(Xte)
    assert P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(Xte)), P, rtol=1e-10)
    np.testing.assert_array_equal(model.classes_[P.argmax(axis=1)], model.predict(Xte))
    H = model.transform(Xte)
    assert H.shape == (Xte.shape[0], 100)
    S = H.astype(np.float64) @ model.B_.T.astype(np.float64)
    np.testing.assert_allclose(model.decision_function(Xte), S, rtol=1e-4, atol=1e-5)


def test_same_random_state_is_bit_for_bit_reproducible(count_data):
    Xtr, ytr, Xte, _ = count_data
    a = BowClassifier(epochs=3, random_state=42).fit(Xtr, ytr)
    b = BowClassifier(epochs=3, random_state=42).fit(Xtr, ytr)
    assert a.A_.tobytes() == b.A_.tobytes()
    assert a.B_.tobytes() == b.B_.tobytes()
    assert a.predict_proba(Xte).tobytes() == b.predict_proba(Xte).tobytes()
    c = BowClassifier(epochs=3, random_state=43).fit(Xtr, ytr)
    assert a.A_.tobytes() != c.A_.tobytes()


def test_pipeline_gridsearch_cross_val_and_pickle(text_data):
    Xtr, ytr, Xte, _ = text_data
    pipe = make_pipeline(CountVectorizer(), BowClassifier(epochs=5, random_state=0))
    scores = cross_val_score(pipe, Xtr, ytr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    grid = GridSearchCV(
        pipe, {"bowclassifier__dim": [10, 30], "bowclassifier__lr": [0.1, 0.3]}, cv=3
    ).fit(Xtr, ytr)
    assert grid.best_score_ > 0.8
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(
        restored.predict_proba(Xte), grid.best_estimator_.predict_proba(Xte)
    )


def test_partial_fit_in_chunks_matches_fit(count_data):
    Xtr, ytr, Xte, yte = count_data
    full = BowClassifier(epochs=5, random_state=0).fit(Xtr, ytr)
    inc = BowClassifier(total_examples=5 * Xtr.shape[0], random_state=0)
    chunks = np.array_split(np.arange(Xtr.shape[0]), 10)
    for _ in range(5):
        for rows in chunks:
            inc.partial_fit(Xtr[rows], ytr[rows], classes=np.unique(ytr))
    assert abs(inc.score(Xte, yte) - full.score(Xte, yte)) <= 0.01 + 1e-9
    assert inc.t_ == 5 * Xtr.shape[0]
    assert len(inc.loss_curve_) == 50
    # Without total_examples the rate stays constant at lr.
    const = BowClassifier(random_state=0).partial_fit(Xtr, ytr, classes=np.unique(ytr))
    assert const.t_ == Xtr.shape[0]


def test_partial_fit_errors(count_data):
    Xtr, ytr, _, _ = count_data
    with pytest.raises(ValueError, match="classes must be passed"):
        BowClassifier().partial_fit(Xtr, ytr)
    model = BowClassifier().partial_fit(Xtr[:50], ytr[:50], classes=["food", "sports", "tech"])
    with pytest.raises(ValueError, match="unknown to the model"):
        model.partial_fit(Xtr[:2], ["food", "cars"])
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(Xtr[:2], ytr[:2], classes=["a", "b"])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(Xtr[:2, :5], ytr[:2])


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[1.0, -1.0], [0.0, 1.0], [1.0, 0.0]]), "Negative values"),
        (np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 0.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 0.0]]), "infinity"),
    ],
)
def test_invalid_counts_are_rejected(X, message):
    with pytest.raises(ValueError, match=message):
        BowClassifier().fit(X, [0, 1, 0])


def test_other_failures_are_clear_value_errors():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BowClassifier().fit(X, [0, 1])
    with pytest.raises(ValueError, match="only one class"):
        BowClassifier().fit(X, [1, 1, 1])
    with pytest.raises(ValueError, match="dim"):
        BowClassifier(dim=0).fit(X, [0, 1, 0])


def test_divergence_raises_and_leaves_no_nan_model(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(lr=1e9, random_state=0)
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        model.fit(Xtr, ytr)
    assert not hasattr(model, "A_")
    with pytest.raises(Exception, match="not fitted"):
        model.predict(Xte)


def test_empty_documents_get_uniform_probabilities(count_data):
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    P = model.predict_proba(sp.csr_array((2, Xtr.shape[1])))
    np.testing.assert_allclose(P, 1 / 3)
    # Training on documents without known tokens does not break anything either.
    X = sp.vstack([Xtr[:100], sp.csr_array((20, Xtr.shape[1]))]).tocsr()
    y = np.concatenate([ytr[:100], ytr[:20]])
    assert np.isfinite(BowClassifier(random_state=0).fit(X, y).loss_curve_).all()


def test_sample_and_class_weights(count_data):
    Xtr, ytr, Xte, _ = count_data
    # Zero weight for a class: the model never predicts it on the test set.
    w = np.where(ytr == "food", 0.0, 1.0)
    model = BowClassifier(random_state=0).fit(Xtr, ytr, sample_weight=w)
    assert "food" not in set(model.predict(Xte))
    heavy = BowClassifier(class_weight={"food": 5.0}, random_state=0).fit(Xtr, ytr)
    base = BowClassifier(random_state=0).fit(Xtr, ytr)
    assert (heavy.predict(Xte) == "food").sum() > (base.predict(Xte) == "food").sum()
    balanced = BowClassifier(class_weight="balanced", random_state=0).fit(Xtr, ytr)
    assert balanced.score(Xte, count_data[3]) > 0.8


def test_early_stopping_and_validation_scores(count_data):
    Xtr, ytr, Xte, yte = count_data
    model = BowClassifier(epochs=50, early_stopping=True, n_iter_no_change=2, random_state=0).fit(
        Xtr, ytr
    )
    assert model.n_iter_ < 50
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    ext = BowClassifier(epochs=3, random_state=0).fit(Xtr, ytr, X_val=Xte, y_val=yte)
    assert len(ext.validation_scores_) == 3
    assert ext.validation_scores_[-1] == pytest.approx(ext.score(Xte, yte))


def test_warm_start_continues_training(count_data):
    Xtr, ytr, _, _ = count_data
    model = BowClassifier(epochs=2, warm_start=True, random_state=0).fit(Xtr, ytr)
    A_first = model.A_.copy()
    model.fit(Xtr, ytr)
    assert model.t_ == 4 * Xtr.shape[0]
    assert not np.array_equal(A_first, model.A_)


def test_callback_reports_progress(count_data):
    Xtr, ytr, _, _ = count_data
    events = []
    BowClassifier(epochs=2, random_state=0).fit(Xtr, ytr, callback=events.append)
    ends = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in ends] == [1, 2]
    assert ends[-1]["progress"] == 1.0
    assert ends[-1]["examples"] == 2 * Xtr.shape[0]
    assert ends[-1]["features"] == 2 * Xtr.nnz


def test_predict_topk(count_data):
    Xtr, ytr, Xte, _ = count_data
    model = BowClassifier(random_state=0).fit(Xtr, ytr)
    labels, proba = model.predict_topk(Xte, k=5, threshold=0.0)
    assert labels.shape == (Xte.shape[0], 5)
    np.testing.assert_array_equal(labels[:, 0], model.predict(Xte))
    assert np.all(np.isnan(proba[:, 3:])) and np.all(labels[:, 3:] == None)  # noqa: E711
    assert np.all(np.diff(proba[:, :3], axis=1) <= 0)
    labels, proba = model.predict_topk(Xte, k=1, threshold=0.99)
    assert np.all((proba[:, 0] >= 0.99) | np.isnan(proba[:, 0]))


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_multilabel_indicator_targets(loss):
    rng = np.random.default_rng(0)
    n, p, c = 400, 30, 4
    # Label k is present iff feature block k is used; documents have 1-2 labels.
    Y = np.zeros((n, c), dtype=int)
    Y[np.arange(n), rng.integers(0, c, n)] = 1
    Y[np.arange(n), rng.integers(0, c, n)] |= rng.random(n) < 0.3
    X = np.zeros((n, p))
    for k in range(c):
        X[Y[:, k] == 1, k * 7 : k * 7 + 7] = rng.integers(0, 3, ((Y[:, k] == 1).sum(), 7))
    X[:, 28:] = rng.integers(0, 3, (n, 2))
    model = BowClassifier(loss=loss, epochs=30, lr=0.5, random_state=0).fit(X, Y)
    assert model.multilabel_
    P = model.predict_proba(X)
    assert P.shape == (n, c) and np.all((P >= 0) & (P <= 1))
    if loss == "softmax":
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    pred = model.predict(X)
    assert pred.shape == (n, c) and set(np.unique(pred)) <= {0, 1}
    assert (pred == Y).all(axis=1).mean() > 0.7


def test_training_holds_blas_to_one_thread(monkeypatch):
    """The per-batch products are tiny: a threaded BLAS would spend its time handing work
    between threads (1000 classes trained 5-10x slower) and make results depend on the core
    count.  Training runs with one BLAS thread; the caller's setting is restored after."""
    from threadpoolctl import threadpool_info

    import bowclf.training as training

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    seen = []
    step = training.sgd_step

    def spy(*args, **kwargs):
        if len(seen) < 3:
            seen.append(blas_threads())
        return step(*args, **kwargs)

    monkeypatch.setattr(training, "sgd_step", spy)
    rng = np.random.default_rng(0)
    X = sp.csr_array(rng.poisson(0.3, size=(64, 30)).astype(float))
    BowClassifier(epochs=1, random_state=0).fit(X, rng.integers(0, 5, 64))
    assert len(seen) == 3 and all(s <= {1} for s in seen), seen
    assert blas_threads() == before
