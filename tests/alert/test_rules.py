"""Each rule's condition on one day, from hand-made monitoring rows (pure)."""

from __future__ import annotations

import json
from datetime import date

from lakeops.alert.rules import DayFacts, judge
from lakeops.config import AlertRule

DS = date(2024, 3, 5)


def drift(column, status, *, slice_value=None, psi=0.3, kind="numeric"):
    return {"column_name": column, "column_type": kind, "drift_type": "baseline", "slice_key": "region" if slice_value
            else None, "slice_value": slice_value, "psi": psi, "psi_noise_floor": 0.05, "status": status,
            "alert_threshold": 0.25, "n_current": 400, "n_baseline": 4000}


def test_features_drifted_counts_features_at_alert_per_slice():
    rows = [drift("a", "alert"), drift("b", "alert"), drift("c", "warn"), drift("score", "alert", kind="score"),
            drift("a", "alert", slice_value="eu"), drift("b", "ok", slice_value="eu"),
            {**drift("d", "alert"), "drift_type": "consecutive"}]
    rule = AlertRule(name="r", when="features_drifted", at_least=2, per_slice=True)
    whole, eu = judge(rule, DayFacts(DS, 1, drift=rows))
    assert (whole.met, whole.value, eu.slice, eu.met, eu.value) == (True, 2.0, ("region", "eu"), False, 1.0)
    assert [e["column"] for e in whole.evidence["features_at_alert"]] == ["a", "b"]  # not the score, not consecutive
    assert "2 of 3 features" in whole.summary


def test_score_drifted():
    (j,) = judge(AlertRule(name="r", when="score_drifted"), DayFacts(DS, 1, drift=[drift("score", "alert", psi=0.4,
                                                                                             kind="score")]))
    assert j.met and j.value == 0.4 and j.threshold == 0.25
    (quiet,) = judge(AlertRule(name="r", when="score_drifted"), DayFacts(DS, 1, drift=[]))
    assert not quiet.met and quiet.value is None


def test_estimated_auc_floor_and_drop_from_training():
    facts = DayFacts(DS, 1, estimated={(None, None): {"auc": 0.80, "n_scored": 500, "n_labeled": 0}},
                     reference={"auc": 0.87})
    (floor,) = judge(AlertRule(name="r", when="estimated_auc", below=0.75), facts)
    (drop,) = judge(AlertRule(name="r", when="estimated_auc", max_drop=0.05), facts)
    assert not floor.met and drop.met and abs(drop.threshold - 0.82) < 1e-12
    assert json.loads(drop.evidence_json())["training_auc"] == 0.87
    assert drop.evidence["judged_on"] == "value"  # no band stored: the value alone


# The small fleet: holdout AUC 0.866, an estimate of 0.743 whose band 0.632-0.854 holds the
# threshold 0.816; the estimator's check at training had passed.
SMALL_FLEET = {"problem_type": "binary", "holdout_rows": 600, "auc": 0.866, "auc_sd": 0.03, "cbpe_auc": 0.85,
               "f1": 0.3, "f1_sd": 0.05, "cbpe_f1": 0.31}


def estimate(auc, lower, upper, n=300):
    return {(None, None): {"auc": auc, "auc_lower": lower, "auc_upper": upper, "n_scored": n, "n_labeled": 0}}


def test_estimated_rule_fires_only_when_the_whole_band_is_below():
    rule = AlertRule(name="r", when="estimated_auc", max_drop=0.05, below=0.75)
    (inside,) = judge(rule, DayFacts(DS, 1, estimated=estimate(0.743, 0.632, 0.854), reference=SMALL_FLEET))
    # The estimate's reference is the estimator's own holdout value: 0.85 - 0.05.
    assert not inside.met and abs(inside.threshold - 0.80) < 1e-12
    assert inside.evidence["judged_on"] == "band" and "not wholly below" in inside.summary
    (below,) = judge(rule, DayFacts(DS, 1, estimated=estimate(0.70, 0.66, 0.74), reference=SMALL_FLEET))
    assert below.met and "wholly below 0.8" in below.summary
    point = AlertRule(name="r", when="estimated_auc", max_drop=0.05, below=0.75, uncertainty="point")
    (old,) = judge(point, DayFacts(DS, 1, estimated=estimate(0.743, 0.632, 0.854), reference=SMALL_FLEET))
    assert old.met and old.evidence["judged_on"] == "value"  # what the release before did


def test_estimated_rules_abstain_when_the_estimator_failed_its_check():
    failed = {**SMALL_FLEET, "cbpe_auc": 0.70}  # 0.166 from the realised 0.866: outside 3 x 0.03
    facts = DayFacts(DS, 1, estimated=estimate(0.60, 0.55, 0.65), reference=failed)
    assert facts.estimator.failed and "FAILED" in facts.estimator.summary()
    (j,) = judge(AlertRule(name="r", when="estimated_auc", below=0.75), facts)
    assert not j.met and "failed its check" in j.summary and "FAILED" in j.evidence["estimator_check"]
    # The realised rule still watches a model whose estimator failed.
    realised = DayFacts(DS, 1, realised_ds=DS, reference=failed,
                        realised={(None, None): {"auc": 0.60, "n_scored": 2000, "n_labeled": 2000}})
    (r,) = judge(AlertRule(name="r", when="realised_auc", below=0.75), realised)
    assert r.met


