"""Out-of-fold margins for calibrating on more rows than the validation split holds.

A binary model's Platt calibrator is fitted on rows its booster did not fit. The
validation rows are such rows, but on a small fleet they hold a few dozen positives,
and a slope fitted on those moves every probability, and with them every CBPE
estimate. Cross-fitting adds the fit rows: each fold of them gets margins from a
booster with the winner's parameters and number of trees, fitted on the other folds
(scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does the same). Folds
group rows by entity, so a host's other days never score it.

Runs on the driver with plain XGBoost: it is only needed when the window is small.
Reads and writes no tables.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xgboost

#: Training parameters of a booster that are not tree-growing ones, or that plain ``xgboost.train`` refuses empty.
_SKIPPED = {"monotone_constraints", "interaction_constraints"}


def training_params(booster: xgboost.Booster) -> dict[str, str]:
    """The parameters ``booster`` was grown with (objective, tree parameters, class weight), as XGBoost
    records them in its configuration."""
    learner = json.loads(booster.save_config())["learner"]
    trees = learner["gradient_booster"].get("tree_train_param", {})
    params = {k: v for k, v in trees.items() if k not in _SKIPPED and v not in ("", "()")}
    params["objective"] = learner["objective"]["name"]
    params.update(learner["objective"].get("reg_loss_param", {}))  # scale_pos_weight
    params["tree_method"] = "hist"
    return params


def entity_folds(groups: np.ndarray, *, folds: int) -> np.ndarray:
    """Each row's fold from its entity's hash: every row of an entity lands in one fold."""
    if folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {folds}")
    return (np.asarray(groups, dtype=np.uint64) % np.uint64(folds)).astype(np.int64)


def out_of_fold_margins(x: np.ndarray, y: np.ndarray, *, fold: np.ndarray, booster: xgboost.Booster,
                        seed: int = 0, nthread: int = 1) -> np.ndarray:
    """Each row's margin from a booster grown like ``booster`` (its parameters and number of trees) on the
    rows of the other folds. ``x``: (rows, features) as the booster takes them; NaN is missing."""
    import xgboost

    x = np.asarray(x, dtype=np.float32)
    labels = np.asarray(y, dtype=np.float64)
    params = {**training_params(booster), "seed": seed, "nthread": nthread}
    rounds = booster.num_boosted_rounds()
    out = np.full(len(labels), np.nan)
    for k in np.unique(fold):
        held = fold == k
        if held.all():
            raise ValueError("every row is in one fold: cross-fitting needs rows of more than one entity")
        grown = xgboost.train(params, xgboost.DMatrix(x[~held], label=labels[~held], missing=np.nan),
                              num_boost_round=rounds)
        out[held] = grown.predict(xgboost.DMatrix(x[held], missing=np.nan), output_margin=True)
    return out
