"""How the events service applies its own topics: one handler per event type, listed at the end.

Handlers receive the typed event and say what changes through the projection's unit of work;
the unit of work only stages and writes. Besides each session's, action item's and profile's own
document, handlers keep each community's aggregates up to date as facts arrive: its roster (in
the community's document) and the index of its sessions and action items, so that commands and
queries read a community by `_id` and never search the collections that grow with history.

Facts from other systems may arrive out of order (a calendar's cancellation before its
scheduling), so each handler writes what its event knows and leaves the rest to whichever event
comes first.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from services.events.adapters.projection import FEEDBACK_MEMBERS, EventsProjection, EventsWrites
from services.events.domain.session import SessionStatus
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
)
from shared.messagebus import EventHandlers, Fact


def _stored(data: BaseModel) -> dict[str, Any]:
    """Event data as stored: JSON types, except instants, kept as dates so they sort and compare."""
    stored = data.model_dump(mode="json", exclude_none=True)
    for name, value in data:
        if isinstance(value, datetime):
            stored[name] = value.astimezone(UTC)
    return stored


async def community_created(fact: Fact[CommunityCreated], uow: EventsWrites) -> None:
    # Set, not only inserted: an update from outside may have arrived first.
    data = fact.data
    uow.set_community(
        data.community_id, {**_stored(data), "created_at": fact.time, "event_id": fact.event_id}
    )
    await uow.join_roster(data.community_id, data.leader_id, Role.CORE, fact.time)


async def community_updated(fact: Fact[CommunityUpdated], uow: EventsWrites) -> None:
    changes = _stored(fact.data)
    changes.pop("community_id")
    uow.set_community(fact.data.community_id, {**changes, "updated_at": fact.time})


async def leader_changed(fact: Fact[CommunityLeaderChanged], uow: EventsWrites) -> None:
    data = fact.data
    uow.set_community(data.community_id, {"leader_id": data.leader_id})
    await uow.join_roster(data.community_id, data.leader_id, Role.CORE, fact.time)


async def member_joined(fact: Fact[MemberJoined], uow: EventsWrites) -> None:
    data = fact.data
    await uow.join_roster(data.community_id, data.member_id, data.role, fact.time)


async def member_left(fact: Fact[MemberLeft], uow: EventsWrites) -> None:
    await uow.leave_roster(fact.data.community_id, fact.data.member_id)


async def profile_updated(fact: Fact[MemberProfileUpdated], uow: EventsWrites) -> None:
    fields = {**_stored(fact.data), "event_id": fact.event_id}
    await uow.replace_profile_if_newer(fact.data.member_id, fields, fact.time)


_SCHEDULED = {"status": SessionStatus.SCHEDULED.value}
"""A session's status until a cancellation or its holding says otherwise."""


async def session_scheduled(fact: Fact[SessionScheduled], uow: EventsWrites) -> None:
    # The details are set; a status from a later fact that came first is kept.
    data = fact.data
    initial = {**_SCHEDULED, "checked_in_ids": [], "attendee_ids": []}
    details = {**_stored(data), "scheduled_at": fact.time}
    uow.change_session(data.session_id, set_=details, on_insert=initial)
    listed = {
        "title": data.title,
        "format": data.format.value,
        "starts_at": details["starts_at"],
        "facilitator_id": data.facilitator_id,
    }
    await uow.index_session(data.community_id, data.session_id, set_=listed, defaults=_SCHEDULED)


async def session_rescheduled(fact: Fact[SessionRescheduled], uow: EventsWrites) -> None:
    data = fact.data
    starts_at = _stored(data)["starts_at"]
    uow.change_session(
        data.session_id,
        set_={"starts_at": starts_at, "community_id": data.community_id},
        on_insert=_SCHEDULED,
    )
    await uow.index_session(
        data.community_id, data.session_id, set_={"starts_at": starts_at}, defaults=_SCHEDULED
    )


