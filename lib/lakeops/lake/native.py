"""The native Delta backend: delta-spark does every read and write.

Used when the Spark session has the Delta jars (a cluster or Databricks runtime,
or a laptop session built with ``configure_spark_with_delta_pip``). Same
operations, same errors as :mod:`lakeops.lake.embedded`: the shared checks
(schema, partition selection) run in :class:`lakeops.lake.base.Lake` first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lakeops.errors import EmptyWriteError, PartitionViolationError
from lakeops.lake.base import DEFAULT_RETENTION_HOURS, Lake, WriteResult
from lakeops.lake.spec import PartitionSelection, TableSpec
from lakeops.names import TableName

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame


class NativeLake(Lake):
    """Delta tables read and written by delta-spark."""

    backend_name = "native"

    def _create(self, spec: TableSpec) -> None:
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(self.spark).location(self.path(spec.name).as_uri())
        builder = builder.addColumns(spec.spark_schema)
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        builder.execute()

    def _read(self, spec: TableSpec, dt: DeltaTable, selection: PartitionSelection | None) -> DataFrame:
        reader = self.spark.read.format("delta").option("versionAsOf", dt.version())
        df = reader.load(self.path(spec.name).as_uri())
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
        writer = df.write.format("delta").mode("overwrite").option("userMetadata", json.dumps(metadata))
        if selection.values:
            writer = writer.option("replaceWhere", selection.sql_predicate())
        try:
            writer.save(self.path(spec.name).as_uri())
        except AnalysisException as exc:
            if "replaceWhere" in str(exc):
                raise PartitionViolationError(
                    f"{spec.name}: rows fall outside the partitions being overwritten "
                    f"({selection.describe()}); nothing was written"
                ) from exc
            raise
        return self._result(spec)

    def _append(self, df: DataFrame, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]) -> WriteResult:
        df.write.format("delta").mode("append").option("userMetadata", json.dumps(metadata)).save(
            self.path(spec.name).as_uri()
        )
        return self._result(spec)

    def _result(self, spec: TableSpec) -> WriteResult:
        last = self.history(spec.name, limit=1)[0]
        metrics = last.get("operationMetrics") or {}
        return WriteResult(
            str(spec.name),
            int(last["version"]),
            int(metrics.get("numOutputRows", 0)),
            int(metrics.get("numFiles", 0)),
            (),
        )

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
        DeltaTable.forPath(self.spark, self.path(name).as_uri()).vacuum(float(retention_hours))
        return []
