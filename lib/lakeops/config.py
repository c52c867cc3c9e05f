"""Configuration: YAML under ``conf/`` parsed once into frozen dataclasses.

Layout::

    conf/base/lakeops.yaml          lake and Spark settings
    conf/base/models/<model>.yaml   one file per model
    conf/<env>/...                  the same files, deep-merged over base

The environment comes from ``--env`` or ``LAKEOPS_ENV``; ``--set key.path=value``
overrides are applied last (values parsed as YAML). Unknown keys and wrong types
are errors that name the file (or the override) and the key.

Only the edge (the CLI, a job's ``main``) calls :func:`load_settings`; library
code receives the dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lakeops.errors import ConfigError, InvalidParameterError
from lakeops.names import TableName, path_under, validate_name

SETTINGS_FILE = "lakeops.yaml"
MODELS_DIR = "models"
QUALITY_DIR = "quality"


@dataclass(frozen=True)
class LakeConfig:
    """Where the lakehouse lives and how Delta commits are made."""

    root: str = "./lakehouse"
    backend: Literal["embedded", "native"] = "embedded"
    commit_retries: int = 10
    #: delta-rs/object_store options for an ``s3://`` root (endpoint, region, timeouts); credentials
    #: are better left to the environment (AWS_ACCESS_KEY_ID ...), which fills what is not here.
    storage_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SparkConfig:
    """Settings for the one SparkSession a process builds (see :mod:`lakeops.spark`)."""

    master: str = "local[*]"
    app_name: str = "lakeops"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowConfig:
    """MLflow tracking and registry. Empty URIs mean the embedded default:
    ``sqlite:///<lake>/mlflow.db`` with artifacts under ``<lake>/mlartifacts``."""

    tracking_uri: str = ""
    registry_uri: str = ""


@dataclass(frozen=True)
class SourcesConfig:
    """The raw tables a model's features are prepared from."""

    observations: str
    labels: str


@dataclass(frozen=True)
class FeaturesConfig:
    """The feature table: the SQL that builds it and the columns it must produce."""

    #: Feature SQL, relative to the project folder (the parent of ``conf/``).
    sql: str
    #: How many days before ``ds`` the SQL may look (rolling windows, history).
    lookback_days: int = 30
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityConfig:
    """Data-quality suites (names of files under ``conf/<env>/quality/``)."""

    raw: str = ""
    features: str = ""


@dataclass(frozen=True)
class ExpectationConfig:
    """One data-quality rule; see :mod:`lakeops.quality.expectations` for the kinds."""

    kind: Literal["not_null", "between", "in_set", "unique", "row_count_between", "freshness"]
    policy: Literal["fail", "warn"] = "fail"
    column: str = ""
    columns: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    #: Share of rows that must pass a row-level rule (1.0: all of them).
    mostly: float = 1.0
    #: For ``freshness``: the newest value may be at most this many days before ``ds``.
    max_age_days: int = 0


@dataclass(frozen=True)
class SuiteConfig:
    """A named list of expectations, from ``conf/<env>/quality/<name>.yaml``."""

    name: str
    expectations: tuple[ExpectationConfig, ...]
    description: str = ""


@dataclass(frozen=True)
class SearchConfig:
    """A small random search over a declared space; each trial is a nested MLflow run."""

    trials: int = 1
    seed: int = 0
    #: parameter -> candidate values, e.g. ``max_depth: [3, 6]``.
    space: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
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
    #: XGBoost parameters every trial starts from.
    params: Mapping[str, float] = field(default_factory=dict)
    search: SearchConfig = SearchConfig()


@dataclass(frozen=True)
class GateConfig:
    """When a challenger may replace the champion (see ``lakeops validate-model``)."""

    mode: Literal["disabled", "dry_run", "enabled"] = "enabled"
    min_auc: float = 0.70
    #: The challenger's AUC may be at most this much below the champion's.
    max_auc_drop: float = 0.005
    #: The challenger's logloss may be at most this many percent above the champion's.
    max_logloss_increase_pct: float = 2.0
    #: The challenger's Brier score may be at most this many percent above the champion's.
    max_brier_increase_pct: float = 2.0


@dataclass(frozen=True)
class Thresholds:
    """When a column's drift is a warning or an alert (see ``lakeops monitor``)."""

    #: PSI at or above which the status is ``warn`` / ``alert``.
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    #: A rise of the null rate (current minus baseline, as a fraction of rows) that warns / alerts.
    null_rate_warn: float = 0.05
    null_rate_alert: float = 0.10


