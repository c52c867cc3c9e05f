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
                     reference_auc=0.87)
    (floor,) = judge(AlertRule(name="r", when="estimated_auc", below=0.75), facts)
    (drop,) = judge(AlertRule(name="r", when="estimated_auc", max_drop=0.05), facts)
    assert not floor.met and drop.met and abs(drop.threshold - 0.82) < 1e-12
    assert json.loads(drop.evidence_json())["training_auc"] == 0.87


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
    facts = DayFacts(DS, 1, quality=rows)
    (j,) = judge(AlertRule(name="r", when="data_quality"), facts)
    assert j.met and j.value == 1 and not facts.quality_failed  # a warning, not a failed gate
    assert DayFacts(DS, 1, quality=[{**rows[1], "success": False}]).quality_failed


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
