"""Communities and members on the real broker and MongoDB-protocol server."""

import pytest

from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration


async def test_created_community_has_its_charter_leader_stage_and_one_member(
    events: EventsApp,
) -> None:
    community_id = await events.new_community(leader="lea", sponsor_ids=["vp-eng"])
    community = await events.get(f"/communities/{community_id}")
    assert community["charter"]["purpose"] == "Share how we test"
    assert community["charter"]["goals"] == ["halve flaky tests"]
    assert community["leader_id"] == "lea"
    assert community["sponsor_ids"] == ["vp-eng"]
    assert community["stage"] == "potential"
    assert community["member_count"] == 1
    members = await events.get(f"/communities/{community_id}/members")
    assert members["total"] == 1
    assert members["items"][0]["member_id"] == "lea"
    assert members["items"][0]["role"] == "core"


async def test_creating_the_same_community_twice_is_refused(events: EventsApp) -> None:
    community_id = await events.new_community()
    response = await events.client.post(
        "/communities",
        json={
            "community_id": community_id, "name": "x", "domain": "y",
            "charter": {"purpose": "z"}, "leader_id": "lea",
        },
    )  # fmt: skip
    assert response.status_code == 409
    assert response.json()["code"] == "community_exists"


async def test_stage_moves_only_along_sensible_transitions(events: EventsApp) -> None:
    community_id = await events.new_community()
    url = f"/communities/{community_id}"
    await events.command("PATCH", url, {"stage": "coalescing"})
    refused = await events.client.patch(url, json={"stage": "stewardship"})
    assert problem_of(refused, 409)["code"] == "invalid_stage_transition"
    await events.command("PATCH", url, {"stage": "maturing"})
    await events.command("PATCH", url, {"stage": "stewardship"})
    await events.command("PATCH", url, {"stage": "transformation"})
    final = await events.client.patch(url, json={"stage": "maturing"})
    assert final.status_code == 409
    assert (await events.get(url))["stage"] == "transformation"


async def test_charter_and_name_updates_show_in_the_community(events: EventsApp) -> None:
    community_id = await events.new_community()
    charter = {"purpose": "Make testing boring", "goals": ["mutation testing everywhere"]}
    await events.command(
        "PATCH", f"/communities/{community_id}", {"name": "Quality guild", "charter": charter}
    )
    community = await events.get(f"/communities/{community_id}")
    assert community["name"] == "Quality guild"
    assert community["charter"]["purpose"] == "Make testing boring"
    empty = await events.client.patch(f"/communities/{community_id}", json={})
    assert empty.status_code == 422
    path_field = await events.client.patch(
        f"/communities/{community_id}", json={"community_id": "other", "name": "x"}
    )
    assert path_field.status_code == 422
    assert [e["field"] for e in path_field.json()["errors"]] == ["community_id"]


async def test_leader_changes_are_their_own_event_and_one_leader_stays(events: EventsApp) -> None:
    community_id = await events.new_community(leader="lea")
    url = f"/communities/{community_id}/leader"
    answer = await events.command("PUT", url, {"leader_id": "max"})
    assert answer["type"] == "cop.community.leader_changed.v1"
    assert (await events.get(f"/communities/{community_id}"))["leader_id"] == "max"
    same = await events.client.put(url, json={"leader_id": "max"})
    assert same.status_code == 409
    assert same.json()["code"] == "same_leader"


async def test_members_join_and_leave_voluntarily_with_a_role(events: EventsApp) -> None:
    community_id = await events.new_community(leader="lea")
    members_url = f"/communities/{community_id}/members"
    await events.command("POST", members_url, {"member_id": "ann", "role": "mentor"})
    await events.command("POST", members_url, {"member_id": "bob"})
    again = await events.client.post(members_url, json={"member_id": "ann"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_member"
    roles = {m["member_id"]: m["role"] for m in (await events.get(members_url))["items"]}
    assert roles == {"lea": "core", "ann": "mentor", "bob": "member"}
    assert (await events.get(f"/communities/{community_id}"))["member_count"] == 3

    await events.command("DELETE", f"{members_url}/bob")
    stranger = await events.client.delete(f"{members_url}/zed")
    assert stranger.json()["code"] == "not_a_member"
    leader = await events.client.delete(f"{members_url}/lea")
    assert leader.status_code == 409
    assert leader.json()["code"] == "leader_cannot_leave"
    assert (await events.get(f"/communities/{community_id}"))["member_count"] == 2


async def test_communities_are_listed_with_member_counts(events: EventsApp) -> None:
    first = await events.new_community()
    second = await events.new_community()
    await events.command("POST", f"/communities/{second}/members", {"member_id": "ann"})
    listed = await events.get("/communities")
    counts = {c["community_id"]: c["member_count"] for c in listed["items"]}
    assert counts == {first: 1, second: 2}
    assert listed["total"] == 2


async def test_unknown_community_answers_404_problem(events: EventsApp) -> None:
    response = await events.client.post("/communities/nope/members", json={"member_id": "ann"})
    assert response.status_code == 404
    assert response.json()["code"] == "community_not_found"
    assert (await events.client.get("/communities/nope")).status_code == 404


async def test_member_profile_arrives_through_the_api(events: EventsApp) -> None:
    await events.command(
        "PUT",
        "/members/ann/profile",
        {"name": "Ann Lee", "email": "ann@example.com", "team": "payments", "timezone": "CET"},
    )
    member = await events.get("/members/ann")
    assert member["email"] == "ann@example.com"
    assert member["team"] == "payments"
    bad = await events.client.put("/members/ann/profile", json={"name": "", "email": "nope"})
    assert bad.status_code == 422
    assert fields(bad.json()) == {"name", "email"}


async def test_members_join_leave_and_update_profiles_only_in_their_own_name(
    events: EventsApp,
) -> None:
    community_id = await events.new_community(leader="lea")
    members_url = f"/communities/{community_id}/members"
    for_someone_else = await events.client.post(
        members_url, json={"member_id": "bob"}, headers=bearer("ann")
    )
    assert for_someone_else.status_code == 403
    own = await events.client.post(members_url, json={"member_id": "ann"}, headers=bearer("ann"))
    assert own.status_code == 202
    profile = {"name": "Bob", "email": "attacker@example.com"}
    hijack = await events.client.put("/members/bob/profile", json=profile, headers=bearer("ann"))
    assert hijack.status_code == 403
    anonymous = await events.client.post(
        "/communities", json={"name": "x"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
