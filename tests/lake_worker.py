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
            (sync / f"{i}.{name}.ready").touch()
            go = sync / f"{i}.{name}.go"
            deadline = time.monotonic() + WAIT_S
            while not go.exists():
                if time.monotonic() > deadline:
                    raise SystemExit(f"write {i}: nobody released the commit")
                time.sleep(0.01)
        return commit(self, *args, **kwargs)

    deltalake.DeltaTable.create_write_transaction = held
    return state


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--plan", required=True, type=Path)
    parser.add_argument("--sync", type=Path)
    args = parser.parse_args()
    plan = json.loads(args.plan.read_text())
    sync = args.sync or args.plan.parent
    sync.mkdir(parents=True, exist_ok=True)

    settings = load_settings(conf_dir=Path(__file__).resolve().parents[1] / "conf", env="test",
                             overrides=["spark.master=local[1]"], lake_root=args.lake)
    spark = None
    if any(w["op"] == "overwrite" for w in plan):
        from lakeops.spark import get_session

        spark = get_session(settings.spark)
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
        (sync / f"{i}.{args.name}.json").write_text(json.dumps(outcome))
        if write["op"] == "overwrite":
            data.unpersist()
    if spark is not None:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
