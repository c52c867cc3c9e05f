"""Feature attribution: mean |SHAP| per feature on a seeded sample, and how its ranking moved.

Training freezes each version's attribution on a sample of its fit rows
(``ml.attribution_reference``); monitoring measures the same on a sample of each
day (``ml.attribution_drift``) and compares the two rankings with SageMaker
Clarify's nDCG. Both run :class:`Attributor` inside Spark tasks: each Arrow
batch is sampled (:func:`sample_mask`), encoded as the booster was trained
(:mod:`lakeops.evaluate.encoding`) and explained with XGBoost's exact TreeSHAP
(``Booster.predict(DMatrix, pred_contribs=True)``; ``inplace_predict`` has no
contributions). Only per-feature sums of |contribution| and a row count leave
a task (:class:`AttributionSum`, which adds up with :func:`merge`).

Attributions are in margin (log-odds) units. The calibrator is affine in the
margin (:class:`lakeops.evaluate.calibration.Platt`; a multiclass model's
temperature divides every margin by one number), so attributions of the
calibrated log-odds are the same up to one factor: shares, ranks and nDCG do
not depend on calibration. A multiclass booster has a margin per class; a
feature's attribution is its |SHAP| summed over the classes' margins.

The sample is a hash of the entity key values and ``ds`` (as strings) against
a rate, so a rerun, another backend or another task split picks the same rows.
Reads and writes no tables.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.evaluate.encoding import encode_feature_major
from lakeops.tally.counts import mix64

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

#: How many features a day names as its top movers (largest change of share against the reference).
TOP_MOVERS = 5

_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_SEPARATOR = np.uint64(0x1F)  # between key values, so ("ab", "c") and ("a", "bc") differ
_MANTISSA = 2**53


# ----------------------------------------------------------------------------- sampling


def row_hash(columns: Sequence[pa.Array | pa.ChunkedArray], *, seed: int = 0) -> np.ndarray:
    """A stable 64-bit hash per row of the values of ``columns`` (each read as its string form).

    FNV-1a over the UTF-8 bytes of each value (null reads as the empty string),
    then the murmur3 finaliser. The same on every machine and in every process,
    unlike Python's ``hash``.
    """
    import pyarrow.compute as pc

    n = len(columns[0]) if columns else 0
    h = np.full(n, _FNV_OFFSET ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            text = pc.fill_null(column.cast(pa.string()), "")
            if isinstance(text, pa.ChunkedArray):
                text = text.combine_chunks()
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
            data = text.buffers()[2]
            data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)
            starts, lengths = offsets[:-1], np.diff(offsets)
            for p in range(int(lengths.max(initial=0))):
                live = lengths > p
                h[live] = (h[live] ^ data[starts[live] + p].astype(np.uint64)) * _FNV_PRIME
            h = (h ^ _SEPARATOR) * _FNV_PRIME
        return mix64(h)


def sample_mask(batch: pa.RecordBatch | pa.Table, keys: Sequence[str], ds: date | str | None, rate: float,
                *, seed: int = 0) -> np.ndarray:
    """Which rows of ``batch`` fall in the sample: a hash of the key columns and the day, below ``rate``.

    ``ds`` is the batch's day (a partition value); ``None`` reads it from the batch's ``ds`` column.
    A row's verdict depends on its key values, its day, ``rate`` and ``seed`` only.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    if rate >= 1.0:
        return np.ones(batch.num_rows, dtype=bool)
    day = (batch.column("ds") if ds is None
           else pa.array([ds.isoformat() if isinstance(ds, date) else str(ds)] * batch.num_rows, pa.string()))
    h = row_hash([*[batch.column(k) for k in keys], day], seed=seed)
    return (h >> np.uint64(11)) < np.uint64(int(rate * _MANTISSA))


def sample_rate(target_rows: int, rows: int) -> float:
    """The rate that samples about ``target_rows`` of ``rows`` (1.0 when there are no more)."""
    if target_rows < 1:
        raise ValueError(f"target_rows must be at least 1, got {target_rows!r}")
    return 1.0 if rows <= target_rows else target_rows / rows


# ----------------------------------------------------------------------------- the task side


