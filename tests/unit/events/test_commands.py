"""The events commands' path — load what a command decides on, let the domain decide, publish
its event — against in-memory states and bus: a refused command publishes nothing."""

from datetime import UTC, datetime

import pytest

from services.events.commands.members import SOURCE, EventsCommands
from services.events.domain.actor import Actor
from services.events.domain.community import CommunityState
from services.events.domain.session import (
    DEFAULT_AGENDA,
    ActionItemState,
    SessionPlan,
    SessionState,
    SessionStatus,
)
from shared.events.catalog import Role, SessionFormat, SessionScheduled, Stage
from shared.refusals import Forbidden, NotFound, Refused
from tests.unit.events.fakes import RecordingBus, States

START = datetime(2027, 3, 4, 12, tzinfo=UTC)
LEADER, GRACE, ALAN = Actor("lena"), Actor("grace"), Actor("alan")


def guild() -> CommunityState:
    return CommunityState(
        "guild", leader_id="lena", stage=Stage.COALESCING, members={"grace": Role.MEMBER}
    )


def scheduled(status: SessionStatus = SessionStatus.SCHEDULED) -> SessionState:
    plan = SessionPlan("Pairing", SessionFormat.BROWN_BAG, START, 60, facilitator_id="grace")
    return SessionState("s1", "guild", status, plan=plan)


def commands(states: States) -> tuple[EventsCommands, RecordingBus]:
    bus = RecordingBus()
    return EventsCommands(bus, states), bus


def plan_of(facilitator_id: str) -> SessionScheduled:
    return SessionScheduled(
        session_id="s2",
        community_id="guild",
        title="Flaky tests",
        format=SessionFormat.JOURNAL_CLUB,
        starts_at=START,
        duration_minutes=45,
        facilitator_id=facilitator_id,
    )


async def test_a_member_joins_an_existing_community_in_their_own_name() -> None:
    cmds, bus = commands(States(communities={"guild": guild()}))

    event = await cmds.join("guild", "alan", Role.MEMBER, ALAN)

    assert bus.events == [event]
    assert (event.type, event.source) == ("cop.member.joined.v1", SOURCE)
    assert event.data == {"community_id": "guild", "member_id": "alan", "role": "member"}


async def test_joining_a_community_not_known_here_is_not_found_and_publishes_nothing() -> None:
    cmds, bus = commands(States())

    with pytest.raises(NotFound) as refused:
        await cmds.join("nowhere", "alan", Role.MEMBER, ALAN)

    assert refused.value.code == "community_not_found"
    assert bus.events == []


async def test_a_member_schedules_only_what_they_facilitate_and_gets_the_default_agenda() -> None:
    cmds, bus = commands(States(communities={"guild": guild()}))

    with pytest.raises(Forbidden):
        await cmds.schedule(plan_of("lena"), GRACE)
    assert bus.events == []

    event = await cmds.schedule(plan_of("grace"), GRACE)
    assert event.type == "cop.session.scheduled.v1"
    assert event.data["agenda"] == list(DEFAULT_AGENDA)


async def test_a_session_that_exists_is_not_scheduled_twice() -> None:
    states = States(communities={"guild": guild()}, sessions={"s2": scheduled()})
    cmds, bus = commands(states)

    with pytest.raises(Refused) as refused:
        await cmds.schedule(plan_of("grace"), LEADER)

    assert refused.value.code == "session_exists"
    assert bus.events == []


async def test_a_cancelled_session_is_not_rescheduled_even_by_its_leader() -> None:
    states = States(
        communities={"guild": guild()}, sessions={"s1": scheduled(SessionStatus.CANCELLED)}
    )
    cmds, bus = commands(states)

    with pytest.raises(Refused) as refused:
        await cmds.reschedule("s1", START, LEADER)

    assert refused.value.code == "session_cancelled"
    assert bus.events == []


async def test_an_action_item_is_closed_by_its_owner_not_by_another_member() -> None:
    item = ActionItemState("a1", "guild", open=True, title="Fix CI", owner_id="alan")
    states = States(communities={"guild": guild()}, action_items={"a1": item})
    cmds, bus = commands(states)

    with pytest.raises(Forbidden):
        await cmds.close_action_item("a1", "done", GRACE)
    closed = await cmds.close_action_item("a1", "done", ALAN)

    assert bus.events == [closed]
    assert closed.data["action_item_id"] == "a1"


async def test_waiting_for_an_event_ends_when_the_projection_has_applied_it() -> None:
    states = States(applied={"e1"})
    cmds, _ = commands(states)

    assert await cmds.wait_applied("e1", timeout_s=1.0)
    assert not await cmds.wait_applied("e2", timeout_s=0.05)
