"""The events service's HTTP API: commands answer 202 with the event id, queries read the
projection. `?wait=true` on a command returns once the projection shows its event.

Request bodies are the catalog's event models without what the path or the service supplies;
who may do what is decided in the domain, from the caller's token.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, status
from pydantic import Field, HttpUrl

from services.events.commands.members import EventsCommands
from services.events.domain import ids
from services.events.domain.actor import Actor
from services.events.domain.chat import ChatAccount, ChatChannelRef
from services.events.domain.member import require_reads_chat_links, sees_personal_data
from services.events.domain.session import HoldDetails, sees_feedback_summary
from services.events.entrypoints.dependencies import (
    AUTH_RESPONSES,
    Accepted,
    RouteDependencies,
    Wait,
)
from services.events.queries.communities import (
    ActionItem,
    CharterVersion,
    ChatChannel,
    ChatIdentity,
    Community,
    EventsQueries,
    FacilitatorRotation,
    Feedback,
    MemberProfile,
    Membership,
    Page,
    Paging,
    PublicMemberProfile,
    Session,
    SessionDetail,
    SessionFilter,
)
from shared.auth import Caller
from shared.events.catalog import (
    ActionItemClosed,
    AttendeeIds,
    ChatPlatform,
    CommunityCreated,
    CommunityCreatedFields,
    CommunityUpdatedFields,
    FeedbackSubmittedFields,
    Id,
    Instant,
    MemberChatLinked,
    MemberChatLinkedFields,
    MemberChatUnlinked,
    MemberProfileUpdated,
    MemberProfileUpdatedFields,
    Role,
    SessionCancelled,
    SessionFormat,
    SessionHeld,
    SessionScheduled,
    SessionScheduledFields,
    ShortText,
    Stage,
)
from shared.events.envelope import CloudEvent
from shared.http import Body, NotInBody, Problem, like
from shared.idempotency import Once

PageNumber = Annotated[int, Query(ge=1, le=10_000)]
Size = Annotated[int, Query(ge=1, le=200)]
T = TypeVar("T")


class CreateCommunity(CommunityCreatedFields):
    """The event's data; the id may be left to the service."""

    community_id: Id | None = None
    created_by: NotInBody = None


class UpdateCommunity(CommunityUpdatedFields):
    """At least one of name, charter and stage."""

    community_id: NotInBody = None
    updated_by: NotInBody = None


class ChangeLeader(Body):
    """The new leader; the previous one is the current leader."""

    community_id: NotInBody = None
    leader_id: Id
    previous_leader_id: NotInBody = None


class Join(Body):
    """Who joins, with which role."""

    community_id: NotInBody = None
    member_id: Id
    role: Role = Role.MEMBER


class Profile(MemberProfileUpdatedFields):
    """The member's directory profile."""

    member_id: NotInBody = None


class LinkChatIdentity(MemberChatLinkedFields):
    """The chat account to link, with the member's name there if the platform gave one."""

    member_id: NotInBody = None


class MapChatChannel(Body):
    """The channel's name, if the platform gave one; the channel is in the path."""

    community_id: NotInBody = None
    platform: NotInBody = None
    workspace_id: NotInBody = None
    channel_id: NotInBody = None
    channel_name: ShortText | None = None
    mapped_by: NotInBody = None


class Schedule(SessionScheduledFields):
    """The session; the id may be left to the service, the agenda to the default one."""

    session_id: Id | None = None
    community_id: NotInBody = None
    duration_minutes: Annotated[int, like(SessionScheduled, "duration_minutes")] = 60
    topic_id: NotInBody = None  # a topic becomes a session through `/topics/{id}/schedule`
    voter_ids: NotInBody = None


class Reschedule(Body):
    """The new start."""

    session_id: NotInBody = None
    community_id: NotInBody = None
    starts_at: Instant


class Cancel(Body):
    """Why the session is cancelled."""

    session_id: NotInBody = None
    community_id: NotInBody = None
    reason: Annotated[str, like(SessionCancelled, "reason")]


