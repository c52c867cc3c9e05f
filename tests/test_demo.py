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


def test_models_run_at_once_print_each_models_steps_whole_numbered_as_they_finish():
    """Work for several models runs on threads; each model's block of lines is printed when its work
    is done, never interleaved, with step numbers in print order; results keep the models' order."""
    import io
    import threading

    from lakeops.demo import _at_once, _Printer

    out = io.StringIO()
    say = _Printer(out)
    say.step("first", lambda: None)
    slow_may_finish = threading.Event()

    def work(model: str, block) -> str:
        if model == "slow":  # finishes after "fast" has printed its block
            assert slow_may_finish.wait(timeout=30)
        block.step(f"{model}: prepare", lambda: None)
        block.detail(f"{model}: detail")
        block.step(f"{model}: train", lambda: None)
        if model == "fast":
            slow_may_finish.set()
        return model.upper()

    assert _at_once(["slow", "fast"], lambda m: say.block(lambda block: work(m, block))) == ["SLOW", "FAST"]
    lines = [line.strip() for line in out.getvalue().splitlines() if "done in" not in line]
    assert lines == ["[1] first ...", "[2] fast: prepare ...", "fast: detail", "[3] fast: train ...",
                     "[4] slow: prepare ...", "slow: detail", "[5] slow: train ..."]


def test_a_failing_model_still_prints_its_steps_and_its_error_reaches_the_caller():
    import io

    from lakeops.demo import _at_once, _Printer

    out = io.StringIO()
    say = _Printer(out)

    def work(model: str, block) -> None:
        block.step(f"{model}: train", lambda: None if model == "good" else 1 / 0)

    with pytest.raises(ZeroDivisionError):
        _at_once(["good", "bad"], lambda m: say.block(lambda block: work(m, block)))
    assert "bad: train ..." in out.getvalue() and "good: train ..." in out.getvalue()
