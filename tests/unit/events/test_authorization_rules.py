"""Who may do what (docs/events.md#who-may-do-what), decided in the domain: a refusal is
Forbidden, with a code."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.events.domain import community, member, session
from services.events.domain.actor import Actor
from services.events.domain.community import CommunityState
from services.events.domain.session import (
    ActionItemState,
    HoldDetails,
    SessionPlan,
    SessionState,
    SessionStatus,
)
from shared.events.catalog import (
    MemberProfileUpdated,
    Role,
    SessionFormat,
    SessionScheduled,
    Stage,
)
from shared.refusals import Forbidden, Refused

START = datetime(2026, 12, 3, 12, tzinfo=UTC)
GUILD = CommunityState(
    "c1",
    "lea",
    Stage.COALESCING,
    {
        "lea": Role.CORE,  # the leader
        "cora": Role.CORE,
        "fay": Role.MEMBER,  # facilitates the session
        "ann": Role.MEMBER,  # owns the action item
        "mia": Role.MEMBER,
        "men": Role.MENTOR,
        "spo": Role.SPONSOR,
    },
)
SESSION = SessionState(
    "s1", "c1", SessionStatus.SCHEDULED,
    plan=SessionPlan("PBT", SessionFormat.BROWN_BAG, START, 60, "fay"),
)  # fmt: skip
ITEM = ActionItemState("ai-1", "c1", True, title="Try mob testing", owner_id="ann", session_id="s1")
ACTORS = {
    name: Actor(name, is_admin=name == "ops")
    for name in ("ops", "lea", "cora", "fay", "ann", "mia", "men", "spo", "zed")
}
STEWARDS = {"ops", "lea", "cora"}
RUNNERS = STEWARDS | {"fay"}


def scheduled(facilitator: str) -> SessionScheduled:
    return SessionScheduled(
        session_id="s2", community_id="c1", title="Kata", format="workshop", starts_at=START,
        duration_minutes=60, facilitator_id=facilitator,
    )  # fmt: skip


Command = Callable[[Actor], Any]
# command -> (who may, the code of everyone else's refusal)
RULES: dict[str, tuple[Command, set[str], str]] = {
    "update the community": (
        lambda a: community.update(GUILD, a, name="Quality guild"),
        STEWARDS, "not_leader_or_core",
    ),
    "change the leader": (
        lambda a: community.change_leader(GUILD, "cora", a), STEWARDS, "not_leader_or_core"
    ),
    "schedule a session fay facilitates": (
        lambda a: session.schedule(GUILD, None, scheduled("fay"), a),
        RUNNERS, "not_leader_or_core",
    ),
    "reschedule": (
        lambda a: session.reschedule(SESSION, GUILD, START, a),
        RUNNERS, "not_facilitator_leader_or_core",
    ),
    "cancel": (
        lambda a: session.cancel(SESSION, GUILD, "room flooded", a),
        RUNNERS, "not_facilitator_leader_or_core",
    ),
    "hold": (
        lambda a: session.hold(SESSION, GUILD, HoldDetails(("ann",)), a),
        RUNNERS, "not_facilitator_leader_or_core",
    ),
    "check ann in": (
        lambda a: session.check_in(SESSION, GUILD, "ann", a, START),
        RUNNERS | {"ann"}, "not_facilitator_leader_or_core",
    ),
    "open an action item": (
        lambda a: session.open_action_item(
            SESSION, GUILD, None, a, action_item_id="ai-2", title="x", owner_id="ann"
        ),
        RUNNERS, "not_facilitator_leader_or_core",
    ),
    "close ann's action item": (
        lambda a: session.close_action_item(ITEM, SESSION, GUILD, "done", a),
        RUNNERS | {"ann"}, "not_owner_facilitator_leader_or_core",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("action", "actor"), [(action, actor) for action in RULES for actor in ACTORS]
)
def test_who_may_do_what(action: str, actor: str) -> None:
    command, allowed, code = RULES[action]
    if actor in allowed:
        command(ACTORS[actor])
        return
    with pytest.raises(Forbidden) as forbidden:
        command(ACTORS[actor])
    assert forbidden.value.code == code
    assert forbidden.value.status == 403


def test_forbidden_is_a_refusal_answered_403() -> None:
    assert issubclass(Forbidden, Refused)
    assert (Forbidden.status, Refused.status) == (403, 409)


def test_authorization_is_decided_before_the_state_so_strangers_learn_nothing() -> None:
    cancelled = SessionState("s1", "c1", SessionStatus.CANCELLED, plan=SESSION.plan)
    with pytest.raises(Forbidden):
        session.hold(cancelled, GUILD, HoldDetails(), ACTORS["mia"])
    with pytest.raises(Refused) as refused:
        session.hold(cancelled, GUILD, HoldDetails(), ACTORS["fay"])
    assert refused.value.code == "session_cancelled"


def test_a_member_schedules_a_session_they_facilitate_but_a_stranger_does_not() -> None:
    assert session.schedule(GUILD, None, scheduled("mia"), ACTORS["mia"]).facilitator_id == "mia"
    with pytest.raises(Forbidden) as stranger:
        session.schedule(GUILD, None, scheduled("zed"), ACTORS["zed"])
    assert stranger.value.code == "not_leader_or_core"


def test_without_its_community_only_the_facilitator_and_admins_run_a_session() -> None:
    session.reschedule(SESSION, None, START, ACTORS["fay"])
    session.reschedule(SESSION, None, START, ACTORS["ops"])
    with pytest.raises(Forbidden):
        session.reschedule(SESSION, None, START, ACTORS["lea"])


def test_without_its_schedule_the_facilitator_is_not_known_and_only_stewards_run_it() -> None:
    unplanned = SessionState("s1", "c1", SessionStatus.SCHEDULED)
    session.cancel(unplanned, GUILD, "x", ACTORS["cora"])
    with pytest.raises(Forbidden):
        session.cancel(unplanned, GUILD, "x", ACTORS["fay"])


def test_an_action_item_without_a_session_is_closed_by_its_owner_or_the_stewards() -> None:
    loose = ActionItemState("ai-3", "c1", True, title="x", owner_id="ann")
    for name in ("ann", "lea", "ops"):
        session.close_action_item(loose, None, GUILD, "done", ACTORS[name])
    with pytest.raises(Forbidden):
        session.close_action_item(loose, None, GUILD, "done", ACTORS["fay"])


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MENTOR])
def test_a_member_joins_on_their_own_as_member_or_mentor(role: Role) -> None:
    assert community.join(GUILD, "zed", role, ACTORS["zed"]).role is role


@pytest.mark.parametrize("role", [Role.CORE, Role.SPONSOR])
def test_core_and_sponsor_roles_are_given_only_by_stewards(role: Role) -> None:
    with pytest.raises(Forbidden) as forbidden:
        community.join(GUILD, "zed", role, ACTORS["zed"])
    assert forbidden.value.code == "not_leader_or_core"
    for steward in STEWARDS:
        assert community.join(GUILD, "zed", role, ACTORS[steward]).member_id == "zed"


def test_joining_leaving_and_feedback_for_someone_else_are_for_stewards_or_admins() -> None:
    with pytest.raises(Forbidden) as join:
        community.join(GUILD, "zed", Role.MEMBER, ACTORS["mia"])
    assert join.value.code == "not_self"
    with pytest.raises(Forbidden) as leave:
        community.leave(GUILD, "ann", ACTORS["lea"])  # the leader cannot remove members either
    assert leave.value.code == "not_self"
    community.leave(GUILD, "ann", ACTORS["ops"])
    held = SessionState("s1", "c1", SessionStatus.HELD, frozenset({"ann"}), plan=SESSION.plan)
    with pytest.raises(Forbidden) as feedback:
        session.submit_feedback(held, "ann", ACTORS["fay"], rating=5)
    assert feedback.value.code == "not_self"


def test_a_profile_changes_only_in_its_members_name_and_personal_data_is_theirs() -> None:
    profile = MemberProfileUpdated(member_id="ann", name="Ann", email="ann@example.com")
    assert member.update_profile(profile, ACTORS["ann"]) is profile
    assert member.update_profile(profile, ACTORS["ops"]) is profile
    with pytest.raises(Forbidden) as forbidden:
        member.update_profile(profile, ACTORS["lea"])
    assert forbidden.value.code == "not_self"
    assert member.sees_personal_data(ACTORS["ann"], "ann")
    assert member.sees_personal_data(ACTORS["ops"], "ann")
    assert not member.sees_personal_data(ACTORS["lea"], "ann")
