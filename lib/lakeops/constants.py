"""The facts every part of lakeops shares, each written once: its vocabulary.

Standard library only: the CLI, the stages, the config schema and the Airflow
DAG files (at parse time) import it. What each fact means is documented here;
the code that acts on it imports the name. A closed set of words is a ``Literal``
(what type checkers and the config schema see) and the tuple of its values, taken from it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, NamedTuple, get_args

# ----------------------------------------------------------------------------- exit codes
#: The command (or job) did what was asked.
EXIT_OK: Final = 0
#: It failed, perhaps transiently (storage, Spark, MLflow): a retry may help.
EXIT_FAILED: Final = 1
#: A bad argument or config: fix the call, a retry will not help.
EXIT_USAGE: Final = 2
#: The data was refused (quality gate, schema, rows outside the partitions): a retry will not help.
EXIT_REFUSED: Final = 3

# ----------------------------------------------------------------------------- the model gate
#: ``gate.mode`` of the model gate (challenger against champion): ``disabled`` promotes without
#: comparing, ``dry_run`` records what it would do, ``enabled`` promotes a better challenger.
GateMode = Literal["disabled", "dry_run", "enabled"]
GATE_MODES: Final = get_args(GateMode)
#: ``decision`` of ``ml.model_validations``: what the model gate did with a challenger.
GateDecision = Literal["promoted", "rejected", "dry_run_pass", "dry_run_fail", "skipped"]
GATE_DECISIONS: Final = get_args(GateDecision)

# ----------------------------------------------------------------------------- models
#: ``problem_type`` of a model: what it predicts (lakeops.evaluate.problems says what each changes).
ProblemTypeName = Literal["binary", "regression", "multiclass"]
PROBLEM_TYPES: Final = get_args(ProblemTypeName)
#: Per problem type, the metrics of a holdout the champion gate's thresholds may name, and
#: whether a higher value is better.
PROBLEM_METRICS: Final = {
    "binary": {"auc": True, "pr_auc": True, "logloss": False, "brier": False, "ece": False, "f1": True,
               "precision": True, "recall": True},
    "regression": {"mae": False, "rmse": False, "r2": True, "mape": False},
    # auc: the macro average of the one-vs-rest AUCs.
    "multiclass": {"accuracy": True, "macro_f1": True, "weighted_f1": True, "auc": True, "logloss": False},
}
#: Per problem type, the columns of ``predictions.<model>`` that are the model's output, which drift
#: watches beside the features (a multiclass model's ``prediction`` is its class; each class's
#: probability, ``score_<class>`` (CLASS_SCORE_PREFIX), is watched too).
OUTPUT_COLUMNS: Final = {"binary": ("score",), "regression": ("prediction",), "multiclass": ("prediction",)}
CLASS_SCORE_PREFIX: Final = "score_"
#: Multiclass metrics of one class, named ``<metric>_<class>`` in a gate threshold (``recall_disk``).
CLASS_METRICS: Final = {"precision": True, "recall": True, "f1": True}
#: A multiclass model's classes: at least this many (two classes are a binary model).
MIN_CLASSES: Final = 3

# ----------------------------------------------------------------------------- alert rules
#: Every kind of alert rule (``alerts.rules[].when``), declared once: the problem types it
#: applies to, the optional keys it takes, which of them it needs (at least one), and whether
#: it may be judged per slice. lakeops.config.checks enforces this; lakeops.alert.rules has one
#: judge per kind (a test holds the two equal, and the config's Literal).
class AlertKindSpec(NamedTuple):
    """What one kind of alert rule applies to and takes (see :data:`ALERT_KINDS`)."""

    problems: tuple[str, ...]
    keys: tuple[str, ...]
    needs: tuple[str, ...]
    per_slice: bool


AlertKind = Literal["features_drifted", "score_drifted", "estimated_auc", "realised_auc", "estimated_accuracy",
                    "realised_accuracy", "class_recall", "estimated_mae", "realised_mae", "estimated_rmse",
                    "realised_rmse", "interval_coverage", "data_quality", "attribution_drift"]
ALERT_KINDS: Final[dict[str, AlertKindSpec]] = {
    "features_drifted": AlertKindSpec(problems=PROBLEM_TYPES, keys=(), needs=(), per_slice=True),
    "score_drifted": AlertKindSpec(problems=PROBLEM_TYPES, keys=(), needs=(), per_slice=True),
    # Multiclass: the macro one-vs-rest AUC.
    "estimated_auc": AlertKindSpec(problems=("binary", "multiclass"), keys=("below", "max_drop"),
                      needs=("below", "max_drop"), per_slice=True),
    "realised_auc": AlertKindSpec(problems=("binary", "multiclass"), keys=("below",), needs=("below",),
                     per_slice=True),
    "estimated_accuracy": AlertKindSpec(problems=("multiclass",), keys=("below", "max_drop"),
                           needs=("below", "max_drop"), per_slice=True),
    "realised_accuracy": AlertKindSpec(problems=("multiclass",), keys=("below", "max_drop"),
                          needs=("below", "max_drop"), per_slice=True),
    # Multiclass: a class whose realised recall is below ``below`` (one alert per class).
    "class_recall": AlertKindSpec(problems=("multiclass",), keys=("below",), needs=("below",), per_slice=False),
    "estimated_mae": AlertKindSpec(problems=("regression",), keys=("above", "max_rise_pct"),
                      needs=("above", "max_rise_pct"), per_slice=True),
    "realised_mae": AlertKindSpec(problems=("regression",), keys=("above", "max_rise_pct"),
                     needs=("above", "max_rise_pct"), per_slice=True),
    "estimated_rmse": AlertKindSpec(problems=("regression",), keys=("above", "max_rise_pct"),
                       needs=("above", "max_rise_pct"), per_slice=True),
    "realised_rmse": AlertKindSpec(problems=("regression",), keys=("above", "max_rise_pct"),
                      needs=("above", "max_rise_pct"), per_slice=True),
    "interval_coverage": AlertKindSpec(problems=("regression",), keys=("below",), needs=("below",), per_slice=True),
    "data_quality": AlertKindSpec(problems=PROBLEM_TYPES, keys=(), needs=(), per_slice=False),
    "attribution_drift": AlertKindSpec(problems=PROBLEM_TYPES, keys=("below",), needs=(), per_slice=False),
}
#: ``state`` of an ``ml.alerts`` row: its condition holds but not yet for ``for_days`` (pending),
#: it holds (firing), it held and no longer does (resolved).
AlertState = Literal["pending", "firing", "resolved"]
ALERT_STATES: Final = get_args(AlertState)
#: ``severity`` of an alert rule, mildest first.
Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final = get_args(Severity)
#: The keys of a rule that only some kinds take (AlertKindSpec.keys).
ALERT_RULE_LIMITS: Final = ("below", "max_drop", "above", "max_rise_pct")
#: How a rule on a measured metric (an estimate, or a realised value of a day's labelled rows) treats
#: sampling: ``band`` meets its condition only when the metric's whole band (its +-3 standard errors at
#: the day's rows) lies beyond the threshold; ``point`` compares the value alone (the release before 0.5).
Uncertainty = Literal["band", "point"]
RULE_UNCERTAINTY: Final = get_args(Uncertainty)

# ----------------------------------------------------------------------------- monitoring
#: ``column_type`` of a monitored column (ml.baselines, ml.drift_metrics ...): a numeric or categorical
#: feature, or the model's output: a numeric ``score`` (a probability, a prediction) or the predicted
#: ``class`` of a multiclass model (categorical).
COLUMN_TYPES: Final = ("numeric", "categorical", "score", "class")
#: The column types of the model's output: score drift watches them, feature drift the others.
OUTPUT_COLUMN_TYPES: Final = ("score", "class")
#: The column types counted per category rather than on numeric bins.
CATEGORICAL_COLUMN_TYPES: Final = ("categorical", "class")
#: Drift and alert statuses, mildest first: a worse status has a higher index.
Status = Literal["ok", "warn", "alert"]
STATUSES: Final = get_args(Status)
STATUS_LEVEL: Final = {status: level for level, status in enumerate(STATUSES)}
#: ``drift_type`` of ``ml.drift_metrics``: a day against the model version's training baseline, or
#: against the day monitored before it.
DriftType = Literal["baseline", "consecutive"]
DRIFT_TYPES: Final = get_args(DriftType)
BASELINE_DRIFT, CONSECUTIVE_DRIFT = DRIFT_TYPES
#: ``kind`` of an ``ml.performance_metrics`` row (the score kind): measured on labelled rows
#: (realised), or estimated from the scores before labels arrive (CBPE, DLE).
ScoreKind = Literal["realised", "estimated"]
SCORE_KINDS: Final = get_args(ScoreKind)
REALISED, ESTIMATED = SCORE_KINDS

# ----------------------------------------------------------------------------- lake and SQL
#: ``lake.backend``: delta-rs commits of Spark-written files, or delta-spark itself.
Backend = Literal["embedded", "native"]
BACKENDS: Final = get_args(Backend)
#: Lake roots that are object-store prefixes, not folders.
OBJECT_SCHEMES: Final = ("s3://", "s3a://")
#: ``lakeops sql --engine``.
SQL_ENGINES: Final = ("duckdb", "spark")
#: ``lakeops sql --format``.
SQL_FORMATS: Final = ("table", "csv", "json")
#: ``lakeops score --engine``: ``auto`` picks lakeops' own forest scorer when the model allows.
SCORE_ENGINES: Final = ("auto", "xgboost")
#: How reason codes are computed (``score.reasons_method``; lakeops.score.reasons).
ReasonMethod = Literal["approx", "shap"]
REASON_METHODS: Final = get_args(ReasonMethod)
#: At most this many reason codes per row (``score.reasons``).
MAX_REASONS: Final = 10
#: Days per scoring chunk unless ``--chunk-days`` says otherwise.
DEFAULT_CHUNK_DAYS: Final = 31

# ----------------------------------------------------------------------------- data quality
#: Expectation kinds of a suite's config (lakeops.data_quality.expectations maps each to GX).
ExpectationKind = Literal["not_null", "between", "in_set", "unique", "row_count_between", "freshness"]
EXPECTATION_KINDS: Final = get_args(ExpectationKind)
#: ``policy`` of an expectation: ``fail`` stops the job, ``warn`` is recorded only.
ExpectationPolicy = Literal["fail", "warn"]
EXPECTATION_POLICIES: Final = get_args(ExpectationPolicy)

# ----------------------------------------------------------------------------- patterns
#: Table, schema, model, column and rule names.
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: A partition day as users write it.
DS_PATTERN: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: An ml.alerts fingerprint (lakeops.alert.state.fingerprint).
FINGERPRINT_PATTERN: Final = re.compile(r"^[0-9a-f]{16}$")
