"""The DAG tests run Airflow's own CLI from this virtual environment; without it they skip."""

from __future__ import annotations

import pytest
from local_airflow import AIRFLOW


def pytest_configure(config):
    config.addinivalue_line("markers", "airflow: runs Airflow 3 itself (its CLI, scheduler, API server)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent.name == "dags" and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.airflow)
            if not AIRFLOW.exists():
                item.add_marker(pytest.mark.skip(reason=f"no {AIRFLOW}: pip install -e '.[airflow]'"))
