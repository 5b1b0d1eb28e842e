"""Badges: the rules that award each one. A member earns each badge once.

| badge                 | earned by                                                            |
|-----------------------|----------------------------------------------------------------------|
| first_talk            | a first held session as a speaker                                    |
| first_artifact        | a first published artifact as an author                              |
| rotating_facilitator  | facilitating 3 held sessions                                         |
| kudos_10              | 10 counted kudos received                                            |
| pattern_spreader      | an artifact they authored reused by 3 distinct teams, none of them   |
|                       | the team of one of its authors at the time of the reuse              |
| consistent_attendee   | attending at least 80% of the sessions one community held in a       |
|                       | calendar quarter in which it held at least 5                         |
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.recognition.domain.health import HeldSession, Reuse, Teams
from services.recognition.domain.standing import Standing

SPREAD_TEAMS = 3
CONSISTENT_SHARE = (4, 5)  # 80%
CONSISTENT_MIN_SESSIONS = 5

REASONS = {
    "first_talk": "spoke at a held session for the first time",
    "first_artifact": "published a first artifact as an author",
    "rotating_facilitator": "facilitated 3 held sessions",
    "kudos_10": "received 10 counted kudos",
    "pattern_spreader": "an artifact they wrote was reused by 3 other teams",
    "consistent_attendee": "attended at least 80% of a quarter's sessions",
}


@dataclass(frozen=True)
class Award:
    member_id: str
    badge: str
    community_id: str
    reason: str
    at: datetime


def earned_by_standing(standing: Standing) -> list[str]:
    """The badges a member's totals over every community earn."""
    rules = {
        "first_talk": standing.spoke >= 1,
        "first_artifact": standing.authored >= 1,
        "rotating_facilitator": standing.facilitated >= 3,
        "kudos_10": standing.kudos_received >= 10,
    }
    return [badge for badge, earned in rules.items() if earned]


def spreading_teams(authors: Iterable[str], reuses: Iterable[Reuse], teams: Teams) -> set[str]:
    """The teams that reused an artifact and were not the team of any of its authors then."""
    authors = list(authors)
    spread = set()
    for reuse in reuses:
        team = reuse.team or teams.at(reuse.member_id, reuse.at)
        if team and all(teams.at(author, reuse.at) != team for author in authors):
            spread.add(team)
    return spread


def consistent_attendees(sessions: list[HeldSession]) -> set[str]:
    """Members who attended at least 80% of a quarter's sessions, when it had at least 5."""
    if len(sessions) < CONSISTENT_MIN_SESSIONS:
        return set()
    attended: dict[str, int] = {}
    for session in sessions:
        for member in set(session.attendee_ids):
            attended[member] = attended.get(member, 0) + 1
    share, of = CONSISTENT_SHARE
    return {m for m, n in attended.items() if n * of >= share * len(sessions)}
