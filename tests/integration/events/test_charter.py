"""A community's charter with its vision canvas and goals: who may change it, the history of
its versions, goals naming only health metrics, and charters from before the canvas."""

import uuid
from typing import Any

import pytest

from shared.events.catalog import Charter, CommunityCreated
from shared.events.envelope import new_event
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.kafka_io import produce_event
from tests.integration.polling import eventually
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

CANVAS: dict[str, Any] = {
    "purpose": "Share how we test",
    "scope": "all product teams",
    "goals": ["halve flaky tests"],
    "success_measures": ["flaky test count"],
    "vision": "Every team ships on a Friday without fear",
    "importance": "Incidents after releases cost us a week a quarter",
    "impact": "release managers and on-call engineers",
    "resources": "two hours a month per member, a sponsor in engineering",
    "forces_for": ["a sponsor", "teams asking for help"],
    "forces_against": ["release pressure"],
    "health_goals": [
        {"metric": "participation_rate", "comparison": ">=", "target": 0.6},
        {"metric": "facilitators_last6", "comparison": ">=", "target": 3},
    ],
}


async def history(events: EventsApp, community_id: str) -> list[dict[str, Any]]:
    page = await events.get(f"/communities/{community_id}/charter/history")
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_the_leader_draws_the_canvas_and_every_version_is_kept_with_who_and_when(
    events: EventsApp,
) -> None:
    community_id = await events.new_community(leader="lea")
    response = await events.client.patch(
        f"/communities/{community_id}",
        json={"charter": CANVAS},
        params={"wait": "true"},
        headers=bearer("lea"),
    )
    assert response.status_code == 202, response.text

    community = await events.get(f"/communities/{community_id}")
    assert community["charter"] == CANVAS
    newest, founding = await history(events, community_id)
    assert (newest["version"], newest["changed_by"], newest["charter"]) == (2, "lea", CANVAS)
    assert (founding["version"], founding["changed_by"]) == (1, "ops")
    assert founding["charter"]["purpose"] == "Share how we test"
    assert founding["charter"]["vision"] == ""
    assert founding["changed_at"] < newest["changed_at"]
    assert newest["event_id"] == response.json()["event_id"]


async def test_core_members_rename_but_only_the_leader_or_an_admin_change_the_charter(
    events: EventsApp,
) -> None:
    community_id = await events.new_community(leader="lea")
    await events.command(
        "POST", f"/communities/{community_id}/members", {"member_id": "cory", "role": "core"}
    )
    url = f"/communities/{community_id}"

    refused = await events.client.patch(url, json={"charter": CANVAS}, headers=bearer("cory"))
    assert problem_of(refused, 403)["code"] == "not_leader_or_admin"
    renamed = await events.client.patch(
        url, json={"name": "Quality guild"}, params={"wait": "true"}, headers=bearer("cory")
    )
    assert renamed.status_code == 202, renamed.text
    await events.command("PATCH", url, {"charter": {**CANVAS, "vision": "By an admin"}})

    versions = await history(events, community_id)
    assert [(v["version"], v["changed_by"]) for v in versions] == [(2, "ops"), (1, "ops")]
    assert (await events.get(url))["name"] == "Quality guild"


@pytest.mark.parametrize(
    ("goal", "field"),
    [
        ({"metric": "happiness", "comparison": ">=", "target": 1}, "metric"),
        ({"metric": "participation_rate", "comparison": "=>", "target": 0.5}, "comparison"),
        ({"metric": "participation_rate", "comparison": ">=", "target": "most"}, "target"),
    ],
)
async def test_a_goal_names_a_health_metric_a_comparison_and_a_target(
    events: EventsApp, goal: dict[str, Any], field: str
) -> None:
    community_id = await events.new_community(leader="lea")
    charter = {**CANVAS, "health_goals": [CANVAS["health_goals"][0], goal]}
    response = await events.client.patch(
        f"/communities/{community_id}", json={"charter": charter}, headers=bearer("lea")
    )

    problem = problem_of(response, 422)
    assert fields(problem) == {f"charter.health_goals.1.{field}"}
    assert len(await history(events, community_id)) == 1


async def test_a_charter_from_before_the_canvas_reads_with_an_empty_canvas(
    events: EventsApp,
) -> None:
    community_id = f"c-{uuid.uuid4().hex[:8]}"
    created = new_event(
        CommunityCreated(
            community_id=community_id,
            name="Old guild",
            domain="testing",
            charter=Charter(purpose="From the first version"),
            leader_id="lea",
        ),
        source="test/charter",
    )
    # The event as the first version of the catalog wrote it: no canvas, no author.
    created.data["charter"] = {"purpose": "From the first version", "goals": ["g"]}
    del created.data["created_by"]
    await produce_event(
        events.settings.kafka_bootstrap_servers, events.settings.kafka_topic_prefix, created
    )

    async def listed() -> dict[str, Any] | None:
        response = await events.client.get(f"/communities/{community_id}")
        return response.json() if response.status_code == 200 else None

    community = await eventually(listed, what="the community founded by an old event")
    assert community["charter"]["goals"] == ["g"]
    assert community["charter"]["forces_for"] == []
    assert community["charter"]["health_goals"] == []
    ((founding),) = await history(events, community_id)
    assert founding["changed_by"] is None
