"""The alerts part of a day page and of the index: open and resolved alerts with their evidence.

Shapes rows of ``ml.alerts`` (one per model, day, rule and slice while an alert
is pending or firing, and on the day it resolves) into what ``alerts.html``
shows: the day's alerts, worst first, each with since when it is open, what the
receivers answered and its evidence. The evidence is the rule's JSON; it is
turned into small tables of plain values (a list of objects, such as the drifted
features with their PSI beside the noise floor, becomes a table; anything else
becomes key/value rows), and the template escapes every one of them. Reads and
writes no tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from lakeops.constants import ALERT_STATES, SEVERITIES
from lakeops.report.values import dates, num, to_float, with_columns

COLUMNS = [
    "ds", "model_name", "model_version", "rule", "kind", "slice_key", "slice_value", "fingerprint", "state",
    "severity", "met", "value", "threshold", "first_seen", "firing_since", "last_seen", "quiet_days", "summary",
    "evidence", "retrain_requested", "notification", "notification_attempts", "notification_error",
]  # fmt: skip

_PENDING, _FIRING, _RESOLVED = ALERT_STATES
STATES = (_FIRING, _PENDING, _RESOLVED)  # the order a page lists them in
_STATE_ORDER = {state: i for i, state in enumerate(STATES)}
_SEVERITY_ORDER = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # the gravest first
#: Rows of one evidence table shown before "... and N more".
EVIDENCE_ROWS = 12
#: Characters of one evidence text (e.g. a data-quality check's sample rows) shown before "…".
EVIDENCE_TEXT = 120

# Evidence keys shown first, in this order, and their column labels; others follow alphabetically.
_KEY_ORDER = ["stage", "expectation", "column", "feature", "policy", "day", "psi", "noise_floor", "alert_threshold",
              "rank", "reference_rank", "mean_abs_shap", "reference_mean_abs_shap", "n_current", "n_baseline"]
_LABELS = {
    "psi": "PSI", "noise_floor": "noise floor", "alert_threshold": "alert at", "n_current": "rows",
    "n_baseline": "baseline rows", "mean_abs_shap": "mean |SHAP|", "reference_mean_abs_shap": "training mean |SHAP|",
    "reference_rank": "training rank", "ndcg": "nDCG", "auc_lower": "AUC lower", "auc_upper": "AUC upper",
    "estimated_auc": "estimated AUC", "realised_auc": "realised AUC", "training_auc": "training AUC",
    "estimated_accuracy": "estimated accuracy", "realised_accuracy": "realised accuracy",
    "training_accuracy": "training accuracy", "accuracy_lower": "accuracy lower", "accuracy_upper": "accuracy upper",
    "class_name": "class", "support": "labelled rows", "predicted": "predicted rows",
    "n_scored": "scored rows", "n_labeled": "labelled rows", "features_at_alert": "features at alert",
    "features_judged": "features judged", "top_movers": "top movers", "failed": "failed expectations",
}  # fmt: skip


@dataclass(frozen=True)
class EvidenceBlock:
    """One piece of an alert's evidence: a table (``head`` and ``rows``) or key/value ``pairs``."""

    title: str = ""
    head: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned numbers
    rows: list[list[str]] = field(default_factory=list)
    more: int = 0  # rows left out
    pairs: list[tuple[str, str]] = field(default_factory=list)
    raw: str | None = None  # evidence that is not a JSON object, shown as text


