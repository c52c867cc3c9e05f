"""Retrains, gate decisions and model-version changes: the events the trend charts mark.

From rows of ``ml.alerts`` (``retrain_requested``), ``ml.model_validations``
(the gate's decisions, with ``requested_by``: the fingerprint of the alert that
asked for the retrain) and the model version that scored each day, builds the
events of a window of days; :func:`lakeops.report.charts.mark_events` draws them
on the day page's trend charts and ``timeline.html`` lists them. Reads and
writes no tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from lakeops.report import alerts_section
from lakeops.report.values import dates, to_float, with_columns

VALIDATION_COLUMNS = ["ds", "model_name", "challenger_version", "champion_version", "decision", "reason",
                      "requested_by", "decided_at", "challenger_auc", "champion_auc"]  # fmt: skip

RETRAIN, PROMOTED, REJECTED, DECISION, VERSION = "retrain", "promoted", "rejected", "decision", "version"
#: What each kind is called in legends and tables.
KIND_LABELS = {RETRAIN: "retrain requested", PROMOTED: "gate: promoted", REJECTED: "gate: rejected",
               DECISION: "gate decision", VERSION: "scoring version changed"}  # fmt: skip


@dataclass(frozen=True)
class Event:
    """One event on one day: ``label`` is short (a chart mark), ``detail`` the whole sentence."""

    ds: date
    kind: str  # retrain | promoted | rejected | decision | version
    label: str
    detail: str

    @property
    def day(self) -> str:
        return self.ds.isoformat()

    @property
    def what(self) -> str:
        return KIND_LABELS[self.kind]


def events(
    *,
    alerts: pd.DataFrame | None,
    validations: pd.DataFrame | None,
    versions: pd.Series | None,
    start: date,
    end: date,
) -> list[Event]:
    """The events of the days ``start`` to ``end``, oldest first.

    Args:
        alerts: rows of ``ml.alerts`` for the model (any days), or None.
        validations: rows of ``ml.model_validations`` for the model (any days), or None.
        versions: the version that scored each day, indexed by day (any days), or None.
    """
    out: list[Event] = []
    requests = _requests(alerts)
    for r in requests.itertuples():
        if start <= r.ds <= end:
            where = f" on {r.population}" if r.population != "whole population" else ""
            out.append(Event(r.ds, RETRAIN, "retrain",
                             f"retrain requested by alert {r.rule}{where} ({r.fingerprint}): {r.summary}"))
    if validations is not None:
        rows = with_columns(validations, VALIDATION_COLUMNS)
        rows = rows.assign(ds=dates(rows["ds"])) if not rows.empty else rows
        rows = rows.sort_values(["ds", "decided_at"], kind="stable") if not rows.empty else rows
        for r in rows.to_dict("records"):
            if start <= r["ds"] <= end:
                out.append(_decision(r, requests))
    if versions is not None and len(versions):
        scored = versions.map(to_float).dropna().sort_index()
        previous = None
        for day, version in scored.items():
            if previous is not None and version != previous and start <= day <= end:
                out.append(Event(day, VERSION, f"v{version:.0f}",
                                 f"scored by version {version:.0f} from {day.isoformat()} (version {previous:.0f} before)"))
            previous = version
    order = {RETRAIN: 0, PROMOTED: 1, REJECTED: 1, DECISION: 1, VERSION: 2}
    return sorted(out, key=lambda e: (e.ds, order[e.kind]))


def window(end: date, days: int) -> date:
    """The first day of the ``days`` days up to ``end``."""
    return end - timedelta(days=days - 1)


def per_day(found: list[Event]) -> dict[date, list[Event]]:
    out: dict[date, list[Event]] = {}
    for event in found:
        out.setdefault(event.ds, []).append(event)
    return out


def _requests(alerts: pd.DataFrame | None) -> pd.DataFrame:
    """The retrain requests: day, rule, population, fingerprint and summary of each requesting alert row."""
    columns = ["ds", "rule", "population", "fingerprint", "summary"]
    if alerts is None:
        return pd.DataFrame(columns=columns)
    rows = alerts_section.frame(alerts)
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows[rows["retrain_requested"].map(alerts_section.is_true)]
    rows = rows.assign(population=[alerts_section.population(r) for r in rows.to_dict("records")])
    return rows[columns].sort_values("ds", kind="stable")


def _decision(r: dict, requests: pd.DataFrame) -> Event:
    decision = str(r["decision"] or "").strip().lower() or "decided"
    kind = PROMOTED if decision == "promoted" else REJECTED if decision == "rejected" else DECISION
    challenger, champion = _version(r["challenger_version"]), _version(r["champion_version"])
    against = f"against champion {champion}" if champion != "–" else "with no champion yet"
    detail = f"gate: challenger {challenger} {against}: {decision}"
    aucs = to_float(r["challenger_auc"]), to_float(r["champion_auc"])
    if not any(map(math.isnan, aucs)):
        detail += f" (holdout AUC {aucs[0]:.3f} vs {aucs[1]:.3f})"
    if r["reason"]:
        detail += f"; {r['reason']}"
    fingerprint = r["requested_by"]
    if isinstance(fingerprint, str) and fingerprint:
        asked = requests[(requests["fingerprint"] == fingerprint) & (requests["ds"] <= r["ds"])]
        detail += (f"; retrain asked by alert {asked['rule'].iloc[-1]} on {asked['ds'].iloc[-1].isoformat()}"
                   f" ({fingerprint})" if len(asked) else f"; retrain asked by alert {fingerprint}")
    return Event(r["ds"], kind, f"{challenger} {decision}", detail)


def _version(value: object) -> str:
    number = to_float(value)
    return "–" if math.isnan(number) else f"v{number:.0f}"
