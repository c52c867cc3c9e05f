"""Runs the lake layer through the native delta-spark backend in its own process.

Exit code 3 with a reason on stderr when the Delta jars cannot be loaded (they
come from Maven Central, which some machines cannot reach). Otherwise prints
one JSON line of observations for tests/lake/test_native.py.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lakedata import EVENTS, events, fingerprint

from lakeops.config import load_settings
from lakeops.errors import EmptyWriteError, PartitionViolationError, SchemaMismatchError
from lakeops.lake import open_lake
from lakeops.spark import get_session, has_delta

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)


def main() -> int:
    lake_root = sys.argv[1]
    settings = load_settings(conf_dir=Path(__file__).resolve().parents[1] / "conf", env="test", lake_root=lake_root)
    try:
        spark = get_session(settings.spark, delta=True)
    except Exception as exc:  # the JVM could not fetch or load the jars
        print(f"delta-spark session failed to start: {str(exc).splitlines()[0][:300]}", file=sys.stderr)
        return 3
    if not has_delta(spark):
        print("delta-spark jars are not on the session's classpath", file=sys.stderr)
        return 3
    lake = open_lake(spark, replace(settings.lake, backend="native"))
    out: dict[str, object] = {}
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D2), EVENTS, partitions={"ds": [D2]})
    before = fingerprint(lake.read("test.events"))
    lake.overwrite(events(spark, D1), EVENTS, partitions={"ds": [D1]})
    out["rerun_identical"] = fingerprint(lake.read("test.events")) == before
    for name, call, error in [
        ("empty", lambda: lake.overwrite(events(spark, D1).limit(0), EVENTS, partitions={"ds": [D1]}), EmptyWriteError),
        ("outside", lambda: lake.overwrite(events(spark, D2), EVENTS, partitions={"ds": [D1]}), PartitionViolationError),
        ("schema", lambda: lake.overwrite(events(spark, D1).withColumn("x", events(spark, D1).id), EVENTS,
                                          partitions={"ds": [D1]}), SchemaMismatchError),
    ]:
        try:
            call()
            out[name] = "no error"
        except error:
            out[name] = "raised"
    out["unchanged_after_errors"] = fingerprint(lake.read("test.events")) == before
    out["rows"] = lake.read("test.events", where={"ds": [D1]}).count()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
