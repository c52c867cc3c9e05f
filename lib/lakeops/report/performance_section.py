"""The model-performance part of a day page: estimates against realised metrics.

Shapes rows of ``ml.performance_metrics`` (whole population only) into what the
``performance.html`` template shows: the day's values, a chart of the estimated
metrics with their bands against the realised values and the label coverage, the
days where the realised value fell outside the band, how often it fell inside
over the window, and the model's output level against the labels' (calibration,
or a regression model's bias). What each problem type shows (binary: CBPE's AUC
and F1; regression: DLE's MAE and RMSE, and interval coverage against its target;
multiclass: CBPE's accuracy, macro F1 and macro AUC) is
:mod:`lakeops.report.problems`'s; this module is written once against it.
Reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from markupsafe import Markup

from lakeops.report.performance_chart import chart
from lakeops.report.problems import BINARY, Metric, ProblemSpec
from lakeops.report.values import dates, num, to_float, with_columns

if TYPE_CHECKING:
    from lakeops.report.timeline import Event

#: Days shown up to the page's day: the chart, the disagreements and the band coverage.
PERFORMANCE_DAYS = 30
#: The chart's x axis spans at least this many days.
MIN_CHART_DAYS = 14
#: Newest days with labels in the calibration table.
CALIBRATION_DAYS = 14

COLUMNS = [
    "ds", "model_name", "model_version", "kind", "slice_key", "slice_value", "n_scored", "n_labeled",
    "label_coverage", "positive_rate", "threshold", "auc", "pr_auc", "logloss", "brier", "ece", "precision",
    "recall", "f1", "auc_lower", "auc_upper", "f1_lower", "f1_upper", "estimated_auc", "estimated_f1",
    "auc_in_band", "f1_in_band", "features_version",
    # Regression models (contract v2).
    "mae", "rmse", "r2", "bias", "mape", "interval_coverage", "label_mean", "prediction_mean", "mae_lower",
    "mae_upper", "rmse_lower", "rmse_upper", "estimated_mae", "estimated_rmse", "mae_in_band", "rmse_in_band",
    # Multiclass models (contract v3): auc, precision, recall and f1 above are macro averages.
    "accuracy", "weighted_f1", "accuracy_lower", "accuracy_upper", "estimated_accuracy", "accuracy_in_band",
    # Not columns of ml.performance_metrics: the version's ml.performance_reference values (write.py).
    "interval_coverage_target", "calibration_temperature",
]  # fmt: skip

BAND_COLOUR, ESTIMATE_COLOUR, TARGET_COLOUR = "#c6dbef", "#2b5c8a", "#1b7837"
REALISED_COLOUR, OUTSIDE_COLOUR, COVERAGE_COLOUR = "#1f2933", "#b2182b", "#9aa5b1"


@dataclass(frozen=True)
class Performance:
    """What the performance sections show; ``empty`` is the one muted line when there is nothing."""

    empty: str | None = None
    spec: ProblemSpec = BINARY
    days: int = PERFORMANCE_DAYS
    headline: dict | None = None
    today: list[dict] = field(default_factory=list)
    chart: Markup | None = None
    disagreements: list[dict] = field(default_factory=list)
    disagreement_head: list[str] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)
    #: :func:`daily`'s frame of the days shown (what a multiclass model's per-class sections read).
    frame: pd.DataFrame | None = None


def flag(value: object) -> bool | None:
    """A nullable boolean from Arrow (object True/False/None), pandas (NA) or numpy."""
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else bool(value)


def daily(performance: pd.DataFrame, spec: ProblemSpec = BINARY) -> pd.DataFrame:
    """One row per day, whole population: estimated columns prefixed ``est_``, realised ones as they are."""
    frame = with_columns(performance, COLUMNS)
    frame = frame[frame["slice_key"].isna()]
    frame = frame.assign(ds=dates(frame["ds"]), kind=frame["kind"].astype("string").str.strip().str.lower(),
                         _version=frame["model_version"].map(to_float).fillna(-1.0))  # fmt: skip
    # One row per day and kind; should a day hold two versions' rows, the newer version's.
    frame = frame.sort_values(["ds", "kind", "_version"], kind="stable").drop_duplicates(["ds", "kind"], keep="last")
    keep = list(spec.columns)
    est = frame[frame["kind"] == "estimated"].set_index("ds")[keep].add_prefix("est_")
    real = frame[frame["kind"] == "realised"].set_index("ds")[keep]
    out = est.join(real, how="outer").sort_index()
    numeric = [c for c in out.columns if not c.endswith("_in_band")]
    out[numeric] = out[numeric].map(to_float).astype(float)
    for column in spec.flags:
        if column in out.columns:
            out[column] = out[column].map(flag).astype(object)
    coverage = out["label_coverage"].where(out["label_coverage"].notna(), out["n_labeled"] / out["n_scored"])
    out["label_coverage"] = coverage.fillna(0.0)  # no realised row yet: nothing labelled
    out["n_scored"] = out["n_scored"].fillna(out["est_n_scored"])
    out["n_labeled"] = out["n_labeled"].fillna((out["label_coverage"] * out["n_scored"]).round())
    if spec.derive is not None:
        out = spec.derive(out)
    # A realised value is settled once compared with its band (the producer's flag), or the day fully labelled.
    full = out["label_coverage"] >= 1.0
    for m in spec.banded:
        out[f"{m.column}_settled"] = out[f"{m.column}_in_band"].notna() | full
    out["settled"] = pd.concat([out[f"{m.column}_settled"] for m in spec.banded], axis=1).any(axis=1)
    return out


def labelled_day(frame: pd.DataFrame, ds: date) -> date | None:
    """The newest day up to ``ds`` with labels, from :func:`daily`'s frame."""
    days = frame.index[(frame.index <= ds) & (frame["n_labeled"] > 0)]
    return max(days) if len(days) else None


