"""Periods (months and quarters) and the rules of service ownership."""

from datetime import UTC, datetime

import pytest

from services.impact.domain import periods
from services.impact.domain.ownership import OwnerChange, Owners, assign
from services.impact.domain.periods import InvalidPeriod


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_a_quarter_spans_its_three_months_and_steps_over_years() -> None:
    q4 = periods.parse("2026-Q4")
    assert (q4.start, q4.end) == (at("2026-10-01"), at("2027-01-01"))
    assert q4.months() == ["2026-10", "2026-11", "2026-12"]
    assert q4.following().key == "2027-Q1"
    assert periods.parse("2027-Q1").previous().key == "2026-Q4"


def test_a_month_steps_over_years() -> None:
    assert periods.parse("2026-01").previous().key == "2025-12"
    assert periods.parse("2026-12").following().key == "2027-01"
    assert periods.parse("2026-12").end == at("2027-01-01")


@pytest.mark.parametrize("key", ["2026-13", "2026-Q5", "2026-W03", "26-01", "all", ""])
def test_anything_but_a_month_or_a_quarter_is_refused(key: str) -> None:
    with pytest.raises(InvalidPeriod):
        periods.parse(key)


def test_a_trend_runs_month_by_month_within_its_bound() -> None:
    months = periods.month_range("2025-11", "2026-02")
    assert [m.key for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(InvalidPeriod):
        periods.month_range("2026-02", "2025-11")
    with pytest.raises(InvalidPeriod):
        periods.month_range("2020-01", "2026-01")


def change(effective: str, team: str, made_at: str | None = None) -> OwnerChange:
    return OwnerChange(at(effective), at(made_at or effective), f"k-{team}-{effective}", team)


def test_the_first_owner_owns_the_facts_from_before_it_was_assigned() -> None:
    owners = Owners.of([change("2026-03-01", "payments")])
    assert owners.at(at("2025-01-01")) == "payments"
    assert owners.at(at("2026-06-01")) == "payments"


def test_a_later_owner_takes_the_service_from_its_time_on() -> None:
    owners = Owners.of([change("2026-05-01", "search"), change("2026-03-01", "payments")])
    assert owners.at(at("2026-04-30")) == "payments"
    assert owners.at(at("2026-05-01")) == "search"


def test_a_later_change_dated_back_before_the_first_leaves_the_first_the_earlier_facts() -> None:
    # payments was given the service in June; search from March on, decided in July
    owners = Owners.of(
        [change("2026-06-01", "payments"), change("2026-03-01", "search", "2026-07-01")]
    )
    assert owners.at(at("2026-02-01")) == "payments"
    assert owners.at(at("2026-03-01")) == "search"
    assert owners.at(at("2026-08-01")) == "search"


def test_a_service_nobody_owns_belongs_to_no_team() -> None:
    assert Owners().at(at("2026-05-01")) is None


def test_giving_a_service_to_its_owner_again_changes_nothing_unless_since_is_given() -> None:
    owners = Owners.of([change("2026-03-01", "payments")])
    now = at("2026-06-01")
    assert assign(owners, "service/pay", "payments", None, "ops", now) is None
    moved = assign(owners, "service/pay", "search", None, "ops", now)
    assert moved is not None
    assert moved.team == "search"
    assert moved.since is None
    rewritten = assign(owners, "service/pay", "payments", at("2026-01-01"), "ops", now)
    assert rewritten is not None
    assert rewritten.since == at("2026-01-01")
