"""The lake on a real Spark standalone cluster: executors in their own JVMs.

Starts a master and one worker on 127.0.0.1 from the pyspark pip package's own
``bin/spark-class``, then runs ``tests/cluster_job.py`` as a separate driver
process (the pytest process may already own a local SparkContext, and a process
can have only one). The job writes ``raw.telemetry`` for two dates through
``lake.overwrite``, reads it back through ``lake.read`` and reports in one JSON
line; this test checks that report and reads the table again with delta-rs.
Master and worker are always stopped, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "tests" / "cluster_job.py"
JOB_TIMEOUT_S = 900  # hang guards, not timing assertions: a busy machine is slow
START_TIMEOUT_S = 300


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<none>"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(_spark_home() / "bin" / "spark-class"), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the executors it launches die with it
        )


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{what} did not accept connections on port {port} within {START_TIMEOUT_S}s:\n{_tail(log)}")


def _wait_for_worker(webui_port: int, worker: subprocess.Popen, log: Path) -> None:
    """Until the master's status page lists an alive worker."""
    deadline = time.monotonic() + START_TIMEOUT_S
    status: object = None
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=2) as resp:
                status = json.load(resp)
            if any(w.get("state") == "ALIVE" for w in status.get("workers", [])):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no worker registered with the master within {START_TIMEOUT_S}s; status {status}:\n{_tail(log)}")


def _run_job(args: list[str], env: dict[str, str], workdir: Path) -> tuple[int, str, str]:
    """Run the driver in its own process group; on timeout kill it and its JVM."""
    out_path, err_path = workdir / "job.out", workdir / "job.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(JOB), *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=JOB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop(proc)
            pytest.fail(
                f"cluster_job.py did not finish within {JOB_TIMEOUT_S}s; stderr tail:\n{_tail(err_path)}"
            )
    return proc.returncode, out_path.read_text(errors="replace"), _tail(err_path)


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def test_lake_round_trip_on_standalone_cluster(tmp_path):
    """Both backends, one after the other, on one cluster (each its own lake)."""
    spark_home = _spark_home()
    assert (spark_home / "bin" / "spark-class").exists(), f"no spark-class in {spark_home}/bin"
    master_port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "512m",
        "PYSPARK_PYTHON": sys.executable,
    }
    env.pop("PYSPARK_DRIVER_PYTHON", None)
    lake_root = tmp_path / "lake"
    master_log, worker_log = tmp_path / "master.log", tmp_path / "worker.log"
    master = worker = None
    try:
        master = _start(
            [
                "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1",
                "--port", str(master_port),
                "--webui-port", str(master_ui),
            ],
            env,
            master_log,
        )
        _wait_for_port(master_port, master, master_log, "the master")
        worker = _start(
            [
                "org.apache.spark.deploy.worker.Worker",
                master_url,
                "--host", "127.0.0.1",
                "--cores", "2",
                "--memory", "2g",
                "--webui-port", str(worker_ui),
                "--work-dir", str(tmp_path / "worker"),
            ],
            env,
            worker_log,
        )
        _wait_for_worker(master_ui, worker, worker_log)

        reports = {}
        for backend in ("embedded", "native"):
            rc, stdout, stderr = _run_job(["--master", master_url, "--lake", str(lake_root / backend),
                                           "--backend", backend], env, tmp_path)
            report = _last_json_line(stdout)
            context = (
                f"cluster_job.py --backend {backend} exited {rc}; report {report}\nstderr tail:\n{stderr}\n"
                f"worker log tail:\n{_tail(worker_log, 2000)}"
            )
            assert rc == 0 and report is not None, context
            reports[backend] = (report, context)
    finally:
        _stop(worker)
        _stop(master)
    for backend, (report, context) in reports.items():
        _check_report(report, context, lake_root / backend, master_url, backend)


def _check_report(report: dict, context: str, lake_root: Path, master_url: str, backend: str) -> None:
    from deltalake import DeltaTable

    assert report["backend"] == backend, context

    assert report["master"] == master_url, context
    assert report["checks"] and all(v is not False for v in report["checks"].values()), context

    # Executors were JVMs of their own: driver + at least one executor block manager,
    # and every probe task ran under CoarseGrainedExecutorBackend.
    assert report["block_managers"] > 1, context
    assert report["checks"]["tasks_in_executor_jvms"] in (True, None), context
    assert len(report["executor_endpoints"]) > 1, context

    # What was written is what is read, per date and in total.
    written = report["rows_by_date"]
    assert len(written) == 2 and all(n > 1000 for n in written.values()), context
    assert [w["rows"] for w in report["writes"]] == list(written.values()), context
    assert [w["version"] for w in report["writes"]] == [1, 2], context
    assert report["rows_written"] == sum(written.values())
    assert report["rows_read"] == report["rows_written"], context
    assert report["rows_read_by_date"] == written, context
    assert report["hosts_distinct"] == report["rows_written"], context
    assert report["delta_version"] == 2, context

    # The table is plain Delta to any reader: delta-rs sees the same rows.
    table_path = Path(report["table_path"])
    assert table_path == (lake_root / "raw" / "telemetry").resolve()
    table = DeltaTable(str(table_path)).to_pyarrow_table()
    assert table.num_rows == report["rows_written"]
    per_date = Counter(d.isoformat() for d in table.column("ds").to_pylist())
    assert dict(per_date) == written
