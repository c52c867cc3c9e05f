"""A multiclass model's sections per class: which class it is getting worse at, its confusion matrices and
the mix of the classes it predicts.

Shapes rows of ``ml.class_metrics`` (each class one-vs-rest, realised and estimated),
``ml.confusion_matrix`` (counted, or CBPE's expected counts) and ``ml.performance_metrics``
(which days are labelled), whole population only, into what ``multiclass.html`` and the
output section of ``day.html`` show:

- per class, the realised recall and precision pooled over the first and over the last
  labelled days of the window, ranked by the change of recall (the largest drop first),
  with each day's recall and precision, realised against estimated, as small charts;
- the confusion matrix of the newest fully labelled day, each row's counts and shares
  (the diagonal: the class's recall), and CBPE's expected matrix of the newest day
  without labels;
- the share of each predicted class per day, against the training baseline's.

The small charts are inline SVG that the template draws from the coordinates computed
here: a few lines and dots need no matplotlib. Reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from lakeops.report.values import dates, num, to_float, with_columns

#: Labelled days pooled at each end of the window when ranking the classes by their change of recall.
EDGE_DAYS = 3
#: Newest days in the table of the predicted-class mix.
MIX_DAYS = 14

CLASS_COLUMNS = ["ds", "model_version", "kind", "slice_key", "class_name", "support", "predicted", "precision",
                 "recall", "f1", "auc"]  # fmt: skip
CONFUSION_COLUMNS = ["ds", "model_version", "kind", "slice_key", "actual", "predicted", "rows"]

#: One colour per class, in class order (Okabe and Ito's palette, told apart under the common colour-vision
#: deficiencies; the shares are printed beside the bars too). More classes than colours reuse them.
CLASS_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999")
#: The confusion matrix's cells: the diagonal (right) in blue, the errors in red, as strong as the row's share.
RIGHT_COLOUR, WRONG_COLOUR = (43, 92, 138), (178, 24, 43)

#: The small charts' size in pixels, and their plot area's margins (the left one holds the axis labels).
SPARK_WIDTH, SPARK_HEIGHT = 200, 46
_LEFT, _RIGHT, _TOP, _BOTTOM = 30, 5, 5, 5


@dataclass(frozen=True)
class Spark:
    """A small chart of one class's metric per day: the estimate as a dashed line, realised values as dots."""

    estimated: list[str]  # SVG polyline points, one string per run of adjacent days
    realised: list[str]
    points: list[dict]  # x, y, filled (the day fully labelled), tip
    ticks: list[tuple[float, str]]  # y and label of the axis' gridlines
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT
    left: int = field(default=_LEFT)  # where the plot area starts (the axis labels end a little before it)


@dataclass(frozen=True)
class Matrix:
    """A confusion matrix as a table: ``rows`` per actual class, each with its cells per predicted class."""

    title: str
    rows: list[dict]
    predicted: list[str]  # per predicted class: its rows
    precision: list[str]
    total: str
    accuracy: str
    caption: str


@dataclass(frozen=True)
class PerClass:
    """What the per-class sections show; each ``*_empty`` is the one muted line of a part with nothing."""

    classes: list[dict] = field(default_factory=list)  # name, colour
    ranking: list[dict] = field(default_factory=list)
    ranking_empty: str | None = None
    ranking_caption: str = ""
    axis: str = ""
    matrices: list[Matrix] = field(default_factory=list)
    matrix_empty: str | None = None
    mix: list[dict] = field(default_factory=list)
    mix_empty: str | None = None
    temperature: str | None = None
    mix_days: int = MIX_DAYS

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.classes]


