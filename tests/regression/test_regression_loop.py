"""A regression model through the whole loop, on one generated lake: ``latency_forecast``.

300 hosts; trained on January, scored and monitored from Feb 2 to Feb 14 with a covariate
shift injected on Feb 13 (latency observed x1.6, a new OS version, wider inbound traffic).
The stationary days (Feb 2..11, whose labels are pre-shift) check the interval and the
direct-loss estimate against what the labels say; the shifted days check that the
estimate moves. Everything is compared with an independent computation: scikit-learn for
realised metrics, the DLE model applied row by row for the estimate, MLflow's pyfunc for
the stored predictions.
"""

from __future__ import annotations

import math
from datetime import date

import mlflow
import numpy as np
import pandas as pd
import pytest
from looplake import assert_monitor_on_spark_writes_the_same
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from lakeops import registry, stages
from lakeops.dates import date_range
from lakeops.evaluate import regression
from lakeops.evaluate.encoding import encode_arrow

pytestmark = pytest.mark.slow

MODEL = "latency_forecast"
TRAIN_DS = date(2024, 2, 1)
SHIFT = date(2024, 2, 13)
DAYS = date_range(date(2024, 2, 2), date(2024, 2, 14))
STATIONARY = [d for d in DAYS if d < date(2024, 2, 12)]  # the label of Feb 11 is Feb 12's latency
HOSTS = 300


@pytest.fixture(scope="module")
def loop(tmp_path_factory, spark):
    from lakeops.config import load_settings

    root = tmp_path_factory.mktemp("regression") / "lake"
    settings = load_settings(env="test", lake_root=str(root), overrides=[f"models.{MODEL}.train.search.trials=1"])
    stages.run_generate(settings, start=date(2024, 1, 1), end=DAYS[-1] + (DAYS[1] - DAYS[0]), hosts=HOSTS, seed=3,
                        drift_start=SHIFT)
    stages.run_prepare(settings, MODEL, days=date_range(date(2024, 1, 8), DAYS[-1]))
    trained = stages.run_train(settings, MODEL, ds=TRAIN_DS)
    decided = stages.run_validate(settings, MODEL, ds=TRAIN_DS)
    stages.run_score(settings, MODEL, days=DAYS)
    stages.run_monitor(settings, MODEL, days=DAYS)
    alerted = stages.run_alerts(settings, MODEL, days=DAYS)
    lake = stages.open_lake(settings)
    return settings, lake, trained, decided, alerted


def _read(lake, table, **where) -> pd.DataFrame:
    return lake.read_arrow(table, where={k: v if isinstance(v, list) else [v] for k, v in where.items()}).to_pandas()


def _joined(lake) -> pd.DataFrame:
    preds = _read(lake, f"predictions.{MODEL}")
    features = _read(lake, f"features.{MODEL}", ds=DAYS)
    return preds.merge(features, on=["ds", "host_id"], how="left")


def test_training_registers_a_regressor_with_its_interval_and_estimator(loop):
    settings, lake, trained, decided, _ = loop
    assert decided.decision == "promoted" and "no champion yet" in decided.reason
    assert 0.3 < trained.holdout["r2"] < 1 and trained.holdout["rmse"] >= trained.holdout["mae"] > 0
    registry.setup(settings.mlflow, lake.root)
    loaded = registry.load(MODEL, version=trained.version)
    assert loaded.problem_type == "regression" and loaded.calibration.coverage == 0.9
    assert "dle.bin" in loaded.extras
    ref = _read(lake, "ml.performance_reference", model_name=MODEL).iloc[0]
    assert ref["problem_type"] == "regression" and ref["interval_half_width"] == loaded.calibration.half_width
    assert math.isclose(ref["mae"], trained.holdout["mae"]) and ref["abs_error_sd"] > 0
    # The estimator judged on the holdout it never saw: within 15 % of the holdout's realised MAE.
    assert abs(ref["dle_mae"] - ref["mae"]) < 0.15 * ref["mae"]
    gate = _read(lake, "ml.model_validations")
    row = gate[gate["model_name"] == MODEL].iloc[0]
    assert row["problem_type"] == "regression" and row["challenger_auc"] is None or math.isnan(row["challenger_auc"])
    assert [c["metric"] for c in row["checks"]] == ["rmse", "mae", "r2"]
    assert all(c["passed"] for c in row["checks"])
    metrics = {m["metric"]: m["value"] for m in row["challenger_metrics"]}
    assert math.isclose(metrics["rmse"], trained.holdout["rmse"], rel_tol=1e-9)


