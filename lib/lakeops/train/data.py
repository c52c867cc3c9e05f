"""The training window: which labelled days train, which are held out.

Reads ``features.<model>`` (the window ending at ``ds``: :func:`lakeops.train.window.training_window`,
the days the training DAG prepares), ``ml.data_quality`` (proof that each day passed its gate),
``ml.feature_days`` (days whose lookback window was incomplete are left out: their rolling features
hold warm-up values that no later day will show) and, for a retrain, ``ml.alerts`` (the day the change
it answers began: :func:`change_began`). Writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakeops.config import ModelConfig
from lakeops.dates import date_range
from lakeops.errors import LakeopsError
from lakeops.lake.tables import ALERTS, DATA_QUALITY, FEATURE_DAYS, features_table
from lakeops.train.window import training_window

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeops.lake import Lake

log = logging.getLogger(__name__)

VALIDATION = "is_validation"
#: Each training row's weight: above 1 on the days of the change a retrain answers (:func:`change_weight`).
WEIGHT = "row_weight"


class TrainingDataError(LakeopsError):
    """Not enough labelled, quality-checked data to train on."""


@dataclass(frozen=True)
class TrainingWindow:
    train_days: tuple[date, ...]
    holdout_days: tuple[date, ...]
    features_version: int
    #: Labelled days of the window left out because their lookback was incomplete.
    incomplete_days: tuple[date, ...] = ()
    #: A retrain's: the first day of the change it answers (the requesting alert's episode), and the
    #: weight of the fit rows from that day on.
    change_began: date | None = None
    change_weight: float = 1.0


def choose_window(lake: Lake, model: ModelConfig, ds: date) -> TrainingWindow:
    """Labelled days in the window ending at ``ds``; the newest ``holdout_days`` are held out."""
    from pyspark.sql import functions as F

    table = features_table(model.name)
    cfg = model.train
    version = lake.version(table)
    window = date_range(*training_window(ds, window_days=cfg.window_days))
    df = lake.read(table, where={"ds": window}, version=version)
    labelled = sorted(
        r.ds for r in df.where(F.col(model.label).isNotNull()).select("ds").distinct().collect()
    )
    incomplete = _incomplete_lookback(lake, model, labelled)
    if incomplete:
        log.warning("%s: leaving out %d labelled day(s) whose %d-day lookback of %s was incomplete: %s",
                    model.name, len(incomplete), model.features.lookback_days, model.sources.observations,
                    ", ".join(map(str, incomplete)))
        if len(incomplete) == len(labelled):
            first = min(incomplete) - timedelta(days=model.features.lookback_days)
            raise TrainingDataError(
                f"every labelled day of {table} in {window[0]}..{ds} was prepared without its full "
                f"{model.features.lookback_days}-day lookback of {model.sources.observations} (see ml.feature_days), "
                f"so its rolling features hold warm-up values. Load or generate source history from {first}, "
                f"then rerun `lakeops prepare` for those days."
            )
        labelled = [d for d in labelled if d not in set(incomplete)]
    if len(labelled) <= cfg.holdout_days:
        raise TrainingDataError(
            f"{table} has {len(labelled)} labelled day(s) with a complete lookback in {window[0]}..{ds}; training "
            f"needs more than holdout_days={cfg.holdout_days}. Prepare more days (labels arrive a day later) or "
            f"pick a later --ds."
        )
    _require_quality(lake, model, labelled)
    return TrainingWindow(tuple(labelled[: -cfg.holdout_days]), tuple(labelled[-cfg.holdout_days:]), version,
                          tuple(incomplete))


def _incomplete_lookback(lake: Lake, model: ModelConfig, days: list[date]) -> list[date]:
    """The days whose latest ``ml.feature_days`` record says the lookback was incomplete.

    Days with no record (prepared before the table existed) count as complete.
    """
    from pyspark.sql import functions as F

    if not days or not lake.exists(FEATURE_DAYS.name):
        return []
    rows = lake.read(FEATURE_DAYS.name, where={"ds": days}).where(
        (F.col("model_name") == model.name) & ~F.col("lookback_complete")
    ).select("ds").collect()
    return sorted({r.ds for r in rows})


def _require_quality(lake: Lake, model: ModelConfig, days: list[date]) -> None:
    """Refuse days whose latest features gate did not pass (or that have no gate record)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not lake.exists(DATA_QUALITY.name):
        raise TrainingDataError(f"no {DATA_QUALITY.name} records: prepare features through `lakeops prepare` first")
    dq = lake.read(DATA_QUALITY.name, where={"ds": days}).where(
        (F.col("model_name") == model.name) & (F.col("stage") == "features")
    )
    latest = dq.withColumn("rank", F.dense_rank().over(Window.partitionBy("ds").orderBy(F.desc("checked_at"))))
    verdicts = {
        r.ds: r.failed
        for r in latest.where(F.col("rank") == 1).groupBy("ds").agg(
            F.sum(((~F.col("success")) & (F.col("policy") == "fail")).cast("int")).alias("failed")
        ).collect()
    }
    missing = [d for d in days if d not in verdicts]
    failed = [d for d in days if verdicts.get(d)]
    if missing or failed:
        raise TrainingDataError(
            f"refusing to train {model.name}: days without a passed data-quality gate: "
            f"{', '.join(map(str, failed + missing))} (rerun `lakeops prepare` for them)"
        )


def training_frame(lake: Lake, model: ModelConfig, window: TrainingWindow, *, seed: int = 0) -> DataFrame:
    """Training rows with a reproducible validation flag (a hash of key, ds and seed) and their weight."""
    from pyspark.sql import functions as F

    df = lake.read(features_table(model.name), where={"ds": list(window.train_days)}, version=window.features_version)
    df = df.where(F.col(model.label).isNotNull())
    bucket = F.abs(F.xxhash64(*model.entity_keys, "ds", F.lit(seed))) % 10_000
    weight = (F.when(F.col("ds") >= F.lit(window.change_began), F.lit(window.change_weight)).otherwise(F.lit(1.0))
              if window.change_began is not None else F.lit(1.0))
    return (df.withColumn(VALIDATION, bucket < int(model.train.validation_fraction * 10_000))
            .withColumn(WEIGHT, weight.cast("double")))


def change_began(lake: Lake, model: ModelConfig, *, requested_by: str | None, ds: date) -> date | None:
    """The first day of the change a retrain answers: the episode start (``first_seen``) of the alert
    ``requested_by`` on the newest day up to ``ds`` it asked for a retrain; None without a request."""
    if requested_by is None or not lake.exists(ALERTS.name):
        return None
    rows = [r for r in lake.read_arrow(ALERTS.name, where={"model_name": [model.name]}).to_pylist()
            if r["fingerprint"] == requested_by and r["retrain_requested"] and r["ds"] <= ds]
    return max(rows, key=lambda r: r["ds"])["first_seen"] if rows else None


def change_weight(window: TrainingWindow, *, weight: float | None) -> float:
    """The weight of the fit rows of a change's days: ``weight`` as configured, or by default as much
    in total as the days before the change (so a few new days are not outvoted by weeks of old ones)."""
    if window.change_began is None:
        return 1.0
    after = sum(d >= window.change_began for d in window.train_days)
    if not after:
        return 1.0
    if weight is not None:
        return float(weight)
    return max(1.0, (len(window.train_days) - after) / after)


def holdout_frame(lake: Lake, model: ModelConfig, days: tuple[date, ...], *, version: int | None = None) -> DataFrame:
    from pyspark.sql import functions as F

    df = lake.read(features_table(model.name), where={"ds": list(days)}, version=version)
    return df.where(F.col(model.label).isNotNull())
