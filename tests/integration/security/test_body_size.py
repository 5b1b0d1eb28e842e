"""The request body limit on a real service (`HTTP_MAX_BODY_BYTES`): an ordinary route answers 413
problem+json naming `body`, declared or chunked; `/ingest` keeps its own, larger limit; and a body
that cannot be read is a 400 naming `body`."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.events.bootstrap import bootstrap
from services.events.settings import EventsSettings
from tests.infra import Infrastructure
from tests.integration.apps import drop_database, serving, settings_for
from tests.problems import assert_body_too_large, problem_of

pytestmark = pytest.mark.integration

LIMIT = 4096
PROFILE = "cop.member.profile_updated.v1"


@pytest.fixture
async def client(infra: Infrastructure, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(EventsSettings, infra, f"lim{unique}", http_max_body_bytes=LIMIT)
    async with serving(bootstrap(settings), "events") as c:
        yield c
    await drop_database(infra, settings.mongodb_database)


def community(charter_purpose: str) -> dict[str, Any]:
    community_id = f"c-{uuid.uuid4().hex[:8]}"
    return {
        "community_id": community_id, "name": f"Guild {community_id}", "domain": "testing",
        "charter": {"purpose": charter_purpose, "scope": "all teams", "goals": ["a"],
                    "success_measures": ["b"]},
        "leader_id": "lea",
    }  # fmt: skip


async def test_a_declared_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    body = json.dumps(community("x" * 2 * LIMIT)).encode()
    response = await client.post(
        "/communities", content=body, headers={"content-type": "application/json"}
    )
    assert_body_too_large(response, LIMIT)


async def test_a_chunked_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    body = json.dumps(community("x" * 2 * LIMIT)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = await client.post(
        "/communities", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_body_too_large(response, LIMIT)


async def test_a_body_within_the_limit_is_served(client: httpx.AsyncClient) -> None:
    response = await client.post("/communities", json=community("share how we test"))
    assert response.status_code == 202, response.text


async def test_ingest_keeps_its_own_larger_limit(client: httpx.AsyncClient) -> None:
    registered = await client.post("/sources", json={"name": "wiki", "types": [PROFILE]})
    assert registered.status_code == 201, registered.text
    member = f"m-{uuid.uuid4().hex[:8]}"
    event = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "wiki", "type": PROFILE,
        "partitionkey": member,
        "data": {"member_id": member, "name": "Dir Ectory", "email": f"{member}@example.com"},
    }  # fmt: skip
    body = json.dumps(event) + " " * 2 * LIMIT  # whitespace: still one JSON document

    response = await client.post(
        "/ingest",
        content=body,
        headers={
            "content-type": "application/cloudevents+json",
            "Authorization": f"Bearer {registered.json()['api_key']}",
        },
    )

    assert response.status_code == 202, response.text


async def test_a_body_that_cannot_be_read_gets_400_naming_the_body(
    client: httpx.AsyncClient,
) -> None:
    # Not UTF-8: FastAPI cannot even decode it to look for JSON ("error parsing the body").
    response = await client.post(
        "/communities",
        content=b'{"name": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert [e["field"] for e in problem_of(response, 400)["errors"]] == ["body"]
