"""Per-row reason codes: each row's ``k`` features that moved its margin most, and by how much.

A reason is a feature's signed contribution to the row's margin (log-odds for
a binary model; the prediction itself for regression), the row's ``k``
largest by magnitude, ties to the feature that comes first. Two methods:

- ``"approx"``: Saabas' path attribution, XGBoost's ``approx_contribs``: every
  split on the row's path credits its feature with the change of the node's
  cover-weighted mean leaf value. Costs about one more tree walk's arithmetic;
  :meth:`lakeops.score.forest.Forest.top_contributions` computes it in the walk
  that sums the margin, where the Forest covers the model.
- ``"shap"``: exact TreeSHAP (``pred_contribs``), consistent but far slower;
  always through XGBoost.

Through XGBoost (this module's :func:`top_reasons`), the contributions come from
``Booster.predict(DMatrix, pred_contribs=True)``; for a multiclass booster they
are those of each row's predicted class. Both paths end in :func:`columns`:
``reason_1, reason_1_contribution, ..., reason_k, reason_k_contribution``, the
feature's name and its contribution (float64, margin units, before
calibration); a row with fewer than ``k`` nonzero contributions has nulls for
the rest. Reads and writes no tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from lakeops.constants import REASON_METHODS

if TYPE_CHECKING:
    import xgboost

#: ``reasons_method`` values (see the module docstring).
METHODS = REASON_METHODS


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"reasons method must be one of {METHODS}, got {method!r}")


def contributions(booster: xgboost.Booster, x: np.ndarray, *, method: str = "approx",
                  predicted_class: np.ndarray | None = None, nthread: int = 1) -> np.ndarray:
    """XGBoost's contributions of a feature-major ``(features, rows)`` matrix: ``(rows, features + 1)``,
    the last column the bias; each row sums to its margin.

    A multiclass booster gives a set per class; each row keeps its
    ``predicted_class``'s (default: the argmax of the summed contributions,
    i.e. of the margins).
    """
    import xgboost

    check_method(method)
    booster.set_param({"nthread": nthread})
    matrix = xgboost.DMatrix(x.T, missing=np.nan, nthread=nthread)
    # The booster may carry Spark's feature names; the columns are in its order by construction.
    out = booster.predict(matrix, pred_contribs=True, approx_contribs=method == "approx", validate_features=False)
    if out.ndim == 3:  # (rows, classes, features + 1)
        if predicted_class is None:
            predicted_class = np.argmax(out.sum(axis=2), axis=1)
        out = out[np.arange(out.shape[0]), np.asarray(predicted_class, dtype=np.intp)]
    return out


def top_k(contribs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` largest ``|contribution|`` of a ``(rows, features)`` matrix (no bias column).

    Returns feature indices (int32) and signed values (float32), both
    ``(rows, k)``, largest magnitude first, ties to the lower feature, as
    :meth:`lakeops.score.forest.Forest.top_contributions` orders them; past the
    last feature (``k`` > features) the index is -1 and the value 0.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    rows, features = contribs.shape
    # A stable sort of -|c| keeps equal magnitudes in feature order.
    order = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :k]
    indices = np.full((rows, k), -1, dtype=np.int32)
    values = np.zeros((rows, k), dtype=np.float32)
    indices[:, : order.shape[1]] = order
    values[:, : order.shape[1]] = np.take_along_axis(contribs, order, axis=1)
    return indices, values


def top_reasons(booster: xgboost.Booster, x: np.ndarray, *, k: int, method: str = "approx",
                predicted_class: np.ndarray | None = None,
                nthread: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` of :func:`contributions` (the bias left out): for a booster the Forest
    does not cover, and for ``"shap"``."""
    c = contributions(booster, x, method=method, predicted_class=predicted_class, nthread=nthread)
    return top_k(c[:, :-1], k)


def column_names(k: int) -> list[str]:
    """The reason columns, in the order :func:`columns` gives them."""
    return [name for i in range(1, k + 1) for name in (f"reason_{i}", f"reason_{i}_contribution")]


def columns(indices: np.ndarray, values: np.ndarray, feature_names: Sequence[str], k: int) -> dict[str, pa.Array]:
    """``reason_i`` (the feature's name, string) and ``reason_i_contribution`` (float64) for i = 1..k.

    A zero contribution (and a slot past the last feature) is no reason: both
    null. Names are taken from a one-entry-per-feature array by index (an Arrow
    take), not built per row; ``indices`` and ``values`` may have fewer than
    ``k`` columns, the rest are null.
    """
    names = pa.array(list(feature_names), type=pa.string())
    rows = indices.shape[0]
    out: dict[str, pa.Array] = {}
    for i in range(k):
        if i < indices.shape[1]:
            value = values[:, i].astype(np.float64)
            none = value == 0.0
            index = np.where(none, 0, indices[:, i]).astype(np.int32)
            out[f"reason_{i + 1}"] = names.take(pa.array(index, mask=none))
            out[f"reason_{i + 1}_contribution"] = pa.array(value, mask=none)
        else:
            out[f"reason_{i + 1}"] = pa.nulls(rows, pa.string())
            out[f"reason_{i + 1}_contribution"] = pa.nulls(rows, pa.float64())
    return out
