"""Multiclass quality: the temperature-scaled output, tallies, realised metrics, CBPE and the sampling band.

Checked against hand-computed values, scikit-learn, a one-shot tally of the same rows, a
per-row numpy transcription of NannyML 0.13's multiclass CBPE, and seeded worlds whose
labels are drawn from the probabilities (so the estimate and the truth must agree).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from lakeops.evaluate import multiclass as mc
from lakeops.evaluate.binary import expected_auc_rows

CLASSES = ("cat", "dog", "owl")

# Six rows, three classes; the last row is not labelled yet.
P = np.array([
    [0.7, 0.2, 0.1],  # predicted cat, actual cat
    [0.2, 0.5, 0.3],  # predicted dog, actual cat
    [0.1, 0.8, 0.1],  # predicted dog, actual dog
    [0.3, 0.3, 0.4],  # predicted owl, actual dog
    [0.2, 0.2, 0.6],  # predicted owl, actual owl
    [0.5, 0.4, 0.1],  # predicted cat, not labelled
])
Y = np.array([0, 0, 1, 1, 2, -1])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def world(n: int, k: int = 4, *, seed: int, unlabelled: float = 0.0, scale: float = 1.5):
    """Calibrated probabilities (softmax of Gaussian logits, classes of unequal size) and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = softmax(rng.normal(0.0, scale, (n, k)) + np.linspace(0.6, -0.6, k))
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    y = np.minimum(y, k - 1)  # a cumulative sum just below 1 by rounding
    if unlabelled:
        y[rng.random(n) < unlabelled] = -1
    return p, y


# --------------------------------------------------------------------------------------------- by hand


