"""The attribution chart of a day page as hand-written SVG: which features drive the score, today against training.

A drop-in for :func:`lakeops.report.attribution_section.chart` (the same rows, the same
picture: pairs of horizontal bars, today's mean |SHAP| over the training value, in today's
rank order, the top movers on a shaded band with their names in bold and their rank change,
a tooltip per feature), drawn without matplotlib. Reads and writes no tables.
"""

from __future__ import annotations

import math

import pandas as pd
from markupsafe import Markup

from lakeops.report.charts import BASELINE_COLOUR, CURRENT_COLOUR, KEY_EDGE, LABELS_MAX, WIDE, x_axis
from lakeops.report.svg import (
    AXIS_COLOUR,
    GRID_COLOUR,
    NORMAL,
    Key,
    Scale,
    Svg,
    finite,
    fit,
    legend,
    nice_ticks,
    text_width,
    tick_format,
    tspan,
)
from lakeops.report.values import num, to_float

#: A feature's row, and each of its two bars (px).
ROW, BAR = 28, 11


def chart(rows: pd.DataFrame) -> Markup:
    """Horizontal pairs of bars, today's mean |SHAP| over the training value, in today's rank order;
    the top movers sit on a shaded band, their names in bold with the rank change.

    ``rows``: :func:`lakeops.report.attribution_section.build`'s rows shown, with its ``_mover`` column
    (the mover's place, NaN for the others).
    """
    # Imported here: attribution_section may import this module at its top to draw its chart.
    from lakeops.report.attribution_section import MOVER_BAND

    records = rows.to_dict("records")
    today = [finite(to_float(v)) for v in rows["mean_abs_shap"]]
    training = [finite(to_float(v)) for v in rows["reference_mean_abs_shap"]]
    movers = [not math.isnan(to_float(r["_mover"])) for r in records]
    names = [str(r["feature"]) for r in records]
    right = max([*today, *training, 1e-9]) * 1.32
    label_width = min(max([text_width(name, NORMAL, bold=mover) for name, mover in zip(names, movers, strict=True)],
                          default=0.0), LABELS_MAX)  # fmt: skip
    left, end = label_width + 16, WIDE - 16.0
    keys = [Key("box", CURRENT_COLOUR, "today"), Key("box", BASELINE_COLOUR, "training"),
            Key("box", MOVER_BAND, "top mover", edge=KEY_EDGE)]  # fmt: skip
    top = 26.0
    bottom = top + ROW * len(records)
    svg = Svg(WIDE, bottom + 50, label="Mean |SHAP| per feature, today and in training", key="attribution")
    legend(svg, keys, left, 2, end - left, align="end")
    x = Scale(0.0, right, left, end)
    ticks = [t for t in nice_ticks(0.0, right, 6) if t <= right]
    for t in ticks[1:]:
        svg.line(x(t), top, x(t), bottom, GRID_COLOUR)
    for i, r in enumerate(records):
        y = top + (i + 0.5) * ROW
        mover = movers[i]
        change = rank_change(r["rank_change"])
        tip = (f"{names[i]}: mean |SHAP| {num(r['mean_abs_shap'], '.4f')} today (rank {rank_label(r['rank'])}, "
               f"{num(r['share'], '.1%')}), training {num(r['reference_mean_abs_shap'], '.4f')} "
               f"(rank {rank_label(r['reference_rank'])}, {num(r['reference_share'], '.1%')})"
               f"{' · top mover ' + format(to_float(r['_mover']), '.0f') if mover else ''}")  # fmt: skip
        with svg.group(tip):
            if mover:
                svg.rect(0, y - ROW / 2, end, ROW, MOVER_BAND)
            else:
                svg.hover(0, y - ROW / 2, end, ROW)
            svg.text(left - 8, y, fit(names[i], NORMAL, label_width, bold=mover), size=NORMAL, anchor="end", bold=mover)
            svg.rect(left, y - BAR - 1, x(today[i]) - left, BAR, CURRENT_COLOUR)
            svg.rect(left, y + 1, x(training[i]) - left, BAR, BASELINE_COLOUR)
            note = f"#{rank_label(r['rank'])} (training #{rank_label(r['reference_rank'])})"
            svg.text(x(max(today[i], training[i])) + 4, y, note, bold=mover, extra=tspan(change, dx=6) if change else "")
    svg.line(left, top, left, bottom, AXIS_COLOUR)
    x_axis(svg, x, ticks, tick_format(ticks), bottom, title="mean |SHAP| (margin units)")
    return svg.markup()


def rank_label(value: object) -> str:
    return num(value, ".0f")


def rank_change(value: object) -> str:
    """'▲ 3' for a feature that moved up three places, '▼ 2' down; '' for none or unknown."""
    number = to_float(value)
    if math.isnan(number) or number == 0:
        return ""
    return f"{'▲' if number > 0 else '▼'} {abs(number):.0f}"
