"""Recognition's use cases: give kudos; after each applied batch, badges and leaderboards; and,
on a timer, the health evaluation of months that have ended (alerts, quarterly badges).

Reads for the HTTP API are in `queries.py`; event handlers in `event_handlers.py`.
"""

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne

from services.recognition.adapters.health_reads import HealthReads
from services.recognition.adapters.judge import KudosAllowances
from services.recognition.adapters.leaderboard import Leaderboards, scores_by_period
from services.recognition.adapters.projection import (
    RecognitionProjection,
    Touched,
    standing_in_week,
    standing_of,
)
from services.recognition.adapters.reservations import Reservations
from services.recognition.domain import badges, health
from services.recognition.domain.kudos import KudosPolicy
from services.recognition.domain.periods import Period, month_key, parse, quarter_key
from services.recognition.domain.standing import total
from shared.events.catalog import BadgeAwarded, HealthAlertRaised, KudosGiven
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.kafka import EventBus

SOURCE = "cop/recognition"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GiveKudos:
    from_id: str
    to_ids: list[str]
    community_id: str
    message: str
    value_tag: str
    session_id: str | None = None
    artifact_id: str | None = None


def decision_id(kind: str, *parts: str) -> str:
    """The one event id a decision ever has: deciding it again publishes a duplicate that every
    consumer already drops by id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cop:{kind}:" + "|".join(parts)))


class RecognitionHandlers:
    def __init__(
        self,
        bus: EventBus,
        policy: KudosPolicy,
        allowances: KudosAllowances,
        projection: RecognitionProjection,
        boards: Leaderboards,
        reservations: Reservations,
        *,
        settle_s: float,
        records_behind: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._bus = bus
        self._policy = policy
        self._allowances = allowances
        self.projection = projection
        self._boards = boards
        self._reservations = reservations
        self._health = HealthReads(projection)
        self._settle = timedelta(seconds=settle_s)
        self._records_behind = records_behind

    # --- commands -------------------------------------------------------------------------

    async def give_kudos(self, cmd: GiveKudos) -> CloudEvent:
        """Refuse what a member would not mean to send, then publish; the judge decides."""
        self._policy.check_request(cmd.from_id, cmd.to_ids, cmd.value_tag)
        now = utc_now()
        period, units = self._policy.period_of(now), len(cmd.to_ids)
        self._policy.check_remaining(await self._allowances.used(cmd.from_id, period), units)
        if not await self._reservations.reserve(cmd.from_id, period, units, self._policy.allowance):
            self._policy.check_remaining(self._policy.allowance, units)
        try:
            event = new_event(
                KudosGiven(kudos_id=str(uuid.uuid4()), **cmd.__dict__), source=SOURCE, time=now
            )
            await self._bus.publish(event)
        except BaseException:
            await self._reservations.release(cmd.from_id, period, units)
            raise
        return event

    # --- after each applied batch ---------------------------------------------------------

    async def settle(self, touched: Touched) -> None:
        """Award the badges the batch earned and raise the leaderboard scores it changed."""
        rollups = await self.projection.rollups_of(touched.members())
        awards = []
        for member, docs in rollups.items():
            standing = total(standing_of(d) for d in docs)
            community = min(c for m, c, _ in touched.member_months if m == member)
            awards += [(member, b, community) for b in badges.earned_by_standing(standing)]
        awards += await self._spreaders(touched.artifacts)
        await self._award(awards)
        await self._raise_scores(touched, rollups)

    async def _spreaders(self, artifact_ids: set[str]) -> list[tuple[str, str, str]]:
        if not artifact_ids:
            return []
        docs = await self.projection.artifacts.find({"_id": {"$in": sorted(artifact_ids)}}).to_list(
            None
        )
        docs = [d for d in docs if d.get("authors") and d.get("r")]
        people = {a for d in docs for a in d["authors"]}
        people |= {member for d in docs for member, _, _ in d["r"].values()}
        teams = await self.projection.team_changes(people)
        found = []
        for d in docs:
            reuses = [health.Reuse(d["_id"], m, team, at) for m, team, at in d["r"].values()]
            if len(badges.spreading_teams(d["authors"], reuses, teams)) >= badges.SPREAD_TEAMS:
                found += [(a, "pattern_spreader", d["community_id"]) for a in d["authors"]]
        return found

    async def _award(self, awards: list[tuple[str, str, str]]) -> None:
        """Publish each badge not awarded before, then record them all (a crash in between
        publishes them again under the same event ids: a duplicate, absorbed downstream)."""
        if not awards:
            return
        ids = [f"{m}|{b}" for m, b, _ in awards]
        have = {
            d["_id"] for d in await self.projection.badges.find({"_id": {"$in": ids}}).to_list(None)
        }
        records: dict[str, dict[str, Any]] = {}
        events = []
        for member, badge, community in awards:
            doc_id = f"{member}|{badge}"
            if doc_id in have or doc_id in records:
                continue
            data = BadgeAwarded(
                member_id=member, badge=badge, community_id=community, reason=badges.REASONS[badge]
            )
            event = new_event(data, source=SOURCE, event_id=decision_id("badge", member, badge))
            events.append(event)
            record = {**data.model_dump(mode="json"), "event_id": event.id, "at": event.time}
            records[doc_id] = record
        if not events:
            return
        await self._bus.publish_all(self._bus.publish(e) for e in events)
        await self.projection.badges.bulk_write(
            [
                UpdateOne({"_id": doc_id}, {"$setOnInsert": record}, upsert=True)
                for doc_id, record in records.items()
            ],
            ordered=False,
        )

    async def _raise_scores(
        self, touched: Touched, rollups: dict[str, list[dict[str, Any]]]
    ) -> None:
        per_community: dict[str, list[tuple[str, dict[str, int]]]] = {}
        for member, community, month in touched.member_months:
            doc = next((d for d in rollups.get(member, []) if d["community_id"] == community), None)
            if doc is None:
                continue
            quarter = parse(quarter_key(parse(month).start))
            scores = {
                "all": standing_of(doc).score,
                month: standing_of(doc, [month]).score,
                quarter.key: standing_of(doc, quarter.months()).score,
            }
            for week in {k.split("_")[0] for k in doc.get("w", {}) if k.endswith(f"_{month}")}:
                scores[week] = standing_in_week(doc, week).score
            positive = {period: score for period, score in scores.items() if score > 0}
            per_community.setdefault(community, []).append((member, positive))
        for community, standings in per_community.items():
            await self._boards.raise_scores(community, scores_by_period(standings))

    # --- on a timer: months that ended --------------------------------------------------------

    async def evaluate(self, now: datetime | None = None) -> int:
        """Evaluate the ended months that facts changed and that have been quiet for a while:
        health alerts, and the quarter's consistent attendees. Skipped while the projection is
        behind its topics, so that nothing is judged on half-applied history. Returns the number
        of months evaluated."""
        now = now or utc_now()
        if self._records_behind is not None and await self._records_behind() > 0:
            return 0
        evaluated = 0
        cursor = self.projection.communities.find(
            {"dirty": {"$exists": True}}, {"dirty": 1, "session_months": 1}
        )
        async for community in cursor:
            for month, stamp in sorted(community.get("dirty", {}).items()):
                if parse(month).end > now or stamp > now - self._settle:
                    continue
                await self._evaluate_month(community["_id"], parse(month), now)
                await self.projection.communities.update_one(
                    {"_id": community["_id"], f"dirty.{month}": stamp},
                    {"$unset": {f"dirty.{month}": ""}},
                )
                evaluated += 1
        return evaluated

    async def _evaluate_month(self, community_id: str, changed: Period, now: datetime) -> None:
        """A month's facts feed that month's numbers and the stagnation trend of the 3 after it."""
        affected = [changed]
        while len(affected) < health.STAGNATION_MONTHS and affected[-1].following().end <= now:
            affected.append(affected[-1].following())
        periods = [
            changed.previous().previous().previous(),
            changed.previous().previous(),
            changed.previous(),
            *affected,
        ]
        history = await self._health.history(community_id, periods)
        numbers = {p.key: health.metrics(p, history) for p in periods}
        raised = []
        for i, period in enumerate(periods[3:], start=3):
            trend = [float(numbers[p.key]["avg_attendance"]) for p in periods[i - 3 : i + 1]]
            for alert, details in health.alerts(numbers[period.key], trend).items():
                raised.append((period.key, alert, details))
        await self._raise_alerts(community_id, raised)
        quarter = parse(quarter_key(changed.start))
        if quarter.end <= now:
            await self._consistent_attendees(community_id, quarter)

    async def _raise_alerts(self, community_id: str, raised: list[tuple[str, str, Any]]) -> None:
        for period, alert, details in raised:
            doc_id = f"{community_id}|{alert}|{period}"
            if await self.projection.alerts.find_one({"_id": doc_id}, {"_id": 1}):
                continue
            data = HealthAlertRaised(
                community_id=community_id, alert=alert, period=period, details=details
            )
            event_id = decision_id("alert", community_id, alert, period)
            event = new_event(data, source=SOURCE, event_id=event_id)
            await self._bus.publish(event)
            record = {**data.model_dump(mode="json"), "event_id": event.id, "at": event.time}
            await self.projection.alerts.update_one(
                {"_id": doc_id}, {"$setOnInsert": record}, upsert=True
            )
            log.info("health alert %s for %s in %s", alert, community_id, period)

    async def _consistent_attendees(self, community_id: str, quarter: Period) -> None:
        buckets = await self.projection.buckets(community_id, quarter.months(), "sessions")
        sessions = [
            health.HeldSession(sid, at, fac, tuple(speakers), tuple(attendees))
            for b in buckets
            for sid, at, fac, speakers, attendees in b.get("sessions", {}).values()
        ]
        members = badges.consistent_attendees(sessions)
        await self._award([(m, "consistent_attendee", community_id) for m in sorted(members)])


def month_of(at: datetime) -> Period:
    return parse(month_key(at))
