"""One run: the history produced to the bench's topics, recognition started on them in this
process, its catching up timed, then its answers checked and timed (`measure`)."""

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bench.harness import BenchInfra, produce_events, serving
from bench.recognition_health.history import HealthSizes, History
from bench.recognition_health.measure import measure
from bench.recognition_health.periods import month_of
from copctl.topics import partitions_of
from services.recognition.settings import RecognitionSettings
from shared.events.topics import Topic

TOPICS = (Topic.COMMUNITIES, Topic.SESSIONS, Topic.KNOWLEDGE, Topic.RECOGNITION)
EVALUATION_INTERVAL_S = 2.0
EVALUATION_TIMEOUT_S = 120.0


async def bench_health(infra: BenchInfra, sizes: HealthSizes) -> dict[str, Any]:
    """Generate, produce, catch up, check and time; one row of results."""
    from services.recognition.bootstrap import bootstrap

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is noise here
    namespace = infra.namespace()
    prefix = f"{namespace}."
    # The periodic health evaluation would otherwise first run a minute after the start, in the
    # middle of the timed requests: run it every 2 s and wait for its first pass instead.
    settings = infra.settings(
        RecognitionSettings, namespace, health_evaluation_interval_s=EVALUATION_INTERVAL_S
    )
    run = namespace.removeprefix("bench")
    began = time.perf_counter()
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history = History(sizes, anchor, run, settings.kudos_value_tags)
    events = history.facts.events()
    generated_s = time.perf_counter() - began
    began = time.perf_counter()
    per_topic = await produce_events(infra, prefix, events)
    produced_s = time.perf_counter() - began
    row: dict[str, Any] = {
        "history": f"{sizes.members} members, {sizes.months} months to {anchor:%Y-%m-%d}, "
        f"seed {sizes.seed}; {len(history.held)} sessions held, "
        f"{len(history.published)} artifacts, {len(history.kudos)} kudos",
        "events produced (communities / sessions / knowledge / recognition)": (
            f"{len(events):,} ({' / '.join(f'{per_topic[t]:,}' for t in TOPICS)})"
        ),
        "generated, produced in s": f"{generated_s:.1f}, {produced_s:.1f}",
    }
    redis = Redis.from_url(infra.redis_url, decode_responses=True)
    rng = random.Random(sizes.seed)
    try:
        app = bootstrap(settings)
        started = time.perf_counter()
        group = settings.kafka_consumer_group
        async with (
            serving(app, settings) as client,
            Progress(infra.kafka_bootstrap_servers, prefix, group) as progress,
        ):
            row["app started in s"] = round(time.perf_counter() - started, 1)
            row.update(await caught_up(progress, started, len(events)))
            row["health evaluation of the ended months after catching up, s"] = await evaluated(
                infra, settings.mongodb_database, history.community
            )
            row.update(await measure(client, redis, history, sizes, rng))
    finally:
        async for key in redis.scan_iter(match=f"*{run}*", count=1000):
            await redis.delete(key)
        await redis.aclose()
    return row


@dataclass(frozen=True)
class Snapshot:
    at: float
    committed: int  # by the app's consumer group, over the four topics
    ends: int  # the four topics' end offsets
    caught_up: bool  # and every other group of the namespace has committed its partitions' ends


class Progress:
    """The namespace's consumer groups against the end offsets of the four topics."""

    def __init__(self, bootstrap: str, prefix: str, group: str) -> None:
        self._bootstrap, self._prefix, self._group = bootstrap, prefix, group
        self._namespace = prefix.rstrip(".")
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> "Progress":
        await self._admin.start()
        await self._consumer.start()
        topics = [self._prefix + str(t) for t in TOPICS]
        self._partitions = await partitions_of(self._bootstrap, topics)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def snapshot(self) -> Snapshot:
        ends = await self._consumer.end_offsets(self._partitions)
        groups = [
            g[0]
            for g in await self._admin.list_consumer_groups()
            if str(g[0]).startswith(f"{self._namespace}-")
        ]
        caught_up, committed = True, 0
        for group in {self._group, *groups}:
            offsets = await self._admin.list_consumer_group_offsets(group)
            for tp in self._partitions if group == self._group else offsets:
                if tp not in ends:
                    continue
                at = offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else 0
                caught_up &= at >= ends[tp]
                if group == self._group:
                    committed += at
        return Snapshot(time.perf_counter(), committed, sum(ends.values()), caught_up)

    async def wait_caught_up(self, began: float, timeout_s: float) -> list[Snapshot]:
        """Snapshots every 0.25 s until two caught-up ones a second apart (the last)."""
        samples: list[Snapshot] = []
        first: Snapshot | None = None
        while True:
            snap = await self.snapshot()
            samples.append(snap)
            if not snap.caught_up:
                first = None
            elif first is None:
                first = snap
            elif snap.at - first.at >= 1.0 and snap.ends == first.ends:
                return [s for s in samples if s.at <= first.at]
            if snap.at - began > timeout_s:
                raise TimeoutError(
                    f"not caught up after {timeout_s:.0f}s: {snap.committed:,} of "
                    f"{snap.ends:,} records committed"
                )
            await asyncio.sleep(0.25)


async def caught_up(progress: Progress, started: float, produced: int) -> dict[str, Any]:
    """Wait until the projection has caught up with the `produced` events; how fast it was."""
    samples = await progress.wait_caught_up(started, timeout_s=max(180.0, produced / 20))
    seconds, overall, steady = rates(samples, started)
    own = samples[-1].ends - produced
    return {
        "records the projection read (incl. recognition's own judgements etc.)": (
            f"{samples[-1].ends:,} ({own:,} published by recognition)"
        ),
        "caught up in s (from app start)": round(seconds, 1),
        "projection events/s (all records / catch-up time)": round(overall),
        "projection events/s (10-90 % of committed offsets)": round(steady),
    }


def rates(samples: list[Snapshot], began: float) -> tuple[float, float, float]:
    """Seconds to catch up; records/s over all of it; records/s between 10 % and 90 %."""
    last = samples[-1]
    seconds = last.at - began
    low = next(s for s in samples if s.committed >= 0.1 * last.ends)
    high = next(s for s in samples if s.committed >= 0.9 * last.ends)
    steady = (high.committed - low.committed) / (high.at - low.at) if high.at > low.at else 0.0
    return seconds, last.ends / seconds, steady


async def evaluated(infra: BenchInfra, database: str, community: str) -> str:
    """Seconds until the service's periodic evaluation has judged every ended month.

    Observed, not driven: recognition marks the months that facts changed as `dirty` in its
    `communities` document and clears each once evaluated (the current month stays). When that
    layout is not found the wait is skipped and says so.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    began, current = time.perf_counter(), month_of(datetime.now(UTC))[0]
    try:
        while True:
            doc = await client[database]["communities"].find_one({"_id": community})
            if doc is None or not isinstance(doc.get("dirty", {}), dict):
                return "not observable (no communities.dirty)"
            pending = set(doc.get("dirty", {})) - {current}
            if not pending:
                return f"{time.perf_counter() - began:.1f}"
            if time.perf_counter() - began > EVALUATION_TIMEOUT_S:
                return f"not done in {EVALUATION_TIMEOUT_S:.0f} s ({len(pending)} months left)"
            await asyncio.sleep(0.5)
    finally:
        await client.close()
