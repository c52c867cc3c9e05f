"""One Spark session for the whole test run, and a fresh lake per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeops.config import load_settings

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="session")
def settings():
    """The test environment's settings (conf/test overlay: local[2], 2 shuffle partitions)."""
    return load_settings(conf_dir=CONF_DIR, env="test")


@pytest.fixture(scope="session")
def spark(settings):
    from lakeops.spark import get_session

    session = get_session(settings.spark)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def lake_root(tmp_path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def lake(spark, settings, lake_root):
    from dataclasses import replace

    from lakeops.lake import open_lake

    return open_lake(spark, replace(settings.lake, root=str(lake_root)))
