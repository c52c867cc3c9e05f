"""Score Arrow batches with a registered XGBoost model, on the executors.

One piece of scoring code for every caller: :class:`BatchScorer` turns an Arrow
batch of feature columns into scores. It carries the booster as UBJSON bytes;
each Python worker parses it once (cached by digest) and predicts whole batches
with ``Booster.inplace_predict`` (no DMatrix), with as many threads as a Spark
task may use. Categorical features are encoded here with the categories frozen
at training time, exactly as :func:`lakeops.train.encoding.encode` does in Spark.

- :func:`score_frame`: a Spark DataFrame in, ``keep`` columns plus ``score`` out
  (``mapInArrow``); used for evaluation and the gate.
- :mod:`lakeops.score` hands a :class:`BatchScorer` to
  :meth:`lakeops.lake.Lake.map_partitions`, which runs it inside tasks that read
  the feature table's Parquet directly.

Reads and writes no tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

SCORE = "score"
PREDICTION = "prediction"

# One parsed booster per Python worker process, keyed by a digest of its bytes.
_BOOSTERS: dict[str, xgboost.Booster] = {}


def _booster(raw: bytes, digest: str, nthread: int) -> xgboost.Booster:
    booster = _BOOSTERS.get(digest)
    if booster is None:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(raw))
        _BOOSTERS.clear()  # keep one model per worker: a job scores one model at a time
        _BOOSTERS[digest] = booster
    booster.set_param({"nthread": nthread})
    return booster


def encode_arrow(batch: pa.RecordBatch, features: Sequence[str], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """The model's input matrix (float32, NaN for missing) from an Arrow batch.

    A categorical value becomes its index in the frozen category list, an
    unseen value the OTHER code (the list's length), and null NaN. Filled one
    feature per contiguous row of a feature-major array (fast), then handed
    over transposed; XGBoost reads either layout.
    """
    import pyarrow.compute as pc

    x = np.empty((len(features), batch.num_rows), dtype=np.float32)
    for j, name in enumerate(features):
        col = batch.column(name)
        values = categories.get(name)
        if values is None:
            col = pc.cast(col, pa.float32())
        else:
            codes = pc.index_in(pc.cast(col, pa.string()), value_set=pa.array(list(values), pa.string()))
            coded = pc.fill_null(pc.cast(codes, pa.float32()), float(len(values)))
            col = pc.if_else(pc.is_null(col), pa.scalar(None, pa.float32()), coded)
        x[j] = col.fill_null(np.nan).to_numpy(zero_copy_only=False) if col.null_count else col.to_numpy(
            zero_copy_only=False)
    return x.T


@dataclass(frozen=True)
class BatchScorer:
    """``(batch, partition) -> batch`` of keys, score, prediction and constant columns.

    Picklable and small (the booster travels as UBJSON bytes), so Spark can ship
    it to every task.
    """

    model_bytes: bytes
    features: tuple[str, ...]
    categories: Mapping[str, Sequence[str]]
    threshold: float
    keys: tuple[str, ...]
    constants: Mapping[str, Any] = field(default_factory=dict)
    nthread: int = 1
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.model_bytes).hexdigest())

    @classmethod
    def from_booster(cls, booster: xgboost.Booster, **kwargs: Any) -> BatchScorer:
        return cls(model_bytes=bytes(booster.save_raw("ubj")), **kwargs)

    def scores(self, batch: pa.RecordBatch) -> np.ndarray:
        """Probability of class 1 for each row (float32, as XGBoost computes it)."""
        if batch.num_rows == 0:
            return np.empty(0, dtype=np.float32)
        model = _booster(self.model_bytes, self.digest, self.nthread)
        return model.inplace_predict(encode_arrow(batch, self.features, self.categories))

    def __call__(self, batch: pa.RecordBatch, partition: Mapping[str, Any] | None = None) -> pa.RecordBatch:
        scores = self.scores(batch)
        arrays = {k: batch.column(k) for k in self.keys}
        arrays[SCORE] = pa.array(scores.astype(np.float64))
        arrays[PREDICTION] = pa.array((scores >= self.threshold).astype(np.int32))
        for name, value in self.constants.items():
            arrays[name] = constant_array(value, batch.num_rows)
        return pa.RecordBatch.from_pydict(arrays)


def constant_array(value: Any, n: int) -> pa.Array:
    """``n`` copies of ``value``; strings are built from raw buffers (a Python list of a
    million strings costs a fifth of a second)."""
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) * n < 2**31:
            offsets = np.arange(n + 1, dtype=np.int32) * len(raw)
            return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n))
    return pa.repeat(value, n)


def score_frame(
    df: DataFrame,
    booster: xgboost.Booster,
    *,
    features: Sequence[str],
    categories: dict[str, list[str]],
    keep: Sequence[str],
) -> DataFrame:
    """``keep`` columns plus ``score`` (probability of class 1) for every row of ``df``."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    # Model inputs under private names, so kept columns keep their original values.
    inputs = [f"__x{i}" for i in range(len(features))]
    renamed = dict(zip(features, inputs, strict=True))
    scorer = BatchScorer.from_booster(booster, features=tuple(inputs), threshold=0.5, keys=(),
                                      categories={renamed[c]: v for c, v in categories.items()})
    selected = df.select(*keep, *[df[c].alias(i) for c, i in zip(features, inputs, strict=True)])
    out_schema = StructType([*[selected.schema[c] for c in keep], StructField(SCORE, DoubleType(), False)])
    keep = list(keep)

    def predict(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            scores = pa.array(scorer.scores(batch).astype(np.float64))
            yield pa.RecordBatch.from_arrays([*[batch.column(c) for c in keep], scores], names=[*keep, SCORE])

    return selected.mapInArrow(predict, out_schema)


def labels_and_scores(
    df: DataFrame, booster: xgboost.Booster, *, label: str, features: Sequence[str], categories: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores of ``df`` as numpy arrays, for evaluation (two columns reach the driver)."""
    scored = score_frame(df, booster, features=features, categories=categories, keep=[label]).toPandas()
    return scored[label].to_numpy(), scored[SCORE].to_numpy()
