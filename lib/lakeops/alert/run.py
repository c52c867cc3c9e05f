"""Judge a model's alert rules on monitored days, record the states, tell people, ask for retrains.

Reads, for the days asked for, what the monitoring run wrote: ``ml.drift_metrics``,
``ml.performance_metrics`` (estimated rows of the day, realised rows of the
day whose labels arrived with it), ``ml.performance_reference`` (the training
holdout AUC), ``ml.data_quality`` and ``ml.attribution_drift``; and from
``ml.alerts`` the states of the monitored days just before them
(``ml.drift_counts`` says which days were monitored). Writes the
``(model_name, ds)`` partitions of ``ml.alerts`` for those days, and a row in
``ml.job_runs``. Small tables only: everything is read with Arrow, no Spark job.

The days are judged in order, each from the previous one (:mod:`lakeops.alert.state`),
so a rerun of a day or a range writes the same rows. A receiver is told only when
the state changes (firing, resolved), and not again when a rerun finds the same
change already delivered.

Alertmanager (:mod:`lakeops.alert.alertmanager`, when ``LAKEOPS_ALERTMANAGER_URL`` is set) is
given the *state* of the newest judged day instead, on every run: every alert firing on it,
and as resolved the others the run saw firing. Only when that day is the newest monitored
one: a rerun of older days is history and leaves Alertmanager as the newest day left it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from lakeops.alert.alertmanager import Alertmanager, alertmanager_from_env, day_state, push
from lakeops.alert.notify import Delivery, Notice, Webhook, notify
from lakeops.alert.rules import DayFacts, Judgement, SliceKey, judge
from lakeops.alert.state import (
    FIRING,
    AlertState,
    Debounce,
    fingerprint,
    labelled_days_of_change,
    may_request_retrain,
    step,
    transition,
)
from lakeops.config import AlertRule, ModelConfig
from lakeops.errors import InvalidParameterError
from lakeops.lake.tables import (
    ALERTS,
    ATTRIBUTION_DRIFT,
    CLASS_METRICS,
    DATA_QUALITY,
    DRIFT_METRICS,
    PERFORMANCE_METRICS,
    PERFORMANCE_REFERENCE,
    monitored_days,
)
from lakeops.runs import job_run

if TYPE_CHECKING:
    from lakeops.lake import Lake
    from lakeops.names import TableName

log = logging.getLogger(__name__)

JOB = "alerts"


@dataclass(frozen=True)
class RetrainRequest:
    """A firing rule asked for a retrain on ``ds``; ``fingerprint`` names the alert."""

    model_name: str
    ds: date
    rule: str
    fingerprint: str
    #: The first day the alert's condition held in this episode: the change the retrain answers.
    change_began: date | None = None


@dataclass(frozen=True)
class AlertResult:
    model_name: str
    #: The ``ml.alerts`` rows written (pending, firing and resolved alerts of the days).
    rows: tuple[dict[str, Any], ...]
    #: State changes receivers were told about.
    notices: tuple[Notice, ...]
    retrain_requests: tuple[RetrainRequest, ...]
    #: What Alertmanager answered to the newest day's state (``sent``, ``failed``; ``none``: nothing
    #: firing or resolved; ``skipped``: not the newest monitored day); ``None``: no Alertmanager.
    alertmanager: Delivery | None = None

    def open_alerts(self, ds: date) -> list[dict[str, Any]]:
        """The firing alerts of ``ds``."""
        return [r for r in self.rows if r["ds"] == ds and r["state"] == FIRING]


def evaluate_alerts(lake: Lake, model: ModelConfig, *, days: Sequence[date], webhook: Webhook | None = None,
                    alertmanager: Alertmanager | Literal["env"] | None = "env") -> AlertResult:
    """Judge ``model.alerts.rules`` on ``days`` (already monitored), write ``ml.alerts``, notify.

    ``alertmanager``: where the newest day's firing and resolved alerts go; by default the one
    ``LAKEOPS_ALERTMANAGER_URL`` names (none when unset), ``None`` for none.
    """
    if not days:
        raise InvalidParameterError("no days to judge alerts on")
    if alertmanager == "env":
        try:
            alertmanager = alertmanager_from_env(os.environ)
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from None
    days = sorted(set(days))
    rules = model.alerts.rules
    if not rules:
        return AlertResult(model.name, (), (), ())
    with job_run(lake, job=JOB, model=model.name, days=days) as run:
        monitored = _monitored_days(lake, model.name, days)
        depth = max(r.of_days for r in rules) - 1
        before = _days_before(monitored, days, depth)
        # The cooldown window is read too: a retrain request in it holds back another one.
        cooldown = {days[0] - timedelta(days=n) for n in range(1, model.alerts.retrain_cooldown_days)}
        stored = _read(lake, ALERTS.name, model.name, sorted(before | cooldown | set(days)))
        facts = _facts(lake, model, days)
        rows, notices, requests = _judge_days(model, days, monitored, facts, stored, depth=depth)
        deliveries = _deliver(notices, stored, webhook=webhook, send_resolved=model.alerts.send_resolved)
        for row in rows:
            d = deliveries.get((row["ds"], row["fingerprint"]))
            if d is not None:
                row.update(notification=d.outcome, notification_attempts=d.attempts, notification_error=d.error)
        lake.overwrite_rows(pa.Table.from_pylist(rows, schema=ALERTS.schema), ALERTS,
                            partitions={"model_name": [model.name], "ds": days}, allow_empty=True,
                            metadata={"job": JOB, "job_run_id": run.job_run_id})
        run.rows_in, run.rows_out = len(facts), len(rows)
        pushed = _push_state(alertmanager, model.name, days, monitored, rows, stored) if alertmanager else None
    for r in requests:
        log.warning("%s %s: alert %s (%s) requests a retrain", r.model_name, r.ds, r.rule, r.fingerprint)
    return AlertResult(model.name, tuple(rows), tuple(notices), tuple(requests), alertmanager=pushed)


# ----------------------------------------------------------------------------- the decision


def _judge_days(model: ModelConfig, days: list[date], monitored: list[date], facts: Mapping[date, DayFacts],
                stored: Sequence[Mapping[str, Any]], *,
                depth: int) -> tuple[list[dict], list[Notice], list[RetrainRequest]]:
    """Walk ``days`` in order; each day's states come from the previous monitored day's and the
    judgements of the ``depth`` monitored days before it."""
    by_day: dict[date, dict[str, Any]] = {}  # day -> fingerprint -> its ml.alerts row (stored or new)
    for r in stored:
        if r["ds"] not in days:
            by_day.setdefault(r["ds"], {})[r["fingerprint"]] = r
    last_request = max((r["ds"] for r in stored if r["retrain_requested"] and r["ds"] < days[0]), default=None)
    rows: list[dict] = []
    notices: list[Notice] = []
    requests: list[RetrainRequest] = []
    for d in days:
        i = monitored.index(d)
        today, day_notices, request = _judge_day(
            model, facts[d], previous_rows=by_day.get(monitored[i - 1], {}) if i else {},
            earlier_rows=[by_day.get(e, {}) for e in monitored[max(0, i - depth):i]], last_request=last_request)
        if request is not None:
            requests.append(request)
            last_request = d
        by_day[d] = today
        rows.extend(today.values())
        notices.extend(day_notices)
    return rows, notices, requests


def _judge_day(model: ModelConfig, f: DayFacts, *, previous_rows: Mapping[str, Mapping[str, Any]],
               earlier_rows: Sequence[Mapping[str, Mapping[str, Any]]],
               last_request: date | None) -> tuple[dict[str, dict], list[Notice], RetrainRequest | None]:
    """One day: its ``ml.alerts`` rows by fingerprint, the state changes to tell, and its retrain request."""
    rules = {r.name: r for r in model.alerts.rules}
    today: dict[str, dict] = {}
    notices: list[Notice] = []
    request: RetrainRequest | None = None
    judged = _judgements(rules, f, previous_rows)
    for (name, key), j in sorted(judged.items(), key=lambda kv: (kv[0][0], kv[0][1][0] or "", kv[0][1][1] or "")):
        rule = rules[name]
        fp = fingerprint(model.name, name, *key)
        earlier = [bool(day.get(fp, {}).get("met", False)) for day in earlier_rows]
        previous = _state(previous_rows.get(fp))
        state = step(f.ds, met=j.met, earlier=earlier, previous=previous,
                     debounce=Debounce(rule.for_days, rule.of_days, rule.keep_firing_days))
        if state is None:
            continue
        # At most one request a day, and only while the condition holds: an alert kept firing
        # after it cleared asks for nothing.
        labelled = labelled_days_of_change(f.ds, first_seen=state.first_seen, label_delay_days=model.label_delay_days)
        ask = request is None and may_request_retrain(
            f.ds, firing=state.firing and j.met, wants_retrain=rule.retrain, last_request=last_request,
            cooldown_days=model.alerts.retrain_cooldown_days, quality_failed=f.quality_failed,
            labelled_days=labelled, needed_days=model.retrain_wait_days())
        if ask:
            request = RetrainRequest(model.name, f.ds, name, fp, state.first_seen)
        elif rule.retrain and state.firing and j.met and labelled < model.retrain_wait_days():
            j = replace(j, summary=f"{j.summary}; the retrain waits for {model.retrain_wait_days()} labelled days of "
                                   f"the change since {state.first_seen} ({labelled} so far)",
                        evidence={**j.evidence, "retrain_waits": {"since": state.first_seen.isoformat(),
                                                                  "labelled_days": labelled,
                                                                  "needed": model.retrain_wait_days()}})
        row = today[fp] = _row(model.name, f, rule, j, fp, state, ask)
        change = transition(previous, state)
        if change is not None:
            notices.append(Notice(change, model.name, name, rule.severity, key[0], key[1], f.ds,
                                  state.firing_since or f.ds, j.summary, row["evidence"], fp, ask))
    return today, notices, request


def _judgements(rules: Mapping[str, AlertRule], f: DayFacts,
                previous_rows: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, SliceKey], Judgement]:
    """Every rule on the day's facts, by (rule, slice)."""
    judged: dict[tuple[str, SliceKey], Judgement] = {}
    for rule in rules.values():
        for j in judge(rule, f):
            judged[(rule.name, j.slice)] = j
    # An alert still open yesterday is judged today even if its slice has no rows today.
    for prev in previous_rows.values():
        key = (prev["rule"], (prev["slice_key"], prev["slice_value"]))
        if prev["rule"] in rules and key not in judged and prev["state"] != "resolved":
            judged[key] = Judgement(key[1], False, None, None, "no rows today", {})
    return judged