def build(class_metrics: pd.DataFrame | None, confusion: pd.DataFrame | None, ds: date, *,
          daily: pd.DataFrame | None = None, classes: Sequence[str] = (), days: int = 30,
          baseline_mix: Mapping[str, float] | None = None) -> PerClass:
    """The per-class sections of the page of ``ds`` from rows of any days (later ones are ignored).

    Args:
        daily: :func:`lakeops.report.performance_section.daily`'s frame of the model's performance rows: which days
            are labelled, and the calibration temperature (None: no performance rows).
        classes: the model's classes in its order (from its config); classes found only in the rows follow.
        days: the days up to ``ds`` that the ranking and its charts cover.
        baseline_mix: each class's share of the predicted classes in the training baseline.
    """
    start = ds - timedelta(days=days)
    per_class = _class_rows(class_metrics, start, ds)
    cells = _cells(confusion, start, ds)
    found = {c for _, c in per_class} | {c for matrix in cells.values() for pair in matrix for c in pair}
    order = list(dict.fromkeys([*classes, *sorted(found - set(classes))]))
    known = _Days.of(daily)
    ranking, ranking_empty, caption, axis = _ranking(per_class, known, order, ds, class_metrics is None)
    matrices, matrix_empty = _matrices(cells, known, order, ds, confusion is None)
    mix, mix_empty = _mix(per_class, order, ds, baseline_mix or {}, class_metrics is None)
    temperature = [t for d, t in sorted(known.temperature.items()) if d <= ds and not math.isnan(t)]
    return PerClass(
        classes=[{"name": c, "colour": colour(i)} for i, c in enumerate(order)],
        ranking=ranking, ranking_empty=ranking_empty, ranking_caption=caption, axis=axis,
        matrices=matrices, matrix_empty=matrix_empty, mix=mix, mix_empty=mix_empty,
        temperature=num(temperature[-1], ".3g") if temperature else None,
    )  # fmt: skip


def colour(i: int) -> str:
    return CLASS_COLOURS[i % len(CLASS_COLOURS)]


# Pages are rendered for each of many days: past the few vectorised steps that normalise the rows,
# the sections work on dicts, which for a few hundred rows is many times quicker than pandas.

#: Per (kind, class), per day: the class's support, predicted, precision and recall.
ClassRows = dict[tuple[str, str], dict[date, dict[str, float]]]
#: Per (kind, day), per (actual, predicted): the rows.
Cells = dict[tuple[str, date], dict[tuple[str, str], float]]


def _window(frame: pd.DataFrame | None, columns: list[str], start: date, end: date) -> pd.DataFrame:
    """Whole-population rows of the window (``start``, ``end``], dates and kinds normalised, oldest version first
    (so that, should a day hold two versions' rows, the newer version's come last and win)."""
    frame = with_columns(frame if frame is not None else pd.DataFrame(), columns)
    frame = frame[frame["slice_key"].isna()]
    if frame.empty:
        return frame
    frame = frame.assign(ds=dates(frame["ds"]), kind=frame["kind"].astype("string").str.strip().str.lower(),
                         _version=pd.to_numeric(frame["model_version"], errors="coerce").fillna(-1.0))  # fmt: skip
    frame = frame[(frame["ds"] > start) & (frame["ds"] <= end)]
    return frame.sort_values("_version", kind="stable")


def _numbers(frame: pd.DataFrame, column: str) -> list[float]:
    return pd.to_numeric(frame[column], errors="coerce").astype(float).tolist()


def _class_rows(frame: pd.DataFrame | None, start: date, end: date) -> ClassRows:
    frame = _window(frame, CLASS_COLUMNS, start, end)
    out: ClassRows = {}
    metrics = ("support", "predicted", "precision", "recall")
    values = zip(frame["kind"], frame["class_name"], frame["ds"], *(_numbers(frame, m) for m in metrics), strict=True)
    for kind, name, day, *numbers in values:
        if isinstance(name, str):
            out.setdefault((kind, name), {})[day] = dict(zip(metrics, numbers, strict=True))
    return out


def _cells(frame: pd.DataFrame | None, start: date, end: date) -> Cells:
    frame = _window(frame, CONFUSION_COLUMNS, start, end)
    out: Cells = {}
    for kind, day, actual, predicted, n in zip(frame["kind"], frame["ds"], frame["actual"], frame["predicted"],
                                               _numbers(frame, "rows"), strict=True):  # fmt: skip
        if isinstance(actual, str) and isinstance(predicted, str):
            out.setdefault((kind, day), {})[(actual, predicted)] = 0.0 if math.isnan(n) else n
    return out


