"""The training window the DAG prepares and training reads (no Spark, no Airflow)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from lakeops.errors import InvalidParameterError
from lakeops.train.window import training_window


def test_the_window_ends_at_ds_and_counts_it():
    assert training_window(date(2024, 1, 31), window_days=28) == (date(2024, 1, 4), date(2024, 1, 31))


def test_a_one_day_window_is_the_day_itself():
    assert training_window(date(2024, 3, 1), window_days=1) == (date(2024, 3, 1), date(2024, 3, 1))


def test_the_window_crosses_a_leap_day_and_a_year():
    assert training_window(date(2024, 3, 1), window_days=3) == (date(2024, 2, 28), date(2024, 3, 1))
    assert training_window(date(2024, 1, 2), window_days=5) == (date(2023, 12, 29), date(2024, 1, 2))


@pytest.mark.parametrize("width", [0, -3, 2.0, True, "28"])
def test_a_window_of_no_days_is_refused(width):
    with pytest.raises(InvalidParameterError, match="window_days"):
        training_window(date(2024, 1, 31), window_days=width)


def test_importing_it_stays_light_for_the_dag():
    # The DAG imports it inside a task: no Spark, pyarrow or config loading behind it.
    code = ("import sys, lakeops.train.window; "
            "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "{'pyspark', 'pyarrow', 'numpy', 'yaml', 'mlflow'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