def _state(row: Mapping[str, Any] | None) -> AlertState | None:
    if row is None:
        return None
    return AlertState(row["state"], first_seen=row["first_seen"], last_seen=row["last_seen"],
                      firing_since=row["firing_since"], quiet_days=row["quiet_days"] or 0)


def _row(model_name: str, f: DayFacts, rule: AlertRule, j: Judgement, fp: str, state: AlertState,
         retrain: bool) -> dict[str, Any]:
    return {
        "ds": f.ds, "model_name": model_name, "model_version": f.model_version, "rule": rule.name,
        "kind": rule.when, "slice_key": j.slice[0], "slice_value": j.slice[1], "fingerprint": fp,
        "state": state.state, "severity": rule.severity, "met": j.met, "value": j.value, "threshold": j.threshold,
        "first_seen": state.first_seen, "firing_since": state.firing_since, "last_seen": state.last_seen,
        "quiet_days": state.quiet_days, "summary": j.summary, "evidence": j.evidence_json(),
        "retrain_requested": retrain, "notification": "none", "notification_attempts": 0,
        "notification_error": None,
    }


def _deliver(notices: list[Notice], stored: Sequence[Mapping[str, Any]], *, webhook: Webhook | None,
             send_resolved: bool) -> dict[tuple[date, str], Delivery]:
    """Send today's changes, except those a previous run of the same day already delivered."""
    delivered = {(r["ds"], r["fingerprint"], r["state"]): r for r in stored if r["notification"] == "sent"}
    out: dict[tuple[date, str], Delivery] = {}
    fresh = []
    for n in notices:
        done = delivered.get((n.ds, n.fingerprint, n.status))
        if done is not None:
            out[(n.ds, n.fingerprint)] = Delivery("sent", done["notification_attempts"])
        else:
            fresh.append(n)
    for d in sorted({n.ds for n in fresh}):
        sent = notify([n for n in fresh if n.ds == d], webhook=webhook, send_resolved=send_resolved)
        out.update({(d, fp): delivery for fp, delivery in sent.items()})
    return out


