"""The impact service's HTTP API: who owns a service, and the teams' figures.

Giving a service to a team takes the admin scope (an operator, or `copctl impact
import-catalog`); the figures are read without a token, like the communities' health."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.impact.commands import ImpactCommands
from services.impact.domain.drill_down import Metric
from services.impact.queries import ImpactQueries
from shared.auth import Caller
from shared.events.catalog import Instant, ServiceRef, TeamName
from shared.idempotency import Once
from shared.team_impact import PeriodReport, TeamImpact

PeriodKey = Annotated[
    str, Query(max_length=16, description="YYYY-MM or YYYY-Qn", examples=["2026-Q3"])
]
MonthKey = Annotated[str, Query(max_length=16, description="YYYY-MM")]


class OwnerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: TeamName
    since: Instant | None = Field(
        None,
        description="from when the team owns it; default: now (the first owner of a service "
        "owns its earlier facts too)",
    )


class OwnerAnswer(BaseModel):
    service_id: str
    team: str
    status: Literal["assigned", "unchanged"]
    event_id: str | None = Field(None, description="the event published (none when unchanged)")
    applied: bool = Field(description="the projection shows it (wait=true, or unchanged)")


class OwnerPeriod(BaseModel):
    team: str
    from_: datetime | None = Field(alias="from", description="null: from the beginning")
    assigned_at: datetime


class ServiceOwnership(BaseModel):
    service_id: str
    owner: str | None
    owners: list[OwnerPeriod]
    months: list[str] = Field(description="the months with CI/CD facts of the service")


class Team(BaseModel):
    team: str
    services: list[str] = Field(description="the services it owns now")
    members_ever: int = Field(description="members whose profile ever named the team")


class TeamChanges(BaseModel):
    team: str
    participation_share: float = Field(description="in the quarter")
    changes: dict[str, float | None] = Field(
        description="each DORA metric's next quarter minus this quarter (null: a side is null)"
    )


class Correlation(BaseModel):
    n: int = Field(description="the teams with both figures")
    spearman_rho: float | None = Field(description="shown only from `min_teams` teams on")
    shown: bool


class Association(BaseModel):
    quarter: str
    next_quarter: str
    label: str = Field(description="always: association, not cause")
    note: str
    min_teams: int
    teams: list[TeamChanges]
    correlations: dict[str, Correlation]


class FailureCause(BaseModel):
    cause: Literal["incident_names_artifact", "rollback", "incident_of_service"] = Field(
        description="a production incident names its artifact; or, while it was its service's "
        "latest production deployment, a production rollback of the service or an incident of "
        "the service naming no artifact"
    )
    at: datetime = Field(description="when that incident was detected or the rollback came")
    incident_id: str | None


class DeploymentFact(BaseModel):
    kind: Literal["deployment"]
    at: datetime
    service_id: str
    artifact_id: str
    changes: list[str] = Field(description="the changes its artifact was packaged from")
    failure: FailureCause | None = Field(description="why it counts as failed; null: it did not")


class ChangeFact(BaseModel):
    kind: Literal["change"]
    change_id: str
    merged_at: datetime | None
    first_deployed_at: datetime = Field(description="its first production deployment")
    service_id: str
    artifact_id: str
    lead_time_h: float | None = Field(description="null: left out of the median (`left_out`)")
    left_out: Literal["no_merge", "deployed_before_merge"] | None


class IncidentFact(BaseModel):
    kind: Literal["incident"]
    incident_id: str
    service_id: str | None
    artifact_id: str | None
    detected_at: datetime
    resolved_at: datetime | None
    restore_h: float | None = Field(description="null: open, or resolved before detected")
    status: Literal["resolved", "open", "resolved_before_detected"]


class FactsBehind(BaseModel):
    team: str
    period: str
    metric: Metric
    total: int = Field(description="the facts behind the figure (`facts` holds the first `limit`)")
    facts: list[Annotated[DeploymentFact | ChangeFact | IncidentFact, Field(discriminator="kind")]]


class Trend(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    team: str
    from_: str = Field(alias="from")
    to: str
    months: list[PeriodReport]


def router(
    commands: ImpactCommands,
    queries: ImpactQueries,
    auth: Callable[..., Awaitable[Caller]],
    idempotent: Callable[..., Awaitable[Once]],
) -> APIRouter:
    api = APIRouter()
    CallerDep = Annotated[Caller, Depends(auth)]
    OnceDep = Annotated[Once, Depends(idempotent)]

    @api.put(
        "/services/{service_id:path}",
        tags=["services"],
        status_code=status.HTTP_202_ACCEPTED,
        responses={
            200: {"description": "the team owns the service already: nothing published"},
            401: {"description": "no valid bearer token"},
            403: {"description": "the token has no admin scope"},
        },
    )
    async def assign_owner(
        service_id: ServiceRef,
        body: OwnerRequest,
        caller: CallerDep,
        once: OnceDep,
        response: Response,
        wait: Annotated[bool, Query(description="return once the figures count it")] = False,
    ) -> OwnerAnswer:
        """Give the service to a team, from `since` or from now. The first owner of a service
        owns all its facts, earlier ones included; a later owner from its time."""
        caller.require_admin()

        async def assign() -> OwnerAnswer:
            event = await commands.assign_owner(service_id, body.team, body.since, caller.member_id)
            if event is None:
                response.status_code = status.HTTP_200_OK
                return OwnerAnswer(
                    service_id=service_id, team=body.team, status="unchanged", applied=True
                )
            applied = wait and await commands.wait_for_owner(service_id, event.id)
            return OwnerAnswer(
                service_id=service_id,
                team=body.team,
                status="assigned",
                event_id=event.id,
                applied=applied,
            )

        return await once(OwnerAnswer, assign)

    @api.get(
        "/services/{service_id:path}",
        tags=["services"],
        responses={404: {"description": "no facts and no owner for the service"}},
    )
    async def service(service_id: ServiceRef) -> ServiceOwnership:
        """The service's owner now and its owners over time."""
        return ServiceOwnership.model_validate(await queries.service(service_id))

    @api.get("/teams", tags=["teams"])
    async def teams() -> list[Team]:
        """Every team that owns a service or that a member's profile names."""
        return [Team.model_validate(t) for t in await queries.teams()]

    @api.get(
        "/teams/{team:path}/impact/trend",
        tags=["teams"],
        responses={404: {"description": "unknown team"}, 422: {"description": "bad months"}},
    )
    async def trend(
        team: str,
        from_: Annotated[str, Query(alias="from", max_length=16, description="YYYY-MM")],
        to: MonthKey,
    ) -> Trend:
        """The team's figures month by month (at most 60 months)."""
        return Trend.model_validate(await queries.trend(team, from_, to))

    @api.get(
        "/teams/{team:path}/impact/facts",
        tags=["teams"],
        responses={404: {"description": "unknown team"}, 422: {"description": "bad period"}},
    )
    async def facts(
        team: str,
        period: PeriodKey,
        metric: Annotated[
            Metric,
            Query(
                description="deployments (and deployment days), failures (change failure "
                "rate), lead_time, incidents (restore time and open incidents)"
            ),
        ],
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> FactsBehind:
        """The facts behind one of the team's figures for a month or a quarter, in order of
        time: its production deployments (with their changes and, when failed, why), its
        failed deployments, the changes it first deployed (with their lead time, or why it is
        left out), or its production incidents (with their restore time)."""
        return FactsBehind.model_validate(await queries.facts(team, period, metric, limit))

    @api.get(
        "/teams/{team:path}/impact",
        tags=["teams"],
        responses={404: {"description": "unknown team"}, 422: {"description": "bad period"}},
    )
    async def impact(team: str, period: PeriodKey) -> TeamImpact:
        """The team's delivery (DORA metrics), participation and data quality for a month or a
        quarter, and the period before's figures."""
        return await queries.team_impact(team, period)

    @api.get(
        "/impact/association",
        tags=["association"],
        responses={422: {"description": "not a quarter"}},
    )
    async def association(
        quarter: Annotated[str, Query(max_length=16, description="YYYY-Qn")],
    ) -> Association:
        """Per team: participation share in the quarter and the change of each DORA metric to
        the next quarter; Spearman's rank correlation across teams, shown from 5 teams on. An
        association, not a cause."""
        return Association.model_validate(await queries.association(quarter))

    return api
