"""Labels and scores of a Spark DataFrame, for evaluation (training, the gate).

Rows are scored inside Spark tasks (``mapInArrow``) with XGBoost's
``inplace_predict`` on the encoded Arrow batch: the booster's margin, mapped to
a probability by the model's calibrator; only the columns asked for reach the
driver. Batch scoring into the predictions tables is the score
stage's own, faster path. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from lakeops.evaluate.encoding import encode_feature_major

if TYPE_CHECKING:
    import pandas as pd
    import xgboost
    from pyspark.sql import DataFrame

    from lakeops.evaluate.problems import Output

#: The score column: probability of the positive class.
SCORE = "score"
#: The booster's raw margin (log-odds before calibration), for fitting a calibrator.
MARGIN = "margin"


def score_frame(
    df: DataFrame,
    booster: xgboost.Booster,
    *,
    features: Sequence[str],
    categories: dict[str, list[str]],
    keep: Sequence[str],
    calibration: Output | None = None,
    output_column: str = SCORE,
) -> DataFrame:
    """``keep`` columns plus ``output_column`` (the model's output: a calibrated probability of class 1,
    or a regression model's prediction) for every row of ``df``.

    With ``calibration=None`` the column is ``margin``, the booster's raw log-odds, instead.
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    # Model inputs under private names, so kept columns keep their original values.
    inputs = [f"__x{i}" for i in range(len(features))]
    renamed = dict(zip(features, inputs, strict=True))
    codes = {renamed[c]: v for c, v in categories.items()}
    raw = bytes(booster.save_raw("ubj"))
    selected = df.select(*keep, *[df[c].alias(i) for c, i in zip(features, inputs, strict=True)])
    output = output_column if calibration is not None else MARGIN
    out_schema = StructType([*[selected.schema[c] for c in keep], StructField(output, DoubleType(), False)])
    keep = list(keep)

    def predict(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import xgboost

        model = xgboost.Booster()
        model.load_model(bytearray(raw))
        model.set_param({"nthread": 1})
        for batch in batches:
            x = encode_feature_major(batch, inputs, codes)
            margin = (model.inplace_predict(x.T, predict_type="margin") if batch.num_rows
                      else np.empty(0, dtype=np.float32))
            values = calibration.output(margin) if calibration is not None else margin.astype(np.float64)
            yield pa.RecordBatch.from_arrays([*[batch.column(c) for c in keep], pa.array(values)],
                                             names=[*keep, output])

    return selected.mapInArrow(predict, out_schema)


def labels_and_margins(
    df: DataFrame, booster: xgboost.Booster, *, label: str, features: Sequence[str], categories: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and booster margins of ``df`` as numpy arrays (two columns reach the driver).

    Evaluation maps the margins through a calibrator (:meth:`Platt.probability`); training
    fits that calibrator on them.
    """
    # Annotated: pyspark types toPandas() with an alias of pandas' DataFrame, which mypy cannot use without pandas stubs.
    scored: pd.DataFrame = score_frame(df, booster, features=features, categories=categories, keep=[label]).toPandas()
    return scored[label].to_numpy(), scored[MARGIN].to_numpy()
