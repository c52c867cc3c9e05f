"""``lakeops upgrade``: bring a lakehouse written by an earlier release to this release's contracts.

Jobs refuse a lakehouse with a table that lacks columns of its contract
(:func:`lakeops.lake.catalog.check_contracts`, at every stage's start) and name this
command: an upgrade is a step the operator takes, once, like ``airflow db migrate`` or
``mlflow db upgrade``, never something a job does behind a concurrent job's back.

:func:`plan_upgrade` reads every table's Delta log (and the embedded MLflow store)
and says what it would change; :func:`apply_upgrade` applies it: per table, the
nullable columns its contract added (one commit), then the contract version in its
table properties (one commit); then the embedded MLflow store's artifact locations
when the lakehouse was moved (one SQLite transaction). Every step is a committed
version or nothing, and a rerun does what is left, so a process killed midway
leaves a lakehouse that the next ``lakeops upgrade`` finishes. Nothing is applied
when any table needs a change that cannot be made in place: those are listed with
the command that rewrites them.

Reads every contract table's log; writes metadata commits to the tables it upgrades
(``lakeops.operation = upgrade`` in their commit metadata) and ``<lake>/mlflow.db``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeops import __version__
from lakeops.lake.catalog import table_changes
from lakeops.lake.evolution import TableChange
from lakeops.lake.spec import TableSpec
from lakeops.lake.storage import Storage
from lakeops.registry_store import StoreMove, apply_move, find_move

if TYPE_CHECKING:
    from lakeops.lake import Lake


@dataclass(frozen=True)
class UpgradePlan:
    """What an upgrade of one lakehouse would change."""

    root: str
    #: Every existing table that has a contract, in contract order.
    tables: tuple[TableChange, ...]
    #: The embedded MLflow store points at the lakehouse's old folder (``None``: it does not).
    store: StoreMove | None

    @property
    def refused(self) -> tuple[TableChange, ...]:
        return tuple(c for c in self.tables if c.refused)

    @property
    def changes(self) -> tuple[TableChange, ...]:
        """The tables an upgrade commits to."""
        return tuple(c for c in self.tables if c.in_place)

    @property
    def needed(self) -> bool:
        return bool(self.changes or self.store)

    def lines(self) -> list[str]:
        """One line per change, then one per table already up to date (counted)."""
        out = [c.describe() for c in self.tables if c.refused or c.in_place]
        if self.store is not None:
            out.append(self.store.describe())
        current = len(self.tables) - len(self.changes) - len(self.refused)
        if current:
            out.append(f"{current} table(s) already up to date")
        return out


def plan_upgrade(storage: Storage, specs: Iterable[TableSpec]) -> UpgradePlan:
    """What :func:`apply_upgrade` would do to the lakehouse on ``storage`` (reads only)."""
    store = find_move(storage.root) if storage.local else None
    return UpgradePlan(root=storage.describe(), tables=tuple(table_changes(storage, specs)), store=store)


def apply_upgrade(lake: Lake, plan: UpgradePlan, specs: Iterable[TableSpec]) -> UpgradePlan:
    """Apply ``plan`` to ``lake``; returns what was found to do when it ran (a rerun finds less).

    Raises:
        SchemaMismatchError: a table needs a change that cannot be applied in place; nothing
            was changed (the plan is checked before the first commit).
    """
    if plan.refused:
        raise plan.refused[0].error()
    by_name = {str(s.name): s for s in specs}
    done = []
    for change in plan.changes:
        done.append(lake.evolve(by_name[change.table], metadata={"release": __version__}))
    if plan.store is not None:
        apply_move(plan.store)
    return UpgradePlan(root=plan.root, tables=tuple(done), store=plan.store)


