"""An MLflow tracking server of its own, on PostgreSQL: the DAG tests, the registry race test and ``make airflow``.

Teams run MLflow as a server (``mlflow server``) in front of a database, not as the SQLite
file lakeops embeds by default (``sqlite:///<lake>/mlflow.db``, what ``make demo`` uses). This
runs that server on this machine, from a directory of its own:

- ``DIR/mlflow.log`` its output, ``DIR/server.pid`` its process (the leader of a process
  group of its own: the uvicorn workers it starts go with it);
- ``mlflow server`` of this virtual environment on 127.0.0.1, 2 workers, job execution off
  (lakeops runs no MLflow jobs);
- the backend store: a ``postgresql://`` database (created when missing; on the server of
  ``scripts/local_postgres.py``), or any URI ``mlflow server`` takes;
- the artifact root: for experiments created without one (lakeops creates its own
  ``lakeops/<model>`` experiments with their artifacts under ``<lake>/mlartifacts/<model>``
  whatever the server says); clients read and write artifacts there themselves
  (``--no-serve-artifacts``), so it must be a place they reach: the lake.

Point lakeops at it with ``--set mlflow.tracking_uri=http://127.0.0.1:PORT`` (the Airflow
tasks: the Variable ``lakeops_mlflow_tracking_uri`` or ``LAKEOPS_MLFLOW_TRACKING_URI``).

The tests take a throwaway server (``with LocalMlflow.temporary(postgres, artifact_root=...)``);
``scripts/airflow-local.sh`` keeps one under ``$AIRFLOW_HOME/mlflow``::

    python scripts/local_mlflow.py start DIR --port 55500 \\
        --backend-store-uri postgresql://postgres@127.0.0.1:55432/mlflow \\
        --artifact-root lakehouse/mlartifacts                      # prints the tracking URI
    python scripts/local_mlflow.py stop DIR
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse, urlunparse

# Beside this file (on sys.path when it runs as a script, and in the tests' pythonpath).
import local_postgres
from local_postgres import free_port, process_alive, tail

if TYPE_CHECKING:
    from local_postgres import LocalPostgres

#: ``mlflow`` beside this interpreter: the virtual environment's.
MLFLOW = Path(sys.executable).with_name("mlflow")
# Throwaway servers are made as tempdir/PREFIX*; one whose owner process is gone was left by
# a killed test session, and the next one stops it.
PREFIX = "lakeops-mlflow-"
PID_FILE = "server.pid"
LOG_FILE = "mlflow.log"


class LocalMlflow:
    """One ``mlflow server`` whose files are in ``root``: :meth:`start`, :meth:`stop`, :attr:`url`."""

    def __init__(self, root: Path, *, backend_store_uri: str | None = None, artifact_root: Path | str | None = None,
                 port: int | None = None, workers: int = 2) -> None:
        """
        Args:
            root: the server's directory (created): its log and pid file.
            backend_store_uri: where runs and the registry live, e.g. ``postgresql://postgres@127.0.0.1:55432/mlflow``
                (only :meth:`stop` may go without it).
            artifact_root: the default artifact root, a folder (made absolute) or a URI (``s3://...``).
            port: the TCP port on 127.0.0.1; by default a free one, another if it is taken meanwhile.
            workers: uvicorn worker processes.
        """
        self.root = root.absolute()
        self.log = self.root / LOG_FILE
        self.backend_store_uri = backend_store_uri
        self.artifact_root = _artifact_uri(artifact_root) if artifact_root is not None else None
        self.port = port or free_port()
        self.workers = workers
        self._fixed_port = port is not None
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The tracking URI: ``http://127.0.0.1:PORT`` (also the UI's address)."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextmanager
    def temporary(cls, postgres: LocalPostgres, *, artifact_root: Path | str, database: str = "mlflow",
                  **kwargs) -> Iterator[LocalMlflow]:
        """A server on a database of ``postgres`` (created if missing), its files in a new temporary
        directory; stopped and the directory removed on exit (failure included)."""
        reap_orphans()
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / "owner").write_text(str(os.getpid()))
        try:
            server = cls(root, backend_store_uri=postgres.create_database(database, exist_ok=True),
                         artifact_root=artifact_root, **kwargs)
            server.start()
            try:
                yield server
            finally:
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    # ------------------------------------------------------------------ server

    def start(self, timeout: float = 180) -> None:
        """Start the server (stopping one this directory still records); returns once it answers
        ``/health``, or raises with its log's tail after ``timeout`` seconds or when it exits."""
        if not self.backend_store_uri or not self.artifact_root:
            raise ValueError("a server needs a backend store URI and an artifact root to start")
        self.root.mkdir(parents=True, exist_ok=True)
        self.stop()  # left behind by a session that was killed before it could stop it
        if self.backend_store_uri.startswith(("postgresql:", "postgresql+")):
            create_postgres_database(self.backend_store_uri)
        for _ in range(3):
            self._spawn()
            answered, exited = self._wait_until_healthy(timeout)
            if answered:
                return
            log = tail(self.log)
            self.stop()
            if exited and not self._fixed_port and "address already in use" in log.lower():
                self.port = free_port()  # taken between choosing it and binding it
                continue
            what = f"exited with {exited}" if exited is not None else f"did not answer within {timeout:.0f}s"
            raise RuntimeError(f"mlflow server on {self.url} ({self.backend_store_uri}) {what}; {self.log}:\n{log}")
        raise RuntimeError(f"mlflow server found no free port; {self.log}:\n{tail(self.log)}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the server's process group, SIGKILL what is left of it after ``timeout`` seconds."""
        pid = self._pid()
        if pid is not None:
            _killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _group_alive(pid) and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.2)
            _killpg(pid, signal.SIGKILL)
        self._reap(wait=True)
        (self.root / PID_FILE).unlink(missing_ok=True)

    def running(self) -> bool:
        return self._pid() is not None

    # ------------------------------------------------------------------ machinery

    def _spawn(self) -> None:
        command = [str(MLFLOW), "server",
                   "--backend-store-uri", _sqlalchemy_uri(self.backend_store_uri),
                   "--default-artifact-root", self.artifact_root, "--no-serve-artifacts",
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        # No huey job runner beside the workers: its jobs are GenAI evaluations, which lakeops does not run.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        with self.log.open("ab") as out:
            out.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            out.flush()
            self._process = subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        (self.root / PID_FILE).write_text(f"{self._process.pid} {self.port}\n")

    def _wait_until_healthy(self, timeout: float) -> tuple[bool, int | None]:
        """(answered, the exit code if it exited first)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                return False, code
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return True, None
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        return False, None

    def _pid(self) -> int | None:
        """The pid of the server this directory records, if it runs (and is an ``mlflow server`` on its port)."""
        try:
            pid, port = (int(v) for v in (self.root / PID_FILE).read_text().split())
        except (OSError, ValueError):
            return None
        if not _group_alive(pid):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid  # no /proc (macOS), or the leader is gone and its workers are left: the pid file's word
        return pid if b"server" in command and str(port).encode() in command else None

    def _reap(self, wait: bool = False) -> None:
        if self._process is not None:
            if wait:
                try:
                    self._process.wait(10)
                except subprocess.TimeoutExpired:
                    return
            if self._process.poll() is not None:
                self._process = None


def create_postgres_database(uri: str) -> None:
    """Create the database of a ``postgresql://`` URI when it does not exist (connecting to the
    server's ``postgres`` database as the URI's user): ``mlflow server`` creates tables, not databases."""
    import psycopg2
    from psycopg2 import sql

    parsed = urlparse(uri)
    name = parsed.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"database name {name!r} in {uri}: use letters, digits and '_' (at most 63)")
    maintenance = urlunparse(parsed._replace(scheme="postgresql", path="/postgres", query=""))
    with closing(psycopg2.connect(maintenance)) as db:
        db.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with db.cursor() as cursor:
            cursor.execute("select 1 from pg_database where datname = %s", (name,))
            if not cursor.fetchone():
                cursor.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def reap_orphans() -> None:
    """Stop the throwaway servers whose owner process is gone (a session that was killed) and remove their files."""
    local_postgres.reap_orphans(PREFIX, LocalMlflow)


def _sqlalchemy_uri(uri: str) -> str:
    """A libpq ``postgresql://`` URI with the driver named: SQLAlchemy 2.1 would otherwise pick psycopg
    (3), and the dev extras bring psycopg2. Other URIs as they are."""
    return "postgresql+psycopg2:" + uri.removeprefix("postgresql:") if uri.startswith("postgresql:") else uri


def _artifact_uri(root: Path | str) -> str:
    """A folder as an absolute ``file://`` URI (MLflow creates it on the first write); a URI with a scheme as it is."""
    text = str(root)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return text.rstrip("/")
    return Path(text).expanduser().absolute().as_uri()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group ``pgid`` runs (its leader or a worker it left behind)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if process_alive(pgid):
        return True
    try:  # only zombies left? (a leader not reaped yet, with its workers gone)
        entries = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return True  # no /proc (macOS): the group answered the signal
    for pid in entries:
        try:
            if pid != pgid and os.getpgid(pid) == pgid and process_alive(pid):
                return True
        except OSError:  # gone meanwhile
            pass
    return False


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the server recorded in DIR; print its tracking URI")
    start.add_argument("dir", type=Path)
    start.add_argument("--port", type=int, required=True)
    start.add_argument("--backend-store-uri", required=True,
                       help="e.g. postgresql://postgres@127.0.0.1:55432/mlflow (a missing postgresql database is created)")
    start.add_argument("--artifact-root", required=True, help="a folder (the lake's mlartifacts/) or a URI")
    start.add_argument("--workers", type=int, default=2)
    stop = commands.add_parser("stop", help="stop the server recorded in DIR")
    stop.add_argument("dir", type=Path)
    args = parser.parse_args(argv)

    if args.command == "stop":
        LocalMlflow(args.dir).stop()
        return 0
    server = LocalMlflow(args.dir, backend_store_uri=args.backend_store_uri, artifact_root=args.artifact_root,
                         port=args.port, workers=args.workers)
    server.start()
    print(server.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