def build(performance: pd.DataFrame | None, ds: date, *, days: int = PERFORMANCE_DAYS,
          events: Sequence[Event] = (), spec: ProblemSpec = BINARY) -> Performance:
    """The performance sections of the page of ``ds``, from rows of any days (later ones are ignored);
    ``events`` (retrains, gate decisions, version changes) are marked on the chart."""
    if performance is None:
        return Performance(spec=spec, empty="No performance data yet: this lake has no ml.performance_metrics table.")
    frame = daily(performance, spec)
    frame = frame[(frame.index <= ds) & (frame.index > ds - timedelta(days=days))]
    if frame.empty:
        return Performance(spec=spec, empty=f"No performance data yet for the {days} days up to {ds.isoformat()}.")
    banded = spec.banded
    return Performance(
        spec=spec,
        days=days,
        headline=_headline(frame, ds, spec.metric(spec.headline)),
        today=_today(frame, ds, spec),
        chart=chart(frame, ds, events=events, spec=spec),
        disagreements=_disagreements(frame, banded),
        disagreement_head=["day", "labelled", *(f"{m.label} {part}" for m in banded
                                                for part in ("realised", "target" if m.target else "estimated", "band"))],
        coverage=[_band_coverage(frame, m, spec) for m in banded],
        calibration=_calibration(frame, spec),
        frame=frame,
    )


def _headline(frame: pd.DataFrame, ds: date, m: Metric) -> dict | None:
    """The day's headline metric, estimated and realised, and its label coverage (None without a row that day)."""
    if ds not in frame.index:
        return None
    r = frame.loc[ds]
    c = m.column
    return {"label": m.label, "estimated": m.fmt(r[f"est_{c}"]), "band": _band(r[f"est_{c}_lower"], r[f"est_{c}_upper"], m),
            "realised": m.fmt(r[c]), "has_realised": not math.isnan(r[c]), "in_band": flag(r[f"{c}_in_band"]),
            "label_coverage": r["label_coverage"], "n_labeled": r["n_labeled"], "n_scored": r["n_scored"]}  # fmt: skip


def _today(frame: pd.DataFrame, ds: date, spec: ProblemSpec) -> list[dict]:
    if ds not in frame.index:
        return []
    r = frame.loc[ds]
    rows = []
    for m in spec.metrics:
        c = m.column
        estimated, realised = r.get(f"est_{c}", math.nan), r[c]
        if math.isnan(estimated) and math.isnan(realised):
            continue
        shown = m.fmt(estimated)
        rows.append({"metric": m.label, "estimated": f"target {shown}" if m.target and shown != "–" else shown,
                     "realised": m.fmt(realised), "band": _band(r[f"est_{c}_lower"], r[f"est_{c}_upper"], m) if m.banded else "",
                     "in_band": flag(r[f"{c}_in_band"]) if m.banded else None})  # fmt: skip
    return rows


def _band(lower: float, upper: float, m: Metric | None = None) -> str:
    fmt = m.fmt if m is not None else num
    return "–" if math.isnan(lower) and math.isnan(upper) else f"{fmt(lower)} – {fmt(upper)}"


def _disagreements(frame: pd.DataFrame, banded: Sequence[Metric]) -> list[dict]:
    """Days whose realised value of a banded metric fell outside its band, newest first."""
    outside = frame[pd.concat([frame[f"{m.column}_in_band"] == False for m in banded], axis=1).any(axis=1)]  # noqa: E712 (None stays out)
    rows = []
    for ds, r in outside.sort_index(ascending=False).iterrows():
        row: dict[str, Any] = {"ds": ds.isoformat(), "label_coverage": r["label_coverage"], "metrics": []}
        for m in banded:
            c = m.column
            # The estimate the producer compared against, else the estimated row's value.
            compared = r.get(f"estimated_{c}", math.nan)
            estimated = compared if not math.isnan(compared) else r[f"est_{c}"]
            row["metrics"].append({"realised": m.fmt(r[c]), "estimated": m.fmt(estimated),
                                   "outside": flag(r[f"{c}_in_band"]) is False,
                                   "band": _band(r[f"est_{c}_lower"], r[f"est_{c}_upper"], m)})  # fmt: skip
        rows.append(row)
    return rows


def _band_coverage(frame: pd.DataFrame, m: Metric, spec: ProblemSpec) -> str:
    known = frame[f"{m.column}_in_band"].dropna()
    label = m.label[:1].upper() + m.label[1:]  # each line is a sentence
    if known.empty:
        return spec.unchecked.format(label=label)
    inside = int((known == True).sum())  # noqa: E712
    plural = "s" if len(known) != 1 else ""
    return f"{label} inside its band on {inside} of {len(known)} {spec.checked}{plural} ({inside / len(known):.0%})."


def _calibration(frame: pd.DataFrame, spec: ProblemSpec) -> list[dict]:
    table = spec.calibration
    labelled = frame[frame[table.present].notna()].sort_index(ascending=False).head(CALIBRATION_DAYS)
    return [{"ds": ds.isoformat(), "cells": table.cells(r), "settled": bool(r["settled"])}
            for ds, r in labelled.iterrows()]  # fmt: skip
