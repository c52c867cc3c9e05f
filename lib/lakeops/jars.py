"""The JVM jars a Spark session needs beyond pyspark's own: Delta and hadoop-aws.

Fetched once into a folder (``make jars``, ``python -m lakeops.jars``), then named
in ``spark.jars`` by :mod:`lakeops.spark`, so no session resolves packages at
start-up. Two groups:

- ``delta``: ``io.delta:delta-spark`` for Spark 4.1 (the native backend, Spark SQL
  on Delta), pinned to the ``delta-spark`` Python package's version;
- ``s3``: ``org.apache.hadoop:hadoop-aws`` at pyspark's Hadoop version with its AWS
  SDK bundle (an ``s3a://`` lakehouse).

The Maven client fetches them (``mvn dependency:copy-dependencies``); without it,
Spark's own Ivy resolution (``spark.jars.packages``) does. Jars pyspark already
ships (Hadoop client, Parquet, Jackson, Scala, logging) are left out, so the
session keeps pyspark's versions. The folder is ``LAKEOPS_JARS_DIR``, else
``.jars/`` in a source checkout, else ``~/.cache/lakeops/jars``. Reads and writes
no tables.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lakeops.errors import EnvironmentProblem

#: The Delta release whose jar Maven Central serves for Spark 4.1; pyproject pins the
#: Python package to the same version (its API calls these classes).
DELTA_VERSION = "4.4.0"
#: The Hadoop line inside pyspark 4.1's jars: hadoop-aws must match it.
HADOOP_VERSION = "3.4.2"

GROUPS: dict[str, tuple[str, ...]] = {
    "delta": (f"io.delta:delta-spark_4.1_2.13:{DELTA_VERSION}",),
    "s3": (f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",),
}
#: The class each group must provide; checked after fetching.
_MARKERS = {"delta": "io/delta/tables/DeltaTable.class", "s3": "org/apache/hadoop/fs/s3a/S3AFileSystem.class"}
FETCH_COMMAND = "make jars"


def jars_dir() -> Path:
    """Where the jars live: ``LAKEOPS_JARS_DIR``, a checkout's ``.jars/``, or the user cache."""
    if os.environ.get("LAKEOPS_JARS_DIR"):
        return Path(os.environ["LAKEOPS_JARS_DIR"]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "lib" / "lakeops").is_dir():
        return checkout / ".jars"
    return Path.home() / ".cache" / "lakeops" / "jars"


def group_jars(group: str, *, folder: Path | None = None) -> list[Path]:
    """The fetched jars of ``group``.

    Raises:
        EnvironmentProblem: they were never fetched; the message names the command.
    """
    where = (folder or jars_dir()) / group
    found = sorted(where.glob("*.jar")) if (where / _COMPLETE).is_file() else []
    if not found:
        what = "Delta (lake.backend=native, Spark SQL on Delta)" if group == "delta" else "hadoop-aws (an s3a:// lake)"
        raise EnvironmentProblem(
            f"the {what} jars are not in {where}: run `{FETCH_COMMAND}` (or `python -m lakeops.jars {group}`) "
            "once on a machine that reaches Maven Central, or set LAKEOPS_JARS_DIR to a folder that has them"
        )
    return found


_COMPLETE = ".complete"


def fetch(groups: Sequence[str], *, folder: Path | None = None, force: bool = False) -> dict[str, list[Path]]:
    """Fetch each group's jars into ``<folder>/<group>/`` unless already there.

    Raises:
        EnvironmentProblem: neither Maven nor Spark could fetch them.
    """
    folder = folder or jars_dir()
    done = {}
    for group in groups:
        if group not in GROUPS:
            raise EnvironmentProblem(f"unknown jar group {group!r}: expected one of {sorted(GROUPS)}")
        target = folder / group
        if force or not (target / _COMPLETE).is_file():
            _fetch_group(group, target)
        done[group] = group_jars(group, folder=folder)
    return done


