"""Small deterministic DataFrames for lake tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, date

import pyarrow as pa

from lakeops.lake import TableSpec

EVENTS = TableSpec(
    name="test.events",
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("id", pa.int64()),
            ("name", pa.string()),
            ("value", pa.float64()),
            ("at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    partition_by=("ds",),
)


def events(spark, ds: date, n: int = 50, *, offset: int = 0, tag: str = "a"):
    """``n`` rows for one ``ds``; ``offset`` and ``tag`` make versions distinguishable."""
    from pyspark.sql import functions as F

    return spark.range(offset, offset + n).select(
        F.lit(ds).alias("ds"),
        F.col("id"),
        F.concat(F.lit(f"{tag}-"), F.col("id").cast("string")).alias("name"),
        (F.col("id") * 1.5).alias("value"),
        F.timestamp_seconds(F.col("id") + 1_700_000_000).alias("at"),
    )


def event_rows(ds: date, n: int = 50, *, offset: int = 0, tag: str = "a") -> pa.Table:
    """The rows of :func:`events` as Arrow, for writes without Spark (``overwrite_rows``, ``append_rows``)."""
    from datetime import datetime

    ids = list(range(offset, offset + n))
    return pa.table(
        {
            "ds": pa.array([ds] * n, pa.date32()),
            "id": pa.array(ids, pa.int64()),
            "name": [f"{tag}-{i}" for i in ids],
            "value": [i * 1.5 for i in ids],
            "at": pa.array([datetime.fromtimestamp(i + 1_700_000_000, UTC) for i in ids], pa.timestamp("us", tz="UTC")),
        },
        schema=EVENTS.schema,
    )


def fingerprint(df) -> tuple[int, str]:
    """``fp(table)`` of the reliability plan: row count and a hash of the sorted rows."""
    rows = sorted(tuple("<null>" if v is None else repr(v) for v in row) for row in df.collect())
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def assert_same_rows(got: pa.Table, expected: pa.Table) -> None:
    """The same rows in any order, floats equal up to summation order (a sum in another order can
    differ in its last bits): sorted by every column that is not a float, then compared."""
    import pandas as pd

    assert got.schema == expected.schema and got.num_rows == expected.num_rows
    keys = [f.name for f in got.schema if not pa.types.is_floating(f.type) and not pa.types.is_nested(f.type)]

    def frame(table: pa.Table) -> pd.DataFrame:
        df = table.to_pandas()
        return df.sort_values(keys, na_position="first", kind="stable", key=lambda c: c.astype(str)).reset_index(drop=True)

    pd.testing.assert_frame_equal(frame(got), frame(expected), check_exact=False, rtol=1e-9, atol=1e-12)
