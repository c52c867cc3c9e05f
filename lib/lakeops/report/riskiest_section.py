"""The riskiest-entities part of a day page: the day's top rows, with the reasons scoring stored for them.

Scoring may store per-row reason codes in ``predictions.<model>``: ``reason_1`` ..
``reason_k`` (a feature's name; null when the row has fewer) and
``reason_1_contribution`` .. ``reason_k_contribution`` (its signed contribution to
the row's margin: log-odds for a binary model, the label's units for regression,
the predicted class's margin for multiclass), largest magnitude first
(:mod:`lakeops.score.reasons`). When the day's partition has them, this module
picks the day's top rows (binary: by score; regression: by prediction; multiclass:
by confidence among the rows not predicted as the day's most frequent class) and
shapes them into what ``riskiest.html`` shows: entity keys, the output, and the
reasons as chips, red for a feature that pushed the output up, blue for down.
Reads and writes no tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lakeops.constants import CLASS_SCORE_PREFIX
from lakeops.report.problems import measure
from lakeops.report.values import num, to_float

#: Rows listed.
TOP_ROWS = 10
#: The output each problem type ranks its rows by, highest first.
RANK_BY = {"binary": "score", "regression": "prediction", "multiclass": "confidence"}
#: The output columns a row shows, per problem type.
OUTPUTS = {"binary": ("score", "prediction"), "regression": ("prediction", "prediction_lower", "prediction_upper"),
           "multiclass": ("prediction", "confidence")}  # fmt: skip
#: What a contribution is added to, per problem type (a tooltip), and in what units (the caption).
_MARGIN = {"binary": "the margin (log-odds, before calibration)", "regression": "the prediction (the label's units)",
           "multiclass": "the predicted class's margin (before the softmax)"}  # fmt: skip
_UNITS = {"binary": "Contributions are in log-odds, before calibration.",
          "regression": "Contributions are in the label's units.",
          "multiclass": "Contributions are to the predicted class's margin, before the softmax."}  # fmt: skip
_REASON = re.compile(r"reason_(\d+)")
_BOOKKEEPING = {"ds", "model_name", "model_version", "mlflow_run_id"}


@dataclass(frozen=True)
class Riskiest:
    """What the section shows."""

    title: str
    head: list[str]
    rows: list[dict] = field(default_factory=list)
    caption: str = ""


def reason_slots(columns: Sequence[str]) -> list[int]:
    """The ``i`` of every ``reason_i`` that has its ``reason_i_contribution`` too, in order."""
    found = {int(m.group(1)) for c in columns if (m := _REASON.fullmatch(c))}
    return sorted(i for i in found if f"reason_{i}_contribution" in columns)


def key_columns(names: Sequence[str]) -> list[str]:
    """The entity keys of a ``predictions.<model>`` table, from its columns: all but the bookkeeping,
    the outputs (a multiclass model's ``score_<class>`` too) and the reasons."""
    outputs = {o for found in OUTPUTS.values() for o in found}
    return [c for c in names if c not in _BOOKKEEPING and c not in outputs and not c.startswith(CLASS_SCORE_PREFIX)
            and not re.fullmatch(r"reason_\d+(_contribution)?", c)]


def columns(problem_type: str, keys: Sequence[str], slots: Sequence[int]) -> list[str]:
    """The columns of ``predictions.<model>`` the section reads."""
    reasons = [c for i in slots for c in (f"reason_{i}", f"reason_{i}_contribution")]
    return list(dict.fromkeys(["ds", "model_version", *keys, *OUTPUTS[problem_type], *reasons]))


def entities(keys: Sequence[str]) -> str:
    """What the rows are, from the entity keys: ``host_id`` -> 'hosts'; several keys -> 'entities'."""
    if len(keys) != 1:
        return "entities"
    word = re.sub(r"[_ ]?(id|key|uuid|code)$", "", keys[0].strip().lower()).replace("_", " ").strip()
    if not word or word.endswith("s"):
        return "entities" if not word else word
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + ("es" if re.search(r"(x|z|ch|sh)$", word) else "s")


def top_rows(rows: pa.Table, problem_type: str, keys: Sequence[str], top: int = TOP_ROWS) -> tuple[pa.Table, str | None]:
    """The day's ``top`` rows by the problem type's output, highest first (ties by the entity keys), and for
    a multiclass model the day's most frequent predicted class, whose rows are left out."""
    by = RANK_BY[problem_type]
    rows = rows.filter(pc.is_valid(rows[by]))
    mode = None
    if problem_type == "multiclass":
        counts = pc.value_counts(rows["prediction"]).to_pylist()
        counts = [c for c in counts if c["values"] is not None]
        if counts:  # the most rows; a tie to the first class by name
            mode = min(counts, key=lambda c: (-c["counts"], str(c["values"])))["values"]
            rows = rows.filter(pc.fill_null(pc.not_equal(rows["prediction"], mode), True))
    order = [(by, "descending"), *((k, "ascending") for k in keys if k in rows.column_names)]
    if not rows.num_rows:
        return rows, mode
    picked = rows.take(pc.select_k_unstable(rows, k=min(top, rows.num_rows), sort_keys=order))
    return picked.sort_by(order), mode


def build(rows: pd.DataFrame | pa.Table | None, ds: date, *, problem_type: str = "binary", keys: Sequence[str] = (),
          top: int = TOP_ROWS) -> Riskiest | None:
    """The section of the page of ``ds`` from its day's scored rows; None (no section) when there are
    none, or they hold no reason codes."""
    if rows is None:
        return None
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    slots = reason_slots(table.column_names)
    if not slots or RANK_BY[problem_type] not in table.column_names:
        return None
    if not table.num_rows or table["reason_1"].null_count == table.num_rows:  # a day scored before reasons
        return None
    keys = [k for k in keys if k in table.column_names]
    scored = table.num_rows
    picked, mode = top_rows(table, problem_type, keys, top)
    found = [abs(to_float(v)) for slot in slots for v in picked[f"reason_{slot}_contribution"].to_pylist()]
    decimals = _decimals(max([v for v in found if not math.isnan(v)], default=1.0), problem_type)
    out = []
    for i, r in enumerate(picked.to_pylist(), start=1):
        reasons = []
        for slot in slots:
            feature, value = r.get(f"reason_{slot}"), to_float(r.get(f"reason_{slot}_contribution"))
            if feature is None or math.isnan(value):
                continue
            text = f"{value:+,.{decimals}f}".replace("-", "−")
            reasons.append({"feature": str(feature), "value": text, "css": "up" if value > 0 else "down",
                            "tip": f"{feature}: {text} to {_MARGIN[problem_type]}"})
        out.append({"rank": i, "entity": ["–" if r.get(k) is None else str(r.get(k)) for k in keys],
                    "outputs": _outputs(r, problem_type), "reasons": reasons})
    noun = entities(keys)
    return Riskiest(title=f"Riskiest {noun} today", head=["#", *keys, *_HEAD[problem_type], "reasons"], rows=out,
                    caption=_caption(problem_type, len(out), scored, ds, mode))


_HEAD = {"binary": ["score", "prediction"], "regression": ["prediction", "interval"],
         "multiclass": ["predicted class", "confidence"]}  # fmt: skip


def _outputs(r: dict, problem_type: str) -> list[tuple[str, bool]]:
    """The row's outputs as (text, numeric) cells."""
    if problem_type == "binary":
        return [(num(r.get("score")), True), (num(r.get("prediction"), ".0f"), True)]
    if problem_type == "regression":
        lower, upper = r.get("prediction_lower"), r.get("prediction_upper")
        interval = "–" if lower is None and upper is None else f"{measure(lower)} – {measure(upper)}"
        return [(measure(r.get("prediction")), True), (interval, True)]
    predicted = r.get("prediction")
    return [("–" if predicted is None else str(predicted), False), (num(r.get("confidence"), ".1%"), True)]


def _decimals(largest: float, problem_type: str) -> int:
    """Decimals of the section's contributions: two in log-odds; in a regression model's label units, three
    significant digits of the largest shown, the same for all ('+5.90', '−0.56'; '+1,234'; '+0.0312')."""
    if problem_type != "regression" or largest <= 0:
        return 2
    return max(0, 2 - math.floor(math.log10(largest)))


def _caption(problem_type: str, shown: int, scored: int, ds: date, mode: object) -> str:
    ranked = {"binary": "by score, highest first",
              "regression": "by prediction, highest first",
              "multiclass": f"by confidence, highest first, among the rows not predicted as the day's most frequent "
                            f"class ({mode})"}[problem_type]  # fmt: skip
    output = {"binary": "score", "regression": "prediction", "multiclass": "predicted class's probability"}[problem_type]
    return (f"The top {shown} of {scored:,} rows scored on {ds.isoformat()}, {ranked}. Reasons: each feature's signed "
            "contribution to this row's margin (XGBoost's approximate per-feature contributions along the row's tree "
            f"paths; they add up with the bias to the margin), the row's largest as scoring stored them. "
            f"{_UNITS[problem_type]} Red pushed the {output} up, blue down.")
