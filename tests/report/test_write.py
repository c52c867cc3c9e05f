"""write_reports against small Delta tables, read through Arrow: no Spark session is started."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakeops.lake.embedded import EmbeddedLake
from lakeops.lake.tables import BASELINES, DRIFT_COUNTS, DRIFT_METRICS, PERFORMANCE_METRICS
from lakeops.report import write_reports

DAYS = [date(2024, 3, 1), date(2024, 3, 2)]
MODEL = "churn"


def _write(lake: EmbeddedLake, spec, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=spec.schema)
    write_deltalake(str(lake.path(spec.name)), table, partition_by=list(spec.partition_by))


@pytest.fixture
def lake(tmp_path) -> EmbeddedLake:
    # Reads go through delta-rs and Parquet only; writing with delta-rs keeps Spark out of these tests.
    lake = EmbeddedLake(None, tmp_path / "lake")  # type: ignore[arg-type]
    key = {"model_name": MODEL, "model_version": 2, "column_name": "amount", "column_type": "numeric"}
    _write(lake, BASELINES, [
        {**key, "bin_index": 0, "lower": float("-inf"), "upper": 10.0, "count": 60, "proportion": 0.6},
        {**key, "bin_index": 1, "lower": 10.0, "upper": float("inf"), "count": 38, "proportion": 0.38},
        {**key, "bin_index": -1, "category": "__null__", "count": 2, "proportion": 0.02},
    ])  # fmt: skip
    _write(lake, DRIFT_COUNTS, [{**key, "ds": d, "n_rows": 100, "n_null": 2, "bin_counts": [50, 48, 2]} for d in DAYS])
    _write(lake, DRIFT_METRICS, [
        {**key, "ds": d, "baseline_id": f"{MODEL}/v2", "drift_type": "baseline", "n_current": 100, "n_baseline": 100,
         "psi": 0.02, "status": "ok", "warn_threshold": 0.1, "alert_threshold": 0.25}
        for d in DAYS
    ])  # fmt: skip
    return lake


def _words(page: str) -> str:
    """The page without its SVG drawing (whose coordinates hold any number), keeping the tooltips."""
    return re.sub(r"<svg.*?</svg>", lambda m: " ".join(re.findall(r"<title>.*?</title>", m.group(0))), page, flags=re.S)


def _performance(ds: date, kind: str, **values) -> dict:
    return {"ds": ds, "model_name": MODEL, "model_version": 2, "kind": kind, "n_scored": 100, **values}


def test_pages_say_when_the_lake_has_no_performance_table(lake):
    paths = write_reports(lake, MODEL, DAYS)
    assert [p.name for p in paths] == ["2024-03-01.html", "2024-03-02.html", "index.html"]
    page = paths[1].read_text()
    assert "No performance data yet: this lake has no ml.performance_metrics table." in page
    assert "<th>AUC estimated</th>" not in paths[-1].read_text()


def test_pages_show_the_models_whole_population_performance(lake):
    _write(lake, PERFORMANCE_METRICS, [
        _performance(DAYS[0], "estimated", auc=0.81, auc_lower=0.79, auc_upper=0.83, f1=0.6),
        _performance(DAYS[0], "realised", auc=0.70, f1=0.61, n_labeled=100, label_coverage=1.0, estimated_auc=0.81,
                     auc_in_band=False, f1_in_band=True),
        _performance(DAYS[1], "estimated", auc=0.82, auc_lower=0.80, auc_upper=0.84, f1=0.6),
        _performance(DAYS[1], "estimated", auc=0.123, slice_key="region", slice_value="eu"),
        {**_performance(DAYS[1], "estimated", auc=0.456), "model_name": "other"},
        _performance(DAYS[1] + timedelta(days=1), "estimated", auc=0.789),
    ])  # fmt: skip
    first, second, index = (_words(p.read_text()) for p in write_reports(lake, MODEL, DAYS))
    assert "0.820" not in first and "0.789" not in first  # later days stay off a page
    assert "AUC estimated 0.810 (band 0.790 – 0.830), realised 0.700" in first
    assert "AUC estimated 0.820 (band 0.800 – 0.840), no realised AUC yet" in second
    assert "AUC inside its band on 0 of 1 fully labelled day (0%)." in second
    assert "0.123" not in second and "0.456" not in second  # slices and other models are not this section
    row = re.search(r'<a href="2024-03-01.html">.*?</tr>', index).group(0)
    assert re.findall(r'<td class="num">(.*?)</td>', row)[-3:] == [
        "0.810", '0.700 <span class="badge warn">outside</span>', "100%"]  # fmt: skip
