"""Separate writer processes: SIGKILL mid-write, colliding and disjoint writers, polling readers (docs/reliability.md).

Each worker (tests/lake_worker.py) is its own Python process, as two Airflow tasks
would be. The races do not rely on luck: both writers are held right before their
commits, after both have read the table, and released together or one after the other.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from lakedata import EVENTS, event_rows, events, fingerprint

from lakeops.errors import CommitConflictError
from lakeops.lake.conflicts import read_commits

pytestmark = pytest.mark.slow

WORKER = Path(__file__).resolve().parents[1] / "lake_worker.py"
D1 = date(2024, 1, 1)
WAIT_S = 600  # hang guards, not timing assertions


def _worker(lake_root: Path, name: str, plan: list[dict], sync: Path, backend: str = "embedded") -> subprocess.Popen:
    sync.mkdir(parents=True, exist_ok=True)
    (sync / f"plan.{name}.json").write_text(json.dumps(plan))
    cmd = [sys.executable, str(WORKER), "--lake", str(lake_root), "--name", name,
           "--plan", str(sync / f"plan.{name}.json"), "--sync", str(sync), "--backend", backend]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, procs: list[subprocess.Popen]) -> None:
    """Wait for a worker's file. A worker that failed, or all of them gone without it, fail the test; one
    that exited 0 finished its plan, possibly before the other worker wrote its own last file."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        codes = [proc.poll() for proc in procs]
        failed = next((proc for proc, code in zip(procs, codes, strict=True) if code not in (None, 0)), None)
        if (failed is not None or None not in codes) and not path.exists():
            proc = failed or procs[0]
            _, err = proc.communicate()
            raise AssertionError(f"a worker exited with {proc.returncode} before {path.name}:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} after {WAIT_S}s")
        time.sleep(0.02)


def _state(path: Path) -> tuple[tuple[date, str], ...]:
    """What a Delta reader sees now: the sorted (ds, name) of every row."""
    table = DeltaTable(str(path)).to_pyarrow_table(columns=["ds", "name"])
    return tuple(sorted(zip(table.column("ds").to_pylist(), table.column("name").to_pylist(), strict=True)))


