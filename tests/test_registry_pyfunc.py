"""A registered lakeops model as a plain MLflow pyfunc model: raw feature rows in, calibrated scores out.

A small XGBoost booster (a double, an integer and a categorical feature) is
logged with :func:`lakeops.registry.log_model` to a real MLflow store (SQLite
under tmp_path). ``mlflow.pyfunc.load_model`` and ``mlflow.pyfunc.spark_udf``
on raw rows (nulls, an unseen category, an empty string, extra columns) must
give what lakeops computes: the booster's margin on rows encoded by
:mod:`lakeops.evaluate.encoding`, through the model's Platt calibrator.
"""

from __future__ import annotations

import ast
import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lakeops import registry
from lakeops.config import MlflowConfig
from lakeops.evaluate import pyfunc_model
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode_arrow

NUMERIC = ["load", "errors"]
CATEGORICAL = ["tier"]
FEATURES = [*NUMERIC, *CATEGORICAL]
CATEGORIES = {"tier": ["gold", "silver", "bronze"]}
CALIBRATION = Platt(slope=0.7, intercept=-0.4)
THRESHOLD = 0.35
MODEL = "pyfunc_risk"
MLFLOW = MlflowConfig()


def raw_rows(n: int, *, seed: int) -> pd.DataFrame:
    """Rows as ``features.<model>`` holds them: keys, features with nulls, an unseen tier ("tin")
    and an empty one, and the label."""
    rng = np.random.default_rng(seed)
    load = rng.gamma(2.0, 20.0, n)
    errors = rng.poisson(2.0, n).astype(np.int64)
    tier = rng.choice(["gold", "silver", "bronze", "tin", ""], n, p=[0.3, 0.25, 0.25, 0.1, 0.1]).astype(object)
    logit = 0.04 * load + 0.4 * errors - 3 + (tier == "gold") * 1.0
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int32)
    load[rng.random(n) < 0.1] = np.nan
    tier[rng.random(n) < 0.1] = None
    # Feature columns not in the model's order, between columns the model ignores.
    return pd.DataFrame({"ds": date(2024, 3, 1), "host_id": [f"h{i:04d}" for i in range(n)], "tier": tier,
                         "load": load, "label": label, "errors": errors})


def lakeops_scores(booster, rows: pd.DataFrame) -> np.ndarray:
    """What lakeops stores as ``score``: Arrow-side encoding, booster margin, calibration."""
    x = encode_arrow(pa.RecordBatch.from_pandas(rows[FEATURES], preserve_index=False), FEATURES, CATEGORIES)
    return CALIBRATION.probability(booster.inplace_predict(x, predict_type="margin"))


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """(lake root, booster, version) of a model logged and made champion the way training does."""
    import mlflow
    import xgboost

    root = tmp_path_factory.mktemp("pyfunc") / "lake"
    rows = raw_rows(600, seed=1)
    x = encode_arrow(pa.RecordBatch.from_pandas(rows[FEATURES], preserve_index=False), FEATURES, CATEGORIES)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1},
                            xgboost.DMatrix(x, label=rows["label"].to_numpy()), num_boost_round=10)
    registry.setup(MLFLOW, root)
    with mlflow.start_run(experiment_id=registry.experiment_for(MODEL, root)):
        version = registry.log_model(booster, model_name=MODEL, example=rows[FEATURES].head(5), threshold=THRESHOLD,
                                     features=FEATURES, categories=CATEGORIES, calibration=CALIBRATION)
    registry.set_alias(MODEL, registry.CHAMPION, version)
    return root, booster, version


@pytest.fixture
def store(logged):
    """The logged model, with MLflow pointed at its store (another module may have moved it)."""
    registry.setup(MLFLOW, logged[0])
    return logged


