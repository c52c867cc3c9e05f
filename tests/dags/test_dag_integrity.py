"""The DAG files parse cheaply into the DAGs the house style asks for, one pair per model config.

Each check parses ``dags/`` in a fresh Python (the test process's own imports would hide
what parsing imports), with sockets disabled (a parse that reached the network fails) and
every SQL statement recorded (there must be none). ``ds`` resolution runs there too, on
made-up task contexts. The DAG processor puts ``dags/`` on ``sys.path`` for the DAG files;
``airflow dags list --local`` does not, and must list them too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from local_airflow import AIRFLOW, PROJECT, base_env

from lakeops import stage_io

HEAVY = {"pyspark", "mlflow", "xgboost", "pandas", "numpy", "pyarrow", "deltalake", "great_expectations",
         "sklearn", "scipy", "matplotlib"}
#: All of lakeops that parsing may import (dags/lakeops_airflow.py): its standard-library-only constants
#: and the stages' declared reads and writes.
LAKEOPS_AT_PARSE = {"lakeops", "lakeops.constants", "lakeops.stage_io"}

PARSE = r"""
import json, socket, sys, time
from pathlib import Path

started = time.perf_counter()
from airflow.dag_processing.dagbag import BundleDagBag
imported = time.perf_counter()

from sqlalchemy import event
from sqlalchemy.engine import Engine

queries = []
event.listen(Engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: queries.append(statement))

def refuse(*args, **kwargs):
    raise OSError("network access while parsing DAGs")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = refuse

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
parsed = time.perf_counter()

def describe(dag):
    return {
        "tags": sorted(dag.tags), "owner": dag.owner, "doc_md": dag.doc_md or "", "catchup": dag.catchup,
        "start_date": dag.start_date.isoformat(), "tz": str(dag.start_date.tzinfo),
        "schedule": type(dag.timetable).__name__, "schedule_repr": repr(dag.timetable),
        "default_retries": dag.default_args.get("retries"),
        "tasks": [{"id": t.task_id, "type": type(t).__name__, "retries": t.retries, "owner": t.owner,
                   "upstream": sorted(t.upstream_task_ids), "outlets": [a.uri for a in t.outlets],
                   "inlets": [a.uri for a in t.inlets],
                   "mode": getattr(t, "mode", None), "conn_id": getattr(t, "_conn_id", None),
                   "depends_on_past": t.depends_on_past} for t in dag.tasks],
    }

print(json.dumps({
    "import_errors": bag.import_errors,
    "queries": queries,
    "dags": {dag_id: describe(dag) for dag_id, dag in bag.dags.items()},
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "lakeops_modules": sorted(name for name in sys.modules if name == "lakeops" or name.startswith("lakeops.")),
    "airflow_import_s": imported - started,
    "parse_s": parsed - imported,
}))
"""

DS = r"""
import json, sys
from datetime import datetime, timezone
from types import SimpleNamespace as NS

sys.path.insert(0, sys.argv[1])
from lakeops_airflow import AirflowFailException, retrain_request, resolve_ds

def event(ds, ts):
    return NS(extra={"ds": ds}, timestamp=datetime(2024, 2, 1, ts, tzinfo=timezone.utc),
              asset=NS(uri="lakeops://requests/retrain/m"))

interval = datetime(2024, 1, 31, tzinfo=timezone.utc)
cases = {
    "interval": {"dag_run": NS(conf={}), "data_interval_start": interval},
    "interval_lag": ({"dag_run": NS(conf={}), "data_interval_start": interval}, 2),
    "conf_wins": {"dag_run": NS(conf={"ds": "2024-01-05"}), "data_interval_start": interval},
    "newest_event": {"dag_run": NS(conf={}), "data_interval_start": None,
                     "triggering_asset_events": {retrain_request("m"): [event("2024-01-10", 1), event("2024-01-12", 3)]}},
    "nothing": {"dag_run": NS(conf={}), "data_interval_start": None, "triggering_asset_events": {}},
    "bad_conf": {"dag_run": NS(conf={"ds": "2024-01-05' OR '1'='1"})},
    "bad_date": {"dag_run": NS(conf={"ds": "2024-13-01"})},
}
out = {}
for name, case in cases.items():
    context, lag = case if isinstance(case, tuple) else (case, 0)
    try:
        out[name] = resolve_ds(context, lag_days=lag).isoformat()
    except AirflowFailException as exc:
        out[name] = f"fail: {exc}"
