"""Every table contract in one place: names, schemas, partitioning, contract versions.

- ``raw.*``: what the demo generator writes (a real deployment brings its own raw tables).
- ``features.<model>`` and ``predictions.<model>``: one table per model, built
  from its config (:func:`features_spec`, :func:`predictions_spec`), so models
  with different entity keys live side by side with their key types intact.
- ``ml.*``: what the stages record: data quality, job runs, baselines, gate decisions.

Two run ids never share a name: ``job_run_id`` is a lakeops job run (a row of
``ml.job_runs``), ``mlflow_run_id`` the MLflow run that produced a model.
SQL DDL for catalog users mirrors these in ``sql/ddl/``.

A contract changes by release: a spec's ``version`` goes up by one, and a column a
release adds goes at the end of the schema, nullable (``lakeops upgrade`` adds it to
existing tables; older rows read null). Any other change needs a rewrite of the table
(:mod:`lakeops.lake.evolution`). :func:`contracts` lists every table a lakehouse may hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops.lake.spec import TableSpec
from lakeops.names import TableName, validate_name

if TYPE_CHECKING:
    from datetime import date

    from lakeops.config import ModelConfig
    from lakeops.lake.base import Lake

UTC_TS = pa.timestamp("us", tz="UTC")

TELEMETRY = TableSpec(
    name=TableName.parse("raw.telemetry"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("host_id", pa.string()),
            ("region", pa.string()),
            ("service_tier", pa.string()),
            ("os_version", pa.string()),
            ("cpu_util_pct", pa.float64()),
            ("mem_util_pct", pa.float64()),
            ("disk_util_pct", pa.float64()),
            ("net_in_mbps", pa.float64()),
            ("net_out_mbps", pa.float64()),
            ("latency_p95_ms", pa.float64()),
            ("error_count", pa.int64()),
            ("restart_count", pa.int64()),
            ("gc_pause_ms", pa.float64()),
            ("open_connections", pa.int64()),
        ]
    ),
    partition_by=("ds",),
    description="One row per reporting host per day: daily aggregates of operational telemetry.",
)

INCIDENTS = TableSpec(
    name=TableName.parse("raw.incidents"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("incident_id", pa.string()),
            ("host_id", pa.string()),
            ("severity", pa.string()),
            ("opened_at", UTC_TS),
            # Contract v2 (0.4.0): what the incident was about (compute, memory, disk, network); null in
            # lakes generated before it.
            ("kind", pa.string()),
        ]
    ),
    partition_by=("ds",),
    version=2,
    description="One row per incident, partitioned by the day it was opened; arrives late.",
)

SCENARIO = TableSpec(
    name=TableName.parse("raw.scenario"),
    schema=pa.schema(
        [
            ("column_name", pa.string()),
            ("drift_kind", pa.string()),
            ("start_ds", pa.date32()),
            ("end_ds", pa.date32()),  # the first day without the drift (rolled back); null: it stays
            ("detail", pa.string()),
        ]
    ),
    description="Ground truth of the drift injected by `lakeops generate --drift-start`.",
)

RAW_TABLES = (TELEMETRY, INCIDENTS, SCENARIO)

# --------------------------------------------------------------------------- operations

DATA_QUALITY = TableSpec(
    name=TableName.parse("ml.data_quality"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("job_run_id", pa.string()),
            ("job", pa.string()),
            ("model_name", pa.string()),
            ("suite", pa.string()),
            ("stage", pa.string()),
            ("expectation", pa.string()),
            ("gx_expectation", pa.string()),
            ("column_name", pa.string()),
            ("policy", pa.string()),
            ("success", pa.bool_()),
            ("observed_value", pa.string()),
            ("checked_at", UTC_TS),
        ]
    ),
    partition_by=("ds",),
    description="One row per expectation per data-quality run and ds: what was checked, the outcome, "
    "what was observed. A log: reruns add rows under a new job_run_id.",
)

JOB_RUNS = TableSpec(
    name=TableName.parse("ml.job_runs"),
    schema=pa.schema(
        [
            ("job_run_id", pa.string()),
            ("job", pa.string()),
            ("model_name", pa.string()),
            ("ds_start", pa.date32()),
            ("ds_end", pa.date32()),
            ("status", pa.string()),
            ("rows_in", pa.int64()),
            ("rows_out", pa.int64()),
            ("seconds", pa.float64()),
            ("error_message", pa.string()),
            ("started_at", UTC_TS),
            ("finished_at", UTC_TS),
            # v2: the lakeops release that ran the job (null: a row written before 0.2.0).
            ("lakeops_version", pa.string()),
        ]
    ),
    description="One row per job run, successful or not, with the lakeops release that ran it.",
    version=2,
)

FEATURE_DAYS = TableSpec(
    name=TableName.parse("ml.feature_days"),
    schema=pa.schema(
        [
            ("model_name", pa.string()),
            ("ds", pa.date32()),
            ("lookback_days", pa.int32()),
            ("lookback_start", pa.date32()),  # ds - lookback_days: the first source day the features read
            ("source_days_expected", pa.int32()),  # lookback_days: the days lookback_start .. ds - 1
            ("source_days_present", pa.int32()),  # of those, partitions of sources.observations present
            ("lookback_complete", pa.bool_()),
            ("job_run_id", pa.string()),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="One row per model and prepared day: whether every source partition of the lookback window "
    "before it was present. Training leaves out days whose lookback was incomplete (warm-up values).",
)

# --------------------------------------------------------------------------- models

BASELINES = TableSpec(
    name=TableName.parse("ml.baselines"),
    schema=pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.int32()),
            ("column_name", pa.string()),
            ("column_type", pa.string()),  # numeric | categorical | score
            ("slice_key", pa.string()),  # null: the whole population; else the slice column (e.g. region)
            ("slice_value", pa.string()),  # the slice's value ("__other__", "__null__" for the buckets)
            ("bin_index", pa.int32()),  # -1: the null bucket
            ("lower", pa.float64()),  # numeric bins: (lower, upper]; the first is (-inf, upper]
            ("upper", pa.float64()),
            ("category", pa.string()),  # categorical bins; "__other__" and "__null__" are buckets
            ("count", pa.int64()),
            ("proportion", pa.float64()),
            ("baseline_rows", pa.int64()),
            ("ds_start", pa.date32()),
            ("ds_end", pa.date32()),
        ]
    ),
    partition_by=("model_name", "model_version"),
    description="Reference distributions frozen at training time, per model version, column and slice: "
    "bin edges or categories and the proportion of rows in each, so any PSI can be recomputed by hand.",
)

BASELINE_SKETCHES = TableSpec(
    name=TableName.parse("ml.baseline_sketches"),
    schema=pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.int32()),
            ("column_name", pa.string()),
            ("column_type", pa.string()),  # numeric | score
            ("slice_key", pa.string()),
            ("slice_value", pa.string()),
            ("edges", pa.list_(pa.float64())),  # e_0 < ... < e_{m-1}: bin j holds (e_{j-1}, e_j]
            ("counts", pa.list_(pa.int64())),  # m + 1 counts of non-null rows
            ("n", pa.int64()),  # non-null rows
            ("min", pa.float64()),
            ("max", pa.float64()),
        ]
    ),
    partition_by=("model_name", "model_version"),
    description="A fine grid (about a thousand quantiles) per numeric column of the training rows, and the "
    "rows in each cell: what KS and Wasserstein distances are computed against.",
)

#: One gate threshold's outcome in ``ml.model_validations.checks`` (lakeops.model_gate.decision.Check).
GATE_CHECK_FIELDS = [
    ("metric", pa.string()),
    ("slice_key", pa.string()),  # null: the whole holdout
    ("slice_value", pa.string()),
    ("higher_is_better", pa.bool_()),
    ("threshold", pa.float64()),
    ("min_absolute_change", pa.float64()),
    ("min_relative_change", pa.float64()),
    ("challenger", pa.float64()),
    ("champion", pa.float64()),
    ("rows", pa.int64()),  # labelled holdout rows of the population
    ("passed", pa.bool_()),  # null: not judged (a slice with too few rows)
    ("note", pa.string()),
]

MODEL_VALIDATIONS = TableSpec(
    name=TableName.parse("ml.model_validations"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("model_name", pa.string()),
            ("job_run_id", pa.string()),
            ("mode", pa.string()),
            ("challenger_version", pa.int32()),
            ("champion_version", pa.int32()),
            ("holdout_start", pa.date32()),
            ("holdout_end", pa.date32()),
            ("holdout_rows", pa.int64()),
            ("challenger_auc", pa.float64()),
            ("challenger_logloss", pa.float64()),
            ("challenger_pr_auc", pa.float64()),
            ("champion_auc", pa.float64()),
            ("champion_logloss", pa.float64()),
            ("champion_pr_auc", pa.float64()),
            ("challenger_brier", pa.float64()),  # calibrated scores: Brier is about probabilities
            ("champion_brier", pa.float64()),
            ("min_auc", pa.float64()),
            ("max_auc_drop", pa.float64()),
            ("max_logloss_increase_pct", pa.float64()),
            ("max_brier_increase_pct", pa.float64()),
            ("passed", pa.bool_()),
            ("decision", pa.string()),  # promoted | rejected | dry_run_pass | dry_run_fail | skipped
            ("reason", pa.string()),
            # The fingerprint of the ml.alerts alert whose retrain request trained the challenger (null: scheduled
            # or manual training). Read from the challenger's MLflow run tag lakeops.requested_by.
            ("requested_by", pa.string()),
            ("decided_at", UTC_TS),
            # Contract v2 (0.3.0): the gate of every problem type. The binary columns above stay filled
            # for binary models; these hold what any model's gate judged.
            ("problem_type", pa.string()),  # binary | regression; null: written before 0.3.0 (binary)
            # One element per gate threshold (gate.thresholds): the rule, both values and its outcome.
            ("checks", pa.list_(pa.struct(GATE_CHECK_FIELDS))),
            ("challenger_metrics", pa.list_(pa.struct([("metric", pa.string()), ("value", pa.float64())]))),
            ("champion_metrics", pa.list_(pa.struct([("metric", pa.string()), ("value", pa.float64())]))),
        ]
    ),
    partition_by=("ds",),
    version=2,
    description="One row per champion/challenger gate decision, with both models' holdout metrics and the "
    "outcome of every gate threshold.",
)


FEATURES_SCHEMA = "features"
PREDICTIONS_SCHEMA = "predictions"
SHADOW_SCHEMA = "shadow"

#: The label's type in ``features.<model>``, per problem type.
LABEL_TYPES = {"binary": pa.int32(), "regression": pa.float64(), "multiclass": pa.string()}
#: What scoring writes per row, per problem type (lakeops.evaluate.problems says the same; a test holds them equal).
OUTPUT_FIELDS: dict[str, list[tuple[str, pa.DataType]]] = {
    "binary": [
        ("score", pa.float64()),  # probability of the positive class
        ("prediction", pa.int32()),  # 1 when score >= the model's stored threshold
    ],
    "regression": [
        ("prediction", pa.float64()),  # the predicted value
        # The split-conformal interval (train.interval_coverage) around it.
        ("prediction_lower", pa.float64()),
        ("prediction_upper", pa.float64()),
    ],
    # Then one score_<class> column per class, in the config's order (class_score_fields): plain
    # columns read the same in Spark SQL and DuckDB, and drift watches each like any numeric column.
    "multiclass": [
        ("prediction", pa.string()),  # the class of the highest calibrated probability
        ("confidence", pa.float64()),  # that probability
    ],
}


def class_score_fields(classes: Sequence[str]) -> list[tuple[str, pa.DataType]]:
    """A multiclass model's per-class probability columns (``score_<class>``), in class order."""
    return [(f"score_{c}", pa.float64()) for c in classes]


