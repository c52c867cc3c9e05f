"""The daily DAG on a real Airflow 3 with real spark-submits, against a small generated lake.

The lake (300 hosts; features of 2024-01-31..02-09; a champion trained on 02-08) is built
in this process through ``lakeops.stages``; 02-15's raw partition is then duplicated, so
its quality gate fails. One Airflow home (PostgreSQL, LocalExecutor, the connection
``spark_default`` with a planted secret, Variables for the lake and the MLflow server) serves
every test. MLflow is the session's tracking server (``mlflow server`` on the same PostgreSQL):
the champion is trained on it here, and the tasks' jobs log to it and load models from it.

1. ``airflow dags test`` runs 02-10 end to end (in-process, no scheduler);
2. with api-server, scheduler and dag-processor running: a backfill of 02-12..02-13 in
   which the first score of 02-12 exits with 1, with a manual run of the bad day 02-15 (ds in
   its conf) beside it; then the score task of 02-13 cleared, which the scheduler runs again;
3. the same two days scored and monitored one after the other through the stage
   entries, for reference;
4. ``airflow dags test`` of the weekly maintenance DAG over the lake all that wrote.

Days are a few apart because a manual run's logical date is the day after its ds, and
two runs of a DAG cannot share a logical date.
"""

from __future__ import annotations

import json
import secrets
import time
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import psycopg2
import pytest
from alert_receiver import Receiver
from lakedata import fingerprint
from local_airflow import PROJECT, LocalAirflow, dump

from lakeops import stages
from lakeops.dates import date_range
from lakeops.lake.tables import TELEMETRY

pytestmark = pytest.mark.slow

