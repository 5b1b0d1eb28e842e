"""The events service's HTTP API: commands answer 202 with the event id, queries read the
projection. `?wait=true` on a command returns once the projection shows its event."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, HttpUrl

from services.events.adapters.queries import EventsQueries, SessionFilter
from services.events.domain.session import DEFAULT_AGENDA
from services.events.handlers import EventsHandlers, new_id
from shared.auth import Caller
from shared.events.catalog import (
    Charter,
    CommunityCreated,
    Id,
    MemberProfileUpdated,
    Role,
    SessionFormat,
    SessionScheduled,
    ShortText,
    Stage,
    Tag,
)
from shared.events.envelope import CloudEvent
from shared.http import Problem

Wait = Annotated[bool, Query(description="return once the projection shows the event")]
Page = Annotated[int, Query(ge=1, le=10_000)]
Size = Annotated[int, Query(ge=1, le=200)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(BaseModel):
    event_id: str
    type: str
    subject: str | None
    applied: bool = Field(description="true when the projection already shows it (wait=true)")


class CreateCommunity(CommunityCreated):
    """The event's data, except that the id may be left to the service."""

    community_id: Id | None = None  # type: ignore[assignment]


class UpdateCommunity(Body):
    name: ShortText | None = None
    charter: Charter | None = None
    stage: Stage | None = None


class ChangeLeader(Body):
    leader_id: Id


class Join(Body):
    member_id: Id
    role: Role = Role.MEMBER


class Profile(Body):
    name: ShortText
    email: EmailStr
    team: Annotated[str, Field(max_length=200)] = ""
    chat_handle: Annotated[str, Field(max_length=100)] = ""
    timezone: Annotated[str, Field(max_length=64)] = "UTC"


class Schedule(Body):
    session_id: Id | None = None
    title: ShortText
    format: SessionFormat
    starts_at: AwareDatetime
    duration_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 60
    location: Annotated[str, Field(max_length=500)] = ""
    facilitator_id: Id
    speaker_ids: list[Id] = []
    agenda: list[ShortText] = Field(default_factory=lambda: list(DEFAULT_AGENDA))
    tags: list[Tag] = []


class Reschedule(Body):
    starts_at: AwareDatetime


class Cancel(Body):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class CheckIn(Body):
    member_id: Id


class Hold(Body):
    attendee_ids: list[Id] = []
    facilitator_id: Id | None = None
    held_at: AwareDatetime | None = None
    duration_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None
    recording_url: HttpUrl | None = None


class Feedback(Body):
    rating: Annotated[int, Field(ge=1, le=5)]
    plus: Annotated[str, Field(max_length=4000)] = ""
    delta: Annotated[str, Field(max_length=4000)] = ""
    applied: bool = False


class OpenActionItem(Body):
    title: ShortText
    owner_id: Id
    due: AwareDatetime | None = None


class CloseActionItem(Body):
    outcome: Annotated[str, Field(min_length=1, max_length=2000)]


