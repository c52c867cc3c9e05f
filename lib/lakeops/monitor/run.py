"""The monitoring run: drift, counts and profiles of a model's inputs and score, per day.

Reads ``features.<model>`` and ``predictions.<model>`` (the days asked for),
``ml.baselines`` and ``ml.baseline_sketches`` (of the version that scored each
day, so a promotion inside a range switches baselines on the right day) and
``ml.drift_counts`` (the previous monitored day, for consecutive drift). Writes
the ``(model_name, ds)`` partitions of ``ml.drift_counts``, ``ml.drift_metrics``
and ``ml.profile_metrics``, ``ml.performance_metrics`` (:mod:`lakeops.monitor.performance`:
these days, and earlier days whose labels arrived since), ``ml.attribution_drift``
(:mod:`lakeops.monitor.attribution`: with an MLflow config, the days' mean |SHAP| per feature
against ``ml.attribution_reference``, explained by each day's model version from the registry),
and a row in ``ml.job_runs``.

One Spark job reads every monitored partition of both tables once, inside
tasks (:meth:`lakeops.lake.Lake.reduce_partitions`; the driver folds a day of a small
fleet itself), and returns only count arrays to the driver; a second joins scores with labels and returns score
histograms. A rerun writes identical rows: nothing in them depends
on when or by whom they were computed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.config import MlflowConfig, ModelConfig, MonitorConfig
from lakeops.constants import BASELINE_DRIFT, STATUS_LEVEL
from lakeops.errors import InvalidParameterError, MissingInputError
from lakeops.lake import Scan
from lakeops.lake.tables import (
    ATTRIBUTION_DRIFT,
    BASELINE_SKETCHES,
    BASELINES,
    CLASS_METRICS,
    CONFUSION_MATRIX,
    DRIFT_COUNTS,
    DRIFT_METRICS,
    PERFORMANCE_METRICS,
    PROFILE_METRICS,
    features_table,
    predictions_table,
)
from lakeops.monitor.attribution import DayAttribution, attribution_drift
from lakeops.monitor.drift import (
    DayCounts,
    Reference,
    consecutive_day,
    count_rows,
    day_counts,
    drift_rows,
    previous_days,
    profile_row,
    reference_from_rows,
)
from lakeops.monitor.performance import DayPerformance, Measured, late_days, measure
from lakeops.runs import job_run
from lakeops.tally.counts import ColumnTally, TallyPlan, merge, tally_batch

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

JOB = "monitor"
#: A day's counts of one column and slice are keyed ``(column, slice_key, slice_value)``.
CountsKey = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class DaySummary:
    """One monitored day, whole population against the baseline."""

    ds: date
    model_version: int
    rows: int
    max_psi: float
    max_psi_column: str
    status: str  # the worst column's
    alerts: tuple[str, ...]
    warnings: tuple[str, ...]
    performance: DayPerformance | None = None
    #: The nDCG of the day's feature ranking by mean |SHAP| against training (None: not measured).
    attribution_ndcg: float | None = None
    #: The features whose share of the attribution moved most that day, largest first.
    attribution_movers: tuple[str, ...] = ()


@dataclass(frozen=True)
class MonitorResult:
    model_name: str
    days: tuple[DaySummary, ...]
    drift_rows: int
    job_run_id: str
    #: Earlier days whose realised performance this run measured (their labels arrived).
    late: tuple[DayPerformance, ...] = ()


@dataclass(frozen=True)
class DayCounter:
    """The task-side function: a batch of either table -> ``{(ds, column): tally}`` of its columns."""

    plans: Mapping[date, TallyPlan]

    def __call__(self, table: str, batch: pa.RecordBatch, partition: Mapping[str, Any],
                 columns: tuple[str, ...]) -> dict:
        ds = partition["ds"]
        return {(ds, c): t for c, t in tally_batch(batch, self.plans[ds], columns).items()}


@dataclass(frozen=True)
class DriftRows:
    """What the days' tallies give: rows of ``ml.drift_counts``, ``ml.drift_metrics`` and
    ``ml.profile_metrics``, and one summary per day."""

    counts: list[dict]
    metrics: list[dict]
    profiles: list[dict]
    summaries: list[DaySummary]


def monitor(lake: Lake, model: ModelConfig, *, days: Sequence[date],
            mlflow_cfg: MlflowConfig | None = None) -> MonitorResult:
    """Monitor ``days`` of ``model``: one Spark job, three commits (counts, drift, profiles).

    With ``mlflow_cfg`` (where the registry is), also attribution drift: a second Spark job
    explains a sample of each day with the booster of the version that scored it.

    Raises:
        MissingInputError: a day has no feature or prediction partition, or its
            model version has no baselines; nothing was written.
    """
    if not days:
        raise InvalidParameterError("no days to monitor")
    days = sorted(set(days))
    source, scored = features_table(model.name), predictions_table(model.name)
    # One version of each input for the whole run: the checks and the counts see the same days.
    pinned = {t: lake.version(t) if lake.exists(t) else None for t in (source, scored)}
    versions = _versions(lake, model, source, scored, days, pinned)
    references = {v: _reference(lake, model.name, v) for v in sorted(set(versions.values()))}
    plans = {d: references[versions[d]].plan(model.monitor.slices) for d in days}

    with job_run(lake, job=JOB, model=model.name, days=days) as run:
        tallies = _tally(lake, model, days, plans, pinned)
        drift = _drift(model, days, versions, references, plans, tallies, _previous_counts(lake, model.name, days))
        measured = _performance(lake, model, days, versions, pinned, references, source, scored, mlflow_cfg)
        performance = {q.ds: q for q in measured.days}
        summaries = [dataclasses.replace(s, performance=performance.get(s.ds)) for s in drift.summaries]
        attribution_rows: list[dict[str, Any]] = []
        attributed: dict[date, DayAttribution] = {}
        if mlflow_cfg is not None:
            attribution_rows, attributed = attribution_drift(
                lake, model, days=days, versions=versions, rows={s.ds: s.rows for s in summaries},
                features_version=pinned[source], mlflow_cfg=mlflow_cfg)
            summaries = [dataclasses.replace(s, attribution_ndcg=attributed[s.ds].ndcg,
                                             attribution_movers=attributed[s.ds].movers)
                         if s.ds in attributed else s for s in summaries]
        _write(lake, model, run.job_run_id, days, drift, measured, sorted(performance), attribution_rows,
               sorted(attributed))
        run.rows_in = sum(s.rows for s in summaries)
        run.rows_out = len(drift.metrics) + len(measured.metrics) + len(attribution_rows)
    late = tuple(q for d, q in sorted(performance.items()) if d not in set(days))
    _log_days(model.name, summaries, late)
    return MonitorResult(model.name, tuple(summaries), len(drift.metrics), run.job_run_id, late=late)


def _tally(lake: Lake, model: ModelConfig, days: list[date], plans: Mapping[date, TallyPlan],
           pinned: Mapping[str, int | None]) -> dict[tuple[date, str], ColumnTally]:
    """The days' tallies of every feature and the score: one Spark job over both tables."""
    source, scored = features_table(model.name), predictions_table(model.name)
    columns = (*model.features.numeric, *model.features.categorical)
    # Slice columns come with every piece of the features, whichever columns a task counts.
    scans = [Scan(source, {"ds": days}, columns, version=pinned[source], context=tuple(model.monitor.slices)),
             Scan(scored, {"ds": days}, model.output_columns(), version=pinned[scored])]
    return lake.reduce_partitions(scans, DayCounter(plans), merge) or {}


