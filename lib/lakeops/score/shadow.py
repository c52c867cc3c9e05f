"""Shadow scoring's read-out: the champion and the challenger on the same days, once labels arrived.

Reads, for the days asked for, ``predictions.<model>`` (what the champion served),
``shadow.<model>`` (what the challenger scored beside it, :func:`lakeops.score.run.score`
with ``shadow``), the label column of ``features.<model>`` and each version's decision
threshold from ``ml.performance_reference``; all through Arrow, no Spark. Writes
nothing. The per-day metrics are :func:`lakeops.evaluate.shadow.compare`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from lakeops.config import ModelConfig
from lakeops.evaluate.shadow import DayComparison, compare
from lakeops.lake.tables import PERFORMANCE_REFERENCE, features_table, predictions_table, shadow_table

if TYPE_CHECKING:
    from lakeops.lake import Lake


def compare_shadow(lake: Lake, model: ModelConfig, *, days: Sequence[date]) -> list[DayComparison]:
    """Per day of ``days`` with served and shadow scores and labels: both versions' realised metrics."""
    days = sorted(set(days))
    tables = predictions_table(model.name), shadow_table(model.name), features_table(model.name)
    if not days or not all(lake.exists(t) for t in tables):
        return []
    served, shadow, features = (lake.read_arrow(t, where={"ds": days}) for t in tables)
    if not served.num_rows or not shadow.num_rows:
        return []
    versions = sorted({*served.column("model_version").to_pylist(), *shadow.column("model_version").to_pylist()})
    thresholds = {}
    if model.problem_type == "binary" and lake.exists(PERFORMANCE_REFERENCE.name):
        where = {"model_name": [model.name], "model_version": versions}
        thresholds = {r["model_version"]: r["threshold"]
                      for r in lake.read_arrow(PERFORMANCE_REFERENCE.name, where=where).to_pylist()
                      if r["threshold"] is not None}
    return compare(served=served, shadow=shadow, labels=features, keys=list(model.entity_keys), label=model.label,
                   problem_type=model.problem_type, classes=model.classes, thresholds=thresholds)
