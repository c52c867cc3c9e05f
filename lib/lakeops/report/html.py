"""The daily drift report of one model, as self-contained HTML.

``render_day`` turns one (model, ds) of ``ml.drift_metrics``, that day's
baseline-vs-current histograms, a 30-day PSI trend and (optionally) the rows of
``ml.performance_metrics``, ``ml.alerts``, ``ml.model_validations`` and
``ml.attribution_drift`` into one page; ``render_index`` lists the monitored
days. This module reads and writes no tables and no files: the caller reads the
frames from Delta and writes the returned strings as ``<ds>.html`` and
``index.html`` in one folder.

The markup lives in Jinja2 templates (``templates/``) with autoescape on, so
every string taken from the data is escaped; charts come from
:mod:`lakeops.report.charts` and :mod:`lakeops.report.performance_section` as inline SVG
markup (:mod:`lakeops.report.alerts_section`, :mod:`lakeops.report.timeline` and
:mod:`lakeops.report.attribution_section` shape the lifecycle sections; :mod:`lakeops.report.multiclass_section` a
multiclass model's sections per class; :mod:`lakeops.report.estimator_section` the scoring version's estimator
check, :mod:`lakeops.report.shadow_section` a challenger scoring in shadow, :mod:`lakeops.report.riskiest_section` the
day's riskiest rows with their reason codes). The pages must open offline: nothing is fetched, styling is one
``<style>`` tag, and there is no script.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lakeops.constants import BASELINE_DRIFT, CONSECUTIVE_DRIFT, OUTPUT_COLUMN_TYPES, STATUSES
from lakeops.report import (
    alerts_section,
    attribution_section,
    charts,
    estimator_section,
    multiclass_section,
    performance_section,
    problems,
    residuals_section,
    riskiest_section,
    shadow_section,
    timeline,
)
from lakeops.report.values import dates, num, pvalue, rank, status, to_float, with_columns

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeops.evaluate.estimator_check import EstimatorCheck

__all__ = ["INDEX_FILENAME", "TREND_DAYS", "render_day", "render_index"]

#: What the day pages link back to; the caller writes render_index's page under this name.
INDEX_FILENAME = "index.html"
#: Days up to the page's day that the trend charts and the timeline cover.
TREND_DAYS = 30

_DRIFT_COLUMNS = [
    "ds", "model_name", "model_version", "baseline_id", "column_name", "column_type",
    "drift_type", "slice_key", "slice_value", "n_current", "n_baseline", "psi", "ks_stat",
    "js_distance", "wasserstein", "chi2_pvalue", "null_rate_current", "null_rate_baseline",
    "status", "warn_threshold", "alert_threshold",
]  # fmt: skip
_HIST_COLUMNS = ["column_name", "bin_index", "label", "baseline_proportion", "current_proportion"]
_TREND_COLUMNS = ["ds", "column_name", "psi", "status", "model_version"]
_DAYS_COLUMNS = ["ds", "model_version", "n_columns", "n_warn", "n_alert", "max_psi", "max_psi_column"]
_INDEX_HEAD = ["day", "status", "model version", "columns", "warn", "alert", "max PSI", "max PSI column"]


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("lakeops.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt name fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=num, pvalue=pvalue)
    env.globals.update(statuses=STATUSES, index_filename=INDEX_FILENAME,
                       state_css={"firing": "alert", "pending": "warn", "resolved": "ok", "n/a": "na"})
    return env


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


# ---------------------------------------------------------------- shaping the drift inputs


def _whole_population(drift: pd.DataFrame, drift_type: str) -> pd.DataFrame:
    rows = drift[drift["slice_key"].isna() & (drift["drift_type"] == drift_type)]
    return rows.drop_duplicates("column_name", keep="last").set_index("column_name")


def _columns_today(drift: pd.DataFrame) -> pd.DataFrame:
    """One row per column: the baseline metrics, plus the consecutive PSI where there is one."""
    columns = _whole_population(drift, BASELINE_DRIFT)
    columns["status"] = columns["status"].map(status)
    columns["psi"] = columns["psi"].map(to_float)
    # Reindexing leaves NaN on the first monitored day, which has no consecutive rows.
    columns["psi_consecutive"] = _whole_population(drift, CONSECUTIVE_DRIFT)["psi"].reindex(columns.index)
    return columns


def _by_severity(columns: pd.DataFrame) -> pd.DataFrame:
    key = columns.assign(_rank=columns["status"].map(rank), _psi=columns["psi"].fillna(-1.0))
    return columns.loc[key.sort_values(["_rank", "_psi"], ascending=False, kind="stable").index]


def _trend_grids(trend: pd.DataFrame, columns: pd.DataFrame, ds: date) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Status and PSI per column (rows) by day (columns), and the version that scored each day;
    today comes from ``drift`` if the trend lacks it."""
    trend = trend.assign(ds=dates(trend["ds"]))
    today = pd.DataFrame({"ds": ds, "column_name": columns.index, "psi": columns["psi"].values,
                          "status": columns["status"].values, "model_version": columns["model_version"].values})
    if trend.empty:  # the first monitored day: its own metrics are the whole history
        trend = today
    elif not (trend["ds"] == ds).any():
        trend = pd.concat([trend[_TREND_COLUMNS], today], ignore_index=True)
    trend = trend[trend["ds"] <= ds].drop_duplicates(["ds", "column_name"], keep="last")
    grid = trend.pivot(index="column_name", columns="ds", values="status").sort_index(axis=1)
    psi = trend.pivot(index="column_name", columns="ds", values="psi").reindex_like(grid)
    versions = trend["model_version"].map(to_float).groupby(trend["ds"]).max().dropna()
    return grid.map(status), psi.map(to_float), versions


