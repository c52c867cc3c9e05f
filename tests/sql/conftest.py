"""The package's one lakehouse (see sqllake.py), built once for every test module here."""

from __future__ import annotations

import pytest
from sqllake import SmallLake, build


@pytest.fixture(scope="package")
def small_lake(spark, settings, tmp_path_factory) -> SmallLake:
    return build(spark, settings, tmp_path_factory.mktemp("sql") / "lake")
