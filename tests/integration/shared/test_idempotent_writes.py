"""The projections' writes on the real MongoDB-protocol server: inserts once, newest state wins,
and a batch's staged writes go out in order, in commands of bounded size."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, UpdateOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import MAX_BULK_STATEMENTS, StagedWrites, insert_once, make_client
from tests.infra import Infrastructure

pytestmark = pytest.mark.integration


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.updates: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            self.updates.append(len(event.command["updates"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counters(
    infra: Infrastructure, unique: str
) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    client = make_client(infra.mongodb_uri, app_name="tests")
    db = client[f"idem_{unique}"]
    yield db["counters"]
    await client.drop_database(db.name)
    await client.close()


async def test_insert_once_skips_documents_of_events_already_applied(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    assert await insert_once(counters, [{"_id": "e1", "v": 1}, {"_id": "e2", "v": 2}]) == 2
    again = [{"_id": "e2", "v": 99}, {"_id": "e3", "v": 3}, {"_id": "e1", "v": 99}]
    assert await insert_once(counters, again) == 1
    docs = {d["_id"]: d["v"] async for d in counters.find()}
    assert docs == {"e1": 1, "e2": 2, "e3": 3}


async def test_newer_state_wins_and_older_or_repeated_events_change_nothing(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)

    async def replace(email: str, at: datetime) -> bool:
        writes = StagedWrites()
        newer = await writes.is_newer(counters, "ada", at)
        if newer:
            update = {"$set": {"email": email, "updated_at": at}}
            writes.add(counters, UpdateOne({"_id": "ada"}, update, upsert=True))
        await writes.flush()
        return newer

    assert await replace("new@example.com", t2)
    assert not await replace("old@example.com", t1)
    assert not await replace("same-time@example.com", t2)
    doc = await counters.find_one({"_id": "ada"})
    assert doc is not None
    assert (doc["email"], doc["updated_at"]) == ("new@example.com", t2)


async def test_a_batch_remembers_the_newest_state_it_staged(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    writes = StagedWrites()
    assert await writes.is_newer(counters, "ada", t2)
    assert not await writes.is_newer(counters, "ada", t1)  # not yet written, still older


async def test_times_read_ahead_answer_as_reading_each_would(
    counters: AsyncCollection[dict[str, Any]],
) -> None:
    t1, t2, t3 = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))
    await counters.insert_many([{"_id": "ada", "updated_at": t2}, {"_id": "alan"}])
    writes = StagedWrites()
    await writes.read_times(counters, ["ada", "alan", "grace", "ada"])
    await counters.delete_many({})  # what was read ahead is what counts for the batch
    assert not await writes.is_newer(counters, "ada", t1)
    assert not await writes.is_newer(counters, "ada", t2)
    assert await writes.is_newer(counters, "ada", t3)
    assert await writes.is_newer(counters, "alan", t1), "a document without a time is replaced"
    assert await writes.is_newer(counters, "grace", t1), "so is one that does not exist"
    assert not await writes.is_newer(counters, "grace", t1), "once staged, it is the newest"


async def test_staged_writes_go_out_in_order_in_commands_of_bounded_size(
    infra: Infrastructure, unique: str
) -> None:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongodb_uri, event_listeners=[commands], tz_aware=True
    )
    db = client[f"idem_{unique}"]
    counters = db["counters"]
    try:
        writes = StagedWrites()
        statements = MAX_BULK_STATEMENTS * 3 + 5
        for i in range(statements):  # each sets the value to its position: the last one wins
            writes.add(counters, UpdateOne({"_id": "ada"}, {"$set": {"n": i}}, upsert=True))
        await writes.flush()
        doc = await counters.find_one({"_id": "ada"})
        assert doc is not None
        assert doc["n"] == statements - 1
        assert sum(commands.updates) == statements
        assert max(commands.updates) <= MAX_BULK_STATEMENTS
    finally:
        await client.drop_database(db.name)
        await client.close()
