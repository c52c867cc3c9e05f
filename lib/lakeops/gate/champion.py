"""The champion/challenger gate.

Scores the ``challenger`` and the current ``champion`` (both loaded from the
registry) on the same holdout partitions (the challenger's held-out days) and
compares them with the model's ``gate`` thresholds:

- absolute: challenger AUC >= ``min_auc``;
- relative (when there is a champion): challenger AUC >= champion AUC -
  ``max_auc_drop``, challenger logloss <= champion logloss x (1 +
  ``max_logloss_increase_pct`` / 100), and likewise for the Brier score
  (``max_brier_increase_pct``).

Both models are judged on their calibrated scores (the probabilities that
scoring stores), so logloss and Brier compare probabilities, not rankings.

Modes: ``enabled`` moves ``champion`` to the challenger when it passes;
``dry_run`` evaluates and records without moving anything; ``disabled`` skips
the comparison and promotes (the mlops-stacks convention, for bootstrapping).
A promotion re-checks the champion just before moving the alias: if another
process promoted meanwhile, this one records that it lost and changes nothing.
The rule itself is :func:`lakeops.gate.decision.decide` (no IO); this module reads,
scores, calls it once and writes.

Reads ``features.<model>``; writes ``ml.model_validations``, ``ml.job_runs`` and
the registry alias.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.dates import date_range, parse_ds
from lakeops.evaluate import metrics
from lakeops.evaluate.scoring import labels_and_margins
from lakeops.gate.decision import GateCase, decide, needs_evaluation
from lakeops.lake.tables import MODEL_VALIDATIONS, features_table
from lakeops.runs import cached, job_run

if TYPE_CHECKING:
    from lakeops.gate.decision import Mode
    from lakeops.lake import Lake

log = logging.getLogger(__name__)

JOB = "validate_model"


@dataclass(frozen=True)
class GateDecision:
    decision: str  # promoted | rejected | dry_run_pass | dry_run_fail | skipped
    passed: bool | None
    reason: str
    challenger_version: int
    champion_version: int | None
    challenger: metrics.Evaluation | None
    champion: metrics.Evaluation | None


def validate_model(
    lake: Lake, model: ModelConfig, *, ds: date, mlflow_cfg: MlflowConfig, mode: str | None = None
) -> GateDecision:
    """Run the gate for ``model``'s challenger; record the decision; promote when allowed."""
    # A given mode was checked against GATE_MODES (stages.run_validate, the CLI's and the DAGs' way in).
    mode = cast("Mode", mode or model.gate.mode)
    registry.setup(mlflow_cfg, lake.root)
    with job_run(lake, job=JOB, model=model.name, days=[ds]) as run:
        challenger = registry.load(model.name, alias=registry.CHALLENGER)
        champion_version = registry.alias_version(model.name, registry.CHAMPION)
        days = _holdout_days(challenger)
        ch_eval = cp_eval = None
        if needs_evaluation(mode=mode, challenger_version=challenger.version, champion_version=champion_version):
            run.rows_in, ch_eval, cp_eval = _evaluate_both(lake, model, days, challenger, champion_version)
        # Read again just before acting: a promotion by another process meanwhile wins over this one.
        champion_now = registry.alias_version(model.name, registry.CHAMPION)
        verdict = decide(GateCase(mode=mode, challenger_version=challenger.version,
                                  champion_version=champion_version, champion_now=champion_now,
                                  challenger=ch_eval, champion=cp_eval), gate=model.gate)
        if verdict.promote:
            registry.set_alias(model.name, registry.CHAMPION, challenger.version)
        decision = GateDecision(verdict.decision, verdict.passed, verdict.reason, challenger.version,
                                champion_version, ch_eval, cp_eval)
        _record(lake, model, ds, run.job_run_id, mode, days, run.rows_in, decision,
                challenger.tags.get(registry.TAG_REQUESTED_BY))
        run.rows_out = 1
        log.info("%s: challenger v%d %s (%s)", model.name, decision.challenger_version, decision.decision, decision.reason)
        return decision


def _holdout_days(challenger: registry.LoadedModel) -> tuple[date, ...]:
    """The challenger's held-out days (its lineage tags): both models are judged on them."""
    start = parse_ds(challenger.tags[registry.TAG_HOLDOUT_START])
    end = parse_ds(challenger.tags[registry.TAG_HOLDOUT_END])
    return tuple(date_range(start, end))


def _evaluate_both(lake: Lake, model: ModelConfig, days: tuple[date, ...], challenger: registry.LoadedModel,
                   champion_version: int | None) -> tuple[int, metrics.Evaluation, metrics.Evaluation | None]:
    """The holdout's row count and both models' metrics on it (the champion's: None when there is none)."""
    # Cached for both models' passes only: its memory goes back before the decision is recorded.
    with cached(_holdout(lake, model, days)) as holdout:
        rows = holdout.count()
        ch_eval = _evaluate(holdout, challenger, model)
        champion = registry.load(model.name, version=champion_version) if champion_version else None
        cp_eval = _evaluate(holdout, champion, model) if champion else None
    return rows, ch_eval, cp_eval


def _holdout(lake: Lake, model: ModelConfig, days: tuple[date, ...]):
    """The labelled rows of the holdout days (the same rows for both models)."""
    df = lake.read(features_table(model.name), where={"ds": list(days)})
    return df.where(df[model.label].isNotNull())


def _evaluate(holdout, loaded: registry.LoadedModel, model: ModelConfig) -> metrics.Evaluation:
    y, margin = labels_and_margins(holdout, loaded.booster, label=model.label, features=loaded.features,
                                   categories=loaded.categories)
    return metrics.evaluate(y, loaded.calibration.probability(margin), threshold=loaded.threshold)


def _record(lake: Lake, model: ModelConfig, ds: date, job_run_id: str, mode: str, days: tuple[date, ...],
            rows: int | None, d: GateDecision, requested_by: str | None) -> None:
    gate = model.gate
    ch, cp = d.challenger, d.champion
    row = {
        "ds": ds, "model_name": model.name, "job_run_id": job_run_id, "mode": mode,
        "challenger_version": d.challenger_version, "champion_version": d.champion_version,
        "holdout_start": days[0], "holdout_end": days[-1], "holdout_rows": rows,
        "challenger_auc": ch.auc if ch else None, "challenger_logloss": ch.logloss if ch else None,
        "challenger_pr_auc": ch.pr_auc if ch else None,
        "champion_auc": cp.auc if cp else None, "champion_logloss": cp.logloss if cp else None,
        "champion_pr_auc": cp.pr_auc if cp else None,
        "challenger_brier": ch.brier if ch else None, "champion_brier": cp.brier if cp else None,
        "min_auc": gate.min_auc, "max_auc_drop": gate.max_auc_drop,
        "max_logloss_increase_pct": gate.max_logloss_increase_pct,
        "max_brier_increase_pct": gate.max_brier_increase_pct,
        "passed": d.passed, "decision": d.decision, "reason": d.reason, "requested_by": requested_by,
        "decided_at": datetime.now(UTC),  # clock-ok: when the decision was made
    }
    lake.append_rows(pa.Table.from_pylist([row], schema=MODEL_VALIDATIONS.schema), MODEL_VALIDATIONS,
                     metadata={"job": JOB, "job_run_id": job_run_id})
