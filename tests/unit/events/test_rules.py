"""Community and session rules, without Kafka or a database: each decides and returns its event."""

from datetime import UTC, datetime

import pytest

from services.events.domain import community, session
from services.events.domain.actor import Actor
from services.events.domain.community import STAGE_TRANSITIONS, CommunityState
from services.events.domain.session import (
    DEFAULT_AGENDA,
    ActionItemState,
    HoldDetails,
    SessionPlan,
    SessionState,
    SessionStatus,
)
from shared.events.bounds import MAX_ATTENDEES
from shared.events.catalog import (
    ActionItemClosed,
    Charter,
    CommunityCreated,
    CommunityLeaderChanged,
    CommunityUpdated,
    MemberJoined,
    MemberLeft,
    Role,
    SessionFormat,
    SessionHeld,
    SessionScheduled,
    Stage,
)
from shared.refusals import Invalid, NotFound, Refused

ADMIN = Actor("ops", is_admin=True)
START = datetime(2026, 12, 3, 12, tzinfo=UTC)


def guild(stage: Stage = Stage.POTENTIAL) -> CommunityState:
    return CommunityState(
        "c1", "lea", stage, {"lea": Role.CORE, "ann": Role.MEMBER, "cy": Role.MEMBER}
    )


def meeting(status: SessionStatus, attendees: frozenset[str] = frozenset()) -> SessionState:
    plan = SessionPlan("PBT", SessionFormat.BROWN_BAG, START, 45, "fay", ("ann",))
    return SessionState("s1", "c1", status, attendees, frozenset({"bob"}), plan)


def item(*, open_: bool = True) -> ActionItemState:
    return ActionItemState("ai-1", "c1", open_, title="Try mob testing", owner_id="ann")


@pytest.mark.parametrize(
    ("start", "end"),
    [(s, e) for s, targets in STAGE_TRANSITIONS.items() for e in sorted(targets)],
)
def test_each_allowed_stage_transition_is_an_update_event(start: Stage, end: Stage) -> None:
    updated = community.update(guild(start), ADMIN, stage=end)
    assert updated == CommunityUpdated(community_id="c1", stage=end, updated_by=ADMIN.member_id)


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
        community.update(guild(start), ADMIN, stage=end)
    assert refused.value.code == "invalid_stage_transition"


def test_staying_in_the_same_stage_is_not_a_transition() -> None:
    community.check_stage_change(guild(Stage.MATURING), Stage.MATURING)


def test_an_update_that_changes_nothing_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        community.update(guild(), ADMIN)
    assert refused.value.code == "nothing_to_change"


def test_a_community_is_created_once() -> None:
    data = CommunityCreated(
        community_id="c1", name="Guild", domain="testing", charter=Charter(purpose="p"),
        leader_id="lea",
    )  # fmt: skip
    assert community.create(None, data) is data
    with pytest.raises(Refused) as refused:
        community.create(guild(), data)
    assert refused.value.code == "community_exists"


def test_a_leader_change_names_the_previous_leader_and_not_the_same_person() -> None:
    assert community.change_leader(guild(), "ann", ADMIN) == CommunityLeaderChanged(
        community_id="c1", leader_id="ann", previous_leader_id="lea"
    )
    with pytest.raises(Refused, match="already leads") as same:
        community.change_leader(guild(), "lea", ADMIN)
    assert same.value.code == "same_leader"


def test_joining_twice_leaving_as_stranger_or_as_leader_are_refused() -> None:
    with pytest.raises(Refused) as twice:
        community.join(guild(), "ann", Role.MEMBER, Actor("ann"))
    assert twice.value.code == "already_member"
    with pytest.raises(Refused) as stranger:
        community.leave(guild(), "zed", Actor("zed"))
    assert stranger.value.code == "not_a_member"
    with pytest.raises(Refused) as leader:
        community.leave(guild(), "lea", Actor("lea"))
    assert leader.value.code == "leader_cannot_leave"
    assert community.leave(guild(), "ann", Actor("ann")) == MemberLeft(
        community_id="c1", member_id="ann", role=Role.MEMBER
    )
    assert community.join(guild(), "bob", Role.MENTOR, Actor("bob")) == MemberJoined(
        community_id="c1", member_id="bob", role=Role.MENTOR
    )