@dataclass(frozen=True)
class AttributionSum:
    """Per feature, the sum of |SHAP| over ``rows`` rows (the bias term left out)."""

    abs_sum: np.ndarray  # float64, one per feature in the model's order
    rows: int

    def __add__(self, other: AttributionSum) -> AttributionSum:
        return AttributionSum(self.abs_sum + other.abs_sum, self.rows + other.rows)


def merge(a: Any, b: Any) -> Any:
    """Add two partial results: :class:`AttributionSum` values, or dicts of them (by day, say)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, AttributionSum):
        return a + b
    return {k: a[k] + b[k] if k in a and k in b else a.get(k, b.get(k)) for k in {*a, *b}}


# One parsed booster per Python worker process, keyed by a digest of its bytes.
_BOOSTERS: dict[str, xgboost.Booster] = {}


@dataclass(frozen=True)
class Attributor:
    """Arrow batch of raw feature columns -> :class:`AttributionSum`, with one model's booster and encoding.

    Picklable and small (the booster travels as UBJSON bytes, as the registry
    stores it), so Spark ships it to every task; each worker parses it once.
    """

    model_bytes: bytes
    features: tuple[str, ...]
    categories: Mapping[str, Sequence[str]]
    nthread: int = 1
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.model_bytes).hexdigest())

    @classmethod
    def from_booster(cls, booster: xgboost.Booster, **kwargs: Any) -> Attributor:
        return cls(model_bytes=bytes(booster.save_raw("ubj")), **kwargs)

    def contributions(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        """XGBoost's SHAP values, ``(rows, features + 1)`` (a multiclass booster's: ``(rows, classes,
        features + 1)``): the last column is the bias."""
        import xgboost

        booster = self._booster()
        x = encode_feature_major(_as_batch(batch), self.features, self.categories)
        matrix = xgboost.DMatrix(x.T, missing=np.nan, nthread=self.nthread)
        # The booster may carry Spark's feature names; the columns are in its order by construction.
        return booster.predict(matrix, pred_contribs=True, validate_features=False)

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> AttributionSum:
        if batch.num_rows == 0:
            return AttributionSum(np.zeros(len(self.features)), 0)
        contribs = self.contributions(batch)[..., : len(self.features)]
        rows_and_classes = tuple(range(contribs.ndim - 1))
        return AttributionSum(np.abs(contribs).sum(axis=rows_and_classes, dtype=np.float64), batch.num_rows)

    def _booster(self) -> xgboost.Booster:
        booster = _BOOSTERS.get(self.digest)
        if booster is None:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(self.model_bytes))
            if len(_BOOSTERS) >= 4:  # a monitoring run holds one booster per version it explains
                _BOOSTERS.clear()
            _BOOSTERS[self.digest] = booster
        booster.set_param({"nthread": self.nthread})
        return booster


def _as_batch(batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    if isinstance(batch, pa.RecordBatch):
        return batch
    return batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], batch.schema)


def frame_attribution(df: DataFrame, attributor: Attributor, *, keys: Sequence[str], rate: float,
                      seed: int = 0) -> AttributionSum:
    """:class:`Attributor` over the sampled rows of a Spark DataFrame (keys, ``ds`` and the raw
    features), inside tasks; only the sums reach the driver."""
    from pyspark.sql.types import BinaryType, StructField, StructType

    columns = list(dict.fromkeys([*keys, "ds", *attributor.features]))
    keys = list(keys)

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        found = None
        for batch in batches:
            kept = batch.filter(pa.array(sample_mask(batch, keys, None, rate, seed=seed)))
            found = merge(found, attributor(kept))
        yield pa.RecordBatch.from_pydict({"part": [pickle.dumps(found)]})

    schema = StructType([StructField("part", BinaryType(), False)])
    total = AttributionSum(np.zeros(len(attributor.features)), 0)
    for row in df.select(*columns).mapInArrow(run, schema).collect():
        total = merge(total, pickle.loads(row["part"]))  # our own tasks' output, never user data
    return total


# ----------------------------------------------------------------------------- pure functions


def mean_abs_shap(total: AttributionSum, features: Sequence[str]) -> dict[str, float]:
    """Mean |SHAP| per feature (zeros when no row was sampled)."""
    means = total.abs_sum / total.rows if total.rows else np.zeros(len(features))
    return {f: float(v) for f, v in zip(features, means, strict=True)}


def ranking(values: Mapping[str, float], *, tie_break: Mapping[str, int] | None = None) -> list[str]:
    """Features by value, largest first; ties by ``tie_break`` (e.g. the reference rank), then by name."""
    order = tie_break or {}
    return sorted(values, key=lambda f: (-values[f], order.get(f, math.inf), f))


def ranks(values: Mapping[str, float], *, tie_break: Mapping[str, int] | None = None) -> dict[str, int]:
    """1 for the largest value (see :func:`ranking` for ties)."""
    return {f: i for i, f in enumerate(ranking(values, tie_break=tie_break), start=1)}


def ndcg(reference: Mapping[str, float], live: Mapping[str, float]) -> float:
    """SageMaker Clarify's attribution drift score, over all features.

    With the features ranked by reference attribution ``f_1..f_m``, ``a(f)`` the
    reference attribution of ``f`` and ``f'_i`` the feature at rank ``i`` of
    the live ranking: ``sum a(f'_i) / log2(i + 1)`` divided by
    ``sum a(f_i) / log2(i + 1)``. 1 when the live ranking is the reference's;
    live ties are ordered by reference rank, so a tie is no move. NaN when
    every reference attribution is zero (nothing to rank).

    Raises:
        ValueError: the two sides name different features.
    """
    if set(reference) != set(live):
        raise ValueError(f"reference and live attributions name different features: "
                         f"{sorted(set(reference) ^ set(live))}")
    ideal = ranking(reference)
    actual = ranking(live, tie_break=ranks(reference))
    discount = 1.0 / np.log2(np.arange(2, len(ideal) + 2))
    best = float(np.dot([reference[f] for f in ideal], discount))
    if best <= 0.0:
        return math.nan
    return float(np.dot([reference[f] for f in actual], discount)) / best


def shares(values: Mapping[str, float]) -> dict[str, float]:
    """Each feature's part of the total attribution (zeros when the total is zero)."""
    total = sum(values.values())
    return {f: (v / total if total > 0 else 0.0) for f, v in values.items()}


def top_movers(reference: Mapping[str, float], live: Mapping[str, float], *, k: int = TOP_MOVERS) -> list[str]:
    """The ``k`` features whose share of the total attribution changed most, largest change first.

    Shares rather than ranks: a swap among features that barely count is noise,
    while a feature that now drives a tenth more of the score is news. Features
    whose share did not change are never movers.
    """
    before, after = shares(reference), shares(live)
    change = {f: abs(after.get(f, 0.0) - before.get(f, 0.0)) for f in {*before, *after}}
    moved = [f for f in sorted(change, key=lambda f: (-change[f], f)) if change[f] > 0]
    return moved[:k]


def compare(reference: Mapping[str, float], live: Mapping[str, float], *, k: int = TOP_MOVERS) -> list[dict[str, Any]]:
    """One row per feature, in live rank order: the live and reference attribution, share and rank,
    ``rank_change`` (reference rank minus live rank: positive moved up), ``share_change`` and
    ``mover`` (1.. for the :func:`top_movers`, else ``None``)."""
    ref_ranks = ranks(reference)
    live_ranks = ranks(live, tie_break=ref_ranks)
    ref_shares, live_shares = shares(reference), shares(live)
    movers = {f: i for i, f in enumerate(top_movers(reference, live, k=k), start=1)}
    return [
        {"feature": f, "mean_abs_shap": live[f], "share": live_shares[f], "rank": live_ranks[f],
         "reference_mean_abs_shap": reference[f], "reference_share": ref_shares[f], "reference_rank": ref_ranks[f],
         "rank_change": ref_ranks[f] - live_ranks[f], "share_change": live_shares[f] - ref_shares[f],
         "mover": movers.get(f)}
        for f in sorted(live, key=live_ranks.__getitem__)
    ]


def reference_rows(values: Mapping[str, float], *, rows: int) -> list[dict[str, Any]]:
    """``ml.attribution_reference`` rows of one version (without the model columns): by rank."""
    order = ranks(values)
    part = shares(values)
    return [{"feature": f, "mean_abs_shap": values[f], "share": part[f], "rank": order[f], "n_rows": rows}
            for f in sorted(values, key=order.__getitem__)]
