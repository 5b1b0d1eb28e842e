"""What each page shows, read from the services' APIs. Every part of a page is a `Part`: the
data, or the sentence saying which service did not answer, so that one slow or stopped service
blanks only the parts that need it. The calls of a page run concurrently."""

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from services.web.adapters.upstream import Down, Ok, Refused, Reply, Upstreams
from services.web.domain.health import (
    REVIEW_METRICS,
    Arrow,
    Dashboard,
    Figure,
    Goals,
    arrow,
    dashboard,
    definition,
    figures,
    goals_by_month,
    is_quarter,
    label,
    months_back,
    previous_quarter,
    quarter_months,
    quarters_back,
)

T = TypeVar("T")
DASHBOARD_MONTHS = 12
REVIEW_QUARTERS = 8  # quarters a reader can choose from, the one in progress included
LEADERBOARD_PERIODS = ("month", "quarter", "all")


@dataclass(frozen=True)
class Part(Generic[T]):
    """One part of a page: its value, or why it is missing (`missing`, shown as it is)."""

    value: T | None = None
    missing: str | None = None

    @property
    def ok(self) -> bool:
        return self.missing is None


def part_of(reply: Reply, pick: str | None = None) -> Part[Any]:
    match reply:
        case Ok(data=data):
            return Part(data.get(pick) if pick and isinstance(data, dict) else data)
        case Down():
            return Part(missing=reply.message)
        case Refused():
            return Part(missing=reply.detail)
    raise AssertionError(reply)


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Glance:
    """A community's health at a glance: participation this month against last, open alerts."""

    participation: float
    previous: float
    arrow: Arrow
    alerts: int


@dataclass(frozen=True)
class Card:
    community: Mapping[str, Any]
    next_session: Part[Mapping[str, Any] | None]
    glance: Part[Glance]


@dataclass(frozen=True)
class Home:
    communities: Part[list[Card]]


@dataclass(frozen=True)
class CommunityPage:
    community_id: str
    community: Part[Mapping[str, Any]]
    upcoming: Part[list[Mapping[str, Any]]]
    past: Part[list[Mapping[str, Any]]]
    members: Part[list[Mapping[str, Any]]]
    action_items: Part[list[Mapping[str, Any]]]
    leaderboard: Part[list[Mapping[str, Any]]]
    period: str
    kudos: Part[list[Mapping[str, Any]]]


@dataclass(frozen=True)
class HealthPage:
    community_id: str
    name: Part[str]
    board: Part[Dashboard]
    alerts: Part[list[Mapping[str, Any]]]
    goals: Part[Goals] = Part()  # the charter's goals, met or not, month by month


@dataclass(frozen=True)
class ReviewRow:
    """One community in the quarterly review: its figures and the alerts raised that quarter."""

    community: Mapping[str, Any]
    figures: Part[list[Figure]]
    alerts: Part[list[Mapping[str, Any]]]


@dataclass(frozen=True)
class QuarterlyReview:
    quarter: str
    previous: str
    in_progress: bool
    choices: list[str]
    metrics: list[tuple[str, str, str]]  # (metric, label, definition), in the review's order
    rows: Part[list[ReviewRow]]


@dataclass(frozen=True)
class SessionPage:
    session_id: str
    session: Mapping[str, Any]
    community: Part[Mapping[str, Any]]
    minutes: Part[Mapping[str, Any]]


@dataclass(frozen=True)
class ArtifactPage:
    artifact: Mapping[str, Any]
    versions: Part[list[Mapping[str, Any]]]
    related: Part[list[Mapping[str, Any]]]
    diff: Part[str] | None  # asked for two versions: the unified diff between them
    compared: tuple[int, int] | None


@dataclass(frozen=True)
class MemberPage:
    member_id: str
    profile: Part[Mapping[str, Any]]
    standing: Part[Mapping[str, Any]]


@dataclass(frozen=True)
class MePage:
    member_id: str
    profile: Part[Mapping[str, Any]]
    preferences: Part[Mapping[str, Any]]
    communities: Part[list[Mapping[str, Any]]]


class NotFound(Exception):
    """The page's subject does not exist (the service said 404)."""


class Unavailable(Exception):
    """The page's subject is held by a service that is not answering: the page says so."""


