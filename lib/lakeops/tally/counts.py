"""One pass over Arrow batches: every column's bucket counts per slice, and its profile.

Training tallies its rows to freeze ``ml.baselines`` and ``ml.baseline_sketches``;
monitoring tallies each day against those frozen bins. Both use
:func:`tally_batch`, so a day and its baseline are counted by the same code.

For a numeric column the buckets are the cells of a fine grid (the *sketch*:
about a thousand baseline quantiles, plus the coarse PSI edges, which are a
subset of it), then a null bucket; the coarse PSI counts are sums of sketch
cells (:func:`coarse_counts`), so each value is located once. For a
categorical column the buckets are the kept categories, OTHER, then NULL.

Each column gets a counts matrix: row 0 is the whole population, then one row
per value of each slice column (its kept categories, OTHER, NULL). Slices cost
one more ``bincount`` per column: the bucket index is computed once per batch
and combined with the slice's code. Numeric columns also carry their profile
(zeros, sum, sum of squares, min, max and a k-minimum-values sketch of distinct
values) for the whole population. Tallies add up: :func:`merge` combines the
partial tallies of tasks. Reads and writes no tables.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.tally.bins import NULL, OTHER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Fine-grid quantiles of the sketch: every 0.1 %, plus four in each tail so that
#: the outer cells (which run to the extremes) hold few rows.
SKETCH_QUANTILES = (1e-5, 1e-4, *(i / 1000 for i in range(1, 1000)), 1 - 1e-4, 1 - 1e-5)
#: The k of the k-minimum-values distinct sketch (relative standard error about 1/sqrt(k)).
KMV_K = 1024
#: Exact distinct counting of a categorical column stops at this many values.
MAX_EXACT_DISTINCT = 100_000

_UINT64_MAX = float(2**64)


@dataclass(frozen=True)
class TallyPlan:
    """What to count: the frozen grid or categories of every column, and the slice columns."""

    #: numeric column -> sketch edges (strictly increasing)
    numeric: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    #: categorical column -> kept categories
    categorical: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: slice column -> its values (kept categories); OTHER and NULL slices are added
    slices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def slice_rows(self) -> list[tuple[str | None, str | None]]:
        """``(slice_key, slice_value)`` of each counts row: the whole population first."""
        rows: list[tuple[str | None, str | None]] = [(None, None)]
        for key, values in self.slices.items():
            rows += [(key, v) for v in (*values, OTHER, NULL)]
        return rows

    def buckets(self, column: str) -> int:
        """Buckets of ``column``, the null bucket included."""
        if column in self.numeric:
            return len(self.numeric[column]) + 2
        return len(self.categorical[column]) + 2


@dataclass
class ColumnTally:
    """A column's counts (rows: :meth:`TallyPlan.slice_rows`; columns: buckets, null last) and profile."""

    counts: np.ndarray
    zeros: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    vmin: float = np.inf
    vmax: float = -np.inf
    kmv: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    distinct: set[str] | None = None

    def merge(self, other: ColumnTally) -> ColumnTally:
        distinct = None
        if self.distinct is not None and other.distinct is not None:
            distinct = self.distinct | other.distinct
            if len(distinct) > MAX_EXACT_DISTINCT:
                distinct = set(list(distinct)[:MAX_EXACT_DISTINCT])
        return ColumnTally(
            counts=self.counts + other.counts,
            zeros=self.zeros + other.zeros,
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            vmin=min(self.vmin, other.vmin),
            vmax=max(self.vmax, other.vmax),
            kmv=_kmv_merge(self.kmv, other.kmv),
            distinct=distinct,
        )

    def distinct_estimate(self) -> int:
        """Distinct non-null values: exact for categories, a k-minimum-values estimate for numbers."""
        if self.distinct is not None:
            return len(self.distinct)
        if self.kmv.size < KMV_K:
            return int(self.kmv.size)  # fewer distinct hashes than k: the count is exact
        return int(round((KMV_K - 1) / (float(self.kmv[-1]) / _UINT64_MAX)))


