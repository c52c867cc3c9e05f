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
from typing import TYPE_CHECKING, Any, cast

import matplotlib
import numpy as np
import pandas as pd
from markupsafe import Markup, escape
from matplotlib import patheffects
from matplotlib.artist import allow_rasterization
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path
from matplotlib.ticker import PercentFormatter

from lakeops.report.values import mpl_text, num, rank, to_float

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

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
_GROUP = re.compile(r'<g id="([^"]+)">')


def svg(fig: Figure, key: str, tooltips: dict[str, str] | None = None) -> Markup:
    """The figure as an inline <svg>, with a <title> tooltip inside each group named in ``tooltips``."""
    # rc_context is scoped and restored on exit. fonttype "none" keeps labels as
    # real text (searchable, smaller); a per-figure salt makes the SVG ids
    # deterministic yet distinct between the several SVGs of one page.
    #
    # What savefig(bbox_inches="tight") does, less one pass: savefig lays the figure out in a
    # first draw that renders nothing, measures the tight box, then draws. Here the layout
    # engine runs alone (the same engine, on the same kind of SVG renderer), the box is
    # measured, and the one draw that writes the SVG comes with the layout frozen; the SVG is
    # the same. (The two figure.* settings make set_layout_engine(None) mean none.)
    rc: dict[RcKeyType, Any] = {"svg.fonttype": "none", "svg.hashsalt": f"lakeops-{key}", "figure.autolayout": False,
                                "figure.constrained_layout.use": False}  # fmt: skip
    engine, dpi = fig.get_layout_engine(), fig.dpi
    with matplotlib.rc_context(rc):
        _pin_empty_axis_labels(fig)
        FigureCanvasSVG(fig)
        try:
            if engine is not None:
                engine.execute(fig)
            box = fig.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
            fig.set_layout_engine(None)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", bbox_inches=box, metadata={"Date": None})
        finally:  # the figure as it came (Histograms draws on it again)
            fig.set_layout_engine(engine)
            fig.dpi = dpi
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # the prolog's DOCTYPE names an external DTD by URL
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF namespaces, creator URL
    if tooltips:
        # One pass over the document (a heatmap has a thousand tooltips): each named group gets its
        # tooltip, the first group of that name only.
        pending = dict(tooltips)

        def title(match: re.Match) -> str:
            tip = pending.pop(match.group(1), None)
            return match.group(0) if tip is None else f"{match.group(0)}<title>{escape(tip)}</title>"

        text = _GROUP.sub(title, text)
    # matplotlib's SVG writer escapes every text it draws, so the document is safe markup.
    return Markup(text)


def _pin_empty_axis_labels(fig: Figure) -> None:
    """Give every axis without a label a fixed label position.

    matplotlib places an axis label clear of the tick labels, so on every layout, measuring and
    drawing pass it measures all the axis's tick labels once more, label or not. An empty label
    draws nothing and takes no room (a box of no size counts for no layout), so where it sits
    changes nothing; pinned, it is no longer placed.
    """
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.label.get_text():
                axis.set_label_coords(0.5, 0.5)


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
    rows = zip(bars, order.index, order["psi"], order["status"], limits["warn_threshold"], limits["alert_threshold"],
               strict=False)  # fmt: skip
    for i, (bar, name, raw, word, warn, alert) in enumerate(rows):
        bar.set_gid(f"lk-psi-{i}")
        value = num(raw)
        tips[f"lk-psi-{i}"] = f"{name}: PSI {value}, {word} (warn {num(warn)}, alert {num(alert)})"
        # The status word sits next to the bar so the chart reads without colour.
        label = value if word == "ok" else f"{value}  {word.upper()}"
        ax.text(psi[i] + right * 0.01, i, label, va="center", fontsize=8)
    common = thresholds(order)
    if common is not None:
        for limit, word in zip(common, ("warn", "alert"), strict=False):
            ax.axvline(limit, color=STATUS_COLOURS[word], ls="--", lw=1.2, label=f"{word} ≥ {limit:g}")
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
            where: dict[str, Any] = {"transform": top} if lane is None else {}
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


