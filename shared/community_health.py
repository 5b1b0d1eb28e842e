"""A community's health over one period: the metrics, as the recognition service answers them.

`HealthMetrics` is the one definition of the metric names, their order and their types. The
recognition service computes it and answers it as `metrics` in `GET /communities/{id}/health` and
`/health/trend`; `copctl health`, the bench and the tests read those answers by the same names.
Counts are ints; ratios and means are floats rounded to 4 decimals, 0.0 when there is nothing to
divide by. A period P is a month or a quarter, [start, end) in UTC; docs/recognition.md gives the
definitions at length.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Mean = Annotated[float, Field(ge=0)]


class HealthMetrics(BaseModel):
    """One period's health numbers, in the contract's order."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    members: Count
    """members of P"""
    new_members: Count
    """members who joined during P"""
    active_members: Count
    """members of P with activity in P"""
    participation_rate: Share
    """active_members / members"""
    inactive_members: Count
    """members of P with no activity in the 90 days before P's end"""
    sessions_held: Count
    """sessions held in P"""
    avg_attendance: Mean
    """mean number of attendees of the sessions held in P"""
    attendance_consistency: Share
    """share of members of P who attended at least half of the sessions held in P"""
    artifacts_published: Count
    """artifacts published in P"""
    reuses: Count
    """artifact reuses in P"""
    cross_team_reuses: Count
    """reuses in P by a team that is none of the artifact's authors' teams"""
    cross_team_sessions: Count
    """sessions in P whose participants come from at least 2 known teams"""
    absence_factor: Count
    """the fewest contributors whose give points in P reach half of them all"""
    top20_share: Share
    """give points of the top ceil(20% of contributors) over all give points in P"""
    facilitators_last6: Count
    """distinct facilitators of the last 6 sessions held before P's end"""
    sessions_last6: Count
    """how many such sessions there are (at most 6)"""
    avg_rating: Mean
    """mean rating of the feedback given in P"""
    applied_share: Share
    """share of that feedback that applied something"""
    action_closure_rate: Share
    """share of the action items opened in P closed before P's end"""
    contributors_with_give: Count
    """members with give points in P"""


METRICS: tuple[str, ...] = tuple(HealthMetrics.model_fields)
"""The metric names in the contract's order."""
