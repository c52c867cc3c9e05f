"""Train a model: window, search, evaluation, registration, baselines.

Reads ``features.<model>`` (at one Delta version, recorded on the run) and
``ml.data_quality``. Writes an MLflow run (nested runs per trial) and a new
registered model version with the alias ``challenger``, ``ml.baselines``,
``ml.baseline_sketches``, ``ml.performance_reference`` and ``ml.attribution_reference``
(mean |SHAP| per feature on a seeded sample of the fit rows) for that version, and
``ml.job_runs``.

What differs by problem type (``problem_type`` in the model's config):

- binary: scores are calibrated (:mod:`lakeops.evaluate.calibration`): the booster trains
  with ``scale_pos_weight`` for ranking, and a Platt calibrator fitted on the validation
  rows turns its margin into a probability; holdout figures before and after are logged
  (``holdout_uncalibrated_*`` and ``holdout_*``). Trials are compared on validation AUC.
- regression: the booster predicts the value; trials are compared on validation RMSE;
  a split-conformal interval and a direct-loss estimator are fitted after the search
  (:mod:`lakeops.train.regression`).
- multiclass: the booster predicts a margin per class (``multi:softprob``); trials are
  compared on validation logloss; temperature scaling is fitted after the search
  (:mod:`lakeops.train.multiclass`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.evaluate import attribution, binary, metrics
from lakeops.evaluate.binary import sampling_reference
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode
from lakeops.evaluate.estimator_check import check_estimator
from lakeops.evaluate.interval import Conformal
from lakeops.evaluate.multiclass import Temperature
from lakeops.evaluate.problems import Output, problem
from lakeops.evaluate.scoring import labels_and_margins, score_frame
from lakeops.lake.tables import (
    ATTRIBUTION_REFERENCE,
    BASELINE_SKETCHES,
    BASELINES,
    OUTPUT_FIELDS,
    PERFORMANCE_REFERENCE,
    class_score_fields,
    features_table,
)
from lakeops.runs import JobRun, job_run
from lakeops.train import cross_fit
from lakeops.train import multiclass as multiclass_training
from lakeops.train import regression as regression_training
from lakeops.train.baselines import freeze_baselines
from lakeops.train.categories import fit_categories
from lakeops.train.data import (
    VALIDATION,
    WEIGHT,
    TrainingDataError,
    TrainingWindow,
    change_began,
    change_weight,
    choose_window,
    holdout_frame,
    training_frame,
)
from lakeops.train.fit import best_trial, candidates, check_workers, fit

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

    from lakeops.lake import Lake

log = logging.getLogger(__name__)

#: Fit rows brought to the driver at most for cross-fitting the calibrator (a window this large has
#: validation positives enough).
CROSS_FIT_MAX_ROWS = 500_000
#: A retrain calibrates on the change's rows alone when they hold at least this many positives.
MIN_CHANGE_POSITIVES = 50

JOB = "train"


@dataclass(frozen=True)
class TrainResult:
    model_name: str
    version: int
    mlflow_run_id: str
    threshold: float
    #: Binary: :class:`metrics.Evaluation`; regression: MAE, RMSE, R2 ... by name.
    validation: Any
    holdout: Any
    train_days: tuple[date, ...]
    holdout_days: tuple[date, ...]
    features_version: int
    #: The holdout's figures in one line, for the CLI and the demo.
    summary: str = ""


def config_hash(model: ModelConfig) -> str:
    """A stable fingerprint of the model's whole config (its frozen dataclass repr)."""
    return hashlib.sha256(repr(model).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingData:
    """The window's rows as the trials see them (``rows`` and ``encoded`` cached for the run)."""

    rows: DataFrame  # labelled rows of the training days, with the validation flag
    fit_rows: DataFrame  # those the boosters fit (not flagged for validation)
    encoded: DataFrame  # ``rows`` encoded for XGBoost: features, label and flag
    label: str
    features: list[str]
    categories: dict[str, list[str]]
    positives: int  # of the fit rows (binary; regression: every fit row counts as one)
    negatives: int
    problem_type: str = "binary"

    @property
    def fit_rows_count(self) -> int:
        return self.positives + self.negatives

    @property
    def scale_pos_weight(self) -> float | None:
        """Binary: the class weight the booster trains with; regression: None."""
        if self.problem_type != "binary":
            return None
        return self.negatives / self.positives if self.positives else 1.0

    def margins(self, df: DataFrame, booster: xgboost.Booster) -> tuple[np.ndarray, np.ndarray]:
        """Labels and the booster's margins on ``df`` (raw rows, encoded the way the trials saw them)."""
        return labels_and_margins(df, booster, label=self.label, features=self.features, categories=self.categories)


@dataclass(frozen=True)
class Trial:
    """The winning trial: its parameters, booster, and labels and margins on the validation rows."""

    params: dict[str, Any]
    booster: xgboost.Booster
    #: Binary: uncalibrated, at threshold 0.5; what trials are compared on (its trial metric).
    validation: dict[str, float]
    y: np.ndarray
    margin: np.ndarray


@dataclass(frozen=True)
class Judged:
    """The winner calibrated on the validation rows and judged on the untouched holdout."""

    calibration: Platt
    threshold: float
    validation: metrics.Evaluation
    holdout: metrics.Evaluation
    uncalibrated: metrics.Evaluation  # the holdout through the booster's own sigmoid
    holdout_y: np.ndarray
    holdout_p: np.ndarray


def train(lake: Lake, model: ModelConfig, *, ds: date, mlflow_cfg: MlflowConfig, code_version: str,
          requested_by: str | None = None) -> TrainResult:
    """Train ``model`` on the labelled window ending at ``ds`` and register it as challenger.

    ``requested_by`` is the fingerprint of the alert whose retrain request asked for this
    training (an ``ml.alerts`` row); it is tagged on the MLflow run, and the gate copies it
    into ``ml.model_validations``.
    """
    import mlflow

    cfg = model.train
    with job_run(lake, job=JOB, model=model.name, days=[ds]) as run:
        threads = check_workers(lake.spark, cfg.num_workers)
        window = choose_window(lake, model, ds)
        began = change_began(lake, model, requested_by=requested_by, ds=ds)
        if began is not None:
            window = replace(window, change_began=began)
            window = replace(window, change_weight=change_weight(window, weight=model.alerts.retrain_change_weight))
            log.info("%s: a retrain of the change since %s: its %d fit day(s) weigh %.3g each", model.name, began,
                     sum(d >= began for d in window.train_days), window.change_weight)
        data = _training_data(run, lake, model, window)
        run.rows_in = data.fit_rows_count

        registry.setup(mlflow_cfg, lake.root)
        experiment = registry.experiment_for(model.name, lake.root)
        with mlflow.start_run(experiment_id=experiment, run_name=f"train {ds}") as parent:
            mlflow.set_tags(_lineage(model, window, ds, code_version, run.job_run_id)
                            | ({registry.TAG_REQUESTED_BY: requested_by} if requested_by else {}))
            weight = data.scale_pos_weight
            mlflow.log_params({"train_rows": run.rows_in, "problem_type": model.problem_type, "num_workers": cfg.num_workers,
                               "threads_per_worker": threads, "features": ",".join(data.features)}
                              | ({"positives": data.positives, "scale_pos_weight": round(weight, 4)}
                                 if weight is not None else {})
                              | ({"change_began": window.change_began.isoformat(),
                                  "change_weight": round(window.change_weight, 4)} if window.change_began else {}))
            best = _search(data, model, experiment)
            if model.problem_type == "regression":
                return _finish_regression(lake, model, window, data, best, run.job_run_id, parent.info.run_id, run)
            if model.problem_type == "multiclass":
                return _finish_multiclass(lake, model, window, data, best, run.job_run_id, parent.info.run_id, run)
            judged = _judge(lake, model, window, data, best)
            example = data.rows.select(*data.features).limit(5).toPandas()  # raw rows: the pyfunc model's input
            version = registry.log_model(best.booster, model_name=model.name, example=example,
                                         threshold=judged.threshold, features=data.features,
                                         categories=data.categories, calibration=judged.calibration)
            reference = performance_reference(model.name, version, window, judged.holdout_y, judged.holdout_p,
                                              judged.holdout, judged.uncalibrated, judged.calibration)
            _record_estimator_check(model.name, version, reference.to_pylist()[0])
            run.rows_out = _write_references(lake, model, version, window, data, best, judged.calibration,
                                             reference, run.job_run_id)
            # Only a version with its baselines in place becomes the challenger.
            registry.set_alias(model.name, registry.CHALLENGER, version)
            log.info("%s version %d registered as %s: holdout AUC %.4f, threshold %.4f, calibration error %.4f "
                     "(%.4f uncalibrated)", model.name, version, registry.CHALLENGER, judged.holdout.auc,
                     judged.threshold, judged.holdout.ece, judged.uncalibrated.ece)
            h = judged.holdout
            summary = (f"holdout AUC {h.auc:.4f}, PR-AUC {h.pr_auc:.4f}, logloss {h.logloss:.4f}, "
                       f"threshold {judged.threshold:.4f}")
            return TrainResult(model.name, version, parent.info.run_id, judged.threshold, judged.validation,
                               judged.holdout, window.train_days, window.holdout_days, window.features_version,
                               summary)


def _finish_regression(lake: Lake, model: ModelConfig, window: TrainingWindow, data: TrainingData, best: Trial,
                       job_run_id: str, mlflow_run_id: str, run: JobRun) -> TrainResult:
    """A regression winner: interval and direct-loss estimator, then registration."""
    import mlflow

    def rows(df: DataFrame) -> regression_training.Rows:
        return regression_training.driver_rows(df, best.booster, label=model.label, features=data.features,
                                               categories=data.categories)

    validation = rows(data.rows.where(data.rows[VALIDATION]))
    holdout = rows(holdout_frame(lake, model, window.holdout_days, version=window.features_version))
    judged = regression_training.judge(validation=validation, holdout=holdout, coverage=model.train.interval_coverage,
                                       seed=model.train.search.seed)
    mlflow.log_params({f"interval_{k}": v for k, v in judged.interval.as_dict().items()})
    mlflow.log_metrics({"holdout_dle_mae": judged.dle_holdout.mae, "holdout_dle_rmse": judged.dle_holdout.rmse})
    h = judged.holdout
    summary = (f"holdout RMSE {h['rmse']:.4g}, MAE {h['mae']:.4g}, R2 {h['r2']:.3f}, "
               f"{100 * judged.interval.coverage:.0f}% interval +-{judged.interval.half_width:.4g} "
               f"(covers {100 * h['interval_coverage']:.1f}%)")
    return _register(lake, model, window, data, best, output=judged.interval, reference=judged.reference_row(),
                     validation=judged.validation, holdout=judged.holdout, summary=summary,
                     extras={registry.ARTIFACT_DLE: judged.dle.to_bytes()}, job_run_id=job_run_id,
                     mlflow_run_id=mlflow_run_id, run=run)


def _finish_multiclass(lake: Lake, model: ModelConfig, window: TrainingWindow, data: TrainingData, best: Trial,
                       job_run_id: str, mlflow_run_id: str, run: JobRun) -> TrainResult:
    """A multiclass winner: temperature scaling and CBPE's check on the holdout, then registration."""
    import mlflow

    holdout = multiclass_training.driver_rows(
        holdout_frame(lake, model, window.holdout_days, version=window.features_version), label=model.label,
        features=data.features, categories=data.categories, classes=model.classes)
    judged = multiclass_training.judge(validation_y=best.y, validation_margin=best.margin, holdout=holdout,
                                       booster=best.booster,
                                       classes=model.classes, seed=model.train.search.seed)
    mlflow.log_params({"calibration_temperature": judged.calibration.temperature})
    mlflow.log_metrics({f"holdout_cbpe_{k}": v for k, v in (("accuracy", judged.cbpe.accuracy),
                                                             ("auc", judged.cbpe.auc), ("f1", judged.cbpe.macro_f1))
                        if v == v})
    h = judged.holdout
    summary = (f"holdout accuracy {h['accuracy']:.4f}, macro F1 {h['macro_f1']:.4f}, macro AUC {h['auc']:.4f}, "
               f"logloss {h['logloss']:.4f} (temperature {judged.calibration.temperature:.3f})")
    return _register(lake, model, window, data, best, output=judged.calibration,
                     reference=judged.reference_row(model.classes), validation=judged.validation,
                     holdout=judged.holdout, summary=summary, job_run_id=job_run_id, mlflow_run_id=mlflow_run_id,
                     run=run)


def _register(lake: Lake, model: ModelConfig, window: TrainingWindow, data: TrainingData, best: Trial, *,
              output: Output, reference: dict[str, Any], validation: dict[str, float], holdout: dict[str, float],
              summary: str, job_run_id: str, mlflow_run_id: str, run: JobRun,
              extras: dict[str, bytes] | None = None) -> TrainResult:
    """Log a judged winner (regression, multiclass), register it, write its references, make it the challenger."""
    import mlflow

    mlflow.log_params({f"best_{k}": v for k, v in best.params.items()})
    mlflow.log_metrics({f"val_{k}": v for k, v in validation.items() if v == v})
    mlflow.log_metrics({f"holdout_{k}": v for k, v in holdout.items() if v == v})
    mlflow.log_dict(data.categories, registry.ARTIFACT_CATEGORIES)
    example = data.rows.select(*data.features).limit(5).toPandas()  # raw rows: the pyfunc model's input
    version = registry.log_model(best.booster, model_name=model.name, example=example, threshold=0.0,
                                 features=data.features, categories=data.categories, calibration=output,
                                 problem_type=model.problem_type, extras=extras)
    row = {"model_name": model.name, "model_version": version, "holdout_start": window.holdout_days[0],
           "holdout_end": window.holdout_days[-1], **reference}
    _record_estimator_check(model.name, version, row)
    run.rows_out = _write_references(lake, model, version, window, data, best, output,
                                     pa.Table.from_pylist([row], schema=PERFORMANCE_REFERENCE.schema), job_run_id)
    # Only a version with its baselines in place becomes the challenger.
    registry.set_alias(model.name, registry.CHALLENGER, version)
    log.info("%s version %d registered as %s: %s", model.name, version, registry.CHALLENGER, summary)
    return TrainResult(model.name, version, mlflow_run_id, 0.0, validation, holdout, window.train_days,
                       window.holdout_days, window.features_version, summary)


def _record_estimator_check(model_name: str, version: int, reference: dict[str, Any]) -> None:
    """Log the estimator's check on the holdout (:mod:`lakeops.evaluate.estimator_check`) to MLflow and
    the log: the reference row holds both sides, so monitoring and the report judge it the same way."""
    import mlflow

    check = check_estimator(reference)
    if check.trusted is None:
        return
    mlflow.set_tag(registry.TAG_ESTIMATOR_CHECK, "passed" if check.trusted else "failed")
    mlflow.log_metrics({f"holdout_estimated_{g.metric}": g.estimated for g in check.gaps})
    (log.info if check.trusted else log.warning)("%s version %d: %s%s", model_name, version, check.summary(),
                                                 "" if check.trusted else
                                                 "; rules on its estimates will abstain, realised rules still watch")


def _training_data(run: JobRun, lake: Lake, model: ModelConfig, window: TrainingWindow) -> TrainingData:
    """The window's rows, categories frozen on the fit rows, and the class balance (two frames cached)."""
    cfg = model.train
    # Cached for the run: every trial reads the encoded rows, and the rows come back for scoring.
    rows = run.cache(training_frame(lake, model, window, seed=cfg.search.seed))
    fit_rows = rows.where(~rows[VALIDATION])
    categories = fit_categories(fit_rows, model.features.categorical, max_categories=cfg.max_categories)
    features = [*model.features.numeric, *model.features.categorical]
    if model.problem_type == "multiclass":
        return _multiclass_data(run, model, rows, fit_rows, categories, features)
    encoded = run.cache(encode(rows, categories).select(*features, model.label, VALIDATION, WEIGHT))
    if model.problem_type != "binary":
        return TrainingData(rows, fit_rows, encoded, model.label, features, categories, fit_rows.count(), 0,
                            model.problem_type)
    counts = {r[0]: r[1] for r in fit_rows.groupBy(model.label).count().collect()}
    return TrainingData(rows, fit_rows, encoded, model.label, features, categories, counts.get(1, 0),
                        counts.get(0, 0))


def _multiclass_data(run: JobRun, model: ModelConfig, rows: DataFrame, fit_rows: DataFrame,
                     categories: dict[str, list[str]], features: list[str]) -> TrainingData:
    """A multiclass window: labels numbered by class; refused when a label is not a class or a class has
    no fit row."""
    label = multiclass_training.class_index(model.label, model.classes)
    encoded = run.cache(encode(rows, categories).select(*features, label.alias(model.label), VALIDATION, WEIGHT))
    counts = {r[0]: r[1] for r in encoded.where(~encoded[VALIDATION]).groupBy(model.label).count().collect()}
    if counts.get(-1.0):
        unknown = [r[0] for r in rows.where(label < 0).select(model.label).distinct().limit(5).collect()]
        raise TrainingDataError(
            f"{counts[-1.0]} labelled row(s) of {features_table(model.name)} have a {model.label} that is not one "
            f"of the classes {list(model.classes)}, e.g. {unknown}: add it to classes, or fix the feature SQL")
    if missing := multiclass_training.missing_classes(counts, model.classes):
        raise TrainingDataError(
            f"class(es) {missing} of {model.name} have no labelled row to fit in the training window: train on "
            "more labelled days (train.window_days), or drop the class from classes")
    return TrainingData(rows, fit_rows, encoded, model.label, features, categories, sum(counts.values()), 0,
                        model.problem_type)


def _search(data: TrainingData, model: ModelConfig, experiment: str) -> Trial:
    """Fit every candidate (a nested MLflow run each); the best validation score of the problem type's
    trial metric wins (:func:`best_trial`): AUC for binary models, RMSE for regression.

    Raises:
        TrainingDataError: no trial has a validation score (a binary model's validation rows hold one class).
    """
    import mlflow

    cfg = model.train
    kind = problem(model.problem_type)
    validation_rows = data.rows.where(data.rows[VALIDATION])
    raw = _UNCALIBRATED[model.problem_type](model)  # the booster's own output
    if model.problem_type == "multiclass":
        # Brought to the driver once: every trial predicts the same validation rows.
        held = multiclass_training.driver_rows(validation_rows, label=model.label, features=data.features,
                                               categories=data.categories, classes=model.classes)

        def margins(booster: xgboost.Booster) -> tuple[np.ndarray, np.ndarray]:
            return held.y, held.margins(booster)
    else:
        def margins(booster: xgboost.Booster) -> tuple[np.ndarray, np.ndarray]:
            return data.margins(validation_rows, booster)
    scores: list[float] = []
    best: Trial | None = None
    for i, params in enumerate(candidates(cfg)):
        with mlflow.start_run(experiment_id=experiment, run_name=f"trial {i}", nested=True):
            mlflow.log_params(params)
            booster = fit(data.encoded, features=data.features, label=model.label, cfg=cfg, params=params,
                          objective=kind.objective, scale_pos_weight=data.scale_pos_weight)
            y, margin = margins(booster)
            evaluation = kind.evaluate(y, raw.output(margin), threshold=0.5, classes=model.classes)
            score = evaluation[kind.trial_metric]
            mlflow.log_metrics({f"val_{kind.trial_metric}": score, "trees": booster.num_boosted_rounds()}
                               | ({"val_logloss": evaluation["logloss"]} if "logloss" in evaluation else {}))
        scores.append(score)
        # Only the leader's booster and scores are kept: a new trial either takes the lead or leaves it.
        if best_trial(scores, direction="maximize" if kind.higher_is_better(kind.trial_metric) else "minimize") == i:
            best = Trial(params, booster, evaluation, y, margin)
    if best is None:
        raise TrainingDataError(
            f"no trial of {model.name} has a validation {kind.trial_metric}: its validation rows hold only one "
            f"class. Train on more labelled days (train.window_days) or a larger train.validation_fraction."
        )
    log.info("best trial %s: validation %s %.4f", best.params, kind.trial_metric, best.validation[kind.trial_metric])
    return best


#: Per problem type, the output of a booster before anything is fitted on its validation rows.
_UNCALIBRATED: dict[str, Callable[[ModelConfig], Output]] = {
    "binary": lambda model: Platt(),  # the booster's own sigmoid
    "regression": lambda model: Conformal(),
    "multiclass": lambda model: Temperature(classes=model.classes),  # its own softmax
}


def _judge(lake: Lake, model: ModelConfig, window: TrainingWindow, data: TrainingData, best: Trial) -> Judged:
    """Calibrate the winner, pick its threshold, judge it on the holdout; log it all to the MLflow run."""
    import mlflow

    # The calibrator is fitted on the validation rows: the booster never fit them
    # (they only chose when to stop), and the holdout stays untouched for judging it.
    # With few positives among them, the fit rows' out-of-fold margins join them.
    margin, y, source = _calibration_rows(model, data, best, window)
    calibration = Platt.fit(margin, y)
    p = calibration.probability(best.margin)
    threshold = metrics.best_f1_threshold(best.y, p)
    validation = metrics.evaluate(best.y, p, threshold=threshold)
    hy, hmargin = data.margins(holdout_frame(lake, model, window.holdout_days, version=window.features_version),
                               best.booster)
    hp = calibration.probability(hmargin)
    holdout = metrics.evaluate(hy, hp, threshold=threshold)
    uncalibrated = metrics.evaluate(hy, Platt().probability(hmargin), threshold=0.5)
    mlflow.log_params({f"best_{k}": v for k, v in best.params.items()} | {"threshold": threshold}
                      | {f"calibration_{k}": v for k, v in calibration.as_dict().items()}
                      | {"calibration_rows": len(y), "calibration_positives": int(np.sum(y)),
                         "calibration_source": source})
    mlflow.log_metrics({f"val_{k}": v for k, v in validation.as_dict().items()})
    mlflow.log_metrics({f"holdout_{k}": v for k, v in holdout.as_dict().items()})
    mlflow.log_metrics({f"holdout_uncalibrated_{k}": getattr(uncalibrated, k) for k in ("auc", "logloss", "brier", "ece")})
    mlflow.log_dict({"bins": metrics.calibration_table(hy, hp)}, registry.ARTIFACT_CALIBRATION)
    mlflow.log_dict(data.categories, registry.ARTIFACT_CATEGORIES)
    return Judged(calibration, threshold, validation, holdout, uncalibrated, hy, hp)


def _calibration_rows(model: ModelConfig, data: TrainingData, best: Trial,
                      window: TrainingWindow) -> tuple[np.ndarray, np.ndarray, str]:
    """Margins and labels the Platt calibrator is fitted on, and where they come from.

    - ``validation``: the validation rows, when they hold ``train.calibration_min_positives``
      positives;
    - ``cross_fit``: those and the fit rows' out-of-fold margins (:mod:`lakeops.train.cross_fit`)
      when they hold fewer and the fit rows are few enough to bring to the driver;
    - ``change``: a retrain answering a change (``window.change_began``) calibrates on the rows
      of the change only, validation and out-of-fold: its probabilities are for the data it
      will score, not for the weeks before (a changed input moves every margin).
    """
    cfg = model.train
    began = window.change_began
    can_cross_fit = cfg.calibration_folds >= 2 and data.fit_rows_count <= CROSS_FIT_MAX_ROWS
    if began is not None:
        from pyspark.sql import functions as F

        recent = data.rows.where(data.rows[VALIDATION] & (F.col("ds") >= F.lit(began)))
        val_y, val_margin = data.margins(recent, best.booster)
        margin, y = val_margin, val_y
        if can_cross_fit:
            days, fit_y, oof = _out_of_fold(model, data, best)
            keep = days >= np.datetime64(began)
            margin, y = np.concatenate([oof[keep], val_margin]), np.concatenate([fit_y[keep], val_y])
        if int(np.sum(y)) >= MIN_CHANGE_POSITIVES and int(np.sum(y)) < len(y):
            log.info("%s: a retrain of the change since %s: the calibrator is fitted on its %d rows (%d positives)",
                     model.name, began, len(y), int(np.sum(y)))
            return margin, y, "change"
        log.warning("%s: the change since %s has %d labelled positives to calibrate on (fewer than %d): the "
                    "calibrator is fitted on the whole window", model.name, began, int(np.sum(y)),
                    MIN_CHANGE_POSITIVES)
    if int(np.sum(best.y)) >= cfg.calibration_min_positives or cfg.calibration_folds < 2:
        return best.margin, best.y, "validation"
    if not can_cross_fit:
        log.warning("%s: %d validation positives, but %d fit rows are too many to cross-fit on the driver; the "
                    "calibrator is fitted on the validation rows", model.name, int(np.sum(best.y)),
                    data.fit_rows_count)
        return best.margin, best.y, "validation"
    _, fit_y, oof = _out_of_fold(model, data, best)
    log.info("%s: %d validation positives (fewer than %d): the calibrator is fitted on them and the out-of-fold "
             "margins of %d fit rows (%d folds by entity)", model.name, int(np.sum(best.y)),
             cfg.calibration_min_positives, len(fit_y), cfg.calibration_folds)
    return np.concatenate([oof, best.margin]), np.concatenate([fit_y, best.y]), "cross_fit"


def _out_of_fold(model: ModelConfig, data: TrainingData, best: Trial) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fit rows' days, labels and out-of-fold margins (folds by entity), on the driver."""
    import pandas as pd

    keys = list(model.entity_keys)
    # Annotated: pyspark types toPandas() with an alias of pandas' DataFrame that mypy cannot index.
    rows: pd.DataFrame = (encode(data.fit_rows, data.categories).select("ds", *keys, *data.features, model.label)
                          .toPandas())
    fold = cross_fit.entity_folds(pd.util.hash_pandas_object(rows[keys], index=False).to_numpy(),
                                  folds=model.train.calibration_folds)
    fit_y = rows[model.label].to_numpy(dtype=np.float64)
    oof = cross_fit.out_of_fold_margins(rows[data.features].to_numpy(dtype=np.float32), fit_y, fold=fold,
                                        booster=best.booster, seed=model.train.search.seed)
    return pd.to_datetime(rows["ds"]).to_numpy(dtype="datetime64[D]"), fit_y, oof


def _write_references(lake: Lake, model: ModelConfig, version: int, window: TrainingWindow, data: TrainingData,
                      best: Trial, output: Output, reference: pa.Table, job_run_id: str) -> int:
    """Write the new version's baselines and references; returns the ``ml.baselines`` rows written.

    ``ml.baselines`` goes last: monitoring looks a version up there first.
    """
    outputs = model.output_columns()
    fields = {name: pa.field(name, typ) for name, typ in [*OUTPUT_FIELDS[model.problem_type],
                                                          *class_score_fields(model.classes)]}
    # A multiclass model's predicted class is categorical (its classes as categories); the rest are numbers.
    classes = {c: list(model.classes) for c in outputs if pa.types.is_string(fields[c].type)}
    baselines = freeze_baselines(
        score_frame(data.fit_rows, best.booster, features=data.features, categories=data.categories,
                    keep=[*model.features.numeric, *model.features.categorical], calibration=output,
                    outputs=[fields[c] for c in outputs]),
        model_name=model.name, model_version=version, numeric=model.features.numeric,
        categorical=data.categories, slices=model.monitor.slices,
        score_columns=[c for c in outputs if c not in classes], class_columns=classes,
        ds_start=window.train_days[0], ds_end=window.train_days[-1],
    )
    partition = {"model_name": [model.name], "model_version": [version]}
    meta = {"job": JOB, "job_run_id": job_run_id}
    lake.overwrite_rows(baselines.sketches, BASELINE_SKETCHES, partitions=partition, metadata=meta)
    lake.overwrite_rows(reference, PERFORMANCE_REFERENCE, partitions=partition, metadata=meta)
    shap = attribution_reference(data.fit_rows, best.booster, model, version, features=data.features,
                                 categories=data.categories, rows=data.fit_rows_count)
    lake.overwrite_rows(shap, ATTRIBUTION_REFERENCE, partitions=partition, metadata=meta)
    return lake.overwrite_rows(baselines.bins, BASELINES, partitions=partition, metadata=meta).rows


def attribution_reference(df, booster, model: ModelConfig, version: int, *, features: list[str],
                          categories: dict[str, list[str]], rows: int) -> pa.Table:
    """The ``ml.attribution_reference`` rows of a new version: mean |SHAP| per feature on a seeded
    sample of about ``monitor.attribution_sample_rows`` of the ``rows`` rows of ``df``, inside tasks."""
    explain = attribution.Attributor.from_booster(booster, features=tuple(features), categories=categories)
    rate = attribution.sample_rate(model.monitor.attribution_sample_rows, rows)
    total = attribution.frame_attribution(df, explain, keys=model.entity_keys, rate=rate)
    found = attribution.reference_rows(attribution.mean_abs_shap(total, features), rows=total.rows)
    rows_out = [{"model_name": model.name, "model_version": version, **r} for r in found]
    log.info("%s version %d: attribution reference on %d sampled rows, led by %s", model.name, version,
             total.rows, ", ".join(r["feature"] for r in found[:3]))
    return pa.Table.from_pylist(rows_out, schema=ATTRIBUTION_REFERENCE.schema)


def performance_reference(model_name: str, version: int, window, y, p, holdout: metrics.Evaluation,
                          uncalibrated: metrics.Evaluation, calibration: Platt) -> pa.Table:
    """The ``ml.performance_reference`` row of a new version: holdout quality and its sampling variation."""
    sampling = sampling_reference(y, p, threshold=holdout.threshold)
    row = {
        "model_name": model_name, "model_version": version, "holdout_start": window.holdout_days[0],
        "holdout_end": window.holdout_days[-1], "holdout_rows": sampling.rows, "threshold": holdout.threshold,
        "calibration_slope": calibration.slope, "calibration_intercept": calibration.intercept,
        "auc": holdout.auc, "f1": holdout.f1, "precision": holdout.precision, "recall": holdout.recall,
        "ece": holdout.ece, "ece_uncalibrated": uncalibrated.ece, "auc_sd": sampling.auc_sd,
        "f1_sd": sampling.f1_sd, "precision_sd": sampling.precision_sd, "recall_sd": sampling.recall_sd,
        "problem_type": "binary",
        # CBPE on the holdout as monitoring runs it on a day without labels: the estimator's check.
        **_cbpe_holdout(p, holdout.threshold),
    }
    return pa.Table.from_pylist([row], schema=PERFORMANCE_REFERENCE.schema)


def _cbpe_holdout(p: np.ndarray, threshold: float) -> dict[str, float]:
    """CBPE's estimate of the holdout's AUC and F1 from its calibrated scores alone."""
    scores = np.asarray(p, dtype=np.float64)
    estimate = binary.estimated(binary.tally(scores, scores >= threshold, np.full(scores.shape, np.nan)))
    return {"cbpe_auc": estimate.auc, "cbpe_f1": estimate.f1}


def _lineage(model: ModelConfig, window, ds: date, code_version: str, job_run_id: str) -> dict[str, str]:
    """Tags that answer "what was this model built from"."""
    return {
        registry.TAG_MODEL: model.name,
        registry.TAG_DS: ds.isoformat(),
        registry.TAG_FEATURES_TABLE: features_table(model.name),
        registry.TAG_FEATURES_VERSION: str(window.features_version),
        registry.TAG_TRAIN_START: window.train_days[0].isoformat(),
        registry.TAG_TRAIN_END: window.train_days[-1].isoformat(),
        registry.TAG_HOLDOUT_START: window.holdout_days[0].isoformat(),
        registry.TAG_HOLDOUT_END: window.holdout_days[-1].isoformat(),
        registry.TAG_CONFIG_HASH: config_hash(model),
        registry.TAG_CODE_VERSION: code_version,
        registry.TAG_JOB_RUN_ID: job_run_id,
        # Labelled days left out because their lookback was incomplete (ml.feature_days).
        **({"lakeops.lookback_incomplete_days": ",".join(d.isoformat() for d in window.incomplete_days)}
           if window.incomplete_days else {}),
    }


def default_code_version(project_dir: Path) -> str:
    """The git commit of the project when there is one, else the package version."""
    import subprocess

    from lakeops import __version__

    try:
        out = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{out.stdout.strip()}" if out.returncode == 0 and out.stdout.strip() else __version__
