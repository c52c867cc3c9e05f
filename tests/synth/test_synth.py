"""The synthetic world: determinism, realistic shapes, a learnable label, injected drift."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from lakeops.synth import synth

DAY = date(2024, 3, 1)


def _day(day=DAY, hosts=5000, rows=None, drift=None, seed=7):
    batches = [
        synth.telemetry(seed=seed, block=b, day=day, hosts=hosts, rows_per_day=rows or hosts, drift_start=drift)
        for b in synth.blocks(hosts)
    ]
    return [b.to_pandas() for b in batches][0] if len(batches) == 1 else None


def test_same_arguments_same_rows():
    a = synth.telemetry(seed=1, block=synth.blocks(300)[0], day=DAY, hosts=300, rows_per_day=200)
    b = synth.telemetry(seed=1, block=synth.blocks(300)[0], day=DAY, hosts=300, rows_per_day=200)
    c = synth.telemetry(seed=2, block=synth.blocks(300)[0], day=DAY, hosts=300, rows_per_day=200)
    assert a.equals(b) and not a.equals(c)
    inc = [synth.incidents(seed=1, block=synth.blocks(3000)[0], day=DAY) for _ in range(2)]
    assert inc[0].equals(inc[1])


def test_blocks_and_reporting_shares_add_up():
    hosts = 2 * synth.BLOCK_SIZE + 17
    blocks = synth.blocks(hosts)
    assert [b.size for b in blocks] == [synth.BLOCK_SIZE, synth.BLOCK_SIZE, 17]
    assert sum(synth.reporting_share(b, hosts=hosts, rows_per_day=12345) for b in blocks) == 12345
    with pytest.raises(ValueError):
        synth.blocks(0)


def test_rows_per_day_samples_unique_hosts():
    df = _day(hosts=1000, rows=600)
    assert len(df) == 600 and df.host_id.is_unique
    assert df.host_id.str.fullmatch(r"host-\d{7}").all()


def test_shapes_are_realistic():
    df = _day(hosts=20000)
    assert df.cpu_util_pct.dropna().between(0, 100).all() and df.mem_util_pct.dropna().between(0, 100).all()
    # Heavy right tails: mean well above median, max far above it.
    for col in ("net_in_mbps", "latency_p95_ms", "open_connections"):
        s = df[col].dropna()
        assert s.mean() > s.median() * 1.05 and s.max() > 5 * s.median(), col
    for col in synth.NUMERIC_COLUMNS:
        assert 0.002 < df[col].isna().mean() < 0.01, col
    assert set(df.region) == set(synth.REGIONS) and set(df.os_version) == set(synth.OS_VERSIONS)
    assert (df.restart_count.dropna() == 0).mean() > 0.9


def test_positive_rate_and_label_is_learnable():
    hosts = 20000
    block = synth.blocks(hosts)[0]
    tomorrow = DAY + timedelta(days=1)
    inc = synth.incidents(seed=7, block=block, day=tomorrow).to_pandas()
    today = _day(hosts=hosts)
    positive = today.host_id.isin(set(inc.host_id))
    assert 0.03 <= positive.mean() <= 0.08
    # The known driver separates the classes: hosts with incidents tomorrow had
    # higher latency and more errors today.
    assert today.latency_p95_ms[positive].median() > 1.2 * today.latency_p95_ms[~positive].median()
    assert today.error_count[positive].mean() > today.error_count[~positive].mean()
    assert (inc.opened_at.dt.date == tomorrow).all() and inc.incident_id.is_unique


def test_drift_moves_the_named_columns_only():
    start = DAY
    before = _day(day=start - timedelta(days=1), hosts=20000, drift=start)
    after = _day(day=start + timedelta(days=9), hosts=20000, drift=start)
    no_drift = _day(day=start + timedelta(days=9), hosts=20000)
    ratio = after.latency_p95_ms.median() / no_drift.latency_p95_ms.median()
    assert 1.5 < ratio < 1.7
    spread = lambda s: np.log(s.dropna()).std()  # noqa: E731
    # Host baselines (sd 1) plus daily noise: sqrt(1 + 1.2**2) / sqrt(1 + 0.5**2) = 1.40.
    assert spread(after.net_in_mbps) > 1.3 * spread(no_drift.net_in_mbps)
    assert abs(np.log(after.net_in_mbps.dropna()).median() - np.log(no_drift.net_in_mbps.dropna()).median()) < 0.1
    assert synth.NEW_OS_VERSION not in set(before.os_version)
    assert 0.25 < (after.os_version == synth.NEW_OS_VERSION).mean() < 0.35
    assert after.mem_util_pct.isna().mean() > 0.15 > before.mem_util_pct.isna().mean()
    drifting = {c for c, _, _ in synth.DRIFTS}
    for col in synth.NUMERIC_COLUMNS:
        if col not in drifting:
            assert after[col].equals(no_drift[col]), f"{col} should be stationary"
    assert before.equals(_day(day=start - timedelta(days=1), hosts=20000))


def test_a_rolled_back_drift_leaves_the_days_after_it_as_they_were():
    start, end = DAY, DAY + timedelta(days=3)
    block = synth.blocks(3000)[0]

    def day(d, **drift):
        return synth.telemetry(seed=7, block=block, day=d, hosts=3000, rows_per_day=3000, **drift)

    during = day(start + timedelta(days=1), drift_start=start, drift_end=end)
    assert not during.equals(day(start + timedelta(days=1)))
    assert during.equals(day(start + timedelta(days=1), drift_start=start))
    for d in (end, end + timedelta(days=5)):
        assert day(d, drift_start=start, drift_end=end).equals(day(d))


def test_a_drift_end_needs_a_drift_start_before_it():
    from lakeops.errors import InvalidParameterError
    from lakeops.synth import check_generate_args

    args = dict(start=DAY, end=DAY + timedelta(days=9), hosts=10, rows_per_day=None, seed=1)
    assert check_generate_args(**args, drift_start=DAY, drift_end=DAY + timedelta(days=2)) == 10
    for start, end in ((None, DAY), (DAY, DAY), (DAY + timedelta(days=1), DAY)):
        with pytest.raises(InvalidParameterError, match="--drift-end"):
            check_generate_args(**args, drift_start=start, drift_end=end)


def test_the_driver_and_spark_tasks_write_the_same_tables(spark, settings, tmp_path, monkeypatch):
    """A few days of a small fleet are generated on the driver (generate.LOCAL_ROWS), more in Spark
    tasks; both write the same rows, each day's partition replaced."""
    import importlib
    from dataclasses import replace

    from lakedata import fingerprint

    from lakeops.lake import open_lake

    generating = importlib.import_module("lakeops.synth.generate")  # the module: the package exports the function

    def tables(root, local_rows):
        monkeypatch.setattr(generating, "LOCAL_ROWS", local_rows)
        lake = open_lake(spark, replace(settings.lake, root=str(tmp_path / root)))
        result = generating.generate(lake, start=DAY, end=DAY + timedelta(days=2), hosts=300, rows_per_day=250,
                                     seed=5, drift_start=DAY + timedelta(days=1))
        assert result.telemetry.rows == 3 * 250 and result.incidents.rows > 0
        return [fingerprint(lake.read(name)) for name in ("raw.telemetry", "raw.incidents", "raw.scenario")]

    assert tables("driver", 10_000) == tables("tasks", 0)
