"""The lake layer: every Delta table lakeops reads or writes goes through here.

``open_lake`` picks the backend from config: ``embedded`` (Spark writes Parquet,
delta-rs commits the log; the default) or ``native`` (delta-spark). Table
contracts live in :mod:`lakeops.lake.tables`; listing without Spark in
:mod:`lakeops.lake.catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeops.errors import EnvironmentProblem
from lakeops.lake.base import Lake, WriteResult
from lakeops.lake.spec import PartitionSelection, TableSpec
from lakeops.lake.tasks import Scan

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeops.config import LakeConfig

__all__ = ["Lake", "PartitionSelection", "Scan", "TableSpec", "WriteResult", "open_lake"]


def open_lake(spark: SparkSession, cfg: LakeConfig) -> Lake:
    """The lake at ``cfg.root`` (a folder or ``s3://`` prefix) through the configured backend.

    Raises:
        EnvironmentProblem: the backend or the object store needs jars the session lacks.
    """
    from lakeops.lake.storage import storage_for

    storage = storage_for(cfg.root, options=cfg.storage_options)
    if not storage.local and spark is not None:  # without a session: Arrow reads and writes only
        _use_object_store(spark, storage)
    if cfg.backend == "native":
        from lakeops.lake.native import NativeLake
        from lakeops.spark import has_delta

        if not has_delta(spark):
            raise EnvironmentProblem(
                "lake.backend is 'native' but this Spark session has no Delta jars: build it with "
                "delta (lakeops does when lake.backend=native) on a machine that can fetch them, "
                "or use lake.backend=embedded"
            )
        return NativeLake(spark, cfg.root, commit_retries=cfg.commit_retries, storage_options=cfg.storage_options)
    from lakeops.lake.embedded import EmbeddedLake

    return EmbeddedLake(spark, cfg.root, commit_retries=cfg.commit_retries, storage_options=cfg.storage_options)


def _use_object_store(spark: SparkSession, storage) -> None:
    """Point the session's s3a file system at the store (settings only; credentials stay in the environment)."""
    from py4j.java_gateway import JavaClass

    jvm = spark._jvm  # noqa: SLF001
    if jvm is None:  # a Spark Connect session has no JVM view
        raise EnvironmentProblem("the lake layer needs a classic Spark session (not Spark Connect)")
    if not isinstance(jvm.org.apache.hadoop.fs.s3a.S3AFileSystem, JavaClass):
        raise EnvironmentProblem(
            f"the lake {storage.describe()} is on object storage but this Spark session has no hadoop-aws: "
            "build it with the s3 jars (lakeops does for an s3:// lake.root; run `make jars` once)"
        )
    hadoop = spark._jsc.hadoopConfiguration()  # noqa: SLF001
    for key, value in storage.hadoop_conf().items():
        hadoop.set(key, value)
