"""Reference distributions frozen at training time, for drift monitoring.

For every numeric feature: decile edges (approximate quantiles of the training
rows), the bins ``(-inf, e1], (e1, e2], ..., (ek, inf)`` and the share of rows
in each, plus a null bucket. For every categorical feature: the kept categories,
an ``__other__`` bucket and a ``__null__`` bucket. The model's score gets numeric
bins too. Every proportion is ``count / baseline_rows``, so a PSI against any
later partition can be recomputed by hand from ``ml.baselines`` alone.

Computes rows for ``ml.baselines``; the caller writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from lakeops.lake.tables import BASELINES
from lakeops.train.encoding import NULL, OTHER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

QUANTILES = [i / 10 for i in range(1, 10)]
RELATIVE_ERROR = 0.001


def numeric_edges(df: DataFrame, columns: Sequence[str]) -> dict[str, list[float]]:
    """Distinct decile edges per column (one Spark job for all columns)."""
    if not columns:
        return {}
    found = df.approxQuantile(list(columns), QUANTILES, RELATIVE_ERROR)
    return {col: sorted(set(edges)) for col, edges in zip(columns, found, strict=True)}


def baseline_rows(
    df: DataFrame,
    *,
    model_name: str,
    model_version: int,
    numeric: Sequence[str],
    categorical: Mapping[str, Sequence[str]],
    score_column: str | None,
    ds_start: date,
    ds_end: date,
) -> DataFrame:
    """``ml.baselines`` rows for ``df`` (the training rows, with a score column if given)."""
    from pyspark.sql import functions as F

    spark = df.sparkSession
    numeric = [*numeric, *([score_column] if score_column else [])]
    edges = numeric_edges(df, numeric)
    df = df.cache()
    total = df.count()
    aggs = []
    for col in numeric:
        e = edges[col]
        x = F.col(col)
        # bin i holds (e[i-1], e[i]]; -1 is the null (or NaN) bucket.
        index = F.when(x.isNull() | F.isnan(x), F.lit(-1))
        for i, edge in enumerate(e):
            index = index.when(x <= F.lit(edge), F.lit(i))
        aggs.append((col, index.otherwise(F.lit(len(e)))))
    for col, kept in categorical.items():
        value = F.when(F.col(col).isNull(), F.lit(NULL)).when(F.col(col).isin(list(kept)), F.col(col)).otherwise(F.lit(OTHER))
        aggs.append((col, value))

    # One pass over the rows for every column: (column, bucket) pairs, counted.
    pairs = F.explode(F.array(*[F.struct(F.lit(col).alias("col"), expr.cast("string").alias("key")) for col, expr in aggs]))
    tallies: dict[str, dict[str, int]] = {}
    for r in df.select(pairs.alias("p")).groupBy("p.col", "p.key").agg(F.count("*").alias("n")).collect():
        tallies.setdefault(r["col"], {})[r["key"]] = r["n"]
    rows = []
    for col, _ in aggs:
        counts = tallies.get(col, {})
        if col in edges:
            e = edges[col]
            kind = "score" if col == score_column else "numeric"
            bounds = [float("-inf"), *e, float("inf")]
            for i in range(len(e) + 1):
                rows.append((col, kind, i, bounds[i], bounds[i + 1], None, counts.get(str(i), 0)))
            rows.append((col, kind, -1, None, None, NULL, counts.get("-1", 0)))
        else:
            for i, cat in enumerate([*categorical[col], OTHER, NULL]):
                rows.append((col, "categorical", -1 if cat == NULL else i, None, None, cat, counts.get(cat, 0)))
    data = [
        (model_name, model_version, col, kind, idx, lo, hi, cat, n, n / total if total else 0.0, total, ds_start, ds_end)
        for col, kind, idx, lo, hi, cat, n in rows
    ]
    df.unpersist()
    return spark.createDataFrame(data, BASELINES.spark_schema).coalesce(1)
