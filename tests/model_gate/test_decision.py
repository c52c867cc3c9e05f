"""The champion gate's rule, every branch, from metrics alone (no Spark, no MLflow, no lake)."""

from __future__ import annotations

import math

import pytest

from lakeops.config import GateConfig, GateThreshold, ModelConfig
from lakeops.constants import PROBLEM_METRICS
from lakeops.model_gate.decision import LOST_RACE, WHOLE, GateCase, Measured, check, decide, needs_evaluation, summarise

#: The binary gate of earlier releases (min_auc 0.70, max_auc_drop 0.005, +2 % logloss and Brier), as
#: ModelConfig.gate_thresholds maps it: given as those fields, and left to their defaults.
_BASE = {"name": "m", "entity_keys": ["k"], "sources": {"observations": "raw.a", "labels": "raw.b"}, "label": "y",
         "features": {"sql": "f.sql"}}
BINARY = ModelConfig(**_BASE, gate=GateConfig(min_auc=0.70, max_auc_drop=0.005, max_logloss_increase_pct=2.0,
                                              max_brier_increase_pct=2.0)).gate_thresholds
assert ModelConfig(**_BASE).gate_thresholds == BINARY
DIRECTIONS = PROBLEM_METRICS["binary"]
CHAMPION = {"auc": 0.80, "pr_auc": 0.40, "logloss": 0.300, "brier": 0.0800}
GOOD = {"auc": 0.81, "pr_auc": 0.41, "logloss": 0.295, "brier": 0.0790}


def measured(values: dict[str, float], *, rows: int = 1000, slices: dict | None = None) -> Measured:
    metrics = {WHOLE: values, **(slices or {})}
    return Measured(rows={p: rows for p in metrics}, metrics=metrics)


def case(mode="enabled", *, challenger=GOOD, champion=CHAMPION, versions=(2, 1), now=None) -> GateCase:
    challenger_version, champion_version = versions
    return GateCase(mode=mode, challenger_version=challenger_version, champion_version=champion_version,
                    champion_now=champion_version if now is None else now,
                    challenger=measured(challenger) if challenger is not None else None,
                    champion=measured(champion) if champion is not None else None)


def judge(c: GateCase, thresholds=BINARY, directions=DIRECTIONS, **kwargs):
    return decide(c, thresholds=thresholds, directions=directions, **kwargs)


def compare(challenger: dict, champion: dict | None, thresholds=BINARY) -> tuple[bool, str]:
    checks = [check(t, measured(challenger), measured(champion) if champion else None, directions=DIRECTIONS)
              for t in thresholds]
    return summarise(checks, has_champion=champion is not None)


def test_the_binary_gate_of_earlier_releases_maps_onto_thresholds():
    assert [(t.metric, t.threshold, t.min_absolute_change, t.min_relative_change) for t in BINARY] == [
        ("auc", 0.70, -0.005, None), ("logloss", None, None, -0.02), ("brier", None, None, -0.02)]


def test_a_better_challenger_is_promoted():
    verdict = judge(case())
    assert (verdict.decision, verdict.passed, verdict.promote) == ("promoted", True, True)
    assert verdict.reason == "passes the champion and the absolute thresholds"
    assert [c.passed for c in verdict.checks] == [True, True, True]
    assert verdict.checks[0].challenger == 0.81 and verdict.checks[0].champion == 0.80


def test_the_first_champion_is_judged_on_the_absolute_thresholds_only():
    # Worse than any champion could allow, but there is none: the AUC floor is the only rule.
    first = {**GOOD, "logloss": 5.0, "brier": 0.9}
    verdict = judge(case(challenger=first, champion=None, versions=(1, None)))
    assert (verdict.decision, verdict.passed) == ("promoted", True)
    assert verdict.reason == "passes the absolute thresholds (no champion yet)"


def test_a_first_challenger_below_the_auc_floor_is_rejected():
    verdict = judge(case(challenger={**GOOD, "auc": 0.69}, champion=None, versions=(1, None)))
    assert (verdict.decision, verdict.passed, verdict.promote) == ("rejected", False, False)
    assert verdict.reason == "AUC 0.69 < 0.7"