def _push_state(am: Alertmanager, model_name: str, days: list[date], monitored: list[date],
                rows: Sequence[Mapping[str, Any]], stored: Sequence[Mapping[str, Any]]) -> Delivery:
    """Give Alertmanager the state of the newest judged day (after ``ml.alerts`` is written); never raises."""
    newest = days[-1]
    if monitored[-1] != newest:
        log.info("%s: alerts of %s not sent to Alertmanager: %s is monitored too, and its state stands",
                 model_name, newest, monitored[-1])
        return Delivery("skipped", 0, f"{newest} is not the newest monitored day ({monitored[-1]})")
    i = monitored.index(days[0])
    before = monitored[i - 1] if i else None
    earlier = [r for r in stored if r["ds"] == before and r["state"] == "firing"]
    try:
        firing, resolved = day_state(rows, newest=newest, earlier_firing=earlier)
        return push(am, firing, resolved)
    except Exception as exc:
        # Telling people must not fail the job that judged the alerts (they are in ml.alerts).
        log.exception("could not send the alerts of %s %s to Alertmanager %s", model_name, newest, am.name)
        return Delivery("failed", 0, type(exc).__name__)


# ----------------------------------------------------------------------------- reads


def _monitored_days(lake: Lake, model_name: str, days: list[date]) -> list[date]:
    return sorted(monitored_days(lake, model_name) | set(days))


