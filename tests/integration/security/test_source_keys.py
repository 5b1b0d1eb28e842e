"""Source systems' API keys on the real events service: stored hashed, scoped to their event
types, revocable, and rotatable with an overlap window in which both keys work."""

import asyncio
from datetime import datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.events.adapters.sources import hash_key
from tests.infra import Infrastructure
from tests.integration.events.conftest import EventsApp, events
from tests.integration.events.inbound import FEEDBACK, PROFILE, auth, profile_event
from tests.integration.polling import eventually
from tests.problems import problem_of

pytestmark = pytest.mark.integration
__all__ = ["events"]


async def register(
    events: EventsApp, name: str = "wiki", types: tuple[str, ...] = (PROFILE,)
) -> str:
    response = await events.client.post("/sources", json={"name": name, "types": list(types)})
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


async def ingest(events: EventsApp, key: str, source: str = "wiki") -> int:
    response = await events.client.post("/ingest", json=profile_event(source), headers=auth(key))
    return response.status_code


async def test_only_the_keys_hash_is_stored(events: EventsApp, infra: Infrastructure) -> None:
    key = await register(events)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        (doc,) = await client[events.settings.mongodb_database]["sources"].find().to_list()
    finally:
        await client.close()
    assert key not in str(doc)
    assert doc["key_hash"] == hash_key(key)


async def test_a_key_sends_only_the_types_it_is_scoped_to(events: EventsApp) -> None:
    key = await register(events, types=(FEEDBACK,))
    response = await events.client.post("/ingest", json=profile_event("wiki"), headers=auth(key))
    assert any(e["field"] == "type" for e in problem_of(response, 422)["errors"])


async def test_a_rotated_key_overlaps_the_old_one_for_the_window_then_only_the_new_works(
    events: EventsApp,
) -> None:
    old = await register(events)
    rotated = await events.client.post("/sources/wiki/rotate", json={"overlap_s": 2})
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    new = body["api_key"]
    assert new != old
    assert new.startswith("cop_")
    until = datetime.fromisoformat(body["previous_key_valid_until"])
    assert (await ingest(events, old), await ingest(events, new)) == (202, 202)
    listed = (await events.client.get("/sources")).json()
    assert old not in str(listed)
    assert new not in str(listed)
    assert datetime.fromisoformat(listed[0]["previous_key_valid_until"]) == until

    async def old_refused() -> bool:
        return await ingest(events, old) == 401

    await eventually(old_refused, timeout_s=10, interval_s=0.25, what="the old key's window ends")
    assert datetime.now(until.tzinfo) >= until
    assert await ingest(events, new) == 202


async def test_rotating_without_overlap_stops_the_old_key_at_once(events: EventsApp) -> None:
    old = await register(events)
    rotated = await events.client.post("/sources/wiki/rotate", json={"overlap_s": 0})
    assert rotated.status_code == 200
    assert await ingest(events, old) == 401
    assert await ingest(events, rotated.json()["api_key"]) == 202


async def test_a_second_rotation_ends_the_first_overlap(events: EventsApp) -> None:
    first = await register(events)
    second = (await events.client.post("/sources/wiki/rotate", json={"overlap_s": 3600})).json()
    third = (await events.client.post("/sources/wiki/rotate", json={"overlap_s": 3600})).json()
    assert await ingest(events, first) == 401
    assert await ingest(events, second["api_key"]) == 202
    assert await ingest(events, third["api_key"]) == 202


async def test_revoking_withdraws_both_keys_of_an_overlap(events: EventsApp) -> None:
    old = await register(events)
    new = (await events.client.post("/sources/wiki/rotate", json={"overlap_s": 3600})).json()
    assert (await events.client.post("/sources/wiki/revoke")).status_code == 204
    assert (await ingest(events, old), await ingest(events, new["api_key"])) == (401, 401)
    again = await events.client.post("/sources/wiki/rotate")
    problem_of(again, 409)


async def test_rotation_refusals_are_problems_naming_what_is_wrong(events: EventsApp) -> None:
    await register(events)
    unknown = await events.client.post("/sources/nobody/rotate")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no source nobody"
    too_long = await events.client.post("/sources/wiki/rotate", json={"overlap_s": 8 * 24 * 3600})
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["overlap_s"]
    member = await events.client.post(
        "/sources/wiki/rotate", headers={"Authorization": "Bearer not-a-token"}
    )
    assert member.status_code == 401


async def test_concurrent_rotations_leave_exactly_one_current_key(events: EventsApp) -> None:
    await register(events)
    answers = await asyncio.gather(
        *(events.client.post("/sources/wiki/rotate", json={"overlap_s": 0}) for _ in range(4))
    )
    keys = [a.json()["api_key"] for a in answers if a.status_code == 200]
    assert keys, [a.text for a in answers]
    assert all(a.status_code in (200, 409) for a in answers)
    working = [k for k in keys if await ingest(events, k) == 202]
    assert len(working) == 1
