"""lakeops: batch machine learning on a Delta Lake lakehouse.

The library behind the ``lakeops`` command, ``jobs/`` and the Airflow DAGs.
One folder per lifecycle stage (``synth``, ``features``, ``quality``, ``train``,
``gate``, ``score``), shared evaluation code (``evaluate``), the shared floor
(``lake``, ``config``, ``registry``, ``runs``, ``spark``, ``names``, ``dates``,
``errors``) and one entry per stage in :mod:`lakeops.stages`. Every module's
docstring names the tables it reads and writes.
"""

__version__ = "0.1.0"
