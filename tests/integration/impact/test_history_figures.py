"""Six months of CI/CD and community history, sent as a CI/CD system and the communities send
them — CDEvents through the gateway (batched, binary and structured, out of order, some twice),
domain events on their topics, owners set before and after the facts — give, for every team and
period, the figures the reference computes; and the same again after a replay into an emptied
database."""

import json
import math
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from copctl.replay import replay
from services.impact import rebuild
from tests.infra import Infrastructure
from tests.integration.impact.conftest import Platform, platform_for
from tests.integration.impact.history import (
    ETL_MOVES_ON,
    ETL_MOVES_TO,
    GATEWAY_NOW_GOES_TO,
    MONTHS,
    PRODUCTION,
    SERVICES,
    TEAMS,
    History,
)
from tests.integration.impact.impact_reference import Reference, assert_matches

pytestmark = pytest.mark.integration

PERIODS = (*MONTHS, "2026-Q1", "2026-Q2")
SET_BEFORE_THE_FACTS = ("service/pay-api", "service/search")


def binary(event: dict[str, Any], key: str, *, with_time: bool) -> tuple[bytes, dict[str, str]]:
    """The event in binary content mode: attributes in `ce-` headers, the CDEvent as the body."""
    headers = {
        "Authorization": f"Bearer {key}",
        "content-type": "application/json",
        **{
            f"ce-{name}": event[name]
            for name in ("specversion", "id", "source", "type", *(("time",) if with_time else ()))
        },
    }
    return json.dumps(event["data"]).encode(), headers


