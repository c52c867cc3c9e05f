"""Job runs' metrics against the real thing: Debian's Pushgateway (``make tools``) on 127.0.0.1,
pushed by ``job_run`` as every batch job runs (no Spark: the ``ml.job_runs`` row goes to a fake lake)."""

from __future__ import annotations

import logging
import math
import re
import socket
import time
import urllib.request
from datetime import date

import pytest

from lakeops.pushgateway import TOKEN_ENV, URL_ENV, RunMetrics, exposition, grouping_path, pushgateway_from_env
from lakeops.runs import job_run

DAYS = [date(2024, 1, 31)]
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Lake:
    """Takes the ``ml.job_runs`` row and forgets it."""

    def append_rows(self, rows, spec, *, metadata) -> None:
        pass


@pytest.fixture
def pushgateway(prometheus_server, monkeypatch) -> str:
    url = prometheus_server("prometheus-pushgateway", lambda port: [f"--web.listen-address=127.0.0.1:{port}",
                                                                    "--log.level=warn"])
    monkeypatch.setenv(URL_ENV, url)
    return url


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """What Prometheus would scrape from the Pushgateway: ``lakeops_*`` samples by (name, labels)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m["name"].startswith("lakeops_"):
            labels = frozenset((k, v.replace('\\"', '"').replace("\\\\", "\\"))
                               for k, v in LABEL.findall(m["labels"] or ""))
            out[(m["name"], labels)] = float(m["value"])
    return out


def group(samples, **labels) -> dict[str, float]:
    """The samples of one grouping key (Pushgateway adds ``instance=""`` to pushed metrics)."""
    key = frozenset({"instance": "", **labels}.items())
    return {name: value for (name, got), value in samples.items() if got == key}


def run(job: str, model: str | None, *, rows: tuple[int, int] | None = (10, 7), fail: bool = False) -> None:
    try:
        with job_run(Lake(), job=job, model=model, days=DAYS) as r:
            if rows is not None:
                r.rows_in, r.rows_out = rows
            if fail:
                raise RuntimeError("the job failed")
    except RuntimeError:
        assert fail


def test_a_job_run_pushes_its_gauges_under_its_grouping_key(pushgateway):
    t0 = time.time()
    run("score", "incident_risk")
    got = group(scrape(pushgateway), job="lakeops_score", model="incident_risk")
    assert set(got) == {"lakeops_job_last_success_timestamp_seconds", "lakeops_job_last_run_timestamp_seconds",
                        "lakeops_job_duration_seconds", "lakeops_job_rows_in", "lakeops_job_rows_out",
                        "lakeops_job_success"}
    assert got["lakeops_job_success"] == 1 and got["lakeops_job_rows_in"] == 10 and got["lakeops_job_rows_out"] == 7
    assert t0 <= got["lakeops_job_last_success_timestamp_seconds"] == got["lakeops_job_last_run_timestamp_seconds"]
    assert 0 <= got["lakeops_job_duration_seconds"] < 5
    # A job of the whole lakehouse has no model label; another model is another group.
    run("maintain", None, rows=None)
    run("score", "churn")
    samples = scrape(pushgateway)
    maintain = group(samples, job="lakeops_maintain")
    assert maintain["lakeops_job_success"] == 1 and math.isnan(maintain["lakeops_job_rows_in"])
    assert group(samples, job="lakeops_score", model="churn")["lakeops_job_success"] == 1
    assert group(samples, job="lakeops_score", model="incident_risk")["lakeops_job_rows_in"] == 10


def test_a_failed_run_keeps_the_last_success(pushgateway):
    run("prepare", "incident_risk")
    success = group(scrape(pushgateway), job="lakeops_prepare", model="incident_risk")
    time.sleep(0.01)
    run("prepare", "incident_risk", rows=None, fail=True)
    failed = group(scrape(pushgateway), job="lakeops_prepare", model="incident_risk")
    assert failed["lakeops_job_success"] == 0
    assert failed["lakeops_job_last_success_timestamp_seconds"] == success["lakeops_job_last_success_timestamp_seconds"]
    assert failed["lakeops_job_last_run_timestamp_seconds"] > success["lakeops_job_last_run_timestamp_seconds"]
    assert math.isnan(failed["lakeops_job_rows_in"])  # not this run's: not the last success's either
    # The next success replaces the whole group again.
    run("prepare", "incident_risk", rows=(3, 2))
    again = group(scrape(pushgateway), job="lakeops_prepare", model="incident_risk")
    assert again["lakeops_job_success"] == 1 and again["lakeops_job_rows_out"] == 2
    assert again["lakeops_job_last_success_timestamp_seconds"] == again["lakeops_job_last_run_timestamp_seconds"]


def test_a_first_run_that_fails_has_no_last_success(pushgateway):
    run("train", "incident_risk", fail=True)
    got = group(scrape(pushgateway), job="lakeops_train", model="incident_risk")
    assert got["lakeops_job_success"] == 0 and "lakeops_job_last_success_timestamp_seconds" not in got


def test_grouping_values_that_are_not_plain_words_travel_base64(pushgateway):
    assert grouping_path("score", "incident_risk") == "/metrics/job/lakeops_score/model/incident_risk"
    assert grouping_path("maintain", None) == "/metrics/job/lakeops_maintain"
    assert grouping_path("score", "") == "/metrics/job/lakeops_score/model@base64/="
    assert grouping_path("score", "a/b c") == "/metrics/job/lakeops_score/model@base64/YS9iIGM="
    for model in ("a/b c", "..", 'q"uote\\', "ü"):
        run("score", model)
        assert group(scrape(pushgateway), job="lakeops_score", model=model)["lakeops_job_success"] == 1, model


def test_exposition_and_env():
    text = exposition(RunMetrics("score", "m", False, 1700000000.5, 1.25, None, 3))
    assert "lakeops_job_last_success_timestamp_seconds" not in text
    assert "lakeops_job_last_run_timestamp_seconds 1700000000.5\n" in text and "lakeops_job_rows_in NaN\n" in text
    assert "# TYPE lakeops_job_success gauge\nlakeops_job_success 0\n" in text
    assert pushgateway_from_env({}) is None
    gw = pushgateway_from_env({URL_ENV: "https://pgw.example.com/prefix", TOKEN_ENV: "tok"})
    assert gw.name == "https://pgw.example.com" and "tok" not in repr(gw) and "prefix" not in repr(gw)
    with pytest.raises(ValueError, match=URL_ENV):
        pushgateway_from_env({URL_ENV: "pgw:9091"})


def test_a_down_or_misnamed_pushgateway_never_fails_or_holds_up_the_job(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="lakeops")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    monkeypatch.setenv(URL_ENV, f"http://127.0.0.1:{port}")
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    t0 = time.monotonic()
    run("score", "incident_risk")
    run("score", "incident_risk", fail=True)
    assert time.monotonic() - t0 < 5
    assert f"Pushgateway http://127.0.0.1:{port} did not take the metrics of the score run" in caplog.text
    assert "s3cret" not in caplog.text
    monkeypatch.setenv(URL_ENV, "pushgateway:9091")  # not a URL: logged, and the job goes on
    run("score", "incident_risk")
    assert f"{URL_ENV} must be an http(s) URL" in caplog.text


def test_an_error_answer_is_logged_not_raised(caplog):
    """An HTTP error from the Pushgateway (here: a path it does not serve) is logged with its reason."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from lakeops.pushgateway import Pushgateway, push

    class Refuse(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"pushed metrics are invalid or inconsistent with existing metrics"
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        gw = Pushgateway(url=f"http://127.0.0.1:{server.server_address[1]}")
        assert push(gw, RunMetrics("score", "m", True, time.time(), 1.0, 1, 1)) is False
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 400: pushed metrics are invalid" in caplog.text
