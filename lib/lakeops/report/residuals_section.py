"""A regression model's errors on one labelled day: a residual histogram and predicted against actual.

Shapes one day's scored and labelled rows (``prediction``, ``label`` and the
stored interval, joined by :mod:`lakeops.report.write` from ``predictions.<model>``
and ``features.<model>``) into the ``residuals.html`` section: the histogram of
prediction − label, with the interval's half-width marked, and a scatter of the
prediction against the label (at most ``MAX_POINTS`` rows, a fixed sample) with
the line y = x. Reads and writes no tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from lakeops.report.charts import svg
from lakeops.report.problems import measure, signed
from lakeops.report.values import dates, with_columns

#: The columns of the rows ``build`` reads.
COLUMNS = ["ds", "prediction", "label", "prediction_lower", "prediction_upper"]
#: Rows drawn in the scatter, at most (a sample with a fixed seed: the same page each time).
MAX_POINTS = 3000
#: The histogram's range: these quantiles of the residuals (the rows beyond are counted, not drawn).
TAILS = (0.005, 0.995)
BINS = 40

BAR_COLOUR, POINT_COLOUR, LINE_COLOUR, INTERVAL_COLOUR = "#9ecae1", "#2b5c8a", "#1f2933", "#1b7837"


@dataclass(frozen=True)
class Residuals:
    """What the residual section shows; ``empty`` is the one muted line when there is nothing."""

    empty: str | None = None
    ds: str = ""
    chart: Markup | None = None
    caption: str = ""
    facts: list[tuple[str, str]] | None = None


def build(rows: pd.DataFrame | None, ds: date) -> Residuals:
    """The section of the page of ``ds`` from one day's rows (None: the report could not read them)."""
    if rows is None:
        return Residuals(empty="No residuals: the report was written without the model's configuration, "
                               "which names its label column.")  # fmt: skip
    rows = with_columns(rows, COLUMNS)
    rows = rows.assign(prediction=pd.to_numeric(rows["prediction"], errors="coerce"),
                       label=pd.to_numeric(rows["label"], errors="coerce"))  # fmt: skip
    rows = rows[rows["prediction"].notna() & rows["label"].notna()]
    if rows.empty:
        return Residuals(empty=f"No residuals yet: no scored row up to {ds.isoformat()} has its label.")
    day = max(dates(rows["ds"].dropna())) if rows["ds"].notna().any() else ds
    prediction, label = rows["prediction"].to_numpy(float), rows["label"].to_numpy(float)
    residual = prediction - label
    lower = pd.to_numeric(rows["prediction_lower"], errors="coerce").to_numpy(float)
    upper = pd.to_numeric(rows["prediction_upper"], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        inside = (label >= lower) & (label <= upper)
    has_interval = ~(np.isnan(lower) | np.isnan(upper))
    half = float(np.median((upper - lower)[has_interval]) / 2) if has_interval.any() else math.nan
    chart, beyond, drawn = _chart(prediction, label, residual, half)
    n = len(residual)
    facts = [("rows", f"{n:,}"), ("mean residual (bias)", signed(residual.mean())),
             ("median |residual|", measure(np.median(np.abs(residual))))]  # fmt: skip
    if has_interval.any():
        facts.append(("inside the interval", f"{inside[has_interval].mean():.1%}"))
    caption = (f"The scored rows of {day.isoformat()} whose label has arrived ({n:,}), the newest labelled day up to "
               f"this page's. Left: prediction − label (positive: the model predicted too high)")
    caption += f"; {beyond:,} rows beyond the axis" if beyond else ""
    caption += (f". Dashed: ± the interval's half-width ({measure(half)}), inside which a residual means the label "
                "fell in the stored interval" if not math.isnan(half) else "")
    caption += f". Right: prediction against label{f', a sample of {drawn:,}' if drawn < n else ''}; on the line the "
    caption += "prediction is exact, right of it the label came out higher than predicted."
    return Residuals(ds=day.isoformat(), chart=chart, caption=caption, facts=facts)


def _chart(prediction: np.ndarray, label: np.ndarray, residual: np.ndarray, half: float) -> tuple[Markup, int, int]:
    # A fixed layout (the page's crop trims the margins): constrained layout would cost half the chart's time.
    fig = Figure(figsize=(10, 3.6))
    ax_hist, ax_scatter = fig.subplots(1, 2, width_ratios=[1.25, 1],
                                       gridspec_kw={"left": 0.07, "right": 0.99, "bottom": 0.14, "top": 0.97,
                                                    "wspace": 0.18})  # fmt: skip
    low, high = np.quantile(residual, TAILS) if len(residual) > 1 else (residual[0] - 1.0, residual[0] + 1.0)
    # The axis always shows 0 and both ends of the interval.
    reach = 0.0 if math.isnan(half) else half
    low, high = float(min(low, -reach)), float(max(high, reach))
    if high - low <= 0:
        low, high = low - 1.0, high + 1.0
    counts, edges = np.histogram(residual, bins=BINS, range=(low, high))
    ax_hist.stairs(counts, edges, fill=True, color=BAR_COLOUR)
    ax_hist.axvline(0.0, color=LINE_COLOUR, lw=1.0)
    if not math.isnan(half):
        for edge in (-half, half):
            ax_hist.axvline(edge, color=INTERVAL_COLOUR, lw=1.0, ls="--")
    ax_hist.axvline(float(residual.mean()), color="#b2182b", lw=1.2, ls=":")
    ax_hist.legend(handles=[Line2D([], [], color=LINE_COLOUR, lw=1.0, label="0: exact"),
                            Line2D([], [], color="#b2182b", lw=1.2, ls=":", label="mean (bias)"),
                            *([Line2D([], [], color=INTERVAL_COLOUR, lw=1.0, ls="--", label="± interval half-width")]
                              if not math.isnan(half) else [])],
                   fontsize=8, frameon=False, loc="upper left")  # fmt: skip
    ax_hist.set_xlabel("prediction − label", fontsize=9)
    ax_hist.set_ylabel("rows", fontsize=9)
    beyond = int(((residual < low) | (residual > high)).sum())

    n = len(residual)
    pick = np.random.default_rng(0).choice(n, MAX_POINTS, replace=False) if n > MAX_POINTS else slice(None)
    x, y = label[pick], prediction[pick]
    # Drawn as one embedded image: thousands of vector markers would make the page large and slow.
    ax_scatter.plot(x, y, ls="", marker="o", ms=2.5, alpha=0.45, color=POINT_COLOUR, mew=0, rasterized=True)
    ends = [float(min(x.min(), y.min())), float(max(x.max(), y.max()))]
    pad = (ends[1] - ends[0]) * 0.04 or 1.0
    ends = [ends[0] - pad, ends[1] + pad]
    ax_scatter.plot(ends, ends, color=LINE_COLOUR, lw=1.0, label="y = x")
    ax_scatter.set_xlim(*ends)
    ax_scatter.set_ylim(*ends)
    ax_scatter.set_aspect("equal", adjustable="box")
    ax_scatter.set_xlabel("label (actual)", fontsize=9)
    ax_scatter.set_ylabel("prediction", fontsize=9)
    ax_scatter.legend(fontsize=8, frameon=False, loc="upper left")
    for ax in (ax_hist, ax_scatter):
        for axis in (ax.xaxis, ax.yaxis):  # few ticks: each tick label is text to lay out
            axis.set_major_locator(MaxNLocator(nbins=5))
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(color="#e4e7eb", lw=0.6)
        ax.set_axisbelow(True)
    return svg(fig, "residuals"), beyond, len(x)
