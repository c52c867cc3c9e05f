"""Partition dates (``ds``): strict parsing and ranges.

The date a job touches always comes from its caller (Airflow's data interval or
``--ds`` / ``--start`` ``--end``), never from the clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from lakeops.constants import DS_PATTERN
from lakeops.errors import InvalidParameterError

#: A backfill longer than this is almost certainly a typo in a year.
MAX_RANGE_DAYS = 3660


def parse_ds(text: object, *, option: str = "ds") -> date:
    """Parse a ``YYYY-MM-DD`` partition date.

    Raises:
        InvalidParameterError: for anything that is not a real calendar date in
            exactly that form (``2024-13-01``, ``2024-1-1``, SQL fragments, empty).
    """
    if isinstance(text, date):
        return text
    if not isinstance(text, str) or not DS_PATTERN.fullmatch(text):
        raise InvalidParameterError(f"invalid --{option} {text!r}: expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidParameterError(f"invalid --{option} {text!r}: {exc}") from None


def date_range(start: date, end: date) -> list[date]:
    """Every date from ``start`` to ``end``, both included."""
    if end < start:
        raise InvalidParameterError(f"--end {end} is before --start {start}")
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidParameterError(
            f"range {start}..{end} spans {days} days; the limit is {MAX_RANGE_DAYS}"
        )
    return [start + timedelta(days=i) for i in range(days)]


def days_of(*, ds: date | None = None, start: date | None = None, end: date | None = None) -> list[date]:
    """One day (``ds``) or a range (``start`` to ``end``): exactly one of the two forms."""
    if ds is not None:
        if start is not None or end is not None:
            raise InvalidParameterError("give either --ds or --start/--end, not both")
        return [ds]
    if start is None or end is None:
        raise InvalidParameterError("give --ds D, or --start D and --end D")
    return date_range(start, end)
