"""SQL over the lakehouse (``lakeops sql``): every table by its ``<schema>.<table>`` name, read-only.

Queries are Spark SQL with named ``:name`` parameters, the house dialect
(``sql/queries/``). Two engines run them:

- ``duckdb`` (default, :mod:`lakeops.sql.duckdb_engine`): DuckDB in this process over
  the Delta snapshots: a few hundred milliseconds, no JVM. The text is
  translated with sqlglot; parameters stay bound values.
- ``spark`` (:mod:`lakeops.sql.spark_engine`): Spark SQL over temporary views from
  :meth:`Lake.read`, for tables too large for one machine.

Before either runs anything, :mod:`lakeops.sql.statements` checks the parse
tree: one query, no DDL or DML (``write`` also allows temporary views and
tables, session-local). ``versions`` reads chosen tables at an earlier
Delta version. Reads the tables a query names; writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeops.constants import SQL_ENGINES
from lakeops.names import TableName
from lakeops.sql.params import parse_params, parse_versions
from lakeops.sql.statements import QueryError, QueryRefusedError

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeops.lake import Lake

__all__ = ["ENGINES", "QueryError", "QueryRefusedError", "parse_params", "parse_versions", "query", "query_spark"]

ENGINES = SQL_ENGINES


def query(
    root: str | Path,
    text: str,
    *,
    params: Mapping[str, Any] | None = None,
    versions: Mapping[TableName, int] | None = None,
    write: bool = False,
) -> pa.Table:
    """Run ``text`` on the lake at ``root`` with the DuckDB engine (in this process); its rows as Arrow.

    Args:
        params: values of the named parameters (``date``, ``int``, ``float``, ``str``).
        versions: Delta versions to read instead of the latest, per table.
        write: allow temporary views and tables before the final query.

    Raises:
        QueryRefusedError: the text is not a read-only query (exit code 2 in the CLI).
        QueryError: it does not parse or run: unknown table or column, a missing parameter.
        InvalidParameterError: a version that does not exist or names a table the query does not read.
    """
    from lakeops.sql.duckdb_engine import run_duckdb
    from lakeops.sql.statements import parse_script

    return run_duckdb(root, parse_script(text, write=write, engine="duckdb"), params=params, versions=versions)


def query_spark(
    lake: Lake,
    text: str,
    *,
    params: Mapping[str, Any] | None = None,
    versions: Mapping[TableName, int] | None = None,
    write: bool = False,
) -> pa.Table:
    """:func:`query` through Spark SQL on ``lake``'s session (any backend); the rows collected as Arrow."""
    from lakeops.sql.spark_engine import run_spark
    from lakeops.sql.statements import parse_script

    return run_spark(lake, parse_script(text, write=write, engine="spark"), params=params, versions=versions)
