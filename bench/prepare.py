"""Prepare benchmark: ``lakeops prepare`` behind its quality gate, and the suites against GX's per-expectation way.

    .venv/bin/python bench/prepare.py [--hosts 2000] [--days 45] [--repeats 3]

The data: the demo's synthetic telemetry and incidents (``lakeops generate``) for
``--hosts`` hosts over ``--days`` days plus the 30 days of lookback before them,
in an embedded lake under a temporary folder; the demo's model (``incident_risk``)
and its two suites (15 raw and 9 feature expectations).

(a) :func:`lakeops.stages.run_prepare` for all ``--days`` days (90,000 rows at
    2,000 hosts), then for one day: the whole stage after Spark is up: reads,
    the raw suite, the feature SQL, the feature suite, the commit, ``ml.data_quality``
    and ``ml.feature_days``. Median of ``--repeats`` after one warm-up day.
(b) The suites alone on the same cached frames: lakeops's
    :func:`lakeops.data_quality.run_suite` (GX's verdicts with ``BOOLEAN_ONLY`` results,
    one counting aggregation, examples only where rows were unexpected) against
    the peer, one GX validation of the same expectations with ``SUMMARY`` results
    (examples collected per expectation: what lakeops did before). Both must
    give the same verdicts.

Goals: (a) 45 days <= 25 s and one day <= 5 s on 2 cores. Results go to
``bench/results/prepare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "prepare.json"
MODEL = "incident_risk"
FIRST = date(2024, 3, 1)
GOALS = {"range_seconds": 25.0, "day_seconds": 5.0}


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def suites_alone(lake, settings, days: list[date], repeats: int) -> dict[str, Any]:
    """(b): each suite on its cached frame, lakeops's way and GX's per-expectation way."""
    from lakeops.data_quality.expectations import PER_DS, ROWS, plan
    from lakeops.data_quality.runner import _in_order, _rows_per_ds, _validate, run_suite
    from lakeops.dates import date_range

    cfg = settings.model(MODEL)
    raw = lake.read(cfg.sources.observations, where={"ds": date_range(days[0], days[-1])}).cache()
    features = lake.read(f"features.{MODEL}", where={"ds": date_range(days[0], days[-1])}).cache()
    raw.count(), features.count()

    def peer(frame, suite):
        """Every expectation in one GX validation per batch with SUMMARY results."""
        planned = [plan(rule, last_ds=days[-1]) for rule in suite.expectations]
        verdicts = []
        for batch in (ROWS, PER_DS):
            items = [p for p in planned if p.batch == batch]
            target = frame if batch == ROWS else _rows_per_ds(frame, days, "ds")
            index = [c for c in ("ds", *cfg.entity_keys) if c in target.columns]
            result = _validate(target, items, name=f"peer_{suite.name}_{batch}", result_format={
                "result_format": "SUMMARY", "partial_unexpected_count": 5, "unexpected_index_column_names": index})
            verdicts += [bool(r.success) for r in _in_order(items, result)]
        return verdicts

    out: dict[str, Any] = {}
    for name, frame, suite in (("raw", raw, settings.suite(cfg.quality.raw)),
                               ("features", features, settings.suite(cfg.quality.features))):
        ours, theirs = [], []
        mine = peer_verdicts = None
        for _ in range(repeats + 1):
            started = time.perf_counter()
            result = run_suite(frame, suite, stage=name, days=days, index_columns=cfg.entity_keys)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            peer_verdicts = peer(frame, suite)
            theirs.append(time.perf_counter() - started)
            mine = [o.success for o in result.outcomes]
        out[name] = {"lakeops": statistics.median(ours[1:]), "gx_summary": statistics.median(theirs[1:]),
                     "expectations": len(suite.expectations), "same_verdicts": sorted(mine) == sorted(peer_verdicts)}
    raw.unpersist(), features.unpersist()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from lakeops import stages
    from lakeops.config import load_settings
    from lakeops.dates import date_range

    days = date_range(FIRST, FIRST + timedelta(days=args.days - 1))
    results: dict[str, Any] = {"hosts": args.hosts, "days": args.days, "cores": os.cpu_count(), "goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="lakeops-prepare-bench-") as tmp:
        settings = load_settings(lake_root=str(Path(tmp) / "lake"))
        lookback = settings.model(MODEL).features.lookback_days
        started = time.perf_counter()
        lake = stages.open_lake(settings)
        results["spark_start_seconds"] = time.perf_counter() - started
        print(f"generating {args.hosts:,} hosts x {args.days + lookback + 1} days", flush=True)
        stages.run_generate(settings, start=days[0] - timedelta(days=lookback), end=days[-1] + timedelta(days=1),
                            hosts=args.hosts)

        stages.run_prepare(settings, MODEL, days=[days[0]])  # warm-up: first jobs, Python workers
        ranges = [timed(lambda: stages.run_prepare(settings, MODEL, days=days)) for _ in range(args.repeats)]
        print(f"prepare {args.days} days: {[round(r, 2) for r in ranges]}", flush=True)
        singles = [timed(lambda d=d: stages.run_prepare(settings, MODEL, days=[d]))
                   for d in days[-args.repeats:]]
        print(f"prepare one day: {[round(r, 2) for r in singles]}", flush=True)
        results["range"] = {"runs": ranges, "median": statistics.median(ranges)}
        results["day"] = {"runs": singles, "median": statistics.median(singles)}
        results["suites"] = suites_alone(lake, settings, days, args.repeats)

    rng, day = results["range"]["median"], results["day"]["median"]
    print(f"\n{args.hosts:,} hosts, {os.cpu_count()} cores; Spark up in {results['spark_start_seconds']:.1f} s")
    print(f"prepare {args.days} days ({args.hosts * args.days:,} rows)  {rng:6.2f} s  (goal <= {GOALS['range_seconds']:g})")
    print(f"prepare one day                   {day:6.2f} s  (goal <= {GOALS['day_seconds']:g})")
    for name, s in results["suites"].items():
        print(f"{name} suite ({s['expectations']} expectations, {args.days} days): lakeops {s['lakeops']:.2f} s, "
              f"GX SUMMARY {s['gx_summary']:.2f} s -> {s['gx_summary'] / s['lakeops']:.1f}x; "
              f"same verdicts: {s['same_verdicts']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
