"""A lakehouse written by an earlier release opens, upgrades and runs on with today's code (R28, R29).

Each release that changed a table contract left a small lakehouse under
``tests/fixtures/lakes/`` (``scripts/make_lake_fixture.py``, run with that release's
code): 300 hosts, a champion and a retrained version, three scored and monitored days
with drift and alerts judged. For each: a job refuses it (before Spark starts), ``lakeops
upgrade`` lists and applies the changes (again: nothing), two more days run the daily
cycle, and then no row of an old partition was lost or changed, the old champion scored
the new days, and every ``sql/queries`` file runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from lakeops import __version__, registry, stages
from lakeops.cli import main
from lakeops.config import load_settings
from lakeops.demo import DemoPlan, daily_cycle
from lakeops.lake.catalog import table_changes
from lakeops.lake.evolution import OutdatedTableError
from lakeops.lake.snapshot import open_snapshot, table_names
from lakeops.lake.storage import storage_for
from lakeops.lake.tables import contracts
from lakeops.sql import query

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "lakes"
QUERIES = PROJECT / "sql" / "queries"
MANIFESTS = sorted(FIXTURES.glob("lakeops-*.json"))


def test_there_is_a_fixture_of_the_release_before_each_contract_change():
    """Contract version 2 of ml.job_runs came with 0.2.0: the 0.1.0 lake is the one before it; 0.3.0's
    contract changes (the regression columns, the gate's checks) have the 0.2.0 lake; 0.4.0's (the
    multiclass columns, the incidents' kind) the 0.3.0 lake."""
    assert [json.loads(m.read_text())["lakeops_version"] for m in MANIFESTS] == ["0.1.0", "0.2.0", "0.3.0"]
    for manifest in MANIFESTS:
        assert (FIXTURES / f"{manifest.stem}.tar.gz").is_file()


def _extract(manifest: Path, into: Path) -> tuple[dict, Path]:
    meta = json.loads(manifest.read_text())
    with tarfile.open(FIXTURES / f"{manifest.stem}.tar.gz") as tar:
        tar.extractall(into, filter="data")
    return meta, into / "lakehouse"


def _partitions(root: Path, columns: dict[str, list[str]] | None = None) -> dict[tuple[str, tuple], tuple[int, str]]:
    """Every table's rows per partition, as ``fp``: row count and a hash of their columns at the time, or of
    ``columns[table]`` (an old release's columns: an upgrade adds null columns, and that is no change)."""
    storage = storage_for(str(root))
    found = {}
    for name in table_names(storage):
        snap = open_snapshot(storage, name)
        rows = snap.read_arrow()
        if columns is not None and name in columns:
            rows = rows.select(columns[name])
        cols = list(snap.spec.partition_by)
        for key in {tuple(r[c] for c in cols) for r in rows.select(cols).to_pylist()} if cols else {()}:
            part = rows
            for c, v in zip(cols, key, strict=True):
                part = part.filter(pa.compute.equal(part[c], pa.scalar(v, part.schema.field(c).type)))
            found[(name, key)] = _fp(part)
    return found


def _fp(table: pa.Table) -> tuple[int, str]:
    rows = sorted(json.dumps(r, default=str, sort_keys=True) for r in table.to_pylist())
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _query_params(text: str, values: dict) -> dict:
    used = set(re.findall(r"(?<![:\w]):([a-z_]+)\b", re.sub(r"--[^\n]*", "", text)))
    return {k: v for k, v in values.items() if k in used}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: m.stem)
def test_an_older_lakehouse_is_upgraded_in_place_and_runs_on(manifest, tmp_path, spark, capsys):
    meta, root = _extract(manifest, tmp_path)
    settings = load_settings(conf_dir=PROJECT / "conf", env="test", lake_root=str(root))
    model = meta["model"]
    plan = DemoPlan(**meta["plan"])
    last = date.fromisoformat(meta["last_day"])
    old = _partitions(root)
    old_columns = {name: open_snapshot(storage_for(str(root)), name).read_arrow().schema.names
                   for name in table_names(storage_for(str(root)))}

    # 1. Every job refuses the lake, before Spark, naming the command.
    with pytest.raises(OutdatedTableError, match="run `lakeops upgrade`"):
        stages.run_score(settings, model, days=[last])
    args = ["--conf", str(PROJECT / "conf"), "--env", "test", "--lake", str(root)]
    assert main([*args, "score", "--model", model, "--ds", str(last)]) == 3

    # 2. The upgrade: listed, applied, then nothing left to do.
    assert main([*args, "upgrade", "--dry-run"]) == 0
    listing = capsys.readouterr().out
    if meta["lakeops_version"] == "0.1.0":
        assert "ml.job_runs: add column(s) lakeops_version (string); record contract v2" in listing
    if meta["lakeops_version"] < "0.3.0":  # 0.3.0: the gate's checks and the regression columns
        assert "ml.model_validations: add column(s) problem_type (string), checks (" in listing
        assert "ml.performance_metrics: add column(s) mae (double), rmse (double)" in listing
    # 0.4.0: the multiclass columns and the kind of an incident.
    assert "raw.incidents: add column(s) kind (string)" in listing
    assert re.search(r"ml.performance_metrics: add column\(s\) [^\n]*accuracy \(double\), weighted_f1 \(double\)",
                     listing)
    assert re.search(r"ml.performance_reference: add column\(s\) [^\n]*classes \(list<", listing)
    # 0.5.0: the demo model stores reason codes (added in place; the shadow tables come on first use).
    if model == "incident_risk":
        assert ("predictions.incident_risk: add column(s) reason_1 (string), reason_1_contribution (double), "
                "reason_2 (string)") in listing
    assert f"move from file://{meta['written_at']}/mlartifacts" in listing
    assert "dry run: nothing was changed" in listing
    assert _partitions(root) == old  # a dry run commits nothing
    assert main([*args, "upgrade"]) == 0
    assert "upgraded: " in capsys.readouterr().out
    assert main([*args, "upgrade"]) == 0
    assert "the lakehouse is up to date" in capsys.readouterr().out
    storage = storage_for(str(root))
    assert not any(c.in_place or c.outdated for c in table_changes(storage, contracts(settings.models.values())))

    # 3. Two more days of the daily cycle, scored by the champion the old release promoted.
    registry.setup(settings.mlflow, root)
    old_champion = registry.alias_version(model, registry.CHAMPION)
    assert old_champion is not None
    new_days = [last + timedelta(days=1), last + timedelta(days=2)]
    for d in new_days:
        run = daily_cycle(settings, model, d, hosts=plan.hosts, seed=plan.seed,
                          drift_start=plan.drift_start, drift_end=plan.drift_end)
        assert run.scored.model_version == old_champion and run.scored.rows == plan.hosts
        assert run.monitored.days[0].ds == d and run.alerts.model_name == model

    # 4. No row of an old partition lost or changed. The daily cycle rewrites, by design, the day whose
    # labels arrived (features, its realised performance, its data-quality log); every other
    # partition the old release wrote is as it was, in the columns it had.
    delay = settings.model(model).label_delay_days
    relabelled = {last - timedelta(days=i) for i in range(delay)}
    after = _partitions(root, old_columns)
    for (name, key), fp in old.items():
        if any(isinstance(v, date) and v in relabelled for v in key) or name == "ml.job_runs":
            continue
        assert after.get((name, key)) == fp, f"{name} {key} changed"
    # ml.job_runs is a log: the old rows are all there (null in the column 0.2.0 added when an older release
    # wrote them, else that release's version), and the new rows carry this release's.
    runs = open_snapshot(storage, "ml.job_runs").read_arrow()
    by_version = {v: runs.filter(pa.compute.equal(runs["lakeops_version"], v)).num_rows
                  for v in set(runs["lakeops_version"].drop_null().to_pylist())}
    old_rows = runs["lakeops_version"].null_count + by_version.pop(meta["lakeops_version"], 0)
    assert old_rows == old[("ml.job_runs", ())][0]
    assert set(by_version) == {__version__} and by_version[__version__] >= 4 * len(new_days)

    # 5. Every analyst query runs on the upgraded lake.
    values = {"model": model, "ds": new_days[-1], "start": date.fromisoformat(meta["first_day"]),
              "end": new_days[-1], "column": "latency_p95_ms", "top": 10, "days": 7}
    answered = {}
    for path in sorted(QUERIES.glob("*.sql")):
        text = path.read_text()
        if re.search(r"-- Serves: (regression|latency_forecast|multiclass|incident_kind)", text):
            continue  # for the models the old lakes hold no data of (tests/regression, tests/multiclass run these)
        answered[path.stem] = query(root, text, params=_query_params(text, values)).num_rows
    assert answered["riskiest_entities_today"] == 10
    assert answered["model_lineage"] >= 2 and answered["why_does_this_version_exist"] >= 1
    assert answered["drift_trend_of_one_column"] >= len(new_days)

    # 6. Maintenance of the upgraded lake changes no row, and every registered version's training data
    # stays readable by time travel after a vacuum that keeps nothing else.
    before_maintenance = _partitions(root)
    assert main([*args, "--set", "maintenance.vacuum_retention_hours=0", "maintain", "--ds", str(new_days[-1])]) == 0
    out = capsys.readouterr().out
    assert f"features.{model}: files" in out and "(model lineage)" in out and "(job run " in out
    after_maintenance = _partitions(root)
    assert {k: v for k, v in after_maintenance.items() if k[0] != "ml.job_runs"} == {
        k: v for k, v in before_maintenance.items() if k[0] != "ml.job_runs"}  # its own run is one more row there
    lineage = registry.lineage_versions([model])[f"features.{model}"]
    assert len(lineage) >= 2  # the champion and the retrained version of the old release
    for version in lineage:
        assert open_snapshot(storage, f"features.{model}", version=version).read_arrow().num_rows > 0
