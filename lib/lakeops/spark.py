"""The one place a SparkSession is built.

:func:`configure_builder` takes a builder and returns it with lakeops' settings
applied, so a caller (a test fixture, a notebook, a cluster launcher) keeps
control of the builder, in the manner of delta's ``configure_spark_with_delta_pip``.
:func:`get_session` is the common case. Reads and writes no tables.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from lakeops.config import SparkConfig
from lakeops.errors import EnvironmentProblem
from lakeops.jars import group_jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

MIN_JAVA = 17

#: Settings every lakeops session gets; config may override all but the ones in
#: ``_REQUIRED``, which the embedded Delta backend depends on.
_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # Arrow makes the pandas/Arrow conversions (generator, scoring) cheap.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    # Python tasks start sooner: workers that import pyspark from site-packages
    # instead of Spark's zips (see lakeops.spark_daemon), and Unix sockets instead
    # of TCP between the JVM and its workers, where small writes wait on delayed ACKs.
    "spark.python.daemon.module": "lakeops.spark_daemon",
    "spark.python.unix.domain.socket.enabled": "true",
}
_REQUIRED = {
    # Delta readers expect INT64 microsecond timestamps, not Spark's legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # No _SUCCESS marker files inside table folders.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    # No hidden .crc side files next to every data file on local disks.
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "spark.hadoop.fs.file.impl.disable.cache": "true",
}
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Delta's SQL parser drops Spark 4.1's parameter context (delta-io/delta#7640), so
    # IDENTIFIER(:observations) in feature SQL would fail; Spark's rule-based substitution,
    # which binds :params in queries as before 4.1, goes around it.
    "spark.sql.legacy.parameterSubstitution.constantsOnly": "true",
    # A small table's snapshot is built in a few tasks, not 50 (delta-spark's default).
    "spark.databricks.delta.snapshotPartitions": "2",
}


def check_java() -> int:
    """Return the Java major version, or raise with what to install.

    Raises:
        EnvironmentProblem: Java is missing or older than 17.
    """
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not os.path.exists(java):
        raise EnvironmentProblem(
            "Java was not found: Spark 4 needs Java 17 or 21. Install it "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise EnvironmentProblem(f"could not read the Java version from `{java} -version`: {out.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise EnvironmentProblem(
            f"Java {major} found at {java}; Spark 4 needs Java 17 or 21. Install a newer JDK or set JAVA_HOME."
        )
    return major


def configure_builder(
    builder: SparkSession.Builder, cfg: SparkConfig, *, delta: bool = False, s3: bool = False,
    progress: bool = False,
) -> SparkSession.Builder:
    """Apply ``cfg`` to ``builder``: with ``delta`` the Delta jars and its SQL extension and
    catalog (the native backend, Spark SQL on Delta); with ``s3`` hadoop-aws (an ``s3a://`` lake).

    The jars come from the folder :mod:`lakeops.jars` fetches into, named in
    ``spark.jars`` (with any ``spark.jars`` of ``cfg``), so nothing is resolved at start-up.
    ``progress`` turns on Spark's console progress bar (for a terminal).

    Raises:
        EnvironmentProblem: the jars asked for were never fetched (names the command).
    """
    builder = builder.master(cfg.master).appName(cfg.app_name)
    settings = dict(_DEFAULTS)
    settings["spark.sql.shuffle.partitions"] = str(cfg.shuffle_partitions)
    settings["spark.driver.memory"] = cfg.driver_memory
    if progress:
        settings["spark.ui.showConsoleProgress"] = "true"
    settings.update(cfg.conf)
    settings.update(_REQUIRED)
    jars = [j for j in settings.get("spark.jars", "").split(",") if j]
    for group, wanted in (("delta", delta), ("s3", s3)):
        if wanted:
            jars += [str(j) for j in group_jars(group)]
    if jars:
        settings["spark.jars"] = ",".join(dict.fromkeys(jars))
    if delta:
        settings.update(_DELTA_CONF)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder


def get_session(
    cfg: SparkConfig, *, delta: bool = False, s3: bool = False, progress: bool = False
) -> SparkSession:
    """Build (or return the running) SparkSession for ``cfg``.

    Executors run the same Python as the driver unless ``PYSPARK_PYTHON`` says
    otherwise, so a cluster on this machine uses the project's virtual environment.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:  # a running session's JVM answers for Java (the check runs `java -version`)
        check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if cfg.master.startswith("local"):
        # Bind to loopback: nothing outside this machine should reach a local session.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if active is not None and active.sparkContext.master != cfg.master:
        # getOrCreate would hand back the running session and ignore cfg.
        log.warning("a Spark session (%s) is already running; %s from config is ignored",
                    active.sparkContext.master, cfg.master)
    builder = configure_builder(SparkSession.builder, cfg, delta=delta, s3=s3, progress=progress)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def has_delta(spark: SparkSession) -> bool:
    """True when the session can run delta-spark (its jars are on the classpath)."""
    from py4j.java_gateway import JavaClass

    # py4j resolves a loaded class to JavaClass and anything else to a JavaPackage.
    jvm = spark._jvm  # noqa: SLF001
    return jvm is not None and isinstance(jvm.io.delta.tables.DeltaTable, JavaClass)
