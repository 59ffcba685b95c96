"""Prototype: training mechanisms against the overfitting of short noisy corpora (issue 14).

    python -m bench.proto_defaults --corpora opinion2 grades5 --shared sst2 trec \
        --config base='{}' --config avg50='{"_avg": 0.5}' --seeds 0 1

Runs ``TextClassifier(random_state=seed, **params)`` in this process on dev-suite corpora and
prints accuracy and fit seconds per corpus, configuration and seed, then a summary table (mean
over seeds).  Keys starting with ``_`` are prototype mechanisms patched into the training loop
instead of estimator parameters:

- ``_avg: f`` — tail averaging: the final parameters are the mean of the parameters at the
  ends of the last ``⌈f·epochs⌉`` epochs (snapshots of ``W = Aᵀ`` and ``B``);
- ``_avg_every: m`` — with ``_avg``, also snapshot ``m`` times per epoch (every ``n/m``
  batches) instead of once;
- ``_wd_A: λ``, ``_wd_B: μ`` — weight decay after each step: the rows of ``W`` the batch
  touched are multiplied by ``1 − η·λ``, ``B`` by ``1 − η·μ``;
- ``_wd_Adf: λ`` — the decay of the touched rows scaled by ``df_j^(−q)`` (``_wd_Adf_q``,
  default 0.5; ``q = 1``: about the same decay per epoch for every feature);
- ``_wd_Angram: λ`` — the decay of the touched rows for the n-gram features only;
- ``_wd_Acls: λ`` — the same decay of the touched rows scaled by the batch's class
  frequencies (see ``_class_scaled_decay``; ``_wd_Acls_min: true`` for the minimum;
  ``_wd_Acls_inv: true``: ``ω_k = min(1, 1/(c·prior_k))``, sparing the frequent classes);
- ``_l2_A: λ``, ``_l2_B: μ`` — uniform decay at each epoch's end: ``W`` multiplied by
  ``exp(−λ·Σ_i η_i)`` over the epoch's examples (``B`` likewise with ``μ``);
- ``_smooth: ε`` — softmax label smoothing: targets ``(1 − ε)·y + ε/c``;
- ``_idf_pow: q`` — idf weights raised to the power ``q``;
- ``_idf_add: a`` — idf weights ``ln((1 + n)/(1 + df)) + a`` (the default adds 1);
- ``_brate: r`` — ``optim.ADAGRAD_RATE`` (``B``'s AdaGrad rate is ``r·lr``);
- ``_arate: f`` — the adaptive optimiser's step on ``A`` at ``f·lr`` (``B``'s stays
  ``ADAGRAD_RATE·lr``): the ratio of the two rates;
- ``_eos: true`` — a token appended to every document (fastText's ``</s>``: a bias feature).
- ``_b0: a`` — AdaGrad accumulators start at ``a`` instead of 0 (bounds the first steps of
  ``B``: ``ρ·g/√(a + ‖g‖²/d)``);
- ``_ngram_w: f`` — the idf weights of the n-gram features (not the words) multiplied by
  ``f`` (needs ``use_idf``), on top of the library's ``ngram_weight`` (add
  ``"ngram_weight": 1.0`` to measure it alone).
- (since the ramped margin became the default of single-label multi-class tasks, ``base``
  is that default; ``{"_margin": 0.0, "_margin_sched": "up"}`` is not the old model — patch
  ``defaults.MULTICLASS_MARGIN`` or use ``bench.devsuite --bowclf`` at the previous commit)
- ``_margin: m`` — softmax with an additive margin on the true class (single-label, ≥ 3
  classes): ``G = softmax(S − m·Y) − Y`` (the loss of ``S − m·Y``);
- ``_drop: p`` — feature dropout: each non-zero of a training batch is dropped with
  probability ``p`` and the others scaled by ``1/(1 − p)`` (≥ 3 classes);
- ``_sched_pow: q`` — schedule ``η₀·(1 − t/T)^q`` instead of linear (``q = 1``);
- ``_sched_floor: f`` — schedule ``η₀·max(f, 1 − t/T)`` (≥ 3 classes not checked);
- ``_margin_only: "A" | "B"`` — the margin's gradient for that matrix only;
- ``_margin_ok: true`` — the margin only on examples whose true class already scores highest;
- ``_margin_sched: "up" | "down"`` — the margin times ``t/T`` / ``1 − t/T``;
- ``_mcm: m`` — ``defaults.MULTICLASS_MARGIN`` (0: the model before the ramped margin);
- ``_maxnorm: r`` — after each step the touched rows of ``W`` are scaled to norm ≤ ``r``.
- ``_drop2: p`` — two classes only: each non-zero of a training batch is dropped with
  probability ``p`` and the row's kept entries rescaled to its l1 norm (a row that would
  lose every entry is kept whole): DAN's word dropout (Iyyer et al. 2015) on the features.
- ``_nb_both``, ``_nb_beta2`` — see :func:`_nb_weights`.
- ``_gce: q`` — two classes (``_gce_mc: true``: any class count): each example's weight
  times ``p_y^q`` (the generalized cross-entropy's gradient), ``_gce_norm: true``: rescaled
  so the batch's total weight is kept (over the whole batch, not per class as the library
  does), ``_gce_ramp: true``: the factor ramps in from 1 with the schedule.  Stacks on the
  library's own two-class exponent: add ``_bgce: 0`` to measure it alone.
- ``_gce_lambda: λ`` — the library's two-class generalized cross-entropy with its per-class
  factor blended toward the whole batch's: ``r_k = (Σ_k w / Σ_k w·p^q)^(1−λ)·(Σ w / Σ
  w·p^q)^λ`` (``λ = 0``: the library; ``λ = 1``: the batch's total weight kept, as
  ``_gce_norm``).
- ``_noprobe2: true`` — no early-overfitting probe for two-class tasks (the library's
  ``overfit_probe.BINARY`` rule): their model before it; other tasks keep the library's
  probe.  (``_probe2: r``, the prototype of that rule, measured in bench/RESULTS-devsuite.md,
  is now the library's with ``r = 3``.)  ``_probe2_max: n`` — two-class runs probed up to
  ``n`` documents instead of ``defaults.BINARY_PROBE_MAX_DOCUMENTS``.
- ``_restart2_lr: f``, ``_restart2_passes: r`` — an overfitting two-class run restarts at
  ``f`` times the initial learning rate, with ``r`` fresh passes (the library: 1, 3).
- ``_icpt: κ`` — two classes (``_icpt_mc: true``: any class count): a learnt intercept, as a
  hidden dimension ``d + 1`` whose column of ``W`` is fixed at ``κ`` (with ``l1`` rows every
  non-empty document's ``h_{d+1} = κ``), so ``B``'s column ``d + 1`` times ``κ`` is a bias on the
  scores, trained by ``B``'s AdaGrad steps with the rest of its row.
- ``--train-docs N --subsets K`` (options, not keys) — every corpus also as ``K`` random
  subsets of ``N`` of its training documents (named ``…/nN#k``).
- ``_pv: true`` — progressive validation of the first pass: the accuracy of each quarter of
  the first pass, every batch scored before its step (printed per run; the model is not
  changed).
- ``_curve: f`` — learning curves: a slice of ``f`` of the training rows (drawn with a fixed
  seed) gets weight 0 for the whole run, and after every pass the slice's accuracy and the
  test set's are recorded (printed per run; ``f = 0``: the test curve of the model itself).
- ``_plateau: {"f": 0.1, "m": 2, "delta": 0.0}`` — passes chosen on a held-out slice
  without a refit: a slice of ``f`` of the rows gets weight 0 for the first ``m`` passes,
  scored after each; if no pass after the first beats the first by more than ``delta``
  points, one last pass over every row with the rate falling from its current value to 0
  ends training (``m + 1`` passes); otherwise the slice rejoins and the schedule runs on.
  ``"metric": "loss"``: the slice's mean log-loss decides instead of its accuracy.
  ``"restart": r``: instead of that last pass, the parameters and the optimiser's state
  go back to their initial values and a fresh ``r``-pass schedule trains on every row
  (``m + r`` passes).
  (The library's early-overfitting probe, :mod:`bowclf.overfit_probe`, is this with
  ``{"f": 0.1, "m": 2, "restart": 2, "metric": "loss"}`` on a hashed slice; it is switched
  off while ``_plateau`` is set.)
- ``_probe_force: "restart" | "continue"`` — the early-overfitting probe's decision forced
  either way, its slice losses printed per run (every rule's accuracy follows from the two
  runs: they are the same up to the decision).
- ``_noprobe: true`` — no early-overfitting probe (:mod:`bowclf.overfit_probe`): the model
  before it.
- ``_bgce: q`` — ``defaults.BINARY_GCE`` (0: the two-class model before the generalized
  cross-entropy, bit for bit); ``_mcgce: q`` — the library's (per-class) generalized
  cross-entropy for single-label tasks of three or more classes too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from typing import Any

import numpy as np

from bench.common import read_csv_gz
from bench.devsuite import GENERATORS, _score, _shared_pairs, generate_corpus

PROTO: dict[str, Any] = {}
PROTO_HOOKS: list = []


def configure(spec: dict[str, Any]) -> dict[str, Any]:
    """Make the ``_``-keys of configuration ``spec`` the prototype mechanisms in force (and
    run the hooks that read them once per configuration); returns its estimator parameters."""
    PROTO.clear()
    PROTO.update({k: v for k, v in spec.items() if k.startswith("_")})
    for hook in PROTO_HOOKS:
        hook()
    return {k: v for k, v in spec.items() if not k.startswith("_")}


class _Averager:
    """Accumulates snapshots of ``W`` and ``B`` (float64) and writes their mean back."""

    def __init__(self, W, B) -> None:
        self.W, self.B = W, B
        self.sW = np.zeros(W.shape, dtype=np.float64)
        self.sB = np.zeros(B.shape, dtype=np.float64)
        self.k = 0

    def add(self) -> None:
        self.sW += self.W
        self.sB += self.B
        self.k += 1

    def finish(self) -> None:
        if self.k:
            self.W[...] = self.sW / self.k
            self.B[...] = self.sB / self.k


def install() -> None:
    from bowclf import classifier, defaults, overfit_probe, training

    real_train = training.train
    real_pass = training.sgd_pass

    def patched_train(source, W, B, *, epochs, **kw):
        if PROTO.get("_curve") is not None:
            return _curve_train(real_train, source, W, B, epochs=epochs, **kw)
        if PROTO.get("_plateau") is not None:
            return _plateau_train(real_train, source, W, B, epochs=epochs, **kw)
        frac = PROTO.get("_avg")
        lam, mu = PROTO.get("_l2_A", 0.0), PROTO.get("_l2_B", 0.0)
        if not frac and not lam and not mu:
            return real_train(source, W, B, epochs=epochs, **kw)
        frac = frac or 0.0
        # 0-based index of the first averaged epoch
        first = epochs - max(1, math.ceil(frac * epochs)) if frac else epochs
        avg = _Averager(W, B)
        every = int(PROTO.get("_avg_every", 1))
        state = {"epoch": -1}

        class Proxy:
            n = source.n

            def epoch(self, ctx):
                state["epoch"] = ctx.index
                source.epoch(ctx)
                if lam or mu:
                    sched, n = kw["schedule"], source.n
                    s = n * 0.5 * (sched(ctx.index * n) + sched((ctx.index + 1) * n))
                    if lam:
                        np.multiply(W, np.float32(math.exp(-lam * s)), out=W)
                    if mu:
                        np.multiply(B, np.float32(math.exp(-mu * s)), out=B)
                if ctx.index >= first:
                    avg.add()

        def pass_hook(*a, on_batch=None, **k):
            if every <= 1 or state["epoch"] < first:
                return real_pass(*a, on_batch=on_batch, **k)
            n = a[2].shape[0]
            bs = k["batch_size"]
            n_batches = -(-n // bs)
            marks = {round(n_batches * j / every) for j in range(1, every)}
            count = {"b": 0}

            def hook(batch, lr, ls, ws):
                count["b"] += 1
                if count["b"] in marks:
                    avg.add()
                if on_batch is not None:
                    on_batch(batch, lr, ls, ws)

            return real_pass(*a, on_batch=hook, **k)

        training.sgd_pass = pass_hook
        try:
            hist = real_train(Proxy(), W, B, epochs=epochs, **kw)
        finally:
            training.sgd_pass = real_pass
        avg.finish()
        return hist

    classifier.train = patched_train
    real_probes = classifier.probes_overfitting

    real_max = defaults.BINARY_PROBE_MAX_DOCUMENTS

    def probes(*args, **kw):
        if PROTO.get("_noprobe") or PROTO.get("_plateau") is not None:
            return False
        if PROTO.get("_noprobe2") and args[2] == 2:
            return False
        return real_probes(*args, **kw)

    classifier.probes_overfitting = probes
    real_after_pass = overfit_probe.OverfitProbe.after_pass

    def after_pass(self, W, B, epochs):
        fresh = real_after_pass(self, W, B, epochs)
        force = PROTO.get("_probe_force")
        if force is None or self.holding:
            return fresh
        L = self.losses
        print(f"probe: slice loss {L[0]:.4f} -> {L[-1]:.4f} ({(L[-1] / L[0] - 1) * 100:+.2f} %), "
              f"the rule says {'restart' if self.overfitting else 'go on'}, forced: {force}",
              file=sys.stderr)  # fmt: skip
        self.overfitting = force == "restart"
        return self.fresh_passes(epochs)

    overfit_probe.OverfitProbe.after_pass = after_pass
    real_binary, real_restart = overfit_probe.BINARY, training._restart

    def restart(loop, source, passes, lr0, fresh):
        if loop.probe.rule is overfit_probe.BINARY and loop.probe.overfitting:
            lr0 *= PROTO.get("_restart2_lr", 1.0)
        return real_restart(loop, source, passes, lr0, fresh)

    def binary_rule():
        r = PROTO.get("_restart2_passes", real_binary.restart_passes)
        overfit_probe.BINARY = dataclasses.replace(real_binary, restart_passes=int(r))
        defaults.BINARY_PROBE_MAX_DOCUMENTS = PROTO.get("_probe2_max", real_max)

    training._restart = restart
    PROTO_HOOKS.append(binary_rule)
    _install_decay()
    _install_inputs()
    _install_multiclass()
    _install_progressive()


def _zero_weight_slice(source, f: float):
    """Give a fixed random slice of ``f`` of an in-memory source's rows weight 0; return
    ``(mask, the original weights, the slice's prepared rows, their class indices)``."""
    held = np.random.default_rng(777).random(source.n) < f
    w_all = source.w
    source.w = np.where(held, 0.0, w_all).astype(w_all.dtype)
    codes = np.asarray(source.Y.tocsr().argmax(axis=1)).ravel()[held]
    return held, w_all, source.X[np.flatnonzero(held)], codes


def _curve_train(real_train, source, W, B, *, epochs, **kw):
    """``_curve``: train with a zero-weight slice, recording slice and test accuracy per
    pass (single-label softmax: the argmax of ``B·A·x̃``)."""
    from bowclf import training

    held, _, Xs, codes = _zero_weight_slice(source, float(PROTO["_curve"]))
    tc = PROTO["_tc"]
    norm = tc.inputs_["normalize"]
    Xt = training.prepare_counts(tc._features(PROTO["_Xt"]), norm)
    classes = np.unique(PROTO["_ytrain"])
    yt = np.asarray(PROTO["_yt"], dtype=object)
    rec = PROTO.setdefault("_curve_rec", [])

    def score(X):
        return (X @ W @ B.T).argmax(axis=1)

    class Proxy:
        n = source.n

        def epoch(self, ctx):
            source.epoch(ctx)
            sl = float((score(Xs) == codes).mean() * 100) if held.any() else float("nan")
            te = float((classes[score(Xt)].astype(object) == yt).mean() * 100)
            rec.append((sl, te))

    return real_train(Proxy(), W, B, epochs=epochs, **kw)


def _plateau_train(real_train, source, W, B, *, epochs, **kw):
    """``_plateau``: see the module docstring (in-memory route, single-label softmax)."""
    cfg = PROTO["_plateau"]
    f, m, delta = float(cfg.get("f", 0.1)), int(cfg.get("m", 2)), float(cfg.get("delta", 0.0))
    _, w_all, Xs, codes = _zero_weight_slice(source, f)
    state: dict[str, Any] = {"acc": [], "mode": "probe" if m < epochs else "full", "passes": 0}
    if state["mode"] == "full":
        source.w = w_all
    schedule = kw["schedule"]
    restart = cfg.get("restart")
    W0, B0 = W.copy(), B.copy()

    class Proxy:
        n = source.n

        def epoch(self, ctx):
            mode = state["mode"]
            if mode == "done":
                return
            if mode == "anneal" and restart:
                if "start" not in state:
                    W[...], B[...] = W0, B0
                    opt = kw["optimizer"]
                    opt.A_accumulator = opt.B_accumulator = None
                    opt.start(W, B)
                    state["start"] = ctx.index * ctx.n
                start, total, lr0 = state["start"], int(restart) * ctx.n, schedule(0)
                ctx.schedule = lambda t: lr0 * max(0.0, 1.0 - (t - start) / total)
                source.epoch(ctx)
                state["passes"] += 1
                if ctx.index * ctx.n + ctx.n - start >= total:
                    state["mode"] = "done"
                return
            if mode == "anneal":
                start, n = ctx.index * ctx.n, ctx.n
                lr0 = schedule(start)
                ctx.schedule = lambda t: lr0 * max(0.0, 1.0 - (t - start) / n)
                source.epoch(ctx)
                state["mode"], state["passes"] = "done", state["passes"] + 1
                return
            source.epoch(ctx)
            state["passes"] += 1
            if mode == "probe":
                S = (Xs @ W @ B.T).astype(np.float64)
                S -= S.max(axis=1, keepdims=True)
                logp = S[np.arange(codes.size), codes] - np.log(np.exp(S).sum(axis=1))
                state["acc"].append(float((S.argmax(axis=1) == codes).mean() * 100))
                state.setdefault("loss", []).append(float(-logp.mean()))
                a = state["acc"] if cfg.get("metric") != "loss" else [-v for v in state["loss"]]
                if len(a) == m:
                    state["mode"] = "anneal" if max(a[1:]) <= a[0] + delta else "full"
                    source.w = w_all

    hist = real_train(Proxy(), W, B, epochs=epochs, **kw)
    PROTO.setdefault("_plateau_rec", []).append(
        (state["acc"] + [f"L{v:.3f}" for v in state.get("loss", [])], state["passes"])
    )
    return hist


def _install_progressive() -> None:
    """``_pv: true``: record, for every training batch, how many of its examples the current
    parameters classify right before the step (single-label softmax: the argmax of
    ``B·A·x̃``); :func:`first_pass_quarters` turns the first pass's records into accuracies."""
    from bowclf import _math, training

    real_step = training.sgd_step

    def step(batch, W, B, lr, loss, optimizer):
        if PROTO.get("_pv"):
            H = np.zeros((batch.n, W.shape[1]), dtype=W.dtype)
            _math.sparse_hidden_into(batch.indptr, batch.indices, batch.data, W, H)
            Y = batch.targets(B.shape[0])
            right = int((Y[np.arange(batch.n), (H @ B.T).argmax(axis=1)] > 0).sum())
            PROTO.setdefault("_pv_records", []).append((right, batch.n))
        return real_step(batch, W, B, lr, loss, optimizer)

    training.sgd_step = step


def first_pass_quarters(records: list[tuple[int, int]], n: int) -> list[float]:
    """Accuracy % of each quarter of the first pass over ``n`` examples from the
    ``(right, batch size)`` records of :func:`_install_progressive` (progressive validation:
    every example is scored before the model has seen it)."""
    right = np.array([r for r, _ in records], dtype=np.float64)
    size = np.array([b for _, b in records], dtype=np.float64)
    seen = np.cumsum(size)
    out = []
    for a, b in ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)):
        part = (seen > a * n) & (seen <= b * n)
        out.append(100.0 * right[part].sum() / max(1.0, size[part].sum()))
    return out


