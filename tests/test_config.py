"""Config: base plus overlays, --set overrides, errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeops.config import load_settings
from lakeops.errors import ConfigError

CONF = Path(__file__).resolve().parents[1] / "conf"


def _conf(tmp_path: Path, settings: str = "", model: str | None = None, overlay: str | None = None) -> Path:
    base = tmp_path / "conf" / "base"
    (base / "models").mkdir(parents=True)
    (base / "lakeops.yaml").write_text(settings or "lake:\n  root: ./lh\n")
    if model is not None:
        (base / "models" / "m.yaml").write_text(model)
    (tmp_path / "sql").mkdir(exist_ok=True)
    (tmp_path / "sql" / "m.sql").write_text("select 1")
    if overlay is not None:
        (tmp_path / "conf" / "dev").mkdir()
        (tmp_path / "conf" / "dev" / "lakeops.yaml").write_text(overlay)
    return tmp_path / "conf"


GOOD_MODEL = """
name: m
entity_keys: [host_id]
sources: {observations: raw.telemetry, labels: raw.incidents}
label: y
features: {sql: sql/m.sql, numeric: [a, b], categorical: [c]}
"""


def test_project_config_loads():
    s = load_settings(conf_dir=CONF)
    assert s.lake.backend == "embedded" and s.lake.root == "./lakehouse"
    m = s.model("incident_risk")
    assert m.entity_keys == ("host_id",) and "latency_p95_ms" in m.features.numeric
    assert load_settings(conf_dir=CONF, env="test").spark.master == "local[2]"


def test_overlay_and_overrides_apply_in_order(tmp_path):
    conf = _conf(tmp_path, model=GOOD_MODEL, overlay="spark:\n  master: local[3]\n  shuffle_partitions: 3\n")
    s = load_settings(
        conf_dir=conf,
        env="dev",
        overrides=["spark.shuffle_partitions=5", "spark.conf.spark.executor.memory=2g", "models.m.label=z"],
        lake_root="/elsewhere",
    )
    assert (s.spark.master, s.spark.shuffle_partitions) == ("local[3]", 5)
    assert s.spark.conf["spark.executor.memory"] == "2g"
    assert s.model("m").label == "z"
    assert s.lake.root == "/elsewhere"


def test_settings_are_frozen():
    s = load_settings(conf_dir=CONF)
    with pytest.raises(AttributeError):
        s.lake.root = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.spark.conf["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("lake:\n  rooot: x\n", r"lakeops.yaml: unknown key 'lake.rooot'"),
        ("spark:\n  shuffle_partitions: many\n", r"lakeops.yaml: spark.shuffle_partitions: expected an integer"),
        ("lake:\n  backend: iceberg\n", r"lake.backend: expected one of 'embedded', 'native'"),
        ("lake: [1, 2]\n", r"lake: expected a mapping"),
        ("lake: {root: x\n", r"lakeops.yaml: not valid YAML"),
        ("colour: blue\n", r"lakeops.yaml: unknown key 'colour'"),
    ],
)
def test_bad_settings_name_file_and_key(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(conf_dir=_conf(tmp_path, settings))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (GOOD_MODEL.replace("label: y", "label: y\ncolour: red"), r"m.yaml: unknown key 'colour'"),
        (GOOD_MODEL.replace("name: m", "name: other"), r"must match the file name"),
        (GOOD_MODEL.replace("label: y\n", ""), r"m.yaml: missing required key 'label'"),
        (GOOD_MODEL.replace("[host_id]", "['../x']"), r"m.yaml: entity_keys: invalid column name"),
        (GOOD_MODEL.replace("raw.telemetry", "raw/../../etc"), r"sources.observations"),
        (GOOD_MODEL.replace("numeric: [a, b]", "numeric: a"), r"features.numeric: expected a list"),
        # Problems that used to surface only once Spark was running are config errors now.
        (GOOD_MODEL.replace("sql/m.sql", "sql/missing.sql"), r"m.yaml: features.sql: no file .*missing.sql"),
        (GOOD_MODEL.replace("sql/m.sql", "../../etc/passwd"), r"m.yaml: features.sql: .*escapes"),
        (GOOD_MODEL + "train: {params: {nthread: 4}}\n", r"m.yaml: train.params may not set \['nthread'\]"),
        (GOOD_MODEL + "train: {search: {space: {num_workers: [1, 2]}}}\n", r"train.search.space may not set"),
        (GOOD_MODEL + "key_types: {region: int64}\n", r"key_types: 'region' is not one of entity_keys"),
        (GOOD_MODEL + "key_types: {host_id: float}\n", r"key_types.host_id: expected one of"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: psi}]}\n", r"alerts.rules\[0\].when: expected one of"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: score_drifted, for_days: 3, of_days: 2}]}\n",
         r"m.yaml: alerts.rules\[0\] \(r\): need 1 <= for_days <= of_days"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: estimated_auc}]}\n", r"needs below or max_drop"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: data_quality, per_slice: true}]}\n",
         r"whole population only"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: data_quality}, {name: r, when: score_drifted}]}\n",
         r"alerts.rules\[1\] \(r\): another rule has this name"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: score_drifted, severity: page}]}\n",
         r"alerts.rules\[0\].severity: expected one of"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: realised_mae, above: 3}]}\n",
         r"realised_mae rules are for regression models; this one is binary"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: realised_auc, below: 0.7, max_drop: 0.1}]}\n",
         r"max_drop do\(es\) not apply to realised_auc \(it takes below\)"),
        (GOOD_MODEL + "problem_type: regression\nalerts: {rules: [{name: r, when: estimated_rmse}]}\n",
         r"needs above or max_rise_pct"),
        (GOOD_MODEL + "problem_type: ordinal\n", r"problem_type: expected one of"),
        (GOOD_MODEL + "problem_type: multiclass\n", r"m.yaml: a multiclass model needs at least 3 classes"),
        (GOOD_MODEL + "problem_type: multiclass\nclasses: [a, b]\n", r"a model of two classes is problem_type: binary"),
        (GOOD_MODEL + "problem_type: multiclass\nclasses: [a, b, a]\n", r"classes repeat a name"),
        (GOOD_MODEL + "problem_type: multiclass\nclasses: [a, b, 'Disk Full']\n", r"invalid class name"),
        (GOOD_MODEL + "classes: [a, b, c]\n", r"classes are for multiclass models; this one is binary"),
        (GOOD_MODEL + "problem_type: multiclass\nclasses: [a, b, c]\ngate: {thresholds: [{metric: recall_d, "
         "threshold: 0.1}]}\n", r"multiclass models have no metric 'recall_d'"),
        (GOOD_MODEL + "problem_type: multiclass\nclasses: [a, b, c]\nalerts: {rules: [{name: r, when: "
         "estimated_mae, above: 1}]}\n", r"estimated_mae rules are for regression models; this one is multiclass"),
        (GOOD_MODEL + "gate: {thresholds: [{metric: rmse, threshold: 1}]}\n",
         r"gate.thresholds\[0\] \(rmse\): binary models have no metric 'rmse'"),
        (GOOD_MODEL + "gate: {thresholds: [{metric: auc}]}\n",
         r"give threshold, min_absolute_change or min_relative_change"),
        (GOOD_MODEL + "gate: {min_auc: 0.7, thresholds: [{metric: auc, threshold: 0.7}]}\n",
         r"say them as gate.thresholds"),
        (GOOD_MODEL + "problem_type: regression\ngate: {max_auc_drop: 0.01}\n", r"the model is regression"),
        (GOOD_MODEL + "gate: {thresholds: [{metric: auc, threshold: 0.7, slice_key: region}]}\n",
         r"slice_key and slice_value go together"),
        (GOOD_MODEL + "train: {interval_coverage: 1.5}\n", r"train.interval_coverage"),
    ],
)
def test_bad_model_files_name_file_and_key(tmp_path, model, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(conf_dir=_conf(tmp_path, model=model))


def test_bad_overrides_and_envs(tmp_path):
    conf = _conf(tmp_path, model=GOOD_MODEL)
    with pytest.raises(ConfigError, match=r"--set spark.nope=1: unknown key 'spark.nope'"):
        load_settings(conf_dir=conf, overrides=["spark.nope=1"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_settings(conf_dir=conf, overrides=["spark.master"])
    with pytest.raises(ConfigError, match="unknown model"):
        load_settings(conf_dir=conf, overrides=["models.zzz.label=x"])
    with pytest.raises(ConfigError, match="unknown environment 'prod'"):
        load_settings(conf_dir=conf, env="prod")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        load_settings(conf_dir=conf).model("nope")
    with pytest.raises(ConfigError, match="no .*lakeops.yaml"):
        load_settings(conf_dir=tmp_path / "missing")


def _suite_conf(tmp_path: Path, suite: str, model: str = GOOD_MODEL) -> Path:
    conf = _conf(tmp_path, model=model)
    (conf / "base" / "quality").mkdir()
    (conf / "base" / "quality" / "s.yaml").write_text(suite)
    return conf


def test_project_suites_load_and_models_point_at_them():
    s = load_settings(conf_dir=CONF)
    model = s.model("incident_risk")
    raw = s.suite(model.quality.raw)
    assert any(e.kind == "unique" and e.columns == ("host_id",) and e.policy == "fail" for e in raw.expectations)
    assert any(e.kind == "row_count_between" and e.policy == "fail" for e in raw.expectations)


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ("name: s\nexpectations:\n  - {kind: nonsense}\n", r"s.yaml: expectations\[0\].kind: expected one of"),
        ("name: s\nexpectations:\n  - {kind: between, column: x}\n", r"needs 'min', 'max' or both"),
        ("name: s\nexpectations:\n  - {kind: in_set, column: x}\n", r"needs 'values'"),
        ("name: s\nexpectations:\n  - {kind: not_null, column: x, policy: maybe}\n", r"policy: expected one of"),
        ("name: s\nexpectations:\n  - {kind: not_null, column: x, mostly: 2}\n", r"mostly must be in"),
        ("name: s\nexpectations:\n  - {kind: unique, columns: [a;b]}\n", r"invalid column name"),
    ],
)
def test_bad_suites_name_file_and_key(tmp_path, suite, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(conf_dir=_suite_conf(tmp_path, suite))


def test_model_pointing_at_a_missing_suite(tmp_path):
    model = GOOD_MODEL + "quality: {raw: nope}\n"
    with pytest.raises(ConfigError, match=r"m.yaml: quality.raw: no suite 'nope'"):
        load_settings(conf_dir=_conf(tmp_path, model=model))


def test_train_params_keep_the_type_yaml_gave_them(tmp_path):
    from lakeops.train.fit import candidates

    model = GOOD_MODEL + ("train:\n  params: {grow_policy: lossguide, max_depth: 6, eta: 0.1, subsample: 1.0, use_x: true}\n"
                          "  search: {trials: 3, space: {max_depth: [3, 6.0], grow_policy: [depthwise, lossguide]}}\n")
    train = load_settings(conf_dir=_conf(tmp_path, model=model)).model("m").train
    assert dict(train.params) == {"grow_policy": "lossguide", "max_depth": 6, "eta": 0.1, "subsample": 1, "use_x": True}
    assert type(train.params["max_depth"]) is int and type(train.params["eta"]) is float
    # A whole float is an int (XGBoost refuses "6.0" for an integer parameter, takes 1 for a float one).
    assert train.search.space == {"max_depth": (3, 6), "grow_policy": ("depthwise", "lossguide")}
    trials = candidates(train)
    assert trials[0] == dict(train.params) and len(trials) == 3
    assert all(type(t["max_depth"]) is int and t["grow_policy"] in ("depthwise", "lossguide") for t in trials)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (GOOD_MODEL + "train: {params: {max_depth: [6]}}\n",
         r"m.yaml: train.params.max_depth: expected a number, a string or true/false, got \[6\]"),
        (GOOD_MODEL + "train: {search: {space: {max_depth: 6}}}\n", r"m.yaml: train.search.space.max_depth: expected a list"),
        (GOOD_MODEL + "train: {windows_days: 3}\n",
         r"m.yaml: unknown key 'train.windows_days' \(allowed under train: window_days,"),
        (GOOD_MODEL + "monitor: {columns: {a: {psi_warn: 0.1, psi_alrt: 0.3}}}\n",
         r"m.yaml: unknown key 'monitor.columns.a.psi_alrt' \(allowed under monitor.columns.a: psi_warn,"),
        (GOOD_MODEL + "train: {window_days: '28'}\n", r"m.yaml: train.window_days: expected an integer, got '28'"),
        (GOOD_MODEL + "train: {window_days: 28.0}\n", r"m.yaml: train.window_days: expected an integer, got 28.0"),
        (GOOD_MODEL + "alerts: {rules: [{name: r, when: score_drifted, retrain: 1}]}\n",
         r"m.yaml: alerts.rules\[0\].retrain: expected true or false, got 1"),
        (GOOD_MODEL + "gate: {min_auc: high}\n", r"m.yaml: gate.min_auc: expected a number, got 'high'"),
        (GOOD_MODEL + "gate: {mode: on}\n", r"m.yaml: gate.mode: expected one of 'disabled', 'dry_run', 'enabled', got True"),
        (GOOD_MODEL.replace("label: y", "label: 7"), r"m.yaml: label: expected a string, got 7"),
    ],
)
def test_unknown_keys_and_wrong_types_name_file_and_key(tmp_path, model, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(conf_dir=_conf(tmp_path, model=model))


def test_wrong_type_in_an_overlay_or_override_names_it(tmp_path):
    conf = _conf(tmp_path, model=GOOD_MODEL, overlay="spark:\n  shuffle_partitions: '4'\n")
    with pytest.raises(ConfigError, match=r"dev/lakeops.yaml: spark.shuffle_partitions: expected an integer, got '4'"):
        load_settings(conf_dir=conf, env="dev")
    with pytest.raises(ConfigError, match=r"--set models.m.train.num_workers=two: train.num_workers: expected an integer"):
        load_settings(conf_dir=conf, overrides=["models.m.train.num_workers=two"])


def test_numbers_where_numbers_belong(tmp_path):
    # An int is a number (YAML writes 1, not 1.0); free-form settings take numbers and booleans as text.
    settings = "lake:\n  root: ./lh\n  storage_options: {allow_http: true}\nspark:\n  conf: {spark.sql.shuffle.partitions: 4}\n"
    conf = _conf(tmp_path, settings, model=GOOD_MODEL + "gate: {min_auc: 1}\n")
    s = load_settings(conf_dir=conf)
    assert s.model("m").gate.min_auc == 1.0 and type(s.model("m").gate.min_auc) is float
    assert dict(s.lake.storage_options) == {"allow_http": "true"}
    assert dict(s.spark.conf) == {"spark.sql.shuffle.partitions": "4"}


def test_config_objects_are_frozen_and_replace_revalidates():
    import dataclasses

    s = load_settings(conf_dir=CONF)
    model = s.model("incident_risk")
    for obj, name in ((s, "env"), (model, "label"), (model.train, "params"), (model.train.search, "trials")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, getattr(obj, name))
    with pytest.raises(TypeError):
        model.train.params["max_depth"] = 3  # type: ignore[index]
    assert dataclasses.replace(model, label="z").label == "z"
    with pytest.raises(ValueError, match="valid integer"):  # pydantic's ValidationError is a ValueError
        dataclasses.replace(model.train, window_days="28")


def test_choices_match_lakeops_constants():
    from typing import get_args

    from lakeops import constants
    from lakeops.config import schema
    from lakeops.config.checks import EXPECTATION_NEEDS

    # The config's choices are the constants' Literals, whose tuples are taken from them.
    for literal, values in ((schema.Backend, constants.BACKENDS), (schema.GateMode, constants.GATE_MODES),
                            (schema.ExpectationKind, constants.EXPECTATION_KINDS),
                            (schema.ExpectationPolicy, constants.EXPECTATION_POLICIES),
                            (schema.ProblemTypeName, constants.PROBLEM_TYPES), (schema.Severity, constants.SEVERITIES),
                            (schema.Uncertainty, constants.RULE_UNCERTAINTY),
                            (schema.ReasonMethod, constants.REASON_METHODS)):
        assert get_args(literal) == values and values
    assert constants.EXPECTATION_KINDS == tuple(EXPECTATION_NEEDS)
    assert constants.PROBLEM_TYPES == tuple(constants.PROBLEM_METRICS)
    # Every kind of alert rule: declared once in constants, one judge each, the config's choices.
    from lakeops.alert.rules import JUDGES
    from lakeops.evaluate.problems import problem

    assert get_args(schema.AlertKind) == tuple(constants.ALERT_KINDS) == tuple(JUDGES)
    for name, kind in constants.ALERT_KINDS.items():
        assert set(kind.needs) <= set(kind.keys) <= set(constants.ALERT_RULE_LIMITS), name
    # The metrics a gate threshold may name are what each problem type's evaluation returns.
    for name, known in constants.PROBLEM_METRICS.items():
        assert problem(name).metrics == known and problem(name).name == name


def test_a_multiclass_model_names_its_classes_outputs_and_class_metrics(tmp_path):
    model = GOOD_MODEL + ("problem_type: multiclass\nclasses: [none, cpu, disk]\n"
                          "gate: {thresholds: [{metric: recall_disk, threshold: 0.2}, {metric: macro_f1, "
                          "min_absolute_change: -0.01}]}\n")
    m = load_settings(conf_dir=_conf(tmp_path, model=model)).model("m")
    assert m.classes == ("none", "cpu", "disk")
    # Drift watches the predicted class and each class's probability, as scoring names them.
    assert m.output_columns() == ("prediction", "score_none", "score_cpu", "score_disk")
    metrics = m.gate_metrics()
    assert metrics["recall_disk"] is True and metrics["logloss"] is False and "recall_gpu" not in metrics
    assert [t.metric for t in m.gate_thresholds] == ["recall_disk", "macro_f1"]
    # Without thresholds a multiclass model is gated on logloss and macro F1.
    plain = load_settings(conf_dir=_conf(tmp_path / "plain", model=GOOD_MODEL + "problem_type: multiclass\n"
                                         "classes: [a, b, c]\n")).model("m")
    assert [t.metric for t in plain.gate_thresholds] == ["logloss", "macro_f1"]
