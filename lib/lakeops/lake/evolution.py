"""How an existing table differs from its contract, and whether that can change in place.

A release may change a table contract (:mod:`lakeops.lake.tables`). :func:`plan_change`
compares what a table's Delta log says (schema, partition columns, table properties)
with the contract and sorts the differences:

- **in place**: nullable columns the contract has and the table lacks. Delta adds
  them with a metadata commit (delta-rs ``alter.add_columns``, delta-spark ``ALTER
  TABLE ... ADD COLUMNS``); rows written before read them as null. Also the contract
  version recorded in the table's properties (:data:`CONTRACT_VERSION_PROPERTY`).
- **refused**: a column whose type changed, a column the contract no longer has
  (removed or renamed), other partition columns. Each is a rewrite of the table's
  data, never done behind a job's back: ``lakeops upgrade --rewrite <table>``.

Pure: no IO; the lake and the catalog call it with a table version they opened (:func:`change_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops.errors import SchemaMismatchError
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY, TableSpec, same_type

if TYPE_CHECKING:
    from deltalake import DeltaTable

#: What to run for an outdated lake, in every message that refuses one.
UPGRADE_COMMAND = "lakeops upgrade"


def rewrite_command(table: object) -> str:
    """The command that migrates ``table`` when its change cannot be applied in place."""
    return f"{UPGRADE_COMMAND} --rewrite {table}"


class OutdatedTableError(SchemaMismatchError):
    """The table was written under an earlier contract that ``lakeops upgrade`` brings up to date."""


@dataclass(frozen=True)
class TableChange:
    """What bringing one table to its contract takes."""

    table: str
    #: Columns to add in place (nullable), in the contract's order.
    add: tuple[pa.Field, ...]
    #: The contract version the table's properties record (``None``: none recorded, a table
    #: written before contracts were versioned) and the contract's own.
    recorded_version: int | None
    version: int
    #: Differences that cannot be applied in place, one phrase each.
    refused: tuple[str, ...] = ()

    @property
    def in_place(self) -> bool:
        """Whether an upgrade would commit anything to this table (and may: nothing is refused)."""
        return not self.refused and (bool(self.add) or self.recorded_version != self.version)

    @property
    def outdated(self) -> bool:
        """Whether jobs must refuse the table until it is upgraded (columns missing or a refused change)."""
        return bool(self.add or self.refused)

    def describe(self) -> str:
        """One line for ``lakeops upgrade``'s listing."""
        if self.refused:
            return (f"{self.table}: {'; '.join(self.refused)}: cannot change in place; "
                    f"`{rewrite_command(self.table)}` migrates it")
        parts = []
        if self.add:
            parts.append("add column(s) " + ", ".join(f"{f.name} ({f.type})" for f in self.add))
        if self.recorded_version is None:
            parts.append(f"record contract v{self.version}")
        elif self.recorded_version != self.version:
            parts.append(f"contract v{self.recorded_version} -> v{self.version}")
        return f"{self.table}: " + ("; ".join(parts) if parts else f"up to date (contract v{self.version})")

    def error(self) -> SchemaMismatchError:
        """The error a job raises for this table (call only when :attr:`outdated`)."""
        if self.refused:
            return SchemaMismatchError(self.describe())
        missing = ", ".join(f.name for f in self.add)
        return OutdatedTableError(
            f"{self.table} was written under an earlier contract (it lacks {missing}; this release's contract "
            f"is v{self.version}): run `{UPGRADE_COMMAND}` (`--dry-run` lists the changes) before the jobs"
        )


def plan_change(
    spec: TableSpec,
    *,
    schema: pa.Schema,
    partition_by: Sequence[str],
    properties: Mapping[str, str],
) -> TableChange:
    """Compare a table as its log describes it with ``spec``.

    Args:
        schema: the table's columns (as :func:`lakeops.lake.snapshot.arrow_schema` reads them).
        partition_by: the table's partition columns.
        properties: the table's Delta properties (``configuration``).
    """
    refused = []
    if list(partition_by) != list(spec.partition_by):
        refused.append(f"partitioned by {list(partition_by)}, the contract says {list(spec.partition_by)}")
    have = {f.name: f.type for f in schema}
    add = []
    for f in spec.schema:
        if f.name not in have:
            add.append(pa.field(f.name, f.type, nullable=True))
        elif not same_type(have[f.name], f.type):
            refused.append(f"column {f.name!r} is {have[f.name]} in the table, the contract declares {f.type}")
    dropped = [name for name in have if name not in spec.schema.names]
    if dropped:
        refused.append(f"column(s) {', '.join(map(repr, dropped))} not in the contract (removed or renamed)")
    recorded = properties.get(CONTRACT_VERSION_PROPERTY)
    return TableChange(
        table=str(spec.name),
        add=tuple(add),
        recorded_version=int(recorded) if recorded is not None and recorded.isdigit() else None,
        version=spec.version,
        refused=tuple(refused),
    )


def change_of(spec: TableSpec, dt: DeltaTable) -> TableChange:
    """:func:`plan_change` for the table version ``dt`` (a delta-rs handle already opened)."""
    from lakeops.lake.snapshot import arrow_schema

    meta = dt.metadata()
    return plan_change(spec, schema=arrow_schema(dt), partition_by=meta.partition_columns,
                       properties=meta.configuration)
