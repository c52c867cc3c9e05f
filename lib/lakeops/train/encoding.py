"""Categorical columns as numeric codes, frozen at training time.

Each categorical column keeps its ``max_categories`` most frequent values (ties
broken by name); a kept value's code is its position, every other value shares
the OTHER code (``len(kept)``), and null stays missing (NaN), which XGBoost
routes on its own. The kept lists travel with the model (registry metadata) and
into ``ml.baselines``. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

OTHER, NULL = "__other__", "__null__"


def fit_categories(df: DataFrame, columns: Sequence[str], *, max_categories: int) -> dict[str, list[str]]:
    """The kept values per column, most frequent first (one Spark job per column)."""
    from pyspark.sql import functions as F

    kept = {}
    for col in columns:
        rows = (
            df.where(F.col(col).isNotNull()).groupBy(col).count()
            .orderBy(F.desc("count"), F.asc(col)).limit(max_categories).collect()
        )
        kept[col] = [r[col] for r in rows]
    return kept


def encode(df: DataFrame, categories: Mapping[str, Sequence[str]]) -> DataFrame:
    """Replace each categorical column by its double code (NaN for null)."""
    from pyspark.sql import functions as F

    for col, values in categories.items():
        codes = F.create_map(*[x for i, v in enumerate(values) for x in (F.lit(v), F.lit(float(i)))]) if values else None
        code = F.coalesce(codes[F.col(col)], F.lit(float(len(values)))) if codes is not None else F.lit(0.0)
        df = df.withColumn(col, F.when(F.col(col).isNull(), F.lit(float("nan"))).otherwise(code))
    return df
