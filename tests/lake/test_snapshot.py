"""lakeops.lake.snapshot: the one Spark-free read of a Delta table version, on tables delta-rs writes.

No Spark here: every table is made with ``deltalake.write_deltalake`` in a temporary folder,
so these tests say what the snapshot reads of any Delta writer's log. The catalog that
``lakeops tables`` prints is read through the same module, and is checked here too.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from lakeops.errors import InvalidParameterError, TableNotFoundError, UnsupportedTableError
from lakeops.lake.catalog import format_tables, list_tables
from lakeops.lake.snapshot import open_snapshot, table_names
from lakeops.lake.spec import PartitionSelection
from lakeops.lake.storage import storage_for
from lakeops.names import TableName

D1, D2, D3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)


def write(root: Path, name: str, table: pa.Table, *, mode: str = "append", **kwargs) -> None:
    from deltalake import write_deltalake

    schema, table_name = name.split(".")
    write_deltalake(str(root / schema / table_name), table, mode=mode, **kwargs)


def observations(rows: list[tuple[date, str, int]]) -> pa.Table:
    """Rows of a raw table partitioned by (ds, region)."""
    return pa.table({
        "ds": pa.array([r[0] for r in rows], pa.date32()),
        "region": pa.array([r[1] for r in rows], pa.string()),
        "value": pa.array([r[2] for r in rows], pa.int64()),
        "note": pa.array([f"n{r[2]}" for r in rows], pa.string()),
    })


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def storage(root):
    return storage_for(root)


@pytest.fixture
def regional(root) -> Path:
    """raw.obs, partitioned by (ds, region): D1 in eu and us, D2 in us only (two commits)."""
    write(root, "raw.obs", observations([(D1, "eu", 1), (D1, "us", 2)]), partition_by=["ds", "region"])
    write(root, "raw.obs", observations([(D2, "us", 3)]), partition_by=["ds", "region"])
    return root / "raw" / "obs"


def test_spec_partitions_and_files(storage, regional):
    snapshot = open_snapshot(storage, "raw.obs")

    assert snapshot.name == TableName("raw", "obs")
    assert snapshot.version == 1
    assert snapshot.uri == storage.table_uri("raw.obs") == str(regional)
    spec = snapshot.spec
    assert spec.partition_by == ("ds", "region")
    # delta-rs' large/view strings come back as the contracts' plain strings.
    assert [(f.name, f.type) for f in spec.schema] == [
        ("ds", pa.date32()), ("region", pa.string()), ("value", pa.int64()), ("note", pa.string())]

    by_values = lambda p: (p["ds"], p["region"])  # noqa: E731
    assert sorted(snapshot.partitions(), key=by_values) == [
        {"ds": D1, "region": "eu"}, {"ds": D1, "region": "us"}, {"ds": D2, "region": "us"}]

    files = snapshot.files()
    assert len(files) == 3
    assert sorted(f.stats["num_records"] for f in files) == [1, 1, 1]
    for f in files:
        assert (regional / f.path).is_file()  # relative to the table root

    d1 = snapshot.files(PartitionSelection.build(spec, {"ds": [D1]}))
    assert sorted(f.partition["region"] for f in d1) == ["eu", "us"]
    assert all(f.partition["ds"] == D1 for f in d1)
    us_d2 = snapshot.files(PartitionSelection.build(spec, {"ds": [D2], "region": ["us"]}))
    assert [f.partition for f in us_d2] == [{"ds": D2, "region": "us"}]
    assert snapshot.files(PartitionSelection.build(spec, {"ds": [D3]})) == []


def test_unpartitioned_table(root, storage):
    write(root, "ml.plain", pa.table({"x": pa.array([1, 2, 3], pa.int32())}))
    snapshot = open_snapshot(storage, TableName("ml", "plain"))
    assert snapshot.spec.partition_by == ()
    assert snapshot.partitions() == []
    assert [f.partition for f in snapshot.files()] == [{}]
    assert snapshot.files()[0].stats["num_records"] == 3


def test_time_travel(storage, regional):
    first = open_snapshot(storage, "raw.obs", version=0)
    assert first.version == 0
    assert sorted(f.partition["region"] for f in first.files()) == ["eu", "us"]
    assert not first.has_partition({"ds": D2})
    assert sum(f.stats["num_records"] for f in first.files()) == 2

    latest = open_snapshot(storage, "raw.obs")
    assert latest.version == 1 and len(latest.files()) == 3
    assert sum(f.stats["num_records"] for f in latest.files()) == 3


def test_a_missing_table(root, storage, regional):
    with pytest.raises(TableNotFoundError, match=r"table raw\.nope does not exist"):
        open_snapshot(storage, "raw.nope")
    (root / "raw" / "folder").mkdir()  # a folder, but no Delta log
    with pytest.raises(TableNotFoundError, match=r"raw\.folder"):
        open_snapshot(storage, "raw.folder")
    with pytest.raises(TableNotFoundError):
        open_snapshot(storage_for(root / "elsewhere"), "raw.obs")


def test_a_version_that_does_not_exist(storage, regional):
    with pytest.raises(InvalidParameterError, match=r"raw\.obs has no version 5; the latest is 1"):
        open_snapshot(storage, "raw.obs", version=5)
    for bad in (-1, True, "1"):
        with pytest.raises(InvalidParameterError, match="invalid version"):
            open_snapshot(storage, "raw.obs", version=bad)


def test_invalid_table_names_are_refused_before_any_read(storage):
    for bad in ("raw", "raw.obs.x", "../etc.passwd", "Raw.obs", "raw.o-bs"):
        with pytest.raises(InvalidParameterError):
            open_snapshot(storage, bad)


def test_has_partition_on_a_table_partitioned_by_ds_and_region(storage, regional):
    snapshot = open_snapshot(storage, "raw.obs")

    # A day is there when any region of it is.
    assert snapshot.has_partition({"ds": D1})
    assert snapshot.has_partition({"ds": D2})
    assert not snapshot.has_partition({"ds": D3})
    # As Delta spells the values, too.
    assert snapshot.has_partition({"ds": "2024-01-02"})
    assert not snapshot.has_partition({"ds": "2024-01-03"})
    # All the columns given must match the same partition.
    assert snapshot.has_partition({"ds": D2, "region": "us"})
    assert not snapshot.has_partition({"ds": D2, "region": "eu"})
    assert snapshot.has_partition({"region": "eu"})

    with pytest.raises(InvalidParameterError, match=r"partitioned by \['ds', 'region'\], not \['value'\]"):
        snapshot.has_partition({"ds": D1, "value": 1})


def test_has_partition_reads_live_files_only(storage, regional):
    """A partition whose files were all removed by a later commit is no longer there."""
    from deltalake import DeltaTable

    DeltaTable(str(regional)).delete("ds = '2024-01-02'")
    snapshot = open_snapshot(storage, "raw.obs")
    assert snapshot.version == 2
    assert not snapshot.has_partition({"ds": D2})
    assert snapshot.has_partition({"ds": D1})
    assert open_snapshot(storage, "raw.obs", version=1).has_partition({"ds": D2})


def test_has_partition_with_a_string_ds(root, storage):
    """A raw table whose ``ds`` is a string column of ISO days (another writer's choice) answers the same."""
    rows = pa.table({"ds": ["2024-01-01"], "region": ["eu"], "value": pa.array([1], pa.int64())})
    write(root, "raw.text_days", rows, partition_by=["ds", "region"])
    snapshot = open_snapshot(storage, "raw.text_days")
    assert snapshot.has_partition({"ds": "2024-01-01"})
    assert not snapshot.has_partition({"ds": "2024-01-02"})


def test_a_table_with_reader_features(root, storage):
    """Deletion vectors (reader version 3): refused for reading files, open for reading the log."""
    write(root, "raw.dv", observations([(D1, "eu", 1)]), configuration={"delta.enableDeletionVectors": "true"})
    with pytest.raises(UnsupportedTableError, match="deletionVectors"):
        open_snapshot(storage, "raw.dv")
    assert open_snapshot(storage, "raw.dv", check_reader=False).version == 0


def test_table_names(root, storage, regional):
    write(root, "ml.alerts", pa.table({"x": pa.array([1], pa.int32())}))
    (root / "raw" / "not_a_table").mkdir()  # no _delta_log
    (root / "raw" / "log_is_a_file").mkdir()
    (root / "raw" / "log_is_a_file" / "_delta_log").write_text("")
    (root / "raw" / "Bad-Name" / "_delta_log").mkdir(parents=True)  # invalid table name
    (root / "Raw" / "t" / "_delta_log").mkdir(parents=True)  # invalid schema name
    (root / "_staging" / "t" / "_delta_log").mkdir(parents=True)
    (root / "raw" / "notes.txt").write_text("not a folder")
    (root / "toplevel.txt").write_text("not a folder")
    (root / "ml" / "alerts" / "nested" / "_delta_log").mkdir(parents=True)  # too deep

    assert table_names(storage) == ["ml.alerts", "raw.obs"]


def test_table_names_of_an_empty_or_missing_root(root):
    assert table_names(storage_for(root)) == []
    root.mkdir()
    assert table_names(storage_for(root)) == []


def test_the_catalog_reads_through_the_snapshot(root, storage, regional):
    write(root, "ml.plain", pa.table({"x": pa.array([1, 2, 3], pa.int32())}))
    (root / "raw" / "not_a_table").mkdir()

    for where in (root, str(root), storage):
        tables = {t.name: t for t in list_tables(where)}
        assert list(tables) == ["ml.plain", "raw.obs"]
        obs, plain = tables["raw.obs"], tables["ml.plain"]
        assert (obs.rows, obs.files, obs.partitions, obs.version) == (3, 3, 3, 1)
        assert obs.last_operation == "WRITE"
        assert (plain.rows, plain.files, plain.partitions, plain.version) == (3, 1, None, 0)
        assert obs.contract is None  # written by delta-rs alone: no lakeops contract recorded
    listing = format_tables(list_tables(root))
    assert "raw.obs" in listing and "ml.plain" in listing and " contract " in listing.splitlines()[0]
    assert list_tables(root / "missing") == []
