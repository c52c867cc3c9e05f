"""``lakeops maintain`` over a lakehouse's tables: what it decides (pure) and what it does (an embedded lake)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pyarrow as pa
import pytest
from lakedata import EVENTS, event_rows

from lakeops.config import MaintenanceConfig
from lakeops.errors import CommitConflictError, InvalidParameterError
from lakeops.lake import TableSpec
from lakeops.upkeep import maintain
from lakeops.upkeep.maintain import log_retention_needed, retention_days

LOG = TableSpec(name="test.log", schema=pa.schema([("id", pa.int64()), ("note", pa.string())]))
DAY_MS = 86_400_000


def test_partition_retention_counts_back_from_the_runs_day_and_is_checked_first():
    cfg = MaintenanceConfig(partition_retention_days={"test.events": 30})
    assert retention_days(cfg, [EVENTS, LOG], ds=date(2024, 3, 31)) == {"test.events": date(2024, 3, 1)}
    assert retention_days(MaintenanceConfig(), [EVENTS], ds=None) == {}  # off by default
    with pytest.raises(InvalidParameterError, match="give --ds"):
        retention_days(cfg, [EVENTS], ds=None)
    with pytest.raises(InvalidParameterError, match="'test.log', which is not a lakehouse table partitioned by ds"):
        retention_days(MaintenanceConfig(partition_retention_days={"test.log": 5}), [EVENTS, LOG], ds=date(2024, 1, 1))


def test_log_retention_stretches_in_whole_steps_to_reach_a_version_a_model_needs():
    cfg = MaintenanceConfig(log_retention_days=30)
    now = 400 * DAY_MS
    assert log_retention_needed(cfg, oldest_kept_ms=None, now_ms=now) == 30
    assert log_retention_needed(cfg, oldest_kept_ms=now - 3 * DAY_MS, now_ms=now) == 30
    assert log_retention_needed(cfg, oldest_kept_ms=now - 29 * DAY_MS, now_ms=now) == 30
    assert log_retention_needed(cfg, oldest_kept_ms=now - 30 * DAY_MS, now_ms=now) == 60
    assert log_retention_needed(cfg, oldest_kept_ms=now - 200 * DAY_MS, now_ms=now) == 210


@pytest.fixture
def lake(spark, settings, tmp_path):
    from lakeops.lake import open_lake

    return open_lake(spark, replace(settings.lake, root=str(tmp_path / "lake"), backend="embedded"))


def _week_of_small_writes(lake, start: date, days: int = 7) -> None:
    for i in range(days):
        d = start + timedelta(days=i)
        lake.overwrite_rows(event_rows(d, 10), EVENTS, partitions={"ds": [d]})
        lake.append_rows(pa.table({"id": [i], "note": [f"day {i}"]}), LOG)


def test_maintain_compacts_checkpoints_drops_old_partitions_and_keeps_lineage(lake):
    start = date(2024, 1, 1)
    _week_of_small_writes(lake, start)
    pinned = lake.version("test.events")
    lake.overwrite_rows(event_rows(start, 10, tag="again"), EVENTS, partitions={"ds": [start]})
    cfg = MaintenanceConfig(vacuum_retention_hours=0, partition_retention_days={"test.events": 3})
    ds = start + timedelta(days=6)

    dry = maintain(lake, [EVENTS, LOG, replace(LOG, name="test.absent")], cfg=cfg, lineage={}, ds=ds, dry_run=True)
    assert [t.table for t in dry.tables] == ["test.events", "test.log"]  # tables not made yet are left alone
    assert dry.tables[0].dropped == tuple(start + timedelta(days=i) for i in range(3))
    assert lake.file_count("test.log") == 7 and len(lake.partitions("test.events")) == 7  # nothing changed

    result = maintain(lake, [EVENTS, LOG], cfg=cfg, lineage={"test.events": {pinned}}, ds=ds)
    events_done, log_done = result.tables
    assert events_done.dropped == dry.tables[0].dropped
    assert sorted(p["ds"] for p in lake.partitions("test.events")) == [start + timedelta(days=i) for i in range(3, 7)]
    assert (log_done.files_before, log_done.files_after, log_done.compacted) == (7, 1, 7)
    assert lake.read_arrow("test.log").num_rows == 7
    assert log_done.log_replayed == 0 and events_done.log_replayed == 0
    # The lineage's version still reads in full by time travel, after a vacuum with no retention.
    assert events_done.kept_versions == (pinned,)
    old = lake.read_arrow("test.events", version=pinned)
    assert old.num_rows == 70 and set(old["name"].to_pylist()) == {f"a-{i}" for i in range(10)}
    assert "delta.logRetentionDuration" not in lake.properties("test.events")  # the default reaches it: no commit
    assert "test.events: files" in events_done.describe() and "keeps v" in events_done.describe()


def test_a_step_a_writer_wins_is_skipped_and_the_rest_goes_on(lake, monkeypatch):
    _week_of_small_writes(lake, date(2024, 1, 1), days=3)

    def lose(name, **_):
        raise CommitConflictError(f"{name}: a writer committed first")

    monkeypatch.setattr(lake, "compact", lose)
    result = maintain(lake, [LOG], cfg=MaintenanceConfig(vacuum_retention_hours=0), lineage={})
    (done,) = result.tables
    assert done.skipped and "compaction" in done.skipped[0] and done.files_after == 3
    assert done.log_replayed == 0  # the checkpoint still ran
