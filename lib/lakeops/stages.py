"""One entry per lifecycle stage: what the CLI, ``jobs/*.py`` and the Airflow tasks call.

Each ``run_*`` takes the loaded :class:`~lakeops.config.Settings`, the model's
name and the day(s), checks every argument and the model's config *before*
Spark starts, opens the Spark session and the lake once per process, runs the
stage (which records its ``ml.job_runs`` row) and returns the stage's small
result dataclass. Nothing else assembles a stage.

What each stage reads and writes is declared once, in :mod:`lakeops.stage_io` (the DAGs'
outlets and inlets and the docs' table are made from it; a test holds every stage to it).
Monitoring is three stages, each rerun alone: :func:`run_monitor` measures,
:func:`run_alerts` judges the rules on what was measured, :func:`run_report` draws it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from lakeops import __version__, logs
from lakeops.config import Settings
from lakeops.constants import DEFAULT_CHUNK_DAYS, FINGERPRINT_PATTERN, GATE_MODES
from lakeops.errors import InvalidParameterError

if TYPE_CHECKING:
    from lakeops.alert import AlertResult
    from lakeops.evaluate.shadow import DayComparison
    from lakeops.features import PrepareResult
    from lakeops.lake import Lake
    from lakeops.lake.evolution import TableChange
    from lakeops.model_gate import GateDecision
    from lakeops.monitor import MonitorResult
    from lakeops.report import ReportResult
    from lakeops.score.run import ScoreResult
    from lakeops.synth import GenerateResult
    from lakeops.train.pipeline import TrainResult
    from lakeops.upkeep import MaintainResult, UpgradePlan

log = logging.getLogger("lakeops")



def run_generate(
    settings: Settings,
    *,
    start: date,
    end: date,
    hosts: int = 1000,
    rows_per_day: int | None = None,
    seed: int = 42,
    drift_start: date | None = None,
    drift_end: date | None = None,
) -> GenerateResult:
    """Write the synthetic demo tables for ``start..end`` (with drift from ``drift_start`` until
    the day before ``drift_end``)."""
    from lakeops.synth import check_generate_args, generate

    check_generate_args(start=start, end=end, hosts=hosts, rows_per_day=rows_per_day, seed=seed,
                        drift_start=drift_start, drift_end=drift_end)
    return generate(open_lake(settings), start=start, end=end, hosts=hosts, rows_per_day=rows_per_day, seed=seed,
                    drift_start=drift_start, drift_end=drift_end)


def run_prepare(settings: Settings, model: str, *, days: Sequence[date]) -> PrepareResult:
    """Build ``features.<model>`` for ``days``, behind the model's data-quality suites."""
    from lakeops.features import prepare

    cfg = settings.model(model)
    days = _days(days)
    sql = settings.feature_sql(cfg)
    raw = settings.suite(cfg.quality.raw) if cfg.quality.raw else None
    features = settings.suite(cfg.quality.features) if cfg.quality.features else None
    return prepare(open_lake(settings), cfg, days=days, feature_sql=sql, raw_suite=raw, features_suite=features)


def run_train(settings: Settings, model: str, *, ds: date, requested_by: str | None = None) -> TrainResult:
    """Train ``model`` on the window ending at ``ds`` and register it as the challenger.

    ``requested_by``: the fingerprint of the alert whose retrain request this training answers.
    """
    from lakeops.train.pipeline import default_code_version, train

    cfg = settings.model(model)
    _day(ds)
    if requested_by is not None and not FINGERPRINT_PATTERN.fullmatch(str(requested_by)):
        raise InvalidParameterError(f"invalid alert fingerprint {requested_by!r}: expected 16 hex digits "
                                    "(the fingerprint column of ml.alerts)")
    return train(open_lake(settings), cfg, ds=ds, mlflow_cfg=settings.mlflow,
                 code_version=default_code_version(settings.project_dir), requested_by=requested_by)


def run_validate(settings: Settings, model: str, *, ds: date, mode: str | None = None) -> GateDecision:
    """Compare the challenger with the champion; promote it when the gate (and ``mode``) allow."""
    from lakeops.model_gate import validate_model

    cfg = settings.model(model)
    _day(ds)
    if mode is not None and mode not in GATE_MODES:
        raise InvalidParameterError(f"invalid mode {mode!r}: expected one of {', '.join(GATE_MODES)}")
    return validate_model(open_lake(settings), cfg, ds=ds, mlflow_cfg=settings.mlflow, mode=mode)