def test_a_worse_challenger_is_rejected_naming_every_failed_rule():
    verdict = judge(case(challenger={**CHAMPION, "auc": 0.79, "logloss": 0.31, "brier": 0.0820}))
    assert (verdict.decision, verdict.passed) == ("rejected", False)
    assert verdict.reason.split("; ") == [
        "AUC 0.79 vs champion 0.8: change -0.01 < -0.005",
        "logloss 0.31 vs champion 0.3: relative change -3.33% < -2.00%",
        "Brier 0.082 vs champion 0.08: relative change -2.50% < -2.00%",
    ]


@pytest.mark.parametrize(("change", "failed"), [
    ({"auc": 0.7949}, "AUC 0.7949 vs champion"),
    ({"logloss": 0.30601}, "logloss 0.306 vs champion"),
    ({"brier": 0.08161}, "Brier 0.08161 vs champion"),
])
def test_each_relative_rule_fails_alone(change, failed):
    passed, reason = compare({**CHAMPION, **change}, CHAMPION)
    assert not passed and reason.startswith(failed) and ";" not in reason


def test_the_limits_themselves_pass():
    # At exactly the allowed drop and increases (2 % of 0.3 and of 0.08, computed as the gate does).
    edge = {**CHAMPION, "auc": 0.80 - 0.005, "logloss": 0.300 * 1.02, "brier": 0.0800 * 1.02}
    assert compare(edge, CHAMPION)[0]
    assert compare({**GOOD, "auc": 0.70}, None)[0]


def test_a_nan_challenger_metric_fails_its_rule():
    passed, reason = compare({**GOOD, "auc": math.nan}, CHAMPION)
    assert not passed and reason.startswith("AUC nan < 0.7")
    assert not compare({**GOOD, "logloss": math.nan}, CHAMPION)[0]
    # A metric the evaluation did not give at all is NaN too.
    assert not compare({"auc": 0.9}, CHAMPION)[0]


def test_a_nan_champion_metric_is_not_compared_and_says_so():
    passed, reason = compare(GOOD, {**CHAMPION, "logloss": math.nan})
    assert passed and "logloss: the champion's value is not a number, not compared" in reason


REGRESSION = (GateThreshold(metric="rmse", min_relative_change=-0.02), GateThreshold(metric="r2", threshold=0.3),
              GateThreshold(metric="mae", min_absolute_change=0.0, slice_key="region", slice_value="eu"))


def regression_case(challenger: dict, champion: dict, *, eu_rows: int = 500):
    slices = {("region", "eu"): {"mae": challenger.pop("eu_mae")}}
    champion_slices = {("region", "eu"): {"mae": champion.pop("eu_mae")}}
    ch = Measured(rows={WHOLE: 1000, ("region", "eu"): eu_rows}, metrics={WHOLE: challenger, **slices})
    cp = Measured(rows={WHOLE: 1000, ("region", "eu"): eu_rows}, metrics={WHOLE: champion, **champion_slices})
    return GateCase(mode="enabled", challenger_version=2, champion_version=1, champion_now=1, challenger=ch, champion=cp)


def test_regression_thresholds_lower_is_better_and_slices():
    directions = PROBLEM_METRICS["regression"]
    better = regression_case({"rmse": 9.0, "r2": 0.5, "eu_mae": 6.0}, {"rmse": 10.0, "r2": 0.45, "eu_mae": 6.5})
    assert judge(better, REGRESSION, directions, min_slice_rows=100).decision == "promoted"
    # RMSE 3 % worse fails (2 % allowed); the eu slice's MAE worse fails; both named.
    worse = regression_case({"rmse": 10.3, "r2": 0.5, "eu_mae": 6.6}, {"rmse": 10.0, "r2": 0.45, "eu_mae": 6.5})
    verdict = judge(worse, REGRESSION, directions, min_slice_rows=100)
    assert verdict.decision == "rejected"
    assert [c.passed for c in verdict.checks] == [False, True, False]
    assert "MAE on region=eu 6.6 vs champion 6.5" in verdict.reason
    # The same slice with too few rows is not judged: the rest decides.
    small = regression_case({"rmse": 9.0, "r2": 0.5, "eu_mae": 9.9}, {"rmse": 10.0, "r2": 0.45, "eu_mae": 6.5},
                            eu_rows=50)
    verdict = judge(small, REGRESSION, directions, min_slice_rows=100)
    assert verdict.decision == "promoted" and verdict.checks[2].passed is None
    assert "not judged, 50 labelled rows < gate.min_slice_rows 100" in verdict.reason


