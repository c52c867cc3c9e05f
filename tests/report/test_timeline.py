"""Retrain requests, gate decisions and version changes: the table and the marks on the trend charts."""

from __future__ import annotations

import re

import pandas as pd
from test_alerts_section import alert
from test_html import DAYS, DS, assert_document, assert_offline, day, make_days, make_trend, section
from test_performance import make_performance

from lakeops.report.html import render_index
from lakeops.report.timeline import events

REQUEST_DAY, GATE_DAY, SWITCH_DAY = DAYS[5], DAYS[6], DAYS[7]


def make_alerts() -> pd.DataFrame:
    return pd.DataFrame([alert("drift<x>", "firing", ds=REQUEST_DAY, retrain_requested=True, fingerprint="fp-1")])


def make_validations() -> pd.DataFrame:
    return pd.DataFrame([
        {"ds": GATE_DAY, "model_name": "churn", "challenger_version": 4, "champion_version": 3,
         "decision": "promoted", "reason": "AUC 0.84 >= 0.80", "requested_by": "fp-1", "challenger_auc": 0.84,
         "champion_auc": 0.80},
    ])  # fmt: skip


def make_versions_trend() -> pd.DataFrame:
    trend = make_trend()
    return trend.assign(model_version=[3 if d < SWITCH_DAY else 4 for d in trend["ds"]])


def test_events_link_the_gate_to_the_requesting_alert():
    found = events(alerts=make_alerts(), validations=make_validations(),
                   versions=pd.Series({d: 3 if d < SWITCH_DAY else 4 for d in DAYS}), start=DAYS[0], end=DS)
    assert [(e.ds, e.kind, e.label) for e in found] == [
        (REQUEST_DAY, "retrain", "retrain"), (GATE_DAY, "promoted", "v4 promoted"), (SWITCH_DAY, "version", "v4")]
    assert "retrain asked by alert drift<x> on 2024-01-06 (fp-1)" in found[1].detail
    assert "holdout AUC 0.840 vs 0.800" in found[1].detail
    assert events(alerts=None, validations=None, versions=None, start=DAYS[0], end=DS) == []
    first = make_validations().assign(champion_version=None, requested_by=None, reason=None)
    [initial] = events(alerts=None, validations=first, versions=None, start=DAYS[0], end=DS)
    assert initial.detail == "gate: challenger v4 with no champion yet: promoted (holdout AUC 0.840 vs 0.800)"
    # Outside the window: nothing.
    assert events(alerts=make_alerts(), validations=make_validations(), versions=None, start=DS, end=DS) == []


def test_the_day_page_lists_and_marks_them():
    page = day(alerts=make_alerts(), validations=make_validations(), trend=make_versions_trend(),
               performance_metrics=make_performance())  # fmt: skip
    assert_document(page)
    assert_offline(page)
    table = section(page, "Retrains and gate decisions")
    listed = re.findall(r'<td class="num">(\d{4}-\d\d-\d\d)</td>', table)
    assert listed == [d.isoformat() for d in (SWITCH_DAY, GATE_DAY, REQUEST_DAY)]  # newest first
    assert "drift&lt;x&gt;" in table and "drift<x>" not in page
    # Marked on the heatmap (a lane above the grid) and on the performance chart.
    heat = section(page, "Since when")
    assert "retrain · gate" in heat
    for fragment in (heat, section(page, "Model performance")):
        assert "<title>2024-01-06 · retrain requested by alert drift&lt;x&gt;" in fragment
        assert "<title>2024-01-07 · gate: challenger v4 against champion v3: promoted" in fragment
        assert "<title>2024-01-08 · scored by version 4 from 2024-01-08 (version 3 before)" in fragment


def test_without_tables_or_events():
    assert "neither ml.alerts nor ml.model_validations" in section(day(), "Retrains and gate decisions")
    quiet = day(alerts=make_alerts().iloc[:0], validations=make_validations().iloc[:0])
    assert "No retrain request, gate decision or change of scoring version in the last 30 days." in quiet
    assert "retrain · gate" not in quiet


def test_index_shows_the_events_per_day():
    days = make_days().assign(model_version=[3 if d < SWITCH_DAY else 4 for d in DAYS])
    text = render_index(model_name="churn", days=days, alerts=make_alerts(), validations=make_validations())
    assert_document(text)
    for d, label in ((REQUEST_DAY, "retrain"), (GATE_DAY, "v4 promoted"), (SWITCH_DAY, "v4")):
        row = re.search(rf'<a href="{d.isoformat()}.html">.*?</tr>', text).group(0)
        assert f">{label}</span>" in row