def test_realised_by_hand():
    t = mc.tally(probabilities=P, labels=Y)
    assert (t.n_scored, t.n_labeled) == (6, 5)
    np.testing.assert_array_equal(t.confusion, [[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    q = mc.realised(t, CLASSES)
    assert q.accuracy == pytest.approx(3 / 5)
    cat, dog, owl = q.classes
    # cat: tp 1, predicted 1 (labelled), actual 2; dog: tp 1, predicted 2, actual 2; owl: tp 1, predicted 2, actual 1
    assert (cat.precision, cat.recall, cat.f1) == pytest.approx((1.0, 0.5, 2 / 3))
    assert (dog.precision, dog.recall, dog.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert (owl.precision, owl.recall, owl.f1) == pytest.approx((0.5, 1.0, 2 / 3))
    assert [c.support for c in q.classes] == [2, 2, 1]
    assert [c.predicted for c in q.classes] == [1, 2, 2]
    assert q.macro_f1 == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)
    assert q.weighted_f1 == pytest.approx((2 * 2 / 3 + 2 * 0.5 + 2 / 3) / 5)
    assert q.macro_precision == pytest.approx(2 / 3)
    assert q.logloss == pytest.approx(-(math.log(0.7) + math.log(0.2) + math.log(0.8) + math.log(0.3)
                                        + math.log(0.6)) / 5)
    # cat's scores: positives .7, .2; negatives .1, .3, .2 -> pairs won 3 + 1 + 0.5 (the tie at .2) of 6
    assert cat.auc == pytest.approx(4.5 / 6, abs=q.auc_bound)


def test_estimated_by_hand():
    q = mc.estimated(mc.tally(probabilities=P, labels=Y), CLASSES)
    assert q.n_scored == 6
    # accuracy: mean probability of the predicted class
    assert q.accuracy == pytest.approx((0.7 + 0.5 + 0.8 + 0.4 + 0.6 + 0.5) / 6)
    # cat, predicted on rows 0 and 5: TP .7 + .5, FP .3 + .5, FN .2 + .1 + .3 + .2
    cat = q.classes[0]
    assert cat.precision == pytest.approx(1.2 / 2.0)
    assert cat.recall == pytest.approx(1.2 / 2.0)
    assert cat.support == pytest.approx(2.0)
    assert cat.predicted == 2
    assert math.isnan(q.logloss)
    np.testing.assert_allclose(q.confusion.sum(axis=0), [2, 2, 2])  # rows predicted as each class


# --------------------------------------------------------------------------------------------- scikit-learn


@pytest.fixture(scope="module")
def mixed():
    return world(30_000, 4, seed=3, unlabelled=0.3)


def test_realised_equals_scikit_learn(mixed):
    p, y = mixed
    classes = ("a", "b", "c", "d")
    q = mc.realised(mc.tally(probabilities=p, labels=y), classes)
    keep = y >= 0
    yl, pl = y[keep], p[keep]
    pred = pl.argmax(axis=1)
    labels = list(range(4))
    assert q.n_labeled == keep.sum() and q.n_scored == y.size
    assert q.accuracy == pytest.approx(skm.accuracy_score(yl, pred), abs=1e-9)
    assert q.macro_f1 == pytest.approx(skm.f1_score(yl, pred, average="macro"), abs=1e-9)
    assert q.weighted_f1 == pytest.approx(skm.f1_score(yl, pred, average="weighted"), abs=1e-9)
    assert q.macro_precision == pytest.approx(skm.precision_score(yl, pred, average="macro"), abs=1e-9)
    assert q.macro_recall == pytest.approx(skm.recall_score(yl, pred, average="macro"), abs=1e-9)
    precision, recall, f1, support = skm.precision_recall_fscore_support(yl, pred, labels=labels)
    np.testing.assert_allclose([c.precision for c in q.classes], precision, atol=1e-9)
    np.testing.assert_allclose([c.recall for c in q.classes], recall, atol=1e-9)
    np.testing.assert_allclose([c.f1 for c in q.classes], f1, atol=1e-9)
    np.testing.assert_array_equal([c.support for c in q.classes], support)
    np.testing.assert_array_equal(q.confusion, skm.confusion_matrix(yl, pred, labels=labels))
    assert q.logloss == pytest.approx(skm.log_loss(yl, pl, labels=labels), abs=1e-9)
    sk_auc = skm.roc_auc_score(yl, pl, multi_class="ovr", average="macro", labels=labels)
    print(f"macro AUC {q.auc:.6f}, scikit-learn {sk_auc:.6f}, binning bound {q.auc_bound:.1e}")
    assert 0 < q.auc_bound < 1e-3
    assert abs(q.auc - sk_auc) <= q.auc_bound
    for k, c in enumerate(q.classes):
        assert abs(c.auc - skm.roc_auc_score(yl == k, pl[:, k])) <= q.auc_bound


def test_evaluate_is_realised_and_takes_names(mixed):
    p, y = mixed
    classes = ("a", "b", "c", "d")
    q = mc.realised(mc.tally(probabilities=p, labels=y), classes)
    by_index = mc.evaluate(y, p, classes=classes)
    names = np.array([classes[i] if i >= 0 else None for i in y], dtype=object)
    assert mc.evaluate(names, p, classes=classes) == by_index
    assert by_index["n"] == q.n_labeled
    assert (by_index["accuracy"], by_index["macro_f1"], by_index["auc"]) == (q.accuracy, q.macro_f1, q.auc)
    assert by_index["f1_c"] == q.classes[2].f1
    assert set(by_index) == {"n", "accuracy", "macro_f1", "weighted_f1", "auc", "logloss", "macro_precision",
                             "macro_recall", *(f"{m}_{c}" for c in classes for m in ("precision", "recall", "f1"))}


def test_undefined_metrics_are_nan_and_skipped():
    # "owl" is never labelled and never predicted: its precision, recall, F1 and AUC are undefined.
    p = np.array([[0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])
    q = mc.realised(mc.tally(probabilities=p, labels=np.array([0, 1, 1])), CLASSES)
    owl = q.classes[2]
    assert all(math.isnan(v) for v in (owl.precision, owl.recall, owl.f1, owl.auc))
    assert q.macro_f1 == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert not math.isnan(q.auc)


def test_macro_averages_are_scikit_learns_when_classes_are_missing_or_never_predicted():
    # A small slice of a day: class 3 absent and never predicted (left out of the means), class 2
    # labelled but never predicted (its precision undefined: 0 in the mean, as scikit-learn says).
    rng = np.random.default_rng(3)
    p = rng.dirichlet([3, 2, 0.3, 0.3], size=40)
    p[:, 2] *= 0.01
    p[:, 3] *= 0.01
    p /= p.sum(axis=1, keepdims=True)
    y = rng.choice(3, size=40, p=[0.6, 0.3, 0.1])
    y[0] = 2
    predicted = p.argmax(axis=1)
    assert 2 not in predicted and 3 not in predicted and 3 not in y
    q = mc.realised(mc.tally(probabilities=p, labels=y), ["a", "b", "c", "d"])
    for mine, average in ((q.macro_precision, "precision"), (q.macro_recall, "recall"), (q.macro_f1, "f1")):
        sk = getattr(skm, f"{average}_score")(y, predicted, average="macro", zero_division=0)
        assert mine == pytest.approx(sk, abs=1e-12), average
    assert q.weighted_f1 == pytest.approx(skm.f1_score(y, predicted, average="weighted", zero_division=0), abs=1e-12)
    assert math.isnan(q.classes[2].precision) and q.classes[2].recall == 0.0


def test_label_indexes():
    got = mc.label_indexes(["dog", None, "owl", "eel", float("nan"), "cat"], CLASSES)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [1, -1, 2, -1, -1, 0])
    np.testing.assert_array_equal(mc.label_indexes(np.array(["owl", "cat"]), CLASSES), [2, 0])
    # what Spark tasks and pandas hand over: Arrow arrays (chunked too) and Series with None or NaN as null
    arrow = pa.chunked_array([["owl", None], ["cat"]])
    np.testing.assert_array_equal(mc.label_indexes(arrow, CLASSES), [2, -1, 0])
    np.testing.assert_array_equal(mc.label_indexes(pd.Series(["dog", None, np.nan]), CLASSES), [1, -1, -1])
    assert mc.label_indexes([1, "1"], ("1",)).tolist() == [-1, 0]  # matched as given, not as text


def test_tally_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        mc.tally(probabilities=P, labels=np.array([0, 1, 2, 3, 0, 0]))
    with pytest.raises(ValueError, match="NaN"):
        mc.tally(probabilities=np.where(P == 0.8, np.nan, P), labels=Y)
    with pytest.raises(ValueError, match="classes"):
        mc.realised(mc.tally(probabilities=P, labels=Y), ("a", "b"))


# --------------------------------------------------------------------------------------------- merging


def assert_same_tally(a: mc.ClassTally, b: mc.ClassTally, *, log_rtol: float = 0.0) -> None:
    """Counts and probability sums equal exactly; sums of logarithms to ``log_rtol`` (their order rounds)."""
    np.testing.assert_array_equal(a.confusion, b.confusion)
    np.testing.assert_array_equal(a.expected, b.expected)
    assert a.log_loss_sum == pytest.approx(b.log_loss_sum, rel=log_rtol, abs=0)
    for ha, hb in zip(a.per_class, b.per_class, strict=True):
        for name in ("rows", "score_sum", "decided", "decided_score_sum", "squared_error_sum"):
            np.testing.assert_array_equal(getattr(ha, name), getattr(hb, name))
        np.testing.assert_allclose(ha.log_loss_sum, hb.log_loss_sum, rtol=log_rtol, atol=0)


def test_tallies_add_exactly():
    # Probabilities are multiples of 1/64 (rows of 64 draws), so every sum of them is exact in float64 and the
    # merged tally equals the one-shot one bit for bit; only the log-loss sum (of logarithms) may round apart.
    rng = np.random.default_rng(5)
    n, k = 120, 4
    p = rng.multinomial(64, [0.4, 0.3, 0.2, 0.1], size=n) / 64.0
    y = rng.integers(-1, k, n)
    whole = mc.tally(probabilities=p, labels=y)
    parts = [mc.tally(probabilities=p[i:i + 40], labels=y[i:i + 40]) for i in range(0, n, 40)]
    assert_same_tally(parts[0] + parts[1] + parts[2], whole, log_rtol=1e-14)
    assert sum(parts).n_scored == n  # the builtin sum() from 0
    assert_same_tally(mc.empty_tally(k) + whole, whole)
    assert_same_tally(mc.tally(probabilities=p[:0], labels=y[:0]) + whole, whole)


def test_tallies_add_up_to_the_whole(mixed):
    p, y = mixed
    whole = mc.tally(probabilities=p, labels=y)
    a, b = mc.tally(probabilities=p[:12_345], labels=y[:12_345]), mc.tally(probabilities=p[12_345:], labels=y[12_345:])
    merged = a + b
    np.testing.assert_array_equal(merged.confusion, whole.confusion)
    for ha, hb in zip(merged.per_class, whole.per_class, strict=True):
        np.testing.assert_array_equal(ha.rows, hb.rows)
        np.testing.assert_array_equal(ha.decided, hb.decided)
    np.testing.assert_allclose(merged.expected, whole.expected, rtol=1e-12)
    assert merged.log_loss_sum == pytest.approx(whole.log_loss_sum, rel=1e-12)
    classes = ("a", "b", "c", "d")
    assert mc.realised(merged, classes).macro_f1 == mc.realised(whole, classes).macro_f1
    assert mc.estimated(merged, classes).accuracy == pytest.approx(mc.estimated(whole, classes).accuracy, rel=1e-12)


def test_tally_pickles(mixed):
    p, y = mixed
    t = mc.tally(probabilities=p[:1000], labels=y[:1000])
    assert_same_tally(pickle.loads(pickle.dumps(t)), t)
    with pytest.raises(ValueError):
        t + mc.empty_tally(3)


# --------------------------------------------------------------------------------------------- the output


@pytest.mark.parametrize("t0", [2.5, 0.5])
def test_temperature_recovers_a_known_temperature(t0):
    rng = np.random.default_rng(int(t0 * 10))
    n, k = 20_000, 4
    margin = rng.normal(0.0, 2.0, (n, k))
    p = softmax(margin / t0)
    y = np.minimum((rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1), k - 1)
    fitted = mc.Temperature.fit(margin, y, classes=["a", "b", "c", "d"])
    assert fitted.temperature == pytest.approx(t0, rel=0.05)
    assert fitted.classes == ("a", "b", "c", "d")
    out = fitted.probabilities(margin)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(out.argmax(axis=1), margin.argmax(axis=1))
    np.testing.assert_array_equal(fitted.output(margin), out)
    # the fitted temperature is a likelihood optimum: a nearby one fits worse
    def nll(t):
        return -np.log(softmax(margin / t)[np.arange(n), y]).mean()
    assert nll(fitted.temperature) <= min(nll(fitted.temperature * 1.05), nll(fitted.temperature / 1.05))


def test_temperature_edges():
    assert mc.Temperature.fit(np.zeros((0, 3)), np.zeros(0, dtype=int), classes=CLASSES).temperature == 1.0
    huge = np.array([[1000.0, -1000.0, 0.0], [-1e300, 0.0, 1e300]])
    p = mc.Temperature(CLASSES, 0.05).probabilities(huge)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="margin"):
        mc.Temperature(CLASSES).probabilities(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="class indexes"):
        mc.Temperature.fit(np.zeros((2, 3)), np.array([0, 3]), classes=CLASSES)


def test_temperature_round_trip_and_columns():
    t = mc.Temperature(classes=CLASSES, temperature=1.7)
    assert t.as_dict() == {"method": "temperature", "temperature": 1.7, "classes": list(CLASSES)}
    assert mc.Temperature.from_dict(t.as_dict()) == t
    with pytest.raises(ValueError, match="method"):
        mc.Temperature.from_dict({"method": "platt", "slope": 1.0, "intercept": 0.0})
    margin = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 3.0, 3.0]])
    cols = t.columns(margin, threshold=0.9)
    assert list(cols) == ["prediction", "confidence", "score_cat", "score_dog", "score_owl"]
    assert cols["prediction"].type == pa.string()
    assert cols["prediction"].to_pylist() == ["cat", "cat", "dog"]  # ties: the first class
    p = t.probabilities(margin)
    np.testing.assert_array_equal(cols["confidence"], p.max(axis=1))
    for k, name in enumerate(CLASSES):
        assert cols[mc.score_column(name)].dtype == np.float64
        np.testing.assert_array_equal(cols[mc.score_column(name)], p[:, k])
    np.testing.assert_allclose(cols["confidence"][1], 1 / 3)


