"""PySpark's worker daemon with two costs per Python task removed.

:mod:`lakeops.spark` selects this module through ``spark.python.daemon.module``.
It runs ``pyspark.daemon`` unchanged except for two things, each a cost paid by
a reused worker before every task:

- **Spark's zip archives leave ``sys.path``.** Spark starts workers with
  ``PYTHONPATH`` beginning with its own copies of pyspark and py4j as zips (and
  the spark-core jar). A reused worker calls ``importlib.invalidate_caches()``
  before every task, and on Python 3.11 each zip importer then re-reads its
  whole archive directory, once per imported pyspark sub-package, before every
  task starts. When pyspark and
  py4j are installed as ordinary packages (a pip install) the archives only
  shadow them with the same code; when either lives only in an archive (a
  cluster's ``SPARK_HOME`` without a pip install) nothing is dropped.
- **Long-lived objects leave the garbage collector's view.** After every task
  the daemon runs a full ``gc.collect()``; once a worker has imported xgboost
  and numba that walks hundreds of thousands of objects and delays the next task
  sent to that worker. After each task this module collects once more and
  freezes what survived (``gc.freeze``), so later collections only walk what the
  next task allocates. The task's output is flushed first, so the task itself
  does not wait for this.

Together with Unix sockets between the JVM and its workers (also set in
:mod:`lakeops.spark`), a Python task starts sooner after ``collect()``.

Reads and writes no tables.
"""

from __future__ import annotations

import gc
import importlib.machinery
import os
import re
import sys
from typing import IO

#: The archives Spark puts on a worker's PYTHONPATH (``PythonUtils.sparkPythonPath``).
_SPARK_ARCHIVE = re.compile(r"(pyspark\.zip|py4j-[\w.]+-src\.zip|spark-core_[\w.-]+\.jar)")


def without_spark_archives(path: list[str]) -> list[str]:
    """``path`` less Spark's archives, or ``path`` itself if pyspark or py4j would then not import."""
    kept = [p for p in path if not (_SPARK_ARCHIVE.fullmatch(os.path.basename(p)) and os.path.isfile(p))]
    if len(kept) == len(path):
        return path
    finder = importlib.machinery.PathFinder
    if all(finder.find_spec(name, kept) is not None for name in ("pyspark", "py4j")):
        return kept
    return path


def _freezing(worker_main):
    def main(infile: IO[bytes], outfile: IO[bytes]) -> None:
        try:
            worker_main(infile, outfile)
        finally:
            try:
                outfile.flush()  # the JVM sees the task end before the collection below
            except OSError:
                # The JVM closed the socket (it stopped, or killed the task): nobody is left to
                # tell anything, and pyspark's own flush would print a BrokenPipeError traceback.
                os._exit(0)
            # Young generations only: walking the whole heap is the cost being avoided. Cyclic
            # garbage that already reached the oldest generation stays; that is rare and bounded.
            gc.collect(1)
            gc.freeze()

    return main


def main() -> None:
    kept = without_spark_archives(sys.path)
    for dropped in set(sys.path) - set(kept):
        # Finding this module already made importers for the archives: forget them too.
        sys.path_importer_cache.pop(dropped, None)
    sys.path[:] = kept
    # Imported, not run: its module code picks the worker module from sys.argv[1]
    # (Spark passes it) and `manager()` is what running it as __main__ would call.
    import pyspark.daemon as daemon

    daemon.worker_main = _freezing(daemon.worker_main)
    daemon.manager()


if __name__ == "__main__":
    main()
