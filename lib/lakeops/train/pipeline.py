"""Train a model: window, search, evaluation, registration, baselines.

Reads ``features.<model>`` (at one Delta version, recorded on the run) and
``ml.data_quality``. Writes an MLflow run (nested runs per trial) and a new
registered model version with the alias ``challenger``, ``ml.baselines``,
``ml.baseline_sketches``, ``ml.performance_reference`` and ``ml.attribution_reference``
(mean |SHAP| per feature on a seeded sample of the fit rows) for that version, and
``ml.job_runs``.

Scores are calibrated (:mod:`lakeops.evaluate.calibration`): the booster trains with
``scale_pos_weight`` for ranking, and a Platt calibrator fitted on the validation
rows turns its margin into a probability; holdout figures before and after are
logged (``holdout_uncalibrated_*`` and ``holdout_*``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.evaluate import attribution, metrics
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode
from lakeops.evaluate.performance import sampling_reference
from lakeops.evaluate.scoring import SCORE, labels_and_margins, score_frame
from lakeops.lake.tables import (
    ATTRIBUTION_REFERENCE,
    BASELINE_SKETCHES,
    BASELINES,
    PERFORMANCE_REFERENCE,
    features_table,
)
from lakeops.runs import job_run
from lakeops.train.baselines import freeze_baselines
from lakeops.train.categories import fit_categories
from lakeops.train.data import VALIDATION, choose_window, holdout_frame, training_frame
from lakeops.train.fit import candidates, check_workers, fit

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

JOB = "train"


@dataclass(frozen=True)
class TrainResult:
    model_name: str
    version: int
    mlflow_run_id: str
    threshold: float
    validation: metrics.Evaluation
    holdout: metrics.Evaluation
    train_days: tuple[date, ...]
    holdout_days: tuple[date, ...]
    features_version: int


def config_hash(model: ModelConfig) -> str:
    """A stable fingerprint of the model's whole config (its frozen dataclass repr)."""
    return hashlib.sha256(repr(model).encode()).hexdigest()[:16]


