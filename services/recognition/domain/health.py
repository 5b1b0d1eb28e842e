"""Community health over a period P = [start, end), from the facts the projection keeps.

Pure functions: the adapter gathers a `History` (the period's facts, the roster, teams as they
changed over time) and `metrics` turns it into the period's `HealthMetrics`. Ratios are rounded
to 4 decimals.
"""

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from services.recognition.domain.periods import Period
from shared.community_health import HealthMetrics

INACTIVE_AFTER = timedelta(days=90)
LAST_SESSIONS = 6


@dataclass(frozen=True)
class Activity:
    member_id: str
    give: int
    take: int
    at: datetime


@dataclass(frozen=True)
class HeldSession:
    session_id: str
    at: datetime
    facilitator_id: str
    speaker_ids: tuple[str, ...]
    attendee_ids: tuple[str, ...]

    @property
    def participants(self) -> set[str]:
        return {self.facilitator_id, *self.speaker_ids, *self.attendee_ids}


@dataclass(frozen=True)
class Feedback:
    rating: int
    applied: bool
    at: datetime


@dataclass(frozen=True)
class Reuse:
    artifact_id: str
    member_id: str
    team: str
    at: datetime


@dataclass(frozen=True)
class OpenedAction:
    action_item_id: str
    at: datetime
    closed_at: datetime | None


@dataclass
class Teams:
    """Each member's team as it changed: the team at a moment is the latest change at or
    before it; an empty team is unknown."""

    changes: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

    def at(self, member_id: str, moment: datetime) -> str:
        team = ""
        for changed_at, value in sorted(self.changes.get(member_id, ())):
            if changed_at > moment:
                break
            team = value
        return team


@dataclass
class History:
    """What a period's numbers are computed from. `activity` covers the period and the 90 days
    before its end; `recent_sessions` holds at least the last six sessions before its end."""

    activity: list[Activity]
    sessions: list[HeldSession]
    recent_sessions: list[HeldSession]
    feedback: list[Feedback]
    published: list[datetime]
    reuses: list[Reuse]
    opened_actions: list[OpenedAction]
    membership: dict[str, list[tuple[datetime, str]]]  # member -> [(at, "joined" | "left")]
    teams: Teams
    authors: dict[str, list[str]]  # artifact -> its authors
    _by_time: list[Activity] = field(default_factory=list, init=False, repr=False)
    _times: list[datetime] = field(default_factory=list, init=False, repr=False)

    def activity_between(self, start: datetime, end: datetime) -> list[Activity]:
        """Activity in [start, end), found by bisection: a trend asks for many periods."""
        if len(self._by_time) != len(self.activity):
            self._by_time = sorted(self.activity, key=lambda a: a.at)
            self._times = [a.at for a in self._by_time]
        return self._by_time[bisect_left(self._times, start) : bisect_left(self._times, end)]


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def members_at(membership: dict[str, list[tuple[datetime, str]]], end: datetime) -> set[str]:
    """Joined before `end` and not left before it: the latest change before `end` decides."""
    members = set()
    for member, changes in membership.items():
        before = [change for change in sorted(changes) if change[0] < end]
        if before and before[-1][1] == "joined":
            members.add(member)
    return members


def absence_factor(points: Iterable[int]) -> int:
    """The fewest contributors whose points reach at least half of all points (CHAOSS)."""
    ordered = sorted((p for p in points if p > 0), reverse=True)
    total, reached = sum(ordered), 0
    for count, value in enumerate(ordered, start=1):
        reached += value
        if 2 * reached >= total:
            return count
    return 0


def top20_share(points: Iterable[int]) -> float:
    ordered = sorted((p for p in points if p > 0), reverse=True)
    if not ordered:
        return 0.0
    top = math.ceil(len(ordered) / 5)
    return ratio(sum(ordered[:top]), sum(ordered))


def last_sessions(sessions: Iterable[HeldSession], end: datetime) -> list[HeldSession]:
    before = sorted((s for s in sessions if s.at < end), key=lambda s: (s.at, s.session_id))
    return before[-LAST_SESSIONS:]


def _cross_team(session: HeldSession, teams: Teams) -> bool:
    known = {teams.at(m, session.at) for m in session.participants} - {""}
    return len(known) >= 2


