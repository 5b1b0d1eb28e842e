"""The chat command language, the same on every platform: what a member typed, as a typed
command. Pure: the platforms' request formats are decoded before (`adapters/chat_platforms.py`)
and what a command does is decided by the services (`commands/chat.py`).

    /kudos @grace @alan thanks for pairing on the flaky test #collaboration [in:COMMUNITY]
    /cop sessions [COMMUNITY] | search QUERY | health COMMUNITY | join COMMUNITY
    /cop watch|digest|mute COMMUNITY | me | link | channel COMMUNITY | help
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MAX_TEXT = 2000  # longer is refused at once: a kudos message is at most 1,000 characters
MAX_RECIPIENTS = 20

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
_HASHTAG = re.compile(r"(?<![\w&])#([a-z0-9][a-z0-9_-]{0,49})\b", re.IGNORECASE)
_IN_COMMUNITY = re.compile(r"(?<!\S)in:(\S+)", re.IGNORECASE)
_PLAIN_MENTION = re.compile(r"(?<![\w@<])@([A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z0-9])")
_SLACK_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_TEAMS_MENTION = re.compile(r"<at>([^<]{1,200})</at>")


@dataclass(frozen=True)
class Mention:
    """A member named in the text: by the platform's user id when the platform sent one (an
    escaped Slack mention, a Teams mention entity), else by the name as written."""

    name: str
    user_id: str | None = None


@dataclass(frozen=True)
class GiveKudos:
    recipients: tuple[Mention, ...]
    message: str
    value_tag: str | None
    community: str | None


@dataclass(frozen=True)
class ListSessions:
    community: str | None


@dataclass(frozen=True)
class Search:
    query: str


@dataclass(frozen=True)
class ShowHealth:
    community: str | None


@dataclass(frozen=True)
class Join:
    community: str | None


@dataclass(frozen=True)
class SetLevel:
    """watch, digest or mute a community's announcements."""

    level: Literal["watching", "digest", "muted"]
    community: str | None


@dataclass(frozen=True)
class ShowMe:
    pass


@dataclass(frozen=True)
class Propose:
    """A topic for the community's backlog."""

    title: str
    community: str | None


@dataclass(frozen=True)
class ListTopics:
    community: str | None


@dataclass(frozen=True)
class Vote:
    """A vote for a topic: its number in `/cop topics` (most wanted first) or its id."""

    topic: str
    community: str | None


@dataclass(frozen=True)
class ShowImpact:
    team: str


@dataclass(frozen=True)
class Link:
    pass


@dataclass(frozen=True)
class MapChannel:
    community: str | None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unusable:
    """Text that is no command: the short answer says what to type instead."""

    reason: str


Command = (
    GiveKudos
    | ListSessions
    | Search
    | ShowHealth
    | Join
    | SetLevel
    | ShowMe
    | Propose
    | ListTopics
    | Vote
    | ShowImpact
    | Link
    | MapChannel
    | Help
    | Unusable
)

InCommunity = GiveKudos | ListSessions | ShowHealth | Join | SetLevel | Propose | ListTopics | Vote
"""The commands about one community: named in the text, else the channel's."""

HELP = "\n".join(
    (
        "Commands:",
        "• `/kudos @name [@name…] what for #value [in:COMMUNITY]` — recognise colleagues",
        "• `/cop sessions [COMMUNITY]` — upcoming sessions",
        "• `/cop search QUERY` — patterns, decision logs, templates, playbooks",
        "• `/cop health COMMUNITY` — the community's health, against the previous period",
        "• `/cop join COMMUNITY` — join a community",
        "• `/cop watch|digest|mute COMMUNITY` — how you hear of its announcements",
        "• `/cop me` — your kudos, badges, style and the allowance left",
        "• `/cop topics [COMMUNITY]` — the backlog, most wanted first; "
        "`/cop vote N`, `/cop propose TITLE`",
        "• `/cop impact TEAM` — the team's delivery (DORA) beside its participation",
        "• `/cop link` — link this chat account to your member account",
        "• `/cop channel COMMUNITY` — (leaders) make this channel the community's",
    )
)


