"""Recognition's MongoDB projection: every kudos, and kudos counts per member."""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.recognition.domain.kudos import judge_recorded
from shared.events.catalog import KudosGiven
from shared.mongo import applied_once, bulk_apply


class RecognitionProjection:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._kudos = db["kudos"]
        self._members = db["member_kudos"]

    async def ensure_indexes(self) -> None:
        await self._kudos.create_index([("community_id", ASCENDING), ("given_at", DESCENDING)])
        await self._members.create_index([("received", DESCENDING)])

    async def apply_kudos(self, items: list[tuple[str, datetime, KudosGiven]]) -> None:
        """Apply kudos events in order; a repeated event changes nothing."""
        kudos_ops: list[UpdateOne] = []
        member_ops: list[UpdateOne] = []
        for event_id, at, kudos in items:
            verdict = judge_recorded(kudos.from_id, kudos.to_ids)
            doc = {
                **kudos.model_dump(mode="json"),
                "event_id": event_id,
                "given_at": at,
                "counted_for": list(verdict.counted),
                "not_counted": verdict.not_counted,
            }
            kudos_ops.append(UpdateOne({"_id": kudos.kudos_id}, {"$setOnInsert": doc}, upsert=True))
            member_ops += applied_once({"_id": kudos.from_id}, {"$inc": {"given": 1}}, event_id)
            for member in verdict.counted:
                member_ops += applied_once(
                    {"_id": member},
                    {"$inc": {"received": 1}, "$set": {"last_received_at": at}},
                    event_id,
                )
        await bulk_apply(self._kudos, kudos_ops)
        await bulk_apply(self._members, member_ops)

    async def kudos(self, kudos_id: str) -> dict[str, Any] | None:
        return await self._kudos.find_one({"_id": kudos_id})

    async def member_counts(self, member_id: str) -> dict[str, Any]:
        doc = await self._members.find_one({"_id": member_id}, {"applied_event_ids": 0}) or {}
        return {
            "member_id": member_id,
            "received": int(doc.get("received", 0)),
            "given": int(doc.get("given", 0)),
            "last_received_at": doc.get("last_received_at"),
        }
