"""The training window: the days a model trains on, ending at the run's ``ds``.

One rule for everyone who needs it: the Airflow DAG (``dags/lakeops_airflow.py``)
prepares these days before training, and training (:func:`lakeops.train.data.choose_window`)
reads them. Standard library only (and :mod:`lakeops.errors`, itself standard library):
the DAG process imports it, and must not pay for Spark or pyarrow. Reads and writes no tables.
"""

from __future__ import annotations

from datetime import date, timedelta

from lakeops.errors import InvalidParameterError


def training_window(ds: date, *, window_days: int) -> tuple[date, date]:
    """The first and last day of the ``window_days``-day window ending at ``ds`` (both included).

    Raises:
        InvalidParameterError: ``window_days`` is not a positive integer.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise InvalidParameterError(f"train.window_days must be a positive integer, got {window_days!r}")
    return ds - timedelta(days=window_days - 1), ds
