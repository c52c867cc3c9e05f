"""Write the small lakehouse that tests/upgrade opens with later releases, and pack it.

    .venv/bin/python scripts/make_lake_fixture.py tests/fixtures/lakes

Run it with the release whose lakehouse the fixture stands for (the one before a
contract change), never with the release that changes a contract: the point is
a lake written by the old code. It runs the demo's loop on a small world (300
hosts; training, a champion, three scored and monitored days with drift and
alerts judged) through the public entry points every release keeps
(``load_settings``, ``DemoPlan``, ``run_demo``), then packs the lake as
``lakeops-<version>.tar.gz`` with ``lakeops-<version>.json`` beside it (what made
it: version, commit, where it was written, what it holds).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from lakeops import __version__
from lakeops.config import load_settings
from lakeops.demo import DemoPlan, run_demo

#: Where the lake is written: MLflow's embedded store records absolute artifact locations,
#: so the fixture keeps the folder it was made in (``lakeops upgrade`` relocates them).
WHERE = Path("/tmp/lakeops-lake-fixture/lakehouse")
#: Left out of the pack: logs and rendered pages, which no later release reads back.
SKIP = ("_logs", "reports", "_reports")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for lakeops-<version>.tar.gz and .json")
    args = parser.parse_args()
    plan = DemoPlan(days=34, drift_day=33, drift_days=0, train_days=31, hosts=300, seed=7)
    if WHERE.exists():
        shutil.rmtree(WHERE)
    settings = load_settings(env="test", lake_root=str(WHERE))
    run_demo(settings, plan, out=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    pack = args.out / f"lakeops-{__version__}.tar.gz"
    with tarfile.open(pack, "w:gz", compresslevel=9) as tar:
        for path in sorted(WHERE.rglob("*")):
            rel = path.relative_to(WHERE)
            if rel.parts[0] in SKIP or not path.is_file():
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(f"lakehouse/{rel.as_posix()}")
            info.size, info.mtime, info.mode = len(data), int(path.stat().st_mtime), 0o644
            tar.addfile(info, io.BytesIO(data))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    manifest = {
        "lakeops_version": __version__,
        "commit": commit,
        "written_at": str(WHERE),
        "plan": {"days": plan.days, "drift_day": plan.drift_day, "drift_days": plan.drift_days,
                 "train_days": plan.train_days, "hosts": plan.hosts, "seed": plan.seed},
        "model": "incident_risk",
        "first_day": "2024-01-01",
        "last_day": plan.end.isoformat(),
    }
    (args.out / f"lakeops-{__version__}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{pack}: {pack.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