print(json.dumps(out))
"""


#: The DAGs of the project's own models (a binary and a regression demo model) and the maintenance DAG.
DEMO_DAGS = ["lakeops_incident_kind_daily", "lakeops_incident_kind_train", "lakeops_incident_risk_daily",
             "lakeops_incident_risk_train", "lakeops_latency_forecast_daily", "lakeops_latency_forecast_train",
             "lakeops_maintenance"]


def _python(script: str, *args: str, home: Path, **env: str) -> dict:
    run_env = base_env(home, **env)
    done = subprocess.run([sys.executable, "-c", script, *args], env=run_env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-parse")
    result = _python(PARSE, str(PROJECT / "dags"), home=home)
    print(f"\nairflow import {result['airflow_import_s']:.2f}s, DagBag of dags/ {result['parse_s'] * 1000:.0f} ms")
    return result


def test_dags_parse_without_errors_or_heavy_imports(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["queries"] == []
    assert sorted(parsed["dags"]) == DEMO_DAGS
    assert not HEAVY & set(parsed["modules"]), sorted(HEAVY & set(parsed["modules"]))
    assert set(parsed["lakeops_modules"]) <= LAKEOPS_AT_PARSE, parsed["lakeops_modules"]


def test_airflow_dags_list_local_parses_the_dag_files(tmp_path):
    """``airflow dags list --local`` parses dags/ without the DAG processor's sys.path (SQLite: one process)."""
    env = base_env(tmp_path, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}")
    env.pop("PYTHONPATH", None)  # only the DAG files may put dags/ on the path

    def airflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(AIRFLOW), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=180, check=False)

    migrated = airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    listed = airflow("dags", "list", "--local", "--output", "json")
    if listed.returncode != 0:  # "Failed to load all files": say which and why
        errors = airflow("dags", "list-import-errors", "--local")
        pytest.fail(f"airflow dags list --local failed:\n{listed.stdout[-2000:]}{errors.stdout[-4000:]}")
    dags = json.loads(next(line for line in reversed(listed.stdout.splitlines()) if line.startswith("[")))
    assert sorted(d["dag_id"] for d in dags) == DEMO_DAGS
    assert {Path(d["fileloc"]).name for d in dags} == {"lakeops_daily.py", "lakeops_train.py", "lakeops_maintenance.py"}


def test_every_dag_follows_the_house_style(parsed):
    for dag_id, dag in parsed["dags"].items():
        # A model's DAGs say whose they are; the lakehouse's maintenance DAG is everyone's.
        scope = "maintenance" if dag_id == "lakeops_maintenance" else dag_id.removeprefix("lakeops_").rsplit("_", 1)[0]
        assert {"lakeops", scope} <= set(dag["tags"]), dag_id
        assert dag["owner"] == "lakeops" and dag["default_retries"] == 3, dag_id
        assert dag["doc_md"].startswith("# lakeops") and scope in dag["doc_md"], dag_id
        assert dag["catchup"] is False and dag["tz"] == "UTC", dag_id
        for t in dag["tasks"]:
            assert t["retries"] == 3 and t["owner"] == "lakeops", (dag_id, t["id"])
            if t["type"] == "LakeopsJob":
                assert t["conn_id"] == "spark_default", (dag_id, t["id"])
            elif "Sensor" in t["type"]:
                assert t["mode"] == "reschedule", (dag_id, t["id"])