def _fetch_group(group: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{group}-") as tmp:
        staging = Path(tmp) / "jars"
        errors = []
        for how in (_with_maven, _with_spark):
            try:
                how(GROUPS[group], staging)
                break
            except EnvironmentProblem as exc:
                errors.append(str(exc))
                shutil.rmtree(staging, ignore_errors=True)
        else:
            raise EnvironmentProblem(f"could not fetch the {group} jars: " + "; ".join(errors))
        kept = _drop_shipped(staging)
        _check_marker(group, kept)
        (staging / _COMPLETE).write_text("\n".join(GROUPS[group]) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # the group appears whole or not at all


def _with_maven(coordinates: Sequence[str], out: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EnvironmentProblem("the Maven client (mvn) is not installed")
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in (c.split(":") for c in coordinates)
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>lakeops</groupId><artifactId>lakeops-jars</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(pom)
        proc = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out}"],
            cwd=tmp, capture_output=True, text=True, check=False,
        )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise EnvironmentProblem(f"mvn could not resolve {', '.join(coordinates)}: {' | '.join(tail)}")


def _with_spark(coordinates: Sequence[str], out: Path) -> None:
    """Spark's own resolution: a throwaway session with ``spark.jars.packages`` fills an Ivy folder."""
    ivy = out.parent / "ivy"
    code = (
        "import sys\nfrom pyspark.sql import SparkSession\n"
        "s = SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
        ".config('spark.jars.packages', sys.argv[1]).config('spark.jars.ivy', sys.argv[2]).getOrCreate()\n"
        "s.stop()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, ",".join(coordinates), str(ivy)],
                          capture_output=True, text=True, check=False, timeout=1800)
    fetched = sorted((ivy / "jars").glob("*.jar")) if (ivy / "jars").is_dir() else []
    if proc.returncode != 0 or not fetched:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no jars"]
        raise EnvironmentProblem(f"Spark could not resolve {', '.join(coordinates)}: {tail[0]}")
    out.mkdir(parents=True)
    for jar in fetched:
        # Ivy names them <group>_<artifact>-<version>.jar; Maven's names are <artifact>-<version>.jar.
        group_id, sep, rest = jar.name.partition("_")
        shutil.copy2(jar, out / (rest if sep and "." in group_id else jar.name))


def _artifact(jar_name: str) -> str:
    """``jackson-core-2.13.5.jar`` -> ``jackson-core``."""
    return re.sub(r"-\d[^-]*(-[A-Za-z]+)?\.jar$", "", jar_name)


def _drop_shipped(folder: Path) -> list[Path]:
    """Remove jars whose artifact pyspark already ships (its version wins); return the rest."""
    import pyspark

    shipped = {_artifact(j.name) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    kept = []
    for jar in sorted(folder.glob("*.jar")):
        if _artifact(jar.name) in shipped:
            jar.unlink()
        else:
            kept.append(jar)
    return kept


def _check_marker(group: str, jars: Sequence[Path]) -> None:
    import zipfile

    for jar in jars:
        with zipfile.ZipFile(jar) as archive:
            try:
                archive.getinfo(_MARKERS[group])
                return
            except KeyError:
                continue
    raise EnvironmentProblem(f"the fetched {group} jars lack {_MARKERS[group]}; nothing was kept")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakeops.jars",
        description="Fetch the Delta and hadoop-aws jars into the lakeops jar folder (once; later runs reuse them).",
    )
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=f"which jars: {', '.join(sorted(GROUPS))} (default: all)")
    parser.add_argument("--dir", type=Path, default=None, help=f"target folder (default: {jars_dir()})")
    parser.add_argument("--force", action="store_true", help="fetch again even if present")
    args = parser.parse_args(argv)
    try:
        done = fetch(args.groups or sorted(GROUPS), folder=args.dir, force=args.force)
    except EnvironmentProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for group, jars in done.items():
        size = sum(j.stat().st_size for j in jars) / 2**20
        print(f"{group}: {len(jars)} jars, {size:.0f} MiB in {jars[0].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
