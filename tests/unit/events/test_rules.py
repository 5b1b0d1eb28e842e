"""Community and session rules, without Kafka or a database."""

import pytest

from services.events.domain import community, session
from services.events.domain.community import STAGE_TRANSITIONS, CommunityState
from services.events.domain.errors import NotFound, Refused
from services.events.domain.session import SessionState, SessionStatus
from shared.events.catalog import Role, Stage


def guild(stage: Stage = Stage.POTENTIAL) -> CommunityState:
    return CommunityState("c1", "lea", stage, {"lea": Role.CORE, "ann": Role.MEMBER})


def meeting(status: SessionStatus, attendees: frozenset[str] = frozenset()) -> SessionState:
    return SessionState("s1", "c1", status, attendees, frozenset({"bob"}))


@pytest.mark.parametrize(
    ("start", "end"),
    [(s, e) for s, targets in STAGE_TRANSITIONS.items() for e in targets],
)
def test_each_allowed_stage_transition_passes(start: Stage, end: Stage) -> None:
    community.check_stage_change(guild(start), end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (Stage.POTENTIAL, Stage.MATURING),
        (Stage.POTENTIAL, Stage.TRANSFORMATION),
        (Stage.COALESCING, Stage.STEWARDSHIP),
        (Stage.MATURING, Stage.POTENTIAL),
        (Stage.TRANSFORMATION, Stage.MATURING),
    ],
)
def test_stage_jumps_and_returns_from_the_end_are_refused(start: Stage, end: Stage) -> None:
    with pytest.raises(Refused) as refused:
        community.check_stage_change(guild(start), end)
    assert refused.value.code == "invalid_stage_transition"


def test_staying_in_the_same_stage_is_not_a_transition() -> None:
    community.check_stage_change(guild(Stage.MATURING), Stage.MATURING)


def test_the_leader_cannot_be_changed_to_the_same_person() -> None:
    with pytest.raises(Refused, match="already leads"):
        community.check_leader_change(guild(), "lea")
    community.check_leader_change(guild(), "ann")


def test_joining_twice_leaving_as_stranger_or_as_leader_are_refused() -> None:
    with pytest.raises(Refused) as twice:
        community.check_join(guild(), "ann")
    assert twice.value.code == "already_member"
    with pytest.raises(Refused) as stranger:
        community.check_leave(guild(), "zed")
    assert stranger.value.code == "not_a_member"
    with pytest.raises(Refused) as leader:
        community.check_leave(guild(), "lea")
    assert leader.value.code == "leader_cannot_leave"
    assert community.check_leave(guild(), "ann") is Role.MEMBER


def test_a_missing_community_or_session_is_not_found() -> None:
    with pytest.raises(NotFound):
        community.require(None, "c9")
    with pytest.raises(NotFound):
        session.require(None, "s9")


@pytest.mark.parametrize("status", [SessionStatus.HELD, SessionStatus.CANCELLED])
def test_only_a_scheduled_session_can_be_rescheduled_cancelled_or_held(
    status: SessionStatus,
) -> None:
    for check in (session.check_reschedule, session.check_cancel, session.check_hold):
        with pytest.raises(Refused) as refused:
            check(meeting(status))
        assert refused.value.code == f"session_{status}"
    session.check_reschedule(meeting(SessionStatus.SCHEDULED))


def test_check_ins_are_refused_only_for_cancelled_sessions() -> None:
    session.check_check_in(meeting(SessionStatus.SCHEDULED))
    session.check_check_in(meeting(SessionStatus.HELD))
    with pytest.raises(Refused):
        session.check_check_in(meeting(SessionStatus.CANCELLED))


def test_attendees_when_held_merge_the_list_with_earlier_check_ins() -> None:
    assert session.attendees_when_held(meeting(SessionStatus.SCHEDULED), ["cy", "ann", "cy"]) == [
        "ann",
        "bob",
        "cy",
    ]


def test_feedback_needs_a_held_session_and_an_attendee() -> None:
    with pytest.raises(Refused) as not_held:
        session.check_feedback(meeting(SessionStatus.SCHEDULED, frozenset({"ann"})), "ann")
    assert not_held.value.code == "session_not_held"
    with pytest.raises(Refused) as outsider:
        session.check_feedback(meeting(SessionStatus.HELD, frozenset({"ann"})), "zed")
    assert outsider.value.code == "not_an_attendee"
    session.check_feedback(meeting(SessionStatus.HELD, frozenset({"ann"})), "ann")


def test_closing_an_action_item_needs_an_open_one() -> None:
    with pytest.raises(NotFound):
        session.check_close(None, "ai-1")
    with pytest.raises(Refused, match="already closed"):
        session.check_close(session.ActionItemState("ai-1", "c1", open=False), "ai-1")
    assert session.check_close(session.ActionItemState("ai-1", "c1", open=True), "ai-1").open
