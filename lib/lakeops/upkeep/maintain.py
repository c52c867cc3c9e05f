"""``lakeops maintain``: keep every table of a lakehouse quick to open and its storage bounded.

Every daily run adds files and log entries to every table. For each table with a
contract, in this order:

1. **partition retention** (only for the tables listed in ``maintenance.partition_retention_days``):
   the ``ds`` partitions older than that many days before the run's ``ds`` are removed
   in one commit (the files stay readable by time travel until vacuum);
2. **compaction**: each partition's small files are rewritten into files of about
   ``maintenance.compact_target_mb``, in one commit that changes no row;
3. **log retention for lineage**: a features table whose version a registered model
   version was trained on keeps its log back to that version (``delta.logRetentionDuration``
   grows in steps of ``log_retention_days``), so the version stays readable by time travel;
4. **vacuum**: data files no version younger than ``maintenance.vacuum_retention_hours``
   needs are deleted, except those of versions a registered model's lineage needs;
5. **checkpoint**: opening the table reads the checkpoint instead of a year of JSON
   commits; log entries past the retention are deleted.

Each step is one commit or none (delta-rs logs a vacuum's start and end as commits too).
A concurrent writer that commits first makes a compaction fail (:class:`~lakeops.errors.CommitConflictError`, under the rules of
:mod:`lakeops.lake.conflicts`); that step is reported as skipped, the other steps
and tables go on, and the next run compacts what is left. A run killed midway leaves
every table at a committed version.

Reads every contract table's log and the MLflow registry (lineage); writes the
commits above and, for a run given ``ds``, one ``ml.job_runs`` row.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakeops.config import MaintenanceConfig
from lakeops.errors import CommitConflictError, InvalidParameterError
from lakeops.lake.conflicts import read_commits

if TYPE_CHECKING:
    from lakeops.lake import Lake, TableSpec

log = logging.getLogger(__name__)

#: The Delta property that bounds the log (and time travel), as both backends read it.
LOG_RETENTION_PROPERTY = "delta.logRetentionDuration"
#: Its value when a table does not set it (the Delta protocol's default).
DELTA_DEFAULT_LOG_RETENTION = "interval 30 days"
MB = 1024 * 1024


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did (or, in a dry run, would do) to one table."""

    table: str
    files_before: int
    files_after: int
    compacted: int  # files replaced by the compaction
    dropped: tuple[date, ...]  # ds partitions removed by the retention
    vacuumed: int  # data files deleted (a dry run: that would be)
    log_on_disk: int  # JSON commits left in _delta_log
    log_replayed: int  # of those, read when the table opens (after its last checkpoint)
    kept_versions: tuple[int, ...] = ()  # versions registered models were trained on
    skipped: tuple[str, ...] = ()  # steps a concurrent writer made fail, with why

    def describe(self) -> str:
        parts = [f"files {self.files_before} -> {self.files_after}"]
        if self.compacted:
            parts.append(f"{self.compacted} compacted")
        if self.dropped:
            parts.append(f"{len(self.dropped)} partition(s) dropped (before {max(self.dropped) + timedelta(1)})")
        parts.append(f"{self.vacuumed} vacuumed")
        parts.append(f"log {self.log_on_disk} entries, {self.log_replayed} read at open")
        if self.kept_versions:
            parts.append(f"keeps v{', v'.join(map(str, self.kept_versions))} (model lineage)")
        parts += [f"skipped {s}" for s in self.skipped]
        return f"{self.table}: " + ", ".join(parts)


@dataclass(frozen=True)
class MaintainResult:
    tables: tuple[TableMaintenance, ...]
    dry_run: bool
    job_run_id: str | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())


def retention_days(cfg: MaintenanceConfig, specs: Sequence[TableSpec], *, ds: date | None) -> dict[str, date]:
    """Per table with a partition retention, the first ``ds`` it keeps (checked before anything runs).

    Raises:
        InvalidParameterError: a listed table is not a contract table partitioned by ``ds``, or a
            retention is configured and no ``ds`` was given.
    """
    by_name = {str(s.name): s for s in specs}
    cutoffs = {}
    for table, days in sorted(cfg.partition_retention_days.items()):
        spec = by_name.get(table)
        if spec is None or "ds" not in spec.partition_by:
            raise InvalidParameterError(
                f"maintenance.partition_retention_days names {table!r}, which is not a lakehouse table partitioned "
                f"by ds (those are: {', '.join(n for n, s in sorted(by_name.items()) if 'ds' in s.partition_by)})")
        if ds is None:
            raise InvalidParameterError("maintenance.partition_retention_days is set: give --ds, the day the "
                                        "retention counts back from (the DAG passes its data interval's)")
        cutoffs[table] = ds - timedelta(days=days)
    return cutoffs


