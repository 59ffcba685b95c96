"""bowclf.autotune: successive halving within a time budget."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from bowclf import TextClassifier, load
from bowclf.autotune import MULTILABEL_RECIPE, _plan, autotune, parse_duration, trials_table
from bowclf.autotune_trials import describe_choice


def _corpus(n=300, seed=0):
    rng = np.random.default_rng(seed)
    words = {
        "pos": ["great", "good", "fine", "lovely", "superb"],
        "neg": ["bad", "awful", "poor", "boring", "dull"],
    }
    noise = [f"w{i}" for i in range(60)]
    X, y = [], []
    for _ in range(n):
        label = "pos" if rng.random() < 0.5 else "neg"
        doc = list(rng.choice(noise, 6)) + [str(rng.choice(words[label]))]
        if rng.random() < 0.1:
            label = "neg" if label == "pos" else "pos"
        X.append(" ".join(rng.permutation(doc)))
        y.append(label)
    return X, y


def _column(table: list[str], name: str, row: int) -> float:
    """The number in column ``name`` of a right-aligned table's ``row`` (blank cells, e.g. the
    defaults' batch, would shift a plain split)."""
    end = table[0].index(name) + len(name)
    return float(table[row][:end].split()[-1])


def test_autotune_keeps_a_5_second_budget_and_returns_a_fitted_model():
    X, y = _corpus()
    t0 = time.perf_counter()
    result = autotune(X, y, time_budget=5, random_state=0)
    elapsed = time.perf_counter() - t0
    assert elapsed <= 5.5
    # halving batches follow one another until the time left fits no candidate
    assert elapsed >= 3.0
    assert result.seconds <= 5.5
    assert result.refitted and not result.interrupted
    assert isinstance(result.model, TextClassifier)
    assert len(result.model.predict(["great film", "awful film"])) == 2
    assert result.trials, "at least one candidate was trained"
    searched = [t for t in result.trials if t["round"] != "confirm"]  # not the second split
    top = max(t["score"] for t in searched)
    bar = result.trials[0]  # the defaults: the winner unless a candidate clears their bar
    assert result.best_score == top or (
        bar["round"] == "defaults" and result.best_score == bar["score"] < top
    )
    assert result.best_params["epochs"] >= 1
    # the refit used the winner's parameters, on training + validation data, and trained the
    # passes best_params reports (winning defaults keep epochs='auto': they are refitted as is)
    assert result.model.training_summary_["documents"] == len(X)
    assert result.model.classifier_.n_iter_ == result.best_params["epochs"]
    params = result.model.get_params()
    if params["epochs"] == "auto":
        assert list(result.best_params) == ["epochs"]
    for key, value in result.best_params.items():
        assert params[key] == value or (key, params[key]) == ("epochs", "auto")
    summary = result.summary()
    assert summary["metric"] == "accuracy" and summary["trials"] == len(result.trials)
    table = trials_table(result, limit=None).splitlines()
    head = table[0].split()  # a "batch" column first when several halving searches ran
    assert head[head.index("round") :][:3] == ["round", "epochs", "accuracy"]
    assert len(table) == 1 + len(result.trials)
    top_row = max(t["score"] for t in result.trials)
    assert _column(table, "accuracy", 1) == pytest.approx(top_row, abs=1e-4)


def test_autotune_first_candidate_is_the_base_configuration():
    X, y = _corpus(200)
    Xv, yv = _corpus(100, seed=1)
    result = autotune(X, y, X_valid=Xv, y_valid=yv, time_budget=4, metric="macro-f1")
    first = next(t for t in result.trials if t["round"] != "defaults")  # the search's first
    assert first["round"] == 0
    defaults = TextClassifier().get_params()
    assert all(first["params"][k] == defaults[k] for k in first["params"] if k != "lr") or (
        first["params"].get("lr") == defaults["lr"]
    )
    assert 0.0 <= result.best_score <= 1.0


