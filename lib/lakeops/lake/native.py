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
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.errors import CommitConflictError, EmptyWriteError, PartitionViolationError
from lakeops.lake.base import DEFAULT_RETENTION_HOURS, Lake, WriteResult
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY, PartitionSelection, TableSpec, arrow_to_spark
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
        builder = builder.addColumns(spec.spark_schema).property(CONTRACT_VERSION_PROPERTY, str(spec.version))
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        builder.execute()

    def _add_columns(self, spec: TableSpec, fields: Sequence[pa.Field], *, metadata: dict[str, Any]) -> None:
        # Column names are validated identifiers and types come from the contract's Arrow
        # schema, so the column list is safe to write into the statement; the table is bound.
        spark_fields = arrow_to_spark(pa.schema(fields)).fields
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in spark_fields)
        self._alter(f"ALTER TABLE IDENTIFIER(:table) ADD COLUMNS ({columns})", spec, metadata)

    def _set_properties(self, spec: TableSpec, properties: Mapping[str, str], *, metadata: dict[str, Any]) -> None:
        pairs = ", ".join(f"'{validate_property(k)}' = '{validate_property(v)}'" for k, v in properties.items())
        self._alter(f"ALTER TABLE IDENTIFIER(:table) SET TBLPROPERTIES ({pairs})", spec, metadata)

    def _alter(self, statement: str, spec: TableSpec, metadata: dict[str, Any]) -> None:
        """Run one ALTER TABLE on the table's path with ``metadata`` as the commit's userMetadata."""
        with _user_metadata_set(self.spark, metadata), _conflicts_named(spec.name, "upgrade"):
            self.spark.sql(statement, args={"table": "delta.`" + self._uri(spec.name).replace("`", "``") + "`"})

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
            with _conflicts_named(spec.name, f"overwrite of {selection.describe()}"):
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
        with _conflicts_named(spec.name, "append"):
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

    def _rewrite(self, df: DataFrame, spec: TableSpec, *, metadata: dict[str, Any], read_version: int) -> WriteResult:
        write_id = uuid.uuid4().hex
        writer = (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
                  .option("userMetadata", json.dumps({**metadata, "lakeops.write_id": write_id})))
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        with _conflicts_named(spec.name, "rewrite"):
            writer.save(self._uri(spec.name))
        return self._result(spec, write_id, since=read_version)

    def _compact(self, name: str | TableName, *, target_bytes: int, metadata: dict[str, Any]) -> int:
        from delta.tables import DeltaTable

        self.spark.conf.set("spark.databricks.delta.optimize.maxFileSize", str(target_bytes))
        with _user_metadata_set(self.spark, metadata), _conflicts_named(name, "compaction"):
            metrics = DeltaTable.forPath(self.spark, self._uri(name)).optimize().executeCompaction().first()
        return int(metrics["metrics"]["numFilesRemoved"]) if metrics is not None else 0

    def vacuum(
        self,
        name: str | TableName,
        *,
        retention_hours: int = DEFAULT_RETENTION_HOURS,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
    ) -> list[str]:
        """delta-spark's VACUUM. It cannot keep particular versions: the retention is stretched
        instead to reach back to the oldest of ``keep_versions`` (every file it needs was
        removed, if at all, by a commit after it)."""
        from delta.tables import DeltaTable

        retention_hours = max(retention_hours, self._hours_since_after(name, min(keep_versions, default=None)))
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
        # VACUUM lists the table's folders in parallelPartitionDiscovery.parallelism tasks;
        # Spark's default of 10,000 is a fixed cost for any table that dwarfs the listing
        # itself on a few cores. One task per core lists thousands of partition folders.
        key = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
        saved = self.spark.conf.get(key, None)
        self.spark.conf.set(key, str(self.spark.sparkContext.defaultParallelism))
        try:
            DeltaTable.forPath(self.spark, self._uri(name)).vacuum(float(retention_hours))
        finally:
            if saved is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, saved)
        return []

    def _hours_since_after(self, name: str | TableName, version: int | None) -> int:
        """Whole hours since the commit after ``version`` (0: none, or no such commit yet)."""
        import math
        import time

        from lakeops.lake.conflicts import read_commits

        if version is None or version >= self._delta(name).version():
            return 0
        try:
            (_, actions), = read_commits(self.storage, self.location(name), after=version, upto=version + 1)
        except FileNotFoundError:  # the entry is gone: so is time travel to the version
            return 0
        stamp = next((a["commitInfo"].get("timestamp") for a in actions if "commitInfo" in a), None)
        if stamp is None:
            return 0
        return math.ceil((time.time() - stamp / 1000) / 3600) + 1  # retention is relative to now by definition


def validate_property(text: str) -> str:
    """A table property key or value lakeops sets (dotted names, digits, ``interval 30 days``): safe in quotes."""
    if not re.fullmatch(r"[A-Za-z0-9_. \-]+", text):
        raise ValueError(f"table property text {text!r} has characters lakeops does not write")
    return text


def _user_metadata(actions: list[dict[str, Any]]) -> str:
    """The ``userMetadata`` of a commit's ``commitInfo`` ("" without one)."""
    info: dict[str, Any] = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    return str(info.get("userMetadata", ""))


_SESSION_METADATA = threading.Lock()


@contextmanager
def _user_metadata_set(spark: Any, metadata: Mapping[str, Any]) -> Iterator[None]:
    """Commits made inside carry ``metadata`` as their userMetadata (SQL and API calls take no option)."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    # The session's conf is shared by its threads: one such commit at a time per process.
    with _SESSION_METADATA:
        spark.conf.set(key, json.dumps(dict(metadata)))
        try:
            yield
        finally:
            spark.conf.unset(key)


@contextmanager
def _conflicts_named(name: object, what: str) -> Iterator[None]:
    """delta-spark's concurrent-modification errors as :class:`CommitConflictError` (a retry may pass)."""
    import delta.exceptions as conflicts

    try:
        yield
    except tuple(getattr(conflicts, name) for name in conflicts.__all__) as exc:
        reason = str(exc).strip().split("\n", 1)[0]
        raise CommitConflictError(
            f"{name}: another writer committed first ({reason}) while this {what} ran; "
            "nothing of it was committed: run it again"
        ) from None


def _outside(df: DataFrame, spec: TableSpec, selection: PartitionSelection) -> str:
    """The first few partitions of ``df`` outside ``selection``, for the error message."""
    rows = df.where(f"not ({selection.sql_predicate()})").select(*spec.partition_by).distinct().limit(6).collect()
    found = sorted("/".join(f"{c}={r[c]}" for c in spec.partition_by) for r in rows)
    return ", ".join(found[:5]) + (" and more" if len(found) > 5 else "")
