"""A multiclass model through the whole loop, on one generated lake: ``incident_kind``.

400 hosts; trained on January, scored and monitored from Feb 2 to Feb 14 with a covariate
shift injected on Feb 13 (latency observed x1.6, a new OS version, wider inbound traffic).
Everything is compared with an independent computation: scikit-learn for the realised
metrics and the confusion matrix, numpy for CBPE's expected values (one-vs-rest, as NannyML
defines them), MLflow's pyfunc for the stored probabilities; the SQL queries answer on
both engines.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from looplake import assert_monitor_on_spark_writes_the_same
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from lakeops import registry, stages
from lakeops.dates import date_range

pytestmark = pytest.mark.slow

MODEL = "incident_kind"
TRAIN_DS = date(2024, 2, 1)
SHIFT = date(2024, 2, 13)
DAYS = date_range(date(2024, 2, 2), date(2024, 2, 14))
STATIONARY = [d for d in DAYS if d < SHIFT]
HOSTS = 400
QUERIES = Path(__file__).resolve().parents[2] / "sql" / "queries"


@pytest.fixture(scope="module")
def loop(tmp_path_factory, spark):
    from lakeops.config import load_settings

    root = tmp_path_factory.mktemp("multiclass") / "lake"
    settings = load_settings(env="test", lake_root=str(root), overrides=[f"models.{MODEL}.train.search.trials=1"])
    stages.run_generate(settings, start=date(2023, 12, 25), end=DAYS[-1], hosts=HOSTS, seed=3, drift_start=SHIFT)
    stages.run_prepare(settings, MODEL, days=date_range(date(2024, 1, 1), DAYS[-1]))
    trained = stages.run_train(settings, MODEL, ds=TRAIN_DS)
    decided = stages.run_validate(settings, MODEL, ds=TRAIN_DS)
    stages.run_score(settings, MODEL, days=DAYS)
    stages.run_monitor(settings, MODEL, days=DAYS)
    alerted = stages.run_alerts(settings, MODEL, days=DAYS)
    lake = stages.open_lake(settings)
    return settings, lake, trained, decided, alerted


def _read(lake, table, **where) -> pd.DataFrame:
    return lake.read_arrow(table, where={k: v if isinstance(v, list) else [v] for k, v in where.items()}).to_pandas()


def _classes(settings) -> list[str]:
    return list(settings.model(MODEL).classes)


def _joined(lake) -> pd.DataFrame:
    preds = _read(lake, f"predictions.{MODEL}")
    features = _read(lake, f"features.{MODEL}", ds=DAYS)
    return preds.merge(features, on=["ds", "host_id"], how="left")


def test_training_registers_a_calibrated_multiclass_model(loop):
    settings, lake, trained, decided, _ = loop
    classes = _classes(settings)
    assert decided.decision == "promoted" and "no champion yet" in decided.reason
    assert trained.holdout["auc"] > 0.75 and 0.9 < trained.holdout["accuracy"] < 1
    registry.setup(settings.mlflow, lake.root)
    loaded = registry.load(MODEL, version=trained.version)
    assert loaded.problem_type == "multiclass" and list(loaded.calibration.classes) == classes
    assert 0.05 < loaded.calibration.temperature < 20
    ref = _read(lake, "ml.performance_reference", model_name=MODEL).iloc[0]
    assert ref["problem_type"] == "multiclass" and list(ref["classes"]) == classes
    assert math.isclose(ref["accuracy"], trained.holdout["accuracy"]) and ref["accuracy_sd"] > 0
    assert ref["calibration_temperature"] == loaded.calibration.temperature
    # CBPE run on the holdout's probabilities alone estimates its accuracy within the band it would give there.
    assert abs(ref["cbpe_accuracy"] - ref["accuracy"]) < 3 * ref["accuracy_sd"]
    assert 0.5 < ref["cbpe_auc"] < 1 and 0 < ref["cbpe_f1"] < 1
    # The temperature was fitted on the validation rows; on the untouched holdout it did not make logloss worse.
    assert trained.holdout["logloss"] <= trained.holdout["uncalibrated_logloss"] * 1.02
    gate = _read(lake, "ml.model_validations")
    row = gate[gate["model_name"] == MODEL].iloc[0]
    assert row["problem_type"] == "multiclass" and [c["metric"] for c in row["checks"]] == ["logloss", "macro_f1", "auc"]
    metrics = {m["metric"]: m["value"] for m in row["challenger_metrics"]}
    assert math.isclose(metrics["accuracy"], trained.holdout["accuracy"], rel_tol=1e-9)
    assert {f"recall_{c}" for c in classes} <= set(metrics)


def test_stored_probabilities_are_what_the_pyfunc_model_predicts(loop):
    settings, lake, trained, _, _ = loop
    classes = _classes(settings)
    rows = _joined(lake)
    scores = rows[[f"score_{c}" for c in classes]].to_numpy()
    assert np.allclose(scores.sum(axis=1), 1.0)
    # The predicted class is the most probable one; confidence is its probability.
    assert (rows["prediction"].to_numpy() == np.asarray(classes, dtype=object)[scores.argmax(axis=1)]).all()
    assert np.array_equal(rows["confidence"].to_numpy(), scores.max(axis=1))
    registry.setup(settings.mlflow, lake.root)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/{trained.version}")
    sample = rows.sample(200, random_state=0)
    predicted = pyfunc.predict(sample[list(registry.load(MODEL, version=trained.version).features)])
    assert list(predicted.columns) == [f"score_{c}" for c in classes]
    assert np.allclose(predicted.to_numpy(), sample[[f"score_{c}" for c in classes]].to_numpy(), atol=1e-6, rtol=0)


def test_realised_metrics_and_confusion_matrix_equal_scikit_learn_per_day_and_slice(loop):
    settings, lake, _, _, _ = loop
    classes = _classes(settings)
    rows = _joined(lake)
    perf = _read(lake, "ml.performance_metrics", model_name=MODEL)
    per_class = _read(lake, "ml.class_metrics", model_name=MODEL)
    cells = _read(lake, "ml.confusion_matrix", model_name=MODEL)
    realised = perf[perf["kind"] == "realised"]
    assert len(realised[realised["slice_key"].isna()]) >= len(DAYS) - 1  # the newest day has no labels yet
    for _, r in realised.iterrows():
        day = rows[rows["ds"] == r["ds"]]
        if r["slice_key"] is not None:
            day = day[day[r["slice_key"]] == r["slice_value"]]
        labelled = day[day["incident_kind_next_day"].notna()]
        y, pred = labelled["incident_kind_next_day"].to_numpy(), labelled["prediction"].to_numpy()
        p = labelled[[f"score_{c}" for c in classes]].to_numpy()
        assert r["n_labeled"] == len(y) and r["n_scored"] == len(day)
        assert math.isclose(r["accuracy"], accuracy_score(y, pred), rel_tol=1e-12)
        assert math.isclose(r["f1"], f1_score(y, pred, average="macro", zero_division=0),
                            rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(r["weighted_f1"], f1_score(y, pred, average="weighted", zero_division=0),
                            rel_tol=1e-9, abs_tol=1e-12)
        # scikit-learn orders string labels alphabetically: give it the class indexes, as the columns are ordered.
        y_index = [classes.index(v) for v in y]
        assert math.isclose(r["logloss"], log_loss(y_index, p, labels=list(range(len(classes)))), rel_tol=1e-9)
        where = ((per_class["ds"] == r["ds"]) & (per_class["kind"] == "realised")
                 & (per_class["slice_value"] == r["slice_value"] if r["slice_key"] is not None
                    else per_class["slice_key"].isna()))
        mine = per_class[where].set_index("class_name")
        precision, recall, _, support = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
        for k, c in enumerate(classes):
            assert mine.loc[c, "support"] == support[k]
            if support[k]:
                assert math.isclose(mine.loc[c, "recall"], recall[k], rel_tol=1e-12)
            if (pred == c).any():
                assert math.isclose(mine.loc[c, "precision"], precision[k], rel_tol=1e-12)
        if r["slice_key"] is None:
            matrix = cells[(cells["ds"] == r["ds"]) & (cells["kind"] == "realised") & cells["slice_key"].isna()]
            mine_cm = matrix.pivot(index="actual", columns="predicted", values="rows").loc[classes, classes]
            assert np.array_equal(mine_cm.to_numpy(), confusion_matrix(y, pred, labels=classes))


def test_cbpe_estimates_equal_their_definition_and_hold_their_band(loop):
    settings, lake, _, _, _ = loop
    classes = _classes(settings)
    rows = _joined(lake)
    perf = _read(lake, "ml.performance_metrics", model_name=MODEL)
    whole = perf[perf["slice_key"].isna()]
    est = whole[whole["kind"] == "estimated"].set_index("ds")
    real = whole[whole["kind"] == "realised"].set_index("ds")
    for d in (DAYS[0], DAYS[-1]):
        p = rows[rows["ds"] == d][[f"score_{c}" for c in classes]].to_numpy()
        predicted = p.argmax(axis=1)
        # Expected accuracy: the mean probability of the predicted class; expected precision of class k:
        # the mean probability of k over the rows predicted k (CBPE one-vs-rest, NannyML's definitions).
        assert math.isclose(est.loc[d, "accuracy"], p.max(axis=1).mean(), rel_tol=1e-9)
        precisions = [p[predicted == k, k].mean() for k in range(len(classes)) if (predicted == k).any()]
        recalls = [p[predicted == k, k].sum() / p[:, k].sum() for k in range(len(classes))]
        if len(precisions) == len(classes):
            assert math.isclose(est.loc[d, "precision"], float(np.mean(precisions)), rel_tol=1e-9)
        assert math.isclose(est.loc[d, "recall"], float(np.mean(recalls)), rel_tol=1e-9)
    # Reconciliation: on the stationary days the realised accuracy falls within the estimate's band.
    inside = [bool(real.loc[d, "accuracy_in_band"]) for d in STATIONARY
              if d in real.index and real.loc[d, "accuracy_in_band"] is not None]
    assert len(inside) >= len(STATIONARY) - 1 and sum(inside) >= 0.9 * len(inside), inside
    assert (est.loc[STATIONARY, "accuracy_lower"] < est.loc[STATIONARY, "accuracy"]).all()


def test_every_class_probability_and_the_predicted_class_are_watched_for_drift(loop):
    settings, lake, _, _, alerted = loop
    classes = _classes(settings)
    drift = _read(lake, "ml.drift_metrics", model_name=MODEL)
    base = drift[drift["slice_key"].isna() & (drift["drift_type"] == "baseline")]
    types = base.groupby("column_name")["column_type"].first()
    assert types["prediction"] == "class" and all(types[f"score_{c}"] == "score" for c in classes)
    assert (base.groupby("column_name").size()[["prediction", *[f"score_{c}" for c in classes]]] == len(DAYS)).all()
    predicted = base[base["column_name"] == "prediction"]
    assert predicted["chi2_pvalue"].notna().all()  # the predicted class is compared like a categorical column
    alerts = pd.DataFrame(alerted.rows)
    assert "features_drifted" in set(alerts["kind"])
    # Nothing fires on the early stationary days but data quality.
    early = alerts[alerts["ds"].isin(STATIONARY[:8]) & (alerts["state"] == "firing")]
    assert set(early["kind"]) <= {"data_quality"}, early[["ds", "rule", "summary"]]


def test_the_multiclass_queries_answer_from_the_lake_on_both_engines(loop):
    from lakeops.sql import query, query_spark

    settings, lake, _, _, _ = loop
    classes = _classes(settings)
    params = {"model": MODEL, "start": DAYS[0], "end": DAYS[-1]}
    text = (QUERIES / "which_class_is_getting_worse.sql").read_text()
    worse = query(lake.root, text, params=params).to_pylist()
    assert sorted(r["class_name"] for r in worse) == sorted(classes)
    changes = [r["recall_change"] for r in worse if r["recall_change"] is not None]
    assert changes == sorted(changes)  # the class that lost most recall first
    per_class = _read(lake, "ml.class_metrics", model_name=MODEL)
    realised = per_class[(per_class["kind"] == "realised") & per_class["slice_key"].isna()]
    for r in worse:
        mine = realised[realised["class_name"] == r["class_name"]].sort_values("ds")
        assert r["labelled_rows"] == mine["support"].sum()
        assert r["last_recall"] == mine["recall"].iloc[-1] or (r["last_recall"] is None and mine["recall"].isna().iloc[-1])
    spark_rows = query_spark(lake, text, params=params).to_pylist()
    assert [r["class_name"] for r in spark_rows] == [r["class_name"] for r in worse]

    text = (QUERIES / "confusion_matrix_on_a_day.sql").read_text()
    matrix = query(lake.root, text, params={"model": MODEL, "ds": DAYS[0]}).to_pylist()
    assert len(matrix) == 2 * len(classes) ** 2  # realised and estimated
    realised_cells = [m for m in matrix if m["kind"] == "realised"]
    rows = _joined(lake)
    labelled = rows[(rows["ds"] == DAYS[0]) & rows["incident_kind_next_day"].notna()]
    assert sum(m["rows"] for m in realised_cells) == len(labelled)
    diagonal = {m["actual"]: m["share_of_actual"] for m in realised_cells if m["correct"]}
    recall = per_class[(per_class["ds"] == DAYS[0]) & (per_class["kind"] == "realised")
                       & per_class["slice_key"].isna()].set_index("class_name")["recall"]
    for c in classes:
        if diagonal[c] is not None:
            assert math.isclose(diagonal[c], recall[c], rel_tol=1e-12)


def test_the_driver_and_a_spark_job_measure_the_same_performance(loop, monkeypatch):
    """A few days of a small fleet are joined and tallied on the driver, more rows in one Spark job: the
    same rows either way (last in this module: it rewrites them)."""
    settings, lake, *_ = loop
    tables = ("ml.performance_metrics", "ml.class_metrics", "ml.confusion_matrix")
    assert_monitor_on_spark_writes_the_same(settings, lake, MODEL, DAYS[-3:], tables, monkeypatch)
