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

from services.events.adapters.projection import (
    FEEDBACK_MEMBERS,
    VOTERS,
    EventsProjection,
    EventsWrites,
    Fields,
)
from services.events.domain.chat import ChannelMapping, ChatAccount, ChatChannelRef, Claim
from services.events.domain.session import SessionStatus
from services.events.domain.topic import TopicStatus
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    AttendanceRecorded,
    CommunityChatChannelMapped,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    FeedbackSubmitted,
    MemberChatLinked,
    MemberChatUnlinked,
    MemberJoined,
    MemberLeft,
    MemberProfileUpdated,
    Role,
    SessionCancelled,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
    TopicDeclined,
    TopicMerged,
    TopicProposed,
    TopicReopened,
    TopicUnvoted,
    TopicVoted,
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
    charter = data.charter.model_dump(mode="json")
    uow.keep_charter(data.community_id, fact.event_id, fact.time, data.created_by, charter)


async def community_updated(fact: Fact[CommunityUpdated], uow: EventsWrites) -> None:
    changes = _stored(fact.data)
    changes.pop("community_id")
    changes.pop("updated_by", None)
    uow.set_community(fact.data.community_id, {**changes, "updated_at": fact.time})
    data = fact.data
    if data.charter is not None:
        charter = data.charter.model_dump(mode="json")
        uow.keep_charter(data.community_id, fact.event_id, fact.time, data.updated_by, charter)


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


async def chat_linked(fact: Fact[MemberChatLinked], uow: EventsWrites) -> None:
    # Claimed, not replaced: whoever held the account is in another partition (domain/chat.py).
    data = fact.data
    account = ChatAccount(data.platform, data.workspace_id, data.user_id)
    claim = Claim(fact.event_id, fact.time, data.member_id, linked=True, user_name=data.user_name)
    uow.claim_chat_identity(account, claim)
    if data.user_name is not None:
        uow.index_chat_name(account, data.user_name)
    uow.list_chat_identity(data.member_id, account)


async def chat_unlinked(fact: Fact[MemberChatUnlinked], uow: EventsWrites) -> None:
    data = fact.data
    account = ChatAccount(data.platform, data.workspace_id, data.user_id)
    uow.claim_chat_identity(account, Claim(fact.event_id, fact.time, data.member_id, linked=False))


async def chat_channel_mapped(fact: Fact[CommunityChatChannelMapped], uow: EventsWrites) -> None:
    data = fact.data
    channel = ChatChannelRef(data.platform, data.workspace_id, data.channel_id)
    mapping = ChannelMapping(
        fact.event_id, fact.time, data.community_id, data.channel_name, data.mapped_by
    )
    uow.map_chat_channel(channel, mapping)


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
        **({"topic_id": data.topic_id} if data.topic_id else {}),
    }
    await uow.index_session(data.community_id, data.session_id, set_=listed, defaults=_SCHEDULED)
    if data.topic_id:
        await _topic_leaves_open(
            uow,
            data.community_id,
            data.topic_id,
            {"status": TopicStatus.SCHEDULED.value, "session_id": data.session_id},
            {"session_cancelled": False},
        )


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
    topic_id = ((await uow.session_entry(data.community_id, data.session_id)) or {}).get("topic_id")
    topic = await uow.topic_entry(data.community_id, topic_id) if topic_id else None
    if topic_id and topic and topic.get("session_id") == data.session_id:
        # The topic may be reopened: its session will not take place.
        await _set_topic(uow, data.community_id, topic_id, {"session_cancelled": True})


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
    data = fact.data
    entry = await uow.session_entry(data.community_id, session_id)
    await uow.index_session(
        data.community_id, session_id, set_={name: fields[name] for name in listed}
    )
    topic_id = data.topic_id or (entry or {}).get("topic_id")
    if topic_id:
        done = {"status": TopicStatus.DONE.value, "held_at": fields["held_at"]}
        await _set_topic(uow, data.community_id, topic_id, done)


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


# --- the backlog: each topic's document and voters, the community's index, members' ballots ---


async def _set_topic(uow: EventsWrites, community_id: str, topic_id: str, fields: Fields) -> None:
    """Sets fields of the topic, in its document and in its community's index."""
    uow.change_topic(topic_id, set_={**fields, "community_id": community_id})
    await uow.index_topic(community_id, topic_id, set_=fields)


async def _topic_leaves_open(
    uow: EventsWrites,
    community_id: str,
    topic_id: str,
    fields: Fields,
    document_only: Fields | None = None,
) -> None:
    """The topic is no longer open: its votes stop counting against its voters' budgets."""
    await _set_topic(uow, community_id, topic_id, fields)
    if document_only:
        uow.change_topic(topic_id, set_=document_only)
    uow.release_votes(community_id, topic_id, await uow.topic_voters(topic_id))


async def _is_open(uow: EventsWrites, community_id: str, topic_id: str) -> bool:
    entry = await uow.topic_entry(community_id, topic_id)
    return entry is not None and entry.get("status") == TopicStatus.OPEN.value


_OPEN = {"status": TopicStatus.OPEN.value}


