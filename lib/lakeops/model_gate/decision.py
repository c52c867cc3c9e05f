"""The champion gate's rule: from what the gate found to its decision and the reason (no IO).

:func:`needs_evaluation` says whether the models must be scored on the holdout at all;
:func:`decide` turns a :class:`GateCase` (the mode, the versions, the two models' holdout
metrics) and the model's ``gate`` thresholds into a :class:`Verdict`:

==================  ======  ==========================================================
decision            passed  when
==================  ======  ==========================================================
``skipped``         None    the challenger already is the champion
``promoted``        None    mode ``disabled``: promoted without comparison
``dry_run_pass``    True    mode ``dry_run`` and the challenger passes
``dry_run_fail``    False   mode ``dry_run`` and it does not
``rejected``        False   mode ``enabled`` and it does not pass
``rejected``        False   it passes, but the champion changed while the gate ran (lost a race;
                            passed None in mode ``disabled``, which compares nothing)
``promoted``        True    it passes (against the champion, or the first champion: the
                            absolute thresholds only) and the champion is still the one judged
==================  ======  ==========================================================

The rules are the model's :attr:`~lakeops.config.ModelConfig.gate_thresholds`, each on one
metric of the holdout (or of one slice of it), judged by :func:`check`:

- a NaN challenger value (an AUC on one class, an R2 of one row) fails its rule;
- a NaN champion value cannot be compared with: the change parts of the rule are not
  judged (the absolute ``threshold`` still is), and the check says so;
- a slice with fewer than ``gate.min_slice_rows`` labelled holdout rows is not judged at
  all (``passed`` None): too few rows to tell the models apart.

Every rule's outcome is a :class:`Check`, stored as one list in ``ml.model_validations``.

Only ``promoted`` moves the ``champion`` alias (:attr:`Verdict.promote`).
:mod:`lakeops.model_gate.champion` reads and writes; this module reads and writes no tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakeops.constants import GateDecision, GateMode

if TYPE_CHECKING:
    from lakeops.config import GateThreshold

Mode = GateMode
Decision = GateDecision
#: A population of the holdout: ``(None, None)`` for all of it, else ``(slice_key, slice_value)``.
Population = tuple[str | None, str | None]
WHOLE: Population = (None, None)

LOST_RACE = "lost a race: the champion changed while this validation ran; nothing moved"


@dataclass(frozen=True)
class Measured:
    """One model's metrics on the holdout: per population, its labelled rows and metric values."""

    rows: Mapping[Population, int]
    metrics: Mapping[Population, Mapping[str, float]]

    def value(self, metric: str, population: Population = WHOLE) -> float:
        return float(self.metrics.get(population, {}).get(metric, math.nan))


