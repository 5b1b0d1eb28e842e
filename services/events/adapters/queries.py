"""Read models the events service's API answers from (the projection's collections)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from services.events.adapters.projection import EventsProjection


def _public(doc: dict[str, Any], id_name: str) -> dict[str, Any]:
    doc = dict(doc)
    doc[id_name] = doc.pop("_id")
    doc.pop("applied_event_ids", None)
    return doc


@dataclass(frozen=True)
class SessionFilter:
    community_id: str
    when: str  # "upcoming" or "past"
    format: str | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None


class EventsQueries:
    def __init__(self, projection: EventsProjection) -> None:
        self._p = projection

    async def member_counts(self, community_ids: list[str] | None = None) -> dict[str, int]:
        match: dict[str, Any] = {"community_id": {"$in": community_ids}} if community_ids else {}
        pipeline = [{"$match": match}, {"$group": {"_id": "$community_id", "n": {"$sum": 1}}}]
        cursor = await self._p.memberships.aggregate(pipeline)
        return {row["_id"]: int(row["n"]) async for row in cursor}

    async def communities(self, *, stage: str | None, skip: int, limit: int) -> dict[str, Any]:
        query: dict[str, Any] = {"stage": stage} if stage else {}
        total = await self._p.communities.count_documents(query)
        cursor = self._p.communities.find(query).sort("name", ASCENDING).skip(skip).limit(limit)
        docs = [_public(d, "community_id") async for d in cursor]
        counts = await self.member_counts([d["community_id"] for d in docs])
        for doc in docs:
            doc["member_count"] = counts.get(doc["community_id"], 0)
        return {"total": total, "items": docs}

    async def community(self, community_id: str) -> dict[str, Any] | None:
        doc = await self._p.communities.find_one({"_id": community_id})
        if doc is None:
            return None
        found = _public(doc, "community_id")
        found["member_count"] = await self._p.memberships.count_documents(
            {"community_id": community_id}
        )
        return found

    async def memberships(self, community_id: str) -> list[dict[str, Any]]:
        cursor = self._p.memberships.find({"community_id": community_id}).sort("joined_at", 1)
        return [
            {"member_id": m["member_id"], "role": m["role"], "joined_at": m.get("joined_at")}
            async for m in cursor
        ]

    async def member(self, member_id: str) -> dict[str, Any] | None:
        doc = await self._p.members.find_one({"_id": member_id})
        return _public(doc, "member_id") if doc else None

    async def sessions(self, f: SessionFilter, *, skip: int, limit: int) -> dict[str, Any]:
        now = datetime.now(UTC)
        query: dict[str, Any] = {"community_id": f.community_id}
        if f.when == "upcoming":
            query["status"] = "scheduled"
            query["starts_at"] = {"$gte": now}
            order = ASCENDING
        else:
            query["$or"] = [
                {"status": {"$in": ["held", "cancelled"]}},
                {"starts_at": {"$lt": now}},
            ]
            order = DESCENDING
        if f.format:
            query["format"] = f.format
        window: dict[str, datetime] = dict(query.pop("starts_at", {}))
        if f.starts_from:
            start = f.starts_from.astimezone(UTC)
            window["$gte"] = max(start, window.get("$gte", start))  # upcoming: never the past
        if f.starts_to:
            window["$lt"] = f.starts_to.astimezone(UTC)
        if window:
            query["starts_at"] = window
        total = await self._p.sessions.count_documents(query)
        cursor = self._p.sessions.find(query).sort("starts_at", order).skip(skip).limit(limit)
        return {"total": total, "items": [_public(d, "session_id") async for d in cursor]}

    async def session(self, session_id: str) -> dict[str, Any] | None:
        doc = await self._p.sessions.find_one({"_id": session_id})
        if doc is None:
            return None
        found = _public(doc, "session_id")
        feedback = [f async for f in self._p.feedback.find({"session_id": session_id})]
        ratings = [int(f["rating"]) for f in feedback]
        found["attendance"] = {
            "checked_in": len(doc.get("checked_in_ids", [])),
            "attended": len(doc.get("attendee_ids", [])),
        }
        found["feedback"] = {
            "count": len(feedback),
            "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "applied_count": sum(1 for f in feedback if f.get("applied")),
            "plus": [f["plus"] for f in feedback if f.get("plus")],
            "delta": [f["delta"] for f in feedback if f.get("delta")],
        }
        return found

    async def feedback(self, session_id: str, member_id: str) -> dict[str, Any] | None:
        doc = await self._p.feedback.find_one({"_id": f"{session_id}|{member_id}"})
        if doc is None:
            return None
        doc.pop("_id")
        return doc

    async def facilitator_rotation(self, community_id: str, last: int) -> dict[str, Any]:
        cursor = (
            self._p.sessions.find({"community_id": community_id, "status": "held"})
            .sort("held_at", DESCENDING)
            .limit(last)
        )
        sessions = [
            {
                "session_id": d["_id"],
                "title": d.get("title"),
                "held_at": d.get("held_at"),
                "facilitator_id": d.get("facilitator_id"),
            }
            async for d in cursor
        ]
        counts: dict[str, int] = {}
        for s in sessions:
            counts[s["facilitator_id"]] = counts.get(s["facilitator_id"], 0) + 1
        return {
            "community_id": community_id,
            "sessions": sessions,
            "facilitators": [
                {"facilitator_id": k, "sessions": v}
                for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }

    async def open_action_items(self, community_id: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        cursor = self._p.action_items.find({"community_id": community_id, "open": True}).sort(
            "opened_at", ASCENDING
        )
        items = []
        async for doc in cursor:
            item = _public(doc, "action_item_id")
            opened = doc["opened_at"]
            item["age_days"] = round((now - opened).total_seconds() / 86400, 2)
            items.append(item)
        return items