async def topic_proposed(fact: Fact[TopicProposed], uow: EventsWrites) -> None:
    # The status is only set when the topic is new: a redelivered proposal leaves it as it is.
    data = fact.data
    details = {**_stored(data), "proposed_at": fact.time}
    uow.change_topic(data.topic_id, set_=details, on_insert={**_OPEN, VOTERS: {}})
    listed = {"proposed_at": fact.time, "volunteers": len(data.speaker_ids)}
    await uow.index_topic(
        data.community_id, data.topic_id, set_=listed, defaults={**_OPEN, "votes": 0}
    )


async def topic_voted(fact: Fact[TopicVoted], uow: EventsWrites) -> None:
    data = fact.data
    votes = await uow.add_voter(data.topic_id, data.member_id, fact.time)
    await uow.index_topic(data.community_id, data.topic_id, set_={"votes": votes})
    if await _is_open(uow, data.community_id, data.topic_id):
        uow.count_votes(data.community_id, data.topic_id, [data.member_id])


async def topic_unvoted(fact: Fact[TopicUnvoted], uow: EventsWrites) -> None:
    data = fact.data
    votes = await uow.remove_voter(data.topic_id, data.member_id)
    await uow.index_topic(data.community_id, data.topic_id, set_={"votes": votes})
    uow.release_votes(data.community_id, data.topic_id, [data.member_id])


async def topic_declined(fact: Fact[TopicDeclined], uow: EventsWrites) -> None:
    data = fact.data
    declined = {"status": TopicStatus.DECLINED.value}
    reason = {"decline_reason": data.reason, "declined_by": data.declined_by}
    await _topic_leaves_open(uow, data.community_id, data.topic_id, declined, reason)


async def topic_merged(fact: Fact[TopicMerged], uow: EventsWrites) -> None:
    """Each vote moves to the target but for members who voted there already; moved votes are
    active there, whatever the budget."""
    data = fact.data
    merged = {"status": TopicStatus.MERGED.value, "merged_into": data.into_topic_id}
    await _topic_leaves_open(uow, data.community_id, data.topic_id, merged)
    there = await uow.topic_voters(data.into_topic_id)
    moved = [v for m, v in (await uow.topic_voters(data.topic_id)).items() if m not in there]
    votes = len(there)
    for voter in moved:
        votes = await uow.add_voter(data.into_topic_id, voter["member_id"], voter["voted_at"])
    await uow.index_topic(data.community_id, data.into_topic_id, set_={"votes": votes})
    if await _is_open(uow, data.community_id, data.into_topic_id):
        uow.count_votes(data.community_id, data.into_topic_id, [v["member_id"] for v in moved])


async def topic_reopened(fact: Fact[TopicReopened], uow: EventsWrites) -> None:
    """Its votes count again, whatever the budget; a cancelled session no longer links it."""
    data = fact.data
    await _set_topic(uow, data.community_id, data.topic_id, {**_OPEN, "session_id": None})
    cleared = {"session_cancelled": False, "decline_reason": None, "declined_by": None}
    uow.change_topic(data.topic_id, set_=cleared)
    uow.count_votes(data.community_id, data.topic_id, await uow.topic_voters(data.topic_id))


async def prepare(facts: Sequence[Fact[Any]], uow: EventsWrites) -> None:
    """Every event the batch handles is recorded as applied when it commits (`?wait=true` on a
    command waits for its event there); the profiles and feedback it replaces if newer have
    their stored times read at once."""
    uow.applying((fact.event_id, fact.consumed.event.type) for fact in facts)
    data = [fact.data for fact in facts]
    await uow.read_times_ahead(
        (d.member_id for d in data if isinstance(d, MemberProfileUpdated)),
        ((d.session_id, d.member_id) for d in data if isinstance(d, FeedbackSubmitted)),
    )


def event_handlers(projection: EventsProjection) -> EventHandlers[EventsWrites]:
    """Every event type the events service applies, and its handler."""
    return (
        EventHandlers("events", projection.unit_of_work, prepare=prepare)
        .on(CommunityCreated, community_created)
        .on(CommunityUpdated, community_updated)
        .on(CommunityLeaderChanged, leader_changed)
        .on(MemberJoined, member_joined)
        .on(MemberLeft, member_left)
        .on(MemberProfileUpdated, profile_updated)
        .on(MemberChatLinked, chat_linked)
        .on(MemberChatUnlinked, chat_unlinked)
        .on(CommunityChatChannelMapped, chat_channel_mapped)
        .on(SessionScheduled, session_scheduled)
        .on(SessionRescheduled, session_rescheduled)
        .on(SessionCancelled, session_cancelled)
        .on(AttendanceRecorded, attendance_recorded)
        .on(SessionHeld, session_held)
        .on(FeedbackSubmitted, feedback_submitted)
        .on(ActionItemOpened, action_item_opened)
        .on(ActionItemClosed, action_item_closed)
        .on(TopicProposed, topic_proposed)
        .on(TopicVoted, topic_voted)
        .on(TopicUnvoted, topic_unvoted)
        .on(TopicDeclined, topic_declined)
        .on(TopicMerged, topic_merged)
        .on(TopicReopened, topic_reopened)
    )
