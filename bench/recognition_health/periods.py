"""Calendar periods (UTC), written here again so that the expected numbers owe nothing to the
service's own code."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Period = tuple[str, datetime, datetime]  # its key (`2026-11`, `2026-Q4`, `2026-W48`), start, end
PeriodOf = Callable[[datetime], Period]


def month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def month_of(at: datetime) -> Period:
    start = month_start(at.year, at.month)
    return f"{at.year:04d}-{at.month:02d}", start, month_start(at.year, at.month + 1)


def quarter_of(at: datetime) -> Period:
    q = (at.month - 1) // 3
    start = month_start(at.year, 3 * q + 1)
    return f"{at.year:04d}-Q{q + 1}", start, month_start(at.year, 3 * q + 4)


def week_of(at: datetime) -> Period:
    year, week, weekday = at.isocalendar()
    start = datetime(at.year, at.month, at.day, tzinfo=UTC) - timedelta(days=weekday - 1)
    return f"{year:04d}-W{week:02d}", start, start + timedelta(days=7)


def period_range(key: str) -> Period:
    """`2026-11` or `2026-Q4`: the key, start and end."""
    year, rest = int(key[:4]), key[5:]
    if rest.startswith("Q"):
        return quarter_of(month_start(year, 3 * int(rest[1:]) - 2))
    return month_of(month_start(year, int(rest)))


def periods_between(first: datetime, last: datetime, of: PeriodOf) -> list[Period]:
    """Every month (or quarter) from the one holding `first` to the one holding `last`."""
    periods = [of(first)]
    while periods[-1][2] <= last:
        periods.append(of(periods[-1][2]))
    return periods
