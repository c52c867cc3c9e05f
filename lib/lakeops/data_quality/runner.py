"""Run a data-quality suite with Great Expectations on Spark DataFrames.

The caller passes the rows to check (a Spark DataFrame, or an Arrow table it already
holds) and the partitions (``days``) they should cover. Row rules run on the Spark
DataFrame, or, when the rows are at most :data:`LOCAL_ROWS` (a day or two of a fleet),
with GX's pandas engine on one pandas copy of them, counted with pandas too: the same
expectations, without a Spark job. Rules about a partition as a whole
(``row_count_between``) run with GX's pandas engine on the few rows of counts per day
(the row rules' counting aggregation counts them too). Results become
:class:`ExpectationOutcome` rows, each knowing the days it failed on (the caller
writes them to ``ml.data_quality``, one row per ds), and a result document (GX's
own JSON, per batch) that is kept beside the table.

An expectation that cannot be evaluated (a missing column, say) counts as
failed, never as passed (docs/reliability.md: a check that cannot run is a failure). Reads and writes no tables.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from lakeops.config import SuiteConfig
from lakeops.data_quality.expectations import PER_DS, ROW_COUNT_COLUMN, ROWS, PlannedExpectation, plan

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

_POSITION = "lakeops_position"
#: A row batch of at most this many rows is validated by GX's pandas engine on an Arrow copy of it
#: (one Spark job) rather than by its Spark engine (a few Spark jobs per expectation).
LOCAL_ROWS = 200_000
#: Enough failing examples to act on, without collecting a partition.
_EXAMPLES = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    stage: str
    expectation: str  # the config kind, e.g. "unique"
    gx_type: str  # e.g. "expect_compound_columns_to_be_unique"
    column: str
    policy: str
    success: bool
    observed: str
    #: The days this expectation fails on (empty when it passed).
    failing_ds: tuple[date, ...] = ()

    def success_on(self, day: date) -> bool:
        """The outcome for one partition of the run."""
        return self.success or day not in self.failing_ds


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    stage: str
    outcomes: tuple[ExpectationOutcome, ...]
    document: dict[str, Any] = field(repr=False)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """Failed expectations whose policy is ``fail``: these stop the job."""
        return [o for o in self.outcomes if not o.success and o.policy == "fail"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.policy == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def describe_failures(self) -> str:
        return "\n".join(
            f"  - {o.suite}: {o.expectation}({o.column or 'table'}) [{o.gx_type}]: {o.observed}" for o in self.failures
        )


def run_suite(
    df: DataFrame | pa.Table,
    suite: SuiteConfig,
    *,
    stage: str,
    days: list[date],
    ds_column: str = "ds",
    index_columns: tuple[str, ...] = (),
) -> SuiteOutcome:
    """Validate ``df`` (rows for ``days``: a Spark DataFrame, cached by the caller as it is read a few
    times, or an Arrow table) against ``suite``.

    Args:
        stage: where in the job the suite runs ("raw", "features"), for the record.
        days: the partitions ``df`` should cover; a day with no rows counts as
            ``row_count`` 0 for ``row_count_between``.
        index_columns: columns that identify a failing row in the examples
            (``ds`` is always one).
    """
    if not days:
        raise ValueError("run_suite needs at least one day")
    planned = [plan(rule, last_ds=max(days), ds_column=ds_column) for rule in suite.expectations]
    by_batch = {ROWS: [p for p in planned if p.batch == ROWS], PER_DS: [p for p in planned if p.batch == PER_DS]}
    # One pandas copy of small rows serves every row rule (no Spark job); per-day rules alone need none.
    local = _local_copy(df) if isinstance(df, pa.Table) or by_batch[ROWS] else None
    rows: DataFrame | pd.DataFrame = df if local is None else local
    index = [ds_column, *[c for c in index_columns if c != ds_column and c in rows.columns]]
    document: dict[str, Any] = {"suite": suite.name, "stage": stage, "days": [d.isoformat() for d in days]}
    outcomes: list[ExpectationOutcome] = []
    rows_per_day: dict[date, int] | None = None  # counted by the row batch's tally, when it ran
    for batch, items in by_batch.items():
        if not items:
            continue
        frame = rows if batch == ROWS else _rows_per_ds(rows, days, ds_column, counted=rows_per_day)
        found, document[batch], tally = _check_batch(
            frame, items, name=f"{suite.name}_{batch}", suite=suite.name, stage=stage, days=days,
            ds_column=ds_column, index=[c for c in index if c in frame.columns],
        )
        if batch == ROWS:
            rows_per_day = tally.rows_per_day()
        outcomes.extend(found)
    outcome = SuiteOutcome(suite.name, stage, tuple(outcomes), document)
    log.info(
        "quality %s (%s): %d expectation(s), %d failed, %d warning(s)",
        suite.name, stage, len(outcomes), len(outcome.failures), len(outcome.warnings),
    )
    return outcome


def small_copy(df: DataFrame) -> pa.Table | None:
    """``df``'s rows as Arrow when there are at most :data:`LOCAL_ROWS` of them (a suite checks such
    rows without Spark jobs), else ``None``. More rows than that never reach the driver."""
    table = df.limit(LOCAL_ROWS + 1).toArrow()
    return table if table.num_rows <= LOCAL_ROWS else None


def _local_copy(df: DataFrame | pa.Table) -> pd.DataFrame | None:
    """``df`` as pandas when it is an Arrow table or has at most :data:`LOCAL_ROWS` rows, else ``None``."""
    table = df if isinstance(df, pa.Table) else small_copy(df)
    # Dates stay datetime.date (as Spark's rows give them), so freshness compares dates with dates.
    return None if table is None else table.to_pandas(date_as_object=True)


def _check_batch(
    frame: DataFrame | pd.DataFrame, items: list[PlannedExpectation], *, name: str, suite: str, stage: str, days: list[date],
    ds_column: str, index: list[str],
) -> tuple[list[ExpectationOutcome], dict[str, Any], _Tally]:
    """Outcomes of ``items`` on ``frame``, the GX result document and the counts, in a few Spark jobs
    (none for a pandas frame).

    GX decides every verdict in one validation with ``BOOLEAN_ONLY`` results: its
    Spark engine then bundles the metrics into a couple of aggregations instead
    of collecting unexpected examples expectation by expectation. One more
    aggregation (:func:`_tally`) counts rows per day, and the unexpected rows of
    the rules that may have some (a failed rule, or one with ``mostly`` below 1:
    a passed rule without ``mostly`` saw none), for the observed values and the
    failing days. Only the expectations that failed or saw unexpected rows run
    again with ``SUMMARY`` results, for the examples their observed value shows.
    """
    verdict = _validate(frame, items, name=name, result_format={"result_format": "BOOLEAN_ONLY"})
    document = verdict.to_json_dict()
    verdicts = _in_order(items, verdict)
    counted = {i for i, (item, res) in enumerate(zip(items, verdicts, strict=True))
               if not res.success or item.rule.mostly < 1}
    tally = _tally(frame, items, ds_column=ds_column, counted=counted)
    # Examples are worth their Spark jobs only where there is something to show.
    shown = [i for i, (item, res) in enumerate(zip(items, verdicts, strict=True))
             if not res.success or _exception_messages(res.exception_info) or tally.unexpected(i, item)]
    outcomes = {i: _passed(item, verdicts[i], tally.observed(i, item), suite=suite, stage=stage)
                for i, item in enumerate(items) if i not in shown}
    if shown:
        summary: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": _EXAMPLES}
        if index:
            summary["unexpected_index_column_names"] = index
        subset = [items[i] for i in shown]
        result = _validate(frame, subset, name=f"{name}_examples", result_format=summary)
        document["examples"] = result.to_json_dict()
        for i, res in zip(shown, _in_order(subset, result), strict=True):
            found = _outcome(items[i], res, suite=suite, stage=stage, index=index)
            if not found.success:
                found = replace(found, failing_ds=tally.failing_days(i, items[i], days))
            outcomes[i] = found
    return [outcomes[i] for i in range(len(items))], document, tally


@dataclass(frozen=True)
class _Tally:
    """Per day: the rows, the counted rules' checked and unexpected rows (``n<i>``, ``u<i>``), freshness maxima."""

    per_day: list[dict[str, Any]]
    ds_column: str
    evaluable: tuple[bool, ...]

    def rows_per_day(self) -> dict[date, int] | None:
        """Rows per ``ds`` value (None when the frame has no ``ds`` column)."""
        if any(self.ds_column not in r for r in self.per_day):
            return None
        return {r[self.ds_column]: int(r["rows"]) for r in self.per_day}

    def observed(self, i: int, item: PlannedExpectation) -> str:
        """What a passed expectation saw, worded as GX words it."""
        if item.rule.kind == "freshness":
            newest = max((r[f"m{i}"] for r in self.per_day if r.get(f"m{i}") is not None), default=None)
            return f"observed {newest.isoformat() if isinstance(newest, date) else newest}"
        return f"{self.unexpected(i, item)} of {sum(r['rows'] for r in self.per_day)} unexpected"

    def unexpected(self, i: int, item: PlannedExpectation) -> int:
        """Rule ``i``'s unexpected rows over all days (0 for ``freshness``, a column aggregate, and for
        a rule that was not counted: it passed without ``mostly``)."""
        return 0 if item.rule.kind == "freshness" else sum(r.get(f"u{i}") or 0 for r in self.per_day)

    def failing_days(self, i: int, item: PlannedExpectation, days: list[date]) -> tuple[date, ...]:
        """The days on which rule ``i`` fails on its own: its share of unexpected rows that day is more
        than ``mostly`` allows. A failure no single day reproduces (a range-wide ``mostly``), or one
        that could not be evaluated, counts against every day."""
        if len(days) == 1 or not self.evaluable[i] or any(self.ds_column not in r for r in self.per_day):
            return tuple(days)
        bad = {r[self.ds_column] for r in self.per_day
               if (r[f"u{i}"] or 0) > (1 - item.rule.mostly) * (r[f"n{i}"] or 0)}
        return tuple(sorted(d for d in bad if d in days)) or tuple(days)


