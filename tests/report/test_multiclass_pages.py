"""A multiclass model's page: CBPE accuracy, macro F1 and macro AUC against realised values, the classes ranked by
their change of recall, the confusion matrices, the predicted-class mix and the output's drift cards."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from test_html import DS, _metric_row, assert_document, assert_offline, make_days, section

from lakeops.report import multiclass_section, problems
from lakeops.report.html import render_day, render_index
from lakeops.report.performance_section import COLUMNS

CLASSES = ["none", "compute", "memory", "disk"]
DAYS = [DS - timedelta(days=9 - i) for i in range(10)]  # 2024-01-01 .. 2024-01-10
FULL = DAYS[:8]  # fully labelled; 2024-01-09 half labelled; 2024-01-10 not yet
NEWEST_FULL = DAYS[7]  # 2024-01-08
FEATURES = ["cpu_p95", "mem_used", "disk_io"]
OUTPUTS = ["prediction", *(f"score_{c}" for c in CLASSES)]
OUT = DAYS[6]  # 2024-01-07: realised accuracy (85.5%) below its band: CBPE does not see memory taken for disk
# The CBPE confidence of each predicted class: the share of its column expected to be right.
CONFIDENCE = np.array([0.95, 0.9, 0.92, 0.85])


def counted(i: int) -> np.ndarray:
    """The realised confusion matrix of day ``i`` (rows actual, columns predicted, in CLASSES' order): memory
    incidents are taken for disk ones more each day (memory's recall 90% on the first day, 10 points less a day)."""
    m = 180 - 10 * i
    return np.array([[470, 10, 10, 10],
                     [10, 180, 5, 5],
                     [10, 5, m, 185 - m],
                     [5, 5, 5, 85]], dtype=float)  # fmt: skip


def expected(i: int) -> np.ndarray:
    """CBPE's expected matrix of day ``i``: each predicted column split by the confidence of its class."""
    predicted = counted(i).sum(axis=0)
    share = np.where(np.eye(4, dtype=bool), CONFIDENCE, (1 - CONFIDENCE) / 3)
    return share * predicted


def _class_rows(ds: date, kind: str, matrix: np.ndarray, classes: list[str] = CLASSES, version: int = 4) -> list[dict]:
    """The ml.class_metrics rows of a confusion matrix."""
    diagonal, actual, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    precision, recall = diagonal / predicted, diagonal / actual
    return [{"ds": ds, "model_name": "incidents", "model_version": version, "kind": kind, "slice_key": None,
             "slice_value": None, "class_name": c, "support": float(actual[k]), "predicted": round(predicted[k]),
             "precision": precision[k], "recall": recall[k], "f1": 2 * precision[k] * recall[k] / (precision[k] + recall[k]),
             "auc": 0.9} for k, c in enumerate(classes)]  # fmt: skip


def _confusion_rows(ds: date, kind: str, matrix: np.ndarray, classes: list[str] = CLASSES,
                    version: int = 4) -> list[dict]:
    return [{"ds": ds, "model_name": "incidents", "model_version": version, "kind": kind, "slice_key": None,
             "slice_value": None, "actual": a, "predicted": p, "rows": float(matrix[i, j])}
            for i, a in enumerate(classes) for j, p in enumerate(classes)]  # fmt: skip


def make_class_metrics() -> pd.DataFrame:
    rows = []
    for i, d in enumerate(DAYS):
        rows += _class_rows(d, "estimated", expected(i))
        if d < DS:
            rows += _class_rows(d, "realised", counted(i))
    # A slice's row: never part of the whole-population sections.
    rows.append({**rows[0], "slice_key": "region", "slice_value": "eu", "recall": 0.0123})
    return pd.DataFrame(rows)


def make_confusion() -> pd.DataFrame:
    rows = []
    for i, d in enumerate(DAYS):
        rows += _confusion_rows(d, "estimated", expected(i))
        if d < DS:
            rows += _confusion_rows(d, "realised", counted(i))
    rows.append({**rows[0], "slice_key": "region", "slice_value": "eu", "rows": 98765.0})
    return pd.DataFrame(rows)


def _perf(ds: date, kind: str, **values) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(ds=ds, model_name="incidents", model_version=4, kind=kind, n_scored=1000, calibration_temperature=1.37)
    row.update(values)
    return row


def make_performance() -> pd.DataFrame:
    rows = []
    for i, d in enumerate(DAYS):
        m, e = counted(i), expected(i)
        accuracy, est = np.trace(m) / m.sum(), np.trace(e) / e.sum()
        rows.append(_perf(d, "estimated", n_labeled=0, label_coverage=0.0, accuracy=est, accuracy_lower=est - 0.03,
                          accuracy_upper=est + 0.03, f1=0.85, f1_lower=0.82, f1_upper=0.88, auc=0.95, auc_lower=0.93,
                          auc_upper=0.97))  # fmt: skip
        if d == DS:
            continue
        full = d in FULL
        realised = accuracy
        rows.append(_perf(d, "realised", n_labeled=1000 if full else 500, label_coverage=1.0 if full else 0.5,
                          accuracy=realised, f1=0.84, auc=0.94, precision=0.86, recall=0.83, weighted_f1=0.87,
                          logloss=0.41, estimated_accuracy=est if full else None,
                          accuracy_in_band=bool(abs(realised - est) <= 0.03) if full else None,
                          estimated_f1=0.85 if full else None, f1_in_band=True if full else None,
                          estimated_auc=0.95 if full else None, auc_in_band=True if full else None))  # fmt: skip
    return pd.DataFrame(rows)


def make_drift() -> pd.DataFrame:
    rows = [_metric_row(c, "baseline", 0.02 + 0.01 * i, "ok", column_type="numeric") for i, c in enumerate(FEATURES)]
    rows.append(_metric_row("prediction", "baseline", 0.31, "alert", column_type="class"))
    rows += [_metric_row(c, "baseline", 0.05, "ok", column_type="score") for c in OUTPUTS[1:]]
    return pd.DataFrame(rows).assign(model_name="incidents", model_version=4)


BASELINE_MIX = [0.5, 0.2, 0.2, 0.1]


def make_histograms() -> pd.DataFrame:
    rows = []
    for column in [*FEATURES, *OUTPUTS[1:]]:
        rows += [{"column_name": column, "bin_index": b, "label": f"({b / 4:g}, {(b + 1) / 4:g}]",
                  "baseline_proportion": 0.25, "current_proportion": 0.25} for b in range(4)]  # fmt: skip
    current = counted(9).sum(axis=0) / 1000
    rows += [{"column_name": "prediction", "bin_index": b, "label": c, "baseline_proportion": BASELINE_MIX[b],
              "current_proportion": current[b]} for b, c in enumerate(CLASSES)]  # fmt: skip
    return pd.DataFrame(rows)


def make_trend() -> pd.DataFrame:
    return pd.DataFrame([{"ds": d, "column_name": c, "psi": 0.02, "status": "ok", "model_version": 4}
                         for d in DAYS[:-1] for c in [*FEATURES, *OUTPUTS]])  # fmt: skip


def multiclass_day(**overrides) -> str:
    inputs = {"model_name": "incidents", "ds": DS, "drift": make_drift(), "histograms": make_histograms(),
              "trend": make_trend(), "problem_type": "multiclass", "performance_metrics": make_performance(),
              "class_metrics": make_class_metrics(), "confusion_matrix": make_confusion(), "classes": CLASSES}  # fmt: skip
    return render_day(**(inputs | overrides))


@pytest.fixture(scope="module")
def page() -> str:
    return multiclass_day()


def _cells(row: str) -> list[str]:
    return re.findall(r'<td class="num[^"]*">(.*?)</td>', row)


def _matrix(page: str, title: str) -> str:
    match = re.search(rf'<div class="matrix"><h3>{re.escape(title)} .*?</div>', page, flags=re.S)
    assert match, f"no matrix {title!r}"
    return match.group(0)


def _matrix_row(matrix: str, actual: str) -> tuple[list[str], list[str]]:
    """A row's cells (rows and share) and its totals (rows, recall)."""
    row = re.search(rf"<tr><th>{actual}</th>.*?</tr>", matrix).group(0)
    return re.findall(r"<b>(.*?)</b><br>(.*?)</td>", row), _cells(row)


def test_page_stays_a_self_contained_document(page):
    assert_document(page)
    assert_offline(page)
    # PSI, heatmap, 3 feature and 5 output histograms, the performance chart; and two small charts per class
    # drawn by the template.
    assert page.count("<svg") == page.count("</svg>") == 1 + 1 + 3 + 5 + 1 + 2 * len(CLASSES)
    assert page.count('<svg class="spark"') == 2 * len(CLASSES)
    assert "0.0123" not in page and "98765" not in page and "98,765" not in page  # the slice rows


def test_the_output_cards_show_the_predicted_class_and_every_class_probability(page):
    output = section(page, "Predicted class and class probabilities")
    assert re.findall(r"<h3>(\w+)", output) == ["Predicted", *OUTPUTS]  # the mix's heading, then the cards
    assert "PSI 0.310 · class" in output and output.count("· score</p>") == len(CLASSES)
    # The class column's histogram has one bar pair per class.
    assert "memory: baseline 20.0%, current 11.0%" in output
    features = section(page, "Most drifted columns")
    assert re.findall(r"<h3>(\w+)", features) == FEATURES[::-1]  # by PSI; no output among them
    assert "Score distribution" not in page


def test_the_predicted_class_mix_per_day(page):
    output = section(page, "Predicted class and class probabilities")
    head = "<th>day</th><th>rows</th><th>mix</th><th>none</th><th>compute</th><th>memory</th><th>disk</th>"
    assert head in output
    rows = re.findall(r"<tr(?: class=\"baseline\")?><td>([^<]+)</td>(.*?)</tr>", output, flags=re.S)
    assert [label for label, _ in rows][:3] == ["training baseline", "2024-01-10", "2024-01-09"]
    assert len(rows) == 1 + 10
    assert _cells(rows[0][1]) == ["", "50.0%", "20.0%", "20.0%", "10.0%"]
    # 2024-01-10: memory's incidents go to disk (column sums of the day's matrix).
    assert _cells(rows[1][1]) == ["1,000", "49.5%", "20.0%", "11.0%", "19.5%"]
    assert 'style="width:19.50%;background:#009e73" title="memory: 11.0%"' not in output
    assert 'style="width:11.00%;background:#009e73" title="memory: 11.0%"' in output


def test_the_header_and_the_days_table_lead_with_accuracy(page):
    est = np.trace(expected(9)) / 1000
    assert f"accuracy estimated {est:.1%} (band {est - 0.03:.1%} – {est + 0.03:.1%}), no realised accuracy yet" in page
    perf = section(page, "Model performance")
    assert [re.sub("<.*?>", "", m) for m in re.findall(r"<tr><td>(.*?)</td>", perf)] == [
        "accuracy", "macro F1", "macro AUC"]  # fmt: skip  # no realised row on the page's day
    out = section(multiclass_day(ds=OUT), "Model performance")
    rows = {m: _cells(r) for m, r in re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", out)}
    est = np.trace(expected(6)) / 1000
    assert rows["accuracy"] == [f"{est:.1%}", f"{est - 0.03:.1%} – {est + 0.03:.1%}", "85.5%"]
    assert rows["macro precision"] == ["–", "", "86.0%"] and rows["weighted F1"] == ["–", "", "0.870"]
    assert rows["log loss"] == ["–", "", "0.410"]
    assert '<span class="badge warn">outside</span>' in re.search(r"<tr><td>accuracy</td>.*?</tr>", out).group(0)
    for binary in ("PR AUC", "ECE", "Brier", "MAE"):
        assert binary not in out


def test_the_chart_draws_accuracy_f1_and_auc(page):
    tips = re.findall(r"<title>(.*?)</title>", section(page, "Model performance"))
    assert any(t.startswith("2024-01-07 · accuracy realised 85.5% · estimated") and t.endswith("outside the band")
               for t in tips)  # fmt: skip
    assert "2024-01-08 · macro F1 realised 0.840 · estimated 0.850 (0.820 – 0.880) · 100% labelled · inside the band" \
        in tips  # fmt: skip
    assert any(t.startswith("2024-01-08 · macro AUC realised 0.940") for t in tips)
    assert "2024-01-10: 0% labelled (0 of 1,000)" in tips


def test_the_note_says_what_cbpe_assumes_and_names_the_temperature(page):
    note = re.search(r'<div class="note">.*?</div>', section(page, "Model performance"), flags=re.S).group(0)
    assert "CBPE" in note and "P(y | x)" in note and "calibrated" in note
    assert "temperature scaling: softmax(margin / T)" in note and "T = 1.37" in note


def test_the_realised_confusion_matrix_of_the_newest_fully_labelled_day(page):
    matrix = _matrix(page, f"Realised, {NEWEST_FULL.isoformat()}")
    head = re.findall(r"<th>(.*?)</th>", matrix.split("</thead>")[0])
    assert head == ["actual \\ predicted", *CLASSES, "rows", "recall"]
    # Day 8: memory's row is 10, 5, 110, 75 of 200 (recall 55%).
    cells, totals = _matrix_row(matrix, "memory")
    assert cells == [("10", "5.0%"), ("5", "2.5%"), ("110", "55.0%"), ("75", "37.5%")]
    assert totals == ["200", "55.0%"]
    assert _matrix_row(matrix, "none") == ([("470", "94.0%"), ("10", "2.0%"), ("10", "2.0%"), ("10", "2.0%")],
                                           ["500", "94.0%"])  # fmt: skip
    # Columns: rows predicted per class, precision; the total rows and the accuracy.
    predicted = re.search(r'<tr class="totals"><th>rows</th>.*?</tr>', matrix).group(0)
    assert _cells(predicted) == ["495", "200", "130", "175", "1,000"]
    precision = re.search(r'<tr class="totals"><th>precision</th>.*?</tr>', matrix).group(0)
    assert _cells(precision) == ["94.9%", "90.0%", "84.6%", "48.6%"]
    assert '<span class="muted">· accuracy 84.5%</span>' in matrix
    # The diagonal is blue (#2b5c8a), the errors red (#b2182b), each mixed with white by its share:
    # 255 - (255 - 43) * 0.55 = 138 (0x8a) for memory's 55% on the diagonal.
    assert 'class="cell right" style="background:#8aa5bf"' in matrix
    assert 'style="background:#e2a8b0" title="actual memory, predicted disk: 75 rows (37.5% of actual memory)"' \
        in matrix  # fmt: skip
    assert "fully labelled" in matrix


def test_the_estimated_confusion_matrix_of_the_newest_day_without_labels(page):
    matrix = _matrix(page, f"Estimated, {DS.isoformat()}")
    e = expected(9)
    cells, totals = _matrix_row(matrix, "disk")
    share = e[3] / e[3].sum()
    assert cells == [(f"{v:,.1f}", f"{s:.1%}") for v, s in zip(e[3], share, strict=True)]
    assert totals == [f"{e[3].sum():,.1f}", f"{share[3]:.1%}"]
    assert "Expected by CBPE" in matrix and "no labels yet" in matrix
    # A page whose every day is fully labelled up to itself has no estimate to show but its own day's.
    earlier = multiclass_day(ds=NEWEST_FULL)
    assert f"<h3>Realised, {NEWEST_FULL.isoformat()} " in earlier and "<h3>Estimated, " not in earlier


def test_the_classes_ranked_by_their_drop_of_recall(page):
    table = section(page, "Which class is the model getting worse at?")
    rows = re.findall(r"<tr><td><b>(\w+)</b></td>(.*?)</tr>", table, flags=re.S)
    assert [name for name, _ in rows] == ["memory", "none", "compute", "disk"]
    # Memory's recall pooled over 2024-01-01 .. 03 (180 + 170 + 160 of 600) and 2024-01-07 .. 09 (120 + 110 + 100).
    memory = _cells(rows[0][1])
    assert memory[:2] == ["85.0% → 55.0%", "−30.0 pp"]
    # Its precision: 510 of 570 predicted as memory, then 330 of 390; its labelled rows over the last days, 600.
    assert memory[2:5] == ["89.5% → 84.6%", "−4.9 pp", "600"]
    # Disk keeps its recall while its precision collapses (the memory incidents it takes).
    disk = _cells(rows[3][1])
    assert disk[:4] == ["85.0% → 85.0%", "+0.0 pp", "73.9% → 48.6%", "−25.3 pp"]
    e = expected(9)
    assert memory[5:] == [f"{e[2, 2] / e[2].sum():.1%}", f"{CONFIDENCE[2]:.1%}"]  # CBPE, 2024-01-10
    assert "first labelled days (2024-01-01 – 2024-01-03) to the last (2024-01-07 – 2024-01-09)" in table
    # The small charts: the estimate dashed, realised dots (hollow while labels arrive), a tooltip per dot.
    tips = re.findall(r"<title>(.*?)</title>", table)
    assert "2024-01-08 · memory recall realised 55.0% · estimated " + f"{expected(7)[2, 2] / expected(7)[2].sum():.1%}" \
        + " · 100% labelled" in tips  # fmt: skip
    assert any(t.startswith("2024-01-09 · memory recall realised 50.0%") and t.endswith("50% labelled") for t in tips)
    assert table.count('<circle class="real open"') == 2 * len(CLASSES)  # 2024-01-09, recall and precision
    assert table.count('<polyline class="est"') == 2 * len(CLASSES)


def test_calibration_compares_mean_confidence_with_accuracy(page):
    table = section(page, "Calibration: mean confidence and realised accuracy")
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
    assert [d for d, _ in rows][:2] == ["2024-01-09", "2024-01-08"] and len(rows) == 9
    est, real = np.trace(expected(7)) / 1000, np.trace(counted(7)) / 1000
    assert _cells(rows[1][1]) == [f"{est:.1%}", f"{real:.1%}", f"{(real - est) * 100:+.1f} pp".replace("-", "−"),
                                  "0.410", "100%"]  # fmt: skip


def test_disagreements_and_band_coverage(page):
    table = section(page, "Where estimate and realised disagree")
    # Estimated 91.09% + 0.07 m against realised 73.5% + m (m: memory rows predicted right, per 1,000): from the
    # fourth day on, the realised accuracy falls more than 3 points below the estimate.
    assert re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", table) == [d.isoformat() for d in reversed(FULL[3:])]
    assert "Accuracy inside its band on 3 of 8 fully labelled days (38%)." in table
    assert "Macro F1 inside its band on 8 of 8 fully labelled days (100%)." in table


def test_without_the_per_class_tables():
    text = multiclass_day(class_metrics=None, confusion_matrix=None)
    assert_document(text)
    assert "No per-class metrics: this lake has no ml.class_metrics table." in text
    assert "No confusion matrix: this lake has no ml.confusion_matrix table." in text
    assert "No predicted-class mix: this lake has no ml.class_metrics table." in text


def test_before_any_label():
    performance = make_performance()
    text = multiclass_day(performance_metrics=performance[performance["kind"] == "estimated"],
                          class_metrics=make_class_metrics().query("kind == 'estimated'"),
                          confusion_matrix=make_confusion().query("kind == 'estimated'"))  # fmt: skip
    assert_document(text)
    table = section(text, "Which class is the model getting worse at?")
    assert "No labelled day yet" in table and "<circle" not in table
    assert "<h3>Realised" not in text and f"<h3>Estimated, {DS.isoformat()} " in text


def test_classes_found_only_in_the_rows_follow_the_configs():
    text = multiclass_day(classes=["disk", "memory"])
    matrix = _matrix(text, f"Realised, {NEWEST_FULL.isoformat()}")
    head = re.findall(r"<th>(.*?)</th>", matrix.split("</thead>")[0])
    assert head == ["actual \\ predicted", "disk", "memory", "compute", "none", "rows", "recall"]


def test_binary_pages_have_no_per_class_sections():
    from test_html import day

    text = day(class_metrics=make_class_metrics(), confusion_matrix=make_confusion())
    for part in ("Which class", "Confusion matrix", "Predicted-class mix", "temperature"):
        assert part not in text


def test_index_shows_accuracy_per_day():
    text = render_index(model_name="incidents", days=make_days(), performance_metrics=make_performance(),
                        problem_type="multiclass")  # fmt: skip
    assert_document(text)
    assert "<th>accuracy estimated</th><th>accuracy realised</th><th>labelled</th>" in text
    row = re.search(r'<a href="2024-01-07.html">.*?</tr>', text).group(0)
    assert _cells(row)[-2:] == ['85.5% <span class="badge warn">outside</span>', "100%"]


def test_specs_and_inference():
    assert problems.spec_for("multiclass") is problems.MULTICLASS
    assert problems.infer(make_performance()) == "multiclass"
    colour = multiclass_section.colour
    assert colour(0) != colour(1) and colour(len(multiclass_section.CLASS_COLOURS)) == colour(0)


# ---------------------------------------------------------------- write_reports against a small lake


LAKE_DAYS = [date(2024, 3, 1), date(2024, 3, 2)]
LAKE_CLASSES = ["none", "compute", "disk"]
#: 2024-03-01, fully labelled: rows actual, columns predicted.
LAKE_COUNTED = np.array([[50, 3, 2], [4, 25, 1], [1, 4, 10]], dtype=float)
#: CBPE's expected matrix of 2024-03-02, not labelled yet: the columns sum to the rows predicted per class.
LAKE_EXPECTED = np.array([[48.5, 2.5, 1.0], [4.0, 26.0, 2.0], [2.5, 3.5, 10.0]])


@pytest.fixture
def multiclass_lake(tmp_path):
    from deltalake import write_deltalake

    from lakeops.lake.embedded import EmbeddedLake
    from lakeops.lake.tables import (
        BASELINES,
        CLASS_METRICS,
        CONFUSION_MATRIX,
        DRIFT_COUNTS,
        DRIFT_METRICS,
        PERFORMANCE_METRICS,
        PERFORMANCE_REFERENCE,
    )

    lake = EmbeddedLake(None, tmp_path / "lake")  # type: ignore[arg-type]

    def write(spec, rows: list[dict]) -> None:
        import pyarrow as pa

        write_deltalake(str(lake.path(spec.name)), pa.Table.from_pylist(rows, schema=spec.schema),
                        partition_by=list(spec.partition_by))  # fmt: skip

    model = {"model_name": "incidents", "model_version": 2}
    # The predicted class is binned like a categorical column, one bin per class; each class's probability and
    # the feature on two numeric bins; every column has its null bucket.
    columns = {"cpu": "numeric", "prediction": "class", **{f"score_{c}": "score" for c in LAKE_CLASSES}}
    baselines, counts, metrics = [], [], []
    for name, kind in columns.items():
        key = {**model, "column_name": name, "column_type": kind}
        if kind == "class":
            baselines += [{**key, "bin_index": b, "category": c, "count": n, "proportion": n / 100}
                          for b, (c, n) in enumerate(zip(LAKE_CLASSES, (50, 30, 20), strict=True))]  # fmt: skip
            bins = [55, 32, 13, 0]
        else:
            baselines += [{**key, "bin_index": 0, "lower": float("-inf"), "upper": 0.5, "count": 50, "proportion": 0.5},
                          {**key, "bin_index": 1, "lower": 0.5, "upper": float("inf"), "count": 50, "proportion": 0.5}]
            bins = [50, 50, 0]
        baselines.append({**key, "bin_index": -1, "category": "__null__", "count": 0, "proportion": 0.0})
        for d in LAKE_DAYS:
            counts.append({**key, "ds": d, "n_rows": 100, "n_null": 0, "bin_counts": bins})
            metrics.append({**key, "ds": d, "baseline_id": "incidents/v2", "drift_type": "baseline", "n_current": 100,
                            "n_baseline": 100, "psi": 0.3 if kind == "class" else 0.01,
                            "status": "alert" if kind == "class" else "ok", "warn_threshold": 0.1,
                            "alert_threshold": 0.25})  # fmt: skip
    write(BASELINES, baselines)
    write(DRIFT_COUNTS, counts)
    write(DRIFT_METRICS, metrics)
    first, second = LAKE_DAYS
    base = {**model, "n_scored": 100}
    write(PERFORMANCE_METRICS, [
        {**base, "ds": first, "kind": "estimated", "accuracy": 0.84, "accuracy_lower": 0.8, "accuracy_upper": 0.88},
        {**base, "ds": first, "kind": "realised", "n_labeled": 100, "label_coverage": 1.0, "accuracy": 0.85,
         "estimated_accuracy": 0.84, "accuracy_in_band": True, "f1": 0.8, "auc": 0.9, "logloss": 0.5},
        {**base, "ds": second, "kind": "estimated", "accuracy": 0.845, "accuracy_lower": 0.805, "accuracy_upper": 0.885},
    ])  # fmt: skip
    # Rows in an order other than the model's: the pages follow the classes' order.
    write(CLASS_METRICS, [*_class_rows(first, "realised", LAKE_COUNTED, LAKE_CLASSES, 2),
                          *_class_rows(first, "estimated", LAKE_EXPECTED, LAKE_CLASSES, 2),
                          *_class_rows(second, "estimated", LAKE_EXPECTED, LAKE_CLASSES, 2)][::-1])  # fmt: skip
    write(CONFUSION_MATRIX, [*_confusion_rows(first, "realised", LAKE_COUNTED, LAKE_CLASSES, 2),
                             *_confusion_rows(first, "estimated", LAKE_EXPECTED, LAKE_CLASSES, 2),
                             *_confusion_rows(second, "estimated", LAKE_EXPECTED, LAKE_CLASSES, 2)][::-1])  # fmt: skip
    write(PERFORMANCE_REFERENCE, [{**model, "problem_type": "multiclass", "classes": LAKE_CLASSES, "accuracy": 0.86,
                                   "calibration_temperature": 0.8}])  # fmt: skip
    return lake


def _lake_config(classes: list[str]):
    from lakeops.config import ModelConfig

    return ModelConfig(name="incidents", entity_keys=["host_id"], sources={"observations": "raw.a", "labels": "raw.b"},
                       label="kind", features={"sql": "f.sql", "numeric": ["cpu"]}, problem_type="multiclass",
                       classes=classes)  # fmt: skip


def test_a_multiclass_models_pages_from_the_lake(multiclass_lake):
    from lakeops.report import write_reports

    # Without its config: the problem type and the classes come from ml.performance_reference.
    first, second, index = (p.read_text() for p in write_reports(multiclass_lake, "incidents", LAKE_DAYS))
    for page in (first, second):
        assert_document(page)
        matrix = _matrix(page, "Realised, 2024-03-01")
        assert re.findall(r"<th>(.*?)</th>", matrix.split("</thead>")[0])[1:4] == LAKE_CLASSES
        assert _matrix_row(matrix, "compute") == ([("4", "13.3%"), ("25", "83.3%"), ("1", "3.3%")], ["30", "83.3%"])
        precision = re.search(r'<tr class="totals"><th>precision</th>.*?</tr>', matrix).group(0)
        assert _cells(precision) == ["90.9%", "78.1%", "76.9%"] and "accuracy 85.0%" in matrix
        assert "T = 0.8 for the version that scored this day" in page
        output = section(page, "Predicted class and class probabilities")
        assert re.findall(r"<h3>(\w+)", output)[1:] == ["prediction", *(f"score_{c}" for c in LAKE_CLASSES)]
        assert "none: baseline 50.0%, current 55.0%" in output  # the class column's categorical bins
        assert "cpu" not in output and "<h3>cpu" in section(page, "Most drifted columns")
    assert "<h3>Estimated, " not in first  # fully labelled: nothing left to estimate
    matrix = _matrix(second, "Estimated, 2024-03-02")
    assert _matrix_row(matrix, "disk") == ([("2.5", "15.6%"), ("3.5", "21.9%"), ("10.0", "62.5%")], ["16.0", "62.5%"])
    assert "accuracy estimated 84.5% (band 80.5% – 88.5%), no realised accuracy yet" in second
    mix = re.findall(r"<tr(?: class=\"baseline\")?><td>([^<]+)</td>(.*?)</tr>", section(second, "Predicted class"),
                     flags=re.S)
    assert [(label, _cells(row)) for label, row in mix] == [
        ("training baseline", ["", "50.0%", "30.0%", "20.0%"]), ("2024-03-02", ["100", "55.0%", "32.0%", "13.0%"]),
        ("2024-03-01", ["100", "55.0%", "32.0%", "13.0%"])]  # fmt: skip
    assert "<th>accuracy estimated</th><th>accuracy realised</th>" in index
    # With its config: the config's order of the classes.
    config = _lake_config(["disk", "compute", "none"])
    *_, second, _ = (p.read_text() for p in write_reports(multiclass_lake, "incidents", LAKE_DAYS, config=config))
    matrix = _matrix(second, "Realised, 2024-03-01")
    assert re.findall(r"<th>(.*?)</th>", matrix.split("</thead>")[0])[1:4] == ["disk", "compute", "none"]
