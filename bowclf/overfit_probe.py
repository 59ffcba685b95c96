"""A held-out slice that tells an early-overfitting corpus, and the short restart it gets.

Some corpora are learnt in two or three passes and overfit after: noisy sentences graded on a
scale (5-grade sentiment), where the passes ``epochs='auto'`` gives a multi-class task
memorise rare words' noise, and short two-class documents with noisy labels, whose five
passes fit the mislabelled ones.  The first :data:`PASSES` passes of a probed run therefore
hold a slice of the training documents out (their weight is 0) and score it after each pass:

* the slice's mean log-loss after the last probe pass is at least the rule's ``min_fall``
  below the one after the first: the run is still learning.  With three or more classes the
  slice rejoins the training set and the schedule goes on (its many passes make up the two
  the slice missed); with two classes the run starts over with its whole schedule on every
  document, because a five-pass run whose slice missed two of them is left short;
* it is not: the held-out documents are fitted no better (or worse) as the training ones are
  fitted better: the corpus has given what it can in one pass, and more passes at a high
  rate memorise its noise.  A short fresh schedule (the rule's ``restart_passes``) trains
  on every document.

Starting over, the parameters are drawn anew (the same rule as the first draw, from a seed
of their own) and the optimiser's state is cleared.  Which documents are held out depends on
their prepared feature rows only (a hash of each row's columns and values, :func:`held_out`),
and the slice is scored in an order of its own (by hash), so the in-memory, out-of-core and
Dask routes hold out, score and decide alike; the restart's seed is derived from the run's
generator as training starts, before any route draws from it.
:func:`bowclf.auto_rules.probes_overfitting` says which runs are probed, :func:`rule_for`
with which rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _math

__all__ = ["BINARY", "FRACTION", "MAX_ROWS", "MULTICLASS", "PASSES", "OverfitProbe", "ProbeRule",
           "held_out", "row_hashes", "rule_for", "slice_log_loss"]  # fmt: skip

#: Share of the training documents held out during the probe passes.
FRACTION = 0.1
#: At most about this many documents are held out (a smaller share of larger corpora): the
#: slice is copied and scored twice, and more rows do not make the comparison surer.
MAX_ROWS = 20_000
#: Passes trained with the slice held out; the loss after the last is compared with the first.
PASSES = 2


@dataclass(frozen=True)
class ProbeRule:
    """What a probed run decides and trains after the probe passes.

    ``min_fall``: the share of its first value by which the slice's loss must fall over the
    probe passes for the run to count as still learning; ``restart_passes``: the passes of
    the fresh schedule an overfitting run starts over with; ``start_over_if_learning``: a run
    still learning starts over with its whole schedule (else it goes on).
    """

    min_fall: float
    restart_passes: int
    start_over_if_learning: bool


#: Three or more classes.  Measured (bench/RESULTS-devsuite.md): the overfitting kind's
#: slice losses fall by less than ``min_fall`` (most rise), every corpus still learning falls
#: by more, and the runs in between (near-flat runs of the two-word-phrase corpus) gain from
#: the restart too.  Two fresh passes: noisy graded sentences learn all they can in one or two.
MULTICLASS = ProbeRule(min_fall=0.02, restart_passes=2, start_over_if_learning=False)
#: Two classes.  Measured (bench/RESULTS-devsuite.md) with the restart forced and refused:
#: real corpora with clean (or slightly noisy) labels fall by more than ``min_fall`` and lose
#: by a restart; with many labels flipped most fall by less or rise, and gain; three fresh
#: passes gain more than two on the noisy generated kinds.
BINARY = ProbeRule(min_fall=0.04, restart_passes=3, start_over_if_learning=True)


def rule_for(n_classes: int) -> ProbeRule:
    """The probe's rule for a single-label task of ``n_classes`` classes."""
    return BINARY if n_classes == 2 else MULTICLASS


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise and in place on ``uint64`` (wrapping arithmetic)::

    z ← (z ⊕ z≫30)·0xBF58476D1CE4E5B9;  z ← (z ⊕ z≫27)·0x94D049BB133111EB;  z ⊕ z≫31

    Returns ``z``; one temporary of its size."""
    shifted = np.right_shift(z, np.uint64(30))
    z ^= shifted
    z *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(z, np.uint64(27), out=shifted)
    z ^= shifted
    z *= np.uint64(0x94D049BB133111EB)
    np.right_shift(z, np.uint64(31), out=shifted)
    z ^= shifted
    return z


def row_hashes(X: sp.csr_array, salt: int) -> np.ndarray:
    """A 64-bit hash of each row of ``X`` from its columns and values and ``salt``::

        h_i = mix(salt ⊕ Σ_{j ∈ row i} mix(j·φ ⊕ bits(x_ij)))      (sums modulo 2⁶⁴)

    with ``mix`` SplitMix64's finaliser, ``φ`` the 64-bit golden ratio and ``bits`` the
    float32 bit pattern of a value.  The sum does not depend on the order of a row's
    entries, so equal rows hash alike whatever block, copy or dtype of indices holds them.
    Works in place on one ``uint64`` array of the entries (plus one temporary of its size).
    """
    X = sp.csr_array(X)
    entry = X.indices.astype(np.uint64)
    with np.errstate(over="ignore"):
        entry *= _GOLDEN
        entry ^= np.ascontiguousarray(X.data, dtype=np.float32).view(np.uint32)
        running = np.cumsum(_mix64(entry), out=entry)  # running[k] = Σ of entries 0..k
        before = np.zeros(X.shape[0] + 1, np.uint64)  # Σ of the entries before indptr[i]
        starts = X.indptr > 0
        before[starts] = running[X.indptr[starts] - 1]
        sums = before[1:] - before[:-1]
        sums ^= np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        return _mix64(sums)


def held_out(X: sp.csr_array, salt: int, fraction: float) -> np.ndarray:
    """The rows of ``X`` a probe holds out: ``h_i / 2⁶⁴ < fraction`` (:func:`row_hashes`)."""
    return _below(row_hashes(X, salt), fraction)


def _below(hashes: np.ndarray, fraction: float) -> np.ndarray:
    """``h / 2⁶⁴ < fraction`` for 64-bit hashes (their top 53 bits)."""
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction


def slice_log_loss(X: sp.csr_array, codes: np.ndarray, W: np.ndarray, B: np.ndarray) -> float:
    """The mean softmax log-loss of the rows ``X̃`` (prepared) with classes ``codes``::

        −(1/n)·Σ_i log ŷ_{i,c_i},   ŷ_i = softmax(B·Wᵀ·x̃_i)

    Each row is scored alone (:func:`bowclf._math.row_scores`) and the sum is taken in the
    rows' order, so the value depends on the rows and the parameters only.
    """
    if X.shape[0] == 0:
        return 0.0
    S = _math.row_scores(np.asarray(X @ W, dtype=np.float64), B.astype(np.float64))
    return float(-np.mean(_math.log_softmax(S)[np.arange(S.shape[0]), codes]))


class OverfitProbe:
    """The probe of one training run (see the module doc).

    ``n``: documents per pass; ``rng``: the run's generator as training starts (the slice's
    salt and the restart's seed are derived from it without drawing from it); ``rule``: its
    :class:`ProbeRule`; ``A_init`` and ``n_jobs``: as for the first draw of the parameters
    (:func:`bowclf.training.fill_initial`).  The training loop asks :attr:`holding`, feeds
    the blocks it trains through :meth:`hold` (or the held-out rows trained elsewhere
    through :meth:`add_rows`), and calls :meth:`after_pass` after each pass.
    """

    def __init__(
        self, n: int, rng: np.random.Generator, *, rule: ProbeRule = MULTICLASS,
        A_init=None, n_jobs: int = 1,
    ) -> None:  # fmt: skip
        derived = np.random.Generator(rng.bit_generator.jumped())
        self.salt = int(derived.integers(2**63))
        self.seed = int(derived.integers(2**63))
        self.fraction = min(FRACTION, MAX_ROWS / max(n, 1))
        self.rule = rule
        self.A_init, self.n_jobs = A_init, n_jobs
        self.holding = True
        #: the decision: the slice's loss did not fall by ``rule.min_fall``
        self.overfitting = False
        self.losses: list[float] = []
        self._rows: list[tuple[np.ndarray, sp.csr_array, np.ndarray]] = []
        self._slice: tuple[sp.csr_array, np.ndarray] | None = None

    @property
    def spec(self) -> dict[str, Any]:
        """What a remote trainer needs to hold out the same rows."""
        return {"salt": self.salt, "fraction": self.fraction}

    def hold(self, X: sp.csr_array, Y: sp.csr_array, *, keep: bool) -> np.ndarray:
        """Which rows of the prepared block ``X̃`` are held out (:func:`held_out`); with
        ``keep`` (the first pass) they are kept, with their one-hot targets ``Y``, for
        scoring.  Each row is hashed once."""
        hashes = row_hashes(X, self.salt)
        held = _below(hashes, self.fraction)
        if keep and held.any():
            self._keep(hashes[held], X[held], Y[held])
        return held

    def add_rows(self, X: sp.csr_array, Y: sp.csr_array) -> None:
        """Keep held-out rows ``X̃`` (prepared) trained elsewhere (e.g. on Dask workers) and
        their one-hot targets ``Y`` (first pass)."""
        if X.shape[0]:
            self._keep(row_hashes(X, self.salt), X, Y)

    def _keep(self, hashes: np.ndarray, X: sp.csr_array, Y: sp.csr_array) -> None:
        codes = np.asarray(sp.csr_array(Y).argmax(axis=1)).ravel()
        self._rows.append((hashes, sp.csr_array(X), codes))

    def _held(self) -> tuple[sp.csr_array, np.ndarray]:
        if self._slice is None:
            if self._rows:
                hashes = np.concatenate([h for h, _, _ in self._rows])
                codes = np.concatenate([c for _, _, c in self._rows])
                X = sp.csr_array(sp.vstack([x for _, x, _ in self._rows], format="csr"))
                order = np.lexsort((codes, hashes))  # an order of the rows, not of the route
                self._slice = (sp.csr_array(X[order]), codes[order])
            else:
                self._slice = (sp.csr_array((0, 0), dtype=np.float32), np.zeros(0, np.intp))
            self._rows = []
        return self._slice

    def after_pass(self, W: np.ndarray, B: np.ndarray, epochs: int) -> int | None:
        """Score the slice after a probe pass of a run planned for ``epochs`` passes.
        Returns the passes of the fresh schedule the run starts over with now
        (:meth:`fresh_passes`), or None while the probe goes on and when the run goes on.
        After the last probe pass :attr:`holding` is False and the slice is dropped; an empty
        slice (nothing held out, nothing missed) lets the run go on."""
        X, codes = self._held()
        self.losses.append(slice_log_loss(X, codes, W, B))  # 0 for an empty slice
        if len(self.losses) < PASSES:
            return None
        self.holding, self._slice = False, None
        if codes.size == 0:
            return None
        self.overfitting = self.losses[-1] > (1.0 - self.rule.min_fall) * self.losses[0]
        return self.fresh_passes(epochs)

    def fresh_passes(self, epochs: int) -> int | None:
        """The passes a decided run planned for ``epochs`` starts over with (see
        :class:`ProbeRule`), or None: it goes on."""
        if self.overfitting:
            return self.rule.restart_passes
        return epochs if self.rule.start_over_if_learning else None