def _since(grid: pd.DataFrame) -> dict[str, tuple[date, int, bool]]:
    """Per drifting column: first day of its current run of warn/alert days, run length, and
    whether the run reaches the start of the window (so it may be older)."""
    days = list(grid.columns)
    out: dict[str, tuple[date, int, bool]] = {}
    for column, row in grid.iterrows():
        run = 0
        while run < len(days) and rank(row.iloc[-1 - run]) > 0:
            run += 1
        if run:
            out[str(column)] = (days[-run], run, run == len(days) and len(days) > 1)
    return out


def _since_text(since: tuple[date, int, bool] | None) -> str:
    if since is None:
        return ""
    start, run, open_ended = since
    plural = "s" if run != 1 else ""
    return f"since {start.isoformat()}{' or earlier' if open_ended else ''} ({run} day{plural})"


def _heatmap_order(grid: pd.DataFrame, psi: pd.DataFrame, since: dict) -> list[str]:
    """Drifting today first (worst first, longest-running first), then drifted earlier, then the rest."""

    def key(column: str) -> tuple:
        row = grid.loc[column]
        latest_psi = psi.loc[column].iloc[-1]
        return (-rank(row.iloc[-1]), since.get(column, (date.max,))[0], -max(map(rank, row)),
                -latest_psi if not math.isnan(latest_psi) else math.inf, column)  # fmt: skip

    return sorted(map(str, grid.index), key=key)


def _verdict(columns: pd.DataFrame) -> tuple[str, str]:
    """(worst status, one line such as '3 columns in alert, 1 in warn')."""
    if columns.empty:
        return "n/a", "No drift metrics for this day"
    counts = columns["status"].value_counts()
    alert, warn = int(counts.get("alert", 0)), int(counts.get("warn", 0))
    unknown = int(counts.get("n/a", 0))
    if not alert and not warn:  # never claim "all ok" for a column whose status is missing
        line = f"No column drifted ({unknown} without status)" if unknown else f"All {len(columns)} columns ok"
        return "ok", line
    parts = [f"{alert} column{'s' if alert != 1 else ''} in alert"] if alert else []
    if warn:
        parts.append(f"{warn} in warn" if parts else f"{warn} column{'s' if warn != 1 else ''} in warn")
    return ("alert" if alert else "warn"), f"{', '.join(parts)} (of {len(columns)})"


