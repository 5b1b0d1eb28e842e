"""Calendar periods in UTC: months (`2026-11`), quarters (`2026-Q4`), ISO weeks (`2026-W47`),
all time.

A period is the half-open interval [start, end). Keys sort in time order within one kind.
A period asked for by key lies in the years an event's time may fall in, so the periods before
and after it exist too; past the ends of Python's calendar (years 1 to 9999) there is none, an
`InvalidPeriod` rather than an `OverflowError` or a `ValueError`.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.events.times import FIRST_YEAR, LAST_YEAR

ALL_TIME = "all"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime
    key: str

    @property
    def kind(self) -> str:
        if self.key == ALL_TIME:
            return "all"
        return {"Q": "quarter", "W": "week"}.get(self.key[5], "month")

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def previous(self) -> "Period":
        if self.kind == "all":
            return self
        try:
            last_moment = self.start - timedelta(microseconds=1)
        except OverflowError:
            raise InvalidPeriod(f"no period comes before {self.key}") from None
        return period_of(self.kind, last_moment)

    def following(self) -> "Period":
        return period_of(self.kind, self.end) if self.kind != "all" else self

    def months(self) -> list[str]:
        """The keys of the calendar months this period overlaps."""
        if self.kind == "all":
            raise InvalidPeriod("all time spans every month")
        keys, at = [], self.start
        while at < self.end:
            keys.append(month_key(at))
            at = _month_start(at.year + at.month // 12, at.month % 12 + 1)
        return keys


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def month_key(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def quarter_key(at: datetime) -> str:
    return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"


def week_key(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse(key: str) -> Period:
    """`2026-11`, `2026-Q4`, `2026-W47` or `all`; anything else is an `InvalidPeriod`."""
    try:
        return _parse(key)
    except InvalidPeriod:
        raise
    except (ValueError, OverflowError):  # year 0, or an end past 9999-12-31
        raise InvalidPeriod(f"{key} does not lie within the calendar") from None


def _parse(key: str) -> Period:
    if key == ALL_TIME:
        return Period(_EPOCH, _FOREVER, ALL_TIME)
    if m := _MONTH.match(key):
        year, month = int(m[1]), int(m[2])
        start = _month_start(year, month)
        return Period(start, _month_start(year + month // 12, month % 12 + 1), key)
    if m := _QUARTER.match(key):
        year, quarter = int(m[1]), int(m[2])
        start = _month_start(year, 3 * quarter - 2)
        end = _month_start(year + 1, 1) if quarter == 4 else _month_start(year, 3 * quarter + 1)
        return Period(start, end, key)
    if m := _WEEK.match(key):
        try:
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError as e:
            raise InvalidPeriod(f"{key} is not an ISO week") from e
        start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        return Period(start, start + timedelta(days=7), key)
    raise InvalidPeriod(f"{key!r} is not a period: use YYYY-MM, YYYY-Qn, YYYY-Www or all")


def period_of(kind: str, at: datetime) -> Period:
    """The period of a kind (`month`, `quarter`, `week`, `all`) that contains a moment."""
    keys = {"month": month_key, "quarter": quarter_key, "week": week_key}
    if kind == "all":
        return parse(ALL_TIME)
    if kind not in keys:
        raise InvalidPeriod(f"{kind!r} is not a kind of period: month, quarter, week or all")
    return parse(keys[kind](at))


def resolve(name: str, now: datetime) -> Period:
    """A period by name (`month` = the current month) or by key (`2026-11`), whose year is
    one an event's time may fall in."""
    if name in ("month", "quarter", "week", "all"):
        return period_of(name, now)
    year = next((int(m[1]) for r in (_MONTH, _QUARTER, _WEEK) if (m := r.match(name))), None)
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidPeriod(
            f"{name} is out of range: a period's year runs from {FIRST_YEAR:04d} to {LAST_YEAR}"
        )
    return parse(name)


def month_range(first: str, last: str) -> list[Period]:
    """Every month from `first` to `last`, both included."""
    period, end = parse(first), parse(last)
    if period.kind != "month" or end.kind != "month":
        raise InvalidPeriod("a trend runs from one month (YYYY-MM) to another")
    months = []
    while period.start <= end.start:
        months.append(period)
        period = period.following()
    return months
