"""What a member does from chat: the command they typed, carried out as the linked member,
through the owning service's API with a short-lived token for that member, so chat can never
do more than the member's pages can. The only calls made with the edge's own authority are the
two lookups that find the member (which member a chat account is linked to, which community a
channel is mapped to) and the binding itself, once the member has proved both ends."""

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from services.web.adapters.chat_platforms import ChatAnswer, ChatRequest
from services.web.adapters.upstream import Down, Ok, Refused, Reply, Upstreams
from services.web.commands.pages import KudosForm, PageCommands
from services.web.domain.chat import (
    HELP,
    Command,
    GiveKudos,
    Help,
    InCommunity,
    Join,
    Link,
    ListSessions,
    ListTopics,
    MapChannel,
    Mention,
    Propose,
    Search,
    SetLevel,
    ShowHealth,
    ShowImpact,
    ShowMe,
    Unusable,
    Vote,
    is_id,
    parse,
)
from services.web.domain.health import REVIEW_METRICS, arrow, is_share, label

log = structlog.get_logger("cop.web.chat")

NOT_LINKED = (
    "This chat account is not linked to a member yet. Type `/cop link` and follow the link to "
    "sign in; nothing else was done."
)
ARROWS = {"up": "↑", "down": "↓", "flat": "→", "none": ""}
VERDICTS = {
    "self_kudos": "kudos cannot be given to yourself",
    "unknown_value_tag": "not one of the value tags",
    "duplicate_recipient": "named twice",
    "allowance_exhausted": "your allowance is used up",
}


@dataclass(frozen=True)
class Authority:
    """Tokens the edge mints with the services' shared secret: one for a member (a minute
    long, for one command) and one for the edge itself (the lookups and the binding)."""

    member: Callable[[str], str]
    edge: Callable[[], str]
    link_url: Callable[[ChatRequest], str]


