"""What training does for a multiclass model: class numbering, calibration, judging.

The label column holds class names; the booster (``multi:softprob``) numbers them
by their position in the model's ``classes`` (:func:`class_index`), and every class
must have fit rows (xgboost.spark counts the distinct labels to size the model,
so a missing class would renumber the others).

After the search the winner's margins are calibrated by temperature scaling
(:class:`lakeops.evaluate.multiclass.Temperature`) fitted on the validation rows
(the booster only chose when to stop on them), and judged on the untouched
holdout: accuracy, macro and weighted F1, macro one-vs-rest AUC, logloss and each
class's precision and recall, with the bootstrap spread of the metrics that
monitoring's CBPE bands are made of, and CBPE's own estimate of the holdout from its
probabilities alone (``ml.performance_reference``: how far the estimate can be trusted
for this version, as ``dle_mae`` is for a regression model).

The validation and holdout rows come to the driver with their feature columns
(a share of a few days of entities). Reads and writes no tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.evaluate import multiclass
from lakeops.evaluate.encoding import encode_arrow
from lakeops.evaluate.multiclass import Temperature

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)


def class_index(label: str, classes: Sequence[str]) -> Column:
    """The label's class number (double, as xgboost.spark takes labels): its position in ``classes``,
    -1 for a name that is not one of them."""
    from pyspark.sql import functions as F

    return (F.array_position(F.array(*[F.lit(c) for c in classes]), F.col(label)) - 1).cast("double")


@dataclass(frozen=True)
class Rows:
    """Labelled rows on the driver: encoded features and class indexes."""

    x: np.ndarray
    y: np.ndarray

    def margins(self, booster: xgboost.Booster) -> np.ndarray:
        """The booster's (rows, classes) margins."""
        if not len(self.y):
            return np.empty((0, 0))
        return np.asarray(booster.inplace_predict(self.x, predict_type="margin"), dtype=np.float64)


def driver_rows(df: DataFrame, *, label: str, features: list[str], categories: dict[str, list[str]],
                classes: Sequence[str]) -> Rows:
    """``df``'s labelled rows encoded as the model sees them."""
    table = pa.Table.from_pandas(df.select(label, *features).toPandas(), preserve_index=False)
    if not table.num_rows:
        return Rows(np.empty((0, len(features)), np.float32), np.empty(0, np.int64))
    batch = table.combine_chunks().to_batches()[0]
    return Rows(encode_arrow(batch, features, categories), multiclass.label_indexes(batch.column(label), classes))


@dataclass(frozen=True)
class Judged:
    """The winner calibrated on the validation rows and judged on the holdout."""

    calibration: Temperature
    validation: dict[str, float]
    holdout: dict[str, float]
    sampling: multiclass.MulticlassSampling
    #: CBPE on the holdout's probabilities alone, to set beside its realised metrics.
    cbpe: multiclass.MulticlassQuality

    def reference_row(self, classes: Sequence[str]) -> dict[str, Any]:
        """The multiclass columns of the version's ``ml.performance_reference`` row."""
        h = self.holdout
        return {
            "problem_type": "multiclass", "holdout_rows": int(h["n"]), "classes": list(classes),
            "accuracy": h["accuracy"], "logloss": h["logloss"], "auc": h["auc"], "f1": h["macro_f1"],
            "precision": h["macro_precision"], "recall": h["macro_recall"],
            "accuracy_sd": self.sampling.accuracy_sd, "auc_sd": self.sampling.auc_sd, "f1_sd": self.sampling.f1_sd,
            "calibration_temperature": self.calibration.temperature, "cbpe_accuracy": self.cbpe.accuracy,
            "cbpe_auc": self.cbpe.auc, "cbpe_f1": self.cbpe.macro_f1,
        }


def judge(*, validation_y: np.ndarray, validation_margin: np.ndarray, holdout: Rows, booster: xgboost.Booster,
          classes: Sequence[str], seed: int) -> Judged:
    """Fit the temperature on the validation rows (class indexes and the winner's margins, from the
    search); judge the calibrated model on the holdout."""
    calibration = Temperature.fit(validation_margin, validation_y, classes=classes)
    p_val = calibration.probabilities(validation_margin)
    margin = holdout.margins(booster)
    p_hold = calibration.probabilities(margin)
    raw_hold = Temperature(classes=tuple(classes)).probabilities(margin)
    h = multiclass.evaluate(holdout.y, p_hold, classes=classes)
    raw_logloss = multiclass.evaluate(holdout.y, raw_hold, classes=classes)["logloss"]
    log.info("holdout accuracy %.4f, macro F1 %.4f, macro AUC %.4f, logloss %.4f (%.4f before temperature %.3f)",
             h["accuracy"], h["macro_f1"], h["auc"], h["logloss"], raw_logloss, calibration.temperature)
    sampling = multiclass.sampling_reference(holdout.y, p_hold, classes=classes, seed=seed)
    unlabelled = np.full(len(holdout.y), -1, dtype=np.int64)
    cbpe = multiclass.estimated(multiclass.tally(probabilities=p_hold, labels=unlabelled), classes)
    log.info("CBPE on the holdout's probabilities: accuracy %.4f, macro AUC %.4f, macro F1 %.4f (realised %.4f, "
             "%.4f, %.4f)", cbpe.accuracy, cbpe.auc, cbpe.macro_f1, h["accuracy"], h["auc"], h["macro_f1"])
    return Judged(calibration, multiclass.evaluate(validation_y, p_val, classes=classes),
                  h | {"uncalibrated_logloss": raw_logloss}, sampling, cbpe)


def missing_classes(counts: dict[Any, int], classes: Sequence[str]) -> list[str]:
    """The classes with no fit row, from fit-row counts by class index."""
    return [c for i, c in enumerate(classes) if not counts.get(float(i))]
