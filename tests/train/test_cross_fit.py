"""Cross-fitted calibration rows: XGBoost on the driver, no Spark."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost

from lakeops.evaluate.calibration import Platt
from lakeops.train.cross_fit import entity_folds, out_of_fold_margins, training_params

PARAMS = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "scale_pos_weight": 5.0,
          "tree_method": "hist", "min_child_weight": 2, "lambda": 3.0, "seed": 0, "nthread": 1}


def world(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    x[rng.random((n, 5)) < 0.05] = np.nan
    p = 1 / (1 + np.exp(-(np.nan_to_num(x[:, 0]) * 1.5 - 3.0)))
    return x, (rng.random(n) < p).astype(np.float64)


def test_training_params_regrow_the_same_booster():
    x, y = world(2000, 1)
    booster = xgboost.train(PARAMS, xgboost.DMatrix(x, label=y, missing=np.nan), num_boost_round=15)
    params = training_params(booster)
    assert params["objective"] == "binary:logistic" and float(params["scale_pos_weight"]) == 5.0
    again = xgboost.train({**params, "seed": 0, "nthread": 1}, xgboost.DMatrix(x, label=y, missing=np.nan),
                          num_boost_round=booster.num_boosted_rounds())
    d = xgboost.DMatrix(x, missing=np.nan)
    assert np.array_equal(again.predict(d, output_margin=True), booster.predict(d, output_margin=True))


def test_entity_folds_keep_an_entity_together():
    groups = np.repeat(np.arange(50, dtype=np.uint64) * 7919, 4)  # 50 entities, 4 days each
    fold = entity_folds(groups, folds=4)
    assert set(fold) <= {0, 1, 2, 3} and len(set(fold)) > 1
    assert all(len(set(fold[groups == g])) == 1 for g in np.unique(groups))
    with pytest.raises(ValueError, match="2 folds"):
        entity_folds(groups, folds=1)


def test_out_of_fold_margins_come_from_boosters_that_never_saw_the_row():
    x, y = world(1200, 2)
    booster = xgboost.train(PARAMS, xgboost.DMatrix(x, label=y, missing=np.nan), num_boost_round=10)
    fold = np.arange(len(y)) % 3
    oof = out_of_fold_margins(x, y, fold=fold, booster=booster)
    for k in range(3):  # each fold's margins equal a booster grown on the other two folds by hand
        held = fold == k
        grown = xgboost.train(PARAMS, xgboost.DMatrix(x[~held], label=y[~held], missing=np.nan), num_boost_round=10)
        assert np.allclose(oof[held], grown.predict(xgboost.DMatrix(x[held], missing=np.nan), output_margin=True),
                           atol=1e-6)
    # A row changed in one fold moves no margin of that fold (its own booster never fit it).
    y2 = y.copy()
    y2[fold == 0] = 1 - y2[fold == 0]
    assert np.array_equal(out_of_fold_margins(x, y2, fold=fold, booster=booster)[fold == 0], oof[fold == 0])


def margins(booster, rows):
    return booster.predict(xgboost.DMatrix(rows, missing=np.nan), output_margin=True)


def test_cross_fitting_brings_a_small_windows_calibration_near_the_large_sample_one():
    """A booster trained on a small window with scale_pos_weight overstates risk; its Platt slope fitted
    on a large fresh sample is the truth. Fitted on the few validation rows alone the slope scatters;
    with the out-of-fold rows it lands nearer, on each of several windows."""
    fresh_x, fresh_y = world(200_000, 99)
    closer = 0
    for seed in range(5):
        x, y = world(3000, seed)
        fit, val = np.arange(3000) < 2400, np.arange(3000) >= 2400
        booster = xgboost.train(PARAMS, xgboost.DMatrix(x[fit], label=y[fit], missing=np.nan), num_boost_round=30)
        truth = Platt.fit(margins(booster, fresh_x), fresh_y)
        small = Platt.fit(margins(booster, x[val]), y[val])
        oof = out_of_fold_margins(x[fit], y[fit], fold=np.arange(2400) % 4, booster=booster)
        crossed = Platt.fit(np.concatenate([oof, margins(booster, x[val])]), np.concatenate([y[fit], y[val]]))
        closer += abs(crossed.slope - truth.slope) < abs(small.slope - truth.slope)
    assert closer >= 4
