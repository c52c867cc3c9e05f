"""lakeops: batch machine learning on a Delta Lake lakehouse.

The library behind the ``lakeops`` command and the Airflow DAGs. Each stage
lives in its own module or package; every module's docstring names the tables
it reads and writes.
"""

__version__ = "0.1.0"
