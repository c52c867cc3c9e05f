"""What each stage reads and writes: the one statement of it.

Data, not code that runs a stage: the DAGs make their tasks' outlets and inlets from it,
:mod:`lakeops.stages` and the docs print it (``python -m lakeops.stage_io`` writes the table of
``docs/concepts.md``), and ``tests/test_stage_io.py`` runs every stage on a small lakehouse and
compares the tables each one committed to with what is declared here, exactly. A change to what a
stage writes is made here; the rest follows or a test fails.

Standard library only, like :mod:`lakeops.constants`: the DAG files import it when Airflow parses them.

A table name is ``<schema>.<table>``; ``{model}`` stands for the model's name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final, Literal

from lakeops.constants import PROBLEM_TYPES

#: Stands for the model's name in a table name (``features.{model}``).
MODEL: Final = "{model}"
#: What the registry holds for a model: its versions and the ``challenger``/``champion`` aliases.
REGISTRY: Final = "the registry"
#: Every stage that records a run writes a row of this table.
JOB_RUNS: Final = "ml.job_runs"
#: How a stage uses the registry: not at all, loads versions, or registers versions and moves aliases.
RegistryUse = Literal["", "reads", "writes"]
#: When a stage needs a Spark session: always (it runs Spark jobs), or only on the native backend.
SparkNeed = Literal["always", "native"]


@dataclass(frozen=True)
class Table:
    """A table a stage reads or writes; ``problems``: only for these problem types (empty: all)."""

    name: str
    problems: tuple[str, ...] = ()

    def applies(self, problem_type: str) -> bool:
        return not self.problems or problem_type in self.problems

    def named(self, model: str | None) -> str:
        if MODEL in self.name and model is None:
            raise ValueError(f"{self.name} needs a model name")
        return self.name.replace(MODEL, model or "")


@dataclass(frozen=True)
class Stage:
    """One stage: its job (``jobs/<job>.py``, the ``job`` of ``ml.job_runs`` and of its commits),
    its ``lakeops`` command and :mod:`lakeops.stages` entry, and what it reads and writes."""

    job: str
    command: str
    entry: str
    summary: str
    reads: tuple[Table, ...] = ()
    writes: tuple[Table, ...] = ()
    #: Whether the stage acts on one model (``--model``).
    per_model: bool = True
    #: The registry: ``"reads"`` (loads versions) or ``"writes"`` (registers versions, moves aliases).
    registry: RegistryUse = ""
    #: What else it writes, in words (files outside the tables).
    files: str = ""
    #: It works on every table of the lakehouse (upgrade, maintenance): ``writes`` lists only its own.
    every_table: bool = False
    #: When it needs a Spark session: ``always`` (it runs Spark jobs), or only on the ``native``
    #: backend, whose commits are delta-spark's (the embedded backend commits through delta-rs; the
    #: DAGs then run the job as a plain Python process rather than through spark-submit).
    spark: SparkNeed = "always"

    def tables_written(self, model: str | None = None, problem_type: str = "binary") -> tuple[str, ...]:
        """The tables this stage commits to, for ``model`` of ``problem_type``."""
        return _names(self.writes, model, problem_type)

    def tables_read(self, model: str | None = None, problem_type: str = "binary") -> tuple[str, ...]:
        return _names(self.reads, model, problem_type)


def _names(tables: tuple[Table, ...], model: str | None, problem_type: str) -> tuple[str, ...]:
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"unknown problem type {problem_type!r}: expected one of {', '.join(PROBLEM_TYPES)}")
    return tuple(t.named(model) for t in tables if t.applies(problem_type))


def _tables(*names: str) -> tuple[Table, ...]:
    return tuple(Table(n) for n in names)


_FEATURES = f"features.{MODEL}"
_PREDICTIONS = f"predictions.{MODEL}"
_SHADOW = f"shadow.{MODEL}"
_MULTICLASS = ("multiclass",)

#: Every stage, in the order of the loop.
STAGES: Final[tuple[Stage, ...]] = (
    Stage(
        job="generate", command="generate", entry="run_generate", per_model=False,
        summary="synthetic demo data for a date range",
        writes=_tables("raw.telemetry", "raw.incidents", "raw.scenario", JOB_RUNS),
    ),
    Stage(
        job="prepare", command="prepare", entry="run_prepare",
        summary="the model's feature table, behind the data-quality gate",
        # The model's sources are its config's (sources.observations, sources.labels): the demo's raw tables.
        reads=_tables("raw.telemetry", "raw.incidents"),
        writes=_tables(_FEATURES, "ml.feature_days", "ml.data_quality", JOB_RUNS),
        files="the suites' results under `<lake>/_reports/data_quality/`",
    ),
    Stage(
        job="train", command="train", entry="run_train", registry="writes",
        summary="a challenger trained on the window, its baselines and references",
        reads=_tables(_FEATURES, "ml.feature_days", "ml.data_quality", "ml.alerts"),
        writes=_tables("ml.baselines", "ml.baseline_sketches", "ml.performance_reference",
                       "ml.attribution_reference", JOB_RUNS),
    ),
    Stage(
        job="shadow_score", command="score --shadow", entry="run_score", registry="reads",
        summary="the challenger scores days beside the champion; nothing is served",
        reads=_tables(_FEATURES),
        writes=_tables(_SHADOW, JOB_RUNS),
    ),
    Stage(
        job="validate_model", command="validate-model", entry="run_validate", registry="writes",
        summary="the model gate: challenger against champion on the same holdout",
        reads=_tables(_FEATURES),
        writes=_tables("ml.model_validations", JOB_RUNS),
    ),
    Stage(
        job="score", command="score", entry="run_score", registry="reads",
        summary="the champion scores days into the served predictions",
        reads=_tables(_FEATURES),
        writes=_tables(_PREDICTIONS, JOB_RUNS),
    ),
    Stage(
        job="monitor", command="monitor", entry="run_monitor", registry="reads",
        summary="drift, profiles, realised and estimated performance, attribution drift",
        reads=_tables(_FEATURES, _PREDICTIONS, "ml.baselines", "ml.baseline_sketches", "ml.drift_counts",
                      "ml.performance_metrics", "ml.performance_reference", "ml.attribution_reference"),
        writes=(*_tables("ml.drift_counts", "ml.drift_metrics", "ml.profile_metrics", "ml.performance_metrics"),
                Table("ml.class_metrics", _MULTICLASS), Table("ml.confusion_matrix", _MULTICLASS),
                *_tables("ml.attribution_drift", JOB_RUNS)),
    ),
    Stage(
        job="alerts", command="alerts", entry="run_alerts", spark="native",
        summary="the alert rules judged on monitored days; receivers told; retrain requests",
        reads=(*_tables("ml.drift_counts", "ml.drift_metrics", "ml.performance_metrics", "ml.performance_reference",
                        "ml.data_quality", "ml.attribution_drift"),
               Table("ml.class_metrics", _MULTICLASS), *_tables("ml.alerts")),
        writes=_tables("ml.alerts", JOB_RUNS),
    ),
    Stage(
        job="report", command="report", entry="run_report", spark="native",
        summary="the HTML report pages of monitored days",
        reads=(*_tables(_PREDICTIONS, "ml.drift_counts", "ml.drift_metrics", "ml.performance_metrics",
                        "ml.performance_reference", "ml.baselines"),
               Table("ml.class_metrics", _MULTICLASS), Table("ml.confusion_matrix", _MULTICLASS),
               *_tables("ml.attribution_drift", "ml.alerts", "ml.model_validations", _SHADOW, _FEATURES)),
        writes=_tables(JOB_RUNS),
        files="`<lake>/reports/<model>/<ds>.html` and the index",
    ),
    Stage(
        job="upgrade", command="upgrade", entry="run_upgrade", spark="native", per_model=False, every_table=True,
        summary="an older release's lakehouse brought to this release's contracts",
    ),
    Stage(
        job="maintain", command="maintain", entry="run_maintain", spark="native", per_model=False, every_table=True,
        summary="compaction, checkpoints, vacuum, partition retention",
        writes=_tables(JOB_RUNS),
    ),
)

_BY_JOB: Final = {s.job: s for s in STAGES}


def stage(job: str) -> Stage:
    """The stage whose job is ``job``."""
    try:
        return _BY_JOB[job]
    except KeyError:
        raise ValueError(f"unknown stage {job!r}: expected one of {', '.join(_BY_JOB)}") from None


def markdown_table() -> str:
    """The table of the docs: each stage, its command, what it reads and what it writes."""

    def cell(tables: tuple[Table, ...], *extra: str) -> str:
        names = [f"`{t.name}`" + (f" ({', '.join(t.problems)})" if t.problems else "") for t in tables]
        return ", ".join([*names, *(e for e in extra if e)]) or "nothing"

    lines = ["| stage | command | reads | writes |", "|---|---|---|---|"]
    for s in STAGES:
        registry_read = REGISTRY if s.registry else ""
        registry_write = f"{REGISTRY} (versions, aliases)" if s.registry == "writes" else ""
        reads = "every table" if s.every_table else cell(s.reads, registry_read)
        writes = cell(s.writes, "every table" if s.every_table else "", registry_write, s.files)
        lines.append(f"| {s.job} | `lakeops {s.command}` | {reads} | {writes} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
