"""lakeops: batch machine learning on a Delta Lake lakehouse.

The library behind the ``lakeops`` command, ``jobs/`` and the Airflow DAGs.
One folder per lifecycle stage (``synth``, ``features``, ``quality``, ``train``,
``gate``, ``score``, ``monitor``, ``alert``, ``report``), shared code the stages
use (``evaluate``: model evaluation; ``tally``: counting columns for baselines
and drift; ``sql``: ``lakeops sql``), the shared floor (``lake``, ``config``,
``constants``, ``registry``, ``runs``, ``spark``, ``names``, ``dates``,
``errors``) and one entry per stage in :mod:`lakeops.stages`. Which package may
import which is written down as import-linter contracts in ``pyproject.toml``
(``lint-imports``). Every module's docstring names the tables it reads and writes.
"""

__version__ = "0.6.0"
