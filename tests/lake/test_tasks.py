"""How :mod:`lakeops.lake.tasks` splits a table's files into Spark tasks (no Spark, no lake)."""

from __future__ import annotations

from datetime import date

from lakeops.lake.tasks import Unit, plan_tasks


def test_tasks_are_balanced_and_keep_partitions_together():
    units = [Unit(f"/f{i}", (0,), rows, {"ds": date(2024, 1, 1 + i % 3)})
             for i, rows in enumerate([900, 100, 500, 500, 300, 700])]
    tasks = plan_tasks(units, 2)
    assert sorted(sum(u.rows for u in t) for t in tasks) == [1500, 1500]
    assert sorted(u.path for t in tasks for u in t) == sorted(u.path for u in units)
    for t in tasks:
        assert [u.partition["ds"] for u in t] == sorted(u.partition["ds"] for u in t)
    assert len(plan_tasks(units[:1], 8)) == 1
