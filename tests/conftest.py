"""One Spark session for the whole test run, and a fresh lake per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakeops.config import load_settings

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

# Every JVM the tests start (the workers' sessions, CLI and job processes, Airflow's spark-submits:
# all inherit this environment) is short-lived and sees little data, so the optimising JIT
# compiler's work never pays back: C1 alone spends far less CPU, and the suite is CPU-bound on
# two cores. spark-submit adds SPARK_SUBMIT_OPTS to the driver's java command.
_C1_ONLY = "-XX:TieredStopAtLevel=1"
if _C1_ONLY not in os.environ.get("SPARK_SUBMIT_OPTS", ""):
    os.environ["SPARK_SUBMIT_OPTS"] = f"{os.environ.get('SPARK_SUBMIT_OPTS', '')} {_C1_ONLY}".strip()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Two groups for ``make test`` (``pytest -n 2 --dist loadgroup``): the real-Airflow tests,
    which mostly wait on a scheduler and on spark-submits, and everything else. Each group is one
    unit of work for one worker, in file order, so module and package fixtures are built once.

    A scheduler rather than ``xdist_group`` marks: with pytest 9, xdist 3.8's renaming of node
    ids for those marks has no effect, and the groups silently split.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TwoGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            # The object-store tests (a server and writer processes), the two trainers against an
            # MLflow server, the standalone cluster and the weeks of daily cycles even out the two
            # workers' loads.
            return "airflow" if nodeid.startswith(("tests/dags/", "tests/test_object_store.py",
                                                   "tests/test_registry_server.py", "tests/test_cluster.py",
                                                   "tests/upkeep/test_soak.py")) else "lakeops"

    return TwoGroups(config, log)


def pytest_collection_modifyitems(config, items):
    """Mark what a test costs: ``spark`` when it needs the session's Spark (directly or through a
    fixture), so ``-m "not spark"`` runs the pure-Python tests alone in seconds."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def settings():
    """The test environment's settings (conf/test overlay: local[2], 2 shuffle partitions)."""
    return load_settings(conf_dir=CONF_DIR, env="test")


@pytest.fixture(scope="session")
def spark(settings):
    """The Spark session, with the Delta and hadoop-aws jars: both backends, on folders and on S3."""
    from s3server import ACCESS_KEY, REGION, SECRET_KEY

    from lakeops.spark import get_session

    # s3a reads credentials from the JVM's environment, fixed when it starts (as on a real
    # cluster), so the S3 tests' credentials are there before the session; they name no server.
    for key, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
                       ("AWS_REGION", REGION)):
        os.environ.setdefault(key, value)
    session = get_session(settings.spark, delta=True, s3=True)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def lake_root(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def lake(spark, settings, lake_root):
    from dataclasses import replace

    from lakeops.lake import open_lake

    return open_lake(spark, replace(settings.lake, root=str(lake_root)))


# ----------------------------------------------------------------------------- Alertmanager, Pushgateway

#: Where `make tools` (scripts/prometheus-tools.sh) unpacks Debian's Alertmanager and Pushgateway.
PROMETHEUS_BIN = Path(__file__).resolve().parents[1] / ".tools" / "prometheus" / "usr" / "bin"


@pytest.fixture
def prometheus_server(tmp_path):
    """Starts one of ``.tools/prometheus/usr/bin/`` on 127.0.0.1 and a free port, waits for its
    ``/-/ready``, stops it (terminate, then kill) at the end of the test. Call it with the binary's
    name and a function of the port that gives its arguments; it returns the base URL. A missing
    binary fails the test: run ``make tools``.

    It runs in ``.tools/prometheus/usr/``: Debian's Alertmanager finds its default templates at
    ``./share/prometheus/alertmanager`` from there (scripts/prometheus-tools.sh says why)."""
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    started: list[subprocess.Popen] = []

    def start(binary: str, args, *, ready_seconds: float = 30.0) -> str:
        path = PROMETHEUS_BIN / binary
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: run `make tools` (scripts/prometheus-tools.sh) to fetch Debian's "
                        "prometheus-alertmanager and prometheus-pushgateway into .tools/prometheus/")
        for attempt in range(3):  # another process may take the free port before the server binds it
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            log_path = tmp_path / f"{binary}-{port}.log"
            with open(log_path, "wb") as log_file:
                proc = subprocess.Popen([str(path), *args(port)], stdout=log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=PROMETHEUS_BIN.parent)
            started.append(proc)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + ready_seconds
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                        if response.status == 200:
                            return url
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.05)
            log_tail = log_path.read_text(errors="replace")[-2000:]
            if proc.poll() is None:
                pytest.fail(f"{binary} not ready on {url} after {ready_seconds:.0f} s:\n{log_tail}")
            if attempt == 2 or "address already in use" not in log_tail:
                pytest.fail(f"{binary} exited with {proc.returncode}:\n{log_tail}")
        raise AssertionError("unreachable")

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)


# ----------------------------------------------------------------------------- the whole loop


@pytest.fixture(scope="session")
def loop_lake(spark, settings, tmp_path_factory):
    """The whole-loop lakehouse (tests/looplake.py): every stage run by the real entries, once per
    test worker. Read it; a test that writes works on a copy."""
    from looplake import build

    return build(spark, settings, tmp_path_factory.mktemp("loop") / "lake")
