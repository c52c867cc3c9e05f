"""sql/ddl/ matches the table contracts: as generated, as parsed, and as Spark creates it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from lakeops.config import load_settings
from lakeops.lake.spec import arrow_to_spark
from lakeops.sql.ddl import contract_specs, ddl_files, main, model_specs

PROJECT = Path(__file__).resolve().parents[2]
DDL = PROJECT / "sql" / "ddl"


@pytest.fixture(scope="module")
def specs():
    settings = load_settings(conf_dir=PROJECT / "conf")
    models = [settings.models[name] for name in sorted(settings.models)]
    return {str(s.name): s for s in [*contract_specs(), *model_specs(models)]}, models


def test_every_file_is_what_the_generator_writes(specs):
    _, models = specs
    expected = ddl_files(models)
    on_disk = {p.name: p.read_text() for p in DDL.glob("*.sql")}
    assert sorted(on_disk) == sorted(expected), "run `python -m lakeops.sql.ddl`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"{name} differs from its contract: run `python -m lakeops.sql.ddl`"
    assert main(["--conf", str(PROJECT / "conf"), "--out", str(DDL), "--check"]) == 0


def test_every_contract_has_a_file(specs):
    by_name, _ = specs
    assert {f"{name}.sql" for name in by_name} == {p.name for p in DDL.glob("*.sql")}
    assert {"ml.drift_metrics", "ml.baselines", "raw.telemetry", "predictions.incident_risk"} <= set(by_name)


def test_check_reports_a_drifted_file(tmp_path, specs, capsys):
    for p in DDL.glob("*.sql"):
        (tmp_path / p.name).write_text(p.read_text())
    target = tmp_path / "ml.job_runs.sql"
    target.write_text(target.read_text().replace("    seconds double,\n", ""))
    (tmp_path / "ml.retired.sql").write_text("-- a table that no longer exists\n")
    assert main(["--conf", str(PROJECT / "conf"), "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "ml.job_runs.sql" in err and "ml.retired.sql" in err
    assert main(["--conf", str(PROJECT / "conf"), "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "ml.retired.sql").exists()
    assert main(["--conf", str(PROJECT / "conf"), "--out", str(tmp_path), "--check"]) == 0


def test_each_file_declares_its_contract(specs):
    """Read back by a SQL parser, not by the generator: columns, types, partitioning, Delta."""
    by_name, _ = specs
    for path in sorted(DDL.glob("*.sql")):
        spec = by_name[path.stem]
        tree = sqlglot.parse_one(path.read_text(), read="spark")
        assert isinstance(tree, exp.Create) and tree.args["kind"] == "TABLE", path.name
        table = tree.this.this
        assert f"{table.db}.{table.name}" == str(spec.name)
        # Spaces differ between the parser's rendering and Spark's (struct<a: int> against struct<a:int>).
        columns = [(c.name, c.args["kind"].sql("spark").lower().replace(" ", "")) for c in tree.this.expressions]
        spark_types = [(f.name, f.dataType.simpleString()) for f in arrow_to_spark(spec.schema).fields]
        assert columns == spark_types, path.name
        props = tree.args["properties"].expressions
        assert any(isinstance(p, exp.FileFormatProperty) and p.name.lower() == "delta" for p in props)
        partitioned = [p for p in props if isinstance(p, exp.PartitionedByProperty)]
        declared = tuple(c.name for c in partitioned[0].this.expressions) if partitioned else ()
        assert declared == spec.partition_by, path.name


@pytest.mark.slow  # a Delta table per contract
def test_spark_creates_each_table_as_delta_with_the_contract_schema(spark, specs, tmp_path):
    """Each file, as written, run by Spark SQL with Delta's catalog (a temporary database per
    schema): it creates a Delta table with exactly the contract's columns, types and partitioning."""
    by_name, _ = specs
    schemas = sorted({name.split(".")[0] for name in by_name})
    try:
        for schema in schemas:
            spark.sql(f"create database if not exists {schema} location '{tmp_path / schema}'")
        for path in sorted(DDL.glob("*.sql")):
            spec = by_name[path.stem]
            spark.sql(path.read_text())
            detail = spark.sql(f"describe detail {spec.name}").collect()[0]
            assert detail["format"] == "delta", path.name
            assert tuple(detail["partitionColumns"]) == spec.partition_by, path.name
            created = [(f.name, f.dataType) for f in spark.table(str(spec.name)).schema]
            assert created == [(f.name, f.dataType) for f in spec.spark_schema], path.name
    finally:
        for schema in schemas:
            spark.sql(f"drop database if exists {schema} cascade")
