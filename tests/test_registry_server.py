"""Two trainers at once against an MLflow tracking server (reliability item R32).

Teams run MLflow as ``mlflow server`` in front of a database: here on a throwaway PostgreSQL
(``scripts/local_postgres.py``) through ``scripts/local_mlflow.py``, its default artifact root
in the lake. Two processes each run ``lakeops train`` and then ``lakeops validate-model`` for
the same model and day at the same time, pointed at the server with ``--set
mlflow.tracking_uri=...``. Both land their MLflow runs and registered versions, and exactly
one version ends up ``champion``, whichever way the two interleave. No Airflow.

The lake is small (200 hosts; features of 2024-01-31..02-08, raw data from 01-01 for the
features' 30-day lookback), built in this process through ``lakeops.stages``; training is cut
down to one search trial of 40 trees on one XGBoost worker (its AUC still clears the gate's 0.70).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from local_mlflow import LocalMlflow
from local_postgres import LocalPostgres

from lakeops import stages
from lakeops.dates import date_range

pytestmark = pytest.mark.slow

M = "incident_risk"
HOSTS = 200
DS = date(2024, 2, 8)
LAKEOPS = Path(sys.executable).with_name("lakeops")
TIMEOUT = 900  # a hang guard per command, not a timing assertion: two trainings share 2 cores


@pytest.fixture(scope="module")
def world(spark, settings, tmp_path_factory):
    """The settings of a small lake whose features cover the training window ending at DS (no MLflow yet)."""
    root = tmp_path_factory.mktemp("registry-server") / "lake"
    s = replace(settings, lake=replace(settings.lake, root=str(root)))
    stages.run_generate(s, start=date(2024, 1, 1), end=date(2024, 2, 9), hosts=HOSTS, seed=3)
    stages.run_prepare(s, M, days=date_range(date(2024, 1, 31), DS))
    return s


def test_two_trainers_at_once_land_both_runs_and_versions_and_one_champion(world):
    from mlflow import MlflowClient

    root = Path(world.lake.root)
    with LocalPostgres.temporary() as postgres, \
            LocalMlflow.temporary(postgres, artifact_root=root / "mlartifacts") as server:
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            trainers = list(pool.map(lambda _: _train_then_validate(root, server.url), range(2)))
        seconds = time.monotonic() - started
        for commands in trainers:
            for done in commands:
                assert done.returncode == 0, (f"{' '.join(done.args[-5:])} exited with {done.returncode}:\n"
                                              f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n"
                                              f"(Spark's output: {root / '_logs'})")
        assert [len(commands) for commands in trainers] == [2, 2]

        client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
        experiment = client.get_experiment_by_name(f"lakeops/{M}")
        assert experiment is not None and experiment.artifact_location == (root / "mlartifacts" / M).as_uri()
        # The trainings' own runs (each search trial is a run nested in one of them).
        runs = [r for r in client.search_runs([experiment.experiment_id], max_results=100)
                if "mlflow.parentRunId" not in r.data.tags]
        assert len(runs) == 2, [r.info.run_id for r in runs]
        assert {r.info.status for r in runs} == {"FINISHED"}
        assert {r.data.tags["lakeops.ds"] for r in runs} == {DS.isoformat()}

        versions = [client.get_model_version(M, v.version) for v in client.search_model_versions(f"name = '{M}'")]
        assert sorted(int(v.version) for v in versions) == [1, 2]
        assert {v.run_id for v in versions} == {r.info.run_id for r in runs}
        champions = [int(v.version) for v in versions if "champion" in v.aliases]
        assert len(champions) == 1, {v.version: v.aliases for v in versions}
        assert client.get_registered_model(M).aliases["champion"] == str(champions[0])

    # Both validations were recorded; the champion is a version one of them promoted.
    lake = stages.open_lake(world)
    decisions = lake.read_arrow("ml.model_validations").to_pylist()
    assert len(decisions) == 2
    assert {d["decision"] for d in decisions} <= {"promoted", "rejected", "skipped"}
    assert champions[0] in {d["challenger_version"] for d in decisions if d["decision"] == "promoted"}
    jobs = [(r["job"], r["status"]) for r in lake.read_arrow("ml.job_runs").to_pylist()
            if r["job"] in ("train", "validate_model")]
    assert sorted(jobs) == sorted([("train", "success"), ("validate_model", "success")] * 2), jobs
    # The models' files are in the lake, and nothing went to the embedded store.
    assert len(list((root / "mlartifacts" / M).rglob("booster.ubj"))) == 2
    assert not (root / "mlflow.db").exists()
    print(f"\ntwo trainers at once, each training then validating: {seconds:.0f}s; decisions "
          f"{sorted((d['challenger_version'], d['decision']) for d in decisions)}; champion v{champions[0]}")


def _train_then_validate(root: Path, tracking_uri: str) -> list[subprocess.CompletedProcess]:
    """``lakeops train``, then (if it succeeded) ``lakeops validate-model``, in processes of their own."""
    options = [str(LAKEOPS), "--env", "test", "--lake", str(root), "--set", f"mlflow.tracking_uri={tracking_uri}"]
    for item in ("search.trials=1", "params.n_estimators=40", "num_workers=1"):
        options += ["--set", f"models.{M}.train.{item}"]
    # The environment's own lakeops and MLflow settings must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEOPS_", "MLFLOW_"))}
    done = []
    for command in ("train", "validate-model"):
        started = time.monotonic()
        done.append(subprocess.run([*options, command, "--model", M, "--ds", DS.isoformat()], env=env,
                                   capture_output=True, text=True, timeout=TIMEOUT, check=False))
        print(f"\nlakeops {command}: exit {done[-1].returncode} after {time.monotonic() - started:.0f}s")
        if done[-1].returncode != 0:
            break
    return done