def test_stored_predictions_are_what_the_pyfunc_model_predicts(loop):
    settings, lake, trained, _, _ = loop
    rows = _joined(lake)
    assert (rows["prediction_lower"] <= rows["prediction"]).all() and (rows["prediction"] <= rows["prediction_upper"]).all()
    registry.setup(settings.mlflow, lake.root)
    half = registry.load(MODEL, version=trained.version).calibration.half_width
    assert np.allclose(rows["prediction_upper"] - rows["prediction"], half)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/{trained.version}")
    sample = rows.sample(200, random_state=0)
    predicted = pyfunc.predict(sample[list(registry.load(MODEL, version=trained.version).features)])
    assert np.allclose(predicted, sample["prediction"].to_numpy(), atol=1e-6, rtol=0)


def test_realised_metrics_equal_scikit_learn_per_day_and_slice(loop):
    _, lake, _, _, _ = loop
    rows = _joined(lake)
    perf = _read(lake, "ml.performance_metrics", model_name=MODEL)
    realised = perf[perf["kind"] == "realised"]
    assert len(realised[realised["slice_key"].isna()]) >= len(DAYS) - 1  # the newest day has no labels yet
    for _, r in realised.iterrows():
        day = rows[rows["ds"] == r["ds"]]
        if r["slice_key"] is not None:
            day = day[day[r["slice_key"]] == r["slice_value"]]
        labelled = day[day["latency_p95_ms_next_day"].notna()]
        y, p = labelled["latency_p95_ms_next_day"].to_numpy(), labelled["prediction"].to_numpy()
        assert r["n_labeled"] == len(y) and r["n_scored"] == len(day)
        assert math.isclose(r["mae"], mean_absolute_error(y, p), rel_tol=1e-9)
        assert math.isclose(r["rmse"], math.sqrt(mean_squared_error(y, p)), rel_tol=1e-9)
        if len(y) > 1:
            assert math.isclose(r["r2"], r2_score(y, p), rel_tol=1e-7, abs_tol=1e-9)
        inside = (labelled["prediction_lower"] <= y) & (y <= labelled["prediction_upper"])
        assert math.isclose(r["interval_coverage"], inside.mean(), rel_tol=1e-12)
        assert math.isclose(r["bias"], float(np.mean(p - y)), rel_tol=1e-9, abs_tol=1e-9)


def test_interval_coverage_holds_on_stationary_days(loop):
    _, lake, _, _, _ = loop
    rows = _joined(lake)
    stationary = rows[rows["ds"].isin(STATIONARY) & rows["latency_p95_ms_next_day"].notna()]
    y = stationary["latency_p95_ms_next_day"]
    covered = ((stationary["prediction_lower"] <= y) & (y <= stationary["prediction_upper"])).mean()
    n = len(stationary)
    # Split-conformal coverage is at least the target; within 3 binomial standard errors of it.
    assert abs(covered - 0.9) < 3 * math.sqrt(0.09 / n) + 0.01, (covered, n)


def test_direct_loss_estimate_equals_the_per_row_model_and_holds_its_band(loop):
    settings, lake, trained, _, _ = loop
    registry.setup(settings.mlflow, lake.root)
    loaded = registry.load(MODEL, version=trained.version)
    dle = regression.DirectLossEstimator.from_bytes(loaded.extras["dle.bin"])
    rows = _joined(lake)
    perf = _read(lake, "ml.performance_metrics", model_name=MODEL)
    whole = perf[perf["slice_key"].isna()]
    est = whole[whole["kind"] == "estimated"].set_index("ds")
    real = whole[whole["kind"] == "realised"].set_index("ds")
    import pyarrow as pa

    for d in (DAYS[0], DAYS[-1]):
        day = rows[rows["ds"] == d]
        x = encode_arrow(pa.RecordBatch.from_pandas(day[list(loaded.features)], preserve_index=False),
                         loaded.features, loaded.categories)
        per_row_abs, per_row_sq = dle.predict(regression.dle_inputs(x, day["prediction"].to_numpy()))
        assert math.isclose(est.loc[d, "mae"], float(np.mean(per_row_abs)), rel_tol=1e-9)
        assert math.isclose(est.loc[d, "rmse"], math.sqrt(float(np.mean(per_row_sq))), rel_tol=1e-9)
    inside = [bool(real.loc[d, "mae_in_band"]) for d in STATIONARY if d in real.index and real.loc[d, "mae_in_band"] is not None]
    assert len(inside) >= len(STATIONARY) - 1 and sum(inside) >= 0.9 * len(inside), inside
    # Under the covariate shift the estimate moves up (the shifted latency feature means larger errors).
    before = est.loc[STATIONARY, "mae"].mean()
    assert est.loc[DAYS[-1], "mae"] > before * 1.05, (est.loc[DAYS[-1], "mae"], before)


