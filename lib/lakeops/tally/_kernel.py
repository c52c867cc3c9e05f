"""The compiled inner loop of :func:`lakeops.tally.counts.tally_batch` for numeric columns (numba).

One pass per column does what would otherwise be several numpy passes: find
each value's cell on the sketch grid, count it for the whole population and
for its slice of every slice column, and accumulate the profile (zeros, sum,
sum of squares, min, max).

Finding the cell: a binary search over a thousand edges is ten dependent,
unpredictable loads per value. Instead a lookup table maps a uniform grid over
the edges' range to the edges each grid cell can hold (:func:`lookup_table`),
so a value needs one multiplication and a binary search over the few edges of
its grid cell; it degrades to the plain binary search only where many edges
crowd into one grid cell (very heavy tails). Kept apart so that importing
:mod:`lakeops.tally.counts` does not import numba, and so numba's disk cache has a file to key on.
"""

from __future__ import annotations

import numba
import numpy as np

#: Grid cells per edge: enough that a grid cell rarely holds more than a couple of edges.
GRID_PER_EDGE = 16


def lookup_table(edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(table, start, inverse width)``: ``table[g]`` is the number of edges below grid point ``g``."""
    if edges.size < 2 or not edges[-1] > edges[0]:
        return np.array([0, edges.size], dtype=np.int64), float(edges[0]) if edges.size else 0.0, 0.0
    cells = GRID_PER_EDGE * edges.size
    width = (float(edges[-1]) - float(edges[0])) / cells
    grid = float(edges[0]) + width * np.arange(cells + 1)
    return np.searchsorted(edges, grid, side="left").astype(np.int64), float(edges[0]), 1.0 / width


@numba.njit(nogil=True, cache=True, error_model="numpy")
def tally_numeric(x: np.ndarray, edges: np.ndarray, table: np.ndarray, start: float, inv_width: float,
                  codes: np.ndarray, counts: np.ndarray, profile: np.ndarray) -> None:
    """Add ``x`` into ``counts`` and ``profile`` in place.

    Args:
        x: float64 values, NaN for null.
        edges: the sketch grid, strictly increasing; cell ``j`` holds ``(edges[j-1], edges[j]]``.
        table, start, inv_width: :func:`lookup_table` of ``edges``.
        codes: ``(slice columns, len(x))`` int64: each row's counts row per slice column.
        counts: ``(rows, len(edges) + 2)`` int64; row 0 is the whole population, the last cell nulls.
        profile: float64 ``[zeros, sum, sum of squares, min, max]``.
    """
    m = edges.size
    null = m + 1
    last_grid = table.size - 1
    slices = codes.shape[0]
    zeros, total, total_sq = 0.0, 0.0, 0.0
    lo, hi = profile[3], profile[4]
    for i in range(x.size):
        v = x[i]
        if v != v:
            cell = null
        else:
            if m == 0 or v <= edges[0]:
                cell = 0
            elif v > edges[m - 1]:
                cell = m
            else:
                # The grid cell of v, widened by one on each side against rounding; then the
                # first edge >= v among the few edges it can hold.
                g = int((v - start) * inv_width)
                a = table[max(g - 1, 0)]
                b = table[min(g + 2, last_grid)]
                while a < b:
                    mid = (a + b) >> 1
                    if edges[mid] < v:
                        a = mid + 1
                    else:
                        b = mid
                cell = a
            zeros += v == 0.0
            total += v
            total_sq += v * v
            lo = min(lo, v)
            hi = max(hi, v)
        counts[0, cell] += 1
        for s in range(slices):
            counts[codes[s, i], cell] += 1
    profile[0] += zeros
    profile[1] += total
    profile[2] += total_sq
    profile[3] = lo
    profile[4] = hi
