"""A real Airflow 3 in a temporary ``AIRFLOW_HOME``, driven through its own CLI.

The metadata DB is a database of the home's own on a PostgreSQL server that the tests start
(``scripts/local_postgres.py``: SQLite, one writer at a time, failed with "database is locked"
when the scheduler, the API server and a CLI command wrote at once on a busy machine); the
executor is the LocalExecutor (what ``airflow standalone`` runs with). Tasks reach the
metadata DB through the API server's Task Execution API, so running DAGs through the
scheduler takes three processes: ``api-server`` (the execution app only),
``scheduler`` and ``dag-processor``, all on 127.0.0.1, each in its own process group so
that stopping it also stops the task processes and spark-submits it started (Linux: the
session is found through /proc).
``airflow dags test`` needs none of them: it runs the Execution API in-process.

Nothing here imports Airflow: the test process keeps its own modules and configuration.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import psycopg2
from local_postgres import LocalPostgres

PROJECT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
# The metadata DB of processes that must not touch one (parsing DAGs): nothing listens on port 1.
NO_DATABASE = "postgresql+psycopg2://nobody@127.0.0.1:1/none"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of every Airflow process: this process's, less any Airflow or lakeops settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LAKEOPS_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=NO_DATABASE,
    )
    env.update(extra)
    return env


#: Every wait below (1800 s by default) is a hang guard, not a timing assertion: on a busy
#: 2-core machine a backfill can take several times as long as on a quiet one.


class LocalAirflow:
    """One Airflow home: its CLI, its metadata DB (a database of ``postgres``) and, on demand, its services."""

    def __init__(self, home: Path, postgres: LocalPostgres, **settings: str) -> None:
        self.home = home
        self.port = free_port()
        database = re.sub(r"[^a-z0-9_]", "_", home.name.lower())
        self.database = postgres.create_database(database)  # its libpq URL, for query()
        self.env = base_env(
            home,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres.url(database, driver="psycopg2"),
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__FERNET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            AIRFLOW__API_AUTH__JWT_SECRET=base64.urlsafe_b64encode(os.urandom(16)).decode(),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{self.port}",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.port}/execution/",
            # New DAGs start unpaused (backfill runs of a paused DAG are never queued), and the
            # scheduler creates no runs of its own: only the backfills and triggers of a test run.
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            **settings,
        )
        self._services: dict[str, tuple[subprocess.Popen, Path]] = {}

    # ------------------------------------------------------------------ CLI and DB

    def cli(self, *args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited with {done.returncode}:\n"
                                 f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done

    def query(self, sql: str, *params: object) -> list[tuple]:
        """The rows of one statement (``%s`` placeholders), read in a connection of its own; bytea as bytes."""
        with closing(psycopg2.connect(self.database)) as db:
            db.set_session(readonly=True, autocommit=True)
            with db.cursor() as cursor:
                cursor.execute(sql, params or None)  # without parameters, '%' is not a placeholder
                return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, tuple[str | None, int]]:
        """``{task_id: (state, try_number)}`` of one run."""
        rows = self.query("select task_id, state, try_number from task_instance where dag_id = %s and run_id = %s",
                          dag_id, run_id)
        return {task: (state, tries) for task, state, tries in rows}

    def runs(self, dag_id: str, backfill_id: int) -> dict[str, tuple[str, str]]:
        """``{ds: (run_id, state)}`` of a backfill's runs (ds: the start of the data interval)."""
        rows = self.query("select run_id, state, data_interval_start from dag_run where dag_id = %s and backfill_id = %s",
                          dag_id, backfill_id)
        return {str(start)[:10]: (run_id, state) for run_id, state, start in rows}

    def backfill(self, dag_id: str, start: str, end: str, *options: str, timeout: float = 1800) -> int:
        """``airflow backfill create`` and wait until the scheduler has finished it; returns its id."""
        self.cli("backfill", "create", "--dag-id", dag_id, "--from-date", start, "--to-date", end, *options)
        (backfill_id,), = self.query("select max(id) from backfill where dag_id = %s", dag_id)
        self.wait(lambda: self.query("select completed_at from backfill where id = %s", backfill_id)[0][0],
                  timeout, f"backfill {backfill_id} of {dag_id} {start}..{end}")
        return backfill_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1800) -> str:
        """Wait until a run has finished; returns its state."""
        def finished():
            rows = self.query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
            return rows and rows[0][0] in ("success", "failed") and rows[0][0]
        return self.wait(finished, timeout, f"run {run_id} of {dag_id}")

    def wait(self, done, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, (process, log) in self._services.items():
                if process.poll() is not None:
                    raise AssertionError(f"airflow {name} exited with {process.returncode}:\n{_tail(log)}")
            result = done()
            if result:
                return result
            time.sleep(2)
        raise AssertionError(f"{what} did not finish in {timeout:.0f}s; scheduler log:\n"
                             f"{_tail(self.home / 'scheduler.out')}")

    # ------------------------------------------------------------------ services

    def start(self) -> None:
        """api-server (execution API only), scheduler and dag-processor; returns when the API answers."""
        commands = {
            "api-server": ["api-server", "--apps", "execution", "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in commands.items():
            log = self.home / f"{name}.out"
            with log.open("wb") as out:
                process = subprocess.Popen([str(AIRFLOW), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            self._services[name] = (process, log)

        def listening() -> bool:
            with closing(socket.socket()) as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        self.wait(listening, 120, "the API server")

    def stop(self) -> None:
        """SIGTERM each service, then SIGKILL whatever is left of its session after 30 s.

        Task supervisors put themselves in process groups of their own, so what is left is
        found by session: each service leads one (start_new_session), and its task processes
        and their spark-submits stay in it.
        """
        for process, _ in self._services.values():
            _signal(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process, _ in self._services.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            for pid in _session(process.pid):
                _signal(pid, signal.SIGKILL)
            process.wait()
        self._services.clear()


def _session(leader: int) -> list[int]:
    """The processes of the session ``leader`` started."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == leader:
                    found.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<none>"


def dump(value: object) -> str:
    return json.dumps(value, indent=1, default=str)