class ChatCommands:
    def __init__(
        self, upstreams: Upstreams, pages: PageCommands, authority: Authority, public_url: str
    ) -> None:
        self.up = upstreams
        self.pages = pages
        self.authority = authority
        self.site = public_url.rstrip("/")

    async def answer(self, request: ChatRequest) -> ChatAnswer:
        """The answer to one request; a failure of this edge's own is a short sentence too,
        never an error page in the member's chat."""
        try:
            return await self.run(request)
        except Exception:
            log.exception("chat command failed", platform=request.platform.value)
            return ChatAnswer("That did not work on our side; try again in a minute.")

    async def run(self, request: ChatRequest) -> ChatAnswer:
        command = parse(request.text, kudos=request.command == "kudos")
        match command:
            case Help():
                return ChatAnswer(HELP)
            case Unusable(reason=reason):
                return ChatAnswer(reason)
            case Link():
                url = self.authority.link_url(request)
                return ChatAnswer(
                    f"[Link this {request.platform.value} account]({url}) to your member "
                    "account: sign in there within ten minutes. The link is for you only."
                )
        linked = await self._lookup(
            f"/chat-identities/{_key(request.platform, request.workspace_id, request.user_id)}"
        )
        if not isinstance(linked, Ok):
            return ChatAnswer(NOT_LINKED if _missing(linked) else _trouble(linked))
        member_id = str(linked.data["member_id"])
        return await self._as_member(command, request, member_id)

    async def _as_member(
        self, command: Command, request: ChatRequest, member_id: str
    ) -> ChatAnswer:
        token = self.authority.member(member_id)
        match command:
            case Search(query=query):
                return await self._search(query)
            case ShowMe():
                return await self._me(member_id, token)
            case ShowImpact(team=team):
                return await self._impact(team)
            case MapChannel(community=community):
                return await self._map_channel(community, request, token)
        if isinstance(command, InCommunity):
            return await self._in_community(command, request, member_id, token)
        return ChatAnswer(HELP)

    async def _in_community(
        self, command: InCommunity, request: ChatRequest, member_id: str, token: str
    ) -> ChatAnswer:
        community = await self._community(command.community, request)
        if isinstance(community, ChatAnswer):
            return community
        match command:
            case GiveKudos():
                return await self._kudos(command, community, request, member_id, token)
            case ListSessions():
                return await self._sessions(community, member_id, token)
            case ShowHealth():
                return await self._health(community)
            case Join():
                return await self._join(community, member_id, token)
            case SetLevel(level=level):
                return await self._set_level(level, community, member_id, token)
            case Propose(title=title):
                return await self._propose(title, community, request, token)
            case ListTopics():
                return await self._topics(community, token)
            case Vote(topic=topic):
                return await self._vote(topic, community, token)
        raise AssertionError(command)

    # --- finding who and where -------------------------------------------------------------

    async def _lookup(self, path: str) -> Reply:
        return await self.up.get("events", path, token=self.authority.edge())

    async def _community(self, named: str | None, request: ChatRequest) -> str | ChatAnswer:
        """The community a command names, else the one this channel is mapped to."""
        if named:
            return named if is_id(named) else ChatAnswer(f"`{named[:60]}` is not a community id.")
        mapped = await self._lookup(
            f"/chat-channels/{_key(request.platform, request.workspace_id, request.channel_id)}"
        )
        if isinstance(mapped, Ok):
            return str(mapped.data["community_id"])
        if _missing(mapped):
            return ChatAnswer(
                "Which community? Name it (`in:COMMUNITY` in a kudos, or after the command), "
                "or ask its leader to map this channel with `/cop channel COMMUNITY`."
            )
        return ChatAnswer(_trouble(mapped))

    async def _member_of(self, mention: Mention, request: ChatRequest) -> str | None:
        """The member a mention names: a linked chat account (by the platform's user id, else
        by its user name), else a member whose id is the name as written."""
        user_id = mention.user_id or request.mention_ids.get(mention.name)
        base = f"/chat-identities/{_key(request.platform, request.workspace_id)}"
        if user_id and is_id(user_id):
            found = await self._lookup(f"{base}/{quote(user_id, safe='')}")
            if isinstance(found, Ok):
                return str(found.data["member_id"])
        if is_id(mention.name):
            by_name = await self._lookup(f"{base}/by-name/{quote(mention.name, safe='')}")
            if isinstance(by_name, Ok):
                return str(by_name.data["member_id"])
            member = await self._lookup(f"/members/{mention.name}")
            if isinstance(member, Ok):
                return mention.name
        return None

    # --- the commands ------------------------------------------------------------------------

    async def _kudos(
        self, kudos: GiveKudos, community: str, request: ChatRequest, giver: str, token: str
    ) -> ChatAnswer:
        found = await asyncio.gather(*(self._member_of(m, request) for m in kudos.recipients))
        unknown = [
            f"@{m.name}" for m, member in zip(kudos.recipients, found, strict=True) if not member
        ]
        recipients = list(dict.fromkeys(m for m in found if m))
        notes = [f"{', '.join(unknown)}: no such member (or not linked)"] if unknown else []
        if giver in recipients:
            recipients.remove(giver)
            notes.append(f"you: {VERDICTS['self_kudos']}")
        if not recipients:
            return ChatAnswer("No kudos sent. " + "; ".join(notes or ["nobody to thank"]) + ".")
        if kudos.value_tag is None:
            return ChatAnswer(
                "No kudos sent: add the value it shows as a hashtag, e.g. `#teamwork`."
                + await self._value_tags(giver, token)
            )
        form = KudosForm(",".join(recipients), community, kudos.value_tag, kudos.message)
        key = hashlib.sha256((request.proof or request.text + giver).encode()).hexdigest()
        outcome = await self.pages.give_kudos(token, form, f"chat-{key[:40]}")
        if outcome.errors:
            why = "; ".join(dict.fromkeys(outcome.errors.values()))
            renews = await self._renewal(giver, token) if "allowance" in why else ""
            return ChatAnswer(f"No kudos sent: {why}.{renews}" + _notes(notes))
        judged = outcome.kudos or {}
        verdicts = {r["member_id"]: r["verdict"] for r in judged.get("recipients", [])}
        counted = [m for m in recipients if verdicts.get(m) == "counted"]
        lines = [f"Kudos for {', '.join(counted)} counted (#{kudos.value_tag})."] if counted else []
        for member, verdict in verdicts.items():
            if verdict != "counted":
                lines.append(f"{member}: not counted, {VERDICTS.get(verdict, verdict)}")
        if judged.get("status") == "pending":
            lines.append("Sent; it is being judged, and the channel hears of it when it counts.")
        return ChatAnswer("\n".join(lines) + _notes(notes))

    async def _value_tags(self, member_id: str, token: str) -> str:
        allowance = await self.up.get("recognition", f"/members/{member_id}/allowance", token=token)
        if isinstance(allowance, Ok) and allowance.data.get("value_tags"):
            return " Allowed: " + ", ".join(f"`#{t}`" for t in allowance.data["value_tags"]) + "."
        return ""

    async def _renewal(self, member_id: str, token: str) -> str:
        allowance = await self.up.get("recognition", f"/members/{member_id}/allowance", token=token)
        if isinstance(allowance, Ok):
            return f" It renews on {str(allowance.data['renews_at'])[:10]}."
        return ""

    async def _sessions(self, community: str, member_id: str, token: str) -> ChatAnswer:
        listed, profile = await asyncio.gather(
            self.up.get(
                "events",
                f"/communities/{community}/sessions",
                params={"when": "upcoming", "size": 5},
            ),
            self.up.get("events", f"/members/{member_id}", token=token),
        )
        if not isinstance(listed, Ok):
            return ChatAnswer(_trouble(listed, f"community `{community}`"))
        zone = _zone(profile.data.get("timezone") if isinstance(profile, Ok) else None)
        items = listed.data.get("items", [])
        if not items:
            known = await self.up.get("events", f"/communities/{community}")
            return ChatAnswer(
                _trouble(known, f"community `{community}`")
                if _missing(known)
                else f"No upcoming sessions in {community}."
            )
        lines = [f"Upcoming in {community} (times in {zone.key}):"]
        for s in items:
            when = _local(s["starts_at"], zone)
            page = f"{self.site}/sessions/{s['session_id']}"
            lines.append(f"• {when} — [{s['title']}]({page}) ([calendar]({page}/calendar.ics))")
        return ChatAnswer("\n".join(lines))

    async def _search(self, query: str) -> ChatAnswer:
        found = await self.up.get("knowledge", "/search", params={"q": query[:200], "size": 5})
        if not isinstance(found, Ok):
            return ChatAnswer(_trouble(found))
        hits = found.data.get("items", [])
        if not hits:
            return ChatAnswer(f"Nothing found for “{query[:100]}”.")
        lines = [f"Top {len(hits)} of {found.data.get('total', len(hits))} for “{query[:100]}”:"]
        for hit in hits:
            title, kind = hit.get("title") or hit["artifact_id"], hit.get("kind") or "artifact"
            lines.append(f"• [{title}]({self.site}/artifacts/{hit['artifact_id']}) ({kind})")
        return ChatAnswer("\n".join(lines))

    async def _health(self, community: str) -> ChatAnswer:
        """What the community's health page shows everyone: the headline numbers against the
        previous period, and the alerts raised in either."""
        path = f"/communities/{community}"
        health, alerts = await asyncio.gather(
            self.up.get("recognition", f"{path}/health"),
            self.up.get("recognition", f"{path}/alerts"),
        )
        if not isinstance(health, Ok):
            return ChatAnswer(_trouble(health, f"community `{community}`"))
        now, before = health.data["metrics"], health.data["previous"]["metrics"]
        lines = [
            f"[{community} health]({self.site}{path}/health), {health.data['period']} "
            f"against {health.data['previous']['period']}:"
        ]
        for metric in REVIEW_METRICS:
            value, previous = float(now[metric]), float(before[metric])
            lines.append(
                f"• {label(metric)}: {_number(metric, value)} "
                f"{ARROWS[arrow(value, previous)]} (was {_number(metric, previous)})".rstrip()
            )
        recent = {health.data["period"], health.data["previous"]["period"]}
        raised = alerts.data.get("alerts", []) if isinstance(alerts, Ok) else []
        open_alerts = [a for a in raised if a.get("period") in recent]
        if open_alerts:
            lines.append("Alerts: " + "; ".join(_alert(a) for a in open_alerts))
        elif not isinstance(alerts, Ok):
            lines.append(_trouble(alerts))
        return ChatAnswer("\n".join(lines))

    async def _join(self, community: str, member_id: str, token: str) -> ChatAnswer:
        path = f"/communities/{community}/members"
        refused = await self.pages.act(token, "events", path, {"member_id": member_id})
        if refused:
            return ChatAnswer(f"Not joined: {refused}")
        return ChatAnswer(
            f"You are a member of [{community}]({self.site}/communities/{community})."
        )

    async def _set_level(
        self, level: str, community: str, member_id: str, token: str
    ) -> ChatAnswer:
        known = await self.up.get("events", f"/communities/{community}")
        if not isinstance(known, Ok):
            return ChatAnswer(_trouble(known, f"community `{community}`"))
        path = f"/members/{member_id}/preferences"
        current = await self.up.get("notifier", path, token=token)
        if not isinstance(current, Ok):
            return ChatAnswer(_trouble(current))
        prefs = dict(current.data)
        prefs["communities"] = {**prefs.get("communities", {}), community: level}
        errors = await self.pages.save_preferences(token, member_id, prefs)
        if errors:
            return ChatAnswer("Not changed: " + "; ".join(dict.fromkeys(errors.values())))
        return ChatAnswer(f"{community}: {_LEVEL_SAID[level]}. [Your preferences]({self.site}/me)")

    async def _me(self, member_id: str, token: str) -> ChatAnswer:
        standing, allowance = await asyncio.gather(
            self.up.get("recognition", f"/members/{member_id}/profile"),
            self.up.get("recognition", f"/members/{member_id}/allowance", token=token),
        )
        if not isinstance(standing, Ok):
            return ChatAnswer(_trouble(standing))
        s = standing.data
        badges = ", ".join(str(b.get("badge", b)) for b in s.get("badges", [])) or "none yet"
        lines = [
            f"[{member_id}]({self.site}/members/{member_id}): {s['style']}, give {s['give']}, "
            f"take {s['take']}",
            f"Kudos received {s['kudos_received']}, given {s['kudos_given']}. Badges: {badges}.",
        ]
        if isinstance(allowance, Ok):
            a = allowance.data
            lines.append(
                f"Allowance: {a['left']} of {a['allowance']} kudos left this {a['period']} "
                f"(renews {str(a['renews_at'])[:10]})."
            )
        return ChatAnswer("\n".join(lines))

    async def _map_channel(self, named: str | None, request: ChatRequest, token: str) -> ChatAnswer:
        if not named or not is_id(named):
            return ChatAnswer("Name the community: `/cop channel COMMUNITY`.")
        key = _key(request.platform, request.workspace_id, request.channel_id)
        body = {"channel_name": request.channel_name} if request.channel_name else {}
        reply = await self.up.put(
            "events", f"/communities/{named}/chat-channels/{key}", body, token=token,
            params={"wait": "true"},
        )  # fmt: skip
        if isinstance(reply, Ok):
            return ChatAnswer(
                f"This channel is now {named}'s: kudos and commands here are for {named}."
            )
        return ChatAnswer(f"Not mapped: {_trouble(reply, f'community `{named}`')}")

    # --- the topic backlog -----------------------------------------------------------------

    async def _propose(
        self, title: str, community: str, request: ChatRequest, token: str
    ) -> ChatAnswer:
        key = hashlib.sha256((request.proof or f"{request.user_id}:{title}").encode()).hexdigest()
        reply = await self.up.post(
            "events", f"/communities/{community}/topics", {"title": title}, token=token,
            params={"wait": "true"}, headers={"idempotency-key": f"chat-{key[:40]}"},
        )  # fmt: skip
        if not isinstance(reply, Ok):
            return ChatAnswer(f"Not proposed: {_trouble(reply, f'community `{community}`')}")
        return ChatAnswer(
            f"Proposed “{title}” for {community}. Members vote with `/cop topics` and "
            f"`/cop vote N`; [the backlog]({self.site}/communities/{community}/topics)."
        )

    async def _open_topics(self, community: str, token: str) -> Reply:
        """The open topics, most wanted first: what `/cop topics` numbers, `/cop vote N` picks."""
        return await self.up.get(
            "events", f"/communities/{community}/topics",
            params={"status": "open", "sort": "wanted", "size": TOPICS_SHOWN}, token=token,
        )  # fmt: skip

    async def _topics(self, community: str, token: str) -> ChatAnswer:
        listed, budget = await asyncio.gather(
            self._open_topics(community, token),
            self.up.get("events", f"/communities/{community}/votes/me", token=token),
        )
        if not isinstance(listed, Ok):
            return ChatAnswer(_trouble(listed, f"community `{community}`"))
        items = listed.data.get("items", [])
        if not items:
            return ChatAnswer(f"No open topics in {community}: `/cop propose TITLE`.")
        lines = [f"Most wanted in [{community}]({self.site}/communities/{community}/topics):"]
        for n, topic in enumerate(items, start=1):
            mine = " (your vote)" if topic.get("voted_by_me") else ""
            ready = " · a speaker volunteered" if topic.get("speaker_ids") else ""
            lines.append(f"{n}. {topic['title']} — {topic['votes']} votes{mine}{ready}")
        if isinstance(budget, Ok):
            lines.append(
                f"You have {budget.data['left']} of {budget.data['budget']} votes left: "
                "`/cop vote N`."
            )
        return ChatAnswer("\n".join(lines))

    async def _vote(self, topic: str, community: str, token: str) -> ChatAnswer:
        chosen = topic
        title = topic
        if topic.isdigit():
            listed = await self._open_topics(community, token)
            if not isinstance(listed, Ok):
                return ChatAnswer(_trouble(listed, f"community `{community}`"))
            items = listed.data.get("items", [])
            if not 1 <= int(topic) <= len(items):
                return ChatAnswer(f"There is no topic {topic} in `/cop topics` for {community}.")
            chosen, title = items[int(topic) - 1]["topic_id"], items[int(topic) - 1]["title"]
        elif not is_id(topic):
            return ChatAnswer("Say which topic: `/cop vote N` (its number in `/cop topics`).")
        reply = await self.up.put(
            "events", f"/topics/{chosen}/vote", {}, token=token, params={"wait": "true"}
        )
        if not isinstance(reply, Ok):
            return ChatAnswer(f"Not voted: {_trouble(reply, f'topic `{topic}`')}")
        return ChatAnswer(
            f"Your vote is on “{title}”. You have {reply.data['left']} of "
            f"{reply.data['budget']} votes left."
        )

    # --- impact -----------------------------------------------------------------------------

    async def _impact(self, team: str) -> ChatAnswer:
        quarter = _quarter(datetime.now(UTC))
        reply = await self.up.get(
            "impact", f"/teams/{quote(team, safe='')}/impact", params={"period": quarter}
        )
        if not isinstance(reply, Ok):
            return ChatAnswer(_trouble(reply, f"team `{team[:60]}` with CI/CD facts"))
        now, before = reply.data, reply.data["previous"]
        lines = [f"{team}, {now['period']} so far (against {before['period']}):"]
        for metric, said in IMPACT_FIGURES:
            value, previous = now["dora"].get(metric), before["dora"].get(metric)
            lines.append(f"• {said}: {_figure(value)} (was {_figure(previous)})")
        share = now["participation"]["participation_share"]
        lines.append(
            f"• members attending sessions: {share:.0%} "
            f"(was {before['participation']['participation_share']:.0%})"
        )
        return ChatAnswer("\n".join(lines))


