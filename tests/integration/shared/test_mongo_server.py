"""The MongoDB-protocol server under the tests cannot be hung by a large bulk write.

FerretDB 1.24 (the former local default) keeps one pooled connection per statement of a bulk
write until the command ends: 100 statements to one collection (50 on its PostgreSQL backend)
never answer, and the database stops answering every later command. A consumer batch is up to 500
events, so the server must answer a bulk write of 500 statements, and keep answering afterwards.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from tests.infra import Infrastructure

pytestmark = pytest.mark.integration

STATEMENTS = 500
DEADLINE_S = 20.0


@pytest.fixture
async def database(infra: Infrastructure, unique: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongodb_uri, serverSelectionTimeoutMS=5000
    )
    db = client[f"bulk_{unique}"]
    try:
        yield db
        # A hung server would hang the clean-up too: bounded like the test itself.
        await asyncio.wait_for(client.drop_database(db.name), DEADLINE_S)
    finally:
        await client.close()


async def test_a_bulk_write_of_500_updates_to_one_collection_answers_and_the_database_still_does(
    database: AsyncDatabase[Any],
) -> None:
    docs = database["docs"]
    ids = [f"doc-{i}" for i in range(STATEMENTS)]
    await asyncio.wait_for(
        docs.bulk_write([InsertOne({"_id": i, "n": 0}) for i in ids]), DEADLINE_S
    )

    updates = [UpdateOne({"_id": i}, {"$inc": {"n": 1}, "$set": {"seen": True}}) for i in ids]
    result = await asyncio.wait_for(docs.bulk_write(updates, ordered=True), DEADLINE_S)
    assert result.modified_count == STATEMENTS

    # The same database, and the same collection, still answer reads and writes.
    await asyncio.wait_for(database.command("ping"), DEADLINE_S)
    await asyncio.wait_for(docs.update_one({"_id": ids[0]}, {"$inc": {"n": 1}}), DEADLINE_S)
    doc = await asyncio.wait_for(docs.find_one({"_id": ids[0]}), DEADLINE_S)
    assert doc == {"_id": ids[0], "n": 2, "seen": True}
    updated = await asyncio.wait_for(docs.count_documents({"seen": True}), DEADLINE_S)
    assert updated == STATEMENTS
