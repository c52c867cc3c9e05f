"""write_reports against small Delta tables, read through Arrow: no Spark session is started."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakeops.config import ModelConfig
from lakeops.lake.embedded import EmbeddedLake
from lakeops.lake.tables import (
    ALERTS,
    ATTRIBUTION_DRIFT,
    BASELINES,
    DRIFT_COUNTS,
    DRIFT_METRICS,
    MODEL_VALIDATIONS,
    PERFORMANCE_METRICS,
    PERFORMANCE_REFERENCE,
    features_spec,
    key_schema,
    predictions_spec,
    shadow_spec,
)
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


def _overwrite(lake: EmbeddedLake, spec, rows: list[dict], **partitions) -> None:
    lake.overwrite_rows(pa.Table.from_pylist(rows, schema=spec.schema), spec, partitions=partitions)


def _alert(ds: date, state: str, **values) -> dict:
    return {"ds": ds, "model_name": MODEL, "model_version": 2, "rule": "drift", "kind": "features_drifted",
            "fingerprint": "fp-drift", "state": state, "severity": "critical", "met": True, "value": 1.0,
            "threshold": 1.0, "first_seen": DAYS[0], "firing_since": DAYS[0] if state == "firing" else None,
            "last_seen": ds, "quiet_days": 0, "summary": "1 of 1 features at alert drift: amount",
            "retrain_requested": False, "notification": "sent", "notification_attempts": 1, **values}  # fmt: skip


def test_pages_say_when_the_lake_has_no_alert_gate_or_attribution_table(lake):
    *_, second, index = (p.read_text() for p in write_reports(lake, MODEL, DAYS))
    assert "No alerts: this lake has no ml.alerts table." in second
    assert "this lake has neither ml.alerts nor ml.model_validations" in second
    assert "No attribution drift: this lake has no ml.attribution_drift table." in second
    assert "<th>alerts</th>" not in index and "<th>nDCG</th>" not in index


def test_pages_show_alerts_gate_decisions_and_attribution_from_the_lake(lake):
    evidence = '{"features_at_alert":[{"column":"<img src=x>","psi":0.6,"noise_floor":0.02}],"features_judged":1}'
    _overwrite(lake, ALERTS, [_alert(DAYS[1], "firing", evidence=evidence, retrain_requested=True),
                              {**_alert(DAYS[1], "firing"), "model_name": "other"}],
               model_name=[MODEL, "other"], ds=[DAYS[1]])  # fmt: skip
    _overwrite(lake, MODEL_VALIDATIONS, [
        {"ds": DAYS[1], "model_name": MODEL, "challenger_version": 3, "champion_version": 2, "decision": "rejected",
         "reason": "challenger AUC 0.70 < champion 0.80", "requested_by": "fp-drift"}], ds=[DAYS[1]])  # fmt: skip
    _overwrite(lake, ATTRIBUTION_DRIFT, [
        {"ds": DAYS[1], "model_name": MODEL, "model_version": 2, "feature": f, "mean_abs_shap": shap, "share": shap,
         "rank": rank, "reference_mean_abs_shap": ref, "reference_share": ref, "reference_rank": 3 - rank,
         "rank_change": 3 - 2 * rank, "share_change": shap - ref, "mover": rank, "ndcg": 0.85, "status": "alert",
         "threshold": 0.9, "n_rows": 100}
        for f, rank, shap, ref in (("amount", 1, 0.7, 0.3), ("tenure", 2, 0.3, 0.7))], model_name=[MODEL],
        ds=[DAYS[1]])  # fmt: skip
    first, second, index = (_words(p.read_text()) for p in write_reports(lake, MODEL, DAYS))
    # The first day: the tables exist but hold nothing of it (the later rows stay off its page).
    assert "No alert was pending, firing or resolved on this day." in first
    assert "No attribution drift measured on this day." in first
    assert "rejected" not in first
    alerts = re.search(r'<section id="alerts">.*?</section>', second, flags=re.S).group(0)
    assert alerts.count('<div class="alert-card firing">') == 1  # the other model's alert is not here
    assert "firing since 2024-03-01 (2 days)" in alerts and "&lt;img src=x&gt;" in alerts
    assert "<img src=x>" not in second
    assert "30.0×" in alerts  # PSI 0.6 against a noise floor of 0.02
    assert "gate: challenger v3 against champion v2: rejected; challenger AUC 0.70 &lt; champion 0.80" in second
    assert "retrain asked by alert drift on 2024-03-02 (fp-drift)" in second
    assert "nDCG <b>0.850</b>" in second and "amount: mean |SHAP| 0.7000 today" in second
    row = re.search(r'<tr class="firing"><td><a href="2024-03-02.html">.*?</tr>', index).group(0)
    assert "1 firing" in row and "0.850" in row and "v3 rejected" in row and "retrain" in row
    assert '<tr class="firing"><td><a href="2024-03-01.html">' not in index


# ---------------------------------------------------------------- a regression model


def _regression_config() -> ModelConfig:
    return ModelConfig(name=MODEL, entity_keys=["host_id"], sources={"observations": "raw.a", "labels": "raw.b"},
                       label="latency_next_day", features={"sql": "f.sql", "numeric": ["cpu"]},
                       problem_type="regression")  # fmt: skip


@pytest.fixture
def regression_lake(lake) -> EmbeddedLake:
    """The drift tables of ``lake``, and a regression model's performance rows, reference, predictions and
    labels: the first day labelled (host c's label never arrives), the second not yet."""
    config = _regression_config()
    _write(lake, PERFORMANCE_METRICS, [
        _performance(DAYS[0], "estimated", mae=5.0, mae_lower=4.0, mae_upper=6.0, rmse=7.0),
        _performance(DAYS[0], "realised", n_labeled=2, label_coverage=2 / 3, mae=2.5, rmse=2.55, bias=0.5,
                     interval_coverage=0.5, label_mean=11.0, prediction_mean=11.5, estimated_mae=5.0,
                     mae_in_band=False),
        _performance(DAYS[1], "estimated", mae=5.5, mae_lower=4.5, mae_upper=6.5, rmse=7.5),
    ])  # fmt: skip
    _write(lake, PERFORMANCE_REFERENCE, [{"model_name": MODEL, "model_version": 2, "problem_type": "regression",
                                          "mae": 5.0, "interval_coverage_target": 0.8, "interval_half_width": 2.0}])
    _write(lake, predictions_spec(MODEL, key_schema(config), "regression"), [
        {"ds": d, "model_name": MODEL, "model_version": 2, "host_id": host, "prediction": p, "prediction_lower": p - 2,
         "prediction_upper": p + 2} for d in DAYS for host, p in (("a", 10.0), ("b", 13.0), ("c", 20.0))])  # fmt: skip
    labels = {(DAYS[0], "a"): 12.5, (DAYS[0], "b"): 13.5}  # residuals -2.5 and -0.5: one outside the ±2 interval
    _write(lake, features_spec(config), [{"ds": d, "host_id": host, "cpu": 0.5, "latency_next_day": labels.get((d, host))}
                                         for d in DAYS for host in "abc"])  # fmt: skip
    return lake


def test_a_regression_models_pages(regression_lake):
    first, second, index = (_words(p.read_text()) for p in
                            write_reports(regression_lake, MODEL, DAYS, config=_regression_config()))
    assert 'MAE estimated 5.000 (band 4.000 – 6.000), realised 2.500 <span class="badge warn">outside the band</span>' \
        in first  # fmt: skip
    # The coverage target comes from the version's ml.performance_reference row: 0.8 ± 3 sqrt(0.16 / 2).
    assert "<td>interval coverage</td><td class=\"num\">target 80.0%</td><td class=\"num\">0.0% – 100.0%</td>" in first
    assert "AUC" not in first and "Calibration" not in first
    # Both pages show the residuals of the first day, the newest labelled day up to them; host c has no label.
    for page in (first, second):
        residual = re.search(r"<section><h2>Residuals.*?</section>", page, flags=re.S).group(0)
        assert "2024-03-01: rows <b>2</b> · mean residual (bias) <b>−1.500</b>" in residual
        assert "inside the interval <b>50.0%</b>" in residual
    assert "<th>MAE estimated</th><th>MAE realised</th>" in index
    row = re.search(r'<a href="2024-03-01.html">.*?</tr>', index).group(0)
    assert '2.500 <span class="badge warn">outside</span>' in row


def test_without_its_config_the_problem_type_comes_from_the_lake(regression_lake):
    *_, second, index = (_words(p.read_text()) for p in write_reports(regression_lake, MODEL, DAYS))
    assert "MAE estimated 5.500 (band 4.500 – 6.500), no realised MAE yet" in second
    assert "No residuals: the report was written without the model&#39;s configuration" in second
    with pytest.raises(ValueError, match="config of model 'other'"):
        write_reports(regression_lake, MODEL, DAYS, config=replace(_regression_config(), name="other"))


# ---------------------------------------------------------------- estimator check, shadow challenger, reason codes

LABEL = "churned"
CUSTOMERS = [f"c{i:02d}" for i in range(40)]
REASONS = ["support_calls", "tenure", "spend", "plan"]


def _binary_config() -> ModelConfig:
    return ModelConfig(name=MODEL, entity_keys=["customer_id"], sources={"observations": "raw.a", "labels": "raw.b"},
                       label=LABEL, features={"sql": "f.sql", "numeric": ["tenure", "spend"]})  # fmt: skip


def _label(i: int, d: date) -> int:
    return int((i * 7 + d.toordinal()) % 5 == 0)  # a fifth positive, a different fifth each day


def _score(i: int, d: date, noise: float) -> float:
    """Positives score high; ``noise`` (0..1) mixes in a rank that ignores the label."""
    jitter = ((i * 13 + d.toordinal() * 3) % 40) / 40
    return round(min(max(0.2 + 0.5 * _label(i, d) * (1 - noise) + jitter * (0.3 + noise * 0.5), 0.001), 0.999), 4)


def _reasons(i: int, score: float, k: int = 3) -> dict:
    """Reason codes of a row: the first pushes its score up, the second down; every fourth row has only two."""
    row: dict = {}
    for j in range(1, k + 1):
        known = j < 3 or i % 4
        value = [1.6 * score, -0.4 - 0.01 * i, 0.05 * (i % 3) - 0.03][j - 1]
        row[f"reason_{j}"] = REASONS[(i + j - 1) % len(REASONS)] if known else None
        row[f"reason_{j}_contribution"] = round(value, 4) if known else None
    return row


def write_binary_lake(lake: EmbeddedLake, *, pages: list[date], shadow_days: list[date], labelled_until: date,
                      holdout: tuple[date, date], reasons: bool = True, failed_estimator: bool = True) -> ModelConfig:
    """A binary model's lake around ``lake``'s drift tables: champion v2 served every day (with reason codes
    on the last page day: the days before were scored before them); challenger v3, trained with ``holdout``,
    scored ``shadow_days`` in shadow, doing worse than the champion on the first day after its holdout and
    better otherwise; labels up to ``labelled_until``. v2's estimator failed its check at training (unless
    not ``failed_estimator``), v3's passed."""
    config = _binary_config()
    keys = key_schema(config)
    _write(lake, PERFORMANCE_REFERENCE, [
        {"model_name": MODEL, "model_version": 2, "problem_type": "binary", "holdout_start": date(2024, 1, 20),
         "holdout_end": date(2024, 1, 31), "holdout_rows": 4000, "threshold": 0.5, "auc": 0.801,
         "cbpe_auc": 0.712 if failed_estimator else 0.795, "auc_sd": 0.01, "f1": 0.62, "cbpe_f1": 0.63,
         "f1_sd": 0.02},
        {"model_name": MODEL, "model_version": 3, "problem_type": "binary", "holdout_start": holdout[0],
         "holdout_end": holdout[1], "holdout_rows": 3000, "threshold": 0.5, "auc": 0.823, "cbpe_auc": 0.817,
         "auc_sd": 0.011, "f1": 0.64, "cbpe_f1": 0.65, "f1_sd": 0.02},
    ])  # fmt: skip
    served_days = sorted({*pages, *shadow_days})
    spec = predictions_spec(MODEL, keys, "binary")
    if reasons:
        extra = [pa.field(n, pa.string() if not n.endswith("contribution") else pa.float64())
                 for j in range(1, 4) for n in (f"reason_{j}", f"reason_{j}_contribution")]
        spec = replace(spec, schema=pa.schema([*spec.schema, *extra]))
    served = []
    for d in served_days:
        for i, c in enumerate(CUSTOMERS):
            score = _score(i, d, 0.5)
            row = {"ds": d, "model_name": MODEL, "model_version": 2, "customer_id": c, "score": score,
                   "prediction": int(score >= 0.5)}
            served.append(row | (_reasons(i, score) if reasons and d == pages[-1] else {}))
    _write(lake, spec, served)
    after = [d for d in shadow_days if d > holdout[1]]
    shadow = []
    for d in shadow_days:
        noise = 0.9 if after and d == after[0] else 0.3  # worse on the first day after its holdout
        for i, c in enumerate(CUSTOMERS):
            score = _score(i, d, noise)
            shadow.append({"ds": d, "model_name": MODEL, "model_version": 3, "customer_id": c, "score": score,
                           "prediction": int(score >= 0.5)})
    _write(lake, shadow_spec(MODEL, keys, "binary"), shadow)
    _write(lake, features_spec(config), [
        {"ds": d, "customer_id": c, "tenure": float(i), "spend": 10.0 * i,
         LABEL: _label(i, d) if d <= labelled_until else None}
        for d in served_days for i, c in enumerate(CUSTOMERS)])  # fmt: skip
    return config


def test_estimator_check_shadow_challenger_and_reasons(lake):
    """The page of 03-02: v2's failed estimator check, challenger v3 in shadow from 02-26 (it trained on
    02-26, its holdout 02-27 .. 02-28, then two days after it, 03-02 not yet labelled), and the riskiest
    customers with their reasons; the first page has no reasons (scored before them)."""
    config = write_binary_lake(lake, pages=DAYS, shadow_days=[date(2024, 2, 26) + timedelta(days=i) for i in range(6)],
                               labelled_until=DAYS[0], holdout=(date(2024, 2, 27), date(2024, 2, 28)))
    _write(lake, PERFORMANCE_METRICS, [_performance(DAYS[1], "estimated", auc=0.82, auc_lower=0.80, auc_upper=0.84)])
    first, second, _ = (_words(p.read_text()) for p in write_reports(lake, MODEL, DAYS, config=config))
    # 1. The estimator check of v2, which scored both days: a warning box in the performance section.
    perf = re.search(r'<section id="performance">.*?</section>', second, flags=re.S).group(0)
    box = re.search(r'<div class="warning-box">.*?</div>', perf, flags=re.S).group(0)
    assert "The performance estimator (CBPE) of version 2 failed its check at training" in box
    assert "AUC estimated <b>0.712</b> vs realised <b>0.801</b> on the holdout, allowed ±0.030" in box
    assert "alert rules on estimates abstain for this version; the realised rules still watch it." in box
    assert box.count('<span class="badge warn">outside</span>') == 1  # F1 was within its band
    assert "estimator failed its check" in second.split("</header>")[0]
    # 2. The challenger in shadow: 02-26 shown but not judged, the holdout and the days after it judged.
    shadow = re.search(r'<section id="shadow">.*?</section>', second, flags=re.S).group(0)
    assert "challenger v3 scoring in shadow since 2024-02-26" in shadow
    rows = {r[0]: r[1] for r in re.findall(r'<tr class="[^"]*"><td class="num">(\S+)</td>(.*?)</tr>', shadow, re.S)}
    assert list(rows) == ["2024-03-02", "2024-03-01", "2024-02-29", "2024-02-28", "2024-02-27", "2024-02-26"]
    assert "no labels yet" in rows["2024-03-02"] and "after holdout" in rows["2024-03-02"]
    assert "trained on" in rows["2024-02-26"] and "badge better" not in rows["2024-02-26"]
    assert "badge worse" not in rows["2024-02-26"]
    assert '<span class="badge ev-version">holdout</span>' in rows["2024-02-27"]
    assert 'badge worse">worse' in rows["2024-02-29"] and 'badge better">better' in rows["2024-03-01"]
    assert '<th colspan="2" class="metric">AUC</th><th colspan="2" class="metric">log loss</th>' in shadow
    assert '<th class="num pair">champion v2</th><th class="num">challenger v3</th>' in shadow
    assert "After its holdout (2 labelled days): AUC better on 1 of 2" in shadow
    assert "1 labelled day before its holdout: the challenger trained on it" in shadow
    assert "2024-03-01 · challenger v3 AUC" in shadow  # the chart's tooltips
    assert "The champion&#39;s scores are the ones served" in shadow
    assert '<section id="shadow">' in first and "2024-03-02" not in re.search(
        r'<section id="shadow">.*?</section>', first, flags=re.S).group(0)  # fmt: skip
    # 3. The riskiest customers of 03-02 with their reasons; none on 03-01, scored before reasons.
    risky = re.search(r'<section id="riskiest">.*?</section>', second, flags=re.S).group(0)
    assert "<h2>Riskiest customers today</h2>" in risky
    assert "<th>#</th><th>customer_id</th><th>score</th><th>prediction</th><th>reasons</th>" in risky
    assert risky.count("<tr><td class=\"num\">") == 10
    scores = [float(s) for s in re.findall(r'</b></td><td class="num">([0-9.]+)</td>', risky)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 10
    assert re.search(r'<span class="badge up" title="[^"]+">\w+ \+\d\.\d\d</span>', risky)
    assert re.search(r'<span class="badge down" title="[^"]+">\w+ −\d\.\d\d</span>', risky)
    assert 'id="riskiest"' not in first


def test_no_shadow_section_or_estimator_warning_without_them(lake):
    """Without the config there is no shadow section; a passed check is one caption line."""
    write_binary_lake(lake, pages=DAYS, shadow_days=DAYS, labelled_until=DAYS[0],
                      holdout=(date(2024, 2, 27), date(2024, 2, 28)), reasons=False, failed_estimator=False)
    *_, second, _ = (_words(p.read_text()) for p in write_reports(lake, MODEL, DAYS))
    assert 'id="shadow"' not in second and 'id="riskiest"' not in second and 'class="warning-box"' not in second
    assert ("Estimator check at training: CBPE of version 2 passed on its holdout: AUC estimated 0.795 vs realised "
            "0.801 (±0.030), F1 estimated 0.630 vs realised 0.620 (±0.060).") in second
