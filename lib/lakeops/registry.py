"""MLflow tracking and the model registry: where models live and which one is champion.

Models are logged as MLflow pyfunc models from code
(:mod:`lakeops.evaluate.pyfunc_model`): the booster travels as UBJSON and the
encoding as JSON, never a pickle, and any MLflow user can score raw feature
rows with ``mlflow.pyfunc.load_model`` or ``mlflow.pyfunc.spark_udf``. lakeops
loads them only from the registry through ``models:/<name>@<alias>`` or
``models:/<name>/<version>`` URIs (docs/reliability.md: models load only from the registry). A model's decision threshold, feature
list, category encoding and calibrator travel in its MLmodel ``metadata``. Exactly one
version holds the ``champion`` alias at a time: aliases are unique per model.

Reads and writes the MLflow tracking store (``sqlite:///<lake>/mlflow.db`` and
``<lake>/mlartifacts`` by default); no Delta tables.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from lakeops.config import MlflowConfig
from lakeops.errors import ConfigError, LakeopsError
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.problems import Output, output_from_dict
from lakeops.lake.storage import is_object_store, storage_for
from lakeops.registry_store import ARTIFACT_FOLDER, check_not_moved, store_path

if TYPE_CHECKING:
    import pandas as pd
    import xgboost
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
#: The key of lakeops' own section in a model's MLmodel metadata.
METADATA_KEY = "lakeops"

# Run tags every trained model carries: what it was built from (its lineage).
TAG_MODEL = "lakeops.model"
TAG_DS = "lakeops.ds"
TAG_FEATURES_TABLE = "lakeops.features_table"
TAG_FEATURES_VERSION = "lakeops.features_version"
TAG_TRAIN_START = "lakeops.train_start"
TAG_TRAIN_END = "lakeops.train_end"
TAG_HOLDOUT_START = "lakeops.holdout_start"
TAG_HOLDOUT_END = "lakeops.holdout_end"
TAG_CONFIG_HASH = "lakeops.config_hash"
TAG_CODE_VERSION = "lakeops.code_version"
TAG_JOB_RUN_ID = "lakeops.job_run_id"
#: The fingerprint of the ml.alerts alert whose retrain request trained this version (absent: scheduled or manual).
TAG_REQUESTED_BY = "lakeops.requested_by"
#: passed | failed: whether the version's performance estimator matched its holdout (lakeops.evaluate.estimator_check).
TAG_ESTIMATOR_CHECK = "lakeops.estimator_check"

# Artifacts of a training run, beside the model.
ARTIFACT_MODEL = "model"
ARTIFACT_CALIBRATION = "calibration_holdout.json"
ARTIFACT_CATEGORIES = "categories.json"
#: A regression version's direct-loss estimator (``LoadedModel.extras``): training logs it, monitoring runs it.
ARTIFACT_DLE = "dle.bin"

#: The pyfunc model's code, logged with every version (MLflow "models from code").
PYFUNC_MODEL_CODE = Path(__file__).resolve().parent / "evaluate" / "pyfunc_model.py"
# The pyfunc model's artifact names (``BOOSTER`` and ``ENCODING`` in that file, which
# lakeops does not import: it registers a model with MLflow when it runs).
_PYFUNC_BOOSTER, _PYFUNC_ENCODING = "booster", "encoding"


class ModelNotFoundError(LakeopsError):
    """No registered version (or alias) to load."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version with what scoring needs to use it."""

    name: str
    version: int
    run_id: str
    booster: xgboost.Booster
    threshold: float
    features: tuple[str, ...]
    categories: dict[str, list[str]]
    tags: dict[str, str]
    #: Maps the booster's margin to what scoring stores: a calibrated probability (binary), the
    #: prediction and its interval (regression).
    calibration: Output = Platt()
    #: ``binary`` or ``regression`` (a version logged before problem types is binary).
    problem_type: str = "binary"
    #: Extra artifacts logged with the version (``log_model(extras=...)``), by name: e.g. the regression
    #: model's direct-loss estimator.
    extras: dict[str, bytes] = field(default_factory=dict)


