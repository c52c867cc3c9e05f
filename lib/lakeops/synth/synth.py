"""Synthetic AIOps telemetry and incidents: pure, vectorised numpy.

The world is a fleet of ``hosts``. Each host has fixed attributes (region,
service tier, OS version, baseline load, a hidden frailty) and each day a set of
daily aggregates. A day is a pure function of ``(seed, day, host block)``: the
same arguments always give the same rows, whatever range they are generated in,
and a block of hosts can be generated on any Spark executor.

Incidents on day ``d`` are driven by the *latent* telemetry of day ``d-1``
through a fixed logistic function (:func:`incident_logit`), so a model can learn
"tomorrow's incident from today's telemetry". Drift (``drift_start``) changes
what is *observed* from that day on, not the true risk: a shifted column's
relationship to incidents breaks, as it does when a monitoring agent changes.

Each incident has a ``kind`` (:data:`INCIDENT_KINDS`: what it was about), drawn
from the same latent day before: a softmax over one cause score per kind
(:func:`kind_scores`), each fed by its own telemetry: ``compute`` by CPU and
latency, ``memory`` by memory use over 65% (sharply so in the 90s, where restarts
start), restarts and GC pauses, ``disk`` by disk use over 55%, ``network`` by
inbound and outbound traffic and errors. Over a fleet about 36% of incidents
are compute, 19% memory, 20% disk and 25% network (see tests), and a classifier
on the day before's telemetry tells the kinds apart (macro F1 about 0.7 against
0.25 by chance). The kinds come from an RNG stream of their own, so the
incidents themselves (which hosts, how many, their ids, severities and times)
are exactly those of the generator before kinds existed.

Reads and writes no tables; :mod:`lakeops.synth.generate` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Hosts per generation block: fixed, because block boundaries seed the RNGs.
BLOCK_SIZE = 100_000

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1")
REGION_P = (0.35, 0.2, 0.2, 0.15, 0.1)
TIERS = ("gold", "silver", "bronze")
TIER_P = (0.2, 0.5, 0.3)
TIER_EFFECT = np.array([-0.4, 0.0, 0.3])
OS_VERSIONS = ("ubuntu-20.04", "ubuntu-22.04", "rhel-8", "rhel-9", "debian-12")
OS_P = (0.15, 0.4, 0.15, 0.2, 0.1)
NEW_OS_VERSION = "ubuntu-24.04"
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
SEVERITY_P = (0.05, 0.15, 0.4, 0.4)
#: What an incident was about; :func:`kind_scores` gives each its cause score, in this order.
INCIDENT_KINDS = ("compute", "memory", "disk", "network")

NUMERIC_COLUMNS = (
    "cpu_util_pct",
    "mem_util_pct",
    "disk_util_pct",
    "net_in_mbps",
    "net_out_mbps",
    "latency_p95_ms",
    "error_count",
    "restart_count",
    "gc_pause_ms",
    "open_connections",
)
INTEGER_COLUMNS = ("error_count", "restart_count", "open_connections")
#: Share of missing values in every numeric column (a lost metrics scrape).
NULL_RATE = 0.005
#: Calibrated so that about 5% of host-days have an incident (see tests).
INCIDENT_INTERCEPT = -3.2

# Streams of the per-block RNG: one purpose each, so adding a column to one
# stream never changes the values of another.
_HOSTS, _DAY, _SAMPLE, _NULLS, _INCIDENTS, _KINDS = 1, 2, 3, 4, 5, 6

#: The drift ``--drift-start`` injects: column, kind, what changes.
DRIFTS = (
    ("latency_p95_ms", "mean_shift", "observed p95 latency multiplied by 1.6"),
    ("net_in_mbps", "variance_change", "log-scale spread of inbound traffic from 0.5 to 2.0 (median unchanged)"),
    ("os_version", "new_category", f"{NEW_OS_VERSION!r} appears on about 30% of hosts"),
    ("mem_util_pct", "null_rate", "missing rate rises by 2 points a day from 0.5% (capped at 50%)"),
)


@dataclass(frozen=True)
class Block:
    """Hosts ``[lo, hi)`` of a fleet, generation block number ``index`` (part of its RNG seeds);
    :func:`reporting_share` says how many of them report on a day."""

    index: int
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo


def blocks(hosts: int) -> list[Block]:
    """Split a fleet into generation blocks."""
    if hosts < 1:
        raise ValueError(f"hosts must be at least 1, got {hosts}")
    return [Block(i, lo, min(lo + BLOCK_SIZE, hosts)) for i, lo in enumerate(range(0, hosts, BLOCK_SIZE))]


def reporting_share(block: Block, *, hosts: int, rows_per_day: int) -> int:
    """How many of ``block``'s hosts report on a day, so shares add up to ``rows_per_day``."""
    upto = lambda h: (rows_per_day * h) // hosts  # noqa: E731 - one formula, two uses
    return upto(block.hi) - upto(block.lo)


def _rng(seed: int, stream: int, block: Block, day: date | None = None) -> np.random.Generator:
    key = [seed, stream, block.index] + ([day.toordinal()] if day is not None else [])
    return np.random.default_rng(key)


