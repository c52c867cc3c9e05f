"""Benchmark: ``lakeops score`` against ``mlflow.pyfunc.spark_udf`` and a single-process ceiling.

What is measured
----------------
One Spark session (``get_session`` with the base config, ``local[*]``) and a
temporary lake. A feature table ``features.bench_score`` gets one ``ds``
partition per size (0.5M, 1M, 2M, 4M and 8M rows by default: 20 numeric
features with a few % nulls, two categorical ones, a ``host_id`` key), written
through the lake. A 100-tree, depth-6 XGBoost model trained on 200k of those
rows is logged to the lake's MLflow registry (lakeops metadata, UBJSON) and
made ``champion``. Then, Delta in and Delta out, after ``WARMUP_RUNS`` untimed
runs of each path on a small partition (the first starts the Python workers and
loads the model and the compiled kernel; the next ones let one-time work after a
worker's first task, such as its first garbage collection and the JVM's
compilation of the job path, finish outside the timed runs):

(a) lakeops: ``lakeops.score.run.score(..., force=True)``: loads the champion from
    the registry, checks the inputs, and replaces the ``predictions.<model>``
    partition (tasks read the feature files with pyarrow and write prediction
    files; one Delta commit).
(b) spark_udf: ``mlflow.pyfunc.spark_udf(spark, "models:/bench_score@champion",
    env_manager="local")`` over the partition read through the lake (the model
    encodes the raw feature columns itself), with the same output columns written
    through ``lake.overwrite`` into a second table.
(c) ceiling: one process, no Spark: the partition's files (from the Delta log)
    read with pyarrow, encoded, ``inplace_predict`` with every core, and the
    same columns written with ``pyarrow.parquet.write_table``. (lakeops itself
    predicts with :mod:`lakeops.score.forest`, so it can beat this ceiling.)

At 2M rows each path runs ``--repeats`` times (medians compared). Goals:
(a) at least 4x faster than (b); (a)'s throughput at least 0.6 of (c)'s.
For every size, (a)'s seconds per row (median of ``--repeats`` runs: the first
run at a new size also pays for the workers' first use of larger buffers, 0.1-0.25 s
here, a cost of the process rather than of the rows) are reported; goal: within +-25% of their median from 0.5M to 8M rows. Around
the 8M runs the peak resident memory of the
driver (the Python process and the Spark driver JVM, which in local mode also
hosts the executors) is reset and read back from ``/proc`` (Linux); goal:
under 2 GiB. The size series runs in a fresh process, so neither the data
generation nor spark_udf's work counts against the JVM's memory. Besides the
time per row, the marginal cost per row (the slope from the smallest to the
largest run), the fixed cost per run, and the cost of each further row from one
size to the next (with their spread: flat when nothing but the work grows with
the input) are reported.

Figures go to stdout and to ``bench/results/score_throughput.json``.

    .venv/bin/python bench/score_throughput.py [--sizes 500000 1000000 2000000 4000000 8000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote

import numpy as np

MODEL = "bench_score"
N_NUMERIC = 20
CATEGORIES = {"tier": ["gold", "silver", "bronze"], "zone": [f"z{i}" for i in range(8)]}
FEATURES = [*[f"f{i}" for i in range(N_NUMERIC)], *CATEGORIES]
COMPARE_ROWS = 2_000_000
WARMUP_RUNS = 3
GOALS = {"vs_spark_udf": 4.0, "of_ceiling": 0.6, "per_row_spread": 0.25, "driver_rss_gib": 2.0}
RESULTS = Path(__file__).resolve().parent / "results" / "score_throughput.json"
FIRST_DAY = date(2024, 1, 1)


def features_spec():
    import pyarrow as pa

    from lakeops.lake import TableSpec

    fields = [("ds", pa.date32()), ("host_id", pa.string())]
    fields += [(f"f{i}", pa.float64()) for i in range(N_NUMERIC)]
    fields += [(c, pa.string()) for c in CATEGORIES]
    return TableSpec(name=f"features.{MODEL}", schema=pa.schema(fields), partition_by=("ds",))


def write_partition(spark, lake, rows: int, day: date, seed: int) -> None:
    from pyspark.sql import functions as F

    spec = features_spec()
    cols = [F.lit(day).alias("ds"), F.format_string("h%09d", F.col("id")).alias("host_id")]
    for i in range(N_NUMERIC):
        value = F.randn(seed + i) * (1 + i % 3) + i % 5
        cols.append(F.when(F.rand(seed + 100 + i) < 0.02, None).otherwise(value).alias(f"f{i}"))
    for j, (name, values) in enumerate(CATEGORIES.items()):
        # One value in 50 is unseen at training time ("new"), one in 50 null.
        pick = (F.rand(seed + 200 + j) * (len(values) + 2)).cast("int")
        options = F.array(*[F.lit(v) for v in [*values, "new"]], F.lit(None).cast("string"))
        cols.append(F.element_at(options, pick + 1).alias(name))
    df = spark.range(rows).select(*cols)
    lake.overwrite(df, spec, partitions={"ds": [day]})


def register_model(lake, day: date) -> None:
    """Train on 200k rows of ``day`` single-node and register the model as champion."""
    import mlflow
    import xgboost

    from lakeops import registry
    from lakeops.config import MlflowConfig
    from lakeops.evaluate.calibration import Platt
    from lakeops.evaluate.encoding import encode_arrow

    table = _arrow_partition(lake, day).slice(0, 200_000)
    x = encode_arrow(table.combine_chunks().to_batches()[0], FEATURES, CATEGORIES)
    logit = np.nan_to_num(x[:, 0]) * 0.8 - np.nan_to_num(x[:, 3]) * 0.5 + (x[:, N_NUMERIC] == 0) - 2.5
    y = (np.random.default_rng(0).random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "tree_method": "hist"},
                            xgboost.DMatrix(x, label=y, missing=np.nan), num_boost_round=100)
    registry.setup(MlflowConfig(), lake.root)
    with mlflow.start_run(experiment_id=registry.experiment_for(MODEL, lake.root)):
        version = registry.log_model(booster, model_name=MODEL, example=table.slice(0, 5).to_pandas()[FEATURES],
                                     threshold=0.5, features=FEATURES, categories=CATEGORIES, calibration=Platt())
    registry.set_alias(MODEL, registry.CHAMPION, version)


def _partition_files(lake, day: date) -> list[str]:
    import pyarrow as pa
    from deltalake import DeltaTable

    root = lake.path(f"features.{MODEL}")
    actions = pa.table(DeltaTable(str(root)).get_add_actions(flatten=True)).to_pydict()
    return [str(root / unquote(p)) for p, d in zip(actions["path"], actions["partition.ds"], strict=True) if d == day]


def _arrow_partition(lake, day: date):
    import pyarrow.dataset as pads

    return pads.dataset(_partition_files(lake, day), format="parquet").to_table(columns=["host_id", *FEATURES])


def run_lakeops(lake, day: date) -> float:
    from lakeops.config import FeaturesConfig, MlflowConfig, ModelConfig, SourcesConfig
    from lakeops.score.run import score

    model = ModelConfig(name=MODEL, entity_keys=("host_id",), sources=SourcesConfig("raw.a", "raw.b"), label="y",
                        features=FeaturesConfig(sql="unused.sql"))
    t0 = time.perf_counter()
    score(lake, model, days=[day], mlflow_cfg=MlflowConfig(), force=True)
    return time.perf_counter() - t0


def run_spark_udf(spark, lake, day: date) -> float:
    import mlflow
    from pyspark.sql import functions as F

    from lakeops import registry

    t0 = time.perf_counter()
    loaded = registry.load(MODEL, alias=registry.CHAMPION)  # threshold, version, run id
    udf = mlflow.pyfunc.spark_udf(spark, f"models:/{MODEL}@{registry.CHAMPION}", result_type="double",
                                  env_manager="local")
    spec = lake.spec(f"predictions.{MODEL}")
    out_spec = type(spec)(name=f"predictions.{MODEL}_spark_udf", schema=spec.schema, partition_by=spec.partition_by)
    df = lake.read(f"features.{MODEL}", where={"ds": [day]})  # the pyfunc model encodes raw rows itself
    scored = df.select("ds", "host_id", udf(*FEATURES).alias("score")).select(
        "ds", F.lit(MODEL).alias("model_name"), F.lit(loaded.version).alias("model_version"), "host_id", "score",
        (F.col("score") >= loaded.threshold).cast("int").alias("prediction"),
        F.lit(loaded.run_id).alias("mlflow_run_id"))
    lake.overwrite(scored, out_spec, partitions={"ds": [day]})
    return time.perf_counter() - t0


def run_ceiling(lake, day: date, out_dir: Path) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakeops import registry
    from lakeops.evaluate.encoding import encode_arrow
    from lakeops.score.batch import constant_array

    loaded = registry.load(MODEL, alias=registry.CHAMPION)
    booster = loaded.booster
    booster.set_param({"nthread": os.cpu_count() or 1})
    t0 = time.perf_counter()
    table = _arrow_partition(lake, day)
    x = encode_arrow(table.combine_chunks().to_batches()[0], FEATURES, CATEGORIES)
    scores = booster.inplace_predict(x)
    out = pa.table({"model_version": pa.array(np.full(len(scores), loaded.version, np.int32)),
                    "host_id": table.column("host_id"), "score": pa.array(scores.astype(np.float64)),
                    "prediction": pa.array((scores >= loaded.threshold).astype(np.int32)),
                    "mlflow_run_id": constant_array(loaded.run_id, len(scores))})
    pq.write_table(out, out_dir / f"ceiling-{day}.parquet")
    return time.perf_counter() - t0


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM (peak RSS) on Linux


def _peak_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM")


def scaling_child(lake_root: str, sizes: list[int], repeats: int) -> dict:
    """In a fresh process (its own JVM): lakeops score at every size (median of ``repeats``); peak RSS at the largest."""
    from lakeops.config import LakeConfig, load_settings
    from lakeops.lake import open_lake
    from lakeops.spark import get_session

    spark = get_session(load_settings().spark)
    jvm_pid = spark.sparkContext._gateway.proc.pid  # the driver JVM pyspark launched
    lake = open_lake(spark, LakeConfig(root=lake_root))
    days = partition_days(sizes)
    for _ in range(WARMUP_RUNS):
        run_lakeops(lake, FIRST_DAY)
    seconds = {}
    for n in sizes:
        runs = []
        for _ in range(repeats):
            if n == max(sizes):
                _reset_peak(os.getpid())
                _reset_peak(jvm_pid)
            runs.append(run_lakeops(lake, days[n]))
        seconds[n] = statistics.median(runs)
        print(f"lakeops {n:>10,} rows: {seconds[n]:6.2f}s  {seconds[n] / n * 1e6:.3f} us/row  "
              f"(runs {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    out = {"seconds": seconds, "python_peak_gib": _peak_gib(os.getpid()), "jvm_peak_gib": _peak_gib(jvm_pid)}
    spark.stop()
    return out


def partition_days(sizes: list[int]) -> dict[int, date]:
    return {n: FIRST_DAY + timedelta(days=i + 1) for i, n in enumerate(sorted(sizes))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000])
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per path at 2M rows, and lakeops runs per size in the scaling run (medians)")
    parser.add_argument("--child", metavar="LAKE", help=argparse.SUPPRESS)  # internal: the scaling run
    args = parser.parse_args()
    sizes = sorted(set(args.sizes) | {COMPARE_ROWS})
    if args.child:
        print("RESULT " + json.dumps(scaling_child(args.child, sizes, args.repeats), default=str), flush=True)
        return 0

    from lakeops.config import LakeConfig, load_settings
    from lakeops.lake import open_lake
    from lakeops.spark import get_session

    spark = get_session(load_settings().spark)
    results: dict = {"cores": os.cpu_count(), "goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="lakeops-bench-") as tmp:
        lake_root = str(Path(tmp) / "lake")
        lake = open_lake(spark, LakeConfig(root=lake_root))
        days = partition_days(sizes)
        t0 = time.perf_counter()
        write_partition(spark, lake, 50_000, FIRST_DAY, seed=1)
        for n, day in days.items():
            write_partition(spark, lake, n, day, seed=10 + n % 97)
        print(f"feature partitions {', '.join(f'{n:,}' for n in sizes)} rows written in "
              f"{time.perf_counter() - t0:.0f}s", flush=True)
        register_model(lake, days[COMPARE_ROWS])

        for _ in range(WARMUP_RUNS):  # Python workers start, MLflow schema, JIT
            run_lakeops(lake, FIRST_DAY)
            run_spark_udf(spark, lake, FIRST_DAY)
            run_ceiling(lake, FIRST_DAY, Path(tmp))

        day = days[COMPARE_ROWS]
        runs: dict[str, list[float]] = {"lakeops": [], "spark_udf": [], "ceiling": []}
        for i in range(args.repeats):
            runs["lakeops"].append(run_lakeops(lake, day))
            runs["spark_udf"].append(run_spark_udf(spark, lake, day))
            runs["ceiling"].append(run_ceiling(lake, day, Path(tmp)))
            print(f"{COMPARE_ROWS:,} rows, repeat {i + 1}/{args.repeats}: "
                  + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        vs_udf = med["spark_udf"] / med["lakeops"]
        of_ceiling = med["ceiling"] / med["lakeops"]
        results["compare"] = {"rows": COMPARE_ROWS, "runs_s": runs, "median_s": med,
                              "vs_spark_udf": round(vs_udf, 2), "of_ceiling": round(of_ceiling, 3)}
        spark.stop()  # the scaling run gets the machine (and a fresh JVM) to itself

        print("scaling run in a fresh process ...", flush=True)
        child = subprocess.run([sys.executable, __file__, "--child", lake_root, "--sizes", *map(str, sizes),
                                "--repeats", str(args.repeats)],
                               capture_output=True, text=True, check=False)
        lines = [ln for ln in child.stdout.splitlines() if ln.startswith(("lakeops ", "RESULT "))]
        print("\n".join(ln for ln in lines if not ln.startswith("RESULT ")), flush=True)
        if child.returncode != 0 or not lines or not lines[-1].startswith("RESULT "):
            print(child.stderr[-4000:])
            raise SystemExit("the scaling run failed")
        scaling = json.loads(lines[-1].removeprefix("RESULT "))

    seconds = {int(n): v for n, v in scaling["seconds"].items()}
    per_row = {n: seconds[n] / n for n in sizes}
    centre = statistics.median(per_row.values())
    spread = max(abs(v / centre - 1) for v in per_row.values())
    # Marginal cost: the slope between the smallest and largest run, free of fixed per-run costs.
    small, large = min(sizes), max(sizes)
    marginal = (seconds[large] - seconds[small]) / (large - small)
    fixed = seconds[small] - marginal * small
    # The cost of each further row, size to size: flat when nothing grows with the input but the work.
    ordered = sorted(sizes)
    steps = {f"{a}-{b}": (seconds[b] - seconds[a]) / (b - a) for a, b in zip(ordered, ordered[1:], strict=False)}
    step_centre = statistics.median(steps.values())
    step_spread = max(abs(v / step_centre - 1) for v in steps.values())
    py_peak, jvm_peak = scaling["python_peak_gib"], scaling["jvm_peak_gib"]
    results["scaling"] = {"seconds": seconds, "us_per_row": {str(n): round(v * 1e6, 4) for n, v in per_row.items()},
                          "max_deviation_from_median": round(spread, 3), "marginal_us_per_row": round(marginal * 1e6, 4),
                          "step_us_per_row": {k: round(v * 1e6, 4) for k, v in steps.items()},
                          "step_max_deviation_from_median": round(step_spread, 3),
                          "fixed_cost_s": round(fixed, 3)}
    results["driver_peak_rss_gib"] = {"python": round(py_peak, 3), "jvm": round(jvm_peak, 3), "rows": large}

    verdict = lambda ok: "MET" if ok else "NOT MET"  # noqa: E731
    print(f"\nlakeops vs spark_udf at {COMPARE_ROWS:,} rows: {med['lakeops']:.2f}s vs {med['spark_udf']:.2f}s = "
          f"{vs_udf:.1f}x faster (goal >= {GOALS['vs_spark_udf']}x) {verdict(vs_udf >= GOALS['vs_spark_udf'])}")
    print(f"lakeops vs single-process ceiling: {med['lakeops']:.2f}s vs {med['ceiling']:.2f}s = {of_ceiling:.2f} of "
          f"its throughput (goal >= {GOALS['of_ceiling']}) {verdict(of_ceiling >= GOALS['of_ceiling'])}")
    print(f"time per row, {small:,} to {large:,} rows: max deviation from the median {spread:.0%} "
          f"(goal <= {GOALS['per_row_spread']:.0%}) {verdict(spread <= GOALS['per_row_spread'])}; "
          f"marginal {marginal * 1e6:.3f} us/row plus a fixed {fixed:.2f}s per run")
    print("  each further row, size to size: " + ", ".join(f"{k} {v * 1e6:.2f}" for k, v in steps.items())
          + f" us (max deviation from their median {step_spread:.0%})")
    print(f"driver peak RSS at {large:,} rows: Python {py_peak:.2f} GiB, JVM {jvm_peak:.2f} GiB "
          f"(goal < {GOALS['driver_rss_gib']} GiB each) "
          f"{verdict(max(py_peak, jvm_peak) < GOALS['driver_rss_gib'])}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"figures written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
