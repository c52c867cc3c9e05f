"""Configuration: YAML under ``conf/`` validated once into frozen pydantic dataclasses.

* :mod:`~lakeops.config.schema`: the classes (keys, types, defaults, choices);
* :mod:`~lakeops.config.loading`: :func:`load_settings` reads the files, layers the
  environment and ``--set`` overrides, and names the file and key of any error;
* :mod:`~lakeops.config.checks`: what one key's type cannot say (keys that need
  each other, names, the feature SQL file).

Only the edge (the CLI, a job's ``main``) calls :func:`load_settings`; library
code receives the built objects. Everything is importable from here.
"""

from __future__ import annotations

from lakeops.config.checks import RESERVED_TRAIN_PARAMS
from lakeops.config.loading import default_conf_dir, load_settings
from lakeops.config.schema import (
    MODELS_DIR,
    QUALITY_DIR,
    SETTINGS_FILE,
    AlertKind,
    AlertRule,
    AlertsConfig,
    ExpectationConfig,
    FeaturesConfig,
    GateConfig,
    GateThreshold,
    LakeConfig,
    MaintenanceConfig,
    MlflowConfig,
    ModelConfig,
    MonitorConfig,
    ParamValue,
    QualityConfig,
    ScoreConfig,
    SearchConfig,
    Settings,
    Severity,
    SourcesConfig,
    SparkConfig,
    SuiteConfig,
    Thresholds,
    TrainConfig,
)

__all__ = [
    "MODELS_DIR",
    "QUALITY_DIR",
    "RESERVED_TRAIN_PARAMS",
    "SETTINGS_FILE",
    "AlertKind",
    "AlertRule",
    "AlertsConfig",
    "ExpectationConfig",
    "FeaturesConfig",
    "GateConfig",
    "ScoreConfig",
    "GateThreshold",
    "LakeConfig",
    "MaintenanceConfig",
    "MlflowConfig",
    "ModelConfig",
    "MonitorConfig",
    "ParamValue",
    "QualityConfig",
    "SearchConfig",
    "Settings",
    "Severity",
    "SourcesConfig",
    "SparkConfig",
    "SuiteConfig",
    "Thresholds",
    "TrainConfig",
    "default_conf_dir",
    "load_settings",
]
