"""A community's health over one period: the metrics, as the recognition service answers them.

`HealthMetrics` is the one definition of the metric names, their order and their types. The
recognition service computes it and answers it as `metrics` in `GET /communities/{id}/health` and
`/health/trend`; `copctl health`, the bench and the tests read those answers by the same names.
Counts are ints; ratios and means are floats rounded to 4 decimals, 0.0 when there is nothing to
divide by. A period P is a month or a quarter, [start, end) in UTC; docs/recognition.md gives the
definitions at length.

A goal (`HealthGoal`) names one of these metrics, a comparison and a target
(`participation_rate >= 0.6`); `evaluate` says whether a period's numbers meet it. Communities
set their goals in their charter; recognition answers them, evaluated, beside the numbers.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


class Comparison(StrEnum):
    AT_LEAST = ">="
    ABOVE = ">"
    AT_MOST = "<="
    BELOW = "<"
    EQUAL = "=="


def _a_metric(name: str) -> str:
    if name not in METRICS:
        raise ValueError(f"{name!r} is not a health metric; one of: {', '.join(METRICS)}")
    return name


MetricName = Annotated[
    str, AfterValidator(_a_metric), Field(json_schema_extra={"enum": [*METRICS]})
]
"""The name of one of `HealthMetrics`' fields."""
PRECISION = 4
"""Decimals the metrics are rounded to: `==` compares a value and a target to as many."""


class HealthGoal(BaseModel):
    """A measurable goal: `metric comparison target`, e.g. `facilitators_last6 >= 3`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: MetricName
    comparison: Comparison
    target: Annotated[float, Field(allow_inf_nan=False)]

    @property
    def text(self) -> str:
        return f"{self.metric} {self.comparison.value} {self.target:g}"


class GoalResult(BaseModel):
    """A goal evaluated on one period's numbers: the value it was judged on, and whether it was
    met."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    goal: str = Field(description="the goal as text, e.g. `participation_rate >= 0.6`")
    metric: str
    comparison: Comparison
    target: float
    value: int | float
    met: bool


def evaluate(goal: HealthGoal, metrics: HealthMetrics) -> GoalResult:
    value: int | float = getattr(metrics, goal.metric)
    actual, target = round(float(value), PRECISION), round(goal.target, PRECISION)
    met = {
        Comparison.AT_LEAST: actual >= target,
        Comparison.ABOVE: actual > target,
        Comparison.AT_MOST: actual <= target,
        Comparison.BELOW: actual < target,
        Comparison.EQUAL: actual == target,
    }[goal.comparison]
    return GoalResult(
        goal=goal.text,
        metric=goal.metric,
        comparison=goal.comparison,
        target=goal.target,
        value=value,
        met=met,
    )


def evaluate_all(goals: Iterable[HealthGoal], metrics: HealthMetrics) -> list[GoalResult]:
    """Each goal on the same period's numbers, in the order the goals were set."""
    return [evaluate(goal, metrics) for goal in goals]
