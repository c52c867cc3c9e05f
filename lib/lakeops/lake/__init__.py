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
from lakeops.lake.mapping import Scan
from lakeops.lake.spec import PartitionSelection, TableSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeops.config import LakeConfig

__all__ = ["Lake", "PartitionSelection", "Scan", "TableSpec", "WriteResult", "open_lake"]


def open_lake(spark: SparkSession, cfg: LakeConfig) -> Lake:
    """The lake at ``cfg.root`` through the configured backend."""
    if cfg.backend == "native":
        from lakeops.lake.native import NativeLake
        from lakeops.spark import has_delta

        if not has_delta(spark):
            raise EnvironmentProblem(
                "lake.backend is 'native' but this Spark session has no Delta jars: build it with "
                "delta (lakeops does when lake.backend=native) on a machine that can fetch them, "
                "or use lake.backend=embedded"
            )
        return NativeLake(spark, cfg.root, commit_retries=cfg.commit_retries)
    from lakeops.lake.embedded import EmbeddedLake

    return EmbeddedLake(spark, cfg.root, commit_retries=cfg.commit_retries)