def _cards(columns: pd.DataFrame, histograms: pd.DataFrame, names: list[str], prefix: str,
           draw: charts.Histograms) -> list[dict]:
    return [
        {"name": name, "status": columns.at[name, "status"], "psi": columns.at[name, "psi"],
         "column_type": str(columns.at[name, "column_type"]),
         "chart": draw(histograms[histograms["column_name"] == name], f"{prefix}{i}")}
        for i, name in enumerate(names)
    ]  # fmt: skip


def _slices(drift: pd.DataFrame) -> list[dict]:
    rows = drift[drift["slice_key"].notna()].assign(status=lambda d: d["status"].map(status))
    rows = rows[rows["status"].map(rank) > 0]
    rows = rows.assign(_rank=rows["status"].map(rank), _psi=rows["psi"].map(to_float).fillna(-1.0))
    return rows.sort_values(["_rank", "_psi"], ascending=False).to_dict("records")


def _baseline_mix(histograms: pd.DataFrame) -> dict[str, float]:
    """Each predicted class's share in the training baseline, from the predicted class's histogram rows."""
    rows = histograms.drop_duplicates("label")
    return {str(label): to_float(p) for label, p in zip(rows["label"], rows["baseline_proportion"], strict=True)}


def _scoring_version(drift: pd.DataFrame, performance_metrics: pd.DataFrame | None, ds: date) -> float:
    """The version that scored the day: the newest of its drift rows, else of its performance rows (NaN: none)."""
    found = drift["model_version"].map(to_float).max()
    if math.isnan(found) and performance_metrics is not None and len(performance_metrics):
        rows = performance_metrics[dates(performance_metrics["ds"]) == ds] if "ds" in performance_metrics else None
        found = rows["model_version"].map(to_float).max() if rows is not None and len(rows) else math.nan
    return found


def _timeline_empty(events: list, alerts: pd.DataFrame | None, validations: pd.DataFrame | None, days: int) -> str:
    if events:
        return ""
    if alerts is None and validations is None:
        return "No retrain or gate decision: this lake has neither ml.alerts nor ml.model_validations."
    return f"No retrain request, gate decision or change of scoring version in the last {days} days."


# ---------------------------------------------------------------- public API


