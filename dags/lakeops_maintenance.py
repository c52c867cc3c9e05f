"""# lakeops maintenance: keep the lakehouse quick to open and its storage bounded

One DAG `lakeops_maintenance` per lakehouse, every Sunday at 03:00 UTC:

1. **maintain** (`jobs/maintain.py --ds`) runs `lakeops maintain` over every table of the
   lakehouse: partitions older than `maintenance.partition_retention_days` are dropped (only the
   tables listed there; off by default), each partition's small files are compacted, data files
   older than `maintenance.vacuum_retention_hours` vacuumed, except every file of the features
   versions that registered model versions were trained on (their lineage stays readable by time
   travel), and the log checkpointed and its entries past `maintenance.log_retention_days` deleted.

Each step is one commit (or none) that concurrent writers survive: a daily job that commits to
a partition first wins, the compaction of that table is skipped and reported, and next week's
run compacts it. The run is recorded in `ml.job_runs` (job `maintain`).

**ds** is the start of the run's data interval (the week that ended); partition retention counts
back from it. `{"ds": "YYYY-MM-DD"}` in the run's conf overrides it.

**Retries**: 3, with exponential backoff, when the job exits with 1; none for 2 (bad config) or 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

# lakeops_airflow.py lies beside this file (see lakeops_daily.py).
if (_here := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _here)

from lakeops_airflow import CronDataIntervalTimetable, LakeopsJob, default_args

with DAG(
    dag_id="lakeops_maintenance",
    description="compact, checkpoint, vacuum (keeping models' lineage) and expire old partitions of every table",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 3 * * 0", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    # One maintenance at a time: two would compact the same partitions and one would lose.
    max_active_runs=1,
    default_args=default_args(),
    tags=["lakeops", "maintenance"],
    params={"ds": Param(None, type=["null", "string"], format="date",
                        description="the day partition retention counts back from (default: the data interval's start)")},
) as lakeops_maintenance:
    LakeopsJob(stage="maintain", model=None)
