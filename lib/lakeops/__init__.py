"""lakeops: batch machine learning on a Delta Lake lakehouse.

The library behind the ``lakeops`` command, ``jobs/`` and the Airflow DAGs.
One folder per lifecycle stage (``synth``, ``features``, ``train``, ``model_gate``,
``score``, ``monitor``, ``alert``, ``report``, ``upkeep``), shared code the stages
use (``data_quality``: the data-quality gate's suites; ``evaluate``: model evaluation;
``tally``: counting columns for baselines and drift; ``sql``: ``lakeops sql``), the shared
floor (``lake``, ``config``, ``constants``, ``registry``, ``runs``, ``spark``, ``names``,
``dates``, ``errors``), one entry per stage in :mod:`lakeops.stages` and what each stage
reads and writes, declared once, in :mod:`lakeops.stage_io`. Which package may
import which is written down as import-linter contracts in ``pyproject.toml``
(``lint-imports``). Every module's docstring names the tables it reads and writes.
"""

__version__ = "0.6.0"
