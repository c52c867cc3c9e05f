"""Whether a model version's performance estimator can be trusted: its check at training.

CBPE (binary and multiclass) estimates a day's AUC, F1 and accuracy from the
calibrated probabilities alone; DLE (regression) estimates MAE and RMSE from the
features and predictions. Both are only as good as what they were fitted on: a
Platt calibrator fitted on a few hundred rows, or one temperature for many rare
classes, moves every estimate. So training runs the estimator on the holdout, as
if its labels had not arrived, and records the estimate beside the realised value
(``ml.performance_reference``: ``cbpe_auc`` beside ``auc``, ``dle_mae`` beside
``mae``, ...).

The check passes when each estimate lies within the band monitoring draws around a
day's estimate (:data:`lakeops.evaluate.binary.BAND_SIGMAS` sampling standard
deviations at the holdout's size) of the realised value: the holdout is then a day
on which the estimator would have been right. A version that fails is still scored
and monitored; its estimates are shown with a warning, and the alert rules on
estimates abstain for it (the realised rules still watch it).

The estimate a rule compares a day's estimate with is the estimator's own
holdout value (:func:`estimate_reference`): a bias the estimator has on this
model's data then cancels instead of reading as a drop.

Pure: from a ``ml.performance_reference`` row (a mapping) to a verdict. Reads and
writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lakeops.evaluate.binary import BAND_SIGMAS

#: Per problem type: (metric, the estimator's holdout value of it) as ml.performance_reference names them.
ESTIMATES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "binary": (("auc", "cbpe_auc"), ("f1", "cbpe_f1")),
    "multiclass": (("accuracy", "cbpe_accuracy"), ("auc", "cbpe_auc"), ("f1", "cbpe_f1")),
    "regression": (("mae", "dle_mae"), ("rmse", "dle_rmse")),
}


@dataclass(frozen=True)
class Gap:
    """One metric on the holdout: realised, estimated, and how far apart they may be by sampling alone."""

    metric: str
    realised: float
    estimated: float
    allowed: float

    @property
    def ok(self) -> bool:
        return abs(self.estimated - self.realised) <= self.allowed


@dataclass(frozen=True)
class EstimatorCheck:
    """The verdict on a version's estimator. ``trusted`` is None when it was not checked (a version
    trained before lakeops ran the check): such a version is treated as before, as trusted."""

    trusted: bool | None
    gaps: tuple[Gap, ...] = ()

    @property
    def failed(self) -> bool:
        return self.trusted is False

    def summary(self) -> str:
        if self.trusted is None:
            return "estimator not checked at training (a version trained before the check)"
        parts = [f"{g.metric} estimated {g.estimated:.4g} vs realised {g.realised:.4g} "
                 f"({'within' if g.ok else 'outside'} ±{g.allowed:.3g})" for g in self.gaps]
        return f"estimator {'passed' if self.trusted else 'FAILED'} its check on the holdout: " + "; ".join(parts)


def check_estimator(reference: Mapping[str, Any]) -> EstimatorCheck:
    """Whether the estimator's holdout estimates (``cbpe_*``, ``dle_*``) fall within the sampling band
    of the realised holdout values, from a ``ml.performance_reference`` row."""
    problem_type = reference.get("problem_type") or "binary"
    rows = _number(reference.get("holdout_rows"))
    gaps = []
    for metric, estimate_column in ESTIMATES.get(problem_type, ()):
        realised, estimated = _number(reference.get(metric)), _number(reference.get(estimate_column))
        sd = _sd(reference, metric, rows)
        if realised is None or estimated is None or sd is None:
            continue
        gaps.append(Gap(metric, realised, estimated, BAND_SIGMAS * sd))
    if not gaps:
        return EstimatorCheck(None)
    return EstimatorCheck(all(g.ok for g in gaps), tuple(gaps))


def estimate_reference(reference: Mapping[str, Any], metric: str) -> float | None:
    """What a day's *estimate* of ``metric`` is compared with: the estimator's own holdout value when
    the version recorded one, else the realised holdout value."""
    problem_type = reference.get("problem_type") or "binary"
    column = dict(ESTIMATES.get(problem_type, ())).get(metric)
    own = _number(reference.get(column)) if column else None
    return own if own is not None else _number(reference.get(metric))


def _sd(reference: Mapping[str, Any], metric: str, rows: float | None) -> float | None:
    """The metric's sampling standard deviation at the holdout's size."""
    if metric in ("mae", "rmse"):
        # Standard errors of a mean at ``rows`` rows; RMSE's by the delta method (d sqrt(m) = dm / 2 sqrt(m)).
        sd = _number(reference.get("abs_error_sd" if metric == "mae" else "squared_error_sd"))
        if sd is None or not rows:
            return None
        se = sd / math.sqrt(rows)
        if metric == "rmse":
            rmse = _number(reference.get("rmse"))
            return se / (2 * rmse) if rmse else None
        return se
    return _number(reference.get(f"{metric}_sd"))  # bootstrap of the holdout, at its size


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