def test_higher_is_better_can_be_overridden():
    t = GateThreshold(metric="auc", threshold=0.3, higher_is_better=False)
    assert check(t, measured({"auc": 0.2}), None, directions=DIRECTIONS).passed is True
    assert check(t, measured({"auc": 0.4}), None, directions=DIRECTIONS).passed is False


def test_dry_run_records_pass_or_fail_and_moves_nothing():
    passing = judge(case("dry_run"))
    failing = judge(case("dry_run", challenger={**GOOD, "auc": 0.5}))
    assert (passing.decision, passing.passed, passing.promote) == ("dry_run_pass", True, False)
    assert (failing.decision, failing.passed, failing.promote) == ("dry_run_fail", False, False)
    # A dry run moves nothing, so a champion that changed meanwhile does not matter.
    assert judge(case("dry_run", now=7)).decision == "dry_run_pass"


def test_disabled_promotes_without_comparison():
    verdict = judge(case("disabled", challenger=None, champion=None))
    assert (verdict.decision, verdict.passed, verdict.promote) == ("promoted", None, True)
    assert verdict.reason == "gate disabled: promoted without comparison"


@pytest.mark.parametrize("mode", ["enabled", "dry_run", "disabled"])
def test_a_challenger_that_already_is_the_champion_is_skipped(mode):
    verdict = judge(case(mode, challenger=None, champion=None, versions=(3, 3)))
    assert (verdict.decision, verdict.passed, verdict.promote) == ("skipped", None, False)
    assert verdict.reason == "the challenger is already the champion"


@pytest.mark.parametrize(("champion_version", "now"), [(1, 5), (None, 5)])
def test_a_passing_challenger_loses_a_race_when_the_champion_changed(champion_version, now):
    verdict = judge(case(champion=CHAMPION if champion_version else None, versions=(4, champion_version), now=now))
    assert (verdict.decision, verdict.passed, verdict.promote) == ("rejected", False, False)
    assert verdict.reason == LOST_RACE


def test_a_disabled_gate_loses_a_race_too():
    """Without comparison the challenger would be promoted, but another version was promoted meanwhile."""
    verdict = judge(case("disabled", challenger=None, champion=None, versions=(4, None), now=5))
    assert (verdict.decision, verdict.passed, verdict.promote, verdict.reason) == ("rejected", None, False, LOST_RACE)
    assert judge(case("disabled", challenger=None, champion=None, versions=(4, None))).promote


def test_a_failing_challenger_gives_its_own_reason_even_when_the_champion_changed():
    verdict = judge(case(challenger={**GOOD, "auc": 0.5}, now=9))
    assert verdict.decision == "rejected" and verdict.reason.startswith("AUC 0.5 < 0.7")


def test_comparing_without_the_challengers_metrics_is_a_bug():
    with pytest.raises(ValueError, match="evaluate the challenger"):
        judge(case(challenger=None))


@pytest.mark.parametrize(("mode", "versions", "expected"), [
    ("enabled", (2, 1), True),
    ("dry_run", (2, 1), True),
    ("enabled", (1, None), True),
    ("disabled", (2, 1), False),
    ("enabled", (2, 2), False),
    ("dry_run", (2, 2), False),
])
def test_needs_evaluation_only_when_something_is_compared(mode, versions, expected):
    assert needs_evaluation(mode=mode, challenger_version=versions[0], champion_version=versions[1]) is expected
