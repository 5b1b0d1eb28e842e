"""Chat accounts linked to members and chat channels mapped to communities, against the real
Kafka and MongoDB-protocol server: the contract the web edge's chat adapter reads and writes."""

import uuid
from typing import Any

import pytest

from tests.infra import Infrastructure
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.events.mongo_commands import Commands, searches
from tests.integration.events.test_replay import replayed, snapshot
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHAT_COLLECTIONS = ("chat_identities", "chat_identity_names", "chat_channels", "members")


def new(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def member(events: EventsApp, name: str) -> str:
    """A member whose profile the projection knows."""
    member_id = new(name.lower()[:4])
    profile = {"name": name, "email": f"{member_id}@example.com"}
    await events.command("PUT", f"/members/{member_id}/profile", profile)
    return member_id


def account(platform: str = "slack", user_name: str | None = "grace.h") -> dict[str, Any]:
    found: dict[str, Any] = {"platform": platform, "workspace_id": new("T"), "user_id": new("U")}
    if user_name is not None:
        found["user_name"] = user_name
    return found


def identity_path(chat: dict[str, Any]) -> str:
    return f"/chat-identities/{chat['platform']}/{chat['workspace_id']}/{chat['user_id']}"


def unlink_path(member_id: str, chat: dict[str, Any]) -> str:
    where = f"{chat['platform']}/{chat['workspace_id']}/{chat['user_id']}"
    return f"/members/{member_id}/chat-identities/{where}"


async def link(events: EventsApp, member_id: str, chat: dict[str, Any]) -> None:
    await events.command("PUT", f"/members/{member_id}/chat-identities", chat)


def holder(member_id: str, chat: dict[str, Any]) -> dict[str, Any]:
    return {"member_id": member_id, "user_name": None, **chat}


# --- linking, looking up, unlinking ---


async def test_a_linked_account_is_found_by_id_and_by_name_and_shown_to_its_member_only(
    events: EventsApp,
) -> None:
    grace, alan = await member(events, "Grace"), await member(events, "Alan")
    teams = {
        "platform": "teams",
        "workspace_id": TENANT,
        "user_id": f"29:1AbC-{uuid.uuid4().hex}",
        "user_name": "Grace.Hopper",
    }
    await link(events, grace, teams)

    assert await events.get(identity_path(teams)) == holder(grace, teams)
    for spelled in ("Grace.Hopper", "grace.hopper", "@GRACE.HOPPER"):
        by_name = f"/chat-identities/teams/{TENANT}/by-name/{spelled}"
        assert await events.get(by_name) == holder(grace, teams)
    elsewhere = await events.client.get("/chat-identities/teams/other-tenant/by-name/grace.hopper")
    problem_of(elsewhere, 404)

    own = await events.client.get(f"/members/{grace}", headers=bearer(grace))
    assert own.json()["chat_identities"] == [holder(grace, teams)]
    assert (await events.get(f"/members/{grace}"))["chat_identities"] == [holder(grace, teams)]
    public = await events.client.get(f"/members/{grace}", headers=bearer(alan))
    assert "chat_identities" not in public.json()
    assert teams["user_id"] not in public.text


async def test_a_member_unlinks_their_account_and_it_is_found_no_more(events: EventsApp) -> None:
    grace = await member(events, "Grace")
    chat = account()
    await link(events, grace, chat)

    response = await events.client.delete(
        unlink_path(grace, chat), params={"wait": "true"}, headers=bearer(grace)
    )
    assert response.status_code == 202, response.text
    assert response.json()["applied"] is True

    problem_of(await events.client.get(identity_path(chat)), 404)
    by_name = f"/chat-identities/slack/{chat['workspace_id']}/by-name/grace.h"
    problem_of(await events.client.get(by_name), 404)
    assert (await events.get(f"/members/{grace}"))["chat_identities"] == []
    again = await events.client.delete(unlink_path(grace, chat), headers=bearer(grace))
    assert problem_of(again, 404)["code"] == "chat_identity_not_linked"


async def test_linking_an_account_to_another_member_moves_it(events: EventsApp) -> None:
    grace, alan = await member(events, "Grace"), await member(events, "Alan")
    chat = account(user_name="pairing-bot")
    await link(events, grace, chat)
    await link(events, alan, {**chat, "user_name": "alan.t"})

    assert await events.get(identity_path(chat)) == holder(alan, {**chat, "user_name": "alan.t"})
    assert (await events.get(f"/members/{grace}"))["chat_identities"] == []
    assert [i["member_id"] for i in (await events.get(f"/members/{alan}"))["chat_identities"]] == [
        alan
    ]
    # The name it went by before is not the account's any more; its new name is.
    workspace = f"/chat-identities/slack/{chat['workspace_id']}/by-name"
    problem_of(await events.client.get(f"{workspace}/pairing-bot"), 404)
    assert (await events.get(f"{workspace}/alan.t"))["member_id"] == alan

    # Grace no longer holds it: her unlink is refused and leaves Alan's link as it is.
    refused = await events.client.delete(unlink_path(grace, chat), headers=bearer(grace))
    assert problem_of(refused, 404)["code"] == "chat_identity_not_linked"
    assert (await events.get(identity_path(chat)))["member_id"] == alan


async def test_an_unknown_member_or_an_unlinked_account_is_404(events: EventsApp) -> None:
    chat = account()
    unknown = await events.client.put(f"/members/{new('nobody')}/chat-identities", json=chat)
    assert problem_of(unknown, 404)["code"] == "member_not_found"
    problem_of(await events.client.get(identity_path(chat)), 404)


# --- who may ---


async def test_only_admins_link_accounts_and_read_who_holds_one(events: EventsApp) -> None:
    grace = await member(events, "Grace")
    chat = account()

    own = await events.client.put(
        f"/members/{grace}/chat-identities", json=chat, headers=bearer(grace)
    )
    assert problem_of(own, 403)["code"] == "not_admin"
    await link(events, grace, chat)

    by_id = await events.client.get(identity_path(chat), headers=bearer(grace))
    assert problem_of(by_id, 403)["code"] == "not_admin"
    by_name = f"/chat-identities/slack/{chat['workspace_id']}/by-name/grace.h"
    problem_of(await events.client.get(by_name, headers=bearer(grace)), 403)
    anonymous = await events.client.get(identity_path(chat), headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_a_member_cannot_unlink_someone_elses_account(events: EventsApp) -> None:
    grace, alan = await member(events, "Grace"), await member(events, "Alan")
    chat = account()
    await link(events, grace, chat)

    refused = await events.client.delete(unlink_path(grace, chat), headers=bearer(alan))
    assert problem_of(refused, 403)["code"] == "not_self"
    assert (await events.get(identity_path(chat)))["member_id"] == grace


# --- channels ---


def channel_path(platform: str, workspace_id: str, channel_id: str) -> str:
    return f"/chat-channels/{platform}/{workspace_id}/{channel_id}"


async def test_the_leader_maps_a_channel_and_anyone_signed_in_reads_the_mapping(
    events: EventsApp,
) -> None:
    community = await events.new_community(leader="lea")
    channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
    mapped = await events.client.put(
        f"/communities/{community}/chat-channels/teams/{TENANT}/{channel_id}",
        json={"channel_name": "Testing guild"},
        params={"wait": "true"},
        headers=bearer("lea"),
    )
    assert mapped.status_code == 202, mapped.text
    assert mapped.json()["type"] == "cop.community.chat_channel_mapped.v1"

    found = await events.client.get(channel_path("teams", TENANT, channel_id), headers=bearer("x"))
    assert found.status_code == 200, found.text
    assert found.json() == {
        "community_id": community,
        "platform": "teams",
        "workspace_id": TENANT,
        "channel_id": channel_id,
        "channel_name": "Testing guild",
    }
    anonymous = await events.client.get(
        channel_path("teams", TENANT, channel_id), headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    problem_of(await events.client.get(channel_path("teams", TENANT, "19:none@thread.v2")), 404)


async def test_a_plain_member_may_not_map_a_channel_nor_anyone_to_an_unknown_community(
    events: EventsApp,
) -> None:
    community = await events.new_community(leader="lea")
    await events.join(community, "ann")
    path = f"/communities/{community}/chat-channels/slack/T1/{new('C')}"

    refused = await events.client.put(path, json={}, headers=bearer("ann"))
    assert problem_of(refused, 403)["code"] == "not_leader_or_admin"
    unknown = await events.client.put(
        f"/communities/{new('c-')}/chat-channels/slack/T1/C1", json={}, headers=bearer("lea")
    )
    assert problem_of(unknown, 404)["code"] == "community_not_found"
    problem_of(await events.client.get(path.replace(f"/communities/{community}", "")), 404)


async def test_a_channel_mapped_again_moves_to_the_newest_community(events: EventsApp) -> None:
    first, second = await events.new_community(leader="lea"), await events.new_community("max")
    channel_id = new("C")
    for community, leader in ((first, "lea"), (second, "max")):
        response = await events.client.put(
            f"/communities/{community}/chat-channels/slack/T1/{channel_id}",
            params={"wait": "true"},
            headers=bearer(leader),
        )
        assert response.status_code == 202, response.text

    found = await events.get(channel_path("slack", "T1", channel_id))
    assert (found["community_id"], found["channel_name"]) == (second, None)


# --- bad input ---


async def test_an_unknown_platform_is_422_naming_the_field(events: EventsApp) -> None:
    grace = await member(events, "Grace")
    body = {**account(), "platform": "irc"}
    in_body = await events.client.put(f"/members/{grace}/chat-identities", json=body)
    assert fields(problem_of(in_body, 422)) == {"platform"}
    in_path = await events.client.get("/chat-identities/irc/T1/U1")
    assert fields(problem_of(in_path, 422)) == {"path.platform"}
    bad_id = await events.client.put(
        f"/members/{grace}/chat-identities", json={**account(), "user_id": "<@U1|grace>"}
    )
    assert fields(problem_of(bad_id, 422)) == {"user_id"}


# --- rebuilt from the topics ---


async def test_links_and_mappings_rebuilt_from_the_topics_equal_the_live_ones(
    infra: Infrastructure, events: EventsApp
) -> None:
    grace, alan = await member(events, "Grace"), await member(events, "Alan")
    moved, dropped = account(user_name="gh"), account("mattermost", user_name=None)
    await link(events, grace, moved)
    await link(events, alan, moved)
    await link(events, grace, moved)
    await link(events, alan, dropped)
    await events.command("DELETE", unlink_path(alan, dropped))
    first, second = await events.new_community(leader="lea"), await events.new_community("max")
    await events.command("PUT", f"/communities/{first}/chat-channels/slack/T1/C1", {})
    await events.command("PUT", f"/communities/{second}/chat-channels/slack/T1/C1", {})
    live = await snapshot(infra, events.settings.mongodb_database)

    rebuilt = await replayed(infra, events.settings, len(live["applied_events"]))
    assert len(live["chat_identities"]) == 2
    assert len(live["chat_channels"]) == 1
    for name in CHAT_COLLECTIONS:
        assert rebuilt[name] == live[name], f"{name} differs after replay"
    assert (await events.get(identity_path(moved)))["member_id"] == grace
    problem_of(await events.client.get(identity_path(dropped)), 404)
    assert (await events.get(channel_path("slack", "T1", "C1")))["community_id"] == second


# --- read by `_id` ---


async def test_linking_mapping_and_looking_up_address_documents_by_id_only(
    watched: tuple[EventsApp, Commands],
) -> None:
    events, commands = watched
    grace, alan = await member(events, "Grace"), await member(events, "Alan")
    chat = account()
    await link(events, grace, chat)
    await link(events, alan, chat)
    community = await events.new_community(leader="lea")
    await events.command("PUT", f"/communities/{community}/chat-channels/slack/T1/C1", {})
    await events.command("DELETE", unlink_path(alan, chat))
    written = commands.take()

    problem_of(await events.client.get(identity_path(chat)), 404)
    problem_of(
        await events.client.get(f"/chat-identities/slack/{chat['workspace_id']}/by-name/grace.h"),
        404,
    )
    assert (await events.get(channel_path("slack", "T1", "C1")))["community_id"] == community
    assert (await events.get(f"/members/{alan}"))["chat_identities"] == []
    read = commands.take()

    assert searches(written) == [], "commands or event handling searched"
    assert searches(read) == [], "queries searched"
    finds = {collection for name, collection, _ in read if name == "find"}
    assert finds >= {"chat_identities", "chat_identity_names", "chat_channels", "members"}