def setup(cfg: MlflowConfig, lake_root: Path | str) -> str:
    """Point MLflow at the configured (or embedded) store; returns the tracking URI.

    Also turns off MLflow's artifact progress bars unless the environment asks
    for them (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``): a batch job's log is not
    a terminal, and loading a model would otherwise draw one per run.
    """
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if is_object_store(lake_root):
        if not cfg.tracking_uri:
            raise ConfigError(
                f"mlflow.tracking_uri: the lakehouse {lake_root} is on object storage, where a SQLite "
                "store cannot live; set it to an MLflow server (http://...) or a database "
                "(sqlite:////local/path/mlflow.db, postgresql://...)"
            )
        # MLflow's S3 artifact client takes a custom endpoint from its own variable.
        if os.environ.get("AWS_ENDPOINT_URL"):
            os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", os.environ["AWS_ENDPOINT_URL"])
        tracking = cfg.tracking_uri
    else:
        if not cfg.tracking_uri:
            check_not_moved(lake_root)
        tracking = cfg.tracking_uri or f"sqlite:///{store_path(lake_root)}"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(cfg.registry_uri or tracking)
    return tracking


def experiment_for(model_name: str, lake_root: Path | str) -> str:
    """The model's experiment id (created on first use, artifacts under the lake)."""
    import mlflow

    name = f"lakeops/{model_name}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    if is_object_store(lake_root):
        location = storage_for(lake_root).join(ARTIFACT_FOLDER, model_name)
    else:
        location = (Path(lake_root).resolve() / ARTIFACT_FOLDER / model_name).as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except Exception:  # created concurrently by another process: use theirs
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def alias_version(model_name: str, alias: str) -> int | None:
    """The version an alias points at, or ``None``."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return int(MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def set_alias(model_name: str, alias: str, version: int) -> None:
    """Point ``alias`` at ``version`` (the last of several writers wins).

    Two processes setting an alias the model has never had race on the registry's insert: on a
    database store the loser gets a unique-key error although the alias now exists. It sets the
    alias again, an update this time, as any later writer would.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient().set_registered_model_alias(model_name, alias, str(version))
    except MlflowException:
        if alias_version(model_name, alias) is None:  # not the race: the alias still does not exist
            raise
        MlflowClient().set_registered_model_alias(model_name, alias, str(version))
    log.info("%s@%s -> version %d", model_name, alias, version)


