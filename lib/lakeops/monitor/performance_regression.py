"""A regression model's quality per day and slice: realised once labels arrive, estimated (DLE) before.

Reads ``predictions.<model>`` (prediction and interval of the version that scored each
day), ``features.<model>`` (labels, slice columns and the features the direct-loss
estimator reads), ``ml.performance_reference`` (each version's per-row error spread,
for the bands) and the registry (each version's direct-loss estimator, logged with it).
Returns ``ml.performance_metrics`` rows; :mod:`lakeops.monitor.performance` writes them.

One Spark job joins the two tables on ``ds`` and the entity keys; each task runs the
version's estimator on its batches (a row's expected absolute and squared error from
its features and prediction) and tallies every (day, slice) into an
:class:`~lakeops.evaluate.regression.ErrorTally`; only the tallies reach the driver,
where they merge. Realised rows: MAE, RMSE, R2, bias, MAPE and interval coverage of
the labelled rows; estimated rows: DLE's MAE and RMSE over every scored row, with a
band of 3 standard errors. A realised row also records DLE's estimate over the same
labelled rows and whether the realised value fell inside that estimate's band: a
regression label can stay missing for good (an entity that did not report the next
day), so the check compares like with like rather than waiting for every row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.constants import ESTIMATED, REALISED
from lakeops.evaluate import regression
from lakeops.evaluate.encoding import encode_arrow
from lakeops.evaluate.interval import LOWER, PREDICTION, UPPER
from lakeops.lake.tables import PERFORMANCE_METRICS, PERFORMANCE_REFERENCE, features_table
from lakeops.monitor.joined import tally_joined
from lakeops.monitor.performance import DayPerformance, nan_to_null, populations, within

if TYPE_CHECKING:
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

Population = tuple[date, str | None, str | None]


def measure_regression(lake: Lake, model: ModelConfig, *, days: Sequence[date], versions: Mapping[date, int],
                       pinned: Mapping[str, int | None], slices: Mapping[str, Sequence[str]],
                       mlflow_cfg: MlflowConfig | None = None) -> tuple[list[dict], list[DayPerformance]]:
    """``ml.performance_metrics`` rows for ``days`` (each scored by ``versions[day]``), and a summary per day."""
    estimators = _estimators(lake, model.name, sorted(set(versions.values())), mlflow_cfg)
    tallies, labelled = _tallies(lake, model, days=days, versions=versions, pinned=pinned, slices=slices,
                                 estimators=estimators)
    references = _references(lake, model.name, sorted(set(versions.values())))
    features_version = pinned[features_table(model.name)]
    rows, summary = [], []
    for (ds, key, value), t in sorted(tallies.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")):
        version, reference = versions[ds], references.get(versions[ds])
        est = regression.estimated(t, reference) if t.est_abs_n else None
        est_row = _row(ds, model.name, version, ESTIMATED, key, value, t)
        if est is not None:
            est_row.update(mae=est.mae, rmse=est.rmse, mae_lower=est.mae_lower, mae_upper=est.mae_upper,
                           rmse_lower=est.rmse_lower, rmse_upper=est.rmse_upper)
        real = regression.realised(t) if t.n_labeled else None
        if real is None:
            est_row["features_version"] = features_version  # measured at this version, no labels yet
            rows.append(nan_to_null(est_row))
        else:
            real_row = _row(ds, model.name, version, REALISED, key, value, t)
            real_row.update(mae=real.mae, rmse=real.rmse, r2=real.r2, bias=real.bias, mape=real.mape,
                            interval_coverage=real.coverage, label_mean=real.label_mean,
                            features_version=features_version)
            same = labelled[(ds, key, value)]
            check = regression.estimated(same, reference) if same.est_abs_n else None
            if check is not None and check.mae_lower is not None:
                real_row.update(estimated_mae=check.mae, estimated_rmse=check.rmse,
                                mae_in_band=within(real.mae, check.mae_lower, check.mae_upper or np.nan),
                                rmse_in_band=within(real.rmse, check.rmse_lower or np.nan, check.rmse_upper or np.nan))
            rows += [nan_to_null(est_row), nan_to_null(real_row)]
        if key is None:
            summary.append(DayPerformance(ds, "MAE", est.mae if est is not None else np.nan,
                                      est.mae_lower if est is not None else None,
                                      est.mae_upper if est is not None else None,
                                      real.mae if real is not None else None,
                                      t.n_labeled / t.n_scored if t.n_scored else 0.0,
                                      real.coverage if real is not None and real.coverage == real.coverage else None))
    return rows, summary


def _row(ds: date, model_name: str, version: int, kind: str, key: str | None, value: str | None,
         t: regression.ErrorTally) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(PERFORMANCE_METRICS.schema.names)
    row.update(ds=ds, model_name=model_name, model_version=version, kind=kind, slice_key=key, slice_value=value,
               n_scored=t.n_scored, n_labeled=t.n_labeled,
               label_coverage=t.n_labeled / t.n_scored if t.n_scored else None,
               prediction_mean=t.prediction_sum / t.n_scored if t.n_scored else None)
    return row


def _references(lake: Lake, model_name: str, versions: list[int]) -> dict[int, regression.DleReference]:
    if not versions or not lake.exists(PERFORMANCE_REFERENCE.name):
        return {}
    found = {}
    for r in lake.read_arrow(PERFORMANCE_REFERENCE.name,
                             where={"model_name": [model_name], "model_version": versions}).to_pylist():
        if r.get("abs_error_sd") is not None:
            found[r["model_version"]] = regression.DleReference(rows=r["holdout_rows"], abs_error_sd=r["abs_error_sd"],
                                                                squared_error_sd=r["squared_error_sd"])
    return found


@dataclass(frozen=True)
class _Estimator:
    """What a task needs to run one version's direct-loss estimator."""

    raw: bytes
    features: tuple[str, ...]
    categories: Mapping[str, Sequence[str]]


