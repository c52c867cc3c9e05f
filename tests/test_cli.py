"""The ``lakeops`` command: generate and tables end to end, and its errors."""

from __future__ import annotations

from datetime import date

import pytest
from deltalake import DeltaTable
from lakedata import fingerprint

from lakeops.cli import main


def _run(lake_root, *args):
    return main(["--env", "test", "--lake", str(lake_root), *args])


def _arrow_fp(path):
    table = DeltaTable(str(path)).to_pyarrow_table()
    rows = sorted(tuple(map(repr, r.values())) for r in table.to_pylist())
    return len(rows), hash(tuple(rows))


def test_generate_then_tables(spark, lake, lake_root, capsys):
    args = ["generate", "--start", "2024-01-01", "--end", "2024-01-06", "--hosts", "400",
            "--rows-per-day", "300", "--seed", "3", "--drift-start", "2024-01-05"]
    assert _run(lake_root, *args) == 0
    first = {t: fingerprint(lake.read(t)) for t in ("raw.telemetry", "raw.incidents", "raw.scenario")}
    first_rs = {t: _arrow_fp(lake.path(t)) for t in first}
    assert first["raw.telemetry"][0] == 6 * 300

    # Same arguments: identical row sets, through Spark and through delta-rs alone.
    assert _run(lake_root, *args) == 0
    assert {t: fingerprint(lake.read(t)) for t in first} == first
    assert {t: _arrow_fp(lake.path(t)) for t in first} == first_rs

    # An overlapping range regenerates the shared days identically.
    assert _run(lake_root, "generate", "--start", "2024-01-04", "--end", "2024-01-08", "--hosts", "400",
                "--rows-per-day", "300", "--seed", "3", "--drift-start", "2024-01-05") == 0
    days = [date(2024, 1, d) for d in range(1, 7)]
    assert fingerprint(lake.read("raw.telemetry", where={"ds": days})) == first["raw.telemetry"]

    scenario = {r.column_name: r.drift_kind for r in lake.read("raw.scenario").collect()}
    assert scenario == {"latency_p95_ms": "mean_shift", "net_in_mbps": "variance_change",
                        "os_version": "new_category", "mem_util_pct": "null_rate"}

    capsys.readouterr()
    assert _run(lake_root, "tables") == 0
    out = capsys.readouterr().out
    assert "raw.telemetry" in out and "2,400" in out and "raw.incidents" in out and "raw.scenario" in out


def test_tables_on_an_empty_lake(lake_root, capsys):
    assert _run(lake_root, "tables") == 0
    assert "no tables yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--start", "2024-01-02", "--end", "2024-01-01"], "before --start"),
        (["generate", "--start", "2024-01-01", "--end", "2024-01-01", "--hosts", "10", "--rows-per-day", "11"],
         "--rows-per-day must be between 1 and --hosts"),
        (["--set", "lake.backend=iceberg", "tables"], "lake.backend: expected one of"),
        (["--set", "nonsense", "tables"], "expected key.path=value"),
        (["score", "--model", "incident_risk"], "give --ds D, or --start D and --end D"),
        (["score", "--model", "incident_risk", "--ds", "2024-01-01", "--start", "2024-01-01"], "not both"),
        (["score", "--model", "no_such_model", "--ds", "2024-01-01"], "no_such_model"),
    ],
)
def test_errors_are_one_line_and_exit_2(lake_root, capsys, args, message):
    assert _run(lake_root, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("lakeops: error:") and message in err and "Traceback" not in err
    assert not (lake_root / "raw").exists()


@pytest.mark.parametrize("bad", ["2024-13-01", "2024-01-01' OR '1'='1", "../x", ""])
def test_hostile_dates_are_usage_errors(lake_root, capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        _run(lake_root, "generate", "--start", bad, "--end", "2024-01-01")
    assert exit_.value.code == 2
    assert "--start" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["tables", "--help"], ["score", "--help"]])
def test_help_everywhere(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    assert "usage: lakeops" in capsys.readouterr().out


def test_global_options_work_after_the_command(lake_root, capsys, monkeypatch):
    monkeypatch.setenv("LAKEOPS_LAKE", "/nonexistent/elsewhere")
    assert main(["tables", "--lake", str(lake_root), "--env", "test"]) == 0
    assert str(lake_root) in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--chunk-days", "--model-version"])
@pytest.mark.parametrize("bad", ["0", "-3", "x"])
def test_score_counts_must_be_positive(lake_root, capsys, option, bad):
    with pytest.raises(SystemExit) as exit_:
        _run(lake_root, "score", "--model", "incident_risk", "--ds", "2024-01-01", option, bad)
    assert exit_.value.code == 2
    assert f"invalid {option} {bad!r}" in capsys.readouterr().err
