"""Data quality: lakeops' expectation config run as Great Expectations 1.x suites on Spark DataFrames
(or, for a day or two of rows, on one Arrow copy of them).

Reads and writes no tables; the caller (``features``) records outcomes in ``ml.data_quality``.
"""

from lakeops.data_quality.runner import LOCAL_ROWS, ExpectationOutcome, SuiteOutcome, run_suite, small_copy

__all__ = ["LOCAL_ROWS", "ExpectationOutcome", "SuiteOutcome", "run_suite", "small_copy"]