def _drift(model: ModelConfig, days: list[date], versions: Mapping[date, int], references: Mapping[int, Reference],
           plans: Mapping[date, TallyPlan], tallies: Mapping[tuple[date, str], ColumnTally],
           previous: Mapping[date, tuple[date, dict | None, int | None]]) -> DriftRows:
    """The days' rows, in order: a day of this run is the previous day of the next one."""
    out = DriftRows([], [], [], [])
    outputs = model.output_columns()  # the model's output: its drift is the score's
    columns = (*model.features.numeric, *model.features.categorical, *outputs)
    computed: dict[date, dict[CountsKey, DayCounts]] = {}
    for d in days:
        prev_ds, stored, stored_version = previous.get(d, (None, None, None))
        # The counts of a previous day of this run come from the run, not from what an earlier run stored.
        if prev_ds in computed:
            stored, stored_version = computed[prev_ds], versions[prev_ds]
        base_ds = consecutive_day(prev_ds, version=versions[d], previous_version=stored_version)
        prev = stored if base_ds is not None else None
        computed[d], day_metrics = _day_rows(d, references[versions[d]], plans[d], columns, tallies, prev,
                                             base_ds if prev else None, model.monitor, out)
        out.metrics.extend(day_metrics)
        out.summaries.append(_summary(d, versions[d], int(tallies[(d, outputs[0])].counts[0].sum()), day_metrics))
    return out


