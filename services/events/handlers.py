"""The events service's use cases: each command checks the projection, then publishes its event.

The projection is updated only by consuming the topics (DESIGN §1, "listen to yourself"), so a
command returns the event it published; callers may wait until the projection shows it.
"""

import uuid
from datetime import datetime
from typing import Any

from services.events.adapters.projection import EventsProjection
from services.events.domain import community as communities
from services.events.domain import session as sessions
from services.events.domain.errors import NotFound, Refused
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    AttendanceRecorded,
    Charter,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    EventData,
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
from shared.events.envelope import CloudEvent, new_event, utc_now
from shared.kafka import EventBus
from shared.waiting import wait_until

SOURCE = "cop/events"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class EventsHandlers:
    def __init__(self, bus: EventBus, projection: EventsProjection) -> None:
        self._bus = bus
        self.projection = projection

    async def _publish(self, data: EventData) -> CloudEvent:
        event = new_event(data, source=SOURCE)
        await self._bus.publish(event)
        return event

    async def wait_applied(self, event_id: str, timeout_s: float = 10.0) -> bool:
        return await wait_until(lambda: self.projection.was_applied(event_id), timeout_s=timeout_s)

    # --- communities and members ---

    async def _community(self, community_id: str) -> communities.CommunityState:
        state = await self.projection.community_state(community_id)
        return communities.require(state, community_id)

    async def create_community(self, data: CommunityCreated) -> CloudEvent:
        if await self.projection.community_state(data.community_id) is not None:
            raise Refused("community_exists", f"community {data.community_id} already exists")
        return await self._publish(data)

    async def update_community(
        self, community_id: str, *, name: str | None, charter: Charter | None, stage: Stage | None
    ) -> CloudEvent:
        state = await self._community(community_id)
        if stage is not None:
            communities.check_stage_change(state, stage)
        return await self._publish(
            CommunityUpdated(community_id=community_id, name=name, charter=charter, stage=stage)
        )

    async def change_leader(self, community_id: str, leader_id: str) -> CloudEvent:
        state = await self._community(community_id)
        communities.check_leader_change(state, leader_id)
        return await self._publish(
            CommunityLeaderChanged(
                community_id=community_id, leader_id=leader_id, previous_leader_id=state.leader_id
            )
        )

    async def join(self, community_id: str, member_id: str, role: Role) -> CloudEvent:
        state = await self._community(community_id)
        communities.check_join(state, member_id)
        return await self._publish(
            MemberJoined(community_id=community_id, member_id=member_id, role=role)
        )

    async def leave(self, community_id: str, member_id: str) -> CloudEvent:
        state = await self._community(community_id)
        role = communities.check_leave(state, member_id)
        return await self._publish(
            MemberLeft(community_id=community_id, member_id=member_id, role=role)
        )

    async def update_profile(self, profile: MemberProfileUpdated) -> CloudEvent:
        return await self._publish(profile)

    # --- sessions ---

    async def _session(self, session_id: str) -> sessions.SessionState:
        return sessions.require(await self.projection.session_state(session_id), session_id)

    async def schedule(self, data: SessionScheduled) -> CloudEvent:
        await self._community(data.community_id)
        if await self.projection.session_state(data.session_id) is not None:
            raise Refused("session_exists", f"session {data.session_id} exists")
        return await self._publish(data)

    async def reschedule(self, session_id: str, starts_at: datetime) -> CloudEvent:
        state = await self._session(session_id)
        sessions.check_reschedule(state)
        return await self._publish(
            SessionRescheduled(
                session_id=session_id, community_id=state.community_id, starts_at=starts_at
            )
        )

    async def cancel(self, session_id: str, reason: str) -> CloudEvent:
        state = await self._session(session_id)
        sessions.check_cancel(state)
        return await self._publish(
            SessionCancelled(session_id=session_id, community_id=state.community_id, reason=reason)
        )

    async def check_in(self, session_id: str, member_id: str) -> CloudEvent:
        state = await self._session(session_id)
        sessions.check_check_in(state)
        return await self._publish(
            AttendanceRecorded(
                session_id=session_id,
                community_id=state.community_id,
                member_id=member_id,
                checked_in_at=utc_now(),
            )
        )

    async def hold(self, session_id: str, **details: Any) -> CloudEvent:
        state = await self._session(session_id)
        sessions.check_hold(state)
        doc = await self.projection.session_details(session_id)
        assert doc is not None
        held = SessionHeld(
            session_id=session_id,
            community_id=state.community_id,
            held_at=details.get("held_at") or doc["starts_at"],
            duration_minutes=details.get("duration_minutes") or doc["duration_minutes"],
            format=doc["format"],
            title=doc["title"],
            facilitator_id=details.get("facilitator_id") or doc["facilitator_id"],
            speaker_ids=doc.get("speaker_ids", []),
            attendee_ids=sessions.attendees_when_held(state, details.get("attendee_ids") or []),
            recording_url=details.get("recording_url"),
        )
        return await self._publish(held)

    async def submit_feedback(self, session_id: str, member_id: str, **feedback: Any) -> CloudEvent:
        state = await self._session(session_id)
        sessions.check_feedback(state, member_id)
        return await self._publish(
            FeedbackSubmitted(
                session_id=session_id,
                community_id=state.community_id,
                member_id=member_id,
                **feedback,
            )
        )

    # --- action items ---

    async def open_action_item(
        self, session_id: str, title: str, owner_id: str, due: datetime | None
    ) -> CloudEvent:
        state = await self._session(session_id)
        return await self._publish(
            ActionItemOpened(
                action_item_id=new_id("ai"),
                community_id=state.community_id,
                session_id=session_id,
                title=title,
                owner_id=owner_id,
                due=due,
            )
        )

    async def close_action_item(self, action_item_id: str, outcome: str) -> CloudEvent:
        state = sessions.check_close(
            await self.projection.action_item_state(action_item_id), action_item_id
        )
        doc = await self.projection.action_item_details(action_item_id)
        if doc is None:
            raise NotFound("action_item_not_found", f"no action item {action_item_id}")
        return await self._publish(
            ActionItemClosed(
                action_item_id=action_item_id,
                community_id=state.community_id,
                session_id=doc.get("session_id"),
                title=doc["title"],
                owner_id=doc["owner_id"],
                outcome=outcome,
            )
        )
