"""The estimator's check at training, from ml.performance_reference rows (pure; hand-computed bands)."""

from __future__ import annotations

import math

from lakeops.evaluate.estimator_check import check_estimator, estimate_reference


def test_binary_passes_within_three_sd_and_fails_outside():
    row = {"problem_type": "binary", "holdout_rows": 900, "auc": 0.866, "auc_sd": 0.02, "cbpe_auc": 0.82,
           "f1": 0.40, "f1_sd": 0.03, "cbpe_f1": 0.35}
    check = check_estimator(row)  # |0.82 - 0.866| = 0.046 <= 0.06; |0.35 - 0.40| = 0.05 <= 0.09
    assert check.trusted is True and [g.metric for g in check.gaps] == ["auc", "f1"]
    assert math.isclose(check.gaps[0].allowed, 0.06) and "passed" in check.summary()
    failed = check_estimator({**row, "cbpe_auc": 0.743})  # 0.123 > 0.06
    assert failed.trusted is False and failed.failed and "FAILED" in failed.summary()
    assert "auc estimated 0.743 vs realised 0.866 (outside ±0.06)" in failed.summary()


def test_regression_bands_are_standard_errors_of_the_mean():
    row = {"problem_type": "regression", "holdout_rows": 400, "mae": 10.0, "rmse": 13.0, "abs_error_sd": 8.0,
           "squared_error_sd": 260.0, "dle_mae": 11.1, "dle_rmse": 14.4}
    check = check_estimator(row)
    mae, rmse = check.gaps
    assert math.isclose(mae.allowed, 3 * 8.0 / 20)  # 1.2: |11.1 - 10| = 1.1 passes
    assert math.isclose(rmse.allowed, 3 * 260.0 / 20 / (2 * 13.0))  # 1.5: |14.4 - 13| = 1.4 passes
    assert check.trusted is True
    assert check_estimator({**row, "dle_mae": 11.3}).trusted is False


def test_multiclass_and_versions_before_the_check():
    row = {"problem_type": "multiclass", "holdout_rows": 2000, "accuracy": 0.95, "accuracy_sd": 0.005,
           "cbpe_accuracy": 0.948, "auc": 0.85, "auc_sd": 0.01, "cbpe_auc": 0.77, "f1": 0.26, "f1_sd": 0.02,
           "cbpe_f1": 0.25}
    check = check_estimator(row)
    assert check.trusted is False and [g.ok for g in check.gaps] == [True, False, True]
    # A version trained before the check has no estimates: not checked, treated as before.
    old = check_estimator({"problem_type": None, "holdout_rows": 900, "auc": 0.86, "auc_sd": 0.02})
    assert old.trusted is None and not old.failed and "not checked" in old.summary()


def test_an_estimate_is_compared_with_the_estimators_own_holdout_value():
    row = {"problem_type": "multiclass", "auc": 0.85, "cbpe_auc": 0.77, "accuracy": 0.95}
    assert estimate_reference(row, "auc") == 0.77
    assert estimate_reference(row, "accuracy") == 0.95  # no cbpe_accuracy recorded: the realised value
    assert estimate_reference({"auc": 0.86, "cbpe_auc": float("nan")}, "auc") == 0.86
