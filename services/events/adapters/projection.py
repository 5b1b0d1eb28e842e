"""The events service's MongoDB projection, built only by consuming its own topics.

Collections: `communities`, `memberships` (one per community and member), `sessions`,
`feedback` (one per session and member: a second submission replaces the first),
`action_items`, `members` (profiles) and `applied_events` (ids of the events applied, written
after their effects, so a command can wait until its event shows).

Every write addresses one document by `_id` and is idempotent by construction: it sets fields,
adds to a set, inserts if missing or deletes. Kafka redelivers a suffix of a partition in order,
and replaying such writes in order leaves the documents as they were, so no applied-ids guard
(and no query beyond `_id`) is needed.
"""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.events.domain.community import CommunityState
from services.events.domain.session import (
    ActionItemState,
    SessionPlan,
    SessionState,
    SessionStatus,
)
from shared.events.catalog import Role, SessionFormat, Stage
from shared.mongo import StagedWrites, insert_once

APPLIED_EVENTS = "applied_events"
PROJECTION_COLLECTIONS = (
    "communities",
    "memberships",
    "sessions",
    "feedback",
    "action_items",
    "members",
)
Fields = dict[str, Any]


class EventsProjection:
    """Reads for commands and queries, and the unit of work that writes one batch."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self.communities = db["communities"]
        self.memberships = db["memberships"]
        self.sessions = db["sessions"]
        self.feedback = db["feedback"]
        self.action_items = db["action_items"]
        self.members = db["members"]
        self.applied = db[APPLIED_EVENTS]

    async def ensure_indexes(self) -> None:
        await self.memberships.create_index([("community_id", ASCENDING)])
        await self.memberships.create_index([("member_id", ASCENDING)])
        await self.sessions.create_index([("community_id", ASCENDING), ("starts_at", ASCENDING)])
        await self.sessions.create_index([("community_id", ASCENDING), ("held_at", DESCENDING)])
        await self.feedback.create_index([("session_id", ASCENDING)])
        await self.action_items.create_index([("community_id", ASCENDING), ("open", ASCENDING)])

    def unit_of_work(self) -> "EventsWrites":
        return EventsWrites(self)

    # --- reads for commands ---

    async def was_applied(self, event_id: str) -> bool:
        return await self.applied.find_one({"_id": event_id}) is not None

    async def community_state(self, community_id: str) -> CommunityState | None:
        doc = await self.communities.find_one({"_id": community_id})
        if doc is None or "leader_id" not in doc:  # unknown, or only a later fact arrived yet
            return None
        members = {
            m["member_id"]: Role(m["role"])
            async for m in self.memberships.find({"community_id": community_id})
        }
        return CommunityState(community_id, doc["leader_id"], Stage(doc["stage"]), members)

    async def session_state(self, session_id: str) -> SessionState | None:
        """A session as commands see it; None until its schedule (or its holding) has arrived."""
        doc = await self.sessions.find_one({"_id": session_id})
        if doc is None or "title" not in doc:
            return None
        return SessionState(
            session_id=doc["_id"],
            community_id=doc["community_id"],
            status=SessionStatus(doc.get("status", SessionStatus.SCHEDULED)),
            attendee_ids=frozenset(doc.get("attendee_ids", [])),
            checked_in_ids=frozenset(doc.get("checked_in_ids", [])),
            plan=SessionPlan(
                title=doc["title"],
                format=SessionFormat(doc["format"]),
                starts_at=doc.get("starts_at") or doc["held_at"],
                duration_minutes=doc["duration_minutes"],
                facilitator_id=doc["facilitator_id"],
                speaker_ids=tuple(doc.get("speaker_ids", [])),
            ),
        )

    async def action_item_state(self, action_item_id: str) -> ActionItemState | None:
        doc = await self.action_items.find_one({"_id": action_item_id})
        if doc is None or "title" not in doc:
            return None
        return ActionItemState(
            action_item_id=doc["_id"],
            community_id=doc["community_id"],
            open=bool(doc.get("open", True)),
            title=doc["title"],
            owner_id=doc["owner_id"],
            session_id=doc.get("session_id"),
        )


class EventsWrites:
    """One batch's changes to the projection, written in order when the batch commits."""

    def __init__(self, projection: EventsProjection) -> None:
        self._p = projection
        self._writes = StagedWrites()
        self._applied: list[dict[str, str]] = []

    def set_community(self, community_id: str, fields: Fields) -> None:
        self._writes.add(
            self._p.communities,
            UpdateOne({"_id": community_id}, {"$set": fields}, upsert=True),
        )

    def set_membership(
        self, community_id: str, member_id: str, role: Role, joined_at: datetime
    ) -> None:
        doc = {"community_id": community_id, "member_id": member_id, "role": role.value}
        self._writes.add(
            self._p.memberships,
            UpdateOne(
                {"_id": _membership_id(community_id, member_id)},
                {"$set": doc, "$setOnInsert": {"joined_at": joined_at}},
                upsert=True,
            ),
        )

    def remove_membership(self, community_id: str, member_id: str) -> None:
        self._writes.add(
            self._p.memberships, DeleteOne({"_id": _membership_id(community_id, member_id)})
        )

    def change_session(
        self,
        session_id: str,
        *,
        set_: Fields | None = None,
        on_insert: Fields | None = None,
        add_to_set: Fields | None = None,
    ) -> None:
        update: dict[str, Fields] = {"$set": set_ or {}}
        if on_insert:
            update["$setOnInsert"] = on_insert
        if add_to_set:
            update["$addToSet"] = add_to_set
        self._writes.add(self._p.sessions, UpdateOne({"_id": session_id}, update, upsert=True))

    def change_action_item(
        self, action_item_id: str, *, set_: Fields, on_insert: Fields | None = None
    ) -> None:
        update: dict[str, Fields] = {"$set": set_}
        if on_insert:
            update["$setOnInsert"] = on_insert
        self._writes.add(
            self._p.action_items, UpdateOne({"_id": action_item_id}, update, upsert=True)
        )

    async def replace_profile_if_newer(self, member_id: str, fields: Fields, at: datetime) -> None:
        await self._replace_if_newer(self._p.members, member_id, fields, at)

    async def replace_feedback_if_newer(
        self, session_id: str, member_id: str, fields: Fields, at: datetime
    ) -> None:
        await self._replace_if_newer(self._p.feedback, f"{session_id}|{member_id}", fields, at)

    async def _replace_if_newer(
        self, collection: Any, doc_id: str, fields: Fields, at: datetime
    ) -> None:
        if await self._writes.is_newer(collection, doc_id, at):
            self._writes.add(
                collection,
                UpdateOne({"_id": doc_id}, {"$set": {**fields, "updated_at": at}}, upsert=True),
            )

    def handled(self, event_id: str, event_type: str) -> None:
        self._applied.append({"_id": event_id, "type": event_type})

    async def commit(self) -> None:
        await self._writes.flush()
        await insert_once(self._p.applied, self._applied)


def _membership_id(community_id: str, member_id: str) -> str:
    return f"{community_id}|{member_id}"
