"""What is in the lakehouse, read from the Delta logs alone (no Spark needed).

Used by ``lakeops tables``, and by ``lakeops upgrade`` and every job's start
(:func:`table_changes`, :func:`check_contracts`: how the tables differ from this
release's contracts). Finds the tables with :func:`lakeops.lake.snapshot.table_names`
and reads each one's latest snapshot (:func:`lakeops.lake.snapshot.open_snapshot`), on a
local folder or an object store alike. Reads every ``<root>/<schema>/<table>/_delta_log``;
writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from lakeops.errors import TableNotFoundError
from lakeops.lake.evolution import OutdatedTableError, TableChange, change_of
from lakeops.lake.snapshot import Snapshot, open_snapshot, table_names
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY, TableSpec
from lakeops.lake.storage import Storage, storage_for


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int | None  # None when a file carries no row count in its stats
    files: int
    partitions: int | None  # None for an unpartitioned table
    version: int
    last_commit: datetime
    last_operation: str
    contract: int | None = None  # the contract version the table records (None: not a lakeops contract table)


def list_tables(root: str | Path | Storage) -> list[TableInfo]:
    """Every Delta table under ``root`` (a lake root, or its :class:`Storage`), sorted by name."""
    storage = root if isinstance(root, Storage) else storage_for(root)
    found = []
    for name in table_names(storage):
        try:
            # Listing reads the log only: a table with reader features is listed too.
            snapshot = open_snapshot(storage, name, check_reader=False)
        except TableNotFoundError:  # removed since it was listed
            continue
        found.append(table_info(snapshot))
    return found


def table_info(snapshot: Snapshot) -> TableInfo:
    """What ``lakeops tables`` shows of one table version."""
    files = snapshot.files()
    counts = [f.stats.get("num_records") for f in files]
    partition_by = snapshot.spec.partition_by
    partitions = len({tuple(f.partition[c] for c in partition_by) for f in files}) if partition_by else None
    last = snapshot.dt.history(1)[0]
    return TableInfo(
        name=str(snapshot.name),
        rows=None if any(c is None for c in counts) else sum(cast("list[int]", counts)),
        files=len(files),
        partitions=partitions,
        version=snapshot.version,
        last_commit=datetime.fromtimestamp(last["timestamp"] / 1000, tz=UTC),
        last_operation=str(last.get("operation", "")),
        contract=_recorded_contract(snapshot),
    )


def _recorded_contract(snapshot: Snapshot) -> int | None:
    recorded = snapshot.dt.metadata().configuration.get(CONTRACT_VERSION_PROPERTY)
    return int(recorded) if recorded is not None and recorded.isdigit() else None


def format_tables(tables: list[TableInfo]) -> str:
    """A fixed-width listing for the terminal."""
    if not tables:
        return "no tables yet"
    header = ("table", "rows", "partitions", "files", "version", "contract", "last commit (UTC)", "operation")
    rows = [
        (
            t.name,
            f"{t.rows:,}" if t.rows is not None else "?",
            str(t.partitions) if t.partitions is not None else "-",
            str(t.files),
            str(t.version),
            f"v{t.contract}" if t.contract is not None else "-",
            t.last_commit.strftime("%Y-%m-%d %H:%M:%S"),
            t.last_operation,
        )
        for t in tables
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}
    fmt = lambda r: "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=False)))  # noqa: E731
    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)])


def table_changes(storage: Storage, specs: Iterable[TableSpec]) -> list[TableChange]:
    """How each existing table of ``specs`` differs from its contract (tables not made yet are left out)."""
    present = set(table_names(storage))
    changes = []
    for spec in specs:
        if str(spec.name) not in present:
            continue
        changes.append(change_of(spec, open_snapshot(storage, spec.name, check_reader=False).dt))
    return changes


def check_contracts(storage: Storage, specs: Iterable[TableSpec]) -> None:
    """Refuse a lakehouse with a table this release cannot write until ``lakeops upgrade`` ran.

    Raises:
        OutdatedTableError: naming every such table, or SchemaMismatchError for a change that
            needs a rewrite (the first one found).
    """
    outdated = [c for c in table_changes(storage, specs) if c.outdated]
    refused = [c for c in outdated if c.refused]
    if refused:
        raise refused[0].error()
    if outdated:
        names = ", ".join(c.table for c in outdated)
        raise OutdatedTableError(
            f"the lakehouse {storage.describe()} was written by an earlier lakeops: {names} "
            f"lack{'s' if len(outdated) == 1 else ''} columns of this release's contracts; run `lakeops upgrade` "
            "(`--dry-run` lists the changes) before the jobs"
        )
