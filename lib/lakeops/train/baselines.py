"""Reference distributions frozen at training time, for drift monitoring.

For every numeric feature and the model's numeric outputs (its score, its prediction, a
multiclass model's probability of each class): decile edges (approximate
quantiles of the training rows) and the share of rows in each bin
``(-inf, e1], (e1, e2], ..., (ek, inf)`` plus a null bucket, for PSI; and a fine
grid of about a thousand quantiles with the rows in each cell, for KS and
Wasserstein (``ml.baseline_sketches``). For every categorical feature: the kept
categories, an ``__other__`` bucket and a ``__null__`` bucket; a multiclass model's predicted
class is counted the same way over its classes. All of it for the
whole population and for each value of the model's slice columns.

The rows are counted by :mod:`lakeops.tally.counts`, the same code that
counts each monitored day. Every proportion is ``count / baseline_rows``, so a
PSI against any later day can be recomputed by hand from ``ml.baselines`` and
``ml.drift_counts``.

Computes rows for ``ml.baselines`` and ``ml.baseline_sketches``; the caller writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakeops.lake.tables import BASELINE_SKETCHES, BASELINES
from lakeops.runs import cached
from lakeops.tally.bins import ColumnBins
from lakeops.tally.counts import (
    SKETCH_QUANTILES,
    ColumnTally,
    TallyPlan,
    coarse_counts,
    tally_batch,
    tally_frame,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

QUANTILES = tuple(i / 10 for i in range(1, 10))
#: approxQuantile's relative error: far finer than a sketch cell (0.1 % of the rows).
RELATIVE_ERROR = 1e-4
#: Training rows up to this many are summed up on the driver from one Arrow copy of their columns
#: (exact quantiles, no Spark job): a Spark job per summary costs more than the counting itself.
LOCAL_ROWS = 200_000


@dataclass(frozen=True)
class Baselines:
    bins: pa.Table  # ml.baselines rows
    sketches: pa.Table  # ml.baseline_sketches rows


def freeze_baselines(
    df: DataFrame,
    *,
    model_name: str,
    model_version: int,
    numeric: Sequence[str],
    categorical: Mapping[str, Sequence[str]],
    slices: Sequence[str],
    score_columns: Sequence[str] = (),
    class_columns: Mapping[str, Sequence[str]] | None = None,
    ds_start: date,
    ds_end: date,
) -> Baselines:
    """The baselines of ``df`` (the training rows, with the model's output columns if given): from one
    Arrow copy of its columns when it has at most :data:`LOCAL_ROWS` rows, else in two Spark jobs.

    ``score_columns`` are numeric outputs (column type ``score``), ``class_columns`` categorical ones
    with their classes (column type ``class``).
    """
    class_columns = dict(class_columns or {})
    numeric = [*numeric, *score_columns]
    categorical = {**categorical, **class_columns}
    columns = [*numeric, *categorical]
    probs = sorted({*QUANTILES, *SKETCH_QUANTILES})

    def planned(found: Sequence[Sequence[float]]) -> TallyPlan:
        sketch = {col: tuple(sorted(set(qs))) for col, qs in zip(numeric, found, strict=True)}
        return TallyPlan(numeric=sketch, categorical={c: tuple(v) for c, v in categorical.items()},
                         slices={s: tuple(categorical[s]) for s in slices})

    needed = dict.fromkeys([*columns, *[c for c in slices if c in df.columns]])
    local = df.select(*needed).limit(LOCAL_ROWS + 1).toArrow().combine_chunks()
    if local.num_rows <= LOCAL_ROWS:
        found = [exact_quantiles(local.column(c), probs) for c in numeric]
        plan = planned(found)
        tallies = tally_batch(local, plan, columns)
    else:
        # Cached for its two jobs (quantiles, then tallies) only: the training run goes on after them.
        with cached(df) as df:
            found = df.approxQuantile(numeric, probs, RELATIVE_ERROR) if numeric else []
            plan = planned(found)
            tallies = tally_frame(df, plan, columns)
    deciles = [probs.index(q) for q in QUANTILES]
    psi = {col: sorted({qs[i] for i in deciles}) for col, qs in zip(numeric, found, strict=True)}

    bins = [ColumnBins(c, "score" if c in score_columns else "numeric", edges=tuple(psi[c])) for c in numeric]
    bins += [ColumnBins(c, "class" if c in class_columns else "categorical", categories=tuple(kept))
             for c, kept in categorical.items()]
    return baseline_tables(bins, plan, tallies, model_name=model_name, model_version=model_version,
                           ds_start=ds_start, ds_end=ds_end)


def exact_quantiles(values: pa.ChunkedArray | pa.Array, probs: Sequence[float]) -> list[float]:
    """The values at ranks ``ceil(p * n)`` of the non-null values (what Spark's ``approxQuantile``
    answers with no error; NaN sorts last, as Spark orders it); empty for no values, as Spark's."""
    x = np.sort(pc.drop_null(values).to_numpy(zero_copy_only=False).astype(np.float64))
    if not len(x):
        return []
    # The small tolerance keeps p * n = 3.0000000000000004 at rank 3.
    ranks = np.ceil(np.asarray(probs, dtype=np.float64) * len(x) - 1e-9).astype(np.int64)
    return x[np.clip(ranks - 1, 0, len(x) - 1)].tolist()


def baseline_tables(
    bins: Sequence[ColumnBins],
    plan: TallyPlan,
    tallies: Mapping[str, ColumnTally],
    *,
    model_name: str,
    model_version: int,
    ds_start: date,
    ds_end: date,
) -> Baselines:
    """``ml.baselines`` and ``ml.baseline_sketches`` rows from the baseline's tallies on ``plan``."""
    common = {"model_name": model_name, "model_version": model_version}
    bin_rows, sketch_rows = [], []
    for b in bins:
        tally = tallies[b.column]
        counts = coarse_counts(plan.numeric[b.column], b.edges, tally.counts) if b.numeric else tally.counts
        for r, (slice_key, slice_value) in enumerate(plan.slice_rows()):
            total = int(counts[r].sum())
            if total == 0:
                continue  # a slice value no training row has: nothing to compare with
            where = {**common, "column_name": b.column, "column_type": b.kind, "slice_key": slice_key,
                     "slice_value": slice_value}
            for index, (lower, upper), label, n in zip(b.bin_indices(), b.bounds(), b.labels(), counts[r],
                                                       strict=True):
                bin_rows.append({**where, "bin_index": index, "lower": lower, "upper": upper,
                                 "category": None if b.numeric and index != -1 else label, "count": int(n),
                                 "proportion": int(n) / total, "baseline_rows": total,
                                 "ds_start": ds_start, "ds_end": ds_end})
            if b.numeric:
                cells = tally.counts[r][:-1]
                whole = slice_key is None
                sketch_rows.append({**where, "edges": list(plan.numeric[b.column]), "counts": cells.tolist(),
                                    "n": int(cells.sum()), "min": tally.vmin if whole else None,
                                    "max": tally.vmax if whole else None})
    return Baselines(pa.Table.from_pylist(bin_rows, schema=BASELINES.schema),
                     pa.Table.from_pylist(sketch_rows, schema=BASELINE_SKETCHES.schema))
