"""The notifier's MongoDB state: member contact profiles and the delivery log."""

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

# A delivery in one of these states is not tried again by a redelivered or replayed event.
FINAL = frozenset({"delivered", "failed"})
INDEXED_PER_KEY = 500  # the delivery log lists at most this many per member, event or overall


class NotifierStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._profiles = db["profiles"]
        self._deliveries = db["deliveries"]
        self._waiting = db["waiting_for_address"]  # member id -> ids of parked deliveries
        # "member:<id>", "cause:<event id>" and "recent" -> the latest delivery ids, so the
        # log is listed by `_id` reads, never by scanning it.
        self._index = db["delivery_index"]

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
        """Claim a delivery before sending it. None when it was delivered or failed for good.

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
        except DuplicateKeyError:
            # The cause event's partition has one consumer, so nobody else claims it meanwhile.
            existing = await self._deliveries.find_one({"_id": delivery_id})
            if existing is None or existing.get("status") in FINAL:
                return None
            return await self._deliveries.find_one_and_update(
                {"_id": delivery_id},
                {"$inc": {"attempt": 1}, "$set": {"status": "sending", "updated_at": now}},
                return_document=ReturnDocument.AFTER,
            )
        await self._indexed(delivery_id, doc.get("member_id"), doc.get("cause_event_id"))
        return doc

    async def _indexed(
        self, delivery_id: str, member_id: str | None, cause_event_id: str | None
    ) -> None:
        keys = ["recent"]
        if member_id:
            keys.append(f"member:{member_id}")
        if cause_event_id:
            keys.append(f"cause:{cause_event_id}")
        await self._index.bulk_write(
            [
                UpdateOne(
                    {"_id": key},
                    {"$push": {"ids": {"$each": [delivery_id], "$slice": -INDEXED_PER_KEY}}},
                    upsert=True,
                )
                for key in keys
            ],
            ordered=False,
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
        """The latest deliveries, newest first, of a member, of a cause event, or of everyone."""
        if cause_event_id:
            key = f"cause:{cause_event_id}"
        else:
            key = f"member:{member_id}" if member_id else "recent"
        ids = await self._indexed_ids(key)
        cursor = self._deliveries.find({"_id": {"$in": ids}})
        found = [doc async for doc in cursor if not member_id or doc["member_id"] == member_id]
        found.sort(key=lambda d: d["created_at"], reverse=True)
        return found[:limit]

    async def _indexed_ids(self, key: str) -> list[str]:
        doc = await self._index.find_one({"_id": key})
        return list(doc.get("ids", [])) if doc else []