@dataclass(frozen=True)
class _Hosts:
    region: np.ndarray
    tier: np.ndarray
    os: np.ndarray
    upgrade_draw: np.ndarray
    cpu_base: np.ndarray
    mem_base: np.ndarray
    disk_base: np.ndarray
    net_base: np.ndarray
    lat_base: np.ndarray
    frailty: np.ndarray


def _hosts(seed: int, block: Block) -> _Hosts:
    rng = _rng(seed, _HOSTS, block)
    n = block.size
    return _Hosts(
        region=rng.choice(len(REGIONS), n, p=REGION_P),
        tier=rng.choice(len(TIERS), n, p=TIER_P),
        os=rng.choice(len(OS_VERSIONS), n, p=OS_P),
        upgrade_draw=rng.random(n),
        cpu_base=rng.beta(2.0, 5.0, n) * 100,
        mem_base=rng.beta(4.0, 4.0, n) * 100,
        disk_base=rng.beta(2.0, 3.0, n) * 100,
        net_base=rng.normal(3.0, 1.0, n),
        lat_base=rng.normal(4.5, 0.4, n),
        frailty=rng.normal(0.0, 0.5, n),
    )


def latent_day(seed: int, block: Block, day: date, hosts: _Hosts | None = None) -> dict[str, np.ndarray]:
    """Every host's true daily telemetry (no nulls, no drift)."""
    h = hosts or _hosts(seed, block)
    rng = _rng(seed, _DAY, block, day)
    n = block.size
    spike = rng.random(n) < 0.05
    cpu = np.clip(h.cpu_base + rng.normal(0, 8, n) + 30 * spike, 0, 100)
    mem = np.clip(h.mem_base + rng.normal(0, 6, n), 0, 100)
    disk = np.clip(h.disk_base + rng.normal(0, 3, n), 0, 100)
    net_noise = rng.normal(0, 1, n)  # scaled by 0.5 (or more under drift) when observed
    net_out = np.exp(h.net_base - 0.3 + rng.normal(0, 0.5, n))
    latency = np.exp(h.lat_base + 0.01 * (cpu - 30) + rng.normal(0, 0.25, n))
    mu_err = 2.0 * (latency / 100.0) ** 1.5
    errors = rng.negative_binomial(2, 2 / (2 + mu_err))
    restarts = rng.poisson(0.03 + 0.3 * (mem > 90))
    gc = rng.gamma(2.0, 15.0 * (1 + mem / 100), n)
    conns = np.round(np.exp(rng.normal(5 + 0.5 * (h.net_base - 3), 0.6, n)))
    return {
        "cpu_util_pct": cpu,
        "mem_util_pct": mem,
        "disk_util_pct": disk,
        "_net_base": h.net_base,
        "_net_noise": net_noise,
        "net_in_mbps": np.exp(h.net_base + 0.5 * net_noise),
        "net_out_mbps": net_out,
        "latency_p95_ms": latency,
        "error_count": errors.astype(np.int64),
        "restart_count": restarts.astype(np.int64),
        "gc_pause_ms": gc,
        "open_connections": conns.astype(np.int64),
    }


def incident_logit(day_values: dict[str, np.ndarray], hosts: _Hosts) -> np.ndarray:
    """The known ground truth: log-odds of an incident tomorrow given today."""
    return (
        INCIDENT_INTERCEPT
        + 0.06 * (day_values["cpu_util_pct"] - 50)
        + 1.2 * np.log(day_values["latency_p95_ms"] / 100)
        + 0.35 * np.log1p(day_values["error_count"])
        + 0.9 * day_values["restart_count"]
        + 0.05 * np.maximum(day_values["mem_util_pct"] - 85, 0)
        + 0.8 * (day_values["disk_util_pct"] > 90)
        + TIER_EFFECT[hosts.tier]
        + hosts.frailty
    )


def kind_scores(day_values: dict[str, np.ndarray]) -> np.ndarray:
    """The known ground truth of an incident's kind: one cause score per kind (columns in
    :data:`INCIDENT_KINDS` order), whose softmax is the chance of each kind given today.

    Each kind reads its own telemetry, so a model can tell them apart; the constants
    balance the mix (no kind under a sixth of incidents) given that incidents
    themselves favour busy, slow hosts (:func:`incident_logit`).
    """
    v = day_values
    compute = -0.4 + 0.12 * (v["cpu_util_pct"] - 50) + 3.0 * np.log(v["latency_p95_ms"] / 100)
    memory = (
        0.3
        + 0.22 * np.maximum(v["mem_util_pct"] - 65, 0)
        + 2.2 * v["restart_count"]
        + 1.5 * np.log(v["gc_pause_ms"] / 40)
    )
    disk = 0.3 + 0.22 * np.maximum(v["disk_util_pct"] - 55, 0)
    network = (
        1.5 * (np.log(v["net_in_mbps"]) - 3)
        + 0.9 * np.log(v["net_out_mbps"] / 20)
        + 0.75 * np.log1p(v["error_count"])
    )
    return np.stack([compute, memory, disk, network], axis=1)


