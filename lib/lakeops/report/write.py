"""Write the daily drift report of a model: ``<lake>/reports/<model>/<ds>.html`` and ``index.html``.

Reads ``ml.drift_metrics`` (the day, and the 30 days before it for the trend),
``ml.drift_counts`` and ``ml.baselines`` (the histograms), and, where the lake
has them, ``ml.performance_metrics`` (whole population), ``ml.alerts``,
``ml.model_validations`` and ``ml.attribution_drift``, all through Arrow without
Spark. For a regression model also ``ml.performance_reference`` (the interval's
coverage target) and, per page, one labelled day's partition of
``predictions.<model>`` and ``features.<model>`` (the residuals); for a
multiclass model ``ml.performance_reference`` (its classes and calibration
temperature), ``ml.class_metrics`` and ``ml.confusion_matrix``. Writes HTML
files under the lakehouse root (no tables).
Pages are rendered by :mod:`lakeops.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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
)
from lakeops.names import TableName, validate_name
from lakeops.report import performance as performance_section
from lakeops.report import problems
from lakeops.report.html import INDEX_FILENAME, TREND_DAYS, render_day, render_index

if TYPE_CHECKING:
    from lakeops.config import ModelConfig
    from lakeops.lake import Lake


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
    whole = metrics[metrics["slice_key"].isna() & (metrics["drift_type"] == "baseline")]
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
                          classes=classes)  # fmt: skip
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
