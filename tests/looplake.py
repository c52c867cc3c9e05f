"""The whole-loop lakehouse the tests that need one share (``loop_lake`` in conftest.py), built by
the real stages, each call's commits recorded by table.

A month of telemetry for 200 hosts with drift from 2024-01-24; features for
the month; version 1 trained on 2024-01-24 and promoted, scoring
2024-01-25..31; the first four days monitored and judged, where a drift alert asks for
a retrain; version 2 trained on 2024-01-28 for that request, scoring its holdout in shadow, then
2024-01-29..31 (explicitly, whatever its gate said), so ``predictions.incident_risk`` has
two versions and three Delta versions; the rest of the week monitored (with region slices), judged and
reported; and one failed ``prepare`` of a day without telemetry (a failed job run and failed
data-quality rows). Beside it, the multiclass ``incident_kind`` through the same stages on the
same raw data (its own tables: ``ml.class_metrics``, ``ml.confusion_matrix``). A few minutes on
two cores, once per test worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest

from lakeops import stages
from lakeops.dates import date_range
from lakeops.errors import DataRefusedError

MODEL = "incident_risk"
MULTICLASS = "incident_kind"
DRIFT_START = date(2024, 1, 24)
WEEK = date_range(date(2024, 1, 25), date(2024, 1, 31))
MISSING_DAY = date(2024, 2, 5)  # no telemetry: its prepare fails the raw suite


T = TypeVar("T")


@dataclass(frozen=True)
class SmallLake:
    settings: object
    root: Path
    lake: object  # lakeops.lake.Lake on the test session's Spark
    #: The tables each stage's calls committed to, by (job, model): what tests/test_stage_io.py checks.
    writes: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)

    def versions(self) -> dict[str, int]:
        """Every table's Delta version, from the logs."""
        from lakeops.lake.catalog import list_tables

        return {t.name: t.version for t in list_tables(self.root)}

    def files(self) -> dict[str, tuple[int, int]]:
        """Every file under the lake (data and logs): size and modification time."""
        return {str(p.relative_to(self.root)): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in sorted(self.root.rglob("*")) if p.is_file()}


def table_versions(root: Path) -> dict[str, int]:
    """Every table under ``root`` and its Delta version, from the logs."""
    from lakeops.lake.catalog import list_tables

    return {t.name: t.version for t in list_tables(root)}


