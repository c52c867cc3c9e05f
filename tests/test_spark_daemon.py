"""lakeops.spark_daemon: Python workers without Spark's zip archives, with a frozen heap."""

from __future__ import annotations

import zipfile

from lakeops.spark_daemon import without_spark_archives


def _archive(path, package: str):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{package}/__init__.py", "")
    return str(path)


def _package(root, name: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")


def test_archives_are_dropped_when_the_packages_are_installed(tmp_path):
    site = tmp_path / "site-packages"
    _package(site, "pyspark")
    _package(site, "py4j")
    lib = tmp_path / "spark" / "python" / "lib"
    lib.mkdir(parents=True)
    zips = [_archive(lib / "pyspark.zip", "pyspark"), _archive(lib / "py4j-0.10.9.9-src.zip", "py4j")]
    jar = _archive(tmp_path / "spark-core_2.13-4.1.4.jar", "org")
    other = _archive(tmp_path / "mylib.zip", "mylib")  # a user's archive stays
    path = ["", *zips, jar, other, str(site)]
    assert without_spark_archives(path) == ["", other, str(site)]


def test_archives_stay_when_a_package_lives_only_in_them(tmp_path):
    site = tmp_path / "site-packages"
    _package(site, "pyspark")  # py4j only in its zip, as in a bare SPARK_HOME
    py4j = _archive(tmp_path / "py4j-0.10.9.9-src.zip", "py4j")
    pyspark = _archive(tmp_path / "pyspark.zip", "pyspark")
    path = [pyspark, py4j, str(site)]
    assert without_spark_archives(path) is path


def test_a_folder_named_like_an_archive_is_not_an_archive(tmp_path):
    folder = tmp_path / "pyspark.zip"  # only files are archives
    folder.mkdir()
    path = [str(folder)]
    assert without_spark_archives(path) is path


def test_session_workers_run_the_lakeops_daemon(spark):
    """Workers import pyspark from site-packages and, after a task, have frozen their heap."""

    def probe(rows):
        import gc
        import sys

        import pyspark

        list(rows)  # a worker that leaves input unread is not reused
        return [(pyspark.__file__, [p for p in sys.path if p.endswith((".zip", ".jar"))], gc.get_freeze_count())]

    sc = spark.sparkContext
    assert sc.getConf().get("spark.python.daemon.module") == "lakeops.spark_daemon"
    sc.parallelize([1, 2], 2).mapPartitions(probe).collect()  # at least one task per worker has ended
    for pyspark_file, archives, frozen in sc.parallelize([1, 2], 2).mapPartitions(probe).collect():
        assert ".zip" not in pyspark_file
        assert not [a for a in archives if "pyspark" in a or "py4j" in a or "spark-core" in a]
        assert frozen > 0
