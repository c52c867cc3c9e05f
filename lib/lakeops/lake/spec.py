"""Table specs, schema conformance and partition selections.

A :class:`TableSpec` declares a table's schema (as Arrow types, so no JVM is
needed to describe it) and its partition columns. Both backends check incoming
DataFrames against the spec with :func:`conform` and turn a caller's partition
selection into a :class:`PartitionSelection`, so the two backends raise the same
errors for the same bad input. Reads and writes no tables itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeops.errors import InvalidParameterError, SchemaMismatchError
from lakeops.names import TableName, validate_name

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

#: Partition columns are limited to types whose Delta partition-value strings
#: are unambiguous and safe to put into a predicate.
_PARTITION_TYPES = (pa.date32(), pa.string(), pa.int32(), pa.int64())


#: The Delta table property that records which version of its contract a table holds
#: (:attr:`TableSpec.version`); ``lakeops upgrade`` moves it forward.
CONTRACT_VERSION_PROPERTY = "lakeops.contract.version"


@dataclass(frozen=True)
class TableSpec:
    """A table contract: name, Arrow schema, partition columns, description, contract version.

    ``version`` goes up by one with each release that changes the contract; a change
    that only adds nullable columns (appended to the schema) is applied in place by
    ``lakeops upgrade`` (:mod:`lakeops.lake.evolution`).
    """

    name: TableName
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    description: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.name, str):
            object.__setattr__(self, "name", TableName.parse(self.name))
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidParameterError(f"{self.name}: contract version must be a positive integer, got {self.version!r}")
        for f in self.schema:
            validate_name(f.name, kind=f"column name in {self.name}")
        names = self.schema.names
        for col in self.partition_by:
            if col not in names:
                raise InvalidParameterError(f"{self.name}: partition column {col!r} is not in the schema")
            if self.schema.field(col).type not in _PARTITION_TYPES:
                raise InvalidParameterError(
                    f"{self.name}: partition column {col!r} has type {self.schema.field(col).type}; "
                    "use date, string or integer"
                )

    @property
    def data_columns(self) -> list[str]:
        """Columns stored inside the Parquet files (everything but partition columns)."""
        return [n for n in self.schema.names if n not in self.partition_by]

    @cached_property
    def spark_schema(self) -> StructType:
        """The schema as Spark types."""
        return arrow_to_spark(self.schema)


def arrow_to_spark(schema: pa.Schema) -> StructType:
    """Convert an Arrow schema to a Spark ``StructType`` (timestamps must carry a zone)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    for f in schema:
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            raise InvalidParameterError(
                f"column {f.name!r}: use timestamp with tz='UTC'; zone-less timestamps need a newer Delta protocol"
            )
    return from_arrow_schema(schema)


def conform(df: DataFrame, spec: TableSpec) -> DataFrame:
    """Check ``df`` against ``spec`` and return it with the spec's column order.

    Nullability is not compared (Delta columns are nullable; data-quality
    suites own not-null rules).

    Raises:
        SchemaMismatchError: naming the first offending column: an extra column,
            a missing one, one whose name differs only by case, or a changed type.
    """
    expected = {f.name: f.dataType for f in spec.spark_schema.fields}
    lower = {name.lower(): name for name in expected}
    seen: dict[str, str] = {}
    for f in df.schema.fields:
        if f.name.lower() in seen:
            raise SchemaMismatchError(
                f"{spec.name}: columns {seen[f.name.lower()]!r} and {f.name!r} differ only by case"
            )
        seen[f.name.lower()] = f.name
        if f.name not in expected:
            if f.name.lower() in lower:
                raise SchemaMismatchError(
                    f"{spec.name}: column {f.name!r} differs only by case from {lower[f.name.lower()]!r}; "
                    "rename it to match the table"
                )
            raise SchemaMismatchError(
                f"{spec.name}: unexpected column {f.name!r}; the table has {', '.join(expected)}"
            )
        # simpleString leaves nullability out, also inside a list or a struct (containsNull, a field's nullable).
        if f.dataType.simpleString() != expected[f.name].simpleString():
            raise SchemaMismatchError(
                f"{spec.name}: column {f.name!r} has type {f.dataType.simpleString()}, "
                f"the table declares {expected[f.name].simpleString()}"
            )
    missing = [name for name in expected if name not in seen]
    if missing:
        raise SchemaMismatchError(f"{spec.name}: missing column(s) {', '.join(map(repr, missing))}")
    types = {f.name: f.dataType for f in df.schema.fields}
    # A nested column whose only difference is nullability takes the table's (nullable) type.
    return df.select(*[df[name].cast(typ).alias(name) if types[name] != typ else df[name]
                       for name, typ in expected.items()])


