"""A separate process that writes one partition of test.events (the crash and concurrency promises of docs/reliability.md).

    python tests/lake_worker.py --lake DIR --ds 2024-01-01 --tag a [--barrier DIR --parties 2] [--kill-at-commit]

With ``--barrier`` it waits until ``--parties`` workers are ready (Spark started,
data built) so their commits collide. With ``--kill-at-commit`` it SIGKILLs
itself at the moment delta-rs would commit: the data files are written, the log
is not. Prints one JSON line with the write result.
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

from lakedata import EVENTS, events

from lakeops.config import load_settings
from lakeops.lake import open_lake
from lakeops.spark import get_session


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--ds", required=True, type=date.fromisoformat)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--barrier")
    parser.add_argument("--parties", type=int, default=2)
    parser.add_argument("--kill-at-commit", action="store_true")
    args = parser.parse_args()

    settings = load_settings(conf_dir=Path(__file__).resolve().parents[1] / "conf", env="test",
                             overrides=["spark.master=local[1]"], lake_root=args.lake)
    spark = get_session(settings.spark)
    lake = open_lake(spark, settings.lake)
    df = events(spark, args.ds, args.n, tag=args.tag).cache()
    df.count()

    if args.kill_at_commit:
        import deltalake

        def die(*_a, **_k):
            os.kill(os.getpid(), signal.SIGKILL)

        deltalake.DeltaTable.create_write_transaction = die

    if args.barrier:
        barrier = Path(args.barrier)
        barrier.mkdir(parents=True, exist_ok=True)
        (barrier / args.tag).touch()
        deadline = time.monotonic() + 180
        while len(list(barrier.iterdir())) < args.parties:
            if time.monotonic() > deadline:
                raise SystemExit("barrier timed out")
            time.sleep(0.05)

    result = lake.overwrite(df, EVENTS, partitions={"ds": [args.ds]}, metadata={"tag": args.tag})
    print(json.dumps({"tag": args.tag, "version": result.version, "rows": result.rows}), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
