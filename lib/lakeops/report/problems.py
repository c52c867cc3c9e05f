"""What the performance sections show per problem type: the one place where binary, regression and multiclass differ.

A :class:`ProblemSpec` names the metrics of the day's table, the chart's panels,
the header's and the index's metric, the wording of the band checks, the
calibration-style table and the note on how the estimate works. The section
code in :mod:`lakeops.report.performance_section` is written once against it.

Every banded metric ``m`` is read from the daily frame of
:func:`lakeops.report.performance_section.daily` as ``est_m``, ``est_m_lower``,
``est_m_upper`` (the estimated row), ``m`` (the realised row) and ``m_in_band``
(the realised row's check). For regression, interval coverage joins them: its
"estimate" is the coverage the interval was built for (the target, from
``ml.performance_reference``), its band the target ± 3 binomial standard
errors at the day's labelled rows, its check made here (see :func:`_coverage_band`).
For multiclass, AUC, F1, precision and recall are macro averages over the classes,
one-vs-rest; the sections per class are :mod:`lakeops.report.multiclass_section`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lakeops.evaluate.binary import BAND_SIGMAS
from lakeops.report.values import num, to_float

Format = Callable[[object], str]


def three(value: object) -> str:
    return num(value)


def percent(value: object) -> str:
    return num(value, ".1%")


def measure(value: object) -> str:
    """A value in the label's unit (an error, a mean): four significant digits, no exponent."""
    number = to_float(value)
    if math.isnan(number):
        return "–"
    if number == 0 or abs(number) >= 1000:
        return format(number, ",.0f")
    return format(number, f",.{max(0, 3 - math.floor(math.log10(abs(number))))}f")


def signed(value: object) -> str:
    """``measure`` with its sign: +2.06, −2.06 (a typographic minus)."""
    text = measure(value)
    return text if text == "–" else (text if text.startswith("-") else f"+{text}").replace("-", "−")


@dataclass(frozen=True)
class Metric:
    """A row of the day's table; ``banded``: estimated with a band and checked against it."""

    label: str
    column: str
    fmt: Format = three
    banded: bool = False
    #: The estimate is a target the realised value should meet (interval coverage), not an estimate.
    target: bool = False
    #: The chart's y axis stays within these (None: unbounded).
    bounds: tuple[float | None, float | None] = (0.0, 1.0)
    percent_axis: bool = False


@dataclass(frozen=True)
class Calibration:
    """The table of the model's output level against the labels', newest labelled days first."""

    title: str
    head: tuple[str, ...]
    caption: str
    empty: str
    #: A day is listed when its realised row has this column.
    present: str
    cells: Callable[[pd.Series], list[str]]


@dataclass(frozen=True)
class ProblemSpec:
    problem_type: str
    #: The day's table, in order.
    metrics: tuple[Metric, ...]
    #: The metric of the page's header line and of the index.
    headline: str
    #: The chart's metric panels, top to bottom (label coverage comes last).
    charted: tuple[str, ...]
    #: Further columns of the estimated (``est_``-prefixed) and realised rows the sections read.
    estimated_extra: tuple[str, ...]
    realised_extra: tuple[str, ...]
    #: The days a realised value is checked against its band, in "on 3 of 5 ..." and "No ... fell outside".
    checked: str
    #: The band coverage line of a metric no day has checked yet.
    unchecked: str
    #: The chart legend's two realised markers: checked against the band, and not (yet).
    settled_marker: str
    unsettled_marker: str
    band_marker: str
    today_caption: str
    chart_caption: str
    note: str  # a template
    calibration: Calibration
    #: The residual section (a histogram and predicted against actual).
    residuals: bool
    #: Columns computed from the others after the daily frame is joined.
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    #: The title of the section with the model output's distribution against its baseline.
    output_title: str = "Score distribution"
    #: What the model outputs, in prose ("the score", "the prediction").
    output_noun: str = "the score"
    #: Columns of the version's ``ml.performance_reference`` row that the report joins onto its rows
    #: (:mod:`lakeops.report.write`), read like the rows' own.
    reference: tuple[str, ...] = ()
    #: The sections per class (:mod:`lakeops.report.multiclass_section`): ``ml.class_metrics`` and ``ml.confusion_matrix``.
    per_class: bool = False

    def metric(self, column: str) -> Metric:
        return next(m for m in self.metrics if m.column == column)

    @property
    def banded(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.banded)

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f"{m.column}_in_band" for m in self.banded)

    @property
    def columns(self) -> tuple[str, ...]:
        """The rows' columns the sections read, beyond the keys."""
        bands = [f"{m.column}_{end}" for m in self.banded if not m.target for end in ("lower", "upper")]
        plain = [m.column for m in self.metrics]
        return tuple(dict.fromkeys([*plain, *bands, *self.estimated_extra, *self.realised_extra]))