def same_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Whether a table's column type (as delta-rs reports it) is the contract's type."""
    # delta-rs hands back large/view string types for plain strings.
    strings = (pa.string(), pa.large_string(), pa.string_view())
    return a == b or (a in strings and b in strings)


@dataclass(frozen=True)
class PartitionSelection:
    """A conjunction of ``column IN (values)`` over partition columns.

    The only kind of predicate lakeops overwrites by; built from allow-listed
    column names and typed values, never from raw strings.
    """

    spec: TableSpec
    values: Mapping[str, tuple[Any, ...]]

    @classmethod
    def build(cls, spec: TableSpec, selection: Mapping[str, Sequence[Any] | Any] | None) -> PartitionSelection:
        """Validate a caller's selection, e.g. ``{"ds": [date(2024, 1, 1)]}``.

        Raises:
            InvalidParameterError: unknown column, empty value list, wrong value type.
        """
        if not spec.partition_by:
            if selection:
                raise InvalidParameterError(f"{spec.name} is not partitioned; pass no partition selection")
            return cls(spec, {})
        if not selection:
            raise InvalidParameterError(
                f"{spec.name} is partitioned by {', '.join(spec.partition_by)}: "
                "say which partitions to overwrite (a full-table overwrite is not allowed)"
            )
        values: dict[str, tuple[Any, ...]] = {}
        for col, vals in selection.items():
            if col not in spec.partition_by:
                raise InvalidParameterError(
                    f"{spec.name}: {col!r} is not a partition column ({', '.join(spec.partition_by)})"
                )
            if isinstance(vals, (str, date, int)):
                vals = [vals]
            typed = tuple(sorted({_check_value(spec, col, v) for v in vals}))
            if not typed:
                raise InvalidParameterError(f"{spec.name}: empty value list for partition column {col!r}")
            values[col] = typed
        return cls(spec, values)

    def matches(self, partition_values: Mapping[str, Any]) -> bool:
        """Whether a file's typed partition values fall inside the selection."""
        return all(partition_values.get(col) in vals for col, vals in self.values.items())

    def delta_filters(self) -> list[tuple[str, str, list[str]]]:
        """The selection as delta-rs ``partition_filters``."""
        return [(col, "in", [to_partition_string(v) for v in vals]) for col, vals in self.values.items()]

    def sql_predicate(self) -> str:
        """The selection as a SQL predicate (native backend's ``replaceWhere``).

        Safe by construction: column names are validated identifiers and values
        are dates, ints, or strings matching the strict name pattern.
        """
        parts = []
        for col, vals in self.values.items():
            literals = ", ".join(_sql_literal(v) for v in vals)
            parts.append(f"`{col}` IN ({literals})")
        return " AND ".join(parts)

    def describe(self) -> str:
        return ", ".join(
            f"{col} in [{', '.join(to_partition_string(v) for v in vals)}]" for col, vals in self.values.items()
        ) or "whole table"


def _check_value(spec: TableSpec, col: str, value: Any) -> Any:
    typ = spec.schema.field(col).type
    if typ == pa.date32():
        if not isinstance(value, date):
            raise InvalidParameterError(f"{spec.name}: partition {col!r} needs date values, got {value!r}")
        return value
    if pa.types.is_integer(typ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameterError(f"{spec.name}: partition {col!r} needs integer values, got {value!r}")
        return value
    # Strings: the same strict pattern as every other name, so a value is always
    # safe in a path and in a predicate.
    return validate_name(value, kind=f"value for partition column {col!r}")


def to_partition_string(value: Any) -> str:
    """How Delta (and Spark's folder names) spell a partition value."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_partition_string(spec: TableSpec, col: str, text: str | None) -> Any:
    """The typed value of a Delta partition-value string (``None`` for null).

    Values delta-rs already typed (its flattened add actions) pass through.
    """
    if text is None or not isinstance(text, str):
        return text
    typ = spec.schema.field(col).type
    if typ == pa.date32():
        return date.fromisoformat(text)
    if pa.types.is_integer(typ):
        return int(text)
    return text


def _sql_literal(value: Any) -> str:
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, int):
        return str(int(value))
    return f"'{validate_name(value)}'"