def test_realised_rule_on_a_small_day_uses_its_sampling_band():
    def day(n):
        return DayFacts(DS, 1, realised_ds=DS, reference=SMALL_FLEET,
                        realised={(None, None): {"auc": 0.733, "n_scored": n, "n_labeled": n}})

    rule = AlertRule(name="r", when="realised_auc", below=0.75)
    (small,) = judge(rule, day(300))
    # sd at 300 rows: 0.03 * sqrt(600 / 300); the band reaches 0.733 + 3 * 0.0424 = 0.860.
    assert not small.met and abs(small.evidence["auc_upper"] - (0.733 + 3 * 0.03 * 2 ** 0.5)) < 1e-6
    (large,) = judge(rule, day(60_000))  # a tenth of the sd: 0.733 + 0.009 < 0.75
    assert large.met


def test_regression_error_band_and_estimator_reference():
    ref = {"problem_type": "regression", "holdout_rows": 1000, "mae": 10.0, "rmse": 14.0, "abs_error_sd": 9.0,
           "squared_error_sd": 300.0, "dle_mae": 10.5, "dle_rmse": 14.2}
    rule = AlertRule(name="r", when="estimated_mae", max_rise_pct=10)
    row = {(None, None): {"mae": 11.7, "mae_lower": 11.4, "mae_upper": 12.0, "n_scored": 1000, "n_labeled": 0}}
    (j,) = judge(rule, DayFacts(DS, 1, estimated=row, reference=ref))
    assert abs(j.threshold - 11.55) < 1e-9 and not j.met  # 10.5 (DLE's own holdout MAE) + 10 %; 11.4 is below
    realised = {(None, None): {"mae": 11.7, "n_scored": 100, "n_labeled": 100}}
    (r,) = judge(AlertRule(name="r", when="realised_mae", max_rise_pct=10), DayFacts(DS, 1, realised_ds=DS,
                                                                                     realised=realised, reference=ref))
    # 100 rows: the band is 11.7 -+ 3 * 9 / 10 = 2.7: from 9.0, not wholly above 11.0.
    assert not r.met and abs(r.evidence["mae_lower"] - 9.0) < 1e-9 and abs(r.threshold - 11.0) < 1e-9


def test_class_recall_uses_wilson_band_on_few_labels():
    from scipy.stats import binomtest, norm  # an independent implementation of Wilson's interval

    facts = DayFacts(DS, 1, realised_ds=DS, classes=("disk",),
                     class_realised={"disk": {"recall": 0.2, "support": 10, "predicted": 3, "precision": 0.5}})
    (j,) = judge(AlertRule(name="r", when="class_recall", below=0.5), facts)
    low, high = binomtest(2, 10).proportion_ci(confidence_level=1 - 2 * norm.sf(3), method="wilson")  # z = 3
    assert abs(j.evidence["recall_upper"] - high) < 1e-6 and abs(j.evidence["recall_lower"] - low) < 1e-6
    assert not j.met  # 0.2 of 10 rows: the band reaches 0.6
    (point,) = judge(AlertRule(name="r", when="class_recall", below=0.5, uncertainty="point"), facts)
    assert point.met


def test_realised_auc_reads_the_day_whose_labels_arrived():
    facts = DayFacts(DS, 1, realised_ds=date(2024, 3, 4),
                     realised={(None, None): {"auc": 0.70, "n_scored": 500, "n_labeled": 500}})
    (j,) = judge(AlertRule(name="r", when="realised_auc", below=0.75), facts)
    assert j.met and "2024-03-04" in j.summary
    unlabeled = DayFacts(DS, 1, realised={(None, None): {"auc": None, "n_scored": 500, "n_labeled": 0}})
    (none,) = judge(AlertRule(name="r", when="realised_auc", below=0.75), unlabeled)
    assert not none.met


def test_data_quality_and_the_gate():
    rows = [{"stage": "raw", "expectation": "nulls", "policy": "warn", "success": False},
            {"stage": "features", "expectation": "rows", "policy": "fail", "success": True}]
    facts = DayFacts(DS, 1, data_quality=rows)
    (j,) = judge(AlertRule(name="r", when="data_quality"), facts)
    assert j.met and j.value == 1 and not facts.quality_failed  # a warning, not a failed gate
    assert DayFacts(DS, 1, data_quality=[{**rows[1], "success": False}]).quality_failed


def test_attribution_drift_below_default_floor():
    rows = [{"feature": "b", "ndcg": 0.85, "rank": 2, "reference_rank": 1, "mover": 2, "share": 0.3},
            {"feature": "c", "ndcg": 0.85, "rank": 3, "reference_rank": 3, "mover": None, "share": 0.1},
            {"feature": "a", "ndcg": 0.85, "rank": 1, "reference_rank": 3, "mover": 1, "share": 0.6}]
    rows = [{**r, "threshold": 0.9, "status": "alert"} for r in rows]
    (j,) = judge(AlertRule(name="r", when="attribution_drift"), DayFacts(DS, 1, attribution=rows))
    assert j.met and j.threshold == 0.9
    assert [m["feature"] for m in j.evidence["top_movers"]] == ["a", "b"]
    (ok,) = judge(AlertRule(name="r", when="attribution_drift", below=0.8), DayFacts(DS, 1, attribution=rows))
    assert not ok.met