def _install_multiclass() -> None:
    from bowclf import _math, defaults, losses, optim, training

    real_margin = defaults.MULTICLASS_MARGIN
    real_gce = defaults.BINARY_GCE
    real_resolve_gce = training.resolve_gce

    real_grad = losses.Softmax.batch_loss_and_score_gradient

    def margin_grad(self, S, Y, w, **kw):
        m = PROTO.get("_margin", 0.0)
        if m and PROTO.get("_margin_sched") is not None:
            left = PROTO.get("_left", 1.0)  # 1 − t/T of the current batch
            m = m * (left if PROTO["_margin_sched"] == "down" else 1.0 - left)
        if m and S.shape[1] >= 3:
            if PROTO.get("_margin_ok"):  # only where the true class already scores highest
                ok = (S * Y).sum(axis=1) >= S.max(axis=1)
                S = S - np.float32(m) * Y * ok[:, None]
            else:
                S = S - np.float32(m) * Y
        q = PROTO.get("_gce")
        if q is not None and (S.shape[1] == 2 or PROTO.get("_gce_mc")):  # GCE: G·p_y^q
            from bowclf import _math

            p_y = np.exp((_math.log_softmax(S) * Y).sum(axis=1))
            f = p_y ** float(q)
            if PROTO.get("_gce_norm"):
                f = f / max(float(f.mean()), 1e-12)
            if PROTO.get("_gce_ramp"):  # weights ramp in with the schedule: 1 → f
                left = PROTO.get("_left", 1.0)
                f = left + (1.0 - left) * f
            w = (w * f).astype(w.dtype)
        return real_grad(self, S, Y, w, **kw)

    losses.Softmax.batch_loss_and_score_gradient = margin_grad
    real_gce_weights = _math.gce_sample_weights

    def blended_gce_weights(P, Y, w, q):
        lam = PROTO.get("_gce_lambda")
        weights = real_gce_weights(P, Y, w, q)  # w·p^q·r_k: each class's total kept
        if not lam:
            return weights
        # r_k^(1-λ)·r^λ = r_k·(r/r_k)^λ with r_k = Σ_k w / Σ_k w·p^q and r the same over the
        # batch: λ = 0 keeps each class's weight (the library), λ = 1 the batch's (a class the
        # model doubts loses weight)
        scaled = np.einsum("ij,ij->i", P, Y) ** np.asarray(q, dtype=P.dtype)
        if w is not None:
            scaled = scaled * np.asarray(w, dtype=P.dtype)
        per_class = (weights @ Y) / np.where(scaled @ Y > 0, scaled @ Y, 1)
        whole = float(weights.sum()) / max(float(scaled.sum()), 1e-30)
        ratio = (whole / np.where(per_class > 0, per_class, 1)) ** lam
        return weights * (Y @ ratio.astype(weights.dtype))

    _math.gce_sample_weights = blended_gce_weights
    real_bg = losses.Softmax.batch_gradients

    def split_margin(self, H, B, Y, w, **kw):
        part = PROTO.get("_margin_only")  # "A" or "B": the margin's gradient for that one
        if not part or B.shape[0] < 3:
            return real_bg(self, H, B, Y, w, **kw)
        from bowclf import _math
        from bowclf.losses import BatchGradients

        S = _math.scores(H, B)
        loss, G_m = margin_grad(self, S, Y, w)
        _, G_0 = real_grad(self, S, Y, w)
        G_A, G_B = (G_m, G_0) if part == "A" else (G_0, G_m)
        return BatchGradients(loss, G_A @ B, _math.gradient_B(G_B, H))

    losses.Softmax.batch_gradients = split_margin
    real_step = training.sgd_step
    rng = {"g": np.random.default_rng(0)}

    def drop_step(batch, W, B, lr, loss, optimizer):
        p = PROTO.get("_drop", 0.0)
        if p and B.shape[0] >= 3:
            keep = rng["g"].random(batch.data.size) >= p
            data = batch.data * (keep / (1.0 - p)).astype(batch.data.dtype)
            b = batch
            batch = training.Batch(b.start, b.n, b.indptr, b.indices, data,
                                   b.y_indptr, b.y_indices, b.y_data, b.w)  # fmt: skip
        q = PROTO.get("_drop2", 0.0)
        if q and B.shape[0] == 2:  # two classes: drop entries, rows keep their l1 norm
            keep = rng["g"].random(batch.data.size) >= q
            rows = np.repeat(np.arange(batch.n), np.diff(batch.indptr))
            kept = np.where(keep, batch.data, 0).astype(np.float64)
            total = np.bincount(rows, np.abs(batch.data).astype(np.float64), batch.n)
            left = np.bincount(rows, np.abs(kept), batch.n)
            scale = np.where(left > 0, total / np.where(left > 0, left, 1.0), 1.0)
            data = np.where(left[rows] > 0, kept * scale[rows], batch.data)
            b = batch
            batch = training.Batch(b.start, b.n, b.indptr, b.indices,
                                   data.astype(b.data.dtype), b.y_indptr, b.y_indices,
                                   b.y_data, b.w)  # fmt: skip
        return real_step(batch, W, B, lr, loss, optimizer)

    training.sgd_step = drop_step
    real_call = optim.LinearDecay.__call__

    def sched(self, t):
        if self.total:
            PROTO["_left"] = max(0.0, 1.0 - (self.start + t) / self.total)
        q, f = PROTO.get("_sched_pow"), PROTO.get("_sched_floor")
        if (q is None and f is None) or not self.total:
            return real_call(self, t)
        frac = max(0.0, 1.0 - (self.start + t) / self.total)
        if q is not None:
            frac = frac**q
        if f is not None:
            frac = max(f, frac)
        return self.lr * frac

    optim.LinearDecay.__call__ = sched

    def reseed():
        rng["g"] = np.random.default_rng(0)
        defaults.MULTICLASS_MARGIN = PROTO.get("_mcm", real_margin)
        defaults.BINARY_GCE = PROTO.get("_bgce", real_gce)
        from bowclf import classifier as _clf

        _clf.resolve_gce = real_resolve_gce
        if PROTO.get("_mcgce"):  # the generalized cross-entropy for ≥ 3 classes too

            def any_gce(n_classes, **task):
                if n_classes >= 3 and not task.get("multilabel"):
                    return float(PROTO["_mcgce"])
                return real_resolve_gce(n_classes, **task)

            _clf.resolve_gce = any_gce

    PROTO_HOOKS.append(reseed)


