"""Instants in events: aware, in UTC, and a validation error rather than a crash when not."""

from datetime import UTC, datetime

from pydantic_core import PydanticCustomError

LAST_YEAR = 9998


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
    # The last year is refused too: periods that follow an instant (its next month, quarter,
    # week) must exist, or a consumer's arithmetic would fail on an event the gateway accepted.
    if utc is None or utc.year > LAST_YEAR:
        raise PydanticCustomError(
            "datetime_out_of_range",
            "Datetime out of range once converted to UTC: it must lie between "
            f"0001-01-01T00:00:00Z and {LAST_YEAR}-12-31T23:59:59Z",
        ) from None
    return utc
