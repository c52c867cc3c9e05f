"""A year on a small lake: the daily cycle for 365 days, with weekly maintenance and without.

    .venv/bin/python bench/soak.py [--days 365] [--hosts 100] [--no-maintenance] [--lake DIR]

Builds a lakehouse the way ``lakeops demo`` starts one (a month of history, features
behind the quality gate, a champion trained and promoted), then runs the daily cycle
of the daily DAG for ``--days`` days in this process (:func:`lakeops.demo.daily_cycle`:
the day's raw data, prepare it and the day before whose labels arrived, score,
monitor and judge the alert rules), and ``lakeops maintain`` every 7th day unless
``--no-maintenance``. No drift is injected: a year of the same world, so any growth
in the figures is the lake's, not the data's.

Figures on days 1, 30, 90, 180 and 365 (those within ``--days``):

- the day's wall time (the whole cycle);
- the time to open every table's latest snapshot and list its files (what every read
  and write does first; the fastest of three), summed over the tables, and the slowest table's;
- data files over all tables, their partitions and the most files any partition has;
- JSON log entries over all tables (on disk, and read when opening: those after each
  table's last checkpoint);
- the memory of this process and its Spark JVM (resident now, and the peak so far).

Goal (docs/reliability.md R31): with maintenance, day 365 within 1.2x of day 30 on
every figure but the row count. Results go to ``bench/results/soak[-no-maintenance].json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lakeops import logs, stages  # noqa: E402
from lakeops.config import load_settings  # noqa: E402
from lakeops.dates import date_range  # noqa: E402
from lakeops.demo import MODEL, daily_cycle  # noqa: E402
from lakeops.lake.snapshot import log_entries, open_snapshot, table_names  # noqa: E402
from lakeops.lake.storage import storage_for  # noqa: E402

START = date(2024, 1, 1)
HISTORY_DAYS = 31
TRAIN_DAYS = 31
SEED = 11
MARKS = (1, 30, 90, 180, 365)
MAINTAIN_EVERY = 7
OPEN_REPEATS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365, help="days of the daily cycle (default 365)")
    parser.add_argument("--hosts", type=int, default=100, help="fleet size (default 100)")
    parser.add_argument("--no-maintenance", action="store_true", help="never run lakeops maintain")
    parser.add_argument("--lake", type=Path, help="where the lakehouse goes (default: a folder under /tmp)")
    parser.add_argument("--out", type=Path, help="the JSON results (default: bench/results/soak[...].json)")
    args = parser.parse_args()
    maintained = not args.no_maintenance
    lake_root = args.lake or Path(f"/tmp/lakeops-soak-{'maintained' if maintained else 'unmaintained'}/lakehouse")
    if lake_root.exists():
        shutil.rmtree(lake_root)
    out = args.out or ROOT / "bench" / "results" / f"soak{'' if maintained else '-no-maintenance'}.json"
    settings = load_settings(conf_dir=ROOT / "conf", env="test", lake_root=str(lake_root),
                             overrides=["maintenance.vacuum_retention_hours=0"])
    logs.configure(-1, redirect=True)
    logs.redirect_chatter(settings.lake.root)

    train_ds = START + timedelta(days=TRAIN_DAYS - 1)
    say(f"soak: {args.days} days, {args.hosts} hosts, maintenance {'weekly' if maintained else 'never'}, "
        f"lakehouse {lake_root}")
    t0 = time.monotonic()
    stages.run_generate(settings, start=START - timedelta(days=HISTORY_DAYS), end=train_ds, hosts=args.hosts, seed=SEED)
    stages.run_prepare(settings, MODEL, days=date_range(START, train_ds))
    stages.run_train(settings, MODEL, ds=train_ds)
    stages.run_validate(settings, MODEL, ds=train_ds)
    say(f"set up (history, features, a champion) in {time.monotonic() - t0:.0f} s")

    marks = [m for m in MARKS if m <= args.days]
    figures: dict[int, dict] = {}
    maintenance_s = []
    for i in range(1, args.days + 1):
        day = train_ds + timedelta(days=i)
        started = time.monotonic()
        daily_cycle(settings, MODEL, day, hosts=args.hosts, seed=SEED)
        cycle_s = time.monotonic() - started
        if maintained and i % MAINTAIN_EVERY == 0:
            started = time.monotonic()
            stages.run_maintain(settings, ds=day)
            maintenance_s.append(time.monotonic() - started)
        if i in marks:
            figures[i] = {"day": day.isoformat(), "cycle_s": round(cycle_s, 2), **measure(settings.lake.root)}
            write(out, {"days": i, "of": args.days, "hosts": args.hosts, "maintenance": maintained, "figures": figures})
            f = figures[i]
            say(f"day {i:>3} ({day}): cycle {f['cycle_s']:.1f} s, open {f['open_s_total']:.3f} s (slowest "
                f"{f['open_s_max']:.3f} s, {f['open_slowest']}), {f['files']} files, log {f['log_on_disk']} "
                f"entries ({f['log_replayed']} read at open), RSS {f['rss_mb']:.0f} MB (peak {f['peak_mb']:.0f} MB), "
                f"{f['rows']:,} rows")
        elif i % 10 == 0:
            say(f"day {i:>3} ({day}): cycle {cycle_s:.1f} s")
    result = {
        "days": args.days, "hosts": args.hosts, "maintenance": maintained, "figures": figures,
        "maintenance_s_median": round(statistics.median(maintenance_s), 2) if maintenance_s else None,
        "total_s": round(time.monotonic() - t0, 1),
    }
    if 30 in figures and args.days in figures and args.days != 30:
        first, last = figures[30], figures[args.days]
        result["ratio_last_to_day_30"] = {k: round(last[k] / first[k], 2) if first[k] else None
                                          for k in ("cycle_s", "open_s_total", "open_s_max", "files", "log_on_disk",
                                                    "max_files_per_partition", "log_replayed", "rss_mb", "peak_mb",
                                                    "rows") if k in first and k in last}
        say("day {} / day 30: {}".format(args.days, ", ".join(f"{k} {v}x" for k, v in
                                                               result["ratio_last_to_day_30"].items())))
    write(out, result)
    say(f"done in {result['total_s']:.0f} s; results in {out}")
    return 0


def write(out: Path, result: dict) -> None:
    """The results so far (a long run that is stopped keeps the marks it reached)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def measure(root: str) -> dict:
    """Open every table as a job does (log replay, file list), count its files, log entries and rows."""
    storage = storage_for(root)
    opens, files, on_disk, replayed, rows, partitions, most = {}, 0, 0, 0, 0, 0, 0
    for name in table_names(storage):
        times = []
        for _ in range(OPEN_REPEATS):  # the fastest of a few: a busy machine only ever adds time
            started = time.perf_counter()
            snap = open_snapshot(storage, name)
            live = snap.files()
            times.append(time.perf_counter() - started)
        opens[name] = min(times)
        files += len(live)
        per_partition: dict[tuple, int] = {}
        for f in live:
            key = tuple(f.partition.values())
            per_partition[key] = per_partition.get(key, 0) + 1
        partitions += len(per_partition)
        most = max(most, *per_partition.values(), 0)
        rows += sum(f.stats.get("num_records") or 0 for f in live)
        entries, read_at_open = log_entries(storage, snap.uri)
        on_disk += entries
        replayed += read_at_open
    slowest = max(opens, key=opens.get)
    rss, peak = memory_mb()
    return {"open_s_total": round(sum(opens.values()), 4), "open_s_max": round(opens[slowest], 4),
            "open_slowest": slowest, "tables": len(opens), "files": files, "partitions": partitions,
            "max_files_per_partition": most, "log_on_disk": on_disk,
            "log_replayed": replayed, "rss_mb": round(rss, 1), "peak_mb": round(peak, 1), "rows": rows}


def memory_mb() -> tuple[float, float]:
    """Resident and peak memory (MB) of this process and its children (the Spark driver JVM)."""
    import os

    def status(pid: int) -> dict[str, float]:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return {}
        return {k: float(v.split()[0]) / 1024 for k, _, v in (line.partition(":") for line in text.splitlines())
                if k in ("VmRSS", "VmHWM")}

    pids = [os.getpid()]
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    found = [status(p) for p in pids]
    return sum(s.get("VmRSS", 0) for s in found), sum(s.get("VmHWM", 0) for s in found)


def say(line: str) -> None:
    print(line, file=logs.terminal(), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