M = "incident_risk"
DAILY = f"lakeops_{M}_daily"
HOSTS = 300
TRAIN_DS = date(2024, 2, 8)
DAY = date(2024, 2, 10)  # airflow dags test DAILY 2024-02-11
DAYS = [date(2024, 2, 12), date(2024, 2, 13)]  # the backfill (two runs at once: max-active-runs 2)
FLAKY = DAYS[0]  # its first score exits with 1, so that its monitor would come after the next day's
BAD = date(2024, 2, 15)  # duplicated raw partition: prepare exits with 3
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def world(spark, settings, mlflow_server, tmp_path_factory):
    """Settings and lake of a small lakehouse with a champion on the MLflow server."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("airflow-lake") / "lake"
    s = replace(settings, lake=replace(settings.lake, root=str(root)),
                mlflow=replace(settings.mlflow, tracking_uri=mlflow_server.url))
    model = s.model(M)
    s = replace(s, models={**s.models, M: replace(model, train=replace(model.train, search=replace(
        model.train.search, trials=1)))})
    stages.run_generate(s, start=date(2024, 1, 1), end=BAD, hosts=HOSTS, seed=3)
    stages.run_prepare(s, M, days=date_range(date(2024, 1, 31), date(2024, 2, 9)))
    stages.run_train(s, M, ds=TRAIN_DS)
    decision = stages.run_validate(s, M, ds=TRAIN_DS)
    assert decision.decision == "promoted", decision.reason
    lake = stages.open_lake(s)
    day = lake.read("raw.telemetry", where={"ds": [BAD]}).cache()
    lake.overwrite(day.unionByName(day), TELEMETRY, partitions={"ds": [BAD]})
    day.unpersist()
    TIMINGS["lake"] = time.monotonic() - started
    return s, lake


@pytest.fixture(scope="module")
def airflow(world, postgres, tmp_path_factory):
    """The Airflow home: migrated DB, spark_default (local[2]) holding a secret, the lakeops Variables
    (the lake, the test config, the MLflow server)."""
    s, _ = world
    home = tmp_path_factory.mktemp("airflow-home")
    af = LocalAirflow(home, postgres, LAKEOPS_RETRY_DELAY_SECONDS="5")
    af.secrets = [f"pw-{secrets.token_hex(12)}", f"tok-{secrets.token_hex(12)}"]
    af.cli("db", "migrate")
    af.cli("connections", "add", "spark_default", "--conn-type", "spark", "--conn-host", "local[2]",
           "--conn-password", af.secrets[0],
           "--conn-extra", json.dumps({"deploy-mode": "client", "token": af.secrets[1]}))
    variables = home / "variables.json"
    variables.write_text(json.dumps({"lakeops_lake": s.lake.root, "lakeops_conf": str(PROJECT / "conf"),
                                     "lakeops_env": "test", "lakeops_set": f"models.{M}.train.search.trials=1",
                                     "lakeops_mlflow_tracking_uri": s.mlflow.tracking_uri}))
    af.cli("variables", "import", str(variables))
    try:
        yield af
    finally:
        af.stop()


@dataclass
class Scheduled:
    first: dict  # ds -> (run_id, state, {task: (state, try)}) after the backfill
    cleared: tuple  # (state, {task: (state, try)}) of the last day's run after its score was cleared
    bad: tuple  # (state, {task: (state, try)}) of the bad day's run
    fingerprints: tuple[dict, dict]  # of the backfilled days' tables after the backfill, after the clear
    predictions_versions: tuple[int, int]


@pytest.fixture(scope="module")
def scheduled(world, airflow, tmp_path_factory) -> Scheduled:
    """The backfill with the bad day's manual run beside it, then the last day's score cleared and run
    again, through the scheduler."""
    _, lake = world
    home = _flaky_home(tmp_path_factory.mktemp("lakeops-home"))
    airflow.cli("variables", "set", "lakeops_home", str(home))
    days = (DAYS[0].isoformat(), DAYS[-1].isoformat())
    started = time.monotonic()
    airflow.start()
    airflow.wait(lambda: airflow.query("select 1 from serialized_dag where dag_id = %s", DAILY), 120,
                 f"{DAILY} to be parsed")
    TIMINGS["services start"] = time.monotonic() - started
    try:
        started = time.monotonic()
        airflow.cli("dags", "trigger", DAILY, "--run-id", "bad_day", "--conf", json.dumps({"ds": BAD.isoformat()}))
        first = airflow.backfill(DAILY, *days, "--reprocess-behavior", "failed", "--max-active-runs", "2")
        bad = (airflow.wait_for_run(DAILY, "bad_day"), airflow.task_states(DAILY, "bad_day"))
        TIMINGS["backfill, beside the bad day"] = time.monotonic() - started
        after_first = _states(airflow, first)
        fp_first, v_first = _fingerprints(lake), lake.version(f"predictions.{M}")

        # An operator's rerun of a finished task: the last day's score, cleared (not its downstream).
        started = time.monotonic()
        run_id = after_first[DAYS[-1].isoformat()][0]
        (logical,), = airflow.query("select logical_date from dag_run where dag_id = %s and run_id = %s", DAILY, run_id)
        # Airflow 3's --task-regex matches task ids containing the text (no regex): "score" is score alone.
        airflow.cli("tasks", "clear", DAILY, "--task-regex", "score", "--start-date", logical.isoformat(),
                    "--end-date", logical.isoformat(), "--yes")
        cleared = (airflow.wait_for_run(DAILY, run_id), airflow.task_states(DAILY, run_id))
        TIMINGS["a cleared score"] = time.monotonic() - started
        fp_cleared, v_cleared = _fingerprints(lake), lake.version(f"predictions.{M}")
    finally:
        airflow.stop()
    return Scheduled(after_first, cleared, bad, (fp_first, fp_cleared), (v_first, v_cleared))


def test_airflow_dags_test_runs_a_day_green_end_to_end(world, airflow):
    """One day end to end; an alert rule (set for this run only) fires, tells a receiver on 127.0.0.1
    and asks for a retrain, whose asset event queues a run of the train DAG."""
    s, lake = world
    token = f"hook-{secrets.token_hex(12)}"
    airflow.secrets.append(token)
    # Judged on the estimate's value (not its band) and asking at once: this run checks the plumbing.
    rule = ("{name: retrain_now, when: estimated_auc, below: 0.99, retrain: true, severity: critical, "
            "uncertainty: point}")
    started = time.monotonic()
    airflow.cli("dags", "reserialize")  # the train DAG too: its asset schedule is what gets queued
    with Receiver() as receiver:
        airflow.env.update({
            "AIRFLOW_CONN_LAKEOPS_ALERTS": json.dumps({"conn_type": "http", "host": receiver.url, "password": token}),
            "AIRFLOW_VAR_LAKEOPS_SET": f"models.{M}.train.search.trials=1 'models.{M}.alerts.rules=[{rule}]' "
                                       f"models.{M}.alerts.retrain_after_labelled_days=0",
        })
        try:
            done = airflow.cli("dags", "test", DAILY, "2024-02-11", check=False)
        finally:
            for key in ("AIRFLOW_CONN_LAKEOPS_ALERTS", "AIRFLOW_VAR_LAKEOPS_SET"):
                airflow.env.pop(key)
    TIMINGS["dags test"] = time.monotonic() - started
    # Kept with the task logs for the secret check: dags test prints the tasks' logs.
    (airflow.home / "logs" / "dags-test.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    (run_id, state), = airflow.query("select run_id, state from dag_run where dag_id = %s and logical_date = %s",
                                     DAILY, "2024-02-11T00:00:00+00:00")
    assert state == "success"
    assert airflow.task_states(DAILY, run_id) == {t: ("success", 1) for t in ("wait_for_raw", "prepare", "score",
                                                                             "monitor", "alerts", "report",
                                                                             "request_retrain")}
    assert f"--ds {DAY}" in done.stdout  # a manual run covers the day before its logical date

    assert lake.read(f"predictions.{M}", where={"ds": [DAY]}).count() == HOSTS
    assert lake.read("ml.drift_metrics", where={"model_name": [M], "ds": [DAY]}).count() > 0
    assert (Path(s.lake.root) / "reports" / M / f"{DAY}.html").is_file()

    # The alert: in ml.alerts, at the receiver (Alertmanager's payload, the connection's token) ...
    (alert,) = [r for r in lake.read_arrow("ml.alerts", where={"model_name": [M], "ds": [DAY]}).to_pylist()
                if r["rule"] == "retrain_now"]
    assert alert["state"] == "firing" and alert["retrain_requested"] and alert["notification"] == "sent"
    (body,) = receiver.requests
    assert body["status"] == "firing" and body["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert receiver.headers[0]["Authorization"] == f"Bearer {token}"
    # ... and the retrain request: an asset event with the day and the alert, queued for the train DAG.
    events = airflow.query("select e.extra from asset_event e join asset a on a.id = e.asset_id where a.uri = %s",
                           f"lakeops://requests/retrain/{M}")
    assert [e for (e,) in events] == [{"model": M, "ds": DAY.isoformat(), "requested_by": alert["fingerprint"],
                                      "rule": "retrain_now"}]
    queued = airflow.query("select q.target_dag_id from asset_dag_run_queue q join asset a on a.id = q.asset_id "
                           "where a.uri = %s", f"lakeops://requests/retrain/{M}")
    assert queued == [(f"lakeops_{M}_train",)]


def test_a_backfill_equals_sequential_runs_and_running_a_task_again_changes_nothing(world, scheduled):
    s, lake = world
    after = scheduled.first
    assert {ds: state for ds, (_, state, _) in after.items()} == {d.isoformat(): "success" for d in DAYS}, dump(after)
    state, tasks = scheduled.cleared
    assert state == "success" and tasks["score"] == ("success", 2), dump(tasks)
    assert {t: v for t, v in tasks.items() if t != "score"} == {
        t: v for t, v in after[DAYS[-1].isoformat()][2].items() if t != "score"}, "only the cleared task ran again"
    first, second = scheduled.fingerprints
    assert second == first
    # The rerun scored nothing: the day had been scored by the champion already.
    assert scheduled.predictions_versions[1] == scheduled.predictions_versions[0]

    assert first[f"predictions.{M}"][0] == first[f"features.{M}"][0] == HOSTS * len(DAYS)

    # The same days one after the other through the stage entries the jobs call. Scoring and
    # monitoring are what a concurrent backfill could get wrong: consecutive drift compares a
    # day with the one monitored before it. (Features depend on raw data only: a day's
    # features are checked against an independent computation in tests/features.)
    started = time.monotonic()
    for d in DAYS:
        stages.run_score(s, M, days=[d], force=True)
        stages.run_monitor(s, M, days=[d])
    TIMINGS["sequential score+monitor runs in-process"] = time.monotonic() - started
    assert _fingerprints(lake) == first


def test_a_transient_failure_is_retried_and_refused_data_is_not(airflow, scheduled):
    tries = {ds: {task: tried for task, (_, tried) in tasks.items()} for ds, (_, _, tasks) in scheduled.first.items()}
    for d in DAYS:
        # No alert asks for a retrain in these days: request_retrain ran and skipped.
        expected = {"wait_for_raw": 1, "prepare": 1, "score": 2 if d == FLAKY else 1, "monitor": 1, "alerts": 1,
                    "report": 1, "request_retrain": 1}
        assert tries[d.isoformat()] == expected, dump(scheduled.first)
    run_id = scheduled.first[FLAKY.isoformat()][0]
    flaky_log = _log(airflow, run_id, "score", 1)
    assert "injected transient failure" in flaky_log and "Error code is: 1" in flaky_log

    state, tasks = scheduled.bad
    assert state == "failed"
    assert tasks == {"wait_for_raw": ("success", 1), "prepare": ("failed", 1),
                     "score": ("upstream_failed", 0), "monitor": ("upstream_failed", 0),
                     "alerts": ("upstream_failed", 0), "report": ("upstream_failed", 0),
                     "request_retrain": ("upstream_failed", 0)}, dump(tasks)
    bad_log = _log(airflow, "bad_day", "prepare", 1)
    assert "exited with 3: the data was refused" in bad_log and "AirflowFailException" in bad_log
    assert "lakeops: error:" in bad_log  # the job's own account of what failed


def test_no_secret_reaches_logs_xcom_run_conf_mlflow_or_delta(world, airflow, scheduled, mlflow_server):
    s, lake = world
    leaks, files = [], 0
    for root in (airflow.home, Path(s.lake.root)):
        for path in root.rglob("*"):
            if path.is_file():
                files += 1
                data = path.read_bytes()
                leaks += [f"{path}: {secret}" for secret in airflow.secrets if secret.encode() in data]
    # The metadata DB, table by table (bytea read as bytes).
    tables = [name for (name,) in airflow.query("select tablename from pg_tables where schemaname = 'public'")]
    # `log` is the CLI's audit log, holding this test's own `airflow connections add` command line.
    for table in sorted(set(tables) - {"log"}):
        text = repr(airflow.query(f'select * from "{table}"'))
        leaks += [f"metadata table {table}: {secret}" for secret in airflow.secrets if secret in text]
    job_runs = repr(lake.read_arrow("ml.job_runs").to_pylist())
    leaks += [f"ml.job_runs: {secret}" for secret in airflow.secrets if secret in job_runs]
    # The MLflow server's database, table by table: runs, params, tags, registered versions.
    mlflow_tables = _tables(mlflow_server.backend_store_uri)
    for table, rows in mlflow_tables.items():
        leaks += [f"MLflow table {table}: {secret}" for secret in airflow.secrets if secret in rows]
    assert leaks == []
    # What was searched held what it should: task logs with the submit commands, the Delta logs, MLflow.
    logs = "".join(p.read_text(errors="replace") for p in (airflow.home / "logs").rglob("*.log"))
    # prepare, score and monitor spark-submit; alerts, report and maintain run as Python processes (embedded lake).
    assert logs.count("Spark-Submit cmd") >= 3 * len(DAYS) + 3
    assert logs.count("Python job cmd") >= 2 * len(DAYS) + 2
    assert {"xcom", "dag_run", "rendered_task_instance_fields", "asset_event"} <= set(tables)
    assert any(Path(s.lake.root).rglob("_delta_log/*.json"))
    assert M in mlflow_tables["registered_models"] and "champion" in mlflow_tables["registered_model_aliases"]
    # Every job logged to the server: none fell back to the lake's embedded store.
    assert not (Path(s.lake.root) / "mlflow.db").exists()
    assert files > 100
    print("\n" + "\n".join(f"{name}: {seconds:.0f}s" for name, seconds in TIMINGS.items()))


def test_the_maintenance_dag_compacts_the_lake_and_changes_no_row(world, airflow, scheduled):
    """The weekly DAG's one task, spark-submitted as the others are, on the lake the runs above wrote."""
    s, lake = world
    tables = [f"features.{M}", f"predictions.{M}", "ml.drift_metrics", "ml.data_quality", "raw.telemetry"]
    before = {t: fingerprint(lake.read(t)) for t in tables}
    done = airflow.cli("dags", "test", "lakeops_maintenance", "2024-02-18", "--conf", '{"ds": "2024-02-17"}',
                       check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "--ds 2024-02-17" in done.stdout and "features.incident_risk: files" in done.stdout
    assert {t: fingerprint(lake.read(t)) for t in tables} == before
    (run,) = [r for r in lake.read_arrow("ml.job_runs").to_pylist() if r["job"] == "maintain"]
    assert run["status"] == "success" and run["model_name"] is None and run["rows_out"] <= run["rows_in"]
    # ml.job_runs got a file per run: one now, and the maintenance run's own row after it.
    assert lake.file_count("ml.job_runs") == 2
    assert all(lake.log_entries(t)[1] == 0 for t in tables)  # opening a table replays no JSON commit


# ----------------------------------------------------------------------------- helpers


FLAKY_SCORE = '''"""jobs/score.py, except that its first run for {ds} exits with 1, as a transient failure would."""
import runpy
import sys
from pathlib import Path

marker = Path(__file__).with_name("score-failed-once")
if "{ds}" in sys.argv and not marker.exists():
    marker.touch()
    print("injected transient failure: exiting with 1", flush=True)
    sys.exit(1)
sys.argv[0] = {real!r}
runpy.run_path({real!r}, run_name="__main__")
'''


def _flaky_home(home: Path) -> Path:
    """A ``lakeops_home`` whose jobs are the project's, but for a score that fails once for FLAKY."""
    jobs = home / "jobs"
    jobs.mkdir()
    for job in sorted((PROJECT / "jobs").glob("*.py")):
        if job.name == "score.py":
            (jobs / job.name).write_text(FLAKY_SCORE.format(ds=FLAKY.isoformat(), real=str(job)))
        else:
            (jobs / job.name).symlink_to(job)
    return home


def _states(airflow: LocalAirflow, backfill_id: int) -> dict:
    return {ds: (run_id, state, airflow.task_states(DAILY, run_id))
            for ds, (run_id, state) in airflow.runs(DAILY, backfill_id).items()}


def _fingerprints(lake) -> dict:
    days = list(DAYS)
    return {
        f"features.{M}": fingerprint(lake.read(f"features.{M}", where={"ds": days})),
        f"predictions.{M}": fingerprint(lake.read(f"predictions.{M}", where={"ds": days})),
        "ml.drift_metrics": fingerprint(lake.read("ml.drift_metrics", where={"model_name": [M], "ds": days})),
    }


def _tables(database: str) -> dict[str, str]:
    """Every table of a PostgreSQL database (public schema) as the repr of its rows."""
    with closing(psycopg2.connect(database)) as db:
        db.set_session(readonly=True, autocommit=True)
        with db.cursor() as cursor:
            cursor.execute("select tablename from pg_tables where schemaname = 'public'")
            tables = sorted(name for (name,) in cursor.fetchall())
            out = {}
            for table in tables:
                cursor.execute(f'select * from "{table}"')
                out[table] = repr([tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                                   for row in cursor.fetchall()])
    return out


def _log(airflow: LocalAirflow, run_id: str, task_id: str, attempt: int) -> str:
    path = airflow.home / "logs" / f"dag_id={DAILY}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={attempt}.log"
    return path.read_text(errors="replace")