def _install_decay() -> None:
    from bowclf import classifier

    real_opt = classifier.BowClassifier._optimizer

    def patched_opt(self):
        inner = real_opt(self)
        wd_a, wd_b = PROTO.get("_wd_A", 0.0), PROTO.get("_wd_B", 0.0)
        wd_c = PROTO.get("_wd_Acls", 0.0)
        wd_g = PROTO.get("_wd_Angram", 0.0)
        wd_q = PROTO.get("_wd_Adf", 0.0)
        if PROTO.get("_maxnorm") and self.classes_.size >= 3:
            r = float(PROTO["_maxnorm"])

            def capped(rows, lr):
                norms = np.sqrt(np.einsum("ij,ij->i", self_W[0][rows], self_W[0][rows]))
                return rows, np.minimum(1.0, r / np.maximum(norms, 1e-12))[:, None]

            self_W = [None]

            class Capped:
                def __getattr__(self, name):
                    return getattr(inner, name)

                def step(self, W, B, batch, grads, lr):
                    self_W[0] = W
                    inner.step(W, B, batch, grads, lr)
                    rows, mult = capped(np.unique(batch.indices), lr)
                    W[rows] *= mult.astype(W.dtype)

            return Capped()
        if wd_q:
            q = float(PROTO.get("_wd_Adf_q", 0.5))
            scale = PROTO["df"] ** -q
            return _touched_rows_decayed(
                inner, lambda rows, lr: (rows, (1.0 - lr * wd_q * scale[rows])[:, None])
            )
        if wd_g:

            def ngram_rows(rows, lr):
                return rows[rows >= PROTO["n_word_columns"]], 1.0 - lr * wd_g

            return _touched_rows_decayed(inner, ngram_rows)
        if wd_c:
            return _class_scaled_decay(inner, self, wd_c, PROTO.get("_wd_Acls_min", False),
                                       PROTO.get("_wd_Acls_inv", False))  # fmt: skip
        if not (wd_a or wd_b):
            return inner

        class Decayed:
            def __getattr__(self, name):
                return getattr(inner, name)

            def step(self, W, B, batch, grads, lr):
                inner.step(W, B, batch, grads, lr)
                if wd_a:
                    rows = np.unique(batch.indices)
                    W[rows] *= np.float32(1.0 - lr * wd_a)
                if wd_b:
                    B *= np.float32(1.0 - lr * wd_b)

        return Decayed()

    classifier.BowClassifier._optimizer = patched_opt