class PageQueries:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def home(self) -> Home:
        listed = await self.up.get("events", "/communities", params={"size": 100})
        if not isinstance(listed, Ok):
            return Home(part_of(listed))
        communities = listed.data["items"]
        cards = await asyncio.gather(*(self._card(c) for c in communities))
        return Home(Part(list(cards)))

    async def _card(self, community: Mapping[str, Any]) -> Card:
        cid = community["community_id"]
        sessions, health, alerts = await asyncio.gather(
            self.up.get(
                "events", f"/communities/{cid}/sessions", params={"when": "upcoming", "size": 1}
            ),
            self.up.get("recognition", f"/communities/{cid}/health"),
            self.up.get("recognition", f"/communities/{cid}/alerts"),
        )
        upcoming = part_of(sessions, "items")
        next_session = Part(upcoming.value[0] if upcoming.value else None, upcoming.missing)
        return Card(community, next_session, self._glance(health, alerts))

    @staticmethod
    def _glance(health: Reply, alerts: Reply) -> Part[Glance]:
        if not isinstance(health, Ok):
            return part_of(health)
        now = float(health.data["metrics"]["participation_rate"])
        before = float(health.data["previous"]["metrics"]["participation_rate"])
        recent = {health.data["period"], health.data["previous"]["period"]}
        raised = alerts.data["alerts"] if isinstance(alerts, Ok) else []
        open_alerts = sum(1 for a in raised if a["period"] in recent)
        return Part(Glance(now, before, arrow(now, before), open_alerts))

    async def community(self, community_id: str, period: str) -> CommunityPage:
        path = f"/communities/{community_id}"
        period = period if period in LEADERBOARD_PERIODS else "month"
        calls: dict[str, Awaitable[Reply]] = {
            "community": self.up.get("events", path),
            "upcoming": self.up.get(
                "events", f"{path}/sessions", params={"when": "upcoming", "size": 10}
            ),
            "past": self.up.get("events", f"{path}/sessions", params={"when": "past", "size": 10}),
            "members": self.up.get("events", f"{path}/members", params={"size": 100}),
            "actions": self.up.get("events", f"{path}/action-items", params={"size": 20}),
            "board": self.up.get(
                "recognition", f"{path}/leaderboard", params={"period": period, "limit": 10}
            ),
            "kudos": self.up.get("recognition", f"{path}/kudos", params={"limit": 10}),
        }
        replies = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
        community = replies["community"]
        if isinstance(community, Refused) and community.status == 404:
            raise NotFound(community_id)
        return CommunityPage(
            community_id=community_id,
            community=part_of(community),
            upcoming=part_of(replies["upcoming"], "items"),
            past=part_of(replies["past"], "items"),
            members=part_of(replies["members"], "items"),
            action_items=part_of(replies["actions"], "items"),
            leaderboard=part_of(replies["board"], "entries"),
            period=period,
            kudos=part_of(replies["kudos"], "items"),
        )

    async def search(
        self, community_id: str, q: str, kind: str | None = None
    ) -> Part[Mapping[str, Any]]:
        params: dict[str, str | int] = {"q": q, "community": community_id, "size": 10}
        if kind:
            params["kind"] = kind
        return part_of(await self.up.get("knowledge", "/search", params=params))

    async def health(self, community_id: str, today: date | None = None) -> HealthPage:
        months = months_back(today or _today(), DASHBOARD_MONTHS)
        path = f"/communities/{community_id}"
        community, trend, alerts = await asyncio.gather(
            self.up.get("events", path),
            self.up.get(
                "recognition", f"{path}/health/trend", params={"from": months[0], "to": months[-1]}
            ),
            self.up.get("recognition", f"{path}/alerts"),
        )
        if isinstance(community, Refused) and community.status == 404:
            raise NotFound(community_id)
        board = part_of(trend, "months")
        windows = board.value or []
        return HealthPage(
            community_id,
            part_of(community, "name"),
            Part(dashboard(months, windows)) if board.ok else Part(missing=board.missing),
            part_of(alerts, "alerts"),
            Part(goals_by_month(months, windows)) if board.ok else Part(missing=board.missing),
        )

    async def review(self, quarter: str = "", today: date | None = None) -> QuarterlyReview:
        """Every community side by side for one quarter (by default the last one that ended),
        in name order: never ranked."""
        choices = quarters_back(today or _today(), REVIEW_QUARTERS)
        quarter = quarter if is_quarter(quarter) and quarter in choices else choices[1]
        metrics = [(m, label(m), definition(m)) for m in REVIEW_METRICS]
        listed = await self.up.get("events", "/communities", params={"size": 100})
        rows: Part[list[ReviewRow]]
        if isinstance(listed, Ok):
            ordered = sorted(listed.data["items"], key=lambda c: str(c.get("name", "")).lower())
            rows = Part(list(await asyncio.gather(*(self._row(c, quarter) for c in ordered))))
        else:
            rows = part_of(listed)
        return QuarterlyReview(
            quarter, previous_quarter(quarter), quarter == choices[0], choices, metrics, rows
        )

    async def _row(self, community: Mapping[str, Any], quarter: str) -> ReviewRow:
        path = f"/communities/{community['community_id']}"
        health, alerts = await asyncio.gather(
            self.up.get("recognition", f"{path}/health", params={"period": quarter}),
            self.up.get("recognition", f"{path}/alerts"),
        )
        numbers: Part[list[Figure]] = part_of(health)
        if isinstance(health, Ok):
            numbers = Part(figures(health.data["metrics"], health.data["previous"]["metrics"]))
        raised = part_of(alerts, "alerts")
        if raised.ok:
            periods = {quarter, *quarter_months(quarter)}
            raised = Part([a for a in raised.value or [] if a.get("period") in periods])
        return ReviewRow(community, numbers, raised)

    async def session(self, session_id: str, token: str | None = None) -> SessionPage:
        """A session with its attendance and feedback summary (the viewer's token lets the
        facilitator and the leader see a summary that others see only from a few feedbacks
        on), its community and its minutes."""
        session = await self.session_only(session_id, token)
        community, minutes = await asyncio.gather(
            self.up.get("events", f"/communities/{session['community_id']}"),
            self.up.get("knowledge", f"/sessions/{session_id}/minutes"),
        )
        return SessionPage(session_id, session, part_of(community), part_of(minutes))

    async def session_only(self, session_id: str, token: str | None = None) -> Mapping[str, Any]:
        """The session as the events service shows it to this viewer, alone (a calendar file
        needs nothing else)."""
        data: Mapping[str, Any] = await self._subject(
            "events", f"/sessions/{session_id}", session_id, token=token
        )
        return data

    async def _subject(
        self,
        service: str,
        path: str,
        subject: str,
        *,
        token: str | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """What a page is about: 404 makes the page's own 404, a service that does not answer
        the page's 503."""
        found = await self.up.get(service, path, params=params, token=token)
        if isinstance(found, Refused) and found.status == 404:
            raise NotFound(subject)
        if not isinstance(found, Ok):
            raise Unavailable(part_of(found).missing or f"{service} is not answering")
        return found.data

    async def artifact(self, artifact_id: str, compare: tuple[int, int] | None) -> ArtifactPage:
        """An artifact rendered (knowledge's sanitised HTML), its versions, related artifacts,
        and the diff between two versions when asked."""
        path = f"/artifacts/{artifact_id}"
        artifact = await self._subject("knowledge", path, artifact_id, params={"format": "html"})
        calls: list[Awaitable[Reply]] = [
            self.up.get("knowledge", f"{path}/versions"),
            self.up.get("knowledge", f"{path}/related", params={"limit": 5}),
        ]
        if compare:
            diff_params = {"from": compare[0], "to": compare[1]}
            calls.append(self.up.get_text("knowledge", f"{path}/diff", params=diff_params))
        versions, related, *diff = await asyncio.gather(*calls)
        return ArtifactPage(
            artifact,
            part_of(versions),
            part_of(related),
            part_of(diff[0]) if diff else None,
            compare,
        )

    async def member(self, member_id: str, token: str | None = None) -> MemberPage:
        """A member's profile (the events service decides what the viewer may see of it: the
        e-mail address only to the member and admins), style, badges and kudos."""
        profile, standing = await asyncio.gather(
            self.up.get("events", f"/members/{member_id}", token=token),
            self.up.get("recognition", f"/members/{member_id}/profile"),
        )
        if isinstance(profile, Refused) and profile.status == 404:
            raise NotFound(member_id)
        return MemberPage(member_id, part_of(profile), part_of(standing))

    async def me(self, member_id: str, token: str) -> MePage:
        """The signed-in member's own profile and notification preferences, with every
        community (a level can be set for any of them, joined or not)."""
        profile, prefs, listed = await asyncio.gather(
            self.up.get("events", f"/members/{member_id}", token=token),
            self.up.get("notifier", f"/members/{member_id}/preferences", token=token),
            self.up.get("events", "/communities", params={"size": 100}),
        )
        return MePage(member_id, part_of(profile), part_of(prefs), part_of(listed, "items"))