def train(lake: Lake, model: ModelConfig, *, ds: date, mlflow_cfg: MlflowConfig, code_version: str,
          requested_by: str | None = None) -> TrainResult:
    """Train ``model`` on the labelled window ending at ``ds`` and register it as challenger.

    ``requested_by`` is the fingerprint of the alert whose retrain request asked for this
    training (an ``ml.alerts`` row); it is tagged on the MLflow run, and the gate copies it
    into ``ml.model_validations``.
    """
    import mlflow

    spark = lake.spark
    cfg = model.train
    with job_run(lake, job=JOB, model=model.name, days=[ds]) as run:
        threads = check_workers(spark, cfg.num_workers)
        window = choose_window(lake, model, ds)
        rows = training_frame(lake, model, window, seed=cfg.search.seed).cache()
        cached = [rows]
        try:
            fit_rows = rows.where(~rows[VALIDATION])
            categories = fit_categories(fit_rows, model.features.categorical, max_categories=cfg.max_categories)
            features = [*model.features.numeric, *model.features.categorical]
            encoded = encode(rows, categories).select(*features, model.label, VALIDATION).cache()
            cached.append(encoded)
            counts = {r[0]: r[1] for r in fit_rows.groupBy(model.label).count().collect()}
            positives, negatives = counts.get(1, 0), counts.get(0, 0)
            run.rows_in = positives + negatives
            scale = negatives / positives if positives else 1.0

            registry.setup(mlflow_cfg, lake.root)
            experiment = registry.experiment_for(model.name, lake.root)
            with mlflow.start_run(experiment_id=experiment, run_name=f"train {ds}") as parent:
                mlflow.set_tags(_lineage(model, window, ds, code_version, run.job_run_id)
                                | ({registry.TAG_REQUESTED_BY: requested_by} if requested_by else {}))
                mlflow.log_params({"train_rows": run.rows_in, "positives": positives, "scale_pos_weight": round(scale, 4),
                                   "num_workers": cfg.num_workers, "threads_per_worker": threads,
                                   "features": ",".join(features)})
                best_booster, best_eval, best_params, best_scores = None, None, None, None
                validation_rows = rows.where(rows[VALIDATION])
                score = functools.partial(labels_and_margins, label=model.label, features=features,
                                          categories=categories)
                raw = Platt()  # the booster's own sigmoid
                for i, params in enumerate(candidates(cfg)):
                    with mlflow.start_run(experiment_id=experiment, run_name=f"trial {i}", nested=True):
                        mlflow.log_params(params)
                        booster = fit(encoded, features=features, label=model.label, cfg=cfg, params=params,
                                      scale_pos_weight=scale)
                        y, margin = score(validation_rows, booster)
                        evaluation = metrics.evaluate(y, raw.probability(margin), threshold=0.5)
                        mlflow.log_metrics({"val_auc": evaluation.auc, "val_logloss": evaluation.logloss,
                                            "trees": booster.num_boosted_rounds()})
                    if best_eval is None or evaluation.auc > best_eval.auc:
                        best_booster, best_eval, best_params, best_scores = booster, evaluation, params, (y, margin)
                log.info("best trial %s: validation AUC %.4f", best_params, best_eval.auc)

                # The calibrator is fitted on the validation rows: the booster never fit them
                # (they only chose when to stop), and the holdout stays untouched for judging it.
                y, margin = best_scores
                calibration = Platt.fit(margin, y)
                p = calibration.probability(margin)
                threshold = metrics.best_f1_threshold(y, p)
                validation = metrics.evaluate(y, p, threshold=threshold)
                hy, hmargin = score(holdout_frame(lake, model, window.holdout_days, version=window.features_version),
                                    best_booster)
                hp = calibration.probability(hmargin)
                holdout = metrics.evaluate(hy, hp, threshold=threshold)
                uncalibrated = metrics.evaluate(hy, raw.probability(hmargin), threshold=0.5)
                mlflow.log_params({f"best_{k}": v for k, v in best_params.items()} | {"threshold": threshold}
                                  | {f"calibration_{k}": v for k, v in calibration.as_dict().items()})
                mlflow.log_metrics({f"val_{k}": v for k, v in validation.as_dict().items()})
                mlflow.log_metrics({f"holdout_{k}": v for k, v in holdout.as_dict().items()})
                mlflow.log_metrics({f"holdout_uncalibrated_{k}": getattr(uncalibrated, k)
                                    for k in ("auc", "logloss", "brier", "ece")})
                mlflow.log_dict({"bins": metrics.calibration_table(hy, hp)}, registry.ARTIFACT_CALIBRATION)
                mlflow.log_dict(categories, registry.ARTIFACT_CATEGORIES)

                example = rows.select(*features).limit(5).toPandas()  # raw rows: the pyfunc model's input
                version = registry.log_model(best_booster, model_name=model.name, example=example,
                                             threshold=threshold, features=features, categories=categories,
                                             calibration=calibration)

                baselines = freeze_baselines(
                    score_frame(fit_rows, best_booster, features=features, categories=categories,
                                keep=[*model.features.numeric, *model.features.categorical], calibration=calibration),
                    model_name=model.name, model_version=version, numeric=model.features.numeric,
                    categorical=categories, slices=model.monitor.slices, score_column=SCORE,
                    ds_start=window.train_days[0], ds_end=window.train_days[-1],
                )
                partition = {"model_name": [model.name], "model_version": [version]}
                meta = {"job": JOB, "job_run_id": run.job_run_id}
                lake.overwrite_rows(baselines.sketches, BASELINE_SKETCHES, partitions=partition, metadata=meta)
                reference = performance_reference(model.name, version, window, hy, hp, holdout, uncalibrated,
                                                  calibration)
                lake.overwrite_rows(reference, PERFORMANCE_REFERENCE, partitions=partition, metadata=meta)
                shap = attribution_reference(fit_rows, best_booster, model, version, features=features,
                                             categories=categories, rows=run.rows_in)
                lake.overwrite_rows(shap, ATTRIBUTION_REFERENCE, partitions=partition, metadata=meta)
                written = lake.overwrite_rows(baselines.bins, BASELINES, partitions=partition, metadata=meta)
                run.rows_out = written.rows
                # Only a version with its baselines in place becomes the challenger.
                registry.set_alias(model.name, registry.CHALLENGER, version)
                log.info("%s version %d registered as %s: holdout AUC %.4f, threshold %.4f, calibration error %.4f "
                         "(%.4f uncalibrated)", model.name, version, registry.CHALLENGER, holdout.auc, threshold,
                         holdout.ece, uncalibrated.ece)
                return TrainResult(model.name, version, parent.info.run_id, threshold, validation, holdout,
                                   window.train_days, window.holdout_days, window.features_version)
        finally:
            for frame in cached:
                frame.unpersist()


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
    }
    return pa.Table.from_pylist([row], schema=PERFORMANCE_REFERENCE.schema)


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
