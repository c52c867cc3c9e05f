"""The compiled tree walks behind :class:`lakeops.score.forest.Forest` (numba; see that module):
:func:`walk` sums margins; :func:`walk_top_contributions` also keeps each row's
largest approximate feature contributions (reason codes), in the same walk.

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



# ----------------------------------------------------------------------------- reason codes

_BLOCK = _U(BLOCK_ROWS)


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _credit(xb, nodes, means, scratch, offset, node, mean, slot):
    """:func:`_step` on the block copy ``xb``, crediting the change of node mean to the split's feature.

    ``xb`` and ``scratch`` are both ``(features, BLOCK_ROWS)`` flat, so one
    index (feature * BLOCK_ROWS + slot, a constant stride) reads the value and
    adds the credit; eight lanes over ``x`` and a 2-d scratch, each with its
    own runtime stride and row index, measured clearly slower.
    Returns the child and its mean. At a leaf the child is the leaf itself
    (feature field 0, threshold NaN), so the credit is ``mean - mean``: exactly 0.
    """
    word = nodes[offset + node]
    high = word >> _U(32)
    threshold = np.uint32(word & _LOW).view(np.float32)
    at = ((high >> _U(16)) & _U(0x7FFF)) * _BLOCK + slot
    value = xb[at]
    right = _U(value >= threshold) | (_U(value != value) & (high >> _U(31)))
    child = (high & _U(0xFFFF)) + right
    child_mean = means[offset + child]
    scratch[at] += child_mean - mean
    return child, child_mean


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _select(scratch, slot, magnitude, top_index, top_value, row):
    """Row ``row``'s ``k`` largest ``|contribution|`` (column ``slot`` of the scratch) into
    ``top_*[row]``, ties to the lower feature; zeroes the column for the next block.

    Insertion into a sorted list of ``k``: for the few reasons asked for, most
    features fail the first compare. Slots no feature fills (``k`` > features)
    keep index -1 and value 0.
    """
    k = top_index.shape[1]
    for s in range(k):
        magnitude[s] = -1.0
        top_index[row, s] = -1
        top_value[row, s] = 0.0
    floor = np.float32(-1.0)
    for f in range(scratch.shape[0] // BLOCK_ROWS):
        at = _U(f) * _BLOCK + slot
        v = scratch[at]
        scratch[at] = 0.0
        a = abs(v)
        if a > floor:  # strict: an equal magnitude met later (a higher feature) stays behind
            s = k - 1
            while s > 0 and a > magnitude[s - 1]:
                magnitude[s] = magnitude[s - 1]
                top_index[row, s] = top_index[row, s - 1]
                top_value[row, s] = top_value[row, s - 1]
                s -= 1
            magnitude[s] = a
            top_index[row, s] = f
            top_value[row, s] = v
            floor = magnitude[k - 1]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def walk_top_contributions(x, nodes, means, tree_offsets, depth, base, margins, top_index, top_value,
                           first, stop):  # pragma: no cover - compiled
    """For rows ``first <= i < stop``: ``margins[i]`` as :func:`walk` gives it, and row i's
    ``k = top_index.shape[1]`` largest approximate (Saabas) contributions by magnitude.

    ``x`` holds the model's features only. A row's contribution of feature f
    sums ``mean[child] - mean[node]`` over the steps of its paths that split on
    f (``means``: each node's cover-weighted mean leaf value; a leaf's is its
    value). Per block, the rows' features are copied into ``xb`` and
    contributions gather in ``scratch``, both ``(features, block rows)``, in
    cache while every tree walks the block; selecting a row's top ``k`` reads
    and zeroes its column, so the scratch is cleared once per block, not per
    tree. The margin adds, per tree, the mean of the leaf reached (its value)
    in :func:`walk`'s order, so it is the same float32 as :func:`walk`'s.
    """
    nodes = nodes.view(np.uint64)
    features = x.shape[0]
    xb = np.empty(features * BLOCK_ROWS, dtype=np.float32)
    scratch = np.zeros(features * BLOCK_ROWS, dtype=np.float32)
    magnitude = np.empty(top_index.shape[1], dtype=np.float32)
    zero, one = _U(0), _U(1)
    for block in range(first, stop, BLOCK_ROWS):
        start, end = _U(block), _U(min(block + BLOCK_ROWS, stop))
        n = end - start
        for f in range(features):
            for c in range(n):
                xb[_U(f) * _BLOCK + c] = x[_U(f), start + c]
        for r in range(start, end):
            margins[_U(r)] = base
        for t in range(tree_offsets.shape[0]):
            o = _U(tree_offsets[_U(t)])
            root = means[o]
            s = zero
            while s + _U(8) <= n:
                j0 = j1 = j2 = j3 = j4 = j5 = j6 = j7 = zero
                m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = root
                for _ in range(depth):
                    j0, m0 = _credit(xb, nodes, means, scratch, o, j0, m0, s)
                    j1, m1 = _credit(xb, nodes, means, scratch, o, j1, m1, s + _U(1))
                    j2, m2 = _credit(xb, nodes, means, scratch, o, j2, m2, s + _U(2))
                    j3, m3 = _credit(xb, nodes, means, scratch, o, j3, m3, s + _U(3))
                    j4, m4 = _credit(xb, nodes, means, scratch, o, j4, m4, s + _U(4))
                    j5, m5 = _credit(xb, nodes, means, scratch, o, j5, m5, s + _U(5))
                    j6, m6 = _credit(xb, nodes, means, scratch, o, j6, m6, s + _U(6))
                    j7, m7 = _credit(xb, nodes, means, scratch, o, j7, m7, s + _U(7))
                i = start + s
                margins[i] += m0
                margins[i + _U(1)] += m1
                margins[i + _U(2)] += m2
                margins[i + _U(3)] += m3
                margins[i + _U(4)] += m4
                margins[i + _U(5)] += m5
                margins[i + _U(6)] += m6
                margins[i + _U(7)] += m7
                s += _U(8)
            while s < n:
                j, m = zero, root
                for _ in range(depth):
                    j, m = _credit(xb, nodes, means, scratch, o, j, m, s)
                margins[start + s] += m
                s += one
        for c in range(n):
            _select(scratch, _U(c), magnitude, top_index, top_value, start + _U(c))