def _tally(
    frame: DataFrame | pd.DataFrame, items: list[PlannedExpectation], *, ds_column: str, counted: set[int]
) -> _Tally:
    """One aggregation per day over ``frame`` (a Spark job, or pandas for a pandas frame): the rows, the
    ``counted`` rules' checked and unexpected rows (:meth:`PlannedExpectation.per_row`), freshness maxima."""
    if isinstance(frame, pd.DataFrame):
        return _tally_local(frame, items, ds_column=ds_column, counted=counted)
    from pyspark.sql import functions as F

    conditions = [item.per_row(frame.columns, ds_column) if i in counted else None for i, item in enumerate(items)]
    # Conditions first (some are window expressions), then one aggregation per day.
    flags = [F.lit(1).alias("rows")]
    for i, (item, c) in enumerate(zip(items, conditions, strict=True)):
        if c is not None:
            flags += [c[0].cast("long").alias(f"n{i}"), (c[0] & c[1]).cast("long").alias(f"u{i}")]
        if item.rule.kind == "freshness" and item.rule.column in frame.columns:
            flags.append(F.col(item.rule.column).alias(f"m{i}"))
    keys = [ds_column] if ds_column in frame.columns else []
    flagged = frame.select(*keys, *flags)
    sums = [(F.max if c.startswith("m") else F.sum)(c).alias(c) for c in flagged.columns if c not in keys]
    grouped = flagged.groupBy(*keys) if keys else flagged.groupBy()
    per_day = [r.asDict() for r in grouped.agg(*sums).collect()]
    return _Tally(per_day, ds_column, tuple(c is not None or i not in counted for i, c in enumerate(conditions)))


