"""The performance sections of a regression model's page: DLE estimates of MAE and RMSE against realised
values, interval coverage against its target, the bias table, the residuals, and the index's MAE."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from test_html import DS, assert_document, assert_offline, day, make_days, section

from lakeops.report import problems, residuals_section
from lakeops.report.html import render_index
from lakeops.report.performance_section import COLUMNS

PERF_DAYS = [DS - timedelta(days=9 - i) for i in range(10)]  # 2024-01-01 .. 2024-01-10
OUT = DS - timedelta(days=5)  # 2024-01-05: realised MAE and interval coverage fall outside their bands
N = 1000
TARGET = 0.9


def _row(ds: date, kind: str, **values) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(ds=ds, model_name="latency", model_version=2, kind=kind, n_scored=N, interval_coverage_target=TARGET)
    row.update(values)
    return row


def make_performance() -> pd.DataFrame:
    """Estimated (DLE) rows for every day; realised rows from the day before the page's, a few labels never
    arriving (99% labelled), the day before the page's half labelled. The producer compares MAE and RMSE with
    the estimate over the labelled rows as soon as labels arrive."""
    rows = []
    for i, d in enumerate(PERF_DAYS):
        mae, rmse = 20.0 + 0.5 * i, 30.0 + 0.5 * i
        rows.append(_row(d, "estimated", n_labeled=0, label_coverage=0.0, mae=mae, rmse=rmse, mae_lower=mae - 4,
                         mae_upper=mae + 4, rmse_lower=rmse - 5, rmse_upper=rmse + 5, prediction_mean=100.0 + i))  # fmt: skip
        age = (DS - d).days
        if age == 0:
            continue
        coverage = 0.5 if age == 1 else 0.99
        real_mae, real_cov = (40.0, 0.6) if d == OUT else (mae + 1.0, TARGET)
        rows.append(_row(d, "realised", n_labeled=round(N * coverage), label_coverage=coverage, mae=real_mae,
                         rmse=rmse + 2.0, r2=0.61, bias=-2.5 if d != OUT else -18.0, mape=0.125,
                         interval_coverage=real_cov, label_mean=103.0 + i, prediction_mean=100.0 + i,
                         estimated_mae=mae, estimated_rmse=rmse, mae_in_band=abs(real_mae - mae) <= 4,
                         rmse_in_band=True, features_version=7))  # fmt: skip
    # A slice row: never part of the whole-population sections.
    rows.append(_row(DS, "estimated", slice_key="region", slice_value="eu", mae=777.7))
    return pd.DataFrame(rows)


def make_residual_rows() -> pd.DataFrame:
    """The day's scored rows with their labels: residuals -2, 2, -3 and 0 (and one row without its label)."""
    prediction = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    return pd.DataFrame({"ds": DS - timedelta(days=1), "prediction": prediction,
                         "label": [12.0, 18.0, 33.0, 40.0, None], "prediction_lower": prediction - 2.5,
                         "prediction_upper": prediction + 2.5})  # fmt: skip


def regression_day(**overrides) -> str:
    inputs = {"problem_type": "regression", "performance_metrics": make_performance(),
              "residual_rows": make_residual_rows()}  # fmt: skip
    return day(**(inputs | overrides))


@pytest.fixture(scope="module")
def page() -> str:
    return regression_day()


def _cells(row: str) -> list[str]:
    return re.findall(r'<td class="num">(.*?)</td>', row)


def _table_row(html: str, metric: str) -> str:
    return re.search(rf"<tr><td>{re.escape(metric)}</td>.*?</tr>", html).group(0)


def test_page_stays_a_self_contained_document(page):
    assert_document(page)
    assert_offline(page)
    assert page.count("<svg") == 9 + 1 + 1  # the drift charts, the performance chart and the residuals
    assert "777.7" not in section(page, "Model performance")  # the slice row


def test_the_days_table_on_a_day_outside_the_band():
    perf = section(regression_day(ds=OUT), "Model performance")
    mae = _table_row(perf, "MAE")
    assert _cells(mae) == ["22.00", "18.00 – 26.00", "40.00"]  # the estimate 20 + 0.5 * 4 ± 4
    assert '<span class="badge warn">outside</span>' in mae
    assert '<span class="badge ok">inside</span>' in _table_row(perf, "RMSE")
    # Interval coverage against its target ± 3 binomial SE at 990 labelled rows: 0.9 ± 3 * sqrt(0.09 / 990).
    coverage = _table_row(perf, "interval coverage")
    assert _cells(coverage) == ["target 90.0%", "87.1% – 92.9%", "60.0%"]
    assert '<span class="badge warn">outside</span>' in coverage
    assert _cells(_table_row(perf, "R²")) == ["–", "", "0.610"]
    assert _cells(_table_row(perf, "bias (prediction − label)")) == ["–", "", "−18.00"]
    assert _cells(_table_row(perf, "MAPE")) == ["–", "", "12.5%"]
    for binary in ("AUC", "F1", "ECE", "calibrated probabilities"):
        assert binary not in perf


def test_header_and_a_day_without_labels(page):
    assert "MAE estimated 24.50 (band 20.50 – 28.50), no realised MAE yet · 0% labelled" in page
    perf = section(page, "Model performance")
    assert _cells(_table_row(perf, "interval coverage")) == ["target 90.0%", "–", "–"]  # no labels: no band yet
    text = regression_day(ds=OUT)
    assert 'MAE estimated 22.00 (band 18.00 – 26.00), realised 40.00 <span class="badge warn">outside the band</span>' \
        in text  # fmt: skip