# --------------------------------------------------------------------------------------------- CBPE


def nannyml_cbpe(p: np.ndarray) -> dict[str, float]:
    """NannyML 0.13's multiclass CBPE, transcribed row by row: binary CBPE one-vs-rest, macro means."""
    k = p.shape[1]
    predicted = p.argmax(axis=1)
    precision, recall, f1, auc = [], [], [], []
    for i in range(k):
        decided = predicted == i
        tp = np.where(decided, p[:, i], 0.0).sum()
        fp = np.where(decided, 1 - p[:, i], 0.0).sum()
        fn = np.where(~decided, p[:, i], 0.0).sum()
        precision.append(tp / (tp + fp))
        recall.append(tp / (tp + fn))
        f1.append(tp / (tp + 0.5 * (fp + fn)))
        auc.append(expected_auc_rows(p[:, i]))
    return {"accuracy": float(p[np.arange(p.shape[0]), predicted].mean()), "macro_precision": float(np.mean(precision)),
            "macro_recall": float(np.mean(recall)), "macro_f1": float(np.mean(f1)), "auc": float(np.mean(auc)),
            "precision": precision, "recall": recall, "f1": f1}


def test_estimated_equals_nannyml_definitions(mixed):
    p, y = mixed
    q = mc.estimated(mc.tally(probabilities=p, labels=y), ("a", "b", "c", "d"))
    ref = nannyml_cbpe(p)
    for name in ("accuracy", "macro_precision", "macro_recall", "macro_f1"):
        assert getattr(q, name) == pytest.approx(ref[name], abs=1e-12), name
    for name in ("precision", "recall", "f1"):
        np.testing.assert_allclose([getattr(c, name) for c in q.classes], ref[name], atol=1e-12)
    assert abs(q.auc - ref["auc"]) <= q.auc_bound
    # the expected confusion matrix: columns are rows predicted as each class, its trace the expected correct rows
    np.testing.assert_allclose(q.confusion.sum(axis=0), np.bincount(p.argmax(axis=1), minlength=4))
    np.testing.assert_allclose([c.support for c in q.classes], p.sum(axis=0), rtol=1e-12)
    weights = p.sum(axis=0)
    assert q.weighted_f1 == pytest.approx(float((weights * np.array(ref["f1"])).sum() / weights.sum()), abs=1e-12)


