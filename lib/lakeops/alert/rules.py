"""Each alert rule's condition on one monitored day, from that day's monitoring rows.

Pure functions (no Spark, no tables): :class:`DayFacts` holds the rows the
monitoring run wrote for a day, and :func:`judge` says, per rule and slice,
whether the condition held, the value it looked at, and the evidence.

========================  =====================================================================
``when``                  holds on a day when
========================  =====================================================================
``features_drifted``      at least ``at_least`` features are at ``alert`` drift against the
                          training baseline (``ml.drift_metrics``; the status is
                          sample-size aware, so small slices do not trip it by chance)
``score_drifted``         the score is at ``alert`` drift against the training baseline
``estimated_auc``         the CBPE estimate of the day's AUC (``ml.performance_metrics``; a
                          multiclass model's macro one-vs-rest AUC) is below ``below``, or more
                          than ``max_drop`` below the version's training holdout AUC
                          (``ml.performance_reference``)
``realised_auc``          the realised AUC of the day whose labels arrived with this one
                          (``ds - label_delay_days``) is below ``below``
``estimated_accuracy``,   multiclass: the CBPE estimate of the day's accuracy (the realised
``realised_accuracy``     accuracy of the day whose labels arrived) is below ``below`` or more
                          than ``max_drop`` below the holdout's
``class_recall``          multiclass: a class's realised recall (``ml.class_metrics``) on the
                          day whose labels arrived is below ``below``; judged per class (the
                          alert's slice is ``class_name = <class>``)
``estimated_mae``,        regression: the direct-loss estimate of the day's MAE (RMSE) is above
``estimated_rmse``        ``above``, or more than ``max_rise_pct`` percent above the version's
                          training holdout value
``realised_mae``,         regression: the realised MAE (RMSE) of the day whose labels arrived
``realised_rmse``         with this one is above ``above`` or ``max_rise_pct`` above the holdout's
``interval_coverage``     regression: the share of that day's labels inside the stored
                          prediction interval is below ``below``
``data_quality``          an expectation failed in the day's latest data-quality run
                          (``ml.data_quality``, raw and features suites)
``attribution_drift``     the nDCG of the day's feature ranking by mean |SHAP| against the
                          training ranking is below ``below`` (default: the floor monitoring
                          flags it by, ``monitor.attribution_ndcg_alert``; ``ml.attribution_drift``)
========================  =====================================================================

A day without the rows a rule reads (no labels yet, no attribution table) does
not meet that rule. Which kinds a model may use, and the keys each takes, are declared
in :data:`lakeops.constants.ALERT_KINDS`; :data:`JUDGES` has one judge per kind.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lakeops.config import AlertRule
from lakeops.constants import BASELINE_DRIFT, OUTPUT_COLUMN_TYPES, STATUS_LEVEL
from lakeops.evaluate.binary import BAND_SIGMAS
from lakeops.evaluate.estimator_check import EstimatorCheck, check_estimator, estimate_reference

SliceKey = tuple[str | None, str | None]
WHOLE: SliceKey = (None, None)
#: The slice key of a class_recall judgement.
CLASS_KEY = "class_name"


@dataclass(frozen=True)
class DayFacts:
    """What the monitoring run recorded for one model and day (rows as plain dicts)."""

    ds: date
    model_version: int
    #: ``ml.drift_metrics`` rows of the day.
    drift: Sequence[Mapping[str, Any]] = ()
    #: ``ml.performance_metrics`` estimated rows of the day, by slice.
    estimated: Mapping[SliceKey, Mapping[str, Any]] = field(default_factory=dict)
    #: The day whose labels arrived with this one, and its realised rows by slice.
    realised_ds: date | None = None
    realised: Mapping[SliceKey, Mapping[str, Any]] = field(default_factory=dict)
    #: The version's ``ml.performance_reference`` row: holdout metrics, their sampling standard
    #: deviations, and the estimator's own holdout estimates (``cbpe_*``, ``dle_*``).
    reference: Mapping[str, Any] = field(default_factory=dict)
    #: ``ml.data_quality`` rows of the day's latest run of each suite.
    data_quality: Sequence[Mapping[str, Any]] = ()
    #: ``ml.attribution_drift`` rows of the day.
    attribution: Sequence[Mapping[str, Any]] = ()
    #: Multiclass: the model's classes, and the realised ``ml.class_metrics`` rows (whole population) of
    #: the day whose labels arrived with this one, by class.
    classes: Sequence[str] = ()
    class_realised: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def estimator(self) -> EstimatorCheck:
        """The version's estimator check at training (rules on estimates abstain when it failed)."""
        return check_estimator(self.reference)

    @property
    def quality_failed(self) -> bool:
        """A ``fail`` expectation failed: the day's data-quality gate did not pass."""
        return any(not r["success"] and r["policy"] == "fail" for r in self.data_quality)