@dataclass(frozen=True)
class Check:
    """One threshold's outcome (a row of ``ml.model_validations.checks``)."""

    metric: str
    slice_key: str | None
    slice_value: str | None
    higher_is_better: bool
    threshold: float | None
    min_absolute_change: float | None
    min_relative_change: float | None
    challenger: float | None
    champion: float | None
    rows: int
    passed: bool | None  # None: not judged (a slice too small)
    note: str

    def as_row(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class GateCase:
    """What the gate knows when it decides."""

    mode: Mode
    challenger_version: int
    #: The champion when the gate started (None: there is none yet).
    champion_version: int | None
    #: The champion read again just before acting: another promotion meanwhile means this one lost.
    champion_now: int | None
    #: The models' metrics on the same holdout; None when they were not evaluated
    #: (:func:`needs_evaluation` said no) or, for the champion, when there is none.
    challenger: Measured | None = None
    champion: Measured | None = None


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    passed: bool | None  # None: nothing was compared
    reason: str
    checks: tuple[Check, ...] = field(default=())

    @property
    def promote(self) -> bool:
        """Whether the ``champion`` alias moves to the challenger."""
        return self.decision == "promoted"


def needs_evaluation(*, mode: Mode, challenger_version: int, champion_version: int | None) -> bool:
    """Whether the gate must score the models: not when nothing would be compared."""
    return champion_version != challenger_version and mode != "disabled"


def decide(case: GateCase, *, thresholds: Sequence[GateThreshold], directions: Mapping[str, bool],
           min_slice_rows: int = 1) -> Verdict:
    """The gate's decision on ``case`` under ``thresholds`` (see the module docstring).

    ``directions`` says for each metric whether higher is better (the problem type's).

    Raises:
        ValueError: a comparison is needed but ``case.challenger`` was not evaluated.
    """
    if case.champion_version == case.challenger_version:
        return Verdict("skipped", None, "the challenger is already the champion")
    if case.mode == "disabled":
        if case.champion_now != case.champion_version:
            return Verdict("rejected", None, LOST_RACE)
        return Verdict("promoted", None, "gate disabled: promoted without comparison")
    if case.challenger is None:
        raise ValueError(f"mode {case.mode!r} compares the models: evaluate the challenger first")
    checks = tuple(check(t, case.challenger, case.champion, directions=directions, min_slice_rows=min_slice_rows)
                   for t in thresholds)
    passed, reason = summarise(checks, has_champion=case.champion is not None)
    if case.mode == "dry_run":
        return Verdict("dry_run_pass" if passed else "dry_run_fail", passed, reason, checks)
    if not passed:
        return Verdict("rejected", False, reason, checks)
    if case.champion_now != case.champion_version:
        return Verdict("rejected", False, LOST_RACE, checks)
    return Verdict("promoted", True, reason, checks)


def check(t: GateThreshold, challenger: Measured, champion: Measured | None, *, directions: Mapping[str, bool],
          min_slice_rows: int = 1) -> Check:
    """One threshold judged on the two models' metrics.

    ``not x >= limit`` rather than ``x < limit``: a NaN challenger value fails its rule.
    """
    higher = directions[t.metric] if t.higher_is_better is None else t.higher_is_better
    population: Population = (t.slice_key, t.slice_value) if t.slice_key else WHOLE
    rows = int(challenger.rows.get(population, 0))
    mine = challenger.value(t.metric, population)
    theirs = champion.value(t.metric, population) if champion is not None else None
    where = f" on {t.slice_key}={t.slice_value}" if t.slice_key else ""

    def made(passed: bool | None, note: str) -> Check:
        return Check(t.metric, t.slice_key or None, t.slice_value or None, higher, t.threshold,
                     t.min_absolute_change, t.min_relative_change, _number(mine), _number(theirs), rows, passed, note)

    if population != WHOLE and rows < min_slice_rows:
        return made(None, f"{t.metric}{where}: not judged, {rows} labelled rows < gate.min_slice_rows {min_slice_rows}")
    problems, notes = [], []
    # The challenger must reach a limit: at least it (higher is better) or at most it. The limits are
    # computed as ``champion - drop`` and ``champion x (1 + pct)`` so that a value exactly at one passes.
    sign = 1.0 if higher else -1.0
    ok = (lambda value, limit: value >= limit) if higher else (lambda value, limit: value <= limit)
    if t.threshold is not None and not ok(mine, t.threshold):
        problems.append(f"{_label(t.metric)}{where} {mine:.4g} {'<' if higher else '>'} {t.threshold:g}")
    if theirs is not None and (t.min_absolute_change is not None or t.min_relative_change is not None):
        if math.isnan(theirs):
            notes.append(f"{_label(t.metric)}{where}: the champion's value is not a number, not compared")
        else:
            gain = sign * (mine - theirs)
            if t.min_absolute_change is not None and not ok(mine, theirs + sign * t.min_absolute_change):
                problems.append(f"{_label(t.metric)}{where} {mine:.4g} vs champion {theirs:.4g}: "
                                f"change {gain:+.4g} < {t.min_absolute_change:+g}")
            if t.min_relative_change is not None:
                factor = 1 + sign * t.min_relative_change
                limit = theirs * factor if theirs >= 0 else theirs + sign * t.min_relative_change * abs(theirs)
                if not ok(mine, limit):
                    relative = gain / abs(theirs) if theirs else math.inf
                    problems.append(f"{_label(t.metric)}{where} {mine:.4g} vs champion {theirs:.4g}: "
                                    f"relative change {relative:+.2%} < {t.min_relative_change:+.2%}")
    if problems:
        return made(False, "; ".join(problems + notes))
    return made(True, "; ".join(notes) or f"{_label(t.metric)}{where} {mine:.4g} passes")


def summarise(checks: Sequence[Check], *, has_champion: bool) -> tuple[bool, str]:
    """Whether every judged rule passed, and the reason (every failed rule named)."""
    failed = [c.note for c in checks if c.passed is False]
    if failed:
        return False, "; ".join(failed)
    against = "the champion and the absolute thresholds" if has_champion else "the absolute thresholds (no champion yet)"
    # Rules not judged (a small slice) and parts not compared (a NaN champion value) are said.
    skipped = [c.note for c in checks if c.passed is None or (c.passed and not c.note.endswith(" passes"))]
    return True, f"passes {against}" + (f" ({'; '.join(skipped)})" if skipped else "")


def _label(metric: str) -> str:
    return {"auc": "AUC", "pr_auc": "PR-AUC", "brier": "Brier", "rmse": "RMSE", "mae": "MAE", "mape": "MAPE",
            "r2": "R2", "ece": "ECE", "f1": "F1"}.get(metric, metric)


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
