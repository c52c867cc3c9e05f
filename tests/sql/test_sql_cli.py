"""``lakeops sql`` end to end on the small lake: output, binding, read-only, time travel, errors, no JVM."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from looplake import MODEL, WEEK

from lakeops.cli import main

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
DRIFTED = PROJECT / "sql" / "queries" / "most_drifted_columns_on_a_day.sql"


def _sql(small_lake, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sql", "--lake", str(small_lake.root), "--conf", str(PROJECT / "conf"), "--env", "test", "-q", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_query_prints_an_aligned_table(small_lake, capsys):
    code, out, _ = _sql(small_lake, capsys, "select ds, count(*) as n_rows from predictions.incident_risk "
                        "where ds between :start and :end group by ds order by ds",
                        "--param", f"start={WEEK[0]}", "--param", f"end={WEEK[2]}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ds", "n_rows"] and lines[-1] == "(3 rows)"
    assert [line.split() for line in lines[2:5]] == [[str(d), "200"] for d in WEEK[:3]]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_csv_and_json_formats(small_lake, capsys, engine):
    args = ["-f", str(DRIFTED), "--param", f"model={MODEL}", "--param", f"ds={WEEK[3]}", "--engine", engine]
    code, out, _ = _sql(small_lake, capsys, *args, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    code, out, _ = _sql(small_lake, capsys, *args, "--format", "json")
    assert code == 0
    objects = json.loads(out)
    assert len(rows) == len(objects) >= 20
    assert [r["column_name"] for r in rows] == [o["column_name"] for o in objects]
    assert float(rows[0]["psi"]) == objects[0]["psi"] and objects[0]["drift_rank"] == 1


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_hostile_parameter_is_a_value_not_sql(small_lake, capsys, engine):
    before = small_lake.versions(), small_lake.files()
    for hostile in ["x' or '1'='1", "incident_risk' --", "x'; drop table ml.drift_metrics; --"]:
        code, out, _ = _sql(small_lake, capsys, "-f", str(DRIFTED), "--param", f"model={hostile}",
                            "--param", f"ds={WEEK[3]}", "--engine", engine, "--format", "json")
        assert code == 0 and json.loads(out) == []
    assert (small_lake.versions(), small_lake.files()) == before


REFUSED = [
    ("drop table ml.drift_metrics", "DROP TABLE statements are refused"),
    ("insert into ml.job_runs select * from ml.job_runs", "INSERT statements are refused"),
    ("create table ml.copy as select * from ml.job_runs", "CREATE TABLE statements are refused"),
    ("delete from predictions.incident_risk where ds = date'2024-01-31'", "DELETE statements are refused"),
    ("select * from ml.job_runs; drop table ml.job_runs", "found 2 statements"),
    ("select 1; delete from ml.job_runs where true", "found 2 statements"),
    ("copy (select 1) to 'x.csv'", "COPY statements are refused"),
]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize("text, message", REFUSED)
def test_ddl_and_dml_are_refused_and_change_nothing(small_lake, capsys, engine, text, message):
    before = small_lake.versions(), small_lake.files()
    code, out, err = _sql(small_lake, capsys, text, "--engine", engine)
    assert code == 2 and out == ""
    assert message in err and "read-only" in err
    assert (small_lake.versions(), small_lake.files()) == before


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_write_runs_a_script_of_temporary_views_and_still_writes_nothing(small_lake, capsys, engine):
    before = small_lake.versions(), small_lake.files()
    script = f"""
        create or replace temporary view alerts as
            select ds, column_name from ml.drift_metrics
            where model_name = '{MODEL}' and drift_type = 'baseline' and slice_key is null and status = 'alert';
        select count(distinct ds) as days from alerts where column_name = 'latency_p95_ms'
    """
    code, out, _ = _sql(small_lake, capsys, script, "--write", "--engine", engine, "--format", "json")
    assert code == 0 and json.loads(out) == [{"days": 7}]
    code, _, err = _sql(small_lake, capsys, "drop table ml.job_runs; select 1", "--write", "--engine", engine)
    assert code == 2 and "DROP TABLE statements are refused" in err
    assert (small_lake.versions(), small_lake.files()) == before


def test_write_allows_temporary_tables_on_duckdb(small_lake, capsys):
    code, out, _ = _sql(small_lake, capsys, "create temp table t as select * from ml.job_runs; "
                        "select count(*) as n from t where job = :job", "--param", "job=score", "--write",
                        "--format", "json")
    # The loop lake's score runs: incident_risk's two (versions 1 and 2) and incident_kind's one.
    assert code == 0 and json.loads(out) == [{"n": 3}]


def test_duckdb_gets_no_file_access(small_lake, capsys):
    live = next((small_lake.root / "ml" / "job_runs").rglob("*.parquet"))
    for text in [f"select * from read_parquet('{live}')", "select * from read_csv('/etc/passwd')"]:
        code, _, err = _sql(small_lake, capsys, text)
        assert code == 2 and "Permission Error" in err, err


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_version_reads_a_table_as_it_was(small_lake, capsys, engine):
    text = ("select model_version, count(distinct ds) as days from predictions.incident_risk "
            "group by model_version order by model_version")
    code, out, _ = _sql(small_lake, capsys, text, "--engine", engine, "--format", "json")
    assert code == 0 and json.loads(out) == [{"model_version": 1, "days": 4}, {"model_version": 2, "days": 3}]
    # Version 1 is the first scoring run's commit: the whole week by model version 1.
    code, out, _ = _sql(small_lake, capsys, text, "--engine", engine, "--format", "json",
                        "--version", "predictions.incident_risk=1")
    assert code == 0 and json.loads(out) == [{"model_version": 1, "days": 7}]
    code, out, _ = _sql(small_lake, capsys, "select count(*) as n from ml.job_runs", "--engine", engine,
                        "--format", "json", "--version", "ml.job_runs=1")
    assert code == 0 and json.loads(out) == [{"n": 1}]  # only the generate run had been recorded


ERRORS = [
    (["select * from ml.nope"], "no table ml.nope in the lakehouse"),
    (["select * from ml.job_runs where job = :job"], "the query uses :job but no value was given"),
    (["select 1 as x", "--param", "ds=2024-01-01"], "ds not used by the query"),
    (["select * from ml.job_runs", "--version", "ml.job_runs=999"], "ml.job_runs has no version 999; the latest is"),
    (["select 1 as x", "--version", "ml.job_runs=1"], "--version names ml.job_runs, which the query does not read"),
    (["select * from ml.job_runs", "-f", "x.sql"], "not both or neither"),
    ([], "not both or neither"),
    (["-f", "/nonexistent/q.sql"], "cannot read the query file"),
    (["select * frm ml.job_runs"], "cannot parse the query"),
    (["select no_such_column from ml.job_runs"], "no_such_column"),
    (["select * from ml.job_runs", "--param", "ds=2024-13-01"], "not a valid date"),
]


@pytest.mark.parametrize("args, message", ERRORS)
def test_errors_say_what_to_fix_and_exit_2(small_lake, capsys, args, message):
    code, out, err = _sql(small_lake, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("lakeops: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_spark_analysis_error_exits_2(small_lake, capsys):
    code, _, err = _sql(small_lake, capsys, "select no_such_column from ml.job_runs", "--engine", "spark")
    assert code == 2 and "no_such_column" in err


def test_the_command_starts_no_jvm(small_lake):
    """Process start to exit, as a user runs it: pyspark and mlflow are never imported.
    (How long it takes is a figure of bench/interactive.py, not an assertion here.)"""
    probe = (
        "import sys; from lakeops.cli import main; code = main(sys.argv[1:]); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'mlflow', 'py4j', 'xgboost')); "
        "print('HEAVY', heavy, file=sys.stderr); sys.exit(code)"
    )
    args = ["sql", "--lake", str(small_lake.root), "--conf", str(PROJECT / "conf"), "-f", str(DRIFTED),
            "--param", f"model={MODEL}", "--param", f"ds={WEEK[3]}"]
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=PROJECT)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr and "latency_p95_ms" in done.stdout
