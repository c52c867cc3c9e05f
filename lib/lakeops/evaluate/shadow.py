"""Champion and challenger on the same rows: realised metrics per day from served and shadow scores.

Shadow scoring (``lakeops score --shadow``) has a challenger score days the champion
served, into ``shadow.<model>``. Once those days' labels arrive, :func:`compare` joins
the champion's rows of ``predictions.<model>``, the challenger's of ``shadow.<model>``
and the labels of ``features.<model>`` on ``ds`` and the entity keys, and evaluates
both on exactly the rows both scored and that have a label, with the problem type's
own metrics (:mod:`lakeops.evaluate.problems`).

Pure: Arrow tables in, one :class:`DayComparison` per day out. The callers read the
tables (the CLI's ``lakeops shadow`` through :mod:`lakeops.score.shadow`, the report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakeops.constants import CLASS_SCORE_PREFIX
from lakeops.evaluate.problems import problem

_CHALLENGER = "challenger__"


@dataclass(frozen=True)
class DayComparison:
    """Both versions' realised metrics on one day's labelled rows that both scored."""

    ds: date
    rows: int
    champion_version: int
    challenger_version: int
    champion: Mapping[str, float]
    challenger: Mapping[str, float]

    def better(self, metric: str, *, higher_is_better: bool) -> bool | None:
        """Whether the challenger did better than the champion on ``metric`` (None: not measured)."""
        a, b = self.challenger.get(metric), self.champion.get(metric)
        if a is None or b is None or np.isnan(a) or np.isnan(b):
            return None
        return bool(a > b) if higher_is_better else bool(a < b)


def output_columns(problem_type: str, classes: Sequence[str] = ()) -> list[str]:
    """The stored columns a version's metrics are computed from."""
    if problem_type == "multiclass":
        return [f"{CLASS_SCORE_PREFIX}{c}" for c in classes]
    return ["score" if problem_type == "binary" else "prediction"]


def compare(*, served: pa.Table, shadow: pa.Table, labels: pa.Table, keys: Sequence[str], label: str,
            problem_type: str, classes: Sequence[str] = (),
            thresholds: Mapping[int, float] | None = None) -> list[DayComparison]:
    """Per day, the champion's (``served``) and challenger's (``shadow``) metrics on the rows both scored
    whose ``label`` (from ``labels``) is known. ``thresholds``: a binary version's decision threshold by
    version (F1, precision and recall depend on it). Days without such rows are left out."""
    kind = problem(problem_type)
    outputs = output_columns(problem_type, classes)
    on = ["ds", *keys]
    champion = served.select([*on, "model_version", *outputs])
    challenger = shadow.select([*on, "model_version", *outputs]).rename_columns(
        [*on, *(f"{_CHALLENGER}{c}" for c in ["model_version", *outputs])])
    known = labels.select([*on, label]).filter(pc.is_valid(labels[label]))
    joined = champion.join(challenger, keys=on, join_type="inner").join(known, keys=on, join_type="inner")
    out = []
    for day in sorted(set(joined.column("ds").to_pylist())):
        rows = joined.filter(pc.equal(joined["ds"], pa.scalar(day, joined.schema.field("ds").type)))
        y = kind.label_values(rows.column(label).to_numpy(zero_copy_only=False), classes=tuple(classes))
        if problem_type == "multiclass":
            keep = y >= 0  # a label that is not one of the classes is not judged
            rows, y = rows.filter(pa.array(keep)), y[keep]
        if not len(y):
            continue
        versions = [int(rows.column(c)[0].as_py()) for c in ("model_version", f"{_CHALLENGER}model_version")]
        measured = []
        for prefix, version in zip(("", _CHALLENGER), versions, strict=True):
            values = [rows.column(f"{prefix}{c}").to_numpy(zero_copy_only=False).astype(np.float64) for c in outputs]
            output = np.column_stack(values) if problem_type == "multiclass" else values[0]
            threshold = (thresholds or {}).get(version)
            measured.append(kind.evaluate(y, output, threshold=threshold, classes=tuple(classes)))
        out.append(DayComparison(day, rows.num_rows, versions[0], versions[1], measured[0], measured[1]))
    return out


def describe(days: Sequence[DayComparison], metrics: Mapping[str, bool]) -> list[str]:
    """One line per day: rows, and each metric's champion and challenger values (which did better);
    ``metrics`` maps each metric to whether higher is better (``ModelConfig.gate_metrics()``'s)."""
    lines = []
    for d in days:
        parts = []
        for m, up in metrics.items():
            a, b = d.champion.get(m), d.challenger.get(m)
            if a is None or b is None:
                continue
            verdict = {True: "better", False: "worse", None: "-"}[d.better(m, higher_is_better=up)]
            if a == b:
                verdict = "same"
            parts.append(f"{m} v{d.champion_version} {a:.4g} / v{d.challenger_version} {b:.4g} ({verdict})")
        lines.append(f"{d.ds.isoformat()}  {d.rows:>7,} rows  " + "; ".join(parts))
    return lines
