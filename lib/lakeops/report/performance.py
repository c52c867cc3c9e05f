"""The model-performance part of a day page: CBPE estimates against realised metrics.

Shapes rows of ``ml.performance_metrics`` (whole population only) into what the
``performance.html`` template shows: the day's values, a chart of estimated AUC
and F1 with their bands against the realised values and the label coverage, the
days where the realised value fell outside the band, how often it fell inside
over the window, and estimated vs realised positive rate (calibration). Reads
and writes no tables.
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
]  # fmt: skip
# (label, column, has a band): the rows of the day's table, shown when either kind has a value.
_METRICS = [("AUC", "auc", True), ("F1", "f1", True), ("precision", "precision", False),
            ("recall", "recall", False), ("PR AUC", "pr_auc", False), ("Brier", "brier", False),
            ("log loss", "logloss", False), ("ECE", "ece", False)]  # fmt: skip
_EST_KEEP = list(dict.fromkeys([*(c for _, c, _ in _METRICS), "auc_lower", "auc_upper", "f1_lower", "f1_upper",
                                "positive_rate", "n_scored"]))  # fmt: skip
_REAL_KEEP = [*(c for _, c, _ in _METRICS), "n_scored", "n_labeled", "label_coverage", "positive_rate",
              "estimated_auc", "estimated_f1", "auc_in_band", "f1_in_band"]  # fmt: skip

BAND_COLOUR, ESTIMATE_COLOUR = "#c6dbef", "#2b5c8a"
REALISED_COLOUR, OUTSIDE_COLOUR, COVERAGE_COLOUR = "#1f2933", "#b2182b", "#9aa5b1"


@dataclass(frozen=True)
class Performance:
    """What the performance sections show; ``empty`` is the one muted line when there is nothing."""

    empty: str | None = None
    days: int = PERFORMANCE_DAYS
    headline: dict | None = None
    today: list[dict] = field(default_factory=list)
    chart: Markup | None = None
    disagreements: list[dict] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)


def flag(value: object) -> bool | None:
    """A nullable boolean from Arrow (object True/False/None), pandas (NA) or numpy."""
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else bool(value)


def daily(performance: pd.DataFrame) -> pd.DataFrame:
    """One row per day, whole population: estimated columns prefixed ``est_``, realised ones as they are."""
    frame = with_columns(performance, COLUMNS)
    frame = frame[frame["slice_key"].isna()]
    frame = frame.assign(ds=dates(frame["ds"]), kind=frame["kind"].astype("string").str.strip().str.lower(),
                         _version=frame["model_version"].map(to_float).fillna(-1.0))  # fmt: skip
    # One row per day and kind; should a day hold two versions' rows, the newer version's.
    frame = frame.sort_values(["ds", "kind", "_version"], kind="stable").drop_duplicates(["ds", "kind"], keep="last")
    est = frame[frame["kind"] == "estimated"].set_index("ds")[_EST_KEEP].add_prefix("est_")
    real = frame[frame["kind"] == "realised"].set_index("ds")[_REAL_KEEP]
    out = est.join(real, how="outer").sort_index()
    numeric = [c for c in out.columns if not c.endswith("_in_band")]
    out[numeric] = out[numeric].map(to_float).astype(float)
    for column in ("auc_in_band", "f1_in_band"):
        out[column] = out[column].map(flag).astype(object)
    coverage = out["label_coverage"].where(out["label_coverage"].notna(), out["n_labeled"] / out["n_scored"])
    out["label_coverage"] = coverage.fillna(0.0)  # no realised row yet: nothing labelled
    out["n_scored"] = out["n_scored"].fillna(out["est_n_scored"])
    out["n_labeled"] = out["n_labeled"].fillna((out["label_coverage"] * out["n_scored"]).round())
    # Fully labelled: the producer fills the in-band flags only then (and only with an estimate).
    out["settled"] = out["auc_in_band"].notna() | out["f1_in_band"].notna() | (out["label_coverage"] >= 1.0)
    return out


def build(performance: pd.DataFrame | None, ds: date, *, days: int = PERFORMANCE_DAYS,
          events: Sequence[Event] = ()) -> Performance:
    """The performance sections of the page of ``ds``, from rows of any days (later ones are ignored);
    ``events`` (retrains, gate decisions, version changes) are marked on the chart."""
    if performance is None:
        return Performance(empty="No performance data yet: this lake has no ml.performance_metrics table.")
    frame = daily(performance)
    frame = frame[(frame.index <= ds) & (frame.index > ds - timedelta(days=days))]
    if frame.empty:
        return Performance(empty=f"No performance data yet for the {days} days up to {ds.isoformat()}.")
    return Performance(
        days=days,
        headline=_headline(frame, ds),
        today=_today(frame, ds),
        chart=chart(frame, ds, events=events),
        disagreements=_disagreements(frame),
        coverage=[_band_coverage(frame, "AUC", "auc_in_band"), _band_coverage(frame, "F1", "f1_in_band")],
        calibration=_calibration(frame),
    )


def _headline(frame: pd.DataFrame, ds: date) -> dict | None:
    """The day's AUC, estimated and realised, and its label coverage (None without a row that day)."""
    if ds not in frame.index:
        return None
    r = frame.loc[ds]
    return {"est_auc": r["est_auc"], "band": _band(r["est_auc_lower"], r["est_auc_upper"]), "auc": r["auc"],
            "has_auc": not math.isnan(r["auc"]), "auc_in_band": flag(r["auc_in_band"]),
            "label_coverage": r["label_coverage"], "n_labeled": r["n_labeled"], "n_scored": r["n_scored"]}  # fmt: skip


