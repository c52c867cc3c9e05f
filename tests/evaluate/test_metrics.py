"""Metrics against hand-computed values and against scikit-learn on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from lakeops.evaluate import metrics as m


def test_hand_computed_values():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    # Pairs (pos, neg): (0.35 > 0.1), (0.35 < 0.4), (0.8 > 0.1), (0.8 > 0.4): 3 of 4.
    assert m.roc_auc(y, p) == pytest.approx(0.75)
    # Ranked 0.8(1) 0.4(0) 0.35(1) 0.1(0): AP = 0.5*1 + 0.5*(2/3).
    assert m.pr_auc(y, p) == pytest.approx(0.5 + 1 / 3)
    assert m.brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m.log_loss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert m.at_threshold(y, p, 0.35) == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8})
    # Ties count half: one positive and one negative with the same score.
    assert m.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(5000) < 0.07).astype(int)
    p = np.clip(0.05 + 0.3 * y * rng.random(5000) + 0.2 * rng.random(5000), 0, 1)
    p = np.round(p, 2)  # plenty of ties
    assert m.roc_auc(y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert m.pr_auc(y, p) == pytest.approx(sk.average_precision_score(y, p), abs=1e-12)
    assert m.log_loss(y, p) == pytest.approx(sk.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)), rel=1e-9)
    assert m.brier(y, p) == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)
    t = m.best_f1_threshold(y, p)
    pred = (p >= t).astype(int)
    assert m.at_threshold(y, p, t)["f1"] == pytest.approx(sk.f1_score(y, pred))
    # No other threshold beats it.
    assert all(sk.f1_score(y, (p >= u).astype(int)) <= m.at_threshold(y, p, t)["f1"] + 1e-12 for u in np.unique(p))


def test_calibration_table_counts_every_row():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.95, 1.0, 0.12])
    table = m.calibration_table(y, p, bins=10)
    assert sum(r["n"] for r in table) == 5
    assert table[1]["n"] == 2 and table[1]["positive_rate"] == 1.0 and table[9]["n"] == 2


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="0 or 1"):
        m.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="no rows"):
        m.brier([], [])