@pytest.mark.parametrize("metric", ["accuracy", "micro-f1", "p@k"])
def test_autotune_metrics(metric):
    X, y = _corpus(150)
    result = autotune(X, y, time_budget=3, metric=metric, k=1, valid_fraction=0.3)
    assert 0.0 <= result.best_score <= 1.0
    assert result.metric == ("p@1" if metric == "p@k" else metric)


def test_autotune_multilabel_p_at_k():
    X, y = _corpus(200)
    y = [(label, "any") if i % 3 else (label,) for i, label in enumerate(y)]
    result = autotune(X, y, time_budget=3, metric="p@k", k=2)
    assert result.model.multilabel_
    # the one-vs-all configuration is trained at the defaults' epochs, like the defaults
    tried = [t for t in result.trials if t["round"] == "recipe"]
    assert len(tried) == 1 and tried[0]["epochs"] == result.trials[0]["epochs"]
    assert all(tried[0]["params"][k] == v for k, v in MULTILABEL_RECIPE.items())
    assert 0.0 <= result.best_score <= 1.0


def test_autotune_rejects_bad_arguments():
    X, y = _corpus(50)
    with pytest.raises(ValueError, match="metric"):
        autotune(X, y, metric="auc")
    with pytest.raises(ValueError, match="valid_fraction"):
        autotune(X, y, valid_fraction=1.5)
    with pytest.raises(ValueError, match="duration"):
        autotune(X, y, time_budget="soon")


def test_a_given_number_of_epochs_is_the_base_configurations():
    X, y = _corpus(300)
    result = autotune(X, y, time_budget=3, params={"epochs": 2}, search_space={"lr": [1e-6]})
    assert result.trials[0]["round"] == "defaults" and result.trials[0]["epochs"] == 2
    assert result.best_params == {"epochs": 2} and result.model.classifier_.n_iter_ == 2


def test_one_class_is_named_before_any_split():
    with pytest.raises(ValueError, match="only one class"):
        autotune([f"doc {i}" for i in range(50)], ["a"] * 50, time_budget=2)


