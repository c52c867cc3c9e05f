"""Drift statistics against hand-computed values, and against scipy on the same counts or raw rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st
from scipy.spatial.distance import jensenshannon

from lakeops.monitor import stats as s


def counts_on(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Counts on the fine grid exactly as the module defines bins: (e_{j-1}, e_j]."""
    return np.bincount(np.searchsorted(edges, x, side="left"), minlength=edges.size + 1)


def fine_grid(baseline: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(baseline, np.linspace(0, 1, 1001)[1:-1]))


# --- PSI -------------------------------------------------------------------------------------------


def test_psi_hand_computed():
    # p = (.5, .3, .2), q = (.4, .3, .3):
    # PSI = (.4 - .5) ln(.4/.5) + 0 + (.3 - .2) ln(.3/.2) = .1 (ln 1.25 + ln 1.5) = .1 ln 1.875
    #     = .1 * (0.2231436 + 0.4054651) = 0.0628609
    value = s.psi([50, 30, 20], [40, 30, 30])
    assert value == pytest.approx(-0.1 * math.log(0.8) + 0.1 * math.log(1.5), rel=1e-12)
    assert value == pytest.approx(0.062861, abs=1e-6)
    # PSI is symmetric in the two sides.
    assert s.psi([40, 30, 30], [50, 30, 20]) == pytest.approx(value, rel=1e-12)


def test_psi_smoothing_uses_epsilon_on_the_empty_side_only():
    # p = (.1, 0 -> 1e-4, .9), q = (.1, .1, .8); not renormalised:
    # PSI = 0 + (.1 - 1e-4) ln(.1/1e-4) + (.8 - .9) ln(.8/.9)
    #     = .0999 * 6.9077553 + .1 * 0.1177830 = 0.6900848 + 0.0117783 = 0.7018631
    value = s.psi([10, 0, 90], [10, 10, 80])
    assert value == pytest.approx((0.1 - 1e-4) * math.log(0.1 / 1e-4) - 0.1 * math.log(0.8 / 0.9), rel=1e-12)
    assert value == pytest.approx(0.701863, abs=1e-6)
    # Another epsilon changes only the smoothed term.
    assert s.psi([10, 0, 90], [10, 10, 80], epsilon=1e-3) == pytest.approx(
        (0.1 - 1e-3) * math.log(0.1 / 1e-3) - 0.1 * math.log(0.8 / 0.9), rel=1e-12
    )
    # Buckets empty on both sides contribute nothing.
    assert s.psi([10, 0, 0, 90], [10, 0, 10, 80]) == value
    assert s.psi([0, 10, 0, 90, 0], [0, 10, 10, 80, 0]) == value


def test_psi_is_exactly_zero_for_equal_proportions():
    assert s.psi([50, 30, 20], [50, 30, 20]) == 0.0
    assert s.psi([5, 3, 2, 0], [500, 300, 200, 0]) == 0.0
    assert s.psi([1, 2, 0, 7], [3, 6, 0, 21]) == 0.0
    rng = np.random.default_rng(3)
    c = rng.integers(0, 1000, size=50)
    assert s.psi(c, 7 * c) == 0.0


def test_empty_side_gives_nan():
    for f in (s.psi, s.js_distance, s.chi2_pvalue):
        assert math.isnan(f([0, 0, 0], [1, 2, 3]))
        assert math.isnan(f([1, 2, 3], [0, 0, 0]))
    edges = [1.0, 2.0]
    assert all(math.isnan(v) for v in s.ks_from_counts(edges, [0, 0, 0], [1, 2, 3]))
    w = s.wasserstein_from_counts(edges, [1, 2, 3], [0, 0, 0], baseline_range=(0.5, 3.0), current_range=(0, 0))
    assert all(math.isnan(v) for v in w)


# --- JS and chi-square against scipy ----------------------------------------------------------------


def random_count_pairs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 40))
    b = rng.integers(0, 500, size=k) * (rng.random(k) < 0.8)
    c = rng.integers(0, 500, size=k) * (rng.random(k) < 0.8)
    b[0], c[0] = 0, 0  # empty on both sides
    b[1], c[1] = 17, 0  # empty on one side
    b[2], c[2] = 0, 5
    b[3], c[3] = 40, 60
    return b, c


