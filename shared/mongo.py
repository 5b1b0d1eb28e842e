"""MongoDB set-up and the writes every projection uses.

Only what every MongoDB-protocol server we run on supports: single-document writes addressed by
`_id` alone (the one key the local mongo-java-server indexes; a filter with any other field
scans the collection there), unique `_id`s, unordered inserts that report duplicate keys, and
ordered bulk writes. No transactions, no change streams. Idempotency comes from the shape of the
data: facts are inserted under a unique `_id`, and state documents change by writes that a
redelivered, in-order suffix of a partition leaves as they were.
"""

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.documents import Doc
from shared.settings import ServiceSettings
from shared.together import await_all

# Statements per bulk write: a batch of 500 events goes out in several small commands, so no
# server holds hundreds of statements' resources at once (FerretDB 1.24, measured here,
# deadlocked at 100 statements on SQLite and at 50 on PostgreSQL).
MAX_BULK_STATEMENTS = 32
Write = UpdateOne | InsertOne[dict[str, Any]] | DeleteOne
DUPLICATE_KEY = 11000


# Ids per `{_id: {$in: [...]}}` read: mongo-java-server's cost grows faster than the list (64 ids
# 3 ms, 500 ids 26 ms, 5,000 ids 1.1 s measured here), and a slow read holds up the collection.
IDS_PER_READ = 256


def mongo_options(settings: ServiceSettings) -> dict[str, Any]:
    """Credentials, TLS and write concern from the settings (`MONGODB_*`), as client options;
    only those that are set, so that the URI's own options stand otherwise."""
    options: dict[str, Any] = {}
    if settings.mongodb_username:
        options["username"] = settings.mongodb_username
        options["password"] = settings.mongodb_password.get_secret_value()
    if settings.mongodb_auth_source:
        options["authSource"] = settings.mongodb_auth_source
    if settings.mongodb_tls is not None:
        options["tls"] = settings.mongodb_tls
    if settings.mongodb_tls_ca_file:
        options["tlsCAFile"] = settings.mongodb_tls_ca_file
    if settings.mongodb_tls_certificate_key_file:
        options["tlsCertificateKeyFile"] = settings.mongodb_tls_certificate_key_file
    concern = settings.mongodb_write_concern
    if concern:
        options["w"] = concern if concern == "majority" else int(concern)
    if settings.mongodb_journal is not None:
        options["journal"] = settings.mongodb_journal
    if settings.mongodb_write_timeout_ms:
        options["wTimeoutMS"] = settings.mongodb_write_timeout_ms
    return options


def make_client(uri: str, *, app_name: str, **options: Any) -> AsyncMongoClient[dict[str, Any]]:
    """A client whose commands fail (as a network timeout, which consumers treat as an outage:
    rewind and back off) when a server stops answering, instead of waiting for ever.
    `options` are more client options, e.g. `mongo_options(settings)`."""
    return AsyncMongoClient(
        uri,
        appname=app_name,
        serverSelectionTimeoutMS=5000,
        socketTimeoutMS=30_000,
        tz_aware=True,
        tzinfo=UTC,  # the C `timezone.utc`: comparing dates decoded with it costs no Python call
        **options,
    )


