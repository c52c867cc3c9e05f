"""The performance sections of a day page: estimates against realised values, bands, coverage, calibration."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd
import pytest
from test_html import DS, assert_document, assert_offline, day, make_days, section

from lakeops.report.html import render_index
from lakeops.report.performance_section import COLUMNS

PERF_DAYS = [DS - timedelta(days=23 - i) for i in range(24)]  # 2023-12-18 .. 2024-01-10
LAGGING = 6  # labels arrive over six days: older days are fully labelled, the page's day has none yet
OUT_AUC = DS - timedelta(days=9)  # 2024-01-01: realised AUC falls below its band
OUT_F1 = DS - timedelta(days=15)  # 2023-12-26: realised F1 rises above its band


def _row(ds: date, kind: str, **values) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(ds=ds, model_name="churn", model_version=3, kind=kind, n_scored=10_000, threshold=0.5)
    row.update(values)
    return row


def estimated_auc(i: int) -> float:
    return round(0.82 - 0.002 * i, 4)  # a slow decline, as the estimate would show under input drift


def make_performance() -> pd.DataFrame:
    """Estimated rows for every day; realised rows from labels that arrive over ``LAGGING`` days."""
    rows = []
    for i, d in enumerate(PERF_DAYS):
        auc, f1 = estimated_auc(i), 0.60
        rows.append(_row(d, "estimated", n_labeled=0, label_coverage=0.0, positive_rate=0.12, auc=auc, f1=f1,
                         precision=0.58, recall=0.62, pr_auc=0.45, brier=0.09, logloss=0.31,
                         auc_lower=auc - 0.02, auc_upper=auc + 0.02, f1_lower=f1 - 0.03, f1_upper=f1 + 0.03))  # fmt: skip
        age = (DS - d).days
        if age == 0:
            continue
        coverage = min(1.0, age / LAGGING)
        settled = coverage >= 1.0
        real_auc = auc - 0.05 if d == OUT_AUC else round(auc + 0.005 * (i % 3 - 1), 4)
        real_f1 = f1 + 0.06 if d == OUT_F1 else round(f1 + 0.01 * (i % 2 - 0.5), 4)
        rows.append(_row(d, "realised", n_labeled=round(10_000 * coverage), label_coverage=coverage,
                         positive_rate=round(0.12 + 0.004 * (i % 5 - 2), 4), auc=real_auc, f1=real_f1,
                         precision=0.57, recall=0.63, pr_auc=0.44, brier=0.092, logloss=0.32, ece=0.021,
                         estimated_auc=auc if settled else None, estimated_f1=f1 if settled else None,
                         auc_in_band=abs(real_auc - auc) <= 0.02 if settled else None,
                         f1_in_band=abs(real_f1 - f1) <= 0.03 if settled else None, features_version=7))  # fmt: skip
    # A slice row: never part of the whole-population sections (and its value would need escaping).
    rows.append(_row(DS, "estimated", slice_key="region", slice_value="<script>x</script>", auc=0.5))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def page() -> str:
    return day(performance_metrics=make_performance())


def test_page_stays_a_self_contained_document(page):
    assert_document(page)
    assert_offline(page)
    assert page.count("<svg") == 9 + 1  # the drift charts and the performance chart
    assert "&lt;script&gt;" not in page and "0.500" not in section(page, "Model performance")


def test_the_days_values_and_band(page):
    perf = section(page, "Model performance")
    # The page's day has an estimate and no labels yet: the realised column is empty.
    auc = re.search(r"<tr><td>AUC</td>.*?</tr>", perf).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', auc) == ["0.774", "0.754 – 0.794", "–"]
    assert "<td>F1</td>" in perf and "<td>PR AUC</td>" in perf
    assert "<td>ECE</td>" not in perf  # neither kind has an ECE that day
    assert "AUC estimated 0.774 (band 0.754 – 0.794), no realised AUC yet · 0% labelled" in page
    assert "–</td>" in auc and "0 of 10,000 scored rows labelled so far (0%)" in perf


def test_a_fully_labelled_day_outside_its_band():
    text = day(ds=OUT_AUC, performance_metrics=make_performance())
    perf = section(text, "Model performance")
    auc = re.search(r"<tr><td>AUC</td>.*?</tr>", perf).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', auc) == ["0.792", "0.772 – 0.812", "0.742"]
    assert '<span class="badge warn">outside</span>' in auc
    f1 = re.search(r"<tr><td>F1</td>.*?</tr>", perf).group(0)
    assert '<span class="badge ok">inside</span>' in f1
    assert 'realised 0.742 <span class="badge warn">outside the band</span> · 100% labelled' in text


def test_the_chart_draws_bands_realised_points_and_coverage(page):
    perf = section(page, "Model performance")
    tips = re.findall(r"<title>(.*?)</title>", perf)
    assert "2024-01-01 · AUC realised 0.742 · estimated 0.792 (0.772 – 0.812) · 100% labelled · outside the band" in tips
    assert "2024-01-09 · AUC realised 0.776 · estimated 0.776 (0.756 – 0.796) · 17% labelled" in tips
    assert "2024-01-09: 17% labelled (1,667 of 10,000)" in tips
    assert "2024-01-10: 0% labelled (0 of 10,000)" in tips  # the page's day: an estimate, no labels
    assert "estimated band (±3 SE)" in perf and "realised outside the band" in perf
    assert "up to 30 days back" in perf and "P(y | x)" in perf and "calibrated probabilities" in perf


def test_disagreements_list_only_days_outside_the_band(page):
    table = section(page, "Where estimate and realised disagree")
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
    assert [d for d, _ in rows] == [OUT_AUC.isoformat(), OUT_F1.isoformat()]  # newest first
    cells = re.findall(r'<td class="num">(.*?)</td>', rows[0][1])
    assert cells == ["100%", '0.742 <span class="badge warn">outside</span>', "0.792", "0.772 – 0.812",
                     "0.595", "0.600", "0.570 – 0.630"]  # fmt: skip
    f1 = re.findall(r'<td class="num">(.*?)</td>', rows[1][1])
    assert f1[4:] == ['0.660 <span class="badge warn">outside</span>', "0.600", "0.570 – 0.630"]


def test_band_coverage_counts_fully_labelled_days(page):
    table = section(page, "Where estimate and realised disagree")
    # Days 2023-12-18 .. 2024-01-04 are fully labelled: 18 of them, one outside per metric.
    assert "AUC inside its band on 17 of 18 fully labelled days (94%)." in table
    assert "F1 inside its band on 17 of 18 fully labelled days (94%)." in table


def test_calibration_table(page):
    table = section(page, "Calibration")
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
    assert len(rows) == 14 and rows[0][0] == "2024-01-09"  # newest days with labels; the page's day has none
    # Day i has realised rate 0.12 + 0.004 * (i % 5 - 2): 0.12 on 2024-01-09 (i = 22), 0.116 the day before.
    assert re.findall(r'<td class="num">(.*?)</td>', rows[0][1]) == ["12.00%", "12.00%", "+0.0 pp", "0.021", "17%"]
    assert re.findall(r'<td class="num">(.*?)</td>', rows[1][1])[:3] == ["12.00%", "11.60%", "−0.4 pp"]


def test_rows_after_the_page_day_and_outside_the_window_are_ignored():
    perf = make_performance()
    later = perf[perf["ds"] == DS].assign(ds=DS + timedelta(days=1), auc=0.111)
    older = perf[perf["ds"] == DS].assign(ds=DS - timedelta(days=30), auc=0.222)
    text = day(performance_metrics=pd.concat([perf, later, older], ignore_index=True))
    assert "0.111" not in text and "0.222" not in text and "2023-12-11" not in text
    short = day(performance_metrics=perf[perf["ds"] > DS - timedelta(days=5)])
    assert "Band coverage, last 30 days: AUC: no fully labelled day with an estimate yet." in short
    assert "No fully labelled day fell outside its band." in short


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        (None, "No performance data yet: this lake has no ml.performance_metrics table."),
        (pd.DataFrame(), "No performance data yet for the 30 days up to 2024-01-10."),
        (make_performance().iloc[0:0], "No performance data yet for the 30 days up to 2024-01-10."),
    ],
)
def test_no_performance_data_yet(rows, line):
    text = day(performance_metrics=rows)
    assert_document(text)
    perf = section(text, "Model performance")
    assert line in perf and perf.count("<p") == 1 and "<svg" not in perf
    assert "Where estimate and realised disagree" not in text and "Calibration" not in text


def test_a_day_without_its_own_row_still_shows_the_history():
    perf = make_performance()
    text = day(performance_metrics=perf[perf["ds"] != DS])
    assert "No performance row for this day; earlier days below." in text
    assert "<svg" in section(text, "Model performance")


def test_index_shows_auc_per_day():
    text = render_index(model_name="churn", days=make_days(), performance_metrics=make_performance())
    assert_document(text)
    assert "<th>AUC estimated</th><th>AUC realised</th><th>labelled</th>" in text
    row = re.search(r'<a href="2024-01-01.html">.*?</tr>', text).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', row)[-3:] == [
        "0.792", '0.742 <span class="badge warn">outside</span>', "100%"]  # fmt: skip
    assert "<th>AUC estimated</th>" not in render_index(model_name="churn", days=make_days())
