"""Goals on health metrics: one definition of what a goal may name, and how it is judged."""

import pytest
from pydantic import ValidationError

from shared.community_health import METRICS, HealthGoal, HealthMetrics, evaluate, evaluate_all


def metrics(**values: float) -> HealthMetrics:
    return HealthMetrics.model_validate({**dict.fromkeys(METRICS, 0), **values})


@pytest.mark.parametrize(
    ("comparison", "target", "met"),
    [
        (">=", 0.6, True),
        (">=", 0.6001, False),
        (">", 0.6, False),
        ("<=", 0.6, True),
        ("<", 0.6, False),
        ("<", 0.61, True),
        ("==", 0.6, True),
        ("==", 0.60001, True),  # compared to the metrics' 4 decimals
        ("==", 0.5999, False),
    ],
)
def test_a_goal_compares_the_metric_with_its_target(
    comparison: str, target: float, met: bool
) -> None:
    goal = HealthGoal.model_validate(
        {"metric": "participation_rate", "comparison": comparison, "target": target}
    )

    result = evaluate(goal, metrics(participation_rate=0.6))

    assert (result.value, result.met) == (0.6, met)
    assert result.goal == f"participation_rate {comparison} {target:g}"


def test_counts_keep_their_type_and_goals_keep_their_order() -> None:
    goals = [
        HealthGoal.model_validate({"metric": m, "comparison": ">=", "target": 3})
        for m in ("facilitators_last6", "sessions_held")
    ]

    results = evaluate_all(goals, metrics(facilitators_last6=3, sessions_held=2))

    assert [(r.goal, r.value, r.met) for r in results] == [
        ("facilitators_last6 >= 3", 3, True),
        ("sessions_held >= 3", 2, False),
    ]
    assert isinstance(results[0].value, int)


@pytest.mark.parametrize(
    ("goal", "field"),
    [
        ({"metric": "happiness", "comparison": ">=", "target": 1}, "metric"),
        ({"metric": "members", "comparison": "=>", "target": 1}, "comparison"),
        ({"metric": "members", "comparison": ">=", "target": float("nan")}, "target"),
        ({"metric": "members", "comparison": ">=", "target": 1, "weight": 2}, "weight"),
    ],
)
def test_a_goal_names_a_known_metric_a_comparison_and_a_finite_target(
    goal: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as invalid:
        HealthGoal.model_validate(goal)
    assert [e["loc"] for e in invalid.value.errors()] == [(field,)]


def test_the_schema_lists_the_metrics_a_goal_may_name() -> None:
    schema = HealthGoal.model_json_schema()
    assert schema["properties"]["metric"]["enum"] == list(METRICS)
