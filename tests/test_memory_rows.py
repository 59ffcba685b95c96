"""In-memory training data: the epoch's shuffled rows are gathered into reused arrays."""

import numpy as np
import pytest
import scipy.sparse as sp

from bowclf.backends.memory import InMemoryData, take_rows
from bowclf.losses import get_loss
from bowclf.training import prepare_counts


def _counts(rng, n=300, p=50):
    return sp.csr_array(rng.poisson(0.3, size=(n, p)).astype(np.float64))


def test_take_rows_equals_fancy_indexing_and_reuses_the_arrays():
    rng = np.random.default_rng(0)
    X = prepare_counts(_counts(rng), "l1")
    first = take_rows(X, rng.permutation(X.shape[0]))
    out = (first.indptr, first.indices, first.data)
    for _ in range(3):
        order = rng.permutation(X.shape[0])
        got = take_rows(X, order, out)
        want = X[order]
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.data, want.data)
        assert got.shape == want.shape
        for mine, buffer in zip((got.indptr, got.indices, got.data), out, strict=True):
            assert np.shares_memory(mine, buffer)


def test_in_memory_epochs_reuse_one_block_of_arrays():
    rng = np.random.default_rng(1)
    X = _counts(rng)
    Y = sp.csr_array((np.ones(300), rng.integers(0, 3, 300), np.arange(301)), shape=(300, 3))
    data = InMemoryData(X, Y, np.ones(300), normalize="l1", loss=get_loss("softmax"),
                        multilabel=False)  # fmt: skip
    seen = []
    for _ in range(3):
        ((Xb, Yb, wb),) = list(data.blocks(np.random.default_rng(len(seen))))
        order = np.random.default_rng(len(seen)).permutation(300)
        np.testing.assert_array_equal(Xb.toarray(), data.X.toarray()[order])
        np.testing.assert_array_equal(Yb.toarray(), data.Y.toarray()[order])
        seen.append(Xb.data)
    assert np.shares_memory(seen[1], seen[2])


def test_blocks_are_whole_batches_of_one_random_order(monkeypatch):
    import bowclf.backends.memory as memory

    rng = np.random.default_rng(2)
    X = _counts(rng, n=301)
    Y = sp.csr_array((np.ones(301), rng.integers(0, 3, 301), np.arange(302)), shape=(301, 3))
    data = InMemoryData(X, Y, np.arange(301.0), normalize="l1", loss=get_loss("softmax"),
                        multilabel=False)  # fmt: skip
    monkeypatch.setattr(memory, "BLOCK_ROWS", 40)
    blocks = [(Xb.toarray(), Yb.toarray(), wb.copy()) for Xb, Yb, wb in data.blocks(
        np.random.default_rng(5), batch_size=7)]  # fmt: skip
    assert [b[0].shape[0] for b in blocks] == [42] * 7 + [7]  # 40 rounded up to 6 batches
    order = np.random.default_rng(5).permutation(301)
    np.testing.assert_array_equal(np.vstack([b[0] for b in blocks]), data.X.toarray()[order])
    np.testing.assert_array_equal(np.vstack([b[1] for b in blocks]), data.Y.toarray()[order])
    np.testing.assert_array_equal(np.concatenate([b[2] for b in blocks]), order)


@pytest.mark.parametrize("batch_size", [1, 5, 32])
def test_the_model_does_not_depend_on_the_block_size(monkeypatch, batch_size):
    """Blocks of whole batches train exactly the batches of one block: the same model."""
    import bowclf.backends.memory as memory
    from bowclf import BowClassifier

    rng = np.random.default_rng(3)
    X = _counts(rng, n=500)
    y = rng.integers(0, 4, 500)
    models = []
    for rows in (1 << 20, 11):
        monkeypatch.setattr(memory, "BLOCK_ROWS", rows)
        model = BowClassifier(dim=8, epochs=3, batch_size=batch_size, random_state=0).fit(X, y)
        models.append(model)
    np.testing.assert_array_equal(models[0].A_, models[1].A_)
    np.testing.assert_array_equal(models[0].B_, models[1].B_)


def test_in_place_scaling_reuses_the_values_and_prepares_the_same_rows():
    rng = np.random.default_rng(4)
    X = sp.csr_array(_counts(rng).astype(np.float32))
    Y = sp.csr_array((np.ones(300), rng.integers(0, 3, 300), np.arange(301)), shape=(300, 3))
    want = prepare_counts(X.copy(), "l1")
    kept = X.data
    data = InMemoryData(X, Y, np.ones(300), normalize="l1", loss=get_loss("softmax"),
                        multilabel=False, in_place=True)  # fmt: skip
    assert np.shares_memory(data.X.data, kept)  # X̃ took the counts' place: no second copy
    np.testing.assert_array_equal(data.X.data, want.data)
    np.testing.assert_array_equal(data.X.indices, want.indices)
    float64 = _counts(rng)  # values of another dtype cannot hold X̃: a copy, X untouched
    before = float64.data.copy()
    InMemoryData(float64, Y, np.ones(300), normalize="l1", loss=get_loss("softmax"),
                 multilabel=False, in_place=True)  # fmt: skip
    np.testing.assert_array_equal(float64.data, before)


def test_fit_leaves_the_callers_counts_alone_and_text_fit_scales_its_own(monkeypatch):
    """BowClassifier.fit never writes into X; TextClassifier.fit hands its own count matrix
    over (scaled in place) and trains the model of BowClassifier.fit on the same counts."""
    import bowclf.classifier as classifier
    from bowclf import BowClassifier, TextClassifier

    routes = []

    class Recording(InMemoryData):
        def __init__(self, *args, in_place=False, **kw):
            routes.append(in_place)
            super().__init__(*args, in_place=in_place, **kw)

    monkeypatch.setattr(classifier, "InMemoryData", Recording)
    texts = [f"w{i % 7} w{i % 11} w{i % 5} x{i % 3}" for i in range(200)]
    y = [i % 3 for i in range(200)]
    text_model = TextClassifier(dim=8, epochs=3, random_state=0).fit(texts, y)
    X = text_model._feature_map()(text_model.vectorizer_.transform(texts))
    before = X.data.copy()
    params = text_model.classifier_.get_params()
    params["normalize"] = text_model.inputs_["normalize"]
    bow = BowClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(X.data, before)
    np.testing.assert_array_equal(bow.A_, text_model.classifier_.A_)
    np.testing.assert_array_equal(bow.B_, text_model.classifier_.B_)
    assert routes == [True, False]
