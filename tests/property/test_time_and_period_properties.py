"""Times and periods at the ends of the calendar, for any instant, offset and key hypothesis tries.

- a time with any offset is either accepted, as the same instant in UTC between
  0002-01-01T00:00:00Z and 9998-12-31T23:59:59.999999Z, or refused as a validation error naming
  the range: never an OverflowError;
- every consumer's arithmetic on an accepted instant stays inside the calendar: the notifier's
  reminders before it, its quiet hours and digests in any member's timezone, its invitation's
  end; recognition's months, quarters and ISO weeks around it and the 90 days before them;
- a period key (`YYYY-MM`, `YYYY-Qn`, `YYYY-Www`) with any year from 0000 to 9999 is either
  refused as an `InvalidPeriod` or lies in the years 0002 to 9998, with the periods before and
  after it and its months computable; parsing any text raises nothing but `InvalidPeriod`.

Years 1 and 9999, quarters, ISO weeks 52 and 53 and leap days are given as explicit examples,
so they are tried on every run.
"""

import contextlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import available_timezones

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.notifier.domain.preferences import (
    Preferences,
    QuietHours,
    digest_period,
    quiet_until,
)
from services.notifier.settings import NotifierSettings
from services.recognition.adapters.health_reads import months_for
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.domain.periods import (
    InvalidPeriod,
    Period,
    month_range,
    parse,
    period_of,
    resolve,
)
from shared.calendar import session_ics
from shared.events.catalog import Instant
from shared.events.times import EARLIEST, FIRST_YEAR, LAST_YEAR, LATEST

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INSTANT = TypeAdapter(Instant)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KINDS = ("month", "quarter", "week")

MAX_OFFSET = timedelta(hours=23, minutes=59)
fixed_offsets = st.builds(
    timezone,
    st.timedeltas(min_value=-MAX_OFFSET, max_value=MAX_OFFSET).map(
        lambda d: timedelta(minutes=d // timedelta(minutes=1))
    ),
)
any_times = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999),
    timezones=fixed_offsets | st.just(UTC),
)
accepted_instants = st.datetimes(
    min_value=EARLIEST.replace(tzinfo=None),
    max_value=LATEST.replace(tzinfo=None),
    timezones=st.just(UTC),
)
ZONES = ["Pacific/Kiritimati", "Etc/GMT-14", "Etc/GMT+12", "Pacific/Pago_Pago", "UTC"]
zone_names = st.sampled_from(ZONES) | st.sampled_from(sorted(available_timezones()))


def offset(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def validated(value: datetime | str) -> datetime | ValidationError:
    try:
        return INSTANT.validate_python(value)
    except ValidationError as e:
        return e


# --- the time every service accepts ------------------------------------------------------------


@PROPERTY
@given(at=any_times)
@example(at=datetime(1, 1, 1, tzinfo=UTC))  # the calendar's first instant: refused
@example(at=datetime(1, 1, 1, tzinfo=offset(14)))  # no UTC equivalent
@example(at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=offset(-12)))  # no UTC equivalent
@example(at=datetime(9999, 1, 1, tzinfo=UTC))  # the calendar's last year: refused
@example(at=datetime(1, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))  # just before the range
@example(at=datetime(2, 1, 1, tzinfo=UTC))  # the range's first instant
@example(at=datetime(2, 1, 1, tzinfo=timezone(timedelta(minutes=1))))  # 0001-12-31T23:59Z
@example(at=datetime(1, 12, 31, 23, tzinfo=offset(-1)))  # 0002-01-01T00:00Z
@example(at=datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))  # the range's last instant
@example(at=datetime(9999, 1, 1, tzinfo=timezone(timedelta(minutes=1))))  # 9998-12-31T23:59Z
@example(at=datetime(9998, 12, 31, 23, 30, tzinfo=offset(-1)))  # 9999-01-01T00:30Z
@example(at=datetime(4, 2, 29, 23, 30, tzinfo=offset(-1)))  # a leap day, 03-01 in UTC
@example(at=datetime(9996, 2, 29, 0, 30, tzinfo=offset(1)))  # a leap day, 02-28 in UTC
def test_a_time_is_the_same_instant_in_utc_within_the_range_or_refused_naming_it(
    at: datetime,
) -> None:
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        utc = None
    inside = utc is not None and EARLIEST <= utc <= LATEST
    for value in (at, at.isoformat()):
        accepted = validated(value)
        if inside:
            assert isinstance(accepted, datetime), (value, accepted)
            assert accepted == at
            assert accepted.tzinfo == UTC
        else:
            assert isinstance(accepted, ValidationError), (value, accepted)
            (error,) = accepted.errors()
            assert error["type"] == "datetime_out_of_range", error
            assert "0002-01-01T00:00:00Z and 9998-12-31T23:59:59Z" in error["msg"]