def _day_rows(ds: date, reference: Reference, plan: TallyPlan, columns: Sequence[str],
              tallies: Mapping[tuple[date, str], ColumnTally], previous: Mapping[CountsKey, DayCounts] | None,
              previous_ds: date | None, cfg: MonitorConfig,
              out: DriftRows) -> tuple[dict[CountsKey, DayCounts], list[dict]]:
    """One day: its counts by (column, slice) and drift rows; its count and profile rows go to ``out``."""
    found: dict[CountsKey, DayCounts] = {}
    day_metrics: list[dict] = []
    for column in columns:
        tally = tallies.get((ds, column))
        if tally is None:
            raise MissingInputError(f"no rows of {column} for {ds}; nothing was written")
        current = day_counts(reference, plan, column, tally)
        found.update({(column, *k): v for k, v in current.items()})
        before = {k[1:]: v for k, v in (previous or {}).items() if k[0] == column}
        rng = (tally.vmin, tally.vmax) if column in plan.numeric and tally.vmin <= tally.vmax else None
        day_metrics += drift_rows(ds=ds, reference=reference, column=column, current=current, current_range=rng,
                                  previous=before, previous_ds=previous_ds, cfg=cfg)
        out.counts.extend(count_rows(ds=ds, reference=reference, column=column, current=current))
        out.profiles.append(profile_row(ds=ds, reference=reference, column=column, tally=tally))
    return found, day_metrics


def _write(lake: Lake, model: ModelConfig, job_run_id: str, days: list[date], drift: DriftRows,
           measured: Measured, measured_days: list[date], attribution_rows: list[dict],
           attributed_days: list[date]) -> None:
    """Replace the run's partitions: drift, counts and profiles of ``days``, performance and
    attribution of the days they were measured on."""
    model_name = model.name
    meta = {"job": JOB, "job_run_id": job_run_id}
    where = {"model_name": [model_name], "ds": days}
    for spec, rows in ((DRIFT_COUNTS, drift.counts), (DRIFT_METRICS, drift.metrics),
                       (PROFILE_METRICS, drift.profiles)):
        lake.overwrite_rows(pa.Table.from_pylist(rows, schema=spec.schema), spec, partitions=where, metadata=meta)
    measured_where = {"model_name": [model_name], "ds": measured_days}
    tables = [(PERFORMANCE_METRICS, measured.metrics)]
    if model.problem_type == "multiclass":
        tables += [(CLASS_METRICS, measured.classes), (CONFUSION_MATRIX, measured.confusion)]
    for spec, rows in tables:
        lake.overwrite_rows(pa.Table.from_pylist(rows, schema=spec.schema), spec, partitions=measured_where,
                            metadata=meta)
    if attributed_days:
        lake.overwrite_rows(pa.Table.from_pylist(attribution_rows, schema=ATTRIBUTION_DRIFT.schema),
                            ATTRIBUTION_DRIFT, partitions={"model_name": [model_name], "ds": attributed_days},
                            metadata=meta)


def _log_days(model_name: str, summaries: Sequence[DaySummary], late: Sequence[DayPerformance]) -> None:
    for s in summaries:
        log.info("%s %s: %d rows, max PSI %.3f (%s), %s%s%s", model_name, s.ds, s.rows, s.max_psi, s.max_psi_column,
                 s.status, f"; {describe_performance(s.performance)}" if s.performance else "",
                 f"; attribution nDCG {s.attribution_ndcg:.3f} (movers: {', '.join(s.attribution_movers)})"
                 if s.attribution_ndcg is not None else "")
    for q in late:
        log.info("%s %s (labels arrived): %s", model_name, q.ds, describe_performance(q))


def describe_performance(q: DayPerformance) -> str:
    """One line: the estimate with its band, and the realised value once labels are in."""
    band = f" [{q.lower:.4g}, {q.upper:.4g}]" if q.lower is not None and q.upper is not None else ""
    text = f"estimated {q.metric} {q.estimated:.4g}{band}"
    if q.realised is not None:
        text += f", realised {q.metric} {q.realised:.4g} ({q.label_coverage:.0%} labelled)"
    return text


def _performance(lake: Lake, model: ModelConfig, days: list[date], versions: dict[date, int],
             pinned: Mapping[str, int | None], references: Mapping[int, Reference], source: str,
             scored: str, mlflow_cfg: MlflowConfig | None = None) -> Measured:
    """Performance rows for ``days`` and the earlier days whose labels changed (same pinned versions)."""
    features_version = pinned[source]
    if features_version is None:  # _versions found the days' features partitions, so it has a version
        raise MissingInputError(f"{source} has no version pinned for this run")
    late = sorted(late_days(lake, model, before=max(days), features_version=features_version) - set(versions))
    all_versions = dict(versions)
    if late:
        # Only days scored by one version can be measured (the pinned predictions' log stats say which).
        ranges = lake.column_ranges(scored, "model_version", where={"ds": late}, version=pinned[scored])
        for key, found in ranges.items():
            if found is not None and found[0] == found[1]:
                all_versions[key[0]] = int(found[0])
        log.info("labels changed for %d earlier scored day(s) since they were last measured: %s",
                 len(all_versions) - len(versions), ", ".join(str(d) for d in sorted(set(all_versions) - set(days))))
    slices: dict[str, set[str]] = {key: set() for key in model.monitor.slices}
    for v in set(all_versions.values()):
        reference = references[v] if v in references else _reference(lake, model.name, v)
        for key, values in reference.plan(model.monitor.slices).slices.items():
            slices[key] |= set(values)
    return measure(lake, model, days=sorted(all_versions), versions=all_versions, pinned=pinned,
                   slices={k: sorted(v) for k, v in slices.items()}, mlflow_cfg=mlflow_cfg)


