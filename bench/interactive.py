"""Benchmark: what a person waits for at the keyboard (the speed claims the tests no longer make).

What is measured
----------------
1. ``lakeops sql`` from process start to exit, as a user runs it, over a week of
   generated ``raw.telemetry`` (built once, untimed): the default DuckDB engine
   against ``--engine spark`` (the peer: the same query through a Spark session).
   The figure is the ratio of their medians; the tests only check that the
   default engine imports no pyspark or mlflow.
2. Airflow parsing ``dags/`` (a ``DagBag`` in a fresh process): the parse alone,
   beside the import of Airflow itself that every parse pays first.
3. ``lakeops.synth.telemetry`` for one day of 1,000,000 hosts, in process: rows
   per second (a per-row Python loop would show as a drop of two orders).

Each is run ``--repeats`` times (default 3) after one untimed warm-up; medians are
printed and written as JSON to ``bench/results/interactive.json`` (git-ignored).

How to run
----------
``make bench`` runs it; directly::

    .venv/bin/python bench/interactive.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results" / "interactive.json"
BIN = Path(sys.executable).parent
QUERY = "select ds, count(*) as n, avg(latency_p95_ms) as latency from raw.telemetry group by ds order by ds"

PARSE = """
import sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import BundleDagBag
imported = time.perf_counter()
folder = sys.argv[1]
bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
parsed = time.perf_counter()
assert not bag.import_errors, bag.import_errors
print(imported - started, parsed - imported)
"""


def _wall(cmd: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=PROJECT, **kwargs)
    return time.perf_counter() - started


def _median(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up: file caches, compiled bytecode
    runs = [fn() for _ in range(repeats)]
    return statistics.median(runs), runs


def bench_sql(repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lakeops-bench-") as lake:
        subprocess.run([str(BIN / "lakeops"), "--lake", lake, "-q", "generate", "--start", "2024-01-01",
                        "--end", "2024-01-07", "--hosts", "2000"], check=True, cwd=PROJECT)
        base = [str(BIN / "lakeops"), "--lake", lake, "-q", "sql", QUERY]
        duck, duck_runs = _median(lambda: _wall(base), repeats)
        spark, spark_runs = _median(lambda: _wall([*base, "--engine", "spark"]), repeats)
    return {"duckdb_s": duck, "spark_s": spark, "spark_over_duckdb": spark / duck,
            "duckdb_runs": duck_runs, "spark_runs": spark_runs}


def bench_parse(repeats: int) -> dict:
    env_airflow = {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}

    def once() -> tuple[float, float]:
        with tempfile.TemporaryDirectory(prefix="airflow-home-") as home:
            done = subprocess.run([sys.executable, "-c", PARSE, str(PROJECT / "dags")], check=True, capture_output=True,
                                  text=True, env={"PATH": str(BIN), "AIRFLOW_HOME": home, **env_airflow})
        imported, parsed = map(float, done.stdout.strip().splitlines()[-1].split())
        return imported, parsed

    once()
    runs = [once() for _ in range(repeats)]
    return {"airflow_import_s": statistics.median(r[0] for r in runs),
            "dagbag_parse_s": statistics.median(r[1] for r in runs)}


def bench_synth(repeats: int) -> dict:
    from lakeops.synth import synth

    hosts = 1_000_000

    def once() -> float:
        started = time.perf_counter()
        rows = sum(synth.telemetry(seed=1, block=b, day=date(2024, 1, 1), hosts=hosts, rows_per_day=hosts).num_rows
                   for b in synth.blocks(hosts))
        if rows != hosts:
            raise RuntimeError(f"expected {hosts} rows, got {rows}")
        return time.perf_counter() - started

    seconds, runs = _median(once, repeats)
    return {"hosts": hosts, "seconds": seconds, "rows_per_s": hosts / seconds, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sql = bench_sql(args.repeats)
    print(f"lakeops sql, start to exit: DuckDB {sql['duckdb_s']:.2f} s, --engine spark {sql['spark_s']:.2f} s "
          f"(spark / duckdb = {sql['spark_over_duckdb']:.1f}x)")
    parse = bench_parse(args.repeats)
    print(f"Airflow: import {parse['airflow_import_s']:.2f} s, then DagBag of dags/ {parse['dagbag_parse_s'] * 1000:.0f} ms")
    synth = bench_synth(args.repeats)
    print(f"synth: one day of {synth['hosts']:,} hosts in {synth['seconds']:.2f} s ({synth['rows_per_s']:,.0f} rows/s)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"sql": sql, "dag_parse": parse, "synth": synth}, indent=1))
    print(f"wrote {RESULTS.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
