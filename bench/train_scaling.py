"""Benchmark: distributed ``SparkXGBClassifier(num_workers=2)`` vs single-node XGBoost.

What is measured
----------------
For each size in ``--rows`` (default 1M and 5M), one Spark session (local[*])
writes a synthetic binary-classification table to Parquet (20 numeric features,
a known logistic ground truth, ~5% positives, a few % nulls), plus a 200k-row
evaluation set. Then, on the same rows and the same parameters (``hist``, 100
trees, depth 6, learning rate 0.1, no early stopping):

(a) ``xgboost.spark.SparkXGBClassifier(num_workers=2)`` fits on the Spark
    DataFrame read from that Parquet (timed: ``fit`` only);
(b) ``xgboost.train`` with ``nthread=2`` fits a DMatrix built from the same
    Parquet read with pyarrow (timed: ``train`` only; loading reported apart).

Before any timing, each side fits once on 20k rows (warm-up): Spark's Python
workers start and import xgboost, pandas and pyarrow once per session, and a
training job pays that once, not once per trial. The cold first fit is still
measured and reported (``spark_cold_fit_s``: the first 1M fit in the process,
without the warm-up, is what a one-off run pays). Each size is then fitted
``--repeats`` times per side and the medians are compared.

Both boosters predict the evaluation set with ``inplace_predict``; the script
prints fit seconds, the ratio (a)/(b) and the AUC difference against the goals
(ratio <= 2x at 1M rows, <= 1.5x at 5M; |AUC diff| <= 0.002) and writes JSON to
``bench/results/train_scaling.json``.

    .venv/bin/python bench/train_scaling.py [--rows 1000000 5000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

GOALS = {1_000_000: 2.0, 5_000_000: 1.5}
AUC_GOAL = 0.002
PARAMS = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "learning_rate": 0.1,
          "eval_metric": "logloss"}
TREES = 100
N_FEATURES = 20


def make_table(spark, path: Path, rows: int, seed: int) -> None:
    from pyspark.sql import functions as F

    cols = [F.randn(seed + i).alias(f"f{i}") for i in range(N_FEATURES)]
    df = spark.range(rows).select(*cols)
    logit = sum(F.col(f"f{i}") * (0.8 / (1 + i)) for i in range(N_FEATURES)) - 3.3
    df = df.withColumn("label", (F.rand(seed + 100) < 1 / (1 + F.exp(-logit))).cast("int"))
    # A few percent of missing values in half of the features.
    for i in range(0, N_FEATURES, 2):
        df = df.withColumn(f"f{i}", F.when(F.rand(seed + 200 + i) < 0.03, None).otherwise(F.col(f"f{i}")))
    df.write.mode("overwrite").parquet(str(path))


def load_numpy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.dataset as ds

    table = ds.dataset(str(path), format="parquet").to_table()
    x = np.column_stack([table.column(f"f{i}").to_numpy(zero_copy_only=False) for i in range(N_FEATURES)])
    return x.astype(np.float32), table.column("label").to_numpy().astype(np.float32)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from lakeops.evaluate.metrics import roc_auc

    return roc_auc(y, p)


def spark_fit(spark, path: Path, trees: int = TREES):
    """Fit ``SparkXGBClassifier(num_workers=2)`` on the Parquet at ``path``; returns (seconds, booster)."""
    from xgboost.spark import SparkXGBClassifier

    df = spark.read.parquet(str(path))
    estimator = SparkXGBClassifier(features_col=[f"f{i}" for i in range(N_FEATURES)], label_col="label",
                                   num_workers=2, n_estimators=trees, max_depth=PARAMS["max_depth"],
                                   learning_rate=PARAMS["learning_rate"], tree_method="hist", missing=np.nan,
                                   verbose=False)
    t0 = time.perf_counter()
    booster = estimator.fit(df).get_booster()
    return time.perf_counter() - t0, booster


def single_fit(path: Path, trees: int = TREES):
    """Fit ``xgboost.train(nthread=2)`` on the same Parquet read with pyarrow; returns (seconds, load seconds, booster)."""
    import xgboost

    t0 = time.perf_counter()
    x, y = load_numpy(path)
    dtrain = xgboost.DMatrix(x, label=y, missing=np.nan, nthread=2)
    load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    booster = xgboost.train({**PARAMS, "nthread": 2}, dtrain, num_boost_round=trees)
    return time.perf_counter() - t0, load_seconds, booster


def run_size(spark, work: Path, rows: int, repeats: int, eval_x, eval_y, *, cold: bool) -> dict:
    path = work / f"train_{rows}"
    t0 = time.perf_counter()
    make_table(spark, path, rows, seed=1)
    print(f"{rows:,} rows written in {time.perf_counter() - t0:.1f}s", flush=True)

    cold_seconds = None
    if cold:  # the first fit of the process: Python workers start and import xgboost inside it
        cold_seconds, _ = spark_fit(spark, path)
        print(f"{rows:>10,}  spark cold first fit {cold_seconds:6.1f}s", flush=True)
        warm_up(spark, work)
    spark_runs, single_runs = [], []
    for i in range(repeats):
        seconds, spark_booster = spark_fit(spark, path)
        spark_runs.append(seconds)
        seconds, load_seconds, single_booster = single_fit(path)
        single_runs.append(seconds)
        print(f"{rows:>10,}  repeat {i + 1}/{repeats}: spark {spark_runs[-1]:6.1f}s  single {seconds:6.1f}s "
              f"(+{load_seconds:.1f}s load)", flush=True)
    spark_seconds = float(np.median(spark_runs))
    single_seconds = float(np.median(single_runs))

    spark_auc = auc(eval_y, spark_booster.inplace_predict(eval_x))
    single_auc = auc(eval_y, single_booster.inplace_predict(eval_x))
    ratio = spark_seconds / single_seconds
    goal = GOALS.get(rows)
    result = {
        "rows": rows, "repeats": repeats, "spark_fit_s": [round(v, 2) for v in spark_runs],
        "single_fit_s": [round(v, 2) for v in single_runs], "median_spark_fit_s": round(spark_seconds, 2),
        "median_single_fit_s": round(single_seconds, 2), "single_load_s": round(load_seconds, 2),
        "spark_cold_fit_s": None if cold_seconds is None else round(cold_seconds, 2),
        "cold_ratio": None if cold_seconds is None else round(cold_seconds / single_seconds, 2),
        "ratio": round(ratio, 2), "goal_ratio": goal, "goal_met": None if goal is None else ratio <= goal,
        "spark_auc": round(spark_auc, 5), "single_auc": round(single_auc, 5),
        "auc_diff": round(spark_auc - single_auc, 5),
    }
    verdict = "" if goal is None else (" MET" if ratio <= goal else " NOT MET")
    print(f"{rows:>10,}  median spark {spark_seconds:6.1f}s  single {single_seconds:6.1f}s  "
          f"ratio {ratio:.2f}x (goal <= {goal}x){verdict}"
          + ("" if cold_seconds is None else f"  [cold first fit {cold_seconds / single_seconds:.2f}x]")
          + f"  AUC {spark_auc:.4f} vs {single_auc:.4f} (diff {spark_auc - single_auc:+.4f}, goal within {AUC_GOAL})",
          flush=True)
    return result


def warm_up(spark, work: Path) -> None:
    """One tiny fit per side, so neither side's timings include process start-up costs."""
    path = work / "warm_up"
    make_table(spark, path, 20_000, seed=2)
    spark_fit(spark, path, trees=2)
    single_fit(path, trees=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per side and size (median reported)")
    args = parser.parse_args()

    from lakeops.config import load_settings
    from lakeops.spark import get_session

    spark = get_session(load_settings().spark)
    results = []
    with tempfile.TemporaryDirectory(prefix="lakeops-bench-") as tmp:
        work = Path(tmp)
        make_table(spark, work / "eval", 200_000, seed=99)
        eval_x, eval_y = load_numpy(work / "eval")
        for i, rows in enumerate(args.rows):
            results.append(run_size(spark, work, rows, args.repeats, eval_x, eval_y, cold=i == 0))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "train_scaling.json").write_text(json.dumps(results, indent=2))
    print(f"figures written to {out / 'train_scaling.json'}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
