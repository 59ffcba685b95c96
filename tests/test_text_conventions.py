"""TextClassifier follows scikit-learn's conventions (check_estimator runs one check on an
estimator of raw text: this battery covers the rest by hand; issue 20, item 6)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score

from bowclf import TextClassifier

SMALL = {"dim": 8, "epochs": 3, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(text_data):
    Xtr, ytr, _, _ = text_data
    return TextClassifier(**SMALL).fit(Xtr, ytr)


def test_is_a_classifier_with_consistent_params():
    model = TextClassifier(dim=7, loss="ova", ngrams=1)
    assert is_classifier(model)
    params = model.get_params()
    assert params["dim"] == 7 and params["loss"] == "ova" and params["ngrams"] == 1
    assert TextClassifier(**params).get_params() == params
    assert model.set_params(dim=9, minn=2, maxn=3) is model and model.get_params()["dim"] == 9
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(no_such_parameter=1)


def test_constructor_and_clone_keep_params_untouched():
    model = TextClassifier(dim=5, class_weight={"a": 2.0})
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    assert twin.class_weight == {"a": 2.0} and twin.class_weight is not model.class_weight
    assert not hasattr(twin, "classifier_")


def test_invalid_params_fail_at_fit_not_construction(text_data):
    Xtr, ytr, _, _ = text_data
    model = TextClassifier(dim=-1)  # __init__ does no validation
    with pytest.raises(ValueError, match="dim"):
        model.fit(Xtr, ytr)


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function",
               "transform", "predict_topk"],
)  # fmt: skip
def test_not_fitted_errors(method):
    with pytest.raises(NotFittedError):
        getattr(TextClassifier(), method)(["a document"])
    with pytest.raises(NotFittedError):
        TextClassifier().score(["a"], ["b"])


def test_fit_returns_self_and_is_deterministic(text_data, fitted):
    Xtr, ytr, Xte, _ = text_data
    model = TextClassifier(**SMALL)
    assert model.fit(Xtr, ytr) is model
    np.testing.assert_array_equal(model.predict_proba(Xte), fitted.predict_proba(Xte))


def test_fit_does_not_modify_its_inputs(text_data):
    Xtr, ytr, _, _ = text_data
    texts, labels = list(Xtr), list(ytr)
    TextClassifier(**SMALL).fit(texts, labels)
    assert texts == list(Xtr) and labels == list(ytr)


def test_refit_forgets_the_previous_fit(text_data, fitted):
    Xtr, ytr, Xte, _ = text_data
    model = TextClassifier(**SMALL).fit(Xtr[:100], ["x" if i % 2 else "y" for i in range(100)])
    assert model.classes_.tolist() == ["x", "y"]
    model.fit(Xtr, ytr)
    assert model.classes_.tolist() == fitted.classes_.tolist()
    np.testing.assert_array_equal(model.predict_proba(Xte), fitted.predict_proba(Xte))


def test_pickle_and_deepcopy_round_trip(text_data, fitted):
    _, _, Xte, _ = text_data
    for twin in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        np.testing.assert_array_equal(twin.predict_proba(Xte), fitted.predict_proba(Xte))
        assert twin.predict(Xte).tolist() == fitted.predict(Xte).tolist()


def test_prediction_shapes_and_consistency(text_data, fitted):
    _, _, Xte, yte = text_data
    P = fitted.predict_proba(Xte)
    assert P.shape == (len(Xte), len(fitted.classes_))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(Xte)), P, rtol=1e-10)
    assert fitted.predict(Xte).tolist() == fitted.classes_[P.argmax(axis=1)].tolist()
    assert fitted.decision_function(Xte).shape == P.shape
    assert fitted.transform(Xte).shape == (len(Xte), SMALL["dim"])
    assert 0.0 <= fitted.score(Xte, yte) <= 1.0
    # A subset is predicted as in the whole batch.
    np.testing.assert_allclose(fitted.predict_proba(Xte[5:9]), P[5:9], rtol=1e-6)


def test_works_inside_model_selection(text_data):
    Xtr, ytr, _, _ = text_data
    scores = cross_val_score(TextClassifier(**SMALL), Xtr, ytr, cv=2)
    assert scores.shape == (2,) and (scores > 0.5).all()
    search = GridSearchCV(TextClassifier(**SMALL), {"dim": [4, 8]}, cv=2).fit(Xtr, ytr)
    assert search.best_params_["dim"] in (4, 8)


def test_bad_inputs_are_clear_value_errors():
    with pytest.raises(ValueError, match="single string"):
        TextClassifier(**SMALL).fit("one document", ["a"])
    with pytest.raises(ValueError, match="lengths must match"):
        TextClassifier(**SMALL).fit(["a b", "c d"], ["x"])
    with pytest.raises(ValueError, match="only one class"):
        TextClassifier(**SMALL).fit(["a b", "c d"], ["x", "x"])


TEXTS = ["great film", "loved it", "boring film", "hated it"] * 20


def test_a_single_column_of_labels_is_one_label_per_document(tmp_path):
    """As scikit-learn reads y of shape (n, 1): 1-d, with a DataConversionWarning."""
    from sklearn.exceptions import DataConversionWarning

    import bowclf

    column = np.array(["pos", "pos", "neg", "neg"] * 20)[:, None]
    with pytest.warns(DataConversionWarning):
        model = TextClassifier(**SMALL).fit(TEXTS, column)
    assert not model.multilabel_ and model.classes_.tolist() == ["neg", "pos"]
    assert model.score(TEXTS, column) == model.score(TEXTS, column.ravel()) == 1.0
    bowclf.save(model, tmp_path / "m.bowclf")  # loads: one label per document, as fitted
    assert (
        bowclf.load(tmp_path / "m.bowclf").predict(TEXTS[:4]).tolist()
        == model.predict(TEXTS[:4]).tolist()
    )


def test_rows_of_0_1_numbers_are_an_indicator_as_in_scikit_learn():
    rows = [[1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1]] * 20
    as_lists = TextClassifier(**SMALL).fit(TEXTS, rows)
    as_array = TextClassifier(**SMALL).fit(TEXTS, np.array(rows))
    assert as_lists.classes_.tolist() == as_array.classes_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(as_lists.predict(TEXTS), as_array.predict(TEXTS))
    # label collections stay label collections (other labels, or unequal lengths)
    sets = TextClassifier(**SMALL).fit(TEXTS, [(0,), (0, 2), (1,), (1, 2)] * 20)
    assert sets.classes_.tolist() == [0, 1, 2] and isinstance(sets.predict(TEXTS[:1])[0], tuple)


def test_float_label_sets_and_non_string_class_weight_keys_survive_a_model_file(tmp_path):
    """JSON keys are strings: class_weight={1: 2.0} must come back keyed by the label 1, and
    a refit of the loaded (or cloned) model must accept it."""
    import bowclf

    floats = TextClassifier(**SMALL).fit(TEXTS, [(1.5,), (1.5, 2.5), (2.5,), (2.5,)] * 20)
    bowclf.save(floats, tmp_path / "f.bowclf")
    loaded = bowclf.load(tmp_path / "f.bowclf")
    assert loaded.predict(TEXTS[:4]) == floats.predict(TEXTS[:4])
    y = [1, 1, 0, 0] * 20
    weighted = TextClassifier(**SMALL, class_weight={1: 2.0}).fit(TEXTS, y)
    bowclf.save(weighted, tmp_path / "w.bowclf")
    loaded = bowclf.load(tmp_path / "w.bowclf")
    assert loaded.class_weight == {1: 2.0} and loaded.classifier_.class_weight == {1: 2.0}
    np.testing.assert_array_equal(
        clone(loaded).fit(TEXTS, y).predict_proba(TEXTS), weighted.predict_proba(TEXTS)
    )


def test_multilabel_score_counts_unseen_gold_labels_as_wrong():
    """scikit-learn's binarizer would drop 'funny' (with a warning) and call it right."""
    import warnings

    model = TextClassifier(**SMALL).fit(TEXTS, [("pos",), ("pos",), ("neg",), ("neg",)] * 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.score(["loved it"], [("pos", "funny")]) == 0.0
        assert model.score(["loved it", "hated it"], [("pos",), ("neg", "x")]) == 0.5
    with pytest.raises(ValueError, match="label collections"):
        model.score(["loved it"], ["pos"])


@pytest.mark.parametrize("weight", [-0.5, float("nan"), float("inf"), "x", True])
def test_class_weight_values_are_checked(weight):
    with pytest.raises(ValueError, match="class_weight values must be finite numbers >= 0"):
        TextClassifier(**SMALL, class_weight={"pos": weight}).fit(TEXTS, ["pos", "neg"] * 40)
    with pytest.raises(ValueError, match=r"sample_weight times class_weight\) sum to zero"):
        TextClassifier(**SMALL, class_weight={"pos": 0, "neg": 0}).fit(TEXTS, ["pos", "neg"] * 40)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X_val": ["a", "b"], "y_val": ["pos"]}, "X_val has 2 documents but y_val has 1 labels"),
        ({"X_val": ["a"]}, "X_val was given without y_val"),
        ({"y_val": ["pos"]}, "y_val was given without X_val"),
        ({"X_val": [], "y_val": []}, "X_val and y_val are empty"),
    ],
)
def test_validation_data_errors_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextClassifier(**SMALL).fit(TEXTS, ["pos", "neg"] * 40, **kwargs)


