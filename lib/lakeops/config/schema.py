"""The config's shape: one pydantic dataclass per section, validated strictly.

Each class says which keys a section has, their types, defaults and choices;
pydantic refuses an unknown key, a missing required key and a value of the wrong
type (no coercion: ``"8"`` is not an integer, ``1`` is not ``true``). What a
single field cannot say (one key needing another, names, paths) is checked by
:mod:`lakeops.config.checks`; reading the files is :mod:`lakeops.config.loading`.

They are pydantic *dataclasses* rather than ``BaseModel`` so that the objects
stay what callers (and tests) have always had: positional construction,
:func:`dataclasses.replace` (which re-validates), and assignment refused with
:class:`dataclasses.FrozenInstanceError` (an ``AttributeError``). Every mapping
is read-only (a ``MappingProxyType``).

Strictness is relaxed only where YAML cannot give the declared type:

* a section arrives as a mapping, not an instance of its class (:class:`_Section`);
* a list arrives as a ``list``, not a ``tuple`` (:data:`Items`);
* a free-form setting (``spark.conf``, ``lake.storage_options``) may be a number
  or a boolean, handed on as text (:data:`SettingText`);
* an integer where a number is declared is a float (pydantic's strict mode allows it).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, PlainValidator
from pydantic.dataclasses import dataclass
from pydantic_core import CoreSchema, PydanticCustomError

from lakeops.constants import (
    CLASS_METRICS,
    CLASS_SCORE_PREFIX,
    OUTPUT_COLUMNS,
    PROBLEM_METRICS,
    AlertKind,
    Backend,
    ExpectationKind,
    ExpectationPolicy,
    GateMode,
    ProblemTypeName,
    ReasonMethod,
    Severity,
    Uncertainty,
)
from lakeops.errors import ConfigError
from lakeops.names import path_under, validate_name

#: The settings file under ``conf/<env>/``, and the folders of one file per model / per suite.
SETTINGS_FILE = "lakeops.yaml"
MODELS_DIR = "models"
QUALITY_DIR = "quality"

#: Every config class: no coercion, immutable, unknown keys refused.
STRICT = ConfigDict(strict=True, frozen=True, extra="forbid")

# The choices are lakeops.constants' Literals (its tuples are taken from them).
#: Types of entity key columns that are not strings.
KeyType = Literal["string", "int32", "int64", "date"]

T = TypeVar("T")


def _tuple_from_list(value: object) -> object:
    # YAML has no tuples; the items are still checked strictly against T.
    return tuple(value) if isinstance(value, list) else value


#: A list in YAML, a tuple in the config (immutable). A string is not a list of characters.
Items = Annotated[tuple[T, ...], BeforeValidator(_tuple_from_list)]
#: A mapping with string keys, read-only once built.
FrozenMap = Annotated[Mapping[str, T], AfterValidator(types.MappingProxyType)]


def _empty_map() -> Mapping[str, Any]:
    return types.MappingProxyType({})


def _setting_text(value: object) -> object:
    # Spark and object_store settings are strings, but `spark.sql.shuffle.partitions: 8` and
    # `allow_http: true` are what people write: a scalar becomes its text (YAML's spelling
    # of booleans, as Spark expects); a list, a mapping or a null still fails as "a string".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


#: A free-form setting's value: text, or a number or boolean given as text.
SettingText = Annotated[str, BeforeValidator(_setting_text)]

#: An XGBoost parameter value: ``max_depth: 6``, ``eta: 0.1``, ``grow_policy: lossguide``.
ParamValue = str | bool | int | float


def _param_value(value: object) -> ParamValue:
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        # XGBoost parses an integer parameter strictly ("6.0" is refused for max_depth) but
        # takes an integer for any float parameter, so a whole float is handed on as an int:
        # `max_depth: 6.0` works, and nothing needs a list of which parameters are integers.
        return int(value) if value.is_integer() else value
    raise PydanticCustomError("param_type", "a number, a string or true/false")


#: A parameter keeps the type YAML gave it (a whole float becomes an int, see above).
Param = Annotated[ParamValue, PlainValidator(_param_value)]


class _Section:
    """Base of the config classes: a section may be given as a mapping.

    In strict mode pydantic accepts only an instance of a dataclass, but YAML gives a
    section as a mapping; ``strict=False`` on the class's own schema accepts one, while
    its fields keep the class's strict config (so the values inside are still checked
    without coercion).
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] == "dataclass":
            return {**schema, "strict": False}
        return schema  # pragma: no cover - pydantic builds a dataclass schema for a dataclass


