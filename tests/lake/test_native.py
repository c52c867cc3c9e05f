"""The native delta-spark backend behaves like the embedded one (when its jars load)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOB = Path(__file__).resolve().parents[1] / "native_job.py"


def test_native_backend_matches_embedded_behaviour(tmp_path):
    try:
        proc = subprocess.run([sys.executable, str(JOB), str(tmp_path / "lake")], capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("delta-spark session did not start within 300s (fetching its jars hung)")
    if proc.returncode == 3:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unknown"
        pytest.skip(f"native backend unavailable: the Delta jars come from Maven Central, which this machine "
                    f"cannot reach ({reason})")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"rerun_identical": True, "empty": "raised", "outside": "raised", "schema": "raised",
                      "unchanged_after_errors": True, "rows": 50}
