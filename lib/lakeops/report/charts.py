"""The drift charts of a day page, as inline SVG markup.

Charts are matplotlib ``Figure`` objects (no pyplot, so no global backend is
chosen) serialised as inline SVG: the pages open offline and their labels stay
searchable text. Each function returns :class:`markupsafe.Markup`, which the
templates insert as is; every tooltip taken from the data is escaped here.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

import matplotlib
import pandas as pd
from markupsafe import Markup, escape
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import PercentFormatter

from lakeops.report.values import mpl_text, num, rank, to_float

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lakeops.report.timeline import Event

# Light grey / amber / dark red differ in lightness as well as hue, so they stay
# apart under the common colour-vision deficiencies; the status word is always
# printed next to the colour too.
STATUS_COLOURS = {"ok": "#b7c0c8", "warn": "#e8a317", "alert": "#b2182b"}
NO_DATA_COLOUR = "#f1f3f5"
BASELINE_COLOUR, CURRENT_COLOUR = "#9ecae1", "#2b5c8a"
# Event marks on the trend charts: each kind its own marker shape as well as colour.
EVENT_STYLES = {
    "retrain": {"marker": "v", "color": "#6a3d9a", "label": "retrain requested"},
    "promoted": {"marker": "^", "color": "#1b7837", "label": "gate: promoted"},
    "rejected": {"marker": "X", "color": "#616e7c", "label": "gate: rejected"},
    "decision": {"marker": "D", "color": "#616e7c", "label": "gate decision"},
}
VERSION_COLOUR = "#2b5c8a"


def svg(fig: Figure, key: str, tooltips: dict[str, str] | None = None) -> Markup:
    """The figure as an inline <svg>, with a <title> tooltip inside each group named in ``tooltips``."""
    # rc_context is scoped and restored on exit. fonttype "none" keeps labels as
    # real text (searchable, smaller); a per-figure salt makes the SVG ids
    # deterministic yet distinct between the several SVGs of one page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"lakeops-{key}"}):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # the prolog's DOCTYPE names an external DTD by URL
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF namespaces, creator URL
    for gid, tip in (tooltips or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{escape(tip)}</title>', 1)
    # matplotlib's SVG writer escapes every text it draws, so the document is safe markup.
    return Markup(text)


def thresholds(columns: pd.DataFrame) -> tuple[float, float] | None:
    """The common (warn, alert) thresholds, or None when they differ between columns."""
    warn = columns["warn_threshold"].map(to_float).dropna().round(9).unique()
    alert = columns["alert_threshold"].map(to_float).dropna().round(9).unique()
    return (float(warn[0]), float(alert[0])) if len(warn) == 1 and len(alert) == 1 else None


def psi_chart(columns: pd.DataFrame) -> tuple[Markup, str]:
    """Horizontal PSI bars, most drifted on top, and a caption saying how thresholds are drawn."""
    order = columns.sort_values("psi", ascending=False, na_position="last", kind="stable")
    n = len(order)
    psi = order["psi"].fillna(0.0).tolist()
    fig = Figure(figsize=(9, 0.3 * n + 1.2), layout="constrained")
    ax = fig.add_subplot()
    colours = [STATUS_COLOURS.get(s, NO_DATA_COLOUR) for s in order["status"]]
    bars = ax.barh(range(n), psi, height=0.7, color=colours)
    limits = order[["warn_threshold", "alert_threshold"]].map(to_float)
    right = max([*psi, *limits.max().fillna(0.0), 0.01]) * 1.3
    tips: dict[str, str] = {}
    for i, (bar, (name, row)) in enumerate(zip(bars, order.iterrows(), strict=False)):
        bar.set_gid(f"lk-psi-{i}")
        warn, alert = limits.iloc[i]
        value, word = num(row["psi"]), row["status"]
        tips[f"lk-psi-{i}"] = f"{name}: PSI {value}, {word} (warn {num(warn)}, alert {num(alert)})"
        # The status word sits next to the bar so the chart reads without colour.
        label = value if word == "ok" else f"{value}  {word.upper()}"
        ax.text(psi[i] + right * 0.01, i, label, va="center", fontsize=8)
    common = thresholds(order)
    if common is not None:
        for value, word in zip(common, ("warn", "alert"), strict=False):
            ax.axvline(value, color=STATUS_COLOURS[word], ls="--", lw=1.2, label=f"{word} ≥ {value:g}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        caption = f"Dashed lines: warn at PSI {common[0]:g}, alert at {common[1]:g} (the same for every column)."
    else:
        # Thresholds differ per column: mark each bar's own, since one line would lie. The white
        # halo keeps a red tick visible on a red bar.
        halo = [patheffects.withStroke(linewidth=4, foreground="white")]
        for i, (warn, alert) in enumerate(limits.itertuples(index=False)):
            for value, word in ((warn, "warn"), (alert, "alert")):
                ax.plot([value], [i], marker="|", ms=13, mew=2, color=STATUS_COLOURS[word], path_effects=halo)
        caption = "Thresholds differ per column: the amber and red ticks on each row mark its own warn and alert."
    ax.set_yticks(range(n), [mpl_text(c) for c in order.index], fontsize=9)
    ax.set_ylim(n - 0.5, -0.5)  # most drifted on top
    ax.set_xlim(0, right)
    ax.set_xlabel("PSI against the baseline (whole population)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return svg(fig, "psi", tips), caption


def mark_events(ax: Axes, events: Sequence[Event], position: Callable[[date], float | None], *,
                lane: float | None = None, key: str = "ev") -> dict[str, str]:
    """Draw ``events`` on a chart whose x axis is days; returns the marks' tooltips.

    A change of scoring version is a dashed line before its day, labelled with the new
    version; the other events are markers on the day, in the row ``lane`` (a y value) or,
    without one, along the top of the axes. Several events of one day sit side by side.

    Args:
        position: the x of a day's centre, or None for a day outside the chart.
    """
    tips: dict[str, str] = {}
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    same_day: dict[date, int] = {}
    marks = [e for e in events if e.kind != "version"]
    for i, event in enumerate(events):
        x = position(event.ds)
        if x is None:
            continue
        gid = f"lk-{key}-{i}"
        if event.kind == "version":
            ax.axvline(x - 0.5, color=VERSION_COLOUR, ls=(0, (4, 2)), lw=1.2, zorder=4, gid=gid)
            if lane is None:
                ax.text(x - 0.45, 0.02, event.label, transform=top, fontsize=7.5, color=VERSION_COLOUR, zorder=5)
            else:
                ax.text(x - 0.45, lane, event.label, fontsize=7.5, color=VERSION_COLOUR, va="center", zorder=5)
        else:
            style = EVENT_STYLES.get(event.kind, EVENT_STYLES["decision"])
            n = sum(1 for e in marks if e.ds == event.ds)
            k = same_day[event.ds] = same_day.get(event.ds, -1) + 1
            dx = (k - (n - 1) / 2) * 0.32
            where = {"transform": top} if lane is None else {}
            ax.plot([x + dx], [0.96 if lane is None else lane], ls="", marker=style["marker"], ms=7.5,
                    color=style["color"], mec="white", mew=0.6, clip_on=False, zorder=5, gid=gid, **where)
        tips[gid] = f"{event.day} · {event.detail}"
    return tips


def event_legend(events: Sequence[Event]) -> list:
    """Legend handles for the kinds of ``events`` present."""
    kinds = {e.kind for e in events}
    handles: list = [Line2D([], [], ls="", marker=style["marker"], color=style["color"], label=style["label"])
                     for kind, style in EVENT_STYLES.items() if kind in kinds]
    if "version" in kinds:
        handles.append(Line2D([], [], color=VERSION_COLOUR, ls=(0, (4, 2)), lw=1.2, label="scoring version changed"))
    return handles


def heatmap(status: pd.DataFrame, psi: pd.DataFrame, since: dict, *, events: Sequence[Event] = ()) -> Markup:
    """Status per column (rows) and day (columns); drifted cells carry their PSI.

    ``events`` (retrains, gate decisions, version changes) are marked in a lane above the grid.
    """
    rows, days = list(status.index), list(status.columns)
    columns = {d: j for j, d in enumerate(days)}
    events = [e for e in events if e.ds in columns]
    lane = bool(events)
    fig = Figure(figsize=(max(5.0, 0.34 * len(days) + 3.5), 0.3 * (len(rows) + lane) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    tips: dict[str, str] = {}
    for i, column in enumerate(rows):
        for j, day in enumerate(days):
            word, value, gid = status.iat[i, j], psi.iat[i, j], f"lk-heat-{i}-{j}"
            colour = STATUS_COLOURS.get(word, NO_DATA_COLOUR)
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour, edgecolor="white", gid=gid))
            tips[gid] = f"{column} · {day.isoformat()} · PSI {num(value)} · {word}"
            if rank(word) > 0 and not math.isnan(value):  # only drifted cells carry a number: less clutter
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if word == "alert" else "black")  # fmt: skip
        if column in since:
            ax.text(len(days) - 0.2, i, f"since {since[column][0]:%m-%d}", va="center", fontsize=8)
    step = max(1, math.ceil(len(days) / 16))
    ax.set_xticks(range(0, len(days), step), [f"{d:%m-%d}" for d in days[::step]], fontsize=8, rotation=90)
    labels = [mpl_text(r) for r in rows]
    if lane:
        tips |= mark_events(ax, events, columns.get, lane=-1.0, key="heat-ev")
        ax.set_yticks([-1.0, *range(len(rows))], ["retrain · gate", *labels], fontsize=9)
    else:
        ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -1.5 if lane else -0.5)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    keys = {**STATUS_COLOURS, "no data": NO_DATA_COLOUR}
    legend = [Patch(facecolor=colour, edgecolor="#9aa5b1", label=word) for word, colour in keys.items()]
    legend += event_legend(events)
    ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(legend), 4), fontsize=8,
              frameon=False)
    return svg(fig, "heatmap", tips)


def histogram(hist: pd.DataFrame, key: str) -> Markup | None:
    """Baseline vs current proportion per bucket (the null bucket last); None without buckets."""
    if hist.empty:
        return None
    # Display order is bin_index ascending with the null bucket (-1) last.
    bins = pd.to_numeric(hist["bin_index"], errors="coerce").astype(float)
    rows = hist.assign(_order=bins.where(bins >= 0, math.inf)).sort_values("_order", kind="stable")
    labels = [str(x) if len(str(x)) <= 16 else str(x)[:15] + "…" for x in rows["label"]]
    base = rows["baseline_proportion"].map(to_float).fillna(0.0).tolist()
    current = rows["current_proportion"].map(to_float).fillna(0.0).tolist()
    x = list(range(len(rows)))
    fig = Figure(figsize=(5.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.bar([v - 0.2 for v in x], base, width=0.4, color=BASELINE_COLOUR, label="baseline")
    pairs = ax.bar([v + 0.2 for v in x], current, width=0.4, color=CURRENT_COLOUR, label="current")
    tips = {}
    for i, (bar, label) in enumerate(zip(pairs, rows["label"], strict=False)):
        bar.set_gid(f"lk-{key}-{i}")
        tips[f"lk-{key}-{i}"] = f"{label}: baseline {num(base[i], '.1%')}, current {num(current[i], '.1%')}"
    rotate = 40 if len(rows) > 4 or max(map(len, labels)) > 8 else 0
    ax.set_xticks(x, [mpl_text(t) for t in labels], fontsize=8, rotation=rotate, ha="right" if rotate else "center")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, ncol=2, loc="lower right", bbox_to_anchor=(1, 1))  # never over a bar
    return svg(fig, key, tips)
