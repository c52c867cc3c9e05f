"""Drift benchmark: ``lakeops monitor`` against Evidently 0.7 and a numpy pass, in one run.

    .venv/bin/python bench/drift.py [--rows 1000000] [--columns 30] [--scale 1,2,4,8] [--repeats 3]

The data: 30 numeric columns (lognormal, normal, gamma, a few with nulls), a
baseline and a current sample of ``--rows`` rows each; a third of the current
columns are shifted or rescaled. Frozen bins: deciles of the baseline (PSI) and
the fine sketch grid, from numpy quantiles, written to ``ml.baselines`` and
``ml.baseline_sketches`` by the same code training uses. The current sample is
a ``ds`` partition of a feature table, with a scored predictions partition.

(a) lakeops: :func:`lakeops.monitor.monitor` for that day, the whole run: the
    Spark job over the partition (PSI, KS and Wasserstein counts, slices,
    profiles for every column and the score), the drift rows and the three commits.
(b) Evidently 0.7: ``Report([DataDriftPreset(method="psi")]).run(current, reference)``
    on the same rows as pandas frames, in its own virtual environment
    (``bench/.venv-evidently``, created on first use: its pins clash with ours).
    Only ``run`` is timed, not reading the data.
(c) numpy: one process reads the partition's Parquet file with pyarrow and bins
    every column against the same decile edges (``np.searchsorted`` + ``np.bincount``),
    then PSI with the same formula (:func:`lakeops.monitor.stats.psi`).

Goals: (a) at least 10x faster than (b); (a) at most 2x (c); PSI of (a) equal to
(c) to 1e-9 for every column. Also reported: (a)'s seconds at 1, 2, 4 and 8
million rows. Medians of ``--repeats`` runs after a warm-up; results go to
``bench/results/drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "drift.json"
EVIDENTLY_VENV = HERE / ".venv-evidently"
MODEL = "bench_drift"
DAY = date(2024, 6, 1)
GOALS = {"vs_evidently": 10.0, "vs_numpy": 2.0, "psi_abs_diff": 1e-9}


def make_columns(rows: int, columns: int, seed: int, *, drifted: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(columns):
        kind = i % 3
        shift = drifted and i % 3 == 0
        if kind == 0:
            x = rng.lognormal(1.0 + (0.3 if shift else 0.0), 0.6, rows)
        elif kind == 1:
            x = rng.normal(50.0, 10.0 * (1.5 if drifted and i % 5 == 1 else 1.0), rows)
        else:
            x = rng.gamma(2.0, 3.0, rows)
        if i % 4 == 0:
            x[rng.random(rows) < 0.01] = np.nan
        out[f"f{i}"] = x
    return out


def frozen_bins(baseline: dict[str, np.ndarray]):
    """Decile edges and sketch grids of the baseline, the way training freezes them (numpy quantiles here)."""
    from lakeops.tally.counts import SKETCH_QUANTILES
    from lakeops.train.baselines import QUANTILES

    probs = sorted({*QUANTILES, *SKETCH_QUANTILES})
    deciles = [probs.index(q) for q in QUANTILES]
    psi, sketch = {}, {}
    for name, x in baseline.items():
        qs = np.nanquantile(x, probs)
        psi[name] = tuple(sorted({float(qs[i]) for i in deciles}))
        sketch[name] = tuple(sorted({float(q) for q in qs}))
    return psi, sketch


def build_lake(root: Path, baseline: dict[str, np.ndarray], currents: dict[date, dict[str, np.ndarray]], psi, sketch):
    """A lake with the baseline frozen for version 1 and one feature and prediction partition per day."""
    import pyarrow as pa

    from lakeops.config import FeaturesConfig, ModelConfig, SourcesConfig
    from lakeops.lake import TableSpec
    from lakeops.lake.embedded import EmbeddedLake
    from lakeops.lake.tables import BASELINE_SKETCHES, BASELINES, predictions_spec
    from lakeops.tally.bins import ColumnBins
    from lakeops.tally.counts import TallyPlan, merge, tally_batch
    from lakeops.train.baselines import baseline_tables

    names = list(baseline)
    lake = EmbeddedLake(None, root)  # writes below need no Spark
    score_base = np.random.default_rng(1).beta(2, 5, len(baseline[names[0]]))
    all_psi = {**psi, "score": tuple(np.quantile(score_base, np.linspace(0.1, 0.9, 9)))}
    all_sketch = {**sketch, "score": tuple(sorted(set(np.quantile(score_base, np.linspace(0.001, 0.999, 999)))
                                                  | set(all_psi["score"])))}
    plan = TallyPlan(numeric=all_sketch)
    table = pa.table({**{n: pa.array(x, from_pandas=True) for n, x in baseline.items()}, "score": score_base})
    tallies: dict = {}
    for batch in table.to_batches(max_chunksize=65_536):
        tallies = merge(tallies, tally_batch(batch, plan, [*names, "score"]))
    bins = [ColumnBins(n, "score" if n == "score" else "numeric", edges=all_psi[n]) for n in [*names, "score"]]
    frozen = baseline_tables(bins, plan, tallies, model_name=MODEL, model_version=1, ds_start=DAY, ds_end=DAY)
    where = {"model_name": [MODEL], "model_version": [1]}
    lake.overwrite_rows(frozen.bins, BASELINES, partitions=where)
    lake.overwrite_rows(frozen.sketches, BASELINE_SKETCHES, partitions=where)

    features = TableSpec(name=f"features.{MODEL}", partition_by=("ds",), schema=pa.schema(
        [("ds", pa.date32()), ("id", pa.int64()), *[(n, pa.float64()) for n in names]]))
    predictions = predictions_spec(MODEL, pa.schema([("id", pa.int64())]))
    for day, current in currents.items():
        n = len(current[names[0]])
        rows = pa.table({"ds": pa.repeat(pa.scalar(day, pa.date32()), n), "id": np.arange(n),
                         **{k: pa.array(v, from_pandas=True) for k, v in current.items()}})
        lake.overwrite_rows(rows, features, partitions={"ds": [day]})
        score = np.random.default_rng(2).beta(2.2, 5, n)
        lake.overwrite_rows(pa.table({"ds": rows["ds"], "model_name": pa.repeat(MODEL, n),
                                      "model_version": pa.repeat(pa.scalar(1, pa.int32()), n), "id": rows["id"],
                                      "score": score, "prediction": (score >= 0.5).astype(np.int32),
                                      "mlflow_run_id": pa.repeat("bench", n)}), predictions, partitions={"ds": [day]})
    return ModelConfig(name=MODEL, entity_keys=("id",), sources=SourcesConfig("raw.a", "raw.b"), label="y",
                       features=FeaturesConfig(sql="unused.sql", numeric=tuple(names)))


def run_lakeops(lake, model, day: date) -> float:
    from lakeops.monitor import monitor

    t0 = time.perf_counter()
    monitor(lake, model, days=[day])
    return time.perf_counter() - t0


def run_numpy(lake, day: date, psi: dict) -> tuple[float, dict[str, float]]:
    """One process: read the day's Parquet, bin every column on the decile edges, PSI."""
    from lakeops.lake.tables import BASELINES
    from lakeops.monitor.stats import psi as psi_of

    base = lake.read_arrow(BASELINES.name, where={"model_name": [MODEL]}).to_pandas()
    base = base[base.slice_key.isna()]
    reference = {c: g.assign(o=np.where(g.bin_index < 0, 1e9, g.bin_index)).sort_values("o")["count"].to_numpy()
                 for c, g in base.groupby("column_name")}
    t0 = time.perf_counter()
    table = lake.read_arrow(f"features.{MODEL}", where={"ds": [day]})  # the live Parquet files, with pyarrow
    found = {}
    for name, edges in psi.items():
        x = table.column(name).to_numpy()
        null = np.isnan(x)
        counts = np.bincount(np.searchsorted(np.asarray(edges), x[~null], side="left"), minlength=len(edges) + 1)
        found[name] = psi_of(reference[name], np.append(counts, null.sum()))
    return time.perf_counter() - t0, found


EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference = pd.read_parquet(sys.argv[1]); current = pd.read_parquet(sys.argv[2]); repeats = int(sys.argv[3])
runs = []
for _ in range(repeats + 1):
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset(method="psi")]).run(current, reference)
    runs.append(time.perf_counter() - t0)
print(json.dumps({"runs": runs[1:], "first": runs[0]}))
"""


def evidently_python() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.venv-evidently (Evidently 0.7, once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "evidently>=0.7,<0.8", "pandas<3", "pyarrow"], check=True)
    return python


def run_evidently(baseline: dict, current: dict, repeats: int, work: Path) -> dict:
    import pandas as pd

    ref, cur = work / "reference.parquet", work / "current.parquet"
    pd.DataFrame(baseline).to_parquet(ref)
    pd.DataFrame(current).to_parquet(cur)
    out = subprocess.run([str(evidently_python()), "-c", EVIDENTLY_SCRIPT, str(ref), str(cur), str(repeats)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--scale", default="1,2,4,8", help="millions of rows for the growth series")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args(argv)

    from lakeops.config import LakeConfig, load_settings
    from lakeops.lake import open_lake
    from lakeops.spark import get_session

    baseline = make_columns(args.rows, args.columns, 10, drifted=False)
    current = make_columns(args.rows, args.columns, 11, drifted=True)
    scale = [int(s) for s in args.scale.split(",") if s]
    # The growth series: the benchmark day itself for --rows, one more partition per other size.
    series = {DAY + timedelta(days=i + 1): int(m * 1_000_000) for i, m in enumerate(scale)
              if int(m * 1_000_000) != args.rows}
    psi, sketch = frozen_bins(baseline)
    results: dict = {"rows": args.rows, "columns": args.columns, "cores": os.cpu_count(), "goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="lakeops-drift-bench-") as tmp:
        work = Path(tmp)
        currents = {DAY: current, **{d: make_columns(n, args.columns, 100 + n // 1_000_000, drifted=True)
                                     for d, n in series.items()}}
        print(f"building the lake: baseline and {len(currents)} current partitions", flush=True)
        model = build_lake(work / "lake", baseline, currents, psi, sketch)
        spark = get_session(load_settings().spark)
        lake = open_lake(spark, LakeConfig(root=str(work / "lake")))

        run_lakeops(lake, model, DAY)  # warm-up: Python workers, the compiled tally kernel
        lakeops_runs = [run_lakeops(lake, model, DAY) for _ in range(args.repeats)]
        numpy_runs, numpy_psi = [], {}
        for _ in range(args.repeats + 1):
            seconds, numpy_psi = run_numpy(lake, DAY, psi)
            numpy_runs.append(seconds)
        numpy_runs = numpy_runs[1:]
        stored = lake.read_arrow("ml.drift_metrics", where={"model_name": [MODEL], "ds": [DAY]}).to_pandas()
        stored = stored[stored.slice_key.isna() & (stored.drift_type == "baseline")].set_index("column_name").psi
        diff = max(abs(stored[c] - numpy_psi[c]) for c in psi)
        results["lakeops"] = {"runs": lakeops_runs, "median": statistics.median(lakeops_runs)}
        results["numpy"] = {"runs": numpy_runs, "median": statistics.median(numpy_runs)}
        results["psi_max_abs_diff"] = diff

        growth = {args.rows: results["lakeops"]["median"]}
        for d, n in series.items():
            runs = [run_lakeops(lake, model, d) for _ in range(args.repeats)]
            growth[n] = statistics.median(runs)
            print(f"lakeops monitor at {n:>10,} rows: {growth[n]:.2f} s ({[round(r, 2) for r in runs]})", flush=True)
        results["growth"] = {str(n): s for n, s in growth.items()}
        if not args.skip_evidently:
            print("running Evidently 0.7 DataDriftPreset(method='psi') in its own environment", flush=True)
            results["evidently"] = run_evidently(baseline, current, args.repeats, work)
            results["evidently"]["median"] = statistics.median(results["evidently"]["runs"])

    lk, npy = results["lakeops"]["median"], results["numpy"]["median"]
    print(f"\n{args.columns} numeric columns x {args.rows:,} rows, {os.cpu_count()} cores")
    print(f"lakeops monitor (whole run)     {lk:7.2f} s  runs {[round(r, 2) for r in lakeops_runs]}")
    print(f"numpy pass (read + bins + PSI)  {npy:7.2f} s  -> lakeops / numpy = {lk / npy:.2f} (goal <= {GOALS['vs_numpy']})")
    if "evidently" in results:
        ev = results["evidently"]["median"]
        print(f"Evidently 0.7 DataDriftPreset   {ev:7.2f} s  -> Evidently / lakeops = {ev / lk:.1f}x "
              f"(goal >= {GOALS['vs_evidently']}x)")
    print(f"PSI max |lakeops - numpy| = {diff:.2e} (goal <= {GOALS['psi_abs_diff']})")
    sizes = sorted(growth)
    per_row = {n: growth[n] / n * 1e6 for n in sizes}
    print("growth: " + ", ".join(f"{n / 1e6:g}M {growth[n]:.2f} s ({per_row[n]:.3f} us/row)" for n in sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
