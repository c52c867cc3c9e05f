"""The PSI noise floor against a Monte-Carlo simulation, a hand-computed case, and the status it gates (no Spark)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from lakeops.config import Thresholds
from lakeops.monitor import drift, stats

QUANTILE = 0.999
DRAWS = 50_000

SKEWED = np.array([0.5, 0.2, 0.1, 0.08, 0.05, 0.03, 0.02, 0.01, 0.005, 0.005])
# Cases: (name, proportions, baseline rows, current rows). 400/400 is one region and day of the
# demo against the day before; 10,000/400 a region's training rows against one day.
CASES = [
    ("uniform, slice vs slice", np.full(10, 0.1), 400, 400),
    ("skewed, slice vs slice", SKEWED, 400, 400),
    ("skewed, training vs slice", SKEWED, 10_000, 400),
    ("tiny buckets, training vs day", np.array([0.3, 0.25, 0.15, 0.1, 0.08, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003,
                                                0.002]), 50_000, 2_000),
    ("categorical with a rare value", np.array([0.4, 0.3, 0.2, 0.09, 0.01]), 400, 400),
    ("a null bucket of 1 %", np.array([0.099] * 10 + [0.01]), 400, 10_000),
    ("binary, small", np.array([0.95, 0.05]), 100, 100),
]


def _psi_many(b: np.ndarray, c: np.ndarray, epsilon: float = 1e-4) -> np.ndarray:
    """stats.psi row by row (vectorised; checked against stats.psi below)."""
    p = b / b.sum(axis=1, keepdims=True)
    q = c / c.sum(axis=1, keepdims=True)
    keep = (b > 0) | (c > 0)
    p = np.where(p > 0, p, epsilon)
    q = np.where(q > 0, q, epsilon)
    return np.where(keep, (q - p) * np.log(q / p), 0.0).sum(axis=1)


@pytest.mark.parametrize(("name", "shares", "n", "m"), CASES, ids=[c[0] for c in CASES])
def test_floor_matches_the_simulated_no_drift_quantile(name, shares, n, m):
    rng = np.random.default_rng(20)
    shares = shares / shares.sum()
    b = rng.multinomial(n, shares, size=DRAWS).astype(float)
    c = rng.multinomial(m, shares, size=DRAWS).astype(float)
    simulated = _psi_many(b, c)
    assert simulated[:3] == pytest.approx([stats.psi(b[i], c[i]) for i in range(3)], rel=1e-12)

    floor = stats.psi_noise_floor(shares * n, shares * m, quantile=QUANTILE)
    empirical = np.quantile(simulated, QUANTILE)
    exceed = float(np.mean(simulated > floor))
    # At 50,000 draws the empirical 99.9th percentile itself moves by a few per cent, and the
    # discrete binary case jumps between attainable values: allow 5 % below, and no more than
    # 1.5x the nominal 0.1 % of no-drift samples above the floor.
    assert floor >= 0.95 * empirical, (name, floor, empirical)
    assert exceed <= 1.5 * (1 - QUANTILE), (name, exceed)
    # Not absurdly high either: within 20 % of the simulated quantile.
    assert floor <= 1.2 * empirical, (name, floor, empirical)


def test_floor_from_the_observed_counts_is_close_to_the_true_one():
    """The monitor only has the two samples: the floor from their pooled shares varies little."""
    rng = np.random.default_rng(3)
    b = rng.multinomial(400, SKEWED, size=200).astype(float)
    c = rng.multinomial(400, SKEWED, size=200).astype(float)
    floors = np.array([stats.psi_noise_floor(b[i], c[i]) for i in range(len(b))])
    true = stats.psi_noise_floor(SKEWED * 400, SKEWED * 400)
    assert np.median(floors) == pytest.approx(true, rel=0.05)
    assert np.quantile(floors, 0.05) > 0.85 * true


def test_plain_chi_square_is_too_low_for_small_buckets():
    """Why the floor is computed bucket by bucket: the smoothing fattens the tail."""
    rng = np.random.default_rng(4)
    b = rng.multinomial(400, SKEWED, size=DRAWS).astype(float)
    c = rng.multinomial(400, SKEWED, size=DRAWS).astype(float)
    plain = (1 / 400 + 1 / 400) * chi2.ppf(QUANTILE, SKEWED.size - 1)
    assert float(np.mean(_psi_many(b, c) > plain)) > 5 * (1 - QUANTILE)


def test_floor_by_hand_for_large_equal_buckets():
    # Ten buckets of 1,000 rows a side: every bucket takes the chi-square moments, and the
    # gamma with those three moments is exactly (1/n + 1/m) * chi2_9.
    counts = [1_000] * 10
    assert stats.psi_noise_floor(counts, counts) == pytest.approx((1 / 10_000 + 1 / 10_000) * 27.877159, rel=1e-6)
    # Two buckets: (1/n + 1/m) * chi2_1's 99.9 % point, 10.827566.
    assert stats.psi_noise_floor([5_000, 5_000], [500, 500]) == pytest.approx((1 / 10_000 + 1 / 1_000) * 10.827566,
                                                                              rel=1e-6)


def test_floor_edge_cases():
    assert stats.psi_noise_floor([10, 0], [5, 0]) == 0.0  # one bucket: PSI is always 0
    assert np.isnan(stats.psi_noise_floor([0, 0], [1, 2]))
    assert stats.psi_noise_floor([100, 100], [100, 100], quantile=0.99) < stats.psi_noise_floor([100, 100], [100, 100])
    with pytest.raises(ValueError, match="quantile"):
        stats.psi_noise_floor([1, 2], [1, 2], quantile=1.0)


def test_status_needs_psi_beyond_the_floor():
    limits = Thresholds(psi_warn=0.1, psi_alert=0.25)
    # A 400-row slice against the day before, drawn from one population: PSI above 0.1 by chance.
    base = np.array([85, 92, 43, 32, 53, 34, 16, 15, 15, 15])
    now = np.array([88, 86, 46, 39, 23, 32, 33, 20, 22, 11])
    psi, floor = stats.psi(base, now), stats.psi_noise_floor(base, now)
    assert 0.1 < psi < floor
    assert stats.status(psi, warn=0.1, alert=0.25) == "warn"  # the old rule
    assert stats.status(psi, warn=0.1, alert=0.25, noise_floor=floor) == "ok"
    assert drift.column_status(psi, floor, 0.0, limits) == "ok"
    # A null-rate rise still alerts whatever the floor says.
    assert drift.column_status(psi, floor, 0.2, limits) == "alert"
    # A real shift (half the rows move two buckets up) alerts at the same size.
    shifted = np.concatenate(([0, 0], base[:-2])) // 2 + base // 2
    psi, floor = stats.psi(base, shifted), stats.psi_noise_floor(base, shifted)
    assert psi > max(floor, 0.25)
    assert drift.column_status(psi, floor, 0.0, limits) == "alert"
    # Missing data is still a warning.
    assert stats.status(float("nan"), warn=0.1, alert=0.25, noise_floor=float("nan")) == "warn"


def test_null_rise_pvalue_is_fishers_exact_test():
    from scipy.stats import fisher_exact

    for nulls_b, n_b, nulls_c, n_c in [(188, 312, 203, 312), (20, 4000, 17, 312), (0, 50, 3, 40), (5, 10, 9, 10)]:
        table = [[nulls_c, n_c - nulls_c], [nulls_b, n_b - nulls_b]]
        expected = fisher_exact(table, alternative="greater").pvalue
        assert abs(stats.null_rise_pvalue(nulls_b, n_b, nulls_c, n_c) - expected) < 1e-12
    # By hand: 0 of 2 nulls before, 2 of 2 now; all 4! orders of the 2 nulls among 4 rows, 1 in 6 puts both now.
    assert abs(stats.null_rise_pvalue(0, 2, 2, 2) - 1 / 6) < 1e-12
    assert stats.null_rise_pvalue(10, 100, 5, 100) == 1.0  # fewer nulls: no rise
    assert math.isnan(stats.null_rise_pvalue(0, 0, 1, 10))


def test_null_rate_rise_within_sampling_noise_is_ok():
    limits = Thresholds(null_rate_warn=0.05, null_rate_alert=0.10)
    # A feature missing for 60 % of hosts, 312 rows a side: 5 points more is 1.3 standard errors.
    p = stats.null_rise_pvalue(188, 312, 203, 312)
    assert p > stats.NULL_RISE_PVALUE
    assert drift.column_status(0.0, 0.1, 203 / 312 - 188 / 312, limits, null_pvalue=p) == "ok"
    # The same 5 points on 20,000 rows a side is no accident.
    p = stats.null_rise_pvalue(12_000, 20_000, 13_000, 20_000)
    assert p < 1e-20 and drift.column_status(0.0, 0.1, 0.05, limits, null_pvalue=p) == "warn"


def test_the_baseline_counts_as_at_most_one_days_rows_for_the_floor():
    base = np.array([1400, 1300, 700, 500, 300])  # 4,200 rows: 14 days of 300 hosts
    now = np.array([95, 96, 52, 34, 23])  # one day: 300 rows
    effective = drift.effective_baseline(base, int(now.sum()))
    assert effective.sum() == now.sum() and np.allclose(effective / effective.sum(), base / base.sum())
    assert drift.effective_baseline(now, 4200) is now  # a baseline smaller than the day is left alone
    plain, weighed = stats.psi_noise_floor(base, now), stats.psi_noise_floor(effective, now)
    # Two samples of 300 rows vary about twice as much as 4,200 against 300: (1/300 + 1/300) / (1/4200 + 1/300).
    assert 1.6 < weighed / plain < 2.1
