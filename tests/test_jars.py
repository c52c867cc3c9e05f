"""The jar folder: what a missing jar says, which jars are kept, that the fetched ones load."""

from __future__ import annotations

import zipfile

import pytest

from lakeops import jars
from lakeops.errors import EnvironmentProblem


def test_a_missing_group_names_the_command_that_fetches_it(tmp_path):
    with pytest.raises(EnvironmentProblem, match=r"make jars.*LAKEOPS_JARS_DIR"):
        jars.group_jars("delta", folder=tmp_path)
    (tmp_path / "s3").mkdir()
    (tmp_path / "s3" / "hadoop-aws-3.4.2.jar").write_bytes(b"")  # a fetch that never finished
    with pytest.raises(EnvironmentProblem, match="hadoop-aws"):
        jars.group_jars("s3", folder=tmp_path)


def test_the_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEOPS_JARS_DIR", str(tmp_path))
    assert jars.jars_dir() == tmp_path.resolve()


@pytest.mark.parametrize(("name", "artifact"), [
    ("jackson-core-2.13.5.jar", "jackson-core"),
    ("delta-spark_4.1_2.13-4.4.0.jar", "delta-spark_4.1_2.13"),
    ("wildfly-openssl-2.1.4.Final.jar", "wildfly-openssl"),
    ("hadoop-client-api-3.4.2.jar", "hadoop-client-api"),
])
def test_artifact_names(name, artifact):
    assert jars._artifact(name) == artifact


def test_jars_pyspark_ships_are_dropped(tmp_path):
    for name in ("hadoop-client-runtime-3.4.2.jar", "jackson-databind-2.13.5.jar", "delta-storage-4.4.0.jar"):
        (tmp_path / name).write_bytes(b"")
    kept = jars._drop_shipped(tmp_path)
    assert [j.name for j in kept] == ["delta-storage-4.4.0.jar"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delta-storage-4.4.0.jar"]


def test_the_fetched_groups_hold_their_classes():
    """`make test` fetched them: each group has the class its users need, and only jars pyspark lacks."""
    from pathlib import Path

    import pyspark

    shipped = {jars._artifact(j.name) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    for group, marker in jars._MARKERS.items():
        found = jars.group_jars(group)
        assert not {jars._artifact(j.name) for j in found} & shipped
        assert any(marker in zipfile.ZipFile(j).namelist() for j in found), group
    assert any(j.name == f"delta-spark_4.1_2.13-{jars.DELTA_VERSION}.jar" for j in jars.group_jars("delta"))


def test_the_python_package_matches_the_jar():
    from importlib.metadata import version

    assert version("delta-spark") == jars.DELTA_VERSION
