"""Small value helpers shared by the report modules: nulls, dates, statuses, number formats."""

from __future__ import annotations

import math

import pandas as pd

from lakeops.constants import STATUS_LEVEL


def with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame with any missing contract column added as nulls (an empty ``pd.DataFrame()`` renders too)."""
    missing = [c for c in columns if c not in frame.columns]
    return frame.assign(**{c: None for c in missing}) if missing else frame.copy()


def dates(values: pd.Series) -> pd.Series:
    # Delta readers hand back dates, Timestamps or strings depending on the engine.
    return pd.to_datetime(values).dt.date


def status(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in STATUS_LEVEL else "n/a"


def rank(word: str) -> int:
    return STATUS_LEVEL.get(word, -1)


def to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def num(value: object, spec: str = ".3f") -> str:
    """A number for display ('.1%' for rates, ',.0f' for counts); '–' for null or NaN."""
    number = to_float(value)
    return "–" if math.isnan(number) else format(number, spec)


def pvalue(value: object) -> str:
    number = to_float(value)
    return num(number, ".1e" if 0 < number < 0.001 else ".3f")


def mpl_text(text: object) -> str:
    # matplotlib reads $...$ as mathtext; a column name is never maths.
    return str(text).replace("$", r"\$")
