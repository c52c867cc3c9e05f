"""What differs between problem types, stated once per type: the seam every stage asks.

A model's config says its ``problem_type`` (:data:`lakeops.constants.PROBLEM_TYPES`);
:func:`problem` gives the :class:`ProblemType` that answers, for that type:

- the XGBoost objective, and the metric trials are compared on;
- the metrics of a set of rows (:meth:`ProblemType.evaluate`), which the champion gate's
  thresholds may name, and which way each is better (:attr:`ProblemType.metrics`);
- the stored output mapping (:func:`output_from_dict`: Platt for binary, a conformal
  interval for regression, temperature scaling for multiclass);
- the label's values as numbers (:meth:`ProblemType.label_values`: a multiclass label is
  a class name, numbered by its position in the model's ``classes``).

The label's type and the columns scoring writes are the table contracts'
(:data:`lakeops.lake.tables.LABEL_TYPES` and ``OUTPUT_FIELDS``); which of them drift
watches is :data:`lakeops.constants.OUTPUT_COLUMNS`.

A stage that needs more (training's calibration, monitoring's estimator) keeps one
table keyed by problem type in its own package; a new type adds an entry there and
one class here, without touching the others. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakeops.constants import PROBLEM_METRICS
from lakeops.evaluate import metrics, multiclass, regression
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.interval import Conformal
from lakeops.evaluate.multiclass import Temperature

#: The stored output of a model version: what maps its booster's margin to what is scored.
Output = Platt | Conformal | Temperature


@dataclass(frozen=True)
class ProblemType:
    """One problem type's answers (see the module docstring)."""

    name: str
    objective: str
    #: What trials are compared on, and whether higher is better.
    trial_metric: str
    #: Every metric :meth:`evaluate` returns that a gate threshold may name -> higher is better.
    metrics: Mapping[str, bool] = field(default_factory=dict)

    def evaluate(self, y: np.ndarray, output: np.ndarray, *, threshold: float | None = None,
                 classes: tuple[str, ...] = ()) -> dict[str, float]:
        raise NotImplementedError

    def label_values(self, labels: np.ndarray, *, classes: tuple[str, ...] = ()) -> np.ndarray:
        """The label column's values as :meth:`evaluate` takes them (float64; NaN where missing)."""
        return np.asarray(labels, dtype=np.float64)

    def higher_is_better(self, metric: str) -> bool:
        try:
            return self.metrics[metric]
        except KeyError:
            raise ValueError(f"{self.name} models have no metric {metric!r} (known: {', '.join(self.metrics)})") from None


@dataclass(frozen=True)
class Binary(ProblemType):
    def evaluate(self, y: np.ndarray, output: np.ndarray, *, threshold: float | None = None,
                 classes: tuple[str, ...] = ()) -> dict[str, float]:
        e = metrics.evaluate(y, output, threshold=0.5 if threshold is None else threshold)
        return {k: float(v) for k, v in e.as_dict().items()}


@dataclass(frozen=True)
class Regression(ProblemType):
    def evaluate(self, y: np.ndarray, output: np.ndarray, *, threshold: float | None = None,
                 classes: tuple[str, ...] = ()) -> dict[str, float]:
        return regression.as_metrics(regression.realised(regression.tally(
            prediction=np.asarray(output, dtype=np.float64), label=np.asarray(y, dtype=np.float64))))


@dataclass(frozen=True)
class Multiclass(ProblemType):
    """``output`` is the (rows, classes) probabilities; ``y`` the class indexes (:meth:`label_values`)."""

    def evaluate(self, y: np.ndarray, output: np.ndarray, *, threshold: float | None = None,
                 classes: tuple[str, ...] = ()) -> dict[str, float]:
        if not len(y):
            raise ValueError("no rows to evaluate")
        return multiclass.evaluate(np.asarray(y, dtype=np.int64), np.asarray(output, dtype=np.float64),
                                   classes=classes)

    def label_values(self, labels: np.ndarray, *, classes: tuple[str, ...] = ()) -> np.ndarray:
        """Class indexes (int64): a name's position in ``classes``, -1 for a missing or unknown one."""
        return multiclass.label_indexes(labels, classes)


BINARY = Binary(
    name="binary", objective="binary:logistic", trial_metric="auc",
    metrics=PROBLEM_METRICS["binary"],
)
REGRESSION = Regression(
    name="regression", objective="reg:squarederror", trial_metric="rmse",
    metrics=PROBLEM_METRICS["regression"],
)

MULTICLASS = Multiclass(
    name="multiclass", objective="multi:softprob", trial_metric="logloss",
    metrics=PROBLEM_METRICS["multiclass"],
)

_TYPES: dict[str, ProblemType] = {p.name: p for p in (BINARY, REGRESSION, MULTICLASS)}


def problem(name: str) -> ProblemType:
    """The problem type called ``name`` (a model's ``problem_type``)."""
    try:
        return _TYPES[name]
    except KeyError:
        raise ValueError(f"unknown problem type {name!r}; lakeops knows {', '.join(_TYPES)}") from None


def output_from_dict(data: dict[str, Any] | None) -> Output:
    """A model version's stored output mapping; a model logged before outputs were typed is binary."""
    if data and data.get("method") == "conformal":
        return Conformal.from_dict(data)
    if data and data.get("method") == multiclass.METHOD:
        return Temperature.from_dict(data)
    return Platt.from_dict(data)
