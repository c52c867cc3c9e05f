"""Prepare a model's feature table, behind the data-quality gate.

Reads the model's source tables (``sources.observations``, ``sources.labels``:
``raw.telemetry`` and ``raw.incidents`` for the demo) over the requested days
plus their lookback, checks the raw partitions with the model's ``raw`` suite,
runs the model's feature SQL for the whole range in one Spark job, checks the
result with the ``features`` suite, and only then replaces the
``features.<model>`` partitions in one commit. A failed ``fail`` expectation
stops the job before anything is written (:class:`QualityGateError`).

Writes ``features.<model>``, ``ml.feature_days`` (per prepared day, whether
all ``lookback_days`` source partitions before it were present: rolling
features of a day without them hold warm-up values), ``ml.data_quality``
(every expectation's outcome), ``ml.job_runs``, and the GX result documents under
``<lake>/_reports/data_quality/<model>/``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops.config import ModelConfig, SuiteConfig
from lakeops.data_quality import LOCAL_ROWS, SuiteOutcome, run_suite, small_copy
from lakeops.dates import date_range
from lakeops.errors import QualityGateError
from lakeops.lake.spec import conform
from lakeops.lake.tables import DATA_QUALITY, FEATURE_DAYS, features_spec
from lakeops.runs import job_run

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeops.lake import Lake, WriteResult

log = logging.getLogger(__name__)

JOB = "prepare"


@dataclass(frozen=True)
class PrepareResult:
    job_run_id: str
    write: WriteResult
    quality: tuple[SuiteOutcome, ...]


def prepare(
    lake: Lake,
    model: ModelConfig,
    *,
    days: list[date],
    feature_sql: str,
    raw_suite: SuiteConfig | None = None,
    features_suite: SuiteConfig | None = None,
) -> PrepareResult:
    """Build ``features.<model>`` for ``days`` (one Spark job, one commit).

    Args:
        feature_sql: the model's feature SQL text; it receives ``:observations``,
            ``:labels`` (view names), ``:ds_start``, ``:ds_end``, ``:lookback_days``
            and ``:labels_through`` as named parameters.
        raw_suite, features_suite: the data-quality suites to gate on.

    Raises:
        QualityGateError: a ``fail`` expectation failed (listed in the message);
            the feature partitions are untouched.
        SchemaMismatchError: the SQL's output does not match the model's config.
    """
    days = sorted(set(days))
    spec = features_spec(model)
    outcomes: list[SuiteOutcome] = []
    with job_run(lake, job=JOB, model=model.name, days=days) as run:
        observations, labels = _read_sources(lake, model, days)
        # A day or two of a fleet is read and checked without Spark; a large range is checked on Spark.
        rows = lake.row_count(model.sources.observations, where={"ds": days})
        raw: DataFrame | pa.Table = (lake.read_arrow(model.sources.observations, where={"ds": days})
                                     if rows is not None and rows <= LOCAL_ROWS
                                     else run.cache(observations.where(observations.ds.isin(days))))
        run.rows_in = raw.num_rows if isinstance(raw, pa.Table) else raw.count()
        if raw_suite is not None:
            outcomes.append(run_suite(raw, raw_suite, stage="raw", days=days, index_columns=model.entity_keys))
            _gate(lake, run.job_run_id, model, days, outcomes)

        computed = _features(lake, model, observations, labels, days=days, feature_sql=feature_sql)
        # A day or two of a fleet is checked and written from one Arrow copy, without more Spark jobs.
        features: DataFrame | pa.Table | None = small_copy(computed) if isinstance(raw, pa.Table) else None
        if features is None:
            # Rebalance by ds: one shuffle that leaves a few right-sized files per
            # day instead of one file per shuffle partition per day.
            features = run.cache(computed.hint("rebalance", "ds"))
        if features_suite is not None:
            outcomes.append(
                run_suite(features, features_suite, stage="features", days=days, index_columns=model.entity_keys)
            )
            _gate(lake, run.job_run_id, model, days, outcomes)

        metadata = {"job": JOB, "job_run_id": run.job_run_id, "model": model.name}
        write = (lake.overwrite_rows(features, spec, partitions={"ds": days}, metadata=metadata)
                 if isinstance(features, pa.Table)
                 else lake.overwrite(features, spec, partitions={"ds": days}, metadata=metadata))
        run.rows_out = write.rows
        _record_quality(lake, run.job_run_id, model, days, outcomes)
        _record_lookback(lake, run.job_run_id, model, days)
        log.info("%s: %s rows in %d partition(s), version %d", spec.name, f"{write.rows:,}", len(days), write.version)
        return PrepareResult(run.job_run_id, write, tuple(outcomes))


def _read_sources(lake: Lake, model: ModelConfig, days: list[date]) -> tuple[DataFrame, DataFrame]:
    """The observations over ``days`` and their lookback; the labels through the day after the last."""
    lookback = timedelta(days=model.features.lookback_days)
    observations = lake.read(model.sources.observations, where={"ds": date_range(days[0] - lookback, days[-1])})
    labels = lake.read(model.sources.labels, where={"ds": date_range(days[0] - lookback, days[-1] + timedelta(1))})
    return observations, labels


def _features(
    lake: Lake, model: ModelConfig, observations: DataFrame, labels: DataFrame, *, days: list[date], feature_sql: str
) -> DataFrame:
    """The model's feature SQL over the sources, for ``days``, conformed to ``features.<model>``."""
    views = {"observations": f"lakeops_{model.name}_observations", "labels": f"lakeops_{model.name}_labels"}
    observations.createOrReplaceTempView(views["observations"])
    labels.createOrReplaceTempView(views["labels"])
    features = lake.spark.sql(
        feature_sql,
        args={
            **views,
            "ds_start": days[0],
            "ds_end": days[-1],
            "lookback_days": model.features.lookback_days,
            "labels_through": _labels_through(lake, model),
        },
    )
    if len(days) > 1 and len(days) != (days[-1] - days[0]).days + 1:
        features = features.where(features.ds.isin(days))
    return conform(features, features_spec(model))