def _touched_rows_decayed(inner, factor):
    """``inner``'s optimiser whose every step then multiplies the rows ``r`` of ``A`` chosen
    by ``factor(rows the batch touched, lr) -> (r, multiplier)`` by their multiplier."""

    class Decayed:
        def __getattr__(self, name):
            return getattr(inner, name)

        def step(self, W, B, batch, grads, lr):
            inner.step(W, B, batch, grads, lr)
            rows, multiplier = factor(np.unique(batch.indices), lr)
            W[rows] *= np.asarray(multiplier, dtype=W.dtype)

    return Decayed()


def _class_scaled_decay(inner, model, lam: float, by_min: bool, inverse: bool = False):
    """``_wd_Acls: λ``: after each step the rows ``j`` of ``W`` the batch touched are
    multiplied by ``1 − η·λ·ω_j``, ``ω_j`` the mean (``_wd_Acls_min``: the minimum) of
    ``ω_k = min(1, c·prior_k)`` over the batch's documents (class ``k``) that contain ``j``:
    features of rare classes' documents decay less (balanced corpora: ``_wd_A``)."""
    prior = np.asarray(model.class_prior_, dtype=np.float64)
    omega = np.minimum(1.0, prior.size * prior)
    if inverse:  # spare the frequent classes' features instead
        omega = np.minimum(1.0, 1.0 / np.maximum(prior.size * prior, 1e-12))

    class Decayed:
        def __getattr__(self, name):
            return getattr(inner, name)

        def step(self, W, B, batch, grads, lr):
            inner.step(W, B, batch, grads, lr)
            docs = np.repeat(np.arange(batch.n), np.diff(batch.indptr))
            first = batch.y_indptr[:-1]
            w_doc = omega[batch.y_indices[np.minimum(first, batch.y_indices.size - 1)]]
            w_nz = w_doc[docs]
            rows, inv = np.unique(batch.indices, return_inverse=True)
            if by_min:
                w_row = np.ones(rows.size)
                np.minimum.at(w_row, inv, w_nz)
            else:
                w_row = np.bincount(inv, w_nz, rows.size) / np.bincount(inv, None, rows.size)
            W[rows] *= (1.0 - lr * lam * w_row).astype(W.dtype)[:, None]

    return Decayed()


