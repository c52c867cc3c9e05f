"""train, baselines and the champion/challenger gate, on a generated lake (issue 4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from lakeops import registry
from lakeops.config import LakeConfig, MlflowConfig
from lakeops.dates import date_range
from lakeops.features import prepare
from lakeops.lake import open_lake
from lakeops.model_gate import validate_model
from lakeops.synth import generate
from lakeops.train.data import VALIDATION, TrainingWindow, training_frame
from lakeops.train.pipeline import config_hash, train

pytestmark = pytest.mark.slow

DS = date(2024, 1, 24)
MLFLOW = MlflowConfig()


@pytest.fixture(scope="module")
def world(spark, settings, tmp_path_factory):
    """A month of 400 hosts, prepared from Jan 8 to Jan 25 (labels through Jan 25).

    Raw data from Dec 9: the 30 days of lookback before Jan 8, so no prepared day holds warm-up values.
    """
    root = tmp_path_factory.mktemp("lake")
    lake = open_lake(spark, replace(settings.lake, root=str(root)))
    generate(lake, start=date(2023, 12, 9), end=date(2024, 1, 26), hosts=400, seed=5)
    base = settings.model("incident_risk")
    prepare(lake, base, days=date_range(date(2024, 1, 8), date(2024, 1, 25)),
            feature_sql=settings.feature_sql(base),
            raw_suite=settings.suite(base.quality.raw), features_suite=settings.suite(base.quality.features))
    model = replace(base, train=replace(base.train, search=replace(base.train.search, trials=2)))
    first = train(lake, model, ds=DS, mlflow_cfg=MLFLOW, code_version="test")
    return lake, model, first


def test_training_registers_a_challenger_with_lineage(world):
    import mlflow

    lake, model, first = world
    assert registry.alias_version(model.name, registry.CHALLENGER) == first.version
    assert first.holdout_days == (date(2024, 1, 22), date(2024, 1, 23), date(2024, 1, 24))
    assert first.holdout.auc > 0.7 and first.holdout.n == 3 * 400
    run = mlflow.get_run(first.mlflow_run_id)
    tags = run.data.tags
    assert tags["lakeops.features_version"] == str(lake.version("features.incident_risk")) == str(first.features_version)
    assert tags["lakeops.train_start"] == first.train_days[0].isoformat()
    assert tags["lakeops.config_hash"] == config_hash(model) and tags["lakeops.code_version"] == "test"
    assert "lakeops.lookback_incomplete_days" not in tags  # every prepared day had its lookback
    assert lake.read("ml.feature_days").where("not lookback_complete").count() == 0
    trials = mlflow.search_runs([run.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    assert len(trials) == 2 and trials["metrics.val_auc"].notna().all()


def test_model_is_ubjson_and_loads_from_the_registry(world):
    _, model, first = world
    loaded = registry.load(model.name, alias=registry.CHALLENGER)
    assert loaded.version == first.version and loaded.threshold == pytest.approx(first.threshold)
    assert set(loaded.features) == {*model.features.numeric, *model.features.categorical}
    stored = Path(registry.setup(MLFLOW, world[0].root).removeprefix("sqlite:///")).parent / "mlartifacts"
    files = {p.name for p in stored.rglob("*") if p.is_file()}
    # The pyfunc model from code: the booster as UBJSON, its encoding as JSON, the model's code; no pickle.
    assert {"booster.ubj", "encoding.json", "pyfunc_model.py", "MLmodel"} <= files
    assert not any(name.endswith((".pkl", ".pickle")) for name in files)


def test_baselines_cover_every_feature_and_recompute_by_hand(world, spark):
    from pyspark.sql import functions as F

    lake, model, first = world
    rows = lake.read("ml.baselines", where={"model_name": model.name, "model_version": first.version}).toPandas()
    by_slice = rows
    rows = rows[rows.slice_key.isna()]  # the whole population
    assert set(rows.column_name) == {*model.features.numeric, *model.features.categorical, "score"}
    # Each region slice has its own counts on the same bins, and they add up to the whole population.
    regions = by_slice[(by_slice.slice_key == "region") & (by_slice.column_name == "latency_p95_ms")]
    summed = regions.groupby("bin_index")["count"].sum()
    whole = rows[rows.column_name == "latency_p95_ms"].set_index("bin_index")["count"]
    assert summed.sort_index().to_dict() == whole.sort_index().to_dict()
    assert np.allclose(rows.groupby("column_name").proportion.sum(), 1.0)
    # Recount one numeric column from the training rows with numpy, using the stored edges.
    col = "latency_p95_ms"
    stored = rows[rows.column_name == col].sort_values("bin_index")
    train_rows = lake.read("features.incident_risk", where={"ds": list(first.train_days)}).where(
        F.col(model.label).isNotNull())
    values = training_frame(lake, model, TrainingWindow(first.train_days, first.holdout_days, first.features_version),
                            seed=model.train.search.seed).where(~F.col(VALIDATION)).select(col).toPandas()[col]
    edges = stored[stored.bin_index >= 0].upper.to_numpy()[:-1]
    x = values.to_numpy(dtype=float)
    ok = ~np.isnan(x)
    counts = np.bincount(np.searchsorted(edges, x[ok], side="left"), minlength=len(edges) + 1)
    assert list(stored[stored.bin_index >= 0]["count"]) == list(counts)
    assert int(stored[stored.bin_index == -1]["count"].iloc[0]) == int((~ok).sum())
    assert train_rows.count() > len(values)  # the baseline is the fitting rows, not validation rows


def test_gate_promotes_then_rejects_a_weak_challenger_and_dry_run_moves_nothing(world, spark):
    lake, model, first = world
    decision = validate_model(lake, model, ds=DS, mlflow_cfg=MLFLOW)
    assert decision.decision == "promoted" and registry.alias_version(model.name, registry.CHAMPION) == first.version

    weak_cfg = replace(model, train=replace(model.train, params={**model.train.params, "n_estimators": 1.0,
                                                                  "max_depth": 1.0},
                                            search=replace(model.train.search, trials=1)))
    weak = train(lake, weak_cfg, ds=DS, mlflow_cfg=MLFLOW, code_version="test")
    assert registry.alias_version(model.name, registry.CHALLENGER) == weak.version
    rejected = validate_model(lake, model, ds=DS, mlflow_cfg=MLFLOW)
    assert rejected.decision == "rejected" and "champion" in rejected.reason
    assert registry.alias_version(model.name, registry.CHAMPION) == first.version

    dry = validate_model(lake, model, ds=DS, mlflow_cfg=MLFLOW, mode="dry_run")
    assert dry.decision == "dry_run_fail" and registry.alias_version(model.name, registry.CHAMPION) == first.version

    # Bootstrap the weak model as champion (gate disabled); a better challenger then replaces it.
    assert validate_model(lake, model, ds=DS, mlflow_cfg=MLFLOW, mode="disabled").decision == "promoted"
    assert registry.alias_version(model.name, registry.CHAMPION) == weak.version
    quick = replace(model, train=replace(model.train, search=replace(model.train.search, trials=1)))
    better = train(lake, quick, ds=DS, mlflow_cfg=MLFLOW, code_version="test")
    promoted = validate_model(lake, model, ds=DS, mlflow_cfg=MLFLOW)
    assert promoted.decision == "promoted" and promoted.champion_version == weak.version
    assert registry.alias_version(model.name, registry.CHAMPION) == better.version

    log = lake.read("ml.model_validations").toPandas().sort_values("decided_at")
    assert list(log.decision) == ["promoted", "rejected", "dry_run_fail", "promoted", "promoted"]
    assert log.iloc[1].challenger_auc < log.iloc[1].champion_auc and log.iloc[1].champion_version == first.version
    assert log.iloc[4].challenger_auc > log.iloc[4].champion_auc
    assert (log.holdout_rows.dropna() == 1200).all()


def test_training_refuses_days_without_a_passed_gate(world, spark):
    from pyspark.sql import functions as F

    from lakeops.lake.tables import DATA_QUALITY, features_spec
    from lakeops.train.data import TrainingDataError, choose_window

    lake, model, _ = world
    with pytest.raises(TrainingDataError, match="labelled day"):
        choose_window(lake, model, date(2024, 1, 9))

    # The same features in a lake with no gate records: refused.
    bare = open_lake(spark, LakeConfig(root=str(Path(lake.root).parent / "bare")))
    days = date_range(date(2024, 1, 10), date(2024, 1, 24))
    bare.overwrite(lake.read("features.incident_risk", where={"ds": days}), features_spec(model), partitions={"ds": days})
    with pytest.raises(TrainingDataError, match="ml.data_quality"):
        choose_window(bare, model, DS)

    # Gate records copied over, then a later failed run for one day: that day is named.
    records = lake.read("ml.data_quality", where={"ds": days})
    bare.append(records, DATA_QUALITY)
    assert choose_window(bare, model, DS).holdout_days[-1] == DS  # no ml.feature_days: every day counts as complete

    # Two days recorded with an incomplete lookback are left out and named; all of them: refused.
    import pyarrow as pa

    from lakeops.features.prepare import lookback_rows
    from lakeops.lake.tables import FEATURE_DAYS

    def record(present):
        rows = lookback_rows(model.name, days, model.features.lookback_days, present, "test")
        bare.overwrite_rows(pa.Table.from_pylist(rows, schema=FEATURE_DAYS.schema), FEATURE_DAYS,
                            partitions={"model_name": [model.name], "ds": days})

    record(set(date_range(date(2023, 12, 13), DS)))  # from Dec 13: Jan 10 lacks Dec 11 and 12, Jan 11 lacks Dec 12
    window = choose_window(bare, model, DS)
    assert window.incomplete_days == (date(2024, 1, 10), date(2024, 1, 11))
    assert window.train_days[0] == date(2024, 1, 12) and window.holdout_days[-1] == DS
    record(set())
    with pytest.raises(TrainingDataError, match="from 2023-12-11"):
        choose_window(bare, model, DS)
    record(set(date_range(date(2023, 12, 1), DS)))
    bad = date(2024, 1, 15)
    failed = records.where((F.col("ds") == bad) & (F.col("stage") == "features")).withColumn(
        "success", F.lit(False)).withColumn("checked_at", F.col("checked_at") + F.expr("INTERVAL 1 HOUR"))
    bare.append(failed, DATA_QUALITY)
    with pytest.raises(TrainingDataError, match="2024-01-15"):
        choose_window(bare, model, DS)
