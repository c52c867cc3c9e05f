"""lakeops monitor on a generated lake with injected drift: detection, reproducibility, errors.

The lake has three months of telemetry; features are prepared from the second
month on (so every rolling window and incident history is complete), a model
is trained on January and scores February. Drift starts on 2024-02-10;
``raw.scenario`` names the columns it touches. One month is monitored in one run.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from lakedata import fingerprint
from looplake import assert_monitor_on_spark_writes_the_same

from lakeops import registry, stages
from lakeops.dates import date_range
from lakeops.errors import MissingInputError
from lakeops.evaluate import binary
from lakeops.monitor import stats

pytestmark = pytest.mark.slow

DRIFT_START = date(2024, 2, 10)
TRAIN_DS = date(2024, 1, 31)
REPORT_DAY = DRIFT_START + timedelta(days=4)  # the day whose report page the world renders
DAYS = date_range(date(2024, 2, 1), date(2024, 3, 1))
HOSTS = 800
#: Features computed from a drifting raw column, and the score that reads them.
FED_BY = {
    "latency_p95_ms": {"latency_p95_ms", "latency_p95_ms_mean_7d", "latency_p95_ms_max_7d"},
    "net_in_mbps": {"net_in_mbps"},
    "os_version": {"os_version"},
    "mem_util_pct": {"mem_util_pct", "mem_util_pct_mean_7d"},
}


@pytest.fixture(scope="module")
def world(spark, settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("monitor")
    s = replace(settings, lake=replace(settings.lake, root=str(root / "lake")))
    model = s.model("incident_risk")
    s = replace(s, models={**s.models, "incident_risk": replace(
        model, train=replace(model.train, search=replace(model.train.search, trials=1)))})
    stages.run_generate(s, start=date(2023, 12, 1), end=DAYS[-1], hosts=HOSTS, seed=21, drift_start=DRIFT_START)
    stages.run_prepare(s, "incident_risk", days=date_range(date(2024, 1, 1), DAYS[-1]))
    stages.run_train(s, "incident_risk", ds=TRAIN_DS)
    stages.run_validate(s, "incident_risk", ds=TRAIN_DS)
    stages.run_score(s, "incident_risk", days=DAYS)
    # The report's pages of one day (and the index) are enough for its test: tests/report/
    # covers the rendering.
    result = stages.run_monitor(s, "incident_risk", days=DAYS)
    stages.run_report(s, "incident_risk", days=[REPORT_DAY])
    lake = stages.open_lake(s)
    drift = lake.read_arrow("ml.drift_metrics").to_pandas()
    return s, lake, result, drift


def _own_copy(world, tmp_path):
    """Settings and lake of a copy of the world's lakehouse, for a test that writes: the shared
    world stays as the fixture built it for every other test."""
    import shutil

    settings, lake, _, _ = world
    root = tmp_path / "lake"
    shutil.copytree(lake.root, root)
    s = replace(settings, lake=replace(settings.lake, root=str(root)))
    # A copied lakehouse's MLflow store still points at the original's artifacts (jobs refuse it):
    # the upgrade makes the copy its own, as a user who copies a lakehouse does.
    assert stages.run_upgrade(s).store is not None
    return s, stages.open_lake(s)


def _whole(drift: pd.DataFrame, drift_type: str = "baseline") -> pd.DataFrame:
    return drift[drift.slice_key.isna() & (drift.drift_type == drift_type)]


def test_injected_drift_alerts_within_days_and_the_rest_stays_quiet(world):
    settings, lake, result, drift = world
    scenario = lake.read_arrow("raw.scenario").to_pylist()
    assert {r["column_name"] for r in scenario} == set(FED_BY)
    whole = _whole(drift)
    status = whole.pivot(index="ds", columns="column_name", values="status")
    assert list(status.index) == DAYS

    for row in scenario:
        column = row["column_name"]
        after = status.loc[status.index >= row["start_ds"], column]
        alerting = after[after == "alert"]
        assert len(alerting), f"{column} never alerted"
        first = alerting.index[0]
        assert (first - row["start_ds"]).days <= 5, f"{column} alerted only on {first}"
        assert (after.loc[after.index >= first] == "alert").all(), f"{column} fell back after {first}"
        before = status.loc[status.index < row["start_ds"], column]
        assert (before == "ok").all(), f"{column} was not ok before its drift started"

    fed = set().union(*FED_BY.values()) | {"score"}
    quiet = status[[c for c in status.columns if c not in fed]]
    alarms = (quiet != "ok").to_numpy().sum()
    assert quiet.shape[1] >= 15 and alarms <= 0.01 * quiet.size, quiet[(quiet != "ok").any(axis=1)]

    # The command's own summary says the same.
    first_day = {d.ds: d for d in result.days}
    assert first_day[DRIFT_START - timedelta(days=1)].status == "ok"
    assert "latency_p95_ms" in first_day[DRIFT_START].alerts


def test_attribution_drift_names_the_drifted_features_that_now_drive_the_score(world):
    import xgboost

    from lakeops.evaluate.encoding import encode_arrow

    settings, lake, result, _ = world
    model = settings.model("incident_risk")
    features = [*model.features.numeric, *model.features.categorical]
    # The training reference: every feature ranked, on a seeded sample of about attribution_sample_rows fit rows.
    reference = lake.read_arrow("ml.attribution_reference").to_pandas()
    assert sorted(reference.feature) == sorted(features)
    assert sorted(reference["rank"]) == list(range(1, len(features) + 1))
    assert abs(reference.n_rows.iloc[0] - model.monitor.attribution_sample_rows) < 200

    drift = lake.read_arrow("ml.attribution_drift", where={"model_name": ["incident_risk"], "ds": DAYS}).to_pandas()
    assert sorted(drift.ds.unique()) == DAYS and (drift.groupby("ds").feature.count() == len(features)).all()
    ndcg = drift.groupby("ds").ndcg.agg(["min", "max"])
    assert (ndcg["min"] == ndcg["max"]).all() and ((ndcg["min"] > 0) & (ndcg["max"] <= 1)).all()
    ndcg = ndcg["min"]
    assert ((drift.status == "alert") == (drift.ndcg < model.monitor.attribution_ndcg_alert)).all()
    assert {d.ds: d.attribution_ndcg for d in result.days} == dict(ndcg)

    # Before the drift the ranking is training's (nDCG about 0.9995); from its first day every day ranks lower,
    # and the feature whose share moved most is one the drift feeds. On this lake the growing share of missing
    # mem_util_pct ends up driving the score (from rank 6 to 2), and the last days fall below 0.9.
    before, after = ndcg[ndcg.index < DRIFT_START], ndcg[ndcg.index >= DRIFT_START]
    assert (before > 0.99).all() and after.max() < before.min()
    fed = set().union(*FED_BY.values())
    top = drift[drift.mover == 1].set_index("ds").sort_index()
    assert list(top.index) == DAYS
    assert set(top.loc[top.index >= DRIFT_START, "feature"]) <= fed, top.feature
    last = drift[drift.ds == DAYS[-1]].set_index("feature")
    assert top.loc[DAYS[-1], "feature"] == "mem_util_pct" and last.loc["mem_util_pct", "share_change"] > 0
    assert last.loc["mem_util_pct", "rank_change"] > 0 and last.status.iloc[0] == "alert"
    assert result.days[-1].attribution_movers[0] == "mem_util_pct"

    # The stored mean |SHAP| of a day is XGBoost's own on that day's rows (all of them: 800 < the sample size).
    day = DRIFT_START + timedelta(days=10)
    loaded = registry.load(model.name, version=int(drift.model_version.iloc[0]))
    rows = lake.read("features.incident_risk", where={"ds": [day]}).select(*features).toPandas()
    x = encode_arrow(pa.RecordBatch.from_pandas(rows, preserve_index=False), loaded.features, loaded.categories)
    contribs = loaded.booster.predict(xgboost.DMatrix(x, missing=np.nan), pred_contribs=True, validate_features=False)
    expected = dict(zip(loaded.features, np.abs(contribs[:, :-1]).mean(axis=0), strict=True))
    stored = drift[drift.ds == day].set_index("feature")
    assert (stored.n_rows == len(rows)).all()
    for f in features:
        assert stored.loc[f, "mean_abs_shap"] == pytest.approx(expected[f], rel=1e-5, abs=1e-9), f
        assert stored.loc[f, "reference_mean_abs_shap"] == pytest.approx(
            reference.set_index("feature").loc[f, "mean_abs_shap"], rel=1e-12)


def test_every_psi_recomputes_by_hand_from_two_stored_tables(world):
    _, lake, _, drift = world
    baselines = lake.read_arrow("ml.baselines").to_pandas()
    counts = lake.read_arrow("ml.drift_counts").to_pandas()
    day = DRIFT_START + timedelta(days=3)
    checked = 0
    for row in drift[(drift.ds == day) & (drift.drift_type == "baseline")].itertuples():
        base = baselines[(baselines.column_name == row.column_name) & (baselines.model_version == row.model_version)
                         & _same(baselines.slice_key, row.slice_key) & _same(baselines.slice_value, row.slice_value)]
        base = base.assign(order=np.where(base.bin_index < 0, 10**6, base.bin_index)).sort_values("order")
        now = counts[(counts.ds == day) & (counts.column_name == row.column_name)
                     & _same(counts.slice_key, row.slice_key) & _same(counts.slice_value, row.slice_value)]
        current = np.asarray(now.bin_counts.iloc[0], dtype=float)
        p, q = base.proportion.to_numpy(), current / current.sum()
        # PSI = sum (q - p) ln(q / p), a side's empty bucket counted as 1e-4.
        p_s, q_s = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
        both_empty = (p == 0) & (q == 0)
        by_hand = float(np.sum(np.where(both_empty, 0.0, (q_s - p_s) * np.log(q_s / p_s))))
        assert row.psi == pytest.approx(by_hand, rel=1e-9, abs=1e-12), row.column_name
        checked += 1
    assert checked > 30  # whole population and region slices


def _quality(lake) -> pd.DataFrame:
    return lake.read_arrow("ml.performance_metrics", where={"model_name": ["incident_risk"]}).to_pandas()


def test_realised_performance_matches_scikit_learn_on_the_stored_rows(world):
    from sklearn import metrics as skm

    _, lake, result, _ = world
    quality = _quality(lake)
    whole = quality[quality.slice_key.isna()]
    assert sorted(whole[whole.kind == "estimated"].ds) == DAYS
    # The last day's labels need the next day's incidents, which the lake does not have.
    assert sorted(whole[whole.kind == "realised"].ds) == DAYS[:-1]
    assert set(quality.slice_key.dropna()) == {"region"}

    scored = lake.read("predictions.incident_risk", where={"ds": DAYS}).toPandas()
    labels = lake.read("features.incident_risk", where={"ds": DAYS}).select("ds", "host_id", "incident_next_day",
                                                                          "region").toPandas()
    rows = scored.merge(labels, on=["ds", "host_id"])
    for day in (DAYS[3], DRIFT_START + timedelta(days=5)):
        got = whole[(whole.kind == "realised") & (whole.ds == day)].iloc[0]
        r = rows[rows.ds == day]
        y, p, decided = r.incident_next_day.to_numpy(), r.score.to_numpy(), r.prediction.to_numpy()
        assert (got.n_scored, got.n_labeled, got.label_coverage) == (len(r), len(r), 1.0)
        # Scores are tallied in 10,000 fine bins: a bin's rows are ties, counted half as scikit-learn counts
        # ties, so the AUC is scikit-learn's on the binned scores, and close to the per-row one.
        assert got.auc == pytest.approx(skm.roc_auc_score(y, binary.score_bins(p)), abs=1e-9)
        assert got.auc == pytest.approx(skm.roc_auc_score(y, p), abs=5e-4)
        assert got.pr_auc == pytest.approx(skm.average_precision_score(y, p), abs=5e-3)
        assert got.logloss == pytest.approx(skm.log_loss(y, p), rel=1e-9)
        assert got.brier == pytest.approx(skm.brier_score_loss(y, p), rel=1e-9)
        assert got.f1 == pytest.approx(skm.f1_score(y, decided), rel=1e-9)
        assert got.precision == pytest.approx(skm.precision_score(y, decided), rel=1e-9)
        assert got.recall == pytest.approx(skm.recall_score(y, decided), rel=1e-9)
        name = sorted(r.region.dropna().unique())[0]
        region = r[r.region == name]
        sliced = quality[(quality.kind == "realised") & (quality.ds == day) & (quality.slice_value == name)]
        assert sliced.iloc[0].n_scored == len(region)
        assert sliced.iloc[0].auc == pytest.approx(skm.roc_auc_score(region.incident_next_day, region.score),
                                                   abs=1e-4)
    # The command's summary carries the estimate with its band.
    summary = result.days[0].performance
    assert summary.lower < summary.estimated < summary.upper


def test_the_estimate_covers_the_realised_value_before_drift_and_moves_with_it(world):
    _, lake, _, _ = world
    quality = _quality(lake)
    whole = quality[quality.slice_key.isna()]
    realised = whole[(whole.kind == "realised")].set_index("ds")
    estimated = whole[(whole.kind == "estimated")].set_index("ds")
    before = [d for d in DAYS[:-1] if d < DRIFT_START]
    inside = realised.loc[before, "auc_in_band"]
    assert inside.notna().all() and inside.mean() >= 0.9, realised.loc[before, ["auc", "estimated_auc"]]
    assert (realised.loc[before, "estimated_auc"] == estimated.loc[before, "auc"]).all()
    # Calibrated scores: the estimated positive rate is the realised one, within sampling noise.
    rate_gap = (estimated.loc[before, "positive_rate"] - realised.loc[before, "positive_rate"]).abs().mean()
    assert rate_gap < 0.02
    # The drift moves the inputs (a covariate shift); the estimate, made from scores alone, moves with it.
    after = [d for d in DAYS if d >= DRIFT_START + timedelta(days=7)]
    shift = abs(estimated.loc[after, "positive_rate"].mean() - estimated.loc[before, "positive_rate"].mean())
    assert shift > 3 * estimated.loc[before, "positive_rate"].std()


def test_late_labels_update_only_their_day(world, tmp_path):
    s, copy = _own_copy(world, tmp_path)
    last, new = DAYS[-1], DAYS[-1] + timedelta(days=1)
    before = _quality(copy)
    assert before[(before.ds == last) & (before.kind == "realised")].empty
    version = copy.version("ml.performance_metrics")
    # The next day arrives: its raw data, then the daily run (prepare it and the day before, score, monitor).
    stages.run_generate(s, start=new, end=new, hosts=HOSTS, seed=21, drift_start=DRIFT_START)
    stages.run_prepare(s, "incident_risk", days=[last, new])
    stages.run_score(s, "incident_risk", days=[new])
    result = stages.run_monitor(s, "incident_risk", days=[new])
    assert [q.ds for q in result.late] == [last] and result.late[0].realised is not None
    changed = copy.changed_partitions("ml.performance_metrics", after=version,
                                      upto=copy.version("ml.performance_metrics"))
    assert sorted(p["ds"] for p in changed) == [last, new]
    after = _quality(copy)
    landed = after[(after.ds == last) & (after.kind == "realised") & after.slice_key.isna()].iloc[0]
    assert landed.label_coverage == 1.0 and landed.auc_in_band is not None
    untouched = [d for d in DAYS[:-1]]
    key = ["ds", "kind", "slice_key", "slice_value"]
    assert_frame = after[after.ds.isin(untouched)].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(assert_frame, before[before.ds.isin(untouched)].sort_values(key)
                                  .reset_index(drop=True))


def _same(series: pd.Series, value) -> pd.Series:
    return series.isna() if value is None or (isinstance(value, float) and math.isnan(value)) else series == value


def test_ks_and_wasserstein_bracket_scipy_on_the_raw_rows(world):
    from scipy import stats as sps

    from lakeops.train.data import VALIDATION, TrainingWindow, training_frame

    settings, lake, _, drift = world
    model = settings.model("incident_risk")
    loaded = registry.load(model.name, alias=registry.CHAMPION)
    days = date_range(date.fromisoformat(loaded.tags[registry.TAG_TRAIN_START]),
                      date.fromisoformat(loaded.tags[registry.TAG_TRAIN_END]))
    window = TrainingWindow(tuple(days), (), int(loaded.tags[registry.TAG_FEATURES_VERSION]))
    day = DRIFT_START + timedelta(days=2)
    for column in ("latency_p95_ms", "cpu_util_pct", "net_in_mbps"):
        base = training_frame(lake, model, window, seed=model.train.search.seed).where(f"not {VALIDATION}")
        base = base.select(column).toPandas()[column].dropna().to_numpy()
        now = lake.read("features.incident_risk", where={"ds": [day]}).select(column).toPandas()[column]
        now = now.dropna().to_numpy()
        row = _whole(drift)[(_whole(drift).ds == day) & (_whole(drift).column_name == column)].iloc[0]
        assert row.n_baseline == len(base) + int(round(row.null_rate_baseline * row.n_baseline))
        ks = sps.ks_2samp(base, now).statistic
        assert row.ks_stat - 1e-12 <= ks <= row.ks_stat + row.ks_bound + 1e-12, column
        w = sps.wasserstein_distance(base, now)
        assert abs(w - row.wasserstein) <= row.wasserstein_bound + 1e-9, column
        assert row.ks_bound < 0.01

        # Consecutive drift: yesterday's raw rows against today's.
        before = lake.read("features.incident_risk", where={"ds": [day - timedelta(days=1)]}).select(column)
        before = before.toPandas()[column].dropna().to_numpy()
        cons = _whole(drift, "consecutive")
        row = cons[(cons.ds == day) & (cons.column_name == column)].iloc[0]
        assert row.baseline_id == (day - timedelta(days=1)).isoformat()
        ks = sps.ks_2samp(before, now).statistic
        assert row.ks_stat - 1e-12 <= ks <= row.ks_stat + row.ks_bound + 1e-12, column


def test_chi_square_and_js_of_a_categorical_column_match_scipy(world):
    from scipy import stats as sps
    from scipy.spatial.distance import jensenshannon

    _, lake, _, drift = world
    counts = lake.read_arrow("ml.drift_counts").to_pandas()
    day = DRIFT_START + timedelta(days=1)
    row = _whole(drift)[(_whole(drift).ds == day) & (_whole(drift).column_name == "os_version")].iloc[0]
    prev = counts[(counts.ds == day - timedelta(days=1)) & (counts.column_name == "os_version")
                  & counts.slice_key.isna()].bin_counts.iloc[0]
    cur = counts[(counts.ds == day) & (counts.column_name == "os_version") & counts.slice_key.isna()].bin_counts.iloc[0]
    cons = _whole(drift, "consecutive")
    crow = cons[(cons.ds == day) & (cons.column_name == "os_version")].iloc[0]
    table = np.array([prev, cur])
    table = table[:, table.sum(axis=0) > 0]
    assert crow.chi2_pvalue == pytest.approx(sps.chi2_contingency(table, correction=False).pvalue, rel=1e-9, abs=1e-300)
    assert crow.js_distance == pytest.approx(jensenshannon(np.asarray(prev) / sum(prev), np.asarray(cur) / sum(cur),
                                                           base=2), rel=1e-9)
    assert row.status == "alert" and row.chi2_pvalue < 1e-6  # ubuntu-24.04 is counted in OTHER


def test_rerun_gives_identical_rows_and_profiles_add_up(world, tmp_path):
    settings, lake = _own_copy(world, tmp_path)
    tables = ("ml.drift_metrics", "ml.drift_counts", "ml.profile_metrics", "ml.performance_metrics",
              "ml.attribution_drift")
    day = DAYS[12]
    before = {t: fingerprint(lake.read(t, where={"model_name": ["incident_risk"], "ds": [day]})) for t in tables}
    stages.run_monitor(settings, "incident_risk", days=[day])
    after = {t: fingerprint(lake.read(t, where={"model_name": ["incident_risk"], "ds": [day]})) for t in tables}
    assert after == before

    profile = lake.read_arrow("ml.profile_metrics", where={"model_name": ["incident_risk"], "ds": [day]}).to_pandas()
    raw = lake.read("features.incident_risk", where={"ds": [day]}).toPandas()
    cpu = profile[profile.column_name == "cpu_util_pct"].iloc[0]
    x = raw.cpu_util_pct
    assert cpu["count"] == len(x) and cpu.nulls == x.isna().sum()
    assert cpu["mean"] == pytest.approx(x.mean()) and cpu.stddev == pytest.approx(x.std())
    assert (cpu["min"], cpu["max"]) == (x.min(), x.max())
    assert abs(cpu.p50 - x.median()) < 1.0  # within a sketch cell
    assert abs(cpu.distinct_approx - x.nunique()) <= 0.1 * x.nunique()
    tier = profile[profile.column_name == "service_tier"].iloc[0]
    assert tier.distinct_approx == raw.service_tier.nunique() and pd.isna(tier["mean"])


def test_a_promotion_inside_a_range_switches_baselines_on_that_day(world, tmp_path):
    settings, lake = _own_copy(world, tmp_path)
    switch = DAYS[20]
    trained = stages.run_train(settings, "incident_risk", ds=switch - timedelta(days=1))
    stages.run_validate(settings, "incident_risk", ds=switch, mode="disabled")
    stages.run_score(settings, "incident_risk", days=DAYS[20:], force=True)
    days = DAYS[18:23]
    stages.run_monitor(settings, "incident_risk", days=days)
    drift = lake.read_arrow("ml.drift_metrics", where={"model_name": ["incident_risk"], "ds": days}).to_pandas()
    whole = _whole(drift)
    ids = whole.groupby("ds").baseline_id.unique()
    assert all(len(v) == 1 for v in ids)
    assert {d: v[0] for d, v in ids.items()} == {
        d: f"incident_risk/v{trained.version if d >= switch else trained.version - 1}" for d in days}
    # No consecutive drift across the switch (the bins differ); the day after it compares again.
    cons = _whole(drift, "consecutive")
    assert switch not in set(cons.ds) and switch + timedelta(days=1) in set(cons.ds)


def test_missing_input_is_a_clear_error_and_writes_nothing(world):
    settings, lake, _, _ = world
    versions = {t: lake.version(t) for t in ("ml.drift_metrics", "ml.drift_counts", "ml.profile_metrics")}
    # January has features but was never scored.
    with pytest.raises(MissingInputError, match=r"predictions.incident_risk has no partition for 2024-01-15"):
        stages.run_monitor(settings, "incident_risk", days=[DAYS[0], date(2024, 1, 15)])
    with pytest.raises(MissingInputError, match=r"features.incident_risk has no partition for 2024-03-02"):
        stages.run_monitor(settings, "incident_risk", days=[date(2024, 3, 2)])
    assert {t: lake.version(t) for t in versions} == versions


def test_the_report_shows_the_days_offline(world):
    settings, lake, result, _ = world
    folder = lake.root / "reports" / "incident_risk"
    page = (folder / f"{REPORT_DAY}.html").read_text()
    assert "latency_p95_ms" in page and "alert" in page and "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "http://www.w3.org/1999/xlink", "") and "<script" not in page
    index = (folder / "index.html").read_text()
    assert all(f"{d}.html" in index for d in DAYS)
    runs = lake.read_arrow("ml.job_runs").to_pandas()
    (report_run,) = runs[runs.job == "report"].itertuples()
    assert report_run.model_name == "incident_risk" and report_run.rows_out == 2  # the day's page and the index


def test_stats_helpers_agree_with_the_stored_status(world):
    _, _, _, drift = world
    for row in drift.sample(50, random_state=1).itertuples():
        by_psi = stats.status(row.psi, warn=row.warn_threshold, alert=row.alert_threshold,
                              noise_floor=row.psi_noise_floor)
        assert {"ok": 0, "warn": 1, "alert": 2}[row.status] >= {"ok": 0, "warn": 1, "alert": 2}[by_psi]


def test_the_driver_and_a_spark_job_measure_the_same_performance(world, tmp_path, monkeypatch):
    """A few days of a small fleet are joined and tallied on the driver, more rows in one Spark job: the
    same ml.performance_metrics rows either way."""
    settings, lake = _own_copy(world, tmp_path)
    assert_monitor_on_spark_writes_the_same(settings, lake, "incident_risk", DAYS[10:13], ("ml.performance_metrics",),
                                            monkeypatch)
