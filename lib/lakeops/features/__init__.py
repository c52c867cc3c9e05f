"""Prepare: a model's feature table, built by its feature SQL behind the data-quality gate.

Reads the model's source tables; writes ``features.<model>`` and ``ml.data_quality``.
The table's contract is :func:`lakeops.lake.tables.features_spec`.
"""

from lakeops.features.prepare import PrepareResult, QualityGateError, prepare

__all__ = ["PrepareResult", "QualityGateError", "prepare"]
