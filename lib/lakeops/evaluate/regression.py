"""Regression model quality: realised metrics (labels), Direct Loss Estimation (no labels), conformal intervals.

A population's rows (a day and a slice) are tallied once into an
:class:`ErrorTally`: counts and sums that add up, so Spark tasks tally their
batches and the tallies meet on the driver (no row reaches it). A tally
travels as one Arrow ``list<double>`` (:meth:`ErrorTally.as_list`).

From one tally:

- :func:`realised`: MAE, MSE, RMSE, bias, R², MAPE and interval coverage of
  the labelled rows. All exact up to float64 rounding: the sums are tallied row
  by row, and the label variance R² needs is merged as count, mean and M2
  (Chan et al.), not as raw sums of squares, which cancel catastrophically
  when the labels' mean is large against their spread.
- :func:`estimated`: Direct Loss Estimation (DLE, as NannyML defines it) over
  every scored row, labelled or not. A second model (:class:`DirectLossEstimator`),
  fitted on a labelled holdout, predicts each row's absolute and squared error
  from the model's inputs and its prediction; the estimated MAE and MSE are the
  means of those per-row predictions, RMSE the square root of the MSE.

DLE's assumptions (as CBPE's): the error's distribution given the inputs is
what it was on the holdout (no concept drift), and rows do not move into
regions the holdout never covered (the nanny model extrapolates flat there).
Under covariate shift alone it follows the error; under concept drift it cannot.

:func:`conformal_half_width` gives the split-conformal prediction interval
whose coverage the tally checks.

Reads and writes no tables.
"""

from __future__ import annotations

import math
import struct
from dataclasses import astuple, dataclass, fields
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeops.evaluate.binary import BAND_SIGMAS

if TYPE_CHECKING:
    import xgboost

#: Below this spread relative to their mean the labels count as constant (R² undefined): rounding in the
#: per-batch means leaves an M2 of that order where every label is equal.
CONSTANT_LABEL_RTOL = 1e-12


# --------------------------------------------------------------------------------------------- the tally


@dataclass(frozen=True)
class ErrorTally:
    """What one population's rows add up to: counts and sums that merge with ``+``.

    ``ErrorTally()`` is the empty tally (the identity of ``+``). Errors are
    ``prediction - label``. Counts are held as Python ints and travel as
    doubles, exact up to 2**53 rows.
    """

    #: every row
    n_scored: int = 0
    #: rows whose label is not NaN
    n_labeled: int = 0
    #: over the labelled rows: sum of |error|, error², error (prediction - label)
    abs_error_sum: float = 0.0
    squared_error_sum: float = 0.0
    error_sum: float = 0.0
    #: the labelled rows' mean label and sum of squared deviations from it (count: n_labeled)
    label_mean: float = 0.0
    label_m2: float = 0.0
    #: sum of predictions over every row (the model's output level, labelled or not)
    prediction_sum: float = 0.0
    #: labelled rows whose label is not 0, and their sum of |error| / |label|
    ape_n: int = 0
    ape_sum: float = 0.0
    #: labelled rows with both interval ends (not NaN), and how many of them have lower <= label <= upper
    interval_n: int = 0
    covered_n: int = 0
    #: DLE over every row: per-row estimated |error| and error² (NaN estimates skipped, each with its count)
    est_abs_n: int = 0
    est_abs_sum: float = 0.0
    est_sq_n: int = 0
    est_sq_sum: float = 0.0

    def __add__(self, other: ErrorTally) -> ErrorTally:
        if not isinstance(other, ErrorTally):
            return NotImplemented
        n = self.n_labeled + other.n_labeled
        if n == 0:
            mean, m2 = 0.0, 0.0
        else:
            # Chan, Golub and LeVeque's pairwise update: exact in exact arithmetic, and it never
            # subtracts two large sums of squares.
            delta = other.label_mean - self.label_mean
            mean = self.label_mean + delta * (other.n_labeled / n)
            m2 = self.label_m2 + other.label_m2 + delta * delta * (self.n_labeled * other.n_labeled / n)
        return ErrorTally(
            n_scored=self.n_scored + other.n_scored, n_labeled=n,
            abs_error_sum=self.abs_error_sum + other.abs_error_sum,
            squared_error_sum=self.squared_error_sum + other.squared_error_sum,
            error_sum=self.error_sum + other.error_sum, label_mean=mean, label_m2=m2,
            prediction_sum=self.prediction_sum + other.prediction_sum,
            ape_n=self.ape_n + other.ape_n, ape_sum=self.ape_sum + other.ape_sum,
            interval_n=self.interval_n + other.interval_n, covered_n=self.covered_n + other.covered_n,
            est_abs_n=self.est_abs_n + other.est_abs_n, est_abs_sum=self.est_abs_sum + other.est_abs_sum,
            est_sq_n=self.est_sq_n + other.est_sq_n, est_sq_sum=self.est_sq_sum + other.est_sq_sum,
        )

    def __radd__(self, other: Any) -> ErrorTally:
        # So that the builtin sum() works from its start value 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def as_list(self) -> list[float]:
        """The tally as doubles, in field order (one Arrow ``list<double>`` value)."""
        return [float(v) for v in astuple(self)]

    @classmethod
    def from_list(cls, values: list[float] | np.ndarray) -> ErrorTally:
        """The tally :meth:`as_list` wrote (counts back to ints)."""
        names = [f.name for f in fields(cls)]
        if len(values) != len(names):
            raise ValueError(f"an ErrorTally has {len(names)} values, got {len(values)}")
        kwargs: dict[str, Any] = {name: int(v) if _is_count(name) else float(v)
                                  for name, v in zip(names, values, strict=True)}
        return cls(**kwargs)


