"""The embedded Delta backend against docs/reliability.md: reruns, crashes, empty input, schema drift, interop."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from lakedata import EVENTS, event_rows, events, fingerprint

from lakeops.errors import (
    EmptyWriteError,
    InvalidParameterError,
    PartitionViolationError,
    SchemaMismatchError,
    TableNotFoundError,
    UnsupportedTableError,
)
from lakeops.lake import TableSpec

D1, D2, D3 = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


def _data_files(lake) -> set[str]:
    table = lake.path("test.events")
    return {p.relative_to(table).as_posix() for p in table.rglob("*.parquet") if "_delta_log" not in p.parts}


def _assert_nothing_left(lake, before: set[str]) -> None:
    """A refused write left no file behind (the embedded backend removes its write folder);
    delta-spark writes into the table folder before its replaceWhere check, so there the
    uncommitted files stay until a vacuum, which lists them."""
    new = _data_files(lake) - before
    if lake.backend_name == "embedded":
        assert not new
    else:
        assert new <= set(lake.vacuum("test.events", retention_hours=0, dry_run=True))


def test_overwrite_then_read_round_trip(spark, lake):
    result = lake.overwrite(events(spark, D1, 40), EVENTS, partitions={"ds": [D1]})
    assert (result.rows, result.partitions) == (40, ("ds=2024-01-01",))
    assert result.version == lake.version("test.events") == 1  # 0 is the create
    got = lake.read("test.events")
    assert [(f.name, f.dataType) for f in got.schema] == [(f.name, f.dataType) for f in EVENTS.spark_schema]
    assert fingerprint(got) == fingerprint(events(spark, D1, 40))


def test_rerun_gives_identical_table_and_one_more_version(spark, lake):
    """A rerun changes nothing."""
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D2), EVENTS, partitions={"ds": [D2]})
    before, version = fingerprint(lake.read("test.events")), lake.version("test.events")
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == before
    assert lake.version("test.events") == version + 1


def test_overwrite_replaces_only_the_selected_partition(spark, lake):
    lake.overwrite(events(spark, D1, tag="old"), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D2, tag="old"), EVENTS, partitions={"ds": [D2]})
    lake.overwrite(events(spark, D1, 10, tag="new"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events", where={"ds": D1})) == fingerprint(events(spark, D1, 10, tag="new"))
    assert fingerprint(lake.read("test.events", where={"ds": D2})) == fingerprint(events(spark, D2, tag="old"))


def test_out_of_order_backfill_keeps_every_partition(spark, lake):
    """Out-of-order backfills lose nothing."""
    for day in (D3, D1, D2):
        lake.overwrite(events(spark, day, 5), EVENTS, partitions={"ds": [day]})
    got = {r.ds for r in lake.read("test.events").select("ds").distinct().collect()}
    assert got == {D1, D2, D3}
    assert lake.read("test.events").count() == 15


def test_multi_partition_overwrite_is_one_commit(spark, lake):
    df = events(spark, D1, 5).unionByName(events(spark, D2, 7))
    result = lake.overwrite(df, EVENTS, partitions={"ds": [D1, D2]})
    assert result.rows == 12 and len(result.partitions) == 2
    assert lake.version("test.events") == 1


def test_time_travel_reads_an_earlier_version(spark, lake):
    lake.overwrite(events(spark, D1, 5, tag="v1"), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D1, 8, tag="v2"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events", version=1)) == fingerprint(events(spark, D1, 5, tag="v1"))
    assert lake.read("test.events").count() == 8
    with pytest.raises(InvalidParameterError, match="no version 9"):
        lake.read("test.events", version=9)


def test_pinned_reads_share_one_log_read_and_notice_a_recreated_table(spark, lake):
    """A pinned version's log is read once per Lake; a table removed and created again at
    the same place (its versions start over) is read afresh, never from the old handle."""
    import shutil

    lake.overwrite(events(spark, D1, 5, tag="old"), EVENTS, partitions={"ds": [D1]})
    pinned = lake.version(EVENTS.name)
    lake.overwrite(events(spark, D1, 6, tag="newer"), EVENTS, partitions={"ds": [D1]})
    assert lake._delta(EVENTS.name, pinned) is lake._delta(EVENTS.name, pinned)
    assert fingerprint(lake.read(EVENTS.name, version=pinned)) == fingerprint(events(spark, D1, 5, tag="old"))
    assert lake.partitions(EVENTS.name, version=pinned) == [{"ds": D1}]

    shutil.rmtree(lake.path(EVENTS.name))
    lake.overwrite(events(spark, D2, 7, tag="again"), EVENTS, partitions={"ds": [D2]})
    assert DeltaTable(str(lake.path(EVENTS.name))).version() == pinned  # same version number, another table
    assert lake.partitions(EVENTS.name, version=pinned) == [{"ds": D2}]
    assert fingerprint(lake.read(EVENTS.name, version=pinned)) == fingerprint(events(spark, D2, 7, tag="again"))


def test_log_is_checkpointed_and_reads_the_same_across_checkpoints(spark, lake):
    """Every CHECKPOINT_INTERVAL commits the log gets a checkpoint; reads, time travel and
    overwrites see the same table before and after one."""
    from lakeops.lake.embedded import CHECKPOINT_INTERVAL

    day_rows = pa.Table.from_pylist([r.asDict() for r in events(spark, D1, 3).collect()])
    lake.overwrite(events(spark, D2, 4), EVENTS, partitions={"ds": [D2]})  # versions 0 (create) and 1
    while lake.version(EVENTS.name) < CHECKPOINT_INTERVAL + 1:
        lake.append_rows(day_rows, EVENTS)
    log = lake.path(EVENTS.name) / "_delta_log"
    assert list(log.glob("*.checkpoint.parquet")), "no checkpoint after CHECKPOINT_INTERVAL commits"
    appended = CHECKPOINT_INTERVAL  # versions 2..CHECKPOINT_INTERVAL + 1
    assert lake.read(EVENTS.name, where={"ds": [D1]}).count() == 3 * appended
    assert DeltaTable(str(lake.path(EVENTS.name))).to_pyarrow_table().num_rows == 3 * appended + 4
    assert lake.read(EVENTS.name, version=2).count() == 4 + 3  # before the checkpoint
    lake.overwrite(events(spark, D1, 5, tag="after"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read(EVENTS.name, where={"ds": [D1]})) == fingerprint(events(spark, D1, 5, tag="after"))
    assert lake.read(EVENTS.name, where={"ds": [D2]}).count() == 4


@pytest.mark.backend("embedded")
def test_table_with_a_newer_writer_protocol_is_refused_before_writing(spark, lake):
    """A table another writer upgraded (change data feed: writer version 4) is not written by delta-rs commits.
    (delta-spark writes such tables: the native backend is the answer this error gives.)"""
    lake.overwrite(events(spark, D1, 5), EVENTS, partitions={"ds": [D1]})
    path = lake.path(EVENTS.name)
    DeltaTable(str(path)).alter.set_table_properties({"delta.enableChangeDataFeed": "true"})
    version, files = lake.version(EVENTS.name), sorted(p.name for p in path.rglob("*.parquet"))
    rows = pa.Table.from_pylist([r.asDict() for r in events(spark, D2, 2).collect()])
    with pytest.raises(UnsupportedTableError, match="writer version 4"):
        lake.overwrite(events(spark, D2, 3), EVENTS, partitions={"ds": [D2]})
    with pytest.raises(UnsupportedTableError, match="writer version 4"):
        lake.append_rows(rows, EVENTS)
    assert lake.version(EVENTS.name) == version
    assert sorted(p.name for p in path.rglob("*.parquet")) == files  # not even staged
    assert lake.read(EVENTS.name).count() == 5


@pytest.mark.backend("embedded")
def test_crash_before_commit_leaves_previous_version(spark, lake, monkeypatch):
    """A crash never half-writes (an injected exception): files written, log not; rerun works; full vacuum removes orphans.
    (The hook is delta-rs's commit call; both backends meet a real SIGKILL in test_concurrency.)"""
    lake.overwrite(events(spark, D1, tag="good"), EVENTS, partitions={"ds": [D1]})
    good, version = fingerprint(lake.read("test.events")), lake.version("test.events")

    def crash(*_args, **_kwargs):
        raise RuntimeError("injected: process died before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(DeltaTable, "create_write_transaction", crash)
        with pytest.raises(RuntimeError, match="injected"):
            lake.overwrite(events(spark, D1, 99, tag="lost"), EVENTS, partitions={"ds": [D1]})

    assert lake.version("test.events") == version
    assert fingerprint(lake.read("test.events")) == good
    assert DeltaTable(str(lake.path("test.events"))).to_pyarrow_table().num_rows == good[0]
    orphans = lake.vacuum("test.events", retention_hours=0, dry_run=True)
    assert orphans and all(o.endswith(".parquet") for o in orphans)

    lake.overwrite(events(spark, D1, 7, tag="rerun"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == fingerprint(events(spark, D1, 7, tag="rerun"))
    removed = lake.vacuum("test.events", retention_hours=0, dry_run=False)
    assert set(orphans) <= set(removed)
    live = set(pa.table(DeltaTable(str(lake.path("test.events"))).get_add_actions()).column("path").to_pylist())
    on_disk = {p.relative_to(lake.path("test.events")).as_posix() for p in lake.path("test.events").rglob("*.parquet")}
    assert on_disk == live


def test_empty_input_is_refused_and_partition_kept(spark, lake):
    """An empty input never wipes a partition."""
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    before, version, files = fingerprint(lake.read("test.events")), lake.version("test.events"), _data_files(lake)
    with pytest.raises(EmptyWriteError, match="no rows"):
        lake.overwrite(events(spark, D1).limit(0), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == before
    assert lake.version("test.events") == version
    assert _data_files(lake) == files  # the refused write left nothing behind

    lake.overwrite(events(spark, D1).limit(0), EVENTS, partitions={"ds": [D1]}, allow_empty=True)
    assert lake.read("test.events").count() == 0


def test_rows_outside_the_partition_are_rejected(spark, lake):
    """Rows outside the partitions being replaced are refused."""
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    before, version, files = fingerprint(lake.read("test.events")), lake.version("test.events"), _data_files(lake)
    stray = events(spark, D1, 5).unionByName(events(spark, D2, 3))
    with pytest.raises(PartitionViolationError, match="ds=2024-02-01"):
        lake.overwrite(stray, EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == before
    assert lake.version("test.events") == version
    _assert_nothing_left(lake, files)


@pytest.mark.parametrize(
    ("mutate", "column"),
    [
        (lambda df: df.withColumn("extra", df.id), "extra"),
        (lambda df: df.withColumn("value", df.value.cast("string")), "value"),
        (lambda df: df.withColumnRenamed("name", "Name"), "Name"),
        (lambda df: df.drop("value"), "value"),
    ],
    ids=["extra-column", "changed-type", "case-only-rename", "missing-column"],
)
def test_schema_drift_is_a_clear_error_and_no_commit(spark, lake, mutate, column):
    """Schema drift is a named error."""
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    version, files = lake.version("test.events"), _data_files(lake)
    with pytest.raises(SchemaMismatchError, match=f"'{column}'"):
        lake.overwrite(mutate(events(spark, D1)), EVENTS, partitions={"ds": [D1]})
    assert lake.version("test.events") == version
    assert _data_files(lake) == files  # checked before anything was written


def test_existing_table_with_other_schema_is_refused(spark, lake):
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    changed = TableSpec(
        name="test.events", schema=EVENTS.schema.set(2, pa.field("name", pa.int64())), partition_by=("ds",)
    )
    with pytest.raises(SchemaMismatchError, match="'name'"):
        lake.create(changed)


def test_partition_selection_is_validated(spark, lake):
    df = events(spark, D1)
    with pytest.raises(InvalidParameterError, match="full-table overwrite"):
        lake.overwrite(df, EVENTS)
    with pytest.raises(InvalidParameterError, match="not a partition column"):
        lake.overwrite(df, EVENTS, partitions={"id": [1]})
    with pytest.raises(InvalidParameterError, match="date values"):
        lake.overwrite(df, EVENTS, partitions={"ds": ["2024-01-01' OR '1'='1"]})
    assert not lake.exists("test.events") or lake.version("test.events") == 0


def test_unpartitioned_table_overwrite_and_append(spark, lake):
    spec = TableSpec(name="test.flat", schema=pa.schema([("k", pa.string()), ("n", pa.int64())]))
    lake.overwrite(spark.createDataFrame([("a", 1), ("b", 2)], spec.spark_schema), spec)
    lake.overwrite(spark.createDataFrame([("c", 3)], spec.spark_schema), spec)
    lake.append(spark.createDataFrame([("d", 4)], spec.spark_schema), spec)
    assert sorted(r.k for r in lake.read("test.flat").collect()) == ["c", "d"]
    with pytest.raises(InvalidParameterError, match="not partitioned"):
        lake.overwrite(spark.createDataFrame([("e", 5)], spec.spark_schema), spec, partitions={"k": ["e"]})


def test_missing_table_is_a_clear_error(lake):
    with pytest.raises(TableNotFoundError, match="test.nothing"):
        lake.read("test.nothing")


def test_history_records_lakeops_metadata(spark, lake):
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]}, metadata={"job": "unit", "run_id": "r1"})
    last = lake.history("test.events", limit=1)[0]
    assert last["lakeops.job"] == "unit" and last["lakeops.run_id"] == "r1"
    assert last["lakeops.rows"] == 50 and last["lakeops.partitions"] == "ds in [2024-01-01]"


def test_table_reads_identically_through_deltalake_alone(spark, lake):
    """Any Delta reader reads our tables: another Delta reader sees the same rows, and the log is well-formed."""
    lake.overwrite(events(spark, D1, 30).unionByName(events(spark, D2, 20)), EVENTS, partitions={"ds": [D1, D2]})
    lake.overwrite(events(spark, D2, 25, tag="b"), EVENTS, partitions={"ds": [D2]})

    path = lake.path("test.events")
    arrow = DeltaTable(str(path)).to_pyarrow_table()
    assert arrow.schema.names == EVENTS.schema.names
    via_rs = sorted(tuple(map(_utc_naive, row.values())) for row in arrow.to_pylist())
    via_spark = sorted(tuple(map(_utc_naive, row.asDict().values())) for row in lake.read("test.events").collect())
    assert via_rs == via_spark and len(via_rs) == 55

    # delta-spark 4.4 also keeps partition columns inside its data files (readers take the log's values).
    _check_log(path, partition_columns=["ds"], in_files_allowed=lake.backend_name == "native")


@pytest.mark.slow  # delta-spark beside delta-rs
def test_a_table_written_by_one_backend_reads_and_writes_the_same_through_the_other(spark, settings, lake_root):
    """Both backends share one table: each reads what the other committed, at every version,
    and an overwrite by one replaces the other's partition."""
    from dataclasses import replace

    from lakeops.lake import open_lake

    lakes = {b: open_lake(spark, replace(settings.lake, root=str(lake_root), backend=b)) for b in ("embedded", "native")}
    lakes["embedded"].overwrite(events(spark, D1, 30, tag="e"), EVENTS, partitions={"ds": [D1]})
    lakes["native"].overwrite(events(spark, D2, 20, tag="n"), EVENTS, partitions={"ds": [D2]})
    lakes["native"].overwrite(events(spark, D1, 7, tag="n2"), EVENTS, partitions={"ds": [D1]})
    lakes["embedded"].append_rows(event_rows(D3, 4, tag="e2"), EVENTS)
    for version in range(lakes["embedded"].version(EVENTS.name) + 1):
        seen = {b: fingerprint(lake.read(EVENTS.name, version=version)) for b, lake in lakes.items()}
        assert seen["embedded"] == seen["native"], f"version {version}"
    by_day = lambda lake: sorted(lake.partitions(EVENTS.name), key=lambda p: p["ds"])  # noqa: E731
    assert by_day(lakes["embedded"]) == by_day(lakes["native"]) == [{"ds": D1}, {"ds": D2}, {"ds": D3}]
    assert fingerprint(lakes["native"].read(EVENTS.name, where={"ds": [D1]})) == fingerprint(events(spark, D1, 7, tag="n2"))
    assert lakes["embedded"].read_arrow(EVENTS.name).num_rows == 7 + 20 + 4


def _utc_naive(value):
    """Spark returns naive datetimes in the session zone (UTC); Arrow returns aware ones."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _check_log(path, *, partition_columns, in_files_allowed=False):
    """The checks a Delta reader makes on a log, and that files match what it says."""
    logs = sorted((path / "_delta_log").glob("*.json"))
    assert [int(p.stem) for p in logs] == list(range(len(logs))), "versions must be contiguous from 0"
    live: dict[str, dict] = {}
    protocol = metadata = None
    for log in logs:
        actions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        assert any("commitInfo" in a for a in actions)
        for action in actions:
            (kind, body), = action.items()
            if kind == "protocol":
                protocol = body
            elif kind == "metaData":
                metadata = body
            elif kind == "add":
                live[body["path"]] = body
            elif kind == "remove":
                live.pop(body["path"], None)
    assert protocol == {"minReaderVersion": 1, "minWriterVersion": 2}
    assert metadata["partitionColumns"] == partition_columns
    schema_fields = [f["name"] for f in json.loads(metadata["schemaString"])["fields"]]
    for rel, add in live.items():
        file = path / rel
        assert file.is_file() and file.stat().st_size == add["size"]
        assert set(add["partitionValues"]) == set(partition_columns)
        parquet = pq.ParquetFile(file)
        stats = json.loads(add["stats"])
        assert stats["numRecords"] == parquet.metadata.num_rows
        file_columns = parquet.schema_arrow.names
        if not in_files_allowed:
            assert not set(partition_columns) & set(file_columns), "partition columns are not stored in files"
        assert set(file_columns) <= set(schema_fields)
        for f in parquet.schema_arrow:
            if pa.types.is_timestamp(f.type):
                assert f.type.unit == "us", "timestamps must be INT64 micros, not INT96"
        for col, lo in stats.get("minValues", {}).items():
            if not pa.types.is_integer(parquet.schema_arrow.field(col).type):
                continue  # delta-spark also logs (truncated) string and timestamp bounds; integers are exact
            values = [v for v in parquet.read(columns=[col]).column(col).to_pylist() if v is not None]
            assert min(values) == lo and max(values) == stats["maxValues"][col]


def test_append_rows_without_spark_matches_a_spark_append(spark, lake):
    """append_rows (pyarrow files + delta-rs commit) gives what a Spark append of the same rows gives."""
    from lakeops.lake.base import Lake

    rows = events(spark, D1, 5).unionByName(events(spark, D2, 3, offset=5))
    arrow = pa.Table.from_pylist([r.asDict() for r in rows.collect()])
    first = lake.append_rows(arrow, EVENTS, metadata={"job": "test"})
    assert first.rows == 8 and set(first.partitions) == {f"ds={D1}", f"ds={D2}"}
    assert fingerprint(lake.read(EVENTS.name)) == fingerprint(rows)
    assert DeltaTable(str(lake.path(EVENTS.name))).to_pyarrow_table().num_rows == 8

    portable = type("PortableLake", (type(lake),), {"_append_rows": Lake._append_rows})(spark, lake.root)
    portable.append_rows(arrow, EVENTS)
    assert lake.read(EVENTS.name).count() == 16

    version = lake.version(EVENTS.name)
    with pytest.raises(SchemaMismatchError, match="lack column"):
        lake.append_rows(arrow.drop_columns(["value"]), EVENTS)
    assert lake.version(EVENTS.name) == version


def test_partitions_read_back_under_a_root_with_a_space_and_an_accent(spark, settings, tmp_path, backend):
    """A read is one Parquet scan whose rows get their partition values from the log by file path
    (as Spark reports it, URI-quoted): under a root whose name holds a space and a
    non-ASCII letter, two partition columns that vary independently come back exactly."""
    from dataclasses import replace

    from lakeops.lake import open_lake

    lake = open_lake(spark, replace(settings.lake, root=str(tmp_path / "my lake é"), backend=backend))
    spec = TableSpec("test.spelled", pa.schema([("id", pa.int32()), ("ds", pa.date32()), ("tag", pa.string())]),
                     partition_by=("ds", "tag"))
    tags = ["gold", "silver_2", "x"]
    rows = [(i, d, tag) for i, (d, tag) in enumerate((d, t) for d in (D1, D2) for t in tags)]
    lake.overwrite(spark.createDataFrame(rows, "id int, ds date, tag string"), spec,
                   partitions={"ds": [D1, D2], "tag": tags})
    got = sorted(tuple(r) for r in lake.read("test.spelled").collect())
    assert got == sorted(rows)
    one = lake.read("test.spelled", where={"ds": [D2], "tag": ["gold", "x"]}).collect()
    assert sorted(tuple(r) for r in one) == sorted(r for r in rows if r[1] == D2 and r[2] in ("gold", "x"))


def test_spark_file_path_quotes_as_hadoop_does(spark):
    """The read's file-to-partition map is keyed the way Spark's ``_metadata.file_path`` spells a path."""
    from lakeops.lake.embedded import spark_file_path

    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path
    for uri in ("file:/tmp/a b/c%d/ds=2024-01-01/x.parquet", "file:/tmp/é ü/[x]{y}|z^`\"<>#?/p",
                "s3a://bucket/pre fix/k=v%2F/part-0.parquet", "file:/tmp/tab\there;:@&=+$,!~*'()"):
        assert spark_file_path(uri) == hadoop_path(uri).toUri().toString()


def test_reduce_partitions_folds_every_batch_the_same_on_the_driver_and_in_tasks(spark, lake, monkeypatch):
    """A reduction's partial results merge to the same sums whether tasks read the row groups or (a
    few rows, embedded backend) the driver does; checked against the rows' own sums."""
    from lakeops.lake import Scan, embedded

    lake.overwrite_rows(pa.concat_tables([event_rows(D1, 30), event_rows(D2, 20, offset=30)]), EVENTS,
                        partitions={"ds": [D1, D2]})
    lake.overwrite_rows(event_rows(D3, 10, offset=50), EVENTS, partitions={"ds": [D3]})

    def fold(table, batch, partition, columns):
        values = batch.column("value").to_pylist()
        return {(partition["ds"], c): (len(values), sum(values)) for c in columns}

    def merge(a, b):
        return {k: tuple(x + y for x, y in zip(a.get(k, (0, 0)), b.get(k, (0, 0)), strict=True)) for k in {*a, *b}}

    scan = Scan("test.events", where={"ds": [D1, D2]}, columns=("value",))
    expected = {(D1, "value"): (30, sum(i * 1.5 for i in range(30))),
                (D2, "value"): (20, sum(i * 1.5 for i in range(30, 50)))}
    assert lake.reduce_partitions([scan], fold, merge) == expected
    monkeypatch.setattr(embedded, "LOCAL_REDUCE_ROWS", 0)  # every reduction in Spark tasks
    assert lake.reduce_partitions([scan], fold, merge) == expected
    assert lake.reduce_partitions([Scan("test.events", where={"ds": [date(2025, 1, 1)]}, columns=("value",))],
                                  fold, merge) is None
