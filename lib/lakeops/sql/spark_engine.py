"""The Spark engine: the same query through Spark SQL, for tables too large for one machine.

Each lake table the query names is read with :meth:`Lake.read` (at the
version asked for) and registered as a temporary view; the query text runs
as written, its two-part table names pointed at those views, with the named
parameters bound by ``spark.sql(text, args=...)``. The views (and any the
script creates) are dropped afterwards. Reads the named tables; writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.lake.snapshot import table_names
from lakeops.names import TableName
from lakeops.sql.duckdb_engine import QueryFailedError, check_versions
from lakeops.sql.params import bind
from lakeops.sql.statements import QueryError, Script, spark_text

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)


def view_name(table: TableName) -> str:
    """The temporary view a lake table is registered as (Spark's temporary views have one-part names)."""
    return f"{table.schema}__{table.table}"


def run_spark(
    lake: Lake,
    script: Script,
    *,
    params: Mapping[str, Any] | None = None,
    versions: Mapping[TableName, int] | None = None,
) -> pa.Table:
    """Run ``script`` with Spark SQL on ``lake``'s session; the last query's rows as Arrow.

    Raises:
        QueryError: an unknown table, a missing or unused parameter, an error Spark finds in the query.
        InvalidParameterError: a version that does not exist or names a table the query does not read.
        QueryFailedError: Spark failed while running it.
    """
    from pyspark.errors import AnalysisException, PySparkException

    params, versions = dict(params or {}), dict(versions or {})
    check_versions(script, versions)
    spark = lake.spark
    views = {}
    created: list[str] = []
    try:
        for table in script.tables:
            if not lake.exists(table):
                known = ", ".join(table_names(lake.storage)) or "none"
                raise QueryError(f"no table {table} in the lakehouse {lake.storage.describe()} (tables: {known})")
            lake.read(table, version=versions.get(table)).createOrReplaceTempView(view_name(table))
            views[table] = view_name(table)
            created.append(view_name(table))
        result = None
        for statement in script.statements:
            text = spark_text(statement, views)
            log.debug("spark: %s", text)
            df = spark.sql(text, args=bind(statement.params, params, given=script.params))
            if statement.target:
                created.append(statement.target)
            if statement.kind == "query":
                result = df.toArrow()
        return result
    except AnalysisException as exc:  # parse and analysis errors: the query text is wrong
        raise QueryError(f"spark: {_first_line(exc)}") from None
    except PySparkException as exc:
        raise QueryFailedError(f"spark failed: {_first_line(exc)}") from None
    finally:
        for view in created:
            spark.catalog.dropTempView(view)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]
