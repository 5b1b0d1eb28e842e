"""A team's participation in the communities in a period, from its members' facts.

A member's team is their profile's `team`: at a fact, the latest change at or before the fact's
time; at the end of a period, the latest change before the period's end. `PeopleWindow` holds
the facts of every member who was ever in the team, for the periods of a window.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.impact.domain.periods import Period
from services.impact.domain.stats import ratio
from shared.team_impact import Participation

Moments = dict[str, datetime]
"""A member's facts of one kind (sessions attended, artifacts authored, kudos received):
each by its id, with its time."""


@dataclass
class PeopleWindow:
    teams: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    """each member's changes of team, (at, team); an empty team is none"""
    sessions: dict[str, Moments] = field(default_factory=dict)
    authored: dict[str, Moments] = field(default_factory=dict)
    kudos: dict[str, Moments] = field(default_factory=dict)
    reuses: list[datetime] = field(default_factory=list)
    """the moments of the reuses recorded with the team"""

    def team_at(self, member_id: str, moment: datetime, *, before: bool = False) -> str:
        """The member's team at a moment (`before`: strictly before it); "" when none."""
        known = [
            (at, team)
            for at, team in self.teams.get(member_id, ())
            if at < moment or (at == moment and not before)
        ]
        return max(known)[1] if known else ""


def _in(period: Period, moments: Moments) -> Iterable[tuple[str, datetime]]:
    return ((i, at) for i, at in moments.items() if period.contains(at))


def participation(window: PeopleWindow, team: str, period: Period) -> Participation:
    members = [m for m in window.teams if window.team_at(m, period.end, before=True) == team]
    attending = [m for m in members if any(_in(period, window.sessions.get(m, {})))]

    def counted(facts: dict[str, Moments]) -> list[str]:
        """Each fact in the period of a member who was in the team at its time."""
        return [
            fact_id
            for member, moments in facts.items()
            for fact_id, at in _in(period, moments)
            if window.team_at(member, at) == team
        ]

    return Participation(
        members=len(members),
        attending_members=len(attending),
        participation_share=ratio(len(attending), len(members)),
        sessions_attended=len(counted(window.sessions)),
        artifacts_authored=len(set(counted(window.authored))),
        reuses_by_team=sum(1 for at in window.reuses if period.contains(at)),
        kudos_received=len(counted(window.kudos)),
    )
