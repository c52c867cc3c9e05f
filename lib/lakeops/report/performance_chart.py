"""The performance chart of a day page as hand-written SVG: estimated metrics and their bands against realised values.

A drop-in for :func:`lakeops.report.performance_section.chart` (the same arguments, the same
picture), drawn without matplotlib: a panel per charted metric of the problem type
(:attr:`lakeops.report.problems.ProblemSpec.charted`) with the estimate's band (a step
polygon, one step a day), the estimate (dashed; a target, solid green), the realised
values as points joined by a faint line (filled once settled, hollow while labels
arrive, a red cross outside the band), and under them a panel of the label coverage
per day; retrains, gate decisions and version changes are marked on the days they
happened. Every point and bar has its tooltip. Reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup

from lakeops.report.charts import draw_events, event_keys, y_axis
from lakeops.report.problems import BINARY, Metric, ProblemSpec
from lakeops.report.svg import (
    AXIS_COLOUR,
    MUTED_COLOUR,
    NORMAL,
    SMALL,
    Key,
    Scale,
    Svg,
    legend,
    legend_height,
    nice_ticks,
    text_width,
    tick_format,
)
from lakeops.report.values import num, to_float

if TYPE_CHECKING:
    from lakeops.report.timeline import Event

#: The chart's width, the height of a metric's panel and of the label coverage's, and the gap between panels (px).
WIDTH, PANEL, COVERAGE, GAP = 920, 150, 64, 12
#: Most day labels under the chart.
DAY_LABELS = 15


def chart(frame: pd.DataFrame, end: date, *, events: Sequence[Event] = (), spec: ProblemSpec = BINARY) -> Markup:
    """The spec's estimated metrics with their bands, realised values as points, and label coverage, per day
    up to ``end``; ``events`` are marked on the days they happened.

    ``frame``: :func:`lakeops.report.performance_section.daily`'s rows of the days shown (indexed by day).
    """
    # Imported here: performance_section may import this module at its top to draw its chart.
    from lakeops.report import performance_section as section

    # At least two weeks wide, so that a lone first day is a day-wide band rather than the whole chart.
    first = min(frame.index.min(), end - timedelta(days=section.MIN_CHART_DAYS - 1))
    span = (end - first).days
    xs = [(d - first).days for d in frame.index]
    metrics = [spec.metric(c) for c in spec.charted]
    keys = [
        Key("box", section.BAND_COLOUR, spec.band_marker),
        Key("line", section.ESTIMATE_COLOUR, "estimated", dash="5 3"),
        *(Key("line", section.TARGET_COLOUR, f"{m.label} target") for m in metrics if m.target),
        Key("o", section.REALISED_COLOUR, spec.settled_marker),
        Key("o", section.REALISED_COLOUR, spec.unsettled_marker, hollow=True),
        Key("X", section.OUTSIDE_COLOUR, "realised outside the band"),
        *event_keys([e for e in events if first <= e.ds <= end]),
    ]
    ranges = [_range(frame, m) for m in metrics]
    left = max([text_width(fmt(t), SMALL) for _, _, ticks, fmt in ranges for t in ticks] + [text_width("100%", SMALL)]) + 36
    right = WIDTH - 14.0
    top = legend_height(keys, right - left) + 8
    coverage_top = top + len(metrics) * (PANEL + GAP)
    bottom = coverage_top + COVERAGE
    svg = Svg(WIDTH, bottom + 24, label="Estimated and realised performance per day", key="performance")
    legend(svg, keys, left, 2, right - left)
    x = Scale(-0.6, span + 0.6, left, right)
    day = x(1) - x(0)
    day_ticks = sorted(range(span, -1, -max(1, math.ceil((span + 1) / DAY_LABELS))))
    events = [e for e in events if first <= e.ds <= end]
    panels = [(top + i * (PANEL + GAP), top + i * (PANEL + GAP) + PANEL) for i in range(len(metrics))]
    for p_top, p_bottom in [*panels, (coverage_top, bottom)]:
        for event in events:  # a faint line through every panel, the mark on the top one
            ex = x((event.ds - first).days - (0.5 if event.kind == "version" else 0.0))
            svg.line(ex, p_top, ex, p_bottom, MUTED_COLOUR, width=0.8, stroke_opacity="0.35")
    for (p_top, p_bottom), m, (low, high, ticks, fmt) in zip(panels, metrics, ranges, strict=True):
        y = Scale(low, high, p_bottom, p_top)
        y_axis(svg, y, ticks, fmt, left, grid_to=right)
        _bottom_axis(svg, x, day_ticks, p_bottom)
        svg.text(14, (p_top + p_bottom) / 2, m.label, size=NORMAL, anchor="middle", rotate=-90)
        _metric_panel(svg, frame, xs, m, x, y, section)
    if events:
        p_top, p_bottom = panels[0]
        draw_events(svg, events, lambda d: x((d - first).days), day, marks_y=p_top + 6, top=p_top, bottom=p_bottom,
                    label_y=p_bottom - 8)  # fmt: skip
    _coverage(svg, frame, xs, x, Scale(0.0, 1.05, bottom, coverage_top), right, section.COVERAGE_COLOUR)
    _bottom_axis(svg, x, day_ticks, bottom)
    for t in day_ticks:
        svg.text(x(t), bottom + 6, f"{first + timedelta(days=t):%m-%d}", anchor="middle", baseline="top")
    return svg.markup()


def _range(frame: pd.DataFrame, m: Metric) -> tuple[float, float, list[float], Callable[[float], str]]:
    """A metric panel's y range (low, high), its ticks and their formatter."""
    c = m.column
    values = [v for v in pd.concat([frame[f"est_{c}_lower"], frame[f"est_{c}_upper"], frame[f"est_{c}"], frame[c]])
              .map(to_float) if math.isfinite(v)]  # fmt: skip
    floor, ceiling = m.bounds
    if not values:
        low, high = (floor if floor is not None else 0.0), (ceiling if ceiling is not None else 1.0)
    else:
        low, high = min(values), max(values)
        # Bounded metrics (rates) pad by 2 points at least; others by 2% of their size.
        scale = ceiling - floor if floor is not None and ceiling is not None else max(abs(low), abs(high), 1e-12)
        pad = max((high - low) * 0.15, 0.02 * scale)
        low = low - pad if floor is None else max(floor, low - pad)
        high = high + pad if ceiling is None else min(ceiling, high + pad)
    ticks = [t for t in nice_ticks(low, high, 6, steps=(1, 2, 5)) if low - 1e-12 <= t <= high + 1e-12]
    return low, high, ticks, tick_format(ticks, percent=m.percent_axis)


