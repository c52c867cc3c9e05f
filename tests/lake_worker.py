"""A separate writer process for the crash and concurrency promises of docs/reliability.md.

    python tests/lake_worker.py --lake DIR --name A --plan PLAN.json [--sync DIR]

The plan is a JSON list of writes to ``test.events``, done in order, each
``{"op": "overwrite" | "overwrite_rows" | "append_rows", "ds": "2024-01-01", "tag": "a",
"n": 50, "hold": false, "kill": false}``: ``overwrite`` goes through Spark (a session
starts only when the plan has one), the other two through Arrow as bookkeeping writes do.

``hold``: at its first commit attempt the write touches ``<sync>/<i>.<name>.ready``
and waits for ``<sync>/<i>.<name>.go``: the test holds both writers of a race right
before their commits, after both have read the table, and releases them together or
one after the other. ``kill``: the process SIGKILLs itself at that moment instead
(data files written, log not). Each write's outcome goes to ``<sync>/<i>.<name>.json``.

``--backend native``: delta-spark commits inside the JVM, where no Python hook reaches,
so ``hold`` stops the write before it starts (both writers then read the table at about
the same moment), and ``kill`` SIGKILLs the process while the write's Spark job runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deltalake
from lakedata import EVENTS, event_rows, events

from lakeops.config import load_settings
from lakeops.errors import LakeopsError
from lakeops.lake import open_lake

WAIT_S = 600  # a hang guard, not a timing assertion


def _hold_commits(sync: Path, name: str) -> dict:
    """Wrap delta-rs's commit so that a write marked ``hold`` or ``kill`` stops at its first attempt."""
    state = {"write": None, "mode": None}
    commit = deltalake.DeltaTable.create_write_transaction

    def held(self, *args, **kwargs):
        i, mode = state["write"], state["mode"]
        state["mode"] = None  # retries of the same write go straight through
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hold":
            _wait_to_go(sync, i, name)
        return commit(self, *args, **kwargs)

    deltalake.DeltaTable.create_write_transaction = held
    return state


def _wait_to_go(sync: Path, i: int, name: str) -> None:
    (sync / f"{i}.{name}.ready").touch()
    go = sync / f"{i}.{name}.go"
    deadline = time.monotonic() + WAIT_S
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"write {i}: nobody released it")
        time.sleep(0.01)


def _killed_while_writing(spark, data, marker: Path):
    """``data`` behind a task that blocks after touching ``marker``; a thread SIGKILLs this
    process once the marker is there, so the job dies with its write under way."""
    import threading

    def block_second(batches):
        from pyspark import TaskContext

        for batch in batches:
            if TaskContext.get().partitionId() == 1:
                marker.touch()
                time.sleep(WAIT_S)
            yield batch

    def kill_when_writing():
        deadline = time.monotonic() + WAIT_S
        while not marker.exists():
            if time.monotonic() > deadline:  # the write never started: the job's own error ends the process
                return
            time.sleep(0.01)
        time.sleep(1.0)  # the other task runs on meanwhile
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill_when_writing, daemon=True).start()
    return data.mapInArrow(block_second, data.schema)  # spark.range under local[2]: two partitions


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--plan", required=True, type=Path)
    parser.add_argument("--sync", type=Path)
    parser.add_argument("--backend", default="embedded", choices=["embedded", "native"])
    args = parser.parse_args()
    plan = json.loads(args.plan.read_text())
    sync = args.sync or args.plan.parent
    sync.mkdir(parents=True, exist_ok=True)

    native = args.backend == "native"
    settings = load_settings(conf_dir=Path(__file__).resolve().parents[1] / "conf", env="test",
                             overrides=[f"spark.master=local[{2 if native else 1}]", f"lake.backend={args.backend}"],
                             lake_root=args.lake)
    spark = None
    if native or any(w["op"] == "overwrite" for w in plan):
        from lakeops.lake.storage import is_object_store
        from lakeops.spark import get_session

        spark = get_session(settings.spark, delta=native, s3=is_object_store(args.lake))
    lake = open_lake(spark, settings.lake)
    state = _hold_commits(sync, args.name)

    for i, write in enumerate(plan):
        ds, tag, n = date.fromisoformat(write["ds"]), write["tag"], write.get("n", 50)
        if write["op"] == "overwrite":
            data = events(spark, ds, n, tag=tag).cache()
            data.count()
        else:
            data = event_rows(ds, n, tag=tag)
        state["write"], state["mode"] = i, "kill" if write.get("kill") else "hold" if write.get("hold") else None
        if native and state["mode"] == "hold":
            _wait_to_go(sync, i, args.name)
        if native and state["mode"] == "kill":
            data = _killed_while_writing(spark, data, sync / f"{i}.{args.name}.writing")
        outcome: dict = {"tag": tag}
        try:
            if write["op"] == "overwrite":
                result = lake.overwrite(data, EVENTS, partitions={"ds": [ds]}, metadata={"tag": tag})
            elif write["op"] == "overwrite_rows":
                result = lake.overwrite_rows(data, EVENTS, partitions={"ds": [ds]}, metadata={"tag": tag})
            else:
                result = lake.append_rows(data, EVENTS, metadata={"tag": tag})
            outcome.update(ok=True, version=result.version, rows=result.rows)
        except LakeopsError as exc:
            outcome.update(ok=False, error=type(exc).__name__, message=str(exc))
        # Written whole, then renamed: the test polls for this name and reads it at once.
        partial = sync / f".{i}.{args.name}.json.tmp"
        partial.write_text(json.dumps(outcome))
        partial.rename(sync / f"{i}.{args.name}.json")
        if write["op"] == "overwrite":
            data.unpersist()
    if spark is not None:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
