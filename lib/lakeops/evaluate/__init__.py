"""Shared model evaluation: what the stages use to apply a model and judge it.

- :mod:`~lakeops.evaluate.encoding`: a model's input encoding (categories frozen at training).
- :mod:`~lakeops.evaluate.calibration`: the Platt calibrator that maps a booster's margin to a probability.
- :mod:`~lakeops.evaluate.scoring`: labels and scores of a Spark DataFrame, for evaluation.
- :mod:`~lakeops.evaluate.metrics`: binary classification metrics.
- :mod:`~lakeops.evaluate.binary`: realised and estimated (CBPE) metrics from score
  histograms, with its compiled loop :mod:`~lakeops.evaluate._binary_kernel`.
- :mod:`~lakeops.evaluate.problems`: what differs by problem type (binary, regression, multiclass),
  stated once per type.
- :mod:`~lakeops.evaluate.interval`, :mod:`~lakeops.evaluate.regression`: a regression model's
  conformal interval, and its realised and estimated (DLE) errors from mergeable tallies.
- :mod:`~lakeops.evaluate.multiclass`: a multiclass model's temperature-scaled output, and its
  realised and estimated (CBPE one-vs-rest) metrics from mergeable tallies.
- :mod:`~lakeops.evaluate.attribution`: mean |SHAP| per feature on a seeded sample, and
  the nDCG of a ranking against training (training freezes it, monitoring compares each day).
- :mod:`~lakeops.evaluate.pyfunc_model`: the MLflow pyfunc model file (imports no lakeops).

Counting columns into baseline buckets (baselines, drift) is :mod:`lakeops.tally`.
Training, the gate, scoring and monitoring import these; none of them imports another stage.
Reads and writes no tables.
"""
