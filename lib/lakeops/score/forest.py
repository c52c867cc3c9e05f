"""Fast CPU inference for XGBoost tree ensembles: packed nodes and a compiled, branch-free walk.

``Booster.inplace_predict`` walks each tree with data-dependent branches (one
per level, and another for missing values) that the CPU mispredicts about half
the time. :class:`Forest` holds the same trees as one array of 64-bit nodes and
walks eight rows at once, each step computed rather than branched on::

    child = left + (x >= threshold  or  (x is NaN and the default is right))

so the eight independent walks overlap in the CPU's pipeline (docs/benchmarks.md gives
the benchmark's figures against ``inplace_predict``). Leaves point at themselves,
so every tree is walked to the ensemble's maximum depth without a leaf test.

Semantics are XGBoost's: inputs are float32; a split sends ``x < threshold``
left, anything else right, and NaN the node's default way; margins sum the
leaves of all trees (as ``Booster.predict`` does by default; lakeops slices
an early-stopped booster to its best iteration before logging it) on top of
``base_score`` in margin space, and the objective's link gives the
prediction. :meth:`Forest.from_booster` returns ``None`` for what it does not
cover (categorical splits, several outputs, dart, another objective, very
deep trees or wide inputs); callers then use ``inplace_predict``.

The same walk also gives per-row reason codes: :meth:`Forest.top_contributions`
credits each step's change of node mean (the cover-weighted mean of the leaves
below, ``means``) to the split's feature, Saabas' approximation that XGBoost
computes with ``pred_contribs=True, approx_contribs=True``, and keeps each
row's largest few, in the one walk that also sums its margin.

The kernels are compiled by numba on first use in each process and cached on
disk, so a Spark Python worker pays the compile once per machine, not per task.

Reads and writes no tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xgboost

#: Objectives covered, and their link from summed margin to prediction (others
#: fall back to ``inplace_predict``; e.g. binary:logitraw keeps a logit base margin).
LINKS = {
    "binary:logistic": "sigmoid",
    "reg:logistic": "sigmoid",
    "reg:squarederror": "identity",
}
#: Packing limits: 16 bits of node index within a tree, 15 bits of feature index.
MAX_TREE_NODES = 1 << 16
MAX_FEATURES = 1 << 15


@dataclass(frozen=True)
class Forest:
    """An XGBoost ensemble as packed nodes.

    ``nodes[tree_offsets[t] + i]`` is node ``i`` of tree ``t``: the low 32 bits
    are the float32 threshold (NaN at a leaf, so nothing goes right), the high
    32 bits the left child's index within the tree (the right child is the next
    node; a leaf points at itself), the feature index << 16 and the
    default-right flag << 31. ``leaves`` holds leaf values (0 elsewhere);
    ``means`` each node's mean leaf value, weighted by cover (a leaf's is its value).
    """

    nodes: np.ndarray  # int64
    leaves: np.ndarray  # float32
    means: np.ndarray  # float32
    tree_offsets: np.ndarray  # int64
    depth: int
    num_features: int
    base_margin: float
    link: str

    @classmethod
    def from_booster(cls, booster: xgboost.Booster) -> Forest | None:
        """The booster's trees packed for :meth:`predict`, or ``None`` if it is not supported."""
        learner = json.loads(bytes(booster.save_raw("json")))["learner"]
        params = learner["learner_model_param"]
        link = LINKS.get(learner["objective"]["name"])
        gbtree = learner["gradient_booster"]
        if link is None or gbtree.get("name") != "gbtree":
            return None
        if int(params.get("num_class", "0")) > 1 or int(params.get("num_target", "1")) != 1:
            return None
        num_features = int(params["num_feature"])
        if num_features >= MAX_FEATURES:
            return None
        trees = gbtree["model"]["trees"]
        packed, leaves, means, offsets, depth = [], [], [], [], 0
        offset = 0
        for tree in trees:
            if any(tree["split_type"]) or len(tree["left_children"]) >= MAX_TREE_NODES:
                return None
            packed_tree = _pack_tree(tree)
            if packed_tree is None:
                return None
            nodes, values, tree_depth = packed_tree
            packed.append(nodes)
            leaves.append(values)
            means.append(_node_means(tree, values))
            offsets.append(offset)
            offset += len(nodes)
            depth = max(depth, tree_depth)
        base_score = _base_score(params["base_score"])
        base_margin = _to_margin(base_score, link)
        if base_margin is None:
            return None
        return cls(
            nodes=np.concatenate(packed) if packed else np.zeros(1, np.int64),
            leaves=np.concatenate(leaves) if leaves else np.zeros(1, np.float32),
            means=np.concatenate(means) if means else np.zeros(1, np.float32),
            tree_offsets=np.asarray(offsets, dtype=np.int64),
            depth=depth,
            num_features=num_features,
            base_margin=base_margin,
            link=link,
        )

    def margins(self, x: np.ndarray, *, nthread: int = 1) -> np.ndarray:
        """Summed margins (float32) of a feature-major ``(features, rows)`` matrix.

        With ``nthread`` > 1 the rows are split into that many ranges walked in
        parallel threads (the kernel releases the GIL).
        """
        x = _feature_major(x, self.num_features)
        rows = x.shape[1]
        out = np.empty(rows, dtype=np.float32)
        from lakeops.score._kernel import walk  # numba loads here, on first use

        args = (x, self.nodes, self.leaves, self.tree_offsets, self.depth, np.float32(self.base_margin), out)
        _in_ranges(rows, nthread, lambda first, stop: walk(*args, first, stop))
        return out

    @property
    def bias(self) -> float:
        """The contributions' bias: ``base_margin`` plus every tree's root mean (the same for every row)."""
        roots = self.means[self.tree_offsets] if len(self.tree_offsets) else np.zeros(0, np.float32)
        return float(self.base_margin + roots.astype(np.float64).sum())

    def top_contributions(self, x: np.ndarray, *, k: int,
                          nthread: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's margin and its ``k`` largest approximate contributions, in one walk.

        Returns ``(margins, indices, values)``: margins (float32, ``(rows,)``, equal
        to :meth:`margins`), feature indices (int32, ``(rows, k)``) and signed
        contributions in margin units (float32, ``(rows, k)``), by ``|value|``
        descending, ties to the lower feature. Contributions are XGBoost's
        ``approx_contribs``. Past the model's features (``k > num_features``)
        the index is -1 and the value 0. Threads as :meth:`margins`.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k!r}")
        x = _feature_major(x, self.num_features)[: self.num_features]
        rows = x.shape[1]
        margins = np.empty(rows, dtype=np.float32)
        indices = np.empty((rows, k), dtype=np.int32)
        values = np.empty((rows, k), dtype=np.float32)
        from lakeops.score._kernel import walk_top_contributions

        args = (x, self.nodes, self.means, self.tree_offsets, self.depth, np.float32(self.base_margin),
                margins, indices, values)
        _in_ranges(rows, nthread, lambda first, stop: walk_top_contributions(*args, first, stop))
        return margins, indices, values

    def contributions(self, x: np.ndarray, *, nthread: int = 1) -> np.ndarray:
        """Every approximate contribution, ``(rows, features + 1)`` float32, the last column the bias:
        what ``Booster.predict(DMatrix, pred_contribs=True, approx_contribs=True)`` gives.

        Materialises rows x features (for tests and small inputs); scoring uses
        :meth:`top_contributions`. Each row's values sum to its margin.
        """
        _, indices, values = self.top_contributions(x, k=self.num_features, nthread=nthread)
        out = np.zeros((indices.shape[0], self.num_features + 1), dtype=np.float32)
        np.put_along_axis(out, indices.astype(np.intp), values, axis=1)  # k = features: every index is real
        out[:, -1] = self.bias
        return out

    def predict(self, x: np.ndarray, *, nthread: int = 1) -> np.ndarray:
        """Predictions (float32), as ``inplace_predict`` gives them, of a feature-major matrix."""
        margin = self.margins(x, nthread=nthread)
        if self.link == "sigmoid":
            # XGBoost's logistic link, in float32: 1 / (1 + exp(-margin)).
            with np.errstate(over="ignore"):
                return (np.float32(1) / (np.float32(1) + np.exp(-margin))).astype(np.float32)
        return margin


