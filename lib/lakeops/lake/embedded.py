"""The embedded Delta backend: Spark writes Parquet, delta-rs commits the log.

A write goes in two steps. Spark's executors write the DataFrame as Parquet into
a fresh folder ``<table>/w-<id>/<col>=<value>/`` (a private folder per write, so
concurrent writers never share Spark's ``_temporary`` area). The driver then
reads the new files' footers (row counts, null counts, min/max of integer and
date columns), checks every file lies inside the partitions being replaced, and
commits one Delta transaction with delta-rs: add actions for the new files plus,
for an overwrite, removes for the selected partitions' old files.

Until that commit the files are invisible to every Delta reader; a crash leaves
them as orphans that a full :meth:`EmbeddedLake.vacuum` deletes. Reads list the
live files of a version from the log and hand them to Spark, adding partition
columns from the log's partition values (Delta does not store them in the files).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from lakeops.errors import CommitConflictError, EmptyWriteError, PartitionViolationError
from lakeops.lake.base import DEFAULT_RETENTION_HOURS, Lake, WriteResult, check_protocol, live_files
from lakeops.lake.conflicts import find_conflict, read_commits
from lakeops.lake.spec import (
    CONTRACT_VERSION_PROPERTY,
    PartitionSelection,
    TableSpec,
    parse_partition_string,
    to_partition_string,
)
from lakeops.lake.tasks import (
    HIVE_NULL,
    BatchFn,
    MapPlan,
    MergeFn,
    ReduceFn,
    Scan,
    Unit,
    partition_folder,
    plan_tasks,
    reduce_units,
    run_units,
    split_by_partition,
    split_columns,
)
from lakeops.names import TableName

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from pyspark.sql import DataFrame

WRITE_DIR_PREFIX = "w-"
#: A reduction over at most this many rows (a day of a fleet) runs on the driver: a Spark job's
#: start costs more than folding them there.
LOCAL_REDUCE_ROWS = 100_000
#: Column types whose Parquet min/max are exact, so Delta data skipping is safe.
_STATS_TYPES = (pa.int32(), pa.int64(), pa.date32())


@dataclass(frozen=True)
class _StagedFile:
    path: str  # relative to the table root, '/'-separated
    size: int
    modification_time: int
    partition_values: dict[str, str | None]
    rows: int
    stats: str


#: Commits between checkpoints, as delta-spark's default (delta-rs defaults to 100).
#: Opening a table replays the JSON commits since its last checkpoint, so a long
#: log without one gets slow to open; jobs open their tables several times per
#: run, and ``ml.job_runs`` gets a commit from every run.
CHECKPOINT_INTERVAL = 10


class EmbeddedLake(Lake):
    """Delta tables written by Spark and committed by delta-rs (the default backend)."""

    backend_name = "embedded"

    # ------------------------------------------------------------------ create / read

    def _create(self, spec: TableSpec) -> None:
        from deltalake import DeltaTable

        # mode="ignore": two processes racing to create the same table both succeed.
        DeltaTable.create(
            self.location(spec.name),
            spec.schema,
            mode="ignore",
            partition_by=list(spec.partition_by) or None,
            name=str(spec.name),
            description=spec.description or None,
            configuration={"delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
                           CONTRACT_VERSION_PROPERTY: str(spec.version)},
            storage_options=self.storage.delta_options,
            raise_if_key_not_exists=False,  # lakeops' own property is not a Delta key
        )

    def _add_columns(self, spec: TableSpec, fields: Sequence[pa.Field], *, metadata: dict[str, Any]) -> None:
        from deltalake import CommitProperties, Field

        dt = self._delta(spec.name)
        dt.alter.add_columns([Field.from_arrow(f) for f in fields],
                             commit_properties=CommitProperties(custom_metadata=metadata))

    def _set_properties(self, spec: TableSpec, properties: Mapping[str, str], *, metadata: dict[str, Any]) -> None:
        from deltalake import CommitProperties

        dt = self._delta(spec.name)
        dt.alter.set_table_properties(dict(properties), raise_if_not_exists=False,
                                      commit_properties=CommitProperties(custom_metadata=metadata))

    def _table_for_write(self, spec: TableSpec) -> DeltaTable:
        """As :meth:`Lake._table_for_write`, and refuse tables whose writer protocol delta-rs
        commits here cannot honour (before anything is written)."""
        dt = super()._table_for_write(spec)
        check_protocol(spec.name, dt, writer=True)
        return dt

    def _read(self, spec: TableSpec, dt: DeltaTable, selection: PartitionSelection | None) -> DataFrame:
        """The live files in one Parquet scan; partition values (which Delta keeps in the log, not in
        the files) attached per file from the log, typed by the schema."""
        from pyspark.sql import functions as F

        root = self.location(spec.name)
        values: dict[str, tuple[Any, ...]] = {}  # Spark URI -> the file's partition values
        for file in live_files(spec, dt, selection):
            uri = self.storage.spark_uri(f"{root}/{unquote(file.path)}")
            values[uri] = tuple(file.partition[c] for c in spec.partition_by)
        # Keyed by the path as Spark's _metadata.file_path reports it.
        reported = {spark_file_path(uri): key for uri, key in values.items()}

        schema = spec.spark_schema
        data_schema = type(schema)([f for f in schema.fields if f.name not in spec.partition_by])
        if not values:
            return self.spark.createDataFrame([], schema)
        # recursiveFileLookup turns off Spark's own partition inference from folder names.
        df = self.spark.read.schema(data_schema).option("recursiveFileLookup", "true").parquet(*values)
        columns: dict[str, Any] = {}
        for i, col in enumerate(spec.partition_by):
            distinct = {key[i] for key in values.values()}
            if len(distinct) == 1:
                value = F.lit(distinct.pop())
            else:
                # A file missing from the map is an error, never a null.
                by_file = F.create_map(*[F.lit(x) for path, key in reported.items() for x in (path, key[i])])
                path = F.col("_metadata.file_path")
                value = F.when(F.map_contains_key(by_file, path), by_file[path]).otherwise(
                    F.raise_error(F.concat(F.lit(f"{spec.name}: no partition values for "), path)))
            columns[col] = value.cast(schema[col].dataType)
        return df.select(*[columns.get(f.name, F.col(f"`{f.name}`")).alias(f.name) for f in schema.fields])

    # ------------------------------------------------------------------ writes

    def _overwrite(
        self,
        df: DataFrame,
        spec: TableSpec,
        selection: PartitionSelection,
        *,
        target: DeltaTable,
        allow_empty: bool,
        metadata: dict[str, Any],
    ) -> WriteResult:
        write_dir, staged = self._stage(df, spec, target)
        return self._commit_overwrite(spec, target, write_dir, staged, selection, allow_empty=allow_empty,
                                      metadata=metadata)

    def _commit_overwrite(
        self,
        spec: TableSpec,
        target: DeltaTable,
        write_dir: str,
        staged: list[_StagedFile],
        selection: PartitionSelection,
        *,
        allow_empty: bool,
        metadata: dict[str, Any],
    ) -> WriteResult:
        """Check staged files lie inside ``selection``, then replace it in one commit."""
        try:
            outside = sorted(
                {
                    _describe_partition(f.partition_values)
                    for f in staged
                    if not selection.matches(
                        {c: parse_partition_string(spec, c, v) for c, v in f.partition_values.items()}
                    )
                }
            )
            if outside:
                raise PartitionViolationError(
                    f"{spec.name}: rows fall outside the partitions being overwritten "
                    f"({selection.describe()}): found {', '.join(outside[:5])}"
                    f"{' and more' if len(outside) > 5 else ''}; nothing was written"
                )
            if not staged and not allow_empty:
                raise EmptyWriteError(
                    f"{spec.name}: the input for {selection.describe()} has no rows; the existing "
                    "partitions were left as they were (pass allow_empty to clear them)"
                )
        except Exception:
            self.storage.remove_tree(write_dir)
            raise
        metadata = {**metadata, "lakeops.operation": "overwrite", "lakeops.partitions": selection.describe()}
        return self._commit(
            spec, target, staged, write_id=_name(write_dir), mode="overwrite", selection=selection, metadata=metadata
        )

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
        """The fast way: tasks read the source's Parquet row groups and write Parquet themselves.

        The driver reads only footers (to split files into row-group units) and
        the file names the tasks return; rows never cross into the JVM.
        """
        spec = plan.spec
        units = self._units(dt, src, selection)
        write_id = f"{WRITE_DIR_PREFIX}{uuid.uuid4().hex}"
        write_dir = f"{self.location(spec.name)}/{write_id}"
        sc = self.spark.sparkContext
        tasks = plan_tasks(units, sc.defaultParallelism)
        folder, fs = self.storage.fs_path(write_dir), self.storage.arrow_fs
        if self.storage.local:
            # Tasks create folders only inside this one, so a task still running after
            # the job failed cannot bring it back once it is removed. (An object store has
            # no folders: what a late task writes there is an orphan that vacuum deletes.)
            Path(write_dir).mkdir()
        group = f"lakeops-map-{write_id}"
        sc.setJobGroup(group, f"lakeops: {src.name} -> {spec.name} ({selection.describe()})", True)
        try:
            sc.parallelize(tasks, len(tasks)).mapPartitions(
                lambda parts: [path for units in parts for path in run_units(units, fn, plan, folder, fs)]
            ).collect()
            staged = self._staged_files(write_dir, spec)
        except Exception:
            # A failed job returns while its other tasks may still be writing: stop
            # them and wait before removing what they wrote.
            sc.cancelJobGroup(group)
            _wait_for_tasks(sc, group)
            self.storage.remove_tree(write_dir)
            raise
        finally:
            # None unsets a local property (as setLocalProperty's docstring says); pyspark's annotations allow str only.
            sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
            sc.setLocalProperty("spark.job.interruptOnCancel", None)  # type: ignore[arg-type]
            sc.setJobDescription(None)  # type: ignore[arg-type]
        return self._commit_overwrite(
            spec, target, write_dir, staged, PartitionSelection.build(spec, out), allow_empty=False,
            metadata={**metadata, "lakeops.source": str(src.name), "lakeops.source_version": dt.version()},
        )

    def _reduce_partitions(self, scans: list[Scan], plans: list, fn: ReduceFn, merge: MergeFn) -> Any:
        """The fast way: one job whose tasks read row groups of every scan with pyarrow (at most
        :data:`LOCAL_REDUCE_ROWS` rows: the driver reads them itself, with the same function)."""
        units = [u for i, dt, src, selection in plans for u in self._units(dt, src, selection, scan=i)]
        if not units:
            return None
        if sum(u.rows for u in units) <= LOCAL_REDUCE_ROWS:
            return reduce_units(units, scans, fn, merge, self.storage.arrow_fs)
        sc = self.spark.sparkContext
        tasks = plan_tasks(split_columns(units, scans, sc.defaultParallelism), sc.defaultParallelism)
        fs = self.storage.arrow_fs
        parts = sc.parallelize(tasks, len(tasks)).map(lambda task: reduce_units(task, scans, fn, merge, fs)).collect()
        result = None
        for part in parts:
            if part is not None:
                result = part if result is None else merge(result, part)
        return result

    def _units(self, dt: DeltaTable, src: TableSpec, selection: PartitionSelection, *, scan: int = 0) -> list[Unit]:
        """One unit per non-empty row group of the selected partitions' live files."""
        root = self.storage.fs_path(self.location(src.name))
        data = [f for f in src.schema if f.name not in src.partition_by]
        units = []
        for file in live_files(src, dt, selection):
            path = f"{root}/{unquote(file.path)}"
            meta = pq.read_metadata(path, filesystem=self.storage.arrow_fs)
            held = set(meta.schema.names)
            absent = tuple(f for f in data if f.name not in held)
            for rg in range(meta.num_row_groups):
                rows = meta.row_group(rg).num_rows
                if rows:
                    units.append(Unit(path, (rg,), rows, file.partition, scan, absent=absent))
        return units

    def _append(self, df: DataFrame, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]) -> WriteResult:
        write_dir, staged = self._stage(df, spec, target)
        if not staged:
            self.storage.remove_tree(write_dir)
            return WriteResult(str(spec.name), target.version(), 0, 0, ())
        return self._commit(
            spec, target, staged, write_id=_name(write_dir), mode="append", selection=None,
            metadata={**metadata, "lakeops.operation": "append"},
        )

    def _append_rows(
        self, table: pa.Table, spec: TableSpec, *, target: DeltaTable, metadata: dict[str, Any]
    ) -> WriteResult:
        """Write the rows with pyarrow into a write folder and commit an append; no Spark job."""
        if table.num_rows == 0:
            return WriteResult(str(spec.name), target.version(), 0, 0, ())
        write_dir, staged = self._stage_rows(table, spec)
        return self._commit(spec, target, staged, write_id=_name(write_dir), mode="append", selection=None,
                            metadata={**metadata, "lakeops.operation": "append"})

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
        """Write the rows with pyarrow into a write folder and replace ``selection`` in one commit."""
        write_dir, staged = self._stage_rows(table, spec)
        return self._commit_overwrite(spec, target, write_dir, staged, selection, allow_empty=allow_empty,
                                      metadata=metadata)

    def _stage_rows(self, table: pa.Table, spec: TableSpec) -> tuple[str, list[_StagedFile]]:
        """Write Arrow rows as Parquet (one file per partition) into a new write folder."""
        write_dir = f"{self.location(spec.name)}/{WRITE_DIR_PREFIX}{uuid.uuid4().hex}"
        data = [n for n in spec.schema.names if n not in spec.partition_by]
        fs, base = self.storage.arrow_fs, self.storage.fs_path(write_dir)
        try:
            for i, (key, piece) in enumerate(split_by_partition(table, spec.partition_by)):
                folder = f"{base}/{partition_folder(spec, key)}" if key else base
                if fs is None:
                    Path(folder).mkdir(parents=True, exist_ok=True)
                pq.write_table(piece.select(data), f"{folder}/part-{i:05d}.parquet", compression="snappy",
                               filesystem=fs)
            return write_dir, self._staged_files(write_dir, spec)
        except Exception:
            self.storage.remove_tree(write_dir)
            raise

    def _stage(self, df: DataFrame, spec: TableSpec, target: DeltaTable) -> tuple[str, list[_StagedFile]]:
        """Write ``df`` as Parquet into a new write folder; describe the non-empty files."""
        write_dir = f"{self.location(spec.name)}/{WRITE_DIR_PREFIX}{uuid.uuid4().hex}"
        writer = df.write.mode("errorifexists")
        if spec.partition_by:
            writer = writer.partitionBy(*spec.partition_by)
        try:
            writer.parquet(self.storage.spark_uri(write_dir))
        except Exception:
            self.storage.remove_tree(write_dir)
            raise
        return write_dir, self._staged_files(write_dir, spec)

    def _staged_files(self, write_dir: str, spec: TableSpec) -> list[_StagedFile]:
        """Describe the non-empty Parquet files of a write folder (empty ones are deleted)."""
        import pyarrow.fs as pafs

        fs = self.storage.filesystem
        root = self.storage.fs_path(self.location(spec.name))
        # No folder at all when nothing was written (no rows; an object store has no empty folders).
        infos = fs.get_file_info(pafs.FileSelector(self.storage.fs_path(write_dir), recursive=True,
                                                   allow_not_found=True))
        staged = []
        for info in sorted((i for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")),
                           key=lambda i: i.path):
            rel = PurePosixPath(info.path[len(root) + 1:])
            if any(part.startswith(("_", ".")) for part in rel.parts):
                continue
            meta = pq.read_metadata(info.path, filesystem=self.storage.arrow_fs)
            if meta.num_rows == 0:
                # Spark writes a schema-only file for empty input; it adds nothing.
                fs.delete_file(info.path)
                continue
            staged.append(
                _StagedFile(
                    path=rel.as_posix(),
                    size=info.size,
                    modification_time=int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000),
                    partition_values=_partition_values(rel, spec),
                    rows=meta.num_rows,
                    stats=_file_stats(meta, spec),
                )
            )
        return staged

    def _commit(
        self,
        spec: TableSpec,
        target: DeltaTable,
        staged: list[_StagedFile],
        *,
        write_id: str,
        mode: str,
        selection: PartitionSelection | None,
        metadata: dict[str, Any],
    ) -> WriteResult:
        from deltalake import CommitProperties
        from deltalake.exceptions import CommitFailedError
        from deltalake.transaction import AddAction, RemoveAction

        actions: list[AddAction | RemoveAction] = [
            AddAction(f.path, f.size, f.partition_values, f.modification_time, True, f.stats) for f in staged
        ]
        rows = sum(f.rows for f in staged)
        filters = selection.delta_filters() if selection is not None and selection.values else None
        properties = CommitProperties(
            custom_metadata={**metadata, "lakeops.rows": rows, "lakeops.write_id": write_id},
            # No retries inside delta-rs: its own conflict check lets two overwrites of one
            # new partition both land (lakeops.lake.conflicts), so a commit that finds the
            # next version taken fails at once and this loop checks what was committed.
            max_commit_retries=0,
        )
        root = self.location(spec.name)
        # The handle is still at the version the write started from (its read version).
        checked = target.version()
        for _ in range(self.commit_retries + 1):
            target.update_incremental()
            latest = target.version()
            reason = find_conflict(read_commits(self.storage, root, after=checked, upto=latest), spec, selection)
            if reason is not None:
                self.storage.remove_tree(f"{root}/{write_id}")
                raise CommitConflictError(
                    f"{spec.name}: another writer committed first ({reason}) while this "
                    f"{mode} of {selection.describe() if selection is not None else 'new rows'} ran; nothing of "
                    "it was committed and its files were removed: run it again"
                )
            checked = latest
            try:
                target.create_write_transaction(
                    actions, mode, spec.schema, partition_by=list(spec.partition_by) or None,
                    partition_filters=filters, commit_properties=properties,
                )
                break
            except CommitFailedError:
                # Another commit took version checked + 1 first: check it on the next turn.
                target.update_incremental()
                if target.version() == checked:
                    raise
        else:
            self.storage.remove_tree(f"{root}/{write_id}")
            raise CommitConflictError(
                f"{spec.name}: {self.commit_retries + 1} commit attempts each found a newer version "
                "(many concurrent writers); nothing was committed: run it again"
            )
        partitions = sorted({_describe_partition(f.partition_values) for f in staged if f.partition_values})
        # Without retries delta-rs commits at the version after its handle's, or not at all.
        return WriteResult(str(spec.name), checked + 1, rows, len(staged), tuple(partitions))

    # ------------------------------------------------------------------ maintenance

    def _rewrite(self, df: DataFrame, spec: TableSpec, *, metadata: dict[str, Any], read_version: int) -> WriteResult:
        """delta-rs writes the rows itself (it alone changes a table's partitioning in one commit), so
        they pass through the driver: a migration, not a daily job."""
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        rows = df.toArrow().cast(spec.schema)
        dt = self._delta(spec.name, read_version)
        try:
            write_deltalake(dt, rows, mode="overwrite", schema_mode="overwrite",
                            partition_by=list(spec.partition_by),  # [] unpartitions (None keeps the old)
                            commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
                            storage_options=self.storage.delta_options)
        except CommitFailedError as exc:
            raise CommitConflictError(f"{spec.name}: a writer committed while the rewrite ran ({exc}); nothing "
                                      "was committed: run it again") from None
        dt.update_incremental()
        return WriteResult(str(spec.name), dt.version(), rows.num_rows, self.file_count(spec.name), ())

    def _compact(self, name: str | TableName, *, target_bytes: int, metadata: dict[str, Any]) -> int:
        from deltalake import CommitProperties
        from deltalake.exceptions import CommitFailedError

        dt = self._delta(name)
        try:
            # delta-rs checks its commit against what was committed since it read the table: files
            # it compacted that a writer removed meanwhile fail it (a concurrent-delete conflict).
            metrics = dt.optimize.compact(target_size=target_bytes,
                                          commit_properties=CommitProperties(custom_metadata=metadata))
        except CommitFailedError as exc:
            raise CommitConflictError(f"{name}: a writer committed while the compaction ran ({exc}); the "
                                      "compaction committed nothing: run it again") from None
        return int(metrics.get("numFilesRemoved", 0))

    def vacuum(
        self,
        name: str | TableName,
        *,
        retention_hours: int = DEFAULT_RETENTION_HOURS,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
    ) -> list[str]:
        """Full vacuum: files no version within ``retention_hours`` (nor in ``keep_versions``) needs,
        orphans included.

        Also clears what a crashed Spark write leaves in its write folder
        (``_temporary``) once older than the retention, and empty write folders.
        """
        dt = self._delta(name)
        removed = list(
            dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False, full=True,
                      keep_versions=sorted(set(keep_versions)) or None)
        )
        if not self.storage.local:
            return removed  # an object store has no empty folders, and Spark's _temporary files are data files
        cutoff = time.time() - retention_hours * 3600  # retention is relative to now by definition
        for write_dir in sorted(self.path(name).glob(f"{WRITE_DIR_PREFIX}*")):
            leftovers = write_dir / "_temporary"
            if leftovers.exists() and leftovers.stat().st_mtime <= cutoff:
                removed.append(leftovers.relative_to(self.path(name)).as_posix())
                if not dry_run:
                    shutil.rmtree(leftovers, ignore_errors=True)
            if not dry_run:
                _remove_empty_dirs(write_dir)
        return removed


