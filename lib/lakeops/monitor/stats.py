"""Drift statistics computed from bucket counts.

Every function here takes *counts*: how many rows of the baseline (the
training data) and of the current day fall in each bucket. None of them sees
raw rows, so every number in a drift report can be recomputed later from the
stored count rows alone. This module reads and writes no tables; it is plain
numpy, and scipy is imported only inside the functions that need it.

Notation: ``b_i`` and ``c_i`` are the baseline and current counts of bucket
``i``, ``N_b`` and ``N_c`` their totals, and ``p_i = b_i / N_b``,
``q_i = c_i / N_c`` the proportions. A side with no rows at all (``N = 0``)
has no distribution, so every statistic returns NaN for it.

Bucket statistics
-----------------
These take two aligned count arrays: bucket ``i`` means the same thing on
both sides. The null bucket and, for categorical columns, the OTHER bucket
are ordinary buckets; aligning the arrays is the caller's job.

Population stability index (:func:`psi`)::

    PSI = sum_i (q_i - p_i) * ln(q_i / p_i)

Each term is >= 0 (the two factors always have the same sign), so PSI is
>= 0 and is exactly 0 when the proportions are equal, whatever the two
totals are. A bucket that is empty on exactly one side would make the
logarithm infinite, so that side's proportion is replaced by ``epsilon``
(1e-4 by default). The other proportions are *not* renormalised: they stay
exactly ``b_i / N_b`` and ``c_i / N_c``, which keeps every term checkable by
hand. A bucket that appears with share ``q`` is therefore charged
``(q - epsilon) * ln(q / epsilon)``, as if it had held ``epsilon`` of the
baseline. Buckets empty on both sides contribute nothing, so adding or
dropping them never changes the value. Keep ``epsilon`` below ``1 / N`` of
the smaller side; otherwise an absent bucket counts as more likely than one
seen once. What counts as a warning or an alert is up to the caller's
configuration (see :func:`status`).

Jensen-Shannon distance (:func:`js_distance`), with ``m = (p + q) / 2`` and
base-2 logarithms::

    JS = sqrt( (KL(p || m) + KL(q || m)) / 2 ),   KL(x || m) = sum_i x_i log2(x_i / m_i)

It lies in [0, 1]: 0 for equal proportions, 1 when no bucket is non-empty on
both sides. It needs no smoothing, because ``m_i > 0`` wherever ``p_i`` or
``q_i`` is. It equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

Chi-square test of homogeneity (:func:`chi2_pvalue`): on the 2 x k table of
counts over the k buckets that are non-empty on at least one side (a bucket
empty on both sides would have an expected count of zero), with
``E_si = (row total of s) * (column total of i) / (N_b + N_c)``::

    X2 = sum_{s,i} (O_si - E_si)^2 / E_si,   p-value = P(chi2 with k - 1 dof >= X2)

There is no continuity correction. With millions of rows a day, even
differences too small to matter give p-values near 0, so read it next to
PSI, never on its own.

Noise floor of PSI (:func:`psi_noise_floor`). Two samples of ``N_b`` and
``N_c`` rows from the *same* proportions ``pi_i`` still give a PSI above 0.
For large counts ``PSI ~ (1/N_b + 1/N_c) * chi2_{k-1}``, with ``k`` the
buckets non-empty on either side: the leading term of ``(q - p) ln(q / p)``
is ``(q - p)^2 / pi``, Pearson's statistic. So a slice of 400 rows against
another of 400 over 10 buckets passes 0.1 by chance about once in 150. The
floor is the ``quantile`` (0.999 by default) of that no-drift distribution,
with ``pi_i`` estimated by pooling both sides.

The plain chi-square quantile is too low when buckets expect few rows: a
bucket empty on one side is charged ``q ln(q / epsilon)`` by the smoothing,
several times its Pearson term, and the tail grows heavy. In a simulation
(multinomial draws, 10 buckets with shares from 0.5 down to 0.005,
400 against 400 rows) the chi-square 99.9 % point was exceeded 1.1 % of the
time instead of 0.1 %. So the floor is computed term by term instead: each
bucket's counts are independent binomials under no drift, and for a bucket
whose smaller side expects fewer than 200 rows the mean, variance and third
central moment of its smoothed term are summed exactly over both counts
(within 7 standard deviations); a larger bucket takes the moments of
``(1 - pi_i)(1/N_b + 1/N_c) chi2_1``. The moments add up over buckets; the
2nd and 3rd are then rescaled by ``(k - 1) / sum_i (1 - pi_i)^2`` and
``(k - 1) / sum_i (1 - pi_i)^3``, which turns the independent-bucket sum
into the multinomial ``chi2_{k-1}`` in the large-count limit. A gamma
distribution shifted to match the three moments gives the quantile. In the
simulations behind ``tests/monitor/test_noise_floor.py`` (sizes 100 to
50,000, 2 to 12 buckets, shares down to 0.002) its 99.9 % floor lay within
a few per cent of the empirical 99.9th percentile (ratios 0.95 to 1.15), where
the plain chi-square quantile was up to 35 % low.

Fine-grid statistics (numeric columns)
--------------------------------------
At training time the baseline freezes a grid of edges
``e_0 < e_1 < ... < e_{m-1}`` (about 1000 quantiles of the baseline) and its
counts on that grid; each later day is counted on the same grid. Bin ``j``
(``j = 0 .. m``) holds ``(e_{j-1}, e_j]``, with ``e_{-1} = -inf`` and
``e_m = +inf``, so ``np.searchsorted(edges, x, side="left")`` is the bin of
``x`` and the count arrays have ``m + 1`` entries. Nulls and NaN are left out
(they have their own null-rate metric).

Every row ``<= e_j`` lies in bins ``0 .. j``, so each empirical CDF is known
*exactly* at every edge: ``F_b(e_j) = (b_0 + ... + b_j) / N_b``. The only
thing the counts cannot show is how a bin's rows sit inside that bin. Write
``D = F_b - F_c``, ``D_j = D(e_j)`` and ``D_{-1} = 0``.

Kolmogorov-Smirnov (:func:`ks_from_counts`). ``stat = max_j |D_j|``. The
two-sample KS statistic on the raw rows, ``sup_x |D(x)|``, is at least
``stat``, because the edges are points too. Inside bin ``j``, ``F_b`` rises
above ``F_b(e_{j-1})`` by at most the bin's mass ``p_j``, and ``F_c`` does
not fall below ``F_c(e_{j-1})``. So ``D(x) <= D_{j-1} + p_j`` there, and in
the same way ``-D(x) <= q_j - D_{j-1}``. So the raw statistic is at most::

    U = max_j max(D_{j-1} + p_j, q_j - D_{j-1})

and ``bound = U - stat``: the raw statistic lies in ``[stat, stat + bound]``.
This bound can be reached: put a bin's baseline rows just above
``e_{j-1}`` and its current rows at ``e_j``. Because
``D_{j-1} + p_j = D_j + q_j``, the bound is also at most
``max_j min(p_j, q_j)``. That makes it no bigger than the largest baseline
bin's mass (about 1/m on a quantile grid), however far the current day has
moved, and never bigger than the simpler ``max_j max(p_j, q_j)``.

1-Wasserstein (:func:`wasserstein_from_counts`), ``W1 = integral |F_b(x) - F_c(x)| dx``.
Each bin's mass is modelled as spread uniformly over the bin. The outer bins
are closed by the observed extremes: with ``lo`` the smaller of the two
minima and ``hi`` the larger of the two maxima, the grid points
``lo, e_0, ..., e_{m-1}, hi`` are clipped to ``[lo, hi]``, so bin ``j`` runs
from ``a_j`` to ``a_{j+1}``, with width ``w_j >= 0``. A bin that lies wholly
outside ``[lo, hi]`` is empty on both sides and gets width 0. Both modelled
CDFs ``G_b`` and ``G_c`` are straight lines between grid points, where they
equal the exact values above. So ``g = G_b - G_c`` is linear on each
segment, and the integral is taken exactly. On a segment of width ``w``
where ``g`` runs from ``d0`` to ``d1``, the area is ``w (|d0| + |d1|) / 2``
if they have the same sign. Otherwise ``g`` crosses zero, the area is two
triangles, and it comes to ``w (d0^2 + d1^2) / (2 (|d0| + |d1|))``.

The error bound: ``|W1 - value| <= integral |D - g| <= integral |F_b - G_b| + integral |F_c - G_c|``.
Rescale bin ``j`` to ``u`` in [0, 1]. There ``(F_b - G_b) / p_j = A(u) - u``,
where ``A`` is the CDF of that bin's baseline rows after the rescaling. The
integral of ``|A(u) - u|`` is the W1 distance between that law and the
uniform law on [0, 1]. It is at most ``E|X - U|`` for independent
``X ~ A``, ``U ~ Uniform(0, 1)``, which is
``E[(X^2 + (1 - X)^2) / 2] <= 1/2``. Hence::

    bound = sum_j w_j (p_j + q_j) / 2

and the true W1 on the raw rows lies in ``value +- bound``. This is half the
naive ``sum_j w_j (p_j + q_j)`` and never more than
``sum_j w_j max(p_j, q_j)``. It is nearly reached when the drift is clear
and a bin's rows pile up at its ends. The outer bins usually dominate it,
since their widths come from the extremes. So a heavy tail, or a day with
mass beyond the baseline's range, widens the bound: the grid cannot see
where inside the tail that mass lies.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike

_NAN = float("nan")


def _counts(name: str, values: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of counts, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite counts")
    if (arr < 0).any():
        first = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} has a negative count at bucket {first}: {arr[first]}")
    return arr


def _pair(baseline_counts: ArrayLike, current_counts: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    b = _counts("baseline_counts", baseline_counts)
    c = _counts("current_counts", current_counts)
    if b.shape != c.shape:
        raise ValueError(
            f"baseline_counts and current_counts must be aligned bucket by bucket, got {b.size} and {c.size} buckets"
        )
    return b, c


def _grid(
    edges: ArrayLike, baseline_counts: ArrayLike, current_counts: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        e = np.asarray(edges, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"edges must be an array of numbers: {exc}") from None
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"edges must be a non-empty 1-d array, got shape {e.shape}")
    if not np.isfinite(e).all():
        raise ValueError("edges must be finite (the outer bins are already open-ended)")
    steps = np.diff(e)
    if (steps <= 0).any():
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(f"edges must be strictly increasing, but edges[{i}]={e[i]} >= edges[{i + 1}]={e[i + 1]}")
    b, c = _pair(baseline_counts, current_counts)
    if b.size != e.size + 1:
        raise ValueError(f"{e.size} edges make {e.size + 1} bins, but the counts have {b.size}")
    return e, b, c


def _range(name: str, value: tuple[float, float], edges: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (min, max) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be a finite (min, max) with min <= max, got {value!r}")
    # The bound's proof needs every row inside [lo, hi]; a range that disagrees
    # with the counts (the min outside the first non-empty bin, say) means the
    # two were computed from different rows or with different bin rules.
    nonempty = np.flatnonzero(counts)
    first, last = int(nonempty[0]), int(nonempty[-1])
    lo_bin = int(np.searchsorted(edges, lo, side="left"))
    hi_bin = int(np.searchsorted(edges, hi, side="left"))
    if lo_bin != first or hi_bin != last:
        raise ValueError(
            f"{name} {value!r} does not match its counts: the minimum falls in bin {lo_bin} and the maximum"
            f" in bin {hi_bin}, but the first and last non-empty bins are {first} and {last}"
        )
    return lo, hi


def psi(baseline_counts: ArrayLike, current_counts: ArrayLike, *, epsilon: float = 1e-4) -> float:
    """Population stability index over aligned buckets; NaN when a side has no rows."""
    b, c = _pair(baseline_counts, current_counts)
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon}")
    nb, nc = b.sum(), c.sum()
    if nb == 0 or nc == 0:
        return _NAN
    keep = (b > 0) | (c > 0)  # empty on both sides: no evidence either way, no term
    p = b[keep] / nb
    q = c[keep] / nc
    p = np.where(p > 0, p, epsilon)
    q = np.where(q > 0, q, epsilon)
    # Equal proportions give q - p == 0.0 exactly, so identical inputs give exactly 0.0.
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(baseline_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]); NaN when a side has no rows."""
    b, c = _pair(baseline_counts, current_counts)
    nb, nc = b.sum(), c.sum()
    if nb == 0 or nc == 0:
        return _NAN
    p, q = b / nb, c / nc
    m = (p + q) / 2

    def kl_to_m(x: np.ndarray) -> float:
        nz = x > 0  # 0 * log(0 / m) is 0 by continuity
        return float(np.sum(x[nz] * np.log(x[nz] / m[nz])))

    divergence = (kl_to_m(p) + kl_to_m(q)) / 2 / math.log(2)
    # Rounding can push a divergence of 0 (or 1) a hair outside [0, 1].
    return math.sqrt(min(max(divergence, 0.0), 1.0))


