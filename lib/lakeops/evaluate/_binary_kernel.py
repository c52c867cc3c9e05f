"""The compiled loop of :func:`lakeops.evaluate.binary.tally` (numba).

One pass over the rows adds each one to its (label state, score bin) cell and
to the exact sums (decided rows, log loss, squared error), where numpy would
need about ten passes and as many temporary arrays. Kept apart so that
importing the performance module does not import numba, and so numba's disk
cache has a file to key on.
"""

from __future__ import annotations

import math

import numba


@numba.njit(nogil=True, cache=True, error_model="numpy")
def tally_rows(p, decided, y, bins, eps, rows, score_sum, counts, sums):  # pragma: no cover - compiled
    """Add the rows into the histogram's arrays in place.

    ``rows`` and ``score_sum`` are ``(3, bins)``; ``counts[s]`` counts the decided
    rows of label state ``s``; ``sums`` is ``(4, 3)``: per state, the decided rows'
    score sum, the log loss, the squared error (labelled states only).
    """
    for i in range(p.shape[0]):
        score = p[i]
        label = y[i]
        state = 2 if label != label else (1 if label == 1.0 else 0)
        b = int(score * bins)
        b = 0 if b < 0 else (bins - 1 if b > bins - 1 else b)
        rows[state, b] += 1
        score_sum[state, b] += score
        if decided[i]:
            counts[state] += 1
            sums[0, state] += score
        if state < 2:
            right = score if state == 1 else 1.0 - score
            if right < eps:
                right = eps
            sums[1, state] -= math.log(right)
            sums[2, state] += (1.0 - right) * (1.0 - right)