class _Poller(threading.Thread):
    """Reads the table with delta-rs over and over, recording every state it sees."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop, self.seen = path, threading.Event(), set()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.add(_state(self.path))
            except Exception as exc:  # a reader must never fail on a committed state
                self.errors.append(repr(exc))
            time.sleep(0.05)


# ------------------------------------------------------------------ the races

@dataclass(frozen=True)
class Write:
    op: str  # overwrite (Spark), overwrite_rows or append_rows (Arrow)
    ds: date
    tag: str
    n: int = 50

    def plan(self) -> dict:
        return {"op": self.op, "ds": self.ds.isoformat(), "tag": self.tag, "n": self.n, "hold": True}

    def rows(self) -> list[tuple[date, str]]:
        return [(self.ds, f"{self.tag}-{i}") for i in range(self.n)]

    def apply(self, state: tuple[tuple[date, str], ...]) -> tuple[tuple[date, str], ...]:
        kept = [row for row in state if not (self.op.startswith("overwrite") and row[0] == self.ds)]
        return tuple(sorted(kept + self.rows()))


#: (A's operation, B's operation, partitions, release): "new" partitions held no rows,
#: "same" ones hold the previous race's rows; "ordered" releases A, waits, then B.
KINDS = [
    ("overwrite", "overwrite", "new", "together"),
    ("overwrite", "overwrite", "same", "together"),
    ("overwrite_rows", "overwrite_rows", "new", "together"),
    ("overwrite_rows", "overwrite_rows", "same", "ordered"),
    ("overwrite", "overwrite_rows", "new", "ordered"),
    ("overwrite_rows", "append_rows", "same", "together"),
    ("append_rows", "overwrite_rows", "same", "ordered"),
    ("overwrite_rows", "append_rows", "new", "ordered"),
    ("overwrite", "overwrite", "disjoint", "together"),
    ("append_rows", "append_rows", "same", "together"),
]


def _races() -> list[tuple[Write, Write, str]]:
    races, day, last = [], 0, D1
    for r, (op_a, op_b, where, release) in enumerate(KINDS * 2):
        if where == "same":
            ds_a = ds_b = last
        else:
            day += 1
            ds_a = ds_b = D1 + timedelta(days=day)
            if where == "disjoint":
                day += 1
                ds_b = D1 + timedelta(days=day)
        races.append((Write(op_a, ds_a, f"r{r}a", 40 + r), Write(op_b, ds_b, f"r{r}b", 60 - r), release))
        last = ds_a
    return races


def _check_race(r: int, race: tuple[Write, Write, str], outcomes: list[dict], start_version: int) -> list[Write]:
    """The promise for one race: losers lost for a reason, winners in a consistent order.

    Returns the winners in commit order.
    """
    a, b, release = race
    writes = dict(zip((a.tag, b.tag), (a, b), strict=True))
    won = sorted((o for o in outcomes if o["ok"]), key=lambda o: o["version"])
    assert [o["version"] for o in won] == list(range(start_version + 1, start_version + 1 + len(won))), (r, outcomes)
    for i, o in enumerate(won):
        mine = writes[o["tag"]]
        if mine.op.startswith("overwrite"):
            earlier = [writes[e["tag"]] for e in won[:i]]
            assert all(e.ds != mine.ds for e in earlier), f"race {r}: {mine} committed over {earlier}: {outcomes}"
    for o in outcomes:
        if o["ok"]:
            continue
        mine = writes[o["tag"]]
        assert o["error"] == "CommitConflictError", (r, o)
        assert "test.events" in o["message"] and mine.ds.isoformat() in o["message"], o["message"]
        others = [writes[w["tag"]] for w in won]
        assert mine.op.startswith("overwrite") and any(w.ds == mine.ds for w in others), (
            f"race {r}: {mine} lost although nothing it replaces was written: {outcomes}")
    if release == "ordered":
        assert outcomes[0]["ok"], f"race {r}: the writer released first must win: {outcomes}"
    return [writes[o["tag"]] for o in won]


@pytest.mark.backend("embedded")
def test_colliding_writers_never_mix(spark, lake, lake_root, tmp_path):
    """Colliding writers never mix: 20 forced races of two processes (Spark and Arrow writes,
    new and existing partitions, overwrites against appends, disjoint partitions), each
    ending as a serial history: a loser fails with CommitConflictError and leaves nothing
    behind; readers only ever see committed states; a rerun of a loser gives exactly its rows."""
    lake.create(EVENTS)
    path = lake.path("test.events")
    races = _races()
    sync = tmp_path / "sync"
    procs = [_worker(lake_root, name, [race[i].plan() for race in races], sync) for i, name in enumerate("AB")]
    poller = _Poller(path)
    poller.start()
    state, states, losers, winners = _state(path), set(), [], Counter()
    states.add(state)
    try:
        for r, race in enumerate(races):
            for name in "AB":
                _wait_for(sync / f"{r}.{name}.ready", procs)
            start_version = DeltaTable(str(path)).version()
            assert _state(path) == state
            for name in "AB":
                (sync / f"{r}.{name}.go").touch()
                if race[2] == "ordered":
                    _wait_for(sync / f"{r}.{name}.json", procs)
            for name in "AB":
                _wait_for(sync / f"{r}.{name}.json", procs)
            outcomes = [json.loads((sync / f"{r}.{name}.json").read_text()) for name in "AB"]
            for write in _check_race(r, race, outcomes, start_version):
                state = write.apply(state)
                states.add(state)
                winners[write.tag] += 1
            losers += [w for w, o in zip(race[:2], outcomes, strict=True) if not o["ok"]]
            assert _state(path) == state, f"race {r}: the table is not the serial result of its winners {outcomes}"
    finally:
        poller.stop.set()
        poller.join()
        for proc in procs:
            proc.kill() if proc.poll() is None else None
            proc.communicate()

    assert not poller.errors, poller.errors[:3]
    assert poller.seen <= states, "a reader saw a state no serial history of the commits passes through"
    assert losers, "every race of two overwrites of one partition has a loser"

    # Nothing of a loser stays: its tag is in no commit and its staged files are gone.
    committed = Counter(entry.get("lakeops.tag") for entry in DeltaTable(str(path)).history() if "lakeops.tag" in entry)
    assert committed == winners
    log = read_commits(lake.storage, str(path), after=-1, upto=DeltaTable(str(path)).version())
    ever_added = {action["add"]["path"] for _, actions in log for action in actions if "add" in action}
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*.parquet") if "_delta_log" not in p.parts}
    assert on_disk <= ever_added, f"files no commit added: {sorted(on_disk - ever_added)[:5]}"

    # A rerun of the last loser (alone) gives exactly its rows.
    loser = losers[-1]
    if loser.op == "overwrite":
        lake.overwrite(events(spark, loser.ds, loser.n, tag=loser.tag), EVENTS, partitions={"ds": [loser.ds]})
    else:
        lake.overwrite_rows(event_rows(loser.ds, loser.n, tag=loser.tag), EVENTS, partitions={"ds": [loser.ds]})
    assert [row for row in _state(path) if row[0] == loser.ds] == sorted(loser.rows())


def test_sigkill_between_files_and_commit(spark, lake, lake_root, tmp_path):
    """A crash never half-writes, with a real SIGKILL: readers keep the previous version; the rerun works; vacuum cleans up.
    (Embedded: killed between its files and its commit. Native: killed while its write job runs.)"""
    backend, path = lake.backend_name, lake.path("test.events")
    lake.overwrite(events(spark, D1, tag="good"), EVENTS, partitions={"ds": [D1]})
    good, version = fingerprint(lake.read("test.events")), lake.version("test.events")

    killed = _worker(lake_root, "killed", [{"op": "overwrite", "ds": D1.isoformat(), "tag": "killed", "kill": True}],
                     tmp_path / "kill", backend)
    _, err = killed.communicate(timeout=WAIT_S)
    assert killed.returncode == -9, err[-2000:]
    assert lake.version("test.events") == version
    assert fingerprint(lake.read("test.events")) == good
    orphans = lake.vacuum("test.events", retention_hours=0, dry_run=True)
    if backend == "embedded":
        assert orphans, "the killed writer's data files should be on disk, uncommitted"

    # The rerun, here by the test's own session: what the killed process left must not stand in its way.
    lake.overwrite(events(spark, D1, tag="rerun"), EVENTS, partitions={"ds": [D1]})
    assert fingerprint(lake.read("test.events")) == fingerprint(events(spark, D1, tag="rerun"))
    assert set(orphans) <= set(lake.vacuum("test.events", retention_hours=0, dry_run=False))
    live = set(pa.table(DeltaTable(str(path)).get_add_actions()).column("path").to_pylist())
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*.parquet") if "_delta_log" not in p.parts}
    assert on_disk == live, "after a vacuum only the live files stay"


@pytest.mark.backend("native")
def test_colliding_native_writers_never_mix(spark, lake, lake_root, tmp_path):
    """Two delta-spark processes overwrite one partition, released together, three times: each
    write commits or fails with CommitConflictError, committed versions are consecutive, and
    the partition always holds exactly the rows of the last write that committed."""
    lake.overwrite(events(spark, D1, 5, tag="seed"), EVENTS, partitions={"ds": [D1]})
    rounds = 3
    plans = {name: [{"op": "overwrite", "ds": D1.isoformat(), "tag": f"r{r}{name}", "n": 30 + 10 * i + r, "hold": True}
                    for r in range(rounds)] for i, name in enumerate("AB")}
    sync = tmp_path / "sync"
    procs = [_worker(lake_root, name, plan, sync, "native") for name, plan in plans.items()]
    path = lake.path("test.events")
    try:
        for r in range(rounds):
            for name in "AB":
                _wait_for(sync / f"{r}.{name}.ready", procs)
            start = DeltaTable(str(path)).version()
            for name in "AB":
                (sync / f"{r}.{name}.go").touch()
            for name in "AB":
                _wait_for(sync / f"{r}.{name}.json", procs)
            outcomes = [json.loads((sync / f"{r}.{name}.json").read_text()) for name in "AB"]
            won = sorted((o for o in outcomes if o["ok"]), key=lambda o: o["version"])
            assert won, f"round {r}: no writer committed: {outcomes}"
            assert [o["version"] for o in won] == list(range(start + 1, start + 1 + len(won))), outcomes
            for o in outcomes:
                assert o["ok"] or (o["error"] == "CommitConflictError" and "test.events" in o["message"]), o
            last = won[-1]
            n = next(w["n"] for plan in plans.values() for w in plan if w["tag"] == last["tag"])
            expected = tuple(sorted((D1, f"{last['tag']}-{i}") for i in range(n)))
            assert _state(path) == expected, f"round {r}: the partition is not the last winner's rows: {outcomes}"
    finally:
        for proc in procs:
            proc.kill() if proc.poll() is None else None
            proc.communicate()


@pytest.mark.backend("native")
def test_a_native_write_whose_commit_another_driver_replaced_says_so(spark, lake, lake_root):
    """delta-spark on S3 guards a version within one driver only: a second driver can write the
    same ``NNN.json`` over the first's. The first write must then fail with CommitConflictError,
    never report the other writer's commit (or version 0) as its own. Here the replacement is
    made by hand: the commit file keeps its actions but carries another write's id."""
    lake.overwrite(events(spark, D1, 5, tag="seed"), EVENTS, partitions={"ds": [D1]})
    mine = lake.overwrite(events(spark, D1, 7, tag="mine"), EVENTS, partitions={"ds": [D1]})
    log = lake.path("test.events") / "_delta_log" / f"{mine.version:020d}.json"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    info = next(a["commitInfo"] for a in lines if "commitInfo" in a)
    write_id = json.loads(info["userMetadata"])["lakeops.write_id"]
    assert lake._result(EVENTS, write_id, since=mine.version - 1).version == mine.version  # found while it is there

    info["userMetadata"] = json.dumps({**json.loads(info["userMetadata"]), "lakeops.write_id": "another-driver"})
    log.write_text("\n".join(json.dumps(a) for a in lines) + "\n")
    with pytest.raises(CommitConflictError, match=r"test\.events: this write's commit is not in the table's log"):
        lake._result(EVENTS, write_id, since=mine.version - 1)