async def send(platform: Platform, history: History) -> None:
    """The CDEvents shuffled, a tenth of them sent twice, twenty alone in binary mode (half
    without `ce-time`: their time is their context's)."""
    key = await platform.register_ci()
    shuffler = random.Random(3)
    events = history.cdevents()
    shuffler.shuffle(events)
    alone, batched = events[:20], events[20:]
    again = shuffler.sample(batched, len(batched) // 10)
    results = await platform.ingest(key, [*batched, *again])
    assert sum(r["status"] == "duplicate" for r in results) == len(again)
    for n, event in enumerate(alone):
        body, headers = binary(event, key, with_time=n % 2 == 0)
        response = await platform.events.post("/ingest", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["topic"] == "cop.cicd"


@pytest.fixture(scope="module")
async def world(infra: Infrastructure) -> AsyncIterator[tuple[Platform, Reference]]:
    history = History()
    namespace = f"imh{random.Random().getrandbits(40):010x}"
    async with platform_for(infra, namespace) as platform:
        for service in SET_BEFORE_THE_FACTS:
            await platform.owner(service, str(SERVICES[service]))
        await send(platform, history)
        events = list(history.domain)
        random.Random(5).shuffle(events)
        await platform.publish(events)
        for service, team in SERVICES.items():
            if team is not None and service not in SET_BEFORE_THE_FACTS:
                await platform.owner(service, team)
        await platform.owner("service/etl", ETL_MOVES_TO, since=ETL_MOVES_ON.isoformat())
        now = datetime.now(UTC)
        await platform.owner("service/gateway", GATEWAY_NOW_GOES_TO)
        await platform.caught_up()
        owners: dict[str, list[tuple[datetime | None, str]]] = {
            service: [(None, team)] for service, team in SERVICES.items() if team is not None
        }
        owners["service/etl"].append((ETL_MOVES_ON, ETL_MOVES_TO))
        owners["service/gateway"].append((now, GATEWAY_NOW_GOES_TO))
        yield platform, Reference(history.facts, history.domain, owners, PRODUCTION)


async def answers(platform: Platform) -> dict[str, Any]:
    """Every figure the service answers for the history."""
    found: dict[str, Any] = {}
    for team in TEAMS:
        for period in PERIODS:
            found[f"{team} {period}"] = await platform.figures(team, period)
        trend = await platform.impact.get(
            f"/teams/{team}/impact/trend", params={"from": MONTHS[0], "to": MONTHS[-1]}
        )
        assert trend.status_code == 200, trend.text
        found[f"{team} trend"] = trend.json()
    association = await platform.impact.get("/impact/association", params={"quarter": "2026-Q1"})
    assert association.status_code == 200, association.text
    found["association"] = association.json()
    found["teams"] = (await platform.impact.get("/teams")).json()
    return found


async def test_every_figure_of_every_team_and_period_is_the_references(
    world: tuple[Platform, Reference],
) -> None:
    platform, reference = world
    for team in TEAMS:
        for period in PERIODS:
            actual = await platform.figures(team, period)
            assert_matches(actual, reference.impact(team, period), f"{team} {period}")


async def test_the_history_is_not_a_trivial_one(world: tuple[Platform, Reference]) -> None:
    """The history exercises every rule: otherwise matching the reference proves little."""
    platform, reference = world
    q1 = [reference.impact(team, "2026-Q1") for team in TEAMS[:6]]
    assert all(r["dora"]["deployments"] > 5 for r in q1)
    assert any(r["dora"]["change_failure_rate"] > 0 for r in q1)
    assert any(r["dora"]["lead_time_median_h"] for r in q1)
    assert any(r["dora"]["restore_median_h"] for r in q1)
    assert sum(r["dora"]["open_incidents"] for r in q1) > 0
    quality = [reference.report(team, p)["data_quality"] for team in TEAMS for p in PERIODS]
    for gap in (
        "changes_without_merge",
        "negative_lead_times",
        "deployments_without_change",
        "incidents_resolved_before_detected",
        "incidents_without_service",
        "services_without_owner",
    ):
        assert any(q[gap] for q in quality), gap
    assert any(r["participation"]["kudos_received"] for r in q1)
    etl_in_may = await platform.figures("ml", "2026-05")
    assert etl_in_may["dora"]["deployments"] > 0  # the etl service is ml's from April


async def test_the_trend_gives_each_month_as_the_reference(
    world: tuple[Platform, Reference],
) -> None:
    platform, reference = world
    for team in TEAMS:
        response = await platform.impact.get(
            f"/teams/{team}/impact/trend", params={"from": MONTHS[0], "to": MONTHS[-1]}
        )
        assert response.status_code == 200, response.text
        trend = response.json()
        assert (trend["team"], trend["from"], trend["to"]) == (team, MONTHS[0], MONTHS[-1])
        assert [m["period"] for m in trend["months"]] == list(MONTHS)
        for month in trend["months"]:
            expected = reference.report(team, month["period"])
            assert_matches(month, expected, f"{team} {month['period']}")


def mean_ranks(values: list[float]) -> list[Fraction]:
    """Each value's rank counted the long way: 1 + how many are smaller + half the others
    equal to it."""
    return [
        1 + Fraction(sum(v < x for v in values)) + Fraction(sum(v == x for v in values) - 1, 2)
        for x in values
    ]


def rho(xs: list[float], ys: list[float]) -> float:
    rx, ry = mean_ranks(xs), mean_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var_x = sum((a - mx) ** 2 for a in rx)
    var_y = sum((b - my) ** 2 for b in ry)
    return float(cov) / math.sqrt(var_x * var_y)


async def test_the_association_pairs_each_teams_share_with_its_next_quarter_and_ranks_them(
    world: tuple[Platform, Reference],
) -> None:
    platform, reference = world
    response = await platform.impact.get("/impact/association", params={"quarter": "2026-Q1"})
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["quarter"], found["next_quarter"]) == ("2026-Q1", "2026-Q2")
    assert found["label"] == "association, not cause"
    # every team that was ever given a service
    assert [row["team"] for row in found["teams"]] == sorted(TEAMS)
    for row in found["teams"]:
        q1 = reference.impact(row["team"], "2026-Q1")
        q2 = reference.report(row["team"], "2026-Q2")
        share = q1["participation"]["participation_share"]
        assert abs(Fraction(str(row["participation_share"])) - share) <= Fraction(1, 20000)
        for metric, change in row["changes"].items():
            before, after = q1["dora"][metric], q2["dora"][metric]
            if before is None or after is None:
                assert change is None, (row["team"], metric)
            else:
                tolerance = Fraction(1, 100) if metric.endswith("_h") else Fraction(1, 10000)
                assert abs(Fraction(str(change)) - (after - before)) <= tolerance, metric
    for metric, correlation in found["correlations"].items():
        pairs = [
            (row["participation_share"], row["changes"][metric])
            for row in found["teams"]
            if row["changes"][metric] is not None
        ]
        assert correlation["n"] == len(pairs)
        assert correlation["shown"] == (len(pairs) >= 5)
        if correlation["shown"]:
            expected = rho([p for p, _ in pairs], [c for _, c in pairs])
            assert correlation["spearman_rho"] == pytest.approx(expected, abs=1e-4), metric
    assert found["correlations"]["deployments"]["shown"]


async def test_teams_lists_the_services_each_owns_now(world: tuple[Platform, Reference]) -> None:
    platform, _ = world
    teams = {t["team"]: t["services"] for t in (await platform.impact.get("/teams")).json()}
    assert teams["payments"] == ["service/pay-api", "service/pay-ledger"]
    assert teams["ml"] == ["service/etl", "service/recs"]
    assert teams["platform-sre"] == ["service/gateway"]
    assert teams["platform"] == []
    assert "service/orphan" not in {s for services in teams.values() for s in services}


async def test_a_replay_into_an_emptied_database_gives_the_same_figures(
    world: tuple[Platform, Reference],
) -> None:
    platform, _ = world
    before = await answers(platform)
    await platform.stop_impact()
    settings = platform.impact_settings
    done = await replay("impact", settings)
    assert set(done["dropped"]) == set(rebuild.COLLECTIONS)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.infra.mongodb_uri)
    try:
        database = mongo[settings.mongodb_database]
        for name in rebuild.COLLECTIONS:
            assert await database[name].count_documents({}) == 0, name
    finally:
        await mongo.close()
    await platform.start_impact()
    await platform.caught_up()
    assert await answers(platform) == before