def _gap_pp(r: pd.Series, column: str = "positive_rate") -> str:
    """Realised − estimated ``column`` (a rate), in percentage points."""
    gap = r[column] - r[f"est_{column}"]
    return "–" if math.isnan(gap) else f"{gap * 100:+.1f} pp".replace("-", "−")


BINARY = ProblemSpec(
    problem_type="binary",
    metrics=(Metric("AUC", "auc", banded=True), Metric("F1", "f1", banded=True), Metric("precision", "precision"),
             Metric("recall", "recall"), Metric("PR AUC", "pr_auc"), Metric("Brier", "brier"),
             Metric("log loss", "logloss"), Metric("ECE", "ece")),  # fmt: skip
    headline="auc",
    charted=("auc", "f1"),
    estimated_extra=("positive_rate", "n_scored"),
    realised_extra=("n_scored", "n_labeled", "label_coverage", "positive_rate", "estimated_auc", "estimated_f1",
                    "auc_in_band", "f1_in_band"),  # fmt: skip
    checked="fully labelled day",
    unchecked="{label}: no fully labelled day with an estimate yet.",
    settled_marker="realised, fully labelled",
    unsettled_marker="realised, labels arriving",
    band_marker="estimated band (±3 SE)",
    today_caption="Realised values use the labels that have arrived; they are compared with the band once the day "
    "is fully labelled.",
    chart_caption="Shaded: the estimate ± 3 sampling standard errors at the day's number of scored rows; it covers "
    "sampling noise only.",
    note="performance_note_cbpe.html",
    calibration=Calibration(
        title="Calibration: mean score and realised positive rate",
        head=("day", "mean score (estimated rate)", "realised positive rate", "realised − estimated", "ECE",
              "labelled"),  # fmt: skip
        caption="Newest days with labels first. With calibrated scores the mean score matches the positive rate once "
        "the day is fully labelled; on partly labelled days the realised rate covers only the labels that have "
        "arrived. ECE: expected calibration error over 10 equal-width score bins.",
        empty="No labels yet: calibration needs realised outcomes.",
        present="positive_rate",
        cells=lambda r: [num(r["est_positive_rate"], ".2%"), num(r["positive_rate"], ".2%"), _gap_pp(r), num(r["ece"]),
                         num(r["label_coverage"], ".0%")],  # fmt: skip
    ),
    residuals=False,
)


def _coverage_band(frame: pd.DataFrame) -> pd.DataFrame:
    """Interval coverage as a banded metric: the target, ± 3 binomial standard errors at the labelled rows,
    and whether the realised coverage fell inside (checked as soon as labels arrive: the target holds for
    any row, so the labelled ones are a sample of it)."""
    target = frame["interval_coverage_target"].fillna(frame["est_interval_coverage_target"])
    n = frame["n_labeled"].where(frame["n_labeled"] > 0)
    half = BAND_SIGMAS * np.sqrt(target * (1.0 - target) / n)
    realised = frame["interval_coverage"]
    lower, upper = (target - half).clip(lower=0.0), (target + half).clip(upper=1.0)
    known = realised.notna() & lower.notna()
    inside = (realised >= lower - 1e-12) & (realised <= upper + 1e-12)
    return frame.assign(est_interval_coverage=target, est_interval_coverage_lower=lower,
                        est_interval_coverage_upper=upper,
                        interval_coverage_in_band=inside.astype(object).where(known, None))  # fmt: skip