@dataclass(frozen=True)
class MonitorConfig:
    """Drift monitoring of a model's features and score."""

    #: Categorical features whose values split the population into slices (e.g. ``region``).
    slices: tuple[str, ...] = ()
    thresholds: Thresholds = Thresholds()
    #: Per-column overrides of ``thresholds``.
    columns: Mapping[str, Thresholds] = field(default_factory=dict)
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


#: What an alert rule watches (``alerts.rules[].when``), each read from the monitoring tables of a day.
AlertKind = Literal["features_drifted", "score_drifted", "estimated_auc", "realised_auc", "data_quality",
                    "attribution_drift"]
Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class AlertRule:
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
    #: estimated_auc, realised_auc: an AUC below this; attribution_drift: an nDCG below this
    #: (default: ``monitor.attribution_ndcg_alert``).
    below: float | None = None
    #: estimated_auc, realised_auc: an AUC this far below the version's training holdout AUC.
    max_drop: float | None = None
    for_days: int = 1
    of_days: int = 1
    keep_firing_days: int = 0
    severity: Severity = "warning"
    #: A firing rule asks for a retrain (at most one request per ``alerts.retrain_cooldown_days``).
    retrain: bool = False
    #: Also judge each slice of ``monitor.slices`` (drift and performance rules); else the whole population.
    per_slice: bool = False