def _metric_panel(svg: Svg, frame: pd.DataFrame, xs: list[int], m: Metric, x: Scale, y: Scale, section: ModuleType) -> None:
    c, label = m.column, m.label
    est = [to_float(v) for v in frame[f"est_{c}"]]
    lower = [to_float(v) for v in frame[f"est_{c}_lower"]]
    upper = [to_float(v) for v in frame[f"est_{c}_upper"]]
    realised = [to_float(v) for v in frame[c]]
    # Each day's band and estimate span the day's full width, so a lone estimated day still shows.
    for run in _runs(xs, lower, upper):
        low = [(x(xs[i] + dx), y.clamped(lower[i])) for i in run for dx in (-0.5, 0.5)]
        high = [(x(xs[i] + dx), y.clamped(upper[i])) for i in reversed(run) for dx in (0.5, -0.5)]
        svg.polygon(low + high, section.BAND_COLOUR)
    for run in _runs(xs, est):
        steps = [(x(xs[i] + dx), y.clamped(est[i])) for i in run for dx in (-0.5, 0.5)]
        if m.target:
            svg.polyline(steps, section.TARGET_COLOUR, width=1.6)
        else:
            svg.polyline(steps, section.ESTIMATE_COLOUR, width=1.6, dash="5 3")
    for run in _runs(xs, realised):
        if len(run) > 1:
            svg.polyline([(x(xs[i]), y.clamped(realised[i])) for i in run], section.REALISED_COLOUR, width=0.9,
                         stroke_opacity="0.5")  # fmt: skip
    if not any(math.isfinite(v) for v in [*est, *lower, *upper, *realised]):
        svg.text((x.start + x.end) / 2, (y.start + y.end) / 2, f"no {label} values", anchor="middle", fill=MUTED_COLOUR)
    reference = "target" if m.target else "estimated"
    for i, (ds, r) in enumerate(frame.iterrows()):
        if not math.isfinite(realised[i]):
            continue
        inside = section.flag(r[f"{c}_in_band"])
        outside = inside is False
        verdict = " · outside the band" if outside else " · inside the band" if inside else ""
        band = "–" if math.isnan(lower[i]) and math.isnan(upper[i]) else f"{m.fmt(lower[i])} – {m.fmt(upper[i])}"
        tip = (f"{ds.isoformat()} · {label} realised {m.fmt(realised[i])} · {reference} {m.fmt(est[i])} ({band}) · "
               f"{num(r['label_coverage'], '.0%')} labelled{verdict}")  # fmt: skip
        px, py = x(xs[i]), y.clamped(realised[i])
        if outside:
            svg.marker("X", px, py, 11.0, section.OUTSIDE_COLOUR, tip=tip)
        else:
            settled = bool(r.get(f"{c}_settled", False))
            svg.marker("o", px, py, 7.0, section.REALISED_COLOUR, hollow=not settled, tip=tip)


