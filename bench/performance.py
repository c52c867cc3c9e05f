"""Benchmark: lakeops's estimated (CBPE) and realised model quality against NannyML 0.13, in one run.

What is measured
----------------
Seeded numpy data: calibrated scores ``p ~ Beta(0.8, 6)``, labels ``y ~ Bernoulli(p)``,
a reference set (``--reference`` rows, 100k) and an analysis set of up to 8M rows;
the decision is ``p >= threshold``, the threshold the best F1 on the reference's
labels. Every size uses a prefix of the same analysis arrays, and both sides get
the same arrays (written once to an ``.npz`` file for NannyML).

(a) lakeops, in this project's environment, what a monitoring run does with N
    rows: the tasks' :func:`lakeops.evaluate.binary.tally` and
    ``to_cells``, then the driver's ``from_cells``, :func:`estimated` and
    :func:`realised` (one call over the N rows here; Spark tallies each batch
    and sums the cells, which adds up to the same histogram).
(b) NannyML 0.13 in its own virtual environment (``bench/.venv-nannyml``,
    created on first use: its pins clash with ours), as a subprocess that reads
    the ``.npz`` and answers JSON on stdout: ``CBPE(problem_type=
    'classification_binary', metrics=['roc_auc', 'f1'], chunk_number=1)``
    ``.fit(reference)`` then ``.estimate(analysis)`` (scores and decisions, no
    labels), and ``PerformanceCalculator(..., metrics=['roc_auc', 'f1'],
    chunk_number=1)`` ``.fit(reference)`` then ``.calculate(analysis)``. Fits
    are timed apart; the figure is estimate + calculate. CBPE fits an isotonic
    calibrator on the reference when that lowers the ECE of held-out folds
    (its ``needs_calibration``). On these already calibrated scores that is a
    coin flip of the seed (False for the default seed 7, True for seed 0), so
    which case happened is reported, and CBPE with ``calibrator=NoopCalibrator()``
    runs too: the like-for-like computation the expected values are compared with.

Best of ``--repeats`` (3) runs per side and size, after one untimed lakeops
warm-up. Goals: NannyML / lakeops at least 20x at 1M rows; at 1M rows the
expected AUC and F1 equal to NannyML's without calibration to 1e-3, and realised
AUC and F1 equal to NannyML's (scikit-learn's) to 1e-4 (lakeops's AUC ties
the rows of each of 10,000 score bins; its bound is printed). Also reported:
how each side's time grows from 1M to 8M rows (ratio per doubling). NannyML
is skipped at sizes above ``--nannyml-max-rows``, and at later sizes once one of
its runs took longer than ``--nannyml-budget`` seconds.

Figures go to stdout and to ``bench/results/performance.json`` (git-ignored).

Regression (``--problem regression``): Direct Loss Estimation
-------------------------------------------------------------
Seeded numpy data: four features ``x ~ U(0, 1)``, a prediction from a known
function of them, labels = the truth (the prediction plus a term the model
misses) + Gaussian noise whose sd grows with ``x0`` and ``x3``; a reference set
(``--reference`` rows, 100k) and an analysis set of ``--rows`` rows (1M) whose
``x0`` is shifted toward the noisy end (``Beta(3, 1)``), so the model's error
there is well above the reference's.

(a) lakeops: fit = :func:`lakeops.evaluate.regression.dle_inputs`,
    ``DirectLossEstimator.fit`` (two XGBoost nanny models, ``--threads``
    threads, default 1 as in a Spark task) and ``DleReference.from_residuals``
    on the reference; estimate = ``dle_inputs`` + ``predict`` + ``tally`` +
    ``estimated`` on the analysis rows.
(b) NannyML 0.13 (same environment as above): ``DLE(feature_column_names=...,
    y_pred, y_true, metrics=['mae', 'rmse'], chunk_number=1)`` ``.fit(reference)``
    then ``.estimate(analysis)`` without its labels (LightGBM nanny models with
    their defaults but ``n_jobs=--nannyml-threads``: 1 by default, like for
    like and steadier on a shared machine, where LightGBM's threads wait on
    each other; 0 keeps NannyML's default of every core).

Best of ``--repeats`` per side for fit and estimate, after one untimed
lakeops fit. Reported: both times, the ratios NannyML / lakeops, and each
side's estimated MAE and RMSE against the realised values of the analysis set;
with ``--accuracy-seeds K``, also each side's mean absolute error over K more
seeds (fresh reference and ``--accuracy-rows`` analysis rows each), since one
seed's errors are mostly the reference sample's luck. Goals: lakeops's
estimate at least 10x faster at 1M rows, and its errors no worse than
NannyML's. Figures go to ``bench/results/performance_regression.json``.

Multiclass (``--problem multiclass``): CBPE one-vs-rest
------------------------------------------------------
Seeded numpy data: four classes, calibrated probabilities (the softmax of
Gaussian logits with class offsets, so the classes differ in size), labels
drawn from them, the prediction the argmax; a reference set (``--reference``
rows, 100k) and an analysis set of ``--rows`` rows (1M). Both sides get the
same arrays, and the labels as class names.

(a) lakeops, what a monitoring run does: :func:`lakeops.evaluate.multiclass.label_indexes`
    on the label names, :func:`~lakeops.evaluate.multiclass.tally`, then
    :func:`~lakeops.evaluate.multiclass.estimated` and ``realised``.
(b) NannyML 0.13 (same environment as above): ``CBPE(problem_type=
    'classification_multiclass', y_pred_proba={class: column}, y_pred, y_true,
    metrics=['roc_auc', 'f1', 'precision', 'recall', 'accuracy'], chunk_number=1)``
    ``.fit(reference)`` then ``.estimate(analysis)`` without labels, and
    ``PerformanceCalculator`` with the same arguments ``.calculate(analysis)``.
    NannyML averages F1, precision and recall over the classes unweighted
    (macro), as lakeops's ``macro_*`` do. Its CBPE fits an isotonic
    calibrator per class where that lowers held-out ECE (reported per class);
    CBPE with ``calibrator=NoopCalibrator()`` runs too, and is what the
    expected values are compared with.

Best of ``--repeats`` per side after one untimed lakeops warm-up. Goals, as the
binary mode's: NannyML (estimate + calculate) / lakeops at least 20x at 1M rows,
the estimates (macro AUC, F1, precision, recall, accuracy) equal to NannyML's
without calibration to 1e-3, and the realised ones equal to NannyML's to 1e-4.
Figures go to ``bench/results/performance_multiclass.json``.

How to run
----------
``make bench`` runs the ``--quick`` smoke run (100k rows, no growth series);
the full run (about a minute once the NannyML environment exists)::

    .venv/bin/python bench/performance.py [--rows 1000000] [--scale 1,2,4,8] [--repeats 3] [--quick]
    .venv/bin/python bench/performance.py --problem regression [--rows 1000000] [--repeats 3] [--threads 1]
        [--nannyml-threads 1] [--accuracy-seeds 8] [--accuracy-rows 200000]
    .venv/bin/python bench/performance.py --problem multiclass [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "performance.json"
RESULTS_REGRESSION = HERE / "results" / "performance_regression.json"
RESULTS_MULTICLASS = HERE / "results" / "performance_multiclass.json"
NANNYML_VENV = HERE / ".venv-nannyml"
# statsmodels: NannyML 0.13.1 imports it (its joy plots) without declaring it; pandas < 3: 0.13 predates it.
NANNYML_REQUIREMENTS = ["nannyml==0.13.*", "statsmodels", "pandas<3"]
GOALS = {"vs_nannyml": 20.0, "estimated_abs_diff": 1e-3, "realised_abs_diff": 1e-4}
REGRESSION_GOALS = {"estimate_vs_nannyml": 10.0}


def make_data(reference_rows: int, analysis_rows: int, seed: int) -> dict[str, np.ndarray]:
    """Calibrated scores and labels drawn from them, a reference and an analysis set, with decisions."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("ref", reference_rows), ("ana", analysis_rows)):
        p = rng.beta(0.8, 6.0, n)
        out[f"{name}_p"] = p
        out[f"{name}_y"] = (rng.random(n) < p).astype(np.int8)
    threshold = best_f1_threshold(out["ref_p"], out["ref_y"])
    for name in ("ref", "ana"):
        out[f"{name}_d"] = (out[f"{name}_p"] >= threshold).astype(np.int8)
    out["threshold"] = np.array(threshold)
    return out


