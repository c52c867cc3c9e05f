"""Model quality from a score histogram: realised metrics (labels) and CBPE estimates (scores only).

A day's rows are tallied once into a :class:`ScoreHistogram`: rows and score
sums per fine score bin (``BINS`` equal-width bins on [0, 1]) and per label
state (negative, positive, not labelled yet), plus the exact sums that
logloss, Brier and the confusion matrix at the threshold need. Histograms add
up, so Spark tasks tally their batches and the sums meet on the driver
(:mod:`lakeops.monitor.performance`); no row reaches the driver.

From one histogram:

- :func:`realised`: metrics of the labelled rows. Logloss, Brier, precision,
  recall and F1 are exact (their sums are tallied row by row); AUC and PR-AUC
  treat the rows of one fine bin as tied, which moves AUC by at most
  :func:`auc_binning_bound` (half the share of positive-negative pairs that
  share a bin); ECE uses 10 equal-width bins, exact sums of the fine ones.
- :func:`estimated`: confidence-based performance estimation (CBPE, as NannyML
  defines it) over every scored row, labelled or not. With a calibrated
  probability p and the decision at the threshold, a row adds p to the
  expected true positives (decision 1) or false negatives (decision 0) and
  1 - p to the false positives or true negatives; those sums are exact. The
  expected ROC curve steps through the scores from the top, adding p to the
  expected positives and 1 - p to the expected negatives; here it steps bin by
  bin (a bin's rows as ties), which differs from the per-row curve
  (:func:`expected_auc_rows`) by at most :func:`expected_auc_binning_bound`.

CBPE's assumptions (stated again in the docs and the report): the scores are
calibrated probabilities, P(label | features) is what it was at training (no
concept drift), and the rows do not move into regions the model never saw.

Reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Fine score bins on [0, 1]; a multiple of ``ECE_BINS`` so calibration bins are exact sums of them.
BINS = 10_000
#: Bins of the expected calibration error (equal width).
ECE_BINS = 10
#: Label states: the rows of the histogram's arrays.
NEGATIVE, POSITIVE, UNLABELLED = 0, 1, 2
#: Probabilities are clipped to [EPS, 1 - EPS] inside logloss (as scikit-learn does for float64).
EPS = 1e-15
#: The band around an estimate: this many sampling standard errors either side.
BAND_SIGMAS = 3.0


def score_bins(scores: np.ndarray) -> np.ndarray:
    """The fine bin of each score (scores outside [0, 1] land in the end bins)."""
    scaled = np.asarray(scores, dtype=np.float64) * BINS
    np.clip(scaled, 0, BINS - 1, out=scaled)
    return scaled.astype(np.intp)


@dataclass
class ScoreHistogram:
    """One population's scores by fine bin and label state, with the exact sums the metrics need."""

    #: rows per (label state, bin)
    rows: np.ndarray = field(default_factory=lambda: np.zeros((3, BINS), dtype=np.int64))
    #: sum of scores per (label state, bin)
    score_sum: np.ndarray = field(default_factory=lambda: np.zeros((3, BINS), dtype=np.float64))
    #: per label state: rows decided 1 (score >= threshold), and the sum of their scores
    decided: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))
    decided_score_sum: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float64))
    #: per labelled state: sum of -log(p) (positives) or -log(1 - p) (negatives), and of squared errors
    log_loss_sum: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float64))
    squared_error_sum: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float64))

    def __add__(self, other: ScoreHistogram) -> ScoreHistogram:
        return ScoreHistogram(self.rows + other.rows, self.score_sum + other.score_sum, self.decided + other.decided,
                              self.decided_score_sum + other.decided_score_sum,
                              self.log_loss_sum + other.log_loss_sum, self.squared_error_sum + other.squared_error_sum)

    @property
    def n_scored(self) -> int:
        return int(self.rows.sum())

    @property
    def n_labeled(self) -> int:
        return int(self.rows[:UNLABELLED].sum())


def tally(scores: np.ndarray, decisions: np.ndarray, labels: np.ndarray) -> ScoreHistogram:
    """The histogram of rows with these scores, 0/1 decisions and labels (NaN: not labelled yet).

    One compiled pass over the rows (:mod:`lakeops.evaluate._binary_kernel`).
    """
    from lakeops.evaluate._binary_kernel import tally_rows  # numba loads here, on first use

    p = np.ascontiguousarray(scores, dtype=np.float64)
    decided = np.ascontiguousarray(decisions, dtype=np.bool_)
    y = np.ascontiguousarray(labels, dtype=np.float64)
    if not p.shape == decided.shape == y.shape or p.ndim != 1:
        raise ValueError(f"scores, decisions and labels must be 1-d of one length, got {p.shape}, {decided.shape}, "
                         f"{y.shape}")
    h = ScoreHistogram()
    sums = np.zeros((3, 3), dtype=np.float64)
    tally_rows(p, decided, y, BINS, EPS, h.rows, h.score_sum, h.decided, sums)
    h.decided_score_sum = sums[0]
    h.log_loss_sum, h.squared_error_sum = sums[1, :2].copy(), sums[2, :2].copy()
    return h


