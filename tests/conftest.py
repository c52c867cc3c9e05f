"""One Spark session for the whole test run, and a fresh lake per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakeops.config import load_settings

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Two groups for ``make test`` (``pytest -n 2 --dist loadgroup``): the real-Airflow tests,
    which mostly wait on a scheduler and on spark-submits, and everything else. Each group is one
    unit of work for one worker, in file order, so module and package fixtures are built once.

    A scheduler rather than ``xdist_group`` marks: with pytest 9, xdist 3.8's renaming of node
    ids for those marks has no effect, and the groups silently split.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TwoGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            # The object-store tests (a server and writer processes), the two trainers against an
            # MLflow server and the month of daily cycles even out the two workers' loads.
            return "airflow" if nodeid.startswith(("tests/dags/", "tests/test_object_store.py",
                                                   "tests/test_registry_server.py",
                                                   "tests/upkeep/test_soak.py")) else "lakeops"

    return TwoGroups(config, log)


def pytest_collection_modifyitems(config, items):
    """Mark what a test costs: ``spark`` when it needs the session's Spark (directly or through a
    fixture), so ``-m "not spark"`` runs the pure-Python tests alone in seconds."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def settings():
    """The test environment's settings (conf/test overlay: local[2], 2 shuffle partitions)."""
    return load_settings(conf_dir=CONF_DIR, env="test")


@pytest.fixture(scope="session")
def spark(settings):
    """The Spark session, with the Delta and hadoop-aws jars: both backends, on folders and on S3."""
    from s3server import ACCESS_KEY, REGION, SECRET_KEY

    from lakeops.spark import get_session

    # s3a reads credentials from the JVM's environment, fixed when it starts (as on a real
    # cluster), so the S3 tests' credentials are there before the session; they name no server.
    for key, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
                       ("AWS_REGION", REGION)):
        os.environ.setdefault(key, value)
    session = get_session(settings.spark, delta=True, s3=True)
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
