"""Score Arrow batches with a registered XGBoost model, inside Spark tasks.

:class:`BatchScorer` turns an Arrow batch of feature columns into keys, score,
prediction and constant columns. It carries the booster as UBJSON bytes; each
Python worker parses it once (cached by digest) and predicts whole batches with
as many threads as a Spark task may use: through
:class:`lakeops.score.forest.Forest` (a compiled, branch-free tree walk) where
it covers the model, otherwise ``Booster.inplace_predict`` (no DMatrix). Both
give the booster's margin; the model's calibrator
(:class:`lakeops.evaluate.calibration.Platt`) maps it to the stored probability.
Categorical features are encoded with :mod:`lakeops.evaluate.encoding`, as in
training. With ``reasons=k`` each row also gets its ``k`` reason codes
(:mod:`lakeops.score.reasons`: the features that moved its margin most),
computed in the Forest's one walk for the margin where it can.
:mod:`lakeops.score.run` hands a scorer to
:meth:`lakeops.lake.Lake.map_partitions`, which runs it inside tasks that read
the feature table's Parquet directly. Reads and writes no tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops.constants import SCORE_ENGINES
from lakeops.evaluate.calibration import Platt
from lakeops.evaluate.encoding import encode_feature_major
from lakeops.evaluate.problems import Output
from lakeops.score import reasons as reason_codes
from lakeops.score.forest import Forest

if TYPE_CHECKING:
    import xgboost

#: ``engine`` values: "auto" predicts with the compiled :class:`lakeops.score.forest.Forest`
#: where it covers the model and XGBoost's ``inplace_predict`` otherwise;
#: "xgboost" always uses ``inplace_predict``.
ENGINES = SCORE_ENGINES


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
    #: The model's output: Platt (score and 0/1 prediction) or Conformal (prediction and interval).
    calibration: Output = Platt()
    #: Reason codes per row (0: none), appended after the output columns; see :mod:`lakeops.score.reasons`.
    reasons: int = 0
    reasons_method: str = "approx"
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        reason_codes.check_method(self.reasons_method)
        if self.reasons < 0:
            raise ValueError(f"reasons must be 0 (none) or more, got {self.reasons!r}")
        object.__setattr__(self, "digest", hashlib.sha256(self.model_bytes).hexdigest())

    @classmethod
    def from_booster(cls, booster: xgboost.Booster, **kwargs: Any) -> BatchScorer:
        return cls(model_bytes=bytes(booster.save_raw("ubj")), **kwargs)

    def margins(self, batch: pa.RecordBatch) -> np.ndarray:
        """The booster's margin (log-odds, float32 as XGBoost computes it) for each row."""
        if batch.num_rows == 0:
            return np.empty(0, dtype=np.float32)
        model = _model(self.model_bytes, self.digest)
        x = encode_feature_major(batch, self.features, self.categories)
        return self._margins(model, x)

    def scores(self, batch: pa.RecordBatch) -> np.ndarray:
        """The model's output for each row (float64): a calibrated probability of class 1, or a prediction."""
        return self.calibration.output(self.margins(batch))

    def margins_and_reasons(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Margins, and each row's ``reasons`` top feature indices (int32) and contributions (float32).

        On the Forest with ``"approx"`` one walk gives all three; otherwise the
        margins as :meth:`margins` and the reasons from XGBoost.
        """
        k = self.reasons
        if k < 1:
            raise ValueError("this scorer computes no reasons (reasons=0)")
        if batch.num_rows == 0:
            return np.empty(0, dtype=np.float32), np.empty((0, k), np.int32), np.empty((0, k), np.float32)
        model = _model(self.model_bytes, self.digest)
        x = encode_feature_major(batch, self.features, self.categories)
        forest = self._forest(model)
        if forest is not None and self.reasons_method == "approx":
            return forest.top_contributions(x, k=k, nthread=self.nthread)
        margins = self._margins(model, x)
        predicted = None
        if margins.ndim == 2:  # multiclass: explain the class the output columns name
            predicted = np.argmax(self.calibration.output(margins), axis=1)
        indices, values = reason_codes.top_reasons(model.booster, x, k=k, method=self.reasons_method,
                                                   predicted_class=predicted, nthread=self.nthread)
        return margins, indices, values

    def __call__(self, batch: pa.RecordBatch, partition: Mapping[str, Any] | None = None) -> pa.RecordBatch:
        arrays = {k: batch.column(k) for k in self.keys}
        reasons: dict[str, pa.Array] = {}
        if self.reasons:
            margins, indices, contributions = self.margins_and_reasons(batch)
            reasons = reason_codes.columns(indices, contributions, self.features, self.reasons)
        else:
            margins = self.margins(batch)
        for name, values in self.calibration.columns(margins, threshold=self.threshold).items():
            arrays[name] = pa.array(values)
        arrays.update(reasons)
        for name, value in self.constants.items():
            arrays[name] = constant_array(value, batch.num_rows)
        return pa.RecordBatch.from_pydict(arrays)

    def _forest(self, model: _Model) -> Forest | None:
        """The compiled walk, where it covers the model and the engine allows it."""
        return model.forest if self.engine == "auto" else None

    def _margins(self, model: _Model, x: np.ndarray) -> np.ndarray:
        forest = self._forest(model)
        if forest is not None:
            return forest.margins(x, nthread=self.nthread)
        model.booster.set_param({"nthread": self.nthread})
        return model.booster.inplace_predict(x.T, predict_type="margin")


def constant_array(value: Any, n: int) -> pa.Array:
    """``n`` copies of ``value``; strings are built from raw buffers (a Python list of a
    million strings costs a fifth of a second)."""
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) * n < 2**31:
            offsets = np.arange(n + 1, dtype=np.int32) * len(raw)
            return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n))
    return pa.repeat(value, n)
