"""Each job run's outcome pushed to a Prometheus Pushgateway, for dashboards and "the job stopped" alerts.

When ``LAKEOPS_PUSHGATEWAY_URL`` is set (a base URL, ``http://pushgateway:9091``; an optional
bearer token in ``LAKEOPS_PUSHGATEWAY_TOKEN``), :func:`lakeops.runs.job_run` pushes at the end of
every run, succeeded or failed, to the group ``/metrics/job/lakeops_<job>/model/<model>`` (no
``model`` for a job of the whole lakehouse), these gauges:

==============================================  ==============================================
``lakeops_job_last_success_timestamp_seconds``  when the last successful run ended (Unix time)
``lakeops_job_last_run_timestamp_seconds``      when the last run ended, succeeded or failed
``lakeops_job_duration_seconds``                how long the last run took
``lakeops_job_rows_in``, ``lakeops_job_rows_out``  the last run's row counts (NaN: not counted)
``lakeops_job_success``                         1 if the last run succeeded, 0 if it failed
==============================================  ==============================================

A success is pushed with ``PUT`` (the group's metrics replaced by these six); a failure with
``POST``, which replaces only the metrics it carries (Pushgateway's semantics) and carries all but
``lakeops_job_last_success_timestamp_seconds``: the last success stays what it was, so
``time() - lakeops_job_last_success_timestamp_seconds > 26 * 3600`` alerts on a daily job that
stopped succeeding, whether it fails or no longer runs.

A grouping label value that is not a plain word travels base64-encoded (``model@base64/...``,
RFC 4648's URL-safe alphabet), the only form in which Pushgateway takes a ``/`` or an empty value.

Metrics are bookkeeping: short timeouts (2 s to connect, 5 s to answer), two retries, and a
Pushgateway that is down, slow or refusing is logged (by scheme and host; the token never) and
never fails the job or holds it up more than seconds. Standard library and urllib3 only:
:mod:`lakeops.runs` imports it, and imports no Spark.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from lakeops.endpoints import check_url, public_name

log = logging.getLogger(__name__)

URL_ENV, TOKEN_ENV = "LAKEOPS_PUSHGATEWAY_URL", "LAKEOPS_PUSHGATEWAY_TOKEN"
LAST_SUCCESS = "lakeops_job_last_success_timestamp_seconds"
#: Name, help: the help text of a metric must be the same in every push (Pushgateway checks).
METRICS = {
    LAST_SUCCESS: "When the job's last successful run ended (Unix time).",
    "lakeops_job_last_run_timestamp_seconds": "When the job's last run ended, succeeded or failed (Unix time).",
    "lakeops_job_duration_seconds": "How long the job's last run took.",
    "lakeops_job_rows_in": "Rows the job's last run read (NaN: not counted).",
    "lakeops_job_rows_out": "Rows the job's last run wrote (NaN: not counted).",
    "lakeops_job_success": "1 if the job's last run succeeded, 0 if it failed.",
}
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Pushgateway:
    """A Pushgateway's base URL (the ``/metrics/...`` path is appended) and an optional bearer token."""

    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    retries: int = 2
    backoff_seconds: float = 0.2
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        check_url(self.url, env=URL_ENV, base=True)

    @property
    def name(self) -> str:
        """What logs may say about it: scheme and host, never the path or the token."""
        return public_name(self.url)


def pushgateway_from_env(environ: Mapping[str, str]) -> Pushgateway | None:
    """The Pushgateway ``LAKEOPS_PUSHGATEWAY_URL`` names, or ``None`` when it is unset.

    Raises:
        ValueError: the URL is not an http(s) base URL.
    """
    url = (environ.get(URL_ENV) or "").strip()
    if not url:
        return None
    return Pushgateway(url=url, token=(environ.get(TOKEN_ENV) or "").strip() or None)


@dataclass(frozen=True)
class RunMetrics:
    """One finished job run, as pushed."""

    job: str
    model: str | None
    success: bool
    finished: float  # Unix time
    duration_seconds: float
    rows_in: int | None = None
    rows_out: int | None = None


