"""The attribution section: the day's nDCG, today's ranking beside training, the top movers."""

from __future__ import annotations

import re

import pandas as pd
from test_html import DAYS, DS, assert_document, assert_offline, day, make_days, section

from lakeops.report.attribution_section import TOP_FEATURES, build
from lakeops.report.html import render_index

SCRIPT = "<script>alert(1)</script>"
# 14 features: training order f00 > f01 > ...; today f05 climbs to rank 1 and f02 falls to rank 13.
TRAINING = [f"f{i:02d}" for i in range(13)] + [SCRIPT]
TODAY = ["f05", "f00", "f01", "f03", "f04", "f06", "f07", "f08", "f09", "f10", "f11", "f12", "f02", SCRIPT]


def make_attribution(ds=DS, ndcg=0.84) -> pd.DataFrame:
    rows = []
    for feature in TRAINING:
        rank, reference_rank = TODAY.index(feature) + 1, TRAINING.index(feature) + 1
        shap, reference = 1.0 / rank, 1.0 / reference_rank
        rows.append({"ds": ds, "model_name": "churn", "model_version": 3, "feature": feature, "mean_abs_shap": shap,
                     "share": shap / 3.2, "rank": rank, "reference_mean_abs_shap": reference,
                     "reference_share": reference / 3.2, "reference_rank": reference_rank,
                     "rank_change": reference_rank - rank, "share_change": (shap - reference) / 3.2,
                     "mover": {"f05": 1, "f02": 2}.get(feature), "ndcg": ndcg,
                     "status": "alert" if ndcg < 0.9 else "ok", "threshold": 0.9, "n_rows": 2000})  # fmt: skip
    return pd.DataFrame(rows)


def test_ndcg_chart_and_movers():
    page = day(attribution=make_attribution())
    assert_document(page)
    assert_offline(page)
    part = section(page, "Which features drive the score")
    assert '<span class="badge alert">alert</span> nDCG <b>0.840</b>' in part
    assert "below the threshold 0.90" in part and "2,000 sampled rows" in part
    # The chart: today's top ten in today's order, then the mover that fell below them; escaped names.
    bars = re.findall(r"<title>(.*?): mean \|SHAP\|", part)
    assert bars == [*TODAY[:TOP_FEATURES], "f02"]
    assert "f05: mean |SHAP| 1.0000 today (rank 1, 31.2%), training 0.1667 (rank 6, 5.2%) · top mover 1" in part
    assert "and 1 top mover(s) ranked below them" in part
    movers = re.findall(r"<tr><td><b>(.*?)</b></td>", part)
    assert movers == ["f05", "f02"]
    row = re.search(r"<b>f02</b>.*?</tr>", part, flags=re.S).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', row)[:3] == ["13", "3", "▼ 10"]
    assert SCRIPT not in page


def test_a_script_feature_among_the_top_is_escaped():
    rows = make_attribution()
    rows.loc[rows["feature"] == SCRIPT, "rank"] = 0  # drawn first
    page = day(attribution=rows)
    assert_offline(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: mean |SHAP|" in page


def test_without_table_or_rows_for_the_day():
    assert "this lake has no ml.attribution_drift table" in section(day(), "Which features drive the score")
    other_day = make_attribution(ds=DAYS[0])
    assert build(other_day, DS).empty == "No attribution drift measured on this day."
    assert "No attribution drift measured on this day." in day(attribution=other_day)


def test_index_shows_the_ndcg_per_day():
    rows = pd.concat([make_attribution(ds=DAYS[-2], ndcg=0.97), make_attribution()])
    text = render_index(model_name="churn", days=make_days(), attribution=rows)
    assert "<th>nDCG</th>" in text
    today = re.search(r'<a href="2024-01-10.html">.*?</tr>', text).group(0)
    assert '0.840 <span class="badge alert">alert</span>' in today
    yesterday = re.search(r'<a href="2024-01-09.html">.*?</tr>', text).group(0)
    assert ">0.970</td>" in yesterday