def reason_fields(top: int) -> list[tuple[str, pa.DataType]]:
    """Per-row reason codes (``score.reasons``): ``reason_<i>``, the feature with the i-th largest
    contribution to the row's margin, and ``reason_<i>_contribution``, that signed contribution.
    Last in the table, so a model that starts storing them (or stores more) adds columns in place."""
    return [field for i in range(1, top + 1)
            for field in ((f"reason_{i}", pa.string()), (f"reason_{i}_contribution", pa.float64()))]

#: Arrow types an entity key column may declare (``entity_keys`` in a model's config).
KEY_TYPES = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "date": pa.date32()}


def features_table(model_name: str) -> str:
    """``features.<model>``: the model's feature table."""
    return f"{FEATURES_SCHEMA}.{validate_name(model_name, kind='model name')}"


def predictions_table(model_name: str) -> str:
    """``predictions.<model>``: the model's scores, one table per model."""
    return f"{PREDICTIONS_SCHEMA}.{validate_name(model_name, kind='model name')}"


def shadow_table(model_name: str) -> str:
    """``shadow.<model>``: a challenger's scores of days the champion served (shadow scoring)."""
    return f"{SHADOW_SCHEMA}.{validate_name(model_name, kind='model name')}"


def key_schema(model: ModelConfig) -> pa.Schema:
    """The model's entity key columns with their declared types."""
    return pa.schema([(key, KEY_TYPES[model.key_types.get(key, "string")]) for key in model.entity_keys])