@pytest.mark.parametrize("seed", range(8))
def test_js_distance_matches_scipy(seed):
    b, c = random_count_pairs(seed)
    expected = jensenshannon(b / b.sum(), c / c.sum(), base=2)
    assert s.js_distance(b, c) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_chi2_pvalue_matches_scipy(seed):
    b, c = random_count_pairs(seed)
    keep = (b > 0) | (c > 0)
    expected = st.chi2_contingency(np.vstack((b[keep], c[keep])), correction=False).pvalue
    assert s.chi2_pvalue(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_js_and_chi2_edge_values():
    assert s.js_distance([1, 2, 3], [2, 4, 6]) == 0.0
    assert s.js_distance([5, 0], [0, 9]) == pytest.approx(1.0, abs=1e-12)
    # Two buckets, 2 x 2 table: the textbook case, against scipy without Yates correction.
    table = np.array([[30, 10], [20, 25]])
    assert s.chi2_pvalue(*table) == pytest.approx(st.chi2_contingency(table, correction=False).pvalue, rel=1e-12)
    # Fewer than two buckets non-empty anywhere: nothing to test.
    assert s.chi2_pvalue([0, 7, 0], [0, 3, 0]) == 1.0
    assert s.chi2_pvalue([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)


# --- fine-grid KS and Wasserstein on raw rows -------------------------------------------------------

N = 200_000


@pytest.fixture(scope="module")
def lognormal_baseline() -> np.ndarray:
    return np.random.default_rng(42).lognormal(0.0, 1.0, size=N)


def current_samples(baseline: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    fresh = rng.lognormal(0.0, 1.0, size=N)
    return {
        "same distribution": rng.lognormal(0.0, 1.0, size=150_000),
        "shifted by 0.1": fresh[:120_000] + 0.1,
        "scaled by 1.2": 1.2 * fresh[:100_000],
        "scaled by 3 (tail beyond the grid)": 3 * fresh[:50_000],
        "entirely above the baseline max": baseline.max() + fresh[:30_000],
        "5% below the baseline min": np.concatenate((fresh[:95_000], -rng.random(5_000) - 1)),
    }


def check_against_scipy(baseline: np.ndarray, current: np.ndarray, edges: np.ndarray):
    b, c = counts_on(edges, baseline), counts_on(edges, current)
    stat, ks_bound = s.ks_from_counts(edges, b, c)
    exact_ks = st.ks_2samp(baseline, current).statistic
    assert stat - 1e-12 <= exact_ks <= stat + ks_bound + 1e-12
    value, w_bound = s.wasserstein_from_counts(
        edges,
        b,
        c,
        baseline_range=(baseline.min(), baseline.max()),
        current_range=(current.min(), current.max()),
    )
    exact_w = st.wasserstein_distance(baseline, current)
    assert abs(exact_w - value) <= w_bound * (1 + 1e-9)
    return stat, ks_bound, value, w_bound, exact_w, b, c


def test_ks_and_wasserstein_contain_scipy_on_lognormal(lognormal_baseline):
    x = lognormal_baseline
    edges = fine_grid(x)
    assert edges.size == 999
    # Four more edges deep in the tails thin the outer bins' mass from 1/1000 to 1/100000.
    tail_edges = np.unique(np.concatenate((edges, np.quantile(x, [1e-5, 1e-4, 1 - 1e-4, 1 - 1e-5]))))
    mild = ("same distribution", "shifted by 0.1", "scaled by 1.2")
    for name, y in current_samples(x).items():
        _, ks_bound, _, w_bound, _, b, _ = check_against_scipy(x, y, edges)
        # The KS bound never exceeds the largest baseline bin (1/1000 on this grid),
        # however far the current day has moved.
        assert ks_bound <= (b / b.sum()).max() + 1e-12, name
        assert ks_bound < 0.0015, name
        _, _, tail_value, tail_bound, _, _, _ = check_against_scipy(x, y, tail_edges)
        assert tail_bound < w_bound, name
        if name in ("shifted by 0.1", "scaled by 1.2"):
            # With the tail edges, even a 0.1 shift (W1 = 0.1) is resolved: the interval excludes 0.
            assert tail_value - tail_bound > 0.04, name
        if name in mild:
            # The W1 bound is dominated by the top bin, which runs from e_998 ~ 22 to the
            # max ~ 150 holding 1/1000 of each side: ~0.14 on the plain grid, whatever the drift.
            assert 0.1 < w_bound < 0.25, name
            assert tail_bound < 0.1, name


def test_wasserstein_bound_is_small_for_a_light_tailed_column():
    rng = np.random.default_rng(5)
    x = rng.normal(size=N)
    edges = fine_grid(x)
    for y in (rng.normal(size=N), rng.normal(0.1, 1.0, size=N), rng.normal(0.0, 1.1, size=N)):
        _, ks_bound, value, w_bound, exact_w, _, _ = check_against_scipy(x, y, edges)
        assert ks_bound < 0.0015
        # sum_j w_j (p_j + q_j) / 2 with ~1000 bins over ~9 sigma, outer bins ~1.4 sigma wide.
        assert w_bound < 0.015
        assert abs(value - exact_w) < 0.01


def test_ks_and_wasserstein_contain_scipy_on_heavy_tails():
    rng = np.random.default_rng(11)
    # Pareto with alpha 1.5: finite mean, infinite variance; max of 200k rows ~ 3000.
    x = rng.pareto(1.5, size=N) + 1
    edges = fine_grid(x)
    for y in (rng.pareto(1.5, size=N) + 1, rng.pareto(1.3, size=N) + 1, 2 * (rng.pareto(1.5, size=N) + 1)):
        _, ks_bound, _, w_bound, _, _, _ = check_against_scipy(x, y, edges)
        assert ks_bound < 0.0015  # KS does not care about the tail's length...
        assert w_bound > 0.3  # ...W1 does: the top bin alone is thousands wide.
    # Two-sided heavy tail (Student t, 2 degrees of freedom).
    x = rng.standard_t(2, size=N)
    edges = fine_grid(x)
    for y in (rng.standard_t(2, size=N), rng.standard_t(2, size=N) + 0.2, 3 * rng.standard_t(2, size=N)):
        check_against_scipy(x, y, edges)


@pytest.mark.parametrize("seed", range(30))
def test_bounds_hold_on_coarse_grids_and_ties(seed):
    # Few rows and few bins make the bounds wide, so containment is a real test here; integer
    # rows put ties exactly on the edges, which must land in the bin to the edge's left.
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        x = rng.normal(size=int(rng.integers(5, 300)))
        y = rng.normal(rng.normal(), rng.uniform(0.3, 3), size=int(rng.integers(5, 300)))
        edges = np.unique(np.quantile(x, np.linspace(0, 1, int(rng.integers(3, 12)))[1:-1]))
    elif kind == 1:
        x = rng.integers(0, 11, size=200).astype(float)
        y = rng.integers(3, 15, size=150).astype(float)
        edges = np.arange(1.0, 10.0)
    else:
        x = np.round(rng.exponential(size=500), 1)
        y = np.round(rng.exponential(2.0, size=400) + rng.integers(0, 2), 1)
        edges = np.unique(np.round(np.quantile(x, [0.1, 0.3, 0.5, 0.7, 0.9]), 1))
    check_against_scipy(x, y, edges)
    check_against_scipy(y, x, edges)


def test_ks_bound_is_reached():
    # Identical counts, but inside bin 1 = (0, 1] the baseline rows sit at 0.1 and the current
    # rows at 0.9: stat is 0 and the raw statistic is exactly stat + bound.
    edges = np.array([0.0, 1.0, 2.0])
    x = np.array([0.1] * 5 + [1.5] * 5)
    y = np.array([0.9] * 5 + [1.5] * 5)
    stat, bound = s.ks_from_counts(edges, counts_on(edges, x), counts_on(edges, y))
    assert (stat, bound) == (0.0, 0.5)
    assert st.ks_2samp(x, y).statistic == pytest.approx(stat + bound)
    # ... and the simpler bound max_j max(p_j, q_j) is far looser when mass moves out of the grid:
    x = np.arange(1.0, 1001.0) / 1000  # one row per 1/1000
    y = x + 10
    edges = x[:-1]
    b, c = counts_on(edges, x), counts_on(edges, y)
    stat, bound = s.ks_from_counts(edges, b, c)
    assert stat == pytest.approx(0.999) and bound == pytest.approx(0.001)
    assert (c / c.sum()).max() == 1.0


def test_wasserstein_value_is_the_exact_integral_of_the_binned_cdfs():
    # Against a brute-force trapezoid integral of |G_b - G_c| on a dense grid.
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    y = rng.normal(0.3, 1.5, size=300)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 9)[1:-1]))
    b, c = counts_on(edges, x), counts_on(edges, y)
    value, bound = s.wasserstein_from_counts(
        edges, b, c, baseline_range=(x.min(), x.max()), current_range=(y.min(), y.max())
    )
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    points = np.concatenate(([lo], edges, [hi]))
    gb = np.concatenate(([0], np.cumsum(b))) / b.sum()
    gc = np.concatenate(([0], np.cumsum(c))) / c.sum()
    dense = np.linspace(lo, hi, 2_000_001)
    gap = np.abs(np.interp(dense, points, gb) - np.interp(dense, points, gc))
    trapezoid = np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(dense))
    assert value == pytest.approx(trapezoid, rel=1e-6)
    # The bound is half the naive one and below sum_j w_j max(p_j, q_j).
    widths, p, q = np.diff(points), b / b.sum(), c / c.sum()
    assert bound == pytest.approx(np.sum(widths * (p + q)) / 2, rel=1e-12)
    assert bound <= np.sum(widths * np.maximum(p, q))
    # Identical counts: the binned CDFs coincide.
    assert s.wasserstein_from_counts(edges, b, 3 * b, baseline_range=(lo, hi), current_range=(lo, hi))[0] == 0.0


