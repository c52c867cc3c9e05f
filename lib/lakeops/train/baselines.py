"""Reference distributions frozen at training time, for drift monitoring.

For every numeric feature and the model's score: decile edges (approximate
quantiles of the training rows) and the share of rows in each bin
``(-inf, e1], (e1, e2], ..., (ek, inf)``, plus a null bucket. For every
categorical feature: the kept categories, an ``__other__`` bucket and a
``__null__`` bucket. The bucketing is :mod:`lakeops.evaluate.bins`, the same
function monitoring counts each day with. Every proportion is
``count / baseline_rows``, so a PSI against any later partition can be
recomputed by hand from ``ml.baselines`` alone.

Computes rows for ``ml.baselines``; the caller writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops.evaluate.bins import ColumnBins, count_frame
from lakeops.lake.tables import BASELINES

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
) -> pa.Table:
    """``ml.baselines`` rows for ``df`` (the training rows, with a score column if given)."""
    df = df.cache()
    try:
        numeric = [*numeric, *([score_column] if score_column else [])]
        bins = [
            ColumnBins(col, "score" if col == score_column else "numeric", edges=tuple(edges))
            for col, edges in numeric_edges(df, numeric).items()
        ]
        bins += [ColumnBins(col, "categorical", categories=tuple(kept)) for col, kept in categorical.items()]
        counts = count_frame(df, bins)
    finally:
        df.unpersist()
    rows = []
    for b in bins:
        total = int(counts[b.column].sum())
        for index, (lower, upper), label, n in zip(b.bin_indices(), b.bounds(), b.labels(), counts[b.column],
                                                   strict=True):
            rows.append({
                "model_name": model_name, "model_version": model_version, "column_name": b.column,
                "column_type": b.kind, "bin_index": index, "lower": lower, "upper": upper,
                "category": None if b.numeric and index != -1 else label, "count": int(n),
                "proportion": int(n) / total if total else 0.0, "baseline_rows": total,
                "ds_start": ds_start, "ds_end": ds_end,
            })
    return pa.Table.from_pylist(rows, schema=BASELINES.schema)
