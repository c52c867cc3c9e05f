"""Realised and estimated (CBPE) performance from score histograms, and Platt calibration.

Checked against hand-computed cases, scikit-learn, a per-row CBPE and a brute-force pair count.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from lakeops.evaluate import binary, metrics
from lakeops.evaluate.calibration import Platt

SCORES = np.array([0.9, 0.6, 0.2, 0.1])
LABELS = np.array([1.0, 0.0, 1.0, 0.0])


def test_cbpe_by_hand():
    # threshold 0.5: decisions 1, 1, 0, 0. Expected TP = .9 + .6, FP = .1 + .4, FN = .2 + .1.
    q = binary.estimated(binary.tally(SCORES, SCORES >= 0.5, np.full(4, np.nan)))
    assert q.n_scored == 4 and q.n_labeled == 0
    assert q.positive_rate == pytest.approx(1.8 / 4)
    assert q.precision == pytest.approx(1.5 / 2.0)
    assert q.recall == pytest.approx(1.5 / 1.8)
    assert q.f1 == pytest.approx(3.0 / 3.8)
    # Expected ROC from the top: each row adds p to TP and 1 - p to FP; trapezoids:
    # sum_j (1 - p_j) * (p above j + p_j / 2) / (sum p * sum (1 - p)) = 3.38 / 3.96.
    assert q.auc == pytest.approx(3.38 / 3.96)
    assert binary.expected_auc_rows(SCORES) == pytest.approx(3.38 / 3.96)


def test_realised_by_hand():
    q = binary.realised(binary.tally(SCORES, SCORES >= 0.5, LABELS))
    assert (q.n_scored, q.n_labeled, q.positive_rate) == (4, 4, 0.5)
    assert q.auc == pytest.approx(3 / 4)  # 3 of the 4 positive-negative pairs are ordered right
    assert (q.precision, q.recall, q.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert q.logloss == pytest.approx(-(math.log(0.9) + math.log(0.4) + math.log(0.2) + math.log(0.9)) / 4)
    assert q.brier == pytest.approx((0.01 + 0.36 + 0.64 + 0.01) / 4)
    assert q.ece == pytest.approx((0.1 + 0.6 + 0.8 + 0.1) / 4)  # one row per calibration bin here


def test_unlabelled_rows_count_as_scored_only():
    labels = np.array([1.0, np.nan, np.nan, 0.0])
    h = binary.tally(SCORES, SCORES >= 0.5, labels)
    q = binary.realised(h)
    assert (q.n_scored, q.n_labeled) == (4, 2)
    assert q.auc == 1.0 and q.precision == 1.0 and q.recall == 1.0
    assert binary.estimated(h).n_scored == 4
    empty = binary.realised(binary.tally(SCORES, SCORES >= 0.5, np.full(4, np.nan)))
    assert empty.n_labeled == 0 and math.isnan(empty.auc)


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(7)
    n = 50_000
    p = rng.beta(0.6, 8.0, n)
    y = (rng.random(n) < p).astype(np.float64)
    return p, y


def test_realised_matches_scikit_learn(calibrated):
    p, y = calibrated
    threshold = 0.2
    q = binary.realised(binary.tally(p, p >= threshold, y))
    assert abs(q.auc - skm.roc_auc_score(y, p)) <= q.auc_bound
    assert q.auc == pytest.approx(skm.roc_auc_score(y, p), abs=1e-4)
    assert q.pr_auc == pytest.approx(skm.average_precision_score(y, p), abs=2e-3)
    assert q.logloss == pytest.approx(skm.log_loss(y, p), rel=1e-12)
    assert q.brier == pytest.approx(skm.brier_score_loss(y, p), rel=1e-12)
    decided = p >= threshold
    assert q.precision == pytest.approx(skm.precision_score(y, decided), rel=1e-12)
    assert q.recall == pytest.approx(skm.recall_score(y, decided), rel=1e-12)
    assert q.f1 == pytest.approx(skm.f1_score(y, decided), rel=1e-12)
    assert q.ece == pytest.approx(metrics.expected_calibration_error(y, p), rel=1e-9)


def test_estimated_auc_matches_the_per_row_curve(calibrated):
    p, _ = calibrated
    h = binary.tally(p, p >= 0.2, np.full(p.size, np.nan))
    q = binary.estimated(h)
    exact = binary.expected_auc_rows(p)
    assert abs(q.auc - exact) <= q.auc_bound
    assert q.auc == pytest.approx(exact, abs=1e-5)


def test_per_row_expected_auc_is_the_expected_pair_order():
    # An independent check of the per-row curve: E[AUC numerator] over pairs, by brute force.
    rng = np.random.default_rng(3)
    p = np.round(rng.random(300), 2)  # ties on purpose
    q = 1 - p
    above = (p[:, None] > p[None, :]).astype(float) + 0.5 * (p[:, None] == p[None, :])
    brute = (p[:, None] * q[None, :] * above).sum() / (p.sum() * q.sum())
    assert binary.expected_auc_rows(p) == pytest.approx(brute, rel=1e-12)


def test_cbpe_is_unbiased_when_scores_are_calibrated():
    # Labels drawn from the scores themselves: the mean realised metric over many draws is the estimate.
    rng = np.random.default_rng(11)
    p = rng.beta(0.8, 6.0, 4000)
    decided = p >= 0.25
    estimate = binary.estimated(binary.tally(p, decided, np.full(p.size, np.nan)))
    draws = [binary.realised(binary.tally(p, decided, (rng.random(p.size) < p).astype(float))) for _ in range(300)]
    assert np.mean([d.auc for d in draws]) == pytest.approx(estimate.auc, abs=2e-3)
    assert np.mean([d.precision for d in draws]) == pytest.approx(estimate.precision, abs=3e-3)
    assert np.mean([d.recall for d in draws]) == pytest.approx(estimate.recall, abs=3e-3)


def test_histograms_add_up_and_survive_the_sparse_form(calibrated):
    p, y = calibrated
    y = y.copy()
    y[::7] = np.nan
    decided = p >= 0.3
    whole = binary.tally(p, decided, y)
    parts = binary.tally(p[:1000], decided[:1000], y[:1000]) + binary.tally(p[1000:], decided[1000:], y[1000:])
    cells = [binary.to_cells(binary.tally(p[i::3], decided[i::3], y[i::3])) for i in range(3)]
    rebuilt = binary.from_cells(*(np.concatenate(parts_) for parts_ in zip(*cells, strict=True)))
    for h in (parts, rebuilt):
        assert np.array_equal(h.rows, whole.rows) and np.array_equal(h.decided, whole.decided)
        assert np.allclose(h.score_sum, whole.score_sum) and np.allclose(h.log_loss_sum, whole.log_loss_sum)
        assert np.allclose(h.squared_error_sum, whole.squared_error_sum)


def test_the_band_shrinks_with_rows_and_covers_sampling_noise():
    rng = np.random.default_rng(5)
    p = rng.beta(0.8, 6.0, 5000)
    y = (rng.random(p.size) < p).astype(float)
    ref = binary.sampling_reference(y, p, threshold=0.25, resamples=200, seed=1)
    assert ref.rows == 5000 and 0 < ref.auc_sd < 0.05
    assert ref.sd("auc", 20_000) == pytest.approx(ref.auc_sd / 2)
    # Days of 2,000 rows drawn from the same calibrated model: the realised AUC lies in the band.
    inside = 0
    for _ in range(100):
        day = rng.beta(0.8, 6.0, 2000)
        labels = (rng.random(day.size) < day).astype(float)
        h = binary.tally(day, day >= 0.25, labels)
        lower, upper = ref.band("auc", binary.estimated(h).auc, h.n_scored)
        inside += lower <= binary.realised(h).auc <= upper
    assert inside >= 95


def test_platt_fit_is_the_maximum_likelihood_fit():
    rng = np.random.default_rng(2)
    margin = rng.normal(0.0, 2.0, 20_000)
    y = (rng.random(margin.size) < 1 / (1 + np.exp(-(0.7 * margin - 2.0)))).astype(int)
    fitted = Platt.fit(margin, y)
    # Independently: scikit-learn's unpenalised logistic regression.
    reference = LogisticRegression(C=np.inf, max_iter=1000).fit(margin.reshape(-1, 1), y)
    assert (fitted.slope, fitted.intercept) == pytest.approx((reference.coef_[0, 0], reference.intercept_[0]),
                                                             abs=1e-3)
    assert (fitted.slope, fitted.intercept) == pytest.approx((0.7, -2.0), abs=0.1)
    p = fitted.probability(margin)
    assert metrics.roc_auc(y, p) == pytest.approx(metrics.roc_auc(y, margin), abs=1e-12)  # monotone
    assert metrics.expected_calibration_error(y, p) < 0.01
    assert Platt.from_dict(fitted.as_dict()) == fitted and Platt.from_dict(None) == Platt()
    extreme = Platt(1.0, 0.0).probability(np.array([-800.0, 0.0, 800.0]))
    assert np.array_equal(extreme, [0.0, 0.5, 1.0]) or np.allclose(extreme, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="both classes"):
        Platt.fit(margin[:10], np.zeros(10))
