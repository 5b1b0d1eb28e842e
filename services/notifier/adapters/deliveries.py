"""The delivery log: one record per (cause event, recipient, channel), its state machine, and
the schedule of what is due, in MongoDB (by `_id`) and Redis (leases).

States:

    queued ──claim, then mark──▶ sending ──sent──▶ delivered
      ▲                  │ └──error, attempts left──▶ retry_wait ──due──▶ (claim again)
      │                  │ └──error, last attempt───▶ failed   (and a DLQ record)
    held (quiet hours, digests, reminders: due later) ──due──▶ (claim)
    queued/held/retry_wait ──the session was cancelled, moved or has started──▶ cancelled
    sending, found by a later claim after its holder vanished ──▶ sent again (same identity)
    a record the database cannot read or write ──▶ failed, on its own

A record is created once (`insert`; a redelivered or replayed cause finds it) and only the
holder of its lease (Redis `SET NX` with an expiry, one per record) changes its state. A claim
takes the leases of a batch but marks nothing: the records are marked `sending` a wave at a time
(as many as are sent at once), right before the wave is sent, and each wave's outcomes are
written as soon as the wave is done. If the process dies, the records it leased but had not
marked are simply due again when their leases expire. Those it had marked `sending` may or may
not have left: they are sent again, with the same identity (the e-mail's `Message-ID`, the
webhook's `Idempotency-Key`), so a receiver can drop the repeat. Repeats are bounded by one wave.

What is due is found without scanning the log: each record's id is added to a bucket of the
minute it is due (`delivery_due`, `<YYYYMMDDHHMM>:<n>`), and a cursor (`dispatch_cursor`) says up
to which minute every record is settled. Dispatchers (one per replica) read the buckets from the
cursor to now; a restarted or new replica picks up exactly where the cursor stands. A minute's
ids are spread over buckets of at most `BUCKET_SIZE` (a count per minute, `delivery_due_counts`,
hands out the places), and each record keeps the key of its bucket (`due_bucket`): the server
rewrites a whole document on every change, so a busy minute in one growing array made every
write to it cost the size of the backlog.
"""

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson.errors import InvalidBSON
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError
from redis.asyncio import Redis

from shared.documents import Doc
from shared.mongo import all_by_ids, find_by_ids, insert_once

log = logging.getLogger(__name__)
INTERRUPTED = (
    "the notifier stopped while sending: sent again with the same identity, which a receiver "
    "can use to drop a repeat"
)
FINAL = frozenset({"delivered", "failed", "cancelled", "unknown"})
SETTLED = FINAL | {"awaiting_address"}  # what a bucket no longer waits for
OPEN = frozenset({"queued", "held", "retry_wait", "sending"})  # still to be decided
ATTEMPTED = frozenset({"delivered", "failed", "retry_wait", "unknown"})  # logged as attempts
INDEXED_PER_KEY = 500
SETTLE_MARGIN = timedelta(minutes=2)  # buckets this recent are always read again
CURSOR = "cursor"
BUCKET_SIZE = 256
ROUND = 1024  # open records a dispatch round reads at the most


def minute_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M")


def minute_of(key: str) -> datetime:
    return datetime.strptime(key[:12], "%Y%m%d%H%M").replace(tzinfo=UTC)


def _open_by(record: Doc, now: datetime) -> bool:
    return record["state"] not in SETTLED and record["due_at"] <= now


def bucket_key(minute: str, place: int) -> str:
    return f"{minute}:{place // BUCKET_SIZE:05d}"


def bucket_of(record: Doc) -> str:
    """The bucket the record was filed in (a record from before buckets were split: its
    minute's)."""
    return str(record.get("due_bucket") or minute_key(record["due_at"]))


def _through(minute: str) -> str:
    """The upper end of a key range that holds the buckets of `minute` (`:` sorts before `;`)."""
    return minute + ";"