# Sparse form, for summing histograms in Spark: (cell, n, total) triples of the non-empty cells.
# Cells 0 .. 3 * BINS - 1 are (label state, bin) with rows and score sum; negative cells are the
# scalars: -1 - state for the decided rows (rows, score sum), -4 - state and -6 - state for the
# log-loss and squared-error sums of the labelled states.
_DECIDED, _LOG_LOSS, _SQUARED = -1, -4, -6


def to_cells(h: ScoreHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The histogram's non-empty cells as ``(cell, n, total)`` arrays."""
    flat_n, flat_total = h.rows.ravel(), h.score_sum.ravel()
    cell = np.flatnonzero(flat_n)
    scalar_cells = np.array([_DECIDED - s for s in range(3)] + [_LOG_LOSS - s for s in range(2)]
                            + [_SQUARED - s for s in range(2)])
    scalar_n = np.concatenate((h.decided, np.zeros(4, dtype=np.int64)))
    scalar_total = np.concatenate((h.decided_score_sum, h.log_loss_sum, h.squared_error_sum))
    return (np.concatenate((cell, scalar_cells)).astype(np.int32), np.concatenate((flat_n[cell], scalar_n)),
            np.concatenate((flat_total[cell], scalar_total)))


def from_cells(cell: np.ndarray, n: np.ndarray, total: np.ndarray) -> ScoreHistogram:
    """The histogram whose cells these are (cells may repeat: they add up)."""
    cell, n, total = np.asarray(cell, dtype=np.int64), np.asarray(n, dtype=np.int64), np.asarray(total, dtype=np.float64)
    h = ScoreHistogram()
    binned = cell >= 0
    np.add.at(h.rows.ravel(), cell[binned], n[binned])
    np.add.at(h.score_sum.ravel(), cell[binned], total[binned])
    for s in range(3):
        pick = cell == _DECIDED - s
        h.decided[s] += n[pick].sum()
        h.decided_score_sum[s] += total[pick].sum()
    for s in range(2):
        h.log_loss_sum[s] += total[cell == _LOG_LOSS - s].sum()
        h.squared_error_sum[s] += total[cell == _SQUARED - s].sum()
    return h


@dataclass(frozen=True)
class Quality:
    """A population's model quality: realised (from labels) or estimated (from scores)."""

    n_scored: int
    n_labeled: int
    positive_rate: float
    auc: float
    precision: float
    recall: float
    f1: float
    pr_auc: float = float("nan")
    logloss: float = float("nan")
    brier: float = float("nan")
    ece: float = float("nan")
    #: how far the histogram's AUC may be from the per-row value
    auc_bound: float = 0.0


def _ranked_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of per-bin positive and negative mass, a bin's rows counted as ties."""
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    above = np.cumsum(pos[::-1])[::-1] - pos  # positive mass in higher bins
    return float((neg * (above + pos / 2)).sum() / (total_pos * total_neg))


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp > 0 else float("nan")
    recall = tp / (tp + fn) if tp + fn > 0 else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan")
    return precision, recall, f1


def realised(h: ScoreHistogram) -> Quality:
    """Metrics of the labelled rows (NaN where there are none, or one class only for AUC)."""
    neg, pos = h.rows[NEGATIVE].astype(np.float64), h.rows[POSITIVE].astype(np.float64)
    n = int(neg.sum() + pos.sum())
    if n == 0:
        nan = float("nan")
        return Quality(h.n_scored, 0, nan, nan, nan, nan, nan)
    n_pos = pos.sum()
    tp, fp = float(h.decided[POSITIVE]), float(h.decided[NEGATIVE])
    precision, recall, f1 = _f1(tp, fp, n_pos - tp)
    # Average precision: one step per bin, from the top (a bin's rows are ties, as in scikit-learn).
    cum_pos, cum_all = np.cumsum(pos[::-1]), np.cumsum((pos + neg)[::-1])
    steps = pos[::-1] > 0
    pr_auc = float((pos[::-1][steps] / n_pos * cum_pos[steps] / cum_all[steps]).sum()) if n_pos else float("nan")
    labelled_sum = h.score_sum[NEGATIVE] + h.score_sum[POSITIVE]
    return Quality(
        n_scored=h.n_scored, n_labeled=n, positive_rate=float(n_pos / n), auc=_ranked_auc(pos, neg),
        precision=precision, recall=recall, f1=f1, pr_auc=pr_auc,
        logloss=float(h.log_loss_sum.sum() / n), brier=float(h.squared_error_sum.sum() / n),
        ece=_ece(labelled_sum, pos, n), auc_bound=auc_binning_bound(h),
    )


def _ece(score_sum: np.ndarray, positives: np.ndarray, n: int) -> float:
    """Expected calibration error over ``ECE_BINS`` equal-width bins, from fine-bin sums."""
    gap = score_sum.reshape(ECE_BINS, -1).sum(axis=1) - positives.reshape(ECE_BINS, -1).sum(axis=1)
    return float(np.abs(gap).sum() / n)


def auc_binning_bound(h: ScoreHistogram) -> float:
    """Largest possible gap between the histogram's realised AUC and the per-row AUC."""
    neg, pos = h.rows[NEGATIVE].astype(np.float64), h.rows[POSITIVE].astype(np.float64)
    if pos.sum() == 0 or neg.sum() == 0:
        return 0.0
    return float((pos * neg).sum() / 2 / (pos.sum() * neg.sum()))


def estimated(h: ScoreHistogram) -> Quality:
    """CBPE over every scored row: the expected confusion matrix at the threshold and the expected AUC."""
    n = h.n_scored
    if n == 0:
        nan = float("nan")
        return Quality(0, h.n_labeled, nan, nan, nan, nan, nan)
    expected_pos = h.score_sum.sum(axis=0)  # per bin: sum of p
    expected_neg = h.rows.sum(axis=0) - expected_pos  # per bin: sum of 1 - p
    decided_rows, decided_p = float(h.decided.sum()), float(h.decided_score_sum.sum())
    tp = decided_p
    fp = decided_rows - decided_p
    fn = float(expected_pos.sum()) - decided_p
    precision, recall, f1 = _f1(tp, fp, fn)
    return Quality(
        n_scored=n, n_labeled=h.n_labeled, positive_rate=float(expected_pos.sum() / n),
        auc=_ranked_auc(expected_pos, expected_neg), precision=precision, recall=recall, f1=f1,
        auc_bound=expected_auc_binning_bound(h),
    )


def expected_auc_binning_bound(h: ScoreHistogram) -> float:
    """Largest possible gap between the histogram's expected AUC and the per-row one."""
    p = h.score_sum.sum(axis=0)
    q = h.rows.sum(axis=0) - p
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    return float((p * q).sum() / 2 / (p.sum() * q.sum()))


def expected_auc_rows(scores: np.ndarray) -> float:
    """CBPE's expected AUC row by row (the reference :func:`estimated` is tested against).

    Rows sorted by score from the top; each adds p to the expected true
    positives and 1 - p to the expected false positives; tied scores form one
    step; the area is the trapezoid rule over the (FPR, TPR) points.
    """
    p = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    distinct = np.concatenate((np.flatnonzero(np.diff(p)), [p.size - 1]))
    tp = np.concatenate(([0.0], np.cumsum(p)[distinct]))
    fp = np.concatenate(([0.0], np.cumsum(1 - p)[distinct]))
    if tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    return float(np.trapezoid(tp / tp[-1], fp / fp[-1]))


# --- the band: how far a realised value may fall from the estimate by sampling alone -----------------


@dataclass(frozen=True)
class SamplingReference:
    """Standard deviations of realised metrics over resamples of the holdout, at ``rows`` rows."""

    rows: int
    auc_sd: float
    f1_sd: float
    precision_sd: float
    recall_sd: float

    def sd(self, metric: str, n: int) -> float:
        """The metric's sampling standard deviation at ``n`` rows (it shrinks as 1/sqrt(n))."""
        if n <= 0:
            return float("nan")
        return float(getattr(self, f"{metric}_sd") * np.sqrt(self.rows / n))

    def band(self, metric: str, value: float, n: int) -> tuple[float, float]:
        """``value`` +- ``BAND_SIGMAS`` standard deviations at ``n`` rows, clipped to [0, 1]."""
        half = BAND_SIGMAS * self.sd(metric, n)
        return float(max(0.0, value - half)), float(min(1.0, value + half))


def sampling_reference(labels: np.ndarray, scores: np.ndarray, *, threshold: float, resamples: int = 200,
                       seed: int = 0) -> SamplingReference:
    """Bootstrap the holdout: how much AUC, F1, precision and recall vary between samples of its size."""
    from lakeops.evaluate.metrics import at_threshold, roc_auc

    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {"auc": [], "f1": [], "precision": [], "recall": []}
    for _ in range(resamples):
        pick = rng.integers(0, y.size, y.size)
        ys, ps = y[pick], p[pick]
        values["auc"].append(roc_auc(ys, ps))
        for name, value in at_threshold(ys, ps, threshold).items():
            values[name].append(value)
    sd = {k: float(np.nanstd(v, ddof=1)) for k, v in values.items()}
    return SamplingReference(rows=int(y.size), auc_sd=sd["auc"], f1_sd=sd["f1"], precision_sd=sd["precision"],
                             recall_sd=sd["recall"])
