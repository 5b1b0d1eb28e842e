"""Gathers what a community's health over some periods is computed from, in a few reads by `_id`.

One read of the month buckets the periods need (each period and the 90 days before its end),
one of the roster, then the teams, artifacts and action items those facts name. Sessions for
"the last six before the end" come from the same buckets, and from earlier months with
sessions (the community document lists them) when those are not enough.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.domain import health as h
from services.recognition.domain.periods import Period, month_key, parse

Doc = dict[str, Any]
# What the numbers are computed from: every section of a bucket but its kudos (the largest).
SECTIONS = ("entries", "sessions", "feedback", "published", "reuses", "opened")


def months_for(period: Period) -> list[str]:
    """The months whose facts a period's numbers use: the period and the 90 days before its end."""
    window_start = min(period.start, period.end - h.INACTIVE_AFTER)
    return _months_between(window_start, period.end)


def _months_between(start: datetime, end: datetime) -> list[str]:
    keys, period = [], parse(month_key(start))
    while period.start < end:
        keys.append(period.key)
        period = period.following()
    return keys


def _utc(at: datetime) -> datetime:
    """A time read from a bucket without its timezone (`buckets(naive=True)`): it is UTC."""
    return at.replace(tzinfo=UTC)


def _sessions(buckets: Sequence[Doc]) -> list[h.HeldSession]:
    return [
        h.HeldSession(session_id, _utc(at), facilitator, tuple(speakers), tuple(attendees))
        for b in buckets
        for session_id, at, facilitator, speakers, attendees in b.get("sessions", {}).values()
    ]


class HealthReads:
    def __init__(self, projection: RecognitionProjection) -> None:
        self._p = projection

    async def history(self, community_id: str, periods: Sequence[Period]) -> h.History:
        """The facts that the numbers of all these periods are computed from."""
        months = sorted({m for p in periods for m in months_for(p)})
        buckets = {
            b["_id"].rsplit("|", 1)[1]: b
            for b in await self._p.buckets(community_id, months, *SECTIONS, naive=True)
        }
        community = await self._p.community(community_id)
        roster = await self._p.rosters.find_one({"_id": community_id}) or {}
        membership = {
            m["id"]: [(at, kind) for at, kind in m.get("e", {}).values()]
            for m in roster.get("m", {}).values()
        }
        all_in = list(buckets.values())
        sessions = _sessions(all_in)
        earliest = min(p.end for p in periods)
        sessions += await self._earlier_sessions(
            community_id, community, months, sessions, earliest
        )
        reuses = [
            h.Reuse(artifact, member, team, _utc(at))
            for b in all_in
            for artifact, member, team, at in b.get("reuses", {}).values()
        ]
        opened = [(item, _utc(at)) for b in all_in for item, at in b.get("opened", {}).values()]
        actions = {
            d["_id"]: d.get("closed_at")
            for d in await self._p.actions.find({"_id": {"$in": [i for i, _ in opened]}}).to_list(
                None
            )
        }
        artifacts = await self._p.artifacts.find(
            {"_id": {"$in": sorted({r.artifact_id for r in reuses})}}, {"authors": 1}
        ).to_list(None)
        authors = {a["_id"]: a.get("authors", []) for a in artifacts}
        people = {m for s in sessions for m in s.participants}
        people |= {r.member_id for r in reuses} | {a for names in authors.values() for a in names}
        teams = await self._p.team_changes(people)
        return h.History(
            activity=[
                h.Activity(member, give, take, _utc(at))
                for b in all_in
                for member, _, give, take, at in b.get("entries", {}).values()
            ],
            sessions=sessions,
            recent_sessions=sessions,
            feedback=[
                h.Feedback(rating, applied, _utc(at))
                for b in all_in
                for _, rating, applied, at in b.get("feedback", {}).values()
            ],
            published=[_utc(at) for b in all_in for _, at in b.get("published", {}).values()],
            reuses=reuses,
            opened_actions=[h.OpenedAction(i, at, actions.get(i)) for i, at in opened],
            membership=membership,
            teams=teams,
            authors=authors,
        )

    async def _earlier_sessions(
        self,
        community_id: str,
        community: Doc,
        read: Sequence[str],
        sessions: list[h.HeldSession],
        end: datetime,
    ) -> list[h.HeldSession]:
        """Sessions of months before those read, until six before `end` are known."""
        have = sum(1 for s in sessions if s.at < end)
        earlier = sorted(
            (m for m in community.get("session_months", []) if m < min(read)), reverse=True
        )
        found: list[h.HeldSession] = []
        while have < h.LAST_SESSIONS and earlier:
            chunk, earlier = earlier[:6], earlier[6:]
            more = _sessions(await self._p.buckets(community_id, chunk, "sessions", naive=True))
            found += more
            have += len(more)
        return found
