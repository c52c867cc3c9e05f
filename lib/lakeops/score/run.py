"""Batch scoring: the champion (or a chosen version) scores feature partitions.

Reads ``features.<model>`` (the days asked for, at one Delta version) and the
MLflow registry; writes ``predictions.<model>`` partitions (by ``ds``), or with
``shadow`` the challenger's ``shadow.<model>`` partitions, and a row in ``ml.job_runs``.

- The model loads from the registry only (``models:/<name>@champion`` or a
  version number). Before anything runs, the feature table is checked against
  what the model needs (docs/reliability.md, "scoring input"): a missing feature, a numeric feature that is not
  numeric, a categorical one that is not a string, or a missing key column is
  an error that names the column, and nothing is written.
- Idempotent and resumable: a day whose partition was already written by the
  same model version is skipped unless ``force``; the rest is scored in chunks
  of ``chunk_days`` days, each one Spark job and one Delta commit. An
  interrupted backfill leaves whole chunks behind, never half a partition, and a
  rerun picks up at the first chunk that is not there. Scores are deterministic
  and ``mlflow_run_id`` is the model's MLflow run, so a forced rerun writes the same rows.
- Fast: :meth:`lakeops.lake.Lake.map_partitions` runs a
  :class:`lakeops.score.batch.BatchScorer` inside tasks that read the feature
  files' row groups with pyarrow and write prediction files directly (embedded
  backend); each task predicts with ``spark.task.cpus`` threads. Only file names
  reach the driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.constants import DEFAULT_CHUNK_DAYS
from lakeops.errors import InvalidParameterError, MissingInputError, SchemaMismatchError
from lakeops.lake.tables import features_table, predictions_spec, shadow_spec
from lakeops.runs import job_run
from lakeops.score.batch import ENGINES, BatchScorer

if TYPE_CHECKING:
    from lakeops.lake import Lake, TableSpec

log = logging.getLogger(__name__)

JOB = "score"
#: Shadow scoring records its runs and commits under a job of its own (lakeops.stage_io).
SHADOW_JOB = "shadow_score"
#: Days per Spark job and commit: what an interruption can cost, at most.


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run did."""

    model_name: str
    model_version: int
    scored: tuple[date, ...]
    skipped: tuple[date, ...]
    rows: int
    job_run_id: str


def check_score_args(*, days: Sequence[date], chunk_days: int, engine: str) -> list[date]:
    """Refuse bad options before anything starts; returns the sorted days."""
    if not days:
        raise InvalidParameterError("no days to score")
    if isinstance(chunk_days, bool) or not isinstance(chunk_days, int) or chunk_days < 1:
        raise InvalidParameterError(f"chunk_days must be a positive integer, got {chunk_days!r}")
    if engine not in ENGINES:
        raise InvalidParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
    return sorted(set(days))


def score(
    lake: Lake,
    model_cfg: ModelConfig,
    *,
    days: Sequence[date],
    mlflow_cfg: MlflowConfig,
    model_version: int | None = None,
    force: bool = False,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    engine: str = "auto",
    shadow: bool = False,
) -> ScoreResult:
    """Score ``days`` of ``features.<model>`` into ``predictions.<model>``.

    ``engine`` picks the predictor (:data:`lakeops.score.batch.ENGINES`): "auto" walks
    the trees with :class:`lakeops.score.forest.Forest` where it covers the model.
    ``shadow``: the challenger (or ``model_version``) scores the days into ``shadow.<model>``
    instead, beside the champion's served scores, so the two can be compared on the same
    rows once labels arrive; ``predictions.<model>`` is not touched.

    Raises:
        ModelNotFoundError: no champion (or no such version) in the registry.
        MissingInputError: a day has no feature partition (run prepare first).
        SchemaMismatchError: the feature table does not fit the model.
        In every case nothing was written.
    """
    days = check_score_args(days=days, chunk_days=chunk_days, engine=engine)
    model_name = model_cfg.name
    source = features_table(model_name)

    registry.setup(mlflow_cfg, lake.root)
    if model_version is None:
        model = registry.load(model_name, alias=registry.CHALLENGER if shadow else registry.CHAMPION)
    else:
        model = registry.load(model_name, version=model_version)
    # One version of the features for the whole run: checks, skips and scoring all see the same days.
    features_version = lake.version(source)
    src = lake.spec(source, version=features_version)
    keys = tuple(model_cfg.entity_keys)
    check_inputs(src, model, keys)
    if model.problem_type != model_cfg.problem_type:
        raise SchemaMismatchError(f"{model_name} v{model.version} is a {model.problem_type} model but the config says "
                                  f"problem_type: {model_cfg.problem_type}; train a new version; nothing was scored")
    classes = tuple(getattr(model.calibration, "classes", ()))
    if classes != tuple(model_cfg.classes):
        raise SchemaMismatchError(f"{model_name} v{model.version} predicts the classes {list(classes)} but the config "
                                  f"names {list(model_cfg.classes)}; train a new version; nothing was scored")
    spec = (shadow_spec if shadow else predictions_spec)(model_name, pa.schema([src.schema.field(k) for k in keys]),
                                                         model.problem_type, classes, model_cfg.score.reasons)
    todo, done = _days_to_score(lake, model_name, model.version, days, features_version=features_version, force=force,
                                target=str(spec.name))

    job = SHADOW_JOB if shadow else JOB
    with job_run(lake, job=job, model=model_name, days=days) as run:
        rows = 0
        if todo:
            scorer = _scorer(lake, model, keys, engine=engine, reasons=model_cfg.score.reasons,
                             reasons_method=model_cfg.score.reasons_method)
            rows = _score_chunks(lake, model, scorer, spec, todo, features_version=features_version,
                                 chunk_days=chunk_days, job_run_id=run.job_run_id, job=job)
        run.rows_in = run.rows_out = rows
    return ScoreResult(model_name, model.version, tuple(todo), tuple(sorted(done)), rows, run.job_run_id)