def run_score(
    settings: Settings,
    model: str,
    *,
    days: Sequence[date],
    model_version: int | None = None,
    force: bool = False,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    engine: str = "auto",
    shadow: bool = False,
) -> ScoreResult:
    """Score ``days`` of ``features.<model>`` with the champion (or ``model_version``); with ``shadow``, the
    challenger (or ``model_version``) scores them into ``shadow.<model>`` beside the champion's scores."""
    from lakeops.score.run import check_score_args, score

    cfg = settings.model(model)
    days = check_score_args(days=_days(days), chunk_days=chunk_days, engine=engine)
    if model_version is not None and (isinstance(model_version, bool) or not isinstance(model_version, int)
                                      or model_version < 1):
        raise InvalidParameterError(f"invalid model version {model_version!r}: expected a positive integer")

    return score(open_lake(settings), cfg, days=days, mlflow_cfg=settings.mlflow, model_version=model_version,
                 force=force, chunk_days=chunk_days, engine=engine, shadow=shadow)


def compare_shadow(settings: Settings, model: str, *, days: Sequence[date]) -> list[DayComparison]:
    """The champion's served scores and the challenger's shadow scores of ``days``, each day's realised
    metrics on the labelled rows both scored (days without them are left out)."""
    from lakeops.score.shadow import compare_shadow as compare

    cfg = settings.model(model)
    return compare(open_lake(settings, session=False), cfg, days=_days(days))


def run_monitor(settings: Settings, model: str, *, days: Sequence[date]) -> MonitorResult:
    """Drift, counts and profiles of ``days`` against the baselines of the versions that scored them,
    realised performance of the days whose labels arrived, estimated performance and attribution drift."""
    from lakeops.monitor import monitor

    cfg = settings.model(model)
    days = _days(days)
    return monitor(open_lake(settings), cfg, days=days, mlflow_cfg=settings.mlflow)


def run_alerts(settings: Settings, model: str, *, days: Sequence[date]) -> AlertResult:
    """The model's alert rules judged on monitored ``days`` (``ml.alerts``); state changes go to the
    webhook named by ``LAKEOPS_ALERT_WEBHOOK_URL`` and the newest day's state to the Alertmanager of
    ``LAKEOPS_ALERTMANAGER_URL``; returns the retrain requests. Small tables only: no Spark job (the
    native backend still needs its session to commit).

    Raises:
        InvalidParameterError: a bad webhook or Alertmanager setting (before anything is read).
        MissingInputError: a day was not monitored; nothing was written.
    """
    import os

    from lakeops.alert import evaluate_alerts
    from lakeops.alert.alertmanager import alertmanager_from_env
    from lakeops.alert.notify import webhook_from_env

    cfg = settings.model(model)
    days = _days(days)
    try:
        webhook = webhook_from_env(os.environ)
        alertmanager = alertmanager_from_env(os.environ)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None
    lake = open_lake(settings, session=settings.lake.backend == "native")
    _require_monitored(lake, model, days, then="judging alerts")
    return evaluate_alerts(lake, cfg, days=days, webhook=webhook, alertmanager=alertmanager)


def run_report(settings: Settings, model: str, *, days: Sequence[date]) -> ReportResult:
    """The report pages of monitored ``days`` and the model's index page (no Spark job).

    Raises:
        MissingInputError: a day was not monitored; nothing was written.
    """
    from lakeops.report import ReportResult, write_reports
    from lakeops.runs import job_run

    cfg = settings.model(model)
    days = _days(days)
    lake = open_lake(settings, session=settings.lake.backend == "native")
    _require_monitored(lake, model, days, then="drawing its report")
    with job_run(lake, job="report", model=model, days=days) as record:
        pages = tuple(write_reports(lake, model, days, config=cfg))
        record.rows_out = len(pages)
    return ReportResult(model, pages, record.job_run_id)


def _require_monitored(lake: Lake, model: str, days: Sequence[date], *, then: str) -> None:
    from lakeops.errors import MissingInputError
    from lakeops.lake.tables import monitored_days

    monitored = monitored_days(lake, model)
    missing = [d for d in days if d not in monitored]
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingInputError(f"{model}: {shown} not monitored yet: run `lakeops monitor --model {model}` on "
                                f"{'it' if len(missing) == 1 else 'them'} before {then}; nothing was written")


def run_upgrade(settings: Settings, *, dry_run: bool = False) -> UpgradePlan:
    """Bring the lakehouse to this release's table contracts (see :mod:`lakeops.upkeep.upgrade`).

    Returns the plan (``dry_run``) or what was applied. Needs no Spark session unless the
    backend is native and there is something to apply.
    """
    from lakeops.lake.storage import storage_for
    from lakeops.lake.tables import contracts
    from lakeops.upkeep import apply_upgrade, plan_upgrade

    specs = contracts(settings.models.values())
    plan = plan_upgrade(storage_for(settings.lake.root, options=settings.lake.storage_options), specs)
    if plan.refused and not dry_run:
        raise plan.refused[0].error()
    if dry_run or not plan.needed:
        return plan
    # The embedded backend's metadata commits are delta-rs's alone: no Spark session.
    lake = open_lake(settings, check=False, session=settings.lake.backend == "native" and bool(plan.changes))
    return apply_upgrade(lake, plan, specs)


