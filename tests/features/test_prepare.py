"""prepare: features from raw partitions, behind the data-quality gate (issue 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from lakedata import fingerprint

from lakeops.cli import main
from lakeops.dates import date_range
from lakeops.features import QualityGateError, prepare
from lakeops.lake.tables import FEATURE_DAYS, TELEMETRY, features_spec
from lakeops.synth import generate

START, END = date(2024, 1, 1), date(2024, 1, 16)
DAYS = date_range(date(2024, 1, 8), date(2024, 1, 14))


@pytest.fixture
def world(spark, lake, settings):
    generate(lake, start=START, end=END, hosts=150, seed=11)
    model = settings.model("incident_risk")
    kwargs = dict(
        feature_sql=settings.feature_sql(model),
        raw_suite=settings.suite(model.quality.raw),
        features_suite=settings.suite(model.quality.features),
    )
    return model, kwargs


def _sql(spark, lake, query, **tables):
    for view, name in tables.items():
        lake.read(name).createOrReplaceTempView(view)
    return spark.sql(query).collect()


def test_prepare_builds_features_matching_an_independent_computation(spark, lake, world):
    model, kwargs = world
    result = prepare(lake, model, days=DAYS, **kwargs)
    assert result.write.rows == 150 * len(DAYS)
    features = lake.read("features.incident_risk").toPandas()
    assert set(features.columns) == set(features_spec(model).schema.names)

    # Recompute the label, a rolling mean and the incident history with pandas.
    tel = lake.read("raw.telemetry").toPandas()
    inc = lake.read("raw.incidents").toPandas()
    hit = set(zip(inc.host_id, inc.ds, strict=False))
    f = features.set_index(["host_id", "ds"]).sort_index()
    for (host, ds), row in f.sample(40, random_state=1).iterrows():
        assert row.incident_next_day == int((host, ds + timedelta(days=1)) in hit)
        window = tel[(tel.host_id == host) & (tel.ds > ds - timedelta(days=7)) & (tel.ds <= ds)]
        assert row.days_reported_7d == len(window)
        assert row.cpu_util_pct_mean_7d == pytest.approx(window.cpu_util_pct.mean(), nan_ok=True)
        past = sorted(d for h, d in hit if h == host and ds - timedelta(days=30) <= d < ds)
        assert row.incidents_30d == len(past)
        expected_gap = (ds - past[-1]).days if past else None
        assert (pd.isna(row.days_since_last_incident) and expected_gap is None) or row.days_since_last_incident == expected_gap

    # raw.telemetry starts on START: no prepared day has its 30 days of lookback.
    recorded = lake.read(FEATURE_DAYS.name).toPandas().set_index("ds").sort_index()
    assert list(recorded.index) == DAYS and set(recorded.model_name) == {model.name}
    assert not recorded.lookback_complete.any()
    assert list(recorded.source_days_present) == [(d - START).days for d in DAYS]
    assert set(recorded.source_days_expected) == {30} and set(recorded.job_run_id) == {result.job_run_id}
    assert list(recorded.lookback_start) == [d - timedelta(days=30) for d in DAYS]


@pytest.mark.slow  # several whole prepare runs
def test_prepare_records_whether_each_days_lookback_was_complete(spark, lake, world):
    model, kwargs = world
    short = replace(model, features=replace(model.features, lookback_days=3))
    gap = date(2024, 1, 10)
    empty = lake.read(TELEMETRY.name).limit(0).toPandas()
    lake.overwrite_rows(pa.Table.from_pandas(empty, preserve_index=False), TELEMETRY, partitions={"ds": [gap]},
                        allow_empty=True)
    assert gap not in {p["ds"] for p in lake.partitions(TELEMETRY.name)}
    prepare(lake, short, days=[date(2024, 1, 9), date(2024, 1, 12)], **kwargs)
    prepare(lake, short, days=[date(2024, 1, 12)], **kwargs)  # a rerun replaces the day's record
    recorded = {r.ds: r for r in lake.read(FEATURE_DAYS.name).collect()}
    assert set(recorded) == {date(2024, 1, 9), date(2024, 1, 12)}
    assert recorded[date(2024, 1, 9)].lookback_complete and recorded[date(2024, 1, 9)].source_days_present == 3
    assert not recorded[date(2024, 1, 12)].lookback_complete  # Jan 9 and 11 present, Jan 10 missing
    assert recorded[date(2024, 1, 12)].source_days_present == 2


@pytest.mark.slow  # several whole prepare runs
def test_label_is_null_until_the_next_days_incidents_arrive(spark, lake, world):
    model, kwargs = world
    last = END  # raw.incidents ends on END: END's label needs END + 1
    prepare(lake, model, days=[last - timedelta(days=1), last], **kwargs)
    labels = {r.ds: r.n for r in _sql(
        spark, lake, "select ds, count(incident_next_day) as n from f group by ds", f="features.incident_risk")}
    assert labels[last] == 0 and labels[last - timedelta(days=1)] == 150


@pytest.mark.slow  # several whole prepare runs
def test_rerun_gives_an_identical_partition(spark, lake, world):
    model, kwargs = world
    prepare(lake, model, days=[DAYS[0]], **kwargs)
    before = fingerprint(lake.read("features.incident_risk"))
    prepare(lake, model, days=[DAYS[0]], **kwargs)
    assert fingerprint(lake.read("features.incident_risk")) == before


@pytest.mark.slow  # several whole prepare runs
def test_duplicated_raw_partition_fails_the_gate_and_changes_nothing(spark, lake, world, capsys, lake_root):
    model, kwargs = world
    prepare(lake, model, days=DAYS, **kwargs)
    before = fingerprint(lake.read("features.incident_risk"))
    version = lake.version("features.incident_risk")

    bad = DAYS[3]
    day = lake.read("raw.telemetry", where={"ds": [bad]}).cache()
    lake.overwrite(day.unionByName(day), TELEMETRY, partitions={"ds": [bad]})
    with pytest.raises(QualityGateError, match=r"unique\(host_id\)"):
        prepare(lake, model, days=[bad], **kwargs)
    assert fingerprint(lake.read("features.incident_risk")) == before
    assert lake.version("features.incident_risk") == version

    # The CLI says the same and exits 3.
    code = main(["--env", "test", "--lake", str(lake_root), "prepare", "--model", "incident_risk", "--ds", bad.isoformat()])
    assert code == 3  # refused data: a retry will not help
    assert "expect_compound_columns_to_be_unique" in capsys.readouterr().err

    # "What failed and why", in SQL.
    failed = _sql(spark, lake, """
        select r.status, q.expectation, q.column_name, q.observed_value
        from runs r join dq q on q.job_run_id = r.job_run_id
        where r.job = 'prepare' and r.status = 'failed' and not q.success and q.policy = 'fail'
        """, runs="ml.job_runs", dq="ml.data_quality")
    assert {(r.expectation, r.column_name) for r in failed} == {("unique", "host_id")}
    # Every row of a fully duplicated day (150 hosts, twice) is a duplicate.
    assert all(r.observed_value.startswith("300 of 300 unexpected") for r in failed)
    documents = list((lake.root / "_reports" / "data_quality" / "incident_risk").glob("*-raw.json"))
    assert documents


def test_feature_sql_that_disagrees_with_the_config_is_a_schema_error(spark, lake, world):
    from lakeops.errors import SchemaMismatchError

    model, kwargs = world
    renamed = replace(model, features=replace(model.features, numeric=(*model.features.numeric, "not_produced")))
    with pytest.raises(SchemaMismatchError, match="not_produced"):
        prepare(lake, renamed, days=[DAYS[0]], **{**kwargs, "features_suite": None})
    assert not lake.exists("features.incident_risk")


def test_a_range_with_one_bad_day_marks_only_that_day_failed(spark, lake, world):
    model, kwargs = world
    bad = DAYS[3]
    day = lake.read("raw.telemetry", where={"ds": [bad]}).cache()
    lake.overwrite(day.unionByName(day), TELEMETRY, partitions={"ds": [bad]})
    with pytest.raises(QualityGateError, match=rf"failing day\(s\): {bad}"):
        prepare(lake, model, days=DAYS, **kwargs)
    assert not lake.exists("features.incident_risk")

    rows = _sql(spark, lake, """
        select ds, success from dq where stage = 'raw' and expectation = 'unique' and column_name = 'host_id'
        """, dq="ml.data_quality")
    assert sorted(r.ds for r in rows) == DAYS  # one row per day of the range
    assert {r.ds for r in rows if not r.success} == {bad}
    # The other expectations passed on every day.
    others = _sql(spark, lake, "select count(*) as n from dq where not success and expectation <> 'unique'",
                  dq="ml.data_quality")
    assert others[0].n == 0