@dataclass(config=STRICT)
class LakeConfig(_Section):
    """Where the lakehouse lives and how Delta commits are made."""

    root: str = "./lakehouse"
    backend: Backend = "embedded"
    commit_retries: int = 10
    #: delta-rs/object_store options for an ``s3://`` root (endpoint, region, timeouts); credentials
    #: are better left to the environment (AWS_ACCESS_KEY_ID ...), which fills what is not here.
    storage_options: FrozenMap[SettingText] = Field(default_factory=_empty_map)


@dataclass(config=STRICT)
class SparkConfig(_Section):
    """Settings for the one SparkSession a process builds (see :mod:`lakeops.spark`)."""

    master: str = "local[*]"
    app_name: str = "lakeops"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    conf: FrozenMap[SettingText] = Field(default_factory=_empty_map)


@dataclass(config=STRICT)
class MlflowConfig(_Section):
    """MLflow tracking and registry. Empty URIs mean the embedded default:
    ``sqlite:///<lake>/mlflow.db`` with artifacts under ``<lake>/mlartifacts``."""

    tracking_uri: str = ""
    registry_uri: str = ""


@dataclass(config=STRICT)
class MaintenanceConfig(_Section):
    """What ``lakeops maintain`` (and the weekly maintenance DAG) does to every table."""

    #: Vacuum deletes data files no table version younger than this needs (Delta's retention;
    #: files a registered model version's lineage needs are kept whatever their age).
    vacuum_retention_hours: Annotated[int, Field(ge=0)] = 168
    #: Compaction rewrites a partition's files smaller than this into files of about this size.
    compact_target_mb: Annotated[int, Field(gt=0)] = 128
    #: Log entries older than this are deleted after a checkpoint, and time travel reaches back this
    #: far (Delta's ``delta.logRetentionDuration``; further for a version a model's lineage needs).
    log_retention_days: Annotated[int, Field(gt=0)] = 30
    #: Per table (``schema.table``, partitioned by ``ds``): drop partitions older than this many
    #: days before the maintenance run's ``--ds``. Off for every table unless listed here.
    partition_retention_days: FrozenMap[Annotated[int, Field(gt=0)]] = Field(default_factory=_empty_map)


@dataclass(config=STRICT)
class SettingsFile(_Section):
    """The sections of ``lakeops.yaml`` (base, then the environment's overlay)."""

    lake: LakeConfig = Field(default_factory=LakeConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)


@dataclass(config=STRICT)
class SourcesConfig(_Section):
    """The raw tables a model's features are prepared from."""

    observations: str
    labels: str


@dataclass(config=STRICT)
class FeaturesConfig(_Section):
    """The feature table: the SQL that builds it and the columns it must produce."""

    #: Feature SQL, relative to the project folder (the parent of ``conf/``).
    sql: str
    #: How many days before ``ds`` the SQL may look (rolling windows, history).
    lookback_days: int = 30
    numeric: Items[str] = ()
    categorical: Items[str] = ()


@dataclass(config=STRICT)
class QualityConfig(_Section):
    """Data-quality suites (names of files under ``conf/<env>/quality/``)."""

    raw: str = ""
    features: str = ""


@dataclass(config=STRICT)
class ExpectationConfig(_Section):
    """One data-quality rule; see :mod:`lakeops.data_quality.expectations` for the kinds."""

    kind: ExpectationKind
    policy: ExpectationPolicy = "fail"
    column: str = ""
    columns: Items[str] = ()
    min: float | None = None
    max: float | None = None
    values: Items[str] = ()
    #: Share of rows that must pass a row-level rule (1.0: all of them).
    mostly: float = 1.0
    #: For ``freshness``: the newest value may be at most this many days before ``ds``.
    max_age_days: int = 0


@dataclass(config=STRICT)
class SuiteConfig(_Section):
    """A named list of expectations, from ``conf/<env>/quality/<name>.yaml``."""

    name: str
    expectations: Items[ExpectationConfig]
    description: str = ""


@dataclass(config=STRICT)
class SearchConfig(_Section):
    """A small random search over a declared space; each trial is a nested MLflow run."""

    trials: int = 1
    seed: int = 0
    #: parameter -> candidate values, e.g. ``max_depth: [3, 6]``.
    space: FrozenMap[Items[Param]] = Field(default_factory=_empty_map)


