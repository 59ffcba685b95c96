"""Hyper-parameter search for :class:`~bowclf.TextClassifier` within a time budget.

fastText's ``-autotune-validation -autotune-duration`` is the model: a random search over
the learning rate, epochs, dimension, word n-grams and buckets, scored on validation data,
that stops when the time is up.  Here the search is scikit-learn's successive halving
(:class:`~sklearn.model_selection.HalvingGridSearchCV`) with **epochs as the resource**:
many candidates are trained for a few epochs, the best third of them three times as long,
and so on, so most of the budget goes to the promising configurations.  The candidates
are the base configuration plus configurations drawn at random
(:class:`~sklearn.model_selection.ParameterSampler`) from :data:`SEARCH_SPACE`.

The base configuration (bowclf's defaults unless ``params`` says otherwise) is the answer
unless a candidate beats it:

1. it is trained first, on the training part, exactly as without a search (its own
   ``epochs``), and scored on the validation data; its score plus one standard error is
   the bar every candidate must clear.  This fit also times vectorising and an epoch;
2. the halving rounds are planned in the time left after setting aside the final refit
   (at least the base configuration's own fit on all the data), and a progress callback
   stops any trial that would run past the search's deadline (it scores ``nan``); a search
   that ends early is followed by another with fresh candidates, planned with the fit
   times measured so far;
3. a candidate that clears the bar is trained again, with the base configuration, on a
   second split of the data (another seed) and stays the winner only if it clears the
   same bar there too;
4. the winner is refitted on all the data (the documents in their given order: a winning
   base configuration gives exactly the model fitted without a search).

When the first fit shows that the base configuration cannot be trained twice within the
budget (once to be scored, once on all the data), it is stopped after its first epoch: if
one fit on all the data still fits, that is the answer (no search: nothing else could be
compared with it); otherwise the budget is too short for the base configuration's epochs
and a smaller search over fewer epochs, without the bar, is all there is.

Ctrl-C (``KeyboardInterrupt``) during the search or the refit returns the best model
trained so far (fitted on the training part only when the refit did not finish), with
``interrupted=True``; before any model is trained it propagates.  The number of candidates
depends on the machine's speed, so results are reproducible for a fixed ``random_state``
only up to that number.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import loguniform
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import ParameterSampler
from sklearn.preprocessing import MultiLabelBinarizer

from .auto_rules import resolve_epochs
from .autotune_trials import format_trials, stored_trials
from .defaults import AUTOTUNE_METRIC, AUTOTUNE_TIME, BASE_LR, VALIDATION_FRACTION
from .text import TextClassifier
from .training import check_classes, seed_from, split_validation

__all__ = [
    "METRICS",
    "MULTILABEL_RECIPE",
    "SEARCH_SPACE",
    "AutotuneResult",
    "autotune",
    "check_options",
    "parse_duration",
    "trials_table",
]

#: Metrics a search can maximise (``p@k``: precision of the k most probable labels).
METRICS = ("accuracy", "macro-f1", "micro-f1", "p@k")

#: What the search draws from (distributions or lists, as in ``ParameterSampler``); the
#: learning rate is drawn around the base configuration's ``lr`` (× 1/5 … × 5; ``'auto'``:
#: around ``defaults.BASE_LR``).
SEARCH_SPACE: dict[str, Any] = {
    "dim": [25, 50, 100, 200],
    "ngrams": [1, 2, 3],
    "buckets": [500_000, 2_000_000, 4_000_000],
    "min_count": [1, 1, 2, 3],
    "normalize": ["l1", "l2"],
    "use_idf": [True, False],
    "sublinear_tf": [False, True],
    # with use_idf only (the weights scale idf); 0 is plain idf
    "supervised_weight": [0.0, 0.25, 0.5, 1.0],
}
#: Tried at the defaults' epochs on multi-label data (see ``_try_recipes``).
MULTILABEL_RECIPE: dict[str, Any] = {"loss": "ova", "normalize": "l2", "lr": 0.2, "batch_size": 4}
_FACTOR = 3  # successive halving: keep the best third, give it three times the epochs
_MAX_EPOCHS = 27
_SAFETY = 1.25  # refit-time estimate margin
_MAX_CANDIDATES = 729  # per halving batch (3^6); a long search runs several batches
_MAX_BATCHES = 100


class _OutOfTime(Exception):
    """Raised by the progress callback of a trial that would run past the deadline."""


@dataclass
class AutotuneResult:
    """What :func:`autotune` found.

    Attributes
    ----------
    model : TextClassifier
        The winner refitted on all the data (training + validation), or, after Ctrl-C, the
        best model trained so far.
    best_params : dict
        The winner's parameters that differ from the base configuration, with ``epochs``.
    best_score : float
        Its validation score (``metric``).
    metric : str
    trials : list of dict
        One row per trained candidate and round: ``round`` (the halving round within its
        ``batch``, the halving search it belongs to, 1, 2, …; ``'defaults'`` for the base
        configuration at its own epochs, ``'recipe'``, or ``'confirm'`` for the second
        split), ``epochs``, ``score`` (``nan``: not scored), ``seconds`` and the
        candidate's ``params``.
    seconds : float
        Wall time of the whole call: :attr:`search_seconds` + ``refit_seconds``.
    refit_seconds : float
        Wall time of the final refit on all the data (0.0 when ``model`` was not refitted).
    budget : float
        The time budget in seconds.
    interrupted : bool
        Whether Ctrl-C ended the search early.
    refitted : bool
        Whether ``model`` was refitted on all the data.
    """

    model: TextClassifier
    best_params: dict[str, Any]
    best_score: float
    metric: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    budget: float = 0.0
    interrupted: bool = False
    refitted: bool = False
    refit_seconds: float = 0.0

    @property
    def search_seconds(self) -> float:
        """Wall time before the refit (the validation split, the base configuration's fit,
        the search and the confirmation): ``seconds − refit_seconds``."""
        return max(0.0, self.seconds - self.refit_seconds)

    def summary(self) -> dict[str, Any]:
        """A JSON-safe digest (stored with the model: ``bowclf info`` shows it)."""
        return {
            "metric": self.metric,
            "best_score": float(self.best_score) if math.isfinite(self.best_score) else None,
            "best_params": _jsonable(self.best_params),
            "trials": len(self.trials),
            "seconds": round(self.seconds, 1),
            "budget_seconds": round(self.budget, 1),
            "interrupted": bool(self.interrupted),
            "refitted": bool(self.refitted),
            "best_trials": stored_trials(self.trials),
        }


def parse_duration(text: str | float | int) -> float:
    """Seconds of ``"90"``, ``"90s"``, ``"5m"``, ``"1.5h"`` or ``"1h30m"``.

    Raises
    ------
    ValueError
        For anything else, or a duration that is not positive.
    """
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", s)
        if not s or parts is None:
            raise ValueError(f"not a duration: {text!r} (e.g. 90s, 5m, 1h)")
        h, m, sec = (float(g) if g else 0.0 for g in parts.groups())
        seconds = 3600 * h + 60 * m + sec
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"the duration must be positive, got {text!r}")
    return seconds


def autotune(
    X: Sequence[str],
    y: Sequence[Any],
    *,
    X_valid: Sequence[str] | None = None,
    y_valid: Sequence[Any] | None = None,
    valid_fraction: float = VALIDATION_FRACTION,
    time_budget: float | str = AUTOTUNE_TIME,
    metric: str = AUTOTUNE_METRIC,
    k: int = 1,
    params: dict[str, Any] | None = None,
    search_space: dict[str, Any] | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
    log: Callable[[str], None] | None = None,
) -> AutotuneResult:
    """Search :class:`~bowclf.TextClassifier` hyper-parameters by successive halving over
    epochs within ``time_budget``, then refit the winner on all the data.

    Parameters
    ----------
    X, y : documents and their labels (label collections for multi-label data).
    X_valid, y_valid : optional
        Validation data scoring the candidates (never trained on: the winner is refitted on
        ``(X, y)``, as fastText's autotune does).  Without them a stratified
        ``valid_fraction`` of ``(X, y)`` is held out (random split for multi-label data).
    valid_fraction : float, default=0.1
    time_budget : float or str, default='5m'
        Seconds (or a duration such as ``"5m"``, see :func:`parse_duration`) for the
        whole call, refit included.
    metric : {'accuracy', 'macro-f1', 'micro-f1', 'p@k'} or 'p@K', default='accuracy'
        What the search maximises on the validation data (``'p@5'`` is ``'p@k'`` with
        k=5).  For multi-label data ``accuracy`` is the share of documents whose predicted
        label set is exact.
    k : int, default=1
        ``k`` of ``p@k``.
    params : dict, optional
        The base configuration (``TextClassifier`` parameters; its defaults otherwise): the
        first candidate, trained as it is (its ``epochs`` too), and fixed for the others
        except where the search space varies them (the halving sets their epochs).
    search_space : dict, optional
        Replaces :data:`SEARCH_SPACE` (plus ``lr``, which is always searched).
    random_state : int or None, default=0
        Seeds the candidates' sampling, the validation split and every fit.
    verbose : int, default=0
        When > 0, one line per trial through ``log`` (default: ``print``).

    Returns
    -------
    AutotuneResult
        Its model's ``training_summary_`` gains an ``"autotune"`` entry
        (:meth:`AutotuneResult.summary`), saved with the model and shown by ``bowclf info``.
    """
    start = time.perf_counter()
    budget, metric, k = _checked(time_budget, metric, k)
    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
    say = (log or print) if verbose else (lambda _msg: None)
    base = {**(params or {}), "random_state": random_state}  # a given ``epochs`` included
    data = _validation_data(X, y, X_valid, y_valid, valid_fraction, random_state)
    X_all, y_all = list(X), list(y)  # the refit's: given validation data only scores
    clock = _Clock(start, budget, grow=len(X_all) / max(len(data[0]), 1))
    score = _scorer(metric, k)
    # 1. the base configuration as it is: the bar to beat, and the timing of a fit
    shown = f"p@{k}" if metric == "p@k" else metric  # as the trials table names it
    baseline, timing = _baseline(base, data, score, shown, say, clock)
    if baseline is None and _SAFETY * clock.grow * timing.base_cost <= clock.left():
        say("autotune: the budget fits the base configuration once, with no time to compare")
        refit_start = time.perf_counter()
        outcome = _base_only(base, X_all, y_all, timing)
        return _result(*outcome, metric, k, budget, start, refit_start)
    # 2. the search; 3. a winner must beat the defaults again on a second split
    run = _Run(base, search_space, data, score, shown, say, random_state, _is_multilabel(y_all))
    trials, best, interrupted = _tune(run, baseline, timing, clock, (X_all, y_all), valid_fraction)
    # 4. refit the winner on all the data
    refit_start = time.perf_counter()
    model, refitted, interrupted = _refit_winner(base, best, X_all, y_all, interrupted, clock)
    return _result(model, best, trials, interrupted, refitted, metric, k, budget, start,
                   refit_start)  # fmt: skip


def _tune(run, baseline, timing, clock, all_data, valid_fraction: float) -> tuple:
    """The recipes and the halving batches in the time left once the refit is set aside,
    then the second split for a candidate that beat the baseline: ``(trials, best,
    interrupted)``."""
    scored = baseline is not None
    trials = [baseline.pop("row")] if scored else []
    best = baseline or {"score": -np.inf, "model": None, "params": {}, "epochs": 1}
    defaults = dict(best)  # the baseline as it was, before any candidate replaced it
    interrupted = scored and _try_recipes(run, timing, clock, trials, best)
    if not interrupted:
        interrupted = _halving_batches(run, timing, clock, trials, best, scored=scored)
    if scored and not best.get("is_base") and not interrupted:
        if _winner_reserve(best, clock, timing.base_cost) > clock.left():
            run.say("  no time left to confirm and refit the winner: the defaults are the answer")
            return trials, defaults, False
        best, interrupted = _confirm(run, best, defaults, all_data, valid_fraction, trials)
    return trials, best, interrupted


@dataclass
class _Clock:
    """The budget: ``start`` (``perf_counter``), ``budget`` seconds; ``grow``: all the data
    over the training part (what a refit costs more than a trial)."""

    start: float
    budget: float
    grow: float

    def left(self) -> float:
        return self.start + self.budget - time.perf_counter()


@dataclass
class _Timing:
    """Measured on the base configuration's first fit (training part)."""

    t_fixed: float  # vectorising and setting up
    t_epoch: float  # one epoch
    t_score: float  # scoring the validation data
    epochs: int  # the base configuration's own epochs

    @property
    def base_cost(self) -> float:
        return self.t_fixed + self.epochs * self.t_epoch


@dataclass
class _Budget:
    """The search's shape (``n_candidates`` 0: no search) and its deadline."""

    rounds: int
    n_candidates: int
    max_epochs: int
    deadline: float


def _validation_data(X, y, X_valid, y_valid, valid_fraction, random_state) -> tuple:
    """``(X_tr, y_tr, X_va, y_va)``: the given validation data, or a split of ``(X, y)``."""
    X, y = list(X), list(y)
    if not _is_multilabel(y):  # one class: say so, not that no split leaves two
        check_classes(np.unique(np.asarray(y, dtype=object).astype(str)), len(y))
    if X_valid is None:
        X_tr, X_va, y_tr, y_va = _split(X, y, valid_fraction, random_state, _is_multilabel(y))
    else:
        if y_valid is None:
            raise ValueError("X_valid needs y_valid")
        X_tr, y_tr, X_va, y_va = X, y, list(X_valid), list(y_valid)
    return X_tr, y_tr, X_va, y_va


def _baseline(base, data, score, metric, say, clock: _Clock) -> tuple[dict | None, _Timing]:
    """Train the base configuration as it would be without a search (its own ``epochs``) on
    the training part and score it ``s`` on the ``m`` validation documents: a candidate wins
    only with a score above ``s + √(s(1−s)/m)`` (one standard error), so that neither a short
    search whose rounds stop at a few epochs nor the luckiest of many candidates on a small
    validation split replaces the base configuration with a worse model.

    The fit is timed as it runs; it is stopped (``None``) after its first epoch when the rest
    of it plus its refit on all the data would overrun the budget, or as soon as it has
    taken half the budget.  Returns ``(baseline, timing)``."""
    X_tr, y_tr, X_va, y_va = data
    epochs = resolve_epochs(TextClassifier(**base).epochs, len(X_tr), _n_classes(y_tr),
                            multilabel=_is_multilabel(y_tr))  # fmt: skip
    seen = {"fixed": 0.0, "epoch": 0.0}
    t0 = time.perf_counter()

    def measure(info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if info["event"] not in ("batch", "epoch"):
            return
        seen["epochs"] = total = info["epochs"]  # resolved by the fit (inputs included)
        done = info["epoch"] if info["event"] == "epoch" else info["progress"] * total
        seen["epoch"] = info["seconds"] / max(done, 1e-9)
        seen["fixed"] = now - t0 - info["seconds"]
        if info["event"] == "batch" and now - clock.start > clock.budget / 2:
            raise _OutOfTime("the base configuration takes more than half the budget")
        if info["event"] == "epoch" and info["epoch"] == 1:
            refit = clock.grow * (seen["fixed"] + total * seen["epoch"])
            if _SAFETY * ((total - 1) * seen["epoch"] + refit) > clock.left():
                raise _OutOfTime("the base configuration does not fit twice")

    try:
        model = TextClassifier(**base).fit(X_tr, y_tr, callback=measure)
    except _OutOfTime:
        elapsed = time.perf_counter() - t0
        fixed, epoch = seen["fixed"] or elapsed, seen["epoch"] or elapsed
        return None, _Timing(fixed, epoch, 0.1 * fixed, seen.get("epochs", epochs))
    n_iter = int(model.classifier_.n_iter_)
    t_fixed = max(time.perf_counter() - t0 - n_iter * seen["epoch"], 1e-3)
    t1 = time.perf_counter()
    value = float(score(model, X_va, y_va))
    timing = _Timing(t_fixed, max(seen["epoch"], 1e-3), time.perf_counter() - t1,
                     seen.get("epochs", epochs))  # fmt: skip
    row = {"round": "defaults", "epochs": n_iter, "score": value,
           "seconds": float(model.training_summary_["seconds"]), "params": {}}  # fmt: skip
    bar = _bar(value, len(X_va))
    say(f"  defaults: {metric} {value:.4f}  epochs {n_iter:3d}  (bar {bar:.4f})")
    best = {"score": value, "bar": bar, "model": model, "params": {}, "epochs": n_iter}
    return {**best, "is_base": True, "row": row}, timing


def _base_only(base, X, y, timing: _Timing) -> tuple:
    """The base configuration fitted on all the data, with no validation score: what a
    budget that fits it once but not twice allows.  ``(model, best, trials, interrupted,
    refitted)`` for :func:`_result`."""
    model = TextClassifier(**base).fit(X, y)
    n_iter = int(model.classifier_.n_iter_)
    best = {"score": math.nan, "params": {}, "epochs": n_iter}
    row = {"round": "defaults", "epochs": n_iter, "score": math.nan,
           "seconds": float(model.training_summary_["seconds"]), "params": {}}  # fmt: skip
    return model, best, [row], False, True


def _plan_search(
    timing: _Timing, clock: _Clock, *, floor: bool, at_least_one: bool, best=None
) -> _Budget:
    """The halving rounds that fit the time left once the refit is set aside (with
    ``floor``: at least the base configuration's own refit; with a winner ``best`` found by
    an earlier batch, also its own confirmation and refit, from its measured fit: a slow
    winner costs more than the average trial); ``n_candidates`` 0 when nothing fits, unless
    ``at_least_one``."""
    floor_cost = timing.base_cost if floor else 0.0
    # with the defaults as the bar, a winner is also confirmed (:func:`_confirm`: two fits of
    # the training part, at most ``max(floor, winner)`` each) before the refit
    grow = clock.grow + 2 if floor else clock.grow
    winner = best is not None and not best.get("is_base") and best.get("model") is not None
    held = _winner_reserve(best, clock, floor_cost) if winner else 0.0
    rounds, n, max_epochs = _plan(
        clock.left() - held, timing.t_fixed + timing.t_score, timing.t_epoch, grow, floor_cost
    )
    if at_least_one:
        n = max(n, 1)
    reserve = _SAFETY * grow * max(floor_cost, timing.t_fixed + max_epochs * timing.t_epoch)
    return _Budget(rounds, n, max_epochs, clock.start + clock.budget - max(reserve, held))


def _winner_reserve(best: dict, clock: _Clock, base_cost: float) -> float:
    """Seconds a winner's confirmation (:func:`_confirm`: it and the base configuration on
    the training part) and refit on all the data take, from the winner's own measured fit."""
    winner = float(best["model"].training_summary_["seconds"])
    return _SAFETY * (winner * (clock.grow + 1) + base_cost)


@dataclass
class _Run:
    """What every halving batch of one :func:`autotune` call shares."""

    base: dict[str, Any]
    search_space: dict[str, Any] | None
    data: tuple
    score: Callable
    metric: str
    say: Callable[[str], None]
    random_state: int | None
    multilabel: bool = False


def _halving_batches(run: _Run, timing: _Timing, clock: _Clock, trials, best, *, scored) -> bool:
    """Successive-halving searches one after another until the time left (once the refit is
    set aside) fits no candidate: each is planned with the fit times measured so far and
    draws fresh candidates, so a search that finishes early — the first fit of a process
    is slower than the next ones, the machine's load changes — leaves its time to another
    instead of ending the call early.  ``scored``: the base configuration was trained and
    scored (the bar); without it the first batch trains at least one candidate.  Updates
    ``trials`` and ``best``; returns whether Ctrl-C stopped the search."""
    for batch in range(_MAX_BATCHES):
        plan = _plan_search(
            timing, clock, floor=scored, at_least_one=batch == 0 and not scored, best=best
        )
        if plan.n_candidates == 0:
            break
        # the base configuration at fewer epochs is a candidate of the first batch, unless
        # the defaults were trained and there is room for only one or two candidates
        with_base = batch == 0 and (not scored or plan.n_candidates >= _FACTOR)
        seed = None if run.random_state is None else int(run.random_state) + batch
        fixed = [{}] if with_base else []
        candidates = _candidates(run.base, run.search_space, plan.n_candidates, seed, fixed)
        run.say(
            f"autotune: {len(candidates)} candidates, {plan.rounds} rounds of successive "
            f"halving up to {plan.max_epochs} epochs; {timing.t_fixed:.2f} s to vectorise, "
            f"{timing.t_epoch:.2f} s per epoch, {clock.left():.0f} s left"
        )
        done = len(trials)
        stopped = _search(run, candidates, plan, trials, best)
        for row in trials[done:]:
            row["batch"] = batch + 1
        if stopped:
            return True
        if len(trials) == done:
            break
        timing = _measured(timing, trials[done:])
    return False


def _try_recipes(run: _Run, timing: _Timing, clock: _Clock, trials, best) -> bool:
    """Train each of :func:`_recipes` at the base configuration's epochs, as the baseline
    is, when that and the refit and confirmation after it fit the time left; each competes
    with the defaults' bar like any candidate (round ``'recipe'``).  They are not halving
    candidates: one-vs-all with plain SGD starts slowly and its first-round score (one
    epoch) would eliminate it.  Returns whether Ctrl-C stopped it."""
    X_tr, y_tr, X_va, y_va = run.data
    for recipe in _recipes(run):
        params = {**run.base, **recipe, "epochs": timing.epochs}
        # a fit of small batches counted as 2 of the defaults' (it costs more); then the refit
        # and the confirmation of the winner
        needed = _SAFETY * timing.base_cost * (2 + clock.grow + 2)
        if needed > clock.left():
            break
        deadline = clock.start + clock.budget - _SAFETY * timing.base_cost * (clock.grow + 2)

        def stop(info: dict[str, Any], deadline: float = deadline) -> None:
            if time.perf_counter() > deadline:
                raise _OutOfTime("time budget reached")

        scorer = _recording_scorer(run.score, run.metric, run.say, run.base, [recipe], trials, best)
        try:
            model = TextClassifier(**params).fit(X_tr, y_tr, callback=stop)
        except KeyboardInterrupt:
            return True
        except (_OutOfTime, FloatingPointError, ValueError):  # out of time, or diverged
            continue
        scorer(model, X_va, y_va)
        trials[-1]["round"] = "recipe"
    return False


def _recipes(run: _Run) -> list[dict[str, Any]]:
    """Configurations tried besides the base configuration and the search's candidates:
    for multi-label data with the default search space, the one-vs-all configuration of
    ``bench/RESULTS.md`` (independent sigmoids, ``l2`` inputs, small batches), which the
    softmax-centred space does not reach."""
    if not run.multilabel or run.search_space is not None:
        return []
    recipe = dict(MULTILABEL_RECIPE)
    return [] if all(run.base.get(k) == v for k, v in recipe.items()) else [recipe]


def _measured(timing: _Timing, rows: list[dict[str, Any]]) -> _Timing:
    """``timing`` with the fixed and per-epoch times of a fit re-estimated from trials (a
    least-squares line through their seconds against their epochs)."""
    rows = [r for r in rows if np.isfinite(r["score"])]
    if len(rows) < 3:
        return timing
    epochs = np.array([r["epochs"] for r in rows], dtype=float)
    seconds = np.array([r["seconds"] for r in rows], dtype=float)
    if np.unique(epochs).size >= 2:
        t_epoch, t_fixed = np.polyfit(epochs, seconds, 1)
    else:
        t_epoch = timing.t_epoch
        t_fixed = seconds.mean() - t_epoch * epochs.mean()
    return _Timing(max(float(t_fixed), 1e-3), max(float(t_epoch), 1e-4), timing.t_score,
                   timing.epochs)  # fmt: skip


def _candidates(
    base, search_space, n_candidates: int, random_state, fixed: Sequence[dict] = ({},)
) -> list[dict[str, Any]]:
    """The ``fixed`` candidates (``{}``: the base configuration) then draws from the space:
    ``n_candidates`` in all, at least one drawn unless the fixed ones fill them."""
    rng_seed = None if random_state is None else int(random_state)
    space = dict(search_space if search_space is not None else SEARCH_SPACE)
    lr0 = base.get("lr", TextClassifier().lr)
    lr0 = BASE_LR if lr0 == "auto" else float(lr0)  # 'auto' resolves to 0.25 or 0.35: inside
    space.setdefault("lr", loguniform(lr0 / 5, lr0 * 5))
    fixed = [dict(c) for c in fixed][: max(n_candidates, 1)]
    n_drawn = max(n_candidates - len(fixed), 0 if fixed else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a finite space smaller than n_drawn: all of it
        sampler = ParameterSampler(space, n_drawn, random_state=rng_seed)
        drawn = [_rounded(c) for c in sampler]
    return fixed + drawn


def _recording_scorer(score, metric, say, base, candidates, trials, best) -> Callable:
    """A search scorer that also records each trial and keeps the best model in ``best``."""
    defaults = TextClassifier(**base).get_params()
    varied = _varied(candidates)

    def trial_scorer(estimator: TextClassifier, Xs, ys) -> float:
        value = score(estimator, Xs, ys)
        est_params = estimator.get_params()
        row = {
            "round": None,
            "epochs": int(est_params["epochs"]),
            "score": float(value),
            "seconds": float(estimator.training_summary_["seconds"]),
            "params": {key: est_params[key] for key in varied},
        }
        trials.append(row)
        say(
            f"  trial {len(trials):3d}: {metric} {value:.4f}  epochs {row['epochs']:3d}  "
            f"{row['params']}"
        )
        if value > max(best["score"], best.get("bar", -np.inf)):
            changed = {key: est_params[key] for key in varied if est_params[key] != defaults[key]}
            best.update(score=value, model=estimator, params=changed, epochs=row["epochs"])
            best["is_base"] = False
        return value

    return trial_scorer


def _search(run: _Run, candidates, plan: _Budget, trials, best) -> bool:
    """One halving search over ``candidates`` until ``plan.deadline``, appending to
    ``trials`` and updating ``best`` (a candidate replaces the base configuration only by
    clearing its bar, see :func:`_baseline`); returns whether Ctrl-C stopped it."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, PredefinedSplit

    X_tr, y_tr, X_va, y_va = run.data
    cv = PredefinedSplit(np.r_[np.full(len(X_tr), -1), np.zeros(len(X_va), dtype=int)])
    grid = [{key: [value] for key, value in c.items()} for c in candidates]
    done = len(trials)
    trial_scorer = _recording_scorer(
        run.score, run.metric, run.say, run.base, candidates, trials, best
    )

    def deadline_cb(info: dict[str, Any]) -> None:
        if time.perf_counter() > plan.deadline:
            raise _OutOfTime("time budget reached")

    search = HalvingGridSearchCV(
        TextClassifier(**run.base),
        grid,
        factor=_FACTOR,
        resource="epochs",
        min_resources=max(1, plan.max_epochs // _FACTOR ** (plan.rounds - 1)),
        max_resources=plan.max_epochs,
        aggressive_elimination=False,
        cv=cv,
        scoring=trial_scorer,
        refit=False,
        error_score=np.nan,
        return_train_score=False,  # the scorer records validation trials only
        n_jobs=1,
    )
    interrupted = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X_tr + X_va, y_tr + y_va, callback=deadline_cb)
    except KeyboardInterrupt:
        interrupted = True
    except ValueError as exc:  # every fit of a round stopped by the deadline
        if "fits failed" not in str(exc):
            raise
    if hasattr(search, "n_resources_"):
        _number_rounds(trials[done:], search)
    return interrupted


def _confirm(run: _Run, best, defaults, all_data, fraction: float, trials) -> tuple:
    """The winner and the base configuration trained on a second split of all the data
    (another seed) and scored on its validation part: the winner stays only if it beats the
    base configuration there too by one standard error (:func:`_bar`), else the base
    configuration is the answer.  The winner of many
    candidates on one validation split overestimates its score (it is also the luckiest);
    the second split is an estimate free of that selection.  Both rows are added to
    ``trials`` (round ``'confirm'``).  Returns ``(best, interrupted)``."""
    X, y = all_data
    seed = 1 if run.random_state is None else int(run.random_state) + 1
    X_tr, X_va, y_tr, y_va = _split(X, y, fraction, seed, _is_multilabel(y))
    scores = []
    for params in ({}, {**best["params"], "epochs": best["epochs"]}):
        try:
            model = TextClassifier(**{**run.base, **params}).fit(X_tr, y_tr)
        except KeyboardInterrupt:
            return best, True
        value = float(run.score(model, X_va, y_va))
        scores.append(value)
        trials.append({"round": "confirm", "epochs": int(model.classifier_.n_iter_),
                       "score": value, "seconds": float(model.training_summary_["seconds"]),
                       "params": dict(best["params"]) if params else {}})  # fmt: skip
    kept = scores[1] > _bar(scores[0], len(X_va))
    run.say(
        f"  second split: {run.metric} {scores[1]:.4f} for the winner, {scores[0]:.4f} for the "
        f"defaults: {'the winner stays' if kept else 'the defaults are the answer'}"
    )
    return (best if kept else defaults), False


def _refit_winner(base, best, X, y, interrupted: bool, clock: _Clock) -> tuple:
    """Refit the winner on all the data ``(X, y)`` — the documents in the order they were
    given, when the validation data was split from them — unless interrupted, or unless its
    refit (estimated from its trial) would overrun the budget by more than 5 %:
    ``(model, refitted, interrupted)``.  Without a trained model (nothing finished in
    time) the winner is the base configuration at one epoch, refitted whatever the time.

    When the base configuration wins it is refitted as it is, with its own ``epochs``
    (``'auto'`` resolves them from all the data, and an early-overfitting probe decides
    them again on it): the answer is then exactly the model a plain fit would give, not its
    passes on the training part fixed; ``best['epochs']`` becomes the refit's."""
    model = best["model"]
    if interrupted:
        return model, False, True
    if model is not None and not best.get("is_base"):  # the defaults' refit was planned
        cost = _SAFETY * clock.grow * float(model.training_summary_["seconds"])
        if cost > clock.left() + 0.05 * clock.budget:
            return model, False, False
    try:
        if best.get("is_base"):
            winner = TextClassifier(**base).fit(X, y)
            best["epochs"] = int(winner.classifier_.n_iter_)
            return winner, True, False
        winner = TextClassifier(**{**base, **best["params"], "epochs": best["epochs"]})
        return winner.fit(X, y), True, False
    except KeyboardInterrupt:
        if model is None:
            raise
        return model, False, True


def _result(model, best, trials, interrupted, refitted, metric, k, budget, start, refit_start):
    """Assemble the :class:`AutotuneResult` (``start``, ``refit_start``: ``perf_counter`` at
    the call's start and the refit's), recording its summary in the model's."""
    result = AutotuneResult(
        model=model,
        best_params={**best["params"], "epochs": best["epochs"]},
        best_score=float(best["score"]),
        metric=f"p@{k}" if metric == "p@k" else metric,
        trials=trials,
        budget=budget,
        interrupted=interrupted,
        refitted=refitted,
    )
    end = time.perf_counter()
    result.seconds = end - start
    result.refit_seconds = end - refit_start if refitted else 0.0
    # the choice travels with the model (model files keep the training summary)
    summary = getattr(model, "training_summary_", None)
    if isinstance(summary, dict):
        summary["autotune"] = result.summary()
    return result


def trials_table(result: AutotuneResult, limit: int | None = 20) -> str:
    """The trials as a plain-text table, best first (``limit`` rows; ``None``: all)."""
    return format_trials(result.trials, result.metric, limit)


def check_options(time_budget: str | float, metric: str) -> None:
    """Raise ``ValueError`` (one line) for a budget or metric :func:`autotune` refuses."""
    _checked(time_budget, metric, 1)


# ---------------------------------------------------------------------- helpers
def _checked(time_budget, metric: str, k: int) -> tuple[float, str, int]:
    """``(seconds, metric, k)``; ``'p@5'`` is ``('p@k', 5)``."""
    budget = parse_duration(time_budget)
    match = re.fullmatch(r"p@(\d+)", str(metric))
    if match:
        metric, k = "p@k", int(match.group(1))
    if metric not in METRICS:
        raise ValueError(
            f"metric must be accuracy, macro-f1, micro-f1 or p@K (e.g. p@1), got {metric!r}"
        )
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return budget, metric, k


def _bar(score: float, m: int) -> float:
    """``s + √(s(1−s)/m)``: a score ``s`` on ``m`` validation documents plus one standard
    error (of a proportion)."""
    return score + math.sqrt(max(score * (1.0 - score), 0.0) / max(m, 1))


def _n_classes(y: list) -> int:
    """Distinct labels of ``y`` (single- or multi-label): ``epochs='auto'`` depends on it."""
    flat = [label for labels in y for label in labels] if _is_multilabel(y) else y
    return len(np.unique(np.asarray(flat, dtype=object).astype(str)))


def _is_multilabel(y: list) -> bool:
    return bool(y) and not isinstance(y[0], (str, bytes)) and isinstance(y[0], Sequence)


def _split(X, y, fraction, random_state, multilabel):
    """``(X_tr, X_va, y_tr, y_va)``: the split every validation fraction gets
    (:func:`~bowclf.training.split_validation`, as ``fit --valid-fraction`` and early
    stopping: stratified, no held-out label unseen in training)."""
    too_few = ValueError(
        f"{len(y)} documents are too few to hold out {fraction:g} of them for the search's "
        "validation and still train on two classes: use more data or a validation file"
    )
    try:
        tr, va = split_validation(y, fraction, seed_from(random_state), multilabel=multilabel)
    except ValueError:  # no validation document left
        raise too_few from None
    y_tr = [y[i] for i in tr]
    if not multilabel and len({str(v) for v in y_tr}) < 2:
        raise too_few
    return [X[i] for i in tr], [X[i] for i in va], y_tr, [y[i] for i in va]


def _plan(
    remaining: float, t_fixed: float, t_epoch: float, grow: float, floor: float = 0.0
) -> tuple[int, int, int]:
    """``(rounds, candidates, max_epochs)`` whose halving rounds and refit fit ``remaining``.

    Round ``i`` trains ``n/3^i`` candidates for ``e·3^(i−R+1)`` epochs (``e``: the last
    round's epochs), each costing ``t_fixed + epochs·t_epoch``; the refit costs
    ``grow·max(floor, t_fixed + e·t_epoch)`` (with a margin).  The most rounds (up to 4) and
    epochs (up to 27) that still leave room for ``3^(R−1)`` candidates win (at most
    ``_MAX_CANDIDATES`` of them); ``(1, 0, 3)``
    when not even one candidate fits.
    """
    for rounds in (4, 3, 2, 1):
        for max_epochs in (_MAX_EPOCHS, 9, 3):
            if max_epochs < _FACTOR ** (rounds - 1):
                continue
            refit = _SAFETY * grow * max(floor, t_fixed + max_epochs * t_epoch)
            per_candidate = sum(
                (t_fixed + max_epochs / _FACTOR ** (rounds - 1 - i) * t_epoch) / _FACTOR**i
                for i in range(rounds)
            )
            n = int((remaining - refit) / (_SAFETY * per_candidate))
            if n >= _FACTOR ** (rounds - 1):
                return rounds, min(n, _MAX_CANDIDATES), max_epochs
    return 1, 0, 3


def _rounded(candidate: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(f"{v:.3g}") if isinstance(v, float) else v) for k, v in candidate.items()}


def _varied(candidates: list[dict[str, Any]]) -> list[str]:
    return sorted({key for c in candidates for key in c})


def _number_rounds(trials: list[dict[str, Any]], search) -> None:
    """Label each trial with its halving round (from the search's ``n_resources_``)."""
    by_epochs = {int(r): i for i, r in enumerate(search.n_resources_)}
    for row in trials:
        row["round"] = by_epochs.get(row["epochs"])


def _scorer(metric: str, k: int) -> Callable[[TextClassifier, Sequence[str], Sequence], float]:
    """``score(model, X, y)`` for ``metric`` (single- or multi-label ``y``).  No documents ×
    classes array is built: multi-label truths and predictions are sparse indicators, and
    ``p@k`` reads the model's own ``k`` best labels (:meth:`TextClassifier.predict_topk`)."""

    def score(model: TextClassifier, X, y) -> float:
        if metric == "p@k":
            return _precision_at_k(model, X, y, k)
        if model.multilabel_:  # over the union of gold and predicted labels, as evaluate
            gold, predicted = [tuple(labels) for labels in y], list(model.predict(X))
            mlb = MultiLabelBinarizer(sparse_output=True).fit(gold + predicted)
            Y, pred = mlb.transform(gold), mlb.transform(predicted)
            if metric == "accuracy":
                return float(accuracy_score(Y, pred))
            return float(f1_score(Y, pred, average=metric.split("-")[0], zero_division=0))
        pred = model.predict(X)
        if metric == "accuracy":
            return float(accuracy_score(y, pred))
        return float(
            f1_score(
                np.asarray(y, dtype=object).astype(str),
                np.asarray(pred, dtype=object).astype(str),
                average=metric.split("-")[0],
                zero_division=0,
            )
        )

    return score


def _precision_at_k(model: TextClassifier, X, y, k: int) -> float:
    """``P@k`` as ``bowclf evaluate`` reports it (fastText's ``test``): the share of the
    ``min(k, c)`` best-ranked labels of each document that are true labels, over the
    documents with a gold label (a multi-label document without one is skipped); for
    single-label data the share of documents whose label is among their best, divided by
    ``min(k, c)``."""
    kk = min(k, len(model.classes_))
    ranked = model.predict_topk(X, k=kk)
    if model.multilabel_:
        scored = [(set(labels), best) for labels, best in zip(y, ranked, strict=True) if labels]
        hits = sum(len(gold & {label for label, _ in best}) for gold, best in scored)
        return float(hits / (kk * len(scored))) if scored else 0.0
    hits = sum(
        any(label == truth for label, _ in best)
        for truth, best in zip(np.asarray(y).tolist(), ranked, strict=True)
    )
    return float(hits / (kk * len(ranked))) if ranked else 0.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
