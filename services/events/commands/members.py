"""What members ask for over HTTP: each command loads what it decides on from the projection,
lets the domain decide (rules and authorization) and publishes the event the domain returns.

The projection is updated only by consuming the topics, the service's own included ("listen to
yourself", docs/architecture.md#how-events-flow), so a command returns the event it published;
callers may wait until the projection shows it.
"""

from datetime import datetime
from typing import Protocol

from services.events.domain import community as communities
from services.events.domain import member as members
from services.events.domain import session as sessions
from services.events.domain.actor import Actor
from services.events.domain.chat import ChatAccount, ChatChannelRef, ChatLink
from services.events.domain.topic import TopicState
from shared.events.catalog import (
    Charter,
    CommunityCreated,
    EventData,
    FeedbackSubmittedFields,
    MemberChatLinked,
    MemberChatUnlinked,
    MemberProfileUpdated,
    Role,
    SessionScheduled,
    Stage,
)
from shared.events.envelope import CloudEvent, utc_now
from shared.kafka import Emitter
from shared.waiting import wait_until

SOURCE = "cop/events"


class CommandStates(Protocol):
    """What commands read to decide: the projection (`EventsProjection`), or an in-memory stand-in
    in a unit test."""

    async def was_applied(self, event_id: str) -> bool: ...
    async def community_state(self, community_id: str) -> communities.CommunityState | None: ...
    async def session_state(self, session_id: str) -> sessions.SessionState | None: ...
    async def action_item_state(self, action_item_id: str) -> sessions.ActionItemState | None: ...
    async def member_known(self, member_id: str) -> bool: ...
    async def chat_link(self, account: ChatAccount) -> ChatLink | None: ...
    async def topic_state(self, topic_id: str) -> TopicState | None: ...


