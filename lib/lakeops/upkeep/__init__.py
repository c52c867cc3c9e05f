"""Keeping a lakehouse for years: ``lakeops upgrade`` and ``lakeops maintain``.

- :mod:`lakeops.upkeep.upgrade`: bring a lakehouse written by an earlier release to this
  release's table contracts (and follow a moved lakehouse's embedded MLflow store).
- :mod:`lakeops.upkeep.maintain`: compaction, checkpoints, vacuum that keeps what registered
  model versions' lineage needs, and optional retention of old partitions.
"""

from lakeops.upkeep.maintain import MaintainResult, TableMaintenance, maintain
from lakeops.upkeep.upgrade import UpgradePlan, apply_upgrade, plan_upgrade

__all__ = ["MaintainResult", "TableMaintenance", "UpgradePlan", "apply_upgrade", "maintain", "plan_upgrade"]
