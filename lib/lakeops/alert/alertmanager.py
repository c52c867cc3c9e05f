"""Alertmanager's API v2: the day's alerts pushed as Prometheus pushes them, for on-call routing.

``POST <LAKEOPS_ALERTMANAGER_URL>/api/v2/alerts`` with a JSON list of
``{labels, annotations, startsAt, endsAt, generatorURL}``: the labels and annotations
are the webhook's (:func:`lakeops.alert.notify.alert_labels`, :func:`~lakeops.alert.notify.alert_annotations`),
so a route, a silence or an inhibition written for one matches the other.

**Every firing alert, every run.** Alertmanager holds an alert active until its ``endsAt``
(``resolve_timeout``, 5 minutes by default, from when it was last received if ``endsAt`` is
absent) and then resolves it by itself. Prometheus re-sends firing alerts every evaluation;
lakeops judges once a day. So each run sends *every* alert firing on the newest judged day,
not only the ones that started, with ``endsAt = now + horizon``: long enough to reach the
next daily run (default :data:`DEFAULT_HORIZON`, 36 hours: the 24 hours between runs and
12 for a run that starts late, waits on its data or is retried). Alertmanager keeps one alert
per label set, so the re-send only moves its ``endsAt`` and notifies no one again (the route's
``repeat_interval`` decides reminders). If no run comes within the horizon, the alerts resolve
in Alertmanager by themselves (the Pushgateway's ``lakeops_job_last_success_timestamp_seconds``
is the metric that says the job stopped); ``LAKEOPS_ALERTMANAGER_HORIZON_HOURS`` sets another
horizon. Alerts that resolved are sent with ``endsAt = now``: Alertmanager ends them at once
and, with ``send_resolved``, tells the receivers. They are sent whatever the model's
``alerts.send_resolved`` (the webhook's setting): else they would stay active until the horizon;
what Alertmanager's receivers are told is their own ``send_resolved``.

The URL and an optional bearer token come from ``LAKEOPS_ALERTMANAGER_URL`` (a base URL,
``http://alertmanager:9093``) and ``LAKEOPS_ALERTMANAGER_TOKEN`` (the daily DAG fills them from
the Airflow connection ``lakeops_alertmanager``). Retries are the webhook's
(:func:`lakeops.alert.notify.post_json`); an Alertmanager that is down or refuses the alerts is
logged (by scheme and host only) and never fails the job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lakeops.alert.notify import Delivery, Notice, alert_annotations, alert_generator_url, alert_labels, post_json
from lakeops.endpoints import check_url, public_name

log = logging.getLogger(__name__)

URL_ENV, TOKEN_ENV = "LAKEOPS_ALERTMANAGER_URL", "LAKEOPS_ALERTMANAGER_TOKEN"
HORIZON_ENV = "LAKEOPS_ALERTMANAGER_HORIZON_HOURS"
#: How long a firing alert stays active in Alertmanager without a newer push: a day between
#: daily runs, and half a day for a late one.
DEFAULT_HORIZON = timedelta(hours=36)
ALERTS_PATH = "/api/v2/alerts"


@dataclass(frozen=True)
class Alertmanager:
    """An Alertmanager (or a cluster's load balancer) that takes the alerts of each run."""

    url: str = field(repr=False)  # the base URL; the API's path is appended
    token: str | None = field(default=None, repr=False)
    horizon: timedelta = DEFAULT_HORIZON
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_url(self.url, env=URL_ENV, base=True)
        if self.horizon <= timedelta(0):
            raise ValueError(f"{HORIZON_ENV} must be positive")

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + ALERTS_PATH

    @property
    def name(self) -> str:
        """What logs may say about it: scheme and host, never the path or the token."""
        return public_name(self.url)


def alertmanager_from_env(environ: Mapping[str, str]) -> Alertmanager | None:
    """The Alertmanager named by the environment, or ``None`` when ``LAKEOPS_ALERTMANAGER_URL`` is unset.

    Raises:
        ValueError: the URL is not an http(s) base URL, or the horizon is not a positive number of hours.
    """
    url = (environ.get(URL_ENV) or "").strip()
    if not url:
        return None
    horizon = DEFAULT_HORIZON
    if (hours := (environ.get(HORIZON_ENV) or "").strip()):
        try:
            horizon = timedelta(hours=float(hours))
        except (ValueError, OverflowError):
            raise ValueError(f"{HORIZON_ENV} must be a number of hours (got {hours!r})") from None
    return Alertmanager(url=url, token=(environ.get(TOKEN_ENV) or "").strip() or None, horizon=horizon)


def postable(n: Notice, *, now: datetime, horizon: timedelta) -> dict[str, Any]:
    """One alert as ``POST /api/v2/alerts`` takes it: firing until ``now + horizon``, or resolved at ``now``."""
    ends = now + horizon if n.status == "firing" else now
    # Alertmanager refuses an alert that ends before it starts: a day ahead of the clock starts now.
    starts = min(datetime.combine(n.firing_since, time(0), tzinfo=UTC), now)
    return {"labels": alert_labels(n), "annotations": alert_annotations(n), "startsAt": _rfc3339(starts),
            "endsAt": _rfc3339(ends), "generatorURL": alert_generator_url(n)}


def push(am: Alertmanager, firing: Sequence[Notice], resolved: Sequence[Notice] = (), *,
         now: datetime | None = None) -> Delivery:
    """Send ``firing`` (active until ``now + am.horizon``) and ``resolved`` (ended ``now``) in one
    request. Never raises for Alertmanager's failures: returns them, logged."""
    if not firing and not resolved:
        return Delivery("none", 0)
    now = now or datetime.now(UTC)  # clock-ok: Alertmanager's endsAt is a wall-clock time
    body = [postable(n, now=now, horizon=am.horizon) for n in (*firing, *resolved)]
    delivery = post_json(am.endpoint, body, token=am.token, retries=am.retries,
                         backoff_seconds=am.backoff_seconds, timeout_seconds=am.timeout_seconds)
    if delivery.outcome == "sent":
        log.info("sent %d firing and %d resolved alert(s) to Alertmanager %s (firing until %s)",
                 len(firing), len(resolved), am.name, _rfc3339(now + am.horizon))
    else:
        log.warning("Alertmanager %s did not take %d firing and %d resolved alert(s): %s; monitoring goes on",
                    am.name, len(firing), len(resolved), delivery.error)
    return delivery


def day_state(rows: Sequence[Mapping[str, Any]], *, newest: date,
              earlier_firing: Sequence[Mapping[str, Any]] = ()) -> tuple[list[Notice], list[Notice]]:
    """What Alertmanager should hold after a run whose newest judged day is ``newest``, from the
    ``ml.alerts`` rows it wrote (all its days) and the rows firing on the monitored day before them.

    Firing: every alert firing on ``newest``. Resolved: every other alert the run saw firing or
    resolving (on an earlier day of a backfill, or the day before it), so none stays active in
    Alertmanager until its horizon. An alert resolved on an older day is sent as resolved again;
    Alertmanager notifies no one about an alert it never notified as firing.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for r in sorted([*earlier_firing, *rows], key=lambda r: r["ds"]):
        if r["state"] in ("firing", "resolved"):
            latest[r["fingerprint"]] = r
    firing = [notice_of(r, "firing") for r in rows if r["ds"] == newest and r["state"] == "firing"]
    still = {n.fingerprint for n in firing}
    resolved = [notice_of(r, "resolved") for fp, r in latest.items() if fp not in still]
    return firing, resolved


def notice_of(row: Mapping[str, Any], status: str) -> Notice:
    """An ``ml.alerts`` row as the notice of its alert (its labels and annotations)."""
    return Notice(status, row["model_name"], row["rule"], row["severity"], row["slice_key"], row["slice_value"],
                  row["ds"], row["firing_since"] or row["ds"], row["summary"], row["evidence"], row["fingerprint"],
                  bool(row["retrain_requested"]))


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
