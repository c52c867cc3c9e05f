"""Attribution drift's arithmetic, without Spark: nDCG by hand, SHAP sums against XGBoost, sampling."""

from __future__ import annotations

import math
import pickle
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from lakeops.evaluate import attribution as attr
from lakeops.evaluate.encoding import encode_arrow

# SageMaker Clarify's example: training SAT 0.70, GPA 0.50, class rank 0.05; live 0.10, 0.20, 0.70.
TRAIN = {"sat": 0.70, "gpa": 0.50, "class_rank": 0.05}
LIVE = {"sat": 0.10, "gpa": 0.20, "class_rank": 0.70}


def test_ndcg_of_clarifys_example_by_hand():
    # Live ranking: class_rank, gpa, sat; each scored by its *training* attribution.
    dcg = 0.05 / math.log2(2) + 0.50 / math.log2(3) + 0.70 / math.log2(4)
    ideal = 0.70 / math.log2(2) + 0.50 / math.log2(3) + 0.05 / math.log2(4)
    assert attr.ndcg(TRAIN, LIVE) == pytest.approx(dcg / ideal, rel=1e-12)
    assert attr.ndcg(TRAIN, LIVE) == pytest.approx(0.68763, abs=1e-5)


def test_the_same_ranking_scores_one_whatever_the_magnitudes():
    assert attr.ndcg(TRAIN, TRAIN) == 1.0
    assert attr.ndcg(TRAIN, {f: 3 * v + 1 for f, v in TRAIN.items()}) == 1.0
    # A tie in the live ranking is no move: ties follow the reference order.
    assert attr.ndcg(TRAIN, {f: 0.0 for f in TRAIN}) == 1.0
    assert math.isnan(attr.ndcg({f: 0.0 for f in TRAIN}, LIVE))
    with pytest.raises(ValueError, match="different features"):
        attr.ndcg(TRAIN, {"sat": 1.0})


def test_swapping_the_two_smallest_costs_less_than_the_two_largest():
    low = attr.ndcg(TRAIN, {"sat": 0.7, "gpa": 0.04, "class_rank": 0.05})
    high = attr.ndcg(TRAIN, {"sat": 0.5, "gpa": 0.7, "class_rank": 0.05})
    assert 0 < high < low < 1


def test_compare_ranks_shares_and_movers():
    rows = {r["feature"]: r for r in attr.compare(TRAIN, LIVE, k=2)}
    assert [r["feature"] for r in attr.compare(TRAIN, LIVE)] == ["class_rank", "gpa", "sat"]
    c = rows["class_rank"]
    assert (c["rank"], c["reference_rank"], c["rank_change"]) == (1, 3, 2)
    assert c["share"] == pytest.approx(0.7) and c["reference_share"] == pytest.approx(0.05 / 1.25)
    assert c["share_change"] == pytest.approx(0.7 - 0.04)
    # Share changes: class_rank +0.66, sat -0.46, gpa -0.2: the two largest are the movers.
    assert attr.top_movers(TRAIN, LIVE, k=2) == ["class_rank", "sat"]
    assert (rows["class_rank"]["mover"], rows["sat"]["mover"], rows["gpa"]["mover"]) == (1, 2, None)
    assert attr.top_movers(TRAIN, TRAIN) == []


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))
    colour = rng.choice(["red", "green", "blue", None], size=n)
    y = ((x1 + (colour == "red") * 1.5 + np.nan_to_num(x2) * 0.3 + rng.normal(size=n)) > 0.5).astype(int)
    batch = pa.RecordBatch.from_pydict({
        "host_id": [f"h{i:05d}" for i in range(n)], "x1": x1, "x2": pa.array(x2, from_pandas=True),
        "colour": pa.array(colour.tolist(), pa.string()), "y": y})
    return batch, y


def _booster(batch, y, features, categories):
    import xgboost

    x = encode_arrow(batch, features, categories)
    return xgboost.train({"max_depth": 3, "eta": 0.3, "objective": "binary:logistic", "nthread": 1},
                         xgboost.DMatrix(x, y, missing=np.nan, feature_names=list(features)), 20)


