"""The package's tests query the shared whole-loop lakehouse (tests/looplake.py)."""

from __future__ import annotations

import pytest
from looplake import SmallLake


@pytest.fixture(scope="package")
def small_lake(loop_lake) -> SmallLake:
    return loop_lake
