"""Attribution drift: which features drive the score now, against what drove it at training.

Reads ``features.<model>`` (the monitored days, at the run's pinned version: a
seeded sample of each day, inside tasks), ``ml.attribution_reference`` (of the
version that scored each day) and the MLflow registry (that version's booster
and encoding). Writes nothing itself: :func:`lakeops.monitor.run.monitor` writes
the ``ml.attribution_drift`` rows this returns, in the same run as drift.

One Spark job (:meth:`lakeops.lake.Lake.reduce_partitions`; the driver for a few rows): each task samples
its batches by a hash of the entity keys and ``ds``
(:func:`lakeops.evaluate.attribution.sample_mask`, at a per-day rate that
keeps about ``monitor.attribution_sample_rows`` rows), explains them with the
booster of the version that scored that day and returns per-feature sums of
|SHAP|; nothing but those sums reaches the driver. A day is ``alert`` when the
nDCG of its ranking against the reference falls below
``monitor.attribution_ndcg_alert``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.evaluate.attribution import Attributor, compare, mean_abs_shap, merge, ndcg, sample_mask, sample_rate
from lakeops.lake import Scan
from lakeops.lake.tables import ATTRIBUTION_REFERENCE, features_table

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayAttribution:
    """One monitored day's attribution drift, for the run's summary."""

    ds: date
    model_version: int
    ndcg: float
    status: str  # ok | alert
    #: The features whose share of the attribution moved most, largest first.
    movers: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class DayExplainer:
    """The task-side function: a batch of one day's features -> ``{ds: AttributionSum}`` of its sample,
    explained by the booster of the version that scored the day."""

    explainers: Mapping[int, Attributor]
    versions: Mapping[date, int]
    rates: Mapping[date, float]
    keys: tuple[str, ...]

    def __call__(self, table: str, batch: pa.RecordBatch, partition: Mapping[str, Any],
                 columns: tuple[str, ...]) -> dict:
        ds = partition["ds"]
        kept = batch.filter(pa.array(sample_mask(batch, self.keys, ds, self.rates[ds])))
        return {ds: self.explainers[self.versions[ds]](kept)}


def attribution_drift(
    lake: Lake,
    model: ModelConfig,
    *,
    days: Sequence[date],
    versions: Mapping[date, int],
    rows: Mapping[date, int],
    features_version: int | None,
    mlflow_cfg: MlflowConfig,
) -> tuple[list[dict[str, Any]], dict[date, DayAttribution]]:
    """``ml.attribution_drift`` rows of ``days`` and a summary per day.

    Args:
        versions: the model version that scored each day.
        rows: each day's row count (sets the day's sampling rate).
        features_version: the pinned version of ``features.<model>`` the run reads.

    Days scored by a version without an attribution reference (trained before
    lakeops froze one) get no rows; a warning names them.
    """
    started = time.monotonic()
    references = {v: _reference(lake, model.name, v) for v in sorted(set(versions.values()))}
    days = _with_reference(model.name, days, versions, references)
    if not days:
        return [], {}
    explainers = _explainers(lake, model, sorted({versions[d] for d in days}), mlflow_cfg)
    keys = tuple(model.entity_keys)
    columns = tuple(dict.fromkeys([*keys, *(f for e in explainers.values() for f in e.features)]))
    rates = {d: sample_rate(model.monitor.attribution_sample_rows, rows[d]) for d in days}
    # All of a day's features must reach one call: the scan's one own column keeps each task on whole rows.
    scan = Scan(features_table(model.name), {"ds": days}, keys[:1], version=features_version, context=columns)
    sums = lake.reduce_partitions([scan], DayExplainer(explainers, dict(versions), rates, keys), merge) or {}

    out: list[dict[str, Any]] = []
    summary: dict[date, DayAttribution] = {}
    for d in days:
        total = sums.get(d)
        if total is None or total.rows == 0:
            log.warning("%s %s: no rows sampled for attribution drift", model.name, d)
            continue
        rows_of_day, summary[d] = _judge(model, d, versions[d], references[versions[d]], total, explainers)
        out += rows_of_day
    log.info("%s: attribution drift of %d day(s) (%d rows explained) in %.1fs", model.name, len(summary),
             sum(s.rows for s in summary.values()), time.monotonic() - started)
    return out, summary


def _with_reference(model_name: str, days: Sequence[date], versions: Mapping[date, int],
                    references: Mapping[int, dict[str, float]]) -> list[date]:
    """The days whose scoring version has an attribution reference; a warning names the others."""
    absent = sorted(v for v, r in references.items() if not r)
    if absent:
        log.warning("%s: version(s) %s have no %s (trained before it existed): no attribution drift for %s",
                    model_name, ", ".join(map(str, absent)), ATTRIBUTION_REFERENCE.name,
                    ", ".join(str(d) for d in days if versions[d] in absent))
    return [d for d in days if references[versions[d]]]


def _explainers(lake: Lake, model: ModelConfig, versions: list[int], mlflow_cfg: MlflowConfig) -> dict[int, Attributor]:
    """An attributor per registered model version, from its booster."""
    registry.setup(mlflow_cfg, lake.root)
    explainers = {}
    for v in versions:
        loaded = registry.load(model.name, version=v)
        explainers[v] = Attributor.from_booster(loaded.booster, features=loaded.features,
                                                categories=loaded.categories)
    return explainers


def _judge(
    model: ModelConfig, d: date, version: int, reference: dict[str, float], total: Any,
    explainers: Mapping[int, Attributor],
) -> tuple[list[dict[str, Any]], DayAttribution]:
    """A day's ``ml.attribution_drift`` rows and summary: the live ranking against the reference's."""
    threshold = model.monitor.attribution_ndcg_alert
    live = mean_abs_shap(total, explainers[version].features)
    score = ndcg(reference, live)
    status = "alert" if score < threshold else "ok"
    compared = compare(reference, live)
    rows = [{"ds": d, "model_name": model.name, "model_version": version, **row, "ndcg": score, "status": status,
             "threshold": threshold, "n_rows": total.rows} for row in compared]
    movers = tuple(r["feature"] for r in sorted((r for r in compared if r["mover"]), key=lambda r: r["mover"]))
    return rows, DayAttribution(d, version, score, status, movers, total.rows)


def _reference(lake: Lake, model_name: str, version: int) -> dict[str, float]:
    """A version's training attribution, feature -> mean |SHAP| (empty when it has none)."""
    if not lake.exists(ATTRIBUTION_REFERENCE.name):
        return {}
    found = lake.read_arrow(ATTRIBUTION_REFERENCE.name, where={"model_name": [model_name], "model_version": [version]})
    return dict(zip(found.column("feature").to_pylist(), found.column("mean_abs_shap").to_pylist(), strict=True))