class EventsCommands:
    def __init__(self, bus: Emitter, projection: CommandStates) -> None:
        self._bus = bus
        self.projection = projection

    async def _publish(self, data: EventData) -> CloudEvent:
        return await self._bus.emit(data, source=SOURCE)

    async def wait_applied(self, event_id: str, timeout_s: float = 10.0) -> bool:
        return await wait_until(lambda: self.projection.was_applied(event_id), timeout_s=timeout_s)

    # --- loading what a command decides on ---

    async def _community(self, community_id: str) -> communities.CommunityState:
        state = await self.projection.community_state(community_id)
        return communities.require(state, community_id)

    async def _session_or_none(self, session_id: str) -> sessions.SessionState | None:
        return await self.projection.session_state(session_id)

    async def _session(
        self, session_id: str
    ) -> tuple[sessions.SessionState, communities.CommunityState | None]:
        """The session and its community (None if not known here: then only admins steward)."""
        session = sessions.require(await self._session_or_none(session_id), session_id)
        return session, await self.projection.community_state(session.community_id)

    # --- communities and members ---

    async def create_community(self, data: CommunityCreated) -> CloudEvent:
        existing = await self.projection.community_state(data.community_id)
        return await self._publish(communities.create(existing, data))

    async def update_community(
        self,
        community_id: str,
        actor: Actor,
        *,
        name: str | None = None,
        charter: Charter | None = None,
        stage: Stage | None = None,
    ) -> CloudEvent:
        state = await self._community(community_id)
        updated = communities.update(state, actor, name=name, charter=charter, stage=stage)
        return await self._publish(updated)

    async def change_leader(self, community_id: str, leader_id: str, actor: Actor) -> CloudEvent:
        state = await self._community(community_id)
        return await self._publish(communities.change_leader(state, leader_id, actor))

    async def join(self, community_id: str, member_id: str, role: Role, actor: Actor) -> CloudEvent:
        state = await self._community(community_id)
        return await self._publish(communities.join(state, member_id, role, actor))

    async def leave(self, community_id: str, member_id: str, actor: Actor) -> CloudEvent:
        state = await self._community(community_id)
        return await self._publish(communities.leave(state, member_id, actor))

    async def update_profile(self, profile: MemberProfileUpdated, actor: Actor) -> CloudEvent:
        return await self._publish(members.update_profile(profile, actor))

    # --- chat accounts and channels ---

    async def link_chat(self, link: MemberChatLinked, actor: Actor) -> CloudEvent:
        known = await self.projection.member_known(link.member_id)
        return await self._publish(members.link_chat(link, actor, member_known=known))

    async def unlink_chat(self, unlink: MemberChatUnlinked, actor: Actor) -> CloudEvent:
        account = ChatAccount(unlink.platform, unlink.workspace_id, unlink.user_id)
        held = await self.projection.chat_link(account)
        return await self._publish(members.unlink_chat(unlink, actor, held=held))

    async def map_chat_channel(
        self, community_id: str, channel: ChatChannelRef, channel_name: str | None, actor: Actor
    ) -> CloudEvent:
        state = await self._community(community_id)
        mapped = communities.map_chat_channel(
            state, actor, channel=channel, channel_name=channel_name
        )
        return await self._publish(mapped)

    # --- sessions ---

    async def schedule(self, data: SessionScheduled, actor: Actor) -> CloudEvent:
        community = await self._community(data.community_id)
        existing = await self._session_or_none(data.session_id)
        return await self._publish(sessions.schedule(community, existing, data, actor))

    async def reschedule(self, session_id: str, starts_at: datetime, actor: Actor) -> CloudEvent:
        session, community = await self._session(session_id)
        return await self._publish(sessions.reschedule(session, community, starts_at, actor))

    async def cancel(self, session_id: str, reason: str, actor: Actor) -> CloudEvent:
        session, community = await self._session(session_id)
        return await self._publish(sessions.cancel(session, community, reason, actor))

    async def check_in(self, session_id: str, member_id: str, actor: Actor) -> CloudEvent:
        session, community = await self._session(session_id)
        attended = sessions.check_in(session, community, member_id, actor, utc_now())
        return await self._publish(attended)

    async def hold(
        self, session_id: str, details: sessions.HoldDetails, actor: Actor
    ) -> CloudEvent:
        session, community = await self._session(session_id)
        # A session scheduled from a backlog topic credits the topic's proposer when held.
        topic = await self.projection.topic_state(session.topic_id) if session.topic_id else None
        proposer = topic.proposed_by if topic is not None else None
        held = sessions.hold(session, community, details, actor, topic_proposed_by=proposer)
        return await self._publish(held)

    async def submit_feedback(
        self, session_id: str, member_id: str, given: FeedbackSubmittedFields, actor: Actor
    ) -> CloudEvent:
        session = sessions.require(await self._session_or_none(session_id), session_id)
        feedback = sessions.submit_feedback(
            session,
            member_id,
            actor,
            rating=given.rating,
            plus=given.plus,
            delta=given.delta,
            applied=given.applied,
        )
        return await self._publish(feedback)

    # --- action items ---

    async def open_action_item(
        self,
        session_id: str,
        action_item_id: str,
        actor: Actor,
        *,
        title: str,
        owner_id: str,
        due: datetime | None = None,
    ) -> CloudEvent:
        session, community = await self._session(session_id)
        existing = await self.projection.action_item_state(action_item_id)
        opened = sessions.open_action_item(
            session,
            community,
            existing,
            actor,
            action_item_id=action_item_id,
            title=title,
            owner_id=owner_id,
            due=due,
        )
        return await self._publish(opened)

    async def close_action_item(
        self, action_item_id: str, outcome: str, actor: Actor
    ) -> CloudEvent:
        item = sessions.require_action_item(
            await self.projection.action_item_state(action_item_id),
            action_item_id,
        )
        session = await self._session_or_none(item.session_id) if item.session_id else None
        community = await self.projection.community_state(item.community_id)
        closed = sessions.close_action_item(item, session, community, outcome, actor)
        return await self._publish(closed)
