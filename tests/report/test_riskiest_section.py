"""The riskiest rows of the day with their reason codes: ordering per problem type, chips and their signs."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
from test_html import DS, assert_document, day, section

from lakeops.report.riskiest_section import build, entities, key_columns, reason_slots


def _reasons(i: int) -> dict:
    """Row i: the first reason pushes up, the second down; odd rows have no third reason."""
    return {"reason_1": f"f{i % 3}", "reason_1_contribution": 0.84 + i / 100,
            "reason_2": "tenure", "reason_2_contribution": -0.5,
            "reason_3": "<b>x</b>" if i % 2 == 0 else None, "reason_3_contribution": 0.01 if i % 2 == 0 else None}


def binary_rows(n: int = 15) -> pd.DataFrame:
    # Scores 0.10 .. 0.80 out of order, and two rows tied at the top (ties go to the first key).
    scores = [round(0.1 + ((i * 7) % n) / n * 0.7, 4) for i in range(n)]
    scores[3] = scores[11] = 0.99
    return pd.DataFrame([{"ds": DS, "model_version": 3, "customer_id": f"c{i:02d}", "score": s,
                          "prediction": int(s >= 0.5), **_reasons(i)} for i, s in enumerate(scores)])  # fmt: skip


def test_binary_rows_by_score_with_their_reasons():
    shown = build(binary_rows(), DS, problem_type="binary", keys=["customer_id"])
    assert shown is not None and shown.title == "Riskiest customers today"
    assert shown.head == ["#", "customer_id", "score", "prediction", "reasons"]
    assert len(shown.rows) == 10
    scores = [float(r["outputs"][0][0]) for r in shown.rows]
    assert scores == sorted(scores, reverse=True)
    assert [r["entity"] for r in shown.rows[:2]] == [["c03"], ["c11"]]  # the tie, by key
    first = shown.rows[0]
    assert first["rank"] == 1 and first["outputs"] == [("0.990", True), ("1", True)]
    assert [(c["feature"], c["value"], c["css"]) for c in first["reasons"]] == [("f0", "+0.87", "up"),
                                                                               ("tenure", "−0.50", "down")]
    assert first["reasons"][0]["tip"] == "f0: +0.87 to the margin (log-odds, before calibration)"
    assert len(shown.rows[1]["reasons"]) == 2 and len([r for r in shown.rows if len(r["reasons"]) == 3]) > 0
    assert "The top 10 of 15 rows scored on 2024-01-10, by score, highest first." in shown.caption
    assert "they add up with the bias to the margin" in shown.caption


def test_regression_rows_by_prediction_in_the_labels_units():
    rows = pd.DataFrame([{"ds": DS, "host_id": h, "prediction": p, "prediction_lower": p - 2, "prediction_upper": p + 2,
                          "reason_1": "cpu", "reason_1_contribution": c}
                         for h, p, c in (("a", 10.0, 2.06), ("b", 31.5, -1.25), ("c", 12.25, 0.5))])  # fmt: skip
    shown = build(rows, DS, problem_type="regression", keys=["host_id"])
    assert shown is not None and shown.title == "Riskiest hosts today"
    assert [r["entity"][0] for r in shown.rows] == ["b", "c", "a"]
    assert shown.rows[0]["outputs"] == [("31.50", True), ("29.50 – 33.50", True)]
    assert [(c["value"], c["css"]) for c in shown.rows[0]["reasons"]] == [("−1.25", "down")]
    assert [c["value"] for r in shown.rows for c in r["reasons"]] == ["−1.25", "+0.50", "+2.06"]  # one scale
    large = build(rows.assign(reason_1_contribution=rows["reason_1_contribution"] * 1000), DS, problem_type="regression")
    assert [c["value"] for r in large.rows for c in r["reasons"]] == ["−1,250", "+500", "+2,060"]
    assert shown.rows[0]["reasons"][0]["tip"] == "cpu: −1.25 to the prediction (the label's units)"
    assert "Contributions are in the label's units. Red pushed the prediction up, blue down." in shown.caption


def test_multiclass_rows_by_confidence_leaving_out_the_days_most_frequent_class():
    rows = pd.DataFrame([{"ds": DS, "server": f"s{i}", "prediction": cls, "confidence": conf, "reason_1": "temp",
                          "reason_1_contribution": 1.0}
                         for i, (cls, conf) in enumerate([("ok", 0.99), ("ok", 0.98), ("ok", 0.5), ("disk", 0.7),
                                                          ("fan", 0.9), ("disk", 0.6)])])  # fmt: skip
    shown = build(rows, DS, problem_type="multiclass", keys=["server"])
    assert shown is not None
    assert [(r["entity"][0], [t for t, _ in r["outputs"]]) for r in shown.rows] == [
        ("s4", ["fan", "90.0%"]), ("s3", ["disk", "70.0%"]), ("s5", ["disk", "60.0%"])]  # fmt: skip
    assert "not predicted as the day's most frequent class (ok)" in shown.caption


def test_no_section_without_reason_codes():
    assert build(None, DS) is None
    assert build(binary_rows().drop(columns=[c for c in binary_rows().columns if c.startswith("reason_")]), DS) is None
    before = binary_rows().assign(reason_1=None, reason_1_contribution=None)  # a day scored before reasons
    assert build(pa.Table.from_pandas(before, preserve_index=False), DS) is None
    assert build(binary_rows().iloc[:0], DS) is None


def test_columns_and_names():
    names = ["ds", "model_name", "model_version", "customer_id", "region", "score", "prediction", "score_a",
             "reason_1", "reason_1_contribution", "reason_2", "reason_2_contribution", "reason_3", "mlflow_run_id"]
    assert reason_slots(names) == [1, 2]  # reason_3 lacks its contribution
    assert key_columns(names) == ["customer_id", "region"]
    assert [entities(k) for k in (["host_id"], ["customer"], ["account_key"], ["company_id"], ["a", "b"], ["status"])] \
        == ["hosts", "customers", "accounts", "companies", "entities", "status"]  # fmt: skip


def test_the_section_on_the_page_escapes_feature_names():
    page = day(riskiest_rows=binary_rows(), entity_keys=["customer_id"])
    assert_document(page)
    part = section(page, "Riskiest customers today")
    assert part.count('<td class="num">') == 30  # rank, score and prediction of ten rows
    assert re.search(r'<span class="badge up" title="f0: \+0.87 to the margin[^"]*">f0 \+0.87</span>', part)
    assert '<span class="badge down" title="tenure: −0.50' in part
    assert "&lt;b&gt;x&lt;/b&gt; +0.01" in part and "<b>x</b>" not in part
    assert "Riskiest" not in day()  # no reasons: no section, not an empty one
