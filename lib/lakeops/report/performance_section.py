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
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from lakeops.report.charts import event_legend, mark_events, svg
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


# ---------------------------------------------------------------- the chart


def chart(frame: pd.DataFrame, end: date, *, events: Sequence[Event] = (), spec: ProblemSpec = BINARY) -> Markup:
    """The spec's estimated metrics with their bands, realised values as points, and label coverage, per day
    up to ``end``; ``events`` are marked on the days they happened."""
    # At least two weeks wide, so that a lone first day is a day-wide band rather than the whole chart.
    first = min(frame.index.min(), end - timedelta(days=MIN_CHART_DAYS - 1))
    span = (end - first).days
    x = [(d - first).days for d in frame.index]
    fig = Figure(figsize=(10, 6.4 + 2.2 * (len(spec.charted) - 2)), layout="constrained")  # 2.2 in a panel past two
    grid = fig.add_gridspec(len(spec.charted) + 1, 1, height_ratios=[*(3 for _ in spec.charted), 1.2])
    panels = [fig.add_subplot(grid[0])]
    panels += [fig.add_subplot(grid[i], sharex=panels[0]) for i in range(1, len(spec.charted))]
    ax_cov = fig.add_subplot(grid[len(spec.charted)], sharex=panels[0])
    tips: dict[str, str] = {}
    for ax, column in zip(panels, spec.charted, strict=True):
        tips |= _metric_panel(ax, frame, x, spec.metric(column))
    bars = ax_cov.bar(x, frame["label_coverage"], width=0.7, color=COVERAGE_COLOUR)
    for i, (bar, (ds, r)) in enumerate(zip(bars, frame.iterrows(), strict=True)):
        bar.set_gid(f"lk-cov-{i}")
        counts = f" ({num(r['n_labeled'], ',.0f')} of {num(r['n_scored'], ',.0f')})" if r["n_labeled"] >= 0 else ""
        tips[f"lk-cov-{i}"] = f"{ds.isoformat()}: {num(r['label_coverage'], '.0%')} labelled{counts}"
    ax_cov.set_ylim(0, 1.05)
    ax_cov.set_yticks([0, 0.5, 1])
    ax_cov.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax_cov.set_ylabel("labelled", fontsize=9)
    if not (frame["label_coverage"] > 0).any():
        ax_cov.text(0.5, 0.5, "no labels yet", transform=ax_cov.transAxes, ha="center", va="center", color="#616e7c")
    # Ticks count back from the page's day, so that it is always labelled.
    ticks = sorted(range(span, -1, -max(1, math.ceil((span + 1) / 15))))
    ax_cov.set_xticks(ticks, [f"{first + timedelta(days=t):%m-%d}" for t in ticks], fontsize=8)
    ax_cov.set_xlim(-0.6, span + 0.6)
    events = [e for e in events if first <= e.ds <= end]
    for i, ax in enumerate((*panels, ax_cov)):
        for event in events:  # a faint line through every panel, the mark on the top one
            ax.axvline((event.ds - first).days - (0.5 if event.kind == "version" else 0.0), lw=0.8, alpha=0.35,
                       color="#616e7c", zorder=0)
        if i == 0:
            tips |= mark_events(ax, events, lambda d: (d - first).days, key="perf-ev")
    for ax in (*panels, ax_cov):
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in panels:
        ax.tick_params(axis="x", labelbottom=False)
    legend = [
        Patch(facecolor=BAND_COLOUR, label=spec.band_marker),
        Line2D([], [], color=ESTIMATE_COLOUR, lw=1.5, ls="--", label="estimated"),
        *(Line2D([], [], color=TARGET_COLOUR, lw=1.5, label=f"{spec.metric(c).label} target")
          for c in spec.charted if spec.metric(c).target),
        Line2D([], [], color=REALISED_COLOUR, marker="o", ls="", label=spec.settled_marker),
        Line2D([], [], color=REALISED_COLOUR, marker="o", mfc="white", ls="", label=spec.unsettled_marker),
        Line2D([], [], color=OUTSIDE_COLOUR, marker="X", ms=8, ls="", label="realised outside the band"),
        *event_legend(events),
    ]
    panels[0].legend(handles=legend, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=5, fontsize=8, frameon=False)
    return svg(fig, "performance", tips)


