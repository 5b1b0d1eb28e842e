"""Session rules: who runs a session; a session is scheduled, then held or cancelled; feedback
is for attendees; action items are followed up by their owner or the session's runners.
Each command's rule decides and returns the event it produces."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import HttpUrl

from services.events.domain.actor import Actor, require_self
from services.events.domain.community import NOT_STEWARD, CommunityState, is_steward
from shared.events.bounds import MAX_ATTENDEES
from shared.events.catalog import (
    ActionItemClosed,
    ActionItemOpened,
    AttendanceRecorded,
    FeedbackSubmitted,
    SessionCancelled,
    SessionFormat,
    SessionHeld,
    SessionRescheduled,
    SessionScheduled,
)
from shared.refusals import Forbidden, Invalid, NotFound, Refused


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


DEFAULT_AGENDA = ("Check-in", "Deep dive", "Open discussion", "Action items")
NOT_RUNNER = "not_facilitator_leader_or_core"
NOT_OWNER_OR_RUNNER = "not_owner_facilitator_leader_or_core"


@dataclass(frozen=True)
class SessionPlan:
    """What the schedule says; once the session is held, who facilitated it."""

    title: str
    format: SessionFormat
    starts_at: datetime
    duration_minutes: int
    facilitator_id: str
    speaker_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionState:
    session_id: str
    community_id: str
    status: SessionStatus
    attendee_ids: frozenset[str] = field(default_factory=frozenset)
    checked_in_ids: frozenset[str] = field(default_factory=frozenset)
    plan: SessionPlan | None = None  # None: not loaded, so only stewards run the session
    topic_id: str | None = None  # the backlog topic it was scheduled from

    @property
    def facilitator_id(self) -> str | None:
        return self.plan.facilitator_id if self.plan else None


@dataclass(frozen=True)
class HoldDetails:
    """What the facilitator reports when a session took place; the schedule fills the rest."""

    attendee_ids: tuple[str, ...] = ()
    facilitator_id: str | None = None
    held_at: datetime | None = None
    duration_minutes: int | None = None
    recording_url: HttpUrl | None = None


def require(state: SessionState | None, session_id: str) -> SessionState:
    if state is None:
        raise NotFound("session_not_found", f"no session {session_id}")
    return state


def runs(session: SessionState | None, community: CommunityState | None, actor: Actor) -> bool:
    """The session's facilitator, and the stewards of its community (leader, core, admins)."""
    facilitator = session.facilitator_id if session else None
    return actor.same_as(facilitator) or is_steward(community, actor)


def require_runner(
    session: SessionState, community: CommunityState | None, actor: Actor, action: str
) -> None:
    if not runs(session, community, actor):
        raise Forbidden(
            NOT_RUNNER,
            f"only the facilitator of {session.session_id} or the leader, a core member or an "
            f"admin of {session.community_id} may {action}",
        )


def _require_scheduled(state: SessionState, action: str) -> None:
    if state.status is not SessionStatus.SCHEDULED:
        raise _refuse(state, action)


def _refuse(state: SessionState, action: str) -> Refused:
    return Refused(
        f"session_{state.status}",
        f"session {state.session_id} is {state.status}: it cannot be {action}",
    )


def schedule(
    community: CommunityState,
    existing: SessionState | None,
    data: SessionScheduled,
    actor: Actor,
) -> SessionScheduled:
    """Stewards schedule any session; a member of the community schedules one they facilitate
    themselves. A session without an agenda gets the default agenda (`DEFAULT_AGENDA`)."""
    facilitates = actor.same_as(data.facilitator_id) and actor.member_id in community.members
    if not (facilitates or is_steward(community, actor)):
        raise Forbidden(
            NOT_STEWARD,
            f"members of {community.community_id} schedule sessions they facilitate "
            "themselves; anything else is for its leader, a core member or an admin",
        )
    if existing is not None:
        raise Refused("session_exists", f"session {data.session_id} exists")
    if data.agenda:
        return data
    return data.model_copy(update={"agenda": list(DEFAULT_AGENDA)})


