"""Recognition's own decisions, published and recorded: kudos judgements, badges, health alerts.

Each decision is published under the one event id it can ever have (`decision_id`), derived from
what it decides: deciding it again publishes a duplicate that every consumer already drops by id.
Badges and alerts are then recorded in the projection, so the next decision skips them.
"""

import logging
import uuid
from typing import Any

from pymongo import UpdateOne

from services.recognition.adapters.projection import RecognitionProjection
from services.recognition.domain import badges
from shared.events.catalog import BadgeAwarded, HealthAlertRaised
from shared.events.envelope import new_event
from shared.kafka import EventBus

SOURCE = "cop/recognition"
log = logging.getLogger(__name__)


def decision_id(kind: str, *parts: str) -> str:
    """The one event id a decision ever has: deciding it again publishes a duplicate that every
    consumer already drops by id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cop:{kind}:" + "|".join(parts)))


def alert_parts(community_id: str, alert: str, period: str, details: dict[str, Any]) -> list[str]:
    """What makes an alert one: its community, name and period, and for an alert about a
    health-check card (`details["card"]`, the period being the round), that card."""
    card = details.get("card")
    return [community_id, alert, period, *([str(card)] if card else [])]


def judgement_id(kudos_id: str) -> str:
    """The one event id a kudos' judgement ever has, so a repeated judgement is a duplicate."""
    return decision_id("kudos.judged", kudos_id)


class Decisions:
    """Publishes badges and health alerts not decided before, then records them."""

    def __init__(self, bus: EventBus, projection: RecognitionProjection) -> None:
        self._bus = bus
        self._projection = projection

    async def award(self, awards: list[tuple[str, str, str]]) -> None:
        """Publish each badge (member, badge, community) not awarded before, then record them all
        (a crash in between publishes them again under the same event ids: a duplicate, absorbed
        downstream)."""
        if not awards:
            return
        ids = [f"{m}|{b}" for m, b, _ in awards]
        have = {
            d["_id"]
            for d in await self._projection.badges.find({"_id": {"$in": ids}}).to_list(None)
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
        await self._projection.badges.bulk_write(
            [
                UpdateOne({"_id": doc_id}, {"$setOnInsert": record}, upsert=True)
                for doc_id, record in records.items()
            ],
            ordered=False,
        )

    async def raise_alerts(self, community_id: str, raised: list[tuple[str, str, Any]]) -> None:
        """Publish each (period, alert, details) not raised before for the community, and record
        it."""
        for period, alert, details in raised:
            parts = alert_parts(community_id, alert, period, details)
            doc_id = "|".join(parts)
            if await self._projection.alerts.find_one({"_id": doc_id}, {"_id": 1}):
                continue
            data = HealthAlertRaised(
                community_id=community_id, alert=alert, period=period, details=details
            )
            event_id = decision_id("alert", *parts)
            event = new_event(data, source=SOURCE, event_id=event_id)
            await self._bus.publish(event)
            record = {**data.model_dump(mode="json"), "event_id": event.id, "at": event.time}
            await self._projection.alerts.update_one(
                {"_id": doc_id}, {"$setOnInsert": record}, upsert=True
            )
            log.info("health alert %s for %s in %s", alert, community_id, period)
