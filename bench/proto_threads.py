"""Prototype harness for :mod:`bowclf.parallel` before it is wired into the training loop:
patches :func:`bowclf.classifier.sgd_pass` (and the parameter allocation) so that
``TextClassifier``/``BowClassifier`` fits train with ``SharedRowRounds``.

    with threads(n_jobs=2):
        TextClassifier(...).fit(texts, labels)
"""

from __future__ import annotations

import contextlib

import numpy as np

from bowclf import classifier as C
from bowclf import parallel


@contextlib.contextmanager
def threads(
    n_jobs: int = 2, round_docs: int = parallel.ROUND_DOCS, round_nnz: int = parallel.ROUND_NNZ
):
    """Patch bowclf's training to ``n_jobs`` threads (``n_jobs=1``: unchanged)."""
    if n_jobs == 1:
        yield
        return
    orig_init, orig_pass = C.BowClassifier._initialize, C.sgd_pass
    state: dict = {}

    def _initialize(self, n_features, rng):
        orig_init(self, n_features, rng)
        spare = parallel.spare_rows(n_features, n_jobs, round_nnz)
        W_big = parallel.with_spare_rows(self.A_.T, spare)
        self.A_ = W_big[:n_features].T
        state["rounds"] = parallel.SharedRowRounds(
            n_features, n_jobs, round_docs=round_docs, round_nnz=round_nnz
        )

    def sgd_pass(W, B, X, Y, w, *, loss, batch_size, lr_at, on_batch=None):
        W_big = parallel.with_spare_rows(W, parallel.spare_rows(W.shape[0], n_jobs, round_nnz))
        assert W_big.base is W.base
        yp, yi, yd = Y.indptr, Y.indices, Y.data
        xd = X.data
        explode = 100.0 + np.log(B.shape[0]) * (B.shape[0] if loss == "ova" else 1)

        def train_rows(a, b, indptr, indices, lo, Wt, Bt):
            ls = ws = 0.0
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for s in range(0, b - a, batch_size):
                    e = min(s + batch_size, b - a)
                    xa, xb = indptr[s], indptr[e]
                    ya, yb = yp[a + s], yp[a + e]
                    batch = C._Batch(
                        a + s,
                        e - s,
                        indptr[s : e + 1] - xa,
                        indices[xa:xb],
                        xd[lo + xa : lo + xb],
                        yp[a + s : a + e + 1] - ya,
                        yi[ya:yb],
                        yd[ya:yb],
                        w[a + s : a + e],
                    )
                    bl = C._sgd_step(batch, Wt, Bt, lr_at(a + s), loss)
                    bw = float(batch.w.sum())
                    if not np.isfinite(bl) or bl > explode * bw:
                        raise C.TrainingDivergedError("non-finite or exploding training loss")
                    ls += bl
                    ws += bw
            return ls, ws

        rounds = state["rounds"]

        def on_round(span, ls, ws):
            if on_batch is not None:
                on_batch(span, lr_at(span.start), ls, ws)

        with C._blas_controller().limit(limits=1, user_api="blas"), rounds:
            return rounds.run(W_big, B, X, train_rows, on_round)

    C.BowClassifier._initialize, C.sgd_pass = _initialize, sgd_pass
    try:
        yield
    finally:
        C.BowClassifier._initialize, C.sgd_pass = orig_init, orig_pass
