"""The daily drift report of one model, as self-contained HTML.

``render_day`` turns one (model, ds) of ``ml.drift_metrics``, that day's
baseline-vs-current histograms and a 30-day PSI trend into one page;
``render_index`` lists the monitored days. This module reads and writes no
tables and no files: the caller reads the frames from Delta and writes the
returned strings as ``<ds>.html`` and ``index.html`` in one folder.

The pages must open offline, so nothing is fetched: charts are matplotlib
``Figure`` objects (no pyplot, so no global backend is chosen) serialised as
inline SVG, styling is one ``<style>`` tag, and there is no script. Every
string taken from the data goes through ``html.escape``.
"""

from __future__ import annotations

import io
import math
import re
from datetime import date
from html import escape

import matplotlib
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import PercentFormatter

__all__ = ["INDEX_FILENAME", "render_day", "render_index"]

#: What the day pages link back to; the caller writes render_index's page under this name.
INDEX_FILENAME = "index.html"

# Light grey / amber / dark red differ in lightness as well as hue, so they stay
# apart under the common colour-vision deficiencies; the status word is always
# printed next to the colour too.
STATUS_COLOURS = {"ok": "#b7c0c8", "warn": "#e8a317", "alert": "#b2182b"}
NO_DATA_COLOUR = "#f1f3f5"
BASELINE_COLOUR, CURRENT_COLOUR = "#9ecae1", "#2b5c8a"
_RANK = {"ok": 0, "warn": 1, "alert": 2}

_DRIFT_COLUMNS = [
    "ds", "model_name", "model_version", "baseline_id", "column_name", "column_type",
    "drift_type", "slice_key", "slice_value", "n_current", "n_baseline", "psi", "ks_stat",
    "js_distance", "wasserstein", "chi2_pvalue", "null_rate_current", "null_rate_baseline",
    "status", "warn_threshold", "alert_threshold",
]  # fmt: skip
_HIST_COLUMNS = ["column_name", "bin_index", "label", "baseline_proportion", "current_proportion"]
_TREND_COLUMNS = ["ds", "column_name", "psi", "status"]
_DAYS_COLUMNS = ["ds", "model_version", "n_columns", "n_warn", "n_alert", "max_psi", "max_psi_column"]


# ---------------------------------------------------------------- small helpers


def _with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame with any missing contract column added as nulls (an empty ``pd.DataFrame()`` renders too)."""
    missing = [c for c in columns if c not in frame.columns]
    return frame.assign(**{c: None for c in missing}) if missing else frame.copy()


def _dates(values: pd.Series) -> pd.Series:
    # Delta readers hand back dates, Timestamps or strings depending on the engine.
    return pd.to_datetime(values).dt.date


def _status(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in _RANK else "n/a"


def _rank(status: str) -> int:
    return _RANK.get(status, -1)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _num(value: object, spec: str = ".3f") -> str:
    """A number for display ('.1%' for rates, ',.0f' for counts); '–' for null or NaN."""
    number = _float(value)
    return "–" if math.isnan(number) else format(number, spec)


def _pvalue(value: object) -> str:
    number = _float(value)
    return _num(number, ".1e" if 0 < number < 0.001 else ".3f")


def _mpl(text: object) -> str:
    # matplotlib reads $...$ as mathtext; a column name is never maths.
    return str(text).replace("$", r"\$")


def _badge(status: str) -> str:
    css = status if status in _RANK else "na"
    return f'<span class="badge {css}">{escape(status)}</span>'


def _svg(fig: Figure, key: str, tooltips: dict[str, str] | None = None) -> str:
    """The figure as an inline <svg>, with a <title> tooltip inside each group named in ``tooltips``."""
    # rc_context is scoped and restored on exit. fonttype "none" keeps labels as
    # real text (searchable, smaller); a per-figure salt makes the SVG ids
    # deterministic yet distinct between the several SVGs of one page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"lakeops-{key}"}):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # the prolog's DOCTYPE names an external DTD by URL
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF namespaces, creator URL
    for gid, text in (tooltips or {}).items():
        svg = svg.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{escape(text)}</title>', 1)
    return f'<div class="chart">{svg}</div>'


# ---------------------------------------------------------------- shaping the inputs


def _whole_population(drift: pd.DataFrame, drift_type: str) -> pd.DataFrame:
    rows = drift[drift["slice_key"].isna() & (drift["drift_type"] == drift_type)]
    return rows.drop_duplicates("column_name", keep="last").set_index("column_name")


def _columns_today(drift: pd.DataFrame) -> pd.DataFrame:
    """One row per column: the baseline metrics, plus the consecutive PSI where there is one."""
    columns = _whole_population(drift, "baseline")
    columns["status"] = columns["status"].map(_status)
    columns["psi"] = columns["psi"].map(_float)
    # Reindexing leaves NaN on the first monitored day, which has no consecutive rows.
    columns["psi_consecutive"] = _whole_population(drift, "consecutive")["psi"].reindex(columns.index)
    return columns


def _by_severity(columns: pd.DataFrame) -> pd.DataFrame:
    key = columns.assign(_rank=columns["status"].map(_rank), _psi=columns["psi"].fillna(-1.0))
    return columns.loc[key.sort_values(["_rank", "_psi"], ascending=False, kind="stable").index]


def _trend_grids(trend: pd.DataFrame, columns: pd.DataFrame, ds: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Status and PSI per column (rows) by day (columns); today comes from ``drift`` if the trend lacks it."""
    trend = trend.assign(ds=_dates(trend["ds"]))
    today = pd.DataFrame({"ds": ds, "column_name": columns.index, "psi": columns["psi"].values,
                          "status": columns["status"].values})  # fmt: skip
    if trend.empty:  # the first monitored day: its own metrics are the whole history
        trend = today
    elif not (trend["ds"] == ds).any():
        trend = pd.concat([trend[_TREND_COLUMNS], today], ignore_index=True)
    trend = trend[trend["ds"] <= ds].drop_duplicates(["ds", "column_name"], keep="last")
    status = trend.pivot(index="column_name", columns="ds", values="status").sort_index(axis=1)
    psi = trend.pivot(index="column_name", columns="ds", values="psi").reindex_like(status)
    return status.map(_status), psi.map(_float)