def _coverage(svg: Svg, frame: pd.DataFrame, xs: list[int], x: Scale, y: Scale, right: float, colour: str) -> None:
    ticks = [0.0, 0.5, 1.0]
    y_axis(svg, y, ticks, tick_format(ticks, percent=True), x.start, grid_to=right)
    svg.text(14, (y.start + y.end) / 2, "labelled", size=NORMAL, anchor="middle", rotate=-90)
    day = x(1) - x(0)
    for i, (ds, r) in enumerate(frame.iterrows()):
        share = to_float(r["label_coverage"])
        counts = f" ({num(r['n_labeled'], ',.0f')} of {num(r['n_scored'], ',.0f')})" if r["n_labeled"] >= 0 else ""
        with svg.group(f"{ds.isoformat()}: {num(share, '.0%')} labelled{counts}"):
            svg.hover(x(xs[i]) - day / 2, y.end, day, y.start - y.end)
            if math.isfinite(share) and share > 0:
                svg.rect(x(xs[i]) - 0.35 * day, y.clamped(share), 0.7 * day, y.start - y.clamped(share), colour)
    if not (frame["label_coverage"].map(to_float) > 0).any():
        svg.text((x.start + x.end) / 2, (y.start + y.end) / 2, "no labels yet", anchor="middle", fill=MUTED_COLOUR)


def _bottom_axis(svg: Svg, x: Scale, ticks: Sequence[int], y: float) -> None:
    svg.line(x.start, y, x.end, y, AXIS_COLOUR)
    for t in ticks:
        svg.line(x(t), y, x(t), y + 4, AXIS_COLOUR)


def _runs(xs: list[int], *series: list[float]) -> list[list[int]]:
    """The indexes of runs of adjacent days on which every one of ``series`` has a finite value:
    no line or band bridges a missing day."""
    runs: list[list[int]] = []
    for i, day in enumerate(xs):
        if not all(math.isfinite(s[i]) for s in series):
            continue
        if runs and runs[-1][-1] == i - 1 and day - xs[i - 1] == 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
