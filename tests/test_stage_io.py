"""What each stage writes is what lakeops.stage_io declares, exactly, on a real lakehouse.

The whole-loop lake (tests/looplake.py) records, for every stage call that built it, the tables
whose Delta version the call moved; each commit's ``lakeops.job`` says which stage made it. Both
are held to the declaration: a stage that starts writing a table, or stops, fails here until
``lakeops.stage_io`` says so (and with it the DAGs' outlets and the docs' table).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from looplake import MODEL, MULTICLASS, table_versions

from lakeops import stage_io, stages

KINDS = {MODEL: "binary", MULTICLASS: "multiclass"}


@pytest.mark.slow  # the whole-loop lake
def test_each_stage_commits_to_exactly_the_tables_it_declares(loop_lake):
    for (job, model), written in sorted(loop_lake.writes.items(), key=str):
        declared = stage_io.stage(job).tables_written(model, KINDS.get(model, "binary"))
        assert written == set(declared), (job, model, sorted(written ^ set(declared)))
    # Every stage ran on the lake but maintenance (a copy's, below).
    assert {job for job, _ in loop_lake.writes} == {s.job for s in stage_io.STAGES} - {"maintain"}
    # The conditional tables: the multiclass model's, and only its.
    assert {"ml.class_metrics", "ml.confusion_matrix"} <= loop_lake.writes[("monitor", MULTICLASS)]
    assert not {"ml.class_metrics", "ml.confusion_matrix"} & loop_lake.writes[("monitor", MODEL)]


@pytest.mark.slow  # the whole-loop lake
def test_every_commit_names_a_stage_that_declares_its_table(loop_lake):
    writers: dict[str, set[str]] = {}
    for s in stage_io.STAGES:
        for model, kind in KINDS.items():
            for table in s.tables_written(model if s.per_model else None, kind):
                writers.setdefault(table, set()).add(s.job)
    checked = 0
    for table in table_versions(loop_lake.root):
        for commit in loop_lake.lake.history(table):
            job = commit.get("lakeops.job")
            if job is None:  # the table's creation, or an upgrade's metadata commit
                continue
            assert job in writers.get(table, set()), (table, commit["version"], job)
            checked += 1
    assert checked > 30


@pytest.mark.slow  # the whole-loop lake
def test_maintenance_records_its_run_and_touches_only_what_it_keeps(loop_lake, tmp_path):
    """On a copy: maintenance writes its ``ml.job_runs`` row; its other commits (compaction,
    dropped partitions) are on tables it keeps, and no stage's job name is on them."""
    from dataclasses import replace

    root = tmp_path / "lake"
    shutil.copytree(loop_lake.root, root)
    settings = replace(loop_lake.settings, lake=replace(loop_lake.settings.lake, root=str(root)))
    stages.run_upgrade(settings)  # the copy's MLflow store follows it to its new folder
    before = table_versions(root)
    stages.run_maintain(settings, ds=date(2024, 2, 1))
    moved = {t for t, v in table_versions(root).items() if before.get(t) != v}
    declared = set(stage_io.stage("maintain").tables_written())
    assert declared <= moved
    lake = stages.open_lake(settings, session=False)
    for table in moved - declared:
        jobs = {c.get("lakeops.job") for c in lake.history(table) if c["version"] > before[table]}
        assert jobs <= {None, "maintain"}, (table, jobs)


@pytest.mark.parametrize("job", [s.job for s in stage_io.STAGES])
def test_each_declared_stage_has_its_entry_and_command(job):
    from lakeops.cli import build_parser

    declared = stage_io.stage(job)
    assert callable(getattr(stages, declared.entry))
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert declared.command.split()[0] in commands
    if declared.job not in ("upgrade", "shadow_score"):  # upgrade is run by hand; shadow scoring is jobs/score.py
        script = declared.command.split()[0].replace("-", "_")
        assert (Path(__file__).resolve().parents[1] / "jobs" / f"{script}.py").is_file(), script


def test_the_docs_table_is_the_declaration():
    """docs/concepts.md carries the table ``python -m lakeops.stage_io`` prints, as it prints it."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "concepts.md").read_text()
    assert stage_io.markdown_table() in page, "run `python -m lakeops.stage_io` and paste its table into docs/concepts.md"