class CheckIn(Body):
    """Who checks in (now)."""

    session_id: NotInBody = None
    community_id: NotInBody = None
    member_id: Id
    checked_in_at: NotInBody = None


HeldAt = Annotated[datetime, like(SessionHeld, "held_at")]
HeldMinutes = Annotated[int, like(SessionHeld, "duration_minutes")]


class Hold(Body):
    """What happened; what is left out comes from the schedule (and earlier check-ins)."""

    session_id: NotInBody = None
    community_id: NotInBody = None
    held_at: HeldAt | None = None
    duration_minutes: HeldMinutes | None = None
    format: NotInBody = None
    title: NotInBody = None
    facilitator_id: Id | None = None
    speaker_ids: NotInBody = None
    attendee_ids: AttendeeIds = Field(default=[])  # ruff cannot tell that Body is pydantic's
    recording_url: HttpUrl | None = None
    topic_id: NotInBody = None
    topic_proposed_by: NotInBody = None


class GiveFeedback(FeedbackSubmittedFields):
    """A rating with what worked (plus) and what to change (delta)."""

    session_id: NotInBody = None
    community_id: NotInBody = None
    member_id: NotInBody = None


class OpenActionItem(Body):
    """The follow-up; the id may be left to the service."""

    action_item_id: Id | None = None
    community_id: NotInBody = None
    session_id: NotInBody = None
    title: ShortText
    owner_id: Id
    due: Instant | None = None


class CloseActionItem(Body):
    """What came of it."""

    action_item_id: NotInBody = None
    community_id: NotInBody = None
    session_id: NotInBody = None
    title: NotInBody = None
    owner_id: NotInBody = None
    outcome: Annotated[str, like(ActionItemClosed, "outcome")]


