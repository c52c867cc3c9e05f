"""What is in the lakehouse, read from the Delta logs alone (no Spark needed).

Used by ``lakeops tables``. Reads every ``<root>/<schema>/<table>/_delta_log``;
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from lakeops.names import NAME_PATTERN


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int | None  # None when a file carries no row count in its stats
    files: int
    partitions: int | None  # None for an unpartitioned table
    version: int
    last_commit: datetime
    last_operation: str


def list_tables(root: Path) -> list[TableInfo]:
    """Every Delta table under ``root``, sorted by name."""
    from deltalake import DeltaTable

    found = []
    root = Path(root)
    if not root.is_dir():
        return found
    for log_dir in sorted(root.glob("*/*/_delta_log")):
        table_dir = log_dir.parent
        schema, table = table_dir.parent.name, table_dir.name
        if not (NAME_PATTERN.fullmatch(schema) and NAME_PATTERN.fullmatch(table)):
            continue
        dt = DeltaTable(str(table_dir))
        actions = pa.table(dt.get_add_actions(flatten=True))
        counts = actions.column("num_records").to_pylist() if actions.num_rows else []
        part_cols = [c for c in actions.column_names if c.startswith("partition.")]
        partitions = len(set(zip(*(actions.column(c).to_pylist() for c in part_cols), strict=False))) if part_cols else None
        last = dt.history(1)[0]
        found.append(
            TableInfo(
                name=f"{schema}.{table}",
                rows=None if any(c is None for c in counts) else sum(counts),
                files=len(counts),
                partitions=partitions,
                version=dt.version(),
                last_commit=datetime.fromtimestamp(last["timestamp"] / 1000, tz=UTC),
                last_operation=str(last.get("operation", "")),
            )
        )
    return found


def format_tables(tables: list[TableInfo]) -> str:
    """A fixed-width listing for the terminal."""
    if not tables:
        return "no tables yet"
    header = ("table", "rows", "partitions", "files", "version", "last commit (UTC)", "operation")
    rows = [
        (
            t.name,
            f"{t.rows:,}" if t.rows is not None else "?",
            str(t.partitions) if t.partitions is not None else "-",
            str(t.files),
            str(t.version),
            t.last_commit.strftime("%Y-%m-%d %H:%M:%S"),
            t.last_operation,
        )
        for t in tables
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4}
    fmt = lambda r: "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=False)))  # noqa: E731
    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)])
