"""Write the daily drift report of a model: ``<lake>/reports/<model>/<ds>.html`` and ``index.html``.

Reads ``ml.drift_metrics`` (the day, and the 30 days before it for the trend),
``ml.drift_counts`` and ``ml.baselines`` (the histograms), and, where the lake
has them, ``ml.performance_metrics`` (whole population), ``ml.alerts``,
``ml.model_validations`` and ``ml.attribution_drift``, all through Arrow without
Spark; writes HTML files under the lakehouse root (no tables).
Pages are rendered by :mod:`lakeops.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lakeops.lake.tables import (
    ALERTS,
    ATTRIBUTION_DRIFT,
    BASELINES,
    DRIFT_COUNTS,
    DRIFT_METRICS,
    MODEL_VALIDATIONS,
    PERFORMANCE_METRICS,
)
from lakeops.names import TableName, validate_name
from lakeops.report.html import INDEX_FILENAME, TREND_DAYS, render_day, render_index

if TYPE_CHECKING:
    from lakeops.lake import Lake


def report_folder(lake: Lake, model_name: str) -> str:
    """``<lake>/reports/<model>``: a local folder, or a prefix of an object-store lake."""
    return lake.storage.join("reports", validate_name(model_name, kind="model name"))


def write_reports(lake: Lake, model_name: str, days: Sequence[date]) -> list[Path | str]:
    """Render the pages of ``days`` and the index; returns the paths (URIs on object storage) written."""
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
                          validations=_until(validations, d), attribution=_until(attribution, d))  # fmt: skip
        written.append(write(f"{d.isoformat()}.html", page))
    written.append(write(INDEX_FILENAME, render_index(
        model_name=model_name, days=_days(whole), performance_metrics=performance, alerts=alerts,
        validations=validations, attribution=attribution)))
    return written


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
