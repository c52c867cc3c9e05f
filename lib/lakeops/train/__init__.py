"""Train: distributed XGBoost on a model's feature window, tracked in MLflow.

Reads ``features.<model>`` and ``ml.data_quality``; writes an MLflow run, a
registered version with the alias ``challenger`` and ``ml.baselines``.
:mod:`~lakeops.train.pipeline` is the face; ``window``, ``data``, ``categories``, ``fit``
and ``baselines`` are its parts.
"""
