"""Registered source systems (API keys stored as hashes), inbound dedup and rate limits."""

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

from opentelemetry import context as otel_context
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from redis.asyncio import Redis

from shared.mongo import bson_time


def new_key() -> str:
    return f"cop_{secrets.token_urlsafe(32)}"


def hash_key(api_key: str) -> str:
    """API keys are 32 random bytes, so a plain SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Source:
    name: str
    types: frozenset[str]
    rate_limit_per_minute: int
    active: bool = True
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    previous_key_valid_until: datetime | None = None

    def owns(self, ce_source: str) -> bool:
        """The CloudEvent `source` is the system's name, or a path under it."""
        return ce_source == self.name or ce_source.startswith(f"{self.name}/")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def source_path_problem(ce_source: str) -> str | None:
    """Why a CloudEvent `source` is no plain path (a system's name, then `/`-separated
    segments), or None. Refused: an empty segment (`a//b`, a leading or trailing `/`), a dot
    segment (`.`, `..`, percent-encoded too), a `\\` or an encoded `/` (another separator), a
    control character — so that `calendar/../billing` never passes for a path under
    `calendar`."""
    for segment in ce_source.split("/"):
        decoded = unquote(segment)
        if not segment:
            return "an empty path segment (`//`, or `/` at the start or the end)"
        if decoded in (".", ".."):
            return f"path segment {segment!r}: `.` and `..` are not allowed"
        if "/" in decoded or "\\" in decoded:
            return f"path segment {segment[:64]!r} holds another separator (`\\` or `%2F`)"
        if _CONTROL.search(decoded):
            return f"path segment {segment[:64]!r} holds a control character"
    return None


def _source(doc: dict[str, Any]) -> Source:
    return Source(
        name=doc["_id"],
        types=frozenset(doc["types"]),
        rate_limit_per_minute=int(doc["rate_limit_per_minute"]),
        active=bool(doc.get("active", True)),
        created_at=doc.get("created_at"),
        rotated_at=doc.get("rotated_at"),
        previous_key_valid_until=doc.get("previous_until"),
    )


class SourceRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._sources = db["sources"]

    async def ensure_indexes(self) -> None:
        await self._sources.create_index([("key_hash", ASCENDING)], unique=True)

    async def add(self, name: str, types: list[str], rate_limit_per_minute: int) -> str:
        """Register a source and return its API key; only the key's hash is kept."""
        api_key = new_key()
        doc = {
            "_id": name,
            "key_hash": hash_key(api_key),
            "types": sorted(set(types)),
            "rate_limit_per_minute": rate_limit_per_minute,
            "active": True,
            "created_at": datetime.now(UTC),
        }
        try:
            await self._sources.insert_one(doc)
        except DuplicateKeyError:
            raise ValueError(f"source {name!r} is already registered") from None
        return api_key

    async def revoke(self, name: str) -> bool:
        """Withdraw every key of the source (the current one and one still overlapping)."""
        result = await self._sources.update_one(
            {"_id": name},
            {"$set": {"active": False}, "$unset": {"previous_key_hash": "", "previous_until": ""}},
        )
        return result.matched_count == 1

    async def rotate(self, name: str, overlap_s: int) -> tuple[str, datetime]:
        """Give the source a new key; the current one keeps working for `overlap_s` seconds
        (until the returned time), so the system can switch without a failed request. A key
        still overlapping from an earlier rotation stops at once. Raises KeyError for an
        unknown source, PermissionError for a revoked one."""
        doc = await self._sources.find_one({"_id": name})
        if doc is None:
            raise KeyError(name)
        if not doc.get("active", True):
            raise PermissionError(f"source {name!r} is revoked")
        api_key = new_key()
        until = bson_time(datetime.now(UTC) + timedelta(seconds=overlap_s))
        result = await self._sources.update_one(
            {"_id": name, "key_hash": doc["key_hash"], "active": True},
            {
                "$set": {
                    "key_hash": hash_key(api_key),
                    "previous_key_hash": doc["key_hash"],
                    "previous_until": until,
                    "rotated_at": datetime.now(UTC),
                }
            },
        )
        if result.matched_count != 1:  # rotated or revoked meanwhile: the caller may try again
            raise PermissionError(f"source {name!r} changed while rotating its key")
        return api_key, until

    async def by_key(self, api_key: str) -> Source | None:
        hashed = hash_key(api_key)
        doc = await self._sources.find_one(
            {"$or": [{"key_hash": hashed}, {"previous_key_hash": hashed}], "active": True}
        )
        if doc is None:
            return None
        if doc["key_hash"] != hashed:
            until = doc.get("previous_until")
            if until is None or until <= datetime.now(UTC):
                return None
        return _source(doc)

    async def by_name(self, name: str) -> Source | None:
        doc = await self._sources.find_one({"_id": name})  # by `_id` alone: never a scan
        return _source(doc) if doc and doc.get("active", True) else None

    async def all(self) -> list[Source]:
        """Every registered system, by name (never a key)."""
        return [_source(doc) async for doc in self._sources.find().sort("_id", ASCENDING)]


