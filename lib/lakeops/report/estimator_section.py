"""The estimator check of a day page: whether the performance estimator of the version that scored the day
passed its check at training.

Training runs the version's estimator (CBPE; a regression model's DLE) on the holdout as if its labels had
not arrived and records the estimate beside the realised value (``ml.performance_reference``);
:func:`lakeops.evaluate.estimator_check.check_estimator` judges the gap against the sampling band. This
module shapes that verdict into what ``estimator_check.html`` shows in the performance section: a warning
box when the check failed, a one-line caption when it passed, nothing for a version trained before the
check. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lakeops.evaluate.estimator_check import EstimatorCheck
from lakeops.report.problems import BINARY, ProblemSpec, three
from lakeops.report.values import to_float

#: The estimator per problem type, as the performance notes name it.
ESTIMATOR = {"binary": "CBPE", "multiclass": "CBPE", "regression": "DLE"}


@dataclass(frozen=True)
class EstimatorNote:
    """What the page says about one version's estimator: ``failed`` (the warning box) or passed (a caption)."""

    version: int
    failed: bool
    estimator: str
    #: Per metric checked: label, estimated, realised, allowed (display strings) and ok.
    gaps: list[dict] = field(default_factory=list)

    @property
    def figures(self) -> str:
        """'AUC estimated 0.795 vs realised 0.801 (±0.030), F1 ...'."""
        return ", ".join(f"{g['label']} estimated {g['estimated']} vs realised {g['realised']} (±{g['allowed']})"
                         for g in self.gaps)


def build(checks: Mapping[int, EstimatorCheck] | None, version: object,
          spec: ProblemSpec = BINARY) -> EstimatorNote | None:
    """The note on the estimator of ``version`` (the version that scored the page's day); None when the
    version has no check (no ``ml.performance_reference`` row, or one from before the check) or the page
    has no scoring version."""
    number = to_float(version)
    if not checks or number != number:  # NaN: no version scored the day
        return None
    check = checks.get(int(number))
    if check is None or check.trusted is None:
        return None
    gaps = []
    for g in check.gaps:
        metric = next((m for m in spec.metrics if m.column == g.metric), None)
        fmt = metric.fmt if metric is not None else three
        gaps.append({"label": metric.label if metric is not None else g.metric, "estimated": fmt(g.estimated),
                     "realised": fmt(g.realised), "allowed": fmt(g.allowed), "ok": g.ok})
    return EstimatorNote(version=int(number), failed=check.failed, estimator=ESTIMATOR.get(spec.problem_type, ""),
                         gaps=gaps)
