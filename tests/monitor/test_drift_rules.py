"""Which day consecutive drift compares a day with (no Spark, no lake)."""

from __future__ import annotations

from datetime import date, timedelta

from lakeops.monitor.drift import consecutive_day, previous_days

D = date(2024, 3, 10)


def day(n: int) -> date:
    return D + timedelta(days=n)


def test_a_day_compares_with_the_monitored_day_before_it():
    assert previous_days([day(0)], monitored=[day(-2), day(-1)]) == {day(0): day(-1)}


def test_a_gap_reaches_back_to_the_last_monitored_day():
    assert previous_days([day(0)], monitored=[day(-9), day(-5)]) == {day(0): day(-5)}


def test_the_first_monitored_day_has_no_previous_day():
    assert previous_days([day(0)], monitored=[]) == {}
    # Days monitored after it do not count.
    assert previous_days([day(0)], monitored=[day(1), day(3)]) == {}


def test_a_range_chains_its_own_days():
    days = [day(0), day(1), day(3)]
    assert previous_days(days, monitored=[day(-1)]) == {day(0): day(-1), day(1): day(0), day(3): day(1)}
    # Without history, the range's first day has none; the order the days come in does not matter.
    assert previous_days(list(reversed(days)), monitored=set()) == {day(1): day(0), day(3): day(1)}


def test_a_rerun_of_a_stored_day_compares_with_the_one_before_not_itself():
    stored = [day(-1), day(0), day(1)]
    assert previous_days([day(0)], monitored=stored) == {day(0): day(-1)}


def test_a_rerun_inside_stored_history_takes_a_later_stored_day_as_its_previous():
    # Backfilling a day before one already monitored: it compares with the stored day before it.
    assert previous_days([day(2)], monitored=[day(0), day(5)]) == {day(2): day(0)}


def test_consecutive_drift_needs_the_same_model_version():
    assert consecutive_day(day(-1), version=3, previous_version=3) == day(-1)
    # A promotion between the days: their counts are on different versions' bins.
    assert consecutive_day(day(-1), version=4, previous_version=3) is None
    # No stored counts for the previous day (its version unknown), or no previous day at all.
    assert consecutive_day(day(-1), version=3, previous_version=None) is None
    assert consecutive_day(None, version=3, previous_version=None) is None