TOPICS_SHOWN = 10
IMPACT_FIGURES = (
    ("deployments", "deployments"),
    ("lead_time_median_h", "lead time, median hours"),
    ("change_failure_rate", "change failure rate"),
    ("restore_median_h", "time to restore, median hours"),
)


def _quarter(at: datetime) -> str:
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


def _figure(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(value)


_LEVEL_SAID = {
    "watching": "you hear of every announcement",
    "digest": "its announcements come in your digest",
    "muted": "muted",
}


def _key(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def _missing(reply: Reply) -> bool:
    return isinstance(reply, Refused) and reply.status == 404


def _trouble(reply: Reply, subject: str = "") -> str:
    match reply:
        case Down():
            return f"{reply.message}."
        case Refused(status=404) if subject:
            return f"There is no {subject}."
        case Refused():
            return reply.detail
    return "unexpected answer"


def _notes(notes: list[str]) -> str:
    return ("\n" + "\n".join(f"{n}." for n in notes)) if notes else ""


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local(starts_at: str, zone: ZoneInfo) -> str:
    at = datetime.fromisoformat(starts_at.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).strftime("%a %d %b %H:%M")


def _number(metric: str, value: float) -> str:
    if is_share(metric):
        return f"{value:.0%}"
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


def _alert(alert: Mapping[str, Any]) -> str:
    return str(alert.get("message") or alert.get("rule") or alert.get("kind") or "alert")
