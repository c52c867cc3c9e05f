"""From bucket counts to drift, count and profile rows (no Spark, no tables).

The baseline of a model version (:class:`Reference`, read from ``ml.baselines``
and ``ml.baseline_sketches``) and a day's tallies (:mod:`lakeops.tally.counts`)
go in; rows for ``ml.drift_metrics``, ``ml.drift_counts`` and
``ml.profile_metrics`` come out. Every statistic is :mod:`lakeops.monitor.stats`
over stored counts, so any row can be recomputed from the tables.

Status: ``alert`` when PSI reaches the column's ``psi_alert`` *and* exceeds
its noise floor (``psi_noise_floor``: the PSI that two samples of these sizes
from one population exceed only once in a thousand, see
:func:`lakeops.monitor.stats.psi_noise_floor`), or when its null rate rose by
``null_rate_alert`` or more and a rise that large is as rare by chance (Fisher's
exact test, :func:`lakeops.monitor.stats.null_rise_pvalue`); ``warn`` likewise with the warn thresholds; else
``ok``. The floor keeps small slices from warning by chance: at 400 rows a side
it is about 0.15, above the usual ``psi_warn`` of 0.1. Against the baseline, the
floor weighs the baseline as at most one day's worth of independent rows
(:func:`effective_baseline`: the same entities on every training day are not
independent samples).

Consecutive drift compares a day with the monitored day before it
(:func:`previous_days`), when the same model version scored both
(:func:`consecutive_day`): counts on different versions' bins do not compare.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from lakeops.config import MonitorConfig
from lakeops.constants import BASELINE_DRIFT, CATEGORICAL_COLUMN_TYPES, CONSECUTIVE_DRIFT, STATUS_LEVEL
from lakeops.monitor import stats
from lakeops.tally.bins import NULL_BIN, ColumnBins
from lakeops.tally.counts import ColumnTally, TallyPlan, coarse_counts, quantiles

SliceKey = tuple[str | None, str | None]
PROFILE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Statuses in order of severity.


@dataclass(frozen=True)
class Reference:
    """One model version's frozen baseline: bins, counts per (column, slice), sketch grids."""

    model_name: str
    model_version: int
    bins: Mapping[str, ColumnBins]
    #: (column, slice_key, slice_value) -> counts per bucket, null last
    counts: Mapping[tuple[str, str | None, str | None], np.ndarray]
    #: numeric column -> sketch edges
    sketch_edges: Mapping[str, tuple[float, ...]]
    #: (column, slice_key, slice_value) -> non-null counts on the sketch grid
    sketch_counts: Mapping[tuple[str, str | None, str | None], np.ndarray]
    #: numeric column -> (min, max) of the whole population
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def baseline_id(self) -> str:
        return f"{self.model_name}/v{self.model_version}"

    def plan(self, slices: Sequence[str]) -> TallyPlan:
        """What a day must be counted on to compare with this baseline."""
        return TallyPlan(
            numeric={c: self.sketch_edges[c] for c, b in self.bins.items() if b.numeric},
            categorical={c: b.categories for c, b in self.bins.items() if not b.numeric},
            slices={s: self.bins[s].categories for s in slices if s in self.bins},
        )


@dataclass(frozen=True)
class DayCounts:
    """A monitored day's counts of one column and slice (what ``ml.drift_counts`` stores)."""

    bins: np.ndarray  # per baseline bucket, null last
    sketch: np.ndarray | None  # numeric: non-null counts on the sketch grid

    @property
    def n(self) -> int:
        return int(self.bins.sum())

    @property
    def null_rate(self) -> float:
        return float(self.bins[-1]) / self.n if self.n else math.nan


def previous_days(days: Sequence[date], *, monitored: Collection[date]) -> dict[date, date]:
    """For each of ``days``, the latest earlier monitored day: from ``monitored`` (the days
    ``ml.drift_counts`` holds) and ``days`` themselves (a range compares each day with the
    one before it, not with what an earlier run stored). A gap is skipped: the previous
    monitored day may be several days back. Days with no earlier monitored day are left out.
    """
    known = sorted(set(monitored) | set(days))
    return {d: known[bisect_left(known, d) - 1] for d in days if known[0] < d}


def consecutive_day(previous: date | None, *, version: int, previous_version: int | None) -> date | None:
    """The day consecutive drift compares with: ``previous`` (from :func:`previous_days`) when the
    model version that scored it (``previous_version``) is the day's own ``version``, else None
    (no consecutive drift that day: a promotion changed the bins)."""
    if previous is None or previous_version != version:
        return None
    return previous