def _since(status: pd.DataFrame) -> dict[str, tuple[date, int, bool]]:
    """Per drifting column: first day of its current run of warn/alert days, run length, and
    whether the run reaches the start of the window (so it may be older)."""
    days = list(status.columns)
    out: dict[str, tuple[date, int, bool]] = {}
    for column, row in status.iterrows():
        run = 0
        while run < len(days) and _rank(row.iloc[-1 - run]) > 0:
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


def _heatmap_order(status: pd.DataFrame, psi: pd.DataFrame, since: dict) -> list[str]:
    """Drifting today first (worst first, longest-running first), then drifted earlier, then the rest."""

    def key(column: str) -> tuple:
        row = status.loc[column]
        latest_psi = psi.loc[column].iloc[-1]
        return (-_rank(row.iloc[-1]), since.get(column, (date.max,))[0], -max(map(_rank, row)),
                -latest_psi if not math.isnan(latest_psi) else math.inf, column)  # fmt: skip

    return sorted(map(str, status.index), key=key)


# ---------------------------------------------------------------- charts


def _thresholds(columns: pd.DataFrame) -> tuple[float, float] | None:
    """The common (warn, alert) thresholds, or None when they differ between columns."""
    warn = columns["warn_threshold"].map(_float).dropna().round(9).unique()
    alert = columns["alert_threshold"].map(_float).dropna().round(9).unique()
    return (float(warn[0]), float(alert[0])) if len(warn) == 1 and len(alert) == 1 else None


