"""Reason codes: the Forest's approximate contributions must be XGBoost's, and the top k its argsort.

Checked against ``Booster.predict(DMatrix, pred_contribs=True, approx_contribs=True)``
(binary and regression boosters, several depths, NaN inputs, trees shallower
than the forest so walks step past their leaf, a feature no tree splits on),
against a numpy argsort of those contributions, and by hand for a multiclass
booster (XGBoost's fallback explains each row's predicted class). The scorer's
reason columns are checked for names, nulls, and leaving the score columns as
they were.
"""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest
import xgboost

from lakeops.evaluate.multiclass import Temperature
from lakeops.score import reasons
from lakeops.score.batch import BatchScorer
from lakeops.score.forest import Forest

TOL = 1e-4


def _data(rows: int, features: int, seed: int) -> np.ndarray:
    """Normal features with 10% NaN; feature 0 is constant, so no tree splits on it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 0] = 1.0
    return x


def _label(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = np.nan_to_num(x)
    logit = z[:, 1] - 0.7 * z[:, 2] + 0.5 * z[:, -1] * z[:, -2] + rng.normal(0, 0.5, len(x))
    return (logit > 0).astype(np.float32)


def _booster(objective: str, depth: int, *, features: int = 6, rounds: int = 25) -> xgboost.Booster:
    x = _data(2000, features, seed=depth)
    # gamma prunes some trees short of max_depth, so some walks step past their leaf.
    params = {"objective": objective, "max_depth": depth, "eta": 0.3, "gamma": 1.0, "nthread": 1}
    return xgboost.train(params, xgboost.DMatrix(x, label=_label(x, depth), missing=np.nan),
                         num_boost_round=rounds)


def _xgb_contribs(booster: xgboost.Booster, x: np.ndarray, *, approx: bool = True) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(x, missing=np.nan), pred_contribs=True, approx_contribs=approx)


def _fm(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.T)


def _argsort_top(contribs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference top k: numpy's stable argsort of -|c| (ties to the lower feature)."""
    order = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(contribs, order, axis=1)


def _assert_same_top(indices, values, ref_indices, ref_values):
    """Values to TOL; indices wherever the magnitude is apart from its neighbours' by more than
    the tolerance (two contributions within float error of each other may come in either order)."""
    np.testing.assert_allclose(values, ref_values, rtol=0, atol=TOL)
    mag = np.abs(ref_values)
    apart = np.ones_like(mag, dtype=bool)
    apart[:, 1:] &= mag[:, :-1] - mag[:, 1:] > 2 * TOL
    apart[:, :-1] &= mag[:, :-1] - mag[:, 1:] > 2 * TOL
    assert apart.mean() > 0.5  # the check below is not vacuous
    np.testing.assert_array_equal(indices[apart], ref_indices[apart])


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
@pytest.mark.parametrize("depth", [1, 3, 6])
def test_contributions_are_xgboosts_approx(objective, depth):
    booster = _booster(objective, depth)
    forest = Forest.from_booster(booster)
    assert forest is not None
    x = _data(1001, 6, seed=100 + depth)  # not a multiple of the 8-row lanes or the block
    x[:20] = np.nan
    got = forest.contributions(_fm(x))
    expected = _xgb_contribs(booster, x)
    assert got.shape == expected.shape == (1001, 7)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    assert np.all(got[:, 0] == 0.0)  # no split on feature 0: a leaf's step past itself credits exactly 0
    margins = forest.margins(_fm(x))
    np.testing.assert_allclose(got.sum(axis=1), margins, rtol=0, atol=TOL)
    np.testing.assert_array_equal(forest.contributions(_fm(x), nthread=2), got)


def test_some_trees_stop_short_of_the_forest_depth():
    """The premise of the leaf check above: walks do step past leaves."""
    booster = _booster("binary:logistic", 6)
    forest = Forest.from_booster(booster)
    assert forest is not None
    counts = np.diff([*forest.tree_offsets, len(forest.nodes)])
    assert counts.min() < 2 ** (forest.depth + 1) - 1


@pytest.mark.parametrize("method", reasons.METHODS)
def test_xgboost_contributions_sum_to_the_margin(method):
    booster = _booster("binary:logistic", 4)
    x = _data(500, 6, seed=7)
    got = reasons.contributions(booster, _fm(x), method=method)
    assert got.shape == (500, 7)
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(xgboost.DMatrix(x, missing=np.nan),
                                                                output_margin=True), rtol=0, atol=TOL)
    if method == "approx":
        forest = Forest.from_booster(booster)
        assert forest is not None
        np.testing.assert_allclose(got, forest.contributions(_fm(x)), rtol=0, atol=TOL)


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
def test_top_contributions_are_the_argsort_of_xgboosts(objective):
    booster = _booster(objective, 5, features=8, rounds=40)
    forest = Forest.from_booster(booster)
    assert forest is not None
    x = _data(3001, 8, seed=11)
    margins, indices, values = forest.top_contributions(_fm(x), k=3)
    assert indices.shape == values.shape == (3001, 3)
    assert indices.dtype == np.int32 and values.dtype == np.float32
    np.testing.assert_array_equal(margins, forest.margins(_fm(x)))  # the same walk's margins, bit for bit
    ref_indices, ref_values = _argsort_top(_xgb_contribs(booster, x)[:, :-1], 3)
    _assert_same_top(indices, values, ref_indices, ref_values)
    parallel = forest.top_contributions(_fm(x), k=3, nthread=2)
    for a, b in zip(parallel, (margins, indices, values), strict=True):
        np.testing.assert_array_equal(a, b)


