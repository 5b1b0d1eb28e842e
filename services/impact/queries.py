"""The impact service's reads: teams, a service's owners, a team's figures for a period and month
by month, and the association across teams. Every figure is computed when asked, from the facts
of the periods asked for (and what they point at), read by `_id`."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from services.impact.adapters.projection import ImpactProjection
from services.impact.domain import periods
from services.impact.domain.association import TeamQuarters, association
from services.impact.domain.delivery import CicdWindow, Incident, TeamGaps, delivery
from services.impact.domain.drill_down import Metric, facts_behind
from services.impact.domain.participation import PeopleWindow, participation
from services.impact.domain.periods import InvalidPeriod, Period
from shared.documents import Doc
from shared.refusals import Invalid, NotFound
from shared.team_impact import DataQuality, PeriodImpact, PeriodReport, TeamImpact

TEAMS_AT_ONCE = 8
"""Teams whose windows the association reads at the same time."""


class _Gaps:
    """The platform's gaps for the months of a window: the production incidents naming no
    service, and the services nobody owns, by month."""

    def __init__(self, incidents: dict[str, Incident], unowned: dict[str, list[str]]) -> None:
        self.incidents = incidents
        self.unowned = unowned

    def quality(self, period: Period, team_gaps: TeamGaps) -> DataQuality:
        return DataQuality(
            changes_without_merge=team_gaps.changes_without_merge,
            negative_lead_times=team_gaps.negative_lead_times,
            deployments_without_change=team_gaps.deployments_without_change,
            incidents_resolved_before_detected=team_gaps.incidents_resolved_before_detected,
            incidents_without_service=sum(
                1 for i in self.incidents.values() if period.contains(i.detected_at)
            ),
            services_without_owner=len(
                {s for month in period.months() for s in self.unowned.get(month, ())}
            ),
        )


def _period(key: str, field: str, parse: Any = periods.parse) -> Period:
    try:
        period: Period = parse(key)
    except InvalidPeriod as e:
        raise Invalid("invalid_period", str(e), field=field) from None
    return period


class ImpactQueries:
    def __init__(self, projection: ImpactProjection, production: frozenset[str]) -> None:
        self._p = projection
        self._production = production

    async def teams(self) -> list[Doc]:
        """Every team that owns a service or that a member names, with the services it owns
        now."""
        docs = await self._p.all_teams()
        service_ids = {s for d in docs for s in (d.get("services") or {}).values()}
        states = await self._p.service_states(service_ids)
        now = datetime.now(UTC)
        owned: dict[str, list[str]] = {}
        for state in states.values():
            owner = state.owners.at(now)
            if owner is not None:
                owned.setdefault(owner, []).append(state.service_id)
        return [
            {
                "team": d["_id"],
                "services": sorted(owned.get(d["_id"], [])),
                "members_ever": len(d.get("members") or {}),
            }
            for d in docs
        ]

    async def service(self, service_id: str) -> Doc:
        state = await self._p.service(service_id)
        if state is None:
            raise NotFound("unknown_service", f"no facts and no owner for service {service_id}")
        return {
            "service_id": service_id,
            "owner": state.owners.at(datetime.now(UTC)),
            "owners": state.owners.history(),
            "months": state.months,
        }

    async def _known(self, team: str) -> None:
        if await self._p.team(team) is None:
            raise NotFound("unknown_team", f"no service and no member names team {team}")

    async def _windows(self, team: str, months: list[str]) -> tuple[CicdWindow, PeopleWindow]:
        cicd, people = await asyncio.gather(
            self._p.cicd_window(team, months, self._production),
            self._p.people_window(team, months),
        )
        return cicd, people

    async def _gaps(self, months: list[str]) -> _Gaps:
        return _Gaps(*await self._p.platform_gaps(months, self._production))

    async def team_impact(self, team: str, period_key: str) -> TeamImpact:
        """The team's figures for the period, and the period before's."""
        period = _period(period_key, "period")
        before = _period_before(period)
        await self._known(team)
        months = [*before.months(), *period.months()]
        (cicd, people), gaps = await asyncio.gather(
            self._windows(team, months), self._gaps(period.months())
        )
        report = _report(cicd, people, gaps, team, period)
        earlier = _report(cicd, people, gaps, team, before)
        return TeamImpact(
            **report.model_dump(),
            team=team,
            previous=PeriodImpact(
                period=earlier.period, dora=earlier.dora, participation=earlier.participation
            ),
        )

    async def trend(self, team: str, first: str, last: str) -> Doc:
        """The team's figures month by month, from `first` to `last` (both included)."""
        try:
            months = periods.month_range(first, last)
        except InvalidPeriod as e:
            raise Invalid("invalid_period", str(e), field="from") from None
        await self._known(team)
        keys = [m.key for m in months]
        (cicd, people), gaps = await asyncio.gather(self._windows(team, keys), self._gaps(keys))
        return {
            "team": team,
            "from": first,
            "to": last,
            "months": [_report(cicd, people, gaps, team, month) for month in months],
        }

    async def facts(self, team: str, period_key: str, metric: Metric, limit: int) -> Doc:
        """The facts behind one of the team's figures for the period (the first `limit`, in
        order of time), read like the figures themselves: the team's window, by `_id`."""
        period = _period(period_key, "period")
        await self._known(team)
        cicd = await self._p.cicd_window(team, period.months(), self._production)
        found = facts_behind(cicd, team, period, metric)
        return {
            "team": team,
            "period": period.key,
            "metric": metric,
            "total": len(found),
            "facts": found[:limit],
        }

    async def association(self, quarter_key: str) -> Doc:
        quarter = _period(quarter_key, "quarter", periods.parse_quarter)
        try:
            following = quarter.following()
        except InvalidPeriod as e:
            raise Invalid("invalid_period", str(e), field="quarter") from None
        teams = [d["_id"] for d in await self._p.all_teams() if d.get("services")]
        limit = asyncio.Semaphore(TEAMS_AT_ONCE)

        async def quarters(team: str) -> TeamQuarters:
            async with limit:
                cicd, people = await self._windows(team, [*quarter.months(), *following.months()])
            this_quarter, _ = delivery(cicd, team, quarter)
            next_quarter, _ = delivery(cicd, team, following)
            share = participation(people, team, quarter).participation_share
            return TeamQuarters(team, share, this_quarter, next_quarter)

        rows = await asyncio.gather(*(quarters(t) for t in teams))
        return association(quarter.key, following.key, rows)


def _period_before(period: Period) -> Period:
    try:
        return period.previous()
    except InvalidPeriod as e:
        raise Invalid("invalid_period", str(e), field="period") from None


def _report(
    cicd: CicdWindow, people: PeopleWindow, gaps: _Gaps, team: str, period: Period
) -> PeriodReport:
    dora, team_gaps = delivery(cicd, team, period)
    return PeriodReport(
        period=period.key,
        dora=dora,
        participation=participation(people, team, period),
        data_quality=gaps.quality(period, team_gaps),
    )
