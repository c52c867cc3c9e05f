"""The alert state machine, the debounce and the retrain cooldown (pure functions)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lakeops.alert.state import FIRING, PENDING, RESOLVED, Debounce, fingerprint, may_request_retrain, step, transition

D0 = date(2024, 3, 1)


def run(pattern: str, debounce: Debounce) -> list[str]:
    """States of a rule fed ``pattern`` (``x`` met, ``.`` not met) day by day: ``-`` for no row."""
    states, previous, met = [], None, []
    for i, c in enumerate(pattern):
        today = step(D0 + timedelta(days=i), met=c == "x", earlier=met, previous=previous, debounce=debounce)
        met.append(c == "x")
        states.append("-" if today is None else today.state[0])  # p, f, r
        previous = today
    return states


def test_fires_at_once_without_debounce_and_resolves_the_next_quiet_day():
    assert run("..xx..", Debounce()) == ["-", "-", "f", "f", "r", "-"]


def test_for_days_of_days_keeps_a_rule_pending_until_it_held_n_of_m_days():
    # 2 of 3: the first met day is pending, the second within three days fires.
    assert run("x.x...", Debounce(2, 3)) == ["p", "-", "f", "r", "-", "-"]
    # Met days too far apart never fire: each is pending alone and clears.
    assert run("x..x..x", Debounce(2, 3)) == ["p", "-", "-", "p", "-", "-", "p"]


def test_flapping_input_gives_one_firing_and_one_resolution():
    states = run("x.x.x.x.x......", Debounce(2, 3, keep_firing_days=2))
    changes = [s for prev, s in zip(["-", *states], states, strict=False) if s != prev and s in "fr"]
    assert changes == ["f", "r"]
    assert states[2:11] == ["f"] * 9  # held through every quiet day of the flapping
    assert states[11] == "r"


def test_keep_firing_days_holds_an_alert_after_it_clears():
    assert run("xx...", Debounce(keep_firing_days=2)) == ["f", "f", "f", "f", "r"]
    assert run("xx.x..", Debounce(keep_firing_days=1)) == ["f", "f", "f", "f", "f", "r"]


def test_episode_dates_and_transitions():
    d = Debounce(2, 2)
    first = step(D0, met=True, earlier=[], previous=None, debounce=d)
    assert first.state == PENDING and first.first_seen == D0 and first.firing_since is None
    second = step(D0 + timedelta(days=1), met=True, earlier=[True], previous=first, debounce=d)
    assert second.state == FIRING and second.first_seen == D0 and second.firing_since == D0 + timedelta(days=1)
    assert transition(first, second) == FIRING and transition(second, second) is None
    third = step(D0 + timedelta(days=2), met=False, earlier=[True, True], previous=second, debounce=d)
    assert third.state == RESOLVED and third.last_seen == D0 + timedelta(days=1) and third.firing_since == second.firing_since
    assert transition(second, third) == RESOLVED
    assert transition(None, first) is None  # pending notifies no one


def test_fingerprint_is_stable_and_distinct():
    a = fingerprint("m", "drift", "region", "eu")
    assert a == fingerprint("m", "drift", "region", "eu") and len(a) == 16
    assert len({a, fingerprint("m", "drift", None, None), fingerprint("m", "drift", "region", "us"),
                fingerprint("m2", "drift", "region", "eu"), fingerprint("m", "score", "region", "eu")}) == 5


@pytest.mark.parametrize(
    ("last", "quality_failed", "wants", "firing", "expected"),
    [
        (None, False, True, True, True),
        (D0 - timedelta(days=6), False, True, True, False),  # inside a 7-day cooldown
        (D0 - timedelta(days=7), False, True, True, True),
        (None, True, True, True, False),  # the day's data-quality gate failed
        (None, False, False, True, False),  # the rule does not ask for retraining
        (None, False, True, False, False),  # pending alerts ask for nothing
    ],
)
def test_retrain_request_cooldown_and_quality(last, quality_failed, wants, firing, expected):
    assert may_request_retrain(D0, firing=firing, wants_retrain=wants, last_request=last, cooldown_days=7,
                               quality_failed=quality_failed) is expected
