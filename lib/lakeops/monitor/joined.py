"""What the performance measures tally: the monitored days' predictions beside their features rows.

Reads ``predictions.<model>`` and ``features.<model>`` (the days asked for, each at its pinned
version), left-joins them on ``ds`` and the entity keys (a prediction without a features row
keeps null labels) and runs a tallier over the joined batches; only its output reaches the
driver. A few rows (a day of a small fleet: at most :data:`LOCAL_ROWS` predictions) are joined
with Arrow and tallied on the driver by the same tallier, without a Spark job. Writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from lakeops.config import ModelConfig
from lakeops.lake.tables import features_table, predictions_table

if TYPE_CHECKING:
    from lakeops.lake import Lake

#: Predictions up to this many are joined and tallied on the driver: a Spark job costs more.
LOCAL_ROWS = 100_000

Tallier = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def tally_joined(lake: Lake, model: ModelConfig, *, days: Sequence[date], pinned: Mapping[str, int | None],
                 predictions: Sequence[str], features: Sequence[str], tallier: Tallier, schema: pa.Schema,
                 sum_by: Sequence[str] = ()) -> pa.Table:
    """``tallier`` over the ``days``' predictions (their ``predictions`` columns) left-joined with their
    ``features`` columns, the entity keys dropped; rows of ``schema``. With ``sum_by``, the tallier's rows
    are summed per ``sum_by`` values (its other columns are counts)."""
    source, scored = features_table(model.name), predictions_table(model.name)
    keys = ["ds", *model.entity_keys]
    where = {"ds": list(days)}
    rows = lake.row_count(scored, where=where, version=pinned[scored])
    if rows is not None and rows <= LOCAL_ROWS:
        preds = lake.read_arrow(scored, where=where, version=pinned[scored]).select([*keys, *predictions])
        labels = lake.read_arrow(source, where=where, version=pinned[source]).select([*keys, *features])
        joined = preds.join(labels, keys=keys, join_type="left outer").drop_columns(list(model.entity_keys))
        out = pa.Table.from_batches(list(tallier(iter(joined.to_batches()))), schema=schema)
        if sum_by:
            summed = [c for c in schema.names if c not in sum_by]
            out = out.group_by(list(sum_by)).aggregate([(c, "sum") for c in summed])
            out = out.rename_columns([c.removesuffix("_sum") for c in out.column_names])
        return out.select(schema.names).cast(schema)
    return _tally_in_spark(lake, scored, source, where=where, pinned=pinned, keys=keys, predictions=predictions,
                           features=features, entity_keys=model.entity_keys, tallier=tallier, schema=schema,
                           sum_by=sum_by)


def _tally_in_spark(lake: Lake, scored: str, source: str, *, where: Mapping[str, list[date]],
                    pinned: Mapping[str, int | None], keys: list[str], predictions: Sequence[str],
                    features: Sequence[str], entity_keys: Sequence[str], tallier: Tallier, schema: pa.Schema,
                    sum_by: Sequence[str]) -> pa.Table:
    """:func:`tally_joined` as one Spark job: the join, the tallier in tasks (``mapInArrow``), the sums."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    preds = lake.read(scored, where=where, version=pinned[scored]).select(*keys, *predictions)
    labels = lake.read(source, where=where, version=pinned[source]).select(*keys, *features)
    joined = preds.join(labels, on=keys, how="left").drop(*entity_keys)
    tallied = joined.mapInArrow(tallier, from_arrow_schema(schema))
    if sum_by:
        tallied = tallied.groupBy(*sum_by).agg(*[F.sum(c).alias(c) for c in schema.names if c not in sum_by])
    return tallied.toArrow().select(schema.names).cast(schema)