def _pack_tree(tree: dict) -> tuple[np.ndarray, np.ndarray, int] | None:
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    conditions = np.asarray(tree["split_conditions"], dtype=np.float32)
    features = np.asarray(tree["split_indices"], dtype=np.int64)
    default_left = np.asarray(tree["default_left"], dtype=np.int64)
    n = len(left)
    leaf = left == -1
    index = np.arange(n, dtype=np.int64)
    if np.any(right[~leaf] != left[~leaf] + 1):
        return None  # XGBoost allocates children in pairs; anything else is not packed
    threshold = np.where(leaf, np.float32(np.nan), conditions).astype(np.float32)
    high = (np.where(leaf, index, left) | (np.where(leaf, 0, features) << 16)
            | (np.where(leaf, 0, 1 - default_left) << 31))
    nodes = (high.astype(np.uint64) << np.uint64(32)) | threshold.view(np.uint32).astype(np.uint64)
    values = np.where(leaf, conditions, np.float32(0)).astype(np.float32)
    depth = np.zeros(n, dtype=np.int64)
    for i in range(n):  # parents precede children in XGBoost's numbering
        if not leaf[i]:
            depth[left[i]] = depth[right[i]] = depth[i] + 1
    return nodes.view(np.int64), values, int(depth.max())


def _node_means(tree: dict, leaves: np.ndarray) -> np.ndarray:
    """Each node's mean leaf value weighted by ``sum_hessian`` (XGBoost's FillNodeMeanValues), float32.

    An internal node's is ``(left mean * left hessian + right mean * right
    hessian) / own hessian``; a leaf's is exactly its float32 value, so a walk
    that sums the mean of the leaf it reaches sums what :func:`_kernel.walk` sums.
    """
    left = tree["left_children"]
    right = tree["right_children"]
    hessian = tree["sum_hessian"]
    means = leaves.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero-hessian node gives NaN, as in XGBoost
        for i in range(len(left) - 1, -1, -1):  # children follow their parents in XGBoost's numbering
            a, b = left[i], right[i]
            if a != -1:
                means[i] = (means[a] * hessian[a] + means[b] * hessian[b]) / np.float64(hessian[i])
    return means.astype(np.float32)


