"""The events service's member directory projection (from `cop.member.profile_updated.v1`)."""

from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.catalog import MemberProfileUpdated
from shared.mongo import bulk_apply


class MemberDirectory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._members = db["members"]

    async def save_profiles(self, items: list[tuple[str, datetime, MemberProfileUpdated]]) -> None:
        """Last writer wins by event time; an older or repeated event changes nothing."""
        ops = [
            UpdateOne(
                {
                    "_id": p.member_id,
                    "$or": [{"updated_at": {"$lt": at}}, {"updated_at": {"$exists": False}}],
                },
                {"$set": {**p.model_dump(mode="json"), "updated_at": at, "event_id": event_id}},
                upsert=True,
            )
            for event_id, at, p in items
        ]
        await bulk_apply(self._members, ops)

    async def get(self, member_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"_id": member_id})
