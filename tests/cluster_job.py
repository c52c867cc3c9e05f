"""Driver run by ``tests/test_cluster.py`` against a Spark standalone master.

It runs in its own process because a process can hold only one SparkContext and
the pytest process may already own a local one. It writes two dates of
``raw.telemetry`` through ``lake.overwrite``, reads them back through
``lake.read``, checks which JVMs ran the tasks, and prints one JSON line::

    .venv/bin/python tests/cluster_job.py --master spark://127.0.0.1:7077 --lake /tmp/lake
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from datetime import date
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
DATES = (date(2024, 1, 1), date(2024, 1, 2))


def telemetry(spark, day: date, rows: int, offset: int):
    """``rows`` deterministic rows for ``day`` in raw.telemetry's columns and types."""
    from pyspark.sql import functions as F

    idx = F.col("id")
    return spark.range(offset, offset + rows, numPartitions=4).select(
        F.lit(day).cast("date").alias("ds"),
        F.format_string("host-%06d", idx).alias("host_id"),
        F.element_at(F.array(F.lit("us-east"), F.lit("eu-west")), (idx % 2 + 1).cast("int")).alias("region"),
        F.element_at(F.array(F.lit("gold"), F.lit("silver"), F.lit("bronze")), (idx % 3 + 1).cast("int")).alias(
            "service_tier"
        ),
        F.lit("debian-12").alias("os_version"),
        (F.rand(1) * 100).alias("cpu_util_pct"),
        (F.rand(2) * 100).alias("mem_util_pct"),
        (F.rand(3) * 100).alias("disk_util_pct"),
        (F.rand(4) * 1000).alias("net_in_mbps"),
        (F.rand(5) * 1000).alias("net_out_mbps"),
        (F.rand(6) * 500).alias("latency_p95_ms"),
        (idx % 7).alias("error_count"),
        (idx % 2).alias("restart_count"),
        (F.rand(7) * 200).alias("gc_pause_ms"),
        (idx % 1000).alias("open_connections"),
    )


def _task_jvm(_rows):
    """Yield (pid, main class of the nearest JVM ancestor) of the Python worker running this task."""
    pid = os.getpid()
    found = None
    probe = pid
    for _ in range(6):  # worker -> daemon -> JVM, with some slack
        try:
            stat = Path(f"/proc/{probe}/stat").read_text()
            probe = int(stat.rsplit(")", 1)[1].split()[1])  # field 4: ppid
            cmd = Path(f"/proc/{probe}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            break
        if cmd and cmd[0].endswith(b"java"):
            classes = [c.decode() for c in cmd if c.startswith(b"org.apache.spark.")]
            found = {"jvm_pid": probe, "main_class": classes[0] if classes else None}
            break
    yield {"python_pid": pid, "jvm": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lake round trip on a Spark standalone cluster")
    parser.add_argument("--master", required=True, help="e.g. spark://127.0.0.1:7077")
    parser.add_argument("--lake", required=True, help="lake root (visible to the executors)")
    parser.add_argument("--rows", type=int, default=3000, help="rows for the first date (the second gets more)")
    parser.add_argument("--backend", default="embedded", choices=["embedded", "native"])
    args = parser.parse_args(argv)

    # get_session binds to loopback only for local masters; the test cluster listens on 127.0.0.1.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from deltalake import DeltaTable

    from lakeops.config import load_settings
    from lakeops.lake import open_lake
    from lakeops.lake.tables import TELEMETRY
    from lakeops.spark import get_session

    settings = load_settings(conf_dir=CONF_DIR, env="test", lake_root=args.lake,
                             overrides=[f"lake.backend={args.backend}"])
    spark_cfg = dataclasses.replace(
        settings.spark,
        master=args.master,
        app_name="lakeops-cluster-test",
        driver_memory="1g",
        conf={
            **settings.spark.conf,
            "spark.executor.memory": "1g",
            "spark.cores.max": "2",
            "spark.driver.host": "127.0.0.1",
        },
    )
    # spark.jars reach the executors too: the native backend's Delta classes run there.
    spark = get_session(spark_cfg, delta=args.backend == "native")
    try:
        sc = spark.sparkContext
        lake = open_lake(spark, settings.lake)
        counts = {DATES[0]: args.rows, DATES[1]: args.rows + 1234}
        writes = []
        offset = 0
        for day, n in counts.items():
            result = lake.overwrite(telemetry(spark, day, n, offset), TELEMETRY, partitions={"ds": [day]})
            writes.append(dataclasses.asdict(result))
            offset += n
        read_total = lake.read(TELEMETRY.name).count()
        read_by_date = {
            day.isoformat(): lake.read(TELEMETRY.name, where={"ds": [day]}).count() for day in DATES
        }
        hosts_distinct = lake.read(TELEMETRY.name).select("host_id").distinct().count()

        tasks = sc.parallelize(range(4), 4).mapPartitions(_task_jvm).collect()
        memory_status = sc._jsc.sc().getExecutorMemoryStatus()
        infos = sc._jsc.sc().statusTracker().getExecutorInfos()
        out = {
            "master": sc.master,
            "backend": lake.backend_name,
            "driver_pid": os.getpid(),
            "app_id": sc.applicationId,
            "block_managers": int(memory_status.size()),
            "executor_endpoints": sorted(f"{i.host()}:{i.port()}" for i in infos),
            "task_jvms": tasks,
            "writes": writes,
            "rows_written": sum(counts.values()),
            "rows_by_date": {d.isoformat(): n for d, n in counts.items()},
            "rows_read": read_total,
            "rows_read_by_date": read_by_date,
            "hosts_distinct": hosts_distinct,
            "table_path": str(lake.path(TELEMETRY.name)),
            "delta_version": DeltaTable(str(lake.path(TELEMETRY.name))).version(),
        }
    finally:
        spark.stop()
    jvms = [t["jvm"] for t in tasks if t["jvm"]]
    out["checks"] = {
        "rows_read_equal_written": read_total == sum(counts.values()),
        "rows_by_date_equal": read_by_date == out["rows_by_date"],
        "executor_block_managers": out["block_managers"] > 1,
        # Read from /proc; None where there is no /proc to read (not Linux).
        "tasks_in_executor_jvms": (
            len(jvms) == len(tasks)
            and all(j["main_class"] == "org.apache.spark.executor.CoarseGrainedExecutorBackend" for j in jvms)
            if Path("/proc/self/stat").exists()
            else None
        ),
    }
    print(json.dumps(out, sort_keys=True), flush=True)
    return 0 if all(v is not False for v in out["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