def test_a_missing_community_session_or_action_item_is_not_found() -> None:
    with pytest.raises(NotFound):
        community.require(None, "c9")
    with pytest.raises(NotFound):
        session.require(None, "s9")
    with pytest.raises(NotFound):
        session.require_action_item(None, "ai-9")
    with pytest.raises(NotFound):  # only its closing arrived yet
        session.require_action_item(ActionItemState("ai-9", "c1", open=False), "ai-9")


def test_a_scheduled_session_without_an_agenda_gets_the_default_agenda() -> None:
    data = SessionScheduled(
        session_id="s2", community_id="c1", title="PBT", format="brown_bag", starts_at=START,
        duration_minutes=60, facilitator_id="lea",
    )  # fmt: skip
    scheduled = session.schedule(guild(), None, data, ADMIN)
    assert scheduled.agenda == list(DEFAULT_AGENDA)
    own = data.model_copy(update={"agenda": ["Kata"]})
    assert session.schedule(guild(), None, own, ADMIN).agenda == ["Kata"]
    with pytest.raises(Refused) as twice:
        session.schedule(guild(), meeting(SessionStatus.SCHEDULED), data, ADMIN)
    assert twice.value.code == "session_exists"


@pytest.mark.parametrize("status", [SessionStatus.HELD, SessionStatus.CANCELLED])
def test_only_a_scheduled_session_can_be_rescheduled_cancelled_or_held(
    status: SessionStatus,
) -> None:
    s = meeting(status)
    attempts = (
        lambda: session.reschedule(s, guild(), START, ADMIN),
        lambda: session.cancel(s, guild(), "ill", ADMIN),
        lambda: session.hold(s, guild(), HoldDetails(), ADMIN),
    )
    for attempt in attempts:
        with pytest.raises(Refused) as refused:
            attempt()
        assert refused.value.code == f"session_{status}"


def test_check_ins_are_refused_only_for_cancelled_sessions() -> None:
    for status in (SessionStatus.SCHEDULED, SessionStatus.HELD):
        recorded = session.check_in(meeting(status), guild(), "ann", Actor("ann"), START)
        assert (recorded.member_id, recorded.checked_in_at) == ("ann", START)
    with pytest.raises(Refused):
        session.check_in(meeting(SessionStatus.CANCELLED), guild(), "ann", Actor("ann"), START)


def test_holding_fills_what_is_not_reported_from_the_schedule_and_merges_check_ins() -> None:
    held = session.hold(
        meeting(SessionStatus.SCHEDULED), guild(), HoldDetails(("cy", "ann", "cy")), Actor("fay")
    )
    assert held == SessionHeld(
        session_id="s1", community_id="c1", held_at=START, duration_minutes=45,
        format="brown_bag", title="PBT", facilitator_id="fay", speaker_ids=["ann"],
        attendee_ids=["ann", "bob", "cy"],
    )  # fmt: skip
    reported = HoldDetails(
        facilitator_id="max", held_at=START.replace(hour=13), duration_minutes=90
    )
    held = session.hold(meeting(SessionStatus.SCHEDULED), guild(), reported, ADMIN)
    assert (held.facilitator_id, held.held_at.hour, held.duration_minutes) == ("max", 13, 90)