def _cross_team_reuse(reuse: Reuse, history: History) -> bool:
    team = reuse.team or history.teams.at(reuse.member_id, reuse.at)
    if not team:
        return False
    authors = history.authors.get(reuse.artifact_id, [])
    return all(history.teams.at(author, reuse.at) != team for author in authors)


def metrics(period: Period, history: History) -> HealthMetrics:
    end = period.end
    members = members_at(history.membership, end)
    joined = {
        member
        for member, changes in history.membership.items()
        if any(kind == "joined" and period.contains(at) for at, kind in changes)
    }
    in_period = history.activity_between(period.start, end)
    active = {a.member_id for a in in_period} & members
    recent_window = end - INACTIVE_AFTER
    recently_active = {a.member_id for a in history.activity_between(recent_window, end)}
    give: Counter[str] = Counter()
    for a in in_period:
        give[a.member_id] += a.give
    points = [p for p in give.values() if p > 0]

    sessions = [s for s in history.sessions if period.contains(s.at)]
    attended: Counter[str] = Counter(m for s in sessions for m in set(s.attendee_ids))
    consistent = {m for m in members if 2 * attended[m] >= len(sessions)}
    last6 = last_sessions(history.recent_sessions, end)
    feedback = [f for f in history.feedback if period.contains(f.at)]
    reuses = [r for r in history.reuses if period.contains(r.at)]
    opened = [a for a in history.opened_actions if period.contains(a.at)]
    closed = [a for a in opened if a.closed_at is not None and a.closed_at < end]
    return HealthMetrics(
        members=len(members),
        new_members=len(joined),
        active_members=len(active),
        participation_rate=ratio(len(active), len(members)),
        inactive_members=len(members - recently_active),
        sessions_held=len(sessions),
        avg_attendance=ratio(sum(len(set(s.attendee_ids)) for s in sessions), len(sessions)),
        attendance_consistency=ratio(len(consistent), len(members)) if sessions else 0.0,
        artifacts_published=sum(1 for at in history.published if period.contains(at)),
        reuses=len(reuses),
        cross_team_reuses=sum(1 for r in reuses if _cross_team_reuse(r, history)),
        cross_team_sessions=sum(1 for s in sessions if _cross_team(s, history.teams)),
        absence_factor=absence_factor(points),
        top20_share=top20_share(points),
        facilitators_last6=len({s.facilitator_id for s in last6}),
        sessions_last6=len(last6),
        avg_rating=ratio(sum(f.rating for f in feedback), len(feedback)),
        applied_share=ratio(sum(1 for f in feedback if f.applied), len(feedback)),
        action_closure_rate=ratio(len(closed), len(opened)),
        contributors_with_give=len(points),
    )


# --- alerts, evaluated on a month's numbers --------------------------------------------------

DOMINANCE_SHARE = 0.8
DOMINANCE_MIN_CONTRIBUTORS = 5
SINGLE_FACILITATOR_MIN_SESSIONS = 4
STAGNATION_MONTHS = 4
ALERTS = ("stagnation", "dominance", "single_facilitator")


def alerts(
    numbers: HealthMetrics, attendance_trend: Sequence[float]
) -> dict[str, dict[str, object]]:
    """The alerts a month raises, each with the numbers behind it. `attendance_trend` is the
    average attendance of the four months ending with this one, oldest first."""
    raised: dict[str, dict[str, object]] = {}
    trend = list(attendance_trend)
    if len(trend) == STAGNATION_MONTHS and all(a > b for a, b in pairwise(trend)):
        raised["stagnation"] = {"avg_attendance": trend}
    contributors = numbers.contributors_with_give
    if numbers.top20_share > DOMINANCE_SHARE and contributors >= DOMINANCE_MIN_CONTRIBUTORS:
        raised["dominance"] = {"top20_share": numbers.top20_share, "contributors": contributors}
    if (
        numbers.facilitators_last6 == 1
        and numbers.sessions_last6 >= SINGLE_FACILITATOR_MIN_SESSIONS
    ):
        raised["single_facilitator"] = {"sessions_last6": numbers.sessions_last6}
    return raised