def best_f1_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The score whose decision ``p >= score`` has the best F1 on these labels."""
    order = np.argsort(p)[::-1]
    tp = np.cumsum(y[order])
    f1 = 2 * tp / (np.arange(1, p.size + 1) + tp[-1])  # 2TP / (2TP + FP + FN), the top k decided 1
    return float(p[order][np.argmax(f1)])


def run_lakeops(p: np.ndarray, d: np.ndarray, y: np.ndarray):
    """The tasks' tally and cells, the driver's sum and metrics; returns (seconds, estimated, realised)."""
    from lakeops.evaluate import binary

    t0 = time.perf_counter()
    cells = binary.to_cells(binary.tally(p, d, y))
    h = binary.from_cells(*cells)
    estimate, real = binary.estimated(h), binary.realised(h)
    return time.perf_counter() - t0, estimate, real


NANNYML_SCRIPT = r"""
import json, os, sys, time, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no usage analytics calls from inside the timings
warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": one chunk is the point
import numpy as np, pandas as pd
import nannyml as nml
from nannyml.calibration import NoopCalibrator

data = np.load(sys.argv[1])
sizes, repeats, budget = json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
cols = dict(y_pred_proba="p", y_pred="d", y_true="y", problem_type="classification_binary",
            metrics=["roc_auc", "f1"], chunk_number=1)
reference = pd.DataFrame({"p": data["ref_p"], "d": data["ref_d"], "y": data["ref_y"]})
analysis = pd.DataFrame({"p": data["ana_p"], "d": data["ana_d"], "y": data["ana_y"]})

def timed(f):
    t0 = time.perf_counter(); out = f(); return time.perf_counter() - t0, out

def best(f):
    runs = [timed(f) for _ in range(repeats)]
    return min(s for s, _ in runs), [round(s, 4) for s, _ in runs], runs[-1][1]

def values(result):
    row = result.filter(period="analysis").to_df(multilevel=False).iloc[-1]
    return {m: float(row[f"{m}_value"]) for m in ("roc_auc", "f1")}

out = {"version": nml.__version__, "fit": {}, "sizes": {}}
cbpe = nml.CBPE(**cols)
out["fit"]["cbpe"], _ = timed(lambda: cbpe.fit(reference))
out["needs_calibration"] = bool(cbpe.needs_calibration)
plain = nml.CBPE(**cols, calibrator=NoopCalibrator())
out["fit"]["cbpe_no_calibration"], _ = timed(lambda: plain.fit(reference))
calc = nml.PerformanceCalculator(**cols)
out["fit"]["calculator"], _ = timed(lambda: calc.fit(reference))
for n in sizes:
    scored, labelled = analysis[["p", "d"]].iloc[:n].copy(), analysis.iloc[:n].copy()
    est_s, est_runs, est = best(lambda: cbpe.estimate(scored))
    cal_s, cal_runs, cal = best(lambda: calc.calculate(labelled))
    raw_s, raw_runs, raw = best(lambda: plain.estimate(scored))
    out["sizes"][str(n)] = {"estimate": est_s, "calculate": cal_s, "estimate_no_calibration": raw_s,
                           "runs": {"estimate": est_runs, "calculate": cal_runs, "estimate_no_calibration": raw_runs},
                           "estimated": values(est), "realised": values(cal),
                           "estimated_no_calibration": values(raw)}
    print(f"  NannyML at {n:>10,} rows: estimate {est_s:.2f} s, calculate {cal_s:.2f} s, "
          f"estimate without calibration {raw_s:.2f} s", file=sys.stderr, flush=True)
    if max(est_runs + cal_runs + raw_runs) > budget:
        print(f"  NannyML: one run took over {budget:g} s, larger sizes skipped", file=sys.stderr, flush=True)
        out["stopped_after"] = n
        break