def test_label_collection_errors_say_what_is_wrong():
    sets = [("pos",), ("neg",)] * 40
    one_label = TextClassifier(**SMALL).fit(TEXTS, sets, X_val=["a"], y_val=["pos"])
    assert one_label.classifier_.validation_scores_  # 'pos' read as ('pos',), not 'p','o','s'
    with pytest.raises(ValueError, match="validation labels not in the training data: 'x'"):
        TextClassifier(**SMALL).fit(TEXTS, sets, X_val=["a"], y_val=["x"])
    with pytest.raises(ValueError, match="mixes strings and other types"):
        TextClassifier(**SMALL).fit(TEXTS, [(1, "a"), ("b",)] * 40)
    with pytest.raises(ValueError, match="no documents to train on"):
        TextClassifier(**SMALL).fit([], [])


@pytest.mark.parametrize("labels", ["binary", "multiclass", "multilabel"])
def test_no_documents_get_empty_answers(labels):
    y = {"binary": ["pos", "neg"] * 40, "multiclass": ["a", "b", "c", "d"] * 20,
         "multilabel": [("a",), ("a", "b")] * 40}[labels]  # fmt: skip
    model = TextClassifier(**SMALL).fit(TEXTS, y)
    c = len(model.classes_)
    assert len(model.predict([])) == 0 and model.explain([]) == []
    assert model.predict_proba([]).shape == model.predict_log_proba([]).shape == (0, c)
    assert model.decision_function([]).shape[0] == 0 and model.transform([]).shape == (0, 8)


