"""Hostile names, dates and paths are rejected before anything runs (docs/reliability.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lakeops.dates import date_range, parse_ds
from lakeops.errors import InvalidParameterError
from lakeops.names import TableName, path_under, validate_name


@pytest.mark.parametrize("bad", ["2024-13-01", "2024-01-01' OR '1'='1", "../x", "", "2024-1-1", "20240101", "2024-02-30", None])
def test_bad_dates_are_rejected(bad):
    with pytest.raises(InvalidParameterError, match="ds"):
        parse_ds(bad)


def test_good_date_parses():
    assert parse_ds("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize("bad", ["../../etc", "a;DROP", "s3://x", "", "A", "1abc", "a b", "a" * 64, "a.b", "é"])
def test_bad_names_are_rejected(bad):
    with pytest.raises(InvalidParameterError, match="invalid"):
        validate_name(bad)


@pytest.mark.parametrize("bad", ["raw", "raw.telemetry.x", "../raw.x", "raw./etc", "raw.a;DROP", "s3://x.y"])
def test_bad_table_names_are_rejected(bad):
    with pytest.raises(InvalidParameterError):
        TableName.parse(bad)


def test_table_name_round_trip():
    assert str(TableName.parse("raw.telemetry")) == "raw.telemetry"
    assert validate_name("a" * 63) == "a" * 63


def test_path_under_refuses_escape(tmp_path):
    assert path_under(tmp_path, "raw", "t") == (tmp_path / "raw" / "t").resolve()
    with pytest.raises(InvalidParameterError, match="escapes"):
        path_under(tmp_path, "..", "etc")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "link").symlink_to(Path("/tmp"))
    with pytest.raises(InvalidParameterError, match="escapes"):
        path_under(tmp_path, "raw", "link")


def test_lake_refuses_hostile_table_names(lake):
    for bad in ("../../etc", "raw.a;DROP", "s3://x"):
        with pytest.raises(InvalidParameterError):
            lake.read(bad)


def test_date_range():
    assert date_range(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    with pytest.raises(InvalidParameterError, match="before"):
        date_range(date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(InvalidParameterError, match="limit"):
        date_range(date(2000, 1, 1), date(2030, 1, 1))