def _estimators(lake: Lake, model_name: str, versions: list[int],
                mlflow_cfg: MlflowConfig | None) -> dict[int, _Estimator]:
    """Each version's estimator from the registry; none without ``mlflow_cfg`` (no estimated rows then)."""
    if mlflow_cfg is None:
        return {}
    registry.setup(mlflow_cfg, lake.root)
    found = {}
    for v in versions:
        loaded = registry.load(model_name, version=v)
        raw = loaded.extras.get(registry.ARTIFACT_DLE)
        if raw is None:
            log.warning("%s v%d has no direct-loss estimator: its days get no estimated MAE/RMSE", model_name, v)
            continue
        found[v] = _Estimator(raw, tuple(loaded.features), {k: tuple(c) for k, c in loaded.categories.items()})
    return found


# --- the Spark job ------------------------------------------------------------------------------------

# Per day and slice: the tally of every scored row, and of the labelled rows only (DLE's check).
_TALLIES = pa.schema([("ds", pa.date32()), ("slice_key", pa.string()), ("slice_value", pa.string()),
                      ("values", pa.list_(pa.float64())), ("labelled", pa.list_(pa.float64()))])


@dataclass(frozen=True)
class _Tallier:
    """Task side: a joined batch (ds, version, prediction, interval, label, features) -> tallies per day and slice."""

    label: str
    slices: Mapping[str, tuple[str, ...]]
    estimators: Mapping[int, _Estimator]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        loaded: dict[int, regression.DirectLossEstimator] = {}
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            ds = table.column("ds").cast(pa.int32()).to_numpy(zero_copy_only=False)
            version = table.column("model_version").to_numpy(zero_copy_only=False)
            prediction = table.column(PREDICTION).to_numpy(zero_copy_only=False).astype(np.float64)
            lower = table.column(LOWER).to_numpy(zero_copy_only=False).astype(np.float64)
            upper = table.column(UPPER).to_numpy(zero_copy_only=False).astype(np.float64)
            label = table.column(self.label).cast(pa.float64()).to_numpy(zero_copy_only=False)
            est_abs = np.full(len(ds), np.nan)
            est_sq = np.full(len(ds), np.nan)
            for v in np.unique(version):
                spec = self.estimators.get(int(v))
                if spec is None:
                    continue
                if int(v) not in loaded:
                    loaded[int(v)] = regression.DirectLossEstimator.from_bytes(spec.raw)
                rows = version == v
                x = encode_arrow(table.filter(pa.array(rows)).combine_chunks().to_batches()[0], spec.features,
                                 spec.categories)
                est_abs[rows], est_sq[rows] = loaded[int(v)].predict(regression.dle_inputs(x, prediction[rows]))
            out: dict[str, list] = {name: [] for name in _TALLIES.names}
            for day, slice_key, value, rows in populations(table, ds, self.slices):
                t = regression.tally(prediction=prediction[rows], label=label[rows], lower=lower[rows],
                                     upper=upper[rows], est_abs=est_abs[rows], est_sq=est_sq[rows])
                known = rows & ~np.isnan(label)
                t_known = regression.tally(prediction=prediction[known], label=label[known],
                                           est_abs=est_abs[known], est_sq=est_sq[known])
                out["ds"].append(day)
                out["slice_key"].append(slice_key)
                out["slice_value"].append(value)
                out["values"].append(t.as_list())
                out["labelled"].append(t_known.as_list())
            out["ds"] = pa.array(out["ds"], pa.int32()).cast(pa.date32())
            yield pa.RecordBatch.from_pydict(out, schema=_TALLIES)


def _tallies(lake: Lake, model: ModelConfig, *, days: Sequence[date], versions: Mapping[date, int],
             pinned: Mapping[str, int | None], slices: Mapping[str, Sequence[str]],
             estimators: Mapping[int, _Estimator]) -> tuple[dict[Population, regression.ErrorTally],
                                                            dict[Population, regression.ErrorTally]]:
    """Per (day, slice): the tally of every scored row, and of the labelled rows only."""
    needed = sorted({f for e in estimators.values() for f in e.features} | set(slices) | {model.label})
    tallier = _Tallier(model.label, {k: tuple(v) for k, v in slices.items()}, dict(estimators))
    collected = tally_joined(lake, model, days=days, pinned=pinned,
                             predictions=["model_version", PREDICTION, LOWER, UPPER], features=needed,
                             tallier=tallier, schema=_TALLIES)
    found: dict[Population, regression.ErrorTally] = {}
    labelled: dict[Population, regression.ErrorTally] = {}
    for ds, key, value, values, known in zip(*(collected.column(c).to_pylist() for c in _TALLIES.names), strict=True):
        for into, part in ((found, values), (labelled, known)):
            t = regression.ErrorTally.from_list(part)
            into[(ds, key, value)] = into[(ds, key, value)] + t if (ds, key, value) in into else t
    return found, labelled
