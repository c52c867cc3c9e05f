"""Shadow scoring: a challenger scores days beside the champion into ``shadow.<model>``, and the two are
compared on the same labelled rows (real Spark, Delta and MLflow registry; metrics against scikit-learn)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import log_loss, mean_absolute_error, roc_auc_score
from test_score import DAYS, feature_rows, features_spec, model_config, register, run, write_features

from lakeops import registry
from lakeops.evaluate.shadow import compare, describe
from lakeops.lake.embedded import EmbeddedLake
from lakeops.score.shadow import compare_shadow


@pytest.fixture(scope="module")
def shadowed(spark, settings, tmp_path_factory):
    lake = EmbeddedLake(spark, tmp_path_factory.mktemp("shadow") / "lake")
    rows = feature_rows(DAYS, seed=11)
    write_features(spark, lake, features_spec("risk"), rows)
    champion = register(lake, "risk", rows, trees=3)
    challenger = register(lake, "risk", rows, trees=30, champion=False)
    registry.set_alias("risk", registry.CHALLENGER, challenger)
    run(lake, days=DAYS)
    return lake, rows, champion, challenger


def test_the_challenger_scores_into_shadow_and_the_served_scores_stay(shadowed):
    lake, _, champion, challenger = shadowed
    served_before = lake.read_arrow("predictions.risk").sort_by([("ds", "ascending"), ("host_id", "ascending")])
    result = run(lake, days=DAYS[-3:], shadow=True)
    assert result.model_version == challenger and result.scored == tuple(DAYS[-3:])
    shadow = lake.read_arrow("shadow.risk")
    assert set(shadow.column("model_version").to_pylist()) == {challenger}
    assert sorted(set(shadow.column("ds").to_pylist())) == DAYS[-3:]
    assert shadow.schema.names == served_before.schema.names  # the served table's columns
    served_after = lake.read_arrow("predictions.risk").sort_by([("ds", "ascending"), ("host_id", "ascending")])
    assert served_after.equals(served_before)
    assert set(served_after.column("model_version").to_pylist()) == {champion}
    again = run(lake, days=DAYS[-3:], shadow=True)  # idempotent: days already shadow-scored are skipped
    assert again.scored == () and again.skipped == tuple(DAYS[-3:])


def test_comparison_per_day_equals_scikit_learn(shadowed):
    lake, rows, champion, challenger = shadowed
    run(lake, days=DAYS[-3:], shadow=True)
    days = compare_shadow(lake, model_config("risk"), days=DAYS)
    assert [d.ds for d in days] == DAYS[-3:]  # only days scored both ways
    served = lake.read_arrow("predictions.risk").to_pandas()
    shadow = lake.read_arrow("shadow.risk").to_pandas()
    for d in days:
        labels = rows[(rows.ds == d.ds) & rows.label.notna()][["host_id", "label"]]
        both = (labels.merge(served[served.ds == d.ds][["host_id", "score"]], on="host_id")
                .merge(shadow[shadow.ds == d.ds][["host_id", "score"]], on="host_id", suffixes=("_v1", "_v2")))
        assert d.rows == len(both) and (d.champion_version, d.challenger_version) == (champion, challenger)
        assert abs(d.champion["auc"] - roc_auc_score(both.label, both.score_v1)) < 1e-9
        assert abs(d.challenger["auc"] - roc_auc_score(both.label, both.score_v2)) < 1e-9
        assert abs(d.challenger["logloss"] - log_loss(both.label, both.score_v2)) < 1e-9
    # 30 trees rank better than 3 on these rows: the read-out says so.
    assert all(d.better("auc", higher_is_better=True) for d in days)
    line = describe(days[:1], {"auc": True})[0]
    assert line.startswith(DAYS[-3].isoformat()) and f"v{challenger}" in line and "(better)" in line


def test_compare_regression_and_multiclass_by_hand():
    ds = [date(2024, 3, 1)] * 4 + [date(2024, 3, 2)] * 2
    keys = pa.table({"ds": ds, "id": ["a", "b", "c", "d", "a", "b"]})
    served = keys.append_column("model_version", pa.array([1] * 6, pa.int32())).append_column(
        "prediction", pa.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    shadow = keys.append_column("model_version", pa.array([2] * 6, pa.int32())).append_column(
        "prediction", pa.array([1.5, 2.0, 2.0, 4.0, 5.0, 9.0]))
    # "d" has no label yet; the second day's "b" was not scored in shadow.
    labels = pa.table({"ds": ds[:5], "id": ["a", "b", "c", "d", "a"], "y": [1.0, 2.0, 2.0, None, 5.5]})
    first, second = compare(served=served, shadow=shadow.slice(0, 5), labels=labels, keys=["id"], label="y",
                            problem_type="regression")
    assert first.rows == 3 and second.rows == 1
    assert abs(first.champion["mae"] - mean_absolute_error([1, 2, 2], [1, 2, 3])) < 1e-12  # 1/3
    assert abs(first.challenger["mae"] - mean_absolute_error([1, 2, 2], [1.5, 2, 2])) < 1e-12  # 1/6
    assert first.better("mae", higher_is_better=False) and second.better("mae", higher_is_better=False) is False

    classes = ("x", "y", "z")
    rng = np.random.default_rng(3)
    n = 60
    y = rng.choice(classes, n)

    def scored(version: int, noise: float) -> pa.Table:
        p = rng.dirichlet(np.ones(3), n) * noise + np.eye(3)[[classes.index(c) for c in y]] * (1 - noise)
        return pa.table({"ds": [date(2024, 3, 1)] * n, "id": [f"h{i}" for i in range(n)],
                         "model_version": pa.array([version] * n, pa.int32()),
                         **{f"score_{c}": p[:, i] for i, c in enumerate(classes)}})

    a, b = scored(1, 0.9), scored(2, 0.5)
    (day,) = compare(served=a, shadow=b, labels=pa.table({"ds": a["ds"], "id": a["id"], "k": y}), keys=["id"],
                     label="k", problem_type="multiclass", classes=classes)
    for side, table in ((day.champion, a), (day.challenger, b)):
        p = np.column_stack([table[f"score_{c}"].to_numpy() for c in classes])
        assert abs(side["auc"] - roc_auc_score(y, p, multi_class="ovr", labels=list(classes))) < 1e-9
        assert abs(side["accuracy"] - np.mean(np.array(classes)[p.argmax(1)] == y)) < 1e-12
    assert day.better("accuracy", higher_is_better=True) is not None


def test_describe_says_same_when_equal():
    ds = date(2024, 3, 1)
    t = pa.table({"ds": [ds] * 4, "id": list("abcd"), "model_version": pa.array([1] * 4, pa.int32()),
                  "score": [0.1, 0.4, 0.6, 0.9]})
    shadow = t.set_column(2, "model_version", pa.array([2] * 4, pa.int32()))
    labels = pd.DataFrame({"ds": [ds] * 4, "id": list("abcd"), "y": [0, 0, 1, 1]})
    (day,) = compare(served=t, shadow=shadow, labels=pa.Table.from_pandas(labels, preserve_index=False),
                     keys=["id"], label="y", problem_type="binary")
    assert day.champion["auc"] == day.challenger["auc"] == 1.0
    assert "(same)" in describe([day], {"auc": True})[0]