def _in_ranges(rows: int, nthread: int, run: Callable[[int, int], None]) -> None:
    """``run(first, stop)`` over ``rows`` split into up to ``nthread`` ranges in parallel threads
    (the kernels release the GIL); one range when there are fewer than a block per thread."""
    from lakeops.score._kernel import BLOCK_ROWS

    parts = max(1, min(nthread, rows // BLOCK_ROWS))
    if parts == 1:
        run(0, rows)
        return
    bounds = np.linspace(0, rows, parts + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=parts) as pool:
        list(pool.map(lambda i: run(int(bounds[i]), int(bounds[i + 1])), range(parts)))


def _base_score(text: str | float) -> float:
    """``base_score`` as XGBoost 2+ writes it (``"[5E-1]"``) or older ones (``"0.5"``)."""
    if isinstance(text, str):
        text = text.strip().strip("[]")
    return float(text)


def _to_margin(base_score: float, link: str) -> float | None:
    if link == "identity":
        return base_score
    if not 0.0 < base_score < 1.0:
        return None
    return -math.log(1.0 / base_score - 1.0)


def _feature_major(x: np.ndarray, num_features: int) -> np.ndarray:
    if x.ndim != 2 or x.shape[0] < num_features:
        raise ValueError(f"expected a (features, rows) matrix with {num_features} features, got shape {x.shape}")
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    if x.strides[1] != x.itemsize:
        x = np.ascontiguousarray(x)
    return x
