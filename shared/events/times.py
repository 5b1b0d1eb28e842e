"""Instants in events: aware, in UTC, and a validation error rather than a crash when not."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# The calendar's first and last years are left out: every consumer's arithmetic on an accepted
# instant (a reminder a day before it, the month, quarter or ISO week before and after it, the
# 90 days before a period's end) stays inside Python's calendar (years 1 to 9999).
FIRST_YEAR = 2
LAST_YEAR = 9998
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
RANGE = f"{FIRST_YEAR:04d}-01-01T00:00:00Z and {LAST_YEAR:04d}-12-31T23:59:59Z"


def to_utc(value: datetime, name: str = "") -> datetime:
    """An aware datetime in UTC; a validation error (inside a model) when there is none.

    A time near the ends of the calendar with an offset (`0001-01-01T00:00:00+14:00`,
    `9999-12-31T23:59:59-12:00`) has no UTC equivalent: `astimezone` raises OverflowError,
    which pydantic would not turn into a validation error.
    """
    prefix = f"{name} " if name else ""
    if value.tzinfo is None:
        raise ValueError(f"{prefix}must carry a timezone (ISO-8601 with Z or an offset)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise PydanticCustomError(
            "datetime_out_of_range",
            f"Datetime out of range once converted to UTC: it must lie between {RANGE}",
        ) from None
    return utc


def _utc(value: datetime) -> datetime:
    return to_utc(value)


Instant = Annotated[datetime, AfterValidator(_utc)]
"""A time in an event: aware, and held in UTC."""