def test_the_range_is_the_calendar_without_its_first_and_last_years() -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (2, 9998)
    assert INSTANT.validate_python("0002-01-01T00:00:00Z") == EARLIEST
    assert INSTANT.validate_python("9998-12-31T23:59:59.999999Z") == LATEST


# --- what consumers compute from an accepted instant ------------------------------------------

EDGE_INSTANTS = [
    EARLIEST,
    LATEST,
    datetime(4, 2, 29, 12, tzinfo=UTC),
    datetime(9996, 2, 29, 12, tzinfo=UTC),
    datetime(9998, 12, 28, tzinfo=UTC),  # the Monday of the range's last ISO week
]


def notifier_arithmetic(at: datetime, zone_name: str, quiet: QuietHours) -> None:
    """What the notifier computes from a session's start and an event's time."""
    offsets = NotifierSettings().reminder_offsets_h
    for hours in offsets:
        due = at - timedelta(hours=hours)
        quiet_until(Preferences(quiet_hours=quiet), zone_name, due)
    for digest in ("daily", "weekly"):
        _, send_at = digest_period(Preferences(digest=digest), zone_name, at)
        assert send_at > at
    quiet_until(Preferences(quiet_hours=quiet), zone_name, at)
    session = {
        "session_id": "s1",
        "title": "t",
        "starts_at": at.isoformat(),
        "duration_minutes": 24 * 60,
    }
    session_ics(
        session, method="REQUEST", sequence=0, organizer="o@x.org", attendee="a@x.org", stamp=NOW
    )


def recognition_arithmetic(at: datetime) -> None:
    """What recognition computes from a kudos' or a held session's time."""
    for kind in KINDS:
        period = period_of(kind, at)
        assert period.contains(at)
        # a month's numbers use the three months before it (stagnation) and the three after
        around = [period.previous().previous().previous(), period.following().following()]
        for p in (period, *around):
            months_for(p)
        assert resolve(period.key, NOW) == period
    for allowance in ("month", "week"):
        policy = KudosPolicy(allowance=3, period=allowance, value_tags=frozenset({"x"}))
        assert resolve(policy.period_of(at), NOW).contains(at)


@PROPERTY
@given(
    at=accepted_instants,
    zone_name=zone_names,
    quiet=st.builds(QuietHours, start=st.times(), end=st.times()),
)
@example(at=EARLIEST, zone_name="Etc/GMT+12", quiet=QuietHours(start=time(22), end=time(7)))
@example(at=EARLIEST, zone_name="Pacific/Kiritimati", quiet=QuietHours(start=time(0), end=time(23)))
@example(at=LATEST, zone_name="Pacific/Kiritimati", quiet=QuietHours(start=time(22), end=time(7)))
@example(at=LATEST, zone_name="Etc/GMT+12", quiet=QuietHours(start=time(23), end=time(1)))
def test_every_consumers_arithmetic_on_an_accepted_instant_stays_in_the_calendar(
    at: datetime, zone_name: str, quiet: QuietHours
) -> None:
    notifier_arithmetic(at, zone_name, quiet)
    recognition_arithmetic(at)


@pytest.mark.parametrize("at", EDGE_INSTANTS, ids=lambda at: at.isoformat())
@pytest.mark.parametrize("zone_name", ZONES)
def test_the_ends_of_the_range_in_the_furthest_timezones(at: datetime, zone_name: str) -> None:
    notifier_arithmetic(at, zone_name, QuietHours(start=time(0), end=time(23, 59)))
    recognition_arithmetic(at)


