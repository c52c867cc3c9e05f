"""One version of a Delta table read from its log: the one way lakeops reads a snapshot, no Spark.

:func:`open_snapshot` opens a table's log at a version with delta-rs (any Delta
writer's log reads the same) and returns a :class:`Snapshot`: the spec the log
describes (schema, partition columns), its live files with their typed partition
values and statistics, and its partitions. The Lake, ``lakeops sql``'s DuckDB
engine, ``lakeops tables`` and the Airflow sensors all read through here.
Reads one table's ``_delta_log``; writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.constants import NAME_PATTERN
from lakeops.errors import InvalidParameterError, TableNotFoundError, UnsupportedTableError
from lakeops.lake.spec import PartitionSelection, TableSpec, parse_partition_string
from lakeops.lake.storage import Storage
from lakeops.names import TableName

if TYPE_CHECKING:
    from deltalake import DeltaTable

_STRING_TYPES = (pa.large_string(), pa.string_view())


@dataclass(frozen=True)
class LiveFile:
    """A data file of a table version, per its Delta log."""

    path: str  # relative to the table root, as logged (percent-encoded)
    partition: dict[str, Any]  # typed partition values
    stats: dict[str, Any]  # the flattened add action: size, min.<col>, max.<col>, null_count.<col>, ...


class Snapshot:
    """A table version: its delta-rs handle, the spec its log describes, and where it lives."""

    def __init__(self, name: TableName, dt: DeltaTable, uri: str, storage: Storage) -> None:
        self.name = name
        self.dt = dt
        self.uri = uri
        self.storage = storage

    @property
    def version(self) -> int:
        return self.dt.version()

    @cached_property
    def spec(self) -> TableSpec:
        return spec_of(self.name, self.dt)

    def files(self, selection: PartitionSelection | None = None) -> list[LiveFile]:
        """The live files, optionally only those inside ``selection``."""
        return live_files(self.spec, self.dt, selection)

    def read_arrow(
        self, selection: PartitionSelection | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The rows of the live files (inside ``selection``) as Arrow, partition columns from the log."""
        return read_files(self.storage, self.uri, self.spec, self.files(selection), columns)

    def partitions(self) -> list[dict[str, Any]]:
        """The live partitions as typed values, e.g. ``[{"ds": date(2024, 1, 1), "region": "eu"}]``."""
        return typed_partitions(self.spec, self.dt)

    def has_partition(self, values: Mapping[str, Any]) -> bool:
        """True when some live partition has these values (a subset of its columns, typed or as strings).

        Raises:
            InvalidParameterError: a column that is not one of the table's partition columns.
        """
        unknown = [c for c in values if c not in self.spec.partition_by]
        if unknown:
            raise InvalidParameterError(
                f"{self.name} is partitioned by {list(self.spec.partition_by)}, not {unknown}"
            )
        wanted = {c: parse_partition_string(self.spec, c, v) if isinstance(v, str) else v for c, v in values.items()}
        return any(all(p[c] == v for c, v in wanted.items()) for p in self.partitions())


def open_snapshot(
    storage: Storage, name: str | TableName, *, version: int | None = None, check_reader: bool = True
) -> Snapshot:
    """The table ``name`` of the lake at ``version`` (latest when ``None``).

    ``check_reader`` refuses a table whose files cannot be read as the log lists them
    (Delta reader features); delta-spark, which reads those, turns it off.

    Raises:
        TableNotFoundError: no Delta table there.
        InvalidParameterError: no such version.
        UnsupportedTableError: the log asks for a reader feature lakeops does not read.
    """
    ref = name if isinstance(name, TableName) else TableName.parse(name)
    uri = storage.table_uri(ref)
    dt = open_log(storage, ref, uri, version)
    if check_reader:
        check_protocol(ref, dt)
    return Snapshot(ref, dt, uri, storage)