async def session_cancelled(fact: Fact[SessionCancelled], uow: EventsWrites) -> None:
    data = fact.data
    cancelled = {"status": SessionStatus.CANCELLED.value}
    uow.change_session(
        data.session_id,
        set_={**cancelled, "cancel_reason": data.reason, "community_id": data.community_id},
    )
    await uow.index_session(data.community_id, data.session_id, set_=cancelled)


async def attendance_recorded(fact: Fact[AttendanceRecorded], uow: EventsWrites) -> None:
    # Not in the community's index: a check-in changes nothing that lists or filters sessions.
    data = fact.data
    uow.change_session(
        data.session_id,
        set_={"community_id": data.community_id},
        on_insert=_SCHEDULED,
        add_to_set={"checked_in_ids": data.member_id},
    )


async def session_held(fact: Fact[SessionHeld], uow: EventsWrites) -> None:
    fields = {**_stored(fact.data), "status": SessionStatus.HELD.value}
    session_id = fields.pop("session_id")
    uow.change_session(session_id, set_=fields)
    listed = ("status", "held_at", "title", "format", "facilitator_id")
    await uow.index_session(
        fact.data.community_id, session_id, set_={name: fields[name] for name in listed}
    )


async def feedback_submitted(fact: Fact[FeedbackSubmitted], uow: EventsWrites) -> None:
    # The session lists who gave feedback, so its summary fetches the feedback by `_id`.
    data = fact.data
    fields = {**_stored(data), "event_id": fact.event_id, "submitted_at": fact.time}
    await uow.replace_feedback_if_newer(data.session_id, data.member_id, fields, fact.time)
    uow.change_session(
        data.session_id,
        set_={"community_id": data.community_id},
        on_insert=_SCHEDULED,
        add_to_set={FEEDBACK_MEMBERS: data.member_id},
    )


async def action_item_opened(fact: Fact[ActionItemOpened], uow: EventsWrites) -> None:
    data = fact.data
    details = {**_stored(data), "opened_at": fact.time}
    uow.change_action_item(data.action_item_id, set_=details, on_insert={"open": True})
    await uow.index_action_item(
        data.community_id,
        data.action_item_id,
        set_={"opened_at": fact.time},
        defaults={"open": True},
    )


async def action_item_closed(fact: Fact[ActionItemClosed], uow: EventsWrites) -> None:
    data = fact.data
    uow.change_action_item(
        data.action_item_id,
        set_={
            "open": False,
            "outcome": data.outcome,
            "closed_at": fact.time,
            "community_id": data.community_id,
        },
    )
    await uow.index_action_item(data.community_id, data.action_item_id, set_={"open": False})


async def note_applied(facts: Sequence[Fact[Any]], uow: EventsWrites) -> None:
    """Every event the batch handles is recorded as applied when it commits: `?wait=true` on a
    command waits for its event there."""
    uow.applying((fact.event_id, fact.consumed.event.type) for fact in facts)


def event_handlers(projection: EventsProjection) -> EventHandlers[EventsWrites]:
    """Every event type the events service applies, and its handler."""
    return (
        EventHandlers("events", projection.unit_of_work, prepare=note_applied)
        .on(CommunityCreated, community_created)
        .on(CommunityUpdated, community_updated)
        .on(CommunityLeaderChanged, leader_changed)
        .on(MemberJoined, member_joined)
        .on(MemberLeft, member_left)
        .on(MemberProfileUpdated, profile_updated)
        .on(SessionScheduled, session_scheduled)
        .on(SessionRescheduled, session_rescheduled)
        .on(SessionCancelled, session_cancelled)
        .on(AttendanceRecorded, attendance_recorded)
        .on(SessionHeld, session_held)
        .on(FeedbackSubmitted, feedback_submitted)
        .on(ActionItemOpened, action_item_opened)
        .on(ActionItemClosed, action_item_closed)
    )
