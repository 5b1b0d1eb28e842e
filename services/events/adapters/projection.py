"""The events service's MongoDB projection, built only by consuming its own topics.

Collections: `communities`, `memberships` (one per community and member), `sessions`,
`feedback` (one per session and member: a second submission replaces the first),
`action_items`, `members` (profiles) and `applied_events` (ids of the events applied, written
after their effects, so a command can wait until its event shows).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.events.domain.community import CommunityState
from services.events.domain.session import ActionItemState, SessionState, SessionStatus
from shared.consumer import ConsumedEvent
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    AttendanceRecorded,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    FeedbackSubmitted,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    Role,
    SessionCancelled,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
    Stage,
)
from shared.mongo import applied_once, insert_once, newer_wins

Write = UpdateOne | InsertOne | DeleteOne
APPLIED_EVENTS = "applied_events"
PROJECTION_COLLECTIONS = (
    "communities",
    "memberships",
    "sessions",
    "feedback",
    "action_items",
    "members",
)


def _data(event: Any) -> dict[str, Any]:
    """Event data as stored: JSON types, except instants, kept as dates so they sort and compare."""
    data = event.model_dump(mode="json", exclude_none=True)
    for name, value in event:
        if isinstance(value, datetime):
            data[name] = value.astimezone(UTC)
    return data


class EventsProjection:
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

    # --- applying events ---

    async def apply(self, batch: Sequence[ConsumedEvent]) -> None:
        """Apply a batch in order: consecutive writes to one collection go in one bulk write."""
        groups: list[tuple[AsyncCollection[dict[str, Any]], list[Write]]] = []
        for consumed in batch:
            for collection, write in self._writes(consumed):
                if groups and groups[-1][0] is collection:
                    groups[-1][1].append(write)
                else:
                    groups.append((collection, [write]))
        for collection, writes in groups:
            await collection.bulk_write(writes, ordered=True)
        await insert_once(self.applied, [{"_id": c.event.id, "type": c.event.type} for c in batch])

    def _writes(
        self, consumed: ConsumedEvent
    ) -> list[tuple[AsyncCollection[dict[str, Any]], Write]]:
        event_id, at, data = consumed.event.id, consumed.event.envelope.time, consumed.event.data
        match data:
            case CommunityCreated():
                # Set, not only inserted: an update from outside may have arrived first.
                doc = {**_data(data), "created_at": at, "event_id": event_id}
                return [(self.communities, w) for w in applied_once(
                    {"_id": data.community_id}, {"$set": doc}, event_id
                )] + [
                    (self.memberships, w)
                    for w in _membership(data.community_id, data.leader_id, Role.CORE, at)
                ]  # fmt: skip
            case CommunityUpdated():
                changes = _data(data)
                changes.pop("community_id")
                return [(self.communities, w) for w in applied_once(
                    {"_id": data.community_id}, {"$set": {**changes, "updated_at": at}}, event_id
                )]  # fmt: skip
            case CommunityLeaderChanged():
                return [(self.communities, w) for w in applied_once(
                    {"_id": data.community_id}, {"$set": {"leader_id": data.leader_id}}, event_id
                )] + [
                    (self.memberships, w)
                    for w in _membership(data.community_id, data.leader_id, Role.CORE, at)
                ]  # fmt: skip
            case MemberJoined():
                return [
                    (self.memberships, w)
                    for w in _membership(data.community_id, data.member_id, data.role, at)
                ]
            case MemberLeft():
                key = f"{data.community_id}|{data.member_id}"
                return [(self.memberships, DeleteOne({"_id": key}))]
            case MemberProfileUpdated():
                fields = {**_data(data), "event_id": event_id}
                return [(self.members, w) for w in newer_wins({"_id": data.member_id}, fields, at)]
            case SessionScheduled():
                # Facts from other systems may arrive out of order (a calendar's cancellation
                # before its scheduling): the details are set, a later status is kept.
                initial = {
                    "status": SessionStatus.SCHEDULED.value,
                    "checked_in_ids": [],
                    "attendee_ids": [],
                }
                details = {**_data(data), "scheduled_at": at}
                return [
                    (self.sessions, UpdateOne(
                        {"_id": data.session_id}, {"$setOnInsert": initial}, upsert=True
                    )),
                    *self._session(data, {"$set": details}, event_id),
                ]  # fmt: skip
            case SessionRescheduled():
                return self._session(data, {"$set": {"starts_at": data.starts_at}}, event_id)
            case SessionCancelled():
                update = {"$set": {"status": "cancelled", "cancel_reason": data.reason}}
                return self._session(data, update, event_id)
            case AttendanceRecorded():
                update = {"$addToSet": {"checked_in_ids": data.member_id}}
                return self._session(data, update, event_id)
            case SessionHeld():
                fields = _data(data)
                fields.pop("session_id")
                update = {"$set": {**fields, "status": SessionStatus.HELD.value}}
                return self._session(data, update, event_id)
            case FeedbackSubmitted():
                key = {"_id": f"{data.session_id}|{data.member_id}"}
                fields = {**_data(data), "event_id": event_id, "submitted_at": at}
                return [(self.feedback, w) for w in newer_wins(key, fields, at)]
            case ActionItemOpened():
                details = {**_data(data), "opened_at": at}
                return [
                    (self.action_items, UpdateOne(
                        {"_id": data.action_item_id}, {"$setOnInsert": {"open": True}}, upsert=True
                    )),
                    *((self.action_items, w) for w in applied_once(
                        {"_id": data.action_item_id}, {"$set": details}, event_id
                    )),
                ]  # fmt: skip
            case ActionItemClosed():
                update = {"$set": {"open": False, "outcome": data.outcome, "closed_at": at}}
                return [(self.action_items, w) for w in applied_once(
                    {"_id": data.action_item_id}, update, event_id
                )]  # fmt: skip
        return []

    def _session(
        self, data: Any, update: dict[str, Any], event_id: str
    ) -> list[tuple[AsyncCollection[dict[str, Any]], Write]]:
        """A guarded session write that also records the community, whatever came first."""
        update = {**update, "$set": {**update.get("$set", {}), "community_id": data.community_id}}
        guarded = applied_once({"_id": data.session_id}, update, event_id)
        return [(self.sessions, w) for w in guarded]

    # --- reads for commands ---

    async def session_details(self, session_id: str) -> dict[str, Any] | None:
        return await self.sessions.find_one({"_id": session_id})

    async def action_item_details(self, action_item_id: str) -> dict[str, Any] | None:
        return await self.action_items.find_one({"_id": action_item_id})

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
        doc = await self.sessions.find_one({"_id": session_id})
        if doc is None or "title" not in doc:  # unknown, or scheduled elsewhere and not yet here
            return None
        return SessionState(
            session_id=session_id,
            community_id=doc["community_id"],
            status=SessionStatus(doc["status"]),
            attendee_ids=frozenset(doc.get("attendee_ids", [])),
            checked_in_ids=frozenset(doc.get("checked_in_ids", [])),
        )

    async def action_item_state(self, action_item_id: str) -> ActionItemState | None:
        doc = await self.action_items.find_one({"_id": action_item_id})
        if doc is None or "title" not in doc:
            return None
        return ActionItemState(action_item_id, doc["community_id"], bool(doc["open"]))


def _membership(community_id: str, member_id: str, role: Role, at: datetime) -> list[UpdateOne]:
    doc = {"community_id": community_id, "member_id": member_id, "role": role.value}
    return [
        UpdateOne(
            {"_id": f"{community_id}|{member_id}"},
            {"$set": doc, "$setOnInsert": {"joined_at": at}},
            upsert=True,
        )
    ]