def test_top_k_orders_by_magnitude_ties_to_the_lower_feature():
    contribs = np.array([[0.5, -2.0, 2.0, 0.0],
                         [0.0, 0.0, 0.0, 0.0],
                         [-1.0, 1.0, -1.0, 3.0]], dtype=np.float32)
    indices, values = reasons.top_k(contribs, 3)
    np.testing.assert_array_equal(indices, [[1, 2, 0], [0, 1, 2], [3, 0, 1]])
    np.testing.assert_array_equal(values, [[-2.0, 2.0, 0.5], [0, 0, 0], [3.0, -1.0, 1.0]])
    wide_indices, wide_values = reasons.top_k(contribs, 6)
    np.testing.assert_array_equal(wide_indices[:, 4:], -1)
    np.testing.assert_array_equal(wide_values[:, 4:], 0)


def test_forest_and_numpy_top_k_agree_on_ties_and_zeros():
    """The kernel's selection is a stable sort: equal magnitudes (the zeros of unused features) by feature."""
    booster = _booster("binary:logistic", 3, features=6)
    forest = Forest.from_booster(booster)
    assert forest is not None
    x = _data(700, 6, seed=12)
    _, indices, values = forest.top_contributions(_fm(x), k=6)
    ref_indices, ref_values = reasons.top_k(forest.contributions(_fm(x))[:, :-1], 6)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_array_equal(values, ref_values)


def test_k_beyond_the_features():
    booster = _booster("reg:squarederror", 3, features=4)
    forest = Forest.from_booster(booster)
    assert forest is not None
    x = _data(300, 4, seed=13)
    _, indices, values = forest.top_contributions(_fm(x), k=6)
    np.testing.assert_array_equal(indices[:, 4:], -1)
    np.testing.assert_array_equal(values[:, 4:], 0)
    np.testing.assert_array_equal(values[:, 3], 0)  # feature 0 is never split on
    cols = reasons.columns(indices, values, ["a", "b", "c", "d"], 6)
    assert cols["reason_4"].null_count == cols["reason_5"].null_count == cols["reason_6"].null_count == 300
    with pytest.raises(ValueError, match="k must be"):
        forest.top_contributions(_fm(x), k=0)


def test_columns_names_and_nulls():
    indices = np.array([[2, 0, -1], [1, 2, 0]], dtype=np.int32)
    values = np.array([[-1.5, 0.25, 0.0], [3.0, 0.0, 0.0]], dtype=np.float32)
    cols = reasons.columns(indices, values, ["load", "latency", "errors"], 4)
    assert list(cols) == reasons.column_names(4) == [
        "reason_1", "reason_1_contribution", "reason_2", "reason_2_contribution",
        "reason_3", "reason_3_contribution", "reason_4", "reason_4_contribution"]
    assert cols["reason_1"].to_pylist() == ["errors", "latency"]
    assert cols["reason_1_contribution"].to_pylist() == [-1.5, 3.0]
    assert cols["reason_2"].to_pylist() == ["load", None]
    assert cols["reason_2_contribution"].to_pylist() == [0.25, None]
    assert cols["reason_3"].to_pylist() == cols["reason_4"].to_pylist() == [None, None]
    assert cols["reason_1"].type == pa.string() and cols["reason_1_contribution"].type == pa.float64()


def test_multiclass_explains_the_predicted_class():
    x = _data(600, 5, seed=14)
    y = np.digitize(np.nan_to_num(x[:, 1]) + 0.5 * np.nan_to_num(x[:, 2]), [-0.5, 0.5]).astype(np.float32)
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1},
                            xgboost.DMatrix(x, label=y, missing=np.nan), num_boost_round=10)
    assert Forest.from_booster(booster) is None
    test = _data(50, 5, seed=15)
    full = _xgb_contribs(booster, test)  # (rows, classes, features + 1)
    margin = booster.predict(xgboost.DMatrix(test, missing=np.nan), output_margin=True)
    assert full.shape == (50, 3, 6)
    expected = np.stack([full[r, int(np.argmax(margin[r]))] for r in range(50)])
    assert len({int(np.argmax(m)) for m in margin}) > 1  # more than one class is predicted
    np.testing.assert_allclose(reasons.contributions(booster, _fm(test)), expected, rtol=0, atol=1e-6)

    features = tuple(f"f{i}" for i in range(5))
    batch = pa.RecordBatch.from_pydict({f: pa.array(test[:, i], from_pandas=True) for i, f in enumerate(features)})
    scorer = BatchScorer.from_booster(booster, features=features, categories={}, threshold=0.5, keys=(),
                                      calibration=Temperature(classes=("a", "b", "c")), reasons=2)
    out = scorer(batch)
    ref_indices, ref_values = reasons.top_k(expected[:, :-1], 2)
    expect_cols = reasons.columns(ref_indices, ref_values, features, 2)
    for name, col in expect_cols.items():
        assert out.column(name).equals(col)