def _name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _partition_values(rel: PurePosixPath, spec: TableSpec) -> dict[str, str | None]:
    """Partition values from Spark's ``col=value`` folder names (strings, as Delta logs them)."""
    found: dict[str, str | None] = {}
    for part in rel.parts[1:-1]:  # skip the write folder and the file name
        col, sep, value = part.partition("=")
        if sep and col in spec.partition_by:
            value = unquote(value)
            found[col] = None if value == HIVE_NULL else value
    missing = [c for c in spec.partition_by if c not in found]
    if missing:
        raise RuntimeError(f"{spec.name}: Spark wrote {rel} without partition folder(s) for {missing}")
    return found


def _describe_partition(values: dict[str, str | None]) -> str:
    return "/".join(f"{k}={v if v is not None else 'null'}" for k, v in values.items())


def _file_stats(meta: pq.FileMetaData, spec: TableSpec) -> str:
    """Delta ``stats`` JSON from a Parquet footer: numRecords, nullCount, exact min/max."""
    nulls: dict[str, int] = {}
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    schema = meta.schema.to_arrow_schema()
    for col_index, name in enumerate(schema.names):
        if name not in spec.schema.names:
            continue
        col_stats = [meta.row_group(rg).column(col_index).statistics for rg in range(meta.num_row_groups)]
        if not col_stats or any(s is None for s in col_stats):
            continue
        if all(s.has_null_count for s in col_stats):
            nulls[name] = int(sum(s.null_count for s in col_stats))
        if spec.schema.field(name).type in _STATS_TYPES and all(s.has_min_max for s in col_stats):
            # Dates are logged as 'YYYY-MM-DD', integers as numbers.
            mins[name] = _json_stat(min(s.min for s in col_stats))
            maxs[name] = _json_stat(max(s.max for s in col_stats))
    stats: dict[str, Any] = {"numRecords": meta.num_rows, "nullCount": nulls}
    if mins:
        stats["minValues"] = mins
        stats["maxValues"] = maxs
    return json.dumps(stats, separators=(",", ":"))