def router(
    handlers: EventsHandlers, queries: EventsQueries, auth: Callable[..., Awaitable[Caller]]
) -> APIRouter:
    """Every command needs a member's bearer token; members act only in their own name."""
    api = APIRouter(responses={401: {"description": "no valid bearer token"}})
    CallerDep = Annotated[Caller, Depends(auth)]
    accepted = {"status_code": status.HTTP_202_ACCEPTED}

    async def answer(event: CloudEvent, wait: bool) -> Accepted:
        applied = await handlers.wait_applied(event.id) if wait else False
        return Accepted(event_id=event.id, type=event.type, subject=event.subject, applied=applied)

    def found(doc: dict[str, Any] | None, what: str, key: str) -> dict[str, Any]:
        if doc is None:
            raise Problem(404, f"{what.capitalize()} not found", f"no {what} {key}")
        return doc

    # --- communities ---

    @api.post("/communities", tags=["communities"], **accepted)
    async def create_community(
        body: CreateCommunity, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        data = CommunityCreated(
            **{**body.model_dump(), "community_id": body.community_id or new_id("cop")}
        )
        return await answer(await handlers.create_community(data), wait)

    @api.get("/communities", tags=["communities"])
    async def list_communities(
        stage: Stage | None = None, page: Page = 1, size: Size = 50
    ) -> dict[str, Any]:
        return await queries.communities(
            stage=stage.value if stage else None, skip=(page - 1) * size, limit=size
        )

    @api.get("/communities/{community_id}", tags=["communities"])
    async def get_community(community_id: Id) -> dict[str, Any]:
        return found(await queries.community(community_id), "community", community_id)

    @api.patch("/communities/{community_id}", tags=["communities"], **accepted)
    async def update_community(
        community_id: Id, body: UpdateCommunity, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        if body.name is None and body.charter is None and body.stage is None:
            raise Problem(422, "Nothing to change", "give at least one of name, charter, stage")
        event = await handlers.update_community(
            community_id, name=body.name, charter=body.charter, stage=body.stage
        )
        return await answer(event, wait)

    @api.put("/communities/{community_id}/leader", tags=["communities"], **accepted)
    async def change_leader(
        community_id: Id, body: ChangeLeader, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await handlers.change_leader(community_id, body.leader_id), wait)

    @api.post("/communities/{community_id}/members", tags=["members"], **accepted)
    async def join(community_id: Id, body: Join, caller: CallerDep, wait: Wait = False) -> Accepted:
        caller.require_self(body.member_id, "join")
        return await answer(await handlers.join(community_id, body.member_id, body.role), wait)

    @api.delete("/communities/{community_id}/members/{member_id}", tags=["members"], **accepted)
    async def leave(
        community_id: Id, member_id: Id, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        caller.require_self(member_id, "leave")
        return await answer(await handlers.leave(community_id, member_id), wait)

    @api.get("/communities/{community_id}/members", tags=["members"])
    async def members(community_id: Id) -> list[dict[str, Any]]:
        found(await queries.community(community_id), "community", community_id)
        return await queries.memberships(community_id)

    @api.put("/members/{member_id}/profile", tags=["members"], **accepted)
    async def update_profile(
        member_id: Id, body: Profile, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        caller.require_self(member_id, "update the profile")
        event = await handlers.update_profile(
            MemberProfileUpdated(member_id=member_id, **body.model_dump())
        )
        return await answer(event, wait)

    @api.get("/members/{member_id}", tags=["members"])
    async def get_member(member_id: Id, caller: CallerDep) -> dict[str, Any]:
        return found(await queries.member(member_id), "member", member_id)

    # --- sessions ---

    @api.post("/communities/{community_id}/sessions", tags=["sessions"], **accepted)
    async def schedule(
        community_id: Id, body: Schedule, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        data = SessionScheduled(
            **{
                **body.model_dump(),
                "session_id": body.session_id or new_id("s"),
                "community_id": community_id,
            }
        )
        return await answer(await handlers.schedule(data), wait)

    @api.get("/communities/{community_id}/sessions", tags=["sessions"])
    async def list_sessions(
        community_id: Id,
        when: Literal["upcoming", "past"] = "upcoming",
        format: SessionFormat | None = None,
        starts_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        starts_to: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        page: Page = 1,
        size: Size = 20,
    ) -> dict[str, Any]:
        query = SessionFilter(
            community_id, when, format.value if format else None, starts_from, starts_to
        )
        result = await queries.sessions(query, skip=(page - 1) * size, limit=size)
        return {**result, "page": page, "size": size}

    @api.get("/sessions/{session_id}", tags=["sessions"])
    async def get_session(session_id: Id) -> dict[str, Any]:
        return found(await queries.session(session_id), "session", session_id)

    @api.post("/sessions/{session_id}/reschedule", tags=["sessions"], **accepted)
    async def reschedule(
        session_id: Id, body: Reschedule, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await handlers.reschedule(session_id, body.starts_at), wait)

    @api.post("/sessions/{session_id}/cancel", tags=["sessions"], **accepted)
    async def cancel(
        session_id: Id, body: Cancel, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await handlers.cancel(session_id, body.reason), wait)

    @api.post("/sessions/{session_id}/check-ins", tags=["sessions"], **accepted)
    async def check_in(
        session_id: Id, body: CheckIn, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        caller.require_self(body.member_id, "check in")
        return await answer(await handlers.check_in(session_id, body.member_id), wait)

    @api.post("/sessions/{session_id}/hold", tags=["sessions"], **accepted)
    async def hold(session_id: Id, body: Hold, caller: CallerDep, wait: Wait = False) -> Accepted:
        details = body.model_dump(mode="json", exclude_none=True)
        if body.held_at:
            details["held_at"] = body.held_at
        return await answer(await handlers.hold(session_id, **details), wait)

    @api.put("/sessions/{session_id}/feedback/{member_id}", tags=["feedback"], **accepted)
    async def feedback(
        session_id: Id, member_id: Id, body: Feedback, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        caller.require_self(member_id, "give feedback")
        event = await handlers.submit_feedback(session_id, member_id, **body.model_dump())
        return await answer(event, wait)

    @api.get("/sessions/{session_id}/feedback/{member_id}", tags=["feedback"])
    async def get_feedback(session_id: Id, member_id: Id) -> dict[str, Any]:
        doc = await queries.feedback(session_id, member_id)
        return found(doc, "feedback", f"{member_id} on {session_id}")

    @api.get("/communities/{community_id}/facilitators", tags=["sessions"])
    async def facilitator_rotation(
        community_id: Id, last: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> dict[str, Any]:
        return await queries.facilitator_rotation(community_id, last)

    # --- action items ---

    @api.post("/sessions/{session_id}/action-items", tags=["action items"], **accepted)
    async def open_action_item(
        session_id: Id, body: OpenActionItem, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        event = await handlers.open_action_item(session_id, body.title, body.owner_id, body.due)
        return await answer(event, wait)

    @api.post("/action-items/{action_item_id}/close", tags=["action items"], **accepted)
    async def close_action_item(
        action_item_id: Id, body: CloseActionItem, caller: CallerDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await handlers.close_action_item(action_item_id, body.outcome), wait)

    @api.get("/communities/{community_id}/action-items", tags=["action items"])
    async def open_action_items(community_id: Id) -> list[dict[str, Any]]:
        return await queries.open_action_items(community_id)

    return api
