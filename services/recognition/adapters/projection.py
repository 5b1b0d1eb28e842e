"""Recognition's MongoDB projection: one document per kudos, counted per member on read.

Each kudos event inserts exactly one document keyed by its kudos id: a redelivered or replayed
event hits the existing `_id` and changes nothing. Counting
documents through an index keeps hot members cheap to update, where a counter with a growing
list of applied event ids would be rewritten in full on every kudos.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import insert_once


class RecognitionProjection:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._kudos = db["kudos"]

    async def ensure_indexes(self) -> None:
        await self._kudos.create_index([("counted_for", ASCENDING), ("given_at", DESCENDING)])
        await self._kudos.create_index([("from_id", ASCENDING)])
        await self._kudos.create_index([("community_id", ASCENDING), ("given_at", DESCENDING)])

    def unit_of_work(self) -> "RecognitionWrites":
        return RecognitionWrites(self)

    async def save_kudos(self, docs: list[dict[str, Any]]) -> None:
        """Insert-only, keyed by the kudos id: a repeated event changes nothing."""
        await insert_once(self._kudos, docs)

    async def kudos(self, kudos_id: str) -> dict[str, Any] | None:
        return await self._kudos.find_one({"_id": kudos_id})

    async def member_counts(self, member_id: str) -> dict[str, Any]:
        received = await self._kudos.count_documents({"counted_for": member_id})
        given = await self._kudos.count_documents({"from_id": member_id})
        latest = await self._kudos.find_one(
            {"counted_for": member_id}, {"given_at": 1}, sort=[("given_at", DESCENDING)]
        )
        return {
            "member_id": member_id,
            "received": received,
            "given": given,
            "last_received_at": latest["given_at"] if latest else None,
        }


class RecognitionWrites:
    """One batch's kudos documents, inserted together when the batch commits."""

    def __init__(self, projection: RecognitionProjection) -> None:
        self._projection = projection
        self._kudos: list[dict[str, Any]] = []

    def record_kudos(self, doc: dict[str, Any]) -> None:
        self._kudos.append(doc)

    def handled(self, event_id: str, event_type: str) -> None:
        pass  # a kudos shows by its own document; nothing else to record

    async def commit(self) -> None:
        await self._projection.save_kudos(self._kudos)
