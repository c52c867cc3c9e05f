"""The drift charts of a day page, as inline SVG markup.

The PSI bars, the status heatmap and the histograms are plain SVG written here with
:mod:`lakeops.report.svg` (bars, cells, lines, markers and their tooltips): no
plotting library, so a page renders in a fraction of a second, opens offline and
keeps its labels as searchable text. Each function returns
:class:`markupsafe.Markup`, which the templates insert as is; every text and
tooltip taken from the data is escaped on its way into the SVG.

:func:`draw_events` and :func:`event_keys` mark retrains, gate decisions and
version changes on such a chart (the heatmap, the performance chart of
:mod:`lakeops.report.performance_chart`).

The sections that still draw with matplotlib (:mod:`lakeops.report.residuals_section`,
:mod:`lakeops.report.shadow_section`, and :mod:`lakeops.report.performance_section` and
:mod:`lakeops.report.attribution_section` until they call :mod:`lakeops.report.performance_chart`
and :mod:`lakeops.report.attribution_chart`) serialise their figures with :func:`svg`, and mark
events with :func:`mark_events` and :func:`event_legend`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import matplotlib
import pandas as pd
from markupsafe import Markup, escape
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lakeops.report.svg import (
    AXIS_COLOUR,
    GRID_COLOUR,
    MUTED_COLOUR,
    NORMAL,
    SMALL,
    Key,
    Scale,
    Svg,
    finite,
    fit,
    legend,
    legend_height,
    legend_width,
    nice_ticks,
    text_width,
    tick_format,
    tspan,
)
from lakeops.report.values import num, rank, to_float

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
#: The dash of a version change's line (SVG ``stroke-dasharray``).
VERSION_DASH = "4 2"
#: The edge of the no-data key, which would vanish on white.
KEY_EDGE = "#9aa5b1"

#: Widths (px) of the wide charts (PSI bars) and of a histogram card's chart.
WIDE, CARD = 860, 540
#: Label column of the bar charts and the heatmap: at most this wide; longer names are cut (the tooltip has them whole).
LABELS_MAX = 240
#: PSI bar chart: the height of a row, and of its bar.
PSI_ROW, PSI_BAR = 22, 15


def thresholds(columns: pd.DataFrame) -> tuple[float, float] | None:
    """The common (warn, alert) thresholds, or None when they differ between columns."""
    warn = columns["warn_threshold"].map(to_float).dropna().round(9).unique()
    alert = columns["alert_threshold"].map(to_float).dropna().round(9).unique()
    return (float(warn[0]), float(alert[0])) if len(warn) == 1 and len(alert) == 1 else None


def x_axis(svg: Svg, scale: Scale, ticks: Sequence[float], fmt: Callable[[float], str], y: float, *,
           title: str | None = None) -> None:  # fmt: skip
    """A bottom axis at ``y``: its line, ticks, tick labels and ``title`` below them."""
    svg.line(scale.start, y, scale.end, y, AXIS_COLOUR)
    for t in ticks:
        svg.line(scale(t), y, scale(t), y + 4, AXIS_COLOUR)
        svg.text(scale(t), y + 6, fmt(t), anchor="middle", baseline="top")
    if title:
        svg.text((scale.start + scale.end) / 2, y + 24, title, size=NORMAL, anchor="middle", baseline="top")


def y_axis(svg: Svg, scale: Scale, ticks: Sequence[float], fmt: Callable[[float], str], x: float, *,
           grid_to: float | None = None) -> None:  # fmt: skip
    """A left axis at ``x``: its line, ticks and tick labels; with ``grid_to``, light grid lines across to that x."""
    for t in ticks:
        if grid_to is not None:
            svg.line(x, scale(t), grid_to, scale(t), GRID_COLOUR)
        svg.line(x - 4, scale(t), x, scale(t), AXIS_COLOUR)
        svg.text(x - 6, scale(t), fmt(t), anchor="end")
    svg.line(x, scale.start, x, scale.end, AXIS_COLOUR)


# ---------------------------------------------------------------- PSI per column


def psi_chart(columns: pd.DataFrame) -> tuple[Markup, str]:
    """Horizontal PSI bars, most drifted on top, and a caption saying how thresholds are drawn."""
    order = columns.sort_values("psi", ascending=False, na_position="last", kind="stable")
    n = len(order)
    values = [to_float(v) for v in order["psi"]]
    limits = order[["warn_threshold", "alert_threshold"]].map(to_float)
    known = [v for v in [*values, *limits.to_numpy().ravel()] if math.isfinite(v)]
    right = max([*known, 0.01]) * 1.3
    names = [str(c) for c in order.index]
    label_width = min(max(text_width(name, NORMAL) for name in names), LABELS_MAX) if n else 0.0
    left = label_width + 16
    common = thresholds(order)
    keys = [Key("line", STATUS_COLOURS[word], f"{word} ≥ {limit:g}", dash="5 3")
            for limit, word in zip(common or (), ("warn", "alert"), strict=False)]  # fmt: skip
    top = (legend_height(keys, WIDE - left) + 4) if keys else 8
    bottom = top + n * PSI_ROW
    svg = Svg(WIDE, bottom + 50, label="PSI per column against the baseline", key="psi")
    x = Scale(0.0, right, left, WIDE - 16)
    ticks = [t for t in nice_ticks(0.0, right, 6) if t <= right]
    for t in ticks[1:]:
        svg.line(x(t), top, x(t), bottom, GRID_COLOUR)
    if common is not None:  # under the bars: the line shows between them, a bar past it covers it
        legend(svg, keys, left, 2, WIDE - left - 16, align="end")
        for limit, key in zip(common, keys, strict=True):
            svg.line(x(limit), top, x(limit), bottom, key.colour, width=1.4, dash=key.dash)
    rows = zip(names, values, order["status"], limits["warn_threshold"], limits["alert_threshold"], strict=True)
    for i, (name, value, word, warn, alert) in enumerate(rows):
        y = top + (i + 0.5) * PSI_ROW
        bar = right if value == math.inf else finite(value)
        text = num(value)
        with svg.group(f"{name}: PSI {text}, {word} (warn {num(warn)}, alert {num(alert)})"):
            svg.hover(0, y - PSI_ROW / 2, WIDE, PSI_ROW)
            svg.text(left - 8, y, fit(name, NORMAL, label_width), size=NORMAL, anchor="end")
            svg.rect(left, y - PSI_BAR / 2, x(bar) - left, PSI_BAR, STATUS_COLOURS.get(word, NO_DATA_COLOUR))
            if common is None:
                # Thresholds differ per column: each row's own ticks, since one line would lie. The white
                # halo keeps a red tick visible on a red bar.
                for limit, colour in ((warn, STATUS_COLOURS["warn"]), (alert, STATUS_COLOURS["alert"])):
                    if math.isfinite(limit):
                        svg.line(x(limit), y - 8, x(limit), y + 8, "#fff", width=4)
                        svg.line(x(limit), y - 7, x(limit), y + 7, colour, width=2)
            # The status word sits next to the bar so the chart reads without colour; on white, so that a
            # threshold line does not cross it.
            note = text_width(text, SMALL) + (0 if word == "ok" else 6 + text_width(word.upper(), SMALL, bold=True))
            svg.rect(x(bar) + 2, y - 7, note + 4, 14, "#fff", fill_opacity="0.9")
            svg.text(x(bar) + 4, y, text, extra="" if word == "ok" else tspan(word.upper(), dx=6, bold=True))
    if common is not None:
        caption = f"Dashed lines: warn at PSI {common[0]:g}, alert at {common[1]:g} (the same for every column)."
    else:
        caption = "Thresholds differ per column: the amber and red ticks on each row mark its own warn and alert."
    svg.line(left, top, left, bottom, AXIS_COLOUR)
    x_axis(svg, x, ticks, tick_format(ticks), bottom, title="PSI against the baseline (whole population)")
    return svg.markup(), caption


# ---------------------------------------------------------------- events on the trend charts


def draw_events(svg: Svg, events: Sequence[Event], position: Callable[[date], float | None], day_width: float, *,
                marks_y: float, top: float, bottom: float, label_y: float) -> None:  # fmt: skip
    """Draw ``events`` on a chart whose x axis is days, each with its tooltip.

    A change of scoring version is a dashed line from ``top`` to ``bottom`` before its day,
    labelled with the new version at ``label_y``; the other events are markers on the day at
    ``marks_y``. Several events of one day sit side by side.

    Args:
        position: the x (px) of a day's centre, or None for a day outside the chart.
        day_width: the width of a day (px).
    """
    same_day: dict[date, int] = {}
    marks = [e for e in events if e.kind != "version"]
    for event in events:
        x = position(event.ds)
        if x is None:
            continue
        tip = f"{event.day} · {event.detail}"
        if event.kind == "version":
            edge = x - day_width / 2
            with svg.group(tip):
                svg.line(edge, top, edge, bottom, VERSION_COLOUR, width=1.2, dash=VERSION_DASH)
                svg.line(edge, top, edge, bottom, "#fff", width=7, stroke_opacity="0")  # wide enough to hover
                svg.text(edge + 3, label_y, event.label, size=10, fill=VERSION_COLOUR)
        else:
            style = EVENT_STYLES.get(event.kind, EVENT_STYLES["decision"])
            n = sum(1 for e in marks if e.ds == event.ds)
            k = same_day[event.ds] = same_day.get(event.ds, -1) + 1
            dx = (k - (n - 1) / 2) * min(10.0, day_width * 0.4)
            svg.marker(style["marker"], x + dx, marks_y, 10.0, style["color"], edge="#fff", tip=tip)


def event_keys(events: Sequence[Event]) -> list[Key]:
    """Legend keys for the kinds of ``events`` present."""
    kinds = {e.kind for e in events}
    keys = [Key(style["marker"], style["color"], style["label"]) for kind, style in EVENT_STYLES.items() if kind in kinds]
    if "version" in kinds:
        keys.append(Key("line", VERSION_COLOUR, "scoring version changed", dash=VERSION_DASH))
    return keys


# ---------------------------------------------------------------- status per column and day


def heatmap(status: pd.DataFrame, psi: pd.DataFrame, since: dict, *, events: Sequence[Event] = ()) -> Markup:
    """Status per column (rows) and day (columns); drifted cells carry their PSI.

    ``events`` (retrains, gate decisions, version changes) are marked in a lane above the grid.
    """
    rows, days = [str(r) for r in status.index], list(status.columns)
    columns = {d: j for j, d in enumerate(days)}
    events = [e for e in events if e.ds in columns]
    lane = bool(events)
    cw = float(min(30, max(12, 900 // max(len(days), 1))))  # a cell's width: a month fits in 900 px
    ch = 20.0
    lane_label = "retrain · gate"
    label_width = min(max([text_width(r, NORMAL) for r in rows] + [text_width(lane_label, SMALL) if lane else 0.0]),
                      LABELS_MAX)  # fmt: skip
    left = label_width + 14
    since_width = max((text_width(f"since {since[r][0]:%m-%d}", SMALL) for r in rows if r in since), default=0.0)
    grid_right = left + cw * len(days)
    width = grid_right + (since_width + 14 if since_width else 10)
    keys = [Key("box", STATUS_COLOURS[w], w, edge=KEY_EDGE) for w in STATUS_COLOURS]
    keys += [Key("box", NO_DATA_COLOUR, "no data", edge=KEY_EDGE), *event_keys(events)]
    width = max(width, min(left + legend_width(keys), WIDE))  # room for the legend in one row, or wrapped in a wide chart
    top = legend_height(keys, width - left) + 6
    grid_top = top + (ch if lane else 0.0)
    grid_bottom = grid_top + ch * len(rows)
    svg = Svg(width, grid_bottom + 24, label="Drift status per column and day", key="heatmap")
    legend(svg, keys, left, 2, width - left)
    words, values = status.to_numpy(), psi.to_numpy()
    numbers = cw >= 24  # room for "0.41" in a cell
    for i, column in enumerate(rows):
        y = grid_top + i * ch
        svg.text(left - 8, y + ch / 2, fit(column, NORMAL, label_width), size=NORMAL, anchor="end")
        for j, day in enumerate(days):
            word, value = words[i, j], to_float(values[i, j])
            colour = STATUS_COLOURS.get(word, NO_DATA_COLOUR)
            tip = f"{column} · {day.isoformat()} · PSI {num(value)} · {word}"
            x = left + j * cw
            if numbers and rank(word) > 0 and math.isfinite(value):  # only drifted cells carry a number: less clutter
                with svg.group(tip):
                    svg.rect(x, y, cw - 1, ch - 1, colour)
                    svg.text(x + (cw - 1) / 2, y + (ch - 1) / 2, f"{value:.2f}", size=9, anchor="middle",
                             fill="#fff" if word == "alert" else None)  # fmt: skip
            else:
                svg.rect(x, y, cw - 1, ch - 1, colour, tip=tip)
        if column in since:
            svg.text(grid_right + 6, y + ch / 2, f"since {since[column][0]:%m-%d}")
    # Day labels count back from the page's day, so that it is always labelled.
    step = max(1, math.ceil(len(days) / 16), math.ceil((text_width("00-00", SMALL) + 8) / cw))
    for j in range(len(days) - 1, -1, -step):
        svg.text(left + (j + 0.5) * cw, grid_bottom + 4, f"{days[j]:%m-%d}", anchor="middle", baseline="top")
    if lane:
        svg.text(left - 8, top + ch / 2, lane_label, anchor="end", fill=MUTED_COLOUR)
        draw_events(svg, events, lambda d: left + (columns[d] + 0.5) * cw, cw, marks_y=top + ch / 2, top=top,
                    bottom=grid_bottom, label_y=top + ch / 2)  # fmt: skip
    return svg.markup()


# ---------------------------------------------------------------- histograms


def histogram(hist: pd.DataFrame, key: str) -> Markup | None:
    """Baseline vs current proportion per bucket (the null bucket last); None without buckets.

    ``key`` names the chart on the page (its SVG ``id``).
    """
    if hist.empty:
        return None
    # Display order is bin_index ascending with the null bucket (-1) last.
    bins = pd.to_numeric(hist["bin_index"], errors="coerce").astype(float)
    rows = hist.assign(_order=bins.where(bins >= 0, math.inf)).sort_values("_order", kind="stable")
    names = [str(x) for x in rows["label"]]
    labels = [name if len(name) <= 16 else name[:15] + "…" for name in names]
    base = [finite(v) for v in rows["baseline_proportion"].map(to_float)]
    current = [finite(v) for v in rows["current_proportion"].map(to_float)]
    n = len(rows)
    high = max([*base, *current, 0.0]) * 1.08 or 0.01
    ticks = [t for t in nice_ticks(0.0, high, 5, steps=(1, 2, 5)) if t <= high]  # whole percents where they fit
    fmt = tick_format(ticks, percent=True)
    keys = [Key("box", BASELINE_COLOUR, "baseline"), Key("box", CURRENT_COLOUR, "current")]
    top, plot_height, right = 26.0, 160.0, CARD - 8.0
    rotate = n > 4 or max(map(len, labels)) > 8
    widest = max(text_width(label, SMALL) for label in labels)
    sin, cos = math.sin(math.radians(40)), math.cos(math.radians(40))
    left = max(text_width(fmt(t), SMALL) for t in ticks) + 14
    if rotate:  # the first label, slanted to the left of its bucket, must stay inside the chart
        left = max(left, widest * cos - (right - left) / n / 2 + 4)
    slot = (right - left) / n
    below = widest * sin + SMALL * cos + 12 if rotate else SMALL + 12
    bottom = top + plot_height
    svg = Svg(CARD, bottom + below, label="Baseline and current share per bucket", key=key)
    legend(svg, keys, left, 2, right - left, align="end")
    y = Scale(0.0, high, bottom, top)
    y_axis(svg, y, ticks, fmt, left, grid_to=right)
    svg.line(left, bottom, right, bottom, AXIS_COLOUR)
    # Labels far enough apart to read: slanted ones 12 px across, flat ones their width.
    every = math.ceil((12 / sin if rotate else widest + 6) / slot)
    for i, (name, label, b, c) in enumerate(zip(names, labels, base, current, strict=True)):
        x = left + i * slot
        with svg.group(f"{name}: baseline {num(b, '.1%')}, current {num(c, '.1%')}"):
            svg.hover(x, top, slot, bottom - top + below)
            svg.rect(x + 0.1 * slot, y(b), 0.4 * slot, bottom - y(b), BASELINE_COLOUR)
            svg.rect(x + 0.5 * slot, y(c), 0.4 * slot, bottom - y(c), CURRENT_COLOUR)
            if i % every == 0:
                cx = x + slot / 2
                svg.line(cx, bottom, cx, bottom + 4, AXIS_COLOUR)
                if rotate:
                    svg.text(cx + 3, bottom + 8, label, anchor="end", baseline="top", rotate=-40)
                else:
                    svg.text(cx, bottom + 6, label, anchor="middle", baseline="top")
    return svg.markup()


class Histograms:
    """Draws :func:`histogram` charts: what the page calls for each histogram card.

    (The matplotlib charts reused one figure for all of a page's histograms; SVG needs no such thing.)
    """

    def __call__(self, hist: pd.DataFrame, key: str) -> Markup | None:
        return histogram(hist, key)


# ---------------------------------------------------------------- matplotlib figures (the other sections' charts)

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