def reschedule(
    session: SessionState, community: CommunityState | None, starts_at: datetime, actor: Actor
) -> SessionRescheduled:
    require_runner(session, community, actor, "reschedule it")
    _require_scheduled(session, "rescheduled")
    return SessionRescheduled(
        session_id=session.session_id, community_id=session.community_id, starts_at=starts_at
    )


def cancel(
    session: SessionState, community: CommunityState | None, reason: str, actor: Actor
) -> SessionCancelled:
    require_runner(session, community, actor, "cancel it")
    _require_scheduled(session, "cancelled")
    return SessionCancelled(
        session_id=session.session_id, community_id=session.community_id, reason=reason
    )


def check_in(
    session: SessionState,
    community: CommunityState | None,
    member_id: str,
    actor: Actor,
    at: datetime,
) -> AttendanceRecorded:
    """Anyone checks themselves in; checking in someone else is for the session's runners."""
    if not actor.same_as(member_id):
        require_runner(session, community, actor, f"check {member_id} in")
    if session.status is SessionStatus.CANCELLED:
        raise _refuse(session, "attended")
    _require_may_attend(session, community, [member_id], "member_id")
    if member_id not in session.checked_in_ids and len(session.checked_in_ids) >= MAX_ATTENDEES:
        raise Refused(
            "attendance_full",
            f"{session.session_id} has {MAX_ATTENDEES} check-ins, the most a session records",
        )
    return AttendanceRecorded(
        session_id=session.session_id,
        community_id=session.community_id,
        member_id=member_id,
        checked_in_at=at,
    )


def attendees_when_held(state: SessionState, listed: tuple[str, ...] | list[str]) -> list[str]:
    """Everyone listed at hold time plus everyone who checked in before, in a stable order."""
    return sorted({*listed, *state.checked_in_ids})


def may_not_attend(
    session: SessionState,
    community: CommunityState | None,
    member_ids: Iterable[str],
    facilitator_id: str | None = None,
) -> list[str]:
    """Those of `member_ids` who cannot be recorded as attending: attendees are members of the
    session's community, or its hosts (the facilitator and the speakers, who may be guests)."""
    members = community.members if community is not None else {}
    plan = session.plan
    hosts = {facilitator_id, *((plan.facilitator_id, *plan.speaker_ids) if plan else ())}
    return sorted({m for m in member_ids if m not in members and m not in hosts})


def _require_may_attend(
    session: SessionState,
    community: CommunityState | None,
    member_ids: Iterable[str],
    field: str,
    facilitator_id: str | None = None,
) -> None:
    strangers = may_not_attend(session, community, member_ids, facilitator_id)
    if strangers:
        named = ", ".join(strangers[:10]) + (
            f" and {len(strangers) - 10} more" if len(strangers) > 10 else ""
        )
        rule = f"attendees are members of {session.community_id} or the session's hosts"
        raise Invalid(
            "not_members",
            f"{rule}, not {named}",
            field=field,
            values=strangers,
        )


def hold(
    session: SessionState,
    community: CommunityState | None,
    details: HoldDetails,
    actor: Actor,
    *,
    topic_proposed_by: str | None = None,
) -> SessionHeld:
    """`topic_proposed_by`: who proposed the backlog topic the session was scheduled from."""
    require_runner(session, community, actor, "record it as held")
    _require_scheduled(session, "held")
    plan = session.plan
    if plan is None:
        raise NotFound("session_not_found", f"the schedule of {session.session_id} is not known")
    _require_may_attend(
        session, community, details.attendee_ids, "attendee_ids", details.facilitator_id
    )
    attendees = attendees_when_held(session, details.attendee_ids)
    if len(attendees) > MAX_ATTENDEES:
        raise Invalid(
            "too_many_attendees",
            f"{len(attendees)} attendees with those who checked in; at most {MAX_ATTENDEES}",
            field="attendee_ids",
        )
    return SessionHeld(
        session_id=session.session_id,
        community_id=session.community_id,
        held_at=details.held_at or plan.starts_at,
        duration_minutes=details.duration_minutes or plan.duration_minutes,
        format=plan.format,
        title=plan.title,
        facilitator_id=details.facilitator_id or plan.facilitator_id,
        speaker_ids=list(plan.speaker_ids),
        attendee_ids=attendees,
        recording_url=details.recording_url,
        topic_id=session.topic_id,
        topic_proposed_by=topic_proposed_by if session.topic_id else None,
    )


