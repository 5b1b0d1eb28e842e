"""A community's chat channel made from a chat channel mapped to it (a leader's slash command in
that channel). A slash command gives no URL to post to, so the post goes through the
workspace's incoming webhook (from the settings) and names the channel in its payload: only
Slack's and Mattermost's webhooks take that override (Teams' do not). No I/O."""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import Field

from shared.events.catalog import ChatPlatform, CommunityChatChannelMapped

OVERRIDE_PATTERN: Final = r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]*$"
ChannelOverride = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=OVERRIDE_PATTERN,
        description="slack and mattermost only: the channel the workspace's webhook posts to "
        "(a Slack channel id or #name, a Mattermost channel name)",
    ),
]
OVERRIDABLE: Final = frozenset({ChatPlatform.SLACK.value, ChatPlatform.MATTERMOST.value})
"""The kinds of channel whose incoming webhooks post where the payload's `channel` says."""
_NOT_IN_ID = re.compile(r"[^a-z0-9_-]")


def channel_id(mapped: CommunityChatChannelMapped) -> str:
    """`<platform>-<channel id>` in the form a community's channel ids take (lower case,
    letters, digits, `_` and `-`, at most 50)."""
    return _NOT_IN_ID.sub("-", f"{mapped.platform.value}-{mapped.channel_id}".lower())[:50]


def override(mapped: CommunityChatChannelMapped) -> str:
    """What the payload names the channel by: Slack's webhooks take the channel id (it survives
    a rename), Mattermost's the channel's name (not its id)."""
    name = mapped.channel_name or ""
    mattermost = mapped.platform is ChatPlatform.MATTERMOST
    if mattermost and len(name) <= 100 and re.fullmatch(OVERRIDE_PATTERN, name):
        return name
    return mapped.channel_id


def mapped_channel(
    mapped: CommunityChatChannelMapped, webhook_urls: Mapping[str, str]
) -> dict[str, Any] | None:
    """The channel to give a community without one, or None when the platform's webhooks take
    no channel override or none is configured for it."""
    platform = mapped.platform.value
    url = webhook_urls.get(platform)
    if platform not in OVERRIDABLE or url is None:
        return None
    return {
        "id": channel_id(mapped),
        "kind": platform,
        "url": url,
        "secret": None,
        "channel": override(mapped),
    }