def _today(frame: pd.DataFrame, ds: date) -> list[dict]:
    if ds not in frame.index:
        return []
    r = frame.loc[ds]
    rows = []
    for label, column, banded in _METRICS:
        estimated, realised = r[f"est_{column}"], r[column]
        if math.isnan(estimated) and math.isnan(realised):
            continue
        rows.append({"metric": label, "estimated": estimated, "realised": realised,
                     "band": _band(r[f"est_{column}_lower"], r[f"est_{column}_upper"]) if banded else "",
                     "in_band": flag(r[f"{column}_in_band"]) if banded else None})  # fmt: skip
    return rows


def _band(lower: float, upper: float) -> str:
    return "–" if math.isnan(lower) and math.isnan(upper) else f"{num(lower)} – {num(upper)}"


def _disagreements(frame: pd.DataFrame) -> list[dict]:
    """Days whose realised AUC or F1 fell outside the estimated band, newest first."""
    outside = frame[(frame["auc_in_band"] == False) | (frame["f1_in_band"] == False)]  # noqa: E712 (None stays out)
    rows = []
    for ds, r in outside.sort_index(ascending=False).iterrows():
        row = {"ds": ds.isoformat(), "label_coverage": r["label_coverage"]}
        for metric in ("auc", "f1"):
            # The estimate the producer compared against, else the estimated row's value.
            estimated = r[f"estimated_{metric}"] if not math.isnan(r[f"estimated_{metric}"]) else r[f"est_{metric}"]
            row[metric] = {"realised": r[metric], "estimated": estimated, "outside": flag(r[f"{metric}_in_band"]) is False,
                           "band": _band(r[f"est_{metric}_lower"], r[f"est_{metric}_upper"])}  # fmt: skip
        rows.append(row)
    return rows


def _band_coverage(frame: pd.DataFrame, label: str, column: str) -> str:
    known = frame[column].dropna()
    if known.empty:
        return f"{label}: no fully labelled day with an estimate yet."
    inside = int((known == True).sum())  # noqa: E712
    plural = "s" if len(known) != 1 else ""
    return f"{label} inside its band on {inside} of {len(known)} fully labelled day{plural} ({inside / len(known):.0%})."


def _calibration(frame: pd.DataFrame) -> list[dict]:
    labelled = frame[frame["positive_rate"].notna()].sort_index(ascending=False).head(CALIBRATION_DAYS)
    rows = []
    for ds, r in labelled.iterrows():
        gap = r["positive_rate"] - r["est_positive_rate"]
        rows.append({"ds": ds.isoformat(), "mean_score": r["est_positive_rate"], "positive_rate": r["positive_rate"],
                     "gap": "–" if math.isnan(gap) else f"{gap * 100:+.1f} pp".replace("-", "−"), "ece": r["ece"],
                     "label_coverage": r["label_coverage"], "settled": bool(r["settled"])})  # fmt: skip
    return rows


# ---------------------------------------------------------------- the chart


