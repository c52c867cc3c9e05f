"""The embedded MLflow store of a lakehouse moved to another folder: find it and follow it.

Without a tracking server, MLflow keeps its runs and registry in ``<lake>/mlflow.db``
and the artifacts under ``<lake>/mlartifacts``, and it records every artifact location
as an absolute ``file://`` URI. A lakehouse copied or moved to another folder (a new
disk, a laptop, a test fixture) keeps pointing at the old one, where the models no
longer are. :func:`find_move` tells whether the store still points elsewhere;
:func:`apply_move` rewrites those locations in one SQLite transaction (all or none),
which is what ``lakeops upgrade`` does; :func:`check_not_moved` is the check a job
makes before it uses the registry.

MLflow has no API that changes a recorded artifact location, so this edits the
columns that hold one; the tables and columns are checked to exist first, so a store
of another MLflow schema is refused rather than half-edited. Reads and writes
``<lake>/mlflow.db`` only; no Delta tables.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from lakeops.errors import ConfigError

#: The store's file and artifact folder in the lake (``registry.setup``'s defaults).
STORE_FILE = "mlflow.db"
ARTIFACT_FOLDER = "mlartifacts"
#: Where MLflow 3 records artifact locations.
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)
#: How lakeops names a model's experiment; its artifact location is ``<artifacts>/<model>``.
_EXPERIMENT_PREFIX = "lakeops/"


@dataclass(frozen=True)
class StoreMove:
    """The embedded store's artifact locations point under ``old``; the lake's artifacts are under ``new``."""

    store: Path
    old: str  # file:///old/lake/mlartifacts
    new: str  # file:///new/lake/mlartifacts
    rows: int  # locations to rewrite

    def describe(self) -> str:
        return (f"MLflow store {self.store}: the lakehouse moved; {self.rows} artifact location(s) move from "
                f"{self.old} to {self.new}")


def store_path(lake_root: Path | str) -> Path:
    return Path(lake_root).resolve() / STORE_FILE


def find_move(lake_root: Path | str) -> StoreMove | None:
    """The move to make, or ``None`` when there is no embedded store or it points at this lake."""
    store = store_path(lake_root)
    if not store.is_file():
        return None
    new = (Path(lake_root).resolve() / ARTIFACT_FOLDER).as_uri()
    with closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as con:
        if not _has_table(con, "experiments"):
            return None  # a store MLflow has not set up yet
        old = _recorded_root(con)
        if old is None or old == new:
            return None
        _check_columns(con, store)
        rows = sum(con.execute(f"select count(*) from {table} where substr({column}, 1, ?) = ?",
                               (len(old) + 1, old + "/")).fetchone()[0]
                   for table, column in _present(con))
    return StoreMove(store=store, old=old, new=new, rows=rows)


def apply_move(move: StoreMove) -> int:
    """Rewrite the locations under ``move.old`` to ``move.new`` in one transaction; returns rows changed."""
    changed = 0
    with closing(sqlite3.connect(move.store)) as con, con:  # the inner `con`: commit, or roll back on error
        for table, column in _present(con):
            cur = con.execute(
                f"update {table} set {column} = ? || substr({column}, ?) where substr({column}, 1, ?) = ?",
                (move.new + "/", len(move.old) + 2, len(move.old) + 1, move.old + "/"),
            )
            changed += cur.rowcount
    return changed


def check_not_moved(lake_root: Path | str) -> None:
    """Refuse to use an embedded store that points at another lakehouse's artifacts.

    Raises:
        ConfigError: naming the old location and ``lakeops upgrade``.
    """
    move = find_move(lake_root)
    if move is not None:
        raise ConfigError(
            f"the MLflow store {move.store} records its artifacts under {move.old}, but this lakehouse keeps them "
            f"under {move.new} (the lakehouse was moved or copied): run `lakeops upgrade` to follow it"
        )


def _recorded_root(con: sqlite3.Connection) -> str | None:
    """The artifact root lakeops' experiments were created under (``<root>/<model>``), if any."""
    for name, location in con.execute(
        "select name, artifact_location from experiments where name like ? and lifecycle_stage = 'active'",
        (_EXPERIMENT_PREFIX + "%",),
    ):
        model = name[len(_EXPERIMENT_PREFIX):]
        if location and location.startswith("file://") and location.endswith("/" + model):
            return location[: -len(model) - 1]
    return None


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    return con.execute("select 1 from sqlite_master where type = 'table' and name = ?", (table,)).fetchone() is not None


def _present(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """The location columns this store's schema has (``logged_models`` is MLflow 3's)."""
    return [(t, c) for t, c in _LOCATION_COLUMNS if _has_table(con, t)]


def _check_columns(con: sqlite3.Connection, store: Path) -> None:
    for table, column in _present(con):
        names = {row[1] for row in con.execute(f"pragma table_info({table})")}
        if column not in names:
            raise ConfigError(f"the MLflow store {store} has no column {table}.{column}: a schema lakeops "
                              "upgrade does not know; move its artifacts with MLflow's own tools")
