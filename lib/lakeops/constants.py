"""The facts every part of lakeops shares, each written once.

Standard library only: the CLI, the stages, the config schema and the Airflow
DAG files (at parse time) import it. What each fact means is documented here;
the code that acts on it imports the name.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

# ----------------------------------------------------------------------------- exit codes
#: The command (or job) did what was asked.
EXIT_OK: Final = 0
#: It failed, perhaps transiently (storage, Spark, MLflow): a retry may help.
EXIT_FAILED: Final = 1
#: A bad argument or config: fix the call, a retry will not help.
EXIT_USAGE: Final = 2
#: The data was refused (quality gate, schema, rows outside the partitions): a retry will not help.
EXIT_REFUSED: Final = 3

# ----------------------------------------------------------------------------- the champion gate
#: ``gate.mode``: ``disabled`` records the comparison and promotes nothing, ``dry_run``
#: records what it would do, ``enabled`` promotes a better challenger.
GATE_MODES: Final = ("disabled", "dry_run", "enabled")

# ----------------------------------------------------------------------------- models
#: ``problem_type`` of a model: what it predicts (lakeops.evaluate.problems says what each changes).
PROBLEM_TYPES: Final = ("binary", "regression", "multiclass")
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
#: The keys of a rule that only some kinds take (AlertKindSpec.keys).
ALERT_RULE_LIMITS: Final = ("below", "max_drop", "above", "max_rise_pct")
#: How a rule on a measured metric (an estimate, or a realised value of a day's labelled rows) treats
#: sampling: ``band`` meets its condition only when the metric's whole band (its +-3 standard errors at
#: the day's rows) lies beyond the threshold; ``point`` compares the value alone (the release before 0.5).
RULE_UNCERTAINTY: Final = ("band", "point")

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
STATUSES: Final = ("ok", "warn", "alert")
STATUS_LEVEL: Final = {status: level for level, status in enumerate(STATUSES)}

# ----------------------------------------------------------------------------- lake and SQL
#: ``lake.backend``: delta-rs commits of Spark-written files, or delta-spark itself.
BACKENDS: Final = ("embedded", "native")
#: Lake roots that are object-store prefixes, not folders.
OBJECT_SCHEMES: Final = ("s3://", "s3a://")
#: ``lakeops sql --engine``.
SQL_ENGINES: Final = ("duckdb", "spark")
#: ``lakeops sql --format``.
SQL_FORMATS: Final = ("table", "csv", "json")
#: ``lakeops score --engine``: ``auto`` picks lakeops' own forest scorer when the model allows.
SCORE_ENGINES: Final = ("auto", "xgboost")
#: How reason codes are computed (``score.reasons_method``; lakeops.score.reasons).
REASON_METHODS: Final = ("approx", "shap")
#: At most this many reason codes per row (``score.reasons``).
MAX_REASONS: Final = 10
#: Days per scoring chunk unless ``--chunk-days`` says otherwise.
DEFAULT_CHUNK_DAYS: Final = 31

# ----------------------------------------------------------------------------- data quality
#: Expectation kinds of a suite's config (lakeops.quality.expectations maps each to GX).
EXPECTATION_KINDS: Final = ("not_null", "between", "in_set", "unique", "row_count_between", "freshness")
#: ``policy`` of an expectation: ``fail`` stops the job, ``warn`` is recorded only.
EXPECTATION_POLICIES: Final = ("fail", "warn")

# ----------------------------------------------------------------------------- patterns
#: Table, schema, model, column and rule names.
NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: A partition day as users write it.
DS_PATTERN: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: An ml.alerts fingerprint (lakeops.alert.state.fingerprint).
FINGERPRINT_PATTERN: Final = re.compile(r"^[0-9a-f]{16}$")
