"""The drift report pages: offline, escaped, drifted columns first, robust to thin inputs."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import matplotlib
import pandas as pd
import pytest

from lakeops.report.html import render_day, render_index

DS = date(2024, 1, 10)
DAYS = [DS - timedelta(days=9 - i) for i in range(10)]  # 2024-01-01 .. 2024-01-10
NUMERIC = ["amount", "tenure_days", "age", "balance", "txn_count_7d", "avg_txn_amount",
           "days_since_login", "credit_limit", "utilization", "num_products"]  # fmt: skip
CATEGORICAL = "device_os"
SCORE = "score"
COLUMNS = [*NUMERIC, CATEGORICAL, SCORE]
# Two columns drift from day 5 (2024-01-05) on: one into alert, one into warn.
DRIFTED = {"amount": ("alert", 0.42), "utilization": ("warn", 0.17)}
DRIFT_START = DAYS[4]
WARN, ALERT = 0.1, 0.25


def _type(column: str) -> str:
    return "score" if column == SCORE else "categorical" if column == CATEGORICAL else "numeric"


def _metric_row(column: str, drift_type: str, psi: float, status: str, **extra) -> dict:
    numeric = _type(column) != "categorical"
    row = {
        "ds": DS, "model_name": "churn", "model_version": 3, "baseline_id": "churn-v3-2023-12-31",
        "column_name": column, "column_type": _type(column), "drift_type": drift_type,
        "slice_key": None, "slice_value": None, "n_current": 10_000, "n_baseline": 50_000,
        "psi": psi, "ks_stat": psi / 3 if numeric else math.nan, "js_distance": psi / 4,
        "wasserstein": psi * 2 if numeric else math.nan,
        "chi2_pvalue": math.nan if numeric else 1e-6, "null_rate_current": 0.012,
        "null_rate_baseline": 0.010, "status": status, "warn_threshold": WARN, "alert_threshold": ALERT,
    }  # fmt: skip
    row.update(extra)
    return row


def make_drift(*, consecutive: bool = True) -> pd.DataFrame:
    rows = []
    for i, column in enumerate(COLUMNS):
        status, psi = DRIFTED.get(column, ("ok", 0.01 + 0.004 * i))
        rows.append(_metric_row(column, "baseline", psi, status))
        if consecutive:
            rows.append(_metric_row(column, "consecutive", 0.005 + 0.001 * i, "ok"))
    # Two slices of region: "a<b" (a value that needs escaping) drifted, eu-west did not.
    rows.append(_metric_row("amount", "baseline", 0.61, "alert", slice_key="region", slice_value="a<b"))
    rows.append(_metric_row("amount", "baseline", 0.05, "ok", slice_key="region", slice_value="eu-west"))
    return pd.DataFrame(rows)


def make_histograms() -> pd.DataFrame:
    rows = []
    for column in COLUMNS:
        if column == CATEGORICAL:
            labels = ["ubuntu-22.04", "windows-11", "macos-14", "__other__"]
            base, current = [0.4, 0.35, 0.2, 0.04], [0.38, 0.36, 0.21, 0.04]
        else:
            labels = [f"({10 * b}, {10 * (b + 1)}]" for b in range(10)]
            base = [0.099] * 10
            shift = column in DRIFTED
            current = [0.05 + 0.01 * b if shift else 0.099 for b in range(10)]
            current = [c / sum(current) * 0.99 for c in current]
        for b, (label, p, q) in enumerate(zip(labels, base, current, strict=False)):
            rows.append({"column_name": column, "bin_index": b, "label": label,
                         "baseline_proportion": p, "current_proportion": q})  # fmt: skip
        # The null bucket comes first in the frame, yet must be drawn last.
        null = {"column_name": column, "bin_index": -1, "label": "__null__",
                "baseline_proportion": 0.01, "current_proportion": 0.012}  # fmt: skip
        rows.insert(len(rows) - len(labels), null)
    return pd.DataFrame(rows)


def make_trend() -> pd.DataFrame:
    rows = []
    for day in DAYS:
        for i, column in enumerate(COLUMNS):
            status, psi = DRIFTED.get(column, ("ok", 0.01 + 0.004 * i))
            if column in DRIFTED and day < DRIFT_START:
                status, psi = "ok", 0.02
            rows.append({"ds": day, "column_name": column, "psi": psi, "status": status})
    return pd.DataFrame(rows)


def make_days() -> pd.DataFrame:
    return pd.DataFrame(
        {"ds": DAYS, "model_version": 3, "n_columns": 12,
         "n_warn": [0] * 4 + [1] * 6, "n_alert": [0] * 4 + [1] * 6,
         "max_psi": [0.05] * 4 + [0.42] * 6, "max_psi_column": ["num_products"] * 4 + ["amount"] * 6}
    )  # fmt: skip


def day(**overrides) -> str:
    inputs = {"model_name": "churn", "ds": DS, "drift": make_drift(), "histograms": make_histograms(),
              "trend": make_trend()}  # fmt: skip
    inputs.update(overrides)
    return render_day(**inputs)


@pytest.fixture(scope="module")
def page() -> str:
    return day()


def section(page: str, heading: str) -> str:
    """The HTML of the <section> whose <h2> starts with ``heading``."""
    match = re.search(rf"<section[^>]*><h2>{re.escape(heading)}.*?</section>", page, flags=re.S)
    assert match, f"no section {heading!r}"
    return match.group(0)


def tooltip_columns(fragment: str) -> list[str]:
    """Column names in the order their SVG <title> tooltips appear (first occurrence)."""
    names = [re.split(r":| · ", t, maxsplit=1)[0] for t in re.findall(r"<title>(.*?)</title>", fragment)]
    return list(dict.fromkeys(names))


class _Balance(HTMLParser):
    """Fails on a closing tag that does not match the open one (void elements excepted)."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


