"""Maintenance operations of the lake on both backends (docs/reliability.md R29, R30): compaction that
changes no row and loses to concurrent writers, checkpoints, vacuum that keeps the versions asked for."""

from __future__ import annotations

from datetime import date

import pytest
from lakedata import EVENTS, event_rows, events, fingerprint

from lakeops.errors import CommitConflictError

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
MB = 1024 * 1024


def _small_files(lake, n: int = 4) -> None:
    """``n`` appends per partition: a table of many small files, as a log table gets."""
    for i in range(n):
        for ds in (D1, D2):
            lake.append_rows(event_rows(ds, 10, offset=100 * i, tag=f"t{i}"), EVENTS)


def test_compaction_rewrites_small_files_and_changes_no_row(spark, lake):
    _small_files(lake)
    before, files = fingerprint(lake.read("test.events")), lake.file_count("test.events")
    assert files >= 8  # a file per append and partition at least (delta-spark may write one per task)
    version = lake.version("test.events")
    assert lake.compact("test.events", target_bytes=64 * MB) == files
    assert lake.version("test.events") == version + 1
    assert lake.file_count("test.events") == 2  # one per partition
    assert fingerprint(lake.read("test.events")) == before
    assert lake.history("test.events", limit=1)[0]["lakeops.operation"] == "compact"
    # Nothing left to compact: no commit.
    assert lake.compact("test.events", target_bytes=64 * MB) == 0
    assert lake.version("test.events") == version + 1


@pytest.mark.backend("embedded")
def test_a_compaction_that_read_before_a_writer_committed_fails_and_changes_nothing(spark, lake, monkeypatch):
    """The compaction's handle is pinned to the version before the overwrite (the window, forced);
    delta-rs's conflict check refuses its commit (it would bring the replaced rows back)."""
    _small_files(lake)
    stale = lake._delta("test.events")
    lake.overwrite(events(spark, D1, 7, tag="new"), EVENTS, partitions={"ds": [D1]})
    after = fingerprint(lake.read("test.events"))
    version = lake.version("test.events")
    monkeypatch.setattr(lake, "_delta", lambda name, version=None: stale)
    with pytest.raises(CommitConflictError, match="compaction committed nothing"):
        lake.compact("test.events", target_bytes=64 * MB)
    monkeypatch.undo()
    assert lake.version("test.events") == version
    assert fingerprint(lake.read("test.events")) == after


@pytest.mark.backend("embedded")
def test_an_overwrite_whose_partition_was_compacted_meanwhile_still_replaces_it_exactly(spark, lake, monkeypatch):
    """A compaction commits between the overwrite's read and its commit (forced: it runs once the
    overwrite's files are staged). It changed no row, so the overwrite lands, and replaces the
    compacted files: the partition holds the overwrite's rows, once."""
    from lakeops.lake.embedded import EmbeddedLake

    _small_files(lake)
    stage = EmbeddedLake._stage

    def stage_then_compact(self, df, spec, target):
        staged = stage(self, df, spec, target)
        assert self.compact("test.events", target_bytes=64 * MB) == 8
        return staged

    monkeypatch.setattr(EmbeddedLake, "_stage", stage_then_compact)
    result = lake.overwrite(events(spark, D1, 7, tag="new"), EVENTS, partitions={"ds": [D1]})
    monkeypatch.undo()
    assert result.version == lake.version("test.events")
    got = lake.read("test.events")
    assert fingerprint(got.where("ds = date'2024-01-01'")) == fingerprint(events(spark, D1, 7, tag="new"))
    assert got.where("ds = date'2024-01-02'").count() == 40


def test_a_checkpoint_means_opening_reads_no_json_commit(spark, lake):
    _small_files(lake, 3)
    before = fingerprint(lake.read("test.events"))
    on_disk, _ = lake.log_entries("test.events")
    assert on_disk == 7  # the create and six appends
    version = lake.checkpoint("test.events")
    assert version == lake.version("test.events")
    assert lake.log_entries("test.events") == (7, 0)  # young entries stay (the log retention), none is replayed
    assert fingerprint(lake.read("test.events")) == before


def test_vacuum_keeps_every_file_of_the_versions_asked_for(spark, lake):
    lake.overwrite(events(spark, D1, 30, tag="v1"), EVENTS, partitions={"ds": [D1]})
    kept = lake.version("test.events")
    lake.overwrite(events(spark, D1, 30, tag="v2"), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D1, 30, tag="v3"), EVENTS, partitions={"ds": [D1]})
    old = fingerprint(events(spark, D1, 30, tag="v1"))
    lake.vacuum("test.events", retention_hours=0, dry_run=False, keep_versions=[kept])
    assert fingerprint(lake.read("test.events", version=kept)) == old  # still readable by time travel
    assert fingerprint(lake.read("test.events")) == fingerprint(events(spark, D1, 30, tag="v3"))
    if lake.backend_name == "embedded":
        # delta-rs keeps exactly the versions asked for: v2's files went.
        assert not {f for f in lake.vacuum("test.events", retention_hours=0, dry_run=True, keep_versions=[kept])
                    if "v1" in f}
    lake.vacuum("test.events", retention_hours=0, dry_run=False)
    with pytest.raises(Exception):  # noqa: B017 - each backend words a missing data file its own way
        lake.read("test.events", version=kept).collect()
