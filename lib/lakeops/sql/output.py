"""Query results for the terminal (an aligned table) or for programs (CSV, JSON). Reads and writes no tables.

- ``table``: a header, a rule and one line per row; numbers right-aligned,
  doubles to 6 significant digits, nulls as ``null``, then ``(N rows)``.
- ``csv``: a header row, full precision, nulls as empty fields.
- ``json``: one array of objects; dates and timestamps as ISO 8601 strings,
  NaN and infinities as ``null``.

Lists and structs appear as JSON in all three.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa

from lakeops.constants import SQL_FORMATS

Format = Literal["table", "csv", "json"]
FORMATS = SQL_FORMATS


def render(table: pa.Table, *, fmt: Format = "table") -> str:
    """``table`` as text in ``fmt``, ending without a newline."""
    rows = table.to_pylist()
    names = table.column_names
    if fmt == "json":
        return json.dumps([{k: _json_value(v) for k, v in row.items()} for row in rows], indent=1, allow_nan=False)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if row[n] is None else _text(row[n], precise=True) for n in names])
        return buf.getvalue().rstrip("\n")
    if fmt == "table":
        return _aligned(table, rows)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _aligned(table: pa.Table, rows: list[dict[str, Any]]) -> str:
    names = table.column_names
    right = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
             for f in table.schema]
    cells = [[_text(row[n], precise=False) for n in names] for row in rows]
    widths = [max([len(n), *(len(c[i]) for c in cells)]) for i, n in enumerate(names)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)).rstrip()

    out = [line(names), line(["-" * w for w in widths]), *(line(c) for c in cells)]
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out)


def _text(value: Any, *, precise: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if precise else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(_json_value(value))
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value
