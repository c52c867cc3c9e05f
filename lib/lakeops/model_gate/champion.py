"""The champion/challenger gate.

Scores the ``challenger`` and the current ``champion`` (both loaded from the
registry) on the same holdout partitions (the challenger's held-out days) and
compares them with the model's gate thresholds (``gate.thresholds``, or a binary
model's ``min_auc`` ... of earlier releases mapped onto them): each names a metric
of the model's problem type (AUC, logloss, Brier ...; RMSE, MAE, R2 ...), on the
whole holdout or one slice of it, with an absolute bound and the change against
the champion it needs (:mod:`lakeops.model_gate.decision`).

Both models are judged on what scoring stores (calibrated probabilities for a
binary model, so logloss and Brier compare probabilities, not rankings).

Modes: ``enabled`` moves ``champion`` to the challenger when it passes;
``dry_run`` evaluates and records without moving anything; ``disabled`` skips
the comparison and promotes (the mlops-stacks convention, for bootstrapping).
A promotion re-checks the champion just before moving the alias: if another
process promoted meanwhile, this one records that it lost and changes nothing.
The rule itself is :func:`lakeops.model_gate.decision.decide` (no IO); this module reads,
scores, calls it once and writes.

Reads ``features.<model>``; writes ``ml.model_validations``, ``ml.job_runs`` and
the registry alias.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from lakeops import registry
from lakeops.config import MlflowConfig, ModelConfig
from lakeops.dates import date_range, parse_ds
from lakeops.evaluate.problems import ProblemType, problem
from lakeops.evaluate.scoring import MARGIN, margins_of, score_frame
from lakeops.lake.tables import MODEL_VALIDATIONS, features_table
from lakeops.model_gate.decision import WHOLE, Check, GateCase, Measured, Population, Verdict, decide, needs_evaluation
from lakeops.runs import cached, job_run

if TYPE_CHECKING:
    import pandas as pd

    from lakeops.lake import Lake
    from lakeops.model_gate.decision import Mode

log = logging.getLogger(__name__)

JOB = "validate_model"


@dataclass(frozen=True)
class GateDecision:
    decision: str  # promoted | rejected | dry_run_pass | dry_run_fail | skipped
    passed: bool | None
    reason: str
    challenger_version: int
    champion_version: int | None
    challenger: Measured | None
    champion: Measured | None
    checks: tuple[Check, ...] = ()


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
        case = GateCase(mode=mode, challenger_version=challenger.version, champion_version=champion_version,
                        champion_now=champion_version, challenger=ch_eval, champion=cp_eval)
        verdict = _decide(case, model)
        if verdict.promote:
            # promote() reads the alias again around its write: a validator that promoted meanwhile wins.
            champion_now = registry.promote(model.name, challenger.version, expected=champion_version)
            if champion_now != challenger.version:
                verdict = _decide(replace(case, champion_now=champion_now), model)
        decision = GateDecision(verdict.decision, verdict.passed, verdict.reason, challenger.version,
                                champion_version, ch_eval, cp_eval, verdict.checks)
        _record(lake, model, ds, run.job_run_id, mode, days, run.rows_in, decision,
                challenger.tags.get(registry.TAG_REQUESTED_BY))
        run.rows_out = 1
        log.info("%s: challenger v%d %s (%s)", model.name, decision.challenger_version, decision.decision, decision.reason)
        return decision


def _decide(case: GateCase, model: ModelConfig) -> Verdict:
    return decide(case, thresholds=model.gate_thresholds, directions=model.gate_metrics(),
                  min_slice_rows=model.gate.min_slice_rows)


def _holdout_days(challenger: registry.LoadedModel) -> tuple[date, ...]:
    """The challenger's held-out days (its lineage tags): both models are judged on them."""
    start = parse_ds(challenger.tags[registry.TAG_HOLDOUT_START])
    end = parse_ds(challenger.tags[registry.TAG_HOLDOUT_END])
    return tuple(date_range(start, end))


