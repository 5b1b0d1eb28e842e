"""Style thresholds at their edges, the standing codec, and calendar periods."""

from datetime import UTC, datetime

import pytest

from services.recognition.domain.periods import InvalidPeriod, month_range, parse, resolve
from services.recognition.domain.standing import Standing, decode, encode, style


@pytest.mark.parametrize(
    ("give", "take", "expected"),
    [
        (0, 0, "newcomer"),
        (2, 0, "newcomer"),  # g + t = 2 < 3
        (1, 1, "newcomer"),
        (3, 0, "giver"),  # g + t = 3: no longer a newcomer
        (3, 2, "giver"),  # r = 0.6 exactly
        (6, 4, "giver"),  # r = 0.6 exactly, again
        (59, 41, "matcher"),  # r = 0.59
        (1, 3, "taker"),  # r = 0.25 exactly
        (26, 74, "matcher"),  # r = 0.26
        (0, 3, "taker"),
        (2, 2, "matcher"),
    ],
)
def test_style_thresholds(give: int, take: int, expected: str) -> None:
    assert style(give, take) == expected


def test_an_encoded_standing_sorts_by_how_many_facts_it_counts() -> None:
    older = encode(9, Standing(give=100))
    newer = encode(10, Standing(give=1))
    assert max(older, newer) == newer
    assert decode(newer) == Standing(give=1)


def test_standing_score_is_give_plus_twice_the_counted_kudos_received() -> None:
    assert Standing(give=5, take=9, kudos_received=3).score == 11


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-Q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026-W01", datetime(2025, 12, 29, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)),
    ],
)
def test_periods_are_half_open_utc_intervals(key: str, start: datetime, end: datetime) -> None:
    period = parse(key)
    assert (period.start, period.end) == (start, end)
    assert period.contains(start)
    assert not period.contains(end)


def test_previous_and_following_cross_year_boundaries() -> None:
    assert parse("2026-01").previous().key == "2025-12"
    assert parse("2026-Q1").previous().key == "2025-Q4"
    assert parse("2025-W52").following().key == "2026-W01"
    assert parse("2026-Q3").months() == ["2026-07", "2026-08", "2026-09"]


def test_named_periods_resolve_against_now() -> None:
    now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert resolve("month", now).key == "2026-11"
    assert resolve("quarter", now).key == "2026-Q4"
    assert resolve("week", now).key == "2026-W48"
    assert resolve("all", now).key == "all"


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "2026-W54", "26-01", "", "month!"])
def test_a_malformed_period_is_refused(bad: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse(bad)


def test_month_range_includes_both_ends() -> None:
    assert [m.key for m in month_range("2025-11", "2026-02")] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
