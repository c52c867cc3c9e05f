"""Alerts: debounced rules over the monitoring tables, receivers, and retrain requests.

- :mod:`~lakeops.alert.rules`: each rule's condition on a day, from that day's monitoring rows.
- :mod:`~lakeops.alert.state`: pending -> firing -> resolved, the debounce, fingerprints, the retrain cooldown.
- :mod:`~lakeops.alert.notify`: the log and an Alertmanager-shaped webhook, with bounded retries.
- :mod:`~lakeops.alert.run`: reads the day's rows, judges, writes ``ml.alerts``, notifies.

Reads ``ml.drift_metrics``, ``ml.performance_metrics``, ``ml.performance_reference``,
``ml.data_quality``, ``ml.attribution_drift``, ``ml.drift_counts`` and ``ml.alerts``;
writes ``ml.alerts``.
"""

from lakeops.alert.run import AlertResult, RetrainRequest, evaluate_alerts

__all__ = ["AlertResult", "RetrainRequest", "evaluate_alerts"]
