"""Each estimator's ``_parameter_constraints`` names exactly its constructor's parameters."""

from __future__ import annotations

import inspect

import pytest

from bowclf import BowClassifier, BowVectorizer, TextClassifier


@pytest.mark.parametrize("estimator", [BowClassifier, BowVectorizer, TextClassifier])
def test_constraints_name_exactly_the_parameters(estimator):
    # scikit-learn's validation ignores a constraint without a parameter, so a stale entry
    # (TextClassifier once listed BowClassifier's ``total_examples``) would go unnoticed.
    parameters = set(inspect.signature(estimator).parameters)
    assert set(estimator._parameter_constraints) == parameters
