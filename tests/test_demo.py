"""``lakeops demo`` refuses a lakehouse that is not fresh, and never removes what it did not make.

The demo itself is what ``make demo`` runs (a few minutes); its stages are tested on their own.
"""

from __future__ import annotations

import pytest

from lakeops.cli import main
from lakeops.demo import DemoPlan


def _run(lake_root, *args):
    return main(["--env", "test", "--lake", str(lake_root), *args])


def test_a_lake_that_is_not_fresh_is_refused_before_anything_runs(tmp_path, capsys):
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    assert _run(lake, "demo") == 2
    assert "is not empty" in capsys.readouterr().err and (lake / "raw").is_dir()


def test_reset_never_removes_files_lakeops_did_not_make(tmp_path, capsys):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "thesis.tex").write_text("mine")
    assert _run(lake, "demo", "--reset") == 2
    assert "did not make" in capsys.readouterr().err and (lake / "thesis.tex").read_text() == "mine"


def test_plan_arguments_are_checked():
    with pytest.raises(ValueError, match="--hosts"):
        DemoPlan(hosts=5)
    with pytest.raises(ValueError, match="--days"):
        DemoPlan(days=10)
    plan = DemoPlan()
    assert plan.train_ds < plan.drift_start <= plan.end