def test_cli_autotune_options_need_autotune(tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli as main

    X, y = _corpus(50)
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\n" + "".join(f"{b},{a}\n" for a, b in zip(X, y, strict=True)))
    for args in (["--autotune-time", "5s"], ["--autotune-metric", "macro-f1"]):
        res = CliRunner().invoke(main, ["fit", str(corpus), *args])
        assert res.exit_code == 2 and "is for --autotune" in res.stderr


def test_a_corpus_too_small_to_split_says_so():
    with pytest.raises(ValueError, match="2 documents are too few to hold out 0.1"):
        autotune(["hello there", "bye now"], ["a", "b"], time_budget=2)


def test_autotune_ctrl_c_keeps_the_best_model_so_far(monkeypatch):
    X, y = _corpus(200)
    calls = {"n": 0}
    real_fit = TextClassifier.fit

    def fit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the defaults, then two trials, then Ctrl-C
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit", fit)
    result = autotune(X, y, time_budget=30)
    assert result.interrupted and not result.refitted
    assert [t["round"] for t in result.trials] == ["defaults", 0, 0]
    assert result.best_score in [t["score"] for t in result.trials]
    assert result.best_score >= result.trials[0]["score"]
    assert len(result.model.predict(["great"])) == 1
    assert result.model.training_summary_["documents"] < len(X)  # trained on the split


def test_ctrl_c_before_any_model_is_trained_propagates(monkeypatch):
    X, y = _corpus(100)

    def fit(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(TextClassifier, "fit", fit)
    with pytest.raises(KeyboardInterrupt):
        autotune(X, y, time_budget=30)


def test_parse_duration():
    assert parse_duration("90") == 90
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration(2.5) == 2.5
    for bad in ("", "5x", "-1", "0"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_plan_fits_the_budget():
    rounds, n, epochs = _plan(remaining=60, t_fixed=1.0, t_epoch=0.2, grow=1.1)
    cost = sum(
        n / 3**i * (1.0 + epochs / 3 ** (rounds - 1 - i) * 0.2) for i in range(rounds)
    ) + 1.1 * (1.0 + epochs * 0.2)
    assert n >= 3 ** (rounds - 1) and cost <= 60
    assert _plan(remaining=0.1, t_fixed=1.0, t_epoch=1.0, grow=1.0) == (1, 0, 3)
    # the refit set aside is at least ``floor`` (the base configuration's own fit)
    assert _plan(remaining=60, t_fixed=1.0, t_epoch=0.2, grow=1.1, floor=50.0)[1] == 0
    r2, n2, e2 = _plan(remaining=60, t_fixed=1.0, t_epoch=0.2, grow=1.1, floor=20.0)
    cost2 = sum(n2 / 3**i * (1.0 + e2 / 3 ** (r2 - 1 - i) * 0.2) for i in range(r2))
    assert n2 >= 3 ** (r2 - 1) and cost2 + 1.1 * max(20.0, 1.0 + e2 * 0.2) <= 60


def test_cli_fit_autotune_writes_the_tuned_model_and_info_shows_it(tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli as main

    X, y = _corpus(200)
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\n" + "".join(f"{b},{a}\n" for a, b in zip(X, y, strict=True)))
    model = tmp_path / "m.bowclf"
    runner = CliRunner()
    t0 = time.perf_counter()
    res = runner.invoke(
        main,
        ["fit", str(corpus), "-o", str(model), "--autotune", "--autotune-time", "4s",
         "--autotune-metric", "p@1", "--valid-fraction", "0.2"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert time.perf_counter() - t0 < 8
    assert "Chosen" in res.output and "p@1" in res.output
    info = runner.invoke(main, ["info", str(model)])
    assert info.exit_code == 0, info.output
    tuned = load(model).training_summary_["autotune"]  # what the file keeps, as info shows it
    line = next(s for s in info.output.splitlines() if s.startswith("Autotune:"))
    assert f"validation p@1 {tuned['best_score']:.4f}" in line
    assert f"{tuned['trials']:,} trials" in line and "{" not in line  # no raw dict
    best = tuned["best_trials"]
    assert 1 <= len(best) <= min(10, tuned["trials"])
    assert [t["score"] for t in best] == sorted((t["score"] for t in best), reverse=True)
    assert all(set(t) == {"round", "batch", "epochs", "score", "params"} for t in best)
    table = info.output.split(f"Best trials (of {tuned['trials']:,}):\n", 1)[1].splitlines()
    head = table[0].split()
    assert head[head.index("round") + 1 : head.index("round") + 3] == ["epochs", "p@1"]
    assert _column(table, "p@1", 1) == pytest.approx(best[0]["score"], abs=1e-4)
    bad = runner.invoke(main, ["fit", str(corpus), "--autotune", "--autotune-metric", "auc"])
    assert bad.exit_code == 2 and "p@K" in bad.output


@pytest.mark.parametrize("signal", ["ctrl-c", "sigterm"])
def test_cli_fit_autotune_interrupted_writes_the_best_model_and_exits_non_zero(
    tmp_path, monkeypatch, signal
):
    """The model so far is written (the issue asks for it), but the exit code says the run
    was cut short, so that `bowclf fit --autotune … && deploy` does not deploy it."""
    from click.testing import CliRunner

    from bowclf.cli import app
    from bowclf.cli import cli as main

    X, y = _corpus(200)
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\n" + "".join(f"{b},{a}\n" for a, b in zip(X, y, strict=True)))
    calls = {"n": 0}
    real_fit = TextClassifier.fit

    def fit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the defaults, two trials, then the interruption
            if signal == "sigterm":
                app._on_sigterm(15, None)
            raise KeyboardInterrupt
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit", fit)
    model = tmp_path / "m.bowclf"
    res = CliRunner().invoke(
        main, ["fit", str(corpus), "-o", str(model), "--autotune", "--autotune-time", "30s"]
    )
    assert res.exit_code == (143 if signal == "sigterm" else 130), res.output
    word = "terminated" if signal == "sigterm" else "interrupted"
    assert f"bowclf: {word}: the best model trained so far was written to" in res.stderr
    assert load(model).training_summary_["documents"] < len(X)  # a trial's model


def test_the_defaults_at_their_own_epochs_are_the_bar_every_candidate_must_beat():
    """A short search stops its candidates at a few epochs; the base configuration is also
    trained as it would be without a search, and wins unless a candidate scores higher."""
    X, y = _corpus(400)
    Xv, yv = _corpus(150, seed=2)
    # every drawn candidate has a learning rate far too small to learn anything
    result = autotune(
        X, y, X_valid=Xv, y_valid=yv, time_budget=8, search_space={"lr": [1e-6]}, random_state=0
    )
    first = result.trials[0]
    assert first["round"] == "defaults" and first["params"] == {}
    defaults = TextClassifier(random_state=0).fit(X, y)
    assert first["epochs"] == defaults.classifier_.n_iter_
    assert first["score"] == pytest.approx(defaults.score(Xv, yv))
    starved = [t["score"] for t in result.trials if t["params"].get("lr") == 1e-6]
    assert starved and max(starved) < first["score"]  # the starved candidates never win
    assert result.best_score == max(t["score"] for t in result.trials) >= first["score"]
    assert result.model.get_params()["lr"] == TextClassifier().lr
    # given validation data only scores: the winning defaults are the plain fit of (X, y)
    assert result.refitted and result.model.training_summary_["documents"] == len(X)
    assert result.model.predict_proba(Xv).tobytes() == defaults.predict_proba(Xv).tobytes()


def test_the_refit_trains_on_the_documents_in_their_given_order():
    """With the validation split from the data, the winner is refitted on the documents in
    their given order: the same model as fitting its parameters directly."""
    X, y = _corpus(400, seed=3)
    result = autotune(X, y, time_budget=6, search_space={"lr": [1e-6]}, random_state=0)
    assert result.refitted
    params = {"random_state": 0, **result.best_params}
    direct = TextClassifier(**params).fit(X, y)
    assert result.model.predict_proba(X).tobytes() == direct.predict_proba(X).tobytes()


def test_a_candidate_must_clear_the_bar_of_the_defaults():
    """Above the defaults' validation score but below their bar (one standard error more) a
    candidate does not win; above the bar it does."""
    from bowclf.autotune import _recording_scorer

    X, y = _corpus(60)
    est = TextClassifier(epochs=1, lr=0.5, random_state=0).fit(X, y)
    trials: list = []
    best = {"score": 0.80, "bar": 0.85, "model": None, "params": {}, "epochs": 10}
    values = iter([0.84, 0.86])
    scorer = _recording_scorer(
        lambda *_: next(values), "accuracy", lambda _m: None, {"random_state": 0},
        [{}, {"lr": 0.5}], trials, best,
    )  # fmt: skip
    assert scorer(est, X, y) == 0.84
    assert best["model"] is None and best["score"] == 0.80 and best["epochs"] == 10
    assert scorer(est, X, y) == 0.86
    assert best["model"] is est and best["score"] == 0.86
    assert best["params"] == {"lr": 0.5} and best["epochs"] == 1
    assert [t["score"] for t in trials] == [0.84, 0.86]


def _slow_fits(monkeypatch, seconds: float) -> None:
    """Every fit takes ``seconds`` more, as on a corpus whose fits fill the budget."""
    real_fit = TextClassifier.fit

    def fit(self, *args, **kwargs):
        time.sleep(seconds)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit", fit)


def test_defaults_taking_a_third_of_the_budget_still_are_the_bar(monkeypatch):
    """When the base configuration's fit takes a large share of the budget it is still
    trained first and refitted when nothing beats it: the answer is then exactly the model
    of a plain fit, and the budget is kept."""
    X, y = _corpus(300, seed=4)
    _slow_fits(monkeypatch, 0.5)
    t0 = time.perf_counter()
    result = autotune(X, y, time_budget=2.0, search_space={"lr": [1e-6]}, random_state=0)
    assert time.perf_counter() - t0 <= 2.2
    assert result.trials[0]["round"] == "defaults"
    assert result.refitted and result.best_params == {"epochs": result.trials[0]["epochs"]}
    direct = TextClassifier(random_state=0).fit(X, y)
    assert result.model.predict_proba(X).tobytes() == direct.predict_proba(X).tobytes()


def test_winning_defaults_are_refitted_as_a_plain_fit_probe_included():
    """When the defaults win on a corpus the early-overfitting probe decides on (two classes,
    2,400 documents: it starts over with 7 passes), the answer is refitted with
    ``epochs='auto'``, so the probe decides again on all the data: the plain fit's model bit
    for bit, not the training part's passes fixed (which would skip the probe)."""
    from conftest import make_two_class_texts

    X, y = make_two_class_texts(2400, seed=0, flip=0.0)
    result = autotune(X, y, time_budget=8, search_space={"lr": [1e-6]}, random_state=0)
    direct = TextClassifier(random_state=0).fit(X, y)
    assert result.refitted and direct.classifier_.n_iter_ == 7
    assert result.best_params == {"epochs": 7}
    assert result.model.predict_proba(X).tobytes() == direct.predict_proba(X).tobytes()


def test_a_budget_that_fits_the_defaults_once_returns_them_fitted_on_all_data(monkeypatch):
    """When the first fit shows the base configuration cannot be trained twice but once on
    all the data fits, that fit is the answer (nothing else could be compared with it)."""
    import bowclf.autotune as at

    X, y = _corpus(300, seed=5)
    monkeypatch.setattr(at, "_baseline", lambda *a, **k: (None, at._Timing(0.01, 0.001, 0.001, 10)))
    result = autotune(X, y, time_budget=30, random_state=0)
    assert result.refitted and not result.interrupted
    assert [t["round"] for t in result.trials] == ["defaults"]
    assert np.isnan(result.best_score) and result.summary()["best_score"] is None
    direct = TextClassifier(random_state=0).fit(X, y)
    assert result.model.predict_proba(X).tobytes() == direct.predict_proba(X).tobytes()
    assert "autotune" in result.model.training_summary_


def test_one_or_two_candidates_after_the_defaults_are_drawn_ones():
    """With the defaults already trained, a search of one or two candidates does not spend
    them on the base configuration at fewer epochs."""
    from bowclf.autotune import _candidates

    base = {"random_state": 0}
    assert _candidates(base, None, 5, 0)[0] == {} and len(_candidates(base, None, 5, 0)) == 5
    drawn = _candidates(base, None, 2, 0, fixed=[])
    assert len(drawn) == 2 and all(c and "lr" in c for c in drawn)


def test_the_search_space_draws_every_supervised_weight_and_only_estimator_parameters():
    """Every key of the space is a TextClassifier parameter, and the drawn candidates cover
    the supervised weights' values (0: plain idf)."""
    from bowclf.autotune import SEARCH_SPACE, _candidates

    assert set(SEARCH_SPACE) <= set(TextClassifier().get_params())
    drawn = _candidates({"random_state": 0}, None, 80, 0, fixed=[])
    assert {c["supervised_weight"] for c in drawn} == set(SEARCH_SPACE["supervised_weight"])


def test_fit_times_are_re_estimated_from_the_trials():
    """Each halving batch is planned with a line through the trials' seconds against their
    epochs (the first fit of a process is slower than the next ones)."""
    from bowclf.autotune import _measured, _Timing

    first = _Timing(t_fixed=5.0, t_epoch=2.0, t_score=0.1, epochs=10)
    rows = [{"epochs": e, "seconds": 0.5 + 0.2 * e, "score": 0.8} for e in (1, 1, 3, 9)]
    got = _measured(first, rows + [{"epochs": 27, "seconds": 99.0, "score": float("nan")}])
    assert got.t_fixed == pytest.approx(0.5) and got.t_epoch == pytest.approx(0.2)
    assert (got.t_score, got.epochs) == (0.1, 10)
    assert _measured(first, rows[:2]) is first  # too few trials: kept


@pytest.mark.parametrize("winner_second", [0.70, 0.81, 0.90])
def test_a_winner_must_beat_the_defaults_again_on_a_second_split(winner_second):
    """The winner of the search is trained with the defaults on another split of all the
    data; it stays only if it clears their bar there too (0.80 + √(0.8·0.2/24) ≈ 0.88 on
    the 24 validation documents)."""
    from bowclf.autotune import _confirm, _Run

    X, y = _corpus(120)
    lr0 = TextClassifier().lr  # whatever the defaults are (a number or 'auto')
    other = 0.5 if lr0 != 0.5 else 0.3

    def score(model, *_):
        return 0.80 if model.lr == lr0 else winner_second

    run = _Run({"random_state": 0}, None, None, score, "accuracy", lambda _m: None, 0)
    best = {"score": 0.95, "model": "winner", "params": {"lr": other}, "epochs": 2}
    defaults = {"score": 0.85, "model": "defaults", "params": {}, "epochs": 10, "is_base": True}
    trials: list = []
    got, interrupted = _confirm(run, best, defaults, (X, y), 0.2, trials)
    assert not interrupted
    assert got is (best if winner_second > 0.88 else defaults)
    assert [(t["round"], t["score"], t["params"]) for t in trials] == [
        ("confirm", 0.80, {}),
        ("confirm", winner_second, {"lr": other}),
    ]
    assert trials[1]["epochs"] == 2


@pytest.mark.parametrize("n_classes, expected", [(2, 5), (3, 10)])
def test_the_baseline_plans_with_the_passes_the_fit_makes(n_classes, expected):
    # epochs='auto' makes 5 passes with two classes: the time plan must count those, not 10
    import bowclf.autotune as at

    texts = [f"word{i % n_classes} filler{i % 7} text" for i in range(120)]
    labels = [f"c{i % n_classes}" for i in range(120)]
    data = (texts[:100], labels[:100], texts[100:], labels[100:])
    clock = at._Clock(time.perf_counter(), 60.0, 1.2)
    best, timing = at._baseline({"random_state": 0}, data, lambda m, X, y: m.score(X, y),
                                "accuracy", lambda *_: None, clock)  # fmt: skip
    assert timing.epochs == expected
    assert best["epochs"] == expected


def test_cli_fit_autotune_prints_the_search_and_the_refit_times_the_api_returns(
    tmp_path, monkeypatch
):
    """``Trained … in Xs`` is the refit's time, not the whole search's; the search's time,
    its trials and the refit's time are the :class:`AutotuneResult`'s, printed as given."""
    from click.testing import CliRunner

    from bowclf import autotune as tuning
    from bowclf.cli import cli as main

    returned, real = [], tuning.autotune

    def recording(*args, **kwargs):
        returned.append(real(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(tuning, "autotune", recording)
    X, y = _corpus(200)
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,text\n" + "".join(f"{b},{a}\n" for a, b in zip(X, y, strict=True)))
    args = ["fit", str(corpus), "-o", str(tmp_path / "m.bowclf"), "--autotune",
            "--autotune-time", "3s"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (result,) = returned
    assert result.refitted and 0 < result.refit_seconds < result.seconds
    assert result.search_seconds == pytest.approx(result.seconds - result.refit_seconds)
    assert (
        f"search {result.search_seconds:.1f}s ({len(result.trials)} trials), "
        f"refit {result.refit_seconds:.1f}s: "
    ) in res.stderr
    # The total is the command's wall time against the budget: the search and refit, plus
    # reading the corpus before them (so at least the API's seconds, never less).
    (wall,) = re.findall(r": (\d+\.\d)s of 3s since the command started", res.stderr)
    assert float(wall) >= round(result.seconds, 1) - 0.05
    chosen = f"Chosen: {describe_choice(result.best_params)}; "  # words, not a raw dict
    assert chosen in res.stderr and "{" not in chosen
    trained = [line for line in res.stderr.splitlines() if line.startswith("Trained ")]
    assert len(trained) == 1
    assert f" in {result.refit_seconds:.1f}s (the refit); " in trained[0]
    assert f"Trained {result.model.classifier_.n_iter_} epochs on 200 documents" in trained[0]


def test_autotune_result_times_add_up():
    X, y = _corpus(200)
    result = autotune(X, y, time_budget=3, random_state=0)
    assert result.refitted
    model_fit = float(result.model.training_summary_["seconds"])  # rounded to 1 ms
    assert model_fit <= result.refit_seconds + 5e-4 and result.refit_seconds < result.seconds
    assert result.search_seconds + result.refit_seconds == pytest.approx(result.seconds)


@pytest.mark.parametrize("multilabel", [False, True])
def test_scorers_build_no_documents_by_classes_array(monkeypatch, multilabel):
    """The search's scores read the model's k best labels and sparse indicators: they match
    the dense reference (predict_proba, argsort) without ever calling predict_proba."""
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    from bowclf.autotune import _scorer
    from bowclf.report import compute_report

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    X = [" ".join(rng.choice(words, 6)) for _ in range(200)]
    if multilabel:
        y = [tuple(sorted(set(rng.choice(list("abcde"), 2)))) for _ in range(200)]
    else:
        y = [str(v) for v in rng.integers(0, 6, 200)]
    model = TextClassifier(epochs=3, random_state=0).fit(X, y)
    P = model.predict_proba(X)
    top = np.argsort(-P, axis=1, kind="stable")[:, :3]
    classes = model.classes_.tolist()
    Y = MultiLabelBinarizer(classes=classes).fit_transform(y if multilabel else [[v] for v in y])
    expected = {"p@k": np.take_along_axis(Y, top, axis=1).sum() / (3 * len(X))}
    # the P@3 bowclf evaluate reports on the same documents (it was 3x it, single-label)
    report = compute_report(y, P, classes, multilabel=multilabel, k=3)
    assert expected["p@k"] == pytest.approx(report.top_k[3].precision)
    if multilabel:
        pred = MultiLabelBinarizer(classes=classes).fit_transform(model.predict(X))
        expected["micro-f1"] = f1_score(Y, pred, average="micro", zero_division=0)
        expected["accuracy"] = float((pred == Y).all(axis=1).mean())

    def dense(*args, **kwargs):
        raise AssertionError("predict_proba called")

    monkeypatch.setattr(TextClassifier, "predict_proba", dense)
    for metric, value in expected.items():
        assert _scorer(metric, 3)(model, X, y) == pytest.approx(value)


def test_the_search_splits_its_validation_part_as_fit_does():
    """``--autotune --valid-fraction F`` holds out the documents ``fit --valid-fraction F``
    does (:func:`bowclf.training.split_validation`): stratified, and a held-out document whose
    label no training document has stays in training (it once validated on a class the
    search never trained on)."""
    from bowclf.autotune import _split
    from bowclf.training import split_validation

    X = [f"doc {i}" for i in range(21)]
    y = ["a"] * 10 + ["b"] * 10 + ["rare"]
    X_tr, X_va, y_tr, y_va = _split(X, y, 0.3, 0, False)
    tr, va = split_validation(y, 0.3, 0)
    assert X_tr == [X[i] for i in tr] and X_va == [X[i] for i in va]
    assert "rare" in y_tr and "rare" not in y_va
