"""The applied-ids guard on the real MongoDB-protocol server."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import applied_once, bulk_apply, insert_once, make_client, newer_wins
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration


@pytest.fixture
async def counters(
    infra: Infrastructure, unique: str
) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    client = make_client(infra.mongodb_uri, app_name="tests")
    db = client[f"idem_{unique}"]
    yield db["counters"]
    await client.drop_database(db.name)
    await client.close()


def inc(member: str, event_id: str) -> list[Any]:
    return applied_once({"_id": member}, {"$inc": {"n": 1}}, event_id)


async def test_a_batch_applied_twice_changes_nothing_the_second_time(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    batch = [*inc("ada", "e1"), *inc("ada", "e2"), *inc("grace", "e3"), *inc("ada", "e4")]
    await bulk_apply(counters, batch)
    await bulk_apply(counters, batch)
    docs = {d["_id"]: d["n"] async for d in counters.find()}
    assert docs == {"ada": 3, "grace": 1}


async def test_already_applied_events_in_the_middle_do_not_stop_the_rest(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    await bulk_apply(counters, inc("ada", "e1"))
    await bulk_apply(counters, [*inc("ada", "e0"), *inc("ada", "e1"), *inc("ada", "e2")])
    doc = await counters.find_one({"_id": "ada"})
    assert doc is not None
    assert doc["n"] == 3
    assert doc["applied_event_ids"] == ["e1", "e0", "e2"]


async def test_newer_state_wins_and_older_or_repeated_events_change_nothing(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    await bulk_apply(counters, newer_wins({"_id": "ada"}, {"email": "new@example.com"}, t2))
    await bulk_apply(counters, newer_wins({"_id": "ada"}, {"email": "old@example.com"}, t1))
    await bulk_apply(counters, newer_wins({"_id": "ada"}, {"email": "same-time@example.com"}, t2))
    doc = await counters.find_one({"_id": "ada"})
    assert doc is not None
    assert doc["email"] == "new@example.com"
    assert doc["updated_at"] == t2


async def test_insert_once_skips_documents_of_events_already_applied(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    assert await insert_once(counters, [{"_id": "e1", "v": 1}, {"_id": "e2", "v": 2}]) == 2
    again = [{"_id": "e2", "v": 99}, {"_id": "e3", "v": 3}, {"_id": "e1", "v": 99}]
    assert await insert_once(counters, again) == 1
    docs = {d["_id"]: d["v"] async for d in counters.find()}
    assert docs == {"e1": 1, "e2": 2, "e3": 3}
