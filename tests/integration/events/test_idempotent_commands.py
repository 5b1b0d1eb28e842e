"""Commands that create something (communities, sessions, action items) take `Idempotency-Key`:
a repeat gets the first answer and publishes nothing; the key is the caller's own."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.events.topics import Topic
from tests.integration.apps import bearer
from tests.integration.events.conftest import EventsApp
from tests.integration.idempotency import assert_answered_once, assert_replayed, documented_keys
from tests.integration.kafka_io import published_count
from tests.problems import problem_of

pytestmark = pytest.mark.integration

COMMUNITY = {
    "name": "Retry guild",
    "domain": "resilience",
    "charter": {
        "purpose": "Make retries safe",
        "scope": "all product teams",
        "goals": ["no duplicates"],
        "success_measures": ["duplicates seen"],
    },
    "leader_id": "lea",
}


def new_key() -> str:
    return str(uuid.uuid4())


async def published(events: EventsApp, topic: Topic) -> int:
    prefix = events.settings.kafka_topic_prefix
    return await published_count(events.settings.kafka_bootstrap_servers, prefix + topic)


async def post(
    events: EventsApp, url: str, body: dict[str, Any], key: str, member: str = "lea"
) -> httpx.Response:
    headers = {**bearer(member), "Idempotency-Key": key}
    return await events.client.post(url, json=body, params={"wait": "true"}, headers=headers)


def session_body() -> dict[str, Any]:
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    return {
        "title": "Retries done right",
        "format": "brown_bag",
        "starts_at": starts_at,
        "facilitator_id": "lea",
    }


async def assert_repeat_is_the_first_answer(
    events: EventsApp, url: str, body: dict[str, Any], topic: Topic
) -> dict[str, Any]:
    """Send a command twice with one key: one event published, the same answer twice."""
    before = await published(events, topic)
    key = new_key()
    first = await post(events, url, body, key)
    repeat = await post(events, url, body, key)
    assert_replayed(first, repeat)
    assert "idempotent-replayed" not in first.headers
    assert await published(events, topic) == before + 1
    return dict(first.json())


async def test_a_repeated_community_creation_creates_one_community(events: EventsApp) -> None:
    answer = await assert_repeat_is_the_first_answer(
        events, "/communities", COMMUNITY, Topic.COMMUNITIES
    )
    listed = await events.get("/communities")
    assert [c["community_id"] for c in listed["items"]] == [
        str(answer["subject"]).removeprefix("community/")
    ]


async def test_a_repeated_scheduling_schedules_one_session(events: EventsApp) -> None:
    community_id = await events.new_community()
    await assert_repeat_is_the_first_answer(
        events, f"/communities/{community_id}/sessions", session_body(), Topic.SESSIONS
    )
    sessions = await events.get(f"/communities/{community_id}/sessions")
    assert sessions["total"] == 1


async def test_a_repeated_action_item_opens_one_item(events: EventsApp) -> None:
    community_id = await events.new_community()
    scheduled = await events.command(
        "POST", f"/communities/{community_id}/sessions", session_body()
    )
    session_id = str(scheduled["subject"]).removeprefix("session/")
    await assert_repeat_is_the_first_answer(
        events,
        f"/sessions/{session_id}/action-items",
        {"title": "Add jitter to the client", "owner_id": "ann"},
        Topic.SESSIONS,
    )
    items = await events.get(f"/communities/{community_id}/action-items")
    assert items["total"] == 1


async def test_the_same_key_with_another_body_is_refused(events: EventsApp) -> None:
    key = new_key()
    assert (await post(events, "/communities", COMMUNITY, key)).status_code == 202
    other = await post(events, "/communities", {**COMMUNITY, "name": "Another guild"}, key)
    problem = problem_of(other, 422)
    assert problem["code"] == "idempotency_key_reused"
    assert problem["errors"][0]["field"] == "header.idempotency-key"
    assert problem["type"] == "urn:cop:problem:idempotency:key-reused"


async def test_two_callers_keys_are_their_own(events: EventsApp) -> None:
    before = await published(events, Topic.COMMUNITIES)
    key = new_key()
    ann = await post(events, "/communities", COMMUNITY, key, member="ann")
    bob = await post(events, "/communities", COMMUNITY, key, member="bob")
    assert ann.status_code == bob.status_code == 202
    assert ann.json()["event_id"] != bob.json()["event_id"]
    assert "idempotent-replayed" not in bob.headers
    assert await published(events, Topic.COMMUNITIES) == before + 2


async def test_concurrent_repeats_create_once(events: EventsApp) -> None:
    before = await published(events, Topic.COMMUNITIES)
    key = new_key()
    answers = await asyncio.gather(
        *(post(events, "/communities", COMMUNITY, key) for _ in range(6))
    )
    assert_answered_once(answers)
    assert await published(events, Topic.COMMUNITIES) == before + 1


async def test_a_refused_command_keeps_nothing_and_its_repeat_is_decided_anew(
    events: EventsApp,
) -> None:
    community_id = f"c-{uuid.uuid4().hex[:8]}"
    url = f"/communities/{community_id}/sessions"
    key = new_key()
    unknown = await post(events, url, session_body() | {"session_id": "s-retry"}, key)
    assert unknown.status_code == 404
    await events.command("POST", "/communities", {**COMMUNITY, "community_id": community_id})
    repeat = await post(events, url, session_body() | {"session_id": "s-retry"}, key)
    assert repeat.status_code == 202, repeat.text
    assert "idempotent-replayed" not in repeat.headers


async def test_a_key_must_be_visible_ascii(events: EventsApp) -> None:
    bad = await post(events, "/communities", COMMUNITY, "a key with spaces")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "header.idempotency-key"
    quoted = new_key()
    first = await post(events, "/communities", COMMUNITY, f'"{quoted}"')
    repeat = await post(events, "/communities", COMMUNITY, quoted)
    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == first.json()


async def test_each_create_route_documents_the_header(events: EventsApp) -> None:
    for header in await documented_keys(
        events.client,
        "/communities",
        "/communities/{community_id}/sessions",
        "/sessions/{session_id}/action-items",
    ):
        assert header["in"] == "header"
        assert "first answer" in header["description"]
