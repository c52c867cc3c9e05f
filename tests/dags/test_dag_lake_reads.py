"""What the DAGs' task bodies decide from the lake, without a scheduler: the raw-partition sensor
(:func:`partition_committed`) and the retrain request (:func:`retrain_requests`).

The tables are written with delta-rs here; the helpers run in a fresh Python that imports
``dags/lakeops_airflow.py`` (as test_dag_integrity does: the test process keeps its own modules
and Airflow configuration), with no Airflow context and no metadata DB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from local_airflow import PROJECT, base_env

D1, D2, D3 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)

DECIDE = r"""
import json, sys
from datetime import date

sys.path.insert(0, sys.argv[1])
from lakeops_airflow import partition_committed, retrain_requests

def attempt(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"

out = {}
for key, (kind, lake, *args) in json.loads(sys.argv[2]).items():
    if kind == "committed":
        table, day = args
        out[key] = attempt(partition_committed, lake, table, date.fromisoformat(day))
    else:
        model, day = args
        out[key] = attempt(retrain_requests, lake, model, date.fromisoformat(day))
print(json.dumps(out))
"""


def decide(tmp_path: Path, cases: dict[str, list]) -> dict:
    env = base_env(tmp_path / "airflow-home")
    done = subprocess.run([sys.executable, "-c", DECIDE, str(PROJECT / "dags"), json.dumps(cases)], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def write(root: Path, name: str, table: pa.Table, **kwargs) -> None:
    from deltalake import write_deltalake

    schema, table_name = name.split(".")
    write_deltalake(str(root / schema / table_name), table, mode="append", **kwargs)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dag-reads") / "lake"
    # A raw table partitioned by (ds, region): D1 in eu and us, D2 in us only.
    write(root, "raw.regional", pa.table({
        "ds": pa.array([D1, D1, D2], pa.date32()), "region": ["eu", "us", "us"], "value": pa.array([1, 2, 3], pa.int64()),
    }), partition_by=["ds", "region"])
    # The contract's shape: partitioned by ds alone.
    write(root, "raw.daily", pa.table({"ds": pa.array([D1], pa.date32()), "value": pa.array([1], pa.int64())}),
          partition_by=["ds"])
    write(root, "raw.by_region", pa.table({"region": ["eu"], "value": pa.array([1], pa.int64())}),
          partition_by=["region"])
    # ml.alerts, the columns the request reads (and its partitioning): model m asked on D1 (one rule of two).
    write(root, "ml.alerts", pa.table({
        "ds": pa.array([D1, D1, D2, D1], pa.date32()),
        "model_name": ["m", "m", "m", "other"],
        "rule": ["drift", "auc", "drift", "drift"],
        "fingerprint": ["a" * 16, "b" * 16, "c" * 16, "d" * 16],
        "retrain_requested": [False, True, False, True],
    }), partition_by=["model_name", "ds"])
    return root


def test_partition_committed_and_retrain_requests(lake, tmp_path):
    root = str(lake)
    cases = {
        "regional_d1": ["committed", root, "raw.regional", D1.isoformat()],
        "regional_d2_us_only": ["committed", root, "raw.regional", D2.isoformat()],
        "regional_d3": ["committed", root, "raw.regional", D3.isoformat()],
        "daily_d1": ["committed", root, "raw.daily", D1.isoformat()],
        "daily_d2": ["committed", root, "raw.daily", D2.isoformat()],
        "missing_table": ["committed", root, "raw.nope", D1.isoformat()],
        "missing_lake": ["committed", str(lake / "nowhere"), "raw.regional", D1.isoformat()],
        "no_ds_column": ["committed", root, "raw.by_region", D1.isoformat()],
        "asked": ["requests", root, "m", D1.isoformat()],
        "not_asked": ["requests", root, "m", D2.isoformat()],
        "other_day": ["requests", root, "m", D3.isoformat()],
        "other_model": ["requests", root, "other", D1.isoformat()],
        "no_alerts_table": ["requests", str(lake / "nowhere"), "m", D1.isoformat()],
    }
    out = decide(tmp_path, cases)

    # A day is committed when any region of it is: (ds, region) partitions no longer wait forever.
    assert out["regional_d1"] is True
    assert out["regional_d2_us_only"] is True
    assert out["regional_d3"] is False
    assert (out["daily_d1"], out["daily_d2"]) == (True, False)
    # No table yet: not committed yet (the sensor keeps waiting).
    assert out["missing_table"] is False
    assert out["missing_lake"] is False
    # A table without ds is an error the sensor body turns into a failure, not a wait.
    assert out["no_ds_column"].startswith("InvalidParameterError:")
    assert "partitioned by ['region']" in out["no_ds_column"]

    assert out["asked"] == [{"rule": "auc", "fingerprint": "b" * 16, "retrain_requested": True}]
    assert out["not_asked"] == []
    assert out["other_day"] == []
    assert out["other_model"] == [{"rule": "drift", "fingerprint": "d" * 16, "retrain_requested": True}]
    assert out["no_alerts_table"] == []


BODIES = r"""
import json, os, sys
from collections import defaultdict
from types import SimpleNamespace as NS

sys.path.insert(0, sys.argv[1])
import airflow.sdk
import lakeops_airflow as la

# No Airflow around: the settings come from the environment, the context is made up.
la._setting = lambda key, default: os.environ.get(key.upper()) or default
out = {}
for key, (body, ds, overrides, kwargs) in json.loads(sys.argv[2]).items():
    os.environ["LAKEOPS_SET"] = overrides
    context = {"dag_run": NS(conf={"ds": ds}), "outlet_events": defaultdict(NS)}
    airflow.sdk.get_current_context = lambda: context
    try:
        if body == "sensor":
            out[key] = la.raw_partition_committed("incident_risk", **kwargs)
        else:
            out[key] = la.post_retrain_request(kwargs["model"])
            out[key + ".event"] = context["outlet_events"][la.retrain_request(kwargs["model"])].extra
    except Exception as exc:
        out[key] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_task_bodies_read_the_lake_they_are_given(lake, tmp_path):
    """The sensor and the request bodies as tasks run them: the lake from LAKEOPS_LAKE, the raw
    table from the model's config (``sources.observations``), the day from the run."""
    observations = "models.incident_risk.sources.observations="
    cases = {
        "regional_d2": ["sensor", D2.isoformat(), observations + "raw.regional", {}],
        "regional_d3": ["sensor", D3.isoformat(), observations + "raw.regional", {}],
        "regional_next_day": ["sensor", D1.isoformat(), observations + "raw.regional", {"days_after": 1}],
        "missing": ["sensor", D1.isoformat(), observations + "raw.nope", {}],
        "no_ds_column": ["sensor", D1.isoformat(), observations + "raw.by_region", {}],
        "asked": ["request", D1.isoformat(), "", {"model": "m"}],
        "not_asked": ["request", D2.isoformat(), "", {"model": "m"}],
    }
    env = base_env(tmp_path / "airflow-home", LAKEOPS_LAKE=str(lake), LAKEOPS_CONF=str(PROJECT / "conf"))
    done = subprocess.run([sys.executable, "-c", BODIES, str(PROJECT / "dags"), json.dumps(cases)], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    assert out["regional_d2"] is True
    assert out["regional_d3"] is False
    assert out["regional_next_day"] is True
    assert out["missing"] is False
    # Waiting for a ds the table cannot have would last until the sensor's timeout: fail, no retry.
    assert out["no_ds_column"].startswith("AirflowFailException: cannot wait for raw.by_region ds=2024-01-01")

    extra = {"model": "m", "ds": D1.isoformat(), "requested_by": "b" * 16, "rule": "auc"}
    assert out["asked"] == extra and out["asked.event"] == extra
    assert out["not_asked"] == "AirflowSkipException: no alert of m asked for a retrain on 2024-01-02"


JARS = r"""
import json, sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from lakeops_airflow import Runtime, job_jars

out = {}
for key, (lake, overrides) in json.loads(sys.argv[2]).items():
    rt = Runtime(home=Path(sys.argv[1]).parent, lake=lake, conf=Path(sys.argv[1]).parent / "conf", env="test",
                 overrides=tuple(overrides))
    jars = job_jars(rt)
    out[key] = sorted(Path(j).parent.name for j in jars.split(",")) if jars else None
print(json.dumps(out))
"""


def test_spark_submit_gets_the_jars_its_backend_and_lake_need(tmp_path):
    """A native or s3:// job's driver starts with the jars on its classpath (spark-submit --jars)."""
    cases = {"embedded": [str(tmp_path / "lake"), []],
             "native": [str(tmp_path / "lake"), ["lake.backend=native"]],
             "s3": ["s3://bucket/lake", []],
             "both": ["s3a://bucket/lake", ["lake.backend=native"]]}
    done = subprocess.run([sys.executable, "-c", JARS, str(PROJECT / "dags"), json.dumps(cases)],
                          env=base_env(tmp_path / "airflow-home"), capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["embedded"] is None
    assert set(out["native"]) == {"delta"} and set(out["s3"]) == {"s3"} and set(out["both"]) == {"delta", "s3"}
