"""Bucketing a column against bins frozen on a baseline: one function for training and monitoring.

Numeric columns (and the model's score) have edges ``e_1 < ... < e_k`` and the
value bins ``(-inf, e_1], (e_1, e_2], ..., (e_k, inf)``, then a null bucket
(null or NaN). Categorical columns have the kept categories, then an OTHER
bucket (any value not kept, including values never seen in training), then a
NULL bucket. A column's counts are an int64 array in that order, null last.

In ``ml.baselines`` each bucket is a row with its ``bin_index``: ``0..k`` for
numeric bins, the category's position for kept categories, ``len(kept)`` for
OTHER and ``-1`` for the null bucket (:meth:`ColumnBins.bin_indices`).

:func:`bucket_counts` works on one Arrow array inside a task;
:func:`count_frame` adds it up over a Spark DataFrame (only count arrays
reach the driver). Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa

from lakeops.evaluate.encoding import NULL, OTHER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

NULL_BIN = -1
_COUNTS = pa.schema([("column", pa.string()), ("counts", pa.list_(pa.int64()))])


@dataclass(frozen=True)
class ColumnBins:
    """The frozen buckets of one column."""

    column: str
    kind: Literal["numeric", "categorical", "score"]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "categorical":
            if self.edges:
                raise ValueError(f"{self.column}: a categorical column has categories, not edges")
        elif self.categories:
            raise ValueError(f"{self.column}: a {self.kind} column has edges, not categories")
        elif any(not a < b for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"{self.column}: bin edges must be strictly increasing, got {self.edges}")

    @property
    def numeric(self) -> bool:
        return self.kind != "categorical"

    @property
    def size(self) -> int:
        """Number of buckets, the null bucket included."""
        return len(self.edges) + 2 if self.numeric else len(self.categories) + 2

    def bin_indices(self) -> list[int]:
        """``ml.baselines.bin_index`` of each bucket, in count order (null last)."""
        return [*range(self.size - 1), NULL_BIN]

    def labels(self) -> list[str]:
        """A readable name per bucket, in count order: ``(lower, upper]``, the category, OTHER, NULL."""
        if not self.numeric:
            return [*self.categories, OTHER, NULL]
        bounds = [-np.inf, *self.edges, np.inf]
        return [f"({bounds[i]:.6g}, {bounds[i + 1]:.6g}]" for i in range(len(self.edges) + 1)] + [NULL]

    def bounds(self) -> list[tuple[float | None, float | None]]:
        """``(lower, upper)`` per bucket in count order; ``(None, None)`` for non-numeric buckets."""
        if not self.numeric:
            return [(None, None)] * self.size
        b = [-np.inf, *self.edges, np.inf]
        return [(float(b[i]), float(b[i + 1])) for i in range(len(self.edges) + 1)] + [(None, None)]


def bucket_counts(values: pa.Array | pa.ChunkedArray, bins: ColumnBins) -> np.ndarray:
    """How many of ``values`` fall in each of ``bins``' buckets (int64, null bucket last)."""
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    counts = np.zeros(bins.size, dtype=np.int64)
    if bins.numeric:
        if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)
                or pa.types.is_decimal(values.type) or pa.types.is_null(values.type)):
            raise TypeError(f"{bins.column}: numeric bins need numbers, got {values.type}")
        x = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        present = ~np.isnan(x)
        # searchsorted "left" puts x in the first bin whose upper edge is >= x: (lower, upper].
        idx = np.searchsorted(np.asarray(bins.edges, dtype=np.float64), x[present], side="left")
        counts[:-1] = np.bincount(idx, minlength=len(bins.edges) + 1)
        counts[-1] = x.size - idx.size
        return counts
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_null(values.type)):
        values = values.cast(pa.string())
    nulls = values.null_count
    codes = pc.index_in(values.cast(pa.string()), value_set=pa.array(list(bins.categories), pa.string()))
    found = codes.drop_null().to_numpy(zero_copy_only=False)
    counts[: len(bins.categories)] = np.bincount(found, minlength=len(bins.categories))[: len(bins.categories)]
    counts[-2] = len(values) - nulls - found.size  # OTHER: present but not kept
    counts[-1] = nulls
    return counts


def count_frame(df: DataFrame, bins: Sequence[ColumnBins]) -> dict[str, np.ndarray]:
    """Bucket counts of every column of ``bins`` over all rows of ``df``, in one Spark pass."""
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

    columns = [b.column for b in bins]
    by_column = {b.column: b for b in bins}
    schema = StructType([StructField("column", StringType(), False),
                         StructField("counts", ArrayType(LongType(), False), False)])

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        totals = {c: np.zeros(b.size, dtype=np.int64) for c, b in by_column.items()}
        for batch in batches:
            for c in columns:
                totals[c] += bucket_counts(batch.column(c), by_column[c])
        yield pa.RecordBatch.from_pydict({"column": list(totals), "counts": [t.tolist() for t in totals.values()]},
                                         schema=_COUNTS)

    totals = {c: np.zeros(b.size, dtype=np.int64) for c, b in by_column.items()}
    for row in df.select(*columns).mapInArrow(count, schema).collect():
        totals[row["column"]] += np.asarray(row["counts"], dtype=np.int64)
    return totals


def bins_by_column(rows: Mapping[str, Sequence[Mapping]]) -> dict[str, ColumnBins]:
    """:class:`ColumnBins` per column from ``ml.baselines`` rows (``{column: [row, ...]}``)."""
    out = {}
    for column, items in rows.items():
        kind = items[0]["column_type"]
        kept = sorted((r for r in items if r["bin_index"] != NULL_BIN), key=lambda r: r["bin_index"])
        if kind == "categorical":
            out[column] = ColumnBins(column, "categorical", categories=tuple(r["category"] for r in kept[:-1]))
        else:
            out[column] = ColumnBins(column, kind, edges=tuple(float(r["upper"]) for r in kept[:-1]))
    return out
