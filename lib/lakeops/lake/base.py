"""The lake layer's face: the operations job code may call.

:class:`Lake` holds what both backends share: table locations under the root,
name checks, schema conformance, partition selections, history and the
log-level metadata read through delta-rs (any Delta writer's log reads the same).
Subclasses implement storage: :mod:`lakeops.lake.embedded` and
:mod:`lakeops.lake.native`. Job code never calls a Delta API directly.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.errors import (
    EmptyWriteError,
    InvalidParameterError,
    LakeopsError,
    SchemaMismatchError,
    StorageUnavailableError,
)
from lakeops.lake.evolution import TableChange, change_of
from lakeops.lake.snapshot import (
    LiveFile,
    arrow_schema,
    check_protocol,
    live_files,
    log_entries,
    open_log,
    read_files,
    spec_of,
    typed_partitions,
)
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY, PartitionSelection, TableSpec, conform, parse_partition_string
from lakeops.lake.storage import Storage, storage_for
from lakeops.lake.tasks import BatchFn, MapPlan, MergeFn, ReduceFn, Scan, map_frame
from lakeops.names import TableName

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_RETENTION_HOURS = 168
#: Pinned table versions a Lake keeps open. A committed version never changes, so a
#: job that pins one (checks, skips, then the work) reads its log once instead of
#: once per question; a handful covers a job's inputs and outputs.
PINNED_HANDLES = 8

def _storage_errors(method):
    """Report an unreachable object store as :class:`StorageUnavailableError` (one line, exit 1)
    instead of a client library's stack trace; a local lake's OS errors pass through."""
    import functools

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except LakeopsError:
            raise
        except Exception as exc:
            if self.storage.local or not _is_connection_error(exc):
                raise
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise StorageUnavailableError(
                f"the lakehouse {self.storage.describe()} could not be reached during {method.__name__} "
                f"({first}); nothing was committed: run it again when the store is back"
            ) from None

    return wrapped


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    signs = ("connection refused", "connect error", "timed out", "timeout", "connection reset", "unable to execute http",
             "curlcode: 7", "curlcode: 28", "network_connection", "error sending request", "connectexception")
    return isinstance(exc, OSError | ConnectionError) and not isinstance(exc, FileNotFoundError) or any(
        s in text for s in signs)


@dataclass(frozen=True)
class WriteResult:
    """What a write committed: the new table version and what it holds."""

    table: str
    version: int
    rows: int
    files: int
    partitions: tuple[str, ...]


class Lake(ABC):
    """Delta tables named ``<schema>.<table>``, stored at ``<root>/<schema>/<table>``.

    The root is a local folder or an ``s3://`` (``s3a://``) prefix (:mod:`lakeops.lake.storage`).
    """

    backend_name: str = "abstract"

    def __init__(
        self,
        spark: SparkSession,
        root: str | Path,
        *,
        commit_retries: int = 10,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self.spark = spark
        self.storage: Storage = storage_for(root, options=storage_options)
        #: The root as a local folder (reports, the MLflow store live beside the tables), or its URI.
        self.root: Path | str = Path(self.storage.root) if self.storage.local else self.storage.root
        self.commit_retries = commit_retries
        # (table URI, version) -> (handle, a digest of its commit file); see _delta.
        self._pinned: OrderedDict[tuple[str, int], tuple[DeltaTable, bytes]] = OrderedDict()
        self._pinned_lock = threading.Lock()

    # ------------------------------------------------------------------ locations

    def location(self, name: str | TableName) -> str:
        """The table's URI (a local path or ``s3://...``), proven to stay under the lake root."""
        return self.storage.table_uri(name)

    def path(self, name: str | TableName) -> Path:
        """The table's folder of a local lake, proven to stay under the lake root."""
        if not self.storage.local:
            raise InvalidParameterError(f"the lake {self.storage.describe()} is not a local folder: use location()")
        return Path(self.location(name))

    @_storage_errors
    def exists(self, name: str | TableName) -> bool:
        return self.storage.is_dir(f"{self.location(name)}/_delta_log")

    # ------------------------------------------------------------------ operations

    @_storage_errors
    def create(self, spec: TableSpec) -> None:
        """Create ``spec``'s table if absent; if present, prove its schema matches.

        Raises:
            SchemaMismatchError: the existing table differs from the spec.
        """
        self._table_for_write(spec)

    @_storage_errors
    def contract_change(self, spec: TableSpec) -> TableChange | None:
        """How the table differs from its contract ``spec``; ``None`` when there is no such table yet."""
        if not self.exists(spec.name):
            return None
        return change_of(spec, self._delta(spec.name))

    @_storage_errors
    def evolve(self, spec: TableSpec, *, metadata: Mapping[str, Any] | None = None) -> TableChange:
        """Bring an existing table to its contract in place: add the nullable columns it lacks, then
        record the contract version in its properties. Returns what it found to do.

        Each is one Delta commit (delta-rs or delta-spark); a process that dies between them
        leaves the table at a committed version, and a rerun does what is left (the columns
        present decide, not the recorded version).

        Raises:
            TableNotFoundError: no such table.
            SchemaMismatchError: a change that cannot be applied in place; nothing was committed.
        """
        dt = self._delta(spec.name)
        change = change_of(spec, dt)
        if change.refused:
            raise change.error()
        meta = {**_commit_metadata(metadata), "lakeops.operation": "upgrade",
                "lakeops.contract_version": spec.version}
        if change.add:
            self._add_columns(spec, change.add, metadata={**meta, "lakeops.added": [f.name for f in change.add]})
        if change.recorded_version != spec.version:
            self._set_properties(spec, {CONTRACT_VERSION_PROPERTY: str(spec.version)}, metadata=meta)
        return change

    @_storage_errors
    def rewrite(self, spec: TableSpec, *, metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Migrate a table to its contract by rewriting every row in one commit: columns the contract
        keeps are cast to its types (a value that does not cast fails the rewrite), columns it dropped
        are left out, columns it added are null, and the partitioning becomes the contract's. Then
        the contract version is recorded. Earlier versions stay readable by time travel until vacuum.

        For the changes :meth:`evolve` cannot make in place (``lakeops upgrade --rewrite``).

        Raises:
            TableNotFoundError: no such table.
            CommitConflictError: a writer committed meanwhile; nothing was committed.
        """
        from pyspark.sql import functions as F

        dt = self._delta(spec.name)
        have = set(arrow_schema(dt).names)
        df = self._read(self._spec_from_log(spec.name, dt), dt, None)
        target = spec.spark_schema
        projected = df.select(*[
            (F.col(f"`{f.name}`") if f.name in have else F.lit(None)).cast(f.dataType).alias(f.name) for f in target.fields
        ])
        meta = {**_commit_metadata(metadata), "lakeops.operation": "rewrite", "lakeops.contract_version": spec.version}
        result = self._rewrite(projected, spec, metadata=meta, read_version=dt.version())
        self._set_properties(spec, {CONTRACT_VERSION_PROPERTY: str(spec.version)},
                             metadata={**meta, "lakeops.operation": "upgrade"})
        return result

    @_storage_errors
    def read(
        self,
        name: str | TableName,
        *,
        where: Mapping[str, Sequence[Any] | Any] | None = None,
        version: int | None = None,
    ) -> DataFrame:
        """Read a table, pruned to partitions in ``where``, optionally at ``version``.

        Args:
            where: ``{partition column: values}``, e.g. ``{"ds": [date(2024, 1, 1)]}``.
            version: a Delta table version (time travel); latest when ``None``.
        """
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
            raise InvalidParameterError(f"invalid version {version!r}: expected a non-negative integer")
        dt = self._delta(name, version)
        spec = self._spec_from_log(name, dt)
        selection = PartitionSelection.build(spec, where) if where else None
        return self._read(spec, dt, selection)

    @_storage_errors
    def read_arrow(
        self,
        name: str | TableName,
        *,
        where: Mapping[str, Sequence[Any] | Any] | None = None,
        version: int | None = None,
    ) -> pa.Table:
        """A small table (or its partitions in ``where``) as Arrow, read without Spark (results, bookkeeping)."""
        spec, files = self._selected_files(name, where, version)
        return read_files(self.storage, self.location(name), spec, files)

    @_storage_errors
    def row_count(
        self,
        name: str | TableName,
        *,
        where: Mapping[str, Sequence[Any] | Any] | None = None,
        version: int | None = None,
    ) -> int | None:
        """The rows of a table (or its partitions in ``where``) as its Delta log's file statistics count
        them, without reading a file; ``None`` when a file was logged without a row count."""
        counts: list[int | None] = [f.stats.get("num_records") for f in self._selected_files(name, where, version)[1]]
        return None if any(c is None for c in counts) else sum(int(c or 0) for c in counts)

    def _selected_files(self, name: str | TableName, where: Mapping[str, Sequence[Any] | Any] | None,
                        version: int | None) -> tuple[TableSpec, list[LiveFile]]:
        """The table's spec (at ``version``) and its live files inside ``where`` (all without it)."""
        dt = self._delta(name, version)
        spec = self._spec_from_log(name, dt)
        return spec, live_files(spec, dt, PartitionSelection.build(spec, where) if where else None)

    @_storage_errors
    def overwrite(
        self,
        df: DataFrame,
        spec: TableSpec,
        *,
        partitions: Mapping[str, Sequence[Any] | Any] | None = None,
        allow_empty: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Atomically replace the selected partitions with ``df`` (replaceWhere semantics).

        Creates the table if absent. Every row of ``df`` must fall inside
        ``partitions``; a partitioned table is never overwritten whole.

        Args:
            partitions: ``{partition column: values}``; required for partitioned
                tables, must be omitted for unpartitioned ones.
            allow_empty: when ``df`` is empty, clear the selected partitions
                instead of refusing.
            metadata: extra commit metadata (job, run id); never put secrets here.

        Raises:
            SchemaMismatchError, PartitionViolationError, EmptyWriteError: nothing
                was committed and the table is as it was.
        """
        selection = PartitionSelection.build(spec, partitions)
        df = conform(df, spec)
        target = self._table_for_write(spec)
        return self._overwrite(df, spec, selection, target=target, allow_empty=allow_empty,
                               metadata=_commit_metadata(metadata))

    @_storage_errors
    def append(self, df: DataFrame, spec: TableSpec, *, metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Append ``df`` (for logs such as job runs; results use :meth:`overwrite`)."""
        df = conform(df, spec)
        target = self._table_for_write(spec)
        return self._append(df, spec, target=target, metadata=_commit_metadata(metadata))

    @_storage_errors
    def append_rows(self, rows: pa.Table, spec: TableSpec, *, metadata: Mapping[str, Any] | None = None) -> WriteResult:
        """Append a few rows given as Arrow (bookkeeping such as ``ml.job_runs``), without a Spark job.

        Raises:
            SchemaMismatchError: a column of ``spec`` is missing or cannot be cast.
        """
        table = _fit_rows(rows, spec)
        target = self._table_for_write(spec)
        return self._append_rows(table, spec, target=target, metadata=_commit_metadata(metadata))

    @_storage_errors
    def overwrite_rows(
        self,
        rows: pa.Table,
        spec: TableSpec,
        *,
        partitions: Mapping[str, Sequence[Any] | Any] | None = None,
        allow_empty: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """:meth:`overwrite` for a few rows given as Arrow (small result tables), without a Spark job.

        Raises:
            SchemaMismatchError, PartitionViolationError, EmptyWriteError: as :meth:`overwrite`.
        """
        selection = PartitionSelection.build(spec, partitions)
        table = _fit_rows(rows, spec)
        target = self._table_for_write(spec)
        return self._overwrite_rows(table, spec, selection, target=target, allow_empty=allow_empty,
                                    metadata=_commit_metadata(metadata))

    @_storage_errors
    def map_partitions(
        self,
        source: str | TableName,
        fn: BatchFn,
        spec: TableSpec,
        *,
        where: Mapping[str, Sequence[Any] | Any],
        columns: Sequence[str],
        constants: Mapping[str, Any] | None = None,
        version: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Write ``fn`` of every batch of ``source``'s selected partitions into ``spec``, in one commit.

        Each source partition's rows go to the output partition named by its own
        partition values plus ``constants`` (e.g. ``{"model_name": "m"}``); those
        output partitions are replaced atomically. ``fn(batch, partition)`` gets
        ``columns`` of the source and the partition's typed values, and returns
        the output's data columns. Nothing reaches the driver but file names.

        Raises:
            TableNotFoundError, SchemaMismatchError (a column is missing),
            EmptyWriteError (no selected partition exists): nothing was written.
        """
        dt = self._delta(source, version)
        src = self._spec_from_log(source, dt)
        selection = PartitionSelection.build(src, where)
        missing = [c for c in columns if c not in src.schema.names or c in src.partition_by]
        if missing:
            raise SchemaMismatchError(f"{source} has no data column(s) {missing}; nothing was written")
        constants = dict(constants or {})
        unknown = [c for c in spec.partition_by if c not in constants and c not in src.partition_by]
        if unknown:
            raise InvalidParameterError(
                f"{spec.name}: partition column(s) {unknown} come neither from {source}'s partitions nor constants"
            )
        live = [p for p in typed_partitions(src, dt) if selection.matches(p)]
        if not live:
            raise EmptyWriteError(f"{source} has no partition in {selection.describe()}; nothing was written")
        plan = MapPlan(spec=spec, source_partition_by=src.partition_by, columns=tuple(columns), constants=constants)
        out = {c: sorted({plan.out_values(p)[c] for p in live}) for c in spec.partition_by}
        target = self._table_for_write(spec)
        return self._map_partitions(dt, src, selection, fn, plan, out, target=target,
                                    metadata=_commit_metadata(metadata))

    @_storage_errors
    def reduce_partitions(self, scans: Sequence[Scan], fn: ReduceFn, merge: MergeFn) -> Any:
        """Fold ``fn`` over every Arrow batch of the scans' partitions, in one Spark job (on the driver
        for a few rows, on the embedded backend); writes nothing.

        ``fn(table, batch, partition, columns)`` returns a small partial result
        (counts, sums) of ``columns`` and ``merge`` adds two up; only those
        partial results reach the driver, never rows. A scan's columns may be
        split between tasks; its context columns come with every batch. Returns the merged result, ``None`` when no batch was read.

        Raises:
            TableNotFoundError, SchemaMismatchError (a column is missing).
        """
        plans = []
        for i, scan in enumerate(scans):
            dt = self._delta(scan.table, scan.version)
            src = self._spec_from_log(scan.table, dt)
            missing = [c for c in (*scan.columns, *scan.context) if c not in src.schema.names or c in src.partition_by]
            if missing:
                raise SchemaMismatchError(f"{scan.table} has no data column(s) {missing}")
            plans.append((i, dt, src, PartitionSelection.build(src, scan.where)))
        return self._reduce_partitions(list(scans), plans, fn, merge)

    @_storage_errors
    def column_ranges(
        self,
        name: str | TableName,
        column: str,
        *,
        where: Mapping[str, Sequence[Any] | Any] | None = None,
        version: int | None = None,
    ) -> dict[tuple[Any, ...], tuple[Any, Any] | None]:
        """Per live partition (at ``version``), the min and max of an integer ``column``, from the log's file stats.

        Keys are partition values in the table's ``partition_by`` order. ``None``
        for a partition where some file has no stats for it. Reads no data files,
        so it answers "which version wrote these partitions" cheaply.
        """
        dt = self._delta(name, version)
        spec = self._spec_from_log(name, dt)
        selection = PartitionSelection.build(spec, where) if where else None
        found: dict[tuple[Any, ...], tuple[Any, Any] | None] = {}
        for action in live_files(spec, dt, selection):
            key = tuple(action.partition[c] for c in spec.partition_by)
            low, high = action.stats.get(f"min.{column}"), action.stats.get(f"max.{column}")
            if key in found and found[key] is None:
                continue
            if low is None or high is None:
                found[key] = None
            elif key in found:
                prev_low, prev_high = found[key]  # type: ignore[misc]
                found[key] = (min(prev_low, low), max(prev_high, high))
            else:
                found[key] = (low, high)
        return found

    @_storage_errors
    def spec(self, name: str | TableName, *, version: int | None = None) -> TableSpec:
        """The table as its Delta log describes it (at ``version``): schema and partition columns."""
        return self._spec_from_log(name, self._delta(name, version))

    @_storage_errors
    def partitions(self, name: str | TableName, *, version: int | None = None) -> list[dict[str, Any]]:
        """The live partitions (at ``version``) as typed values, e.g. ``[{"ds": date(2024, 1, 1)}]``."""
        dt = self._delta(name, version)
        return typed_partitions(self._spec_from_log(name, dt), dt)

    @_storage_errors
    def changed_partitions(self, name: str | TableName, *, after: int, upto: int) -> list[dict[str, Any]]:
        """Partitions (typed) where a commit ``after < version <= upto`` added or removed a file.

        Reads those log entries only, so "which days changed since I last looked"
        costs a few small JSON files, not a scan. A commit that rewrote the
        table's metadata counts as changing every partition it lists.
        """
        from lakeops.lake.conflicts import read_commits

        dt = self._delta(name, upto)
        spec = self._spec_from_log(name, dt)
        try:
            commits = read_commits(self.storage, self.location(name), after=after, upto=upto)
        except FileNotFoundError:  # entries cleaned up after a checkpoint: assume everything changed
            return typed_partitions(spec, dt)
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for _, actions in commits:
            for action in actions:
                file = action.get("add") or action.get("remove")
                if file is None or file.get("dataChange") is False:  # a compaction changes no row
                    continue
                values = file.get("partitionValues") or {}
                typed = {c: parse_partition_string(spec, c, values.get(c)) for c in spec.partition_by}
                seen[tuple(typed.values())] = typed
        return list(seen.values())

    @_storage_errors
    def version(self, name: str | TableName) -> int:
        """The latest version; reads pinned to it afterwards reuse this read of the log."""
        dt = self._delta(name)
        self._remember(self.location(name), dt)
        return dt.version()

    @_storage_errors
    def history(self, name: str | TableName, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp (ms), operation, parameters, lakeops metadata.

        delta-spark keeps a writer's metadata in one ``userMetadata`` string; its
        ``lakeops.*`` keys are lifted to the top, as delta-rs commits them.
        """
        out = []
        for entry in self._delta(name).history(limit):
            try:
                extra = json.loads(entry.get("userMetadata") or "{}")
            except (TypeError, ValueError):
                extra = {}
            if isinstance(extra, dict):
                entry = {**{k: v for k, v in extra.items() if k.startswith("lakeops.")}, **entry}
                if "lakeops.operation" in extra and "lakeops.rows" not in entry:
                    entry["lakeops.rows"] = int((entry.get("operationMetrics") or {}).get("numOutputRows", 0))
            out.append(entry)
        return out

    @abstractmethod
    def vacuum(
        self,
        name: str | TableName,
        *,
        retention_hours: int = DEFAULT_RETENTION_HOURS,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
    ) -> list[str]:
        """Delete files no version newer than ``retention_hours`` needs, nor any of ``keep_versions``
        (versions that must stay readable by time travel); list them when ``dry_run``."""

    # ------------------------------------------------------------------ maintenance

    @_storage_errors
    def compact(self, name: str | TableName, *, target_bytes: int, metadata: Mapping[str, Any] | None = None) -> int:
        """Rewrite each partition's small files into files of about ``target_bytes``, in one commit that
        changes no row (``dataChange`` false). Returns the number of files it replaced (0: no commit).

        A writer that committed to a partition meanwhile wins: the compaction fails with
        :class:`CommitConflictError` and changes nothing; an overwrite that commits after it
        replaces the compacted files as it would have replaced the small ones.
        """
        return self._compact(name, target_bytes=target_bytes,
                             metadata={**_commit_metadata(metadata), "lakeops.operation": "compact"})

    @_storage_errors
    def checkpoint(self, name: str | TableName) -> int:
        """Write a checkpoint of the latest version (opening the table then reads it instead of every
        JSON commit before it), then delete log entries past ``delta.logRetentionDuration``.
        Returns the version checkpointed. Adds no commit: concurrent writers are unaffected."""
        dt = self._delta(name)
        dt.create_checkpoint()
        dt.cleanup_metadata()
        return dt.version()

    @_storage_errors
    def set_properties(
        self, spec: TableSpec, properties: Mapping[str, str], *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Set Delta table properties of ``spec``'s table in one commit."""
        self._set_properties(spec, properties, metadata={**_commit_metadata(metadata),
                                                         "lakeops.operation": "set_properties"})

    @_storage_errors
    def properties(self, name: str | TableName) -> dict[str, str]:
        """The table's Delta properties (``configuration``) at its latest version."""
        return dict(self._delta(name).metadata().configuration)

    @_storage_errors
    def file_count(self, name: str | TableName) -> int:
        """The data files of the table's latest version."""
        return pa.table(self._delta(name).get_add_actions(flatten=False)).num_rows

    @_storage_errors
    def log_entries(self, name: str | TableName) -> tuple[int, int]:
        """``(on disk, replayed)``: the JSON commits in the table's log, and how many of them opening
        the latest version reads (those after its last checkpoint)."""
        return log_entries(self.storage, self.location(name))

    # ------------------------------------------------------------------ backend hooks

    @abstractmethod
    def _create(self, spec: TableSpec) -> None:
        """Create the table (if absent) with its schema, partitioning and :data:`CONTRACT_VERSION_PROPERTY`."""

    @abstractmethod
    def _add_columns(self, spec: TableSpec, fields: Sequence[pa.Field], *, metadata: dict[str, Any]) -> None:
        """Add nullable ``fields`` to the table in one commit carrying ``metadata``."""

    @abstractmethod
    def _set_properties(self, spec: TableSpec, properties: Mapping[str, str], *, metadata: dict[str, Any]) -> None:
        """Set Delta table properties in one commit carrying ``metadata``."""

    @abstractmethod
    def _rewrite(self, df: DataFrame, spec: TableSpec, *, metadata: dict[str, Any], read_version: int) -> WriteResult:
        """Replace the whole table with ``df`` under ``spec``'s schema and partitioning, in one commit."""

    @abstractmethod
    def _compact(self, name: str | TableName, *, target_bytes: int, metadata: dict[str, Any]) -> int:
        """Compact small files (see :meth:`compact`); the number of files replaced."""

    @abstractmethod
    def _read(self, spec: TableSpec, dt: DeltaTable, selection: PartitionSelection | None) -> DataFrame: ...

    # The write hooks get ``target``: the output table as :meth:`_table_for_write`
    # opened it (created, schema checked), so a write opens its table's log once.

    @abstractmethod
    def _overwrite(
        self,
        df: DataFrame,
        spec: TableSpec,
        selection: PartitionSelection,
        *,
        target: DeltaTable,
        allow_empty: bool,
        metadata: dict[str, Any],
    ) -> WriteResult: ...

    @abstractmethod
    def _append(self, df: DataFrame, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]) -> WriteResult: ...

    def _append_rows(
        self, table: pa.Table, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]
    ) -> WriteResult:
        """The portable way: a (small) DataFrame from the rows (through Arrow), then an append."""
        df = self.spark.createDataFrame(table, spec.spark_schema)
        return self._append(df, spec, target=target, metadata=metadata)

    def _overwrite_rows(
        self,
        table: pa.Table,
        spec: TableSpec,
        selection: PartitionSelection,
        *,
        target: DeltaTable,
        allow_empty: bool,
        metadata: dict[str, Any],
    ) -> WriteResult:
        """The portable way: a (small) DataFrame from the rows (through Arrow), then an overwrite."""
        df = self.spark.createDataFrame(table, spec.spark_schema)
        return self._overwrite(df, spec, selection, target=target, allow_empty=allow_empty, metadata=metadata)

    def _map_partitions(
        self,
        dt: DeltaTable,
        src: TableSpec,
        selection: PartitionSelection,
        fn: BatchFn,
        plan: MapPlan,
        out: Mapping[str, Sequence[Any]],
        *,
        target: DeltaTable,
        metadata: dict[str, Any],
    ) -> WriteResult:
        """The portable way: a Spark ``mapInArrow`` over the source, then an overwrite."""
        df = map_frame(self._read(src, dt, selection), fn, plan)
        return self._overwrite(
            conform(df, plan.spec), plan.spec, PartitionSelection.build(plan.spec, out), target=target,
            allow_empty=False,
            metadata={**metadata, "lakeops.source": str(src.name), "lakeops.source_version": dt.version()},
        )

    def _reduce_partitions(self, scans: list[Scan], plans: list, fn: ReduceFn, merge: MergeFn) -> Any:
        """The portable way: a ``mapInArrow`` per scan over the source DataFrame, partial results pickled."""
        import pickle

        from pyspark.sql.types import BinaryType, StructField, StructType

        schema = StructType([StructField("part", BinaryType(), False)])
        result = None
        for i, dt, src, selection in plans:
            scan = scans[i]
            columns = list(dict.fromkeys([*scan.columns, *scan.context]))
            df = self._read(src, dt, selection).select(*src.partition_by, *columns)
            part_cols, own, table = list(src.partition_by), tuple(scan.columns), scan.table

            def run(batches, part_cols=part_cols, columns=columns, own=own, table=table):
                from lakeops.lake.tasks import split_by_partition

                found = None
                for batch in batches:
                    for key, piece in split_by_partition(pa.Table.from_batches([batch]), part_cols):
                        for chunk in piece.select(columns).to_batches():
                            part = fn(table, chunk, key, own)
                            found = part if found is None else merge(found, part)
                yield pa.RecordBatch.from_pydict({"part": [pickle.dumps(found)]})

            for row in df.mapInArrow(run, schema).collect():
                part = pickle.loads(row["part"])  # our own tasks' output, never user data
                if part is not None:
                    result = part if result is None else merge(result, part)
        return result

    # ------------------------------------------------------------------ shared helpers

    def _delta(self, name: str | TableName, version: int | None = None) -> DeltaTable:
        """The table's log at ``version`` (latest when ``None``); a pinned version is read directly.

        Raises:
            TableNotFoundError, InvalidParameterError: as :func:`lakeops.lake.snapshot.open_snapshot`.
        """
        ref = name if isinstance(name, TableName) else TableName.parse(name)
        uri = self.location(ref)
        if version is not None:
            dt = self._recall(uri, version)
            if dt is not None:
                return dt
        dt = open_log(self.storage, ref, uri, version)
        if version is not None:
            self._remember(uri, dt)
        return dt

    # Pinned handles are shared between callers, so only read paths get them: writers
    # open their own (_table_for_write) and move them forward when they commit.

    def _recall(self, uri: str, version: int) -> DeltaTable | None:
        """A kept handle of ``version``, if its commit file is still the one it was read from
        (a table deleted and created again at the same place starts its versions over)."""
        with self._pinned_lock:
            kept = self._pinned.get((uri, version))
            if kept is not None:
                self._pinned.move_to_end((uri, version))
        if kept is None:
            return None
        dt, identity = kept
        if self._commit_identity(uri, version) != identity or dt.version() != version:
            return None
        return dt

    def _remember(self, uri: str, dt: DeltaTable) -> None:
        version = dt.version()
        identity = self._commit_identity(uri, version)
        if identity is None:  # no commit file to check against later (cleaned up after a checkpoint)
            return
        with self._pinned_lock:
            self._pinned[(uri, version)] = (dt, identity)
            self._pinned.move_to_end((uri, version))
            while len(self._pinned) > PINNED_HANDLES:
                self._pinned.popitem(last=False)

    def _table_for_write(self, spec: TableSpec) -> DeltaTable:
        """``spec``'s table, created if absent, its schema proven to match: the handle a write commits with.

        Raises:
            OutdatedTableError: the table lacks columns of its contract (``lakeops upgrade`` adds them).
            SchemaMismatchError: the existing table differs from the spec in another way.
        """
        if not self.exists(spec.name):
            if self.storage.local:
                self.path(spec.name).parent.mkdir(parents=True, exist_ok=True)
            self._create(spec)
        # Checked after creating too: a process that won a race to create it may have used another schema.
        dt = self._delta(spec.name)
        change = change_of(spec, dt)
        if change.outdated:
            raise change.error()
        return dt

    def _spec_from_log(self, name: str | TableName, dt: DeltaTable) -> TableSpec:
        """A spec for whatever the log says the table is (reads need no declared spec)."""
        check_protocol(name, dt)
        return spec_of(name if isinstance(name, TableName) else TableName.parse(name), dt)

    def _commit_identity(self, uri: str, version: int) -> bytes | None:
        """A digest of a version's commit file, or ``None`` if it is gone.

        The content, not the file's inode and times: a recreated table's commit can get a
        freed inode and a same-tick mtime, but never the same bytes (each commit names new
        files or a new table id). Reading a commit costs less than opening a version.
        """
        try:
            data = self.storage.read_bytes(f"{uri}/_delta_log/{version:020d}.json")
        except OSError:
            return None
        return hashlib.blake2b(data, digest_size=16).digest()


def _fit_rows(rows: pa.Table, spec: TableSpec) -> pa.Table:
    """``rows`` with exactly ``spec``'s columns and types, or a :class:`SchemaMismatchError`."""
    missing = [n for n in spec.schema.names if n not in rows.schema.names]
    if missing:
        raise SchemaMismatchError(f"{spec.name}: rows lack column(s) {missing}; nothing was written")
    try:
        return rows.select(spec.schema.names).cast(spec.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaMismatchError(f"{spec.name}: rows do not fit the schema ({exc}); nothing was written") from exc


def _commit_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Prefix caller metadata with ``lakeops.`` and make sure it is plain JSON."""
    out: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not key:
            raise InvalidParameterError(f"commit metadata key {key!r} must be a non-empty string")
        json.dumps(value, allow_nan=False)  # raises TypeError/ValueError on anything odd
        out[key if key.startswith("lakeops.") else f"lakeops.{key}"] = value
    return out
