"""A team's impact over one period, as the impact service answers it: its delivery (the DORA
metrics, from its CI/CD events), its participation in the communities, and what the numbers miss.

These models are the one definition of the figures' names, order and types: the impact service
computes and answers them (`GET /teams/{team}/impact`, `/impact/trend`), and the pages, the chat
command, the bench and the tests read the answers by the same names. docs/impact.md gives the
definitions at length. Hours are rounded to 2 decimals, shares and rates to 4; a median of
nothing is null.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Hours = Annotated[float, Field(description="hours, 2 decimals")]


class _Figures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Dora(_Figures):
    """Delivery in P, from the production CI/CD facts of the services the team owns."""

    deployments: Count
    """production `service.deployed` and `service.upgraded` in P"""
    deployment_days: Count
    """distinct UTC dates in P with at least one deployment"""
    lead_time_median_h: Hours | None
    """median of (first production deployment - merge) over the changes first deployed in P"""
    change_failure_rate: Share
    """failed deployments / deployments in P (a failure counts in its deployment's period)"""
    restore_median_h: Hours | None
    """median of (resolved - detected) over the production incidents detected in P, resolved"""
    open_incidents: Count
    """production incidents detected in P and not resolved yet"""


class Participation(_Figures):
    """The team's members in the communities in P."""

    members: Count
    """members whose team is the team at the end of P"""
    attending_members: Count
    """of those, the ones who attended at least one session held in P"""
    participation_share: Share
    """attending_members / members"""
    sessions_attended: Count
    """attendances in P by the team's members: one per member per held session"""
    artifacts_authored: Count
    """artifacts published in P with at least one author in the team"""
    reuses_by_team: Count
    """reuses in P recorded with the team"""
    kudos_received: Count
    """counted recipients of kudos in P among the team's members"""


class DataQuality(_Figures):
    """What the DORA figures of P leave out, so that a reader knows what they miss."""

    changes_without_merge: Count
    """the team's changes first deployed in P without a `change.merged`"""
    negative_lead_times: Count
    """the team's changes first deployed in P before their merge time"""
    deployments_without_change: Count
    """the team's deployments in P whose artifact was packaged from no known change"""
    incidents_resolved_before_detected: Count
    """the team's incidents detected in P whose resolution is timed before their detection"""
    incidents_without_service: Count
    """production incidents detected in P naming no service (no team's: counted for all)"""
    services_without_owner: Count
    """services with CI/CD facts in P and no owning team yet (no team's: counted for all)"""


class PeriodImpact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str
    dora: Dora
    participation: Participation


class PeriodReport(PeriodImpact):
    data_quality: DataQuality


class TeamImpact(PeriodReport):
    """`GET /teams/{team}/impact?period=P`: P's figures, and the period before's to compare."""

    team: str
    previous: PeriodImpact