@dataclass(config=STRICT)
class TrainConfig(_Section):
    """How a model is trained from its feature table."""

    #: Labelled days ending at the training ``ds`` that are used at all.
    window_days: int = 28
    #: The newest of those days, held out for evaluation and the champion gate.
    holdout_days: int = 3
    #: Share of training rows (by a hash of key and ds) used for early stopping.
    validation_fraction: float = 0.2
    num_workers: int = 2
    early_stopping_rounds: int = 20
    #: Categories kept per categorical column (the rest share an OTHER code).
    max_categories: int = 20
    #: Regression: the share of labels the stored prediction interval should hold (split-conformal,
    #: fitted on the holdout's residuals).
    interval_coverage: Annotated[float, Field(gt=0, lt=1)] = 0.9
    #: Binary: when the validation rows hold fewer positives than this, the Platt calibrator is also
    #: fitted on out-of-fold margins of the fit rows (``calibration_folds`` boosters grown like the
    #: winner, folds by entity), so a small window's calibration rests on more than a few dozen positives.
    calibration_min_positives: int = 200
    calibration_folds: int = 4
    #: XGBoost parameters every trial starts from, as YAML typed them (``max_depth: 6`` is an int).
    params: FrozenMap[Param] = Field(default_factory=_empty_map)
    search: SearchConfig = Field(default_factory=SearchConfig)


@dataclass(config=STRICT)
class ScoreConfig(_Section):
    """What batch scoring stores beside each row's output."""

    #: Reason codes: the ``reasons`` features with the largest contributions to each row's margin,
    #: signed (``reason_<i>`` and ``reason_<i>_contribution`` in ``predictions.<model>``); 0: none.
    reasons: int = 0
    #: ``approx``: XGBoost's approximate contributions (Saabas: each split's change of the node mean
    #: along the row's path), computed in the compiled tree walk that scores; ``shap``: exact TreeSHAP
    #: (XGBoost's ``pred_contribs``), many times slower.
    reasons_method: ReasonMethod = "approx"


@dataclass(config=STRICT)
class GateThreshold(_Section):
    """One rule of the champion gate, on one metric of the holdout (MLflow's ``MetricThreshold``).

    The challenger passes it when its value is at least ``threshold`` (at most, for a metric
    where lower is better) and, against a champion, better than the champion's by at least
    ``min_absolute_change`` and by ``min_relative_change`` times the champion's value; a
    negative change is a tolerance (``min_absolute_change: -0.005`` on AUC: at most 0.005 worse).
    With ``slice_key``/``slice_value`` it is judged on that slice of the holdout only.
    """

    metric: str
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    #: Default: the metric's own direction (lakeops.evaluate.problems).
    higher_is_better: bool | None = None
    slice_key: str = ""
    slice_value: str = ""


@dataclass(config=STRICT)
class GateConfig(_Section):
    """When a challenger may replace the champion (see ``lakeops validate-model``).

    ``thresholds`` is the rule list. A binary model may instead give the four fields of
    earlier releases (``min_auc`` ...); they map onto the list (:func:`gate_thresholds`),
    and a binary model that gives neither gets their defaults.
    """

    mode: GateMode = "enabled"
    thresholds: Items[GateThreshold] = ()
    #: A sliced rule is not judged (it neither passes nor fails) on fewer labelled holdout rows.
    min_slice_rows: Annotated[int, Field(ge=1)] = 100
    min_auc: float | None = None
    #: The challenger's AUC may be at most this much below the champion's.
    max_auc_drop: float | None = None
    #: The challenger's logloss may be at most this many percent above the champion's.
    max_logloss_increase_pct: float | None = None
    #: The challenger's Brier score may be at most this many percent above the champion's.
    max_brier_increase_pct: float | None = None

    @property
    def legacy(self) -> bool:
        """Whether any of the four fields of earlier releases is given."""
        return any(v is not None for v in (self.min_auc, self.max_auc_drop, self.max_logloss_increase_pct,
                                           self.max_brier_increase_pct))


#: The binary gate of earlier releases, as thresholds: (metric, field, default, how it maps).
LEGACY_GATE_DEFAULTS = {"min_auc": 0.70, "max_auc_drop": 0.005, "max_logloss_increase_pct": 2.0,
                        "max_brier_increase_pct": 2.0}
