"""The terminal shows lakeops's own lines; Spark's and the libraries' output goes to the lakehouse's log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lakeops import logs

#: A lakeops log line on the terminal: time, level, a lakeops logger.
OURS = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) lakeops(\.[\w.]+)?: ")


def _lakeops(lake: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LAKEOPS_LOG_DIR"}
    return subprocess.run([sys.executable, "-m", "lakeops.cli", "--lake", str(lake), *args],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def test_log_file_is_under_the_lakehouse_or_the_temp_dir_for_object_storage(tmp_path, monkeypatch):
    monkeypatch.delenv("LAKEOPS_LOG_DIR", raising=False)
    assert logs.log_path(tmp_path / "lake") == tmp_path / "lake" / "_logs" / "lakeops.log"
    assert logs.log_path("s3://bucket/prefix").name == "lakeops.log"
    assert "bucket" not in str(logs.log_path("s3://bucket/prefix").parent)
    monkeypatch.setenv("LAKEOPS_LOG_DIR", str(tmp_path / "elsewhere"))
    assert logs.log_path(tmp_path / "lake") == tmp_path / "elsewhere" / "lakeops.log"


@pytest.mark.slow
def test_a_spark_command_prints_only_its_own_lines_and_logs_the_rest(tmp_path):
    lake = tmp_path / "lake"
    done = _lakeops(lake, "generate", "--start", "2024-01-01", "--end", "2024-01-02", "--hosts", "20")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("raw.telemetry") or "rows" in done.stdout
    chatter = [line for line in done.stderr.splitlines() if line.strip() and not OURS.match(line)]
    assert chatter == []
    log = (lake / "_logs" / "lakeops.log").read_text()
    # The JVM's own start-up lines and lakeops's records both land in the file.
    assert "SparkContext" in log or "log4j" in log
    assert "lakeops.runs" in log

    verbose = _lakeops(lake, "-v", "generate", "--start", "2024-01-03", "--end", "2024-01-03", "--hosts", "20")
    assert verbose.returncode == 0, verbose.stderr
    assert any(not OURS.match(line) for line in verbose.stderr.splitlines() if line.strip())


def test_a_refused_argument_writes_no_log_and_no_lakehouse(tmp_path):
    lake = tmp_path / "lake"
    done = _lakeops(lake, "generate", "--start", "2024-01-02", "--end", "2024-01-01")
    assert done.returncode == 2 and "lakeops: error:" in done.stderr
    assert not lake.exists()
