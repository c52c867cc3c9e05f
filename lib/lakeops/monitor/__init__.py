"""Monitoring: drift, profiles and the daily report of a model's inputs and scores.

- :mod:`~lakeops.monitor.run`: the monitoring run (one Spark job, three commits).
- :mod:`~lakeops.monitor.drift`: from counts to ``ml.drift_metrics``, ``ml.drift_counts`` and ``ml.profile_metrics`` rows.
- :mod:`~lakeops.monitor.stats`: PSI, JS, chi-square, KS and Wasserstein from bucket counts.

Reads ``features.<model>``, ``predictions.<model>``, ``ml.baselines``,
``ml.baseline_sketches`` and ``ml.drift_counts``; writes ``ml.drift_counts``,
``ml.drift_metrics`` and ``ml.profile_metrics``.
"""

from lakeops.monitor.run import DaySummary, MonitorResult, monitor

__all__ = ["DaySummary", "MonitorResult", "monitor"]
