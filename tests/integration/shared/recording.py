"""A handler that records what it applied, run by the shared consumer on a real broker."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import ConsumerRecord

from shared.consumer import ConsumedEvent, EventConsumer, decode_event
from shared.events.catalog import BadgeAwarded
from shared.events.envelope import CloudEvent, new_event
from shared.events.topics import Topic, dlq_topic
from shared.kafka import EventBus, make_broker
from tests.infra import Infrastructure
from tests.integration.kafka_io import produce_event, read_all
from tests.integration.polling import eventually


def badge(member: str) -> BadgeAwarded:
    return BadgeAwarded(
        member_id=member, badge="first-talk", community_id="c1", reason="gave a talk"
    )


class Recorder:
    """A handler that fails for one member and records what it applied."""

    def __init__(self, poison_member: str | None = None) -> None:
        self.applied: list[str] = []
        self.calls = 0
        self._poison = poison_member

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        self.calls += 1
        for consumed in batch:
            assert isinstance(consumed.event.data, BadgeAwarded)
            if consumed.event.data.member_id == self._poison:
                raise ValueError(f"cannot apply {consumed.event.id}")
        self.applied.extend(c.event.id for c in batch)

    async def wait_for(self, *event_ids: str, what: str) -> None:
        """Wait until every one of the events has been applied."""

        async def applied() -> bool:
            return set(event_ids) <= set(self.applied)

        await eventually(applied, what=what)


@contextlib.asynccontextmanager
async def consuming(
    infra: Infrastructure, prefix: str, handler: Recorder, group: str
) -> AsyncIterator[None]:
    """Recognition's topic consumed by `handler` in consumer group `group` while the block runs
    (two retries 10 ms apart, then the dead-letter topic)."""
    broker = make_broker(infra.kafka_bootstrap_servers, client_id=f"test-{group}")
    consumer = EventConsumer(
        EventBus(broker, topic_prefix=prefix),
        service="recognition",
        handler=handler,
        decoder=decode_event,
        max_retries=2,
        backoff_s=0.01,
    )
    consumer.subscribe(str(Topic.RECOGNITION), group_id=group)
    async with broker:
        await broker.start()
        yield


async def dead_letter_a_poison(
    infra: Infrastructure, prefix: str, group: str
) -> tuple[CloudEvent, Recorder, list[ConsumerRecord[Any, Any]]]:
    """A badge the handler fails on, produced and consumed in group `group` until it is on
    recognition's dead-letter topic: the event, the failing handler and the letters read."""
    poison = new_event(badge("mallory"), source="test")
    await produce_event(infra.kafka_bootstrap_servers, prefix, poison)
    handler = Recorder(poison_member="mallory")
    async with consuming(infra, prefix, handler, group):
        letters = await read_all(
            infra.kafka_bootstrap_servers, prefix + dlq_topic("recognition"), expect=1
        )
    return poison, handler, letters
