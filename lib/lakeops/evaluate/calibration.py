"""Calibrated scores: a booster's margin mapped to a probability by Platt scaling.

lakeops trains with ``scale_pos_weight`` (it ranks the rare positives better),
so the booster's own sigmoid is not a probability: it overstates risk by about
the weight. A Platt calibrator, ``p = sigmoid(slope * margin + intercept)``,
is fitted on rows the booster did not fit (the validation rows) and stored
with the model version. It is monotone, so AUC and every ranking are exactly
those of the booster; it has two parameters, so a few thousand rows fit it
without overfitting (isotonic regression would tie scores and move AUC).

Every scoring path applies :meth:`Platt.probability` to the booster's margin;
the identity calibrator (slope 1, intercept 0) is the booster's own sigmoid.
Reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METHOD = "platt"


@dataclass(frozen=True)
class Platt:
    """``probability = 1 / (1 + exp(-(slope * margin + intercept)))``."""

    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray) -> Platt:
        """The maximum-likelihood slope and intercept of ``y ~ margin`` (unpenalised logistic regression)."""
        from scipy.optimize import minimize

        m = np.asarray(margin, dtype=np.float64)
        labels = np.asarray(y, dtype=np.float64)
        if np.unique(labels).size < 2:
            raise ValueError("calibration needs both classes among its rows")

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = w[0] * m + w[1]
            residual = 1.0 / (1.0 + np.exp(-z)) - labels  # d(loss)/dz
            return float(np.mean(np.logaddexp(0.0, z) - labels * z)), np.array([np.mean(residual * m),
                                                                                 np.mean(residual)])

        fitted = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="BFGS", options={"gtol": 1e-10})
        return cls(slope=float(fitted.x[0]), intercept=float(fitted.x[1]))

    def probability(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (float64) of booster margins."""
        z = self.slope * np.asarray(margin, dtype=np.float64) + self.intercept
        e = np.exp(-np.abs(z))  # never overflows; both branches are the same sigmoid
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def output(self, margin: np.ndarray) -> np.ndarray:
        """What a binary model outputs: the calibrated probability (every output has ``output``)."""
        return self.probability(margin)

    def columns(self, margin: np.ndarray, *, threshold: float | None = None) -> dict[str, np.ndarray]:
        """What scoring writes for each row: ``score`` and the 0/1 ``prediction`` at ``threshold``."""
        score = self.probability(margin)
        decided = score >= (0.5 if threshold is None else threshold)
        return {"score": score, "prediction": decided.astype(np.int32)}

    def as_dict(self) -> dict[str, Any]:
        return {"method": METHOD, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Platt:
        """The stored calibrator; a model logged before calibration existed gets the identity."""
        if not data:
            return cls()
        if data.get("method") != METHOD:
            raise ValueError(f"unknown calibration method {data.get('method')!r}")
        return cls(slope=float(data["slope"]), intercept=float(data["intercept"]))

