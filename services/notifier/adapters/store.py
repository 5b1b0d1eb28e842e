"""The notifier's MongoDB state: member contact profiles and the delivery log."""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class NotifierStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._profiles = db["profiles"]
        self._deliveries = db["deliveries"]
        self._waiting = db["waiting_for_address"]  # member id -> ids of parked deliveries

    async def ensure_indexes(self) -> None:
        await self._deliveries.create_index([("member_id", ASCENDING), ("status", ASCENDING)])
        await self._deliveries.create_index([("created_at", DESCENDING)])
        await self._deliveries.create_index([("cause_event_id", ASCENDING)])

    async def save_profile_if_newer(
        self, member_id: str, fields: dict[str, Any], at: datetime
    ) -> bool:
        """Last writer wins by event time; an older or repeated event changes nothing.

        Read, then written, by `_id`: a member's events share a partition, so one consumer
        writes the profile.
        """
        current = await self._profiles.find_one({"_id": member_id}, {"updated_at": 1})
        if current is not None and current.get("updated_at") and current["updated_at"] >= at:
            return False
        await self._profiles.update_one(
            {"_id": member_id}, {"$set": {**fields, "updated_at": at}}, upsert=True
        )
        return True

    async def profiles(self, member_ids: list[str]) -> dict[str, dict[str, Any]]:
        cursor = self._profiles.find({"_id": {"$in": member_ids}})
        return {doc["_id"]: doc async for doc in cursor}

    async def claim(self, delivery_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """Claim a delivery before sending it. None when it was already delivered.

        The `_id` is (cause event, recipient, channel), so the same notification is never
        sent twice; a retry reuses the record and counts the attempt.
        """
        now = datetime.now(UTC)
        doc = {
            "_id": delivery_id,
            **record,
            "status": "sending",
            "attempt": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self._deliveries.insert_one(doc)
            return doc
        except DuplicateKeyError:
            return await self._deliveries.find_one_and_update(
                {"_id": delivery_id, "status": {"$ne": "delivered"}},
                {"$inc": {"attempt": 1}, "$set": {"status": "sending", "updated_at": now}},
                return_document=ReturnDocument.AFTER,
            )

    async def set_status(self, delivery_id: str, status: str, error: str | None = None) -> None:
        update: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
        if error is not None:
            update["error"] = error
        await self._deliveries.update_one({"_id": delivery_id}, {"$set": update})

    async def park_for_address(self, delivery_id: str, member_id: str) -> None:
        """Keep a delivery until the member's address is known; found again by member id."""
        await self.set_status(delivery_id, "awaiting_address")
        await self._waiting.update_one(
            {"_id": member_id}, {"$addToSet": {"delivery_ids": delivery_id}}, upsert=True
        )

    async def awaiting_address(self, member_id: str) -> list[dict[str, Any]]:
        """The member's parked deliveries, read by `_id` (no scan of the delivery log)."""
        parked = await self._waiting.find_one({"_id": member_id})
        ids = parked.get("delivery_ids", []) if parked else []
        if not ids:
            return []
        cursor = self._deliveries.find({"_id": {"$in": ids}})
        waiting = [doc async for doc in cursor if doc.get("status") == "awaiting_address"]
        done = set(ids) - {doc["_id"] for doc in waiting}
        if done:
            await self._waiting.update_one(
                {"_id": member_id}, {"$pull": {"delivery_ids": {"$in": sorted(done)}}}
            )
        return waiting

    async def deliveries(
        self, *, member_id: str | None, cause_event_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if member_id:
            query["member_id"] = member_id
        if cause_event_id:
            query["cause_event_id"] = cause_event_id
        cursor = self._deliveries.find(query).sort("created_at", DESCENDING).limit(limit)
        return [doc async for doc in cursor]
