"""Benchmark: ``Lake.overwrite`` against a plain partitioned Parquet write.

What is measured
----------------
One Spark session (``get_session`` with the base config, ``local[*]``) builds a
deterministic DataFrame of ``--rows`` rows (default 2,000,000) that matches the
``raw.telemetry`` contract for a single ``ds``. It is cached and counted first,
so generating the data is never timed. The script then alternates, for
``--repeats`` rounds (after one untimed warm-up of each):

(a) ``lake.overwrite(df, TELEMETRY, partitions={"ds": [day]})``: the whole
    lakeops write path: schema conformance, Spark writing Parquet into a private
    write folder, reading the new files' footers for stats, and the delta-rs
    commit that replaces the partition (plus the history lookup of the version);
(b) ``df.write.mode("overwrite").partitionBy("ds").parquet(dir)``: what Spark
    alone costs for the same data and layout, with no transaction log.

It prints each run's wall-clock seconds, the medians and the ratio
median(a) / median(b), and compares the ratio with the goal (at most 1.3x:
the Delta commit may cost at most 30% over a bare Parquet write). The same
figures are written as JSON to ``bench/results/lake_overwrite.json`` (git-ignored).

Between lake runs the table is vacuumed (untimed) so that replaced files do not
pile up on disk; every lake run therefore replaces one live partition, as a
daily job's rerun would.

How to run
----------
``make bench`` runs ``.venv/bin/python bench/lake_overwrite.py``. Directly::

    .venv/bin/python bench/lake_overwrite.py [--rows 2000000] [--repeats 3] [--lake DIR]

``--lake`` defaults to a fresh temporary folder that is removed afterwards; a
folder given explicitly is kept (the lake and the plain copy live under it).
Expect a few minutes on a laptop; the ratio, not the absolute time, is the figure
to compare between machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

GOAL_RATIO = 1.3
DAY = date(2024, 1, 1)
RESULTS = Path(__file__).resolve().parent / "results" / "lake_overwrite.json"


def telemetry_frame(spark, rows: int, day: date):
    """``rows`` deterministic telemetry rows for ``day``, in TELEMETRY's column order and types."""
    from pyspark.sql import functions as F

    def pick(values: list[str], seed: int):
        # A seeded uniform draw turned into an index into a fixed list.
        arr = F.array(*[F.lit(v) for v in values])
        idx = (F.floor(F.rand(seed) * len(values)) + 1).cast("int")
        return F.element_at(arr, idx)

    def uniform(seed: int, lo: float, hi: float):
        return F.rand(seed) * (hi - lo) + lo

    def count(seed: int, high: int):
        return F.floor(F.rand(seed) * high).cast("bigint")

    return spark.range(rows).select(
        F.lit(day).cast("date").alias("ds"),
        F.format_string("host-%08d", F.col("id")).alias("host_id"),
        pick(["us-east", "us-west", "eu-west", "eu-central", "ap-south"], 1).alias("region"),
        pick(["gold", "silver", "bronze"], 2).alias("service_tier"),
        pick(["ubuntu-22.04", "ubuntu-24.04", "rhel-9", "debian-12"], 3).alias("os_version"),
        uniform(4, 0.0, 100.0).alias("cpu_util_pct"),
        uniform(5, 0.0, 100.0).alias("mem_util_pct"),
        uniform(6, 0.0, 100.0).alias("disk_util_pct"),
        uniform(7, 0.0, 1000.0).alias("net_in_mbps"),
        uniform(8, 0.0, 1000.0).alias("net_out_mbps"),
        uniform(9, 1.0, 500.0).alias("latency_p95_ms"),
        count(10, 50).alias("error_count"),
        count(11, 3).alias("restart_count"),
        uniform(12, 0.0, 200.0).alias("gc_pause_ms"),
        count(13, 5000).alias("open_connections"),
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in the written partition")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each write")
    parser.add_argument("--lake", default=None, help="working folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)
    if args.rows <= 0 or args.repeats <= 0:
        parser.error("--rows and --repeats must be positive")

    from lakeops.config import load_settings
    from lakeops.lake import open_lake
    from lakeops.lake.tables import TELEMETRY
    from lakeops.spark import get_session

    temp = args.lake is None
    work = Path(tempfile.mkdtemp(prefix="lakeops-bench-")) if temp else Path(args.lake).resolve()
    work.mkdir(parents=True, exist_ok=True)
    lake_root = work / "lake"
    plain_dir = work / "plain" / "telemetry"

    settings = load_settings(lake_root=str(lake_root))
    spark = get_session(settings.spark)
    try:
        lake = open_lake(spark, settings.lake)
        df = telemetry_frame(spark, args.rows, DAY).cache()
        t_gen = timed(df.count)
        partitions = df.rdd.getNumPartitions()
        print(
            f"master {spark.sparkContext.master}, {spark.sparkContext.defaultParallelism} cores; "
            f"{args.rows:,} rows in {partitions} partitions generated and cached in {t_gen:.1f}s"
        )

        results: dict[str, list[float]] = {"lake": [], "plain": []}
        last_write = None

        def run_lake() -> None:
            nonlocal last_write
            last_write = lake.overwrite(df, TELEMETRY, partitions={"ds": [DAY]})

        def run_plain() -> None:
            df.write.mode("overwrite").partitionBy("ds").parquet("file:" + plain_dir.as_posix())

        def tidy() -> None:
            # Untimed: drop the files the last overwrite replaced.
            lake.vacuum(TELEMETRY.name, retention_hours=0, dry_run=False)

        warm = {"lake": timed(run_lake), "plain": timed(run_plain)}
        tidy()
        print(f"warm-up: lake {warm['lake']:.2f}s, plain {warm['plain']:.2f}s (not counted)")
        for i in range(args.repeats):
            results["lake"].append(timed(run_lake))
            tidy()
            results["plain"].append(timed(run_plain))
            print(f"run {i + 1}: lake {results['lake'][-1]:.2f}s, plain {results['plain'][-1]:.2f}s")

        rows_read = lake.read(TELEMETRY.name, where={"ds": [DAY]}).count()
        if rows_read != args.rows:
            raise SystemExit(f"sanity check failed: the lake holds {rows_read} rows for {DAY}, wrote {args.rows}")

        med_lake = statistics.median(results["lake"])
        med_plain = statistics.median(results["plain"])
        ratio = med_lake / med_plain
        met = ratio <= GOAL_RATIO

        print()
        print(f"{'run':>6} {'lake (s)':>10} {'plain (s)':>10}")
        for i, (a, b) in enumerate(zip(results["lake"], results["plain"], strict=True), 1):
            print(f"{i:>6} {a:>10.2f} {b:>10.2f}")
        print(f"{'median':>6} {med_lake:>10.2f} {med_plain:>10.2f}")
        print()
        print(
            f"ratio lake/plain = {ratio:.2f}x (goal <= {GOAL_RATIO}x): {'MET' if met else 'NOT MET'}; "
            f"last lake write: version {last_write.version}, {last_write.files} file(s)"
        )

        report = {
            "benchmark": "lake_overwrite",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": args.rows,
            "repeats": args.repeats,
            "input_partitions": partitions,
            "master": spark.sparkContext.master,
            "cores": spark.sparkContext.defaultParallelism,
            "spark_version": spark.version,
            "python": platform.python_version(),
            "machine": platform.platform(),
            "generate_s": round(t_gen, 3),
            "warmup_s": {k: round(v, 3) for k, v in warm.items()},
            "lake_s": [round(v, 3) for v in results["lake"]],
            "plain_s": [round(v, 3) for v in results["plain"]],
            "median_lake_s": round(med_lake, 3),
            "median_plain_s": round(med_plain, 3),
            "ratio": round(ratio, 3),
            "goal_ratio": GOAL_RATIO,
            "goal_met": met,
            "last_write": {"version": last_write.version, "rows": last_write.rows, "files": last_write.files},
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {RESULTS}")
        df.unpersist()
    finally:
        spark.stop()
        if temp:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
