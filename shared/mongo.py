"""MongoDB set-up and the idempotent write every projection uses.

Only features that both MongoDB and the local wire-protocol servers support are used: no
transactions, no change streams; idempotency comes from an applied-ids guard in the same
single-document write, so a redelivered or replayed event changes nothing twice. The writes are
built so that a repeat matches nothing rather than failing: FerretDB 1.24 answers a failed
update in a bulk write without the `nModified` count, which PyMongo cannot parse.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

APPLIED_FIELD = "applied_event_ids"
# Statements per bulk write: a batch of 500 events is sent in several round trips, so no server
# holds hundreds of statements' resources at once (FerretDB 1.24 deadlocks at 100).
MAX_BULK_STATEMENTS = 64
Write = UpdateOne | InsertOne[dict[str, Any]] | DeleteOne
DUPLICATE_KEY = 11000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def make_client(uri: str, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(uri, appname=app_name, serverSelectionTimeoutMS=5000, tz_aware=True)


def applied_once(
    filter_: Mapping[str, Any], update: Mapping[str, Any], event_id: str
) -> list[UpdateOne]:
    """Writes that apply `update` to one document only if `event_id` is not yet recorded on it.

    The first write makes sure the document exists (a no-op when it does); the second matches
    only while the event id is absent, and records it in the same atomic single-document update.
    A repeated event therefore matches nothing: no error, no second effect.

    The list of applied ids grows with every event applied to the document (FerretDB ignores
    `$slice`), so use it for documents that see a bounded number of events (a session, an
    artifact); for a hot aggregate, write one document per event and count on read.
    """
    ensure = UpdateOne(dict(filter_), {"$setOnInsert": {APPLIED_FIELD: []}}, upsert=True)
    guarded = {**filter_, APPLIED_FIELD: {"$ne": event_id}}
    push = {**update.get("$push", {}), APPLIED_FIELD: event_id}
    return [ensure, UpdateOne(guarded, {**update, "$push": push})]


def newer_wins(
    filter_: Mapping[str, Any], fields: Mapping[str, Any], at: datetime
) -> list[UpdateOne]:
    """Writes that set `fields` unless the document already holds a state from `at` or later.

    For state that is replaced, not accumulated (a profile): a repeated or older event is a no-op.
    """
    ensure = UpdateOne(dict(filter_), {"$setOnInsert": {"updated_at": _EPOCH}}, upsert=True)
    newer = {**filter_, "updated_at": {"$lt": at}}
    return [ensure, UpdateOne(newer, {"$set": {**fields, "updated_at": at}})]


async def insert_once(
    collection: AsyncCollection[dict[str, Any]], docs: Sequence[Mapping[str, Any]]
) -> int:
    """Insert documents keyed by the event that caused them; returns how many were new.

    A document whose `_id` exists already was written by an earlier delivery of the same event:
    its duplicate-key error is the idempotency guard. Any other error is raised. Plain inserts
    are also the fastest write on every backend (FerretDB's SQLite backend scans for updates).
    """
    if not docs:
        return 0
    try:
        result = await collection.insert_many([dict(d) for d in docs], ordered=False)
    except BulkWriteError as e:
        errors = e.details.get("writeErrors", [])
        if e.details.get("writeConcernErrors") or any(
            err.get("code") != DUPLICATE_KEY for err in errors
        ):
            raise
        # Counted from the errors: mongo-java-server's nInserted includes the failed ones.
        return len(docs) - len(errors)
    return len(result.inserted_ids)


async def bulk_apply(collection: AsyncCollection[dict[str, Any]], ops: Sequence[UpdateOne]) -> None:
    """Run the writes in order in one round trip; being idempotent, none is expected to fail."""
    if ops:
        await collection.bulk_write(list(ops), ordered=True)


class StagedWrites:
    """One batch's writes to a database, kept in order and flushed together at the end.

    Consecutive writes to one collection go out as ordered bulk writes of at most
    `MAX_BULK_STATEMENTS`. Every write addresses one document by `_id` alone, the one key every
    MongoDB-protocol server indexes.
    """

    def __init__(self) -> None:
        self._groups: list[tuple[AsyncCollection[dict[str, Any]], list[Write]]] = []
        self._latest: dict[tuple[str, Any], datetime] = {}

    def add(self, collection: AsyncCollection[dict[str, Any]], write: Write) -> None:
        if self._groups and self._groups[-1][0] is collection:
            self._groups[-1][1].append(write)
        else:
            self._groups.append((collection, [write]))

    async def is_newer(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, at: datetime
    ) -> bool:
        """Whether a state from `at` replaces the document's (last writer wins by event time).

        Read by `_id`, then remembered for the rest of the batch: the events of one document
        share a partition key, so one consumer writes it and the read cannot go stale.
        """
        key = (collection.name, doc_id)
        current = self._latest.get(key)
        if current is None:
            doc = await collection.find_one({"_id": doc_id}, {"updated_at": 1})
            current = doc.get("updated_at") if doc else None
        if current is not None and current >= at:
            return False
        self._latest[key] = at
        return True

    async def flush(self) -> None:
        for collection, writes in self._groups:
            for start in range(0, len(writes), MAX_BULK_STATEMENTS):
                await collection.bulk_write(
                    writes[start : start + MAX_BULK_STATEMENTS], ordered=True
                )
        self._groups.clear()