REGRESSION = ProblemSpec(
    problem_type="regression",
    metrics=(Metric("MAE", "mae", measure, banded=True, bounds=(0.0, None)),
             Metric("RMSE", "rmse", measure, banded=True, bounds=(0.0, None)),
             Metric("interval coverage", "interval_coverage", percent, banded=True, target=True, percent_axis=True),
             Metric("R²", "r2"), Metric("bias (prediction − label)", "bias", signed),
             Metric("MAPE", "mape", percent)),  # fmt: skip
    headline="mae",
    charted=("mae", "interval_coverage"),
    estimated_extra=("n_scored", "prediction_mean", "interval_coverage_target"),
    realised_extra=("n_scored", "n_labeled", "label_coverage", "label_mean", "prediction_mean",
                    "interval_coverage_target", "estimated_mae", "estimated_rmse", "mae_in_band", "rmse_in_band"),
    checked="labelled day",
    unchecked="{label}: no day compared with its band yet.",
    settled_marker="realised, compared",
    unsettled_marker="realised, not compared yet",
    band_marker="band (±3 SE)",
    today_caption="Realised values use the labels that have arrived. MAE and RMSE are compared with the estimate's "
    "band over the same labelled rows; interval coverage with its target ± 3 standard errors at the number of "
    "labelled rows.",
    chart_caption="Shaded: the estimate ± 3 sampling standard errors at the day's number of scored rows (it covers "
    "sampling noise only); for interval coverage, the target ± 3 binomial standard errors at the day's labelled "
    "rows.",
    note="performance_note_dle.html",
    calibration=Calibration(
        title="Bias: mean prediction and mean label",
        head=("day", "mean prediction", "mean label", "bias (prediction − label)", "interval coverage", "labelled"),
        caption="Newest days with labels first. The mean prediction is over every scored row, the mean label and the "
        "bias over the labelled rows only (on partly labelled days they cover different rows). Interval coverage: "
        "the share of labels inside the stored prediction interval.",
        empty="No labels yet: the bias needs realised outcomes.",
        present="label_mean",
        cells=lambda r: [measure(r["prediction_mean"]), measure(r["label_mean"]), signed(r["bias"]),
                         percent(r["interval_coverage"]), num(r["label_coverage"], ".0%")],  # fmt: skip
    ),
    residuals=True,
    derive=_coverage_band,
    output_title="Prediction distribution",
    output_noun="the prediction",
    reference=("interval_coverage_target",),
)

MULTICLASS = ProblemSpec(
    problem_type="multiclass",
    metrics=(Metric("accuracy", "accuracy", percent, banded=True, percent_axis=True),
             Metric("macro F1", "f1", banded=True), Metric("macro AUC", "auc", banded=True),
             Metric("macro precision", "precision", percent), Metric("macro recall", "recall", percent),
             Metric("weighted F1", "weighted_f1"),
             Metric("log loss", "logloss", bounds=(0.0, None))),  # fmt: skip
    headline="accuracy",
    charted=("accuracy", "f1", "auc"),
    estimated_extra=("n_scored", "calibration_temperature"),
    realised_extra=("n_scored", "n_labeled", "label_coverage", "estimated_accuracy", "estimated_auc", "estimated_f1",
                    "accuracy_in_band", "auc_in_band", "f1_in_band"),  # fmt: skip
    checked="fully labelled day",
    unchecked="{label}: no fully labelled day with an estimate yet.",
    settled_marker="realised, fully labelled",
    unsettled_marker="realised, labels arriving",
    band_marker="estimated band (±3 SE)",
    today_caption="Macro: the mean over the classes of each class's one-vs-rest value. Realised values use the "
    "labels that have arrived; they are compared with the band once the day is fully labelled.",
    chart_caption="Shaded: the estimate ± 3 sampling standard errors at the day's number of scored rows; it covers "
    "sampling noise only.",
    note="performance_note_cbpe_multiclass.html",
    calibration=Calibration(
        title="Calibration: mean confidence and realised accuracy",
        head=("day", "mean confidence (estimated accuracy)", "realised accuracy", "realised − estimated", "log loss",
              "labelled"),  # fmt: skip
        caption="Newest days with labels first. The confidence is the probability of the predicted class; with "
        "calibrated probabilities its mean matches the accuracy once the day is fully labelled. On partly labelled "
        "days the realised accuracy covers only the labels that have arrived.",
        empty="No labels yet: calibration needs realised outcomes.",
        present="accuracy",
        cells=lambda r: [percent(r["est_accuracy"]), percent(r["accuracy"]), _gap_pp(r, "accuracy"),
                         num(r["logloss"]), num(r["label_coverage"], ".0%")],  # fmt: skip
    ),
    residuals=False,
    output_title="Predicted class and class probabilities",
    output_noun="the prediction",
    reference=("calibration_temperature",),
    per_class=True,
)

SPECS = {spec.problem_type: spec for spec in (BINARY, REGRESSION, MULTICLASS)}


def spec_for(problem_type: str | None) -> ProblemSpec:
    """The spec of ``problem_type`` (None: binary, as a lake from before regression models)."""
    try:
        return SPECS[problem_type or "binary"]
    except KeyError:
        raise ValueError(f"no report for problem type {problem_type!r} (known: {', '.join(SPECS)})") from None


def infer(performance: pd.DataFrame | None) -> str:
    """The problem type of rows of ``ml.performance_metrics`` when no config says it: multiclass when they
    carry an accuracy, regression when they carry regression errors and no binary metric."""
    if performance is None or performance.empty:
        return "binary"
    has = {c: c in performance.columns and performance[c].notna().any()
           for c in ("auc", "mae", "f1", "rmse", "accuracy")}  # fmt: skip
    if has["accuracy"]:
        return "multiclass"
    return "regression" if (has["mae"] or has["rmse"]) and not (has["auc"] or has["f1"]) else "binary"