def submit_feedback(
    session: SessionState,
    member_id: str,
    actor: Actor,
    *,
    rating: int,
    plus: str = "",
    delta: str = "",
    applied: bool = False,
) -> FeedbackSubmitted:
    require_self(actor, member_id, "give feedback")
    if session.status is not SessionStatus.HELD:
        raise Refused("session_not_held", "feedback is given on sessions that were held")
    if member_id not in session.attendee_ids:
        raise Refused("not_an_attendee", f"{member_id} did not attend {session.session_id}")
    return FeedbackSubmitted(
        session_id=session.session_id,
        community_id=session.community_id,
        member_id=member_id,
        rating=rating,
        plus=plus,
        delta=delta,
        applied=applied,
    )


def sees_feedback_summary(
    actor: Actor | None,
    *,
    facilitator_id: str | None,
    leader_id: str | None,
    given: int,
    minimum: int,
) -> bool:
    """A session's feedback summary (average, counts, texts without names) is shown to anyone,
    signed in or not, once `minimum` members gave feedback, so that no one's rating or words
    stand alone; before that only to the session's facilitator, its community's leader and
    admins. Everyone else sees how many gave feedback."""
    if given >= minimum:
        return True
    if actor is None:
        return False
    return actor.is_admin or actor.same_as(facilitator_id) or actor.same_as(leader_id)


# --- action items: a session's follow-ups ---


@dataclass(frozen=True)
class ActionItemState:
    action_item_id: str
    community_id: str
    open: bool
    title: str | None = None  # None: details not loaded, or not arrived yet
    owner_id: str | None = None
    session_id: str | None = None


def require_action_item(state: ActionItemState | None, action_item_id: str) -> ActionItemState:
    if state is None or state.title is None or state.owner_id is None:
        raise NotFound("action_item_not_found", f"no action item {action_item_id}")
    return state


def open_action_item(
    session: SessionState,
    community: CommunityState | None,
    existing: ActionItemState | None,
    actor: Actor,
    *,
    action_item_id: str,
    title: str,
    owner_id: str,
    due: datetime | None = None,
) -> ActionItemOpened:
    require_runner(session, community, actor, "open action items on it")
    if existing is not None:
        raise Refused("action_item_exists", f"action item {action_item_id} exists")
    return ActionItemOpened(
        action_item_id=action_item_id,
        community_id=session.community_id,
        session_id=session.session_id,
        title=title,
        owner_id=owner_id,
        due=due,
    )


def close_action_item(
    item: ActionItemState,
    session: SessionState | None,
    community: CommunityState | None,
    outcome: str,
    actor: Actor,
) -> ActionItemClosed:
    """The item's owner closes it, or whoever runs its session (facilitator, stewards)."""
    if not (actor.same_as(item.owner_id) or runs(session, community, actor)):
        raise Forbidden(
            NOT_OWNER_OR_RUNNER,
            f"only the owner of {item.action_item_id}, its session's facilitator or the leader, "
            f"a core member or an admin of {item.community_id} may close it",
        )
    if not item.open:
        raise Refused("action_item_closed", f"action item {item.action_item_id} is already closed")
    if item.title is None or item.owner_id is None:
        raise NotFound("action_item_not_found", f"no action item {item.action_item_id}")
    return ActionItemClosed(
        action_item_id=item.action_item_id,
        community_id=item.community_id,
        session_id=item.session_id,
        title=item.title,
        owner_id=item.owner_id,
        outcome=outcome,
    )
