"""Model performance per day and slice: realised once labels arrive, estimated (CBPE) before they do.

Reads ``predictions.<model>`` (scores and decisions of the version that scored
each day), ``features.<model>`` (labels and slice columns), its Delta log (which
days' labels changed since they were last measured), ``ml.performance_reference``
(each version's sampling variation, for the bands) and ``ml.performance_metrics``
(the features version each day was last measured at). Writes the
``(model_name, ds)`` partitions of ``ml.performance_metrics`` it measured.

One Spark job joins the two tables on ``ds`` and the entity keys, tallies each
task's batches into score histograms (:func:`lakeops.evaluate.binary.tally`)
and sums them per day, slice and cell; only the non-empty cells reach the
driver (:mod:`lakeops.monitor.joined`: a small fleet's day is tallied on the
driver). Every day asked for is measured, and so is every earlier day whose
features partition changed since it was last measured (late labels filled in
by a re-prepare), with the scores stored for that day. A rerun writes the same
rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.config import MlflowConfig, ModelConfig
from lakeops.constants import ESTIMATED, REALISED
from lakeops.evaluate import binary
from lakeops.evaluate.scoring import SCORE
from lakeops.lake.tables import PERFORMANCE_METRICS, PERFORMANCE_REFERENCE, features_table
from lakeops.monitor.joined import tally_joined
from lakeops.tally.bins import NULL, OTHER

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

_DECISION = "prediction"
#: A (ds, slice_key, slice_value) population.
Population = tuple[date, str | None, str | None]


@dataclass(frozen=True)
class Measured:
    """What measuring some days gives: rows of ``ml.performance_metrics`` and a summary per day; a
    multiclass model's also rows of ``ml.class_metrics`` and ``ml.confusion_matrix``."""

    metrics: list[dict[str, Any]]
    days: list[DayPerformance]
    classes: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DayPerformance:
    """The whole population's performance on one day, for the run's summary lines: the headline metric
    (AUC for a binary model, MAE for a regression model) estimated, with its band, and realised."""

    ds: date
    metric: str
    estimated: float
    lower: float | None
    upper: float | None
    realised: float | None
    label_coverage: float
    #: Regression: the share of the realised labels inside the stored prediction interval.
    coverage: float | None = None


def late_days(lake: Lake, model: ModelConfig, *, before: date, features_version: int) -> set[date]:
    """Days before ``before`` whose features partition changed since they were last measured."""
    measured = _last_measured_version(lake, model.name)
    if measured is None or measured >= features_version:
        return set()
    changed = lake.changed_partitions(features_table(model.name), after=measured, upto=features_version)
    return {p["ds"] for p in changed if p["ds"] < before}


def _last_measured_version(lake: Lake, model_name: str) -> int | None:
    if not lake.exists(PERFORMANCE_METRICS.name):
        return None
    found = lake.read_arrow(PERFORMANCE_METRICS.name,
                            where={"model_name": [model_name]}).column("features_version").to_pylist()
    found = [v for v in found if v is not None]
    return max(found) if found else None