class Recorder:
    """Runs stage calls and records, by (job, model), the tables whose version each call moved."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writes: dict[tuple[str, str | None], set[str]] = {}

    def __call__(self, job: str, model: str | None, call: Callable[[], T]) -> T:
        before = table_versions(self.root) if self.root.exists() else {}
        result = call()
        after = table_versions(self.root)
        moved = {name for name, version in after.items() if before.get(name) != version}
        self.writes.setdefault((job, model), set()).update(moved)
        return result


def build(spark, settings, root: Path) -> SmallLake:
    """Run the stages into ``root`` (``spark`` is the session the stages reuse)."""
    s = replace(settings, lake=replace(settings.lake, root=str(root)))
    model = s.model(MODEL)
    # One search trial (speed); region slices from 20 rows (200 hosts give about 40 per region).
    # A retrain asked for at once (not after labelled days of the change): this lake has only a week of them.
    model = replace(model, train=replace(model.train, search=replace(model.train.search, trials=1)),
                    monitor=replace(model.monitor, min_slice_rows=20),
                    alerts=replace(model.alerts, retrain_after_labelled_days=0))
    kind = s.model(MULTICLASS)
    kind = replace(kind, train=replace(kind.train, search=replace(kind.train.search, trials=1)))
    s = replace(s, models={**s.models, MODEL: model, MULTICLASS: kind})
    run = Recorder(Path(root))
    # Raw data from Dec 2: the 30 days of lookback before the first prepared day.
    run("generate", None, lambda: stages.run_generate(s, start=date(2023, 12, 2), end=WEEK[-1], hosts=200, seed=11,
                                                      drift_start=DRIFT_START))
    run("prepare", MODEL, lambda: stages.run_prepare(s, MODEL, days=date_range(date(2024, 1, 1), WEEK[-1])))
    first = run("train", MODEL, lambda: stages.run_train(s, MODEL, ds=date(2024, 1, 24)))
    run("validate_model", MODEL, lambda: stages.run_validate(s, MODEL, ds=date(2024, 1, 24)))
    run("score", MODEL, lambda: stages.run_score(s, MODEL, days=WEEK))
    # The drift makes an alert ask for a retrain within the first days; version 2 answers it.
    run("monitor", MODEL, lambda: stages.run_monitor(s, MODEL, days=WEEK[:4]))
    (request,) = run("alerts", MODEL, lambda: stages.run_alerts(s, MODEL, days=WEEK[:4])).retrain_requests
    second = run("train", MODEL, lambda: stages.run_train(s, MODEL, ds=date(2024, 1, 28),
                                                          requested_by=request.fingerprint))
    run("shadow_score", MODEL, lambda: stages.run_score(s, MODEL, days=list(second.holdout_days), shadow=True))
    run("validate_model", MODEL, lambda: stages.run_validate(s, MODEL, ds=date(2024, 1, 28)))
    run("score", MODEL, lambda: stages.run_score(s, MODEL, days=WEEK[-3:], model_version=second.version))
    assert (first.version, second.version) == (1, 2)
    run("monitor", MODEL, lambda: stages.run_monitor(s, MODEL, days=WEEK[4:]))
    run("alerts", MODEL, lambda: stages.run_alerts(s, MODEL, days=WEEK[4:]))
    run("report", MODEL, lambda: stages.run_report(s, MODEL, days=WEEK[-1:]))
    with pytest.raises(DataRefusedError):
        stages.run_prepare(s, MODEL, days=[MISSING_DAY])

    # The multiclass model on the same raw data: its own feature, prediction and per-class tables.
    run("prepare", MULTICLASS, lambda: stages.run_prepare(s, MULTICLASS, days=date_range(date(2024, 1, 1), WEEK[-1])))
    run("train", MULTICLASS, lambda: stages.run_train(s, MULTICLASS, ds=date(2024, 1, 24)))
    run("validate_model", MULTICLASS, lambda: stages.run_validate(s, MULTICLASS, ds=date(2024, 1, 24)))
    run("score", MULTICLASS, lambda: stages.run_score(s, MULTICLASS, days=WEEK))
    run("monitor", MULTICLASS, lambda: stages.run_monitor(s, MULTICLASS, days=WEEK))
    run("alerts", MULTICLASS, lambda: stages.run_alerts(s, MULTICLASS, days=WEEK))
    run("report", MULTICLASS, lambda: stages.run_report(s, MULTICLASS, days=WEEK[-1:]))
    run("upgrade", None, lambda: stages.run_upgrade(s))
    return SmallLake(settings=s, root=Path(root).resolve(), lake=stages.open_lake(s), writes=run.writes)


def assert_monitor_on_spark_writes_the_same(settings, lake, model: str, days: list[date], tables: tuple[str, ...],
                                            monkeypatch) -> None:
    """Rerun ``monitor`` of ``days`` with every performance tally in a Spark job (a small fleet's days are
    joined and tallied on the driver: ``monitor.joined.LOCAL_ROWS``) and check ``tables`` hold the same
    rows of those days as before (it rewrites them: call it on a lake the other tests are done with)."""
    from lakedata import assert_same_rows

    from lakeops.monitor import joined

    def measured():
        return [lake.read_arrow(t, where={"model_name": [model], "ds": days}) for t in tables]

    before = measured()
    monkeypatch.setattr(joined, "LOCAL_ROWS", 0)
    stages.run_monitor(settings, model, days=days)
    for got, expected in zip(measured(), before, strict=True):
        assert expected.num_rows > len(days)
        assert_same_rows(got, expected)
