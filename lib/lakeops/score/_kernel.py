"""The compiled tree walk behind :class:`lakeops.score.forest.Forest` (numba; see that module).

Kept apart so that importing :mod:`lakeops.score.forest` does not import numba, and so
numba's on-disk cache has a real file to key on.

Every index is unsigned: numba supports Python's negative indices, so a signed
index costs a compare and a select on every array access. In this loop that
was a third of the time.
"""

from __future__ import annotations

import numba
import numpy as np

#: Rows per block: the block's rows stay in cache while every tree walks them.
BLOCK_ROWS = 512

_U = np.uint64
_LOW = _U(0xFFFFFFFF)


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _step(x: np.ndarray, nodes: np.ndarray, offset: np.uint64, node: np.uint64, row: np.uint64) -> np.uint64:
    """One level down from ``node`` for ``row``: left child + (goes right)."""
    word = nodes[offset + node]
    high = word >> _U(32)
    threshold = np.uint32(word & _LOW).view(np.float32)
    value = x[(high >> _U(16)) & _U(0x7FFF), row]
    right = _U(value >= threshold) | (_U(value != value) & (high >> _U(31)))
    return (high & _U(0xFFFF)) + right


@numba.njit(nogil=True, cache=True, error_model="numpy")
def walk(x, nodes, leaves, tree_offsets, depth, base, out, first, stop):  # pragma: no cover - compiled
    """For rows ``first <= i < stop``: ``out[i] = base + sum over trees of the leaf row i reaches``.

    Rows go in blocks that stay in cache while every tree walks them; within a
    block eight rows walk together, so eight independent chains of loads overlap
    in the CPU (measured with signed indices: four lanes 1.4x slower, sixteen no
    faster).
    """
    nodes = nodes.view(np.uint64)
    zero, one = _U(0), _U(1)
    for block in range(first, stop, BLOCK_ROWS):
        start, end = _U(block), _U(min(block + BLOCK_ROWS, stop))
        for k in range(start, end):
            out[_U(k)] = base
        for t in range(tree_offsets.shape[0]):
            o = _U(tree_offsets[_U(t)])
            i = start
            while i + _U(8) <= end:
                j0 = j1 = j2 = j3 = j4 = j5 = j6 = j7 = zero
                for _ in range(depth):
                    j0 = _step(x, nodes, o, j0, i)
                    j1 = _step(x, nodes, o, j1, i + _U(1))
                    j2 = _step(x, nodes, o, j2, i + _U(2))
                    j3 = _step(x, nodes, o, j3, i + _U(3))
                    j4 = _step(x, nodes, o, j4, i + _U(4))
                    j5 = _step(x, nodes, o, j5, i + _U(5))
                    j6 = _step(x, nodes, o, j6, i + _U(6))
                    j7 = _step(x, nodes, o, j7, i + _U(7))
                out[i] += leaves[o + j0]
                out[i + _U(1)] += leaves[o + j1]
                out[i + _U(2)] += leaves[o + j2]
                out[i + _U(3)] += leaves[o + j3]
                out[i + _U(4)] += leaves[o + j4]
                out[i + _U(5)] += leaves[o + j5]
                out[i + _U(6)] += leaves[o + j6]
                out[i + _U(7)] += leaves[o + j7]
                i += _U(8)
            while i < end:
                j = zero
                for _ in range(depth):
                    j = _step(x, nodes, o, j, i)
                out[i] += leaves[o + j]
                i += one
