"""Chat accounts and channels: which member holds a chat account, which community a chat channel
maps to. No I/O.

A chat account's links and unlinks are keyed by member, so two members' events may be applied
in either order; likewise a channel's mappings are keyed by community. Each is therefore kept
as the set of its claims, and who holds it now is decided here, from all of them in event-time
order: the same answer whatever order they arrived in, and after a replay.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.events.catalog import ChatPlatform


def chat_key(platform: ChatPlatform, workspace_id: str, local_id: str) -> str:
    """`platform|workspace|id`: no id holds `|` (Teams ids hold `:`, so `:` would be ambiguous)."""
    return f"{platform.value}|{workspace_id}|{local_id}"


def normal_name(user_name: str) -> str:
    """A chat user name as a lookup compares it: without a leading `@`, case-insensitively."""
    return user_name.strip().removeprefix("@").casefold()


@dataclass(frozen=True)
class ChatAccount:
    """One user of one workspace of a chat platform."""

    platform: ChatPlatform
    workspace_id: str
    user_id: str

    @property
    def key(self) -> str:
        return chat_key(self.platform, self.workspace_id, self.user_id)


@dataclass(frozen=True)
class Claim:
    """One link (`linked`) or unlink of a chat account, at its event's time."""

    event_id: str
    at: datetime
    member_id: str
    linked: bool
    user_name: str | None = None


@dataclass(frozen=True)
class ChatLink:
    """Who holds a chat account now, under which name, since when."""

    account: ChatAccount
    member_id: str
    user_name: str | None
    since: datetime


def holder(account: ChatAccount, claims: Iterable[Claim]) -> ChatLink | None:
    """The member who holds the account: a link gives it to its member (taking it from whoever
    had it); an unlink takes it back only from the member it names, so a member's unlink never
    undoes a newer link to someone else. None when nobody holds it."""
    link: ChatLink | None = None
    for claim in sorted(claims, key=lambda c: (c.at, c.event_id)):
        if claim.linked:
            link = ChatLink(account, claim.member_id, claim.user_name, claim.at)
        elif link is not None and link.member_id == claim.member_id:
            link = None
    return link


@dataclass(frozen=True)
class ChatChannelRef:
    """One channel of one workspace of a chat platform."""

    platform: ChatPlatform
    workspace_id: str
    channel_id: str

    @property
    def key(self) -> str:
        return chat_key(self.platform, self.workspace_id, self.channel_id)


@dataclass(frozen=True)
class ChannelMapping:
    """A channel mapped to a community, at its event's time."""

    event_id: str
    at: datetime
    community_id: str
    channel_name: str | None
    mapped_by: str


def current_mapping(mappings: Iterable[ChannelMapping]) -> ChannelMapping | None:
    """The newest mapping (by event time) of a channel: it maps to one community at a time."""
    return max(mappings, key=lambda m: (m.at, m.event_id), default=None)


def newest_named(links: Iterable[ChatLink], user_name: str) -> ChatLink | None:
    """Of the accounts held now, the one most recently linked under this name (compared as
    `normal_name` does): a name someone went by before is not theirs any more."""
    wanted = normal_name(user_name)
    named = [link for link in links if link.user_name and normal_name(link.user_name) == wanted]
    return max(named, key=lambda link: (link.since, link.account.key), default=None)
