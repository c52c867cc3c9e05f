"""``ml.job_runs``: one row per job run, written whether the job succeeds or fails.

    with job_run(lake, job="prepare", model="incident_risk", days=days) as run:
        rows = run.cache(lake.read(...).where(...))  # cached now, unpersisted when the run ends
        ...
        run.rows_in, run.rows_out = n_in, n_out

Cached frames, the one way stages hold a Spark DataFrame in memory:

- ``run.cache(df)`` (:meth:`JobRun.cache`) caches ``df`` and returns it; :func:`job_run`
  unpersists it when the run ends, succeeded or failed, before the run's row is written.
  Use it for frames the job reads more than once until its end: no ``try``/``finally``.
- ``with cached(df) as df:`` (:func:`cached`) caches ``df`` for the block only: for a frame
  whose memory should go back before the job goes on (the gate's holdout, scored by both
  models and then no longer needed), or for code that runs outside a job run.

Either accepts anything with ``cache()`` and ``unpersist()`` (a ``pyspark.sql.DataFrame``),
so this module imports no Spark. Appends to ``ml.job_runs``; reads nothing. When
``LAKEOPS_PUSHGATEWAY_URL`` is set, also pushes the run's outcome to that Pushgateway
(:mod:`lakeops.pushgateway`), after the row, either way.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

import pyarrow as pa

from lakeops import __version__, pushgateway
from lakeops.lake.tables import JOB_RUNS

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

#: Long enough for a useful message, short enough for a table cell.
MAX_ERROR_CHARS = 2000


class Cacheable(Protocol):
    """What :meth:`JobRun.cache` and :func:`cached` need of a frame (a Spark DataFrame has both)."""

    def cache(self) -> Self: ...

    def unpersist(self) -> object: ...


F = TypeVar("F", bound=Cacheable)


@dataclass
class JobRun:
    """The run being recorded; the job fills in its row counts."""

    job: str
    model_name: str | None
    ds_start: date
    ds_end: date
    job_run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rows_in: int | None = None
    rows_out: int | None = None
    _cached: list[Cacheable] = field(default_factory=list, repr=False, compare=False)

    def cache(self, frame: F) -> F:
        """``frame.cache()``, unpersisted when the run ends (see the module docstring)."""
        kept = frame.cache()
        self._cached.append(kept)
        return kept

    def unpersist_all(self) -> None:
        """Unpersist what :meth:`cache` kept (:func:`job_run` calls this as the run ends)."""
        while self._cached:  # newest first, as nested try/finally blocks would
            _unpersist(self._cached.pop())


@contextmanager
def job_run(lake: Lake, *, job: str, model: str | None, days: list[date]) -> Iterator[JobRun]:
    """Record the enclosed work as one ``ml.job_runs`` row (status success or failed).

    Frames cached with :meth:`JobRun.cache` are unpersisted on the way out, either way.
    """
    run = JobRun(job=job, model_name=model, ds_start=min(days), ds_end=max(days))
    started = datetime.now(UTC)  # clock-ok: when the run happened, not what data it touches
    t0 = time.monotonic()
    log.info("%s run %s: %s %s..%s", job, run.job_run_id, model or "-", run.ds_start, run.ds_end)
    try:
        yield run
    except BaseException as exc:
        run.unpersist_all()
        _record(lake, run, "failed", started, time.monotonic() - t0, _message(exc))
        _push(run, success=False, seconds=time.monotonic() - t0)
        raise
    run.unpersist_all()
    _record(lake, run, "success", started, time.monotonic() - t0, None)
    _push(run, success=True, seconds=time.monotonic() - t0)


@contextmanager
def cached(frame: F) -> Iterator[F]:
    """``frame.cache()`` for the ``with`` block, unpersisted when it ends (see the module docstring)."""
    kept = frame.cache()
    try:
        yield kept
    finally:
        _unpersist(kept)


def _unpersist(frame: Cacheable) -> None:
    try:
        frame.unpersist()
    except Exception:
        # Freeing memory is housekeeping: it must not hide the job's own outcome or error.
        log.warning("could not unpersist a cached frame", exc_info=True)


def _push(run: JobRun, *, success: bool, seconds: float) -> None:
    """The run's metrics to the Pushgateway ``LAKEOPS_PUSHGATEWAY_URL`` names, if any: never raises."""
    try:
        pushgateway.push_run(os.environ, job=run.job, model=run.model_name, success=success,
                             duration_seconds=round(seconds, 3), rows_in=run.rows_in, rows_out=run.rows_out)
    except Exception:
        log.warning("could not push the metrics of %s run %s", run.job, run.job_run_id, exc_info=True)


def _message(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _record(lake: Lake, run: JobRun, status: str, started: datetime, seconds: float, error: str | None) -> None:
    row = (
        run.job_run_id, run.job, run.model_name, run.ds_start, run.ds_end, status, run.rows_in, run.rows_out,
        round(seconds, 3), error, started, datetime.now(UTC),  # clock-ok: run timestamp
        __version__,
    )
    try:
        # One row through pyarrow, not a Spark job: bookkeeping should cost milliseconds.
        rows = pa.Table.from_pylist([dict(zip(JOB_RUNS.schema.names, row, strict=True))], schema=JOB_RUNS.schema)
        lake.append_rows(rows, JOB_RUNS, metadata={"job": run.job, "job_run_id": run.job_run_id})
    except Exception:
        # Never let bookkeeping hide the job's own outcome or error.
        log.exception("could not record %s run %s in %s", run.job, run.job_run_id, JOB_RUNS.name)