def _evaluate_both(lake: Lake, model: ModelConfig, days: tuple[date, ...], challenger: registry.LoadedModel,
                   champion_version: int | None) -> tuple[int, Measured, Measured | None]:
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


def _evaluate(holdout, loaded: registry.LoadedModel, model: ModelConfig) -> Measured:
    """The model's metrics on the holdout, whole and on each slice a gate threshold names."""
    kind = problem(model.problem_type)
    slices = sorted({t.slice_key for t in model.gate_thresholds if t.slice_key})
    scored: pd.DataFrame = score_frame(holdout, loaded.booster, features=loaded.features,
                                       categories=loaded.categories, keep=[model.label, *slices]).toPandas()
    y = kind.label_values(scored[model.label].to_numpy(), classes=model.classes)
    output = loaded.calibration.output(margins_of(scored[MARGIN]))
    populations: dict[Population, Any] = {WHOLE: slice(None)}
    for key in slices:
        for value in scored[key].dropna().unique():
            populations[(key, str(value))] = (scored[key] == value).to_numpy()
    return Measured(
        rows={p: int(y[rows].size) for p, rows in populations.items()},
        metrics={p: _metrics(kind, y[rows], output[rows], loaded.threshold, model.classes)
                 for p, rows in populations.items()},
    )


def _metrics(kind: ProblemType, y, output, threshold: float, classes: tuple[str, ...]) -> dict[str, float]:
    try:
        return kind.evaluate(y, output, threshold=threshold, classes=classes)
    except ValueError:  # no rows in a population: nothing defined
        return {}


def _record(lake: Lake, model: ModelConfig, ds: date, job_run_id: str, mode: str, days: tuple[date, ...],
            rows: int | None, d: GateDecision, requested_by: str | None) -> None:
    ch = d.challenger.metrics.get(WHOLE, {}) if d.challenger else {}
    cp = d.champion.metrics.get(WHOLE, {}) if d.champion else {}
    row = {
        "ds": ds, "model_name": model.name, "job_run_id": job_run_id, "mode": mode,
        "challenger_version": d.challenger_version, "champion_version": d.champion_version,
        "holdout_start": days[0], "holdout_end": days[-1], "holdout_rows": rows,
        "passed": d.passed, "decision": d.decision, "reason": d.reason, "requested_by": requested_by,
        "decided_at": datetime.now(UTC),  # clock-ok: when the decision was made
        "problem_type": model.problem_type,
        "checks": [c.as_row() for c in d.checks],
        "challenger_metrics": _pairs(ch), "champion_metrics": _pairs(cp),
    }
    if model.problem_type == "binary":
        # The binary columns of earlier releases, kept filled for the queries that read them.
        row |= {f"{who}_{m}": values.get(m) for who, values in (("challenger", ch), ("champion", cp))
                for m in ("auc", "logloss", "pr_auc", "brier")}
        rules = {t.metric: t for t in model.gate_thresholds if not t.slice_key}
        auc, logloss, brier = rules.get("auc"), rules.get("logloss"), rules.get("brier")
        row |= {
            "min_auc": auc.threshold if auc else None,
            "max_auc_drop": -auc.min_absolute_change if auc and auc.min_absolute_change is not None else None,
            "max_logloss_increase_pct": -100 * logloss.min_relative_change
            if logloss and logloss.min_relative_change is not None else None,
            "max_brier_increase_pct": -100 * brier.min_relative_change
            if brier and brier.min_relative_change is not None else None,
        }
    full = {name: row.get(name) for name in MODEL_VALIDATIONS.schema.names}
    lake.append_rows(pa.Table.from_pylist([full], schema=MODEL_VALIDATIONS.schema), MODEL_VALIDATIONS,
                     metadata={"job": JOB, "job_run_id": job_run_id})


def _pairs(values: Mapping[str, float]) -> list[dict[str, object]]:
    """Metrics as ``[{metric, value}]`` (NaN as null): a list of structs reads alike in Spark SQL and DuckDB."""
    return [{"metric": k, "value": None if v != v else float(v)} for k, v in sorted(values.items())]
