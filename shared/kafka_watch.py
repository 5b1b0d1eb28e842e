"""Whether a service's consumers keep up: lag per partition and the size of its DLQ, measured
every few seconds from the broker (committed offsets against end offsets), so a consumer that
is stuck shows its lag growing even while it consumes nothing. A measure that succeeds after
Kafka was lost is what logs that it is back (shared.outage_log).
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity

from shared import metrics, outage_log
from shared.kafka import kafka_client_options

log = logging.getLogger(__name__)
Attributes = tuple[tuple[str, str], ...]


class KafkaWatch:
    def __init__(
        self,
        bootstrap_servers: str,
        groups: Mapping[str, Sequence[str]],
        dlq_topic: str,
        *,
        interval_s: float = 5.0,
        security: BaseSecurity | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._options = kafka_client_options(security)
        self._groups = {g: list(t) for g, t in groups.items()}
        self._dlq = dlq_topic
        self._interval_s = interval_s
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the broker is away: the gauges keep their last values
                log.debug("consumer lag not measured: %r", e)
            else:
                outage_log.KAFKA.reachable()  # the broker answered: end a logged outage
            await asyncio.sleep(self._interval_s)

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap, client_id="cop-watch", **self._options
            )
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                client_id="cop-watch",
                **self._options,
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def _partitions_of(self, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            admin, _ = await self._clients()
            described = await admin.describe_topics([topic])
            self._partitions[topic] = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                if not t.get("error_code")
                for p in t["partitions"]
            ]
        return self._partitions[topic]

    async def measure(self) -> None:
        """Read every group's committed offsets and the topics' ends once; update the gauges."""
        admin, consumer = await self._clients()
        lag: dict[Attributes, int] = {}
        for group, topics in self._groups.items():
            partitions = [tp for t in topics for tp in await self._partitions_of(t)]
            if not partitions:
                continue
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                done = committed.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                attributes = (
                    (metrics.GROUP, group),
                    (metrics.DESTINATION, tp.topic),
                    (metrics.PARTITION, str(tp.partition)),
                )
                lag[attributes] = max(ends[tp] - position, 0)
        metrics.consumer_lag.replace(lag)
        dlq = await self._partitions_of(self._dlq)
        if dlq:
            ends = await consumer.end_offsets(dlq)
            starts = await consumer.beginning_offsets(dlq)
            size = sum(ends[tp] - starts[tp] for tp in dlq)
            metrics.dlq_size.replace({((metrics.DESTINATION, self._dlq),): size})