def chi2_pvalue(baseline_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """p-value of the chi-square homogeneity test on the 2 x k count table.

    1.0 with fewer than two buckets non-empty on some side (nothing to compare);
    NaN when a side has no rows.
    """
    b, c = _pair(baseline_counts, current_counts)
    if b.sum() == 0 or c.sum() == 0:
        return _NAN
    keep = (b > 0) | (c > 0)
    k = int(keep.sum())
    if k < 2:
        return 1.0
    table = np.vstack((b[keep], c[keep]))
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    x2 = float(((table - expected) ** 2 / expected).sum())
    from scipy.stats import chi2

    return float(chi2.sf(x2, k - 1))


def ks_from_counts(edges: ArrayLike, baseline_counts: ArrayLike, current_counts: ArrayLike) -> tuple[float, float]:
    """``(stat, bound)``: the raw two-sample KS statistic lies in ``[stat, stat + bound]``.

    ``edges`` are only checked: KS does not depend on where the edges are.
    NaNs when a side has no rows.
    """
    _, b, c = _grid(edges, baseline_counts, current_counts)
    nb, nc = b.sum(), c.sum()
    if nb == 0 or nc == 0:
        return _NAN, _NAN
    # Cumulate the counts before dividing: exact for integer counts below 2**53.
    d = np.cumsum(b)[:-1] / nb - np.cumsum(c)[:-1] / nc  # D at e_0 .. e_{m-1}
    stat = float(np.abs(d).max())
    d_left = np.concatenate(([0.0], d))  # D at the left end of bins 0 .. m
    sup = float(np.maximum(d_left + b / nb, c / nc - d_left).max())
    return stat, max(sup - stat, 0.0)


def wasserstein_from_counts(
    edges: ArrayLike,
    baseline_counts: ArrayLike,
    current_counts: ArrayLike,
    *,
    baseline_range: tuple[float, float],
    current_range: tuple[float, float],
) -> tuple[float, float]:
    """``(value, bound)``: the raw 1-Wasserstein distance lies in ``value +- bound``.

    The ranges are each side's (min, max) of non-null values; they close the
    outer bins and must agree with the counts. NaNs when a side has no rows.
    """
    e, b, c = _grid(edges, baseline_counts, current_counts)
    nb, nc = b.sum(), c.sum()
    if nb == 0 or nc == 0:
        return _NAN, _NAN
    lo_b, hi_b = _range("baseline_range", baseline_range, e, b)
    lo_c, hi_c = _range("current_range", current_range, e, c)
    lo, hi = min(lo_b, lo_c), max(hi_b, hi_c)
    # Clipping to [lo, hi] narrows the bins holding the extremes; bins beyond
    # them are empty on both sides (checked by _range) and get width 0.
    points = np.clip(np.concatenate(([lo], e, [hi])), lo, hi)
    widths = np.diff(points)
    d = np.concatenate(([0.0], np.cumsum(b))) / nb - np.concatenate(([0.0], np.cumsum(c))) / nc
    d0, d1 = d[:-1], d[1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    same_sign = d0 * d1 >= 0
    # Where the sign changes, a0 + a1 > 0; the placeholder 1.0 only avoids 0/0 elsewhere.
    crossing = (d0**2 + d1**2) / (2 * np.where(same_sign, 1.0, a0 + a1))
    area = np.where(same_sign, (a0 + a1) / 2, crossing)
    value = float(np.sum(widths * area))
    bound = float(np.sum(widths * (b / nb + c / nc)) / 2)
    return value, bound


def psi_noise_floor(
    baseline_counts: ArrayLike,
    current_counts: ArrayLike,
    *,
    quantile: float = 0.999,
    epsilon: float = 1e-4,
) -> float:
    """The PSI that sampling alone exceeds with probability ``1 - quantile`` at these sizes.

    Both sides are treated as samples (``N_b`` and ``N_c`` rows) from the same
    proportions, estimated by pooling them. A PSI at or below the floor is what
    two samples of those sizes from one population give by chance; see
    "Noise floor" in the module docstring for the method and its accuracy.
    0.0 when fewer than two buckets are non-empty (PSI is then 0); NaN when a
    side has no rows.
    """
    b, c = _pair(baseline_counts, current_counts)
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon}")
    nb, nc = int(round(b.sum())), int(round(c.sum()))
    if nb == 0 or nc == 0:
        return _NAN
    keep = (b > 0) | (c > 0)
    k = int(keep.sum())
    if k < 2:
        return 0.0
    pooled = (b[keep] + c[keep]) / (nb + nc)
    scale = 1 / nb + 1 / nc
    k1 = k2 = k3 = 0.0
    for share in pooled:
        if min(nb, nc) * share < _EXACT_BELOW:
            # Three significant digits of the share: neighbouring buckets (deciles share ~0.1) and
            # days reuse one computation, and the floor moves by far less than its own accuracy.
            m1, m2, m3 = _term_cumulants(nb, nc, float(f"{share:.3g}"), epsilon)
        else:  # large counts: the term is (1 - share) * scale * chi2_1
            a = (1 - share) * scale
            m1, m2, m3 = a, 2 * a * a, 8 * a**3
        k1, k2, k3 = k1 + m1, k2 + m2, k3 + m3
    # The terms are not independent (the shares of a side sum to 1). Without the
    # constraint the large-count limit would be sum_i (1 - share_i) chi2_1; with it,
    # chi2_{k-1}: rescale the 2nd and 3rd cumulants to agree in that limit.
    k2 *= (k - 1) / float(np.sum((1 - pooled) ** 2))
    k3 *= (k - 1) / float(np.sum((1 - pooled) ** 3))
    from scipy.stats import gamma, norm

    if k2 <= 0:
        return k1
    skew = k3 / k2**1.5
    if skew < 1e-6:  # no skew left to fit: the normal limit of the gamma
        return float(k1 + math.sqrt(k2) * norm.ppf(quantile))
    shape = 4 / skew**2
    theta = math.sqrt(k2) * skew / 2
    return float(k1 - shape * theta + theta * gamma.ppf(quantile, shape))


#: Buckets whose smaller side expects fewer rows than this get exact term cumulants.
_EXACT_BELOW = 200
#: How many standard deviations of each side's binomial count the exact sums cover.
_SPAN_SD = 7
#: At most this many points of a side's count enter the sums (wider supports are grouped).
_MAX_POINTS = 96


@functools.lru_cache(maxsize=4096)
def _term_cumulants(nb: int, nc: int, share: float, epsilon: float) -> tuple[float, float, float]:
    """Mean, variance and third central moment of one bucket's PSI term under no drift.

    The bucket's counts are independent binomials, ``Binomial(N_b, share)`` and
    ``Binomial(N_c, share)``; the sums run over both counts within ``_SPAN_SD``
    standard deviations of their means, with the same smoothing as :func:`psi`.
    """
    from scipy.special import gammaln

    def side(n: int) -> tuple[np.ndarray, np.ndarray]:
        mean, sd = n * share, math.sqrt(n * share * (1 - share))
        lo, hi = max(0, int(mean - _SPAN_SD * sd) - _SPAN_SD), min(n, int(mean + _SPAN_SD * sd) + _SPAN_SD)
        x = np.arange(lo, hi + 1)
        # The binomial pmf from log-gamma (scipy.stats.binom.pmf's value, without its per-call overhead).
        w = np.exp(gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1) + x * math.log(share)
                   + (n - x) * math.log1p(-share))
        if len(x) <= _MAX_POINTS:
            return x.astype(np.float64), w
        # A wide side (a large sample) is far from zero, where the term is smooth: each run of
        # neighbouring counts is represented by its probability-weighted mean.
        groups = np.array_split(np.arange(len(x)), _MAX_POINTS)
        weight = np.array([w[g].sum() for g in groups])
        centre = np.array([(x[g] * w[g]).sum() for g in groups]) / np.where(weight > 0, weight, 1)
        return centre, weight

    xb, wb = side(nb)
    xc, wc = side(nc)
    p = np.where(xb > 0, xb / nb, epsilon)[:, None]
    q = np.where(xc > 0, xc / nc, epsilon)[None, :]
    term = (q - p) * np.log(q / p)
    if xb[0] == 0 and xc[0] == 0:
        term[0, 0] = 0.0  # empty on both sides: no term (psi drops the bucket)
    w = wb[:, None] * wc[None, :]
    w /= w.sum()
    mean = float((w * term).sum())
    dev = term - mean
    return mean, float((w * dev * dev).sum()), float((w * dev**3).sum())


