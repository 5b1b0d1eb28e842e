"""The events service's member directory projection (from `cop.member.profile_updated.v1`)."""

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events.catalog import MemberProfileUpdated
from shared.mongo import bulk_apply, newer_wins


class MemberDirectory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._members = db["members"]

    async def save_profiles(self, items: list[tuple[str, datetime, MemberProfileUpdated]]) -> None:
        """Last writer wins by event time; an older or repeated event changes nothing."""
        ops = [
            op
            for event_id, at, p in items
            for op in newer_wins(
                {"_id": p.member_id}, {**p.model_dump(mode="json"), "event_id": event_id}, at
            )
        ]
        await bulk_apply(self._members, ops)

    async def get(self, member_id: str) -> dict[str, Any] | None:
        return await self._members.find_one({"_id": member_id})
