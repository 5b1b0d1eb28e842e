"""Community health over a period P = [start, end), from the facts the projection keeps.

Pure functions: the adapter gathers a `History` (the period's facts, the roster, teams as they
changed over time) and `metrics` turns it into the period's `HealthMetrics`. Ratios are rounded
to 4 decimals.

In two steps, so that an ended month's part can be kept: `month_facts` sums up what one month's
facts add to any period's numbers (who was active and when, give points, sessions, feedback,
artifacts, reuses, action items opened), and `compose` makes a period's numbers from the
`MonthFacts` of the months it reads (`months_for`: its own and those of the 90 days before its
end), the roster, the action items' closing times and, for the last six sessions, sessions held
before those months.
"""

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Protocol, TypeVar

from services.recognition.domain.periods import Period, month_key, parse
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
        before = [change for change in changes if change[0] < end]
        if before and max(before)[1] == "joined":
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


class Held(Protocol):
    """A held session, as the last six sessions before a period's end are picked."""

    @property
    def session_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def facilitator_id(self) -> str: ...


S = TypeVar("S", bound=Held)


def last_sessions(sessions: Iterable[S], end: datetime) -> list[S]:
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


def months_for(period: Period) -> list[str]:
    """The months whose facts a period's numbers use: the period and the 90 days before its end."""
    window_start = min(period.start, period.end - INACTIVE_AFTER)
    keys, month = [], parse(month_key(window_start))
    while month.start < period.end:
        keys.append(month.key)
        month = month.following()
    return keys


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def in_ms(at: datetime) -> int:
    """A moment as whole milliseconds since 1970 (rounded down: compared with a bound in whole
    milliseconds, it is on the same side); kept as a number, it is faster to read back."""
    return (at - _EPOCH) // _MS


@dataclass(frozen=True)
class SessionBrief:
    """What a held session adds to the numbers of a period."""

    session_id: str
    at: datetime
    facilitator_id: str
    attendees: int
    cross_team: bool


@dataclass(frozen=True)
class MonthFacts:
    """What one month's facts add to the numbers of the periods that read it. A function of the
    month's own facts, of members' teams at their times and of the reused artifacts' authors;
    the roster and the action items' closing times are read with each period instead."""

    active: dict[str, tuple[int, int]]  # member -> (last activity in the month, `in_ms`; give)
    sessions: tuple[SessionBrief, ...]
    attended: dict[str, int]  # member -> sessions of the month attended
    feedback: int
    rating_sum: int
    applied: int
    published: int
    reuses: int
    cross_team_reuses: int
    opened: tuple[tuple[str, datetime], ...]  # (action item, opened at)
    authors_known: bool = True
    """Whether every artifact reused in the month had its authors known. Authors are written
    once, at publication: until then the month's cross-team reuses may still change."""


def month_facts(month: Period, history: History) -> MonthFacts:
    """A month's part, from a history that holds its facts."""
    last: dict[str, datetime] = {}
    give: Counter[str] = Counter()
    for a in history.activity_between(month.start, month.end):  # oldest first
        last[a.member_id] = a.at
        give[a.member_id] += a.give
    held = [s for s in history.sessions if month.contains(s.at)]
    feedback = [f for f in history.feedback if month.contains(f.at)]
    reuses = [r for r in history.reuses if month.contains(r.at)]
    return MonthFacts(
        active={member: (in_ms(at), give[member]) for member, at in last.items()},
        sessions=tuple(
            SessionBrief(
                s.session_id,
                s.at,
                s.facilitator_id,
                len(set(s.attendee_ids)),
                _cross_team(s, history.teams),
            )
            for s in held
        ),
        attended=dict(Counter(m for s in held for m in set(s.attendee_ids))),
        feedback=len(feedback),
        rating_sum=sum(f.rating for f in feedback),
        applied=sum(1 for f in feedback if f.applied),
        published=sum(1 for at in history.published if month.contains(at)),
        reuses=len(reuses),
        cross_team_reuses=sum(1 for r in reuses if _cross_team_reuse(r, history)),
        opened=tuple(
            (a.action_item_id, a.at) for a in history.opened_actions if month.contains(a.at)
        ),
        authors_known=all(history.authors.get(r.artifact_id) for r in reuses),
    )


def compose(
    period: Period,
    months: Mapping[str, MonthFacts],
    membership: dict[str, list[tuple[datetime, str]]],
    closed_at: Mapping[str, datetime | None],
    earlier: Iterable[Held],
) -> HealthMetrics:
    """A period's numbers from the `MonthFacts` of every month of `months_for(period)`, the
    roster, when each action item was closed, and other sessions known: those held before the
    first of those months count for the last six before the period's end (enough of them must
    be given to find six, when the months hold fewer)."""
    end = period.end
    members = members_at(membership, end)
    joined = {
        member
        for member, changes in membership.items()
        if any(kind == "joined" and period.contains(at) for at, kind in changes)
    }
    own = [months[k] for k in period.months()]
    window = months_for(period)
    active = set().union(*(f.active for f in own)) & members
    recent_window = end - INACTIVE_AFTER
    recent_ms = in_ms(recent_window)
    # Months that begin inside the 90 days count whole; only the first may count in part.
    recently_active = set().union(
        *(months[k].active for k in window if parse(k).start >= recent_window)
    )
    for k in window:
        if parse(k).start < recent_window:
            recently_active |= {m for m, (last, _) in months[k].active.items() if last >= recent_ms}
    give: Counter[str] = Counter()
    attended: Counter[str] = Counter()
    for f in own:
        for member, (_, given) in f.active.items():
            give[member] += given
        attended.update(f.attended)
    points = [p for p in give.values() if p > 0]

    sessions = [s for f in own for s in f.sessions]
    consistent = {m for m in members if 2 * attended[m] >= len(sessions)}
    first = parse(window[0]).start
    before = [s for s in earlier if s.at < first]
    last6 = last_sessions([*before, *(s for k in window for s in months[k].sessions)], end)
    feedback = sum(f.feedback for f in own)
    opened = [item for f in own for item, _ in f.opened]
    closed = [i for i in opened if (at := closed_at.get(i)) is not None and at < end]
    reuses = sum(f.reuses for f in own)
    return HealthMetrics(
        members=len(members),
        new_members=len(joined),
        active_members=len(active),
        participation_rate=ratio(len(active), len(members)),
        inactive_members=len(members - recently_active),
        sessions_held=len(sessions),
        avg_attendance=ratio(sum(s.attendees for s in sessions), len(sessions)),
        attendance_consistency=ratio(len(consistent), len(members)) if sessions else 0.0,
        artifacts_published=sum(f.published for f in own),
        reuses=reuses,
        cross_team_reuses=sum(f.cross_team_reuses for f in own),
        cross_team_sessions=sum(1 for s in sessions if s.cross_team),
        absence_factor=absence_factor(points),
        top20_share=top20_share(points),
        facilitators_last6=len({s.facilitator_id for s in last6}),
        sessions_last6=len(last6),
        avg_rating=ratio(sum(f.rating_sum for f in own), feedback),
        applied_share=ratio(sum(f.applied for f in own), feedback),
        action_closure_rate=ratio(len(closed), len(opened)),
        contributors_with_give=len(points),
    )


def metrics(period: Period, history: History) -> HealthMetrics:
    """A period's numbers from a history that holds the facts of all its months."""
    return compose(
        period,
        {m: month_facts(parse(m), history) for m in months_for(period)},
        history.membership,
        {a.action_item_id: a.closed_at for a in history.opened_actions},
        history.recent_sessions,
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
