"""Batch scoring into predictions.<model>: correctness, reruns, backfills, bad input.

A small feature table (four numeric features, one an integer, and one
categorical) is written through the lake; a real XGBoost model trained on it is
logged to a real MLflow registry (SQLite under the lake) and made champion. The
stored scores are checked against the model loaded back through MLflow's own
pyfunc flavor, on rows encoded by the Spark-side encoder (an independent path).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from lakedata import fingerprint

from lakeops import registry
from lakeops.config import FeaturesConfig, MlflowConfig, ModelConfig, SourcesConfig
from lakeops.errors import MissingInputError, SchemaMismatchError
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode_arrow
from lakeops.lake import Lake, TableSpec
from lakeops.lake.embedded import EmbeddedLake
from lakeops.score.batch import BatchScorer
from lakeops.score.run import score

NUMERIC = ["load", "latency", "errors", "temp"]
CATEGORICAL = ["tier"]
FEATURES = [*NUMERIC, *CATEGORICAL]
TIERS = ["gold", "silver", "bronze"]
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(7)]
ROWS_PER_DAY = 400
MLFLOW = MlflowConfig()


def features_spec(model: str, *, tier_type: pa.DataType = pa.string(), drop: str | None = None) -> TableSpec:
    fields = [("ds", pa.date32()), ("host_id", pa.string()), ("load", pa.float64()), ("latency", pa.float64()),
              ("errors", pa.int64()), ("temp", pa.float64()), ("tier", tier_type), ("label", pa.int32())]
    return TableSpec(name=f"features.{model}", schema=pa.schema([f for f in fields if f[0] != drop]),
                     partition_by=("ds",))


def feature_rows(days, *, seed: int = 7) -> pd.DataFrame:
    """Rows with nulls in every feature and a tier value the model never saw ("tin")."""
    rng = np.random.default_rng(seed)
    frames = []
    for d in days:
        n = ROWS_PER_DAY
        load = rng.gamma(2.0, 20.0, n)
        latency = rng.lognormal(3.0, 0.5, n)
        errors = rng.poisson(2.0, n)
        temp = rng.normal(60, 8, n)
        tier = rng.choice([*TIERS, "tin"], n, p=[0.3, 0.3, 0.3, 0.1])
        logit = 0.03 * load + 0.02 * latency + 0.3 * errors - 6 + (tier == "gold") * 1.0
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
        frame = pd.DataFrame({"ds": d, "host_id": [f"h{i:04d}" for i in range(n)], "load": load,
                              "latency": latency, "errors": errors.astype(np.int64), "temp": temp,
                              "tier": tier.astype(object), "label": label})
        frame.loc[rng.random(n) < 0.05, "load"] = np.nan
        frame.loc[rng.random(n) < 0.05, "tier"] = None
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_features(spark, lake: Lake, spec: TableSpec, rows: pd.DataFrame) -> None:
    df = spark.createDataFrame(pa.Table.from_pandas(rows[spec.schema.names], schema=spec.schema,
                                                    preserve_index=False).to_pandas(), spec.spark_schema)
    lake.overwrite(df, spec, partitions={"ds": sorted(set(rows["ds"]))})


def register(lake: Lake, model: str, rows: pd.DataFrame, *, trees: int, champion: bool = True) -> int:
    """Train a small booster on ``rows`` and register it the way training does."""
    import mlflow
    import xgboost

    categories = {"tier": TIERS}
    x = encode_arrow(pa.RecordBatch.from_pandas(rows[FEATURES], preserve_index=False), FEATURES, categories)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1},
                            xgboost.DMatrix(x, label=rows["label"].to_numpy()), num_boost_round=trees)
    registry.setup(MLFLOW, lake.root)
    with mlflow.start_run(experiment_id=registry.experiment_for(model, lake.root)):
        version = registry.log_model(booster, model_name=model, example=rows[FEATURES].head(5),
                                     threshold=0.3, features=FEATURES, categories=categories,
                                     calibration=Platt(slope=0.8, intercept=-0.2))
    if champion:
        registry.set_alias(model, registry.CHAMPION, version)
    return version


@pytest.fixture(scope="module")
def world(spark, settings, tmp_path_factory):
    lake = EmbeddedLake(spark, tmp_path_factory.mktemp("score") / "lake")
    rows = feature_rows(DAYS)
    write_features(spark, lake, features_spec("risk"), rows)
    version = register(lake, "risk", rows, trees=20)
    return lake, rows, version


def model_config(name: str) -> ModelConfig:
    """A model config as a YAML file would give it (scoring reads its name and entity keys)."""
    return ModelConfig(name=name, entity_keys=("host_id",), sources=SourcesConfig("raw.a", "raw.b"), label="label",
                       features=FeaturesConfig(sql="unused.sql", numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL)))


def run(lake: Lake, model: str = "risk", days=DAYS, **kwargs):
    return score(lake, model_config(model), days=days, mlflow_cfg=MLFLOW, **kwargs)


def table(model: str) -> str:
    return f"predictions.{model}"


def predictions(lake: Lake, model: str, days=DAYS) -> pd.DataFrame:
    return lake.read(table(model), where={"ds": list(days)}).toPandas()


def test_a_week_is_scored_and_matches_the_registered_model(world, spark):
    import mlflow


    lake, rows, version = world
    result = run(lake)
    assert result.scored == tuple(DAYS) and result.skipped == () and result.rows == len(rows)
    parts = lake.partitions(table("risk"))
    assert sorted(p["ds"] for p in parts) == DAYS

    stored = predictions(lake, "risk")
    assert len(stored) == len(rows) and not stored.duplicated(["ds", "host_id"]).any()
    loaded = registry.load("risk", alias=registry.CHAMPION)
    assert set(stored["model_version"]) == {version} and set(stored["mlflow_run_id"]) == {loaded.run_id}
    assert set(stored["model_name"]) == {"risk"}

    # Independent path: MLflow's pyfunc model on the raw feature rows (its own encoding and calibration).
    raw = lake.read("features.risk").toPandas()
    pyfunc = mlflow.pyfunc.load_model("models:/risk@champion")
    raw["expected"] = np.asarray(pyfunc.predict(raw), dtype=np.float64)
    both = stored.merge(raw[["ds", "host_id", "expected"]], on=["ds", "host_id"], validate="one_to_one")
    assert len(both) == len(rows)
    np.testing.assert_allclose(both["score"], both["expected"], rtol=0, atol=1e-6)
    assert (both["prediction"] == (both["score"] >= loaded.threshold).astype(int)).all()
    assert 0 < both["prediction"].sum() < len(both)


def test_rerun_skips_and_force_rewrites_identically(world):
    lake, rows, _ = world
    if not lake.exists(table("risk")) or not predictions(lake, "risk").shape[0]:
        run(lake)
    before_version = lake.version(table("risk"))
    before = fingerprint(lake.read(table("risk")))

    again = run(lake)
    assert again.scored == () and again.skipped == tuple(DAYS) and again.rows == 0
    assert lake.version(table("risk")) == before_version

    forced = run(lake, force=True, chunk_days=3)  # three commits: 3 + 3 + 1 days
    assert forced.scored == tuple(DAYS)
    assert lake.version(table("risk")) == before_version + 3
    assert fingerprint(lake.read(table("risk"))) == before


def test_another_version_rescored_and_fast_path_equals_portable_path(world, spark):
    lake, rows, _ = world
    v2 = register(lake, "risk", rows, trees=5, champion=False)
    result = run(lake, days=DAYS[:2], model_version=v2)
    assert result.scored == tuple(DAYS[:2])
    stored = predictions(lake, "risk", DAYS[:2])
    assert set(stored["model_version"]) == {v2}

    # The same map through the portable (mapInArrow + overwrite) path gives the same rows.
    class PortableLake(EmbeddedLake):
        _map_partitions = Lake._map_partitions

    portable = PortableLake(spark, lake.root)
    loaded = registry.load("risk", version=v2)
    scorer = BatchScorer.from_booster(loaded.booster, features=loaded.features, categories=loaded.categories,
                                      threshold=loaded.threshold, keys=("host_id",), calibration=loaded.calibration,
                                      constants={"model_name": "risk", "model_version": v2,
                                                 "mlflow_run_id": loaded.run_id})
    spec = replace(lake.spec(table("risk")), name="predictions.risk_portable")
    portable.map_partitions("features.risk", scorer, spec, where={"ds": DAYS[:2]}, columns=["host_id", *FEATURES])
    assert fingerprint(portable.read("predictions.risk_portable")) == fingerprint(
        lake.read(table("risk"), where={"ds": DAYS[:2]}))


def test_interrupted_backfill_leaves_whole_days_and_resumes(world, spark):
    lake, rows, _ = world
    model = "resume"
    write_features(spark, lake, features_spec(model), rows)
    register(lake, model, rows, trees=5)
    broken_day = DAYS[4]
    broken = lake.read(f"features.{model}", where={"ds": [broken_day]}).inputFiles()
    assert broken
    for uri in broken:  # a real fault: a damaged data file in the middle of the range
        path = uri.removeprefix("file:")
        with open(path, "r+b") as fh:
            fh.seek(0)
            fh.write(b"garbage!" * 64)

    folders = _write_folders(lake, model)
    with pytest.raises(Exception):  # noqa: B017 - whatever Spark raises for a corrupt file
        run(lake, model, chunk_days=2)
    assert len(_write_folders(lake, model) - folders) == 2  # the two committed chunks; the failed one cleaned up
    done = predictions(lake, model)
    assert sorted(set(done["ds"])) == DAYS[:4]  # chunks 1 and 2 committed, chunk 3 not at all
    assert (done.groupby("ds").size() == ROWS_PER_DAY).all()
    versions = {d: lake.column_ranges(table(model), "model_version", where={"ds": [d]}) for d in DAYS[:4]}

    write_features(spark, lake, features_spec(model), rows[rows["ds"] == broken_day])  # repair the day
    history_before = lake.version(table(model))
    resumed = run(lake, model, chunk_days=2)
    assert resumed.skipped == tuple(DAYS[:4]) and resumed.scored == tuple(DAYS[4:])
    assert lake.version(table(model)) == history_before + 2
    assert sorted(set(predictions(lake, model)["ds"])) == DAYS
    assert versions == {d: lake.column_ranges(table(model), "model_version", where={"ds": [d]}) for d in DAYS[:4]}


def _write_folders(lake: Lake, model: str) -> set[str]:
    return {p.name for p in lake.path(table(model)).glob("w-*")}


def test_feature_table_that_does_not_fit_the_model_writes_nothing(world, spark):
    lake, rows, _ = world
    model = "misfit"
    bad = rows.drop(columns=["temp"]).assign(tier=rows["tier"].map({"gold": 1, "silver": 2, "bronze": 3, "tin": 4}))
    write_features(spark, lake, features_spec(model, tier_type=pa.int64(), drop="temp"), bad)
    register(lake, model, rows, trees=3)
    assert not lake.exists(table(model))
    with pytest.raises(SchemaMismatchError) as err:
        run(lake, model)
    message = str(err.value)
    assert "'temp' is missing" in message and "'tier' is int64" in message and "nothing was scored" in message
    assert not lake.exists(table(model))


def test_missing_feature_day_writes_nothing(world):
    lake, _, _ = world
    before = lake.version(table("risk")) if lake.exists(table("risk")) else None
    with pytest.raises(MissingInputError, match="2024-03-09.*run `lakeops prepare"):
        run(lake, days=[DAYS[-1], date(2024, 3, 9)], force=True)
    assert (lake.version(table("risk")) if lake.exists(table("risk")) else None) == before


def test_no_champion_is_a_clear_error(world, spark):
    lake, rows, _ = world
    write_features(spark, lake, features_spec("nochamp"), rows[rows["ds"] == DAYS[0]])
    register(lake, "nochamp", rows, trees=2, champion=False)
    with pytest.raises(registry.ModelNotFoundError, match="no alias 'champion'"):
        run(lake, "nochamp", days=DAYS[:1])


def test_reason_codes_are_stored_and_add_up_with_xgboost(world, spark):
    """score.reasons: the top contributions travel with each row, equal to XGBoost's approximate
    contributions of the registered booster, and the scores do not move."""
    import xgboost

    from lakeops.config import ScoreConfig

    lake, rows, _ = world
    day_rows = rows[rows.ds == DAYS[0]]
    for name in ("plain", "reasoned"):  # the same booster (deterministic) under two names
        write_features(spark, lake, features_spec(name), day_rows)
        version = register(lake, name, rows, trees=20)
    score(lake, model_config("plain"), days=DAYS[:1], mlflow_cfg=MLFLOW)
    score(lake, replace(model_config("reasoned"), score=ScoreConfig(reasons=2)), days=DAYS[:1], mlflow_cfg=MLFLOW)
    stored = lake.read_arrow("predictions.reasoned").to_pandas().sort_values("host_id", ignore_index=True)
    assert stored.columns[-4:].tolist() == ["reason_1", "reason_1_contribution", "reason_2", "reason_2_contribution"]
    plain = lake.read_arrow("predictions.plain").to_pandas().sort_values("host_id", ignore_index=True)
    np.testing.assert_array_equal(stored["score"], plain["score"])

    loaded = registry.load("reasoned", version=version)
    day = rows[rows.ds == DAYS[0]].sort_values("host_id", ignore_index=True)
    x = encode_arrow(pa.RecordBatch.from_pandas(day[FEATURES], preserve_index=False), FEATURES, loaded.categories)
    contribs = loaded.booster.predict(xgboost.DMatrix(x, missing=np.nan), pred_contribs=True, approx_contribs=True)
    for i in range(len(day)):
        order = np.argsort(-np.abs(contribs[i, :-1]), kind="stable")[:2]
        assert stored.loc[i, "reason_1"] == FEATURES[order[0]]
        assert abs(stored.loc[i, "reason_1_contribution"] - contribs[i, order[0]]) < 1e-4
        if contribs[i, order[1]] != 0:
            assert stored.loc[i, "reason_2"] == FEATURES[order[1]]