@dataclass(frozen=True)
class Alerts:
    """What the alerts section of a day shows; ``empty`` is the one muted line when there is nothing."""

    empty: str | None = None
    alerts: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def frame(alerts: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``ml.alerts`` with every contract column, dates as dates and lower-case words."""
    rows = with_columns(alerts, COLUMNS)
    if rows.empty:
        return rows
    words = {c: rows[c].astype("string").str.strip().str.lower() for c in ("state", "severity", "notification")}
    return rows.assign(ds=dates(rows["ds"]), **words)


def build(alerts: pd.DataFrame | None, ds: date) -> Alerts:
    """The alerts of ``ds``: firing first, then pending, then those that resolved that day."""
    if alerts is None:
        return Alerts(empty="No alerts: this lake has no ml.alerts table.")
    rows = frame(alerts)
    rows = rows[rows["ds"] == ds] if not rows.empty else rows
    if rows.empty:
        return Alerts(empty="No alert was pending, firing or resolved on this day.")
    rows = rows.assign(_state=rows["state"].map(lambda s: _STATE_ORDER.get(s, len(STATES))),
                       _severity=rows["severity"].map(lambda s: _SEVERITY_ORDER.get(s, len(_SEVERITY_ORDER))),
                       _slice=rows["slice_key"].fillna("") + "=" + rows["slice_value"].fillna(""))  # fmt: skip
    rows = rows.sort_values(["_state", "_severity", "rule", "_slice"], kind="stable", na_position="last")
    counts = {state: int((rows["state"] == state).sum()) for state in STATES}
    return Alerts(alerts=[_alert(r, ds) for r in rows.to_dict("records")], counts=counts)


def per_day(alerts: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per day: alerts firing, pending and resolved, and whether a retrain was requested (None without a table)."""
    if alerts is None:
        return None
    rows = frame(alerts)
    out = pd.DataFrame({state: (rows["state"] == state).groupby(rows["ds"]).sum() for state in STATES})
    out["retrain"] = rows["retrain_requested"].map(is_true).groupby(rows["ds"]).any()
    return out.astype({state: int for state in STATES})


def since(row: Mapping[str, Any], ds: date) -> str:
    """Since when an alert is open, in words: 'firing since 2024-03-02 (3 days)' and the like."""
    state, first, firing = row["state"], _date(row["first_seen"]), _date(row["firing_since"])
    last = _date(row["last_seen"])
    if state == "firing" and firing is not None:
        text = f"firing since {firing.isoformat()} ({_days(firing, ds)})"
        if first is not None and first < firing:
            text += f", first seen {first.isoformat()}"
        return text
    if state == "pending" and first is not None:
        return f"pending since {first.isoformat()} ({_days(first, ds)}), not firing yet"
    if state == "resolved":
        span = f"fired from {firing.isoformat()}" if firing is not None else (
            f"open from {first.isoformat()}" if first is not None else "resolved")
        return f"resolved on {ds.isoformat()}; {span}" + (f", condition last held {last.isoformat()}" if last else "")
    return ""


def evidence(text: object) -> list[EvidenceBlock]:
    """An alert's JSON evidence as small tables of display strings (nothing is markup: the template escapes)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text).strip() in ("", "{}"):
        return []
    try:
        value = json.loads(str(text))
    except ValueError:
        return [EvidenceBlock(raw=str(text))]
    if not isinstance(value, dict):
        return [EvidenceBlock(raw=json.dumps(value, sort_keys=True))]
    pairs = [(_label(k), _value(v, k)) for k, v in _ordered(value) if not _is_table(v)]
    blocks = [EvidenceBlock(pairs=pairs)] if pairs else []
    blocks += [_table(_label(k), v) for k, v in _ordered(value) if _is_table(v)]
    return blocks


# ---------------------------------------------------------------- machinery


def _alert(r: dict, ds: date) -> dict:
    attempts = to_float(r["notification_attempts"])
    notification = r["notification"] if isinstance(r["notification"], str) else ""
    note = ""
    if notification == "sent":
        note = "notified" + (f" ({attempts:.0f} attempts)" if attempts > 1 else "")
    elif notification == "failed":
        note = f"notification failed after {attempts:.0f} attempt{'s' if attempts != 1 else ''}"
        if isinstance(r["notification_error"], str) and r["notification_error"]:
            note += f": {r['notification_error']}"
    return {
        "rule": _text(r["rule"]), "kind": _text(r["kind"]), "state": r["state"] if r["state"] in STATES else "n/a",
        "severity": _text(r["severity"]) or "n/a", "population": population(r), "summary": _text(r["summary"]),
        "since": since(r, ds), "value": num(r["value"], ".4g"), "threshold": num(r["threshold"], ".4g"),
        "has_value": not math.isnan(to_float(r["value"])), "met": is_true(r["met"]),
        "retrain": is_true(r["retrain_requested"]), "notification": note, "failed": notification == "failed",
        "fingerprint": _text(r["fingerprint"]), "version": r["model_version"],
        "evidence": evidence(r["evidence"]),
    }  # fmt: skip


def population(r: Mapping[str, Any]) -> str:
    key = _text(r["slice_key"])
    return f"{key}={_text(r['slice_value'])}" if key else "whole population"


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


def is_true(value: object) -> bool:
    return value is True or (value is not None and value is not pd.NA and not isinstance(value, float) and bool(value))


def _date(value: object) -> date | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if type(value) is date else pd.Timestamp(value).date()  # a datetime or Timestamp: its day


def _days(start: date, end: date) -> str:
    n = (end - start).days + 1
    return f"{n} day{'s' if n != 1 else ''}"


def _is_table(value: object) -> bool:
    """A list of objects or an object of plain values: shown as a table."""
    if isinstance(value, dict):
        return bool(value) and not any(isinstance(v, dict | list) for v in value.values())
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _ordered(value: dict) -> list[tuple[str, Any]]:
    rank = {k: i for i, k in enumerate(_KEY_ORDER)}
    return sorted(value.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _table(title: str, value: dict | list) -> EvidenceBlock:
    items = [value] if isinstance(value, dict) else value
    keys = [k for k, _ in _ordered(dict.fromkeys(k for item in items for k in item))]
    # How far beyond sampling noise a PSI is, where the noise floor is known.
    ratio = "psi" in keys and any(to_float(item.get("noise_floor")) > 0 for item in items)
    head = [_label(k) for k in keys] + (["PSI ÷ noise floor"] if ratio else [])
    numeric = [all(isinstance(item.get(k), int | float | None) for item in items) for k in keys] + [True] * ratio
    rows = []
    for item in items[:EVIDENCE_ROWS]:
        row = [_value(item.get(k), k) for k in keys]
        if ratio:
            psi, floor = to_float(item.get("psi")), to_float(item.get("noise_floor"))
            row.append(num(psi / floor, ".1f") + "×" if floor > 0 else "–")
        rows.append(row)
    return EvidenceBlock(title=title, head=head, numeric=numeric, rows=rows, more=max(len(items) - EVIDENCE_ROWS, 0))


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _value(value: object, key: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if not key.endswith(("rank", "version")) else str(value)
    if isinstance(value, float):
        return num(value, ".2e" if 0 < abs(value) < 0.001 else ".3f")
    if isinstance(value, list):
        return _cut(", ".join(_value(v) for v in value) if all(not isinstance(v, dict | list) for v in value) else (
            json.dumps(value, sort_keys=True)))
    if isinstance(value, dict):
        return _cut(json.dumps(value, sort_keys=True))
    return _cut(str(value))


def _cut(text: str) -> str:
    return text if len(text) <= EVIDENCE_TEXT else text[: EVIDENCE_TEXT - 1] + "…"
