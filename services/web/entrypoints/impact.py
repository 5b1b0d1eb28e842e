"""The impact pages: the teams, a team's delivery beside its participation (and the facts
behind each figure), and the association across teams for leadership. Read-only: the figures
are public, like the communities' health."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.domain.impact import (
    FACT_METRICS,
    change_shown,
    failure_said,
    left_out_said,
    moment,
    shown,
    status_said,
)
from services.web.entrypoints.http import PageKit
from services.web.queries.impact import ImpactPageQueries

TeamName = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
PeriodKey = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")]
FactMetric = Literal["deployments", "failures", "lead_time", "incidents"]


def impact_router(queries: ImpactPageQueries, kit: PageKit) -> APIRouter:
    api = APIRouter(default_response_class=HTMLResponse)
    helpers = {
        "figure": shown,
        "change_shown": change_shown,
        "failure_said": failure_said,
        "left_out_said": left_out_said,
        "moment": moment,
        "status_said": status_said,
        "fact_metrics": FACT_METRICS,
    }

    @api.get("/teams")
    async def teams(request: Request) -> Response:
        return kit.render(request, "teams.html", {"page": await queries.teams()})

    # Before the team's page: a team's name may hold '/', so that route takes the whole rest.
    @api.get("/teams/{team:path}/facts")
    async def facts(
        request: Request, team: TeamName, period: PeriodKey, metric: FactMetric
    ) -> Response:
        page = await queries.facts(team, period, metric)
        return kit.render(request, "team_facts.html", {"page": page, **helpers})

    @api.get("/teams/{team:path}")
    async def team(request: Request, team: TeamName) -> Response:
        page = await queries.team(team)
        data = page.board.value.chart_data() if page.board.value else None
        context = {"page": page, "chart_data": data, **helpers}
        return kit.render(request, "team.html", context)

    @api.get("/impact/association")
    async def association(
        request: Request, quarter: Annotated[str, Query(max_length=16)] = ""
    ) -> Response:
        page = await queries.association(quarter)
        return kit.render(request, "association.html", {"page": page, **helpers})

    return api
