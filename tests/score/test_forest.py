"""lakeops.score.forest: the compiled tree walk must predict what XGBoost predicts.

Checked three ways: against values computed by hand from a stump's own
threshold and leaves, against a plain recursive walk of the JSON trees written
here, and against ``Booster.predict`` / ``inplace_predict`` on models with
missing values, infinities, inputs exactly on thresholds and early stopping.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import xgboost

from lakeops.score.batch import BatchScorer
from lakeops.score.forest import Forest


def _data(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = ((np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) + rng.normal(0, 0.5, rows)) > 0).astype(np.float32)
    return x, y


def _model_json(booster: xgboost.Booster) -> dict:
    return json.loads(bytes(booster.save_raw("json")))


def _reference(model: dict, x: np.ndarray, trees: int | None = None) -> np.ndarray:
    """A plain walk of the JSON trees, one row and one node at a time (float32 inputs)."""
    learner = model["learner"]
    base = float(learner["learner_model_param"]["base_score"].strip("[]"))
    logistic = learner["objective"]["name"] == "binary:logistic"
    margin0 = -math.log(1 / base - 1) if logistic else base
    out = []
    for row in x.astype(np.float32):
        margin = margin0
        for tree in learner["gradient_booster"]["model"]["trees"][:trees]:
            node = 0
            while tree["left_children"][node] != -1:
                value = row[tree["split_indices"][node]]
                if np.isnan(value):
                    go_left = bool(tree["default_left"][node])
                else:
                    go_left = value < np.float32(tree["split_conditions"][node])
                node = tree["left_children"][node] if go_left else tree["right_children"][node]
            margin += float(np.float32(tree["split_conditions"][node]))
        out.append(1 / (1 + math.exp(-margin)) if logistic else margin)
    return np.asarray(out)


def test_stump_by_hand():
    x = np.array([[0.0], [1.0], [2.0], [3.0]] * 25, dtype=np.float32)
    y = (x[:, 0] >= 2).astype(np.float32)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 1, "base_score": 0.5, "eta": 1.0},
                            xgboost.DMatrix(x, label=y), num_boost_round=1)
    tree = _model_json(booster)["learner"]["gradient_booster"]["model"]["trees"][0]
    threshold = tree["split_conditions"][0]
    left_leaf, right_leaf = (tree["split_conditions"][c] for c in (tree["left_children"][0], tree["right_children"][0]))
    missing_leaf = left_leaf if tree["default_left"][0] else right_leaf
    forest = Forest.from_booster(booster)
    assert forest is not None and forest.depth == 1 and forest.base_margin == 0.0  # base_score 0.5
    inputs = np.array([[threshold - 1.0], [threshold], [threshold + 1.0], [np.nan]], dtype=np.float32)
    expected = [1 / (1 + math.exp(-leaf)) for leaf in (left_leaf, right_leaf, right_leaf, missing_leaf)]
    got = forest.predict(np.ascontiguousarray(inputs.T))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)
    assert got[0] < 0.5 < got[2]  # the split separates the classes it was trained on


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror"])
def test_matches_xgboost_and_a_plain_walk(objective):
    x, y = _data(3000, 6, seed=1)
    booster = xgboost.train({"objective": objective, "max_depth": 7, "eta": 0.3, "tree_method": "hist"},
                            xgboost.DMatrix(x, label=y, missing=np.nan), num_boost_round=40)
    forest = Forest.from_booster(booster)
    assert forest is not None and forest.depth == 7
    test, _ = _data(2001, 6, seed=2)  # not a multiple of the 8-row lanes or the block
    # Inputs exactly on split thresholds (x < t goes left, x >= t right) and infinities.
    thresholds = [c for t in _model_json(booster)["learner"]["gradient_booster"]["model"]["trees"]
                  for c, left, f in zip(t["split_conditions"], t["left_children"], t["split_indices"], strict=True)
                  if left != -1 and f == 0]
    test[: len(thresholds[:500]), 0] = thresholds[:500]
    test[600:620] = np.inf
    test[620:640] = -np.inf
    got = forest.predict(np.ascontiguousarray(test.T))
    np.testing.assert_allclose(got, booster.inplace_predict(test), rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[:400], _reference(_model_json(booster), test[:400]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(forest.predict(np.ascontiguousarray(test.T), nthread=2), got)


def test_early_stopped_booster_all_trees_or_sliced():
    x, y = _data(4000, 5, seed=3)
    valid, valid_y = _data(1000, 5, seed=4)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.5},
                            xgboost.DMatrix(x, label=y), num_boost_round=200,
                            evals=[(xgboost.DMatrix(valid, label=valid_y), "valid")], early_stopping_rounds=5,
                            verbose_eval=False)
    assert booster.best_iteration + 1 < booster.num_boosted_rounds()  # stopped early: some trees past the best
    # Booster.predict uses every tree; lakeops.train.fit slices to the best iteration before logging.
    sliced = booster[: booster.best_iteration + 1]
    for model in (booster, sliced):
        forest = Forest.from_booster(model)
        assert forest is not None and len(forest.tree_offsets) == model.num_boosted_rounds()
        got = forest.predict(np.ascontiguousarray(valid.T))
        np.testing.assert_allclose(got, model.predict(xgboost.DMatrix(valid)), rtol=0, atol=1e-6)


def test_unsupported_models_fall_back():
    x, y = _data(500, 3, seed=5)
    multi = xgboost.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                          xgboost.DMatrix(x, label=(y * 2)), num_boost_round=2)
    dart = xgboost.train({"objective": "binary:logistic", "booster": "dart", "max_depth": 3},
                         xgboost.DMatrix(x, label=y), num_boost_round=2)
    frame = pd.DataFrame({"a": pd.Categorical(np.where(x[:, 0] > 0, "p", "q")), "b": x[:, 1]})
    categorical = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1},
                                xgboost.DMatrix(frame, label=y, enable_categorical=True), num_boost_round=3)
    assert Forest.from_booster(multi) is None
    assert Forest.from_booster(dart) is None
    assert Forest.from_booster(categorical) is None


def test_batch_scorer_engines_agree():
    import pyarrow as pa

    x, y = _data(3000, 4, seed=6)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 5}, xgboost.DMatrix(x, label=y),
                            num_boost_round=30)
    batch = pa.RecordBatch.from_pydict({f"f{i}": pa.array(x[:, i], from_pandas=True) for i in range(4)})
    kwargs = dict(features=tuple(f"f{i}" for i in range(4)), categories={}, threshold=0.5, keys=())
    auto = BatchScorer.from_booster(booster, **kwargs).scores(batch)
    plain = BatchScorer.from_booster(booster, engine="xgboost", **kwargs).scores(batch)
    np.testing.assert_allclose(auto, plain, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="engine"):
        BatchScorer.from_booster(booster, engine="fast", **kwargs)