def day_counts(reference: Reference, plan: TallyPlan, column: str, tally: ColumnTally) -> dict[SliceKey, DayCounts]:
    """The day's counts per slice of ``column`` (slices without rows left out)."""
    b = reference.bins[column]
    out = {}
    for r, key in enumerate(plan.slice_rows()):
        row = tally.counts[r]
        if not row.sum():
            continue
        if b.numeric:
            out[key] = DayCounts(coarse_counts(reference.sketch_edges[column], b.edges, row), row[:-1].copy())
        else:
            out[key] = DayCounts(row.copy(), None)
    return out


def drift_rows(
    *,
    ds: date,
    reference: Reference,
    column: str,
    current: Mapping[SliceKey, DayCounts],
    current_range: tuple[float, float] | None,
    previous: Mapping[SliceKey, DayCounts] | None,
    previous_ds: date | None,
    cfg: MonitorConfig,
) -> list[dict]:
    """``ml.drift_metrics`` rows of one column and day: baseline drift, and consecutive drift when there is a previous day."""
    b = reference.bins[column]
    limits = cfg.thresholds_for(column)
    rows = []
    for key, now in sorted(current.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        if key[0] is not None and now.n < cfg.min_slice_rows:
            continue  # too few rows in this slice today to say anything
        base_bins = reference.counts.get((column, *key))
        if base_bins is not None and base_bins.sum():
            sketch = reference.sketch_counts.get((column, *key))
            base = DayCounts(base_bins, sketch)
            whole_range = reference.ranges.get(column) if key[0] is None else None
            rows.append(_row(ds, reference, column, b, key, BASELINE_DRIFT, reference.baseline_id, now, base,
                             current_range if whole_range else None, whole_range, limits))
        before = (previous or {}).get(key)
        if before is not None and before.n and previous_ds is not None:
            rows.append(_row(ds, reference, column, b, key, CONSECUTIVE_DRIFT, previous_ds.isoformat(), now, before,
                             None, None, limits))
    return rows


def _row(ds, reference: Reference, column: str, b: ColumnBins, key: SliceKey, drift_type: str, baseline_id: str,
         now: DayCounts, base: DayCounts, now_range, base_range, limits) -> dict:
    psi = stats.psi(base.bins, now.bins)
    floor = stats.psi_noise_floor(effective_baseline(base.bins, now.n) if drift_type == BASELINE_DRIFT else base.bins,
                                  now.bins)
    ks = ks_bound = w = w_bound = chi2 = None
    if b.numeric:
        if now.sketch is not None and base.sketch is not None and now.sketch.sum() and base.sketch.sum():
            edges = reference.sketch_edges[column]
            ks, ks_bound = stats.ks_from_counts(edges, base.sketch, now.sketch)
            if now_range is not None and base_range is not None:
                w, w_bound = stats.wasserstein_from_counts(edges, base.sketch, now.sketch, baseline_range=base_range,
                                                           current_range=now_range)
    else:
        chi2 = stats.chi2_pvalue(base.bins, now.bins)
    null_now, null_base = now.null_rate, base.null_rate
    null_p = (stats.null_rise_pvalue(int(base.bins[-1]), base.n, int(now.bins[-1]), now.n)
              if null_now - null_base >= limits.null_rate_warn else 1.0)
    status = column_status(psi, floor, null_now - null_base, limits, null_pvalue=null_p)
    return {
        "ds": ds, "model_name": reference.model_name, "model_version": reference.model_version,
        "column_name": column, "column_type": b.kind, "baseline_id": baseline_id, "drift_type": drift_type,
        "slice_key": key[0], "slice_value": key[1], "n_current": now.n, "n_baseline": base.n,
        "psi": psi, "psi_noise_floor": floor, "ks_stat": ks, "ks_bound": ks_bound,
        "js_distance": stats.js_distance(base.bins, now.bins),
        "wasserstein": w, "wasserstein_bound": w_bound, "chi2_pvalue": chi2,
        "null_rate_current": null_now, "null_rate_baseline": null_base, "status": status,
        "warn_threshold": limits.psi_warn, "alert_threshold": limits.psi_alert,
    }


def effective_baseline(counts: np.ndarray, current_rows: int) -> np.ndarray:
    """The baseline's counts as the noise floor weighs them: at most as many independent rows as the
    current day has, its shares kept.

    A baseline holds the same entities on every training day, and their days are not
    independent draws: a host keeps its own level, and a rolling feature's windows on
    neighbouring days share most of their rows. Weighed as ``N`` days times a day's rows,
    it would pass for a far larger sample than it is, and a small fleet's ordinary
    day-to-day movement would read as drift; weighed as one day's rows it cannot.
    """
    total = float(counts.sum())
    if total <= current_rows or current_rows <= 0:
        return counts
    return counts * (current_rows / total)


def column_status(psi: float, noise_floor: float, null_rise: float, limits, *, null_pvalue: float = 0.0) -> str:
    """The drift status of a column on a day (statuses: :data:`lakeops.constants.STATUSES`): the
    worse of its PSI's (:func:`lakeops.monitor.stats.status`, above the noise floor) and its null
    rate rise's against ``limits`` (the column's ``monitor`` thresholds). The rise counts only
    when sampling alone would rarely give it (``null_pvalue`` below
    :data:`lakeops.monitor.stats.NULL_RISE_PVALUE`, :func:`lakeops.monitor.stats.null_rise_pvalue`):
    like PSI's noise floor, this keeps a small slice's few nulls from warning by chance."""
    by_psi = stats.status(psi, warn=limits.psi_warn, alert=limits.psi_alert, noise_floor=noise_floor)
    by_nulls = ("ok" if not null_pvalue < stats.NULL_RISE_PVALUE
                else "alert" if null_rise >= limits.null_rate_alert
                else "warn" if null_rise >= limits.null_rate_warn else "ok")
    return max(by_psi, by_nulls, key=STATUS_LEVEL.__getitem__)


def count_rows(*, ds: date, reference: Reference, column: str, current: Mapping[SliceKey, DayCounts]) -> list[dict]:
    """``ml.drift_counts`` rows of one column and day."""
    b = reference.bins[column]
    return [
        {"ds": ds, "model_name": reference.model_name, "model_version": reference.model_version,
         "column_name": column, "column_type": b.kind, "slice_key": key[0], "slice_value": key[1],
         "n_rows": c.n, "n_null": int(c.bins[-1]), "bin_counts": c.bins.tolist(),
         "sketch_counts": c.sketch.tolist() if c.sketch is not None else None}
        for key, c in sorted(current.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))
    ]