# --- status ----------------------------------------------------------------------------------------


def test_status():
    assert s.status(0.05, warn=0.1, alert=0.25) == "ok"
    assert s.status(0.1, warn=0.1, alert=0.25) == "warn"
    assert s.status(0.2, warn=0.1, alert=0.25) == "warn"
    assert s.status(0.25, warn=0.1, alert=0.25) == "alert"
    assert s.status(float("nan"), warn=0.1, alert=0.25) == "warn"
    with pytest.raises(ValueError, match="warn <= alert"):
        s.status(0.1, warn=0.3, alert=0.2)
    with pytest.raises(ValueError, match="finite"):
        s.status(0.1, warn=float("nan"), alert=0.2)


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [s.psi, s.js_distance, s.chi2_pvalue])
def test_bad_bucket_counts_are_refused(f):
    with pytest.raises(ValueError, match="aligned"):
        f([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="negative"):
        f([1, -2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        f([1, float("nan"), 3], [1, 2, 3])
    with pytest.raises(ValueError, match="1-d"):
        f([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="non-empty"):
        f([], [])
    with pytest.raises(ValueError, match="numbers"):
        f(["a", "b"], [1, 2])


def test_bad_epsilon_is_refused():
    for eps in (0.0, -1e-4, 1.0, float("nan")):
        with pytest.raises(ValueError, match="epsilon"):
            s.psi([1, 2], [2, 1], epsilon=eps)


def test_bad_grids_are_refused():
    ranges = {"baseline_range": (0.0, 3.0), "current_range": (0.0, 3.0)}
    for f, kw in ((s.ks_from_counts, {}), (s.wasserstein_from_counts, ranges)):
        with pytest.raises(ValueError, match="strictly increasing"):
            f([1.0, 1.0], [1, 1, 1], [1, 1, 1], **kw)
        with pytest.raises(ValueError, match="strictly increasing"):
            f([2.0, 1.0], [1, 1, 1], [1, 1, 1], **kw)
        with pytest.raises(ValueError, match="finite"):
            f([1.0, float("inf")], [1, 1, 1], [1, 1, 1], **kw)
        with pytest.raises(ValueError, match="3 bins"):
            f([1.0, 2.0], [1, 1], [1, 1], **kw)
        with pytest.raises(ValueError, match="aligned"):
            f([1.0, 2.0], [1, 1, 1], [1, 1, 1, 1], **kw)
        with pytest.raises(ValueError, match="negative"):
            f([1.0, 2.0], [1, -1, 1], [1, 1, 1], **kw)
        with pytest.raises(ValueError, match="non-empty"):
            f([], [1], [1], **kw)


def test_ranges_that_disagree_with_the_counts_are_refused():
    edges, b, c = [1.0, 2.0], [1, 1, 1], [0, 4, 0]
    ok = s.wasserstein_from_counts(edges, b, c, baseline_range=(0.5, 2.5), current_range=(1.5, 1.6))
    assert ok[0] > 0 and ok[1] > 0
    bad_ranges = [
        ((1.5, 2.5), (1.5, 1.6), "minimum falls in bin 1"),  # baseline min above e_0 though bin 0 has rows
        ((0.5, 2.0), (1.5, 1.6), "maximum"),  # baseline max at e_1 though bin 2 has rows
        ((0.5, 2.5), (0.5, 1.6), "current_range"),  # current min in bin 0, which is empty
        ((2.5, 0.5), (1.5, 1.6), "min <= max"),
        ((0.5, float("nan")), (1.5, 1.6), "finite"),
        ((0.5, 1.0, 2.5), (1.5, 1.6), "pair"),
        (None, (1.5, 1.6), "pair"),
    ]
    for baseline_range, current_range, message in bad_ranges:
        with pytest.raises(ValueError, match=message):
            s.wasserstein_from_counts(edges, b, c, baseline_range=baseline_range, current_range=current_range)
