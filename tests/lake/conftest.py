"""The lake contract runs on both backends: every test here gets ``lake`` once per backend.

A test about one backend's own machinery (the embedded backend's write folders, its
commit hook, its delta-rs conflict check) says so with ``@pytest.mark.backend("embedded")``
and a reason in its docstring.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

BACKENDS = ("embedded", "native")


def pytest_configure(config):
    config.addinivalue_line("markers", "backend(*names): run the lake contract test on these backends only")


def pytest_generate_tests(metafunc):
    """Each test once per backend; a ``backend``-marked test only on the backends it names.

    The native runs are marked ``slow`` (delta-spark plans every commit in the JVM): ``make
    check`` runs the contract on the embedded backend, ``make test`` on both."""
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backend")
        names = marker.args if marker else BACKENDS
        metafunc.parametrize("backend", [
            pytest.param(name, marks=pytest.mark.slow) if name == "native" else name for name in names])


@pytest.fixture
def lake(spark, settings, lake_root, backend):
    from lakeops.lake import open_lake

    return open_lake(spark, replace(settings.lake, root=str(lake_root), backend=backend))
