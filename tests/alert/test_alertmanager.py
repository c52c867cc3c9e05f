"""Alertmanager's API v2 against the real thing: Debian's Alertmanager (``make tools``) on 127.0.0.1,
routing to the test receiver (tests/alert_receiver.py), and the alert job's state pushes.

The route groups and waits 1 second, so notifications come within seconds; its repeat_interval
is an hour, so a second notification of the same alert in a test can only come from a change,
never from a reminder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta

import pytest
from alert_receiver import Receiver

from lakeops.alert import evaluate_alerts
from lakeops.alert.alertmanager import (
    DEFAULT_HORIZON,
    HORIZON_ENV,
    TOKEN_ENV,
    URL_ENV,
    Alertmanager,
    alertmanager_from_env,
    day_state,
    postable,
    push,
)
from lakeops.alert.notify import Notice, alert_labels
from lakeops.config import AlertRule, AlertsConfig, load_settings
from lakeops.errors import InvalidParameterError

TODAY = datetime.now(UTC).date()
GROUP_SECONDS = 1.0  # the route's group_wait and group_interval


def notice(status: str = "firing", *, rule: str = "score_drift", slice_value: str | None = "eu",
           ds: date = TODAY, fp: str = "0123456789abcdef") -> Notice:
    return Notice(status, "incident_risk", rule, "critical", "region" if slice_value else None, slice_value,
                  ds, ds - timedelta(days=1), "score PSI 0.310", '{"psi":0.31}', fp, False)


def wait_for(what: str, condition, *, seconds: float = 15.0):
    """Poll ``condition`` until it returns something true, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds:.0f} s")
        time.sleep(0.05)