def measure(lake: Lake, model: ModelConfig, *, days: Sequence[date], versions: Mapping[date, int],
            pinned: Mapping[str, int | None], slices: Mapping[str, Sequence[str]],
            mlflow_cfg: MlflowConfig | None = None) -> Measured:
    """The ``ml.performance_metrics`` rows of ``days`` (each scored by ``versions[day]``), and a summary per day: a binary
    model's here (CBPE), a regression model's in :mod:`lakeops.monitor.performance_regression` (DLE), a
    multiclass model's in :mod:`lakeops.monitor.performance_multiclass` (CBPE one-vs-rest)."""
    if model.problem_type == "regression":
        from lakeops.monitor.performance_regression import measure_regression

        return Measured(*measure_regression(lake, model, days=days, versions=versions, pinned=pinned, slices=slices,
                                            mlflow_cfg=mlflow_cfg))
    if model.problem_type == "multiclass":
        from lakeops.monitor.performance_multiclass import measure_multiclass

        return measure_multiclass(lake, model, days=days, versions=versions, pinned=pinned, slices=slices)
    histograms = _histograms(lake, model, days=days, pinned=pinned, slices=slices)
    references = _references(lake, model.name, sorted(set(versions.values())))
    features_version = pinned[features_table(model.name)]
    rows, summary = [], []
    for (ds, key, value), h in sorted(histograms.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")):
        version = versions[ds]
        reference = references.get(version)
        threshold = reference["threshold"] if reference else None
        estimate = binary.estimated(h)
        est_row = _row(ds, model.name, version, ESTIMATED, key, value, estimate, threshold)
        if reference is not None:
            sampling = reference["sampling"]
            est_row["auc_lower"], est_row["auc_upper"] = sampling.band("auc", estimate.auc, estimate.n_scored)
            est_row["f1_lower"], est_row["f1_upper"] = sampling.band("f1", estimate.f1, estimate.n_scored)
        rows.append(est_row)
        real_row = None
        if h.n_labeled:
            real = binary.realised(h)
            real_row = _row(ds, model.name, version, REALISED, key, value, real, threshold)
            real_row["features_version"] = features_version
            if real.n_labeled == real.n_scored and est_row["auc_lower"] is not None:
                real_row["estimated_auc"], real_row["estimated_f1"] = estimate.auc, estimate.f1
                real_row["auc_in_band"] = within(real.auc, est_row["auc_lower"], est_row["auc_upper"])
                real_row["f1_in_band"] = within(real.f1, est_row["f1_lower"], est_row["f1_upper"])
            rows.append(real_row)
        else:
            # The day was measured at this features version even with no labels yet.
            est_row["features_version"] = features_version
        if key is None:
            summary.append(DayPerformance(ds, "AUC", estimate.auc, est_row["auc_lower"], est_row["auc_upper"],
                                      real_row["auc"] if real_row else None,
                                      h.n_labeled / h.n_scored if h.n_scored else 0.0))
    return Measured(rows, summary)


def within(value: float, lower: float, upper: float) -> bool | None:
    if value != value or lower != lower or upper != upper:  # NaN: one class only, nothing to judge
        return None
    return bool(lower <= value <= upper)


def _row(ds: date, model_name: str, version: int, kind: str, key: str | None, value: str | None,
         q: binary.Quality, threshold: float | None) -> dict[str, Any]:
    row = dict.fromkeys(PERFORMANCE_METRICS.schema.names)
    row.update(
        ds=ds, model_name=model_name, model_version=version, kind=kind, slice_key=key, slice_value=value,
        n_scored=q.n_scored, n_labeled=q.n_labeled,
        label_coverage=q.n_labeled / q.n_scored if q.n_scored else None, positive_rate=q.positive_rate,
        threshold=threshold, auc=q.auc, pr_auc=q.pr_auc, logloss=q.logloss, brier=q.brier, ece=q.ece,
        precision=q.precision, recall=q.recall, f1=q.f1,
    )
    return nan_to_null(row)


def nan_to_null(row: dict[str, Any]) -> dict[str, Any]:
    """NaN means "not defined here" (no labels, one class, constant labels): SQL users get null."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}


def _references(lake: Lake, model_name: str, versions: list[int]) -> dict[int, dict[str, Any]]:
    if not versions or not lake.exists(PERFORMANCE_REFERENCE.name):
        return {}
    found = {}
    for r in lake.read_arrow(PERFORMANCE_REFERENCE.name,
                             where={"model_name": [model_name], "model_version": versions}).to_pylist():
        found[r["model_version"]] = {
            "threshold": r["threshold"],
            "sampling": binary.SamplingReference(rows=r["holdout_rows"], auc_sd=r["auc_sd"], f1_sd=r["f1_sd"],
                                               precision_sd=r["precision_sd"], recall_sd=r["recall_sd"]),
        }
    missing = [v for v in versions if v not in found]
    if missing:
        log.warning("%s v%s has no %s row (trained before lakeops measured it): its estimates have no band",
                    model_name, ",".join(map(str, missing)), PERFORMANCE_REFERENCE.name)
    return found


# --- the Spark job ------------------------------------------------------------------------------------

_CELLS = pa.schema([("ds", pa.date32()), ("slice_key", pa.string()), ("slice_value", pa.string()),
                    ("cell", pa.int32()), ("n", pa.int64()), ("total", pa.float64())])


@dataclass(frozen=True)
class _Tallier:
    """Task side: a joined batch (ds, score, decision, label, slice columns) -> its non-empty cells."""

    label: str
    slices: Mapping[str, tuple[str, ...]]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            ds = table.column("ds").cast(pa.int32()).to_numpy(zero_copy_only=False)  # days since 1970-01-01
            score = table.column(SCORE).to_numpy(zero_copy_only=False).astype(np.float64)
            decision = table.column(_DECISION).to_numpy(zero_copy_only=False).astype(bool)
            label = table.column(self.label).cast(pa.float64()).to_numpy(zero_copy_only=False)
            out: dict[str, list] = {name: [] for name in _CELLS.names}
            for day, slice_key, value, rows in populations(table, ds, self.slices):
                cell, n, total = binary.to_cells(binary.tally(score[rows], decision[rows], label[rows]))
                out["ds"] += [day] * len(cell)
                out["slice_key"] += [slice_key] * len(cell)
                out["slice_value"] += [value] * len(cell)
                out["cell"] += cell.tolist()
                out["n"] += n.tolist()
                out["total"] += total.tolist()
            out["ds"] = pa.array(out["ds"], pa.int32()).cast(pa.date32())
            yield pa.RecordBatch.from_pydict(out, schema=_CELLS)


def populations(table: pa.Table, ds: np.ndarray, slices: Mapping[str, tuple[str, ...]]
                ) -> Iterator[tuple[int, str | None, str | None, np.ndarray]]:
    """The non-empty (day, slice_key, slice_value, row mask) populations of a joined batch: each day whole,
    and by each slice column's kept values (others as OTHER, nulls as NULL, as the baselines bucket them)."""
    groups: list[tuple[str | None, str | None, np.ndarray]] = [(None, None, np.ones(len(ds), dtype=bool))]
    for key, kept in slices.items():
        values = np.asarray(table.column(key).cast(pa.string()).to_pylist(), dtype=object)
        bucket = np.where(values == None, NULL, np.where(np.isin(values, list(kept)), values, OTHER))  # noqa: E711
        groups += [(key, v, bucket == v) for v in np.unique(bucket)]
    for day in np.unique(ds):
        on_day = ds == day
        for slice_key, value, mask in groups:
            rows = on_day & mask
            if rows.any():
                yield day, slice_key, value, rows


def _histograms(lake: Lake, model: ModelConfig, *, days: Sequence[date], pinned: Mapping[str, int | None],
                slices: Mapping[str, Sequence[str]]) -> dict[Population, binary.ScoreHistogram]:
    tallier = _Tallier(model.label, {k: tuple(v) for k, v in slices.items()})
    collected = tally_joined(lake, model, days=days, pinned=pinned, predictions=[SCORE, _DECISION],
                             features=[model.label, *slices], tallier=tallier, schema=_CELLS,
                             sum_by=["ds", "slice_key", "slice_value", "cell"])
    found: dict[Population, binary.ScoreHistogram] = {}
    grouped: dict[Population, list[int]] = {}
    for i, population in enumerate(zip(*(collected.column(c).to_pylist() for c in ("ds", "slice_key", "slice_value")),
                                       strict=True)):
        grouped.setdefault(population, []).append(i)
    cell, n, total = (collected.column(c).to_numpy() for c in ("cell", "n", "total"))
    for population, idx in grouped.items():
        found[population] = binary.from_cells(cell[idx], n[idx], total[idx])
    return found
