"""The training window: which labelled days train, which are held out.

Reads ``features.<model>`` (the window ending at ``ds``) and ``ml.data_quality``
(proof that each day passed its gate). Writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakeops.config import ModelConfig
from lakeops.dates import date_range
from lakeops.errors import LakeopsError
from lakeops.lake.tables import DATA_QUALITY, features_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeops.lake import Lake

VALIDATION = "is_validation"


class TrainingDataError(LakeopsError):
    """Not enough labelled, quality-checked data to train on."""


@dataclass(frozen=True)
class TrainingWindow:
    train_days: tuple[date, ...]
    holdout_days: tuple[date, ...]
    features_version: int


def choose_window(lake: Lake, model: ModelConfig, ds: date) -> TrainingWindow:
    """Labelled days in the window ending at ``ds``; the newest ``holdout_days`` are held out."""
    from pyspark.sql import functions as F

    table = features_table(model.name)
    cfg = model.train
    version = lake.version(table)
    window = date_range(ds - timedelta(days=cfg.window_days - 1), ds)
    df = lake.read(table, where={"ds": window}, version=version)
    labelled = sorted(
        r.ds for r in df.where(F.col(model.label).isNotNull()).select("ds").distinct().collect()
    )
    if len(labelled) <= cfg.holdout_days:
        raise TrainingDataError(
            f"{table} has {len(labelled)} labelled day(s) in {window[0]}..{ds}; training needs more than "
            f"holdout_days={cfg.holdout_days}. Prepare more days (labels arrive a day later) or pick a later --ds."
        )
    _require_quality(lake, model, labelled)
    return TrainingWindow(tuple(labelled[: -cfg.holdout_days]), tuple(labelled[-cfg.holdout_days:]), version)


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
    """Training rows with a reproducible validation flag (a hash of key, ds and seed)."""
    from pyspark.sql import functions as F

    df = lake.read(features_table(model.name), where={"ds": list(window.train_days)}, version=window.features_version)
    df = df.where(F.col(model.label).isNotNull())
    bucket = F.abs(F.xxhash64(*model.entity_keys, "ds", F.lit(seed))) % 10_000
    return df.withColumn(VALIDATION, bucket < int(model.train.validation_fraction * 10_000))


def holdout_frame(lake: Lake, model: ModelConfig, days: tuple[date, ...], *, version: int | None = None) -> DataFrame:
    from pyspark.sql import functions as F

    df = lake.read(features_table(model.name), where={"ds": list(days)}, version=version)
    return df.where(F.col(model.label).isNotNull())
