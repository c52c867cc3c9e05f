"""Write the synthetic AIOps raw tables through the lake layer.

Writes ``raw.telemetry`` and ``raw.incidents`` (the date partitions of the
range, replaced atomically; each incident with its ``kind``, contract v2) and,
with ``drift_start``, ``raw.scenario`` (the ground truth of the injected drift).
Generation runs on Spark's executors: one task per (day, block of hosts), each
a pure function of its arguments (:mod:`lakeops.synth.synth`), so nothing is
collected to the driver and the same arguments give identical tables.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.dates import date_range
from lakeops.errors import InvalidParameterError
from lakeops.lake.tables import INCIDENTS, SCENARIO, TELEMETRY
from lakeops.runs import job_run
from lakeops.synth import synth

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeops.lake import Lake, WriteResult

log = logging.getLogger(__name__)

MAX_HOSTS = 50_000_000


@dataclass(frozen=True)
class GenerateResult:
    telemetry: WriteResult
    incidents: WriteResult
    scenario: WriteResult | None


def check_generate_args(*, start: date, end: date, hosts: int, rows_per_day: int | None, seed: int,
                        drift_start: date | None = None, drift_end: date | None = None) -> int:
    """Refuse bad arguments before anything starts; returns the hosts reporting each day."""
    date_range(start, end)
    if drift_end is not None and (drift_start is None or drift_end <= drift_start):
        raise InvalidParameterError("--drift-end needs --drift-start and must come after it")
    if not 1 <= hosts <= MAX_HOSTS:
        raise InvalidParameterError(f"--hosts must be between 1 and {MAX_HOSTS:,}, got {hosts}")
    rows_per_day = hosts if rows_per_day is None else rows_per_day
    if not 1 <= rows_per_day <= hosts:
        raise InvalidParameterError(
            f"--rows-per-day must be between 1 and --hosts ({hosts}): each host reports at most once a day"
        )
    if seed < 0:
        raise InvalidParameterError(f"--seed must be non-negative, got {seed}")
    return rows_per_day


def generate(
    lake: Lake,
    *,
    start: date,
    end: date,
    hosts: int = 1000,
    rows_per_day: int | None = None,
    seed: int = 42,
    drift_start: date | None = None,
    drift_end: date | None = None,
) -> GenerateResult:
    """Generate ``start..end`` (inclusive) and write the raw tables.

    Args:
        hosts: fleet size.
        rows_per_day: hosts that report each day (default: all of them).
        seed: the world's seed; same seed and arguments, same rows.
        drift_start: from this day on, the columns in :data:`synth.DRIFTS` drift.
        drift_end: from this day on they are back to normal (the change was rolled back).
    """
    rows_per_day = check_generate_args(start=start, end=end, hosts=hosts, rows_per_day=rows_per_day, seed=seed,
                                       drift_start=drift_start, drift_end=drift_end)
    days = date_range(start, end)
    with job_run(lake, job="generate", model=None, days=days) as run:
        result = _generate(lake.spark, lake, days=days, hosts=hosts, rows_per_day=rows_per_day, seed=seed,
                           drift_start=drift_start, drift_end=drift_end)
        run.rows_out = result.telemetry.rows + result.incidents.rows
    return result


def _generate(
    spark: SparkSession, lake: Lake, *, days: list[date], hosts: int, rows_per_day: int, seed: int,
    drift_start: date | None, drift_end: date | None,
) -> GenerateResult:
    start, end = days[0], days[-1]
    tasks = [(day, block) for day in days for block in synth.blocks(hosts)]
    log.info(
        "generating %s..%s: %d day(s) x %s reporting hosts (fleet %s), %d task(s)",
        start, end, len(days), f"{rows_per_day:,}", f"{hosts:,}", len(tasks),
    )
    params: dict[str, Any] = dict(seed=seed, hosts=hosts, rows_per_day=rows_per_day, drift_start=drift_start, drift_end=drift_end)
    meta = {"job": "generate", "seed": seed, "hosts": hosts, "rows_per_day": rows_per_day,
            "drift_start": drift_start.isoformat() if drift_start else None,
            "drift_end": drift_end.isoformat() if drift_end else None}

    t0 = time.monotonic()
    telemetry = lake.overwrite(
        _task_frame(spark, tasks, functools.partial(_telemetry_batches, **params), TELEMETRY.spark_schema),
        TELEMETRY,
        partitions={"ds": days},
        metadata=meta,
    )
    log.info("raw.telemetry: %s rows in %d partition(s), version %d (%.1fs)",
             f"{telemetry.rows:,}", len(telemetry.partitions), telemetry.version, time.monotonic() - t0)

    t0 = time.monotonic()
    incidents = lake.overwrite(
        _task_frame(spark, tasks, functools.partial(_incident_batches, seed=seed), INCIDENTS.spark_schema),
        INCIDENTS,
        partitions={"ds": days},
        allow_empty=True,  # a quiet day (or a tiny fleet) legitimately has no incidents
        metadata=meta,
    )
    log.info("raw.incidents: %s rows, version %d (%.1fs)", f"{incidents.rows:,}", incidents.version, time.monotonic() - t0)

    scenario = None
    if drift_start is not None:
        rows = pa.Table.from_pylist(
            [{"column_name": col, "drift_kind": kind, "start_ds": drift_start, "end_ds": drift_end, "detail": detail}
             for col, kind, detail in synth.DRIFTS],
            schema=SCENARIO.schema,
        )
        scenario = lake.overwrite_rows(rows, SCENARIO, metadata=meta)
        log.info("raw.scenario: %d drifting column(s) from %s, version %d", rows.num_rows, drift_start,
                 scenario.version)
    return GenerateResult(telemetry, incidents, scenario)


def _task_frame(spark: SparkSession, tasks, make_batches, schema) -> DataFrame:
    """Spread the tasks over Spark partitions; each runs ``make_batches`` on an executor.

    Small tasks (a small fleet over many days) share partitions so a year of a
    thousand hosts is not 365 Python tasks; big ones get a partition each.
    """
    rows = [(day, block.index, block.lo, block.hi) for day, block in tasks]
    total_hosts = sum(block.size for _, block in tasks)
    slots = spark.sparkContext.defaultParallelism
    n_parts = min(len(rows), max(slots * 4, -(-total_hosts // synth.BLOCK_SIZE)))
    frame = spark.createDataFrame(rows, "day date, block int, lo long, hi long")
    return frame.repartition(n_parts).mapInArrow(make_batches, schema)


def _blocks_of(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[date, synth.Block]]:
    for batch in batches:
        for row in batch.to_pylist():
            yield row["day"], synth.Block(row["block"], row["lo"], row["hi"])


def _telemetry_batches(batches: Iterator[pa.RecordBatch], **params) -> Iterator[pa.RecordBatch]:
    for day, block in _blocks_of(batches):
        yield synth.telemetry(block=block, day=day, **params)


def _incident_batches(batches: Iterator[pa.RecordBatch], *, seed: int) -> Iterator[pa.RecordBatch]:
    for day, block in _blocks_of(batches):
        yield synth.incidents(seed=seed, block=block, day=day)
