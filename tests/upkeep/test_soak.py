"""Two weeks of the daily cycle with weekly maintenance (R31 in the suite; `bench/soak.py` runs the year).

Starts from the 0.1.0 lakehouse of ``tests/fixtures/lakes/`` (upgraded, with its champion), so the
weeks run on a lake an earlier release wrote. Asserts what maintenance bounds, never times: right
after each weekly run every partition of every table is one file, opening a table reads no JSON
commit (but for the maintenance run's own row in ml.job_runs), and no data file is left on disk
that the table's versions (or a model's lineage) do not need.
"""

from __future__ import annotations

import json
import tarfile
from datetime import date, timedelta
from pathlib import Path

import pytest

from lakeops import stages
from lakeops.config import load_settings
from lakeops.demo import daily_cycle
from lakeops.lake.snapshot import log_entries, open_snapshot, table_names
from lakeops.lake.storage import storage_for

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "lakes"
DAYS, EVERY = 14, 7


def _lake_state(root: Path) -> dict[str, dict]:
    storage = storage_for(str(root))
    state = {}
    for name in table_names(storage):
        snap = open_snapshot(storage, name)
        files = snap.files()
        cols = snap.spec.partition_by
        per_partition: dict[tuple, int] = {}
        for f in files:
            key = tuple(f.partition[c] for c in cols)
            per_partition[key] = per_partition.get(key, 0) + 1
        _, replayed = log_entries(storage, snap.uri)
        on_disk = {p.relative_to(snap.uri).as_posix() for p in Path(snap.uri).rglob("*.parquet")
                   if "_delta_log" not in p.parts}
        state[name] = {"files": len(files), "max_per_partition": max(per_partition.values(), default=0),
                       "replayed": replayed, "on_disk": len(on_disk),
                       "live": {f.path for f in files}, "disk": on_disk}
    return state


def test_weeks_with_weekly_maintenance_keep_files_and_log_bounded(tmp_path, spark):
    meta = json.loads((FIXTURES / "lakeops-0.1.0.json").read_text())
    with tarfile.open(FIXTURES / "lakeops-0.1.0.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "lakehouse"
    settings = load_settings(conf_dir=PROJECT / "conf", env="test", lake_root=str(root),
                             overrides=["maintenance.vacuum_retention_hours=0"])
    stages.run_upgrade(settings)
    plan = meta["plan"]
    drift_start = date.fromisoformat(meta["first_day"]) + timedelta(days=plan["drift_day"] - 1)
    last = date.fromisoformat(meta["last_day"])
    weeks = []
    for i in range(1, DAYS + 1):
        day = last + timedelta(days=i)
        daily_cycle(settings, meta["model"], day, hosts=plan["hosts"], seed=plan["seed"], drift_start=drift_start)
        if i % EVERY == 0:
            result = stages.run_maintain(settings, ds=day)
            assert result.job_run_id and all(not t.skipped for t in result.tables)
            weeks.append(_lake_state(root))

    lineage = {t.table: t.kept_versions for t in result.tables if t.kept_versions}
    assert set(lineage) == {f"features.{meta['model']}"}  # the registered versions' training data
    for week in weeks:
        for name, s in week.items():
            # ml.job_runs gets the maintenance run's own row after the run: one file and commit more.
            extra = 1 if name == "ml.job_runs" else 0
            assert s["max_per_partition"] == 1 + extra, f"{name}: a partition of several files after compaction"
            # (That commit is replayed, unless it was the tenth since the last checkpoint and made one.)
            assert s["replayed"] <= extra, f"{name}: opening it replays JSON commits after a checkpoint"
            if name not in lineage:
                assert s["disk"] == s["live"], f"{name}: files on disk that no version needs"
    # The unpartitioned log stays two files however many runs it records; the rest grow by partitions only.
    first, final = weeks[0], weeks[-1]
    assert final["ml.job_runs"]["files"] == first["ml.job_runs"]["files"] == 2
    grown = final["predictions.incident_risk"]["files"] - first["predictions.incident_risk"]["files"]
    assert grown == DAYS // EVERY * EVERY - EVERY  # one file per new day
