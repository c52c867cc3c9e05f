"""Running a batch function over a table's partitions in Spark tasks: the plan and the task-side code.

:meth:`lakeops.lake.Lake.map_partitions` runs a function over every Arrow batch
of some partitions of a source table and writes what it returns as the matching
partitions of an output table. This module holds what both ways of running it
share:

- :class:`MapPlan`: which source partitions, which columns, and how each source
  partition names its output partition (source partition values plus constants).
- :func:`map_frame`: the portable way, a Spark ``mapInArrow`` over the source
  DataFrame (any backend).
- :func:`run_units`: the task side of the embedded backend's fast way, where
  each Spark task reads its row groups straight from the source's Parquet files
  with pyarrow and writes Parquet into the output's write folder, so no row ever
  passes through the JVM.

Reads and writes no tables itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from lakeops.errors import SchemaMismatchError
from lakeops.lake.spec import TableSpec, to_partition_string

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from pyspark.sql import DataFrame

#: ``fn(batch, partition)``: a batch of the selected source columns and its
#: source partition's typed values -> a batch of the output's data columns.
BatchFn = Callable[[pa.RecordBatch, Mapping[str, Any]], pa.RecordBatch]

#: ``fn(table, batch, partition, columns)`` -> a small partial result (counts, sums)
#: of ``columns`` (the batch may hold more: the scan's context columns), for
#: :meth:`lakeops.lake.Lake.reduce_partitions`; ``merge(a, b)`` adds two of them up.
ReduceFn = Callable[[str, pa.RecordBatch, Mapping[str, Any], tuple[str, ...]], Any]
MergeFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Scan:
    """Which partitions and columns of a table a reduction reads (at ``version``, latest if ``None``).

    ``columns`` may be split between tasks (a wide table with few row groups
    still keeps every core busy); ``context`` columns are read with every piece.
    """

    table: str
    where: Mapping[str, Sequence[Any] | Any]
    columns: tuple[str, ...]
    version: int | None = None
    context: tuple[str, ...] = ()

#: Rows per Arrow batch read inside a task: large enough that per-call costs
#: (an ``inplace_predict`` call) vanish, small enough to stay in cache-friendly
#: buffers (smaller batches read faster than whole row groups).
TASK_BATCH_ROWS = 65_536

#: How Spark (and Hive) name the folder of a null partition value.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class MapPlan:
    """What a map writes: the output spec and how source partitions name output ones."""

    spec: TableSpec
    source_partition_by: tuple[str, ...]
    columns: tuple[str, ...]
    constants: Mapping[str, Any]

    def out_values(self, source_values: Mapping[str, Any]) -> dict[str, Any]:
        """The output partition a source partition's rows go to."""
        return {c: self.constants[c] if c in self.constants else source_values[c] for c in self.spec.partition_by}

    @cached_property
    def out_schema(self) -> pa.Schema:
        """The output's data columns (partition columns live in folder names and the log)."""
        return pa.schema([f for f in self.spec.schema if f.name not in self.spec.partition_by])

    def conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with exactly the output's data columns, in order and type."""
        schema = self.out_schema
        missing = [n for n in schema.names if n not in batch.schema.names]
        if missing:
            raise SchemaMismatchError(f"{self.spec.name}: the batch function returned no column(s) {missing}")
        return pa.RecordBatch.from_arrays([batch.column(n).cast(schema.field(n).type) for n in schema.names],
                                          schema=schema)


# ---------------------------------------------------------------------- portable path


def map_frame(df: DataFrame, fn: BatchFn, plan: MapPlan) -> DataFrame:
    """``fn`` over a DataFrame of the source (partition columns plus ``plan.columns``).

    A Spark batch may hold rows of several source partitions, so each batch is
    split by partition first; every piece gets its partition's values and the
    output's partition columns appended.
    """
    spec, part_cols = plan.spec, plan.source_partition_by

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for key, piece in split_by_partition(pa.Table.from_batches([batch]), part_cols):
                piece_batch = piece.select(list(plan.columns)).combine_chunks().to_batches()
                if not piece_batch:
                    continue
                out = plan.conform(fn(piece_batch[0], key))
                values = plan.out_values(key)
                arrays = {n: out.column(n) for n in out.schema.names}
                for col in spec.partition_by:
                    arrays[col] = pa.repeat(pa.scalar(values[col], spec.schema.field(col).type), out.num_rows)
                yield pa.RecordBatch.from_arrays([arrays[n] for n in spec.schema.names], schema=spec.schema)

    return df.select(*part_cols, *plan.columns).mapInArrow(run, spec.spark_schema)


def split_by_partition(table: pa.Table, columns: Sequence[str]) -> Iterator[tuple[dict[str, Any], pa.Table]]:
    """The rows of ``table`` per distinct value of ``columns`` (one piece, key ``{}``, when there are none)."""
    import pyarrow.compute as pc

    if not columns:
        yield {}, table
        return
    for key in table.select(list(columns)).group_by(list(columns)).aggregate([]).to_pylist():
        mask = None
        for col, value in key.items():
            cond = pc.is_null(table[col]) if value is None else pc.equal(table[col], value)
            mask = cond if mask is None else pc.and_(mask, cond)
        yield key, table.filter(mask)


# ---------------------------------------------------------------------- file path


@dataclass(frozen=True)
class Unit:
    """One task's share of a source file: some of its row groups."""

    path: str  # the Parquet file's path in the lake's file system (local: absolute)
    row_groups: tuple[int, ...]
    rows: int
    partition: Mapping[str, Any]  # typed source partition values
    scan: int = 0  # which Scan of a reduction the unit belongs to
    columns: tuple[str, ...] = ()  # a reduction's share of the scan's columns (empty: all of them)
    # Columns of the table the file does not hold (written before a contract added them): read as nulls.
    absent: tuple[pa.Field, ...] = ()


