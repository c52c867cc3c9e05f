"""A lakehouse on object storage: an ``s3a://`` root served by a real S3-compatible server
(moto in server mode, ``tests/s3server.py``) that this module starts on 127.0.0.1 and stops.

The whole loop (generate -> prepare -> train -> validate -> score -> monitor -> alerts ->
report, report pages and MLflow artifacts in the bucket too, then ``lakeops sql --engine
spark`` over it), begun by the embedded backend and finished by the native one on the same
tables (the end-to-end test of delta-spark); two writer processes of
disjoint partitions, colliding writers, a writer killed mid-commit; the server stopping
mid-run (a one-line error, nothing half-written, the rerun completes); and the secret key
never reaching the log, commit metadata, MLflow or the terminal.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from lakedata import EVENTS, events, fingerprint
from s3server import SECRET_KEY as SECRET
from s3server import S3Server

from lakeops import stages
from lakeops.cli import main
from lakeops.dates import date_range
from lakeops.errors import StorageUnavailableError
from lakeops.lake import open_lake

pytestmark = pytest.mark.slow

MODEL = "incident_risk"
DAYS = date_range(date(2024, 1, 1), date(2024, 1, 10))
D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
#: object_store's limits for the tests: an outage fails in seconds, not minutes.
FAIL_FAST = {"max_retries": "1", "retry_timeout": "3s", "connect_timeout": "2s", "timeout": "5s"}
#: How long a writer process may take to reach a step or finish it (a Spark job and a commit on S3).
WRITER_WAIT_S = 180


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    server.start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.close()


def _settings(settings, root: str, backend: str, tmp_path: Path):
    lake = replace(settings.lake, root=root, backend=backend, storage_options=FAIL_FAST)
    # The tracking store cannot live in a bucket; the artifacts do (<root>/mlartifacts).
    mlflow = replace(settings.mlflow, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = settings.model(MODEL)
    model = replace(model, train=replace(model.train, search=replace(model.train.search, trials=1)))
    return replace(settings, lake=lake, mlflow=mlflow, models={**settings.models, MODEL: model})


def _objects(s3, prefix: str) -> dict[str, bytes]:
    client = s3.boto3_client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=s3.bucket, Key=item["Key"])["Body"].read()
    return found


def test_the_loop_on_an_s3a_lakehouse_on_both_backends_in_turn(spark, settings, s3, tmp_path, capfd, caplog):
    """The embedded backend builds the lake (generate, prepare, train, validate) and scores and
    monitors all but the last day; the native backend (delta-spark on S3) then takes over the same
    tables: it re-prepares and scores the last day, monitors, judges alerts and draws the report,
    and Spark SQL reads the tables as Delta. Each backend reads what the other wrote."""
    caplog.set_level("INFO")
    root = s3.uri("loop", scheme="s3a")
    embedded = _settings(settings, root, "embedded", tmp_path)
    native = replace(embedded, lake=replace(embedded.lake, backend="native"))
    stages.run_generate(embedded, start=date(2023, 12, 2), end=DAYS[-1], hosts=120, seed=7, drift_start=DAYS[-3])
    stages.run_prepare(embedded, MODEL, days=DAYS)
    assert stages.run_train(embedded, MODEL, ds=DAYS[-4]).version >= 1
    stages.run_validate(embedded, MODEL, ds=DAYS[-4])
    stages.run_score(embedded, MODEL, days=DAYS[-3:-1])
    stages.run_monitor(embedded, MODEL, days=DAYS[-3:-1])
    by_embedded = fingerprint(stages.open_lake(embedded).read(f"features.{MODEL}"))

    stages.run_prepare(native, MODEL, days=DAYS[-1:])  # a native overwrite of a table delta-rs wrote
    stages.run_score(native, MODEL, days=DAYS[-1:])
    monitored = stages.run_monitor(native, MODEL, days=DAYS[-1:])
    stages.run_alerts(native, MODEL, days=DAYS[-3:])
    stages.run_report(native, MODEL, days=DAYS[-3:])

    lake = stages.open_lake(native)
    assert lake.storage.root == f"s3://{s3.bucket}/loop"
    assert {p["ds"] for p in lake.partitions(f"predictions.{MODEL}")} == set(DAYS[-3:])
    assert [d.ds for d in monitored.days] == DAYS[-1:]
    # The native rewrite of the last day changed no row; the embedded backend reads what native wrote.
    other = stages.open_lake(embedded)
    assert fingerprint(other.read(f"features.{MODEL}")) == by_embedded
    assert fingerprint(other.read(f"predictions.{MODEL}")) == fingerprint(lake.read(f"predictions.{MODEL}"))
    assert {r["ds"] for r in other.read_arrow("ml.drift_metrics").to_pylist()} == set(DAYS[-3:])
    stored = _objects(s3, "loop/")
    assert f"loop/reports/{MODEL}/index.html" in stored
    assert any(k.startswith(f"loop/mlartifacts/{MODEL}/") and k.endswith("MLmodel") for k in stored)
    assert any(k.startswith("loop/_reports/data_quality/") for k in stored)

    # Spark SQL reads the tables as Delta with the native backend (Lake.read: format delta).
    printed = "".join(capfd.readouterr())
    query = f"select count(*) as n from predictions.{MODEL} where ds >= :ds"
    assert main(["--env", "test", "--lake", root, "--set", "lake.backend=native", "--set",
                 f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}", "sql", "--engine", "spark", query,
                 "--param", f"ds={DAYS[-3]}", "--format", "csv"]) == 0
    out, err = capfd.readouterr()
    printed += out + err
    assert out.split() == ["n", str(lake.read(f"predictions.{MODEL}").count())]

    # The secret is in this process's environment only: not in any object, the MLflow store or the output.
    assert not [k for k, body in stored.items() if SECRET.encode() in body]
    assert SECRET.encode() not in (tmp_path / "mlflow.db").read_bytes()
    printed += "".join(capfd.readouterr())
    assert SECRET not in printed + caplog.text


def _writer(root: str, sync: Path, name: str, plan: list[dict], backend: str):
    """A writer process (tests/lake_worker.py) with its plan."""
    import subprocess
    import sys

    worker = Path(__file__).resolve().parent / "lake_worker.py"
    (sync / f"plan.{name}.json").write_text(json.dumps(plan))
    return subprocess.Popen([sys.executable, str(worker), "--lake", root, "--name", name, "--plan",
                             str(sync / f"plan.{name}.json"), "--sync", str(sync), "--backend", backend],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _release(sync: Path, step: int, procs: dict) -> dict[str, dict]:
    """Wait until every writer holds at ``step``, let them go together, and read their outcomes."""
    import time

    deadline = time.monotonic() + WRITER_WAIT_S
    for n, proc in procs.items():
        while not (sync / f"{step}.{n}.ready").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"writer {n} not at step {step} within {WRITER_WAIT_S} s"
            time.sleep(0.05)
    for n in procs:
        (sync / f"{step}.{n}.go").touch()
    deadline = time.monotonic() + WRITER_WAIT_S
    for n, proc in procs.items():
        while not (sync / f"{step}.{n}.json").exists():
            assert proc.poll() is None or (sync / f"{step}.{n}.json").exists(), proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"writer {n} did not finish step {step} within {WRITER_WAIT_S} s"
            time.sleep(0.05)
    return {n: json.loads((sync / f"{step}.{n}.json").read_text()) for n in procs}


def _killed_writer_commits_nothing(spark, lake, root: str, sync: Path) -> None:
    """A writer SIGKILLed during its write commits nothing; the rerun (by this process) completes."""
    version, before = lake.version("test.events"), fingerprint(lake.read("test.events"))
    killed = _writer(root, sync, "K", [{"op": "overwrite", "ds": D2.isoformat(), "tag": "killed", "kill": True}],
                     "embedded")
    _, err = killed.communicate(timeout=600)
    assert killed.returncode == -9, err[-3000:]
    assert lake.version("test.events") == version and fingerprint(lake.read("test.events")) == before
    lake.overwrite(events(spark, D2, 7, tag="rerun"), EVENTS, partitions={"ds": [D2]})
    assert fingerprint(lake.read("test.events", where={"ds": [D2]})) == fingerprint(events(spark, D2, 7, tag="rerun"))


def test_writers_on_s3(spark, settings, s3, tmp_path):
    """Two writer processes (tests/lake_worker.py) on one S3 table, each with two writes, on the
    embedded backend (delta-rs's conditional-put commits): their disjoint partitions both commit;
    then their colliding overwrites of one partition leave exactly one writer's rows. A third
    writer killed during its write commits nothing, and the rerun (here, by the test's own
    session) completes. One Spark per writer process, so the writes share processes where the
    story allows.

    The native backend's S3 log store guards a version within one driver only (README: one native
    writer per table on S3); tests/lake/test_concurrency.py races and kills delta-spark drivers on a
    local lake, and the loop test above has both backends write the same S3 tables in turn."""
    root = s3.uri("writers-embedded", scheme="s3a")
    lake = open_lake(spark, replace(settings.lake, root=root, backend="embedded", storage_options=FAIL_FAST))
    lake.overwrite(events(spark, D1, 5, tag="seed"), EVENTS, partitions={"ds": [D1]})
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = {
        "A": _writer(root, sync, "A", [{"op": "overwrite", "ds": D1.isoformat(), "tag": "a", "n": 11, "hold": True},
                                       {"op": "overwrite", "ds": D1.isoformat(), "tag": "c", "n": 17, "hold": True}],
                     "embedded"),
        "B": _writer(root, sync, "B", [{"op": "overwrite", "ds": D2.isoformat(), "tag": "b", "n": 13, "hold": True},
                                       {"op": "overwrite", "ds": D1.isoformat(), "tag": "d", "n": 19, "hold": True}],
                     "embedded"),
    }
    # Disjoint partitions, released together: both commit, one after the other.
    out = _release(sync, 0, procs)
    assert all(o["ok"] for o in out.values()), out
    assert fingerprint(lake.read("test.events", where={"ds": [D1]})) == fingerprint(events(spark, D1, 11, tag="a"))
    assert fingerprint(lake.read("test.events", where={"ds": [D2]})) == fingerprint(events(spark, D2, 13, tag="b"))

    # One partition, released together: a winner's rows only, the loser says so (or they serialise).
    version = lake.version("test.events")
    out = _release(sync, 1, procs)
    for proc in procs.values():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    won = sorted((o for o in out.values() if o["ok"]), key=lambda o: o["version"])
    assert won and [o["version"] for o in won] == list(range(version + 1, version + 1 + len(won))), out
    assert all(o["ok"] or o["error"] == "CommitConflictError" for o in out.values()), out
    n = {"c": 17, "d": 19}[won[-1]["tag"]]
    assert fingerprint(lake.read("test.events", where={"ds": [D1]})) == fingerprint(
        events(spark, D1, n, tag=won[-1]["tag"]))

    _killed_writer_commits_nothing(spark, lake, root, sync)


def test_the_store_stopping_mid_run_is_a_clear_error_and_the_rerun_completes(spark, settings, s3, tmp_path):
    """The server stops between two writes of a job: the write fails with one line naming the
    store, the table keeps its last committed version, and once the store is back the rerun
    completes. The embedded backend (the default) is the one whose commits delta-rs makes."""
    lake = open_lake(spark, replace(settings.lake, root=s3.uri("outage", scheme="s3a"), storage_options=FAIL_FAST))
    lake.overwrite(events(spark, D1, 9, tag="before"), EVENTS, partitions={"ds": [D1]})
    version, before = lake.version("test.events"), fingerprint(lake.read("test.events"))
    s3.stop()
    try:
        with pytest.raises(StorageUnavailableError, match=r"s3://.*/outage.*could not be reached.*run it again"):
            lake.overwrite(events(spark, D1, 4, tag="during"), EVENTS, partitions={"ds": [D1]})
    finally:
        s3.start()
    assert lake.version("test.events") == version
    assert fingerprint(lake.read("test.events")) == before
    lake.overwrite(events(spark, D1, 4, tag="after"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == fingerprint(events(spark, D1, 4, tag="after"))
