"""MongoDB set-up and the idempotent write every projection uses.

Only features that both MongoDB and the local wire-protocol servers support are used: no
transactions, no change streams; idempotency comes from an applied-ids guard in the same
single-document write, so a redelivered or replayed event changes nothing twice.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
APPLIED_FIELD = "applied_event_ids"


def make_client(uri: str, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(uri, appname=app_name, serverSelectionTimeoutMS=5000, tz_aware=True)


def applied_once(filter_: Mapping[str, Any], update: Mapping[str, Any], event_id: str) -> UpdateOne:
    """An upsert that applies `update` only if `event_id` is not yet recorded on the document.

    When the event was applied before, the filter matches nothing and the upsert's insert hits
    the `_id` unique index: a duplicate-key error that `bulk_apply` counts as "already applied".
    """
    guarded = {**filter_, APPLIED_FIELD: {"$ne": event_id}}
    push = {**update.get("$push", {}), APPLIED_FIELD: event_id}
    return UpdateOne(guarded, {**update, "$push": push}, upsert=True)


async def bulk_apply(collection: AsyncCollection[dict[str, Any]], ops: Sequence[UpdateOne]) -> int:
    """Run the writes in order, in as few round trips as possible.

    An "already applied" duplicate-key error stops an ordered bulk write at that op; the rest are
    sent again from the op after it. Returns how many ops were skipped as already applied.
    """
    skipped = 0
    pending = list(ops)
    while pending:
        try:
            await collection.bulk_write(pending, ordered=True)
            return skipped
        except BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            if e.details.get("writeConcernErrors") or not errors:
                raise
            first = errors[0]
            if first.get("code") != DUPLICATE_KEY:
                raise
            skipped += 1
            pending = pending[first["index"] + 1 :]
    return skipped