def test_the_daily_and_training_loops(parsed):
    daily = parsed["dags"]["lakeops_incident_risk_daily"]
    assert daily["schedule"] == "CronDataIntervalTimetable"
    assert [(t["id"], t["upstream"]) for t in daily["tasks"]] == [
        ("wait_for_raw", []), ("prepare", ["wait_for_raw"]), ("score", ["prepare"]), ("monitor", ["score"]),
        ("alerts", ["monitor"]), ("report", ["alerts"]), ("request_retrain", ["alerts"])]
    outlets = {t["id"]: t["outlets"] for t in daily["tasks"]}
    # What the train DAG listens to.
    assert outlets["request_retrain"] == ["lakeops://requests/retrain/incident_risk"]
    # Consecutive drift compares a day with the one monitored before it; a day's alert states follow the previous day's.
    assert [t["id"] for t in daily["tasks"] if t["depends_on_past"]] == ["prepare", "monitor", "alerts"]

    train = parsed["dags"]["lakeops_incident_risk_train"]
    assert train["schedule"] == "AssetOrTimeSchedule"
    assert "lakeops://requests/retrain/incident_risk" in train["schedule_repr"]
    assert "CronTriggerTimetable" in train["schedule_repr"]
    assert [t["id"] for t in train["tasks"]] == ["wait_for_labels", "prepare_window", "train", "shadow_score",
                                                "validate_model"]


def test_each_jobs_outlets_and_inlets_are_what_its_stage_declares(parsed):
    """Every spark-submitted task's outlets are exactly the tables its stage writes (and the registered
    model when it moves versions or aliases), its inlets what it reads: lakeops.stage_io, per problem type."""
    kinds = {"incident_risk": "binary", "latency_forecast": "regression", "incident_kind": "multiclass"}
    seen = set()
    for dag_id, dag in parsed["dags"].items():
        model = next((m for m in kinds if dag_id.startswith(f"lakeops_{m}_")), None)
        for t in dag["tasks"]:
            if t["type"] != "LakeopsJob":
                continue
            declared = stage_io.stage({"prepare_window": "prepare"}.get(t["id"], t["id"]))
            kind = kinds.get(model, "binary")
            registered = [f"lakeops://models/{model}"] if model else []
            expected_out = [_asset(x) for x in declared.tables_written(model, kind)]
            expected_in = [_asset(x) for x in declared.tables_read(model, kind)]
            assert t["outlets"] == expected_out + (registered if declared.registry == "writes" else []), (dag_id, t)
            assert t["inlets"] == expected_in + (registered if declared.registry else []), (dag_id, t)
            seen.add((declared.job, kind if model else None))
    assert {job for job, _ in seen} == {s.job for s in stage_io.STAGES} - {"generate", "upgrade"}
    assert ("monitor", "multiclass") in seen and ("monitor", "regression") in seen


def _asset(table: str) -> str:
    schema, name = table.split(".")
    return f"lakeops://{schema}/{name}"


def test_the_weekly_maintenance_of_the_lakehouse(parsed):
    dag = parsed["dags"]["lakeops_maintenance"]
    assert dag["schedule"] == "CronDataIntervalTimetable" and "0 3 * * 0" in dag["schedule_repr"]
    assert [(t["id"], t["type"], t["upstream"]) for t in dag["tasks"]] == [("maintain", "LakeopsJob", [])]


def test_a_second_model_config_adds_its_two_dags_without_code(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT / "conf", conf)
    shutil.copytree(PROJECT / "tests" / "onboarding" / "conf", conf, dirs_exist_ok=True)
    result = _python(PARSE, str(PROJECT / "dags"), home=tmp_path / "home", LAKEOPS_CONF=str(conf))
    assert result["import_errors"] == {}
    assert sorted(result["dags"]) == sorted([*DEMO_DAGS, "lakeops_latency_breach_daily",
                                             "lakeops_latency_breach_train"])
    assert "latency_breach" in result["dags"]["lakeops_latency_breach_daily"]["tags"]


def test_ds_comes_from_the_run_conf_then_an_asset_event_then_the_data_interval(tmp_path):
    ds = _python(DS, str(PROJECT / "dags"), home=tmp_path)
    assert ds["interval"] == "2024-01-31"
    assert ds["interval_lag"] == "2024-01-29"
    assert ds["conf_wins"] == "2024-01-05"
    assert ds["newest_event"] == "2024-01-12"
    assert ds["nothing"].startswith("fail: this run has no ds")
    assert ds["bad_conf"].startswith("fail: invalid ds") and ds["bad_date"].startswith("fail: invalid ds")
