"""A lakeops model version as an MLflow pyfunc model: raw feature rows in, what lakeops stores out.

A binary model returns the calibrated probability (``score``); a regression model its
prediction (the booster's margin; the interval's half-width is ``half_width`` on the
loaded instance); a multiclass model a frame of every class's calibrated probability,
one ``score_<class>`` column per class, as ``predictions.<model>`` stores them.

:func:`lakeops.registry.log_model` logs this file as MLflow "models from code":
MLflow copies it into the model folder and runs it when the model is loaded
(``mlflow.pyfunc.load_model``, ``mlflow.pyfunc.spark_udf``), so it must not
import lakeops: only numpy, pandas, xgboost and mlflow. It reads two artifacts,
never a pickle: ``booster`` (the XGBoost booster as UBJSON) and ``encoding``
(JSON: features, category lists, threshold and the Platt calibrator).

:func:`encode`, :func:`probability` and :func:`softmax` restate
:func:`lakeops.evaluate.encoding.encode_feature_major`,
:meth:`lakeops.evaluate.calibration.Platt.probability` and
:meth:`lakeops.evaluate.multiclass.Temperature.probabilities` for pandas columns;
tests/test_registry_pyfunc.py holds them equal. Reads and writes no tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

#: The names of the model's artifacts (``context.artifacts`` keys).
BOOSTER, ENCODING = "booster", "encoding"


def encode(frame: pd.DataFrame, features: Sequence[str], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """The booster's input, ``(rows, features)`` float32, from raw feature columns.

    A categorical value's code is its index in the kept list, any other value is
    the OTHER code (the list's length), a null (None, NaN, pd.NA) is NaN. Numeric
    columns become floats with NaN for null. Other columns of ``frame`` are ignored.
    """
    x = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        col = frame[name]
        values = categories.get(name)
        if values is None:
            x[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        missing = col.isna().to_numpy()
        # lakeops compares categories as strings: Arrow casts a non-string column to string first.
        text = col if pd.api.types.is_string_dtype(col.dtype) else col.astype(str)
        codes = pd.Index(list(values), dtype=object).get_indexer(text.to_numpy(dtype=object)).astype(np.float32)
        codes[codes < 0] = len(values)
        codes[missing] = np.nan
        x[:, j] = codes
    return x


def probability(margin: np.ndarray, *, slope: float, intercept: float) -> np.ndarray:
    """``sigmoid(slope * margin + intercept)`` as float64, without overflow for large ``|z|``."""
    z = slope * np.asarray(margin, dtype=np.float64) + intercept
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(margin: np.ndarray, *, temperature: float) -> np.ndarray:
    """``softmax(margin / temperature)`` per row, float64, shifted by the row's maximum so it cannot overflow."""
    z = np.asarray(margin, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LakeopsModel(PythonModel):
    """Calibrated probability of the positive class for each row of raw feature columns.

    Extra columns are ignored. The decision threshold is ``threshold`` on the
    loaded instance (``unwrap_python_model()``) and in the MLmodel metadata.
    """

    def load_context(self, context: Any) -> None:
        import xgboost

        with open(context.artifacts[ENCODING]) as f:
            spec = json.load(f)
        calibration = spec["calibration"]
        self.method = calibration.get("method")
        if self.method == "platt":
            self.slope, self.intercept = float(calibration["slope"]), float(calibration["intercept"])
        elif self.method == "conformal":
            self.half_width, self.coverage = float(calibration["half_width"]), float(calibration["coverage"])
        elif self.method == "temperature":
            self.temperature, self.classes = float(calibration["temperature"]), list(calibration["classes"])
        else:
            raise ValueError(f"unknown calibration method {self.method!r}")
        self.features = list(spec["features"])
        self.categories = {k: list(v) for k, v in spec["categories"].items()}
        self.threshold = float(spec["threshold"])
        self.booster = xgboost.Booster()
        self.booster.load_model(context.artifacts[BOOSTER])

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> np.ndarray | pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        missing = [c for c in self.features if c not in model_input.columns]
        if missing:
            raise ValueError(f"the input has no column(s) {missing}; the model needs {self.features}")
        columns = [f"score_{c}" for c in self.classes] if self.method == "temperature" else []
        if len(model_input) == 0:
            return pd.DataFrame(columns=columns, dtype=np.float64) if columns else np.empty(0, dtype=np.float64)
        margin = self.booster.inplace_predict(encode(model_input, self.features, self.categories),
                                              predict_type="margin")
        if self.method == "temperature":
            return pd.DataFrame(softmax(margin, temperature=self.temperature), columns=columns,
                                index=model_input.index)
        if self.method == "conformal":
            return np.asarray(margin, dtype=np.float64)
        return probability(margin, slope=self.slope, intercept=self.intercept)


mlflow.models.set_model(LakeopsModel())
