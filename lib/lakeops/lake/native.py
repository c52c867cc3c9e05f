"""The native Delta backend: delta-spark does every read and write.

Used when the Spark session has the Delta jars (a cluster or Databricks runtime,
or a session :mod:`lakeops.spark` builds with ``delta=True`` from the jars
``make jars`` fetched). Same operations, same errors as :mod:`lakeops.lake.embedded`:
the shared checks (schema, partition selection) run in :class:`lakeops.lake.base.Lake`
first. Reads and writes the tables it is asked for; delta-spark's concurrent-modification
errors become :class:`~lakeops.errors.CommitConflictError`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lakeops.errors import CommitConflictError, EmptyWriteError, PartitionViolationError
from lakeops.lake.base import DEFAULT_RETENTION_HOURS, Lake, WriteResult
from lakeops.lake.spec import PartitionSelection, TableSpec
from lakeops.names import TableName

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame


class NativeLake(Lake):
    """Delta tables read and written by delta-spark."""

    backend_name = "native"

    def _uri(self, name: str | TableName) -> str:
        return self.storage.spark_uri(self.location(name))

    def _create(self, spec: TableSpec) -> None:
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(self.spark).location(self._uri(spec.name))
        builder = builder.addColumns(spec.spark_schema)
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        builder.execute()

    def _read(self, spec: TableSpec, dt: DeltaTable, selection: PartitionSelection | None) -> DataFrame:
        reader = self.spark.read.format("delta").option("versionAsOf", dt.version())
        df = reader.load(self._uri(spec.name))
        return df.where(selection.sql_predicate()) if selection is not None else df

    def _overwrite(
        self,
        df: DataFrame,
        spec: TableSpec,
        selection: PartitionSelection,
        *,
        target: DeltaTable,  # delta-spark reads the log itself
        allow_empty: bool,
        metadata: dict[str, Any],
    ) -> WriteResult:
        from pyspark.errors import AnalysisException

        if not allow_empty and df.isEmpty():
            raise EmptyWriteError(
                f"{spec.name}: the input for {selection.describe()} has no rows; the existing "
                "partitions were left as they were (pass allow_empty to clear them)"
            )
        write_id = uuid.uuid4().hex
        metadata = {**metadata, "lakeops.operation": "overwrite", "lakeops.partitions": selection.describe(),
                    "lakeops.write_id": write_id}
        writer = df.write.format("delta").mode("overwrite").option("userMetadata", json.dumps(metadata))
        if selection.values:
            writer = writer.option("replaceWhere", selection.sql_predicate())
        try:
            with _conflicts_named(spec, f"overwrite of {selection.describe()}"):
                writer.save(self._uri(spec.name))
        except AnalysisException as exc:
            if (exc.getCondition() or "").startswith("DELTA_REPLACE_WHERE"):
                raise PartitionViolationError(
                    f"{spec.name}: rows fall outside the partitions being overwritten "
                    f"({selection.describe()}): found {_outside(df, spec, selection)}; nothing was committed"
                ) from None
            raise
        return self._result(spec, write_id, since=target.version())

    def _append(self, df: DataFrame, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]) -> WriteResult:
        write_id = uuid.uuid4().hex
        metadata = {**metadata, "lakeops.operation": "append", "lakeops.write_id": write_id}
        with _conflicts_named(spec, "append"):
            df.write.format("delta").mode("append").option("userMetadata", json.dumps(metadata)).save(
                self._uri(spec.name)
            )
        return self._result(spec, write_id, since=target.version())

    def _result(self, spec: TableSpec, write_id: str, *, since: int) -> WriteResult:
        """What this write's commit added. delta-spark does not hand back its version, and
        another writer may have committed since: the commit is the newest after ``since`` (the
        version the write started from) carrying ``write_id``.

        Raises:
            CommitConflictError: no commit carries ``write_id``. On S3, delta-spark's log store
                (``S3SingleDriverLogStore``) guards a version only within its own driver, so
                another driver writing the same version can replace this write's commit file:
                the write is lost, and saying so beats reporting the other writer's commit.
        """
        from lakeops.lake.conflicts import read_commits

        uri = self.location(spec.name)
        commits = read_commits(self.storage, uri, after=since, upto=self._delta(spec.name).version())
        mine = [(version, actions) for version, actions in commits if write_id in _user_metadata(actions)]
        if not mine:
            raise CommitConflictError(
                f"{spec.name}: this write's commit is not in the table's log: another Spark driver "
                "committed the same version over it (delta-spark on S3 guards one driver per table; "
                "keep one native writer per table, or use the embedded backend); nothing of it "
                "remains committed: run it again"
            )
        version, actions = mine[-1]
        adds = [a["add"] for a in actions if "add" in a]
        rows = sum(json.loads(a.get("stats") or "{}").get("numRecords", 0) for a in adds)
        partitions = sorted({
            "/".join(f"{c}={a['partitionValues'].get(c) if a['partitionValues'].get(c) is not None else 'null'}"
                     for c in spec.partition_by)
            for a in adds if spec.partition_by
        })
        return WriteResult(str(spec.name), version, rows, len(adds), tuple(partitions))

    def vacuum(
        self, name: str | TableName, *, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = True
    ) -> list[str]:
        from delta.tables import DeltaTable

        if dry_run:
            # Listing reads only the log, which delta-rs does for any writer's table.
            return list(
                self._delta(name).vacuum(
                    retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False, full=True
                )
            )
        # delta-spark refuses short retentions unless this check is off; the
        # caller's explicit retention is the decision, as in the embedded backend.
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        DeltaTable.forPath(self.spark, self._uri(name)).vacuum(float(retention_hours))
        return []


def _user_metadata(actions: list[dict[str, Any]]) -> str:
    """The ``userMetadata`` of a commit's ``commitInfo`` ("" without one)."""
    info: dict[str, Any] = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    return str(info.get("userMetadata", ""))


@contextmanager
def _conflicts_named(spec: TableSpec, what: str) -> Iterator[None]:
    """delta-spark's concurrent-modification errors as :class:`CommitConflictError` (a retry may pass)."""
    import delta.exceptions as conflicts

    try:
        yield
    except tuple(getattr(conflicts, name) for name in conflicts.__all__) as exc:
        reason = str(exc).strip().split("\n", 1)[0]
        raise CommitConflictError(
            f"{spec.name}: another writer committed first ({reason}) while this {what} ran; "
            "nothing of it was committed: run it again"
        ) from None


def _outside(df: DataFrame, spec: TableSpec, selection: PartitionSelection) -> str:
    """The first few partitions of ``df`` outside ``selection``, for the error message."""
    rows = df.where(f"not ({selection.sql_predicate()})").select(*spec.partition_by).distinct().limit(6).collect()
    found = sorted("/".join(f"{c}={r[c]}" for c in spec.partition_by) for r in rows)
    return ", ".join(found[:5]) + (" and more" if len(found) > 5 else "")