def _is_count(name: str) -> bool:
    return name.startswith("n_") or name.endswith("_n")


def _floats(name: str, values: np.ndarray | None, n: int) -> np.ndarray | None:
    if values is None:
        return None
    a = np.asarray(values, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must be 1-d with {n} rows like prediction, got shape {a.shape}")
    return a


def tally(*, prediction: np.ndarray, label: np.ndarray, lower: np.ndarray | None = None,
          upper: np.ndarray | None = None, est_abs: np.ndarray | None = None,
          est_sq: np.ndarray | None = None) -> ErrorTally:
    """The tally of these rows. A NaN label: not labelled yet. ``lower``/``upper``: the prediction interval
    (a row with either end NaN has none); ``est_abs``/``est_sq``: DLE's per-row estimates (NaN: none).

    Predictions must not be NaN: a row without a prediction was not scored.
    """
    p = np.asarray(prediction, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"prediction must be 1-d, got shape {p.shape}")
    n = p.size
    y = np.asarray(label, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(f"label must be 1-d with {n} rows like prediction, got shape {y.shape}")
    if np.isnan(p).any():
        raise ValueError("prediction has NaN values")
    labelled = ~np.isnan(y)
    yl, pl = y[labelled], p[labelled]
    m = int(yl.size)
    e = pl - yl
    abs_e = np.abs(e)
    if m:
        mean = float(yl.mean())
        d = yl - mean
        # Corrected two-pass sum of squares: the second term removes the rounding error of the mean
        # (it is exactly 0 for an exact mean), so equal labels give M2 = 0 up to rounding.
        m2 = float(d @ d - d.sum() ** 2 / m)
    else:
        mean, m2 = 0.0, 0.0
    nonzero = yl != 0
    lo, hi = _floats("lower", lower, n), _floats("upper", upper, n)
    interval_n = covered_n = 0
    if lo is not None and hi is not None:
        lol, hil = lo[labelled], hi[labelled]
        has = ~(np.isnan(lol) | np.isnan(hil))
        interval_n = int(has.sum())
        covered_n = int((has & (lol <= yl) & (yl <= hil)).sum())
    elif (lo is None) != (hi is None):
        raise ValueError("give both interval ends or neither")
    est_abs_n, est_abs_sum = _nan_skipping_sum(_floats("est_abs", est_abs, n))
    est_sq_n, est_sq_sum = _nan_skipping_sum(_floats("est_sq", est_sq, n))
    return ErrorTally(
        n_scored=n, n_labeled=m, abs_error_sum=float(abs_e.sum()), squared_error_sum=float(e @ e),
        error_sum=float(e.sum()), label_mean=mean, label_m2=max(m2, 0.0), prediction_sum=float(p.sum()),
        ape_n=int(nonzero.sum()), ape_sum=float((abs_e[nonzero] / np.abs(yl[nonzero])).sum()),
        interval_n=interval_n, covered_n=covered_n,
        est_abs_n=est_abs_n, est_abs_sum=est_abs_sum, est_sq_n=est_sq_n, est_sq_sum=est_sq_sum,
    )


def _nan_skipping_sum(a: np.ndarray | None) -> tuple[int, float]:
    if a is None:
        return 0, 0.0
    present = ~np.isnan(a)
    if present.all():
        return int(a.size), float(a.sum())  # the same summation order as a.mean(): estimated() matches it exactly
    return int(present.sum()), float(a[present].sum())


# --------------------------------------------------------------------------------------------- realised


@dataclass(frozen=True)
class Realised:
    """Metrics of a population's labelled rows (NaN where undefined)."""

    n_scored: int
    n_labeled: int
    mae: float
    rmse: float
    mse: float
    #: coefficient of determination, 1 - SSE / SST (NaN with fewer than 2 labelled rows or constant labels)
    r2: float
    #: mean of prediction - label (positive: the model over-predicts)
    bias: float
    #: mean |error| / |label| over the rows whose label is not 0, as a fraction (NaN: no such rows)
    mape: float
    #: share of the labelled rows with an interval whose interval holds the label (NaN: none has one)
    coverage: float
    label_mean: float
    #: over every scored row
    prediction_mean: float


def realised(t: ErrorTally) -> Realised:
    """Metrics of the labelled rows.

    Conventions where scikit-learn differs: R² is NaN (not 1.0 or 0.0 as
    ``r2_score`` returns by default) when the labels are constant (relative
    spread below ``CONSTANT_LABEL_RTOL``) or fewer than two are labelled: with
    no label variance there is nothing to explain, and a made-up 0 or 1 would
    be charted and alerted on like a real value. MAPE skips rows labelled 0
    (scikit-learn divides by machine epsilon there, which swamps the mean), so
    it is the mean over the rows where a relative error is defined.
    """
    nan = float("nan")
    m = t.n_labeled
    prediction_mean = t.prediction_sum / t.n_scored if t.n_scored else nan
    coverage = t.covered_n / t.interval_n if t.interval_n else nan
    if m == 0:
        return Realised(t.n_scored, 0, nan, nan, nan, nan, nan, nan, coverage, nan, prediction_mean)
    mse = t.squared_error_sum / m
    constant = t.label_m2 <= m * (CONSTANT_LABEL_RTOL * t.label_mean) ** 2
    r2 = 1.0 - t.squared_error_sum / t.label_m2 if m >= 2 and not constant else nan
    return Realised(
        n_scored=t.n_scored, n_labeled=m, mae=t.abs_error_sum / m, rmse=math.sqrt(mse), mse=mse, r2=r2,
        bias=t.error_sum / m, mape=t.ape_sum / t.ape_n if t.ape_n else nan, coverage=coverage,
        label_mean=t.label_mean, prediction_mean=prediction_mean,
    )


def as_metrics(r: Realised) -> dict[str, float]:
    """The metrics a regression model is judged and logged by (the gate's thresholds name them)."""
    return {"n": float(r.n_labeled), "mae": r.mae, "rmse": r.rmse, "r2": r.r2, "bias": r.bias, "mape": r.mape,
            "label_mean": r.label_mean}


# --------------------------------------------------------------------------------------------- estimated (DLE)


@dataclass(frozen=True)
class DleReference:
    """Standard deviations of the per-row absolute and squared errors on the labelled holdout (``rows`` rows).

    The sampling standard error of a mean over ``n`` rows is ``sd / sqrt(n)``,
    as NannyML's (``std(|error|) / sqrt(n)``). It is the unconditional spread,
    so the band is wide: given the rows' inputs the realised error varies less.
    """

    rows: int
    abs_error_sd: float
    squared_error_sd: float

    @classmethod
    def from_residuals(cls, residual: np.ndarray) -> DleReference:
        """From the holdout's residuals (prediction - label; NaN rows skipped), sample sd (ddof 1)."""
        r = np.asarray(residual, dtype=np.float64)
        r = r[~np.isnan(r)]
        if r.size < 2:
            raise ValueError(f"need at least 2 residuals for a standard deviation, got {r.size}")
        return cls(rows=int(r.size), abs_error_sd=float(np.abs(r).std(ddof=1)),
                   squared_error_sd=float(np.square(r).std(ddof=1)))

    def sd(self, metric: str, n: int) -> float:
        """The sampling standard deviation of the mean of ``n`` rows' absolute ("mae") or squared ("mse") errors."""
        per_row = {"mae": self.abs_error_sd, "mse": self.squared_error_sd}.get(metric)
        if per_row is None:
            raise ValueError(f"sd is defined for 'mae' and 'mse', got {metric!r}")
        return float(per_row / math.sqrt(n)) if n > 0 else float("nan")

    def band(self, metric: str, value: float, n: int) -> tuple[float, float]:
        """``value`` +- ``BAND_SIGMAS`` standard deviations at ``n`` rows, the lower end clipped at 0.

        For "rmse" the band is the square root of the MSE band around
        ``value ** 2`` (so it is not symmetric). NannyML instead uses the delta
        method around the reference MSE, ``sd_sq / (2 sqrt(n mse_ref))``; the
        two agree for large ``n`` when the estimate is near the reference.
        """
        if metric == "rmse":
            lo, hi = self.band("mse", value * value, n)
            return math.sqrt(lo), math.sqrt(hi)
        half = BAND_SIGMAS * self.sd(metric, n)
        return float(max(0.0, value - half)), float(value + half)


@dataclass(frozen=True)
class Estimated:
    """DLE's estimate over every scored row with an estimate; bands None without a :class:`DleReference`."""

    n_scored: int
    #: rows with an estimated absolute error (the rows the MAE averages, and the ``n`` of its band)
    n_estimated: int
    mae: float
    mse: float
    rmse: float
    mae_lower: float | None = None
    mae_upper: float | None = None
    mse_lower: float | None = None
    mse_upper: float | None = None
    rmse_lower: float | None = None
    rmse_upper: float | None = None


def estimated(t: ErrorTally, reference: DleReference | None) -> Estimated:
    """Direct Loss Estimation: the means of the per-row estimated absolute and squared errors.

    As NannyML's DLE: MAE and MSE are the means of the nanny models' per-row
    predictions, RMSE is ``sqrt(MSE)`` (not the mean of per-row RMSEs), and the
    band is the estimate +- 3 standard errors of the reference's per-row errors
    at the population's size. Where this differs: the nanny models are small
    fixed-configuration XGBoost regressors (NannyML: LightGBM defaults), the
    RMSE band is the square root of the MSE band (see :meth:`DleReference.band`),
    the band's ``n`` is the number of rows with an estimate (a realised value
    over fewer labelled rows varies more: call ``band`` with ``n_labeled`` for
    that comparison), and the MSE band is reported too.
    """
    nan = float("nan")
    mae = t.est_abs_sum / t.est_abs_n if t.est_abs_n else nan
    mse = t.est_sq_sum / t.est_sq_n if t.est_sq_n else nan
    rmse = math.sqrt(mse) if t.est_sq_n else nan
    if reference is None or not t.est_abs_n or not t.est_sq_n:
        return Estimated(t.n_scored, t.est_abs_n, mae, mse, rmse)
    mae_band = reference.band("mae", mae, t.est_abs_n)
    mse_band = reference.band("mse", mse, t.est_sq_n)
    rmse_band = reference.band("rmse", rmse, t.est_sq_n)
    return Estimated(t.n_scored, t.est_abs_n, mae, mse, rmse, *mae_band, *mse_band, *rmse_band)


# --------------------------------------------------------------------------------------------- intervals


def conformal_half_width(abs_residuals: np.ndarray, *, coverage: float) -> float:
    """Split-conformal half-width: the ``ceil((n + 1) * coverage)``-th smallest held-out |residual|.

    With ``n`` held-out rows exchangeable with the future ones, ``prediction +-
    half_width`` holds a fresh label with probability at least ``coverage``
    (and below ``coverage + 1 / (n + 1)`` without ties). +inf when that rank
    exceeds ``n``: too few rows to promise the coverage. NaN residuals are
    skipped. The rank is computed from ``coverage``'s shortest decimal form
    (0.9 as 9/10), so that ``(n + 1) * 0.9`` is not pushed up a rank by
    binary rounding.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    r = np.asarray(abs_residuals, dtype=np.float64).ravel()
    r = r[~np.isnan(r)]
    n = r.size
    k = math.ceil((n + 1) * Fraction(repr(float(coverage))))
    if k > n:
        return float("inf")
    return float(np.partition(r, k - 1)[k - 1])


# --------------------------------------------------------------------------------------------- the DLE model


#: The nanny models' configuration: small and fixed (no tuning). A row's |error| is mostly noise around
#: its conditional mean, which is usually smooth, so few shallow trees with big leaves fit it as well as
#: NannyML's 100 LightGBM trees of 31 leaves (bench/performance.py --problem regression, and a harder
#: world with interactions and t-noise: 100 rounds of depth 4 at eta 0.1 were no more accurate, the
#: error being the holdout's sampling error), and predicting costs in proportion to the trees walked
#: (docs/benchmarks.md has the figures).
DLE_ROUNDS = 20
DLE_PARAMS: dict[str, Any] = {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 5, "eta": 0.3,
                              "max_bin": 256, "subsample": 1.0, "lambda": 1.0}
#: At least this many rows per leaf (min_child_weight: a row weighs 1 under squared error), more on big holdouts.
DLE_MIN_LEAF_ROWS = 50
_BLOB_MAGIC = b"LKDLE1"


def dle_inputs(x: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The DLE model's inputs: the encoded features ``(rows, k)`` with the model's prediction as the last column."""
    x = np.asarray(x)
    p = np.asarray(prediction)
    if x.ndim != 2 or p.shape != (x.shape[0],):
        raise ValueError(f"x must be (rows, k) and prediction (rows,), got {x.shape} and {p.shape}")
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = x
    out[:, -1] = p
    return out


class DirectLossEstimator:
    """Two XGBoost regressors predicting a row's absolute and squared error from :func:`dle_inputs`.

    Both are fitted by least squares, so each predicts a conditional mean:
    E[|e| | x] and E[e² | x]. Their means over a population are the estimated
    MAE and MSE. The two are fitted apart, so a row's ``est_sq`` is not forced
    to be at least ``est_abs ** 2`` (Jensen's inequality holds for the true
    conditional means, not necessarily for two noisy fits); only the
    population-level ``sqrt(MSE) >= MAE`` is usually, not always, kept.
    Predictions are clipped at 0 (a boosted fit of a non-negative target can
    dip below it).
    """

    def __init__(self, abs_booster: xgboost.Booster, sq_booster: xgboost.Booster):
        self.abs_booster = abs_booster
        self.sq_booster = sq_booster

    @classmethod
    def fit(cls, x: np.ndarray, residual: np.ndarray, *, seed: int = 0, nthread: int = 1) -> DirectLossEstimator:
        """Fit on a labelled holdout: ``x`` from :func:`dle_inputs`, ``residual`` = prediction - label (NaN skipped).

        Deterministic for a given seed (hist is deterministic and nothing is subsampled).
        """
        import xgboost

        x = np.asarray(x, dtype=np.float32)
        r = np.asarray(residual, dtype=np.float64)
        if x.ndim != 2 or r.shape != (x.shape[0],):
            raise ValueError(f"x must be (rows, k) and residual (rows,), got {x.shape} and {r.shape}")
        keep = ~np.isnan(r)
        if not keep.all():
            x, r = x[keep], r[keep]
        if r.size == 0:
            raise ValueError("no labelled rows to fit the DLE model on")
        params = {**DLE_PARAMS, "seed": seed, "nthread": nthread,
                  "min_child_weight": max(DLE_MIN_LEAF_ROWS, r.size // 1000)}
        # One quantised matrix for both fits: the bins depend on x only; the label is swapped.
        data = xgboost.QuantileDMatrix(x, label=np.abs(r), max_bin=params["max_bin"], nthread=nthread)
        abs_booster = xgboost.train(params, data, num_boost_round=DLE_ROUNDS)
        data.set_label(np.square(r))
        sq_booster = xgboost.train(params, data, num_boost_round=DLE_ROUNDS)
        return cls(abs_booster, sq_booster)

    def predict(self, x: np.ndarray, *, nthread: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-row ``(est_abs, est_sq)``, float64, clipped at 0. ``nthread``: set the boosters' threads first."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.abs_booster.num_features():
            raise ValueError(f"x must be (rows, {self.abs_booster.num_features()}), got {x.shape}")
        if x.shape[0] == 0:
            return np.empty(0), np.empty(0)
        if nthread is not None:
            self.abs_booster.set_param({"nthread": nthread})
            self.sq_booster.set_param({"nthread": nthread})
        est_abs = np.maximum(self.abs_booster.inplace_predict(x).astype(np.float64), 0.0)
        est_sq = np.maximum(self.sq_booster.inplace_predict(x).astype(np.float64), 0.0)
        return est_abs, est_sq

    def to_bytes(self) -> bytes:
        """Both boosters as UBJSON in one blob: magic, the first's length (8 bytes, little endian), both."""
        first, second = bytes(self.abs_booster.save_raw("ubj")), bytes(self.sq_booster.save_raw("ubj"))
        return _BLOB_MAGIC + struct.pack("<Q", len(first)) + first + second

    @classmethod
    def from_bytes(cls, raw: bytes) -> DirectLossEstimator:
        """The estimator :meth:`to_bytes` wrote (one thread per booster until ``predict(nthread=...)``)."""
        import xgboost

        head = len(_BLOB_MAGIC)
        if raw[:head] != _BLOB_MAGIC or len(raw) < head + 8:
            raise ValueError("not a DirectLossEstimator blob")
        (size,) = struct.unpack("<Q", raw[head:head + 8])
        start = head + 8
        boosters = []
        for part in (raw[start:start + size], raw[start + size:]):
            booster = xgboost.Booster()
            booster.load_model(bytearray(part))
            booster.set_param({"nthread": 1})
            boosters.append(booster)
        return cls(*boosters)
