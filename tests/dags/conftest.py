"""The DAG tests run Airflow's own CLI from this virtual environment (without it they skip), its
metadata DB on a PostgreSQL server of the session's own, and MLflow as a tracking server on it."""

from __future__ import annotations

import pytest
from local_airflow import AIRFLOW
from local_mlflow import LocalMlflow
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


@pytest.fixture(scope="session")
def mlflow_server(postgres, tmp_path_factory):
    """``mlflow server`` on 127.0.0.1 for the session, as the tasks of ``make airflow`` use it: runs
    and registry in the database ``mlflow`` of :func:`postgres`, stopped at the session's end.

    Its ``url`` is the tracking URI (``lakeops_mlflow_tracking_uri``, ``mlflow.tracking_uri``).
    lakeops creates each model's experiment with its artifacts in the lake that first trains the
    model (``<lake>/mlartifacts/<model>``), so one lake per model and session; the server's own
    default artifact root serves only experiments made without a location.
    """
    with LocalMlflow.temporary(postgres, artifact_root=tmp_path_factory.mktemp("mlflow") / "mlartifacts") as server:
        yield server
