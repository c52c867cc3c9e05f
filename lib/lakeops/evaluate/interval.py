"""A regression model's output: the booster's prediction and a split-conformal interval around it.

A regression booster (``reg:squarederror``) predicts the label itself: its margin is
the prediction, nothing needs calibrating. What the prediction lacks is how far
off it may be, so training fits a split-conformal interval on rows the booster
never fit (the holdout): ``half_width`` is the ``coverage`` conformal quantile of
their absolute residuals (:func:`lakeops.evaluate.regression.conformal_half_width`),
and every scored row gets ``[prediction - half_width, prediction + half_width]``.
On exchangeable rows that interval holds the label with probability at least
``coverage``; monitoring measures how often it really does.

It plays the part :class:`lakeops.evaluate.calibration.Platt` plays for binary
models: stored with the model version, applied by every scoring path to the
booster's margin (:meth:`output`, :meth:`columns`). Reads and writes no tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

METHOD = "conformal"
#: The predictions table's columns of a regression model, besides keys and constants.
PREDICTION, LOWER, UPPER = "prediction", "prediction_lower", "prediction_upper"


@dataclass(frozen=True)
class Conformal:
    """``prediction = margin``, with ``prediction -+ half_width`` as its interval."""

    half_width: float = math.inf
    coverage: float = 0.9

    def output(self, margin: np.ndarray) -> np.ndarray:
        """The prediction (float64) of booster margins: the margin itself."""
        return np.asarray(margin, dtype=np.float64)

    def columns(self, margin: np.ndarray, *, threshold: float | None = None) -> dict[str, np.ndarray]:
        """What scoring writes for each row: the prediction and its interval (``threshold`` is unused)."""
        prediction = self.output(margin)
        return {PREDICTION: prediction, LOWER: prediction - self.half_width, UPPER: prediction + self.half_width}

    def as_dict(self) -> dict[str, Any]:
        return {"method": METHOD, "half_width": self.half_width, "coverage": self.coverage}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conformal:
        if data.get("method") != METHOD:
            raise ValueError(f"unknown interval method {data.get('method')!r}")
        return cls(half_width=float(data["half_width"]), coverage=float(data["coverage"]))
