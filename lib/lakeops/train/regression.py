"""What training does for a regression model after the search: interval, direct-loss estimator, judging.

The winning booster predicts the label (its margin is the prediction). Three things are
fitted on rows it never fit:

- the direct-loss estimator (DLE, :class:`lakeops.evaluate.regression.DirectLossEstimator`):
  two small boosters that predict a row's absolute and squared error from its features and
  its prediction, fitted on the validation rows (the booster only chose when to stop on
  them), so that monitoring can estimate MAE and RMSE before labels arrive;
- the split-conformal interval (:class:`lakeops.evaluate.interval.Conformal`): the
  ``train.interval_coverage`` quantile of the holdout's absolute residuals;
- and the judging: holdout MAE, RMSE, R2 and the DLE's own estimate of the holdout's MAE
  and RMSE, which the version records (``ml.performance_reference``) so that a reader sees
  how far the estimator can be trusted.

The rows these need come to the driver with their feature columns: a holdout and a
validation share of a few days of entities. Reads and writes no tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.evaluate import regression
from lakeops.evaluate.encoding import encode_arrow
from lakeops.evaluate.interval import Conformal

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rows:
    """Rows on the driver: encoded features, labels and the booster's predictions."""

    x: np.ndarray
    y: np.ndarray
    prediction: np.ndarray


def driver_rows(df: DataFrame, booster: xgboost.Booster, *, label: str, features: list[str],
                categories: dict[str, list[str]]) -> Rows:
    """``df``'s labelled rows encoded as the model sees them, with its predictions."""
    table = pa.Table.from_pandas(df.select(label, *features).toPandas(), preserve_index=False)
    batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
    if batch is None:
        return Rows(np.empty((0, len(features)), np.float32), np.empty(0), np.empty(0))
    x = encode_arrow(batch, features, categories)
    prediction = booster.inplace_predict(x, predict_type="margin").astype(np.float64)
    return Rows(x, batch.column(label).to_numpy(zero_copy_only=False).astype(np.float64), prediction)


@dataclass(frozen=True)
class Judged:
    """The winner's interval, estimator and holdout figures."""

    interval: Conformal
    dle: regression.DirectLossEstimator
    validation: dict[str, float]
    holdout: dict[str, float]
    reference: regression.DleReference
    dle_holdout: regression.Estimated

    def reference_row(self) -> dict[str, Any]:
        """The regression columns of the version's ``ml.performance_reference`` row."""
        h = self.holdout
        return {
            "problem_type": "regression", "holdout_rows": int(h["n"]), "mae": h["mae"], "rmse": h["rmse"],
            "r2": h["r2"], "label_mean": h["label_mean"], "abs_error_sd": self.reference.abs_error_sd,
            "squared_error_sd": self.reference.squared_error_sd,
            "interval_coverage_target": self.interval.coverage, "interval_half_width": self.interval.half_width,
            "dle_mae": self.dle_holdout.mae, "dle_rmse": self.dle_holdout.rmse,
        }


def judge(*, validation: Rows, holdout: Rows, coverage: float, seed: int) -> Judged:
    """Fit the DLE on ``validation``, the interval on ``holdout``, and judge both on the holdout."""
    dle = regression.DirectLossEstimator.fit(regression.dle_inputs(validation.x, validation.prediction),
                                             validation.prediction - validation.y, seed=seed)
    residual = holdout.prediction - holdout.y
    interval = Conformal(half_width=regression.conformal_half_width(np.abs(residual), coverage=coverage),
                         coverage=coverage)
    est_abs, est_sq = dle.predict(regression.dle_inputs(holdout.x, holdout.prediction))
    columns = interval.columns(holdout.prediction)
    t = regression.tally(prediction=holdout.prediction, label=holdout.y, lower=columns["prediction_lower"],
                         upper=columns["prediction_upper"], est_abs=est_abs, est_sq=est_sq)
    reference = regression.DleReference.from_residuals(residual)
    real = regression.realised(t)
    holdout_metrics = regression.as_metrics(real) | {"interval_coverage": real.coverage}
    estimate = regression.estimated(t, reference)
    log.info("holdout MAE %.4g (DLE estimate %.4g), RMSE %.4g (%.4g), R2 %.3f; %.0f%% interval +-%.4g covers %.1f%%",
             real.mae, estimate.mae, real.rmse, estimate.rmse, real.r2, 100 * coverage, interval.half_width,
             100 * real.coverage)
    vt = regression.realised(regression.tally(prediction=validation.prediction, label=validation.y))
    return Judged(interval, dle, regression.as_metrics(vt), holdout_metrics, reference, estimate)
