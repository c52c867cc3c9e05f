"""Shared evaluation code: what the stages use to apply a model and judge data and models.

- :mod:`~lakeops.evaluate.encoding`: a model's input encoding (categories frozen at training).
- :mod:`~lakeops.evaluate.scoring`: labels and scores of a Spark DataFrame, for evaluation.
- :mod:`~lakeops.evaluate.metrics`: binary classification metrics.
- :mod:`~lakeops.evaluate.bins`: bucketing a column against frozen baseline bins
  (training freezes the bins, monitoring counts each day against them).
- :mod:`~lakeops.evaluate.attribution`: mean |SHAP| per feature on a seeded sample, and
  the nDCG of a ranking against training (training freezes it, monitoring compares each day).

Training, the gate and monitoring import these; none of them imports another stage.
Reads and writes no tables.
"""
