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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

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
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{URL_ENV} must be an http(s) URL (got a value with scheme {parts.scheme!r})")

    @property
    def name(self) -> str:
        """What logs may say about the receiver: scheme and host, never the path, query or token."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


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
    """What the receiver answered: ``sent`` or ``failed``, the attempts and a URL-free error."""

    outcome: str
    attempts: int
    error: str | None = None


def payload(notices: Sequence[Notice], *, status: str, receiver: str = "lakeops") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``notices`` of one model, day and status."""
    model = notices[0].model
    alerts: list[dict[str, Any]] = []
    for n in notices:
        labels = {"alertname": n.rule, "model": n.model, "severity": n.severity}
        if n.slice_key is not None:
            labels[n.slice_key] = n.slice_value or ""
        alerts.append({
            "status": n.status,
            "labels": labels,
            "annotations": {"summary": n.summary, "evidence": n.evidence, "ds": n.ds.isoformat(),
                            "retrain_requested": "true" if n.retrain_requested else "false"},
            "startsAt": _timestamp(n.firing_since),
            # Days, not clock times: a resolved alert ends at the start of the day it resolved on.
            "endsAt": _timestamp(n.ds) if n.status == "resolved" else ZERO_TIME,
            "generatorURL": f"lakeops://ml/alerts?model={n.model}&ds={n.ds.isoformat()}",
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
    import urllib3
    from urllib3.util import Retry

    retry = Retry(total=webhook.retries, connect=webhook.retries, read=webhook.retries,
                  status=webhook.retries, backoff_factor=webhook.backoff_seconds,
                  status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"POST"}),
                  raise_on_status=False, respect_retry_after_header=True)
    headers = {"Content-Type": "application/json", "User-Agent": "lakeops"}
    if webhook.token:
        headers["Authorization"] = f"Bearer {webhook.token}"
    http = urllib3.PoolManager(retries=retry, timeout=urllib3.Timeout(total=webhook.timeout_seconds))
    try:
        response = http.request("POST", webhook.url, body=json.dumps(body).encode(), headers=headers)
    except urllib3.exceptions.MaxRetryError as exc:
        reason = type(exc.reason).__name__ if exc.reason is not None else "MaxRetryError"
        return Delivery("failed", webhook.retries + 1, f"{reason}: no answer after {webhook.retries + 1} attempts")
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

