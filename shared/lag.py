"""How far a consumer group is behind on its topics: the sum over partitions of end - committed."""

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity

from shared.kafka import kafka_client_options


class GroupLag:
    """Reads a group's committed offsets and the topics' end offsets, without joining it."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        *,
        security: BaseSecurity | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._options = kafka_client_options(security)
        self._group = group
        self._topics = list(topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions_known: list[TopicPartition] = []

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._options)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, **self._options
        )
        await self._consumer.start()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _partitions(self) -> list[TopicPartition]:
        assert self._admin is not None
        if not self._partitions_known:
            described = await self._admin.describe_topics(self._topics)
            self._partitions_known = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                for p in t["partitions"]
            ]
        return self._partitions_known

    async def records_behind(self) -> int:
        assert self._admin is not None, "start() first"
        assert self._consumer is not None, "start() first"
        partitions = await self._partitions()
        committed = await self._admin.list_consumer_group_offsets(
            self._group, partitions=partitions
        )
        ends = await self._consumer.end_offsets(partitions)
        behind = 0
        for tp in partitions:
            done = committed.get(tp)
            start = done.offset if done is not None and done.offset >= 0 else 0
            behind += max(ends[tp] - start, 0)
        return behind
