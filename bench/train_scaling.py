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

Both boosters predict the evaluation set with ``inplace_predict``; the script
prints fit seconds, the ratio (a)/(b) and the AUC difference against the goals
(ratio <= 2x at 1M rows, <= 1.5x at 5M; |AUC diff| <= 0.002) and writes JSON to
``bench/results/train_scaling.json``.

    .venv/bin/python bench/train_scaling.py [--rows 1000000 5000000]
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
    from lakeops.train.metrics import roc_auc

    return roc_auc(y, p)


def run_size(spark, work: Path, rows: int, eval_x, eval_y) -> dict:
    import xgboost
    from xgboost.spark import SparkXGBClassifier

    path = work / f"train_{rows}"
    t0 = time.perf_counter()
    make_table(spark, path, rows, seed=1)
    print(f"{rows:,} rows written in {time.perf_counter() - t0:.1f}s", flush=True)

    features = [f"f{i}" for i in range(N_FEATURES)]
    df = spark.read.parquet(str(path))
    estimator = SparkXGBClassifier(features_col=features, label_col="label", num_workers=2, n_estimators=TREES,
                                   max_depth=PARAMS["max_depth"], learning_rate=PARAMS["learning_rate"],
                                   tree_method="hist", missing=np.nan, verbose=False)
    t0 = time.perf_counter()
    spark_booster = estimator.fit(df).get_booster()
    spark_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    x, y = load_numpy(path)
    dtrain = xgboost.DMatrix(x, label=y, missing=np.nan, nthread=2)
    load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    single_booster = xgboost.train({**PARAMS, "nthread": 2}, dtrain, num_boost_round=TREES)
    single_seconds = time.perf_counter() - t0
    del x, y, dtrain

    spark_auc = auc(eval_y, spark_booster.inplace_predict(eval_x))
    single_auc = auc(eval_y, single_booster.inplace_predict(eval_x))
    ratio = spark_seconds / single_seconds
    result = {
        "rows": rows, "spark_fit_s": round(spark_seconds, 2), "single_fit_s": round(single_seconds, 2),
        "single_load_s": round(load_seconds, 2), "ratio": round(ratio, 2), "goal_ratio": GOALS.get(rows),
        "spark_auc": round(spark_auc, 5), "single_auc": round(single_auc, 5),
        "auc_diff": round(spark_auc - single_auc, 5),
    }
    goal = GOALS.get(rows)
    verdict = "" if goal is None else (" MET" if ratio <= goal else " NOT MET")
    print(f"{rows:>10,}  spark {spark_seconds:6.1f}s  single {single_seconds:6.1f}s (+{load_seconds:.1f}s load)  "
          f"ratio {ratio:.2f}x (goal <= {goal}x){verdict}  AUC {spark_auc:.4f} vs {single_auc:.4f} "
          f"(diff {spark_auc - single_auc:+.4f}, goal within {AUC_GOAL})", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    args = parser.parse_args()

    from lakeops.config import load_settings
    from lakeops.spark import get_session

    spark = get_session(load_settings().spark)
    results = []
    with tempfile.TemporaryDirectory(prefix="lakeops-bench-") as tmp:
        work = Path(tmp)
        make_table(spark, work / "eval", 200_000, seed=99)
        eval_x, eval_y = load_numpy(work / "eval")
        for rows in args.rows:
            results.append(run_size(spark, work, rows, eval_x, eval_y))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "train_scaling.json").write_text(json.dumps(results, indent=2))
    print(f"figures written to {out / 'train_scaling.json'}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
