"""The challenger-in-shadow part of a day page: champion and challenger on the same rows, per day.

Shadow scoring has a challenger score the days the champion served, into
``shadow.<model>``; once labels arrive, :func:`lakeops.evaluate.shadow.compare`
measures both versions on the rows both scored. This module shapes those
per-day comparisons into what ``shadow.html`` shows from the first shadow day on:
per shadow day up to the page's day, each metric of the model's gate for the
champion and the challenger, with which did better; and a chart of the first
gate metric for both.

A day is only a fair comparison when the challenger did not train on it. Its
``ml.performance_reference`` row gives its holdout (``holdout_start`` to
``holdout_end``, the newest labelled days at its training, which the gate compared
the two on); the days before it were fit by the challenger, so they are shown but
not judged, and the days after it are new evidence. Reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lakeops.evaluate.shadow import DayComparison
from lakeops.report.charts import svg
from lakeops.report.problems import measure, percent
from lakeops.report.values import num

#: Days shown up to the page's day.
SHADOW_DAYS = 30
#: The chart's x axis spans at least this many days.
MIN_CHART_DAYS = 14
CHAMPION_COLOUR, CHALLENGER_COLOUR = "#2b5c8a", "#d95f02"
HOLDOUT_COLOUR, FIT_COLOUR = "#e1ecf6", "#eceff2"

#: Where a day lies for the challenger: trained on, its holdout, after it; unknown without its holdout.
PHASES = {
    "fit": ("trained on", "na"),
    "holdout": ("holdout", "ev-version"),
    "after": ("after holdout", "after"),
    "unknown": ("holdout unknown", "na"),
}
_LABELS = {"auc": "AUC", "pr_auc": "PR AUC", "logloss": "log loss", "brier": "Brier", "ece": "ECE", "f1": "F1",
           "mae": "MAE", "rmse": "RMSE", "r2": "R²", "mape": "MAPE", "macro_f1": "macro F1",
           "weighted_f1": "weighted F1"}  # fmt: skip


#: Metrics not confined to [0, 1] (the chart's axis is, for the others).
_UNBOUNDED = {"logloss", "mae", "rmse", "r2", "mape"}


@dataclass(frozen=True)
class ShadowInputs:
    """What the section is built from (:mod:`lakeops.report.write` reads it from the lake)."""

    #: :func:`lakeops.evaluate.shadow.compare`'s days: both versions measured on labelled rows both scored.
    comparisons: Sequence[DayComparison]
    #: Every day with shadow scores, labelled or not, and the challenger version that scored it.
    scored: Mapping[date, int]
    #: Per challenger version, its holdout's first and last day (None: unknown).
    holdouts: Mapping[int, tuple[date | None, date | None]] = field(default_factory=dict)
    #: The gate's metrics, in its order, and whether higher is better (None: unknown, never judged).
    metrics: Sequence[tuple[str, bool | None]] = ()


@dataclass(frozen=True)
class Shadow:
    """What the section shows."""

    challengers: str
    #: The champion's version(s) on the labelled days shown.
    champions: str
    first_day: str
    summary: list[str]
    metrics: list[str]
    #: Whether the rows name their versions (more than one pair of versions in the table).
    versions: bool
    #: What each metric's two columns are headed.
    who: tuple[str, str]
    rows: list[dict]
    chart: Markup | None
    caption: str


def label(metric: str) -> str:
    """A gate metric's name as the page prints it ('log loss', 'recall (disk)')."""
    if metric in _LABELS:
        return _LABELS[metric]
    head, _, rest = metric.partition("_")
    return f"{head} ({rest})" if rest and head in ("precision", "recall", "f1") else metric.replace("_", " ")


def fmt(metric: str, value: object) -> str:
    """Four decimals: the two versions often differ in the third."""
    if metric in ("mae", "rmse"):
        return measure(value)
    return percent(value) if metric == "mape" else num(value, ".4f")


def phase(day: date, holdout: tuple[date | None, date | None] | None) -> str:
    """'fit' (before the challenger's holdout: it trained on it), 'holdout', 'after', or 'unknown'."""
    start, end = holdout if holdout is not None else (None, None)
    if start is None or end is None:
        return "unknown"
    return "fit" if day < start else "holdout" if day <= end else "after"


def verdict(d: DayComparison, metric: str, higher_is_better: bool | None) -> str | None:
    """'better', 'worse' or 'same' for the challenger; None when either value or the direction is unknown."""
    a, b = d.challenger.get(metric), d.champion.get(metric)
    if a is None or b is None or math.isnan(a) or math.isnan(b) or higher_is_better is None:
        return None
    if a == b:
        return "same"
    return "better" if (a > b) == higher_is_better else "worse"


