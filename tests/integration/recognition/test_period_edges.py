"""Periods and times at the ends of the calendar, asked of recognition on the real stack.

A period's year runs from 0002 to 9998, the years an event's time may fall in, so the period
before and after any of them exists. Beyond that every query answers 422 problem+json naming
the parameter (never a 500), and over real HTTP the connection stays open for the next request.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.recognition.bootstrap import bootstrap
from services.recognition.settings import RecognitionSettings
from tests.infra import Infrastructure
from tests.integration.apps import bearer, drop_database, listening, serving, settings_for
from tests.problems import problem_of

pytestmark = pytest.mark.integration

C = "edge-guild"
M = "edge-member"

# (path, query, the parameter a 422 must name)
OUT_OF_RANGE: list[tuple[str, dict[str, str], str]] = [
    *[
        (f"/communities/{C}/health", {"period": p}, "period")
        for p in ("0001-01", "9999-12", "0000-01", "9999-Q4", "0001-Q1", "9999-01")
    ],
    *[
        (f"/communities/{C}/leaderboard", {"period": p}, "period")
        for p in ("9999-12", "9999-Q4", "0000-01", "9999-W52", "0001-W01", "0001-01")
    ],
    *[
        (f"/members/{M}/profile", {"period": p}, "period")
        for p in ("9999-12", "9999-Q4", "0000-01", "0001-W01")
    ],
    (f"/communities/{C}/health/trend", {"from": "0001-01", "to": "9999-12"}, "from"),
    (f"/communities/{C}/health/trend", {"from": "0002-01", "to": "9999-12"}, "to"),
    (f"/communities/{C}/health/trend", {"from": "0000-01", "to": "0002-01"}, "from"),
    *[
        (f"/communities/{C}/kudos", {"before": t}, "before")
        for t in (
            "0001-01-01T00:00:00Z",
            "0001-12-31T23:59:59.999999Z",
            "9999-01-01T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "2026-11-21T09:00:00",  # no offset
        )
    ],
]

# The first and last periods of each kind, and the times at the ends of the range.
IN_RANGE: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    (f"/communities/{C}/health", {"period": "0002-01"}, {"period": "0002-01"}),
    (f"/communities/{C}/health", {"period": "0002-Q1"}, {"period": "0002-Q1"}),
    (f"/communities/{C}/health", {"period": "9998-12"}, {"period": "9998-12"}),
    (f"/communities/{C}/health", {"period": "9998-Q4"}, {"period": "9998-Q4"}),
    (f"/communities/{C}/leaderboard", {"period": "0002-W01"}, {"period": "0002-W01"}),
    (f"/communities/{C}/leaderboard", {"period": "9998-W53"}, {"period": "9998-W53"}),
    (f"/communities/{C}/leaderboard", {"period": "9998-12"}, {"period": "9998-12"}),
    (f"/communities/{C}/leaderboard", {"period": "0002-Q1"}, {"period": "0002-Q1"}),
    (f"/members/{M}/profile", {"period": "9998-Q4"}, {}),
    (f"/members/{M}/profile", {"period": "0002-01"}, {}),
    (f"/communities/{C}/health/trend", {"from": "0002-01", "to": "0002-12"}, {"from": "0002-01"}),
    (f"/communities/{C}/health/trend", {"from": "9998-01", "to": "9998-12"}, {"to": "9998-12"}),
    (f"/communities/{C}/kudos", {"before": "0002-01-01T00:00:00Z"}, {"items": []}),
    (f"/communities/{C}/kudos", {"before": "9998-12-31T23:59:59Z"}, {"items": []}),
    (f"/communities/{C}/kudos", {"before": "0002-01-01T10:00:00+10:00"}, {"items": []}),
]


def _id(case: tuple[str, dict[str, str], Any]) -> str:
    path, query, _ = case
    return f"{path.rsplit('/', 1)[-1]}?{'&'.join(f'{k}={v}' for k, v in query.items())}"


@pytest.fixture
async def settings(infra: Infrastructure, unique: str) -> AsyncIterator[RecognitionSettings]:
    settings = settings_for(RecognitionSettings, infra, f"edge{unique}")
    yield settings
    await drop_database(infra, settings.mongodb_database)


@pytest.fixture
async def client(settings: RecognitionSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(bootstrap(settings), "recognition") as client:
        yield client


def assert_names(response: httpx.Response, parameter: str) -> None:
    problem = problem_of(response, 422)
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [f"query.{parameter}"], problem


@pytest.mark.parametrize("case", OUT_OF_RANGE, ids=[_id(c) for c in OUT_OF_RANGE])
async def test_a_period_or_time_past_the_range_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, case: tuple[str, dict[str, str], str]
) -> None:
    path, query, parameter = case
    assert_names(await client.get(path, params=query), parameter)


@pytest.mark.parametrize("case", IN_RANGE, ids=[_id(c) for c in IN_RANGE])
async def test_the_first_and_last_periods_and_times_of_the_range_are_answered(
    client: httpx.AsyncClient, case: tuple[str, dict[str, str], dict[str, Any]]
) -> None:
    path, query, expected = case
    response = await client.get(path, params=query)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert {k: answer.get(k) for k in expected} == expected


async def test_health_of_the_first_month_compares_with_the_month_before_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/communities/{C}/health", params={"period": "0002-01"})
    assert response.status_code == 200, response.text
    previous = response.json()["previous"]
    assert (previous["period"], previous["start"]) == ("0001-12", "0001-12-01T00:00:00Z")


async def test_the_connection_stays_open_after_each_refused_edge(
    settings: RecognitionSettings,
) -> None:
    """Every edge request, then an ordinary one, on one kept-alive connection over real HTTP."""
    local_addresses = set()
    async with listening(bootstrap(settings)) as url:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=url, headers=bearer("ops", admin=True), limits=limits, timeout=30.0
        ) as client:
            for path, query, parameter in OUT_OF_RANGE:
                for request in ((path, query), (f"/members/{uuid.uuid4().hex[:8]}/kudos", {})):
                    response = await client.get(request[0], params=request[1])
                    if request[0] == path:
                        assert_names(response, parameter)
                    else:
                        assert response.status_code == 200, response.text
                    stream = response.extensions["network_stream"]
                    local_addresses.add(stream.get_extra_info("client_addr"))
    assert len(local_addresses) == 1, f"{len(local_addresses)} connections were opened"
