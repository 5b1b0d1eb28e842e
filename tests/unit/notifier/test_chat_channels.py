"""A chat channel mapped to a community, as the notifier's channel: which platforms, the id, the
channel its workspace's webhook is told to post to, and the setting that names the webhooks."""

import pytest
from pydantic import ValidationError

from services.notifier.adapters.webhook_targets import TargetPolicy
from services.notifier.bootstrap import mapped_channel_webhooks
from services.notifier.domain.chat_channels import mapped_channel
from services.notifier.domain.messages import ChatContent, chat_payload
from services.notifier.settings import NotifierSettings
from shared.events.catalog import ChatPlatform, CommunityChatChannelMapped

URLS = {"slack": "https://hooks.slack.com/services/T1/B1/x", "mattermost": "https://mm/hooks/y"}


def mapped(
    platform: ChatPlatform, channel_id: str, channel_name: str | None = None
) -> CommunityChatChannelMapped:
    return CommunityChatChannelMapped(
        community_id="c1",
        platform=platform,
        workspace_id="W1",
        channel_id=channel_id,
        channel_name=channel_name,
        mapped_by="lea",
    )


def test_a_slack_channel_is_posted_to_by_its_id_through_the_workspaces_webhook() -> None:
    channel = mapped_channel(mapped(ChatPlatform.SLACK, "C0ABC12", "general"), URLS)

    assert channel == {
        "id": "slack-c0abc12",
        "kind": "slack",
        "url": URLS["slack"],
        "secret": None,
        "channel": "C0ABC12",
    }


def test_a_mattermost_channel_is_posted_to_by_its_name_else_its_id() -> None:
    named = mapped_channel(mapped(ChatPlatform.MATTERMOST, "x7k2", "town-square"), URLS)
    assert named is not None
    assert (named["id"], named["channel"]) == ("mattermost-x7k2", "town-square")
    display_name = mapped_channel(mapped(ChatPlatform.MATTERMOST, "x7k2", "Town Square"), URLS)
    assert display_name is not None
    assert display_name["channel"] == "x7k2"


def test_teams_and_platforms_without_a_webhook_get_no_channel() -> None:
    teams = mapped(ChatPlatform.TEAMS, "19:abc@thread.tacv2")
    assert mapped_channel(teams, {**URLS, "teams": "https://example.com/x"}) is None
    assert mapped_channel(mapped(ChatPlatform.SLACK, "C1"), {}) is None


def test_slack_and_mattermost_payloads_name_the_channel_only_when_one_is_given() -> None:
    content = ChatContent(title="Kudos", text="Thanks", facts={})
    event = {"id": "e1"}
    assert chat_payload("slack", content, event=event, channel="C1")["channel"] == "C1"
    assert chat_payload("mattermost", content, event=event, channel="town")["channel"] == "town"
    assert "channel" not in chat_payload("slack", content, event=event)


def test_the_setting_takes_slack_and_mattermost_webhooks_only() -> None:
    settings = NotifierSettings(notifier_chat_webhook_urls=URLS)
    assert set(settings.notifier_chat_webhook_urls) == {"slack", "mattermost"}
    with pytest.raises(ValidationError, match="teams"):
        NotifierSettings(notifier_chat_webhook_urls={"teams": "https://example.com/x"})
    assert NotifierSettings().notifier_chat_webhook_urls == {}


def test_a_webhook_host_outside_the_allowlist_is_refused_at_start() -> None:
    settings = NotifierSettings(notifier_chat_webhook_urls=URLS)
    allowed = TargetPolicy(allowed_hosts=("hooks.slack.com", "mm"))
    assert mapped_channel_webhooks(settings, allowed) == URLS
    with pytest.raises(ValueError, match="host mm is not on CHAT_ALLOWED_HOSTS"):
        mapped_channel_webhooks(settings, TargetPolicy(allowed_hosts=("hooks.slack.com",)))
