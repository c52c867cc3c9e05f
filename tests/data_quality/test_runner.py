"""Real Great Expectations validations on real Spark DataFrames, one fault at a time."""

from __future__ import annotations

from datetime import date

import pytest

from lakeops.config import ExpectationConfig, SuiteConfig
from lakeops.data_quality.runner import run_suite

D1, D2, D3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)
SCHEMA = "ds date, host_id string, cpu double, tier string"


def _rows(days=(D1, D2), hosts=20):
    return [(d, f"h{i:03d}", float(i * 3 % 100), ("gold", "silver", "bronze")[i % 3]) for d in days for i in range(hosts)]


SUITE = SuiteConfig(
    name="unit",
    expectations=(
        ExpectationConfig(kind="row_count_between", min=5, max=1000),
        ExpectationConfig(kind="unique", columns=("host_id",)),
        ExpectationConfig(kind="not_null", column="host_id"),
        ExpectationConfig(kind="between", column="cpu", min=0, max=100),
        ExpectationConfig(kind="in_set", column="tier", values=("gold", "silver", "bronze"), policy="warn"),
        ExpectationConfig(kind="freshness", column="ds", max_age_days=0),
    ),
)


def _check(spark, rows, days=(D1, D2), suite=SUITE, schema=SCHEMA):
    return run_suite(spark.createDataFrame(rows, schema), suite, stage="raw", days=list(days), index_columns=("host_id",))


def _by_kind(outcome):
    return {o.expectation: o for o in outcome.outcomes}


@pytest.fixture(scope="module")
def clean(spark):
    return _check(spark, _rows())


def test_clean_data_passes(clean):
    assert clean.passed and not clean.warnings
    assert sorted(o.expectation for o in clean.outcomes) == sorted(e.kind for e in SUITE.expectations)
    assert clean.document["rows"]["success"] is True


def test_injected_nulls_fail_not_null(spark):
    rows = _rows()
    rows[3] = (D1, None, 1.0, "gold")
    rows[25] = (D2, None, 1.0, "gold")
    out = _by_kind(_check(spark, rows))
    assert not out["not_null"].success and out["not_null"].observed.startswith("2 of 40 unexpected")


def test_out_of_range_values_fail_between_and_count_matches_numpy(spark):
    import numpy as np

    rows = _rows()
    rows[5] = (D1, "h005", 150.0, "gold")
    rows[30] = (D2, "h010", -1.0, "gold")
    out = _by_kind(_check(spark, rows))
    cpu = np.array([r[2] for r in rows])
    expected = int(((cpu < 0) | (cpu > 100)).sum())
    assert not out["between"].success
    assert out["between"].observed.startswith(f"{expected} of {len(rows)} unexpected")
    assert out["between"].failing_ds == (D1, D2)


def test_a_new_category_is_a_warning_when_its_policy_says_so(spark):
    rows = _rows()
    rows[0] = (D1, "h000", 1.0, "platinum")
    outcome = _check(spark, rows)
    assert outcome.passed  # warn does not stop the job
    (warning,) = outcome.warnings
    assert warning.expectation == "in_set" and "platinum" in warning.observed


def test_missing_column_is_reported_failed_never_passed(spark):
    """A check that cannot run is a failure."""
    rows = [(d, h, t) for d, h, _, t in _rows()]
    out = _by_kind(_check(spark, rows, schema="ds date, host_id string, tier string"))
    assert out["between"].success is False
    assert "could not be evaluated" in out["between"].observed


def test_duplicate_keys_fail_unique_and_name_the_day(spark):
    rows = _rows() + [r for r in _rows() if r[0] == D2][:3]
    outcome = _check(spark, rows)
    unique = _by_kind(outcome)["unique"]
    assert not unique.success and unique.failing_ds == (D2,)
    assert unique.gx_type == "expect_compound_columns_to_be_unique"
    assert any(f.expectation == "unique" for f in outcome.failures)
    assert "unique(host_id)" in outcome.describe_failures()


