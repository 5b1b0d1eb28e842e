"""Session rules: a session is scheduled, then held or cancelled; feedback is for attendees."""

from dataclasses import dataclass, field
from enum import StrEnum

from services.events.domain.errors import NotFound, Refused


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


DEFAULT_AGENDA = ("Check-in", "Deep dive", "Open discussion", "Action items")


@dataclass(frozen=True)
class SessionState:
    session_id: str
    community_id: str
    status: SessionStatus
    attendee_ids: frozenset[str] = field(default_factory=frozenset)
    checked_in_ids: frozenset[str] = field(default_factory=frozenset)


def require(state: SessionState | None, session_id: str) -> SessionState:
    if state is None:
        raise NotFound("session_not_found", f"no session {session_id}")
    return state


def _refuse(state: SessionState, action: str) -> Refused:
    return Refused(
        f"session_{state.status}",
        f"session {state.session_id} is {state.status}: it cannot be {action}",
    )


def check_reschedule(state: SessionState) -> None:
    if state.status is not SessionStatus.SCHEDULED:
        raise _refuse(state, "rescheduled")


def check_cancel(state: SessionState) -> None:
    if state.status is not SessionStatus.SCHEDULED:
        raise _refuse(state, "cancelled")


def check_hold(state: SessionState) -> None:
    if state.status is not SessionStatus.SCHEDULED:
        raise _refuse(state, "held")


def check_check_in(state: SessionState) -> None:
    if state.status is SessionStatus.CANCELLED:
        raise _refuse(state, "attended")


def attendees_when_held(state: SessionState, listed: list[str]) -> list[str]:
    """Everyone listed at hold time plus everyone who checked in before, in a stable order."""
    return sorted({*listed, *state.checked_in_ids})


def check_feedback(state: SessionState, member_id: str) -> None:
    if state.status is not SessionStatus.HELD:
        raise Refused("session_not_held", "feedback is given on sessions that were held")
    if member_id not in state.attendee_ids:
        raise Refused("not_an_attendee", f"{member_id} did not attend {state.session_id}")


@dataclass(frozen=True)
class ActionItemState:
    action_item_id: str
    community_id: str
    open: bool


def check_close(state: ActionItemState | None, action_item_id: str) -> ActionItemState:
    if state is None:
        raise NotFound("action_item_not_found", f"no action item {action_item_id}")
    if not state.open:
        raise Refused("action_item_closed", f"action item {action_item_id} is already closed")
    return state