def read_batches(unit: Unit, columns: Sequence[str], fs: pafs.FileSystem | None = None) -> Iterator[pa.RecordBatch]:
    """The unit's rows as Arrow batches of ``columns`` in that order, nulls for the columns its file lacks."""
    import pyarrow.parquet as pq

    absent = {f.name: f for f in unit.absent if f.name in columns}
    source = pq.ParquetFile(unit.path, filesystem=fs)
    for batch in source.iter_batches(batch_size=TASK_BATCH_ROWS, row_groups=list(unit.row_groups),
                                     columns=[c for c in columns if c not in absent], use_threads=False):
        if absent:
            arrays = [pa.nulls(batch.num_rows, absent[c].type) if c in absent else batch.column(c) for c in columns]
            batch = pa.RecordBatch.from_arrays(arrays, names=list(columns))
        yield batch


def plan_tasks(units: Sequence[Unit], slots: int) -> list[list[Unit]]:
    """Spread units over at most ``slots`` tasks, largest first onto the lightest task.

    Units of one source partition stay in order within a task, so a task keeps
    one output file open at a time.
    """
    tasks: list[list[Unit]] = [[] for _ in range(max(1, min(slots, len(units))))]
    loads = [0] * len(tasks)
    for unit in sorted(units, key=lambda u: -u.rows):
        i = loads.index(min(loads))
        tasks[i].append(unit)
        loads[i] += unit.rows
    def key(u: Unit) -> tuple:
        return [to_partition_string(v) for v in u.partition.values()], u.path, u.row_groups

    return [sorted(t, key=key) for t in tasks if t]


def run_units(
    units: Sequence[Unit], fn: BatchFn, plan: MapPlan, write_dir: str, fs: pafs.FileSystem | None = None
) -> Iterator[str]:
    """Task side: read each unit's row groups, apply ``fn``, write Parquet per output partition.

    Files land under ``write_dir/<col>=<value>/...`` (Hive-style folders, as Spark
    writes them) and are invisible until the driver commits them. ``fs`` is the
    lake's file system (``None``: local paths). Yields the paths written.
    """
    import pyarrow.parquet as pq

    tag = uuid.uuid4().hex[:12]
    writer: pq.ParquetWriter | None = None
    path: str | None = None
    folder = ""
    try:
        for unit in units:
            where = f"{write_dir}/{partition_folder(plan.spec, plan.out_values(unit.partition))}".rstrip("/")
            if writer is not None and where != folder:
                writer.close()
                writer = None
                yield str(path)
            folder = where
            for batch in read_batches(unit, plan.columns, fs):
                out = plan.conform(fn(batch, unit.partition))
                if not out.num_rows:
                    continue
                if writer is None:
                    path = f"{folder}/part-{tag}-{uuid.uuid4().hex[:8]}.parquet"
                    if fs is None:  # object stores have no folders to make
                        _make_folders(Path(write_dir), Path(folder))
                    writer = pq.ParquetWriter(path, plan.out_schema, compression="snappy", filesystem=fs,
                                              use_dictionary=dictionary_columns(out))
                writer.write_batch(out)
        if writer is not None:
            writer.close()
            writer = None
            yield str(path)
    finally:
        if writer is not None:
            writer.close()


def split_columns(units: Sequence[Unit], scans: Sequence[Scan], slots: int) -> list[Unit]:
    """Units cut into column pieces until there are about two per slot (a reduction's parallelism
    then does not depend on how many row groups the files happen to have)."""
    pieces = -(-2 * slots // max(1, len(units)))
    if pieces <= 1:
        return list(units)
    out = []
    for unit in units:
        columns = scans[unit.scan].columns
        for part in np.array_split(np.array(columns, dtype=object), min(pieces, len(columns))):
            own = tuple(part.tolist())
            out.append(replace(unit, columns=own, rows=max(1, unit.rows * len(own) // len(columns))))
    return out


def reduce_units(
    units: Sequence[Unit], scans: Sequence[Scan], fn: ReduceFn, merge: MergeFn, fs: pafs.FileSystem | None = None
) -> Any:
    """Task side of a reduction: read each unit's row groups, ``fn`` every batch, merge the results."""

    result = None
    for unit in units:
        scan = scans[unit.scan]
        own = unit.columns or scan.columns
        read = list(dict.fromkeys([*own, *scan.context]))
        for batch in read_batches(unit, read, fs):
            part = fn(scan.table, batch, unit.partition, own)
            result = part if result is None else merge(result, part)
    return result


def _make_folders(root: Path, folder: Path) -> None:
    """Create ``folder`` below ``root``, never ``root`` itself: if the driver removed
    the write folder (the job failed), a late task fails instead of recreating it."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        current.mkdir(exist_ok=True)  # FileNotFoundError once root is gone


def dictionary_columns(batch: pa.RecordBatch) -> list[str]:
    """Columns worth dictionary encoding: few distinct values in the file's first batch.

    Dictionary encoding a column of mostly distinct values (keys, scores) costs
    time and then falls back to plain encoding anyway; measured on a prediction
    file it halves the write time and shrinks the file by a quarter.
    """
    import pyarrow.compute as pc

    limit = max(16, batch.num_rows // 16)
    return [name for name, col in zip(batch.schema.names, batch.columns, strict=True)
            if pc.count_distinct(col, mode="all").as_py() <= limit]


def partition_folder(spec: TableSpec, values: Mapping[str, Any]) -> str:
    """Hive-style ``col=value/...`` folders for a partition, spelled as Spark spells them."""
    return "/".join(
        f"{col}={HIVE_NULL if values[col] is None else quote(to_partition_string(values[col]), safe='')}"
        for col in spec.partition_by
    )
