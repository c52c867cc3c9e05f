"""The report's hand-written SVG charts: what a reader sees (values, labels, tooltips, colours), escaped and
well-formed, for thin and odd inputs too; and the SVG drop-ins for the attribution and performance charts
against the matplotlib charts they replace."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pandas as pd
import pytest
import test_multiclass_pages
import test_regression_pages
from markupsafe import Markup
from test_attribution_section import make_attribution
from test_html import DAYS, DS, assert_document, assert_offline, day, section
from test_performance import make_performance
from test_timeline import make_alerts, make_validations, make_versions_trend

from lakeops.report import attribution_chart, attribution_section, charts, performance_chart, performance_section, problems
from lakeops.report.charts import BASELINE_COLOUR, CURRENT_COLOUR, NO_DATA_COLOUR, STATUS_COLOURS, VERSION_COLOUR
from lakeops.report.svg import Scale, Svg, fit, nice_ticks, text_width, tick_format
from lakeops.report.timeline import Event

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<b>&"x'


def parse(markup: str) -> ET.Element:
    """The SVG as an element tree: parsing fails on anything not well-formed (an unescaped name, say)."""
    assert isinstance(markup, Markup) and markup.startswith("<svg")
    return ET.fromstring(str(markup))


def tag(element: ET.Element) -> str:
    return element.tag.removeprefix(NS)


def groups(root: ET.Element) -> list[tuple[str, ET.Element]]:
    """Each ``<g>`` with a tooltip: (its title, the group), in document order."""
    return [(g.find(f"{NS}title").text or "", g) for g in root.iter(f"{NS}g") if g.find(f"{NS}title") is not None]


def bars(group: ET.Element) -> list[ET.Element]:
    """The visible rectangles of a group (the hover areas are transparent)."""
    return [r for r in group.iter(f"{NS}rect") if r.get("fill-opacity") != "0"]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def titles(markup: str) -> list[str]:
    return [t.text or "" for t in parse(markup).iter(f"{NS}title")]


def size(root: ET.Element) -> tuple[float, float]:
    return float(root.get("width")), float(root.get("height"))


def inside(root: ET.Element) -> None:
    """Every rectangle lies within the drawing (nothing is cut off by the viewBox)."""
    width, height = size(root)
    for r in root.iter(f"{NS}rect"):
        x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
        assert x >= -0.01 and y >= -0.01 and x + w <= width + 0.01 and y + h <= height + 0.01, r.attrib


# ---------------------------------------------------------------- building blocks


def test_nice_ticks_and_their_labels():
    assert nice_ticks(0.0, 0.533, 6) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert nice_ticks(0.75, 0.88, 6, steps=(1, 2, 5)) == [0.76, 0.78, 0.8, 0.82, 0.84, 0.86, 0.88]
    assert nice_ticks(-3.0, 250.0, 5) == [0.0, 50.0, 100.0, 150.0, 200.0, 250.0]
    assert nice_ticks(1.0, 1.0) == [1.0] and nice_ticks(math.nan, 1.0) == [0.0]
    fmt = tick_format([0.0, 0.05, 0.1], percent=True)
    assert [fmt(t) for t in (0.0, 0.05, 0.1)] == ["0%", "5%", "10%"]
    assert tick_format([0.0, 0.025, 0.05])(0.025) == "0.025"
    assert tick_format([0.0, 0.001], percent=True)(0.001) == "0.1%"
    tiny = tick_format([0.0, 2e-10])
    assert tiny(2e-10) == "2e-10" and tiny(0.0) == "0"


def test_svg_escapes_every_text_and_attribute():
    svg = Svg(100, 50, label=EVIL, key="k")
    with svg.group(f"tip {EVIL}"):
        svg.rect(0, 0, 10, 10, "#000", tip=EVIL)
        svg.text(5, 5, EVIL)
    markup = svg.markup()
    assert EVIL not in markup and "<b>" not in markup
    root = parse(markup)
    assert root.get("aria-label") == EVIL and texts(root) == [EVIL]
    assert titles(markup) == [f"tip {EVIL}", EVIL]
    assert 'xmlns="http://www.w3.org/2000/svg"' in markup and "<script" not in markup


def test_scale_and_text_fitting():
    y = Scale(0.0, 1.0, 100.0, 0.0)  # a y axis: up is smaller
    assert y(0.0) == 100.0 and y(0.25) == 75.0 and y.clamped(2.0) == 0.0 and y.clamped(-1.0) == 100.0
    assert Scale(1.0, 1.0, 0.0, 10.0)(5.0) == 0.0  # an empty range does not divide by zero
    assert text_width("mmmm", 10) > text_width("iiii", 10) > 0
    long = "a_very_long_column_name_" * 4
    cut = fit(long, 12, 120)
    assert cut.endswith("…") and text_width(cut, 12) <= 120 and fit("short", 12, 120) == "short"


# ---------------------------------------------------------------- PSI per column


def psi_columns(**psi: tuple[float, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"psi": value, "status": word, "warn_threshold": 0.1, "alert_threshold": 0.25} for value, word in psi.values()],
        index=pd.Index(list(psi), name="column_name"),
    )


def test_psi_bars_are_proportional_sorted_and_coloured():
    markup, caption = charts.psi_chart(psi_columns(b=(0.1, "warn"), a=(0.4, "alert"), c=(0.05, "ok")))
    root = parse(markup)
    rows = groups(root)
    assert [t.split(":")[0] for t, _ in rows] == ["a", "b", "c"]  # most drifted on top
    assert rows[0][0] == "a: PSI 0.400, alert (warn 0.100, alert 0.250)"
    widths = [float(bars(g)[0].get("width")) for _, g in rows]
    assert widths[0] / widths[1] == pytest.approx(4.0, rel=0.01) and widths[1] / widths[2] == pytest.approx(2.0, rel=0.01)
    assert [bars(g)[0].get("fill") for _, g in rows] == [STATUS_COLOURS[w] for w in ("alert", "warn", "ok")]
    # Names, values and the status word beside each bar: the chart reads without colour.
    assert [texts(g) for _, g in rows] == [["a", "0.400ALERT"], ["b", "0.100WARN"], ["c", "0.050"]]
    # One dashed line per common threshold, in its status colour, named in the legend.
    dashed = [(line.get("stroke"), line.get("stroke-dasharray")) for line in root.iter(f"{NS}line")
              if line.get("stroke-dasharray") and float(line.get("y2")) - float(line.get("y1")) > 50]  # fmt: skip
    assert dashed == [(STATUS_COLOURS["warn"], "5 3"), (STATUS_COLOURS["alert"], "5 3")]
    assert "warn ≥ 0.1" in texts(root) and "alert ≥ 0.25" in texts(root)
    assert "PSI against the baseline (whole population)" in texts(root)
    assert caption == "Dashed lines: warn at PSI 0.1, alert at 0.25 (the same for every column)."
    inside(root)


def test_psi_chart_escapes_names_and_places_nan_last():
    columns = psi_columns(**{EVIL: (0.3, "alert"), "gone": (math.nan, "n/a"), "fine": (0.01, "ok")})
    markup, _ = charts.psi_chart(columns)
    assert EVIL not in markup and "&lt;b&gt;&amp;&#34;x" in markup
    rows = groups(parse(markup))
    assert rows[0][0].startswith(f"{EVIL}: PSI 0.300, alert")
    assert rows[-1][0] == "gone: PSI –, n/a (warn 0.100, alert 0.250)"
    nan_bar = bars(rows[-1][1])[0]
    assert float(nan_bar.get("width")) == 0 and nan_bar.get("fill") == NO_DATA_COLOUR
    assert "–N/A" in texts(parse(markup))


def test_psi_chart_with_thresholds_per_column_marks_each_row():
    columns = psi_columns(a=(0.3, "alert"), b=(0.05, "ok"))
    columns.loc["b", ["warn_threshold", "alert_threshold"]] = [0.2, 0.5]
    markup, caption = charts.psi_chart(columns)
    assert caption.startswith("Thresholds differ per column")
    for _, group in groups(parse(markup)):
        ticks = [line.get("stroke") for line in group.iter(f"{NS}line")]
        assert ticks == ["#fff", STATUS_COLOURS["warn"], "#fff", STATUS_COLOURS["alert"]]  # each on a white halo
    assert "warn ≥" not in markup  # no common line, no legend for one


def test_psi_chart_of_one_column_and_of_none():
    markup, _ = charts.psi_chart(psi_columns(only=(0.0, "ok")))
    assert [t for t, _ in groups(parse(markup))] == ["only: PSI 0.000, ok (warn 0.100, alert 0.250)"]
    empty, _ = charts.psi_chart(psi_columns().reindex(columns=["psi", "status", "warn_threshold", "alert_threshold"]))
    assert groups(parse(empty)) == []


# ---------------------------------------------------------------- histograms


def hist(labels: list[object], base: list[float], current: list[float], *, null: bool = False) -> pd.DataFrame:
    rows = [{"column_name": "c", "bin_index": i, "label": label, "baseline_proportion": p, "current_proportion": q}
            for i, (label, p, q) in enumerate(zip(labels, base, current, strict=True))]  # fmt: skip
    if null:  # first in the frame, drawn last
        rows.insert(0, {"column_name": "c", "bin_index": -1, "label": "__null__", "baseline_proportion": 0.01,
                        "current_proportion": 0.02})  # fmt: skip
    return pd.DataFrame(rows)


def heights(group: ET.Element) -> tuple[float, float]:
    base, current = bars(group)
    assert (base.get("fill"), current.get("fill")) == (BASELINE_COLOUR, CURRENT_COLOUR)
    return float(base.get("height")), float(current.get("height"))


def test_histogram_bars_are_proportional_with_the_null_bucket_last():
    markup = charts.histogram(hist(["lo", "mid", "hi"], [0.2, 0.3, 0.49], [0.1, 0.6, 0.28], null=True), "h0")
    root = parse(markup)
    assert root.get("id") == "lk-h0"
    buckets = groups(root)
    assert [t for t, _ in buckets] == ["lo: baseline 20.0%, current 10.0%", "mid: baseline 30.0%, current 60.0%",
                                       "hi: baseline 49.0%, current 28.0%", "__null__: baseline 1.0%, current 2.0%"]
    unit = heights(buckets[0][1])[0] / 0.2
    for (_, group), (p, q) in zip(buckets, [(0.2, 0.1), (0.3, 0.6), (0.49, 0.28), (0.01, 0.02)], strict=True):
        assert heights(group) == pytest.approx((p * unit, q * unit), abs=0.11)  # to a tenth of a pixel
    assert {"baseline", "current", "0%", "60%"} <= set(texts(root))
    inside(root)


def test_histogram_of_one_bucket_nan_values_and_no_bucket():
    one = parse(charts.histogram(hist(["all"], [1.0], [math.nan]), "h"))
    [(tip, group)] = groups(one)
    assert tip == "all: baseline 100.0%, current 0.0%"  # a missing proportion draws as none
    assert heights(group)[1] == 0
    assert charts.histogram(hist([], [], []), "h") is None
    assert charts.Histograms()(hist(["all"], [1.0], [0.5]), "h") is not None


def test_histogram_escapes_and_shortens_labels_but_not_their_tooltips():
    long = "a-very-long-category-name"
    markup = charts.histogram(hist([EVIL, long], [0.5, 0.5], [0.4, 0.6]), "h")
    assert EVIL not in markup
    root = parse(markup)
    assert [t.split(":")[0] for t, _ in groups(root)] == [EVIL, long]
    assert EVIL in texts(root) and long[:15] + "…" in texts(root) and long not in texts(root)
    inside(root)


def test_histogram_with_many_buckets_keeps_its_labels_apart():
    n = 60
    root = parse(charts.histogram(hist([f"cat-{i}" for i in range(n)], [1 / n] * n, [1 / n] * n), "h"))
    assert len(groups(root)) == n  # every bucket keeps its bars and tooltip
    labels = [t for t in texts(root) if t.startswith("cat-")]
    assert 0 < len(labels) < n and labels[0] == "cat-0"
    inside(root)


# ---------------------------------------------------------------- heatmap


def grids(words: dict[str, list[str]], psi: dict[str, list[float]], days: list[date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.DataFrame(words, index=days).T, pd.DataFrame(psi, index=days).T)


def cells(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if (r.find(f"{NS}title") is not None)] + \
        [bars(g)[0] for t, g in groups(root) if " · PSI " in t]  # fmt: skip


def test_heatmap_cells_colours_numbers_and_onset():
    days = DAYS[:3]
    status, psi = grids({"drifty": ["ok", "warn", "alert"], EVIL: ["ok", "n/a", "ok"]},
                        {"drifty": [0.02, 0.15, 0.42], EVIL: [0.01, math.nan, 0.01]}, days)  # fmt: skip
    markup = charts.heatmap(status, psi, {"drifty": (days[1], 2, False)})
    assert EVIL not in markup
    root = parse(markup)
    tips = titles(markup)
    assert "drifty · 2024-01-03 · PSI 0.420 · alert" in tips and f"{EVIL} · 2024-01-02 · PSI – · n/a" in tips
    fills = sorted(c.get("fill") for c in cells(root))
    assert fills == sorted([STATUS_COLOURS["ok"]] * 3 + [STATUS_COLOURS["warn"], STATUS_COLOURS["alert"], NO_DATA_COLOUR])
    words = texts(root)
    assert "0.15" in words and "0.42" in words and "0.02" not in words  # only drifted cells carry their PSI
    assert "since 01-02" in words and "drifty" in words and EVIL in words
    assert {"ok", "warn", "alert", "no data"} <= set(words) and "retrain · gate" not in words
    assert {"01-01", "01-03"} <= set(words)  # the page's day is always labelled
    inside(root)


def test_heatmap_marks_events_in_a_lane_above_the_grid():
    days = DAYS[:4]
    status, psi = grids({"a": ["ok"] * 4}, {"a": [0.01] * 4}, days)
    events = [Event(days[1], "retrain", "retrain", "retrain requested by alert <x>"),
              Event(days[1], "promoted", "v4 promoted", "gate: promoted"),
              Event(days[2], "version", "v4", "scored by version 4")]  # fmt: skip
    markup = charts.heatmap(status, psi, {}, events=events)
    root = parse(markup)
    tips = titles(markup)
    assert "2024-01-02 · retrain requested by alert <x>" in tips and "2024-01-03 · scored by version 4" in tips
    marks = [p for p in root.iter(f"{NS}polygon") if p.find(f"{NS}title") is not None]
    assert [m.get("fill") for m in marks] == [charts.EVENT_STYLES["retrain"]["color"], charts.EVENT_STYLES["promoted"]["color"]]
    xs = [sum(float(p.split(",")[0]) for p in m.get("points").split()) / 3 for m in marks]
    assert xs[0] < xs[1]  # two marks of one day sit side by side
    words = texts(root)
    assert "retrain · gate" in words and "v4" in words and "scoring version changed" in words
    version = [line for line in root.iter(f"{NS}line") if line.get("stroke") == VERSION_COLOUR]
    assert version and version[0].get("stroke-dasharray") == charts.VERSION_DASH


# ---------------------------------------------------------------- the drop-ins against matplotlib


def _drawn_by(module, name: str, chart, monkeypatch, build):
    """What ``build()`` returns with ``module.name`` drawing the chart."""
    monkeypatch.setattr(module, name, chart)
    return build()


def test_attribution_drop_in_shows_what_the_matplotlib_chart_shows(monkeypatch):
    def build():
        return attribution_section.build(make_attribution(), DS)

    old = build().chart
    new = _drawn_by(attribution_section, "chart", attribution_chart.chart, monkeypatch, build).chart
    assert titles(new) == [t for t in titles(old) if ": mean |SHAP|" in t]  # the same tooltips, in the same order
    root = parse(new)
    rows = groups(root)
    assert rows[0][0].startswith("f05: mean |SHAP| 1.0000 today (rank 1, 31.2%), training 0.1667 (rank 6, 5.2%)")
    # Today over training, proportional: f05 is 1.0 today, 1/6 in training.
    today, training = (float(r.get("width")) for r in bars(rows[0][1])[-2:])
    assert today / training == pytest.approx(6.0, rel=0.01)
    movers = [t for t, g in rows if any(r.get("fill") == attribution_section.MOVER_BAND for r in g.iter(f"{NS}rect"))]
    assert [t.split(":")[0] for t in movers] == ["f05", "f02"]
    assert "#1 (training #6)▲ 5" in texts(root) and "#13 (training #3)▼ 10" in texts(root)
    assert {"today", "training", "top mover", "mean |SHAP| (margin units)"} <= set(texts(root))
    assert "<script>" not in new
    inside(root)


@pytest.mark.parametrize(
    ("make", "spec", "end"),
    [
        (make_performance, problems.BINARY, DS),
        (test_regression_pages.make_performance, problems.spec_for("regression"), DS),
        (test_multiclass_pages.make_performance, problems.spec_for("multiclass"), DS),
        (lambda: make_performance().query("ds == @DS"), problems.BINARY, DS),  # one day: no realised value yet
    ],
)
def test_performance_drop_in_shows_what_the_matplotlib_chart_shows(make, spec, end, monkeypatch):
    events = [Event(DS - timedelta(days=3), "retrain", "retrain", "retrain requested"),
              Event(DS - timedelta(days=2), "version", "v4", "scored by version 4")]  # fmt: skip

    def build():
        return performance_section.build(make(), end, events=events, spec=spec)

    old = build().chart
    new = _drawn_by(performance_section, "chart", performance_chart.chart, monkeypatch, build).chart
    assert sorted(titles(new)) == sorted(titles(old))  # every point, bar and event mark keeps its tooltip
    root = parse(new)
    words = texts(root)
    assert {spec.band_marker, "estimated", spec.settled_marker, spec.unsettled_marker, "realised outside the band",
            "retrain requested", "scoring version changed", "labelled", "v4"} <= set(words)  # fmt: skip
    assert {spec.metric(c).label for c in spec.charted} <= set(words)
    outside = sum(t.endswith("outside the band") for t in titles(new))
    crosses = [p for p in root.iter(f"{NS}polygon") if p.get("fill") == performance_section.OUTSIDE_COLOUR
               and p.find(f"{NS}title") is not None]  # fmt: skip
    assert len(crosses) == outside
    assert all(p.get("fill") in ("#fff", performance_section.REALISED_COLOUR) for p in root.iter(f"{NS}circle"))
    inside(root)


def test_performance_drop_in_draws_bands_hollow_points_and_gaps(monkeypatch):
    perf = make_performance()
    perf = perf[perf["ds"] != DS - timedelta(days=12)]  # a day without rows: no band or line bridges it
    monkeypatch.setattr(performance_section, "chart", performance_chart.chart)
    root = parse(performance_section.build(perf, DS).chart)
    bands = [p for p in root.iter(f"{NS}polygon") if p.get("fill") == performance_section.BAND_COLOUR]
    assert len(bands) == 2 * 2  # AUC and F1, each in two runs of days
    points = [c for c in root.iter(f"{NS}circle") if c.find(f"{NS}title") is not None]  # not the legend's
    hollow = [c for c in points if c.get("fill") == "#fff"]
    # Days labelled over six days: the five newest realised days are not settled yet.
    assert len(hollow) == 2 * 5 and all(c.get("stroke") == performance_section.REALISED_COLOUR for c in hollow)
    dashed = [p for p in root.iter(f"{NS}polyline") if p.get("stroke") == performance_section.ESTIMATE_COLOUR]
    assert len(dashed) == 4 and all(p.get("stroke-dasharray") for p in dashed)


def test_a_page_drawn_with_the_drop_ins_stays_self_contained(monkeypatch):
    monkeypatch.setattr(performance_section, "chart", performance_chart.chart)
    monkeypatch.setattr(attribution_section, "chart", attribution_chart.chart)
    page = day(alerts=make_alerts(), validations=make_validations(), trend=make_versions_trend(),
               performance_metrics=make_performance(), attribution=make_attribution())  # fmt: skip
    assert_document(page)
    assert_offline(page)
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" id="lk-') == page.count("<svg") == 9 + 2
    for chart in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        parse(Markup(chart))
    assert "<title>2024-01-06 · retrain requested by alert drift&lt;x&gt;" in section(page, "Model performance")
    assert "f05: mean |SHAP| 1.0000 today" in section(page, "Which features drive the score")