def client_for(settings: ServiceSettings, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """A client of the settings' server with their credentials, TLS and write concern: what a
    service's runtime connects with, for the tools that connect outside it (rebuilds)."""
    return make_client(settings.mongodb_uri, app_name=app_name, **mongo_options(settings))


async def drop_collections(
    settings: ServiceSettings, names: Sequence[str], *, app_name: str
) -> list[str]:
    """Drop a service's own collections (a projection before its rebuild) from its database;
    returns them."""
    client = client_for(settings, app_name=app_name)
    try:
        for name in names:
            await client[settings.mongodb_database][name].drop()
    finally:
        await client.close()
    return list(names)


async def insert_once(
    collection: AsyncCollection[dict[str, Any]], docs: Sequence[Mapping[str, Any]]
) -> int:
    """Insert documents keyed by the event that caused them; returns how many were new.

    A document whose `_id` exists already was written by an earlier delivery of the same event:
    its duplicate-key error is the idempotency guard. Any other error is raised.
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


async def find_by_ids(
    collection: AsyncCollection[dict[str, Any]],
    ids: Sequence[Any],
    projection: Mapping[str, Any] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The documents with these ids, read `IDS_PER_READ` ids at a time: each read's documents
    in turn (a caller may stop early)."""
    for start in range(0, len(ids), IDS_PER_READ):
        wanted = list(ids[start : start + IDS_PER_READ])
        yield await collection.find({"_id": {"$in": wanted}}, projection).to_list(None)


async def all_by_ids(
    collection: AsyncCollection[dict[str, Any]],
    ids: Sequence[Any],
    projection: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    return [d async for docs in find_by_ids(collection, ids, projection) for d in docs]


class StagedWrites:
    """One batch's writes to a database, kept in order and flushed together at the end.

    Consecutive writes to one collection go out as ordered bulk writes of at most
    `MAX_BULK_STATEMENTS`. Every write addresses one document by `_id` alone, the one key every
    MongoDB-protocol server indexes.
    """

    def __init__(self) -> None:
        self._groups: list[tuple[AsyncCollection[dict[str, Any]], list[Write]]] = []
        self._latest: dict[tuple[str, Any], datetime | None] = {}  # None: no document

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
        if key in self._latest:
            current = self._latest[key]
        else:
            doc = await collection.find_one({"_id": doc_id}, {"updated_at": 1})
            current = self._latest[key] = doc.get("updated_at") if doc else None
        if current is not None and current >= at:
            return False
        self._latest[key] = at
        return True

    async def read_times(
        self, collection: AsyncCollection[dict[str, Any]], doc_ids: Iterable[Any]
    ) -> None:
        """Read ahead, in one read, the times `is_newer` will be asked about for these
        documents (a batch's profiles, say), instead of one read each."""
        wanted = [i for i in dict.fromkeys(doc_ids) if (collection.name, i) not in self._latest]
        if not wanted:
            return
        found = {
            d["_id"]: d.get("updated_at")
            for d in await all_by_ids(collection, wanted, {"updated_at": 1})
        }
        for doc_id in wanted:
            self._latest[(collection.name, doc_id)] = found.get(doc_id)

    async def flush(self) -> None:
        for collection, writes in self._groups:
            for start in range(0, len(writes), MAX_BULK_STATEMENTS):
                await collection.bulk_write(
                    writes[start : start + MAX_BULK_STATEMENTS], ordered=True
                )
        self._groups.clear()


def bson_time(at: datetime) -> datetime:
    """A moment as BSON stores it (UTC, whole milliseconds): round fact times the same way
    before comparing them with what was read back."""
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)


def latest_change(changes: Mapping[str, Sequence[Any]] | None) -> Any:
    """The value of the newest `[at, value]` in a map of changes keyed by the fact that made
    each one (the shape that lets redeliveries and any order of writers agree)."""
    if not changes:
        return None
    at_and_value = max(changes.values(), key=lambda c: (c[0], str(c[1])))
    return at_and_value[1]


class MergedUpdates:
    """One batch's updates, merged into one upsert per document and flushed together.

    Only idempotent operators are offered (`$set` of a value that a fact determines, `$unset`,
    `$setOnInsert`, `$min`, `$max`, `$addToSet`, `$pull`), so applying a batch twice leaves the
    same documents; all but `$set`/`$unset` of one path and `$addToSet`/`$pull` of one value
    are also order-free, so two consumers' batches may land in either order.
    """

    def __init__(self) -> None:
        self._docs: dict[tuple[str, Any], tuple[AsyncCollection[dict[str, Any]], dict[str, Any]]]
        self._docs = {}
        # (collection, id) -> (collection, the path whose absence allows the fill, the fields)
        self._fills: dict[tuple[str, Any], tuple[AsyncCollection[Doc], str, Doc]] = {}

    def _update(self, collection: AsyncCollection[dict[str, Any]], doc_id: Any) -> dict[str, Any]:
        key = (collection.name, doc_id)
        if key not in self._docs:
            self._docs[key] = (collection, {})
        return self._docs[key][1]

    def set(self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, **fields: Any) -> None:
        self.set_paths(collection, doc_id, fields)

    def set_paths(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, fields: Mapping[str, Any]
    ) -> None:
        update = self._update(collection, doc_id)
        update.setdefault("$set", {}).update(fields)
        for path in fields:  # the later write of a path wins
            update.get("$unset", {}).pop(path, None)

    def unset(self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, path: str) -> None:
        update = self._update(collection, doc_id)
        update.get("$set", {}).pop(path, None)
        update.setdefault("$unset", {})[path] = ""

    def set_on_insert(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, fields: Mapping[str, Any]
    ) -> None:
        self._update(collection, doc_id).setdefault("$setOnInsert", {}).update(fields)

    def set_once(
        self,
        collection: AsyncCollection[dict[str, Any]],
        doc_id: Any,
        fields: Mapping[str, Any],
        *,
        unless: str,
    ) -> None:
        """Set `fields` unless the document has `unless` already: the first writer's values
        stay. Unlike `set_on_insert` it also fills them into a document that other paths
        created first (`$setOnInsert` for a new one, a write guarded by `unless` for one that
        exists; either may land first)."""
        self.set_on_insert(collection, doc_id, fields)
        self._fills[(collection.name, doc_id)] = (collection, unless, dict(fields))

    def min(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, path: str, v: Any
    ) -> None:
        current = self._update(collection, doc_id).setdefault("$min", {})
        current[path] = v if path not in current else min(current[path], v)

    def max(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, path: str, v: Any
    ) -> None:
        current = self._update(collection, doc_id).setdefault("$max", {})
        current[path] = v if path not in current else max(current[path], v)

    def add_to_set(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, path: str, v: Any
    ) -> None:
        values = self._update(collection, doc_id).setdefault("$addToSet", {})
        each = values.setdefault(path, {"$each": []})["$each"]
        if v not in each:
            each.append(v)

    def pull(
        self, collection: AsyncCollection[dict[str, Any]], doc_id: Any, path: str, v: Any
    ) -> None:
        """Remove a value from a set. Never staged with `add_to_set` of the same path in one
        batch (MongoDB refuses both operators on one field): keep pulls in their own batch."""
        values = self._update(collection, doc_id).setdefault("$pull", {})
        each = values.setdefault(path, {"$in": []})["$in"]
        if v not in each:
            each.append(v)

    def __bool__(self) -> bool:
        return bool(self._docs)

    async def flush(self) -> None:
        by_collection: dict[str, tuple[AsyncCollection[dict[str, Any]], list[UpdateOne]]] = {}
        for (name, doc_id), (collection, update) in self._docs.items():
            update = {op: fields for op, fields in update.items() if fields}
            if update:
                writes = by_collection.setdefault(name, (collection, []))[1]
                writes.append(UpdateOne({"_id": doc_id}, update, upsert=True))
        for (name, doc_id), (collection, unless, fields) in self._fills.items():
            guarded = {"_id": doc_id, unless: {"$exists": False}}
            by_collection.setdefault(name, (collection, []))[1].append(
                UpdateOne(guarded, {"$set": fields})
            )
        # Every document is written once (and maybe filled once) and the writes are order-free,
        # so the collections' bulk writes go at once: the server works on one while the next
        # is on its way.
        await await_all(
            collection.bulk_write(writes[start : start + MAX_BULK_STATEMENTS], ordered=False)
            for collection, writes in by_collection.values()
            for start in range(0, len(writes), MAX_BULK_STATEMENTS)
        )
        self._docs.clear()
        self._fills.clear()
