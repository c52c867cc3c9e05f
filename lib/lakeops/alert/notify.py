"""Telling people: the log always, and a webhook in Alertmanager's payload shape.

The webhook body is what Alertmanager posts to a ``webhook_config`` receiver
(version 4), so an existing route to Slack, PagerDuty or e-mail takes it as
it is. One POST per model, day and status (``firing`` or ``resolved``), sent
when an alert starts firing and when it resolves (``alerts.send_resolved``).

Retries are urllib3's :class:`~urllib3.util.Retry`: connection errors and
HTTP 429/5xx are retried with exponential backoff, a bounded number of times.
A receiver that still fails is recorded (``notification = failed`` in
``ml.alerts``, with a message that holds neither the URL nor the token) and
never fails the monitoring job.

The receiver's URL and bearer token come from the environment
(``LAKEOPS_ALERT_WEBHOOK_URL``, ``LAKEOPS_ALERT_WEBHOOK_TOKEN``), which the
Airflow task fills from the connection ``lakeops_alerts``; they never reach a
log line, a table or MLflow: logs name the receiver by scheme and host only.

An alert's labels and annotations are built here once (:func:`alert_labels`,
:func:`alert_annotations`) for both this webhook and Alertmanager's API
(:mod:`lakeops.alert.alertmanager`, which posts through :func:`post_json` too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from lakeops.endpoints import check_url, public_name

log = logging.getLogger(__name__)

URL_ENV, TOKEN_ENV = "LAKEOPS_ALERT_WEBHOOK_URL", "LAKEOPS_ALERT_WEBHOOK_TOKEN"
#: Alertmanager's "no end time yet" for a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Webhook:
    """Where firing and resolved alerts are posted."""

    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_url(self.url, env=URL_ENV, base=False)

    @property
    def name(self) -> str:
        """What logs may say about the receiver: scheme and host, never the path, query or token."""
        return public_name(self.url)


def webhook_from_env(environ: Mapping[str, str]) -> Webhook | None:
    """The webhook named by the environment, or ``None`` when ``LAKEOPS_ALERT_WEBHOOK_URL`` is unset."""
    url = (environ.get(URL_ENV) or "").strip()
    if not url:
        return None
    return Webhook(url=url, token=(environ.get(TOKEN_ENV) or "").strip() or None)


@dataclass(frozen=True)
class Notice:
    """One alert that changed state today (what one entry of ``alerts`` in the payload says)."""

    status: str  # firing | resolved
    model: str
    rule: str
    severity: str
    slice_key: str | None
    slice_value: str | None
    ds: date
    firing_since: date
    summary: str
    evidence: str  # JSON
    fingerprint: str
    retrain_requested: bool = False


@dataclass(frozen=True)
class Delivery:
    """What the receiver answered: ``sent`` or ``failed``, the attempts and a URL-free error.

    Alertmanager pushes (:class:`lakeops.alert.run.AlertResult`) may also be ``none`` (nothing
    to send) or ``skipped`` (a rerun of days older than the newest monitored one)."""

    outcome: str
    attempts: int
    error: str | None = None


def alert_labels(n: Notice) -> dict[str, str]:
    """An alert's labels, the same for every receiver (the webhook, Alertmanager's API): what
    identifies it, and so never changes from one day to the next (no ``ds``): ``alertname`` (the
    rule), ``model``, ``severity`` and, for a sliced alert, ``<slice_key>: <slice_value>``."""
    out = {"alertname": n.rule, "model": n.model, "severity": n.severity}
    if n.slice_key is not None:
        out[n.slice_key] = n.slice_value or ""
    return out


def alert_annotations(n: Notice) -> dict[str, str]:
    """An alert's annotations (what it says, may change daily): summary, evidence, day, retrain."""
    return {"summary": n.summary, "evidence": n.evidence, "ds": n.ds.isoformat(),
            "retrain_requested": "true" if n.retrain_requested else "false"}


def alert_generator_url(n: Notice) -> str:
    return f"lakeops://ml/alerts?model={n.model}&ds={n.ds.isoformat()}"