def test_attendees_are_members_of_the_community_or_the_sessions_hosts() -> None:
    scheduled = meeting(SessionStatus.SCHEDULED)  # fay facilitates, ann speaks
    strangers = HoldDetails(("ann", "zed", "cy", "yan"))
    with pytest.raises(Invalid) as refused:
        session.hold(scheduled, guild(), strangers, Actor("fay"))
    assert refused.value.status == 422
    assert refused.value.code == "not_members"
    assert refused.value.details["field"] == "attendee_ids"
    assert refused.value.details["values"] == ["yan", "zed"]
    hosts = HoldDetails(("fay", "max", "cy"), facilitator_id="max")  # a guest facilitator
    held = session.hold(scheduled, guild(), hosts, Actor("fay"))
    assert held.attendee_ids == ["bob", "cy", "fay", "max"]
    with pytest.raises(Invalid) as stranger:
        session.check_in(scheduled, guild(), "zed", Actor("zed"), START)
    assert (stranger.value.details["field"], stranger.value.details["values"]) == (
        "member_id",
        ["zed"],
    )
    assert session.check_in(scheduled, guild(), "fay", Actor("fay"), START).member_id == "fay"


def test_a_session_records_at_most_max_attendees() -> None:
    members = [f"m{i}" for i in range(MAX_ATTENDEES + 1)]
    crowd = CommunityState("c1", "lea", Stage.POTENTIAL, dict.fromkeys(members, Role.MEMBER))
    plan = SessionPlan("PBT", SessionFormat.BROWN_BAG, START, 45, "fay")
    full = SessionState(
        "s1", "c1", SessionStatus.SCHEDULED, checked_in_ids=frozenset(members[:-1]), plan=plan
    )
    with pytest.raises(Refused) as refused:
        session.check_in(full, crowd, members[-1], ADMIN, START)
    assert refused.value.code == "attendance_full"
    assert session.check_in(full, crowd, members[0], ADMIN, START).member_id == members[0]
    with pytest.raises(Invalid) as too_many:
        session.hold(full, crowd, HoldDetails((members[-1],)), ADMIN)
    assert (too_many.value.code, too_many.value.details["field"]) == (
        "too_many_attendees",
        "attendee_ids",
    )


def test_a_session_whose_schedule_is_not_loaded_cannot_be_held() -> None:
    unplanned = SessionState("s1", "c1", SessionStatus.SCHEDULED)
    with pytest.raises(NotFound):
        session.hold(unplanned, guild(), HoldDetails(), ADMIN)


def test_feedback_needs_a_held_session_and_an_attendee() -> None:
    ann = Actor("ann")
    with pytest.raises(Refused) as not_held:
        session.submit_feedback(
            meeting(SessionStatus.SCHEDULED, frozenset({"ann"})), "ann", ann, rating=4
        )
    assert not_held.value.code == "session_not_held"
    with pytest.raises(Refused) as outsider:
        session.submit_feedback(
            meeting(SessionStatus.HELD, frozenset({"ann"})), "zed", Actor("zed"), rating=4
        )
    assert outsider.value.code == "not_an_attendee"
    given = session.submit_feedback(
        meeting(SessionStatus.HELD, frozenset({"ann"})), "ann", ann, rating=4, applied=True
    )
    assert (given.member_id, given.rating, given.applied) == ("ann", 4, True)


def test_action_items_open_once_and_close_once_with_their_details() -> None:
    s = meeting(SessionStatus.HELD)
    opened = session.open_action_item(
        s, guild(), None, ADMIN, action_item_id="ai-1", title="Try mob testing", owner_id="ann"
    )
    assert (opened.session_id, opened.community_id, opened.owner_id) == ("s1", "c1", "ann")
    with pytest.raises(Refused) as twice:
        session.open_action_item(
            s, guild(), item(), ADMIN, action_item_id="ai-1", title="x", owner_id="ann"
        )
    assert twice.value.code == "action_item_exists"
    closed = session.close_action_item(item(), s, guild(), "kept it", Actor("ann"))
    assert closed == ActionItemClosed(
        action_item_id="ai-1", community_id="c1", title="Try mob testing", owner_id="ann",
        outcome="kept it",
    )  # fmt: skip
    with pytest.raises(Refused, match="already closed") as again:
        session.close_action_item(item(open_=False), s, guild(), "x", Actor("ann"))
    assert again.value.code == "action_item_closed"
