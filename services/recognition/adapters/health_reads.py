"""Gathers what a community's health over some periods is computed from, in a few reads by `_id`.

One read of the month buckets the periods need (each period and the 90 days before its end),
one of the roster, then the teams, artifacts and action items those facts name. Sessions for
"the last six before the end" come from the same buckets, and from earlier months with
sessions (the community document lists them) when those are not enough.

`numbers` answers the health queries: an ended period's numbers as kept while no fact has
changed them since (`health_store.py`), the others composed from each month's facts, an ended
month's as kept, the rest read from the buckets; what was computed and has ended is kept.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bson.codec_options import CodecOptions

from services.recognition.adapters.health_store import StoredHealth
from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.domain import health as h
from services.recognition.domain.health import months_for as months_for  # also offered here
from services.recognition.domain.health_staleness import Marks, keepable
from services.recognition.domain.periods import Period, month_key, month_range, parse
from shared.community_health import HealthMetrics
from shared.documents import Doc

# What the numbers are computed from: every section of a bucket but its kudos (the largest).
SECTIONS = ("entries", "sessions", "feedback", "published", "reuses", "opened")
# How many ended months after a stale one are computed with it, at most.
REFRESHED_AHEAD = 12
# Times decoded without a timezone (they are UTC) are several times faster to decode; those
# used are made aware.
NAIVE: CodecOptions[Doc] = CodecOptions(tz_aware=False)


def _utc(at: datetime) -> datetime:
    """A time read from a bucket without its timezone (`buckets(naive=True)`): it is UTC."""
    return at.replace(tzinfo=UTC)


def _sessions(buckets: Sequence[Doc]) -> list[h.HeldSession]:
    return [
        h.HeldSession(session_id, _utc(at), facilitator, tuple(speakers), tuple(attendees))
        for b in buckets
        for session_id, at, facilitator, speakers, attendees in b.get("sessions", {}).values()
    ]


@dataclass(frozen=True)
class Inputs:
    facts: dict[str, h.MonthFacts]
    read: list[Period]  # the months whose facts were read from their buckets
    membership: dict[str, list[tuple[datetime, str]]]
    closed_at: dict[str, datetime | None]
    sessions: list[h.Held]  # every session known, those before each period's months included


class HealthReads:
    def __init__(self, projection: RecognitionProjection) -> None:
        self._p = projection
        self._rosters = projection.rosters.with_options(codec_options=NAIVE)
        self._stored = StoredHealth(projection.db)

    async def history(self, community_id: str, periods: Sequence[Period]) -> h.History:
        """The facts that the numbers of all these periods are computed from."""
        months = sorted({m for p in periods for m in months_for(p)})
        buckets, membership = await asyncio.gather(
            self._p.buckets(community_id, months, *SECTIONS, naive=True),
            self._membership(community_id),
        )
        history = await self._history(buckets, membership)
        closed = await self._closed_at([a.action_item_id for a in history.opened_actions])
        history.opened_actions = [
            replace(a, closed_at=closed.get(a.action_item_id)) for a in history.opened_actions
        ]
        history.sessions += await self._earlier_sessions(
            community_id, months[0], history.sessions, min(p.end for p in periods)
        )
        return history

    async def numbers(
        self, community_id: str, periods: Sequence[Period], now: datetime
    ) -> dict[str, HealthMetrics]:
        """Each period's numbers, by key. No fact is read before the marks: what is computed
        from facts and kept under them is never newer than they say."""
        marks, found = await self._stored.kept(community_id, [p for p in periods if p.end <= now])
        todo = [p for p in periods if p.key not in found]
        if not todo:
            return found
        todo += await self._stale_after(community_id, todo, marks, now)
        got = await self._inputs(community_id, todo, marks, now)
        computed = {
            p: h.compose(p, got.facts, got.membership, got.closed_at, got.sessions) for p in todo
        }
        # A month's document is written whole: with its metrics go its facts.
        months = [*got.read, *(p for p in computed if p.kind == "month")]
        await self._stored.keep(
            community_id,
            marks,
            {p: numbers for p, numbers in computed.items() if keepable(p, got.facts, now)},
            {m: got.facts[m.key] for m in months if keepable(m, got.facts, now)},
        )
        return found | {p.key: numbers for p, numbers in computed.items()}

    async def _inputs(
        self, community_id: str, todo: Sequence[Period], marks: Marks, now: datetime
    ) -> "Inputs":
        """What `compose` needs for these periods: each month's facts, as kept (ended months
        whose marks are unchanged) or read from its bucket, the roster, the closing of the
        action items opened in them, and the sessions known."""
        window = [parse(m) for m in sorted({m for p in todo for m in months_for(p)})]
        ended = [m for m in window if m.end <= now]
        facts, membership, buckets = await asyncio.gather(
            self._stored.month_facts(community_id, ended, marks),
            self._membership(community_id),
            self._p.buckets(
                community_id, [m.key for m in window if m.end > now], *SECTIONS, naive=True
            ),
        )
        missing = [m.key for m in ended if m.key not in facts]
        if missing:
            buckets += await self._p.buckets(community_id, missing, *SECTIONS, naive=True)
        kept = list(facts.values())
        history, closed_at, earlier = await asyncio.gather(
            self._history(buckets, membership),
            self._closed_at(
                [item for f in kept for item, _ in f.opened]
                + [item for b in buckets for item, _ in b.get("opened", {}).values()]
            ),
            self._earlier_sessions(
                community_id,
                window[0].key,
                [*(s for f in kept for s in f.sessions), *_sessions(buckets)],
                min(p.end for p in todo),
            ),
        )
        read = [m for m in window if m.key not in facts]
        facts |= {m.key: h.month_facts(m, history) for m in read}
        sessions: list[h.Held] = [*earlier, *(s for m in window for s in facts[m.key].sessions)]
        return Inputs(facts, read, membership, closed_at, sessions)

    async def _stale_after(
        self, community_id: str, todo: Sequence[Period], marks: Marks, now: datetime
    ) -> list[Period]:
        """An ended month not kept (facts changed it) means the later ones are likely stale
        too: the ended months of the year after it that are not kept, to compute all at once."""
        ended = [p for p in todo if p.kind == "month" and p.end <= now]
        if not ended:
            return []
        first = min(ended)
        last_ended = parse(month_key(now)).previous()
        asked = {p.key for p in todo}
        later = [
            m
            for m in month_range(first.key, last_ended.key)[: REFRESHED_AHEAD + 1]
            if m.key not in asked
        ]
        kept = await self._stored.metrics(community_id, later, marks)
        return [m for m in later if m.key not in kept]

    async def _history(
        self, buckets: Sequence[Doc], membership: dict[str, list[tuple[datetime, str]]]
    ) -> h.History:
        """The facts of these month buckets, with the teams and authors they name; action
        items without their closing."""
        sessions = _sessions(buckets)
        reuses = [
            h.Reuse(artifact, member, team, _utc(at))
            for b in buckets
            for artifact, member, team, at in b.get("reuses", {}).values()
        ]
        reused = sorted({r.artifact_id for r in reuses})
        artifacts = (
            await self._p.artifacts.find({"_id": {"$in": reused}}, {"authors": 1}).to_list(None)
            if reused
            else []
        )
        authors = {a["_id"]: a.get("authors", []) for a in artifacts}
        people = {m for s in sessions for m in s.participants}
        people |= {r.member_id for r in reuses} | {a for names in authors.values() for a in names}
        return h.History(
            activity=[
                h.Activity(member, give, take, _utc(at))
                for b in buckets
                for member, _, give, take, at in b.get("entries", {}).values()
            ],
            sessions=sessions,
            recent_sessions=sessions,
            feedback=[
                h.Feedback(rating, applied, _utc(at))
                for b in buckets
                for _, rating, applied, at in b.get("feedback", {}).values()
            ],
            published=[_utc(at) for b in buckets for _, at in b.get("published", {}).values()],
            reuses=reuses,
            opened_actions=[
                h.OpenedAction(item, _utc(at), None)
                for b in buckets
                for item, at in b.get("opened", {}).values()
            ],
            membership=membership,
            teams=await self._p.team_changes(people) if people else h.Teams(),
            authors=authors,
        )

    async def _membership(self, community_id: str) -> dict[str, list[tuple[datetime, str]]]:
        roster = await self._rosters.find_one({"_id": community_id}) or {}
        return {
            m["id"]: [(_utc(at), kind) for at, kind in m.get("e", {}).values()]
            for m in roster.get("m", {}).values()
        }

    async def _closed_at(self, items: Sequence[str]) -> dict[str, datetime | None]:
        if not items:
            return {}
        docs = await self._p.actions.find({"_id": {"$in": sorted(set(items))}}).to_list(None)
        return {d["_id"]: d.get("closed_at") for d in docs}

    async def _earlier_sessions(
        self, community_id: str, first: str, sessions: Sequence[h.Held], end: datetime
    ) -> list[h.HeldSession]:
        """Sessions of months before `first`, until six before `end` are known."""
        have = sum(1 for s in sessions if s.at < end)
        if have >= h.LAST_SESSIONS:
            return []
        community = await self._p.communities.find_one({"_id": community_id}, {"session_months": 1})
        held_in = (community or {}).get("session_months", [])
        earlier = sorted((m for m in held_in if m < first), reverse=True)
        found: list[h.HeldSession] = []
        while have < h.LAST_SESSIONS and earlier:
            chunk, earlier = earlier[:6], earlier[6:]
            more = _sessions(await self._p.buckets(community_id, chunk, "sessions", naive=True))
            found += more
            have += len(more)
        return found