def empty_tally(plan: TallyPlan, column: str) -> ColumnTally:
    tally = ColumnTally(np.zeros((len(plan.slice_rows()), plan.buckets(column)), dtype=np.int64))
    if column in plan.categorical:
        tally.distinct = set()
    return tally


def tally_batch(batch: pa.RecordBatch | pa.Table, plan: TallyPlan, columns: Sequence[str]) -> dict[str, ColumnTally]:
    """Tally ``columns`` of one batch. Slice columns absent from the batch leave their rows at zero."""
    codes = _slice_codes(batch, plan)
    out = {}
    for column in columns:
        tally = empty_tally(plan, column)
        values = batch.column(column)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if column in plan.numeric:
            _tally_numeric(values, plan.numeric[column], codes, tally)
        else:
            bucket = _categorical_buckets(values, plan.categorical[column], tally)
            width = tally.counts.shape[1]
            tally.counts[0] = np.bincount(bucket, minlength=width)
            for row in codes:
                # One bincount for all values of a slice column: (counts row, bucket) as one index.
                tally.counts += np.bincount(row * width + bucket, minlength=tally.counts.size).reshape(
                    tally.counts.shape)
        out[column] = tally
    return out


def merge(a: Mapping[Any, ColumnTally] | None, b: Mapping[Any, ColumnTally] | None) -> dict:
    """Two partial tallies (keyed alike, e.g. by column or by (ds, column)) added up."""
    if not a:
        return dict(b or {})
    if not b:
        return dict(a)
    out = dict(a)
    for key, tally in b.items():
        out[key] = out[key].merge(tally) if key in out else tally
    return out


def tally_frame(df: DataFrame, plan: TallyPlan, columns: Sequence[str]) -> dict[str, ColumnTally]:
    """:func:`tally_batch` over every row of a Spark DataFrame; only the tallies reach the driver."""
    from pyspark.sql.types import BinaryType, StructField, StructType

    needed = list(dict.fromkeys([*columns, *[c for c in plan.slices if c in df.columns]]))

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        found: dict = {}
        for batch in batches:
            found = merge(found, tally_batch(batch, plan, columns))
        yield pa.RecordBatch.from_pydict({"tally": [pickle.dumps(found)]})

    schema = StructType([StructField("tally", BinaryType(), False)])
    result: dict = {c: empty_tally(plan, c) for c in columns}
    for row in df.select(*needed).mapInArrow(run, schema).collect():
        result = merge(result, pickle.loads(row["tally"]))  # our own tasks' output, never user data
    return result


def coarse_counts(sketch_edges: Sequence[float], psi_edges: Sequence[float], sketch_counts: np.ndarray) -> np.ndarray:
    """PSI-bin counts (null bucket last) from counts on the sketch grid (null bucket last).

    The PSI edges are a subset of the sketch edges, so every sketch cell lies in one PSI bin.
    """
    sketch = np.asarray(sketch_edges, dtype=np.float64)
    coarse = np.asarray(psi_edges, dtype=np.float64)
    if not np.isin(coarse, sketch).all():
        raise ValueError("the PSI edges must be a subset of the sketch edges")
    cell_bin = np.append(np.searchsorted(coarse, sketch, side="left"), len(coarse))
    counts = np.asarray(sketch_counts)
    out = np.zeros(counts.shape[:-1] + (len(coarse) + 2,), dtype=np.int64)
    for cell, target in enumerate(cell_bin):
        out[..., target] += counts[..., cell]
    out[..., -1] = counts[..., -1]
    return out