# --- period keys -------------------------------------------------------------------------------

years = st.integers(min_value=0, max_value=9999)
period_keys = (
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", years, st.integers(1, 12))
    | st.builds(lambda y, q: f"{y:04d}-Q{q}", years, st.integers(1, 4))
    | st.builds(lambda y, w: f"{y:04d}-W{w:02d}", years, st.integers(1, 53))
)
EDGE_KEYS = [
    "0000-01", "0001-01", "0001-12", "0001-Q1", "0001-W01", "0002-01", "0002-Q1", "0002-W01",
    "9998-12", "9998-Q4", "9998-W52", "9998-W53", "9999-01", "9999-12", "9999-Q4", "9999-W52",
    "0004-02", "9996-02", "2020-W53", "2026-W53", "2000-Q1",
]  # fmt: skip


def assert_computable(period: Period) -> None:
    before, after = period.previous(), period.following()
    assert before.end == period.start
    assert after.start == period.end
    assert before.kind == after.kind == period.kind
    if period.kind == "month":
        assert period.months() == [period.key]
    if period.kind == "quarter":
        first = period_of("month", period.start)
        second = first.following()
        assert period.months() == [first.key, second.key, second.following().key]
    assert period_of(period.kind, period.start) == period
    assert period_of(period.kind, period.end - timedelta(microseconds=1)) == period


@PROPERTY
@given(key=period_keys)
def test_a_period_key_is_refused_or_lies_in_the_range_with_its_neighbours(key: str) -> None:
    try:
        period = resolve(key, NOW)
    except InvalidPeriod:
        year = int(key[:4])
        in_range = FIRST_YEAR <= year <= LAST_YEAR
        # inside the range only an ISO week the year does not have is refused
        assert not in_range or (
            key[5] == "W" and int(key[6:]) > date(year, 12, 28).isocalendar()[1]
        )
        return
    assert FIRST_YEAR <= int(key[:4]) <= LAST_YEAR
    assert period.key == key
    assert_computable(period)


@pytest.mark.parametrize("key", EDGE_KEYS)
def test_period_keys_at_the_ends_of_the_calendar(key: str) -> None:
    year = int(key[:4])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        with pytest.raises(InvalidPeriod, match="out of range"):
            resolve(key, NOW)
        return
    try:
        period = resolve(key, NOW)
    except InvalidPeriod:
        assert key[5] == "W"
        assert date(year, 12, 28).isocalendar()[1] < int(key[6:])
        return
    assert_computable(period)


@PROPERTY
@given(key=period_keys | st.text(max_size=20))
@example(key="9999-12")
@example(key="0000-Q1")
@example(key="0001-01")
@example(key="9999-W52")
def test_parsing_any_text_raises_nothing_but_invalid_period(key: str) -> None:
    try:
        period = parse(key)
    except InvalidPeriod:
        return
    # a parsed period lies in the calendar, and whatever lies beyond it is an InvalidPeriod too
    for neighbour in (Period.previous, Period.following):
        with contextlib.suppress(InvalidPeriod):
            neighbour(period)


@PROPERTY
@given(
    first=st.builds(
        lambda y, m: f"{y:04d}-{m:02d}", st.integers(FIRST_YEAR, LAST_YEAR), st.integers(1, 12)
    ),
    months=st.integers(0, 120),
)
@example(first="0002-01", months=0)
@example(first="9988-12", months=120)
@example(first="0004-01", months=2)  # through a leap year's February
def test_a_month_range_in_the_range_has_every_month_once(first: str, months: int) -> None:
    index = int(first[:4]) * 12 + int(first[5:]) - 1 + months
    assume(index // 12 <= LAST_YEAR)
    last = parse(f"{index // 12:04d}-{index % 12 + 1:02d}")
    keys = [m.key for m in month_range(first, last.key)]
    assert len(keys) == months + 1 == len(set(keys))
    assert keys[0] == first
    assert keys[-1] == last.key