def render_day(
    *,
    model_name: str,
    ds: date,
    drift: pd.DataFrame,
    histograms: pd.DataFrame,
    trend: pd.DataFrame,
    performance_metrics: pd.DataFrame | None = None,
    alerts: pd.DataFrame | None = None,
    validations: pd.DataFrame | None = None,
    attribution: pd.DataFrame | None = None,
    problem_type: str = "binary",
    residual_rows: pd.DataFrame | None = None,
    class_metrics: pd.DataFrame | None = None,
    confusion_matrix: pd.DataFrame | None = None,
    classes: Sequence[str] = (),
    estimator_checks: Mapping[int, EstimatorCheck] | None = None,
    shadow: shadow_section.ShadowInputs | None = None,
    riskiest_rows: pd.DataFrame | pa.Table | None = None,
    entity_keys: Sequence[str] = (),
    top_n: int = 6,
    trend_days: int = TREND_DAYS,
) -> str:
    """The drift page of one model and day, as one self-contained HTML document.

    Each optional frame holds the model's rows of any days (those after ``ds`` are ignored),
    or is None when the lake has no such table; the page then says so.

    Args:
        trend: whole-population baseline rows of ``ml.drift_metrics`` of the days before ``ds``
            (``ds``, ``column_name``, ``psi``, ``status`` and ``model_version``).
        performance_metrics: rows of ``ml.performance_metrics``.
        alerts: rows of ``ml.alerts``: the day's alerts, and the retrain requests on the timeline.
        validations: rows of ``ml.model_validations``: the gate's decisions on the timeline.
        attribution: rows of ``ml.attribution_drift``.
        problem_type: the model's (``binary``, ``regression`` or ``multiclass``): what the performance
            sections show (:mod:`lakeops.report.problems`).
        residual_rows: a regression model's residual section: one day's scored rows with their labels
            (``ds``, ``prediction``, ``label``, ``prediction_lower``, ``prediction_upper``), the newest
            labelled day up to ``ds``; empty when there is none, None when they could not be read.
        class_metrics: a multiclass model's rows of ``ml.class_metrics``.
        confusion_matrix: a multiclass model's rows of ``ml.confusion_matrix``.
        classes: a multiclass model's classes, in its order (classes found only in the rows follow).
        estimator_checks: each version's estimator check at training
            (:func:`lakeops.evaluate.estimator_check.check_estimator` of its ``ml.performance_reference`` row):
            the performance section warns when the version that scored ``ds`` failed it.
        shadow: a challenger's shadow scores against the champion's (:class:`lakeops.report.shadow_section.ShadowInputs`);
            None without a ``shadow.<model>`` table: no section.
        riskiest_rows: the rows of ``predictions.<model>`` scored on ``ds`` (entity keys, outputs and the
            ``reason_i``/``reason_i_contribution`` columns): the day's riskiest rows with their reasons; no
            section without reason columns.
        entity_keys: the model's entity keys, the columns that name a row of ``riskiest_rows``.
        trend_days: the days up to ``ds`` that the trend charts and the timeline cover.
    """
    drift = with_columns(drift, _DRIFT_COLUMNS)
    histograms = with_columns(histograms, _HIST_COLUMNS)
    columns = _columns_today(drift)
    grid, psi, versions = _trend_grids(with_columns(trend, _TREND_COLUMNS), columns, ds)
    start = timeline.window(ds, trend_days)
    events = timeline.events(alerts=alerts, validations=validations, versions=versions, start=start, end=ds)
    since = _since(grid)
    order = _heatmap_order(grid, psi, since)
    output = columns["column_type"].isin(OUTPUT_COLUMN_TYPES)
    features = list(_by_severity(columns[~output]).index[: max(top_n, 0)])
    # The model's output: the predicted class first, then the score(s) (a multiclass model's per class).
    scores = list(columns[output].sort_values("column_type", key=lambda t: t != "class", kind="stable").index)
    psi_chart, psi_caption = charts.psi_chart(columns) if len(columns) else (None, "")
    worst, verdict = _verdict(columns)
    drifted = [c for c in order if c in columns.index and rank(columns.at[c, "status"]) > 0]
    table = _by_severity(columns)
    draw = charts.Histograms()  # one figure for all the page's histograms
    spec = problems.spec_for(problem_type)
    perf = performance_section.build(performance_metrics, ds, days=trend_days, events=events, spec=spec)
    per_class = None
    if spec.per_class:
        predicted = columns.index[columns["column_type"] == "class"]
        mix = histograms[histograms["column_name"].isin(predicted)]
        per_class = multiclass_section.build(class_metrics, confusion_matrix, ds, daily=perf.frame, classes=classes,
                                        days=trend_days, baseline_mix=_baseline_mix(mix))  # fmt: skip
    return _render(
        "day.html",
        title=f"{model_name} drift {ds.isoformat()}",
        model_name=model_name,
        ds=ds.isoformat(),
        versions=", ".join(num(v, ",.0f") for v in sorted(drift["model_version"].dropna().unique())) or "–",
        baselines=", ".join(str(b) for b in drift["baseline_id"].dropna().unique()) or "–",
        n_rows=columns["n_current"].map(to_float).max(),
        worst=worst,
        verdict=verdict,
        drifted=[{"name": c, "status": columns.at[c, "status"], "psi": columns.at[c, "psi"],
                  "since": _since_text(since.get(c))} for c in drifted],  # fmt: skip
        psi_chart=psi_chart,
        psi_caption=psi_caption,
        first_day=len(grid.columns) == 1,
        heatmap=charts.heatmap(grid.loc[order], psi.loc[order], since, events=events) if order else None,
        top_n=top_n,
        top_cards=_cards(columns, histograms, features, "hist", draw),
        score_cards=_cards(columns, histograms, scores, "score", draw),
        output_title=spec.output_title,
        output_noun=spec.output_noun,
        perf=perf,
        estimator=estimator_section.build(estimator_checks, _scoring_version(drift, performance_metrics, ds), spec),
        shadow=shadow_section.build(shadow, ds, days=trend_days, model_name=model_name),
        riskiest=riskiest_section.build(riskiest_rows, ds, problem_type=problem_type, keys=entity_keys),
        residuals=residuals_section.build(residual_rows, ds) if spec.residuals else None,
        multiclass=per_class,
        alerts=alerts_section.build(alerts, ds),
        timeline=events,
        timeline_days=trend_days,
        timeline_empty=_timeline_empty(events, alerts, validations, trend_days),
        attribution=attribution_section.build(attribution, ds),
        columns=[{**r, "name": str(name), "since": _since_text(since.get(str(name)))}
                 for name, r in zip(table.index, table.to_dict("records"), strict=True)],  # fmt: skip
        slices=_slices(drift),
    )