class _Cells(Patch):
    """Unit squares centred on ``(x, y)`` in data coordinates, each filled with its colour and drawn
    in an SVG group of its own ``gid`` (where its tooltip goes), as one artist.

    A ``Rectangle`` per cell draws the same markup, but a 30-day heatmap of 30 columns has
    900 of them, and matplotlib's per-artist work (transforms, limits, layout checks, on each
    of the passes of a save) then costs most of the page. The cells lie inside the axes, so
    they take no part in the layout.
    """

    def __init__(self, cells: Sequence[tuple[float, float, str, str]], **kwargs) -> None:
        super().__init__(in_layout=False, **kwargs)
        unit = Path.unit_rectangle()
        vertices = np.asarray(unit.vertices)  # already an array; matplotlib's stubs say any ArrayLike
        self._cells = [(Path(vertices + (x - 0.5, y - 0.5), unit.codes), to_rgba(colour), gid)
                       for x, y, colour, gid in cells]  # fmt: skip

    def get_path(self) -> Path:
        if not self._cells:
            return Path.unit_rectangle()
        return Path(np.concatenate([path.vertices for path, _, _ in self._cells]))

    @allow_rasterization
    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        transform = self.get_transform()
        affine = transform.get_affine()
        # One graphics context for all cells, set up as Patch.draw sets up each patch's.
        gc = renderer.new_gc()
        # get_edgecolor() is an RGBA tuple; matplotlib's stubs say any colour (an RGB tuple has no [3]).
        gc.set_linewidth(self.get_linewidth() if self.get_edgecolor()[3] else 0)  # type: ignore[misc]
        gc.set_capstyle(self.get_capstyle())
        gc.set_joinstyle(self.get_joinstyle())
        gc.set_antialiased(self.get_antialiased())
        self._set_gc_clip(gc)  # type: ignore[attr-defined]  # Artist's private helper, absent from matplotlib's stubs
        gc.set_snap(self.get_snap())
        gc.set_alpha(self.get_alpha())
        gc.set_foreground(self.get_edgecolor(), isRGBA=True)
        for path, face, gid in self._cells:
            renderer.open_group("patch", gid)
            renderer.draw_path(gc, transform.transform_path_non_affine(path), affine, face)
            renderer.close_group("patch")
        gc.restore()
        self.stale = False


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
    cells = []
    words, values = status.to_numpy(), psi.to_numpy()
    for i, column in enumerate(rows):
        for j, day in enumerate(days):
            word, value, gid = words[i, j], values[i, j], f"lk-heat-{i}-{j}"
            cells.append((j, i, STATUS_COLOURS.get(word, NO_DATA_COLOUR), gid))
            tips[gid] = f"{column} · {day.isoformat()} · PSI {num(value)} · {word}"
            if rank(word) > 0 and not math.isnan(value):  # only drifted cells carry a number: less clutter
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if word == "alert" else "black", in_layout=False)  # fmt: skip
        if column in since:
            ax.text(len(days) - 0.2, i, f"since {since[column][0]:%m-%d}", va="center", fontsize=8)
    ax.add_artist(_Cells(cells, edgecolor="white"))
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
    return Histograms()(hist, key)


class Histograms:
    """Draws :func:`histogram` charts, all on one figure.

    A page has seven histograms of one size and style. Creating a figure, its axes, ticks and
    legend costs more than drawing the bars, so each chart after the first takes the previous
    one's figure, removes its bars and draws its own. The axes go back to the position a new
    figure's start from, so the layout, and the SVG, are those of a new figure.
    """

    def __init__(self) -> None:
        self._ax: Axes | None = None

    def __call__(self, hist: pd.DataFrame, key: str) -> Markup | None:
        if hist.empty:
            return None
        # Display order is bin_index ascending with the null bucket (-1) last.
        bins = pd.to_numeric(hist["bin_index"], errors="coerce").astype(float)
        rows = hist.assign(_order=bins.where(bins >= 0, math.inf)).sort_values("_order", kind="stable")
        labels = [str(x) if len(str(x)) <= 16 else str(x)[:15] + "…" for x in rows["label"]]
        base = rows["baseline_proportion"].map(to_float).fillna(0.0).tolist()
        current = rows["current_proportion"].map(to_float).fillna(0.0).tolist()
        x = list(range(len(rows)))
        ax = self._axes()
        ax.bar([v - 0.2 for v in x], base, width=0.4, color=BASELINE_COLOUR, label="baseline")
        pairs = ax.bar([v + 0.2 for v in x], current, width=0.4, color=CURRENT_COLOUR, label="current")
        tips = {}
        for i, (bar, label) in enumerate(zip(pairs, rows["label"], strict=False)):
            bar.set_gid(f"lk-{key}-{i}")
            tips[f"lk-{key}-{i}"] = f"{label}: baseline {num(base[i], '.1%')}, current {num(current[i], '.1%')}"
        rotate = 40 if len(rows) > 4 or max(map(len, labels)) > 8 else 0
        ax.set_xticks(x, [mpl_text(t) for t in labels], fontsize=8, rotation=rotate,
                      ha="right" if rotate else "center")  # fmt: skip
        if ax.get_legend() is None:
            ax.legend(fontsize=8, frameon=False, ncol=2, loc="lower right", bbox_to_anchor=(1, 1))  # never over a bar
        return svg(cast(Figure, ax.get_figure()), key, tips)

    def _axes(self) -> Axes:
        """The axes, new or without the previous chart's bars."""
        ax = self._ax
        if ax is None:
            fig = Figure(figsize=(5.6, 3.0), layout="constrained")
            ax = self._ax = fig.add_subplot()
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.tick_params(axis="y", labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            return ax
        for bars in list(ax.containers):
            bars.remove()
        ax.relim()  # no data: the limits come from the new bars alone
        ax.set_position(cast(SubplotSpec, ax.get_subplotspec()).get_position(cast(Figure, ax.get_figure())))
        ax.set_in_layout(True)  # set_position takes the axes out of the layout
        return ax
