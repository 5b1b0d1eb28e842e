"""From a figure to the facts behind it: the deployments (with their changes and why one
failed), the failed ones, the changes with their lead times and the incidents with their
restore times, for a month of one service sent through the gateway, agreeing with the
figures."""

from typing import Any

import pytest

from bench.cicd_facts import Fact, at, cdevent
from tests.answers import answer_of
from tests.integration.impact.conftest import Platform
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

PAY = "service/pay-api"
C1, C2 = "github.com/acme/pay/pull/1", "github.com/acme/pay/pull/2"

MARCH = [
    Fact("merged", at("2026-03-01 09:00"), C1),
    Fact("packaged", at("2026-03-01 09:10"), "a1", change=C1),
    Fact("deployed", at("2026-03-02 12:00"), PAY, "production", "a1"),  # lead time 27 h
    Fact("packaged", at("2026-03-04 09:10"), "a2", change=C2),  # a change without a merge
    Fact("upgraded", at("2026-03-05 10:00"), PAY, "prod", "a2"),
    Fact("rolledback", at("2026-03-05 11:00"), PAY, "production", "a1"),  # fails a2's
    Fact("deployed", at("2026-03-09 10:00"), PAY, "staging", "a3"),  # not production
    Fact("deployed", at("2026-03-10 10:00"), PAY, "production", "a3"),  # no known change
    Fact("detected", at("2026-03-10 12:00"), "INC-1", "production", "a3", service=PAY),
    Fact("resolved", at("2026-03-10 15:30"), "INC-1"),
    Fact("detected", at("2026-03-12 08:00"), "INC-2", "production", service=PAY),  # still open
    Fact("deployed", at("2026-03-15 10:00"), PAY, "production", "a1"),  # a redeploy of c1
    Fact("deployed", at("2026-04-01 10:00"), PAY, "production", "a4"),  # April's
]


async def behind(platform: Platform, metric: str, **params: Any) -> dict[str, Any]:
    response = await platform.impact.get(
        "/teams/payments/impact/facts", params={"period": "2026-03", "metric": metric, **params}
    )
    return answer_of(response)


async def test_each_figure_opens_on_the_facts_it_counts(platform: Platform) -> None:
    key = await platform.register_ci()
    await platform.owner(PAY, "payments")
    await platform.ingest(key, [cdevent(f, f"m-{n}") for n, f in enumerate(MARCH)])
    await platform.caught_up()
    figures = (await platform.figures("payments", "2026-03"))["dora"]

    deployments = await behind(platform, "deployments")
    rows = [(d["at"], d["artifact_id"], d["changes"]) for d in deployments["facts"]]
    assert rows == [
        ("2026-03-02T12:00:00Z", "a1", [C1]),
        ("2026-03-05T10:00:00Z", "a2", [C2]),
        ("2026-03-10T10:00:00Z", "a3", []),
        ("2026-03-15T10:00:00Z", "a1", [C1]),
    ]
    assert deployments["total"] == figures["deployments"] == 4
    assert {d["service_id"] for d in deployments["facts"]} == {PAY}

    failures = await behind(platform, "failures")
    causes = [(d["artifact_id"], d["failure"]) for d in failures["facts"]]
    assert causes == [
        ("a2", {"cause": "rollback", "at": "2026-03-05T11:00:00Z", "incident_id": None}),
        (
            "a3",
            {
                "cause": "incident_names_artifact",
                "at": "2026-03-10T12:00:00Z",
                "incident_id": "INC-1",
            },
        ),
    ]
    assert figures["change_failure_rate"] == failures["total"] / deployments["total"]

    changes = (await behind(platform, "lead_time"))["facts"]
    assert [(c["change_id"], c["lead_time_h"], c["left_out"]) for c in changes] == [
        (C1, 27.0, None),
        (C2, None, "no_merge"),
    ]
    assert changes[0]["first_deployed_at"] == "2026-03-02T12:00:00Z"  # not the redeploy
    assert figures["lead_time_median_h"] == 27.0

    incidents = (await behind(platform, "incidents"))["facts"]
    assert [(i["incident_id"], i["status"], i["restore_h"]) for i in incidents] == [
        ("INC-1", "resolved", 3.5),
        ("INC-2", "open", None),
    ]
    assert (figures["restore_median_h"], figures["open_incidents"]) == (3.5, 1)

    first_two = await behind(platform, "deployments", limit=2)
    assert (first_two["total"], len(first_two["facts"])) == (4, 2)
    april = await platform.impact.get(
        "/teams/payments/impact/facts", params={"period": "2026-Q2", "metric": "deployments"}
    )
    assert [d["artifact_id"] for d in april.json()["facts"]] == ["a4"]


async def test_asking_for_facts_wrongly_is_answered_naming_the_field(platform: Platform) -> None:
    await platform.owner(PAY, "payments")
    url = "/teams/payments/impact/facts"
    for params, field in (
        ({"period": "2026-03", "metric": "everything"}, "query.metric"),
        ({"period": "March", "metric": "deployments"}, "period"),
        ({"period": "2026-03", "metric": "deployments", "limit": "0"}, "query.limit"),
    ):
        response = await platform.impact.get(url, params=params)
        assert fields(problem_of(response, 422)) == {field}, params
    unknown = await platform.impact.get(
        "/teams/nobody/impact/facts", params={"period": "2026-03", "metric": "deployments"}
    )
    assert problem_of(unknown, 404)["code"] == "unknown_team"