def log_retention_needed(cfg: MaintenanceConfig, *, oldest_kept_ms: int | None, now_ms: float) -> int:
    """Days of log a table must keep: the configured retention, stretched in steps of it to reach a
    version a model's lineage needs (committed at ``oldest_kept_ms``), so the property changes rarely."""
    step = cfg.log_retention_days
    if oldest_kept_ms is None:
        return step
    age_days = max(0.0, (now_ms - oldest_kept_ms) / 86_400_000)
    return step * max(1, math.ceil((age_days + 1) / step))


def maintain(
    lake: Lake,
    specs: Sequence[TableSpec],
    *,
    cfg: MaintenanceConfig,
    lineage: Mapping[str, set[int]],
    ds: date | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MaintainResult:
    """Maintain every existing table of ``specs`` (see the module docstring).

    Args:
        lineage: per table, versions that must stay readable (:func:`lakeops.registry.lineage_versions`).
        ds: the run's day; partition retention counts back from it.
        dry_run: change nothing; report what would be compacted, dropped and vacuumed.
    """
    cutoffs = retention_days(cfg, specs, ds=ds)
    started = time.monotonic()
    done = []
    for spec in specs:
        if not lake.exists(spec.name):
            continue
        result = _maintain_table(lake, spec, cfg=cfg, keep=sorted(lineage.get(str(spec.name), ())),
                                 cutoff=cutoffs.get(str(spec.name)), dry_run=dry_run)
        if progress is not None:
            progress(result.describe())
        done.append(result)
    return MaintainResult(tables=tuple(done), dry_run=dry_run, seconds=time.monotonic() - started)


def _maintain_table(
    lake: Lake, spec: TableSpec, *, cfg: MaintenanceConfig, keep: list[int], cutoff: date | None, dry_run: bool
) -> TableMaintenance:
    name = str(spec.name)
    files_before = lake.file_count(name)
    skipped = []
    dropped: tuple[date, ...] = ()
    if cutoff is not None:
        old = sorted({p["ds"] for p in lake.partitions(name) if p.get("ds") is not None and p["ds"] < cutoff})
        dropped = tuple(old)
        if old and not dry_run:
            try:
                lake.overwrite_rows(spec.schema.empty_table(), spec, partitions={"ds": old}, allow_empty=True,
                                    metadata={"operation": "retention", "before": cutoff.isoformat()})
            except CommitConflictError as exc:
                skipped.append(f"retention ({exc})")
                dropped = ()
    compacted = 0
    if not dry_run:
        try:
            compacted = lake.compact(name, target_bytes=cfg.compact_target_mb * MB)
        except CommitConflictError as exc:
            skipped.append(f"compaction ({exc})")
        _keep_log_for(lake, spec, cfg=cfg, keep=keep, skipped=skipped)
    vacuumed = lake.vacuum(name, retention_hours=cfg.vacuum_retention_hours, dry_run=dry_run, keep_versions=keep)
    if not dry_run:  # last: delta-rs logs a vacuum as commits of its own
        lake.checkpoint(name)
    on_disk, replayed = lake.log_entries(name)
    return TableMaintenance(
        table=name, files_before=files_before, files_after=lake.file_count(name), compacted=compacted,
        dropped=dropped, vacuumed=len(vacuumed), log_on_disk=on_disk, log_replayed=replayed,
        kept_versions=tuple(keep), skipped=tuple(skipped),
    )


def _keep_log_for(lake: Lake, spec: TableSpec, *, cfg: MaintenanceConfig, keep: list[int], skipped: list[str]) -> None:
    """Set the table's log retention to what its lineage needs, when that differs from what it has."""
    oldest = None
    if keep:
        try:
            (_, actions), = read_commits(lake.storage, lake.location(spec.name), after=keep[0] - 1, upto=keep[0])
            oldest = next((a["commitInfo"].get("timestamp") for a in actions if "commitInfo" in a), None)
        except FileNotFoundError:  # its log entry is gone already: nothing left to keep
            oldest = None
    days = log_retention_needed(cfg, oldest_kept_ms=oldest, now_ms=time.time() * 1000)  # clock-ok: Delta's retention
    wanted = f"interval {days} days"
    if lake.properties(spec.name).get(LOG_RETENTION_PROPERTY, DELTA_DEFAULT_LOG_RETENTION) != wanted:
        try:
            lake.set_properties(spec, {LOG_RETENTION_PROPERTY: wanted}, metadata={"operation": "log_retention"})
        except CommitConflictError as exc:
            skipped.append(f"log retention ({exc})")