def run_rewrite(settings: Settings, table: str, *, dry_run: bool = False) -> TableChange:
    """Migrate one table to its contract by rewriting it (``lakeops upgrade --rewrite``): for the
    changes an upgrade cannot make in place. Returns what differed.

    Raises:
        InvalidParameterError: ``table`` has no contract or does not exist.
    """
    from lakeops.lake.catalog import table_changes
    from lakeops.lake.storage import storage_for
    from lakeops.lake.tables import contracts
    from lakeops.names import TableName

    name = str(TableName.parse(table))
    specs = {str(s.name): s for s in contracts(settings.models.values())}
    if name not in specs:
        raise InvalidParameterError(f"{name} has no contract in this release (tables with one: {', '.join(specs)})")
    found = table_changes(storage_for(settings.lake.root, options=settings.lake.storage_options), [specs[name]])
    if not found:
        raise InvalidParameterError(f"the lakehouse has no table {name} to rewrite")
    if not dry_run:
        open_lake(settings, check=False).rewrite(specs[name], metadata={"release": __version__})
    return found[0]


def run_maintain(
    settings: Settings,
    *,
    ds: date | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MaintainResult:
    """Compact, checkpoint, vacuum (keeping registered models' lineage) and apply partition retention
    to every table (see :mod:`lakeops.upkeep.maintain`); ``ds`` records a job run and anchors retention."""
    from dataclasses import replace

    from lakeops import registry
    from lakeops.lake.tables import contracts
    from lakeops.runs import job_run
    from lakeops.upkeep import maintain
    from lakeops.upkeep.maintain import retention_days

    if ds is not None:
        _day(ds)
    specs = contracts(settings.models.values())
    retention_days(settings.maintenance, specs, ds=ds)  # refuse a bad retention before Spark starts
    # Compaction, checkpoints, vacuum and dropping partitions are delta-rs's on the embedded backend.
    lake = open_lake(settings, session=settings.lake.backend == "native")
    registry.setup(settings.mlflow, lake.root)
    lineage = registry.lineage_versions(sorted(settings.models))

    def run() -> MaintainResult:
        return maintain(lake, specs, cfg=settings.maintenance, lineage=lineage, ds=ds, dry_run=dry_run,
                        progress=progress)

    if ds is None or dry_run:
        return run()
    with job_run(lake, job="maintain", model=None, days=[ds]) as record:
        result = run()
        record.rows_in = sum(t.files_before for t in result.tables)
        record.rows_out = sum(t.files_after for t in result.tables)
    return replace(result, job_run_id=record.job_run_id)


# ----------------------------------------------------------------------------- the session


def open_lake(settings: Settings, *, check: bool = True, session: bool = True) -> Lake:
    """The lake through the one Spark session of this process (started on first use).

    ``check``: refuse a lakehouse whose tables an earlier release wrote under older contracts
    (``lakeops upgrade`` brings them up to date); only the upgrade itself skips it.
    ``session``: false for work on the logs alone (the embedded backend's upkeep): no Spark.
    """
    from lakeops.lake import open_lake as open_lake_on
    from lakeops.lake.catalog import check_contracts
    from lakeops.lake.storage import storage_for
    from lakeops.lake.tables import contracts
    from lakeops.spark import get_session

    storage = storage_for(settings.lake.root, options=settings.lake.storage_options)
    if check:  # before Spark starts: a refused lakehouse costs no JVM
        check_contracts(storage, contracts(settings.models.values()))
    if not session:
        return open_lake_on(None, settings.lake)  # type: ignore[arg-type]
    # Before the JVM starts: it inherits where its output goes.
    quiet = logs.redirect_chatter(settings.lake.root) is not None
    started = time.monotonic()
    spark = get_session(settings.spark, delta=settings.lake.backend == "native", s3=not storage.local,
                        progress=sys.stderr.isatty() and not quiet)
    log.info("Spark %s ready in %.1fs; lakehouse %s", spark.version, time.monotonic() - started, storage.describe())
    return open_lake_on(spark, settings.lake)


def _days(days: Sequence[date]) -> list[date]:
    if not days:
        raise InvalidParameterError("no days given")
    for d in days:
        _day(d)
    return sorted(set(days))


def _day(ds: object) -> date:
    if not isinstance(ds, date):
        raise InvalidParameterError(f"invalid ds {ds!r}: expected a date")
    return ds