#: A regression model that gives no thresholds: its RMSE may be at most 2 % worse than the champion's.
#: The gate of a model that names no thresholds, per problem type other than binary (whose default is its
#: earlier releases' fields, LEGACY_GATE_DEFAULTS).
DEFAULT_GATES = {
    "regression": (GateThreshold(metric="rmse", min_relative_change=-0.02),),
    "multiclass": (GateThreshold(metric="logloss", min_relative_change=-0.02),
                   GateThreshold(metric="macro_f1", min_absolute_change=-0.01)),
}


@dataclass(config=STRICT)
class Thresholds(_Section):
    """When a column's drift is a warning or an alert (see ``lakeops monitor``)."""

    #: PSI at or above which the status is ``warn`` / ``alert``.
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    #: A rise of the null rate (current minus baseline, as a fraction of rows) that warns / alerts.
    null_rate_warn: float = 0.05
    null_rate_alert: float = 0.10


@dataclass(config=STRICT)
class MonitorConfig(_Section):
    """Drift monitoring of a model's features and score."""

    #: Categorical features whose values split the population into slices (e.g. ``region``).
    slices: Items[str] = ()
    thresholds: Thresholds = Field(default_factory=Thresholds)
    #: Per-column overrides of ``thresholds``.
    columns: FrozenMap[Thresholds] = Field(default_factory=_empty_map)
    #: Slices with fewer current rows than this get no drift rows (too few rows to say anything).
    min_slice_rows: int = 100
    #: Attribution drift (``ml.attribution_drift``) is ``alert`` when the day's nDCG of the feature
    #: ranking by mean |SHAP| against training falls below this (SageMaker Clarify's 0.9).
    attribution_ndcg_alert: float = 0.9
    #: Rows explained with SHAP per monitored day (and for a version's training reference): a seeded
    #: sample of about this many (all rows of a smaller day). TreeSHAP costs about a millisecond a row.
    attribution_sample_rows: int = 2000

    def thresholds_for(self, column: str) -> Thresholds:
        return self.columns.get(column, self.thresholds)


@dataclass(config=STRICT)
class AlertRule(_Section):
    """One alert rule (see ``lakeops.alert``): a condition on each monitored day, debounced.

    The rule is *active* on a day when its condition holds that day and on at least
    ``for_days`` of the last ``of_days`` monitored days (Prometheus' ``for``, CloudWatch's
    "M of N"); it then fires. A firing rule stays firing for ``keep_firing_days`` monitored
    days after it stops being active (``keep_firing_for``), then resolves.
    """

    name: str
    when: AlertKind
    #: features_drifted: how many features must be at ``alert`` drift on the same day.
    at_least: int = 1
    #: estimated_auc, realised_auc: an AUC below this; interval_coverage: a coverage below this;
    #: attribution_drift: an nDCG below this (default: ``monitor.attribution_ndcg_alert``).
    below: float | None = None
    #: estimated_auc: an AUC this far below the version's training holdout AUC.
    max_drop: float | None = None
    #: estimated_/realised_ mae and rmse: an error above this (in the label's unit).
    above: float | None = None
    #: estimated_/realised_ mae and rmse: an error this many percent above the version's holdout value.
    max_rise_pct: float | None = None
    #: Rules on an estimated or realised metric: ``band`` (default) holds only when the metric's whole
    #: sampling band lies beyond the threshold, so a small day's noise does not page; ``point``: the value alone.
    uncertainty: Uncertainty = "band"
    for_days: int = 1
    of_days: int = 1
    keep_firing_days: int = 0
    severity: Severity = "warning"
    #: A firing rule asks for a retrain (at most one request per ``alerts.retrain_cooldown_days``).
    retrain: bool = False
    #: Also judge each slice of ``monitor.slices`` (drift and performance rules); else the whole population.
    per_slice: bool = False


@dataclass(config=STRICT)
class AlertsConfig(_Section):
    """Alert rules and what a firing rule may do (``lakeops.alert``)."""

    rules: Items[AlertRule] = ()
    #: After a retrain request, no other one for this many days (by ``ds``, not by the clock).
    retrain_cooldown_days: int = 7
    #: A firing rule's retrain request waits until this many days since its condition first held have
    #: labels, so the new version trains and is judged on the change it answers: the newest
    #: ``train.holdout_days`` of them are its holdout (the gate compares both versions there), the rest
    #: are fit. Default: ``train.holdout_days + 2``. 0 asks at once (the release before 0.5).
    retrain_after_labelled_days: int | None = None
    #: The weight of a retrain's fit rows from the day its change began: by default (None) they weigh as
    #: much in total as the days before it, so the booster learns how features and label relate since the
    #: change; 1 weighs every row alike (when the change moved inputs the old relation still explains,
    #: heavier weights only add variance). The calibrator of a retrain is fitted on the change's rows.
    retrain_change_weight: float | None = None
    #: Notify receivers when an alert resolves, as Alertmanager's ``send_resolved`` (default true).
    send_resolved: bool = True


