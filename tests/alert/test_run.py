"""``ml.alerts`` over a real Delta lake: idempotent history, retrain requests, the webhook, no Spark job.

The monitoring tables are written here with known statuses (as a monitoring run
would write them), so each rule's input is exact.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pyarrow as pa
import pytest
from alert_receiver import Receiver

from lakeops.alert import evaluate_alerts
from lakeops.alert.notify import Webhook
from lakeops.config import AlertRule, AlertsConfig, load_settings
from lakeops.lake.embedded import EmbeddedLake
from lakeops.lake.tables import ALERTS, DATA_QUALITY, DRIFT_COUNTS, DRIFT_METRICS, PERFORMANCE_METRICS

D0 = date(2024, 3, 1)
DAYS = [D0 + timedelta(days=i) for i in range(12)]
FEATURES = ["cpu", "mem", "disk", "latency"]
# Per day, how many features are at alert drift ("features_drifted" needs 2): x = 2 or more.
DRIFTED = "..x.xx.xx..."
ESTIMATED_AUC = [0.85, 0.84, 0.85, 0.70, 0.69, 0.86, 0.85, 0.68, 0.67, 0.66, 0.85, 0.85]


@pytest.fixture(scope="module")
def model():
    base = load_settings(conf_dir="conf").model("incident_risk")
    rules = (
        AlertRule(name="many_features_drifted", when="features_drifted", at_least=2, for_days=2, of_days=3,
                  keep_firing_days=1, severity="critical", retrain=True, per_slice=True),
        AlertRule(name="estimated_auc_low", when="estimated_auc", below=0.75, for_days=2, of_days=2),
        AlertRule(name="data_quality", when="data_quality", severity="info"),
    )
    return dataclasses.replace(base, alerts=AlertsConfig(rules=rules, retrain_cooldown_days=3,
                                                         retrain_after_labelled_days=0))


def write_monitoring(lake, model, days, *, failed_quality=()):
    """The rows a monitoring run writes for ``days`` (drift for the whole population and region eu)."""
    drift, counts, perf, quality = [], [], [], []
    for d in days:
        i = DAYS.index(d)
        n_hot = 2 if DRIFTED[i] == "x" else 0
        for slice_key, slice_value in ((None, None), ("region", "eu")):
            for j, col in enumerate([*FEATURES, "score"]):
                status = "alert" if j < n_hot and slice_key is None else "ok"
                drift.append(row(DRIFT_METRICS, ds=d, model_name=model.name, model_version=1, column_name=col,
                                 column_type="score" if col == "score" else "numeric", drift_type="baseline",
                                 slice_key=slice_key, slice_value=slice_value, n_current=400, n_baseline=4000,
                                 psi=0.4 if status == "alert" else 0.01, status=status, warn_threshold=0.1,
                                 alert_threshold=0.25))
        counts.append(row(DRIFT_COUNTS, ds=d, model_name=model.name, model_version=1, column_name="score",
                          column_type="score", n_rows=400, n_null=0, bin_counts=[400]))
        perf.append(row(PERFORMANCE_METRICS, ds=d, model_name=model.name, model_version=1, kind="estimated",
                        n_scored=400, n_labeled=0, auc=ESTIMATED_AUC[i]))
        quality.append(row(DATA_QUALITY, ds=d, job_run_id="r1", job="prepare", model_name=model.name,
                           suite="s", stage="features", expectation="rows", policy="fail",
                           success=d not in failed_quality, checked_at=pa.scalar(0, pa.timestamp("us", tz="UTC")).as_py()))
    where = {"model_name": [model.name], "ds": list(days)}
    for spec, rows in ((DRIFT_METRICS, drift), (DRIFT_COUNTS, counts), (PERFORMANCE_METRICS, perf)):
        lake.overwrite_rows(pa.Table.from_pylist(rows, schema=spec.schema), spec, partitions=where)
    lake.overwrite_rows(pa.Table.from_pylist(quality, schema=DATA_QUALITY.schema), DATA_QUALITY,
                        partitions={"ds": list(days)})


def row(spec, **values):
    return {name: values.get(name) for name in spec.schema.names}


def history(lake, model) -> list[tuple]:
    """Every ml.alerts row without what the receiver answered, in a stable order."""
    keep = [c for c in ALERTS.schema.names if not c.startswith("notification")]
    rows = lake.read_arrow(ALERTS.name, where={"model_name": [model.name]}).select(keep).to_pylist()
    return sorted(tuple(r.values()) for r in rows)


def test_history_is_the_same_day_by_day_as_a_backfill_and_a_rerun(tmp_path, model):
    one_by_one = EmbeddedLake(None, tmp_path / "a")
    write_monitoring(one_by_one, model, DAYS)
    results = [evaluate_alerts(one_by_one, model, days=[d]) for d in DAYS]

    backfill = EmbeddedLake(None, tmp_path / "b")
    write_monitoring(backfill, model, DAYS)
    evaluate_alerts(backfill, model, days=DAYS[:5])
    evaluate_alerts(backfill, model, days=DAYS[5:])
    expected = history(one_by_one, model)
    assert history(backfill, model) == expected
    evaluate_alerts(backfill, model, days=DAYS[3:8])  # a rerun of a middle range
    evaluate_alerts(backfill, model, days=[DAYS[6]])
    assert history(backfill, model) == expected

    states = {(r["ds"], r["rule"], r["slice_key"]): r["state"] for x in results for r in x.rows}
    drifted = [states.get((d, "many_features_drifted", None), "-")[0] for d in DAYS]
    # x at days 2,4,5,7,8: pending on 2, firing from 4 (2 of 3), held one quiet day, resolved on 10.
    assert drifted == ["-", "-", "p", "-", "f", "f", "f", "f", "f", "f", "r", "-"]
    # The region slice never drifts: no row at all.
    assert not any(k[2] == "region" for k in states)
    auc = [states.get((d, "estimated_auc_low", None), "-")[0] for d in DAYS]
    assert auc == ["-", "-", "-", "p", "f", "r", "-", "p", "f", "f", "r", "-"]


def test_retrain_requested_once_per_cooldown_and_never_on_a_failed_quality_day(tmp_path, model):
    lake = EmbeddedLake(None, tmp_path)
    write_monitoring(lake, model, DAYS, failed_quality={DAYS[4]})
    requests = [r for d in DAYS for r in evaluate_alerts(lake, model, days=[d]).retrain_requests]
    # Firing from day 4 (quality failed: no request), asks on day 5, the 3-day cooldown holds days 6-7,
    # day 8 asks again; day 9 is still firing but its condition cleared (kept firing): no request.
    assert [r.ds for r in requests] == [DAYS[5], DAYS[8]]
    assert {r.rule for r in requests} == {"many_features_drifted"}
    stored = lake.read_arrow(ALERTS.name).to_pylist()
    asked = sorted(r["ds"] for r in stored if r["retrain_requested"])
    assert asked == [DAYS[5], DAYS[8]]
    dq = [r for r in stored if r["rule"] == "data_quality"]
    assert [r["ds"] for r in dq if r["state"] == "firing"] == [DAYS[4]]
    firing = next(r for r in dq if r["state"] == "firing")
    assert '"expectation":"rows"' in firing["evidence"] and firing["value"] == 1


def test_retrain_waits_for_labelled_days_of_the_change(tmp_path, model):
    """The episode fires on day 4 (its first day: the pending day 2 lapsed on day 3); with labels a day
    late and 4 labelled days needed, days 4..7 have labels on day 8, whose condition holds: the request
    comes then, naming the day the change began."""
    waiting = dataclasses.replace(model, alerts=dataclasses.replace(model.alerts, retrain_after_labelled_days=4))
    lake = EmbeddedLake(None, tmp_path)
    write_monitoring(lake, waiting, DAYS)
    results = [evaluate_alerts(lake, waiting, days=[d]) for d in DAYS]
    requests = [r for x in results for r in x.retrain_requests]
    assert [(r.ds, r.change_began) for r in requests] == [(DAYS[8], DAYS[4])]
    day5 = next(r for r in results[5].rows if r["rule"] == "many_features_drifted" and r["slice_key"] is None)
    assert day5["state"] == "firing" and not day5["retrain_requested"]
    assert "the retrain waits for 4 labelled days of the change since 2024-03-05 (1 so far)" in day5["summary"]


def test_receivers_hear_firing_and_resolved_once_even_when_a_day_is_rerun(tmp_path, model):
    lake = EmbeddedLake(None, tmp_path)
    write_monitoring(lake, model, DAYS)
    with Receiver(fail_first=1) as r:
        hook = Webhook(url=r.url, token="t0ken", backoff_seconds=0.01)
        for d in DAYS:
            evaluate_alerts(lake, model, days=[d], webhook=hook)
        sent = len(r.requests)
        evaluate_alerts(lake, model, days=DAYS[3:6], webhook=hook)  # a rerun sends nothing new
        assert len(r.requests) == sent
    statuses = [(b["status"], a["labels"]["alertname"]) for b in r.requests for a in b["alerts"]]
    assert statuses.count(("firing", "many_features_drifted")) == 1
    assert statuses.count(("resolved", "many_features_drifted")) == 1
    rows = lake.read_arrow(ALERTS.name).to_pylist()
    first = next(x for x in rows if x["rule"] == "estimated_auc_low" and x["ds"] == DAYS[4])
    assert first["notification"] == "sent"
    assert all("t0ken" not in str(v) and "s3cret" not in str(v) for x in rows for v in x.values())


def test_a_dead_receiver_is_recorded_and_the_run_succeeds(tmp_path, model):
    lake = EmbeddedLake(None, tmp_path)
    write_monitoring(lake, model, DAYS[:6])
    with Receiver(fail_first=1000, fail_status=502) as r:
        hook = Webhook(url=r.url, retries=1, backoff_seconds=0.01)
        for d in DAYS[:6]:
            evaluate_alerts(lake, model, days=[d], webhook=hook)
    failed = [x for x in lake.read_arrow(ALERTS.name).to_pylist() if x["notification"] == "failed"]
    assert failed and all(x["notification_attempts"] == 2 and "HTTP 502" in x["notification_error"] for x in failed)