@dataclass(frozen=True)
class Judgement:
    """A rule's condition on one day and slice."""

    slice: SliceKey
    met: bool
    value: float | None
    threshold: float | None
    summary: str
    evidence: Mapping[str, Any]

    def evidence_json(self) -> str:
        return json.dumps(self.evidence, sort_keys=True, separators=(",", ":"))


def judge(rule: AlertRule, facts: DayFacts) -> list[Judgement]:
    """The rule's condition on ``facts.ds``, for the whole population and (``per_slice``) each slice."""
    if rule.when == "class_recall":  # one judgement per class, whose alerts stand apart like slices'
        return [_class_recall(rule, facts, (CLASS_KEY, c)) for c in facts.classes]
    slices = [WHOLE]
    if rule.per_slice:
        slices += sorted({(r["slice_key"], r["slice_value"]) for r in facts.drift if r["slice_key"] is not None},
                         key=lambda k: (k[0] or "", k[1] or ""))
    return [JUDGES[rule.when](rule, facts, s) for s in slices]


def _baseline_drift(facts: DayFacts, key: SliceKey) -> list[Mapping[str, Any]]:
    return [r for r in facts.drift if r["drift_type"] == BASELINE_DRIFT and (r["slice_key"], r["slice_value"]) == key]


def _features_drifted(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    rows = [r for r in _baseline_drift(facts, key) if r["column_type"] not in OUTPUT_COLUMN_TYPES]
    hot = sorted((r for r in rows if r["status"] == "alert"), key=lambda r: -_num(r["psi"]))
    evidence = {"features_at_alert": [_drift_evidence(r) for r in hot], "features_judged": len(rows)}
    names = ", ".join(r["column_name"] for r in hot[:5]) + (" ..." if len(hot) > 5 else "")
    summary = f"{len(hot)} of {len(rows)} features at alert drift{': ' + names if hot else ''}"
    return Judgement(key, bool(rows) and len(hot) >= rule.at_least, float(len(hot)), float(rule.at_least), summary,
                     evidence)


def _score_drifted(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    """The model's output drifted: its score (or prediction); for a multiclass model, the worst of its
    class probabilities and its predicted class."""
    rows = [r for r in _baseline_drift(facts, key) if r["column_type"] in OUTPUT_COLUMN_TYPES]
    if not rows:
        return Judgement(key, False, None, None, "no score drift row", {})
    r = max(rows, key=lambda r: (STATUS_LEVEL.get(r["status"], 0), _num(r["psi"])))
    name = "score" if len(rows) == 1 else r["column_name"]
    summary = f"{name} PSI {_num(r['psi']):.3f} ({r['status']}; alert at {r['alert_threshold']})"
    return Judgement(key, r["status"] == "alert", _num(r["psi"]), r["alert_threshold"], summary,
                     {"score": _drift_evidence(r)})


def _estimated_auc(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    return _measured(rule, facts, key, "estimated", "auc")


def _realised_auc(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    return _measured(rule, facts, key, "realised", "auc")


def _measure(kind: str, metric: str):
    """The judge of ``<kind>_<metric>``."""

    def judge_measured(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
        return _measured(rule, facts, key, kind, metric)

    return judge_measured


#: Metrics that get worse by rising (errors); the others by falling.
_RISING = ("mae", "rmse")


def _measured(rule: AlertRule, facts: DayFacts, key: SliceKey, kind: str, metric: str) -> Judgement:
    """A metric past its limit: a score (AUC, accuracy) below ``below`` or ``max_drop`` under the holdout's,
    an error (MAE, RMSE) above ``above`` or ``max_rise_pct`` over it.

    The holdout value an estimate is compared with is the estimator's own (see
    :func:`lakeops.evaluate.estimator_check.estimate_reference`); a realised value's is the realised
    holdout's. With ``uncertainty: band`` the condition holds only when the whole band lies past the
    limit: an estimate's stored band, or a realised value's sampling band at the day's labelled rows.
    A rule on estimates abstains for a version whose estimator failed its check at training.
    """
    rows = facts.estimated if kind == "estimated" else facts.realised
    row = rows.get(key)
    if row is not None and kind == "realised" and not row.get("n_labeled"):
        row = None
    name = metric.upper() if metric in ("auc", "mae", "rmse") else metric
    day = facts.ds if kind == "estimated" else facts.realised_ds
    value = None if row is None else _finite(row.get(metric))
    rising = metric in _RISING
    reference = (estimate_reference(facts.reference, metric) if kind == "estimated"
                 else _finite(facts.reference.get(metric)))
    limit = _limit(rule, reference, rising=rising)
    if row is None or value is None:
        return Judgement(key, False, None, limit, f"no {kind} {name}", {})
    lower, upper = _band(facts, row, kind, metric, value)
    use_band = rule.uncertainty == "band" and lower is not None and upper is not None
    judged = (lower if rising else upper) if use_band else value
    met = limit is not None and judged is not None and (judged > limit if rising else judged < limit)
    abstained = kind == "estimated" and facts.estimator.failed
    evidence = {f"{kind}_{metric}": round(value, 6), "day": day.isoformat() if day else None,
                "n_scored": row.get("n_scored"), "n_labeled": row.get("n_labeled"),
                f"training_{metric}": _round(reference), f"{metric}_lower": _round(lower),
                f"{metric}_upper": _round(upper), "judged_on": "band" if use_band else "value"}
    summary = f"{kind} {name} {value:.4g}{f' of {day}' if kind == 'realised' and day else ''}"
    if use_band:
        summary += f" (band {lower:.4g}-{upper:.4g})"
    if limit is not None:
        past = "above" if rising else "below"
        summary += f" ({'' if met else 'not '}{'wholly ' if use_band else ''}{past} {limit:.4g})"
    if abstained:
        evidence["estimator_check"] = facts.estimator.summary()
        return Judgement(key, False, value, limit, summary + "; not judged: the estimator of this version failed "
                         "its check at training (the realised rules still watch it)", evidence)
    return Judgement(key, met, value, limit, summary, evidence)


def _limit(rule: AlertRule, reference: float | None, *, rising: bool) -> float | None:
    """The rule's limit: the stricter of its fixed one and the one relative to the holdout's value."""
    if rising:
        limits = [rule.above] if rule.above is not None else []
        if rule.max_rise_pct is not None and reference is not None:
            limits.append(reference * (1 + rule.max_rise_pct / 100))
        return min(limits) if limits else None
    limits = [rule.below] if rule.below is not None else []
    if rule.max_drop is not None and reference is not None:
        limits.append(reference - rule.max_drop)
    return max(limits) if limits else None


def _band(facts: DayFacts, row: Mapping[str, Any], kind: str, metric: str,
          value: float) -> tuple[float | None, float | None]:
    """The metric's band on the day: the estimate's stored band, or the realised value +- BAND_SIGMAS
    sampling standard deviations at the day's labelled rows (from the version's holdout)."""
    if kind == "estimated":
        return _finite(row.get(f"{metric}_lower")), _finite(row.get(f"{metric}_upper"))
    n = row.get("n_labeled") or 0
    ref = facts.reference
    sd: float | None
    if metric in _RISING:
        spread = _finite(ref.get("abs_error_sd" if metric == "mae" else "squared_error_sd"))
        sd = None if spread is None or n <= 0 else spread / math.sqrt(n)
        if sd is not None and metric == "rmse":
            sd = sd / (2 * value) if value > 0 else None  # the delta method: d sqrt(m) = dm / (2 sqrt(m))
    else:
        spread, rows = _finite(ref.get(f"{metric}_sd")), _finite(ref.get("holdout_rows"))
        sd = None if spread is None or not rows or n <= 0 else spread * math.sqrt(rows / n)
    if sd is None:
        return None, None
    low, high = value - BAND_SIGMAS * sd, value + BAND_SIGMAS * sd
    return (max(0.0, low), high) if metric in _RISING else (max(0.0, low), min(1.0, high))


def _wilson(share: float, n: float) -> tuple[float, float]:
    """Wilson's interval of a proportion at BAND_SIGMAS standard errors: right at 0 and 1 and on few rows."""
    z2 = BAND_SIGMAS ** 2
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = BAND_SIGMAS * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _class_recall(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    row = facts.class_realised.get(str(key[1]))
    recall = None if row is None else _finite(row.get("recall"))
    if row is None or recall is None:
        return Judgement(key, False, None, rule.below, f"no realised recall of {key[1]}", {})
    support = _num(row.get("support"))
    lower, upper = _wilson(recall, support) if support > 0 else (None, None)
    use_band = rule.uncertainty == "band" and upper is not None
    met = rule.below is not None and ((upper if use_band else recall) or 0.0) < rule.below
    day = facts.realised_ds
    evidence = {"class_name": key[1], "recall": round(recall, 6), "day": day.isoformat() if day else None,
                "support": row.get("support"), "predicted": row.get("predicted"),
                "precision": _round(row.get("precision")), "recall_lower": _round(lower),
                "recall_upper": _round(upper), "judged_on": "band" if use_band else "value"}
    band = f", band {lower:.3f}-{upper:.3f}" if use_band and lower is not None else ""
    summary = (f"recall of {key[1]} {recall:.3f} of {day} ({'below' if met else 'not below'} {rule.below}{band}; "
               f"{support:.0f} labelled)")
    return Judgement(key, met, recall, rule.below, summary, evidence)


def _interval_coverage(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    row = facts.realised.get(key)
    value = None if row is None else _finite(row.get("interval_coverage"))
    if row is None or value is None:
        return Judgement(key, False, None, rule.below, "no interval coverage", {})
    n = _num(row.get("n_labeled"))
    lower, upper = _wilson(value, n) if n > 0 else (None, None)
    use_band = rule.uncertainty == "band" and upper is not None
    met = rule.below is not None and ((upper if use_band else value) or 0.0) < rule.below
    evidence = {"interval_coverage": round(value, 6), "day": facts.realised_ds.isoformat() if facts.realised_ds else None,
                "n_labeled": row.get("n_labeled"), "coverage_lower": _round(lower), "coverage_upper": _round(upper),
                "judged_on": "band" if use_band else "value"}
    band = f", band {lower:.1%}-{upper:.1%}" if use_band and lower is not None else ""
    summary = (f"interval coverage {value:.1%} of {facts.realised_ds} ({'below' if met else 'not below'} "
               f"{rule.below}{band})")
    return Judgement(key, met, value, rule.below, summary, evidence)


def _data_quality(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    failed = sorted((r for r in facts.data_quality if not r["success"]), key=lambda r: (r["stage"], r["expectation"]))
    evidence = {"failed": [{"stage": r["stage"], "expectation": r["expectation"], "policy": r["policy"],
                            "column": r.get("column_name"), "observed": r.get("observed_value")} for r in failed],
                "checked": len(facts.data_quality)}
    names = ", ".join(f"{r['stage']}.{r['expectation']} ({r['policy']})" for r in failed[:5])
    summary = (f"{len(failed)} of {len(facts.data_quality)} expectations failed: {names}" if failed
               else f"all {len(facts.data_quality)} expectations passed")
    return Judgement(key, bool(failed), float(len(failed)), 1.0, summary, evidence)


def _attribution_drift(rule: AlertRule, facts: DayFacts, key: SliceKey) -> Judgement:
    if not facts.attribution:
        return Judgement(key, False, None, rule.below, "no attribution rows", {})
    ndcg = _num(facts.attribution[0]["ndcg"])
    # Without its own floor the rule uses the one monitoring judged the day by (monitor.attribution_ndcg_alert).
    floor = rule.below if rule.below is not None else facts.attribution[0]["threshold"]
    # The day's top movers as monitoring ranked them (by the change of their share of attribution).
    movers = sorted((r for r in facts.attribution if r.get("mover") is not None), key=lambda r: r["mover"])
    evidence = {"ndcg": round(ndcg, 6), "top_movers": [
        {"feature": r["feature"], "rank": r.get("rank"), "reference_rank": r.get("reference_rank"),
         "share": _round(r.get("share")), "reference_share": _round(r.get("reference_share"))} for r in movers]}
    summary = f"attribution nDCG {ndcg:.3f} ({'below' if ndcg < floor else 'at or above'} {floor})"
    return Judgement(key, ndcg < floor, ndcg, floor, summary, evidence)


#: One judge per kind of rule (the kinds of lakeops.constants.ALERT_KINDS).
JUDGES = {
    "features_drifted": _features_drifted,
    "score_drifted": _score_drifted,
    "estimated_auc": _estimated_auc,
    "realised_auc": _realised_auc,
    "estimated_accuracy": _measure("estimated", "accuracy"),
    "realised_accuracy": _measure("realised", "accuracy"),
    "class_recall": _class_recall,
    "estimated_mae": _measure("estimated", "mae"),
    "realised_mae": _measure("realised", "mae"),
    "estimated_rmse": _measure("estimated", "rmse"),
    "realised_rmse": _measure("realised", "rmse"),
    "interval_coverage": _interval_coverage,
    "data_quality": _data_quality,
    "attribution_drift": _attribution_drift,
}


def _drift_evidence(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"column": r["column_name"], "psi": _round(r["psi"]), "noise_floor": _round(r.get("psi_noise_floor")),
            "alert_threshold": r["alert_threshold"], "n_current": r["n_current"], "n_baseline": r["n_baseline"]}


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _finite(value: Any) -> float | None:
    if value is None or math.isnan(float(value)):
        return None
    return float(value)


def _round(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 6)