def profile_row(*, ds: date, reference: Reference, column: str, tally: ColumnTally) -> dict:
    """The ``ml.profile_metrics`` row of one column and day (whole population)."""
    b = reference.bins[column]
    counts = tally.counts[0]
    n, nulls = int(counts.sum()), int(counts[-1])
    present = n - nulls
    row: dict[str, Any] = {
        "ds": ds, "model_name": reference.model_name, "model_version": reference.model_version,
        "column_name": column, "column_type": b.kind, "count": n, "nulls": nulls,
        "distinct_approx": tally.distinct_estimate(), "zeros": None, "mean": None, "stddev": None,
        "min": None, "max": None, **{_q(p): None for p in PROFILE_QUANTILES}}
    if b.numeric and present:
        mean = tally.total / present
        var = max(tally.total_sq / present - mean * mean, 0.0) * (present / (present - 1) if present > 1 else 0.0)
        qs = quantiles(reference.sketch_edges[column], counts[:-1], PROFILE_QUANTILES, vmin=tally.vmin,
                       vmax=tally.vmax)
        row.update({"zeros": tally.zeros, "mean": mean, "stddev": math.sqrt(var), "min": tally.vmin,
                    "max": tally.vmax, **{_q(p): q for p, q in zip(PROFILE_QUANTILES, qs, strict=True)}})
    return row


def _q(p: float) -> str:
    return f"p{round(p * 100):02d}"


def reference_from_rows(model_name: str, version: int, bins: Sequence[Mapping], sketches: Sequence[Mapping]) -> Reference:
    """A :class:`Reference` from a version's ``ml.baselines`` and ``ml.baseline_sketches`` rows."""
    by_key: dict[tuple, list[Mapping]] = {}
    for r in bins:
        by_key.setdefault((r["column_name"], r["slice_key"], r["slice_value"]), []).append(r)
    columns: dict[str, ColumnBins] = {}
    counts = {}
    for (column, slice_key, slice_value), items in by_key.items():
        items = sorted(items, key=lambda r: (r["bin_index"] == NULL_BIN, r["bin_index"]))
        if slice_key is None:
            kind = items[0]["column_type"]
            kept = items[:-1]
            if kind in CATEGORICAL_COLUMN_TYPES:
                columns[column] = ColumnBins(column, kind, categories=tuple(r["category"] for r in kept[:-1]))
            else:
                columns[column] = ColumnBins(column, kind, edges=tuple(float(r["upper"]) for r in kept[:-1]))
        counts[(column, slice_key, slice_value)] = np.array([r["count"] for r in items], dtype=np.int64)
    edges, sketch_counts, ranges = {}, {}, {}
    for r in sketches:
        key = (r["column_name"], r["slice_key"], r["slice_value"])
        sketch_counts[key] = np.asarray(r["counts"], dtype=np.int64)
        if r["slice_key"] is None:
            edges[r["column_name"]] = tuple(r["edges"])
            ranges[r["column_name"]] = (r["min"], r["max"])
    return Reference(model_name, version, columns, counts, edges, sketch_counts, ranges)