def grouping_path(job: str, model: str | None) -> str:
    """``/metrics/job/lakeops_<job>[/model/<model>]``, each value plain or base64-encoded."""
    path = "/metrics" + _segment("job", f"lakeops_{job}")
    return path + _segment("model", model) if model is not None else path


def exposition(m: RunMetrics) -> str:
    """The run's gauges in Prometheus' text format (0.0.4); a failed run's without the last success."""
    values = {
        LAST_SUCCESS: m.finished,
        "lakeops_job_last_run_timestamp_seconds": m.finished,
        "lakeops_job_duration_seconds": m.duration_seconds,
        "lakeops_job_rows_in": math.nan if m.rows_in is None else m.rows_in,
        "lakeops_job_rows_out": math.nan if m.rows_out is None else m.rows_out,
        "lakeops_job_success": 1 if m.success else 0,
    }
    if not m.success:
        del values[LAST_SUCCESS]
    lines = []
    for name, value in values.items():
        lines += [f"# HELP {name} {METRICS[name]}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return "\n".join(lines) + "\n"


def push(gateway: Pushgateway, m: RunMetrics) -> bool:
    """Push ``m`` (``PUT`` on success, ``POST`` on failure: see the module docstring). Never raises:
    returns whether the Pushgateway took it, and logs why not."""
    import urllib3
    from urllib3.util import Retry

    method = "PUT" if m.success else "POST"
    retry = Retry(total=gateway.retries, connect=gateway.retries, read=gateway.retries, status=gateway.retries,
                  backoff_factor=gateway.backoff_seconds, status_forcelist=_RETRY_STATUSES,
                  allowed_methods=frozenset({method}), raise_on_status=False)
    headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8", "User-Agent": "lakeops"}
    if gateway.token:
        headers["Authorization"] = f"Bearer {gateway.token}"
    timeout = urllib3.Timeout(connect=gateway.connect_timeout_seconds, read=gateway.read_timeout_seconds)
    http = urllib3.PoolManager(retries=retry, timeout=timeout)
    url = gateway.url.rstrip("/") + grouping_path(m.job, m.model)
    error = None
    try:
        response = http.request(method, url, body=exposition(m).encode(), headers=headers)
        if not 200 <= response.status < 300:
            # Pushgateway says why in the body (e.g. metrics inconsistent with another group's).
            error = f"HTTP {response.status}: {response.data[:200].decode(errors='replace').strip()}"
    except urllib3.exceptions.MaxRetryError as exc:
        error = f"{type(exc.reason).__name__ if exc.reason is not None else 'MaxRetryError'}: no answer"
    except Exception as exc:
        error = type(exc).__name__
    finally:
        http.clear()
    if error is None:
        log.debug("pushed %s run metrics to Pushgateway %s", m.job, gateway.name)
        return True
    log.warning("Pushgateway %s did not take the metrics of the %s run of %s: %s; the job goes on",
                gateway.name, m.job, m.model or "the lakehouse", error)
    return False


def push_run(environ: Mapping[str, str], *, job: str, model: str | None, success: bool, duration_seconds: float,
             rows_in: int | None, rows_out: int | None) -> bool | None:
    """Push a run's metrics to the Pushgateway ``environ`` names (``None``: none named). Never raises."""
    try:
        gateway = pushgateway_from_env(environ)
    except ValueError as exc:
        log.warning("run metrics not pushed: %s", exc)
        return False
    if gateway is None:
        return None
    finished = time.time()  # clock-ok: when the run ended
    try:
        return push(gateway, RunMetrics(job, model, success, finished, duration_seconds, rows_in, rows_out))
    except Exception:
        log.warning("could not push the metrics of the %s run to Pushgateway %s", job, gateway.name, exc_info=True)
        return False


def _segment(label: str, value: str) -> str:
    if _PLAIN.match(value):
        return f"/{label}/{value}"
    # Padding is optional, but an empty value must be a single "=".
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"/{label}@base64/{encoded}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
