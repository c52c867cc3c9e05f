"""The small lakehouse every test of ``lakeops sql`` shares, built by the real stages.

A month of telemetry for 200 hosts with drift from 2024-01-24; features for
the month; version 1 trained on 2024-01-24 and promoted, scoring
2024-01-25..31; the first four days monitored, where a drift alert asks for
a retrain; version 2 trained on 2024-01-28 for that request and scoring
2024-01-29..31 (explicitly, whatever its gate said), so ``predictions.incident_risk`` has
two versions and three Delta versions; the rest of the week monitored (with region slices); and one failed
``prepare`` of a day without telemetry (a failed job run and failed
data-quality rows). About two minutes on two cores, once for the package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from lakeops import stages
from lakeops.dates import date_range
from lakeops.errors import DataRefusedError

MODEL = "incident_risk"
DRIFT_START = date(2024, 1, 24)
WEEK = date_range(date(2024, 1, 25), date(2024, 1, 31))
MISSING_DAY = date(2024, 2, 5)  # no telemetry: its prepare fails the raw suite


@dataclass(frozen=True)
class SmallLake:
    settings: object
    root: Path
    lake: object  # lakeops.lake.Lake on the test session's Spark

    def versions(self) -> dict[str, int]:
        """Every table's Delta version, from the logs."""
        from lakeops.lake.catalog import list_tables

        return {t.name: t.version for t in list_tables(self.root)}

    def files(self) -> dict[str, tuple[int, int]]:
        """Every file under the lake (data and logs): size and modification time."""
        return {str(p.relative_to(self.root)): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in sorted(self.root.rglob("*")) if p.is_file()}


def build(spark, settings, root: Path) -> SmallLake:
    """Run the stages into ``root`` (``spark`` is the session the stages reuse)."""
    s = replace(settings, lake=replace(settings.lake, root=str(root)))
    model = s.model(MODEL)
    # One search trial (speed); region slices from 20 rows (200 hosts give about 40 per region).
    # A retrain asked for at once (not after labelled days of the change): this lake has only a week of them.
    model = replace(model, train=replace(model.train, search=replace(model.train.search, trials=1)),
                    monitor=replace(model.monitor, min_slice_rows=20),
                    alerts=replace(model.alerts, retrain_after_labelled_days=0))
    s = replace(s, models={**s.models, MODEL: model})
    # Raw data from Dec 2: the 30 days of lookback before the first prepared day.
    stages.run_generate(s, start=date(2023, 12, 2), end=WEEK[-1], hosts=200, seed=11, drift_start=DRIFT_START)
    stages.run_prepare(s, MODEL, days=date_range(date(2024, 1, 1), WEEK[-1]))
    first = stages.run_train(s, MODEL, ds=date(2024, 1, 24))
    stages.run_validate(s, MODEL, ds=date(2024, 1, 24))
    stages.run_score(s, MODEL, days=WEEK)
    # The drift makes an alert ask for a retrain within the first days; version 2 answers it.
    monitored = stages.run_monitor(s, MODEL, days=WEEK[:4], report=False)
    (request,) = monitored.retrain_requests
    second = stages.run_train(s, MODEL, ds=date(2024, 1, 28), requested_by=request.fingerprint)
    stages.run_validate(s, MODEL, ds=date(2024, 1, 28))
    stages.run_score(s, MODEL, days=WEEK[-3:], model_version=second.version)
    assert (first.version, second.version) == (1, 2)
    stages.run_monitor(s, MODEL, days=WEEK[4:], report=False)
    with pytest.raises(DataRefusedError):
        stages.run_prepare(s, MODEL, days=[MISSING_DAY])
    return SmallLake(settings=s, root=Path(root).resolve(), lake=stages.open_lake(s))
