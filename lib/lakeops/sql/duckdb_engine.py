"""The DuckDB engine: DuckDB over the Delta snapshots, in this process, no JVM.

Each lake table a query names is read from its Delta log (at the latest
version, or the one asked for) through :mod:`lakeops.lake.snapshot`, on a local
folder or an object store alike: the live Parquet files the log lists become a
pyarrow dataset whose fragments carry the log's partition values (Delta does
not store partition columns in the files), and DuckDB scans that dataset,
pushing column selections and filters into it (a filter on a partition column
skips whole files). DuckDB itself gets no file access at all
(``enable_external_access=false``, locked): it cannot read or write any path,
so nothing it runs can touch the lake, whatever the statement check let
through. Reads every named table's log and live files; writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa

from lakeops.errors import InvalidParameterError, LakeopsError, TableNotFoundError
from lakeops.lake.snapshot import Snapshot, open_snapshot, table_names
from lakeops.lake.storage import Storage, storage_for
from lakeops.names import TableName
from lakeops.sql.params import bind
from lakeops.sql.statements import QueryError, Script, Statement, duckdb_text

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads

log = logging.getLogger(__name__)


class QueryFailedError(LakeopsError):
    """The engine failed for a reason other than the query text (I/O, memory): perhaps worth a retry."""


def run_duckdb(
    root: str | Path,
    script: Script,
    *,
    params: Mapping[str, Any] | None = None,
    versions: Mapping[TableName, int] | None = None,
) -> pa.Table:
    """Run ``script`` (from :func:`~lakeops.sql.statements.parse_script`) with DuckDB; the last query's rows.

    Args:
        root: the lakehouse root: a local folder or an ``s3://`` prefix (:func:`~lakeops.lake.storage.storage_for`).
        params: values of the script's named parameters.
        versions: the Delta version to read of some of its tables (time travel); latest otherwise.

    Raises:
        QueryError: an unknown table, a missing or unused parameter, an error DuckDB finds in the query.
        InvalidParameterError: a version that does not exist or names a table the query does not read.
        QueryFailedError: DuckDB failed otherwise.
    """
    import duckdb

    storage = storage_for(root)
    params, versions = dict(params or {}), dict(versions or {})
    check_versions(script, versions)
    con = _connect()
    try:
        for i, name in enumerate(script.tables):
            _register(con, f"__lake_{i}", storage, open_table(storage, name, versions.get(name)))
        result = None
        for statement in script.statements:
            result = _execute(con, statement, bind(statement.params, params, given=script.params))
        return result
    except duckdb.Error as exc:
        raise _engine_error(exc) from None
    finally:
        con.close()


def open_table(storage: Storage, name: TableName, version: int | None = None) -> Snapshot:
    """A lake table's snapshot at ``version`` (latest when ``None``), read by :func:`~lakeops.lake.snapshot.open_snapshot`.

    Raises:
        QueryError: no such table.
        InvalidParameterError: no such version.
        UnsupportedTableError: the table needs a Delta reader feature the embedded backend lacks.
    """
    try:
        return open_snapshot(storage, name, version=version)
    except TableNotFoundError:
        known = ", ".join(table_names(storage)) or "none"
        raise QueryError(f"no table {name} in the lakehouse {storage.describe()} (tables: {known})") from None


def check_versions(script: Script, versions: Mapping[TableName, int]) -> None:
    """Refuse a ``--version`` for a table the script does not read (a misspelt name would be ignored)."""
    stray = [str(t) for t in versions if t not in script.tables]
    if stray:
        read = ", ".join(str(t) for t in script.tables) or "no lake table"
        raise InvalidParameterError(f"--version names {', '.join(stray)}, which the query does not read (it reads {read})")


def dataset(snapshot: Snapshot, storage: Storage) -> pads.Dataset:
    """The live files of the snapshot as one pyarrow dataset on ``storage``'s file system, partition
    values from the log.

    delta-rs has ``to_pyarrow_dataset``, but it folds file statistics into each
    fragment's guarantee, and for columns whose statistics are absent (the
    embedded backend records them for integers and dates only) those come out
    as comparisons with null, which make pyarrow skip files a filter needs.
    The fragments here carry only what the log says for certain: the partition values.
    """
    import pyarrow.dataset as pads

    spec = snapshot.spec
    fmt = pads.ParquetFileFormat()
    fs = storage.filesystem
    root = storage.fs_path(snapshot.uri)
    fragments = []
    for file in snapshot.files():
        guarantee = pads.scalar(True)
        for col in spec.partition_by:
            value = file.partition[col]
            field = pads.field(col)
            guarantee &= field.is_null() if value is None else field == pa.scalar(value, spec.schema.field(col).type)
        path = f"{root}/{unquote(file.path)}"
        fragments.append(fmt.make_fragment(path, filesystem=fs, partition_expression=guarantee))
    return pads.FileSystemDataset(fragments, spec.schema, fmt, fs)


# ----------------------------------------------------------------------------- machinery


def _connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that cannot touch the file system or load extensions, in UTC like Spark sessions."""
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    con.execute("set TimeZone = 'UTC'")  # a setting of the built-in ICU extension, not known at connect
    con.execute("set lock_configuration = true")
    return con


def _register(con: duckdb.DuckDBPyConnection, alias: str, storage: Storage, snapshot: Snapshot) -> None:
    name = snapshot.spec.name
    con.register(alias, dataset(snapshot, storage))
    # Names are validated (^[a-z][a-z0-9_]*$), so quoting them is enough.
    con.execute(f'create schema if not exists "{name.schema}"')
    con.execute(f'create view "{name.schema}"."{name.table}" as select * from "{alias}"')


def _execute(con: duckdb.DuckDBPyConnection, statement: Statement, values: dict[str, Any]) -> pa.Table | None:
    import duckdb

    text = duckdb_text(statement)
    log.debug("duckdb: %s", text)
    # A second opinion on what the translated text is, from DuckDB's own parser.
    expected = duckdb.StatementType.SELECT if statement.kind == "query" else duckdb.StatementType.CREATE
    kinds = [s.type for s in duckdb.extract_statements(text)]
    if kinds != [expected]:
        raise QueryError(f"the statement translates to {kinds} for DuckDB, not one {expected.name}; not run")
    if statement.kind != "query":
        con.execute(text, values or None)
        return None
    return con.sql(text, params=values or None).to_arrow_table()


def _engine_error(exc: Exception) -> LakeopsError:
    import duckdb

    # The LINE/caret context points into the translated text; the rest is kept, on one line.
    message = "; ".join(line.strip() for line in str(exc).split("\n\nLINE", 1)[0].splitlines() if line.strip())
    if isinstance(exc, duckdb.IOException | duckdb.InternalException | duckdb.OutOfMemoryException):
        return QueryFailedError(f"duckdb failed: {message}")
    return QueryError(f"duckdb: {message}")
