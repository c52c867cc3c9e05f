"""From lakeops' expectation config to Great Expectations 1.x expectations.

Every rule runs as a real GX expectation on a Spark DataFrame. Rules that are
about a partition as a whole run on a small derived batch with one row per
``ds`` (``row_count``), so a range of days is checked in one pass and each
failing day is named:

============================  ==================================================  ===========
kind                          Great Expectations expectation                      batch
============================  ==================================================  ===========
``not_null``                  ``ExpectColumnValuesToNotBeNull``                   rows
``between``                   ``ExpectColumnValuesToBeBetween``                   rows
``in_set``                    ``ExpectColumnValuesToBeInSet``                     rows
``unique`` (per ``ds``)       ``ExpectCompoundColumnsToBeUnique`` (+ ``ds``)      rows
``freshness``                 ``ExpectColumnMaxToBeBetween`` (last ds - age, ds)  rows
``row_count_between``         ``ExpectColumnValuesToBeBetween`` on ``row_count``  per ds
============================  ==================================================  ===========

Reads and writes no tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from lakeops.config import ExpectationConfig

ROWS, PER_DS = "rows", "per_ds"
ROW_COUNT_COLUMN = "row_count"


@dataclass(frozen=True)
class PlannedExpectation:
    """One config rule turned into the GX expectation that checks it."""

    rule: ExpectationConfig
    batch: str  # ROWS or PER_DS
    gx_class: type
    gx_kwargs: dict[str, Any]

    @property
    def column_label(self) -> str:
        return self.rule.column or ",".join(self.rule.columns)

    def build(self, **extra: Any) -> Any:
        """A fresh GX expectation instance (``extra``: e.g. ``meta``)."""
        return self.gx_class(**self.gx_kwargs, **extra)

    def per_row(self, columns: list[str], ds_column: str = "ds") -> tuple[Any, Any] | None:
        """``(checked, unexpected)`` Spark conditions per row, to tell which days a failure belongs to.

        The same rule as the GX expectation, written per row (per day for
        ``freshness``): ``checked`` rows count towards ``mostly``, ``unexpected``
        ones against it. ``None`` when a column it needs is missing (``ds`` for
        ``freshness`` and ``unique``).
        """
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        rule = self.rule
        needed = [rule.column] if rule.column else list(rule.columns)
        if self.batch == PER_DS:
            needed = [ROW_COUNT_COLUMN]
        # Per day needs the day: freshness is judged per ds, uniqueness within one.
        if any(c not in columns for c in needed) or (
                rule.kind in ("freshness", "unique") and ds_column not in columns):
            return None
        everything = F.lit(True)
        if rule.kind == "not_null":
            return everything, F.col(rule.column).isNull()
        if rule.kind == "in_set":
            return F.col(rule.column).isNotNull(), ~F.col(rule.column).isin(list(rule.values))
        if rule.kind in ("between", "row_count_between"):
            x = F.col(needed[0])
            inside = F.lit(True)
            if rule.min is not None:
                inside = inside & (x >= F.lit(rule.min))
            if rule.max is not None:
                inside = inside & (x <= F.lit(rule.max))
            return x.isNotNull(), ~inside
        if rule.kind == "unique":
            keys = [*rule.columns, *([ds_column] if ds_column not in rule.columns else [])]
            return everything, F.count(F.lit(1)).over(Window.partitionBy(*keys)) > 1
        if rule.kind == "freshness":
            newest = F.max(F.col(rule.column)).over(Window.partitionBy(ds_column))
            ds = F.col(ds_column)
            return everything, newest.isNull() | (newest < F.date_sub(ds, rule.max_age_days)) | (newest > ds)
        raise ValueError(f"unknown expectation kind {rule.kind!r}")

    def per_row_local(self, frame: pd.DataFrame, ds_column: str = "ds") -> tuple[pd.Series, pd.Series] | None:
        """:meth:`per_row` on a pandas copy of the rows (the batch GX's pandas engine validates): the same
        rule, as boolean Series. Nulls are pandas' (``None``, ``NaN``), as GX's pandas engine sees them."""
        rule = self.rule
        needed = [ROW_COUNT_COLUMN] if self.batch == PER_DS else ([rule.column] if rule.column else list(rule.columns))
        if any(c not in frame.columns for c in needed) or (
                rule.kind in ("freshness", "unique") and ds_column not in frame.columns):
            return None
        everything = pd.Series(True, index=frame.index)
        if rule.kind == "not_null":
            return everything, frame[rule.column].isna()
        if rule.kind == "in_set":
            x = frame[rule.column]
            return x.notna(), x.notna() & ~x.isin(list(rule.values))
        if rule.kind in ("between", "row_count_between"):
            x = frame[needed[0]]
            inside = pd.Series(True, index=frame.index)
            if rule.min is not None:
                inside &= (x >= rule.min).fillna(False).astype(bool)
            if rule.max is not None:
                inside &= (x <= rule.max).fillna(False).astype(bool)
            return x.notna(), x.notna() & ~inside
        if rule.kind == "unique":
            keys = [*rule.columns, *([ds_column] if ds_column not in rule.columns else [])]
            return everything, frame.groupby(keys, dropna=False)[keys[0]].transform("size") > 1
        if rule.kind == "freshness":
            newest = frame.groupby(ds_column, dropna=False)[rule.column].transform("max")
            late = [_stale(n, d, rule.max_age_days) for n, d in zip(newest, frame[ds_column], strict=True)]
            return everything, pd.Series(late, index=frame.index, dtype=bool)
        raise ValueError(f"unknown expectation kind {rule.kind!r}")


def _stale(newest: Any, ds: Any, max_age_days: int) -> bool:
    """A day's newest value is missing, older than ``max_age_days`` before the day, or after it; a row
    without a day is not judged (as Spark's null comparison leaves it). A timestamp is compared with the
    day's midnight, as Spark compares a timestamp with a date."""
    if newest is None or pd.isna(newest):
        return True
    if ds is None or pd.isna(ds):
        return False
    day = pd.Timestamp(ds, tz=newest.tzinfo) if isinstance(newest, datetime) else ds
    return bool(newest < day - timedelta(days=max_age_days) or newest > day)


def plan(rule: ExpectationConfig, *, last_ds: date, ds_column: str = "ds") -> PlannedExpectation:
    """The GX expectation for ``rule`` when the run's newest partition is ``last_ds``."""
    import great_expectations.expectations as gxe

    mostly = {"mostly": rule.mostly} if rule.mostly < 1 else {}
    kind = rule.kind
    if kind == "not_null":
        return PlannedExpectation(rule, ROWS, gxe.ExpectColumnValuesToNotBeNull, dict(column=rule.column, **mostly))
    if kind == "between":
        return PlannedExpectation(
            rule, ROWS,
            gxe.ExpectColumnValuesToBeBetween, dict(column=rule.column, min_value=rule.min, max_value=rule.max, **mostly),
        )
    if kind == "in_set":
        return PlannedExpectation(
            rule, ROWS, gxe.ExpectColumnValuesToBeInSet, dict(column=rule.column, value_set=list(rule.values), **mostly)
        )
    if kind == "unique":
        columns = [*rule.columns, *([ds_column] if ds_column not in rule.columns else [])]
        return PlannedExpectation(rule, ROWS, gxe.ExpectCompoundColumnsToBeUnique, dict(column_list=columns, **mostly))
    if kind == "freshness":
        return PlannedExpectation(
            rule, ROWS,
            gxe.ExpectColumnMaxToBeBetween,
            dict(column=rule.column, min_value=last_ds - timedelta(days=rule.max_age_days), max_value=last_ds),
        )
    if kind == "row_count_between":
        return PlannedExpectation(
            rule, PER_DS,
            gxe.ExpectColumnValuesToBeBetween, dict(column=ROW_COUNT_COLUMN, min_value=rule.min, max_value=rule.max),
        )
    raise ValueError(f"unknown expectation kind {kind!r}")  # config validation makes this unreachable
