"""Prototype: AdaGrad steps for bowclf, by monkeypatching the SGD step (issue 14, phase 1).

    python -m bench.proto_adagrad --lr 0.05 0.1 --corpora long20 many100 --shared trec

Runs ``TextClassifier(random_state=0, **params)`` in this process on dev-suite corpora with the
step of ``bowclf.classifier._sgd_step`` replaced by row-wise AdaGrad on ``A`` and row-wise
AdaGrad on ``B`` (:func:`bowclf._math.adagrad_update_rows`, :func:`adagrad_update_B`).
Prints accuracy and fit seconds per corpus and configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from bench.common import read_csv_gz
from bench.devsuite import GENERATORS, _score, _shared_pairs, generate_corpus

MODE_A = os.environ.get("PROTO_A", "adagrad")
MODE_B = os.environ.get("PROTO_B", "adagrad")
KAPPA = float(os.environ.get("PROTO_KAPPA", "64"))
LR0 = float(os.environ.get("PROTO_LR0", "0.05"))
KA = float(os.environ.get("PROTO_KA", "1"))
SGD_LR = float(os.environ.get("PROTO_SGD_LR", "0.25"))


def install(acc0: float = 0.0, eps: float = 1e-8) -> None:
    """Replace ``classifier._sgd_step`` by an AdaGrad step (state keyed by the W array)."""
    from bowclf import _math, classifier

    state: dict[int, Any] = {}

    def step(batch, W, B, lr, loss):
        key = id(W)
        st = state.get(key)
        if st is None or st[0] is not W:
            st = (W, np.full(W.shape[0], acc0), np.full(B.shape[0], acc0), np.zeros(1))
            state.clear()
            state[key] = st
        _, accA, accB, accG = st
        H = np.zeros((batch.n, W.shape[1]), dtype=W.dtype)
        _math.sparse_hidden_into(batch.indptr, batch.indices, batch.data, W, H)
        S = _math.scores(H, B)
        Yb = batch.targets(B.shape[0])
        if loss == "softmax":
            log_P = _math.log_softmax(S)
            batch_loss = -float(batch.w @ (Yb * log_P).sum(axis=1))
            G = _math.softmax_score_gradient(np.exp(np.maximum(log_P, -80.0)), Yb, batch.w)
        else:
            log_p, log_q = _math.log_sigmoid(S), _math.log_sigmoid(-S)
            batch_loss = -float(batch.w @ (Yb * log_p + (1 - Yb) * log_q).sum(axis=1))
            G = _math.ova_score_gradient(S, Yb, batch.w)
        GB = G @ B
        if MODE_B == "sgd":
            B -= SGD_LR * _math.gradient_B(G, H)
        else:
            _math.adagrad_update_B(_math.gradient_B(G, H), B, accB, lr, eps=eps)
        if MODE_A == "hybrid":  # SGD, boosted to NLMS for documents of > KAPPA features
            rows = np.repeat(np.arange(batch.n), np.diff(batch.indptr))
            nrm = np.bincount(rows, np.square(batch.data, dtype=np.float64), minlength=batch.n)
            boost = np.maximum(1.0, 1.0 / (KAPPA * np.where(nrm > 0, nrm, np.inf)))
            GB *= (-SGD_LR * lr / LR0 * boost).astype(GB.dtype)[:, None]
            _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)
        elif MODE_A == "nlms":  # per-document step lr_A/‖x̃_i‖² (normalised LMS)
            rows = np.repeat(np.arange(batch.n), np.diff(batch.indptr))
            nrm = np.bincount(rows, np.square(batch.data, dtype=np.float64), minlength=batch.n)
            f = np.where(nrm > 0, -lr * KA / np.where(nrm > 0, nrm, 1.0), 0.0)
            GB *= f.astype(GB.dtype)[:, None]
            _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)
        elif MODE_A == "global":  # one accumulator for all of A: mean per-entry squared gradient
            row_sq = np.einsum("ij,ij->i", GB, GB, dtype=np.float64) / GB.shape[1]
            sq = np.square(batch.data, dtype=np.float64) * np.repeat(row_sq, np.diff(batch.indptr))
            accG[0] += sq.sum() / max(sq.size, 1) * batch.n
            GB *= -lr / (np.sqrt(accG[0]) + eps)
            _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)
        elif MODE_A == "sgd":
            GB *= -SGD_LR
            _math.add_scaled_gradient_A(batch.indptr, batch.indices, batch.data, GB, W)
        else:
            _math.adagrad_update_rows(batch.indptr, batch.indices, batch.data, GB, W, accA, lr, eps)
        return batch_loss

    classifier._sgd_step = step


MIN_DF = int(os.environ.get("PROTO_MIN_DF", "1"))


def install_min_df() -> None:
    """Prune features found in fewer than PROTO_MIN_DF training documents (prototype)."""
    from bowclf import text

    real_unique = np.unique

    class _NP:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def unique(a, *args, **kwargs):
            if args or kwargs:
                return real_unique(a, *args, **kwargs)
            cols, counts = real_unique(a, return_counts=True)
            return cols[counts >= MIN_DF]

    text.np = _NP()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", nargs="*", default=list(GENERATORS))
    ap.add_argument("--shared", nargs="*", default=["sst2", "trec", "sms_spam", "ag_news"])
    ap.add_argument(
        "--params",
        action="append",
        default=[],
        help="JSON TextClassifier params, one configuration each",
    )
    ap.add_argument("--sgd", action="store_true", help="plain SGD (no patch)")
    ap.add_argument("--acc0", type=float, default=0.0)
    args = ap.parse_args(argv)
    if not args.sgd:
        install(args.acc0)
    if MIN_DF > 1:
        install_min_df()
    from bowclf import TextClassifier

    pairs = [generate_corpus(c) for c in args.corpora] + _shared_pairs(args.shared)
    for spec in args.params or ["{}"]:
        params = json.loads(spec)
        for pair in pairs:
            X, y = read_csv_gz(pair["train_csv"])
            Xt, yt = read_csv_gz(pair["test_csv"])
            t0 = time.perf_counter()
            model = TextClassifier(random_state=0, **params).fit(X, y)
            fit_s = time.perf_counter() - t0
            acc, f1 = _score(list(model.predict(Xt)), yt)
            print(
                f"{spec:<40} {pair['pair']:<18} acc {acc:6.2f} F1 {f1:6.2f} fit {fit_s:6.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
