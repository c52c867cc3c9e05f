"""The write-conflict rule (lakeops.lake.conflicts) and the commit loop around it, without Spark.

The forced races between processes are in test_concurrency.py; here the rule is a
pure function of log actions, and one in-process race shows the loop that applies it.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError
from lakedata import EVENTS, event_rows

from lakeops.errors import CommitConflictError, DataRefusedError
from lakeops.lake import PartitionSelection, TableSpec
from lakeops.lake.conflicts import find_conflict, read_commits
from lakeops.lake.embedded import EmbeddedLake

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
BY_REGION = TableSpec(
    name="test.by_region",
    schema=pa.schema([("ds", pa.date32()), ("region", pa.string()), ("x", pa.int64())]),
    partition_by=("ds", "region"),
)
CHANGED = "version 7 changed the table's schema or protocol"
FLAT = TableSpec(name="test.flat", schema=pa.schema([("x", pa.int64())]), partition_by=())


def _file(kind: str, **values: str | None) -> dict:
    return {kind: {"path": "p.parquet", "partitionValues": values, "dataChange": True}}


def _info() -> dict:
    return {"commitInfo": {"operation": "WRITE"}}


def _day(spec: TableSpec, *days: date) -> PartitionSelection:
    return PartitionSelection.build(spec, {"ds": list(days)})


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([_info(), _file("add", ds="2024-01-01")], "version 7 added a file in ds=2024-01-01"),
        ([_info(), _file("remove", ds="2024-01-01")], "version 7 removed a file in ds=2024-01-01"),
        ([_info(), _file("add", ds="2024-01-02"), _file("remove", ds="2024-01-02")], None),
        ([_info(), {"txn": {"appId": "x", "version": 1}}], None),
        ([_info(), {"metaData": {"id": "t"}}], CHANGED),
        ([_info(), {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}], CHANGED),
    ],
)
def test_an_overwrite_conflicts_with_files_added_or_removed_in_its_partitions(actions, expected):
    assert find_conflict([(7, actions)], EVENTS, _day(EVENTS, D1)) == expected


def test_the_first_conflicting_commit_is_named():
    commits = [(3, [_file("add", ds="2024-01-05")]), (4, [_file("add", ds="2024-01-02")]), (5, [_file("add", ds="2024-01-01")])]
    assert find_conflict(commits, EVENTS, _day(EVENTS, D1, D2)) == "version 4 added a file in ds=2024-01-02"
    assert find_conflict(commits, EVENTS, _day(EVENTS, date(2024, 1, 9))) is None
    assert find_conflict([], EVENTS, _day(EVENTS, D1)) is None


def test_a_selection_on_some_partition_columns_covers_all_their_values():
    selection = _day(BY_REGION, D1)
    assert find_conflict([(1, [_file("add", ds="2024-01-01", region="eu")])], BY_REGION, selection)
    assert find_conflict([(1, [_file("add", ds="2024-01-02", region="eu")])], BY_REGION, selection) is None
    narrow = PartitionSelection.build(BY_REGION, {"ds": [D1], "region": ["us"]})
    assert find_conflict([(1, [_file("add", ds="2024-01-01", region="eu")])], BY_REGION, narrow) is None
    assert find_conflict([(1, [_file("add", ds="2024-01-01", region=None)])], BY_REGION, narrow) is None


def test_an_unpartitioned_overwrite_conflicts_with_any_file():
    selection = PartitionSelection.build(FLAT, None)
    assert find_conflict([(2, [_file("add")])], FLAT, selection) == "version 2 added a file in the table"


def test_an_append_conflicts_only_with_a_schema_or_protocol_change():
    files = [(1, [_file("add", ds="2024-01-01"), _file("remove", ds="2024-01-01")])]
    assert find_conflict(files, EVENTS, None) is None
    assert find_conflict([(1, [{"metaData": {}}])], EVENTS, None) == "version 1 changed the table's schema or protocol"


def test_delta_rs_without_retries_commits_only_on_top_of_the_version_it_read(tmp_path):
    """The commit loop relies on this: with max_commit_retries=0 a handle behind the log never commits."""
    lake = EmbeddedLake(None, tmp_path)
    lake.append_rows(event_rows(D1, 3), EVENTS)
    stale = DeltaTable(str(lake.path("test.events")))
    lake.append_rows(event_rows(D2, 3), EVENTS)
    with pytest.raises(CommitFailedError):
        stale.create_write_transaction([], "append", EVENTS.schema, partition_by=["ds"],
                                       commit_properties=CommitProperties(max_commit_retries=0))
    assert DeltaTable(str(lake.path("test.events"))).version() == 2


@pytest.mark.parametrize("partition", ["new", "existing"])
def test_an_overwrite_that_loses_the_race_fails_and_leaves_nothing(tmp_path, monkeypatch, partition):
    """B reads the table, A overwrites the same partition, then B commits: B fails with the lake's
    own error naming table and partition, its files are gone, and its rerun gives exactly its rows."""
    lake = EmbeddedLake(None, tmp_path)
    if partition == "existing":
        lake.overwrite_rows(event_rows(D1, 5, tag="old"), EVENTS, partitions={"ds": [D1]})
    lake.append_rows(event_rows(D2, 5, tag="other"), EVENTS)  # a disjoint commit
    commit = DeltaTable.create_write_transaction
    calls = []

    def a_commits_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # B is about to commit: A's whole write lands first
            monkeypatch.setattr(DeltaTable, "create_write_transaction", commit)
            lake.overwrite_rows(event_rows(D1, 7, tag="a"), EVENTS, partitions={"ds": [D1]})
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "create_write_transaction", a_commits_first)
    version = lake.version("test.events")
    with pytest.raises(CommitConflictError) as refused:
        lake.overwrite_rows(event_rows(D1, 9, tag="b"), EVENTS, partitions={"ds": [D1]})
    assert "test.events" in str(refused.value) and "ds=2024-01-01" in str(refused.value)
    assert not issubclass(CommitConflictError, DataRefusedError), "a lost race is worth a retry (exit code 1)"

    path = lake.path("test.events")
    assert DeltaTable(str(path)).version() == version + 1  # A's commit only
    names = lake.read_arrow("test.events", where={"ds": [D1]}).column("name").to_pylist()
    assert sorted(names) == sorted(f"a-{i}" for i in range(7))
    log = read_commits(lake.storage, str(path), after=-1, upto=version + 1)
    added = {a["add"]["path"] for _, actions in log for a in actions if "add" in a}
    assert {p.relative_to(path).as_posix() for p in path.rglob("*.parquet")} <= added

    lake.overwrite_rows(event_rows(D1, 9, tag="b"), EVENTS, partitions={"ds": [D1]})
    names = lake.read_arrow("test.events", where={"ds": [D1]}).column("name").to_pylist()
    assert sorted(names) == sorted(f"b-{i}" for i in range(9))


def test_appends_racing_an_overwrite_of_another_partition_both_land(tmp_path, monkeypatch):
    lake = EmbeddedLake(None, tmp_path)
    lake.append_rows(event_rows(D1, 2, tag="base"), EVENTS)
    commit = DeltaTable.create_write_transaction

    def other_commits_first(self, *args, **kwargs):
        monkeypatch.setattr(DeltaTable, "create_write_transaction", commit)
        lake.overwrite_rows(event_rows(D2, 4, tag="a"), EVENTS, partitions={"ds": [D2]})
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "create_write_transaction", other_commits_first)
    result = lake.append_rows(event_rows(D1, 3, tag="b", offset=10), EVENTS)
    assert result.version == 3  # after the racing overwrite, found by a second attempt
    assert lake.read_arrow("test.events").num_rows == 2 + 4 + 3