#: A null-rate rise counts only when two samples of one population show one this large less often
#: than this: the same one in a thousand as the PSI noise floor's quantile.
NULL_RISE_PVALUE = 0.001


def null_rise_pvalue(baseline_nulls: int, baseline_rows: int, current_nulls: int, current_rows: int) -> float:
    """How often sampling alone gives the current side at least this many nulls, were both sides drawn
    from one population: the one-sided p-value of Fisher's exact test (the hypergeometric tail given
    both margins). 1.0 when the current null rate is not higher; NaN when a side has no rows."""
    from scipy.stats import hypergeom

    if baseline_rows <= 0 or current_rows <= 0:
        return _NAN
    if current_nulls * baseline_rows <= baseline_nulls * current_rows:
        return 1.0
    total, nulls = baseline_rows + current_rows, baseline_nulls + current_nulls
    return float(hypergeom.sf(current_nulls - 1, total, nulls, current_rows))


def status(psi_value: float, *, warn: float, alert: float, noise_floor: float = 0.0) -> str:
    """``"alert"`` if ``psi_value >= alert``, ``"warn"`` if ``>= warn``, else ``"ok"``.

    A PSI at or below ``noise_floor`` (see :func:`psi_noise_floor`) is ``"ok"``
    whatever the thresholds: sampling alone explains it.

    NaN (one side had no rows) gives ``"warn"``: the drift is unknown. "ok"
    would hide a missing feed, and "alert" would page someone over what is
    usually a data-availability problem that the row-count checks already
    report.
    """
    if not (math.isfinite(warn) and math.isfinite(alert)) or warn > alert:
        raise ValueError(f"thresholds must be finite with warn <= alert, got warn={warn}, alert={alert}")
    if math.isnan(psi_value):
        return "warn"
    if psi_value <= noise_floor:
        return "ok"
    if psi_value >= alert:
        return "alert"
    if psi_value >= warn:
        return "warn"
    return "ok"
