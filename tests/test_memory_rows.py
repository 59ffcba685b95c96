"""In-memory training data: the epoch's shuffled rows are gathered into reused arrays."""

import numpy as np
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