def _scorer_batch(x: np.ndarray, features: tuple[str, ...]) -> pa.RecordBatch:
    cols = {f: pa.array(x[:, i], from_pandas=True) for i, f in enumerate(features)}
    cols["host_id"] = pa.array([f"h{i}" for i in range(len(x))])
    return pa.RecordBatch.from_pydict(cols)


def test_batch_scorer_reason_columns():
    booster = _booster("binary:logistic", 4, features=5)
    features = ("constant", "load", "latency", "errors", "temp")
    x = _data(2000, 5, seed=16)
    batch = _scorer_batch(x, features)
    kwargs = dict(features=features, categories={}, threshold=0.5, keys=("host_id",), constants={"model_version": 3})
    plain = BatchScorer.from_booster(booster, **kwargs)(batch)
    scorer = BatchScorer.from_booster(booster, reasons=3, **kwargs)
    out = scorer(batch)
    assert out.schema.names == ["host_id", "score", "prediction", *reasons.column_names(3), "model_version"]
    for name in plain.schema.names:
        assert out.column(name).equals(plain.column(name)), name  # one walk, the same scores

    forest = Forest.from_booster(booster)
    assert forest is not None
    _, indices, values = forest.top_contributions(_fm(x), k=3)
    names = np.array(features)[indices[:, 0]]
    assert out.column("reason_1").to_pylist() == [n if v else None for n, v in zip(names, values[:, 0], strict=True)]
    np.testing.assert_array_equal(out.column("reason_1_contribution").to_numpy(zero_copy_only=False), values[:, 0])
    assert "constant" not in set(out.column("reason_3").to_pylist())  # never split on: never a reason

    # XGBoost's own approx (engine "xgboost") and exact SHAP give the same columns' meaning.
    via_xgb = BatchScorer.from_booster(booster, reasons=3, engine="xgboost", **kwargs)(batch)
    np.testing.assert_allclose(via_xgb.column("reason_1_contribution").to_numpy(zero_copy_only=False),
                               values[:, 0], rtol=0, atol=TOL)
    shap = BatchScorer.from_booster(booster, reasons=3, reasons_method="shap", **kwargs)(batch)
    assert shap.column("score").equals(plain.column("score"))
    ref_indices, ref_values = _argsort_top(_xgb_contribs(booster, x, approx=False)[:, :-1], 3)
    got = np.stack([shap.column(f"reason_{i}_contribution").fill_null(0.0).to_numpy() for i in (1, 2, 3)], axis=1)
    np.testing.assert_allclose(got, ref_values, rtol=0, atol=TOL)

    again = pickle.loads(pickle.dumps(scorer))(batch)
    assert again.equals(out)


def test_batch_scorer_more_reasons_than_features_and_empty_batches():
    booster = _booster("reg:squarederror", 3, features=3)
    features = ("a", "b", "c")
    x = _data(100, 3, seed=17)
    scorer = BatchScorer.from_booster(booster, features=features, categories={}, threshold=0.5, keys=("host_id",),
                                      reasons=5)
    out = scorer(_scorer_batch(x, features))
    assert out.column("reason_4").null_count == out.column("reason_5_contribution").null_count == 100
    assert out.column("reason_3").null_count == 100  # "a" is constant: at most two reasons
    empty = scorer(_scorer_batch(x[:0], features))
    assert empty.num_rows == 0 and reasons.column_names(5)[0] in empty.schema.names


def test_bad_settings_are_refused():
    booster = _booster("binary:logistic", 2, features=3)
    kwargs = dict(features=("a", "b", "c"), categories={}, threshold=0.5, keys=())
    with pytest.raises(ValueError, match="method"):
        BatchScorer.from_booster(booster, reasons=3, reasons_method="lime", **kwargs)
    with pytest.raises(ValueError, match="reasons"):
        BatchScorer.from_booster(booster, reasons=-1, **kwargs)
    with pytest.raises(ValueError, match="method"):
        reasons.contributions(booster, np.zeros((3, 4), np.float32), method="exact")
    with pytest.raises(ValueError, match="k must"):
        reasons.top_k(np.zeros((2, 3)), 0)