def lookback_rows(model_name: str, days: list[date], lookback_days: int, present: set[date], job_run_id: str) -> list[dict]:
    """``ml.feature_days`` rows: for each day, how many of the ``lookback_days`` source days before it are in ``present``."""
    rows = []
    for d in days:
        window = date_range(d - timedelta(days=lookback_days), d - timedelta(days=1)) if lookback_days else []
        found = sum(1 for w in window if w in present)
        rows.append({"model_name": model_name, "ds": d, "lookback_days": lookback_days,
                     "lookback_start": d - timedelta(days=lookback_days), "source_days_expected": len(window),
                     "source_days_present": found, "lookback_complete": found == len(window),
                     "job_run_id": job_run_id})
    return rows


def _record_lookback(lake: Lake, job_run_id: str, model: ModelConfig, days: list[date]) -> None:
    """Replace the days' ``ml.feature_days`` rows; the source partitions come from the Delta log, not the data."""
    present = {p["ds"] for p in lake.partitions(model.sources.observations) if p.get("ds") is not None}
    rows = lookback_rows(model.name, days, model.features.lookback_days, present, job_run_id)
    incomplete = [r["ds"] for r in rows if not r["lookback_complete"]]
    if incomplete:
        log.warning("%s: %d prepared day(s) without all %d lookback day(s) of %s (warm-up values; training "
                    "leaves them out): %s", model.name, len(incomplete), model.features.lookback_days,
                    model.sources.observations, _span(incomplete))
    lake.overwrite_rows(pa.Table.from_pylist(rows, schema=FEATURE_DAYS.schema), FEATURE_DAYS,
                        partitions={"model_name": [model.name], "ds": days},
                        metadata={"job": JOB, "job_run_id": job_run_id})


def _span(days: list[date]) -> str:
    return str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def _labels_through(lake: Lake, model: ModelConfig) -> date | None:
    """The newest day whose labels have arrived: the labels table's last partition."""
    values = [p["ds"] for p in lake.partitions(model.sources.labels) if p.get("ds") is not None]
    return max(values) if values else None


def _gate(lake: Lake, job_run_id: str, model: ModelConfig, days: list[date], outcomes: list[SuiteOutcome]) -> None:
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return
    _record_quality(lake, job_run_id, model, days, outcomes)
    listing = "\n".join(o.describe_failures() for o in failed)
    span = f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]}"
    bad = sorted({d for suite in failed for o in suite.failures for d in o.failing_ds})
    on = "" if len(days) == 1 else f" (failing day(s): {', '.join(map(str, bad))})"
    raise QualityGateError(
        f"data-quality gate failed for {model.name} {span}{on}; nothing was written:\n{listing}\n"
        f"(details: ml.data_quality where job_run_id = '{job_run_id}')"
    )


def _record_quality(
    lake: Lake, job_run_id: str, model: ModelConfig, days: list[date], outcomes: list[SuiteOutcome]
) -> None:
    """Append every outcome to ml.data_quality (a row per day, with that day's outcome); keep the GX documents."""
    if not outcomes:
        return
    checked_at = datetime.now(UTC)  # clock-ok: when the check ran
    rows = pa.Table.from_pylist(
        [
            {"ds": d, "job_run_id": job_run_id, "job": JOB, "model_name": model.name, "suite": o.suite,
             "stage": o.stage, "expectation": o.expectation, "gx_expectation": o.gx_type, "column_name": o.column,
             "policy": o.policy, "success": o.success_on(d), "observed_value": o.observed, "checked_at": checked_at}
            for suite in outcomes
            for o in suite.outcomes
            for d in days
        ],
        schema=DATA_QUALITY.schema,
    )
    lake.append_rows(rows, DATA_QUALITY, metadata={"job": JOB, "job_run_id": job_run_id})
    folder = lake.storage.join("_reports", "data_quality", model.name)
    for suite in outcomes:
        document = json.dumps(suite.document, indent=1, default=str).encode()
        lake.storage.write_bytes(f"{folder}/{job_run_id}-{suite.stage}.json", document)