def chart(frame: pd.DataFrame, end: date, *, events: Sequence[Event] = ()) -> Markup:
    """Estimated AUC and F1 with their bands, realised values as points, and label coverage, per day up to
    ``end``; ``events`` are marked on the days they happened."""
    # At least two weeks wide, so that a lone first day is a day-wide band rather than the whole chart.
    first = min(frame.index.min(), end - timedelta(days=MIN_CHART_DAYS - 1))
    span = (end - first).days
    x = [(d - first).days for d in frame.index]
    fig = Figure(figsize=(10, 6.4), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[3, 3, 1.2])
    ax_auc = fig.add_subplot(grid[0])
    ax_f1 = fig.add_subplot(grid[1], sharex=ax_auc)
    ax_cov = fig.add_subplot(grid[2], sharex=ax_auc)
    tips: dict[str, str] = {}
    for ax, label, metric in ((ax_auc, "AUC", "auc"), (ax_f1, "F1", "f1")):
        tips |= _metric_panel(ax, frame, x, label, metric)
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
    for i, ax in enumerate((ax_auc, ax_f1, ax_cov)):
        for event in events:  # a faint line through every panel, the mark on the top one
            ax.axvline((event.ds - first).days - (0.5 if event.kind == "version" else 0.0), lw=0.8, alpha=0.35,
                       color="#616e7c", zorder=0)
        if i == 0:
            tips |= mark_events(ax, events, lambda d: (d - first).days, key="perf-ev")
    for ax in (ax_auc, ax_f1, ax_cov):
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in (ax_auc, ax_f1):
        ax.tick_params(axis="x", labelbottom=False)
    legend = [
        Patch(facecolor=BAND_COLOUR, label="estimated band (±3 SE)"),
        Line2D([], [], color=ESTIMATE_COLOUR, lw=1.5, ls="--", label="estimated"),
        Line2D([], [], color=REALISED_COLOUR, marker="o", ls="", label="realised, fully labelled"),
        Line2D([], [], color=REALISED_COLOUR, marker="o", mfc="white", ls="", label="realised, labels arriving"),
        Line2D([], [], color=OUTSIDE_COLOUR, marker="X", ms=8, ls="", label="realised outside the band"),
        *event_legend(events),
    ]
    ax_auc.legend(handles=legend, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=5, fontsize=8, frameon=False)
    return svg(fig, "performance", tips)


def _metric_panel(ax, frame: pd.DataFrame, x: list[int], label: str, metric: str) -> dict[str, str]:
    est, lower, upper = frame[f"est_{metric}"], frame[f"est_{metric}_lower"], frame[f"est_{metric}_upper"]
    realised = frame[metric]
    # Each day's band and estimate span the day's full width, so a lone estimated day still shows.
    steps, lows = _line(x, lower, step=True)
    ax.fill_between(steps, lows, _line(x, upper, step=True)[1], color=BAND_COLOUR, lw=0)
    ax.plot(*_line(x, est, step=True), color=ESTIMATE_COLOUR, lw=1.5, ls="--")
    ax.plot(*_line(x, realised), color=REALISED_COLOUR, lw=0.8, alpha=0.5)
    tips = {}
    for i, (ds, r) in enumerate(frame.iterrows()):
        if math.isnan(r[metric]):
            continue
        inside = flag(r[f"{metric}_in_band"])
        outside = inside is False
        style: dict[str, Any] = ({"marker": "X", "ms": 9, "color": OUTSIDE_COLOUR} if outside else
                 {"marker": "o", "ms": 5.5, "color": REALISED_COLOUR, "mfc": REALISED_COLOUR if r["settled"] else "white"})
        gid = f"lk-{metric}-{i}"
        ax.add_line(Line2D([x[i]], [r[metric]], ls="", zorder=3, gid=gid, **style))  # plot() less its overhead
        verdict = " · outside the band" if outside else " · inside the band" if inside else ""
        tips[gid] = (f"{ds.isoformat()} · {label} realised {num(r[metric])} · estimated {num(r[f'est_{metric}'])} "
                     f"({_band(lower.iloc[i], upper.iloc[i])}) · {num(r['label_coverage'], '.0%')} labelled{verdict}")
    values = pd.concat([lower, upper, est, realised]).dropna()
    if values.empty:
        ax.text(0.5, 0.5, f"no {label} values", transform=ax.transAxes, ha="center", va="center", color="#616e7c")
        ax.set_ylim(0, 1)
    else:
        low, high = float(values.min()), float(values.max())
        pad = max((high - low) * 0.15, 0.02)
        ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
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
