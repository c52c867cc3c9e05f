"""A multiclass model's quality per day and slice: realised once labels arrive, estimated (CBPE) before.

Reads ``predictions.<model>`` (each class's calibrated probability, as the version that
scored the day wrote them), ``features.<model>`` (labels, which are class names, and slice
columns) and ``ml.performance_reference`` (each version's bootstrap spread of accuracy,
macro AUC and macro F1, for the bands). Returns rows of ``ml.performance_metrics`` (the
macro averages, accuracy, weighted F1 and logloss), ``ml.class_metrics`` (per class,
one-vs-rest) and ``ml.confusion_matrix``; :mod:`lakeops.monitor.run` writes them.

One Spark job joins the two tables on ``ds`` and the entity keys; each task tallies its
batches per (day, slice) into a :class:`~lakeops.evaluate.multiclass.ClassTally` (one score
histogram per class, the confusion matrix, CBPE's expected confusion matrix, the log-loss
sum) and emits its non-empty cells; Spark sums the cells and only the sums reach the
driver. A realised row of a fully labelled day also records the estimate and whether the
realised value fell inside its band (the reconciliation of CBPE with what happened).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.config import ModelConfig
from lakeops.constants import ESTIMATED, REALISED
from lakeops.evaluate import binary, multiclass
from lakeops.lake.tables import (
    PERFORMANCE_METRICS,
    PERFORMANCE_REFERENCE,
    features_table,
)
from lakeops.monitor.joined import tally_joined
from lakeops.monitor.performance import DayPerformance, Measured, nan_to_null, populations, within

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

Population = tuple[date, str | None, str | None]
#: Cell parts besides the per-class histograms (part = class index): the two confusion matrices, the log loss.
_CONFUSION, _LOG_LOSS = -1, -2


def measure_multiclass(lake: Lake, model: ModelConfig, *, days: Sequence[date], versions: Mapping[date, int],
                       pinned: Mapping[str, int | None], slices: Mapping[str, Sequence[str]]) -> Measured:
    """The quality rows of ``days`` (each scored by ``versions[day]``), and a summary per day."""
    classes = tuple(model.classes)
    tallies = _tallies(lake, model, days=days, pinned=pinned, slices=slices)
    references = _references(lake, model.name, sorted(set(versions.values())))
    features_version = pinned[features_table(model.name)]
    out = Measured([], [], [], [])
    for (ds, key, value), t in sorted(tallies.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")):
        version = versions[ds]
        sampling = references.get(version)
        where = {"ds": ds, "model_name": model.name, "model_version": version, "slice_key": key, "slice_value": value}
        est = multiclass.estimated(t, classes)
        est_row = _metrics_row(where, ESTIMATED, est)
        if sampling is not None:
            for metric, found in (("accuracy", est.accuracy), ("auc", est.auc), ("f1", est.macro_f1)):
                est_row[f"{metric}_lower"], est_row[f"{metric}_upper"] = sampling.band(metric, found, est.n_scored)
        out.classes.extend(_class_rows(where, ESTIMATED, est))
        out.confusion.extend(_confusion_rows(where, ESTIMATED, est, classes))
        real = multiclass.realised(t, classes) if t.n_labeled else None
        if real is None:
            est_row["features_version"] = features_version  # measured at this version, no labels yet
        out.metrics.append(nan_to_null(est_row))
        if real is not None:
            real_row = _metrics_row(where, REALISED, real)
            real_row["features_version"] = features_version
            if real.n_labeled == real.n_scored and sampling is not None:
                real_row.update(estimated_accuracy=est.accuracy, estimated_auc=est.auc, estimated_f1=est.macro_f1)
                for metric, found in (("accuracy", real.accuracy), ("auc", real.auc), ("f1", real.macro_f1)):
                    real_row[f"{metric}_in_band"] = within(found, est_row[f"{metric}_lower"],
                                                           est_row[f"{metric}_upper"])
            out.metrics.append(nan_to_null(real_row))
            out.classes.extend(_class_rows(where, REALISED, real))
            out.confusion.extend(_confusion_rows(where, REALISED, real, classes))
        if key is None:
            out.days.append(DayPerformance(ds, "accuracy", est.accuracy, est_row["accuracy_lower"],
                                       est_row["accuracy_upper"], real.accuracy if real is not None else None,
                                       t.n_labeled / t.n_scored if t.n_scored else 0.0))
    return out


def _metrics_row(where: Mapping[str, Any], kind: str, q: multiclass.MulticlassQuality) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(PERFORMANCE_METRICS.schema.names)
    row.update(where, kind=kind, n_scored=q.n_scored, n_labeled=q.n_labeled,
               label_coverage=q.n_labeled / q.n_scored if q.n_scored else None, accuracy=q.accuracy,
               auc=q.auc, precision=q.macro_precision, recall=q.macro_recall, f1=q.macro_f1,
               weighted_f1=q.weighted_f1, logloss=q.logloss)
    return row


def _class_rows(where: Mapping[str, Any], kind: str, q: multiclass.MulticlassQuality) -> list[dict[str, Any]]:
    return [nan_to_null({**where, "kind": kind, "class_name": c.class_name, "support": float(c.support),
                         "predicted": int(c.predicted), "precision": c.precision, "recall": c.recall, "f1": c.f1,
                         "auc": c.auc}) for c in q.classes]


def _confusion_rows(where: Mapping[str, Any], kind: str, q: multiclass.MulticlassQuality,
                    classes: Sequence[str]) -> list[dict[str, Any]]:
    return [{**where, "kind": kind, "actual": a, "predicted": p, "rows": float(q.confusion[i, j])}
            for i, a in enumerate(classes) for j, p in enumerate(classes)]


def _references(lake: Lake, model_name: str, versions: list[int]) -> dict[int, multiclass.MulticlassSampling]:
    if not versions or not lake.exists(PERFORMANCE_REFERENCE.name):
        return {}
    found = {}
    for r in lake.read_arrow(PERFORMANCE_REFERENCE.name,
                             where={"model_name": [model_name], "model_version": versions}).to_pylist():
        if r.get("accuracy_sd") is not None:
            found[r["model_version"]] = multiclass.MulticlassSampling(
                rows=r["holdout_rows"], accuracy_sd=r["accuracy_sd"], auc_sd=r["auc_sd"], f1_sd=r["f1_sd"])
    if missing := [v for v in versions if v not in found]:
        log.warning("%s v%s has no multiclass %s row: its estimates have no band", model_name,
                    ",".join(map(str, missing)), PERFORMANCE_REFERENCE.name)
    return found


# --- the Spark job ------------------------------------------------------------------------------------

_CELLS = pa.schema([("ds", pa.date32()), ("slice_key", pa.string()), ("slice_value", pa.string()),
                    ("part", pa.int32()), ("cell", pa.int32()), ("n", pa.int64()), ("total", pa.float64())])


def to_cells(t: multiclass.ClassTally) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """A tally's non-empty cells as ``(part, cell, n, total)``: each class's histogram (part = class index),
    the confusion matrices (cell = actual * classes + predicted; n counted, total expected), the log loss."""
    for k, h in enumerate(t.per_class):
        yield (k, *binary.to_cells(h))
    cells = np.flatnonzero((t.confusion.ravel() != 0) | (t.expected.ravel() != 0))
    yield _CONFUSION, cells, t.confusion.ravel()[cells], t.expected.ravel()[cells]
    yield _LOG_LOSS, np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([t.log_loss_sum])


def from_cells(parts: np.ndarray, cell: np.ndarray, n: np.ndarray, total: np.ndarray,
               n_classes: int) -> multiclass.ClassTally:
    """The tally whose cells these are (cells may repeat: they add up)."""
    t = multiclass.empty_tally(n_classes)
    for k in range(n_classes):
        pick = parts == k
        t.per_class[k] = binary.from_cells(cell[pick], n[pick], total[pick])
    pick = parts == _CONFUSION
    np.add.at(t.confusion.ravel(), cell[pick], n[pick])
    np.add.at(t.expected.ravel(), cell[pick], total[pick])
    t.log_loss_sum = float(total[parts == _LOG_LOSS].sum())
    return t


@dataclass(frozen=True)
class _Tallier:
    """Task side: a joined batch (ds, class probabilities, label, slice columns) -> its non-empty cells."""

    label: str
    classes: tuple[str, ...]
    slices: Mapping[str, tuple[str, ...]]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            ds = table.column("ds").cast(pa.int32()).to_numpy(zero_copy_only=False)
            p = np.column_stack([table.column(multiclass.score_column(c)).to_numpy(zero_copy_only=False)
                                 for c in self.classes]).astype(np.float64)
            y = multiclass.label_indexes(table.column(self.label).to_pylist(), self.classes)
            out: dict[str, list] = {name: [] for name in _CELLS.names}
            for day, slice_key, value, rows in populations(table, ds, self.slices):
                for part, cell, n, total in to_cells(multiclass.tally(probabilities=p[rows], labels=y[rows])):
                    out["ds"] += [day] * len(cell)
                    out["slice_key"] += [slice_key] * len(cell)
                    out["slice_value"] += [value] * len(cell)
                    out["part"] += [part] * len(cell)
                    out["cell"] += np.asarray(cell).tolist()
                    out["n"] += np.asarray(n).tolist()
                    out["total"] += np.asarray(total).tolist()
            out["ds"] = pa.array(out["ds"], pa.int32()).cast(pa.date32())
            yield pa.RecordBatch.from_pydict(out, schema=_CELLS)


def _tallies(lake: Lake, model: ModelConfig, *, days: Sequence[date], pinned: Mapping[str, int | None],
             slices: Mapping[str, Sequence[str]]) -> dict[Population, multiclass.ClassTally]:
    scores = [multiclass.score_column(c) for c in model.classes]
    tallier = _Tallier(model.label, tuple(model.classes), {k: tuple(v) for k, v in slices.items()})
    collected = tally_joined(lake, model, days=days, pinned=pinned, predictions=scores,
                             features=[model.label, *slices], tallier=tallier, schema=_CELLS,
                             sum_by=["ds", "slice_key", "slice_value", "part", "cell"])
    grouped: dict[Population, list[int]] = {}
    for i, population in enumerate(zip(*(collected.column(c).to_pylist() for c in ("ds", "slice_key", "slice_value")),
                                       strict=True)):
        grouped.setdefault(population, []).append(i)
    part, cell, n, total = (collected.column(c).to_numpy() for c in ("part", "cell", "n", "total"))
    return {population: from_cells(part[idx], cell[idx], n[idx], total[idx], len(model.classes))
            for population, idx in grouped.items()}