@dataclass
class Outcome:
    """What the holder of a claimed record decided: its next state, and when it is due again.

    `counted` is False for a decision that was not an attempt (quiet hours, a rate limit, no
    address yet): the claim's attempt is given back."""

    record: Doc
    state: str
    error: str | None = None
    due_at: datetime | None = None
    counted: bool = True

    def changes(self, now: datetime, bucket: str | None = None) -> Doc:
        update: Doc = {"state": self.state, "updated_at": now}
        if self.error is not None:
            update["error"] = self.error
        if self.due_at is not None:
            update["due_at"] = self.due_at
        if bucket is not None:
            update["due_bucket"] = bucket
        if not self.counted:
            update["attempt"] = max(self.record["attempt"] - 1, 0)
        changes: Doc = {"$set": update}
        if self.counted and self.state in ATTEMPTED:
            outcome = {
                "attempt": self.record["attempt"],
                "at": now,
                "outcome": self.state,
                "error": self.error,
            }
            changes["$push"] = {"attempts": outcome}
        return changes


class DeliveryLog:
    def __init__(self, db: AsyncDatabase[Doc], redis: Redis, namespace: str, lease_s: int) -> None:
        self.records = db["deliveries"]
        self._due = db["delivery_due"]
        self._due_counts = db["delivery_due_counts"]
        self._cursor = db["dispatch_cursor"]
        self._index = db["delivery_index"]
        self._digests = db["digests"]
        self._waiting = db["waiting_for_address"]
        self._redis = redis
        self._prefix = f"{namespace}:delivery-lease"
        self._lease_s = lease_s
        self._holder = uuid.uuid4().hex

    # --- planning -------------------------------------------------------------------------

    async def plan(self, records: list[Doc], now: datetime) -> int:
        """Create the records that do not exist yet; returns how many are new. The due
        buckets are written first: a bucket naming a record that was never created is skipped,
        a record in no bucket would never be sent."""
        if not records:
            return 0
        for record in records:
            record.setdefault("state", "queued")
            record.setdefault("attempt", 0)
            record.setdefault("attempts", [])
            record["due_at"] = max(record.get("due_at") or now, now)
            record.setdefault("created_at", now)
            record["updated_at"] = now
        placed = await self._schedule((r["_id"], r["due_at"]) for r in records)
        for record in records:
            record["due_bucket"] = placed[record["_id"]]
        new = await insert_once(self.records, records)
        if new:
            await self._indexed(records)
        return new

    async def _schedule(self, due: Iterable[tuple[str, datetime]]) -> dict[str, str]:
        """File each id in a bucket of the minute it is due; returns the bucket of each."""
        # The cursor exists before the first bucket does, at or before the real clock's minute:
        # a dispatcher never starts reading past a bucket that was written.
        start = minute_key(datetime.now(UTC) - SETTLE_MARGIN)
        await self._cursor.update_one({"_id": CURSOR}, {"$min": {"minute": start}}, upsert=True)
        by_minute: dict[str, list[str]] = {}
        for delivery_id, at in due:
            by_minute.setdefault(minute_key(at), []).append(delivery_id)
        placed: dict[str, str] = {}
        for minute, ids in by_minute.items():
            counted = await self._due_counts.find_one_and_update(
                {"_id": minute},
                {"$inc": {"n": len(ids)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            first = (counted or {}).get("n", len(ids)) - len(ids)  # upserted: never None
            placed |= {i: bucket_key(minute, first + offset) for offset, i in enumerate(ids)}
        by_bucket: dict[str, list[str]] = {}
        for delivery_id, bucket in placed.items():
            by_bucket.setdefault(bucket, []).append(delivery_id)
        if by_bucket:
            await self._due.bulk_write(
                [
                    UpdateOne({"_id": b}, {"$addToSet": {"ids": {"$each": ids}}}, upsert=True)
                    for b, ids in by_bucket.items()
                ],
                ordered=False,
            )
        return placed

    async def _buckets(self, first: str, last: str) -> list[Doc]:
        """The buckets of the minutes from `first` to `last`, in order (the collection holds
        only the buckets the cursor has not passed)."""
        window = {"_id": {"$gte": first, "$lt": _through(last)}}
        return await self._due.find(window).sort("_id", 1).to_list(None)

    async def _indexed(self, records: list[Doc]) -> None:
        keys: dict[str, list[str]] = {}
        for r in records:
            for key in ("recent", f"member:{r.get('member_id')}", f"cause:{r['cause_event_id']}"):
                keys.setdefault(key, []).append(r["_id"])
        await self._index.bulk_write(
            [
                UpdateOne(
                    {"_id": k},
                    {"$push": {"ids": {"$each": ids, "$slice": -INDEXED_PER_KEY}}},
                    upsert=True,
                )
                for k, ids in keys.items()
            ],
            ordered=False,
        )

    # --- dispatching ----------------------------------------------------------------------

    async def due_ids(self, now: datetime, limit: int = ROUND) -> tuple[list[str], list[str]]:
        """Open record ids in the buckets from the cursor up to now, the earliest first and
        about `limit` of them (a round costs what it sends, not the backlog), and the minutes
        of those buckets."""
        cursor = await self._cursor.find_one({"_id": CURSOR})
        start = minute_of(cursor["minute"]) if cursor else datetime.now(UTC) - SETTLE_MARGIN
        keys: list[str] = []
        at = start
        while at <= now and len(keys) < 24 * 60:
            keys.append(minute_key(at))
            at += timedelta(minutes=1)
        docs = await self._buckets(keys[0], keys[-1]) if keys else []
        ids = list(dict.fromkeys(i for d in docs for i in d["ids"]))
        # Settled records and those due later are left out, so a busy minute's bucket is not
        # claimed record by record on every round.
        open_now: set[str] = set()
        async for states in find_by_ids(self.records, ids, {"state": 1, "due_at": 1}):
            open_now |= {r["_id"] for r in states if _open_by(r, now)}
            if len(open_now) >= limit:
                break
        return [i for i in ids if i in open_now], keys

    async def advance(self, keys: list[str], now: datetime) -> None:
        """Move the cursor past the buckets whose records are all settled (final, or moved to a
        later bucket), leaving the last minutes to be read again."""
        docs: dict[str, list[str]] = {}
        for d in await self._buckets(keys[0], keys[-1]) if keys else []:
            docs.setdefault(d["_id"][:12], []).extend(d.get("ids", []))
        limit = minute_key(now - SETTLE_MARGIN)
        settled_through = None
        for key in keys:
            if key >= limit:
                break
            ids = docs.get(key, [])
            open_here = False
            async for records in find_by_ids(self.records, ids, {"state": 1, "due_at": 1}):
                if any(
                    r["state"] not in SETTLED and minute_key(r["due_at"]) <= key for r in records
                ):
                    open_here = True
                    break
            if open_here:
                break
            settled_through = key
        if settled_through is not None:
            following = minute_key(minute_of(settled_through) + timedelta(minutes=1))
            await self._cursor.update_one(
                {"_id": CURSOR}, {"$max": {"minute": following}}, upsert=True
            )
            await self._due.delete_many({"_id": {"$lt": _through(settled_through)}})
            await self._due_counts.delete_many({"_id": {"$lte": settled_through}})

    async def claim(self, delivery_ids: list[str], now: datetime) -> list[Doc]:
        """The records that are due and whose lease this dispatcher took, in the order asked:
        one Redis round trip for the leases, one read. Nothing is marked: `mark_sending` does
        that right before a record is sent. A record its last holder left `sending` comes back
        with `interrupted` set."""
        leases = [f"{self._prefix}:{i}" for i in delivery_ids]
        async with self._redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                pipe.set(lease, self._holder, nx=True, ex=self._lease_s)
            taken = await pipe.execute()
        held = [i for i, ok in zip(delivery_ids, taken, strict=True) if ok]
        if not held:
            return []
        found, unreadable = await self._readable(held)
        if unreadable:
            await self.park(unreadable, now)
        claimed: list[Doc] = []
        released: list[str] = []
        for delivery_id in held:
            record = found.get(delivery_id)
            if delivery_id in unreadable:
                continue
            if record is None or record["state"] in FINAL or record["due_at"] > now:
                released.append(delivery_id)
                continue
            if record["state"] == "sending":
                record["interrupted"] = True  # its holder vanished mid-send
            record["attempt"] += 1
            claimed.append(record)
        if released:
            await self._redis.delete(*(f"{self._prefix}:{i}" for i in released))
        return claimed

    async def _readable(self, ids: list[str]) -> tuple[dict[str, Doc], dict[str, str]]:
        """The records by id, read together; when the server refuses a read (a reply larger
        than it sends, a document it cannot decode), the ids are halved until the records it
        refuses are found alone. Returns the records and, for those, the server's reason.
        An outage (no connection) is raised: it is nobody's fault and the next round retries."""
        try:
            docs = await self.records.find({"_id": {"$in": ids}}).to_list(None)
            return {d["_id"]: d for d in docs}, {}
        except ConnectionFailure:
            raise
        except (PyMongoError, InvalidBSON) as e:
            if len(ids) == 1:
                return {}, {ids[0]: f"{type(e).__name__}: {e}"[:500]}
            middle = len(ids) // 2
            first, refused_first = await self._readable(ids[:middle])
            second, refused_second = await self._readable(ids[middle:])
            return {**first, **second}, {**refused_first, **refused_second}

    async def park(self, refused: dict[str, str], now: datetime) -> None:
        """Records the database refuses to read or write end `failed` on their own (written
        without reading them), leave their buckets and let their leases go, so the others
        flow."""
        for delivery_id, reason in refused.items():
            log.error("delivery %s parked: the database refused it: %s", delivery_id, reason)
            with contextlib.suppress(PyMongoError):
                await self.records.update_one(
                    {"_id": delivery_id},
                    {
                        "$set": {
                            "state": "failed",
                            "error": f"the database refused this record: {reason}",
                            "updated_at": now,
                        }
                    },
                )
        await self._due.update_many(
            {"ids": {"$in": list(refused)}}, {"$pull": {"ids": {"$in": list(refused)}}}
        )
        await self._redis.delete(*(f"{self._prefix}:{i}" for i in refused))

    async def mark_sending(self, records: list[Doc], now: datetime) -> None:
        """Right before a wave is sent: each record `sending` with its attempt number. A record
        sent again after an interrupted attempt keeps that attempt in its history."""
        if not records:
            return
        writes = []
        for r in records:
            changes: Doc = {
                "$set": {"state": "sending", "attempt": r["attempt"], "updated_at": now}
            }
            if r.get("interrupted"):
                changes["$push"] = {
                    "attempts": {
                        "attempt": r["attempt"] - 1,
                        "at": now,
                        "outcome": "interrupted",
                        "error": INTERRUPTED,
                    }
                }
            writes.append(UpdateOne({"_id": r["_id"]}, changes))
        await self.records.bulk_write(writes, ordered=False)

    async def finish(self, outcomes: list[Outcome], now: datetime) -> None:
        """Record what the holder decided for each claimed record and let the leases go, in
        one write per collection: later due times are filed first (a record in no bucket would
        never be sent), then the records, then each leaves the bucket it was due in (buckets
        hold only what is still open, so each round reads little) unless it is due again
        within that minute."""
        if not outcomes:
            return
        placed: dict[str, str] = {}
        if later := [(o.record["_id"], o.due_at) for o in outcomes if o.due_at]:
            placed = await self._schedule(later)
        parked: dict[str, list[str]] = {}
        for o in outcomes:
            if o.state == "awaiting_address":
                parked.setdefault(o.record["member_id"], []).append(o.record["_id"])
        if parked:
            await self._waiting.bulk_write(
                [
                    UpdateOne({"_id": m}, {"$addToSet": {"ids": {"$each": ids}}}, upsert=True)
                    for m, ids in parked.items()
                ],
                ordered=False,
            )
        try:
            await self.records.bulk_write(
                [
                    UpdateOne({"_id": o.record["_id"]}, o.changes(now, placed.get(o.record["_id"])))
                    for o in outcomes
                ],
                ordered=False,
            )
        except BulkWriteError as e:  # the others were written; the refused ones are parked
            refused = {
                outcomes[w["index"]].record["_id"]: str(w.get("errmsg", "refused"))[:500]
                for w in e.details.get("writeErrors", [])
            }
            if e.details.get("writeConcernErrors") or not refused:
                raise
            await self.park(refused, now)
        leaving: dict[str, list[str]] = {}
        for o in outcomes:
            if o.state == "awaiting_address":
                # Left in its bucket (settled, so no round claims it): a release that runs
                # meanwhile files it again in this same minute's bucket, which a pull here
                # would undo.
                continue
            bucket = bucket_of(o.record)
            if placed.get(o.record["_id"]) != bucket:  # unless filed in the same bucket again
                leaving.setdefault(bucket, []).append(o.record["_id"])
        if leaving:
            await self._due.bulk_write(
                [
                    UpdateOne({"_id": b}, {"$pull": {"ids": {"$in": ids}}})
                    for b, ids in leaving.items()
                ],
                ordered=False,
            )
        await self._redis.delete(*(f"{self._prefix}:{o.record['_id']}" for o in outcomes))

    async def requeue(self, delivery_id: str, now: datetime) -> bool:
        """An operator's retry of a failed or unknown delivery."""
        record = await self.records.find_one({"_id": delivery_id})
        if record is None or record["state"] not in ("failed", "unknown"):
            return False
        placed = await self._schedule([(delivery_id, now)])
        queued = {"state": "queued", "due_at": now, "updated_at": now, "attempt": 0}
        await self.records.update_one(
            {"_id": delivery_id}, {"$set": {**queued, "due_bucket": placed[delivery_id]}}
        )
        return True

    async def release_awaiting_all(self, member_ids: list[str], now: datetime) -> int:
        """`release_awaiting` for several members, with one read for those with nothing
        parked (most of them)."""
        if not member_ids:
            return 0
        waiting = await all_by_ids(self._waiting, member_ids, {"ids": 1})
        parked = {d["_id"] for d in waiting if d.get("ids")}
        released = 0
        for member_id in member_ids:
            if member_id in parked:
                released += await self.release_awaiting(member_id, now)
        return released

    async def release_awaiting(self, member_id: str, now: datetime) -> int:
        """The member's address is known: their parked deliveries are due now. Ids of records
        not parked yet (a dispatcher is deciding them: it files them here before it marks them
        parked) stay listed, for the release that follows; the others leave the list."""
        parked = await self._waiting.find_one({"_id": member_id})
        ids = list((parked or {}).get("ids", []))
        if not ids:
            return 0
        states = {r["_id"]: r["state"] for r in await all_by_ids(self.records, ids, {"state": 1})}
        released = [i for i in ids if states.get(i) == "awaiting_address"]
        deciding = {i for i in ids if states.get(i) in OPEN}
        if released:
            placed = await self._schedule((i, now) for i in released)
            queued = {"state": "queued", "due_at": now, "updated_at": now}
            await self.records.bulk_write(
                [
                    UpdateOne({"_id": i}, {"$set": {**queued, "due_bucket": placed[i]}})
                    for i in released
                ],
                ordered=False,
            )
        if done := [i for i in ids if i not in deciding]:
            await self._waiting.update_one({"_id": member_id}, {"$pull": {"ids": {"$in": done}}})
        return len(released)

    async def add_digest_item(self, digest_id: str, key: str, item: Doc) -> None:
        await self._digests.update_one(
            {"_id": digest_id}, {"$set": {f"items.{key}": item}}, upsert=True
        )

    async def digest_items(self, digest_id: str) -> list[Doc]:
        doc = await self._digests.find_one({"_id": digest_id})
        return sorted((doc or {}).get("items", {}).values(), key=lambda i: i["at"])

    # --- reads ----------------------------------------------------------------------------

    async def get(self, delivery_id: str) -> Doc | None:
        return await self.records.find_one({"_id": delivery_id})

    async def listed(
        self, *, member_id: str | None, cause_event_id: str | None, limit: int
    ) -> list[Doc]:
        if cause_event_id:
            key = f"cause:{cause_event_id}"
        else:
            key = f"member:{member_id}" if member_id else "recent"
        doc = await self._index.find_one({"_id": key})
        ids = list(doc.get("ids", [])) if doc else []
        found = await all_by_ids(self.records, ids, {"context": 0})
        if member_id:
            found = [d for d in found if d.get("member_id") == member_id]
        found.sort(key=lambda d: d["created_at"], reverse=True)
        return found[:limit]


def dead_letter_value(record: Doc) -> bytes:
    return json.dumps({k: v for k, v in record.items() if k != "context"}, default=str).encode()