def test_an_empty_partition_fails_row_count(spark):
    outcome = _check(spark, _rows(days=(D1, D2)), days=(D1, D2, D3))
    by = _by_kind(outcome)
    assert not by["row_count_between"].success and by["row_count_between"].failing_ds == (D3,)
    assert not by["freshness"].success  # the newest day has no rows
    # The per-day batch runs on GX's pandas engine; its example reads as the Spark engine's would.
    assert by["row_count_between"].observed == '1 of 3 unexpected, e.g. [{"ds": "2024-01-03", "row_count": 0}]'


def test_a_clean_suite_costs_a_few_spark_jobs_not_one_per_expectation(spark):
    """GX's verdicts come from bundled metrics (one aggregation per column domain) and one counting
    pass gives the observed values: a clean suite over a cached frame runs a few Spark jobs per
    expectation at most (adaptive execution runs each aggregation's shuffle as a job of its own),
    where collecting every expectation's examples ran about six."""
    df = spark.createDataFrame(_rows(), SCHEMA).cache()
    df.count()
    sc = spark.sparkContext
    sc.setJobGroup("clean-suite", "a clean suite")
    try:
        outcome = run_suite(df, SUITE, stage="raw", days=[D1, D2], index_columns=("host_id",))
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        df.unpersist()
    jobs = len(sc.statusTracker().getJobIdsForGroup("clean-suite"))
    assert outcome.passed and 0 < jobs <= 3 * len(SUITE.expectations)
    assert [o.observed for o in outcome.outcomes if o.expectation == "not_null"] == ["0 of 40 unexpected"]


def test_row_count_upper_bound(spark):
    suite = SuiteConfig(name="small", expectations=(ExpectationConfig(kind="row_count_between", max=10),))
    outcome = _check(spark, _rows(hosts=12), suite=suite)
    assert not outcome.passed and outcome.failures[0].failing_ds == (D1, D2)


def test_spark_and_pandas_engines_give_the_same_outcomes(spark, monkeypatch):
    """A small row batch is validated by GX's pandas engine on an Arrow copy (runner.LOCAL_ROWS); a large
    one by its Spark engine. Both give the same verdicts, observed values and failing days, fault by fault."""
    from lakeops.data_quality import runner

    faulty = _rows() + [r for r in _rows() if r[0] == D2][:3]  # duplicates on D2
    faulty[3] = (D1, None, 140.0, "platinum")  # a null key, an out-of-range value, a new category
    cases = [(_rows(), (D1, D2)), (faulty, (D1, D2)), (_rows(days=(D1, D2)), (D1, D2, D3))]

    # Rules with `mostly`: counted on both days, failing on the day with too many unexpected rows only.
    lenient = SuiteConfig(name="lenient", expectations=(
        ExpectationConfig(kind="between", column="cpu", min=0, max=90, mostly=0.8),
        ExpectationConfig(kind="not_null", column="host_id", mostly=0.9),
        ExpectationConfig(kind="in_set", column="tier", values=("gold", "silver"), mostly=0.5),
    ))
    some_nulls = [(d, None if d == D2 and i < 5 else h, cpu, tier) for d, h, cpu, tier in _rows()
                  for i in [int(h[1:])]]
    cases += [(some_nulls, (D1, D2), lenient)]

    def outcomes(rows, days, suite=SUITE):
        found = _check(spark, rows, days=days, suite=suite).outcomes
        return [(o.expectation, o.success, o.observed, o.failing_ds) for o in found]

    local = [outcomes(*case) for case in cases]
    monkeypatch.setattr(runner, "LOCAL_ROWS", 0)  # every row batch on Spark
    # The examples are the first few unexpected rows each engine meets; here both meet the same ones.
    assert [outcomes(*case) for case in cases] == local
    assert any(not success for _, success, _, _ in local[1]) and all(success for _, success, _, _ in local[0])
    by_kind = {kind: (success, failing) for kind, success, _, failing in local[3]}
    assert by_kind["between"] == (True, ()) and by_kind["not_null"] == (False, (D2,))