def _draw_kinds(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One kind index per row of ``scores``, drawn with softmax(scores) probabilities."""
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    # The last cumulative value may round to just under 1: a draw above it is the last kind.
    return np.minimum((rng.random(len(scores))[:, None] >= cumulative).sum(axis=1), scores.shape[1] - 1)


def host_ids(idx: np.ndarray) -> pa.Array:
    """``host-0000042`` style ids for global host indexes."""
    return _padded("host-", idx)


def _padded(prefix: str, numbers: np.ndarray, width: int = 7) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(numbers, type=pa.int64()).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def telemetry(
    *, seed: int, block: Block, day: date, hosts: int, rows_per_day: int, drift_start: date | None = None,
    drift_end: date | None = None,
) -> pa.RecordBatch:
    """Observed telemetry of ``block`` on ``day``: the reporting hosts only, nulls and drift applied
    (from ``drift_start`` until the day before ``drift_end``, when the change is rolled back)."""
    h = _hosts(seed, block)
    values = latent_day(seed, block, day, h)
    share = reporting_share(block, hosts=hosts, rows_per_day=rows_per_day)
    pick = np.sort(_rng(seed, _SAMPLE, block, day).choice(block.size, share, replace=False))
    drifted = drift_start is not None and day >= drift_start and (drift_end is None or day < drift_end)
    days_in = (day - drift_start).days if drifted and drift_start is not None else -1

    observed = {c: values[c].copy() for c in NUMERIC_COLUMNS}
    os_names = np.array(OS_VERSIONS, dtype=object)[h.os]
    if drifted:
        observed["latency_p95_ms"] = observed["latency_p95_ms"] * 1.6
        observed["net_in_mbps"] = np.exp(values["_net_base"] + 2.0 * values["_net_noise"])
        os_names = np.where(h.upgrade_draw < 0.3, NEW_OS_VERSION, os_names)

    null_rng = _rng(seed, _NULLS, block, day)
    columns: dict[str, pa.Array] = {}
    for name in NUMERIC_COLUMNS:
        rate = NULL_RATE
        if drifted and name == "mem_util_pct":
            rate = min(NULL_RATE + 0.02 * (days_in + 1), 0.5)
        mask = null_rng.random(block.size)[pick] < rate
        data = observed[name][pick]
        typ = pa.int64() if name in INTEGER_COLUMNS else pa.float64()
        columns[name] = pa.array(data, type=typ, mask=mask)

    n = len(pick)
    arrays = {
        "ds": pa.array(np.full(n, day), type=pa.date32()),
        "host_id": host_ids(block.lo + pick),
        "region": pa.array(np.array(REGIONS, dtype=object)[h.region[pick]], type=pa.string()),
        "service_tier": pa.array(np.array(TIERS, dtype=object)[h.tier[pick]], type=pa.string()),
        "os_version": pa.array(os_names[pick], type=pa.string()),
        **columns,
    }
    return pa.RecordBatch.from_pydict(arrays)


def incidents(*, seed: int, block: Block, day: date) -> pa.RecordBatch:
    """Incidents opened on ``day`` for ``block``'s hosts, driven by the day before (their kinds too)."""
    h = _hosts(seed, block)
    yesterday = latent_day(seed, block, day - timedelta(days=1), h)
    p = 1 / (1 + np.exp(-incident_logit(yesterday, h)))
    rng = _rng(seed, _INCIDENTS, block, day)
    hit = rng.random(block.size) < p
    count = np.where(hit, 1 + rng.poisson(0.3, block.size), 0)
    host_idx = np.repeat(np.arange(block.size), count)
    k = np.concatenate([np.arange(c) for c in count[count > 0]]) if host_idx.size else np.array([], dtype=np.int64)
    n = host_idx.size
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    offsets_us = (rng.random(n) * 86_400 * 1_000_000).astype(np.int64)
    opened = np.datetime64(day_start.replace(tzinfo=None), "us") + offsets_us.astype("timedelta64[us]")
    global_idx = block.lo + host_idx
    ids = pc.binary_join_element_wise(
        _padded(f"inc-{day:%Y%m%d}-", global_idx), pa.array(k, type=pa.int64()).cast(pa.string()), "-"
    )
    severity = rng.choice(4, n, p=SEVERITY_P)
    # Its own stream: drawing kinds leaves every draw above (and so every other column) as it was.
    kind = _draw_kinds(kind_scores(yesterday)[host_idx], _rng(seed, _KINDS, block, day))
    return pa.RecordBatch.from_pydict(
        {
            "ds": pa.array(np.full(n, day), type=pa.date32()),
            "incident_id": ids,
            "host_id": host_ids(global_idx),
            "severity": pa.array(np.array(SEVERITIES, dtype=object)[severity], type=pa.string()),
            "opened_at": pa.array(opened, type=pa.timestamp("us", tz="UTC")),
            "kind": pa.array(np.array(INCIDENT_KINDS, dtype=object)[kind], type=pa.string()),
        }
    )