def promote(model_name: str, version: int, *, expected: int | None) -> int | None:
    """Make ``version`` champion unless the champion is no longer ``expected``; the champion afterwards.

    The registry has no compare-and-set, so this reads, sets and reads again. Of validators that
    saw the same champion and finish together, one that finds the alias moved (before its write,
    through a unique-key error when none had been champion, or just after) lost, and says so by
    the version it returns; whichever wins, the alias names exactly one version.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    current = alias_version(model_name, CHAMPION)
    if current != expected:
        return current
    try:
        MlflowClient().set_registered_model_alias(model_name, CHAMPION, str(version))
    except MlflowException:
        current = alias_version(model_name, CHAMPION)
        if current in (expected, version):  # not a lost race: a real failure
            raise
        return current
    current = alias_version(model_name, CHAMPION)
    if current == version:
        log.info("%s@%s -> version %d", model_name, CHAMPION, version)
    return current


def load(model_name: str, *, alias: str | None = None, version: int | None = None) -> LoadedModel:
    """Load a registered version by alias or number, from the registry only."""
    import xgboost
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.models.model import MLMODEL_FILE_NAME

    if (alias is None) == (version is None):
        raise ValueError("give exactly one of alias or version")
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(model_name, alias) if alias else client.get_model_version(
            model_name, str(version))
    except MlflowException:
        what = f"alias {alias!r}" if alias else f"version {version}"
        raise ModelNotFoundError(f"model {model_name!r} has no {what} in the registry; train and validate it first") from None
    uri = f"models:/{model_name}/{mv.version}"
    run_id = mv.run_id
    if run_id is None:  # registered from a path or URI, not by log_model in a run
        raise ModelNotFoundError(f"{uri} was not logged by lakeops (it has no MLflow run)")
    # MLmodel and the booster file are read from one place: the model folder itself when
    # the artifact store is a local folder, else one download of it (get_model_info plus
    # mlflow.xgboost.load_model would resolve the URI and download the folder twice).
    with _model_folder(client, model_name, int(mv.version)) as local:
        info = _read_mlmodel(local / MLMODEL_FILE_NAME)
        meta = (info.get("metadata") or {}).get(METADATA_KEY)
        booster_file = _booster_file(info)
        if not meta or booster_file is None:
            raise ModelNotFoundError(f"{uri} was not logged by lakeops (no '{METADATA_KEY}' metadata or no "
                                     "xgboost Booster)")
        booster = xgboost.Booster()
        booster.load_model(str(local / booster_file))
        extras = {name: (local / "artifacts" / name).read_bytes() for name in meta.get("extras", [])
                  if (local / "artifacts" / name).is_file()}
    return LoadedModel(
        name=model_name,
        version=int(mv.version),
        run_id=run_id,
        booster=booster,
        threshold=float(meta["threshold"]),
        features=tuple(meta["features"]),
        categories={k: list(v) for k, v in meta["categories"].items()},
        tags=dict(client.get_run(run_id).data.tags),
        calibration=output_from_dict(meta.get("calibration")),
        problem_type=meta.get("problem_type", "binary"),
        extras=extras,
    )


def lineage_versions(model_names: Sequence[str]) -> dict[str, set[int]]:
    """Per features table, the versions registered model versions were trained on (their runs'
    ``lakeops.features_table`` and ``lakeops.features_version`` tags): what must stay readable
    by time travel for as long as the model version is registered."""
    from mlflow import MlflowClient

    client = MlflowClient()
    found: dict[str, set[int]] = {}
    for name in model_names:
        if client.search_registered_models(filter_string=f"name = '{name}'") == []:
            continue
        for mv in client.search_model_versions(filter_string=f"name = '{name}'"):
            if mv.run_id is None:
                continue
            tags = client.get_run(mv.run_id).data.tags
            table, version = tags.get(TAG_FEATURES_TABLE), tags.get(TAG_FEATURES_VERSION)
            if table and version and version.isdigit():
                found.setdefault(table, set()).add(int(version))
    return found


@contextmanager
def _model_folder(client: MlflowClient, model_name: str, version: int) -> Iterator[Path]:
    """A local folder holding the registered version's files, for the ``with`` block only."""
    import mlflow

    where = client.get_model_version_download_uri(model_name, str(version))
    parsed = urlparse(where)
    if parsed.scheme in ("", "file") and not parsed.netloc:  # a local folder, as a path or a file: URI
        folder = Path(url2pathname(parsed.path))
        if folder.is_dir():
            yield folder  # read in place, nothing copied
            return
    with tempfile.TemporaryDirectory(prefix="lakeops-model-") as tmp:
        yield Path(mlflow.artifacts.download_artifacts(artifact_uri=where, dst_path=tmp))


def _booster_file(mlmodel: Mapping[str, Any]) -> str | None:
    """Where in the model folder the UBJSON booster lies: the pyfunc model's ``booster``
    artifact, or the xgboost flavor's file in versions logged before the pyfunc model."""
    flavors = mlmodel.get("flavors") or {}
    artifacts = (flavors.get("python_function") or {}).get("artifacts") or {}
    if path := (artifacts.get(_PYFUNC_BOOSTER) or {}).get("path"):
        return path
    xgb = flavors.get("xgboost") or {}
    if xgb.get("model_class") == "xgboost.core.Booster" and xgb.get("data"):
        return xgb["data"]
    return None