def features_spec(model: ModelConfig) -> TableSpec:
    """The contract of ``features.<model>``, from the model's config."""
    fields = [pa.field("ds", pa.date32()), *key_schema(model)]
    fields += [pa.field(c, pa.string()) for c in model.features.categorical]
    fields += [pa.field(c, pa.float64()) for c in model.features.numeric]
    # A class label is an int (binary: 0/1), a regression label a number.
    # Multiclass: the class's name, one of the config's classes.
    fields.append(pa.field(model.label, LABEL_TYPES[model.problem_type]))
    return TableSpec(
        name=TableName.parse(features_table(model.name)),
        schema=pa.schema(fields),
        partition_by=("ds",),
        description=f"Features and label of model {model.name}, one row per {', '.join(model.entity_keys)} and ds.",
    )


# --------------------------------------------------------------------------- monitoring
# Partitioned by (model_name, ds): a monitoring run replaces exactly its model's days.

_MONITOR_KEY = [
    ("ds", pa.date32()),
    ("model_name", pa.string()),
    ("model_version", pa.int32()),
    ("column_name", pa.string()),
    ("column_type", pa.string()),  # numeric | categorical | score
]

DRIFT_COUNTS = TableSpec(
    name=TableName.parse("ml.drift_counts"),
    schema=pa.schema(
        [
            *_MONITOR_KEY,
            ("slice_key", pa.string()),
            ("slice_value", pa.string()),
            ("n_rows", pa.int64()),
            ("n_null", pa.int64()),
            # One count per ml.baselines bucket, in bin_index order with the null bucket (-1) last.
            ("bin_counts", pa.list_(pa.int64())),
            # Numeric columns: counts of non-null rows on the ml.baseline_sketches grid.
            ("sketch_counts", pa.list_(pa.int64())),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="The day's rows per frozen baseline bucket, per column and slice: with ml.baselines, "
    "every PSI is recomputable, and consecutive drift reads yesterday's counts, not yesterday's data.",
)

DRIFT_METRICS = TableSpec(
    name=TableName.parse("ml.drift_metrics"),
    schema=pa.schema(
        [
            *_MONITOR_KEY,
            ("baseline_id", pa.string()),  # <model>/v<version> (baseline) or the previous ds (consecutive)
            ("drift_type", pa.string()),  # baseline | consecutive
            ("slice_key", pa.string()),  # null: the whole population
            ("slice_value", pa.string()),
            ("n_current", pa.int64()),
            ("n_baseline", pa.int64()),
            ("psi", pa.float64()),
            # The no-drift 99.9th percentile of PSI at these sizes; status warns or alerts only above it.
            ("psi_noise_floor", pa.float64()),
            ("ks_stat", pa.float64()),  # numeric: on the sketch grid; the exact KS is in [ks_stat, ks_stat + ks_bound]
            ("ks_bound", pa.float64()),
            ("js_distance", pa.float64()),
            ("wasserstein", pa.float64()),  # numeric, whole population: exact value within +- wasserstein_bound
            ("wasserstein_bound", pa.float64()),
            ("chi2_pvalue", pa.float64()),  # categorical
            ("null_rate_current", pa.float64()),
            ("null_rate_baseline", pa.float64()),
            ("status", pa.string()),  # ok | warn | alert
            ("warn_threshold", pa.float64()),
            ("alert_threshold", pa.float64()),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="Population-stability drift per model, day, column and slice, against the training baseline "
    "and against the previous monitored day, with the thresholds that decided the status.",
)

PROFILE_METRICS = TableSpec(
    name=TableName.parse("ml.profile_metrics"),
    schema=pa.schema(
        [
            *_MONITOR_KEY,
            ("count", pa.int64()),
            ("nulls", pa.int64()),
            ("distinct_approx", pa.int64()),
            ("zeros", pa.int64()),
            ("mean", pa.float64()),
            ("stddev", pa.float64()),
            ("min", pa.float64()),
            ("max", pa.float64()),
            ("p05", pa.float64()),
            ("p25", pa.float64()),
            ("p50", pa.float64()),
            ("p75", pa.float64()),
            ("p95", pa.float64()),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="A profile of every monitored column per model and day (whole population): counts, moments, "
    "range and quantiles (from the sketch grid, within one grid cell).",
)


PERFORMANCE_REFERENCE = TableSpec(
    name=TableName.parse("ml.performance_reference"),
    schema=pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.int32()),
            ("holdout_start", pa.date32()),
            ("holdout_end", pa.date32()),
            ("holdout_rows", pa.int64()),
            ("threshold", pa.float64()),
            ("calibration_slope", pa.float64()),  # score = sigmoid(slope * margin + intercept)
            ("calibration_intercept", pa.float64()),
            ("auc", pa.float64()),  # on the holdout, calibrated scores
            ("f1", pa.float64()),
            ("precision", pa.float64()),
            ("recall", pa.float64()),
            ("ece", pa.float64()),
            ("ece_uncalibrated", pa.float64()),
            # Standard deviation of each metric over bootstrap resamples of the holdout (holdout_rows
            # rows); at n rows it is sd * sqrt(holdout_rows / n): the width of the estimate's band.
            ("auc_sd", pa.float64()),
            ("f1_sd", pa.float64()),
            ("precision_sd", pa.float64()),
            ("recall_sd", pa.float64()),
            # Contract v2 (0.3.0): regression models (null for binary ones).
            ("problem_type", pa.string()),  # binary | regression; null: written before 0.3.0 (binary)
            ("mae", pa.float64()),  # on the holdout
            ("rmse", pa.float64()),
            ("r2", pa.float64()),
            ("label_mean", pa.float64()),
            # Standard deviation of the per-row absolute and squared errors on the holdout: what the
            # DLE estimate's band at n rows is made from (lakeops.evaluate.regression.DleReference).
            ("abs_error_sd", pa.float64()),
            ("squared_error_sd", pa.float64()),
            ("interval_coverage_target", pa.float64()),  # train.interval_coverage
            ("interval_half_width", pa.float64()),  # the split-conformal half-width from the holdout
            ("dle_mae", pa.float64()),  # the direct-loss estimate of the holdout's MAE: its check at training
            ("dle_rmse", pa.float64()),
            # Contract v3 (0.4.0): multiclass models. auc, f1, precision and recall (and their _sd) are then
            # macro averages over the classes, one-vs-rest.
            ("classes", pa.list_(pa.string())),  # in the booster's order
            ("accuracy", pa.float64()),
            ("logloss", pa.float64()),
            ("accuracy_sd", pa.float64()),
            ("calibration_temperature", pa.float64()),  # probabilities = softmax(margin / temperature)
            # CBPE's estimate of the holdout's accuracy, macro AUC and macro F1 from its probabilities
            # alone: how far the estimator can be trusted for this version (its check at training).
            ("cbpe_accuracy", pa.float64()),
            ("cbpe_auc", pa.float64()),
            ("cbpe_f1", pa.float64()),
        ]
    ),
    partition_by=("model_name", "model_version"),
    version=3,
    description="Each model version's holdout quality at training time and the sampling variation of its "
    "metrics: what performance estimates and their bands are built from.",
)

PERFORMANCE_METRICS = TableSpec(
    name=TableName.parse("ml.performance_metrics"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("model_name", pa.string()),
            ("model_version", pa.int32()),  # the version that scored the day
            ("kind", pa.string()),  # realised (from labels) | estimated (CBPE, from calibrated scores only)
            ("slice_key", pa.string()),  # null: the whole population
            ("slice_value", pa.string()),
            ("n_scored", pa.int64()),
            ("n_labeled", pa.int64()),
            ("label_coverage", pa.float64()),  # n_labeled / n_scored
            ("positive_rate", pa.float64()),  # realised: labelled rows' rate; estimated: mean score
            ("threshold", pa.float64()),  # the model's decision threshold
            ("auc", pa.float64()),
            ("pr_auc", pa.float64()),
            ("logloss", pa.float64()),
            ("brier", pa.float64()),
            ("ece", pa.float64()),  # expected calibration error over 10 equal-width score bins
            ("precision", pa.float64()),
            ("recall", pa.float64()),
            ("f1", pa.float64()),
            # Estimated rows: expected value +- 3 sampling standard errors at n_scored rows.
            ("auc_lower", pa.float64()),
            ("auc_upper", pa.float64()),
            ("f1_lower", pa.float64()),
            ("f1_upper", pa.float64()),
            # Realised rows, once the day is fully labelled: did the realised value fall within
            # the estimated band (null: no estimate, or labels still missing).
            ("estimated_auc", pa.float64()),
            ("estimated_f1", pa.float64()),
            ("auc_in_band", pa.bool_()),
            ("f1_in_band", pa.bool_()),
            ("features_version", pa.int64()),  # realised: the features table version the labels came from
            # Contract v2 (0.3.0): regression models (null for binary ones). Realised rows: from the labels;
            # estimated rows: direct loss estimation (DLE) from features and predictions, with a band.
            ("mae", pa.float64()),
            ("rmse", pa.float64()),
            ("r2", pa.float64()),
            ("bias", pa.float64()),  # mean of prediction - label
            ("mape", pa.float64()),  # over rows whose label is not 0
            ("interval_coverage", pa.float64()),  # share of labels inside the stored interval
            ("label_mean", pa.float64()),
            ("prediction_mean", pa.float64()),
            ("mae_lower", pa.float64()),
            ("mae_upper", pa.float64()),
            ("rmse_lower", pa.float64()),
            ("rmse_upper", pa.float64()),
            # Realised rows: DLE's estimate over the same labelled rows, and whether the realised value is in its band.
            ("estimated_mae", pa.float64()),
            ("estimated_rmse", pa.float64()),
            ("mae_in_band", pa.bool_()),
            ("rmse_in_band", pa.bool_()),
            # Contract v3 (0.4.0): multiclass models, whose auc, precision, recall and f1 above are macro
            # averages over the classes (one-vs-rest; per class in ml.class_metrics) and logloss the
            # multiclass one; positive_rate and threshold are null.
            ("accuracy", pa.float64()),
            ("weighted_f1", pa.float64()),  # F1 per class weighted by its (expected) rows
            ("accuracy_lower", pa.float64()),
            ("accuracy_upper", pa.float64()),
            ("estimated_accuracy", pa.float64()),
            ("accuracy_in_band", pa.bool_()),
        ]
    ),
    partition_by=("model_name", "ds"),
    version=3,
    description="Model quality per model, day and slice: realised metrics from the labels that have arrived "
    "(recomputed when late labels change a day) and CBPE estimates from calibrated scores, with a band.",
)

_QUALITY_KEY = [
    ("ds", pa.date32()),
    ("model_name", pa.string()),
    ("model_version", pa.int32()),
    ("kind", pa.string()),  # realised | estimated, as in ml.performance_metrics
    ("slice_key", pa.string()),  # null: the whole population
    ("slice_value", pa.string()),
]

CLASS_METRICS = TableSpec(
    name=TableName.parse("ml.class_metrics"),
    schema=pa.schema(
        [
            *_QUALITY_KEY,
            ("class_name", pa.string()),
            ("support", pa.float64()),  # realised: labelled rows of the class; estimated: expected rows
            ("predicted", pa.int64()),  # rows predicted as the class
            ("precision", pa.float64()),  # one-vs-rest
            ("recall", pa.float64()),
            ("f1", pa.float64()),
            ("auc", pa.float64()),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="Multiclass models' quality per class, day and slice, one-vs-rest: realised from the labels, "
    "estimated by CBPE from the calibrated class probabilities (its macro averages are in ml.performance_metrics).",
)

CONFUSION_MATRIX = TableSpec(
    name=TableName.parse("ml.confusion_matrix"),
    schema=pa.schema(
        [
            *_QUALITY_KEY,
            ("actual", pa.string()),
            ("predicted", pa.string()),
            ("rows", pa.float64()),  # realised: a count; estimated: the expected count (CBPE)
        ]
    ),
    partition_by=("model_name", "ds"),
    description="Multiclass models' confusion matrix per day and slice, one row per (actual, predicted) class: "
    "counted from the labels (realised) or expected from the calibrated probabilities (estimated).",
)

ATTRIBUTION_REFERENCE = TableSpec(
    name=TableName.parse("ml.attribution_reference"),
    schema=pa.schema(
        [
            ("model_name", pa.string()),
            ("model_version", pa.int32()),
            ("feature", pa.string()),
            ("mean_abs_shap", pa.float64()),  # mean |SHAP| (margin units, XGBoost pred_contribs) on the sample
            ("share", pa.float64()),  # of the version's total mean |SHAP|
            ("rank", pa.int32()),  # 1: the feature that drives the score most
            ("n_rows", pa.int64()),  # sampled training rows (a hash of keys and ds)
        ]
    ),
    partition_by=("model_name", "model_version"),
    description="Each model version's feature attribution at training time: mean |SHAP| per feature on a "
    "seeded sample of its training rows, frozen with the version; what attribution drift compares against.",
)

ATTRIBUTION_DRIFT = TableSpec(
    name=TableName.parse("ml.attribution_drift"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("model_name", pa.string()),
            ("model_version", pa.int32()),  # the version that scored the day, whose booster explains it
            ("feature", pa.string()),
            ("mean_abs_shap", pa.float64()),  # on the day's sample
            ("share", pa.float64()),
            ("rank", pa.int32()),
            ("reference_mean_abs_shap", pa.float64()),  # ml.attribution_reference of the version
            ("reference_share", pa.float64()),
            ("reference_rank", pa.int32()),
            ("rank_change", pa.int32()),  # reference_rank - rank: positive, the feature moved up
            ("share_change", pa.float64()),  # share - reference_share
            ("mover", pa.int32()),  # 1..5: the day's top movers by |share_change|; null otherwise
            ("ndcg", pa.float64()),  # the day's nDCG of the live ranking against the reference (repeated)
            ("status", pa.string()),  # ok | alert (ndcg below threshold)
            ("threshold", pa.float64()),
            ("n_rows", pa.int64()),  # sampled rows of the day
        ]
    ),
    partition_by=("model_name", "ds"),
    description="Attribution drift per model, day and feature: mean |SHAP| on a seeded sample of the day "
    "against the training reference of the version that scored it, the rank and share changes, the top movers "
    "and the day's nDCG (SageMaker Clarify's, over all features), flagged below the threshold.",
)


_OUTPUT_DESCRIPTIONS = {
    "binary": "the score, the 0/1 decision at the model's threshold",
    "regression": "the prediction and its interval",
    "multiclass": "the predicted class, its probability and every class's probability",
}


def predictions_spec(model_name: str, keys: pa.Schema, problem_type: str = "binary",
                     classes: Sequence[str] = (), reasons: int = 0) -> TableSpec:
    """``predictions.<model>`` for a model whose entity key columns are ``keys`` (e.g. ``host_id: string``).

    One table per model: each model's keys keep their own names and types, and
    rescoring a day replaces one partition of one model's table. ``model_name``
    is kept as a column so that rows from several models can be unioned.
    """
    return TableSpec(
        name=TableName.parse(predictions_table(model_name)),
        schema=pa.schema(
            [
                ("ds", pa.date32()),
                ("model_name", pa.string()),
                ("model_version", pa.int32()),
                *[(f.name, f.type) for f in keys],
                *OUTPUT_FIELDS[problem_type],
                *class_score_fields(classes),
                ("mlflow_run_id", pa.string()),  # the MLflow run that produced the model version
                *reason_fields(reasons),
            ]
        ),
        partition_by=("ds",),
        description=f"One row per entity and day scored by model {model_name}: "
        + _OUTPUT_DESCRIPTIONS[problem_type] + " and the model version. Re-scoring a ds partition replaces it.",
    )


def shadow_spec(model_name: str, keys: pa.Schema, problem_type: str = "binary",
                classes: Sequence[str] = (), reasons: int = 0) -> TableSpec:
    """``shadow.<model>``: the columns of ``predictions.<model>``, written by a challenger scoring days
    beside the champion (``lakeops score --shadow``) while the champion's scores stay the ones served."""
    served = predictions_spec(model_name, keys, problem_type, classes, reasons)
    return TableSpec(name=TableName.parse(shadow_table(model_name)), schema=served.schema,
                     partition_by=served.partition_by,
                     description=f"One row per entity and day scored by a challenger of model {model_name} beside "
                     "the champion (shadow scoring): the same columns as its predictions table; not served. "
                     "Re-scoring a ds partition replaces it.")


# --------------------------------------------------------------------------- alerts

ALERTS = TableSpec(
    name=TableName.parse("ml.alerts"),
    schema=pa.schema(
        [
            ("ds", pa.date32()),
            ("model_name", pa.string()),
            ("model_version", pa.int32()),  # the version that scored the day
            ("rule", pa.string()),  # the rule's name in the model's config (alerts.rules)
            ("kind", pa.string()),  # what it watches: features_drifted | score_drifted | estimated_auc | ...
            ("slice_key", pa.string()),  # null: the whole population
            ("slice_value", pa.string()),
            ("fingerprint", pa.string()),  # stable per (model, rule, slice), across days and episodes
            ("state", pa.string()),  # pending | firing | resolved
            ("severity", pa.string()),  # info | warning | critical
            ("met", pa.bool_()),  # the rule's condition held on this day
            ("value", pa.float64()),  # what the condition looked at (e.g. features at alert, an AUC, an nDCG)
            ("threshold", pa.float64()),
            ("first_seen", pa.date32()),  # the first day of this episode (pending or firing)
            ("firing_since", pa.date32()),  # null while pending
            ("last_seen", pa.date32()),  # the last day the condition held
            ("quiet_days", pa.int32()),  # firing: monitored days since the rule was last active
            ("summary", pa.string()),
            ("evidence", pa.string()),  # JSON: the values that decided it
            ("retrain_requested", pa.bool_()),  # this day's firing asked for a retrain
            ("notification", pa.string()),  # sent | failed | none (no transition or no receiver)
            ("notification_attempts", pa.int32()),
            ("notification_error", pa.string()),
        ]
    ),
    partition_by=("model_name", "ds"),
    description="Alert state per model, day, rule and slice (a row while pending, firing, and on the day it "
    "resolves), with the evidence, a stable fingerprint, whether it asked for a retrain and what the receivers "
    "answered. Rerunning a day replaces that day's rows with the same ones.",
)


#: The lakehouse-wide tables: every model shares them.
SHARED_TABLES = (
    *RAW_TABLES, DATA_QUALITY, JOB_RUNS, FEATURE_DAYS, BASELINES, BASELINE_SKETCHES, MODEL_VALIDATIONS,
    DRIFT_COUNTS, DRIFT_METRICS, PROFILE_METRICS, PERFORMANCE_REFERENCE, PERFORMANCE_METRICS, CLASS_METRICS,
    CONFUSION_MATRIX,
    ATTRIBUTION_REFERENCE, ATTRIBUTION_DRIFT, ALERTS,
)


def monitored_days(lake: Lake, model_name: str) -> set[date]:
    """The days of ``model_name`` that monitoring measured: its partitions of ``ml.drift_counts`` (the log only)."""
    if not lake.exists(DRIFT_COUNTS.name):
        return set()
    return {p["ds"] for p in lake.partitions(DRIFT_COUNTS.name) if p["model_name"] == model_name}


def model_contracts(model: ModelConfig) -> list[TableSpec]:
    """The tables of one model: ``features.<model>``, ``predictions.<model>`` and ``shadow.<model>``."""
    keys, reasons = key_schema(model), model.score.reasons
    return [features_spec(model), predictions_spec(model.name, keys, model.problem_type, model.classes, reasons),
            shadow_spec(model.name, keys, model.problem_type, model.classes, reasons)]


def contracts(models: Iterable[ModelConfig]) -> list[TableSpec]:
    """Every table contract of a lakehouse serving ``models``: the shared tables, then each model's own."""
    return [*SHARED_TABLES, *(spec for model in models for spec in model_contracts(model))]