def api(am: Alertmanager, path: str, body=None):
    request = urllib.request.Request(am.url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


def active(am: Alertmanager) -> dict[str, dict]:
    """What ``GET /api/v2/alerts`` lists (active, silenced and inhibited; resolved ones are left out), by alertname."""
    return {a["labels"]["alertname"]: a for a in api(am, "/api/v2/alerts")}


def notified(receiver: Receiver, status: str, alertname: str) -> list[dict]:
    """The alerts of ``status`` the receiver got for ``alertname``."""
    return [a for body in list(receiver.requests) for a in body["alerts"]
            if a["status"] == status and a["labels"]["alertname"] == alertname]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def alertmanager(prometheus_server, receiver, tmp_path) -> Alertmanager:
    config = {
        "route": {"receiver": "lakeops", "group_by": ["alertname", "model"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "lakeops", "webhook_configs": [{"url": receiver.url, "send_resolved": True}]}],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    url = prometheus_server("prometheus-alertmanager", lambda port: [
        f"--config.file={path}", f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"])
    return Alertmanager(url=url, retries=1, backoff_seconds=0.01)


# ----------------------------------------------------------------------------- without a server


def test_postable_is_what_prometheus_sends():
    now = datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    firing = postable(notice(ds=date(2024, 3, 5)), now=now, horizon=DEFAULT_HORIZON)
    assert set(firing) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    assert firing["labels"] == alert_labels(notice()) == {"alertname": "score_drift", "model": "incident_risk",
                                                          "severity": "critical", "region": "eu"}
    assert firing["annotations"]["ds"] == "2024-03-05"
    assert firing["startsAt"] == "2024-03-04T00:00:00.000Z" and firing["endsAt"] == "2024-03-06T18:30:00.000Z"
    resolved = postable(notice("resolved", ds=date(2024, 3, 5)), now=now, horizon=DEFAULT_HORIZON)
    assert resolved["endsAt"] == "2024-03-05T06:30:00.000Z"
    # A day ahead of the clock starts now: Alertmanager refuses an alert that ends before it starts.
    ahead = postable(notice("resolved", ds=date(2030, 1, 2)), now=now, horizon=DEFAULT_HORIZON)
    assert ahead["startsAt"] == ahead["endsAt"] == "2024-03-05T06:30:00.000Z"


def test_alertmanager_from_env_and_secrets_never_in_repr():
    assert alertmanager_from_env({}) is None
    am = alertmanager_from_env({URL_ENV: "https://am.example.com:9093/prefix", TOKEN_ENV: "tok", HORIZON_ENV: "48"})
    assert am.endpoint == "https://am.example.com:9093/prefix/api/v2/alerts" and am.token == "tok"
    assert am.horizon == timedelta(hours=48) and am.name == "https://am.example.com:9093"
    assert "prefix" not in repr(am) and "tok" not in repr(am)
    assert alertmanager_from_env({URL_ENV: "http://am:9093"}).horizon == timedelta(hours=36)
    for bad in ({URL_ENV: "am:9093"}, {URL_ENV: "http://am:9093", HORIZON_ENV: "a day"},
                {URL_ENV: "http://am:9093", HORIZON_ENV: "0"}, {URL_ENV: "http://am:9093/?x=1"}):
        with pytest.raises(ValueError):
            alertmanager_from_env(bad)


def test_day_state_is_the_newest_day_of_a_backfill():
    def row(ds, state, fp):
        n = notice(ds=ds, fp=fp)
        return {"ds": ds, "state": state, "fingerprint": fp, "model_name": n.model, "rule": f"rule_{fp}",
                "severity": n.severity, "slice_key": None, "slice_value": None, "firing_since": ds,
                "summary": "", "evidence": "{}", "retrain_requested": False}

    d1, d2, d3 = (date(2024, 3, d) for d in (1, 2, 3))
    rows = [row(d1, "firing", "a"), row(d2, "resolved", "a"),  # fired and resolved inside the backfill
            row(d2, "firing", "b"), row(d3, "firing", "b"),  # firing on the newest day
            row(d3, "pending", "c"),  # pending: not an alert yet
            row(d2, "firing", "e"), row(d3, "resolved", "e")]  # resolved on the newest day
    earlier = [row(date(2024, 2, 29), "firing", "d")]  # firing the day before; its rule is gone
    firing, resolved = day_state(rows, newest=d3, earlier_firing=earlier)
    assert [(n.fingerprint, n.ds) for n in firing] == [("b", d3)]
    assert sorted((n.fingerprint, n.ds, n.status) for n in resolved) == [
        ("a", d2, "resolved"), ("d", date(2024, 2, 29), "resolved"), ("e", d3, "resolved")]


# ----------------------------------------------------------------------------- through Alertmanager


def test_a_firing_alert_reaches_the_receiver_through_alertmanager(alertmanager, receiver):
    delivery = push(alertmanager, [notice()])
    assert delivery.outcome == "sent" and delivery.attempts == 1
    alert = wait_for("firing notification", lambda: notified(receiver, "firing", "score_drift"))[0]
    assert alert["labels"] == {"alertname": "score_drift", "model": "incident_risk", "severity": "critical",
                               "region": "eu"}
    assert alert["annotations"]["summary"] == "score PSI 0.310"
    listed = active(alertmanager)["score_drift"]
    assert listed["status"]["state"] == "active"
    ends = parse_time(listed["endsAt"]) - datetime.now(UTC)
    assert timedelta(hours=35, minutes=59) < ends <= timedelta(hours=36)


def test_a_silence_holds_the_alert_back(alertmanager, receiver):
    now = datetime.now(UTC)
    silence = api(alertmanager, "/api/v2/silences", {
        "matchers": [{"name": "alertname", "value": "score_drift", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "tests", "comment": "maintenance"})
    assert push(alertmanager, [notice(), notice(rule="estimated_auc_low", fp="fedcba9876543210")]).outcome == "sent"
    # The other alert's group is flushed as the silenced one's would be: once it is in, wait a
    # group interval more, and the silenced alert has had every chance to come through.
    wait_for("notification of the unsilenced alert", lambda: notified(receiver, "firing", "estimated_auc_low"))
    time.sleep(GROUP_SECONDS * 1.5)
    assert notified(receiver, "firing", "score_drift") == []
    listed = active(alertmanager)["score_drift"]
    assert listed["status"]["state"] == "suppressed" and listed["status"]["silencedBy"] == [silence["silenceID"]]


def test_a_resolve_ends_it(alertmanager, receiver):
    push(alertmanager, [notice()])
    wait_for("firing notification", lambda: notified(receiver, "firing", "score_drift"))
    assert push(alertmanager, [], [notice("resolved")]).outcome == "sent"
    alert = wait_for("resolved notification", lambda: notified(receiver, "resolved", "score_drift"))[0]
    assert alert["labels"]["region"] == "eu"
    assert "score_drift" not in active(alertmanager)


def test_resending_a_still_firing_alert_keeps_it_active_and_notifies_once(alertmanager, receiver):
    push(alertmanager, [notice()])
    wait_for("firing notification", lambda: notified(receiver, "firing", "score_drift"))
    first_end = parse_time(active(alertmanager)["score_drift"]["endsAt"])
    # The next run: the same alert (same labels), its annotations of the next day, a later horizon.
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert push(alertmanager, [notice(ds=TODAY + timedelta(days=1))], now=later).outcome == "sent"
    listed = active(alertmanager)["score_drift"]
    assert parse_time(listed["endsAt"]) > first_end and listed["status"]["state"] == "active"
    assert listed["annotations"]["ds"] == (TODAY + timedelta(days=1)).isoformat()
    time.sleep(GROUP_SECONDS * 2.5)  # two group intervals: a new notification would be in by now
    assert len(notified(receiver, "firing", "score_drift")) == 1
    assert len(receiver.requests) == 1


def test_a_down_alertmanager_fails_quickly_and_quietly(caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's retry warnings and debug lines quote the URL's path: withheld
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    am = Alertmanager(url=f"http://127.0.0.1:{port}/s3cret-prefix", token="s3cret-token", retries=1,
                      backoff_seconds=0.01)
    t0 = time.monotonic()
    delivery = push(am, [notice()], [notice("resolved", rule="other")])
    assert time.monotonic() - t0 < 5
    assert delivery.outcome == "failed" and delivery.attempts == 2
    for text in (delivery.error, caplog.text):
        assert "s3cret" not in text
    assert "Retrying" in caplog.text and "<withheld>" in caplog.text
    assert f"http://127.0.0.1:{port} did not take 1 firing and 1 resolved" in caplog.text


# ----------------------------------------------------------------------------- the alert job


def alert_model():
    """tests/alert/test_run.py's model and rules, whose states over its days that file asserts."""
    base = load_settings(conf_dir="conf").model("incident_risk")
    rules = (
        AlertRule(name="many_features_drifted", when="features_drifted", at_least=2, for_days=2, of_days=3,
                  keep_firing_days=1, severity="critical", retrain=True, per_slice=True),
        AlertRule(name="estimated_auc_low", when="estimated_auc", below=0.75, for_days=2, of_days=2),
        AlertRule(name="data_quality", when="data_quality", severity="info"),
    )
    return dataclasses.replace(base, alerts=AlertsConfig(rules=rules, retrain_cooldown_days=3))


def test_the_alert_job_gives_alertmanager_the_newest_day_state(tmp_path, alertmanager, receiver, monkeypatch):
    # ml.alerts over an embedded lake, monitored a day at a time as the daily DAG does (tests/alert/test_run.py).
    from test_run import DAYS, write_monitoring

    from lakeops.lake.embedded import EmbeddedLake

    model = alert_model()
    lake = EmbeddedLake(None, tmp_path / "lake")
    monkeypatch.setenv(URL_ENV, alertmanager.url)  # the job reads it, as from the DAG

    def run(days, **kwargs):
        write_monitoring(lake, model, days)
        return evaluate_alerts(lake, model, days=days, **kwargs)

    outcomes = [run([d]).alertmanager.outcome for d in DAYS[:4]]
    assert outcomes == ["none"] * 4  # nothing firing yet (pending on days 2 and 3)
    day4 = run([DAYS[4]])
    assert day4.alertmanager.outcome == "sent"
    assert set(active(alertmanager)) == {"many_features_drifted", "estimated_auc_low"}
    wait_for("firing notifications", lambda: notified(receiver, "firing", "many_features_drifted")
             and notified(receiver, "firing", "estimated_auc_low"))

    # Day 5: estimated_auc_low resolves, many_features_drifted still fires (sent again, not notified again).
    assert run([DAYS[5]]).alertmanager.outcome == "sent"
    assert set(active(alertmanager)) == {"many_features_drifted"}
    wait_for("resolved notification", lambda: notified(receiver, "resolved", "estimated_auc_low"))
    assert len(notified(receiver, "firing", "many_features_drifted")) == 1

    # A rerun of day 4 is history: Alertmanager keeps day 5's state.
    rerun = evaluate_alerts(lake, model, days=[DAYS[4]])
    assert rerun.alertmanager.outcome == "skipped"
    assert set(active(alertmanager)) == {"many_features_drifted"}

    # A backfill of days 6-10: only day 10 counts, where everything has resolved.
    backfill = run(DAYS[6:11])
    assert backfill.alertmanager.outcome == "sent" and backfill.open_alerts(DAYS[10]) == []
    assert active(alertmanager) == {}

    # Without LAKEOPS_ALERTMANAGER_URL nothing is sent; an invalid one is a usage error.
    monkeypatch.delenv(URL_ENV)
    assert evaluate_alerts(lake, model, days=[DAYS[10]]).alertmanager is None
    monkeypatch.setenv(URL_ENV, "alertmanager:9093")
    with pytest.raises(InvalidParameterError, match=URL_ENV):
        evaluate_alerts(lake, model, days=[DAYS[10]])


def test_a_down_alertmanager_never_fails_the_alert_job(tmp_path):
    from test_run import DAYS, write_monitoring

    from lakeops.lake.embedded import EmbeddedLake

    model = alert_model()
    lake = EmbeddedLake(None, tmp_path / "lake")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    am = Alertmanager(url=f"http://127.0.0.1:{port}", retries=1, backoff_seconds=0.01)
    for d in DAYS[:5]:
        write_monitoring(lake, model, [d])
        result = evaluate_alerts(lake, model, days=[d], alertmanager=am)
    assert result.alertmanager.outcome == "failed" and len(result.open_alerts(DAYS[4])) == 2
