"""Recognition's MongoDB projection: one document per kudos, counted per member on read.

Each kudos event inserts exactly one document keyed by its kudos id: a redelivered or replayed
event hits the existing `_id` and changes nothing. Counting
documents through an index keeps hot members cheap to update, where a counter with a growing
list of applied event ids would be rewritten in full on every kudos.
"""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.recognition.domain.kudos import KudosPolicy, judge_recorded
from shared.events.catalog import KudosGiven
from shared.mongo import insert_once


class RecognitionProjection:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], policy: KudosPolicy) -> None:
        self._kudos = db["kudos"]
        self._policy = policy

    async def ensure_indexes(self) -> None:
        await self._kudos.create_index([("counted_for", ASCENDING), ("given_at", DESCENDING)])
        await self._kudos.create_index([("from_id", ASCENDING)])
        await self._kudos.create_index([("community_id", ASCENDING), ("given_at", DESCENDING)])

    async def apply_kudos(self, items: list[tuple[str, datetime, KudosGiven]]) -> None:
        """Apply kudos events in order; a repeated event changes nothing."""
        docs = []
        for event_id, at, kudos in items:
            verdict = judge_recorded(kudos.from_id, kudos.to_ids, kudos.value_tag, self._policy)
            doc = {
                "_id": kudos.kudos_id,
                **kudos.model_dump(mode="json"),
                "event_id": event_id,
                "given_at": at,
                "counted_for": list(verdict.counted),
                "not_counted": verdict.not_counted,
            }
            docs.append(doc)
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