def test_pyfunc_model_scores_raw_rows_as_lakeops_does(store):
    import mlflow

    _, booster, _ = store
    rows = raw_rows(300, seed=2)
    assert rows["load"].isna().any() and rows["tier"].isna().any() and (rows["tier"] == "tin").any()
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@{registry.CHAMPION}")
    got = np.asarray(model.predict(rows), dtype=np.float64)
    expected = lakeops_scores(booster, rows)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert not np.allclose(expected, Platt().probability(booster.inplace_predict(
        encode_arrow(pa.RecordBatch.from_pandas(rows[FEATURES], preserve_index=False), FEATURES, CATEGORIES),
        predict_type="margin")), atol=1e-3)  # the calibrator is applied, not the booster's own sigmoid
    # Rows as records (None for nulls), the way a serving client sends them.
    records = pd.DataFrame.from_records(rows.head(20).astype(object).where(rows.head(20).notna(), None)
                                        .to_dict("records"))
    np.testing.assert_allclose(model.predict(records[FEATURES]), expected[:20], rtol=0, atol=1e-6)


def test_spark_udf_scores_the_features_table_as_lakeops_does(store, spark):
    import mlflow

    _, booster, _ = store
    rows = raw_rows(300, seed=3)
    df = spark.createDataFrame(rows.astype(object).where(rows.notna(), None).to_dict("records"),
                               "ds date, host_id string, tier string, load double, label int, errors long")
    assert df.where(df["load"].isNull()).count() and df.where(df["tier"].isNull()).count()  # real nulls, not NaN
    udf = mlflow.pyfunc.spark_udf(spark, f"models:/{MODEL}@{registry.CHAMPION}", result_type="double")
    # Columns named, or taken from the signature (every feature is required there).
    scored = df.select("host_id", udf(*FEATURES).alias("named"), udf().alias("by_signature")).toPandas()
    got = rows[["host_id"]].merge(scored, on="host_id", validate="one_to_one")
    expected = lakeops_scores(booster, rows)
    np.testing.assert_allclose(got["named"], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["by_signature"], expected, rtol=0, atol=1e-6)


def test_the_model_folder_holds_no_pickle_and_describes_raw_rows(store):
    from mlflow import MlflowClient
    from mlflow.models import Model

    _, _, version = store
    with registry._model_folder(MlflowClient(), MODEL, version) as folder:
        assert not [p.name for p in folder.rglob("*") if p.suffix in (".pkl", ".pickle")]
        mlmodel = Model.load(str(folder / "MLmodel"))
        flavor = mlmodel.flavors["python_function"]
        assert "python_model" not in flavor  # no cloudpickled PythonModel: the model is code
        assert (folder / "pyfunc_model.py").read_text() == registry.PYFUNC_MODEL_CODE.read_text()
        encoding = json.loads((folder / flavor["artifacts"]["encoding"]["path"]).read_text())
        assert encoding == mlmodel.metadata[registry.METADATA_KEY]
        assert (folder / flavor["artifacts"]["booster"]["path"]).read_bytes()[:1] == b"{"  # UBJSON
        example = json.loads((folder / mlmodel.saved_input_example_info["artifact_path"]).read_text())
        requirements = (folder / "requirements.txt").read_text().split()

    inputs = mlmodel.signature.inputs
    assert inputs.input_names() == FEATURES
    assert [(c.type.name, c.required) for c in inputs.inputs] == [("double", True), ("long", True), ("string", True)]
    assert [c.type.name for c in mlmodel.signature.outputs.inputs] == ["double"]
    assert example["columns"] == FEATURES and len(example["data"]) == 5
    assert sorted(r.split("==")[0] for r in requirements) == ["mlflow", "numpy", "pandas", "xgboost"]


def test_registry_load_round_trips_what_scoring_needs(store):
    _, booster, version = store
    loaded = registry.load(MODEL, alias=registry.CHAMPION)
    assert (loaded.version, loaded.threshold, loaded.features) == (version, THRESHOLD, tuple(FEATURES))
    assert loaded.categories == CATEGORIES and loaded.calibration == CALIBRATION
    x = encode_arrow(pa.RecordBatch.from_pandas(raw_rows(50, seed=4)[FEATURES], preserve_index=False), FEATURES,
                     CATEGORIES)
    np.testing.assert_array_equal(loaded.booster.inplace_predict(x, predict_type="margin"),
                                  booster.inplace_predict(x, predict_type="margin"))


