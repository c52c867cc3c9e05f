"""The statement check, parameter typing and output formats, without a lake."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from lakeops.errors import InvalidParameterError
from lakeops.names import TableName
from lakeops.sql.output import render
from lakeops.sql.params import parse_params, parse_versions
from lakeops.sql.statements import QueryError, QueryRefusedError, duckdb_text, parse_script, spark_text

REFUSED = [
    "drop table ml.drift_metrics",
    "insert into ml.job_runs select * from ml.job_runs",
    "insert overwrite directory '/tmp/x' select 1",
    "create table ml.x as select 1",
    "create table t using delta location '/tmp/x' as select 1",
    "delete from ml.drift_metrics where true",
    "update ml.job_runs set status = 'ok'",
    "merge into ml.job_runs t using ml.job_runs s on t.job_run_id = s.job_run_id when matched then delete",
    "alter table ml.job_runs add column x int",
    "truncate table ml.job_runs",
    "copy (select 1) to '/tmp/x.csv'",
    "set spark.sql.ansi.enabled = false",
    "explain select 1",
    "show tables",
    "cache table ml.job_runs",
    "install httpfs",
    "with a as (select 1) insert into ml.job_runs select * from a",
    "select reflect('java.lang.System', 'exit', 0)",
    "select * from query('drop table x')",
    "create temporary view v as select 1",  # needs --write
]


@pytest.mark.parametrize("text", REFUSED)
def test_ddl_dml_and_side_doors_are_refused(text):
    with pytest.raises(QueryRefusedError):
        parse_script(text)


@pytest.mark.parametrize("text", ["select 1; drop table ml.x", "select 1; select 2", "select 1;\n;select 2 -- ;"])
def test_several_statements_are_refused_without_write(text):
    with pytest.raises(QueryRefusedError, match="2 statements"):
        parse_script(text)


def test_semicolons_in_strings_and_comments_split_nothing():
    script = parse_script("select 'a;b' as x -- c; drop table ml.x\n;")
    assert len(script.statements) == 1 and script.statements[0].kind == "query"


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_write_allows_temporary_views_then_a_query(engine):
    script = parse_script("create or replace temporary view v as select * from ml.x where ds = :ds; select * from v",
                          write=True, engine=engine)
    assert [s.kind for s in script.statements] == ["temp_view", "query"]
    assert script.tables == (TableName("ml", "x"),) and script.params == ("ds",)


@pytest.mark.parametrize("text, engine, message", [
    ("create temp table t as select 1; select * from t", "spark", "no temporary tables"),
    ("create temporary view ml.v as select 1; select 1", "duckdb", "one-part name"),
    ("create temp view v as select 1", "duckdb", "must end in a query"),
    ("drop view v; select 1", "duckdb", "DROP VIEW"),
    ("create table t as select 1; select 1", "duckdb", "CREATE TABLE"),
])
def test_write_allows_nothing_else(text, engine, message):
    with pytest.raises(QueryRefusedError, match=message):
        parse_script(text, write=True, engine=engine)


@pytest.mark.parametrize("text, message", [
    ("", "no SQL statement"),
    ("-- just a comment", "no SQL statement"),
    ("select * from", "cannot parse"),
    ("select 'open", "cannot read"),
    ("select ?", "positional"),
    ("select * from spark_catalog.ml.x", "without a catalog"),
])
def test_bad_text_is_a_query_error(text, message):
    with pytest.raises(QueryError, match=message):
        parse_script(text)


def test_tables_and_parameters_are_found_by_the_parser():
    script = parse_script("""
        with ml as (select * from ml.drift_metrics where ds = :ds)  -- :not_a_param
        select ':nor_this' as s, b.x from ml join `ml`.`baselines` b on ml.k = b.k where b.m = :model and ml.d = :ds
    """)
    assert script.tables == (TableName("ml", "drift_metrics"), TableName("ml", "baselines"))
    assert sorted(script.params) == ["ds", "model"]


def test_spark_text_keeps_the_query_and_renames_only_the_tables():
    text = "select drift_metrics.psi, b.n from ml.drift_metrics join ml.baselines as b on 1 = 1 where s = 'ml.x'"
    statement = parse_script(text).statements[0]
    views = {t: f"{t.schema}__{t.table}" for t in statement.tables}
    assert spark_text(statement, views) == (
        "select drift_metrics.psi, b.n from ml__drift_metrics as drift_metrics join ml__baselines as b on 1 = 1 "
        "where s = 'ml.x'"
    )


def test_duckdb_text_binds_markers_as_duckdb_parameters():
    statement = parse_script("select * from ml.x where ds = :ds and name = 'a :ds'").statements[0]
    text = duckdb_text(statement)
    assert "$ds" in text and "'a :ds'" in text and ":ds" not in text.replace("'a :ds'", "")


# ----------------------------------------------------------------------------- parameters


def test_parameter_types_follow_the_text():
    assert parse_params(["ds=2024-01-31", "days=7", "x=-0.25", "e=1e-3", "model=incident_risk", "empty=",
                         "hostile=x' or '1'='1", "code:string=0042", "n:float=3"]) == {
        "ds": date(2024, 1, 31), "days": 7, "x": -0.25, "e": 1e-3, "model": "incident_risk", "empty": "",
        "hostile": "x' or '1'='1", "code": "0042", "n": 3.0,
    }


@pytest.mark.parametrize("item, message", [
    ("ds", "expected NAME=VALUE"),
    ("1x=2", "invalid parameter name"),
    ("ds=2024-02-30", "not a valid date; write ds:string=2024-02-30"),
    ("n:int=seven", "not a valid int"),
    ("n:bool=true", "unknown type"),
])
def test_bad_parameters_are_refused(item, message):
    with pytest.raises(InvalidParameterError, match=message):
        parse_params([item])


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(InvalidParameterError, match="twice"):
        parse_params(["ds=2024-01-01", "ds=2024-01-02"])


def test_versions_parse():
    assert parse_versions(["ml.job_runs=0", "predictions.incident_risk=12"]) == {
        TableName("ml", "job_runs"): 0, TableName("predictions", "incident_risk"): 12}
    for bad in ["ml.job_runs", "ml.job_runs=-1", "ml.job_runs=x", "job_runs=1", "ml.Job=1"]:
        with pytest.raises(InvalidParameterError):
            parse_versions([bad])


# ----------------------------------------------------------------------------- output

RESULT = pa.table({
    "ds": pa.array([date(2024, 1, 1), None], pa.date32()),
    "name": ["a,b", None],
    "n": pa.array([1, 22], pa.int64()),
    "x": [0.123456789, float("nan")],
    "at": pa.array([datetime(2024, 1, 1, 12, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
    "counts": pa.array([[1, 2], []], pa.list_(pa.int64())),
})


def test_table_format_aligns_numbers_right():
    lines = render(RESULT, fmt="table").splitlines()
    assert lines[0].split() == ["ds", "name", "n", "x", "at", "counts"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:4] == ["2024-01-01", "a,b", "1", "0.123457"]
    assert lines[-1] == "(2 rows)"
    rule = lines[1]
    start = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")][2]  # the n column
    end = rule.index(" ", start)
    assert lines[2][start:end] == " 1" and lines[3][start:end] == "22"


def test_csv_format_round_trips():
    rows = list(csv.reader(io.StringIO(render(RESULT, fmt="csv"))))
    assert rows[0] == ["ds", "name", "n", "x", "at", "counts"]
    assert rows[1] == ["2024-01-01", "a,b", "1", "0.123456789", "2024-01-01 12:00:00+00:00", "[1, 2]"]
    assert rows[2] == ["", "", "22", "nan", "", "[]"]


def test_json_format_is_an_array_of_objects():
    rows = json.loads(render(RESULT, fmt="json"))
    assert rows[0] == {"ds": "2024-01-01", "name": "a,b", "n": 1, "x": 0.123456789, "at": "2024-01-01T12:00:00+00:00",
                       "counts": [1, 2]}
    assert rows[1]["x"] is None and rows[1]["ds"] is None


def test_an_empty_result_still_has_its_header():
    empty = RESULT.slice(0, 0)
    assert render(empty, fmt="table").splitlines()[-1] == "(0 rows)"
    assert render(empty, fmt="csv") == "ds,name,n,x,at,counts"
    assert render(empty, fmt="json") == "[]"
