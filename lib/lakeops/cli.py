"""The ``lakeops`` command line: parse, load config once, call one library function.

    lakeops [--lake DIR] [--env ENV] [--conf DIR] [--set key=value]... COMMAND

Commands: ``generate`` (synthetic raw tables), ``prepare`` (a model's feature
table behind the data-quality gate), ``train`` and ``validate-model`` (the
champion/challenger loop), ``score`` (batch predictions and backfills),
``shadow`` (a challenger's shadow scores beside the champion's), ``monitor`` (drift,
profiles, performance), ``alerts`` (the alert rules), ``report`` (the HTML pages), ``demo`` (the whole loop on a
fresh lakehouse), ``tables`` (what the lakehouse holds), ``upgrade`` (an older
release's lakehouse to this release's contracts), ``maintain`` (compaction,
checkpoints, vacuum, retention). Errors a user can fix print one line and
exit with 2 (bad parameter or config), 3 (the data was refused: the quality
gate, a schema mismatch; a retry will not help) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from lakeops import __version__, logs
from lakeops.config import Settings, load_settings
from lakeops.constants import (
    DEFAULT_CHUNK_DAYS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    GATE_MODES,
    SCORE_ENGINES,
    SQL_ENGINES,
    SQL_FORMATS,
)
from lakeops.dates import days_of, parse_ds
from lakeops.errors import ConfigError, DataRefusedError, InvalidParameterError, LakeopsError

log = logging.getLogger("lakeops")



def entry() -> int:
    """The ``lakeops`` command itself: :func:`main`, with Spark's and the libraries' output sent to
    the lakehouse's log file unless ``-v`` (the process is ours to redirect)."""
    try:
        return main(redirect=True)
    finally:
        logs.restore()


