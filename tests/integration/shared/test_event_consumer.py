"""The shared consumer on a real broker: batches, unknown types, DLQ, committed offsets."""

import asyncio
import json
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo.errors import ConnectionFailure

from shared.consumer import ConsumedEvent
from shared.events.envelope import new_event
from shared.events.topics import Topic, dlq_topic
from shared.kafka import EventBus, make_broker
from tests.infra import Infrastructure
from tests.integration.kafka_io import (
    assert_nothing_on,
    body,
    headers,
    produce_event,
    produce_raw,
    read_all,
)
from tests.integration.polling import eventually
from tests.integration.shared.recording import Recorder, badge, consuming, dead_letter_a_poison

pytestmark = pytest.mark.integration


async def test_poison_and_invalid_messages_go_to_the_dlq_and_the_rest_is_applied(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    good_1 = new_event(badge("ada"), source="test")
    poison = new_event(badge("mallory"), source="test")
    good_2 = new_event(badge("grace"), source="test")
    unknown = {
        **new_event(badge("x"), source="test").model_dump(mode="json"),
        "type": "cop.future.v9",
    }
    topic = namespace + str(Topic.RECOGNITION)
    await produce_event(infra.kafka_bootstrap_servers, namespace, good_1)
    await produce_event(infra.kafka_bootstrap_servers, namespace, poison)
    await produce_raw(
        infra.kafka_bootstrap_servers, topic, b"{not json", key=b"c1", headers={"origin": "test"}
    )
    await produce_raw(
        infra.kafka_bootstrap_servers, topic, json.dumps(unknown).encode(), key=b"c1", headers={}
    )
    await produce_event(infra.kafka_bootstrap_servers, namespace, good_2)

    handler = Recorder(poison_member="mallory")
    async with consuming(infra, namespace, handler, f"g-{unique}"):
        await handler.wait_for(good_1.id, good_2.id, what="the two valid events applied")
        dead = await read_all(
            infra.kafka_bootstrap_servers, namespace + dlq_topic("recognition"), expect=2
        )

    assert poison.id not in handler.applied
    assert len(dead) == 2
    by_kind = {"poison" if b"mallory" in r.value else "invalid": r for r in dead}
    poison_headers = headers(by_kind["poison"])
    assert "ValueError: cannot apply" in poison_headers["cop_error"]
    assert poison_headers["cop_original_topic"] == topic
    assert body(by_kind["poison"])["id"] == poison.id
    invalid_headers = headers(by_kind["invalid"])
    assert "not valid JSON" in invalid_headers["cop_error"]
    assert invalid_headers["origin"] == "test"  # original headers travel with it
    assert by_kind["invalid"].value == b"{not json"


async def test_offsets_are_committed_after_the_effect_so_a_restart_sees_nothing_again(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    events = [new_event(badge(f"m{i}"), source="test") for i in range(5)]
    for event in events:
        await produce_event(infra.kafka_bootstrap_servers, namespace, event)
    group = f"g-{unique}"

    first = Recorder()
    async with consuming(infra, namespace, first, group):
        await first.wait_for(*(e.id for e in events), what="five events applied")

    marker = new_event(badge("after-restart"), source="test")
    await produce_event(infra.kafka_bootstrap_servers, namespace, marker)
    second = Recorder()
    async with consuming(infra, namespace, second, group):
        await second.wait_for(marker.id, what="the event produced after the restart")
    assert second.applied == [marker.id]
    assert [e.id for e in events] == first.applied


async def test_a_failing_batch_is_retried_before_giving_up(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    _, handler, dead = await dead_letter_a_poison(infra, namespace, f"g-{unique}")
    assert len(dead) == 1
    assert handler.calls == 3  # the first attempt and max_retries=2 retries


async def test_published_event_carries_key_type_header_and_trace_context(
    infra: Infrastructure, namespace: str
) -> None:
    from opentelemetry import trace

    from shared.telemetry import setup_telemetry

    provider = setup_telemetry("cop-tests")
    broker = make_broker(
        infra.kafka_bootstrap_servers, client_id="test-publisher", tracer_provider=provider
    )
    event = new_event(badge(f"m-{uuid.uuid4().hex[:6]}"), source="test")
    tracer = trace.get_tracer("tests")
    async with broker:
        await broker.connect()
        with tracer.start_as_current_span("test request") as span:
            await EventBus(broker, topic_prefix=namespace).publish(event)
            trace_id = f"{span.get_span_context().trace_id:032x}"
    records = await read_all(
        infra.kafka_bootstrap_servers, namespace + str(Topic.RECOGNITION), expect=1
    )
    assert len(records) == 1
    record = records[0]
    assert record.key == b"c1"
    got = headers(record)
    assert got["ce_type"] == "cop.badge.awarded.v1"
    assert got["traceparent"].split("-")[1] == trace_id
    assert body(record)["id"] == event.id


class FlakyDatabase(Recorder):
    """A handler whose database is unreachable on the first call."""

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionFailure("MongoDB is restarting")
        self.applied.extend(c.event.id for c in batch)


async def test_an_outage_is_not_poison_the_batch_is_redelivered_not_dead_lettered(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    event = new_event(badge("ada"), source="test")
    marker = new_event(badge("grace"), source="test")
    handler = FlakyDatabase()
    await produce_event(infra.kafka_bootstrap_servers, namespace, event)
    async with consuming(infra, namespace, handler, f"g-{unique}"):
        await handler.wait_for(event.id, what="the event applied after the outage")
        await produce_event(infra.kafka_bootstrap_servers, namespace, marker)
        await handler.wait_for(marker.id, what="a later event applied too")
    await assert_nothing_on(infra.kafka_bootstrap_servers, namespace + dlq_topic("recognition"))
    assert handler.applied == [event.id, marker.id]


class Gate(Recorder):
    """A handler that holds its first batch until released, as a slow database write would."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, batch: list[ConsumedEvent]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().__call__(batch)


async def committed_offset(infra: Infrastructure, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(topic, 0))
    return found.offset if found is not None else -1


async def test_the_offset_is_committed_only_once_the_effect_is_done(
    infra: Infrastructure, namespace: str, unique: str
) -> None:
    topic = namespace + str(Topic.RECOGNITION)
    event = new_event(badge("ada"), source="test")
    await produce_event(infra.kafka_bootstrap_servers, namespace, event)
    group = f"g-{unique}"
    handler = Gate()
    async with consuming(infra, namespace, handler, group):
        await asyncio.wait_for(handler.entered.wait(), timeout=30)
        # effect pending: nothing committed
        assert await committed_offset(infra, group, topic) == -1
        handler.release.set()

        async def committed() -> bool:
            return await committed_offset(infra, group, topic) == 1

        await eventually(committed, what="the offset committed after the effect")
    assert handler.applied == [event.id]