def _tally_local(
    frame: pd.DataFrame, items: list[PlannedExpectation], *, ds_column: str, counted: set[int]
) -> _Tally:
    """:func:`_tally` of a pandas frame (:meth:`PlannedExpectation.per_row_local`), the same counts."""
    conditions = [item.per_row_local(frame, ds_column) if i in counted else None for i, item in enumerate(items)]
    flags: dict[str, pd.Series] = {"rows": pd.Series(1, index=frame.index)}
    maxima = []
    for i, (item, c) in enumerate(zip(items, conditions, strict=True)):
        if c is not None:
            flags[f"n{i}"], flags[f"u{i}"] = c[0].astype(int), (c[0] & c[1]).astype(int)
        if item.rule.kind == "freshness" and item.rule.column in frame.columns:
            flags[f"m{i}"] = frame[item.rule.column]
            maxima.append(f"m{i}")
    flagged = pd.DataFrame(flags)
    aggregations = {c: ("max" if c in maxima else "sum") for c in flagged.columns}
    if ds_column in frame.columns:
        flagged[ds_column] = frame[ds_column]
        grouped = flagged.groupby(ds_column, dropna=False, sort=False).agg(aggregations).reset_index()
        per_day = grouped.to_dict("records")
    else:
        per_day = [{c: (flagged[c].max() if c in maxima else int(flagged[c].sum())) for c in aggregations}]
    per_day = [{k: _scalar(v) for k, v in r.items()} for r in per_day]
    return _Tally(per_day, ds_column, tuple(c is not None or i not in counted for i, c in enumerate(conditions)))