def build(inputs: ShadowInputs | None, ds: date, *, days: int = SHADOW_DAYS, model_name: str = "") -> Shadow | None:
    """The section of the page of ``ds``; None before the first shadow day, or with none in the ``days``
    up to ``ds`` (or no shadow table)."""
    if inputs is None:
        return None
    start = ds - timedelta(days=days)
    scored = {d: v for d, v in inputs.scored.items() if start < d <= ds}
    compared = {c.ds: c for c in inputs.comparisons if start < c.ds <= ds}
    shown = sorted(set(scored) | set(compared))
    if not shown:
        return None
    metrics = list(dict.fromkeys(m for m, _ in inputs.metrics))
    direction = dict(inputs.metrics)
    rows = []
    for day in sorted(shown, reverse=True):
        c = compared.get(day)
        version = c.challenger_version if c is not None else scored[day]
        where = phase(day, inputs.holdouts.get(version))
        judged = where in ("holdout", "after")
        cells = []
        for m in metrics:
            if c is None:
                cells.append({"champion": "", "challenger": "", "verdict": None})
                continue
            cells.append({"champion": fmt(m, c.champion.get(m)), "challenger": fmt(m, c.challenger.get(m)),
                          "verdict": verdict(c, m, direction.get(m)) if judged else None})
        phase_label, css = PHASES[where]
        rows.append({"day": day.isoformat(), "phase": where, "phase_label": phase_label, "phase_css": css,
                     "pending": c is None, "rows": c.rows if c is not None else None, "challenger": f"v{version}",
                     "champion": f"v{c.champion_version}" if c is not None else "", "cells": cells})  # fmt: skip
    challengers = sorted({*scored.values(), *(c.challenger_version for c in compared.values())})
    champions = sorted({c.champion_version for c in compared.values()})
    pairs = {(c.champion_version, c.challenger_version) for c in compared.values()}
    first = min(d for d in (*inputs.scored, *(c.ds for c in inputs.comparisons)) if d <= ds)
    return Shadow(
        challengers=", ".join(f"v{v}" for v in challengers),
        champions=", ".join(f"v{v}" for v in champions),
        first_day=first.isoformat(),
        summary=_summary(rows, metrics),
        metrics=[label(m) for m in metrics],
        versions=len(pairs) > 1,
        who=(f"champion v{champions[0]}", f"challenger v{challengers[0]}") if len(pairs) == 1 and len(challengers) == 1
        else ("champion", "challenger"),
        rows=rows,
        chart=chart(list(compared.values()), ds, metrics[0], inputs.holdouts) if metrics and compared else None,
        caption=_caption(model_name, [label(m) for m in metrics], days),
    )


def _summary(rows: list[dict], metrics: list[str]) -> list[str]:
    """One line per judged phase ('After its holdout (2 days): AUC better on 2 of 2, ...'), then the rest."""
    lines = []
    for where, words in (("holdout", "On its holdout"), ("after", "After its holdout")):
        judged = [r for r in rows if r["phase"] == where and not r["pending"]]
        if not judged:
            continue
        parts = []
        for i, m in enumerate(metrics):
            verdicts = [r["cells"][i]["verdict"] for r in judged if r["cells"][i]["verdict"] is not None]
            if verdicts:
                parts.append(f"{label(m)} better on {verdicts.count('better')} of {len(verdicts)}")
        plural = "s" if len(judged) != 1 else ""
        lines.append(f"{words} ({len(judged)} labelled day{plural}): " + (", ".join(parts) or "no metric measured") + ".")
    fit = sum(1 for r in rows if r["phase"] == "fit" and not r["pending"])
    if fit:
        lines.append(f"{fit} labelled day{'s' if fit != 1 else ''} before its holdout: the challenger trained on "
                     f"{'them' if fit != 1 else 'it'}, so {'they are' if fit != 1 else 'it is'} shown but not judged.")
    unknown = sum(1 for r in rows if r["phase"] == "unknown" and not r["pending"])
    if unknown:
        lines.append(f"{unknown} labelled day{'s' if unknown != 1 else ''} not judged: the challenger's holdout is "
                     "unknown (no ml.performance_reference row), so it may have trained on them.")
    pending = sum(1 for r in rows if r["pending"])
    if pending:
        lines.append(f"{pending} day{'s' if pending != 1 else ''} scored in shadow await{'s' if pending == 1 else ''} "
                     "labels.")
    return lines


