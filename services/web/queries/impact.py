"""What the impact pages show, read from the impact service: the teams, a team's twelve months
and its quarter against the one before, the facts behind one of its figures, and the
association across teams (the leadership view). The figures are read without a token."""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from services.web.adapters.upstream import Ok, Refused, Upstreams
from services.web.domain.health import is_quarter, months_back, quarter_of, quarters_back
from services.web.domain.impact import (
    AssociationView,
    QuarterView,
    TeamBoard,
    association_view,
    quarter_view,
    team_board,
)
from services.web.queries.pages import NotFound, Part, part_of

TEAM_MONTHS = 12
ASSOCIATION_QUARTERS = 9  # the one in progress and the eight before it
FACTS_SHOWN = 200


def _today() -> date:
    return datetime.now(UTC).date()


def _team_path(team: str) -> str:
    return f"/teams/{quote(team, safe='')}"


@dataclass(frozen=True)
class TeamsPage:
    teams: Part[list[Mapping[str, Any]]]


@dataclass(frozen=True)
class TeamPage:
    team: str
    services: Part[list[str]]
    board: Part[TeamBoard]
    quarter: Part[QuarterView]


@dataclass(frozen=True)
class FactsPage:
    team: str
    period: str
    metric: str
    answer: Part[Mapping[str, Any]]


@dataclass(frozen=True)
class AssociationPage:
    quarter: str
    choices: list[str]
    open_next: str | None  # of the choices, the one whose next quarter is still in progress
    view: Part[AssociationView]


class ImpactPageQueries:
    def __init__(self, upstreams: Upstreams) -> None:
        self.up = upstreams

    async def teams(self) -> TeamsPage:
        return TeamsPage(part_of(await self.up.get("impact", "/teams")))

    async def team(self, team: str, today: date | None = None) -> TeamPage:
        """The team's last twelve months, month by month, and this quarter (so far) against
        the one before."""
        day = today or _today()
        months = months_back(day, TEAM_MONTHS)
        path = _team_path(team)
        trend, quarter, listed = await asyncio.gather(
            self.up.get(
                "impact", f"{path}/impact/trend", params={"from": months[0], "to": months[-1]}
            ),
            self.up.get("impact", f"{path}/impact", params={"period": quarter_of(day)}),
            self.up.get("impact", "/teams"),
        )
        if isinstance(trend, Refused) and trend.status == 404:
            raise NotFound(team)
        months_shown = part_of(trend, "months")
        compared = part_of(quarter)
        services = part_of(listed)
        if services.ok:
            ours = [t for t in services.value or [] if t.get("team") == team]
            services = Part(list(ours[0]["services"]) if ours else [])
        return TeamPage(
            team,
            services,
            Part(team_board(months, months_shown.value or []))
            if months_shown.ok
            else Part(missing=months_shown.missing),
            Part(quarter_view(compared.value or {}))
            if compared.ok
            else Part(missing=compared.missing),
        )

    async def facts(self, team: str, period: str, metric: str) -> FactsPage:
        reply = await self.up.get(
            "impact",
            f"{_team_path(team)}/impact/facts",
            params={"period": period, "metric": metric, "limit": FACTS_SHOWN},
        )
        if isinstance(reply, Refused) and reply.status == 404:
            raise NotFound(team)
        return FactsPage(team, period, metric, part_of(reply))

    async def association(self, quarter: str = "", today: date | None = None) -> AssociationPage:
        """By default the latest quarter whose next quarter has ended; any quarter may be
        asked for."""
        recent = quarters_back(today or _today(), ASSOCIATION_QUARTERS)
        choices, open_next = recent[1:], recent[1]
        if not is_quarter(quarter):
            quarter = choices[1]
        if quarter not in choices:
            choices = sorted([*choices, quarter], reverse=True)
        reply = await self.up.get("impact", "/impact/association", params={"quarter": quarter})
        view = part_of(reply)
        return AssociationPage(
            quarter,
            choices,
            open_next,
            Part(association_view(reply.data)) if isinstance(reply, Ok) else view,
        )