def test_embeddings_have_feature_names_and_pipelines_take_set_output(fitted, text_data):
    """transform's columns are named as scikit-learn names a classifier-transformer's
    (LinearDiscriminantAnalysis: ``lineardiscriminantanalysis0``, …), so a pipeline holding
    one can ``set_output`` and ``get_feature_names_out``."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from bowclf import BowClassifier, BowVectorizer

    Xtr, ytr, _, _ = text_data
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"textclassifier{i}" for i in range(SMALL["dim"])]
    assert fitted.transform(Xtr[:3]).shape == (3, names.size)
    bow = BowClassifier(dim=4, epochs=2, random_state=0).fit(sp.csr_array(np.eye(6)), [0, 1] * 3)
    assert bow.get_feature_names_out().tolist() == [f"bowclassifier{i}" for i in range(4)]
    chain = make_pipeline(BowVectorizer(), BowClassifier(dim=4, epochs=2, random_state=0),
                          LogisticRegression()).set_output(transform="default")  # fmt: skip
    chain.fit(Xtr, ytr)
    assert chain[:-1].get_feature_names_out().tolist() == [f"bowclassifier{i}" for i in range(4)]
    text_first = make_pipeline(TextClassifier(**SMALL), LogisticRegression())
    assert text_first.set_output(transform="default").fit(Xtr, ytr).score(Xtr, ytr) > 0.5
    with pytest.raises(NotFittedError):
        TextClassifier().get_feature_names_out()
