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
``rejected``        False   it passes, but the champion changed while the gate ran (lost a race)
``promoted``        True    it passes (against the champion, or the first champion: the
                            absolute thresholds only) and the champion is still the one judged
==================  ======  ==========================================================

Only ``promoted`` moves the ``champion`` alias (:attr:`Verdict.promote`).
:mod:`lakeops.gate.champion` reads and writes; this module reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lakeops.config import GateConfig
    from lakeops.evaluate.metrics import Evaluation

Mode = Literal["disabled", "dry_run", "enabled"]
Decision = Literal["promoted", "rejected", "dry_run_pass", "dry_run_fail", "skipped"]

LOST_RACE = "lost a race: the champion changed while this validation ran; nothing moved"


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
    challenger: Evaluation | None = None
    champion: Evaluation | None = None


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    passed: bool | None  # None: nothing was compared
    reason: str

    @property
    def promote(self) -> bool:
        """Whether the ``champion`` alias moves to the challenger."""
        return self.decision == "promoted"


def needs_evaluation(*, mode: Mode, challenger_version: int, champion_version: int | None) -> bool:
    """Whether the gate must score the models: not when nothing would be compared."""
    return champion_version != challenger_version and mode != "disabled"


def decide(case: GateCase, *, gate: GateConfig) -> Verdict:
    """The gate's decision on ``case`` under the ``gate`` thresholds (see the module docstring).

    Raises:
        ValueError: a comparison is needed but ``case.challenger`` was not evaluated.
    """
    if case.champion_version == case.challenger_version:
        return Verdict("skipped", None, "the challenger is already the champion")
    if case.mode == "disabled":
        return Verdict("promoted", None, "gate disabled: promoted without comparison")
    if case.challenger is None:
        raise ValueError(f"mode {case.mode!r} compares the models: evaluate the challenger first")
    passed, reason = compare(gate, case.challenger, case.champion)
    if case.mode == "dry_run":
        return Verdict("dry_run_pass" if passed else "dry_run_fail", passed, reason)
    if not passed:
        return Verdict("rejected", False, reason)
    if case.champion_now != case.champion_version:
        return Verdict("rejected", False, LOST_RACE)
    return Verdict("promoted", True, reason)


def compare(gate: GateConfig, challenger: Evaluation, champion: Evaluation | None) -> tuple[bool, str]:
    """Whether the challenger passes, and why (every failed rule is named).

    ``not x >= limit`` rather than ``x < limit``: a NaN metric fails its rule.
    """
    problems = []
    if not challenger.auc >= gate.min_auc:
        problems.append(f"AUC {challenger.auc:.4f} < min_auc {gate.min_auc}")
    if champion is not None:
        if not challenger.auc >= champion.auc - gate.max_auc_drop:
            problems.append(f"AUC {challenger.auc:.4f} < champion {champion.auc:.4f} - {gate.max_auc_drop}")
        limit = champion.logloss * (1 + gate.max_logloss_increase_pct / 100)
        if not challenger.logloss <= limit:
            problems.append(f"logloss {challenger.logloss:.4f} > champion {champion.logloss:.4f} "
                            f"+ {gate.max_logloss_increase_pct}%")
        limit = champion.brier * (1 + gate.max_brier_increase_pct / 100)
        if not challenger.brier <= limit:
            problems.append(f"Brier {challenger.brier:.5f} > champion {champion.brier:.5f} "
                            f"+ {gate.max_brier_increase_pct}%")
    if problems:
        return False, "; ".join(problems)
    against = "the champion and the absolute thresholds" if champion is not None else "the absolute thresholds (no champion yet)"
    return True, f"passes {against}"