def _install_inputs() -> None:
    from bowclf import _math, classifier, losses, optim, text, training

    real_targets = losses.Softmax.batch_targets

    def smoothed(self, batch, B):
        Y = real_targets(self, batch, B)
        eps = PROTO.get("_smooth", 0.0)
        if eps:
            Y = (1.0 - eps) * Y + (eps / Y.shape[1]) * Y.sum(axis=1, keepdims=True)
        return Y

    losses.Softmax.batch_targets = smoothed
    real_idf = _math.idf_weights

    def idf(df, n):
        w = real_idf(df, n)
        add = PROTO.get("_idf_add")
        if add is not None:  # ln((1 + n)/(1 + df)) + add instead of + 1
            w = (w + np.float32(add - 1.0)).astype(np.float32)
        power = PROTO.get("_idf_pow")
        if power is not None:
            w = (w**power).astype(np.float32)
        return w

    text._math.idf_weights = idf
    real_rate = optim.ADAGRAD_RATE

    def rate_hook():
        optim.ADAGRAD_RATE = PROTO.get("_brate", real_rate)

    PROTO_HOOKS.append(rate_hook)
    real_update_A = _math.normalized_update_A

    def update_A(indptr, indices, data, hidden, W, lr, floor):
        lr = lr * PROTO.get("_arate", 1.0)
        if W.shape[1] == PROTO.get("_icpt_width"):  # the intercept column of W stays fixed
            hidden = hidden.copy()
            hidden[:, -1] = 0
        return real_update_A(indptr, indices, data, hidden, W, lr, floor)

    _math.normalized_update_A = update_A
    real_initial = classifier.initial_parameters

    def initial_with_intercept(n_features, dim, output_shape, rng, A_init=None, n_jobs=1):
        kappa = PROTO.get("_icpt")
        PROTO.pop("_icpt_width", None)
        if not kappa or (output_shape[0] != 2 and not PROTO.get("_icpt_mc")):
            return real_initial(n_features, dim, output_shape, rng, A_init, n_jobs)
        W, B = real_initial(n_features, dim + 1, (output_shape[0], dim + 1), rng, A_init, n_jobs)
        W[:, -1] = kappa
        PROTO["_icpt_width"] = dim + 1
        return W, B

    classifier.initial_parameters = initial_with_intercept
    real_fill = training.fill_initial

    def fill_with_intercept(W, B, seed, A_init=None, n_jobs=1):
        real_fill(W, B, seed, A_init, n_jobs)
        if W.shape[1] == PROTO.get("_icpt_width"):
            W[:, -1] = PROTO["_icpt"]

    training.fill_initial = fill_with_intercept
    real_features = text.TextClassifier._set_features

    def weighted_features(self, document_frequency, n_documents, class_df=None, **task):
        p = real_features(self, document_frequency, n_documents, class_df, **task)
        columns = self.feature_columns_
        vocab = len(self.vectorizer_.vocabulary_)
        PROTO["n_word_columns"] = vocab if columns is None else int(np.sum(columns < vocab))
        df = document_frequency if columns is None else document_frequency[columns]
        PROTO["df"] = np.maximum(np.asarray(df, dtype=np.float64), 1.0)
        factor = PROTO.get("_ngram_w")
        if factor is not None and self.idf_ is not None:
            columns = self.feature_columns_
            columns = np.arange(p) if columns is None else columns
            ngram = columns >= len(self.vectorizer_.vocabulary_)  # words come first
            self.idf_ = np.where(ngram, self.idf_ * factor, self.idf_).astype(np.float32)
        if PROTO.get("_nb") is not None and self.idf_ is not None:
            self.idf_ = _nb_weights(self, PROTO["_train"], columns, self.idf_)
        return p

    text.TextClassifier._set_features = weighted_features
    real_fit = text.TextClassifier.fit

    def fit_keeping_labels(self, X, y, *a, **k):
        PROTO["_train"], PROTO["_tc"] = (X, y), self
        return real_fit(self, X, y, *a, **k)

    text.TextClassifier.fit = fit_keeping_labels
    real_accumulator = optim._accumulator

    def accumulator(current, size):
        out = real_accumulator(current, size)
        if current is None and PROTO.get("_b0"):
            out += PROTO["_b0"]
        return out

    optim._accumulator = accumulator