print(json.dumps(out))
"""


def nannyml_python() -> Path:
    """The benchmark's own NannyML environment, made on first use (a few minutes)."""
    python = NANNYML_VENV / "bin" / "python"
    stamp = NANNYML_VENV / ".installed"
    if not stamp.exists():
        print(f"setting up {NANNYML_VENV.relative_to(HERE.parent)} with {' '.join(NANNYML_REQUIREMENTS)} "
              "(once; a few minutes)", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(NANNYML_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--progress-bar", "off",
                        *NANNYML_REQUIREMENTS], check=True)
        stamp.touch()
        print("NannyML environment ready", flush=True)
    return python


def run_nannyml(data: dict[str, np.ndarray], sizes: list[int], repeats: int, budget: float, work: Path) -> dict:
    path = work / "data.npz"
    np.savez(path, **data)
    out = subprocess.run([str(nannyml_python()), "-c", NANNYML_SCRIPT, str(path), json.dumps(sizes), str(repeats),
                          str(budget)], stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="the size compared value by value")
    parser.add_argument("--scale", default="1,2,4,8", help="millions of rows for the growth series")
    parser.add_argument("--reference", type=int, default=100_000, help="rows of NannyML's reference set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nannyml-max-rows", type=int, default=8_000_000)
    parser.add_argument("--nannyml-budget", type=float, default=120.0,
                        help="seconds: after a NannyML run slower than this, larger sizes are skipped")
    parser.add_argument("--skip-nannyml", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100k rows, no growth series")
    parser.add_argument("--problem", choices=("binary", "regression", "multiclass"), default="binary",
                        help="binary: CBPE and realised metrics (the default); regression: DLE; multiclass: CBPE "
                             "one-vs-rest and realised metrics")
    parser.add_argument("--nannyml-threads", type=int, default=1,
                        help="regression: LightGBM's n_jobs in NannyML (1, like lakeops's side; 0: NannyML's "
                             "default, every core)")
    parser.add_argument("--accuracy-seeds", type=int, default=0,
                        help="regression: compare the estimates' errors over this many more seeds (errors only)")
    parser.add_argument("--accuracy-rows", type=int, default=200_000, help="regression: analysis rows per such seed")
    parser.add_argument("--threads", type=int, default=1,
                        help="regression: threads of lakeops's nanny models (1, as in a Spark task; LightGBM in "
                             "NannyML takes all cores)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.scale = 100_000, ""
    if args.problem == "regression":
        return main_regression(args)
    if args.problem == "multiclass":
        return main_multiclass(args)

    sizes = sorted({args.rows, *(int(float(m) * 1_000_000) for m in args.scale.split(",") if m)})
    print(f"data: {args.reference:,} reference rows, {max(sizes):,} analysis rows (seed {args.seed})", flush=True)
    data = make_data(args.reference, max(sizes), args.seed)
    threshold = float(data["threshold"])
    p, d, y = data["ana_p"], data["ana_d"], data["ana_y"]
    results: dict = {"reference_rows": args.reference, "threshold": threshold, "cores": os.cpu_count(),
                     "goals": GOALS, "lakeops": {}}

    run_lakeops(p[:100_000], d[:100_000], y[:100_000])  # warm-up: imports, first allocations
    lakeops_values = {}
    for n in sizes:
        runs = [run_lakeops(p[:n], d[:n], y[:n]) for _ in range(args.repeats)]
        seconds = min(r[0] for r in runs)
        lakeops_values[n] = (runs[-1][1], runs[-1][2])
        results["lakeops"][str(n)] = {"best": seconds, "runs": [round(r[0], 4) for r in runs]}
        print(f"  lakeops at {n:>10,} rows: {seconds:.3f} s ({[round(r[0], 3) for r in runs]})", flush=True)

    nml = None
    if not args.skip_nannyml:
        nml_sizes = [n for n in sizes if n <= args.nannyml_max_rows]
        print(f"running NannyML 0.13 (CBPE, PerformanceCalculator) in {NANNYML_VENV.name} at "
              f"{', '.join(f'{n:,}' for n in nml_sizes)} rows", flush=True)
        with tempfile.TemporaryDirectory(prefix="lakeops-performance-bench-") as tmp:
            nml = run_nannyml(data, nml_sizes, args.repeats, args.nannyml_budget, Path(tmp))
        results["nannyml"] = nml

    # --- the table -----------------------------------------------------------------------------------
    print(f"\nlakeops (tally + cells + estimated + realised) vs NannyML {nml['version'] if nml else '(skipped)'} "
          f"(CBPE.estimate + PerformanceCalculator.calculate), best of {args.repeats}, {os.cpu_count()} cores")
    print(f"{'rows':>11}  {'lakeops s':>9}  {'NannyML s':>9}  {'(estimate + calculate)':>22}  {'ratio':>6}  "
          f"{'no-calibration s':>16}  {'ratio':>6}")
    for n in sizes:
        lk = results["lakeops"][str(n)]["best"]
        row = f"{n:>11,}  {lk:9.3f}"
        s = nml["sizes"].get(str(n)) if nml else None
        if s:
            total, raw = s["estimate"] + s["calculate"], s["estimate_no_calibration"] + s["calculate"]
            parts = f"({s['estimate']:.2f} + {s['calculate']:.2f})"
            row += f"  {total:9.2f}  {parts:>22}  {total / lk:5.0f}x  {raw:16.2f}  {raw / lk:5.0f}x"
        else:
            row += f"  {'skipped':>9}"
        print(row)
    if nml and str(args.rows) in nml["sizes"]:
        s = nml["sizes"][str(args.rows)]
        ratio = (s["estimate"] + s["calculate"]) / results["lakeops"][str(args.rows)]["best"]
        results["ratio"] = ratio
        print(f"NannyML / lakeops at {args.rows:,} rows: {ratio:.1f}x (goal >= {GOALS['vs_nannyml']:g}x)"
              + ("" if ratio >= GOALS["vs_nannyml"] else "  NOT MET"))
    if nml:
        print(f"NannyML fits on {args.reference:,} reference rows (not in the ratio): CBPE {nml['fit']['cbpe']:.2f} s, "
              f"CBPE without calibration {nml['fit']['cbpe_no_calibration']:.2f} s, "
              f"calculator {nml['fit']['calculator']:.2f} s")

    # --- the values at --rows ------------------------------------------------------------------------
    from lakeops.evaluate.binary import expected_auc_rows

    n = args.rows
    est, real = lakeops_values[n]
    per_row_auc = expected_auc_rows(p[:n])
    print(f"\nvalues at {n:,} rows (threshold {threshold:.4f}, the best F1 on the reference)")
    values = {"lakeops": {"expected_auc": est.auc, "expected_f1": est.f1, "realised_auc": real.auc,
                          "realised_f1": real.f1, "expected_auc_bound": est.auc_bound,
                          "realised_auc_bound": real.auc_bound},
              "per_row_expected_auc": per_row_auc}
    print(f"  lakeops expected AUC {est.auc:.6f} (per-row CBPE {per_row_auc:.6f}, binning bound {est.auc_bound:.1e})")
    diffs = {}
    if nml and str(n) in nml["sizes"]:
        s = nml["sizes"][str(n)]
        calibrated = nml["needs_calibration"]
        values["nannyml"] = s
        print(f"  NannyML CBPE needs_calibration on the reference: {calibrated} "
              + ("(it fitted an isotonic calibrator and estimates from recalibrated scores)" if calibrated
                 else "(its calibration is a no-op)"))
        print(f"  {'':14}{'lakeops':>10}  {'NannyML':>10}  {'no-calibration':>14}  {'|diff|':>8}  {'goal':>6}")
        table = [("expected AUC", est.auc, s["estimated"]["roc_auc"], s["estimated_no_calibration"]["roc_auc"]),
                 ("expected F1", est.f1, s["estimated"]["f1"], s["estimated_no_calibration"]["f1"]),
                 ("realised AUC", real.auc, s["realised"]["roc_auc"], None),
                 ("realised F1", real.f1, s["realised"]["f1"], None)]
        for name, ours, theirs, raw in table:
            peer = theirs if raw is None else raw  # like for like: CBPE without recalibration
            goal = GOALS["realised_abs_diff" if raw is None else "estimated_abs_diff"]
            diffs[name] = abs(ours - peer)
            shown = "" if raw is None else f"{raw:.6f}"
            print(f"  {name:14}{ours:10.6f}  {theirs:10.6f}  {shown:>14}  "
                  f"{diffs[name]:8.1e}  {goal:6.0e}{'' if diffs[name] <= goal else '  NOT MET'}")
        if calibrated:
            print(f"  with NannyML's isotonic recalibration: expected AUC differs by "
                  f"{abs(est.auc - s['estimated']['roc_auc']):.1e}, F1 by {abs(est.f1 - s['estimated']['f1']):.1e}")
        print(f"  realised AUC binning bound (lakeops): {real.auc_bound:.1e}; "
              f"NannyML without calibration vs per-row CBPE AUC: "
              f"{abs(s['estimated_no_calibration']['roc_auc'] - per_row_auc):.1e}")
    results["values"], results["abs_diff"] = values, diffs

    # --- growth --------------------------------------------------------------------------------------
    if len(sizes) > 1:
        def per_doubling(times: dict[int, float]) -> str:
            ns = sorted(times)
            steps = [f"{times[b] / times[a]:.2f}" for a, b in zip(ns, ns[1:], strict=False)]
            return (", ".join(f"{k / 1e6:g}M {times[k]:.3f} s" for k in ns)
                    + f"; per step x{' x'.join(steps)}")
        lk_times = {k: results["lakeops"][str(k)]["best"] for k in sizes}
        print(f"\ngrowth, lakeops: {per_doubling(lk_times)}")
        if nml:
            nml_times = {int(k): v["estimate"] + v["calculate"] for k, v in nml["sizes"].items()}
            skipped = [k for k in sizes if k not in nml_times]
            print(f"growth, NannyML: {per_doubling(nml_times)}"
                  + (f" (skipped at {', '.join(f'{k / 1e6:g}M' for k in skipped)})" if skipped else ""))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {RESULTS}")
    return 0


# --- regression: Direct Loss Estimation ----------------------------------------------------------------

FEATURES = ["x0", "x1", "x2", "x3"]


def make_regression_data(reference_rows: int, analysis_rows: int, seed: int) -> dict[str, np.ndarray]:
    """Features, a model's prediction and labels with heteroscedastic noise; the analysis set's x0 shifted."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, n, shifted in (("ref", reference_rows, False), ("ana", analysis_rows, True)):
        x = rng.random((n, len(FEATURES)))
        if shifted:
            x[:, 0] = rng.beta(3.0, 1.0, n)  # toward the noisy end
        prediction = 2 * x[:, 0] + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3]
        truth = prediction + 0.3 * (x[:, 2] - 0.5)  # a term the model misses: error with a feature-dependent mean
        noise_sd = 0.1 + 0.8 * x[:, 0] + 0.4 * x[:, 3] ** 2
        out[f"{name}_x"] = x
        out[f"{name}_pred"] = prediction
        out[f"{name}_y"] = truth + rng.normal(0.0, 1.0, n) * noise_sd
    return out


def run_lakeops_regression(data: dict[str, np.ndarray], threads: int, repeats: int) -> dict:
    """DLE fit on the reference and estimate on the analysis rows, each best of ``repeats``."""
    from lakeops.evaluate import regression as reg

    def fit():
        residual = data["ref_pred"] - data["ref_y"]
        model = reg.DirectLossEstimator.fit(reg.dle_inputs(data["ref_x"], data["ref_pred"]), residual, seed=0,
                                            nthread=threads)
        return model, reg.DleReference.from_residuals(residual)

    def estimate(model, reference):
        est_abs, est_sq = model.predict(reg.dle_inputs(data["ana_x"], data["ana_pred"]), nthread=threads)
        unlabelled = np.full(est_abs.size, np.nan)  # as NannyML gets it: no labels
        return reg.estimated(reg.tally(prediction=data["ana_pred"], label=unlabelled, est_abs=est_abs,
                                       est_sq=est_sq), reference)

    def timed(f, *a):
        t0 = time.perf_counter()
        out = f(*a)
        return time.perf_counter() - t0, out

    fit()  # warm-up: imports, xgboost's first allocations
    fits = [timed(fit) for _ in range(repeats)]
    model, reference = fits[-1][1]
    estimates = [timed(estimate, model, reference) for _ in range(repeats)]
    est = estimates[-1][1]
    return {"fit": min(s for s, _ in fits), "estimate": min(s for s, _ in estimates),
            "runs": {"fit": [round(s, 4) for s, _ in fits], "estimate": [round(s, 4) for s, _ in estimates]},
            "threads": threads, "model_bytes": len(model.to_bytes()),
            "values": {"mae": est.mae, "rmse": est.rmse, "mae_lower": est.mae_lower, "mae_upper": est.mae_upper,
                       "rmse_lower": est.rmse_lower, "rmse_upper": est.rmse_upper}}


NANNYML_DLE_SCRIPT = r"""
import json, os, sys, time, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": one chunk is the point
import numpy as np, pandas as pd
import nannyml as nml

runs, threads = json.loads(sys.argv[1]), int(sys.argv[2])
# NannyML's default LightGBM nanny models (hyperparameters=None) take every core; n_jobs=k changes only that.
hyperparameters = {"n_jobs": threads} if threads > 0 else None

def timed(f):
    t0 = time.perf_counter(); out = f(); return time.perf_counter() - t0, out

out = {"version": nml.__version__, "runs": []}
for path, repeats in runs:
    data = np.load(path)
    features = [f"x{i}" for i in range(data["ref_x"].shape[1])]

    def frame(name, labels):
        df = pd.DataFrame(data[f"{name}_x"], columns=features)
        df["y_pred"] = data[f"{name}_pred"]
        if labels:
            df["y_true"] = data[f"{name}_y"]
        return df

    reference, analysis = frame("ref", True), frame("ana", False)
    new = lambda: nml.DLE(feature_column_names=features, y_pred="y_pred", y_true="y_true", metrics=["mae", "rmse"],
                          chunk_number=1, hyperparameters=hyperparameters)
    fits = [timed(lambda: new().fit(reference.copy())) for _ in range(repeats)]
    dle = fits[-1][1]
    estimates = [timed(lambda: dle.estimate(analysis.copy())) for _ in range(repeats)]
    row = estimates[-1][1].filter(period="analysis").to_df(multilevel=False).iloc[-1]
    values = {}
    for m in ("mae", "rmse"):
        values[m] = float(row[f"{m}_value"])
        for key, col in (("lower", "lower_confidence_boundary"), ("upper", "upper_confidence_boundary")):
            if f"{m}_{col}" in row.index and pd.notna(row[f"{m}_{col}"]):
                values[f"{m}_{key}"] = float(row[f"{m}_{col}"])
    out["runs"].append({"fit": min(s for s, _ in fits), "estimate": min(s for s, _ in estimates),
                        "runs": {"fit": [round(s, 4) for s, _ in fits],
                                 "estimate": [round(s, 4) for s, _ in estimates]},
                        "values": values})
print(json.dumps(out))
"""


def run_nannyml_regression(datasets: list[tuple[dict[str, np.ndarray], int]], threads: int, work: Path) -> dict:
    """NannyML's DLE on each ``(data, repeats)`` in one subprocess (one import of NannyML)."""
    runs = []
    for i, (data, repeats) in enumerate(datasets):
        path = work / f"regression-{i}.npz"
        np.savez(path, **data)
        runs.append([str(path), repeats])
    out = subprocess.run([str(nannyml_python()), "-c", NANNYML_DLE_SCRIPT, json.dumps(runs), str(threads)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def realised_regression(data: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    """The analysis set's realised MAE and RMSE, and their sampling sd at its size (delta method for RMSE)."""
    from lakeops.evaluate import regression as reg

    real = reg.realised(reg.tally(prediction=data["ana_pred"], label=data["ana_y"]))
    abs_e = np.abs(data["ana_pred"] - data["ana_y"])
    n = abs_e.size
    sd = {"mae": float(abs_e.std(ddof=1) / np.sqrt(n)),
          "rmse": float((abs_e**2).std(ddof=1) / np.sqrt(n) / (2 * real.rmse))}
    return {"mae": real.mae, "rmse": real.rmse}, sd


def main_regression(args: argparse.Namespace) -> int:
    from lakeops.evaluate import regression as reg

    n = args.rows
    load_before = os.getloadavg()[0]  # this machine may be shared: the timings are only as clean as it was idle
    print(f"regression data: {args.reference:,} reference rows, {n:,} analysis rows with x0 shifted "
          f"(seed {args.seed})", flush=True)
    data = make_regression_data(args.reference, n, args.seed)
    real, sampling = realised_regression(data)
    ref_real = reg.realised(reg.tally(prediction=data["ref_pred"], label=data["ref_y"]))
    # Both sides fit their nanny models on the same finite reference; the error that leaves in an estimate
    # is of the order of the reference MAE's own sampling sd.
    ref_sd = float(np.abs(data["ref_pred"] - data["ref_y"]).std(ddof=1) / np.sqrt(args.reference))
    results: dict = {"reference_rows": args.reference, "rows": n, "cores": os.cpu_count(), "seed": args.seed,
                     "load_average_before": load_before, "goals": REGRESSION_GOALS, "realised": {**real, "sampling_sd": sampling},
                     "reference_realised": {"mae": ref_real.mae, "rmse": ref_real.rmse, "mae_sampling_sd": ref_sd}}

    lk = run_lakeops_regression(data, args.threads, args.repeats)
    results["lakeops"] = lk
    print(f"  lakeops: fit {lk['fit']:.3f} s {lk['runs']['fit']}, estimate {lk['estimate']:.3f} s "
          f"{lk['runs']['estimate']} ({args.threads} thread{'s' if args.threads > 1 else ''})", flush=True)

    # The accuracy sweep: more seeds (reference and analysis drawn afresh), errors only.
    sweep_seeds = [args.seed + 1 + i for i in range(args.accuracy_seeds)]
    sweep = {s: make_regression_data(args.reference, args.accuracy_rows, s) for s in sweep_seeds}
    sweep_errors: dict[str, dict[str, list[float]]] = {"lakeops": {"mae": [], "rmse": []},
                                                       "nannyml": {"mae": [], "rmse": []}}
    for d in sweep.values():
        truth, _ = realised_regression(d)
        values = run_lakeops_regression(d, args.threads, 1)["values"]
        for m in ("mae", "rmse"):
            sweep_errors["lakeops"][m].append(values[m] - truth[m])

    nml = None
    nml_threads = "all cores" if args.nannyml_threads <= 0 else f"{args.nannyml_threads} thread(s)"
    if not args.skip_nannyml:
        print(f"running NannyML 0.13 DLE in {NANNYML_VENV.name} ({args.repeats} fits, {args.repeats} estimates, "
              f"LightGBM on {nml_threads}; then {len(sweep)} accuracy seeds)", flush=True)
        with tempfile.TemporaryDirectory(prefix="lakeops-performance-bench-") as tmp:
            out = run_nannyml_regression([(data, args.repeats), *((d, 1) for d in sweep.values())],
                                         args.nannyml_threads, Path(tmp))
        nml = {"version": out["version"], "threads": args.nannyml_threads, **out["runs"][0]}
        results["nannyml"] = nml
        for d, run in zip(sweep.values(), out["runs"][1:], strict=True):
            truth, _ = realised_regression(d)
            for m in ("mae", "rmse"):
                sweep_errors["nannyml"][m].append(run["values"][m] - truth[m])
        print(f"  NannyML: fit {nml['fit']:.3f} s {nml['runs']['fit']}, estimate {nml['estimate']:.3f} s "
              f"{nml['runs']['estimate']}", flush=True)

    print(f"\nDLE at {n:,} rows, reference {args.reference:,}, best of {args.repeats}, {os.cpu_count()} cores "
          f"(load average before: {load_before:.1f}): lakeops (XGBoost, {args.threads} thread"
          f"{'s' if args.threads > 1 else ''}) vs NannyML {nml['version'] if nml else '(skipped)'} "
          f"(LightGBM, {nml_threads})")
    print(f"  {'':10}{'fit s':>9}  {'estimate s':>10}")
    print(f"  {'lakeops':10}{lk['fit']:9.3f}  {lk['estimate']:10.3f}")
    if nml:
        ratios = {"fit": nml["fit"] / lk["fit"], "estimate": nml["estimate"] / lk["estimate"],
                  "total": (nml["fit"] + nml["estimate"]) / (lk["fit"] + lk["estimate"])}
        results["ratio"] = ratios
        print(f"  {'NannyML':10}{nml['fit']:9.3f}  {nml['estimate']:10.3f}")
        print(f"  {'ratio':10}{ratios['fit']:8.1f}x  {ratios['estimate']:9.1f}x   (fit + estimate: "
              f"{ratios['total']:.1f}x)")
        goal = REGRESSION_GOALS["estimate_vs_nannyml"]
        print(f"  NannyML / lakeops estimate: {ratios['estimate']:.1f}x (goal >= {goal:g}x)"
              + ("" if ratios["estimate"] >= goal else "  NOT MET"))

    print(f"\nvalues at seed {args.seed} (realised on the analysis labels; reference realised MAE {ref_real.mae:.4f} "
          f"+- {ref_sd:.4f}, RMSE {ref_real.rmse:.4f})")
    print(f"  {'':6}{'realised':>9}  {'+-1 sd':>7}  {'lakeops':>9}  {'|error|':>8}  {'NannyML':>9}  {'|error|':>8}  "
          f"{'lakeops band':>17}")
    errors: dict = {}
    for m in ("mae", "rmse"):
        ours = lk["values"][m]
        errors[m] = {"lakeops": abs(ours - real[m])}
        row = f"  {m.upper():6}{real[m]:9.4f}  {sampling[m]:7.4f}  {ours:9.4f}  {errors[m]['lakeops']:8.4f}"
        if nml:
            theirs = nml["values"][m]
            errors[m]["nannyml"] = abs(theirs - real[m])
            row += f"  {theirs:9.4f}  {errors[m]['nannyml']:8.4f}"
        else:
            row += f"  {'':9}  {'':8}"
        print(row + f"  [{lk['values'][f'{m}_lower']:.4f}, {lk['values'][f'{m}_upper']:.4f}]")
    if nml and all(k in nml["values"] for k in ("mae_lower", "mae_upper")):
        print(f"  NannyML MAE band [{nml['values']['mae_lower']:.4f}, {nml['values']['mae_upper']:.4f}]")
    results["abs_error"] = errors

    if sweep:
        print(f"\naccuracy over {len(sweep)} more seeds ({args.reference:,} reference rows, {args.accuracy_rows:,} "
              f"shifted analysis rows each): mean |error|, and lakeops's minus NannyML's +- 1 se "
              f"(signed errors in the JSON)")
        summary: dict = {}
        for m in ("mae", "rmse"):
            ours = float(np.mean(np.abs(sweep_errors["lakeops"][m])))
            summary[m] = {"lakeops": ours}
            row = f"  {m.upper():6}lakeops {ours:.4f}"
            if nml:
                theirs = float(np.mean(np.abs(sweep_errors["nannyml"][m])))
                # Paired by seed (both sides fit the same reference): worse only if lakeops's |error| is larger
                # by more than 2 standard errors of the mean paired difference.
                diff = np.abs(sweep_errors["lakeops"][m]) - np.abs(sweep_errors["nannyml"][m])
                se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("inf")
                no_worse = bool(diff.mean() <= 2 * se)
                summary[m].update(nannyml=theirs, paired_diff=float(diff.mean()), paired_diff_se=se, no_worse=no_worse)
                row += (f"  NannyML {theirs:.4f}  paired difference {diff.mean():+.5f} +- {se:.5f}"
                        + ("" if no_worse else "  WORSE"))
            print(row)
        results["accuracy_sweep"] = {"seeds": sweep_seeds, "rows": args.accuracy_rows, "mean_abs_error": summary,
                                     "errors": sweep_errors}

    RESULTS_REGRESSION.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_REGRESSION.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {RESULTS_REGRESSION}")
    return 0


# --- multiclass: CBPE one-vs-rest ------------------------------------------------------------------------

MULTICLASS_CLASSES = ("low", "medium", "high", "urgent")
MULTICLASS_GOALS = {"vs_nannyml": 20.0, "estimated_abs_diff": 1e-3, "realised_abs_diff": 1e-4}
#: lakeops's MulticlassQuality field -> NannyML's multiclass metric (both macro averages)
MULTICLASS_METRICS = {"auc": "roc_auc", "macro_f1": "f1", "macro_precision": "precision",
                      "macro_recall": "recall", "accuracy": "accuracy"}


def make_multiclass_data(reference_rows: int, analysis_rows: int, seed: int) -> dict[str, np.ndarray]:
    """Calibrated class probabilities, labels drawn from them and the argmax prediction (class indexes)."""
    rng = np.random.default_rng(seed)
    k = len(MULTICLASS_CLASSES)
    offsets = np.linspace(0.6, -0.6, k)  # classes of unequal size
    out: dict[str, np.ndarray] = {}
    for name, n in (("ref", reference_rows), ("ana", analysis_rows)):
        z = rng.normal(0.0, 1.5, (n, k)) + offsets
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        out[f"{name}_p"] = p
        out[f"{name}_y"] = np.minimum(y, k - 1).astype(np.int8)  # a cumulative sum a rounding below 1
        out[f"{name}_pred"] = p.argmax(axis=1).astype(np.int8)
    return out


def run_lakeops_multiclass(p: np.ndarray, label_names: np.ndarray):
    """Labels to indexes, the tally, the driver's metrics; returns (seconds by step, estimated, realised)."""
    from lakeops.evaluate import multiclass as mc

    t0 = time.perf_counter()
    labels = mc.label_indexes(label_names, MULTICLASS_CLASSES)
    t1 = time.perf_counter()
    t = mc.tally(probabilities=p, labels=labels)
    t2 = time.perf_counter()
    estimate, real = mc.estimated(t, MULTICLASS_CLASSES), mc.realised(t, MULTICLASS_CLASSES)
    t3 = time.perf_counter()
    # CBPE alone, as a day is estimated before any label arrives: NannyML's CBPE.estimate is the peer.
    mc.estimated(mc.tally(probabilities=p, labels=np.full(len(p), -1, dtype=np.int64)), MULTICLASS_CLASSES)
    t4 = time.perf_counter()
    return ({"labels": t1 - t0, "tally": t2 - t1, "metrics": t3 - t2, "total": t3 - t0, "cbpe": t4 - t3},
            estimate, real)


NANNYML_MULTICLASS_SCRIPT = r"""
import json, os, sys, time, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": one chunk is the point
import numpy as np, pandas as pd
import nannyml as nml
from nannyml.calibration import NoopCalibrator

data = np.load(sys.argv[1])
classes, repeats = json.loads(sys.argv[2]), int(sys.argv[3])
metrics = ["roc_auc", "f1", "precision", "recall", "accuracy"]
proba = {c: f"score_{c}" for c in classes}
cols = dict(y_pred_proba=proba, y_pred="y_pred", y_true="y_true", problem_type="classification_multiclass",
            metrics=metrics, chunk_number=1)
names = np.array(classes, dtype=object)

def frame(name, labels):
    df = pd.DataFrame({proba[c]: data[f"{name}_p"][:, k] for k, c in enumerate(classes)})
    df["y_pred"] = names[data[f"{name}_pred"]]
    if labels:
        df["y_true"] = names[data[f"{name}_y"]]
    return df

reference, scored, labelled = frame("ref", True), frame("ana", False), frame("ana", True)

def timed(f):
    t0 = time.perf_counter(); out = f(); return time.perf_counter() - t0, out

def best(f):
    runs = [timed(f) for _ in range(repeats)]
    return min(s for s, _ in runs), [round(s, 4) for s, _ in runs], runs[-1][1]

def values(result):
    row = result.filter(period="analysis").to_df(multilevel=False).iloc[-1]
    return {m: float(row[f"{m}_value"]) for m in metrics}

out = {"version": nml.__version__, "fit": {}}
cbpe = nml.CBPE(**cols)
out["fit"]["cbpe"], _ = timed(lambda: cbpe.fit(reference))
# Multiclass CBPE decides per class (its needs_calibration attribute is the binary case's only).
out["needs_calibration"] = {c: not isinstance(cal, NoopCalibrator) for c, cal in cbpe._calibrators.items()}
plain = nml.CBPE(**cols, calibrator=NoopCalibrator())
out["fit"]["cbpe_no_calibration"], _ = timed(lambda: plain.fit(reference))
calc = nml.PerformanceCalculator(**cols)
out["fit"]["calculator"], _ = timed(lambda: calc.fit(reference))
est_s, est_runs, est = best(lambda: cbpe.estimate(scored))
raw_s, raw_runs, raw = best(lambda: plain.estimate(scored))
cal_s, cal_runs, cal = best(lambda: calc.calculate(labelled))
out.update({"estimate": est_s, "estimate_no_calibration": raw_s, "calculate": cal_s,
            "runs": {"estimate": est_runs, "estimate_no_calibration": raw_runs, "calculate": cal_runs},
            "estimated": values(est), "estimated_no_calibration": values(raw), "realised": values(cal)})
print(json.dumps(out))
"""


def run_nannyml_multiclass(data: dict[str, np.ndarray], repeats: int, work: Path) -> dict:
    path = work / "multiclass.npz"
    np.savez(path, **data)
    out = subprocess.run([str(nannyml_python()), "-c", NANNYML_MULTICLASS_SCRIPT, str(path),
                          json.dumps(list(MULTICLASS_CLASSES)), str(repeats)],
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_multiclass(args: argparse.Namespace) -> int:
    from lakeops.evaluate.binary import expected_auc_rows

    n = args.rows
    load_before = os.getloadavg()[0]
    print(f"multiclass data: {len(MULTICLASS_CLASSES)} classes, {args.reference:,} reference rows, {n:,} analysis "
          f"rows (seed {args.seed})", flush=True)
    data = make_multiclass_data(args.reference, n, args.seed)
    p = data["ana_p"]
    label_names = np.array(MULTICLASS_CLASSES, dtype=object)[data["ana_y"]]  # as a label table gives them
    results: dict = {"reference_rows": args.reference, "rows": n, "classes": list(MULTICLASS_CLASSES),
                     "cores": os.cpu_count(), "seed": args.seed, "load_average_before": load_before,
                     "goals": MULTICLASS_GOALS}

    run_lakeops_multiclass(p[:100_000], label_names[:100_000])  # warm-up: imports, numba's first call
    runs = [run_lakeops_multiclass(p, label_names) for _ in range(args.repeats)]
    fastest = min(runs, key=lambda r: r[0]["total"])[0]
    cbpe = min(r[0]["cbpe"] for r in runs)
    est, real = runs[-1][1], runs[-1][2]
    lk = fastest["total"]
    results["lakeops"] = {"best": fastest, "cbpe_best": cbpe, "runs": [round(r[0]["total"], 4) for r in runs]}
    print(f"  lakeops: {lk:.3f} s (labels {fastest['labels']:.3f} + tally {fastest['tally']:.3f} + estimated "
          f"and realised {fastest['metrics']:.4f}; runs {[round(r[0]['total'], 3) for r in runs]}); CBPE alone "
          f"(tally without labels + estimated) {cbpe:.3f} s", flush=True)

    nml = None
    if not args.skip_nannyml:
        print(f"running NannyML 0.13 multiclass (CBPE, CBPE without calibration, PerformanceCalculator) in "
              f"{NANNYML_VENV.name} at {n:,} rows", flush=True)
        with tempfile.TemporaryDirectory(prefix="lakeops-performance-bench-") as tmp:
            nml = run_nannyml_multiclass(data, args.repeats, Path(tmp))
        results["nannyml"] = nml

    print(f"\nmulticlass at {n:,} rows, reference {args.reference:,}, best of {args.repeats}, {os.cpu_count()} cores "
          f"(load average before: {load_before:.1f}): lakeops (labels + tally + estimated + realised) vs NannyML "
          f"{nml['version'] if nml else '(skipped)'} (CBPE.estimate + PerformanceCalculator.calculate)")
    if nml:
        total, raw = nml["estimate"] + nml["calculate"], nml["estimate_no_calibration"] + nml["calculate"]
        results["ratio"] = {"total": total / lk, "no_calibration": raw / lk, "estimate_only": nml["estimate"] / lk,
                            "cbpe": nml["estimate_no_calibration"] / cbpe}
        goal = MULTICLASS_GOALS["vs_nannyml"]
        print(f"  NannyML: {total:.2f} s (estimate {nml['estimate']:.2f} + calculate {nml['calculate']:.2f}); "
              f"estimate without calibration {nml['estimate_no_calibration']:.2f} s")
        print(f"  NannyML / lakeops: {total / lk:.1f}x (goal >= {goal:g}x){'' if total / lk >= goal else '  NOT MET'}; "
              f"without calibration {raw / lk:.1f}x; CBPE.estimate alone vs all of lakeops {nml['estimate'] / lk:.1f}x")
        print(f"  CBPE alone, like for like (NannyML's estimate without recalibration vs lakeops's tally without "
              f"labels + estimated): {nml['estimate_no_calibration']:.2f} s vs {cbpe:.3f} s = "
              f"{nml['estimate_no_calibration'] / cbpe:.1f}x")
        print(f"  NannyML fits on {args.reference:,} reference rows (not in the ratio): CBPE {nml['fit']['cbpe']:.2f} s, "
              f"without calibration {nml['fit']['cbpe_no_calibration']:.2f} s, calculator "
              f"{nml['fit']['calculator']:.2f} s")
        recalibrated = [c for c, yes in nml["needs_calibration"].items() if yes]
        print(f"  NannyML CBPE needs_calibration per class on the reference: {nml['needs_calibration']} "
              + (f"(isotonic recalibration of {', '.join(recalibrated)})" if recalibrated else "(all no-ops)"))

    per_row_auc = float(np.mean([expected_auc_rows(p[:, k]) for k in range(p.shape[1])]))
    print(f"\nvalues at {n:,} rows (lakeops's expected macro AUC {est.auc:.6f}, per-row CBPE {per_row_auc:.6f}, "
          f"binning bound {est.auc_bound:.1e}; realised AUC binning bound {real.auc_bound:.1e})")
    values: dict = {"lakeops": {"estimated": {f: getattr(est, f) for f in MULTICLASS_METRICS},
                                "realised": {f: getattr(real, f) for f in MULTICLASS_METRICS},
                                "estimated_auc_bound": est.auc_bound, "realised_auc_bound": real.auc_bound},
                    "per_row_expected_auc": per_row_auc}
    diffs: dict = {"estimated": {}, "realised": {}}
    if nml:
        values["nannyml"] = {k: nml[k] for k in ("estimated", "estimated_no_calibration", "realised")}
        print(f"  {'':16}{'lakeops':>10}  {'NannyML':>10}  {'no-calib.':>10}  {'|diff|':>8}  {'goal':>6}    "
              f"{'realised':>10}  {'NannyML':>10}  {'|diff|':>8}  {'goal':>6}")
        est_goal, real_goal = MULTICLASS_GOALS["estimated_abs_diff"], MULTICLASS_GOALS["realised_abs_diff"]
        for field, metric in MULTICLASS_METRICS.items():
            ours, theirs, raw = getattr(est, field), nml["estimated"][metric], nml["estimated_no_calibration"][metric]
            mine, truth = getattr(real, field), nml["realised"][metric]
            diffs["estimated"][field] = abs(ours - raw)  # like for like: CBPE without recalibration
            diffs["realised"][field] = abs(mine - truth)
            print(f"  {field:16}{ours:10.6f}  {theirs:10.6f}  {raw:10.6f}  {diffs['estimated'][field]:8.1e}  "
                  f"{est_goal:6.0e}{'' if diffs['estimated'][field] <= est_goal else ' NOT MET':4}  "
                  f"{mine:10.6f}  {truth:10.6f}  {diffs['realised'][field]:8.1e}  {real_goal:6.0e}"
                  f"{'' if diffs['realised'][field] <= real_goal else '  NOT MET'}")
        if any(nml["needs_calibration"].values()):
            gaps = {f: abs(getattr(est, f) - nml["estimated"][m]) for f, m in MULTICLASS_METRICS.items()}
            print("  with NannyML's isotonic recalibration the estimates differ by "
                  + ", ".join(f"{f} {g:.1e}" for f, g in gaps.items()))
    results["values"], results["abs_diff"] = values, diffs

    RESULTS_MULTICLASS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_MULTICLASS.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {RESULTS_MULTICLASS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