def _psi_chart(columns: pd.DataFrame) -> str:
    order = columns.sort_values("psi", ascending=False, na_position="last", kind="stable")
    n = len(order)
    psi = order["psi"].fillna(0.0).tolist()
    fig = Figure(figsize=(9, 0.3 * n + 1.2), layout="constrained")
    ax = fig.add_subplot()
    colours = [STATUS_COLOURS.get(s, NO_DATA_COLOUR) for s in order["status"]]
    bars = ax.barh(range(n), psi, height=0.7, color=colours)
    limits = order[["warn_threshold", "alert_threshold"]].map(_float)
    right = max([*psi, *limits.max().fillna(0.0), 0.01]) * 1.3
    tips: dict[str, str] = {}
    for i, (bar, (name, row)) in enumerate(zip(bars, order.iterrows(), strict=False)):
        bar.set_gid(f"lk-psi-{i}")
        warn, alert = limits.iloc[i]
        value, word = _num(row["psi"]), row["status"]
        tips[f"lk-psi-{i}"] = f"{name}: PSI {value}, {word} (warn {_num(warn)}, alert {_num(alert)})"
        # The status word sits next to the bar so the chart reads without colour.
        label = value if word == "ok" else f"{value}  {word.upper()}"
        ax.text(psi[i] + right * 0.01, i, label, va="center", fontsize=8)
    common = _thresholds(order)
    if common is not None:
        for value, status in zip(common, ("warn", "alert"), strict=False):
            ax.axvline(value, color=STATUS_COLOURS[status], ls="--", lw=1.2, label=f"{status} ≥ {value:g}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        caption = f"Dashed lines: warn at PSI {common[0]:g}, alert at {common[1]:g} (the same for every column)."
    else:
        # Thresholds differ per column: mark each bar's own, since one line would lie. The white
        # halo keeps a red tick visible on a red bar.
        halo = [patheffects.withStroke(linewidth=4, foreground="white")]
        for i, (warn, alert) in enumerate(limits.itertuples(index=False)):
            for value, status in ((warn, "warn"), (alert, "alert")):
                ax.plot([value], [i], marker="|", ms=13, mew=2, color=STATUS_COLOURS[status], path_effects=halo)
        caption = "Thresholds differ per column: the amber and red ticks on each row mark its own warn and alert."
    ax.set_yticks(range(n), [_mpl(c) for c in order.index], fontsize=9)
    ax.set_ylim(n - 0.5, -0.5)  # most drifted on top
    ax.set_xlim(0, right)
    ax.set_xlabel("PSI against the baseline (whole population)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "psi", tips) + f'<p class="caption">{escape(caption)}</p>'


def _heatmap(status: pd.DataFrame, psi: pd.DataFrame, since: dict) -> str:
    rows, days = list(status.index), list(status.columns)
    fig = Figure(figsize=(max(5.0, 0.34 * len(days) + 3.5), 0.3 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    tips: dict[str, str] = {}
    for i, column in enumerate(rows):
        for j, day in enumerate(days):
            word, value, gid = status.iat[i, j], psi.iat[i, j], f"lk-heat-{i}-{j}"
            colour = STATUS_COLOURS.get(word, NO_DATA_COLOUR)
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour, edgecolor="white", gid=gid))
            tips[gid] = f"{column} · {day.isoformat()} · PSI {_num(value)} · {word}"
            if _rank(word) > 0 and not math.isnan(value):  # only drifted cells carry a number: less clutter
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if word == "alert" else "black")  # fmt: skip
        if column in since:
            ax.text(len(days) - 0.2, i, f"since {since[column][0]:%m-%d}", va="center", fontsize=8)
    step = max(1, math.ceil(len(days) / 16))
    ax.set_xticks(range(0, len(days), step), [f"{d:%m-%d}" for d in days[::step]], fontsize=8, rotation=90)
    ax.set_yticks(range(len(rows)), [_mpl(r) for r in rows], fontsize=9)
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    keys = {**STATUS_COLOURS, "no data": NO_DATA_COLOUR}
    legend = [Patch(facecolor=colour, edgecolor="#9aa5b1", label=word) for word, colour in keys.items()]
    ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=4, fontsize=8, frameon=False)
    return _svg(fig, "heatmap", tips)