def test_estimate_within_the_band_of_the_truth():
    classes = ("a", "b", "c", "d")
    ref_p, ref_y = world(5_000, seed=21)
    band = mc.sampling_reference(ref_y, ref_p, classes=classes, resamples=100, seed=1)
    p, y = world(40_000, seed=22)
    t = mc.tally(probabilities=p, labels=y)
    est, real = mc.estimated(t, classes), mc.realised(t, classes)
    for metric, attr in (("accuracy", "accuracy"), ("auc", "auc"), ("f1", "macro_f1")):
        lo, hi = band.band(metric, getattr(est, attr), real.n_labeled)
        print(f"{metric}: estimated {getattr(est, attr):.4f} in [{lo:.4f}, {hi:.4f}], realised {getattr(real, attr):.4f}")
        assert lo <= getattr(real, attr) <= hi, metric
        assert hi - lo < 0.05


def test_sampling_sd_shrinks_like_one_over_sqrt_n():
    classes = ("a", "b", "c")
    small, big = world(1_000, 3, seed=8), world(16_000, 3, seed=8)
    s_small = mc.sampling_reference(small[1], small[0], classes=classes, resamples=200, seed=0)
    s_big = mc.sampling_reference(big[1], big[0], classes=classes, resamples=200, seed=0)
    for metric in ("accuracy", "auc", "f1"):
        ratio = s_small.sd(metric, 1_000) / s_big.sd(metric, 16_000)
        assert ratio == pytest.approx(4.0, rel=0.25), metric
        # the scaling rule: the small holdout's sd predicted at the big size is the big holdout's sd
        assert s_small.sd(metric, 16_000) == pytest.approx(s_big.sd(metric, 16_000), rel=0.25), metric
    assert s_small.sd("auc", 250) == pytest.approx(2 * s_small.auc_sd)
    lo, hi = s_small.band("accuracy", 0.5, 1_000)
    assert (lo, hi) == pytest.approx((0.5 - 3 * s_small.accuracy_sd, 0.5 + 3 * s_small.accuracy_sd))
    assert math.isnan(s_small.sd("f1", 0))
    with pytest.raises(ValueError):
        s_small.sd("logloss", 10)


def test_sampling_reference_drops_unlabelled_rows(mixed):
    p, y = mixed
    s = mc.sampling_reference(y[:2000], p[:2000], classes=("a", "b", "c", "d"), resamples=20)
    assert s.rows == int((y[:2000] >= 0).sum())