def main(argv: Sequence[str] | None = None, *, redirect: bool = False) -> int:
    """Run one command; returns the process exit code.

    ``redirect``: once the command opens the lakehouse, send everyone else's output to its log
    file (:mod:`lakeops.logs`); only for a process of its own, never inside a caller's.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.verbose - args.quiet, redirect=redirect)
    try:
        settings = load_settings(
            conf_dir=Path(args.conf) if args.conf else None,
            env=args.env,
            overrides=args.set,
            lake_root=args.lake or _env_lake(args.set),
        )
        return args.handler(args, settings)
    except (InvalidParameterError, ConfigError) as exc:
        _error(exc)
        return EXIT_USAGE
    except DataRefusedError as exc:
        _error(exc)
        return EXIT_REFUSED
    except LakeopsError as exc:
        _error(exc)
        return EXIT_FAILED


def _error(exc: Exception) -> None:
    print(f"lakeops: error: {exc}", file=logs.terminal())
    if logs.redirected() is not None:
        print(f"lakeops: Spark's and the libraries' output is in {logs.redirected()}", file=logs.terminal())


def run_command(command: str, argv: Sequence[str] | None = None) -> int:
    """``main`` for one command: the entry point of ``jobs/<command>.py`` under spark-submit."""
    return main([command, *(sys.argv[1:] if argv is None else argv)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakeops",
        description="Batch machine learning on a Delta Lake lakehouse.",
        epilog="Run `lakeops COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"lakeops {__version__}")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = _command(
        sub, "generate", _cmd_generate,
        help="write synthetic AIOps data: raw.telemetry, raw.incidents (and raw.scenario)",
        description="Generate synthetic telemetry and incidents for a date range. The same "
        "arguments always give identical tables; rerunning replaces the range's partitions.",
    )
    gen.add_argument("--start", required=True, type=_ds("start"), help="first day, YYYY-MM-DD")
    gen.add_argument("--end", required=True, type=_ds("end"), help="last day (inclusive), YYYY-MM-DD")
    gen.add_argument("--hosts", type=int, default=1000, help="fleet size (default 1000)")
    gen.add_argument("--rows-per-day", type=int, help="hosts reporting each day (default: all)")
    gen.add_argument("--seed", type=int, default=42, help="random seed of the world (default 42)")
    gen.add_argument(
        "--drift-start", type=_ds("drift-start"),
        help="from this day on, latency, net_in, os_version and mem_util_pct drift (written to raw.scenario)",
    )
    gen.add_argument("--drift-end", type=_ds("drift-end"),
                     help="from this day on the drift is rolled back and the data is as before (default: it stays)")

    prep = _command(
        sub, "prepare", _cmd_prepare, model=True,
        help="build a model's feature table for a day or a range, behind the data-quality gate",
        description="Check the raw partitions, run the model's feature SQL for the whole range in one Spark "
        "job, check the result, and replace the features.<model> partitions in one commit. A failed "
        "'fail' expectation writes nothing and exits with 3 (refused data: a retry will not help), listing what "
        "failed.",
    )
    prep.add_argument("--ds", type=_ds("ds"), help="one partition date, YYYY-MM-DD")
    prep.add_argument("--start", type=_ds("start"), help="first day of a range (with --end)")
    prep.add_argument("--end", type=_ds("end"), help="last day of a range, inclusive")

    tr = _command(
        sub, "train", _cmd_train, model=True,
        help="train a model on the labelled window ending at --ds and register it as challenger",
        description="Train distributed XGBoost (xgboost.spark) on features.<model>: the labelled days of "
        "train.window_days ending at --ds, the newest train.holdout_days held out. Runs the search declared "
        "in train.search (each trial a nested MLflow run), registers the best model with alias "
        "'challenger', and freezes its baselines into ml.baselines.",
    )
    tr.add_argument("--ds", required=True, type=_ds("ds"), help="the last day of the training window, YYYY-MM-DD")
    tr.add_argument("--requested-by", metavar="FINGERPRINT",
                    help="the ml.alerts fingerprint of the alert whose retrain request this answers (tagged on the "
                    "MLflow run and copied into ml.model_validations)")

    val = _command(
        sub, "validate-model", _cmd_validate, model=True,
        help="compare the challenger with the champion on the same holdout; promote it when it is better",
        description="Score the challenger and the champion on the challenger's held-out days, compare them "
        "with the model's gate thresholds, record the decision in ml.model_validations, and move the "
        "'champion' alias when the mode allows (enabled: on pass; dry_run: never; disabled: always).",
    )
    val.add_argument("--ds", required=True, type=_ds("ds"), help="the day the decision is recorded under, YYYY-MM-DD")
    val.add_argument("--mode", choices=GATE_MODES, help="override gate.mode from config")

    sc = _command(
        sub, "score", _cmd_score, model=True,
        help="score feature partitions with the champion into predictions.<model> (a day or a backfill range)",
        description="Load models:/<model>@champion (or --model-version), check features.<model> against the "
        "model's inputs, and replace the ds partitions of predictions.<model>. Days already scored "
        "by the same model version are skipped unless --force; the rest is scored in chunks of --chunk-days, "
        "each one Spark job and one atomic commit, so an interrupted backfill resumes where it stopped.",
    )
    sc.add_argument("--ds", type=_ds("ds"), help="one partition date, YYYY-MM-DD")
    sc.add_argument("--start", type=_ds("start"), help="first day of a backfill range (with --end)")
    sc.add_argument("--end", type=_ds("end"), help="last day of a backfill range, inclusive")
    sc.add_argument("--model-version", type=_positive("model-version"),
                    help="score with this registered version instead of the champion")
    sc.add_argument("--force", action="store_true", help="rescore days already scored by the same model version")
    sc.add_argument("--shadow", action="store_true",
                    help="shadow scoring: the challenger (or --model-version) scores the days into shadow.<model>, "
                    "beside the champion's served scores in predictions.<model>, which stay untouched")
    sc.add_argument("--chunk-days", type=_positive("chunk-days"), default=DEFAULT_CHUNK_DAYS,
                    help="days per Spark job and commit (default %(default)s)")
    sc.add_argument("--engine", choices=SCORE_ENGINES, default="auto",
                    help="auto (default): a compiled tree walk where it covers the model, else XGBoost's "
                    "inplace_predict; xgboost: always inplace_predict (same scores to float32 rounding)")

    sh = _command(
        sub, "shadow", _cmd_shadow, model=True,
        help="compare the challenger's shadow scores with the champion's served scores, day by day",
        description="For each day with scores in both predictions.<model> (the champion, served) and shadow.<model> "
        "(the challenger, `lakeops score --shadow`) and labels in features.<model>: both versions' realised "
        "metrics on the same rows (the metrics of the model's gate thresholds). Reads only; no Spark job.",
    )
    sh.add_argument("--ds", type=_ds("ds"), help="one day, YYYY-MM-DD")
    sh.add_argument("--start", type=_ds("start"), help="first day of a range (with --end)")
    sh.add_argument("--end", type=_ds("end"), help="last day of a range, inclusive")

    mon = _command(
        sub, "monitor", _cmd_monitor, model=True,
        help="measure a day or a range: drift (PSI, KS, JS, Wasserstein, chi-square), profiles, performance",
        description="Count each day's features and scores against the frozen baseline of the model version "
        "that scored it (one Spark job) and write ml.drift_metrics, ml.drift_counts, ml.profile_metrics, "
        "ml.performance_metrics (estimated for the days, realised for the earlier days whose labels arrived) "
        "and ml.attribution_drift for those (model, ds) partitions. A rerun gives identical rows. Then "
        "`lakeops alerts` judges the alert rules on them and `lakeops report` draws them.",
    )
    _day_options(mon)
    mon.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)  # before 0.6: monitor drew the report

    al = _command(
        sub, "alerts", _cmd_alerts, model=True,
        help="judge the model's alert rules on monitored days; tell receivers; print retrain requests",
        description="Judge the model's alert rules on what `lakeops monitor` measured for the days, in order, "
        "and replace their ml.alerts partitions. Firing and resolved alerts go to the log, to the webhook "
        "LAKEOPS_ALERT_WEBHOOK_URL (LAKEOPS_ALERT_WEBHOOK_TOKEN as bearer token) and, with "
        "LAKEOPS_ALERTMANAGER_URL, the newest day's state to Alertmanager's API. Prints any retrain request. "
        "Reads small tables only (no Spark job); a rerun writes the same rows and tells no one twice.",
    )
    _day_options(al)

    rep = _command(
        sub, "report", _cmd_report, model=True,
        help="draw the HTML report pages of monitored days",
        description="Write <lake>/reports/<model>/<ds>.html for each day and the model's index.html from the "
        "monitoring tables (drift, performance, alerts, gate decisions). Reads small tables only (no Spark job).",
    )
    _day_options(rep)

    demo = _command(
        sub, "demo", _cmd_demo,
        help="the whole loop on a fresh lakehouse: generate, prepare, train, promote, then score and monitor each day",
        description="Generate a month and a half of telemetry with drift from day 35, prepare features behind "
        "the quality gate, train and promote a champion, then score and monitor each remaining day in order "
        "(a line per day) and write the drift report. Takes a few minutes on 2 cores.",
    )
    demo.add_argument("--days", type=_positive("days"), default=45, help="days of the demo (default %(default)s)")
    demo.add_argument("--hosts", type=_positive("hosts"), default=2000, help="fleet size (default %(default)s)")
    demo.add_argument("--model", dest="models", action="append", default=[], metavar="MODEL",
                      help="run only this demo model (repeatable; default: incident_risk, latency_forecast and "
                      "incident_kind)")
    demo.add_argument("--reset", action="store_true",
                      help="remove the lakehouse first if lakeops made it (the demo needs a fresh one)")

    sq = _command(
        sub, "sql", _cmd_sql,
        help="query the lakehouse's tables with SQL (read-only; DuckDB in-process, or Spark)",
        description="Run one Spark SQL query over every lakehouse table, named <schema>.<table>. Named "
        ":parameters are bound, never pasted into the text; a value's type follows its text (YYYY-MM-DD: "
        "date, an integer, a decimal number, else a string; NAME:TYPE=VALUE forces string|date|int|float). "
        "DDL, DML and several statements are refused (exit 2) and nothing is written.",
    )
    sq.add_argument("query", nargs="?", help="the query text (or -f FILE)")
    sq.add_argument("-f", "--file", metavar="FILE", help="read the query from FILE, e.g. sql/queries/job_health.sql")
    sq.add_argument("--param", metavar="NAME=VALUE", action="append", default=[],
                    help="bind :NAME to VALUE (repeatable), e.g. --param ds=2024-01-31")
    sq.add_argument("--version", dest="versions", metavar="TABLE=N", action="append", default=[],
                    help="read TABLE at Delta version N (time travel; repeatable), e.g. --version ml.drift_metrics=3")
    sq.add_argument("--format", choices=SQL_FORMATS, default="table",
                    help="an aligned table (default), CSV with a header, or a JSON array of objects")
    sq.add_argument("--engine", choices=SQL_ENGINES, default="duckdb",
                    help="duckdb (default): in this process over the Delta snapshots, no JVM; spark: Spark SQL "
                    "over Lake.read views, for tables too large for one machine")
    sq.add_argument("--write", action="store_true",
                    help="allow a script of temporary views (and, on duckdb, temporary tables) ending in a query; "
                    "lake tables are never written")

    up = _command(
        sub, "upgrade", _cmd_upgrade,
        help="bring a lakehouse written by an earlier lakeops to this release's table contracts",
        description="List what differs between every table and this release's contracts (and whether the "
        "embedded MLflow store still points at the lakehouse's old folder), then apply it: nullable columns a "
        "contract added are added in place (older rows read null) and the contract version is recorded in "
        "each table's properties. Each step is one commit; a rerun does what is left and changes nothing "
        "once the lakehouse is current. Jobs refuse an outdated lakehouse until this has run. A change that "
        "cannot be made in place (a changed type, a removed column, other partitioning) is listed, nothing "
        "is applied, and the exit code is 3.",
    )
    up.add_argument("--dry-run", action="store_true", help="list the changes; change nothing")
    up.add_argument("--rewrite", metavar="TABLE",
                    help="migrate one table whose change cannot be made in place (a changed type, a removed column, "
                    "other partitioning) by rewriting every row under its contract, in one commit; older versions "
                    "stay readable by time travel until vacuum")

    mt = _command(
        sub, "maintain", _cmd_maintain,
        help="compact small files, checkpoint the logs, vacuum old files (keeping models' lineage), drop "
        "expired partitions",
        description="For every table: drop the partitions older than maintenance.partition_retention_days "
        "(only the tables listed there), compact each partition's small files, write a checkpoint and delete "
        "expired log entries, and vacuum data files older than maintenance.vacuum_retention_hours, keeping "
        "every file of the features versions registered model versions were trained on. Each step is one "
        "commit or none; a writer that commits first wins and the step is skipped until the next run. The "
        "weekly DAG lakeops_maintenance runs this.",
    )
    mt.add_argument("--ds", type=_ds("ds"),
                    help="the run's day, YYYY-MM-DD: partition retention counts back from it, and the run is "
                    "recorded in ml.job_runs (required when a partition retention is configured)")
    mt.add_argument("--dry-run", action="store_true",
                    help="report what would be dropped and vacuumed; change nothing (no compaction)")

    _command(
        sub, "tables", _cmd_tables,
        help="list the lakehouse's tables: rows, partitions, Delta version, last commit",
        description="List every Delta table under the lakehouse root (reads the logs only).",
    )
    for command in sub.choices.values():
        _add_global_options(command, inherited=True)
    return parser


def _day_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ds", type=_ds("ds"), help="one partition date, YYYY-MM-DD")
    parser.add_argument("--start", type=_ds("start"), help="first day of a range (with --end)")
    parser.add_argument("--end", type=_ds("end"), help="last day of a range, inclusive")


def _command(sub, name: str, handler, *, help: str, description: str, model: bool = False) -> argparse.ArgumentParser:
    """A subcommand with its handler, and ``--model`` when it acts on one."""
    parser = sub.add_parser(name, help=help, description=description)
    if model:
        parser.add_argument("--model", required=True, help="model name (a file under conf/base/models/)")
    parser.set_defaults(handler=handler)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """Options every command takes, before or after the command name.

    On a subcommand they default to ``SUPPRESS`` so they only override the
    top-level value when given there.
    """

    def default(value):
        return argparse.SUPPRESS if inherited else value

    group = parser.add_argument_group("global options") if inherited else parser
    group.add_argument(
        "--lake", metavar="DIR", default=default(None),
        help="lakehouse root (default: LAKEOPS_LAKE, else lake.root from config: ./lakehouse)",
    )
    group.add_argument(
        "--env", default=default(os.environ.get("LAKEOPS_ENV")),
        help="config overlay conf/ENV/ (default: LAKEOPS_ENV, else none)",
    )
    group.add_argument(
        "--conf", metavar="DIR", default=default(os.environ.get("LAKEOPS_CONF")), help="config folder (default: ./conf)"
    )
    group.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=default([]),
        help="override a config value, e.g. --set spark.master=local[4] (repeatable)",
    )
    group.add_argument("-v", "--verbose", action="count", default=default(0), help="more log output")
    group.add_argument("-q", "--quiet", action="count", default=default(0), help="less log output")


# ----------------------------------------------------------------------------- commands


def _cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_generate

    r = run_generate(settings, start=args.start, end=args.end, hosts=args.hosts, rows_per_day=args.rows_per_day,
                     seed=args.seed, drift_start=args.drift_start, drift_end=args.drift_end)
    print(f"raw.telemetry: {r.telemetry.rows:,} rows, raw.incidents: {r.incidents.rows:,} rows for "
          f"{args.start}..{args.end}" + (f"; drift from {args.drift_start} in raw.scenario" if r.scenario else ""))
    return EXIT_OK


def _cmd_prepare(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_prepare

    days = days_of(ds=args.ds, start=args.start, end=args.end)
    result = run_prepare(settings, args.model, days=days)
    warnings = [o for suite in result.quality for o in suite.warnings]
    for w in warnings:
        log.warning("data-quality warning: %s: %s(%s): %s", w.suite, w.expectation, w.column, w.observed)
    print(f"{result.write.table}: {result.write.rows:,} rows for {days[0]}..{days[-1]} "
          f"(version {result.write.version}, job run {result.job_run_id}, {len(warnings)} warning(s))")
    return EXIT_OK


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_train

    result = run_train(settings, args.model, ds=args.ds, requested_by=args.requested_by)
    print(f"{result.model_name} version {result.version} is the challenger: {result.summary} "
          f"(train {result.train_days[0]}..{result.train_days[-1]}, holdout "
          f"{result.holdout_days[0]}..{result.holdout_days[-1]}, MLflow run {result.mlflow_run_id})")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_validate

    d = run_validate(settings, args.model, ds=args.ds, mode=args.mode)
    champion = f"v{d.champion_version}" if d.champion_version else "none"
    print(f"{args.model}: challenger v{d.challenger_version} vs champion {champion}: {d.decision} ({d.reason})")
    return EXIT_OK


def _cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_score

    days = days_of(ds=args.ds, start=args.start, end=args.end)
    r = run_score(settings, args.model, days=days, model_version=args.model_version, force=args.force,
                  chunk_days=args.chunk_days, engine=args.engine, shadow=args.shadow)
    skipped = f", {len(r.skipped)} day(s) already scored by this version skipped" if r.skipped else ""
    table = "shadow" if args.shadow else "predictions"
    print(f"{table}.{r.model_name}: {r.rows:,} rows for {len(r.scored)} day(s) scored by {r.model_name} "
          f"v{r.model_version}{skipped} (job run {r.job_run_id})")
    return EXIT_OK


def _cmd_shadow(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.evaluate.shadow import describe
    from lakeops.stages import compare_shadow

    model = settings.model(args.model)
    days = compare_shadow(settings, args.model, days=days_of(ds=args.ds, start=args.start, end=args.end))
    if not days:
        print(f"{args.model}: no day has both served and shadow scores with labels; score the challenger with "
              "`lakeops score --shadow` and wait for the labels")
        return EXIT_OK
    known = model.gate_metrics()
    for line in describe(days, {t.metric: known[t.metric] for t in model.gate_thresholds}):
        print(line)
    return EXIT_OK


def _cmd_monitor(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_monitor

    days = days_of(ds=args.ds, start=args.start, end=args.end)
    if args.no_report:
        log.warning("--no-report is no longer needed: monitor writes the tables only; `lakeops report` draws them")
    r = run_monitor(settings, args.model, days=days)
    print(f"{'ds':<10}  {'version':>7}  {'rows':>9}  {'max PSI':>7}  {'column':<24}  status  {'nDCG':>5}  "
          "columns at alert")
    for d in r.days:
        flagged = ", ".join(d.alerts) or "-"
        ndcg = f"{d.attribution_ndcg:>5.3f}" if d.attribution_ndcg is not None else f"{'-':>5}"
        print(f"{d.ds.isoformat():<10}  {d.model_version:>7}  {d.rows:>9,}  {d.max_psi:>7.3f}  "
              f"{d.max_psi_column:<24}  {d.status:<6}  {ndcg}  {flagged}")
    print(f"ml.drift_metrics: {r.drift_rows:,} rows for {len(r.days)} day(s) (job run {r.job_run_id}); next: "
          f"`lakeops alerts` and `lakeops report` for the same days")
    return EXIT_OK


def _cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_alerts

    days = days_of(ds=args.ds, start=args.start, end=args.end)
    r = run_alerts(settings, args.model, days=days)
    shown = [a for a in r.rows if a["state"] != "pending"]
    for a in shown:
        where = f" [{a['slice_key']}={a['slice_value']}]" if a["slice_key"] else ""
        print(f"alert {a['ds']} {a['state']:<8} {a['rule']}{where} ({a['severity']}, since "
              f"{a['firing_since'] or a['first_seen']}): {a['summary']}")
    if not shown:
        print(f"no alert firing or resolved on {len(days)} day(s)")
    for q in r.retrain_requests:
        print(f"retrain requested on {q.ds} by alert {q.rule} (fingerprint {q.fingerprint}): run "
              f"`lakeops train --model {q.model_name} --ds {q.ds} --requested-by {q.fingerprint}`, then "
              "validate-model (the daily DAG's request_retrain task posts this request to lakeops_<model>_train)")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_report

    days = days_of(ds=args.ds, start=args.start, end=args.end)
    r = run_report(settings, args.model, days=days)
    *day_pages, index = r.pages
    print(f"{len(day_pages)} day page(s) written, the newest {day_pages[-1]}; the index: {index}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.demo import DemoPlan, run_demo

    plan = DemoPlan(days=args.days, hosts=args.hosts)
    if args.verbose <= 0:
        logging.getLogger("lakeops").setLevel(logging.WARNING)  # the demo prints its own lines
        logging.getLogger("lakeops.alert").setLevel(logging.ERROR)  # its alerts column and retrain lines
    run_demo(settings, plan, reset=args.reset, models=args.models)
    return EXIT_OK


def _cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_upgrade

    if args.rewrite:
        from lakeops.stages import run_rewrite

        change = run_rewrite(settings, args.rewrite, dry_run=True)
        print(f"  {change.describe()}")
        if args.dry_run:
            print("dry run: nothing was changed (run without --dry-run to rewrite it)")
            return EXIT_OK
        run_rewrite(settings, args.rewrite)
        print(f"rewritten: {change.table} under contract v{change.version}")
        return EXIT_OK
    plan = run_upgrade(settings, dry_run=True)
    print(f"lakehouse {plan.root}: {len(plan.tables)} table(s) with contracts (lakeops {__version__})")
    for line in plan.lines():
        print(f"  {line}")
    if plan.refused:
        print("nothing was changed: the table(s) above need a rewrite first", file=sys.stderr)
        return EXIT_REFUSED
    if not plan.needed:
        print("the lakehouse is up to date: nothing to change")
        return EXIT_OK
    if args.dry_run:
        print("dry run: nothing was changed (run without --dry-run to apply)")
        return EXIT_OK
    done = run_upgrade(settings)
    print(f"upgraded: {len(done.changes)} table(s)" + (", the MLflow store's artifact locations" if done.store else ""))
    return EXIT_OK


def _cmd_maintain(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.stages import run_maintain

    r = run_maintain(settings, ds=args.ds, dry_run=args.dry_run, progress=lambda line: print(f"  {line}", flush=True))
    before, after = sum(t.files_before for t in r.tables), sum(t.files_after for t in r.tables)
    verb = "would vacuum" if r.dry_run else "vacuumed"
    print(f"{len(r.tables)} table(s) in {r.seconds:.1f} s: {before} -> {after} data files, {verb} "
          f"{sum(t.vacuumed for t in r.tables)} file(s)" + (f" (job run {r.job_run_id})" if r.job_run_id else "")
          + (" (dry run: nothing was changed)" if r.dry_run else ""))
    return EXIT_OK


def _cmd_tables(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.lake.catalog import format_tables, list_tables
    from lakeops.lake.storage import storage_for

    storage = storage_for(settings.lake.root, options=settings.lake.storage_options)  # a folder or an s3:// prefix
    print(f"lakehouse: {storage.describe()}")
    print(format_tables(list_tables(storage)))
    return EXIT_OK


def _cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from lakeops.sql import parse_params, parse_versions, query, query_spark
    from lakeops.sql.output import render

    if (args.query is None) == (args.file is None):
        raise InvalidParameterError("give the query as an argument or with -f FILE, not both or neither")
    try:
        text = Path(args.file).read_text() if args.file else args.query
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(f"cannot read the query file {args.file}: {exc}") from None
    options = dict(params=parse_params(args.param), versions=parse_versions(args.versions), write=args.write)
    if args.engine == "spark":
        from lakeops.stages import open_lake

        table = query_spark(open_lake(settings), text, **options)
    else:
        table = query(settings.lake.root, text, **options)
    print(render(table, fmt=args.format))
    return EXIT_OK


# ----------------------------------------------------------------------------- helpers


def _positive(option: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"invalid --{option} {text!r}: expected a positive integer")
        return value

    parse.__name__ = "int"
    return parse


def _ds(option: str):
    def parse(text: str) -> date:
        try:
            return parse_ds(text, option=option)
        except InvalidParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "date"
    return parse


def _env_lake(overrides: Sequence[str]) -> str | None:
    """LAKEOPS_LAKE, unless ``--set lake.root=...`` said otherwise."""
    if any(item.split("=", 1)[0].strip() == "lake.root" for item in overrides):
        return None
    return os.environ.get("LAKEOPS_LAKE") or None


if __name__ == "__main__":
    sys.exit(entry())