def router(
    commands: EventsCommands,
    queries: EventsQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
    *,
    feedback_min_count: int = 3,
) -> APIRouter:
    """Every command needs a member's bearer token; the domain decides who may do what.
    Commands that create something take `Idempotency-Key`; a session's feedback summary is
    shown from `feedback_min_count` feedbacks on (to its runners always)."""
    api = APIRouter(responses=AUTH_RESPONSES)
    dependencies = RouteDependencies(auth, idempotent, commands)
    ActorDep = Annotated[Actor, dependencies.actor]
    OnceDep = Annotated[Once, dependencies.once]
    ViewerDep = Annotated[Actor | None, dependencies.viewer]
    answer = dependencies.answer
    accepted: dict[str, Any] = {
        "status_code": status.HTTP_202_ACCEPTED,
        "responses": {
            404: {"description": "unknown community, session or action item"},
            409: {"description": "the current state does not allow it (problem+json, `code`)"},
        },
    }

    async def answer_to(command: Awaitable[CloudEvent], wait: bool) -> Accepted:
        return await answer(await command, wait)

    def found(doc: T | None, what: str, key: str) -> T:
        if doc is None:
            raise Problem(404, f"{what.capitalize()} not found", f"no {what} {key}")
        return doc

    # --- communities ---

    @api.post("/communities", tags=["communities"], **accepted)
    async def create_community(
        body: CreateCommunity, actor: ActorDep, once: OnceDep, wait: Wait = False
    ) -> Accepted:
        community_id = body.community_id or ids.new_community_id()
        data = CommunityCreated.model_validate(
            {**body.model_dump(), "community_id": community_id, "created_by": actor.member_id}
        )
        return await once(Accepted, lambda: answer_to(commands.create_community(data), wait))

    @api.get("/communities", tags=["communities"])
    async def list_communities(
        stage: Stage | None = None, page: PageNumber = 1, size: Size = 50
    ) -> Page[Community]:
        return await queries.communities(stage=stage, paging=Paging(page, size))

    @api.get("/communities/{community_id}", tags=["communities"])
    async def get_community(community_id: Id) -> Community:
        return found(await queries.community(community_id), "community", community_id)

    @api.get(
        "/communities/{community_id}/charter/history",
        tags=["communities"],
        description="Every version of the community's charter (its vision canvas and goals "
        "included), the latest first, with who set it and when.",
        responses={404: {"description": "unknown community"}},
    )
    async def charter_history(
        community_id: Id, page: PageNumber = 1, size: Size = 50
    ) -> Page[CharterVersion]:
        found(await queries.community(community_id), "community", community_id)
        return await queries.charter_history(community_id, Paging(page, size))

    @api.patch(
        "/communities/{community_id}",
        tags=["communities"],
        description="Changes the name or stage (the leader, core members, admins) or the "
        "charter, with its vision canvas and goals (the leader, admins).",
        **accepted,
    )
    async def update_community(
        community_id: Id, body: UpdateCommunity, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        event = await commands.update_community(
            community_id, actor, name=body.name, charter=body.charter, stage=body.stage
        )
        return await answer(event, wait)

    @api.put("/communities/{community_id}/leader", tags=["communities"], **accepted)
    async def change_leader(
        community_id: Id, body: ChangeLeader, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.change_leader(community_id, body.leader_id, actor), wait)

    @api.post("/communities/{community_id}/members", tags=["members"], **accepted)
    async def join(community_id: Id, body: Join, actor: ActorDep, wait: Wait = False) -> Accepted:
        event = await commands.join(community_id, body.member_id, body.role, actor)
        return await answer(event, wait)

    @api.delete("/communities/{community_id}/members/{member_id}", tags=["members"], **accepted)
    async def leave(
        community_id: Id, member_id: Id, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.leave(community_id, member_id, actor), wait)

    @api.get("/communities/{community_id}/members", tags=["members"])
    async def members(community_id: Id, page: PageNumber = 1, size: Size = 50) -> Page[Membership]:
        found(await queries.community(community_id), "community", community_id)
        return await queries.memberships(community_id, Paging(page, size))

    @api.put("/members/{member_id}/profile", tags=["members"], **accepted)
    async def update_profile(
        member_id: Id, body: Profile, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        profile = MemberProfileUpdated.model_validate({**body.model_dump(), "member_id": member_id})
        return await answer(await commands.update_profile(profile, actor), wait)

    @api.get(
        "/members/{member_id}",
        tags=["members"],
        description="The whole profile, with the chat accounts linked to the member, to the "
        "member themself and admins; the public profile (name, team) to everyone else.",
    )
    async def get_member(member_id: Id, actor: ActorDep) -> MemberProfile | PublicMemberProfile:
        profile = found(await queries.member(member_id), "member", member_id)
        return profile if sees_personal_data(actor, member_id) else profile.public()

    # --- chat accounts and channels ---

    @api.put(
        "/members/{member_id}/chat-identities",
        tags=["chat"],
        description="Links a chat account to the member, moving it from any member who had it. "
        "Admins only: the web edge calls it once it has verified both the member's sign-in and "
        "the signed link the chat user was given.",
        **accepted,
    )
    async def link_chat_identity(
        member_id: Id, body: LinkChatIdentity, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        link = MemberChatLinked.model_validate({**body.model_dump(), "member_id": member_id})
        return await answer(await commands.link_chat(link, actor), wait)

    @api.delete(
        "/members/{member_id}/chat-identities/{platform}/{workspace_id}/{user_id}",
        tags=["chat"],
        description="Unlinks a chat account from the member (the member themself or an admin); "
        "404 when it is not linked to them.",
        **accepted,
    )
    async def unlink_chat_identity(
        member_id: Id,
        platform: ChatPlatform,
        workspace_id: Id,
        user_id: Id,
        actor: ActorDep,
        wait: Wait = False,
    ) -> Accepted:
        unlink = MemberChatUnlinked(
            member_id=member_id, platform=platform, workspace_id=workspace_id, user_id=user_id
        )
        return await answer(await commands.unlink_chat(unlink, actor), wait)

    @api.get(
        "/chat-identities/{platform}/{workspace_id}/{user_id}",
        tags=["chat"],
        description="The member a chat account is linked to (admins only).",
        responses={404: {"description": "the account is not linked"}},
    )
    async def get_chat_identity(
        platform: ChatPlatform, workspace_id: Id, user_id: Id, actor: ActorDep
    ) -> ChatIdentity:
        require_reads_chat_links(actor)
        account = ChatAccount(platform, workspace_id, user_id)
        key = f"{platform.value} {workspace_id} {user_id}"
        return found(await queries.chat_identity(account), "linked chat account", key)

    @api.get(
        "/chat-identities/{platform}/{workspace_id}/by-name/{user_name}",
        tags=["chat"],
        description="The member a chat account is linked to, found by the account's user name "
        "in the workspace (case-insensitive, a leading `@` ignored; admins only). When several "
        "linked accounts went by the name, the one linked last under it.",
        responses={404: {"description": "no linked account goes by the name"}},
    )
    async def get_chat_identity_by_name(
        platform: ChatPlatform, workspace_id: Id, user_name: ShortText, actor: ActorDep
    ) -> ChatIdentity:
        require_reads_chat_links(actor)
        named = await queries.chat_identity_named(platform, workspace_id, user_name)
        return found(named, "linked chat account", f"{platform.value} {workspace_id} {user_name}")

    @api.put(
        "/communities/{community_id}/chat-channels/{platform}/{workspace_id}/{channel_id}",
        tags=["chat"],
        description="Maps a chat channel to the community (its leader or an admin); a channel "
        "mapped to another community before moves here.",
        **accepted,
    )
    async def map_chat_channel(
        community_id: Id,
        platform: ChatPlatform,
        workspace_id: Id,
        channel_id: Id,
        actor: ActorDep,
        body: MapChatChannel | None = None,
        wait: Wait = False,
    ) -> Accepted:
        channel = ChatChannelRef(platform, workspace_id, channel_id)
        name = body.channel_name if body is not None else None
        return await answer(
            await commands.map_chat_channel(community_id, channel, name, actor), wait
        )

    @api.get(
        "/chat-channels/{platform}/{workspace_id}/{channel_id}",
        tags=["chat"],
        description="The community a chat channel is mapped to.",
        responses={404: {"description": "the channel is not mapped"}},
    )
    async def get_chat_channel(
        platform: ChatPlatform, workspace_id: Id, channel_id: Id, actor: ActorDep
    ) -> ChatChannel:
        channel = ChatChannelRef(platform, workspace_id, channel_id)
        key = f"{platform.value} {workspace_id} {channel_id}"
        return found(await queries.chat_channel(channel), "mapped chat channel", key)

    # --- sessions ---

    @api.post("/communities/{community_id}/sessions", tags=["sessions"], **accepted)
    async def schedule(
        community_id: Id, body: Schedule, actor: ActorDep, once: OnceDep, wait: Wait = False
    ) -> Accepted:
        data = SessionScheduled.model_validate(
            {
                **body.model_dump(),
                "session_id": body.session_id or ids.new_session_id(),
                "community_id": community_id,
            }
        )
        return await once(Accepted, lambda: answer_to(commands.schedule(data, actor), wait))

    @api.get("/communities/{community_id}/sessions", tags=["sessions"])
    async def list_sessions(
        community_id: Id,
        when: Literal["upcoming", "past"] = "upcoming",
        format: SessionFormat | None = None,
        starts_from: Annotated[Instant | None, Query(alias="from")] = None,
        starts_to: Annotated[Instant | None, Query(alias="to")] = None,
        page: PageNumber = 1,
        size: Size = 20,
    ) -> Page[Session]:
        query = SessionFilter(community_id, when, format, starts_from, starts_to)
        return await queries.sessions(query, Paging(page, size))

    @api.get(
        "/sessions/{session_id}",
        tags=["sessions"],
        description="The session with its attendance and feedback summary. The summary "
        f"(average, counts, texts without names) is shown to anyone from {feedback_min_count} "
        "feedbacks on; before that only to the session's facilitator, the community's leader "
        "and admins (a token is optional): others see the count, with `shown: false`.",
    )
    async def get_session(session_id: Id, viewer: ViewerDep) -> SessionDetail:
        detail = found(await queries.session(session_id), "session", session_id)
        few = viewer is not None and detail.feedback.count < feedback_min_count
        community = await queries.community(detail.community_id) if few else None
        if sees_feedback_summary(
            viewer,
            facilitator_id=detail.facilitator_id,
            leader_id=community.leader_id if community else None,
            given=detail.feedback.count,
            minimum=feedback_min_count,
        ):
            return detail
        return detail.feedback_withheld()

    @api.post("/sessions/{session_id}/reschedule", tags=["sessions"], **accepted)
    async def reschedule(
        session_id: Id, body: Reschedule, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.reschedule(session_id, body.starts_at, actor), wait)

    @api.post("/sessions/{session_id}/cancel", tags=["sessions"], **accepted)
    async def cancel(session_id: Id, body: Cancel, actor: ActorDep, wait: Wait = False) -> Accepted:
        return await answer(await commands.cancel(session_id, body.reason, actor), wait)

    @api.post("/sessions/{session_id}/check-ins", tags=["sessions"], **accepted)
    async def check_in(
        session_id: Id, body: CheckIn, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        return await answer(await commands.check_in(session_id, body.member_id, actor), wait)

    @api.post("/sessions/{session_id}/hold", tags=["sessions"], **accepted)
    async def hold(session_id: Id, body: Hold, actor: ActorDep, wait: Wait = False) -> Accepted:
        details = HoldDetails(
            attendee_ids=tuple(body.attendee_ids),
            facilitator_id=body.facilitator_id,
            held_at=body.held_at,
            duration_minutes=body.duration_minutes,
            recording_url=body.recording_url,
        )
        return await answer(await commands.hold(session_id, details, actor), wait)

    @api.put("/sessions/{session_id}/feedback/{member_id}", tags=["feedback"], **accepted)
    async def feedback(
        session_id: Id, member_id: Id, body: GiveFeedback, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        event = await commands.submit_feedback(session_id, member_id, body, actor)
        return await answer(event, wait)

    @api.get(
        "/sessions/{session_id}/feedback/{member_id}",
        tags=["feedback"],
        description="One member's feedback, to the member themself and admins; the session's "
        "feedback summary without names is on `GET /sessions/{id}`.",
        responses={403: {"description": "someone else's feedback"}},
    )
    async def get_feedback(session_id: Id, member_id: Id, actor: ActorDep) -> Feedback:
        if not sees_personal_data(actor, member_id):
            raise Problem(
                403,
                "Not your feedback",
                f"{actor.member_id} cannot read {member_id}'s feedback",
                type_="urn:cop:problem:auth:not-self",
            )
        doc = await queries.feedback(session_id, member_id)
        return found(doc, "feedback", f"{member_id} on {session_id}")

    @api.get("/communities/{community_id}/facilitators", tags=["sessions"])
    async def facilitator_rotation(
        community_id: Id, last: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> FacilitatorRotation:
        return await queries.facilitator_rotation(community_id, last)

    # --- action items ---

    @api.post("/sessions/{session_id}/action-items", tags=["action items"], **accepted)
    async def open_action_item(
        session_id: Id, body: OpenActionItem, actor: ActorDep, once: OnceDep, wait: Wait = False
    ) -> Accepted:

        async def open_it() -> Accepted:
            event = await commands.open_action_item(
                session_id,
                body.action_item_id or ids.new_action_item_id(),
                actor,
                title=body.title,
                owner_id=body.owner_id,
                due=body.due,
            )
            return await answer(event, wait)

        return await once(Accepted, open_it)

    @api.post("/action-items/{action_item_id}/close", tags=["action items"], **accepted)
    async def close_action_item(
        action_item_id: Id, body: CloseActionItem, actor: ActorDep, wait: Wait = False
    ) -> Accepted:
        event = await commands.close_action_item(action_item_id, body.outcome, actor)
        return await answer(event, wait)

    @api.get("/communities/{community_id}/action-items", tags=["action items"])
    async def open_action_items(
        community_id: Id, page: PageNumber = 1, size: Size = 50
    ) -> Page[ActionItem]:
        """The community's open action items, oldest first, with their age in days."""
        return await queries.open_action_items(community_id, Paging(page, size))

    return api