DUPLICATE_KEY = 11000


T = TypeVar("T")
R = TypeVar("R")


class _Together(Generic[T, R]):
    """Calls that come while a round trip is under way go to the server together in the next
    one: `run` gets every item of those calls at once, and each call gets its result. With many
    requests at once (single events from many clients) that is a round trip per group of
    requests, not one per request. A caller that is cancelled stops waiting, not the round
    trip (which the PyMongo async client does not survive well cancelled). Each round trip
    runs in the trace context of the first call it carries."""

    def __init__(self, run: Callable[[list[T]], Awaitable[R]]) -> None:
        self._run = run
        self._waiting: list[tuple[Sequence[T], asyncio.Future[R], otel_context.Context]] = []
        self._worker: asyncio.Task[None] | None = None

    async def __call__(self, items: Sequence[T]) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not loop:
            # (a worker of an event loop that has gone takes its calls with it)
            self._waiting = [call for call in self._waiting if call[1].get_loop() is loop]
            self._worker = loop.create_task(self._round_trips())
        self._waiting.append((items, future, otel_context.get_current()))
        return await future

    async def _round_trips(self) -> None:
        while self._waiting:
            calls, self._waiting = self._waiting, []
            token = otel_context.attach(calls[0][2])
            try:
                result = await self._run([item for items, _, _ in calls for item in items])
            except Exception as e:
                for _, future, _ in calls:
                    if not future.done():
                        future.set_exception(e)
                continue
            except BaseException:  # the worker itself is cancelled: so are its calls
                for _, future, _ in [*calls, *self._waiting]:
                    future.cancel()
                raise
            finally:
                otel_context.detach(token)
            for _, future, _ in calls:
                if not future.done():
                    future.set_result(result)


class InboundLedger:
    """Which (source, id) pairs arrived, so a retrying client never creates a duplicate.

    Claims (and marks) made at the same time, by concurrent requests or batches, share their
    round trips (see `_Together`)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._seen = db["inbound_ledger"]
        self._claim = _Together(self._claim_all)
        self._published = _Together(self._mark_published)

    @staticmethod
    def _key(source: str, event_id: str) -> str:
        return f"{source}|{event_id}"

    async def claim(self, events: Sequence[tuple[str, str, str]]) -> set[tuple[str, str]]:
        """The (source, id) pairs of `events` (source, id, type; no pair twice) that still have
        to be published: new ones (now recorded as pending) and ones whose publish failed
        before. One round trip, and one more when some arrived before; shared with the claims
        made at the same time."""
        if not events:
            return set()
        fresh = await self._claim(events)
        return {(source, event_id) for source, event_id, _ in events} & fresh

    async def _claim_all(self, events: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
        """`claim` for the events of several claims (a pair in two of them is inserted once
        and fresh for both, as when two claims race)."""
        now = datetime.now(UTC)
        docs = [
            {"_id": self._key(source, event_id), "status": "pending", "type": kind, "at": now}
            for source, event_id, kind in events
        ]
        pairs = {(source, event_id) for source, event_id, _ in events}
        if not docs:
            return pairs
        try:
            await self._seen.insert_many(docs, ordered=False)
            return pairs
        except BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            seen = [docs[error["index"]]["_id"] for error in errors]
        published = self._seen.find({"_id": {"$in": seen}, "status": "published"}, {"_id": 1})
        done = {doc["_id"] async for doc in published}
        return {(s, i) for s, i in pairs if self._key(s, i) not in done}

    async def published(self, events: Iterable[tuple[str, str]]) -> None:
        """Mark the (source, id) pairs published: a re-sent one is a duplicate from now on.
        One round trip, shared with the marks made at the same time."""
        keys = [self._key(source, event_id) for source, event_id in events]
        if keys:
            await self._published(keys)

    async def _mark_published(self, keys: list[str]) -> None:
        await self._seen.update_many({"_id": {"$in": keys}}, {"$set": {"status": "published"}})


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    retry_after_s: int


class RateLimiter:
    """A per-source fixed one-minute window in Redis; a batch counts each of its events."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace  # one registry's sources, apart from another's on this Redis

    async def take(self, source: Source, n: int) -> RateVerdict:
        now = time.time()
        window = int(now // 60)
        key = f"{self._namespace}:ingest-rate:{source.name}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, n)
            pipe.expire(key, 120)
            used, _ = await pipe.execute()
        if int(used) > source.rate_limit_per_minute:
            await self._redis.decrby(key, n)
            return RateVerdict(False, max(1, int(60 - now % 60)))
        return RateVerdict(True, 0)
