"""Run a data-quality suite with Great Expectations on Spark DataFrames.

The caller passes the rows to check and the partitions (``days``) they should
cover. Results become :class:`ExpectationOutcome` rows, each knowing the days it
failed on (the caller writes them to ``ml.data_quality``, one row per ds), and
a result document (GX's own JSON, per batch) that is kept beside the table.

An expectation that cannot be evaluated (a missing column, say) counts as
failed, never as passed (docs/reliability.md: a check that cannot run is a failure). Reads and writes no tables.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from lakeops.config import SuiteConfig
from lakeops.quality.expectations import PER_DS, ROW_COUNT_COLUMN, ROWS, PlannedExpectation, plan

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

_POSITION = "lakeops_position"
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
    df: DataFrame,
    suite: SuiteConfig,
    *,
    stage: str,
    days: list[date],
    ds_column: str = "ds",
    index_columns: tuple[str, ...] = (),
) -> SuiteOutcome:
    """Validate ``df`` (rows for ``days``) against ``suite``.

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
    index = [ds_column, *[c for c in index_columns if c != ds_column and c in df.columns]]
    document: dict[str, Any] = {"suite": suite.name, "stage": stage, "days": [d.isoformat() for d in days]}
    outcomes: list[ExpectationOutcome] = []
    for batch, items in by_batch.items():
        if not items:
            continue
        frame = df if batch == ROWS else _rows_per_ds(df, days, ds_column)
        result = _validate(frame, items, name=f"{suite.name}_{batch}", index=[c for c in index if c in frame.columns])
        document[batch] = result.to_json_dict()
        found = [_outcome(item, res, suite=suite.name, stage=stage)
                 for item, res in zip(items, _in_order(items, result), strict=True)]
        failed = [i for i, o in enumerate(found) if not o.success]
        if failed:
            by_day = _failing_days(df, [items[i] for i in failed], batch=batch, days=days, ds_column=ds_column)
            for i, failing in zip(failed, by_day, strict=True):
                # A failure no single day reproduces (a range-wide 'mostly') counts against every day.
                found[i] = replace(found[i], failing_ds=failing or tuple(days))
        outcomes.extend(found)
    outcome = SuiteOutcome(suite.name, stage, tuple(outcomes), document)
    log.info(
        "quality %s (%s): %d expectation(s), %d failed, %d warning(s)",
        suite.name, stage, len(outcomes), len(outcome.failures), len(outcome.warnings),
    )
    return outcome


def _failing_days(
    df: DataFrame, items: list[PlannedExpectation], *, batch: str, days: list[date], ds_column: str
) -> list[tuple[date, ...]]:
    """For each failed expectation, the days on which it fails on its own.

    Runs only when something failed, as one Spark aggregation per batch: each
    rule's unexpected rows are counted per day (:meth:`PlannedExpectation.per_row`)
    and a day fails when its own share of them is more than ``mostly`` allows,
    so a range with one bad day marks only that day.
    """
    from pyspark.sql import functions as F

    if len(days) == 1 or ds_column not in df.columns:
        return [tuple(days)] * len(items)
    frame = df if batch == ROWS else _rows_per_ds(df, days, ds_column)
    conditions = [item.per_row(frame.columns, ds_column) for item in items]
    # Conditions first (some are window expressions), then one aggregation per day.
    flags = [e for i, c in enumerate(conditions) if c is not None
             for e in (c[0].cast("long").alias(f"n{i}"), (c[0] & c[1]).cast("long").alias(f"u{i}"))]
    per_day = []
    if flags:
        flagged = frame.select(ds_column, *flags)
        sums = [F.sum(c).alias(c) for c in flagged.columns if c != ds_column]
        per_day = flagged.groupBy(ds_column).agg(*sums).collect()
    failing: list[tuple[date, ...]] = []
    for i, (item, condition) in enumerate(zip(items, conditions, strict=True)):
        if condition is None:  # could not be evaluated at all: every day failed
            failing.append(tuple(days))
            continue
        bad = [r[ds_column] for r in per_day if (r[f"u{i}"] or 0) > (1 - item.rule.mostly) * (r[f"n{i}"] or 0)]
        failing.append(tuple(sorted(d for d in bad if d in days)))
    return failing


def _rows_per_ds(df: DataFrame, days: list[date], ds_column: str) -> DataFrame:
    """One row per expected day with its row count (0 for a day with no rows)."""
    from pyspark.sql import functions as F

    spark = df.sparkSession
    expected = spark.createDataFrame([(d,) for d in days], f"`{ds_column}` date")
    if ds_column not in df.columns:
        return expected.withColumn(ROW_COUNT_COLUMN, F.lit(None).cast("long"))
    counts = df.groupBy(ds_column).agg(F.count(F.lit(1)).alias(ROW_COUNT_COLUMN))
    return expected.join(counts, on=ds_column, how="left").fillna(0, subset=[ROW_COUNT_COLUMN])


def _validate(frame: DataFrame, items: list[PlannedExpectation], *, name: str, index: list[str]):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX announces every ephemeral context's temporary docs folder at INFO.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = context.data_sources.add_spark(name="lakeops").add_dataframe_asset(name=name)
    definition = batch.add_batch_definition_whole_dataframe("whole")
    # Tagged with their position, so results map back whatever order GX reports them in.
    expectations = [item.build(meta={_POSITION: position}) for position, item in enumerate(items)]
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=definition, suite=suite))
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": _EXAMPLES}
    if index:
        result_format["unexpected_index_column_names"] = index
    return validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)


def _in_order(items: list[PlannedExpectation], result) -> list[Any]:
    """GX results in the order of ``items``."""
    by_position = {r.expectation_config.meta[_POSITION]: r for r in result.results}
    return [by_position[i] for i in range(len(items))]


def _outcome(item: PlannedExpectation, res, *, suite: str, stage: str) -> ExpectationOutcome:
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
            observed += f", e.g. {json.dumps(examples[:_EXAMPLES], default=str)}"
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


def _exception_messages(info: Any) -> list[str]:
    """Messages of raised exceptions; GX nests them per metric for some failures."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        if not info.get("raised_exception"):
            return []
        return [str(info.get("exception_message") or "error").splitlines()[0][:300]]
    return [m for nested in info.values() for m in _exception_messages(nested)]
