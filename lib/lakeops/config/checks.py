"""Checks over the built config that one field's type cannot express.

A key that needs another (``between`` needs ``min`` or ``max``), names that must
be valid column, table or rule names, the feature SQL file that must exist,
ranges and orderings (``for_days <= of_days``). Each check raises
:class:`~lakeops.errors.ConfigError` naming the file (or ``--set``) and the key;
``origin`` maps a dotted key to where it was set (see :mod:`lakeops.config.loading`).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Collection
from pathlib import Path

from lakeops.config.schema import QUALITY_DIR, ExpectationConfig, ModelConfig, SuiteConfig
from lakeops.errors import ConfigError, InvalidParameterError
from lakeops.names import TableName, path_under, validate_name

#: Where a dotted key was set: a file's path, ``--set key=value`` or ``--lake``.
Origin = Callable[[str], str]

#: What each kind of expectation needs (see lakeops.quality.expectations).
EXPECTATION_NEEDS: typing.Final = {
    "not_null": ("column",),
    "between": ("column",),
    "in_set": ("column", "values"),
    "unique": ("columns",),
    "row_count_between": (),
    "freshness": ("column",),
}

#: XGBoost parameters lakeops sets itself; ``train.params`` and ``train.search.space`` may not.
RESERVED_TRAIN_PARAMS = frozenset(
    {"num_workers", "features_col", "label_col", "validation_indicator_col", "missing", "n_jobs", "nthread"}
)


def check_suite(suite: SuiteConfig, *, path: str) -> None:
    """A data-quality suite read from ``path``: each of its expectations."""
    for i, expectation in enumerate(suite.expectations):
        check_expectation(expectation, where=f"{path}: expectations[{i}]")


def check_expectation(e: ExpectationConfig, *, where: str) -> None:
    """One expectation of a suite; ``where`` is its file and position (``s.yaml: expectations[0]``)."""
    for need in EXPECTATION_NEEDS[e.kind]:
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


def check_model(model: ModelConfig, *, origin: Origin, project_dir: Path) -> None:
    """A model: its names, sources, feature SQL file, monitoring limits and alert rules."""

    def check(value: str, key: str) -> None:
        try:
            validate_name(value, kind="column name")
        except InvalidParameterError as exc:
            raise ConfigError(f"{origin(key)}: {key}: {exc}") from None

    for key in model.key_types:
        if key not in model.entity_keys:
            raise ConfigError(f"{origin('key_types')}: key_types: {key!r} is not one of entity_keys "
                              f"{list(model.entity_keys)}")
    for col in model.monitor.slices:
        if col not in model.features.categorical:
            raise ConfigError(f"{origin('monitor.slices')}: monitor.slices: {col!r} is not one of the "
                              f"categorical features {list(model.features.categorical)}")
    for col, limits in (("", model.monitor.thresholds), *model.monitor.columns.items()):
        where = f"monitor.columns.{col}" if col else "monitor.thresholds"
        if col and col not in (*model.features.numeric, *model.features.categorical, "score"):
            raise ConfigError(f"{origin(where)}: {where}: {col!r} is not a feature of the model (or score)")
        if not 0 < limits.psi_warn <= limits.psi_alert or not 0 < limits.null_rate_warn <= limits.null_rate_alert:
            raise ConfigError(f"{origin(where)}: {where}: need 0 < psi_warn <= psi_alert and "
                              "0 < null_rate_warn <= null_rate_alert")
    if not 0 < model.monitor.attribution_ndcg_alert <= 1 or model.monitor.attribution_sample_rows < 1:
        raise ConfigError(f"{origin('monitor')}: monitor: need 0 < attribution_ndcg_alert <= 1 and "
                          "attribution_sample_rows >= 1")
    check_alerts(model, origin=origin)
    for section, keys in (("train.params", model.train.params), ("train.search.space", model.train.search.space)):
        bad = sorted(RESERVED_TRAIN_PARAMS & set(keys))
        if bad:
            raise ConfigError(f"{origin(section)}: {section} may not set {bad}: lakeops sets them")
    try:
        sql = path_under(project_dir, *Path(model.features.sql).parts)
    except InvalidParameterError as exc:
        raise ConfigError(f"{origin('features.sql')}: features.sql: {exc}") from None
    if not sql.is_file():
        raise ConfigError(f"{origin('features.sql')}: features.sql: no file {sql} "
                          "(the path is relative to the folder that holds conf/)")

    for table_key in ("observations", "labels"):
        try:
            TableName.parse(getattr(model.sources, table_key))
        except InvalidParameterError as exc:
            raise ConfigError(f"{origin('sources.' + table_key)}: sources.{table_key}: {exc}") from None
    if not 0 <= model.label_delay_days <= 366:
        raise ConfigError(f"{origin('label_delay_days')}: label_delay_days must be between 0 and 366, "
                          f"got {model.label_delay_days}")
    if not model.entity_keys:
        raise ConfigError(f"{origin('entity_keys')}: entity_keys must name at least one column")
    for key in model.entity_keys:
        check(key, "entity_keys")
    check(model.label, "label")
    for col in (*model.features.numeric, *model.features.categorical):
        check(col, "features")


def check_alerts(model: ModelConfig, *, origin: Origin) -> None:
    """A model's alert rules: names, windows, and the keys each kind of rule takes."""
    names = set()
    for i, rule in enumerate(model.alerts.rules):
        key = f"alerts.rules[{i}]"

        def fail(message: str, key: str = key, name: str = rule.name) -> typing.NoReturn:
            raise ConfigError(f"{origin('alerts')}: {key} ({name}): {message}")

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
        raise ConfigError(f"{origin('alerts.retrain_cooldown_days')}: alerts.retrain_cooldown_days must "
                          f"be between 1 and 366, got {model.alerts.retrain_cooldown_days}")


def check_quality_suites(model: ModelConfig, *, suites: Collection[str], origin: Origin, conf_dir: Path) -> None:
    """The suites a model's ``quality`` names exist."""
    for stage in ("raw", "features"):
        suite_name = getattr(model.quality, stage)
        if suite_name and suite_name not in suites:
            raise ConfigError(f"{origin('quality.' + stage)}: quality.{stage}: no suite {suite_name!r} "
                              f"under {conf_dir}/*/{QUALITY_DIR}/")
