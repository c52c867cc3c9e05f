"""Write the daily drift report of a model: ``<lake>/reports/<model>/<ds>.html`` and ``index.html``.

Reads ``ml.drift_metrics`` (the day, and the 30 days before it for the trend),
``ml.drift_counts`` and ``ml.baselines`` (the histograms), and, where the lake
has them, ``ml.performance_metrics`` (whole population), ``ml.alerts``,
``ml.model_validations`` and ``ml.attribution_drift``, all through Arrow without
Spark. For a regression model also ``ml.performance_reference`` (the interval's
coverage target) and, per page, one labelled day's partition of
``predictions.<model>`` and ``features.<model>`` (the residuals); for a
multiclass model ``ml.performance_reference`` (its classes and calibration
temperature), ``ml.class_metrics`` and ``ml.confusion_matrix``. For every model
``ml.performance_reference`` also gives each version's estimator check and holdout;
per page, the day's partition of ``predictions.<model>`` gives its riskiest rows when
scoring stored reason codes; and, with the model's config, ``shadow.<model>`` beside
``predictions.<model>`` and the labels of ``features.<model>`` compare a challenger
scoring in shadow with the champion. Writes HTML files under the lakehouse root (no tables).
Pages are rendered by :mod:`lakeops.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from lakeops.constants import BASELINE_DRIFT
from lakeops.evaluate.estimator_check import EstimatorCheck, check_estimator
from lakeops.evaluate.shadow import compare, output_columns
from lakeops.lake.spec import PartitionSelection
from lakeops.lake.tables import (
    ALERTS,
    ATTRIBUTION_DRIFT,
    BASELINES,
    CLASS_METRICS,
    CONFUSION_MATRIX,
    DRIFT_COUNTS,
    DRIFT_METRICS,
    MODEL_VALIDATIONS,
    PERFORMANCE_METRICS,
    PERFORMANCE_REFERENCE,
    features_table,
    predictions_table,
    shadow_table,
)
from lakeops.names import TableName, validate_name
from lakeops.report import performance_section, problems, riskiest_section, shadow_section
from lakeops.report.html import INDEX_FILENAME, TREND_DAYS, render_day, render_index

if TYPE_CHECKING:
    from lakeops.config import ModelConfig
    from lakeops.lake import Lake


@dataclass(frozen=True)
class ReportResult:
    """What a report run wrote: the day pages and the index (paths, or URIs on object storage)."""

    model_name: str
    pages: tuple[Path | str, ...]
    job_run_id: str


def report_folder(lake: Lake, model_name: str) -> str:
    """``<lake>/reports/<model>``: a local folder, or a prefix of an object-store lake."""
    return lake.storage.join("reports", validate_name(model_name, kind="model name"))


def write_reports(lake: Lake, model_name: str, days: Sequence[date], *,
                  config: ModelConfig | None = None) -> list[Path | str]:
    """Render the pages of ``days`` and the index; returns the paths (URIs on object storage) written.

    ``config`` (the model's): its problem type says what the performance sections show, a
    regression model's label column and entity keys give the residual section, and a multiclass
    model's classes the order of its per-class sections. Without it the problem type (and a
    multiclass model's classes) are read from the lake (:func:`problem_type`) and a regression page
    has no residuals.
    """
    if config is not None and config.name != model_name:
        raise ValueError(f"config of model {config.name!r} given for the reports of {model_name!r}")
    folder = report_folder(lake, model_name)

    def write(name: str, page: str) -> Path | str:
        uri = f"{folder}/{name}"
        lake.storage.write_bytes(uri, page.encode("utf-8"))
        return Path(uri) if lake.storage.local else uri

    days = sorted(set(days))
    metrics = lake.read_arrow(DRIFT_METRICS.name, where={"model_name": [model_name]}).to_pandas()
    counts = lake.read_arrow(DRIFT_COUNTS.name, where={"model_name": [model_name], "ds": days}).to_pandas()
    versions = sorted(set(counts["model_version"]))
    baselines = lake.read_arrow(BASELINES.name, where={"model_name": [model_name], "model_version": versions})
    baselines = baselines.to_pandas()
    whole = metrics[metrics["slice_key"].isna() & (metrics["drift_type"] == BASELINE_DRIFT)]
    performance = _performance(lake, model_name)
    kind = config.problem_type if config is not None else problem_type(lake, model_name, performance)
    spec = problems.spec_for(kind)
    if performance is not None and spec.reference:
        performance = _with_reference(lake, model_name, performance, spec.reference)
    residual_rows = _Residuals(lake, config, performance, spec) if spec.residuals else None
    class_metrics = confusion = None
    classes: Sequence[str] = ()
    if spec.per_class:
        mine = {"model_name": [model_name]}
        class_metrics = _whole(_rows(lake, CLASS_METRICS.name, model_name, where=mine))
        confusion = _whole(_rows(lake, CONFUSION_MATRIX.name, model_name, where=mine))
        classes = config.classes if config is not None else _classes(lake, model_name)
    # Each of these is None in a lake from before its table: the pages say so.
    alerts = _rows(lake, ALERTS.name, model_name, where={"model_name": [model_name]})
    validations = _rows(lake, MODEL_VALIDATIONS.name, model_name)
    attribution = _rows(lake, ATTRIBUTION_DRIFT.name, model_name, where={"model_name": [model_name]})
    reference = _reference_rows(lake, model_name)
    checks = _estimator_checks(reference)
    shadow = _shadow(lake, config, reference, first=days[0] - timedelta(days=TREND_DAYS - 1),
                     last=days[-1]) if days else None  # fmt: skip
    riskiest = _Riskiest(lake, model_name, config, kind)
    written = []
    for d in days:
        drift = metrics[metrics["ds"] == d]
        trend = whole[(whole["ds"] <= d) & (whole["ds"] > d - timedelta(days=TREND_DAYS))][
            ["ds", "column_name", "psi", "status", "model_version"]]
        page = render_day(model_name=model_name, ds=d, drift=drift, trend=trend,
                          histograms=_histograms(counts[counts["ds"] == d], baselines),
                          performance_metrics=_until(performance, d), alerts=_until(alerts, d),
                          validations=_until(validations, d), attribution=_until(attribution, d),
                          problem_type=kind, residual_rows=residual_rows(d) if residual_rows else None,
                          class_metrics=_until(class_metrics, d), confusion_matrix=_until(confusion, d),
                          classes=classes, estimator_checks=checks, shadow=shadow, riskiest_rows=riskiest(d),
                          entity_keys=riskiest.keys)  # fmt: skip
        written.append(write(f"{d.isoformat()}.html", page))
    written.append(write(INDEX_FILENAME, render_index(
        model_name=model_name, days=_days(whole), performance_metrics=performance, alerts=alerts,
        validations=validations, attribution=attribution, problem_type=kind)))
    return written


def problem_type(lake: Lake, model_name: str, performance: pd.DataFrame | None = None) -> str:
    """The model's problem type as the lake records it: its versions' ``ml.performance_reference`` rows
    (null there: written before regression models, so binary), else its performance rows
    (:func:`lakeops.report.problems.infer`)."""
    rows = _reference(lake, model_name)
    if not rows.empty:
        found = rows.sort_values("model_version").iloc[-1].get("problem_type")
        return found if isinstance(found, str) and found in problems.SPECS else "binary"
    return problems.infer(performance)


def _reference(lake: Lake, model_name: str) -> pd.DataFrame:
    """The model's rows of ``ml.performance_reference`` (none in a lake without the table)."""
    if not lake.exists(PERFORMANCE_REFERENCE.name):
        return pd.DataFrame(columns=["model_version"])
    return lake.read_arrow(PERFORMANCE_REFERENCE.name, where={"model_name": [model_name]}).to_pandas()


def _with_reference(lake: Lake, model_name: str, performance: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The rows with ``columns`` of their version's ``ml.performance_reference`` row (e.g. the coverage a
    regression model's interval was built for, a multiclass model's calibration temperature); null without one."""
    rows = _reference(lake, model_name)
    found = {c: dict(zip(rows["model_version"], rows[c], strict=True)) if c in rows.columns else {} for c in columns}
    return performance.assign(**{c: performance["model_version"].map(v) for c, v in found.items()})


def _reference_rows(lake: Lake, model_name: str) -> list[dict]:
    """The model's rows of ``ml.performance_reference`` as Arrow gives them (None for a null)."""
    if not lake.exists(PERFORMANCE_REFERENCE.name):
        return []
    return lake.read_arrow(PERFORMANCE_REFERENCE.name, where={"model_name": [model_name]}).to_pylist()


def _estimator_checks(reference: Sequence[dict]) -> dict[int, EstimatorCheck]:
    """Each version's estimator check at training, from its ``ml.performance_reference`` row."""
    return {int(r["model_version"]): check_estimator(r) for r in reference if r.get("model_version") is not None}


def _read_days(lake: Lake, table: str, days: Sequence[date], columns: Sequence[str]) -> pa.Table | None:
    """``columns`` of the ``days`` partitions of ``table`` (through its snapshot: only those files and
    columns are read); None in a lake without the table."""
    from lakeops.lake.snapshot import open_snapshot

    if not lake.exists(table):
        return None
    snapshot = open_snapshot(lake.storage, table)
    if not days:
        return pa.schema([f for f in snapshot.spec.schema if f.name in columns]).empty_table()
    return snapshot.read_arrow(PartitionSelection.build(snapshot.spec, {"ds": list(days)}), columns=columns)


def _shadow(lake: Lake, config: ModelConfig | None, reference: Sequence[dict], *, first: date,
            last: date) -> shadow_section.ShadowInputs | None:
    """The challenger's shadow scores of the days ``first`` to ``last`` against the champion's, measured
    on their labels (:func:`lakeops.evaluate.shadow.compare`); None without the model's config or without
    shadow scores (no section)."""
    if config is None or not lake.exists(shadow_table(config.name)):
        return None
    days = sorted({p["ds"] for p in lake.partitions(shadow_table(config.name)) if first <= p["ds"] <= last})
    keys, kind = list(config.entity_keys), config.problem_type
    scores = ["ds", *keys, "model_version", *output_columns(kind, config.classes)]
    shadow = _read_days(lake, shadow_table(config.name), days, scores)
    if shadow is None or not shadow.num_rows:
        return None
    per_day = shadow.group_by("ds").aggregate([("model_version", "max")]).to_pylist()
    scored = {r["ds"]: int(r["model_version_max"]) for r in per_day}
    served = _read_days(lake, predictions_table(config.name), days, scores)
    labels = _read_days(lake, features_table(config.name), days, ["ds", *keys, config.label])
    comparisons = []
    if served is not None and labels is not None and config.label in labels.column_names:
        thresholds = {int(r["model_version"]): float(r["threshold"]) for r in reference
                      if kind == "binary" and r.get("threshold") is not None}  # fmt: skip
        comparisons = compare(served=served, shadow=shadow, labels=labels, keys=keys, label=config.label,
                              problem_type=kind, classes=config.classes, thresholds=thresholds)
    holdouts = {int(r["model_version"]): (r.get("holdout_start"), r.get("holdout_end")) for r in reference}
    known = config.gate_metrics()
    directions: dict[str, bool | None] = {}
    for t in config.gate_thresholds:  # a metric named twice (a slice, a second bound) is shown once
        if directions.get(t.metric) is None:
            directions[t.metric] = t.higher_is_better if t.higher_is_better is not None else known.get(t.metric)
    return shadow_section.ShadowInputs(comparisons=comparisons, scored=scored, holdouts=holdouts,
                                       metrics=list(directions.items()))


class _Riskiest:
    """Per page day, the columns of its ``predictions.<model>`` partition that its riskiest rows show:
    None when the table has no reason codes (the section is left out)."""

    def __init__(self, lake: Lake, model_name: str, config: ModelConfig | None, kind: str) -> None:
        from lakeops.lake.snapshot import open_snapshot

        self.lake, self.table = lake, predictions_table(model_name)
        self.columns: list[str] = []
        self.keys: list[str] = list(config.entity_keys) if config is not None else []
        if not lake.exists(self.table):
            return
        names = open_snapshot(lake.storage, self.table).spec.schema.names
        slots = riskiest_section.reason_slots(names)
        if not slots:
            return
        if config is None:  # the keys are the columns that are neither bookkeeping, output nor reasons
            self.keys = riskiest_section.key_columns(names)
        self.columns = riskiest_section.columns(kind, self.keys, slots)

    def __call__(self, ds: date) -> pa.Table | None:
        if not self.columns:
            return None
        return _read_days(self.lake, self.table, [ds], self.columns)


def _classes(lake: Lake, model_name: str) -> list[str]:
    """A multiclass model's classes as its newest version's ``ml.performance_reference`` row lists them."""
    rows = _reference(lake, model_name)
    if rows.empty or "classes" not in rows.columns:
        return []
    found = rows.sort_values("model_version").iloc[-1]["classes"]
    return [str(c) for c in found] if found is not None else []


class _Residuals:
    """Per page day, the rows of its residual section: the newest labelled day up to it, read once."""

    def __init__(self, lake: Lake, config: ModelConfig | None, performance: pd.DataFrame | None,
                 spec: problems.ProblemSpec) -> None:
        self.lake, self.config = lake, config
        self.daily = None if performance is None else performance_section.daily(performance, spec)
        self.read: dict[date, pd.DataFrame] = {}

    def __call__(self, ds: date) -> pd.DataFrame | None:
        if self.config is None:
            return None
        day = None if self.daily is None else performance_section.labelled_day(self.daily, ds)
        if day is None:
            return pd.DataFrame(columns=["ds", "prediction", "label", "prediction_lower", "prediction_upper"])
        if day not in self.read:
            self.read[day] = _labelled_rows(self.lake, self.config, day)
        return self.read[day]


def _labelled_rows(lake: Lake, config: ModelConfig, day: date) -> pd.DataFrame:
    """The day's predictions joined with their labels on the entity keys (one partition of each table)."""
    from lakeops.lake.snapshot import open_snapshot

    keys = list(config.entity_keys)
    outputs = ["prediction", "prediction_lower", "prediction_upper"]

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        if not lake.exists(table):
            return pd.DataFrame(columns=columns)
        snapshot = open_snapshot(lake.storage, table)
        if not snapshot.has_partition({"ds": day}):
            return pd.DataFrame(columns=columns)
        selection = PartitionSelection.build(snapshot.spec, {"ds": [day]})
        return snapshot.read_arrow(selection, columns=columns).to_pandas()

    scored = read(predictions_table(config.name), ["ds", *keys, *outputs])
    labels = read(features_table(config.name), ["ds", *keys, config.label]).rename(columns={config.label: "label"})
    rows = scored.merge(labels[[*keys, "label"]], on=keys, how="inner")
    return rows[["ds", "prediction", "label", *[c for c in outputs[1:] if c in rows.columns]]]


def _performance(lake: Lake, model_name: str) -> pd.DataFrame | None:
    """The model's whole-population rows of ``ml.performance_metrics``; None in a lake without the table."""
    # Lakes from before the table, or before any label arrived, have none: the pages say so.
    if not lake.exists(PERFORMANCE_METRICS.name):
        return None
    rows = lake.read_arrow(PERFORMANCE_METRICS.name, where={"model_name": [model_name]}).to_pandas()
    return rows[rows["slice_key"].isna()]


def _rows(lake: Lake, table: str | TableName, model_name: str, *, where: dict | None = None) -> pd.DataFrame | None:
    """The model's rows of ``table``; None in a lake without it."""
    if not lake.exists(table):
        return None
    rows = lake.read_arrow(table, where=where).to_pandas()
    return rows[rows["model_name"] == model_name] if "model_name" in rows.columns else rows.iloc[:0]


def _whole(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """The whole-population rows (slice rows stay off the pages' per-class sections)."""
    return None if rows is None else rows[rows["slice_key"].isna()]


def _until(rows: pd.DataFrame | None, ds: date) -> pd.DataFrame | None:
    """The rows up to ``ds``: a page shows nothing of the days after it."""
    return None if rows is None else rows[pd.to_datetime(rows["ds"]).dt.date <= ds]


def _histograms(counts: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """Baseline and current proportion per bucket, whole population, from the stored counts."""
    rows = []
    for r in counts[counts["slice_key"].isna()].itertuples():
        base = baselines[(baselines["model_version"] == r.model_version) & (baselines["column_name"] == r.column_name)
                         & baselines["slice_key"].isna()]
        # Buckets in count order: bin_index 0, 1, ..., then the null bucket (-1).
        base = base.assign(order=np.where(base["bin_index"] < 0, np.inf, base["bin_index"])).sort_values("order")
        total = sum(r.bin_counts) or 1
        for (_, b), n in zip(base.iterrows(), r.bin_counts, strict=True):
            label = b["category"] if b["category"] is not None else f"({b['lower']:.4g}, {b['upper']:.4g}]"
            rows.append({"column_name": r.column_name, "bin_index": int(b["bin_index"]), "label": label,
                         "baseline_proportion": b["proportion"], "current_proportion": n / total})
    return pd.DataFrame(rows, columns=["column_name", "bin_index", "label", "baseline_proportion",
                                       "current_proportion"])


def _days(whole: pd.DataFrame) -> pd.DataFrame:
    """One index row per monitored day."""
    rows = []
    for d, day in whole.groupby("ds"):
        top = day.loc[day["psi"].fillna(-1).idxmax()]
        rows.append({"ds": d, "model_version": int(day["model_version"].iloc[0]), "n_columns": len(day),
                     "n_warn": int((day["status"] == "warn").sum()), "n_alert": int((day["status"] == "alert").sum()),
                     "max_psi": top["psi"], "max_psi_column": top["column_name"]})
    return pd.DataFrame(rows, columns=["ds", "model_version", "n_columns", "n_warn", "n_alert", "max_psi",
                                       "max_psi_column"])
