"""The autotune trial table (fit --autotune, info) and the trials a model file keeps."""

from __future__ import annotations

import json
import math

from bowclf.autotune_trials import (
    STORED_TRIALS,
    best_first,
    describe_choice,
    format_trials,
    stored_trials,
)


def _trial(score, epochs=1, rnd=0, batch=1, **params):
    return {"round": rnd, "batch": batch, "epochs": epochs, "score": score, "seconds": 0.5,
            "params": params}  # fmt: skip


def test_best_first_puts_unscored_trials_last_and_more_epochs_first_among_equals():
    rows = [_trial(math.nan), _trial(0.5, 1), _trial(0.7), _trial(0.5, 3)]
    assert [(t["score"], t["epochs"]) for t in best_first(rows)[:3]] == [
        (0.7, 1), (0.5, 3), (0.5, 1),
    ]  # fmt: skip
    assert math.isnan(best_first(rows)[-1]["score"])


def test_one_search_has_no_batch_column_and_several_have_one():
    one = format_trials([_trial(0.8, dim=50), _trial(0.6, dim=25)], "accuracy").splitlines()
    assert one[0].split() == ["round", "epochs", "accuracy", "dim"]
    assert one[1].split() == ["0", "1", "0.8000", "50"]
    rows = [_trial(0.8, batch=1), _trial(0.9, rnd=0, batch=2, dim=25)]
    rows.append({"round": "defaults", "epochs": 4, "score": 0.85, "params": {}})
    table = format_trials(rows, "macro-f1").splitlines()
    assert table[0].split() == ["batch", "round", "epochs", "macro-f1", "dim"]
    assert table[1].split() == ["2", "0", "1", "0.9000", "25"]
    assert table[2].split() == ["defaults", "4", "0.8500"]  # no batch: a blank cell
    assert table[2].index("defaults") > len("batch")  # in the round column


def test_limit_and_total_say_how_many_more_trials_there_were():
    rows = [_trial(i / 10) for i in range(5)]
    table = format_trials(rows, "accuracy", limit=2).splitlines()
    assert len(table) == 4 and table[-1] == "... 3 more trials"
    stored = format_trials(rows[:2], "accuracy", limit=None, total=40).splitlines()
    assert stored[-1] == "... 38 more trials"
    assert format_trials([_trial(math.nan)], "accuracy").splitlines()[1].split()[2] == "-"


def test_stored_trials_are_the_best_few_json_rows_without_wall_clock():
    import numpy as np

    rows = [_trial(float(s), lr=np.float64(0.1) * s, ngrams=np.int64(2)) for s in range(25)]
    rows.append(_trial(math.nan))
    kept = stored_trials(rows)
    assert len(kept) == STORED_TRIALS
    assert [t["score"] for t in kept] == [float(s) for s in range(24, 24 - STORED_TRIALS, -1)]
    assert all("seconds" not in t for t in kept)
    assert json.loads(json.dumps(kept, allow_nan=False)) == kept
    assert type(kept[0]["params"]["ngrams"]) is int
    assert stored_trials([_trial(math.inf)])[0]["score"] is None


def test_describe_choice():
    assert describe_choice({"epochs": 4}) == "the defaults at 4 epochs"
    assert describe_choice({"ngrams": 3, "dim": 50, "epochs": 1}) == "dim=50, ngrams=3 at 1 epoch"