def test_prediction_drift_and_regression_alerts_are_judged(loop):
    _, lake, _, _, alerted = loop
    drift = _read(lake, "ml.drift_metrics", model_name=MODEL)
    output = drift[(drift["column_name"] == "prediction") & drift["slice_key"].isna() & (drift["drift_type"] == "baseline")]
    assert output["column_type"].unique().tolist() == ["score"] and len(output) == len(DAYS)
    alerts = pd.DataFrame(alerted.rows)
    # ml.alerts holds a rule's rows while it is pending, firing or resolving: the shifted labels set
    # off the realised rules.
    assert {"realised_mae", "interval_coverage"} <= set(alerts["kind"])
    # Nothing fires on the stationary days but data quality.
    early = alerts[alerts["ds"].isin(STATIONARY[:8]) & (alerts["state"] == "firing")]
    assert set(early["kind"]) <= {"data_quality"}, early[["ds", "rule", "summary"]]


def test_the_estimated_mae_rule_waits_for_its_band_on_a_small_fleet(loop):
    """On 300 hosts the DLE estimate of the shifted days is judged with its band: whatever the value
    says, the rule holds only on a day whose whole band is above the limit (uncertainty: band)."""
    from dataclasses import replace

    from lakeops.alert.rules import WHOLE, judge
    from lakeops.alert.run import _facts

    settings, lake, _, _, _ = loop
    model = settings.model(MODEL)
    rule = next(r for r in model.alerts.rules if r.when == "estimated_mae")
    for day, facts in _facts(lake, model, DAYS).items():
        (banded,) = judge(rule, facts)
        (point,) = judge(replace(rule, uncertainty="point"), facts)
        row = facts.estimated[WHOLE]
        assert banded.threshold == point.threshold and banded.value == point.value == row["mae"]
        if facts.estimator.failed:  # the version's estimator missed its holdout: the rule abstains
            assert not banded.met and not point.met and "failed its check" in banded.summary, day
            continue
        assert banded.threshold is not None
        assert banded.met == (row["mae_lower"] > banded.threshold), day
        assert point.met == (row["mae"] > point.threshold), day
        assert not banded.met or point.met  # the band is the stricter test


def test_the_regression_queries_answer_from_the_lake(loop):
    from pathlib import Path

    from lakeops.sql import query

    _, lake, _, _, _ = loop
    queries = Path(__file__).resolve().parents[2] / "sql" / "queries"
    by_day = query(lake.root, (queries / "regression_error_by_day.sql").read_text(),
                   params={"model": MODEL, "start": DAYS[0], "end": DAYS[-1]}).to_pylist()
    perf = _read(lake, "ml.performance_metrics", model_name=MODEL)
    assert [r["ds"] for r in by_day] == DAYS
    for r in by_day:
        day = perf[(perf["ds"] == r["ds"]) & perf["slice_key"].isna()].set_index("kind")
        assert r["estimated_mae"] == day.loc["estimated", "mae"] and r["realised_mae"] == day.loc["realised", "mae"]
        assert r["mae_in_band"] == day.loc["realised", "mae_in_band"]
    misses = query(lake.root, (queries / "largest_misses_on_a_day.sql").read_text(),
                   params={"ds": DAYS[0], "top": 5}).to_pylist()
    rows = _joined(lake)
    day = rows[(rows["ds"] == DAYS[0]) & rows["latency_p95_ms_next_day"].notna()]
    worst = (day["prediction"] - day["latency_p95_ms_next_day"]).abs().sort_values(ascending=False)
    assert [m["miss_rank"] for m in misses] == [1, 2, 3, 4, 5]
    assert np.allclose([abs(m["error"]) for m in misses], worst.to_numpy()[:5])


def test_the_driver_and_a_spark_job_measure_the_same_performance(loop, monkeypatch):
    """A few days of a small fleet are joined and tallied on the driver, more rows in one Spark job: the
    same rows either way (last in this module: it rewrites them)."""
    settings, lake, *_ = loop
    assert_monitor_on_spark_writes_the_same(settings, lake, MODEL, DAYS[-3:], ("ml.performance_metrics",), monkeypatch)
