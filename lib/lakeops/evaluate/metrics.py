"""Binary classification metrics on numpy arrays, written out so they can be checked.

The formulas follow their textbook definitions (and scikit-learn's conventions,
which the tests compare against): AUC from ranks with ties averaged, PR-AUC as
average precision (a step function, no interpolation), logloss with
probabilities clipped to ``[eps, 1 - eps]``. Reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

EPS = 1e-15


def _arrays(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_score, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d arrays of one length, got {y.shape} and {p.shape}")
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y, p


def roc_auc(y_true, y_score) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    y, p = _arrays(y_true, y_score)
    n_pos, n_neg = y.sum(), (1 - y).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty_like(p)
    sorted_p = p[order]
    # Average rank within each run of tied scores.
    boundaries = np.flatnonzero(np.diff(sorted_p)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [p.size]))
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each run
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y_true, y_score) -> float:
    """Average precision: sum over thresholds of (recall step) x precision."""
    y, p = _arrays(y_true, y_score)
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    # One point per distinct score: the last index of each run of ties.
    last = np.concatenate((np.flatnonzero(np.diff(p_sorted)), [p.size - 1]))
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    recall_steps = np.diff(np.concatenate(([0.0], recall)))
    return float((recall_steps * precision).sum())


def log_loss(y_true, y_score) -> float:
    y, p = _arrays(y_true, y_score)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def brier(y_true, y_score) -> float:
    y, p = _arrays(y_true, y_score)
    return float(((p - y) ** 2).mean())


def at_threshold(y_true, y_score, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 when ``score >= threshold`` predicts 1."""
    y, p = _arrays(y_true, y_score)
    pred = p >= threshold
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(y_true, y_score) -> float:
    """The score threshold with the highest F1 (the model's decision threshold)."""
    y, p = _arrays(y_true, y_score)
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    last = np.concatenate((np.flatnonzero(np.diff(p_sorted)), [p.size - 1]))
    tp = np.cumsum(y_sorted)[last]
    predicted = last + 1
    n_pos = y.sum()
    if n_pos == 0:
        return 0.5
    f1 = 2 * tp / (predicted + n_pos)
    return float(p_sorted[last][int(np.argmax(f1))])


def calibration_table(y_true, y_score, *, bins: int = 10) -> list[dict[str, float]]:
    """Equal-width score bins: rows, mean score and observed positive rate per bin."""
    y, p = _arrays(y_true, y_score)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        mask = idx == b
        n = int(mask.sum())
        table.append({
            "bin": b,
            "lower": b / bins,
            "upper": (b + 1) / bins,
            "n": n,
            "mean_score": float(p[mask].mean()) if n else float("nan"),
            "positive_rate": float(y[mask].mean()) if n else float("nan"),
        })
    return table


def expected_calibration_error(y_true, y_score, *, bins: int = 10) -> float:
    """ECE: the row-weighted mean gap between mean score and positive rate over equal-width score bins."""
    y, p = _arrays(y_true, y_score)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=p, minlength=bins) - np.bincount(idx, weights=y, minlength=bins))
    return float(gap.sum() / n.sum())


@dataclass(frozen=True)
class Evaluation:
    n: int
    positives: int
    auc: float
    pr_auc: float
    logloss: float
    brier: float
    ece: float
    threshold: float
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def evaluate(y_true, y_score, *, threshold: float) -> Evaluation:
    """Every metric lakeops reports for one model on one set of rows."""
    y, p = _arrays(y_true, y_score)
    at = at_threshold(y, p, threshold)
    return Evaluation(
        n=int(y.size), positives=int(y.sum()), auc=roc_auc(y, p), pr_auc=pr_auc(y, p), logloss=log_loss(y, p),
        brier=brier(y, p), ece=expected_calibration_error(y, p), threshold=float(threshold), **at,
    )