def render_index(
    *,
    model_name: str,
    days: pd.DataFrame,
    performance_metrics: pd.DataFrame | None = None,
    alerts: pd.DataFrame | None = None,
    validations: pd.DataFrame | None = None,
    attribution: pd.DataFrame | None = None,
    problem_type: str = "binary",
) -> str:
    """The list of monitored days, newest first, each linking to ``<ds>.html`` in the same folder.

    With ``performance_metrics`` (rows of ``ml.performance_metrics`` for the model), each day
    also shows its estimated and realised headline metric (AUC; a regression model's MAE) and its label
    coverage; with ``alerts`` its firing
    and pending alerts, with ``alerts`` or ``validations`` its retrain requests, gate decisions
    and version changes, and with ``attribution`` its nDCG.
    """
    days = with_columns(days, _DAYS_COLUMNS)
    days = days.assign(ds=dates(days["ds"])).sort_values("ds", ascending=False)
    spec = problems.spec_for(problem_type)
    headline = spec.metric(spec.headline)
    quality = None if performance_metrics is None else performance_section.daily(performance_metrics, spec)
    open_alerts = alerts_section.per_day(alerts)
    ndcg = attribution_section.daily_ndcg(attribution)
    lifecycle = alerts is not None or validations is not None
    events: dict[date, list] = {}
    if lifecycle and len(days):
        versions = days.set_index("ds")["model_version"]
        found = timeline.events(alerts=alerts, validations=validations, versions=versions,
                                start=days["ds"].min(), end=days["ds"].max())  # fmt: skip
        events = timeline.per_day(found)
    rows = []
    for r in days.to_dict("records"):
        alert, warn = to_float(r["n_alert"]), to_float(r["n_warn"])
        extra: dict = {}
        if quality is not None:
            q = quality.loc[r["ds"]] if r["ds"] in quality.index else None
            c = headline.column
            extra = {"perf_estimated": headline.fmt(math.nan if q is None else q[f"est_{c}"]),
                     "perf_realised": headline.fmt(math.nan if q is None else q[c]),
                     "perf_in_band": None if q is None else performance_section.flag(q[f"{c}_in_band"]),
                     "label_coverage": math.nan if q is None else q["label_coverage"]}  # fmt: skip
        if open_alerts is not None:
            a = open_alerts.loc[r["ds"]] if r["ds"] in open_alerts.index else None
            extra |= {state: 0 if a is None else int(a[state]) for state in alerts_section.STATES}
        if ndcg is not None:
            n = ndcg.loc[r["ds"]] if r["ds"] in ndcg.index else None
            extra |= {"ndcg": math.nan if n is None else n["ndcg"], "ndcg_status": "n/a" if n is None else n["status"]}
        extra["events"] = events.get(r["ds"], [])
        rows.append({**r, **extra, "day": r["ds"].isoformat(),
                     "worst": "alert" if alert > 0 else "warn" if warn > 0 else "ok",
                     "max_psi_column": "" if pd.isna(r["max_psi_column"]) else str(r["max_psi_column"])})  # fmt: skip
    head = list(_INDEX_HEAD)
    if open_alerts is not None:
        head.insert(2, "alerts")
    head += [f"{headline.label} estimated", f"{headline.label} realised", "labelled"] if quality is not None else []
    head += ["nDCG"] if ndcg is not None else []
    head += ["retrains, gate, version"] if lifecycle else []
    return _render("index.html", title=f"Drift reports: {model_name}", days=rows, head=head,
                   performance=quality is not None, alerts=open_alerts is not None, attribution=ndcg is not None,
                   lifecycle=lifecycle)  # fmt: skip