def payload(notices: Sequence[Notice], *, status: str, receiver: str = "lakeops") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``notices`` of one model, day and status."""
    model = notices[0].model
    alerts: list[dict[str, Any]] = []
    for n in notices:
        alerts.append({
            "status": n.status,
            "labels": alert_labels(n),
            "annotations": alert_annotations(n),
            "startsAt": _timestamp(n.firing_since),
            # Days, not clock times: a resolved alert ends at the start of the day it resolved on.
            "endsAt": _timestamp(n.ds) if n.status == "resolved" else ZERO_TIME,
            "generatorURL": alert_generator_url(n),
            "fingerprint": n.fingerprint,
        })
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{model="{model}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"model": model},
        "commonLabels": common,
        "commonAnnotations": {k: v for k, v in alerts[0]["annotations"].items()
                              if all(a["annotations"].get(k) == v for a in alerts)},
        "externalURL": "",
        "alerts": alerts,
    }


def post(webhook: Webhook, body: Mapping[str, Any]) -> Delivery:
    """POST ``body`` as JSON with bounded retries; never raises for the receiver's failures."""
    return post_json(webhook.url, body, token=webhook.token, retries=webhook.retries,
                     backoff_seconds=webhook.backoff_seconds, timeout_seconds=webhook.timeout_seconds)


def post_json(url: str, body: Any, *, token: str | None, retries: int, backoff_seconds: float,
              timeout_seconds: float) -> Delivery:
    """POST ``body`` as JSON to ``url`` (a bearer ``token`` if any): connection errors and HTTP
    408/429/5xx retried ``retries`` times with exponential backoff. Never raises for the
    receiver's failures; the error it returns names neither the URL nor the token."""
    import urllib3
    from urllib3.util import Retry

    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff_seconds,
                  status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"POST"}),
                  raise_on_status=False, respect_retry_after_header=True)
    headers = {"Content-Type": "application/json", "User-Agent": "lakeops"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    http = urllib3.PoolManager(retries=retry, timeout=urllib3.Timeout(total=timeout_seconds))
    try:
        with _withheld(url, token):
            response = http.request("POST", url, body=json.dumps(body).encode(), headers=headers)
    except urllib3.exceptions.MaxRetryError as exc:
        reason = type(exc.reason).__name__ if exc.reason is not None else "MaxRetryError"
        return Delivery("failed", retries + 1, f"{reason}: no answer after {retries + 1} attempts")
    except urllib3.exceptions.HTTPError as exc:
        return Delivery("failed", 1, f"{type(exc).__name__}")
    finally:
        http.clear()
    attempts = len(response.retries.history) + 1 if response.retries is not None else 1
    if 200 <= response.status < 300:
        return Delivery("sent", attempts)
    return Delivery("failed", attempts, f"HTTP {response.status} after {attempts} attempt(s)")


def notify(notices: Sequence[Notice], *, webhook: Webhook | None, send_resolved: bool = True) -> dict[str, Delivery]:
    """Log every notice; post them to ``webhook`` (one request per status). Returns deliveries by fingerprint."""
    for n in notices:
        where = f" [{n.slice_key}={n.slice_value}]" if n.slice_key else ""
        (log.warning if n.status == "firing" else log.info)(
            "alert %s: %s %s%s (%s) on %s: %s%s", n.status.upper(), n.model, n.rule, where, n.severity, n.ds,
            n.summary, "; a retrain was requested" if n.retrain_requested else "")
    out: dict[str, Delivery] = {}
    if webhook is None:
        return out
    for status in ("firing", "resolved"):
        group = [n for n in notices if n.status == status]
        if not group or (status == "resolved" and not send_resolved):
            continue
        delivery = post(webhook, payload(group, status=status))
        if delivery.outcome == "sent":
            log.info("sent %d %s alert(s) to webhook %s", len(group), status, webhook.name)
        else:
            log.warning("webhook %s did not take %d %s alert(s): %s; recorded in ml.alerts, monitoring goes on",
                        webhook.name, len(group), status, delivery.error)
        out.update({n.fingerprint: delivery for n in group})
    return out


def _timestamp(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# urllib3 logs the URL's path and query when it retries (a warning) and on every request (debug):
# where a webhook's secret often lives (Slack's, a ?key=). While a receiver's request is in flight,
# its log records have them withheld.
_WITHHELD: ContextVar[tuple[str, ...]] = ContextVar("lakeops_withheld", default=())
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")


class _Withhold(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _WITHHELD.get()
        if secrets:
            try:
                text = record.getMessage()
            except Exception:
                text = str(record.msg)
            for secret in secrets:
                text = text.replace(secret, "<withheld>")
            record.msg, record.args = text, None
        return True


_WITHHOLD = _Withhold()
for _name in _URLLIB3_LOGGERS:
    logging.getLogger(_name).addFilter(_WITHHOLD)


@contextmanager
def _withheld(url: str, token: str | None) -> Iterator[None]:
    parts = urlsplit(url)
    secrets = [f"{parts.path}?{parts.query}" if parts.query else "", parts.path, parts.query, token or ""]
    reset = _WITHHELD.set(tuple(sorted({s for s in secrets if len(s) > 1}, key=len, reverse=True)))
    try:
        yield
    finally:
        _WITHHELD.reset(reset)