@dataclass(frozen=True)
class AlertsConfig:
    """Alert rules and what a firing rule may do (``lakeops.alert``)."""

    rules: tuple[AlertRule, ...] = ()
    #: After a retrain request, no other one for this many days (by ``ds``, not by the clock).
    retrain_cooldown_days: int = 7
    #: Notify receivers when an alert resolves, as Alertmanager's ``send_resolved`` (default true).
    send_resolved: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """One model, from ``conf/<env>/models/<name>.yaml``."""

    name: str
    #: Columns that identify one row of the feature table within a ds.
    entity_keys: tuple[str, ...]
    sources: SourcesConfig
    label: str
    features: FeaturesConfig
    #: How many days after ``ds`` a day's label is known: the daily run re-prepares that many
    #: trailing days so their labels fill in, and monitoring then measures realised performance.
    label_delay_days: int = 1
    quality: QualityConfig = QualityConfig()
    train: TrainConfig = TrainConfig()
    gate: GateConfig = GateConfig()
    monitor: MonitorConfig = MonitorConfig()
    alerts: AlertsConfig = AlertsConfig()
    #: Types of entity key columns that are not strings (string, int32, int64, date).
    key_types: Mapping[str, Literal["string", "int32", "int64", "date"]] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything a command needs, resolved once."""

    env: str
    conf_dir: Path
    lake: LakeConfig
    spark: SparkConfig
    models: Mapping[str, ModelConfig]
    mlflow: MlflowConfig = MlflowConfig()
    suites: Mapping[str, SuiteConfig] = field(default_factory=dict)

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


# --------------------------------------------------------------------------- loading


def default_conf_dir() -> Path:
    """``./conf`` when present, else the ``conf/`` beside the source tree."""
    local = Path("conf")
    if (local / "base").is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "conf"


def load_settings(
    *,
    conf_dir: Path | None = None,
    env: str | None = None,
    overrides: Sequence[str] = (),
    lake_root: str | None = None,
) -> Settings:
    """Read base config, the env overlay, then ``overrides``; build :class:`Settings`.

    Args:
        conf_dir: the ``conf/`` folder (default: :func:`default_conf_dir`).
        env: overlay folder name under ``conf_dir``; ``None`` or ``"base"`` for none.
        overrides: ``key.path=value`` strings, e.g. ``spark.master=local[4]``.
        lake_root: replaces ``lake.root`` after everything else (``--lake``).

    Raises:
        ConfigError: naming the file or override and the key at fault.
    """
    conf_dir = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    base = conf_dir / "base"
    if not (base / SETTINGS_FILE).is_file():
        raise ConfigError(
            f"no {base / SETTINGS_FILE}: point --conf (or LAKEOPS_CONF) at the project's conf/ folder"
        )
    layers = [base]
    env = env or "base"
    if env != "base":
        validate_name(env, kind="environment name")
        overlay = conf_dir / env
        if not overlay.is_dir():
            known = sorted(p.name for p in conf_dir.iterdir() if p.is_dir())
            raise ConfigError(f"unknown environment {env!r}: no folder {overlay} (found: {', '.join(known)})")
        layers.append(overlay)

    settings_doc: dict[str, Any] = {}
    origins: dict[str, str] = {}
    model_docs: dict[str, dict[str, Any]] = {}
    model_origins: dict[str, dict[str, str]] = {}
    suite_docs: dict[str, dict[str, Any]] = {}
    suite_origins: dict[str, dict[str, str]] = {}
    for layer in layers:
        path = layer / SETTINGS_FILE
        if path.is_file():
            _merge(settings_doc, _read_yaml(path), origins, str(path))
        for folder, docs, doc_origins in ((MODELS_DIR, model_docs, model_origins), (QUALITY_DIR, suite_docs, suite_origins)):
            for path in sorted((layer / folder).glob("*.yaml")):
                name = validate_name(path.stem, kind=f"file name ({path})")
                doc_origins.setdefault(name, {"": str(path)})
                _merge(docs.setdefault(name, {}), _read_yaml(path), doc_origins[name], str(path))

    for item in overrides:
        key, value = _parse_override(item)
        if key.startswith("models."):
            parts = key.split(".", 2)
            if len(parts) < 3 or parts[1] not in model_docs:
                raise ConfigError(f"--set {item!r}: unknown model in key {key!r}")
            _set_path(model_docs[parts[1]], parts[2], value)
            model_origins[parts[1]][parts[2]] = f"--set {item}"
        else:
            _set_path(settings_doc, key, value)
            origins[key] = f"--set {item}"
    if lake_root is not None:
        settings_doc.setdefault("lake", {})["root"] = lake_root
        origins["lake.root"] = "--lake"

    lake = _build(LakeConfig, settings_doc.pop("lake", {}), "lake", origins)
    spark = _build(SparkConfig, settings_doc.pop("spark", {}), "spark", origins)
    mlflow = _build(MlflowConfig, settings_doc.pop("mlflow", {}), "mlflow", origins)
    if settings_doc:
        key = sorted(settings_doc)[0]
        raise ConfigError(f"{origins.get(key, 'config')}: unknown key {key!r} (expected lake, spark, mlflow)")
    suites = _build_named(SuiteConfig, suite_docs, suite_origins)
    for name, suite in suites.items():
        for i, expectation in enumerate(suite.expectations):
            _check_expectation(expectation, f"{suite_origins[name]['']}: expectations[{i}]")
    models = _build_named(ModelConfig, model_docs, model_origins)
    for name, model in models.items():
        _check_model(model, model_origins[name], project_dir=conf_dir.resolve().parent)
        for stage in ("raw", "features"):
            suite_name = getattr(model.quality, stage)
            if suite_name and suite_name not in suites:
                raise ConfigError(
                    f"{_origin(model_origins[name], 'quality.' + stage)}: quality.{stage}: no suite {suite_name!r} "
                    f"under {conf_dir}/*/{QUALITY_DIR}/"
                )
    return Settings(
        env=env, conf_dir=conf_dir, lake=lake, spark=spark, mlflow=mlflow,
        models=types.MappingProxyType(models), suites=types.MappingProxyType(suites),
    )


def _build_named(cls: type, docs: Mapping[str, Any], origins: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """Build one ``cls`` per file; each must say the name its file has."""
    built = {}
    for name, doc in sorted(docs.items()):
        item = _build(cls, doc, "", origins[name])
        if item.name != name:
            raise ConfigError(f"{origins[name].get('name')}: name {item.name!r} must match the file name {name!r}")
        built[name] = item
    return built


#: What each kind of expectation needs (see lakeops.quality.expectations).
_EXPECTATION_NEEDS = {
    "not_null": ("column",),
    "between": ("column",),
    "in_set": ("column", "values"),
    "unique": ("columns",),
    "row_count_between": (),
    "freshness": ("column",),
}


def _check_expectation(e: ExpectationConfig, where: str) -> None:
    for need in _EXPECTATION_NEEDS[e.kind]:
        if not getattr(e, need):
            raise ConfigError(f"{where}: a {e.kind!r} expectation needs {need!r}")
    for col in (e.column, *e.columns):
        if col:
            try:
                validate_name(col, kind="column name")
            except InvalidParameterError as exc:
                raise ConfigError(f"{where}: {exc}") from None
    if e.kind in ("between", "row_count_between") and e.min is None and e.max is None:
        raise ConfigError(f"{where}: a {e.kind!r} expectation needs 'min', 'max' or both")
    if not 0 < e.mostly <= 1:
        raise ConfigError(f"{where}: mostly must be in (0, 1], got {e.mostly}")


#: XGBoost parameters lakeops sets itself; ``train.params`` and ``train.search.space`` may not.
RESERVED_TRAIN_PARAMS = frozenset(
    {"num_workers", "features_col", "label_col", "validation_indicator_col", "missing", "n_jobs", "nthread"}
)


def _check_model(model: ModelConfig, origins: Mapping[str, str], *, project_dir: Path) -> None:
    def check(value: str, key: str) -> None:
        try:
            validate_name(value, kind="column name")
        except InvalidParameterError as exc:
            raise ConfigError(f"{_origin(origins, key)}: {key}: {exc}") from None

    for key in model.key_types:
        if key not in model.entity_keys:
            raise ConfigError(f"{_origin(origins, 'key_types')}: key_types: {key!r} is not one of entity_keys "
                              f"{list(model.entity_keys)}")
    for col in model.monitor.slices:
        if col not in model.features.categorical:
            raise ConfigError(f"{_origin(origins, 'monitor.slices')}: monitor.slices: {col!r} is not one of the "
                              f"categorical features {list(model.features.categorical)}")
    for col, limits in (("", model.monitor.thresholds), *model.monitor.columns.items()):
        where = f"monitor.columns.{col}" if col else "monitor.thresholds"
        if col and col not in (*model.features.numeric, *model.features.categorical, "score"):
            raise ConfigError(f"{_origin(origins, where)}: {where}: {col!r} is not a feature of the model (or score)")
        if not 0 < limits.psi_warn <= limits.psi_alert or not 0 < limits.null_rate_warn <= limits.null_rate_alert:
            raise ConfigError(f"{_origin(origins, where)}: {where}: need 0 < psi_warn <= psi_alert and "
                              "0 < null_rate_warn <= null_rate_alert")
    if not 0 < model.monitor.attribution_ndcg_alert <= 1 or model.monitor.attribution_sample_rows < 1:
        raise ConfigError(f"{_origin(origins, 'monitor')}: monitor: need 0 < attribution_ndcg_alert <= 1 and "
                          "attribution_sample_rows >= 1")
    _check_alerts(model, origins)
    for section, keys in (("train.params", model.train.params), ("train.search.space", model.train.search.space)):
        bad = sorted(RESERVED_TRAIN_PARAMS & set(keys))
        if bad:
            raise ConfigError(f"{_origin(origins, section)}: {section} may not set {bad}: lakeops sets them")
    try:
        sql = path_under(project_dir, *Path(model.features.sql).parts)
    except InvalidParameterError as exc:
        raise ConfigError(f"{_origin(origins, 'features.sql')}: features.sql: {exc}") from None
    if not sql.is_file():
        raise ConfigError(f"{_origin(origins, 'features.sql')}: features.sql: no file {sql} "
                          "(the path is relative to the folder that holds conf/)")

    for table_key in ("observations", "labels"):
        try:
            TableName.parse(getattr(model.sources, table_key))
        except InvalidParameterError as exc:
            raise ConfigError(f"{_origin(origins, 'sources.' + table_key)}: sources.{table_key}: {exc}") from None
    if not 0 <= model.label_delay_days <= 366:
        raise ConfigError(f"{_origin(origins, 'label_delay_days')}: label_delay_days must be between 0 and 366, "
                          f"got {model.label_delay_days}")
    if not model.entity_keys:
        raise ConfigError(f"{_origin(origins, 'entity_keys')}: entity_keys must name at least one column")
    for key in model.entity_keys:
        check(key, "entity_keys")
    check(model.label, "label")
    for col in (*model.features.numeric, *model.features.categorical):
        check(col, "features")


def _check_alerts(model: ModelConfig, origins: Mapping[str, str]) -> None:
    names = set()
    for i, rule in enumerate(model.alerts.rules):
        key = f"alerts.rules[{i}]"

        def fail(message: str, key: str = key, name: str = rule.name) -> typing.NoReturn:
            raise ConfigError(f"{_origin(origins, 'alerts')}: {key} ({name}): {message}")

        try:
            validate_name(rule.name, kind="rule name")
        except InvalidParameterError as exc:
            fail(str(exc))
        if rule.name in names:
            fail("another rule has this name")
        names.add(rule.name)
        if not 1 <= rule.for_days <= rule.of_days <= 60:
            fail(f"need 1 <= for_days <= of_days <= 60, got for_days={rule.for_days}, of_days={rule.of_days}")
        if not 0 <= rule.keep_firing_days <= 60:
            fail(f"keep_firing_days must be between 0 and 60, got {rule.keep_firing_days}")
        if rule.at_least < 1:
            fail(f"at_least must be at least 1, got {rule.at_least}")
        if rule.when in ("estimated_auc", "realised_auc") and rule.below is None and rule.max_drop is None:
            fail(f"a {rule.when} rule needs below (an AUC floor) or max_drop (a drop from the training holdout)")
        if rule.when not in ("estimated_auc", "realised_auc", "attribution_drift") and (
                rule.below is not None or rule.max_drop is not None):
            fail(f"below and max_drop do not apply to {rule.when}")
        if rule.when == "realised_auc" and rule.max_drop is not None:
            fail("max_drop applies to estimated_auc only; give realised_auc a floor (below)")
        if rule.per_slice and rule.when in ("data_quality", "attribution_drift"):
            fail(f"{rule.when} is judged for the whole population only (per_slice: false)")
        if rule.per_slice and not model.monitor.slices:
            fail("per_slice needs monitor.slices")
    if not 1 <= model.alerts.retrain_cooldown_days <= 366:
        raise ConfigError(f"{_origin(origins, 'alerts.retrain_cooldown_days')}: alerts.retrain_cooldown_days must "
                          f"be between 1 and 366, got {model.alerts.retrain_cooldown_days}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def _merge(target: dict[str, Any], source: Mapping[str, Any], origins: dict[str, str], origin: str, prefix: str = "") -> None:
    """Deep-merge ``source`` into ``target``, remembering which file set each key."""
    for key, value in source.items():
        if not isinstance(key, str):
            raise ConfigError(f"{origin}: key {key!r} under {prefix or 'the top level'} must be a string")
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, origins, origin, path + ".")
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value
        origins[path] = origin


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: expected key.path=value, e.g. spark.master=local[4]")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


#: Sections whose keys themselves contain dots (Spark settings).
_FREEFORM_SECTIONS = ("spark.conf.",)


def _set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    for section in _FREEFORM_SECTIONS:
        if key.startswith(section):
            parents, leaf = section.rstrip(".").split("."), key[len(section):]
            break
    else:
        *parents, leaf = key.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
    node[leaf] = value


def _origin(origins: Mapping[str, str], key: str) -> str:
    probe = key
    while probe:
        if probe in origins:
            return origins[probe]
        probe = probe.rpartition(".")[0]
    return origins.get("", "config")


def _build(cls: type, doc: Any, prefix: str, origins: Mapping[str, str]) -> Any:
    """Build dataclass ``cls`` from ``doc`` strictly: unknown keys and wrong types fail."""
    where = prefix or "the top level"
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{_origin(origins, prefix)}: {where}: expected a mapping, got {doc!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in doc:
        if key not in fields:
            full = f"{prefix}.{key}" if prefix else key
            raise ConfigError(
                f"{_origin(origins, full)}: unknown key {full!r} (allowed under {where}: {', '.join(fields)})"
            )
    kwargs = {}
    for name, f in fields.items():
        full = f"{prefix}.{name}" if prefix else name
        if name not in doc:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{_origin(origins, prefix)}: missing required key {full!r}")
            continue
        kwargs[name] = _coerce(hints[name], doc[name], full, origins)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str, origins: Mapping[str, str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"{_origin(origins, key)}: {key}: expected {expected}, got {value!r}")

    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, origins)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, origins)
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(map(repr, args)))
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            fail("a list")
        return tuple(_coerce(args[0], v, f"{key}[{i}]", origins) for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            fail("a mapping")
        value_type = args[1] if len(args) == 2 else str
        if value_type is str:  # free-form settings: numbers and booleans become strings
            return types.MappingProxyType({str(k): _scalar_str(v, f"{key}.{k}", origins) for k, v in value.items()})
        return types.MappingProxyType({str(k): _coerce(value_type, v, f"{key}.{k}", origins) for k, v in value.items()})
    if hint is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug in this module


def _scalar_str(value: Any, key: str, origins: Mapping[str, str]) -> str:
    if isinstance(value, (Mapping, list)):
        raise ConfigError(f"{_origin(origins, key)}: {key}: expected a single value, got {value!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
