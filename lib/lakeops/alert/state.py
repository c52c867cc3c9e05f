"""The alert state machine: pending -> firing -> resolved, one monitored day at a time.

Pure functions of small values (no Spark, no tables). A rule's condition is
judged on each monitored day (:mod:`lakeops.alert.rules`); :func:`step` turns
that day's judgement, the judgements of the days before it and yesterday's
state into today's state:

- **active** today when the condition holds today *and* on at least ``for_days``
  of the last ``of_days`` monitored days (today included): Prometheus' ``for``,
  CloudWatch's "M of N" datapoints;
- not firing and the condition holds, but not yet active: **pending**
  (a pending alert that clears leaves no trace and notifies no one);
- active: **firing** (notified on the day it starts);
- firing but no longer active: still **firing** for ``keep_firing_days``
  monitored days (Prometheus' ``keep_firing_for``, against flapping), then
  **resolved** on the next one (notified, as Alertmanager's ``send_resolved``).

Today's state depends only on the previous monitored day's state and the last
``of_days`` judgements, so rerunning a day, or a range, gives the same rows as
running the days one by one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from lakeops.constants import ALERT_STATES

PENDING, FIRING, RESOLVED = ALERT_STATES


@dataclass(frozen=True)
class AlertState:
    """A rule and slice's state on one monitored day."""

    state: str  # pending | firing | resolved
    first_seen: date  # the first day of this episode
    last_seen: date  # the last day the condition held
    firing_since: date | None = None
    quiet_days: int = 0  # while firing: monitored days since the rule was last active

    @property
    def firing(self) -> bool:
        return self.state == FIRING


@dataclass(frozen=True)
class Debounce:
    """When a rule fires and how long it keeps firing (``for_days`` of ``of_days``, ``keep_firing_days``)."""

    for_days: int = 1
    of_days: int = 1
    keep_firing_days: int = 0


def step(ds: date, *, met: bool, earlier: Sequence[bool], previous: AlertState | None,
         debounce: Debounce) -> AlertState | None:
    """Today's state of one rule and slice (``None``: nothing to record).

    Args:
        ds: the monitored day.
        met: the rule's condition held on ``ds``.
        earlier: the condition on the monitored days before ``ds``, oldest first (at least the
            last ``of_days - 1`` of them when there are that many).
        previous: the state on the previous monitored day (``None`` when it had no row).
        debounce: the rule's ``for_days``, ``of_days`` and ``keep_firing_days``.
    """
    window = [*list(earlier)[-(debounce.of_days - 1):], met] if debounce.of_days > 1 else [met]
    active = met and sum(window) >= debounce.for_days
    was_firing = previous if previous is not None and previous.firing else None
    if active:
        if was_firing is not None:
            return replace(was_firing, last_seen=ds, quiet_days=0)
        first = previous.first_seen if previous is not None and previous.state == PENDING else ds
        return AlertState(FIRING, first_seen=first, last_seen=ds, firing_since=ds)
    if was_firing is not None:
        last = ds if met else was_firing.last_seen
        if was_firing.quiet_days < debounce.keep_firing_days:
            return replace(was_firing, last_seen=last, quiet_days=was_firing.quiet_days + 1)
        return replace(was_firing, state=RESOLVED, last_seen=last, quiet_days=was_firing.quiet_days + 1)
    if met:
        first = previous.first_seen if previous is not None and previous.state == PENDING else ds
        return AlertState(PENDING, first_seen=first, last_seen=ds)
    return None


def transition(previous: AlertState | None, today: AlertState | None) -> str | None:
    """What receivers are told today: ``firing`` when an alert starts firing, ``resolved`` when it resolves."""
    if today is not None and today.firing and not (previous is not None and previous.firing):
        return FIRING
    if today is not None and today.state == RESOLVED:
        return RESOLVED
    return None


def fingerprint(model: str, rule: str, slice_key: str | None, slice_value: str | None) -> str:
    """A stable id of one model, rule and slice (16 hex digits), the same on every day and episode."""
    labels = f"model={model}\x00rule={rule}\x00slice_key={slice_key or ''}\x00slice_value={slice_value or ''}"
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


def may_request_retrain(ds: date, *, firing: bool, wants_retrain: bool, last_request: date | None,
                        cooldown_days: int, quality_failed: bool, labelled_days: int = 0,
                        needed_days: int = 0) -> bool:
    """A firing rule that asks for retraining does so once the training data holds the change it
    answers (``labelled_days`` of the episode have labels, at least ``needed_days``: see
    :func:`labelled_days_of_change`), unless a request was made in the cooldown window
    (``ds - cooldown_days < last request``) or the day's data-quality gate failed."""
    if not (firing and wants_retrain) or quality_failed or labelled_days < needed_days:
        return False
    return last_request is None or (ds - last_request).days >= cooldown_days


def labelled_days_of_change(ds: date, *, first_seen: date, label_delay_days: int) -> int:
    """Days of an episode that began on ``first_seen`` whose labels are in on ``ds`` (labels of a day
    arrive ``label_delay_days`` after it): what a retrain on ``ds`` would train and judge on."""
    return max(0, (ds - timedelta(days=label_delay_days) - first_seen).days + 1)