def _json_stat(value: Any) -> Any:
    return to_partition_string(value) if isinstance(value, date) else int(value)


def _remove_empty_dirs(folder: Path) -> None:
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _wait_for_tasks(sc: Any, group: str, *, timeout_s: float = 60.0) -> None:
    """Wait until no task of the job group's stages is running (or ``timeout_s`` passes)."""
    tracker = sc.statusTracker()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stages = [s for j in tracker.getJobIdsForGroup(group) if (job := tracker.getJobInfo(j)) for s in job.stageIds]
        if not any((info := tracker.getStageInfo(s)) and info.numActiveTasks > 0 for s in stages):
            return
        time.sleep(0.05)


#: Characters java.net.URI leaves as they are in a path (RFC 2396 unreserved, punctuation and '/').
_URI_PATH_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'();:@&=+$,/")


def spark_file_path(uri: str) -> str:
    """``uri`` as Spark's ``_metadata.file_path`` reports it: Hadoop's ``new Path(uri).toUri().toString()``,
    which quotes ASCII characters a URI path may not hold (a space, '%') and keeps other characters."""
    scheme, sep, rest = uri.partition(":")
    quoted = "".join(c if c in _URI_PATH_SAFE or ord(c) > 127 else f"%{ord(c):02X}" for c in rest)
    return f"{scheme}{sep}{quoted}"