def _scalar(value: Any) -> Any:
    """A pandas cell as Spark's rows give it: ``None`` for a null, Python numbers and datetimes."""
    if value is None or (not isinstance(value, (str, date)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def _rows_per_ds(df: DataFrame | pd.DataFrame, days: list[date], ds_column: str, *,
                 counted: dict[date, int] | None = None) -> pd.DataFrame:
    """One row per expected day with its row count (0 for a day with no rows; null without a ``ds``
    column). A handful of rows: GX checks them with its pandas engine, sparing Spark jobs.
    ``counted``: the rows per day the row batch's tally already counted (no Spark job then)."""
    if ds_column not in df.columns:
        counts: dict[date, int | None] = dict.fromkeys(days)
    else:
        if counted is not None:
            found = counted
        elif isinstance(df, pd.DataFrame):
            found = df.groupby(ds_column).size().to_dict()
        else:
            found = {r[0]: r[1] for r in df.groupBy(ds_column).count().collect()}
        counts = {d: int(found.get(d, 0)) for d in days}
    return pd.DataFrame({ds_column: list(counts), ROW_COUNT_COLUMN: pd.array(list(counts.values()), dtype="Int64")})


def _validate(
    frame: DataFrame | pd.DataFrame, items: list[PlannedExpectation], *, name: str, result_format: dict[str, Any]
):
    import great_expectations as gx

    # Tagged with their position, so results map back whatever order GX reports them in.
    expectations = [item.build(meta={_POSITION: position}) for position, item in enumerate(items)]
    engine = "pandas" if isinstance(frame, pd.DataFrame) else "spark"
    with _GX_LOCK:
        batch = _batch_definitions()[engine].get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(gx.ExpectationSuite(name=name, expectations=expectations), result_format=result_format)


#: GX's context is not safe to share between threads; validations of one process take turns.
_GX_LOCK = threading.Lock()


@functools.cache
def _batch_definitions() -> dict[str, Any]:
    """One ephemeral GX context per process, with a whole-dataframe batch definition per engine: the
    suites are validated on a batch directly, so nothing is added to the context's stores per run
    (a context, data source and validation definition per run cost more than a small validation)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX announces every ephemeral context's temporary docs folder at INFO.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # persist=False: GX would persist every frame it validates and never unpersist it; the
    # caller caches what it validates more than once (prepare does).
    sources: dict[str, Any] = {"pandas": context.data_sources.add_pandas(name="lakeops_pandas"),
               "spark": context.data_sources.add_spark(name="lakeops_spark", persist=False)}
    return {engine: source.add_dataframe_asset(name="rows").add_batch_definition_whole_dataframe("whole")
            for engine, source in sources.items()}


def _in_order(items: list[PlannedExpectation], result) -> list[Any]:
    """GX results in the order of ``items``."""
    by_position = {r.expectation_config.meta[_POSITION]: r for r in result.results}
    return [by_position[i] for i in range(len(items))]


def _passed(item: PlannedExpectation, res: Any, observed: str, *, suite: str, stage: str) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite=suite, stage=stage, expectation=item.rule.kind, gx_type=res.expectation_config.type,
        column=item.column_label, policy=item.rule.policy, success=True, observed=observed,
    )


def _outcome(item: PlannedExpectation, res, *, suite: str, stage: str, index: Sequence[str] = ()) -> ExpectationOutcome:
    errors = _exception_messages(res.exception_info)
    result = res.result or {}
    if errors or (not res.success and not result):
        observed = f"could not be evaluated: {errors[0] if errors else 'no result'}"
    elif "observed_value" in result:
        observed = f"observed {result['observed_value']}"
    else:
        examples = result.get("partial_unexpected_index_list") or result.get("partial_unexpected_list") or []
        count, total = result.get("unexpected_count", 0), result.get("element_count", 0)
        observed = f"{count} of {total} unexpected"
        if examples and count:
            shown = sorted((_example(e, index) for e in examples[:_EXAMPLES]), key=lambda e: json.dumps(e, default=_plain))
            observed += f", e.g. {json.dumps(shown, default=_plain)}"
    return ExpectationOutcome(
        suite=suite,
        stage=stage,
        expectation=item.rule.kind,
        gx_type=res.expectation_config.type,
        column=item.column_label,
        policy=item.rule.policy,
        success=bool(res.success) and not errors,
        observed=observed,
    )


def _example(row: Any, index: Sequence[str] = ()) -> Any:
    """A failing row worded the same whichever engine ran: the index columns (``ds`` first, then
    the others in their order) before the checked value."""
    if not isinstance(row, dict):
        return row
    order = {name: i for i, name in enumerate(dict.fromkeys(["ds", *index]))}
    return dict(sorted(row.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0] == ROW_COUNT_COLUMN)))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (GX's pandas engine reports them), anything else as text."""
    return value.item() if hasattr(value, "item") else str(value)


def _exception_messages(info: Any) -> list[str]:
    """Messages of raised exceptions; GX nests them per metric for some failures."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        if not info.get("raised_exception"):
            return []
        return [str(info.get("exception_message") or "error").splitlines()[0][:300]]
    return [m for nested in info.values() for m in _exception_messages(nested)]