def _days_to_score(lake: Lake, model_name: str, version: int, days: list[date], *, features_version: int,
                   force: bool, target: str) -> tuple[list[date], set[date]]:
    """The days to score and those skipped (already scored by ``version``; none with ``force``).

    Raises:
        MissingInputError: a day has no feature partition.
    """
    source = features_table(model_name)
    available = {p["ds"] for p in lake.partitions(source, version=features_version)}
    missing = [d for d in days if d not in available]
    if missing:
        raise MissingInputError(
            f"{source} has no partition for {_describe_days(missing)}: run `lakeops prepare --model {model_name}` "
            "for those days first; nothing was scored"
        )
    done = set() if force else _scored_by(lake, target, version, days)
    if done:
        log.info("skipping %d day(s) already scored by %s v%d: %s; --force rescores them",
                 len(done), model_name, version, _describe_days(sorted(done)))
    return [d for d in days if d not in done], done


def _scorer(lake: Lake, model: registry.LoadedModel, keys: tuple[str, ...], *, engine: str, reasons: int = 0,
            reasons_method: str = "approx") -> BatchScorer:
    """What each task runs: the model's predictor with ``spark.task.cpus`` threads (and, with ``reasons``,
    each row's top reason codes from the same walk of the trees)."""
    # spark.conf reads one key over py4j; SparkContext.getConf() copies the whole conf.
    cpus = int(cast(str, lake.spark.conf.get("spark.task.cpus", "1")))  # a str with a default (pyspark says Optional)
    return BatchScorer.from_booster(
        model.booster, features=model.features, categories=model.categories, threshold=model.threshold,
        keys=keys, nthread=cpus,
        constants={"model_name": model.name, "model_version": model.version, "mlflow_run_id": model.run_id},
        engine=engine, calibration=model.calibration, reasons=reasons, reasons_method=reasons_method,
    )


def _score_chunks(lake: Lake, model: registry.LoadedModel, scorer: BatchScorer, spec: TableSpec, todo: list[date], *,
                  features_version: int, chunk_days: int, job_run_id: str, job: str) -> int:
    """Score ``todo`` in chunks of ``chunk_days``, a Spark job and a commit each; returns the rows written."""
    source = features_table(model.name)
    columns = list(dict.fromkeys([*scorer.keys, *scorer.features]))  # what the tasks read
    chunks = [todo[i : i + chunk_days] for i in range(0, len(todo), chunk_days)]
    rows = 0
    for n, chunk in enumerate(chunks, start=1):
        t0 = time.monotonic()
        written = lake.map_partitions(
            source, scorer, spec, where={"ds": chunk}, columns=columns, version=features_version,
            metadata={"job": job, "job_run_id": job_run_id, "model_version": model.version},
        )
        rows += written.rows
        log.info("chunk %d/%d: %s scored by %s v%d: %d rows in %.1fs (%s version %d)", n, len(chunks),
                 _describe_days(chunk), model.name, model.version, written.rows, time.monotonic() - t0, spec.name,
                 written.version)
    return rows


def check_inputs(src: TableSpec, model: registry.LoadedModel, keys: Sequence[str]) -> None:
    """Refuse a feature table that does not fit the model, naming every bad column."""
    problems = []
    if "ds" not in src.partition_by:
        problems.append(f"it is not partitioned by ds (partitioned by {list(src.partition_by)})")
    names = set(src.schema.names)
    for key in keys:
        if key not in names:
            problems.append(f"entity key column {key!r} is missing")
    for name in model.features:
        if name not in names:
            problems.append(f"feature {name!r} is missing")
            continue
        typ = src.schema.field(name).type
        if name in model.categories:
            if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
                problems.append(f"categorical feature {name!r} is {typ}, the model expects a string")
        elif not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)):
            problems.append(f"numeric feature {name!r} is {typ}, the model expects a number")
    if problems:
        raise SchemaMismatchError(
            f"{src.name} does not fit {model.name} v{model.version}: {'; '.join(problems)}; nothing was scored"
        )


def _scored_by(lake: Lake, table: str, version: int, days: Sequence[date]) -> set[date]:
    """Days whose prediction partition holds only rows of ``version`` (from the log's file stats)."""
    if not lake.exists(table):
        return set()
    ranges = lake.column_ranges(table, "model_version", where={"ds": list(days)})
    return {key[0] for key, found in ranges.items() if found == (version, version)}


def _describe_days(days: Sequence[date]) -> str:
    if len(days) == 1:
        return days[0].isoformat()
    contiguous = (days[-1] - days[0]).days == len(days) - 1
    if contiguous:
        return f"{days[0]}..{days[-1]} ({len(days)} days)"
    shown = ", ".join(d.isoformat() for d in days[:5])
    return f"{shown}{' and more' if len(days) > 5 else ''} ({len(days)} days)"
