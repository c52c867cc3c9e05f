"""The alerts section of the day page and the index: states, since when, evidence, escaping."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pandas as pd
from test_html import DS, assert_document, assert_offline, day, make_days, section

from lakeops.report.alerts_section import EVIDENCE_ROWS, EVIDENCE_TEXT, evidence, since
from lakeops.report.html import render_index

SCRIPT = "<script>alert(1)</script>"
DRIFT_EVIDENCE = {
    "features_at_alert": [
        {"column": "amount", "psi": 0.42, "noise_floor": 0.021, "alert_threshold": 0.25, "n_current": 10000,
         "n_baseline": 50000},
        {"column": SCRIPT, "psi": 0.3, "noise_floor": 0.03, "alert_threshold": 0.25, "n_current": 10000,
         "n_baseline": 50000},
    ],
    "features_judged": 11,
}  # fmt: skip


def alert(rule: str, state: str, **values) -> dict:
    row = {"ds": DS, "model_name": "churn", "model_version": 3, "rule": rule, "kind": "features_drifted",
           "slice_key": None, "slice_value": None, "fingerprint": f"fp-{rule}", "state": state,
           "severity": "warning", "met": state != "resolved", "value": 2.0, "threshold": 2.0,
           "first_seen": DS - timedelta(days=3), "firing_since": DS - timedelta(days=2) if state != "pending" else None,
           "last_seen": DS, "quiet_days": 0, "summary": f"{rule} summary", "evidence": "{}",
           "retrain_requested": False, "notification": "none", "notification_attempts": 0,
           "notification_error": None}  # fmt: skip
    row.update(values)
    return row


def make_alerts() -> pd.DataFrame:
    return pd.DataFrame([
        alert("auc_floor", "resolved", kind="estimated_auc", last_seen=DS - timedelta(days=1),
              evidence=json.dumps({"estimated_auc": 0.71, "training_auc": 0.86, "day": "2024-01-09"})),
        alert("drift_wide", "pending", severity="info", slice_key="region", slice_value="a<b"),
        alert("drift", "firing", severity="critical", evidence=json.dumps(DRIFT_EVIDENCE), retrain_requested=True,
              notification="failed", notification_attempts=3, notification_error="HTTP 503 <busy>"),
        alert("drift", "firing", ds=DS - timedelta(days=1)),  # another day: not on this page
    ])  # fmt: skip


def test_the_days_alerts_worst_first_with_since_when_and_evidence():
    page = day(alerts=make_alerts())
    assert_document(page)
    assert_offline(page)
    alerts = section(page, "Alerts")
    # Near the top: right after the header, before the drift charts.
    assert page.index("<h2>Alerts") < page.index("<h2>PSI per column")
    assert re.findall(r'<div class="alert-card (\w+)">', alerts) == ["firing", "pending", "resolved"]
    assert "firing since 2024-01-08 (3 days), first seen 2024-01-07" in alerts
    assert "pending since 2024-01-07 (4 days), not firing yet" in alerts
    assert "resolved on 2024-01-10; fired from 2024-01-08, condition last held 2024-01-09" in alerts
    assert '<span class="badge retrain">retrain requested</span>' in alerts
    assert "notification failed after 3 attempts: HTTP 503 &lt;busy&gt;" in alerts
    assert "region=a&lt;b" in alerts
    # The header counts them.
    header = page[: page.index("</header>")]
    assert "1 firing" in header and "1 pending" in header and "1 resolved" in header


def test_drift_evidence_is_a_table_of_psi_against_the_noise_floor_escaped():
    alerts = section(day(alerts=make_alerts()), "Alerts")
    table = re.search(r"features at alert</p>.*?</table>", alerts, flags=re.S).group(0)
    head = re.findall(r"<th>(.*?)</th>", table)
    assert head[:4] == ["column", "PSI", "noise floor", "alert at"] and head[-1] == "PSI ÷ noise floor"
    first = re.findall(r"<td[^>]*>(.*?)</td>", table)[: len(head)]
    assert first == ["amount", "0.420", "0.021", "0.250", "10,000", "50,000", "20.0×"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table and SCRIPT not in alerts
    assert "features judged <b>11</b>" in alerts
    # Other kinds fall back to key/value pairs.
    assert "estimated AUC <b>0.710</b>" in alerts and "training AUC <b>0.860</b>" in alerts


def test_evidence_fallbacks():
    assert evidence(None) == [] and evidence("{}") == []
    raw = evidence("not json <b>")
    assert raw[0].raw == "not json <b>"
    nested = evidence(json.dumps({"score": {"column": "score", "psi": 0.3}, "tags": ["a", "b"], "n": 1234567}))
    assert nested[0].pairs == [("n", "1,234,567"), ("tags", "a, b")]
    assert nested[1].title == "score" and nested[1].head == ["column", "PSI"] and nested[1].rows == [["score", "0.300"]]
    many = evidence(json.dumps({"failed": [{"column": "c", "stage": f"s{i}", "observed": "x" * 500, "n": i}
                                           for i in range(EVIDENCE_ROWS + 3)]}))  # fmt: skip
    assert len(many[0].rows) == EVIDENCE_ROWS and many[0].more == 3
    assert many[0].head == ["stage", "column", "n", "observed"] and many[0].numeric == [False, False, True, False]
    assert many[0].rows[0][-1] == "x" * (EVIDENCE_TEXT - 1) + "…"
    # Without a known noise floor there is no ratio column.
    assert evidence(json.dumps({"f": [{"psi": 0.5, "noise_floor": None}]}))[0].head == ["PSI", "noise floor"]
    page = day(alerts=pd.DataFrame([alert("odd", "firing", evidence="</details><script>x</script>")]))
    assert_offline(page)
    assert '<pre class="evidence">&lt;/details&gt;&lt;script&gt;x&lt;/script&gt;</pre>' in page


def test_since_in_words():
    row = {"state": "firing", "first_seen": date(2024, 1, 10), "firing_since": date(2024, 1, 10),
           "last_seen": date(2024, 1, 10)}  # fmt: skip
    assert since(row, date(2024, 1, 10)) == "firing since 2024-01-10 (1 day)"


def test_without_alerts_table_or_rows():
    assert "No alerts: this lake has no ml.alerts table." in section(day(), "Alerts")
    empty = day(alerts=make_alerts().iloc[:0])
    assert "No alert was pending, firing or resolved on this day." in section(empty, "Alerts")
    assert "alert-line" not in empty


def test_index_marks_the_days_with_firing_alerts():
    rows = make_alerts()
    text = render_index(model_name="churn", days=make_days(), alerts=rows)
    assert_document(text)
    assert "<th>alerts</th>" in text
    firing = re.findall(r'<tr class="firing"><td><a href="([^"]+)">', text)
    assert firing == ["2024-01-10.html", "2024-01-09.html"]
    today = re.search(r'<a href="2024-01-10.html">.*?</tr>', text).group(0)
    assert "1 firing" in today and "1 pending" in today and "1 resolved" in today
    assert "<th>alerts</th>" not in render_index(model_name="churn", days=make_days())
