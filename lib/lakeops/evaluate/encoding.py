"""A model's input encoding: categorical columns as numeric codes frozen at training time.

A kept category's code is its position in the model's category list, every
other value shares the OTHER code (the list's length), and null stays missing
(NaN), which XGBoost routes on its own. The kept lists travel with the model
(registry metadata) and into ``ml.baselines``. The same encoding is written
twice, once for Spark columns (:func:`encode`, training) and once for Arrow
batches (:func:`encode_feature_major`, scoring and evaluation inside tasks);
tests hold them equal. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def encode(df: DataFrame, categories: Mapping[str, Sequence[str]]) -> DataFrame:
    """Replace each categorical column by its double code (NaN for null)."""
    from pyspark.sql import functions as F

    for col, values in categories.items():
        codes = F.create_map(*[x for i, v in enumerate(values) for x in (F.lit(v), F.lit(float(i)))]) if values else None
        code = F.coalesce(codes[F.col(col)], F.lit(float(len(values)))) if codes is not None else F.lit(0.0)
        df = df.withColumn(col, F.when(F.col(col).isNull(), F.lit(float("nan"))).otherwise(code))
    return df


def encode_arrow(batch: pa.RecordBatch, features: Sequence[str], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """The model's input matrix, ``(rows, features)`` float32 with NaN for missing, from an Arrow batch.

    A transposed view of :func:`encode_feature_major`; XGBoost reads either layout.
    """
    return encode_feature_major(batch, features, categories).T


def encode_feature_major(
    batch: pa.RecordBatch, features: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """The model's input as a ``(features, rows)`` float32 matrix: one contiguous row per feature.

    Each feature is converted in one pass: a float column's nulls come out of
    Arrow as NaN and numpy casts while copying (no intermediate Arrow arrays).
    """
    import pyarrow.compute as pc

    x = np.empty((len(features), batch.num_rows), dtype=np.float32)
    for j, name in enumerate(features):
        col = batch.column(name)
        values = categories.get(name)
        if values is not None:
            codes = pc.index_in(col.cast(pa.string()), value_set=pa.array(list(values), pa.string()))
            if codes.null_count:  # unseen -> OTHER, null -> NaN
                codes = pc.if_else(pc.is_null(col), np.nan, pc.fill_null(codes.cast(pa.float32()), float(len(values))))
            col = codes
        elif not pa.types.is_floating(col.type):
            col = col.cast(pa.float64())  # ints, decimals; nulls become NaN below
        x[j] = col.to_numpy(zero_copy_only=False)
    return x
