"""Score a Spark DataFrame with a registered XGBoost model, on the executors.

The booster travels once per executor as UBJSON bytes in a broadcast variable
and is parsed once per Python worker; each Arrow batch is predicted with
``Booster.inplace_predict`` (no DMatrix). Nothing is collected to the driver.
Reads and writes no tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lakeops.train.encoding import encode

if TYPE_CHECKING:
    import pandas as pd
    import xgboost
    from pyspark.sql import DataFrame

SCORE = "score"

# One parsed booster per Python worker process, keyed by a digest of its bytes.
_BOOSTERS: dict[str, xgboost.Booster] = {}


def _booster(raw: bytes, digest: str) -> xgboost.Booster:
    booster = _BOOSTERS.get(digest)
    if booster is None:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(raw))
        booster.set_param({"nthread": 1})
        _BOOSTERS.clear()  # keep one model per worker: backfills score one model at a time
        _BOOSTERS[digest] = booster
    return booster


def score_frame(
    df: DataFrame,
    booster: xgboost.Booster,
    *,
    features: Sequence[str],
    categories: dict[str, list[str]],
    keep: Sequence[str],
) -> DataFrame:
    """``keep`` columns plus ``score`` (probability of class 1) for every row of ``df``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StructField, StructType

    raw = bytes(booster.save_raw("ubj"))
    digest = hashlib.sha256(raw).hexdigest()
    shipped = df.sparkSession.sparkContext.broadcast(raw)
    # Model inputs under private names, so kept columns keep their original values.
    inputs = [f"__x{i}" for i in range(len(features))]
    renamed = dict(zip(features, inputs, strict=True))
    encoded = encode(
        df.select(*keep, *[F.col(c).cast("double" if c not in categories else "string").alias(renamed[c])
                           for c in features]),
        {renamed[c]: values for c, values in categories.items()},
    )
    out_schema = StructType([*[encoded.schema[c] for c in keep], StructField(SCORE, DoubleType(), False)])

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = _booster(shipped.value, digest)
        for batch in batches:
            x = batch[inputs].to_numpy(dtype=np.float32, na_value=np.nan)
            out = batch[list(keep)].copy()
            out[SCORE] = model.inplace_predict(x).astype(np.float64) if len(batch) else np.empty(0)
            yield out

    return encoded.mapInPandas(predict, out_schema)


def labels_and_scores(
    df: DataFrame, booster: xgboost.Booster, *, label: str, features: Sequence[str], categories: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of ``df`` as numpy arrays, for evaluation (two columns reach the driver)."""
    scored = score_frame(df, booster, features=features, categories=categories, keep=[label]).toPandas()
    return scored[label].to_numpy(), scored[SCORE].to_numpy()
