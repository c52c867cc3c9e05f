"""# lakeops daily: prepare, score, monitor, judge and report one day

One DAG `lakeops_<model>_daily` per model config under `conf/base/models/`:

1. **wait_for_raw** (a sensor in reschedule mode: it holds no worker slot while it waits)
   until the day's partition of the model's raw observations table (`raw.telemetry`)
   is committed to that table's Delta log;
2. **prepare** (`jobs/prepare.py`) builds the day's `features.<model>` partition behind the
   data-quality gate, and again the model's `label_delay_days` days before it, whose labels
   have arrived since; a failed gate exits with 3 and fails the run at once, without retries.
   Two runs' prepares overlap by those days, so prepare waits for the previous run's prepare
   (`depends_on_past`): in a backfill, the days are prepared in order rather than colliding
   on a shared partition (the lake would refuse the second commit, and the task would retry);
3. **score** (`jobs/score.py`) writes the day's `predictions.<model>` with the champion;
4. **monitor** (`jobs/monitor.py`) measures the day: `ml.drift_metrics`, `ml.drift_counts`,
   `ml.profile_metrics`, `ml.performance_metrics` (estimated for the day, realised for the
   earlier days whose labels arrived) and `ml.attribution_drift`. Consecutive drift compares a
   day with the day monitored before it, so monitor waits for the previous run's monitor
   (`depends_on_past`): days are monitored in order, in a backfill too;
5. **alerts** (`jobs/alerts.py`) judges the model's alert rules on the day (`ml.alerts`), in order
   too (`depends_on_past`: a day's alert states follow the previous day's): firing and resolved
   alerts go to the receiver of the connection `lakeops_alerts` (host: its URL, password: a bearer
   token; Alertmanager's webhook payload), and a failing receiver is recorded, never failing the
   task; every alert firing on the day (and those that resolved) goes to the Alertmanager of the
   connection `lakeops_alertmanager` (host: its base URL) through its API, when there is one;
6. **report** (`jobs/report.py`) draws the day's page `<lake>/reports/<model>/<ds>.html` and the index;
7. **request_retrain** posts an asset event on `lakeops://requests/retrain/<model>` with
   `{"ds", "requested_by": <alert fingerprint>, "rule"}` when a firing alert asked for a
   retrain that day (at most one per `alerts.retrain_cooldown_days`, none when the day's
   data-quality gate failed); `lakeops_<model>_train` runs on it. Skipped otherwise.

Each task's outlets and inlets are the tables its stage writes and reads, as `lakeops.stage_io`
declares them. A task reruns alone: clearing `report` redraws the page and judges nothing again.

**ds** is the start of the run's data interval: the scheduled run (and a backfill's run) of
2024-01-31 processes 2024-01-31, after the day has ended. A manual run covers the last complete
day before its logical date: `airflow dags test lakeops_<model>_daily 2024-02-01` processes
2024-01-31. `{"ds": "YYYY-MM-DD"}` in the run's conf overrides both; a run with neither fails.

**Retries**: 3, with exponential backoff, when a job exits with 1 (possibly transient); none
when it exits with 2 (bad argument or config) or 3 (refused data: quality gate, schema).

**Backfill**: `airflow backfill create --dag-id lakeops_<model>_daily --from-date D1 --to-date D2
--reprocess-behavior failed` (Airflow asks for a reprocess behavior because monitor depends on
the past). Rerunning days changes nothing: scoring skips days already scored by the champion.

Each job pushes its run's metrics (`lakeops_job_*`) to the Pushgateway of the connection
`lakeops_pushgateway` (host: its base URL), when there is one.

Each job is spark-submitted to the connection `spark_default`; the lakehouse, config and
environment come from the Variables (or environment variables) `lakeops_lake`, `lakeops_conf`,
`lakeops_env`, read when a task runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, chain, task

# lakeops_airflow.py lies beside this file. The DAG processor puts the bundle's folder (dags/)
# on sys.path, but not every entry point that parses this file does (`airflow dags list
# --local`, `airflow dags test`, `python dags/<file>.py`): put it there ourselves.
if (_here := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _here)

from lakeops_airflow import (
    CronDataIntervalTimetable,
    LakeopsJob,
    Model,
    default_args,
    models,
    post_retrain_request,
    raw_partition_committed,
    retrain_request,
)


def build(model: Model) -> DAG:
    """The daily DAG of one model."""
    m = model.name
    with DAG(
        dag_id=f"lakeops_{m}_daily",
        description=f"{m}: wait for the day's raw partition, then prepare, score, monitor, judge and report it",
        doc_md=f"{__doc__}\n**Model `{m}`**: {model.description}\n",
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        # Past days are backfilled on purpose (airflow backfill create), never by a deployment.
        catchup=False,
        default_args=default_args(),
        tags=["lakeops", m, "daily"],
        params={"ds": Param(None, type=["null", "string"], format="date",
                            description="the day to process (default: the run's data interval)")},
    ) as dag:
        wait = task.sensor(task_id="wait_for_raw", mode="reschedule", poke_interval=600,
                           timeout=pendulum.duration(hours=24))(raw_partition_committed)(m)
        prepare = LakeopsJob(stage="prepare", model=model, with_label_delay=True, depends_on_past=True)
        score = LakeopsJob(stage="score", model=model)
        monitor = LakeopsJob(stage="monitor", model=model, depends_on_past=True)
        alerts = LakeopsJob(stage="alerts", model=model, depends_on_past=True)
        report = LakeopsJob(stage="report", model=model)
        request = task(task_id="request_retrain", outlets=[retrain_request(m)])(post_retrain_request)(m)
        chain(wait, prepare, score, monitor, alerts, [report, request])
    return dag


for _model in models():
    globals()[f"lakeops_{_model.name}_daily"] = build(_model)
