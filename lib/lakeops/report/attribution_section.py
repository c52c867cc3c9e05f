"""The attribution part of a day page: which features drive the score today, against training.

Shapes rows of ``ml.attribution_drift`` (per day, version and feature: mean
|SHAP| on the day's sample beside the training reference, ranks, shares, the
top movers and the day's nDCG) into what ``attribution.html`` shows: the day's
nDCG against its threshold, one chart of the features ranked by today's mean
|SHAP| beside their training value with the top movers highlighted, and a table
of the movers. Reads and writes no tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from markupsafe import Markup

from lakeops.report.attribution_chart import chart, rank_change, rank_label
from lakeops.report.values import dates, status, to_float, with_columns

COLUMNS = [
    "ds", "model_name", "model_version", "feature", "mean_abs_shap", "share", "rank", "reference_mean_abs_shap",
    "reference_share", "reference_rank", "rank_change", "share_change", "mover", "ndcg", "status", "threshold",
    "n_rows",
]  # fmt: skip
#: Features in the chart: the day's top ones by mean |SHAP|, plus any top mover ranked below them.
TOP_FEATURES = 10
MOVER_BAND = "#fff1cc"


@dataclass(frozen=True)
class Attribution:
    """What the attribution section shows; ``empty`` is the one muted line when there is nothing."""

    empty: str | None = None
    headline: dict | None = None
    chart: Markup | None = None
    movers: list[dict] = field(default_factory=list)
    caption: str = ""


def frame(attribution: pd.DataFrame) -> pd.DataFrame:
    rows = with_columns(attribution, COLUMNS)
    return rows.assign(ds=dates(rows["ds"])) if not rows.empty else rows


def daily_ndcg(attribution: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per day: the nDCG and its status (None without a table)."""
    if attribution is None:
        return None
    rows = frame(attribution)
    if rows.empty:
        return pd.DataFrame(columns=["ndcg", "status"])
    rows = rows.sort_values(["ds", "model_version"], kind="stable").drop_duplicates("ds", keep="last")
    return rows.set_index("ds")[["ndcg", "status"]].assign(status=lambda d: d["status"].map(status))


def build(attribution: pd.DataFrame | None, ds: date, *, top: int = TOP_FEATURES) -> Attribution:
    """The attribution section of the page of ``ds`` from rows of any days."""
    if attribution is None:
        return Attribution(empty="No attribution drift: this lake has no ml.attribution_drift table.")
    rows = frame(attribution)
    rows = rows[rows["ds"] == ds] if not rows.empty else rows
    if rows.empty:
        return Attribution(empty="No attribution drift measured on this day.")
    # Should a day hold two versions' rows, the newer version's (the one that scored last).
    version = rows["model_version"].map(to_float).max()
    rows = rows[rows["model_version"].map(to_float) == version] if not math.isnan(version) else rows
    rows = rows.assign(_rank=rows["rank"].map(to_float), _mover=rows["mover"].map(to_float))
    rows = rows.sort_values(["_rank", "feature"], na_position="last", kind="stable").drop_duplicates("feature")
    first = rows.iloc[0]
    word = status(first["status"])
    ndcg, threshold = to_float(first["ndcg"]), to_float(first["threshold"])
    headline = {"ndcg": ndcg, "status": word, "threshold": threshold, "has_threshold": not math.isnan(threshold),
                "below": ndcg < threshold, "version": version, "n_rows": first["n_rows"]}  # fmt: skip
    below = rows.iloc[top:][rows.iloc[top:]["_mover"].notna()]
    shown = pd.concat([rows.head(top), below])
    movers = rows[rows["_mover"].notna()].sort_values(["_mover", "feature"], kind="stable")
    caption = (f"The {min(top, len(rows))} features of {len(rows)} with the largest mean |SHAP| today"
               f"{f', and {len(below)} top mover(s) ranked below them' if len(below) else ''}: dark bars today, "
               "light bars on the training data of the same version; shaded rows are the day's top movers. "
               "nDCG 1 means the same order as in training.")
    return Attribution(headline=headline, chart=chart(shown), movers=[_mover(r) for r in movers.to_dict("records")],
                       caption=caption)


def _mover(r: dict) -> dict:
    return {"feature": str(r["feature"]), "rank": rank_label(r["rank"]), "reference_rank": rank_label(r["reference_rank"]),
            "change": rank_change(r["rank_change"]) or "=", "share": r["share"], "reference_share": r["reference_share"],
            "share_change": _points(r["share_change"]), "mean_abs_shap": r["mean_abs_shap"],
            "reference_mean_abs_shap": r["reference_mean_abs_shap"]}  # fmt: skip



def _points(value: object) -> str:
    number = to_float(value)
    return "–" if math.isnan(number) else f"{number * 100:+.1f} pp".replace("-", "−")
