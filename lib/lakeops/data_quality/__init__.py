"""Data quality: lakeops' expectation config run as Great Expectations 1.x suites on Spark DataFrames.

Reads and writes no tables; the caller (``features``) records outcomes in ``ml.data_quality``.
"""

from lakeops.data_quality.runner import ExpectationOutcome, SuiteOutcome, run_suite

__all__ = ["ExpectationOutcome", "SuiteOutcome", "run_suite"]
