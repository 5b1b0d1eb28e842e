"""Read models the events service's API answers from (the projection's collections).

Every query returns a typed model, so `/openapi.json` documents the answers too; the
projection's bookkeeping fields (`applied_event_ids`, `event_id`, ...) stay out of them.
Lists answer `{total, page, size, items}`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, DESCENDING

from services.events.adapters.projection import EventsProjection
from services.events.domain.session import SessionStatus
from shared.events.catalog import Charter, Role, SessionFormat, Stage

Doc = dict[str, Any]


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


ItemT = TypeVar("ItemT", bound=ReadModel)


class Page(ReadModel, Generic[ItemT]):
    total: int
    page: int
    size: int
    items: list[ItemT]


@dataclass(frozen=True)
class Paging:
    page: int = 1
    size: int = 50

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.size

    def of(self, total: int, items: list[ItemT]) -> Page[ItemT]:
        return Page[ItemT](total=total, page=self.page, size=self.size, items=items)


class Community(ReadModel):
    community_id: str
    name: str
    domain: str
    charter: Charter
    leader_id: str
    sponsor_ids: list[str] = []
    stage: Stage
    member_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Membership(ReadModel):
    member_id: str
    role: Role
    joined_at: datetime | None = None


class PublicMemberProfile(ReadModel):
    """What every signed-in member may see of another member."""

    member_id: str
    name: str
    team: str = ""


class MemberProfile(PublicMemberProfile):
    """The whole profile, personal data included: for the member themself and admins."""

    email: str
    chat_handle: str = ""
    timezone: str = "UTC"
    updated_at: datetime | None = None

    def public(self) -> PublicMemberProfile:
        return PublicMemberProfile(member_id=self.member_id, name=self.name, team=self.team)


class Session(ReadModel):
    session_id: str
    community_id: str
    status: SessionStatus = SessionStatus.SCHEDULED
    title: str
    format: SessionFormat
    starts_at: datetime | None = None  # None: known only from a holding reported elsewhere
    duration_minutes: int | None = None
    location: str = ""
    facilitator_id: str | None = None
    speaker_ids: list[str] = []
    agenda: list[str] = []
    tags: list[str] = []
    checked_in_ids: list[str] = []
    attendee_ids: list[str] = []
    held_at: datetime | None = None
    recording_url: str | None = None
    cancel_reason: str | None = None
    scheduled_at: datetime | None = None


class Attendance(ReadModel):
    checked_in: int
    attended: int


class FeedbackSummary(ReadModel):
    count: int
    average_rating: float | None
    applied_count: int
    plus: list[str]
    delta: list[str]


class SessionDetail(Session):
    attendance: Attendance
    feedback: FeedbackSummary


class Feedback(ReadModel):
    session_id: str
    community_id: str
    member_id: str
    rating: int
    plus: str = ""
    delta: str = ""
    applied: bool = False
    submitted_at: datetime | None = None


class Facilitation(ReadModel):
    session_id: str
    title: str | None = None
    held_at: datetime | None = None
    facilitator_id: str | None = None


class FacilitatorCount(ReadModel):
    facilitator_id: str
    sessions: int


class FacilitatorRotation(ReadModel):
    community_id: str
    sessions: list[Facilitation]
    facilitators: list[FacilitatorCount]


class ActionItem(ReadModel):
    action_item_id: str
    community_id: str
    session_id: str | None = None
    title: str
    owner_id: str
    due: datetime | None = None
    opened_at: datetime | None = None
    age_days: float


@dataclass(frozen=True)
class SessionFilter:
    community_id: str
    when: Literal["upcoming", "past"]
    format: SessionFormat | None = None
    starts_from: datetime | None = None  # UTC
    starts_to: datetime | None = None  # UTC


def _public(doc: Doc, id_name: str) -> Doc:
    return {**doc, id_name: doc["_id"]}


class EventsQueries:
    def __init__(self, projection: EventsProjection) -> None:
        self._p = projection

    async def member_counts(self, community_ids: list[str] | None = None) -> dict[str, int]:
        match: Doc = {"community_id": {"$in": community_ids}} if community_ids else {}
        pipeline = [{"$match": match}, {"$group": {"_id": "$community_id", "n": {"$sum": 1}}}]
        cursor = await self._p.memberships.aggregate(pipeline)
        return {row["_id"]: int(row["n"]) async for row in cursor}

    async def communities(self, *, stage: Stage | None, paging: Paging) -> Page[Community]:
        # A community is listed once its creation arrived (an update may come first).
        query: Doc = {"leader_id": {"$exists": True}}
        if stage:
            query["stage"] = stage.value
        total = await self._p.communities.count_documents(query)
        cursor = (
            self._p.communities.find(query)
            .sort("name", ASCENDING)
            .skip(paging.skip)
            .limit(paging.size)
        )
        docs = [_public(d, "community_id") async for d in cursor]
        counts = await self.member_counts([d["community_id"] for d in docs])
        items = [
            Community.model_validate({**d, "member_count": counts.get(d["community_id"], 0)})
            for d in docs
        ]
        return paging.of(total, items)

    async def community(self, community_id: str) -> Community | None:
        doc = await self._p.communities.find_one({"_id": community_id})
        if doc is None or "leader_id" not in doc:
            return None
        count = await self._p.memberships.count_documents({"community_id": community_id})
        return Community.model_validate({**_public(doc, "community_id"), "member_count": count})

    async def memberships(self, community_id: str, paging: Paging) -> Page[Membership]:
        query = {"community_id": community_id}
        total = await self._p.memberships.count_documents(query)
        cursor = (
            self._p.memberships.find(query)
            .sort("joined_at", ASCENDING)
            .skip(paging.skip)
            .limit(paging.size)
        )
        return paging.of(total, [Membership.model_validate(m) async for m in cursor])

    async def member(self, member_id: str) -> MemberProfile | None:
        doc = await self._p.members.find_one({"_id": member_id})
        if doc is None or "name" not in doc:
            return None
        return MemberProfile.model_validate(_public(doc, "member_id"))

    async def sessions(self, f: SessionFilter, paging: Paging) -> Page[Session]:
        now = datetime.now(UTC)
        query: Doc = {"community_id": f.community_id, "title": {"$exists": True}}
        window: dict[str, datetime] = {}
        if f.when == "upcoming":
            query["status"] = SessionStatus.SCHEDULED.value
            window["$gte"] = now
            order = ASCENDING
        else:
            # Held, or its time has passed: a cancelled session is past only once its time is.
            query["$or"] = [
                {"status": SessionStatus.HELD.value},
                {"starts_at": {"$lt": now}},
            ]
            order = DESCENDING
        if f.format:
            query["format"] = f.format.value
        if f.starts_from:
            window["$gte"] = max(f.starts_from, window.get("$gte", f.starts_from))
        if f.starts_to:
            window["$lt"] = f.starts_to
        if window:
            query["starts_at"] = window
        total = await self._p.sessions.count_documents(query)
        cursor = (
            self._p.sessions.find(query)
            .sort("starts_at", order)
            .skip(paging.skip)
            .limit(paging.size)
        )
        items = [Session.model_validate(_public(d, "session_id")) async for d in cursor]
        return paging.of(total, items)

    async def session(self, session_id: str) -> SessionDetail | None:
        doc = await self._p.sessions.find_one({"_id": session_id})
        if doc is None or "title" not in doc:  # unknown, or only a later fact arrived yet
            return None
        feedback = [f async for f in self._p.feedback.find({"session_id": session_id})]
        ratings = [int(f["rating"]) for f in feedback]
        attendance = Attendance(
            checked_in=len(doc.get("checked_in_ids", [])),
            attended=len(doc.get("attendee_ids", [])),
        )
        summary = FeedbackSummary(
            count=len(feedback),
            average_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
            applied_count=sum(1 for f in feedback if f.get("applied")),
            plus=[f["plus"] for f in feedback if f.get("plus")],
            delta=[f["delta"] for f in feedback if f.get("delta")],
        )
        return SessionDetail.model_validate(
            {**_public(doc, "session_id"), "attendance": attendance, "feedback": summary}
        )

    async def feedback(self, session_id: str, member_id: str) -> Feedback | None:
        doc = await self._p.feedback.find_one({"_id": f"{session_id}|{member_id}"})
        return Feedback.model_validate(doc) if doc else None

    async def facilitator_rotation(self, community_id: str, last: int) -> FacilitatorRotation:
        cursor = (
            self._p.sessions.find({"community_id": community_id, "status": "held"})
            .sort("held_at", DESCENDING)
            .limit(last)
        )
        sessions = [Facilitation.model_validate(_public(d, "session_id")) async for d in cursor]
        counts: dict[str, int] = {}
        for s in sessions:
            if s.facilitator_id:
                counts[s.facilitator_id] = counts.get(s.facilitator_id, 0) + 1
        return FacilitatorRotation(
            community_id=community_id,
            sessions=sessions,
            facilitators=[
                FacilitatorCount(facilitator_id=k, sessions=v)
                for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        )

    async def open_action_items(self, community_id: str, paging: Paging) -> Page[ActionItem]:
        now = datetime.now(UTC)
        query = {"community_id": community_id, "open": True}
        total = await self._p.action_items.count_documents(query)
        cursor = (
            self._p.action_items.find(query)
            .sort("opened_at", ASCENDING)
            .skip(paging.skip)
            .limit(paging.size)
        )
        items = [
            ActionItem.model_validate(
                {
                    **_public(doc, "action_item_id"),
                    "age_days": round((now - doc["opened_at"]).total_seconds() / 86400, 2),
                }
            )
            async for doc in cursor
        ]
        return paging.of(total, items)
