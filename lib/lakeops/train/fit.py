"""Distributed XGBoost on Spark (``xgboost.spark``), one trial at a time.

Each trial is a ``SparkXGBClassifier`` (binary: ``scale_pos_weight`` set from the
class balance; multiclass: ``multi:softprob``) or ``SparkXGBRegressor`` (regression: squared error) fit with
barrier-mode workers and early stopping on the rows flagged for validation. xgboost.spark gives every worker ``spark.task.cpus``
threads; :func:`check_workers` makes sure the session has a slot for every
worker before a barrier stage would wait forever. :func:`candidates` draws the
trials and :func:`best_trial` picks the winner (both without Spark). Reads and
writes no tables.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lakeops.config import ParamValue, TrainConfig
from lakeops.errors import LakeopsError
from lakeops.train.data import VALIDATION, WEIGHT

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

def check_workers(spark: SparkSession, num_workers: int) -> int:
    """Threads per worker (``spark.task.cpus``); raise when the workers cannot all run at once."""
    cpus = int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))
    slots = spark.sparkContext.defaultParallelism // cpus
    if num_workers < 1 or num_workers > slots:
        raise LakeopsError(
            f"train.num_workers={num_workers} but the session runs {slots} task(s) at once "
            f"({spark.sparkContext.defaultParallelism} cores / spark.task.cpus={cpus}); barrier-mode training "
            "needs a slot per worker: lower num_workers or give Spark more cores"
        )
    return cpus


def candidates(cfg: TrainConfig) -> list[dict[str, ParamValue]]:
    """Trial parameters: the base params first, then random draws from the search space.

    Values keep the types the config gave them (``max_depth: 6`` an int, ``grow_policy:
    lossguide`` a string), which is what XGBoost wants (see ``lakeops.config.schema.Param``).
    """
    # Reserved parameters (lakeops.config.RESERVED_TRAIN_PARAMS) were refused when the config was loaded.
    base = dict(cfg.params)
    trials = [base]
    rng = random.Random(cfg.search.seed)
    seen = {tuple(sorted(base.items()))}
    attempts = 0
    while len(trials) < cfg.search.trials and attempts < 100 * cfg.search.trials:
        attempts += 1
        draw = {**base, **{k: rng.choice(v) for k, v in sorted(cfg.search.space.items())}}
        key = tuple(sorted(draw.items()))
        if key not in seen:
            seen.add(key)
            trials.append(draw)
    return trials


def best_trial(scores: Sequence[float], *, direction: Literal["maximize", "minimize"] = "maximize") -> int | None:
    """The index of the best of the trials' validation ``scores`` (in trial order), or None
    when none of them is a number.

    A NaN score (an AUC on validation rows of one class) never wins. On a tie the earlier
    trial wins: the base parameters come first (:func:`candidates`), and a later draw has
    to do strictly better to replace them.
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    sign = 1.0 if direction == "maximize" else -1.0
    best: int | None = None
    for i, score in enumerate(scores):
        if math.isnan(score):
            continue
        if best is None or sign * score > sign * scores[best]:
            best = i
    return best


def fit(
    train: DataFrame,
    *,
    features: Sequence[str],
    label: str,
    cfg: TrainConfig,
    params: Mapping[str, Any],
    objective: str = "binary:logistic",
    scale_pos_weight: float | None = None,
) -> xgboost.Booster:
    """Fit one model on encoded rows; returns its booster (trimmed to the best iteration).

    ``objective`` is the problem type's (:mod:`lakeops.evaluate.problems`): ``binary:logistic`` fits a
    classifier (early stopping on logloss), ``reg:squarederror`` a regressor (early stopping on RMSE).
    """
    from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

    common: dict[str, Any] = {
        "features_col": list(features),
        "label_col": label,
        "validation_indicator_col": VALIDATION,
        # Rows of a change a retrain answers weigh more (lakeops.train.data.change_weight).
        **({"weight_col": WEIGHT} if WEIGHT in train.columns else {}),
        "num_workers": cfg.num_workers,
        "early_stopping_rounds": cfg.early_stopping_rounds,
        "missing": np.nan,
        "tree_method": "hist",
        "verbose": False,  # per-iteration eval lines; the trial's outcome is logged instead
    }
    estimator: SparkXGBClassifier | SparkXGBRegressor
    if objective.startswith("reg:"):
        estimator = SparkXGBRegressor(**common, objective=objective, eval_metric="rmse", **params)
    elif objective == "multi:softprob":
        # xgboost.spark sets the objective and num_class from the distinct labels (checked by the caller).
        estimator = SparkXGBClassifier(**common, eval_metric="mlogloss", **params)
    elif objective == "binary:logistic":
        weight: dict[str, Any] = {} if scale_pos_weight is None else {"scale_pos_weight": scale_pos_weight}
        estimator = SparkXGBClassifier(**common, eval_metric="logloss", **weight, **params)
    else:
        raise ValueError(f"no estimator for objective {objective!r}")
    booster = estimator.fit(train).get_booster()
    best = booster.best_iteration if booster.attr("best_iteration") is not None else None
    if best is not None:
        booster = booster[: best + 1]
    log.info("trial %s: %d trees", dict(params), booster.num_boosted_rounds())
    return booster