@dataclass(frozen=True)
class _Days:
    """What the performance rows say of each day: its label coverage, whether its realised values are settled
    (compared with their band, or the day fully labelled), and the calibration temperature."""

    coverage: dict[date, float]
    settled: dict[date, bool]
    temperature: dict[date, float]

    @classmethod
    def of(cls, daily: pd.DataFrame | None) -> _Days:
        if daily is None or daily.empty:
            return cls({}, {}, {})
        temperature = daily["est_calibration_temperature"] if "est_calibration_temperature" in daily else None
        return cls(coverage=daily["label_coverage"].astype(float).to_dict(), settled=daily["settled"].astype(bool).to_dict(),
                   temperature={} if temperature is None else temperature.astype(float).to_dict())  # fmt: skip

    def labelled(self, day: date) -> float:
        return self.coverage.get(day, math.nan)


def _pp(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 100:+.1f} pp".replace("-", "−")


# ---------------------------------------------------------------- which class is getting worse


def _pooled(rows: Iterable[dict[str, float]], metric: str, weight: str) -> float:
    """A ratio over several days: recall weighted by the class's labelled rows (its support), precision by
    the rows predicted as it, which is the ratio of the days' summed counts."""
    pairs = [(r[metric], r[weight]) for r in rows if not math.isnan(r[metric]) and r[weight] > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if pairs else math.nan


def _ranking(rows: ClassRows, known: _Days, order: list[str], ds: date,
             missing: bool) -> tuple[list[dict], str | None, str, str]:
    if missing:
        return [], "No per-class metrics: this lake has no ml.class_metrics table.", "", ""
    if not rows:
        return [], f"No per-class metrics yet for the days up to {ds.isoformat()}.", "", ""
    labelled = sorted({d for (kind, _), by_day in rows.items() if kind == "realised"
                       for d, r in by_day.items() if r["support"] > 0})  # fmt: skip
    k = max(1, min(EDGE_DAYS, len(labelled) // 2))
    first, last = labelled[:k], labelled[-k:]
    estimated_days = {d for (kind, _), by_day in rows.items() if kind == "estimated" for d in by_day}
    newest = max(estimated_days) if estimated_days else None
    compared = len(labelled) >= 2
    lo = _axis_floor(rows)
    span_start = min(d for by_day in rows.values() for d in by_day)
    ranking: list[dict[str, Any]] = []
    for name in order:
        real, est = rows.get(("realised", name), {}), rows.get(("estimated", name), {})
        early, late = [real[d] for d in first if d in real], [real[d] for d in last if d in real]
        recall = (_pooled(early, "recall", "support"), _pooled(late, "recall", "support"))
        precision = (_pooled(early, "precision", "predicted"), _pooled(late, "precision", "predicted"))
        now = est.get(newest) if newest is not None else None
        change = recall[1] - recall[0] if compared else math.nan
        precision_change = precision[1] - precision[0] if compared else math.nan
        ranking.append({
            "name": name,
            "recall_first": num(recall[0], ".1%") if compared else "",
            "recall_last": num(recall[1], ".1%"),
            "recall_change": _pp(change), "recall_worse": _pp(change).startswith("−"), "drop": change,
            "precision_first": num(precision[0], ".1%") if compared else "",
            "precision_last": num(precision[1], ".1%"),
            "precision_change": _pp(precision_change), "precision_worse": _pp(precision_change).startswith("−"),
            "support": num(sum(r["support"] for r in late), ",.0f") if late else "–",
            "estimated_recall": num(now["recall"], ".1%") if now else "–",
            "estimated_precision": num(now["precision"], ".1%") if now else "–",
            "recall_chart": _spark(est, real, known, name, "recall", span_start, ds, lo),
            "precision_chart": _spark(est, real, known, name, "precision", span_start, ds, lo),
        })  # fmt: skip
    # The largest drop of recall first; classes without a comparison last.
    ranking.sort(key=lambda r: (math.isnan(r["drop"]), r["drop"] if not math.isnan(r["drop"]) else 0.0))
    if not labelled:
        caption = "No labelled day yet: only the estimates (dashed) so far."
    elif not compared:
        caption = f"One labelled day so far ({labelled[0].isoformat()}): no change to rank by yet."
    else:
        caption = (f"Ranked by the change of realised recall from the first labelled days ({_days(first)}) to the "
                   f"last ({_days(last)}), the largest drop first; each is pooled over its days (the labelled rows "
                   f"of the class over those days). Labelled rows: the class's, over the last days.")
    if newest is not None:
        caption += f" Estimated: CBPE's one-vs-rest recall and precision of {newest.isoformat()}, before its labels."
    caption += (" Charts: each day's value; dashed, the estimate; dots, realised (hollow while labels are still "
                "arriving). Hover a dot for its numbers.")
    return ranking, None, caption, f"axis {lo:.0%} – 100%"


def _days(days: Sequence[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} – {days[-1].isoformat()}"


def _axis_floor(rows: ClassRows) -> float:
    """The small charts' common lower bound: a tenth below every recall and precision drawn."""
    values = [r[m] for by_day in rows.values() for r in by_day.values() for m in ("recall", "precision")
              if not math.isnan(r[m])]  # fmt: skip
    if not values:
        return 0.0
    return max(0.0, min(0.9, math.floor(min(values) * 10 - 1e-9) / 10))


def _spark(est: dict[date, dict[str, float]], real: dict[date, dict[str, float]], known: _Days, name: str,
           metric: str, first: date, end: date, lo: float) -> Spark:
    span = max(1, (end - first).days)
    plot_w, plot_h = SPARK_WIDTH - _LEFT - _RIGHT, SPARK_HEIGHT - _TOP - _BOTTOM

    def x(day: date) -> float:
        return round(_LEFT + (day - first).days / span * plot_w, 1)

    def y(value: float) -> float:
        return round(_TOP + (1.0 - value) / (1.0 - lo) * plot_h, 1)

    estimated = [(d, est[d][metric]) for d in sorted(est) if not math.isnan(est[d][metric])]
    realised = [(d, real[d][metric]) for d in sorted(real) if not math.isnan(real[d][metric])]
    points = []
    for day, value in realised:
        estimate = est[day][metric] if day in est else math.nan
        coverage = known.labelled(day)
        tip = f"{day.isoformat()} · {name} {metric} realised {value:.1%} · estimated {num(estimate, '.1%')}"
        tip += f" · {coverage:.0%} labelled" if not math.isnan(coverage) else ""
        points.append({"x": x(day), "y": y(value), "filled": known.settled.get(day, False), "tip": tip})
    return Spark(
        estimated=[" ".join(f"{x(d)},{y(v)}" for d, v in run) for run in _runs(estimated)],
        realised=[" ".join(f"{x(d)},{y(v)}" for d, v in run) for run in _runs(realised) if len(run) > 1],
        points=points,
        ticks=[(y(v), f"{v:.0%}") for v in (lo, 1.0)],
    )  # fmt: skip


def _runs(values: Iterable[tuple[date, float]]) -> list[list[tuple[date, float]]]:
    """The values split where a day is missing, so that no line bridges a gap."""
    runs: list[list[tuple[date, float]]] = []
    for day, value in values:
        if runs and (day - runs[-1][-1][0]).days == 1:
            runs[-1].append((day, value))
        else:
            runs.append([(day, value)])
    return runs


# ---------------------------------------------------------------- confusion matrices


def _matrices(cells: Cells, known: _Days, order: list[str], ds: date, missing: bool) -> tuple[list[Matrix], str | None]:
    if missing:
        return [], "No confusion matrix: this lake has no ml.confusion_matrix table."
    matrices = []
    realised_days = sorted(d for (kind, d), matrix in cells.items() if kind == "realised" and sum(matrix.values()) > 0)
    if realised_days:
        settled = [d for d in realised_days if known.settled.get(d, False)]
        day = (settled or realised_days)[-1]
        labelled = ("fully labelled" if settled else
                    f"{num(known.labelled(day), '.0%')} labelled, the newest day with labels")  # fmt: skip
        caption = (f"Counted from the labels of {day.isoformat()} ({labelled}): rows are the actual class, columns "
                   "the predicted one. Each cell: rows, and their share of the actual class (on the diagonal, the "
                   "class's recall). Blue: right, red: wrong, as strong as the share.")
        if not settled:
            caption += " No day is fully labelled yet: the counts cover the labels that have arrived."
        matrices.append(_matrix(cells[("realised", day)], order, f"Realised, {day.isoformat()}", caption, ",.0f"))
    # The estimate of the newest day without labels, else of the newest not fully labelled.
    estimated_days = sorted(d for kind, d in cells if kind == "estimated")
    unlabelled = [d for d in estimated_days if not known.labelled(d) > 0]
    unsettled = [d for d in estimated_days if not known.settled.get(d, False)]
    if unlabelled or unsettled:
        pick = (unlabelled or unsettled)[-1]
        coverage = known.labelled(pick)
        labels = "no labels yet" if not coverage > 0 else f"{coverage:.0%} labelled"
        caption = (f"Expected by CBPE from the calibrated class probabilities of {pick.isoformat()} ({labels}): a "
                   "row predicted as one class counts as each actual class by its probability of being it. Each "
                   "cell: expected rows and their share of the expected actual class.")
        matrices.append(_matrix(cells[("estimated", pick)], order, f"Estimated, {pick.isoformat()}", caption, ",.1f"))
    if matrices:
        return matrices, None
    return [], f"No confusion matrix yet for the days up to {ds.isoformat()}."


def _matrix(cells: Mapping[tuple[str, str], float], order: list[str], title: str, caption: str, fmt: str) -> Matrix:
    counts = [[cells.get((a, p), 0.0) for p in order] for a in order]
    actual = [sum(row) for row in counts]
    predicted = [sum(column) for column in zip(*counts, strict=True)]
    diagonal = [counts[i][i] for i in range(len(order))]
    total = sum(actual)
    rows = []
    for i, a in enumerate(order):
        out = []
        for j, p in enumerate(order):
            n = counts[i][j]
            share = n / actual[i] if actual[i] > 0 else math.nan
            out.append({"rows": num(n, fmt), "share": num(share, ".1%"), "right": i == j,
                        "background": _shade(RIGHT_COLOUR if i == j else WRONG_COLOUR, share),
                        "dark": not math.isnan(share) and share > 0.55,
                        "tip": f"actual {a}, predicted {p}: {num(n, fmt)} rows ({num(share, '.1%')} of actual {a})"})  # fmt: skip
        recall = diagonal[i] / actual[i] if actual[i] > 0 else math.nan
        rows.append({"actual": a, "cells": out, "rows": num(actual[i], fmt), "recall": num(recall, ".1%")})
    precision = [num(d / n, ".1%") if n > 0 else "–" for d, n in zip(diagonal, predicted, strict=True)]
    return Matrix(title=title, rows=rows, predicted=[num(n, fmt) for n in predicted], precision=precision,
                  total=num(total, fmt), accuracy=num(sum(diagonal) / total, ".1%") if total > 0 else "–",
                  caption=caption)  # fmt: skip


def _shade(rgb: tuple[int, int, int], share: float) -> str:
    """``rgb`` mixed with white by ``share`` (0: white, 1: the full colour)."""
    a = 0.0 if math.isnan(share) else min(1.0, max(0.0, share))
    return "#" + "".join(f"{round(255 - (255 - c) * a):02x}" for c in rgb)


# ---------------------------------------------------------------- the predicted-class mix


def _mix(rows: ClassRows, order: list[str], ds: date, baseline: Mapping[str, float],
         missing: bool) -> tuple[list[dict], str | None]:
    if missing:
        return [], "No predicted-class mix: this lake has no ml.class_metrics table."
    est = {name: rows.get(("estimated", name), {}) for name in order}
    newest = sorted({d for by_day in est.values() for d in by_day}, reverse=True)[:MIX_DAYS]
    if not newest:
        return [], f"No predicted-class mix yet for the days up to {ds.isoformat()}."
    out = [_mix_row("training baseline", "", [to_float(baseline.get(c)) for c in order], order)] if baseline else []
    for day in newest:
        counts = [est[c][day]["predicted"] if day in est[c] and not math.isnan(est[c][day]["predicted"]) else 0.0
                  for c in order]  # fmt: skip
        n = sum(counts)
        out.append(_mix_row(day.isoformat(), num(n, ",.0f"), [v / n if n > 0 else math.nan for v in counts], order))
    return out, None


def _mix_row(label: str, n: str, shares: list[float], order: list[str]) -> dict:
    bars = [{"name": c, "colour": colour(i), "width": f"{s * 100:.2f}", "tip": f"{c}: {s:.1%}"}
            for i, (c, s) in enumerate(zip(order, shares, strict=True)) if not math.isnan(s) and s > 0]  # fmt: skip
    return {"label": label, "n": n, "bars": bars, "shares": [num(s, ".1%") for s in shares]}
