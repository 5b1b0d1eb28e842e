"""The pure rules behind community health: concentration measures, membership at a moment,
the last six sessions, alerts, and the badge rules that read sessions and reuses."""

from datetime import UTC, datetime, timedelta

import pytest

from services.recognition.domain import badges
from services.recognition.domain.health import (
    HeldSession,
    Reuse,
    Teams,
    absence_factor,
    alerts,
    last_sessions,
    members_at,
    top20_share,
)
from shared.community_health import METRICS, HealthMetrics

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.mark.parametrize(
    ("points", "expected"),
    [([], 0), ([0, 0], 0), ([10], 1), ([5, 5], 1), ([4, 3, 3], 2), ([1] * 10, 5), ([9, 1, 1], 1)],
)
def test_absence_factor_is_the_fewest_reaching_half(points: list[int], expected: int) -> None:
    assert absence_factor(points) == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], 0.0),
        ([10], 1.0),
        ([8, 1, 1, 1, 1], 0.6667),
        ([5] * 6, 0.3333),
        ([90, 1, 1, 1, 1, 1], 0.9579),
    ],
)
def test_top20_share_takes_the_ceiling_of_a_fifth(points: list[int], expected: float) -> None:
    assert top20_share(points) == expected


def test_membership_at_a_moment_is_decided_by_the_latest_change_before_it() -> None:
    changes = {
        "stays": [(at(0), "joined")],
        "left": [(at(0), "joined"), (at(5), "left")],
        "back": [(at(0), "joined"), (at(5), "left"), (at(8), "joined")],
        "later": [(at(20), "joined")],
        "at_the_end": [(at(10), "joined")],
    }
    assert members_at(changes, at(10)) == {"stays", "back"}


def test_last_sessions_are_the_six_latest_before_the_end() -> None:
    sessions = [HeldSession(f"s{i}", at(i), "f", (), ()) for i in range(10)]
    assert [s.session_id for s in last_sessions(sessions, at(8))] == [f"s{i}" for i in range(2, 8)]


def numbers(**given: float) -> HealthMetrics:
    """A month's numbers: those given, 0 for the others."""
    return HealthMetrics.model_validate(dict.fromkeys(METRICS, 0) | given)


def test_stagnation_needs_strictly_falling_attendance_over_four_months() -> None:
    calm = numbers(facilitators_last6=2, sessions_last6=6)
    assert "stagnation" in alerts(calm, [9.0, 7.0, 5.0, 4.0])
    assert "stagnation" not in alerts(calm, [9.0, 7.0, 7.0, 4.0])
    assert "stagnation" not in alerts(calm, [7.0, 5.0, 4.0])


def test_dominance_and_single_facilitator_thresholds() -> None:
    base = {"facilitators_last6": 2, "sessions_last6": 6}
    assert "dominance" in alerts(numbers(**base, top20_share=0.8001, contributors_with_give=5), [])
    assert "dominance" not in alerts(numbers(**base, top20_share=0.8, contributors_with_give=5), [])
    assert "dominance" not in alerts(
        numbers(**base, top20_share=0.95, contributors_with_give=4), []
    )
    assert "single_facilitator" in alerts(numbers(facilitators_last6=1, sessions_last6=4), [])
    assert "single_facilitator" not in alerts(numbers(facilitators_last6=1, sessions_last6=3), [])


def test_consistent_attendees_attended_80_percent_of_at_least_five_sessions() -> None:
    five = [HeldSession(f"s{i}", at(i), "f", (), ("a", "b") if i < 4 else ("a",)) for i in range(5)]
    assert badges.consistent_attendees(five) == {"a", "b"}  # b: 4 of 5 = 80%
    assert badges.consistent_attendees(five[:4]) == set()  # only 4 sessions in the quarter


def test_spreading_teams_leave_out_the_authors_teams_at_the_time_of_each_reuse() -> None:
    teams = Teams({"author": [(at(0), "core"), (at(10), "edge")], "u": [(at(0), "data")]})
    reuses = [
        Reuse("p", "x", "core", at(5)),  # the author's team then: not a spread
        Reuse("p", "x", "core", at(12)),  # the author moved to edge: now it is
        Reuse("p", "y", "edge", at(12)),
        Reuse("p", "u", "", at(12)),  # no team given: the member's own
    ]
    assert badges.spreading_teams(["author"], reuses, teams) == {"core", "data"}
