"""# lakeops train: retrain a model, promote it when it beats the champion

One DAG `lakeops_<model>_train` per model config under `conf/base/models/`. It runs every
Monday at 04:00 UTC, and whenever an asset event on `lakeops://requests/retrain/<model>`
asks for a retrain with `{"ds": "YYYY-MM-DD"}` in its extra:

1. **wait_for_labels** (a sensor in reschedule mode) until the raw observations partition of
   the day after `ds` is committed: the labels of `ds` come from that day;
2. **prepare_window** (`jobs/prepare.py --start --end`) rebuilds `features.<model>` for the
   `train.window_days` ending at `ds`, behind the data-quality gate, so that the labels of days
   prepared before their next day had arrived are filled in;
3. **train** (`jobs/train.py --ds`) trains on that window, logs to MLflow, registers the
   version as `challenger` and writes its `ml.baselines`; a run triggered by a retrain request
   passes the requesting alert's fingerprint (`--requested-by`), which the MLflow run and the
   gate's `ml.model_validations` row carry;
4. **shadow_score** (`jobs/score.py --shadow`) has the new challenger score its held-out days
   (the newest `train.holdout_days` up to `ds`) into `shadow.<model>`, beside the champion's
   served scores of the same days: `lakeops shadow` and the report compare the two there;
5. **validate_model** (`jobs/validate_model.py --ds`) runs the champion/challenger gate,
   records it in `ml.model_validations` and moves `champion` on a pass (`gate.mode`).

**ds**: `{"ds": ...}` in the run's conf, else in the newest triggering asset event's extra,
else two days before the scheduled run (yesterday's raw partition lands after midnight, so
the newest labelled day is the day before yesterday). A run with none of them fails.

The daily DAG's **request_retrain** task posts these events when an alert asks for a retrain
(`{"ds": <the day>, "requested_by": <fingerprint>, "rule": ...}`); the run then waits for the
next day's raw partition, which brings the labels of that day. By hand: post an asset event,
e.g. the REST API's `POST /api/v2/assets/events`
with `{"asset_id": <id of lakeops://requests/retrain/<model>>, "extra": {"ds": "2024-01-30"}}`,
or a task with `outlets=[Asset("lakeops://requests/retrain/<model>")]` that yields
`Metadata(that_asset, {"ds": ...})`; or trigger this DAG with conf `{"ds": ...}`.

**Retries**: 3, with exponential backoff, when a job exits with 1; none for 2 or 3.
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
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    LakeopsJob,
    Model,
    default_args,
    models,
    raw_partition_committed,
    retrain_request,
)

#: A scheduled run trains on the window ending this many days before it.
LAG_DAYS = 2


def build(model: Model) -> DAG:
    """The training DAG of one model."""
    m = model.name
    with DAG(
        dag_id=f"lakeops_{m}_train",
        description=f"{m}: prepare the training window, train, and promote through the champion gate",
        doc_md=f"{__doc__}\n**Model `{m}`**: {model.description}\n",
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 4 * * 1", timezone="UTC"),
                                     assets=[retrain_request(m)]),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        # One training at a time: each registers a version and may move the champion alias.
        max_active_runs=1,
        default_args=default_args(),
        tags=["lakeops", m, "train"],
        params={"ds": Param(None, type=["null", "string"], format="date",
                            description="the last day of the training window (default: two days before the run)")},
    ) as dag:
        wait = task.sensor(task_id="wait_for_labels", mode="reschedule", poke_interval=600,
                           timeout=pendulum.duration(hours=24))(raw_partition_committed)(m, days_after=1,
                                                                                         lag_days=LAG_DAYS)
        prepare = LakeopsJob(stage="prepare", task_id="prepare_window", model=model, window=True, lag_days=LAG_DAYS)
        train = LakeopsJob(stage="train", model=model, lag_days=LAG_DAYS)
        shadow = LakeopsJob(stage="shadow_score", model=model, lag_days=LAG_DAYS, holdout=True)
        validate = LakeopsJob(stage="validate_model", model=model, lag_days=LAG_DAYS)
        chain(wait, prepare, train, shadow, validate)
    return dag


for _model in models():
    globals()[f"lakeops_{_model.name}_train"] = build(_model)
