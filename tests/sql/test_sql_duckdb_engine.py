"""The DuckDB engine reads the lake through lakeops.lake.snapshot, on a local folder and on S3.

Tables written by delta-rs (no Spark); the S3 lake lives on a moto server on 127.0.0.1
(tests/s3server.py), reached with the credentials and endpoint of the environment, as
``lakeops sql`` reaches a real one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from lakeops.errors import InvalidParameterError
from lakeops.lake.catalog import list_tables
from lakeops.sql import QueryError, query

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def observations(rows: list[tuple[date, str, int]]) -> pa.Table:
    return pa.table({
        "ds": pa.array([r[0] for r in rows], pa.date32()),
        "region": pa.array([r[1] for r in rows], pa.string()),
        "value": pa.array([r[2] for r in rows], pa.int64()),
    })


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("moto")
    from s3server import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def lake_root(request, tmp_path, monkeypatch) -> str:
    """A lake with raw.obs (partitioned by ds and region, two versions) and ml.plain."""
    from deltalake import write_deltalake

    if request.param == "local":
        root, options = str(tmp_path / "lake"), None
    else:
        s3 = request.getfixturevalue("s3")
        root, options = s3.uri(f"{request.node.name.replace('[', '_').rstrip(']')}/lake"), s3.storage_options()
        for key, value in s3.env().items():
            monkeypatch.setenv(key, value)
    obs = f"{root}/raw/obs"
    write_deltalake(obs, observations([(D1, "eu", 1), (D1, "us", 2)]), partition_by=["ds", "region"],
                    storage_options=options)
    write_deltalake(obs, observations([(D2, "us", 4)]), partition_by=["ds", "region"], mode="append",
                    storage_options=options)
    write_deltalake(f"{root}/ml/plain", pa.table({"x": pa.array([7], pa.int32())}), storage_options=options)
    return root


def test_query_reads_the_latest_snapshot(lake_root):
    rows = query(lake_root, "select ds, region, value from raw.obs order by ds, region").to_pylist()
    assert rows == [{"ds": D1, "region": "eu", "value": 1}, {"ds": D1, "region": "us", "value": 2},
                    {"ds": D2, "region": "us", "value": 4}]
    # Partition values come from the log, and filters on them select files.
    total = query(lake_root, "select sum(value) as total from raw.obs where ds = :ds and region = 'us'",
                  params={"ds": D2}).to_pylist()
    assert total == [{"total": 4}]
    joined = query(lake_root, "select count(*) as n from raw.obs cross join ml.plain").to_pylist()
    assert joined == [{"n": 3}]


def test_query_at_a_version(lake_root):
    from lakeops.names import TableName

    rows = query(lake_root, "select count(*) as n from raw.obs", versions={TableName("raw", "obs"): 0}).to_pylist()
    assert rows == [{"n": 2}]
    with pytest.raises(InvalidParameterError, match=r"raw\.obs has no version 9; the latest is 1"):
        query(lake_root, "select * from raw.obs", versions={TableName("raw", "obs"): 9})


def test_an_unknown_table_names_the_tables_there(lake_root):
    with pytest.raises(QueryError) as failed:
        query(lake_root, "select * from raw.nope")
    where = lake_root if lake_root.startswith("s3://") else str(Path(lake_root).resolve())
    assert str(failed.value) == f"no table raw.nope in the lakehouse {where} (tables: ml.plain, raw.obs)"


def test_the_catalog_lists_the_same_lake(lake_root):
    tables = {t.name: (t.rows, t.files, t.partitions, t.version) for t in list_tables(lake_root)}
    assert tables == {"ml.plain": (1, 1, None, 0), "raw.obs": (3, 3, 3, 1)}
