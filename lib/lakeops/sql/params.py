"""Query parameters and time-travel versions as given on the command line.

A parameter's type comes from its text, by one rule that both engines share
(the value is bound to the query, never written into it):

=====================  ===============  =========================================
text                   type             example
=====================  ===============  =========================================
``YYYY-MM-DD``         date             ``--param ds=2024-01-31``
an integer             integer          ``--param days=7``
a decimal number       double           ``--param threshold=0.25``
anything else          string           ``--param model=incident_risk``
=====================  ===============  =========================================

``name:type=value`` overrides the rule (types ``string``, ``date``, ``int``,
``float``): ``--param host_id:string=0042`` keeps the leading zeros. Reads and
writes no tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from lakeops.errors import InvalidParameterError
from lakeops.names import TableName

ParamValue = str | int | float | date

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+|\d*\.\d+[eE][+-]?\d+)$")
TYPES = ("string", "date", "int", "float")


def parse_params(items: Iterable[str]) -> dict[str, ParamValue]:
    """``["ds=2024-01-31", "days=7"]`` -> ``{"ds": date(2024, 1, 31), "days": 7}``, typed by the rule above.

    Raises:
        InvalidParameterError: no ``=``, a bad name, a repeated name, a value that is not of its declared type.
    """
    out: dict[str, ParamValue] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise InvalidParameterError(f"invalid --param {item!r}: expected NAME=VALUE or NAME:TYPE=VALUE")
        name, _, declared = key.strip().partition(":")
        if not _NAME.fullmatch(name):
            raise InvalidParameterError(f"invalid parameter name {name!r}: use letters, digits and '_'")
        if name in out:
            raise InvalidParameterError(f"parameter {name!r} is given twice")
        out[name] = typed_value(name, text, declared or None)
    return out


def typed_value(name: str, text: str, declared: str | None = None) -> ParamValue:
    """``text`` as the type ``declared`` names, or as the rule infers when ``None``."""
    kind = declared or _infer(text)
    try:
        if kind == "string":
            return text
        if kind == "date":
            if not _DATE.fullmatch(text):
                raise ValueError
            return date.fromisoformat(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        hint = f"; write {name}:string={text} to pass it as text" if declared is None else ""
        raise InvalidParameterError(f"parameter {name}: {text!r} is not a valid {kind}{hint}") from None
    raise InvalidParameterError(f"parameter {name}: unknown type {kind!r}; use one of {', '.join(TYPES)}")


def _infer(text: str) -> str:
    if _DATE.fullmatch(text):
        return "date"
    if _INT.fullmatch(text):
        return "int"
    if _FLOAT.fullmatch(text):
        return "float"
    return "string"


def parse_versions(items: Iterable[str]) -> dict[TableName, int]:
    """``["ml.drift_metrics=3"]`` -> ``{TableName("ml", "drift_metrics"): 3}``.

    Raises:
        InvalidParameterError: not ``schema.table=N``, a negative version, a table given twice.
    """
    out: dict[TableName, int] = {}
    for item in items:
        name, sep, text = item.partition("=")
        table = TableName.parse(name.strip())
        if not sep or not _INT.fullmatch(text.strip()) or int(text) < 0:
            raise InvalidParameterError(f"invalid --version {item!r}: expected <schema>.<table>=N, N a version >= 0")
        if table in out:
            raise InvalidParameterError(f"--version names {table} twice")
        out[table] = int(text)
    return out


def bind(names: Sequence[str], params: Mapping[str, Any], *, given: Iterable[str]) -> dict[str, Any]:
    """The values of ``names`` (one statement's markers) out of ``params``.

    ``given`` is every marker of the script: a parameter none of them uses is
    an error too, since it is most likely a misspelt name.

    Raises:
        InvalidParameterError: a marker without a value, or a value without a marker.
    """
    used = set(given)
    missing = [n for n in names if n not in params]
    if missing:
        raise InvalidParameterError(
            "the query uses " + ", ".join(f":{n}" for n in missing) + " but no value was given "
            f"(--param {missing[0]}=VALUE)"
        )
    unused = sorted(set(params) - used)
    if unused:
        uses = ", ".join(f":{n}" for n in sorted(used)) or "no parameters"
        raise InvalidParameterError(f"parameter(s) {', '.join(unused)} not used by the query (it uses {uses})")
    return {n: params[n] for n in names}
