"""Report: the daily drift report of a model, as self-contained HTML pages.

Reads ``ml.drift_metrics``, ``ml.drift_counts``, ``ml.baselines`` and, where the
lake has them, ``ml.performance_metrics``, ``ml.alerts``, ``ml.model_validations``
and ``ml.attribution_drift`` (and per problem type ``ml.performance_reference``,
a regression model's predictions and labels, a multiclass model's
``ml.class_metrics`` and ``ml.confusion_matrix``); writes ``<lake>/reports/<model>/<ds>.html``
and ``index.html`` (files; :func:`lakeops.stages.run_report` records the run in ``ml.job_runs``).
"""

from lakeops.report.write import ReportResult, report_folder, write_reports

__all__ = ["ReportResult", "report_folder", "write_reports"]