def _metric_panel(ax, frame: pd.DataFrame, x: list[int], m: Metric) -> dict[str, str]:
    metric, label = m.column, m.label
    est, lower, upper = frame[f"est_{metric}"], frame[f"est_{metric}_lower"], frame[f"est_{metric}_upper"]
    realised = frame[metric]
    # Each day's band and estimate span the day's full width, so a lone estimated day still shows.
    steps, lows = _line(x, lower, step=True)
    ax.fill_between(steps, lows, _line(x, upper, step=True)[1], color=BAND_COLOUR, lw=0)
    if m.target:
        ax.plot(*_line(x, est, step=True), color=TARGET_COLOUR, lw=1.5)
    else:
        ax.plot(*_line(x, est, step=True), color=ESTIMATE_COLOUR, lw=1.5, ls="--")
    ax.plot(*_line(x, realised), color=REALISED_COLOUR, lw=0.8, alpha=0.5)
    reference = "target" if m.target else "estimated"
    tips = {}
    for i, (ds, r) in enumerate(frame.iterrows()):
        if math.isnan(r[metric]):
            continue
        inside = flag(r[f"{metric}_in_band"])
        outside = inside is False
        settled = r[f"{metric}_settled"]
        style: dict[str, Any] = ({"marker": "X", "ms": 9, "color": OUTSIDE_COLOUR} if outside else
                 {"marker": "o", "ms": 5.5, "color": REALISED_COLOUR, "mfc": REALISED_COLOUR if settled else "white"})
        gid = f"lk-{metric}-{i}"
        ax.add_line(Line2D([x[i]], [r[metric]], ls="", zorder=3, gid=gid, **style))  # plot() less its overhead
        verdict = " · outside the band" if outside else " · inside the band" if inside else ""
        tips[gid] = (f"{ds.isoformat()} · {label} realised {m.fmt(r[metric])} · {reference} {m.fmt(r[f'est_{metric}'])} "
                     f"({_band(lower.iloc[i], upper.iloc[i], m)}) · {num(r['label_coverage'], '.0%')} labelled{verdict}")
    values = pd.concat([lower, upper, est, realised]).dropna()
    floor, ceiling = m.bounds
    if values.empty:
        ax.text(0.5, 0.5, f"no {label} values", transform=ax.transAxes, ha="center", va="center", color="#616e7c")
        ax.set_ylim(floor if floor is not None else 0.0, ceiling if ceiling is not None else 1.0)
    else:
        low, high = float(values.min()), float(values.max())
        # Bounded metrics (rates) pad by 2 points at least; others by 2% of their size.
        scale = ceiling - floor if floor is not None and ceiling is not None else max(abs(low), abs(high), 1e-12)
        pad = max((high - low) * 0.15, 0.02 * scale)
        ax.set_ylim(low - pad if floor is None else max(floor, low - pad),
                    high + pad if ceiling is None else min(ceiling, high + pad))
    if m.percent_axis:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(label, fontsize=9)
    ax.grid(axis="y", color="#e4e7eb", lw=0.6)
    ax.set_axisbelow(True)
    return tips


def _line(x: list[int], values: pd.Series, *, step: bool = False) -> tuple[list[float], list[float]]:
    """The points, or with ``step`` each day's value from x - 0.5 to x + 0.5, with a NaN
    between days that are not adjacent so that no line bridges a missing day."""
    offsets = (-0.5, 0.5) if step else (0.0,)
    xs: list[float] = []
    ys: list[float] = []
    for i, (day, value) in enumerate(zip(x, values, strict=True)):
        if i and day - x[i - 1] > 1:
            xs.append(day - 1.0)
            ys.append(math.nan)
        xs += [day + offset for offset in offsets]
        ys += [value] * len(offsets)
    return xs, ys
