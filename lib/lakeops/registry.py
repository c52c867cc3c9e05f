"""MLflow tracking and the model registry: where models live and which one is champion.

Models are logged in MLflow's xgboost flavor as UBJSON (never pickle) and are
loaded only from the registry through ``models:/<name>@<alias>`` or
``models:/<name>/<version>`` URIs (docs/reliability.md: models load only from the registry). A model's decision threshold, feature
list and category encoding travel in its MLmodel ``metadata``. Exactly one
version holds the ``champion`` alias at a time: aliases are unique per model.

Reads and writes the MLflow tracking store (``sqlite:///<lake>/mlflow.db`` and
``<lake>/mlartifacts`` by default); no Delta tables.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from lakeops.config import MlflowConfig
from lakeops.errors import LakeopsError

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

# Artifacts of a training run, beside the model.
ARTIFACT_MODEL = "model"
ARTIFACT_CALIBRATION = "calibration_holdout.json"
ARTIFACT_CATEGORIES = "categories.json"


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


def setup(cfg: MlflowConfig, lake_root: Path) -> str:
    """Point MLflow at the configured (or embedded) store; returns the tracking URI.

    Also turns off MLflow's artifact progress bars unless the environment asks
    for them (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``): a batch job's log is not
    a terminal, and loading a model would otherwise draw one per run.
    """
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    root = Path(lake_root).resolve()
    tracking = cfg.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(cfg.registry_uri or tracking)
    return tracking


def experiment_for(model_name: str, lake_root: Path) -> str:
    """The model's experiment id (created on first use, artifacts under the lake)."""
    import mlflow

    name = f"lakeops/{model_name}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (Path(lake_root).resolve() / "mlartifacts" / model_name).as_uri()
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
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(model_name, alias, str(version))
    log.info("%s@%s -> version %d", model_name, alias, version)


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
    # MLmodel and the booster file are read from one place: the model folder itself when
    # the artifact store is a local folder, else one download of it (get_model_info plus
    # mlflow.xgboost.load_model would resolve the URI and download the folder twice).
    with _model_folder(client, model_name, int(mv.version)) as local:
        info = _read_mlmodel(local / MLMODEL_FILE_NAME)
        meta = (info.get("metadata") or {}).get(METADATA_KEY)
        flavor = (info.get("flavors") or {}).get("xgboost") or {}
        if not meta or flavor.get("model_class") != "xgboost.core.Booster":
            raise ModelNotFoundError(f"{uri} was not logged by lakeops (no '{METADATA_KEY}' metadata or no "
                                     "xgboost Booster)")
        booster = xgboost.Booster()
        booster.load_model(str(local / flavor["data"]))
    return LoadedModel(
        name=model_name,
        version=int(mv.version),
        run_id=mv.run_id,
        booster=booster,
        threshold=float(meta["threshold"]),
        features=tuple(meta["features"]),
        categories={k: list(v) for k, v in meta["categories"].items()},
        tags=dict(client.get_run(mv.run_id).data.tags),
    )


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


def _read_mlmodel(path: Path) -> dict[str, Any]:
    """An MLmodel file as a dict, parsed with libyaml where PyYAML has it (mlflow's
    ``Model.load`` uses the pure-Python parser: about 10 ms for a model with a signature)."""
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
) -> int:
    """Log ``booster`` in the active run (xgboost flavor, UBJSON) and register it; returns the version.

    ``example`` holds a few rows of the model's encoded input (doubles); the
    signature is inferred from it. Threshold, features and categories go into
    the MLmodel metadata, where :func:`load` finds them.
    """
    import mlflow
    from mlflow.models import infer_signature

    example = example[list(features)].astype("float64")
    signature = infer_signature(example, booster.inplace_predict(example.to_numpy()))
    info = mlflow.xgboost.log_model(
        booster,
        name=ARTIFACT_MODEL,
        signature=signature,
        input_example=example,
        model_format="ubj",
        registered_model_name=model_name,
        metadata=model_metadata(threshold=threshold, features=list(features),
                                categories={k: list(v) for k, v in categories.items()}),
    )
    return int(info.registered_model_version)


def model_metadata(*, threshold: float, features: list[str], categories: dict[str, list[str]]) -> dict[str, Any]:
    return {METADATA_KEY: {"threshold": threshold, "features": list(features), "categories": categories}}
