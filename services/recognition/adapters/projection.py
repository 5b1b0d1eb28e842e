"""Recognition's MongoDB projection: one document per kudos, and one tally per member.

Each kudos event inserts exactly one document keyed by its kudos id: a redelivered or replayed
event hits the existing `_id` and changes nothing. Each member's tally (`member_kudos`, keyed by
member id) keeps the ids of the kudos counted for them and of those they gave, added as sets,
and the time of the latest: every write is idempotent and commutative, so redeliveries and
consumers of other partitions writing the same member at once cannot count anything twice.
Reading a member's numbers is one read by `_id`, however many kudos the platform holds.
"""

from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import StagedWrites, insert_once


class RecognitionProjection:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._kudos = db["kudos"]
        self.tallies = db["member_kudos"]

    def unit_of_work(self) -> "RecognitionWrites":
        return RecognitionWrites(self)

    async def save_kudos(self, docs: list[dict[str, Any]]) -> None:
        """Insert-only, keyed by the kudos id: a repeated event changes nothing."""
        await insert_once(self._kudos, docs)

    async def kudos(self, kudos_id: str) -> dict[str, Any] | None:
        return await self._kudos.find_one({"_id": kudos_id})

    async def member_counts(self, member_id: str) -> dict[str, Any]:
        tally = await self.tallies.find_one({"_id": member_id}) or {}
        return {
            "member_id": member_id,
            "received": len(tally.get("received_ids", [])),
            "given": len(tally.get("given_ids", [])),
            "last_received_at": tally.get("last_received_at"),
        }


class RecognitionWrites:
    """One batch's kudos documents, inserted together when the batch commits."""

    def __init__(self, projection: RecognitionProjection) -> None:
        self._projection = projection
        self._kudos: list[dict[str, Any]] = []
        self._tallies = StagedWrites()

    def record_kudos(self, doc: dict[str, Any]) -> None:
        self._kudos.append(doc)

    def tally_given(self, giver_id: str, kudos_id: str) -> None:
        self._tallies.add(
            self._projection.tallies,
            UpdateOne({"_id": giver_id}, {"$addToSet": {"given_ids": kudos_id}}, upsert=True),
        )

    def tally_received(self, member_id: str, kudos_id: str, at: datetime) -> None:
        self._tallies.add(
            self._projection.tallies,
            UpdateOne(
                {"_id": member_id},
                {"$addToSet": {"received_ids": kudos_id}, "$max": {"last_received_at": at}},
                upsert=True,
            ),
        )

    def handled(self, event_id: str, event_type: str) -> None:
        pass  # a kudos shows by its own document; nothing else to record

    async def commit(self) -> None:
        # The kudos document last: once it shows (`?wait=true` looks for it), so do the tallies.
        await self._tallies.flush()
        await self._projection.save_kudos(self._kudos)
