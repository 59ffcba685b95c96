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
