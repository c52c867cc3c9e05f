"""``job_run``'s cached frames: unpersisted when the run ends, either way (no Spark: fake frames)."""

from __future__ import annotations

from datetime import date

import pytest

from lakeops.runs import cached, job_run


class Frame:
    def __init__(self, events: list[str], name: str, *, fail_unpersist: bool = False) -> None:
        self.events, self.name, self.fail_unpersist = events, name, fail_unpersist

    def cache(self) -> Frame:
        self.events.append(f"cache {self.name}")
        return self

    def unpersist(self) -> Frame:
        self.events.append(f"unpersist {self.name}")
        if self.fail_unpersist:
            raise RuntimeError("the session is gone")
        return self


class Lake:
    """Records the ``ml.job_runs`` rows instead of writing them."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.rows: list[dict] = []

    def append_rows(self, rows, spec, *, metadata) -> None:
        self.rows += rows.to_pylist()
        self.events.append(f"record {self.rows[-1]['status']}")


DAYS = [date(2024, 1, 31)]


def test_frames_cached_by_the_run_are_unpersisted_newest_first_before_the_row():
    events: list[str] = []
    lake = Lake(events)
    with job_run(lake, job="test", model="m", days=DAYS) as run:
        first = run.cache(Frame(events, "a"))
        run.cache(Frame(events, "b"))
        assert first.name == "a"  # the frame itself comes back, cached
        events.append("work")
    assert events == ["cache a", "cache b", "work", "unpersist b", "unpersist a", "record success"]


def test_a_failed_run_unpersists_too_and_keeps_its_own_error():
    events: list[str] = []
    lake = Lake(events)
    with pytest.raises(ValueError, match="boom"), job_run(lake, job="test", model="m", days=DAYS) as run:
        run.cache(Frame(events, "a", fail_unpersist=True))
        raise ValueError("boom")
    assert events == ["cache a", "unpersist a", "record failed"]
    assert lake.rows[0]["error_message"] == "ValueError: boom"


def test_cached_holds_a_frame_for_the_block_only():
    events: list[str] = []
    with cached(Frame(events, "a")) as frame:
        events.append(f"use {frame.name}")
    events.append("after")
    assert events == ["cache a", "use a", "unpersist a", "after"]
    with pytest.raises(KeyError), cached(Frame(events, "b")):
        raise KeyError("x")
    assert events[-2:] == ["cache b", "unpersist b"]
