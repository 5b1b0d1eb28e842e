"""A chat channel mapped to a community without channels becomes its channel: posted through the
workspace's incoming webhook (`NOTIFIER_CHAT_WEBHOOK_URLS`) with the channel named in the
payload. Against the real Kafka, MongoDB-protocol server, Redis and the chat sink."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.settings import NotifierSettings
from shared.documents import Doc
from shared.events.catalog import CommunityChatChannelMapped, CommunityLeaderChanged
from shared.events.envelope import CloudEvent, new_event
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database
from tests.integration.notifier.test_routing import (
    SOURCE,
    Notifier,
    kudos_judged,
    led_community,
    new_id,
    profile,
    routing_settings,
    running,
)
from tests.integration.polling import eventually
from tests.problems import fields, problem_of
from tests.sinks import Sinks

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(infra: Infrastructure, sinks: Sinks, unique: str) -> AsyncIterator[Notifier]:
    """The notifier with a Slack and a Mattermost workspace webhook on the chat sink."""
    base = f"http://127.0.0.1:{sinks.chat_port}/hooks"
    webhooks = {"slack": f"{base}/slack-{unique}", "mattermost": f"{base}/mm-{unique}"}
    settings: NotifierSettings = routing_settings(
        infra, sinks, f"ncm{unique}", notifier_chat_webhook_urls=webhooks
    )
    async with running(infra, settings) as started:
        yield started
    await drop_database(infra, settings.mongodb_database)


def channel_mapped(
    community_id: str,
    platform: str,
    channel_id: str,
    channel_name: str | None = None,
    at: datetime | None = None,
) -> CloudEvent:
    return new_event(
        CommunityChatChannelMapped(
            community_id=community_id,
            platform=platform,
            workspace_id="W1",
            channel_id=channel_id,
            channel_name=channel_name,
            mapped_by="lea",
        ),
        source=SOURCE,
        time=at,
    )


async def channels(notifier: Notifier, community_id: str) -> list[Doc]:
    response = await notifier.client.get(f"/communities/{community_id}/channels")
    assert response.status_code == 200, response.text
    found: list[Doc] = response.json()
    return found


async def applied_after(notifier: Notifier, community_id: str, *events: CloudEvent) -> None:
    """Send `events`, then a leader change of the same community (the same partition, so it is
    applied after them), and wait until the notifier shows the new leader."""
    leader = new_id("m")
    handover = new_event(
        CommunityLeaderChanged(
            community_id=community_id, leader_id=leader, previous_leader_id="lea"
        ),
        source=SOURCE,
    )
    await notifier.send(*events, handover)
    await notifier.knows(community=community_id, leader=leader)


async def test_a_mapped_channel_becomes_the_channel_and_posts_name_it(
    notifier: Notifier, sinks: Sinks, unique: str
) -> None:
    community, _ = await led_community(notifier)
    await notifier.send(channel_mapped(community, "slack", "C0TESTING", "testing-guild"))

    async def added() -> list[Doc] | None:
        return await channels(notifier, community) or None

    (channel,) = await eventually(added, what="the mapped channel in the community's channels")
    assert channel == {
        "id": "slack-c0testing",
        "kind": "slack",
        "host": "127.0.0.1",
        "channel": "C0TESTING",
        "secret": None,
    }

    giver, receiver = new_id("m"), new_id("m")
    await notifier.send(profile(giver, "Grace"), profile(receiver, "Alan"))
    await notifier.knows(profiles=[giver, receiver])
    kudos = kudos_judged(community, giver, (receiver, "counted"))
    await notifier.send(kudos)

    async def posted() -> list[Doc] | None:
        return [p for p in sinks.posts() if p["path"] == f"/hooks/slack-{unique}"] or None

    (post,) = await eventually(posted, what="the kudos posted through the Slack webhook")
    assert post["body"]["channel"] == "C0TESTING"
    assert "Alan" in post["body"]["text"]
    assert post["headers"]["idempotency-key"] == f"{kudos.id}:channel-slack-c0testing:chat"
    planned = await notifier.deliveries(cause_event_id=kudos.id)
    assert [d["channel"] for d in planned if d["member_id"] is None] == ["slack-c0testing"]


async def test_a_community_with_a_channel_keeps_it_when_a_channel_is_mapped(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, leader = await led_community(notifier)
    ours = {"id": "ours", "kind": "mattermost", "url": f"http://127.0.0.1:{sinks.chat_port}/x"}
    response = await notifier.client.put(
        f"/communities/{community}/channels", json={"channels": [ours]}, headers=bearer(leader)
    )
    assert response.status_code == 200, response.text
    before = await channels(notifier, community)

    await applied_after(
        notifier,
        community,
        channel_mapped(community, "mattermost", "x7k2", "town-square"),
        channel_mapped(community, "slack", "C0OTHER"),
    )

    assert await channels(notifier, community) == before


async def test_only_the_first_mapped_channel_is_added_and_teams_is_never(
    notifier: Notifier,
) -> None:
    community, _ = await led_community(notifier)
    teams = channel_mapped(community, "teams", "19:abc@thread.tacv2", "Testing")
    first = channel_mapped(community, "mattermost", "x7k2", "town-square")
    await applied_after(
        notifier, community, teams, first, first, channel_mapped(community, "slack", "C1")
    )

    (channel,) = await channels(notifier, community)
    assert (channel["id"], channel["kind"], channel["channel"]) == (
        "mattermost-x7k2",
        "mattermost",
        "town-square",
    )


async def test_a_leader_names_the_channel_of_a_slack_or_mattermost_webhook_only(
    notifier: Notifier, sinks: Sinks
) -> None:
    community, leader = await led_community(notifier)
    url = f"http://127.0.0.1:{sinks.chat_port}/hooks/workspace"
    named = {"id": "guild", "kind": "slack", "url": url, "channel": "#testing-guild"}
    response = await notifier.client.put(
        f"/communities/{community}/channels", json={"channels": [named]}, headers=bearer(leader)
    )
    assert response.status_code == 200, response.text
    assert (await channels(notifier, community))[0]["channel"] == "#testing-guild"

    teams = {**named, "kind": "teams"}
    refused = await notifier.client.put(
        f"/communities/{community}/channels", json={"channels": [teams]}, headers=bearer(leader)
    )
    assert fields(problem_of(refused, 422)) == {"channels.0.channel"}


async def test_a_community_whose_channels_were_all_removed_takes_the_mapped_one(
    notifier: Notifier,
) -> None:
    community, leader = await led_community(notifier)
    response = await notifier.client.put(
        f"/communities/{community}/channels", json={"channels": []}, headers=bearer(leader)
    )
    assert response.status_code == 200, response.text

    await applied_after(notifier, community, channel_mapped(community, "slack", "C0AGAIN"))

    assert [c["id"] for c in await channels(notifier, community)] == ["slack-c0again"]


async def test_a_channel_mapped_to_another_community_leaves_the_first(
    notifier: Notifier,
) -> None:
    first, _ = await led_community(notifier)
    second, _ = await led_community(notifier)
    await applied_after(notifier, first, channel_mapped(first, "slack", "C0MOVING"))
    assert [c["id"] for c in await channels(notifier, first)] == ["slack-c0moving"]

    await applied_after(notifier, second, channel_mapped(second, "slack", "C0MOVING"))

    assert [c["id"] for c in await channels(notifier, second)] == ["slack-c0moving"]
    assert await channels(notifier, first) == []


async def test_an_older_mapping_arriving_after_a_newer_one_changes_nothing(
    notifier: Notifier,
) -> None:
    """Each community's events are on its own partition, so two mappings of one channel may be
    applied in either order: the later in time wins."""
    earlier, _ = await led_community(notifier)
    later, _ = await led_community(notifier)
    now = datetime.now(UTC)
    newer = channel_mapped(later, "mattermost", "x9q4", "guild-room", at=now)
    older = channel_mapped(earlier, "mattermost", "x9q4", "guild-room", at=now - timedelta(hours=1))

    await applied_after(notifier, later, newer)
    await applied_after(notifier, earlier, older)

    assert [c["id"] for c in await channels(notifier, later)] == ["mattermost-x9q4"]
    assert await channels(notifier, earlier) == []