def test_the_chart_draws_mae_and_interval_coverage_against_its_target(page):
    perf = section(page, "Model performance")
    tips = re.findall(r"<title>(.*?)</title>", perf)
    assert "2024-01-05 · MAE realised 40.00 · estimated 22.00 (18.00 – 26.00) · 99% labelled · outside the band" in tips
    assert ("2024-01-05 · interval coverage realised 60.0% · target 90.0% (87.1% – 92.9%) · 99% labelled"
            " · outside the band") in tips  # fmt: skip
    assert "2024-01-09 · MAE realised 25.00 · estimated 24.00 (20.00 – 28.00) · 50% labelled · inside the band" in tips
    assert "2024-01-10: 0% labelled (0 of 1,000)" in tips
    assert not any(t.startswith("2024-01-05 · RMSE") for t in tips)  # RMSE is in the table, not the chart
    assert "interval coverage target" in perf and "realised outside the band" in perf


def test_the_note_says_what_dle_assumes(page):
    note = re.search(r'<div class="note">.*?</div>', section(page, "Model performance"), flags=re.S).group(0)
    assert "direct loss estimation, DLE" in note and "P(y | x)" in note
    assert "validation rows" in note and "± 3 standard errors of the holdout's per-row errors" in note
    assert "CBPE" not in note


def test_disagreements_and_band_coverage(page):
    table = section(page, "Where estimate and realised disagree")
    assert "<th>MAE realised</th><th>MAE estimated</th><th>MAE band</th>" in table
    assert "<th>interval coverage realised</th><th>interval coverage target</th>" in table
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
    assert [d for d, _ in rows] == [OUT.isoformat()]
    assert _cells(rows[0][1]) == ["99%", '40.00 <span class="badge warn">outside</span>', "22.00", "18.00 – 26.00",
                                  "34.00", "32.00", "27.00 – 37.00",
                                  '60.0% <span class="badge warn">outside</span>', "90.0%", "87.1% – 92.9%"]  # fmt: skip
    # Nine days with labels up to the page's day, each compared as its labels arrived.
    assert "MAE inside its band on 8 of 9 labelled days (89%)." in table
    assert "RMSE inside its band on 9 of 9 labelled days (100%)." in table
    assert "Interval coverage inside its band on 8 of 9 labelled days (89%)." in table


def test_bias_table_replaces_calibration(page):
    assert "Calibration" not in page
    table = section(page, "Bias: mean prediction and mean label")
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
    assert [d for d, _ in rows][:2] == ["2024-01-09", "2024-01-08"] and len(rows) == 9
    assert _cells(rows[0][1]) == ["108.0", "111.0", "−2.500", "90.0%", "50%"]


def test_residuals_of_the_newest_labelled_day(page):
    part = section(page, "Residuals: prediction against label")
    # Residuals -2, 2, -3, 0: mean -0.75, median |residual| 2, three of four inside the ±2.5 interval.
    assert ("2024-01-09: rows <b>4</b> · mean residual (bias) <b>−0.7500</b> · median |residual| <b>2.000</b>"
            " · inside the interval <b>75.0%</b>") in part  # fmt: skip
    assert "<svg" in part and "y = x" in part and "± interval half-width" in part
    assert "Dashed: ± the interval&#39;s half-width (2.500)" in part and "a sample of" not in part


def test_residual_scatter_samples_large_days():
    rng = np.random.default_rng(3)
    label = rng.gamma(4.0, 30.0, 20_000)
    rows = pd.DataFrame({"ds": DS, "prediction": label + rng.normal(0, 10, label.size), "label": label})
    built = residuals_section.build(rows, DS)
    assert f"a sample of {residuals_section.MAX_POINTS:,}" in built.caption and "rows <b>" not in built.caption
    assert dict(built.facts)["rows"] == "20,000" and "inside the interval" not in dict(built.facts)
    assert len(built.chart) < 150_000  # the points are one embedded image, not 3,000 SVG elements


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        (None, "No residuals: the report was written without the model&#39;s configuration"),
        (make_residual_rows().iloc[0:0], "No residuals yet: no scored row up to 2024-01-10 has its label."),
    ],
)
def test_no_residuals(rows, line):
    part = section(regression_day(residual_rows=rows), "Residuals")
    assert line in part and "<svg" not in part


def test_binary_pages_have_no_residual_section():
    assert "Residuals" not in day(residual_rows=make_residual_rows())


def test_index_shows_mae_per_day():
    text = render_index(model_name="latency", days=make_days(), performance_metrics=make_performance(),
                        problem_type="regression")  # fmt: skip
    assert_document(text)
    assert "<th>MAE estimated</th><th>MAE realised</th><th>labelled</th>" in text and "AUC" not in text
    row = re.search(r'<a href="2024-01-05.html">.*?</tr>', text).group(0)
    assert _cells(row)[-3:] == ["22.00", '40.00 <span class="badge warn">outside</span>', "99%"]
    row = re.search(r'<a href="2024-01-06.html">.*?</tr>', text).group(0)
    assert _cells(row)[-3:] == ["22.50", "23.50", "99%"]


def test_number_formats_and_specs():
    assert [problems.measure(v) for v in (23.5387, 103.33, 0.001234, 12345.6, 0.0, None)] == [
        "23.54", "103.3", "0.001234", "12,346", "0", "–"]  # fmt: skip
    assert [problems.signed(v) for v in (2.06, -43.891, float("nan"))] == ["+2.060", "−43.89", "–"]
    assert problems.spec_for(None) is problems.BINARY and problems.spec_for("regression") is problems.REGRESSION
    with pytest.raises(ValueError, match="ranking"):
        problems.spec_for("ranking")
    assert problems.infer(make_performance()) == "regression"
    assert problems.infer(pd.DataFrame({"auc": [0.8], "mae": [None]})) == "binary"
    assert problems.infer(None) == "binary"