def _days_before(monitored: list[date], days: list[date], depth: int) -> set[date]:
    """Monitored days outside ``days`` within ``depth + 1`` places before one of them."""
    wanted = set()
    for d in days:
        i = monitored.index(d)
        wanted |= set(monitored[max(0, i - depth - 1):i])
    return wanted - set(days)


def _read(lake: Lake, table: str | TableName, model_name: str, days: Sequence[date], *, by_model: bool = True) -> list[dict]:
    if not days or not lake.exists(table):
        return []
    where: dict[str, Any] = {"ds": list(days)}
    if by_model:
        where["model_name"] = [model_name]
    return [r for r in lake.read_arrow(table, where=where).to_pylist() if r["model_name"] == model_name]


def _facts(lake: Lake, model: ModelConfig, days: list[date]) -> dict[date, DayFacts]:
    drift = _read(lake, DRIFT_METRICS.name, model.name, days)
    delay = timedelta(days=model.label_delay_days)
    realised_days = {d: d - delay for d in days} if model.label_delay_days else {d: d for d in days}
    perf = _read(lake, PERFORMANCE_METRICS.name, model.name, sorted(set(days) | set(realised_days.values())))
    quality = _latest_quality(_read(lake, DATA_QUALITY.name, model.name, days, by_model=False))
    attribution = _read(lake, ATTRIBUTION_DRIFT.name, model.name, days)
    classes = (_read(lake, CLASS_METRICS.name, model.name, sorted(set(realised_days.values())))
               if model.problem_type == "multiclass" else [])
    versions = {r["ds"]: r["model_version"] for r in drift}
    reference = {}
    if lake.exists(PERFORMANCE_REFERENCE.name) and versions:
        where = {"model_name": [model.name], "model_version": sorted(set(versions.values()))}
        reference = {r["model_version"]: r for r in lake.read_arrow(PERFORMANCE_REFERENCE.name, where=where).to_pylist()}
    out = {}
    for d in days:
        if d not in versions:
            raise InvalidParameterError(f"{model.name} {d} has no rows in {DRIFT_METRICS.name}: monitor it first")
        v = versions[d]
        out[d] = DayFacts(
            ds=d, model_version=v,
            drift=[r for r in drift if r["ds"] == d],
            estimated={(r["slice_key"], r["slice_value"]): r for r in perf
                       if r["ds"] == d and r["kind"] == "estimated"},
            realised_ds=realised_days[d],
            realised={(r["slice_key"], r["slice_value"]): r for r in perf
                      if r["ds"] == realised_days[d] and r["kind"] == "realised"},
            reference=reference.get(v, {}),
            data_quality=quality.get(d, []),
            attribution=[r for r in attribution if r["ds"] == d and r["model_version"] == v],
            classes=tuple(model.classes),
            class_realised={r["class_name"]: r for r in classes if r["ds"] == realised_days[d]
                            and r["kind"] == "realised" and r["slice_key"] is None},
        )
    return out


def _latest_quality(rows: list[dict]) -> dict[date, list[dict]]:
    """Per day, the rows of the latest run of each (stage, suite): a rerun's verdict replaces the earlier one."""
    finished: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        runs = finished.setdefault((r["ds"], r["stage"], r["suite"]), {})
        runs[r["job_run_id"]] = max(runs.get(r["job_run_id"], r["checked_at"]), r["checked_at"])
    latest = {key: max(runs, key=lambda run: (runs[run], run)) for key, runs in finished.items()}
    out: dict[date, list[dict]] = {}
    for r in rows:
        if latest[(r["ds"], r["stage"], r["suite"])] == r["job_run_id"]:
            out.setdefault(r["ds"], []).append(r)
    return out
