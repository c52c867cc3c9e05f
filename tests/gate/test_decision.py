"""The champion gate's rule, every branch, from metrics alone (no Spark, no MLflow, no lake)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lakeops.config import GateConfig
from lakeops.evaluate.metrics import Evaluation
from lakeops.gate.decision import LOST_RACE, GateCase, compare, decide, needs_evaluation

GATE = GateConfig(min_auc=0.70, max_auc_drop=0.005, max_logloss_increase_pct=2.0, max_brier_increase_pct=2.0)
CHAMPION = Evaluation(n=1000, positives=100, auc=0.80, pr_auc=0.40, logloss=0.300, brier=0.0800, ece=0.01,
                      threshold=0.3, precision=0.5, recall=0.5, f1=0.5)
GOOD = replace(CHAMPION, auc=0.81, logloss=0.295, brier=0.0790)


def case(mode="enabled", *, challenger=GOOD, champion=CHAMPION, versions=(2, 1), now=None) -> GateCase:
    challenger_version, champion_version = versions
    return GateCase(mode=mode, challenger_version=challenger_version, champion_version=champion_version,
                    champion_now=champion_version if now is None else now, challenger=challenger, champion=champion)


def test_a_better_challenger_is_promoted():
    verdict = decide(case(), gate=GATE)
    assert (verdict.decision, verdict.passed, verdict.promote) == ("promoted", True, True)
    assert verdict.reason == "passes the champion and the absolute thresholds"


def test_the_first_champion_is_judged_on_the_absolute_thresholds_only():
    # Worse than any champion could allow, but there is none: min_auc is the only rule.
    first = replace(GOOD, logloss=5.0, brier=0.9)
    verdict = decide(case(challenger=first, champion=None, versions=(1, None)), gate=GATE)
    assert (verdict.decision, verdict.passed) == ("promoted", True)
    assert verdict.reason == "passes the absolute thresholds (no champion yet)"


def test_a_first_challenger_below_min_auc_is_rejected():
    verdict = decide(case(challenger=replace(GOOD, auc=0.69), champion=None, versions=(1, None)), gate=GATE)
    assert (verdict.decision, verdict.passed, verdict.promote) == ("rejected", False, False)
    assert verdict.reason == "AUC 0.6900 < min_auc 0.7"


def test_a_worse_challenger_is_rejected_naming_every_failed_rule():
    worse = replace(CHAMPION, auc=0.79, logloss=0.31, brier=0.0820)
    verdict = decide(case(challenger=worse), gate=GATE)
    assert (verdict.decision, verdict.passed) == ("rejected", False)
    assert verdict.reason.split("; ") == [
        "AUC 0.7900 < champion 0.8000 - 0.005",
        "logloss 0.3100 > champion 0.3000 + 2.0%",
        "Brier 0.08200 > champion 0.08000 + 2.0%",
    ]


@pytest.mark.parametrize(("change", "failed"), [
    ({"auc": 0.7949}, "AUC 0.7949 < champion"),
    ({"logloss": 0.30601}, "logloss 0.3060 > champion"),
    ({"brier": 0.08161}, "Brier 0.08161 > champion"),
])
def test_each_relative_rule_fails_alone(change, failed):
    passed, reason = compare(GATE, replace(CHAMPION, **change), CHAMPION)
    assert not passed and reason.startswith(failed) and ";" not in reason


def test_the_limits_themselves_pass():
    # At exactly the allowed drop and increases (2 % of 0.3 and of 0.08, computed as the gate does).
    edge = replace(CHAMPION, auc=CHAMPION.auc - GATE.max_auc_drop, logloss=CHAMPION.logloss * 1.02,
                   brier=CHAMPION.brier * 1.02)
    assert compare(GATE, edge, CHAMPION)[0]
    assert compare(GATE, replace(GOOD, auc=GATE.min_auc), None)[0]


def test_a_nan_metric_fails_its_rule():
    passed, reason = compare(GATE, replace(GOOD, auc=math.nan), CHAMPION)
    assert not passed and reason.startswith("AUC nan < min_auc")
    assert not compare(GATE, replace(GOOD, logloss=math.nan), CHAMPION)[0]


def test_dry_run_records_pass_or_fail_and_moves_nothing():
    passing = decide(case("dry_run"), gate=GATE)
    failing = decide(case("dry_run", challenger=replace(GOOD, auc=0.5)), gate=GATE)
    assert (passing.decision, passing.passed, passing.promote) == ("dry_run_pass", True, False)
    assert (failing.decision, failing.passed, failing.promote) == ("dry_run_fail", False, False)
    # A dry run moves nothing, so a champion that changed meanwhile does not matter.
    assert decide(case("dry_run", now=7), gate=GATE).decision == "dry_run_pass"


def test_disabled_promotes_without_comparison():
    verdict = decide(case("disabled", challenger=None, champion=None), gate=GATE)
    assert (verdict.decision, verdict.passed, verdict.promote) == ("promoted", None, True)
    assert verdict.reason == "gate disabled: promoted without comparison"


@pytest.mark.parametrize("mode", ["enabled", "dry_run", "disabled"])
def test_a_challenger_that_already_is_the_champion_is_skipped(mode):
    verdict = decide(case(mode, challenger=None, champion=None, versions=(3, 3)), gate=GATE)
    assert (verdict.decision, verdict.passed, verdict.promote) == ("skipped", None, False)
    assert verdict.reason == "the challenger is already the champion"


@pytest.mark.parametrize(("champion_version", "now"), [(1, 5), (None, 5)])
def test_a_passing_challenger_loses_a_race_when_the_champion_changed(champion_version, now):
    verdict = decide(case(champion=CHAMPION if champion_version else None, versions=(4, champion_version), now=now),
                     gate=GATE)
    assert (verdict.decision, verdict.passed, verdict.promote) == ("rejected", False, False)
    assert verdict.reason == LOST_RACE


def test_a_failing_challenger_gives_its_own_reason_even_when_the_champion_changed():
    verdict = decide(case(challenger=replace(GOOD, auc=0.5), now=9), gate=GATE)
    assert verdict.decision == "rejected" and verdict.reason.startswith("AUC 0.5000 < min_auc")


def test_comparing_without_the_challengers_metrics_is_a_bug():
    with pytest.raises(ValueError, match="evaluate the challenger"):
        decide(case(challenger=None), gate=GATE)


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
