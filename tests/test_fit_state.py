"""A fit that is refused (or interrupted) leaves the estimator as it was (bowclf.fit_state)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from bowclf import BowClassifier, BowVectorizer, TextClassifier

TEXTS = ["great film", "loved it", "boring film", "hated it"] * 20
LABELS = ["pos", "pos", "neg", "neg"] * 20


def _fitted_state(model) -> dict:
    return {k: v for k, v in vars(model).items() if k.endswith("_")}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


@pytest.mark.parametrize(
    "refit",
    [
        lambda m, X, y: m.fit(X, np.char.upper(y)),  # other class names
        lambda m, X, y: m.fit(X[:, :-1], y),  # other features
        lambda m, X, y: m.fit(X, y, sample_weight=-np.ones(X.shape[0])),
        lambda m, X, y: m.fit(X, y, X_val=X[:2], y_val=["pos", "typo"]),
    ],
)
def test_a_refused_warm_start_leaves_the_model_as_it_was(refit):
    X = BowVectorizer().fit_transform(TEXTS)
    y = np.array(LABELS)
    model = BowClassifier(epochs=3, random_state=0, warm_start=True).fit(X, y)
    state, proba = _fitted_state(model), model.predict_proba(X)
    with pytest.raises(ValueError):
        refit(model, X, y)
    assert _same(_fitted_state(model), state)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert list(model.predict(X[:3])) == ["pos", "pos", "neg"]


def test_a_refused_partial_fit_leaves_the_model_as_it_was():
    X = BowVectorizer().fit_transform(TEXTS)
    y = np.array(LABELS)
    model = BowClassifier(random_state=0).partial_fit(X, y, classes=["neg", "pos"])
    state = _fitted_state(model)
    with pytest.raises(ValueError):
        model.partial_fit(X, y, classes=["neg", "pos", "meh"])
    with pytest.raises(ValueError):
        model.partial_fit(X[:, :-1], y)
    assert _same(_fitted_state(model), state)


def test_a_refused_first_fit_leaves_the_model_unfitted():
    model = TextClassifier(epochs=2)
    with pytest.raises(ValueError):
        model.fit(TEXTS, LABELS, X_val=["a"], y_val=["typo"])
    assert not _fitted_state(model)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_a_refused_or_interrupted_refit_keeps_the_text_model():
    model = TextClassifier(epochs=3, random_state=0).fit(TEXTS, LABELS)
    state, proba = _fitted_state(model), model.predict_proba(TEXTS)
    with pytest.raises(ValueError, match="typo"):
        model.fit(TEXTS + ["new words"], LABELS + ["pos"], X_val=["a"], y_val=["typo"])
    assert _same(_fitted_state(model), state)

    def interrupt(event):
        if event.get("event") == "epoch":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(TEXTS[:40] + ["other words"], LABELS[:40] + ["pos"], callback=interrupt)
    assert _same(_fitted_state(model), state)
    np.testing.assert_array_equal(model.predict_proba(TEXTS), proba)
