"""lakeops.registry: what it refuses to load, and where it reads a model version's files from.

A small XGBoost model is logged the way training does (:func:`lakeops.registry.log_model`)
to a real MLflow store (SQLite under a temporary lake root); no Spark. Loading raw rows
through the logged pyfunc model is tests/test_registry_pyfunc.py; scoring with the
champion is tests/score/.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lakeops import registry
from lakeops.config import MlflowConfig
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode_arrow

FEATURES = ["load", "errors", "temp", "tier"]
CATEGORIES = {"tier": ["gold", "silver", "bronze"]}
MLFLOW = MlflowConfig()


def rows_(n: int = 400, *, seed: int = 7) -> pd.DataFrame:
    """Feature rows and a label, with nulls and a tier the model never saw ("tin")."""
    rng = np.random.default_rng(seed)
    load = rng.gamma(2.0, 20.0, n)
    errors = rng.poisson(2.0, n).astype(np.int64)
    tier = rng.choice([*CATEGORIES["tier"], "tin"], n, p=[0.3, 0.3, 0.3, 0.1]).astype(object)
    logit = 0.03 * load + 0.3 * errors - 4 + (tier == "gold") * 1.0
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    load[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"load": load, "errors": errors, "temp": rng.normal(60, 8, n), "tier": tier, "label": label})


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """(lake, rows, version): model "risk" logged under ``lake.root`` and made champion, as training does."""
    import mlflow
    import xgboost

    lake = SimpleNamespace(root=tmp_path_factory.mktemp("registry") / "lake")  # the registry reads only the root
    rows = rows_()
    x = encode_arrow(pa.RecordBatch.from_pandas(rows[FEATURES], preserve_index=False), FEATURES, CATEGORIES)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1},
                            xgboost.DMatrix(x, label=rows["label"].to_numpy()), num_boost_round=5)
    registry.setup(MLFLOW, lake.root)
    with mlflow.start_run(experiment_id=registry.experiment_for("risk", lake.root)):
        version = registry.log_model(booster, model_name="risk", example=rows[FEATURES].head(5), threshold=0.3,
                                     features=FEATURES, categories=CATEGORIES, calibration=Platt(slope=0.8, intercept=-0.2))
    registry.set_alias("risk", registry.CHAMPION, version)
    return lake, rows, version


@pytest.fixture
def world(registered):
    """The registered model, with MLflow pointed at its store (another module may have moved it)."""
    registry.setup(MLFLOW, registered[0].root)
    return registered


def test_a_model_not_logged_by_lakeops_is_refused(world):
    """A registered xgboost model without lakeops' metadata (threshold, features) cannot be loaded."""
    import mlflow
    import xgboost

    lake, rows, _ = world
    booster = xgboost.train({"max_depth": 2, "nthread": 1}, xgboost.DMatrix(rows[["temp"]].to_numpy(), label=rows["label"]),
                            num_boost_round=2)
    registry.setup(MLFLOW, lake.root)
    with mlflow.start_run(experiment_id=registry.experiment_for("foreign", lake.root)):
        info = mlflow.xgboost.log_model(booster, name="model", registered_model_name="foreign")
    with pytest.raises(registry.ModelNotFoundError, match="not logged by lakeops"):
        registry.load("foreign", version=int(info.registered_model_version))



def test_model_files_are_read_in_place_from_a_local_store_and_downloaded_otherwise(world):
    """registry.load reads a local artifact folder where it lies; any other location is
    downloaded once into a temporary folder that is gone afterwards."""
    from mlflow import MlflowClient

    from lakeops.registry import _model_folder

    lake, _, version = world
    registry.setup(MLFLOW, lake.root)
    client = MlflowClient()
    with _model_folder(client, "risk", version) as folder:
        assert folder.is_relative_to(lake.root / "mlartifacts") and (folder / "MLmodel").is_file()

    class ResolvesToRegistryUri:  # a store MLflow must fetch from: the models:/ URI itself
        def get_model_version_download_uri(self, name, v):
            return f"models:/{name}/{v}"

    with _model_folder(ResolvesToRegistryUri(), "risk", version) as copied:
        assert not copied.is_relative_to(lake.root) and (copied / "MLmodel").is_file()
        assert (copied / "MLmodel").read_bytes() == (folder / "MLmodel").read_bytes()
    assert not copied.exists()


def test_promote_moves_the_champion_only_from_the_one_it_expected(world):
    """Promotion is compare-then-set: a validator that judged against a champion since replaced does nothing."""
    from mlflow import MlflowClient

    client = MlflowClient()
    v1, v2, v3 = _versions(client, "promoted", 3)
    assert registry.promote("promoted", v1, expected=None) == v1
    assert registry.alias_version("promoted", registry.CHAMPION) == v1
    assert registry.promote("promoted", v2, expected=None) == v1  # judged as the first champion: too late
    assert registry.alias_version("promoted", registry.CHAMPION) == v1
    assert registry.promote("promoted", v3, expected=v1) == v3
    assert registry.alias_version("promoted", registry.CHAMPION) == v3


@pytest.mark.parametrize("round_", range(4))  # the insert race is hit in some rounds only
def test_validators_promoting_at_once_agree_on_one_champion(world, round_):
    """Eight threads each promote their own version as the first champion, released together.

    Whichever way they interleave (two first inserts of the alias collide on SQLite's unique
    key as on PostgreSQL's), none fails, the final champion is one whose promoter saw it win,
    and each promoter's answer is a version one of them set.
    """
    from mlflow import MlflowClient

    name = f"contested-{round_}"
    versions = _versions(MlflowClient(), name, 8)
    answers = dict(zip(versions, _released_together(versions, lambda v: registry.promote(name, v, expected=None)),
                       strict=True))
    champion = registry.alias_version(name, registry.CHAMPION)
    assert answers[champion] == champion
    assert set(answers.values()) <= set(versions)


def test_trainers_naming_the_challenger_at_once_all_succeed(world):
    """The first writes of an alias collide on its unique key; ``set_alias`` then writes again (last one wins)."""
    from mlflow import MlflowClient

    versions = _versions(MlflowClient(), "challenged", 8)
    _released_together(versions, lambda v: registry.set_alias("challenged", registry.CHALLENGER, v))
    assert registry.alias_version("challenged", registry.CHALLENGER) in versions


def _versions(client, name: str, count: int) -> list[int]:
    """``count`` versions of a new registered model (the registry's alias rules need no model files)."""
    client.create_registered_model(name)
    return [int(client.create_model_version(name, source="models:/risk/1").version) for _ in range(count)]


def _released_together(items: list, work) -> list:
    """``work`` on each item in a thread of its own, all released at once by a barrier; the results in order."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(len(items))

    def run(item):
        start.wait(timeout=60)
        return work(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))