def _versions(lake: Lake, model: ModelConfig, source: str, scored: str, days: list[date],
              pinned: Mapping[str, int | None]) -> dict[date, int]:
    """The model version that scored each day; every day must have features and predictions."""
    have_features = set()
    if pinned[source] is not None:
        have_features = {p["ds"] for p in lake.partitions(source, version=pinned[source])}
    missing = [d for d in days if d not in have_features]
    if missing:
        raise MissingInputError(f"{source} has no partition for {_days(missing)}: run `lakeops prepare --model "
                                f"{model.name}` for those days first; nothing was monitored")
    ranges = (lake.column_ranges(scored, "model_version", where={"ds": days}, version=pinned[scored])
              if pinned[scored] is not None else {})
    found = {key[0]: r for key, r in ranges.items()}
    missing = [d for d in days if d not in found]
    if missing:
        raise MissingInputError(f"{scored} has no partition for {_days(missing)}: run `lakeops score --model "
                                f"{model.name}` for those days first; nothing was monitored")
    mixed = [d for d in days if found[d] is None or found[d][0] != found[d][1]]
    if mixed:
        raise MissingInputError(f"{scored} for {_days(mixed)} holds more than one model version (or no file "
                                "statistics): rescore those days with --force; nothing was monitored")
    return {d: int(found[d][0]) for d in days}


def _reference(lake: Lake, model_name: str, version: int) -> Reference:
    where = {"model_name": [model_name], "model_version": [version]}
    bins = lake.read_arrow(BASELINES.name, where=where).to_pylist() if lake.exists(BASELINES.name) else []
    sketches = (lake.read_arrow(BASELINE_SKETCHES.name, where=where).to_pylist()
                if lake.exists(BASELINE_SKETCHES.name) else [])
    if not bins or not sketches:
        raise MissingInputError(f"{model_name} v{version} has no baselines in {BASELINES.name} and "
                                f"{BASELINE_SKETCHES.name}: retrain it with this lakeops; nothing was monitored")
    return reference_from_rows(model_name, version, bins, sketches)


def _previous_counts(lake: Lake, model_name: str, days: list[date]) -> dict[date, tuple[date, dict | None, int | None]]:
    """For each day: the latest earlier monitored day (:func:`previous_days`), and its stored counts and version.

    The counts of a day this run computes come from the run itself (``None`` here).
    """
    stored = ({p["ds"] for p in lake.partitions(DRIFT_COUNTS.name) if p["model_name"] == model_name}
              if lake.exists(DRIFT_COUNTS.name) else set())
    wanted = previous_days(days, monitored=stored)
    to_read = sorted({p for p in wanted.values() if p not in days})
    counts: dict[date, dict] = {}
    versions: dict[date, int] = {}
    if to_read:
        for r in lake.read_arrow(DRIFT_COUNTS.name, where={"model_name": [model_name], "ds": to_read}).to_pylist():
            versions[r["ds"]] = r["model_version"]
            sketch = r["sketch_counts"]
            counts.setdefault(r["ds"], {})[(r["column_name"], r["slice_key"], r["slice_value"])] = DayCounts(
                np.asarray(r["bin_counts"], dtype=np.int64),
                np.asarray(sketch, dtype=np.int64) if sketch is not None else None)
    return {d: (p, counts.get(p), versions.get(p)) for d, p in wanted.items()}


def _summary(ds: date, version: int, rows: int, metrics: list[dict]) -> DaySummary:
    whole = [m for m in metrics if m["drift_type"] == BASELINE_DRIFT and m["slice_key"] is None]
    top = max(whole, key=lambda m: m["psi"] if m["psi"] == m["psi"] else -1.0)
    worst = max((m["status"] for m in whole), key=STATUS_LEVEL.__getitem__)
    return DaySummary(ds, version, rows, top["psi"], top["column_name"], worst,
                      tuple(m["column_name"] for m in whole if m["status"] == "alert"),
                      tuple(m["column_name"] for m in whole if m["status"] == "warn"))


def _days(days: Sequence[date]) -> str:
    if len(days) == 1:
        return days[0].isoformat()
    return f"{len(days)} days ({', '.join(d.isoformat() for d in days[:5])}{' ...' if len(days) > 5 else ''})"