def open_log(storage: Storage, ref: TableName, uri: str, version: int | None = None) -> DeltaTable:
    """The delta-rs handle of ``uri`` at ``version``, with lakeops' errors (see :func:`open_snapshot`)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError as DeltaNotFound

    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise InvalidParameterError(f"invalid version {version!r}: expected a non-negative integer")
    missing = TableNotFoundError(f"table {ref} does not exist (no Delta log under {uri})")
    try:
        return DeltaTable(uri, version=version, storage_options=storage.delta_options)
    except DeltaNotFound:
        raise missing from None
    except Exception:
        if version is None:
            raise
        try:
            latest = DeltaTable(uri, storage_options=storage.delta_options).version()
        except DeltaNotFound:
            raise missing from None
        if version > latest:
            raise InvalidParameterError(f"{ref} has no version {version}; the latest is {latest}") from None
        raise


def table_names(storage: Storage) -> list[str]:
    """``schema.table`` of every Delta table under the root (a ``<schema>/<table>/_delta_log``), sorted."""
    import pyarrow.fs as pafs

    fs, base = storage.filesystem, storage.fs_path(storage.root)
    found = []
    for schema in _folders(fs, base):
        if not NAME_PATTERN.fullmatch(schema):
            continue
        for table in _folders(fs, f"{base}/{schema}"):
            if NAME_PATTERN.fullmatch(table):
                info = fs.get_file_info(f"{base}/{schema}/{table}/_delta_log")
                if info.type == pafs.FileType.Directory:
                    found.append(f"{schema}.{table}")
    return sorted(found)


def log_entries(storage: Storage, uri: str) -> tuple[int, int]:
    """``(on disk, replayed)`` of the table at ``uri``: the JSON commits in its ``_delta_log``, and how
    many of them opening its latest version reads (those after its last checkpoint)."""
    names = storage.list_names(f"{uri}/_delta_log")
    versions = [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()]
    last = max((int(n[:20]) for n in names if n.endswith(".checkpoint.parquet") and n[:20].isdigit()), default=-1)
    return len(versions), sum(1 for v in versions if v > last)


def _folders(fs: Any, path: str) -> list[str]:
    import pyarrow.fs as pafs

    try:
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [i.base_name for i in infos if i.type == pafs.FileType.Directory]


def read_files(
    storage: Storage, uri: str, spec: TableSpec, files: Sequence[LiveFile], columns: Sequence[str] | None = None
) -> pa.Table:
    """``files`` of the table at ``uri`` read with pyarrow (small results, bookkeeping), ``columns``
    (default: all) in the spec's order and types; partition columns come from the log."""
    from urllib.parse import unquote

    import pyarrow.parquet as pq

    wanted = [f for f in spec.schema if columns is None or f.name in columns]
    data = [f.name for f in wanted if f.name not in spec.partition_by]
    schema = pa.schema(wanted)
    folder = storage.fs_path(uri)
    pieces = []
    for file in files:
        source = pq.ParquetFile(f"{folder}/{unquote(file.path)}", filesystem=storage.arrow_fs)
        held = set(source.schema_arrow.names)
        table = source.read(columns=[c for c in data if c in held])
        for name in data:
            if name not in held:  # written before the contract added the column
                table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
        for col in spec.partition_by:
            if col in schema.names:
                field = spec.schema.field(col)
                table = table.append_column(field, pa.repeat(pa.scalar(file.partition[col], field.type), table.num_rows))
        pieces.append(table.select(schema.names).cast(schema))
    return pa.concat_tables(pieces) if pieces else schema.empty_table()


# ----------------------------------------------------------------------------- log readings


def spec_of(name: TableName, dt: DeltaTable) -> TableSpec:
    """A spec for whatever the log says the table is (reads need no declared spec)."""
    return TableSpec(name=name, schema=arrow_schema(dt), partition_by=tuple(dt.metadata().partition_columns))


def live_files(spec: TableSpec, dt: DeltaTable, selection: PartitionSelection | None = None) -> list[LiveFile]:
    """The files of ``dt``'s version, optionally only those inside ``selection``."""
    files = []
    for action in pa.table(dt.get_add_actions(flatten=True)).to_pylist():
        values = {c: parse_partition_string(spec, c, action.get(f"partition.{c}")) for c in spec.partition_by}
        if selection is None or selection.matches(values):
            files.append(LiveFile(action["path"], values, action))
    return files


def typed_partitions(spec: TableSpec, dt: DeltaTable) -> list[dict[str, Any]]:
    return [{col: parse_partition_string(spec, col, value) for col, value in p.items()} for p in dt.partitions()]


def arrow_schema(dt: DeltaTable) -> pa.Schema:
    schema = pa.schema(dt.schema().to_arrow())
    # delta-rs reports strings as large/view types; the table contract uses plain ones.
    return pa.schema([pa.field(f.name, pa.string()) if f.type in _STRING_TYPES else f for f in schema])


def check_protocol(name: object, dt: DeltaTable, *, writer: bool = False) -> None:
    """Refuse tables whose Delta protocol asks for more than the embedded backend (and every
    Spark-free reader) does: reader version 1 (read the files the log lists) or, for writes,
    writer version 2."""
    proto = dt.protocol()
    if writer:
        kind, verb, limit, hint = "writer", "writes", 2, ""
        version, features = proto.min_writer_version, proto.writer_features
    else:
        kind, verb, limit, hint = "reader", "reads", 1, ", e.g. deletion vectors or column mapping"
        version, features = proto.min_reader_version, proto.reader_features
    if version > limit or features:
        raise UnsupportedTableError(
            f"{name} needs Delta {kind} version {version} (features: {', '.join(features or []) or 'none'}){hint}; "
            f"the embedded backend {verb} version {limit} tables only: set lake.backend=native"
        )
