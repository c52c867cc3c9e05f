"""Alerts on small and large fleets: what fires before the injected drift, and when the drift is caught.

    .venv/bin/python bench/alert_noise.py --hosts 300 [--models incident_risk,latency_forecast,incident_kind]
    .venv/bin/python bench/alert_noise.py --hosts 3000

Builds a lake in a temporary folder through :mod:`lakeops.stages` (as
``bench/drift_noise.py`` does): raw data with a month of history, features for
every day, each model trained on the first ``--train-days`` days (two weeks, as a
new user starts) and promoted, every later day scored and monitored with the
models' own alert rules. Drift begins on ``--drift-day``. Then it reads
``ml.alerts`` and ``ml.drift_metrics``.

Reported per model:

- every rule that was ``firing`` on a day before the drift began (goal: none but
  ``data_quality``);
- the share of stationary column-days (features that no injected drift touches,
  whole population and slices, baseline and consecutive drift) whose status is not
  ``ok``, PSI and null rate together (goal: at most 0.1 %);
- for each rule, the first day it fired on or after the drift began, and for each
  drifted column the first day its whole-population baseline drift reached
  ``alert`` (goal: no later than the release before; compare two result files with
  ``--compare``).

Results go to ``bench/results/alert_noise_<hosts>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START = date(2024, 1, 1)
HISTORY_DAYS = 31
GOAL_NOT_OK = 0.001
MODELS = ("incident_risk", "latency_forecast", "incident_kind")


def build(lake_root: Path, *, models: list[str], hosts: int, days: int, train_days: int, drift_day: int,
          seed: int):
    from lakeops import stages
    from lakeops.config import load_settings
    from lakeops.dates import date_range

    overrides = [f"models.{m}.train.search.trials=1" for m in models]
    settings = load_settings(conf_dir=ROOT / "conf", lake_root=str(lake_root), overrides=overrides)
    end = START + timedelta(days=days - 1)
    train_ds = START + timedelta(days=train_days - 1)
    drift_start = START + timedelta(days=drift_day - 1)
    monitored = date_range(train_ds + timedelta(days=1), end)
    seconds: dict[str, float] = {}

    def step(name: str, fn) -> None:
        started = time.monotonic()
        fn()
        seconds[name] = round(time.monotonic() - started, 1)
        print(f"  {name:<28} {seconds[name]:7.1f}s", flush=True)

    step("generate", lambda: stages.run_generate(settings, start=START - timedelta(days=HISTORY_DAYS), end=end,
                                                 hosts=hosts, seed=seed, drift_start=drift_start))
    for m in models:
        step(f"{m} prepare", lambda m=m: stages.run_prepare(settings, m, days=date_range(START, end)))
        step(f"{m} train", lambda m=m: stages.run_train(settings, m, ds=train_ds))
        step(f"{m} validate", lambda m=m: stages.run_validate(settings, m, ds=train_ds))
        step(f"{m} score", lambda m=m: stages.run_score(settings, m, days=monitored))
        step(f"{m} monitor", lambda m=m: stages.run_monitor(settings, m, days=monitored))
        step(f"{m} alerts", lambda m=m: stages.run_alerts(settings, m, days=monitored))
    lake = stages.open_lake(settings)
    alerts = lake.read_arrow("ml.alerts").to_pandas()
    drift = lake.read_arrow("ml.drift_metrics").to_pandas()
    return settings, alerts, drift, drift_start, seconds


def analyse(alerts, drift, drift_start: date, models: list[str]) -> dict:
    from lakeops.constants import OUTPUT_COLUMN_TYPES
    from lakeops.synth.synth import DRIFTS

    roots = [name for name, _, _ in DRIFTS]
    out: dict = {}
    for model in models:
        a = alerts[alerts.model_name == model]
        d = drift[drift.model_name == model]
        firing = a[a.state == "firing"]
        early = firing[firing.ds < drift_start]
        early_rules = sorted({f"{r.rule}{'' if r.slice_key is None else f' [{r.slice_key}={r.slice_value}]'}"
                              f" {r.ds}" for r in early.itertuples()})
        early_bad = sorted({r.rule for r in early.itertuples() if r.kind != "data_quality"})
        first_firing = {rule: str(g[g.ds >= drift_start].ds.min()) for rule, g in firing.groupby("rule")}
        drifted = sorted({c for c in d.column_name.unique() if any(c.startswith(r) for r in roots)})
        stationary = d[~d.column_name.isin(drifted) & ~d.column_type.isin(list(OUTPUT_COLUMN_TYPES))]
        not_ok = stationary[stationary.status != "ok"]
        before = stationary[stationary.ds < drift_start]
        first_alert = {}
        for column in drifted:
            whole = d[(d.column_name == column) & d.slice_key.isna() & (d.drift_type == "baseline")]
            first_alert[column] = str(whole[whole.status == "alert"].ds.min())
        out[model] = {
            "firing_before_drift": early_rules,
            "rules_firing_before_drift_not_data_quality": early_bad,
            "stationary_column_days": len(stationary),
            "stationary_not_ok": len(not_ok),
            "stationary_not_ok_rate": round(len(not_ok) / max(1, len(stationary)), 5),
            "stationary_not_ok_rate_before_drift": round(float((before.status != "ok").mean()), 5)
            if len(before) else None,
            "first_firing_after_drift": first_firing,
            "first_alert_per_drifted_column": first_alert,
            "not_ok_examples": not_ok[["ds", "column_name", "drift_type", "slice_value", "n_current", "psi",
                                       "psi_noise_floor", "null_rate_current", "null_rate_baseline", "status"]]
            .astype({"ds": str}).head(20).to_dict(orient="records"),
        }
    return out


def compare(before: dict, after: dict) -> list[str]:
    """Where ``after`` catches a drift later than ``before`` (rule first firing, column first alert)."""
    later = []
    for model, b in before["models"].items():
        a = after["models"].get(model, {})
        for kind in ("first_firing_after_drift", "first_alert_per_drifted_column"):
            for name, day in b[kind].items():
                now = a.get(kind, {}).get(name, "NaT")
                if day != "NaT" and (now == "NaT" or now > day):
                    later.append(f"{model} {name}: {day} -> {now}")
    return later


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--train-days", type=int, default=14)
    parser.add_argument("--drift-day", type=int, default=35)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path, help="an earlier result file: report what is caught later now")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    if not args.train_days < args.drift_day <= args.days:
        parser.error("need --train-days < --drift-day <= --days")
    out = args.out or HERE / "results" / f"alert_noise_{args.hosts}.json"
    logging.basicConfig(level=logging.ERROR)
    print(f"{args.hosts} hosts, {args.days} days (train on {args.train_days}, drift from day {args.drift_day})")
    with tempfile.TemporaryDirectory(prefix="lakeops-alert-noise-") as tmp:
        _, alerts, drift, drift_start, seconds = build(
            Path(tmp) / "lake", models=models, hosts=args.hosts, days=args.days, train_days=args.train_days,
            drift_day=args.drift_day, seed=args.seed)
        result = {"hosts": args.hosts, "days": args.days, "train_days": args.train_days, "drift_start":
                  str(drift_start), "seed": args.seed, "seconds": seconds,
                  "models": analyse(alerts, drift, drift_start, models)}
    met = True
    for model, r in result["models"].items():
        print(f"\n{model}:")
        print(f"  firing before the drift: {', '.join(r['firing_before_drift']) or 'nothing'}")
        print(f"  stationary column-days not ok: {r['stationary_not_ok']} of {r['stationary_column_days']} "
              f"({r['stationary_not_ok_rate']:.3%}; goal <= {GOAL_NOT_OK:.1%})")
        print("  first firing on or after the drift: " + ", ".join(
            f"{k} {v}" for k, v in sorted(r["first_firing_after_drift"].items())))
        print("  first alert drift per drifted column: " + ", ".join(
            f"{k} {v}" for k, v in sorted(r["first_alert_per_drifted_column"].items())))
        met &= not r["rules_firing_before_drift_not_data_quality"] and r["stationary_not_ok_rate"] <= GOAL_NOT_OK
    if args.compare:
        later = compare(json.loads(args.compare.read_text()), result)
        result["caught_later_than"] = {"file": args.compare.name, "later": later}
        print(f"\ncaught later than {args.compare.name}: {', '.join(later) or 'nothing'}")
        met &= not later
    result["goals_met"] = met
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\ngoals {'met' if met else 'NOT met'}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
