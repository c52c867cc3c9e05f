"""Score Arrow batches with a registered XGBoost model, on the executors.

One piece of scoring code for every caller: :class:`BatchScorer` turns an Arrow
batch of feature columns into scores. It carries the booster as UBJSON bytes;
each Python worker parses it once (cached by digest) and predicts whole batches
with as many threads as a Spark task may use: through :class:`lakeops.forest.Forest`
(a compiled, branch-free tree walk, about 2.6x faster) where it covers the
model, otherwise ``Booster.inplace_predict`` (no DMatrix). Categorical
features are encoded here with the categories frozen
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

from lakeops.forest import Forest

if TYPE_CHECKING:
    import xgboost
    from pyspark.sql import DataFrame

SCORE = "score"
PREDICTION = "prediction"

#: ``engine`` values: "auto" predicts with the compiled :class:`lakeops.forest.Forest`
#: where it covers the model and XGBoost's ``inplace_predict`` otherwise;
#: "xgboost" always uses ``inplace_predict``.
ENGINES = ("auto", "xgboost")


@dataclass(frozen=True)
class _Model:
    booster: xgboost.Booster
    forest: Forest | None


# One parsed model per Python worker process, keyed by a digest of its bytes.
_MODELS: dict[str, _Model] = {}


def _model(raw: bytes, digest: str) -> _Model:
    model = _MODELS.get(digest)
    if model is None:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(raw))
        _MODELS.clear()  # keep one model per worker: a job scores one model at a time
        model = _MODELS[digest] = _Model(booster, Forest.from_booster(booster))
    return model


def encode_arrow(batch: pa.RecordBatch, features: Sequence[str], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """The model's input matrix, ``(rows, features)`` float32 with NaN for missing, from an Arrow batch.

    A categorical value becomes its index in the frozen category list, an
    unseen value the OTHER code (the list's length), and null NaN. The result is
    a transposed view of :func:`encode_feature_major`; XGBoost reads either layout.
    """
    return encode_feature_major(batch, features, categories).T


def encode_feature_major(
    batch: pa.RecordBatch, features: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """The model's input as a ``(features, rows)`` float32 matrix: one contiguous row per feature.

    Each feature is converted in one pass: a float column's nulls come out of
    Arrow as NaN and numpy casts while copying (no intermediate Arrow arrays).
    """
    import pyarrow.compute as pc

    x = np.empty((len(features), batch.num_rows), dtype=np.float32)
    for j, name in enumerate(features):
        col = batch.column(name)
        values = categories.get(name)
        if values is not None:
            codes = pc.index_in(col.cast(pa.string()), value_set=pa.array(list(values), pa.string()))
            if codes.null_count:  # unseen -> OTHER, null -> NaN
                codes = pc.if_else(pc.is_null(col), np.nan, pc.fill_null(codes.cast(pa.float32()), float(len(values))))
            col = codes
        elif not pa.types.is_floating(col.type):
            col = col.cast(pa.float64())  # ints, decimals; nulls become NaN below
        x[j] = col.to_numpy(zero_copy_only=False)
    return x


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
    engine: str = "auto"
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        object.__setattr__(self, "digest", hashlib.sha256(self.model_bytes).hexdigest())

    @classmethod
    def from_booster(cls, booster: xgboost.Booster, **kwargs: Any) -> BatchScorer:
        return cls(model_bytes=bytes(booster.save_raw("ubj")), **kwargs)

    def scores(self, batch: pa.RecordBatch) -> np.ndarray:
        """Probability of class 1 for each row (float32, as XGBoost computes it)."""
        if batch.num_rows == 0:
            return np.empty(0, dtype=np.float32)
        model = _model(self.model_bytes, self.digest)
        x = encode_feature_major(batch, self.features, self.categories)
        if model.forest is not None and self.engine == "auto":
            return model.forest.predict(x, nthread=self.nthread)
        model.booster.set_param({"nthread": self.nthread})
        return model.booster.inplace_predict(x.T)

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