def parse(text: str, *, kudos: bool = False) -> Command:
    """The command in `text`: the words after `/cop` (the first word names the command), or
    after `/kudos` when `kudos` is set."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        return Unusable(f"That is {len(text):,} characters; a command takes at most {MAX_TEXT:,}.")
    if kudos:
        return parse_kudos(text)
    verb, _, rest = text.partition(" ")
    verb, rest = verb.lower().lstrip("/") or "help", rest.strip()
    make = _VERBS.get(verb)
    if make is None:
        return Unusable(f"`{_shown(verb)}` is not a command here. Try `/cop help`.")
    return make(rest, _community(rest))


def _search(rest: str) -> Command:
    return Search(rest) if rest else Unusable("Say what to look for: `/cop search QUERY`.")


def _propose(rest: str) -> Command:
    community = None
    if found := _IN_COMMUNITY.search(rest):
        community = found.group(1)
        rest = (rest[: found.start()] + rest[found.end() :]).strip()
    title = " ".join(rest.split())
    if not title:
        return Unusable("Say what the topic is: `/cop propose TITLE`.")
    return Propose(title, community)


def _vote(rest: str) -> Command:
    words = rest.split()
    if not words:
        return Unusable("Say which topic: `/cop vote N` (its number in `/cop topics`).")
    return Vote(words[0], _community(" ".join(words[1:])))


def _impact(rest: str) -> Command:
    team = " ".join(rest.split())
    return ShowImpact(team) if team else Unusable("Say which team: `/cop impact TEAM`.")


_VERBS: dict[str, Callable[[str, str | None], Command]] = {
    "help": lambda rest, community: Help(),
    "kudos": lambda rest, community: parse_kudos(rest),
    "give": lambda rest, community: parse_kudos(rest),
    "sessions": lambda rest, community: ListSessions(community),
    "search": lambda rest, community: _search(rest),
    "health": lambda rest, community: ShowHealth(community),
    "join": lambda rest, community: Join(community),
    "watch": lambda rest, community: SetLevel("watching", community),
    "digest": lambda rest, community: SetLevel("digest", community),
    "mute": lambda rest, community: SetLevel("muted", community),
    "me": lambda rest, community: ShowMe(),
    "propose": lambda rest, community: _propose(rest),
    "topics": lambda rest, community: ListTopics(community),
    "vote": lambda rest, community: _vote(rest),
    "impact": lambda rest, community: _impact(rest),
    "link": lambda rest, community: Link(),
    "channel": lambda rest, community: MapChannel(community),
}


def parse_kudos(text: str) -> Command:
    """`@grace @alan thanks for pairing #collaboration in:COMMUNITY`: the mentions are the
    recipients, the first hashtag the value tag, `in:` the community, the rest the message."""
    community = None
    if found := _IN_COMMUNITY.search(text):
        community = found.group(1)
        text = (text[: found.start()] + text[found.end() :]).strip()
    recipients = mentions(text)
    if not recipients:
        return Unusable("Name who the kudos is for: `/kudos @name what for #value`.")
    if len(recipients) > MAX_RECIPIENTS:
        return Unusable(f"A kudos can name at most {MAX_RECIPIENTS} people.")
    message = _without_mentions(text)
    if not message:
        return Unusable("Say what the kudos is for: `/kudos @name what for #value`.")
    tag = _HASHTAG.search(message)
    return GiveKudos(recipients, message, tag.group(1).lower() if tag else None, community)


def mentions(text: str) -> tuple[Mention, ...]:
    """Every member named in the text, in order, each once: escaped Slack mentions
    (`<@U123|grace>`, `<@U123>`), Teams `<at>Grace Hopper</at>`, and plain `@grace`."""
    found: list[tuple[int, Mention]] = []
    for m in _SLACK_MENTION.finditer(text):
        found.append((m.start(), Mention(m.group(2) or m.group(1), m.group(1))))
    for m in _TEAMS_MENTION.finditer(text):
        found.append((m.start(), Mention(m.group(1).strip())))
    for m in _PLAIN_MENTION.finditer(text):
        found.append((m.start(), Mention(m.group(1))))
    unique: dict[tuple[str | None, str], Mention] = {}
    for _, mention in sorted(found, key=lambda pair: pair[0]):
        unique.setdefault((mention.user_id, mention.name.lower()), mention)
    return tuple(unique.values())


def _without_mentions(text: str) -> str:
    for pattern in (_SLACK_MENTION, _TEAMS_MENTION, _PLAIN_MENTION):
        text = pattern.sub(" ", text)
    return " ".join(text.split()).strip(" ,;:-")


def _community(rest: str) -> str | None:
    """The command's one argument, a community id (`in:` accepted too), or None."""
    word = rest.split()[0] if rest.split() else ""
    word = word.removeprefix("in:")
    return word or None


def is_id(value: str) -> bool:
    return bool(_ID.match(value))


def _shown(word: str) -> str:
    """A word of the member's own text, short and without the characters that format chat."""
    return re.sub(r"[`*_~<>|\[\]]", "", word)[:40]
