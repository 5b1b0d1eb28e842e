"""The baseline: the consumer a typical FastStream user writes, on the same events and servers.

One `@broker.subscriber` on the same topics as the service measured against (recognition's four
topics, already holding its history and its judgements), in a consumer group and database of its
own; per event one `find_one` and one `update_one` (upsert) of a per-key tally document on the
same MongoDB server, no batching, FastStream's default acknowledgement (offsets auto-committed).
The rate is the first `n` events handled over the time from the broker's start, and over the
10-90 % stretch.
"""

import asyncio
import json
import time
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from bench.harness import BenchInfra


async def naive_consume(
    infra: BenchInfra, namespace: str, topics: list[str], n: int, timeout_s: float = 600
) -> dict[str, Any]:
    database = f"{namespace}_naive"
    infra.databases.add(database)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    tallies = mongo[database]["tallies"]
    broker = KafkaBroker(infra.kafka_bootstrap_servers)
    stamps: list[float] = []
    failures: list[BaseException] = []
    enough = asyncio.Event()

    @broker.subscriber(
        *[f"{namespace}.{t}" for t in topics],
        group_id=f"{namespace}-naive",
        auto_offset_reset="earliest",
    )
    async def handle(body: bytes) -> None:
        # structured CloudEvents are `application/cloudevents+json`, which FastStream does not
        # parse by itself
        try:
            event = json.loads(body)
            data = event.get("data", {})
            key = data.get("community_id") or data.get("member_id") or event["partitionkey"]
            doc = await tallies.find_one({"_id": key})
            seen = (doc or {}).get("events", 0) + 1
            await tallies.update_one(
                {"_id": key},
                {"$set": {"events": seen, "last_type": event["type"], "last_id": event["id"]}},
                upsert=True,
            )
        except Exception as e:  # the measurement is void: stop at once rather than time out
            failures.append(e)
            enough.set()
            raise
        stamps.append(time.perf_counter())
        if len(stamps) >= n:
            enough.set()

    began = time.perf_counter()
    await broker.start()
    try:
        await asyncio.wait_for(enough.wait(), timeout_s)
        if failures:
            raise RuntimeError(f"the naive consumer failed: {failures[0]!r}")
    finally:
        await broker.stop()
        await mongo.close()
    handled = stamps[n - 1] - began
    low, high = stamps[n // 10], stamps[(9 * n) // 10]
    return {
        "events": n,
        "per_s": n / handled,
        "steady_per_s": (9 * n // 10 - n // 10) / (high - low) if high > low else None,
    }