def quantiles(edges: Sequence[float], counts: np.ndarray, probs: Sequence[float], *, vmin: float,
              vmax: float) -> list[float | None]:
    """Quantiles of a column from its sketch counts (non-null cells), interpolated within a cell."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum()
    if n <= 0:
        return [None] * len(probs)
    lo = np.concatenate([[vmin], np.clip(edges, vmin, vmax)])
    hi = np.concatenate([np.clip(edges, vmin, vmax), [vmax]])
    cum = np.cumsum(counts)
    out: list[float | None] = []
    for p in probs:
        target = p * n
        j = int(np.searchsorted(cum, target, side="left"))
        j = min(j, len(counts) - 1)
        before = cum[j] - counts[j]
        share = (target - before) / counts[j] if counts[j] else 0.0
        out.append(float(lo[j] + share * (hi[j] - lo[j])))
    return out


# ------------------------------------------------------------------------- internals


def _slice_codes(batch, plan: TallyPlan) -> np.ndarray:
    """``(slice columns in the batch, rows)``: each row's counts row for each slice column."""
    import pyarrow.compute as pc

    codes, offset = [], 1
    for key, values in plan.slices.items():
        if key in batch.schema.names:
            col = batch.column(key)
            found = pc.index_in(col, value_set=pa.array(list(values), pa.string()))
            code = pc.fill_null(found, len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
            code[np.asarray(pc.is_null(col))] = len(values) + 1  # kept values, then OTHER, then NULL
            codes.append(code + offset)
        offset += len(values) + 2
    return np.stack(codes) if codes else np.zeros((0, batch.num_rows), dtype=np.int64)


def _tally_numeric(values: pa.Array, edges: tuple[float, ...], codes: np.ndarray, tally: ColumnTally) -> None:
    """Counts per sketch cell (null bucket for null and NaN) and the profile, in one compiled pass."""
    from lakeops.tally._kernel import tally_numeric  # numba loads here, on first use

    grid, table, start, inv_width = _lookup(edges)
    x = np.ascontiguousarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False))
    profile = np.array([0.0, 0.0, 0.0, np.inf, -np.inf])
    tally_numeric(x, grid, table, start, inv_width, codes, tally.counts, profile)
    tally.zeros, tally.total, tally.total_sq = int(profile[0]), float(profile[1]), float(profile[2])
    tally.vmin, tally.vmax = float(profile[3]), float(profile[4])
    present = x[~np.isnan(x)]
    if present.size:
        tally.kmv = _kmv(present)


@functools.lru_cache(maxsize=256)
def _lookup(edges: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The grid as an array and its lookup table, built once per worker and column."""
    from lakeops.tally._kernel import lookup_table

    grid = np.asarray(edges, dtype=np.float64)
    return (grid, *lookup_table(grid))


def _categorical_buckets(values: pa.Array, kept: Sequence[str], tally: ColumnTally) -> np.ndarray:
    import pyarrow.compute as pc

    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    found = pc.index_in(values, value_set=pa.array(list(kept), pa.string()))
    bucket = pc.fill_null(found, len(kept)).to_numpy(zero_copy_only=False).astype(np.int64)
    bucket[np.asarray(pc.is_null(values))] = len(kept) + 1
    tally.distinct = set(pc.unique(values.drop_null()).to_pylist()[:MAX_EXACT_DISTINCT])
    return bucket


def _kmv(x: np.ndarray) -> np.ndarray:
    """The ``KMV_K`` smallest distinct 64-bit hashes of ``x`` (a mergeable distinct-count sketch)."""
    # The k smallest hashes of the rows up to the 4k-th smallest hash; when repeated values
    # leave fewer than k distinct among them, the column has few distinct values: hash those.
    h = _hash(x)
    if h.size > 4 * KMV_K:
        threshold = np.partition(h, 4 * KMV_K)[4 * KMV_K]
        found = np.unique(h[h <= threshold])
        if found.size >= KMV_K:
            return found[:KMV_K]
        import pyarrow.compute as pc

        h = _hash(pc.unique(pa.array(x)).to_numpy())
    return np.unique(h)[:KMV_K]


def _hash(x: np.ndarray) -> np.ndarray:
    h = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64).copy()
    h[x == 0] = 0  # -0.0 and 0.0 are one value
    return mix64(h)


def mix64(h: np.ndarray) -> np.ndarray:
    """The murmur3 finaliser, in place on uint64 ``h``: every input bit moves every output bit."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def _kmv_merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not a.size:
        return b
    if not b.size:
        return a
    return np.unique(np.concatenate([a, b]))[:KMV_K]
