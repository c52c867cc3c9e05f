"""Which categories a model keeps, frozen from its training rows.

Each categorical column keeps its ``max_categories`` most frequent values (ties
broken by name); see :mod:`lakeops.evaluate.encoding` for how they become codes.
Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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