def _histogram(hist: pd.DataFrame, key: str) -> str:
    if hist.empty:
        return _muted("No histogram for this column.")
    # Display order is bin_index ascending with the null bucket (-1) last.
    bins = pd.to_numeric(hist["bin_index"], errors="coerce").astype(float)
    rows = hist.assign(_order=bins.where(bins >= 0, math.inf)).sort_values("_order", kind="stable")
    labels = [str(x) if len(str(x)) <= 16 else str(x)[:15] + "…" for x in rows["label"]]
    base = rows["baseline_proportion"].map(_float).fillna(0.0).tolist()
    current = rows["current_proportion"].map(_float).fillna(0.0).tolist()
    x = list(range(len(rows)))
    fig = Figure(figsize=(5.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.bar([v - 0.2 for v in x], base, width=0.4, color=BASELINE_COLOUR, label="baseline")
    pairs = ax.bar([v + 0.2 for v in x], current, width=0.4, color=CURRENT_COLOUR, label="current")
    tips = {}
    for i, (bar, label) in enumerate(zip(pairs, rows["label"], strict=False)):
        bar.set_gid(f"lk-{key}-{i}")
        tips[f"lk-{key}-{i}"] = f"{label}: baseline {_num(base[i], '.1%')}, current {_num(current[i], '.1%')}"
    rotate = 40 if len(rows) > 4 or max(map(len, labels)) > 8 else 0
    ax.set_xticks(x, [_mpl(t) for t in labels], fontsize=8, rotation=rotate, ha="right" if rotate else "center")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, ncol=2, loc="lower right", bbox_to_anchor=(1, 1))  # never over a bar
    return _svg(fig, key, tips)


# ---------------------------------------------------------------- page sections


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


def _header(
    model_name: str, ds: date, drift: pd.DataFrame, columns: pd.DataFrame, since: dict, order: list[str]
) -> str:
    """Model, day, version and the verdict, then one line per drifted column saying since when."""
    worst, line = _verdict(columns)
    versions = ", ".join(_num(v, ",.0f") for v in sorted(drift["model_version"].dropna().unique())) or "–"
    baselines = ", ".join(escape(str(b)) for b in drift["baseline_id"].dropna().unique()) or "–"
    drifted = [c for c in order if c in columns.index and _rank(columns.at[c, "status"]) > 0]
    items = "".join(
        f"<li>{_badge(columns.at[c, 'status'])} <b>{escape(c)}</b> PSI {_num(columns.at[c, 'psi'])}, "
        f"{escape(_since_text(since.get(c)))}</li>"
        for c in drifted
    )
    return (
        f'<header><p class="nav"><a href="{INDEX_FILENAME}">all days</a></p>'
        f'<h1>Drift report: {escape(model_name)} <span class="muted">{ds.isoformat()}</span></h1>'
        f'<p class="meta">model version {versions} · baseline {baselines} · '
        f"{_num(columns['n_current'].map(_float).max(), ',.0f')} rows scored</p>"
        f'<p class="verdict {worst if worst in _RANK else "na"}">{_badge(worst)} {escape(line)}</p>'
        + (f'<ul class="drifted">{items}</ul>' if items else "")
        + "</header>"
    )


def _column_table(columns: pd.DataFrame, since: dict) -> str:
    head = ("column", "type", "status", "since", "PSI baseline", "PSI consecutive", "KS", "JS", "Wasserstein",
            "chi² p", "nulls current", "nulls baseline")  # fmt: skip
    rows = []
    for name, r in _by_severity(columns).iterrows():
        cells = [_num(r["psi"]), _num(r["psi_consecutive"]), _num(r["ks_stat"]), _num(r["js_distance"]),
                 _num(r["wasserstein"]), _pvalue(r["chi2_pvalue"]), _num(r["null_rate_current"], ".1%"),
                 _num(r["null_rate_baseline"], ".1%")]  # fmt: skip
        rows.append(
            f"<tr><td><b>{escape(str(name))}</b></td><td>{escape(str(r['column_type']))}</td>"
            f'<td>{_badge(r["status"])}</td><td class="since">{escape(_since_text(since.get(str(name))))}</td>'
            + "".join(f'<td class="num">{c}</td>' for c in cells)
            + "</tr>"
        )
    return _table(head, rows)


def _slice_table(drift: pd.DataFrame) -> str:
    rows = drift[drift["slice_key"].notna()].assign(status=lambda d: d["status"].map(_status))
    rows = rows[rows["status"].map(_rank) > 0]
    if rows.empty:
        return _muted("No slice drifted.")
    rows = rows.assign(_rank=rows["status"].map(_rank), _psi=rows["psi"].map(_float).fillna(-1.0))
    body = [
        f"<tr><td>{escape(f'{r.slice_key}={r.slice_value}')}</td><td>{escape(str(r.column_name))}</td>"
        f'<td>{escape(str(r.drift_type))}</td><td class="num">{_num(r.psi)}</td><td>{_badge(r.status)}</td></tr>'
        for r in rows.sort_values(["_rank", "_psi"], ascending=False).itertuples()
    ]
    return _table(("slice", "column", "drift", "PSI", "status"), body)


def _table(head: tuple[str, ...], rows: list[str]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f'<table><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _histogram_cards(columns: pd.DataFrame, histograms: pd.DataFrame, names: list[str], prefix: str) -> str:
    cards = []
    for i, name in enumerate(names):
        r = columns.loc[name]
        cards.append(
            f'<div class="card"><h3>{escape(name)} {_badge(r["status"])}</h3>'
            f'<p class="muted">PSI {_num(r["psi"])} · {escape(str(r["column_type"]))}</p>'
            f"{_histogram(histograms[histograms['column_name'] == name], f'{prefix}{i}')}</div>"
        )
    return f'<div class="grid">{"".join(cards)}</div>'


def _muted(text: str) -> str:
    return f'<p class="muted">{escape(text)}</p>'


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
  margin:0 auto;max-width:1180px;padding:16px 24px}
h1{font-size:22px;margin:4px 0}h3{font-size:14px;margin:0 0 2px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d9dee3;padding-bottom:4px}
.muted,.meta,.caption{color:#616e7c}.caption{font-size:12px;margin-top:2px}.nav a{color:#2b5c8a}
.verdict{font-size:18px;font-weight:600;padding:8px 12px;border-left:6px solid #d9dee3;background:#f7f8fa}
.verdict.ok{border-color:#b7c0c8}.verdict.warn{border-color:#e8a317}.verdict.alert{border-color:#b2182b}
.drifted{margin:6px 0;padding-left:20px}.drifted li{margin:2px 0}
.badge{display:inline-block;min-width:38px;text-align:center;padding:0 6px;border-radius:9px;
  font-size:12px;font-weight:600;background:#f1f3f5;color:#616e7c}
.badge.ok{background:#e4e8ec;color:#3e4c59}.badge.warn{background:#e8a317;color:#1f1300}
.badge.alert{background:#b2182b;color:#fff}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #e4e7eb;text-align:left}th{background:#f1f3f5;position:sticky;top:0}
td.num,td.since{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f7f8fa}.chart svg{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:12px}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:8px}
"""


def _document(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>{body}</body></html>\n"
    )


# ---------------------------------------------------------------- public API


def render_day(
    *,
    model_name: str,
    ds: date,
    drift: pd.DataFrame,
    histograms: pd.DataFrame,
    trend: pd.DataFrame,
    top_n: int = 6,
) -> str:
    """The drift page of one model and day, as one self-contained HTML document."""
    drift = _with_columns(drift, _DRIFT_COLUMNS)
    histograms = _with_columns(histograms, _HIST_COLUMNS)
    columns = _columns_today(drift)
    status, psi = _trend_grids(_with_columns(trend, _TREND_COLUMNS), columns, ds)
    since = _since(status)
    order = _heatmap_order(status, psi, since)
    features = _by_severity(columns[columns["column_type"] != "score"]).index[: max(top_n, 0)]
    scores = columns.index[columns["column_type"] == "score"]
    psi_chart = _psi_chart(columns) if len(columns) else _muted("No columns.")
    heatmap = (
        (_muted("First monitored day: no history yet.") if len(status.columns) == 1 else "")
        + (_heatmap(status.loc[order], psi.loc[order], since) if order else _muted("No trend."))
        + '<p class="caption">Baseline PSI, whole population. Drifted cells show their PSI; '
        "hover any cell for its numbers.</p>"
    )
    top = _histogram_cards(columns, histograms, list(features), "hist") if len(features) else _muted("No feature.")
    score = _histogram_cards(columns, histograms, list(scores), "score") if len(scores) else _muted("No score.")
    parts = [
        _header(model_name, ds, drift, columns, since, order),
        _section("PSI per column", psi_chart),
        _section("Since when: status per column and day", heatmap),
        _section(f"Most drifted columns (top {top_n})", top),
        _section("Score distribution", score),
        _section("All columns", _column_table(columns, since)),
        _section("Drifted slices", _slice_table(drift)),
    ]
    return _document(f"{model_name} drift {ds.isoformat()}", "".join(parts))


def render_index(*, model_name: str, days: pd.DataFrame) -> str:
    """The list of monitored days, newest first, each linking to ``<ds>.html`` in the same folder."""
    days = _with_columns(days, _DAYS_COLUMNS)
    days = days.assign(ds=_dates(days["ds"])).sort_values("ds", ascending=False)
    rows = []
    for r in days.itertuples():
        alert, warn = _float(r.n_alert), _float(r.n_warn)
        worst = "alert" if alert > 0 else "warn" if warn > 0 else "ok"
        day = r.ds.isoformat()
        column = "" if pd.isna(r.max_psi_column) else str(r.max_psi_column)
        counts = (r.model_version, r.n_columns, r.n_warn, r.n_alert)
        rows.append(
            f'<tr><td><a href="{escape(day)}.html">{escape(day)}</a></td><td>{_badge(worst)}</td>'
            + "".join(f'<td class="num">{_num(n, ",.0f")}</td>' for n in counts)
            + f'<td class="num">{_num(r.max_psi)}</td><td>{escape(column)}</td></tr>'
        )
    head = ("day", "status", "model version", "columns", "warn", "alert", "max PSI", "max PSI column")
    body = _table(head, rows) if rows else _muted("No monitored days yet.")
    title = f"Drift reports: {model_name}"
    meta = f"{len(rows)} monitored day{'s' if len(rows) != 1 else ''}"
    return _document(title, f'<header><h1>{escape(title)}</h1><p class="meta">{meta}</p></header>{body}')
