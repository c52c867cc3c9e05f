"""The DAG tests run Airflow's own CLI from this virtual environment (without it they skip), its
metadata DB on a PostgreSQL server of the session's own."""

from __future__ import annotations

import pytest
from local_airflow import AIRFLOW
from local_postgres import LocalPostgres


def pytest_configure(config):
    config.addinivalue_line("markers", "airflow: runs Airflow 3 itself (its CLI, scheduler, API server)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent.name == "dags" and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.airflow)
            if not AIRFLOW.exists():
                item.add_marker(pytest.mark.skip(reason=f"no {AIRFLOW}: pip install -e '.[dev]'"))


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1 for the session (a database per Airflow home), stopped at its end."""
    with LocalPostgres.temporary() as server:
        yield server