def test_sums_are_xgboosts_own_contributions_without_the_bias():
    import xgboost

    features, categories = ("x1", "x2", "colour"), {"colour": ["red", "green"]}
    batch, y = _data()
    booster = _booster(batch, y, features, categories)
    attributor = attr.Attributor.from_booster(booster, features=features, categories=categories)
    attributor = pickle.loads(pickle.dumps(attributor))  # as Spark ships it to a task

    # "blue" was never kept: it is encoded as OTHER (code 2), as at training; null stays missing.
    x = encode_arrow(batch, features, categories)
    assert set(np.unique(x[:, 2][~np.isnan(x[:, 2])])) == {0.0, 1.0, 2.0}
    contribs = booster.predict(xgboost.DMatrix(x, missing=np.nan, feature_names=list(features)), pred_contribs=True)
    assert contribs.shape == (batch.num_rows, 4)
    margin = booster.predict(xgboost.DMatrix(x, missing=np.nan, feature_names=list(features)), output_margin=True)
    assert np.allclose(contribs.sum(axis=1), margin, atol=1e-4)  # SHAP adds up to the margin, bias included

    total = attr.merge(attributor(batch.slice(0, 250)), attributor(batch.slice(250)))
    assert total.rows == batch.num_rows
    np.testing.assert_allclose(total.abs_sum, np.abs(contribs[:, :3]).sum(axis=0), rtol=1e-5)
    means = attr.mean_abs_shap(total, features)
    assert means["x1"] == max(means.values()) and all(v > 0 for v in means.values())
    np.testing.assert_allclose(list(means.values()), np.abs(contribs[:, :3]).mean(axis=0), rtol=1e-5)
    # Merging dicts of sums (per day) adds matching keys and keeps the others.
    d1, d2 = date(2024, 1, 1), date(2024, 1, 2)
    both = attr.merge({d1: total}, {d1: total, d2: total})
    assert both[d1].rows == 2 * total.rows and both[d2].rows == total.rows


def test_the_sample_depends_on_keys_day_and_rate_only():
    batch, _ = _data(n=20_000)
    day = date(2024, 2, 3)
    mask = attr.sample_mask(batch, ["host_id"], day, 0.1)
    assert 0.09 < mask.mean() < 0.11
    # The same rows whatever the batch boundaries or the row order, and whether ds is a column or a value.
    parts = np.concatenate([attr.sample_mask(batch.slice(i, 3000), ["host_id"], day, 0.1)
                            for i in range(0, batch.num_rows, 3000)])
    assert (parts == mask).all()
    order = np.random.default_rng(1).permutation(batch.num_rows)
    shuffled = attr.sample_mask(batch.take(pa.array(order)), ["host_id"], day, 0.1)
    assert (shuffled == mask[order]).all()
    with_ds = batch.append_column("ds", pa.array([day] * batch.num_rows, pa.date32()))
    assert (attr.sample_mask(with_ds, ["host_id"], None, 0.1) == mask).all()
    # A smaller rate keeps a subset; another day or seed another sample; rate 1 keeps everything.
    assert not (attr.sample_mask(batch, ["host_id"], day, 0.05) & ~mask).any()
    other = attr.sample_mask(batch, ["host_id"], date(2024, 2, 4), 0.1)
    assert (other != mask).mean() > 0.1
    assert (attr.sample_mask(batch, ["host_id"], day, 0.1, seed=5) != mask).mean() > 0.1
    assert attr.sample_mask(batch, ["host_id"], day, 1.0).all()
    # Stable across processes and machines: a pinned value, and a plain-Python FNV-1a + murmur3 finaliser.
    keys, days = ["h00001", "é-7", "", None], ["2024-02-03", "2024-02-03", "x", "2024-02-04"]
    got = attr.row_hash([pa.array(keys, pa.string()), pa.array(days)], seed=3)
    assert [int(v) for v in got] == [_fnv_murmur([k or "", d], seed=3) for k, d in zip(keys, days, strict=True)]
    assert int(attr.row_hash([pa.array(["h00001"]), pa.array(["2024-02-03"])])[0]) == 7396221433584580281
    assert attr.sample_rate(100, 1000) == 0.1 and attr.sample_rate(100, 50) == 1.0


def _fnv_murmur(values, *, seed=0):
    m = 2**64 - 1
    h = 0xCBF29CE484222325 ^ seed
    for v in values:
        for b in v.encode():
            h = ((h ^ b) * 0x100000001B3) & m
        h = ((h ^ 0x1F) * 0x100000001B3) & m
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h ^= h >> 33
        h = (h * mult) & m
    return h ^ (h >> 33)


def test_reference_rows_are_ranked():
    rows = attr.reference_rows(TRAIN, rows=10)
    assert [(r["feature"], r["rank"]) for r in rows] == [("sat", 1), ("gpa", 2), ("class_rank", 3)]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0) and rows[0]["n_rows"] == 10
