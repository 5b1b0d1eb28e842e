"""The periods the impact figures are computed for: months (`2026-11`) and quarters
(`2026-Q4`), in UTC, each the half-open interval [start, end)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.events.times import FIRST_YEAR, LAST_YEAR

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
MAX_TREND_MONTHS = 60
"""The longest trend one request may ask for: five years, month by month."""


class InvalidPeriod(ValueError):
    pass


def _month_start(year: int, month: int) -> datetime:
    """The first moment of a month; `month` may run past 12 (into the next years)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def month_key(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime
    key: str

    @property
    def is_quarter(self) -> bool:
        return "Q" in self.key

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def previous(self) -> "Period":
        step = 3 if self.is_quarter else 1
        return _period(self.start.year, self.start.month - step, step)

    def following(self) -> "Period":
        step = 3 if self.is_quarter else 1
        return _period(self.start.year, self.start.month + step, step)

    def months(self) -> list[str]:
        """The keys of the months it spans."""
        step = 3 if self.is_quarter else 1
        return [month_key(_month_start(self.start.year, self.start.month + i)) for i in range(step)]


def _period(year: int, month: int, months: int) -> "Period":
    start = _month_start(year, month)
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise InvalidPeriod(f"periods run from {FIRST_YEAR:04d} to {LAST_YEAR}")
    quarter = f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    key = month_key(start) if months == 1 else quarter
    return Period(start, _month_start(start.year, start.month + months), key)


def parse(key: str) -> Period:
    """`2026-11` or `2026-Q4`; anything else is an `InvalidPeriod`."""
    if m := _MONTH.match(key):
        return _period(int(m[1]), int(m[2]), 1)
    if m := _QUARTER.match(key):
        return _period(int(m[1]), 3 * int(m[2]) - 2, 3)
    raise InvalidPeriod(f"{key!r} is not a period: use YYYY-MM or YYYY-Qn")


def parse_quarter(key: str) -> Period:
    period = parse(key)
    if not period.is_quarter:
        raise InvalidPeriod(f"{key!r} is not a quarter: use YYYY-Qn")
    return period


def month_range(first: str, last: str) -> list[Period]:
    """Every month from `first` to `last`, both included (at most `MAX_TREND_MONTHS`)."""
    period, end = parse(first), parse(last)
    if period.is_quarter or end.is_quarter:
        raise InvalidPeriod("a trend runs from one month (YYYY-MM) to another")
    if end.start < period.start:
        raise InvalidPeriod(f"{last} comes before {first}")
    months = [period]
    while months[-1].start < end.start:
        if len(months) == MAX_TREND_MONTHS:
            raise InvalidPeriod(f"a trend spans at most {MAX_TREND_MONTHS} months")
        months.append(months[-1].following())
    return months