def _read_mlmodel(path: Path) -> dict[str, Any]:
    """An MLmodel file as a dict, parsed with libyaml where PyYAML has it (mlflow's
    ``Model.load`` uses the pure-Python parser, slow on a model with a signature)."""
    import yaml

    with path.open() as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def log_model(
    booster: xgboost.Booster,
    *,
    model_name: str,
    example: pd.DataFrame,
    threshold: float,
    features: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    calibration: Output,
    problem_type: str = "binary",
    extras: Mapping[str, bytes] | None = None,
) -> int:
    """Log ``booster`` in the active run as a pyfunc model of raw feature rows and register it.

    The model (:mod:`lakeops.evaluate.pyfunc_model`, logged from code) takes the
    feature columns as the features table holds them and returns the calibrated
    probability lakeops stores as ``score``. Threshold, features, categories and
    calibration go into the MLmodel metadata, where :func:`load` finds them, and
    into the model's ``encoding`` artifact, where the pyfunc model does.

    Args:
        example: a few raw feature rows (numbers, strings for the categorical
            columns, nulls), for instance ``features_df.limit(5).toPandas()``: the
            model's input example, and where the signature's numeric types come from.

    Returns:
        The registered version.

    Raises:
        ValueError: ``example`` lacks a feature or holds encoded categorical columns.
    """
    import mlflow

    features = list(features)
    category_lists = {k: list(v) for k, v in categories.items()}
    if absent := [c for c in features if c not in example.columns]:
        raise ValueError(f"example has no column(s) {absent}; give log_model raw rows of every feature")
    example = example[features]
    extras = dict(extras or {})
    metadata = model_metadata(threshold=threshold, features=features, categories=category_lists,
                              calibration=calibration, problem_type=problem_type, extras=sorted(extras))
    with tempfile.TemporaryDirectory(prefix="lakeops-log-") as tmp:
        booster_path, encoding_path = Path(tmp) / "booster.ubj", Path(tmp) / "encoding.json"
        booster_path.write_bytes(bytes(booster.save_raw("ubj")))
        encoding_path.write_text(json.dumps(metadata[METADATA_KEY], indent=1))
        artifacts = {_PYFUNC_BOOSTER: str(booster_path), _PYFUNC_ENCODING: str(encoding_path)}
        for name, raw in extras.items():
            (Path(tmp) / name).write_bytes(raw)
            artifacts[name] = str(Path(tmp) / name)
        info = mlflow.pyfunc.log_model(
            name=ARTIFACT_MODEL,
            python_model=str(PYFUNC_MODEL_CODE),
            artifacts=artifacts,
            signature=_signature(example, category_lists, outputs=_output_columns(calibration)),
            input_example=example,
            registered_model_name=model_name,
            metadata=metadata,
            pip_requirements=_requirements(),
        )
    return int(info.registered_model_version)


def _output_columns(calibration: Output) -> list[str]:
    """The pyfunc model's named output columns: a multiclass model's ``score_<class>``; none (one
    unnamed double) for the others."""
    return [f"score_{c}" for c in getattr(calibration, "classes", ())]


def _signature(example: pd.DataFrame, categories: Mapping[str, Sequence[str]], *, outputs: Sequence[str] = ()) -> Any:
    """The pyfunc model's signature: raw feature columns in, one double out (or one per class).

    Categorical columns are strings (MLflow passes None, NaN and pd.NA through an
    object or string column); numeric columns are ``long`` where the example holds
    integers and ``double`` otherwise, because MLflow refuses int64 values for a
    double column and NaN for a long one. Every column is required: a missing
    feature is an error, not a column of nulls (and ``spark_udf`` can then be
    called without naming the columns).
    """
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    def column_type(name: str) -> str:
        dtype = example[name].dtype
        if name in categories:
            if not pd.api.types.is_string_dtype(dtype):  # object or a string dtype
                raise ValueError(f"example column {name!r} is {dtype}: log_model takes raw feature rows "
                                 "(strings in categorical columns), not encoded ones")
            return "string"
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        return "long" if pd.api.types.is_integer_dtype(dtype) else "double"

    return ModelSignature(inputs=Schema([ColSpec(column_type(c), c) for c in example.columns]),
                          outputs=Schema([ColSpec("double", name) for name in outputs] if outputs
                                         else [ColSpec("double")]))


def _requirements() -> list[str]:
    """The pyfunc model's packages, pinned to the versions it was logged with (it imports no others)."""
    import mlflow
    import numpy
    import pandas
    import xgboost

    return [f"{m.__name__}=={m.__version__}" for m in (mlflow, xgboost, numpy, pandas)]


def model_metadata(*, threshold: float, features: list[str], categories: dict[str, list[str]],
                   calibration: Output, problem_type: str = "binary", extras: Sequence[str] = ()) -> dict[str, Any]:
    """The MLmodel ``metadata`` of a lakeops model: what :func:`load` and the pyfunc model need."""
    return {METADATA_KEY: {"threshold": threshold, "features": list(features), "categories": categories,
                           "calibration": calibration.as_dict(), "problem_type": problem_type,
                           "extras": list(extras)}}
