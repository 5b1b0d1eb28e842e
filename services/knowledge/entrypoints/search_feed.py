"""The search index's own reading of the knowledge topic: every partition, on every replica.

The projection's consumer group splits the partitions between replicas; the search index must
hold every artifact on each of them. So each replica reads the whole topic itself, outside any
consumer group, from the positions its index recorded with its last commit (from the start when
it has none), and applies each batch through the same event handlers as the projection, into
the index (`adapters/search_index.IndexWrites`). A record that cannot be decoded is skipped (the
projection's consumer dead-letters it); a record whose handler fails is skipped and logged (the
projection's consumer retries and dead-letters it), so one bad event never stops search.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity

from services.knowledge.adapters.search_index import SearchIndex
from shared.consumer import ConsumedEvent, ConsumedRecord, Undecodable, decode_event
from shared.kafka import kafka_client_options
from shared.messagebus import EventHandlers

log = logging.getLogger(__name__)

READER = "knowledge-search-index"
"""How the feed's records are labelled in spans and metrics (it is no consumer group)."""
MAX_RECORDS = 2000
POLL_MS = 500
PARTITIONS_CHECK_S = 60.0
RETRY_S = (0.2, 30.0)


class SearchFeed:
    def __init__(
        self,
        index: SearchIndex,
        handlers: EventHandlers[Any],
        bootstrap_servers: str,
        *,
        security: BaseSecurity | None = None,
    ) -> None:
        self.index = index
        self._handlers = handlers
        self._bootstrap = bootstrap_servers
        self._security = security
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ends: dict[TopicPartition, int] = {}
        self._began = time.monotonic()
        self.caught_up = asyncio.Event()
        """Set once the index holds every event the topic had when the feed started."""
        self.applied = 0
        """Events read since the start (applied or found applied already)."""

    async def start(self) -> None:
        self._began = time.monotonic()
        await asyncio.to_thread(self.index.open)
        options = kafka_client_options(self._security)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **options)
        await self._admin.start()
        # No group: the feed assigns itself every partition, and reads each from where the
        # index stopped; one without a position starts at the beginning (`earliest`).
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=READER,
            **options,
        )
        await self._consumer.start()
        self._tasks = [
            asyncio.create_task(self._run(), name="search-feed"),
            asyncio.create_task(self._note_the_end(), name="search-feed-end"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
        self.index.close()

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions (none while a topic created a moment ago is not described)."""
        assert self._admin is not None
        described = await self._admin.describe_topics([self.index.topic])
        return [
            TopicPartition(self.index.topic, p["partition"])
            for topic in described
            if not topic.get("error_code")
            for p in topic.get("partitions", [])
        ]

    async def _assign(self) -> None:
        """Every partition of the topic, those new to the feed from the index's positions."""
        assert self._consumer is not None
        consumer = self._consumer
        partitions = set(await self._partitions())
        known = set(consumer.assignment())
        if not partitions - known:
            return
        consumer.assign(sorted(partitions | known))
        for tp in partitions | known:
            if tp.partition in self.index.positions:
                consumer.seek(tp, self.index.positions[tp.partition])

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        checked, failures = 0.0, 0
        while True:
            try:
                if not consumer.assignment() or time.monotonic() - checked > PARTITIONS_CHECK_S:
                    await self._assign()
                    checked = time.monotonic()
                if not consumer.assignment():
                    await asyncio.sleep(0.1)  # the topic is being created
                    continue
                fetched = await consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
                if fetched:
                    await self._apply([r for records in fetched.values() for r in records])
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # The broker is not reachable, or the index could not be written (a full
                # disk?): read again from what the index holds.
                failures += 1
                delay = min(RETRY_S[0] * 2**failures, RETRY_S[1])
                log.exception("search index: batch not applied; again in %.1f s", delay)
                await asyncio.sleep(delay)
                for tp in consumer.assignment():
                    consumer.seek(tp, self.index.positions.get(tp.partition, 0))

    async def _note_the_end(self) -> None:
        """The end of the topic as the feed starts: caught up once the index holds it."""
        assert self._consumer is not None
        while True:
            try:
                if partitions := await self._partitions():
                    self._ends = await self._consumer.end_offsets(partitions)
                    break
            except Exception as e:  # a topic being created: its leaders are not elected yet
                log.debug("search index: end of the topic not known yet: %r", e)
            await asyncio.sleep(0.1)
        self._check_caught_up()

    def _check_caught_up(self) -> None:
        if self.caught_up.is_set() or not self._ends:
            return
        if all(self.index.positions.get(tp.partition, 0) >= e for tp, e in self._ends.items()):
            self.caught_up.set()
            log.info(
                "search index caught up: %d artifacts, %d events read in %.1f s",
                self.index.documents,
                self.applied,
                time.monotonic() - self._began,
            )

    async def _apply(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        batch: list[ConsumedEvent] = []
        for record in records:
            try:
                event = decode_event(ConsumedRecord.of(record, READER))
            except Undecodable:
                continue
            if event is not None:
                batch.append(event)
        try:
            await self._handlers(batch)
        except Exception:
            self.index.rollback()
            # Find the record that fails and apply the others, each committed before the next
            # reads what it changed.
            for event in batch:
                try:
                    await self._handlers([event])
                    await self.index.commit({})
                except Exception:
                    self.index.rollback()
                    log.exception(
                        "search index: %s at %s[%d]@%d skipped",
                        event.event.type,
                        event.topic,
                        event.partition,
                        event.offset,
                    )
        positions: dict[int, int] = {}
        for record in records:
            positions[record.partition] = max(positions.get(record.partition, 0), record.offset + 1)
        await self.index.commit(positions)
        self.applied += len(records)
        self._check_caught_up()