@dataclass(config=STRICT)
class ModelConfig(_Section):
    """One model, from ``conf/<env>/models/<name>.yaml``."""

    name: str
    #: Columns that identify one row of the feature table within a ds.
    entity_keys: Items[str]
    sources: SourcesConfig
    label: str
    features: FeaturesConfig
    #: How many days after ``ds`` a day's label is known: the daily run re-prepares that many
    #: trailing days so their labels fill in, and monitoring then measures realised performance.
    label_delay_days: int = 1
    quality: QualityConfig = Field(default_factory=QualityConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    #: Types of entity key columns that are not strings.
    key_types: FrozenMap[KeyType] = Field(default_factory=_empty_map)
    description: str = ""
    #: What the model predicts: a probability (binary), a number (regression) or one of ``classes`` (multiclass).
    problem_type: ProblemTypeName = "binary"
    #: Multiclass: the label's values, in the order the booster numbers them (names as column names).
    classes: Items[str] = ()

    def retrain_wait_days(self) -> int:
        """Labelled days of a change a retrain request waits for (``alerts.retrain_after_labelled_days``)."""
        wait = self.alerts.retrain_after_labelled_days
        return self.train.holdout_days + 2 if wait is None else wait

    def output_columns(self) -> tuple[str, ...]:
        """The columns of ``predictions.<model>`` that drift watches as the model's output."""
        return (*OUTPUT_COLUMNS[self.problem_type], *(f"{CLASS_SCORE_PREFIX}{c}" for c in self.classes))

    def gate_metrics(self) -> dict[str, bool]:
        """The metrics a gate threshold may name, and whether higher is better: the problem type's, and
        for a multiclass model each class's precision, recall and F1 (``recall_<class>``)."""
        known = dict(PROBLEM_METRICS[self.problem_type])
        if self.problem_type == "multiclass":
            known |= {f"{m}_{c}": up for c in self.classes for m, up in CLASS_METRICS.items()}
        return known

    @property
    def gate_thresholds(self) -> tuple[GateThreshold, ...]:
        """The champion gate's rules: ``gate.thresholds``, else the binary fields mapped onto them."""
        gate = self.gate
        if gate.thresholds:
            return gate.thresholds
        if self.problem_type != "binary":
            return DEFAULT_GATES[self.problem_type]
        v = {k: getattr(gate, k) if getattr(gate, k) is not None else d for k, d in LEGACY_GATE_DEFAULTS.items()}
        return (
            GateThreshold(metric="auc", threshold=v["min_auc"], min_absolute_change=-v["max_auc_drop"]),
            GateThreshold(metric="logloss", min_relative_change=-v["max_logloss_increase_pct"] / 100),
            GateThreshold(metric="brier", min_relative_change=-v["max_brier_increase_pct"] / 100),
        )


@dataclass(config=STRICT)
class Settings(_Section):
    """Everything a command needs, resolved once (by :func:`lakeops.config.load_settings`)."""

    env: str
    conf_dir: Path
    lake: LakeConfig
    spark: SparkConfig
    models: FrozenMap[ModelConfig]
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    suites: FrozenMap[SuiteConfig] = Field(default_factory=_empty_map)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)

    @property
    def project_dir(self) -> Path:
        """The folder that holds ``conf/`` and ``sql/``."""
        return self.conf_dir.resolve().parent

    def feature_sql(self, model: ModelConfig) -> str:
        """The model's feature SQL text (its path was checked when the config was loaded)."""
        return path_under(self.project_dir, *Path(model.features.sql).parts).read_text()

    def suite(self, name: str) -> SuiteConfig:
        """The named data-quality suite."""
        try:
            return self.suites[name]
        except KeyError:
            raise ConfigError(f"unknown data-quality suite {name!r}: add {self.conf_dir}/base/{QUALITY_DIR}/{name}.yaml") from None

    def model(self, name: str) -> ModelConfig:
        """The named model's config, or a :class:`ConfigError` listing the known models."""
        validate_name(name, kind="model name")
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise ConfigError(
                f"unknown model {name!r}: add {self.conf_dir}/base/{MODELS_DIR}/{name}.yaml "
                f"(known models: {known})"
            ) from None
