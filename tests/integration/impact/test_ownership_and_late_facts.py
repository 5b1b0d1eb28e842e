"""Who owns a service decides whose figures its facts are in, whenever the owner is set; facts
that arrive late change the figures; bad requests are answered naming what is wrong."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.cicd_facts import Fact, at, cdevent
from copctl.impact import import_catalog
from tests.integration.apps import bearer
from tests.integration.impact.conftest import Platform
from tests.problems import fields, problem_of

pytestmark = pytest.mark.integration

PAY = "service/pay-api"


def deployed(moment: str, artifact: str, service: str = PAY) -> Fact:
    return Fact("deployed", at(moment), service, "production", artifact)


async def test_the_first_owner_owns_earlier_facts_and_a_later_owner_takes_over_from_since(
    platform: Platform,
) -> None:
    key = await platform.register_ci()
    facts = [
        deployed("2026-01-10 10:00", "a1"),
        deployed("2026-02-10 10:00", "a2"),
        deployed("2026-03-10 10:00", "a3"),
        deployed("2026-03-20 10:00", "a4"),
    ]
    await platform.ingest(key, [cdevent(f, f"d-{n}") for n, f in enumerate(facts)])
    await platform.caught_up()
    nobody = await platform.impact.get("/teams/payments/impact", params={"period": "2026-01"})
    assert problem_of(nobody, 404)["code"] == "unknown_team"

    first = await platform.owner(PAY, "payments")  # set today, long after the facts
    assert first["status"] == "assigned"
    for month, deployments in (("2026-01", 1), ("2026-02", 1), ("2026-03", 2)):
        figures = await platform.figures("payments", month)
        assert figures["dora"]["deployments"] == deployments, month
        assert figures["data_quality"]["services_without_owner"] == 0

    await platform.owner(PAY, "search", since="2026-03-15T00:00:00Z")
    assert (await platform.figures("payments", "2026-03"))["dora"]["deployments"] == 1
    assert (await platform.figures("search", "2026-03"))["dora"]["deployments"] == 1
    assert (await platform.figures("payments", "2026-Q1"))["dora"]["deployments"] == 3
    service = (await platform.impact.get(f"/services/{PAY}")).json()
    assert service["owner"] == "search"
    assert [(o["team"], o["from"]) for o in service["owners"]] == [
        ("payments", None),
        ("search", "2026-03-15T00:00:00Z"),
    ]


async def test_a_new_owner_without_since_takes_over_from_now_and_repeating_it_changes_nothing(
    platform: Platform,
) -> None:
    key = await platform.register_ci()
    await platform.ingest(key, [cdevent(deployed("2026-02-10 10:00", "a1"), "d-1")])
    await platform.owner(PAY, "payments")
    moved = await platform.owner(PAY, "search")
    assert moved["status"] == "assigned"
    again = await platform.impact.put(f"/services/{PAY}", json={"team": "search"})
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert (await platform.figures("payments", "2026-02"))["dora"]["deployments"] == 1
    assert (await platform.figures("search", "2026-02"))["dora"]["deployments"] == 0
    teams = {t["team"]: t for t in (await platform.impact.get("/teams")).json()}
    assert teams["search"]["services"] == [PAY]
    assert teams["payments"]["services"] == []


async def test_a_service_without_owner_is_counted_as_such_and_its_facts_wait_for_one(
    platform: Platform,
) -> None:
    key = await platform.register_ci()
    await platform.owner("service/known", "payments")
    await platform.ingest(
        key,
        [
            cdevent(deployed("2026-02-03 10:00", "b1", "service/orphan"), "o-1"),
            cdevent(deployed("2026-02-04 10:00", "b2", "service/orphan"), "o-2"),
            cdevent(
                Fact("detected", at("2026-02-05 10:00"), "INC-1", "prod", "b2"), "o-3"
            ),  # naming no service
        ],
    )
    await platform.caught_up()
    quality = (await platform.figures("payments", "2026-02"))["data_quality"]
    assert quality["services_without_owner"] == 1
    assert quality["incidents_without_service"] == 1
    await platform.owner("service/orphan", "payments")
    figures = await platform.figures("payments", "2026-02")
    assert figures["data_quality"]["services_without_owner"] == 0
    assert figures["dora"]["deployments"] == 2
    assert figures["dora"]["change_failure_rate"] == 0.5  # the incident names b2's artifact


async def test_a_merge_that_arrives_after_the_deployment_gives_the_lead_time_then(
    platform: Platform,
) -> None:
    key = await platform.register_ci()
    await platform.owner(PAY, "payments")
    change = "github.com/acme/pay/pull/7"
    await platform.ingest(
        key,
        [
            cdevent(deployed("2026-04-02 12:30", "a7"), "e-1"),
            cdevent(Fact("packaged", at("2026-04-01 09:10"), "a7", change=change), "e-2"),
        ],
    )
    await platform.caught_up()
    before = await platform.figures("payments", "2026-04")
    assert before["dora"]["lead_time_median_h"] is None
    assert before["data_quality"]["changes_without_merge"] == 1
    await platform.ingest(key, [cdevent(Fact("merged", at("2026-04-01 09:00"), change), "e-3")])
    await platform.caught_up()
    after = await platform.figures("payments", "2026-04")
    assert after["dora"]["lead_time_median_h"] == 27.5
    assert after["data_quality"]["changes_without_merge"] == 0
    assert after["previous"]["period"] == "2026-03"


async def test_only_an_admin_gives_a_service_to_a_team(platform: Platform) -> None:
    response = await platform.impact.put(
        f"/services/{PAY}", json={"team": "payments"}, headers=bearer("ada")
    )
    assert problem_of(response, 403)
    anonymous = await platform.impact.put(
        f"/services/{PAY}", json={"team": "payments"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401


async def test_bad_periods_and_bodies_are_answered_naming_the_field(platform: Platform) -> None:
    await platform.owner(PAY, "payments")
    for url, params, field in (
        ("/teams/payments/impact", {"period": "2026-13"}, "period"),
        ("/teams/payments/impact/trend", {"from": "2026-05", "to": "2026-01"}, "from"),
        ("/impact/association", {"quarter": "2026-05"}, "quarter"),
    ):
        response = await platform.impact.get(url, params=params)
        assert fields(problem_of(response, 422)) == {field}, url
    wrong = await platform.impact.put(f"/services/{PAY}", json={"team": "", "since": "soon"})
    assert fields(problem_of(wrong, 422)) == {"team", "since"}


async def test_import_catalog_gives_each_component_to_its_owner(
    platform: Platform, tmp_path: Path
) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        "kind: Component\nmetadata:\n  name: pay-api\n  annotations:\n"
        "    cop.platform/service-id: service/pay-api\nspec:\n  owner: group:default/payments\n"
        "---\nkind: Component\nmetadata: {name: search}\nspec: {owner: search}\n"
    )
    report = await import_catalog(platform.impact, tmp_path)
    assert sorted(o.service_id for o in report.assigned) == ["search", PAY]
    again = await import_catalog(platform.impact, tmp_path)
    assert (len(again.assigned), len(again.unchanged), again.failed) == (0, 2, [])
    service = (await platform.impact.get(f"/services/{PAY}")).json()
    assert service["owner"] == "payments"
    assert service["owners"][0]["assigned_at"] <= datetime.now(UTC).isoformat()
