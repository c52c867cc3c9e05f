"""Bucketing a column against bins frozen on a baseline: one function for training and monitoring.

Numeric columns (and the model's score) have edges ``e_1 < ... < e_k`` and the
value bins ``(-inf, e_1], (e_1, e_2], ..., (e_k, inf)``, then a null bucket
(null or NaN). Categorical columns have the kept categories, then an OTHER
bucket (any value not kept, including values never seen in training), then a
NULL bucket. A column's counts are an int64 array in that order, null last.

In ``ml.baselines`` each bucket is a row with its ``bin_index``: ``0..k`` for
numeric bins, the category's position for kept categories, ``len(kept)`` for
OTHER and ``-1`` for the null bucket (:meth:`ColumnBins.bin_indices`).

:mod:`lakeops.tally.counts` counts rows into these buckets (training and
monitoring alike). Reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lakeops.constants import CATEGORICAL_COLUMN_TYPES

#: The buckets of values outside the kept categories, and of nulls: bucket labels and slice
#: values (``ml.baselines``, ``ml.drift_counts``). A model's encoding has codes for them, not names
#: (:mod:`lakeops.evaluate.encoding`).
OTHER, NULL = "__other__", "__null__"
#: ``ml.baselines.bin_index`` of the null bucket.
NULL_BIN = -1


@dataclass(frozen=True)
class ColumnBins:
    """The frozen buckets of one column."""

    column: str
    kind: Literal["numeric", "categorical", "score", "class"]  # constants.COLUMN_TYPES
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind in CATEGORICAL_COLUMN_TYPES:
            if self.edges:
                raise ValueError(f"{self.column}: a {self.kind} column has categories, not edges")
        elif self.categories:
            raise ValueError(f"{self.column}: a {self.kind} column has edges, not categories")
        elif any(not a < b for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"{self.column}: bin edges must be strictly increasing, got {self.edges}")

    @property
    def numeric(self) -> bool:
        return self.kind not in CATEGORICAL_COLUMN_TYPES

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
