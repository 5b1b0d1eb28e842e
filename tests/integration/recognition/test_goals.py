"""The goals of a community's charter in its health answer: each, per period, met or not with
the value it was judged on; a new charter's goals replace the old ones."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.infra import Infrastructure
from tests.integration.polling import eventually
from tests.integration.recognition.beside_events import BesideEvents, beside_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def platform(infra: Infrastructure, unique: str) -> AsyncIterator[BesideEvents]:
    async with beside_events(infra, f"gol{unique}") as running:
        yield running


def goal(metric: str, comparison: str, target: float) -> dict[str, Any]:
    return {"metric": metric, "comparison": comparison, "target": target}


async def test_each_goal_is_met_or_not_per_period_with_its_value(platform: BesideEvents) -> None:
    goals = [
        goal("members", ">=", 2),
        goal("sessions_held", ">=", 1),
        goal("sessions_held", "<", 1),
        goal("participation_rate", "==", 0),
    ]
    community = await platform.community("lea", "ann", "bob", health_goals=goals)

    async def judged() -> dict[str, Any] | None:
        health = await platform.read(f"/communities/{community}/health")
        return health if health["goals"] and health["metrics"]["members"] == 2 else None

    health = await eventually(judged, what="the community's goals in its health answer")
    assert health["metrics"]["sessions_held"] == 0
    assert [(g["goal"], g["value"], g["met"]) for g in health["goals"]] == [
        ("members >= 2", 2, True),
        ("sessions_held >= 1", 0, False),
        ("sessions_held < 1", 0, True),
        ("participation_rate == 0", 0.0, True),
    ]
    assert health["goals"][0] == {
        "goal": "members >= 2",
        "metric": "members",
        "comparison": ">=",
        "target": 2.0,
        "value": 2,
        "met": True,
    }
    # The month before, nobody had joined yet.
    before = health["previous"]
    assert before["metrics"]["members"] == 0
    assert [(g["value"], g["met"]) for g in before["goals"]][:2] == [(0, False), (0, False)]

    new_charter = {"purpose": "Learn from each other", "health_goals": [goal("members", "<", 2)]}
    await platform.act("lea", "PATCH", f"/communities/{community}", {"charter": new_charter})

    async def replaced() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await platform.read(f"/communities/{community}/health"))[
            "goals"
        ]
        return found if len(found) == 1 else None

    (only,) = await eventually(replaced, what="the new charter's goals")
    assert (only["goal"], only["value"], only["met"]) == ("members < 2", 2, False)
    month = health["period"]
    trend = await platform.read(
        f"/communities/{community}/health/trend", **{"from": month, "to": month}
    )
    assert [g["goal"] for g in trend["months"][0]["goals"]] == ["members < 2"]
