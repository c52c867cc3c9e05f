"""Monitoring: drift, profiles and the daily report of a model's inputs and scores.

- :mod:`~lakeops.monitor.run`: the monitoring run (one Spark job, three commits).
- :mod:`~lakeops.monitor.drift`: from counts to ``ml.drift_metrics``, ``ml.drift_counts`` and ``ml.profile_metrics`` rows.
- :mod:`~lakeops.monitor.stats`: PSI, JS, chi-square, KS and Wasserstein from bucket counts.
- :mod:`~lakeops.monitor.attribution`: attribution drift, mean |SHAP| per feature against training.

Reads ``features.<model>``, ``predictions.<model>``, ``ml.baselines``,
``ml.baseline_sketches``, ``ml.drift_counts`` and ``ml.attribution_reference``; writes
``ml.drift_counts``, ``ml.drift_metrics``, ``ml.profile_metrics`` and ``ml.attribution_drift``.
"""

from lakeops.monitor.run import DaySummary, MonitorResult, monitor

__all__ = ["DaySummary", "MonitorResult", "monitor"]
