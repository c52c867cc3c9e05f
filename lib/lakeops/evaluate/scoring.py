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
#: The booster's raw margin (log-odds before calibration), for fitting a calibrator; a multiclass
#: booster's is an array, one margin per class.
MARGIN = "margin"


def num_outputs(booster: xgboost.Booster) -> int:
    """Margins per row: a multiclass booster's class count, else 1."""
    import json

    params = json.loads(booster.save_config())["learner"]["learner_model_param"]
    return max(int(params.get("num_class", "0")), 1)


def score_frame(
    df: DataFrame,
    booster: xgboost.Booster,
    *,
    features: Sequence[str],
    categories: dict[str, list[str]],
    keep: Sequence[str],
    calibration: Output | None = None,
    outputs: Sequence[pa.Field] = (pa.field(SCORE, pa.float64()),),
) -> DataFrame:
    """``keep`` columns plus the model's ``outputs`` for every row of ``df``: columns of what
    ``calibration.columns`` gives (a binary model's ``score``, a regression model's ``prediction``,
    a multiclass model's ``prediction`` and ``score_<class>`` ...), typed as ``outputs`` says.

    With ``calibration=None`` the output is ``margin`` instead: the booster's raw log-odds (an array
    of one per class for a multiclass booster).
    """
    from pyspark.sql.types import ArrayType, DoubleType, StructField, StructType

    from lakeops.lake.spec import arrow_to_spark

    # Model inputs under private names, so kept columns keep their original values.
    inputs = [f"__x{i}" for i in range(len(features))]
    renamed = dict(zip(features, inputs, strict=True))
    codes = {renamed[c]: v for c, v in categories.items()}
    raw = bytes(booster.save_raw("ubj"))
    selected = df.select(*keep, *[df[c].alias(i) for c, i in zip(features, inputs, strict=True)])
    width = num_outputs(booster)
    if calibration is None:
        out_fields = [StructField(MARGIN, DoubleType() if width == 1 else ArrayType(DoubleType(), False), False)]
        arrow_out = [pa.field(MARGIN, pa.float64() if width == 1 else pa.list_(pa.float64()))]
    else:
        out_fields = list(arrow_to_spark(pa.schema(outputs)).fields)
        arrow_out = list(outputs)
    out_schema = StructType([*[selected.schema[c] for c in keep], *out_fields])
    keep = list(keep)

    def predict(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import xgboost

        model = xgboost.Booster()
        model.load_model(bytearray(raw))
        model.set_param({"nthread": 1})
        for batch in batches:
            x = encode_feature_major(batch, inputs, codes)
            margin = (model.inplace_predict(x.T, predict_type="margin") if batch.num_rows
                      else np.empty((0,) if width == 1 else (0, width), dtype=np.float32))
            if calibration is None:
                values = [margin.astype(np.float64) if width == 1 else list(margin.astype(np.float64))]
            else:
                found = calibration.columns(margin)
                values = [found[f.name] for f in arrow_out]
            arrays = [pa.array(v, type=f.type) for v, f in zip(values, arrow_out, strict=True)]
            yield pa.RecordBatch.from_arrays([*[batch.column(c) for c in keep], *arrays],
                                             names=[*keep, *[f.name for f in arrow_out]])

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
    return scored[label].to_numpy(), margins_of(scored[MARGIN])


def margins_of(column: pd.Series) -> np.ndarray:
    """A :func:`score_frame` margin column as numpy: (rows,) or, for a multiclass booster, (rows, classes)."""
    values = column.to_numpy()
    if values.dtype == object:  # arrays of per-class margins
        return np.stack(values).astype(np.float64) if len(values) else np.empty((0, 0))
    return values