def test_a_version_logged_in_the_xgboost_flavor_still_loads(store):
    """Versions registered before the pyfunc model (xgboost flavor + lakeops metadata) keep loading."""
    import mlflow

    root, booster, _ = store
    with mlflow.start_run(experiment_id=registry.experiment_for("flavored", root)):
        info = mlflow.xgboost.log_model(
            booster, name="model", model_format="ubj", registered_model_name="flavored",
            metadata=registry.model_metadata(threshold=0.5, features=FEATURES, categories=CATEGORIES,
                                             calibration=CALIBRATION))
    loaded = registry.load("flavored", version=int(info.registered_model_version))
    assert loaded.features == tuple(FEATURES) and loaded.calibration == CALIBRATION
    assert loaded.booster.num_boosted_rounds() == booster.num_boosted_rounds()


def test_log_model_refuses_an_encoded_example(store):
    root, booster, _ = store
    encoded = pd.DataFrame({"load": [1.0], "errors": [2.0], "tier": [0.0]})
    with pytest.raises(ValueError, match="'tier' is float64: log_model takes raw feature rows"):
        registry.log_model(booster, model_name="never", example=encoded, threshold=0.5, features=FEATURES,
                           categories=CATEGORIES, calibration=CALIBRATION)


def test_model_encoding_equals_lakeops_encoding_on_tricky_input():
    frame = pd.DataFrame({
        "f64": pd.Series([1.5, np.nan, -0.0, 1e30, 3.0, None], dtype="float64"),
        "i64": pd.Series([1, 2, 3, 2**40, -5, 0], dtype="int64"),
        "i32": pd.Series([7, 8, 9, 10, 11, 12], dtype="int32"),
        "nullable_int": pd.Series([1, None, 3, None, 5, 6], dtype="Int64"),
        "nullable_float": pd.Series([0.5, None, 2.5, 3.5, None, 1.0], dtype="Float64"),
        "object_num": pd.Series([1.0, None, 2.0, None, 4.0, 5.0], dtype=object),
        "cat": pd.Series(["a", None, "", "zz", np.nan, "b"], dtype=object),
        "cat_string": pd.Series(["b", pd.NA, "", "a", "A", "b "], dtype="string"),
        "cat_kept_empty": pd.Series(["", "eu", None, "us", "", "eu"], dtype=object),
        "cat_no_list": pd.Series(["x", None, "", "y", "x", None], dtype=object),
        "cat_all_null": pd.Series([None] * 6, dtype=object),
        "ignored": ["not", "a", "feature", "at", "all", "!"],
    })
    features = [c for c in frame.columns if c != "ignored"]
    categories = {"cat": ["a", "b"], "cat_string": ["a", "b"], "cat_kept_empty": ["eu", ""], "cat_no_list": [],
                  "cat_all_null": ["a"]}
    got = pyfunc_model.encode(frame, features, categories)
    expected = encode_arrow(pa.RecordBatch.from_pandas(frame[features], preserve_index=False), features, categories)
    assert got.dtype == np.float32 and got.shape == (len(frame), len(features))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[:, features.index("cat")], [0, np.nan, 2, 2, np.nan, 1])
    assert pyfunc_model.encode(frame.iloc[:0], features, categories).shape == (0, len(features))


def test_model_calibration_equals_platt():
    margin = np.array([-800.0, -30.0, -1.5, 0.0, 0.25, 40.0, 900.0], dtype=np.float32)
    platt = Platt(slope=1.3, intercept=-0.2)
    np.testing.assert_array_equal(pyfunc_model.probability(margin, slope=platt.slope, intercept=platt.intercept),
                                  platt.probability(margin))


def test_the_model_file_needs_no_lakeops():
    """MLflow runs the file on its own, wherever the model is loaded: it may import only these."""
    tree = ast.parse(registry.PYFUNC_MODEL_CODE.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "collections", "json", "typing", "mlflow", "numpy", "pandas", "xgboost"}
    assert (pyfunc_model.BOOSTER, pyfunc_model.ENCODING) == (registry._PYFUNC_BOOSTER, registry._PYFUNC_ENCODING)
