"""Read models the events service's API answers from (the projection's collections).

Every query returns a typed model, so `/openapi.json` documents the answers too; the
projection's bookkeeping fields (`event_id`, `updated_at`, ...) stay out of them.
Lists answer `{total, page, size, items}`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING

from services.events.adapters.projection import (
    CHAT_IDENTITY_IDS,
    FEEDBACK_MEMBERS,
    ROSTER,
    EventsProjection,
    entries,
    feedback_id,
)
from services.events.domain.chat import (
    ChatAccount,
    ChatChannelRef,
    ChatLink,
    newest_named,
)
from services.events.domain.session import SessionStatus
from shared.documents import Doc
from shared.events.catalog import Charter, ChatPlatform, Role, SessionFormat, Stage

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


class CharterVersion(ReadModel):
    version: int = Field(description="1 for the charter the community was founded with")
    charter: Charter
    changed_by: str | None = Field(None, description="who set it, when the event says")
    changed_at: datetime
    event_id: str


class Membership(ReadModel):
    member_id: str
    role: Role
    joined_at: datetime | None = None


class PublicMemberProfile(ReadModel):
    """What every signed-in member may see of another member."""

    member_id: str
    name: str
    team: str = ""


class ChatIdentity(ReadModel):
    """A chat account (platform, workspace, user) and the member it is linked to."""

    member_id: str
    platform: ChatPlatform
    workspace_id: str
    user_id: str
    user_name: str | None = None

    @classmethod
    def of(cls, link: ChatLink) -> "ChatIdentity":
        account = link.account
        return cls(
            member_id=link.member_id,
            platform=account.platform,
            workspace_id=account.workspace_id,
            user_id=account.user_id,
            user_name=link.user_name,
        )


class ChatChannel(ReadModel):
    """A chat channel and the community it is mapped to."""

    community_id: str
    platform: ChatPlatform
    workspace_id: str
    channel_id: str
    channel_name: str | None = None


class MemberProfile(PublicMemberProfile):
    """The whole profile, personal data included: for the member themself and admins."""

    email: str
    chat_handle: str = ""
    timezone: str = "UTC"
    updated_at: datetime | None = None
    chat_identities: list[ChatIdentity] = Field(
        default=[], description="the chat accounts linked to the member"
    )

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
    """The session's feedback without names; the texts in alphabetical order, so that their
    order does not tell who wrote them."""

    count: int
    shown: bool = Field(
        True, description="false while too few gave feedback to show more than the count"
    )
    average_rating: float | None
    applied_count: int | None
    plus: list[str]
    delta: list[str]


class SessionDetail(Session):
    attendance: Attendance
    feedback: FeedbackSummary

    def feedback_withheld(self) -> "SessionDetail":
        """The session with only the number of feedbacks."""
        withheld = FeedbackSummary(
            count=self.feedback.count,
            shown=False,
            average_rating=None,
            applied_count=None,
            plus=[],
            delta=[],
        )
        return self.model_copy(update={"feedback": withheld})


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


def _page(paging: Paging, ordered: list[Doc]) -> list[Doc]:
    return ordered[paging.skip : paging.skip + paging.size]


def _roster(doc: Doc) -> list[Doc]:
    """Who belongs to the community, in the order they joined."""
    members = entries(doc, ROSTER).values()
    return sorted(members, key=lambda m: (m.get("joined_at") or _EPOCH, m["member_id"]))


def _listed(entry: Doc, f: SessionFilter, now: datetime) -> bool:
    """Whether a session of the community's index passes the filter (entries without a title
    are only known from a later fact that came first: not listed yet)."""
    if "title" not in entry:
        return False
    starts_at: datetime | None = entry.get("starts_at")
    status = entry.get("status", SessionStatus.SCHEDULED.value)
    if f.when == "upcoming":
        if status != SessionStatus.SCHEDULED.value or starts_at is None or starts_at < now:
            return False
    # Held, or its time has passed: a cancelled session is past only once its time is.
    elif status != SessionStatus.HELD.value and (starts_at is None or starts_at >= now):
        return False
    if f.format and entry.get("format") != f.format.value:
        return False
    if f.starts_from or f.starts_to:
        if starts_at is None:
            return False
        if f.starts_from and starts_at < f.starts_from:
            return False
        if f.starts_to and starts_at >= f.starts_to:
            return False
    return True


class EventsQueries:
    """Each answer reads one community's aggregate by `_id`, filters, sorts and pages it here
    (it is bounded by the community's members and sessions), then fetches the page's documents
    by `_id`. Only the list of communities searches a collection, and it does not grow with
    history."""

    def __init__(self, projection: EventsProjection) -> None:
        self._p = projection

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
        items = [_community(doc) async for doc in cursor]
        return paging.of(total, items)

    async def community(self, community_id: str) -> Community | None:
        doc = await self._p.community(community_id)
        return _community(doc) if doc is not None else None

    async def charter_history(self, community_id: str, paging: Paging) -> Page[CharterVersion]:
        versions = [
            CharterVersion(
                version=number,
                charter=Charter.model_validate(v["charter"]),
                changed_by=v.get("by"),
                changed_at=v["at"],
                event_id=v["event_id"],
            )
            for number, v in enumerate(await self._p.charters(community_id), start=1)
        ]
        versions.reverse()
        return paging.of(len(versions), versions[paging.skip : paging.skip + paging.size])

    async def memberships(self, community_id: str, paging: Paging) -> Page[Membership]:
        roster = _roster(await self._p.community(community_id) or {})
        items = [Membership.model_validate(m) for m in _page(paging, roster)]
        return paging.of(len(roster), items)

    async def member(self, member_id: str) -> MemberProfile | None:
        doc = await self._p.members.find_one({"_id": member_id})
        if doc is None or "name" not in doc:
            return None
        # The accounts ever linked to the member, those they still hold.
        links = await self._p.chat_links(doc.get(CHAT_IDENTITY_IDS, []))
        held = [ChatIdentity.of(link) for link in links if link.member_id == member_id]
        return MemberProfile.model_validate({**_public(doc, "member_id"), "chat_identities": held})

    async def chat_identity(self, account: ChatAccount) -> ChatIdentity | None:
        link = await self._p.chat_link(account)
        return ChatIdentity.of(link) if link is not None else None

    async def chat_identity_named(
        self, platform: ChatPlatform, workspace_id: str, user_name: str
    ) -> ChatIdentity | None:
        links = await self._p.chat_links_named(platform, workspace_id, user_name)
        link = newest_named(links, user_name)
        return ChatIdentity.of(link) if link is not None else None

    async def chat_channel(self, channel: ChatChannelRef) -> ChatChannel | None:
        mapping = await self._p.chat_channel(channel)
        if mapping is None:
            return None
        return ChatChannel(
            community_id=mapping.community_id,
            platform=channel.platform,
            workspace_id=channel.workspace_id,
            channel_id=channel.channel_id,
            channel_name=mapping.channel_name,
        )

    async def sessions(self, f: SessionFilter, paging: Paging) -> Page[Session]:
        now = datetime.now(UTC)
        index = await self._p.session_index(f.community_id)
        listed = [s for s in index.sessions if _listed(s, f, now)]
        if f.when == "upcoming":
            listed.sort(key=lambda s: (s["starts_at"], s["session_id"]))
        else:  # latest first; sessions known only from their holding (no start) last
            listed.sort(key=lambda s: (s.get("starts_at") or _EPOCH, s["session_id"]))
            listed.reverse()
        page = [s["session_id"] for s in _page(paging, listed)]
        docs = await self._p.by_ids(self._p.sessions, page)
        items = [Session.model_validate(_public(d, "session_id")) for d in docs]
        return paging.of(len(listed), items)

    async def session(self, session_id: str) -> SessionDetail | None:
        doc = await self._p.sessions.find_one({"_id": session_id})
        if doc is None or "title" not in doc:  # unknown, or only a later fact arrived yet
            return None
        given = [feedback_id(session_id, m) for m in doc.get(FEEDBACK_MEMBERS, [])]
        feedback = await self._p.by_ids(self._p.feedback, given)
        ratings = [int(f["rating"]) for f in feedback]
        attendance = Attendance(
            checked_in=len(doc.get("checked_in_ids", [])),
            attended=len(doc.get("attendee_ids", [])),
        )
        summary = FeedbackSummary(
            count=len(feedback),
            average_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
            applied_count=sum(1 for f in feedback if f.get("applied")),
            plus=sorted(f["plus"] for f in feedback if f.get("plus")),
            delta=sorted(f["delta"] for f in feedback if f.get("delta")),
        )
        return SessionDetail.model_validate(
            {**_public(doc, "session_id"), "attendance": attendance, "feedback": summary}
        )

    async def feedback(self, session_id: str, member_id: str) -> Feedback | None:
        doc = await self._p.feedback.find_one({"_id": feedback_id(session_id, member_id)})
        return Feedback.model_validate(doc) if doc else None

    async def facilitator_rotation(self, community_id: str, last: int) -> FacilitatorRotation:
        index = await self._p.session_index(community_id)
        held = [
            s
            for s in index.sessions
            if s.get("status") == SessionStatus.HELD.value and s.get("held_at") is not None
        ]
        held.sort(key=lambda s: (s["held_at"], s["session_id"]), reverse=True)
        sessions = [Facilitation.model_validate(s) for s in held[:last]]
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
        index = await self._p.session_index(community_id)
        open_ = [a for a in index.action_items if a.get("open") and "opened_at" in a]
        open_.sort(key=lambda a: (a["opened_at"], a["action_item_id"]))
        page = [a["action_item_id"] for a in _page(paging, open_)]
        docs = await self._p.by_ids(self._p.action_items, page)
        items = [
            ActionItem.model_validate(
                {
                    **_public(doc, "action_item_id"),
                    "age_days": round((now - doc["opened_at"]).total_seconds() / 86400, 2),
                }
            )
            for doc in docs
        ]
        return paging.of(len(open_), items)


def _community(doc: Doc) -> Community:
    members = len(entries(doc, ROSTER))
    return Community.model_validate({**_public(doc, "community_id"), "member_count": members})
