"""Every query in sql/queries/ on the small lake: sensible rows on DuckDB, the same rows on Spark.

The PSI query is checked against the monitor run that wrote the lake: every
stored PSI of a day must come back from ml.baselines and ml.drift_counts alone.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from looplake import MISSING_DAY, MODEL, WEEK

from lakeops.sql import query, query_spark

pytestmark = pytest.mark.slow

QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"


def _today(small_lake) -> date:
    """The UTC day the fixture's jobs ran (job health is about when jobs ran, not the data's days)."""
    runs = small_lake.lake.read_arrow("ml.job_runs").column("started_at").to_pylist()
    return max(runs).date()


def _params(name: str, small_lake) -> dict:
    return {
        "drift_trend_of_one_column": {"model": MODEL, "column": "latency_p95_ms", "start": WEEK[0], "end": WEEK[-1]},
        "most_drifted_columns_on_a_day": {"model": MODEL, "ds": WEEK[3]},
        "columns_drifted_this_week": {"model": MODEL, "ds": WEEK[-1]},
        "score_distribution_per_day": {"start": WEEK[0], "end": WEEK[-1]},
        "model_lineage": {"model": MODEL},
        "job_health": {"ds": _today(small_lake), "days": 7},
        "data_quality_failures": {"model": MODEL, "start": date(2024, 1, 1), "end": MISSING_DAY},
        "riskiest_entities_today": {"ds": WEEK[-1], "top": 10},
        "psi_recomputed_from_baselines_and_counts": {"model": MODEL, "ds": WEEK[3]},
        "is_the_model_still_good": {"model": MODEL, "ds": WEEK[-1], "days": 7},
        "estimated_vs_realised_by_day": {"model": MODEL, "start": WEEK[0], "end": WEEK[-1]},
        "open_alerts": {"model": MODEL, "ds": WEEK[-1]},
        "why_does_this_version_exist": {"model": MODEL},
        "which_features_drive_the_score_now": {"model": MODEL, "ds": WEEK[-1]},
    }[name]


def _rows(table) -> list[dict]:
    return table.to_pylist()


def _run(name: str, small_lake) -> list[dict]:
    return _rows(query(small_lake.root, (QUERIES / f"{name}.sql").read_text(), params=_params(name, small_lake)))


#: Queries for regression and multiclass models: the small lake has none; tests/regression/test_regression_loop.py
#: and tests/multiclass/test_multiclass_loop.py run them.
OTHER_PROBLEM_QUERIES = {"regression_error_by_day", "largest_misses_on_a_day", "which_class_is_getting_worse",
                         "confusion_matrix_on_a_day"}


def test_every_query_file_has_a_test_and_says_which_models_it_serves():
    files = {p.stem for p in QUERIES.glob("*.sql")}
    assert files - OTHER_PROBLEM_QUERIES == set(CHECKS), "add the new query to CHECKS (and to _params)"
    for p in QUERIES.glob("*.sql"):
        assert "\n-- Serves: " in p.read_text(), f"{p.name}: say which models it serves (-- Serves: ...)"


# ----------------------------------------------------------------------------- what each query answers


def check_drift_trend_of_one_column(rows, small_lake):
    assert [r["ds"] for r in rows] == WEEK
    # Version 1 scored up to the 28th, version 2 after: each day is measured against its own baseline.
    assert [r["model_version"] for r in rows] == [1, 1, 1, 1, 2, 2, 2]
    assert all(r["status"] == "alert" and r["psi"] > r["alert_threshold"] for r in rows)  # latency drifts from the 24th
    # Day-over-day PSI compares counts in the same baseline buckets: none on a version's first day.
    assert [r["psi_vs_previous_day"] is None for r in rows] == [True, False, False, False, True, False, False]


def check_most_drifted_columns_on_a_day(rows, small_lake):
    assert len(rows) >= 20
    assert [r["drift_rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["psi"] for r in rows] == sorted((r["psi"] for r in rows), reverse=True)
    top = {r["column_name"] for r in rows[:6]}
    assert {"latency_p95_ms", "latency_p95_ms_mean_7d"} <= top
    # Features are sliced by region; the score is not.
    assert all(r["worst_slice"].startswith("region=") for r in rows if r["column_name"] != "score")


def check_columns_drifted_this_week(rows, small_lake):
    drifted = {r["column_name"]: r for r in rows}
    assert {"latency_p95_ms", "os_version", "net_in_mbps"} <= set(drifted)
    assert drifted["latency_p95_ms"]["days_alert"] == 7 and drifted["latency_p95_ms"]["first_drifted_ds"] == WEEK[0]
    assert all(r["days_warn"] + r["days_alert"] >= 1 and r["days_monitored"] == 7 for r in rows)


def check_score_distribution_per_day(rows, small_lake):
    days = sorted({r["ds"] for r in rows})
    assert days == WEEK
    for ds in days:
        day = [r for r in rows if r["ds"] == ds]
        assert sum(r["n_rows"] for r in day) == 200
        assert math.isclose(sum(r["share_of_day"] for r in day), 1.0)
        assert all(0 <= r["score_from"] < r["score_to"] <= 1 for r in day)
        assert {r["model_version"] for r in day} == {1 if ds <= date(2024, 1, 28) else 2}


def check_model_lineage(rows, small_lake):
    assert [r["model_version"] for r in rows] == [1, 2]
    v1, v2 = rows
    assert (v1["first_scored_ds"], v1["last_scored_ds"], v1["days_scored"]) == (WEEK[0], date(2024, 1, 28), 4)
    assert (v2["first_scored_ds"], v2["last_scored_ds"], v2["days_scored"]) == (date(2024, 1, 29), WEEK[-1], 3)
    assert v1["train_end"] < v2["train_end"] and v1["train_start"] <= v2["train_start"]
    assert v1["decision"] == "promoted" and v2["decision"] in {"promoted", "rejected"}
    assert v1["mlflow_run_id"] != v2["mlflow_run_id"]


def check_job_health(rows, small_lake):
    jobs = {(r["job"], r["model_name"]): r for r in rows}
    assert jobs[("train", MODEL)]["runs"] == 2 and jobs[("score", MODEL)]["runs"] == 2
    prepare = jobs[("prepare", MODEL)]
    assert prepare["failures"] == 1 and prepare["last_status"] == "failed"
    assert "fail" in prepare["last_failure_message"]
    assert rows[0]["job"] == "prepare"  # failures first
    assert jobs[("generate", None)]["failures"] == 0


def check_data_quality_failures(rows, small_lake):
    blocking = [r for r in rows if r["policy"] == "fail"]
    assert blocking and all(r["ds"] == MISSING_DAY and r["job_status"] == "failed" for r in blocking)
    assert any(r["expectation"] == "row_count_between" for r in blocking)
    # The drift brings a new os_version: recorded as a warning every day from its start, the job succeeding.
    warned = [r for r in rows if r["policy"] == "warn" and r["column_name"] == "os_version"]
    assert warned and {r["job_status"] for r in warned} == {"success"}


def check_riskiest_entities_today(rows, small_lake):
    assert [r["risk_rank"] for r in rows] == list(range(1, 11))
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert all(r["region"] is not None and r["model_version"] == 2 for r in rows)


def check_psi_recomputed_from_baselines_and_counts(rows, small_lake):
    stored = small_lake.lake.read_arrow("ml.drift_metrics", where={"model_name": [MODEL], "ds": [WEEK[3]]}).to_pylist()
    baseline_rows = [r for r in stored if r["drift_type"] == "baseline"]
    assert len(rows) == len(baseline_rows) > 30  # whole population and region slices, every column
    for r in rows:
        assert r["psi_by_hand"] == pytest.approx(r["psi_stored"], rel=1e-9, abs=1e-12), r


def check_is_the_model_still_good(rows, small_lake):
    assert [r["ds"] for r in rows] == WEEK
    assert [r["model_version"] for r in rows] == [1, 1, 1, 1, 2, 2, 2]
    # Labels of the last day need the next day's incidents, which the lake does not hold yet.
    assert [r["judged_on"] for r in rows] == ["realised"] * 6 + ["estimated"]
    assert rows[-1]["realised_auc"] is None and rows[-1]["auc"] == rows[-1]["estimated_auc"]
    for r in rows:
        assert 0.5 < r["auc"] <= 1 and r["auc_floor"] < r["holdout_auc"]
        assert r["verdict"] == ("worse than at training" if r["auc"] < r["auc_floor"] else "as good as at training")


def check_estimated_vs_realised_by_day(rows, small_lake):
    assert [r["ds"] for r in rows] == WEEK
    assert all(r["auc_lower"] <= r["estimated_auc"] <= r["auc_upper"] for r in rows)
    assert [r["realised_auc"] is None for r in rows] == [False] * 6 + [True]
    judged = [r["auc_in_band"] for r in rows if r["auc_in_band"] is not None]
    assert len(judged) == 6
    assert rows[0]["auc_band_coverage"] == pytest.approx(sum(judged) / len(judged))
    for r in rows[:6]:
        assert r["auc_in_band"] == (r["auc_lower"] <= r["realised_auc"] <= r["auc_upper"])


def check_which_features_drive_the_score_now(rows, small_lake):
    model = small_lake.settings.model(MODEL)
    assert len(rows) == len(model.features.numeric) + len(model.features.categorical)
    assert [r["live_rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["mean_abs_shap"] for r in rows] == sorted((r["mean_abs_shap"] for r in rows), reverse=True)
    assert {r["model_version"] for r in rows} == {2}  # the version that scored the day explains it
    assert sorted(r["reference_rank"] for r in rows) == list(range(1, len(rows) + 1))
    assert math.isclose(sum(r["share"] for r in rows), 1.0) and math.isclose(sum(r["reference_share"] for r in rows), 1.0)
    assert all(r["training_mean_abs_shap"] is not None and r["training_rows"] > 0 and r["n_rows"] > 0 for r in rows)
    movers = sorted((r for r in rows if r["mover"] is not None), key=lambda r: r["mover"])
    assert 1 <= len(movers) <= 5 and [r["mover"] for r in movers] == list(range(1, len(movers) + 1))
    assert [abs(r["share_change"]) for r in movers] == sorted((abs(r["share_change"]) for r in movers), reverse=True)
    assert all(r["movement"] == ("drives more" if r["share_change"] > 0 else "drives less") for r in movers)
    # The stored nDCG is Clarify's, recomputed here from the rows: training attribution a(f), summed in
    # the live order over the same sum in the training order, each position discounted by log2(i + 1).
    a = {r["feature"]: r["training_mean_abs_shap"] for r in rows}
    by_training = sorted(rows, key=lambda r: r["reference_rank"])
    dcg = sum(a[r["feature"]] / math.log2(i + 2) for i, r in enumerate(rows))
    ideal = sum(a[r["feature"]] / math.log2(i + 2) for i, r in enumerate(by_training))
    assert len({r["ndcg"] for r in rows}) == 1 and rows[0]["ndcg"] == pytest.approx(dcg / ideal, rel=1e-9)
    assert rows[0]["status"] == ("alert" if rows[0]["ndcg"] < rows[0]["threshold"] else "ok")


def check_open_alerts(rows, small_lake):
    # Latency and its weekly aggregates drift from the 24th: the features rule fires for the whole fleet.
    assert rows and rows[0]["state"] == "firing"
    whole = [r for r in rows if r["rule"] == "features_drifted" and r["population"] == "all"]
    assert len(whole) == 1 and whole[0]["firing_since"] <= WEEK[-1] and whole[0]["value"] >= 2
    assert '"column":"latency_p95_ms"' in whole[0]["evidence"]
    order = {"firing": 0, "pending": 1, "resolved": 2}
    assert [order[r["state"]] for r in rows] == sorted(order[r["state"]] for r in rows)


def check_why_does_this_version_exist(rows, small_lake):
    assert [(r["model_version"], r["decided_on"]) for r in rows] == [(1, date(2024, 1, 24)), (2, date(2024, 1, 28))]
    first, second = rows
    assert first["why"] == "scheduled or manual training" and first["requested_by"] is None
    assert second["why"].startswith("retrain requested by alert ") and len(second["requested_by"]) == 16
    assert WEEK[0] <= second["requested_on"] <= date(2024, 1, 28) and second["alert_summary"]
    stored = small_lake.lake.read_arrow("ml.model_validations").to_pylist()
    assert [r["requested_by"] for r in stored if r["challenger_version"] == 2] == [second["requested_by"]]


CHECKS = {name.removeprefix("check_"): fn for name, fn in globals().items() if name.startswith("check_")}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_query_on_the_embedded_engine(name, small_lake):
    rows = _run(name, small_lake)
    assert rows, f"{name} returned no rows"
    CHECKS[name](rows, small_lake)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_query_gives_the_same_rows_on_spark(name, small_lake):
    text = (QUERIES / f"{name}.sql").read_text()
    params = _params(name, small_lake)
    embedded = query(small_lake.root, text, params=params)
    spark = query_spark(small_lake.lake, text, params=params)
    assert spark.column_names == embedded.column_names
    assert_same_rows(_rows(spark), _rows(embedded))


def test_psi_recomputes_on_every_monitored_day(small_lake):
    text = (QUERIES / "psi_recomputed_from_baselines_and_counts.sql").read_text()
    for ds in WEEK:
        rows = _rows(query(small_lake.root, text, params={"model": MODEL, "ds": ds}))
        assert rows and max(r["abs_difference"] for r in rows) < 1e-9, ds
    assert not _rows(query(small_lake.root, text, params={"model": MODEL, "ds": WEEK[-1] + timedelta(days=1)}))


def assert_same_rows(actual: list[dict], expected: list[dict]) -> None:
    """Equal row by row; numbers within float rounding (the engines add in different orders)."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.keys() == e.keys()
        for key in a:
            x, y = _plain(a[key]), _plain(e[key])
            if isinstance(x, float) or isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-12), (key, a, e)
            else:
                assert x == y, (key, a, e)


def _plain(value):
    # DuckDB sums integers into HUGEINT, which reaches Arrow as decimal(38, 0).
    return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value
