"""Which tuning trial wins (no Spark, no XGBoost, no MLflow)."""

from __future__ import annotations

import math

import pytest

from lakeops.train.fit import best_trial

NAN = math.nan


def test_the_highest_auc_wins():
    assert best_trial([0.71, 0.74, 0.73]) == 1


def test_a_tie_keeps_the_earlier_trial():
    # The base parameters come first: a draw must do strictly better to replace them.
    assert best_trial([0.74, 0.74, 0.72]) == 0
    assert best_trial([0.70, 0.74, 0.74]) == 1


def test_a_nan_score_never_wins():
    assert best_trial([NAN, 0.60, NAN]) == 1
    assert best_trial([0.60, NAN, 0.59]) == 0


def test_no_number_at_all_is_none():
    assert best_trial([NAN, NAN]) is None
    assert best_trial([]) is None


def test_minimize_picks_the_lowest():
    assert best_trial([0.31, 0.29, 0.30], direction="minimize") == 1
    assert best_trial([0.29, NAN, 0.29], direction="minimize") == 0
    assert best_trial([NAN, 0.5], direction="minimize") == 1


def test_a_single_trial_wins():
    assert best_trial([0.5]) == 0


def test_an_infinite_score_is_a_number():
    # A logloss can be inf (a confident mistake): a number, and the worst one when minimizing.
    assert best_trial([math.inf, 0.4], direction="minimize") == 1
    assert best_trial([0.4, math.inf], direction="minimize") == 0


def test_a_prefix_agrees_with_the_whole():
    # The pipeline asks after each trial: the winner of a prefix only changes to the newest trial.
    scores = [0.70, NAN, 0.72, 0.72, 0.71, 0.75, 0.75]
    winners = [best_trial(scores[: i + 1]) for i in range(len(scores))]
    assert winners == [0, 0, 2, 2, 2, 5, 5]


def test_an_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="direction"):
        best_trial([0.7], direction="max")
