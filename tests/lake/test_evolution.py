"""Contracts that evolve (docs/reliability.md R28): nullable columns added in place on both backends,
other changes refused with the command that migrates them, jobs refuse a table an upgrade must fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from lakedata import EVENTS, event_rows, events, fingerprint

from lakeops.errors import SchemaMismatchError
from lakeops.lake import TableSpec
from lakeops.lake.catalog import check_contracts, table_changes
from lakeops.lake.evolution import OutdatedTableError, plan_change
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY

D1, D2 = date(2024, 1, 1), date(2024, 1, 2)
#: EVENTS a release later: two nullable columns appended, contract v2.
EVENTS_V2 = replace(EVENTS, schema=EVENTS.schema.append(pa.field("source", pa.string()))
                    .append(pa.field("score", pa.float64())), version=2)


# ----------------------------------------------------------------------------- the plan (pure)


def _plan(spec, schema, partition_by=("ds",), properties=None):
    return plan_change(spec, schema=schema, partition_by=partition_by, properties=properties or {})


def test_added_nullable_columns_are_in_place_and_make_the_table_outdated():
    change = _plan(EVENTS_V2, EVENTS.schema, properties={CONTRACT_VERSION_PROPERTY: "1"})
    assert [f.name for f in change.add] == ["source", "score"]
    assert all(f.nullable for f in change.add)
    assert (change.recorded_version, change.version, change.refused) == (1, 2, ())
    assert change.in_place and change.outdated
    assert change.describe() == "test.events: add column(s) source (string), score (double); contract v1 -> v2"
    assert isinstance(change.error(), OutdatedTableError)
    assert "run `lakeops upgrade`" in str(change.error())


def test_a_table_without_a_recorded_version_only_needs_it_recorded():
    change = _plan(EVENTS, EVENTS.schema)
    assert change.recorded_version is None and change.in_place and not change.outdated
    assert change.describe() == "test.events: record contract v1"
    current = _plan(EVENTS, EVENTS.schema, properties={CONTRACT_VERSION_PROPERTY: "1"})
    assert not current.in_place and not current.outdated
    assert current.describe() == "test.events: up to date (contract v1)"


@pytest.mark.parametrize("schema, partition_by, phrase", [
    (EVENTS.schema.set(2, pa.field("name", pa.int64())), ("ds",), "column 'name' is int64 in the table"),
    (EVENTS.schema.append(pa.field("retired", pa.string())), ("ds",), "'retired' not in the contract"),
    (EVENTS.schema.set(2, pa.field("label", pa.string())), ("ds",), "'label' not in the contract"),  # a rename
    (EVENTS.schema, (), "partitioned by [], the contract says ['ds']"),
])
def test_other_changes_are_refused_naming_the_table_the_change_and_the_command(schema, partition_by, phrase):
    change = _plan(EVENTS_V2, schema, partition_by)
    assert change.refused and change.outdated and not change.in_place
    line = str(change.error())
    assert "\n" not in line and line.startswith("test.events: ") and phrase in line
    assert "`lakeops upgrade --rewrite test.events` migrates it" in line
    assert not isinstance(change.error(), OutdatedTableError)  # not something `lakeops upgrade` alone fixes


def test_large_string_types_from_delta_rs_are_the_contracts_strings():
    schema = pa.schema([pa.field(f.name, pa.large_string()) if f.type == pa.string() else f for f in EVENTS.schema])
    assert not _plan(EVENTS, schema).outdated


def test_a_contract_version_must_be_a_positive_integer():
    from lakeops.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="contract version"):
        replace(EVENTS, version=0)


# ----------------------------------------------------------------------------- in place, both backends


def _v1_table(spark, lake):
    """EVENTS as the previous release wrote it: two partitions, no recorded contract version."""
    lake.overwrite(events(spark, D1, 30), EVENTS, partitions={"ds": [D1]})
    lake.overwrite(events(spark, D2, 20), EVENTS, partitions={"ds": [D2]})
    return fingerprint(lake.read("test.events"))


def test_an_added_column_is_applied_in_place_and_old_rows_read_null(spark, lake):
    before = _v1_table(spark, lake)
    version = lake.version("test.events")
    with pytest.raises(OutdatedTableError, match="lakeops upgrade"):
        lake.overwrite(events(spark, D1, 30).selectExpr("*", "'x' as source", "1.0d as score"), EVENTS_V2,
                       partitions={"ds": [D1]})
    assert lake.version("test.events") == version  # refused before anything was written

    change = lake.evolve(EVENTS_V2)
    assert [f.name for f in change.add] == ["source", "score"]
    assert lake.version("test.events") == version + 2  # the columns, then the recorded version
    assert lake.properties("test.events")[CONTRACT_VERSION_PROPERTY] == "2"
    history = lake.history("test.events", limit=2)
    assert [h.get("lakeops.operation") for h in history] == ["upgrade", "upgrade"]
    assert history[1]["lakeops.added"] == ["source", "score"]

    # Old rows: the same values, nulls in the new columns, through every reader.
    df = lake.read("test.events")
    assert [f.name for f in df.schema] == EVENTS_V2.schema.names
    assert fingerprint(df.select(*EVENTS.schema.names)) == before
    assert df.where("source is not null or score is not null").count() == 0
    arrow = lake.read_arrow("test.events")
    assert arrow.schema.names == EVENTS_V2.schema.names and arrow["source"].null_count == arrow.num_rows == 50
    assert DeltaTable(lake.location("test.events")).to_pyarrow_table()["score"].null_count == 50

    # New rows carry the column; an old partition is untouched.
    lake.overwrite(events(spark, D2, 20).selectExpr("*", "'new' as source", "2.5d as score"), EVENTS_V2,
                   partitions={"ds": [D2]})
    got = {(r["ds"], r["source"]) for r in lake.read("test.events").select("ds", "source").distinct().collect()}
    assert got == {(D1, None), (D2, "new")}

    # A second evolve finds nothing to do and commits nothing.
    version = lake.version("test.events")
    again = lake.evolve(EVENTS_V2)
    assert not again.in_place and lake.version("test.events") == version


def test_a_nested_column_is_added_in_place_and_new_rows_carry_it(spark, lake):
    """A list of structs (as ml.model_validations.checks gained in 0.3.0) is added like any column."""
    checks = pa.list_(pa.struct([("metric", pa.string()), ("value", pa.float64()), ("passed", pa.bool_())]))
    nested = replace(EVENTS, schema=EVENTS.schema.append(pa.field("checks", checks)), version=2)
    _v1_table(spark, lake)
    change = lake.evolve(nested)
    assert [f.name for f in change.add] == ["checks"]
    assert lake.read_arrow("test.events")["checks"].null_count == 50
    rows = events(spark, D2, 3).selectExpr("*", "array(named_struct('metric', 'rmse', 'value', 1.5d, 'passed', true)) "
                                                "as checks")
    lake.overwrite(rows, nested, partitions={"ds": [D2]})
    got = lake.read("test.events").where("ds = date'2024-01-02'").select("checks").collect()
    assert [r["checks"][0]["metric"] for r in got] == ["rmse"] * 3
    assert lake.read("test.events").where("checks is null").count() == 30  # D1's old rows


def test_a_map_over_files_written_before_the_column_reads_it_as_null(spark, lake):
    _v1_table(spark, lake)
    lake.evolve(EVENTS_V2)
    out = TableSpec(name="test.sources", schema=pa.schema([("ds", pa.date32()), ("id", pa.int64()),
                                                            ("source", pa.string())]), partition_by=("ds",))

    def copy(batch, partition):
        return batch

    lake.map_partitions("test.events", copy, out, where={"ds": [D1]}, columns=["id", "source"])
    rows = lake.read_arrow("test.sources")
    assert rows.num_rows == 30 and rows["source"].null_count == 30


def test_a_refused_change_commits_nothing(spark, lake):
    _v1_table(spark, lake)
    version = lake.version("test.events")
    retyped = replace(EVENTS, schema=EVENTS.schema.set(3, pa.field("value", pa.int64())), version=2)
    with pytest.raises(SchemaMismatchError, match="lakeops upgrade --rewrite test.events"):
        lake.evolve(retyped)
    assert lake.version("test.events") == version


@pytest.mark.backend("embedded")
def test_a_new_table_records_its_contract_version_and_a_lake_check_names_the_outdated_tables(spark, lake):
    """The check every job makes before Spark starts reads the logs only (the embedded backend stands
    for both: the check is the same code)."""
    lake.append_rows(event_rows(D1, 5), EVENTS)
    assert lake.properties("test.events")[CONTRACT_VERSION_PROPERTY] == "1"
    check_contracts(lake.storage, [EVENTS])
    with pytest.raises(OutdatedTableError, match=r"test\.events lacks columns .* run `lakeops upgrade`"):
        check_contracts(lake.storage, [EVENTS_V2])
    other = replace(EVENTS, name="test.other")  # not made yet: nothing to check
    assert [c.table for c in table_changes(lake.storage, [EVENTS_V2, other])] == ["test.events"]


# ----------------------------------------------------------------------------- the rewrite, both backends


def test_a_rewrite_migrates_a_type_a_removed_column_and_the_partitioning_in_one_commit(spark, lake):
    _v1_table(spark, lake)
    old_version = lake.version("test.events")
    old = fingerprint(lake.read("test.events"))
    # A later contract: value becomes a string, name is gone, source is new, partitioned by nothing.
    migrated = TableSpec(name="test.events", schema=pa.schema([
        ("ds", pa.date32()), ("id", pa.int64()), ("value", pa.string()), ("at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string())]), version=3)
    change = lake.contract_change(migrated)
    assert change is not None and change.refused
    with pytest.raises(SchemaMismatchError, match="--rewrite"):
        lake.create(migrated)  # what every write checks first

    lake.rewrite(migrated)
    assert lake.version("test.events") == old_version + 2  # the rows, then the recorded version
    assert lake.contract_change(migrated).describe() == "test.events: up to date (contract v3)"
    got = lake.read("test.events")
    assert [f.name for f in got.schema] == migrated.schema.names
    assert got.count() == 50 and got.where("source is not null").count() == 0
    assert {r["value"] for r in got.where("id = 3").collect()} == {"4.5"}
    assert lake.spec("test.events").partition_by == ()
    # The rows before the migration stay readable by time travel.
    assert fingerprint(lake.read("test.events", version=old_version)) == old
    # And the table takes the new contract's writes.
    lake.append(got.limit(5), migrated)
    assert lake.read("test.events").count() == 55