def assert_document(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    assert "<meta charset=\"utf-8\">" in text and "<style>" in text
    parser = _Balance()
    parser.feed(text)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"


def assert_offline(text: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", text, flags=re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", text, flags=re.I)
    assert "<script" not in text.lower() and "@import" not in text
    # Beyond attributes: no URL anywhere except XML namespace names, which are never fetched.
    assert not re.search(r"https?://", re.sub(r'\sxmlns(?::\w+)?="[^"]*"', "", text))


def test_day_page_is_a_self_contained_document(page):
    assert_document(page)
    assert_offline(page)
    assert page.count("<svg") == page.count("</svg>") == 1 + 1 + 6 + 1  # PSI, heatmap, top 6, score


def test_every_column_and_the_header_facts_appear(page):
    for column in COLUMNS:
        assert f"<b>{column}</b>" in section(page, "All columns")
    assert "churn" in page and "2024-01-10" in page and "model version 3" in page
    assert "churn-v3-2023-12-31" in page and "10,000 rows scored" in page


def test_verdict_and_statuses(page):
    assert '<p class="verdict alert">' in page
    assert "1 column in alert, 1 in warn (of 12)" in page
    table = section(page, "All columns")
    assert table.count('<span class="badge alert">alert</span>') == 1
    assert table.count('<span class="badge warn">warn</span>') == 1
    assert table.count('<span class="badge ok">ok</span>') == 10
    # Since when, in words: the first day of the current run of drifted days.
    assert "since 2024-01-05 (6 days)" in page


def test_drifted_columns_come_first_in_the_psi_chart_and_the_heatmap(page):
    psi_order = tooltip_columns(section(page, "PSI per column"))
    heat_order = tooltip_columns(section(page, "Since when"))
    for order in (psi_order, heat_order):
        assert sorted(order) == sorted(COLUMNS)
        assert order[:2] == ["amount", "utilization"]  # alert then warn
    # The PSI chart is sorted by PSI; the common thresholds are drawn and said.
    psis = [float(p) for p in re.findall(r"<title>[^<:]*: PSI ([0-9.]+)", section(page, "PSI per column"))]
    assert psis == sorted(psis, reverse=True)
    assert "warn at PSI 0.1, alert at 0.25" in page


def test_heatmap_shows_each_day_and_names_the_onset(page):
    heat = section(page, "Since when")
    for d in DAYS:
        assert f"amount · {d.isoformat()} · PSI" in heat
    assert "amount · 2024-01-04 · PSI 0.020 · ok" in heat
    assert "amount · 2024-01-05 · PSI 0.420 · alert" in heat
    assert "since 01-05" in heat


def test_histograms_of_the_most_drifted_and_the_score(page):
    top = section(page, "Most drifted columns")
    assert re.findall(r"<h3>(\w+)", top)[:2] == ["amount", "utilization"]
    assert SCORE not in re.findall(r"<h3>(\w+)", top) and len(re.findall("<h3>", top)) == 6
    score = section(page, "Score distribution")
    assert "<h3>score" in score and "PSI 0.054" in score
    # The null bucket is drawn last although it came first in the frame.
    amount = top.split("<h3>")[1]
    labels = re.findall(r"<title>(.*?):", amount)
    assert labels[-1] == "__null__" and labels[0] == "(0, 10]"


def test_slices_are_escaped_and_only_drifted_ones_listed(page):
    slices = section(page, "Drifted slices")
    assert "region=a&lt;b" in slices and "eu-west" not in slices
    assert "a<b" not in page


def test_strings_from_the_data_are_escaped_everywhere():
    evil = "<b>x</b>&$y$"
    drift = make_drift()
    drift.loc[drift["column_name"] == "amount", "column_name"] = evil
    hist = make_histograms().replace({"column_name": {"amount": evil}})
    trend = make_trend().replace({"column_name": {"amount": evil}})
    text = day(model_name="m<1>", drift=drift, histograms=hist, trend=trend)
    assert evil not in text and "<b>x</b>" not in text and "m<1>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;&amp;$y$" in text
    assert_document(text)


def test_script_in_a_column_name_or_slice_value_renders_as_text():
    script = "<script>alert(1)</script>"
    drift = make_drift()
    drift.loc[drift["column_name"] == "utilization", "column_name"] = script
    drift.loc[drift["slice_value"] == "a<b", "slice_value"] = script
    text = day(drift=drift, trend=make_trend().replace({"column_name": {"utilization": script}}))
    assert_offline(text)  # no <script anywhere
    assert "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>" in section(text, "All columns")
    assert "region=&lt;script&gt;alert(1)&lt;/script&gt;" in section(text, "Drifted slices")
    index = render_index(model_name=script, days=make_days().assign(max_psi_column=script))
    assert_offline(index)
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in index


def test_first_day_without_trend_or_consecutive_rows():
    text = day(drift=make_drift(consecutive=False), trend=make_trend().iloc[0:0])
    assert_document(text)
    assert "First monitored day" in text
    # The heatmap still has today's column, and the onset is today.
    assert "amount · 2024-01-10 · PSI 0.420 · alert" in text
    assert "since 2024-01-10 (1 day)" in text
    table = section(text, "All columns")
    row = re.search(r"<b>amount</b>.*?</tr>", table).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', row)[:2] == ["0.420", "–"]


def test_nans_single_bucket_and_per_column_thresholds():
    drift = make_drift()
    drift.loc[drift["column_name"] == "age", ["psi", "ks_stat", "js_distance", "null_rate_current"]] = math.nan
    drift.loc[drift["column_name"] == "age", "status"] = None
    drift.loc[drift["column_name"] == "balance", ["warn_threshold", "alert_threshold"]] = [0.2, 0.5]
    hist = make_histograms()
    hist = hist[(hist["column_name"] != "amount") | (hist["bin_index"] == 0)]  # one bucket left
    trend = make_trend()
    trend.loc[trend["column_name"] == "age", "psi"] = math.nan
    text = day(drift=drift, histograms=hist, trend=trend)
    assert_document(text)
    assert "Thresholds differ per column" in text
    assert "age: PSI –, n/a" in text  # NaN PSI sorts last and says so
    assert tooltip_columns(section(text, "PSI per column"))[-1] == "age"
    assert re.search(r"<h3>amount.*?<title>\(0, 10\]: baseline", section(text, "Most drifted"), flags=re.S)


def test_all_ok_day():
    drift = make_drift()
    drift["status"] = "ok"
    trend = make_trend()
    trend["status"] = "ok"
    text = day(drift=drift, trend=trend)
    assert '<p class="verdict ok">' in text and "All 12 columns ok" in text
    assert "No slice drifted." in text and "since 20" not in text


def test_empty_inputs_render():
    text = render_day(model_name="churn", ds=DS, drift=pd.DataFrame(), histograms=pd.DataFrame(),
                      trend=pd.DataFrame())  # fmt: skip
    assert_document(text)
    assert "No drift metrics for this day" in text


def test_rendering_is_deterministic_and_leaves_matplotlib_settings_alone(page):
    before = dict(matplotlib.rcParams)
    assert day() == page
    assert dict(matplotlib.rcParams) == before


def test_index_links_every_day_newest_first():
    text = render_index(model_name="churn", days=make_days())
    assert_document(text)
    assert_offline(text)
    links = re.findall(r'<a href="([^"]+)">', text)
    assert links == [f"{d.isoformat()}.html" for d in reversed(DAYS)]
    assert text.count('<span class="badge alert">alert</span>') == 6
    assert text.count('<span class="badge ok">ok</span>') == 4
    assert "amount" in text and "0.420" in text


def test_index_without_days():
    text = render_index(model_name="a&b", days=pd.DataFrame())
    assert_document(text)
    assert "a&amp;b" in text and "No monitored days yet." in text
