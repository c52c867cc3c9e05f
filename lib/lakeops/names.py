"""Validation of names and paths that come from users.

Every table, schema and model name passes through :func:`validate_name` before it
is used in a path or a query, and every table location is resolved and checked
to stay under the lakehouse root (docs/reliability.md: hostile parameters are refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakeops.constants import NAME_PATTERN
from lakeops.errors import InvalidParameterError


def validate_name(name: object, *, kind: str = "name") -> str:
    """Return ``name`` if it matches ``^[a-z][a-z0-9_]{0,62}$``.

    Raises:
        InvalidParameterError: naming the kind of name and the rule it broke.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidParameterError(
            f"invalid {kind} {name!r}: use 1-63 characters of lowercase letters, digits "
            "and '_', starting with a letter"
        )
    return name


@dataclass(frozen=True, order=True)
class TableName:
    """A table identifier ``<schema>.<table>``, both parts validated."""

    schema: str
    table: str

    def __post_init__(self) -> None:
        validate_name(self.schema, kind="schema name")
        validate_name(self.table, kind="table name")

    @classmethod
    def parse(cls, text: str) -> TableName:
        """Parse ``"schema.table"``; anything else is an :class:`InvalidParameterError`."""
        if not isinstance(text, str) or text.count(".") != 1:
            raise InvalidParameterError(
                f"invalid table name {text!r}: expected '<schema>.<table>', e.g. 'raw.telemetry'"
            )
        schema, table = text.split(".")
        return cls(schema, table)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def path_under(root: Path, *parts: str) -> Path:
    """Join ``parts`` onto ``root`` and prove the result stays under ``root``.

    The parts are expected to be validated names already; the resolve-and-compare
    is the second line of defence (symlinks, future callers).
    """
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if candidate != base and base not in candidate.parents:
        raise InvalidParameterError(f"path {candidate} escapes the lakehouse root {base}")
    return candidate
