"""Labels and scores of a Spark DataFrame, for evaluation (training, the gate).

Rows are scored inside Spark tasks (``mapInArrow``) with XGBoost's
``inplace_predict`` on the encoded Arrow batch; only the columns asked for
reach the driver. Batch scoring into the predictions tables is the score
stage's own, faster path. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from lakeops.evaluate.encoding import encode_feature_major

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

#: The score column: probability of the positive class.
SCORE = "score"


def score_frame(
    df: DataFrame,
    booster: xgboost.Booster,
    *,
    features: Sequence[str],
    categories: dict[str, list[str]],
    keep: Sequence[str],
) -> DataFrame:
    """``keep`` columns plus ``score`` (probability of class 1) for every row of ``df``."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    # Model inputs under private names, so kept columns keep their original values.
    inputs = [f"__x{i}" for i in range(len(features))]
    renamed = dict(zip(features, inputs, strict=True))
    codes = {renamed[c]: v for c, v in categories.items()}
    raw = bytes(booster.save_raw("ubj"))
    selected = df.select(*keep, *[df[c].alias(i) for c, i in zip(features, inputs, strict=True)])
    out_schema = StructType([*[selected.schema[c] for c in keep], StructField(SCORE, DoubleType(), False)])
    keep = list(keep)

    def predict(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import xgboost

        model = xgboost.Booster()
        model.load_model(bytearray(raw))
        model.set_param({"nthread": 1})
        for batch in batches:
            x = encode_feature_major(batch, inputs, codes)
            scores = model.inplace_predict(x.T) if batch.num_rows else np.empty(0, dtype=np.float32)
            yield pa.RecordBatch.from_arrays([*[batch.column(c) for c in keep], pa.array(scores.astype(np.float64))],
                                             names=[*keep, SCORE])

    return selected.mapInArrow(predict, out_schema)


def labels_and_scores(
    df: DataFrame, booster: xgboost.Booster, *, label: str, features: Sequence[str], categories: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of ``df`` as numpy arrays, for evaluation (two columns reach the driver)."""
    scored = score_frame(df, booster, features=features, categories=categories, keep=[label]).toPandas()
    return scored[label].to_numpy(), scored[SCORE].to_numpy()