def _nb_weights(model, train, columns, idf):
    """``idf_j · (1 + β·g_j)`` (``_nb: β``), ``g_j = max_k |r_jk|`` over the classes ``k`` of
    the one-vs-rest log-count ratios ``r_jk = ln((p_jk/‖p_k‖₁)/(q_jk/‖q_k‖₁))``,
    ``p_jk = α + df_jk`` (documents of class ``k`` containing ``j``), ``q_jk = α + df_j −
    df_jk`` (``_nb_a: α``, default 1).  ``_nb_rep``: ``1 + β·g_j`` without idf;
    ``_nb_bin``: two-class tasks only; ``_nb_pow: q``: ``g^q``; ``_nb_clip: t``: ``min(g, t)``;
    ``_nb_prior``: pseudo-counts ``2α·s_k`` / ``2α·(1 − s_k)`` in proportion to the class's
    share ``s_k`` of the document–column pairs (what ``supervised_weight`` does);
    ``_nb_kl``: ``g_j = KL(P(·|j) ‖ π)`` instead; ``_nb_mean``: ``Σ_k s_k·|r_jk|`` (with
    ``_nb_prior``) instead of the maximum over classes; ``_nb_both: γ`` (with ``_nb_prior``,
    ≥ 3 classes): ``β·max_k |r_jk| + γ·Σ_k s_k·|r_jk|``; ``_nb_beta2: β₂``: two classes
    use ``β₂`` instead of ``β``."""
    X, y = train
    y = np.asarray(y)
    classes, codes = np.unique(y, return_inverse=True)
    if PROTO.get("_nb_bin") and classes.size != 2:
        return idf
    counts = model.vectorizer_.transform(list(X))
    counts.data[:] = 1
    if columns is not None:
        counts = counts[:, columns]
    import scipy.sparse as sp

    Y = sp.csr_array((np.ones(y.size), (np.arange(y.size), codes)), shape=(y.size, classes.size))
    dfk = np.asarray((counts.T @ Y).todense(), dtype=np.float64)  # p × c
    df = dfk.sum(axis=1, keepdims=True)
    a = float(PROTO.get("_nb_a", 1.0))
    if PROTO.get("_nb_kl"):  # KL(P(k|j) ‖ π), P(k|j) = (df_jk + a·π_k)/(df_j + a)
        prior = np.bincount(codes, minlength=classes.size) / y.size
        P = (dfk + a * prior) / (df + a)
        g = np.sum(P * np.log(P / prior), axis=1)
    else:
        if PROTO.get("_nb_prior"):  # pseudo-counts in proportion to the class's token mass
            share = dfk.sum(axis=0) / dfk.sum()
            pk, qk = dfk + 2 * a * share, df - dfk + 2 * a * (1 - share)
        else:
            pk, qk = dfk + a, df - dfk + a
        r = np.log(pk / pk.sum(axis=0)) - np.log(qk / qk.sum(axis=0))
        g = np.abs(r).max(axis=1) if classes.size > 2 else np.abs(r[:, 0])
        if PROTO.get("_nb_mean") and classes.size > 2:  # Σ_k s_k·|r_jk| instead of the max
            g = np.abs(r) @ share if PROTO.get("_nb_prior") else np.abs(r).mean(axis=1)
        if PROTO.get("_nb_both") is not None and classes.size > 2:  # β·max + γ·mean
            both = float(PROTO["_nb_both"]) / float(PROTO["_nb"])
            g = np.abs(r).max(axis=1) + both * (np.abs(r) @ share)
        if PROTO.get("_nb_beta2") is not None and classes.size == 2:
            g = g * float(PROTO["_nb_beta2"]) / float(PROTO["_nb"])
    if PROTO.get("_nb_pow") is not None:
        g = g ** float(PROTO["_nb_pow"])
    if PROTO.get("_nb_clip") is not None:
        g = np.minimum(g, float(PROTO["_nb_clip"]))
    w = 1.0 + float(PROTO["_nb"]) * g
    base = 1.0 if PROTO.get("_nb_rep") else idf.astype(np.float64)
    return (base * w).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", nargs="*", default=list(GENERATORS))
    ap.add_argument("--shared", nargs="*", default=["sst2", "trec", "sms_spam", "ag_news"])
    ap.add_argument("--config", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument(
        "--corpus-seeds",
        nargs="*",
        type=int,
        default=[0],
        help="draw each generated corpus with these seeds (0: the dev suite's own corpora)",
    )
    ap.add_argument(
        "--train-docs",
        type=int,
        default=0,
        help="train on random subsets of this many training documents instead",
    )
    ap.add_argument("--subsets", type=int, default=2, help="with --train-docs: how many subsets")
    args = ap.parse_args(argv)
    install()
    from bowclf import TextClassifier

    configs = [c.partition("=")[::2] for c in args.config] or [("base", "{}")]
    pairs = [generate_corpus(c, seed=s) for s in args.corpus_seeds for c in args.corpora]
    pairs += _shared_pairs(args.shared)
    results: dict[tuple[str, str], list[float]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    if args.train_docs:  # each corpus also as random subsets of its training documents
        pairs = [{**p, "pair": f"{p['pair']}/n{args.train_docs}#{d}", "subset": d}
                 for p in pairs for d in range(args.subsets)]  # fmt: skip
    for pair in pairs:
        X, y = read_csv_gz(pair["train_csv"])
        Xt, yt = read_csv_gz(pair["test_csv"])
        if "subset" in pair and args.train_docs < len(X):
            pick = np.random.default_rng(1000 + pair["subset"]).permutation(len(X))
            pick = np.sort(pick[: args.train_docs])
            X, y = [X[i] for i in pick], [y[i] for i in pick]
        for name, spec in configs:
            params = configure(json.loads(spec))
            Xa, Xta = X, Xt
            if PROTO.get("_eos"):
                Xa, Xta = [t + " qqeosqq" for t in X], [t + " qqeosqq" for t in Xt]
            PROTO["_Xt"], PROTO["_yt"], PROTO["_ytrain"] = Xta, yt, y
            for seed in args.seeds:
                PROTO.pop("_pv_records", None)
                PROTO.pop("_curve_rec", None)
                t0 = time.perf_counter()
                model = TextClassifier(random_state=seed, **params).fit(Xa, y)
                fit_s = time.perf_counter() - t0
                acc, f1 = _score(list(model.predict(Xta)), yt)
                if PROTO.get("_pv"):
                    quarters = first_pass_quarters(PROTO.pop("_pv_records", []), len(Xa))
                    print(
                        f"{name:<12} {pair['pair']:<18} seed {seed} first-pass accuracy by "
                        "quarter " + " / ".join(f"{q:.1f}" for q in quarters),
                        file=sys.stderr,
                    )
                if PROTO.get("_plateau") is not None:
                    for a, passes in PROTO.pop("_plateau_rec", []):
                        print(
                            f"{name:<12} {pair['pair']:<18} seed {seed} slice "
                            + " ".join(v if isinstance(v, str) else f"{v:.1f}" for v in a)
                            + f" → {passes} passes",
                            file=sys.stderr,
                        )
                if PROTO.get("_curve") is not None:
                    curve = PROTO.pop("_curve_rec", [])
                    print(
                        f"{name:<12} {pair['pair']:<18} seed {seed} curve slice "
                        + " ".join(f"{a:.1f}" for a, _ in curve)
                        + " | test "
                        + " ".join(f"{b:.2f}" for _, b in curve),
                        file=sys.stderr,
                    )
                results.setdefault((pair["pair"], name), []).append(acc)
                times.setdefault((pair["pair"], name), []).append(fit_s)
                print(
                    f"{name:<12} {pair['pair']:<18} seed {seed} acc {acc:6.2f} F1 {f1:6.2f} "
                    f"fit {fit_s:6.2f}",
                    file=sys.stderr,
                    flush=True,
                )
    names = [n for n, _ in configs]
    print("| corpus | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for pair in pairs:
        cells = []
        for n in names:
            a, t = results[(pair["pair"], n)], times[(pair["pair"], n)]
            cells.append(f"{np.mean(a):.2f} ({np.min(t):.2f} s)")
        print(f"| {pair['pair']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