def _caption(model_name: str, metrics: list[str], days: int) -> str:
    table = f"shadow.{model_name}" if model_name else "its shadow table"
    gate = f" ({', '.join(metrics)})" if metrics else ""
    return (f"The champion's scores are the ones served; the challenger scored the same rows in shadow ({table}), and "
            "both are measured on the rows both scored whose label has arrived. The gate compares the two on the "
            "challenger's holdout, the newest labelled days at its training; the days after it are new evidence, and "
            "on the days before it the challenger was fit to the labels, so those are not judged. Metrics are the "
            f"gate's{gate}; a badge says how the challenger did against the champion. Newest days first, up to "
            f"{days} days back.")


# ---------------------------------------------------------------- the chart


def chart(days: Sequence[DayComparison], end: date, metric: str,
          holdouts: Mapping[int, tuple[date | None, date | None]]) -> Markup | None:
    """``metric`` of the champion and the challenger per labelled day up to ``end``, the challenger's holdout
    shaded and the days it trained on greyed; None when no day measured it."""
    days = sorted(days, key=lambda d: d.ds)
    if not any(not math.isnan(d.champion.get(metric, math.nan)) for d in days):
        return None
    first = min(days[0].ds, end - timedelta(days=MIN_CHART_DAYS - 1))
    span = (end - first).days
    fig = Figure(figsize=(10, 2.7), layout="constrained")
    ax = fig.add_subplot()
    tips: dict[str, str] = {}
    holdout_of: list[int] = []
    fitted = False
    for version in sorted({d.challenger_version for d in days}):
        start, stop = holdouts.get(version, (None, None))
        if start is None or stop is None:
            continue
        lo, hi = max((start - first).days, 0), min((stop - first).days, span)
        if lo <= hi:
            ax.axvspan(lo - 0.5, hi + 0.5, color=HOLDOUT_COLOUR, lw=0, zorder=0)
            holdout_of.append(version)
        trained = [(d.ds - first).days for d in days if d.challenger_version == version and d.ds < start]
        if trained:  # from its first shadow day before the holdout up to the holdout
            ax.axvspan(min(trained) - 0.5, min((start - first).days, span + 1) - 0.5, color=FIT_COLOUR, lw=0, zorder=0)
            fitted = True
    for role, colour, marker in (("champion", CHAMPION_COLOUR, "o"), ("challenger", CHALLENGER_COLOUR, "s")):
        xs: list[float] = []
        ys: list[float] = []
        for i, d in enumerate(days):
            value = getattr(d, role).get(metric, math.nan)
            if math.isnan(value):
                continue
            x = (d.ds - first).days
            version = d.champion_version if role == "champion" else d.challenger_version
            fit = phase(d.ds, holdouts.get(d.challenger_version)) == "fit"
            if xs and x - xs[-1] > 1:  # no line across a day without labels
                xs.append(x - 1.0)
                ys.append(math.nan)
            xs.append(x)
            ys.append(value)
            gid = f"lk-shadow-{role}-{i}"
            ax.add_line(Line2D([x], [value], ls="", marker=marker, ms=5.5, color=colour, clip_on=False,
                               mfc="white" if fit and role == "challenger" else colour, zorder=3, gid=gid))
            note = " · the challenger trained on this day" if fit else ""
            tips[gid] = f"{d.ds.isoformat()} · {role} v{version} {label(metric)} {fmt(metric, value)} · {d.rows:,} rows{note}"
        ax.plot(xs, ys, color=colour, lw=1.2, alpha=0.8, zorder=2)
    values = [v for d in days for v in (d.champion.get(metric, math.nan), d.challenger.get(metric, math.nan))
              if not math.isnan(v)]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.12, 0.01 * max(abs(low), abs(high), 1e-9))
    low, high = low - pad, high + pad
    if metric not in _UNBOUNDED:  # rates and probabilities-based scores stay within [0, 1]
        low, high = max(low, 0.0), min(high, 1.0)
    ax.set_ylim(low, high)
    ticks = sorted(range(span, -1, -max(1, math.ceil((span + 1) / 15))))
    ax.set_xticks(ticks, [f"{first + timedelta(days=t):%m-%d}" for t in ticks], fontsize=8)
    ax.set_xlim(-0.6, span + 0.6)
    ax.set_ylabel(label(metric), fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", color="#e4e7eb", lw=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    legend: list = [Line2D([], [], color=CHAMPION_COLOUR, marker="o", label="champion (served)"),
                    Line2D([], [], color=CHALLENGER_COLOUR, marker="s", label="challenger (shadow)")]
    if holdout_of:
        legend.append(Patch(color=HOLDOUT_COLOUR, label=f"{', '.join(f'v{v}' for v in holdout_of)}'s holdout"))
    if fitted:
        legend.append(Patch(color=FIT_COLOUR, label="challenger trained on (open marks)"))
    ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=4, fontsize=8, frameon=False)
    return svg(fig, "shadow", tips)
