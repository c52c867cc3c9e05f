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
from lakeops.constants import ALERT_KINDS, ALERT_RULE_LIMITS, MAX_REASONS, MIN_CLASSES
from lakeops.errors import ConfigError, InvalidParameterError
from lakeops.names import TableName, path_under, validate_name

#: Where a dotted key was set: a file's path, ``--set key=value`` or ``--lake``.
Origin = Callable[[str], str]

#: What each kind of expectation needs (see lakeops.data_quality.expectations).
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
        outputs = model.output_columns()
        if col and col not in (*model.features.numeric, *model.features.categorical, *outputs):
            raise ConfigError(f"{origin(where)}: {where}: {col!r} is not a feature of the model "
                              f"(or its output: {', '.join(outputs)})")
        if not 0 < limits.psi_warn <= limits.psi_alert or not 0 < limits.null_rate_warn <= limits.null_rate_alert:
            raise ConfigError(f"{origin(where)}: {where}: need 0 < psi_warn <= psi_alert and "
                              "0 < null_rate_warn <= null_rate_alert")
    if not 0 < model.monitor.attribution_ndcg_alert <= 1 or model.monitor.attribution_sample_rows < 1:
        raise ConfigError(f"{origin('monitor')}: monitor: need 0 < attribution_ndcg_alert <= 1 and "
                          "attribution_sample_rows >= 1")
    check_alerts(model, origin=origin)
    check_gate(model, origin=origin)
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
    check_classes(model, origin=origin)
    for col in (*model.features.numeric, *model.features.categorical):
        check(col, "features")


def check_classes(model: ModelConfig, *, origin: Origin) -> None:
    """A multiclass model names at least MIN_CLASSES distinct classes, each usable as a column name
    (scoring writes ``score_<class>``); other models name none."""
    if model.problem_type != "multiclass":
        if model.classes:
            raise ConfigError(f"{origin('classes')}: classes are for multiclass models; this one is "
                              f"{model.problem_type}")
        return
    if len(model.classes) < MIN_CLASSES:
        raise ConfigError(f"{origin('classes')}: a multiclass model needs at least {MIN_CLASSES} classes, got "
                          f"{list(model.classes)} (a model of two classes is problem_type: binary)")
    if len(set(model.classes)) != len(model.classes):
        raise ConfigError(f"{origin('classes')}: classes repeat a name: {list(model.classes)}")
    for name in model.classes:
        try:
            validate_name(name, kind="class name")
        except InvalidParameterError as exc:
            raise ConfigError(f"{origin('classes')}: {exc} (a class names its score_<class> column)") from None


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
        kind = ALERT_KINDS[rule.when]
        if model.problem_type not in kind.problems:
            fail(f"{rule.when} rules are for {' and '.join(kind.problems)} models; this one is {model.problem_type}")
        given = [k for k in ALERT_RULE_LIMITS if getattr(rule, k) is not None]
        if extra := [k for k in given if k not in kind.keys]:
            fail(f"{', '.join(extra)} do(es) not apply to {rule.when}"
                 + (f" (it takes {', '.join(kind.keys)})" if kind.keys else ""))
        if kind.needs and not given:
            fail(f"a {rule.when} rule needs {' or '.join(kind.needs)}")
        if rule.per_slice and not kind.per_slice:
            fail(f"{rule.when} is judged for the whole population only (per_slice: false)")
        if rule.per_slice and not model.monitor.slices:
            fail("per_slice needs monitor.slices")
    if model.train.calibration_min_positives < 0 or not 2 <= model.train.calibration_folds <= 20:
        raise ConfigError(f"{origin('train.calibration_folds')}: train.calibration_min_positives must be at least 0 "
                          f"and train.calibration_folds between 2 and 20, got {model.train.calibration_min_positives} "
                          f"and {model.train.calibration_folds}")
    if (w := model.alerts.retrain_change_weight) is not None and not 1 <= w <= 1000:
        raise ConfigError(f"{origin('alerts.retrain_change_weight')}: alerts.retrain_change_weight must be between "
                          f"1 and 1000 (or left out: balanced), got {w}")
    if not 0 <= model.score.reasons <= min(MAX_REASONS, len(model.features.numeric) + len(model.features.categorical)):
        raise ConfigError(f"{origin('score.reasons')}: score.reasons must be between 0 (none) and {MAX_REASONS}, "
                          f"and at most the number of features, got {model.score.reasons}")
    wait = model.alerts.retrain_after_labelled_days
    if wait is not None and not (wait == 0 or model.train.holdout_days < wait <= model.train.window_days):
        raise ConfigError(f"{origin('alerts.retrain_after_labelled_days')}: alerts.retrain_after_labelled_days must "
                          f"be 0 (ask at once) or more than train.holdout_days={model.train.holdout_days} (so the new "
                          f"version fits some days of the change) and at most train.window_days="
                          f"{model.train.window_days}, got {wait}")
    if not 1 <= model.alerts.retrain_cooldown_days <= 366:
        raise ConfigError(f"{origin('alerts.retrain_cooldown_days')}: alerts.retrain_cooldown_days must "
                          f"be between 1 and 366, got {model.alerts.retrain_cooldown_days}")


def check_gate(model: ModelConfig, *, origin: Origin) -> None:
    """A model's gate rules: metrics its problem type has, slices it monitors, one way of saying them."""
    gate = model.gate
    if gate.legacy and (gate.thresholds or model.problem_type != "binary"):
        why = "gate.thresholds is given" if gate.thresholds else f"the model is {model.problem_type}"
        raise ConfigError(f"{origin('gate')}: gate: min_auc, max_auc_drop, max_logloss_increase_pct and "
                          f"max_brier_increase_pct are the binary gate of earlier releases, but {why}: "
                          "say them as gate.thresholds")
    known = model.gate_metrics()
    for i, t in enumerate(gate.thresholds):
        where = f"{origin('gate.thresholds')}: gate.thresholds[{i}] ({t.metric})"
        if t.metric not in known:
            raise ConfigError(f"{where}: {model.problem_type} models have no metric {t.metric!r}; "
                              f"known: {', '.join(known)}")
        if t.threshold is None and t.min_absolute_change is None and t.min_relative_change is None:
            raise ConfigError(f"{where}: give threshold, min_absolute_change or min_relative_change")
        if bool(t.slice_key) != bool(t.slice_value):
            raise ConfigError(f"{where}: slice_key and slice_value go together")
        if t.slice_key and t.slice_key not in model.features.categorical:
            raise ConfigError(f"{where}: slice_key {t.slice_key!r} is not one of the categorical features "
                              f"{list(model.features.categorical)}")


def check_quality_suites(model: ModelConfig, *, suites: Collection[str], origin: Origin, conf_dir: Path) -> None:
    """The suites a model's ``quality`` names exist."""
    for stage in ("raw", "features"):
        suite_name = getattr(model.quality, stage)
        if suite_name and suite_name not in suites:
            raise ConfigError(f"{origin('quality.' + stage)}: quality.{stage}: no suite {suite_name!r} "
                              f"under {conf_dir}/*/{QUALITY_DIR}/")
